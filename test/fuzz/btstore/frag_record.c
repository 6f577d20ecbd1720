/* Fuzz target: the stored held-fragment record (btstore_fragrec_decode_). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "btstore-internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct btstore_fragrec_ r, again;
	uint8_t *out;

	if (btstore_fragrec_decode_(data, size, &r) != BT_OK)
		return 0;
	if (btstore_fragrec_size_(r.len) != size)
		abort();
	if ((out = malloc(size)) == NULL)
		return 0;
	btstore_fragrec_encode_(out, &r);
	if (memcmp(out, data, size) != 0 ||
	    btstore_fragrec_decode_(out, size, &again) != BT_OK ||
	    again.expires != r.expires || again.len != r.len ||
	    memcmp(again.contract.b, r.contract.b, BT_ID_LEN) != 0 ||
	    memcmp(again.hash.b, r.hash.b, BT_ID_LEN) != 0)
		abort();
	free(out);
	return 0;
}
