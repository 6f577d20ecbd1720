/*
 * noise.c - the Noise transport core without sockets:
 *   handshakes/s (both ends of a BlockTree handshake in one thread) over
 *   the bound set by the X25519 and Ed25519 operations a handshake needs
 *   (8 X25519, 2 Ed25519 verifications; signatures are made once per
 *   identity), each measured raw with OpenSSL EVP and libsodium, the
 *   faster counting;
 *   framed encrypt+decrypt MB/s over raw ChaCha20-Poly1305 (EVP)
 *   encrypt+decrypt of the same bytes in 16 KiB pieces.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <sodium.h>

#include <bt/frame.h>
#include <bt/key.h>
#include <bt/noise.h>

#include "bench.h"
#include "btnet-internal.h"

_Noreturn static void
die(const char *what)
{
	fprintf(stderr, "bench btnet.noise: %s failed\n", what);
	exit(1);
}

#include "crypto-rates.h"

static double
handshakes_per_s(void)
{
	struct btcore_key *ka, *kb;
	struct btcore_signer sa, sb;
	struct btnet_identity *ia, *ib;
	struct btnet_handshake *i, *r;
	struct btnet_cipher *c[4];
	struct bt_id idb;
	uint8_t m[BTNET_HANDSHAKE_MSG_MAX];
	size_t len;
	double t0, t;
	int n = 0, k;

	if (btcore_key_generate(&ka) || btcore_key_generate(&kb))
		die("key");
	btcore_key_signer(ka, &sa);
	btcore_key_signer(kb, &sb);
	if (btnet_identity_new(&ia, &sa, NULL) ||
	    btnet_identity_new(&ib, &sb, NULL))
		die("identity");
	btnet_identity_node_id(ib, &idb);
	t0 = bench_now();
	do {
		if (btnet_handshake_new(&i, ia, 1, &idb) ||
		    btnet_handshake_new(&r, ib, 0, NULL) ||
		    btnet_handshake_write(i, m, sizeof(m), &len) ||
		    btnet_handshake_read(r, m, len) ||
		    btnet_handshake_write(r, m, sizeof(m), &len) ||
		    btnet_handshake_read(i, m, len) ||
		    btnet_handshake_write(i, m, sizeof(m), &len) ||
		    btnet_handshake_read(r, m, len) ||
		    btnet_handshake_finish(i, &c[0], &c[1], NULL, NULL) ||
		    btnet_handshake_finish(r, &c[2], &c[3], NULL, NULL))
			die("handshake");
		for (k = 0; k < 4; k++)
			btnet_cipher_free(c[k]);
		btnet_handshake_free(i);
		btnet_handshake_free(r);
		n++;
	} while ((t = bench_now() - t0) < 3.0);
	btnet_identity_free(ia);
	btnet_identity_free(ib);
	btcore_key_free(ka);
	btcore_key_free(kb);
	return n / t;
}

#define PIECE	16384
#define MSG	(256 * 1024)

static double
raw_aead_mb_s(void)
{
	EVP_CIPHER_CTX *e = EVP_CIPHER_CTX_new(), *d = EVP_CIPHER_CTX_new();
	unsigned char key[32] = { 3 }, iv[12] = { 0 }, tag[16];
	unsigned char *buf = malloc(PIECE), *out = malloc(PIECE + 16);
	double t0, t, bytes = 0;
	int ol, i;

	if (e == NULL || d == NULL || buf == NULL || out == NULL ||
	    EVP_EncryptInit_ex(e, EVP_chacha20_poly1305(), NULL, key, iv) != 1 ||
	    EVP_DecryptInit_ex(d, EVP_chacha20_poly1305(), NULL, key, iv) != 1)
		die("aead init");
	memset(buf, 7, PIECE);
	t0 = bench_now();
	do {
		for (i = 0; i < 16; i++) {
			iv[4] = (unsigned char)i;
			if (EVP_EncryptInit_ex(e, NULL, NULL, NULL, iv) != 1 ||
			    EVP_EncryptUpdate(e, out, &ol, buf, PIECE) != 1 ||
			    EVP_EncryptFinal_ex(e, out + ol, &ol) != 1 ||
			    EVP_CIPHER_CTX_ctrl(e, EVP_CTRL_AEAD_GET_TAG, 16,
			    tag) != 1)
				die("aead seal");
			if (EVP_DecryptInit_ex(d, NULL, NULL, NULL, iv) != 1 ||
			    EVP_DecryptUpdate(d, buf, &ol, out, PIECE) != 1 ||
			    EVP_CIPHER_CTX_ctrl(d, EVP_CTRL_AEAD_SET_TAG, 16,
			    tag) != 1 || EVP_DecryptFinal_ex(d, buf + ol, &ol) != 1)
				die("aead open");
			bytes += PIECE;
		}
	} while ((t = bench_now() - t0) < 2.0);
	EVP_CIPHER_CTX_free(e);
	EVP_CIPHER_CTX_free(d);
	free(buf);
	free(out);
	return bytes / t / 1e6;
}

static double
framed_mb_s(void)
{
	static const uint8_t key[32] = { 5 };
	struct btnet_cipher *s, *r;
	struct btnet_frame_decoder *d;
	uint8_t *msg = malloc(MSG), *wire;
	size_t cap = btnet_frame_encoded_len(MSG, PIECE), wl, used, ml, pos;
	const uint8_t *m;
	double t0, t, bytes = 0;

	wire = malloc(cap);
	if (msg == NULL || wire == NULL || btnet_cipher_new_(&s, key) ||
	    btnet_cipher_new_(&r, key) || btnet_frame_decoder_new(&d, r, 0))
		die("frame setup");
	memset(msg, 9, MSG);
	t0 = bench_now();
	do {
		if (btnet_frame_encode(s, msg, MSG, PIECE, wire, cap, &wl))
			die("frame encode");
		for (pos = 0; pos < wl; pos += used) {
			if (btnet_frame_decode(d, wire + pos, wl - pos, &used,
			    &m, &ml))
				die("frame decode");
		}
		if (m == NULL || ml != MSG)
			die("frame message");
		bytes += MSG;
	} while ((t = bench_now() - t0) < 2.0);
	btnet_frame_decoder_free(d);
	btnet_cipher_free(s);
	btnet_cipher_free(r);
	free(msg);
	free(wire);
	return bytes / t / 1e6;
}

int
main(void)
{
	double x = raw_x25519_per_s(1.5), v = raw_ed25519_verify_per_s(1.5);
	double xs = sodium_x25519_per_s(1.5), vs = sodium_verify_per_s(1.5);
	double bound, hs, raw, framed;

	x = x > xs ? x : xs;
	v = v > vs ? v : vs;
	bound = 1.0 / (8.0 / x + 2.0 / v);
	hs = handshakes_per_s();
	raw = raw_aead_mb_s();
	framed = framed_mb_s();

	bench_line("btnet", "handshake_vs_crypto_bound", hs, "handshakes/s",
	    bound, "handshakes/s", ">= 0.4");
	bench_line("btnet", "frame_vs_raw_aead", framed, "MB/s", raw, "MB/s",
	    ">= 0.8");
	return 0;
}
