/*
 * test_crash.c - a writer killed with SIGKILL at random points, 200
 * times: after each kill the store opens and every commit the writer
 * acknowledged reads back verified.
 *
 * The writer is a forked child that opens the store itself and, in a
 * loop, commits one block, one bag addition or one DHT value, writing the
 * sequence number of each committed operation to a pipe after
 * btstore_*() returns.  The parent kills it after a random 0-50 ms (also
 * before it opened the store, or mid-commit), reads every acknowledgement,
 * then checks this round's acknowledged operations, a random sample of
 * earlier ones and every bag; at the end, every operation of all rounds.
 *
 * Durable commits (the default) are used: SIGKILL does not lose the page
 * cache, so BTSTORE_OPT_NOSYNC would pass as well and run faster, but the
 * test exercises the mode a node runs in.  BT_CRASH_NOSYNC=1 in the
 * environment switches to it for comparison.
 */
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <bt/bag.h>
#include <bt/dhtval.h>
#include <bt/store.h>

Suite *suite_crash(void);

#define ROUNDS	200
/* A durable commit costs 5-20 ms on the test machines (fdatasync of data
 * and meta page); the window lets most writers commit a few times. */
#define KILL_WINDOW_US	50000
#define BAG0	0x10000u
#define BAG_SPAN	3000u	/* operations per bag: 1000 values, under the cap */

static char dir[64];

static struct bt_id
node(uint32_t n)
{
	struct bt_id id;

	memset(&id, 0, sizeof(id));
	memcpy(id.b, &n, sizeof(n));
	id.b[31] = 0x77;
	return id;
}

static void
item(uint32_t seq, uint8_t *buf, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		buf[i] = (uint8_t)(seq * 7 + i * 31 + (i >> 7));
	memcpy(buf, &seq, sizeof(seq));
}

static struct btstore_options *
options(void)
{
	struct btstore_options *o;
	const char *e = getenv("BT_CRASH_NOSYNC");

	if (btstore_options_new(&o) != BT_OK)
		return NULL;
	if (e != NULL && e[0] == '1' &&
	    btstore_options_set(o, BTSTORE_OPT_NOSYNC, 1) != BT_OK) {
		btstore_options_free(o);
		return NULL;
	}
	return o;
}

/* The writer: never returns. */
static void
writer(int fd, uint32_t seq)
{
	struct btstore_options *o = options();
	struct btstore *st;
	struct bt_id id, bag, adder;
	uint8_t buf[1000];
	char v[32];
	int rc;

	if (o == NULL || btstore_open(&st, dir, o) != BT_OK)
		_exit(2);
	for (;; seq++) {
		switch (seq % 3) {
		case 0:
			item(seq, buf, sizeof(buf));
			if (btcore_id_hash(&id, buf, sizeof(buf)) != BT_OK)
				_exit(3);
			rc = btstore_block_put(st, &id, buf, sizeof(buf),
			    BTSTORE_PUT_PIN);
			break;
		case 1:
			snprintf(v, sizeof(v), "item-%u", seq);
			bag = node(BAG0 + seq / BAG_SPAN);
			adder = node(seq);
			rc = btstore_bag_add(st, &bag, v, strlen(v), &adder,
			    seq, NULL);
			break;
		default:
			item(seq, buf, 200);
			if (btcore_id_hash(&id, buf, 200) != BT_OK)
				_exit(3);
			adder = node(seq);	/* one origin each: no quota */
			rc = btstore_dht_put(st, &id, buf, 200, &adder,
			    UINT64_MAX, seq);
			break;
		}
		if (rc != BT_OK)
			_exit(4);
		if (write(fd, &seq, sizeof(seq)) != sizeof(seq))
			_exit(5);
	}
}

static int
bag_has(void *arg, const void *value, size_t len, uint32_t count,
    uint64_t last)
{
	(void)value;
	(void)len;
	(void)last;
	ck_assert_uint_eq(count, 1);
	(*(uint32_t *)arg)++;
	return 0;
}

/* Operation @p seq is in the store, verified. */
static void
verify_one(struct btstore *st, uint32_t seq)
{
	struct bt_id id;
	uint8_t buf[1000], back[1000];
	size_t len;

	switch (seq % 3) {
	case 0:
		item(seq, buf, sizeof(buf));
		ck_assert_int_eq(btcore_id_hash(&id, buf, sizeof(buf)), BT_OK);
		ck_assert_int_eq(btstore_block_get(st, &id, back, sizeof(back),
		    &len), BT_OK);
		ck_assert_uint_eq(len, sizeof(buf));
		ck_assert(memcmp(back, buf, len) == 0);
		break;
	case 1:
		break;	/* bags are checked as a whole */
	default:
		item(seq, buf, 200);
		ck_assert_int_eq(btcore_id_hash(&id, buf, 200), BT_OK);
		ck_assert_int_eq(btstore_dht_get(st, &id, 0, back, sizeof(back),
		    &len, NULL, NULL), BT_OK);
		ck_assert_uint_eq(len, 200);
		ck_assert(memcmp(back, buf, len) == 0);
		break;
	}
}

/* Each bag holds its acknowledged additions (plus at most the one whose
 * acknowledgement the kill cut off), each value readable and verified. */
static void
verify_bags(struct btstore *st, uint32_t n)
{
	struct bt_id bag;
	uint32_t b, lo, hi, seq, acked, nvalues, seen;

	for (b = 0; b * BAG_SPAN <= n; b++) {
		lo = b * BAG_SPAN;
		hi = lo + BAG_SPAN < n ? lo + BAG_SPAN : n;
		for (acked = 0, seq = lo; seq < hi; seq++)
			acked += seq % 3 == 1;
		bag = node(BAG0 + b);
		ck_assert_int_eq(btstore_bag_size(st, &bag, &nvalues), BT_OK);
		ck_assert_uint_ge(nvalues, acked);
		ck_assert_uint_le(nvalues, acked + 1);
		seen = 0;
		ck_assert_int_eq(btstore_bag_recent(st, &bag, 100, bag_has,
		    &seen), BT_OK);
		ck_assert_uint_eq(seen, nvalues < 100 ? nvalues : 100);
	}
}

START_TEST(sigkill_200_times)
{
	struct btstore_options *o;
	struct btstore *st;
	unsigned seed = 20261121, round, no_ack = 0;
	uint32_t next = 0, ack, first, i;
	struct timespec ts;
	double t0;
	int pfd[2], status;
	ssize_t r;
	pid_t pid;

	snprintf(dir, sizeof(dir), "%s", "/tmp/btstore-crash-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	o = options();
	ck_assert_ptr_nonnull(o);
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
		/* killed, not failed: a failure exits with a code */
		ck_assert_msg(WIFSIGNALED(status), "writer exited with %d",
		    WEXITSTATUS(status));
		ack = next;
		first = next;
		while ((r = read(pfd[0], &ack, sizeof(ack))) == sizeof(ack)) {
			ck_assert_uint_eq(ack, next);
			next++;
		}
		ck_assert_int_eq(r, 0);
		close(pfd[0]);
		if (first == next)
			no_ack++;
		ck_assert_int_eq(btstore_open(&st, dir, o), BT_OK);
		/* this round's commits, 64 earlier ones at random, the bags */
		for (i = first; i < next; i++)
			verify_one(st, i);
		for (i = 0; i < 64 && first > 0; i++)
			verify_one(st, (uint32_t)rand_r(&seed) % first);
		verify_bags(st, next);
		btstore_close(st);
	}
	/* and finally everything */
	ck_assert_int_eq(btstore_open(&st, dir, o), BT_OK);
	for (i = 0; i < next; i++)
		verify_one(st, i);
	btstore_close(st);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	fprintf(stderr, "crash test: %u kills (%u before any commit), %u "
	    "acknowledged commits verified, %.1f s (%s commits)\n", ROUNDS,
	    no_ack, next,
	    (double)ts.tv_sec + ts.tv_nsec / 1e9 - t0,
	    getenv("BT_CRASH_NOSYNC") ? "nosync" : "durable");
	ck_assert_uint_gt(next, ROUNDS);	/* the writers made progress */
	btstore_options_free(o);
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
suite_crash(void)
{
	Suite *s = suite_create("crash");
	TCase *tc = tcase_create("crash");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, sigkill_200_times);
	suite_add_tcase(s, tc);
	return s;
}
