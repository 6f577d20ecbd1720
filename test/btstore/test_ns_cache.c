/*
 * test_ns_cache.c - path lookups through the verified-root table and the
 * decoded-directory cache: a root record damaged on disk after it was
 * verified and cached is still BT_ECORRUPT (every byte of it, including
 * a valid record of another namespace put in its place), restoring it
 * reads again; changes are seen at once; two stores in one process
 * share nothing they should not.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bt/key.h>
#include <bt/ns.h>
#include <bt/record.h>
#include <bt/store.h>

#include "btstore-internal.h"

Suite *suite_ns_cache(void);

struct tmp {
	char dir[64];
	struct btstore *st;
};

static void
open_tmp(struct tmp *t)
{
	struct btstore_options *o;

	snprintf(t->dir, sizeof(t->dir), "%s", "/tmp/btstore-nsc-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(t->dir));
	ck_assert_int_eq(btstore_options_new(&o), BT_OK);
	ck_assert_int_eq(btstore_options_set(o, BTSTORE_OPT_NOSYNC, 1), BT_OK);
	ck_assert_int_eq(btstore_open(&t->st, t->dir, o), BT_OK);
	btstore_options_free(o);
}

static void
close_tmp(struct tmp *t)
{
	char p[128];

	btstore_close(t->st);
	snprintf(p, sizeof(p), "%s/data.mdb", t->dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/lock.mdb", t->dir);
	unlink(p);
	rmdir(t->dir);
}

static struct btcore_key *key_a, *key_b;
static struct btcore_signer sa, sb;
static char hexa[65];

static void
keys_setup(void)
{
	uint8_t seed[32];
	struct bt_id id;

	memset(seed, 0x5a, sizeof(seed));
	ck_assert_int_eq(btcore_key_from_seed(&key_a, seed), BT_OK);
	memset(seed, 0x6b, sizeof(seed));
	ck_assert_int_eq(btcore_key_from_seed(&key_b, seed), BT_OK);
	btcore_key_signer(key_a, &sa);
	btcore_key_signer(key_b, &sb);
	memcpy(id.b, sa.pub.b, 32);
	btcore_id_to_hex(&id, hexa);
}

static void
keys_teardown(void)
{
	btcore_key_free(key_a);
	btcore_key_free(key_b);
}

static const char *
pa(const char *rel)
{
	static char buf[512];

	snprintf(buf, sizeof(buf), "/%s%s", hexa, rel);
	return buf;
}

#define P(rel)	pa(rel), strlen(pa(rel))

/* The stored root record of @p ns: read it into @p buf, or write @p buf
 * (@p len bytes) in its place. */
static size_t
root_bytes(struct btstore *st, const struct bt_pubkey *ns, uint8_t *buf,
    size_t len, int write)
{
	MDB_val k = { 32, (void *)(uintptr_t)ns->b }, v;
	MDB_txn *txn;

	ck_assert_int_eq(mdb_txn_begin(st->env, NULL, write ? 0 :
	    MDB_RDONLY, &txn), 0);
	if (write) {
		v.mv_size = len;
		v.mv_data = buf;
		ck_assert_int_eq(mdb_put(txn, st->dbi[BTSTORE_DB_NS_], &k, &v,
		    0), 0);
		ck_assert_int_eq(mdb_txn_commit(txn), 0);
		return len;
	}
	ck_assert_int_eq(mdb_get(txn, st->dbi[BTSTORE_DB_NS_], &k, &v), 0);
	ck_assert_uint_le(v.mv_size, BTCORE_RECORD_ENC_MAX);
	memcpy(buf, v.mv_data, v.mv_size);
	len = v.mv_size;
	mdb_txn_abort(txn);
	return len;
}

START_TEST(root_damage_detected)
{
	static uint8_t good[BTCORE_RECORD_ENC_MAX], bad[BTCORE_RECORD_ENC_MAX];
	struct btcore_dir_entry e;
	struct tmp t;
	uint64_t seq;
	size_t len, i;

	open_tmp(&t);
	ck_assert_int_eq(btstore_ns_create(t.st, &sa), BT_OK);
	ck_assert_int_eq(btstore_ns_write(t.st, &sa, P("/d/f"), "abc", 3,
	    BTCORE_TREE_SEQUENTIAL, NULL, BTSTORE_NS_PARENTS, NULL), BT_OK);
	/* read twice: the second lookup goes through the caches */
	ck_assert_int_eq(btstore_ns_stat(t.st, P("/d/f"), &e), BT_OK);
	ck_assert_int_eq(btstore_ns_stat(t.st, P("/d/f"), &e), BT_OK);
	ck_assert_uint_eq(e.size, 3);
	len = root_bytes(t.st, &sa.pub, good, 0, 0);
	/* every byte of the cached record, flipped on disk, is seen */
	for (i = 0; i < len; i++) {
		memcpy(bad, good, len);
		bad[i] ^= 0x01;
		root_bytes(t.st, &sa.pub, bad, len, 1);
		ck_assert_int_eq(btstore_ns_stat(t.st, P("/d/f"), &e),
		    BT_ECORRUPT);
		ck_assert_int_eq(btstore_ns_root(t.st, &sa.pub, NULL, 0, NULL,
		    &seq, NULL), BT_ECORRUPT);
	}
	/* cut short, and one byte longer */
	root_bytes(t.st, &sa.pub, good, len - 1, 1);
	ck_assert_int_eq(btstore_ns_stat(t.st, P(""), &e), BT_ECORRUPT);
	memcpy(bad, good, len);
	bad[len] = 0;
	root_bytes(t.st, &sa.pub, bad, len + 1, 1);
	ck_assert_int_eq(btstore_ns_stat(t.st, P(""), &e), BT_ECORRUPT);
	/* restored: read again, the namespace changes again */
	root_bytes(t.st, &sa.pub, good, len, 1);
	ck_assert_int_eq(btstore_ns_stat(t.st, P("/d/f"), &e), BT_OK);
	ck_assert_int_eq(btstore_ns_write(t.st, &sa, P("/d/f"), "abcd", 4,
	    BTCORE_TREE_SEQUENTIAL, NULL, 0, &seq), BT_OK);
	ck_assert_int_eq(btstore_ns_stat(t.st, P("/d/f"), &e), BT_OK);
	ck_assert_uint_eq(e.size, 4);
	close_tmp(&t);
}
END_TEST

START_TEST(root_of_another_namespace)
{
	static uint8_t ra[BTCORE_RECORD_ENC_MAX], rb[BTCORE_RECORD_ENC_MAX];
	struct btcore_dir_entry e;
	struct tmp t;
	size_t la, lb;
	char path[200];
	struct bt_id id;
	char hexb[65];

	open_tmp(&t);
	ck_assert_int_eq(btstore_ns_create(t.st, &sa), BT_OK);
	ck_assert_int_eq(btstore_ns_create(t.st, &sb), BT_OK);
	memcpy(id.b, sb.pub.b, 32);
	btcore_id_to_hex(&id, hexb);
	snprintf(path, sizeof(path), "/%s", hexb);
	/* both roots verified and cached */
	ck_assert_int_eq(btstore_ns_stat(t.st, P(""), &e), BT_OK);
	ck_assert_int_eq(btstore_ns_stat(t.st, path, strlen(path), &e), BT_OK);
	la = root_bytes(t.st, &sa.pub, ra, 0, 0);
	lb = root_bytes(t.st, &sb.pub, rb, 0, 0);
	/* b's valid, cached record under a's key is not a's root */
	root_bytes(t.st, &sa.pub, rb, lb, 1);
	ck_assert_int_eq(btstore_ns_stat(t.st, P(""), &e), BT_ECORRUPT);
	root_bytes(t.st, &sa.pub, ra, la, 1);
	ck_assert_int_eq(btstore_ns_stat(t.st, P(""), &e), BT_OK);
	close_tmp(&t);
}
END_TEST

/* Names seen by a list. */
static int
count_one(void *arg, const struct btcore_dir_entry *e)
{
	(void)e;
	(*(size_t *)arg)++;
	return 0;
}

START_TEST(changes_seen_at_once)
{
	struct btcore_dir_entry e;
	struct tmp t, u;
	size_t n, i;
	char rel[200];

	open_tmp(&t);
	ck_assert_int_eq(btstore_ns_create(t.st, &sa), BT_OK);
	for (i = 0; i < 40; i++) {
		snprintf(rel, sizeof(rel), "/a/b/f%zu", i);
		ck_assert_int_eq(btstore_ns_write(t.st, &sa, P(rel), rel,
		    strlen(rel), BTCORE_TREE_SEQUENTIAL, NULL,
		    BTSTORE_NS_PARENTS, NULL), BT_OK);
		/* each lookup after each change: the new directories */
		ck_assert_int_eq(btstore_ns_stat(t.st, P(rel), &e), BT_OK);
		ck_assert_uint_eq(e.size, strlen(rel));
		ck_assert_int_eq(btstore_ns_stat(t.st, P("/a/b"), &e), BT_OK);
		n = 0;
		ck_assert_int_eq(btstore_ns_list(t.st, P("/a/b"), count_one,
		    &n, NULL), BT_OK);
		ck_assert_uint_eq(n, i + 1);
	}
	ck_assert_int_eq(btstore_ns_stat(t.st, P(""), &e), BT_OK);
	ck_assert_int_eq(btstore_ns_remove(t.st, &sa, P("/a/b/f3"), 0, NULL),
	    BT_OK);
	ck_assert_int_eq(btstore_ns_stat(t.st, P("/a/b/f3"), &e),
	    BT_ENOTFOUND);
	snprintf(rel, sizeof(rel), "%s", pa("/c"));
	ck_assert_int_eq(btstore_ns_rename(t.st, &sa, P("/a/b"), rel,
	    strlen(rel), 0, NULL), BT_OK);
	ck_assert_int_eq(btstore_ns_stat(t.st, P("/a/b/f4"), &e),
	    BT_ENOTFOUND);
	ck_assert_int_eq(btstore_ns_stat(t.st, P("/c/f4"), &e), BT_OK);
	ck_assert_int_eq(btstore_ns_stat(t.st, P("/c/f4/x"), &e),
	    BTSTORE_ENOTDIR);
	/* a second store in this process without the namespace */
	open_tmp(&u);
	ck_assert_int_eq(btstore_ns_stat(u.st, P("/c/f4"), &e), BT_ENOTFOUND);
	close_tmp(&u);
	close_tmp(&t);
}
END_TEST

Suite *
suite_ns_cache(void)
{
	Suite *s = suite_create("ns_cache");
	TCase *tc = tcase_create("ns_cache");

	tcase_add_unchecked_fixture(tc, keys_setup, keys_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, root_damage_detected);
	tcase_add_test(tc, root_of_another_namespace);
	tcase_add_test(tc, changes_seen_at_once);
	suite_add_tcase(s, tc);
	return s;
}
