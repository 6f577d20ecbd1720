/*
 * test_feed_crash.c - a writer of feed appends and record puts killed
 * with SIGKILL at random points, 150 times: after each kill the store
 * opens and every acknowledged append and record reads back verified.
 *
 * The forked writer opens the store, then loops: an append of a batch of
 * 1..8 entries to one feed, or a put of the record of one of four names
 * at the next sequence number.  After each call returns it writes an
 * acknowledgement (operation number, and the feed length or record
 * sequence reached) to a pipe.  The parent kills it after a random
 * 0-40 ms, then checks: the feed's head is signed and at least as long
 * as acknowledged (one unacknowledged batch more at most), every entry
 * appended this round and a sample of older ones prove themselves
 * against it, and every record is at least at its acknowledged sequence
 * and verifies.  Durable commits are used (the mode a node runs in).
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <bt/feed.h>
#include <bt/recordstore.h>

Suite *suite_feed_crash(void);

#define ROUNDS		150
#define KILL_WINDOW_US	40000
#define NAMES		4

static char dir[64];

struct ack {
	uint32_t op;
	uint32_t kind;		/* 0 append, 1 record */
	uint64_t value;		/* feed length, or record sequence */
	uint32_t name;
	uint32_t pad;
};

static void
make_signer(struct btcore_key **key, struct btcore_signer *s)
{
	uint8_t seed[BTCORE_ED25519_SEED_LEN];

	memset(seed, 0x5c, sizeof(seed));
	if (btcore_key_from_seed(key, seed) != BT_OK)
		_exit(6);
	btcore_key_signer(*key, s);
}

static size_t
payload(uint8_t *buf, uint64_t i)
{
	size_t len = 1 + (size_t)(i * 53 % 500), k;

	for (k = 0; k < len; k++)
		buf[k] = (uint8_t)(i * 17 + k * 3);
	memcpy(buf, &i, len < sizeof(i) ? len : sizeof(i));
	return len;
}

static void
record_value(char *v, size_t cap, uint32_t name, uint64_t seq)
{
	snprintf(v, cap, "name %u at %llu", name, (unsigned long long)seq);
}

/* The writer: never returns. */
static void
writer(int fd, uint32_t op)
{
	struct btstore *st;
	struct btcore_key *key;
	struct btcore_signer s;
	struct btstore_feed_payload items[8];
	struct btstore_feed_info info;
	struct bt_record rec, cur;
	uint8_t bufs[8][500], rbuf[BTCORE_RECORD_ENC_MAX];
	char name[8], v[64];
	struct ack a;
	uint64_t seq;
	size_t n, k;
	int rc;

	make_signer(&key, &s);
	if (btstore_open(&st, dir, NULL) != BT_OK)
		_exit(2);
	rc = btstore_feed_create(st, &s);
	if (rc != BT_OK && rc != BT_EEXIST)
		_exit(3);
	for (;; op++) {
		memset(&a, 0, sizeof(a));
		a.op = op;
		if (op % 2 == 0) {
			if (btstore_feed_info(st, &s.pub, &info) != BT_OK)
				_exit(4);
			n = 1 + op / 2 % 8;
			for (k = 0; k < n; k++) {
				items[k].len = payload(bufs[k],
				    info.length + k);
				items[k].data = bufs[k];
			}
			if (btstore_feed_append_batch(st, &s, items, n, NULL)
			    != BT_OK)
				_exit(5);
			a.value = info.length + n;
		} else {
			a.kind = 1;
			a.name = op / 2 % NAMES;
			snprintf(name, sizeof(name), "n%u", a.name);
			rc = btstore_record_get(st, &s.pub, name, strlen(name),
			    &cur, rbuf, sizeof(rbuf), NULL, NULL);
			if (rc != BT_OK && rc != BT_ENOTFOUND)
				_exit(7);
			seq = rc == BT_OK ? cur.seq + 1 : 1;
			record_value(v, sizeof(v), a.name, seq);
			if (btcore_record_sign(&rec, &s, name, strlen(name), v,
			    strlen(v), seq) != BT_OK)
				_exit(8);
			/* compare-and-swap against what was read */
			if (btstore_record_put(st, &rec, op,
			    rc == BT_OK ? BTSTORE_RECORD_IF_SEQ :
			    BTSTORE_RECORD_IF_ABSENT, seq - 1, NULL) != BT_OK)
				_exit(9);
			a.value = seq;
		}
		if (write(fd, &a, sizeof(a)) != sizeof(a))
			_exit(10);
	}
}

static void
check_entry(struct btstore *st, const struct bt_log_head *head, uint64_t i)
{
	struct bt_log_entry e;
	uint8_t want[500], got[500];
	size_t wl, gl;

	ck_assert_int_eq(btstore_feed_entry_get(st, &head->feed, i, 0, &e, got,
	    sizeof(got), &gl), BT_OK);
	ck_assert(memcmp(&e.head, head, sizeof(*head)) == 0);
	/* the head's signature was checked once; each proof against it */
	{
		struct bt_id leaf;

		ck_assert_int_eq(btcore_log_leaf_hash(&leaf, &e.payload_hash),
		    BT_OK);
		ck_assert_int_eq(btcore_merkle_inclusion_verify(&e.proof,
		    &leaf, &head->root), BT_OK);
	}
	ck_assert_int_eq(btcore_log_entry_check_payload(&e, got, gl), BT_OK);
	wl = payload(want, i);
	ck_assert_uint_eq(gl, wl);
	ck_assert(memcmp(got, want, wl) == 0);
}

START_TEST(sigkill_feeds_records)
{
	struct btstore *st;
	struct btcore_key *key;
	struct btcore_signer s;
	struct bt_log_head head;
	struct bt_record rec;
	uint8_t rbuf[BTCORE_RECORD_ENC_MAX];
	char name[8], v[64];
	uint64_t acked_len = 0, round_from, rseq[NAMES], i;
	unsigned seed = 20261122, round, r, no_ack = 0;
	uint32_t next = 0;
	struct ack a;
	struct timespec ts;
	double t0;
	int pfd[2], status, rc;
	ssize_t got;
	pid_t pid;

	memset(rseq, 0, sizeof(rseq));
	make_signer(&key, &s);
	snprintf(dir, sizeof(dir), "%s", "/tmp/btstore-fcrash-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	clock_gettime(CLOCK_MONOTONIC, &ts);
	t0 = (double)ts.tv_sec + ts.tv_nsec / 1e9;
	for (round = 0; round < ROUNDS; round++) {
		ck_assert_int_eq(pipe(pfd), 0);
		pid = fork();
		ck_assert_int_ge(pid, 0);
		if (pid == 0) {
			close(pfd[0]);
			writer(pfd[1], next);
		}
		close(pfd[1]);
		usleep((useconds_t)(rand_r(&seed) % KILL_WINDOW_US));
		ck_assert_int_eq(kill(pid, SIGKILL), 0);
		ck_assert_int_eq(waitpid(pid, &status, 0), pid);
		ck_assert_msg(WIFSIGNALED(status), "writer exited with %d",
		    WEXITSTATUS(status));
		round_from = acked_len;
		r = 0;
		while ((got = read(pfd[0], &a, sizeof(a))) == sizeof(a)) {
			ck_assert_uint_eq(a.op, next);
			next++;
			r++;
			if (a.kind == 0) {
				ck_assert_uint_gt(a.value, acked_len);
				acked_len = a.value;
			} else {
				ck_assert_uint_lt(a.name, NAMES);
				ck_assert_uint_eq(a.value, rseq[a.name] + 1);
				rseq[a.name] = a.value;
			}
		}
		ck_assert_int_eq(got, 0);
		close(pfd[0]);
		if (r == 0)
			no_ack++;
		/* an operation cut off before its acknowledgement may have
		 * committed: the writer's next op number is the one after
		 * the last acknowledged, so resume from the store's state */
		ck_assert_int_eq(btstore_open(&st, dir, NULL), BT_OK);
		rc = btstore_feed_head(st, &s.pub, &head);
		if (rc == BT_ENOTFOUND) {
			ck_assert_uint_eq(acked_len, 0);
		} else {
			ck_assert_int_eq(rc, BT_OK);
			ck_assert_uint_ge(head.length, acked_len);
			ck_assert_uint_le(head.length, acked_len + 8);
			for (i = round_from; i < head.length; i++)
				check_entry(st, &head, i);
			for (i = 0; i < 32 && round_from > 0; i++)
				check_entry(st, &head, (uint64_t)rand_r(&seed) %
				    round_from);
			acked_len = head.length;
		}
		for (r = 0; r < NAMES; r++) {
			snprintf(name, sizeof(name), "n%u", r);
			rc = btstore_record_get(st, &s.pub, name, strlen(name),
			    &rec, rbuf, sizeof(rbuf), NULL, NULL);
			if (rseq[r] == 0 && rc == BT_ENOTFOUND)
				continue;
			ck_assert_int_eq(rc, BT_OK);
			ck_assert_uint_ge(rec.seq, rseq[r]);
			ck_assert_uint_le(rec.seq, rseq[r] + 1);
			record_value(v, sizeof(v), r, rec.seq);
			ck_assert_uint_eq(rec.value_len, strlen(v));
			ck_assert(memcmp(rec.value, v, strlen(v)) == 0);
			rseq[r] = rec.seq;
		}
		btstore_close(st);
	}
	/* finally every entry */
	ck_assert_int_eq(btstore_open(&st, dir, NULL), BT_OK);
	ck_assert_int_eq(btstore_feed_head(st, &s.pub, &head), BT_OK);
	for (i = 0; i < head.length; i++)
		check_entry(st, &head, i);
	btstore_close(st);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	fprintf(stderr, "feed crash test: %u kills (%u before any commit), "
	    "%llu entries and %u operations verified, %.1f s\n", ROUNDS,
	    no_ack, (unsigned long long)head.length, next,
	    (double)ts.tv_sec + ts.tv_nsec / 1e9 - t0);
	ck_assert_uint_gt(next, ROUNDS / 2);	/* the writers made progress */
	btcore_key_free(key);
	{
		char p[128];

		snprintf(p, sizeof(p), "%s/data.mdb", dir);
		unlink(p);
		snprintf(p, sizeof(p), "%s/lock.mdb", dir);
		unlink(p);
		rmdir(dir);
	}
}
END_TEST

Suite *
suite_feed_crash(void)
{
	Suite *s = suite_create("feed_crash");
	TCase *tc = tcase_create("feed_crash");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, sigkill_feeds_records);
	suite_add_tcase(s, tc);
	return s;
}
