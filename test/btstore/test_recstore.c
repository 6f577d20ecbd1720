/*
 * test_recstore.c - mutable records: the sequence table with
 * compare-and-swap, look-ups by (key, name) and by target, signatures
 * checked on put and on get, damaged records, notifications, the stored
 * layout.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bt/recordstore.h>

#include "btstore-internal.h"
#include "recstore-internal.h"

Suite *suite_recstore(void);

static char dir[64];

static struct btstore *
open_tmp(void)
{
	struct btstore_options *o;
	struct btstore *st;

	snprintf(dir, sizeof(dir), "%s", "/tmp/btstore-rec-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_eq(btstore_options_new(&o), BT_OK);
	ck_assert_int_eq(btstore_options_set(o, BTSTORE_OPT_NOSYNC, 1), BT_OK);
	ck_assert_int_eq(btstore_open(&st, dir, o), BT_OK);
	btstore_options_free(o);
	return st;
}

static void
rm_tmp(void)
{
	char p[128];

	snprintf(p, sizeof(p), "%s/data.mdb", dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/lock.mdb", dir);
	unlink(p);
	rmdir(dir);
}

static struct btcore_key *key;
static struct btcore_signer signer;

static void
setup(void)
{
	uint8_t s[BTCORE_ED25519_SEED_LEN];

	memset(s, 0x42, sizeof(s));
	ck_assert_int_eq(btcore_key_from_seed(&key, s), BT_OK);
	btcore_key_signer(key, &signer);
}

static void
teardown(void)
{
	btcore_key_free(key);
	key = NULL;
}

static struct bt_record
rec(const char *name, const char *value, uint64_t seq)
{
	struct bt_record r;

	ck_assert_int_eq(btcore_record_sign(&r, &signer, name, strlen(name),
	    value, strlen(value), seq), BT_OK);
	return r;
}

/* The stored value under @p name is @p value at @p seq, stamped @p ts. */
static void
expect(struct btstore *st, const char *name, const char *value,
    uint64_t seq, uint64_t ts)
{
	struct bt_record got;
	uint8_t buf[BTCORE_RECORD_ENC_MAX];
	uint64_t stamp;
	size_t len;

	ck_assert_int_eq(btstore_record_get(st, &signer.pub, name, strlen(name),
	    &got, buf, sizeof(buf), &len, &stamp), BT_OK);
	ck_assert_uint_eq(got.seq, seq);
	ck_assert_uint_eq(got.value_len, strlen(value));
	ck_assert(got.value_len == 0 ||
	    memcmp(got.value, value, got.value_len) == 0);
	ck_assert(got.value_len == 0 ||
	    (got.value >= buf && got.value + got.value_len <= buf + len));
	ck_assert_uint_eq(stamp, ts);
	ck_assert_int_eq(btcore_record_verify(&got), BT_OK);
}

START_TEST(sequence_table)
{
	struct btstore *st = open_tmp();
	struct bt_record r;
	int outcome;
	static const struct {
		const char *value;
		uint64_t seq;
		unsigned flags;
		uint64_t expect_seq;
		int rc;
		int outcome;
		const char *after;	/* value stored afterwards */
		uint64_t after_seq;
		uint64_t after_ts;
	} t[] = {
		/* CAS on an absent record fails; create-only succeeds */
		{ "a", 5, BTSTORE_RECORD_IF_SEQ, 0, BT_ESTATE, 0, NULL, 0, 0 },
		{ "a", 5, BTSTORE_RECORD_IF_ABSENT, 0, BT_OK,
		    BTCORE_RECORD_ACCEPT, "a", 5, 1 },
		{ "a", 6, BTSTORE_RECORD_IF_ABSENT, 0, BT_ESTATE, 0, "a", 5, 1 },
		/* the same record refreshes; time stamp moves */
		{ "a", 5, 0, 0, BT_OK, BTCORE_RECORD_REFRESH, "a", 5, 3 },
		/* same sequence, other value; lower sequence */
		{ "b", 5, 0, 0, BT_ECONFLICT, 0, "a", 5, 3 },
		{ "b", 4, 0, 0, BT_ESTALE, 0, "a", 5, 3 },
		{ "a", 0, 0, 0, BT_ESTALE, 0, "a", 5, 3 },
		/* higher sequence replaces */
		{ "b", 6, 0, 0, BT_OK, BTCORE_RECORD_ACCEPT, "b", 6, 7 },
		/* CAS: wrong expectation, right expectation */
		{ "c", 7, BTSTORE_RECORD_IF_SEQ, 5, BT_ESTATE, 0, "b", 6, 7 },
		{ "c", 7, BTSTORE_RECORD_IF_SEQ, 6, BT_OK,
		    BTCORE_RECORD_ACCEPT, "c", 7, 9 },
		/* CAS holds but the sequence rules still apply */
		{ "d", 6, BTSTORE_RECORD_IF_SEQ, 7, BT_ESTALE, 0, "c", 7, 9 },
		{ "d", 7, BTSTORE_RECORD_IF_SEQ, 7, BT_ECONFLICT, 0, "c", 7, 9 },
		{ "c", 7, BTSTORE_RECORD_IF_SEQ, 7, BT_OK,
		    BTCORE_RECORD_REFRESH, "c", 7, 11 },
		/* an empty value is a value */
		{ "", 8, 0, 0, BT_OK, BTCORE_RECORD_ACCEPT, "", 8, 12 },
		{ "", UINT64_MAX, 0, 0, BT_OK, BTCORE_RECORD_ACCEPT, "",
		    UINT64_MAX, 13 },
	};
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		r = rec("name", t[i].value, t[i].seq);
		outcome = -99;
		ck_assert_msg(btstore_record_put(st, &r, t[i].after_ts ?
		    t[i].after_ts : 100, t[i].flags, t[i].expect_seq,
		    &outcome) == t[i].rc, "row %zu", i);
		ck_assert_msg(outcome == t[i].outcome, "row %zu outcome %d", i,
		    outcome);
		if (t[i].after != NULL)
			expect(st, "name", t[i].after, t[i].after_seq,
			    t[i].after_ts);
	}
	/* bad flags */
	r = rec("name", "z", 100);
	ck_assert_int_eq(btstore_record_put(st, &r, 1,
	    BTSTORE_RECORD_IF_SEQ | BTSTORE_RECORD_IF_ABSENT, 0, NULL),
	    BT_EINVAL);
	ck_assert_int_eq(btstore_record_put(st, &r, 1, 0x80, 0, NULL),
	    BT_EINVAL);
	ck_assert_int_eq(btstore_record_put(st, NULL, 1, 0, 0, NULL),
	    BT_EINVAL);
	ck_assert_int_eq(btstore_record_put(NULL, &r, 1, 0, 0, NULL),
	    BT_EINVAL);
	btstore_close(st);
	rm_tmp();
}
END_TEST

START_TEST(lookups)
{
	struct btstore *st = open_tmp();
	struct bt_record r, got;
	struct bt_id target;
	uint8_t buf[BTCORE_RECORD_ENC_MAX], small[40];
	uint8_t big[BTCORE_RECORD_VALUE_MAX];
	size_t len;
	uint64_t stamp;

	memset(big, 'v', sizeof(big));
	r = rec("one", "value-1", 1);
	ck_assert_int_eq(btstore_record_put(st, &r, 50, 0, 0, NULL), BT_OK);
	ck_assert_int_eq(btcore_record_sign(&r, &signer, "two", 3, big,
	    sizeof(big), 2), BT_OK);
	ck_assert_int_eq(btstore_record_put(st, &r, 60, 0, 0, NULL), BT_OK);
	/* by target */
	ck_assert_int_eq(btcore_record_target(&target, &signer.pub, "two", 3),
	    BT_OK);
	ck_assert_int_eq(btstore_record_get_target(st, &target, &got, buf,
	    sizeof(buf), &len, &stamp), BT_OK);
	ck_assert_uint_eq(len, BTCORE_RECORD_ENC_MAX - (64 - 3));
	ck_assert_uint_eq(got.value_len, sizeof(big));
	ck_assert(memcmp(got.value, big, sizeof(big)) == 0);
	ck_assert_uint_eq(stamp, 60);
	ck_assert_uint_eq(got.seq, 2);
	/* the copied encoding decodes to the same record */
	ck_assert_int_eq(btcore_record_decode(&r, buf, len), BT_OK);
	ck_assert(r.value == got.value);
	/* buffer too small: the length is still reported */
	ck_assert_int_eq(btstore_record_get(st, &signer.pub, "one", 3, &got,
	    small, sizeof(small), &len, NULL), BT_ERANGE);
	ck_assert_uint_gt(len, sizeof(small));
	ck_assert_uint_eq(got.seq, 0);
	/* unknown names and targets; bad arguments */
	ck_assert_int_eq(btstore_record_get(st, &signer.pub, "three", 5, &got,
	    buf, sizeof(buf), NULL, NULL), BT_ENOTFOUND);
	target.b[0] ^= 1;
	ck_assert_int_eq(btstore_record_get_target(st, &target, &got, buf,
	    sizeof(buf), NULL, NULL), BT_ENOTFOUND);
	ck_assert_int_eq(btstore_record_get(st, &signer.pub, "", 0, &got,
	    buf, sizeof(buf), NULL, NULL), BT_ERANGE);
	ck_assert_int_eq(btstore_record_get(st, &signer.pub, "one", 3, NULL,
	    buf, sizeof(buf), NULL, NULL), BT_EINVAL);
	ck_assert_int_eq(btstore_record_get(st, &signer.pub, "one", 3, &got,
	    NULL, 10, NULL, NULL), BT_EINVAL);
	expect(st, "one", "value-1", 1, 50);
	btstore_close(st);
	rm_tmp();
}
END_TEST

START_TEST(signature_checked_on_put)
{
	struct btstore *st = open_tmp();
	struct bt_record r;
	uint8_t buf[BTCORE_RECORD_ENC_MAX];
	struct bt_record got;

	r = rec("name", "value", 3);
	r.sig.b[7] ^= 1;
	ck_assert_int_eq(btstore_record_put(st, &r, 1, 0, 0, NULL),
	    BT_EVERIFY);
	r = rec("name", "value", 3);
	r.seq = 4;	/* the signature covers the sequence */
	ck_assert_int_eq(btstore_record_put(st, &r, 1, 0, 0, NULL),
	    BT_EVERIFY);
	r = rec("name", "value", 3);
	r.pub.b[0] ^= 1;
	ck_assert_int_eq(btstore_record_put(st, &r, 1, 0, 0, NULL),
	    BT_EVERIFY);
	ck_assert_int_eq(btstore_record_get(st, &signer.pub, "name", 4, &got,
	    buf, sizeof(buf), NULL, NULL), BT_ENOTFOUND);
	btstore_close(st);
	rm_tmp();
}
END_TEST

/* Rewrite the stored bytes of @p target: flip byte @p off by @p x, or
 * cut them to @p newlen. */
static void
poke(struct btstore *st, const struct bt_id *target, size_t off, uint8_t x,
    size_t newlen)
{
	MDB_txn *txn;
	MDB_val k = { 32, (void *)(uintptr_t)target->b }, v;
	uint8_t copy[BTSTORE_RECSTORE_HDR_ + BTCORE_RECORD_ENC_MAX];

	ck_assert_int_eq(mdb_txn_begin(st->env, NULL, 0, &txn), 0);
	ck_assert_int_eq(mdb_get(txn, st->dbi[BTSTORE_DB_RECORD_], &k, &v), 0);
	memcpy(copy, v.mv_data, v.mv_size);
	copy[off] ^= x;
	if (newlen != 0)
		v.mv_size = newlen;
	v.mv_data = copy;
	ck_assert_int_eq(mdb_put(txn, st->dbi[BTSTORE_DB_RECORD_], &k, &v, 0),
	    0);
	ck_assert_int_eq(mdb_txn_commit(txn), 0);
}

START_TEST(damage_detected)
{
	struct btstore *st = open_tmp();
	struct bt_record r, got;
	struct bt_id target;
	uint8_t buf[BTCORE_RECORD_ENC_MAX];
	size_t len, off, n;
	int rc;

	r = rec("name", "some value", 9);
	ck_assert_int_eq(btcore_record_target(&target, &signer.pub, "name", 4),
	    BT_OK);
	n = BTSTORE_RECSTORE_HDR_ + 1 + 32 + 8 + 1 + 4 + 2 + 10 + 64;
	ck_assert_uint_le(n, sizeof(buf));
	/* every byte flipped is detected, by gets and by puts */
	for (off = 0; off < n; off++) {
		ck_assert_int_eq(btstore_record_put(st, &r, 1, 0, 0, NULL),
		    BT_OK);
		poke(st, &target, off, 0x10, 0);
		rc = btstore_record_get(st, &signer.pub, "name", 4, &got, buf,
		    sizeof(buf), &len, NULL);
		ck_assert_msg(rc == BT_ECORRUPT, "offset %zu: %d", off, rc);
		ck_assert_uint_eq(got.seq, 0);
		ck_assert_int_eq(btstore_record_put(st, &r, 1, 0, 0, NULL),
		    BT_ECORRUPT);
		/* repair for the next round */
		{
			MDB_txn *txn;
			MDB_val k = { 32, target.b };

			ck_assert_int_eq(mdb_txn_begin(st->env, NULL, 0, &txn),
			    0);
			ck_assert_int_eq(mdb_del(txn,
			    st->dbi[BTSTORE_DB_RECORD_], &k, NULL), 0);
			ck_assert_int_eq(mdb_txn_commit(txn), 0);
		}
	}
	/* truncated */
	ck_assert_int_eq(btstore_record_put(st, &r, 1, 0, 0, NULL), BT_OK);
	poke(st, &target, 0, 0, n - 1);
	ck_assert_int_eq(btstore_record_get_target(st, &target, &got, buf,
	    sizeof(buf), &len, NULL), BT_ECORRUPT);
	ck_assert_int_eq(btstore_record_put(st, &r, 1, 0, 0, NULL),
	    BT_ECORRUPT);
	btstore_close(st);
	rm_tmp();
}
END_TEST

static void
on_record(void *arg, int kind, int event, const void *k, size_t keylen)
{
	ck_assert_int_eq(kind, BTSTORE_TOPIC_RECORD);
	ck_assert_int_eq(event, BTSTORE_EV_PUT);
	ck_assert_uint_eq(keylen, 32);
	(void)k;
	(*(unsigned *)arg)++;
}

START_TEST(notifications)
{
	struct btstore *st = open_tmp();
	struct bt_record r;
	struct bt_id target;
	unsigned n = 0;
	uint64_t w;
	size_t d;

	ck_assert_int_eq(btcore_record_target(&target, &signer.pub, "n", 1),
	    BT_OK);
	ck_assert_int_eq(btstore_watch(st, BTSTORE_TOPIC_RECORD, target.b, 32,
	    on_record, &n, &w), BT_OK);
	r = rec("n", "1", 1);
	ck_assert_int_eq(btstore_record_put(st, &r, 1, 0, 0, NULL), BT_OK);
	ck_assert_int_eq(btstore_record_put(st, &r, 2, 0, 0, NULL), BT_OK);
	r = rec("n", "2", 2);
	ck_assert_int_eq(btstore_record_put(st, &r, 3, 0, 0, NULL), BT_OK);
	r = rec("n", "0", 1);
	ck_assert_int_eq(btstore_record_put(st, &r, 4, 0, 0, NULL), BT_ESTALE);
	r = rec("other", "0", 1);
	ck_assert_int_eq(btstore_record_put(st, &r, 4, 0, 0, NULL), BT_OK);
	ck_assert_int_eq(btstore_notify_dispatch(st, &d), BT_OK);
	ck_assert_uint_eq(n, 2);	/* new, replaced; no refresh */
	btstore_close(st);
	rm_tmp();
}
END_TEST

START_TEST(codec)
{
	struct bt_record r, p;
	static uint8_t big[BTSTORE_RECSTORE_HDR_ + BTCORE_RECORD_ENC_MAX + 1];
	uint8_t enc[200], stored[300];
	const uint8_t *e;
	uint64_t stamp;
	size_t n, len, el, h;

	r = rec("key", "value", 77);
	ck_assert_int_eq(btcore_record_encode(&r, enc, sizeof(enc), &n),
	    BT_OK);
	ck_assert_int_eq(btstore_recstore_parse_(enc, n, &p), BT_OK);
	ck_assert_uint_eq(p.seq, 77);
	ck_assert_uint_eq(p.key_len, 3);
	ck_assert(p.value == enc + 1 + 32 + 8 + 1 + 3 + 2);
	ck_assert(memcmp(&p.sig, &r.sig, 64) == 0);
	for (len = 0; len < n; len++)
		ck_assert_int_eq(btstore_recstore_parse_(enc, len, &p),
		    BT_ECORRUPT);
	ck_assert_int_eq(btstore_recstore_parse_(enc, n + 1, &p), BT_ECORRUPT);
	enc[0] = 'X';
	ck_assert_int_eq(btstore_recstore_parse_(enc, n, &p), BT_ECORRUPT);
	enc[0] = 'R';
	enc[41] = 0;
	ck_assert_int_eq(btstore_recstore_parse_(enc, n, &p), BT_ECORRUPT);
	enc[41] = 3;
	/* the stored wrapper */
	h = BTSTORE_RECSTORE_HDR_;
	ck_assert_int_eq(btstore_recstore_encode_(stored, 1234, enc, n), BT_OK);
	ck_assert_int_eq(btstore_recstore_decode_(stored, n + h, &stamp, &e,
	    &el), BT_OK);
	ck_assert_uint_eq(stamp, 1234);
	ck_assert_uint_eq(el, n);
	ck_assert(e == stored + h);
	for (len = 0; len < n + h; len++)
		ck_assert_int_eq(btstore_recstore_decode_(stored, len, &stamp,
		    &e, &el), BT_ECORRUPT);
	for (len = 0; len < n + h; len++) {
		stored[len] ^= 0x20;
		ck_assert_int_eq(btstore_recstore_decode_(stored, n + h,
		    &stamp, &e, &el), BT_ECORRUPT);
		stored[len] ^= 0x20;
	}
	ck_assert_int_eq(btstore_recstore_decode_(big, h +
	    BTCORE_RECORD_ENC_MAX + 1, &stamp, &e, &el), BT_ECORRUPT);
}
END_TEST

Suite *
suite_recstore(void)
{
	Suite *s = suite_create("recstore");
	TCase *tc = tcase_create("recstore");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, sequence_table);
	tcase_add_test(tc, lookups);
	tcase_add_test(tc, signature_checked_on_put);
	tcase_add_test(tc, damage_detected);
	tcase_add_test(tc, notifications);
	tcase_add_test(tc, codec);
	suite_add_tcase(s, tc);
	return s;
}
