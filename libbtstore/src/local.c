/*
 * local.c - the local area: the node's private key-value space.
 *
 * One database, "local": key -> u8 version, checksum, u8 key length,
 * key, value (local-internal.h).  The key is stored again inside the
 * entry so that the checksum covers it: an entry that turns up under
 * another key is as damaged as a flipped byte of its value.  No other
 * database refers to this one, and no module that replicates, signs or
 * serves data reads it.
 */
#include <bt/local.h>

#include "btstore-internal.h"
#include "local-internal.h"

size_t
btstore_localrec_size_(size_t klen, size_t vlen)
{
	return BTSTORE_LOCALREC_HDR_ + klen + vlen;
}

int
btstore_localrec_encode_(uint8_t *out, const void *key, size_t klen,
    const void *value, size_t vlen)
{
	struct bt_id sum;
	int rc;

	out[0] = BTSTORE_REC_VERSION_;
	out[33] = (uint8_t)klen;
	memcpy(out + BTSTORE_LOCALREC_HDR_, key, klen);
	if (vlen > 0)
		memcpy(out + BTSTORE_LOCALREC_HDR_ + klen, value, vlen);
	if ((rc = btcore_id_hash(&sum, out + 33, 1 + klen + vlen)) != BT_OK)
		return rc;
	memcpy(out + 1, sum.b, 32);
	return BT_OK;
}

int
btstore_localrec_decode_(const void *buf, size_t len, const void *want,
    size_t wlen, const uint8_t **key, size_t *klen, const uint8_t **value,
    size_t *vlen)
{
	const uint8_t *p = buf;
	struct bt_id sum;
	size_t kl, vl;
	int rc = BT_ECORRUPT;

	*key = NULL;
	*klen = 0;
	*value = NULL;
	*vlen = 0;
	if (p == NULL || len < BTSTORE_LOCALREC_HDR_ + 1 ||
	    p[0] != BTSTORE_REC_VERSION_)
		goto out;
	kl = p[33];
	if (kl == 0 || len - BTSTORE_LOCALREC_HDR_ < kl)
		goto out;
	vl = len - BTSTORE_LOCALREC_HDR_ - kl;
	if (vl > BTSTORE_LOCAL_VALUE_MAX)
		goto out;
	if (want != NULL && (wlen != kl ||
	    memcmp(want, p + BTSTORE_LOCALREC_HDR_, kl) != 0))
		goto out;
	if ((rc = btcore_id_hash(&sum, p + 33, len - 33)) != BT_OK)
		goto out;
	if (memcmp(sum.b, p + 1, 32) != 0) {
		rc = BT_ECORRUPT;
		goto out;
	}
	*key = p + BTSTORE_LOCALREC_HDR_;
	*klen = kl;
	*value = vl > 0 ? p + BTSTORE_LOCALREC_HDR_ + kl : NULL;
	*vlen = vl;
	rc = BT_OK;
out:
	return rc;
}

static int
key_check(const void *key, size_t klen)
{
	if (key == NULL)
		return BT_EINVAL;
	if (klen == 0 || klen > BTSTORE_LOCAL_KEY_MAX)
		return BT_ERANGE;
	return BT_OK;
}

/* ---- writes ------------------------------------------------------------- */

struct put_arg {
	const void *key, *value;
	size_t klen, vlen;
};

static int
put_fn(struct btstore_w_ *w, void *arg)
{
	struct put_arg *a = arg;
	MDB_val k = { a->klen, (void *)(uintptr_t)a->key }, v;
	int mrc;

	v.mv_size = btstore_localrec_size_(a->klen, a->vlen);
	v.mv_data = NULL;
	mrc = mdb_put(w->txn, w->st->dbi[BTSTORE_DB_LOCAL_], &k, &v,
	    MDB_RESERVE);
	if (mrc != MDB_SUCCESS)
		return btstore_werr_(w, mrc, "put local");
	return btstore_localrec_encode_(v.mv_data, a->key, a->klen, a->value,
	    a->vlen);
}

int
btstore_local_put(struct btstore *st, const void *key, size_t klen,
    const void *value, size_t vlen)
{
	struct put_arg a;
	int rc;

	if (st == NULL || (value == NULL && vlen > 0))
		return BT_EINVAL;
	if ((rc = key_check(key, klen)) != BT_OK)
		return rc;
	if (vlen > BTSTORE_LOCAL_VALUE_MAX)
		return BT_ETOOBIG;
	a.key = key;
	a.klen = klen;
	a.value = value;
	a.vlen = vlen;
	return btstore_write_(st, put_fn, &a);
}

static int
del_fn(struct btstore_w_ *w, void *arg)
{
	struct put_arg *a = arg;
	MDB_val k = { a->klen, (void *)(uintptr_t)a->key };
	int mrc;

	mrc = mdb_del(w->txn, w->st->dbi[BTSTORE_DB_LOCAL_], &k, NULL);
	if (mrc == MDB_NOTFOUND)
		return BT_ENOTFOUND;
	if (mrc != MDB_SUCCESS)
		return btstore_werr_(w, mrc, "delete local");
	return BT_OK;
}

int
btstore_local_del(struct btstore *st, const void *key, size_t klen)
{
	struct put_arg a;
	int rc;

	if (st == NULL)
		return BT_EINVAL;
	if ((rc = key_check(key, klen)) != BT_OK)
		return rc;
	memset(&a, 0, sizeof(a));
	a.key = key;
	a.klen = klen;
	return btstore_write_(st, del_fn, &a);
}

/* ---- reads -------------------------------------------------------------- */

/* The verified value under @p key in @p txn; pointers into the map. */
static int
txn_get(struct btstore *st, MDB_txn *txn, const void *key, size_t klen,
    const uint8_t **value, size_t *vlen)
{
	MDB_val k = { klen, (void *)(uintptr_t)key }, v;
	const uint8_t *kp;
	size_t kl;
	int mrc, rc;

	*value = NULL;
	*vlen = 0;
	mrc = mdb_get(txn, st->dbi[BTSTORE_DB_LOCAL_], &k, &v);
	if (mrc == MDB_NOTFOUND)
		return BT_ENOTFOUND;
	if (mrc != MDB_SUCCESS)
		return btstore_err_(st, mrc, "get local");
	rc = btstore_localrec_decode_(v.mv_data, v.mv_size, key, klen, &kp,
	    &kl, value, vlen);
	if (rc == BT_ECORRUPT)
		btstore_log_(st, BTSTORE_LOG_ERROR,
		    "stored local value is damaged");
	return rc;
}

int
btstore_local_get(struct btstore *st, const void *key, size_t klen,
    void *buf, size_t cap, size_t *len)
{
	const uint8_t *val;
	MDB_txn *txn = NULL;
	size_t n = 0;
	int rc;

	if (len != NULL)
		*len = 0;
	if (st == NULL || (buf == NULL && cap > 0))
		return BT_EINVAL;
	if ((rc = key_check(key, klen)) != BT_OK)
		return rc;
	if ((rc = btstore_rtxn_begin_(st, &txn)) != BT_OK)
		return rc;
	if ((rc = txn_get(st, txn, key, klen, &val, &n)) != BT_OK) {
		n = 0;
		goto out;
	}
	if (n > cap) {
		rc = BT_ERANGE;
		goto out;
	}
	if (n > 0)
		memcpy(buf, val, n);
out:
	if (len != NULL)
		*len = n;
	btstore_rtxn_end_(st, txn);
	return rc;
}

int
btstore_view_local_get(struct btstore_view *v, const void *key, size_t klen,
    const void **value, size_t *len)
{
	const uint8_t *val = NULL;
	size_t n = 0;
	int rc;

	if (value != NULL)
		*value = NULL;
	if (len != NULL)
		*len = 0;
	if (v == NULL || value == NULL || len == NULL)
		return BT_EINVAL;
	if ((rc = key_check(key, klen)) != BT_OK)
		return rc;
	if ((rc = txn_get(v->st, v->txn, key, klen, &val, &n)) != BT_OK)
		return rc;
	*value = val;
	*len = n;
	return BT_OK;
}

int
btstore_local_list(struct btstore *st, const void *prefix, size_t plen,
    btstore_local_list_fn fn, void *arg)
{
	MDB_txn *txn = NULL;
	MDB_cursor *cur = NULL;
	MDB_val k, v;
	const uint8_t *kp, *vp;
	size_t kl, vl, visited = 0;
	int rc, mrc;

	if (st == NULL || fn == NULL || (prefix == NULL && plen > 0))
		return BT_EINVAL;
	if (plen > BTSTORE_LOCAL_KEY_MAX)
		return BT_ERANGE;
	if ((rc = btstore_rtxn_begin_(st, &txn)) != BT_OK)
		return rc;
	mrc = mdb_cursor_open(txn, st->dbi[BTSTORE_DB_LOCAL_], &cur);
	if (mrc != MDB_SUCCESS) {
		cur = NULL;
		rc = btstore_err_(st, mrc, "list local");
		goto out;
	}
	if (plen == 0) {
		mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
	} else {
		k.mv_size = plen;
		k.mv_data = (void *)(uintptr_t)prefix;
		mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	}
	for (;;) {
		if (mrc == MDB_NOTFOUND) {
			rc = BT_OK;
			break;
		}
		if (mrc != MDB_SUCCESS) {
			rc = btstore_err_(st, mrc, "list local");
			break;
		}
		/* keys sort bytewise: the first key without the prefix
		 * ends the range */
		if (k.mv_size < plen || (plen > 0 &&
		    memcmp(k.mv_data, prefix, plen) != 0)) {
			rc = BT_OK;
			break;
		}
		if (visited == BTSTORE_LOCAL_LIST_MAX) {
			rc = BT_ERANGE;
			break;
		}
		rc = btstore_localrec_decode_(v.mv_data, v.mv_size, k.mv_data,
		    k.mv_size, &kp, &kl, &vp, &vl);
		if (rc != BT_OK) {
			if (rc == BT_ECORRUPT)
				btstore_log_(st, BTSTORE_LOG_ERROR,
				    "stored local value is damaged");
			break;
		}
		visited++;
		if (fn(arg, kp, kl, vp, vl) != 0) {
			rc = BT_OK;
			break;
		}
		mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	}
out:
	if (cur != NULL)
		mdb_cursor_close(cur);
	btstore_rtxn_end_(st, txn);
	return rc;
}
