/*
 * Fuzz target: btcore_msg_decode.  Whatever decodes must encode within
 * the size limit, and that encoding must decode to a message that
 * encodes to the very same bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <bt/msg.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct btcore_msg *m = NULL, *again = NULL;
	uint8_t *a = NULL, *b = NULL;
	size_t alen = 0, blen = 0;
	int64_t tid;

	if (btcore_msg_decode(&m, data, size) != BT_OK)
		return 0;
	if (btcore_msg_peek(data, size, &tid, NULL) != BT_OK ||
	    tid != btcore_msg_tid(m))
		abort();
	if (btcore_msg_encode(m, &a, &alen) != BT_OK || alen > BT_MSG_MAX ||
	    btcore_msg_decode(&again, a, alen) != BT_OK ||
	    btcore_msg_type(again) != btcore_msg_type(m) ||
	    btcore_msg_tid(again) != tid ||
	    btcore_msg_node_count(again) != btcore_msg_node_count(m) ||
	    btcore_msg_encode(again, &b, &blen) != BT_OK || blen != alen ||
	    memcmp(a, b, alen) != 0)
		abort();
	btcore_msg_bytes_free(b);
	btcore_msg_bytes_free(a);
	btcore_msg_free(again);
	btcore_msg_free(m);
	return 0;
}
