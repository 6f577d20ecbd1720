/* Fuzz target: the stored feed entry record (btstore_feedent_decode_). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <bt/feed.h>

#include "btstore-internal.h"
#include "feed-internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct btstore_feedent_ e, again;
	uint8_t *out;

	if (btstore_feedent_decode_(data, size, &e) != BT_OK)
		return 0;
	/* anything accepted is in bounds and re-encodes to the same bytes */
	if (btstore_feedent_size_(e.count, e.len) != size ||
	    e.count > BTSTORE_FEEDENT_COUNT_MAX_ ||
	    e.len > BTSTORE_FEED_PAYLOAD_MAX || e.head_len == 0 ||
	    e.head_len > BTCORE_MERKLE_SIZE_MAX ||
	    (e.count > 0 && e.proof != data + 42) ||
	    (e.count == 0 && e.proof != NULL) ||
	    e.payload != data + BTSTORE_FEEDENT_HDR_ + 32 * (size_t)e.count)
		abort();
	if ((out = malloc(size)) == NULL)
		return 0;
	btstore_feedent_encode_(out, &e);
	if (memcmp(out, data, size) != 0 ||
	    btstore_feedent_decode_(out, size, &again) != BT_OK ||
	    again.count != e.count || again.len != e.len ||
	    again.head_len != e.head_len)
		abort();
	free(out);
	return 0;
}
