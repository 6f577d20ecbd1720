/*
 * id.c - 32-byte ids, SHA-256, XOR distance, randomness.
 */
#include <bt/hash.h>
#include <bt/id.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <sodium.h>

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "btcore-internal.h"

static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void
sha256_fetch(void)
{
	sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

const struct evp_md_st *
btcore_md_sha256_(void)
{
	pthread_once(&sha256_once, sha256_fetch);
	return sha256_md;
}

static pthread_once_t sodium_once = PTHREAD_ONCE_INIT;
static int sodium_ready;

static void
sodium_start(void)
{
	sodium_ready = sodium_init() >= 0;
}

int
btcore_sodium_ready_(void)
{
	pthread_once(&sodium_once, sodium_start);
	return sodium_ready ? BT_OK : BT_ECRYPTO;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
btcore_id_from_hex(struct bt_id *out, const char *hex)
{
	size_t i;
	int hi, lo;

	if (out == NULL)
		return BT_EINVAL;
	memset(out, 0, sizeof(*out));
	if (hex == NULL)
		return BT_EINVAL;
	for (i = 0; i < BT_ID_LEN; i++) {
		if (hex[2 * i] == '\0' || hex[2 * i + 1] == '\0')
			goto bad;
		hi = hexval(hex[2 * i]);
		lo = hexval(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			goto bad;
		out->b[i] = (uint8_t)((hi << 4) | lo);
	}
	if (hex[BT_ID_HEX_LEN] != '\0')
		goto bad;
	return BT_OK;
bad:
	memset(out, 0, sizeof(*out));
	return BT_EFORMAT;
}

char *
btcore_id_to_hex(const struct bt_id *id, char buf[BT_ID_HEX_LEN + 1])
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < BT_ID_LEN; i++) {
		buf[2 * i] = digits[id->b[i] >> 4];
		buf[2 * i + 1] = digits[id->b[i] & 0xf];
	}
	buf[BT_ID_HEX_LEN] = '\0';
	return buf;
}

int
btcore_id_hash(struct bt_id *out, const void *data, size_t len)
{
	const EVP_MD *md;
	unsigned int n = 0;

	if (out == NULL || (data == NULL && len != 0))
		return BT_EINVAL;
	md = btcore_md_sha256_();
	if (md == NULL)
		return BT_ECRYPTO;
	if (data == NULL)
		data = "";
	if (EVP_Digest(data, len, out->b, &n, md, NULL) != 1 ||
	    n != BT_ID_LEN) {
		memset(out, 0, sizeof(*out));
		return BT_ECRYPTO;
	}
	return BT_OK;
}

int
btcore_id_cmp(const struct bt_id *a, const struct bt_id *b)
{
	return memcmp(a->b, b->b, BT_ID_LEN);
}

void
btcore_id_xor(struct bt_id *out, const struct bt_id *a, const struct bt_id *b)
{
	size_t i;

	for (i = 0; i < BT_ID_LEN; i++)
		out->b[i] = a->b[i] ^ b->b[i];
}

int
btcore_id_distance_cmp(const struct bt_id *target, const struct bt_id *a,
    const struct bt_id *b)
{
	size_t i;
	uint8_t da, db;

	for (i = 0; i < BT_ID_LEN; i++) {
		da = a->b[i] ^ target->b[i];
		db = b->b[i] ^ target->b[i];
		if (da != db)
			return da < db ? -1 : 1;
	}
	return 0;
}

int
btcore_id_logdist(const struct bt_id *a, const struct bt_id *b)
{
	size_t i;
	uint8_t x;
	int bit;

	for (i = 0; i < BT_ID_LEN; i++) {
		x = a->b[i] ^ b->b[i];
		if (x == 0)
			continue;
		for (bit = 0; (x & 0x80) == 0; bit++)
			x = (uint8_t)(x << 1);
		return (int)(i * 8) + bit;
	}
	return -1;
}

int
btcore_id_random(struct bt_id *out)
{
	return btcore_random_bytes(out, sizeof(out->b));
}

int
btcore_id_is_zero(const struct bt_id *id)
{
	uint8_t acc = 0;
	size_t i;

	for (i = 0; i < BT_ID_LEN; i++)
		acc |= id->b[i];
	return acc == 0;
}

/* Incremental SHA-256. */

struct btcore_sha256 {
	EVP_MD_CTX *ctx;
};

int
btcore_sha256_new(struct btcore_sha256 **out)
{
	struct btcore_sha256 *h = NULL;
	const EVP_MD *md;
	int rc;

	if (out == NULL)
		return BT_EINVAL;
	*out = NULL;
	md = btcore_md_sha256_();
	if (md == NULL)
		return BT_ECRYPTO;
	if ((h = calloc(1, sizeof(*h))) == NULL)
		return BT_ENOMEM;
	if ((h->ctx = EVP_MD_CTX_new()) == NULL) {
		rc = BT_ENOMEM;
		goto out;
	}
	if (EVP_DigestInit_ex2(h->ctx, md, NULL) != 1) {
		rc = BT_ECRYPTO;
		goto out;
	}
	*out = h;
	h = NULL;
	rc = BT_OK;
out:
	btcore_sha256_free(h);
	return rc;
}

int
btcore_sha256_update(struct btcore_sha256 *h, const void *data, size_t len)
{
	if (h == NULL || (data == NULL && len != 0))
		return BT_EINVAL;
	if (len == 0)
		return BT_OK;
	return EVP_DigestUpdate(h->ctx, data, len) == 1 ? BT_OK : BT_ECRYPTO;
}

int
btcore_sha256_final(struct btcore_sha256 *h, struct bt_id *out)
{
	unsigned int n = 0;

	if (h == NULL || out == NULL)
		return BT_EINVAL;
	if (EVP_DigestFinal_ex(h->ctx, out->b, &n) != 1 || n != BT_ID_LEN ||
	    EVP_DigestInit_ex2(h->ctx, NULL, NULL) != 1) {
		memset(out, 0, sizeof(*out));
		return BT_ECRYPTO;
	}
	return BT_OK;
}

void
btcore_sha256_free(struct btcore_sha256 *h)
{
	if (h == NULL)
		return;
	EVP_MD_CTX_free(h->ctx);
	free(h);
}

int
btcore_random_bytes(void *buf, size_t len)
{
	unsigned char *p = buf;
	int chunk;

	if (buf == NULL && len != 0)
		return BT_EINVAL;
	while (len > 0) {
		chunk = len > (1u << 30) ? (1 << 30) : (int)len;
		if (RAND_bytes(p, chunk) != 1)
			return BT_ECRYPTO;
		p += chunk;
		len -= (size_t)chunk;
	}
	return BT_OK;
}

int
btcore_ct_equal(const void *a, const void *b, size_t len)
{
	return CRYPTO_memcmp(a, b, len) == 0;
}

void
btcore_wipe(void *buf, size_t len)
{
	if (buf != NULL && len != 0)
		OPENSSL_cleanse(buf, len);
}
