/*
 * bag.c - bags of values counted by distinct adders.
 *
 * A value is known by the SHA-256 of its bytes (H), which also serves as
 * its at-rest checksum: every value read is re-hashed against the H in
 * its key.  Two indexes keep the orders the queries need:
 *   bag.time     bag || be64 last || H
 *   bag.popular  bag || be32 count || be64 last || H
 * so popular and recent are reverse cursor walks over one prefix.
 */
#include <bt/bag.h>
#include <bt/hash.h>

#include <stdlib.h>

#include "btstore-internal.h"

#define KLEN_ENTRY	(2 * BT_ID_LEN)
#define KLEN_ADDER	(3 * BT_ID_LEN)
#define KLEN_TIME	(2 * BT_ID_LEN + 8)
#define KLEN_POP	(2 * BT_ID_LEN + 12)

struct add_arg {
	const struct bt_id *key;
	struct bt_id vh;
	const void *value;
	size_t len;
	const struct bt_id *adder;
	uint64_t ts;
	uint32_t count;
};

static void
time_key(uint8_t out[KLEN_TIME], const struct bt_id *bag, uint64_t last,
    const uint8_t *vh)
{
	memcpy(out, bag->b, BT_ID_LEN);
	btstore_put_be64_(out + BT_ID_LEN, last);
	memcpy(out + BT_ID_LEN + 8, vh, BT_ID_LEN);
}

static void
pop_key(uint8_t out[KLEN_POP], const struct bt_id *bag, uint32_t count,
    uint64_t last, const uint8_t *vh)
{
	memcpy(out, bag->b, BT_ID_LEN);
	btstore_put_be32_(out + BT_ID_LEN, count);
	btstore_put_be64_(out + BT_ID_LEN + 4, last);
	memcpy(out + BT_ID_LEN + 12, vh, BT_ID_LEN);
}

static int
put_raw(struct btstore_w_ *w, int db, const void *k, size_t klen,
    const void *v, size_t vlen)
{
	MDB_val mk = { klen, (void *)(uintptr_t)k };
	MDB_val mv = { vlen, (void *)(uintptr_t)(vlen ? v : "") };

	return btstore_werr_(w, mdb_put(w->txn, w->st->dbi[db], &mk, &mv, 0),
	    "bag write");
}

static int
del_raw(struct btstore_w_ *w, int db, const void *k, size_t klen)
{
	MDB_val mk = { klen, (void *)(uintptr_t)k };
	int mrc;

	mrc = mdb_del(w->txn, w->st->dbi[db], &mk, NULL);
	/* a missing index entry means the store is damaged */
	if (mrc == MDB_NOTFOUND)
		return BT_ECORRUPT;
	return btstore_werr_(w, mrc, "bag delete");
}

/* Update both order indexes of one value from (c0, l0) to (c1, l1). */
static int
reindex(struct btstore_w_ *w, const struct bt_id *bag, const uint8_t *vh,
    uint32_t c0, uint64_t l0, uint32_t c1, uint64_t l1)
{
	uint8_t tk[KLEN_TIME], pk[KLEN_POP];
	int rc;

	if (l0 != l1) {
		time_key(tk, bag, l0, vh);
		if ((rc = del_raw(w, BTSTORE_DB_BAGTIME_, tk, sizeof(tk)))
		    != BT_OK)
			return rc;
		time_key(tk, bag, l1, vh);
		if ((rc = put_raw(w, BTSTORE_DB_BAGTIME_, tk, sizeof(tk), NULL,
		    0)) != BT_OK)
			return rc;
	}
	if (c0 != c1 || l0 != l1) {
		pop_key(pk, bag, c0, l0, vh);
		if ((rc = del_raw(w, BTSTORE_DB_BAGPOP_, pk, sizeof(pk)))
		    != BT_OK)
			return rc;
		pop_key(pk, bag, c1, l1, vh);
		if ((rc = put_raw(w, BTSTORE_DB_BAGPOP_, pk, sizeof(pk), NULL,
		    0)) != BT_OK)
			return rc;
	}
	return BT_OK;
}

/* Delete the value with the fewest adders (oldest among equals). */
static int
evict_one(struct btstore_w_ *w, const struct bt_id *bag)
{
	uint8_t start[BT_ID_LEN], vh[BT_ID_LEN], ek[KLEN_ENTRY];
	uint8_t tk[KLEN_TIME], ak[KLEN_ADDER];
	MDB_cursor *cur = NULL;
	MDB_val k, v;
	uint64_t last;
	int rc = BT_OK, mrc;

	memcpy(start, bag->b, BT_ID_LEN);
	mrc = mdb_cursor_open(w->txn, w->st->dbi[BTSTORE_DB_BAGPOP_], &cur);
	if (mrc != MDB_SUCCESS) {
		cur = NULL;
		rc = btstore_werr_(w, mrc, "bag evict");
		goto out;
	}
	k.mv_size = BT_ID_LEN;
	k.mv_data = start;
	mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	if (mrc == MDB_NOTFOUND || (mrc == MDB_SUCCESS &&
	    (k.mv_size != KLEN_POP || memcmp(k.mv_data, bag->b, BT_ID_LEN)))) {
		rc = BT_ECORRUPT;	/* a full bag must have an index */
		goto out;
	}
	if (mrc != MDB_SUCCESS) {
		rc = btstore_werr_(w, mrc, "bag evict");
		goto out;
	}
	last = btstore_get_be64_((const uint8_t *)k.mv_data + BT_ID_LEN + 4);
	memcpy(vh, (const uint8_t *)k.mv_data + BT_ID_LEN + 12, BT_ID_LEN);
	if ((mrc = mdb_cursor_del(cur, 0)) != MDB_SUCCESS) {
		rc = btstore_werr_(w, mrc, "bag evict");
		goto out;
	}
	time_key(tk, bag, last, vh);
	if ((rc = del_raw(w, BTSTORE_DB_BAGTIME_, tk, sizeof(tk))) != BT_OK)
		goto out;
	memcpy(ek, bag->b, BT_ID_LEN);
	memcpy(ek + BT_ID_LEN, vh, BT_ID_LEN);
	if ((rc = del_raw(w, BTSTORE_DB_BAG_, ek, sizeof(ek))) != BT_OK)
		goto out;
	/* its adders */
	mdb_cursor_close(cur);
	cur = NULL;
	mrc = mdb_cursor_open(w->txn, w->st->dbi[BTSTORE_DB_BAGADD_], &cur);
	if (mrc != MDB_SUCCESS) {
		cur = NULL;
		rc = btstore_werr_(w, mrc, "bag evict");
		goto out;
	}
	memset(ak, 0, sizeof(ak));
	memcpy(ak, ek, KLEN_ENTRY);
	k.mv_size = sizeof(ak);
	k.mv_data = ak;
	for (mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	    mrc == MDB_SUCCESS && k.mv_size == KLEN_ADDER &&
	    memcmp(k.mv_data, ek, KLEN_ENTRY) == 0;
	    mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if ((mrc = mdb_cursor_del(cur, 0)) != MDB_SUCCESS)
			break;
	}
	if (mrc != MDB_SUCCESS && mrc != MDB_NOTFOUND)
		rc = btstore_werr_(w, mrc, "bag evict");
out:
	if (cur != NULL)
		mdb_cursor_close(cur);
	return rc;
}

static int
add_fn(struct btstore_w_ *w, void *arg)
{
	struct add_arg *a = arg;
	struct btstore *st = w->st;
	struct btstore_bagrec_ r;
	uint8_t ek[KLEN_ENTRY], ak[KLEN_ADDER], tb[8], nb[4];
	uint8_t tk[KLEN_TIME], pk[KLEN_POP];
	uint8_t *rec = NULL;
	MDB_val k, v;
	uint64_t old_ts;
	uint32_t c0, nvalues = 0;
	uint64_t l0;
	int rc, mrc;

	memcpy(ek, a->key->b, BT_ID_LEN);
	memcpy(ek + BT_ID_LEN, a->vh.b, BT_ID_LEN);
	memcpy(ak, ek, KLEN_ENTRY);
	memcpy(ak + KLEN_ENTRY, a->adder->b, BT_ID_LEN);
	btstore_put_be64_(tb, a->ts);
	k.mv_size = sizeof(ek);
	k.mv_data = ek;
	mrc = mdb_get(w->txn, st->dbi[BTSTORE_DB_BAG_], &k, &v);
	if (mrc == MDB_SUCCESS) {
		if ((rc = btstore_bagrec_decode_(v.mv_data, v.mv_size, &r))
		    != BT_OK)
			goto out;
		c0 = r.count;
		l0 = r.last;
		k.mv_size = sizeof(ak);
		k.mv_data = ak;
		mrc = mdb_get(w->txn, st->dbi[BTSTORE_DB_BAGADD_], &k, &v);
		if (mrc == MDB_SUCCESS) {
			if ((rc = btstore_u64_decode_(v.mv_data, v.mv_size,
			    &old_ts)) != BT_OK)
				goto out;
			if (a->ts > old_ts && (rc = put_raw(w,
			    BTSTORE_DB_BAGADD_, ak, sizeof(ak), tb,
			    sizeof(tb))) != BT_OK)
				goto out;
		} else if (mrc == MDB_NOTFOUND) {
			if (r.count < BTSTORE_BAG_ADDERS_MAX) {
				r.count++;
				if ((rc = put_raw(w, BTSTORE_DB_BAGADD_, ak,
				    sizeof(ak), tb, sizeof(tb))) != BT_OK)
					goto out;
			}
		} else {
			rc = btstore_werr_(w, mrc, "bag adder");
			goto out;
		}
		if (a->ts > r.last)
			r.last = a->ts;
		if (a->ts < r.first)
			r.first = a->ts;
		if ((rc = reindex(w, a->key, a->vh.b, c0, l0, r.count, r.last))
		    != BT_OK)
			goto out;
	} else if (mrc == MDB_NOTFOUND) {
		k.mv_size = BT_ID_LEN;
		k.mv_data = (void *)(uintptr_t)a->key->b;
		mrc = mdb_get(w->txn, st->dbi[BTSTORE_DB_BAGMETA_], &k, &v);
		if (mrc == MDB_SUCCESS) {
			if ((rc = btstore_u32_decode_(v.mv_data, v.mv_size,
			    &nvalues)) != BT_OK)
				goto out;
		} else if (mrc != MDB_NOTFOUND) {
			rc = btstore_werr_(w, mrc, "bag size");
			goto out;
		}
		if (nvalues >= BTSTORE_BAG_VALUES_MAX) {
			if ((rc = evict_one(w, a->key)) != BT_OK)
				goto out;
			nvalues--;
		}
		nvalues++;
		btstore_put_be32_(nb, nvalues);
		if ((rc = put_raw(w, BTSTORE_DB_BAGMETA_, a->key->b, BT_ID_LEN,
		    nb, sizeof(nb))) != BT_OK)
			goto out;
		if ((rc = put_raw(w, BTSTORE_DB_BAGADD_, ak, sizeof(ak), tb,
		    sizeof(tb))) != BT_OK)
			goto out;
		time_key(tk, a->key, a->ts, a->vh.b);
		if ((rc = put_raw(w, BTSTORE_DB_BAGTIME_, tk, sizeof(tk), NULL,
		    0)) != BT_OK)
			goto out;
		pop_key(pk, a->key, 1, a->ts, a->vh.b);
		if ((rc = put_raw(w, BTSTORE_DB_BAGPOP_, pk, sizeof(pk), NULL,
		    0)) != BT_OK)
			goto out;
		r.count = 1;
		r.first = r.last = a->ts;
	} else {
		rc = btstore_werr_(w, mrc, "bag entry");
		goto out;
	}
	r.value = a->value;
	r.len = a->len;
	if ((rec = malloc(btstore_bagrec_size_(a->len))) == NULL) {
		rc = BT_ENOMEM;
		goto out;
	}
	btstore_bagrec_encode_(rec, &r);
	if ((rc = put_raw(w, BTSTORE_DB_BAG_, ek, sizeof(ek), rec,
	    btstore_bagrec_size_(a->len))) != BT_OK)
		goto out;
	a->count = r.count;
	rc = btstore_emit_(w, BTSTORE_TOPIC_BAG, BTSTORE_EV_PUT, a->key->b,
	    BT_ID_LEN);
out:
	free(rec);
	return rc;
}

int
btstore_bag_add(struct btstore *st, const struct bt_id *key, const void *value,
    size_t len, const struct bt_id *adder, uint64_t ts, uint32_t *count)
{
	struct add_arg a;
	int rc;

	if (count != NULL)
		*count = 0;
	if (st == NULL || key == NULL || value == NULL || adder == NULL)
		return BT_EINVAL;
	if (len == 0 || len > BTSTORE_BAG_VALUE_MAX)
		return BT_ERANGE;
	memset(&a, 0, sizeof(a));
	if ((rc = btcore_id_hash(&a.vh, value, len)) != BT_OK)
		return rc;
	a.key = key;
	a.value = value;
	a.len = len;
	a.adder = adder;
	a.ts = ts;
	rc = btstore_write_(st, add_fn, &a);
	if (rc == BT_OK && count != NULL)
		*count = a.count;
	return rc;
}

/* ---- queries ------------------------------------------------------------ */

/* Read, decode and verify the entry of value @p vh in @p bag. */
static int
entry_get(struct btstore *st, MDB_txn *txn, const struct bt_id *bag,
    const uint8_t *vh, struct btstore_bagrec_ *r)
{
	uint8_t ek[KLEN_ENTRY];
	struct bt_id h;
	MDB_val k = { sizeof(ek), ek }, v;
	int rc, mrc;

	memcpy(ek, bag->b, BT_ID_LEN);
	memcpy(ek + BT_ID_LEN, vh, BT_ID_LEN);
	mrc = mdb_get(txn, st->dbi[BTSTORE_DB_BAG_], &k, &v);
	if (mrc == MDB_NOTFOUND)
		return BT_ECORRUPT;	/* indexed but absent */
	if (mrc != MDB_SUCCESS)
		return btstore_err_(st, mrc, "bag entry");
	if ((rc = btstore_bagrec_decode_(v.mv_data, v.mv_size, r)) != BT_OK)
		return rc;
	if ((rc = btcore_id_hash(&h, r->value, r->len)) != BT_OK)
		return rc;
	if (memcmp(h.b, vh, BT_ID_LEN) != 0)
		return BT_ECORRUPT;
	return BT_OK;
}

static int
check_query(struct btstore *st, const struct bt_id *key, size_t limit,
    btstore_bag_fn fn)
{
	if (st == NULL || key == NULL || fn == NULL)
		return BT_EINVAL;
	if (limit == 0 || limit > BTSTORE_BAG_QUERY_MAX)
		return BT_ERANGE;
	return BT_OK;
}

/*
 * Walk index @p db backwards over the keys starting with @p bag (each
 * @p klen bytes, H at their end) and report up to @p limit entries.
 */
static int
walk_desc(struct btstore *st, int db, size_t klen, const struct bt_id *bag,
    size_t limit, btstore_bag_fn fn, void *arg)
{
	struct btstore_bagrec_ r;
	uint8_t end[KLEN_POP];
	MDB_txn *txn = NULL;
	MDB_cursor *cur = NULL;
	MDB_val k, v;
	size_t n = 0;
	int rc, mrc;

	if ((rc = btstore_rtxn_begin_(st, &txn)) != BT_OK)
		return rc;
	if ((mrc = mdb_cursor_open(txn, st->dbi[db], &cur)) != MDB_SUCCESS) {
		cur = NULL;
		rc = btstore_err_(st, mrc, "bag cursor");
		goto out;
	}
	/* just past the last key of this bag */
	memcpy(end, bag->b, BT_ID_LEN);
	memset(end + BT_ID_LEN, 0xff, klen - BT_ID_LEN);
	k.mv_size = klen;
	k.mv_data = end;
	mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	if (mrc == MDB_SUCCESS)
		mrc = mdb_cursor_get(cur, &k, &v, MDB_PREV);
	else if (mrc == MDB_NOTFOUND)
		mrc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
	for (; mrc == MDB_SUCCESS && n < limit;
	    mrc = mdb_cursor_get(cur, &k, &v, MDB_PREV)) {
		if (k.mv_size < BT_ID_LEN ||
		    memcmp(k.mv_data, bag->b, BT_ID_LEN) != 0)
			break;
		if (k.mv_size != klen) {
			rc = BT_ECORRUPT;
			goto out;
		}
		rc = entry_get(st, txn, bag,
		    (const uint8_t *)k.mv_data + klen - BT_ID_LEN, &r);
		if (rc != BT_OK)
			goto out;
		n++;
		if (fn(arg, r.value, r.len, r.count, r.last) != 0)
			break;
	}
	if (mrc != MDB_SUCCESS && mrc != MDB_NOTFOUND)
		rc = btstore_err_(st, mrc, "bag walk");
out:
	if (cur != NULL)
		mdb_cursor_close(cur);
	btstore_rtxn_end_(st, txn);
	return rc;
}

int
btstore_bag_popular(struct btstore *st, const struct bt_id *key, size_t limit,
    btstore_bag_fn fn, void *arg)
{
	int rc;

	if ((rc = check_query(st, key, limit, fn)) != BT_OK)
		return rc;
	return walk_desc(st, BTSTORE_DB_BAGPOP_, KLEN_POP, key, limit, fn, arg);
}

int
btstore_bag_recent(struct btstore *st, const struct bt_id *key, size_t limit,
    btstore_bag_fn fn, void *arg)
{
	int rc;

	if ((rc = check_query(st, key, limit, fn)) != BT_OK)
		return rc;
	return walk_desc(st, BTSTORE_DB_BAGTIME_, KLEN_TIME, key, limit, fn,
	    arg);
}

/*
 * Reservoir sampling (Algorithm R) over the bag's entries: after the walk
 * every @p limit-subset is equally likely.  Bags are bounded, so the walk
 * is too.
 */
int
btstore_bag_sample(struct btstore *st, const struct bt_id *key, size_t limit,
    btstore_bag_fn fn, void *arg)
{
	uint8_t res[BTSTORE_BAG_QUERY_MAX][BT_ID_LEN];
	uint8_t start[KLEN_ENTRY];
	uint64_t rnd[64];
	struct btstore_bagrec_ r;
	MDB_txn *txn = NULL;
	MDB_cursor *cur = NULL;
	MDB_val k, v;
	size_t seen = 0, kept = 0, i, used = 64, j;
	int rc, mrc;

	if ((rc = check_query(st, key, limit, fn)) != BT_OK)
		return rc;
	if ((rc = btstore_rtxn_begin_(st, &txn)) != BT_OK)
		return rc;
	mrc = mdb_cursor_open(txn, st->dbi[BTSTORE_DB_BAG_], &cur);
	if (mrc != MDB_SUCCESS) {
		cur = NULL;
		rc = btstore_err_(st, mrc, "bag cursor");
		goto out;
	}
	memcpy(start, key->b, BT_ID_LEN);
	memset(start + BT_ID_LEN, 0, BT_ID_LEN);
	k.mv_size = sizeof(start);
	k.mv_data = start;
	for (mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	    mrc == MDB_SUCCESS; mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size < BT_ID_LEN ||
		    memcmp(k.mv_data, key->b, BT_ID_LEN) != 0)
			break;
		if (k.mv_size != KLEN_ENTRY || seen >= BTSTORE_BAG_VALUES_MAX) {
			rc = BT_ECORRUPT;
			goto out;
		}
		if (kept < limit) {
			j = kept++;
		} else {
			if (used == 64) {
				if ((rc = btcore_random_bytes(rnd,
				    sizeof(rnd))) != BT_OK)
					goto out;
				used = 0;
			}
			/* bias of 2^-52 at most: seen < 2^13 */
			j = (size_t)(rnd[used++] % (seen + 1));
		}
		if (j < limit)
			memcpy(res[j], (const uint8_t *)k.mv_data + BT_ID_LEN,
			    BT_ID_LEN);
		seen++;
	}
	if (mrc != MDB_SUCCESS && mrc != MDB_NOTFOUND) {
		rc = btstore_err_(st, mrc, "bag walk");
		goto out;
	}
	for (i = 0; i < kept; i++) {
		if ((rc = entry_get(st, txn, key, res[i], &r)) != BT_OK)
			goto out;
		if (fn(arg, r.value, r.len, r.count, r.last) != 0)
			break;
	}
out:
	if (cur != NULL)
		mdb_cursor_close(cur);
	btstore_rtxn_end_(st, txn);
	return rc;
}

int
btstore_bag_size(struct btstore *st, const struct bt_id *key,
    uint32_t *nvalues)
{
	MDB_txn *txn;
	MDB_val k, v;
	uint32_t n = 0;
	int rc, mrc;

	if (nvalues != NULL)
		*nvalues = 0;
	if (st == NULL || key == NULL || nvalues == NULL)
		return BT_EINVAL;
	if ((rc = btstore_rtxn_begin_(st, &txn)) != BT_OK)
		return rc;
	k.mv_size = BT_ID_LEN;
	k.mv_data = (void *)(uintptr_t)key->b;
	mrc = mdb_get(txn, st->dbi[BTSTORE_DB_BAGMETA_], &k, &v);
	if (mrc == MDB_SUCCESS)
		rc = btstore_u32_decode_(v.mv_data, v.mv_size, &n);
	else if (mrc != MDB_NOTFOUND)
		rc = btstore_err_(st, mrc, "bag size");
	btstore_rtxn_end_(st, txn);
	if (rc == BT_OK)
		*nvalues = n;
	return rc;
}
