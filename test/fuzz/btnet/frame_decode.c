/*
 * Fuzz target: the streaming frame decoder.  The first byte chooses the
 * piece size the rest is fed in; the same input fed whole must give the
 * same messages, and every message respects the size limit.  Fed in
 * pieces, the cipher sets up each next nonce ahead after every piece,
 * as a connection does after a read (btnet_cipher_prepare_()), so the
 * two runs also set the prepared path against the plain one.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <bt/frame.h>

#include "fuzz_btnet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct digest {
	size_t count, bytes;
	uint64_t sum;
	int rc;
};

static void
run(const uint8_t *data, size_t size, size_t step, int prep,
    struct digest *dg)
{
	struct btnet_cipher *c;
	struct btnet_frame_decoder *d;
	const uint8_t *m;
	size_t pos = 0, n, used, mlen, i;

	memset(dg, 0, sizeof(*dg));
	if (btnet_cipher_new_(&c, fuzz_frame_key) != BT_OK ||
	    btnet_frame_decoder_new(&d, c, 0) != BT_OK)
		abort();
	while (pos < size) {
		if (prep)
			btnet_cipher_prepare_(c, 0);
		n = size - pos < step ? size - pos : step;
		dg->rc = btnet_frame_decode(d, data + pos, n, &used, &m, &mlen);
		if (used > n)
			abort();
		if (dg->rc != BT_OK)
			break;
		pos += used;
		if (m == NULL) {
			if (used != n)
				abort();
			continue;
		}
		if (mlen > BT_MSG_MAX)
			abort();
		dg->count++;
		dg->bytes += mlen;
		for (i = 0; i < mlen; i++)
			dg->sum = dg->sum * 31 + m[i];
	}
	btnet_frame_decoder_free(d);
	btnet_cipher_free(c);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct digest whole, pieces;
	size_t step;

	if (size == 0)
		return 0;
	step = (size_t)data[0] + 1;
	run(data + 1, size - 1, SIZE_MAX, 0, &whole);
	run(data + 1, size - 1, step, 1, &pieces);
	if (whole.count != pieces.count || whole.bytes != pieces.bytes ||
	    whole.sum != pieces.sum || whole.rc != pieces.rc)
		abort();
	return 0;
}
