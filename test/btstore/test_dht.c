/*
 * test_dht.c - DHT values: verified put/get, expiry, republish, quota per
 * origin, total cap with eviction from the heaviest origin; fragments
 * held for other nodes.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bt/dhtval.h>
#include <bt/held.h>

#include "btstore-internal.h"

Suite *suite_dht(void);

static char dir[64];

static struct btstore *
open_tmp(uint64_t total, uint64_t per_origin)
{
	struct btstore_options *o;
	struct btstore *st;

	snprintf(dir, sizeof(dir), "%s", "/tmp/btstore-test-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_eq(btstore_options_new(&o), BT_OK);
	ck_assert_int_eq(btstore_options_set(o, BTSTORE_OPT_NOSYNC, 1), BT_OK);
	ck_assert_int_eq(btstore_options_set(o, BTSTORE_OPT_DHT_TOTAL, total),
	    BT_OK);
	ck_assert_int_eq(btstore_options_set(o, BTSTORE_OPT_DHT_PER_ORIGIN,
	    per_origin), BT_OK);
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

static struct bt_id
node(uint32_t n)
{
	struct bt_id id;

	memset(&id, 0, sizeof(id));
	memcpy(id.b, &n, sizeof(n));
	id.b[31] = 0xa5;
	return id;
}

/* A value of @p len bytes derived from @p n, and its key. */
static void
value(uint8_t *buf, size_t len, uint32_t n, struct bt_id *key)
{
	size_t i;

	for (i = 0; i < len; i++)
		buf[i] = (uint8_t)(n + i * 13);
	memcpy(buf, &n, len < 4 ? len : 4);
	ck_assert_int_eq(btcore_id_hash(key, buf, len), BT_OK);
}

START_TEST(put_get_expire)
{
	struct btstore *st = open_tmp(1 << 20, 1 << 20);
	struct bt_id key, o1 = node(1), got_origin;
	uint8_t buf[500], back[500];
	uint64_t exp, count, bytes;
	size_t len, removed;

	value(buf, sizeof(buf), 1, &key);
	ck_assert_int_eq(btstore_dht_put(st, &key, buf, sizeof(buf), &o1, 100,
	    50), BT_OK);
	ck_assert_int_eq(btstore_dht_get(st, &key, 10, back, sizeof(back), &len,
	    &exp, &got_origin), BT_OK);
	ck_assert_uint_eq(len, sizeof(buf));
	ck_assert_mem_eq(back, buf, len);
	ck_assert_uint_eq(exp, 100);
	ck_assert_mem_eq(got_origin.b, o1.b, 32);
	ck_assert_int_eq(btstore_dht_get(st, &key, 10, back, 10, &len, NULL,
	    NULL), BT_ERANGE);
	ck_assert_uint_eq(len, sizeof(buf));
	/* expired at 100 */
	ck_assert_int_eq(btstore_dht_get(st, &key, 100, back, sizeof(back),
	    &len, NULL, NULL), BT_ENOTFOUND);
	/* wrong key, too big */
	buf[0] ^= 1;
	ck_assert_int_eq(btstore_dht_put(st, &key, buf, sizeof(buf), &o1, 100,
	    50), BT_EVERIFY);
	ck_assert_int_eq(btstore_dht_put(st, &key, buf,
	    BTSTORE_DHT_VALUE_MAX + 1, &o1, 100, 50), BT_ETOOBIG);
	buf[0] ^= 1;
	/* a re-put by anyone extends the life, keeps the origin and bytes */
	ck_assert_int_eq(btstore_dht_put(st, &key, buf, sizeof(buf), &o1, 200,
	    40), BT_OK);
	ck_assert_int_eq(btstore_dht_usage(st, NULL, &count, &bytes), BT_OK);
	ck_assert_uint_eq(count, 1);
	ck_assert_uint_eq(bytes, sizeof(buf));
	ck_assert_int_eq(btstore_dht_expire(st, 150, 10, &removed), BT_OK);
	ck_assert_uint_eq(removed, 0);
	ck_assert_int_eq(btstore_dht_get(st, &key, 150, back, sizeof(back),
	    &len, &exp, NULL), BT_OK);
	ck_assert_uint_eq(exp, 200);
	ck_assert_int_eq(btstore_dht_expire(st, 200, 10, &removed), BT_OK);
	ck_assert_uint_eq(removed, 1);
	ck_assert_int_eq(btstore_dht_get(st, &key, 0, back, sizeof(back), &len,
	    NULL, NULL), BT_ENOTFOUND);
	ck_assert_int_eq(btstore_dht_usage(st, NULL, &count, &bytes), BT_OK);
	ck_assert_uint_eq(count, 0);
	ck_assert_uint_eq(bytes, 0);
	ck_assert_int_eq(btstore_dht_usage(st, &o1, &count, &bytes), BT_OK);
	ck_assert_uint_eq(count, 0);
	btstore_close(st);
	rm_tmp();
}
END_TEST

struct due {
	struct bt_id keys[16];
	size_t n;
};

static int
due_fn(void *arg, const struct bt_id *key, const void *v, size_t len,
    uint64_t expires)
{
	struct due *d = arg;

	(void)v;
	(void)len;
	(void)expires;
	ck_assert_uint_lt(d->n, 16);
	d->keys[d->n++] = *key;
	return 0;
}

START_TEST(republish_due)
{
	struct btstore *st = open_tmp(1 << 20, 1 << 20);
	struct bt_id keys[5], o = node(3);
	uint8_t buf[64];
	struct due d;
	uint32_t i;

	for (i = 0; i < 5; i++) {
		value(buf, sizeof(buf), i, &keys[i]);
		ck_assert_int_eq(btstore_dht_put(st, &keys[i], buf,
		    sizeof(buf), &o, 1000, 10 * (5 - i)), BT_OK);
	}
	memset(&d, 0, sizeof(d));
	ck_assert_int_eq(btstore_dht_due(st, 30, 16, due_fn, &d), BT_OK);
	ck_assert_uint_eq(d.n, 3);	/* times 10, 20, 30 */
	ck_assert_mem_eq(d.keys[0].b, keys[4].b, 32);
	ck_assert_mem_eq(d.keys[2].b, keys[2].b, 32);
	ck_assert_int_eq(btstore_dht_set_republish(st, &keys[4], 500), BT_OK);
	memset(&d, 0, sizeof(d));
	ck_assert_int_eq(btstore_dht_due(st, 30, 1, due_fn, &d), BT_OK);
	ck_assert_uint_eq(d.n, 1);
	ck_assert_mem_eq(d.keys[0].b, keys[3].b, 32);
	ck_assert_int_eq(btstore_dht_set_republish(st, &o, 5), BT_ENOTFOUND);
	btstore_close(st);
	rm_tmp();
}
END_TEST

START_TEST(quota_and_cap)
{
	struct btstore *st = open_tmp(10000, 4000);
	struct bt_id o[3] = { node(10), node(11), node(12) }, keys[12];
	uint8_t buf[1000];
	uint64_t count, bytes;
	size_t len;
	uint32_t i;

	/* origin 0: 4 x 1000 fills its quota; a fifth is refused */
	for (i = 0; i < 4; i++) {
		value(buf, sizeof(buf), i, &keys[i]);
		ck_assert_int_eq(btstore_dht_put(st, &keys[i], buf,
		    sizeof(buf), &o[0], 100 + i, 50), BT_OK);
	}
	value(buf, sizeof(buf), 4, &keys[4]);
	ck_assert_int_eq(btstore_dht_put(st, &keys[4], buf, sizeof(buf), &o[0],
	    100, 50), BT_ENOSPC);
	/* origin 1: 3 values; origin 2: 3 values -> total 10000 */
	for (i = 4; i < 10; i++) {
		value(buf, sizeof(buf), i, &keys[i]);
		ck_assert_int_eq(btstore_dht_put(st, &keys[i], buf,
		    sizeof(buf), &o[i < 7 ? 1 : 2], 100 + i, 50), BT_OK);
	}
	ck_assert_int_eq(btstore_dht_usage(st, NULL, &count, &bytes), BT_OK);
	ck_assert_uint_eq(bytes, 10000);
	/* one more (origin 2) evicts from origin 0, soonest expiry first */
	value(buf, sizeof(buf), 10, &keys[10]);
	ck_assert_int_eq(btstore_dht_put(st, &keys[10], buf, sizeof(buf),
	    &o[2], 200, 50), BT_OK);
	ck_assert_int_eq(btstore_dht_get(st, &keys[0], 0, buf, sizeof(buf),
	    &len, NULL, NULL), BT_ENOTFOUND);
	ck_assert_int_eq(btstore_dht_get(st, &keys[1], 0, buf, sizeof(buf),
	    &len, NULL, NULL), BT_OK);
	ck_assert_int_eq(btstore_dht_usage(st, &o[0], &count, &bytes), BT_OK);
	ck_assert_uint_eq(count, 3);
	ck_assert_int_eq(btstore_dht_usage(st, &o[2], &count, &bytes), BT_OK);
	ck_assert_uint_eq(count, 4);
	/* now origin 2 is heaviest (4000): the next eviction hits it */
	value(buf, sizeof(buf), 11, &keys[11]);
	ck_assert_int_eq(btstore_dht_put(st, &keys[11], buf, sizeof(buf),
	    &o[1], 300, 50), BT_OK);
	ck_assert_int_eq(btstore_dht_get(st, &keys[7], 0, buf, sizeof(buf),
	    &len, NULL, NULL), BT_ENOTFOUND);
	ck_assert_int_eq(btstore_dht_usage(st, NULL, &count, &bytes), BT_OK);
	ck_assert_uint_eq(count, 10);
	ck_assert_uint_eq(bytes, 10000);
	btstore_close(st);
	rm_tmp();
}
END_TEST

START_TEST(dht_corrupt)
{
	struct btstore *st = open_tmp(1 << 20, 1 << 20);
	struct bt_id key, o = node(1);
	uint8_t buf[100], rec[200];
	MDB_txn *txn;
	MDB_val k, v;
	size_t len;

	value(buf, sizeof(buf), 9, &key);
	ck_assert_int_eq(btstore_dht_put(st, &key, buf, sizeof(buf), &o, 100,
	    50), BT_OK);
	ck_assert_int_eq(mdb_txn_begin(st->env, NULL, 0, &txn), 0);
	k.mv_size = 32;
	k.mv_data = key.b;
	ck_assert_int_eq(mdb_get(txn, st->dbi[BTSTORE_DB_DHT_], &k, &v), 0);
	memcpy(rec, v.mv_data, v.mv_size);
	rec[v.mv_size - 1] ^= 0x80;
	v.mv_data = rec;
	ck_assert_int_eq(mdb_put(txn, st->dbi[BTSTORE_DB_DHT_], &k, &v, 0), 0);
	ck_assert_int_eq(mdb_txn_commit(txn), 0);
	memset(buf, 0, sizeof(buf));
	ck_assert_int_eq(btstore_dht_get(st, &key, 0, buf, sizeof(buf), &len,
	    NULL, NULL), BT_ECORRUPT);
	ck_assert_uint_eq(len, 0);
	btstore_close(st);
	rm_tmp();
}
END_TEST

struct flist {
	size_t n;
	uint16_t idx[8];
	size_t len[8];
};

static int
frag_fn(void *arg, const struct bt_id *block, uint16_t index, size_t len,
    uint64_t expires, const struct bt_id *contract)
{
	struct flist *f = arg;

	(void)block;
	(void)expires;
	ck_assert_uint_eq(contract->b[0], 0xcc);
	ck_assert_uint_lt(f->n, 8);
	f->idx[f->n] = index;
	f->len[f->n] = len;
	f->n++;
	return 0;
}

START_TEST(fragments)
{
	struct btstore *st = open_tmp(1 << 20, 1 << 20);
	struct bt_id owner = node(1), owner2 = node(2), block = node(50), c;
	static uint8_t frag[BTSTORE_FRAG_MAX + 1], back[BTSTORE_FRAG_MAX];
	struct flist f;
	uint64_t exp;
	size_t len, removed;
	MDB_txn *txn;
	MDB_val k, v;
	uint8_t fk[66], rec[200];
	uint16_t i;

	memset(&c, 0xcc, sizeof(c));
	memset(frag, 0x3c, sizeof(frag));
	for (i = 0; i < 4; i++)
		ck_assert_int_eq(btstore_frag_put(st, &owner, &block, i, frag,
		    100 + i, 10 * (i + 1), &c), BT_OK);
	ck_assert_int_eq(btstore_frag_put(st, &owner2, &block, 0, frag,
	    BTSTORE_FRAG_MAX, 1000, &c), BT_OK);
	ck_assert_int_eq(btstore_frag_put(st, &owner2, &block, 1, frag,
	    BTSTORE_FRAG_MAX + 1, 1000, &c), BT_ETOOBIG);
	ck_assert_int_eq(btstore_frag_get(st, &owner, &block, 2, back,
	    sizeof(back), &len, &exp, NULL), BT_OK);
	ck_assert_uint_eq(len, 102);
	ck_assert_uint_eq(exp, 30);
	ck_assert_mem_eq(back, frag, len);
	ck_assert_int_eq(btstore_frag_get(st, &owner, &block, 9, back,
	    sizeof(back), &len, &exp, NULL), BT_ENOTFOUND);
	/* replace moves the expiry */
	ck_assert_int_eq(btstore_frag_put(st, &owner, &block, 0, frag, 100,
	    500, &c), BT_OK);
	memset(&f, 0, sizeof(f));
	ck_assert_int_eq(btstore_frag_list(st, &owner, frag_fn, &f), BT_OK);
	ck_assert_uint_eq(f.n, 4);
	for (i = 0; i < 4; i++) {
		ck_assert_uint_eq(f.idx[i], i);
		ck_assert_uint_eq(f.len[i], 100u + i);
	}
	ck_assert_int_eq(btstore_frag_expire(st, 30, 100, &removed), BT_OK);
	ck_assert_uint_eq(removed, 2);	/* 1 (20) and 2 (30) */
	ck_assert_int_eq(btstore_frag_del(st, &owner, &block, 3), BT_OK);
	ck_assert_int_eq(btstore_frag_del(st, &owner, &block, 3), BT_ENOTFOUND);
	memset(&f, 0, sizeof(f));
	ck_assert_int_eq(btstore_frag_list(st, &owner, frag_fn, &f), BT_OK);
	ck_assert_uint_eq(f.n, 1);
	ck_assert_uint_eq(f.idx[0], 0);

	/* a flipped byte in a fragment is caught */
	memcpy(fk, owner.b, 32);
	memcpy(fk + 32, block.b, 32);
	fk[64] = 0;
	fk[65] = 0;
	ck_assert_int_eq(mdb_txn_begin(st->env, NULL, 0, &txn), 0);
	k.mv_size = sizeof(fk);
	k.mv_data = fk;
	ck_assert_int_eq(mdb_get(txn, st->dbi[BTSTORE_DB_FRAG_], &k, &v), 0);
	memcpy(rec, v.mv_data, v.mv_size);
	rec[BTSTORE_FRAGREC_HDR_ + 7] ^= 1;
	v.mv_data = rec;
	ck_assert_int_eq(mdb_put(txn, st->dbi[BTSTORE_DB_FRAG_], &k, &v, 0), 0);
	ck_assert_int_eq(mdb_txn_commit(txn), 0);
	ck_assert_int_eq(btstore_frag_get(st, &owner, &block, 0, back,
	    sizeof(back), &len, NULL, NULL), BT_ECORRUPT);
	btstore_close(st);
	rm_tmp();
}
END_TEST

Suite *
suite_dht(void)
{
	Suite *s = suite_create("dht");
	TCase *tc = tcase_create("dht");

	tcase_add_test(tc, put_get_expire);
	tcase_add_test(tc, republish_due);
	tcase_add_test(tc, quota_and_cap);
	tcase_add_test(tc, dht_corrupt);
	tcase_add_test(tc, fragments);
	suite_add_tcase(s, tc);
	return s;
}
