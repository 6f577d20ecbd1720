/*
 * test_local.c - the local area: round trips (copied and zero-copy),
 * overwrite, delete, prefix listing in key order within its bounds and
 * its cap, key and value limits, persistence across a reopen, every
 * damaged byte detected on every read path, isolation from blocks and
 * namespaces, the stored layout.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bt/local.h>
#include <bt/ns.h>

#include "btstore-internal.h"
#include "local-internal.h"

Suite *suite_local(void);

static char dir[64];

static struct btstore *
open_dir(void)
{
	struct btstore_options *o;
	struct btstore *st;

	ck_assert_int_eq(btstore_options_new(&o), BT_OK);
	ck_assert_int_eq(btstore_options_set(o, BTSTORE_OPT_NOSYNC, 1), BT_OK);
	ck_assert_int_eq(btstore_open(&st, dir, o), BT_OK);
	btstore_options_free(o);
	return st;
}

static struct btstore *
open_tmp(void)
{
	snprintf(dir, sizeof(dir), "%s", "/tmp/btstore-local-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	return open_dir();
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

/* The value under @p key is the string @p want. */
static void
expect(struct btstore *st, const char *key, const char *want)
{
	char buf[256];
	size_t len = 999;

	ck_assert_int_eq(btstore_local_get(st, key, strlen(key), buf,
	    sizeof(buf), &len), BT_OK);
	ck_assert_uint_eq(len, strlen(want));
	ck_assert_mem_eq(buf, want, len);
}

static void
put_s(struct btstore *st, const char *key, const char *value)
{
	ck_assert_int_eq(btstore_local_put(st, key, strlen(key), value,
	    strlen(value)), BT_OK);
}

START_TEST(round_trip)
{
	struct btstore *st = open_tmp();
	struct btstore_view *v;
	const void *p;
	uint8_t bkey[4] = { 0, 1, 0, 0xff }, buf[16];
	size_t len;

	put_s(st, "friend/ab", "peer file");
	expect(st, "friend/ab", "peer file");
	/* a binary key with NULs, and an empty value */
	ck_assert_int_eq(btstore_local_put(st, bkey, sizeof(bkey), NULL, 0),
	    BT_OK);
	len = 7;
	ck_assert_int_eq(btstore_local_get(st, bkey, sizeof(bkey), NULL, 0,
	    &len), BT_OK);
	ck_assert_uint_eq(len, 0);
	ck_assert_int_eq(btstore_local_get(st, bkey, 3, buf, sizeof(buf),
	    &len), BT_ENOTFOUND);
	ck_assert_uint_eq(len, 0);
	/* a buffer too small: the length, nothing copied */
	memset(buf, 0x55, sizeof(buf));
	ck_assert_int_eq(btstore_local_get(st, "friend/ab", 9, buf, 4, &len),
	    BT_ERANGE);
	ck_assert_uint_eq(len, 9);
	ck_assert_uint_eq(buf[0], 0x55);
	ck_assert_int_eq(btstore_local_get(st, "friend/ab", 9, buf, 9, NULL),
	    BT_OK);
	ck_assert_mem_eq(buf, "peer file", 9);
	/* zero copy inside a view */
	ck_assert_int_eq(btstore_view_begin(st, &v), BT_OK);
	ck_assert_int_eq(btstore_view_local_get(v, "friend/ab", 9, &p, &len),
	    BT_OK);
	ck_assert_uint_eq(len, 9);
	ck_assert_mem_eq(p, "peer file", 9);
	ck_assert_int_eq(btstore_view_local_get(v, bkey, sizeof(bkey), &p,
	    &len), BT_OK);
	ck_assert_ptr_null(p);
	ck_assert_uint_eq(len, 0);
	ck_assert_int_eq(btstore_view_local_get(v, "nope", 4, &p, &len),
	    BT_ENOTFOUND);
	ck_assert_ptr_null(p);
	ck_assert_int_eq(btstore_view_local_get(v, "", 0, &p, &len),
	    BT_ERANGE);
	ck_assert_int_eq(btstore_view_local_get(NULL, "a", 1, &p, &len),
	    BT_EINVAL);
	ck_assert_int_eq(btstore_view_local_get(v, "a", 1, NULL, &len),
	    BT_EINVAL);
	btstore_view_end(v);
	btstore_close(st);
	rm_tmp();
}
END_TEST

START_TEST(overwrite_delete)
{
	struct btstore *st = open_tmp();
	size_t len;

	put_s(st, "program/app", "first version");
	put_s(st, "program/app", "v2");
	expect(st, "program/app", "v2");
	put_s(st, "program/app", "a much longer third version");
	expect(st, "program/app", "a much longer third version");
	put_s(st, "program/app2", "other");
	put_s(st, "program/ap", "shorter");
	ck_assert_int_eq(btstore_local_del(st, "program/app", 11), BT_OK);
	ck_assert_int_eq(btstore_local_get(st, "program/app", 11, NULL, 0,
	    &len), BT_ENOTFOUND);
	ck_assert_int_eq(btstore_local_del(st, "program/app", 11),
	    BT_ENOTFOUND);
	/* the neighbours are untouched */
	expect(st, "program/app2", "other");
	expect(st, "program/ap", "shorter");
	/* put again after a delete */
	put_s(st, "program/app", "back");
	expect(st, "program/app", "back");
	ck_assert_int_eq(btstore_local_del(st, "", 0), BT_ERANGE);
	ck_assert_int_eq(btstore_local_del(NULL, "a", 1), BT_EINVAL);
	ck_assert_int_eq(btstore_local_del(st, NULL, 1), BT_EINVAL);
	btstore_close(st);
	rm_tmp();
}
END_TEST

/* Listing results: keys joined with '|', values checked against keys. */
struct lres {
	char keys[1024];
	size_t n, stop_after;
	int bad;
};

static int
on_entry(void *arg, const void *key, size_t klen, const void *value,
    size_t vlen)
{
	struct lres *r = arg;
	size_t at = strlen(r->keys), i;

	/* every value is "v:" followed by its key */
	if (vlen != klen + 2 || memcmp(value, "v:", 2) != 0 ||
	    memcmp((const char *)value + 2, key, klen) != 0)
		r->bad = 1;
	if (at + klen + 2 < sizeof(r->keys)) {
		if (at > 0)
			r->keys[at++] = '|';
		for (i = 0; i < klen; i++) {
			char ch = ((const char *)key)[i];

			r->keys[at++] = ch >= 0x20 && ch < 0x7f ? ch : '#';
		}
		r->keys[at] = '\0';
	}
	r->n++;
	return r->stop_after != 0 && r->n == r->stop_after;
}

static void
put_kv(struct btstore *st, const char *key, size_t klen)
{
	char v[300];

	memcpy(v, "v:", 2);
	memcpy(v + 2, key, klen);
	ck_assert_int_eq(btstore_local_put(st, key, klen, v, klen + 2), BT_OK);
}

static void
list(struct btstore *st, const char *prefix, size_t plen, size_t stop,
    const char *want, size_t nwant)
{
	struct lres r;

	memset(&r, 0, sizeof(r));
	r.stop_after = stop;
	ck_assert_int_eq(btstore_local_list(st, prefix, plen, on_entry, &r),
	    BT_OK);
	ck_assert_int_eq(r.bad, 0);
	ck_assert_uint_eq(r.n, nwant);
	ck_assert_str_eq(r.keys, want);
}

START_TEST(listing)
{
	struct btstore *st = open_tmp();
	struct lres r;
	char big[BTSTORE_LOCAL_KEY_MAX + 1];

	/* put out of order */
	put_kv(st, "b", 1);
	put_kv(st, "a/2", 3);
	put_kv(st, "ab", 2);
	put_kv(st, "a", 1);
	put_kv(st, "a\0", 2);
	put_kv(st, "a/1", 3);
	put_kv(st, "\xff\xff", 2);
	put_kv(st, "\xff", 1);
	put_kv(st, "`", 1);
	/* bytewise order; a prefix is a key's beginning, not a component */
	list(st, NULL, 0, 0, "`|a|a#|a/1|a/2|ab|b|#|##", 9);
	list(st, "a", 1, 0, "a|a#|a/1|a/2|ab", 5);
	list(st, "a/", 2, 0, "a/1|a/2", 2);
	list(st, "a/1", 3, 0, "a/1", 1);
	list(st, "a/1x", 4, 0, "", 0);
	list(st, "c", 1, 0, "", 0);
	list(st, "\xff", 1, 0, "#|##", 2);
	list(st, "\xff\xff\xff", 3, 0, "", 0);
	/* the callback stops it */
	list(st, "a", 1, 2, "a|a#", 2);
	list(st, NULL, 0, 1, "`", 1);
	/* a deleted key is gone from listings */
	ck_assert_int_eq(btstore_local_del(st, "a/1", 3), BT_OK);
	list(st, "a/", 2, 0, "a/2", 1);
	/* arguments */
	memset(big, 'a', sizeof(big));
	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(btstore_local_list(st, big, sizeof(big), on_entry,
	    &r), BT_ERANGE);
	ck_assert_int_eq(btstore_local_list(st, big, BTSTORE_LOCAL_KEY_MAX,
	    on_entry, &r), BT_OK);
	ck_assert_uint_eq(r.n, 0);
	ck_assert_int_eq(btstore_local_list(st, NULL, 1, on_entry, &r),
	    BT_EINVAL);
	ck_assert_int_eq(btstore_local_list(st, "a", 1, NULL, &r), BT_EINVAL);
	ck_assert_int_eq(btstore_local_list(NULL, "a", 1, on_entry, &r),
	    BT_EINVAL);
	btstore_close(st);
	rm_tmp();
}
END_TEST

static int
count_entry(void *arg, const void *key, size_t klen, const void *value,
    size_t vlen)
{
	(void)key;
	(void)klen;
	(void)value;
	(void)vlen;
	++*(size_t *)arg;
	return 0;
}

/* Store entries straight into the database, in one transaction. */
static void
raw_put(struct btstore *st, MDB_txn *txn, const char *key, size_t klen)
{
	MDB_val k = { klen, (void *)(uintptr_t)key }, v;

	v.mv_size = btstore_localrec_size_(klen, 0);
	v.mv_data = NULL;
	ck_assert_int_eq(mdb_put(txn, st->dbi[BTSTORE_DB_LOCAL_], &k, &v,
	    MDB_RESERVE), 0);
	ck_assert_int_eq(btstore_localrec_encode_(v.mv_data, key, klen, NULL,
	    0), BT_OK);
}

START_TEST(listing_cap)
{
	struct btstore *st = open_tmp();
	MDB_txn *txn;
	char key[16];
	size_t i, n;

	ck_assert_int_eq(mdb_txn_begin(st->env, NULL, 0, &txn), 0);
	for (i = 0; i <= BTSTORE_LOCAL_LIST_MAX; i++) {
		snprintf(key, sizeof(key), "n/%06zu", i);
		raw_put(st, txn, key, strlen(key));
	}
	raw_put(st, txn, "m", 1);
	raw_put(st, txn, "o", 1);
	ck_assert_int_eq(mdb_txn_commit(txn), 0);
	/* one more than the cap: the cap visited, then BT_ERANGE */
	n = 0;
	ck_assert_int_eq(btstore_local_list(st, "n/", 2, count_entry, &n),
	    BT_ERANGE);
	ck_assert_uint_eq(n, BTSTORE_LOCAL_LIST_MAX);
	n = 0;
	ck_assert_int_eq(btstore_local_list(st, NULL, 0, count_entry, &n),
	    BT_ERANGE);
	ck_assert_uint_eq(n, BTSTORE_LOCAL_LIST_MAX);
	/* exactly the cap is fine */
	ck_assert_int_eq(btstore_local_del(st, "n/000000", 8), BT_OK);
	n = 0;
	ck_assert_int_eq(btstore_local_list(st, "n/", 2, count_entry, &n),
	    BT_OK);
	ck_assert_uint_eq(n, BTSTORE_LOCAL_LIST_MAX);
	n = 0;
	ck_assert_int_eq(btstore_local_list(st, "n/00000", 7, count_entry,
	    &n), BT_OK);
	ck_assert_uint_eq(n, 9);
	btstore_close(st);
	rm_tmp();
}
END_TEST

START_TEST(limits)
{
	struct btstore *st = open_tmp();
	char key[BTSTORE_LOCAL_KEY_MAX + 1];
	uint8_t *val, *back;
	size_t len, i;

	memset(key, 'k', sizeof(key));
	ck_assert_int_eq(btstore_local_put(st, key, 0, "x", 1), BT_ERANGE);
	ck_assert_int_eq(btstore_local_put(st, key, sizeof(key), "x", 1),
	    BT_ERANGE);
	ck_assert_int_eq(btstore_local_get(st, key, sizeof(key), NULL, 0,
	    &len), BT_ERANGE);
	ck_assert_int_eq(btstore_local_put(st, key, BTSTORE_LOCAL_KEY_MAX,
	    "x", 1), BT_OK);
	ck_assert_int_eq(btstore_local_get(st, key, BTSTORE_LOCAL_KEY_MAX,
	    NULL, 0, &len), BT_ERANGE);
	ck_assert_uint_eq(len, 1);
	/* the largest value round trips; one byte more is refused */
	ck_assert_ptr_nonnull(val = malloc(BTSTORE_LOCAL_VALUE_MAX + 1));
	ck_assert_ptr_nonnull(back = malloc(BTSTORE_LOCAL_VALUE_MAX));
	for (i = 0; i <= BTSTORE_LOCAL_VALUE_MAX; i++)
		val[i] = (uint8_t)(i * 7 + (i >> 11));
	ck_assert_int_eq(btstore_local_put(st, "big", 3, val,
	    BTSTORE_LOCAL_VALUE_MAX + 1), BT_ETOOBIG);
	ck_assert_int_eq(btstore_local_get(st, "big", 3, back,
	    BTSTORE_LOCAL_VALUE_MAX, &len), BT_ENOTFOUND);
	ck_assert_int_eq(btstore_local_put(st, "big", 3, val,
	    BTSTORE_LOCAL_VALUE_MAX), BT_OK);
	ck_assert_int_eq(btstore_local_get(st, "big", 3, back,
	    BTSTORE_LOCAL_VALUE_MAX, &len), BT_OK);
	ck_assert_uint_eq(len, BTSTORE_LOCAL_VALUE_MAX);
	ck_assert(memcmp(back, val, len) == 0);
	/* arguments */
	ck_assert_int_eq(btstore_local_put(NULL, "a", 1, "x", 1), BT_EINVAL);
	ck_assert_int_eq(btstore_local_put(st, NULL, 1, "x", 1), BT_EINVAL);
	ck_assert_int_eq(btstore_local_put(st, "a", 1, NULL, 1), BT_EINVAL);
	ck_assert_int_eq(btstore_local_get(NULL, "a", 1, NULL, 0, &len),
	    BT_EINVAL);
	ck_assert_int_eq(btstore_local_get(st, NULL, 1, NULL, 0, &len),
	    BT_EINVAL);
	ck_assert_int_eq(btstore_local_get(st, "a", 1, NULL, 1, &len),
	    BT_EINVAL);
	free(val);
	free(back);
	btstore_close(st);
	rm_tmp();
}
END_TEST

START_TEST(persistence)
{
	struct btstore *st = open_tmp();
	size_t n = 0;

	put_s(st, "friend/01", "one");
	put_s(st, "friend/02", "two");
	put_s(st, "gone", "soon");
	ck_assert_int_eq(btstore_local_del(st, "gone", 4), BT_OK);
	btstore_close(st);
	st = open_dir();
	expect(st, "friend/01", "one");
	expect(st, "friend/02", "two");
	ck_assert_int_eq(btstore_local_get(st, "gone", 4, NULL, 0, NULL),
	    BT_ENOTFOUND);
	ck_assert_int_eq(btstore_local_list(st, "friend/", 7, count_entry,
	    &n), BT_OK);
	ck_assert_uint_eq(n, 2);
	btstore_close(st);
	rm_tmp();
}
END_TEST

/* Replace the stored entry under @p key: flip byte @p off by @p x, then
 * cut it to @p newlen bytes (0: keep the length). */
static void
poke(struct btstore *st, const char *key, size_t off, uint8_t x,
    size_t newlen)
{
	MDB_txn *txn;
	MDB_val k = { strlen(key), (void *)(uintptr_t)key }, v;
	uint8_t *copy;

	ck_assert_int_eq(mdb_txn_begin(st->env, NULL, 0, &txn), 0);
	ck_assert_int_eq(mdb_get(txn, st->dbi[BTSTORE_DB_LOCAL_], &k, &v), 0);
	ck_assert_ptr_nonnull(copy = malloc(v.mv_size));
	memcpy(copy, v.mv_data, v.mv_size);
	copy[off] ^= x;
	if (newlen != 0)
		v.mv_size = newlen;
	v.mv_data = copy;
	ck_assert_int_eq(mdb_put(txn, st->dbi[BTSTORE_DB_LOCAL_], &k, &v, 0),
	    0);
	ck_assert_int_eq(mdb_txn_commit(txn), 0);
	free(copy);
}

/* Every read path reports the entry under @p key as damaged. */
static void
all_corrupt(struct btstore *st, const char *key, size_t off)
{
	struct btstore_view *v;
	const void *p;
	char buf[64];
	size_t len = 99, n = 0;
	int rc;

	memset(buf, 0x55, sizeof(buf));
	rc = btstore_local_get(st, key, strlen(key), buf, sizeof(buf), &len);
	ck_assert_msg(rc == BT_ECORRUPT, "offset %zu: get %d", off, rc);
	ck_assert_uint_eq(len, 0);
	ck_assert_uint_eq((uint8_t)buf[0], 0x55);
	ck_assert_int_eq(btstore_view_begin(st, &v), BT_OK);
	rc = btstore_view_local_get(v, key, strlen(key), &p, &len);
	ck_assert_msg(rc == BT_ECORRUPT, "offset %zu: view get %d", off, rc);
	ck_assert_ptr_null(p);
	btstore_view_end(v);
	rc = btstore_local_list(st, NULL, 0, count_entry, &n);
	ck_assert_msg(rc == BT_ECORRUPT, "offset %zu: list %d", off, rc);
}

START_TEST(damage_detected)
{
	struct btstore *st = open_tmp();
	size_t off, n, len;
	uint8_t *big;

	n = btstore_localrec_size_(9, 9);
	/* every byte flipped is detected, by every read */
	for (off = 0; off < n; off++) {
		put_s(st, "friend/ab", "peer file");
		poke(st, "friend/ab", off, 0x01, 0);
		all_corrupt(st, "friend/ab", off);
		put_s(st, "friend/ab", "peer file");
		poke(st, "friend/ab", off, 0x80, 0);
		all_corrupt(st, "friend/ab", off);
		/* a put over a damaged entry replaces it */
		put_s(st, "friend/ab", "peer file");
		expect(st, "friend/ab", "peer file");
	}
	/* truncated at every length, and one byte longer */
	for (len = 1; len < n; len++) {
		poke(st, "friend/ab", 0, 0, len);
		all_corrupt(st, "friend/ab", len);
		put_s(st, "friend/ab", "peer file");
	}
	/* a valid entry under another key */
	{
		MDB_txn *txn;
		MDB_val k = { 9, (void *)(uintptr_t)"friend/ab" }, v;
		MDB_val k2 = { 9, (void *)(uintptr_t)"friend/cd" };

		ck_assert_int_eq(mdb_txn_begin(st->env, NULL, 0, &txn), 0);
		ck_assert_int_eq(mdb_get(txn, st->dbi[BTSTORE_DB_LOCAL_], &k,
		    &v), 0);
		ck_assert_int_eq(mdb_put(txn, st->dbi[BTSTORE_DB_LOCAL_], &k2,
		    &v, 0), 0);
		ck_assert_int_eq(mdb_txn_commit(txn), 0);
	}
	expect(st, "friend/ab", "peer file");
	ck_assert_int_eq(btstore_local_get(st, "friend/cd", 9, NULL, 0, NULL),
	    BT_ECORRUPT);
	ck_assert_int_eq(btstore_local_del(st, "friend/cd", 9), BT_OK);
	/* a large value flipped in its middle and at its end */
	ck_assert_ptr_nonnull(big = calloc(1, 300000));
	ck_assert_int_eq(btstore_local_put(st, "big", 3, big, 300000), BT_OK);
	poke(st, "big", btstore_localrec_size_(3, 150000), 0x04, 0);
	ck_assert_int_eq(btstore_local_get(st, "big", 3, big, 300000, NULL),
	    BT_ECORRUPT);
	ck_assert_int_eq(btstore_local_put(st, "big", 3, big, 300000), BT_OK);
	poke(st, "big", btstore_localrec_size_(3, 300000) - 1, 0x04, 0);
	ck_assert_int_eq(btstore_local_get(st, "big", 3, big, 300000, NULL),
	    BT_ECORRUPT);
	/* damage stops a listing before the damaged entry, not before */
	n = 0;
	ck_assert_int_eq(btstore_local_list(st, NULL, 0, count_entry, &n),
	    BT_ECORRUPT);
	ck_assert_uint_eq(n, 0);	/* "big" sorts first */
	n = 0;
	ck_assert_int_eq(btstore_local_list(st, "f", 1, count_entry, &n),
	    BT_OK);
	ck_assert_uint_eq(n, 1);
	free(big);
	btstore_close(st);
	rm_tmp();
}
END_TEST

static int
any_entry(void *arg, const struct btcore_dir_entry *e)
{
	(void)e;
	++*(size_t *)arg;
	return 0;
}

START_TEST(isolated)
{
	struct btstore *st = open_tmp();
	struct btcore_key *key;
	struct btcore_signer signer;
	uint8_t seed[BTCORE_ED25519_SEED_LEN];
	uint64_t count, bytes, now, seq, seq2;
	char home[1 + BT_ID_HEX_LEN + 1];
	struct bt_id id, kid;
	size_t n = 0, removed;
	int finished = 0;

	memset(seed, 0x21, sizeof(seed));
	ck_assert_int_eq(btcore_key_from_seed(&key, seed), BT_OK);
	btcore_key_signer(key, &signer);
	ck_assert_int_eq(btstore_ns_create(st, &signer), BT_OK);
	ck_assert_int_eq(btstore_ns_root(st, &signer.pub, NULL, 0, NULL, &seq,
	    &id), BT_OK);
	ck_assert_int_eq(btstore_block_usage(st, &count, &bytes), BT_OK);
	put_s(st, "friend/00", "a peer file");
	put_s(st, "program/app", "a manifest");
	/* no block, no namespace change, no namespace entry */
	ck_assert_int_eq(btstore_block_usage(st, &now, NULL), BT_OK);
	ck_assert_uint_eq(now, count);
	ck_assert_int_eq(btstore_ns_root(st, &signer.pub, NULL, 0, NULL, &seq2,
	    NULL), BT_OK);
	ck_assert_uint_eq(seq2, seq);
	home[0] = '/';
	memcpy(kid.b, signer.pub.b, 32);
	btcore_id_to_hex(&kid, home + 1);
	ck_assert_int_eq(btstore_ns_list(st, home, strlen(home), any_entry, &n,
	    NULL), BT_OK);
	ck_assert_uint_eq(n, 0);
	/* garbage collection leaves the local area alone */
	while (!finished)
		ck_assert_int_eq(btstore_gc(st, 1000, &removed, &finished),
		    BT_OK);
	expect(st, "friend/00", "a peer file");
	btcore_key_free(key);
	btstore_close(st);
	rm_tmp();
}
END_TEST

START_TEST(codec)
{
	uint8_t rec[64], key[1] = { 'k' };
	const uint8_t *kp, *vp;
	size_t kl, vl, n, i;

	n = btstore_localrec_size_(1, 3);
	ck_assert_uint_eq(n, BTSTORE_LOCALREC_HDR_ + 4);
	ck_assert_int_eq(btstore_localrec_encode_(rec, key, 1, "val", 3),
	    BT_OK);
	ck_assert_uint_eq(rec[0], BTSTORE_REC_VERSION_);
	ck_assert_uint_eq(rec[33], 1);
	ck_assert_int_eq(btstore_localrec_decode_(rec, n, NULL, 0, &kp, &kl,
	    &vp, &vl), BT_OK);
	ck_assert_ptr_eq(kp, rec + BTSTORE_LOCALREC_HDR_);
	ck_assert_uint_eq(kl, 1);
	ck_assert_ptr_eq(vp, rec + BTSTORE_LOCALREC_HDR_ + 1);
	ck_assert_uint_eq(vl, 3);
	ck_assert_int_eq(btstore_localrec_decode_(rec, n, "k", 1, &kp, &kl,
	    &vp, &vl), BT_OK);
	/* another key, or its prefix, is refused */
	ck_assert_int_eq(btstore_localrec_decode_(rec, n, "j", 1, &kp, &kl,
	    &vp, &vl), BT_ECORRUPT);
	ck_assert_ptr_null(kp);
	ck_assert_uint_eq(vl, 0);
	ck_assert_int_eq(btstore_localrec_decode_(rec, n, "kv", 2, &kp, &kl,
	    &vp, &vl), BT_ECORRUPT);
	/* every truncation */
	for (i = 0; i < n; i++)
		ck_assert_int_eq(btstore_localrec_decode_(rec, i, NULL, 0, &kp,
		    &kl, &vp, &vl), BT_ECORRUPT);
	ck_assert_int_eq(btstore_localrec_decode_(NULL, n, NULL, 0, &kp, &kl,
	    &vp, &vl), BT_ECORRUPT);
	/* an empty value: no pointer */
	ck_assert_int_eq(btstore_localrec_encode_(rec, key, 1, NULL, 0),
	    BT_OK);
	ck_assert_int_eq(btstore_localrec_decode_(rec, BTSTORE_LOCALREC_HDR_ +
	    1, NULL, 0, &kp, &kl, &vp, &vl), BT_OK);
	ck_assert_ptr_null(vp);
	ck_assert_uint_eq(vl, 0);
	/* a zero key length, a key length past the end, another version */
	rec[33] = 0;
	ck_assert_int_eq(btstore_localrec_decode_(rec, BTSTORE_LOCALREC_HDR_ +
	    1, NULL, 0, &kp, &kl, &vp, &vl), BT_ECORRUPT);
	ck_assert_int_eq(btstore_localrec_encode_(rec, key, 1, "val", 3),
	    BT_OK);
	rec[33] = 5;
	ck_assert_int_eq(btstore_localrec_decode_(rec, n, NULL, 0, &kp, &kl,
	    &vp, &vl), BT_ECORRUPT);
	ck_assert_int_eq(btstore_localrec_encode_(rec, key, 1, "val", 3),
	    BT_OK);
	rec[0] = 2;
	ck_assert_int_eq(btstore_localrec_decode_(rec, n, NULL, 0, &kp, &kl,
	    &vp, &vl), BT_ECORRUPT);
}
END_TEST

Suite *
suite_local(void)
{
	Suite *s = suite_create("local");
	TCase *tc = tcase_create("local");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, round_trip);
	tcase_add_test(tc, overwrite_delete);
	tcase_add_test(tc, listing);
	tcase_add_test(tc, listing_cap);
	tcase_add_test(tc, limits);
	tcase_add_test(tc, persistence);
	tcase_add_test(tc, damage_detected);
	tcase_add_test(tc, isolated);
	tcase_add_test(tc, codec);
	suite_add_tcase(s, tc);
	return s;
}
