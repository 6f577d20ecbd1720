/*
 * block.c - content-addressed blocks: put (verified), zero-copy and
 * copied reads (verified on every read), pins, references, quota and
 * garbage collection.
 *
 * Every read re-hashes the bytes and compares with the id, so a flipped
 * bit on disk is reported as BT_ECORRUPT and never returned; the id is
 * the checksum, so nothing beside the bytes is stored and a block of up
 * to 4080 bytes fills exactly one page.
 */
#include <bt/store.h>

#include <stdlib.h>

#include "btstore-internal.h"

#define COUNTS_BLOCKS	"blocks"
#define GC_NEXT		"gc.next"
#define GC_SCAN_MAX	100000

static int
verify_input(const struct btstore_block *b)
{
	struct bt_id h;
	int rc;

	if (b->data == NULL && b->len != 0)
		return BT_EINVAL;
	if (b->len > BTSTORE_BLOCK_MAX)
		return BT_ETOOBIG;
	if ((rc = btcore_id_hash(&h, b->data, b->len)) != BT_OK)
		return rc;
	return memcmp(h.b, b->id.b, BT_ID_LEN) == 0 ? BT_OK : BT_EVERIFY;
}

/* Add @p delta to a be32 counter keyed by @p id in @p db. */
static int
counter_add(struct btstore_w_ *w, int db, const struct bt_id *id, int delta)
{
	uint8_t buf[4];
	MDB_val k = { BT_ID_LEN, (void *)(uintptr_t)id->b }, v;
	uint32_t cur = 0;
	int rc, mrc;

	mrc = mdb_get(w->txn, w->st->dbi[db], &k, &v);
	if (mrc == MDB_SUCCESS) {
		if ((rc = btstore_u32_decode_(v.mv_data, v.mv_size, &cur))
		    != BT_OK)
			return rc;
	} else if (mrc != MDB_NOTFOUND) {
		return btstore_werr_(w, mrc, "read counter");
	}
	if (delta < 0 && cur < (uint32_t)-delta)
		return BT_ESTATE;
	if (delta > 0 && UINT32_MAX - cur < (uint32_t)delta)
		return BT_ERANGE;
	cur = (uint32_t)((int64_t)cur + delta);
	if (cur == 0)
		return btstore_werr_(w, mdb_del(w->txn, w->st->dbi[db], &k, NULL),
		    "delete counter");
	btstore_put_be32_(buf, cur);
	v.mv_size = sizeof(buf);
	v.mv_data = buf;
	return btstore_werr_(w, mdb_put(w->txn, w->st->dbi[db], &k, &v, 0),
	    "write counter");
}

int
btstore_block_refs_add_(struct btstore_w_ *w, const struct bt_id *id,
    int delta)
{
	return counter_add(w, BTSTORE_DB_REFS_, id, delta);
}

struct put_arg {
	const struct btstore_block *blocks;
	size_t n;
	unsigned flags;
	size_t added;
};

static int
put_fn(struct btstore_w_ *w, void *arg)
{
	struct put_arg *a = arg;
	MDB_dbi dbi = w->st->dbi[BTSTORE_DB_BLOCKS_];
	MDB_val k, v;
	uint64_t add = 0;
	size_t i;
	int rc, mrc;

	a->added = 0;
	for (i = 0; i < a->n; i++) {
		k.mv_size = BT_ID_LEN;
		k.mv_data = (void *)(uintptr_t)a->blocks[i].id.b;
		v.mv_size = a->blocks[i].len;
		v.mv_data = a->blocks[i].len ?
		    (void *)(uintptr_t)a->blocks[i].data : (void *)"";
		mrc = mdb_put(w->txn, dbi, &k, &v, MDB_NOOVERWRITE);
		if (mrc == MDB_SUCCESS) {
			a->added++;
			add += a->blocks[i].len;
			rc = btstore_emit_(w, BTSTORE_TOPIC_BLOCK,
			    BTSTORE_EV_PUT, a->blocks[i].id.b, BT_ID_LEN);
			if (rc != BT_OK)
				return rc;
		} else if (mrc != MDB_KEYEXIST) {
			return btstore_werr_(w, mrc, "put block");
		}
		if ((a->flags & BTSTORE_PUT_PIN) != 0 &&
		    (rc = counter_add(w, BTSTORE_DB_PINS_, &a->blocks[i].id,
		    1)) != BT_OK)
			return rc;
	}
	return btstore_block_account_(w, a->added, add);
}

/*
 * Count @p count new blocks of @p bytes in the store's totals, refusing
 * with BT_ENOSPC when the block quota would be exceeded.  Every path that
 * adds blocks (put, put_many, file writes) goes through here.
 */
int
btstore_block_account_(struct btstore_w_ *w, uint64_t count, uint64_t bytes)
{
	uint64_t c, b;
	int rc;

	if (count == 0)
		return BT_OK;
	if (w->st->block_quota != 0) {
		rc = btstore_counts_get_(w->txn, w->st, COUNTS_BLOCKS, &c, &b);
		if (rc != BT_OK)
			return rc;
		if (b + bytes > w->st->block_quota || b + bytes < b)
			return BT_ENOSPC;
	}
	if (count > INT64_MAX || bytes > INT64_MAX)
		return BT_ERANGE;
	return btstore_counts_add_(w, COUNTS_BLOCKS, (int64_t)count,
	    (int64_t)bytes);
}

int
btstore_block_put_many(struct btstore *st, const struct btstore_block *blocks,
    size_t n, unsigned flags, size_t *added)
{
	struct put_arg a;
	size_t i;
	int rc;

	if (added != NULL)
		*added = 0;
	if (st == NULL || (blocks == NULL && n != 0) ||
	    (flags & ~BTSTORE_PUT_PIN) != 0)
		return BT_EINVAL;
	/* hash outside the write lock: writers wait only for the I/O */
	for (i = 0; i < n; i++)
		if ((rc = verify_input(&blocks[i])) != BT_OK)
			return rc;
	if (n == 0)
		return BT_OK;
	a.blocks = blocks;
	a.n = n;
	a.flags = flags;
	a.added = 0;
	rc = btstore_write_(st, put_fn, &a);
	if (rc == BT_OK && added != NULL)
		*added = a.added;
	return rc;
}

int
btstore_block_put(struct btstore *st, const struct bt_id *id, const void *data,
    size_t len, unsigned flags)
{
	struct btstore_block b;

	if (id == NULL)
		return BT_EINVAL;
	b.id = *id;
	b.data = data;
	b.len = len;
	return btstore_block_put_many(st, &b, 1, flags, NULL);
}

/* Look a block up and verify it; the pointer lives as long as @p txn. */
static int
lookup(struct btstore *st, MDB_txn *txn, const struct bt_id *id,
    const void **data, size_t *len)
{
	MDB_val k = { BT_ID_LEN, (void *)(uintptr_t)id->b }, v;
	struct bt_id h;
	int rc, mrc;

	*data = NULL;
	*len = 0;
	mrc = mdb_get(txn, st->dbi[BTSTORE_DB_BLOCKS_], &k, &v);
	if (mrc != MDB_SUCCESS)
		return btstore_err_(st, mrc, "get block");
	if (v.mv_size > BTSTORE_BLOCK_MAX)
		return BT_ECORRUPT;
	if ((rc = btcore_id_hash(&h, v.mv_data, v.mv_size)) != BT_OK)
		return rc;
	if (memcmp(h.b, id->b, BT_ID_LEN) != 0) {
		btstore_log_(st, BTSTORE_LOG_ERROR,
		    "block bytes do not match their id");
		return BT_ECORRUPT;
	}
	*data = v.mv_data;
	*len = v.mv_size;
	return BT_OK;
}

int
btstore_view_block_get(struct btstore_view *vw, const struct bt_id *id,
    const void **data, size_t *len)
{
	if (data != NULL)
		*data = NULL;
	if (len != NULL)
		*len = 0;
	if (vw == NULL || id == NULL || data == NULL || len == NULL)
		return BT_EINVAL;
	return lookup(vw->st, vw->txn, id, data, len);
}

int
btstore_block_get(struct btstore *st, const struct bt_id *id, void *buf,
    size_t cap, size_t *len)
{
	MDB_txn *txn;
	const void *p;
	size_t n;
	int rc;

	if (len != NULL)
		*len = 0;
	if (st == NULL || id == NULL || len == NULL ||
	    (buf == NULL && cap != 0))
		return BT_EINVAL;
	if ((rc = btstore_rtxn_begin_(st, &txn)) != BT_OK)
		return rc;
	rc = lookup(st, txn, id, &p, &n);
	if (rc == BT_OK) {
		*len = n;
		if (n > cap)
			rc = BT_ERANGE;
		else if (n > 0)
			memcpy(buf, p, n);
	}
	btstore_rtxn_end_(st, txn);
	return rc;
}

int
btstore_block_has(struct btstore *st, const struct bt_id *id)
{
	MDB_txn *txn;
	MDB_val k, v;
	int rc;

	if (st == NULL || id == NULL)
		return BT_EINVAL;
	if ((rc = btstore_rtxn_begin_(st, &txn)) != BT_OK)
		return rc;
	k.mv_size = BT_ID_LEN;
	k.mv_data = (void *)(uintptr_t)id->b;
	rc = btstore_err_(st, mdb_get(txn, st->dbi[BTSTORE_DB_BLOCKS_], &k, &v),
	    "has block");
	btstore_rtxn_end_(st, txn);
	return rc;
}

struct count_arg {
	const struct bt_id *id;
	int db;
	int delta;
	int need_block;
};

static int
count_fn(struct btstore_w_ *w, void *arg)
{
	struct count_arg *a = arg;
	MDB_val k = { BT_ID_LEN, (void *)(uintptr_t)a->id->b }, v;
	int mrc;

	if (a->need_block) {
		mrc = mdb_get(w->txn, w->st->dbi[BTSTORE_DB_BLOCKS_], &k, &v);
		if (mrc != MDB_SUCCESS)
			return btstore_werr_(w, mrc, "pin block");
	}
	return counter_add(w, a->db, a->id, a->delta);
}

static int
count_change(struct btstore *st, const struct bt_id *id, int db, int delta,
    int need_block)
{
	struct count_arg a;

	if (st == NULL || id == NULL)
		return BT_EINVAL;
	a.id = id;
	a.db = db;
	a.delta = delta;
	a.need_block = need_block;
	return btstore_write_(st, count_fn, &a);
}

int
btstore_block_pin(struct btstore *st, const struct bt_id *id)
{
	return count_change(st, id, BTSTORE_DB_PINS_, 1, 1);
}

int
btstore_block_unpin(struct btstore *st, const struct bt_id *id)
{
	return count_change(st, id, BTSTORE_DB_PINS_, -1, 0);
}

int
btstore_block_ref(struct btstore *st, const struct bt_id *id)
{
	return count_change(st, id, BTSTORE_DB_REFS_, 1, 0);
}

int
btstore_block_unref(struct btstore *st, const struct bt_id *id)
{
	return count_change(st, id, BTSTORE_DB_REFS_, -1, 0);
}

static int
read_counter(struct btstore *st, MDB_txn *txn, int db, const struct bt_id *id,
    uint32_t *out)
{
	MDB_val k = { BT_ID_LEN, (void *)(uintptr_t)id->b }, v;
	int mrc;

	*out = 0;
	mrc = mdb_get(txn, st->dbi[db], &k, &v);
	if (mrc == MDB_NOTFOUND)
		return BT_OK;
	if (mrc != MDB_SUCCESS)
		return btstore_err_(st, mrc, "read counter");
	return btstore_u32_decode_(v.mv_data, v.mv_size, out);
}

int
btstore_block_counts(struct btstore *st, const struct bt_id *id,
    uint32_t *pins, uint32_t *refs)
{
	MDB_txn *txn;
	uint32_t p = 0, r = 0;
	int rc;

	if (pins != NULL)
		*pins = 0;
	if (refs != NULL)
		*refs = 0;
	if (st == NULL || id == NULL)
		return BT_EINVAL;
	if ((rc = btstore_rtxn_begin_(st, &txn)) != BT_OK)
		return rc;
	rc = read_counter(st, txn, BTSTORE_DB_PINS_, id, &p);
	if (rc == BT_OK)
		rc = read_counter(st, txn, BTSTORE_DB_REFS_, id, &r);
	btstore_rtxn_end_(st, txn);
	if (rc == BT_OK) {
		if (pins != NULL)
			*pins = p;
		if (refs != NULL)
			*refs = r;
	}
	return rc;
}

int
btstore_block_usage(struct btstore *st, uint64_t *count, uint64_t *bytes)
{
	MDB_txn *txn;
	uint64_t c = 0, b = 0;
	int rc;

	if (count != NULL)
		*count = 0;
	if (bytes != NULL)
		*bytes = 0;
	if (st == NULL)
		return BT_EINVAL;
	if ((rc = btstore_rtxn_begin_(st, &txn)) != BT_OK)
		return rc;
	rc = btstore_counts_get_(txn, st, COUNTS_BLOCKS, &c, &b);
	btstore_rtxn_end_(st, txn);
	if (rc == BT_OK) {
		if (count != NULL)
			*count = c;
		if (bytes != NULL)
			*bytes = b;
	}
	return rc;
}

/* ---- garbage collection -------------------------------------------------- */

struct gc_arg {
	size_t max_scan;
	size_t removed;
	int finished;
};

static int
gc_fn(struct btstore_w_ *w, void *arg)
{
	struct gc_arg *a = arg;
	struct btstore *st = w->st;
	MDB_val gk = { sizeof(GC_NEXT) - 1, (void *)(uintptr_t)GC_NEXT };
	MDB_val k, v, pv;
	MDB_cursor *cur = NULL;
	MDB_cursor_op op;
	uint8_t idb[BT_ID_LEN];
	uint64_t bytes = 0;
	size_t scanned = 0;
	int rc = BT_OK, mrc;

	a->removed = 0;
	a->finished = 0;
	mrc = mdb_cursor_open(w->txn, st->dbi[BTSTORE_DB_BLOCKS_], &cur);
	if (mrc != MDB_SUCCESS) {
		cur = NULL;
		rc = btstore_werr_(w, mrc, "gc cursor");
		goto out;
	}
	/* resume where the previous step stopped */
	mrc = mdb_get(w->txn, st->dbi[BTSTORE_DB_META_], &gk, &v);
	if (mrc == MDB_SUCCESS) {
		if (v.mv_size != BT_ID_LEN) {
			rc = BT_ECORRUPT;
			goto out;
		}
		memcpy(idb, v.mv_data, BT_ID_LEN);
		k.mv_size = BT_ID_LEN;
		k.mv_data = idb;
		op = MDB_SET_RANGE;
	} else if (mrc == MDB_NOTFOUND) {
		op = MDB_FIRST;
	} else {
		rc = btstore_werr_(w, mrc, "gc position");
		goto out;
	}
	for (;; op = MDB_NEXT) {
		mrc = mdb_cursor_get(cur, &k, &v, op);
		if (mrc == MDB_NOTFOUND) {
			a->finished = 1;
			break;
		}
		if (mrc != MDB_SUCCESS) {
			rc = btstore_werr_(w, mrc, "gc scan");
			goto out;
		}
		if (k.mv_size != BT_ID_LEN) {
			rc = BT_ECORRUPT;
			goto out;
		}
		if (scanned == a->max_scan)
			break;
		scanned++;
		mrc = mdb_get(w->txn, st->dbi[BTSTORE_DB_PINS_], &k, &pv);
		if (mrc == MDB_NOTFOUND)
			mrc = mdb_get(w->txn, st->dbi[BTSTORE_DB_REFS_], &k,
			    &pv);
		if (mrc == MDB_SUCCESS)
			continue;
		if (mrc != MDB_NOTFOUND) {
			rc = btstore_werr_(w, mrc, "gc counters");
			goto out;
		}
		memcpy(idb, k.mv_data, BT_ID_LEN);
		bytes += v.mv_size;
		if ((mrc = mdb_cursor_del(cur, 0)) != MDB_SUCCESS) {
			rc = btstore_werr_(w, mrc, "gc delete");
			goto out;
		}
		a->removed++;
		rc = btstore_emit_(w, BTSTORE_TOPIC_BLOCK, BTSTORE_EV_DEL, idb,
		    BT_ID_LEN);
		if (rc != BT_OK)
			goto out;
	}
	if (a->finished) {
		mrc = mdb_del(w->txn, st->dbi[BTSTORE_DB_META_], &gk, NULL);
		if (mrc != MDB_SUCCESS && mrc != MDB_NOTFOUND) {
			rc = btstore_werr_(w, mrc, "gc position");
			goto out;
		}
	} else {
		memcpy(idb, k.mv_data, BT_ID_LEN);
		v.mv_size = BT_ID_LEN;
		v.mv_data = idb;
		mrc = mdb_put(w->txn, st->dbi[BTSTORE_DB_META_], &gk, &v, 0);
		if (mrc != MDB_SUCCESS) {
			rc = btstore_werr_(w, mrc, "gc position");
			goto out;
		}
	}
	rc = btstore_counts_add_(w, COUNTS_BLOCKS, -(int64_t)a->removed,
	    -(int64_t)bytes);
out:
	if (cur != NULL)
		mdb_cursor_close(cur);
	return rc;
}

int
btstore_gc(struct btstore *st, size_t max_scan, size_t *removed,
    int *finished)
{
	struct gc_arg a;
	int rc;

	if (removed != NULL)
		*removed = 0;
	if (finished != NULL)
		*finished = 0;
	if (st == NULL)
		return BT_EINVAL;
	if (max_scan == 0 || max_scan > GC_SCAN_MAX)
		return BT_ERANGE;
	a.max_scan = max_scan;
	rc = btstore_write_(st, gc_fn, &a);
	if (rc == BT_OK) {
		if (removed != NULL)
			*removed = a.removed;
		if (finished != NULL)
			*finished = a.finished;
	}
	return rc;
}
