/*
 * test_data.c - the data ops over a real Unix socket and a real LMDB
 * store, one process, one event loop: feeds (create, batch append, head,
 * verified get, follow of new entries), records (sequence, reserved
 * keys), bags in the store, programs (install, list, remove, hello
 * refused after removal, a running program disconnected), manifest
 * capabilities, the node without network, and the request decoder
 * against truncation, bit flips and hostile fields.  A second case runs
 * two nodes over loopback: friends kept across a server restart, pubsub
 * between nodes and between programs of one node, records fetched from
 * the other node; and friends, allow-lists and programs kept in the
 * store's local area, never in any path of any namespace.
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
#include <bt/apiserver.h>
#include <bt/friend.h>
#include <bt/key.h>
#include <bt/local.h>
#include <bt/manifest.h>
#include <bt/net.h>
#include <bt/ns.h>
#include <bt/store.h>

#include "btapi-internal.h"

Suite *suite_data(void);

#define NN	2

struct node {
	char dir[64];
	char sock[128];
	struct btstore *st;
	struct btcore_key *key;
	struct btcore_signer signer;
	struct btnet *net;
	struct btapi_server *srv;
	struct bt_id id;
};

static struct event_base *base;
static struct node N[NN];

static void
rm_tree(const char *dir)
{
	char p[200];

	snprintf(p, sizeof(p), "%s/store/data.mdb", dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/store/lock.mdb", dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/store", dir);
	rmdir(p);
	snprintf(p, sizeof(p), "%s/run", dir);
	rmdir(p);
	rmdir(dir);
}

static void
server_up(int i)
{
	struct btapi_server_config cfg;

	btapi_server_config_init(&cfg);
	cfg.socket_path = N[i].sock;
	cfg.store = N[i].st;
	cfg.signer = &N[i].signer;
	cfg.net = N[i].net;
	cfg.request_timeout_ms = 2000;
	ck_assert_int_eq(btapi_server_open(&N[i].srv, base, &cfg), BT_OK);
}

static void
net_up(int i)
{
	struct btnet_config nc;
	char listen[32], boot[64];
	const char *bp[1] = { boot };

	btnet_config_init(&nc);
	nc.request_timeout_ms = 1500;
	snprintf(listen, sizeof(listen), "127.0.4.%d:0", 10 + i);
	nc.listen[0] = listen;
	nc.nlisten = 1;
	ck_assert_int_eq(btnet_open(&N[i].net, base, &N[i].signer, NULL, &nc),
	    BT_OK);
	/* bootstrap to the other node when it is up: a DHT of two */
	if (N[1 - i].net != NULL) {
		ck_assert_int_eq(btnet_local_addr(N[1 - i].net, 0, boot,
		    sizeof(boot)), BT_OK);
		ck_assert_int_eq(btnet_online(N[i].net, bp, 1), BT_OK);
	} else {
		ck_assert_int_eq(btnet_online(N[i].net, NULL, 0), BT_OK);
	}
}

static void
node_up(int i, int with_net)
{
	struct btstore_options *o;
	char p[128], dir[sizeof(N[i].dir)];

	snprintf(N[i].dir, sizeof(N[i].dir), "%s", "/tmp/btdata-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(N[i].dir));
	snprintf(p, sizeof(p), "%s/store", N[i].dir);
	ck_assert_int_eq(mkdir(p, 0700), 0);
	ck_assert_int_eq(btstore_options_new(&o), BT_OK);
	ck_assert_int_eq(btstore_options_set(o, BTSTORE_OPT_NOSYNC, 1), BT_OK);
	ck_assert_int_eq(btstore_open(&N[i].st, p, o), BT_OK);
	btstore_options_free(o);
	ck_assert_int_eq(btcore_key_generate(&N[i].key), BT_OK);
	btcore_key_signer(N[i].key, &N[i].signer);
	ck_assert_int_eq(btcore_pubkey_id(&N[i].signer.pub, &N[i].id), BT_OK);
	memcpy(dir, N[i].dir, sizeof(dir));
	snprintf(N[i].sock, sizeof(N[i].sock), "%s/run/api.sock", dir);
	if (with_net)
		net_up(i);
	server_up(i);
}

static void
node_down(int i)
{
	btapi_server_close(N[i].srv);
	btnet_close(N[i].net);
	btstore_close(N[i].st);
	btcore_key_free(N[i].key);
	rm_tree(N[i].dir);
	memset(&N[i], 0, sizeof(N[i]));
}

static void
setup1(void)
{
	signal(SIGPIPE, SIG_IGN);
	ck_assert_ptr_nonnull(base = event_base_new());
	memset(N, 0, sizeof(N));
	node_up(0, 0);
}

static void
teardown1(void)
{
	node_down(0);
	event_base_free(base);
}

static void
setup2(void)
{
	signal(SIGPIPE, SIG_IGN);
	ck_assert_ptr_nonnull(base = event_base_new());
	memset(N, 0, sizeof(N));
	node_up(0, 1);
	node_up(1, 1);
}

static void
teardown2(void)
{
	node_down(0);
	node_down(1);
	event_base_free(base);
}

/* ---- loop and results ----------------------------------------------------- */

static void
expire(evutil_socket_t fd, short w, void *arg)
{
	(void)fd;
	(void)w;
	*(int *)arg = 1;
}

static void
run_until(const int *flag, int want, int ms)
{
	int expired = 0;
	struct event *t = evtimer_new(base, expire, &expired);
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	ck_assert_ptr_nonnull(t);
	evtimer_add(t, &tv);
	while (*flag < want && !expired)
		event_base_loop(base, EVLOOP_ONCE);
	event_free(t);
	ck_assert_msg(*flag >= want, "deadline passed (%d of %d)", *flag, want);
}

struct res {
	int done, err;
	struct btapi_feed_info fi;
	uint64_t seq, index;
	uint8_t buf[4096];
	size_t len, n;
	int64_t id;
	struct bt_id node;
	char names[8][65];
	int online;
};

static void
r_done(void *arg, int err)
{
	struct res *r = arg;

	r->err = err;
	r->done++;
}

static void
r_feed(void *arg, int err, const struct btapi_feed_info *fi)
{
	struct res *r = arg;

	r->err = err;
	if (fi != NULL)
		r->fi = *fi;
	r->done++;
}

static void
r_entry(void *arg, int err, uint64_t index, const void *d, size_t len)
{
	struct res *r = arg;

	r->err = err;
	r->index = index;
	r->len = len;
	if (len > 0 && len <= sizeof(r->buf))
		memcpy(r->buf, d, len);
	r->done++;
}

static void
r_record(void *arg, int err, uint64_t seq, const void *v, size_t len)
{
	struct res *r = arg;

	r->err = err;
	r->seq = seq;
	r->len = len;
	if (v != NULL && len <= sizeof(r->buf))
		memcpy(r->buf, v, len);
	r->done++;
}

static void
r_id(void *arg, int err, int64_t id)
{
	struct res *r = arg;

	r->err = err;
	r->id = id;
	r->done++;
}

static void
r_bag(void *arg, int err, const uint8_t (*v)[32], size_t n)
{
	struct res *r = arg;

	r->err = err;
	r->n = n;
	if (n > 0)
		memcpy(r->buf, v, (n < 64 ? n : 64) * 32);
	r->done++;
}

static void
r_bytes(void *arg, int err, const uint8_t *d, size_t len)
{
	struct res *r = arg;

	r->err = err;
	r->len = len;
	if (d != NULL && len <= sizeof(r->buf))
		memcpy(r->buf, d, len);
	r->done++;
}

static void
r_node(void *arg, int err, const struct bt_id *id)
{
	struct res *r = arg;

	r->err = err;
	if (id != NULL)
		r->node = *id;
	r->done++;
}

static void
r_friends(void *arg, int err, const struct btapi_friend *f, size_t n)
{
	struct res *r = arg;

	r->err = err;
	r->n = n;
	if (n > 0)
		r->node = f[0].node;
	r->done++;
}

static void
r_programs(void *arg, int err, const struct btapi_program *p, size_t n)
{
	struct res *r = arg;
	size_t i;

	r->err = err;
	r->n = n;
	for (i = 0; i < n && i < 8; i++)
		snprintf(r->names[i], sizeof(r->names[i]), "%s", p[i].name);
	r->done++;
}

static void
r_peers(void *arg, int err, const struct btapi_peer *p, size_t n, int online)
{
	struct res *r = arg;

	r->err = err;
	r->n = n;
	r->online = online;
	if (n > 0) {
		r->node = p[0].node;
		snprintf(r->names[0], sizeof(r->names[0]), "%s", p[0].addr);
	}
	r->done++;
}

static struct btapi *
conn(int i, const uint8_t *m, size_t len, int expect)
{
	struct btapi *c = NULL;
	struct res r;

	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(btapi_open(&c, base, N[i].sock, m, len, r_done, &r),
	    BT_OK);
	run_until(&r.done, 1, 3000);
	ck_assert_int_eq(r.err, expect);
	return c;
}

#define WAIT(r)	run_until(&(r).done, 1, 5000)
#define RESET(r) memset(&(r), 0, sizeof(r))

static void
make_manifest(const struct btcore_signer *s, const char *name,
    const char *const *scopes, uint8_t **out, size_t *len)
{
	struct btcore_manifest *m;

	ck_assert_int_eq(btcore_manifest_new(&m), BT_OK);
	ck_assert_int_eq(btcore_manifest_set_name(m, name), BT_OK);
	ck_assert_int_eq(btcore_manifest_set_version(m, "1"), BT_OK);
	for (; scopes != NULL && *scopes != NULL; scopes++)
		ck_assert_int_eq(btcore_manifest_add_scope(m, *scopes), BT_OK);
	ck_assert_int_eq(btcore_manifest_sign(m, s, out, len), BT_OK);
	btcore_manifest_free(m);
}

/* ---- feeds ---------------------------------------------------------------- */

struct fres {
	int n;
	uint64_t idx[16];
	char data[16][16];
};

static void
on_follow(void *arg, int64_t follow, uint64_t index, const void *d,
    size_t len)
{
	struct fres *f = arg;

	(void)follow;
	if (f->n < 16) {
		f->idx[f->n] = index;
		snprintf(f->data[f->n], sizeof(f->data[0]), "%.*s", (int)len,
		    (const char *)d);
	}
	f->n++;
}

START_TEST(feeds)
{
	struct btapi *c = conn(0, NULL, 0, BT_OK);
	struct btapi_item it[3] = { { "one", 3 }, { "two", 3 }, { "", 0 } };
	struct btapi_item big = { NULL, BTCORE_BLOCK_MAX + 1 };
	struct fres f;
	struct res r;
	struct bt_pubkey other;

	RESET(r);
	ck_assert_int_eq(btapi_feed_append(c, it, 1, r_feed, &r), BT_OK);
	WAIT(r);
	ck_assert_int_eq(r.err, BT_ENOTFOUND);	/* no feed yet */
	RESET(r);
	ck_assert_int_eq(btapi_feed_create(c, r_feed, &r), BT_OK);
	WAIT(r);
	ck_assert_int_eq(r.err, BT_OK);
	ck_assert_mem_eq(r.fi.feed.b, N[0].signer.pub.b, 32);
	ck_assert_int_eq(r.fi.length, 0);
	ck_assert_int_eq(r.fi.owned, 1);
	RESET(r);
	ck_assert_int_eq(btapi_feed_create(c, r_feed, &r), BT_OK);
	WAIT(r);
	ck_assert_int_eq(r.err, BT_EEXIST);
	RESET(r);
	ck_assert_int_eq(btapi_feed_append(c, it, 3, r_feed, &r), BT_OK);
	WAIT(r);
	ck_assert_int_eq(r.err, BT_OK);
	ck_assert_int_eq(r.fi.first, 0);
	ck_assert_int_eq(r.fi.length, 3);
	RESET(r);
	ck_assert_int_eq(btapi_feed_append(c, it, 2, r_feed, &r), BT_OK);
	WAIT(r);
	ck_assert_int_eq(r.fi.first, 3);
	ck_assert_int_eq(r.fi.length, 5);
	big.data = "x";
	ck_assert_int_eq(btapi_feed_append(c, &big, 1, r_feed, &r),
	    BT_ETOOBIG);
	ck_assert_int_eq(btapi_feed_append(c, it, 0, r_feed, &r), BT_EINVAL);
	RESET(r);
	ck_assert_int_eq(btapi_feed_get(c, NULL, 4, r_entry, &r), BT_OK);
	WAIT(r);
	ck_assert_int_eq(r.err, BT_OK);
	ck_assert_int_eq(r.index, 4);
	ck_assert_uint_eq(r.len, 3);
	ck_assert_mem_eq(r.buf, "two", 3);
	RESET(r);
	ck_assert_int_eq(btapi_feed_get(c, &N[0].signer.pub, 2, r_entry, &r),
	    BT_OK);
	WAIT(r);
	ck_assert_int_eq(r.err, BT_OK);
	ck_assert_uint_eq(r.len, 0);
	RESET(r);
	ck_assert_int_eq(btapi_feed_get(c, NULL, 5, r_entry, &r), BT_OK);
	WAIT(r);
	ck_assert_int_eq(r.err, BT_ENOTFOUND);
	memset(other.b, 7, 32);
	RESET(r);
	ck_assert_int_eq(btapi_feed_head(c, &other, r_feed, &r), BT_OK);
	WAIT(r);
	ck_assert_int_eq(r.err, BT_ENOTFOUND);

	/* follow from 3: the two held, then each new one */
	memset(&f, 0, sizeof(f));
	RESET(r);
	ck_assert_int_eq(btapi_feed_follow(c, NULL, 3, on_follow, &f, r_id,
	    &r), BT_OK);
	WAIT(r);
	ck_assert_int_eq(r.err, BT_OK);
	ck_assert_int_gt(r.id, 0);
	run_until(&f.n, 2, 3000);
	ck_assert_int_eq(f.idx[0], 3);
	ck_assert_str_eq(f.data[1], "two");
	RESET(r);
	ck_assert_int_eq(btapi_feed_append(c, it + 1, 1, r_feed, &r), BT_OK);
	WAIT(r);
	run_until(&f.n, 3, 3000);
	ck_assert_int_eq(f.idx[2], 5);
	ck_assert_str_eq(f.data[2], "two");
	RESET(r);
	ck_assert_int_eq(btapi_feed_unfollow(c, r.id + 999, r_done, &r),
	    BT_OK);
	WAIT(r);
	ck_assert_int_eq(r.err, BTAPI_EBADHANDLE);
	btapi_close(c);
}
END_TEST

/* ---- records and bags ------------------------------------------------------ */

static void
nop_msg(void *arg, const struct bt_id *ch, const struct bt_id *from,
    const void *d, size_t len)
{
	(void)arg;
	(void)ch;
	(void)from;
	(void)d;
	(void)len;
	ck_abort_msg("a message without network");
}

START_TEST(records_bags)
{
	struct btapi *c = conn(0, NULL, 0, BT_OK);
	struct res r;
	struct bt_id key;
	uint8_t v1[32], v2[32];
	char big[BTCORE_RECORD_VALUE_MAX + 1];

	RESET(r);
	ck_assert_int_eq(btapi_record_get(c, NULL, "k", 1, r_record, &r),
	    BT_OK);
	WAIT(r);
	ck_assert_int_eq(r.err, BT_ENOTFOUND);
	RESET(r);
	ck_assert_int_eq(btapi_record_set(c, "k", 1, "v1", 2, r_record, &r),
	    BT_OK);
	WAIT(r);
	ck_assert_int_eq(r.err, BT_OK);
	ck_assert_int_eq(r.seq, 1);
	RESET(r);
	ck_assert_int_eq(btapi_record_set(c, "k", 1, "v22", 3, r_record, &r),
	    BT_OK);
	WAIT(r);
	ck_assert_int_eq(r.seq, 2);
	RESET(r);
	ck_assert_int_eq(btapi_record_get(c, &N[0].signer.pub, "k", 1,
	    r_record, &r), BT_OK);
	WAIT(r);
	ck_assert_int_eq(r.err, BT_OK);
	ck_assert_int_eq(r.seq, 2);
	ck_assert_uint_eq(r.len, 3);
	ck_assert_mem_eq(r.buf, "v22", 3);
	RESET(r);
	ck_assert_int_eq(btapi_record_set(c, "root", 4, "x", 1, r_record, &r),
	    BT_OK);
	WAIT(r);
	ck_assert_int_eq(r.err, BT_EPERM);
	RESET(r);
	ck_assert_int_eq(btapi_record_set(c, "addr", 4, "x", 1, r_record, &r),
	    BT_OK);
	WAIT(r);
	ck_assert_int_eq(r.err, BT_EPERM);
	memset(big, 'a', sizeof(big));
	ck_assert_int_eq(btapi_record_set(c, "k", 1, big, sizeof(big),
	    r_record, &r), BT_ERANGE);
	ck_assert_int_eq(btapi_record_set(c, big, 65, "x", 1, r_record, &r),
	    BT_EINVAL);
	ck_assert_int_eq(btapi_record_set(c, "", 0, "x", 1, r_record, &r),
	    BT_EINVAL);

	/* bags in the store: no network */
	memset(key.b, 1, 32);
	memset(v1, 0xa1, 32);
	memset(v2, 0xb2, 32);
	RESET(r);
	ck_assert_int_eq(btapi_bag_add(c, &key, v1, r_done, &r), BT_OK);
	WAIT(r);
	ck_assert_int_eq(r.err, BT_OK);
	RESET(r);
	ck_assert_int_eq(btapi_bag_add(c, &key, v2, r_done, &r), BT_OK);
	WAIT(r);
	RESET(r);
	ck_assert_int_eq(btapi_bag_query(c, BTAPI_BAG_RECENT, &key, 10, r_bag,
	    &r), BT_OK);
	WAIT(r);
	ck_assert_int_eq(r.err, BT_OK);
	ck_assert_uint_eq(r.n, 2);
	ck_assert_mem_eq(r.buf, v2, 32);	/* newest first */
	RESET(r);
	ck_assert_int_eq(btapi_bag_query(c, BTAPI_BAG_SAMPLE, &key, 1, r_bag,
	    &r), BT_OK);
	WAIT(r);
	ck_assert_uint_eq(r.n, 1);
	ck_assert_int_eq(btapi_bag_query(c, 9, &key, 1, r_bag, &r), BT_EINVAL);
	ck_assert_int_eq(btapi_bag_query(c, BTAPI_BAG_POPULAR, &key, 0, r_bag,
	    &r), BT_ERANGE);

	/* no network: the network-only ops say so */
	RESET(r);
	ck_assert_int_eq(btapi_friend_invite(c, r_bytes, &r), BT_OK);
	WAIT(r);
	ck_assert_int_eq(r.err, BTAPI_EOFFLINE);
	RESET(r);
	ck_assert_int_eq(btapi_pubsub_join(c, &key, nop_msg, NULL, r_done,
	    &r), BT_OK);
	WAIT(r);
	ck_assert_int_eq(r.err, BTAPI_EOFFLINE);
	RESET(r);
	ck_assert_int_eq(btapi_peer_list(c, r_peers, &r), BT_OK);
	WAIT(r);
	ck_assert_int_eq(r.err, BT_OK);
	ck_assert_uint_eq(r.n, 0);
	ck_assert_int_eq(r.online, 0);
	btapi_close(c);
}
END_TEST

/* ---- programs and capabilities --------------------------------------------- */

static void
on_closed(void *arg, int err)
{
	struct res *r = arg;

	r->err = err;
	r->done++;
}

START_TEST(programs)
{
	static const char *const caps[] = { "feed:read", "record:pub", NULL };
	struct btapi *owner = conn(0, NULL, 0, BT_OK), *p, *q;
	struct btcore_key *other;
	struct btcore_signer os;
	uint8_t *m, *m2, *mo;
	size_t len, len2, lo;
	struct res r, cl;

	make_manifest(&N[0].signer, "app", caps, &m, &len);
	make_manifest(&N[0].signer, "app", NULL, &m2, &len2);
	ck_assert_int_eq(btcore_key_generate(&other), BT_OK);
	btcore_key_signer(other, &os);
	make_manifest(&os, "evil", NULL, &mo, &lo);

	/* not installed: an owner-signed manifest says hello */
	p = conn(0, m, len, BT_OK);
	/* its capabilities: feed:read and record:pub only */
	RESET(r);
	ck_assert_int_eq(btapi_feed_create(p, r_feed, &r), BT_OK);
	WAIT(r);
	ck_assert_int_eq(r.err, BTAPI_EDENIED);
	RESET(r);
	ck_assert_int_eq(btapi_feed_head(p, NULL, r_feed, &r), BT_OK);
	WAIT(r);
	ck_assert_int_eq(r.err, BT_ENOTFOUND);	/* allowed, no feed */
	RESET(r);
	ck_assert_int_eq(btapi_record_set(p, "pub", 3, "x", 1, r_record, &r),
	    BT_OK);
	WAIT(r);
	ck_assert_int_eq(r.err, BT_OK);
	RESET(r);
	ck_assert_int_eq(btapi_record_set(p, "priv", 4, "x", 1, r_record, &r),
	    BT_OK);
	WAIT(r);
	ck_assert_int_eq(r.err, BTAPI_EDENIED);
	RESET(r);
	ck_assert_int_eq(btapi_record_get(p, &os.pub, "pub", 3, r_record, &r),
	    BT_OK);
	WAIT(r);
	ck_assert_int_eq(r.err, BTAPI_EDENIED);	/* record:read missing */
	RESET(r);
	ck_assert_int_eq(btapi_program_list(p, r_programs, &r), BT_OK);
	WAIT(r);
	ck_assert_int_eq(r.err, BTAPI_EDENIED);
	RESET(r);
	ck_assert_int_eq(btapi_peer_list(p, r_peers, &r), BT_OK);
	WAIT(r);
	ck_assert_int_eq(r.err, BT_OK);

	/* install: a foreign signer is refused, a bad encoding too */
	RESET(r);
	ck_assert_int_eq(btapi_program_install(owner, mo, lo, r_done, &r),
	    BT_OK);
	WAIT(r);
	ck_assert_int_eq(r.err, BTAPI_EDENIED);
	m[len / 2] ^= 1;
	RESET(r);
	ck_assert_int_eq(btapi_program_install(owner, m, len, r_done, &r),
	    BT_OK);
	WAIT(r);
	ck_assert_int_ne(r.err, BT_OK);
	m[len / 2] ^= 1;
	/* installing disconnects the program running with it: it says
	   hello again */
	RESET(cl);
	btapi_set_closed_cb(p, on_closed, &cl);
	RESET(r);
	ck_assert_int_eq(btapi_program_install(owner, m, len, r_done, &r),
	    BT_OK);
	WAIT(r);
	ck_assert_int_eq(r.err, BT_OK);
	run_until(&cl.done, 1, 3000);
	btapi_close(p);
	RESET(r);
	ck_assert_int_eq(btapi_program_list(owner, r_programs, &r), BT_OK);
	WAIT(r);
	ck_assert_uint_eq(r.n, 1);
	ck_assert_str_eq(r.names[0], "app");
	/* installed: only that exact manifest says hello */
	q = conn(0, m2, len2, BTAPI_EDENIED);
	btapi_close(q);
	p = conn(0, m, len, BT_OK);
	/* removal disconnects it and refuses it afterwards */
	RESET(cl);
	btapi_set_closed_cb(p, on_closed, &cl);
	RESET(r);
	ck_assert_int_eq(btapi_program_remove(owner, "app", r_done, &r), BT_OK);
	WAIT(r);
	ck_assert_int_eq(r.err, BT_OK);
	run_until(&cl.done, 1, 3000);
	btapi_close(p);
	p = conn(0, m, len, BTAPI_EDENIED);
	btapi_close(p);
	p = conn(0, m2, len2, BTAPI_EDENIED);
	btapi_close(p);
	RESET(r);
	ck_assert_int_eq(btapi_program_remove(owner, "app", r_done, &r), BT_OK);
	WAIT(r);
	ck_assert_int_eq(r.err, BT_ENOTFOUND);
	RESET(r);
	ck_assert_int_eq(btapi_program_list(owner, r_programs, &r), BT_OK);
	WAIT(r);
	ck_assert_uint_eq(r.n, 0);
	/* installed again after a restart of the server: kept in the store */
	RESET(r);
	ck_assert_int_eq(btapi_program_install(owner, m, len, r_done, &r),
	    BT_OK);
	WAIT(r);
	btapi_close(owner);
	btapi_server_close(N[0].srv);
	server_up(0);
	owner = conn(0, NULL, 0, BT_OK);
	RESET(r);
	ck_assert_int_eq(btapi_program_list(owner, r_programs, &r), BT_OK);
	WAIT(r);
	ck_assert_uint_eq(r.n, 1);
	p = conn(0, m, len, BT_OK);
	btapi_close(p);
	btapi_close(owner);
	btcore_manifest_bytes_free(m);
	btcore_manifest_bytes_free(m2);
	btcore_manifest_bytes_free(mo);
	btcore_key_free(other);
}
END_TEST

/* ---- the decoder ------------------------------------------------------------- */

static void
req_doc(bson_t *b, const char *op)
{
	bson_init(b);
	BSON_APPEND_UTF8(b, "op", op);
	BSON_APPEND_INT64(b, "id", 7);
}

START_TEST(decoder)
{
	struct btapi_xreq_ r;
	bson_t b, arr;
	uint8_t k[32] = { 0 }, *copy;
	size_t i, len;
	unsigned bit;
	int rc;

	req_doc(&b, "feed-append");
	BSON_APPEND_ARRAY_BEGIN(&b, "items", &arr);
	bson_append_binary(&arr, "0", -1, BSON_SUBTYPE_BINARY, k, 3);
	bson_append_binary(&arr, "1", -1, BSON_SUBTYPE_BINARY, k, 0);
	bson_append_array_end(&b, &arr);
	ck_assert_int_eq(btapi_xreq_decode_(&r, bson_get_data(&b), b.len),
	    BT_OK);
	ck_assert_int_eq(r.op, BTAPI_XOP_FEED_APPEND_);
	ck_assert_int_eq(r.id, 7);
	ck_assert_uint_eq(r.nitems, 2);
	/* every truncation fails, every bit flip is handled */
	len = b.len;
	ck_assert_ptr_nonnull(copy = malloc(len));
	for (i = 0; i < len; i++) {
		memcpy(copy, bson_get_data(&b), len);
		ck_assert_int_ne(btapi_xreq_decode_(&r, copy, i), BT_OK);
	}
	for (bit = 0; bit < len * 8; bit++) {
		memcpy(copy, bson_get_data(&b), len);
		copy[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		rc = btapi_xreq_decode_(&r, copy, len);
		if (rc == BT_OK)
			ck_assert_uint_le(r.nitems, BTAPI_XITEMS_MAX_);
	}
	free(copy);
	bson_destroy(&b);

	/* not a data op: not ours */
	req_doc(&b, "stat");
	BSON_APPEND_UTF8(&b, "path", "/x");
	ck_assert_int_eq(btapi_xreq_decode_(&r, bson_get_data(&b), b.len),
	    BTAPI_EBADOP);
	bson_destroy(&b);
	/* a field the op does not take */
	req_doc(&b, "feed-create");
	BSON_APPEND_INT64(&b, "index", 1);
	ck_assert_int_eq(btapi_xreq_decode_(&r, bson_get_data(&b), b.len),
	    BT_EFORMAT);
	ck_assert_int_eq(r.id, 7);
	bson_destroy(&b);
	/* a repeated field */
	req_doc(&b, "feed-get");
	BSON_APPEND_INT64(&b, "index", 1);
	BSON_APPEND_INT64(&b, "index", 2);
	ck_assert_int_eq(btapi_xreq_decode_(&r, bson_get_data(&b), b.len),
	    BT_EFORMAT);
	bson_destroy(&b);
	/* ranges */
	req_doc(&b, "feed-get");
	BSON_APPEND_INT64(&b, "index", -1);
	ck_assert_int_eq(btapi_xreq_decode_(&r, bson_get_data(&b), b.len),
	    BT_ERANGE);
	bson_destroy(&b);
	req_doc(&b, "bag-query");
	bson_append_binary(&b, "key", -1, BSON_SUBTYPE_BINARY, k, 32);
	BSON_APPEND_UTF8(&b, "kind", "loud");
	ck_assert_int_eq(btapi_xreq_decode_(&r, bson_get_data(&b), b.len),
	    BT_EFORMAT);
	bson_destroy(&b);
	req_doc(&b, "bag-query");
	bson_append_binary(&b, "key", -1, BSON_SUBTYPE_BINARY, k, 32);
	BSON_APPEND_UTF8(&b, "kind", "recent");
	BSON_APPEND_INT32(&b, "limit", 257);
	ck_assert_int_eq(btapi_xreq_decode_(&r, bson_get_data(&b), b.len),
	    BT_ERANGE);
	bson_destroy(&b);
	req_doc(&b, "pubsub-join");
	bson_append_binary(&b, "channel", -1, BSON_SUBTYPE_BINARY, k, 31);
	ck_assert_int_eq(btapi_xreq_decode_(&r, bson_get_data(&b), b.len),
	    BT_EFORMAT);
	bson_destroy(&b);
	req_doc(&b, "friend-allow");
	bson_append_binary(&b, "node", -1, BSON_SUBTYPE_BINARY, k, 32);
	BSON_APPEND_ARRAY_BEGIN(&b, "scopes", &arr);
	BSON_APPEND_UTF8(&arr, "0", "bad scope");
	bson_append_array_end(&b, &arr);
	ck_assert_int_eq(btapi_xreq_decode_(&r, bson_get_data(&b), b.len),
	    BT_EFORMAT);
	bson_destroy(&b);
	req_doc(&b, "feed-append");
	BSON_APPEND_ARRAY_BEGIN(&b, "items", &arr);
	bson_append_array_end(&b, &arr);
	ck_assert_int_eq(btapi_xreq_decode_(&r, bson_get_data(&b), b.len),
	    BT_ERANGE);	/* empty batch */
	bson_destroy(&b);
	req_doc(&b, "record-set");
	BSON_APPEND_UTF8(&b, "key", "k");
	ck_assert_int_eq(btapi_xreq_decode_(&r, bson_get_data(&b), b.len),
	    BT_EFORMAT);	/* value missing */
	bson_destroy(&b);
	ck_assert_str_eq(btapi_xop_name_(BTAPI_XOP_PEER_LIST_), "peer-list");
	ck_assert_ptr_null(btapi_xop_name_(BTAPI_XOP_COUNT_));
}
END_TEST

/* ---- two nodes ---------------------------------------------------------------- */

struct pmsg {
	int n;
	struct bt_id from;
	char data[32];
};

static void
on_msg(void *arg, const struct bt_id *ch, const struct bt_id *from,
    const void *d, size_t len)
{
	struct pmsg *m = arg;

	(void)ch;
	m->from = *from;
	snprintf(m->data, sizeof(m->data), "%.*s", (int)len, (const char *)d);
	m->n++;
}

static int
connected(int a, int b)
{
	struct bt_id ids[16];
	size_t n = btnet_peers(N[a].net, ids, 16), i;

	for (i = 0; i < n && i < 16; i++)
		if (memcmp(ids[i].b, N[b].id.b, 32) == 0)
			return 1;
	return 0;
}

START_TEST(two_nodes)
{
	struct btapi *a = conn(0, NULL, 0, BT_OK), *b = conn(1, NULL, 0, BT_OK);
	struct btapi *a2 = conn(0, NULL, 0, BT_OK);
	struct res r;
	uint8_t fa[1024], fb[1024];
	size_t la, lb;
	struct bt_id ch;
	struct pmsg ma, ma2, mb;
	int i, flag = 0;
	static const char *const scopes[] = { "photos" };

	/* friends both ways */
	RESET(r);
	ck_assert_int_eq(btapi_friend_invite(a, r_bytes, &r), BT_OK);
	WAIT(r);
	ck_assert_int_eq(r.err, BT_OK);
	memcpy(fa, r.buf, la = r.len);
	RESET(r);
	ck_assert_int_eq(btapi_friend_invite(b, r_bytes, &r), BT_OK);
	WAIT(r);
	memcpy(fb, r.buf, lb = r.len);
	RESET(r);
	ck_assert_int_eq(btapi_friend_accept(b, fa, la, r_node, &r), BT_OK);
	WAIT(r);
	ck_assert_int_eq(r.err, BT_OK);
	ck_assert_mem_eq(r.node.b, N[0].id.b, 32);
	fb[lb - 1] ^= 1;	/* a forged signature */
	RESET(r);
	ck_assert_int_eq(btapi_friend_accept(a, fb, lb, r_node, &r), BT_OK);
	WAIT(r);
	ck_assert_int_eq(r.err, BT_EVERIFY);
	fb[lb - 1] ^= 1;
	RESET(r);
	ck_assert_int_eq(btapi_friend_accept(a, fb, lb, r_node, &r), BT_OK);
	WAIT(r);
	ck_assert_int_eq(r.err, BT_OK);
	RESET(r);
	ck_assert_int_eq(btapi_friend_allow(a, &N[1].id, scopes, 1, r_done,
	    &r), BT_OK);
	WAIT(r);
	ck_assert_int_eq(r.err, BT_OK);
	/* the friend is contacted: a connection comes up */
	for (i = 0; i < 50 && !connected(0, 1); i++) {
		flag = 0;
		struct event *t = evtimer_new(base, expire, &flag);
		struct timeval tv = { 0, 100000 };

		evtimer_add(t, &tv);
		while (!flag)
			event_base_loop(base, EVLOOP_ONCE);
		event_free(t);
	}
	ck_assert(connected(0, 1));
	RESET(r);
	ck_assert_int_eq(btapi_peer_list(a, r_peers, &r), BT_OK);
	WAIT(r);
	ck_assert_uint_ge(r.n, 1);
	ck_assert_int_eq(r.online, 1);
	ck_assert_ptr_nonnull(strstr(r.names[0], "127.0.4."));

	/* a restart of the server and the network: friends come back */
	btapi_close(a);
	btapi_close(a2);
	btapi_server_close(N[0].srv);
	btnet_close(N[0].net);
	net_up(0);
	ck_assert_uint_eq(btnet_friend_list(N[0].net, NULL, 0), 0);
	server_up(0);
	ck_assert_uint_eq(btnet_friend_list(N[0].net, NULL, 0), 1);
	a = conn(0, NULL, 0, BT_OK);
	a2 = conn(0, NULL, 0, BT_OK);
	RESET(r);
	ck_assert_int_eq(btapi_friend_list(a, r_friends, &r), BT_OK);
	WAIT(r);
	ck_assert_int_eq(r.err, BT_OK);
	ck_assert_uint_eq(r.n, 1);
	ck_assert_mem_eq(r.node.b, N[1].id.b, 32);
	for (i = 0; i < 50 && !connected(0, 1); i++) {
		flag = 0;
		struct event *t = evtimer_new(base, expire, &flag);
		struct timeval tv = { 0, 100000 };

		evtimer_add(t, &tv);
		while (!flag)
			event_base_loop(base, EVLOOP_ONCE);
		event_free(t);
	}
	ck_assert(connected(0, 1));

	/* pubsub: b's programs hear a, a's second program hears a */
	memset(ch.b, 0x5c, 32);
	memset(&ma, 0, sizeof(ma));
	memset(&ma2, 0, sizeof(ma2));
	memset(&mb, 0, sizeof(mb));
	RESET(r);
	ck_assert_int_eq(btapi_pubsub_publish(a, &ch, "x", 1, r_done, &r),
	    BT_OK);
	WAIT(r);
	ck_assert_int_eq(r.err, BT_ENOTFOUND);	/* not joined */
	RESET(r);
	ck_assert_int_eq(btapi_pubsub_join(a, &ch, on_msg, &ma, r_done, &r),
	    BT_OK);
	ck_assert_int_eq(btapi_pubsub_join(a2, &ch, on_msg, &ma2, r_done, &r),
	    BT_OK);
	ck_assert_int_eq(btapi_pubsub_join(b, &ch, on_msg, &mb, r_done, &r),
	    BT_OK);
	run_until(&r.done, 3, 5000);
	ck_assert_int_eq(r.err, BT_OK);
	/* the mesh forms through grafts; publish until b hears */
	for (i = 0; i < 40 && mb.n == 0; i++) {
		RESET(r);
		ck_assert_int_eq(btapi_pubsub_publish(a, &ch, "hi", 2, r_done,
		    &r), BT_OK);
		WAIT(r);
		ck_assert_int_eq(r.err, BT_OK);
		flag = 0;
		{
			struct event *t = evtimer_new(base, expire, &flag);
			struct timeval tv = { 0, 200000 };

			evtimer_add(t, &tv);
			while (!flag && mb.n == 0)
				event_base_loop(base, EVLOOP_ONCE);
			event_free(t);
		}
	}
	ck_assert_int_gt(mb.n, 0);
	ck_assert_str_eq(mb.data, "hi");
	ck_assert_mem_eq(mb.from.b, N[0].id.b, 32);
	ck_assert_int_gt(ma2.n, 0);	/* the other program of a */
	ck_assert_int_eq(ma.n, 0);	/* not the publisher itself */
	RESET(r);
	ck_assert_int_eq(btapi_pubsub_leave(a2, &ch, r_done, &r), BT_OK);
	WAIT(r);
	ck_assert_int_eq(r.err, BT_OK);

	/* a record set on a is found by b through the DHT */
	RESET(r);
	ck_assert_int_eq(btapi_record_set(a, "greeting", 8, "hello", 5,
	    r_record, &r), BT_OK);
	WAIT(r);
	ck_assert_int_eq(r.err, BT_OK);
	RESET(r);
	ck_assert_int_eq(btapi_record_get(b, &N[0].signer.pub, "greeting", 8,
	    r_record, &r), BT_OK);
	WAIT(r);
	ck_assert_int_eq(r.err, BT_OK);
	ck_assert_uint_eq(r.len, 5);
	ck_assert_mem_eq(r.buf, "hello", 5);

	/* remove the friend: gone after a restart too */
	RESET(r);
	ck_assert_int_eq(btapi_friend_remove(a, &N[1].id, r_done, &r), BT_OK);
	WAIT(r);
	ck_assert_int_eq(r.err, BT_OK);
	btapi_close(a);
	btapi_close(a2);
	btapi_server_close(N[0].srv);
	btnet_close(N[0].net);
	net_up(0);
	server_up(0);
	ck_assert_uint_eq(btnet_friend_list(N[0].net, NULL, 0), 0);
	btapi_close(b);
}
END_TEST

/* ---- the node's bookkeeping stays private -------------------------------- */

/* Names listed by btapi_list(), joined with '/' around each. */
struct lsres {
	int done, err;
	char names[1024];
	size_t n;
};

static void
r_list(void *arg, int err, const struct btapi_dirent *e, size_t n, int more)
{
	struct lsres *r = arg;
	size_t i, at;

	r->err = err;
	for (i = 0; i < n; i++) {
		at = strlen(r->names);
		snprintf(r->names + at, sizeof(r->names) - at, "/%s/",
		    e[i].name);
		r->n++;
	}
	if (!more)
		r->done++;
}

/* Things a namespace path must never reveal. */
struct walk {
	const char *bad[8];
	size_t nbad, files, dirs;
	char stack[64][512];
	size_t depth, top_len;
	const char *dir;
};

static int
walk_one(void *arg, const struct btcore_dir_entry *e)
{
	struct walk *w = arg;
	char path[512];
	size_t i;

	snprintf(path, sizeof(path), "%s/%.*s", w->dir, (int)e->name_len,
	    e->name);
	/* below "/<namespace hex>" */
	for (i = 0; i < w->nbad; i++)
		ck_assert_msg(strstr(path + w->top_len, w->bad[i]) == NULL,
		    "namespace path %s reveals %s", path, w->bad[i]);
	if (e->kind == BTCORE_DIR_DIR) {
		ck_assert_uint_lt(w->depth, 64);
		snprintf(w->stack[w->depth++], sizeof(w->stack[0]), "%s",
		    path);
		w->dirs++;
	} else {
		w->files++;
	}
	return 0;
}

/* Walk every path of namespace @p ns in store @p st (absent: nothing). */
static void
walk_ns(struct btstore *st, const struct bt_pubkey *ns, struct walk *w)
{
	char top[1 + BT_ID_HEX_LEN + 1], dir[512];
	struct bt_id kid;
	int rc;

	top[0] = '/';
	memcpy(kid.b, ns->b, 32);
	btcore_id_to_hex(&kid, top + 1);
	w->top_len = strlen(top);
	w->depth = 0;
	snprintf(w->stack[w->depth++], sizeof(w->stack[0]), "%s", top);
	while (w->depth > 0) {
		snprintf(dir, sizeof(dir), "%s", w->stack[--w->depth]);
		w->dir = dir;
		rc = btstore_ns_list(st, dir, strlen(dir), walk_one, w, NULL);
		if (rc == BT_ENOTFOUND && strcmp(dir, top) == 0)
			return;	/* the store does not hold this namespace */
		ck_assert_int_eq(rc, BT_OK);
	}
}

START_TEST(private_bookkeeping)
{
	struct btapi *a = conn(0, NULL, 0, BT_OK), *b = conn(1, NULL, 0, BT_OK);
	static const char *const scopes[] = { "photos" };
	char hex0[BT_ID_HEX_LEN + 1], hex1[BT_ID_HEX_LEN + 1], key[128];
	uint8_t fa[1024], fb[1024], *m, *m2, got[2048];
	size_t la, lb, len, lm, lm2;
	struct lsres ls;
	struct walk w;
	struct res r;
	int i, j;

	btcore_id_to_hex(&N[0].id, hex0);
	btcore_id_to_hex(&N[1].id, hex1);
	/* an ordinary file, so that the walk below has something to see */
	snprintf(key, sizeof(key), "%s/docs/a.txt",
	    btapi_server_home_(N[0].srv));
	ck_assert_int_eq(btstore_ns_write(N[0].st, &N[0].signer, key,
	    strlen(key), "hi", 2, BTCORE_TREE_SEQUENTIAL, NULL,
	    BTSTORE_NS_PARENTS, NULL), BT_OK);
	/* friends both ways, an allow-list, programs installed and removed */
	RESET(r);
	ck_assert_int_eq(btapi_friend_invite(a, r_bytes, &r), BT_OK);
	WAIT(r);
	memcpy(fa, r.buf, la = r.len);
	RESET(r);
	ck_assert_int_eq(btapi_friend_invite(b, r_bytes, &r), BT_OK);
	WAIT(r);
	memcpy(fb, r.buf, lb = r.len);
	RESET(r);
	ck_assert_int_eq(btapi_friend_accept(b, fa, la, r_node, &r), BT_OK);
	WAIT(r);
	ck_assert_int_eq(r.err, BT_OK);
	RESET(r);
	ck_assert_int_eq(btapi_friend_accept(a, fb, lb, r_node, &r), BT_OK);
	WAIT(r);
	ck_assert_int_eq(r.err, BT_OK);
	RESET(r);
	ck_assert_int_eq(btapi_friend_allow(a, &N[1].id, scopes, 1, r_done,
	    &r), BT_OK);
	WAIT(r);
	ck_assert_int_eq(r.err, BT_OK);
	make_manifest(&N[0].signer, "secret-app", NULL, &m, &lm);
	make_manifest(&N[0].signer, "gone-app", NULL, &m2, &lm2);
	RESET(r);
	ck_assert_int_eq(btapi_program_install(a, m, lm, r_done, &r), BT_OK);
	WAIT(r);
	ck_assert_int_eq(r.err, BT_OK);
	RESET(r);
	ck_assert_int_eq(btapi_program_install(a, m2, lm2, r_done, &r), BT_OK);
	WAIT(r);
	RESET(r);
	ck_assert_int_eq(btapi_program_remove(a, "gone-app", r_done, &r),
	    BT_OK);
	WAIT(r);
	ck_assert_int_eq(r.err, BT_OK);

	/* the listing of the home namespace: the file, nothing else */
	memset(&ls, 0, sizeof(ls));
	ck_assert_int_eq(btapi_list(a, btapi_server_home_(N[0].srv), NULL, 0,
	    r_list, &ls), BT_OK);
	run_until(&ls.done, 1, 5000);
	ck_assert_int_eq(ls.err, BT_OK);
	ck_assert_str_eq(ls.names, "/docs/");
	ck_assert_ptr_null(strstr(ls.names, ".node"));

	/* no path of any namespace either store holds says anything of
	   friends or programs */
	memset(&w, 0, sizeof(w));
	w.bad[w.nbad++] = ".node";
	w.bad[w.nbad++] = "friend";
	w.bad[w.nbad++] = "program";
	w.bad[w.nbad++] = "removed";
	w.bad[w.nbad++] = "secret-app";
	w.bad[w.nbad++] = "gone-app";
	w.bad[w.nbad++] = hex0;
	w.bad[w.nbad++] = hex1;
	for (i = 0; i < NN; i++)
		for (j = 0; j < NN; j++)
			walk_ns(N[i].st, &N[j].signer.pub, &w);
	ck_assert_uint_eq(w.files, 1);	/* docs/a.txt */
	ck_assert_uint_eq(w.dirs, 1);	/* docs */

	/* it is all in the local areas instead */
	snprintf(key, sizeof(key), "friend/%s", hex1);
	ck_assert_int_eq(btstore_local_get(N[0].st, key, strlen(key), got,
	    sizeof(got), &len), BT_OK);
	ck_assert_uint_eq(len, lb);
	ck_assert_mem_eq(got, fb, lb);
	snprintf(key, sizeof(key), "friend/%s", hex0);
	ck_assert_int_eq(btstore_local_get(N[1].st, key, strlen(key), got,
	    sizeof(got), &len), BT_OK);
	snprintf(key, sizeof(key), "friend-allow/%s", hex1);
	ck_assert_int_eq(btstore_local_get(N[0].st, key, strlen(key), got,
	    sizeof(got), &len), BT_OK);
	ck_assert_uint_ge(len, 6);
	for (i = 0; i + 6 <= (int)len; i++)
		if (memcmp(got + i, "photos", 6) == 0)
			break;
	ck_assert_int_le(i + 6, (int)len);	/* the scope is in it */
	ck_assert_int_eq(btstore_local_get(N[0].st, "program/secret-app", 18,
	    got, sizeof(got), &len), BT_OK);
	ck_assert_uint_eq(len, lm);
	ck_assert_mem_eq(got, m, lm);
	ck_assert_int_eq(btstore_local_get(N[0].st, "program/gone-app", 16,
	    got, sizeof(got), &len), BT_ENOTFOUND);
	ck_assert_int_eq(btstore_local_get(N[0].st, "program-removed/gone-app",
	    24, got, sizeof(got), &len), BT_OK);
	ck_assert_uint_eq(len, 0);

	/* removing the friend forgets its file and its allow-list */
	RESET(r);
	ck_assert_int_eq(btapi_friend_remove(a, &N[1].id, r_done, &r), BT_OK);
	WAIT(r);
	ck_assert_int_eq(r.err, BT_OK);
	snprintf(key, sizeof(key), "friend/%s", hex1);
	ck_assert_int_eq(btstore_local_get(N[0].st, key, strlen(key), NULL, 0,
	    NULL), BT_ENOTFOUND);
	snprintf(key, sizeof(key), "friend-allow/%s", hex1);
	ck_assert_int_eq(btstore_local_get(N[0].st, key, strlen(key), NULL, 0,
	    NULL), BT_ENOTFOUND);
	btcore_manifest_bytes_free(m);
	btcore_manifest_bytes_free(m2);
	btapi_close(a);
	btapi_close(b);
}
END_TEST

Suite *
suite_data(void)
{
	Suite *s = suite_create("data");
	TCase *tc = tcase_create("one node");
	TCase *t2 = tcase_create("two nodes");

	tcase_set_timeout(tc, 30);
	tcase_add_checked_fixture(tc, setup1, teardown1);
	tcase_add_test(tc, feeds);
	tcase_add_test(tc, records_bags);
	tcase_add_test(tc, programs);
	tcase_add_test(tc, decoder);
	suite_add_tcase(s, tc);
	tcase_set_timeout(t2, 60);
	tcase_add_checked_fixture(t2, setup2, teardown2);
	tcase_add_test(t2, two_nodes);
	tcase_add_test(t2, private_bookkeeping);
	suite_add_tcase(s, t2);
	return s;
}
