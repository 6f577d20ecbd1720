/*
 * dht.c - content-addressed DHT values with expiry, republish times, a
 * quota per origin and a total cap.
 *
 * Indexes (all values ""):
 *   dht.expires    be64 expires || key           expiry order
 *   dht.republish  be64 republish || key         republish order
 *   dht.origin     origin || be64 expires || key  one origin's values
 *   dht.heavy      be64 bytes || origin           origins by weight
 * and dht.origin.bytes: origin -> (values, bytes).
 */
#include <bt/dhtval.h>

#include <stdlib.h>

#include "btstore-internal.h"

#define COUNTS_DHT	"dht"
#define KLEN_TIME	(8 + BT_ID_LEN)
#define KLEN_ORIG	(2 * BT_ID_LEN + 8)

static void
time_key(uint8_t out[KLEN_TIME], uint64_t t, const struct bt_id *key)
{
	btstore_put_be64_(out, t);
	memcpy(out + 8, key->b, BT_ID_LEN);
}

static void
orig_key(uint8_t out[KLEN_ORIG], const struct bt_id *origin, uint64_t exp,
    const struct bt_id *key)
{
	memcpy(out, origin->b, BT_ID_LEN);
	btstore_put_be64_(out + BT_ID_LEN, exp);
	memcpy(out + BT_ID_LEN + 8, key->b, BT_ID_LEN);
}

static int
iput(struct btstore_w_ *w, int db, const void *k, size_t klen,
    const void *v, size_t vlen)
{
	MDB_val mk = { klen, (void *)(uintptr_t)k };
	MDB_val mv = { vlen, (void *)(uintptr_t)(vlen ? v : "") };

	return btstore_werr_(w, mdb_put(w->txn, w->st->dbi[db], &mk, &mv, 0),
	    "dht write");
}

static int
idel(struct btstore_w_ *w, int db, const void *k, size_t klen)
{
	MDB_val mk = { klen, (void *)(uintptr_t)k };
	int mrc;

	mrc = mdb_del(w->txn, w->st->dbi[db], &mk, NULL);
	if (mrc == MDB_NOTFOUND)
		return BT_ECORRUPT;	/* an index entry is missing */
	return btstore_werr_(w, mrc, "dht delete");
}

/* Move an index entry keyed by a time from @p t0 to @p t1. */
static int
retime(struct btstore_w_ *w, int db, uint64_t t0, uint64_t t1,
    const struct bt_id *key)
{
	uint8_t k[KLEN_TIME];
	int rc;

	if (t0 == t1)
		return BT_OK;
	time_key(k, t0, key);
	if ((rc = idel(w, db, k, sizeof(k))) != BT_OK)
		return rc;
	time_key(k, t1, key);
	return iput(w, db, k, sizeof(k), NULL, 0);
}

static int
origin_counts(struct btstore_w_ *w, const struct bt_id *origin,
    uint64_t *count, uint64_t *bytes)
{
	MDB_val k = { BT_ID_LEN, (void *)(uintptr_t)origin->b }, v;
	int mrc;

	*count = 0;
	*bytes = 0;
	mrc = mdb_get(w->txn, w->st->dbi[BTSTORE_DB_DHTOBYTES_], &k, &v);
	if (mrc == MDB_NOTFOUND)
		return BT_OK;
	if (mrc != MDB_SUCCESS)
		return btstore_werr_(w, mrc, "dht origin");
	return btstore_counts_decode_(v.mv_data, v.mv_size, count, bytes);
}

/* Add to one origin's counts and keep dht.heavy in step. */
static int
origin_adjust(struct btstore_w_ *w, const struct bt_id *origin,
    int64_t dcount, int64_t dbytes)
{
	uint8_t hk[8 + BT_ID_LEN], cb[BTSTORE_COUNTS_LEN_];
	uint64_t count, bytes;
	int rc;

	if ((rc = origin_counts(w, origin, &count, &bytes)) != BT_OK)
		return rc;
	memcpy(hk + 8, origin->b, BT_ID_LEN);
	if (count > 0) {
		btstore_put_be64_(hk, bytes);
		if ((rc = idel(w, BTSTORE_DB_DHTHEAVY_, hk, sizeof(hk)))
		    != BT_OK)
			return rc;
	}
	if ((dcount < 0 && (uint64_t)-dcount > count) ||
	    (dbytes < 0 && (uint64_t)-dbytes > bytes))
		return BT_ECORRUPT;
	count += (uint64_t)dcount;
	bytes += (uint64_t)dbytes;
	if (count == 0) {
		if (bytes != 0)
			return BT_ECORRUPT;
		return idel(w, BTSTORE_DB_DHTOBYTES_, origin->b, BT_ID_LEN);
	}
	btstore_counts_encode_(cb, count, bytes);
	if ((rc = iput(w, BTSTORE_DB_DHTOBYTES_, origin->b, BT_ID_LEN, cb,
	    sizeof(cb))) != BT_OK)
		return rc;
	btstore_put_be64_(hk, bytes);
	return iput(w, BTSTORE_DB_DHTHEAVY_, hk, sizeof(hk), NULL, 0);
}

/* Delete one value and every trace of it. */
static int
value_delete(struct btstore_w_ *w, const struct bt_id *key,
    const struct btstore_dhtrec_ *r)
{
	uint8_t tk[KLEN_TIME], ok[KLEN_ORIG];
	struct bt_id origin = r->origin;
	uint64_t exp = r->expires, rep = r->republish;
	size_t len = r->len;
	int rc;

	/* r points into the record: copy what we need before deleting it */
	if ((rc = idel(w, BTSTORE_DB_DHT_, key->b, BT_ID_LEN)) != BT_OK)
		return rc;
	time_key(tk, exp, key);
	if ((rc = idel(w, BTSTORE_DB_DHTEXP_, tk, sizeof(tk))) != BT_OK)
		return rc;
	time_key(tk, rep, key);
	if ((rc = idel(w, BTSTORE_DB_DHTREP_, tk, sizeof(tk))) != BT_OK)
		return rc;
	orig_key(ok, &origin, exp, key);
	if ((rc = idel(w, BTSTORE_DB_DHTORIG_, ok, sizeof(ok))) != BT_OK)
		return rc;
	if ((rc = origin_adjust(w, &origin, -1, -(int64_t)len)) != BT_OK)
		return rc;
	if ((rc = btstore_counts_add_(w, COUNTS_DHT, -1, -(int64_t)len))
	    != BT_OK)
		return rc;
	return btstore_emit_(w, BTSTORE_TOPIC_DHT, BTSTORE_EV_DEL, key->b,
	    BT_ID_LEN);
}

static int
record_get(struct btstore *st, MDB_txn *txn, const struct bt_id *key,
    struct btstore_dhtrec_ *r)
{
	MDB_val k = { BT_ID_LEN, (void *)(uintptr_t)key->b }, v;
	int mrc;

	mrc = mdb_get(txn, st->dbi[BTSTORE_DB_DHT_], &k, &v);
	if (mrc != MDB_SUCCESS)
		return btstore_err_(st, mrc, "dht get");
	return btstore_dhtrec_decode_(v.mv_data, v.mv_size, r);
}

/* Evict one value of the heaviest origin: its soonest to expire. */
static int
evict_heaviest(struct btstore_w_ *w)
{
	struct btstore_dhtrec_ r;
	struct bt_id origin, key;
	uint8_t start[KLEN_ORIG];
	MDB_cursor *cur = NULL;
	MDB_val k, v;
	int rc, mrc;

	mrc = mdb_cursor_open(w->txn, w->st->dbi[BTSTORE_DB_DHTHEAVY_], &cur);
	if (mrc != MDB_SUCCESS)
		return btstore_werr_(w, mrc, "dht evict");
	mrc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
	if (mrc == MDB_SUCCESS && k.mv_size != 8 + BT_ID_LEN)
		mrc = MDB_CORRUPTED;
	if (mrc == MDB_SUCCESS)
		memcpy(origin.b, (const uint8_t *)k.mv_data + 8, BT_ID_LEN);
	mdb_cursor_close(cur);
	cur = NULL;
	if (mrc == MDB_NOTFOUND)
		return BT_ECORRUPT;	/* over the cap with nothing held */
	if (mrc != MDB_SUCCESS)
		return btstore_werr_(w, mrc, "dht evict");

	mrc = mdb_cursor_open(w->txn, w->st->dbi[BTSTORE_DB_DHTORIG_], &cur);
	if (mrc != MDB_SUCCESS)
		return btstore_werr_(w, mrc, "dht evict");
	memset(start, 0, sizeof(start));
	memcpy(start, origin.b, BT_ID_LEN);
	k.mv_size = sizeof(start);
	k.mv_data = start;
	mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	if (mrc == MDB_SUCCESS && (k.mv_size != KLEN_ORIG ||
	    memcmp(k.mv_data, origin.b, BT_ID_LEN) != 0))
		mrc = MDB_NOTFOUND;
	if (mrc == MDB_SUCCESS)
		memcpy(key.b, (const uint8_t *)k.mv_data + BT_ID_LEN + 8,
		    BT_ID_LEN);
	mdb_cursor_close(cur);
	if (mrc == MDB_NOTFOUND)
		return BT_ECORRUPT;	/* a weighed origin holds nothing */
	if (mrc != MDB_SUCCESS)
		return btstore_werr_(w, mrc, "dht evict");
	if ((rc = record_get(w->st, w->txn, &key, &r)) != BT_OK)
		return rc == BT_ENOTFOUND ? BT_ECORRUPT : rc;
	return value_delete(w, &key, &r);
}

struct put_arg {
	const struct bt_id *key;
	const void *value;
	size_t len;
	const struct bt_id *origin;
	uint64_t expires;
	uint64_t republish;
};

static int
put_fn(struct btstore_w_ *w, void *arg)
{
	struct put_arg *a = arg;
	struct btstore *st = w->st;
	struct btstore_dhtrec_ r;
	uint8_t tk[KLEN_TIME], ok[KLEN_ORIG];
	uint8_t *rec = NULL;
	uint64_t count, bytes, exp0, rep0;
	int rc;

	rc = record_get(st, w->txn, a->key, &r);
	if (rc == BT_OK) {
		/* held already: extend its life */
		exp0 = r.expires;
		rep0 = r.republish;
		if (a->expires > r.expires)
			r.expires = a->expires;
		if (a->republish > r.republish)
			r.republish = a->republish;
		if (exp0 == r.expires && rep0 == r.republish)
			goto emit;
		if ((rc = retime(w, BTSTORE_DB_DHTEXP_, exp0, r.expires,
		    a->key)) != BT_OK ||
		    (rc = retime(w, BTSTORE_DB_DHTREP_, rep0, r.republish,
		    a->key)) != BT_OK)
			goto out;
		if (exp0 != r.expires) {
			orig_key(ok, &r.origin, exp0, a->key);
			if ((rc = idel(w, BTSTORE_DB_DHTORIG_, ok, sizeof(ok)))
			    != BT_OK)
				goto out;
			orig_key(ok, &r.origin, r.expires, a->key);
			if ((rc = iput(w, BTSTORE_DB_DHTORIG_, ok, sizeof(ok),
			    NULL, 0)) != BT_OK)
				goto out;
		}
	} else if (rc == BT_ENOTFOUND) {
		if ((rc = origin_counts(w, a->origin, &count, &bytes))
		    != BT_OK)
			goto out;
		if (bytes + a->len > st->dht_origin) {
			rc = BT_ENOSPC;
			goto out;
		}
		for (;;) {
			rc = btstore_counts_get_(w->txn, st, COUNTS_DHT,
			    &count, &bytes);
			if (rc != BT_OK)
				goto out;
			if (bytes + a->len <= st->dht_total)
				break;
			if ((rc = evict_heaviest(w)) != BT_OK)
				goto out;
		}
		r.origin = *a->origin;
		r.expires = a->expires;
		r.republish = a->republish;
		time_key(tk, r.expires, a->key);
		if ((rc = iput(w, BTSTORE_DB_DHTEXP_, tk, sizeof(tk), NULL, 0))
		    != BT_OK)
			goto out;
		time_key(tk, r.republish, a->key);
		if ((rc = iput(w, BTSTORE_DB_DHTREP_, tk, sizeof(tk), NULL, 0))
		    != BT_OK)
			goto out;
		orig_key(ok, &r.origin, r.expires, a->key);
		if ((rc = iput(w, BTSTORE_DB_DHTORIG_, ok, sizeof(ok), NULL,
		    0)) != BT_OK)
			goto out;
		if ((rc = origin_adjust(w, a->origin, 1, (int64_t)a->len))
		    != BT_OK)
			goto out;
		if ((rc = btstore_counts_add_(w, COUNTS_DHT, 1,
		    (int64_t)a->len)) != BT_OK)
			goto out;
	} else {
		goto out;
	}
	r.value = a->value;
	r.len = a->len;
	if ((rec = malloc(btstore_dhtrec_size_(a->len))) == NULL) {
		rc = BT_ENOMEM;
		goto out;
	}
	btstore_dhtrec_encode_(rec, &r);
	if ((rc = iput(w, BTSTORE_DB_DHT_, a->key->b, BT_ID_LEN, rec,
	    btstore_dhtrec_size_(a->len))) != BT_OK)
		goto out;
emit:
	rc = btstore_emit_(w, BTSTORE_TOPIC_DHT, BTSTORE_EV_PUT, a->key->b,
	    BT_ID_LEN);
out:
	free(rec);
	return rc;
}

int
btstore_dht_put(struct btstore *st, const struct bt_id *key,
    const void *value, size_t len, const struct bt_id *origin,
    uint64_t expires, uint64_t republish)
{
	struct put_arg a;
	struct bt_id h;
	int rc;

	if (st == NULL || key == NULL || origin == NULL ||
	    (value == NULL && len != 0))
		return BT_EINVAL;
	if (len > BTSTORE_DHT_VALUE_MAX || len > st->dht_origin ||
	    len > st->dht_total)
		return BT_ETOOBIG;
	if ((rc = btcore_id_hash(&h, value, len)) != BT_OK)
		return rc;
	if (memcmp(h.b, key->b, BT_ID_LEN) != 0)
		return BT_EVERIFY;
	a.key = key;
	a.value = value;
	a.len = len;
	a.origin = origin;
	a.expires = expires;
	a.republish = republish;
	return btstore_write_(st, put_fn, &a);
}

/* Check a value's bytes against its key. */
static int
verify(const struct bt_id *key, const struct btstore_dhtrec_ *r)
{
	struct bt_id h;
	int rc;

	if ((rc = btcore_id_hash(&h, r->value, r->len)) != BT_OK)
		return rc;
	return memcmp(h.b, key->b, BT_ID_LEN) == 0 ? BT_OK : BT_ECORRUPT;
}

int
btstore_dht_get(struct btstore *st, const struct bt_id *key, uint64_t now,
    void *buf, size_t cap, size_t *len, uint64_t *expires,
    struct bt_id *origin)
{
	struct btstore_dhtrec_ r;
	MDB_txn *txn;
	int rc;

	if (len != NULL)
		*len = 0;
	if (expires != NULL)
		*expires = 0;
	if (origin != NULL)
		memset(origin, 0, sizeof(*origin));
	if (st == NULL || key == NULL || len == NULL ||
	    (buf == NULL && cap != 0))
		return BT_EINVAL;
	if ((rc = btstore_rtxn_begin_(st, &txn)) != BT_OK)
		return rc;
	if ((rc = record_get(st, txn, key, &r)) != BT_OK)
		goto out;
	if (r.expires <= now) {
		rc = BT_ENOTFOUND;
		goto out;
	}
	if ((rc = verify(key, &r)) != BT_OK)
		goto out;
	*len = r.len;
	if (r.len > cap) {
		rc = BT_ERANGE;
		goto out;
	}
	if (r.len > 0)
		memcpy(buf, r.value, r.len);
	if (expires != NULL)
		*expires = r.expires;
	if (origin != NULL)
		*origin = r.origin;
out:
	btstore_rtxn_end_(st, txn);
	return rc;
}

int
btstore_dht_due(struct btstore *st, uint64_t now, size_t limit,
    btstore_dht_fn fn, void *arg)
{
	struct btstore_dhtrec_ r;
	struct bt_id key;
	MDB_txn *txn;
	MDB_cursor *cur = NULL;
	MDB_val k, v;
	size_t n = 0;
	int rc, mrc;

	if (st == NULL || fn == NULL)
		return BT_EINVAL;
	if ((rc = btstore_rtxn_begin_(st, &txn)) != BT_OK)
		return rc;
	mrc = mdb_cursor_open(txn, st->dbi[BTSTORE_DB_DHTREP_], &cur);
	if (mrc != MDB_SUCCESS) {
		cur = NULL;
		rc = btstore_err_(st, mrc, "dht cursor");
		goto out;
	}
	for (mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
	    mrc == MDB_SUCCESS && n < limit;
	    mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size != KLEN_TIME) {
			rc = BT_ECORRUPT;
			goto out;
		}
		if (btstore_get_be64_(k.mv_data) > now)
			break;
		memcpy(key.b, (const uint8_t *)k.mv_data + 8, BT_ID_LEN);
		if ((rc = record_get(st, txn, &key, &r)) != BT_OK) {
			if (rc == BT_ENOTFOUND)
				rc = BT_ECORRUPT;
			goto out;
		}
		if (r.expires <= now)
			continue;
		if ((rc = verify(&key, &r)) != BT_OK)
			goto out;
		n++;
		if (fn(arg, &key, r.value, r.len, r.expires) != 0)
			break;
	}
	if (mrc != MDB_SUCCESS && mrc != MDB_NOTFOUND)
		rc = btstore_err_(st, mrc, "dht walk");
out:
	if (cur != NULL)
		mdb_cursor_close(cur);
	btstore_rtxn_end_(st, txn);
	return rc;
}

struct rep_arg {
	const struct bt_id *key;
	uint64_t republish;
};

static int
rep_fn(struct btstore_w_ *w, void *arg)
{
	struct rep_arg *a = arg;
	struct btstore_dhtrec_ r;
	uint8_t *rec = NULL;
	uint64_t rep0;
	int rc;

	if ((rc = record_get(w->st, w->txn, a->key, &r)) != BT_OK)
		return rc;
	rep0 = r.republish;
	if (rep0 == a->republish)
		return BT_OK;
	r.republish = a->republish;
	/* the record is rewritten from a copy: r points into the map */
	if ((rec = malloc(btstore_dhtrec_size_(r.len))) == NULL)
		return BT_ENOMEM;
	btstore_dhtrec_encode_(rec, &r);
	rc = retime(w, BTSTORE_DB_DHTREP_, rep0, a->republish, a->key);
	if (rc == BT_OK)
		rc = iput(w, BTSTORE_DB_DHT_, a->key->b, BT_ID_LEN, rec,
		    btstore_dhtrec_size_(r.len));
	free(rec);
	return rc;
}

int
btstore_dht_set_republish(struct btstore *st, const struct bt_id *key,
    uint64_t republish)
{
	struct rep_arg a;

	if (st == NULL || key == NULL)
		return BT_EINVAL;
	a.key = key;
	a.republish = republish;
	return btstore_write_(st, rep_fn, &a);
}

static int
exp_fn(struct btstore_w_ *w, void *arg)
{
	struct btstore_expire_ *a = arg;
	struct btstore_dhtrec_ r;
	struct bt_id key;
	MDB_cursor *cur = NULL;
	MDB_val k, v;
	int rc = BT_OK, mrc;

	a->removed = 0;
	mrc = mdb_cursor_open(w->txn, w->st->dbi[BTSTORE_DB_DHTEXP_], &cur);
	if (mrc != MDB_SUCCESS)
		return btstore_werr_(w, mrc, "dht cursor");
	while (a->removed < a->limit) {
		/* deletions move the cursor: start from the first each time */
		mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
		if (mrc == MDB_NOTFOUND)
			break;
		if (mrc != MDB_SUCCESS) {
			rc = btstore_werr_(w, mrc, "dht walk");
			break;
		}
		if (k.mv_size != KLEN_TIME) {
			rc = BT_ECORRUPT;
			break;
		}
		if (btstore_get_be64_(k.mv_data) > a->now)
			break;
		memcpy(key.b, (const uint8_t *)k.mv_data + 8, BT_ID_LEN);
		if ((rc = record_get(w->st, w->txn, &key, &r)) != BT_OK) {
			if (rc == BT_ENOTFOUND)
				rc = BT_ECORRUPT;
			break;
		}
		if ((rc = value_delete(w, &key, &r)) != BT_OK)
			break;
		a->removed++;
	}
	mdb_cursor_close(cur);
	return rc;
}

int
btstore_dht_expire(struct btstore *st, uint64_t now, size_t limit,
    size_t *removed)
{
	return btstore_expire_run_(st, exp_fn, now, limit, removed);
}

int
btstore_dht_usage(struct btstore *st, const struct bt_id *origin,
    uint64_t *count, uint64_t *bytes)
{
	MDB_txn *txn;
	MDB_val k, v;
	uint64_t c = 0, b = 0;
	int rc, mrc;

	if (count != NULL)
		*count = 0;
	if (bytes != NULL)
		*bytes = 0;
	if (st == NULL)
		return BT_EINVAL;
	if ((rc = btstore_rtxn_begin_(st, &txn)) != BT_OK)
		return rc;
	if (origin == NULL) {
		rc = btstore_counts_get_(txn, st, COUNTS_DHT, &c, &b);
	} else {
		k.mv_size = BT_ID_LEN;
		k.mv_data = (void *)(uintptr_t)origin->b;
		mrc = mdb_get(txn, st->dbi[BTSTORE_DB_DHTOBYTES_], &k, &v);
		if (mrc == MDB_SUCCESS)
			rc = btstore_counts_decode_(v.mv_data, v.mv_size, &c,
			    &b);
		else if (mrc != MDB_NOTFOUND)
			rc = btstore_err_(st, mrc, "dht usage");
	}
	btstore_rtxn_end_(st, txn);
	if (rc == BT_OK) {
		if (count != NULL)
			*count = c;
		if (bytes != NULL)
			*bytes = b;
	}
	return rc;
}
