/*
 * recstore.c - signed mutable records in the store.
 *
 * One database, "record": target id -> u8 version, checksum, be64 time
 * stamp, the record's encoding.  A put compares against the stored
 * record after checking its checksum, without re-checking its signature
 * (it was checked when stored); a get checks the checksum and decodes
 * with btcore_record_decode(), which checks the signature again.
 */
#include <bt/recordstore.h>

#include <stdlib.h>

#include "btstore-internal.h"
#include "recstore-internal.h"

int
btstore_recstore_decode_(const void *buf, size_t len, uint64_t *stamp,
    const uint8_t **enc, size_t *enclen)
{
	const uint8_t *p = buf;
	struct bt_id sum;
	int rc;

	*stamp = 0;
	*enc = NULL;
	*enclen = 0;
	if (buf == NULL || len < BTSTORE_RECSTORE_HDR_ + BTSTORE_RECENC_MIN_ ||
	    len > BTSTORE_RECSTORE_HDR_ + BTCORE_RECORD_ENC_MAX ||
	    p[0] != BTSTORE_REC_VERSION_)
		return BT_ECORRUPT;
	if ((rc = btcore_id_hash(&sum, p + 33, len - 33)) != BT_OK)
		return rc;
	if (memcmp(sum.b, p + 1, 32) != 0)
		return BT_ECORRUPT;
	*stamp = btstore_get_be64_(p + 33);
	*enc = p + BTSTORE_RECSTORE_HDR_;
	*enclen = len - BTSTORE_RECSTORE_HDR_;
	return BT_OK;
}

int
btstore_recstore_encode_(uint8_t *out, uint64_t stamp, const uint8_t *enc,
    size_t enclen)
{
	struct bt_id sum;
	int rc;

	out[0] = BTSTORE_REC_VERSION_;
	btstore_put_be64_(out + 33, stamp);
	memcpy(out + BTSTORE_RECSTORE_HDR_, enc, enclen);
	if ((rc = btcore_id_hash(&sum, out + 33, 8 + enclen)) != BT_OK)
		return rc;
	memcpy(out + 1, sum.b, 32);
	return BT_OK;
}

int
btstore_recstore_parse_(const uint8_t *enc, size_t len,
    struct bt_record *out)
{
	size_t klen, vlen, off;

	memset(out, 0, sizeof(*out));
	if (enc == NULL || len < BTSTORE_RECENC_MIN_ || enc[0] != 'R')
		return BT_ECORRUPT;
	memcpy(out->pub.b, enc + 1, 32);
	out->seq = btstore_get_be64_(enc + 33);
	klen = enc[41];
	if (klen == 0 || klen > BTCORE_RECORD_KEY_MAX ||
	    len < 42 + klen + 2 + 64)
		goto bad;
	out->key_len = (uint8_t)klen;
	memcpy(out->key, enc + 42, klen);
	off = 42 + klen;
	vlen = btstore_get_be16_(enc + off);
	off += 2;
	if (vlen > BTCORE_RECORD_VALUE_MAX || len != off + vlen + 64)
		goto bad;
	out->value_len = (uint16_t)vlen;
	out->value = vlen != 0 ? enc + off : NULL;	/* as btcore_record_decode */
	memcpy(out->sig.b, enc + off + vlen, 64);
	return BT_OK;
bad:
	memset(out, 0, sizeof(*out));
	return BT_ECORRUPT;
}

struct put_arg {
	const struct bt_record *rec;
	struct bt_id target;
	const uint8_t *enc;
	size_t enclen;
	uint64_t now;
	unsigned flags;
	uint64_t expect_seq;
	int outcome;	/* out */
};

static int
put_fn(struct btstore_w_ *w, void *arg)
{
	struct put_arg *a = arg;
	struct btstore *st = w->st;
	struct bt_record old;
	const uint8_t *oenc;
	MDB_val k = { BT_ID_LEN, a->target.b }, v;
	uint64_t ostamp;
	size_t olen;
	int rc, mrc, have;

	mrc = mdb_get(w->txn, st->dbi[BTSTORE_DB_RECORD_], &k, &v);
	if (mrc == MDB_SUCCESS) {
		if ((rc = btstore_recstore_decode_(v.mv_data, v.mv_size,
		    &ostamp, &oenc, &olen)) != BT_OK ||
		    (rc = btstore_recstore_parse_(oenc, olen, &old)) != BT_OK)
			return rc;
		if (memcmp(old.pub.b, a->rec->pub.b, 32) != 0 ||
		    old.key_len != a->rec->key_len ||
		    memcmp(old.key, a->rec->key, old.key_len) != 0)
			return BT_ECORRUPT;	/* under someone else's target */
		have = 1;
	} else if (mrc == MDB_NOTFOUND) {
		have = 0;
	} else {
		return btstore_werr_(w, mrc, "get record");
	}
	if ((a->flags & BTSTORE_RECORD_IF_ABSENT) && have)
		return BT_ESTATE;
	if ((a->flags & BTSTORE_RECORD_IF_SEQ) &&
	    (!have || old.seq != a->expect_seq))
		return BT_ESTATE;
	if (have) {
		rc = btcore_record_compare(a->rec, &old);
		if (rc < 0)
			return rc;
		a->outcome = rc;
	} else {
		a->outcome = BTCORE_RECORD_ACCEPT;
	}
	v.mv_size = BTSTORE_RECSTORE_HDR_ + a->enclen;
	v.mv_data = NULL;
	mrc = mdb_put(w->txn, st->dbi[BTSTORE_DB_RECORD_], &k, &v,
	    MDB_RESERVE);
	if (mrc != MDB_SUCCESS)
		return btstore_werr_(w, mrc, "put record");
	if ((rc = btstore_recstore_encode_(v.mv_data, a->now, a->enc,
	    a->enclen)) != BT_OK)
		return rc;
	if (a->outcome == BTCORE_RECORD_ACCEPT)
		return btstore_emit_(w, BTSTORE_TOPIC_RECORD, BTSTORE_EV_PUT,
		    a->target.b, BT_ID_LEN);
	return BT_OK;
}

int
btstore_record_put(struct btstore *st, const struct bt_record *rec,
    uint64_t now, unsigned flags, uint64_t expect_seq, int *outcome)
{
	struct put_arg a;
	uint8_t *enc = NULL;
	size_t n;
	int rc;

	if (outcome != NULL)
		*outcome = 0;
	if (st == NULL || rec == NULL ||
	    (flags & ~(BTSTORE_RECORD_IF_SEQ | BTSTORE_RECORD_IF_ABSENT)) ||
	    flags == (BTSTORE_RECORD_IF_SEQ | BTSTORE_RECORD_IF_ABSENT))
		return BT_EINVAL;
	if ((rc = btcore_record_verify(rec)) != BT_OK)
		return rc;
	if ((rc = btcore_record_target(&a.target, &rec->pub, rec->key,
	    rec->key_len)) != BT_OK)
		return rc;
	if ((enc = malloc(BTCORE_RECORD_ENC_MAX)) == NULL)
		return BT_ENOMEM;
	if ((rc = btcore_record_encode(rec, enc, BTCORE_RECORD_ENC_MAX, &n))
	    != BT_OK)
		goto out;
	a.rec = rec;
	a.enc = enc;
	a.enclen = n;
	a.now = now;
	a.flags = flags;
	a.expect_seq = expect_seq;
	a.outcome = 0;
	rc = btstore_write_(st, put_fn, &a);
	if (rc == BT_OK && outcome != NULL)
		*outcome = a.outcome;
out:
	free(enc);
	return rc;
}

static int
get_target(struct btstore *st, const struct bt_id *target,
    const struct bt_pubkey *pub, const void *key, size_t key_len,
    struct bt_record *out, void *buf, size_t cap, size_t *len,
    uint64_t *stamp)
{
	MDB_val k = { BT_ID_LEN, (void *)(uintptr_t)target->b }, v;
	struct bt_record rec;
	struct bt_id again;
	const uint8_t *enc;
	MDB_txn *txn;
	uint64_t ts;
	size_t n;
	int rc, mrc;

	if ((rc = btstore_rtxn_begin_(st, &txn)) != BT_OK)
		return rc;
	mrc = mdb_get(txn, st->dbi[BTSTORE_DB_RECORD_], &k, &v);
	if (mrc != MDB_SUCCESS) {
		rc = btstore_err_(st, mrc, "get record");
		goto out;
	}
	if ((rc = btstore_recstore_decode_(v.mv_data, v.mv_size, &ts, &enc,
	    &n)) != BT_OK)
		goto out;
	rc = btcore_record_decode(&rec, enc, n);
	if (rc == BT_ETRUNC || rc == BT_EFORMAT || rc == BT_EVERIFY ||
	    rc == BT_ERANGE) {
		rc = BT_ECORRUPT;
		goto out;
	}
	if (rc != BT_OK)
		goto out;
	/* the record must be the one its key names */
	if ((rc = btcore_record_target(&again, &rec.pub, rec.key,
	    rec.key_len)) != BT_OK)
		goto out;
	if (memcmp(again.b, target->b, BT_ID_LEN) != 0 || (pub != NULL &&
	    (memcmp(rec.pub.b, pub->b, 32) != 0 || rec.key_len != key_len ||
	    memcmp(rec.key, key, key_len) != 0))) {
		rc = BT_ECORRUPT;
		goto out;
	}
	if (len != NULL)
		*len = n;
	if (n > cap) {
		rc = BT_ERANGE;
		goto out;
	}
	memcpy(buf, enc, n);
	*out = rec;
	if (rec.value != NULL)
		out->value = (const uint8_t *)buf + (rec.value - enc);
	if (stamp != NULL)
		*stamp = ts;
out:
	if (rc == BT_ECORRUPT)
		btstore_log_(st, BTSTORE_LOG_ERROR, "stored record is damaged");
	btstore_rtxn_end_(st, txn);
	return rc;
}

static int
get_check(struct btstore *st, struct bt_record *out, void *buf, size_t cap,
    size_t *len, uint64_t *stamp)
{
	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (len != NULL)
		*len = 0;
	if (stamp != NULL)
		*stamp = 0;
	if (st == NULL || out == NULL || (buf == NULL && cap != 0))
		return BT_EINVAL;
	return BT_OK;
}

int
btstore_record_get(struct btstore *st, const struct bt_pubkey *pub,
    const void *key, size_t key_len, struct bt_record *out, void *buf,
    size_t cap, size_t *len, uint64_t *stamp)
{
	struct bt_id target;
	int rc;

	if ((rc = get_check(st, out, buf, cap, len, stamp)) != BT_OK)
		return rc;
	if (pub == NULL || key == NULL)
		return BT_EINVAL;
	if ((rc = btcore_record_target(&target, pub, key, key_len)) != BT_OK)
		return rc;
	rc = get_target(st, &target, pub, key, key_len, out, buf, cap, len,
	    stamp);
	if (rc != BT_OK)
		memset(out, 0, sizeof(*out));
	return rc;
}

int
btstore_record_get_target(struct btstore *st, const struct bt_id *target,
    struct bt_record *out, void *buf, size_t cap, size_t *len,
    uint64_t *stamp)
{
	int rc;

	if ((rc = get_check(st, out, buf, cap, len, stamp)) != BT_OK)
		return rc;
	if (target == NULL)
		return BT_EINVAL;
	rc = get_target(st, target, NULL, NULL, 0, out, buf, cap, len, stamp);
	if (rc != BT_OK)
		memset(out, 0, sizeof(*out));
	return rc;
}
