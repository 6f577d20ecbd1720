/*
 * blocks.c - block put and get throughput of libbtstore against raw LMDB
 * doing the same work, in the same run, on the same bytes.
 *
 *   put: btstore_block_put_many() (verifies SHA-256 = id, writes, counts
 *        usage and quota; no pin, so both sides write one record a block)
 *        / raw mdb_put of the bytes under their SHA-256, computed inline
 *   get: btstore_view_block_get() (re-hashes every block against its id)
 *        / raw mdb_get + SHA-256 + compare, in random order
 *   overhead: bytes of data.mdb on disk / payload bytes stored (with the
 *        writable map the store reserves the whole map: this counts it)
 *
 * Both sides use one environment each in a fresh temporary directory,
 * the same flags (MDB_NOSYNC, and MDB_WRITEMAP as below), and one commit
 * per 8 MiB batch.  The raw map is MAP; the store starts at its default
 * map size and grows as a node's store would, its growth timed.  An
 * extra line compares the at-rest alternative: raw get + CRC32C (ISA-L)
 * against raw get + SHA-256.
 */
#include <bt/store.h>

#include <isa-l/crc.h>
#include <lmdb.h>
#include <openssl/evp.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench.h"

#define TOTAL		(96u << 20)	/* payload bytes per size */
#define BATCH		(8u << 20)	/* bytes per commit */
#define MAP		(1ull << 30)
#define GET_PASSES	2

/* 1: both sides write through a writable map (BTSTORE_OPT_WRITEMAP, the
 * store's default; MDB_WRITEMAP); build with -DBENCH_WRITEMAP=0 to
 * compare both sides without it. */
#ifndef BENCH_WRITEMAP
#define BENCH_WRITEMAP	1
#endif

static void
die(const char *what, int rc)
{
	fprintf(stderr, "bench btstore: %s failed (%d)\n", what, rc);
	exit(1);
}

/* Block @p i of the run: pseudo-random bytes, unique per i. */
static void
fill(uint8_t *p, size_t len, uint64_t i)
{
	uint64_t x = i * 0x9e3779b97f4a7c15ull + 1;
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

static void
rmdir_store(const char *dir)
{
	char p[256];

	snprintf(p, sizeof(p), "%s/data.mdb", dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/lock.mdb", dir);
	unlink(p);
	rmdir(dir);
}

static double
disk_bytes(const char *dir)
{
	char p[256];
	struct stat sb;

	snprintf(p, sizeof(p), "%s/data.mdb", dir);
	if (stat(p, &sb) != 0)
		die("stat", 0);
	return (double)sb.st_blocks * 512.0;
}

struct run {
	size_t size, n, per_batch;
	struct bt_id *ids;
	size_t *order;
	uint8_t *batch;
};

/*
 * Put every block through both sides, alternating batch by batch so that
 * drift on a shared machine (page cache write-back, other load) falls on
 * both alike.  Times only the hashing, writing and committing.
 */
static void
put_both(struct run *r, MDB_env *env, MDB_dbi dbi, struct btstore *st,
    struct btstore_block *b, double *t_raw, double *t_st)
{
	MDB_txn *txn;
	MDB_val k, v;
	double t0;
	size_t i, j, m, added;
	int rc;

	*t_raw = *t_st = 0;
	for (i = 0; i < r->n; i += r->per_batch) {
		m = r->n - i < r->per_batch ? r->n - i : r->per_batch;
		for (j = 0; j < m; j++)
			fill(r->batch + j * r->size, r->size, i + j);
		t0 = bench_now();
		if (mdb_txn_begin(env, NULL, 0, &txn) != 0)
			die("raw begin", 0);
		for (j = 0; j < m; j++) {
			sha256(r->batch + j * r->size, r->size, r->ids[i + j].b);
			k.mv_size = 32;
			k.mv_data = r->ids[i + j].b;
			v.mv_size = r->size;
			v.mv_data = r->batch + j * r->size;
			if (mdb_put(txn, dbi, &k, &v, MDB_NOOVERWRITE) != 0)
				die("raw put", 0);
		}
		if (mdb_txn_commit(txn) != 0)
			die("raw commit", 0);
		*t_raw += bench_now() - t0;

		for (j = 0; j < m; j++) {
			b[j].id = r->ids[i + j];
			b[j].data = r->batch + j * r->size;
			b[j].len = r->size;
		}
		t0 = bench_now();
		if ((rc = btstore_block_put_many(st, b, m, 0, &added)) != BT_OK ||
		    added != m)
			die("store put", rc);
		*t_st += bench_now() - t0;
	}
}

/* Gets in random order, alternating batch by batch as above: raw
 * checked with SHA-256 (or CRC32C when @p crc), then the store. */
static void
get_both(struct run *r, MDB_env *env, MDB_dbi dbi, struct btstore *st,
    int crc, double *t_raw, double *t_st)
{
	struct btstore_view *vw;
	MDB_txn *txn;
	MDB_val k, v;
	const void *p;
	uint8_t h[32];
	unsigned sum = 0;
	double t0;
	size_t pass, i, x, len;
	int rc;

	*t_raw = *t_st = 0;
	for (pass = 0; pass < GET_PASSES; pass++) {
		for (i = 0; i < r->n; i += r->per_batch) {
			t0 = bench_now();
			if (mdb_txn_begin(env, NULL, MDB_RDONLY, &txn) != 0)
				die("raw read", 0);
			for (x = i; x < r->n && x < i + r->per_batch; x++) {
				k.mv_size = 32;
				k.mv_data = r->ids[r->order[x]].b;
				if (mdb_get(txn, dbi, &k, &v) != 0)
					die("raw get", 0);
				if (crc) {
					sum += crc32_iscsi(v.mv_data,
					    (int)v.mv_size, 0);
				} else {
					sha256(v.mv_data, v.mv_size, h);
					if (memcmp(h, k.mv_data, 32) != 0)
						die("raw verify", 0);
				}
			}
			mdb_txn_abort(txn);
			*t_raw += bench_now() - t0;
			if (st == NULL)
				continue;

			t0 = bench_now();
			if ((rc = btstore_view_begin(st, &vw)) != BT_OK)
				die("view", rc);
			for (x = i; x < r->n && x < i + r->per_batch; x++) {
				rc = btstore_view_block_get(vw,
				    &r->ids[r->order[x]], &p, &len);
				if (rc != BT_OK || len != r->size)
					die("store get", rc);
				bench_consume(p);
			}
			btstore_view_end(vw);
			*t_st += bench_now() - t0;
		}
	}
	bench_consume(&sum);
}

static void
one_size(size_t size, const char *label)
{
	char rawdir[] = "/tmp/btstore-bench-raw-XXXXXX";
	char stdir[] = "/tmp/btstore-bench-store-XXXXXX";
	struct btstore_options *o;
	struct btstore *st;
	struct btstore_block *b;
	struct run r;
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	double t_raw, t_st, t_crc, mb;
	char name[64];
	size_t i, j, tmp;
	int rc;

	r.size = size;
	r.n = TOTAL / size;
	r.per_batch = BATCH / size;
	r.ids = malloc(r.n * sizeof(*r.ids));
	r.order = malloc(r.n * sizeof(*r.order));
	r.batch = malloc(r.per_batch * size);
	b = malloc(r.per_batch * sizeof(*b));
	if (r.ids == NULL || r.order == NULL || r.batch == NULL || b == NULL)
		die("malloc", 0);
	if (mkdtemp(rawdir) == NULL || mkdtemp(stdir) == NULL)
		die("mkdtemp", 0);
	mb = (double)(r.n * size) / 1e6;

	/* raw LMDB, the same settings the store uses */
	if (mdb_env_create(&env) != 0 || mdb_env_set_mapsize(env, MAP) != 0 ||
	    mdb_env_set_maxdbs(env, 4) != 0 ||
	    mdb_env_open(env, rawdir, MDB_NOTLS | MDB_NOSYNC |
	    (BENCH_WRITEMAP ? MDB_WRITEMAP : 0), 0600) != 0 ||
	    mdb_txn_begin(env, NULL, 0, &txn) != 0 ||
	    mdb_dbi_open(txn, "blocks", MDB_CREATE, &dbi) != 0 ||
	    mdb_txn_commit(txn) != 0)
		die("raw open", 0);
	if (btstore_options_new(&o) != BT_OK ||
	    btstore_options_set(o, BTSTORE_OPT_NOSYNC, 1) != BT_OK ||
	    btstore_options_set(o, BTSTORE_OPT_WRITEMAP, BENCH_WRITEMAP)
	    != BT_OK ||
	    (rc = btstore_open(&st, stdir, o)) != BT_OK)
		die("store open", 0);
	btstore_options_free(o);

	put_both(&r, env, dbi, st, b, &t_raw, &t_st);
	snprintf(name, sizeof(name), "block_put_%s", label);
	bench_line("btstore", name, mb / t_st, "MB/s", mb / t_raw,
	    "MB/s (raw LMDB put + SHA-256)", ">= 0.8");

	/* random order, the same for both */
	for (i = 0; i < r.n; i++)
		r.order[i] = i;
	for (i = r.n - 1; i > 0; i--) {
		j = (size_t)((i * 2654435761u + 12345u) % (i + 1));
		tmp = r.order[i];
		r.order[i] = r.order[j];
		r.order[j] = tmp;
	}
	get_both(&r, env, dbi, st, 0, &t_raw, &t_st);
	snprintf(name, sizeof(name), "block_get_%s", label);
	bench_line("btstore", name, GET_PASSES * mb / t_st, "MB/s",
	    GET_PASSES * mb / t_raw, "MB/s (raw LMDB get + SHA-256)", ">= 0.8");
	get_both(&r, env, dbi, NULL, 1, &t_st, &t_crc);
	snprintf(name, sizeof(name), "get_crc32c_vs_sha256_%s", label);
	bench_line("btstore", name, GET_PASSES * mb / t_st,
	    "MB/s (raw get + CRC32C)", GET_PASSES * mb / t_raw,
	    "MB/s (raw get + SHA-256)", NULL);

	btstore_close(st);
	mdb_env_close(env);
	snprintf(name, sizeof(name), "overhead_%s", label);
	bench_line("btstore", name, disk_bytes(stdir), "B on disk",
	    (double)(r.n * size), "B stored", NULL);
	rmdir_store(rawdir);
	rmdir_store(stdir);
	free(r.ids);
	free(r.order);
	free(r.batch);
	free(b);
}

int
main(void)
{
	one_size(4080, "4080B");
	one_size(65536, "64KiB");
	one_size(BTSTORE_BLOCK_MAX, "256KiB");
	return 0;
}
