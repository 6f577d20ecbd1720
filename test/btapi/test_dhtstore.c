/*
 * test_dhtstore.c - the DHT storage over a real temporary LMDB store:
 * values are blocks, bags and records land in the store, the budgets
 * hold, republish and expire keep their bookkeeping, the table grows.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bt/apidht.h>
#include <bt/dhtstore.h>
#include <bt/error.h>
#include <bt/id.h>
#include <bt/key.h>
#include <bt/record.h>
#include <bt/store.h>

Suite *suite_dhtstore(void);

static char dir[64];
static struct btstore *st;
static struct btapi_dhtstore *ds;
static struct btnet_dht_storage io;
static struct bt_id origin;

static void
setup(void)
{
	struct btstore_options *o;

	snprintf(dir, sizeof(dir), "%s", "/tmp/btapi-dht-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_eq(btstore_options_new(&o), BT_OK);
	ck_assert_int_eq(btstore_options_set(o, BTSTORE_OPT_NOSYNC, 1), BT_OK);
	ck_assert_int_eq(btstore_open(&st, dir, o), BT_OK);
	btstore_options_free(o);
	memset(&origin, 7, sizeof(origin));
	ds = NULL;
	memset(&io, 0, sizeof(io));
}

static void
teardown(void)
{
	char p[128];

	btapi_dhtstore_free(ds);
	ds = NULL;
	btstore_close(st);
	snprintf(p, sizeof(p), "%s/data.mdb", dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/lock.mdb", dir);
	unlink(p);
	rmdir(dir);
}

static void
open_ds(uint64_t bytes, uint32_t items)
{
	ck_assert_int_eq(btapi_dhtstore_new(&ds, st, bytes, items), BT_OK);
	btapi_dhtstore_storage(ds, &io);
	ck_assert_ptr_eq(io.ctx, ds);
}

/* A value of @p len bytes made from @p seed; its key in @p key. */
static void
value_of(uint8_t *buf, size_t len, unsigned seed, struct bt_id *key)
{
	size_t i;

	for (i = 0; i < len; i++)
		buf[i] = (uint8_t)(seed * 131u + i * 7u + (i >> 8));
	/* distinct for every seed */
	for (i = 0; i < 4 && i < len; i++)
		buf[i] = (uint8_t)(seed >> (8 * i));
	ck_assert_int_eq(btcore_id_hash(key, buf, len), BT_OK);
}

static size_t
items_now(void)
{
	size_t n = 99;

	btapi_dhtstore_count(ds, &n, NULL);
	return n;
}

START_TEST(args)
{
	struct btapi_dhtstore *x = (struct btapi_dhtstore *)1;
	size_t n = 5;
	uint64_t b = 5;

	ck_assert_int_eq(btapi_dhtstore_new(&x, NULL, 0, 0), BT_EINVAL);
	ck_assert_ptr_null(x);
	ck_assert_int_eq(btapi_dhtstore_new(NULL, st, 0, 0), BT_EINVAL);
	btapi_dhtstore_free(NULL);
	btapi_dhtstore_count(NULL, &n, &b);
	ck_assert_uint_eq(n, 0);
	ck_assert_uint_eq(b, 0);
	btapi_dhtstore_storage(NULL, &io);
	ck_assert_ptr_null(io.ctx);
	open_ds(0, 0);
	ck_assert(io.value_put != NULL);
	ck_assert(io.expire != NULL);
	btapi_dhtstore_count(ds, NULL, NULL);
	ck_assert_uint_eq(items_now(), 0);
}
END_TEST

START_TEST(values_are_blocks)
{
	static uint8_t buf[4096], back[4096];
	struct bt_id key, other;
	const uint8_t *v;
	size_t len = 0;
	uint64_t bytes = 0;
	size_t n = 0;

	open_ds(0, 0);
	value_of(buf, sizeof(buf), 1, &key);
	ck_assert_int_eq(io.value_get(io.ctx, &key, &v, &len), BT_ENOTFOUND);
	ck_assert_int_eq(io.value_put(io.ctx, &key, buf, sizeof(buf), &origin,
	    1000), BT_OK);
	/* the value is a block of the store */
	ck_assert_int_eq(btstore_block_get(st, &key, back, sizeof(back), &len),
	    BT_OK);
	ck_assert_uint_eq(len, sizeof(buf));
	ck_assert_mem_eq(back, buf, sizeof(buf));
	ck_assert_int_eq(io.value_get(io.ctx, &key, &v, &len), BT_OK);
	ck_assert_uint_eq(len, sizeof(buf));
	ck_assert_mem_eq(v, buf, sizeof(buf));
	btapi_dhtstore_count(ds, &n, &bytes);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(bytes, sizeof(buf));
	/* again: refreshed, not counted twice */
	ck_assert_int_eq(io.value_put(io.ctx, &key, buf, sizeof(buf), &origin,
	    2000), BT_OK);
	btapi_dhtstore_count(ds, &n, &bytes);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(bytes, sizeof(buf));
	/* a block the node holds for itself answers too */
	value_of(buf, 100, 2, &other);
	ck_assert_int_eq(btstore_block_put(st, &other, buf, 100, 0), BT_OK);
	ck_assert_int_eq(io.value_get(io.ctx, &other, &v, &len), BT_OK);
	ck_assert_uint_eq(len, 100);
	/* a value above a block is refused before the store sees it */
	ck_assert_int_eq(io.value_put(io.ctx, &key, buf,
	    (size_t)BTSTORE_BLOCK_MAX + 1, &origin, 3000), BT_ETOOBIG);
}
END_TEST

START_TEST(budgets)
{
	static uint8_t buf[1000];
	struct bt_id key[5];
	unsigned i;
	uint64_t bytes = 0;

	open_ds(2500, 3);
	for (i = 0; i < 3; i++) {
		value_of(buf, 500, 10 + i, &key[i]);
		ck_assert_int_eq(io.value_put(io.ctx, &key[i], buf, 500,
		    &origin, 100), BT_OK);
	}
	/* the item budget */
	value_of(buf, 10, 20, &key[3]);
	ck_assert_int_eq(io.value_put(io.ctx, &key[3], buf, 10, &origin, 100),
	    BT_ENOSPC);
	ck_assert_uint_eq(items_now(), 3);
	btapi_dhtstore_free(ds);
	/* the byte budget, also for a value stored again larger */
	open_ds(1200, 100);
	value_of(buf, 1000, 30, &key[4]);
	ck_assert_int_eq(io.value_put(io.ctx, &key[4], buf, 1000, &origin,
	    100), BT_OK);
	value_of(buf, 300, 31, &key[3]);
	ck_assert_int_eq(io.value_put(io.ctx, &key[3], buf, 300, &origin, 100),
	    BT_ENOSPC);
	value_of(buf, 200, 31, &key[3]);
	ck_assert_int_eq(io.value_put(io.ctx, &key[3], buf, 200, &origin, 100),
	    BT_OK);
	btapi_dhtstore_count(ds, NULL, &bytes);
	ck_assert_uint_eq(bytes, 1200);
	/* bags count as items of no bytes */
	ck_assert_int_eq(io.bag_add(io.ctx, &key[0], key[1].b, &origin, 100),
	    BT_OK);
	ck_assert_uint_eq(items_now(), 3);
}
END_TEST

START_TEST(bags)
{
	struct bt_id bag, vals[4], adder;
	uint8_t out[8][32];
	size_t n = 9;
	unsigned i;

	open_ds(0, 0);
	memset(&bag, 0x42, sizeof(bag));
	for (i = 0; i < 4; i++)
		memset(&vals[i], (int)(0x10 + i), sizeof(vals[i]));
	/* vals[2] added by three nodes, vals[0] by two, the others by one */
	for (i = 0; i < 3; i++) {
		memset(&adder, (int)(0xa0 + i), sizeof(adder));
		ck_assert_int_eq(io.bag_add(io.ctx, &bag, vals[2].b, &adder,
		    1000 + i), BT_OK);
		if (i < 2)
			ck_assert_int_eq(io.bag_add(io.ctx, &bag, vals[0].b,
			    &adder, 1000 + i), BT_OK);
	}
	ck_assert_int_eq(io.bag_add(io.ctx, &bag, vals[1].b, &origin, 900),
	    BT_OK);
	ck_assert_int_eq(io.bag_add(io.ctx, &bag, vals[3].b, &origin, 5000),
	    BT_OK);
	ck_assert_uint_eq(items_now(), 1);
	ck_assert_int_eq(io.bag_query(io.ctx, BTNET_DHT_BAG_POPULAR, &bag, 8, 0,
	    out, &n), BT_OK);
	ck_assert_uint_eq(n, 4);
	ck_assert_mem_eq(out[0], vals[2].b, 32);
	ck_assert_mem_eq(out[1], vals[0].b, 32);
	ck_assert_int_eq(io.bag_query(io.ctx, BTNET_DHT_BAG_RECENT, &bag, 1, 0,
	    out, &n), BT_OK);
	ck_assert_uint_eq(n, 1);
	ck_assert_mem_eq(out[0], vals[3].b, 32);
	ck_assert_int_eq(io.bag_query(io.ctx, BTNET_DHT_BAG_SAMPLE, &bag, 8, 1,
	    out, &n), BT_OK);
	ck_assert_uint_eq(n, 4);
	ck_assert_int_eq(io.bag_query(io.ctx, BTNET_DHT_BAG_SAMPLE, &bag, 0, 1,
	    out, &n), BT_OK);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(io.bag_query(io.ctx, (enum btnet_dht_bag)99, &bag, 8,
	    1, out, &n), BT_EINVAL);
	ck_assert_uint_eq(n, 0);
	memset(&bag, 0x43, sizeof(bag));
	ck_assert_int_eq(io.bag_query(io.ctx, BTNET_DHT_BAG_POPULAR, &bag, 8, 0,
	    out, &n), BT_OK);
	ck_assert_uint_eq(n, 0);
}
END_TEST

/* A signed record of @p key at @p seq, encoded into @p enc. */
static size_t
record_of(const struct btcore_signer *sg, const char *key, const char *value,
    uint64_t seq, uint8_t *enc, size_t cap, struct bt_id *target)
{
	struct bt_record rec;
	size_t len = 0;

	ck_assert_int_eq(btcore_record_sign(&rec, sg, key, strlen(key), value,
	    strlen(value), seq), BT_OK);
	ck_assert_int_eq(btcore_record_encode(&rec, enc, cap, &len), BT_OK);
	ck_assert_int_eq(btcore_record_target(target, &rec.pub, rec.key,
	    rec.key_len), BT_OK);
	return len;
}

START_TEST(records)
{
	struct btcore_key *k;
	struct btcore_signer sg;
	uint8_t e1[BTCORE_RECORD_ENC_MAX], e2[BTCORE_RECORD_ENC_MAX];
	struct bt_id t1, t2, wrong;
	const uint8_t *got;
	size_t l1, l2, len = 0, i;

	open_ds(0, 0);
	ck_assert_int_eq(btcore_key_generate(&k), BT_OK);
	btcore_key_signer(k, &sg);
	l2 = record_of(&sg, "name", "second", 2, e2, sizeof(e2), &t2);
	l1 = record_of(&sg, "name", "first", 1, e1, sizeof(e1), &t1);
	ck_assert_mem_eq(t1.b, t2.b, BT_ID_LEN);
	ck_assert_int_eq(io.record_get(io.ctx, &t1, &got, &len), BT_ENOTFOUND);
	/* under another target, broken, or cut short: refused */
	wrong = t1;
	wrong.b[0] ^= 1;
	ck_assert_int_eq(io.record_put(io.ctx, &wrong, e1, l1, &origin, 10),
	    BT_EINVAL);
	for (i = 0; i < l1; i++)
		ck_assert_int_ne(io.record_put(io.ctx, &t1, e1, i, &origin,
		    10), BT_OK);
	e1[l1 - 1] ^= 0x80;
	ck_assert_int_ne(io.record_put(io.ctx, &t1, e1, l1, &origin, 10),
	    BT_OK);
	e1[l1 - 1] ^= 0x80;
	ck_assert_uint_eq(items_now(), 0);
	ck_assert_int_eq(io.record_put(io.ctx, &t2, e2, l2, &origin, 10),
	    BT_OK);
	ck_assert_int_eq(io.record_get(io.ctx, &t2, &got, &len), BT_OK);
	ck_assert_uint_eq(len, l2);
	ck_assert_mem_eq(got, e2, l2);
	/* an older one refreshes the item and keeps the newer record */
	ck_assert_int_eq(io.record_put(io.ctx, &t1, e1, l1, &origin, 20),
	    BT_OK);
	ck_assert_int_eq(io.record_get(io.ctx, &t1, &got, &len), BT_OK);
	ck_assert_uint_eq(len, l2);
	ck_assert_mem_eq(got, e2, l2);
	ck_assert_uint_eq(items_now(), 1);
	btcore_key_free(k);
}
END_TEST

struct rep {
	size_t values, records, stop_after;
	struct bt_id last;
};

static int
rep_fn(void *arg, enum btnet_dht_item kind, const struct bt_id *id,
    const uint8_t *bytes, size_t len)
{
	struct rep *r = arg;
	struct bt_id h;

	if (r->stop_after != 0 && r->values + r->records == r->stop_after)
		return 1;
	if (kind == BTNET_DHT_ITEM_VALUE) {
		ck_assert_int_eq(btcore_id_hash(&h, bytes, len), BT_OK);
		ck_assert_mem_eq(h.b, id->b, BT_ID_LEN);
		r->values++;
	} else {
		ck_assert_int_eq(kind, BTNET_DHT_ITEM_RECORD);
		r->records++;
	}
	r->last = *id;
	return 0;
}

START_TEST(republish_and_expire)
{
	static uint8_t buf[256];
	struct btcore_key *k;
	struct btcore_signer sg;
	uint8_t enc[BTCORE_RECORD_ENC_MAX];
	struct bt_id key[10], t, bag;
	struct rep r;
	const uint8_t *v;
	size_t len, el;
	unsigned i;

	open_ds(0, 0);
	for (i = 0; i < 10; i++) {
		value_of(buf, sizeof(buf), 100 + i, &key[i]);
		ck_assert_int_eq(io.value_put(io.ctx, &key[i], buf,
		    sizeof(buf), &origin, i < 5 ? 1000 : 5000), BT_OK);
	}
	ck_assert_int_eq(btcore_key_generate(&k), BT_OK);
	btcore_key_signer(k, &sg);
	el = record_of(&sg, "k", "v", 1, enc, sizeof(enc), &t);
	ck_assert_int_eq(io.record_put(io.ctx, &t, enc, el, &origin, 1000),
	    BT_OK);
	memset(&bag, 1, sizeof(bag));
	ck_assert_int_eq(io.bag_add(io.ctx, &bag, key[0].b, &origin, 1000),
	    BT_OK);
	/* republished before 3000: the five older values and the record;
	   bags are never republished */
	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(io.republish(io.ctx, 3000, 3000, rep_fn, &r), BT_OK);
	ck_assert_uint_eq(r.values, 5);
	ck_assert_uint_eq(r.records, 1);
	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(io.republish(io.ctx, 3000, 3000, rep_fn, &r), BT_OK);
	ck_assert_uint_eq(r.values + r.records, 0);
	/* a stop leaves the rest for the next call */
	memset(&r, 0, sizeof(r));
	r.stop_after = 4;
	ck_assert_int_eq(io.republish(io.ctx, 9000, 9000, rep_fn, &r), BT_OK);
	ck_assert_uint_eq(r.values + r.records, 4);
	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(io.republish(io.ctx, 9000, 9000, rep_fn, &r), BT_OK);
	ck_assert_uint_eq(r.values + r.records, 7);
	/* expiry drops what was refreshed before 3000 from the table; the
	   blocks stay in the store */
	ck_assert_uint_eq(items_now(), 12);
	io.expire(io.ctx, 3000);
	ck_assert_uint_eq(items_now(), 5);
	ck_assert_int_eq(io.value_get(io.ctx, &key[0], &v, &len), BT_OK);
	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(io.republish(io.ctx, UINT64_MAX, 10000, rep_fn, &r),
	    BT_OK);
	ck_assert_uint_eq(r.values, 5);
	ck_assert_uint_eq(r.records, 0);
	io.expire(io.ctx, 0);
	ck_assert_uint_eq(items_now(), 5);
	btcore_key_free(k);
}
END_TEST

START_TEST(table_grows)
{
	static uint8_t buf[64];
	struct bt_id key;
	struct rep r;
	uint64_t bytes = 0;
	size_t n = 0;
	unsigned i;

	open_ds(0, 5000);
	for (i = 0; i < 3000; i++) {
		value_of(buf, sizeof(buf), 7000 + i, &key);
		ck_assert_int_eq(io.value_put(io.ctx, &key, buf, sizeof(buf),
		    &origin, 1 + i), BT_OK);
	}
	btapi_dhtstore_count(ds, &n, &bytes);
	ck_assert_uint_eq(n, 3000);
	ck_assert_uint_eq(bytes, 3000u * sizeof(buf));
	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(io.republish(io.ctx, UINT64_MAX, 99999, rep_fn, &r),
	    BT_OK);
	ck_assert_uint_eq(r.values, 3000);
	io.expire(io.ctx, 2001);
	ck_assert_uint_eq(items_now(), 1000);
}
END_TEST

Suite *
suite_dhtstore(void)
{
	Suite *s = suite_create("dhtstore");
	TCase *tc = tcase_create("dhtstore");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, args);
	tcase_add_test(tc, values_are_blocks);
	tcase_add_test(tc, budgets);
	tcase_add_test(tc, bags);
	tcase_add_test(tc, records);
	tcase_add_test(tc, republish_and_expire);
	tcase_add_test(tc, table_grows);
	suite_add_tcase(s, tc);
	return s;
}
