/*
 * soft.c - the software backend: the seed in a 0600 file, in clear or
 * sealed with a passphrase (scrypt, then ChaCha20-Poly1305).
 *
 * File, integers big endian:
 *   "BTKS" | version 1 | mode 0 | seed [32]                       (38 bytes)
 *   "BTKS" | version 1 | mode 1 | log2 N | r (u32) | p (u32) |
 *   salt [16] | nonce [12] | sealed seed [32 + 16]                (91 bytes)
 * The AEAD's associated data is everything before the sealed seed.
 * Identities of this backend are always reported as unattested.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include <bt/crypto.h>
#include <bt/hash.h>

#include "bttpm-internal.h"

static const uint8_t soft_magic[4] = { 'B', 'T', 'K', 'S' };
#define SOFT_VERSION	1
#define SOFT_CLEAR_LEN	38
#define SOFT_SEALED_LEN	91
#define SOFT_AD_LEN	(SOFT_SEALED_LEN - 48)
/* scrypt cost for new files: N = 2^15, r = 8, p = 1 (32 MiB) */
#define SOFT_LOG2N	15
#define SOFT_R		8
#define SOFT_P		1

static uint32_t
get_be32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
	    ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

static void
put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static int
scrypt_key(uint8_t key[BTCORE_AEAD_KEY_LEN], const char *pass, size_t pass_len,
    const uint8_t salt[16], unsigned log2n, uint32_t r, uint32_t p)
{
	EVP_KDF *kdf = NULL;
	EVP_KDF_CTX *ctx = NULL;
	OSSL_PARAM params[7];
	uint64_t n = (uint64_t)1 << log2n, maxmem = (uint64_t)1 << 30;
	int rc = BT_ECRYPTO;

	if ((kdf = EVP_KDF_fetch(NULL, "SCRYPT", NULL)) == NULL ||
	    (ctx = EVP_KDF_CTX_new(kdf)) == NULL)
		goto out;
	/* OSSL_PARAM takes non-const pointers but only reads them here */
	params[0] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PASSWORD,
	    (void *)(uintptr_t)pass, pass_len);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT,
	    (void *)(uintptr_t)salt, 16);
	params[2] = OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_N, &n);
	params[3] = OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_R, &r);
	params[4] = OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_P, &p);
	params[5] = OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_MAXMEM,
	    &maxmem);
	params[6] = OSSL_PARAM_construct_end();
	if (EVP_KDF_derive(ctx, key, BTCORE_AEAD_KEY_LEN, params) != 1)
		goto out;
	rc = BT_OK;
out:
	if (rc != BT_OK)
		btcore_wipe(key, BTCORE_AEAD_KEY_LEN);
	EVP_KDF_CTX_free(ctx);
	EVP_KDF_free(kdf);
	return rc;
}

static int
soft_encode(const uint8_t seed[32], const struct bttpm_options *opt,
    uint8_t *buf, size_t *len)
{
	uint8_t key[BTCORE_AEAD_KEY_LEN];
	int rc;

	memcpy(buf, soft_magic, 4);
	buf[4] = SOFT_VERSION;
	if (opt == NULL || opt->passphrase == NULL) {
		buf[5] = 0;
		memcpy(buf + 6, seed, 32);
		*len = SOFT_CLEAR_LEN;
		return BT_OK;
	}
	buf[5] = 1;
	buf[6] = SOFT_LOG2N;
	put_be32(buf + 7, SOFT_R);
	put_be32(buf + 11, SOFT_P);
	if ((rc = btcore_random_bytes(buf + 15, 16 + 12)) != BT_OK)
		return rc;
	if ((rc = scrypt_key(key, opt->passphrase, opt->passphrase_len,
	    buf + 15, SOFT_LOG2N, SOFT_R, SOFT_P)) != BT_OK)
		return rc;
	rc = btcore_aead_seal(buf + SOFT_AD_LEN, key, buf + 31, buf,
	    SOFT_AD_LEN, seed, 32);
	btcore_wipe(key, sizeof(key));
	*len = SOFT_SEALED_LEN;
	return rc;
}

static int
soft_decode(const uint8_t *buf, size_t len, const struct bttpm_options *opt,
    uint8_t seed[32])
{
	uint8_t key[BTCORE_AEAD_KEY_LEN];
	unsigned log2n;
	uint32_t r, p;
	int rc;

	if (len < 6 || memcmp(buf, soft_magic, 4) != 0 ||
	    buf[4] != SOFT_VERSION)
		return BT_ECORRUPT;
	if (buf[5] == 0) {
		if (len != SOFT_CLEAR_LEN)
			return BT_ECORRUPT;
		/* a passphrase was expected: refuse a clear file */
		if (opt != NULL && opt->passphrase != NULL)
			return BTTPM_E_PASSPHRASE;
		memcpy(seed, buf + 6, 32);
		return BT_OK;
	}
	if (buf[5] != 1 || len != SOFT_SEALED_LEN)
		return BT_ECORRUPT;
	log2n = buf[6];
	r = get_be32(buf + 7);
	p = get_be32(buf + 11);
	/* bounded cost: at most 1 GiB and a few seconds */
	if (log2n < 10 || log2n > 20 || r < 1 || r > 32 || p < 1 || p > 16)
		return BT_ECORRUPT;
	if (opt == NULL || opt->passphrase == NULL)
		return BTTPM_E_PASSPHRASE;
	if ((rc = scrypt_key(key, opt->passphrase, opt->passphrase_len,
	    buf + 15, log2n, r, p)) != BT_OK)
		return rc;
	rc = btcore_aead_open(seed, key, buf + 31, buf, SOFT_AD_LEN,
	    buf + SOFT_AD_LEN, 48);
	btcore_wipe(key, sizeof(key));
	if (rc == BT_EVERIFY)
		rc = BTTPM_E_PASSPHRASE;
	return rc;
}

int
bttpm_soft_open_(struct bttpm_keystore *ks, const char *path,
    const struct bttpm_options *opt)
{
	uint8_t seed[32], out[SOFT_SEALED_LEN];
	uint8_t *buf = NULL;
	size_t len = 0, out_len;
	int rc;

	rc = bttpm_file_read_(path, 256, &buf, &len);
	if (rc == BT_ENOTFOUND) {
		if (opt == NULL || (opt->flags & BTTPM_OPEN_CREATE) == 0) {
			bttpm_logf_(ks->log, ks->log_arg,
			    "no seed file at %s", path);
			rc = BTTPM_E_NOIDENTITY;
			goto out;
		}
		if ((rc = btcore_random_bytes(seed, sizeof(seed))) != BT_OK ||
		    (rc = soft_encode(seed, opt, out, &out_len)) != BT_OK)
			goto out;
		if ((rc = bttpm_file_write_(path, out, out_len)) != BT_OK) {
			bttpm_logf_(ks->log, ks->log_arg, "cannot write %s",
			    path);
			goto out;
		}
	} else if (rc != BT_OK) {
		if (rc == BT_EPERM)
			bttpm_logf_(ks->log, ks->log_arg,
			    "%s is readable by group or others", path);
		goto out;
	} else if ((rc = soft_decode(buf, len, opt, seed)) != BT_OK)
		goto out;
	rc = btcore_key_from_seed(&ks->key, seed);
out:
	btcore_wipe(seed, sizeof(seed));
	btcore_wipe(out, sizeof(out));
	if (buf != NULL) {
		btcore_wipe(buf, len);
		free(buf);
	}
	return rc;
}
