/*
 * log.c - Merkle accumulator, inclusion proof verification and signed
 * heads, each against the raw primitive underneath (OpenSSL SHA-256,
 * libsodium Ed25519) measured in the same run.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <sodium.h>

#include <bt/key.h>
#include <bt/log.h>
#include <bt/merkle.h>

#include "bench.h"

#define TREE_N		1000000ULL
#define STORE_FROM	8	/* keep subtrees of height >= 8 */
#define NPROOF		64
#define ROUNDS		9

static struct bt_id *stored[21];	/* [height][start >> height] */

static void
die(const char *what)
{
	fprintf(stderr, "bench btcore.log: %s failed\n", what);
	exit(1);
}

static double
min_d(double a, double b)
{
	return a < b ? a : b;
}

/* Leaf i of the benchmark tree, derived from its index. */
static void
leaf_of(uint64_t i, struct bt_id *out)
{
	uint8_t b[8];
	int k;

	for (k = 0; k < 8; k++)
		b[k] = (uint8_t)(i >> (56 - 8 * k));
	if (btcore_merkle_leaf_hash(out, b, sizeof(b)) != BT_OK)
		die("leaf hash");
}

static int
emit(void *ctx, uint64_t start, unsigned height, const struct bt_id *hash)
{
	(void)ctx;
	if (height >= STORE_FROM && height < 21)
		stored[height][start >> height] = *hash;
	return BT_OK;
}

/* Large subtrees from the store, small ones recomputed from leaves. */
static int
subtree(void *ctx, uint64_t start, unsigned height, struct bt_id *out)
{
	struct btcore_merkle *m;
	struct bt_id leaf;
	uint64_t i;
	int rc;

	(void)ctx;
	if (height >= STORE_FROM) {
		*out = stored[height][start >> height];
		return BT_OK;
	}
	if ((rc = btcore_merkle_new(&m)) != BT_OK)
		return rc;
	for (i = start; i < start + ((uint64_t)1 << height); i++) {
		leaf_of(i, &leaf);
		if ((rc = btcore_merkle_append(m, &leaf, NULL, NULL)) != BT_OK)
			break;
	}
	if (rc == BT_OK)
		rc = btcore_merkle_root(m, out);
	btcore_merkle_free(m);
	return rc;
}

/*
 * n raw SHA-256 of 65-byte inputs on one context, set up once and reset
 * after each digest (the cheapest way through EVP).
 */
static double
raw_sha256_65(EVP_MD_CTX *ctx, const EVP_MD *md, long n)
{
	uint8_t in[65], out[32];
	unsigned int len;
	double t0 = bench_now();
	long i;

	memset(in, 1, sizeof(in));
	if (EVP_DigestInit_ex2(ctx, md, NULL) != 1)
		die("raw sha256");
	for (i = 0; i < n; i++) {
		in[1] = (uint8_t)i;
		if (EVP_DigestUpdate(ctx, in, sizeof(in)) != 1 ||
		    EVP_DigestFinal_ex(ctx, out, &len) != 1 ||
		    EVP_DigestInit_ex2(ctx, NULL, NULL) != 1)
			die("raw sha256");
		memcpy(in + 1, out, sizeof(out));
	}
	bench_consume(in);
	return bench_now() - t0;
}

int
main(void)
{
	static struct bt_id leaves[1024];
	static struct bt_merkle_proof proofs[NPROOF];
	struct bt_id leafs[NPROOF], root;
	struct btcore_merkle *m;
	struct btcore_key *key;
	struct btcore_signer signer;
	struct bt_log_head head;
	struct bt_pubkey pub;
	uint8_t seed[BTCORE_ED25519_SEED_LEN], sk[crypto_sign_SECRETKEYBYTES];
	uint8_t msg[94], sig[64];
	EVP_MD_CTX *ctx;
	const EVP_MD *md;
	double t, t0, base;
	long i, n;
	int r;
	unsigned h, hashes = 0;

	if (sodium_init() < 0)
		die("sodium_init");
	md = EVP_get_digestbyname("SHA256");
	if (md == NULL || (ctx = EVP_MD_CTX_new()) == NULL)
		die("EVP");

	/* 1. appends through the accumulator vs raw 65-byte SHA-256 */
	for (i = 0; i < 1024; i++)
		leaf_of((uint64_t)i, &leaves[i]);
	/*
	 * Rounds alternate between the function and its baseline and the
	 * best round of each counts, so that load from other processes
	 * does not land on one side only.
	 */
	n = 200000;
	if (btcore_merkle_new(&m) != BT_OK)
		die("merkle_new");
	t = base = 1e9;
	for (r = 0; r < ROUNDS; r++) {
		t0 = bench_now();
		for (i = 0; i < n; i++)
			if (btcore_merkle_append(m, &leaves[i & 1023], NULL,
			    NULL) != BT_OK)
				die("append");
		if (btcore_merkle_root(m, &root) != BT_OK)
			die("root");
		t = min_d(t, bench_now() - t0);
		base = min_d(base, raw_sha256_65(ctx, md, n));
	}
	btcore_merkle_free(m);
	bench_line("btcore", "merkle_append", n / t, "leaves/s", n / base,
	    "sha256-65B/s", NULL);

	/* 2. inclusion proof verification in a tree of 1M leaves */
	for (h = STORE_FROM; h < 21; h++)
		if ((stored[h] = calloc((TREE_N >> h) + 1,
		    sizeof(struct bt_id))) == NULL)
			die("calloc");
	if (btcore_merkle_new(&m) != BT_OK)
		die("merkle_new");
	for (i = 0; i < (long)TREE_N; i++) {
		leaf_of((uint64_t)i, &leaves[0]);
		if (btcore_merkle_append(m, &leaves[0], emit, NULL) != BT_OK)
			die("append");
	}
	if (btcore_merkle_root(m, &root) != BT_OK)
		die("root");
	btcore_merkle_free(m);
	for (i = 0; i < NPROOF; i++) {
		uint64_t idx = ((uint64_t)i * 15485863ULL) % TREE_N;

		leaf_of(idx, &leafs[i]);
		if (btcore_merkle_inclusion_prove(&proofs[i], idx, TREE_N,
		    subtree, NULL) != BT_OK ||
		    btcore_merkle_inclusion_verify(&proofs[i], &leafs[i],
		    &root) != BT_OK)
			die("inclusion proof");
		hashes += proofs[i].count;
	}
	n = 10000;
	t = base = 1e9;
	for (r = 0; r < ROUNDS; r++) {
		t0 = bench_now();
		for (i = 0; i < n; i++)
			if (btcore_merkle_inclusion_verify(&proofs[i % NPROOF],
			    &leafs[i % NPROOF], &root) != BT_OK)
				die("verify");
		t = min_d(t, bench_now() - t0);
		/* the same node hashes, raw: hashes / NPROOF per proof */
		base = min_d(base, raw_sha256_65(ctx, md,
		    (long)((double)n * hashes / NPROOF)));
	}
	bench_line("btcore", "inclusion_verify_1M", n / t, "proofs/s", n / base,
	    "raw-path/s", NULL);
	for (h = STORE_FROM; h < 21; h++)
		free(stored[h]);

	/* 3. signed heads vs libsodium on the same 94-byte message */
	if (btcore_key_generate(&key) != BT_OK)
		die("key");
	btcore_key_signer(key, &signer);
	btcore_key_seed(key, seed);
	if (crypto_sign_seed_keypair(pub.b, sk, seed) != 0)
		die("seed keypair");
	sodium_memzero(seed, sizeof(seed));
	memset(msg, 7, sizeof(msg));
	n = 2000;
	t = base = 1e9;
	crypto_sign_detached(sig, NULL, msg, sizeof(msg), sk);
	for (r = 0; r < ROUNDS; r++) {
		t0 = bench_now();
		for (i = 0; i < n; i++) {
			root.b[0] = (uint8_t)i;
			if (btcore_log_head_sign(&head, &signer,
			    (uint64_t)i + 1, &root) != BT_OK)
				die("head sign");
		}
		t = min_d(t, bench_now() - t0);
		t0 = bench_now();
		for (i = 0; i < n; i++) {
			msg[61] = (uint8_t)i;
			crypto_sign_detached(sig, NULL, msg, sizeof(msg), sk);
		}
		base = min_d(base, bench_now() - t0);
	}
	bench_line("btcore", "head_sign", n / t, "heads/s", n / base,
	    "ed25519-sign/s", ">= 0.95");

	t = base = 1e9;
	for (r = 0; r < ROUNDS; r++) {
		t0 = bench_now();
		for (i = 0; i < n; i++)
			if (btcore_log_head_verify(&head) != BT_OK)
				die("head verify");
		t = min_d(t, bench_now() - t0);
		t0 = bench_now();
		for (i = 0; i < n; i++)
			if (crypto_sign_verify_detached(sig, msg, sizeof(msg),
			    pub.b) != 0)
				die("raw verify");
		base = min_d(base, bench_now() - t0);
	}
	bench_line("btcore", "head_verify", n / t, "heads/s", n / base,
	    "ed25519-verify/s", ">= 0.95");

	sodium_memzero(sk, sizeof(sk));
	btcore_key_free(key);
	EVP_MD_CTX_free(ctx);
	return 0;
}
