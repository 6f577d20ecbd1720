/*
 * test_replicate.c - two in-process nodes (store, DHT storage, network,
 * replicator and API server each, on their own 127.0.0.x address, one
 * event loop): files written on node A are read through node B's API,
 * which fetches A's namespace from the DHT first, with progress events;
 * a namespace nobody publishes fails clearly, a fetch that outlives its
 * time limit fails with BT_ETIMEDOUT, and the "node" scope answers
 * locally and over the network.  Blocks come straight from the owner
 * ("node" scope, ops root and blocks); an owner that sends wrong blocks
 * or does not answer leaves the fetch to the DHT.
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
#include <bt/apidht.h>
#include <bt/apirepl.h>
#include <bt/apiserver.h>
#include <bt/dhtstore.h>
#include <bt/error.h>
#include <bt/id.h>
#include <bt/key.h>
#include <bt/net.h>
#include <bt/ns.h>
#include <bt/store.h>
#include <bt/tree.h>

Suite *suite_replicate(void);

struct node {
	char dir[64], sock[128];
	struct btstore *st;
	struct btcore_key *key;
	struct btcore_signer sg;
	struct btapi_dhtstore *ds;
	struct btnet_dht_storage io;
	struct btnet *net;
	struct btapi_replicator *repl;
	struct btapi_server *srv;
	struct bt_id id;
	char addr[64];
	char home[80];			/* "/<hex>" */
};

static struct node N[2];
static struct event_base *base;
static struct btapi *cl;		/* a program of node B */
static int progress_events;
static uint64_t progress_blocks;

/* ---- the loop ------------------------------------------------------------ */

static void
expire(evutil_socket_t fd, short w, void *arg)
{
	(void)fd;
	(void)w;
	*(int *)arg = 1;
}

/* Run the loop until *flag, at most @p ms; fail otherwise. */
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

/* Run the loop for @p ms whatever happens. */
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

/* ---- nodes ----------------------------------------------------------------- */

static void
node_open(int i, uint32_t fetch_timeout_ms)
{
	struct node *n = &N[i];
	struct btstore_options *o;
	struct btnet_config nc;
	struct btapi_replicator_config rc;
	struct btapi_server_config sc;
	char listen[32], p[96], hex[BT_ID_HEX_LEN + 1];
	uint8_t seed[32];

	snprintf(n->dir, sizeof(n->dir), "%s", "/tmp/btapi-repl-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(n->dir));
	snprintf(p, sizeof(p), "%s/store", n->dir);
	ck_assert_int_eq(mkdir(p, 0700), 0);
	ck_assert_int_eq(btstore_options_new(&o), BT_OK);
	ck_assert_int_eq(btstore_options_set(o, BTSTORE_OPT_NOSYNC, 1), BT_OK);
	ck_assert_int_eq(btstore_open(&n->st, p, o), BT_OK);
	btstore_options_free(o);
	memset(seed, 0x51 + i, sizeof(seed));
	ck_assert_int_eq(btcore_key_from_seed(&n->key, seed), BT_OK);
	btcore_key_signer(n->key, &n->sg);
	memcpy(n->id.b, n->sg.pub.b, BT_ID_LEN);
	snprintf(n->home, sizeof(n->home), "/%s",
	    btcore_id_to_hex(&n->id, hex));
	/* node B holds nothing for the network (a budget of one byte): what
	   it reads of A crosses the network */
	ck_assert_int_eq(btapi_dhtstore_new(&n->ds, n->st, i == 1 ? 1 : 0, 0),
	    BT_OK);
	btapi_dhtstore_storage(n->ds, &n->io);
	btnet_config_init(&nc);
	nc.prefix_per_bucket = BT_K;
	nc.prefix_per_table = 1000;
	nc.replication = 2;
	snprintf(listen, sizeof(listen), "127.0.0.%d:0", 41 + i);
	nc.listen[0] = listen;
	nc.nlisten = 1;
	ck_assert_int_eq(btnet_open(&n->net, base, &n->sg, &n->io, &nc),
	    BT_OK);
	btnet_local_id(n->net, &n->id);
	ck_assert_int_eq(btnet_local_addr(n->net, 0, n->addr, sizeof(n->addr)),
	    BT_OK);
	btapi_replicator_config_init(&rc);
	rc.store = n->st;
	rc.net = n->net;
	rc.signer = &n->sg;
	rc.dhtstore = n->ds;
	rc.fetch_timeout_ms = fetch_timeout_ms;
	rc.progress_ms = 1;
	rc.fresh_ms = 1000;
	rc.version = "test";
	ck_assert_int_eq(btapi_replicator_open(&n->repl, base, &rc), BT_OK);
	snprintf(p, sizeof(p), "%s/api/sock", n->dir);
	memcpy(n->sock, p, strlen(p) + 1);
	btapi_server_config_init(&sc);
	sc.socket_path = n->sock;
	sc.store = n->st;
	sc.net = n->net;
	sc.signer = &n->sg;
	sc.replicator = n->repl;
	ck_assert_int_eq(btapi_server_open(&n->srv, base, &sc), BT_OK);
}

static void
node_close(int i)
{
	struct node *n = &N[i];
	char p[160];

	btapi_server_close(n->srv);
	btapi_replicator_stop(n->repl);
	btnet_close(n->net);
	btapi_replicator_free(n->repl);
	btapi_dhtstore_free(n->ds);
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

static void
on_progress(void *arg, const struct btapi_progress *p)
{
	(void)arg;
	ck_assert_str_eq(p->what, "fetch");
	ck_assert_str_eq(p->ns, N[0].home);
	progress_events++;
	if (p->blocks > progress_blocks)
		progress_blocks = p->blocks;
}

/* Both nodes up and online, a program connected to node B. */
static void
up(uint32_t fetch_timeout_ms)
{
	const char *boot[1];
	int online = 0, hello = 0, t;

	signal(SIGPIPE, SIG_IGN);
	ck_assert_ptr_nonnull(base = event_base_new());
	node_open(0, fetch_timeout_ms);
	node_open(1, fetch_timeout_ms);
	ck_assert_int_eq(btnet_online(N[0].net, NULL, 0), BT_OK);
	boot[0] = N[0].addr;
	ck_assert_int_eq(btnet_online(N[1].net, boot, 1), BT_OK);
	for (t = 0; t < 100 && !online; t++) {
		run_for(50);
		online = btnet_is_online(N[0].net) && btnet_is_online(N[1].net);
	}
	ck_assert_msg(online, "the nodes did not come online");
	ck_assert_int_eq(btapi_open(&cl, base, N[1].sock, NULL, 0, hello_cb,
	    &hello), BT_OK);
	run_until(&hello, 3000);
	btapi_set_progress_cb(cl, on_progress, NULL);
	progress_events = 0;
	progress_blocks = 0;
}

static void
down(void)
{
	btapi_close(cl);
	cl = NULL;
	node_close(1);
	node_close(0);
	event_base_free(base);
	base = NULL;
}

/* The integer @p key of node @p i's "node" status. */
static int64_t
status_i64(int i, const char *key)
{
	uint8_t *doc = NULL;
	size_t len = 0;
	bson_iter_t it;
	bson_t args, b;
	int64_t v = -1;

	bson_init(&args);
	BSON_APPEND_UTF8(&args, "op", "status");
	ck_assert_int_eq(btapi_replicator_answer(N[i].repl, &N[i].id,
	    bson_get_data(&args), args.len, &doc, &len), BT_OK);
	bson_destroy(&args);
	ck_assert(bson_init_static(&b, doc, len));
	ck_assert(bson_iter_init_find(&it, &b, key));
	v = bson_iter_int64(&it);
	btapi_free(doc);
	return v;
}

/* The published sequence node @p i reports in its "node" status. */
static int64_t
published(int i)
{
	uint8_t *doc = NULL;
	size_t len = 0;
	bson_iter_t it;
	bson_t args, b;
	int64_t seq = -1;

	bson_init(&args);
	BSON_APPEND_UTF8(&args, "op", "status");
	ck_assert_int_eq(btapi_replicator_answer(N[i].repl, &N[i].id,
	    bson_get_data(&args), args.len, &doc, &len), BT_OK);
	bson_destroy(&args);
	ck_assert(bson_init_static(&b, doc, len));
	if (bson_iter_init_find(&it, &b, "published_seq"))
		seq = bson_iter_int64(&it);
	btapi_free(doc);
	return seq;
}

/* Write @p size bytes at @p path below A's home; wait until published. */
static void
write_on_a(const char *path, size_t size)
{
	char full[256];
	uint8_t *data;
	uint64_t seq = 0;
	size_t i;
	int t;

	ck_assert_ptr_nonnull(data = malloc(size > 0 ? size : 1));
	for (i = 0; i < size; i++)
		data[i] = (uint8_t)(i * 2654435761u >> 13);
	snprintf(full, sizeof(full), "%s/docs", N[0].home);
	ck_assert_int_eq(btstore_ns_mkdir(N[0].st, &N[0].sg, full,
	    strlen(full), BTSTORE_NS_PARENTS, NULL), BT_OK);
	snprintf(full, sizeof(full), "%s%s", N[0].home, path);
	ck_assert_int_eq(btstore_ns_write(N[0].st, &N[0].sg, full,
	    strlen(full), data, size, BTCORE_TREE_SEQUENTIAL, NULL, 0, &seq),
	    BT_OK);
	free(data);
	for (t = 0; t < 200 && published(0) != (int64_t)seq; t++)
		run_for(25);
	ck_assert_int_eq(published(0), (int64_t)seq);
}

/* ---- program calls on node B ------------------------------------------------ */

struct res {
	int done, err;
	struct btapi_stat st;
	struct btapi_stream *s;
	uint8_t *buf;
	size_t len, cap;
	size_t entries;
	uint8_t reply[4096];
	size_t rlen;
};

static void
stat_cb(void *arg, int err, const struct btapi_stat *st)
{
	struct res *r = arg;

	r->err = err;
	if (st != NULL)
		r->st = *st;
	r->done = 1;
}

static int
stat_b(const char *path, struct btapi_stat *st)
{
	struct res r;

	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(btapi_stat(cl, path, stat_cb, &r), BT_OK);
	run_until(&r.done, 15000);
	if (st != NULL)
		*st = r.st;
	return r.err;
}

static void
open_cb(void *arg, int err, struct btapi_stream *s)
{
	struct res *r = arg;

	r->err = err;
	r->s = s;
	r->done = 1;
}

static void
read_cb(void *arg, int err, const void *data, size_t len)
{
	struct res *r = arg;

	r->err = err;
	if (err == BT_OK && len > 0) {
		ck_assert_uint_le(r->len + len, r->cap);
		memcpy(r->buf + r->len, data, len);
		r->len += len;
	}
	r->done = len == 0 || err != BT_OK ? 2 : 1;
}

/* Read @p path whole through node B's API into a new buffer. */
static uint8_t *
read_b(const char *path, size_t *len)
{
	struct res r;

	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(btapi_stream_open(cl, path, BTAPI_READ, 0, open_cb,
	    &r), BT_OK);
	run_until(&r.done, 15000);
	ck_assert_int_eq(r.err, BT_OK);
	r.cap = (size_t)btapi_stream_size(r.s);
	ck_assert_ptr_nonnull(r.buf = malloc(r.cap + 1));
	do {
		r.done = 0;
		ck_assert_int_eq(btapi_stream_read(r.s, BTAPI_IO_MAX, read_cb,
		    &r), BT_OK);
		run_until(&r.done, 5000);
		ck_assert_int_eq(r.err, BT_OK);
	} while (r.done == 1);
	ck_assert_int_eq(btapi_stream_close(r.s, NULL, NULL), BT_OK);
	*len = r.len;
	return r.buf;
}

static void
list_cb(void *arg, int err, const struct btapi_dirent *e, size_t n, int more)
{
	struct res *r = arg;

	(void)e;
	(void)more;
	r->err = err;
	r->entries = n;
	r->done = 1;
}

static void
call_cb(void *arg, int err, int code, const char *text, const uint8_t *reply,
    size_t len)
{
	struct res *r = arg;

	(void)code;
	(void)text;
	r->err = err;
	if (err == BT_OK) {
		ck_assert_uint_le(len, sizeof(r->reply));
		memcpy(r->reply, reply, len);
		r->rlen = len;
	}
	r->done = 1;
}

/* {op} to the "node" scope of node @p to; the reply's string @p key. */
static int
node_call(const struct bt_id *to, const char *op, const char *key, char *out,
    size_t cap)
{
	struct res r;
	bson_iter_t it;
	bson_t args, b;

	memset(&r, 0, sizeof(r));
	bson_init(&args);
	BSON_APPEND_UTF8(&args, "op", op);
	ck_assert_int_eq(btapi_call(cl, to, "node", bson_get_data(&args),
	    args.len, 0, call_cb, &r), BT_OK);
	bson_destroy(&args);
	run_until(&r.done, 6000);
	if (r.err != BT_OK)
		return r.err;
	ck_assert(bson_init_static(&b, r.reply, r.rlen));
	ck_assert(bson_iter_init_find(&it, &b, key));
	ck_assert(BSON_ITER_HOLDS_UTF8(&it));
	snprintf(out, cap, "%s", bson_iter_utf8(&it, NULL));
	return BT_OK;
}

/* ---- tests ------------------------------------------------------------------- */

START_TEST(read_through_other_node)
{
	static const size_t big = 3u << 20;
	struct btapi_stat st;
	struct res r;
	char path[256], hex[BT_ID_HEX_LEN + 1];
	uint8_t *got;
	size_t len, i;

	up(30000);
	write_on_a("/docs/big", big);
	write_on_a("/docs/small", 11);
	/* node B holds nothing of A: the read waits for the fetch */
	snprintf(path, sizeof(path), "%s/docs/big", N[0].home);
	ck_assert_int_eq(btstore_ns_root(N[1].st, &N[0].sg.pub, NULL, 0, NULL,
	    NULL, NULL), BT_ENOTFOUND);
	got = read_b(path, &len);
	ck_assert_uint_eq(len, big);
	for (i = 0; i < len; i++)
		if (got[i] != (uint8_t)(i * 2654435761u >> 13))
			ck_abort_msg("byte %zu differs", i);
	free(got);
	ck_assert_int_gt(progress_events, 0);
	ck_assert_uint_gt(progress_blocks, 1);
	/* A answered: every block came straight from the owner */
	ck_assert_int_gt(status_i64(1, "fetched_blocks"), 12);
	ck_assert_int_eq(status_i64(1, "fetched_from_owner"),
	    status_i64(1, "fetched_blocks"));
	/* now held by B: stat and list answer at once */
	snprintf(path, sizeof(path), "%s/docs/small", N[0].home);
	ck_assert_int_eq(stat_b(path, &st), BT_OK);
	ck_assert_uint_eq(st.size, 11);
	memset(&r, 0, sizeof(r));
	snprintf(path, sizeof(path), "%s/docs", N[0].home);
	ck_assert_int_eq(btapi_list(cl, path, NULL, 0, list_cb, &r), BT_OK);
	run_until(&r.done, 5000);
	ck_assert_int_eq(r.err, BT_OK);
	ck_assert_uint_eq(r.entries, 2);
	/* a path missing in a fetched namespace is simply missing */
	snprintf(path, sizeof(path), "%s/docs/none", N[0].home);
	ck_assert_int_eq(stat_b(path, NULL), BT_ENOTFOUND);
	/* a change on A reaches B once B's copy is no longer fresh */
	write_on_a("/docs/small", 5);
	run_for(1100);
	snprintf(path, sizeof(path), "%s/docs/small", N[0].home);
	ck_assert_int_eq(stat_b(path, &st), BT_OK);
	ck_assert_uint_eq(st.size, 5);
	/* B's own home is never fetched */
	ck_assert_int_eq(stat_b("/", NULL), BT_OK);
	/* the "node" scope: locally, and over the network */
	ck_assert_int_eq(node_call(&N[1].id, "status", "node", path,
	    sizeof(path)), BT_OK);
	ck_assert_str_eq(path, btcore_id_to_hex(&N[1].id, hex));
	ck_assert_int_eq(node_call(&N[0].id, "status", "home", path,
	    sizeof(path)), BT_OK);
	ck_assert_str_eq(path, N[0].home);
	ck_assert_int_eq(node_call(&N[1].id, "fetch", "x", path,
	    sizeof(path)), BTNET_EREMOTE);
	down();
}
END_TEST

START_TEST(unknown_namespace)
{
	char path[128];

	up(30000);
	memset(path, 'a', sizeof(path));
	path[0] = '/';
	snprintf(path + 1 + BT_ID_HEX_LEN, sizeof(path) - 1 - BT_ID_HEX_LEN,
	    "/x");
	ck_assert_int_eq(stat_b(path, NULL), BT_ENOTFOUND);
	/* nothing was imported */
	memset(path, 0xaa, BT_ID_LEN);
	ck_assert_int_eq(btstore_ns_root(N[1].st,
	    (const struct bt_pubkey *)(const void *)path, NULL, 0, NULL, NULL,
	    NULL), BT_ENOTFOUND);
	down();
}
END_TEST

START_TEST(fetch_timeout)
{
	char path[256];

	/* a fetch may take 1 ms: a namespace of many blocks cannot */
	up(1);
	write_on_a("/docs/big", 4u << 20);
	snprintf(path, sizeof(path), "%s/docs/big", N[0].home);
	ck_assert_int_eq(stat_b(path, NULL), BT_ETIMEDOUT);
	down();
}
END_TEST


/* {op: "root"} and {op: "blocks"} of the "node" scope, answered locally. */
static int
answer(int i, bson_t *args, bson_t *out, uint8_t **doc)
{
	size_t len = 0;
	int rc;

	*doc = NULL;
	rc = btapi_replicator_answer(N[i].repl, &N[i].id, bson_get_data(args),
	    args->len, doc, &len);
	bson_destroy(args);
	if (rc == BT_OK)
		ck_assert(bson_init_static(out, *doc, len));
	return rc;
}

START_TEST(node_blocks_op)
{
	uint8_t ids[8 * BT_ID_LEN], rec[BTCORE_RECORD_ENC_MAX], *doc;
	uint8_t *data;
	const uint8_t *bin;
	uint32_t blen;
	bson_subtype_t sub;
	bson_iter_t it, ai;
	bson_t args, b;
	struct bt_id id;
	size_t i, rlen, n;

	up(30000);
	/* root: A's record as A holds it; B holds none of A */
	ck_assert_int_eq(btstore_ns_root(N[0].st, &N[0].sg.pub, rec,
	    sizeof(rec), &rlen, NULL, NULL), BT_OK);
	bson_init(&args);
	BSON_APPEND_UTF8(&args, "op", "root");
	BSON_APPEND_BINARY(&args, "ns", BSON_SUBTYPE_BINARY, N[0].sg.pub.b,
	    32);
	ck_assert_int_eq(answer(0, &args, &b, &doc), BT_OK);
	ck_assert(bson_iter_init_find(&it, &b, "rec"));
	bson_iter_binary(&it, &sub, &blen, &bin);
	ck_assert_uint_eq(blen, rlen);
	ck_assert_mem_eq(bin, rec, rlen);
	btapi_free(doc);
	bson_init(&args);
	BSON_APPEND_UTF8(&args, "op", "root");
	BSON_APPEND_BINARY(&args, "ns", BSON_SUBTYPE_BINARY, N[0].sg.pub.b,
	    32);
	ck_assert_int_eq(answer(1, &args, &b, &doc), BT_ENOTFOUND);
	bson_init(&args);
	BSON_APPEND_UTF8(&args, "op", "root");
	BSON_APPEND_BINARY(&args, "ns", BSON_SUBTYPE_BINARY, N[0].sg.pub.b,
	    31);
	ck_assert_int_eq(answer(0, &args, &b, &doc), BT_EFORMAT);
	/* blocks: eight of the largest size; the fourth would not fit one
	   message, so three come back, then a null for an absent block */
	ck_assert_ptr_nonnull(data = malloc(BTCORE_BLOCK_MAX));
	for (i = 0; i < 8; i++) {
		memset(data, (int)i + 1, BTCORE_BLOCK_MAX);
		ck_assert_int_eq(btcore_id_hash(&id, data, BTCORE_BLOCK_MAX),
		    BT_OK);
		ck_assert_int_eq(btstore_block_put(N[0].st, &id, data,
		    BTCORE_BLOCK_MAX, 0), BT_OK);
		memcpy(ids + i * BT_ID_LEN, id.b, BT_ID_LEN);
	}
	bson_init(&args);
	BSON_APPEND_UTF8(&args, "op", "blocks");
	BSON_APPEND_BINARY(&args, "ids", BSON_SUBTYPE_BINARY, ids,
	    sizeof(ids));
	ck_assert_int_eq(answer(0, &args, &b, &doc), BT_OK);
	ck_assert(bson_iter_init_find(&it, &b, "blocks"));
	ck_assert(bson_iter_recurse(&it, &ai));
	for (n = 0; bson_iter_next(&ai); n++) {
		ck_assert(BSON_ITER_HOLDS_BINARY(&ai));
		bson_iter_binary(&ai, &sub, &blen, &bin);
		ck_assert_uint_eq(blen, BTCORE_BLOCK_MAX);
		ck_assert_uint_eq(bin[0], n + 1);
	}
	ck_assert_uint_eq(n, 3);
	ck_assert_uint_lt(b.len, BT_MSG_MAX - 1024);
	btapi_free(doc);
	memset(ids + BT_ID_LEN, 0xee, BT_ID_LEN);	/* nobody's block */
	bson_init(&args);
	BSON_APPEND_UTF8(&args, "op", "blocks");
	BSON_APPEND_BINARY(&args, "ids", BSON_SUBTYPE_BINARY, ids + 4 *
	    BT_ID_LEN, BT_ID_LEN);
	BSON_APPEND_BINARY(&args, "x", BSON_SUBTYPE_BINARY, ids, 1);
	ck_assert_int_eq(answer(0, &args, &b, &doc), BT_OK);
	ck_assert(bson_iter_init_find(&it, &b, "blocks"));
	ck_assert(bson_iter_recurse(&it, &ai));
	ck_assert(bson_iter_next(&ai) && BSON_ITER_HOLDS_BINARY(&ai));
	ck_assert(!bson_iter_next(&ai));
	btapi_free(doc);
	bson_init(&args);
	BSON_APPEND_UTF8(&args, "op", "blocks");
	BSON_APPEND_BINARY(&args, "ids", BSON_SUBTYPE_BINARY, ids, 64);
	ck_assert_int_eq(answer(0, &args, &b, &doc), BT_OK);
	ck_assert(bson_iter_init_find(&it, &b, "blocks"));
	ck_assert(bson_iter_recurse(&it, &ai));
	ck_assert(bson_iter_next(&ai) && BSON_ITER_HOLDS_BINARY(&ai));
	ck_assert(bson_iter_next(&ai) && BSON_ITER_HOLDS_NULL(&ai));
	ck_assert(!bson_iter_next(&ai));
	btapi_free(doc);
	/* bad requests */
	bson_init(&args);
	BSON_APPEND_UTF8(&args, "op", "blocks");
	BSON_APPEND_BINARY(&args, "ids", BSON_SUBTYPE_BINARY, ids, 33);
	ck_assert_int_eq(answer(0, &args, &b, &doc), BT_EFORMAT);
	bson_init(&args);
	BSON_APPEND_UTF8(&args, "op", "blocks");
	BSON_APPEND_BINARY(&args, "ids", BSON_SUBTYPE_BINARY, ids, 0);
	ck_assert_int_eq(answer(0, &args, &b, &doc), BT_EFORMAT);
	free(data);
	ck_assert_ptr_nonnull(data = calloc(65, BT_ID_LEN));
	bson_init(&args);
	BSON_APPEND_UTF8(&args, "op", "blocks");
	BSON_APPEND_BINARY(&args, "ids", BSON_SUBTYPE_BINARY, data,
	    65 * BT_ID_LEN);
	ck_assert_int_eq(answer(0, &args, &b, &doc), BT_ETOOBIG);
	free(data);
	bson_init(&args);
	BSON_APPEND_UTF8(&args, "op", "blocks");
	ck_assert_int_eq(answer(0, &args, &b, &doc), BT_EFORMAT);
	down();
}
END_TEST

/*
 * A "node" scope on A that answers "root" truly and "blocks" with bytes
 * that are not the blocks asked (@p arg non-NULL), or nothing at all.
 */
static void
liar(void *arg, struct btnet_rpc_req *req, const struct bt_id *from,
    const char *scope, const uint8_t *args, size_t len)
{
	uint8_t rec[BTCORE_RECORD_ENC_MAX], junk[100];
	bson_iter_t it;
	bson_t a, b, arr;
	size_t rlen, i, n;
	char key[24];

	(void)from;
	(void)scope;
	ck_assert(bson_init_static(&a, args, len));
	ck_assert(bson_iter_init_find(&it, &a, "op"));
	bson_init(&b);
	if (strcmp(bson_iter_utf8(&it, NULL), "root") == 0) {
		ck_assert_int_eq(btstore_ns_root(N[0].st, &N[0].sg.pub, rec,
		    sizeof(rec), &rlen, NULL, NULL), BT_OK);
		BSON_APPEND_BINARY(&b, "rec", BSON_SUBTYPE_BINARY, rec,
		    (uint32_t)rlen);
	} else {
		ck_assert_ptr_nonnull(arg);
		ck_assert(bson_iter_init_find(&it, &a, "ids"));
		n = bson_iter_value(&it)->value.v_binary.data_len / BT_ID_LEN;
		memset(junk, 0x5a, sizeof(junk));
		BSON_APPEND_ARRAY_BEGIN(&b, "blocks", &arr);
		for (i = 0; i < n; i++) {
			snprintf(key, sizeof(key), "%zu", i);
			BSON_APPEND_BINARY(&arr, key, BSON_SUBTYPE_BINARY,
			    junk, sizeof(junk));
		}
		bson_append_array_end(&b, &arr);
	}
	ck_assert_int_eq(btnet_rpc_reply(req, bson_get_data(&b), b.len),
	    BT_OK);
	bson_destroy(&b);
}

START_TEST(owner_lies_or_is_silent)
{
	static const size_t big = 1u << 20;
	char path[256];
	uint8_t *got;
	size_t len, i;
	int64_t before;
	int phase;

	up(30000);
	for (phase = 0; phase < 2; phase++) {
		/* published: the blocks are in the DHT (at A: B keeps none) */
		write_on_a(phase == 0 ? "/docs/one" : "/docs/two", big);
		/* then A's "node" scope lies about blocks, or is gone */
		ck_assert_int_eq(btnet_rpc_handle(N[0].net, "node",
		    phase == 0 ? liar : NULL, phase == 0 ? &phase : NULL),
		    BT_OK);
		before = status_i64(1, "fetched_blocks");
		run_for(phase == 0 ? 0 : 1100);	/* B's copy goes stale */
		snprintf(path, sizeof(path), "%s/docs/%s", N[0].home,
		    phase == 0 ? "one" : "two");
		got = read_b(path, &len);
		ck_assert_uint_eq(len, big);
		for (i = 0; i < len; i++)
			if (got[i] != (uint8_t)(i * 2654435761u >> 13))
				ck_abort_msg("byte %zu differs", i);
		free(got);
		/* every block from the DHT; none of the liar's taken */
		ck_assert_int_gt(status_i64(1, "fetched_blocks"), before);
		ck_assert_int_eq(status_i64(1, "fetched_from_owner"), 0);
		ck_assert_int_eq(btstore_ns_root(N[1].st, &N[0].sg.pub, NULL,
		    0, NULL, NULL, NULL), BT_OK);
	}
	down();
}
END_TEST

static struct res res_handle;

static void
no_rpc(void *arg, struct btapi_rpc *req, const struct bt_id *from,
    const char *scope, const uint8_t *args, size_t len)
{
	(void)arg;
	(void)from;
	(void)scope;
	(void)args;
	(void)len;
	ck_assert_int_eq(btapi_rpc_error(req, BT_EINVAL, NULL), BT_OK);
	ck_abort_msg("the scope reached a program");
}

static void
done_cb(void *arg, int err)
{
	struct res *r = arg;

	r->err = err;
	r->done = 1;
}

START_TEST(replicator_args)
{
	struct btapi_replicator_config rc;
	struct btapi_replicator *r = (struct btapi_replicator *)1;
	struct bt_pubkey pk;
	uint8_t *doc = (uint8_t *)1;
	size_t len = 1;

	btapi_replicator_config_init(NULL);
	btapi_replicator_config_init(&rc);
	ck_assert_uint_eq(rc.fresh_ms, 5000);
	ck_assert_int_eq(btapi_replicator_open(&r, NULL, &rc), BT_EINVAL);
	ck_assert_ptr_null(r);
	ck_assert_int_eq(btapi_replicator_open(NULL, NULL, &rc), BT_EINVAL);
	up(30000);
	ck_assert_int_eq(btapi_replicator_fetch(N[1].repl, &N[1].sg.pub,
	    NULL, NULL, NULL, NULL), BT_EINVAL);
	ck_assert_int_eq(btapi_replicator_stale(N[1].repl, &N[1].sg.pub), 0);
	ck_assert_int_eq(btapi_replicator_stale(N[1].repl, &N[0].sg.pub), 1);
	memset(&pk, 9, sizeof(pk));
	ck_assert_int_eq(btapi_replicator_stale(NULL, &pk), 0);
	ck_assert_int_eq(btapi_replicator_answer(N[1].repl, &N[1].id,
	    (const uint8_t *)"xx", 2, &doc, &len), BT_EFORMAT);
	ck_assert_ptr_null(doc);
	ck_assert_uint_eq(len, 0);
	btapi_replicator_cancel(NULL);
	btapi_replicator_online(NULL);
	btapi_replicator_stop(NULL);
	btapi_replicator_free(NULL);
	/* a program may not take the replicator's scope */
	memset(&res_handle, 0, sizeof(res_handle));
	ck_assert_int_eq(btapi_handle(cl, "node", no_rpc, NULL, done_cb,
	    &res_handle), BT_OK);
	run_until(&res_handle.done, 3000);
	ck_assert_int_eq(res_handle.err, BTAPI_EBUSY);
	down();
}
END_TEST

Suite *
suite_replicate(void)
{
	Suite *s = suite_create("replicate");
	TCase *tc = tcase_create("replicate");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, read_through_other_node);
	tcase_add_test(tc, unknown_namespace);
	tcase_add_test(tc, fetch_timeout);
	tcase_add_test(tc, replicator_args);
	tcase_add_test(tc, node_blocks_op);
	tcase_add_test(tc, owner_lies_or_is_silent);
	suite_add_tcase(s, tc);
	return s;
}
