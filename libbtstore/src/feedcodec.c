/*
 * feedcodec.c - the stored layouts of feeds and their decoders.
 *
 * Stored bytes are treated as untrusted: a damaged file must produce
 * BT_ECORRUPT, never a wrong answer or an out-of-bounds read.
 */
#include <bt/feed.h>

#include "btstore-internal.h"
#include "feed-internal.h"

int
btstore_feed_head_parse_(const void *buf, size_t len, struct bt_log_head *h)
{
	const uint8_t *p = buf;

	memset(h, 0, sizeof(*h));
	if (buf == NULL || len != BTCORE_LOG_HEAD_ENC_LEN || p[0] != 'H')
		return BT_ECORRUPT;
	memcpy(h->feed.b, p + 1, 32);
	h->length = btstore_get_be64_(p + 33);
	memcpy(h->root.b, p + 41, 32);
	memcpy(h->sig.b, p + 73, 64);
	if (h->length > BTCORE_MERKLE_SIZE_MAX) {
		memset(h, 0, sizeof(*h));
		return BT_ECORRUPT;
	}
	return BT_OK;
}

int
btstore_feedrec_encode_(uint8_t out[BTSTORE_FEEDREC_LEN_],
    const struct btstore_feedrec_ *r)
{
	out[0] = BTSTORE_REC_VERSION_;
	out[1] = (uint8_t)r->flags;
	btstore_put_be64_(out + 2, r->held);
	return btcore_log_head_encode(&r->head, out + 10);
}

int
btstore_feedrec_decode_(const void *buf, size_t len,
    struct btstore_feedrec_ *r)
{
	const uint8_t *p = buf;
	int rc;

	memset(r, 0, sizeof(*r));
	if (buf == NULL || len != BTSTORE_FEEDREC_LEN_ ||
	    p[0] != BTSTORE_REC_VERSION_ || (p[1] & ~BTSTORE_FEED_FLAGS_) != 0)
		return BT_ECORRUPT;
	r->flags = p[1];
	r->held = btstore_get_be64_(p + 2);
	if ((rc = btstore_feed_head_parse_(p + 10, BTCORE_LOG_HEAD_ENC_LEN,
	    &r->head)) != BT_OK)
		return rc;
	/* a feed written here holds every entry of its head */
	if (((r->flags & BTSTORE_FEED_OWNED_) && r->held != r->head.length) ||
	    r->held > r->head.length) {
		memset(r, 0, sizeof(*r));
		return BT_ECORRUPT;
	}
	return BT_OK;
}

size_t
btstore_feedent_size_(unsigned flags, unsigned count, size_t len)
{
	return BTSTORE_FEEDENT_HDR_ + 32 * (size_t)count +
	    ((flags & BTSTORE_FEEDENT_HEAD_) ? BTSTORE_FEEDENT_HEADLEN_ : 0) +
	    len;
}

void
btstore_feedent_encode_(uint8_t *out, const struct btstore_feedent_ *e)
{
	uint8_t *p = out;

	*p++ = BTSTORE_FEEDENT_VERSION_;
	*p++ = (uint8_t)e->flags;
	memcpy(p, e->payload_hash.b, 32);
	p += 32;
	btstore_put_be64_(p, e->head_len);
	p += 8;
	*p++ = e->count;
	if (e->count > 0)
		memcpy(p, e->hashes, 32 * (size_t)e->count);
	p += 32 * (size_t)e->count;
	if (e->flags & BTSTORE_FEEDENT_HEAD_) {
		memcpy(p, e->root.b, 32);
		memcpy(p + 32, e->sig.b, 64);
		p += BTSTORE_FEEDENT_HEADLEN_;
	}
	btstore_put_be32_(p, (uint32_t)e->len);
	p += 4;
	if (e->len > 0)
		memcpy(p, e->payload, e->len);
}

int
btstore_feedent_decode_(const void *buf, size_t len,
    struct btstore_feedent_ *e)
{
	const uint8_t *p = buf, *q;
	size_t plen;

	memset(e, 0, sizeof(*e));
	if (buf == NULL || len < BTSTORE_FEEDENT_HDR_ ||
	    p[0] != BTSTORE_FEEDENT_VERSION_)
		return BT_ECORRUPT;
	e->flags = p[1];
	memcpy(e->payload_hash.b, p + 2, 32);
	e->head_len = btstore_get_be64_(p + 34);
	e->count = p[42];
	if ((e->flags & ~BTSTORE_FEEDENT_FLAGS_) != 0 ||
	    e->head_len == 0 || e->head_len > BTCORE_MERKLE_SIZE_MAX ||
	    e->count > BTSTORE_FEEDENT_COUNT_MAX_ ||
	    len < btstore_feedent_size_(e->flags, e->count, 0))
		goto bad;
	/* a head is signed only here, for the entry it ends with */
	if ((e->flags & BTSTORE_FEEDENT_HEAD_) &&
	    (!(e->flags & BTSTORE_FEEDENT_TREE_) ||
	    e->count != btstore_feed_ones_(e->head_len - 1)))
		goto bad;
	q = p + 43;
	e->hashes = e->count > 0 ? q : NULL;
	q += 32 * (size_t)e->count;
	if (e->flags & BTSTORE_FEEDENT_HEAD_) {
		memcpy(e->root.b, q, 32);
		memcpy(e->sig.b, q + 32, 64);
		q += BTSTORE_FEEDENT_HEADLEN_;
	}
	plen = btstore_get_be32_(q);
	if (plen > BTSTORE_FEED_PAYLOAD_MAX ||
	    len != btstore_feedent_size_(e->flags, e->count, plen))
		goto bad;
	e->len = plen;
	e->payload = q + 4;
	return BT_OK;
bad:
	memset(e, 0, sizeof(*e));
	return BT_ECORRUPT;
}
