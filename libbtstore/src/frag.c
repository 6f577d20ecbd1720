/*
 * frag.c - fragments held for other nodes.
 *
 *   frag          owner || block || be16 index -> fragment record
 *   frag.expires  be64 expires || owner || block || be16 index -> ""
 */
#include <bt/held.h>

#include <stdlib.h>

#include "btstore-internal.h"

#define KLEN_FRAG	(2 * BT_ID_LEN + 2)
#define KLEN_EXP	(8 + KLEN_FRAG)

static void
frag_key(uint8_t out[KLEN_FRAG], const struct bt_id *owner,
    const struct bt_id *block, uint16_t index)
{
	memcpy(out, owner->b, BT_ID_LEN);
	memcpy(out + BT_ID_LEN, block->b, BT_ID_LEN);
	btstore_put_be16_(out + 2 * BT_ID_LEN, index);
}

static void
exp_key(uint8_t out[KLEN_EXP], uint64_t exp, const uint8_t fk[KLEN_FRAG])
{
	btstore_put_be64_(out, exp);
	memcpy(out + 8, fk, KLEN_FRAG);
}

static int
record_get(struct btstore *st, MDB_txn *txn, const uint8_t fk[KLEN_FRAG],
    struct btstore_fragrec_ *r)
{
	MDB_val k = { KLEN_FRAG, (void *)(uintptr_t)fk }, v;
	int mrc;

	mrc = mdb_get(txn, st->dbi[BTSTORE_DB_FRAG_], &k, &v);
	if (mrc != MDB_SUCCESS)
		return btstore_err_(st, mrc, "fragment get");
	return btstore_fragrec_decode_(v.mv_data, v.mv_size, r);
}

/* Delete a fragment's record and expiry entry. */
static int
frag_delete(struct btstore_w_ *w, const uint8_t fk[KLEN_FRAG], uint64_t exp)
{
	uint8_t ek[KLEN_EXP];
	MDB_val k;
	int mrc;

	k.mv_size = KLEN_FRAG;
	k.mv_data = (void *)(uintptr_t)fk;
	mrc = mdb_del(w->txn, w->st->dbi[BTSTORE_DB_FRAG_], &k, NULL);
	if (mrc != MDB_SUCCESS)
		return btstore_werr_(w, mrc, "fragment delete");
	exp_key(ek, exp, fk);
	k.mv_size = sizeof(ek);
	k.mv_data = ek;
	mrc = mdb_del(w->txn, w->st->dbi[BTSTORE_DB_FRAGEXP_], &k, NULL);
	if (mrc == MDB_NOTFOUND)
		return BT_ECORRUPT;
	if (mrc != MDB_SUCCESS)
		return btstore_werr_(w, mrc, "fragment delete");
	return btstore_emit_(w, BTSTORE_TOPIC_FRAG, BTSTORE_EV_DEL, fk,
	    BT_ID_LEN);
}

struct put_arg {
	uint8_t fk[KLEN_FRAG];
	struct btstore_fragrec_ r;
};

static int
put_fn(struct btstore_w_ *w, void *arg)
{
	struct put_arg *a = arg;
	struct btstore_fragrec_ old;
	uint8_t ek[KLEN_EXP];
	uint8_t *rec = NULL;
	MDB_val k, v;
	int rc, mrc;

	rc = record_get(w->st, w->txn, a->fk, &old);
	if (rc == BT_OK) {
		exp_key(ek, old.expires, a->fk);
		k.mv_size = sizeof(ek);
		k.mv_data = ek;
		mrc = mdb_del(w->txn, w->st->dbi[BTSTORE_DB_FRAGEXP_], &k,
		    NULL);
		if (mrc == MDB_NOTFOUND) {
			rc = BT_ECORRUPT;
			goto out;
		}
		if (mrc != MDB_SUCCESS) {
			rc = btstore_werr_(w, mrc, "fragment replace");
			goto out;
		}
	} else if (rc != BT_ENOTFOUND) {
		goto out;
	}
	if ((rec = malloc(btstore_fragrec_size_(a->r.len))) == NULL) {
		rc = BT_ENOMEM;
		goto out;
	}
	btstore_fragrec_encode_(rec, &a->r);
	k.mv_size = KLEN_FRAG;
	k.mv_data = a->fk;
	v.mv_size = btstore_fragrec_size_(a->r.len);
	v.mv_data = rec;
	mrc = mdb_put(w->txn, w->st->dbi[BTSTORE_DB_FRAG_], &k, &v, 0);
	if (mrc != MDB_SUCCESS) {
		rc = btstore_werr_(w, mrc, "fragment put");
		goto out;
	}
	exp_key(ek, a->r.expires, a->fk);
	k.mv_size = sizeof(ek);
	k.mv_data = ek;
	v.mv_size = 0;
	v.mv_data = (void *)"";
	mrc = mdb_put(w->txn, w->st->dbi[BTSTORE_DB_FRAGEXP_], &k, &v, 0);
	if (mrc != MDB_SUCCESS) {
		rc = btstore_werr_(w, mrc, "fragment put");
		goto out;
	}
	rc = btstore_emit_(w, BTSTORE_TOPIC_FRAG, BTSTORE_EV_PUT, a->fk,
	    BT_ID_LEN);
out:
	free(rec);
	return rc;
}

int
btstore_frag_put(struct btstore *st, const struct bt_id *owner,
    const struct bt_id *block, uint16_t index, const void *data, size_t len,
    uint64_t expires, const struct bt_id *contract)
{
	struct put_arg a;
	int rc;

	if (st == NULL || owner == NULL || block == NULL || contract == NULL ||
	    (data == NULL && len != 0))
		return BT_EINVAL;
	if (len > BTSTORE_FRAG_MAX)
		return BT_ETOOBIG;
	memset(&a, 0, sizeof(a));
	frag_key(a.fk, owner, block, index);
	if ((rc = btcore_id_hash(&a.r.hash, data, len)) != BT_OK)
		return rc;
	a.r.expires = expires;
	a.r.contract = *contract;
	a.r.data = data;
	a.r.len = len;
	return btstore_write_(st, put_fn, &a);
}

int
btstore_frag_get(struct btstore *st, const struct bt_id *owner,
    const struct bt_id *block, uint16_t index, void *buf, size_t cap,
    size_t *len, uint64_t *expires, struct bt_id *contract)
{
	struct btstore_fragrec_ r;
	uint8_t fk[KLEN_FRAG];
	struct bt_id h;
	MDB_txn *txn;
	int rc;

	if (len != NULL)
		*len = 0;
	if (expires != NULL)
		*expires = 0;
	if (contract != NULL)
		memset(contract, 0, sizeof(*contract));
	if (st == NULL || owner == NULL || block == NULL || len == NULL ||
	    (buf == NULL && cap != 0))
		return BT_EINVAL;
	frag_key(fk, owner, block, index);
	if ((rc = btstore_rtxn_begin_(st, &txn)) != BT_OK)
		return rc;
	if ((rc = record_get(st, txn, fk, &r)) != BT_OK)
		goto out;
	if ((rc = btcore_id_hash(&h, r.data, r.len)) != BT_OK)
		goto out;
	if (memcmp(h.b, r.hash.b, BT_ID_LEN) != 0) {
		rc = BT_ECORRUPT;
		goto out;
	}
	*len = r.len;
	if (r.len > cap) {
		rc = BT_ERANGE;
		goto out;
	}
	if (r.len > 0)
		memcpy(buf, r.data, r.len);
	if (expires != NULL)
		*expires = r.expires;
	if (contract != NULL)
		*contract = r.contract;
out:
	btstore_rtxn_end_(st, txn);
	return rc;
}

int
btstore_frag_list(struct btstore *st, const struct bt_id *owner,
    btstore_frag_fn fn, void *arg)
{
	struct btstore_fragrec_ r;
	uint8_t start[KLEN_FRAG];
	struct bt_id block;
	MDB_txn *txn;
	MDB_cursor *cur = NULL;
	MDB_val k, v;
	int rc, mrc;

	if (st == NULL || owner == NULL || fn == NULL)
		return BT_EINVAL;
	if ((rc = btstore_rtxn_begin_(st, &txn)) != BT_OK)
		return rc;
	mrc = mdb_cursor_open(txn, st->dbi[BTSTORE_DB_FRAG_], &cur);
	if (mrc != MDB_SUCCESS) {
		cur = NULL;
		rc = btstore_err_(st, mrc, "fragment cursor");
		goto out;
	}
	memset(start, 0, sizeof(start));
	memcpy(start, owner->b, BT_ID_LEN);
	k.mv_size = sizeof(start);
	k.mv_data = start;
	for (mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	    mrc == MDB_SUCCESS; mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size < BT_ID_LEN ||
		    memcmp(k.mv_data, owner->b, BT_ID_LEN) != 0)
			break;
		if (k.mv_size != KLEN_FRAG) {
			rc = BT_ECORRUPT;
			goto out;
		}
		if ((rc = btstore_fragrec_decode_(v.mv_data, v.mv_size, &r))
		    != BT_OK)
			goto out;
		memcpy(block.b, (const uint8_t *)k.mv_data + BT_ID_LEN,
		    BT_ID_LEN);
		if (fn(arg, &block,
		    btstore_get_be16_((const uint8_t *)k.mv_data +
		    2 * BT_ID_LEN), r.len, r.expires, &r.contract) != 0)
			break;
	}
	if (mrc != MDB_SUCCESS && mrc != MDB_NOTFOUND)
		rc = btstore_err_(st, mrc, "fragment walk");
out:
	if (cur != NULL)
		mdb_cursor_close(cur);
	btstore_rtxn_end_(st, txn);
	return rc;
}

static int
del_fn(struct btstore_w_ *w, void *arg)
{
	const uint8_t *fk = arg;
	struct btstore_fragrec_ r;
	int rc;

	if ((rc = record_get(w->st, w->txn, fk, &r)) != BT_OK)
		return rc;
	return frag_delete(w, fk, r.expires);
}

int
btstore_frag_del(struct btstore *st, const struct bt_id *owner,
    const struct bt_id *block, uint16_t index)
{
	uint8_t fk[KLEN_FRAG];

	if (st == NULL || owner == NULL || block == NULL)
		return BT_EINVAL;
	frag_key(fk, owner, block, index);
	return btstore_write_(st, del_fn, fk);
}

static int
exp_fn(struct btstore_w_ *w, void *arg)
{
	struct btstore_expire_ *a = arg;
	uint8_t fk[KLEN_FRAG];
	MDB_cursor *cur = NULL;
	MDB_val k, v;
	uint64_t exp;
	int rc = BT_OK, mrc;

	a->removed = 0;
	mrc = mdb_cursor_open(w->txn, w->st->dbi[BTSTORE_DB_FRAGEXP_], &cur);
	if (mrc != MDB_SUCCESS)
		return btstore_werr_(w, mrc, "fragment cursor");
	while (a->removed < a->limit) {
		mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
		if (mrc == MDB_NOTFOUND)
			break;
		if (mrc != MDB_SUCCESS) {
			rc = btstore_werr_(w, mrc, "fragment walk");
			break;
		}
		if (k.mv_size != KLEN_EXP) {
			rc = BT_ECORRUPT;
			break;
		}
		exp = btstore_get_be64_(k.mv_data);
		if (exp > a->now)
			break;
		memcpy(fk, (const uint8_t *)k.mv_data + 8, KLEN_FRAG);
		if ((rc = frag_delete(w, fk, exp)) != BT_OK) {
			if (rc == BT_ENOTFOUND)
				rc = BT_ECORRUPT;
			break;
		}
		a->removed++;
	}
	mdb_cursor_close(cur);
	return rc;
}

int
btstore_frag_expire(struct btstore *st, uint64_t now, size_t limit,
    size_t *removed)
{
	return btstore_expire_run_(st, exp_fn, now, limit, removed);
}
