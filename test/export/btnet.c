/*
 * Links libbtnet.so through its public headers only: a Noise_NN
 * handshake, one framed message each way, and the error text.
 */
#include <stdio.h>
#include <string.h>

#include <bt/frame.h>
#include <bt/neterror.h>
#include <bt/noise.h>

int
main(void)
{
	struct btnet_noise *i = NULL, *r = NULL;
	struct btnet_cipher *is = NULL, *ir = NULL, *rs = NULL, *rr = NULL;
	struct btnet_frame_decoder *d = NULL;
	uint8_t buf[256], pl[256];
	const uint8_t *m;
	size_t len, plen, used, mlen;
	int ok = 0;

	if (btnet_noise_new(&i, "Noise_NN_25519_ChaChaPoly_SHA256", 1) ||
	    btnet_noise_new(&r, "Noise_NN_25519_ChaChaPoly_SHA256", 0) ||
	    btnet_noise_write_message(i, NULL, 0, buf, sizeof(buf), &len) ||
	    btnet_noise_read_message(r, buf, len, pl, sizeof(pl), &plen) ||
	    btnet_noise_write_message(r, NULL, 0, buf, sizeof(buf), &len) ||
	    btnet_noise_read_message(i, buf, len, pl, sizeof(pl), &plen) ||
	    btnet_noise_split(i, &is, &ir) || btnet_noise_split(r, &rs, &rr) ||
	    btnet_frame_decoder_new(&d, rr, 0) ||
	    btnet_frame_encode(is, "hello", 5, 0, buf, sizeof(buf), &len) ||
	    btnet_frame_decode(d, buf, len, &used, &m, &mlen) ||
	    m == NULL || mlen != 5 || memcmp(m, "hello", 5) != 0) {
		fprintf(stderr, "export test: noise or framing failed\n");
		goto out;
	}
	if (strcmp(btnet_strerror(BT_EINVAL), "invalid argument") != 0 ||
	    strcmp(btnet_strerror(BTNET_EPEERID),
	    "peer is not the node that was dialled") != 0)
		goto out;
	printf("libbtnet.so %s: public API reachable\n", btnet_version());
	ok = 1;
out:
	btnet_frame_decoder_free(d);
	btnet_cipher_free(is);
	btnet_cipher_free(ir);
	btnet_cipher_free(rs);
	btnet_cipher_free(rr);
	btnet_noise_free(i);
	btnet_noise_free(r);
	return ok ? 0 : 1;
}
