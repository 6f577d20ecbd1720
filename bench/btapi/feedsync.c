/*
 * feedsync.c - pulling another node's feed: two in-process nodes (store,
 * network on loopback, feed synchroniser and API server each, one event
 * loop); node B follows node A's feed of 10000 entries of 100 bytes and
 * the figure is the entries a second taken into B's store (each asked
 * over the network, verified and committed), against the raw baseline of
 * btstore_feed_entry_get() reading the same entries from A's store.
 * Both stores run without flushing every commit, so that the figure is
 * the protocol's and the verification's, not the disk's.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>

#include <bt/apifeed.h>
#include <bt/apiserver.h>
#include <bt/feed.h>
#include <bt/key.h>
#include <bt/net.h>
#include <bt/store.h>

#include "bench.h"

#define ENTRIES		10000
#define PAYLOAD		100
#define BATCH		1000

struct node {
	char dir[64], sock[128];
	struct btstore *st;
	struct btcore_key *key;
	struct btcore_signer sg;
	struct btnet *net;
	struct btapi_feedsync *fs;
	struct btapi_server *srv;
	char addr[64];
};

static struct event_base *base;
static struct node N[2];

static void die(const char *what, int rc) __attribute__((noreturn));

static void
die(const char *what, int rc)
{
	fprintf(stderr, "bench feedsync: %s: %d\n", what, rc);
	exit(1);
}

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

	evtimer_add(t, &tv);
	while (!expired)
		event_base_loop(base, EVLOOP_ONCE);
	event_free(t);
}

static void
node_open(int i)
{
	struct node *n = &N[i];
	struct btstore_options *o = NULL;
	struct btnet_config nc;
	struct btapi_feedsync_config fc;
	struct btapi_server_config sc;
	char listen[32], p[96];
	uint8_t seed[32];
	int rc;

	snprintf(n->dir, sizeof(n->dir), "%s", "/tmp/btbench-feed-XXXXXX");
	if (mkdtemp(n->dir) == NULL)
		die("mkdtemp", -1);
	snprintf(p, sizeof(p), "%s/store", n->dir);
	if (mkdir(p, 0700) != 0 || btstore_options_new(&o) != BT_OK ||
	    btstore_options_set(o, BTSTORE_OPT_NOSYNC, 1) != BT_OK)
		die("store options", -1);
	if ((rc = btstore_open(&n->st, p, o)) != BT_OK)
		die("btstore_open", rc);
	btstore_options_free(o);
	memset(seed, 0x21 + i, sizeof(seed));
	if ((rc = btcore_key_from_seed(&n->key, seed)) != BT_OK)
		die("key", rc);
	btcore_key_signer(n->key, &n->sg);
	btnet_config_init(&nc);
	nc.prefix_per_bucket = BT_K;
	nc.prefix_per_table = 1000;
	snprintf(listen, sizeof(listen), "127.0.0.%d:0", 91 + i);
	nc.listen[0] = listen;
	nc.nlisten = 1;
	if ((rc = btnet_open(&n->net, base, &n->sg, NULL, &nc)) != BT_OK ||
	    (rc = btnet_local_addr(n->net, 0, n->addr, sizeof(n->addr))) !=
	    BT_OK)
		die("btnet_open", rc);
	btapi_feedsync_config_init(&fc);
	fc.store = n->st;
	fc.net = n->net;
	fc.signer = &n->sg;
	if ((rc = btapi_feedsync_open(&n->fs, base, &fc)) != BT_OK)
		die("btapi_feedsync_open", rc);
	snprintf(p, sizeof(p), "%s/api/sock", n->dir);
	memcpy(n->sock, p, strlen(p) + 1);
	btapi_server_config_init(&sc);
	sc.socket_path = n->sock;
	sc.store = n->st;
	sc.net = n->net;
	sc.signer = &n->sg;
	sc.feedsync = n->fs;
	if ((rc = btapi_server_open(&n->srv, base, &sc)) != BT_OK)
		die("btapi_server_open", rc);
}

static void
node_close(int i)
{
	struct node *n = &N[i];
	char p[160];

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
}

int
main(void)
{
	static struct btstore_feed_payload items[BATCH];
	static uint8_t data[BATCH][PAYLOAD];
	struct btstore_feed_info si;
	struct bt_log_entry e;
	const char *boot[1];
	uint8_t buf[PAYLOAD];
	double t0, local, remote;
	size_t len, i, b;
	int rc, t;

	signal(SIGPIPE, SIG_IGN);
	if ((base = event_base_new()) == NULL)
		die("event_base_new", -1);
	node_open(0);
	node_open(1);
	if ((rc = btnet_online(N[0].net, NULL, 0)) != BT_OK)
		die("online", rc);
	boot[0] = N[0].addr;
	if ((rc = btnet_online(N[1].net, boot, 1)) != BT_OK)
		die("online", rc);
	for (t = 0; t < 200 && !btnet_is_online(N[1].net); t++)
		run_for(20);
	if ((rc = btstore_feed_create(N[0].st, &N[0].sg)) != BT_OK)
		die("feed create", rc);
	for (b = 0; b < ENTRIES / BATCH; b++) {
		for (i = 0; i < BATCH; i++) {
			memset(data[i], 'a' + (int)(i % 26), PAYLOAD);
			memcpy(data[i], &b, sizeof(b));
			memcpy(data[i] + sizeof(b), &i, sizeof(i));
			items[i].data = data[i];
			items[i].len = PAYLOAD;
		}
		if ((rc = btstore_feed_append_batch(N[0].st, &N[0].sg, items,
		    BATCH, NULL)) != BT_OK)
			die("append", rc);
	}
	run_for(50);
	/* baseline: every entry read from the writer's own store */
	t0 = bench_now();
	for (i = 0; i < ENTRIES; i++) {
		if ((rc = btstore_feed_entry_get(N[0].st, &N[0].sg.pub, i, 0,
		    &e, buf, sizeof(buf), &len)) != BT_OK)
			die("entry get", rc);
		bench_consume(buf);
	}
	local = ENTRIES / (bench_now() - t0);
	/* the figure: node B pulls them all */
	t0 = bench_now();
	if ((rc = btapi_feedsync_follow(N[1].fs, &N[0].sg.pub, 0)) != BT_OK)
		die("follow", rc);
	for (;;) {
		event_base_loop(base, EVLOOP_ONCE);
		if (btstore_feed_info(N[1].st, &N[0].sg.pub, &si) == BT_OK &&
		    si.held == ENTRIES)
			break;
		if (bench_now() - t0 > 120)
			die("pull did not finish", (int)si.held);
	}
	remote = ENTRIES / (bench_now() - t0);
	btapi_feedsync_unfollow(N[1].fs, &N[0].sg.pub);
	bench_line("btapi", "feed_pull_10k", remote, "entries/s", local,
	    "entries/s (local btstore_feed_entry_get)", NULL);
	node_close(1);
	node_close(0);
	event_base_free(base);
	return 0;
}
