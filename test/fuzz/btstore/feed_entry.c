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
	size_t hashes_end;
	uint8_t *out;

	if (btstore_feedent_decode_(data, size, &e) != BT_OK)
		return 0;
	/* anything accepted is in bounds and re-encodes to the same bytes */
	hashes_end = 43 + 32 * (size_t)e.count;
	if (btstore_feedent_size_(e.flags, e.count, e.len) != size ||
	    (e.flags & ~BTSTORE_FEEDENT_FLAGS_) != 0 ||
	    e.count > BTSTORE_FEEDENT_COUNT_MAX_ ||
	    e.len > BTSTORE_FEED_PAYLOAD_MAX || e.head_len == 0 ||
	    e.head_len > BTCORE_MERKLE_SIZE_MAX ||
	    (e.count > 0 && e.hashes != data + 43) ||
	    (e.count == 0 && e.hashes != NULL) ||
	    ((e.flags & BTSTORE_FEEDENT_HEAD_) &&
	    (!(e.flags & BTSTORE_FEEDENT_TREE_) ||
	    e.count != btstore_feed_ones_(e.head_len - 1) ||
	    memcmp(e.root.b, data + hashes_end, 32) != 0 ||
	    memcmp(e.sig.b, data + hashes_end + 32, 64) != 0)) ||
	    e.payload != data + size - e.len)
		abort();
	if ((out = malloc(size)) == NULL)
		return 0;
	btstore_feedent_encode_(out, &e);
	if (memcmp(out, data, size) != 0 ||
	    btstore_feedent_decode_(out, size, &again) != BT_OK ||
	    again.flags != e.flags || again.count != e.count ||
	    again.len != e.len || again.head_len != e.head_len)
		abort();
	free(out);
	return 0;
}
