/*
 * server.c - the node's API server: the Unix socket, clients, and every op
 * of blocktree-api(7) over libbtstore and libbtnet.
 */
/* SO_PEERCRED and struct ucred */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>

#include <bt/apirepl.h>
#include <bt/apiserver.h>
#include <bt/file.h>
#include <bt/manifest.h>
#include <bt/net.h>
#include <bt/ns.h>
#include <bt/path.h>
#include <bt/store.h>
#include <bt/tree.h>

#include "btapi-internal.h"

/* Entries of one list reply, at most, and its size budget. */
#define LIST_MAX_DEFAULT	1000
#define LIST_MAX		10000
#define LIST_BYTES		(900 * 1024)

struct client;

struct stream {
	struct stream *next;
	int64_t id;
	int mode;
	int layout;
	char *path;			/* normalised full path */
	size_t path_len;
	struct btstore_file_reader *rd;	/* "r" */
	struct btstore_ns_writer *wr;	/* "w" */
	uint64_t pos;			/* "w", "rw" */
	uint8_t *buf;			/* "rw": the file */
	size_t len, cap;
	int dirty;
	int failed;			/* BT_OK or the error that failed it */
};

struct watch {
	struct watch *next;
	struct client *c;
	int64_t id;
	int kind;
	uint64_t sw;			/* the store's watch */
};

struct waiter {
	struct waiter *next;
	struct client *c;
	int64_t id;			/* the lock request's id */
};

struct lock {
	struct lock *next;
	char *path;
	size_t len;
	struct client *holder;
	int64_t token;
	struct waiter *waiters;		/* FIFO */
};

struct handler {
	struct handler *next;
	struct client *c;
	char *scope;
};

struct route {
	struct route *next;
	struct client *c;
	char *host, *prefix;
	size_t prefix_len;
};

enum pkind { P_RPC_NET = 1, P_RPC_LOCAL, P_CALL_NET, P_HTTP };

/* Work that crosses clients, the network or the gateway. */
struct pend {
	struct pend *next, *prev;
	struct btapi_server *srv;
	enum pkind kind;
	int64_t id;			/* "req" seen by the handling client */
	struct client *handler;		/* the program serving it */
	struct client *caller;		/* local caller, or NULL */
	int64_t caller_id;		/* its request id */
	struct btnet_rpc_req *nreq;	/* P_RPC_NET */
	struct event *timer;
	/* P_HTTP */
	struct btapi_http_req *http;
};

struct btapi_http_req {
	struct pend *p;
	const struct btapi_http_cbs *cbs;
	void *arg;
	int head_done, body_ended, want_writable;
};

struct client {
	struct client *next, *prev;
	struct btapi_server *srv;
	struct bufferevent *bev;
	int hello;
	struct btcore_manifest *manifest;	/* NULL: the owner */
	struct stream *streams;
	size_t nstreams;
	struct watch *watches;
	size_t nwatches;
	size_t inflight;
	int paused;
	void *ext;			/* server-ext.c */
};

struct btapi_server {
	struct event_base *base;
	struct evconnlistener *lis;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct btapi_server_config cfg;
	struct bt_pubkey owner;
	struct bt_id node;
	struct btcore_path *home;
	struct event *notify_ev;
	struct client *clients;
	size_t nclients;
	struct lock *locks;
	struct handler *handlers;
	struct route *routes;
	struct pend *pends;
	struct deferred *deferred;	/* ops waiting for a fetch */
	int64_t next_id;
	int64_t next_token;
	void *ext;			/* server-ext.c */
};

static void client_free(struct client *c);

/* Results that change nothing for the caller: the work is being dropped. */
static void
ignore(int rc)
{
	(void)rc;
}
static void client_read(struct bufferevent *bev, void *arg);

void
btapi_server_config_init(struct btapi_server_config *cfg)
{
	if (cfg == NULL)
		return;
	memset(cfg, 0, sizeof(*cfg));
	cfg->max_clients = 64;
	cfg->max_inflight = 256;
	cfg->max_handles = 64;
	cfg->max_watches = 256;
	cfg->max_output = 4u << 20;
	cfg->rw_max = 64u << 20;
	cfg->request_timeout_ms = BT_REQUEST_TIMEOUT_MS;
	cfg->dispatch_notify = 1;
}

size_t
btapi_server_clients(const struct btapi_server *srv)
{
	return srv == NULL ? 0 : srv->nclients;
}

/* ---- sending ------------------------------------------------------------ */

static void
client_send(struct client *c, const bson_t *doc)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);

	/* a frame that cannot be queued is lost; the client times out */
	(void)btapi_frame_send_(c->bev, doc);
	if (evbuffer_get_length(out) > c->srv->cfg.max_output && !c->paused) {
		c->paused = 1;
		bufferevent_disable(c->bev, EV_READ);
	}
}

static int
output_full(const struct client *c)
{
	return evbuffer_get_length(bufferevent_get_output(c->bev)) >
	    c->srv->cfg.max_output;
}

static void
reply_begin(bson_t *b, int64_t id)
{
	bson_init(b);
	BSON_APPEND_INT64(b, "id", id);
	BSON_APPEND_INT32(b, "err", 0);
}

static void
reply_err(struct client *c, int64_t id, int err, const char *text)
{
	bson_t b;

	bson_init(&b);
	BSON_APPEND_INT64(&b, "id", id);
	BSON_APPEND_INT32(&b, "err", err);
	BSON_APPEND_UTF8(&b, "text", text != NULL ? text : btapi_strerror(err));
	client_send(c, &b);
	bson_destroy(&b);
}

static void
reply_ok(struct client *c, int64_t id)
{
	bson_t b;

	reply_begin(&b, id);
	client_send(c, &b);
	bson_destroy(&b);
}

static void
send_done(struct client *c, bson_t *b)
{
	client_send(c, b);
	bson_destroy(b);
}

/* ---- paths, permissions and locks ------------------------------------- */

static int
is_hex64(const char *s, size_t len)
{
	size_t i;

	if (len < 64)
		return 0;
	for (i = 0; i < 64; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		    (s[i] >= 'a' && s[i] <= 'f') ||
		    (s[i] >= 'A' && s[i] <= 'F')))
			return 0;
	return len == 64 || s[64] == '/';
}

/* Resolve a path of a request; "/x" without namespace is below home. */
static int
resolve(struct btapi_server *srv, const char *text, size_t len,
    struct btcore_path **out)
{
	*out = NULL;
	if (len == 0 || text[0] != '/')
		return BT_EFORMAT;
	if (is_hex64(text + 1, len - 1))
		return btcore_path_parse(out, text, len);
	return btcore_path_join(out, srv->home, text + 1, len - 1);
}

static int
allowed_path(const struct client *c, const char *full, int write)
{
	if (c->manifest == NULL)
		return 1;
	return btcore_manifest_allows_path(c->manifest, full, write);
}

/* Does @p a cover @p b (equal, or an ancestor by whole components)? */
static int
covers(const char *a, size_t alen, const char *b, size_t blen)
{
	if (alen > blen || memcmp(a, b, alen) != 0)
		return 0;
	return alen == blen || b[alen] == '/';
}

static struct lock *
lock_covering(struct btapi_server *srv, const char *p, size_t len)
{
	struct lock *l;

	for (l = srv->locks; l != NULL; l = l->next)
		if (covers(l->path, l->len, p, len))
			return l;
	return NULL;
}

/*
 * May @p c change @p p?  Not while another client holds a lock covering
 * it; with a fencing token, only when that token is the current lock's.
 */
static int
write_check(struct client *c, const char *p, size_t len, int has_token,
    int64_t token)
{
	struct lock *l = lock_covering(c->srv, p, len);

	if (l != NULL && l->holder != c)
		return BTAPI_ELOCKED;
	if (has_token && (l == NULL || l->token != token))
		return BTAPI_EFENCED;
	return BT_OK;
}

/*
 * Resolve @p text for @p c, check the manifest, and for a change the
 * locks.  *out is owned by the caller.
 */
static int
prepare(struct client *c, const char *text, size_t len, int write,
    const struct btapi_req_ *r, struct btcore_path **out)
{
	const char *full;
	size_t flen;
	int rc;

	if ((rc = resolve(c->srv, text, len, out)) != BT_OK)
		return rc;
	full = btcore_path_format(*out, &flen);
	if (!allowed_path(c, full, write))
		rc = BTAPI_EDENIED;
	else if (write)
		rc = write_check(c, full, flen, (r->have & BTAPI_F_TOKEN_) != 0,
		    r->token);
	if (rc != BT_OK) {
		btcore_path_free(*out);
		*out = NULL;
	}
	return rc;
}

/* ---- pending work --------------------------------------------------------- */

static void pend_timeout(evutil_socket_t fd, short what, void *arg);

static struct pend *
pend_new(struct btapi_server *srv, enum pkind kind)
{
	struct pend *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return NULL;
	p->srv = srv;
	p->kind = kind;
	p->id = ++srv->next_id;
	p->timer = evtimer_new(srv->base, pend_timeout, p);
	if (p->timer == NULL) {
		free(p);
		return NULL;
	}
	p->next = srv->pends;
	if (srv->pends != NULL)
		srv->pends->prev = p;
	srv->pends = p;
	return p;
}

static void
pend_arm(struct pend *p)
{
	struct timeval tv;
	uint32_t ms = p->srv->cfg.request_timeout_ms;

	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(p->timer, &tv);
}

static void
pend_free(struct pend *p)
{
	struct btapi_server *srv = p->srv;

	if (p->prev != NULL)
		p->prev->next = p->next;
	else
		srv->pends = p->next;
	if (p->next != NULL)
		p->next->prev = p->prev;
	if (p->caller != NULL && p->caller->inflight > 0)
		p->caller->inflight--;
	if (p->timer != NULL)
		event_free(p->timer);
	free(p->http);
	free(p);
}

static struct pend *
pend_find(struct btapi_server *srv, int64_t id, enum pkind kind)
{
	struct pend *p;

	for (p = srv->pends; p != NULL; p = p->next)
		if (p->id == id && p->kind == kind)
			return p;
	return NULL;
}

static void
http_send_abort(struct pend *p)
{
	bson_t b;

	if (p->handler == NULL)
		return;
	bson_init(&b);
	BSON_APPEND_UTF8(&b, "event", "http-abort");
	BSON_APPEND_INT64(&b, "req", p->id);
	send_done(p->handler, &b);
}

/* End an HTTP request towards the gateway and free it. */
static void
http_end(struct pend *p, int status)
{
	struct btapi_http_req *h = p->http;

	if (h->cbs->on_end != NULL)
		h->cbs->on_end(h->arg, status);
	pend_free(p);
}

/* A local caller's request ends with an error. */
static void
pend_fail(struct pend *p, int err)
{
	switch (p->kind) {
	case P_RPC_NET:
		if (p->nreq != NULL)
			ignore(btnet_rpc_error(p->nreq, err, btapi_strerror(err)));
		p->nreq = NULL;
		break;
	case P_RPC_LOCAL:
	case P_CALL_NET:
		if (p->caller != NULL)
			reply_err(p->caller, p->caller_id, err, NULL);
		break;
	case P_HTTP:
		if (err == BT_ETIMEDOUT)
			http_send_abort(p);
		http_end(p, err);
		return;
	}
	pend_free(p);
}

static void
pend_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct pend *p = arg;

	(void)fd;
	(void)what;
	if (p->kind == P_CALL_NET) {
		/* the network's own timeout answers; nothing to do here */
		return;
	}
	pend_fail(p, BT_ETIMEDOUT);
}

/* ---- locks ------------------------------------------------------------- */

static void
lock_grant(struct btapi_server *srv, struct lock *l, struct client *c,
    int64_t id)
{
	bson_t b;

	l->holder = c;
	l->token = ++srv->next_token;
	reply_begin(&b, id);
	BSON_APPEND_INT64(&b, "token", l->token);
	BSON_APPEND_UTF8(&b, "path", l->path);
	send_done(c, &b);
}

static int
lock_conflict(struct btapi_server *srv, const char *p, size_t len,
    const struct lock *except)
{
	struct lock *l;

	for (l = srv->locks; l != NULL; l = l->next)
		if (l != except && l->holder != NULL &&
		    (covers(l->path, l->len, p, len) ||
		    covers(p, len, l->path, l->len)))
			return 1;
	return 0;
}

/* The holder of @p l let go: hand it to the first waiter or drop it. */
static void
lock_release(struct btapi_server *srv, struct lock *l)
{
	struct lock **pp;
	struct waiter *w;

	l->holder = NULL;
	while ((w = l->waiters) != NULL) {
		l->waiters = w->next;
		if (w->c->inflight > 0)
			w->c->inflight--;
		if (!lock_conflict(srv, l->path, l->len, l)) {
			lock_grant(srv, l, w->c, w->id);
			free(w);
			return;
		}
		reply_err(w->c, w->id, BTAPI_ELOCKED, NULL);
		free(w);
	}
	for (pp = &srv->locks; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == l) {
			*pp = l->next;
			break;
		}
	}
	free(l->path);
	free(l);
}

static void
op_lock(struct client *c, const struct btapi_req_ *r)
{
	struct btapi_server *srv = c->srv;
	struct btcore_path *p = NULL;
	struct lock *l;
	struct waiter *w, **wp;
	const char *full;
	size_t len;
	int rc;

	if ((rc = resolve(srv, r->path, r->path_len, &p)) != BT_OK)
		goto out;
	full = btcore_path_format(p, &len);
	if (!allowed_path(c, full, 1)) {
		rc = BTAPI_EDENIED;
		goto out;
	}
	if (!lock_conflict(srv, full, len, NULL)) {
		rc = BT_ENOMEM;
		if ((l = calloc(1, sizeof(*l))) == NULL)
			goto out;
		if ((l->path = strdup(full)) == NULL) {
			free(l);
			goto out;
		}
		l->len = len;
		l->next = srv->locks;
		srv->locks = l;
		lock_grant(srv, l, c, r->id);
		rc = BT_OK;
		goto out;
	}
	/* wait on the lock of exactly this path, when there is one */
	for (l = srv->locks; l != NULL; l = l->next)
		if (l->len == len && memcmp(l->path, full, len) == 0)
			break;
	rc = BTAPI_ELOCKED;
	if (!r->wait || l == NULL || l->holder == c)
		goto out;
	rc = BTAPI_ELIMIT;
	if (c->inflight >= srv->cfg.max_inflight)
		goto out;
	rc = BT_ENOMEM;
	if ((w = calloc(1, sizeof(*w))) == NULL)
		goto out;
	w->c = c;
	w->id = r->id;
	for (wp = &l->waiters; *wp != NULL; wp = &(*wp)->next)
		;
	*wp = w;
	c->inflight++;
	rc = BT_OK;
out:
	btcore_path_free(p);
	if (rc != BT_OK)
		reply_err(c, r->id, rc, NULL);
}

static void
op_unlock(struct client *c, const struct btapi_req_ *r)
{
	struct lock *l;

	for (l = c->srv->locks; l != NULL; l = l->next)
		if (l->holder == c && l->token == r->token)
			break;
	if (l == NULL) {
		reply_err(c, r->id, BTAPI_EBADHANDLE, NULL);
		return;
	}
	lock_release(c->srv, l);
	reply_ok(c, r->id);
}

/* ---- hello, status, peers ---------------------------------------------- */

static void
op_hello(struct client *c, const struct btapi_req_ *r)
{
	struct btapi_server *srv = c->srv;
	struct btcore_manifest *m = NULL;
	const struct bt_pubkey *owner;
	bson_t b;
	const char *home;
	int rc = BT_ESTATE;

	if (c->hello)
		goto out;
	if (r->have2 & BTAPI_F2_MANIFEST_) {
		if ((rc = btcore_manifest_decode(&m, r->manifest,
		    r->manifest_len)) != BT_OK)
			goto out;
		owner = btcore_manifest_owner(m);
		rc = BTAPI_EDENIED;
		if (owner == NULL ||
		    memcmp(owner->b, srv->owner.b, sizeof(owner->b)) != 0)
			goto out;
		if ((rc = btapi_ext_hello_(srv, m, r->manifest,
		    r->manifest_len)) != BT_OK)
			goto out;
	}
	c->manifest = m;
	m = NULL;
	c->hello = 1;
	home = btcore_path_format(srv->home, NULL);
	reply_begin(&b, r->id);
	BSON_APPEND_INT32(&b, "version", BTAPI_PROTO_VERSION);
	BSON_APPEND_BINARY(&b, "node", BSON_SUBTYPE_BINARY, srv->node.b,
	    BT_ID_LEN);
	BSON_APPEND_UTF8(&b, "home", home);
	if (c->manifest != NULL)
		BSON_APPEND_UTF8(&b, "program",
		    btcore_manifest_name(c->manifest));
	send_done(c, &b);
	rc = BT_OK;
out:
	btcore_manifest_free(m);
	if (rc != BT_OK)
		reply_err(c, r->id, rc, NULL);
}

static void
op_status(struct client *c, const struct btapi_req_ *r)
{
	struct btapi_server *srv = c->srv;
	bson_t b;

	reply_begin(&b, r->id);
	BSON_APPEND_UTF8(&b, "version", btapi_version());
	BSON_APPEND_BINARY(&b, "node", BSON_SUBTYPE_BINARY, srv->node.b,
	    BT_ID_LEN);
	BSON_APPEND_UTF8(&b, "home", btcore_path_format(srv->home, NULL));
	BSON_APPEND_BOOL(&b, "online",
	    srv->cfg.net != NULL && btnet_is_online(srv->cfg.net));
	BSON_APPEND_INT32(&b, "peers", srv->cfg.net == NULL ? 0 :
	    (int32_t)btnet_peers(srv->cfg.net, NULL, 0));
	BSON_APPEND_INT32(&b, "clients", (int32_t)srv->nclients);
	send_done(c, &b);
}

static void
op_peers(struct client *c, const struct btapi_req_ *r)
{
	struct btapi_server *srv = c->srv;
	struct bt_id ids[256];
	bson_t b, arr;
	size_t n = 0, i;
	char key[16];
	const char *k;

	if (srv->cfg.net != NULL)
		n = btnet_peers(srv->cfg.net, ids, 256);
	if (n > 256)
		n = 256;
	reply_begin(&b, r->id);
	BSON_APPEND_BOOL(&b, "online",
	    srv->cfg.net != NULL && btnet_is_online(srv->cfg.net));
	BSON_APPEND_ARRAY_BEGIN(&b, "peers", &arr);
	for (i = 0; i < n; i++) {
		bson_uint32_to_string((uint32_t)i, &k, key, sizeof(key));
		bson_append_binary(&arr, k, -1, BSON_SUBTYPE_BINARY, ids[i].b,
		    BT_ID_LEN);
	}
	bson_append_array_end(&b, &arr);
	send_done(c, &b);
}

/* ---- namespace ops ------------------------------------------------------ */

static void
append_entry(bson_t *b, const struct btcore_dir_entry *e)
{
	BSON_APPEND_UTF8(b, "kind", e->kind == BTCORE_DIR_DIR ? "dir" : "file");
	BSON_APPEND_INT64(b, "size", (int64_t)e->size);
	BSON_APPEND_INT32(b, "mode", (int32_t)e->mode);
	BSON_APPEND_INT64(b, "mtime", e->mtime);
	if (e->kind == BTCORE_DIR_FILE)
		BSON_APPEND_UTF8(b, "layout",
		    e->layout == BTCORE_DIR_LAYOUT_RANDOM ? "random" :
		    "sequential");
	BSON_APPEND_BINARY(b, "root", BSON_SUBTYPE_BINARY, e->root.b,
	    BT_ID_LEN);
}

static void
op_stat(struct client *c, const struct btapi_req_ *r)
{
	struct btcore_path *p = NULL;
	struct btcore_dir_entry e;
	const char *full;
	size_t len;
	bson_t b;
	int rc;

	if ((rc = prepare(c, r->path, r->path_len, 0, r, &p)) != BT_OK)
		goto out;
	full = btcore_path_format(p, &len);
	if ((rc = btstore_ns_stat(c->srv->cfg.store, full, len, &e)) != BT_OK)
		goto out;
	reply_begin(&b, r->id);
	BSON_APPEND_UTF8(&b, "path", full);
	append_entry(&b, &e);
	send_done(c, &b);
out:
	btcore_path_free(p);
	if (rc != BT_OK)
		reply_err(c, r->id, rc, NULL);
}

struct listctx {
	bson_t *arr;
	const char *after;
	size_t after_len;
	size_t n, max;
	int more;
};

static int
list_one(void *arg, const struct btcore_dir_entry *e)
{
	struct listctx *lc = arg;
	bson_t doc;
	char key[16];
	const char *k;
	size_t m;

	if (lc->after != NULL) {
		m = e->name_len < lc->after_len ? e->name_len : lc->after_len;
		int d = memcmp(e->name, lc->after, m);

		if (d < 0 || (d == 0 && e->name_len <= lc->after_len))
			return 0;
	}
	if (lc->n >= lc->max || lc->arr->len > LIST_BYTES) {
		lc->more = 1;
		return 1;
	}
	bson_uint32_to_string((uint32_t)lc->n, &k, key, sizeof(key));
	bson_append_document_begin(lc->arr, k, -1, &doc);
	bson_append_utf8(&doc, "name", -1, e->name, (int)e->name_len);
	append_entry(&doc, e);
	bson_append_document_end(lc->arr, &doc);
	lc->n++;
	return 0;
}

static void
op_list(struct client *c, const struct btapi_req_ *r)
{
	struct btcore_path *p = NULL;
	struct listctx lc;
	const char *full;
	size_t len;
	bson_t b, arr;
	int rc;

	if ((rc = prepare(c, r->path, r->path_len, 0, r, &p)) != BT_OK) {
		reply_err(c, r->id, rc, NULL);
		return;
	}
	full = btcore_path_format(p, &len);
	memset(&lc, 0, sizeof(lc));
	lc.after = r->after;
	lc.after_len = r->after_len;
	lc.max = (r->have2 & BTAPI_F2_MAX_) ? (size_t)r->max : LIST_MAX_DEFAULT;
	if (lc.max > LIST_MAX)
		lc.max = LIST_MAX;
	reply_begin(&b, r->id);
	BSON_APPEND_ARRAY_BEGIN(&b, "entries", &arr);
	lc.arr = &arr;
	rc = btstore_ns_list(c->srv->cfg.store, full, len, list_one, &lc, NULL);
	bson_append_array_end(&b, &arr);
	BSON_APPEND_BOOL(&b, "more", lc.more);
	if (rc == BT_OK)
		client_send(c, &b);
	else
		reply_err(c, r->id, rc, NULL);
	bson_destroy(&b);
	btcore_path_free(p);
}

static void
op_mkdir(struct client *c, const struct btapi_req_ *r)
{
	struct btcore_path *p = NULL;
	const char *full;
	size_t len;
	int rc;

	if ((rc = prepare(c, r->path, r->path_len, 1, r, &p)) == BT_OK) {
		full = btcore_path_format(p, &len);
		rc = btstore_ns_mkdir(c->srv->cfg.store, c->srv->cfg.signer,
		    full, len, r->parents ? BTSTORE_NS_PARENTS : 0, NULL);
	}
	btcore_path_free(p);
	if (rc == BT_OK)
		reply_ok(c, r->id);
	else
		reply_err(c, r->id, rc, NULL);
}

static void
op_rename(struct client *c, const struct btapi_req_ *r)
{
	struct btcore_path *p = NULL, *q = NULL;
	const char *a, *b;
	size_t alen, blen;
	int rc;

	if ((rc = prepare(c, r->path, r->path_len, 1, r, &p)) == BT_OK &&
	    (rc = prepare(c, r->to, r->to_len, 1, r, &q)) == BT_OK) {
		a = btcore_path_format(p, &alen);
		b = btcore_path_format(q, &blen);
		rc = btstore_ns_rename(c->srv->cfg.store, c->srv->cfg.signer,
		    a, alen, b, blen, r->parents ? BTSTORE_NS_PARENTS : 0,
		    NULL);
	}
	btcore_path_free(p);
	btcore_path_free(q);
	if (rc == BT_OK)
		reply_ok(c, r->id);
	else
		reply_err(c, r->id, rc, NULL);
}

static void
op_remove(struct client *c, const struct btapi_req_ *r)
{
	struct btcore_path *p = NULL;
	const char *full;
	size_t len;
	int rc;

	if ((rc = prepare(c, r->path, r->path_len, 1, r, &p)) == BT_OK) {
		full = btcore_path_format(p, &len);
		rc = btstore_ns_remove(c->srv->cfg.store, c->srv->cfg.signer,
		    full, len, r->recursive ? BTSTORE_NS_RECURSIVE : 0, NULL);
	}
	btcore_path_free(p);
	if (rc == BT_OK)
		reply_ok(c, r->id);
	else
		reply_err(c, r->id, rc, NULL);
}

/* ---- streams ------------------------------------------------------------- */

static void
stream_free(struct stream *s)
{
	if (s == NULL)
		return;
	btstore_file_reader_close(s->rd);
	btstore_ns_writer_free(s->wr);
	free(s->buf);
	free(s->path);
	free(s);
}

static struct stream *
stream_find(struct client *c, int64_t id, struct stream ***pp)
{
	struct stream **sp;

	for (sp = &c->streams; *sp != NULL; sp = &(*sp)->next)
		if ((*sp)->id == id) {
			if (pp != NULL)
				*pp = sp;
			return *sp;
		}
	return NULL;
}

/* Load an existing file whole into a "rw" stream. */
static int
stream_load(struct btapi_server *srv, struct stream *s, uint64_t size)
{
	struct btstore_file_reader *rd = NULL;
	size_t n, got = 0;
	int rc;

	if (size > srv->cfg.rw_max)
		return BT_ETOOBIG;
	s->cap = size > 0 ? (size_t)size : 1;
	if ((s->buf = malloc(s->cap)) == NULL)
		return BT_ENOMEM;
	if ((rc = btstore_ns_open(&rd, srv->cfg.store, s->path,
	    s->path_len)) != BT_OK)
		return rc;
	while (got < size) {
		if ((rc = btstore_file_reader_read(rd, s->buf + got,
		    (size_t)size - got, &n)) != BT_OK)
			break;
		if (n == 0) {
			rc = BT_ECORRUPT;
			break;
		}
		got += n;
	}
	s->len = got;
	btstore_file_reader_close(rd);
	return rc;
}

static void
op_open(struct client *c, const struct btapi_req_ *r)
{
	struct btapi_server *srv = c->srv;
	struct btcore_path *p = NULL;
	struct stream *s = NULL;
	struct btcore_dir_entry e;
	const char *full;
	size_t len;
	int rc, exists;
	uint64_t size = 0;
	bson_t b;

	rc = BTAPI_ELIMIT;
	if (c->nstreams >= srv->cfg.max_handles)
		goto out;
	if ((rc = prepare(c, r->path, r->path_len, r->mode != BTAPI_MODE_R_,
	    r, &p)) != BT_OK)
		goto out;
	full = btcore_path_format(p, &len);
	rc = BT_ENOMEM;
	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    (s->path = strdup(full)) == NULL)
		goto out;
	s->path_len = len;
	s->mode = r->mode;
	s->layout = r->layout;
	if (r->mode == BTAPI_MODE_R_) {
		if ((rc = btstore_ns_open(&s->rd, srv->cfg.store, full,
		    len)) != BT_OK)
			goto out;
		size = btstore_file_reader_size(s->rd);
	} else {
		rc = btstore_ns_stat(srv->cfg.store, full, len, &e);
		if (rc != BT_OK && rc != BT_ENOTFOUND)
			goto out;
		exists = rc == BT_OK;
		rc = BTSTORE_EISDIR;
		if (exists && e.kind == BTCORE_DIR_DIR)
			goto out;
		rc = BT_ENOTFOUND;
		if (!exists && !r->create)
			goto out;
		rc = BT_EEXIST;
		if (exists && r->excl)
			goto out;
		if (exists && !(r->have & BTAPI_F_LAYOUT_))
			s->layout = e.layout == BTCORE_DIR_LAYOUT_RANDOM ?
			    BTCORE_TREE_RANDOM : BTCORE_TREE_SEQUENTIAL;
		if (r->mode == BTAPI_MODE_W_) {
			if ((rc = btstore_ns_writer_open(&s->wr, srv->cfg.store,
			    srv->cfg.signer, full, len, s->layout, NULL,
			    0)) != BT_OK)
				goto out;
		} else {
			if (exists && !r->truncate) {
				if ((rc = stream_load(srv, s, e.size)) != BT_OK)
					goto out;
			} else {
				s->dirty = 1;	/* created or truncated */
			}
			size = s->len;
		}
	}
	s->id = ++srv->next_id;
	s->next = c->streams;
	c->streams = s;
	c->nstreams++;
	reply_begin(&b, r->id);
	BSON_APPEND_INT64(&b, "handle", s->id);
	BSON_APPEND_INT64(&b, "size", (int64_t)size);
	BSON_APPEND_UTF8(&b, "path", s->path);
	send_done(c, &b);
	s = NULL;
	rc = BT_OK;
out:
	stream_free(s);
	btcore_path_free(p);
	if (rc != BT_OK)
		reply_err(c, r->id, rc, NULL);
}

static void
op_read(struct client *c, const struct btapi_req_ *r)
{
	struct stream *s = stream_find(c, r->handle, NULL);
	uint8_t *buf = NULL;
	size_t n = 0;
	bson_t b;
	int rc;

	rc = BTAPI_EBADHANDLE;
	if (s == NULL)
		goto out;
	rc = BT_ESTATE;
	if (s->mode == BTAPI_MODE_W_)
		goto out;
	if (s->mode == BTAPI_MODE_R_) {
		rc = BT_ENOMEM;
		if ((buf = malloc(r->len > 0 ? (size_t)r->len : 1)) == NULL)
			goto out;
		if ((rc = btstore_file_reader_read(s->rd, buf, (size_t)r->len,
		    &n)) != BT_OK)
			goto out;
		reply_begin(&b, r->id);
		BSON_APPEND_BINARY(&b, "data", BSON_SUBTYPE_BINARY, buf,
		    (uint32_t)n);
	} else {
		if (s->pos < s->len)
			n = s->len - (size_t)s->pos < (size_t)r->len ?
			    s->len - (size_t)s->pos : (size_t)r->len;
		reply_begin(&b, r->id);
		BSON_APPEND_BINARY(&b, "data", BSON_SUBTYPE_BINARY,
		    n > 0 ? s->buf + s->pos : (const uint8_t *)"",
		    (uint32_t)n);
		s->pos += n;
	}
	send_done(c, &b);
	rc = BT_OK;
out:
	free(buf);
	if (rc != BT_OK)
		reply_err(c, r->id, rc, NULL);
}

static void
op_write(struct client *c, const struct btapi_req_ *r)
{
	struct stream *s = stream_find(c, r->handle, NULL);
	size_t end, cap;
	uint8_t *nb;
	bson_t b;
	int rc;

	rc = BTAPI_EBADHANDLE;
	if (s == NULL)
		goto out;
	rc = BT_ESTATE;
	if (s->mode == BTAPI_MODE_R_)
		goto out;
	if ((rc = s->failed) != BT_OK)
		goto out;
	if ((rc = write_check(c, s->path, s->path_len, 0, 0)) != BT_OK)
		goto fail;
	if (s->mode == BTAPI_MODE_W_) {
		if ((rc = btstore_ns_writer_write(s->wr, r->data,
		    r->data_len)) != BT_OK)
			goto fail;
		s->pos += r->data_len;
	} else {
		rc = BT_ETOOBIG;
		if (s->pos > c->srv->cfg.rw_max ||
		    r->data_len > c->srv->cfg.rw_max - s->pos)
			goto out;
		end = (size_t)s->pos + r->data_len;
		if (end > s->cap) {
			cap = s->cap * 2 > end ? s->cap * 2 : end;
			if (cap > c->srv->cfg.rw_max)
				cap = c->srv->cfg.rw_max;
			rc = BT_ENOMEM;
			if ((nb = realloc(s->buf, cap)) == NULL)
				goto out;
			s->buf = nb;
			s->cap = cap;
		}
		if (s->pos > s->len)
			memset(s->buf + s->len, 0, (size_t)s->pos - s->len);
		if (r->data_len > 0)
			memcpy(s->buf + s->pos, r->data, r->data_len);
		s->pos = end;
		if (end > s->len)
			s->len = end;
		s->dirty = 1;
	}
	reply_begin(&b, r->id);
	BSON_APPEND_INT64(&b, "pos", (int64_t)s->pos);
	send_done(c, &b);
	return;
fail:
	s->failed = rc;
out:
	reply_err(c, r->id, rc, NULL);
}

static void
op_seek(struct client *c, const struct btapi_req_ *r)
{
	struct stream *s = stream_find(c, r->handle, NULL);
	uint64_t pos = 0;
	int64_t base = 0;
	bson_t b;
	int rc;

	rc = BTAPI_EBADHANDLE;
	if (s == NULL)
		goto out;
	if (s->mode == BTAPI_MODE_R_) {
		if ((rc = btstore_file_reader_seek(s->rd, r->offset, r->whence,
		    &pos)) != BT_OK)
			goto out;
	} else {
		if (r->whence == BTCORE_SEEK_CUR)
			base = (int64_t)s->pos;
		else if (r->whence == BTCORE_SEEK_END)
			base = s->mode == BTAPI_MODE_W_ ? (int64_t)s->pos :
			    (int64_t)s->len;
		rc = BT_ERANGE;
		if ((r->offset < 0 && base + r->offset < 0) ||
		    (r->offset > 0 && r->offset > INT64_MAX - base))
			goto out;
		pos = (uint64_t)(base + r->offset);
		/* a write stream is appended to in order */
		rc = BT_EUNSUPPORTED;
		if (s->mode == BTAPI_MODE_W_ && pos != s->pos)
			goto out;
		rc = BT_ERANGE;
		if (pos > c->srv->cfg.rw_max)
			goto out;
		s->pos = pos;
	}
	reply_begin(&b, r->id);
	BSON_APPEND_INT64(&b, "pos", (int64_t)pos);
	send_done(c, &b);
	rc = BT_OK;
out:
	if (rc != BT_OK)
		reply_err(c, r->id, rc, NULL);
}

static void
op_close(struct client *c, const struct btapi_req_ *r)
{
	struct btapi_server *srv = c->srv;
	struct stream **sp, *s = stream_find(c, r->handle, &sp);
	uint64_t size = 0;
	bson_t b;
	int rc = BTAPI_EBADHANDLE;

	if (s == NULL)
		goto out;
	*sp = s->next;
	c->nstreams--;
	rc = s->failed;
	if (rc == BT_OK && s->mode != BTAPI_MODE_R_ &&
	    (s->mode == BTAPI_MODE_W_ || s->dirty))
		rc = write_check(c, s->path, s->path_len, 0, 0);
	if (rc == BT_OK) {
		if (s->mode == BTAPI_MODE_R_) {
			size = btstore_file_reader_size(s->rd);
		} else if (s->mode == BTAPI_MODE_W_) {
			rc = btstore_ns_writer_commit(s->wr, NULL);
			size = s->pos;
		} else {
			size = s->len;
			if (s->dirty)
				rc = btstore_ns_write(srv->cfg.store,
				    srv->cfg.signer, s->path, s->path_len,
				    s->buf, s->len, s->layout, NULL, 0, NULL);
		}
	}
	stream_free(s);
	if (rc != BT_OK)
		goto out;
	reply_begin(&b, r->id);
	BSON_APPEND_INT64(&b, "size", (int64_t)size);
	send_done(c, &b);
out:
	if (rc != BT_OK)
		reply_err(c, r->id, rc, NULL);
}

/* ---- watches -------------------------------------------------------------- */

static void
watch_cb(void *arg, int kind, int event, const void *key, size_t keylen)
{
	struct watch *w = arg;
	bson_t b;

	bson_init(&b);
	BSON_APPEND_UTF8(&b, "event", "change");
	BSON_APPEND_INT64(&b, "watch", w->id);
	BSON_APPEND_UTF8(&b, "kind", kind == BTSTORE_TOPIC_BLOCK ? "block" :
	    "path");
	BSON_APPEND_UTF8(&b, "change", event == BTSTORE_EV_PUT ? "put" :
	    event == BTSTORE_EV_DEL ? "del" : "overflow");
	if (key != NULL && kind == BTSTORE_TOPIC_PATH)
		bson_append_utf8(&b, "key", -1, key, (int)keylen);
	else if (key != NULL)
		bson_append_binary(&b, "key", -1, BSON_SUBTYPE_BINARY, key,
		    (uint32_t)keylen);
	send_done(w->c, &b);
}

static void
op_watch(struct client *c, const struct btapi_req_ *r)
{
	struct btapi_server *srv = c->srv;
	struct btcore_path *p = NULL;
	struct watch *w = NULL;
	const void *key;
	size_t keylen;
	bson_t b;
	int rc;

	rc = BTAPI_ELIMIT;
	if (c->nwatches >= srv->cfg.max_watches)
		goto out;
	rc = BT_ENOMEM;
	if ((w = calloc(1, sizeof(*w))) == NULL)
		goto out;
	if (strcmp(r->kind, "path") == 0) {
		rc = BT_EFORMAT;
		if (r->key_is_bin)
			goto out;
		if ((rc = prepare(c, (const char *)r->key, r->key_len, 0, r,
		    &p)) != BT_OK)
			goto out;
		key = btcore_path_format(p, &keylen);
		w->kind = BTSTORE_TOPIC_PATH;
	} else {
		rc = BT_EFORMAT;
		if (!r->key_is_bin || r->key_len != BT_ID_LEN)
			goto out;
		key = r->key;
		keylen = r->key_len;
		w->kind = BTSTORE_TOPIC_BLOCK;
	}
	w->c = c;
	w->id = ++srv->next_id;
	if ((rc = btstore_watch(srv->cfg.store, w->kind, key, keylen, watch_cb,
	    w, &w->sw)) != BT_OK)
		goto out;
	w->next = c->watches;
	c->watches = w;
	c->nwatches++;
	reply_begin(&b, r->id);
	BSON_APPEND_INT64(&b, "watch", w->id);
	send_done(c, &b);
	w = NULL;
out:
	free(w);
	btcore_path_free(p);
	if (rc != BT_OK)
		reply_err(c, r->id, rc, NULL);
}

static void
op_unwatch(struct client *c, const struct btapi_req_ *r)
{
	struct watch **wp, *w;

	for (wp = &c->watches; (w = *wp) != NULL; wp = &w->next)
		if (w->id == r->watch)
			break;
	if (w == NULL) {
		reply_err(c, r->id, BTAPI_EBADHANDLE, NULL);
		return;
	}
	*wp = w->next;
	c->nwatches--;
	ignore(btstore_unwatch(c->srv->cfg.store, w->sw));
	free(w);
	reply_ok(c, r->id);
}

/* ---- RPC ----------------------------------------------------------------- */

static struct handler *
handler_find(struct btapi_server *srv, const char *scope)
{
	struct handler *h;

	for (h = srv->handlers; h != NULL; h = h->next)
		if (strcmp(h->scope, scope) == 0)
			return h;
	return NULL;
}

static void
rpc_event(struct pend *p, const struct bt_id *from, const char *scope,
    const uint8_t *args, size_t len)
{
	bson_t b;

	bson_init(&b);
	BSON_APPEND_UTF8(&b, "event", "rpc");
	BSON_APPEND_INT64(&b, "req", p->id);
	BSON_APPEND_BINARY(&b, "from", BSON_SUBTYPE_BINARY, from->b,
	    BT_ID_LEN);
	BSON_APPEND_UTF8(&b, "scope", scope);
	BSON_APPEND_BINARY(&b, "args", BSON_SUBTYPE_BINARY, args,
	    (uint32_t)len);
	send_done(p->handler, &b);
}

static void
net_rpc_handler(void *arg, struct btnet_rpc_req *req, const struct bt_id *from,
    const char *scope, const uint8_t *args, size_t len)
{
	struct btapi_server *srv = arg;
	struct handler *h = handler_find(srv, scope);
	struct pend *p;

	if (h == NULL) {
		ignore(btnet_rpc_error(req, BTAPI_ENOHANDLER,
		    btapi_strerror(BTAPI_ENOHANDLER)));
		return;
	}
	if ((p = pend_new(srv, P_RPC_NET)) == NULL) {
		ignore(btnet_rpc_error(req, BT_ENOMEM, NULL));
		return;
	}
	p->nreq = req;
	p->handler = h->c;
	pend_arm(p);
	rpc_event(p, from, scope, args, len);
}

static void
op_handle(struct client *c, const struct btapi_req_ *r)
{
	struct btapi_server *srv = c->srv;
	struct handler *h;
	int rc;

	rc = BT_EFORMAT;
	if (!btapi_scope_ok_(r->scope, r->scope_len))
		goto out;
	rc = BTAPI_EDENIED;
	if (c->manifest != NULL &&
	    !btcore_manifest_allows_scope(c->manifest, r->scope))
		goto out;
	rc = BTAPI_EBUSY;
	if (srv->cfg.replicator != NULL &&
	    strcmp(r->scope, BTAPI_REPL_SCOPE) == 0)
		goto out;	/* the replicator serves it */
	if ((h = handler_find(srv, r->scope)) != NULL) {
		rc = h->c == c ? BT_OK : BTAPI_EBUSY;
		goto out;
	}
	rc = BT_ENOMEM;
	if ((h = calloc(1, sizeof(*h))) == NULL)
		goto out;
	if ((h->scope = strdup(r->scope)) == NULL) {
		free(h);
		goto out;
	}
	if (srv->cfg.net != NULL && (rc = btnet_rpc_handle(srv->cfg.net,
	    r->scope, net_rpc_handler, srv)) != BT_OK) {
		free(h->scope);
		free(h);
		goto out;
	}
	h->c = c;
	h->next = srv->handlers;
	srv->handlers = h;
	rc = BT_OK;
out:
	if (rc == BT_OK)
		reply_ok(c, r->id);
	else
		reply_err(c, r->id, rc, NULL);
}

static void
handler_remove(struct btapi_server *srv, struct handler **hp)
{
	struct handler *h = *hp;

	*hp = h->next;
	if (srv->cfg.net != NULL)
		ignore(btnet_rpc_handle(srv->cfg.net, h->scope, NULL, NULL));
	free(h->scope);
	free(h);
}

static void
op_unhandle(struct client *c, const struct btapi_req_ *r)
{
	struct handler **hp;

	for (hp = &c->srv->handlers; *hp != NULL; hp = &(*hp)->next)
		if ((*hp)->c == c && strcmp((*hp)->scope, r->scope) == 0) {
			handler_remove(c->srv, hp);
			reply_ok(c, r->id);
			return;
		}
	reply_err(c, r->id, BTAPI_EBADHANDLE, NULL);
}

static void
op_reply(struct client *c, const struct btapi_req_ *r)
{
	struct pend *p = pend_find(c->srv, r->req, P_RPC_NET);
	int rc = BT_OK;
	bson_t b;

	if (p == NULL)
		p = pend_find(c->srv, r->req, P_RPC_LOCAL);
	if (p == NULL || p->handler != c) {
		reply_err(c, r->id, BTAPI_EBADHANDLE, NULL);
		return;
	}
	if (p->kind == P_RPC_NET) {
		if (r->have2 & BTAPI_F2_RESULT_)
			rc = btnet_rpc_reply(p->nreq, r->result, r->result_len);
		else
			rc = btnet_rpc_error(p->nreq, r->err, r->text);
		p->nreq = NULL;
	} else if (p->caller != NULL) {
		if (r->have2 & BTAPI_F2_RESULT_) {
			reply_begin(&b, p->caller_id);
			BSON_APPEND_BINARY(&b, "result", BSON_SUBTYPE_BINARY,
			    r->result, (uint32_t)r->result_len);
		} else {
			bson_init(&b);
			BSON_APPEND_INT64(&b, "id", p->caller_id);
			BSON_APPEND_INT32(&b, "err", BTNET_EREMOTE);
			BSON_APPEND_UTF8(&b, "text", r->text != NULL ?
			    r->text : btapi_strerror(r->err));
			BSON_APPEND_INT32(&b, "code", r->err);
		}
		send_done(p->caller, &b);
	}
	pend_free(p);
	if (rc == BT_OK)
		reply_ok(c, r->id);
	else
		reply_err(c, r->id, rc, NULL);
}

static void
call_cb(void *arg, const struct btnet_rpc_result *res)
{
	struct pend *p = arg;
	bson_t b;

	if (p->srv == NULL) {
		/* the server closed before the network answered */
		free(p);
		return;
	}
	if (p->caller != NULL) {
		if (res->status == BT_OK) {
			reply_begin(&b, p->caller_id);
			BSON_APPEND_BINARY(&b, "result", BSON_SUBTYPE_BINARY,
			    res->reply, (uint32_t)res->len);
		} else {
			bson_init(&b);
			BSON_APPEND_INT64(&b, "id", p->caller_id);
			BSON_APPEND_INT32(&b, "err", res->status);
			BSON_APPEND_UTF8(&b, "text", res->text != NULL &&
			    res->text[0] != '\0' ? res->text :
			    btapi_strerror(res->status));
			if (res->status == BTNET_EREMOTE)
				BSON_APPEND_INT32(&b, "code", res->code);
		}
		send_done(p->caller, &b);
	}
	pend_free(p);
}

/* A call to the node's own "node" scope, answered by the replicator: 1
 * when answered. */
static int
node_scope(struct client *c, const struct btapi_req_ *r, const uint8_t *args,
    size_t alen)
{
	struct btapi_replicator *repl = c->srv->cfg.replicator;
	uint8_t *doc = NULL;
	size_t dlen = 0;
	bson_t b;
	int rc;

	if (repl == NULL || strcmp(r->scope, BTAPI_REPL_SCOPE) != 0)
		return 0;
	rc = btapi_replicator_answer(repl, &c->srv->node, args, alen, &doc,
	    &dlen);
	if (r->oneway) {
		reply_ok(c, r->id);
	} else if (rc == BT_OK) {
		reply_begin(&b, r->id);
		BSON_APPEND_BINARY(&b, "result", BSON_SUBTYPE_BINARY, doc,
		    (uint32_t)dlen);
		send_done(c, &b);
	} else {
		bson_init(&b);
		BSON_APPEND_INT64(&b, "id", r->id);
		BSON_APPEND_INT32(&b, "err", BTNET_EREMOTE);
		BSON_APPEND_UTF8(&b, "text", btapi_strerror(rc));
		BSON_APPEND_INT32(&b, "code", rc);
		send_done(c, &b);
	}
	free(doc);
	return 1;
}

static void
op_call(struct client *c, const struct btapi_req_ *r)
{
	struct btapi_server *srv = c->srv;
	static const uint8_t empty[5] = { 5, 0, 0, 0, 0 };
	const uint8_t *args = r->args != NULL ? r->args : empty;
	size_t alen = r->args != NULL ? r->args_len : sizeof(empty);
	struct handler *h;
	struct pend *p = NULL;
	int rc;

	rc = BT_EFORMAT;
	if (!btapi_scope_ok_(r->scope, r->scope_len))
		goto out;
	rc = BTAPI_ELIMIT;
	if (c->inflight >= srv->cfg.max_inflight)
		goto out;
	if (btcore_id_cmp(&r->node, &srv->node) == 0) {
		rc = BTNET_ENOSCOPE;
		if ((h = handler_find(srv, r->scope)) == NULL &&
		    node_scope(c, r, args, alen))
			return;
		if (h == NULL)
			goto out;
		rc = BT_ENOMEM;
		if ((p = pend_new(srv, P_RPC_LOCAL)) == NULL)
			goto out;
		p->handler = h->c;
		pend_arm(p);
		rpc_event(p, &srv->node, r->scope, args, alen);
	} else {
		rc = BTAPI_EOFFLINE;
		if (srv->cfg.net == NULL)
			goto out;
		rc = BT_ENOMEM;
		if ((p = pend_new(srv, P_CALL_NET)) == NULL)
			goto out;
		if ((rc = btnet_rpc_call(srv->cfg.net, &r->node, r->scope,
		    args, alen, call_cb, p)) != BT_OK) {
			if (rc == BT_ESTATE)
				rc = BTAPI_EOFFLINE;
			pend_free(p);
			goto out;
		}
	}
	if (r->oneway) {
		reply_ok(c, r->id);
	} else {
		p->caller = c;
		p->caller_id = r->id;
		c->inflight++;
	}
	rc = BT_OK;
out:
	if (rc != BT_OK)
		reply_err(c, r->id, rc, NULL);
}

/* ---- HTTP routes ----------------------------------------------------------- */

static int
host_ok(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len > 253)
		return 0;
	for (i = 0; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '.'))
			return 0;
	return 1;
}

static int
prefix_ok(const char *s, size_t len)
{
	if (len == 0 || len > 1024 || s[0] != '/')
		return 0;
	if (len > 1 && s[len - 1] == '/')
		return 0;
	return strstr(s, "//") == NULL && strstr(s, "/./") == NULL &&
	    strstr(s, "/../") == NULL;
}

static void
op_route(struct client *c, const struct btapi_req_ *r, int add)
{
	struct btapi_server *srv = c->srv;
	struct route *rt, **rp;
	int rc;

	rc = BT_EFORMAT;
	if (!host_ok(r->host, r->host_len) ||
	    !prefix_ok(r->prefix, r->prefix_len))
		goto out;
	for (rp = &srv->routes; (rt = *rp) != NULL; rp = &rt->next)
		if (strcmp(rt->host, r->host) == 0 &&
		    strcmp(rt->prefix, r->prefix) == 0)
			break;
	if (!add) {
		rc = BTAPI_EBADHANDLE;
		if (rt == NULL || rt->c != c)
			goto out;
		*rp = rt->next;
		free(rt->host);
		free(rt->prefix);
		free(rt);
		rc = BT_OK;
		goto out;
	}
	rc = BTAPI_EDENIED;
	if (c->manifest != NULL &&
	    !btcore_manifest_allows_route(c->manifest, r->host, r->prefix))
		goto out;
	if (rt != NULL) {
		rc = rt->c == c ? BT_OK : BTAPI_EBUSY;
		goto out;
	}
	rc = BT_ENOMEM;
	if ((rt = calloc(1, sizeof(*rt))) == NULL)
		goto out;
	rt->host = strdup(r->host);
	rt->prefix = strdup(r->prefix);
	if (rt->host == NULL || rt->prefix == NULL) {
		free(rt->host);
		free(rt->prefix);
		free(rt);
		goto out;
	}
	rt->prefix_len = r->prefix_len;
	rt->c = c;
	rt->next = srv->routes;
	srv->routes = rt;
	rc = BT_OK;
out:
	if (rc == BT_OK)
		reply_ok(c, r->id);
	else
		reply_err(c, r->id, rc, NULL);
}

static struct route *
route_match(struct btapi_server *srv, const char *host, const char *path)
{
	struct route *rt, *best = NULL;
	size_t plen = strlen(path);

	for (rt = srv->routes; rt != NULL; rt = rt->next) {
		if (strcasecmp(rt->host, host) != 0)
			continue;
		if (!(rt->prefix_len == 1 || covers(rt->prefix, rt->prefix_len,
		    path, plen)))
			continue;
		if (best == NULL || rt->prefix_len > best->prefix_len)
			best = rt;
	}
	return best;
}

int
btapi_server_http_find(struct btapi_server *srv, const char *host,
    const char *path)
{
	if (srv == NULL || host == NULL || path == NULL)
		return BT_EINVAL;
	return route_match(srv, host, path) != NULL ? BT_OK : BTAPI_ENOHANDLER;
}

int
btapi_server_http_start(struct btapi_http_req **out, struct btapi_server *srv,
    const char *method, const char *host, const char *uri,
    const struct btapi_header *h, size_t n, const struct btapi_http_cbs *cbs,
    void *arg)
{
	struct route *rt;
	struct pend *p = NULL;
	struct btapi_http_req *hr = NULL;
	char path[1025], key[16];
	const char *k, *q;
	size_t plen, i;
	bson_t b, arr, pair;
	int rc = BT_EINVAL;

	if (out != NULL)
		*out = NULL;
	if (out == NULL || srv == NULL || method == NULL || host == NULL ||
	    uri == NULL || cbs == NULL || (h == NULL && n > 0))
		return BT_EINVAL;
	q = strchr(uri, '?');
	plen = q != NULL ? (size_t)(q - uri) : strlen(uri);
	if (plen == 0 || plen >= sizeof(path) || uri[0] != '/')
		return BT_EFORMAT;
	memcpy(path, uri, plen);
	path[plen] = '\0';
	if ((rt = route_match(srv, host, path)) == NULL)
		return BTAPI_ENOHANDLER;
	if (n > BTAPI_HTTP_HEADERS_MAX)
		return BT_ERANGE;
	if (output_full(rt->c))
		return BT_EAGAIN;
	bson_init(&b);
	BSON_APPEND_UTF8(&b, "event", "http");
	BSON_APPEND_INT64(&b, "req", srv->next_id + 1);
	if (!BSON_APPEND_UTF8(&b, "method", method) ||
	    !BSON_APPEND_UTF8(&b, "host", host) ||
	    !BSON_APPEND_UTF8(&b, "uri", uri) ||
	    !BSON_APPEND_UTF8(&b, "prefix", rt->prefix)) {
		rc = BT_ETOOBIG;
		goto out;
	}
	BSON_APPEND_ARRAY_BEGIN(&b, "headers", &arr);
	for (i = 0; i < n; i++) {
		bson_uint32_to_string((uint32_t)i, &k, key, sizeof(key));
		bson_append_array_begin(&arr, k, -1, &pair);
		BSON_APPEND_UTF8(&pair, "0", h[i].name);
		BSON_APPEND_UTF8(&pair, "1", h[i].value);
		bson_append_array_end(&arr, &pair);
	}
	bson_append_array_end(&b, &arr);
	{
		bson_iter_t it;
		uint32_t dl;
		const uint8_t *d;
		size_t cnt;

		/* the program will decode these; check them the same way */
		if (!bson_iter_init_find(&it, &b, "headers")) {
			rc = BT_ENOMEM;
			goto out;
		}
		bson_iter_array(&it, &dl, &d);
		if ((rc = btapi_headers_check_(d, dl, &cnt)) != BT_OK)
			goto out;
	}
	rc = BT_ETOOBIG;
	if (b.len > BTAPI_FRAME_MAX)
		goto out;
	rc = BT_ENOMEM;
	if ((hr = calloc(1, sizeof(*hr))) == NULL ||
	    (p = pend_new(srv, P_HTTP)) == NULL)
		goto out;
	hr->p = p;
	hr->cbs = cbs;
	hr->arg = arg;
	p->http = hr;
	p->handler = rt->c;
	pend_arm(p);
	client_send(rt->c, &b);
	*out = hr;
	hr = NULL;
	rc = BT_OK;
out:
	free(hr);
	bson_destroy(&b);
	return rc;
}

int
btapi_server_http_body(struct btapi_http_req *req, const void *data,
    size_t len, int end)
{
	struct pend *p;
	const uint8_t *d = data;
	size_t n;
	bson_t b;

	if (req == NULL || (data == NULL && len > 0))
		return BT_EINVAL;
	p = req->p;
	if (req->body_ended)
		return BT_ESTATE;
	if (p->handler == NULL)
		return BT_ECLOSED;
	if (output_full(p->handler)) {
		req->want_writable = 1;
		/* a program that takes no body answers in time neither */
		if (!req->head_done && !evtimer_pending(p->timer, NULL))
			pend_arm(p);
		return BT_EAGAIN;
	}
	if (!req->head_done) {
		/* the answer is due request_timeout_ms after the body's end;
		   until then the body's pace is the HTTP client's */
		if (end)
			pend_arm(p);
		else
			evtimer_del(p->timer);
	}
	if (len == 0 && !end)
		return BT_OK;		/* nothing to send */
	do {
		n = len > BTAPI_IO_MAX ? BTAPI_IO_MAX : len;
		bson_init(&b);
		BSON_APPEND_UTF8(&b, "event", "http-body");
		BSON_APPEND_INT64(&b, "req", p->id);
		BSON_APPEND_BINARY(&b, "data", BSON_SUBTYPE_BINARY,
		    n > 0 ? d : (const uint8_t *)"", (uint32_t)n);
		BSON_APPEND_BOOL(&b, "end", end && n == len);
		send_done(p->handler, &b);
		d += n;
		len -= n;
	} while (len > 0);
	if (end)
		req->body_ended = 1;
	return BT_OK;
}

void
btapi_server_http_cancel(struct btapi_http_req *req)
{
	if (req == NULL)
		return;
	http_send_abort(req->p);
	pend_free(req->p);
}

static void
op_http(struct client *c, const struct btapi_req_ *r)
{
	struct pend *p = pend_find(c->srv, r->req, P_HTTP);
	struct btapi_http_req *h;
	struct btapi_header hdrs[BTAPI_HTTP_HEADERS_MAX];
	struct btapi_hdr_ one;
	size_t i;
	int rc;

	rc = BTAPI_EBADHANDLE;
	if (p == NULL || p->handler != c)
		goto out;
	h = p->http;
	rc = BT_ESTATE;
	if (r->op == BTAPI_OP_HTTP_REPLY_) {
		if (h->head_done)
			goto out;
		for (i = 0; i < r->nheaders; i++) {
			if ((rc = btapi_req_header_(r, i, &one)) != BT_OK)
				goto out;
			hdrs[i].name = one.name;
			hdrs[i].value = one.value;
		}
		h->head_done = 1;
		evtimer_del(p->timer);
		if (h->cbs->on_head != NULL)
			h->cbs->on_head(h->arg, r->status, hdrs, r->nheaders);
	} else if (!h->head_done) {
		goto out;
	}
	if (r->data_len > 0 && h->cbs->on_body != NULL)
		h->cbs->on_body(h->arg, r->data, r->data_len);
	if (r->end)
		http_end(p, BT_OK);
	reply_ok(c, r->id);
	return;
out:
	reply_err(c, r->id, rc, NULL);
}

/* ---- for the data ops (server-ext.c) ----------------------------------- */

struct btapi_server *
btapi_client_server_(struct client *c)
{
	return c->srv;
}

const struct btapi_server_config *
btapi_server_cfg_(const struct btapi_server *srv)
{
	return &srv->cfg;
}

struct event_base *
btapi_server_base_(struct btapi_server *srv)
{
	return srv->base;
}

const char *
btapi_server_home_(const struct btapi_server *srv)
{
	return btcore_path_format(srv->home, NULL);
}

const struct bt_id *
btapi_server_node_(const struct btapi_server *srv)
{
	return &srv->node;
}

const uint8_t *
btapi_server_owner_(const struct btapi_server *srv)
{
	return srv->owner.b;
}

int
btapi_client_hello_(const struct client *c)
{
	return c->hello;
}

const struct btcore_manifest *
btapi_client_manifest_(const struct client *c)
{
	return c->manifest;
}

int
btapi_client_output_full_(const struct client *c)
{
	return output_full(c);
}

void
btapi_client_send_(struct client *c, const bson_t *doc)
{
	client_send(c, doc);
}

void
btapi_client_error_(struct client *c, int64_t id, int err, const char *text)
{
	reply_err(c, id, err, text);
}

void **
btapi_client_ext_(struct client *c)
{
	return &c->ext;
}

void **
btapi_server_ext_(struct btapi_server *srv)
{
	return &srv->ext;
}

void
btapi_server_revoke_(struct btapi_server *srv, const char *name)
{
	struct client *c, *next;

	for (c = srv->clients; c != NULL; c = next) {
		next = c->next;
		if (c->manifest != NULL &&
		    strcmp(btcore_manifest_name(c->manifest), name) == 0)
			client_free(c);
	}
}

/* ---- dispatch ----------------------------------------------------------------- */

static void
dispatch(struct client *c, const struct btapi_req_ *r)
{
	if (!c->hello && r->op != BTAPI_OP_HELLO_) {
		reply_err(c, r->id, BT_ESTATE, "say hello first");
		return;
	}
	switch (r->op) {
	case BTAPI_OP_HELLO_:	op_hello(c, r); break;
	case BTAPI_OP_STATUS_:	op_status(c, r); break;
	case BTAPI_OP_STAT_:	op_stat(c, r); break;
	case BTAPI_OP_LIST_:	op_list(c, r); break;
	case BTAPI_OP_MKDIR_:	op_mkdir(c, r); break;
	case BTAPI_OP_RENAME_:	op_rename(c, r); break;
	case BTAPI_OP_REMOVE_:	op_remove(c, r); break;
	case BTAPI_OP_OPEN_:	op_open(c, r); break;
	case BTAPI_OP_READ_:	op_read(c, r); break;
	case BTAPI_OP_WRITE_:	op_write(c, r); break;
	case BTAPI_OP_SEEK_:	op_seek(c, r); break;
	case BTAPI_OP_CLOSE_:	op_close(c, r); break;
	case BTAPI_OP_WATCH_:	op_watch(c, r); break;
	case BTAPI_OP_UNWATCH_:	op_unwatch(c, r); break;
	case BTAPI_OP_LOCK_:	op_lock(c, r); break;
	case BTAPI_OP_UNLOCK_:	op_unlock(c, r); break;
	case BTAPI_OP_HANDLE_:	op_handle(c, r); break;
	case BTAPI_OP_UNHANDLE_: op_unhandle(c, r); break;
	case BTAPI_OP_REPLY_:	op_reply(c, r); break;
	case BTAPI_OP_CALL_:	op_call(c, r); break;
	case BTAPI_OP_ROUTE_:	op_route(c, r, 1); break;
	case BTAPI_OP_UNROUTE_:	op_route(c, r, 0); break;
	case BTAPI_OP_HTTP_REPLY_:
	case BTAPI_OP_HTTP_BODY_: op_http(c, r); break;
	case BTAPI_OP_PEERS_:	op_peers(c, r); break;
	default:
		reply_err(c, r->id, BTAPI_EBADOP, NULL);
		break;
	}
}

/* ---- reads in other namespaces: fetched first (bt/apirepl.h) ----------- */

/* A read waiting for the fetch of its namespace: its frame, copied. */
struct deferred {
	struct deferred *next;
	struct client *c;
	struct btapi_fetch *fetch;
	int64_t id;
	struct bt_pubkey ns;
	size_t len;
	uint8_t doc[];
};

static void
deferred_unlink(struct deferred *d)
{
	struct deferred **dp;

	for (dp = &d->c->srv->deferred; *dp != NULL; dp = &(*dp)->next)
		if (*dp == d) {
			*dp = d->next;
			break;
		}
	if (d->c->inflight > 0)
		d->c->inflight--;
}

/* Drop the reads of @p c that wait (it is going away). */
static void
deferred_drop(struct client *c)
{
	struct deferred **dp, *d;

	for (dp = &c->srv->deferred; (d = *dp) != NULL;) {
		if (d->c != c) {
			dp = &d->next;
			continue;
		}
		*dp = d->next;
		btapi_replicator_cancel(d->fetch);
		free(d);
	}
}

static void
fetch_progress(void *arg, const struct btapi_fetch_progress *p)
{
	struct deferred *d = arg;
	char ns[BT_ID_HEX_LEN + 2];
	bson_t b;

	ns[0] = '/';
	btcore_id_to_hex((const struct bt_id *)(const void *)&d->ns, ns + 1);
	bson_init(&b);
	BSON_APPEND_UTF8(&b, "event", "progress");
	BSON_APPEND_INT64(&b, "id", d->id);
	BSON_APPEND_UTF8(&b, "what", "fetch");
	BSON_APPEND_UTF8(&b, "namespace", ns);
	BSON_APPEND_INT64(&b, "seq", (int64_t)p->seq);
	BSON_APPEND_INT64(&b, "fetched", (int64_t)p->fetched);
	BSON_APPEND_INT64(&b, "present", (int64_t)p->present);
	BSON_APPEND_INT64(&b, "blocks", (int64_t)p->blocks);
	send_done(d->c, &b);
}

/*
 * The fetch of @p ns ended with @p err: run the read, or, when it
 * failed and the store does not hold the namespace, answer why.  1
 * when answered here.
 */
static int
fetch_end(struct client *c, int64_t id, const struct bt_pubkey *ns, int err)
{
	char text[160], hex[BT_ID_HEX_LEN + 1];
	uint64_t seq;
	int rc;

	if (err == BT_OK)
		return 0;
	rc = btstore_ns_root(c->srv->cfg.store, ns, NULL, 0, NULL, &seq, NULL);
	if (rc == BT_OK || rc == BT_ERANGE)
		return 0;	/* held: serve what the store has */
	btcore_id_to_hex((const struct bt_id *)(const void *)ns, hex);
	snprintf(text, sizeof(text), "fetching /%s from the network: %s",
	    hex, btapi_strerror(err));
	reply_err(c, id, err, text);
	return 1;
}

static void
fetch_done(void *arg, int err)
{
	struct deferred *d = arg;
	struct btapi_req_ r;

	deferred_unlink(d);
	if (!fetch_end(d->c, d->id, &d->ns, err) &&
	    btapi_req_decode_(&r, d->doc, d->len) == BT_OK)
		dispatch(d->c, &r);
	free(d);
}

/*
 * A read (stat, list, open "r") of a path in a stale namespace: fetch it
 * first, keeping the frame @p doc to run when the fetch ends.  1 when the
 * request was taken (deferred or answered), 0 to run it now.
 */
static int
fetch_first(struct client *c, const struct btapi_req_ *r, const uint8_t *doc,
    size_t len)
{
	struct btapi_server *srv = c->srv;
	struct btcore_path *p = NULL;
	struct deferred *d = NULL;
	const struct bt_pubkey *ns;
	int rc, taken = 0;

	if (srv->cfg.replicator == NULL || !c->hello ||
	    !(r->op == BTAPI_OP_STAT_ || r->op == BTAPI_OP_LIST_ ||
	    (r->op == BTAPI_OP_OPEN_ && r->mode == BTAPI_MODE_R_)))
		return 0;
	if (prepare(c, r->path, r->path_len, 0, r, &p) != BT_OK)
		return 0;	/* the op answers the error */
	ns = btcore_path_namespace(p);
	if (!btapi_replicator_stale(srv->cfg.replicator, ns))
		goto out;
	taken = 1;
	rc = BTAPI_ELIMIT;
	if (c->inflight >= srv->cfg.max_inflight) {
		reply_err(c, r->id, rc, NULL);
		goto out;
	}
	rc = BT_ENOMEM;
	if ((d = calloc(1, sizeof(*d) + len)) == NULL) {
		reply_err(c, r->id, rc, NULL);
		goto out;
	}
	d->c = c;
	d->id = r->id;
	d->ns = *ns;
	d->len = len;
	memcpy(d->doc, doc, len);
	rc = btapi_replicator_fetch(srv->cfg.replicator, ns, fetch_done,
	    fetch_progress, d, &d->fetch);
	if (rc != BT_OK) {
		taken = fetch_end(c, r->id, ns, rc);
		goto out;
	}
	d->next = srv->deferred;
	srv->deferred = d;
	c->inflight++;
	d = NULL;
out:
	free(d);
	btcore_path_free(p);
	return taken;
}

/* Process whole frames; 0 when the client was closed. */
static int
client_process(struct client *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	uint8_t hdr[4];
	const uint8_t *doc, *buf;
	size_t avail, len, total;
	struct btapi_req_ r;
	int rc;

	while (!c->paused) {
		avail = evbuffer_get_length(in);
		if (avail < 4)
			break;
		evbuffer_copyout(in, hdr, 4);
		rc = btapi_frame_parse_(hdr, 4, &doc, &len, &total);
		if (rc == BT_ETOOBIG || rc == BT_EFORMAT) {
			client_free(c);
			return 0;
		}
		if (avail < total)
			break;
		if ((buf = evbuffer_pullup(in, (ev_ssize_t)total)) == NULL) {
			client_free(c);
			return 0;
		}
		rc = btapi_req_decode_(&r, buf + 4, total - 4);
		if (rc != BT_OK && btapi_ext_frame_(c, buf + 4, total - 4))
			;	/* a data op, answered by server-ext.c */
		else if (rc != BT_OK)
			reply_err(c, r.id, rc, NULL);
		else if (!fetch_first(c, &r, buf + 4, total - 4))
			dispatch(c, &r);
		evbuffer_drain(in, total);
	}
	return 1;
}

static void
client_read(struct bufferevent *bev, void *arg)
{
	(void)bev;
	(void)client_process(arg);
}

static void
client_write(struct bufferevent *bev, void *arg)
{
	struct client *c = arg;
	struct pend *p, *next;

	(void)bev;
	if (output_full(c))
		return;
	for (p = c->srv->pends; p != NULL; p = next) {
		next = p->next;
		if (p->kind == P_HTTP && p->handler == c &&
		    p->http->want_writable) {
			p->http->want_writable = 0;
			if (p->http->cbs->on_writable != NULL)
				p->http->cbs->on_writable(p->http->arg);
		}
	}
	if (c->paused) {
		c->paused = 0;
		bufferevent_enable(c->bev, EV_READ);
		(void)client_process(c);
	}
}

static void
client_event(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		client_free(arg);
}

static void
client_free(struct client *c)
{
	struct btapi_server *srv = c->srv;
	struct stream *s;
	struct watch *w;
	struct lock *l, *lnext;
	struct waiter **wp, *wt;
	struct handler **hp;
	struct route **rp, *rt;
	struct pend *p, *pnext;

	btapi_ext_client_free_(c);
	deferred_drop(c);
	while ((s = c->streams) != NULL) {
		c->streams = s->next;
		stream_free(s);		/* unfinished writes are dropped */
	}
	while ((w = c->watches) != NULL) {
		c->watches = w->next;
		ignore(btstore_unwatch(srv->cfg.store, w->sw));
		free(w);
	}
	for (l = srv->locks; l != NULL; l = l->next) {
		for (wp = &l->waiters; (wt = *wp) != NULL;) {
			if (wt->c == c) {
				*wp = wt->next;
				free(wt);
			} else {
				wp = &wt->next;
			}
		}
	}
	for (l = srv->locks; l != NULL; l = lnext) {
		lnext = l->next;
		if (l->holder == c)
			lock_release(srv, l);
	}
	for (hp = &srv->handlers; *hp != NULL;) {
		if ((*hp)->c == c)
			handler_remove(srv, hp);
		else
			hp = &(*hp)->next;
	}
	for (rp = &srv->routes; (rt = *rp) != NULL;) {
		if (rt->c == c) {
			*rp = rt->next;
			free(rt->host);
			free(rt->prefix);
			free(rt);
		} else {
			rp = &rt->next;
		}
	}
	for (p = srv->pends; p != NULL; p = pnext) {
		pnext = p->next;
		if (p->caller == c) {
			p->caller = NULL;
			continue;
		}
		if (p->handler == c) {
			p->handler = NULL;
			pend_fail(p, BTAPI_EGONE);
		}
	}
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		srv->clients = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	srv->nclients--;
	btcore_manifest_free(c->manifest);
	bufferevent_free(c->bev);
	free(c);
}

static void
accept_cb(struct evconnlistener *lis, evutil_socket_t fd, struct sockaddr *sa,
    int salen, void *arg)
{
	struct btapi_server *srv = arg;
	struct client *c = NULL;
	struct ucred cred;
	socklen_t clen = sizeof(cred);

	(void)lis;
	(void)sa;
	(void)salen;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) != 0 ||
	    clen != sizeof(cred) || cred.uid != geteuid() ||
	    srv->nclients >= srv->cfg.max_clients)
		goto refuse;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		goto refuse;
	if (evutil_make_socket_nonblocking(fd) != 0 ||
	    (c->bev = bufferevent_socket_new(srv->base, fd,
	    BEV_OPT_CLOSE_ON_FREE)) == NULL)
		goto refuse;
	c->srv = srv;
	bufferevent_setcb(c->bev, client_read, client_write, client_event, c);
	bufferevent_setwatermark(c->bev, EV_WRITE, srv->cfg.max_output / 2, 0);
	/* whole frames per read: libevent's default reads 16 KiB at a time */
	bufferevent_set_max_single_read(c->bev, BTAPI_FRAME_MAX + 4);
	bufferevent_set_max_single_write(c->bev, BTAPI_FRAME_MAX + 4);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	c->next = srv->clients;
	if (srv->clients != NULL)
		srv->clients->prev = c;
	srv->clients = c;
	srv->nclients++;
	return;
refuse:
	free(c);
	evutil_closesocket(fd);
}

/* ---- open and close ---------------------------------------------------- */

static void
notify_cb(evutil_socket_t fd, short what, void *arg)
{
	struct btapi_server *srv = arg;

	(void)fd;
	(void)what;
	ignore(btstore_notify_dispatch(srv->cfg.store, NULL));
}

/* The socket's directory: ours, 0700; made when missing. */
static int
check_dir(const char *path)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	const char *slash = strrchr(path, '/');
	struct stat st;
	size_t n;

	if (slash == NULL) {
		dir[0] = '.';
		dir[1] = '\0';
	} else {
		n = slash == path ? 1 : (size_t)(slash - path);
		memcpy(dir, path, n);
		dir[n] = '\0';
	}
	if (lstat(dir, &st) != 0) {
		if (errno != ENOENT || mkdir(dir, 0700) != 0 ||
		    lstat(dir, &st) != 0)
			return BT_EIO;
	}
	if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() ||
	    (st.st_mode & 077) != 0)
		return BT_EPERM;
	return BT_OK;
}

static int
listen_socket(struct btapi_server *srv, evutil_socket_t *out)
{
	struct sockaddr_un sa;
	struct stat st;
	evutil_socket_t fd = -1, probe;
	int rc = BT_EIO;

	*out = -1;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, srv->path, strlen(srv->path) + 1);
	if (lstat(srv->path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			return BT_EEXIST;
		/* a live server answers; a stale socket is replaced */
		probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (probe >= 0 && connect(probe, (struct sockaddr *)&sa,
		    sizeof(sa)) == 0) {
			close(probe);
			return BT_EEXIST;
		}
		if (probe >= 0)
			close(probe);
		if (unlink(srv->path) != 0)
			return BT_EIO;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		goto out;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
		goto out;
	if (chmod(srv->path, 0600) != 0 || listen(fd, 64) != 0 ||
	    evutil_make_socket_nonblocking(fd) != 0) {
		unlink(srv->path);
		goto out;
	}
	*out = fd;
	fd = -1;
	rc = BT_OK;
out:
	if (fd >= 0)
		close(fd);
	return rc;
}

int
btapi_server_open(struct btapi_server **out, struct event_base *base,
    const struct btapi_server_config *cfg)
{
	struct btapi_server *srv = NULL;
	evutil_socket_t fd = -1;
	size_t plen;
	int rc = BT_EINVAL;

	if (out != NULL)
		*out = NULL;
	if (out == NULL || base == NULL || cfg == NULL ||
	    cfg->socket_path == NULL || cfg->store == NULL ||
	    cfg->signer == NULL || cfg->max_clients == 0 ||
	    cfg->max_inflight == 0 || cfg->max_handles == 0 ||
	    cfg->max_watches == 0 || cfg->max_output == 0 ||
	    cfg->request_timeout_ms == 0)
		return BT_EINVAL;
	plen = strlen(cfg->socket_path);
	if (plen == 0 || plen >= sizeof(srv->path))
		return BT_EINVAL;
	if ((srv = calloc(1, sizeof(*srv))) == NULL)
		return BT_ENOMEM;
	srv->base = base;
	srv->cfg = *cfg;
	srv->cfg.socket_path = NULL;
	memcpy(srv->path, cfg->socket_path, plen + 1);
	srv->owner = cfg->owner != NULL ? *cfg->owner : cfg->signer->pub;
	if ((rc = btcore_pubkey_id(&cfg->signer->pub, &srv->node)) != BT_OK)
		goto out;
	if ((rc = btcore_path_root(&srv->home, &cfg->signer->pub)) != BT_OK)
		goto out;
	rc = btstore_ns_create(cfg->store, cfg->signer);
	if (rc != BT_OK && rc != BT_EEXIST)
		goto out;
	if ((rc = btapi_ext_open_(srv)) != BT_OK)
		goto out;
	if ((rc = check_dir(srv->path)) != BT_OK)
		goto out;
	if ((rc = listen_socket(srv, &fd)) != BT_OK)
		goto out;
	rc = BT_ENOMEM;
	if ((srv->lis = evconnlistener_new(base, accept_cb, srv,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1, fd)) == NULL) {
		close(fd);
		unlink(srv->path);
		srv->path[0] = '\0';
		goto out;
	}
	if (cfg->dispatch_notify) {
		srv->notify_ev = event_new(base,
		    btstore_notify_fd(cfg->store), EV_READ | EV_PERSIST,
		    notify_cb, srv);
		if (srv->notify_ev == NULL ||
		    event_add(srv->notify_ev, NULL) != 0)
			goto out;
	}
	*out = srv;
	srv = NULL;
	rc = BT_OK;
out:
	btapi_server_close(srv);
	return rc;
}

void
btapi_server_close(struct btapi_server *srv)
{
	struct lock *l;

	if (srv == NULL)
		return;
	if (srv->lis != NULL) {
		evconnlistener_free(srv->lis);
		unlink(srv->path);
	}
	while (srv->clients != NULL)
		client_free(srv->clients);
	btapi_ext_close_(srv);
	/* what is left has no client: network requests and calls */
	while (srv->pends != NULL) {
		struct pend *p = srv->pends;

		if (p->kind == P_RPC_NET && p->nreq != NULL)
			ignore(btnet_rpc_error(p->nreq, BTAPI_EGONE, NULL));
		if (p->kind == P_CALL_NET) {
			/* btnet_close() runs its callback later; let it
			   find nothing */
			srv->pends = p->next;
			if (srv->pends != NULL)
				srv->pends->prev = NULL;
			p->next = p->prev = NULL;
			p->caller = NULL;
			event_free(p->timer);
			p->timer = NULL;
			p->srv = NULL;
			continue;
		}
		pend_free(p);
	}
	while ((l = srv->locks) != NULL) {
		srv->locks = l->next;
		free(l->path);
		free(l);
	}
	if (srv->notify_ev != NULL)
		event_free(srv->notify_ev);
	btcore_path_free(srv->home);
	free(srv);
}
