/*
 * client.c - the program side of the API: a connection on the caller's
 * loop, pipelined requests, streams, events, and blocking wrappers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/util.h>

#include <bt/api.h>
#include <bt/net.h>

#include "btapi-internal.h"

/* Pipelined writes in flight before a blocking writer waits. */
#define WRITE_WINDOW	32
/* Bytes asked per read when reading lines. */
#define LINE_CHUNK	(64 * 1024)

union cbu {
	btapi_done_cb done;
	btapi_stat_cb stat;
	btapi_list_cb list;
	btapi_status_cb status;
	btapi_peers_cb peers;
	btapi_open_cb open;
	btapi_read_cb read;
	btapi_pos_cb pos;
	btapi_id_cb id;
	btapi_call_cb call;
};

struct cpend;
typedef void (*pend_fn)(struct btapi *c, struct cpend *p, int err,
    const char *text, const bson_t *reply);

struct cpend {
	struct cpend *next;
	int64_t id;
	pend_fn done;
	union cbu cb;
	void *arg;
	struct btapi_stream *s;
	btapi_watch_fn wfn;		/* watch registration */
	void *warg;
	btapi_reply_fn_ xfn;		/* btapi_request_() */
};

struct cwatch {
	struct cwatch *next;
	int64_t id;
	btapi_watch_fn fn;
	void *arg;
};

struct chandler {
	struct chandler *next;
	char *scope;
	btapi_rpc_fn fn;
	void *arg;
};

struct croute {
	struct croute *next;
	char *host, *prefix;
	const struct btapi_route_cbs *cbs;
	void *arg;
};

/* A line or buffered read served from a stream's read-ahead. */
struct lop {
	struct lop *next;
	struct btapi_stream *s;
	int line;			/* 1: a line; 0: a read */
	size_t max;
	btapi_read_cb cb;
	void *arg;
	int reading;			/* a read request is in flight */
};

struct btapi_stream {
	struct btapi_stream *next, *prev;
	struct btapi *c;
	int64_t handle;
	uint64_t size;
	int err;			/* kept from a pipelined write */
	size_t inflight;		/* pipelined writes */
	struct evbuffer *rbuf;		/* read ahead by lines */
	int eof;
};

struct btapi_rpc {
	struct btapi_rpc *next;
	struct btapi *c;
	int64_t req;
};

struct btapi_http {
	struct btapi_http *next;
	struct btapi *c;
	int64_t req;
	const struct btapi_route_cbs *cbs;
	void *arg;
	int responded;
};

struct btapi {
	struct event_base *base;
	int own_base;
	struct bufferevent *bev;
	struct event *defer;
	int64_t next_id;
	struct cpend *pends, *tail;
	struct cwatch *watches;
	struct chandler *handlers;
	struct croute *routes;
	struct btapi_http *https;
	struct btapi_rpc *rpcs;		/* messages not answered yet */
	struct btapi_stream *streams;
	struct lop *lops;
	int hello_done;
	int dead;			/* BT_OK or why it ended */
	int busy, dying;
	struct bt_id node;
	char *home;
	btapi_done_cb closed_cb;
	void *closed_arg;
	btapi_progress_fn progress_cb;	/* "progress" events */
	void *progress_arg;
	void *ext;			/* client-ext.c */
};

static void lop_run(struct btapi *c);

/* Results that change nothing for the caller. */
static void
ignore(int rc)
{
	(void)rc;
}

/* ---- requests ------------------------------------------------------------- */

static int
req_begin(struct btapi *c, bson_t *b, const char *op, int64_t *id)
{
	bson_init(b);
	*id = ++c->next_id;
	BSON_APPEND_UTF8(b, "op", op);
	BSON_APPEND_INT64(b, "id", *id);
	return BT_OK;
}

/* Send @p b (destroyed) with @p p (owned: queued or freed). */
static int
req_send(struct btapi *c, bson_t *b, struct cpend *p)
{
	int rc;

	if (c->dead != BT_OK || c->dying) {
		rc = BT_ECLOSED;
		goto out;
	}
	if ((rc = btapi_frame_send_(c->bev, b)) != BT_OK)
		goto out;
	p->next = NULL;
	if (c->tail != NULL)
		c->tail->next = p;
	else
		c->pends = p;
	c->tail = p;
	p = NULL;
out:
	bson_destroy(b);
	free(p);
	return rc;
}

static struct cpend *
pend_new(int64_t id, pend_fn done, void *arg)
{
	struct cpend *p = calloc(1, sizeof(*p));

	if (p != NULL) {
		p->id = id;
		p->done = done;
		p->arg = arg;
	}
	return p;
}

static struct cpend *
pend_take(struct btapi *c, int64_t id)
{
	struct cpend **pp, *p, *prev = NULL;

	for (pp = &c->pends; (p = *pp) != NULL; prev = p, pp = &p->next) {
		if (p->id == id) {
			*pp = p->next;
			if (c->tail == p)
				c->tail = prev;
			return p;
		}
	}
	return NULL;
}

static int
find_bin(const bson_t *b, const char *k, const uint8_t **p, size_t *len)
{
	bson_iter_t it;
	bson_subtype_t sub;
	uint32_t n;

	if (b == NULL || !bson_iter_init_find(&it, b, k) ||
	    !BSON_ITER_HOLDS_BINARY(&it))
		return 0;
	bson_iter_binary(&it, &sub, &n, p);
	*len = n;
	return 1;
}

static const char *
find_str(const bson_t *b, const char *k)
{
	bson_iter_t it;

	if (b == NULL || !bson_iter_init_find(&it, b, k) ||
	    !BSON_ITER_HOLDS_UTF8(&it))
		return NULL;
	return bson_iter_utf8(&it, NULL);
}

static int64_t
find_i64(const bson_t *b, const char *k)
{
	bson_iter_t it;

	if (b == NULL || !bson_iter_init_find(&it, b, k))
		return 0;
	if (BSON_ITER_HOLDS_INT64(&it))
		return bson_iter_int64(&it);
	if (BSON_ITER_HOLDS_INT32(&it))
		return bson_iter_int32(&it);
	return 0;
}

static int
find_bool(const bson_t *b, const char *k)
{
	bson_iter_t it;

	return b != NULL && bson_iter_init_find(&it, b, k) &&
	    BSON_ITER_HOLDS_BOOL(&it) && bson_iter_bool(&it);
}

/* ---- replies to typed callbacks ------------------------------------------ */

static void
done_plain(struct btapi *c, struct cpend *p, int err, const char *text,
    const bson_t *r)
{
	(void)c;
	(void)text;
	(void)r;
	if (p->cb.done != NULL)
		p->cb.done(p->arg, err);
}

static void
stat_from(const bson_t *b, struct btapi_stat *st)
{
	const char *kind = find_str(b, "kind"), *layout = find_str(b, "layout");
	const uint8_t *root;
	size_t n;

	memset(st, 0, sizeof(*st));
	st->kind = kind != NULL && strcmp(kind, "dir") == 0 ? BTAPI_KIND_DIR :
	    BTAPI_KIND_FILE;
	st->size = (uint64_t)find_i64(b, "size");
	st->mode = (uint32_t)find_i64(b, "mode");
	st->mtime = find_i64(b, "mtime");
	st->random = layout != NULL && strcmp(layout, "random") == 0;
	if (find_bin(b, "root", &root, &n) && n == BT_ID_LEN)
		memcpy(st->root.b, root, BT_ID_LEN);
}

static void
done_stat(struct btapi *c, struct cpend *p, int err, const char *text,
    const bson_t *r)
{
	struct btapi_stat st;

	(void)c;
	(void)text;
	if (err == BT_OK)
		stat_from(r, &st);
	p->cb.stat(p->arg, err, err == BT_OK ? &st : NULL);
}

static void
done_list(struct btapi *c, struct cpend *p, int err, const char *text,
    const bson_t *r)
{
	struct btapi_dirent *e = NULL;
	bson_iter_t it, arr;
	size_t n = 0, cap = 0;
	uint32_t dl;
	const uint8_t *d;
	bson_t one;
	struct btapi_dirent *ne;

	(void)c;
	(void)text;
	if (err == BT_OK && bson_iter_init_find(&it, r, "entries") &&
	    BSON_ITER_HOLDS_ARRAY(&it) && bson_iter_recurse(&it, &arr)) {
		while (bson_iter_next(&arr)) {
			if (!BSON_ITER_HOLDS_DOCUMENT(&arr))
				continue;
			bson_iter_document(&arr, &dl, &d);
			if (!bson_init_static(&one, d, dl))
				continue;
			if (n == cap) {
				cap = cap ? cap * 2 : 64;
				if ((ne = realloc(e, cap * sizeof(*e))) ==
				    NULL) {
					err = BT_ENOMEM;
					break;
				}
				e = ne;
			}
			e[n].name = find_str(&one, "name");
			if (e[n].name == NULL)
				continue;
			stat_from(&one, &e[n].st);
			n++;
		}
	}
	p->cb.list(p->arg, err, err == BT_OK ? e : NULL, err == BT_OK ? n : 0,
	    err == BT_OK && find_bool(r, "more"));
	free(e);
}

static void
done_status(struct btapi *c, struct cpend *p, int err, const char *text,
    const bson_t *r)
{
	struct btapi_status st;
	const uint8_t *id;
	size_t n;

	(void)c;
	(void)text;
	memset(&st, 0, sizeof(st));
	if (err == BT_OK) {
		st.version = find_str(r, "version");
		st.home = find_str(r, "home");
		if (find_bin(r, "node", &id, &n) && n == BT_ID_LEN)
			memcpy(st.node.b, id, BT_ID_LEN);
		st.online = find_bool(r, "online");
		st.peers = (uint32_t)find_i64(r, "peers");
		st.clients = (uint32_t)find_i64(r, "clients");
	}
	p->cb.status(p->arg, err, err == BT_OK ? &st : NULL);
}

static void
done_peers(struct btapi *c, struct cpend *p, int err, const char *text,
    const bson_t *r)
{
	struct bt_id *ids = NULL;
	bson_iter_t it, arr;
	size_t n = 0;
	const uint8_t *d;
	uint32_t dl;
	bson_subtype_t sub;

	(void)c;
	(void)text;
	if (err == BT_OK && bson_iter_init_find(&it, r, "peers") &&
	    BSON_ITER_HOLDS_ARRAY(&it) && bson_iter_recurse(&it, &arr)) {
		if ((ids = calloc(256, sizeof(*ids))) == NULL)
			err = BT_ENOMEM;
		while (ids != NULL && n < 256 && bson_iter_next(&arr)) {
			if (!BSON_ITER_HOLDS_BINARY(&arr))
				continue;
			bson_iter_binary(&arr, &sub, &dl, &d);
			if (dl == BT_ID_LEN)
				memcpy(ids[n++].b, d, BT_ID_LEN);
		}
	}
	p->cb.peers(p->arg, err, ids, n, err == BT_OK && find_bool(r, "online"));
	free(ids);
}

static void
done_open(struct btapi *c, struct cpend *p, int err, const char *text,
    const bson_t *r)
{
	struct btapi_stream *s = NULL;

	(void)text;
	if (err == BT_OK) {
		if ((s = calloc(1, sizeof(*s))) == NULL ||
		    (s->rbuf = evbuffer_new()) == NULL) {
			free(s);
			s = NULL;
			err = BT_ENOMEM;
			/* the node holds a handle nobody will close; it goes
			   with the connection */
		} else {
			s->c = c;
			s->handle = find_i64(r, "handle");
			s->size = (uint64_t)find_i64(r, "size");
			s->next = c->streams;
			if (c->streams != NULL)
				c->streams->prev = s;
			c->streams = s;
		}
	}
	p->cb.open(p->arg, err, s);
}

static void
done_read(struct btapi *c, struct cpend *p, int err, const char *text,
    const bson_t *r)
{
	const uint8_t *d = NULL;
	size_t n = 0;

	(void)c;
	(void)text;
	if (err == BT_OK && !find_bin(r, "data", &d, &n))
		err = BT_EPROTO;
	p->cb.read(p->arg, err, err == BT_OK ? d : NULL, err == BT_OK ? n : 0);
}

static void
done_pos(struct btapi *c, struct cpend *p, int err, const char *text,
    const bson_t *r)
{
	(void)c;
	(void)text;
	if (p->cb.pos != NULL)
		p->cb.pos(p->arg, err, err == BT_OK ?
		    (uint64_t)find_i64(r, "pos") : 0);
}

static void
done_write(struct btapi *c, struct cpend *p, int err, const char *text,
    const bson_t *r)
{
	struct btapi_stream *s = p->s;

	(void)c;
	(void)text;
	(void)r;
	if (s != NULL) {
		if (s->inflight > 0)
			s->inflight--;
		if (err != BT_OK && s->err == BT_OK)
			s->err = err;
	}
	if (p->cb.done != NULL)
		p->cb.done(p->arg, err);
}

static void
done_close(struct btapi *c, struct cpend *p, int err, const char *text,
    const bson_t *r)
{
	int kept = (int)(intptr_t)p->warg;

	(void)c;
	(void)text;
	(void)r;
	if (p->cb.done != NULL)
		p->cb.done(p->arg, kept != BT_OK ? kept : err);
}

static void
done_id(struct btapi *c, struct cpend *p, int err, const char *text,
    const bson_t *r)
{
	int64_t id = 0;
	struct cwatch *w;

	(void)text;
	if (err == BT_OK)
		id = find_i64(r, p->wfn != NULL ? "watch" : "token");
	if (err == BT_OK && p->wfn != NULL) {
		if ((w = calloc(1, sizeof(*w))) == NULL) {
			err = BT_ENOMEM;
		} else {
			w->id = id;
			w->fn = p->wfn;
			w->arg = p->warg;
			w->next = c->watches;
			c->watches = w;
		}
	}
	if (p->cb.id != NULL)
		p->cb.id(p->arg, err, err == BT_OK ? id : 0);
}

static void
done_call(struct btapi *c, struct cpend *p, int err, const char *text,
    const bson_t *r)
{
	const uint8_t *d = NULL;
	size_t n = 0;

	(void)c;
	if (err == BT_OK && !find_bin(r, "result", &d, &n) &&
	    find_str(r, "result") == NULL) {
		d = NULL;
		n = 0;
	}
	if (p->cb.call != NULL)
		p->cb.call(p->arg, err, (int)find_i64(r, "code"),
		    text != NULL ? text : "", d, n);
}

/* ---- connection ----------------------------------------------------------- */

static void
really_free(struct btapi *c)
{
	struct cpend *p;
	struct cwatch *w;
	struct chandler *h;
	struct croute *rt;
	struct btapi_http *hr;
	struct btapi_rpc *rq;
	struct btapi_stream *s;
	struct lop *l;

	while ((p = c->pends) != NULL) {
		c->pends = p->next;
		free(p);
	}
	while ((w = c->watches) != NULL) {
		c->watches = w->next;
		free(w);
	}
	while ((h = c->handlers) != NULL) {
		c->handlers = h->next;
		free(h->scope);
		free(h);
	}
	while ((rt = c->routes) != NULL) {
		c->routes = rt->next;
		free(rt->host);
		free(rt->prefix);
		free(rt);
	}
	while ((hr = c->https) != NULL) {
		c->https = hr->next;
		free(hr);
	}
	while ((rq = c->rpcs) != NULL) {
		c->rpcs = rq->next;
		free(rq);
	}
	while ((s = c->streams) != NULL) {
		c->streams = s->next;
		evbuffer_free(s->rbuf);
		free(s);
	}
	while ((l = c->lops) != NULL) {
		c->lops = l->next;
		free(l);
	}
	btapi_ext_conn_free_(c);
	if (c->defer != NULL)
		event_free(c->defer);
	if (c->bev != NULL)
		bufferevent_free(c->bev);
	if (c->own_base)
		event_base_free(c->base);
	free(c->home);
	free(c);
}

void
btapi_close(struct btapi *c)
{
	if (c == NULL)
		return;
	if (c->busy > 0) {
		c->dying = 1;
		if (c->bev != NULL)
			bufferevent_disable(c->bev, EV_READ | EV_WRITE);
		return;
	}
	really_free(c);
}

static void
leave(struct btapi *c)
{
	if (--c->busy == 0 && c->dying)
		really_free(c);
}

/* The connection ended: every waiting callback hears it. */
static void
conn_fail(struct btapi *c, int err)
{
	struct cpend *p;
	struct btapi_http *hr;

	if (c->dead != BT_OK)
		return;
	c->dead = err;
	bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	while (!c->dying && (p = c->pends) != NULL) {
		c->pends = p->next;
		if (c->pends == NULL)
			c->tail = NULL;
		p->done(c, p, BT_ECLOSED, NULL, NULL);
		free(p);
	}
	while (!c->dying && (hr = c->https) != NULL) {
		c->https = hr->next;
		if (hr->cbs->on_abort != NULL)
			hr->cbs->on_abort(hr->arg, hr);
		free(hr);
	}
	if (!c->dying)
		lop_run(c);
	if (!c->dying && c->closed_cb != NULL)
		c->closed_cb(c->closed_arg, err);
}

static void
ev_change(struct btapi *c, const bson_t *b)
{
	int64_t id = find_i64(b, "watch");
	const char *kind = find_str(b, "kind"), *ch = find_str(b, "change");
	const uint8_t *key = NULL;
	size_t klen = 0;
	struct cwatch *w;
	bson_iter_t it;
	uint32_t sl;

	for (w = c->watches; w != NULL; w = w->next)
		if (w->id == id)
			break;
	if (w == NULL || kind == NULL || ch == NULL)
		return;
	if (bson_iter_init_find(&it, b, "key")) {
		if (BSON_ITER_HOLDS_UTF8(&it)) {
			key = (const uint8_t *)bson_iter_utf8(&it, &sl);
			klen = sl;
		} else {
			(void)find_bin(b, "key", &key, &klen);
		}
	}
	w->fn(w->arg, id, strcmp(kind, "block") == 0 ? BTAPI_WATCH_BLOCK :
	    BTAPI_WATCH_PATH, strcmp(ch, "put") == 0 ? BTAPI_CHANGE_PUT :
	    strcmp(ch, "del") == 0 ? BTAPI_CHANGE_DEL : BTAPI_CHANGE_OVERFLOW,
	    key, klen);
}

static void
ev_rpc(struct btapi *c, const bson_t *b)
{
	const char *scope = find_str(b, "scope");
	const uint8_t *from, *args;
	size_t flen, alen;
	struct chandler *h;
	struct btapi_rpc *rq;
	struct bt_id id;

	if (scope == NULL || !find_bin(b, "from", &from, &flen) ||
	    flen != BT_ID_LEN || !find_bin(b, "args", &args, &alen))
		return;
	if ((rq = calloc(1, sizeof(*rq))) == NULL)
		return;		/* the caller times out */
	rq->c = c;
	rq->req = find_i64(b, "req");
	rq->next = c->rpcs;
	c->rpcs = rq;
	memcpy(id.b, from, BT_ID_LEN);
	for (h = c->handlers; h != NULL; h = h->next)
		if (strcmp(h->scope, scope) == 0)
			break;
	if (h == NULL) {
		ignore(btapi_rpc_error(rq, BTAPI_ENOHANDLER, NULL));
		return;
	}
	h->fn(h->arg, rq, &id, scope, args, alen);
}

static struct btapi_http *
http_find(struct btapi *c, int64_t req, struct btapi_http ***pp)
{
	struct btapi_http **hp;

	for (hp = &c->https; *hp != NULL; hp = &(*hp)->next)
		if ((*hp)->req == req) {
			if (pp != NULL)
				*pp = hp;
			return *hp;
		}
	return NULL;
}

static void
ev_http(struct btapi *c, const bson_t *b, const char *ev)
{
	int64_t req = find_i64(b, "req");
	struct btapi_http *hr, **hp;
	struct croute *rt;
	const char *method, *host, *uri, *prefix;
	struct btapi_header hdrs[BTAPI_HTTP_HEADERS_MAX];
	struct btapi_hdr_ one;
	struct btapi_req_ fake;
	bson_iter_t it;
	const uint8_t *d;
	uint32_t dl;
	size_t n = 0, i, len;

	if (strcmp(ev, "http") == 0) {
		method = find_str(b, "method");
		host = find_str(b, "host");
		uri = find_str(b, "uri");
		prefix = find_str(b, "prefix");
		if (method == NULL || host == NULL || uri == NULL ||
		    prefix == NULL)
			return;
		for (rt = c->routes; rt != NULL; rt = rt->next)
			if (strcmp(rt->host, host) == 0 &&
			    strcmp(rt->prefix, prefix) == 0)
				break;
		memset(&fake, 0, sizeof(fake));
		if (bson_iter_init_find(&it, b, "headers") &&
		    BSON_ITER_HOLDS_ARRAY(&it)) {
			bson_iter_array(&it, &dl, &d);
			if (btapi_headers_check_(d, dl, &n) != BT_OK)
				return;
			fake.headers = d;
			fake.headers_len = dl;
			fake.nheaders = n;
		}
		for (i = 0; i < n; i++) {
			if (btapi_req_header_(&fake, i, &one) != BT_OK)
				return;
			hdrs[i].name = one.name;
			hdrs[i].value = one.value;
		}
		if ((hr = calloc(1, sizeof(*hr))) == NULL)
			return;		/* the gateway times out */
		hr->c = c;
		hr->req = req;
		hr->next = c->https;
		c->https = hr;
		if (rt == NULL) {
			ignore(btapi_http_respond(hr, 404, NULL, 0, NULL, 0,
			    1));
			return;
		}
		hr->cbs = rt->cbs;
		hr->arg = rt->arg;
		rt->cbs->on_request(rt->arg, hr, method, host, uri, hdrs, n);
		return;
	}
	if ((hr = http_find(c, req, &hp)) == NULL)
		return;
	if (strcmp(ev, "http-body") == 0) {
		if (hr->cbs != NULL && hr->cbs->on_body != NULL &&
		    find_bin(b, "data", &d, &len))
			hr->cbs->on_body(hr->arg, hr, d, len,
			    find_bool(b, "end"));
	} else if (strcmp(ev, "http-abort") == 0) {
		*hp = hr->next;
		if (hr->cbs != NULL && hr->cbs->on_abort != NULL)
			hr->cbs->on_abort(hr->arg, hr);
		free(hr);
	}
}

/* {event: "progress", id, what, namespace, seq, fetched, present, blocks} */
static void
ev_progress(struct btapi *c, const bson_t *b)
{
	struct btapi_progress p;
	int64_t v;

	if (c->progress_cb == NULL)
		return;
	memset(&p, 0, sizeof(p));
	p.what = find_str(b, "what");
	p.ns = find_str(b, "namespace");
	if (p.what == NULL || p.ns == NULL)
		return;
	p.seq = (v = find_i64(b, "seq")) > 0 ? (uint64_t)v : 0;
	p.fetched = (v = find_i64(b, "fetched")) > 0 ? (uint64_t)v : 0;
	p.present = (v = find_i64(b, "present")) > 0 ? (uint64_t)v : 0;
	p.blocks = (v = find_i64(b, "blocks")) > 0 ? (uint64_t)v : 0;
	c->progress_cb(c->progress_arg, &p);
}

void
btapi_set_progress_cb(struct btapi *c, btapi_progress_fn fn, void *arg)
{
	if (c == NULL)
		return;
	c->progress_cb = fn;
	c->progress_arg = arg;
}

static void
handle_frame(struct btapi *c, const uint8_t *doc, size_t len)
{
	bson_t b;
	bson_iter_t it;
	size_t off;
	const char *ev, *text;
	struct cpend *p;
	int err;

	if (!bson_init_static(&b, doc, len) ||
	    !bson_validate(&b, BSON_VALIDATE_UTF8, &off)) {
		conn_fail(c, BT_EPROTO);
		return;
	}
	if ((ev = find_str(&b, "event")) != NULL) {
		if (strcmp(ev, "change") == 0)
			ev_change(c, &b);
		else if (strcmp(ev, "rpc") == 0)
			ev_rpc(c, &b);
		else if (strncmp(ev, "http", 4) == 0)
			ev_http(c, &b, ev);
		else if (strcmp(ev, "progress") == 0)
			ev_progress(c, &b);
		else
			btapi_ext_event_(c, ev, &b);
		return;
	}
	if (!bson_iter_init_find(&it, &b, "id") || !BSON_ITER_HOLDS_INT64(&it))
		return;
	if ((p = pend_take(c, bson_iter_int64(&it))) == NULL)
		return;
	err = (int)find_i64(&b, "err");
	if (err > 0)
		err = BT_EPROTO;
	text = find_str(&b, "text");
	p->done(c, p, err, text, &b);
	free(p);
}

static void
conn_read(struct bufferevent *bev, void *arg)
{
	struct btapi *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	uint8_t hdr[4];
	const uint8_t *doc, *buf;
	size_t avail, len, total;
	int rc;

	c->busy++;
	while (!c->dying && c->dead == BT_OK) {
		avail = evbuffer_get_length(in);
		if (avail < 4)
			break;
		evbuffer_copyout(in, hdr, 4);
		rc = btapi_frame_parse_(hdr, 4, &doc, &len, &total);
		if (rc == BT_ETOOBIG || rc == BT_EFORMAT) {
			conn_fail(c, BT_EPROTO);
			break;
		}
		if (avail < total)
			break;
		if ((buf = evbuffer_pullup(in, (ev_ssize_t)total)) == NULL) {
			conn_fail(c, BT_ENOMEM);
			break;
		}
		handle_frame(c, buf + 4, total - 4);
		if (!c->dying)
			evbuffer_drain(in, total);
	}
	leave(c);
}

static void
conn_event(struct bufferevent *bev, short what, void *arg)
{
	struct btapi *c = arg;

	(void)bev;
	if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)))
		return;
	c->busy++;
	conn_fail(c, (what & BEV_EVENT_EOF) ? BT_ECLOSED : BT_EIO);
	leave(c);
}

static void
done_hello(struct btapi *c, struct cpend *p, int err, const char *text,
    const bson_t *r)
{
	const uint8_t *id;
	const char *home;
	size_t n;

	(void)text;
	if (err == BT_OK) {
		if (find_bin(r, "node", &id, &n) && n == BT_ID_LEN)
			memcpy(c->node.b, id, BT_ID_LEN);
		home = find_str(r, "home");
		if (home != NULL && (c->home = strdup(home)) == NULL)
			err = BT_ENOMEM;
		else
			c->hello_done = 1;
	}
	if (p->cb.done != NULL)
		p->cb.done(p->arg, err);
}

static void defer_cb(evutil_socket_t fd, short what, void *arg);

int
btapi_open(struct btapi **out, struct event_base *base, const char *path,
    const uint8_t *manifest, size_t len, btapi_done_cb cb, void *arg)
{
	struct btapi *c = NULL;
	struct sockaddr_un sa;
	evutil_socket_t fd = -1;
	struct cpend *p;
	size_t plen;
	int64_t id;
	bson_t b;
	int rc = BT_EINVAL;

	if (out != NULL)
		*out = NULL;
	if (out == NULL || base == NULL || path == NULL ||
	    (manifest == NULL && len > 0))
		return BT_EINVAL;
	plen = strlen(path);
	if (plen == 0 || plen >= sizeof(sa.sun_path))
		return BT_ERANGE;
	if (len > BTAPI_FRAME_MAX / 2)
		return BT_ETOOBIG;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, plen + 1);
	rc = BT_EIO;
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    evutil_make_socket_nonblocking(fd) != 0)
		goto out;
	rc = BT_ENOMEM;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		goto out;
	c->base = base;
	if ((c->bev = bufferevent_socket_new(base, fd,
	    BEV_OPT_CLOSE_ON_FREE)) == NULL)
		goto out;
	fd = -1;
	if ((c->defer = event_new(base, -1, 0, defer_cb, c)) == NULL)
		goto out;
	bufferevent_setcb(c->bev, conn_read, NULL, conn_event, c);
	bufferevent_set_max_single_read(c->bev, BTAPI_FRAME_MAX + 4);
	bufferevent_set_max_single_write(c->bev, BTAPI_FRAME_MAX + 4);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	req_begin(c, &b, "hello", &id);
	BSON_APPEND_INT32(&b, "version", BTAPI_PROTO_VERSION);
	if (manifest != NULL)
		BSON_APPEND_BINARY(&b, "manifest", BSON_SUBTYPE_BINARY,
		    manifest, (uint32_t)len);
	if ((p = pend_new(id, done_hello, arg)) == NULL) {
		bson_destroy(&b);
		goto out;
	}
	p->cb.done = cb;
	if ((rc = req_send(c, &b, p)) != BT_OK)
		goto out;
	*out = c;
	c = NULL;
out:
	if (fd >= 0)
		close(fd);
	if (c != NULL)
		really_free(c);
	return rc;
}

void
btapi_set_closed_cb(struct btapi *c, btapi_done_cb cb, void *arg)
{
	if (c == NULL)
		return;
	c->closed_cb = cb;
	c->closed_arg = arg;
}

int
btapi_node(const struct btapi *c, struct bt_id *node, const char **home)
{
	if (c == NULL)
		return BT_EINVAL;
	if (!c->hello_done)
		return BT_ESTATE;
	if (node != NULL)
		*node = c->node;
	if (home != NULL)
		*home = c->home;
	return BT_OK;
}

/* ---- simple ops ------------------------------------------------------------ */

static int
simple(struct btapi *c, bson_t *b, int64_t id, pend_fn fn, union cbu cb,
    void *arg)
{
	struct cpend *p;

	if ((p = pend_new(id, fn, arg)) == NULL) {
		bson_destroy(b);
		return BT_ENOMEM;
	}
	p->cb = cb;
	return req_send(c, b, p);
}

int
btapi_status(struct btapi *c, btapi_status_cb cb, void *arg)
{
	union cbu u;
	bson_t b;
	int64_t id;

	if (c == NULL || cb == NULL)
		return BT_EINVAL;
	req_begin(c, &b, "status", &id);
	u.status = cb;
	return simple(c, &b, id, done_status, u, arg);
}

int
btapi_peers(struct btapi *c, btapi_peers_cb cb, void *arg)
{
	union cbu u;
	bson_t b;
	int64_t id;

	if (c == NULL || cb == NULL)
		return BT_EINVAL;
	req_begin(c, &b, "peers", &id);
	u.peers = cb;
	return simple(c, &b, id, done_peers, u, arg);
}

int
btapi_stat(struct btapi *c, const char *path, btapi_stat_cb cb, void *arg)
{
	union cbu u;
	bson_t b;
	int64_t id;

	if (c == NULL || path == NULL || cb == NULL)
		return BT_EINVAL;
	req_begin(c, &b, "stat", &id);
	BSON_APPEND_UTF8(&b, "path", path);
	u.stat = cb;
	return simple(c, &b, id, done_stat, u, arg);
}

int
btapi_list(struct btapi *c, const char *path, const char *after,
    uint32_t max, btapi_list_cb cb, void *arg)
{
	union cbu u;
	bson_t b;
	int64_t id;

	if (c == NULL || path == NULL || cb == NULL || max > INT32_MAX)
		return BT_EINVAL;
	req_begin(c, &b, "list", &id);
	BSON_APPEND_UTF8(&b, "path", path);
	if (after != NULL)
		BSON_APPEND_UTF8(&b, "after", after);
	if (max > 0)
		BSON_APPEND_INT32(&b, "max", (int32_t)max);
	u.list = cb;
	return simple(c, &b, id, done_list, u, arg);
}

int
btapi_mkdir(struct btapi *c, const char *path, unsigned flags,
    btapi_done_cb cb, void *arg)
{
	union cbu u;
	bson_t b;
	int64_t id;

	if (c == NULL || path == NULL || (flags & ~BTAPI_PARENTS))
		return BT_EINVAL;
	req_begin(c, &b, "mkdir", &id);
	BSON_APPEND_UTF8(&b, "path", path);
	BSON_APPEND_BOOL(&b, "parents", (flags & BTAPI_PARENTS) != 0);
	u.done = cb;
	return simple(c, &b, id, done_plain, u, arg);
}

int
btapi_rename(struct btapi *c, const char *from, const char *to,
    unsigned flags, btapi_done_cb cb, void *arg)
{
	union cbu u;
	bson_t b;
	int64_t id;

	if (c == NULL || from == NULL || to == NULL ||
	    (flags & ~BTAPI_PARENTS))
		return BT_EINVAL;
	req_begin(c, &b, "rename", &id);
	BSON_APPEND_UTF8(&b, "path", from);
	BSON_APPEND_UTF8(&b, "to", to);
	BSON_APPEND_BOOL(&b, "parents", (flags & BTAPI_PARENTS) != 0);
	u.done = cb;
	return simple(c, &b, id, done_plain, u, arg);
}

int
btapi_remove(struct btapi *c, const char *path, unsigned flags,
    btapi_done_cb cb, void *arg)
{
	union cbu u;
	bson_t b;
	int64_t id;

	if (c == NULL || path == NULL || (flags & ~BTAPI_RECURSIVE))
		return BT_EINVAL;
	req_begin(c, &b, "remove", &id);
	BSON_APPEND_UTF8(&b, "path", path);
	BSON_APPEND_BOOL(&b, "recursive", (flags & BTAPI_RECURSIVE) != 0);
	u.done = cb;
	return simple(c, &b, id, done_plain, u, arg);
}

/* ---- streams ---------------------------------------------------------------- */

int
btapi_stream_open(struct btapi *c, const char *path, unsigned flags,
    int64_t token, btapi_open_cb cb, void *arg)
{
	const unsigned all = BTAPI_READ | BTAPI_WRITE | BTAPI_CREATE |
	    BTAPI_TRUNCATE | BTAPI_EXCL | BTAPI_RANDOM | BTAPI_SEQUENTIAL;
	union cbu u;
	bson_t b;
	int64_t id;
	const char *mode;

	if (c == NULL || path == NULL || cb == NULL || (flags & ~all) ||
	    !(flags & (BTAPI_READ | BTAPI_WRITE)) ||
	    ((flags & BTAPI_RANDOM) && (flags & BTAPI_SEQUENTIAL)))
		return BT_EINVAL;
	mode = (flags & BTAPI_READ) && (flags & BTAPI_WRITE) ? "rw" :
	    (flags & BTAPI_WRITE) ? "w" : "r";
	req_begin(c, &b, "open", &id);
	BSON_APPEND_UTF8(&b, "path", path);
	BSON_APPEND_UTF8(&b, "mode", mode);
	if (flags & BTAPI_WRITE) {
		BSON_APPEND_BOOL(&b, "create", (flags & BTAPI_CREATE) != 0);
		BSON_APPEND_BOOL(&b, "truncate",
		    (flags & BTAPI_TRUNCATE) != 0);
		BSON_APPEND_BOOL(&b, "excl", (flags & BTAPI_EXCL) != 0);
		if (flags & (BTAPI_RANDOM | BTAPI_SEQUENTIAL))
			BSON_APPEND_UTF8(&b, "layout",
			    (flags & BTAPI_RANDOM) ? "random" : "sequential");
	}
	if (token != 0)
		BSON_APPEND_INT64(&b, "token", token);
	u.open = cb;
	return simple(c, &b, id, done_open, u, arg);
}

uint64_t
btapi_stream_size(const struct btapi_stream *s)
{
	return s == NULL ? 0 : s->size;
}

static int
stream_read_req(struct btapi_stream *s, size_t len, pend_fn fn, union cbu u,
    void *arg)
{
	bson_t b;
	int64_t id;

	req_begin(s->c, &b, "read", &id);
	BSON_APPEND_INT64(&b, "handle", s->handle);
	BSON_APPEND_INT32(&b, "len", (int32_t)len);
	return simple(s->c, &b, id, fn, u, arg);
}

static int
lop_add(struct btapi_stream *s, int line, size_t max, btapi_read_cb cb,
    void *arg)
{
	struct lop *l, **lp;

	if ((l = calloc(1, sizeof(*l))) == NULL)
		return BT_ENOMEM;
	l->s = s;
	l->line = line;
	l->max = max;
	l->cb = cb;
	l->arg = arg;
	for (lp = &s->c->lops; *lp != NULL; lp = &(*lp)->next)
		;
	*lp = l;
	event_active(s->c->defer, EV_TIMEOUT, 0);
	return BT_OK;
}

int
btapi_stream_read(struct btapi_stream *s, size_t len, btapi_read_cb cb,
    void *arg)
{
	union cbu u;

	if (s == NULL || cb == NULL)
		return BT_EINVAL;
	if (len > BTAPI_IO_MAX)
		return BT_ERANGE;
	if (s->c->dead != BT_OK)
		return BT_ECLOSED;
	if (evbuffer_get_length(s->rbuf) > 0 || s->c->lops != NULL)
		return lop_add(s, 0, len, cb, arg);
	u.read = cb;
	return stream_read_req(s, len, done_read, u, arg);
}

int
btapi_stream_readline(struct btapi_stream *s, size_t max, btapi_read_cb cb,
    void *arg)
{
	if (s == NULL || cb == NULL || max == 0)
		return BT_EINVAL;
	if (s->c->dead != BT_OK)
		return BT_ECLOSED;
	return lop_add(s, 1, max, cb, arg);
}

static void
lop_data(void *arg, int err, const void *data, size_t len)
{
	struct lop *l = arg;
	struct btapi_stream *s = l->s;

	l->reading = 0;
	if (s == NULL)
		return;
	if (err == BT_OK && len == 0)
		s->eof = 1;
	else if (err == BT_OK && evbuffer_add(s->rbuf, data, len) != 0)
		err = BT_ENOMEM;
	if (err != BT_OK) {
		l->s = NULL;	/* completes with the error below */
		l->max = (size_t)(-err);
	}
	event_active(s->c->defer, EV_TIMEOUT, 0);
}

/* Complete the first line/buffered read that can be, in order. */
static void
lop_run(struct btapi *c)
{
	struct lop *l;
	struct btapi_stream *s;
	struct evbuffer_ptr pos;
	size_t have, n;
	uint8_t *d;
	union cbu u;
	int err;

	while (!c->dying && (l = c->lops) != NULL) {
		if (l->reading)
			return;
		s = l->s;
		if (s == NULL || c->dead != BT_OK) {
			/* failed: s is gone or the read failed */
			err = s == NULL ? -(int)l->max : BT_ECLOSED;
			if (s == NULL && l->max == 0)
				err = BT_ECLOSED;
			c->lops = l->next;
			l->cb(l->arg, err, NULL, 0);
			free(l);
			continue;
		}
		have = evbuffer_get_length(s->rbuf);
		if (!l->line) {
			if (have == 0 && !s->eof) {
				/* nothing read ahead any more: ask the node */
				c->lops = l->next;
				u.read = l->cb;
				err = stream_read_req(s, l->max, done_read, u,
				    l->arg);
				if (err != BT_OK)
					l->cb(l->arg, err, NULL, 0);
				free(l);
				continue;
			}
			n = have < l->max ? have : l->max;
			d = n > 0 ? evbuffer_pullup(s->rbuf, (ev_ssize_t)n) :
			    NULL;
			c->lops = l->next;
			l->cb(l->arg, BT_OK, d, n);
			if (!c->dying && n > 0)
				evbuffer_drain(s->rbuf, n);
			free(l);
			continue;
		}
		pos = evbuffer_search(s->rbuf, "\n", 1, NULL);
		if (pos.pos >= 0 && (size_t)pos.pos < l->max) {
			n = (size_t)pos.pos;
			d = evbuffer_pullup(s->rbuf, (ev_ssize_t)n + 1);
			c->lops = l->next;
			l->cb(l->arg, BT_OK, d, n);
			if (!c->dying)
				evbuffer_drain(s->rbuf, n + 1);
			free(l);
			continue;
		}
		if (have >= l->max) {
			c->lops = l->next;
			l->cb(l->arg, BT_ERANGE, NULL, 0);
			free(l);
			continue;
		}
		if (s->eof) {
			c->lops = l->next;
			d = have > 0 ? evbuffer_pullup(s->rbuf,
			    (ev_ssize_t)have) : NULL;
			l->cb(l->arg, have > 0 ? BT_OK : BT_ENOTFOUND, d,
			    have);
			if (!c->dying && have > 0)
				evbuffer_drain(s->rbuf, have);
			free(l);
			continue;
		}
		u.read = lop_data;
		if ((err = stream_read_req(s, LINE_CHUNK, done_read, u,
		    l)) != BT_OK) {
			c->lops = l->next;
			l->cb(l->arg, err, NULL, 0);
			free(l);
			continue;
		}
		l->reading = 1;
		return;
	}
}

static void
defer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct btapi *c = arg;

	(void)fd;
	(void)what;
	c->busy++;
	lop_run(c);
	leave(c);
}

int
btapi_stream_write(struct btapi_stream *s, const void *data, size_t len,
    btapi_done_cb cb, void *arg)
{
	const uint8_t *d = data;
	struct cpend *p;
	size_t n;
	bson_t b;
	int64_t id;
	int rc;

	if (s == NULL || (data == NULL && len > 0))
		return BT_EINVAL;
	if (s->c->dead != BT_OK)
		return BT_ECLOSED;
	if (cb == NULL && s->err != BT_OK)
		return s->err;
	do {
		n = len > BTAPI_IO_MAX ? BTAPI_IO_MAX : len;
		req_begin(s->c, &b, "write", &id);
		BSON_APPEND_INT64(&b, "handle", s->handle);
		BSON_APPEND_BINARY(&b, "data", BSON_SUBTYPE_BINARY,
		    n > 0 ? d : (const uint8_t *)"", (uint32_t)n);
		if ((p = pend_new(id, done_write, arg)) == NULL) {
			bson_destroy(&b);
			return BT_ENOMEM;
		}
		p->s = s;
		/* the callback hears the last piece; earlier ones only
		   keep their error in the stream */
		p->cb.done = n == len ? cb : NULL;
		if ((rc = req_send(s->c, &b, p)) != BT_OK)
			return rc;
		s->inflight++;
		d += n;
		len -= n;
	} while (len > 0);
	return BT_OK;
}

static int wait_until(struct btapi *c, const int *done);

static int
write_window(struct btapi_stream *s)
{
	struct btapi *c = s->c;
	int rc = BT_OK;

	if (!c->own_base)
		return BT_OK;
	while (s->inflight > WRITE_WINDOW && c->dead == BT_OK && rc == BT_OK)
		rc = event_base_loop(c->base, EVLOOP_ONCE) < 0 ? BT_EIO :
		    BT_OK;
	if (c->dead != BT_OK)
		return BT_ECLOSED;
	return rc != BT_OK ? rc : s->err;
}

int
btapi_stream_vprintf(struct btapi_stream *s, const char *fmt, va_list ap)
{
	char small[512], *big = NULL;
	va_list aq;
	int n, rc;

	if (s == NULL || fmt == NULL)
		return BT_EINVAL;
	va_copy(aq, ap);
	n = vsnprintf(small, sizeof(small), fmt, aq);
	va_end(aq);
	if (n < 0)
		return BT_ERANGE;
	if ((size_t)n >= sizeof(small)) {
		if ((big = malloc((size_t)n + 1)) == NULL)
			return BT_ENOMEM;
		if (vsnprintf(big, (size_t)n + 1, fmt, ap) != n) {
			free(big);
			return BT_ERANGE;
		}
	}
	rc = btapi_stream_write(s, big != NULL ? big : small, (size_t)n, NULL,
	    NULL);
	free(big);
	if (rc == BT_OK)
		rc = write_window(s);
	return rc;
}

int
btapi_stream_printf(struct btapi_stream *s, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = btapi_stream_vprintf(s, fmt, ap);
	va_end(ap);
	return rc;
}

int
btapi_stream_seek(struct btapi_stream *s, int64_t off, int whence,
    btapi_pos_cb cb, void *arg)
{
	union cbu u;
	bson_t b;
	int64_t id;
	size_t ahead;

	if (s == NULL || whence < 0 || whence > 2)
		return BT_EINVAL;
	/* the node's position is past what was read ahead */
	ahead = evbuffer_get_length(s->rbuf);
	if (whence == 1)
		off -= (int64_t)ahead;
	evbuffer_drain(s->rbuf, ahead);
	s->eof = 0;
	req_begin(s->c, &b, "seek", &id);
	BSON_APPEND_INT64(&b, "handle", s->handle);
	BSON_APPEND_INT64(&b, "offset", off);
	BSON_APPEND_INT32(&b, "whence", whence);
	u.pos = cb;
	return simple(s->c, &b, id, done_pos, u, arg);
}

static void
stream_unlink(struct btapi_stream *s)
{
	struct btapi *c = s->c;
	struct cpend *p;
	struct lop *l;

	if (s->prev != NULL)
		s->prev->next = s->next;
	else
		c->streams = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
	for (p = c->pends; p != NULL; p = p->next)
		if (p->s == s)
			p->s = NULL;
	for (l = c->lops; l != NULL; l = l->next)
		if (l->s == s) {
			l->s = NULL;
			l->max = 0;
		}
	evbuffer_free(s->rbuf);
	free(s);
}

int
btapi_stream_close(struct btapi_stream *s, btapi_done_cb cb, void *arg)
{
	struct btapi *c;
	struct cpend *p;
	bson_t b;
	int64_t id;
	int rc;

	if (s == NULL)
		return BT_EINVAL;
	c = s->c;
	req_begin(c, &b, "close", &id);
	BSON_APPEND_INT64(&b, "handle", s->handle);
	if ((p = pend_new(id, done_close, arg)) == NULL) {
		bson_destroy(&b);
		stream_unlink(s);
		return BT_ENOMEM;
	}
	p->cb.done = cb;
	p->warg = (void *)(intptr_t)s->err;
	/* a pipelined write still in flight that fails makes the node
	   refuse the commit, so the close's answer carries that failure */
	rc = req_send(c, &b, p);
	stream_unlink(s);
	return rc;
}

/* ---- watches, locks, messages, routes ----------------------------------------- */

int
btapi_watch(struct btapi *c, int kind, const void *key, size_t keylen,
    btapi_watch_fn fn, void *arg, btapi_id_cb cb, void *cbarg)
{
	struct cpend *p;
	bson_t b;
	int64_t id;

	if (c == NULL || key == NULL || keylen == 0 || fn == NULL ||
	    (kind != BTAPI_WATCH_BLOCK && kind != BTAPI_WATCH_PATH) ||
	    (kind == BTAPI_WATCH_BLOCK && keylen != BT_ID_LEN) ||
	    keylen > 4096)
		return BT_EINVAL;
	req_begin(c, &b, "watch", &id);
	if (kind == BTAPI_WATCH_BLOCK) {
		BSON_APPEND_UTF8(&b, "kind", "block");
		BSON_APPEND_BINARY(&b, "key", BSON_SUBTYPE_BINARY, key,
		    (uint32_t)keylen);
	} else {
		if (memchr(key, '\0', keylen) != NULL) {
			bson_destroy(&b);
			return BT_EINVAL;
		}
		BSON_APPEND_UTF8(&b, "kind", "path");
		bson_append_utf8(&b, "key", -1, key, (int)keylen);
	}
	if ((p = pend_new(id, done_id, cbarg)) == NULL) {
		bson_destroy(&b);
		return BT_ENOMEM;
	}
	p->cb.id = cb;
	p->wfn = fn;
	p->warg = arg;
	return req_send(c, &b, p);
}

int
btapi_unwatch(struct btapi *c, int64_t watch, btapi_done_cb cb, void *arg)
{
	struct cwatch **wp, *w;
	union cbu u;
	bson_t b;
	int64_t id;

	if (c == NULL)
		return BT_EINVAL;
	for (wp = &c->watches; (w = *wp) != NULL; wp = &w->next)
		if (w->id == watch) {
			*wp = w->next;
			free(w);
			break;
		}
	req_begin(c, &b, "unwatch", &id);
	BSON_APPEND_INT64(&b, "watch", watch);
	u.done = cb;
	return simple(c, &b, id, done_plain, u, arg);
}

int
btapi_lock(struct btapi *c, const char *path, int wait, btapi_id_cb cb,
    void *arg)
{
	union cbu u;
	bson_t b;
	int64_t id;

	if (c == NULL || path == NULL || cb == NULL)
		return BT_EINVAL;
	req_begin(c, &b, "lock", &id);
	BSON_APPEND_UTF8(&b, "path", path);
	BSON_APPEND_BOOL(&b, "wait", wait != 0);
	u.id = cb;
	return simple(c, &b, id, done_id, u, arg);
}

int
btapi_unlock(struct btapi *c, int64_t token, btapi_done_cb cb, void *arg)
{
	union cbu u;
	bson_t b;
	int64_t id;

	if (c == NULL)
		return BT_EINVAL;
	req_begin(c, &b, "unlock", &id);
	BSON_APPEND_INT64(&b, "token", token);
	u.done = cb;
	return simple(c, &b, id, done_plain, u, arg);
}

struct regctx {
	struct btapi *c;
	btapi_done_cb cb;
	void *arg;
	int route;
	char *key1, *key2;
};

/* A refused handle or route is forgotten locally too. */
static void
reg_done(void *arg, int err)
{
	struct regctx *r = arg;
	struct chandler **hp, *h;
	struct croute **rp, *rt;

	if (err != BT_OK && !r->c->dying) {
		if (!r->route) {
			for (hp = &r->c->handlers; (h = *hp) != NULL;
			    hp = &h->next)
				if (strcmp(h->scope, r->key1) == 0) {
					*hp = h->next;
					free(h->scope);
					free(h);
					break;
				}
		} else {
			for (rp = &r->c->routes; (rt = *rp) != NULL;
			    rp = &rt->next)
				if (strcmp(rt->host, r->key1) == 0 &&
				    strcmp(rt->prefix, r->key2) == 0) {
					*rp = rt->next;
					free(rt->host);
					free(rt->prefix);
					free(rt);
					break;
				}
		}
	}
	if (r->cb != NULL)
		r->cb(r->arg, err);
	free(r->key1);
	free(r->key2);
	free(r);
}

int
btapi_handle(struct btapi *c, const char *scope, btapi_rpc_fn fn, void *arg,
    btapi_done_cb cb, void *cbarg)
{
	struct chandler *h = NULL;
	struct regctx *r = NULL;
	union cbu u;
	bson_t b;
	int64_t id;
	int rc;

	if (c == NULL || scope == NULL || fn == NULL)
		return BT_EINVAL;
	for (h = c->handlers; h != NULL; h = h->next)
		if (strcmp(h->scope, scope) == 0)
			return BT_EEXIST;
	rc = BT_ENOMEM;
	if ((h = calloc(1, sizeof(*h))) == NULL ||
	    (h->scope = strdup(scope)) == NULL ||
	    (r = calloc(1, sizeof(*r))) == NULL ||
	    (r->key1 = strdup(scope)) == NULL)
		goto fail;
	h->fn = fn;
	h->arg = arg;
	r->c = c;
	r->cb = cb;
	r->arg = cbarg;
	req_begin(c, &b, "handle", &id);
	BSON_APPEND_UTF8(&b, "scope", scope);
	u.done = reg_done;
	if ((rc = simple(c, &b, id, done_plain, u, r)) != BT_OK)
		goto fail;
	h->next = c->handlers;
	c->handlers = h;
	return BT_OK;
fail:
	if (h != NULL)
		free(h->scope);
	free(h);
	if (r != NULL)
		free(r->key1);
	free(r);
	return rc;
}

int
btapi_unhandle(struct btapi *c, const char *scope, btapi_done_cb cb,
    void *arg)
{
	struct chandler **hp, *h;
	union cbu u;
	bson_t b;
	int64_t id;

	if (c == NULL || scope == NULL)
		return BT_EINVAL;
	for (hp = &c->handlers; (h = *hp) != NULL; hp = &h->next)
		if (strcmp(h->scope, scope) == 0) {
			*hp = h->next;
			free(h->scope);
			free(h);
			break;
		}
	req_begin(c, &b, "unhandle", &id);
	BSON_APPEND_UTF8(&b, "scope", scope);
	u.done = cb;
	return simple(c, &b, id, done_plain, u, arg);
}

static int
rpc_answer(struct btapi_rpc *req, const uint8_t *doc, size_t len, int code,
    const char *text)
{
	struct btapi *c = req->c;
	struct btapi_rpc **rp;
	union cbu u;
	bson_t b;
	int64_t id;

	for (rp = &c->rpcs; *rp != NULL; rp = &(*rp)->next)
		if (*rp == req) {
			*rp = req->next;
			break;
		}
	req_begin(c, &b, "reply", &id);
	BSON_APPEND_INT64(&b, "req", req->req);
	if (doc != NULL) {
		BSON_APPEND_BINARY(&b, "result", BSON_SUBTYPE_BINARY, doc,
		    (uint32_t)len);
	} else {
		BSON_APPEND_INT32(&b, "err", code);
		if (text != NULL)
			BSON_APPEND_UTF8(&b, "text", text);
	}
	free(req);
	u.done = NULL;
	return simple(c, &b, id, done_plain, u, NULL);
}

int
btapi_rpc_reply(struct btapi_rpc *req, const uint8_t *doc, size_t len)
{
	bson_t b;
	size_t off;

	if (req == NULL)
		return BT_EINVAL;
	if (doc == NULL || len < 5 || !bson_init_static(&b, doc, len) ||
	    !bson_validate(&b, BSON_VALIDATE_UTF8, &off)) {
		/* the caller hears it failed */
		ignore(rpc_answer(req, NULL, 0, BT_EFORMAT, NULL));
		return BT_EFORMAT;
	}
	if (len > BTAPI_FRAME_MAX - 256) {
		ignore(rpc_answer(req, NULL, 0, BT_ETOOBIG, NULL));
		return BT_ETOOBIG;
	}
	return rpc_answer(req, doc, len, 0, NULL);
}

int
btapi_rpc_error(struct btapi_rpc *req, int code, const char *text)
{
	if (req == NULL)
		return BT_EINVAL;
	if (code >= 0 || (text != NULL && strlen(text) > BTAPI_TEXT_MAX)) {
		ignore(rpc_answer(req, NULL, 0, BT_EINVAL, NULL));
		return BT_EINVAL;
	}
	return rpc_answer(req, NULL, 0, code, text);
}

int
btapi_call(struct btapi *c, const struct bt_id *node, const char *scope,
    const uint8_t *args, size_t len, int oneway, btapi_call_cb cb,
    void *arg)
{
	union cbu u;
	bson_t b, a;
	int64_t id;
	size_t off;

	if (c == NULL || node == NULL || scope == NULL ||
	    (cb == NULL && !oneway) || (args == NULL && len > 0))
		return BT_EINVAL;
	if (args != NULL && (len < 5 || !bson_init_static(&a, args, len) ||
	    !bson_validate(&a, BSON_VALIDATE_UTF8, &off)))
		return BT_EFORMAT;
	if (len > BTAPI_FRAME_MAX - 512)
		return BT_ETOOBIG;
	req_begin(c, &b, "call", &id);
	BSON_APPEND_BINARY(&b, "node", BSON_SUBTYPE_BINARY, node->b,
	    BT_ID_LEN);
	BSON_APPEND_UTF8(&b, "scope", scope);
	if (args != NULL)
		BSON_APPEND_BINARY(&b, "args", BSON_SUBTYPE_BINARY, args,
		    (uint32_t)len);
	BSON_APPEND_BOOL(&b, "oneway", oneway != 0);
	u.call = cb;
	return simple(c, &b, id, done_call, u, arg);
}

int
btapi_route(struct btapi *c, const char *host, const char *prefix,
    const struct btapi_route_cbs *cbs, void *arg, btapi_done_cb cb,
    void *cbarg)
{
	struct croute *rt = NULL;
	struct regctx *r = NULL;
	union cbu u;
	bson_t b;
	int64_t id;
	int rc;

	if (c == NULL || host == NULL || prefix == NULL || cbs == NULL ||
	    cbs->on_request == NULL)
		return BT_EINVAL;
	rc = BT_ENOMEM;
	if ((rt = calloc(1, sizeof(*rt))) == NULL ||
	    (rt->host = strdup(host)) == NULL ||
	    (rt->prefix = strdup(prefix)) == NULL ||
	    (r = calloc(1, sizeof(*r))) == NULL ||
	    (r->key1 = strdup(host)) == NULL ||
	    (r->key2 = strdup(prefix)) == NULL)
		goto fail;
	rt->cbs = cbs;
	rt->arg = arg;
	r->c = c;
	r->cb = cb;
	r->arg = cbarg;
	r->route = 1;
	req_begin(c, &b, "route", &id);
	BSON_APPEND_UTF8(&b, "host", host);
	BSON_APPEND_UTF8(&b, "prefix", prefix);
	u.done = reg_done;
	if ((rc = simple(c, &b, id, done_plain, u, r)) != BT_OK)
		goto fail;
	rt->next = c->routes;
	c->routes = rt;
	return BT_OK;
fail:
	if (r != NULL) {
		free(r->key1);
		free(r->key2);
	}
	free(r);
	if (rt != NULL) {
		free(rt->host);
		free(rt->prefix);
	}
	free(rt);
	return rc;
}

int
btapi_unroute(struct btapi *c, const char *host, const char *prefix,
    btapi_done_cb cb, void *arg)
{
	struct croute **rp, *rt;
	union cbu u;
	bson_t b;
	int64_t id;

	if (c == NULL || host == NULL || prefix == NULL)
		return BT_EINVAL;
	for (rp = &c->routes; (rt = *rp) != NULL; rp = &rt->next)
		if (strcmp(rt->host, host) == 0 &&
		    strcmp(rt->prefix, prefix) == 0) {
			*rp = rt->next;
			free(rt->host);
			free(rt->prefix);
			free(rt);
			break;
		}
	req_begin(c, &b, "unroute", &id);
	BSON_APPEND_UTF8(&b, "host", host);
	BSON_APPEND_UTF8(&b, "prefix", prefix);
	u.done = cb;
	return simple(c, &b, id, done_plain, u, arg);
}

static void
http_forget(struct btapi_http *req)
{
	struct btapi_http **hp;

	if (http_find(req->c, req->req, &hp) != NULL)
		*hp = req->next;
	free(req);
}

static int
http_piece(struct btapi_http *req, const char *op, int status,
    const struct btapi_header *h, size_t n, const void *data, size_t len,
    int end)
{
	struct btapi *c = req->c;
	union cbu u;
	bson_t b, arr, pair;
	int64_t id;
	size_t i, hn;
	char key[16];
	const char *k;
	bson_iter_t it;
	uint32_t dl;
	const uint8_t *d;
	int rc;

	req_begin(c, &b, op, &id);
	BSON_APPEND_INT64(&b, "req", req->req);
	if (status != 0) {
		BSON_APPEND_INT32(&b, "status", status);
		BSON_APPEND_ARRAY_BEGIN(&b, "headers", &arr);
		for (i = 0; i < n; i++) {
			bson_uint32_to_string((uint32_t)i, &k, key,
			    sizeof(key));
			bson_append_array_begin(&arr, k, -1, &pair);
			BSON_APPEND_UTF8(&pair, "0", h[i].name);
			BSON_APPEND_UTF8(&pair, "1", h[i].value);
			bson_append_array_end(&arr, &pair);
		}
		bson_append_array_end(&b, &arr);
		if (bson_iter_init_find(&it, &b, "headers")) {
			bson_iter_array(&it, &dl, &d);
			if ((rc = btapi_headers_check_(d, dl, &hn)) != BT_OK) {
				bson_destroy(&b);
				return rc;
			}
		}
	}
	BSON_APPEND_BINARY(&b, "data", BSON_SUBTYPE_BINARY,
	    len > 0 ? data : (const void *)"", (uint32_t)len);
	BSON_APPEND_BOOL(&b, "end", end != 0);
	u.done = NULL;
	return simple(c, &b, id, done_plain, u, NULL);
}

int
btapi_http_respond(struct btapi_http *req, int status,
    const struct btapi_header *h, size_t n, const void *data, size_t len,
    int end)
{
	int rc;

	if (req == NULL || (h == NULL && n > 0) || (data == NULL && len > 0))
		return BT_EINVAL;
	if (req->responded)
		return BT_ESTATE;
	if (status < 100 || status > 599 || n > BTAPI_HTTP_HEADERS_MAX)
		return BT_ERANGE;
	if (len > BTAPI_IO_MAX) {
		rc = http_piece(req, "http-reply", status, h, n, data,
		    BTAPI_IO_MAX, 0);
		if (rc == BT_OK) {
			req->responded = 1;
			rc = btapi_http_send(req, (const uint8_t *)data +
			    BTAPI_IO_MAX, len - BTAPI_IO_MAX, end);
		}
		return rc;
	}
	rc = http_piece(req, "http-reply", status, h, n, data, len, end);
	if (rc == BT_OK)
		req->responded = 1;
	if (rc == BT_OK && end)
		http_forget(req);
	return rc;
}

int
btapi_http_send(struct btapi_http *req, const void *data, size_t len,
    int end)
{
	const uint8_t *d = data;
	size_t n;
	int rc;

	if (req == NULL || (data == NULL && len > 0))
		return BT_EINVAL;
	if (!req->responded)
		return BT_ESTATE;
	do {
		n = len > BTAPI_IO_MAX ? BTAPI_IO_MAX : len;
		if ((rc = http_piece(req, "http-body", 0, NULL, 0, d, n,
		    end && n == len)) != BT_OK)
			return rc;
		d += n;
		len -= n;
	} while (len > 0);
	if (end)
		http_forget(req);
	return BT_OK;
}

void
btapi_free(void *p)
{
	free(p);
}

/* ---- for the data ops (client-ext.c) ----------------------------------- */

static void
done_ext(struct btapi *c, struct cpend *p, int err, const char *text,
    const bson_t *r)
{
	p->xfn(c, p->arg, err, text, r);
}

void
btapi_req_begin_(struct btapi *c, bson_t *b, const char *op)
{
	int64_t id;

	req_begin(c, b, op, &id);
}

int
btapi_request_(struct btapi *c, bson_t *b, btapi_reply_fn_ fn, void *arg)
{
	bson_iter_t it;
	struct cpend *p;

	if (!bson_iter_init_find(&it, b, "id") || !BSON_ITER_HOLDS_INT64(&it) ||
	    (p = pend_new(bson_iter_int64(&it), done_ext, arg)) == NULL) {
		bson_destroy(b);
		return BT_ENOMEM;
	}
	p->xfn = fn;
	return req_send(c, b, p);
}

void **
btapi_conn_ext_(struct btapi *c)
{
	return &c->ext;
}

struct event_base *
btapi_conn_base_(struct btapi *c)
{
	return c->base;
}

static int wait_until(struct btapi *c, const int *done);

int
btapi_wait_(struct btapi *c, const int *done)
{
	if (!c->own_base)
		return BT_ESTATE;
	return wait_until(c, done);
}

/* ---- blocking ----------------------------------------------------------------- */

struct sres {
	int done;
	int err;
	struct btapi_stat st;
	struct btapi_stream *s;
	uint64_t pos;
	int64_t id;
	void *buf;
	size_t cap, n;
	uint8_t *doc;
	int code;
	int more;
	char *last;
	int (*fn)(void *, const struct btapi_dirent *);
	void *fnarg;
	int stop;
	struct btapi_status status;
	char *home;
	size_t homecap;
};

static int
wait_until(struct btapi *c, const int *done)
{
	while (!*done) {
		if (c->dead != BT_OK)
			return BT_ECLOSED;
		if (event_base_loop(c->base, EVLOOP_ONCE) < 0)
			return BT_EIO;
	}
	return BT_OK;
}

static int
sync_wait(struct btapi *c, int rc, struct sres *r)
{
	if (rc != BT_OK)
		return rc;
	if ((rc = wait_until(c, &r->done)) != BT_OK)
		return rc;
	return r->err;
}

static void
s_done(void *arg, int err)
{
	struct sres *r = arg;

	r->err = err;
	r->done = 1;
}

int
btapi_connect_blocking(struct btapi **out, const char *path,
    const uint8_t *manifest, size_t len)
{
	struct event_base *base;
	struct btapi *c = NULL;
	struct sres r;
	int rc;

	if (out != NULL)
		*out = NULL;
	if (out == NULL)
		return BT_EINVAL;
	if ((base = event_base_new()) == NULL)
		return BT_ENOMEM;
	memset(&r, 0, sizeof(r));
	if ((rc = btapi_open(&c, base, path, manifest, len, s_done,
	    &r)) != BT_OK) {
		event_base_free(base);
		return rc;
	}
	c->own_base = 1;
	if ((rc = sync_wait(c, BT_OK, &r)) != BT_OK) {
		btapi_close(c);
		return rc;
	}
	*out = c;
	return BT_OK;
}

#define NEED_SYNC(c) do { \
	if ((c) == NULL) \
		return BT_EINVAL; \
	if (!(c)->own_base) \
		return BT_ESTATE; \
} while (0)

static void
s_status(void *arg, int err, const struct btapi_status *st)
{
	struct sres *r = arg;

	r->err = err;
	r->done = 1;
	if (err == BT_OK) {
		r->status = *st;
		r->status.version = NULL;
		r->status.home = NULL;
		if (r->home != NULL && r->homecap > 0) {
			if (st->home == NULL || strlen(st->home) >= r->homecap)
				r->err = BT_ERANGE;
			else
				memcpy(r->home, st->home, strlen(st->home) + 1);
		}
	}
}

int
btapi_status_sync(struct btapi *c, struct btapi_status *st, char *home,
    size_t cap)
{
	struct sres r;
	int rc;

	NEED_SYNC(c);
	if (st == NULL)
		return BT_EINVAL;
	memset(&r, 0, sizeof(r));
	r.home = home;
	r.homecap = cap;
	rc = sync_wait(c, btapi_status(c, s_status, &r), &r);
	if (rc == BT_OK) {
		*st = r.status;
		st->version = btapi_version();
		st->home = home;
	}
	return rc;
}

static void
s_stat(void *arg, int err, const struct btapi_stat *st)
{
	struct sres *r = arg;

	r->err = err;
	r->done = 1;
	if (err == BT_OK)
		r->st = *st;
}

int
btapi_stat_sync(struct btapi *c, const char *path, struct btapi_stat *st)
{
	struct sres r;
	int rc;

	NEED_SYNC(c);
	if (st == NULL)
		return BT_EINVAL;
	memset(&r, 0, sizeof(r));
	rc = sync_wait(c, btapi_stat(c, path, s_stat, &r), &r);
	if (rc == BT_OK)
		*st = r.st;
	return rc;
}

static void
s_list(void *arg, int err, const struct btapi_dirent *e, size_t n, int more)
{
	struct sres *r = arg;
	size_t i;

	r->err = err;
	r->done = 1;
	r->more = more;
	for (i = 0; err == BT_OK && i < n && !r->stop; i++)
		if (r->fn(r->fnarg, &e[i]) != 0)
			r->stop = 1;
	free(r->last);
	r->last = NULL;
	if (err == BT_OK && n > 0 && (r->last = strdup(e[n - 1].name)) == NULL)
		r->err = BT_ENOMEM;
}

int
btapi_list_sync(struct btapi *c, const char *path,
    int (*fn)(void *arg, const struct btapi_dirent *e), void *arg)
{
	struct sres r;
	char *after = NULL;
	int rc;

	NEED_SYNC(c);
	if (fn == NULL)
		return BT_EINVAL;
	memset(&r, 0, sizeof(r));
	r.fn = fn;
	r.fnarg = arg;
	do {
		r.done = 0;
		rc = sync_wait(c, btapi_list(c, path, after, 0, s_list, &r),
		    &r);
		free(after);
		after = r.last;
		r.last = NULL;
	} while (rc == BT_OK && r.more && !r.stop && after != NULL);
	free(after);
	return rc;
}

int
btapi_mkdir_sync(struct btapi *c, const char *path, unsigned flags)
{
	struct sres r;

	NEED_SYNC(c);
	memset(&r, 0, sizeof(r));
	return sync_wait(c, btapi_mkdir(c, path, flags, s_done, &r), &r);
}

int
btapi_rename_sync(struct btapi *c, const char *from, const char *to,
    unsigned flags)
{
	struct sres r;

	NEED_SYNC(c);
	memset(&r, 0, sizeof(r));
	return sync_wait(c, btapi_rename(c, from, to, flags, s_done, &r), &r);
}

int
btapi_remove_sync(struct btapi *c, const char *path, unsigned flags)
{
	struct sres r;

	NEED_SYNC(c);
	memset(&r, 0, sizeof(r));
	return sync_wait(c, btapi_remove(c, path, flags, s_done, &r), &r);
}

static void
s_open(void *arg, int err, struct btapi_stream *s)
{
	struct sres *r = arg;

	r->err = err;
	r->done = 1;
	r->s = s;
}

int
btapi_stream_open_sync(struct btapi_stream **out, struct btapi *c,
    const char *path, unsigned flags, int64_t token)
{
	struct sres r;
	int rc;

	if (out != NULL)
		*out = NULL;
	NEED_SYNC(c);
	if (out == NULL)
		return BT_EINVAL;
	memset(&r, 0, sizeof(r));
	rc = sync_wait(c, btapi_stream_open(c, path, flags, token, s_open, &r),
	    &r);
	if (rc == BT_OK)
		*out = r.s;
	return rc;
}

static void
s_read(void *arg, int err, const void *data, size_t len)
{
	struct sres *r = arg;

	r->err = err;
	r->done = 1;
	r->n = 0;
	if (err != BT_OK)
		return;
	if (len > r->cap) {
		r->err = BT_ERANGE;
		return;
	}
	if (len > 0)
		memcpy(r->buf, data, len);
	r->n = len;
}

int
btapi_stream_read_sync(struct btapi_stream *s, void *buf, size_t cap,
    size_t *n)
{
	struct sres r;
	int rc;

	if (n != NULL)
		*n = 0;
	if (s == NULL || buf == NULL || n == NULL)
		return BT_EINVAL;
	NEED_SYNC(s->c);
	memset(&r, 0, sizeof(r));
	r.buf = buf;
	r.cap = cap;
	rc = sync_wait(s->c, btapi_stream_read(s, cap > BTAPI_IO_MAX ?
	    BTAPI_IO_MAX : cap, s_read, &r), &r);
	if (rc == BT_OK)
		*n = r.n;
	return rc;
}

int
btapi_stream_write_sync(struct btapi_stream *s, const void *data, size_t len)
{
	int rc;

	if (s == NULL)
		return BT_EINVAL;
	NEED_SYNC(s->c);
	if ((rc = btapi_stream_write(s, data, len, NULL, NULL)) != BT_OK)
		return rc;
	return write_window(s);
}

int
btapi_stream_getline_sync(struct btapi_stream *s, char *buf, size_t cap,
    size_t *len)
{
	struct sres r;
	int rc;

	if (len != NULL)
		*len = 0;
	if (s == NULL || buf == NULL || cap == 0 || len == NULL)
		return BT_EINVAL;
	NEED_SYNC(s->c);
	memset(&r, 0, sizeof(r));
	r.buf = buf;
	r.cap = cap - 1;
	rc = sync_wait(s->c, btapi_stream_readline(s, cap, s_read, &r), &r);
	buf[rc == BT_OK ? r.n : 0] = '\0';
	if (rc == BT_OK)
		*len = r.n;
	return rc;
}

static void
s_pos(void *arg, int err, uint64_t pos)
{
	struct sres *r = arg;

	r->err = err;
	r->done = 1;
	r->pos = pos;
}

int
btapi_stream_seek_sync(struct btapi_stream *s, int64_t off, int whence,
    uint64_t *pos)
{
	struct sres r;
	int rc;

	if (s == NULL)
		return BT_EINVAL;
	NEED_SYNC(s->c);
	memset(&r, 0, sizeof(r));
	rc = sync_wait(s->c, btapi_stream_seek(s, off, whence, s_pos, &r), &r);
	if (rc == BT_OK && pos != NULL)
		*pos = r.pos;
	return rc;
}

int
btapi_stream_close_sync(struct btapi_stream *s)
{
	struct btapi *c;
	struct sres r;

	if (s == NULL)
		return BT_EINVAL;
	c = s->c;
	if (!c->own_base) {
		/* still release it, as promised */
		ignore(btapi_stream_close(s, NULL, NULL));
		return BT_ESTATE;
	}
	memset(&r, 0, sizeof(r));
	return sync_wait(c, btapi_stream_close(s, s_done, &r), &r);
}

static void
s_id(void *arg, int err, int64_t id)
{
	struct sres *r = arg;

	r->err = err;
	r->done = 1;
	r->id = id;
}

int
btapi_lock_sync(struct btapi *c, const char *path, int wait, int64_t *token)
{
	struct sres r;
	int rc;

	NEED_SYNC(c);
	if (token == NULL)
		return BT_EINVAL;
	memset(&r, 0, sizeof(r));
	rc = sync_wait(c, btapi_lock(c, path, wait, s_id, &r), &r);
	*token = rc == BT_OK ? r.id : 0;
	return rc;
}

int
btapi_unlock_sync(struct btapi *c, int64_t token)
{
	struct sres r;

	NEED_SYNC(c);
	memset(&r, 0, sizeof(r));
	return sync_wait(c, btapi_unlock(c, token, s_done, &r), &r);
}

static void
s_call(void *arg, int err, int code, const char *text, const uint8_t *reply,
    size_t len)
{
	struct sres *r = arg;

	(void)text;
	r->err = err;
	r->done = 1;
	r->code = code;
	if (err == BT_OK && reply != NULL) {
		if ((r->doc = malloc(len)) == NULL)
			r->err = BT_ENOMEM;
		else
			memcpy(r->doc, reply, len);
		r->n = len;
	}
}

int
btapi_call_sync(struct btapi *c, const struct bt_id *node, const char *scope,
    const uint8_t *args, size_t len, uint8_t **reply, size_t *rlen, int *code)
{
	struct sres r;
	int rc;

	if (reply != NULL)
		*reply = NULL;
	if (rlen != NULL)
		*rlen = 0;
	if (code != NULL)
		*code = 0;
	NEED_SYNC(c);
	if (reply == NULL || rlen == NULL)
		return BT_EINVAL;
	memset(&r, 0, sizeof(r));
	rc = sync_wait(c, btapi_call(c, node, scope, args, len, 0, s_call, &r),
	    &r);
	if (rc == BT_OK) {
		*reply = r.doc;
		*rlen = r.n;
	} else {
		free(r.doc);
		if (code != NULL)
			*code = r.code;
	}
	return rc;
}
