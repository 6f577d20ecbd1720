/*
 * Fuzz target: the stored mutable record (btstore_recstore_decode_ and
 * btstore_recstore_parse_), checked against libbtcore's decoder.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "btstore-internal.h"
#include "recstore-internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bt_record p, d;
	const uint8_t *enc;
	uint8_t *out;
	uint64_t stamp;
	size_t n, len;

	/* the raw record encoding alone: the parser must agree with the
	 * verifying decoder on everything the decoder accepts */
	if (btcore_record_decode(&d, data, size) == BT_OK &&
	    (btstore_recstore_parse_(data, size, &p) != BT_OK ||
	    p.seq != d.seq || p.key_len != d.key_len ||
	    p.value_len != d.value_len || p.value != d.value ||
	    memcmp(p.key, d.key, p.key_len) != 0))
		abort();
	if (btstore_recstore_parse_(data, size, &p) == BT_OK) {
		if ((out = malloc(size)) == NULL)
			return 0;
		if (btcore_record_encode(&p, out, size, &n) != BT_OK ||
		    n != size || memcmp(out, data, size) != 0)
			abort();
		free(out);
	}
	/* the stored wrapper */
	if (btstore_recstore_decode_(data, size, &stamp, &enc, &len) != BT_OK)
		return 0;
	if (enc != data + BTSTORE_RECSTORE_HDR_ ||
	    len != size - BTSTORE_RECSTORE_HDR_ || len < BTSTORE_RECENC_MIN_ ||
	    len > BTCORE_RECORD_ENC_MAX)
		abort();
	if ((out = malloc(size)) == NULL)
		return 0;
	if (btstore_recstore_encode_(out, stamp, enc, len) != BT_OK ||
	    memcmp(out, data, size) != 0)
		abort();
	free(out);
	(void)btstore_recstore_parse_(enc, len, &p);
	return 0;
}
