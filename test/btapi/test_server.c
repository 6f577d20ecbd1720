/*
 * test_server.c - the API server and the asynchronous client over a real
 * Unix socket and a real LMDB store, one process, one event loop with
 * hard deadlines: every op, pipelined streams, lines, watches, locks,
 * manifests, socket permissions and peer credentials, malformed and
 * oversize frames, disconnects, local RPC and the gateway's HTTP API.
 */
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bson/bson.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>

#include <bt/api.h>
#include <bt/apiserver.h>
#include <bt/error.h>
#include <bt/key.h>
#include <bt/manifest.h>
#include <bt/net.h>
#include <bt/ns.h>
#include <bt/store.h>

#include "btapi-internal.h"

Suite *suite_server(void);

struct fx {
	char dir[64];
	char sock[128];
	char sdir[128];
	struct btstore *st;
	struct btcore_key *key;
	struct btcore_signer signer;
	struct event_base *base;
	struct btapi_server *srv;
	char home[80];
};

static struct fx F;

static void
fx_setup(void)
{
	struct btstore_options *o;
	struct btapi_server_config cfg;
	char p[128];
	struct bt_id id;
	char hex[65];

	signal(SIGPIPE, SIG_IGN);
	snprintf(F.dir, sizeof(F.dir), "%s", "/tmp/btapi-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(F.dir));
	snprintf(p, sizeof(p), "%s/store", F.dir);
	ck_assert_int_eq(mkdir(p, 0700), 0);
	ck_assert_int_eq(btstore_options_new(&o), BT_OK);
	ck_assert_int_eq(btstore_options_set(o, BTSTORE_OPT_NOSYNC, 1), BT_OK);
	ck_assert_int_eq(btstore_open(&F.st, p, o), BT_OK);
	btstore_options_free(o);
	ck_assert_int_eq(btcore_key_generate(&F.key), BT_OK);
	btcore_key_signer(F.key, &F.signer);
	memcpy(id.b, F.signer.pub.b, 32);
	snprintf(F.home, sizeof(F.home), "/%s", btcore_id_to_hex(&id, hex));
	snprintf(F.sdir, sizeof(F.sdir), "%s/run", F.dir);
	snprintf(F.sock, sizeof(F.sock), "%s/run/api.sock", F.dir);
	ck_assert_ptr_nonnull(F.base = event_base_new());
	btapi_server_config_init(&cfg);
	cfg.socket_path = F.sock;
	cfg.store = F.st;
	cfg.signer = &F.signer;
	cfg.rw_max = 4u << 20;
	cfg.request_timeout_ms = 2000;
	ck_assert_int_eq(btapi_server_open(&F.srv, F.base, &cfg), BT_OK);
}

static void
rm_store(void)
{
	char p[160];

	snprintf(p, sizeof(p), "%s/store/data.mdb", F.dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/store/lock.mdb", F.dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/store", F.dir);
	rmdir(p);
	rmdir(F.sdir);
	rmdir(F.dir);
}

static void
fx_teardown(void)
{
	btapi_server_close(F.srv);
	F.srv = NULL;
	event_base_free(F.base);
	btstore_close(F.st);
	btcore_key_free(F.key);
	rm_store();
}

/* ---- loop helpers ----------------------------------------------------- */

static void
expire(evutil_socket_t fd, short w, void *arg)
{
	(void)fd;
	(void)w;
	*(int *)arg = 1;
}

/* Run the loop until *flag, for at most @p ms; fail the test otherwise. */
static void
run_until(const int *flag, int ms)
{
	int expired = 0;
	struct event *t = evtimer_new(F.base, expire, &expired);
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	ck_assert_ptr_nonnull(t);
	evtimer_add(t, &tv);
	while (!*flag && !expired)
		event_base_loop(F.base, EVLOOP_ONCE);
	event_free(t);
	ck_assert_msg(*flag, "deadline passed");
}

/* Run the loop for @p ms whatever happens. */
static void
run_for(int ms)
{
	int expired = 0;
	struct event *t = evtimer_new(F.base, expire, &expired);
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	ck_assert_ptr_nonnull(t);
	evtimer_add(t, &tv);
	while (!expired)
		event_base_loop(F.base, EVLOOP_ONCE);
	event_free(t);
}

struct res {
	int done;
	int err;
	int n;
	int64_t id;
	uint64_t pos;
	struct btapi_stream *s;
	struct btapi_stat st;
	uint8_t buf[1 << 16];
	size_t len;
	char names[16][64];
	size_t nnames;
	int more;
};

static void
r_done(void *arg, int err)
{
	struct res *r = arg;

	r->err = err;
	r->done++;
}

static void
r_open(void *arg, int err, struct btapi_stream *s)
{
	struct res *r = arg;

	r->err = err;
	r->s = s;
	r->done++;
}

static void
r_read(void *arg, int err, const void *d, size_t len)
{
	struct res *r = arg;

	r->err = err;
	r->len = 0;
	if (err == BT_OK && len <= sizeof(r->buf)) {
		if (len > 0)
			memcpy(r->buf, d, len);
		r->len = len;
	}
	r->done++;
}

static void
r_stat(void *arg, int err, const struct btapi_stat *st)
{
	struct res *r = arg;

	r->err = err;
	if (st != NULL)
		r->st = *st;
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
r_pos(void *arg, int err, uint64_t pos)
{
	struct res *r = arg;

	r->err = err;
	r->pos = pos;
	r->done++;
}

static void
r_list(void *arg, int err, const struct btapi_dirent *e, size_t n, int more)
{
	struct res *r = arg;
	size_t i;

	r->err = err;
	r->more = more;
	r->nnames = 0;
	for (i = 0; i < n && i < 16; i++) {
		snprintf(r->names[i], sizeof(r->names[i]), "%s%s", e[i].name,
		    e[i].st.kind == BTAPI_KIND_DIR ? "/" : "");
		r->nnames++;
	}
	r->done++;
}

static struct btapi *
connect_as(const uint8_t *manifest, size_t len, int want)
{
	struct btapi *c = NULL;
	struct res r;

	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(btapi_open(&c, F.base, F.sock, manifest, len, r_done,
	    &r), BT_OK);
	run_until(&r.done, 3000);
	ck_assert_int_eq(r.err, want);
	return c;
}

#define WAIT(r) run_until(&(r).done, 5000)

/* Synchronous-looking helpers on the shared loop. */
static int
do_mkdir(struct btapi *c, const char *p, unsigned fl)
{
	struct res r;

	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(btapi_mkdir(c, p, fl, r_done, &r), BT_OK);
	WAIT(r);
	return r.err;
}

static int
do_put(struct btapi *c, const char *p, const void *d, size_t len)
{
	struct res r, w;

	memset(&r, 0, sizeof(r));
	memset(&w, 0, sizeof(w));
	ck_assert_int_eq(btapi_stream_open(c, p, BTAPI_WRITE | BTAPI_CREATE, 0,
	    r_open, &r), BT_OK);
	WAIT(r);
	if (r.err != BT_OK)
		return r.err;
	ck_assert_int_eq(btapi_stream_write(r.s, d, len, NULL, NULL), BT_OK);
	ck_assert_int_eq(btapi_stream_close(r.s, r_done, &w), BT_OK);
	WAIT(w);
	return w.err;
}

static int
do_get(struct btapi *c, const char *p, struct res *out)
{
	struct res r, x;

	memset(&r, 0, sizeof(r));
	memset(&x, 0, sizeof(x));
	ck_assert_int_eq(btapi_stream_open(c, p, BTAPI_READ, 0, r_open, &r),
	    BT_OK);
	WAIT(r);
	if (r.err != BT_OK)
		return r.err;
	memset(out, 0, sizeof(*out));
	ck_assert_int_eq(btapi_stream_read(r.s, sizeof(out->buf), r_read, out),
	    BT_OK);
	WAIT(*out);
	ck_assert_int_eq(btapi_stream_close(r.s, r_done, &x), BT_OK);
	WAIT(x);
	return out->err;
}

static int
do_stat(struct btapi *c, const char *p, struct btapi_stat *st)
{
	struct res r;

	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(btapi_stat(c, p, r_stat, &r), BT_OK);
	WAIT(r);
	if (st != NULL)
		*st = r.st;
	return r.err;
}

/* ---- every op ------------------------------------------------------------ */

static void
r_status(void *arg, int err, const struct btapi_status *st)
{
	struct res *r = arg;

	r->err = err;
	if (st != NULL) {
		r->n = (int)st->clients;
		snprintf((char *)r->buf, sizeof(r->buf), "%s", st->home);
		r->more = st->online;
	}
	r->done++;
}

static void
r_peers(void *arg, int err, const struct bt_id *ids, size_t n, int online)
{
	struct res *r = arg;

	(void)ids;
	r->err = err;
	r->n = (int)n;
	r->more = online;
	r->done++;
}

START_TEST(ops_round_trip)
{
	struct btapi *c = connect_as(NULL, 0, BT_OK);
	struct res r, g;
	struct btapi_stat st;
	struct bt_id node, want;
	const char *home;
	char full[200];

	ck_assert_int_eq(btapi_node(c, &node, &home), BT_OK);
	ck_assert_str_eq(home, F.home);
	ck_assert_int_eq(btcore_pubkey_id(&F.signer.pub, &want), BT_OK);
	ck_assert_int_eq(btcore_id_cmp(&node, &want), 0);
	ck_assert_uint_eq(btapi_server_clients(F.srv), 1);

	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(btapi_status(c, r_status, &r), BT_OK);
	WAIT(r);
	ck_assert_int_eq(r.err, BT_OK);
	ck_assert_int_eq(r.n, 1);
	ck_assert_str_eq((char *)r.buf, F.home);
	ck_assert_int_eq(r.more, 0);
	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(btapi_peers(c, r_peers, &r), BT_OK);
	WAIT(r);
	ck_assert_int_eq(r.err, BT_OK);
	ck_assert_int_eq(r.n, 0);

	/* mkdir, parents, errors */
	ck_assert_int_eq(do_mkdir(c, "/docs", 0), BT_OK);
	ck_assert_int_eq(do_mkdir(c, "/docs", 0), BT_EEXIST);
	ck_assert_int_eq(do_mkdir(c, "/a/b/c", 0), BT_ENOTFOUND);
	ck_assert_int_eq(do_mkdir(c, "/a/b/c", BTAPI_PARENTS), BT_OK);
	ck_assert_int_eq(do_mkdir(c, "relative", 0), BT_EFORMAT);
	ck_assert_int_eq(do_mkdir(c, "/../x", 0), BT_EPERM);

	/* write and read back; a full path names the same file */
	ck_assert_int_eq(do_put(c, "/docs/hello.txt", "hello, world", 12),
	    BT_OK);
	snprintf(full, sizeof(full), "%s/docs/hello.txt", F.home);
	ck_assert_int_eq(do_get(c, full, &g), BT_OK);
	ck_assert_uint_eq(g.len, 12);
	ck_assert_mem_eq(g.buf, "hello, world", 12);
	ck_assert_int_eq(do_stat(c, "/docs/hello.txt", &st), BT_OK);
	ck_assert_int_eq(st.kind, BTAPI_KIND_FILE);
	ck_assert_uint_eq(st.size, 12);
	ck_assert_int_eq(st.random, 0);
	ck_assert_int_eq(do_stat(c, "/docs", &st), BT_OK);
	ck_assert_int_eq(st.kind, BTAPI_KIND_DIR);
	ck_assert_int_eq(do_stat(c, "/nope", NULL), BT_ENOTFOUND);

	/* a random-layout file; exclusive create */
	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(btapi_stream_open(c, "/docs/r.bin", BTAPI_WRITE |
	    BTAPI_CREATE | BTAPI_RANDOM, 0, r_open, &r), BT_OK);
	WAIT(r);
	ck_assert_int_eq(r.err, BT_OK);
	memset(&g, 0, sizeof(g));
	ck_assert_int_eq(btapi_stream_write(r.s, "0123456789", 10, r_done, &g),
	    BT_OK);
	WAIT(g);
	ck_assert_int_eq(g.err, BT_OK);
	/* a write stream moves only forward, in order */
	memset(&g, 0, sizeof(g));
	ck_assert_int_eq(btapi_stream_seek(r.s, 0, 0, r_pos, &g), BT_OK);
	WAIT(g);
	ck_assert_int_eq(g.err, BT_EUNSUPPORTED);
	memset(&g, 0, sizeof(g));
	ck_assert_int_eq(btapi_stream_close(r.s, r_done, &g), BT_OK);
	WAIT(g);
	ck_assert_int_eq(g.err, BT_OK);
	ck_assert_int_eq(do_stat(c, "/docs/r.bin", &st), BT_OK);
	ck_assert_int_eq(st.random, 1);
	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(btapi_stream_open(c, "/docs/r.bin", BTAPI_WRITE |
	    BTAPI_CREATE | BTAPI_EXCL, 0, r_open, &r), BT_OK);
	WAIT(r);
	ck_assert_int_eq(r.err, BT_EEXIST);
	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(btapi_stream_open(c, "/docs/none", BTAPI_WRITE, 0,
	    r_open, &r), BT_OK);
	WAIT(r);
	ck_assert_int_eq(r.err, BT_ENOTFOUND);

	/* read with seek */
	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(btapi_stream_open(c, "/docs/r.bin", BTAPI_READ, 0,
	    r_open, &r), BT_OK);
	WAIT(r);
	ck_assert_uint_eq(btapi_stream_size(r.s), 10);
	memset(&g, 0, sizeof(g));
	ck_assert_int_eq(btapi_stream_seek(r.s, -3, 2, r_pos, &g), BT_OK);
	WAIT(g);
	ck_assert_uint_eq(g.pos, 7);
	memset(&g, 0, sizeof(g));
	ck_assert_int_eq(btapi_stream_read(r.s, 100, r_read, &g), BT_OK);
	WAIT(g);
	ck_assert_uint_eq(g.len, 3);
	ck_assert_mem_eq(g.buf, "789", 3);
	memset(&g, 0, sizeof(g));
	ck_assert_int_eq(btapi_stream_read(r.s, 100, r_read, &g), BT_OK);
	WAIT(g);
	ck_assert_uint_eq(g.len, 0);
	ck_assert_int_eq(btapi_stream_read(r.s, BTAPI_IO_MAX + 1, r_read, &g),
	    BT_ERANGE);
	memset(&g, 0, sizeof(g));
	ck_assert_int_eq(btapi_stream_close(r.s, r_done, &g), BT_OK);
	WAIT(g);

	/* list, in pages */
	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(btapi_list(c, "/docs", NULL, 0, r_list, &r), BT_OK);
	WAIT(r);
	ck_assert_int_eq(r.err, BT_OK);
	ck_assert_uint_eq(r.nnames, 2);
	ck_assert_str_eq(r.names[0], "hello.txt");
	ck_assert_str_eq(r.names[1], "r.bin");
	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(btapi_list(c, "/", NULL, 1, r_list, &r), BT_OK);
	WAIT(r);
	ck_assert_uint_eq(r.nnames, 1);
	ck_assert_str_eq(r.names[0], "a/");
	ck_assert_int_eq(r.more, 1);
	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(btapi_list(c, "/", "a", 5, r_list, &r), BT_OK);
	WAIT(r);
	ck_assert_uint_eq(r.nnames, 1);
	ck_assert_str_eq(r.names[0], "docs/");
	ck_assert_int_eq(r.more, 0);

	/* rename and remove */
	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(btapi_rename(c, "/docs/hello.txt", "/a/hi.txt", 0,
	    r_done, &r), BT_OK);
	WAIT(r);
	ck_assert_int_eq(r.err, BT_OK);
	ck_assert_int_eq(do_stat(c, "/docs/hello.txt", NULL), BT_ENOTFOUND);
	ck_assert_int_eq(do_stat(c, "/a/hi.txt", NULL), BT_OK);
	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(btapi_remove(c, "/a", 0, r_done, &r), BT_OK);
	WAIT(r);
	ck_assert_int_eq(r.err, BT_EEXIST);
	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(btapi_remove(c, "/a", BTAPI_RECURSIVE, r_done, &r),
	    BT_OK);
	WAIT(r);
	ck_assert_int_eq(r.err, BT_OK);
	ck_assert_int_eq(do_stat(c, "/a/b", NULL), BT_ENOTFOUND);
	btapi_close(c);
}
END_TEST

/* ---- big pipelined files, rw streams, lines -------------------------------- */

static void
fill(uint8_t *p, size_t len, uint32_t seed)
{
	uint32_t x = seed * 2654435761u + 1;
	size_t i;

	for (i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = (uint8_t)x;
	}
}

struct bigread {
	int done, err;
	uint8_t *dst;
	size_t off, want;
	int outstanding;
};

static void
big_piece(void *arg, int err, const void *d, size_t len)
{
	struct bigread *b = arg;

	b->outstanding--;
	if (err != BT_OK && b->err == BT_OK)
		b->err = err;
	if (err == BT_OK && b->off + len <= b->want) {
		memcpy(b->dst + b->off, d, len);
		b->off += len;
	}
	if (b->outstanding == 0)
		b->done = 1;
}

START_TEST(pipelined_big_file)
{
	struct btapi *c = connect_as(NULL, 0, BT_OK);
	const size_t size = 5 * 1024 * 1024 + 12345;
	uint8_t *data = malloc(size), *back = calloc(1, size);
	struct res r, w;
	struct bigread br;
	size_t off, n;
	int i;

	ck_assert_ptr_nonnull(data);
	ck_assert_ptr_nonnull(back);
	fill(data, size, 7);
	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(btapi_stream_open(c, "/big.bin", BTAPI_WRITE |
	    BTAPI_CREATE, 0, r_open, &r), BT_OK);
	WAIT(r);
	ck_assert_int_eq(r.err, BT_OK);
	/* many writes in flight before any answer comes */
	for (off = 0; off < size; off += n) {
		n = size - off < 100000 ? size - off : 100000;
		ck_assert_int_eq(btapi_stream_write(r.s, data + off, n, NULL,
		    NULL), BT_OK);
	}
	memset(&w, 0, sizeof(w));
	ck_assert_int_eq(btapi_stream_close(r.s, r_done, &w), BT_OK);
	run_until(&w.done, 20000);
	ck_assert_int_eq(w.err, BT_OK);

	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(btapi_stream_open(c, "/big.bin", BTAPI_READ, 0,
	    r_open, &r), BT_OK);
	WAIT(r);
	ck_assert_uint_eq(btapi_stream_size(r.s), size);
	memset(&br, 0, sizeof(br));
	br.dst = back;
	br.want = size;
	/* pipelined reads: answers come in order */
	for (i = 0; i < (int)(size / BTAPI_IO_MAX) + 1; i++) {
		ck_assert_int_eq(btapi_stream_read(r.s, BTAPI_IO_MAX, big_piece,
		    &br), BT_OK);
		br.outstanding++;
	}
	run_until(&br.done, 20000);
	ck_assert_int_eq(br.err, BT_OK);
	ck_assert_uint_eq(br.off, size);
	ck_assert(memcmp(data, back, size) == 0);
	memset(&w, 0, sizeof(w));
	ck_assert_int_eq(btapi_stream_close(r.s, r_done, &w), BT_OK);
	WAIT(w);
	free(data);
	free(back);
	btapi_close(c);
}
END_TEST

START_TEST(rw_stream)
{
	struct btapi *c = connect_as(NULL, 0, BT_OK);
	struct res r, g;

	ck_assert_int_eq(do_put(c, "/rw.txt", "abcdefghij", 10), BT_OK);
	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(btapi_stream_open(c, "/rw.txt", BTAPI_READ |
	    BTAPI_WRITE, 0, r_open, &r), BT_OK);
	WAIT(r);
	ck_assert_int_eq(r.err, BT_OK);
	ck_assert_uint_eq(btapi_stream_size(r.s), 10);
	memset(&g, 0, sizeof(g));
	ck_assert_int_eq(btapi_stream_seek(r.s, 3, 0, r_pos, &g), BT_OK);
	WAIT(g);
	ck_assert_int_eq(btapi_stream_write(r.s, "XYZ", 3, NULL, NULL), BT_OK);
	memset(&g, 0, sizeof(g));
	ck_assert_int_eq(btapi_stream_read(r.s, 2, r_read, &g), BT_OK);
	WAIT(g);
	ck_assert_uint_eq(g.len, 2);
	ck_assert_mem_eq(g.buf, "gh", 2);
	/* past the end: the gap reads as zeros */
	memset(&g, 0, sizeof(g));
	ck_assert_int_eq(btapi_stream_seek(r.s, 2, 2, r_pos, &g), BT_OK);
	WAIT(g);
	ck_assert_uint_eq(g.pos, 12);
	ck_assert_int_eq(btapi_stream_write(r.s, "!", 1, NULL, NULL), BT_OK);
	/* nothing changes before the close */
	memset(&g, 0, sizeof(g));
	ck_assert_int_eq(do_get(c, "/rw.txt", &g), BT_OK);
	ck_assert_mem_eq(g.buf, "abcdefghij", 10);
	memset(&g, 0, sizeof(g));
	ck_assert_int_eq(btapi_stream_close(r.s, r_done, &g), BT_OK);
	WAIT(g);
	ck_assert_int_eq(g.err, BT_OK);
	memset(&g, 0, sizeof(g));
	ck_assert_int_eq(do_get(c, "/rw.txt", &g), BT_OK);
	ck_assert_uint_eq(g.len, 13);
	ck_assert_mem_eq(g.buf, "abcXYZghij\0\0!", 13);
	btapi_close(c);
}
END_TEST

struct lines {
	int done, err;
	char got[8][64];
	int errs[8];
	int n, want;
};

static void
line_cb(void *arg, int err, const void *d, size_t len)
{
	struct lines *l = arg;

	if (l->n < 8) {
		l->errs[l->n] = err;
		if (err == BT_OK && len < 64) {
			memcpy(l->got[l->n], d, len);
			l->got[l->n][len] = '\0';
		}
	}
	l->n++;
	if (l->n == l->want)
		l->done = 1;
}

START_TEST(text_lines)
{
	struct btapi *c = connect_as(NULL, 0, BT_OK);
	struct res r, g;
	struct lines l;
	char longline[300];
	int i;

	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(btapi_stream_open(c, "/t.txt", BTAPI_WRITE |
	    BTAPI_CREATE, 0, r_open, &r), BT_OK);
	WAIT(r);
	ck_assert_int_eq(btapi_stream_printf(r.s, "alpha %d\n", 1), BT_OK);
	ck_assert_int_eq(btapi_stream_printf(r.s, "%s\r\n\n", "beta"), BT_OK);
	memset(longline, 'x', sizeof(longline) - 1);
	longline[sizeof(longline) - 1] = '\0';
	ck_assert_int_eq(btapi_stream_printf(r.s, "%s\nlast", longline),
	    BT_OK);
	memset(&g, 0, sizeof(g));
	ck_assert_int_eq(btapi_stream_close(r.s, r_done, &g), BT_OK);
	WAIT(g);
	ck_assert_int_eq(g.err, BT_OK);

	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(btapi_stream_open(c, "/t.txt", BTAPI_READ, 0, r_open,
	    &r), BT_OK);
	WAIT(r);
	memset(&l, 0, sizeof(l));
	l.want = 6;
	for (i = 0; i < 3; i++)
		ck_assert_int_eq(btapi_stream_readline(r.s, 64, line_cb, &l),
		    BT_OK);
	/* the long line does not fit 64 bytes */
	ck_assert_int_eq(btapi_stream_readline(r.s, 64, line_cb, &l), BT_OK);
	ck_assert_int_eq(btapi_stream_readline(r.s, 400, line_cb, &l), BT_OK);
	ck_assert_int_eq(btapi_stream_readline(r.s, 400, line_cb, &l), BT_OK);
	run_until(&l.done, 5000);
	ck_assert_int_eq(l.errs[0], BT_OK);
	ck_assert_str_eq(l.got[0], "alpha 1");
	ck_assert_str_eq(l.got[1], "beta\r");
	ck_assert_str_eq(l.got[2], "");
	ck_assert_int_eq(l.errs[3], BT_ERANGE);
	ck_assert_int_eq(l.errs[4], BT_OK);
	ck_assert_int_eq(l.errs[5], BT_OK);
	ck_assert_str_eq(l.got[5], "last");
	memset(&l, 0, sizeof(l));
	l.want = 1;
	ck_assert_int_eq(btapi_stream_readline(r.s, 64, line_cb, &l), BT_OK);
	run_until(&l.done, 5000);
	ck_assert_int_eq(l.errs[0], BT_ENOTFOUND);
	memset(&g, 0, sizeof(g));
	ck_assert_int_eq(btapi_stream_close(r.s, r_done, &g), BT_OK);
	WAIT(g);
	btapi_close(c);
}
END_TEST

/* ---- watches ----------------------------------------------------------------- */

struct seen {
	int n;
	int64_t watch;
	int kind, change;
	char key[300];
	size_t keylen;
};

static void
watch_fn(void *arg, int64_t watch, int kind, int change, const void *key,
    size_t keylen)
{
	struct seen *s = arg;

	s->n++;
	s->watch = watch;
	s->kind = kind;
	s->change = change;
	s->keylen = keylen;
	if (key != NULL && keylen < sizeof(s->key)) {
		memcpy(s->key, key, keylen);
		s->key[keylen] = '\0';
	}
}

START_TEST(watch_events)
{
	struct btapi *c = connect_as(NULL, 0, BT_OK);
	struct btapi *d = connect_as(NULL, 0, BT_OK);
	struct res r;
	struct seen s, sb;
	char want[200];
	struct bt_id bid;
	int64_t wid;

	ck_assert_int_eq(do_mkdir(c, "/w", 0), BT_OK);
	memset(&s, 0, sizeof(s));
	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(btapi_watch(c, BTAPI_WATCH_PATH, "/w", 2, watch_fn, &s,
	    r_id, &r), BT_OK);
	WAIT(r);
	ck_assert_int_eq(r.err, BT_OK);
	wid = r.id;
	ck_assert_int_gt(wid, 0);
	/* another program writes below the watched path */
	ck_assert_int_eq(do_put(d, "/w/x.txt", "1", 1), BT_OK);
	run_until(&s.n, 3000);
	ck_assert_int_eq(s.watch, wid);
	ck_assert_int_eq(s.kind, BTAPI_WATCH_PATH);
	ck_assert_int_eq(s.change, BTAPI_CHANGE_PUT);
	snprintf(want, sizeof(want), "%s/w/x.txt", F.home);
	ck_assert_str_eq(s.key, want);
	s.n = 0;
	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(btapi_remove(d, "/w/x.txt", 0, r_done, &r), BT_OK);
	WAIT(r);
	run_until(&s.n, 3000);
	ck_assert_int_eq(s.change, BTAPI_CHANGE_DEL);
	/* a change elsewhere is not seen */
	s.n = 0;
	ck_assert_int_eq(do_put(d, "/wx.txt", "1", 1), BT_OK);
	run_for(50);
	ck_assert_int_eq(s.n, 0);

	/* a block watch */
	memset(&sb, 0, sizeof(sb));
	ck_assert_int_eq(btcore_id_hash(&bid, "block!", 6), BT_OK);
	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(btapi_watch(c, BTAPI_WATCH_BLOCK, bid.b, 32, watch_fn,
	    &sb, r_id, &r), BT_OK);
	WAIT(r);
	ck_assert_int_eq(r.err, BT_OK);
	ck_assert_int_eq(btstore_block_put(F.st, &bid, "block!", 6, 0), BT_OK);
	run_until(&sb.n, 3000);
	ck_assert_int_eq(sb.kind, BTAPI_WATCH_BLOCK);
	ck_assert_uint_eq(sb.keylen, 32);
	ck_assert_mem_eq(sb.key, bid.b, 32);

	/* unwatch: no more events */
	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(btapi_unwatch(c, wid, r_done, &r), BT_OK);
	WAIT(r);
	ck_assert_int_eq(r.err, BT_OK);
	s.n = 0;
	ck_assert_int_eq(do_put(d, "/w/y.txt", "1", 1), BT_OK);
	run_for(50);
	ck_assert_int_eq(s.n, 0);
	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(btapi_unwatch(c, wid, r_done, &r), BT_OK);
	WAIT(r);
	ck_assert_int_eq(r.err, BTAPI_EBADHANDLE);
	btapi_close(c);
	btapi_close(d);
}
END_TEST

/* ---- locks --------------------------------------------------------------------- */

START_TEST(locks)
{
	struct btapi *a = connect_as(NULL, 0, BT_OK);
	struct btapi *b = connect_as(NULL, 0, BT_OK);
	struct res r, ra, rb, o, g;
	int64_t t1;

	ck_assert_int_eq(do_mkdir(a, "/l", 0), BT_OK);
	ck_assert_int_eq(do_put(a, "/l/f", "old", 3), BT_OK);
	/* b opens a write stream before the lock is taken */
	memset(&o, 0, sizeof(o));
	ck_assert_int_eq(btapi_stream_open(b, "/l/f", BTAPI_WRITE, 0, r_open,
	    &o), BT_OK);
	WAIT(o);
	ck_assert_int_eq(o.err, BT_OK);

	memset(&ra, 0, sizeof(ra));
	ck_assert_int_eq(btapi_lock(a, "/l", 0, r_id, &ra), BT_OK);
	WAIT(ra);
	ck_assert_int_eq(ra.err, BT_OK);
	t1 = ra.id;
	ck_assert_int_gt(t1, 0);
	/* a second locker is refused, also for a path below */
	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(btapi_lock(b, "/l/f", 0, r_id, &r), BT_OK);
	WAIT(r);
	ck_assert_int_eq(r.err, BTAPI_ELOCKED);
	/* b's writes are refused: changes, new streams, the old stream */
	ck_assert_int_eq(do_mkdir(b, "/l/x", 0), BTAPI_ELOCKED);
	ck_assert_int_eq(do_put(b, "/l/g", "x", 1), BTAPI_ELOCKED);
	memset(&g, 0, sizeof(g));
	ck_assert_int_eq(btapi_stream_write(o.s, "new", 3, r_done, &g), BT_OK);
	WAIT(g);
	ck_assert_int_eq(g.err, BTAPI_ELOCKED);
	memset(&g, 0, sizeof(g));
	ck_assert_int_eq(btapi_stream_close(o.s, r_done, &g), BT_OK);
	WAIT(g);
	ck_assert_int_eq(g.err, BTAPI_ELOCKED);
	/* the holder writes, with its fencing token too */
	ck_assert_int_eq(do_mkdir(a, "/l/x", 0), BT_OK);
	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(btapi_stream_open(a, "/l/f", BTAPI_WRITE, t1, r_open,
	    &r), BT_OK);
	WAIT(r);
	ck_assert_int_eq(r.err, BT_OK);
	ck_assert_int_eq(btapi_stream_write(r.s, "mine", 4, NULL, NULL), BT_OK);
	memset(&g, 0, sizeof(g));
	ck_assert_int_eq(btapi_stream_close(r.s, r_done, &g), BT_OK);
	WAIT(g);
	ck_assert_int_eq(g.err, BT_OK);
	/* a stale token is fenced off */
	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(btapi_stream_open(a, "/l/f", BTAPI_WRITE, t1 + 100,
	    r_open, &r), BT_OK);
	WAIT(r);
	ck_assert_int_eq(r.err, BTAPI_EFENCED);

	/* b waits; a disconnects; b gets the lock with a higher token */
	memset(&rb, 0, sizeof(rb));
	ck_assert_int_eq(btapi_lock(b, "/l", 1, r_id, &rb), BT_OK);
	run_for(30);
	ck_assert_int_eq(rb.done, 0);
	btapi_close(a);
	WAIT(rb);
	ck_assert_int_eq(rb.err, BT_OK);
	ck_assert_int_gt(rb.id, t1);
	ck_assert_int_eq(do_put(b, "/l/f", "b's", 3), BT_OK);
	/* unlock, and the token is gone */
	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(btapi_unlock(b, rb.id, r_done, &r), BT_OK);
	WAIT(r);
	ck_assert_int_eq(r.err, BT_OK);
	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(btapi_unlock(b, rb.id, r_done, &r), BT_OK);
	WAIT(r);
	ck_assert_int_eq(r.err, BTAPI_EBADHANDLE);
	btapi_close(b);
}
END_TEST

/* ---- manifests -------------------------------------------------------------------- */

static void
make_manifest(const struct btcore_signer *s, uint8_t **out, size_t *len)
{
	struct btcore_manifest *m;
	char grant[200];

	ck_assert_int_eq(btcore_manifest_new(&m), BT_OK);
	ck_assert_int_eq(btcore_manifest_set_name(m, "app"), BT_OK);
	ck_assert_int_eq(btcore_manifest_set_version(m, "1.0"), BT_OK);
	ck_assert_int_eq(btcore_manifest_add_scope(m, "app.echo"), BT_OK);
	ck_assert_int_eq(btcore_manifest_add_route(m, "app.example", "/app"),
	    BT_OK);
	snprintf(grant, sizeof(grant), "%s/app", F.home);
	ck_assert_int_eq(btcore_manifest_add_grant(m, grant,
	    BTCORE_MANIFEST_READ_WRITE), BT_OK);
	snprintf(grant, sizeof(grant), "%s/pub", F.home);
	ck_assert_int_eq(btcore_manifest_add_grant(m, grant,
	    BTCORE_MANIFEST_READ), BT_OK);
	ck_assert_int_eq(btcore_manifest_sign(m, s, out, len), BT_OK);
	btcore_manifest_free(m);
}

static void
http_req_nop(void *arg, struct btapi_http *req, const char *method,
    const char *host, const char *uri, const struct btapi_header *h, size_t n)
{
	(void)arg;
	(void)method;
	(void)host;
	(void)uri;
	(void)h;
	(void)n;
	ck_assert_int_eq(btapi_http_respond(req, 204, NULL, 0, NULL, 0, 1),
	    BT_OK);
}

static void
rpc_nop(void *arg, struct btapi_rpc *req, const struct bt_id *from,
    const char *scope, const uint8_t *args, size_t len)
{
	(void)arg;
	(void)from;
	(void)scope;
	(void)args;
	(void)len;
	ck_assert_int_eq(btapi_rpc_error(req, BT_EPERM, "no"), BT_OK);
}

START_TEST(manifest_limits)
{
	static const struct btapi_route_cbs cbs = { http_req_nop, NULL, NULL };
	struct btapi *owner = connect_as(NULL, 0, BT_OK), *p;
	struct btcore_key *other;
	struct btcore_signer os;
	uint8_t *m;
	size_t mlen;
	struct res r, g;

	ck_assert_int_eq(do_mkdir(owner, "/pub", 0), BT_OK);
	ck_assert_int_eq(do_put(owner, "/pub/r.txt", "read me", 7), BT_OK);
	ck_assert_int_eq(do_put(owner, "/secret.txt", "s", 1), BT_OK);
	make_manifest(&F.signer, &m, &mlen);
	p = connect_as(m, mlen, BT_OK);
	/* its own paths */
	ck_assert_int_eq(do_mkdir(p, "/app", 0), BT_OK);
	ck_assert_int_eq(do_put(p, "/app/data", "x", 1), BT_OK);
	ck_assert_int_eq(do_get(p, "/pub/r.txt", &g), BT_OK);
	/* and nothing else: a distinct error */
	ck_assert_int_eq(do_put(p, "/pub/w.txt", "x", 1), BTAPI_EDENIED);
	ck_assert_int_eq(do_get(p, "/secret.txt", &g), BTAPI_EDENIED);
	ck_assert_int_eq(do_stat(p, "/secret.txt", NULL), BTAPI_EDENIED);
	ck_assert_int_eq(do_mkdir(p, "/other", 0), BTAPI_EDENIED);
	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(btapi_rename(p, "/app/data", "/stolen", 0, r_done,
	    &r), BT_OK);
	WAIT(r);
	ck_assert_int_eq(r.err, BTAPI_EDENIED);
	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(btapi_lock(p, "/pub", 0, r_id, &r), BT_OK);
	WAIT(r);
	ck_assert_int_eq(r.err, BTAPI_EDENIED);
	/* scopes */
	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(btapi_handle(p, "app.echo", rpc_nop, NULL, r_done, &r),
	    BT_OK);
	WAIT(r);
	ck_assert_int_eq(r.err, BT_OK);
	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(btapi_handle(p, "mail", rpc_nop, NULL, r_done, &r),
	    BT_OK);
	WAIT(r);
	ck_assert_int_eq(r.err, BTAPI_EDENIED);
	/* routes */
	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(btapi_route(p, "app.example", "/app", &cbs, NULL,
	    r_done, &r), BT_OK);
	WAIT(r);
	ck_assert_int_eq(r.err, BT_OK);
	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(btapi_route(p, "app.example", "/admin", &cbs, NULL,
	    r_done, &r), BT_OK);
	WAIT(r);
	ck_assert_int_eq(r.err, BTAPI_EDENIED);
	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(btapi_route(p, "evil.example", "/app", &cbs, NULL,
	    r_done, &r), BT_OK);
	WAIT(r);
	ck_assert_int_eq(r.err, BTAPI_EDENIED);
	/* the owner may take another program's scope?  No: it is busy */
	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(btapi_handle(owner, "app.echo", rpc_nop, NULL, r_done,
	    &r), BT_OK);
	WAIT(r);
	ck_assert_int_eq(r.err, BTAPI_EBUSY);
	btapi_close(p);
	btcore_manifest_bytes_free(m);

	/* a manifest signed by someone else is refused at hello */
	ck_assert_int_eq(btcore_key_generate(&other), BT_OK);
	btcore_key_signer(other, &os);
	make_manifest(&os, &m, &mlen);
	p = connect_as(m, mlen, BTAPI_EDENIED);
	btapi_close(p);
	/* a corrupted manifest too */
	m[mlen - 10] ^= 1;
	p = connect_as(m, mlen, BT_EVERIFY);
	btapi_close(p);
	btcore_manifest_bytes_free(m);
	btcore_key_free(other);
	btapi_close(owner);
}
END_TEST

/* ---- socket permissions and peer credentials ----------------------------------------- */

static void
poll_child(evutil_socket_t fd, short w, void *arg)
{
	int *st = arg;
	int status;

	(void)fd;
	(void)w;
	if (waitpid((pid_t)st[1], &status, WNOHANG) == (pid_t)st[1]) {
		st[0] = 1;
		st[2] = status;
	}
}

START_TEST(socket_permissions)
{
	struct stat sb;
	struct btapi_server *s2;
	struct btapi_server_config cfg;
	char bad[160], sock2[200];
	struct event *t;
	struct timeval tv = { 0, 10000 };
	int st[3] = { 0, 0, 0 };
	pid_t pid;

	ck_assert_int_eq(lstat(F.sock, &sb), 0);
	ck_assert(S_ISSOCK(sb.st_mode));
	ck_assert_int_eq(sb.st_mode & 0777, 0600);
	ck_assert_int_eq(lstat(F.sdir, &sb), 0);
	ck_assert_int_eq(sb.st_mode & 0777, 0700);
	ck_assert_int_eq(sb.st_uid, geteuid());

	/* a directory open to others is refused */
	snprintf(bad, sizeof(bad), "%s/open", F.dir);
	ck_assert_int_eq(mkdir(bad, 0700), 0);
	ck_assert_int_eq(chmod(bad, 0755), 0);
	snprintf(sock2, sizeof(sock2), "%s/api.sock", bad);
	btapi_server_config_init(&cfg);
	cfg.socket_path = sock2;
	cfg.store = F.st;
	cfg.signer = &F.signer;
	ck_assert_int_eq(btapi_server_open(&s2, F.base, &cfg), BT_EPERM);
	ck_assert_ptr_null(s2);
	rmdir(bad);
	/* a second server on a live socket is refused */
	cfg.socket_path = F.sock;
	ck_assert_int_eq(btapi_server_open(&s2, F.base, &cfg), BT_EEXIST);

	if (geteuid() != 0)
		return;		/* another uid needs root to become one */
	/* let another uid reach the socket; its credentials still refuse it */
	ck_assert_int_eq(chmod(F.dir, 0711), 0);
	ck_assert_int_eq(chmod(F.sdir, 0711), 0);
	ck_assert_int_eq(chmod(F.sock, 0666), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct sockaddr_un sa;
		static const uint8_t hello[] = { 0, 0, 0, 5, 5, 0, 0, 0, 0 };
		uint8_t buf[64];
		ssize_t n;
		int fd;

		alarm(5);
		if (setgid(65534) != 0 || setuid(65534) != 0)
			_exit(2);
		memset(&sa, 0, sizeof(sa));
		sa.sun_family = AF_UNIX;
		memcpy(sa.sun_path, F.sock, strlen(F.sock) + 1);
		fd = socket(AF_UNIX, SOCK_STREAM, 0);
		if (fd < 0 || connect(fd, (struct sockaddr *)&sa,
		    sizeof(sa)) != 0)
			_exit(3);
		(void)!write(fd, hello, sizeof(hello));
		n = read(fd, buf, sizeof(buf));
		/* closed unanswered */
		_exit(n == 0 || (n < 0 && errno == ECONNRESET) ? 0 : 4);
	}
	st[1] = (int)pid;
	t = event_new(F.base, -1, EV_PERSIST, poll_child, st);
	evtimer_add(t, &tv);
	run_until(&st[0], 8000);
	event_free(t);
	ck_assert(WIFEXITED(st[2]));
	ck_assert_int_eq(WEXITSTATUS(st[2]), 0);
	ck_assert_int_eq(chmod(F.sdir, 0700), 0);
	ck_assert_int_eq(chmod(F.dir, 0700), 0);
	ck_assert_uint_eq(btapi_server_clients(F.srv), 0);
}
END_TEST

/* ---- malformed frames -------------------------------------------------------------------- */

static int
raw_connect(void)
{
	struct sockaddr_un sa;
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	ck_assert_int_ge(fd, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, F.sock, strlen(F.sock) + 1);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

static void
raw_send(int fd, const void *doc, size_t len)
{
	uint8_t h[4] = { (uint8_t)(len >> 24), (uint8_t)(len >> 16),
	    (uint8_t)(len >> 8), (uint8_t)len };

	ck_assert_int_eq(write(fd, h, 4), 4);
	if (len > 0)
		ck_assert_int_eq(write(fd, doc, len), (ssize_t)len);
}

struct rawr {
	int fd;
	int done;
	uint8_t buf[4096];
	size_t have;
};

static void
raw_readable(evutil_socket_t fd, short w, void *arg)
{
	struct rawr *r = arg;
	ssize_t n;

	(void)w;
	n = read(fd, r->buf + r->have, sizeof(r->buf) - r->have);
	if (n <= 0) {
		r->done = -1;
		return;
	}
	r->have += (size_t)n;
	if (r->have >= 4) {
		size_t len = ((size_t)r->buf[0] << 24) |
		    ((size_t)r->buf[1] << 16) | ((size_t)r->buf[2] << 8) |
		    r->buf[3];

		if (r->have >= 4 + len)
			r->done = 1;
	}
}

/* Wait for one reply frame (or EOF: -1) on a raw socket. */
static int
raw_reply(int fd, int64_t *id, int *err)
{
	struct rawr r;
	struct event *ev;
	bson_t b;
	bson_iter_t it;

	memset(&r, 0, sizeof(r));
	r.fd = fd;
	ev = event_new(F.base, fd, EV_READ | EV_PERSIST, raw_readable, &r);
	event_add(ev, NULL);
	run_until(&r.done, 3000);
	event_free(ev);
	if (r.done < 0)
		return -1;
	ck_assert(bson_init_static(&b, r.buf + 4, r.have - 4));
	ck_assert(bson_iter_init_find(&it, &b, "id"));
	*id = bson_iter_int64(&it);
	ck_assert(bson_iter_init_find(&it, &b, "err"));
	*err = bson_iter_int32(&it);
	return 0;
}

START_TEST(malformed_frames)
{
	struct btapi *c = connect_as(NULL, 0, BT_OK);
	int fd = raw_connect(), fd2;
	int64_t id;
	int err;
	bson_t *b;
	static const uint8_t junk[] = { 9, 0, 0, 0, 0x02, 'o', 0, 0, 0 };
	uint8_t big[4] = { 0, 0x20, 0, 0 };

	/* not BSON: an error reply, the connection stays */
	raw_send(fd, junk, sizeof(junk));
	ck_assert_int_eq(raw_reply(fd, &id, &err), 0);
	ck_assert_int_eq(err, BT_EFORMAT);
	/* an op before hello */
	b = BCON_NEW("op", BCON_UTF8("stat"), "id", BCON_INT64(7), "path",
	    BCON_UTF8("/"));
	raw_send(fd, bson_get_data(b), b->len);
	bson_destroy(b);
	ck_assert_int_eq(raw_reply(fd, &id, &err), 0);
	ck_assert_int_eq(id, 7);
	ck_assert_int_eq(err, BT_ESTATE);
	/* unknown op, wrong types, an extra field */
	b = BCON_NEW("op", BCON_UTF8("explode"), "id", BCON_INT64(8));
	raw_send(fd, bson_get_data(b), b->len);
	bson_destroy(b);
	ck_assert_int_eq(raw_reply(fd, &id, &err), 0);
	ck_assert_int_eq(id, 8);
	ck_assert_int_eq(err, BTAPI_EBADOP);
	b = BCON_NEW("op", BCON_UTF8("hello"), "id", BCON_INT64(9), "version",
	    BCON_UTF8("1"));
	raw_send(fd, bson_get_data(b), b->len);
	bson_destroy(b);
	ck_assert_int_eq(raw_reply(fd, &id, &err), 0);
	ck_assert_int_eq(id, 9);
	ck_assert_int_eq(err, BT_EFORMAT);
	b = BCON_NEW("op", BCON_UTF8("hello"), "id", BCON_INT64(10), "version",
	    BCON_INT32(1), "evil", BCON_INT32(1));
	raw_send(fd, bson_get_data(b), b->len);
	bson_destroy(b);
	ck_assert_int_eq(raw_reply(fd, &id, &err), 0);
	ck_assert_int_eq(err, BT_EFORMAT);
	/* a frame length below a document's */
	raw_send(fd, NULL, 0);
	ck_assert_int_eq(raw_reply(fd, &id, &err), -1);
	close(fd);

	/* oversize: only that client is closed */
	fd2 = raw_connect();
	ck_assert_int_eq(write(fd2, big, 4), 4);
	ck_assert_int_eq(raw_reply(fd2, &id, &err), -1);
	close(fd2);
	ck_assert_int_eq(do_mkdir(c, "/still", 0), BT_OK);
	btapi_close(c);
}
END_TEST

/* ---- disconnect mid-stream -------------------------------------------------------------------- */

START_TEST(disconnect_mid_stream)
{
	struct btapi *a = connect_as(NULL, 0, BT_OK);
	struct btapi *b = connect_as(NULL, 0, BT_OK);
	struct res r, g;
	uint8_t chunk[100000];
	int i;

	ck_assert_int_eq(do_put(a, "/keep.txt", "old contents", 12), BT_OK);
	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(btapi_stream_open(b, "/keep.txt", BTAPI_WRITE, 0,
	    r_open, &r), BT_OK);
	WAIT(r);
	ck_assert_int_eq(r.err, BT_OK);
	memset(chunk, 'n', sizeof(chunk));
	for (i = 0; i < 10; i++) {
		memset(&g, 0, sizeof(g));
		ck_assert_int_eq(btapi_stream_write(r.s, chunk, sizeof(chunk),
		    r_done, &g), BT_OK);
		WAIT(g);
		ck_assert_int_eq(g.err, BT_OK);
	}
	btapi_close(b);		/* the stream is never closed */
	run_for(50);
	memset(&g, 0, sizeof(g));
	ck_assert_int_eq(do_get(a, "/keep.txt", &g), BT_OK);
	ck_assert_uint_eq(g.len, 12);
	ck_assert_mem_eq(g.buf, "old contents", 12);
	btapi_close(a);
}
END_TEST

/* ---- local RPC ------------------------------------------------------------------------------------ */

struct rpcstate {
	int n;
	int mode;		/* 0 echo, 1 error, 2 hold */
	struct btapi_rpc *held;
	char scope[64];
};

static void
rpc_echo(void *arg, struct btapi_rpc *req, const struct bt_id *from,
    const char *scope, const uint8_t *args, size_t len)
{
	struct rpcstate *s = arg;

	(void)from;
	s->n++;
	snprintf(s->scope, sizeof(s->scope), "%s", scope);
	if (s->mode == 0)
		ck_assert_int_eq(btapi_rpc_reply(req, args, len), BT_OK);
	else if (s->mode == 1)
		ck_assert_int_eq(btapi_rpc_error(req, BT_ENOSPC, "full"),
		    BT_OK);
	else
		s->held = req;
}

struct callres {
	int done, err, code;
	char text[64];
	uint8_t doc[256];
	size_t len;
};

static void
call_done(void *arg, int err, int code, const char *text, const uint8_t *d,
    size_t len)
{
	struct callres *r = arg;

	r->done = 1;
	r->err = err;
	r->code = code;
	snprintf(r->text, sizeof(r->text), "%s", text);
	if (d != NULL && len <= sizeof(r->doc)) {
		memcpy(r->doc, d, len);
		r->len = len;
	}
}

START_TEST(local_rpc)
{
	struct btapi *h = connect_as(NULL, 0, BT_OK);
	struct btapi *c = connect_as(NULL, 0, BT_OK);
	struct rpcstate s;
	struct callres cr;
	struct res r;
	struct bt_id node, other;
	bson_t *args;
	bson_t got;
	bson_iter_t it;

	ck_assert_int_eq(btapi_node(c, &node, NULL), BT_OK);
	memset(&s, 0, sizeof(s));
	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(btapi_handle(h, "echo", rpc_echo, &s, r_done, &r),
	    BT_OK);
	WAIT(r);
	ck_assert_int_eq(r.err, BT_OK);
	args = BCON_NEW("n", BCON_INT32(42));
	memset(&cr, 0, sizeof(cr));
	ck_assert_int_eq(btapi_call(c, &node, "echo", bson_get_data(args),
	    args->len, 0, call_done, &cr), BT_OK);
	run_until(&cr.done, 3000);
	ck_assert_int_eq(cr.err, BT_OK);
	ck_assert_int_eq(s.n, 1);
	ck_assert_str_eq(s.scope, "echo");
	ck_assert(bson_init_static(&got, cr.doc, cr.len));
	ck_assert(bson_iter_init_find(&it, &got, "n"));
	ck_assert_int_eq(bson_iter_int32(&it), 42);
	/* the handler's error */
	s.mode = 1;
	memset(&cr, 0, sizeof(cr));
	ck_assert_int_eq(btapi_call(c, &node, "echo", NULL, 0, 0, call_done,
	    &cr), BT_OK);
	run_until(&cr.done, 3000);
	ck_assert_int_eq(cr.err, BTNET_EREMOTE);
	ck_assert_int_eq(cr.code, BT_ENOSPC);
	ck_assert_str_eq(cr.text, "full");
	/* one way */
	s.mode = 0;
	memset(&cr, 0, sizeof(cr));
	ck_assert_int_eq(btapi_call(c, &node, "echo", NULL, 0, 1, call_done,
	    &cr), BT_OK);
	run_until(&cr.done, 3000);
	ck_assert_int_eq(cr.err, BT_OK);
	ck_assert_uint_eq(cr.len, 0);
	/* no such scope; another node without a network */
	memset(&cr, 0, sizeof(cr));
	ck_assert_int_eq(btapi_call(c, &node, "nobody", NULL, 0, 0, call_done,
	    &cr), BT_OK);
	run_until(&cr.done, 3000);
	ck_assert_int_eq(cr.err, BTNET_ENOSCOPE);
	memset(&other, 7, sizeof(other));
	memset(&cr, 0, sizeof(cr));
	ck_assert_int_eq(btapi_call(c, &other, "echo", NULL, 0, 0, call_done,
	    &cr), BT_OK);
	run_until(&cr.done, 3000);
	ck_assert_int_eq(cr.err, BTAPI_EOFFLINE);
	ck_assert_int_eq(btapi_call(c, &node, "echo", (const uint8_t *)"xx", 2,
	    0, call_done, &cr), BT_EFORMAT);
	/* the handler goes away while a call waits */
	s.mode = 2;
	s.n = 0;
	memset(&cr, 0, sizeof(cr));
	ck_assert_int_eq(btapi_call(c, &node, "echo", NULL, 0, 0, call_done,
	    &cr), BT_OK);
	run_until(&s.n, 3000);
	btapi_close(h);
	run_until(&cr.done, 3000);
	ck_assert_int_eq(cr.err, BTAPI_EGONE);
	bson_destroy(args);
	btapi_close(c);
}
END_TEST

/* ---- HTTP through the gateway's API ------------------------------------------------------------------ */

struct gw {
	int head, ended, end_status, status;
	char hdr[64];
	char body[256];
	size_t blen;
};

static void
gw_head(void *arg, int status, const struct btapi_header *h, size_t n)
{
	struct gw *g = arg;

	g->head = 1;
	g->status = status;
	if (n > 0)
		snprintf(g->hdr, sizeof(g->hdr), "%s: %s", h[0].name,
		    h[0].value);
}

static void
gw_body(void *arg, const void *d, size_t len)
{
	struct gw *g = arg;

	if (g->blen + len < sizeof(g->body)) {
		memcpy(g->body + g->blen, d, len);
		g->blen += len;
	}
}

static void
gw_end(void *arg, int status)
{
	struct gw *g = arg;

	g->ended = 1;
	g->end_status = status;
}

static const struct btapi_http_cbs gw_cbs = { gw_head, gw_body, gw_end, NULL };

struct prog {
	int requests;
	char method[16], uri[128], hdr[64], body[128];
	size_t blen;
	int body_ended, aborted;
	struct btapi_http *req;
	int hold;
};

static void
prog_request(void *arg, struct btapi_http *req, const char *method,
    const char *host, const char *uri, const struct btapi_header *h,
    size_t n)
{
	struct prog *p = arg;

	(void)host;
	p->requests++;
	p->req = req;
	snprintf(p->method, sizeof(p->method), "%s", method);
	snprintf(p->uri, sizeof(p->uri), "%s", uri);
	if (n > 0)
		snprintf(p->hdr, sizeof(p->hdr), "%s=%s", h[0].name,
		    h[0].value);
}

static void
prog_body(void *arg, struct btapi_http *req, const void *d, size_t len,
    int end)
{
	struct prog *p = arg;
	static const struct btapi_header hh[] = { { "Content-Type",
	    "text/plain" } };

	if (p->blen + len < sizeof(p->body)) {
		memcpy(p->body + p->blen, d, len);
		p->blen += len;
	}
	if (!end)
		return;
	p->body_ended = 1;
	if (p->hold)
		return;
	ck_assert_int_eq(btapi_http_respond(req, 201, hh, 1, "got ", 4, 0),
	    BT_OK);
	ck_assert_int_eq(btapi_http_send(req, p->body, p->blen, 1), BT_OK);
}

static void
prog_abort(void *arg, struct btapi_http *req)
{
	struct prog *p = arg;

	(void)req;
	p->aborted++;
}

static const struct btapi_route_cbs prog_cbs = { prog_request, prog_body,
    prog_abort };

START_TEST(gateway_http)
{
	struct btapi *c = connect_as(NULL, 0, BT_OK);
	struct btapi_http_req *hr;
	struct prog p;
	struct gw g;
	struct res r;
	static const struct btapi_header hdrs[] = { { "X-Test", "yes" } };
	static const struct btapi_header badh[] = { { "Bad Name", "x" } };

	memset(&p, 0, sizeof(p));
	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(btapi_route(c, "site.example", "/app", &prog_cbs, &p,
	    r_done, &r), BT_OK);
	WAIT(r);
	ck_assert_int_eq(r.err, BT_OK);
	ck_assert_int_eq(btapi_server_http_find(F.srv, "SITE.example",
	    "/app/x"), BT_OK);
	ck_assert_int_eq(btapi_server_http_find(F.srv, "site.example", "/app"),
	    BT_OK);
	ck_assert_int_eq(btapi_server_http_find(F.srv, "site.example",
	    "/apple"), BTAPI_ENOHANDLER);
	ck_assert_int_eq(btapi_server_http_find(F.srv, "other.example",
	    "/app"), BTAPI_ENOHANDLER);

	memset(&g, 0, sizeof(g));
	ck_assert_int_eq(btapi_server_http_start(&hr, F.srv, "POST",
	    "site.example", "/app/items?x=1", hdrs, 1, &gw_cbs, &g), BT_OK);
	ck_assert_int_eq(btapi_server_http_body(hr, "hello ", 6, 0), BT_OK);
	ck_assert_int_eq(btapi_server_http_body(hr, "body", 4, 1), BT_OK);
	ck_assert_int_eq(btapi_server_http_body(hr, "x", 1, 1), BT_ESTATE);
	run_until(&g.ended, 3000);
	ck_assert_int_eq(p.requests, 1);
	ck_assert_str_eq(p.method, "POST");
	ck_assert_str_eq(p.uri, "/app/items?x=1");
	ck_assert_str_eq(p.hdr, "X-Test=yes");
	ck_assert_str_eq(p.body, "hello body");
	ck_assert_int_eq(g.end_status, BT_OK);
	ck_assert_int_eq(g.status, 201);
	ck_assert_str_eq(g.hdr, "Content-Type: text/plain");
	ck_assert_uint_eq(g.blen, 14);
	ck_assert_mem_eq(g.body, "got hello body", 14);

	/* refusals at the gateway side */
	ck_assert_int_eq(btapi_server_http_start(&hr, F.srv, "GET",
	    "nobody.example", "/", NULL, 0, &gw_cbs, &g), BTAPI_ENOHANDLER);
	ck_assert_ptr_null(hr);
	ck_assert_int_eq(btapi_server_http_start(&hr, F.srv, "GET",
	    "site.example", "/app", badh, 1, &gw_cbs, &g), BT_EFORMAT);

	/* the gateway gives up: the program hears an abort */
	memset(&p, 0, sizeof(p));
	p.hold = 1;
	memset(&g, 0, sizeof(g));
	ck_assert_int_eq(btapi_server_http_start(&hr, F.srv, "GET",
	    "site.example", "/app", NULL, 0, &gw_cbs, &g), BT_OK);
	ck_assert_int_eq(btapi_server_http_body(hr, NULL, 0, 1), BT_OK);
	run_until(&p.body_ended, 3000);
	btapi_server_http_cancel(hr);
	run_until(&p.aborted, 3000);
	ck_assert_int_eq(g.ended, 0);

	/* the program goes away mid-request: 502 material */
	memset(&p, 0, sizeof(p));
	p.hold = 1;
	memset(&g, 0, sizeof(g));
	ck_assert_int_eq(btapi_server_http_start(&hr, F.srv, "GET",
	    "site.example", "/app", NULL, 0, &gw_cbs, &g), BT_OK);
	ck_assert_int_eq(btapi_server_http_body(hr, NULL, 0, 1), BT_OK);
	run_until(&p.body_ended, 3000);
	btapi_close(c);
	run_until(&g.ended, 3000);
	ck_assert_int_eq(g.end_status, BTAPI_EGONE);
	ck_assert_int_eq(btapi_server_http_find(F.srv, "site.example", "/app"),
	    BTAPI_ENOHANDLER);
}
END_TEST

/* ---- HTTP requests to other hosts ------------------------------------------------------------------- */

static void
origin_cb(struct evhttp_request *req, void *arg)
{
	struct evbuffer *b = evbuffer_new();

	(void)arg;
	evbuffer_add_printf(b, "you asked %s", evhttp_request_get_uri(req));
	evhttp_add_header(evhttp_request_get_output_headers(req), "X-Origin",
	    "1");
	evhttp_send_reply(req, 200, "OK", b);
	evbuffer_free(b);
}

struct hres {
	int done, err, status;
	char body[128];
	int saw_hdr;
};

static void
hres_cb(void *arg, int err, int status, const struct btapi_header *h,
    size_t n, const void *body, size_t len)
{
	struct hres *r = arg;
	size_t i;

	r->done = 1;
	r->err = err;
	r->status = status;
	for (i = 0; i < n; i++)
		if (strcmp(h[i].name, "X-Origin") == 0)
			r->saw_hdr = 1;
	if (len < sizeof(r->body)) {
		if (len > 0)
			memcpy(r->body, body, len);
		r->body[len] = '\0';
	}
}

START_TEST(http_client)
{
	struct evhttp *h = evhttp_new(F.base);
	struct evhttp_bound_socket *bs;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char url[128];
	struct hres r;
	int port;

	ck_assert_ptr_nonnull(h);
	evhttp_set_gencb(h, origin_cb, NULL);
	ck_assert_ptr_nonnull(bs = evhttp_bind_socket_with_handle(h,
	    "127.0.0.1", 0));
	ck_assert_int_eq(getsockname(evhttp_bound_socket_get_fd(bs),
	    (struct sockaddr *)&ss, &sl), 0);
	port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/a/b?c=d", port);
	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(btapi_http_request(F.base, "GET", url, NULL, 0, NULL,
	    0, 3000, 0, hres_cb, &r), BT_OK);
	run_until(&r.done, 5000);
	ck_assert_int_eq(r.err, BT_OK);
	ck_assert_int_eq(r.status, 200);
	ck_assert_int_eq(r.saw_hdr, 1);
	ck_assert_str_eq(r.body, "you asked /a/b?c=d");
	/* a body over the limit */
	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(btapi_http_request(F.base, "GET", url, NULL, 0, NULL,
	    0, 3000, 4, hres_cb, &r), BT_OK);
	run_until(&r.done, 5000);
	ck_assert_int_eq(r.err, BTAPI_EHTTP);
	ck_assert_int_eq(btapi_http_request(F.base, "GET", "https://x/", NULL,
	    0, NULL, 0, 0, 0, hres_cb, &r), BT_EUNSUPPORTED);
	ck_assert_int_eq(btapi_http_request(F.base, "GET", "ftp://x/", NULL,
	    0, NULL, 0, 0, 0, hres_cb, &r), BT_EFORMAT);
	ck_assert_int_eq(btapi_http_request(F.base, "BREW", url, NULL,
	    0, NULL, 0, 0, 0, hres_cb, &r), BT_EINVAL);
	evhttp_free(h);
}
END_TEST

START_TEST(errors_text)
{
	ck_assert_str_eq(btapi_strerror(BTAPI_ELOCKED),
	    "the path is locked by another program");
	ck_assert_str_eq(btapi_strerror(BT_ENOTFOUND),
	    btcore_strerror(BT_ENOTFOUND));
	ck_assert_str_eq(btapi_strerror(BTSTORE_EISDIR),
	    btstore_strerror(BTSTORE_EISDIR));
	ck_assert_str_eq(btapi_version(), "0.1.0");
}
END_TEST

Suite *
suite_server(void)
{
	Suite *s = suite_create("server");
	TCase *tc = tcase_create("server");

	tcase_add_checked_fixture(tc, fx_setup, fx_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, ops_round_trip);
	tcase_add_test(tc, pipelined_big_file);
	tcase_add_test(tc, rw_stream);
	tcase_add_test(tc, text_lines);
	tcase_add_test(tc, watch_events);
	tcase_add_test(tc, locks);
	tcase_add_test(tc, manifest_limits);
	tcase_add_test(tc, socket_permissions);
	tcase_add_test(tc, malformed_frames);
	tcase_add_test(tc, disconnect_mid_stream);
	tcase_add_test(tc, local_rpc);
	tcase_add_test(tc, gateway_http);
	tcase_add_test(tc, http_client);
	tcase_add_test(tc, errors_text);
	suite_add_tcase(s, tc);
	return s;
}
