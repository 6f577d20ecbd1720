/*
 * test_bag.c - bags: distinct adders, popular, recent, sample, limits,
 * eviction, damaged records.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bt/bag.h>

#include "btstore-internal.h"

Suite *suite_bag(void);

static char dir[64];

static struct btstore *
open_tmp(void)
{
	struct btstore_options *o;
	struct btstore *st;

	snprintf(dir, sizeof(dir), "%s", "/tmp/btstore-test-XXXXXX");
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

static struct bt_id
node(uint32_t n)
{
	struct bt_id id;

	memset(&id, 0, sizeof(id));
	memcpy(id.b, &n, sizeof(n));
	id.b[31] = 0x5a;
	return id;
}

struct got {
	char v[100][32];
	uint32_t count[100];
	uint64_t last[100];
	size_t n;
	size_t stop_at;
};

static int
collect(void *arg, const void *value, size_t len, uint32_t count,
    uint64_t last)
{
	struct got *g = arg;

	ck_assert_uint_lt(len, 32);
	ck_assert_uint_lt(g->n, 100);
	memcpy(g->v[g->n], value, len);
	g->v[g->n][len] = '\0';
	g->count[g->n] = count;
	g->last[g->n] = last;
	g->n++;
	return g->stop_at != 0 && g->n == g->stop_at;
}

START_TEST(add_popular_recent)
{
	struct btstore *st = open_tmp();
	struct bt_id bag = node(1000), other = node(1001), a;
	struct got g;
	uint32_t count, n;
	char v[16];
	int i, j;

	/* value "v<i>" added by i+1 distinct adders, at times 100*i + j */
	for (i = 0; i < 5; i++) {
		snprintf(v, sizeof(v), "v%d", i);
		for (j = 0; j <= i; j++) {
			a = node((uint32_t)j);
			ck_assert_int_eq(btstore_bag_add(st, &bag, v,
			    strlen(v), &a, (uint64_t)(100 * (5 - i) + j),
			    &count), BT_OK);
			ck_assert_uint_eq(count, (uint32_t)j + 1);
		}
	}
	/* a repeated adder does not count twice but moves the time */
	a = node(0);
	ck_assert_int_eq(btstore_bag_add(st, &bag, "v0", 2, &a, 1000, &count),
	    BT_OK);
	ck_assert_uint_eq(count, 1);
	ck_assert_int_eq(btstore_bag_add(st, &other, "x", 1, &a, 5, NULL),
	    BT_OK);
	ck_assert_int_eq(btstore_bag_size(st, &bag, &n), BT_OK);
	ck_assert_uint_eq(n, 5);

	memset(&g, 0, sizeof(g));
	ck_assert_int_eq(btstore_bag_popular(st, &bag, 10, collect, &g), BT_OK);
	ck_assert_uint_eq(g.n, 5);
	for (i = 0; i < 5; i++) {
		snprintf(v, sizeof(v), "v%d", 4 - i);
		ck_assert_str_eq(g.v[i], v);
		ck_assert_uint_eq(g.count[i], (uint32_t)(5 - i));
	}
	memset(&g, 0, sizeof(g));
	ck_assert_int_eq(btstore_bag_recent(st, &bag, 3, collect, &g), BT_OK);
	ck_assert_uint_eq(g.n, 3);
	ck_assert_str_eq(g.v[0], "v0");
	ck_assert_uint_eq(g.last[0], 1000);
	ck_assert_str_eq(g.v[1], "v1");	/* last 401 */
	ck_assert_str_eq(g.v[2], "v2");	/* last 302 */
	/* early stop */
	memset(&g, 0, sizeof(g));
	g.stop_at = 2;
	ck_assert_int_eq(btstore_bag_popular(st, &bag, 10, collect, &g), BT_OK);
	ck_assert_uint_eq(g.n, 2);
	/* other bags are separate; unknown bags are empty */
	memset(&g, 0, sizeof(g));
	ck_assert_int_eq(btstore_bag_recent(st, &other, 10, collect, &g), BT_OK);
	ck_assert_uint_eq(g.n, 1);
	a = node(777);
	memset(&g, 0, sizeof(g));
	ck_assert_int_eq(btstore_bag_popular(st, &a, 10, collect, &g), BT_OK);
	ck_assert_uint_eq(g.n, 0);
	ck_assert_int_eq(btstore_bag_size(st, &a, &n), BT_OK);
	ck_assert_uint_eq(n, 0);

	/* limits */
	ck_assert_int_eq(btstore_bag_add(st, &bag, "", 0, &a, 1, NULL),
	    BT_ERANGE);
	ck_assert_int_eq(btstore_bag_add(st, &bag, g.v,
	    BTSTORE_BAG_VALUE_MAX + 1, &a, 1, NULL), BT_ERANGE);
	ck_assert_int_eq(btstore_bag_popular(st, &bag, 0, collect, &g),
	    BT_ERANGE);
	ck_assert_int_eq(btstore_bag_recent(st, &bag,
	    BTSTORE_BAG_QUERY_MAX + 1, collect, &g), BT_ERANGE);
	ck_assert_int_eq(btstore_bag_sample(st, &bag, 5, NULL, &g), BT_EINVAL);
	ck_assert_int_eq(btstore_bag_add(st, NULL, "a", 1, &a, 1, NULL),
	    BT_EINVAL);
	btstore_close(st);
	rm_tmp();
}
END_TEST

static int
count_hits(void *arg, const void *value, size_t len, uint32_t count,
    uint64_t last)
{
	unsigned *hits = arg;
	unsigned i;

	(void)count;
	(void)last;
	ck_assert_uint_eq(len, 1);
	i = *(const uint8_t *)value;
	ck_assert_uint_lt(i, 20);
	hits[i]++;
	return 0;
}

/* Every value is drawn about equally often, never twice in one answer. */
START_TEST(sample_uniform)
{
	struct btstore *st = open_tmp();
	struct bt_id bag = node(5), a = node(9);
	unsigned hits[20], before[20], round, i, sum;
	uint8_t v;

	for (v = 0; v < 20; v++)
		ck_assert_int_eq(btstore_bag_add(st, &bag, &v, 1, &a, v, NULL),
		    BT_OK);
	memset(hits, 0, sizeof(hits));
	for (round = 0; round < 2000; round++) {
		memcpy(before, hits, sizeof(hits));
		ck_assert_int_eq(btstore_bag_sample(st, &bag, 5, count_hits,
		    hits), BT_OK);
		for (i = 0, sum = 0; i < 20; i++) {
			ck_assert_uint_le(hits[i] - before[i], 1);
			sum += hits[i] - before[i];
		}
		ck_assert_uint_eq(sum, 5);
	}
	/* expected 500 each; 5 sigma is about 100 */
	for (i = 0; i < 20; i++) {
		ck_assert_uint_gt(hits[i], 400);
		ck_assert_uint_lt(hits[i], 600);
	}
	/* asking for more than there is returns all */
	memset(hits, 0, sizeof(hits));
	ck_assert_int_eq(btstore_bag_sample(st, &bag, 100, count_hits, hits),
	    BT_OK);
	for (i = 0; i < 20; i++)
		ck_assert_uint_eq(hits[i], 1);
	btstore_close(st);
	rm_tmp();
}
END_TEST

/* A full bag evicts the value with the fewest adders. */
START_TEST(bag_full_evicts)
{
	struct btstore *st = open_tmp();
	struct bt_id bag = node(6), a;
	struct got g;
	uint32_t n, i;
	char v[16];

	a = node(1);
	ck_assert_int_eq(btstore_bag_add(st, &bag, "keep", 4, &a, 0, NULL),
	    BT_OK);
	a = node(2);
	ck_assert_int_eq(btstore_bag_add(st, &bag, "keep", 4, &a, 0, NULL),
	    BT_OK);
	for (i = 1; i < BTSTORE_BAG_VALUES_MAX; i++) {
		snprintf(v, sizeof(v), "f%u", i);
		ck_assert_int_eq(btstore_bag_add(st, &bag, v, strlen(v), &a,
		    i, NULL), BT_OK);
	}
	ck_assert_int_eq(btstore_bag_size(st, &bag, &n), BT_OK);
	ck_assert_uint_eq(n, BTSTORE_BAG_VALUES_MAX);
	ck_assert_int_eq(btstore_bag_add(st, &bag, "new", 3, &a, 99999, NULL),
	    BT_OK);
	ck_assert_int_eq(btstore_bag_size(st, &bag, &n), BT_OK);
	ck_assert_uint_eq(n, BTSTORE_BAG_VALUES_MAX);
	/* "f1" (one adder, oldest) is gone; "keep" (two) stays on top */
	memset(&g, 0, sizeof(g));
	ck_assert_int_eq(btstore_bag_popular(st, &bag, 1, collect, &g), BT_OK);
	ck_assert_str_eq(g.v[0], "keep");
	/* re-adding f1 makes it new again with count 1 */
	ck_assert_int_eq(btstore_bag_add(st, &bag, "f1", 2, &a, 100000, &n),
	    BT_OK);
	ck_assert_uint_eq(n, 1);
	btstore_close(st);
	rm_tmp();
}
END_TEST

START_TEST(bag_corrupt_entry)
{
	struct btstore *st = open_tmp();
	struct bt_id bag = node(7), a = node(1), vh;
	struct got g;
	uint8_t ek[64];
	MDB_txn *txn;
	MDB_val k, v;
	uint8_t rec[64];

	ck_assert_int_eq(btstore_bag_add(st, &bag, "abc", 3, &a, 1, NULL),
	    BT_OK);
	/* same layout, different value bytes: the hash check catches it */
	ck_assert_int_eq(btcore_id_hash(&vh, "abc", 3), BT_OK);
	memcpy(ek, bag.b, 32);
	memcpy(ek + 32, vh.b, 32);
	ck_assert_int_eq(mdb_txn_begin(st->env, NULL, 0, &txn), 0);
	k.mv_size = 64;
	k.mv_data = ek;
	ck_assert_int_eq(mdb_get(txn, st->dbi[BTSTORE_DB_BAG_], &k, &v), 0);
	ck_assert_uint_eq(v.mv_size, BTSTORE_BAGREC_HDR_ + 3);
	memcpy(rec, v.mv_data, v.mv_size);
	rec[BTSTORE_BAGREC_HDR_] = 'X';
	v.mv_data = rec;
	ck_assert_int_eq(mdb_put(txn, st->dbi[BTSTORE_DB_BAG_], &k, &v, 0), 0);
	ck_assert_int_eq(mdb_txn_commit(txn), 0);
	memset(&g, 0, sizeof(g));
	ck_assert_int_eq(btstore_bag_popular(st, &bag, 5, collect, &g),
	    BT_ECORRUPT);
	ck_assert_uint_eq(g.n, 0);
	ck_assert_int_eq(btstore_bag_sample(st, &bag, 5, collect, &g),
	    BT_ECORRUPT);
	/* a truncated record is refused on write too */
	ck_assert_int_eq(mdb_txn_begin(st->env, NULL, 0, &txn), 0);
	v.mv_size = 10;
	ck_assert_int_eq(mdb_put(txn, st->dbi[BTSTORE_DB_BAG_], &k, &v, 0), 0);
	ck_assert_int_eq(mdb_txn_commit(txn), 0);
	ck_assert_int_eq(btstore_bag_add(st, &bag, "abc", 3, &a, 2, NULL),
	    BT_ECORRUPT);
	btstore_close(st);
	rm_tmp();
}
END_TEST

Suite *
suite_bag(void)
{
	Suite *s = suite_create("bag");
	TCase *tc = tcase_create("bag");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, add_popular_recent);
	tcase_add_test(tc, sample_uniform);
	tcase_add_test(tc, bag_full_evicts);
	tcase_add_test(tc, bag_corrupt_entry);
	suite_add_tcase(s, tc);
	return s;
}
