/*
 * files.c - files through the tree into the store, against raw LMDB doing
 * the same I/O on the same bytes, in the same run:
 *
 *   write: btstore_file_writer (sequential layout, full-size leaves:
 *          the builder hashes each leaf, puts batch-commit every 8 MiB)
 *          / raw mdb_put of the same bytes in 262128-byte values under
 *          counter keys, one commit per 8 MiB
 *   read:  btstore_file_reader, 1 MiB reads (each leaf fetched, copied,
 *          verified by SHA-256) / raw mdb_get + memcpy of the same values
 *          in one read transaction; and / raw mdb_get + SHA-256 + memcpy
 *          (file_read_seq_vs_sha256: the floor of any verified read, so
 *          that ratio is what the tree and the store add)
 *   random 4 KiB: reads at random offsets of a random-access file of
 *          RND_TOTAL bytes (leaf 4080, fanout 126: one page per block)
 *          / raw random mdb_get of 4096-byte values + memcpy; and / the
 *          same + SHA-256 of each value (..._vs_sha256).  A 4096-byte
 *          read at a random offset spans two 4080-byte leaves, and
 *          leaves away from the reader's cached path need their nodes
 *          fetched and verified too, so the store hashes at least twice
 *          the bytes of that floor.
 *
 * The read figures are the best of READ_ROUNDS rounds, the raw and the
 * store side taking turns, so that a busy moment of a shared machine does
 * not fall on one side only.
 * Raw keys are native 64-bit integers (MDB_INTEGERKEY, appended).
 * Both sides use MDB_NOSYNC and their own environment in a fresh
 * temporary directory.  The random-access file is 1 GiB: with 4080-byte
 * leaves and fanout 126 its tree is 3 levels of nodes above 263 Ki
 * leaves.  The store side always verifies SHA-256 of what it reads and
 * hashes what it writes; the raw side does neither, so the ratios show
 * the whole price of verified content addressing.
 */
#include <bt/file.h>
#include <bt/store.h>
#include <bt/tree.h>

#include <lmdb.h>
#include <openssl/evp.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

#define SEQ_TOTAL	(64u << 20)
#define RND_TOTAL	(1024u << 20)
#define BATCH		(8u << 20)
#define LEAF		262128u
#define CHUNK		(1u << 20)
#define RND_READS	50000u
#define READ_ROUNDS	3
#define MAP		(4ull << 30)

/* 1: both sides write through a writable map (BTSTORE_OPT_WRITEMAP, the
 * store's default; MDB_WRITEMAP); build with -DBENCH_WRITEMAP=0 to
 * compare both sides without it. */
#ifndef BENCH_WRITEMAP
#define BENCH_WRITEMAP	1
#endif

static void
die(const char *what, int rc)
{
	fprintf(stderr, "bench btstore files: %s failed (%d)\n", what, rc);
	exit(1);
}

static void
fill(uint8_t *p, size_t len, uint64_t seed)
{
	uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;
	size_t k;

	for (k = 0; k + 8 <= len; k += 8) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		memcpy(p + k, &x, 8);
	}
	for (; k < len; k++)
		p[k] = (uint8_t)(x >> (k & 7));
}

static void
sha256(const void *p, size_t len, uint8_t out[32])
{
	unsigned int n;

	if (EVP_Digest(p, len, out, &n, EVP_sha256(), NULL) != 1)
		die("sha256", 0);
}

static double
best(double a, double b)
{
	return a > 0 && a < b ? a : b;
}

static void
rm_store(const char *dir)
{
	char p[256];

	snprintf(p, sizeof(p), "%s/data.mdb", dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/lock.mdb", dir);
	unlink(p);
	rmdir(dir);
}

static struct btstore *
store_open(char *dir)
{
	struct btstore_options *o;
	struct btstore *st;
	int rc;

	if (mkdtemp(dir) == NULL)
		die("mkdtemp", 0);
	if (btstore_options_new(&o) != BT_OK ||
	    btstore_options_set(o, BTSTORE_OPT_NOSYNC, 1) != BT_OK ||
	    btstore_options_set(o, BTSTORE_OPT_MAP_INITIAL, MAP) != BT_OK ||
	    btstore_options_set(o, BTSTORE_OPT_WRITEMAP, BENCH_WRITEMAP)
	    != BT_OK)
		die("options", 0);
	if ((rc = btstore_open(&st, dir, o)) != BT_OK)
		die("open", rc);
	btstore_options_free(o);
	return st;
}

static MDB_env *
raw_open(char *dir, MDB_dbi *dbi)
{
	MDB_env *env;
	MDB_txn *txn;

	if (mkdtemp(dir) == NULL)
		die("mkdtemp", 0);
	if (mdb_env_create(&env) != 0 || mdb_env_set_mapsize(env, MAP) != 0 ||
	    mdb_env_open(env, dir, MDB_NOSYNC |
	    (BENCH_WRITEMAP ? MDB_WRITEMAP : 0), 0600) != 0 ||
	    mdb_txn_begin(env, NULL, 0, &txn) != 0 ||
	    mdb_dbi_open(txn, NULL, MDB_INTEGERKEY, dbi) != 0 || mdb_txn_commit(txn) != 0)
		die("raw open", 0);
	return env;
}

/* Raw: put @p total bytes of @p data as @p vsize values, commit per BATCH. */
static double
raw_put(MDB_env *env, MDB_dbi dbi, const uint8_t *data, size_t total,
    size_t vsize)
{
	MDB_txn *txn = NULL;
	MDB_val k, v;
	uint64_t key;
	size_t off, in_batch = 0;
	double t0 = bench_now();

	for (off = 0, key = 0; off < total; off += vsize, key++) {
		if (txn == NULL && mdb_txn_begin(env, NULL, 0, &txn) != 0)
			die("raw begin", 0);
		k.mv_size = sizeof(key);
		k.mv_data = &key;
		v.mv_size = total - off < vsize ? total - off : vsize;
		v.mv_data = (void *)(uintptr_t)(data + off);
		if (mdb_put(txn, dbi, &k, &v, MDB_APPEND) != 0)
			die("raw put", 0);
		in_batch += v.mv_size;
		if (in_batch >= BATCH) {
			if (mdb_txn_commit(txn) != 0)
				die("raw commit", 0);
			txn = NULL;
			in_batch = 0;
		}
	}
	if (txn != NULL && mdb_txn_commit(txn) != 0)
		die("raw commit", 0);
	return bench_now() - t0;
}

/* Raw: read the SEQ_TOTAL bytes back in one read transaction, each value
 * copied out (and with @p hash, its SHA-256 computed); seconds. */
static double
raw_seq(MDB_env *env, MDB_dbi dbi, uint8_t *out, int hash)
{
	MDB_txn *txn;
	MDB_val k, v;
	uint64_t key;
	uint8_t h[32];
	size_t off;
	double t0 = bench_now();

	if (mdb_txn_begin(env, NULL, MDB_RDONLY, &txn) != 0)
		die("raw read", 0);
	for (key = 0, off = 0; off < SEQ_TOTAL; key++, off += v.mv_size) {
		k.mv_size = sizeof(key);
		k.mv_data = &key;
		if (mdb_get(txn, dbi, &k, &v) != 0)
			die("raw get", 0);
		if (hash) {
			sha256(v.mv_data, v.mv_size, h);
			bench_consume(h);
		}
		memcpy(out, v.mv_data, v.mv_size);
		bench_consume(out);
	}
	mdb_txn_abort(txn);
	return bench_now() - t0;
}

/* Raw: RND_READS gets of random 4096-byte values of @p nvals, each copied
 * out (and with @p hash, its SHA-256 computed); seconds. */
static double
raw_random(MDB_env *env, MDB_dbi dbi, uint64_t nvals, uint64_t *x, int hash)
{
	MDB_txn *txn;
	MDB_val k, v;
	uint64_t key;
	uint8_t buf[4096], h[32];
	size_t i;
	double t0 = bench_now();

	if (mdb_txn_begin(env, NULL, MDB_RDONLY, &txn) != 0)
		die("raw read", 0);
	for (i = 0; i < RND_READS; i++) {
		*x ^= *x << 13;
		*x ^= *x >> 7;
		*x ^= *x << 17;
		key = *x % nvals;
		k.mv_size = sizeof(key);
		k.mv_data = &key;
		if (mdb_get(txn, dbi, &k, &v) != 0 || v.mv_size != 4096)
			die("raw get", 0);
		if (hash) {
			sha256(v.mv_data, v.mv_size, h);
			bench_consume(h);
		}
		memcpy(buf, v.mv_data, 4096);
		bench_consume(buf);
	}
	mdb_txn_abort(txn);
	return bench_now() - t0;
}

static struct bt_id
store_write(struct btstore *st, int layout, const struct btcore_tree_params *pp,
    const uint8_t *data, size_t total, double *secs)
{
	struct btstore_file_writer *w;
	struct bt_id root;
	size_t off, n;
	double t0 = bench_now();
	int rc;

	if ((rc = btstore_file_writer_new(&w, st, layout, pp)) != BT_OK)
		die("writer", rc);
	for (off = 0; off < total; off += n) {
		n = total - off < CHUNK ? total - off : CHUNK;
		if ((rc = btstore_file_writer_write(w, data + off, n)) != BT_OK)
			die("write", rc);
	}
	if ((rc = btstore_file_writer_finish(w, &root, NULL)) != BT_OK)
		die("finish", rc);
	btstore_file_writer_free(w);
	*secs = bench_now() - t0;
	return root;
}

int
main(void)
{
	char d1[] = "/tmp/btbench-files-XXXXXX", d2[] = "/tmp/btbench-raw-XXXXXX";
	struct btcore_tree_params small = { 4080, 126 };
	struct btstore_file_reader *r;
	struct btstore *st;
	MDB_env *env;
	MDB_dbi dbi;
	struct bt_id root;
	uint8_t *data, *out, buf[4096];
	uint64_t x = 88172645463325252ull, nvals;
	size_t off, n, i;
	double t_st, t_raw, t_sha, t0;
	unsigned round;
	int rc;

	if ((data = malloc(RND_TOTAL)) == NULL || (out = malloc(CHUNK)) == NULL)
		die("malloc", 0);
	fill(data, RND_TOTAL, 1);
	st = store_open(d1);
	env = raw_open(d2, &dbi);

	/* ---- sequential write and read ---- */
	t_raw = raw_put(env, dbi, data, SEQ_TOTAL, LEAF);
	root = store_write(st, BTCORE_TREE_SEQUENTIAL, NULL, data, SEQ_TOTAL,
	    &t_st);
	bench_line("btstore", "file_write_seq", SEQ_TOTAL / t_st / 1e6, "MB/s",
	    SEQ_TOTAL / t_raw / 1e6, "MB/s raw put", NULL);

	t_raw = t_sha = t_st = 0;
	for (round = 0; round < READ_ROUNDS; round++) {
		t_raw = best(t_raw, raw_seq(env, dbi, out, 0));
		t_sha = best(t_sha, raw_seq(env, dbi, out, 1));
		t0 = bench_now();
		if ((rc = btstore_file_reader_open(&r, st, &root)) != BT_OK)
			die("reader", rc);
		for (off = 0;; off += n) {
			if ((rc = btstore_file_reader_read(r, out, CHUNK, &n))
			    != BT_OK)
				die("read", rc);
			if (n == 0)
				break;
			bench_consume(out);
		}
		btstore_file_reader_close(r);
		t_st = best(t_st, bench_now() - t0);
		if (off != SEQ_TOTAL)
			die("read size", 0);
	}
	bench_line("btstore", "file_read_seq", SEQ_TOTAL / t_st / 1e6, "MB/s",
	    SEQ_TOTAL / t_raw / 1e6, "MB/s raw get", NULL);
	bench_line("btstore", "file_read_seq_vs_sha256", SEQ_TOTAL / t_st / 1e6,
	    "MB/s", SEQ_TOTAL / t_sha / 1e6, "MB/s raw get + SHA-256", NULL);

	/* ---- random 4 KiB reads ---- */
	mdb_env_close(env);
	rm_store(d2);
	strcpy(d2, "/tmp/btbench-raw-XXXXXX");
	env = raw_open(d2, &dbi);
	t_raw = raw_put(env, dbi, data, RND_TOTAL, 4096);
	nvals = RND_TOTAL / 4096;
	root = store_write(st, BTCORE_TREE_RANDOM, &small, data, RND_TOTAL,
	    &t_st);
	bench_line("btstore", "file_write_random_4080", RND_TOTAL / t_st / 1e6,
	    "MB/s", RND_TOTAL / t_raw / 1e6, "MB/s raw put 4 KiB values",
	    NULL);

	if ((rc = btstore_file_reader_open(&r, st, &root)) != BT_OK)
		die("reader", rc);
	t_raw = t_sha = t_st = 0;
	for (round = 0; round < READ_ROUNDS; round++) {
		t_raw = best(t_raw, raw_random(env, dbi, nvals, &x, 0));
		t_sha = best(t_sha, raw_random(env, dbi, nvals, &x, 1));
		t0 = bench_now();
		for (i = 0; i < RND_READS; i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			off = (size_t)(x % (RND_TOTAL - 4096));
			if ((rc = btstore_file_reader_seek(r, (int64_t)off,
			    BTCORE_SEEK_SET, NULL)) != BT_OK ||
			    (rc = btstore_file_reader_read(r, buf, 4096, &n))
			    != BT_OK || n != 4096)
				die("random read", rc);
			if (i < 64 && memcmp(buf, data + off, 4096) != 0)
				die("random read content", 0);
			bench_consume(buf);
		}
		t_st = best(t_st, bench_now() - t0);
	}
	btstore_file_reader_close(r);
	bench_line("btstore", "file_random_4k_reads_1GiB", RND_READS / t_st,
	    "reads/s", RND_READS / t_raw, "raw 4 KiB gets/s", NULL);
	bench_line("btstore", "file_random_4k_reads_1GiB_vs_sha256",
	    RND_READS / t_st, "reads/s", RND_READS / t_sha,
	    "raw 4 KiB gets + SHA-256/s", NULL);

	btstore_close(st);
	mdb_env_close(env);
	rm_store(d1);
	rm_store(d2);
	free(data);
	free(out);
	return 0;
}
