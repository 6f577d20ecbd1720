/*
 * test_ns.c - namespaces, directories and paths: round trips through
 * paths in both layouts, mkdir -p, sorted lists, stat, rename, remove,
 * the errors, one signed root per operation, import by a reader that does
 * not own the namespace, references and GC, path notifications.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bt/file.h>
#include <bt/key.h>
#include <bt/ns.h>
#include <bt/record.h>
#include <bt/store.h>

#include "btstore-internal.h"

Suite *suite_ns(void);

struct tmp {
	char dir[64];
	struct btstore *st;
};

static void
open_tmp(struct tmp *t)
{
	struct btstore_options *o;

	snprintf(t->dir, sizeof(t->dir), "%s", "/tmp/btstore-ns-XXXXXX");
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
static char hexa[65], hexb[65];

static void
keys_setup(void)
{
	uint8_t seed[32];
	struct bt_id id;

	memset(seed, 0xa1, sizeof(seed));
	ck_assert_int_eq(btcore_key_from_seed(&key_a, seed), BT_OK);
	memset(seed, 0xb2, sizeof(seed));
	ck_assert_int_eq(btcore_key_from_seed(&key_b, seed), BT_OK);
	btcore_key_signer(key_a, &sa);
	btcore_key_signer(key_b, &sb);
	memcpy(id.b, sa.pub.b, 32);
	btcore_id_to_hex(&id, hexa);
	memcpy(id.b, sb.pub.b, 32);
	btcore_id_to_hex(&id, hexb);
}

static void
keys_teardown(void)
{
	btcore_key_free(key_a);
	btcore_key_free(key_b);
}

/* "/<hex of a>" + rel, in a static buffer per slot. */
static const char *
pa(int slot, const char *rel)
{
	static char buf[4][512];

	snprintf(buf[slot], sizeof(buf[slot]), "/%s%s", hexa, rel);
	return buf[slot];
}

#define P(rel)	pa(0, rel), strlen(pa(0, rel))
#define Q(rel)	pa(1, rel), strlen(pa(1, rel))

static void
fill(uint8_t *p, size_t len, uint32_t seed)
{
	uint32_t x = seed * 2654435761u + 1;
	size_t i;

	for (i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = (uint8_t)x;
	}
}

#define BIG	(3u * 1024u * 1024u + 5u)
static uint8_t data[BIG], back[BIG + 1];

static void
read_path(struct btstore *st, const char *path, const uint8_t *p, size_t len)
{
	struct btstore_file_reader *r;
	size_t got = 0, n;

	ck_assert_int_eq(btstore_ns_open(&r, st, path, strlen(path)), BT_OK);
	ck_assert_uint_eq(btstore_file_reader_size(r), len);
	do {
		ck_assert_int_eq(btstore_file_reader_read(r, back + got,
		    BIG + 1 - got, &n), BT_OK);
		got += n;
	} while (n > 0);
	ck_assert_uint_eq(got, len);
	ck_assert(len == 0 || memcmp(back, p, len) == 0);
	btstore_file_reader_close(r);
}

/* The root record verifies, is namespace a's, and has sequence @p seq. */
static void
check_root(struct btstore *st, uint64_t seq)
{
	uint8_t enc[BTCORE_RECORD_ENC_MAX];
	struct bt_record rec;
	struct bt_id d;
	uint64_t s;
	size_t len;

	ck_assert_int_eq(btstore_ns_root(st, &sa.pub, enc, sizeof(enc), &len,
	    &s, &d), BT_OK);
	ck_assert_uint_eq(s, seq);
	ck_assert_int_eq(btcore_record_decode(&rec, enc, len), BT_OK);
	ck_assert_int_eq(btcore_record_verify(&rec), BT_OK);
	ck_assert(memcmp(rec.pub.b, sa.pub.b, 32) == 0);
	ck_assert_uint_eq(rec.seq, seq);
	ck_assert_uint_eq(rec.value_len, 33);
	ck_assert(memcmp(rec.value + 1, d.b, 32) == 0);
}

START_TEST(write_read_sizes)
{
	static const size_t sizes[] = { 0, 1, 4079, 4080, 4081,
	    BTSTORE_BLOCK_MAX - 1, BTSTORE_BLOCK_MAX, BTSTORE_BLOCK_MAX + 1,
	    BIG };
	struct btcore_tree_params small = { 4080, 126 };
	struct btstore_ns_writer *w;
	struct btcore_dir_entry e;
	struct tmp t;
	char rel[64];
	uint64_t seq, want = 1;
	size_t i, off, n;
	int l;

	open_tmp(&t);
	fill(data, BIG, 9);
	ck_assert_int_eq(btstore_ns_create(t.st, &sa), BT_OK);
	check_root(t.st, 1);
	for (l = 0; l < 3; l++) {
		for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			snprintf(rel, sizeof(rel), "/f%d-%zu", l, sizes[i]);
			if (l < 2) {
				ck_assert_int_eq(btstore_ns_write(t.st, &sa,
				    P(rel), data, sizes[i], l == 0 ?
				    BTCORE_TREE_SEQUENTIAL : BTCORE_TREE_RANDOM,
				    NULL, 0, &seq), BT_OK);
			} else {
				/* the stream, in uneven pieces */
				ck_assert_int_eq(btstore_ns_writer_open(&w,
				    t.st, &sa, P(rel), BTCORE_TREE_RANDOM,
				    &small, 0), BT_OK);
				for (off = 0; off < sizes[i]; off += n) {
					n = sizes[i] - off < 33333 ?
					    sizes[i] - off : 33333;
					ck_assert_int_eq(btstore_ns_writer_write(
					    w, data + off, n), BT_OK);
				}
				ck_assert_int_eq(btstore_ns_writer_commit(w,
				    &seq), BT_OK);
				ck_assert_int_eq(btstore_ns_writer_commit(w,
				    NULL), BT_ESTATE);
				btstore_ns_writer_free(w);
			}
			ck_assert_uint_eq(seq, ++want);
			check_root(t.st, want);
			read_path(t.st, pa(0, rel), data, sizes[i]);
			ck_assert_int_eq(btstore_ns_stat(t.st, P(rel), &e),
			    BT_OK);
			ck_assert_int_eq(e.kind, BTCORE_DIR_FILE);
			ck_assert_uint_eq(e.size, sizes[i]);
			ck_assert_int_eq(e.layout, l == 0 ?
			    BTCORE_DIR_LAYOUT_SEQUENTIAL :
			    BTCORE_DIR_LAYOUT_RANDOM);
			ck_assert_uint_eq(e.mode, 0644);
			ck_assert_ptr_null(e.name);
		}
	}
	/* replacing keeps one entry; EXCL refuses */
	ck_assert_int_eq(btstore_ns_write(t.st, &sa, P("/f0-1"), "xyz", 3,
	    BTCORE_TREE_SEQUENTIAL, NULL, 0, &seq), BT_OK);
	read_path(t.st, pa(0, "/f0-1"), (const uint8_t *)"xyz", 3);
	ck_assert_int_eq(btstore_ns_write(t.st, &sa, P("/f0-1"), "q", 1,
	    BTCORE_TREE_SEQUENTIAL, NULL, BTSTORE_NS_EXCL, &seq), BT_EEXIST);
	ck_assert_uint_eq(seq, 0);
	check_root(t.st, want + 1);
	ck_assert_int_eq(btstore_ns_stat(t.st, P(""), &e), BT_OK);
	ck_assert_int_eq(e.kind, BTCORE_DIR_DIR);
	close_tmp(&t);
}
END_TEST

struct names {
	char v[16][32];
	int n;
	int stop_at;
};

static int
collect(void *arg, const struct btcore_dir_entry *e)
{
	struct names *l = arg;

	ck_assert_int_lt(l->n, 16);
	ck_assert_uint_lt(e->name_len, 32);
	memcpy(l->v[l->n], e->name, e->name_len);
	l->v[l->n][e->name_len] = '\0';
	l->n++;
	return l->n == l->stop_at;
}

START_TEST(dirs_list_rename_remove)
{
	struct btcore_dir_entry e;
	struct names l;
	struct tmp t;
	uint64_t seq, s2;
	size_t count;

	open_tmp(&t);
	fill(data, 100000, 5);
	ck_assert_int_eq(btstore_ns_create(t.st, &sa), BT_OK);
	ck_assert_int_eq(btstore_ns_create(t.st, &sa), BT_EEXIST);
	/* mkdir -p nesting */
	ck_assert_int_eq(btstore_ns_mkdir(t.st, &sa, P("/a/b/c"), 0, &seq),
	    BT_ENOTFOUND);
	ck_assert_int_eq(btstore_ns_mkdir(t.st, &sa, P("/a/b/c/d"),
	    BTSTORE_NS_PARENTS, &seq), BT_OK);
	ck_assert_uint_eq(seq, 2);
	ck_assert_int_eq(btstore_ns_mkdir(t.st, &sa, P("/a/b/c/d"),
	    BTSTORE_NS_PARENTS, &s2), BT_OK);
	ck_assert_uint_eq(s2, 2);	/* nothing changed, nothing signed */
	ck_assert_int_eq(btstore_ns_mkdir(t.st, &sa, P("/a/b"), 0, &s2),
	    BT_EEXIST);
	ck_assert_int_eq(btstore_ns_stat(t.st, P("/a/b/c"), &e), BT_OK);
	ck_assert_int_eq(e.kind, BTCORE_DIR_DIR);
	ck_assert_uint_eq(e.mode, 0755);
	/* files, listed in name order */
	ck_assert_int_eq(btstore_ns_write(t.st, &sa, P("/a/b/zeta"), data, 10,
	    BTCORE_TREE_SEQUENTIAL, NULL, 0, &seq), BT_OK);
	ck_assert_int_eq(btstore_ns_write(t.st, &sa, P("/a/b/alpha"), data,
	    100000, BTCORE_TREE_RANDOM, NULL, 0, &seq), BT_OK);
	ck_assert_int_eq(btstore_ns_write(t.st, &sa, P("/a/b/al"), data, 1,
	    BTCORE_TREE_SEQUENTIAL, NULL, 0, &seq), BT_OK);
	ck_assert_int_eq(btstore_ns_write(t.st, &sa, P("/a/b/B"), data, 2,
	    BTCORE_TREE_SEQUENTIAL, NULL, 0, &seq), BT_OK);
	ck_assert_uint_eq(seq, 6);
	memset(&l, 0, sizeof(l));
	ck_assert_int_eq(btstore_ns_list(t.st, P("/a/b"), collect, &l,
	    &count), BT_OK);
	ck_assert_uint_eq(count, 5);
	ck_assert_str_eq(l.v[0], "B");
	ck_assert_str_eq(l.v[1], "al");
	ck_assert_str_eq(l.v[2], "alpha");
	ck_assert_str_eq(l.v[3], "c");
	ck_assert_str_eq(l.v[4], "zeta");
	memset(&l, 0, sizeof(l));
	l.stop_at = 2;
	ck_assert_int_eq(btstore_ns_list(t.st, P("/a/b"), collect, &l,
	    &count), BT_OK);
	ck_assert_uint_eq(count, 2);
	/* directory sizes sum their children */
	ck_assert_int_eq(btstore_ns_stat(t.st, P("/a"), &e), BT_OK);
	ck_assert_uint_eq(e.size, 100013);
	ck_assert_int_eq(btstore_ns_stat(t.st, P(""), &e), BT_OK);
	ck_assert_uint_eq(e.size, 100013);

	/* rename across directories */
	ck_assert_int_eq(btstore_ns_rename(t.st, &sa, P("/a/b/alpha"),
	    Q("/x/y/omega"), 0, &seq), BT_ENOTFOUND);
	ck_assert_int_eq(btstore_ns_rename(t.st, &sa, P("/a/b/alpha"),
	    Q("/x/y/omega"), BTSTORE_NS_PARENTS, &seq), BT_OK);
	ck_assert_uint_eq(seq, 7);
	read_path(t.st, pa(0, "/x/y/omega"), data, 100000);
	ck_assert_int_eq(btstore_ns_stat(t.st, P("/a/b/alpha"), &e),
	    BT_ENOTFOUND);
	ck_assert_int_eq(btstore_ns_rename(t.st, &sa, P("/a/b/al"),
	    Q("/a/b/zeta"), 0, &seq), BT_EEXIST);
	ck_assert_int_eq(btstore_ns_rename(t.st, &sa, P("/a"), Q("/a/b/q"), 0,
	    &seq), BT_EINVAL);
	ck_assert_int_eq(btstore_ns_rename(t.st, &sa, P("/a/b"), Q("/b2"), 0,
	    &seq), BT_OK);
	read_path(t.st, pa(0, "/b2/zeta"), data, 10);
	ck_assert_int_eq(btstore_ns_stat(t.st, P("/b2/c/d"), &e), BT_OK);

	/* remove */
	ck_assert_int_eq(btstore_ns_remove(t.st, &sa, P("/b2"), 0, &seq),
	    BT_EEXIST);
	ck_assert_int_eq(btstore_ns_remove(t.st, &sa, P("/b2/c/d"), 0, &seq),
	    BT_OK);
	ck_assert_int_eq(btstore_ns_remove(t.st, &sa, P("/b2/zeta"), 0, &seq),
	    BT_OK);
	ck_assert_int_eq(btstore_ns_remove(t.st, &sa, P("/b2/zeta"), 0, &s2),
	    BT_ENOTFOUND);
	ck_assert_int_eq(btstore_ns_remove(t.st, &sa, P("/b2"),
	    BTSTORE_NS_RECURSIVE, &s2), BT_OK);
	ck_assert_uint_eq(s2, seq + 1);
	memset(&l, 0, sizeof(l));
	ck_assert_int_eq(btstore_ns_list(t.st, P(""), collect, &l, &count),
	    BT_OK);
	ck_assert_uint_eq(count, 2);
	ck_assert_str_eq(l.v[0], "a");
	ck_assert_str_eq(l.v[1], "x");
	check_root(t.st, s2);
	close_tmp(&t);
}
END_TEST

START_TEST(errors)
{
	struct btstore_file_reader *r;
	struct btstore_ns_writer *w;
	struct btcore_dir_entry e;
	struct names l;
	struct tmp t;
	char path[512];
	uint64_t seq;

	open_tmp(&t);
	/* no such namespace yet */
	ck_assert_int_eq(btstore_ns_write(t.st, &sa, P("/f"), "x", 1,
	    BTCORE_TREE_SEQUENTIAL, NULL, 0, &seq), BT_ENOTFOUND);
	ck_assert_int_eq(btstore_ns_stat(t.st, P(""), &e), BT_ENOTFOUND);
	ck_assert_int_eq(btstore_ns_create(t.st, &sa), BT_OK);
	ck_assert_int_eq(btstore_ns_write(t.st, &sa, P("/f"), "x", 1,
	    BTCORE_TREE_SEQUENTIAL, NULL, 0, &seq), BT_OK);
	ck_assert_int_eq(btstore_ns_mkdir(t.st, &sa, P("/d"), 0, &seq), BT_OK);
	/* not found, not a directory, is a directory */
	ck_assert_int_eq(btstore_ns_stat(t.st, P("/nope"), &e), BT_ENOTFOUND);
	ck_assert_int_eq(btstore_ns_open(&r, t.st, P("/nope")), BT_ENOTFOUND);
	ck_assert_ptr_null(r);
	ck_assert_int_eq(btstore_ns_stat(t.st, P("/f/g"), &e),
	    BTSTORE_ENOTDIR);
	ck_assert_int_eq(btstore_ns_write(t.st, &sa, P("/f/g"), "x", 1,
	    BTCORE_TREE_SEQUENTIAL, NULL, BTSTORE_NS_PARENTS, &seq),
	    BTSTORE_ENOTDIR);
	ck_assert_int_eq(btstore_ns_mkdir(t.st, &sa, P("/f/g"),
	    BTSTORE_NS_PARENTS, &seq), BTSTORE_ENOTDIR);
	ck_assert_int_eq(btstore_ns_list(t.st, P("/f"), collect, &l, NULL),
	    BTSTORE_ENOTDIR);
	ck_assert_int_eq(btstore_ns_open(&r, t.st, P("/d")), BTSTORE_EISDIR);
	ck_assert_int_eq(btstore_ns_write(t.st, &sa, P("/d"), "x", 1,
	    BTCORE_TREE_SEQUENTIAL, NULL, 0, &seq), BTSTORE_EISDIR);
	/* a foreign namespace: b may not write into a's */
	ck_assert_int_eq(btstore_ns_write(t.st, &sb, P("/g"), "x", 1,
	    BTCORE_TREE_SEQUENTIAL, NULL, 0, &seq), BT_EPERM);
	ck_assert_int_eq(btstore_ns_mkdir(t.st, &sb, P("/e"), 0, &seq),
	    BT_EPERM);
	ck_assert_int_eq(btstore_ns_remove(t.st, &sb, P("/f"), 0, &seq),
	    BT_EPERM);
	ck_assert_int_eq(btstore_ns_rename(t.st, &sb, P("/f"), Q("/h"), 0,
	    &seq), BT_EPERM);
	ck_assert_int_eq(btstore_ns_writer_open(&w, t.st, &sb, P("/g"),
	    BTCORE_TREE_SEQUENTIAL, NULL, 0), BT_EPERM);
	ck_assert_ptr_null(w);
	/* '..' never escapes; '.' and '..' inside are normalised */
	ck_assert_int_eq(btstore_ns_write(t.st, &sa, P("/../f"), "x", 1,
	    BTCORE_TREE_SEQUENTIAL, NULL, 0, &seq), BT_EPERM);
	ck_assert_int_eq(btstore_ns_stat(t.st, P("/d/../.."), &e), BT_EPERM);
	ck_assert_int_eq(btstore_ns_write(t.st, &sa, P("/d/./../d//n"), "yz",
	    2, BTCORE_TREE_SEQUENTIAL, NULL, 0, &seq), BT_OK);
	read_path(t.st, pa(0, "/d/n"), (const uint8_t *)"yz", 2);
	/* the root itself, bad paths, bad flags */
	ck_assert_int_eq(btstore_ns_remove(t.st, &sa, P(""), 0, &seq),
	    BT_EINVAL);
	ck_assert_int_eq(btstore_ns_mkdir(t.st, &sa, P("/"), 0, &seq),
	    BT_EINVAL);
	ck_assert_int_eq(btstore_ns_mkdir(t.st, &sa, "a/b", 3, 0, &seq),
	    BT_EFORMAT);
	ck_assert_int_eq(btstore_ns_mkdir(t.st, &sa, P("/z"), 0x80, &seq),
	    BT_EINVAL);
	snprintf(path, sizeof(path), "/%s/a", hexb);
	ck_assert_int_eq(btstore_ns_stat(t.st, path, strlen(path), &e),
	    BT_ENOTFOUND);
	ck_assert_int_eq(btstore_ns_write(t.st, NULL, P("/f"), "x", 1,
	    BTCORE_TREE_SEQUENTIAL, NULL, 0, &seq), BT_EINVAL);
	ck_assert_int_eq(btstore_ns_write(t.st, &sa, P("/f"), "x", 1, 7, NULL,
	    0, &seq), BT_EINVAL);
	ck_assert_int_eq(btstore_ns_import(t.st, "R", 1), BT_ETRUNC);
	close_tmp(&t);
}
END_TEST

/* Copy every block of @p from into @p to (a replica fetching them). */
static void
copy_blocks(struct btstore *from, struct btstore *to)
{
	MDB_txn *txn;
	MDB_cursor *c;
	MDB_val k, v;
	struct bt_id id;
	int mrc;

	ck_assert_int_eq(btstore_rtxn_begin_(from, &txn), BT_OK);
	ck_assert_int_eq(mdb_cursor_open(txn, from->dbi[BTSTORE_DB_BLOCKS_],
	    &c), 0);
	for (mrc = mdb_cursor_get(c, &k, &v, MDB_FIRST); mrc == 0;
	    mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		memcpy(id.b, k.mv_data, 32);
		ck_assert_int_eq(btstore_block_put(to, &id, v.mv_data,
		    v.mv_size, 0), BT_OK);
	}
	mdb_cursor_close(c);
	btstore_rtxn_end_(from, txn);
}

START_TEST(import_foreign)
{
	uint8_t old[BTCORE_RECORD_ENC_MAX], cur[BTCORE_RECORD_ENC_MAX];
	uint8_t bad[BTCORE_RECORD_ENC_MAX], val[33];
	struct bt_record rec;
	struct btcore_dir_entry e;
	struct bt_id d;
	struct names l;
	struct tmp a, b, c;
	size_t oldlen, curlen, len;
	uint64_t seq;

	open_tmp(&a);
	open_tmp(&b);
	open_tmp(&c);
	fill(data, 300000, 11);
	ck_assert_int_eq(btstore_ns_create(a.st, &sa), BT_OK);
	ck_assert_int_eq(btstore_ns_write(a.st, &sa, P("/docs/one"), data,
	    300000, BTCORE_TREE_RANDOM, NULL, BTSTORE_NS_PARENTS, NULL), BT_OK);
	ck_assert_int_eq(btstore_ns_root(a.st, &sa.pub, old, sizeof(old),
	    &oldlen, NULL, NULL), BT_OK);
	ck_assert_int_eq(btstore_ns_write(a.st, &sa, P("/docs/two"), data, 7,
	    BTCORE_TREE_SEQUENTIAL, NULL, 0, NULL), BT_OK);
	ck_assert_int_eq(btstore_ns_root(a.st, &sa.pub, cur, 10, &curlen,
	    &seq, &d), BT_ERANGE);
	ck_assert_uint_eq(seq, 3);
	ck_assert_int_eq(btstore_ns_root(a.st, &sa.pub, cur, sizeof(cur),
	    &curlen, NULL, NULL), BT_OK);

	/* without the blocks the root cannot be taken */
	ck_assert_int_eq(btstore_ns_import(c.st, cur, curlen), BT_ENOTFOUND);
	ck_assert_int_eq(btstore_ns_root(c.st, &sa.pub, NULL, 0, NULL, NULL,
	    NULL), BT_ENOTFOUND);

	copy_blocks(a.st, b.st);
	ck_assert_int_eq(btstore_ns_import(b.st, old, oldlen), BT_OK);
	read_path(b.st, pa(0, "/docs/one"), data, 300000);
	ck_assert_int_eq(btstore_ns_import(b.st, cur, curlen), BT_OK);
	ck_assert_int_eq(btstore_ns_import(b.st, cur, curlen), BT_OK);
	ck_assert_int_eq(btstore_ns_import(b.st, old, oldlen), BT_ESTALE);
	memset(&l, 0, sizeof(l));
	ck_assert_int_eq(btstore_ns_list(b.st, P("/docs"), collect, &l, NULL),
	    BT_OK);
	ck_assert_int_eq(l.n, 2);
	ck_assert_str_eq(l.v[0], "one");
	ck_assert_str_eq(l.v[1], "two");
	read_path(b.st, pa(0, "/docs/two"), data, 7);
	ck_assert_int_eq(btstore_ns_stat(b.st, P("/docs/one"), &e), BT_OK);
	ck_assert_uint_eq(e.size, 300000);
	/* b holds a's namespace but cannot change it */
	ck_assert_int_eq(btstore_ns_write(b.st, &sb, P("/docs/x"), "x", 1,
	    BTCORE_TREE_SEQUENTIAL, NULL, 0, NULL), BT_EPERM);

	/* a bad signature, a conflicting value, a record that is not a root */
	memcpy(bad, cur, curlen);
	bad[curlen - 1] ^= 1;
	ck_assert_int_eq(btstore_ns_import(b.st, bad, curlen), BT_EVERIFY);
	val[0] = 1;
	memset(val + 1, 0x42, 32);
	ck_assert_int_eq(btcore_record_sign(&rec, &sa, "root", 4, val, 33, 3),
	    BT_OK);
	ck_assert_int_eq(btcore_record_encode(&rec, bad, sizeof(bad), &len),
	    BT_OK);
	ck_assert_int_eq(btstore_ns_import(b.st, bad, len), BT_ECONFLICT);
	ck_assert_int_eq(btcore_record_sign(&rec, &sa, "head", 4, val, 33, 9),
	    BT_OK);
	ck_assert_int_eq(btcore_record_encode(&rec, bad, sizeof(bad), &len),
	    BT_OK);
	ck_assert_int_eq(btstore_ns_import(b.st, bad, len), BT_EFORMAT);
	val[0] = 2;
	ck_assert_int_eq(btcore_record_sign(&rec, &sa, "root", 4, val, 33, 9),
	    BT_OK);
	ck_assert_int_eq(btcore_record_encode(&rec, bad, sizeof(bad), &len),
	    BT_OK);
	ck_assert_int_eq(btstore_ns_import(b.st, bad, len), BT_EFORMAT);
	/* a higher sequence whose tree is absent changes nothing */
	val[0] = 1;
	ck_assert_int_eq(btcore_record_sign(&rec, &sa, "root", 4, val, 33, 9),
	    BT_OK);
	ck_assert_int_eq(btcore_record_encode(&rec, bad, sizeof(bad), &len),
	    BT_OK);
	ck_assert_int_eq(btstore_ns_import(b.st, bad, len), BT_ENOTFOUND);
	ck_assert_int_eq(btstore_ns_root(b.st, &sa.pub, NULL, 0, NULL, &seq,
	    NULL), BT_OK);
	ck_assert_uint_eq(seq, 3);
	/* the owner's signer works on any store holding the namespace */
	ck_assert_int_eq(btstore_ns_write(b.st, &sa, P("/docs/three"), "3", 1,
	    BTCORE_TREE_SEQUENTIAL, NULL, 0, &seq), BT_OK);
	ck_assert_uint_eq(seq, 4);
	close_tmp(&a);
	close_tmp(&b);
	close_tmp(&c);
}
END_TEST

/* Run garbage collection to the end of a pass; blocks removed. */
static size_t
gc_all(struct btstore *st)
{
	size_t removed, total = 0;
	int fin;

	do {
		ck_assert_int_eq(btstore_gc(st, 100000, &removed, &fin), BT_OK);
		total += removed;
	} while (!fin);
	return total;
}

START_TEST(references_and_gc)
{
	struct btcore_tree_params small = { 4080, 126 };
	struct btcore_dir_entry e1, e2;
	struct tmp t;
	uint32_t pins, refs;
	uint64_t count, bytes;
	struct bt_id leaf;

	open_tmp(&t);
	fill(data, BIG, 21);
	ck_assert_int_eq(btstore_ns_create(t.st, &sa), BT_OK);
	ck_assert_int_eq(btstore_ns_write(t.st, &sa, P("/k/one"), data, BIG,
	    BTCORE_TREE_RANDOM, &small, BTSTORE_NS_PARENTS, NULL), BT_OK);
	ck_assert_int_eq(btstore_ns_write(t.st, &sa, P("/k/two"), data + 1,
	    500000, BTCORE_TREE_SEQUENTIAL, NULL, 0, NULL), BT_OK);
	/* the same content twice: one set of references */
	ck_assert_int_eq(btstore_ns_write(t.st, &sa, P("/k/two-again"),
	    data + 1, 500000, BTCORE_TREE_SEQUENTIAL, NULL, 0, NULL), BT_OK);
	ck_assert_int_eq(btstore_ns_stat(t.st, P("/k/one"), &e1), BT_OK);
	ck_assert_int_eq(btstore_ns_stat(t.st, P("/k/two"), &e2), BT_OK);
	ck_assert_int_eq(btstore_block_counts(t.st, &e1.root, &pins, &refs),
	    BT_OK);
	ck_assert_uint_eq(pins, 0);
	ck_assert_uint_eq(refs, 1);
	ck_assert_int_eq(btstore_block_counts(t.st, &e2.root, NULL, &refs),
	    BT_OK);
	ck_assert_uint_eq(refs, 1);
	ck_assert_int_eq(btcore_id_hash(&leaf, data, 4080), BT_OK);
	ck_assert_int_eq(btstore_block_counts(t.st, &leaf, NULL, &refs),
	    BT_OK);
	ck_assert_uint_eq(refs, 1);

	/* old directory versions are garbage; files are not */
	ck_assert_uint_gt(gc_all(t.st), 0);
	read_path(t.st, pa(0, "/k/one"), data, BIG);
	read_path(t.st, pa(0, "/k/two"), data + 1, 500000);

	ck_assert_int_eq(btstore_ns_remove(t.st, &sa, P("/k/one"), 0, NULL),
	    BT_OK);
	ck_assert_int_eq(btstore_block_counts(t.st, &leaf, NULL, &refs),
	    BT_OK);
	ck_assert_uint_eq(refs, 0);
	ck_assert_uint_ge(gc_all(t.st), (BIG + 4079) / 4080);
	ck_assert_int_eq(btstore_block_has(t.st, &e1.root), BT_ENOTFOUND);
	ck_assert_int_eq(btstore_block_has(t.st, &leaf), BT_ENOTFOUND);
	read_path(t.st, pa(0, "/k/two"), data + 1, 500000);
	read_path(t.st, pa(0, "/k/two-again"), data + 1, 500000);
	ck_assert_int_eq(btstore_ns_remove(t.st, &sa, P("/k/two"), 0, NULL),
	    BT_OK);
	gc_all(t.st);
	read_path(t.st, pa(0, "/k/two-again"), data + 1, 500000);

	/* everything removed: only the empty root directory's leaf and
	 * node remain after a full pass, and no reference is left over */
	ck_assert_int_eq(btstore_ns_remove(t.st, &sa, P("/k"),
	    BTSTORE_NS_RECURSIVE, NULL), BT_OK);
	gc_all(t.st);
	ck_assert_int_eq(btstore_block_usage(t.st, &count, &bytes), BT_OK);
	ck_assert_uint_eq(count, 2);
	ck_assert_int_eq(btstore_block_counts(t.st, &e2.root, NULL, &refs),
	    BT_OK);
	ck_assert_uint_eq(refs, 0);
	close_tmp(&t);
}
END_TEST

struct evlog {
	int n;
	int event[32];
	char key[32][160];
};

static void
on_path(void *arg, int kind, int event, const void *key, size_t keylen)
{
	struct evlog *l = arg;

	ck_assert_int_eq(kind, BTSTORE_TOPIC_PATH);
	ck_assert_int_lt(l->n, 32);
	ck_assert_uint_lt(keylen, 160);
	l->event[l->n] = event;
	memcpy(l->key[l->n], key, keylen);
	l->key[l->n][keylen] = '\0';
	l->n++;
}

START_TEST(notifications)
{
	struct evlog all, sub;
	struct tmp t;
	uint64_t w1, w2;
	size_t n;

	open_tmp(&t);
	memset(&all, 0, sizeof(all));
	memset(&sub, 0, sizeof(sub));
	ck_assert_int_eq(btstore_watch(t.st, BTSTORE_TOPIC_PATH, "/", 1,
	    on_path, &all, &w1), BT_OK);
	ck_assert_int_eq(btstore_watch(t.st, BTSTORE_TOPIC_PATH, P("/d"),
	    on_path, &sub, &w2), BT_OK);
	ck_assert_int_eq(btstore_ns_create(t.st, &sa), BT_OK);
	ck_assert_int_eq(btstore_ns_mkdir(t.st, &sa, P("/d"), 0, NULL), BT_OK);
	ck_assert_int_eq(btstore_ns_write(t.st, &sa, P("/d/f"), "1", 1,
	    BTCORE_TREE_SEQUENTIAL, NULL, 0, NULL), BT_OK);
	ck_assert_int_eq(btstore_ns_write(t.st, &sa, P("/dd"), "2", 1,
	    BTCORE_TREE_SEQUENTIAL, NULL, 0, NULL), BT_OK);
	/* a failed operation announces nothing */
	ck_assert_int_eq(btstore_ns_mkdir(t.st, &sa, P("/d"), 0, NULL),
	    BT_EEXIST);
	ck_assert_int_eq(btstore_ns_rename(t.st, &sa, P("/d/f"), Q("/e"), 0,
	    NULL), BT_OK);
	ck_assert_int_eq(btstore_ns_remove(t.st, &sa, P("/d"), 0, NULL),
	    BT_OK);
	ck_assert_int_eq(all.n, 0);	/* only after dispatch */
	ck_assert_int_eq(btstore_notify_dispatch(t.st, &n), BT_OK);
	ck_assert_int_eq(all.n, 7);
	ck_assert_str_eq(all.key[0], pa(0, ""));
	ck_assert_str_eq(all.key[1], pa(0, "/d"));
	ck_assert_str_eq(all.key[2], pa(0, "/d/f"));
	ck_assert_str_eq(all.key[3], pa(0, "/dd"));
	ck_assert_str_eq(all.key[4], pa(0, "/d/f"));
	ck_assert_int_eq(all.event[4], BTSTORE_EV_DEL);
	ck_assert_str_eq(all.key[5], pa(0, "/e"));
	ck_assert_int_eq(all.event[5], BTSTORE_EV_PUT);
	ck_assert_str_eq(all.key[6], pa(0, "/d"));
	ck_assert_int_eq(all.event[6], BTSTORE_EV_DEL);
	/* the prefix "/ns/d" matches /d and /d/f, not /dd or /e */
	ck_assert_int_eq(sub.n, 4);
	ck_assert_str_eq(sub.key[0], pa(0, "/d"));
	ck_assert_str_eq(sub.key[1], pa(0, "/d/f"));
	ck_assert_str_eq(sub.key[2], pa(0, "/d/f"));
	ck_assert_str_eq(sub.key[3], pa(0, "/d"));
	ck_assert_uint_eq(n, 11);
	close_tmp(&t);
}
END_TEST

Suite *
suite_ns(void)
{
	Suite *s = suite_create("ns");
	TCase *tc = tcase_create("ns");

	tcase_add_unchecked_fixture(tc, keys_setup, keys_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, write_read_sizes);
	tcase_add_test(tc, dirs_list_rename_remove);
	tcase_add_test(tc, errors);
	tcase_add_test(tc, import_foreign);
	tcase_add_test(tc, references_and_gc);
	tcase_add_test(tc, notifications);
	suite_add_tcase(s, tc);
	return s;
}
