/*
 * tree.c - files as trees of blocks: the node format, the builder and the
 * reader, for the sequential and the random-access layout.  The format is
 * described at the top of bt/tree.h.
 */
#include <bt/block.h>
#include <bt/hash.h>
#include <bt/id.h>
#include <bt/tree.h>

#include <stdlib.h>
#include <string.h>

#include "btcore-internal.h"

static const uint8_t tree_magic[4] = { 'B', 'T', 'T', 'N' };

#define TREE_VERSION	1

static uint64_t
min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/* fanout^n, saturating at UINT64_MAX. */
static uint64_t
pow_sat(uint32_t fanout, unsigned n)
{
	uint64_t v = 1;

	while (n-- > 0) {
		if (v > UINT64_MAX / fanout)
			return UINT64_MAX;
		v *= fanout;
	}
	return v;
}

/* Bytes under a full child of a random node at @p level, saturating. */
static uint64_t
child_cap(uint32_t leaf, uint32_t fanout, unsigned level)
{
	uint64_t p = pow_sat(fanout, level - 1);

	if (p > UINT64_MAX / leaf)
		return UINT64_MAX;
	return p * leaf;
}

/* ---- node format ---------------------------------------------------------- */

static int
decode_seq(struct btcore_tree_node *n, const uint8_t *p, size_t len)
{
	uint64_t sum = 0;
	uint32_t i, l;
	int prev_zero;

	if (len < BTCORE_TREE_SEQ_HEADER || p[6] != 1)
		return BT_EFORMAT;
	n->layout = BTCORE_TREE_SEQUENTIAL;
	n->level = 1;
	n->size = btcore_get_be64_(p + 8);
	n->start = btcore_get_be64_(p + 16);
	n->count = btcore_get_be32_(p + 24);
	if (btcore_get_be32_(p + 28) != 0 ||
	    n->count > BTCORE_TREE_SEQ_ENTRIES_MAX ||
	    len != BTCORE_TREE_SEQ_HEADER +
	    (size_t)n->count * BTCORE_TREE_SEQ_ENTRY ||
	    n->size > BTCORE_TREE_SIZE_MAX || n->start > n->size)
		return BT_EFORMAT;
	memcpy(n->prev.b, p + 32, BT_ID_LEN);
	prev_zero = btcore_id_is_zero(&n->prev);
	if (prev_zero != (n->start == 0) || (!prev_zero && n->count == 0))
		return BT_EFORMAT;
	n->entries = p + BTCORE_TREE_SEQ_HEADER;
	for (i = 0; i < n->count; i++) {
		l = btcore_get_be32_(n->entries +
		    (size_t)i * BTCORE_TREE_SEQ_ENTRY + BT_ID_LEN);
		if (l == 0 || l > BTCORE_BLOCK_MAX)
			return BT_EFORMAT;
		sum += l;	/* at most 7279 * 262128: no overflow */
	}
	if (n->size - n->start != sum)
		return BT_EFORMAT;
	return BT_OK;
}

static int
decode_rnd(struct btcore_tree_node *n, const uint8_t *p, size_t len)
{
	uint64_t cap, need;

	if (len < BTCORE_TREE_RND_HEADER || p[6] < 1 ||
	    p[6] > BTCORE_TREE_DEPTH_MAX)
		return BT_EFORMAT;
	n->layout = BTCORE_TREE_RANDOM;
	n->level = p[6];
	n->size = btcore_get_be64_(p + 8);
	n->leaf_size = btcore_get_be32_(p + 16);
	n->fanout = btcore_get_be32_(p + 20);
	n->count = btcore_get_be32_(p + 24);
	if (btcore_get_be32_(p + 28) != 0 ||
	    n->leaf_size < BTCORE_TREE_LEAF_MIN ||
	    n->leaf_size > BTCORE_BLOCK_MAX ||
	    n->fanout < BTCORE_TREE_FANOUT_MIN ||
	    n->fanout > BTCORE_TREE_FANOUT_MAX || n->count > n->fanout ||
	    len != BTCORE_TREE_RND_HEADER + (size_t)n->count * BT_ID_LEN ||
	    n->size > BTCORE_TREE_SIZE_MAX)
		return BT_EFORMAT;
	if (n->size == 0 && n->level != 1)
		return BT_EFORMAT;
	cap = child_cap(n->leaf_size, n->fanout, n->level);
	need = n->size / cap + (n->size % cap != 0);
	if (need != n->count)
		return BT_EFORMAT;
	n->entries = p + BTCORE_TREE_RND_HEADER;
	return BT_OK;
}

int
btcore_tree_node_decode(struct btcore_tree_node *out, const void *data,
    size_t len)
{
	const uint8_t *p = data;
	int rc;

	if (out == NULL)
		return BT_EINVAL;
	memset(out, 0, sizeof(*out));
	if (data == NULL)
		return BT_EINVAL;
	if (len < 8 || memcmp(p, tree_magic, 4) != 0)
		return BT_EFORMAT;
	if (p[4] != TREE_VERSION)
		return BT_EUNSUPPORTED;
	if (p[7] != 0)
		return BT_EFORMAT;
	switch (p[5]) {
	case BTCORE_TREE_SEQUENTIAL:
		rc = decode_seq(out, p, len);
		break;
	case BTCORE_TREE_RANDOM:
		rc = decode_rnd(out, p, len);
		break;
	default:
		rc = BT_EFORMAT;
		break;
	}
	if (rc != BT_OK)
		memset(out, 0, sizeof(*out));
	return rc;
}

/* The 8-byte preamble and size of every node. */
static void
put_preamble(uint8_t *p, int layout, unsigned level, uint64_t size)
{
	memcpy(p, tree_magic, 4);
	p[4] = TREE_VERSION;
	p[5] = (uint8_t)layout;
	p[6] = (uint8_t)level;
	p[7] = 0;
	btcore_put_be64_(p + 8, size);
}

static void
put_seq_header(uint8_t *p, uint64_t start, uint64_t size, uint32_t count,
    const struct bt_id *prev)
{
	put_preamble(p, BTCORE_TREE_SEQUENTIAL, 1, size);
	btcore_put_be64_(p + 16, start);
	btcore_put_be32_(p + 24, count);
	btcore_put_be32_(p + 28, 0);
	memcpy(p + 32, prev->b, BT_ID_LEN);
}

static void
put_rnd_header(uint8_t *p, unsigned level, uint64_t size, uint32_t leaf,
    uint32_t fanout, uint32_t count)
{
	put_preamble(p, BTCORE_TREE_RANDOM, level, size);
	btcore_put_be32_(p + 16, leaf);
	btcore_put_be32_(p + 20, fanout);
	btcore_put_be32_(p + 24, count);
	btcore_put_be32_(p + 28, 0);
}

int
btcore_tree_node_encode(const struct btcore_tree_node *n, void *buf,
    size_t cap, size_t *len)
{
	struct btcore_tree_node check;
	size_t need, esz, hdr;
	uint8_t *p = buf;
	int rc;

	if (len != NULL)
		*len = 0;
	if (n == NULL || buf == NULL || len == NULL ||
	    (n->entries == NULL && n->count != 0))
		return BT_EINVAL;
	if (n->layout == BTCORE_TREE_SEQUENTIAL) {
		if (n->count > BTCORE_TREE_SEQ_ENTRIES_MAX)
			return BT_EINVAL;
		hdr = BTCORE_TREE_SEQ_HEADER;
		esz = BTCORE_TREE_SEQ_ENTRY;
	} else if (n->layout == BTCORE_TREE_RANDOM) {
		if (n->count > BTCORE_TREE_FANOUT_MAX ||
		    n->level < 1 || n->level > BTCORE_TREE_DEPTH_MAX)
			return BT_EINVAL;
		hdr = BTCORE_TREE_RND_HEADER;
		esz = BT_ID_LEN;
	} else
		return BT_EINVAL;
	need = hdr + (size_t)n->count * esz;
	if (cap < need)
		return BT_ERANGE;
	if (n->layout == BTCORE_TREE_SEQUENTIAL) {
		put_seq_header(p, n->start, n->size, n->count, &n->prev);
		if (n->level != 1 || n->leaf_size != 0 || n->fanout != 0) {
			rc = BT_EINVAL;
			goto out;
		}
	} else {
		put_rnd_header(p, n->level, n->size, n->leaf_size, n->fanout,
		    n->count);
		if (!btcore_id_is_zero(&n->prev) || n->start != 0) {
			rc = BT_EINVAL;
			goto out;
		}
	}
	if (n->count > 0)
		memmove(p + hdr, n->entries, (size_t)n->count * esz);
	/* what the decoder would reject is not a node */
	if (btcore_tree_node_decode(&check, p, need) != BT_OK) {
		rc = BT_EINVAL;
		goto out;
	}
	*len = need;
	rc = BT_OK;
out:
	if (rc != BT_OK)
		memset(p, 0, need);
	return rc;
}

int
btcore_tree_node_entry(const struct btcore_tree_node *n, uint32_t i,
    struct bt_id *id, uint64_t *size)
{
	const uint8_t *e;
	uint64_t cap;

	if (n == NULL || id == NULL || n->entries == NULL)
		return BT_EINVAL;
	if (i >= n->count)
		return BT_ERANGE;
	if (n->layout == BTCORE_TREE_SEQUENTIAL) {
		e = n->entries + (size_t)i * BTCORE_TREE_SEQ_ENTRY;
		memcpy(id->b, e, BT_ID_LEN);
		if (size != NULL)
			*size = btcore_get_be32_(e + BT_ID_LEN);
		return BT_OK;
	}
	if (n->layout != BTCORE_TREE_RANDOM || n->level < 1 ||
	    n->leaf_size == 0 || n->fanout == 0)
		return BT_EINVAL;
	memcpy(id->b, n->entries + (size_t)i * BT_ID_LEN, BT_ID_LEN);
	if (size != NULL) {
		/* i < count = ceil(size / cap), so i * cap < size */
		cap = child_cap(n->leaf_size, n->fanout, n->level);
		*size = min_u64(cap, n->size - (uint64_t)i * cap);
	}
	return BT_OK;
}

/* ---- fetching verified blocks ------------------------------------------- */

/*
 * Copy and hash in pieces of this size, so that each piece is hashed while
 * it is still in the first-level cache: one pass over the lent bytes.
 */
#define FETCH_PIECE	16384

/*
 * The get callback lends bytes that may not be what @p id names.  Decide
 * between "not the block" (BT_ECORRUPT) and "the block, but not of the
 * expected shape" (BT_EFORMAT) without copying.
 */
static int
misfit(const struct bt_id *id, const void *data, size_t len)
{
	struct bt_id got;
	int rc;

	if ((rc = btcore_id_hash(&got, data, len)) != BT_OK)
		return rc;
	return btcore_ct_equal(got.b, id->b, BT_ID_LEN) ? BT_EFORMAT :
	    BT_ECORRUPT;
}

/*
 * Copy @p len lent bytes to @p dst and put the SHA-256 of the copy in
 * @p got.  With @p h, each piece is hashed right after it is copied;
 * without, the copy is hashed at once afterwards.  What is hashed is the
 * copy, never the lent bytes, so a store that changes its bytes while
 * they are lent cannot make an unverified byte pass.
 */
static int
copy_hash(struct btcore_sha256 *h, uint8_t *dst, const uint8_t *src,
    size_t len, struct bt_id *got)
{
	size_t off, k;
	int rc = BT_OK;

	if (h == NULL) {
		if (len > 0)
			memcpy(dst, src, len);
		return btcore_id_hash(got, dst, len);
	}
	for (off = 0; off < len && rc == BT_OK; off += k) {
		k = (size_t)min_u64(len - off, FETCH_PIECE);
		memcpy(dst + off, src + off, k);
		rc = btcore_sha256_update(h, dst + off, k);
	}
	/* the final also resets @p h for the next block, after an error too */
	if (btcore_sha256_final(h, got) != BT_OK && rc == BT_OK)
		rc = BT_ECRYPTO;
	return rc;
}

/*
 * Get the block @p id, which must be @p lo to @p hi bytes long, copy it to
 * @p *dst and verify the copy (see copy_hash()).  With @p cap NULL,
 * @p *dst has room for @p hi bytes; else @p *dst (NULL or malloc'ed,
 * @p *cap bytes) is grown as needed.  On success @p *outlen is the
 * block's length; on failure it is 0 and the bytes copied are wiped.
 */
static int
fetch_block(const struct btcore_blockio *io, struct btcore_sha256 *h,
    const struct bt_id *id, size_t lo, size_t hi, uint8_t **dst, size_t *cap,
    size_t *outlen)
{
	const void *data = NULL;
	struct bt_id got;
	size_t len = 0, copied = 0;
	uint8_t *nb;
	int rc;

	*outlen = 0;
	if ((rc = io->get(io->ctx, id, &data, &len)) != BT_OK)
		return rc;
	if (data == NULL && len != 0)
		rc = BT_EFORMAT;
	else if (len < lo || len > hi)
		rc = misfit(id, data, len);
	else if (cap != NULL && (*dst == NULL || len > *cap)) {
		if ((nb = realloc(*dst, len > 0 ? len : 1)) == NULL)
			rc = BT_ENOMEM;
		else {
			*dst = nb;
			*cap = len;
		}
	}
	if (rc == BT_OK) {
		copied = len;
		rc = copy_hash(h, *dst, data, len, &got);
	}
	if (io->release != NULL)
		io->release(io->ctx);
	if (rc == BT_OK && !btcore_ct_equal(got.b, id->b, BT_ID_LEN))
		rc = BT_ECORRUPT;
	if (rc == BT_OK)
		*outlen = len;
	else if (copied > 0)
		memset(*dst, 0, copied);
	return rc;
}

/* Copy the block @p id, exactly @p want bytes, to @p dst and verify it. */
static int
fetch_exact(const struct btcore_blockio *io, const struct bt_id *id,
    uint8_t *dst, size_t want)
{
	size_t len;

	return fetch_block(io, NULL, id, want, want, &dst, NULL, &len);
}

/* Copy the block @p id into @p *buf (grown as needed) and verify it. */
static int
fetch_grow(const struct btcore_blockio *io, const struct bt_id *id,
    uint8_t **buf, size_t *cap, size_t *outlen)
{
	return fetch_block(io, NULL, id, 0, BTCORE_BLOCK_MAX, buf, cap,
	    outlen);
}

/* ---- the builder ---------------------------------------------------------- */

/* Random layout: the node being filled at one level. */
struct blvl {
	uint8_t *buf;		/* header + fanout ids */
	uint32_t count;
	uint64_t size;		/* bytes under the entries so far */
	int has_left;		/* nodes of this level were already put */
};

enum { B_OPEN, B_FINISHED, B_FAILED };

struct btcore_tree_builder {
	struct btcore_blockio io;
	int layout;
	int state;
	uint32_t leaf_size;
	uint32_t fanout;
	uint64_t total;
	uint8_t *leaf;
	size_t leaf_len;
	/* random */
	struct blvl lv[BTCORE_TREE_DEPTH_MAX];
	/* sequential: the index node being filled */
	uint8_t *seq;
	uint32_t seq_count;
	uint64_t seq_start;
	uint64_t seq_sum;
	struct bt_id seq_prev;
};

static int
put_block(struct btcore_tree_builder *b, const uint8_t *data, size_t len,
    struct bt_id *id)
{
	int rc;

	if ((rc = btcore_id_hash(id, data, len)) != BT_OK)
		return rc;
	return b->io.put(b->io.ctx, id, data, len);
}

static int
lvl_buf(struct btcore_tree_builder *b, struct blvl *l)
{
	if (l->buf == NULL && (l->buf = malloc(BTCORE_TREE_RND_HEADER +
	    (size_t)b->fanout * BT_ID_LEN)) == NULL)
		return BT_ENOMEM;
	return BT_OK;
}

/* Put the node pending at index @p i (level i + 1) and reset it. */
static int
rnd_emit(struct btcore_tree_builder *b, unsigned i, struct bt_id *id,
    uint64_t *size)
{
	struct blvl *l = &b->lv[i];
	int rc;

	if ((rc = lvl_buf(b, l)) != BT_OK)
		return rc;
	put_rnd_header(l->buf, i + 1, l->size, b->leaf_size, b->fanout,
	    l->count);
	rc = put_block(b, l->buf, BTCORE_TREE_RND_HEADER +
	    (size_t)l->count * BT_ID_LEN, id);
	*size = l->size;
	l->count = 0;
	l->size = 0;
	l->has_left = 1;
	return rc;
}

/*
 * Add a child to the node at index @p i.  A full node is put only when one
 * more child arrives, so that the root is always the only node of its
 * level and the tree has the least depth.
 */
static int
rnd_push(struct btcore_tree_builder *b, unsigned i, struct bt_id id,
    uint64_t size)
{
	struct bt_id nid;
	uint64_t nsize;
	struct blvl *l;
	int rc;

	for (;;) {
		if (i >= BTCORE_TREE_DEPTH_MAX)
			return BT_ETOOBIG;
		l = &b->lv[i];
		if ((rc = lvl_buf(b, l)) != BT_OK)
			return rc;
		if (l->count < b->fanout) {
			memcpy(l->buf + BTCORE_TREE_RND_HEADER +
			    (size_t)l->count * BT_ID_LEN, id.b, BT_ID_LEN);
			l->count++;
			l->size += size;
			return BT_OK;
		}
		if ((rc = rnd_emit(b, i, &nid, &nsize)) != BT_OK)
			return rc;
		memcpy(l->buf + BTCORE_TREE_RND_HEADER, id.b, BT_ID_LEN);
		l->count = 1;
		l->size = size;
		id = nid;
		size = nsize;
		i++;
	}
}

static int
seq_emit(struct btcore_tree_builder *b, struct bt_id *id)
{
	put_seq_header(b->seq, b->seq_start, b->seq_start + b->seq_sum,
	    b->seq_count, &b->seq_prev);
	return put_block(b, b->seq, BTCORE_TREE_SEQ_HEADER +
	    (size_t)b->seq_count * BTCORE_TREE_SEQ_ENTRY, id);
}

static int
seq_push(struct btcore_tree_builder *b, const struct bt_id *id, uint32_t len)
{
	uint8_t *e;
	int rc;

	if (b->seq_count == BTCORE_TREE_SEQ_ENTRIES_MAX) {
		if ((rc = seq_emit(b, &b->seq_prev)) != BT_OK)
			return rc;
		b->seq_start += b->seq_sum;
		b->seq_sum = 0;
		b->seq_count = 0;
	}
	e = b->seq + BTCORE_TREE_SEQ_HEADER +
	    (size_t)b->seq_count * BTCORE_TREE_SEQ_ENTRY;
	memcpy(e, id->b, BT_ID_LEN);
	btcore_put_be32_(e + BT_ID_LEN, len);
	b->seq_count++;
	b->seq_sum += len;
	return BT_OK;
}

static int
leaf_done(struct btcore_tree_builder *b, const uint8_t *data, size_t len)
{
	struct bt_id id;
	int rc;

	if ((rc = put_block(b, data, len, &id)) != BT_OK)
		return rc;
	if (b->layout == BTCORE_TREE_RANDOM)
		return rnd_push(b, 0, id, len);
	return seq_push(b, &id, (uint32_t)len);
}

static int
check_params(int layout, const struct btcore_tree_params *p, uint32_t *leaf,
    uint32_t *fanout)
{
	uint32_t l = p != NULL ? p->leaf_size : 0;
	uint32_t f = p != NULL ? p->fanout : 0;

	if (layout == BTCORE_TREE_RANDOM) {
		if (l == 0)
			l = BTCORE_TREE_LEAF_DEFAULT;
		if (f == 0)
			f = BTCORE_TREE_FANOUT_DEFAULT;
		if (f < BTCORE_TREE_FANOUT_MIN || f > BTCORE_TREE_FANOUT_MAX)
			return BT_EINVAL;
	} else if (layout == BTCORE_TREE_SEQUENTIAL) {
		if (l == 0)
			l = BTCORE_TREE_SEQ_LEAF_DEFAULT;
		if (f != 0)
			return BT_EINVAL;
	} else
		return BT_EINVAL;
	if (l < BTCORE_TREE_LEAF_MIN || l > BTCORE_BLOCK_MAX)
		return BT_EINVAL;
	*leaf = l;
	*fanout = f;
	return BT_OK;
}

static int
builder_alloc(struct btcore_tree_builder **out, int layout, uint32_t leaf,
    uint32_t fanout, const struct btcore_blockio *io)
{
	struct btcore_tree_builder *b;

	*out = NULL;
	if ((b = calloc(1, sizeof(*b))) == NULL)
		return BT_ENOMEM;
	b->io = *io;
	b->layout = layout;
	b->state = B_OPEN;
	b->leaf_size = leaf;
	b->fanout = fanout;
	if ((b->leaf = malloc(leaf)) == NULL ||
	    (layout == BTCORE_TREE_SEQUENTIAL && (b->seq =
	    malloc(BTCORE_TREE_SEQ_HEADER + (size_t)BTCORE_TREE_SEQ_ENTRIES_MAX *
	    BTCORE_TREE_SEQ_ENTRY)) == NULL)) {
		btcore_tree_builder_free(b);
		return BT_ENOMEM;
	}
	*out = b;
	return BT_OK;
}

int
btcore_tree_builder_new(struct btcore_tree_builder **out, int layout,
    const struct btcore_tree_params *params, const struct btcore_blockio *io)
{
	uint32_t leaf, fanout;
	int rc;

	if (out == NULL)
		return BT_EINVAL;
	*out = NULL;
	if (io == NULL || io->put == NULL)
		return BT_EINVAL;
	if ((rc = check_params(layout, params, &leaf, &fanout)) != BT_OK)
		return rc;
	return builder_alloc(out, layout, leaf, fanout, io);
}

/* Take over the old root's entries and the old last leaf if it was short. */
static int
append_seq(struct btcore_tree_builder *b, const struct btcore_tree_node *n)
{
	struct bt_id id;
	uint64_t len;
	int rc;

	b->total = n->size;
	if (n->count == 0)
		return BT_OK;
	memcpy(b->seq + BTCORE_TREE_SEQ_HEADER, n->entries,
	    (size_t)n->count * BTCORE_TREE_SEQ_ENTRY);
	b->seq_count = n->count;
	b->seq_start = n->start;
	b->seq_sum = n->size - n->start;
	b->seq_prev = n->prev;
	if ((rc = btcore_tree_node_entry(n, n->count - 1, &id, &len)) != BT_OK)
		return rc;
	if (len < b->leaf_size) {
		if ((rc = fetch_exact(&b->io, &id, b->leaf, len)) != BT_OK)
			return rc;
		b->leaf_len = len;
		b->seq_count--;
		b->seq_sum -= len;
	}
	return BT_OK;
}

/*
 * Load the rightmost path: each level's pending node is the old node
 * there without its last child, which is loaded (and put again, if
 * unchanged, when it is finished) one level down.
 */
static int
append_rnd(struct btcore_tree_builder *b, struct btcore_tree_node n,
    uint8_t **tmp, size_t *tmpcap)
{
	struct bt_id id;
	uint64_t csize;
	size_t len;
	struct blvl *l;
	unsigned lev, depth = n.level;
	int rc;

	b->total = n.size;
	if (n.count == 0)
		return BT_OK;
	for (lev = depth;; lev--) {
		l = &b->lv[lev - 1];
		if ((rc = lvl_buf(b, l)) != BT_OK)
			return rc;
		memcpy(l->buf + BTCORE_TREE_RND_HEADER, n.entries,
		    (size_t)n.count * BT_ID_LEN);
		l->count = n.count;
		l->size = n.size;
		l->has_left = lev == depth ? 0 :
		    (b->lv[lev].count > 0 || b->lv[lev].has_left);
		if ((rc = btcore_tree_node_entry(&n, n.count - 1, &id,
		    &csize)) != BT_OK)
			return rc;
		if (lev == 1) {
			if (csize < b->leaf_size) {
				if ((rc = fetch_exact(&b->io, &id, b->leaf,
				    csize)) != BT_OK)
					return rc;
				b->leaf_len = csize;
				l->count--;
				l->size -= csize;
			}
			return BT_OK;
		}
		l->count--;
		l->size -= csize;
		if ((rc = fetch_grow(&b->io, &id, tmp, tmpcap, &len)) != BT_OK)
			return rc;
		if ((rc = btcore_tree_node_decode(&n, *tmp, len)) != BT_OK)
			return rc == BT_EUNSUPPORTED ? rc : BT_EFORMAT;
		if (n.layout != BTCORE_TREE_RANDOM || n.level != lev - 1 ||
		    n.leaf_size != b->leaf_size || n.fanout != b->fanout ||
		    n.size != csize)
			return BT_EFORMAT;
	}
}

int
btcore_tree_builder_append(struct btcore_tree_builder **out,
    const struct bt_id *root, const struct btcore_tree_params *params,
    const struct btcore_blockio *io)
{
	struct btcore_tree_builder *b = NULL;
	struct btcore_tree_node n;
	struct btcore_tree_params p = { 0, 0 };
	uint8_t *tmp = NULL;
	size_t tmpcap = 0, len;
	uint32_t leaf, fanout;
	int rc;

	if (out == NULL)
		return BT_EINVAL;
	*out = NULL;
	if (root == NULL || io == NULL || io->put == NULL || io->get == NULL)
		return BT_EINVAL;
	if (params != NULL)
		p = *params;
	if ((rc = fetch_grow(io, root, &tmp, &tmpcap, &len)) != BT_OK)
		goto out;
	if ((rc = btcore_tree_node_decode(&n, tmp, len)) != BT_OK)
		goto out;
	if (n.layout == BTCORE_TREE_RANDOM) {
		if ((p.leaf_size != 0 && p.leaf_size != n.leaf_size) ||
		    (p.fanout != 0 && p.fanout != n.fanout)) {
			rc = BT_EINVAL;
			goto out;
		}
		p.leaf_size = n.leaf_size;
		p.fanout = n.fanout;
	}
	if ((rc = check_params(n.layout, &p, &leaf, &fanout)) != BT_OK ||
	    (rc = builder_alloc(&b, n.layout, leaf, fanout, io)) != BT_OK)
		goto out;
	if (n.layout == BTCORE_TREE_RANDOM)
		rc = append_rnd(b, n, &tmp, &tmpcap);
	else
		rc = append_seq(b, &n);
	if (rc != BT_OK)
		goto out;
	*out = b;
	b = NULL;
out:
	btcore_tree_builder_free(b);
	free(tmp);
	return rc;
}

int
btcore_tree_builder_write(struct btcore_tree_builder *b, const void *data,
    size_t len)
{
	const uint8_t *p = data;
	size_t n;
	int rc = BT_OK;

	if (b == NULL || (data == NULL && len != 0))
		return BT_EINVAL;
	if (b->state != B_OPEN)
		return BT_ESTATE;
	if (len > BTCORE_TREE_SIZE_MAX - b->total) {
		rc = BT_ETOOBIG;
		goto out;
	}
	while (len > 0) {
		if (b->leaf_len == 0 && len >= b->leaf_size) {
			/* a whole leaf in the caller's buffer: no copy */
			if ((rc = leaf_done(b, p, b->leaf_size)) != BT_OK)
				goto out;
			n = b->leaf_size;
		} else {
			n = min_u64(b->leaf_size - b->leaf_len, len);
			memcpy(b->leaf + b->leaf_len, p, n);
			b->leaf_len += n;
			if (b->leaf_len == b->leaf_size) {
				if ((rc = leaf_done(b, b->leaf,
				    b->leaf_len)) != BT_OK)
					goto out;
				b->leaf_len = 0;
			}
		}
		p += n;
		len -= n;
		b->total += n;
	}
out:
	if (rc != BT_OK)
		b->state = B_FAILED;
	return rc;
}

int
btcore_tree_builder_finish(struct btcore_tree_builder *b, struct bt_id *root,
    uint64_t *size)
{
	struct bt_id id;
	uint64_t nsize;
	unsigned i;
	int rc = BT_OK;

	if (root != NULL)
		memset(root, 0, sizeof(*root));
	if (size != NULL)
		*size = 0;
	if (b == NULL || root == NULL)
		return BT_EINVAL;
	if (b->state != B_OPEN)
		return BT_ESTATE;
	if (b->leaf_len > 0) {
		if ((rc = leaf_done(b, b->leaf, b->leaf_len)) != BT_OK)
			goto out;
		b->leaf_len = 0;
	}
	if (b->layout == BTCORE_TREE_SEQUENTIAL) {
		rc = seq_emit(b, &id);
		goto out;
	}
	/* the lowest level that never put a node holds the root */
	for (i = 0; i < BTCORE_TREE_DEPTH_MAX; i++) {
		if (!b->lv[i].has_left) {
			rc = rnd_emit(b, i, &id, &nsize);
			goto out;
		}
		if (b->lv[i].count > 0 &&
		    ((rc = rnd_emit(b, i, &id, &nsize)) != BT_OK ||
		    (rc = rnd_push(b, i + 1, id, nsize)) != BT_OK))
			goto out;
	}
	rc = BT_ETOOBIG;
out:
	if (rc == BT_OK) {
		*root = id;
		if (size != NULL)
			*size = b->total;
		b->state = B_FINISHED;
	} else
		b->state = B_FAILED;
	return rc;
}

void
btcore_tree_builder_free(struct btcore_tree_builder *b)
{
	unsigned i;

	if (b == NULL)
		return;
	for (i = 0; i < BTCORE_TREE_DEPTH_MAX; i++)
		free(b->lv[i].buf);
	free(b->leaf);
	free(b->seq);
	free(b);
}

/* ---- the reader ----------------------------------------------------------- */

/*
 * Random layout: a verified interior node below the root, kept in the
 * reader's node cache.  It is found by its place in the tree (its level
 * and its index among the nodes of that level), which never changes for a
 * reader of one root: it was fetched by the id its verified parent names
 * at that place, verified against that id and checked to fit the place,
 * so while it is cached it can stand for its parent's entry.
 */
struct cnode {
	struct cnode *hnext;	/* next in its hash chain */
	struct cnode *newer;	/* recency list, towards the most recent */
	struct cnode *older;
	uint64_t idx;
	unsigned level;
	struct btcore_tree_node n;	/* decoded; entries point into buf */
	uint8_t buf[];		/* the block: room for a full node */
};

/*
 * Bookkeeping counted per cached node on top of the node itself and its
 * block: the hash table keeps at least twice as many buckets as nodes, so
 * at most four bucket pointers per node.
 */
#define CNODE_OVERHEAD	(sizeof(struct cnode) + 4 * sizeof(struct cnode *))
#define CACHE_TAB_MIN	16

/* A leaf held by the reader. */
struct rleaf {
	uint8_t *buf;
	size_t cap;
	size_t len;
	uint64_t off;		/* file offset of its first byte */
	int valid;
};

/* Sequential: one index node of the chain. */
struct chain_ent {
	struct bt_id id;
	uint64_t start;
	uint64_t size;
	uint32_t count;
};

struct btcore_tree_reader {
	struct btcore_blockio io;
	struct btcore_sha256 *sha;	/* reused for every block */
	int layout;
	unsigned depth;
	uint32_t leaf_size;
	uint32_t fanout;
	uint64_t size;
	uint64_t pos;
	uint64_t leaves;
	uint64_t nodes;
	/* random: the root; sequential: the index node chain[cur] */
	uint8_t *nbuf;
	size_t ncap;
	struct btcore_tree_node node;
	int node_ok;
	/* sequential */
	struct chain_ent *chain;
	size_t nchain;
	size_t cur;
	uint64_t *ends;		/* end offset of each entry of chain[cur] */
	/* random: the node cache, most recent first */
	struct cnode **tab;	/* hash buckets, a power of two of them */
	size_t ntab;
	struct cnode *newest;
	struct cnode *oldest;
	size_t ncached;
	size_t cache_max;	/* nodes; at least the path below the root */
	size_t slot_len;	/* bytes of the largest node of this file */
	/* the last two leaves read; leaf[mru] the more recent */
	struct rleaf leaf[2];
	unsigned mru;
};

/* The bucket of the node at @p level, @p idx among @p ntab buckets. */
static size_t
cache_slot(size_t ntab, unsigned level, uint64_t idx)
{
	uint64_t h = (idx ^ ((uint64_t)level << 56)) * 0x9e3779b97f4a7c15ull;

	return (size_t)(h ^ (h >> 32)) & (ntab - 1);
}

static void
cache_list_unlink(struct btcore_tree_reader *r, struct cnode *c)
{
	if (c->newer != NULL)
		c->newer->older = c->older;
	else
		r->newest = c->older;
	if (c->older != NULL)
		c->older->newer = c->newer;
	else
		r->oldest = c->newer;
	c->newer = c->older = NULL;
}

static void
cache_list_push(struct btcore_tree_reader *r, struct cnode *c)
{
	c->newer = NULL;
	c->older = r->newest;
	if (r->newest != NULL)
		r->newest->newer = c;
	else
		r->oldest = c;
	r->newest = c;
}

/* The cached node at @p level, @p idx, made the most recent; or NULL. */
static struct cnode *
cache_find(struct btcore_tree_reader *r, unsigned level, uint64_t idx)
{
	struct cnode *c;

	if (r->ncached == 0)
		return NULL;
	c = r->tab[cache_slot(r->ntab, level, idx)];
	for (; c != NULL; c = c->hnext) {
		if (c->idx == idx && c->level == level) {
			if (c != r->newest) {
				cache_list_unlink(r, c);
				cache_list_push(r, c);
			}
			return c;
		}
	}
	return NULL;
}

/* Take @p c out of the list and the table. */
static void
cache_remove(struct btcore_tree_reader *r, struct cnode *c)
{
	struct cnode **pp = &r->tab[cache_slot(r->ntab, c->level, c->idx)];

	while (*pp != c)
		pp = &(*pp)->hnext;
	*pp = c->hnext;
	c->hnext = NULL;
	cache_list_unlink(r, c);
	r->ncached--;
}

/* Drop the least recent nodes until at most @p keep remain. */
static void
cache_trim(struct btcore_tree_reader *r, size_t keep)
{
	struct cnode *c;

	while (r->ncached > keep) {
		c = r->oldest;
		cache_remove(r, c);
		free(c);
	}
}

/*
 * A node to fetch into: a new one while the cache is below its budget,
 * else the least recent one, taken out.  The table is grown first, so
 * that inserting the node later cannot fail.
 */
static int
cache_acquire(struct btcore_tree_reader *r, struct cnode **out)
{
	struct cnode **nt, *c, *next;
	size_t n, i, s;

	*out = NULL;
	if (r->ncached >= r->cache_max && r->oldest != NULL) {
		c = r->oldest;
		cache_remove(r, c);
		*out = c;
		return BT_OK;
	}
	if ((r->ncached + 1) * 2 > r->ntab) {
		n = r->ntab > 0 ? 2 * r->ntab : CACHE_TAB_MIN;
		if ((nt = calloc(n, sizeof(*nt))) == NULL)
			return BT_ENOMEM;
		for (i = 0; i < r->ntab; i++) {
			for (c = r->tab[i]; c != NULL; c = next) {
				next = c->hnext;
				s = cache_slot(n, c->level, c->idx);
				c->hnext = nt[s];
				nt[s] = c;
			}
		}
		free(r->tab);
		r->tab = nt;
		r->ntab = n;
	}
	if ((c = malloc(sizeof(*c) + r->slot_len)) == NULL)
		return BT_ENOMEM;
	memset(c, 0, sizeof(*c));
	*out = c;
	return BT_OK;
}

static void
cache_insert(struct btcore_tree_reader *r, struct cnode *c)
{
	size_t s = cache_slot(r->ntab, c->level, c->idx);

	c->hnext = r->tab[s];
	r->tab[s] = c;
	cache_list_push(r, c);
	r->ncached++;
}

/*
 * Fetch, verify and cache the node at @p level, @p idx, named @p id by its
 * parent, under which it holds @p csize bytes.
 */
static int
cache_load(struct btcore_tree_reader *r, unsigned level, uint64_t idx,
    const struct bt_id *id, uint64_t csize, struct cnode **out)
{
	struct cnode *c;
	uint8_t *p;
	size_t len;
	int rc;

	*out = NULL;
	if ((rc = cache_acquire(r, &c)) != BT_OK)
		return rc;
	p = c->buf;
	rc = fetch_block(&r->io, r->sha, id, BTCORE_TREE_RND_HEADER,
	    r->slot_len, &p, NULL, &len);
	if (rc == BT_OK && btcore_tree_node_decode(&c->n, c->buf, len) != BT_OK)
		rc = BT_EFORMAT;
	if (rc == BT_OK && (c->n.layout != BTCORE_TREE_RANDOM ||
	    c->n.level != level || c->n.leaf_size != r->leaf_size ||
	    c->n.fanout != r->fanout || c->n.size != csize))
		rc = BT_EFORMAT;
	if (rc != BT_OK) {
		free(c);
		return rc;
	}
	c->level = level;
	c->idx = idx;
	cache_insert(r, c);
	*out = c;
	return BT_OK;
}

/* The node budget for @p bytes: at least the path below the root. */
static size_t
cache_nodes(const struct btcore_tree_reader *r, size_t bytes)
{
	size_t n = bytes / (CNODE_OVERHEAD + r->slot_len);

	return n < r->depth - 1 ? r->depth - 1 : n;
}

/* Fetch @p id into the reader's node buffer and decode it. */
static int
load_node(struct btcore_tree_reader *r, const struct bt_id *id)
{
	size_t len;
	int rc;

	r->node_ok = 0;
	if ((rc = fetch_block(&r->io, r->sha, id, 0, BTCORE_BLOCK_MAX,
	    &r->nbuf, &r->ncap, &len)) != BT_OK)
		return rc;
	if ((rc = btcore_tree_node_decode(&r->node, r->nbuf, len)) != BT_OK)
		return rc;
	r->node_ok = 1;
	return BT_OK;
}

/* Sequential: the end offset of each entry of the node in r->node. */
static void
seq_index(struct btcore_tree_reader *r)
{
	uint64_t end = r->node.start;
	uint32_t i;

	for (i = 0; i < r->node.count; i++) {
		end += btcore_get_be32_(r->node.entries +
		    (size_t)i * BTCORE_TREE_SEQ_ENTRY + BT_ID_LEN);
		r->ends[i] = end;
	}
}

/* Sequential: make r->node the index node chain[j]. */
static int
seq_load(struct btcore_tree_reader *r, size_t j)
{
	const struct chain_ent *c = &r->chain[j];
	int rc;

	if (r->node_ok && r->cur == j)
		return BT_OK;
	if ((rc = load_node(r, &c->id)) != BT_OK)
		return rc;
	/* verified bytes of a node decoded before: these cannot differ */
	if (r->node.layout != BTCORE_TREE_SEQUENTIAL ||
	    r->node.start != c->start || r->node.size != c->size ||
	    r->node.count != c->count) {
		r->node_ok = 0;
		return BT_EFORMAT;
	}
	seq_index(r);
	r->cur = j;
	return BT_OK;
}

static int
seq_locate(struct btcore_tree_reader *r, uint64_t pos, struct bt_id *id,
    uint64_t *off, size_t *len)
{
	const struct btcore_tree_node *n = &r->node;
	size_t lo = 0, hi = r->nchain, mid;
	uint32_t elo, ehi, emid;
	int rc;

	/* the last node whose start <= pos */
	while (hi - lo > 1) {
		mid = lo + (hi - lo) / 2;
		if (r->chain[mid].start <= pos)
			lo = mid;
		else
			hi = mid;
	}
	if ((rc = seq_load(r, lo)) != BT_OK)
		return rc;
	/* the first entry ending after pos */
	elo = 0;
	ehi = n->count;
	while (elo < ehi) {
		emid = elo + (ehi - elo) / 2;
		if (r->ends[emid] > pos)
			ehi = emid;
		else
			elo = emid + 1;
	}
	if (elo >= n->count)
		return BT_EFORMAT;
	memcpy(id->b, n->entries + (size_t)elo * BTCORE_TREE_SEQ_ENTRY,
	    BT_ID_LEN);
	*off = elo > 0 ? r->ends[elo - 1] : n->start;
	*len = (size_t)(r->ends[elo] - *off);
	return BT_OK;
}

/*
 * Random layout: the leaf holding @p pos.  The path starts at the lowest
 * node of it that is cached (the root when none is) and fetches the nodes
 * below that one.
 */
static int
rnd_locate(struct btcore_tree_reader *r, uint64_t pos, struct bt_id *id,
    uint64_t *off, size_t *len)
{
	/* q[l]: index of the node of level l on the path; q[0] the leaf's */
	uint64_t q[BTCORE_TREE_DEPTH_MAX + 1] = { 0 }, ci, csize;
	const struct btcore_tree_node *n = &r->node;
	struct cnode *c;
	struct bt_id cid;
	unsigned lev;
	int rc;

	q[0] = pos / r->leaf_size;
	for (lev = 1; lev <= r->depth; lev++)
		q[lev] = q[lev - 1] / r->fanout;
	for (lev = 1; lev < r->depth; lev++) {
		if ((c = cache_find(r, lev, q[lev])) != NULL) {
			n = &c->n;
			break;
		}
	}
	for (;;) {
		/* n is the node of level lev at q[lev]; q[lev] * fanout <=
		 * q[lev - 1] by construction */
		ci = q[lev - 1] - q[lev] * r->fanout;
		if (ci >= n->count)
			return BT_EFORMAT;
		if ((rc = btcore_tree_node_entry(n, (uint32_t)ci,
		    lev > 1 ? &cid : id, &csize)) != BT_OK)
			return rc;
		if (lev == 1)
			break;
		lev--;
		if ((rc = cache_load(r, lev, q[lev], &cid, csize, &c)) != BT_OK)
			return rc;
		n = &c->n;
	}
	*off = q[0] * r->leaf_size;
	*len = (size_t)csize;
	return BT_OK;
}

static void
reader_stats_rnd(struct btcore_tree_reader *r)
{
	uint64_t n;
	unsigned l;

	n = r->size / r->leaf_size + (r->size % r->leaf_size != 0);
	r->leaves = n;
	r->nodes = 0;
	for (l = 1; l <= r->depth; l++) {
		n = n / r->fanout + (n % r->fanout != 0);
		if (n == 0)
			n = 1;
		r->nodes += n;
	}
}

/* Walk the chain of index nodes back from the root (in r->node). */
static int
open_seq(struct btcore_tree_reader *r, const struct bt_id *root)
{
	struct chain_ent *nc, t;
	struct bt_id prev;
	size_t cap = 16, i;
	uint64_t want;
	int rc;

	if ((r->chain = malloc(cap * sizeof(*r->chain))) == NULL ||
	    (r->ends = malloc(BTCORE_TREE_SEQ_ENTRIES_MAX *
	    sizeof(*r->ends))) == NULL)
		return BT_ENOMEM;
	r->chain[0].id = *root;
	for (;;) {
		t.id = r->chain[r->nchain].id;
		t.start = r->node.start;
		t.size = r->node.size;
		t.count = r->node.count;
		r->chain[r->nchain++] = t;
		r->leaves += t.count;
		if (btcore_id_is_zero(&r->node.prev))
			break;
		if (r->nchain >= BTCORE_TREE_SEQ_CHAIN_MAX)
			return BT_ETOOBIG;
		if (r->nchain == cap) {
			if ((nc = realloc(r->chain, 2 * cap *
			    sizeof(*nc))) == NULL)
				return BT_ENOMEM;
			r->chain = nc;
			cap *= 2;
		}
		prev = r->node.prev;
		want = t.start;
		r->chain[r->nchain].id = prev;
		if ((rc = load_node(r, &prev)) != BT_OK)
			return rc == BT_EUNSUPPORTED ? BT_EFORMAT : rc;
		if (r->node.layout != BTCORE_TREE_SEQUENTIAL ||
		    r->node.size != want)
			return BT_EFORMAT;
	}
	/* oldest first */
	for (i = 0; i < r->nchain / 2; i++) {
		t = r->chain[i];
		r->chain[i] = r->chain[r->nchain - 1 - i];
		r->chain[r->nchain - 1 - i] = t;
	}
	r->nodes = r->nchain;
	r->depth = 1;
	/* the oldest node is in r->node already: index it without a fetch */
	seq_index(r);
	r->cur = 0;
	return BT_OK;
}

int
btcore_tree_reader_open(struct btcore_tree_reader **out,
    const struct bt_id *root, const struct btcore_blockio *io)
{
	struct btcore_tree_reader *r = NULL;
	int rc;

	if (out == NULL)
		return BT_EINVAL;
	*out = NULL;
	if (root == NULL || io == NULL || io->get == NULL)
		return BT_EINVAL;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return BT_ENOMEM;
	r->io = *io;
	if ((rc = btcore_sha256_new(&r->sha)) != BT_OK ||
	    (rc = load_node(r, root)) != BT_OK)
		goto out;
	r->layout = r->node.layout;
	r->size = r->node.size;
	if (r->layout == BTCORE_TREE_SEQUENTIAL) {
		rc = open_seq(r, root);
		goto out;
	}
	r->depth = r->node.level;
	r->leaf_size = r->node.leaf_size;
	r->fanout = r->node.fanout;
	r->slot_len = BTCORE_TREE_RND_HEADER + (size_t)r->fanout * BT_ID_LEN;
	r->cache_max = cache_nodes(r, BTCORE_TREE_CACHE_DEFAULT);
	reader_stats_rnd(r);
out:
	if (rc == BT_OK)
		*out = r;
	else
		btcore_tree_reader_close(r);
	return rc;
}

int
btcore_tree_reader_set_cache(struct btcore_tree_reader *r, size_t bytes)
{
	if (r == NULL)
		return BT_EINVAL;
	if (r->layout == BTCORE_TREE_RANDOM) {
		r->cache_max = cache_nodes(r, bytes);
		cache_trim(r, r->cache_max);
	}
	return BT_OK;
}

/* The held leaf that covers @p pos, made the more recent; or NULL. */
static struct rleaf *
leaf_find(struct btcore_tree_reader *r, uint64_t pos)
{
	struct rleaf *l;
	unsigned i;

	for (i = 0; i < 2; i++) {
		l = &r->leaf[r->mru ^ i];
		if (l->valid && pos >= l->off && pos - l->off < l->len) {
			r->mru ^= i;
			return l;
		}
	}
	return NULL;
}

int
btcore_tree_reader_read(struct btcore_tree_reader *r, void *buf, size_t len,
    size_t *n)
{
	uint8_t *out = buf, *dst;
	uint64_t pos, off;
	size_t done = 0, want, llen, k, got;
	struct rleaf *l;
	struct bt_id id;
	int rc = BT_OK;

	if (n != NULL)
		*n = 0;
	if (r == NULL || n == NULL || (buf == NULL && len != 0))
		return BT_EINVAL;
	pos = r->pos;
	while (done < len && pos < r->size) {
		want = (size_t)min_u64(len - done, r->size - pos);
		if ((l = leaf_find(r, pos)) != NULL) {
			k = (size_t)min_u64(want, l->len - (pos - l->off));
			memcpy(out + done, l->buf + (pos - l->off), k);
			done += k;
			pos += k;
			continue;
		}
		if (r->layout == BTCORE_TREE_RANDOM)
			rc = rnd_locate(r, pos, &id, &off, &llen);
		else
			rc = seq_locate(r, pos, &id, &off, &llen);
		if (rc != BT_OK)
			goto out;
		if (off == pos && want >= llen) {
			/* a whole leaf into the caller's buffer: one copy */
			dst = out + done;
			if ((rc = fetch_block(&r->io, r->sha, &id, llen, llen,
			    &dst, NULL, &got)) != BT_OK)
				goto out;
			done += llen;
			pos += llen;
			continue;
		}
		/* into the less recent of the two held leaves */
		r->mru ^= 1;
		l = &r->leaf[r->mru];
		l->valid = 0;
		if ((rc = fetch_block(&r->io, r->sha, &id, llen, llen, &l->buf,
		    &l->cap, &got)) != BT_OK)
			goto out;
		l->off = off;
		l->len = llen;
		l->valid = 1;
	}
out:
	if (rc != BT_OK) {
		if (done > 0)
			memset(out, 0, done);
		return rc;
	}
	r->pos = pos;
	*n = done;
	return BT_OK;
}

int
btcore_tree_reader_seek(struct btcore_tree_reader *r, int64_t off, int whence,
    uint64_t *pos)
{
	uint64_t base, np;

	if (r == NULL)
		return BT_EINVAL;
	switch (whence) {
	case BTCORE_SEEK_SET:
		base = 0;
		break;
	case BTCORE_SEEK_CUR:
		base = r->pos;
		break;
	case BTCORE_SEEK_END:
		base = r->size;
		break;
	default:
		return BT_EINVAL;
	}
	if (off >= 0) {
		if ((uint64_t)off > r->size - base)
			return BT_ERANGE;
		np = base + (uint64_t)off;
	} else {
		/* -(off + 1) + 1 avoids negating INT64_MIN */
		if ((uint64_t)(-(off + 1)) + 1 > base)
			return BT_ERANGE;
		np = base - ((uint64_t)(-(off + 1)) + 1);
	}
	r->pos = np;
	if (pos != NULL)
		*pos = np;
	return BT_OK;
}

uint64_t
btcore_tree_reader_tell(const struct btcore_tree_reader *r)
{
	return r != NULL ? r->pos : 0;
}

uint64_t
btcore_tree_reader_size(const struct btcore_tree_reader *r)
{
	return r != NULL ? r->size : 0;
}

int
btcore_tree_reader_stat(const struct btcore_tree_reader *r,
    struct btcore_tree_stat *st)
{
	if (st != NULL)
		memset(st, 0, sizeof(*st));
	if (r == NULL || st == NULL)
		return BT_EINVAL;
	st->layout = r->layout;
	st->depth = r->depth;
	st->leaf_size = r->leaf_size;
	st->fanout = r->fanout;
	st->size = r->size;
	st->leaves = r->leaves;
	st->nodes = r->nodes;
	return BT_OK;
}

void
btcore_tree_reader_close(struct btcore_tree_reader *r)
{
	if (r == NULL)
		return;
	cache_trim(r, 0);
	free(r->tab);
	free(r->nbuf);
	free(r->chain);
	free(r->ends);
	free(r->leaf[0].buf);
	free(r->leaf[1].buf);
	btcore_sha256_free(r->sha);
	free(r);
}
