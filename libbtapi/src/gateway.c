/*
 * gateway.c - a node's HTTP gateway on libevent's evhttp: static
 * content from blocktree paths, requests forwarded to the programs that
 * registered routes with the API server (see bt/apigateway.h).
 *
 * Request bodies stream: a program gets each piece of a request body
 * as it is read, not the whole body at the end.  evhttp (libevent 2.1)
 * would read a whole body before handing its request over and has no
 * hook before that, so the gateway reads for it: it makes each
 * connection's bufferevent (evhttp_set_bevcb) and a callback on its
 * input buffer takes every byte as it arrives ("raw"), before evhttp
 * parses anything.  The gateway finds where each request head ends and
 * how its body is framed (gateway-internal.h: Content-Length, chunked;
 * folded lines, repeated or bad lengths, other transfer codings are
 * 400), and passes on to evhttp only the head, its Content-Length and
 * Transfer-Encoding lines replaced by "Content-Length: 0": evhttp
 * parses it and hands the request over at once.  The body stays with
 * the gateway, which sends it to the program in pieces paced by the
 * program's queue (BT_EAGAIN / on_writable), or drops it when nothing
 * takes it (static routes, errors, a program that answered early).
 * While the program's queue is full the gateway keeps at most RAW_MAX
 * bytes read ahead and stops reading from the client; the program's
 * queue is bounded by the API server (max_output).  One request at a
 * time per connection: a pipelined request waits until the one before
 * it is answered.  Over max_body_bytes: 413 from the Content-Length, or
 * as soon as a chunked body passes it (the program hears http-abort);
 * Expect: 100-continue is answered when the request goes to a program,
 * otherwise the connection closes after the answer.  Response bodies
 * stream too: each piece a program sends goes out as it comes (chunked
 * when the program gives no Content-Length); static files are read
 * piece by piece as the client takes them.
 *
 * Header limit: evhttp (libevent 2.1) refuses a header block over its
 * own max-headers-size itself, closing the connection with 400 (it
 * offers no hook to choose 431).  So evhttp is given a hard limit above
 * the configured one, header_hard() (4 x max_header_bytes, at most
 * HEADER_HARD_MAX), and each request's header block is measured here as
 * evhttp measures it (request line plus each header line as read,
 * without line ends): over max_header_bytes it is answered 431
 * Request Header Fields Too Large and the connection closed.  Between
 * max_header_bytes and the hard limit: 431; beyond the hard limit:
 * evhttp's 400.  Headers that pass both but not the program protocol
 * (more than BTAPI_HTTP_HEADERS_MAX, or too long for it) are answered
 * 431 too.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include <bt/api.h>
#include <bt/apigateway.h>
#include <bt/apiserver.h>
#include <bt/dir.h>
#include <bt/error.h>
#include <bt/file.h>
#include <bt/id.h>
#include <bt/ns.h>

#include "gateway-internal.h"

#define PIECE		(64 * 1024)	/* static read / body piece */
#define SMALL_FILE	(256 * 1024)	/* sent in one reply */
#define STATIC_MAX	256		/* static routes */
#define HEADER_HARD_FACTOR 4		/* evhttp's limit: x max_header_bytes */
#define HEADER_HARD_MAX	(256 * 1024)	/* ... but no more than this */
#define FCACHE_SLOTS	64		/* small files kept in memory */
#define FCACHE_FILE_MAX	(64 * 1024)
#define FCACHE_BUDGET	(4 * 1024 * 1024)
#define RAW_MAX		(256 * 1024)	/* body bytes read ahead of a program */
#define CONN_BUCKETS	256		/* connections, hashed by bufferevent */

struct ptx;
struct stx;
struct gconn;

/*
 * A small file served whole: its bytes, keyed by the file's root id.
 * The id is the root hash of the file's tree, so the bytes read (and
 * verified block by block) under an id are that id's bytes for good;
 * a changed file has another id.  Bounded: one file per slot, at most
 * FCACHE_FILE_MAX bytes each and FCACHE_BUDGET in all.
 */
struct fslot {
	struct bt_id id;
	uint8_t *data;		/* NULL: empty */
	size_t len;
};

struct btapi_gateway {
	struct event_base *base;
	struct evhttp *http;
	struct evhttp_bound_socket *sock;
	struct btapi_server *srv;
	struct btstore *store;
	struct btapi_gateway_config cfg;	/* statics: ours below */
	struct btapi_gateway_static *statics;
	size_t n_statics;
	char *listen;
	int port;
	struct ptx *ptxs;		/* forwarded requests in progress */
	struct stx *stxs;		/* static transfers in progress */
	struct gconn *conns[CONN_BUCKETS];	/* attached connections */
	struct gconn *fresh;		/* accepted, not attached yet */
	struct event *attach;		/* attaches the fresh ones */
	struct fslot fcache[FCACHE_SLOTS];
	size_t fcache_bytes;
};

/*
 * A connection as the gateway sees it: its bytes as read, before evhttp
 * parses them (see the top of this file), and the body of the request
 * whose head was passed on last.
 */
enum gstate {
	G_HEAD,		/* the next bytes are a request head */
	G_BODY,		/* the body of the last head */
	G_DEAD		/* nothing more is read from this connection */
};

struct gconn {
	struct btapi_gateway *gw;
	struct bufferevent *bev;
	struct evhttp_connection *evcon;	/* NULL until attached */
	struct evbuffer *raw;		/* read, not passed on or sent yet */
	struct evbuffer *keep;		/* scratch */
	struct evbuffer_cb_entry *cbe;	/* on evhttp's input buffer */
	struct event *later;		/* closes the connection */
	struct gconn *next, **pprev;	/* gw->fresh or gw->conns[] */
	enum gstate st;
	int moving;		/* changing evhttp's input buffer */
	int in_read;		/* inside a read of the socket */
	int in_complete;	/* inside evhttp's end of a request */
	int pending;		/* a head passed on, not dispatched yet */
	int busy;		/* dispatched, its answer not complete */
	int reading;		/* reading turned on for a body */
	int paused;		/* reading turned off: raw is full */
	int close_after;	/* close when the answer is complete */
	int end_due;		/* body read, its end not yet sent */
	struct btapi_gwhead_ head;	/* the last head passed on */
	uint64_t left;		/* BTAPI_GWB_LENGTH_: body bytes to come */
	struct btapi_gwchunk_ ch;	/* BTAPI_GWB_CHUNKED_ */
	struct ptx *ptx;	/* the program given the last request */
	struct stx *stx;	/* a static transfer */
};

static void g_close_later(struct gconn *g);

/* ---- small helpers ------------------------------------------------------- */

static const char *const DAYS[] = { "Sun", "Mon", "Tue", "Wed", "Thu",
	"Fri", "Sat" };
static const char *const MONTHS[] = { "Jan", "Feb", "Mar", "Apr", "May",
	"Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };

/* Days since 1970-01-01 of a civil date (proleptic Gregorian). */
static int64_t
days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m + (m > 2 ? (unsigned)-3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static void
http_date(int64_t secs, char *buf, size_t cap)
{
	time_t t = (time_t)secs;
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL) {
		snprintf(buf, cap, "Thu, 01 Jan 1970 00:00:00 GMT");
		return;
	}
	snprintf(buf, cap, "%s, %02d %s %04d %02d:%02d:%02d GMT",
	    DAYS[tm.tm_wday % 7], tm.tm_mday, MONTHS[tm.tm_mon % 12],
	    tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static int
parse_uint(const char **pp, size_t maxdig, uint64_t *out)
{
	const char *p = *pp;
	uint64_t v = 0;
	size_t n = 0;

	while (*p >= '0' && *p <= '9' && n < maxdig) {
		v = v * 10 + (uint64_t)(*p - '0');
		p++;
		n++;
	}
	if (n == 0 || (*p >= '0' && *p <= '9'))
		return -1;
	*pp = p;
	*out = v;
	return 0;
}

/* IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT") to seconds; -1 if not. */
static int64_t
parse_http_date(const char *s)
{
	uint64_t day, year, hh, mm, ss;
	unsigned mon;
	const char *p = s;

	if (strlen(s) != 29 || s[3] != ',' || s[4] != ' ')
		return -1;
	p = s + 5;
	if (parse_uint(&p, 2, &day) != 0 || *p++ != ' ')
		return -1;
	for (mon = 0; mon < 12; mon++)
		if (strncmp(p, MONTHS[mon], 3) == 0)
			break;
	if (mon == 12 || p[3] != ' ')
		return -1;
	p += 4;
	if (parse_uint(&p, 4, &year) != 0 || *p++ != ' ' ||
	    parse_uint(&p, 2, &hh) != 0 || *p++ != ':' ||
	    parse_uint(&p, 2, &mm) != 0 || *p++ != ':' ||
	    parse_uint(&p, 2, &ss) != 0 || strcmp(p, " GMT") != 0)
		return -1;
	if (day < 1 || day > 31 || hh > 23 || mm > 59 || ss > 60)
		return -1;
	return days_from_civil((int64_t)year, mon + 1, (unsigned)day) * 86400 +
	    (int64_t)(hh * 3600 + mm * 60 + ss);
}

static const struct {
	const char *ext;
	const char *type;
} MIME[] = {
	{ "html", "text/html; charset=utf-8" },
	{ "htm", "text/html; charset=utf-8" },
	{ "css", "text/css; charset=utf-8" },
	{ "js", "text/javascript; charset=utf-8" },
	{ "mjs", "text/javascript; charset=utf-8" },
	{ "json", "application/json" },
	{ "map", "application/json" },
	{ "xml", "application/xml" },
	{ "txt", "text/plain; charset=utf-8" },
	{ "md", "text/markdown; charset=utf-8" },
	{ "csv", "text/csv; charset=utf-8" },
	{ "png", "image/png" },
	{ "jpg", "image/jpeg" },
	{ "jpeg", "image/jpeg" },
	{ "gif", "image/gif" },
	{ "webp", "image/webp" },
	{ "avif", "image/avif" },
	{ "svg", "image/svg+xml" },
	{ "ico", "image/vnd.microsoft.icon" },
	{ "wasm", "application/wasm" },
	{ "mp4", "video/mp4" },
	{ "m4v", "video/mp4" },
	{ "webm", "video/webm" },
	{ "ogv", "video/ogg" },
	{ "mp3", "audio/mpeg" },
	{ "ogg", "audio/ogg" },
	{ "oga", "audio/ogg" },
	{ "wav", "audio/wav" },
	{ "flac", "audio/flac" },
	{ "m3u8", "application/vnd.apple.mpegurl" },
	{ "ts", "video/mp2t" },
	{ "pdf", "application/pdf" },
	{ "zip", "application/zip" },
	{ "gz", "application/gzip" },
	{ "tar", "application/x-tar" },
	{ "woff", "font/woff" },
	{ "woff2", "font/woff2" },
	{ "ttf", "font/ttf" },
	{ "otf", "font/otf" },
};

static const char *
mime_type(const char *path)
{
	const char *slash = strrchr(path, '/');
	const char *dot = strrchr(path, '.');
	size_t i;

	if (dot == NULL || (slash != NULL && dot < slash))
		return "application/octet-stream";
	dot++;
	for (i = 0; i < sizeof(MIME) / sizeof(MIME[0]); i++)
		if (strcasecmp(dot, MIME[i].ext) == 0)
			return MIME[i].type;
	return "application/octet-stream";
}

static void
lower(char *s)
{
	for (; *s != '\0'; s++)
		*s = (char)tolower((unsigned char)*s);
}

/* Does @p prefix ("/" or "/a/b") cover @p path by whole components? */
static int
covers(const char *prefix, const char *path)
{
	size_t n = strlen(prefix);

	if (n == 1 && prefix[0] == '/')
		return path[0] == '/';
	if (strncmp(prefix, path, n) != 0)
		return 0;
	return path[n] == '\0' || path[n] == '/';
}

/* ---- request framing (gateway-internal.h) --------------------------------- */

/* RFC 9110 tchar */
static int
is_tchar(unsigned char c)
{
	return isalnum(c) || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static int
name_is(const char *p, size_t n, const char *name)
{
	return strlen(name) == n && strncasecmp(p, name, n) == 0;
}

/* The next line at @p p (@p n bytes): its length without the line end
   in *len, the bytes up to the next line in *next; 0 if no LF. */
static int
next_line(const char *p, size_t n, size_t *len, size_t *next)
{
	const char *lf = memchr(p, '\n', n);

	if (lf == NULL)
		return 0;
	*next = (size_t)(lf - p) + 1;
	*len = (size_t)(lf - p);
	if (*len > 0 && p[*len - 1] == '\r')
		(*len)--;
	return 1;
}

static void
head_field(struct btapi_gwhead_ *h, const char *l, size_t ll, int *seen_te)
{
	const char *colon = memchr(l, ':', ll), *v, *ve;
	size_t nl, i;
	uint64_t x = 0;

	if (colon == NULL)
		return;			/* evhttp refuses it */
	nl = (size_t)(colon - l);
	for (i = 0; i < nl; i++)
		if (!is_tchar((unsigned char)l[i]))
			h->bad = 1;
	if (nl == 0)
		h->bad = 1;
	v = colon + 1;
	ve = l + ll;
	while (v < ve && (*v == ' ' || *v == '\t'))
		v++;
	while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
		ve--;
	if (name_is(l, nl, "content-length")) {
		h->rewrite = 1;
		if (h->has_length || v == ve || ve - v > 18)
			h->bad = 1;
		for (; v < ve; v++) {
			if (*v < '0' || *v > '9') {
				h->bad = 1;
				break;
			}
			x = x * 10 + (uint64_t)(*v - '0');
		}
		h->has_length = 1;
		h->length = x;
	} else if (name_is(l, nl, "transfer-encoding")) {
		h->rewrite = 1;
		if (*seen_te || !name_is(v, (size_t)(ve - v), "chunked"))
			h->bad = 1;
		*seen_te = 1;
	} else if (name_is(l, nl, "expect")) {
		h->expect = name_is(v, (size_t)(ve - v), "100-continue") ?
		    BTAPI_GWX_CONTINUE_ : BTAPI_GWX_OTHER_;
	}
}

int
btapi_gwhead_scan_(const char *p, size_t n, size_t hard,
    struct btapi_gwhead_ *h)
{
	size_t off = 0, ll, next;
	int first = 1, seen_te = 0;

	memset(h, 0, sizeof(*h));
	while (next_line(p + off, n - off, &ll, &next)) {
		const char *l = p + off;

		off += next;
		if (!first && ll == 0) {
			h->len = off;
			if (seen_te && h->has_length)
				h->bad = 1;
			if (seen_te)
				h->body = BTAPI_GWB_CHUNKED_;
			else if (h->has_length && h->length > 0)
				h->body = BTAPI_GWB_LENGTH_;
			if (h->bad)
				h->body = BTAPI_GWB_NONE_;
			return BTAPI_GWH_DONE_;
		}
		h->count += ll;
		if (h->count > hard)
			return BTAPI_GWH_LONG_;
		if (first) {
			first = 0;
			h->http11 = ll >= 9 && memcmp(l + ll - 9, " HTTP/1.1",
			    9) == 0;
		} else if (l[0] == ' ' || l[0] == '\t') {
			h->bad = 1;	/* obsolete line folding */
		} else {
			head_field(h, l, ll, &seen_te);
		}
	}
	if (h->count + (n - off) > hard)
		return BTAPI_GWH_LONG_;
	return BTAPI_GWH_MORE_;
}

size_t
btapi_gwhead_rewrite_(const char *p, const struct btapi_gwhead_ *h,
    char *out)
{
	static const char CL0[] = "Content-Length: 0\r\n";
	size_t off = 0, o = 0, ll, next, nl;
	const char *colon;
	int first = 1;

	while (off < h->len && next_line(p + off, h->len - off, &ll, &next)) {
		const char *l = p + off;

		if (!first && ll == 0) {
			memcpy(out + o, CL0, sizeof(CL0) - 1);
			o += sizeof(CL0) - 1;
			memcpy(out + o, l, next);
			return o + next;
		}
		if (!first && (colon = memchr(l, ':', ll)) != NULL) {
			nl = (size_t)(colon - l);
			if (name_is(l, nl, "content-length") ||
			    name_is(l, nl, "transfer-encoding")) {
				off += next;
				continue;
			}
		}
		first = 0;
		memcpy(out + o, l, next);
		o += next;
		off += next;
	}
	return o;
}

void
btapi_gwchunk_init_(struct btapi_gwchunk_ *c, uint64_t max,
    size_t trailer_max)
{
	memset(c, 0, sizeof(*c));
	c->st = BTAPI_GWC_SIZE_;
	c->max = max;
	c->trailer_max = trailer_max;
}

static int
hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

int
btapi_gwchunk_step_(struct btapi_gwchunk_ *c, const char *p, size_t n,
    size_t *used)
{
	size_t ll, next, i = 0;
	uint64_t size = 0;
	int d;

	*used = 0;
	switch (c->st) {
	case BTAPI_GWC_CRLF_:
		if (n >= 1 && p[0] == '\n') {
			*used = 1;
		} else if (n >= 2 && p[0] == '\r' && p[1] == '\n') {
			*used = 2;
		} else if (n == 0 || (n == 1 && p[0] == '\r')) {
			return BTAPI_GWC_MORE_;
		} else {
			return BTAPI_GWC_BAD_;
		}
		c->st = BTAPI_GWC_SIZE_;
		return BTAPI_GWC_OK_;
	case BTAPI_GWC_SIZE_:
	case BTAPI_GWC_TRAILER_:
		if (n > BTAPI_GWC_LINE_MAX_ + 2)
			n = BTAPI_GWC_LINE_MAX_ + 2;
		if (!next_line(p, n, &ll, &next))
			return n == BTAPI_GWC_LINE_MAX_ + 2 ? BTAPI_GWC_BAD_ :
			    BTAPI_GWC_MORE_;
		*used = next;
		if (c->st == BTAPI_GWC_TRAILER_) {
			if (ll == 0) {
				c->st = BTAPI_GWC_END_;
				return BTAPI_GWC_DONE_;
			}
			c->trailer += ll;
			if (c->trailer > c->trailer_max ||
			    p[0] == ' ' || p[0] == '\t' ||
			    memchr(p, ':', ll) == NULL)
				return BTAPI_GWC_BAD_;
			return BTAPI_GWC_OK_;
		}
		for (i = 0; i < ll && (d = hexval(p[i])) >= 0; i++) {
			if (i == 15)
				return BTAPI_GWC_BAD_;	/* 2^60 and more */
			size = size * 16 + (uint64_t)d;
		}
		if (i == 0)
			return BTAPI_GWC_BAD_;
		while (i < ll && (p[i] == ' ' || p[i] == '\t'))
			i++;
		if (i < ll && p[i] != ';')
			return BTAPI_GWC_BAD_;
		if (size == 0) {
			c->st = BTAPI_GWC_TRAILER_;
			return BTAPI_GWC_OK_;
		}
		if (size > c->max - c->total)
			return BTAPI_GWC_BIG_;
		c->total += size;
		c->left = size;
		c->st = BTAPI_GWC_DATA_;
		return BTAPI_GWC_OK_;
	case BTAPI_GWC_END_:
		return BTAPI_GWC_DONE_;
	default:
		return BTAPI_GWC_BAD_;	/* BTAPI_GWC_DATA_: the caller's */
	}
}

void
btapi_gwchunk_take_(struct btapi_gwchunk_ *c, uint64_t k)
{
	if (c->st != BTAPI_GWC_DATA_ || k > c->left)
		return;
	c->left -= k;
	if (c->left == 0)
		c->st = BTAPI_GWC_CRLF_;
}

/* ---- configuration ------------------------------------------------------- */

void
btapi_gateway_config_init(struct btapi_gateway_config *cfg)
{
	if (cfg == NULL)
		return;
	memset(cfg, 0, sizeof(*cfg));
	cfg->listen = "127.0.0.1:8080";
	cfg->max_header_bytes = 16384;
	cfg->max_body_bytes = 64u << 20;
	cfg->timeout_s = 30;
}

static int
valid_prefix(const char *p)
{
	const char *c;

	if (p[0] != '/')
		return 0;
	if (p[1] == '\0')
		return 1;
	for (c = p + 1; *c != '\0'; c++) {
		if ((unsigned char)*c <= ' ' || *c == 0x7f || *c == '\\')
			return 0;
		if (*c == '/' && (c[1] == '/' || c[1] == '\0'))
			return 0;
	}
	return strstr(p, "/../") == NULL && strstr(p, "/./") == NULL &&
	    strcmp(p + strlen(p) - (strlen(p) >= 3 ? 3 : 0), "/..") != 0 &&
	    strcmp(p + strlen(p) - (strlen(p) >= 2 ? 2 : 0), "/.") != 0;
}

static int
is_hex64(const char *s, size_t n)
{
	size_t i;

	if (n != 64)
		return 0;
	for (i = 0; i < 64; i++)
		if (!isxdigit((unsigned char)s[i]))
			return 0;
	return 1;
}

int
btapi_gateway_parse_static(struct btapi_gateway_static *out,
    const char *text, const char *home, const char **err)
{
	const char *eq, *slash, *t, *tend, *first_end;
	const char *why = NULL;
	char tmp[BTAPI_GATEWAY_PATH_MAX];
	size_t hl, pl, tl;
	int rc = BT_EINVAL;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (out == NULL || text == NULL)
		goto out;
	rc = BT_EFORMAT;
	while (*text == ' ' || *text == '\t')
		text++;
	if ((eq = strchr(text, '=')) == NULL) {
		why = "expected [host]/prefix=/namespace/path";
		goto out;
	}
	slash = memchr(text, '/', (size_t)(eq - text));
	if (slash == NULL) {
		why = "the path prefix must start with /";
		goto out;
	}
	hl = (size_t)(slash - text);
	pl = (size_t)(eq - slash);
	rc = BT_ERANGE;
	if (hl >= sizeof(out->host) || pl >= sizeof(out->prefix)) {
		why = "host or prefix too long";
		goto out;
	}
	memcpy(out->host, text, hl);
	memcpy(out->prefix, slash, pl);
	/* "/docs/" means "/docs" */
	while (pl > 1 && out->prefix[pl - 1] == '/')
		out->prefix[--pl] = '\0';
	lower(out->host);
	t = eq + 1;
	tend = t + strlen(t);
	while (tend > t && (tend[-1] == ' ' || tend[-1] == '\t' ||
	    tend[-1] == '\n' || tend[-1] == '\r'))
		tend--;
	if ((size_t)(tend - t) > 8 && memcmp(tend - 8, " listing", 8) == 0) {
		out->listing = 1;
		tend -= 8;
		while (tend > t && (tend[-1] == ' ' || tend[-1] == '\t'))
			tend--;
	}
	tl = (size_t)(tend - t);
	rc = BT_EFORMAT;
	if (tl == 0 || t[0] != '/') {
		why = "the target must be a blocktree path /<namespace>/...";
		goto out;
	}
	rc = BT_ERANGE;
	if (tl >= sizeof(tmp)) {
		why = "target too long";
		goto out;
	}
	memcpy(tmp, t, tl);
	tmp[tl] = '\0';
	while (tl > 1 && tmp[tl - 1] == '/')
		tmp[--tl] = '\0';
	first_end = strchr(tmp + 1, '/');
	if (first_end == NULL)
		first_end = tmp + tl;
	rc = BT_EFORMAT;
	if (!is_hex64(tmp + 1, (size_t)(first_end - tmp - 1))) {
		if (home == NULL || !is_hex64(home[0] == '/' ? home + 1 : home,
		    strlen(home[0] == '/' ? home + 1 : home))) {
			why = "the target must start with a 64-hex namespace";
			goto out;
		}
		if (home[0] == '/')
			home++;
		rc = BT_ERANGE;
		if (65 + tl >= sizeof(out->target)) {
			why = "target too long";
			goto out;
		}
		out->target[0] = '/';
		memcpy(out->target + 1, home, 64);
		if (strcmp(tmp, "/") == 0)
			out->target[65] = '\0';
		else
			memcpy(out->target + 65, tmp, tl + 1);
	} else {
		memcpy(out->target, tmp, tl + 1);
	}
	rc = BT_EFORMAT;
	for (t = out->host; *t != '\0'; t++)
		if (!(isalnum((unsigned char)*t) || *t == '-' || *t == '.')) {
			why = "bad character in the host";
			goto out;
		}
	if (!valid_prefix(out->prefix) || !valid_prefix(out->target)) {
		why = "bad path: empty, . or .. components";
		goto out;
	}
	rc = BT_OK;
out:
	if (rc != BT_OK && out != NULL)
		memset(out, 0, sizeof(*out));
	if (err != NULL)
		*err = why;
	return rc;
}

/* ---- replies --------------------------------------------------------------- */

static void
reply_text(struct evhttp_request *req, int status, const char *reason,
    const char *text)
{
	struct evkeyvalq *oh = evhttp_request_get_output_headers(req);
	struct evbuffer *b = evbuffer_new();

	evhttp_remove_header(oh, "Content-Type");
	evhttp_add_header(oh, "Content-Type", "text/plain; charset=utf-8");
	if (status >= 500 || status == 400 || status == 413 || status == 431)
		evhttp_add_header(oh, "Connection", "close");
	if (b != NULL)
		evbuffer_add_printf(b, "%d %s\n", status,
		    text != NULL ? text : reason);
	evhttp_send_reply(req, status, reason, b);
	if (b != NULL)
		evbuffer_free(b);
}

/* Take the request path (percent-decoded) into @p out: '/'-separated,
   without empty, "." or ".." components, no NUL or control bytes; a
   trailing '/' is reported in *slash.  0 on success. */
static int
clean_path(const char *raw, char *out, size_t cap, int *slash)
{
	char *dec;
	size_t dl, o = 0, i, start;
	int rc = -1;

	if (raw == NULL || raw[0] != '/')
		return -1;
	if ((dec = evhttp_uridecode(raw, 0, &dl)) == NULL)
		return -1;
	if (strlen(dec) != dl)
		goto out;		/* %00 */
	*slash = dl > 1 && dec[dl - 1] == '/';
	out[o++] = '/';
	i = 0;
	while (i < dl) {
		while (i < dl && dec[i] == '/')
			i++;
		start = i;
		while (i < dl && dec[i] != '/') {
			if ((unsigned char)dec[i] < 0x20 || dec[i] == 0x7f ||
			    dec[i] == '\\')
				goto out;
			i++;
		}
		if (i == start)
			break;
		if ((i - start == 1 && dec[start] == '.') ||
		    (i - start == 2 && dec[start] == '.' && dec[start + 1] == '.'))
			goto out;
		if (o > 1) {
			if (o + 1 >= cap)
				goto out;
			out[o++] = '/';
		}
		if (o + (i - start) >= cap)
			goto out;
		memcpy(out + o, dec + start, i - start);
		o += i - start;
	}
	out[o] = '\0';
	rc = 0;
out:
	free(dec);
	return rc;
}

/* ---- static content ------------------------------------------------------- */

struct stx {
	struct btapi_gateway *gw;
	struct gconn *g;
	struct evhttp_request *req;
	struct evhttp_connection *evcon;
	struct btstore_file_reader *r;
	uint64_t left;
	struct stx *next, **pprev;
};

static void
stx_free(struct stx *t)
{
	if (t == NULL)
		return;
	if (t->pprev != NULL) {
		*t->pprev = t->next;
		if (t->next != NULL)
			t->next->pprev = t->pprev;
	}
	if (t->g != NULL && t->g->stx == t)
		t->g->stx = NULL;
	btstore_file_reader_close(t->r);
	free(t);
}

/* The connection is going: no reply_end. */
static void
stx_closed(struct stx *t)
{
	t->evcon = NULL;
	stx_free(t);
}

static void stx_more(struct evhttp_connection *evcon, void *arg);

/* Send the next piece; at the end finish the reply and free @p t. */
static void
stx_pump(struct stx *t)
{
	struct evbuffer *b;
	struct evbuffer_iovec v;
	size_t want, n = 0;

	if (t->left == 0) {
		evhttp_send_reply_end(t->req);
		stx_free(t);
		return;
	}
	want = t->left > PIECE ? PIECE : (size_t)t->left;
	if ((b = evbuffer_new()) == NULL ||
	    evbuffer_reserve_space(b, (ev_ssize_t)want, &v, 1) < 1 ||
	    btstore_file_reader_read(t->r, v.iov_base, want, &n) != BT_OK ||
	    n == 0) {
		/* the file cannot be read to its end: drop the connection,
		   the client sees a short body */
		if (b != NULL)
			evbuffer_free(b);
		if (t->evcon != NULL && t->g != NULL) {
			struct gconn *g = t->g;

			stx_free(t);
			g_close_later(g);
		} else {
			stx_free(t);
		}
		return;
	}
	v.iov_len = n;
	evbuffer_commit_space(b, &v, 1);
	t->left -= n;
	evhttp_send_reply_chunk_with_cb(t->req, b, stx_more, t);
	evbuffer_free(b);
}

static void
stx_more(struct evhttp_connection *evcon, void *arg)
{
	(void)evcon;
	stx_pump(arg);
}

struct listing {
	struct evbuffer *b;
	const char *base;
};

static void
html_escape(struct evbuffer *b, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		switch (s[i]) {
		case '<': evbuffer_add(b, "&lt;", 4); break;
		case '>': evbuffer_add(b, "&gt;", 4); break;
		case '&': evbuffer_add(b, "&amp;", 5); break;
		case '"': evbuffer_add(b, "&quot;", 6); break;
		default: evbuffer_add(b, s + i, 1); break;
		}
	}
}

static int
list_one(void *arg, const struct btcore_dir_entry *e)
{
	struct listing *l = arg;
	char *enc;
	int dir = e->kind == BTCORE_DIR_DIR;

	if ((enc = evhttp_uriencode(e->name, (ev_ssize_t)e->name_len, 0)) ==
	    NULL)
		return 1;
	evbuffer_add_printf(l->b, "<li><a href=\"%s%s\">", enc, dir ? "/" : "");
	html_escape(l->b, e->name, e->name_len);
	evbuffer_add_printf(l->b, "%s</a></li>\n", dir ? "/" : "");
	free(enc);
	return 0;
}

static int
etag_match(const char *hdr, const char *etag)
{
	const char *p = hdr;
	size_t el = strlen(etag);

	while (*p != '\0') {
		while (*p == ' ' || *p == ',' || *p == '\t')
			p++;
		if (*p == '*')
			return 1;
		if (p[0] == 'W' && p[1] == '/')
			p += 2;
		if (strncmp(p, etag, el) == 0 && (p[el] == '\0' ||
		    p[el] == ',' || p[el] == ' ' || p[el] == '\t'))
			return 1;
		while (*p != '\0' && *p != ',')
			p++;
	}
	return 0;
}

/* Parse a single "bytes=" range against @p size.  0: no (usable)
   range, serve everything; 1: [*from, *to]; -1: unsatisfiable. */
static int
parse_range(const char *h, uint64_t size, uint64_t *from, uint64_t *to)
{
	const char *p;
	uint64_t a, b;

	if (strncmp(h, "bytes=", 6) != 0 || strchr(h, ',') != NULL)
		return 0;
	p = h + 6;
	while (*p == ' ')
		p++;
	if (*p == '-') {
		p++;
		if (parse_uint(&p, 19, &b) != 0 || *p != '\0')
			return 0;
		if (b == 0 || size == 0)
			return -1;
		*from = b >= size ? 0 : size - b;
		*to = size - 1;
		return 1;
	}
	if (parse_uint(&p, 19, &a) != 0 || *p++ != '-')
		return 0;
	if (*p == '\0') {
		b = UINT64_MAX;
	} else if (parse_uint(&p, 19, &b) != 0 || *p != '\0' || b < a) {
		return 0;
	}
	if (a >= size)
		return -1;
	*from = a;
	*to = b >= size ? size - 1 : b;
	return 1;
}

static struct fslot *
fcache_slot(struct btapi_gateway *gw, const struct bt_id *id)
{
	return &gw->fcache[(((size_t)id->b[0] << 8) | id->b[1]) % FCACHE_SLOTS];
}

/* The cached bytes of file @p id of @p size bytes, or NULL. */
static const struct fslot *
fcache_get(struct btapi_gateway *gw, const struct bt_id *id, uint64_t size)
{
	const struct fslot *f = fcache_slot(gw, id);

	if (f->data == NULL || f->len != size ||
	    memcmp(f->id.b, id->b, BT_ID_LEN) != 0)
		return NULL;
	return f;
}

/* Keep a copy of the whole file @p id, @p len verified bytes at @p data. */
static void
fcache_put(struct btapi_gateway *gw, const struct bt_id *id,
    const void *data, size_t len)
{
	struct fslot *f = fcache_slot(gw, id);
	uint8_t *copy;

	if (len > FCACHE_FILE_MAX)
		return;
	if (f->data != NULL) {
		gw->fcache_bytes -= f->len;
		free(f->data);
		f->data = NULL;
	}
	if (gw->fcache_bytes + len > FCACHE_BUDGET ||
	    (copy = malloc(len > 0 ? len : 1)) == NULL)
		return;
	memcpy(copy, data, len);
	f->id = *id;
	f->data = copy;
	f->len = len;
	gw->fcache_bytes += len;
}

static void
fcache_clear(struct btapi_gateway *gw)
{
	size_t i;

	for (i = 0; i < FCACHE_SLOTS; i++) {
		free(gw->fcache[i].data);
		gw->fcache[i].data = NULL;
	}
	gw->fcache_bytes = 0;
}

static void
serve_static(struct btapi_gateway *gw, struct gconn *g,
    struct evhttp_request *req, const struct btapi_gateway_static *rt,
    const char *path, int slash)
{
	struct evkeyvalq *ih = evhttp_request_get_input_headers(req);
	struct evkeyvalq *oh = evhttp_request_get_output_headers(req);
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	struct btcore_dir_entry e;
	struct btstore_file_reader *r = NULL;
	struct evbuffer *b = NULL;
	struct stx *t;
	char bpath[2 * BTAPI_GATEWAY_PATH_MAX + 16], hex[65], etag[70];
	char date[40], num[64];
	const char *rest, *h;
	uint64_t from = 0, to = 0, len;
	size_t tl, n;
	int rc, rg, status;

	if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
		evhttp_add_header(oh, "Allow", "GET, HEAD");
		reply_text(req, 405, "Method Not Allowed", NULL);
		return;
	}
	rest = path + (strcmp(rt->prefix, "/") == 0 ? 0 : strlen(rt->prefix));
	tl = strlen(rt->target);
	if (tl + strlen(rest) + 12 >= sizeof(bpath)) {
		reply_text(req, 414, "URI Too Long", NULL);
		return;
	}
	snprintf(bpath, sizeof(bpath), "%s%s", rt->target,
	    strcmp(rest, "/") == 0 ? "" : rest);
	rc = btstore_ns_stat(gw->store, bpath, strlen(bpath), &e);
	if (rc == BT_OK && e.kind == BTCORE_DIR_DIR) {
		if (!slash && strcmp(path, "/") != 0) {
			const char *uri = evhttp_request_get_uri(req);
			const char *q = strchr(uri, '?');
			struct evbuffer *loc = evbuffer_new();

			if (loc == NULL) {
				reply_text(req, 500, "Internal Server Error",
				    NULL);
				return;
			}
			evbuffer_add(loc, uri, q != NULL ? (size_t)(q - uri) :
			    strlen(uri));
			evbuffer_add_printf(loc, "/%s", q != NULL ? q : "");
			evbuffer_add(loc, "", 1);
			evhttp_add_header(oh, "Location",
			    (const char *)evbuffer_pullup(loc, -1));
			evbuffer_free(loc);
			reply_text(req, 301, "Moved Permanently", NULL);
			return;
		}
		n = strlen(bpath);
		snprintf(bpath + n, sizeof(bpath) - n, "/index.html");
		rc = btstore_ns_stat(gw->store, bpath, strlen(bpath), &e);
		if (rc == BT_ENOTFOUND && rt->listing) {
			struct listing l;

			bpath[n] = '\0';
			if ((b = evbuffer_new()) == NULL) {
				reply_text(req, 500, "Internal Server Error",
				    NULL);
				return;
			}
			l.b = b;
			l.base = path;
			evbuffer_add_printf(b, "<!DOCTYPE html>\n<html><head>"
			    "<meta charset=\"utf-8\"><title>");
			html_escape(b, path, strlen(path));
			evbuffer_add_printf(b, "</title></head><body><h1>");
			html_escape(b, path, strlen(path));
			evbuffer_add_printf(b, "</h1><ul>\n");
			rc = btstore_ns_list(gw->store, bpath, n, list_one,
			    &l, NULL);
			evbuffer_add_printf(b, "</ul></body></html>\n");
			if (rc != BT_OK) {
				evbuffer_free(b);
				reply_text(req, 500, "Internal Server Error",
				    NULL);
				return;
			}
			evhttp_add_header(oh, "Content-Type",
			    "text/html; charset=utf-8");
			evhttp_send_reply(req, 200, "OK", b);
			evbuffer_free(b);
			return;
		}
	}
	if (rc == BT_OK && e.kind != BTCORE_DIR_FILE)
		rc = BT_ENOTFOUND;
	if (rc == BT_ENOTFOUND || rc == BTSTORE_ENOTDIR ||
	    rc == BTSTORE_EISDIR || rc == BT_EPERM || rc == BT_EFORMAT ||
	    rc == BT_ERANGE) {
		reply_text(req, 404, "Not Found", NULL);
		return;
	}
	if (rc != BT_OK) {
		reply_text(req, 500, "Internal Server Error",
		    btapi_strerror(rc));
		return;
	}
	snprintf(etag, sizeof(etag), "\"%s\"", btcore_id_to_hex(&e.root, hex));
	http_date(e.mtime / 1000000000, date, sizeof(date));
	evhttp_add_header(oh, "ETag", etag);
	evhttp_add_header(oh, "Last-Modified", date);
	evhttp_add_header(oh, "Accept-Ranges", "bytes");
	evhttp_add_header(oh, "Content-Type", mime_type(bpath));
	if ((h = evhttp_find_header(ih, "If-None-Match")) != NULL) {
		if (etag_match(h, etag)) {
			evhttp_send_reply(req, 304, "Not Modified", NULL);
			return;
		}
	} else if ((h = evhttp_find_header(ih, "If-Modified-Since")) != NULL) {
		int64_t ims = parse_http_date(h);

		if (ims >= 0 && e.mtime / 1000000000 <= ims) {
			evhttp_send_reply(req, 304, "Not Modified", NULL);
			return;
		}
	}
	status = 200;
	len = e.size;
	h = evhttp_find_header(ih, "Range");
	if (h != NULL) {
		const char *ir = evhttp_find_header(ih, "If-Range");

		rg = ir == NULL || strcmp(ir, etag) == 0 ?
		    parse_range(h, e.size, &from, &to) : 0;
		if (rg < 0) {
			snprintf(num, sizeof(num), "bytes */%" PRIu64, e.size);
			evhttp_add_header(oh, "Content-Range", num);
			reply_text(req, 416, "Range Not Satisfiable", NULL);
			return;
		}
		if (rg > 0) {
			status = 206;
			len = to - from + 1;
			snprintf(num, sizeof(num), "bytes %" PRIu64 "-%" PRIu64
			    "/%" PRIu64, from, to, e.size);
			evhttp_add_header(oh, "Content-Range", num);
		}
	}
	snprintf(num, sizeof(num), "%" PRIu64, len);
	evhttp_add_header(oh, "Content-Length", num);
	if (cmd == EVHTTP_REQ_HEAD || len == 0) {
		evhttp_send_reply(req, status, status == 206 ?
		    "Partial Content" : "OK", NULL);
		return;
	}
	if (len <= SMALL_FILE) {
		const struct fslot *f = fcache_get(gw, &e.root, e.size);

		if (f != NULL) {
			if ((b = evbuffer_new()) == NULL ||
			    evbuffer_add(b, f->data + from, (size_t)len) != 0) {
				if (b != NULL)
					evbuffer_free(b);
				evhttp_remove_header(oh, "Content-Length");
				reply_text(req, 500, "Internal Server Error",
				    NULL);
				return;
			}
			evhttp_send_reply(req, status, status == 206 ?
			    "Partial Content" : "OK", b);
			evbuffer_free(b);
			return;
		}
	}
	/* by its root: the path was resolved (and its namespace record
	   verified) once already by the stat above */
	if ((rc = btstore_file_reader_open(&r, gw->store, &e.root)) !=
	    BT_OK || (from > 0 &&
	    (rc = btstore_file_reader_seek(r, (int64_t)from, SEEK_SET, NULL))
	    != BT_OK)) {
		btstore_file_reader_close(r);
		evhttp_remove_header(oh, "Content-Length");
		reply_text(req, rc == BT_ENOTFOUND ? 404 : 500,
		    rc == BT_ENOTFOUND ? "Not Found" : "Internal Server Error",
		    NULL);
		return;
	}
	if (len <= SMALL_FILE) {
		struct evbuffer_iovec v;

		n = 0;
		if ((b = evbuffer_new()) == NULL ||
		    evbuffer_reserve_space(b, (ev_ssize_t)len, &v, 1) < 1 ||
		    btstore_file_reader_read(r, v.iov_base, (size_t)len, &n) !=
		    BT_OK || n != len) {
			if (b != NULL)
				evbuffer_free(b);
			btstore_file_reader_close(r);
			evhttp_remove_header(oh, "Content-Length");
			reply_text(req, 500, "Internal Server Error", NULL);
			return;
		}
		v.iov_len = n;
		if (from == 0 && len == e.size)
			fcache_put(gw, &e.root, v.iov_base, n);
		evbuffer_commit_space(b, &v, 1);
		btstore_file_reader_close(r);
		evhttp_send_reply(req, status, status == 206 ?
		    "Partial Content" : "OK", b);
		evbuffer_free(b);
		return;
	}
	if ((t = calloc(1, sizeof(*t))) == NULL) {
		btstore_file_reader_close(r);
		evhttp_remove_header(oh, "Content-Length");
		reply_text(req, 500, "Internal Server Error", NULL);
		return;
	}
	t->gw = gw;
	t->req = req;
	t->r = r;
	t->left = len;
	t->evcon = evhttp_request_get_connection(req);
	t->next = gw->stxs;
	if (t->next != NULL)
		t->next->pprev = &t->next;
	t->pprev = &gw->stxs;
	gw->stxs = t;
	t->g = g;
	g->stx = t;
	evhttp_send_reply_start(req, status, status == 206 ?
	    "Partial Content" : "OK");
	stx_pump(t);
}

/* ---- requests forwarded to programs --------------------------------------- */

struct ptx {
	struct btapi_gateway *gw;
	struct gconn *g;
	struct evhttp_request *req;
	struct evhttp_connection *evcon;
	struct btapi_http_req *h;	/* until on_end or cancel */
	struct event *idle;		/* a program silent after its head */
	int head;			/* reply started */
	int streaming;			/* the body comes through g */
	int body_done;			/* request body all sent */
	struct ptx *next, **pprev;
};

static void g_pump(struct gconn *g);

static void
ptx_free(struct ptx *p)
{
	if (p == NULL)
		return;
	if (p->pprev != NULL) {
		*p->pprev = p->next;
		if (p->next != NULL)
			p->next->pprev = p->pprev;
	}
	if (p->g != NULL && p->g->ptx == p)
		p->g->ptx = NULL;
	if (p->idle != NULL)
		event_free(p->idle);
	btapi_server_http_cancel(p->h);
	free(p);
}

/* The exchange broke after the head went out: close the connection so
   the client sees a cut body, not a complete one. */
static void
ptx_abort(struct ptx *p)
{
	struct evhttp_connection *c = p->evcon;
	struct evhttp_request *req = p->req;

	ptx_free(p);
	if (c != NULL)
		evhttp_connection_free(c);
	else
		evhttp_send_reply_end(req);	/* frees a detached request */
}

/* The connection is going. */
static void
ptx_closed(struct ptx *p)
{
	struct evhttp_request *req = p->req;
	int detached = evhttp_request_get_connection(req) == NULL;

	p->evcon = NULL;
	ptx_free(p);
	if (detached)
		evhttp_send_reply_end(req);
}

static void
ptx_idle(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	ptx_abort(arg);
}

static void
ptx_touch(struct ptx *p)
{
	struct timeval tv = { (time_t)p->gw->cfg.timeout_s, 0 };

	if (p->idle != NULL)
		evtimer_add(p->idle, &tv);
}

/* A request without body: tell the program it has ended. */
static void
ptx_end_body(struct ptx *p)
{
	int rc;

	if (p->body_done || p->h == NULL)
		return;
	rc = btapi_server_http_body(p->h, NULL, 0, 1);
	if (rc != BT_EAGAIN)
		p->body_done = 1;	/* on_writable resumes; else the end
					   will tell */
}

static int
hop_by_hop(const char *name)
{
	static const char *const H[] = { "connection", "keep-alive",
		"transfer-encoding", "te", "trailer", "upgrade",
		"proxy-connection", "proxy-authenticate",
		"proxy-authorization" };
	size_t i;

	for (i = 0; i < sizeof(H) / sizeof(H[0]); i++)
		if (strcasecmp(name, H[i]) == 0)
			return 1;
	return 0;
}

static void
ptx_on_head(void *arg, int status, const struct btapi_header *h, size_t n)
{
	struct ptx *p = arg;
	struct evkeyvalq *oh = evhttp_request_get_output_headers(p->req);
	size_t i;

	evhttp_remove_header(oh, "Content-Type");
	for (i = 0; i < n; i++)
		if (!hop_by_hop(h[i].name))
			evhttp_add_header(oh, h[i].name, h[i].value);
	if (status < 100 || status > 599)
		status = 502;
	p->head = 1;
	evhttp_send_reply_start(p->req, status, NULL);
	ptx_touch(p);
}

static void
ptx_on_body(void *arg, const void *data, size_t len)
{
	struct ptx *p = arg;
	struct evbuffer *b;

	if ((b = evbuffer_new()) == NULL)
		return;
	evbuffer_add(b, data, len);
	evhttp_send_reply_chunk(p->req, b);
	evbuffer_free(b);
	ptx_touch(p);
}

static void
ptx_on_end(void *arg, int status)
{
	struct ptx *p = arg;
	struct evhttp_request *req = p->req;

	p->h = NULL;		/* freed by the server after this call */
	if (status == BT_OK && p->head) {
		ptx_free(p);
		evhttp_send_reply_end(req);
		return;
	}
	if (p->head) {
		ptx_abort(p);
		return;
	}
	ptx_free(p);
	if (status == BT_ETIMEDOUT)
		reply_text(req, 504, "Gateway Timeout",
		    "the program did not answer in time");
	else
		reply_text(req, 502, "Bad Gateway", status == BTAPI_EGONE ?
		    "the program went away" : "the program broke the exchange");
}

static void
ptx_on_writable(void *arg)
{
	struct ptx *p = arg;

	if (p->streaming)
		g_pump(p->g);
	else
		ptx_end_body(p);
}

static const struct btapi_http_cbs PTX_CBS = {
	ptx_on_head, ptx_on_body, ptx_on_end, ptx_on_writable
};

static const char *
method_name(enum evhttp_cmd_type c)
{
	switch (c) {
	case EVHTTP_REQ_GET: return "GET";
	case EVHTTP_REQ_POST: return "POST";
	case EVHTTP_REQ_HEAD: return "HEAD";
	case EVHTTP_REQ_PUT: return "PUT";
	case EVHTTP_REQ_DELETE: return "DELETE";
	case EVHTTP_REQ_OPTIONS: return "OPTIONS";
	case EVHTTP_REQ_TRACE: return "TRACE";
	case EVHTTP_REQ_CONNECT: return "CONNECT";
	case EVHTTP_REQ_PATCH: return "PATCH";
	}
	return NULL;
}

/* The limit evhttp enforces itself (answering 400). */
static size_t
header_hard(uint32_t max_header_bytes)
{
	uint64_t h = (uint64_t)max_header_bytes * HEADER_HARD_FACTOR;

	if (h > HEADER_HARD_MAX)
		h = HEADER_HARD_MAX;
	return h > max_header_bytes ? (size_t)h : max_header_bytes;
}

/* ---- connections: request bodies -------------------------------------------- */

static unsigned
g_bucket(const struct bufferevent *bev)
{
	return (unsigned)(((uintptr_t)bev >> 4) % CONN_BUCKETS);
}

static void
g_link(struct gconn **head, struct gconn *g)
{
	g->next = *head;
	if (g->next != NULL)
		g->next->pprev = &g->next;
	g->pprev = head;
	*head = g;
}

static void
g_unlink(struct gconn *g)
{
	if (g->pprev == NULL)
		return;
	*g->pprev = g->next;
	if (g->next != NULL)
		g->next->pprev = g->pprev;
	g->next = NULL;
	g->pprev = NULL;
}

static struct gconn *
g_find(struct btapi_gateway *gw, const struct bufferevent *bev)
{
	struct gconn *g;

	for (g = gw->conns[g_bucket(bev)]; g != NULL; g = g->next)
		if (g->bev == bev)
			return g;
	return NULL;
}

/* Free @p g; its bufferevent must still be allocated. */
static void
g_free(struct gconn *g)
{
	g_unlink(g);
	if (g->cbe != NULL)
		evbuffer_remove_cb_entry(bufferevent_get_input(g->bev), g->cbe);
	if (g->later != NULL)
		event_free(g->later);
	evbuffer_free(g->raw);
	evbuffer_free(g->keep);
	free(g);
}

static void
g_closed(struct evhttp_connection *evcon, void *arg)
{
	struct gconn *g = arg;

	(void)evcon;
	if (g->stx != NULL)
		stx_closed(g->stx);
	if (g->ptx != NULL)
		ptx_closed(g->ptx);
	g_free(g);
}

/*
 * Learn @p g's evhttp connection: evhttp (libevent 2.1) gives each
 * connection's bufferevent its evhttp_connection as callback argument.
 * -1 when evhttp has let the bufferevent go (its callbacks cleared).
 */
static int
g_attach(struct gconn *g)
{
	bufferevent_event_cb ecb = NULL;
	void *cbarg = NULL;

	bufferevent_getcb(g->bev, NULL, NULL, &ecb, &cbarg);
	if (ecb == NULL || cbarg == NULL)
		return -1;
	g->evcon = cbarg;
	evhttp_connection_set_closecb(g->evcon, g_closed, g);
	g_unlink(g);
	g_link(&g->gw->conns[g_bucket(g->bev)], g);
	return 0;
}

static void
g_attach_fresh(evutil_socket_t fd, short what, void *arg)
{
	struct btapi_gateway *gw = arg;
	struct gconn *g;
	struct bufferevent *bev;

	(void)fd;
	(void)what;
	while ((g = gw->fresh) != NULL) {
		bev = g->bev;
		if (g_attach(g) != 0)
			g_free(g);
		bufferevent_decref(bev);	/* held since gw_bev */
	}
}

static void
g_later(evutil_socket_t fd, short what, void *arg)
{
	struct gconn *g = arg;

	(void)fd;
	(void)what;
	evhttp_connection_free(g->evcon);	/* g_closed frees g */
}

/* Close the connection from the loop (not from inside its callbacks). */
static void
g_close_later(struct gconn *g)
{
	if (g->later == NULL &&
	    (g->later = evtimer_new(g->gw->base, g_later, g)) == NULL)
		return;			/* the timeouts close it */
	event_active(g->later, EV_TIMEOUT, 0);
}

/* Pass @p len bytes (of @p from, or @p data) on to evhttp. */
static void
g_pass(struct gconn *g, struct evbuffer *from, const void *data, size_t len)
{
	struct evbuffer *in = bufferevent_get_input(g->bev);

	g->moving = 1;
	evbuffer_unfreeze(in, 0);
	if (from != NULL)
		evbuffer_remove_buffer(from, in, len);
	else
		evbuffer_add(in, data, len);
	if (!g->in_read)
		evbuffer_freeze(in, 0);
	g->moving = 0;
	/* Within a read evhttp's read callback follows; at the end of a
	   request evhttp looks at its input itself. */
	if (!g->in_read && !g->in_complete)
		bufferevent_trigger(g->bev, EV_READ,
		    BEV_TRIG_IGNORE_WATERMARKS | BEV_TRIG_DEFER_CALLBACKS);
}

/* Stop reading while raw is full; go on when it has drained. */
static void
g_flow(struct gconn *g)
{
	size_t n = evbuffer_get_length(g->raw);

	if (n >= RAW_MAX || (g->paused && n >= RAW_MAX / 2)) {
		g->paused = 1;
		bufferevent_disable(g->bev, EV_READ);
	} else if (g->paused) {
		g->paused = 0;
		if (g->reading || !g->busy)
			bufferevent_enable(g->bev, EV_READ);
	}
}

/* The next head in raw: pass it on to evhttp.  1 if one was. */
static int
g_head(struct gconn *g)
{
	const struct btapi_gateway_config *cfg = &g->gw->cfg;
	size_t hard = header_hard(cfg->max_header_bytes);
	size_t n = evbuffer_get_length(g->raw), cap = 3 * hard + 16, len;
	struct btapi_gwhead_ h;
	const char *p;
	char *out;
	int rc;

	if (n == 0)
		return 0;
	if (n > cap)
		n = cap;
	if ((p = (const char *)evbuffer_pullup(g->raw, (ev_ssize_t)n)) ==
	    NULL) {
		g->st = G_DEAD;
		g_close_later(g);
		return 1;
	}
	rc = btapi_gwhead_scan_(p, n, hard, &h);
	if (rc == BTAPI_GWH_MORE_)
		return 0;
	g->pending = 1;
	g->end_due = 0;
	if (rc == BTAPI_GWH_LONG_) {
		/* evhttp refuses it itself (400) and closes */
		g->st = G_DEAD;
		g_pass(g, g->raw, NULL, evbuffer_get_length(g->raw));
		return 1;
	}
	g->head = h;
	if (h.bad || (h.body == BTAPI_GWB_LENGTH_ &&
	    h.length > cfg->max_body_bytes))
		g->st = G_DEAD;		/* answered 400 / 413 */
	else if (h.body == BTAPI_GWB_NONE_)
		g->st = G_HEAD;
	else
		g->st = G_BODY;
	g->left = h.length;
	btapi_gwchunk_init_(&g->ch, cfg->max_body_bytes,
	    cfg->max_header_bytes);
	if (!h.rewrite) {
		g_pass(g, g->raw, NULL, h.len);
		return 1;
	}
	if ((out = malloc(h.len + BTAPI_GWHEAD_EXTRA_)) == NULL) {
		g->pending = 0;
		g->st = G_DEAD;
		g_close_later(g);
		return 1;
	}
	len = btapi_gwhead_rewrite_(p, &h, out);
	evbuffer_drain(g->raw, h.len);
	g_pass(g, NULL, out, len);
	free(out);
	return 1;
}

/* The body of the last request has been read (and its end sent). */
static void
g_body_done(struct gconn *g)
{
	g->st = G_HEAD;
	g->end_due = 0;
	if (g->reading) {
		g->reading = 0;
		if (g->busy)
			bufferevent_disable(g->bev, EV_READ);
	}
}

/* A body that cannot be read on: answer @p status if nothing was
   answered yet, and close the connection. */
static void
g_body_fail(struct gconn *g, int status)
{
	struct ptx *p = g->ptx;
	struct evhttp_request *req;

	g->st = G_DEAD;
	evbuffer_drain(g->raw, evbuffer_get_length(g->raw));
	if (p != NULL && !p->head) {
		req = p->req;
		ptx_free(p);		/* the program hears http-abort */
		if (status == 413)
			reply_text(req, 413, "Payload Too Large",
			    "request body too large");
		else
			reply_text(req, 400, "Bad Request",
			    "bad chunked request body");
		return;
	}
	ptx_free(p);
	if (g->busy && p == NULL)
		g->close_after = 1;
	else
		g_close_later(g);
}

/* The chunked body's end, or a length body's last piece after
   BT_EAGAIN: tell the program.  1 on progress. */
static int
g_body_end(struct gconn *g)
{
	struct ptx *p = g->ptx;

	if (p != NULL && p->h != NULL && !p->body_done) {
		if (btapi_server_http_body(p->h, NULL, 0, 1) == BT_EAGAIN)
			return 0;	/* on_writable resumes */
		p->body_done = 1;
	}
	g_body_done(g);
	return 1;
}

/* Move body bytes from raw to the program (or away when none takes
   them).  1 on progress. */
static int
g_body(struct gconn *g)
{
	struct ptx *p = g->ptx;
	int chunked = g->head.body == BTAPI_GWB_CHUNKED_, rc;
	size_t n = evbuffer_get_length(g->raw), used;
	uint64_t want;
	const char *d;

	if (g->end_due)
		return g_body_end(g);
	if (chunked && g->ch.st != BTAPI_GWC_DATA_) {
		if (n == 0)
			return 0;
		if (n > BTAPI_GWC_LINE_MAX_ + 2)
			n = BTAPI_GWC_LINE_MAX_ + 2;
		if ((d = (const char *)evbuffer_pullup(g->raw,
		    (ev_ssize_t)n)) == NULL) {
			g_body_fail(g, 400);
			return 1;
		}
		rc = btapi_gwchunk_step_(&g->ch, d, n, &used);
		if (rc == BTAPI_GWC_MORE_)
			return 0;
		if (rc < 0) {
			g_body_fail(g, rc == BTAPI_GWC_BIG_ ? 413 : 400);
			return 1;
		}
		evbuffer_drain(g->raw, used);
		if (rc == BTAPI_GWC_DONE_)
			g->end_due = 1;
		return 1;
	}
	want = chunked ? g->ch.left : g->left;
	if (n > want)
		n = (size_t)want;
	if (n > PIECE)
		n = PIECE;
	if (n == 0)
		return 0;
	if (p != NULL && p->h != NULL && !p->body_done) {
		int last = !chunked && n == g->left;

		if ((d = (const char *)evbuffer_pullup(g->raw,
		    (ev_ssize_t)n)) == NULL)
			return 0;
		rc = btapi_server_http_body(p->h, d, n, last);
		if (rc == BT_EAGAIN)
			return 0;	/* on_writable resumes */
		if (rc != BT_OK || last)
			p->body_done = 1;	/* else the end will tell */
	}
	evbuffer_drain(g->raw, n);
	if (chunked) {
		btapi_gwchunk_take_(&g->ch, n);
	} else {
		g->left -= n;
		if (g->left == 0)
			g->end_due = 1;
	}
	return 1;
}

/* Move everything that can move now. */
static void
g_pump(struct gconn *g)
{
	int progress = 1;

	while (progress) {
		switch (g->st) {
		case G_HEAD:
			/* one request at a time: pipelined ones wait */
			progress = !g->pending && !g->busy && g_head(g);
			break;
		case G_BODY:
			/* no body moves before its request is routed */
			progress = !g->pending && g_body(g);
			break;
		case G_DEAD:
		default:
			evbuffer_drain(g->raw, evbuffer_get_length(g->raw));
			progress = 0;
			break;
		}
	}
	g_flow(g);
}

/* Bytes read from the socket: take them before evhttp sees them. */
static void
g_input(struct evbuffer *in, const struct evbuffer_cb_info *info, void *arg)
{
	struct gconn *g = arg;
	size_t keep;

	if (g->moving || info->n_added == 0)
		return;
	if (g->evcon == NULL && g_attach(g) != 0)
		return;
	/* what is before the new bytes was passed on earlier */
	g->moving = 1;
	keep = evbuffer_get_length(in) - info->n_added;
	if (keep > 0)
		evbuffer_remove_buffer(in, g->keep, keep);
	evbuffer_add_buffer(g->raw, in);
	if (keep > 0)
		evbuffer_add_buffer(in, g->keep);
	g->moving = 0;
	g->in_read = 1;
	g_pump(g);
	g->in_read = 0;
}

/* evhttp has finished answering a request of @p g. */
static void
g_complete(struct evhttp_request *req, void *arg)
{
	struct gconn *g = arg;

	(void)req;
	g->busy = 0;
	if (g->close_after) {
		g_close_later(g);
		return;
	}
	g->in_complete = 1;
	g_pump(g);
	g->in_complete = 0;
}

/* A new connection: its bufferevent, with the input callback on. */
static struct bufferevent *
gw_bev(struct event_base *base, void *arg)
{
	struct btapi_gateway *gw = arg;
	struct bufferevent *bev;
	struct gconn *g;

	if ((bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE)) ==
	    NULL)
		return NULL;
	if ((g = calloc(1, sizeof(*g))) == NULL)
		return bev;		/* answered 503 */
	g->gw = gw;
	g->bev = bev;
	if ((g->raw = evbuffer_new()) == NULL ||
	    (g->keep = evbuffer_new()) == NULL ||
	    (g->cbe = evbuffer_add_cb(bufferevent_get_input(bev), g_input,
	    g)) == NULL) {
		if (g->raw != NULL)
			evbuffer_free(g->raw);
		if (g->keep != NULL)
			evbuffer_free(g->keep);
		free(g);
		return bev;
	}
	/* evhttp makes the connection when this returns: attach g then,
	   holding the bufferevent until */
	bufferevent_incref(bev);
	g_link(&gw->fresh, g);
	event_active(gw->attach, EV_TIMEOUT, 0);
	return bev;
}

/* Tell a client that waits for it to send the body. */
static void
g_continue(struct gconn *g)
{
	bufferevent_data_cb rcb, wcb;
	bufferevent_event_cb ecb;
	void *cbarg;

	/* evhttp's write callback would take this for the end of an
	   earlier answer; evhttp sets it again when the answer starts */
	bufferevent_getcb(g->bev, &rcb, &wcb, &ecb, &cbarg);
	bufferevent_setcb(g->bev, rcb, NULL, ecb, cbarg);
	evbuffer_add(bufferevent_get_output(g->bev),
	    "HTTP/1.1 100 Continue\r\n\r\n", 25);
	bufferevent_enable(g->bev, EV_WRITE);
}

/* The request is answered without its body: a client that waits for
   100 Continue may never send it, so the connection closes. */
static void
g_no_body(struct gconn *g, struct evhttp_request *req)
{
	if (g->st != G_BODY || g->head.expect != BTAPI_GWX_CONTINUE_)
		return;
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Connection", "close");
	g->st = G_DEAD;
}

/* Answer @p req with an error after which the connection closes. */
static void
g_refuse(struct gconn *g, struct evhttp_request *req, int status,
    const char *reason, const char *text)
{
	if (g != NULL)
		g->st = G_DEAD;
	reply_text(req, status, reason, text);
}

static void
forward(struct btapi_gateway *gw, struct gconn *g, struct evhttp_request *req,
    const char *host)
{
	struct evkeyvalq *ih = evhttp_request_get_input_headers(req);
	struct btapi_header hs[BTAPI_HTTP_HEADERS_MAX];
	struct evkeyval *kv;
	struct ptx *p;
	const char *method = method_name(evhttp_request_get_command(req));
	char *peer = NULL, clen[24];
	ev_uint16_t port = 0;
	size_t n = 0;
	int rc;

	if (method == NULL) {
		g_no_body(g, req);
		reply_text(req, 501, "Not Implemented", NULL);
		return;
	}
	TAILQ_FOREACH(kv, ih, next) {
		if (hop_by_hop(kv->key) || (g->head.rewrite &&
		    strcasecmp(kv->key, "Content-Length") == 0))
			continue;	/* evhttp was shown "0" */
		if (n + 2 >= BTAPI_HTTP_HEADERS_MAX) {
			g_refuse(g, req, 431, "Request Header Fields Too Large",
			    "too many headers");
			return;
		}
		hs[n].name = kv->key;
		hs[n].value = kv->value;
		n++;
	}
	if (g->head.has_length) {
		snprintf(clen, sizeof(clen), "%" PRIu64, g->head.length);
		hs[n].name = "Content-Length";
		hs[n].value = clen;
		n++;
	}
	if (evhttp_request_get_connection(req) != NULL)
		evhttp_connection_get_peer(evhttp_request_get_connection(req),
		    &peer, &port);
	if (peer != NULL) {
		hs[n].name = "X-Forwarded-For";
		hs[n].value = peer;
		n++;
	}
	if ((p = calloc(1, sizeof(*p))) == NULL) {
		g_refuse(g, req, 500, "Internal Server Error", NULL);
		return;
	}
	p->gw = gw;
	p->req = req;
	p->idle = evtimer_new(gw->base, ptx_idle, p);
	rc = p->idle == NULL ? BT_ENOMEM : btapi_server_http_start(&p->h,
	    gw->srv, method, host, evhttp_request_get_uri(req), hs, n,
	    &PTX_CBS, p);
	if (rc != BT_OK) {
		ptx_free(p);
		switch (rc) {
		case BTAPI_ENOHANDLER:
			g_no_body(g, req);
			reply_text(req, 404, "Not Found", NULL);
			break;
		case BT_ERANGE:
		case BT_ETOOBIG:
			g_refuse(g, req, 431, "Request Header Fields Too Large",
			    NULL);
			break;
		case BT_EFORMAT:
		case BT_EINVAL:
			g_refuse(g, req, 400, "Bad Request", NULL);
			break;
		case BT_EAGAIN:
			evhttp_add_header(evhttp_request_get_output_headers(
			    req), "Retry-After", "1");
			g_refuse(g, req, 503, "Service Unavailable",
			    "the program is busy");
			break;
		default:
			g_refuse(g, req, 500, "Internal Server Error",
			    btapi_strerror(rc));
			break;
		}
		return;
	}
	p->evcon = evhttp_request_get_connection(req);
	p->next = gw->ptxs;
	if (p->next != NULL)
		p->next->pprev = &p->next;
	p->pprev = &gw->ptxs;
	gw->ptxs = p;
	p->g = g;
	g->ptx = p;
	if (g->st != G_BODY) {
		ptx_end_body(p);
		return;
	}
	p->streaming = 1;
	/* the program's time to answer runs from the end of the body (a
	   full queue shows again when the body moves) */
	if (btapi_server_http_body(p->h, NULL, 0, 0) != BT_OK)
		p->streaming = 1;
	if (g->head.expect == BTAPI_GWX_CONTINUE_ && g->head.http11)
		g_continue(g);
}

/* ---- dispatch ------------------------------------------------------------- */

static const struct btapi_gateway_static *
static_match(const struct btapi_gateway *gw, const char *host,
    const char *path)
{
	const struct btapi_gateway_static *best = NULL, *s;
	size_t i, bl = 0, l;

	for (i = 0; i < gw->n_statics; i++) {
		s = &gw->statics[i];
		if (s->host[0] != '\0' && strcmp(s->host, host) != 0)
			continue;
		if (!covers(s->prefix, path))
			continue;
		l = strlen(s->prefix) * 2 + (s->host[0] != '\0');
		if (best == NULL || l > bl) {
			best = s;
			bl = l;
		}
	}
	return best;
}

static void
route(struct btapi_gateway *gw, struct gconn *g, struct evhttp_request *req)
{
	const struct evhttp_uri *u = evhttp_request_get_evhttp_uri(req);
	const struct btapi_gateway_static *st;
	const char *h, *raw;
	char host[BTAPI_GATEWAY_HOST_MAX], path[BTAPI_GATEWAY_PATH_MAX];
	int slash = 0, rc;
	size_t i;

	if (g->head.bad) {
		g_refuse(g, req, 400, "Bad Request", "bad request framing");
		return;
	}
	if (g->head.count > gw->cfg.max_header_bytes) {
		g_refuse(g, req, 431, "Request Header Fields Too Large",
		    "header block too large");
		return;
	}
	if (g->head.body == BTAPI_GWB_LENGTH_ &&
	    g->head.length > gw->cfg.max_body_bytes) {
		g_refuse(g, req, 413, "Payload Too Large",
		    "request body too large");
		return;
	}
	if (g->st == G_BODY && g->head.expect == BTAPI_GWX_OTHER_ &&
	    g->head.http11) {
		g_refuse(g, req, 417, "Expectation Failed", NULL);
		return;
	}
	raw = u != NULL ? evhttp_uri_get_path(u) : NULL;
	if (raw == NULL || raw[0] == '\0')
		raw = "/";
	if (u == NULL || clean_path(raw, path, sizeof(path), &slash) != 0) {
		g_refuse(g, req, 400, "Bad Request", "bad request path");
		return;
	}
	h = evhttp_request_get_host(req);
	if (h == NULL)
		h = "";
	/* evhttp gives the Host without its port; [v6] stays bracketed */
	for (i = 0; h[i] != '\0' && i + 1 < sizeof(host); i++)
		host[i] = (char)tolower((unsigned char)h[i]);
	host[i] = '\0';
	if (h[i] != '\0') {
		g_refuse(g, req, 400, "Bad Request", "host too long");
		return;
	}
	/* a program's route is explicit: it goes before static content */
	rc = gw->srv != NULL ? btapi_server_http_find(gw->srv, host, path) :
	    BTAPI_ENOHANDLER;
	if (rc == BT_OK) {
		forward(gw, g, req, host);
		return;
	}
	g_no_body(g, req);
	if ((st = static_match(gw, host, path)) != NULL) {
		serve_static(gw, g, req, st, path, slash);
		return;
	}
	reply_text(req, 404, "Not Found", "nothing is served at this address");
}

static void
gw_request(struct evhttp_request *req, void *arg)
{
	struct btapi_gateway *gw = arg;
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	struct bufferevent *bev = NULL;
	struct gconn *g = NULL;
	bufferevent_data_cb wcb;
	bufferevent_event_cb ecb;
	void *cbarg;

	if (evcon != NULL) {
		bev = evhttp_connection_get_bufferevent(evcon);
		/* evhttp reads nothing more until this request is answered
		   (its read callback would not expect it); the body, if any,
		   is read through g */
		bufferevent_getcb(bev, NULL, &wcb, &ecb, &cbarg);
		bufferevent_setcb(bev, NULL, wcb, ecb, cbarg);
		g = g_find(gw, bev);
	}
	if (g == NULL || g->evcon != evcon || !g->pending) {
		g_refuse(NULL, req, 503, "Service Unavailable",
		    "out of memory");
		return;
	}
	g->pending = 0;
	g->busy = 1;
	evhttp_request_set_on_complete_cb(req, g_complete, g);
	route(gw, g, req);
	/* g is still there: evhttp closes connections from the loop */
	if (g->st == G_BODY) {
		g->reading = 1;
		if (!g->paused)
			bufferevent_enable(bev, EV_READ);
	}
	g_pump(g);
}

/* ---- lifecycle ------------------------------------------------------------ */

static void
apply_limits(struct btapi_gateway *gw)
{
	evhttp_set_max_headers_size(gw->http,
	    (ev_ssize_t)header_hard(gw->cfg.max_header_bytes));
	evhttp_set_max_body_size(gw->http, (ev_ssize_t)gw->cfg.max_body_bytes);
	evhttp_set_timeout(gw->http, (int)gw->cfg.timeout_s);
}

static int
check_cfg(const struct btapi_gateway_config *cfg)
{
	size_t i;

	if (cfg == NULL || cfg->listen == NULL ||
	    cfg->max_header_bytes < 256 || cfg->max_body_bytes == 0 ||
	    cfg->max_body_bytes > INT64_MAX || cfg->timeout_s == 0 ||
	    cfg->n_statics > STATIC_MAX ||
	    (cfg->statics == NULL && cfg->n_statics > 0))
		return BT_EINVAL;
	for (i = 0; i < cfg->n_statics; i++)
		if (cfg->statics[i].prefix[0] != '/' ||
		    cfg->statics[i].target[0] != '/' ||
		    memchr(cfg->statics[i].host, '\0',
		    sizeof(cfg->statics[i].host)) == NULL ||
		    memchr(cfg->statics[i].prefix, '\0',
		    sizeof(cfg->statics[i].prefix)) == NULL ||
		    memchr(cfg->statics[i].target, '\0',
		    sizeof(cfg->statics[i].target)) == NULL)
			return BT_EINVAL;
	return BT_OK;
}

static int
set_statics(struct btapi_gateway *gw, const struct btapi_gateway_config *cfg)
{
	struct btapi_gateway_static *s = NULL;
	size_t i;

	if (cfg->n_statics > 0) {
		if ((s = calloc(cfg->n_statics, sizeof(*s))) == NULL)
			return BT_ENOMEM;
		memcpy(s, cfg->statics, cfg->n_statics * sizeof(*s));
		for (i = 0; i < cfg->n_statics; i++)
			lower(s[i].host);
	}
	free(gw->statics);
	gw->statics = s;
	gw->n_statics = cfg->n_statics;
	gw->cfg = *cfg;
	gw->cfg.statics = NULL;
	gw->cfg.n_statics = 0;
	gw->cfg.listen = gw->listen;
	return BT_OK;
}

/* "host:port", "[v6]:port", ":port" into @p host (cap bytes) and port. */
static int
split_listen(const char *s, char *host, size_t cap, uint16_t *port)
{
	const char *colon, *hs = s, *he;
	uint64_t v;
	const char *p;

	if (s[0] == '[') {
		if ((he = strchr(s, ']')) == NULL || he[1] != ':')
			return BT_EINVAL;
		hs = s + 1;
		colon = he + 1;
	} else {
		if ((colon = strrchr(s, ':')) == NULL)
			return BT_EINVAL;
		he = colon;
	}
	if ((size_t)(he - hs) >= cap)
		return BT_EINVAL;
	if (he == hs) {
		snprintf(host, cap, "0.0.0.0");
	} else {
		memcpy(host, hs, (size_t)(he - hs));
		host[he - hs] = '\0';
	}
	p = colon + 1;
	if (parse_uint(&p, 5, &v) != 0 || *p != '\0' || v > 65535)
		return BT_EINVAL;
	*port = (uint16_t)v;
	return BT_OK;
}

int
btapi_gateway_open(struct btapi_gateway **out, struct event_base *base,
    struct btapi_server *srv, struct btstore *store,
    const struct btapi_gateway_config *cfg)
{
	struct btapi_gateway *gw = NULL;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char host[256];
	uint16_t port;
	int rc = BT_EINVAL;

	if (out != NULL)
		*out = NULL;
	if (out == NULL || base == NULL || store == NULL ||
	    check_cfg(cfg) != BT_OK ||
	    split_listen(cfg->listen, host, sizeof(host), &port) != BT_OK)
		goto out;
	rc = BT_ENOMEM;
	if ((gw = calloc(1, sizeof(*gw))) == NULL ||
	    (gw->listen = strdup(cfg->listen)) == NULL ||
	    (gw->http = evhttp_new(base)) == NULL ||
	    set_statics(gw, cfg) != BT_OK)
		goto out;
	gw->base = base;
	gw->srv = srv;
	gw->store = store;
	apply_limits(gw);
	evhttp_set_allowed_methods(gw->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
	    EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
	    EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
	evhttp_set_default_content_type(gw->http, "text/plain; charset=utf-8");
	evhttp_set_gencb(gw->http, gw_request, gw);
	if ((gw->attach = event_new(base, -1, 0, g_attach_fresh, gw)) == NULL)
		goto out;
	evhttp_set_bevcb(gw->http, gw_bev, gw);
	rc = BT_EIO;
	if ((gw->sock = evhttp_bind_socket_with_handle(gw->http, host, port)) ==
	    NULL)
		goto out;
	if (getsockname(evhttp_bound_socket_get_fd(gw->sock),
	    (struct sockaddr *)&ss, &sl) == 0) {
		if (ss.ss_family == AF_INET)
			gw->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
		else if (ss.ss_family == AF_INET6)
			gw->port = ntohs(((struct sockaddr_in6 *)&ss)->
			    sin6_port);
	}
	*out = gw;
	gw = NULL;
	rc = BT_OK;
out:
	btapi_gateway_close(gw);
	return rc;
}

int
btapi_gateway_reload(struct btapi_gateway *gw,
    const struct btapi_gateway_config *cfg)
{
	int rc;

	if (gw == NULL || check_cfg(cfg) != BT_OK ||
	    strcmp(cfg->listen, gw->listen) != 0)
		return BT_EINVAL;
	if ((rc = set_statics(gw, cfg)) != BT_OK)
		return rc;
	apply_limits(gw);
	return BT_OK;
}

int
btapi_gateway_port(const struct btapi_gateway *gw)
{
	return gw != NULL ? gw->port : 0;
}

void
btapi_gateway_close(struct btapi_gateway *gw)
{
	size_t i;

	if (gw == NULL)
		return;
	while (gw->ptxs != NULL) {
		struct ptx *p = gw->ptxs;

		ptx_free(p);	/* the program hears http-abort */
	}
	while (gw->stxs != NULL)
		stx_free(gw->stxs);
	if (gw->http != NULL)
		evhttp_free(gw->http);	/* closes every connection */
	g_attach_fresh(-1, 0, gw);	/* frees those evhttp let go */
	for (i = 0; i < CONN_BUCKETS; i++)
		while (gw->conns[i] != NULL) {
			gw->conns[i]->cbe = NULL;	/* its buffer is gone */
			g_free(gw->conns[i]);
		}
	if (gw->attach != NULL)
		event_free(gw->attach);
	fcache_clear(gw);
	free(gw->statics);
	free(gw->listen);
	free(gw);
}
