/*
 * feed.c - signed append-only logs (feeds) in the store.
 *
 * Databases (keys start with the 32-byte feed key, so a feed's records
 * are one contiguous range):
 *   feed          feed -> feed record (flags, entries held, newest head)
 *   feed.entries  feed || be64 index -> entry record (payload inline; for
 *                 a feed written here also the hashes of the perfect
 *                 subtrees the entry completes and, at the end of an
 *                 append, the head signed for it: feed-internal.h)
 *   feed.heads    feed || be64 length -> the other heads held, in
 *                 libbtcore's encoding: every head of a followed feed
 *                 (the newest too), and of a feed written here its empty
 *                 head and heads taken in from elsewhere
 *   feed.forks    feed || be64 length -> fork evidence
 *
 * An append takes the accumulator of the stored tree (kept in memory from
 * the previous append when it still matches the stored head, else loaded
 * from the O(log n) subtrees that make up the tree), appends, signs the
 * new head, and writes the entry records (with the subtrees they complete
 * and the head) and the feed record, all in one transaction.  Consecutive
 * entries of a feed are neighbours in one database, so a single append
 * changes one leaf page there and one in the feed records.
 */
#include <bt/feed.h>

#include <stdlib.h>

#include "btstore-internal.h"
#include "feed-internal.h"

#define KLEN_IDX	(BT_ID_LEN + 8)

static void
idx_key(uint8_t out[KLEN_IDX], const struct bt_pubkey *feed, uint64_t v)
{
	memcpy(out, feed->b, BT_ID_LEN);
	btstore_put_be64_(out + BT_ID_LEN, v);
}

static int
heads_equal(const struct bt_log_head *a, const struct bt_log_head *b)
{
	return a->length == b->length &&
	    memcmp(a->feed.b, b->feed.b, sizeof(a->feed.b)) == 0 &&
	    memcmp(a->root.b, b->root.b, sizeof(a->root.b)) == 0 &&
	    memcmp(a->sig.b, b->sig.b, sizeof(a->sig.b)) == 0;
}

/* ---- reading (any transaction) ------------------------------------------ */

static int
feed_load(struct btstore *st, MDB_txn *txn, const struct bt_pubkey *feed,
    struct btstore_feedrec_ *r)
{
	MDB_val k = { BT_ID_LEN, (void *)(uintptr_t)feed->b }, v;
	int rc, mrc;

	mrc = mdb_get(txn, st->dbi[BTSTORE_DB_FEED_], &k, &v);
	if (mrc != MDB_SUCCESS)
		return btstore_err_(st, mrc, "get feed");
	if ((rc = btstore_feedrec_decode_(v.mv_data, v.mv_size, r)) != BT_OK)
		return rc;
	if (memcmp(r->head.feed.b, feed->b, BT_ID_LEN) != 0)
		return BT_ECORRUPT;
	return BT_OK;
}

/* Entry record @p index; pointers live as long as @p txn. */
static int
ent_load(struct btstore *st, MDB_txn *txn, const struct bt_pubkey *feed,
    uint64_t index, struct btstore_feedent_ *e)
{
	uint8_t kb[KLEN_IDX];
	MDB_val k = { sizeof(kb), kb }, v;
	int mrc;

	idx_key(kb, feed, index);
	mrc = mdb_get(txn, st->dbi[BTSTORE_DB_FEEDENT_], &k, &v);
	if (mrc != MDB_SUCCESS)
		return btstore_err_(st, mrc, "get feed entry");
	return btstore_feedent_decode_(v.mv_data, v.mv_size, e);
}

/* Entry record @p index of a feed written here, which holds every entry
 * it signed: a missing one is damage, and so is one that does not carry
 * what an entry at its index carries. */
static int
own_ent_load(struct btstore *st, MDB_txn *txn, const struct bt_pubkey *feed,
    uint64_t index, struct btstore_feedent_ *e)
{
	int rc;

	rc = ent_load(st, txn, feed, index, e);
	if (rc == BT_ENOTFOUND)
		return BT_ECORRUPT;
	if (rc != BT_OK)
		return rc;
	if (!(e->flags & BTSTORE_FEEDENT_TREE_) || e->head_len <= index ||
	    e->count != btstore_feed_ones_(index) ||
	    ((e->flags & BTSTORE_FEEDENT_HEAD_) && e->head_len != index + 1))
		return BT_ECORRUPT;
	return BT_OK;
}

/*
 * A held head of the feed of @p r, parsed (not signature-checked): the
 * newest one from the feed record; one signed here from the entry that
 * ends its append; any other from feed.heads.
 */
static int
head_load(struct btstore *st, MDB_txn *txn, const struct btstore_feedrec_ *r,
    uint64_t length, struct bt_log_head *h)
{
	const struct bt_pubkey *feed = &r->head.feed;
	struct btstore_feedent_ e;
	uint8_t kb[KLEN_IDX];
	MDB_val k = { sizeof(kb), kb }, v;
	int rc, mrc;

	if (length == r->head.length) {
		*h = r->head;
		return BT_OK;
	}
	if ((r->flags & BTSTORE_FEED_OWNED_) && length > 0 &&
	    length < r->head.length) {
		if ((rc = own_ent_load(st, txn, feed, length - 1, &e)) != BT_OK)
			return rc;
		if (e.flags & BTSTORE_FEEDENT_HEAD_) {
			h->feed = *feed;
			h->length = length;
			h->root = e.root;
			h->sig = e.sig;
			return BT_OK;
		}
	}
	idx_key(kb, feed, length);
	mrc = mdb_get(txn, st->dbi[BTSTORE_DB_FEEDHEAD_], &k, &v);
	if (mrc != MDB_SUCCESS)
		return btstore_err_(st, mrc, "get feed head");
	if ((rc = btstore_feed_head_parse_(v.mv_data, v.mv_size, h)) != BT_OK)
		return rc;
	if (h->length != length || memcmp(h->feed.b, feed->b, BT_ID_LEN) != 0)
		return BT_ECORRUPT;
	return BT_OK;
}

struct sub_ctx {
	struct btstore *st;
	MDB_txn *txn;
	const struct bt_pubkey *feed;
};

/* The stored tree of a feed written here as a btcore_merkle_subtree_fn:
 * a leaf is the leaf hash of its entry's payload hash, a perfect subtree
 * above it is kept by the entry that completes it. */
static int
subtree_cb(void *ctx, uint64_t start, unsigned height, struct bt_id *out)
{
	struct sub_ctx *c = ctx;
	struct btstore_feedent_ e;
	uint64_t last;
	int rc;

	if (height > BTSTORE_FEEDENT_COUNT_MAX_)
		return BT_ECORRUPT;
	last = start + ((uint64_t)1 << height) - 1;
	if ((rc = own_ent_load(c->st, c->txn, c->feed, last, &e)) != BT_OK)
		return rc;
	if (height == 0)
		return btcore_log_leaf_hash(out, &e.payload_hash);
	/* the count check above makes count >= height for an aligned start */
	if (e.count < height)
		return BT_ECORRUPT;
	memcpy(out->b, e.hashes + 32 * (size_t)(height - 1), BT_ID_LEN);
	return BT_OK;
}

/* ---- writing helpers ------------------------------------------------------ */

static int
put_raw(struct btstore_w_ *w, int db, const void *k, size_t klen,
    const void *v, size_t vlen, unsigned flags)
{
	MDB_val mk = { klen, (void *)(uintptr_t)k };
	MDB_val mv = { vlen, (void *)(uintptr_t)v };

	return btstore_werr_(w, mdb_put(w->txn, w->st->dbi[db], &mk, &mv,
	    flags), "feed write");
}

static int
feed_store(struct btstore_w_ *w, const struct btstore_feedrec_ *r)
{
	uint8_t buf[BTSTORE_FEEDREC_LEN_];
	int rc;

	if ((rc = btstore_feedrec_encode_(buf, r)) != BT_OK)
		return rc;
	return put_raw(w, BTSTORE_DB_FEED_, r->head.feed.b, BT_ID_LEN, buf,
	    sizeof(buf), 0);
}

static int
head_store(struct btstore_w_ *w, const struct bt_log_head *h)
{
	uint8_t kb[KLEN_IDX], buf[BTCORE_LOG_HEAD_ENC_LEN];
	int rc;

	idx_key(kb, &h->feed, h->length);
	if ((rc = btcore_log_head_encode(h, buf)) != BT_OK)
		return rc;
	return put_raw(w, BTSTORE_DB_FEEDHEAD_, kb, sizeof(kb), buf,
	    sizeof(buf), 0);
}

static int
emit_feed(struct btstore_w_ *w, const struct bt_pubkey *feed)
{
	return btstore_emit_(w, BTSTORE_TOPIC_FEED, BTSTORE_EV_PUT, feed->b,
	    BT_ID_LEN);
}

/* Reserve room for an entry record and write it in place. */
static int
ent_store(struct btstore_w_ *w, const struct bt_pubkey *feed, uint64_t index,
    const struct btstore_feedent_ *e)
{
	uint8_t kb[KLEN_IDX];
	MDB_val k = { sizeof(kb), kb }, v;
	int mrc;

	idx_key(kb, feed, index);
	v.mv_size = btstore_feedent_size_(e->flags, e->count, e->len);
	v.mv_data = NULL;
	mrc = mdb_put(w->txn, w->st->dbi[BTSTORE_DB_FEEDENT_], &k, &v,
	    MDB_RESERVE);
	if (mrc != MDB_SUCCESS)
		return btstore_werr_(w, mrc, "feed entry write");
	btstore_feedent_encode_(v.mv_data, e);
	return BT_OK;
}

/* ---- the accumulator cache ------------------------------------------------ */
/*
 * An append continues the accumulator of the stored tree: one subtree
 * hash per set bit of the length, O(log n) gets to load.  The store keeps
 * the accumulators of the last feeds appended to, each with the length and
 * root it stands at, and uses one only when the feed's stored newest head
 * has exactly that length and root.  Anything else - a write that failed,
 * was aborted or runs again, another process appending, a file restored
 * from a copy - makes it miss, and the append loads the stored tree as
 * before.  A root names every leaf under it, so a hit is the stored tree.
 * Used under the write lock only.
 */
#define CACHE_FEEDS	8

struct cache_ent {
	struct bt_pubkey feed;
	struct btcore_merkle *m;	/* NULL: slot unused */
	uint64_t length;		/* m's size and root when valid */
	struct bt_id root;
	uint64_t used;			/* for eviction: least recent goes */
	int valid;
};

struct btstore_feed_cache_ {
	struct cache_ent e[CACHE_FEEDS];
	uint64_t tick;
};

void
btstore_feed_cache_free_(struct btstore *st)
{
	size_t i;

	if (st->feed_cache == NULL)
		return;
	for (i = 0; i < CACHE_FEEDS; i++)
		btcore_merkle_free(st->feed_cache->e[i].m);
	free(st->feed_cache);
	st->feed_cache = NULL;
}

/* The slot of @p feed: its own, else the least recently used one, given
 * over to @p feed (not valid). */
static int
cache_slot(struct btstore *st, const struct bt_pubkey *feed,
    struct cache_ent **out)
{
	struct btstore_feed_cache_ *c = st->feed_cache;
	struct cache_ent *e, *pick = NULL;
	size_t i;
	int rc;

	*out = NULL;
	if (c == NULL) {
		if ((c = calloc(1, sizeof(*c))) == NULL)
			return BT_ENOMEM;
		st->feed_cache = c;
	}
	for (i = 0; i < CACHE_FEEDS; i++) {
		e = &c->e[i];
		if (e->m != NULL &&
		    memcmp(e->feed.b, feed->b, BT_ID_LEN) == 0) {
			pick = e;
			break;
		}
		if (pick == NULL || e->used < pick->used)
			pick = e;
	}
	if (pick->m == NULL) {
		if ((rc = btcore_merkle_new(&pick->m)) != BT_OK)
			return rc;
		pick->valid = 0;
	}
	if (memcmp(pick->feed.b, feed->b, BT_ID_LEN) != 0) {
		pick->feed = *feed;
		pick->valid = 0;
	}
	pick->used = ++c->tick;
	*out = pick;
	return BT_OK;
}

/* ---- create and append ---------------------------------------------------- */

struct create_arg {
	const struct btcore_signer *signer;
};

static int
create_fn(struct btstore_w_ *w, void *arg)
{
	struct create_arg *a = arg;
	struct btstore_feedrec_ r;
	struct bt_id empty;
	int rc;

	rc = feed_load(w->st, w->txn, &a->signer->pub, &r);
	if (rc == BT_OK)
		return BT_EEXIST;
	if (rc != BT_ENOTFOUND)
		return rc;
	memset(&r, 0, sizeof(r));
	r.flags = BTSTORE_FEED_OWNED_;
	if ((rc = btcore_id_hash(&empty, "", 0)) != BT_OK ||
	    (rc = btcore_log_head_sign(&r.head, a->signer, 0, &empty)) != BT_OK)
		return rc;
	if ((rc = head_store(w, &r.head)) != BT_OK ||
	    (rc = feed_store(w, &r)) != BT_OK)
		return rc;
	return emit_feed(w, &r.head.feed);
}

int
btstore_feed_create(struct btstore *st, const struct btcore_signer *signer)
{
	struct create_arg a;

	if (st == NULL || signer == NULL || signer->sign == NULL)
		return BT_EINVAL;
	a.signer = signer;
	return btstore_write_(st, create_fn, &a);
}

struct append_arg {
	const struct btcore_signer *signer;
	const struct btstore_feed_payload *items;
	const struct bt_id *ph;		/* payload hashes, n */
	size_t n;
	uint64_t first;			/* out */
};

/* The perfect subtrees one leaf completes, heights 1, 2, ... in turn. */
struct emit_ctx {
	uint8_t hashes[32 * BTSTORE_FEEDENT_COUNT_MAX_];
	unsigned count;
};

static int
emit_cb(void *ctx, uint64_t start, unsigned height, const struct bt_id *hash)
{
	struct emit_ctx *c = ctx;

	(void)start;
	if (height == 0)
		return BT_OK;
	/* (the accumulator emits them in that order; anything else would
	 * store a tree that does not add up) */
	if (height != c->count + 1 || c->count >= BTSTORE_FEEDENT_COUNT_MAX_)
		return BT_ECORRUPT;
	memcpy(c->hashes + 32 * (size_t)c->count++, hash->b, BT_ID_LEN);
	return BT_OK;
}

static int
append_fn(struct btstore_w_ *w, void *arg)
{
	struct append_arg *a = arg;
	const struct bt_pubkey *feed = &a->signer->pub;
	struct btcore_merkle *m;
	struct cache_ent *ce;
	struct btstore_feedrec_ r;
	struct btstore_feedent_ e;
	struct sub_ctx sc;
	struct emit_ctx ec;
	struct bt_id leaf, root;
	uint64_t n0, end;
	size_t i;
	int rc;

	if ((rc = feed_load(w->st, w->txn, feed, &r)) != BT_OK)
		goto out;
	if (!(r.flags & BTSTORE_FEED_OWNED_)) {
		rc = BT_EPERM;
		goto out;
	}
	n0 = r.head.length;
	if (a->n > BTCORE_MERKLE_SIZE_MAX - n0) {
		rc = BT_ERANGE;
		goto out;
	}
	end = n0 + a->n;
	a->first = n0;
	if ((rc = cache_slot(w->st, feed, &ce)) != BT_OK)
		goto out;
	m = ce->m;
	if (!ce->valid || ce->length != n0 || btcore_merkle_size(m) != n0 ||
	    memcmp(ce->root.b, r.head.root.b, BT_ID_LEN) != 0) {
		ce->valid = 0;
		sc.st = w->st;
		sc.txn = w->txn;
		sc.feed = feed;
		if ((rc = btcore_merkle_load(m, n0, subtree_cb, &sc)) != BT_OK)
			goto out;
	}
	/* m moves on from here: valid again only at a new head */
	ce->valid = 0;
	memset(&e, 0, sizeof(e));
	for (i = 0; i < a->n; i++) {
		/* (the last entry is written once the head is signed) */
		if (i > 0 && (rc = ent_store(w, feed, n0 + i - 1, &e)) != BT_OK)
			goto out;
		ec.count = 0;
		if ((rc = btcore_log_leaf_hash(&leaf, &a->ph[i])) != BT_OK ||
		    (rc = btcore_merkle_append(m, &leaf, emit_cb, &ec)) != BT_OK)
			goto out;
		e.flags = BTSTORE_FEEDENT_TREE_;
		e.payload_hash = a->ph[i];
		e.head_len = end;
		e.count = (uint8_t)ec.count;
		e.hashes = ec.hashes;
		e.payload = a->items[i].data;
		e.len = a->items[i].len;
	}
	if ((rc = btcore_merkle_root(m, &root)) != BT_OK ||
	    (rc = btcore_log_head_sign(&r.head, a->signer, end, &root))
	    != BT_OK)
		goto out;
	e.flags |= BTSTORE_FEEDENT_HEAD_;
	e.root = root;
	e.sig = r.head.sig;
	r.held = end;
	if ((rc = ent_store(w, feed, end - 1, &e)) != BT_OK ||
	    (rc = feed_store(w, &r)) != BT_OK ||
	    (rc = emit_feed(w, feed)) != BT_OK)
		goto out;
	/* if this write does not commit, the stored head will not match */
	ce->length = end;
	ce->root = root;
	ce->valid = 1;
out:
	return rc;
}

int
btstore_feed_append_batch(struct btstore *st,
    const struct btcore_signer *signer,
    const struct btstore_feed_payload *items, size_t n, uint64_t *first)
{
	struct append_arg a;
	struct bt_id one, *ph = NULL;
	size_t i;
	int rc;

	if (st == NULL || signer == NULL || signer->sign == NULL ||
	    items == NULL || n == 0)
		return BT_EINVAL;
	if (n > BTSTORE_FEED_BATCH_MAX)
		return BT_ERANGE;
	if (n == 1)
		ph = &one;
	else if ((ph = malloc(n * sizeof(*ph))) == NULL)
		return BT_ENOMEM;
	for (i = 0; i < n; i++) {
		if (items[i].data == NULL && items[i].len != 0) {
			rc = BT_EINVAL;
			goto out;
		}
		if (items[i].len > BTSTORE_FEED_PAYLOAD_MAX) {
			rc = BT_ERANGE;
			goto out;
		}
		if ((rc = btcore_id_hash(&ph[i], items[i].len ? items[i].data :
		    "", items[i].len)) != BT_OK)
			goto out;
	}
	a.signer = signer;
	a.items = items;
	a.ph = ph;
	a.n = n;
	a.first = 0;
	rc = btstore_write_(st, append_fn, &a);
	if (rc == BT_OK && first != NULL)
		*first = a.first;
out:
	if (ph != &one)
		free(ph);
	return rc;
}

int
btstore_feed_append(struct btstore *st, const struct btcore_signer *signer,
    const void *data, size_t len, uint64_t *index)
{
	struct btstore_feed_payload p;

	p.data = data;
	p.len = len;
	return btstore_feed_append_batch(st, signer, &p, 1, index);
}

/* ---- reading heads and entries -------------------------------------------- */

static int
checked_head(struct btstore *st, const struct bt_pubkey *feed,
    uint64_t length, int newest, struct bt_log_head *head)
{
	struct btstore_feedrec_ r;
	MDB_txn *txn;
	int rc;

	if (head != NULL)
		memset(head, 0, sizeof(*head));
	if (st == NULL || feed == NULL || head == NULL)
		return BT_EINVAL;
	if ((rc = btstore_rtxn_begin_(st, &txn)) != BT_OK)
		return rc;
	if ((rc = feed_load(st, txn, feed, &r)) != BT_OK)
		goto out;
	if (newest)
		*head = r.head;
	else if ((rc = head_load(st, txn, &r, length, head)) != BT_OK)
		goto out;
	rc = btcore_log_head_verify(head);
	if (rc == BT_EVERIFY) {
		btstore_log_(st, BTSTORE_LOG_ERROR,
		    "stored feed head fails its signature");
		rc = BT_ECORRUPT;
	}
out:
	btstore_rtxn_end_(st, txn);
	if (rc != BT_OK)
		memset(head, 0, sizeof(*head));
	return rc;
}

int
btstore_feed_head(struct btstore *st, const struct bt_pubkey *feed,
    struct bt_log_head *head)
{
	return checked_head(st, feed, 0, 1, head);
}

int
btstore_feed_head_at(struct btstore *st, const struct bt_pubkey *feed,
    uint64_t length, struct bt_log_head *head)
{
	return checked_head(st, feed, length, 0, head);
}

static int
entry_read(struct btstore *st, MDB_txn *txn, const struct bt_pubkey *feed,
    uint64_t index, uint64_t at_length, struct bt_log_entry *entry,
    struct btstore_feedent_ *e)
{
	struct btstore_feedrec_ r;
	struct bt_log_head head;
	struct sub_ctx sc;
	struct bt_id leaf, h;
	uint64_t hl;
	int rc, need;

	if ((rc = feed_load(st, txn, feed, &r)) != BT_OK)
		return rc;
	if (r.flags & BTSTORE_FEED_OWNED_) {
		hl = at_length != 0 ? at_length : r.head.length;
		if (index >= hl || hl > r.head.length)
			return BT_ENOTFOUND;
		if ((rc = own_ent_load(st, txn, feed, index, e)) != BT_OK ||
		    (rc = head_load(st, txn, &r, hl, &head)) != BT_OK)
			return rc;
		sc.st = st;
		sc.txn = txn;
		sc.feed = feed;
		/* (entry is cleared first: the head must not live in it) */
		rc = btcore_log_entry_make(entry, &head, index,
		    &e->payload_hash, subtree_cb, &sc);
		if (rc != BT_OK)
			return rc;
	} else {
		if ((rc = ent_load(st, txn, feed, index, e)) != BT_OK)
			return rc;
		if (e->flags != 0)
			return BT_ECORRUPT;
		hl = e->head_len;
		if (at_length != 0 && at_length != hl)
			return BT_ENOTFOUND;
		need = btcore_merkle_inclusion_len(index, hl);
		if (need < 0 || (unsigned)need != e->count)
			return BT_ECORRUPT;
		rc = head_load(st, txn, &r, hl, &entry->head);
		if (rc == BT_ENOTFOUND)
			return BT_ECORRUPT;
		if (rc != BT_OK)
			return rc;
		entry->index = index;
		entry->payload_hash = e->payload_hash;
		entry->proof.kind = BTCORE_MERKLE_INCLUSION;
		entry->proof.count = e->count;
		entry->proof.first = index;
		entry->proof.size = hl;
		if (e->count > 0)
			memcpy(entry->proof.hash, e->hashes,
			    32 * (size_t)e->count);
	}
	/* what is served must prove itself against the head's root */
	if ((rc = btcore_log_leaf_hash(&leaf, &e->payload_hash)) != BT_OK)
		return rc;
	rc = btcore_merkle_inclusion_verify(&entry->proof, &leaf,
	    &entry->head.root);
	if (rc == BT_EVERIFY)
		rc = BT_ECORRUPT;
	if (rc != BT_OK)
		return rc;
	if ((rc = btcore_id_hash(&h, e->len ? (const void *)e->payload : "",
	    e->len)) != BT_OK)
		return rc;
	if (memcmp(h.b, e->payload_hash.b, BT_ID_LEN) != 0)
		return BT_ECORRUPT;
	return BT_OK;
}

int
btstore_feed_entry_get(struct btstore *st, const struct bt_pubkey *feed,
    uint64_t index, uint64_t at_length, struct bt_log_entry *entry,
    void *buf, size_t cap, size_t *len)
{
	struct btstore_feedent_ e;
	MDB_txn *txn;
	int rc;

	if (entry != NULL)
		memset(entry, 0, sizeof(*entry));
	if (len != NULL)
		*len = 0;
	if (st == NULL || feed == NULL || entry == NULL || len == NULL ||
	    (buf == NULL && cap != 0))
		return BT_EINVAL;
	if ((rc = btstore_rtxn_begin_(st, &txn)) != BT_OK)
		return rc;
	rc = entry_read(st, txn, feed, index, at_length, entry, &e);
	if (rc == BT_OK) {
		*len = e.len;
		if (e.len > cap)
			rc = BT_ERANGE;
		else if (e.len > 0)
			memcpy(buf, e.payload, e.len);
	} else {
		if (rc == BT_ECORRUPT)
			btstore_log_(st, BTSTORE_LOG_ERROR,
			    "feed entry %llu is damaged",
			    (unsigned long long)index);
		memset(entry, 0, sizeof(*entry));
	}
	btstore_rtxn_end_(st, txn);
	return rc;
}

int
btstore_feed_consistency(struct btstore *st, const struct bt_pubkey *feed,
    uint64_t first, uint64_t size, struct bt_merkle_proof *proof)
{
	struct btstore_feedrec_ r;
	struct sub_ctx sc;
	MDB_txn *txn;
	int rc;

	if (proof != NULL)
		memset(proof, 0, sizeof(*proof));
	if (st == NULL || feed == NULL || proof == NULL || first > size)
		return BT_EINVAL;
	if ((rc = btstore_rtxn_begin_(st, &txn)) != BT_OK)
		return rc;
	if ((rc = feed_load(st, txn, feed, &r)) != BT_OK)
		goto out;
	if (!(r.flags & BTSTORE_FEED_OWNED_)) {
		rc = BT_EUNSUPPORTED;
		goto out;
	}
	if (size > r.head.length) {
		rc = BT_ENOTFOUND;
		goto out;
	}
	sc.st = st;
	sc.txn = txn;
	sc.feed = feed;
	rc = btcore_merkle_consistency_prove(proof, first, size, subtree_cb,
	    &sc);
out:
	btstore_rtxn_end_(st, txn);
	if (rc != BT_OK)
		memset(proof, 0, sizeof(*proof));
	return rc;
}

/* ---- taking in heads and entries ------------------------------------------ */

/* Store evidence of a fork (keeping the first for a length), mark the
 * feed and announce it. */
static int
fork_record(struct btstore_w_ *w, struct btstore_feedrec_ *r,
    const struct bt_log_fork *fork)
{
	uint8_t kb[KLEN_IDX], buf[BTCORE_LOG_FORK_ENC_LEN];
	int rc;

	idx_key(kb, &r->head.feed, fork->a.length);
	if ((rc = btcore_log_fork_encode(fork, buf)) != BT_OK)
		return rc;
	rc = put_raw(w, BTSTORE_DB_FEEDFORK_, kb, sizeof(kb), buf, sizeof(buf),
	    MDB_NOOVERWRITE);
	if (rc != BT_OK && rc != BT_EEXIST)
		return rc;
	btstore_log_(w->st, BTSTORE_LOG_ERROR, "feed fork at length %llu",
	    (unsigned long long)fork->a.length);
	r->flags |= BTSTORE_FEED_FORKED_;
	if ((rc = feed_store(w, r)) != BT_OK)
		return rc;
	return emit_feed(w, &r->head.feed);
}

/*
 * Relate head @p h to the heads held for the feed of @p r, inside a
 * write.  On BT_OK, *forked says a fork was recorded, and *newer that
 * @p h became the newest head (r updated, not yet stored).  BT_ESTALE:
 * shorter, not held, no proof; BT_EINVAL: longer, no proof.
 */
static int
relate(struct btstore_w_ *w, struct btstore_feedrec_ *r,
    const struct bt_log_head *h, const struct bt_merkle_proof *proof,
    int *forked, int *newer)
{
	struct bt_log_head held;
	struct bt_log_fork fork;
	int rc;

	*forked = 0;
	*newer = 0;
	rc = head_load(w->st, w->txn, r, h->length, &held);
	if (rc == BT_OK) {
		if (heads_equal(&held, h))
			return BT_OK;	/* verified when it was stored */
		rc = btcore_log_fork_check(&held, h, &fork);
		if (rc == BT_ECONFLICT) {
			*forked = 1;
			return fork_record(w, r, &fork);
		}
		return rc;	/* BT_OK: same root, another signature */
	}
	if (rc != BT_ENOTFOUND)
		return rc;
	/* (the newest head is always held: h is longer or shorter) */
	if (h->length > r->head.length) {
		if (r->flags & BTSTORE_FEED_OWNED_)
			return BT_EPERM;
		if (proof == NULL)
			return BT_EINVAL;
		if ((rc = btcore_log_head_extends(&r->head, h, proof, NULL))
		    != BT_OK)
			return rc;
		r->head = *h;
		*newer = 1;
		return head_store(w, h);
	}
	if (proof == NULL)
		return BT_ESTALE;
	if ((rc = btcore_log_head_extends(h, &r->head, proof, NULL)) != BT_OK)
		return rc;
	return head_store(w, h);
}

struct headput_arg {
	const struct bt_log_head *head;
	const struct bt_merkle_proof *proof;
	int forked;	/* out */
};

static int
headput_fn(struct btstore_w_ *w, void *arg)
{
	struct headput_arg *a = arg;
	struct btstore_feedrec_ r;
	int rc, newer;

	a->forked = 0;
	rc = feed_load(w->st, w->txn, &a->head->feed, &r);
	if (rc == BT_ENOTFOUND) {
		/* follow a new feed from this head */
		if ((rc = btcore_log_head_verify(a->head)) != BT_OK)
			return rc;
		memset(&r, 0, sizeof(r));
		r.head = *a->head;
		if ((rc = head_store(w, &r.head)) != BT_OK ||
		    (rc = feed_store(w, &r)) != BT_OK)
			return rc;
		return emit_feed(w, &r.head.feed);
	}
	if (rc != BT_OK)
		return rc;
	if ((rc = relate(w, &r, a->head, a->proof, &a->forked, &newer))
	    != BT_OK || a->forked || !newer)
		return rc;
	if ((rc = feed_store(w, &r)) != BT_OK)
		return rc;
	return emit_feed(w, &r.head.feed);
}

int
btstore_feed_head_put(struct btstore *st, const struct bt_log_head *head,
    const struct bt_merkle_proof *proof)
{
	struct headput_arg a;
	int rc;

	if (st == NULL || head == NULL)
		return BT_EINVAL;
	a.head = head;
	a.proof = proof;
	a.forked = 0;
	rc = btstore_write_(st, headput_fn, &a);
	if (rc == BT_OK && a.forked)
		rc = BT_ECONFLICT;
	return rc;
}

struct entput_arg {
	const struct bt_log_entry *entry;
	const struct bt_merkle_proof *proof;
	const void *payload;
	size_t len;
	int forked;	/* out */
};

static int
entput_fn(struct btstore_w_ *w, void *arg)
{
	struct entput_arg *a = arg;
	const struct bt_log_entry *en = a->entry;
	const struct bt_pubkey *feed = &en->head.feed;
	struct btstore_feedrec_ r;
	struct btstore_feedent_ e;
	int rc, newer, changed;

	a->forked = 0;
	if ((rc = feed_load(w->st, w->txn, feed, &r)) != BT_OK)
		return rc;
	rc = relate(w, &r, &en->head, a->proof, &a->forked, &newer);
	if (rc == BT_ESTALE || rc == BT_EINVAL)
		return BT_EVERIFY;	/* no held head vouches for it */
	if (rc != BT_OK || a->forked)
		return rc;
	changed = newer;
	rc = ent_load(w->st, w->txn, feed, en->index, &e);
	if (rc == BT_OK) {
		/* consistent heads agree on every leaf */
		if (memcmp(e.payload_hash.b, en->payload_hash.b, BT_ID_LEN))
			return BT_ECORRUPT;
	} else if (rc == BT_ENOTFOUND) {
		if (r.flags & BTSTORE_FEED_OWNED_)
			return BT_ECORRUPT;	/* holds all it signed */
		memset(&e, 0, sizeof(e));
		e.payload_hash = en->payload_hash;
		e.head_len = en->head.length;
		e.count = en->proof.count;
		e.hashes = (const uint8_t *)en->proof.hash;
		e.payload = a->payload;
		e.len = a->len;
		if ((rc = ent_store(w, feed, en->index, &e)) != BT_OK)
			return rc;
		r.held++;
		changed = 1;
	} else {
		return rc;
	}
	if (!changed)
		return BT_OK;
	if ((rc = feed_store(w, &r)) != BT_OK)
		return rc;
	return emit_feed(w, feed);
}

int
btstore_feed_entry_put(struct btstore *st, const struct bt_log_entry *entry,
    const struct bt_merkle_proof *proof, const void *payload, size_t len)
{
	struct entput_arg a;
	struct bt_id leaf;
	int rc;

	if (st == NULL || entry == NULL || (payload == NULL && len != 0))
		return BT_EINVAL;
	if (len > BTSTORE_FEED_PAYLOAD_MAX)
		return BT_ERANGE;
	/* the payload and the inclusion proof need no stored state */
	if ((rc = btcore_log_entry_check_payload(entry, len ? payload : "",
	    len)) != BT_OK)
		return rc;
	if (entry->proof.count > BTSTORE_FEEDENT_COUNT_MAX_ ||
	    entry->index >= entry->head.length)
		return BT_EVERIFY;
	if ((rc = btcore_log_leaf_hash(&leaf, &entry->payload_hash)) != BT_OK)
		return rc;
	if ((rc = btcore_merkle_inclusion_verify(&entry->proof, &leaf,
	    &entry->head.root)) != BT_OK)
		return rc;
	if (entry->proof.first != entry->index ||
	    entry->proof.size != entry->head.length)
		return BT_EVERIFY;
	a.entry = entry;
	a.proof = proof;
	a.payload = payload;
	a.len = len;
	a.forked = 0;
	rc = btstore_write_(st, entput_fn, &a);
	if (rc == BT_OK && a.forked)
		rc = BT_ECONFLICT;
	return rc;
}

/* ---- what is held ----------------------------------------------------------- */

int
btstore_feed_have(struct btstore *st, const struct bt_pubkey *feed,
    uint64_t from, btstore_feed_range_fn fn, void *arg)
{
	struct btstore_feedrec_ r;
	uint8_t kb[KLEN_IDX];
	MDB_cursor *cur = NULL;
	MDB_txn *txn;
	MDB_val k, v;
	uint64_t start = 0, count = 0, i;
	int rc, mrc, stop = 0;

	if (st == NULL || feed == NULL || fn == NULL)
		return BT_EINVAL;
	if ((rc = btstore_rtxn_begin_(st, &txn)) != BT_OK)
		return rc;
	if ((rc = feed_load(st, txn, feed, &r)) != BT_OK)
		goto out;
	mrc = mdb_cursor_open(txn, st->dbi[BTSTORE_DB_FEEDENT_], &cur);
	if (mrc != MDB_SUCCESS) {
		cur = NULL;
		rc = btstore_err_(st, mrc, "feed have");
		goto out;
	}
	idx_key(kb, feed, from);
	k.mv_size = sizeof(kb);
	k.mv_data = kb;
	for (mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	    mrc == MDB_SUCCESS && !stop;
	    mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size != KLEN_IDX ||
		    memcmp(k.mv_data, feed->b, BT_ID_LEN) != 0)
			break;
		i = btstore_get_be64_((const uint8_t *)k.mv_data + BT_ID_LEN);
		if (count > 0 && i == start + count) {
			count++;
			continue;
		}
		if (count > 0)
			stop = fn(arg, start, count);
		start = i;
		count = 1;
	}
	if (mrc != MDB_SUCCESS && mrc != MDB_NOTFOUND) {
		rc = btstore_err_(st, mrc, "feed have");
		goto out;
	}
	if (count > 0 && !stop)
		(void)fn(arg, start, count);
out:
	if (cur != NULL)
		mdb_cursor_close(cur);
	btstore_rtxn_end_(st, txn);
	return rc;
}

int
btstore_feed_info(struct btstore *st, const struct bt_pubkey *feed,
    struct btstore_feed_info *info)
{
	struct btstore_feedrec_ r;
	MDB_txn *txn;
	int rc;

	if (info != NULL)
		memset(info, 0, sizeof(*info));
	if (st == NULL || feed == NULL || info == NULL)
		return BT_EINVAL;
	if ((rc = btstore_rtxn_begin_(st, &txn)) != BT_OK)
		return rc;
	rc = feed_load(st, txn, feed, &r);
	btstore_rtxn_end_(st, txn);
	if (rc != BT_OK)
		return rc;
	info->length = r.head.length;
	info->held = r.held;
	info->owned = (r.flags & BTSTORE_FEED_OWNED_) != 0;
	info->forked = (r.flags & BTSTORE_FEED_FORKED_) != 0;
	return BT_OK;
}

int
btstore_feed_fork(struct btstore *st, const struct bt_pubkey *feed,
    struct bt_log_fork *fork)
{
	uint8_t kb[KLEN_IDX];
	MDB_cursor *cur = NULL;
	MDB_txn *txn;
	MDB_val k, v;
	int rc, mrc;

	if (fork != NULL)
		memset(fork, 0, sizeof(*fork));
	if (st == NULL || feed == NULL || fork == NULL)
		return BT_EINVAL;
	if ((rc = btstore_rtxn_begin_(st, &txn)) != BT_OK)
		return rc;
	mrc = mdb_cursor_open(txn, st->dbi[BTSTORE_DB_FEEDFORK_], &cur);
	if (mrc != MDB_SUCCESS) {
		cur = NULL;
		rc = btstore_err_(st, mrc, "feed fork");
		goto out;
	}
	idx_key(kb, feed, 0);
	k.mv_size = sizeof(kb);
	k.mv_data = kb;
	mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	if (mrc == MDB_NOTFOUND || (mrc == MDB_SUCCESS &&
	    (k.mv_size != KLEN_IDX ||
	    memcmp(k.mv_data, feed->b, BT_ID_LEN) != 0))) {
		rc = BT_ENOTFOUND;
		goto out;
	}
	if (mrc != MDB_SUCCESS) {
		rc = btstore_err_(st, mrc, "feed fork");
		goto out;
	}
	rc = btcore_log_fork_decode(fork, v.mv_data, v.mv_size);
	if (rc == BT_OK && (memcmp(fork->a.feed.b, feed->b, BT_ID_LEN) != 0 ||
	    fork->a.length != btstore_get_be64_((const uint8_t *)k.mv_data +
	    BT_ID_LEN)))
		rc = BT_ECORRUPT;
	else if (rc == BT_EVERIFY || rc == BT_EFORMAT || rc == BT_ETRUNC)
		rc = BT_ECORRUPT;
out:
	if (cur != NULL)
		mdb_cursor_close(cur);
	btstore_rtxn_end_(st, txn);
	if (rc != BT_OK)
		memset(fork, 0, sizeof(*fork));
	return rc;
}
