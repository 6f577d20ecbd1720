/*
 * crypto.c - X25519 (libsodium), HMAC-SHA256 and HKDF-SHA256 (OpenSSL
 * EVP_MAC / EVP_KDF) and ChaCha20-Poly1305 (OpenSSL EVP_CIPHER).
 *
 * X25519 runs on libsodium because it measures more than twice as fast as
 * OpenSSL's EVP_PKEY derive for a single exchange (bench/btcore/keys.c
 * prints both).
 */
#include <bt/crypto.h>
#include <bt/hash.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <sodium.h>

#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "btcore-internal.h"

/* HKDF-SHA256 yields at most 255 blocks of 32 bytes (RFC 5869). */
#define HKDF_MAX	(255 * 32)

/*
 * ChaCha20 counts 64-byte blocks in 32 bits and block 0 keys Poly1305, so
 * one nonce covers at most 2^38 - 64 bytes of text (RFC 8439).
 */
#define AEAD_TEXT_MAX	((UINT64_C(1) << 38) - 64)

/* EVP lengths are int; longer buffers go through in pieces of this size. */
#define EVP_CHUNK	(1 << 30)

/* Algorithms fetched once per process. */
static pthread_once_t fetch_once = PTHREAD_ONCE_INIT;
static EVP_MAC *hmac_mac;
static EVP_KDF *hkdf_kdf;
static EVP_CIPHER *chacha_cipher;

static void
fetch_all(void)
{
	hmac_mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	hkdf_kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	chacha_cipher = EVP_CIPHER_fetch(NULL, "ChaCha20-Poly1305", NULL);
}

static void
fetch(void)
{
	pthread_once(&fetch_once, fetch_all);
}

/* X25519 */

static int
is_zero32(const uint8_t *p)
{
	uint8_t acc = 0;
	size_t i;

	for (i = 0; i < BTCORE_X25519_LEN; i++)
		acc |= p[i];
	return acc == 0;
}

int
btcore_x25519_public(uint8_t pub[BTCORE_X25519_LEN],
    const uint8_t priv[BTCORE_X25519_LEN])
{
	if (pub == NULL)
		return BT_EINVAL;
	memset(pub, 0, BTCORE_X25519_LEN);
	if (priv == NULL)
		return BT_EINVAL;
	fetch();
	if (btcore_sodium_ready_() != BT_OK)
		return BT_ECRYPTO;
	/* libsodium clamps the scalar itself */
	if (crypto_scalarmult_base(pub, priv) != 0) {
		memset(pub, 0, BTCORE_X25519_LEN);
		return BT_ECRYPTO;
	}
	return BT_OK;
}

int
btcore_x25519_keypair(uint8_t priv[BTCORE_X25519_LEN],
    uint8_t pub[BTCORE_X25519_LEN])
{
	int rc;

	if (priv == NULL || pub == NULL)
		return BT_EINVAL;
	if ((rc = btcore_random_bytes(priv, BTCORE_X25519_LEN)) != BT_OK ||
	    (rc = btcore_x25519_public(pub, priv)) != BT_OK) {
		btcore_wipe(priv, BTCORE_X25519_LEN);
		memset(pub, 0, BTCORE_X25519_LEN);
	}
	return rc;
}

int
btcore_x25519(uint8_t shared[BTCORE_X25519_LEN],
    const uint8_t priv[BTCORE_X25519_LEN],
    const uint8_t peer_pub[BTCORE_X25519_LEN])
{
	if (shared == NULL)
		return BT_EINVAL;
	if (priv == NULL || peer_pub == NULL) {
		memset(shared, 0, BTCORE_X25519_LEN);
		return BT_EINVAL;
	}
	fetch();
	if (btcore_sodium_ready_() != BT_OK) {
		memset(shared, 0, BTCORE_X25519_LEN);
		return BT_ECRYPTO;
	}
	/*
	 * libsodium fails exactly when the peer point has small order, i.e.
	 * when the result would be all zero; check the output as well so
	 * that no zero secret can ever leave this function.
	 */
	if (crypto_scalarmult(shared, priv, peer_pub) != 0 ||
	    is_zero32(shared)) {
		btcore_wipe(shared, BTCORE_X25519_LEN);
		return BT_EVERIFY;
	}
	return BT_OK;
}

/* HMAC-SHA256 and HKDF-SHA256 */

int
btcore_hmac_sha256(uint8_t out[BTCORE_HMAC_LEN], const void *key,
    size_t key_len, const void *data, size_t len)
{
	OSSL_PARAM params[2];
	EVP_MAC_CTX *ctx = NULL;
	const unsigned char *p = data;
	size_t n = 0, chunk;
	int rc;

	if (out == NULL)
		return BT_EINVAL;
	memset(out, 0, BTCORE_HMAC_LEN);
	if ((key == NULL && key_len != 0) || (data == NULL && len != 0))
		return BT_EINVAL;
	/* a NULL key would mean "keep the previous key" to EVP_MAC_init */
	if (key == NULL)
		key = "";
	fetch();
	if (hmac_mac == NULL)
		return BT_ECRYPTO;
	ERR_set_mark();
	if ((ctx = EVP_MAC_CTX_new(hmac_mac)) == NULL) {
		rc = BT_ENOMEM;
		goto out;
	}
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
	    (char *)(uintptr_t)"SHA256", 0);
	params[1] = OSSL_PARAM_construct_end();
	if (EVP_MAC_init(ctx, key, key_len, params) != 1) {
		rc = BT_ECRYPTO;
		goto out;
	}
	while (len > 0) {
		chunk = len > EVP_CHUNK ? EVP_CHUNK : len;
		if (EVP_MAC_update(ctx, p, chunk) != 1) {
			rc = BT_ECRYPTO;
			goto out;
		}
		p += chunk;
		len -= chunk;
	}
	if (EVP_MAC_final(ctx, out, &n, BTCORE_HMAC_LEN) != 1 ||
	    n != BTCORE_HMAC_LEN) {
		rc = BT_ECRYPTO;
		goto out;
	}
	rc = BT_OK;
out:
	if (rc != BT_OK)
		memset(out, 0, BTCORE_HMAC_LEN);
	EVP_MAC_CTX_free(ctx);
	ERR_pop_to_mark();
	return rc;
}

int
btcore_hkdf_sha256(void *out, size_t out_len, const void *salt,
    size_t salt_len, const void *ikm, size_t ikm_len, const void *info,
    size_t info_len)
{
	static const unsigned char empty[1];
	OSSL_PARAM params[6], *p = params;
	EVP_KDF_CTX *ctx = NULL;
	int mode = EVP_KDF_HKDF_MODE_EXTRACT_AND_EXPAND;
	int rc;

	if (out == NULL)
		return BT_EINVAL;
	if (out_len == 0 || out_len > HKDF_MAX)
		return BT_ERANGE;
	memset(out, 0, out_len);
	if ((salt == NULL && salt_len != 0) || (ikm == NULL && ikm_len != 0) ||
	    (info == NULL && info_len != 0))
		return BT_EINVAL;
	fetch();
	if (hkdf_kdf == NULL)
		return BT_ECRYPTO;
	ERR_set_mark();
	if ((ctx = EVP_KDF_CTX_new(hkdf_kdf)) == NULL) {
		rc = BT_ENOMEM;
		goto out;
	}
	/*
	 * OpenSSL insists on a key parameter; an empty IKM is passed as a
	 * zero-length octet string.  An empty salt means HashLen zero bytes
	 * (RFC 5869 2.2), which is what HMAC's zero-padding of the key gives.
	 */
	*p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
	    (char *)(uintptr_t)"SHA256", 0);
	*p++ = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode);
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
	    (void *)(uintptr_t)(ikm_len != 0 ? ikm : empty), ikm_len);
	if (salt_len != 0)
		*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT,
		    (void *)(uintptr_t)salt, salt_len);
	if (info_len != 0)
		*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO,
		    (void *)(uintptr_t)info, info_len);
	*p = OSSL_PARAM_construct_end();
	if (EVP_KDF_derive(ctx, out, out_len, params) != 1) {
		memset(out, 0, out_len);
		rc = BT_ECRYPTO;
		goto out;
	}
	rc = BT_OK;
out:
	EVP_KDF_CTX_free(ctx);
	ERR_pop_to_mark();
	return rc;
}

/* ChaCha20-Poly1305 */

struct btcore_aead {
	EVP_CIPHER_CTX *ctx;
};

static int
aead_args(const uint8_t *out, const uint8_t *nonce, const void *ad,
    size_t ad_len, const void *in, size_t len)
{
	if (out == NULL || nonce == NULL || (ad == NULL && ad_len != 0) ||
	    (in == NULL && len != 0))
		return BT_EINVAL;
	return BT_OK;
}

/* Feed @p len bytes through EVP_CipherUpdate, @p out NULL for the AD. */
static int
cipher_update(EVP_CIPHER_CTX *ctx, uint8_t *out, const uint8_t *in,
    size_t len)
{
	int chunk, n;

	while (len > 0) {
		chunk = len > EVP_CHUNK ? EVP_CHUNK : (int)len;
		if (EVP_CipherUpdate(ctx, out, &n, in, chunk) != 1 ||
		    (out != NULL && n != chunk))
			return BT_ECRYPTO;
		in += chunk;
		if (out != NULL)
			out += chunk;
		len -= (size_t)chunk;
	}
	return BT_OK;
}

/* Seal with @p ctx already keyed. */
static int
aead_seal(EVP_CIPHER_CTX *ctx, uint8_t *out, const uint8_t *nonce,
    const void *ad, size_t ad_len, const void *in, size_t len)
{
	int n = 0, rc;

	if ((rc = aead_args(out, nonce, ad, ad_len, in, len)) != BT_OK)
		return rc;
	if ((uint64_t)len > AEAD_TEXT_MAX ||
	    len > SIZE_MAX - BTCORE_AEAD_TAG_LEN)
		return BT_ERANGE;
	ERR_set_mark();
	if (EVP_CipherInit_ex2(ctx, NULL, NULL, nonce, 1, NULL) != 1) {
		rc = BT_ECRYPTO;
		goto out;
	}
	if ((rc = cipher_update(ctx, NULL, ad, ad_len)) != BT_OK ||
	    (rc = cipher_update(ctx, out, in, len)) != BT_OK)
		goto out;
	if (EVP_CipherFinal_ex(ctx, out + len, &n) != 1 || n != 0 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG,
	    BTCORE_AEAD_TAG_LEN, out + len) != 1) {
		rc = BT_ECRYPTO;
		goto out;
	}
	rc = BT_OK;
out:
	if (rc != BT_OK)
		btcore_wipe(out, len + BTCORE_AEAD_TAG_LEN);
	ERR_pop_to_mark();
	return rc;
}

/* Open with @p ctx already keyed. */
static int
aead_open(EVP_CIPHER_CTX *ctx, uint8_t *out, const uint8_t *nonce,
    const void *ad, size_t ad_len, const void *in, size_t len)
{
	uint8_t tag[BTCORE_AEAD_TAG_LEN];
	int n = 0, rc;

	if ((rc = aead_args(out, nonce, ad, ad_len, in, len)) != BT_OK)
		return rc;
	if (len < BTCORE_AEAD_TAG_LEN)
		return BT_EINVAL;
	len -= BTCORE_AEAD_TAG_LEN;
	if ((uint64_t)len > AEAD_TEXT_MAX)
		return BT_ERANGE;
	/* copied first: decrypting in place may overwrite it otherwise */
	memcpy(tag, (const uint8_t *)in + len, sizeof(tag));
	ERR_set_mark();
	if (EVP_CipherInit_ex2(ctx, NULL, NULL, nonce, 0, NULL) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, sizeof(tag),
	    tag) != 1) {
		rc = BT_ECRYPTO;
		goto out;
	}
	if ((rc = cipher_update(ctx, NULL, ad, ad_len)) != BT_OK ||
	    (rc = cipher_update(ctx, out, in, len)) != BT_OK)
		goto out;
	/* the provider compares the tags in constant time */
	if (EVP_CipherFinal_ex(ctx, out + len, &n) != 1 || n != 0) {
		rc = BT_EVERIFY;
		goto out;
	}
	rc = BT_OK;
out:
	if (rc != BT_OK)
		btcore_wipe(out, len);
	ERR_pop_to_mark();
	return rc;
}

int
btcore_aead_new(struct btcore_aead **out,
    const uint8_t key[BTCORE_AEAD_KEY_LEN])
{
	struct btcore_aead *a = NULL;
	int rc;

	if (out == NULL)
		return BT_EINVAL;
	*out = NULL;
	if (key == NULL)
		return BT_EINVAL;
	fetch();
	if (chacha_cipher == NULL)
		return BT_ECRYPTO;
	ERR_set_mark();
	if ((a = calloc(1, sizeof(*a))) == NULL ||
	    (a->ctx = EVP_CIPHER_CTX_new()) == NULL) {
		rc = BT_ENOMEM;
		goto out;
	}
	/* the key is set once; each message then sets only its nonce */
	if (EVP_CipherInit_ex2(a->ctx, chacha_cipher, key, NULL, 1,
	    NULL) != 1) {
		rc = BT_ECRYPTO;
		goto out;
	}
	*out = a;
	a = NULL;
	rc = BT_OK;
out:
	btcore_aead_free(a);
	ERR_pop_to_mark();
	return rc;
}

void
btcore_aead_free(struct btcore_aead *a)
{
	if (a == NULL)
		return;
	/* the provider cleanses its key schedule when the context is freed */
	EVP_CIPHER_CTX_free(a->ctx);
	free(a);
}

int
btcore_aead_ctx_seal(struct btcore_aead *a, uint8_t *out,
    const uint8_t nonce[BTCORE_AEAD_NONCE_LEN], const void *ad,
    size_t ad_len, const void *in, size_t len)
{
	if (a == NULL)
		return BT_EINVAL;
	return aead_seal(a->ctx, out, nonce, ad, ad_len, in, len);
}

int
btcore_aead_ctx_open(struct btcore_aead *a, uint8_t *out,
    const uint8_t nonce[BTCORE_AEAD_NONCE_LEN], const void *ad,
    size_t ad_len, const void *in, size_t len)
{
	if (a == NULL)
		return BT_EINVAL;
	return aead_open(a->ctx, out, nonce, ad, ad_len, in, len);
}

int
btcore_aead_seal(uint8_t *out, const uint8_t key[BTCORE_AEAD_KEY_LEN],
    const uint8_t nonce[BTCORE_AEAD_NONCE_LEN], const void *ad,
    size_t ad_len, const void *in, size_t len)
{
	struct btcore_aead *a = NULL;
	int rc;

	if ((rc = aead_args(out, nonce, ad, ad_len, in, len)) != BT_OK)
		return rc;
	if ((rc = btcore_aead_new(&a, key)) == BT_OK)
		rc = btcore_aead_ctx_seal(a, out, nonce, ad, ad_len, in, len);
	btcore_aead_free(a);
	return rc;
}

int
btcore_aead_open(uint8_t *out, const uint8_t key[BTCORE_AEAD_KEY_LEN],
    const uint8_t nonce[BTCORE_AEAD_NONCE_LEN], const void *ad,
    size_t ad_len, const void *in, size_t len)
{
	struct btcore_aead *a = NULL;
	int rc;

	if ((rc = aead_args(out, nonce, ad, ad_len, in, len)) != BT_OK)
		return rc;
	if (len < BTCORE_AEAD_TAG_LEN)
		return BT_EINVAL;
	if ((rc = btcore_aead_new(&a, key)) == BT_OK)
		rc = btcore_aead_ctx_open(a, out, nonce, ad, ad_len, in, len);
	btcore_aead_free(a);
	return rc;
}
