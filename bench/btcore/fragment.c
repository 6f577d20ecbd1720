/*
 * fragment.c - erasure-coded fragments: encode and rebuild throughput of
 * btcore_fragment_* against raw ISA-L on the same bytes, in the same run.
 *
 * Each btcore figure is compared twice: with ec_encode_data() alone, and
 * with ec_encode_data() plus a SHA-256 of every fragment it touches, the
 * work btcore cannot avoid (the true floor).  btcore also hashes the whole
 * block (its id) and copies the data into the fragments.
 */
#include <stdlib.h>
#include <string.h>

#include <isa-l/erasure_code.h>
#include <openssl/evp.h>

#include <bt/fragment.h>
#include <bt/hash.h>

#include "bench.h"

#define BLOCK_LEN	BTCORE_FRAGMENT_BLOCK_MAX
#define MIN_SECONDS	0.6

static uint8_t *block;

/* One configuration: the block cut into k + m raw buffers. */
struct raw {
	unsigned int	k, m;
	size_t		plen;
	unsigned char	*buf;
	unsigned char	*ptr[BTCORE_FRAGMENT_MAX];
	unsigned char	enc_tables[32 * BTCORE_FRAGMENT_MAX * BTCORE_FRAGMENT_MAX];
	/* rebuild of data 0 and 1 from fragments 2 .. k + 1 */
	unsigned char	dec_tables[32 * BTCORE_FRAGMENT_MAX * BTCORE_FRAGMENT_MAX];
	unsigned char	*dec_src[BTCORE_FRAGMENT_MAX];
	unsigned char	*dec_dst[BTCORE_FRAGMENT_MAX];
	unsigned int	nlost;
	/* btcore's fragments of the same block */
	uint8_t		**frags;
	size_t		flen;
	const uint8_t	*sel[BTCORE_FRAGMENT_MAX];
	size_t		lens[BTCORE_FRAGMENT_MAX];
};

static void
die(const char *what)
{
	fprintf(stderr, "bench fragment: %s\n", what);
	exit(1);
}

static void
raw_setup(struct raw *r, unsigned int k, unsigned int m)
{
	unsigned char matrix[BTCORE_FRAGMENT_MAX * BTCORE_FRAGMENT_MAX];
	unsigned char sub[BTCORE_FRAGMENT_MAX * BTCORE_FRAGMENT_MAX];
	unsigned char inv[BTCORE_FRAGMENT_MAX * BTCORE_FRAGMENT_MAX];
	unsigned int i, n = k + m;

	memset(r, 0, sizeof(*r));
	r->k = k;
	r->m = m;
	r->plen = (BLOCK_LEN + k - 1) / k;
	if ((r->buf = calloc(n, r->plen)) == NULL)
		die("out of memory");
	for (i = 0; i < n; i++)
		r->ptr[i] = r->buf + (size_t)i * r->plen;
	memcpy(r->buf, block, BLOCK_LEN);
	gf_gen_cauchy1_matrix(matrix, (int)n, (int)k);
	ec_init_tables((int)k, (int)m, matrix + k * k, r->enc_tables);
	ec_encode_data((int)r->plen, (int)k, (int)m, r->enc_tables, r->ptr,
	    r->ptr + k);

	/* lose data fragments 0 and 1 (as many as m allows) */
	r->nlost = m < 2 ? m : 2;
	for (i = 0; i < k; i++) {
		memcpy(sub + i * k, matrix + (i + r->nlost) * k, k);
		r->dec_src[i] = r->ptr[i + r->nlost];
	}
	if (gf_invert_matrix(sub, inv, (int)k) != 0)
		die("singular matrix");
	for (i = 0; i < r->nlost; i++) {
		r->dec_dst[i] = malloc(r->plen);
		if (r->dec_dst[i] == NULL)
			die("out of memory");
	}
	ec_init_tables((int)k, (int)r->nlost, inv, r->dec_tables);

	if (btcore_fragment_encode(block, BLOCK_LEN, k, m, &r->frags,
	    &r->flen) != BT_OK)
		die("btcore_fragment_encode failed");
	for (i = 0; i < k; i++) {
		r->sel[i] = r->frags[i + r->nlost];
		r->lens[i] = r->flen;
	}
}

static void
raw_free(struct raw *r)
{
	unsigned int i;

	for (i = 0; i < r->nlost; i++)
		free(r->dec_dst[i]);
	free(r->buf);
	btcore_fragment_free(r->frags);
}

static void
sha256(const void *d, size_t n)
{
	unsigned char md[32];
	unsigned int len;

	if (EVP_Digest(d, n, md, &len, EVP_sha256(), NULL) != 1)
		die("EVP_Digest failed");
	bench_consume(md);
}

enum op {
	BTCORE_ENCODE, RAW_ENCODE, RAW_ENCODE_SHA,
	BTCORE_REBUILD, RAW_REBUILD, RAW_REBUILD_SHA
};

static void
run_once(struct raw *r, enum op op)
{
	uint8_t **frags, *out;
	size_t flen, out_len;
	unsigned int i;

	switch (op) {
	case BTCORE_ENCODE:
		if (btcore_fragment_encode(block, BLOCK_LEN, r->k, r->m, &frags,
		    &flen) != BT_OK)
			die("encode failed");
		bench_consume(frags);
		btcore_fragment_free(frags);
		break;
	case RAW_ENCODE:
	case RAW_ENCODE_SHA:
		ec_encode_data((int)r->plen, (int)r->k, (int)r->m,
		    r->enc_tables, r->ptr, r->ptr + r->k);
		if (op == RAW_ENCODE_SHA)
			for (i = 0; i < r->k + r->m; i++)
				sha256(r->ptr[i], r->plen);
		bench_consume(r->buf);
		break;
	case BTCORE_REBUILD:
		if (btcore_fragment_rebuild(r->sel, r->lens, r->k, &out,
		    &out_len, NULL, NULL) != BT_OK)
			die("rebuild failed");
		bench_consume(out);
		btcore_fragment_block_free(out);
		break;
	case RAW_REBUILD:
	case RAW_REBUILD_SHA:
		ec_encode_data((int)r->plen, (int)r->k, (int)r->nlost,
		    r->dec_tables, r->dec_src, r->dec_dst);
		if (op == RAW_REBUILD_SHA)
			for (i = 0; i < r->k; i++)
				sha256(r->dec_src[i], r->plen);
		bench_consume(r->dec_dst[0]);
		break;
	}
}

/*
 * Block bytes per second, in GB/s, of three operations timed in turns of
 * about 50 ms each, so that a busy machine slows all three alike.
 */
static void
measure3(struct raw *r, const enum op op[3], double gbs[3])
{
	double spent[3] = { 0, 0, 0 }, t0;
	long n[3] = { 0, 0, 0 };
	int i;

	for (i = 0; i < 3; i++)
		run_once(r, op[i]);	/* warm up */
	while (spent[0] < MIN_SECONDS || spent[1] < MIN_SECONDS ||
	    spent[2] < MIN_SECONDS) {
		for (i = 0; i < 3; i++) {
			t0 = bench_now();
			do {
				run_once(r, op[i]);
				n[i]++;
			} while (bench_now() - t0 < 0.05);
			spent[i] += bench_now() - t0;
		}
	}
	for (i = 0; i < 3; i++)
		gbs[i] = (double)n[i] * BLOCK_LEN / spent[i] / 1e9;
}

static void
figures(struct raw *r, const char *name, enum op mine, enum op raw,
    enum op raw_sha)
{
	const enum op ops[3] = { mine, raw, raw_sha };
	char label[64];
	double g[3];

	measure3(r, ops, g);
	snprintf(label, sizeof(label), "%s_vs_isal", name);
	bench_line("btcore", label, g[0], "GB/s", g[1], "GB/s", NULL);
	snprintf(label, sizeof(label), "%s_vs_isal_sha256", name);
	bench_line("btcore", label, g[0], "GB/s", g[2], "GB/s", NULL);
}

int
main(void)
{
	struct raw r;
	uint8_t *out;
	size_t out_len;

	if ((block = malloc(BLOCK_LEN)) == NULL)
		die("out of memory");
	if (btcore_random_bytes(block, BLOCK_LEN) != BT_OK)
		die("no random bytes");

	raw_setup(&r, 4, 2);
	/* both sides must agree before they are timed */
	if (memcmp(r.frags[5] + BTCORE_FRAGMENT_HEADER_LEN, r.ptr[5],
	    r.plen) != 0)
		die("btcore parity differs from ISA-L's");
	run_once(&r, RAW_REBUILD);
	if (memcmp(r.dec_dst[0], block, r.plen) != 0 ||
	    btcore_fragment_rebuild(r.sel, r.lens, r.k, &out, &out_len, NULL,
	    NULL) != BT_OK || out_len != BLOCK_LEN ||
	    memcmp(out, block, BLOCK_LEN) != 0)
		die("rebuild differs");
	btcore_fragment_block_free(out);
	figures(&r, "fragment_encode_k4m2", BTCORE_ENCODE, RAW_ENCODE,
	    RAW_ENCODE_SHA);
	figures(&r, "fragment_rebuild_k4m2", BTCORE_REBUILD, RAW_REBUILD,
	    RAW_REBUILD_SHA);
	raw_free(&r);

	raw_setup(&r, 10, 4);
	figures(&r, "fragment_encode_k10m4", BTCORE_ENCODE, RAW_ENCODE,
	    RAW_ENCODE_SHA);
	raw_free(&r);
	free(block);
	return 0;
}
