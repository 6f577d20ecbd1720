/*
 * keys.c - Ed25519, X25519 and ChaCha20-Poly1305 through libbtcore against
 * raw libsodium and raw OpenSSL in the same run.
 *
 * Each figure is the best of three interleaved runs of about 0.3 s per
 * variant.  The baseline of a btcore figure is the faster raw library; the
 * extra "*_sodium_vs_openssl" lines show why libbtcore uses the library
 * it does (ratio above 1: libsodium is faster).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <sodium.h>

#include <bt/crypto.h>
#include <bt/hash.h>
#include <bt/key.h>

#include "bench.h"

#define RUN_SECONDS	0.3
#define ROUNDS		3
#define MSG_LEN		64
#define AEAD_LEN	16384

static struct btcore_key *key;
static uint8_t sk[crypto_sign_SECRETKEYBYTES], pk[crypto_sign_PUBLICKEYBYTES];
static struct bt_pubkey pub;
static struct bt_sig sig;
static uint8_t msg[MSG_LEN];
static EVP_PKEY *ossl_sign_key, *ossl_verify_key, *ossl_x_priv;
static EVP_MD_CTX *ossl_md;
static uint8_t x_priv[32], x_peer[32], x_shared[32];
static struct btcore_aead *aead;
static EVP_CIPHER_CTX *ossl_aead;
static uint8_t aead_key[32], nonce[12], *aead_in, *aead_out;

static void
die(const char *what)
{
	fprintf(stderr, "bench keys: %s failed\n", what);
	exit(1);
}

/* Operations per second of @p op over about RUN_SECONDS. */
static double
rate(void (*op)(void))
{
	double start = bench_now(), t;
	long n = 0;
	int i;

	do {
		for (i = 0; i < 16; i++)
			op();
		n += 16;
		t = bench_now() - start;
	} while (t < RUN_SECONDS);
	return (double)n / t;
}

/* Best of ROUNDS for each of @p count operations, run interleaved. */
static void
best_of(void (*const *ops)(void), double *best, int count)
{
	double r;
	int round, i;

	for (i = 0; i < count; i++)
		best[i] = 0;
	for (round = 0; round < ROUNDS; round++)
		for (i = 0; i < count; i++)
			if ((r = rate(ops[i])) > best[i])
				best[i] = r;
}

static double
max2(double a, double b)
{
	return a > b ? a : b;
}

/* Ed25519 signing */

static void
sign_btcore(void)
{
	if (btcore_key_sign(key, msg, sizeof(msg), &sig) != BT_OK)
		die("btcore_key_sign");
	bench_consume(&sig);
}

static void
sign_sodium(void)
{
	if (crypto_sign_detached(sig.b, NULL, msg, sizeof(msg), sk) != 0)
		die("crypto_sign_detached");
	bench_consume(&sig);
}

static void
sign_openssl(void)
{
	size_t n = sizeof(sig.b);

	if (EVP_DigestSignInit(ossl_md, NULL, NULL, NULL, ossl_sign_key) != 1 ||
	    EVP_DigestSign(ossl_md, sig.b, &n, msg, sizeof(msg)) != 1)
		die("EVP_DigestSign");
	bench_consume(&sig);
}

/* Ed25519 verification */

static void
verify_btcore(void)
{
	if (btcore_sig_verify(&pub, msg, sizeof(msg), &sig) != BT_OK)
		die("btcore_sig_verify");
}

static void
verify_sodium(void)
{
	if (crypto_sign_verify_detached(sig.b, msg, sizeof(msg), pk) != 0)
		die("crypto_sign_verify_detached");
}

static void
verify_openssl(void)
{
	if (EVP_DigestVerifyInit(ossl_md, NULL, NULL, NULL,
	    ossl_verify_key) != 1 ||
	    EVP_DigestVerify(ossl_md, sig.b, sizeof(sig.b), msg,
	    sizeof(msg)) != 1)
		die("EVP_DigestVerify");
}

/* X25519: one exchange with a peer's public key */

static void
x25519_btcore(void)
{
	if (btcore_x25519(x_shared, x_priv, x_peer) != BT_OK)
		die("btcore_x25519");
	bench_consume(x_shared);
}

static void
x25519_sodium(void)
{
	if (crypto_scalarmult(x_shared, x_priv, x_peer) != 0)
		die("crypto_scalarmult");
	bench_consume(x_shared);
}

static void
x25519_openssl(void)
{
	EVP_PKEY *peer;
	EVP_PKEY_CTX *ctx;
	size_t n = sizeof(x_shared);

	peer = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, x_peer, 32);
	ctx = EVP_PKEY_CTX_new(ossl_x_priv, NULL);
	if (peer == NULL || ctx == NULL || EVP_PKEY_derive_init(ctx) != 1 ||
	    EVP_PKEY_derive_set_peer(ctx, peer) != 1 ||
	    EVP_PKEY_derive(ctx, x_shared, &n) != 1)
		die("EVP_PKEY_derive");
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(peer);
	bench_consume(x_shared);
}

/* ChaCha20-Poly1305 sealing of 16 KiB, keyed context reused */

static void
aead_btcore(void)
{
	if (btcore_aead_ctx_seal(aead, aead_out, nonce, NULL, 0, aead_in,
	    AEAD_LEN) != BT_OK)
		die("btcore_aead_ctx_seal");
	nonce[0]++;
	bench_consume(aead_out);
}

static void
aead_openssl(void)
{
	int n = 0;

	if (EVP_EncryptInit_ex2(ossl_aead, NULL, NULL, nonce, NULL) != 1 ||
	    EVP_EncryptUpdate(ossl_aead, aead_out, &n, aead_in,
	    AEAD_LEN) != 1 ||
	    EVP_EncryptFinal_ex(ossl_aead, aead_out + AEAD_LEN, &n) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ossl_aead, EVP_CTRL_AEAD_GET_TAG, 16,
	    aead_out + AEAD_LEN) != 1)
		die("EVP_Encrypt");
	nonce[0]++;
	bench_consume(aead_out);
}

static void
aead_sodium(void)
{
	if (crypto_aead_chacha20poly1305_ietf_encrypt_detached(aead_out,
	    aead_out + AEAD_LEN, NULL, aead_in, AEAD_LEN, NULL, 0, NULL,
	    nonce, aead_key) != 0)
		die("crypto_aead_chacha20poly1305_ietf_encrypt_detached");
	nonce[0]++;
	bench_consume(aead_out);
}

static void
setup(void)
{
	uint8_t seed[32];
	EVP_CIPHER *chacha;

	if (sodium_init() < 0)
		die("sodium_init");
	if (btcore_random_bytes(seed, sizeof(seed)) != BT_OK ||
	    btcore_random_bytes(msg, sizeof(msg)) != BT_OK ||
	    btcore_key_from_seed(&key, seed) != BT_OK)
		die("key setup");
	btcore_key_public(key, &pub);
	if (crypto_sign_seed_keypair(pk, sk, seed) != 0 ||
	    memcmp(pk, pub.b, sizeof(pk)) != 0)
		die("crypto_sign_seed_keypair");
	ossl_sign_key = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL,
	    seed, sizeof(seed));
	ossl_verify_key = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL,
	    pk, sizeof(pk));
	if ((ossl_md = EVP_MD_CTX_new()) == NULL || ossl_sign_key == NULL ||
	    ossl_verify_key == NULL)
		die("OpenSSL Ed25519 setup");
	if (btcore_key_sign(key, msg, sizeof(msg), &sig) != BT_OK)
		die("first signature");

	if (btcore_x25519_keypair(x_priv, x_shared) != BT_OK ||
	    btcore_x25519_keypair(seed, x_peer) != BT_OK)
		die("X25519 setup");
	ossl_x_priv = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL,
	    x_priv, 32);
	if (ossl_x_priv == NULL)
		die("OpenSSL X25519 setup");

	aead_in = calloc(1, AEAD_LEN);
	aead_out = calloc(1, AEAD_LEN + 16);
	if (aead_in == NULL || aead_out == NULL ||
	    btcore_random_bytes(aead_key, sizeof(aead_key)) != BT_OK ||
	    btcore_aead_new(&aead, aead_key) != BT_OK)
		die("AEAD setup");
	chacha = EVP_CIPHER_fetch(NULL, "ChaCha20-Poly1305", NULL);
	if (chacha == NULL || (ossl_aead = EVP_CIPHER_CTX_new()) == NULL ||
	    EVP_EncryptInit_ex2(ossl_aead, chacha, aead_key, NULL, NULL) != 1)
		die("OpenSSL AEAD setup");
	EVP_CIPHER_free(chacha);
	btcore_wipe(seed, sizeof(seed));
}

int
main(void)
{
	static void (*const sign_ops[])(void) = { sign_btcore, sign_sodium,
	    sign_openssl };
	static void (*const verify_ops[])(void) = { verify_btcore,
	    verify_sodium, verify_openssl };
	static void (*const x_ops[])(void) = { x25519_btcore, x25519_sodium,
	    x25519_openssl };
	static void (*const aead_ops[])(void) = { aead_btcore, aead_openssl,
	    aead_sodium };
	double r[3];

	setup();

	best_of(sign_ops, r, 3);
	bench_line("btcore", "ed25519_sign", r[0], "sig/s", max2(r[1], r[2]),
	    "sig/s", ">= 0.95");
	bench_line("btcore", "ed25519_sign_sodium_vs_openssl", r[1], "sig/s",
	    r[2], "sig/s", NULL);

	best_of(verify_ops, r, 3);
	bench_line("btcore", "ed25519_verify", r[0], "verify/s",
	    max2(r[1], r[2]), "verify/s", ">= 0.95");
	bench_line("btcore", "ed25519_verify_sodium_vs_openssl", r[1],
	    "verify/s", r[2], "verify/s", NULL);

	best_of(x_ops, r, 3);
	bench_line("btcore", "x25519", r[0], "dh/s", max2(r[1], r[2]), "dh/s",
	    NULL);
	bench_line("btcore", "x25519_sodium_vs_openssl", r[1], "dh/s", r[2],
	    "dh/s", NULL);

	best_of(aead_ops, r, 3);
	bench_line("btcore", "aead_seal_16k", r[0] * AEAD_LEN / 1e6, "MB/s",
	    r[1] * AEAD_LEN / 1e6, "MB/s", ">= 0.95");
	bench_line("btcore", "aead_seal_16k_sodium_vs_openssl",
	    r[2] * AEAD_LEN / 1e6, "MB/s", r[1] * AEAD_LEN / 1e6, "MB/s",
	    NULL);

	btcore_key_free(key);
	btcore_aead_free(aead);
	EVP_CIPHER_CTX_free(ossl_aead);
	EVP_MD_CTX_free(ossl_md);
	EVP_PKEY_free(ossl_sign_key);
	EVP_PKEY_free(ossl_verify_key);
	EVP_PKEY_free(ossl_x_priv);
	free(aead_in);
	free(aead_out);
	btcore_wipe(sk, sizeof(sk));
	btcore_wipe(x_priv, sizeof(x_priv));
	return 0;
}
