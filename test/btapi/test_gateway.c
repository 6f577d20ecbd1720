/*
 * test_gateway.c - the HTTP gateway: static route syntax, and static
 * content served from a real store over a real socket (index, ETag, 304,
 * Range 206/416, MIME types, 404, redirects), reload and limits, the
 * header block limit (431 up to evhttp's hard limit, 400 beyond), files
 * served again after they change.  Requests
 * to programs are covered by test_server.c and gateway-http.sh.
 */
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include <bt/api.h>
#include <bt/apigateway.h>
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
}

static void
teardown(void)
{
	char p[128];

	btapi_gateway_close(gw);
	gw = NULL;
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
	suite_add_tcase(s, tc);
	return s;
}
