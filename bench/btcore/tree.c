/*
 * tree.c - file-tree builder and reader throughput against raw SHA-256
 * (and memcpy) over the same bytes, measured in the same run.
 *
 *   tree_build        random-access layout into an in-memory block map,
 *                     MB/s / raw SHA-256 MB/s (EVP, same bytes)
 *   tree_build_seq    the same for the sequential layout
 *   tree_read_seq     streaming 1 MiB reads of the sequential file,
 *                     MB/s / memcpy + SHA-256 of its leaves
 *   tree_random_read  random 4 KiB reads of the random-access file,
 *                     MB/s read / memcpy + SHA-256 of the leaves they touch
 *   tree_random_read_4080  the same with 4080-byte leaves, fanout 126
 *   tree_random_read_4080_pathonly  the same with the reader's node cache
 *                     off (btcore_tree_reader_set_cache(r, 0)): only the
 *                     current path is kept, so most reads fetch and hash
 *                     nodes as well as leaves
 *
 * Each figure is the best of a few runs.  The block map's memory is kept
 * by malloc between runs (mallopt below), so the figures are those of a
 * process in its steady state; the first run, which also pays the
 * kernel for the first touch of every page of the map, is a warm-up.
 */
#include <openssl/evp.h>

#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include <bt/block.h>
#include <bt/tree.h>

#include "bench.h"

#define FILE_LEN	(128u << 20)
#define CHUNK		(1u << 20)
#define RUNS		3
#define NREADS		20000
#define READ_LEN	4096

/*
 * Process CPU time rather than bench_now()'s wall clock: the figures are
 * CPU-bound, and on a shared machine wall time mostly measures the other
 * processes.  Page faults of the block map count (system time).
 */
static double
cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t rng_state = 0x2545f4914f6cdd1dull;

static uint64_t
rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static void
die(const char *what)
{
	fprintf(stderr, "bench tree: %s failed\n", what);
	exit(1);
}

/* Build a file; return seconds, the root in @p root, the map in @p out. */
static double
build(int layout, const struct btcore_tree_params *p, const uint8_t *data,
    size_t len, struct bt_id *root, struct btcore_memblocks **out)
{
	struct btcore_memblocks *m;
	struct btcore_tree_builder *b;
	struct btcore_blockio io;
	double t0, t;
	size_t off;

	if (btcore_memblocks_new(&m) != BT_OK)
		die("map");
	btcore_memblocks_blockio(m, &io);
	t0 = cpu_now();
	if (btcore_tree_builder_new(&b, layout, p, &io) != BT_OK)
		die("builder");
	for (off = 0; off < len; off += CHUNK)
		if (btcore_tree_builder_write(b, data + off,
		    len - off < CHUNK ? len - off : CHUNK) != BT_OK)
			die("write");
	if (btcore_tree_builder_finish(b, root, NULL) != BT_OK)
		die("finish");
	t = cpu_now() - t0;
	btcore_tree_builder_free(b);
	if (out != NULL)
		*out = m;
	else
		btcore_memblocks_free(m);
	return t;
}

static double
raw_sha(EVP_MD_CTX *ctx, const EVP_MD *md, const uint8_t *data, size_t len)
{
	unsigned char d[32];
	unsigned int n;
	double t0 = cpu_now();
	size_t off;

	for (off = 0; off < len; off += CHUNK) {
		if (EVP_DigestInit_ex(ctx, md, NULL) != 1 ||
		    EVP_DigestUpdate(ctx, data + off,
		    len - off < CHUNK ? len - off : CHUNK) != 1 ||
		    EVP_DigestFinal_ex(ctx, d, &n) != 1)
			die("sha");
		bench_consume(d);
	}
	return cpu_now() - t0;
}

/* memcpy + SHA-256 of [off, off + len) cut into leaves of @p leaf. */
static void
copy_hash(EVP_MD_CTX *ctx, const EVP_MD *md, const uint8_t *data,
    size_t total, size_t leaf, uint64_t off, size_t len, uint8_t *buf)
{
	unsigned char d[32];
	unsigned int n;
	uint64_t k;
	size_t l;

	for (k = off / leaf; k * leaf < off + len; k++) {
		l = total - k * leaf < leaf ? total - k * leaf : leaf;
		memcpy(buf, data + k * leaf, l);
		if (EVP_DigestInit_ex(ctx, md, NULL) != 1 ||
		    EVP_DigestUpdate(ctx, buf, l) != 1 ||
		    EVP_DigestFinal_ex(ctx, d, &n) != 1)
			die("sha");
		bench_consume(d);
		bench_consume(buf);
	}
}

/*
 * Random 4 KiB reads through one reader with a node cache of @p cache
 * bytes, best of RUNS runs, each over fresh offsets, against memcpy +
 * SHA-256 of the leaves the same offsets touch.  The reader stays open
 * across the runs, as a long-lived reader would: the best run is its
 * steady state.
 */
static void
random_read(const char *name, const uint8_t *data, size_t len,
    const struct bt_id *root, const struct btcore_blockio *io, uint32_t leaf,
    size_t cache, EVP_MD_CTX *ctx, const EVP_MD *md)
{
	struct btcore_tree_reader *r;
	uint64_t *offs;
	uint8_t *buf, *lbuf;
	double t0, t, tt = 1e9, tb = 1e9;
	size_t i, n;
	int run;

	if ((offs = malloc(NREADS * sizeof(*offs))) == NULL ||
	    (buf = malloc(READ_LEN)) == NULL ||
	    (lbuf = malloc(BTCORE_BLOCK_MAX)) == NULL)
		die("malloc");
	if (btcore_tree_reader_open(&r, root, io) != BT_OK ||
	    btcore_tree_reader_set_cache(r, cache) != BT_OK)
		die("open");
	for (run = 0; run < RUNS; run++) {
		for (i = 0; i < NREADS; i++)
			offs[i] = (rng() % (len / READ_LEN)) * READ_LEN;
		t0 = cpu_now();
		for (i = 0; i < NREADS; i++) {
			if (btcore_tree_reader_seek(r, (int64_t)offs[i],
			    BTCORE_SEEK_SET, NULL) != BT_OK ||
			    btcore_tree_reader_read(r, buf, READ_LEN,
			    &n) != BT_OK || n != READ_LEN)
				die("read");
			bench_consume(buf);
		}
		t = cpu_now() - t0;
		if (t < tt)
			tt = t;
		t0 = cpu_now();
		for (i = 0; i < NREADS; i++)
			copy_hash(ctx, md, data, len, leaf, offs[i], READ_LEN,
			    lbuf);
		t = cpu_now() - t0;
		if (t < tb)
			tb = t;
	}
	bench_line("btcore", name, NREADS * (double)READ_LEN / tt / 1e6, "MB/s",
	    NREADS * (double)READ_LEN / tb / 1e6, "MB/s", NULL);
	btcore_tree_reader_close(r);
	free(offs);
	free(buf);
	free(lbuf);
}

/* Build a random-access file of @p len bytes and read it at random. */
static void
random_reads(const char *name, const char *name_nocache, const uint8_t *data,
    size_t len, uint32_t leaf, uint32_t fanout, EVP_MD_CTX *ctx,
    const EVP_MD *md)
{
	struct btcore_tree_params p = { leaf, fanout };
	struct btcore_memblocks *m;
	struct btcore_blockio io;
	struct bt_id root;

	build(BTCORE_TREE_RANDOM, &p, data, len, &root, &m);
	btcore_memblocks_blockio(m, &io);
	random_read(name, data, len, &root, &io, leaf,
	    BTCORE_TREE_CACHE_DEFAULT, ctx, md);
	if (name_nocache != NULL)
		random_read(name_nocache, data, len, &root, &io, leaf, 0, ctx,
		    md);
	btcore_memblocks_free(m);
}

int
main(void)
{
	const EVP_MD *md = EVP_sha256();
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	struct btcore_memblocks *m;
	struct btcore_tree_reader *r;
	struct btcore_blockio io;
	struct bt_id root;
	uint8_t *data, *buf;
	double t, best_t, best_sha, t0;
	size_t i, n, total;
	int layout, run;

	/* keep freed block memory for reuse instead of returning it */
	if (mallopt(M_MMAP_THRESHOLD, 1 << 20) != 1 ||
	    mallopt(M_TRIM_THRESHOLD, 1 << 30) != 1)
		die("mallopt");
	if (ctx == NULL || (data = malloc(FILE_LEN)) == NULL ||
	    (buf = malloc(BTCORE_BLOCK_MAX > CHUNK ? BTCORE_BLOCK_MAX :
	    CHUNK)) == NULL)
		die("malloc");
	for (i = 0; i < FILE_LEN; i += 8) {
		uint64_t v = rng();

		memcpy(data + i, &v, 8);
	}

	for (layout = BTCORE_TREE_RANDOM; layout >= BTCORE_TREE_SEQUENTIAL;
	    layout--) {
		best_t = best_sha = 1e9;
		for (run = 0; run < RUNS; run++) {
			t = build(layout, NULL, data, FILE_LEN, &root, NULL);
			if (t < best_t)
				best_t = t;
			t = raw_sha(ctx, md, data, FILE_LEN);
			if (t < best_sha)
				best_sha = t;
		}
		bench_line("btcore", layout == BTCORE_TREE_RANDOM ?
		    "tree_build" : "tree_build_seq", FILE_LEN / best_t / 1e6,
		    "MB/s", FILE_LEN / best_sha / 1e6, "MB/s", ">= 0.85");
	}

	/* streaming read of the sequential file in 1 MiB pieces */
	build(BTCORE_TREE_SEQUENTIAL, NULL, data, FILE_LEN, &root, &m);
	btcore_memblocks_blockio(m, &io);
	best_t = best_sha = 1e9;
	for (run = 0; run < RUNS; run++) {
		if (btcore_tree_reader_open(&r, &root, &io) != BT_OK)
			die("open");
		t0 = cpu_now();
		total = 0;
		do {
			if (btcore_tree_reader_read(r, buf, CHUNK, &n) != BT_OK)
				die("read");
			total += n;
			bench_consume(buf);
		} while (n > 0);
		t = cpu_now() - t0;
		btcore_tree_reader_close(r);
		if (total != FILE_LEN)
			die("read length");
		if (t < best_t)
			best_t = t;
		t0 = cpu_now();
		copy_hash(ctx, md, data, FILE_LEN, BTCORE_BLOCK_MAX, 0,
		    FILE_LEN, buf);
		t = cpu_now() - t0;
		if (t < best_sha)
			best_sha = t;
	}
	bench_line("btcore", "tree_read_seq", FILE_LEN / best_t / 1e6, "MB/s",
	    FILE_LEN / best_sha / 1e6, "MB/s", NULL);
	btcore_memblocks_free(m);

	random_reads("tree_random_read", NULL, data, FILE_LEN,
	    BTCORE_TREE_LEAF_DEFAULT, BTCORE_TREE_FANOUT_DEFAULT, ctx, md);
	random_reads("tree_random_read_4080", "tree_random_read_4080_pathonly",
	    data, 64u << 20, 4080, 126, ctx, md);

	EVP_MD_CTX_free(ctx);
	free(data);
	free(buf);
	return 0;
}
