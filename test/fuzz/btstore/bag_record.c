/* Fuzz target: the stored bag entry record (btstore_bagrec_decode_). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "btstore-internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct btstore_bagrec_ r, again;
	uint8_t *out;

	if (btstore_bagrec_decode_(data, size, &r) != BT_OK)
		return 0;
	/* anything accepted re-encodes to the same bytes */
	if (btstore_bagrec_size_(r.len) != size || r.value != data +
	    BTSTORE_BAGREC_HDR_ || r.count == 0 || r.first > r.last)
		abort();
	if ((out = malloc(size)) == NULL)
		return 0;
	btstore_bagrec_encode_(out, &r);
	if (memcmp(out, data, size) != 0 ||
	    btstore_bagrec_decode_(out, size, &again) != BT_OK ||
	    again.count != r.count || again.first != r.first ||
	    again.last != r.last || again.len != r.len)
		abort();
	free(out);
	return 0;
}
