/* Fuzz target: the stored DHT value record (btstore_dhtrec_decode_). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "btstore-internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct btstore_dhtrec_ r, again;
	uint8_t *out;

	if (btstore_dhtrec_decode_(data, size, &r) != BT_OK)
		return 0;
	if (btstore_dhtrec_size_(r.len) != size)
		abort();
	if ((out = malloc(size)) == NULL)
		return 0;
	btstore_dhtrec_encode_(out, &r);
	if (memcmp(out, data, size) != 0 ||
	    btstore_dhtrec_decode_(out, size, &again) != BT_OK ||
	    again.expires != r.expires || again.republish != r.republish ||
	    again.len != r.len ||
	    memcmp(again.origin.b, r.origin.b, BT_ID_LEN) != 0)
		abort();
	free(out);
	return 0;
}
