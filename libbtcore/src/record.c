/*
 * record.c - signed mutable records (namespace-set / namespace-ref).
 */
#include <bt/hash.h>
#include <bt/key.h>
#include <bt/record.h>

#include <stdlib.h>
#include <string.h>

#include "btcore-internal.h"

#define RECORD_TAG	0x52	/* 'R' */

static const char record_domain[] = "blocktree-record-v1";	/* + NUL */
#define DOMAIN_LEN	(sizeof(record_domain))

int
btcore_record_target(struct bt_id *out, const struct bt_pubkey *pub,
    const void *key, size_t key_len)
{
	uint8_t buf[BTCORE_ED25519_PUBLIC_LEN + BTCORE_RECORD_KEY_MAX];

	if (out == NULL)
		return BT_EINVAL;
	memset(out, 0, sizeof(*out));
	if (pub == NULL || key == NULL)
		return BT_EINVAL;
	if (key_len == 0 || key_len > BTCORE_RECORD_KEY_MAX)
		return BT_ERANGE;
	memcpy(buf, pub->b, BTCORE_ED25519_PUBLIC_LEN);
	memcpy(buf + BTCORE_ED25519_PUBLIC_LEN, key, key_len);
	return btcore_id_hash(out, buf, BTCORE_ED25519_PUBLIC_LEN + key_len);
}

static int
check_lengths(const struct bt_record *rec)
{
	if (rec->key_len == 0 || rec->key_len > BTCORE_RECORD_KEY_MAX ||
	    rec->value_len > BTCORE_RECORD_VALUE_MAX)
		return BT_ERANGE;
	if (rec->value == NULL && rec->value_len != 0)
		return BT_EINVAL;
	return BT_OK;
}

/* The signed message; caller frees *msg. */
static int
signed_message(const struct bt_record *rec, uint8_t **msg, size_t *len)
{
	uint8_t *p;
	size_t n;

	n = DOMAIN_LEN + 1 + rec->key_len + 8 + rec->value_len;
	if ((p = malloc(n)) == NULL)
		return BT_ENOMEM;
	*msg = p;
	*len = n;
	memcpy(p, record_domain, DOMAIN_LEN);
	p += DOMAIN_LEN;
	*p++ = rec->key_len;
	memcpy(p, rec->key, rec->key_len);
	p += rec->key_len;
	btcore_put_be64_(p, rec->seq);
	p += 8;
	if (rec->value_len != 0)
		memcpy(p, rec->value, rec->value_len);
	return BT_OK;
}

int
btcore_record_sign(struct bt_record *rec, const struct btcore_signer *signer,
    const void *key, size_t key_len, const void *value, size_t value_len,
    uint64_t seq)
{
	uint8_t *msg = NULL;
	size_t len = 0;
	int rc;

	if (rec == NULL)
		return BT_EINVAL;
	memset(rec, 0, sizeof(*rec));
	if (signer == NULL || key == NULL || (value == NULL && value_len != 0))
		return BT_EINVAL;
	if (key_len == 0 || key_len > BTCORE_RECORD_KEY_MAX ||
	    value_len > BTCORE_RECORD_VALUE_MAX)
		return BT_ERANGE;
	rec->pub = signer->pub;
	rec->seq = seq;
	rec->key_len = (uint8_t)key_len;
	memcpy(rec->key, key, key_len);
	rec->value_len = (uint16_t)value_len;
	rec->value = value;
	if ((rc = signed_message(rec, &msg, &len)) != BT_OK)
		goto out;
	rc = btcore_signer_sign(signer, msg, len, &rec->sig);
out:
	free(msg);
	if (rc != BT_OK)
		memset(rec, 0, sizeof(*rec));
	return rc;
}

int
btcore_record_verify(const struct bt_record *rec)
{
	uint8_t *msg = NULL;
	size_t len = 0;
	int rc;

	if (rec == NULL)
		return BT_EINVAL;
	if ((rc = check_lengths(rec)) != BT_OK)
		goto out;
	if ((rc = signed_message(rec, &msg, &len)) != BT_OK)
		goto out;
	rc = btcore_sig_verify(&rec->pub, msg, len, &rec->sig);
	if (rc != BT_OK && rc != BT_ENOMEM)
		rc = BT_EVERIFY;
out:
	free(msg);
	return rc;
}

int
btcore_record_encode(const struct bt_record *rec, uint8_t *buf, size_t cap,
    size_t *out_len)
{
	uint8_t *p;
	size_t need;

	if (rec == NULL || out_len == NULL || (buf == NULL && cap != 0))
		return BT_EINVAL;
	*out_len = 0;
	if (check_lengths(rec) != BT_OK)
		return BT_EINVAL;
	need = 1 + 32 + 8 + 1 + rec->key_len + 2 + rec->value_len + 64;
	*out_len = need;
	if (cap < need)
		return BT_ERANGE;
	p = buf;
	*p++ = RECORD_TAG;
	memcpy(p, rec->pub.b, 32);
	p += 32;
	btcore_put_be64_(p, rec->seq);
	p += 8;
	*p++ = rec->key_len;
	memcpy(p, rec->key, rec->key_len);
	p += rec->key_len;
	btcore_put_be16_(p, rec->value_len);
	p += 2;
	if (rec->value_len != 0)
		memcpy(p, rec->value, rec->value_len);
	p += rec->value_len;
	memcpy(p, rec->sig.b, 64);
	return BT_OK;
}

int
btcore_record_decode(struct bt_record *out, const uint8_t *buf, size_t len)
{
	size_t off = 0;
	int rc;

	if (out == NULL)
		return BT_EINVAL;
	memset(out, 0, sizeof(*out));
	if (buf == NULL && len != 0)
		return BT_EINVAL;
	/* tag, public key, seq, key length */
	if (len < 1 + 32 + 8 + 1) {
		rc = BT_ETRUNC;
		goto out;
	}
	if (buf[0] != RECORD_TAG) {
		rc = BT_EFORMAT;
		goto out;
	}
	memcpy(out->pub.b, buf + 1, 32);
	out->seq = btcore_get_be64_(buf + 33);
	out->key_len = buf[41];
	off = 42;
	if (out->key_len == 0 || out->key_len > BTCORE_RECORD_KEY_MAX) {
		rc = BT_EFORMAT;
		goto out;
	}
	if (len - off < (size_t)out->key_len + 2) {
		rc = BT_ETRUNC;
		goto out;
	}
	memcpy(out->key, buf + off, out->key_len);
	off += out->key_len;
	out->value_len = btcore_get_be16_(buf + off);
	off += 2;
	if (out->value_len > BTCORE_RECORD_VALUE_MAX) {
		rc = BT_EFORMAT;
		goto out;
	}
	if (len - off < (size_t)out->value_len + 64) {
		rc = BT_ETRUNC;
		goto out;
	}
	out->value = out->value_len != 0 ? buf + off : NULL;
	off += out->value_len;
	memcpy(out->sig.b, buf + off, 64);
	off += 64;
	if (off != len) {
		rc = BT_EFORMAT;
		goto out;
	}
	rc = btcore_record_verify(out);
out:
	if (rc != BT_OK)
		memset(out, 0, sizeof(*out));
	return rc;
}

int
btcore_record_compare(const struct bt_record *incoming,
    const struct bt_record *stored)
{
	if (incoming == NULL || stored == NULL)
		return BT_EINVAL;
	if (memcmp(incoming->pub.b, stored->pub.b, 32) != 0 ||
	    incoming->key_len != stored->key_len ||
	    incoming->key_len > BTCORE_RECORD_KEY_MAX ||
	    memcmp(incoming->key, stored->key, incoming->key_len) != 0 ||
	    (incoming->value == NULL && incoming->value_len != 0) ||
	    (stored->value == NULL && stored->value_len != 0))
		return BT_EINVAL;
	if (incoming->seq > stored->seq)
		return BTCORE_RECORD_ACCEPT;
	if (incoming->seq < stored->seq)
		return BT_ESTALE;
	if (incoming->value_len == stored->value_len &&
	    (incoming->value_len == 0 ||
	    memcmp(incoming->value, stored->value, incoming->value_len) == 0))
		return BTCORE_RECORD_REFRESH;
	return BT_ECONFLICT;
}
