/*
 * test_gateway.c - the HTTP gateway: static route syntax, and static
 * content served from a real store over a real socket (index, ETag, 304,
 * Range 206/416, MIME types, 404, redirects), reload and limits, the
 * header block limit (431 up to evhttp's hard limit, 400 beyond), files
 * served again after they change.  Request bodies to a program (in a
 * child process, over a real API server) stream: the program has the
 * first part before the client sends the rest, a slow program keeps the
 * gateway's memory bounded under a 64 MiB upload, chunked bodies, 413,
 * 400 for bad framing, 100-continue, bodies to static routes dropped.
 * Other requests to programs are covered by test_server.c and
 * gateway-http.sh.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include <bt/api.h>
#include <bt/apigateway.h>
#include <bt/apiserver.h>
#include <bt/error.h>
#include <bt/id.h>
#include <bt/key.h>
#include <bt/ns.h>
#include <bt/store.h>
#include <bt/tree.h>

Suite *suite_gateway(void);

static char dir[64];
static struct btstore *st;
static struct btcore_key *key;
static struct btcore_signer sg;
static char home[BT_ID_HEX_LEN + 1];
static struct event_base *base;
static struct btapi_gateway *gw;
static struct btapi_server *srv;
static char sock_path[96];
static pid_t prog_pid;

static void
put(const char *rel, const char *data)
{
	char p[256];

	snprintf(p, sizeof(p), "/%s%s", home, rel);
	ck_assert_int_eq(btstore_ns_write(st, &sg, p, strlen(p), data,
	    strlen(data), BTCORE_TREE_SEQUENTIAL, NULL, 0, NULL), BT_OK);
}

static void
mkd(const char *rel)
{
	char p[256];

	snprintf(p, sizeof(p), "/%s%s", home, rel);
	ck_assert_int_eq(btstore_ns_mkdir(st, &sg, p, strlen(p),
	    BTSTORE_NS_PARENTS, NULL), BT_OK);
}

static void
setup(void)
{
	struct btstore_options *o;
	struct bt_id id;

	signal(SIGPIPE, SIG_IGN);
	snprintf(dir, sizeof(dir), "%s", "/tmp/btapi-gw-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_eq(btstore_options_new(&o), BT_OK);
	ck_assert_int_eq(btstore_options_set(o, BTSTORE_OPT_NOSYNC, 1), BT_OK);
	ck_assert_int_eq(btstore_open(&st, dir, o), BT_OK);
	btstore_options_free(o);
	ck_assert_int_eq(btcore_key_generate(&key), BT_OK);
	btcore_key_signer(key, &sg);
	memcpy(id.b, sg.pub.b, BT_ID_LEN);
	btcore_id_to_hex(&id, home);
	ck_assert_int_eq(btstore_ns_create(st, &sg), BT_OK);
	mkd("/site/docs");
	mkd("/site/empty");
	put("/site/index.html", "<h1>home</h1>");
	put("/site/a.txt", "0123456789");
	put("/site/docs/x.css", "b{}");
	ck_assert_ptr_nonnull(base = event_base_new());
	gw = NULL;
	srv = NULL;
	prog_pid = 0;
	snprintf(sock_path, sizeof(sock_path), "%s/api.sock", dir);
}

static void
teardown(void)
{
	char p[128];

	if (prog_pid > 0) {
		kill(prog_pid, SIGKILL);
		waitpid(prog_pid, NULL, 0);
	}
	btapi_gateway_close(gw);
	gw = NULL;
	btapi_server_close(srv);
	srv = NULL;
	unlink(sock_path);
	event_base_free(base);
	btstore_close(st);
	btcore_key_free(key);
	snprintf(p, sizeof(p), "%s/data.mdb", dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/lock.mdb", dir);
	unlink(p);
	rmdir(dir);
}

/* ---- HTTP through the loop ------------------------------------------------ */

struct resp {
	int done, err, status;
	char body[4096];
	size_t len;
	char etag[128], type[128], range[128];
};

static void
http_cb(void *arg, int err, int status, const struct btapi_header *h,
    size_t n, const void *body, size_t len)
{
	struct resp *r = arg;
	size_t i;

	r->err = err;
	r->status = status;
	for (i = 0; i < n; i++) {
		if (strcasecmp(h[i].name, "ETag") == 0)
			snprintf(r->etag, sizeof(r->etag), "%s", h[i].value);
		else if (strcasecmp(h[i].name, "Content-Type") == 0)
			snprintf(r->type, sizeof(r->type), "%s", h[i].value);
		else if (strcasecmp(h[i].name, "Content-Range") == 0)
			snprintf(r->range, sizeof(r->range), "%s", h[i].value);
	}
	if (len >= sizeof(r->body))
		len = sizeof(r->body) - 1;
	if (len > 0)
		memcpy(r->body, body, len);
	r->body[len] = '\0';
	r->len = len;
	r->done = 1;
}

static void
expire(evutil_socket_t fd, short w, void *arg)
{
	(void)fd;
	(void)w;
	*(int *)arg = 1;
}

/* GET @p path with one optional header; the response in @p r. */
static void
get(const char *path, const char *hname, const char *hval, struct resp *r)
{
	struct btapi_header h = { hname, hval };
	char url[256];
	int expired = 0;
	struct event *t = evtimer_new(base, expire, &expired);
	struct timeval tv = { 5, 0 };

	memset(r, 0, sizeof(*r));
	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s",
	    btapi_gateway_port(gw), path);
	ck_assert_int_eq(btapi_http_request(base, "GET", url, &h,
	    hname != NULL ? 1 : 0, NULL, 0, 4000, 0, http_cb, r), BT_OK);
	evtimer_add(t, &tv);
	while (!r->done && !expired)
		event_base_loop(base, EVLOOP_ONCE);
	event_free(t);
	ck_assert_msg(r->done, "no answer for %s", path);
	ck_assert_int_eq(r->err, BT_OK);
}

static void
start(const char *route_text)
{
	struct btapi_gateway_static rt[2];
	struct btapi_gateway_config cfg;
	const char *why = NULL;

	ck_assert_int_eq(btapi_gateway_parse_static(&rt[0], route_text, home,
	    &why), BT_OK);
	ck_assert_int_eq(btapi_gateway_parse_static(&rt[1],
	    "other.example/=/site/docs listing", home, &why), BT_OK);
	btapi_gateway_config_init(&cfg);
	cfg.listen = "127.0.0.1:0";
	cfg.statics = rt;
	cfg.n_statics = 2;
	ck_assert_int_eq(btapi_gateway_open(&gw, base, NULL, st, &cfg), BT_OK);
	ck_assert_int_gt(btapi_gateway_port(gw), 0);
}

/* ---- tests ------------------------------------------------------------------ */

START_TEST(parse_static)
{
	struct btapi_gateway_static r;
	const char *why;
	char text[5000], want[80];

	ck_assert_int_eq(btapi_gateway_parse_static(&r, "/=/site", home,
	    &why), BT_OK);
	ck_assert_str_eq(r.host, "");
	ck_assert_str_eq(r.prefix, "/");
	snprintf(want, sizeof(want), "/%s/site", home);
	ck_assert_str_eq(r.target, want);
	ck_assert_int_eq(r.listing, 0);
	snprintf(text, sizeof(text), "Example.ORG/docs/=/%s/d listing", home);
	ck_assert_int_eq(btapi_gateway_parse_static(&r, text, NULL, &why),
	    BT_OK);
	ck_assert_str_eq(r.host, "example.org");
	ck_assert_str_eq(r.prefix, "/docs");
	ck_assert_int_eq(r.listing, 1);
	/* a target without namespace needs the home one */
	ck_assert_int_eq(btapi_gateway_parse_static(&r, "/=/site", NULL,
	    &why), BT_EFORMAT);
	why = NULL;
	ck_assert_int_eq(btapi_gateway_parse_static(&r, "no equals", home,
	    &why), BT_EFORMAT);
	ck_assert_ptr_nonnull(why);
	ck_assert_int_eq(r.prefix[0], '\0');
	ck_assert_int_eq(btapi_gateway_parse_static(&r, "host=/site", home,
	    NULL), BT_EFORMAT);
	ck_assert_int_eq(btapi_gateway_parse_static(&r, "/a/../b=/site", home,
	    NULL), BT_EFORMAT);
	memset(text, 'a', sizeof(text) - 1);
	text[0] = '/';
	text[sizeof(text) - 1] = '\0';
	text[4500] = '=';
	ck_assert_int_eq(btapi_gateway_parse_static(&r, text, home, NULL),
	    BT_ERANGE);
	ck_assert_int_eq(btapi_gateway_parse_static(NULL, "/=/site", home,
	    NULL), BT_EINVAL);
	ck_assert_int_eq(btapi_gateway_parse_static(&r, NULL, home, NULL),
	    BT_EINVAL);
}
END_TEST

START_TEST(static_content)
{
	struct resp r;
	char etag[128];

	start("/=/site");
	get("/", NULL, NULL, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.body, "<h1>home</h1>");
	ck_assert_ptr_nonnull(strstr(r.type, "text/html"));
	get("/a.txt", NULL, NULL, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.body, "0123456789");
	ck_assert_ptr_nonnull(strstr(r.type, "text/plain"));
	ck_assert_int_gt(strlen(r.etag), 2);
	snprintf(etag, sizeof(etag), "%s", r.etag);
	get("/a.txt", "If-None-Match", etag, &r);
	ck_assert_int_eq(r.status, 304);
	ck_assert_uint_eq(r.len, 0);
	get("/a.txt", "Range", "bytes=2-5", &r);
	ck_assert_int_eq(r.status, 206);
	ck_assert_str_eq(r.body, "2345");
	ck_assert_str_eq(r.range, "bytes 2-5/10");
	get("/a.txt", "Range", "bytes=-3", &r);
	ck_assert_int_eq(r.status, 206);
	ck_assert_str_eq(r.body, "789");
	get("/a.txt", "Range", "bytes=50-60", &r);
	ck_assert_int_eq(r.status, 416);
	get("/docs/x.css", NULL, NULL, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_ptr_nonnull(strstr(r.type, "text/css"));
	get("/missing.txt", NULL, NULL, &r);
	ck_assert_int_eq(r.status, 404);
	/* a directory without index.html is listed only when allowed */
	get("/empty", NULL, NULL, &r);
	ck_assert_int_eq(r.status, 301);
	get("/empty/", NULL, NULL, &r);
	ck_assert_int_eq(r.status, 404);
	get("/../a.txt", NULL, NULL, &r);
	ck_assert_int_ne(r.status, 200);
}
END_TEST

START_TEST(reload_and_limits)
{
	struct btapi_gateway_static rt;
	struct btapi_gateway_config cfg;
	struct btapi_gateway *g2 = (struct btapi_gateway *)1;
	struct resp r;

	btapi_gateway_config_init(&cfg);
	ck_assert_str_eq(cfg.listen, "127.0.0.1:8080");
	ck_assert_uint_eq(cfg.timeout_s, 30);
	cfg.listen = "not an address";
	ck_assert_int_ne(btapi_gateway_open(&g2, base, NULL, st, &cfg), BT_OK);
	ck_assert_ptr_null(g2);
	start("/docs=/site/docs");
	get("/docs/x.css", NULL, NULL, &r);
	ck_assert_int_eq(r.status, 200);
	get("/a.txt", NULL, NULL, &r);
	ck_assert_int_eq(r.status, 404);
	/* new routes; the listen address cannot change */
	ck_assert_int_eq(btapi_gateway_parse_static(&rt, "/=/site", home, NULL),
	    BT_OK);
	btapi_gateway_config_init(&cfg);
	cfg.listen = "127.0.0.1:1";
	cfg.statics = &rt;
	cfg.n_statics = 1;
	ck_assert_int_eq(btapi_gateway_reload(gw, &cfg), BT_EINVAL);
	get("/a.txt", NULL, NULL, &r);
	ck_assert_int_eq(r.status, 404);
	cfg.listen = "127.0.0.1:0";
	ck_assert_int_eq(btapi_gateway_reload(gw, &cfg), BT_OK);
	get("/a.txt", NULL, NULL, &r);
	ck_assert_int_eq(r.status, 200);
	btapi_gateway_close(NULL);
	ck_assert_int_eq(btapi_gateway_port(NULL), 0);
}
END_TEST

/*
 * Send @p len bytes of a raw request to the gateway, running the loop,
 * and return the reply's status code (0: none); *closed tells whether
 * the gateway closed the connection after it.
 */
static int
raw_status(const char *req, size_t len, int *closed)
{
	struct sockaddr_in sa;
	char buf[8192];
	size_t got = 0, sent = 0;
	ssize_t n;
	time_t t0 = time(NULL);
	int fd, status = 0;

	*closed = 0;
	ck_assert_int_ge(fd = socket(AF_INET, SOCK_STREAM, 0), 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)btapi_gateway_port(gw));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	while (time(NULL) - t0 < 5) {
		if (sent < len) {
			n = send(fd, req + sent, len - sent,
			    MSG_DONTWAIT | MSG_NOSIGNAL);
			if (n > 0)
				sent += (size_t)n;
		}
		event_base_loop(base, EVLOOP_NONBLOCK);
		n = recv(fd, buf + got, sizeof(buf) - 1 - got, MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN &&
		    errno != EWOULDBLOCK)) {
			*closed = 1;
			break;
		}
		if (n > 0)
			got += (size_t)n;
		if (got == sizeof(buf) - 1)
			break;
		usleep(1000);
	}
	buf[got] = '\0';
	if (strncmp(buf, "HTTP/1.1 ", 9) == 0)
		status = (int)strtol(buf + 9, NULL, 10);
	close(fd);
	return status;
}

/* A GET of /a.txt whose header block is exactly @p size bytes as the
 * gateway counts it (request line and header lines without CRLF). */
static size_t
sized_request(char *out, size_t cap, size_t size)
{
	static const char line[] = "GET /a.txt HTTP/1.1";
	static const char host[] = "Host: a";
	static const char pad[] = "X-Pad: ";
	size_t fixed = strlen(line) + strlen(host) + strlen(pad), n, o;

	ck_assert_uint_gt(size, fixed);
	n = size - fixed;
	ck_assert_uint_lt(fixed + n + 16, cap);
	o = (size_t)snprintf(out, cap, "%s\r\n%s\r\n%s", line, host, pad);
	memset(out + o, 'p', n);
	o += n;
	memcpy(out + o, "\r\nConnection: close\r\n\r\n", 23);
	return o + 23;
}

START_TEST(header_limit)
{
	struct btapi_gateway_static rt;
	struct btapi_gateway_config cfg;
	static char req[16384];
	size_t len;
	int closed;

	ck_assert_int_eq(btapi_gateway_parse_static(&rt, "/=/site", home, NULL),
	    BT_OK);
	btapi_gateway_config_init(&cfg);
	cfg.listen = "127.0.0.1:0";
	cfg.statics = &rt;
	cfg.n_statics = 1;
	cfg.max_header_bytes = 1024;
	ck_assert_int_eq(btapi_gateway_open(&gw, base, NULL, st, &cfg), BT_OK);
	/* "Connection: close" (17) counts too */
	len = sized_request(req, sizeof(req), 1024 - 17);
	ck_assert_int_eq(raw_status(req, len, &closed), 200);
	len = sized_request(req, sizeof(req), 1024 - 17 + 1);
	ck_assert_int_eq(raw_status(req, len, &closed), 431);
	ck_assert(closed);
	len = sized_request(req, sizeof(req), 3000);
	ck_assert_int_eq(raw_status(req, len, &closed), 431);
	ck_assert(closed);
	/* up to evhttp's hard limit (4 x 1024) it is 431, beyond it 400 */
	len = sized_request(req, sizeof(req), 4 * 1024 - 17);
	ck_assert_int_eq(raw_status(req, len, &closed), 431);
	len = sized_request(req, sizeof(req), 4 * 1024 + 100);
	ck_assert_int_eq(raw_status(req, len, &closed), 400);
	ck_assert(closed);
	/* still serving */
	len = sized_request(req, sizeof(req), 100);
	ck_assert_int_eq(raw_status(req, len, &closed), 200);
	/* a small limit keeps the hard limit above it */
	btapi_gateway_close(gw);
	gw = NULL;
	cfg.max_header_bytes = 256;
	ck_assert_int_eq(btapi_gateway_open(&gw, base, NULL, st, &cfg), BT_OK);
	len = sized_request(req, sizeof(req), 600);
	ck_assert_int_eq(raw_status(req, len, &closed), 431);
}
END_TEST

START_TEST(changed_files)
{
	struct resp r;
	char etag[128];

	start("/=/site");
	/* served twice (the second from memory), then changed */
	get("/a.txt", NULL, NULL, &r);
	ck_assert_str_eq(r.body, "0123456789");
	snprintf(etag, sizeof(etag), "%s", r.etag);
	get("/a.txt", NULL, NULL, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.body, "0123456789");
	get("/a.txt", "Range", "bytes=3-4", &r);
	ck_assert_int_eq(r.status, 206);
	ck_assert_str_eq(r.body, "34");
	put("/site/a.txt", "abcdefghijk");
	get("/a.txt", NULL, NULL, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.body, "abcdefghijk");
	ck_assert_str_ne(r.etag, etag);
	get("/a.txt", "Range", "bytes=-2", &r);
	ck_assert_int_eq(r.status, 206);
	ck_assert_str_eq(r.body, "jk");
	/* the same bytes at another path: same ETag, same body */
	put("/site/b.txt", "abcdefghijk");
	get("/b.txt", NULL, NULL, &r);
	ck_assert_str_eq(r.body, "abcdefghijk");
	get("/a.txt", NULL, NULL, &r);
	snprintf(etag, sizeof(etag), "%s", r.etag);
	get("/b.txt", NULL, NULL, &r);
	ck_assert_str_eq(r.etag, etag);
	/* an empty file */
	put("/site/e.txt", "");
	get("/e.txt", NULL, NULL, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_uint_eq(r.len, 0);
}
END_TEST

/* ---- request bodies to a program ------------------------------------------ */

/*
 * The program, in a child process: routes 127.0.0.1/up and answers a
 * request when its body has ended, 200 with the number of body bytes it
 * got.  After each piece it writes that number so far (uint64_t) to its
 * pipe, then sleeps delay_us: a slow reader.
 */
struct prog {
	int fd;
	unsigned delay_us;
	uint64_t total;
	struct btapi *c;
};

static void
prog_request(void *arg, struct btapi_http *req, const char *method,
    const char *host, const char *uri, const struct btapi_header *h,
    size_t n)
{
	(void)arg;
	(void)req;
	(void)method;
	(void)host;
	(void)uri;
	(void)h;
	(void)n;
}

static void
prog_body(void *arg, struct btapi_http *req, const void *data, size_t len,
    int end)
{
	struct prog *pg = arg;
	struct btapi_header h = { "Content-Length", NULL };
	char out[32], cl[16];
	int n;

	(void)data;
	pg->total += len;
	(void)!write(pg->fd, &pg->total, sizeof(pg->total));
	if (pg->delay_us > 0)
		usleep(pg->delay_us);
	if (end) {
		n = snprintf(out, sizeof(out), "%llu",
		    (unsigned long long)pg->total);
		pg->total = 0;
		snprintf(cl, sizeof(cl), "%d", n);
		h.value = cl;
		(void)!btapi_http_respond(req, 200, &h, 1, out, (size_t)n, 1);
	}
}

static void
prog_abort(void *arg, struct btapi_http *req)
{
	(void)req;
	((struct prog *)arg)->total = 0;
}

static const struct btapi_route_cbs PROG_CBS = {
	prog_request, prog_body, prog_abort
};

static void
prog_routed(void *arg, int err)
{
	struct prog *pg = arg;
	uint64_t ready = UINT64_MAX;

	if (err != BT_OK)
		_exit(3);
	(void)!write(pg->fd, &ready, sizeof(ready));
}

static void
prog_hello(void *arg, int err)
{
	struct prog *pg = arg;

	if (err != BT_OK || btapi_route(pg->c, "127.0.0.1", "/up", &PROG_CBS,
	    pg, prog_routed, pg) != BT_OK)
		_exit(2);
}

static void
prog_closed(void *arg, int err)
{
	(void)arg;
	(void)err;
	_exit(0);
}

/* The last count the program wrote (UINT64_MAX: ready), or *last. */
static uint64_t
prog_count(int fd, uint64_t last)
{
	uint64_t v;

	while (read(fd, &v, sizeof(v)) == (ssize_t)sizeof(v))
		last = v;
	return last;
}

/*
 * An API server and a gateway on it (max_body bytes of body; the
 * program answers within timeout_ms; max_output bytes queued to it),
 * and the program, reading @p delay_us slowly.  Returns the read end of
 * the program's pipe.
 */
static int
start_program(uint64_t max_body, uint32_t timeout_ms, uint32_t max_output,
    unsigned delay_us)
{
	struct btapi_server_config scfg;
	struct btapi_gateway_config cfg;
	struct prog pg;
	struct event_base *b;
	uint64_t v = 0;
	time_t t0;
	int fds[2];

	btapi_server_config_init(&scfg);
	scfg.socket_path = sock_path;
	scfg.store = st;
	scfg.signer = &sg;
	scfg.request_timeout_ms = timeout_ms;
	if (max_output > 0)
		scfg.max_output = max_output;
	ck_assert_int_eq(btapi_server_open(&srv, base, &scfg), BT_OK);
	btapi_gateway_config_init(&cfg);
	cfg.listen = "127.0.0.1:0";
	cfg.max_body_bytes = max_body;
	cfg.max_header_bytes = 4096;
	ck_assert_int_eq(btapi_gateway_open(&gw, base, srv, st, &cfg), BT_OK);
	ck_assert_int_eq(pipe(fds), 0);
	ck_assert_int_ge(prog_pid = fork(), 0);
	if (prog_pid == 0) {
		close(fds[0]);
		memset(&pg, 0, sizeof(pg));
		pg.fd = fds[1];
		pg.delay_us = delay_us;
		if ((b = event_base_new()) == NULL ||
		    btapi_open(&pg.c, b, sock_path, NULL, 0, prog_hello,
		    &pg) != BT_OK)
			_exit(1);
		btapi_set_closed_cb(pg.c, prog_closed, &pg);
		event_base_dispatch(b);
		_exit(0);
	}
	close(fds[1]);
	ck_assert_int_eq(fcntl(fds[0], F_SETFL, O_NONBLOCK), 0);
	t0 = time(NULL);
	while (v != UINT64_MAX && time(NULL) - t0 < 5) {
		event_base_loop(base, EVLOOP_NONBLOCK);
		v = prog_count(fds[0], v);
		usleep(1000);
	}
	ck_assert_msg(v == UINT64_MAX, "the program did not start");
	return fds[0];
}

static int
gw_connect(void)
{
	struct sockaddr_in sa;
	int fd;

	ck_assert_int_ge(fd = socket(AF_INET, SOCK_STREAM, 0), 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)btapi_gateway_port(gw));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
	return fd;
}

/* What the gateway has sent on @p fd; *closed when it closed. */
struct rx {
	char buf[8192];
	size_t len;
	int closed;
};

static void
rx_poll(int fd, struct rx *r)
{
	ssize_t n;

	if (r->closed || r->len + 1 >= sizeof(r->buf))
		return;
	n = recv(fd, r->buf + r->len, sizeof(r->buf) - 1 - r->len, 0);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
		r->closed = 1;
	else if (n > 0)
		r->len += (size_t)n;
	r->buf[r->len] = '\0';
}

/* The status of the first answer in @p r (0: none yet). */
static int
rx_status(const struct rx *r)
{
	const char *p = r->buf;

	if (strncmp(p, "HTTP/1.1 100 ", 13) == 0 &&
	    (p = strstr(p, "\r\n\r\n")) != NULL)
		p += 4;
	if (p == NULL || strncmp(p, "HTTP/1.1 ", 9) != 0 ||
	    strstr(p, "\r\n\r\n") == NULL)
		return 0;
	return (int)strtol(p + 9, NULL, 10);
}

/* The body of the first answer (after its header block), or "". */
static const char *
rx_body(const struct rx *r)
{
	const char *p = strstr(r->buf, "\r\n\r\n");

	if (p != NULL && strncmp(r->buf, "HTTP/1.1 100 ", 13) == 0)
		p = strstr(p + 4, "\r\n\r\n");
	return p != NULL ? p + 4 : "";
}

/*
 * Send @p len bytes (@p data, or a pattern when NULL) on @p fd while
 * running the loop; *count follows the program's pipe @p pfd.
 */
static void
send_all(int fd, const char *data, size_t len, int pfd, uint64_t *count,
    struct rx *r)
{
	static char pat[65536];
	size_t sent = 0, k;
	ssize_t n;
	time_t t0 = time(NULL);

	memset(pat, 'b', sizeof(pat));
	while (sent < len) {
		ck_assert_msg(time(NULL) - t0 < 20, "send stalled at %zu",
		    sent);
		k = len - sent;
		if (data == NULL && k > sizeof(pat))
			k = sizeof(pat);
		n = send(fd, data != NULL ? data + sent : pat, k,
		    MSG_NOSIGNAL);
		if (n > 0)
			sent += (size_t)n;
		else if (errno != EAGAIN && errno != EWOULDBLOCK)
			ck_abort_msg("send: %s", strerror(errno));
		event_base_loop(base, EVLOOP_NONBLOCK);
		if (pfd >= 0)
			*count = prog_count(pfd, *count);
		if (r != NULL)
			rx_poll(fd, r);
	}
}

/* Run the loop until the answer in @p r (or the connection closed). */
static void
wait_answer(int fd, struct rx *r, int pfd, uint64_t *count)
{
	time_t t0 = time(NULL);

	while (time(NULL) - t0 < 10 && !r->closed &&
	    (rx_status(r) == 0 || (rx_status(r) == 200 &&
	    strlen(rx_body(r)) == 0))) {
		event_base_loop(base, EVLOOP_NONBLOCK);
		rx_poll(fd, r);
		if (pfd >= 0)
			*count = prog_count(pfd, *count);
		usleep(500);
	}
}

/* Run the loop for @p ms, following the program's count. */
static void
run_for(int ms, int pfd, uint64_t *count)
{
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		event_base_loop(base, EVLOOP_NONBLOCK);
		*count = prog_count(pfd, *count);
		usleep(1000);
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while ((t.tv_sec - t0.tv_sec) * 1000 +
	    (t.tv_nsec - t0.tv_nsec) / 1000000 < ms);
}

START_TEST(body_streams)
{
	static const char head[] = "POST /up/x HTTP/1.1\r\nHost: 127.0.0.1\r\n"
	    "Content-Length: 1048576\r\n\r\n";
	struct rx r;
	uint64_t count = 0;
	int pfd, fd;

	/* the program answers within 1 s of the body's end */
	pfd = start_program(64u << 20, 1000, 0, 0);
	fd = gw_connect();
	memset(&r, 0, sizeof(r));
	send_all(fd, head, strlen(head), pfd, &count, &r);
	send_all(fd, NULL, 512 * 1024, pfd, &count, &r);
	/* the first half reaches the program before the rest is sent */
	run_for(1500, pfd, &count);
	ck_assert_uint_eq(count, 512 * 1024);
	ck_assert_int_eq(rx_status(&r), 0);
	ck_assert(!r.closed);
	/* a client slower than the program's time to answer is no 504 */
	send_all(fd, NULL, 512 * 1024, pfd, &count, &r);
	wait_answer(fd, &r, pfd, &count);
	ck_assert_int_eq(rx_status(&r), 200);
	ck_assert_str_eq(rx_body(&r), "1048576");
	close(fd);
	close(pfd);
}
END_TEST

/* Send @p req on a new connection and wait for the answer. */
static int
exchange(const char *req, size_t len, struct rx *r)
{
	int fd = gw_connect();
	uint64_t none = 0;

	memset(r, 0, sizeof(*r));
	send_all(fd, req, len, -1, &none, r);
	wait_answer(fd, r, -1, &none);
	return fd;
}

START_TEST(body_framing)
{
	static const char chunked[] = "POST /up HTTP/1.1\r\nHost: 127.0.0.1\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n";
	static char big[70000];
	char req[512];
	struct rx r;
	uint64_t count = 0;
	int pfd, fd, i;
	time_t t0;

	pfd = start_program(1u << 20, 2000, 0, 0);
	/* a chunked body streams too, and the connection stays open */
	fd = gw_connect();
	memset(&r, 0, sizeof(r));
	send_all(fd, chunked, strlen(chunked), pfd, &count, &r);
	memset(big, 'c', sizeof(big));
	memcpy(big, "10000;ext=1\r\n", 13);
	send_all(fd, big, 13 + 65536, pfd, &count, &r);
	run_for(300, pfd, &count);
	ck_assert_uint_eq(count, 65536);
	send_all(fd, "\r\n5\r\nabcde\r\n0\r\nX-Trailer: t\r\n\r\n", 31, pfd,
	    &count, &r);
	wait_answer(fd, &r, pfd, &count);
	ck_assert_int_eq(rx_status(&r), 200);
	ck_assert_str_eq(rx_body(&r), "65541");
	ck_assert(!r.closed);
	/* a request without body on the same connection */
	memset(&r, 0, sizeof(r));
	snprintf(req, sizeof(req), "GET /up/y HTTP/1.1\r\nHost: 127.0.0.1\r\n"
	    "\r\n");
	send_all(fd, req, strlen(req), pfd, &count, &r);
	wait_answer(fd, &r, pfd, &count);
	ck_assert_int_eq(rx_status(&r), 200);
	ck_assert_str_eq(rx_body(&r), "0");
	close(fd);

	/* a chunked body over the limit: 413, the connection closes */
	fd = gw_connect();
	memset(&r, 0, sizeof(r));
	send_all(fd, chunked, strlen(chunked), pfd, &count, &r);
	memcpy(big + 13 + 65536, "\r\n", 2);
	for (i = 0; i < 17 && rx_status(&r) == 0; i++)
		send_all(fd, big, 13 + 65536 + 2, pfd, &count, &r);
	wait_answer(fd, &r, pfd, &count);
	ck_assert_int_eq(rx_status(&r), 413);
	t0 = time(NULL);
	while (!r.closed && time(NULL) - t0 < 5) {
		event_base_loop(base, EVLOOP_NONBLOCK);
		rx_poll(fd, &r);
		r.len = 0;
	}
	ck_assert(r.closed);
	close(fd);

	/* bad chunked framing: 400 */
	snprintf(req, sizeof(req), "%szz\r\n", chunked);
	close(exchange(req, strlen(req), &r));
	ck_assert_int_eq(rx_status(&r), 400);
	/* a length over the limit: 413 before any body is read */
	snprintf(req, sizeof(req), "PUT /up HTTP/1.1\r\nHost: 127.0.0.1\r\n"
	    "Content-Length: %u\r\n\r\n", (1u << 20) + 1);
	close(exchange(req, strlen(req), &r));
	ck_assert_int_eq(rx_status(&r), 413);
	/* framing that cannot be trusted: 400 */
	snprintf(req, sizeof(req), "POST /up HTTP/1.1\r\nHost: 127.0.0.1\r\n"
	    "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\nabc");
	close(exchange(req, strlen(req), &r));
	ck_assert_int_eq(rx_status(&r), 400);
	snprintf(req, sizeof(req), "POST /up HTTP/1.1\r\nHost: 127.0.0.1\r\n"
	    "Content-Length: 3\r\nContent-Length: 4\r\n\r\nabcd");
	close(exchange(req, strlen(req), &r));
	ck_assert_int_eq(rx_status(&r), 400);
	snprintf(req, sizeof(req), "POST /up HTTP/1.1\r\nHost: 127.0.0.1\r\n"
	    "Transfer-Encoding: gzip\r\n\r\n");
	close(exchange(req, strlen(req), &r));
	ck_assert_int_eq(rx_status(&r), 400);

	/* Expect: 100-continue: "100 Continue", then the body */
	fd = gw_connect();
	memset(&r, 0, sizeof(r));
	snprintf(req, sizeof(req), "POST /up HTTP/1.1\r\nHost: 127.0.0.1\r\n"
	    "Content-Length: 5\r\nExpect: 100-continue\r\n\r\n");
	send_all(fd, req, strlen(req), pfd, &count, &r);
	t0 = time(NULL);
	while (strstr(r.buf, "\r\n\r\n") == NULL && time(NULL) - t0 < 5) {
		event_base_loop(base, EVLOOP_NONBLOCK);
		rx_poll(fd, &r);
	}
	ck_assert_int_eq(strncmp(r.buf, "HTTP/1.1 100 Continue\r\n\r\n", 25),
	    0);
	send_all(fd, "hello", 5, pfd, &count, &r);
	wait_answer(fd, &r, pfd, &count);
	ck_assert_int_eq(rx_status(&r), 200);
	ck_assert_str_eq(rx_body(&r), "5");
	close(fd);
	close(pfd);
}
END_TEST

START_TEST(body_to_static)
{
	static const char two[] = "GET /a.txt HTTP/1.1\r\nHost: a\r\n"
	    "Content-Length: 19\r\n\r\nGET /x HTTP/1.1\r\n\r\n"
	    "GET /a.txt HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
	struct rx r;
	const char *second;
	int fd;

	start("/=/site");
	/* the body is dropped, not taken for the next request */
	fd = exchange(two, strlen(two), &r);
	ck_assert_int_eq(rx_status(&r), 200);
	second = strstr(rx_body(&r), "HTTP/1.1 ");
	while (second == NULL && !r.closed) {
		event_base_loop(base, EVLOOP_NONBLOCK);
		rx_poll(fd, &r);
		second = strstr(rx_body(&r), "HTTP/1.1 ");
		usleep(500);
	}
	ck_assert_ptr_nonnull(second);
	ck_assert_int_eq(strncmp(second, "HTTP/1.1 200", 12), 0);
	ck_assert_int_eq(strncmp(rx_body(&r), "0123456789", 10), 0);
	close(fd);
}
END_TEST

/* Bytes of the heap in use (this process: the gateway, the API server
   and the client). */
static size_t
heap_used(void)
{
	struct mallinfo2 mi = mallinfo2();

	return mi.uordblks + mi.hblkhd;
}

START_TEST(body_memory_bounded)
{
	char head[256];
	size_t base_heap, peak = 0, h, sent = 0, k;
	static char pat[65536];
	struct rx r;
	uint64_t count = 0, total = 64u << 20;
	ssize_t n;
	time_t t0;
	int pfd, fd;

	/* a program that reads 1 ms a piece, 1 MiB queued to it at most */
	pfd = start_program(128u << 20, 5000, 1u << 20, 1000);
	fd = gw_connect();
	memset(&r, 0, sizeof(r));
	snprintf(head, sizeof(head), "PUT /up/big HTTP/1.1\r\nHost: 127.0.0.1"
	    "\r\nContent-Length: %llu\r\n\r\n", (unsigned long long)total);
	send_all(fd, head, strlen(head), pfd, &count, &r);
	base_heap = heap_used();
	memset(pat, 'm', sizeof(pat));
	t0 = time(NULL);
	while (sent < total && time(NULL) - t0 < 60) {
		k = total - sent > sizeof(pat) ? sizeof(pat) :
		    (size_t)(total - sent);
		if ((n = send(fd, pat, k, MSG_NOSIGNAL)) > 0)
			sent += (size_t)n;
		event_base_loop(base, EVLOOP_NONBLOCK);
		count = prog_count(pfd, count);
		rx_poll(fd, &r);
		h = heap_used();
		if (h > base_heap && h - base_heap > peak)
			peak = h - base_heap;
	}
	ck_assert_uint_eq(sent, total);
	/* the program was behind: the gateway held the rest back */
	ck_assert_uint_lt(count, total);
	wait_answer(fd, &r, pfd, &count);
	while (rx_status(&r) == 0 && time(NULL) - t0 < 60) {
		event_base_loop(base, EVLOOP_NONBLOCK);
		rx_poll(fd, &r);
		h = heap_used();
		if (h > base_heap && h - base_heap > peak)
			peak = h - base_heap;
	}
	ck_assert_int_eq(rx_status(&r), 200);
	wait_answer(fd, &r, pfd, &count);
	ck_assert_str_eq(rx_body(&r), "67108864");
	/* bounded by the program's queue and the gateway's read-ahead,
	   far below the 64 MiB sent */
	ck_assert_msg(peak < (8u << 20), "heap grew by %zu bytes", peak);
	close(fd);
	close(pfd);
}
END_TEST

Suite *
suite_gateway(void)
{
	Suite *s = suite_create("gateway");
	TCase *tc = tcase_create("gateway");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, parse_static);
	tcase_add_test(tc, static_content);
	tcase_add_test(tc, reload_and_limits);
	tcase_add_test(tc, header_limit);
	tcase_add_test(tc, changed_files);
	tcase_add_test(tc, body_to_static);
	suite_add_tcase(s, tc);
	tc = tcase_create("bodies");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, body_streams);
	tcase_add_test(tc, body_framing);
	tcase_add_test(tc, body_memory_bounded);
	suite_add_tcase(s, tc);
	return s;
}
