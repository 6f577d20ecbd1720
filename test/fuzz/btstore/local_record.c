/*
 * Fuzz target: the stored local-area entry (btstore_localrec_decode_),
 * with and without the key it must be found under.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <bt/local.h>

#include "btstore-internal.h"
#include "local-internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *key, *value, *k2, *v2;
	size_t klen, vlen, kl2, vl2;
	uint8_t *out;

	if (btstore_localrec_decode_(data, size, NULL, 0, &key, &klen, &value,
	    &vlen) != BT_OK) {
		/* refused without a key: refused under any key */
		if (size > BTSTORE_LOCALREC_HDR_ && data[33] > 0 &&
		    size - BTSTORE_LOCALREC_HDR_ >= data[33] &&
		    btstore_localrec_decode_(data, size,
		    data + BTSTORE_LOCALREC_HDR_, data[33], &k2, &kl2, &v2,
		    &vl2) == BT_OK)
			abort();
		return 0;
	}
	/* anything accepted is well formed and re-encodes to itself */
	if (klen == 0 || klen > BTSTORE_LOCAL_KEY_MAX ||
	    vlen > BTSTORE_LOCAL_VALUE_MAX ||
	    key != data + BTSTORE_LOCALREC_HDR_ ||
	    btstore_localrec_size_(klen, vlen) != size ||
	    (vlen > 0 && value != key + klen) || (vlen == 0 && value != NULL))
		abort();
	if ((out = malloc(size)) == NULL)
		return 0;
	if (btstore_localrec_encode_(out, key, klen, value, vlen) != BT_OK ||
	    memcmp(out, data, size) != 0)
		abort();
	free(out);
	/* found under its own key, and under no other */
	if (btstore_localrec_decode_(data, size, key, klen, &k2, &kl2, &v2,
	    &vl2) != BT_OK || k2 != key || v2 != value || vl2 != vlen)
		abort();
	if (btstore_localrec_decode_(data, size, key, klen - 1, &k2, &kl2,
	    &v2, &vl2) != BT_ECORRUPT || k2 != NULL || vl2 != 0)
		abort();
	return 0;
}
