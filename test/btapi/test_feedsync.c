/*
 * test_feedsync.c - feeds of other nodes over the network: in-process
 * nodes (store, network, feed synchroniser and API server each, on their
 * own 127.0.0.x address, one event loop).  A program of node B follows
 * node A's feed and receives every entry in order exactly once, also
 * those appended later (announced on pubsub, or found by polling when
 * pubsub is off); feed-head and feed-get of A's feed on B fetch from A;
 * a forged entry, a reply for another feed and a forked head are
 * refused or reported; replies are bounded; the request decoders refuse
 * what they must; a third node pulls the feed from a follower when the
 * writer is gone.
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bson/bson.h>
#include <event2/event.h>

#include <bt/api.h>
#include <bt/apifeed.h>
#include <bt/apiserver.h>
#include <bt/error.h>
#include <bt/feed.h>
#include <bt/id.h>
#include <bt/key.h>
#include <bt/log.h>
#include <bt/net.h>
#include <bt/pubsub.h>
#include <bt/store.h>

#include "feedsync-internal.h"

Suite *suite_feedsync(void);

#define NODES	3

struct node {
	char dir[64], sock[128];
	struct btstore *st;
	struct btcore_key *key;
	struct btcore_signer sg;
	struct btnet *net;
	struct btapi_feedsync *fs;
	struct btapi_server *srv;
	struct bt_id id;
	char addr[64];
	int up;
};

static struct node N[NODES];
static struct event_base *base;
static struct btapi *cl;		/* a program of node B */

/* What a follow delivered. */
static uint64_t got_next;		/* the next index expected */
static int got_bad;			/* out of order, repeated, wrong data */
static uint64_t got_count;

/* How node A's "feed" scope lies (tamper_rpc). */
enum { LIE_NONE, LIE_PAYLOAD, LIE_OTHER_FEED, LIE_FORK, LIE_SILENT };
static int lie;
static struct bt_log_head fork_head;
static int lies_told;

/* ---- the loop ----------------------------------------------------------- */

static void
expire(evutil_socket_t fd, short w, void *arg)
{
	(void)fd;
	(void)w;
	*(int *)arg = 1;
}

static void
run_for(int ms)
{
	int expired = 0;
	struct event *t = evtimer_new(base, expire, &expired);
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	ck_assert_ptr_nonnull(t);
	evtimer_add(t, &tv);
	while (!expired)
		event_base_loop(base, EVLOOP_ONCE);
	event_free(t);
}

static void
run_until(const int *flag, int ms)
{
	int expired = 0;
	struct event *t = evtimer_new(base, expire, &expired);
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	ck_assert_ptr_nonnull(t);
	evtimer_add(t, &tv);
	while (!*flag && !expired)
		event_base_loop(base, EVLOOP_ONCE);
	event_free(t);
	ck_assert_msg(*flag, "deadline passed");
}

/* Run until @p *v reaches @p want, at most @p ms. */
static void
run_until_count(const uint64_t *v, uint64_t want, int ms)
{
	int i;

	for (i = 0; i < ms / 20 && *v < want; i++)
		run_for(20);
	ck_assert_msg(*v >= want, "have %llu of %llu", (unsigned long long)*v,
	    (unsigned long long)want);
}

/* ---- nodes -------------------------------------------------------------- */

static void
node_open(int i, int pubsub, uint32_t poll_ms, uint32_t batch)
{
	struct node *n = &N[i];
	struct btstore_options *o;
	struct btnet_config nc;
	struct btnet_pubsub_config pc;
	struct btapi_feedsync_config fc;
	struct btapi_server_config sc;
	char listen[32], p[96];
	uint8_t seed[32];

	snprintf(n->dir, sizeof(n->dir), "%s", "/tmp/btapi-feed-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(n->dir));
	snprintf(p, sizeof(p), "%s/store", n->dir);
	ck_assert_int_eq(mkdir(p, 0700), 0);
	ck_assert_int_eq(btstore_options_new(&o), BT_OK);
	ck_assert_int_eq(btstore_options_set(o, BTSTORE_OPT_NOSYNC, 1), BT_OK);
	ck_assert_int_eq(btstore_open(&n->st, p, o), BT_OK);
	btstore_options_free(o);
	memset(seed, 0x61 + i, sizeof(seed));
	ck_assert_int_eq(btcore_key_from_seed(&n->key, seed), BT_OK);
	btcore_key_signer(n->key, &n->sg);
	btnet_config_init(&nc);
	nc.prefix_per_bucket = BT_K;
	nc.prefix_per_table = 1000;
	nc.replication = 2;
	nc.request_timeout_ms = 2000;
	snprintf(listen, sizeof(listen), "127.0.0.%d:0", 61 + i);
	nc.listen[0] = listen;
	nc.nlisten = 1;
	ck_assert_int_eq(btnet_open(&n->net, base, &n->sg, NULL, &nc), BT_OK);
	btnet_local_id(n->net, &n->id);
	ck_assert_int_eq(btnet_local_addr(n->net, 0, n->addr, sizeof(n->addr)),
	    BT_OK);
	btnet_pubsub_config_init(&pc);
	pc.fast_ms = 100;
	pc.refresh_ms = 2000;
	ck_assert_int_eq(btnet_pubsub_configure(n->net, &pc), BT_OK);
	btapi_feedsync_config_init(&fc);
	fc.store = n->st;
	fc.net = n->net;
	fc.signer = &n->sg;
	fc.pubsub = pubsub;
	fc.poll_ms = poll_ms;
	fc.batch = batch;
	fc.request_timeout_ms = 4000;
	ck_assert_int_eq(btapi_feedsync_open(&n->fs, base, &fc), BT_OK);
	snprintf(p, sizeof(p), "%s/api/sock", n->dir);
	memcpy(n->sock, p, strlen(p) + 1);
	btapi_server_config_init(&sc);
	sc.socket_path = n->sock;
	sc.store = n->st;
	sc.net = n->net;
	sc.signer = &n->sg;
	sc.feedsync = n->fs;
	ck_assert_int_eq(btapi_server_open(&n->srv, base, &sc), BT_OK);
	n->up = 1;
}

static void
node_close(int i)
{
	struct node *n = &N[i];
	char p[160];

	if (!n->up)
		return;
	btapi_server_close(n->srv);
	btapi_feedsync_stop(n->fs);
	btnet_close(n->net);
	btapi_feedsync_free(n->fs);
	btstore_close(n->st);
	btcore_key_free(n->key);
	snprintf(p, sizeof(p), "%s/store/data.mdb", n->dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/store/lock.mdb", n->dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/store", n->dir);
	rmdir(p);
	snprintf(p, sizeof(p), "%s/api", n->dir);
	rmdir(p);
	rmdir(n->dir);
	memset(n, 0, sizeof(*n));
}

static void
hello_cb(void *arg, int err)
{
	ck_assert_int_eq(err, BT_OK);
	*(int *)arg = 1;
}

/* @p count nodes up and online, a program connected to node B. */
static void
up_n(int count, int pubsub, uint32_t poll_ms, uint32_t batch)
{
	const char *boot[1];
	int online = 0, hello = 0, t, i;

	signal(SIGPIPE, SIG_IGN);
	ck_assert_ptr_nonnull(base = event_base_new());
	for (i = 0; i < count; i++)
		node_open(i, pubsub, poll_ms, batch);
	ck_assert_int_eq(btnet_online(N[0].net, NULL, 0), BT_OK);
	boot[0] = N[0].addr;
	for (i = 1; i < count; i++)
		ck_assert_int_eq(btnet_online(N[i].net, boot, 1), BT_OK);
	for (t = 0; t < 100 && !online; t++) {
		run_for(50);
		for (i = 0, online = 1; i < count; i++)
			online &= btnet_is_online(N[i].net);
	}
	ck_assert_msg(online, "the nodes did not come online");
	ck_assert_int_eq(btapi_open(&cl, base, N[1].sock, NULL, 0, hello_cb,
	    &hello), BT_OK);
	run_until(&hello, 3000);
	got_next = 0;
	got_bad = 0;
	got_count = 0;
	lie = LIE_NONE;
	lies_told = 0;
}

static void
up(int pubsub, uint32_t poll_ms, uint32_t batch)
{
	up_n(2, pubsub, poll_ms, batch);
}

static void
down(void)
{
	int i;

	btapi_close(cl);
	cl = NULL;
	for (i = NODES - 1; i >= 0; i--)
		node_close(i);
	event_base_free(base);
	base = NULL;
}

/* ---- node A's feed ------------------------------------------------------ */

static void
payload_of(uint64_t i, char *buf, size_t cap, size_t *len)
{
	int n = snprintf(buf, cap, "entry-%05llu", (unsigned long long)i);

	*len = (size_t)n;
}

/* Append entries [from, to) to node @p i's feed in batches of @p per. */
static void
append(int i, uint64_t from, uint64_t to, size_t per)
{
	struct btstore_feed_payload items[64];
	char bufs[64][32];
	uint64_t first, k;
	size_t n;

	ck_assert_uint_le(per, 64);
	for (k = from; k < to;) {
		for (n = 0; n < per && k < to; n++, k++) {
			payload_of(k, bufs[n], sizeof(bufs[n]), &items[n].len);
			items[n].data = bufs[n];
		}
		ck_assert_int_eq(btstore_feed_append_batch(N[i].st, &N[i].sg,
		    items, n, &first), BT_OK);
	}
}

static void
follow_fn(void *arg, int64_t follow, uint64_t index, const void *data,
    size_t len)
{
	char want[32];
	size_t wl;

	(void)arg;
	(void)follow;
	payload_of(index, want, sizeof(want), &wl);
	if (index != got_next || len != wl || memcmp(data, want, wl) != 0)
		got_bad++;
	got_next = index + 1;
	got_count++;
}

struct idres {
	int done, err;
	int64_t id;
};

static void
id_cb(void *arg, int err, int64_t id)
{
	struct idres *r = arg;

	r->err = err;
	r->id = id;
	r->done = 1;
}

/* A program of B follows A's feed from @p from. */
static int64_t
follow_a(uint64_t from)
{
	struct idres r = { 0, 0, 0 };

	ck_assert_int_eq(btapi_feed_follow(cl, &N[0].sg.pub, from, follow_fn,
	    NULL, id_cb, &r), BT_OK);
	run_until(&r.done, 8000);
	ck_assert_int_eq(r.err, BT_OK);
	return r.id;
}

static struct btapi_feedsync_info
info_of(int i, const struct bt_pubkey *feed)
{
	struct btapi_feedsync_info fi;

	ck_assert_int_eq(btapi_feedsync_info(N[i].fs, feed, &fi), BT_OK);
	return fi;
}

static int
mesh_up(int i, const struct bt_pubkey *feed, int ms)
{
	struct bt_id ch;
	int t;

	ck_assert_int_eq(btapi_feedsync_channel(feed, &ch), BT_OK);
	for (t = 0; t < ms / 50; t++) {
		if (btnet_pubsub_peers(N[i].net, &ch, NULL, 0) > 0)
			return 1;
		run_for(50);
	}
	return 0;
}

/* ---- tests -------------------------------------------------------------- */

START_TEST(follow_in_order_then_announced)
{
	struct btapi_feedsync_info fi;
	struct btstore_feed_info si;
	struct bt_id ch;
	int64_t id;
	int done = 0;

	/* polling far away: only announcements bring what comes later */
	up(1, 600000, 64);
	ck_assert_int_eq(btstore_feed_create(N[0].st, &N[0].sg), BT_OK);
	append(0, 0, 700, 50);
	id = follow_a(0);
	run_until_count(&got_count, 700, 20000);
	ck_assert_int_eq(got_bad, 0);
	ck_assert_uint_eq(got_next, 700);
	fi = info_of(1, &N[0].sg.pub);
	ck_assert_uint_eq(fi.follows, 1);
	ck_assert_int_eq(fi.joined, 1);
	ck_assert_uint_eq(fi.pulled, 700);
	ck_assert_uint_eq(fi.refused, 0);
	ck_assert_int_eq(fi.forked, 0);
	ck_assert_int_eq(btstore_feed_info(N[1].st, &N[0].sg.pub, &si), BT_OK);
	ck_assert_uint_eq(si.length, 700);
	ck_assert_uint_eq(si.held, 700);
	ck_assert_int_eq(si.owned, 0);
	/* appended after the follow: announced on the channel */
	ck_assert_msg(mesh_up(1, &N[0].sg.pub, 10000), "no mesh");
	append(0, 700, 760, 7);
	run_until_count(&got_count, 760, 10000);
	ck_assert_int_eq(got_bad, 0);
	fi = info_of(1, &N[0].sg.pub);
	ck_assert_uint_gt(fi.announced, 0);
	ck_assert_uint_eq(fi.pulled, 760);
	ck_assert_uint_gt(info_of(0, &N[0].sg.pub).announces, 0);
	/* nothing more than once */
	run_for(300);
	ck_assert_uint_eq(got_count, 760);
	/* the last follower gone: no pulling, the channel left */
	ck_assert_int_eq(btapi_feed_unfollow(cl, id, hello_cb, &done), BT_OK);
	run_until(&done, 3000);
	run_for(100);
	ck_assert_int_eq(btapi_feedsync_info(N[1].fs, &N[0].sg.pub, &fi),
	    BT_ENOTFOUND);
	ck_assert_int_eq(btapi_feedsync_channel(&N[0].sg.pub, &ch), BT_OK);
	ck_assert_uint_eq(btnet_pubsub_peers(N[1].net, &ch, NULL, 0), 0);
	append(0, 760, 770, 10);
	run_for(500);
	ck_assert_uint_eq(got_count, 760);
	ck_assert_int_eq(btstore_feed_info(N[1].st, &N[0].sg.pub, &si), BT_OK);
	ck_assert_uint_eq(si.length, 760);
	down();
}
END_TEST

START_TEST(polled_without_pubsub)
{
	struct btapi_feedsync_info fi;

	up(0, 300, 256);
	ck_assert_int_eq(btstore_feed_create(N[0].st, &N[0].sg), BT_OK);
	append(0, 0, 10, 10);
	got_next = 3;
	follow_a(3);
	run_until_count(&got_count, 7, 5000);
	ck_assert_uint_eq(got_next, 10);
	append(0, 10, 25, 5);
	run_until_count(&got_count, 22, 5000);
	ck_assert_int_eq(got_bad, 0);
	ck_assert_uint_eq(got_next, 25);
	fi = info_of(1, &N[0].sg.pub);
	ck_assert_uint_eq(fi.announced, 0);
	ck_assert_int_eq(fi.joined, 0);
	ck_assert_uint_ge(fi.rounds, 2);
	/* entries below "from" were not pulled */
	ck_assert_uint_eq(fi.pulled, 22);
	down();
}
END_TEST

struct headres {
	int done, err;
	struct btapi_feed_info fi;
};

static void
head_cb(void *arg, int err, const struct btapi_feed_info *fi)
{
	struct headres *r = arg;

	r->err = err;
	if (err == BT_OK)
		r->fi = *fi;
	r->done = 1;
}

struct getres {
	int done, err;
	uint64_t index;
	char data[64];
	size_t len;
};

static void
get_cb(void *arg, int err, uint64_t index, const void *data, size_t len)
{
	struct getres *r = arg;

	r->err = err;
	r->index = index;
	r->len = len;
	if (err == BT_OK && len < sizeof(r->data))
		memcpy(r->data, data, len);
	r->done = 1;
}

START_TEST(head_and_get_fetch)
{
	struct headres h = { 0, 0, { { { 0 } }, 0, 0, 0, 0, 0 } };
	struct getres g;
	struct btstore_feed_info si;
	struct btcore_key *k;
	struct btcore_signer sg;
	uint8_t seed[32];
	char want[32];
	size_t wl;

	up(1, 600000, 256);
	/* the writer has no feed yet */
	ck_assert_int_eq(btapi_feed_head(cl, &N[0].sg.pub, head_cb, &h),
	    BT_OK);
	run_until(&h.done, 8000);
	ck_assert_int_eq(h.err, BT_ENOTFOUND);
	memset(&h, 0, sizeof(h));
	ck_assert_int_eq(btstore_feed_create(N[0].st, &N[0].sg), BT_OK);
	append(0, 0, 300, 60);
	ck_assert_int_eq(btstore_feed_info(N[1].st, &N[0].sg.pub, &si),
	    BT_ENOTFOUND);
	ck_assert_int_eq(btapi_feed_head(cl, &N[0].sg.pub, head_cb, &h),
	    BT_OK);
	run_until(&h.done, 8000);
	ck_assert_int_eq(h.err, BT_OK);
	ck_assert_uint_eq(h.fi.length, 300);
	ck_assert_uint_eq(h.fi.held, 0);
	ck_assert_int_eq(h.fi.owned, 0);
	/* an entry: fetched with its neighbours */
	memset(&g, 0, sizeof(g));
	ck_assert_int_eq(btapi_feed_get(cl, &N[0].sg.pub, 123, get_cb, &g),
	    BT_OK);
	run_until(&g.done, 8000);
	ck_assert_int_eq(g.err, BT_OK);
	ck_assert_uint_eq(g.index, 123);
	payload_of(123, want, sizeof(want), &wl);
	ck_assert_uint_eq(g.len, wl);
	ck_assert_int_eq(memcmp(g.data, want, wl), 0);
	ck_assert_int_eq(btstore_feed_info(N[1].st, &N[0].sg.pub, &si), BT_OK);
	ck_assert_uint_ge(si.held, 2);
	ck_assert_uint_le(si.held, 256);
	/* beyond the writer's head */
	memset(&g, 0, sizeof(g));
	ck_assert_int_eq(btapi_feed_get(cl, &N[0].sg.pub, 300, get_cb, &g),
	    BT_OK);
	run_until(&g.done, 8000);
	ck_assert_int_eq(g.err, BT_ENOTFOUND);
	/* a head appended since is fetched again */
	append(0, 300, 310, 10);
	memset(&h, 0, sizeof(h));
	ck_assert_int_eq(btapi_feed_head(cl, &N[0].sg.pub, head_cb, &h),
	    BT_OK);
	run_until(&h.done, 8000);
	ck_assert_int_eq(h.err, BT_OK);
	ck_assert_uint_eq(h.fi.length, 310);
	/* a feed nobody writes: its writer cannot be found */
	memset(seed, 0x7e, sizeof(seed));
	ck_assert_int_eq(btcore_key_from_seed(&k, seed), BT_OK);
	btcore_key_signer(k, &sg);
	memset(&h, 0, sizeof(h));
	ck_assert_int_eq(btapi_feed_head(cl, &sg.pub, head_cb, &h), BT_OK);
	run_until(&h.done, 10000);
	ck_assert_int_ne(h.err, BT_OK);
	btcore_key_free(k);
	down();
}
END_TEST

/* Node A's "feed" scope, lying as "lie" says. */
static void
tamper_rpc(void *arg, struct btnet_rpc_req *req, const struct bt_id *from,
    const char *scope, const uint8_t *args, size_t len)
{
	struct btapi_fsargs_ a;
	uint8_t *reply = NULL, enc[BTCORE_LOG_HEAD_ENC_LEN], *p;
	size_t rlen = 0, i;
	bson_t b;
	int rc;

	(void)arg;
	(void)scope;
	if (lie == LIE_SILENT) {
		lies_told++;
		ck_assert_int_eq(btnet_rpc_error(req, BT_EIO, "silent"), BT_OK);
		return;
	}
	ck_assert_int_eq(btapi_fsargs_decode_(&a, args, len), BT_OK);
	if (a.op == BTAPI_FSOP_HEAD_ && (lie == LIE_OTHER_FEED ||
	    lie == LIE_FORK)) {
		lies_told++;
		ck_assert_int_eq(btcore_log_head_encode(&fork_head, enc),
		    BT_OK);
		bson_init(&b);
		BSON_APPEND_BINARY(&b, "head", BSON_SUBTYPE_BINARY, enc,
		    sizeof(enc));
		ck_assert_int_eq(btnet_rpc_reply(req, bson_get_data(&b),
		    b.len), BT_OK);
		bson_destroy(&b);
		return;
	}
	rc = btapi_feedsync_answer(N[0].fs, from, args, len, &reply, &rlen);
	if (rc != BT_OK) {
		ck_assert_int_eq(btnet_rpc_error(req, rc, NULL), BT_OK);
		return;
	}
	if (a.op == BTAPI_FSOP_ENTRIES_ && lie == LIE_PAYLOAD) {
		/* change one byte of entry 5's payload, in place */
		for (i = 0, p = NULL; i + 11 <= rlen; i++)
			if (memcmp(reply + i, "entry-00005", 11) == 0) {
				p = reply + i;
				break;
			}
		if (p != NULL) {
			p[10] = 'X';
			lies_told++;
		}
	}
	ck_assert_int_eq(btnet_rpc_reply(req, reply, rlen), BT_OK);
	btapi_free(reply);
}

START_TEST(forged_entry_refused)
{
	struct btapi_feedsync_info fi;
	struct btstore_feed_info si;

	up(0, 400, 4);
	ck_assert_int_eq(btstore_feed_create(N[0].st, &N[0].sg), BT_OK);
	append(0, 0, 12, 12);
	ck_assert_int_eq(btnet_rpc_handle(N[0].net, BTAPI_FEED_SCOPE,
	    tamper_rpc, NULL), BT_OK);
	lie = LIE_PAYLOAD;
	follow_a(0);
	run_for(1500);
	ck_assert_int_gt(lies_told, 0);
	/* 0..3 came whole; 4..7 stopped at the forged 5 */
	fi = info_of(1, &N[0].sg.pub);
	ck_assert_uint_gt(fi.refused, 0);
	ck_assert_int_eq(btstore_feed_info(N[1].st, &N[0].sg.pub, &si), BT_OK);
	ck_assert_uint_lt(si.held, 12);
	ck_assert_uint_eq(got_next, 5);
	ck_assert_int_eq(got_bad, 0);
	/* the writer tells the truth again: the rest comes, in order */
	lie = LIE_NONE;
	run_until_count(&got_count, 12, 5000);
	ck_assert_int_eq(got_bad, 0);
	ck_assert_uint_eq(got_next, 12);
	down();
}
END_TEST

START_TEST(other_feed_refused)
{
	struct btapi_feedsync_info fi;
	int t;
	struct btstore_feed_info si;
	struct bt_id empty;
	struct headres h;
	uint8_t *reply = NULL;
	size_t rlen = 0, n = 0;
	bson_t args;

	up(0, 600000, 256);
	ck_assert_int_eq(btstore_feed_create(N[0].st, &N[0].sg), BT_OK);
	append(0, 0, 5, 5);
	/* a head signed by node C's key, served as A's */
	ck_assert_int_eq(btcore_id_hash(&empty, "", 0), BT_OK);
	ck_assert_int_eq(btcore_log_head_sign(&fork_head, &N[1].sg, 0, &empty),
	    BT_OK);
	ck_assert_int_eq(btnet_rpc_handle(N[0].net, BTAPI_FEED_SCOPE,
	    tamper_rpc, NULL), BT_OK);
	lie = LIE_OTHER_FEED;
	memset(&h, 0, sizeof(h));
	ck_assert_int_eq(btapi_feed_head(cl, &N[0].sg.pub, head_cb, &h),
	    BT_OK);
	run_until(&h.done, 8000);
	ck_assert_int_eq(h.err, BT_EVERIFY);
	ck_assert_int_gt(lies_told, 0);
	ck_assert_int_eq(btstore_feed_info(N[1].st, &N[0].sg.pub, &si),
	    BT_ENOTFOUND);
	ck_assert_int_eq(btstore_feed_info(N[1].st, &N[1].sg.pub, &si),
	    BT_ENOTFOUND);
	/* an entries reply of A's feed read as another feed's */
	bson_init(&args);
	BSON_APPEND_UTF8(&args, "op", "entries");
	BSON_APPEND_BINARY(&args, "feed", BSON_SUBTYPE_BINARY, N[0].sg.pub.b,
	    32);
	BSON_APPEND_INT64(&args, "from", 0);
	ck_assert_int_eq(btapi_feedsync_answer(N[0].fs, &N[1].id,
	    bson_get_data(&args), args.len, &reply, &rlen), BT_OK);
	bson_destroy(&args);
	ck_assert_int_eq(btapi_fsentries_decode_(reply, rlen, &N[1].sg.pub, 0,
	    5, NULL, NULL, &n), BT_EVERIFY);
	btapi_free(reply);
	/* following keeps failing while A lies, and counts it */
	ck_assert_int_eq(btapi_feedsync_follow(N[1].fs, &N[0].sg.pub, 0),
	    BT_OK);
	for (t = 0; t < 100 && info_of(1, &N[0].sg.pub).refused == 0; t++)
		run_for(20);
	fi = info_of(1, &N[0].sg.pub);
	ck_assert_uint_gt(fi.refused, 0);
	ck_assert_int_eq(fi.last_error, BT_EVERIFY);
	ck_assert_int_eq(btstore_feed_info(N[1].st, &N[0].sg.pub, &si),
	    BT_ENOTFOUND);
	btapi_feedsync_unfollow(N[1].fs, &N[0].sg.pub);
	down();
}
END_TEST

START_TEST(fork_reported)
{
	struct btapi_feedsync_info fi;
	struct btstore_feed_info si;
	struct bt_log_fork fk;
	struct bt_log_head h;
	struct bt_id root;

	up(0, 300, 256);
	ck_assert_int_eq(btstore_feed_create(N[0].st, &N[0].sg), BT_OK);
	append(0, 0, 8, 8);
	follow_a(0);
	run_until_count(&got_count, 8, 5000);
	/* the writer signs a second history of the same length */
	ck_assert_int_eq(btstore_feed_head(N[0].st, &N[0].sg.pub, &h), BT_OK);
	memset(root.b, 0x5a, sizeof(root.b));
	ck_assert_int_eq(btcore_log_head_sign(&fork_head, &N[0].sg, h.length,
	    &root), BT_OK);
	ck_assert_int_eq(btnet_rpc_handle(N[0].net, BTAPI_FEED_SCOPE,
	    tamper_rpc, NULL), BT_OK);
	lie = LIE_FORK;
	run_for(1200);
	ck_assert_int_gt(lies_told, 0);
	fi = info_of(1, &N[0].sg.pub);
	ck_assert_int_eq(fi.forked, 1);
	ck_assert_int_eq(fi.last_error, BT_ECONFLICT);
	ck_assert_int_eq(btstore_feed_info(N[1].st, &N[0].sg.pub, &si), BT_OK);
	ck_assert_int_eq(si.forked, 1);
	ck_assert_int_eq(btstore_feed_fork(N[1].st, &N[0].sg.pub, &fk), BT_OK);
	ck_assert_uint_eq(fk.a.length, h.length);
	ck_assert_int_eq(btcore_log_fork_verify(&fk), BT_OK);
	ck_assert_uint_eq(got_count, 8);
	ck_assert_int_eq(got_bad, 0);
	down();
}
END_TEST

/* Count the entries of a reply. */
static int
count_one(void *arg, const struct bt_log_entry *e, const uint8_t *data,
    size_t len)
{
	(void)e;
	(void)data;
	(void)len;
	(*(size_t *)arg)++;
	return 0;
}

static int
ask(int i, const char *op, const struct bt_pubkey *feed, int64_t from,
    int64_t max, uint8_t **reply, size_t *rlen)
{
	bson_t args;
	int rc;

	bson_init(&args);
	BSON_APPEND_UTF8(&args, "op", op);
	BSON_APPEND_BINARY(&args, "feed", BSON_SUBTYPE_BINARY, feed->b, 32);
	if (from >= 0)
		BSON_APPEND_INT64(&args, "from", from);
	if (max >= 0)
		BSON_APPEND_INT64(&args, "max", max);
	rc = btapi_feedsync_answer(N[i].fs, &N[1].id, bson_get_data(&args),
	    args.len, reply, rlen);
	bson_destroy(&args);
	return rc;
}

START_TEST(bounded_replies)
{
	static char big[8000];
	struct btstore_feed_payload items[100];
	struct btstore_feed_info si;
	struct btapi_feedsync_info fi;
	struct bt_log_head h;
	struct bt_merkle_proof pr;
	uint8_t *reply = NULL;
	size_t rlen = 0, n = 0, seen = 0, i;
	uint64_t first;
	int hasp, b;

	up(1, 600000, 1024);
	ck_assert_int_eq(btstore_feed_create(N[0].st, &N[0].sg), BT_OK);
	memset(big, 'b', sizeof(big));
	for (b = 0; b < 4; b++) {
		for (i = 0; i < 100; i++) {
			items[i].data = big;
			items[i].len = sizeof(big);
		}
		ck_assert_int_eq(btstore_feed_append_batch(N[0].st, &N[0].sg,
		    items, 100, &first), BT_OK);
	}
	/* 400 entries of 8000 bytes: a reply stops near 900 KiB */
	ck_assert_int_eq(ask(0, "entries", &N[0].sg.pub, 0, 1000, &reply,
	    &rlen), BT_OK);
	ck_assert_uint_le(rlen, BTAPI_FEEDSYNC_REPLY_MAX + 64);
	ck_assert_uint_gt(rlen, BTAPI_FEEDSYNC_REPLY_MAX - 9000);
	ck_assert_int_eq(btapi_fsentries_decode_(reply, rlen, &N[0].sg.pub, 0,
	    1000, count_one, &seen, &n), BT_OK);
	ck_assert_uint_eq(n, seen);
	ck_assert_uint_gt(n, 100);
	ck_assert_uint_lt(n, 120);
	btapi_free(reply);
	/* at most "max" */
	ck_assert_int_eq(ask(0, "entries", &N[0].sg.pub, 390, 7, &reply,
	    &rlen), BT_OK);
	seen = 0;
	ck_assert_int_eq(btapi_fsentries_decode_(reply, rlen, &N[0].sg.pub,
	    390, 397, count_one, &seen, &n), BT_OK);
	ck_assert_uint_eq(n, 7);
	/* asked for less than it holds: the decoder refuses the rest */
	ck_assert_int_eq(btapi_fsentries_decode_(reply, rlen, &N[0].sg.pub,
	    390, 396, count_one, &seen, &n), BT_EFORMAT);
	btapi_free(reply);
	/* past the end: none */
	ck_assert_int_eq(ask(0, "entries", &N[0].sg.pub, 400, -1, &reply,
	    &rlen), BT_OK);
	ck_assert_int_eq(btapi_fsentries_decode_(reply, rlen, &N[0].sg.pub,
	    400, 500, count_one, &seen, &n), BT_OK);
	ck_assert_uint_eq(n, 0);
	btapi_free(reply);
	/* a head with a consistency proof from what the asker holds */
	ck_assert_int_eq(ask(0, "head", &N[0].sg.pub, -1, -1, &reply, &rlen),
	    BT_OK);
	ck_assert_int_eq(btapi_fshead_decode_(reply, rlen, &N[0].sg.pub, &h,
	    &pr, &hasp), BT_OK);
	ck_assert_uint_eq(h.length, 400);
	ck_assert_int_eq(hasp, 0);
	btapi_free(reply);
	/* errors */
	ck_assert_int_eq(ask(0, "head", &N[1].sg.pub, -1, -1, &reply, &rlen),
	    BT_ENOTFOUND);
	ck_assert_ptr_null(reply);
	ck_assert_int_eq(ask(0, "entries", &N[1].sg.pub, 0, -1, &reply,
	    &rlen), BT_ENOTFOUND);
	ck_assert_int_eq(ask(0, "tail", &N[0].sg.pub, -1, -1, &reply, &rlen),
	    BT_EUNSUPPORTED);
	ck_assert_int_eq(ask(0, "entries", &N[0].sg.pub, -1, -1, &reply,
	    &rlen), BT_EFORMAT);
	ck_assert_int_eq(ask(0, "entries", &N[0].sg.pub, 0, 0, &reply,
	    &rlen), BT_EFORMAT);
	/* over the network: several replies per request, all in order */
	follow_a(0);
	run_until_count(&got_count, 400, 20000);
	fi = info_of(1, &N[0].sg.pub);
	ck_assert_uint_eq(fi.pulled, 400);
	ck_assert_int_eq(btstore_feed_info(N[1].st, &N[0].sg.pub, &si), BT_OK);
	ck_assert_uint_eq(si.held, 400);
	/* a follower serves what it holds, with the heads it verified */
	ck_assert_int_eq(ask(1, "entries", &N[0].sg.pub, 10, 5, &reply,
	    &rlen), BT_OK);
	seen = 0;
	ck_assert_int_eq(btapi_fsentries_decode_(reply, rlen, &N[0].sg.pub, 10,
	    15, count_one, &seen, &n), BT_OK);
	ck_assert_uint_eq(n, 5);
	btapi_free(reply);
	down();
}
END_TEST

START_TEST(follower_serves_when_writer_gone)
{
	struct btapi_feedsync_info fi;
	struct btstore_feed_info si;
	struct bt_id ch;
	int t, ready = 0;

	up_n(3, 1, 500, 256);
	ck_assert_int_eq(btstore_feed_create(N[0].st, &N[0].sg), BT_OK);
	append(0, 0, 40, 40);
	follow_a(0);
	run_until_count(&got_count, 40, 5000);
	/* the writer leaves; node C, which holds nothing, follows */
	btnet_offline(N[0].net);
	run_for(100);
	ck_assert_int_eq(btapi_feedsync_channel(&N[0].sg.pub, &ch), BT_OK);
	ck_assert_int_eq(btstore_feed_info(N[2].st, &N[0].sg.pub, &si),
	    BT_ENOTFOUND);
	ck_assert_int_eq(btapi_feedsync_follow(N[2].fs, &N[0].sg.pub, 0),
	    BT_OK);
	for (t = 0; t < 600 && !ready; t++) {
		run_for(50);
		ready = btstore_feed_info(N[2].st, &N[0].sg.pub, &si) ==
		    BT_OK && si.held == 40;
	}
	fi = info_of(2, &N[0].sg.pub);
	ck_assert_msg(ready, "C did not get the feed from B (rounds %llu, "
	    "last %d, refused %llu, mesh %zu)", (unsigned long long)fi.rounds,
	    fi.last_error, (unsigned long long)fi.refused,
	    btnet_pubsub_peers(N[2].net, &ch, NULL, 0));
	ck_assert_uint_eq(si.length, 40);
	fi = info_of(2, &N[0].sg.pub);
	ck_assert_uint_eq(fi.pulled, 40);
	ck_assert_uint_eq(fi.refused, 0);
	btapi_feedsync_unfollow(N[2].fs, &N[0].sg.pub);
	down();
}
END_TEST

START_TEST(request_decoder)
{
	struct btapi_fsargs_ a;
	uint8_t feed[32];
	bson_t b;

	memset(feed, 7, sizeof(feed));
#define DOC(stmts, want) do {						\
	bson_init(&b);							\
	stmts;								\
	ck_assert_int_eq(btapi_fsargs_decode_(&a, bson_get_data(&b),	\
	    b.len), want);						\
	bson_destroy(&b);						\
} while (0)
	DOC({ BSON_APPEND_UTF8(&b, "op", "head");
	    BSON_APPEND_BINARY(&b, "feed", BSON_SUBTYPE_BINARY, feed, 32); },
	    BT_OK);
	ck_assert_int_eq(a.op, BTAPI_FSOP_HEAD_);
	DOC({ BSON_APPEND_UTF8(&b, "op", "head");
	    BSON_APPEND_BINARY(&b, "feed", BSON_SUBTYPE_BINARY, feed, 32);
	    BSON_APPEND_INT64(&b, "have", 3); }, BT_OK);
	ck_assert_uint_eq(a.have, 3);
	DOC({ BSON_APPEND_UTF8(&b, "op", "entries");
	    BSON_APPEND_BINARY(&b, "feed", BSON_SUBTYPE_BINARY, feed, 32);
	    BSON_APPEND_INT64(&b, "from", 9); BSON_APPEND_INT64(&b, "max", 2);
	    BSON_APPEND_INT64(&b, "at", 12); }, BT_OK);
	ck_assert_uint_eq(a.from, 9);
	ck_assert_uint_eq(a.max, 2);
	ck_assert_uint_eq(a.at, 12);
	/* a field the op does not take, repeated, negative, wrong type */
	DOC({ BSON_APPEND_UTF8(&b, "op", "head");
	    BSON_APPEND_BINARY(&b, "feed", BSON_SUBTYPE_BINARY, feed, 32);
	    BSON_APPEND_INT64(&b, "from", 3); }, BT_EFORMAT);
	DOC({ BSON_APPEND_UTF8(&b, "op", "head");
	    BSON_APPEND_BINARY(&b, "feed", BSON_SUBTYPE_BINARY, feed, 32);
	    BSON_APPEND_BINARY(&b, "feed", BSON_SUBTYPE_BINARY, feed, 32); },
	    BT_EFORMAT);
	DOC({ BSON_APPEND_UTF8(&b, "op", "entries");
	    BSON_APPEND_BINARY(&b, "feed", BSON_SUBTYPE_BINARY, feed, 32);
	    BSON_APPEND_INT64(&b, "from", -1); }, BT_EFORMAT);
	DOC({ BSON_APPEND_UTF8(&b, "op", "entries");
	    BSON_APPEND_BINARY(&b, "feed", BSON_SUBTYPE_BINARY, feed, 32);
	    BSON_APPEND_INT32(&b, "from", 1); }, BT_EFORMAT);
	DOC({ BSON_APPEND_UTF8(&b, "op", "head");
	    BSON_APPEND_BINARY(&b, "feed", BSON_SUBTYPE_BINARY, feed, 31); },
	    BT_EFORMAT);
	DOC({ BSON_APPEND_UTF8(&b, "op", "head"); }, BT_EFORMAT);
	DOC({ BSON_APPEND_UTF8(&b, "op", "head");
	    BSON_APPEND_BINARY(&b, "feed", BSON_SUBTYPE_BINARY, feed, 32);
	    BSON_APPEND_BOOL(&b, "extra", 1); }, BT_EFORMAT);
	DOC({ BSON_APPEND_UTF8(&b, "op", "gossip");
	    BSON_APPEND_BINARY(&b, "feed", BSON_SUBTYPE_BINARY, feed, 32); },
	    BT_EUNSUPPORTED);
	DOC({ BSON_APPEND_BINARY(&b, "feed", BSON_SUBTYPE_BINARY, feed, 32); },
	    BT_EFORMAT);
#undef DOC
	ck_assert_int_eq(btapi_fsargs_decode_(&a, (const uint8_t *)"\5\0\0\0",
	    4), BT_EFORMAT);
}
END_TEST

START_TEST(config_checked)
{
	struct btapi_feedsync_config fc;
	struct btapi_feedsync *fs = (struct btapi_feedsync *)(uintptr_t)1;
	struct event_base *b = event_base_new();
	struct bt_id ch1, ch2;
	struct bt_pubkey k;

	btapi_feedsync_config_init(&fc);
	ck_assert_uint_eq(fc.poll_ms, 10000);
	ck_assert_uint_eq(fc.reply_bytes, BTAPI_FEEDSYNC_REPLY_MAX);
	ck_assert_int_eq(fc.pubsub, 1);
	ck_assert_int_eq(btapi_feedsync_open(&fs, b, &fc), BT_EINVAL);
	ck_assert_ptr_null(fs);
	memset(k.b, 1, 32);
	ck_assert_int_eq(btapi_feedsync_channel(&k, &ch1), BT_OK);
	k.b[31] ^= 1;
	ck_assert_int_eq(btapi_feedsync_channel(&k, &ch2), BT_OK);
	ck_assert_int_ne(memcmp(ch1.b, ch2.b, BT_ID_LEN), 0);
	ck_assert_int_ne(memcmp(ch1.b, k.b, BT_ID_LEN), 0);
	ck_assert_int_eq(btapi_feedsync_channel(NULL, &ch1), BT_EINVAL);
	btapi_feedsync_stop(NULL);
	btapi_feedsync_free(NULL);
	btapi_feedsync_cancel(NULL);
	event_base_free(b);
}
END_TEST

START_TEST(config_ranges)
{
	struct btapi_feedsync_config fc;
	struct btapi_feedsync *fs = NULL;

	up(1, 1000, 256);
	btapi_feedsync_config_init(&fc);
	fc.store = N[0].st;
	fc.net = N[0].net;
	fc.signer = &N[0].sg;
	fc.batch = BTAPI_FEEDSYNC_ENTRIES_MAX + 1;
	ck_assert_int_eq(btapi_feedsync_open(&fs, base, &fc), BT_ERANGE);
	fc.batch = 1;
	fc.reply_bytes = BTAPI_FEEDSYNC_REPLY_MIN - 1;
	ck_assert_int_eq(btapi_feedsync_open(&fs, base, &fc), BT_ERANGE);
	fc.reply_bytes = BTAPI_FEEDSYNC_REPLY_MAX;
	fc.window = 0;
	ck_assert_int_eq(btapi_feedsync_open(&fs, base, &fc), BT_EINVAL);
	ck_assert_ptr_null(fs);
	/* the node's own feed is not followed nor fetched */
	ck_assert_int_eq(btapi_feedsync_follow(N[0].fs, &N[0].sg.pub, 0),
	    BT_EINVAL);
	ck_assert_int_eq(btapi_feedsync_fetch(N[0].fs, &N[0].sg.pub,
	    BTAPI_FEEDSYNC_HEAD, hello_cb, NULL, NULL), BT_EINVAL);
	/* stopped: new work refused, waiters told */
	btapi_feedsync_stop(N[0].fs);
	ck_assert_int_eq(btapi_feedsync_follow(N[0].fs, &N[1].sg.pub, 0),
	    BT_ESTATE);
	down();
}
END_TEST

static void
closed_cb(void *arg, int err)
{
	*(int *)arg = err;
}

START_TEST(stop_tells_waiters)
{
	struct btapi_feedsync_wait *w = NULL;
	int err = 0, err2 = 0;

	up(1, 1000, 256);
	ck_assert_int_eq(btnet_rpc_handle(N[0].net, BTAPI_FEED_SCOPE,
	    tamper_rpc, NULL), BT_OK);
	lie = LIE_SILENT;
	ck_assert_int_eq(btapi_feedsync_fetch(N[1].fs, &N[0].sg.pub, 3,
	    closed_cb, &err, NULL), BT_OK);
	ck_assert_int_eq(btapi_feedsync_fetch(N[1].fs, &N[0].sg.pub,
	    BTAPI_FEEDSYNC_HEAD, closed_cb, &err2, &w), BT_OK);
	btapi_feedsync_cancel(w);
	ck_assert_int_eq(err, 0);
	btapi_server_close(N[1].srv);
	N[1].srv = NULL;
	btapi_feedsync_stop(N[1].fs);
	ck_assert_int_eq(err, BT_ECLOSED);
	ck_assert_int_eq(err2, 0);
	N[1].srv = NULL;
	btapi_close(cl);
	cl = NULL;
	/* node_close closes a NULL server */
	down();
}
END_TEST

Suite *
suite_feedsync(void)
{
	Suite *s = suite_create("feedsync");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, request_decoder);
	tcase_add_test(tc, config_checked);
	tcase_add_test(tc, config_ranges);
	tcase_add_test(tc, follow_in_order_then_announced);
	tcase_add_test(tc, polled_without_pubsub);
	tcase_add_test(tc, head_and_get_fetch);
	tcase_add_test(tc, forged_entry_refused);
	tcase_add_test(tc, other_feed_refused);
	tcase_add_test(tc, fork_reported);
	tcase_add_test(tc, bounded_replies);
	tcase_add_test(tc, follower_serves_when_writer_gone);
	tcase_add_test(tc, stop_tells_waiters);
	suite_add_tcase(s, tc);
	return s;
}
