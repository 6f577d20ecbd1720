/*
 * feeds.c - feed appends, feed verification and record puts of libbtstore
 * against raw Ed25519 (libsodium) measured in the same run.
 *
 *   append.batch1   btstore_feed_append(): SHA-256 of the payload, the
 *                   accumulator continued, the entry record (with the
 *                   subtrees it completes and the signed head) and the
 *                   feed record, one signature, one commit per entry
 *                   / crypto_sign_detached() per second
 *   append.batch1.writemap  the same with BTSTORE_OPT_WRITEMAP: commits
 *                   write through the map, without a write(2) per page
 *   append.batch64  btstore_feed_append_batch() of 64: one signature and
 *                   one commit per 64 entries / the same signature rate
 *   verify.proofs   a reader checking a log entry by entry, as it streams
 *                   it: one head signature, then for every entry
 *                   btstore_feed_entry_get() (proof built from the stored
 *                   tree, checked against the root, payload re-hashed)
 *                   and its own inclusion and payload check
 *                   / crypto_sign_verify_detached() per second
 *   verify.root     a reader checking a whole log at once: every payload
 *                   hashed, the root recomputed from all leaves, one head
 *                   signature / the same verify rate
 *   ingest          a second store taking the entries in
 *                   (btstore_feed_entry_put(): inclusion proof, payload,
 *                   byte-identical head so no signature) / verify rate
 *   record.put      btstore_record_put() of new sequence numbers (one
 *                   signature check, one commit) / verify rate
 *
 * The single-append figures and their signature baseline are each the
 * best of WINDOWS windows of WINDOW_OPS operations (a few milliseconds)
 * (append.batch1.mean: the total over all those windows, either side),
 * the three taking turns window by window, each append variant going on
 * with its own store and feed.  On a shared machine most such windows run
 * without another process taking the processor, so the best ones measure
 * what an operation costs, on either side alike; the recurring costs of
 * an append (a page split, a new page of the file, every dozen entries or
 * so) fall into every window.  Payloads are made before the clock starts;
 * each append changes only the entry's number in its first bytes, so no
 * two are alike.
 *
 * The log for the verification figures has LOG_ENTRIES entries of 100
 * bytes, appended in batches of BTSTORE_FEED_BATCH_MAX; the per-entry
 * figures run for a fixed time over a prefix of it.  Stores use
 * BTSTORE_OPT_NOSYNC so that commits cost what the store does, not what
 * the disk does.
 */
#include <bt/feed.h>
#include <bt/recordstore.h>

#include <sodium.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

#define LOG_ENTRIES	(1u << 20)
#define PAYLOAD		100
#define RUN_S		1.5
#define WINDOWS		400
#define WINDOW_OPS	64

/* 1: stores write through a writable map (BTSTORE_OPT_WRITEMAP, the
 * default); build with -DBENCH_WRITEMAP=0 to measure without it. */
#ifndef BENCH_WRITEMAP
#define BENCH_WRITEMAP	1
#endif

static _Noreturn void
die(const char *what, int rc)
{
	fprintf(stderr, "bench btstore: %s failed (%d)\n", what, rc);
	exit(1);
}

static void
fill(uint8_t *p, size_t len, uint64_t i)
{
	uint64_t x = i * 0x9e3779b97f4a7c15ull + 1;
	size_t k;

	for (k = 0; k < len; k++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[k] = (uint8_t)x;
	}
}

static struct btstore *
open_store(char *dir, int writemap)
{
	struct btstore_options *o;
	struct btstore *st;
	int rc;

	if (mkdtemp(dir) == NULL)
		die("mkdtemp", 0);
	if ((rc = btstore_options_new(&o)) != BT_OK ||
	    (rc = btstore_options_set(o, BTSTORE_OPT_NOSYNC, 1)) != BT_OK ||
	    (rc = btstore_options_set(o, BTSTORE_OPT_MAP_INITIAL,
	    1ull << 30)) != BT_OK ||
	    (rc = btstore_options_set(o, BTSTORE_OPT_WRITEMAP,
	    (uint64_t)writemap)) != BT_OK ||
	    (rc = btstore_open(&st, dir, o)) != BT_OK)
		die("open", rc);
	btstore_options_free(o);
	return st;
}

static void
close_store(struct btstore *st, const char *dir)
{
	char p[256];

	btstore_close(st);
	snprintf(p, sizeof(p), "%s/data.mdb", dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/lock.mdb", dir);
	unlink(p);
	rmdir(dir);
}

/* Raw Ed25519 signatures per second (libsodium) over a message the size
 * of a signed head, in one window of WINDOW_OPS signatures. */
static double
sign_window(const unsigned char *sk)
{
	unsigned char msg[94], sig[64];
	double t0;
	unsigned n;

	memset(msg, 0x5a, sizeof(msg));
	t0 = bench_now();
	for (n = 0; n < WINDOW_OPS; n++) {
		msg[0] = (unsigned char)n;
		crypto_sign_detached(sig, NULL, msg, sizeof(msg), sk);
	}
	return WINDOW_OPS / (bench_now() - t0);
}

static double
max_d(double a, double b)
{
	return a > b ? a : b;
}

/* Raw Ed25519 signatures and verifications per second (libsodium) over a
 * message the size of a signed head. */
static void
raw_rates(double *sign_rate, double *verify_rate)
{
	unsigned char pk[crypto_sign_PUBLICKEYBYTES];
	unsigned char sk[crypto_sign_SECRETKEYBYTES];
	unsigned char msg[94], sig[64];
	double t0, t;
	unsigned long n;

	crypto_sign_keypair(pk, sk);
	memset(msg, 0x5a, sizeof(msg));
	t0 = bench_now();
	for (n = 0; (t = bench_now() - t0) < 0.7; n++) {
		msg[0] = (unsigned char)n;
		crypto_sign_detached(sig, NULL, msg, sizeof(msg), sk);
	}
	*sign_rate = (double)n / t;
	crypto_sign_detached(sig, NULL, msg, sizeof(msg), sk);
	t0 = bench_now();
	for (n = 0; (t = bench_now() - t0) < 0.7; n++)
		if (crypto_sign_verify_detached(sig, msg, sizeof(msg), pk) != 0)
			die("raw verify", 0);
	*verify_rate = (double)n / t;
	sodium_memzero(sk, sizeof(sk));
}

/* A store with one feed written here, appended to in runs. */
struct feedrun {
	char dir[32];
	struct btstore *st;
	uint64_t n;		/* entries appended */
	uint8_t bufs[64][PAYLOAD];
};

static void
run_open(struct feedrun *f, const struct btcore_signer *s, int writemap)
{
	size_t k;
	int rc;

	snprintf(f->dir, sizeof(f->dir), "%s", "/tmp/bt-bench-feed-XXXXXX");
	f->st = open_store(f->dir, writemap);
	f->n = 0;
	if ((rc = btstore_feed_create(f->st, s)) != BT_OK)
		die("feed create", rc);
	for (k = 0; k < 64; k++)
		fill(f->bufs[k], PAYLOAD, k);
}

/* Append in batches of @p batch for @p secs seconds: appends per second. */
static double
run_appends(struct feedrun *f, const struct btcore_signer *s, size_t batch,
    double secs)
{
	struct btstore_feed_payload items[64];
	double t0, t;
	uint64_t n = 0;
	size_t k;
	int rc;

	for (k = 0; k < batch; k++) {
		items[k].data = f->bufs[k];
		items[k].len = PAYLOAD;
	}
	t0 = bench_now();
	while ((t = bench_now() - t0) < secs) {
		for (k = 0; k < batch; k++, f->n++)
			memcpy(f->bufs[k], &f->n, sizeof(f->n));
		if ((rc = btstore_feed_append_batch(f->st, s, items, batch,
		    NULL)) != BT_OK)
			die("append", rc);
		n += batch;
	}
	return (double)n / t;
}

/* Single appends per second in one window of WINDOW_OPS appends. */
static double
append_window(struct feedrun *f, const struct btcore_signer *s)
{
	double t0;
	unsigned k;
	int rc;

	t0 = bench_now();
	for (k = 0; k < WINDOW_OPS; k++, f->n++) {
		memcpy(f->bufs[0], &f->n, sizeof(f->n));
		if ((rc = btstore_feed_append(f->st, s, f->bufs[0], PAYLOAD,
		    NULL)) != BT_OK)
			die("append", rc);
	}
	return WINDOW_OPS / (bench_now() - t0);
}

static void
run_close(struct feedrun *f)
{
	close_store(f->st, f->dir);
}

int
main(void)
{
	static struct btstore_feed_payload items[BTSTORE_FEED_BATCH_MAX];
	static uint8_t bufs[BTSTORE_FEED_BATCH_MAX][PAYLOAD];
	char dir[] = "/tmp/bt-bench-feedlog-XXXXXX";
	char dir2[] = "/tmp/bt-bench-feedin-XXXXXX";
	char dir3[] = "/tmp/bt-bench-rec-XXXXXX";
	struct btcore_key *key;
	struct btcore_signer s;
	struct btstore *st, *in;
	struct btcore_merkle *m;
	struct bt_log_head head;
	struct bt_log_entry e;
	struct bt_record *recs;
	struct feedrun *fr;
	unsigned char pk[crypto_sign_PUBLICKEYBYTES];
	unsigned char sk[crypto_sign_SECRETKEYBYTES];
	struct bt_id ph, leaf, root;
	uint8_t buf[PAYLOAD], name[8];
	double sign_rate, verify_rate, r1, r1w, r64, sr, t0, t, build, ts, ta;
	unsigned round;
	uint64_t i, n;
	size_t k, len, nrec = 20000;
	int rc;

	if (sodium_init() < 0)
		die("sodium_init", 0);
	if ((rc = btcore_key_generate(&key)) != BT_OK)
		die("key", rc);
	btcore_key_signer(key, &s);
	raw_rates(&sign_rate, &verify_rate);

	/* single appends: the best windows, taking turns with the raw
	 * signatures */
	if ((fr = calloc(2, sizeof(*fr))) == NULL)
		die("calloc", 0);
	run_open(&fr[0], &s, BENCH_WRITEMAP);
	run_open(&fr[1], &s, !BENCH_WRITEMAP);
	crypto_sign_keypair(pk, sk);
	r1 = r1w = sr = 0;
	ts = ta = 0;
	for (round = 0; round < WINDOWS; round++) {
		t = sign_window(sk);
		sr = max_d(sr, t);
		ts += WINDOW_OPS / t;
		t = append_window(&fr[0], &s);
		r1 = max_d(r1, t);
		ta += WINDOW_OPS / t;
		r1w = max_d(r1w, append_window(&fr[1], &s));
	}
	sodium_memzero(sk, sizeof(sk));
	run_close(&fr[0]);
	run_close(&fr[1]);
	bench_line("btstore", "feed.append.batch1", r1, "appends/s", sr,
	    "ed25519 signs/s", ">= 0.8");
	/* the same windows, every one counted: what the rarer costs (a new
	   page of the map, the freelist) and the machine's other work add */
	bench_line("btstore", "feed.append.batch1.mean",
	    WINDOWS * WINDOW_OPS / ta, "appends/s", WINDOWS * WINDOW_OPS / ts,
	    "ed25519 signs/s", NULL);
	bench_line("btstore", BENCH_WRITEMAP ?
	    "feed.append.batch1.nowritemap" : "feed.append.batch1.writemap",
	    r1w, "appends/s", sr, "ed25519 signs/s", NULL);
	run_open(&fr[0], &s, BENCH_WRITEMAP);
	r64 = run_appends(&fr[0], &s, 64, RUN_S);
	run_close(&fr[0]);
	free(fr);
	bench_line("btstore", "feed.append.batch64", r64, "appends/s",
	    sign_rate, "ed25519 signs/s", NULL);

	/* the log to verify */
	st = open_store(dir, BENCH_WRITEMAP);
	if ((rc = btstore_feed_create(st, &s)) != BT_OK)
		die("feed create", rc);
	for (k = 0; k < BTSTORE_FEED_BATCH_MAX; k++) {
		items[k].data = bufs[k];
		items[k].len = PAYLOAD;
	}
	t0 = bench_now();
	for (n = 0; n < LOG_ENTRIES; n += BTSTORE_FEED_BATCH_MAX) {
		for (k = 0; k < BTSTORE_FEED_BATCH_MAX; k++)
			fill(bufs[k], PAYLOAD, n + k);
		if ((rc = btstore_feed_append_batch(st, &s, items,
		    BTSTORE_FEED_BATCH_MAX, NULL)) != BT_OK)
			die("append", rc);
	}
	build = bench_now() - t0;
	fprintf(stderr, "bench btstore: built a %u-entry log in %.1f s "
	    "(batches of %u)\n", LOG_ENTRIES, build, BTSTORE_FEED_BATCH_MAX);

	/* entry by entry, for RUN_S seconds */
	t0 = bench_now();
	if ((rc = btstore_feed_head(st, &s.pub, &head)) != BT_OK ||
	    (rc = btcore_log_head_verify(&head)) != BT_OK)
		die("head", rc);
	for (i = 0; (t = bench_now() - t0) < RUN_S && i < LOG_ENTRIES; i++) {
		if ((rc = btstore_feed_entry_get(st, &s.pub, i, 0, &e, buf,
		    sizeof(buf), &len)) != BT_OK ||
		    (rc = btcore_log_leaf_hash(&leaf, &e.payload_hash)) != BT_OK ||
		    (rc = btcore_merkle_inclusion_verify(&e.proof, &leaf,
		    &head.root)) != BT_OK ||
		    (rc = btcore_log_entry_check_payload(&e, buf, len)) != BT_OK)
			die("verify entry", rc);
	}
	bench_line("btstore", "feed.verify.proofs", (double)i / t, "entries/s",
	    verify_rate, "ed25519 verifies/s", NULL);

	/* the whole log at once: every leaf, one root, one signature */
	if ((rc = btcore_merkle_new(&m)) != BT_OK)
		die("merkle", rc);
	t0 = bench_now();
	for (i = 0; i < LOG_ENTRIES; i++) {
		fill(buf, PAYLOAD, i);
		if ((rc = btcore_id_hash(&ph, buf, PAYLOAD)) != BT_OK ||
		    (rc = btcore_log_leaf_hash(&leaf, &ph)) != BT_OK ||
		    (rc = btcore_merkle_append(m, &leaf, NULL, NULL)) != BT_OK)
			die("recompute", rc);
	}
	if ((rc = btcore_merkle_root(m, &root)) != BT_OK ||
	    memcmp(root.b, head.root.b, 32) != 0 ||
	    (rc = btcore_log_head_verify(&head)) != BT_OK)
		die("root", rc);
	t = bench_now() - t0;
	btcore_merkle_free(m);
	bench_line("btstore", "feed.verify.root", (double)LOG_ENTRIES / t,
	    "entries/s", verify_rate, "ed25519 verifies/s", NULL);

	/* a second store taking the entries in, for RUN_S seconds */
	in = open_store(dir2, BENCH_WRITEMAP);
	if ((rc = btstore_feed_head_put(in, &head, NULL)) != BT_OK)
		die("follow", rc);
	t0 = bench_now();
	for (i = 0; (t = bench_now() - t0) < RUN_S && i < LOG_ENTRIES; i++) {
		if ((rc = btstore_feed_entry_get(st, &s.pub, i, 0, &e, buf,
		    sizeof(buf), &len)) != BT_OK ||
		    (rc = btstore_feed_entry_put(in, &e, NULL, buf, len))
		    != BT_OK)
			die("ingest", rc);
	}
	bench_line("btstore", "feed.ingest", (double)i / t, "entries/s",
	    verify_rate, "ed25519 verifies/s", NULL);
	close_store(in, dir2);
	close_store(st, dir);

	/* record puts: signed beforehand, each a new sequence of one of
	 * 1000 names */
	if ((recs = calloc(nrec, sizeof(*recs))) == NULL)
		die("calloc", 0);
	for (k = 0; k < nrec; k++) {
		snprintf((char *)name, sizeof(name), "n%zu", k % 1000);
		if ((rc = btcore_record_sign(&recs[k], &s, name,
		    strlen((char *)name), "a value of some length", 22,
		    1 + k / 1000)) != BT_OK)
			die("record sign", rc);
	}
	st = open_store(dir3, BENCH_WRITEMAP);
	t0 = bench_now();
	for (k = 0; k < nrec && (t = bench_now() - t0) < RUN_S; k++)
		if ((rc = btstore_record_put(st, &recs[k], k, 0, 0, NULL))
		    != BT_OK)
			die("record put", rc);
	t = bench_now() - t0;
	bench_line("btstore", "record.put", (double)k / t, "puts/s",
	    verify_rate, "ed25519 verifies/s", NULL);
	close_store(st, dir3);
	free(recs);
	btcore_key_free(key);
	return 0;
}
