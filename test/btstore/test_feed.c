/*
 * test_feed.c - feeds: appends in batches of 1 and 64 with every proof
 * checked against the heads, a second store taking the entries in random
 * order and sparse subsets, head extension, forks, damaged records, and
 * the stored layouts.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bt/feed.h>

#include "btstore-internal.h"
#include "feed-internal.h"

Suite *suite_feed(void);

struct tmp {
	char dir[64];
	struct btstore *st;
};

static void
open_tmp(struct tmp *t)
{
	struct btstore_options *o;

	snprintf(t->dir, sizeof(t->dir), "%s", "/tmp/btstore-feed-XXXXXX");
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

struct writer {
	struct btcore_key *key;
	struct btcore_signer signer;
};

static void
writer_new(struct writer *w, uint8_t seed)
{
	uint8_t s[BTCORE_ED25519_SEED_LEN];

	memset(s, seed, sizeof(s));
	ck_assert_int_eq(btcore_key_from_seed(&w->key, s), BT_OK);
	btcore_key_signer(w->key, &w->signer);
}

/* Payload of entry @p i of variant @p v: 1..300 bytes. */
static size_t
payload(uint8_t *buf, uint64_t i, unsigned v)
{
	size_t len = 1 + (size_t)((i * 37 + v) % 300), k;

	for (k = 0; k < len; k++)
		buf[k] = (uint8_t)(i * 131 + k * 7 + v * 13);
	memcpy(buf, &i, len < sizeof(i) ? len : sizeof(i));
	return len;
}

/* Entry @p i against head length @p at (0: newest) reads back verified. */
static void
check_entry(struct btstore *st, const struct bt_pubkey *feed, uint64_t i,
    uint64_t at, unsigned v)
{
	struct bt_log_entry e;
	uint8_t want[300], got[300];
	size_t wl, gl;

	ck_assert_int_eq(btstore_feed_entry_get(st, feed, i, at, &e, got,
	    sizeof(got), &gl), BT_OK);
	wl = payload(want, i, v);
	ck_assert_uint_eq(gl, wl);
	ck_assert(memcmp(got, want, wl) == 0);
	ck_assert_uint_eq(e.index, i);
	if (at != 0)
		ck_assert_uint_eq(e.head.length, at);
	ck_assert_int_eq(btcore_log_entry_verify(&e), BT_OK);
	ck_assert_int_eq(btcore_log_entry_check_payload(&e, got, gl), BT_OK);
}

static void
run_appends(unsigned batch)
{
	struct tmp t;
	struct writer w;
	struct btcore_merkle *m;
	struct btstore_feed_payload items[64];
	struct btstore_feed_info info;
	struct bt_log_head head, old;
	struct bt_log_entry e;
	struct bt_merkle_proof cp;
	struct bt_id ph, leaf, root;
	uint8_t bufs[64][300];
	uint64_t n = 0, first, lens[64], i, L;
	size_t nl = 0, k, b;

	open_tmp(&t);
	writer_new(&w, 7);
	ck_assert_int_eq(btcore_merkle_new(&m), BT_OK);
	ck_assert_int_eq(btstore_feed_create(t.st, &w.signer), BT_OK);
	ck_assert_int_eq(btstore_feed_create(t.st, &w.signer), BT_EEXIST);
	ck_assert_int_eq(btstore_feed_head(t.st, &w.signer.pub, &head), BT_OK);
	ck_assert_uint_eq(head.length, 0);
	while (n < 1000) {
		b = batch;
		if (b > 1000 - n)
			b = (size_t)(1000 - n);
		for (k = 0; k < b; k++) {
			items[k].len = payload(bufs[k], n + k, 0);
			items[k].data = bufs[k];
			ck_assert_int_eq(btcore_id_hash(&ph, bufs[k],
			    items[k].len), BT_OK);
			ck_assert_int_eq(btcore_log_leaf_hash(&leaf, &ph),
			    BT_OK);
			ck_assert_int_eq(btcore_merkle_append(m, &leaf, NULL,
			    NULL), BT_OK);
		}
		if (b == 1)
			ck_assert_int_eq(btstore_feed_append(t.st, &w.signer,
			    items[0].data, items[0].len, &first), BT_OK);
		else
			ck_assert_int_eq(btstore_feed_append_batch(t.st,
			    &w.signer, items, b, &first), BT_OK);
		ck_assert_uint_eq(first, n);
		n += b;
		/* the signed head is the independent accumulator's root */
		ck_assert_int_eq(btstore_feed_head(t.st, &w.signer.pub, &head),
		    BT_OK);
		ck_assert_uint_eq(head.length, n);
		ck_assert_int_eq(btcore_merkle_root(m, &root), BT_OK);
		ck_assert(memcmp(root.b, head.root.b, 32) == 0);
		ck_assert_int_eq(btcore_log_head_verify(&head), BT_OK);
		/* the new entries, against the head they were signed under */
		for (i = first; i < n; i++)
			check_entry(t.st, &w.signer.pub, i, n, 0);
		if ((n % 97 == 0 || n / batch % 5 == 0) && nl < 64)
			lens[nl++] = n;
	}
	ck_assert_int_eq(btstore_feed_info(t.st, &w.signer.pub, &info), BT_OK);
	ck_assert_uint_eq(info.length, 1000);
	ck_assert_uint_eq(info.held, 1000);
	ck_assert_int_eq(info.owned, 1);
	ck_assert_int_eq(info.forked, 0);
	/* every entry against the newest head, and against older heads */
	for (i = 0; i < 1000; i++)
		check_entry(t.st, &w.signer.pub, i, 0, 0);
	for (k = 0; k < nl; k++) {
		L = lens[k];
		for (i = 0; i < L; i += 1 + (L - i) / 50)
			check_entry(t.st, &w.signer.pub, i, L, 0);
		/* the consistency proof from that head to the newest */
		ck_assert_int_eq(btstore_feed_head_at(t.st, &w.signer.pub, L,
		    &old), BT_OK);
		ck_assert_int_eq(btstore_feed_consistency(t.st, &w.signer.pub,
		    L, 1000, &cp), BT_OK);
		ck_assert_int_eq(btcore_log_head_extends(&old, &head, &cp,
		    NULL), BT_OK);
	}
	/* no head between batch ends; nothing beyond the newest */
	if (batch > 1) {
		ck_assert_int_eq(btstore_feed_head_at(t.st, &w.signer.pub, 100,
		    &old), BT_ENOTFOUND);
		ck_assert_int_eq(btstore_feed_entry_get(t.st, &w.signer.pub,
		    3, 100, &e, NULL, 0, &nl), BT_ENOTFOUND);
	}
	ck_assert_int_eq(btstore_feed_consistency(t.st, &w.signer.pub, 5,
	    1001, &cp), BT_ENOTFOUND);
	btcore_merkle_free(m);
	btcore_key_free(w.key);
	close_tmp(&t);
}

START_TEST(append_batch1)
{
	run_appends(1);
}
END_TEST

START_TEST(append_batch64)
{
	run_appends(64);
}
END_TEST

/*
 * Appends to more feeds than the store keeps accumulators for, in turns,
 * with writes that fill the map and run again, across a reopen: every
 * head's root is the one recomputed here, every proof checks.
 */
#define CACHE_WRITERS	11
#define CACHE_ROUNDS	24
#define CACHE_BIG	(32u << 10)

START_TEST(accumulator_cache)
{
	struct btstore_options *o;
	struct tmp t;
	static struct writer w[CACHE_WRITERS];
	static struct btcore_merkle *m[CACHE_WRITERS];
	static uint8_t bufs[5][CACHE_BIG], got[CACHE_BIG];
	struct btstore_feed_payload items[5];
	struct bt_log_head head;
	struct bt_log_entry e;
	struct bt_id ph, leaf, root;
	uint64_t n[CACHE_WRITERS], first, size, i;
	size_t j, k, b, r, gl, total = 0;

	open_tmp(&t);
	btstore_close(t.st);
	ck_assert_int_eq(btstore_options_new(&o), BT_OK);
	ck_assert_int_eq(btstore_options_set(o, BTSTORE_OPT_NOSYNC, 1), BT_OK);
	ck_assert_int_eq(btstore_options_set(o, BTSTORE_OPT_MAP_INITIAL,
	    1 << 20), BT_OK);
	ck_assert_int_eq(btstore_open(&t.st, t.dir, o), BT_OK);
	for (j = 0; j < CACHE_WRITERS; j++) {
		writer_new(&w[j], (uint8_t)(40 + j));
		ck_assert_int_eq(btcore_merkle_new(&m[j]), BT_OK);
		ck_assert_int_eq(btstore_feed_create(t.st, &w[j].signer),
		    BT_OK);
		n[j] = 0;
	}
	for (r = 0; r < CACHE_ROUNDS; r++) {
		if (r == CACHE_ROUNDS / 2) {
			btstore_close(t.st);
			ck_assert_int_eq(btstore_open(&t.st, t.dir, o), BT_OK);
		}
		for (j = 0; j < CACHE_WRITERS; j++) {
			b = 1 + (r + j) % 5;
			for (k = 0; k < b; k++) {
				items[k].data = bufs[k];
				items[k].len = payload(bufs[k], n[j] + k,
				    (unsigned)j);
				/* now and then a large one fills the map */
				if (++total % 7 == 0) {
					memset(bufs[k] + items[k].len,
					    (int)total, CACHE_BIG -
					    items[k].len);
					items[k].len = CACHE_BIG;
				}
				ck_assert_int_eq(btcore_id_hash(&ph, bufs[k],
				    items[k].len), BT_OK);
				ck_assert_int_eq(btcore_log_leaf_hash(&leaf,
				    &ph), BT_OK);
				ck_assert_int_eq(btcore_merkle_append(m[j],
				    &leaf, NULL, NULL), BT_OK);
			}
			ck_assert_int_eq(btstore_feed_append_batch(t.st,
			    &w[j].signer, items, b, &first), BT_OK);
			ck_assert_uint_eq(first, n[j]);
			n[j] += b;
			ck_assert_int_eq(btstore_feed_head(t.st,
			    &w[j].signer.pub, &head), BT_OK);
			ck_assert_uint_eq(head.length, n[j]);
			ck_assert_int_eq(btcore_merkle_root(m[j], &root),
			    BT_OK);
			ck_assert(memcmp(head.root.b, root.b, 32) == 0);
		}
	}
	ck_assert_int_eq(btstore_map_info(t.st, &size, NULL), BT_OK);
	ck_assert_uint_gt(size, 1 << 20);	/* writes ran again */
	for (j = 0; j < CACHE_WRITERS; j += 5) {
		for (i = 0; i < n[j]; i++) {
			ck_assert_int_eq(btstore_feed_entry_get(t.st,
			    &w[j].signer.pub, i, 0, &e, got, sizeof(got), &gl),
			    BT_OK);
			ck_assert_int_eq(btcore_log_entry_verify(&e), BT_OK);
			ck_assert_int_eq(btcore_log_entry_check_payload(&e,
			    got, gl), BT_OK);
		}
	}
	for (j = 0; j < CACHE_WRITERS; j++) {
		btcore_merkle_free(m[j]);
		btcore_key_free(w[j].key);
	}
	btstore_options_free(o);
	close_tmp(&t);
}
END_TEST

START_TEST(append_errors)
{
	struct tmp t;
	struct writer w, other;
	struct btstore_feed_payload p[2];
	struct bt_log_entry e;
	struct bt_log_head h;
	struct bt_log_fork fk;
	uint8_t buf[8];
	size_t len;

	open_tmp(&t);
	writer_new(&w, 1);
	writer_new(&other, 2);
	ck_assert_int_eq(btstore_feed_append(t.st, &w.signer, "a", 1, NULL),
	    BT_ENOTFOUND);
	ck_assert_int_eq(btstore_feed_create(t.st, &w.signer), BT_OK);
	ck_assert_int_eq(btstore_feed_append(t.st, &w.signer, NULL, 1, NULL),
	    BT_EINVAL);
	ck_assert_int_eq(btstore_feed_append(t.st, &w.signer, "",
	    BTSTORE_FEED_PAYLOAD_MAX + 1, NULL), BT_ERANGE);
	ck_assert_int_eq(btstore_feed_append_batch(t.st, &w.signer, p, 0,
	    NULL), BT_EINVAL);
	ck_assert_int_eq(btstore_feed_append_batch(t.st, &w.signer, p,
	    BTSTORE_FEED_BATCH_MAX + 1, NULL), BT_ERANGE);
	ck_assert_int_eq(btstore_feed_append(t.st, NULL, "a", 1, NULL),
	    BT_EINVAL);
	/* an empty payload is an entry like any other */
	ck_assert_int_eq(btstore_feed_append(t.st, &w.signer, NULL, 0, NULL),
	    BT_OK);
	ck_assert_int_eq(btstore_feed_entry_get(t.st, &w.signer.pub, 0, 0, &e,
	    NULL, 0, &len), BT_OK);
	ck_assert_uint_eq(len, 0);
	ck_assert_int_eq(btcore_log_entry_verify(&e), BT_OK);
	/* payload buffer too small: the entry is still filled */
	ck_assert_int_eq(btstore_feed_append(t.st, &w.signer, "abcdefghij", 10,
	    NULL), BT_OK);
	ck_assert_int_eq(btstore_feed_entry_get(t.st, &w.signer.pub, 1, 0, &e,
	    buf, sizeof(buf), &len), BT_ERANGE);
	ck_assert_uint_eq(len, 10);
	ck_assert_uint_eq(e.index, 1);
	ck_assert_int_eq(btstore_feed_entry_get(t.st, &w.signer.pub, 2, 0, &e,
	    buf, sizeof(buf), &len), BT_ENOTFOUND);
	ck_assert_int_eq(btstore_feed_entry_get(t.st, &other.signer.pub, 0, 0,
	    &e, buf, sizeof(buf), &len), BT_ENOTFOUND);
	ck_assert_int_eq(btstore_feed_head(t.st, &other.signer.pub, &h),
	    BT_ENOTFOUND);
	ck_assert_int_eq(btstore_feed_head(t.st, NULL, &h), BT_EINVAL);
	ck_assert_int_eq(btstore_feed_fork(t.st, &w.signer.pub, &fk),
	    BT_ENOTFOUND);
	ck_assert_int_eq(btstore_feed_head(t.st, &w.signer.pub, &h), BT_OK);
	ck_assert_uint_eq(h.length, 2);
	btcore_key_free(w.key);
	btcore_key_free(other.key);
	close_tmp(&t);
}
END_TEST

/* ---- following a feed -------------------------------------------------- */

struct ranges {
	uint64_t start[2000], count[2000];
	size_t n;
};

static int
collect(void *arg, uint64_t start, uint64_t count)
{
	struct ranges *r = arg;

	ck_assert_uint_lt(r->n, 2000);
	r->start[r->n] = start;
	r->count[r->n] = count;
	r->n++;
	return 0;
}

static void
count_ev(void *arg, int kind, int event, const void *key, size_t keylen)
{
	ck_assert_int_eq(kind, BTSTORE_TOPIC_FEED);
	ck_assert_int_eq(event, BTSTORE_EV_PUT);
	ck_assert_uint_eq(keylen, 32);
	(void)key;
	(*(unsigned *)arg)++;
}

static void
append_n(struct btstore *st, struct writer *w, uint64_t from, uint64_t n,
    size_t batch, unsigned v)
{
	struct btstore_feed_payload items[64];
	uint8_t bufs[64][300];
	uint64_t done = 0;
	size_t k, b;

	while (done < n) {
		b = batch;
		if (b > n - done)
			b = (size_t)(n - done);
		for (k = 0; k < b; k++) {
			items[k].len = payload(bufs[k], from + done + k, v);
			items[k].data = bufs[k];
		}
		ck_assert_int_eq(btstore_feed_append_batch(st, &w->signer,
		    items, b, NULL), BT_OK);
		done += b;
	}
}

/* Copy entry @p i of @p from (against head length @p at) into @p to. */
static int
copy_entry(struct btstore *from, struct btstore *to,
    const struct bt_pubkey *feed, uint64_t i, uint64_t at,
    const struct bt_merkle_proof *proof)
{
	struct bt_log_entry e;
	uint8_t buf[300];
	size_t len;

	ck_assert_int_eq(btstore_feed_entry_get(from, feed, i, at, &e, buf,
	    sizeof(buf), &len), BT_OK);
	return btstore_feed_entry_put(to, &e, proof, buf, len);
}

START_TEST(follow_any_order)
{
	struct tmp a, b;
	struct writer w;
	struct bt_log_head h100, h300, h;
	struct bt_log_entry e;
	struct bt_merkle_proof cp;
	struct btstore_feed_info info;
	struct ranges r;
	uint64_t order[300], i, j, x;
	uint8_t buf[300];
	unsigned seed = 99, events = 0;
	uint64_t watch;
	size_t len, delivered;

	open_tmp(&a);
	open_tmp(&b);
	writer_new(&w, 3);
	ck_assert_int_eq(btstore_feed_create(a.st, &w.signer), BT_OK);
	append_n(a.st, &w, 0, 100, 10, 0);
	ck_assert_int_eq(btstore_feed_head(a.st, &w.signer.pub, &h100), BT_OK);
	append_n(a.st, &w, 100, 200, 64, 0);
	ck_assert_int_eq(btstore_feed_head(a.st, &w.signer.pub, &h300), BT_OK);
	ck_assert_uint_eq(h300.length, 300);

	ck_assert_int_eq(btstore_watch(b.st, BTSTORE_TOPIC_FEED,
	    w.signer.pub.b, 32, count_ev, &events, &watch), BT_OK);
	/* an entry of a feed not followed yet */
	ck_assert_int_eq(copy_entry(a.st, b.st, &w.signer.pub, 0, 100, NULL),
	    BT_ENOTFOUND);
	/* follow at 100; the even entries below 100 in random order */
	ck_assert_int_eq(btstore_feed_head_put(b.st, &h100, NULL), BT_OK);
	ck_assert_int_eq(btstore_feed_info(b.st, &w.signer.pub, &info), BT_OK);
	ck_assert_uint_eq(info.length, 100);
	ck_assert_uint_eq(info.held, 0);
	ck_assert_int_eq(info.owned, 0);
	for (i = 0; i < 50; i++)
		order[i] = 2 * i;
	for (i = 49; i > 0; i--) {
		j = (uint64_t)rand_r(&seed) % (i + 1);
		x = order[i];
		order[i] = order[j];
		order[j] = x;
	}
	for (i = 0; i < 50; i++)
		ck_assert_int_eq(copy_entry(a.st, b.st, &w.signer.pub,
		    order[i], 100, NULL), BT_OK);
	/* again: nothing changes */
	ck_assert_int_eq(copy_entry(a.st, b.st, &w.signer.pub, 4, 100, NULL),
	    BT_OK);
	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(btstore_feed_have(b.st, &w.signer.pub, 0, collect,
	    &r), BT_OK);
	ck_assert_uint_eq(r.n, 50);
	for (i = 0; i < 50; i++) {
		ck_assert_uint_eq(r.start[i], 2 * i);
		ck_assert_uint_eq(r.count[i], 1);
	}
	/* under the newer head 300: refused without the consistency proof,
	 * adopted with it */
	ck_assert_int_eq(copy_entry(a.st, b.st, &w.signer.pub, 1, 0, NULL),
	    BT_EVERIFY);
	ck_assert_int_eq(btstore_feed_consistency(a.st, &w.signer.pub, 100,
	    300, &cp), BT_OK);
	ck_assert_int_eq(copy_entry(a.st, b.st, &w.signer.pub, 1, 0, &cp),
	    BT_OK);
	ck_assert_int_eq(btstore_feed_head(b.st, &w.signer.pub, &h), BT_OK);
	ck_assert_uint_eq(h.length, 300);
	ck_assert(memcmp(&h.root, &h300.root, 32) == 0);
	/* the rest of the odd entries below 300, in random order */
	for (i = 0; i < 150; i++)
		order[i] = 2 * i + 1;
	for (i = 149; i > 0; i--) {
		j = (uint64_t)rand_r(&seed) % (i + 1);
		x = order[i];
		order[i] = order[j];
		order[j] = x;
	}
	for (i = 0; i < 150; i++)
		ck_assert_int_eq(copy_entry(a.st, b.st, &w.signer.pub,
		    order[i], 0, NULL), BT_OK);
	/* an entry under a head b does not hold (length 164): only with the
	 * proof from 160 to 300; then that head is held */
	ck_assert_int_eq(copy_entry(a.st, b.st, &w.signer.pub, 150, 164, NULL),
	    BT_EVERIFY);
	ck_assert_int_eq(btstore_feed_consistency(a.st, &w.signer.pub, 164,
	    300, &cp), BT_OK);
	ck_assert_int_eq(copy_entry(a.st, b.st, &w.signer.pub, 150, 164, &cp),
	    BT_OK);
	ck_assert_int_eq(btstore_feed_head_at(b.st, &w.signer.pub, 164, &h),
	    BT_OK);
	ck_assert_int_eq(copy_entry(a.st, b.st, &w.signer.pub, 152, 164, NULL),
	    BT_OK);

	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(btstore_feed_have(b.st, &w.signer.pub, 0, collect,
	    &r), BT_OK);
	/* 0..100 even + all odd below 300 + 150, 152: [0, 101) is whole */
	ck_assert_uint_eq(r.start[0], 0);
	ck_assert_uint_eq(r.count[0], 100);
	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(btstore_feed_have(b.st, &w.signer.pub, 149, collect,
	    &r), BT_OK);
	ck_assert_uint_eq(r.start[0], 149);
	ck_assert_uint_eq(r.count[0], 5);	/* 149 150 151 152 153 */
	ck_assert_uint_eq(r.start[1], 155);
	ck_assert_int_eq(btstore_feed_info(b.st, &w.signer.pub, &info), BT_OK);
	ck_assert_uint_eq(info.held, 50 + 150 + 2);

	/* b serves what it holds, with the head each was verified under */
	for (i = 0; i < 300; i++) {
		len = 0;
		x = btstore_feed_entry_get(b.st, &w.signer.pub, i, 0, &e, buf,
		    sizeof(buf), &len) == BT_OK;
		if (!x) {
			ck_assert(i % 2 == 0 && i >= 100 && i != 150 &&
			    i != 152);
			continue;
		}
		ck_assert_int_eq(btcore_log_entry_verify(&e), BT_OK);
		ck_assert_int_eq(btcore_log_entry_check_payload(&e, buf, len),
		    BT_OK);
		check_entry(b.st, &w.signer.pub, i, e.head.length, 0);
	}
	/* a followed feed builds no proofs of its own */
	ck_assert_int_eq(btstore_feed_consistency(b.st, &w.signer.pub, 100,
	    300, &cp), BT_EUNSUPPORTED);
	ck_assert_int_eq(btstore_feed_append(b.st, &w.signer, "x", 1, NULL),
	    BT_EPERM);
	ck_assert_int_eq(btstore_notify_dispatch(b.st, &delivered), BT_OK);
	/* follow, 50 + 150 + 2 entries, one adoption that also stored */
	ck_assert_uint_eq(events, 1 + 50 + 150 + 2);
	btcore_key_free(w.key);
	close_tmp(&a);
	close_tmp(&b);
}
END_TEST

START_TEST(entries_tampered)
{
	struct tmp a, b;
	struct writer w, other;
	struct bt_log_entry e, bad;
	struct bt_log_head h;
	uint8_t buf[300];
	size_t len;

	open_tmp(&a);
	open_tmp(&b);
	writer_new(&w, 4);
	writer_new(&other, 5);
	ck_assert_int_eq(btstore_feed_create(a.st, &w.signer), BT_OK);
	append_n(a.st, &w, 0, 40, 8, 0);
	ck_assert_int_eq(btstore_feed_head(a.st, &w.signer.pub, &h), BT_OK);
	ck_assert_int_eq(btstore_feed_head_put(b.st, &h, NULL), BT_OK);
	ck_assert_int_eq(btstore_feed_entry_get(a.st, &w.signer.pub, 17, 0, &e,
	    buf, sizeof(buf), &len), BT_OK);
	/* payload */
	buf[0] ^= 1;
	ck_assert_int_eq(btstore_feed_entry_put(b.st, &e, NULL, buf, len),
	    BT_EVERIFY);
	buf[0] ^= 1;
	ck_assert_int_eq(btstore_feed_entry_put(b.st, &e, NULL, buf, len - 1),
	    BT_EVERIFY);
	/* proof hash */
	bad = e;
	bad.proof.hash[2].b[5] ^= 0x40;
	ck_assert_int_eq(btstore_feed_entry_put(b.st, &bad, NULL, buf, len),
	    BT_EVERIFY);
	/* index */
	bad = e;
	bad.index = 18;
	ck_assert_int_eq(btstore_feed_entry_put(b.st, &bad, NULL, buf, len),
	    BT_EVERIFY);
	/* head signature (same length and root as the held head, other
	 * signature bytes) */
	bad = e;
	bad.head.sig.b[10] ^= 1;
	ck_assert_int_eq(btstore_feed_entry_put(b.st, &bad, NULL, buf, len),
	    BT_EVERIFY);
	/* a head signed by another key for this feed's id */
	bad = e;
	ck_assert_int_eq(btcore_log_head_sign(&bad.head, &other.signer,
	    e.head.length, &e.head.root), BT_OK);
	bad.head.feed = w.signer.pub;
	ck_assert_int_eq(btstore_feed_entry_put(b.st, &bad, NULL, buf, len),
	    BT_EVERIFY);
	ck_assert_int_eq(btstore_feed_entry_put(b.st, NULL, NULL, buf, len),
	    BT_EINVAL);
	ck_assert_int_eq(btstore_feed_entry_put(b.st, &e, NULL, NULL, len),
	    BT_EINVAL);
	/* none of that stored anything; the real one goes in */
	ck_assert_int_eq(btstore_feed_entry_get(b.st, &w.signer.pub, 17, 0,
	    &bad, buf, sizeof(buf), &len), BT_ENOTFOUND);
	ck_assert_int_eq(btstore_feed_entry_get(a.st, &w.signer.pub, 17, 0, &e,
	    buf, sizeof(buf), &len), BT_OK);
	ck_assert_int_eq(btstore_feed_entry_put(b.st, &e, NULL, buf, len),
	    BT_OK);
	check_entry(b.st, &w.signer.pub, 17, 0, 0);
	btcore_key_free(w.key);
	btcore_key_free(other.key);
	close_tmp(&a);
	close_tmp(&b);
}
END_TEST

START_TEST(head_extension)
{
	struct tmp a, b;
	struct writer w;
	struct bt_log_head h5, h10, h20, h, fake;
	struct bt_merkle_proof cp, bad;
	struct bt_id root;

	open_tmp(&a);
	open_tmp(&b);
	writer_new(&w, 6);
	ck_assert_int_eq(btstore_feed_create(a.st, &w.signer), BT_OK);
	append_n(a.st, &w, 0, 5, 5, 0);
	ck_assert_int_eq(btstore_feed_head(a.st, &w.signer.pub, &h5), BT_OK);
	append_n(a.st, &w, 5, 5, 5, 0);
	ck_assert_int_eq(btstore_feed_head(a.st, &w.signer.pub, &h10), BT_OK);
	append_n(a.st, &w, 10, 10, 10, 0);
	ck_assert_int_eq(btstore_feed_head(a.st, &w.signer.pub, &h20), BT_OK);

	/* a head with a bad signature is not followed */
	h = h5;
	h.sig.b[0] ^= 1;
	ck_assert_int_eq(btstore_feed_head_put(b.st, &h, NULL), BT_EVERIFY);
	ck_assert_int_eq(btstore_feed_head(b.st, &w.signer.pub, &h),
	    BT_ENOTFOUND);
	ck_assert_int_eq(btstore_feed_head_put(b.st, &h5, NULL), BT_OK);
	ck_assert_int_eq(btstore_feed_head_put(b.st, &h5, NULL), BT_OK);
	/* longer: the proof is required, for the right sizes, and true */
	ck_assert_int_eq(btstore_feed_head_put(b.st, &h20, NULL), BT_EINVAL);
	ck_assert_int_eq(btstore_feed_consistency(a.st, &w.signer.pub, 10, 20,
	    &cp), BT_OK);
	ck_assert_int_eq(btstore_feed_head_put(b.st, &h20, &cp), BT_EINVAL);
	ck_assert_int_eq(btstore_feed_consistency(a.st, &w.signer.pub, 5, 20,
	    &cp), BT_OK);
	bad = cp;
	bad.hash[0].b[0] ^= 1;
	ck_assert_int_eq(btstore_feed_head_put(b.st, &h20, &bad), BT_EVERIFY);
	ck_assert_int_eq(btstore_feed_head(b.st, &w.signer.pub, &h), BT_OK);
	ck_assert_uint_eq(h.length, 5);
	ck_assert_int_eq(btstore_feed_head_put(b.st, &h20, &cp), BT_OK);
	ck_assert_int_eq(btstore_feed_head(b.st, &w.signer.pub, &h), BT_OK);
	ck_assert_uint_eq(h.length, 20);
	/* a longer head that does not extend (another history) */
	ck_assert_int_eq(btcore_id_hash(&root, "other", 5), BT_OK);
	ck_assert_int_eq(btcore_log_head_sign(&fake, &w.signer, 40, &root),
	    BT_OK);
	ck_assert_int_eq(btstore_feed_consistency(a.st, &w.signer.pub, 20, 20,
	    &cp), BT_OK);
	ck_assert_int_eq(btstore_feed_head_put(b.st, &fake, &cp), BT_EINVAL);
	/* shorter: stale unless held or proven */
	ck_assert_int_eq(btstore_feed_head_put(b.st, &h5, NULL), BT_OK);
	ck_assert_int_eq(btstore_feed_head_put(b.st, &h10, NULL), BT_ESTALE);
	ck_assert_int_eq(btstore_feed_head_at(b.st, &w.signer.pub, 10, &h),
	    BT_ENOTFOUND);
	ck_assert_int_eq(btstore_feed_consistency(a.st, &w.signer.pub, 10, 20,
	    &cp), BT_OK);
	ck_assert_int_eq(btstore_feed_head_put(b.st, &h10, &cp), BT_OK);
	ck_assert_int_eq(btstore_feed_head_at(b.st, &w.signer.pub, 10, &h),
	    BT_OK);
	ck_assert(memcmp(&h, &h10, sizeof(h)) == 0);
	/* a feed written here takes no longer head from elsewhere */
	ck_assert_int_eq(btstore_feed_head_put(a.st, &fake, &cp), BT_EPERM);
	ck_assert_int_eq(btstore_feed_head_put(a.st, &h10, NULL), BT_OK);
	btcore_key_free(w.key);
	close_tmp(&a);
	close_tmp(&b);
}
END_TEST

/*
 * A feed written here keeps each signed head with the entry that ends its
 * append, its empty head and heads of other lengths taken in from
 * elsewhere on their own: all are served, also after more appends and a
 * reopen (which loads the accumulator from the entries).
 */
START_TEST(owned_heads)
{
	struct btstore_options *o;
	struct tmp a, c;
	struct writer w;
	struct bt_log_head h, h7, ha, hc;
	struct bt_merkle_proof cp;
	uint64_t i, L;

	open_tmp(&a);
	open_tmp(&c);
	writer_new(&w, 11);
	ck_assert_int_eq(btstore_feed_create(a.st, &w.signer), BT_OK);
	ck_assert_int_eq(btstore_feed_create(c.st, &w.signer), BT_OK);
	/* the same entries, signed at 5 and 10 in a, at 7 and 10 in c */
	append_n(a.st, &w, 0, 10, 5, 0);
	append_n(c.st, &w, 0, 7, 7, 0);
	append_n(c.st, &w, 7, 3, 3, 0);
	ck_assert_int_eq(btstore_feed_head_at(c.st, &w.signer.pub, 7, &h7),
	    BT_OK);
	ck_assert_int_eq(btstore_feed_head_at(a.st, &w.signer.pub, 7, &h),
	    BT_ENOTFOUND);
	ck_assert_int_eq(btstore_feed_head_at(a.st, &w.signer.pub, 0, &h),
	    BT_OK);
	ck_assert_uint_eq(h.length, 0);
	for (L = 5; L <= 10; L += 5) {
		ck_assert_int_eq(btstore_feed_head_at(a.st, &w.signer.pub, L,
		    &h), BT_OK);
		ck_assert_uint_eq(h.length, L);
		ck_assert_int_eq(btcore_log_head_verify(&h), BT_OK);
	}
	ck_assert_int_eq(btstore_feed_head(a.st, &w.signer.pub, &ha), BT_OK);
	ck_assert(memcmp(&h, &ha, sizeof(h)) == 0);
	ck_assert_int_eq(btstore_feed_head_at(a.st, &w.signer.pub, 11, &h),
	    BT_ENOTFOUND);
	/* c's head of length 7 is taken in with the proof from 7 to 10 */
	ck_assert_int_eq(btstore_feed_head_put(a.st, &h7, NULL), BT_ESTALE);
	ck_assert_int_eq(btstore_feed_consistency(a.st, &w.signer.pub, 7, 10,
	    &cp), BT_OK);
	ck_assert_int_eq(btstore_feed_head_put(a.st, &h7, &cp), BT_OK);
	ck_assert_int_eq(btstore_feed_head_at(a.st, &w.signer.pub, 7, &h),
	    BT_OK);
	ck_assert(memcmp(&h, &h7, sizeof(h)) == 0);
	ck_assert_int_eq(btstore_feed_head_put(a.st, &h7, NULL), BT_OK);
	for (i = 0; i < 7; i++)
		check_entry(a.st, &w.signer.pub, i, 7, 0);
	/* appends go on past it */
	append_n(a.st, &w, 10, 6, 3, 0);
	for (L = 5; L <= 16; L++) {
		ck_assert_int_eq(btstore_feed_head_at(a.st, &w.signer.pub, L,
		    &h), L % 3 == 1 || L == 5 ? BT_OK :
		    BT_ENOTFOUND);
		for (i = 0; i < L && h.length == L; i++)
			check_entry(a.st, &w.signer.pub, i, L, 0);
	}
	/* a reopen: the next append continues the same tree */
	btstore_close(a.st);
	ck_assert_int_eq(btstore_options_new(&o), BT_OK);
	ck_assert_int_eq(btstore_options_set(o, BTSTORE_OPT_NOSYNC, 1), BT_OK);
	ck_assert_int_eq(btstore_open(&a.st, a.dir, o), BT_OK);
	btstore_options_free(o);
	append_n(a.st, &w, 16, 1, 1, 0);
	append_n(c.st, &w, 10, 7, 2, 0);
	ck_assert_int_eq(btstore_feed_head(a.st, &w.signer.pub, &ha), BT_OK);
	ck_assert_int_eq(btstore_feed_head(c.st, &w.signer.pub, &hc), BT_OK);
	ck_assert_uint_eq(ha.length, 17);
	ck_assert_uint_eq(hc.length, 17);
	ck_assert(memcmp(ha.root.b, hc.root.b, 32) == 0);
	for (i = 0; i < 17; i++)
		check_entry(a.st, &w.signer.pub, i, 0, 0);
	btcore_key_free(w.key);
	close_tmp(&a);
	close_tmp(&c);
}
END_TEST

START_TEST(fork_detected)
{
	struct tmp a, b, c;
	struct writer w;
	struct bt_log_head ha, hc, h;
	struct bt_log_fork fork;
	struct bt_log_entry e;
	struct btstore_feed_info info;
	uint8_t buf[300];
	unsigned events = 0;
	uint64_t watch;
	size_t len;

	open_tmp(&a);
	open_tmp(&b);
	open_tmp(&c);
	writer_new(&w, 8);
	/* the same key writes two histories in two stores */
	ck_assert_int_eq(btstore_feed_create(a.st, &w.signer), BT_OK);
	ck_assert_int_eq(btstore_feed_create(c.st, &w.signer), BT_OK);
	append_n(a.st, &w, 0, 10, 3, 0);
	append_n(c.st, &w, 0, 10, 3, 1);
	ck_assert_int_eq(btstore_feed_head(a.st, &w.signer.pub, &ha), BT_OK);
	ck_assert_int_eq(btstore_feed_head(c.st, &w.signer.pub, &hc), BT_OK);
	ck_assert(memcmp(&ha.root, &hc.root, 32) != 0);

	ck_assert_int_eq(btstore_watch(b.st, BTSTORE_TOPIC_FEED,
	    w.signer.pub.b, 32, count_ev, &events, &watch), BT_OK);
	ck_assert_int_eq(btstore_feed_head_put(b.st, &ha, NULL), BT_OK);
	ck_assert_int_eq(btstore_feed_fork(b.st, &w.signer.pub, &fork),
	    BT_ENOTFOUND);
	/* an entry of the other history is evidence, not an entry */
	ck_assert_int_eq(btstore_feed_entry_get(c.st, &w.signer.pub, 4, 0, &e,
	    buf, sizeof(buf), &len), BT_OK);
	ck_assert_int_eq(btstore_feed_entry_put(b.st, &e, NULL, buf, len),
	    BT_ECONFLICT);
	ck_assert_int_eq(btstore_feed_entry_get(b.st, &w.signer.pub, 4, 0, &e,
	    buf, sizeof(buf), &len), BT_ENOTFOUND);
	ck_assert_int_eq(btstore_feed_info(b.st, &w.signer.pub, &info), BT_OK);
	ck_assert_int_eq(info.forked, 1);
	ck_assert_uint_eq(info.held, 0);
	ck_assert_int_eq(btstore_feed_fork(b.st, &w.signer.pub, &fork), BT_OK);
	ck_assert_int_eq(btcore_log_fork_verify(&fork), BT_OK);
	ck_assert_uint_eq(fork.a.length, 10);
	ck_assert_int_eq(btstore_feed_head_put(b.st, &hc, NULL), BT_ECONFLICT);
	/* the held head stays the first one seen */
	ck_assert_int_eq(btstore_feed_head(b.st, &w.signer.pub, &h), BT_OK);
	ck_assert(memcmp(&h, &ha, sizeof(h)) == 0);
	ck_assert_int_eq(btstore_notify_dispatch(b.st, &len), BT_OK);
	ck_assert_uint_eq(events, 3);	/* follow, fork, fork again */

	/* the writer's own store detects it too */
	ck_assert_int_eq(btstore_feed_head_put(a.st, &hc, NULL), BT_ECONFLICT);
	ck_assert_int_eq(btstore_feed_info(a.st, &w.signer.pub, &info), BT_OK);
	ck_assert_int_eq(info.forked, 1);
	ck_assert_int_eq(info.owned, 1);
	/* and keeps serving its history */
	check_entry(a.st, &w.signer.pub, 9, 0, 0);
	btcore_key_free(w.key);
	close_tmp(&a);
	close_tmp(&b);
	close_tmp(&c);
}
END_TEST

/* Overwrite one stored value through the store's own environment. */
static void
poke(struct btstore *st, int db, const void *key, size_t klen, size_t off,
    uint8_t x, ssize_t newlen)
{
	MDB_txn *txn;
	MDB_val k = { klen, (void *)(uintptr_t)key }, v;
	uint8_t copy[1024];

	ck_assert_int_eq(mdb_txn_begin(st->env, NULL, 0, &txn), 0);
	ck_assert_int_eq(mdb_get(txn, st->dbi[db], &k, &v), 0);
	ck_assert_uint_le(v.mv_size, sizeof(copy));
	memcpy(copy, v.mv_data, v.mv_size);
	copy[off] ^= x;
	if (newlen >= 0)
		v.mv_size = (size_t)newlen;
	v.mv_data = copy;
	ck_assert_int_eq(mdb_put(txn, st->dbi[db], &k, &v, 0), 0);
	ck_assert_int_eq(mdb_txn_commit(txn), 0);
}

/* Offset of the hashes in a stored entry record. */
#define ENT_HASHES	43

/* Rewrite the stored entry at @p key without its last hash: a record
 * that decodes but does not have what its index requires. */
static void
drop_hash(struct btstore *st, const uint8_t key[40])
{
	struct btstore_feedent_ e;
	MDB_txn *txn;
	MDB_val k = { 40, (void *)(uintptr_t)key }, v;
	uint8_t old[1024], out[1024];

	ck_assert_int_eq(mdb_txn_begin(st->env, NULL, 0, &txn), 0);
	ck_assert_int_eq(mdb_get(txn, st->dbi[BTSTORE_DB_FEEDENT_], &k, &v),
	    0);
	ck_assert_uint_le(v.mv_size, sizeof(old));
	memcpy(old, v.mv_data, v.mv_size);
	ck_assert_int_eq(btstore_feedent_decode_(old, v.mv_size, &e), BT_OK);
	ck_assert_uint_gt(e.count, 0);
	ck_assert_int_eq(e.flags & BTSTORE_FEEDENT_HEAD_, 0);
	e.count--;
	btstore_feedent_encode_(out, &e);
	v.mv_size = btstore_feedent_size_(e.flags, e.count, e.len);
	v.mv_data = out;
	ck_assert_int_eq(btstore_feedent_decode_(out, v.mv_size, &e), BT_OK);
	ck_assert_int_eq(mdb_put(txn, st->dbi[BTSTORE_DB_FEEDENT_], &k, &v, 0),
	    0);
	ck_assert_int_eq(mdb_txn_commit(txn), 0);
}

START_TEST(damage_detected)
{
	struct tmp a;
	struct writer w;
	struct bt_log_entry e;
	struct bt_log_head h;
	uint8_t kb[40], buf[300];
	uint64_t i;
	size_t len;

	open_tmp(&a);
	writer_new(&w, 9);
	ck_assert_int_eq(btstore_feed_create(a.st, &w.signer), BT_OK);
	append_n(a.st, &w, 0, 32, 8, 0);
	/* entry 3's payload (after two subtree hashes; no head) */
	memcpy(kb, w.signer.pub.b, 32);
	btstore_put_be64_(kb + 32, 3);
	poke(a.st, BTSTORE_DB_FEEDENT_, kb, 40, ENT_HASHES + 2 * 32 + 4 + 2, 1,
	    -1);
	ck_assert_int_eq(btstore_feed_entry_get(a.st, &w.signer.pub, 3, 0, &e,
	    buf, sizeof(buf), &len), BT_ECORRUPT);
	ck_assert_uint_eq(e.index, 0);	/* nothing returned */
	/* entry 5's payload hash: its proof no longer reaches the root */
	btstore_put_be64_(kb + 32, 5);
	poke(a.st, BTSTORE_DB_FEEDENT_, kb, 40, 2, 0x80, -1);
	ck_assert_int_eq(btstore_feed_entry_get(a.st, &w.signer.pub, 5, 0, &e,
	    buf, sizeof(buf), &len), BT_ECORRUPT);
	/* and neither does the proof of its neighbour 4 */
	ck_assert_int_eq(btstore_feed_entry_get(a.st, &w.signer.pub, 4, 0, &e,
	    buf, sizeof(buf), &len), BT_ECORRUPT);
	/* a truncated entry record */
	btstore_put_be64_(kb + 32, 6);
	poke(a.st, BTSTORE_DB_FEEDENT_, kb, 40, 0, 0, 20);
	ck_assert_int_eq(btstore_feed_entry_get(a.st, &w.signer.pub, 6, 0, &e,
	    buf, sizeof(buf), &len), BT_ECORRUPT);
	/* a subtree hash (height 3, start 16, kept by entry 23): the proofs
	 * of entries 24..31 use it and fail */
	btstore_put_be64_(kb + 32, 23);
	poke(a.st, BTSTORE_DB_FEEDENT_, kb, 40, ENT_HASHES + 2 * 32 + 7, 2,
	    -1);
	ck_assert_int_eq(btstore_feed_entry_get(a.st, &w.signer.pub, 27, 0, &e,
	    buf, sizeof(buf), &len), BT_ECORRUPT);
	check_entry(a.st, &w.signer.pub, 18, 0, 0);	/* inside: fine */
	check_entry(a.st, &w.signer.pub, 23, 0, 0);
	/* the signature of the head of length 16, kept by entry 15 after
	 * its four subtree hashes and the root */
	btstore_put_be64_(kb + 32, 15);
	poke(a.st, BTSTORE_DB_FEEDENT_, kb, 40, ENT_HASHES + 4 * 32 + 32 + 27,
	    1, -1);
	ck_assert_int_eq(btstore_feed_head_at(a.st, &w.signer.pub, 16, &h),
	    BT_ECORRUPT);
	check_entry(a.st, &w.signer.pub, 15, 0, 0);
	/* entry 9 well formed but without its subtree hash (8, height 1):
	 * it fails, and so do 8 (its proof has leaf 9) and 10, 11 (theirs
	 * have that subtree) */
	btstore_put_be64_(kb + 32, 9);
	drop_hash(a.st, kb);
	for (i = 8; i < 12; i++)
		ck_assert_int_eq(btstore_feed_entry_get(a.st, &w.signer.pub,
		    i, 0, &e, buf, sizeof(buf), &len), BT_ECORRUPT);
	check_entry(a.st, &w.signer.pub, 12, 0, 0);
	/* the feed record */
	poke(a.st, BTSTORE_DB_FEED_, w.signer.pub.b, 32, 0, 0xff, -1);
	ck_assert_int_eq(btstore_feed_head(a.st, &w.signer.pub, &h),
	    BT_ECORRUPT);
	ck_assert_int_eq(btstore_feed_append(a.st, &w.signer, "x", 1, NULL),
	    BT_ECORRUPT);
	btcore_key_free(w.key);
	close_tmp(&a);
}
END_TEST

/* ---- stored layouts ------------------------------------------------------ */

START_TEST(codec_feedrec)
{
	struct btstore_feedrec_ r, back;
	struct writer w;
	struct bt_id root;
	uint8_t buf[BTSTORE_FEEDREC_LEN_], tmp[BTSTORE_FEEDREC_LEN_];
	size_t n, bit;

	writer_new(&w, 10);
	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(btcore_id_hash(&root, "r", 1), BT_OK);
	ck_assert_int_eq(btcore_log_head_sign(&r.head, &w.signer, 12, &root),
	    BT_OK);
	r.flags = BTSTORE_FEED_FORKED_;
	r.held = 7;
	ck_assert_int_eq(btstore_feedrec_encode_(buf, &r), BT_OK);
	ck_assert_int_eq(btstore_feedrec_decode_(buf, sizeof(buf), &back),
	    BT_OK);
	ck_assert(memcmp(&back.head, &r.head, sizeof(r.head)) == 0);
	ck_assert_uint_eq(back.held, 7);
	ck_assert_uint_eq(back.flags, BTSTORE_FEED_FORKED_);
	for (n = 0; n < sizeof(buf); n++)
		ck_assert_int_eq(btstore_feedrec_decode_(buf, n, &back),
		    BT_ECORRUPT);
	/* version, flags, tag, held > length, owned with held != length */
	for (bit = 0; bit < 8; bit++) {
		memcpy(tmp, buf, sizeof(buf));
		tmp[0] ^= (uint8_t)(1u << bit);
		ck_assert_int_eq(btstore_feedrec_decode_(tmp, sizeof(tmp),
		    &back), BT_ECORRUPT);
		memcpy(tmp, buf, sizeof(buf));
		tmp[10] ^= (uint8_t)(1u << bit);
		ck_assert_int_eq(btstore_feedrec_decode_(tmp, sizeof(tmp),
		    &back), BT_ECORRUPT);
	}
	memcpy(tmp, buf, sizeof(buf));
	tmp[1] = 0x4;
	ck_assert_int_eq(btstore_feedrec_decode_(tmp, sizeof(tmp), &back),
	    BT_ECORRUPT);
	r.held = 13;
	ck_assert_int_eq(btstore_feedrec_encode_(buf, &r), BT_OK);
	ck_assert_int_eq(btstore_feedrec_decode_(buf, sizeof(buf), &back),
	    BT_ECORRUPT);
	r.held = 7;
	r.flags = BTSTORE_FEED_OWNED_;
	ck_assert_int_eq(btstore_feedrec_encode_(buf, &r), BT_OK);
	ck_assert_int_eq(btstore_feedrec_decode_(buf, sizeof(buf), &back),
	    BT_ECORRUPT);
	btcore_key_free(w.key);
}
END_TEST

START_TEST(codec_feedent)
{
	struct btstore_feedent_ e, back;
	uint8_t hashes[3 * 32], pl[40], buf[512];
	size_t n, sz;
	unsigned bit;

	/* followed: the proof it arrived with */
	memset(&e, 0, sizeof(e));
	memset(hashes, 0xab, sizeof(hashes));
	memset(pl, 0x11, sizeof(pl));
	memset(e.payload_hash.b, 0x22, 32);
	e.head_len = 6;
	e.count = 3;
	e.hashes = hashes;
	e.payload = pl;
	e.len = sizeof(pl);
	sz = btstore_feedent_size_(0, 3, sizeof(pl));
	ck_assert_uint_eq(sz, BTSTORE_FEEDENT_HDR_ + 96 + 40);
	btstore_feedent_encode_(buf, &e);
	ck_assert_int_eq(btstore_feedent_decode_(buf, sz, &back), BT_OK);
	ck_assert_uint_eq(back.flags, 0);
	ck_assert_uint_eq(back.head_len, 6);
	ck_assert_uint_eq(back.count, 3);
	ck_assert(memcmp(back.hashes, hashes, 96) == 0);
	ck_assert(memcmp(back.payload, pl, 40) == 0);
	ck_assert_uint_eq(back.len, 40);
	for (n = 0; n < sz; n++)
		ck_assert_int_eq(btstore_feedent_decode_(buf, n, &back),
		    BT_ECORRUPT);
	ck_assert_int_eq(btstore_feedent_decode_(buf, sz + 1, &back),
	    BT_ECORRUPT);
	/* version; flags; head length 0; count above the maximum; payload
	 * length */
	buf[0] ^= 1;
	ck_assert_int_eq(btstore_feedent_decode_(buf, sz, &back), BT_ECORRUPT);
	buf[0] ^= 1;
	for (bit = 2; bit < 8; bit++) {
		buf[1] = (uint8_t)(1u << bit);
		ck_assert_int_eq(btstore_feedent_decode_(buf, sz, &back),
		    BT_ECORRUPT);
	}
	buf[1] = 0;
	memset(buf + 34, 0, 8);
	ck_assert_int_eq(btstore_feedent_decode_(buf, sz, &back), BT_ECORRUPT);
	btstore_put_be64_(buf + 34, 6);
	buf[42] = 64;
	ck_assert_int_eq(btstore_feedent_decode_(buf, sz, &back), BT_ECORRUPT);
	buf[42] = 3;
	btstore_put_be32_(buf + 43 + 96, 41);
	ck_assert_int_eq(btstore_feedent_decode_(buf, sz, &back), BT_ECORRUPT);
	btstore_put_be32_(buf + 43 + 96, 40);
	ck_assert_int_eq(btstore_feedent_decode_(buf, sz, &back), BT_OK);
	/* no proof, no payload */
	e.count = 0;
	e.len = 0;
	btstore_feedent_encode_(buf, &e);
	ck_assert_int_eq(btstore_feedent_decode_(buf, BTSTORE_FEEDENT_HDR_,
	    &back), BT_OK);
	ck_assert_ptr_null(back.hashes);
	ck_assert_uint_eq(back.len, 0);

	/* written here, ending an append: index 7 completes three subtrees
	 * and keeps the head of length 8 */
	memset(&e, 0, sizeof(e));
	memset(e.payload_hash.b, 0x33, 32);
	memset(e.root.b, 0x44, 32);
	memset(e.sig.b, 0x55, 64);
	e.flags = BTSTORE_FEEDENT_TREE_ | BTSTORE_FEEDENT_HEAD_;
	e.head_len = 8;
	e.count = 3;
	e.hashes = hashes;
	e.payload = pl;
	e.len = 5;
	sz = btstore_feedent_size_(e.flags, 3, 5);
	ck_assert_uint_eq(sz, BTSTORE_FEEDENT_HDR_ + 96 +
	    BTSTORE_FEEDENT_HEADLEN_ + 5);
	btstore_feedent_encode_(buf, &e);
	ck_assert_int_eq(btstore_feedent_decode_(buf, sz, &back), BT_OK);
	ck_assert_uint_eq(back.flags, e.flags);
	ck_assert(memcmp(back.root.b, e.root.b, 32) == 0);
	ck_assert(memcmp(back.sig.b, e.sig.b, 64) == 0);
	ck_assert(memcmp(back.hashes, hashes, 96) == 0);
	ck_assert(memcmp(back.payload, pl, 5) == 0);
	for (n = 0; n < sz; n++)
		ck_assert_int_eq(btstore_feedent_decode_(buf, n, &back),
		    BT_ECORRUPT);
	/* a head without the subtree flag; a head whose length does not
	 * match the count (index 8 completes no subtree) */
	buf[1] = BTSTORE_FEEDENT_HEAD_;
	ck_assert_int_eq(btstore_feedent_decode_(buf, sz, &back), BT_ECORRUPT);
	buf[1] = (uint8_t)e.flags;
	btstore_put_be64_(buf + 34, 9);
	ck_assert_int_eq(btstore_feedent_decode_(buf, sz, &back), BT_ECORRUPT);
	btstore_put_be64_(buf + 34, 8);
	ck_assert_int_eq(btstore_feedent_decode_(buf, sz, &back), BT_OK);
	/* the same entry inside an append (no head): any head length */
	e.flags = BTSTORE_FEEDENT_TREE_;
	e.head_len = 9;
	btstore_feedent_encode_(buf, &e);
	sz = btstore_feedent_size_(e.flags, 3, 5);
	ck_assert_int_eq(btstore_feedent_decode_(buf, sz, &back), BT_OK);
	ck_assert_uint_eq(back.head_len, 9);
	ck_assert_uint_eq(back.len, 5);
	ck_assert_int_eq(btstore_feedent_decode_(buf, sz +
	    BTSTORE_FEEDENT_HEADLEN_, &back), BT_ECORRUPT);
}
END_TEST

Suite *
suite_feed(void)
{
	Suite *s = suite_create("feed");
	TCase *tc = tcase_create("feed");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, append_batch1);
	tcase_add_test(tc, append_batch64);
	tcase_add_test(tc, accumulator_cache);
	tcase_add_test(tc, append_errors);
	tcase_add_test(tc, follow_any_order);
	tcase_add_test(tc, entries_tampered);
	tcase_add_test(tc, head_extension);
	tcase_add_test(tc, owned_heads);
	tcase_add_test(tc, fork_detected);
	tcase_add_test(tc, damage_detected);
	tcase_add_test(tc, codec_feedrec);
	tcase_add_test(tc, codec_feedent);
	suite_add_tcase(s, tc);
	return s;
}
