/*
 * codec.c - the layouts of records kept in the store, and their decoders.
 *
 * Stored bytes are treated as untrusted: a damaged file must produce
 * BT_ECORRUPT, never a wrong answer or an out-of-bounds read.
 */
#include <bt/bag.h>
#include <bt/dhtval.h>
#include <bt/held.h>

#include "btstore-internal.h"

void
btstore_counts_encode_(uint8_t out[BTSTORE_COUNTS_LEN_], uint64_t count,
    uint64_t bytes)
{
	btstore_put_be64_(out, count);
	btstore_put_be64_(out + 8, bytes);
}

int
btstore_counts_decode_(const void *buf, size_t len, uint64_t *count,
    uint64_t *bytes)
{
	const uint8_t *p = buf;

	if (buf == NULL || len != BTSTORE_COUNTS_LEN_)
		return BT_ECORRUPT;
	*count = btstore_get_be64_(p);
	*bytes = btstore_get_be64_(p + 8);
	/* every counted item has at least zero bytes; a count without
	 * bytes is fine, bytes without a count is not */
	if (*count == 0 && *bytes != 0)
		return BT_ECORRUPT;
	return BT_OK;
}

int
btstore_u32_decode_(const void *buf, size_t len, uint32_t *v)
{
	if (buf == NULL || len != 4)
		return BT_ECORRUPT;
	*v = btstore_get_be32_(buf);
	return BT_OK;
}

int
btstore_u64_decode_(const void *buf, size_t len, uint64_t *v)
{
	if (buf == NULL || len != 8)
		return BT_ECORRUPT;
	*v = btstore_get_be64_(buf);
	return BT_OK;
}

size_t
btstore_bagrec_size_(size_t vlen)
{
	return BTSTORE_BAGREC_HDR_ + vlen;
}

void
btstore_bagrec_encode_(uint8_t *out, const struct btstore_bagrec_ *r)
{
	out[0] = BTSTORE_REC_VERSION_;
	btstore_put_be32_(out + 1, r->count);
	btstore_put_be64_(out + 5, r->first);
	btstore_put_be64_(out + 13, r->last);
	btstore_put_be16_(out + 21, (uint16_t)r->len);
	memcpy(out + BTSTORE_BAGREC_HDR_, r->value, r->len);
}

int
btstore_bagrec_decode_(const void *buf, size_t len, struct btstore_bagrec_ *r)
{
	const uint8_t *p = buf;
	size_t vlen;

	memset(r, 0, sizeof(*r));
	if (buf == NULL || len < BTSTORE_BAGREC_HDR_ ||
	    p[0] != BTSTORE_REC_VERSION_)
		return BT_ECORRUPT;
	vlen = btstore_get_be16_(p + 21);
	if (vlen == 0 || vlen > BTSTORE_BAG_VALUE_MAX ||
	    len != BTSTORE_BAGREC_HDR_ + vlen)
		return BT_ECORRUPT;
	r->count = btstore_get_be32_(p + 1);
	r->first = btstore_get_be64_(p + 5);
	r->last = btstore_get_be64_(p + 13);
	if (r->count == 0 || r->count > BTSTORE_BAG_ADDERS_MAX ||
	    r->first > r->last) {
		memset(r, 0, sizeof(*r));
		return BT_ECORRUPT;
	}
	r->value = p + BTSTORE_BAGREC_HDR_;
	r->len = vlen;
	return BT_OK;
}

size_t
btstore_dhtrec_size_(size_t vlen)
{
	return BTSTORE_DHTREC_HDR_ + vlen;
}

void
btstore_dhtrec_encode_(uint8_t *out, const struct btstore_dhtrec_ *r)
{
	out[0] = BTSTORE_REC_VERSION_;
	memcpy(out + 1, r->origin.b, BT_ID_LEN);
	btstore_put_be64_(out + 33, r->expires);
	btstore_put_be64_(out + 41, r->republish);
	btstore_put_be32_(out + 49, (uint32_t)r->len);
	if (r->len > 0)
		memcpy(out + BTSTORE_DHTREC_HDR_, r->value, r->len);
}

int
btstore_dhtrec_decode_(const void *buf, size_t len, struct btstore_dhtrec_ *r)
{
	const uint8_t *p = buf;
	size_t vlen;

	memset(r, 0, sizeof(*r));
	if (buf == NULL || len < BTSTORE_DHTREC_HDR_ ||
	    p[0] != BTSTORE_REC_VERSION_)
		return BT_ECORRUPT;
	vlen = btstore_get_be32_(p + 49);
	if (vlen > BTSTORE_DHT_VALUE_MAX || len != BTSTORE_DHTREC_HDR_ + vlen)
		return BT_ECORRUPT;
	memcpy(r->origin.b, p + 1, BT_ID_LEN);
	r->expires = btstore_get_be64_(p + 33);
	r->republish = btstore_get_be64_(p + 41);
	r->value = p + BTSTORE_DHTREC_HDR_;
	r->len = vlen;
	return BT_OK;
}

size_t
btstore_fragrec_size_(size_t flen)
{
	return BTSTORE_FRAGREC_HDR_ + flen;
}

void
btstore_fragrec_encode_(uint8_t *out, const struct btstore_fragrec_ *r)
{
	out[0] = BTSTORE_REC_VERSION_;
	btstore_put_be64_(out + 1, r->expires);
	memcpy(out + 9, r->contract.b, BT_ID_LEN);
	memcpy(out + 41, r->hash.b, BT_ID_LEN);
	btstore_put_be32_(out + 73, (uint32_t)r->len);
	if (r->len > 0)
		memcpy(out + BTSTORE_FRAGREC_HDR_, r->data, r->len);
}

int
btstore_fragrec_decode_(const void *buf, size_t len,
    struct btstore_fragrec_ *r)
{
	const uint8_t *p = buf;
	size_t flen;

	memset(r, 0, sizeof(*r));
	if (buf == NULL || len < BTSTORE_FRAGREC_HDR_ ||
	    p[0] != BTSTORE_REC_VERSION_)
		return BT_ECORRUPT;
	flen = btstore_get_be32_(p + 73);
	if (flen > BTSTORE_FRAG_MAX || len != BTSTORE_FRAGREC_HDR_ + flen)
		return BT_ECORRUPT;
	r->expires = btstore_get_be64_(p + 1);
	memcpy(r->contract.b, p + 9, BT_ID_LEN);
	memcpy(r->hash.b, p + 41, BT_ID_LEN);
	r->data = p + BTSTORE_FRAGREC_HDR_;
	r->len = flen;
	return BT_OK;
}
