/* Fuzz target: the stored feed record (btstore_feedrec_decode_). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "btstore-internal.h"
#include "feed-internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct btstore_feedrec_ r, again;
	struct bt_log_head h;
	uint8_t out[BTSTORE_FEEDREC_LEN_];

	if (btstore_feedrec_decode_(data, size, &r) != BT_OK)
		return 0;
	/* anything accepted is well formed and re-encodes to the same bytes */
	if (size != BTSTORE_FEEDREC_LEN_ || r.held > r.head.length ||
	    r.head.length > BTCORE_MERKLE_SIZE_MAX ||
	    (r.flags & ~BTSTORE_FEED_FLAGS_) != 0 ||
	    ((r.flags & BTSTORE_FEED_OWNED_) && r.held != r.head.length))
		abort();
	if (btstore_feedrec_encode_(out, &r) != BT_OK ||
	    memcmp(out, data, size) != 0 ||
	    btstore_feedrec_decode_(out, size, &again) != BT_OK ||
	    memcmp(&again, &r, sizeof(r)) != 0)
		abort();
	if (btstore_feed_head_parse_(data + 10, BTCORE_LOG_HEAD_ENC_LEN, &h)
	    != BT_OK || memcmp(&h, &r.head, sizeof(h)) != 0)
		abort();
	return 0;
}
