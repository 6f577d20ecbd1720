/*
 * test_notify.c - change notifications: after commit only, in commit
 * order, through a pollable descriptor; path prefixes; unwatch from a
 * callback; overflow.
 */
#include <check.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bt/bag.h>
#include <bt/store.h>

#include "btstore-internal.h"

Suite *suite_notify(void);

static char dir[64];

static struct btstore *
open_tmp(void)
{
	struct btstore_options *o;
	struct btstore *st;

	snprintf(dir, sizeof(dir), "%s", "/tmp/btstore-test-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_eq(btstore_options_new(&o), BT_OK);
	ck_assert_int_eq(btstore_options_set(o, BTSTORE_OPT_NOSYNC, 1), BT_OK);
	ck_assert_int_eq(btstore_options_set(o, BTSTORE_OPT_BLOCK_QUOTA,
	    100000), BT_OK);
	ck_assert_int_eq(btstore_open(&st, dir, o), BT_OK);
	btstore_options_free(o);
	return st;
}

static void
rm_tmp(void)
{
	char p[128];

	snprintf(p, sizeof(p), "%s/data.mdb", dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/lock.mdb", dir);
	unlink(p);
	rmdir(dir);
}

static int
readable(struct btstore *st)
{
	struct pollfd p;

	p.fd = btstore_notify_fd(st);
	p.events = POLLIN;
	p.revents = 0;
	ck_assert_int_ge(poll(&p, 1, 0), 0);
	return (p.revents & POLLIN) != 0;
}

struct log {
	int n;
	int kind[64];
	int event[64];
	char key[64][40];
	size_t keylen[64];
	uint64_t unwatch_me;
	struct btstore *st;
};

static void
record(void *arg, int kind, int event, const void *key, size_t keylen)
{
	struct log *l = arg;

	ck_assert_int_lt(l->n, 64);
	l->kind[l->n] = kind;
	l->event[l->n] = event;
	l->keylen[l->n] = keylen;
	if (key != NULL)
		memcpy(l->key[l->n], key, keylen < 40 ? keylen : 40);
	l->n++;
	if (l->unwatch_me != 0) {
		ck_assert_int_eq(btstore_unwatch(l->st, l->unwatch_me), BT_OK);
		l->unwatch_me = 0;
	}
}

START_TEST(blocks_after_commit_in_order)
{
	struct btstore *st = open_tmp();
	struct bt_id ids[3];
	uint8_t bufs[3][200], big[60000];
	struct log l;
	uint64_t w[3];
	size_t n, i;

	memset(&l, 0, sizeof(l));
	for (i = 0; i < 3; i++) {
		memset(bufs[i], (int)i + 1, sizeof(bufs[i]));
		ck_assert_int_eq(btcore_id_hash(&ids[i], bufs[i],
		    sizeof(bufs[i])), BT_OK);
		ck_assert_int_eq(btstore_watch(st, BTSTORE_TOPIC_BLOCK, ids[i].b,
		    32, record, &l, &w[i]), BT_OK);
	}
	ck_assert(!readable(st));
	/* commits 2, 0, 1: delivered in that order */
	ck_assert_int_eq(btstore_block_put(st, &ids[2], bufs[2], 200, 0),
	    BT_OK);
	ck_assert(readable(st));
	ck_assert_int_eq(btstore_block_put(st, &ids[0], bufs[0], 200, 0),
	    BT_OK);
	ck_assert_int_eq(btstore_block_put(st, &ids[1], bufs[1], 200, 0),
	    BT_OK);
	/* a duplicate put changes nothing and says nothing */
	ck_assert_int_eq(btstore_block_put(st, &ids[1], bufs[1], 200, 0),
	    BT_OK);
	ck_assert_int_eq(l.n, 0);	/* nothing runs before dispatch */
	ck_assert_int_eq(btstore_notify_dispatch(st, &n), BT_OK);
	ck_assert_uint_eq(n, 3);
	ck_assert(!readable(st));
	ck_assert_int_eq(l.n, 3);
	ck_assert_mem_eq(l.key[0], ids[2].b, 32);
	ck_assert_mem_eq(l.key[1], ids[0].b, 32);
	ck_assert_mem_eq(l.key[2], ids[1].b, 32);
	ck_assert_int_eq(l.event[0], BTSTORE_EV_PUT);
	ck_assert_int_eq(l.kind[0], BTSTORE_TOPIC_BLOCK);

	/* a failed write (quota) notifies nothing */
	memset(big, 9, sizeof(big));
	ck_assert_int_eq(btstore_block_ref(st, &ids[0]), BT_OK);
	ck_assert_int_eq(btstore_block_ref(st, &ids[1]), BT_OK);
	{
		struct btstore_block b[2];

		b[0].id = ids[2];
		b[0].data = bufs[2];
		b[0].len = 200;
		memset(big, 7, sizeof(big));
		ck_assert_int_eq(btcore_id_hash(&b[1].id, big, sizeof(big)),
		    BT_OK);
		b[1].data = big;
		b[1].len = sizeof(big);
		ck_assert_int_eq(btstore_block_put_many(st, b, 2, 0, NULL),
		    BT_OK);
		memset(big, 8, sizeof(big));
		ck_assert_int_eq(btcore_id_hash(&b[1].id, big, sizeof(big)),
		    BT_OK);
		ck_assert_int_eq(btstore_block_put_many(st, b, 2, 0, NULL),
		    BT_ENOSPC);
	}
	ck_assert(!readable(st));
	/* collection: ids[2] goes (unreferenced), deletion is announced */
	ck_assert_int_eq(btstore_gc(st, 100, &n, NULL), BT_OK);
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(btstore_notify_dispatch(st, &n), BT_OK);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(l.event[3], BTSTORE_EV_DEL);
	ck_assert_mem_eq(l.key[3], ids[2].b, 32);

	ck_assert_int_eq(btstore_unwatch(st, w[0]), BT_OK);
	ck_assert_int_eq(btstore_unwatch(st, w[0]), BT_ENOTFOUND);
	ck_assert_int_eq(btstore_watch(st, 0, ids[0].b, 32, record, &l, &w[0]),
	    BT_EINVAL);
	ck_assert_int_eq(btstore_watch(st, BTSTORE_TOPIC_BLOCK, ids[0].b, 0,
	    record, &l, &w[0]), BT_ERANGE);
	ck_assert_int_eq(btstore_notify_dispatch(NULL, &n), BT_EINVAL);
	btstore_close(st);
	rm_tmp();
}
END_TEST

struct paths {
	const char **p;
	size_t n;
};

static int
emit_paths(struct btstore_w_ *w, void *arg)
{
	struct paths *ps = arg;
	size_t i;
	int rc;

	for (i = 0; i < ps->n; i++)
		if ((rc = btstore_emit_(w, BTSTORE_TOPIC_PATH, BTSTORE_EV_PUT,
		    ps->p[i], strlen(ps->p[i]))) != BT_OK)
			return rc;
	return BT_OK;
}

START_TEST(path_prefixes_and_unwatch_in_callback)
{
	static const char *changed[] = { "/ns/a", "/ns/a/b/c", "/ns/ab",
	    "/ns", "/other/a" };
	struct btstore *st = open_tmp();
	struct paths ps = { changed, 5 };
	struct log l1, l2, l3;
	uint64_t w1, w2, w3;
	struct bt_id bag, adder;
	size_t n;

	memset(&l1, 0, sizeof(l1));
	memset(&l2, 0, sizeof(l2));
	memset(&l3, 0, sizeof(l3));
	ck_assert_int_eq(btstore_watch(st, BTSTORE_TOPIC_PATH, "/ns/a", 5,
	    record, &l1, &w1), BT_OK);
	ck_assert_int_eq(btstore_watch(st, BTSTORE_TOPIC_PATH, "/", 1,
	    record, &l2, &w2), BT_OK);
	ck_assert_int_eq(btstore_watch(st, BTSTORE_TOPIC_PATH, "/ns/", 4,
	    record, &l3, &w3), BT_OK);
	l3.st = st;
	l3.unwatch_me = w3;
	ck_assert_int_eq(btstore_write_(st, emit_paths, &ps), BT_OK);
	ck_assert_int_eq(btstore_notify_dispatch(st, &n), BT_OK);
	ck_assert_int_eq(l1.n, 2);
	ck_assert_str_eq(l1.key[0], "/ns/a");
	ck_assert_str_eq(l1.key[1], "/ns/a/b/c");
	ck_assert_int_eq(l2.n, 5);
	ck_assert_str_eq(l2.key[4], "/other/a");
	ck_assert_int_eq(l3.n, 1);	/* removed itself after the first */
	ck_assert_uint_eq(n, 8);

	/* bags notify on their key */
	memset(&bag, 1, sizeof(bag));
	memset(&adder, 2, sizeof(adder));
	ck_assert_int_eq(btstore_watch(st, BTSTORE_TOPIC_BAG, bag.b, 32,
	    record, &l1, &w3), BT_OK);
	ck_assert_int_eq(btstore_bag_add(st, &bag, "v", 1, &adder, 1, NULL),
	    BT_OK);
	ck_assert_int_eq(btstore_notify_dispatch(st, &n), BT_OK);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(l1.kind[2], BTSTORE_TOPIC_BAG);
	btstore_close(st);
	rm_tmp();
}
END_TEST

static int
emit_many(struct btstore_w_ *w, void *arg)
{
	size_t i, n = *(size_t *)arg;
	char p[32];
	int rc;

	for (i = 0; i < n; i++) {
		snprintf(p, sizeof(p), "/x/%zu", i);
		if ((rc = btstore_emit_(w, BTSTORE_TOPIC_PATH, BTSTORE_EV_PUT,
		    p, strlen(p))) != BT_OK)
			return rc;
	}
	return BT_OK;
}

static size_t seen_put, seen_overflow;

static void
count_fn(void *arg, int kind, int event, const void *key, size_t keylen)
{
	(void)arg;
	(void)kind;
	(void)key;
	(void)keylen;
	if (event == BTSTORE_EV_OVERFLOW)
		seen_overflow++;
	else
		seen_put++;
}

START_TEST(overflow)
{
	struct btstore *st = open_tmp();
	size_t n = BTSTORE_NOTIFY_QUEUE_MAX + 10, got;
	uint64_t w;

	ck_assert_int_eq(btstore_watch(st, BTSTORE_TOPIC_PATH, "/x", 2,
	    count_fn, NULL, &w), BT_OK);
	ck_assert_int_eq(btstore_write_(st, emit_many, &n), BT_OK);
	ck_assert_int_eq(btstore_notify_dispatch(st, &got), BT_OK);
	ck_assert_uint_eq(seen_put, BTSTORE_NOTIFY_QUEUE_MAX);
	ck_assert_uint_eq(seen_overflow, 1);
	ck_assert_uint_eq(got, BTSTORE_NOTIFY_QUEUE_MAX + 1);
	/* after the drain, events flow again */
	n = 3;
	ck_assert_int_eq(btstore_write_(st, emit_many, &n), BT_OK);
	ck_assert_int_eq(btstore_notify_dispatch(st, &got), BT_OK);
	ck_assert_uint_eq(got, 3);
	btstore_close(st);
	rm_tmp();
}
END_TEST

Suite *
suite_notify(void)
{
	Suite *s = suite_create("notify");
	TCase *tc = tcase_create("notify");

	tcase_add_test(tc, blocks_after_commit_in_order);
	tcase_add_test(tc, path_prefixes_and_unwatch_in_callback);
	tcase_add_test(tc, overflow);
	suite_add_tcase(s, tc);
	return s;
}
