/*
 * replicate.c - pushing the home namespace to the DHT, fetching other
 * namespaces from it, and the "node" scope (see replicate.h).
 *
 * Tree walks use explicit work lists, never recursion: the trees come
 * from the network.  Every walk is bounded by a block budget.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bson.h>
#include <event2/event.h>

#include <bt/api.h>
#include <bt/dir.h>
#include <bt/file.h>
#include <bt/net.h>
#include <bt/ns.h>
#include <bt/path.h>
#include <bt/record.h>
#include <bt/store.h>
#include <bt/tree.h>

#include "btnode-internal.h"
#include "replicate.h"
#include "storage.h"

#define PUSH_WINDOW	8	/* puts in flight */
#define FETCH_WINDOW	16	/* gets in flight */
#define FETCH_TRIES	3	/* attempts per block */
#define DEBOUNCE_MS	300
#define PROGRESS_MS	3000	/* answer waiters with progress: a request
				   waits at most BT_REQUEST_TIMEOUT_MS */
#define SCOPE		"node"

/* ---- a set of ids ------------------------------------------------------- */

struct idset {
	struct bt_id *ids;
	uint8_t *used;
	size_t cap, n;
};

static size_t
idset_slot(const struct idset *s, const struct bt_id *id)
{
	uint64_t h;

	memcpy(&h, id->b + 8, sizeof(h));
	return (size_t)h & (s->cap - 1);
}

static int
idset_has(const struct idset *s, const struct bt_id *id)
{
	size_t i;

	if (s->cap == 0)
		return 0;
	for (i = idset_slot(s, id); s->used[i]; i = (i + 1) & (s->cap - 1))
		if (memcmp(s->ids[i].b, id->b, BT_ID_LEN) == 0)
			return 1;
	return 0;
}

static void
idset_put_(struct idset *s, const struct bt_id *id)
{
	size_t i;

	for (i = idset_slot(s, id); s->used[i]; i = (i + 1) & (s->cap - 1))
		;
	s->ids[i] = *id;
	s->used[i] = 1;
	s->n++;
}

/* Add @p id: 1 when new, 0 when present, negative on error. */
static int
idset_add(struct idset *s, const struct bt_id *id)
{
	struct idset big;
	size_t i;

	if (idset_has(s, id))
		return 0;
	if ((s->n + 1) * 2 > s->cap) {
		big.cap = s->cap == 0 ? 256 : s->cap * 2;
		big.n = 0;
		big.ids = malloc(big.cap * sizeof(*big.ids));
		big.used = calloc(big.cap, 1);
		if (big.ids == NULL || big.used == NULL) {
			free(big.ids);
			free(big.used);
			return BT_ENOMEM;
		}
		for (i = 0; i < s->cap; i++)
			if (s->used[i])
				idset_put_(&big, &s->ids[i]);
		free(s->ids);
		free(s->used);
		*s = big;
	}
	idset_put_(s, id);
	return 1;
}

static void
idset_clear(struct idset *s)
{
	free(s->ids);
	free(s->used);
	memset(s, 0, sizeof(*s));
}

/* ---- a list of (id, tag) ------------------------------------------------ */

struct work {
	struct bt_id id;
	int tag;
	int tries;
};

struct worklist {
	struct work *w;
	size_t n, cap, pos;	/* items [pos, n) wait */
};

static int
wl_push(struct worklist *l, const struct bt_id *id, int tag)
{
	struct work *nw;
	size_t cap;

	if (l->pos > 0 && l->pos == l->n)
		l->pos = l->n = 0;
	if (l->n == l->cap) {
		cap = l->cap == 0 ? 64 : l->cap * 2;
		if ((nw = realloc(l->w, cap * sizeof(*nw))) == NULL)
			return BT_ENOMEM;
		l->w = nw;
		l->cap = cap;
	}
	l->w[l->n].id = *id;
	l->w[l->n].tag = tag;
	l->w[l->n].tries = 0;
	l->n++;
	return BT_OK;
}

static size_t
wl_left(const struct worklist *l)
{
	return l->n - l->pos;
}

static void
wl_free(struct worklist *l)
{
	free(l->w);
	memset(l, 0, sizeof(*l));
}

/* ---- trees --------------------------------------------------------------- */

enum { T_LEAF = 0, T_NODE = 1 };

/* Queue the children of tree node @p data into @p l (unseen in @p seen). */
static int
node_children(const uint8_t *data, size_t len, struct idset *seen,
    struct worklist *l)
{
	struct btcore_tree_node n;
	struct bt_id id;
	uint32_t i;
	int rc, add, child;

	if ((rc = btcore_tree_node_decode(&n, data, len)) != BT_OK)
		return rc;
	if (n.layout == BTCORE_TREE_SEQUENTIAL && !btcore_id_is_zero(&n.prev)) {
		if ((add = idset_add(seen, &n.prev)) < 0)
			return add;
		if (add && (rc = wl_push(l, &n.prev, T_NODE)) != BT_OK)
			return rc;
	}
	child = n.layout == BTCORE_TREE_RANDOM && n.level > 1 ? T_NODE :
	    T_LEAF;
	for (i = 0; i < n.count; i++) {
		if ((rc = btcore_tree_node_entry(&n, i, &id, NULL)) != BT_OK)
			return rc;
		if ((add = idset_add(seen, &id)) < 0)
			return add;
		if (add && (rc = wl_push(l, &id, child)) != BT_OK)
			return rc;
	}
	return BT_OK;
}

/* Read the directory stored as the tree @p root (all blocks present). */
static int
dir_read(struct btstore *st, const struct bt_id *root, struct btcore_dir **out)
{
	struct btstore_file_reader *rd = NULL;
	uint8_t *buf = NULL;
	uint64_t size;
	size_t got = 0, n;
	int rc;

	*out = NULL;
	if ((rc = btstore_file_reader_open(&rd, st, root)) != BT_OK)
		goto out;
	size = btstore_file_reader_size(rd);
	rc = BT_ETOOBIG;
	if (size > BTCORE_DIR_MAX_BYTES)
		goto out;
	rc = BT_ENOMEM;
	if ((buf = malloc(size > 0 ? (size_t)size : 1)) == NULL)
		goto out;
	while (got < size) {
		if ((rc = btstore_file_reader_read(rd, buf + got,
		    (size_t)size - got, &n)) != BT_OK)
			goto out;
		rc = BT_ECORRUPT;
		if (n == 0)
			goto out;
		got += n;
	}
	rc = btcore_dir_decode(out, buf, got);
out:
	btstore_file_reader_close(rd);
	free(buf);
	return rc;
}

/* Queue the entries of the directory @p root: every entry's tree root as
 * a node, and each subdirectory into @p dirs. */
static int
dir_children(struct btstore *st, const struct bt_id *root, struct idset *seen,
    struct idset *dirs_seen, struct worklist *l, struct worklist *dirs)
{
	struct btcore_dir *d = NULL;
	struct btcore_dir_entry e;
	size_t i, n;
	int rc, add;

	if ((rc = dir_read(st, root, &d)) != BT_OK)
		goto out;
	n = btcore_dir_count(d);
	for (i = 0; i < n; i++) {
		if ((rc = btcore_dir_entry_at(d, i, &e)) != BT_OK)
			goto out;
		if ((add = idset_add(seen, &e.root)) < 0) {
			rc = add;
			goto out;
		}
		if (add && (rc = wl_push(l, &e.root, T_NODE)) != BT_OK)
			goto out;
		if (e.kind != BTCORE_DIR_DIR)
			continue;
		if ((add = idset_add(dirs_seen, &e.root)) < 0) {
			rc = add;
			goto out;
		}
		if (add && (rc = wl_push(dirs, &e.root, 0)) != BT_OK)
			goto out;
	}
	rc = BT_OK;
out:
	btcore_dir_free(d);
	return rc;
}

/* ---- the replicator ----------------------------------------------------------- */

struct fetch;

struct btnode_repl {
	struct btnode_repl_config cfg;
	char *socket_path;
	struct bt_pubkey home;
	char home_hex[BT_ID_HEX_LEN + 1];
	struct bt_id self;
	int stopped;
	time_t started;
	uint64_t watch;
	int watching;
	struct btapi *api;
	struct event *debounce;
	uint8_t *blk;			/* BTSTORE_BLOCK_MAX */
	/* publishing */
	int dirty, busy;
	uint64_t published_seq, round_seq;
	struct idset pushed;		/* file roots pushed whole */
	struct idset pushed_dirs;	/* directory roots pushed whole */
	struct worklist push;
	size_t push_inflight, push_ok, push_fail;
	uint8_t rec[BTCORE_RECORD_ENC_MAX];
	size_t rec_len;
	/* fetching */
	struct fetch *fetches;
	size_t nfetches;
};

struct fetch {
	struct btnode_repl *r;
	struct fetch *next;
	struct bt_pubkey ns;
	char hex[BT_ID_HEX_LEN + 1];
	struct btapi_rpc **waiters;
	size_t nwaiters;
	struct idset seen, dirs_seen;
	struct worklist q, dirs;
	size_t inflight, fetched, present;
	int done;			/* finished: waiting for gets to end */
	int rec_pending;
	struct event *timer;
	struct event *progress;
	uint8_t rec[BTCORE_RECORD_ENC_MAX];
	size_t rec_len;
	uint64_t seq;
};

struct get {
	struct fetch *f;
	struct work w;
};

static void publish_start(struct btnode_repl *r);
static void fetch_pump(struct fetch *f);

/* ---- replies ---------------------------------------------------------------- */

static void
reply_doc(struct btapi_rpc *req, bson_t *b)
{
	if (btapi_rpc_reply(req, bson_get_data(b), b->len) != BT_OK)
		btnode_log(BTNODE_LOG_WARN, "could not answer a node request");
	bson_destroy(b);
}

static void
reply_err(struct btapi_rpc *req, int code, const char *text)
{
	if (btapi_rpc_error(req, code, text) != BT_OK)
		btnode_log(BTNODE_LOG_WARN, "could not answer a node request");
}

/* ---- publishing ----------------------------------------------------------- */

static void
publish_done(struct btnode_repl *r)
{
	r->busy = 0;
	if (r->dirty && !r->stopped)
		publish_start(r);
}

static void
record_cb(void *arg, const struct btnet_dht_result *res)
{
	struct btnode_repl *r = arg;

	if (res->status == BT_ECLOSED || r->stopped) {
		r->busy = 0;
		return;
	}
	if (res->status == BT_OK) {
		r->published_seq = r->round_seq;
		btnode_log(BTNODE_LOG_INFO, "published /%s at sequence %llu "
		    "(root record on %u nodes; %zu blocks pushed, %zu failed)",
		    r->home_hex, (unsigned long long)r->round_seq, res->stored,
		    r->push_ok, r->push_fail);
	} else
		btnode_log(BTNODE_LOG_WARN, "publishing /%s at sequence %llu "
		    "failed: %s", r->home_hex,
		    (unsigned long long)r->round_seq,
		    btapi_strerror(res->status));
	publish_done(r);
}

static void
publish_record(struct btnode_repl *r)
{
	struct bt_record rec;
	int rc;

	if ((rc = btcore_record_decode(&rec, r->rec, r->rec_len)) != BT_OK ||
	    (rc = btnet_dht_record_put(btnet_dht(r->cfg.net), &rec, record_cb,
	    r)) != BT_OK) {
		btnode_log(BTNODE_LOG_WARN, "cannot publish the root record: "
		    "%s", btapi_strerror(rc));
		publish_done(r);
	}
}

static void push_pump(struct btnode_repl *r);

static void
put_cb(void *arg, const struct btnet_dht_result *res)
{
	struct btnode_repl *r = arg;

	r->push_inflight--;
	if (res->status == BT_ECLOSED || r->stopped) {
		if (r->push_inflight == 0)
			r->busy = 0;
		return;
	}
	if (res->status == BT_OK)
		r->push_ok++;
	else
		r->push_fail++;
	push_pump(r);
}

static void
push_pump(struct btnode_repl *r)
{
	struct work *w;
	size_t len;
	int rc;

	while (r->push_inflight < PUSH_WINDOW && wl_left(&r->push) > 0) {
		w = &r->push.w[r->push.pos++];
		rc = btstore_block_get(r->cfg.store, &w->id, r->blk,
		    BTSTORE_BLOCK_MAX, &len);
		if (rc == BT_OK)
			rc = btnet_dht_put_value(btnet_dht(r->cfg.net), r->blk,
			    len, put_cb, r);
		if (rc != BT_OK) {
			r->push_fail++;
			continue;
		}
		r->push_inflight++;
	}
	if (r->push_inflight == 0 && wl_left(&r->push) == 0)
		publish_record(r);
}

/*
 * Collect the blocks of the files and directories reachable from the root
 * directory @p dir that were not pushed before.  Trees are content
 * addressed: an object pushed once is pushed whole, so the walk descends
 * only into what is new.
 */
static int
push_collect(struct btnode_repl *r, const struct bt_id *dir)
{
	struct idset seen = { 0 };
	struct worklist nodes = { 0 }, dirs = { 0 };
	struct btcore_dir *d = NULL;
	struct btcore_dir_entry e;
	struct work *w;
	struct bt_id id;
	size_t len, total = 0, i, n;
	int rc, add;

	r->push.n = r->push.pos = 0;
	if ((add = idset_add(&r->pushed_dirs, dir)) < 0) {
		rc = add;
		goto out;
	}
	rc = BT_OK;
	if (!add)
		goto out;
	if ((rc = wl_push(&nodes, dir, T_NODE)) != BT_OK ||
	    (rc = wl_push(&dirs, dir, 0)) != BT_OK)
		goto out;
	while (wl_left(&nodes) > 0 || wl_left(&dirs) > 0) {
		while (wl_left(&nodes) > 0) {
			w = &nodes.w[nodes.pos++];
			rc = BT_ETOOBIG;
			if (++total > r->cfg.push_max_blocks)
				goto out;
			if ((rc = wl_push(&r->push, &w->id, 0)) != BT_OK)
				goto out;
			if (w->tag != T_NODE)
				continue;
			id = w->id;
			if ((rc = btstore_block_get(r->cfg.store, &id, r->blk,
			    BTSTORE_BLOCK_MAX, &len)) != BT_OK ||
			    (rc = node_children(r->blk, len, &seen,
			    &nodes)) != BT_OK)
				goto out;
		}
		if (wl_left(&dirs) == 0)
			break;
		id = dirs.w[dirs.pos++].id;
		if ((rc = dir_read(r->cfg.store, &id, &d)) != BT_OK)
			goto out;
		n = btcore_dir_count(d);
		for (i = 0; i < n; i++) {
			if ((rc = btcore_dir_entry_at(d, i, &e)) != BT_OK)
				goto out;
			add = idset_add(e.kind == BTCORE_DIR_DIR ?
			    &r->pushed_dirs : &r->pushed, &e.root);
			if (add < 0) {
				rc = add;
				goto out;
			}
			if (!add)
				continue;	/* pushed whole before */
			if ((add = idset_add(&seen, &e.root)) < 0) {
				rc = add;
				goto out;
			}
			if (add && (rc = wl_push(&nodes, &e.root,
			    T_NODE)) != BT_OK)
				goto out;
			if (e.kind == BTCORE_DIR_DIR &&
			    (rc = wl_push(&dirs, &e.root, 0)) != BT_OK)
				goto out;
		}
		btcore_dir_free(d);
		d = NULL;
	}
	rc = BT_OK;
out:
	btcore_dir_free(d);
	idset_clear(&seen);
	wl_free(&nodes);
	wl_free(&dirs);
	return rc;
}

static void
publish_start(struct btnode_repl *r)
{
	struct bt_id dir;
	uint64_t seq = 0;
	int rc;

	r->dirty = 0;
	if (r->busy || r->stopped || !btnet_is_online(r->cfg.net)) {
		if (r->busy)
			r->dirty = 1;
		return;
	}
	rc = btstore_ns_root(r->cfg.store, &r->home, r->rec, sizeof(r->rec),
	    &r->rec_len, &seq, &dir);
	if (rc != BT_OK) {
		btnode_log(BTNODE_LOG_WARN, "cannot read /%s: %s", r->home_hex,
		    btapi_strerror(rc));
		return;
	}
	if (seq == r->published_seq)
		return;
	r->busy = 1;
	r->round_seq = seq;
	r->push_ok = r->push_fail = 0;
	if ((rc = push_collect(r, &dir)) != BT_OK)
		btnode_log(BTNODE_LOG_WARN, "pushing the blocks of /%s stopped: "
		    "%s", r->home_hex, rc == BT_ETOOBIG ? "more than "
		    "push_max_blocks" : btapi_strerror(rc));
	btnode_log(BTNODE_LOG_DEBUG, "publishing /%s at sequence %llu: %zu "
	    "new blocks", r->home_hex, (unsigned long long)seq,
	    wl_left(&r->push));
	push_pump(r);
}

static void
debounce_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	publish_start(arg);
}

static void
schedule(struct btnode_repl *r)
{
	struct timeval tv = { 0, DEBOUNCE_MS * 1000 };

	if (r->stopped)
		return;
	if (!evtimer_pending(r->debounce, NULL))
		(void)evtimer_add(r->debounce, &tv);
}

static void
watch_cb(void *arg, int kind, int event, const void *key, size_t keylen)
{
	(void)kind;
	(void)event;
	(void)key;
	(void)keylen;
	schedule(arg);
}

void
btnode_repl_online(struct btnode_repl *r)
{
	if (r == NULL)
		return;
	r->published_seq = 0;	/* announce the root again */
	schedule(r);
}

/* ---- fetching --------------------------------------------------------------- */

static void
fetch_unlink(struct fetch *f)
{
	struct fetch **p;

	for (p = &f->r->fetches; *p != NULL; p = &(*p)->next)
		if (*p == f) {
			*p = f->next;
			f->r->nfetches--;
			return;
		}
}

static void
fetch_free(struct fetch *f)
{
	if (f->timer != NULL)
		event_free(f->timer);
	if (f->progress != NULL)
		event_free(f->progress);
	idset_clear(&f->seen);
	idset_clear(&f->dirs_seen);
	wl_free(&f->q);
	wl_free(&f->dirs);
	free(f->waiters);
	free(f);
}

/* {done, seq, fetched, present, blocks}: where the fetch stands. */
static void
reply_progress(struct fetch *f, struct btapi_rpc *req, int done)
{
	bson_t b;

	bson_init(&b);
	BSON_APPEND_BOOL(&b, "done", done);
	BSON_APPEND_INT64(&b, "seq", (int64_t)f->seq);
	BSON_APPEND_INT64(&b, "fetched", (int64_t)f->fetched);
	BSON_APPEND_INT64(&b, "present", (int64_t)f->present);
	BSON_APPEND_INT64(&b, "blocks", (int64_t)f->seen.n);
	reply_doc(req, &b);
}

/* Every PROGRESS_MS: tell the waiters how far it is; they ask again. */
static void
fetch_progress(evutil_socket_t fd, short what, void *arg)
{
	struct fetch *f = arg;
	size_t i;

	(void)fd;
	(void)what;
	for (i = 0; i < f->nwaiters; i++)
		reply_progress(f, f->waiters[i], 0);
	f->nwaiters = 0;
}

/* Answer every waiter and end the fetch (freed when no get is left). */
static void
fetch_finish(struct fetch *f, int rc)
{
	struct btnode_repl *r = f->r;
	size_t i;

	if (f->done)
		return;
	f->done = 1;
	fetch_unlink(f);
	if (f->timer != NULL)
		event_del(f->timer);
	if (f->progress != NULL)
		event_del(f->progress);
	if (rc == BT_OK)
		btnode_log(BTNODE_LOG_INFO, "fetched /%s at sequence %llu: "
		    "%zu blocks from the network, %zu already here", f->hex,
		    (unsigned long long)f->seq, f->fetched, f->present);
	else
		btnode_log(BTNODE_LOG_WARN, "fetching /%s failed after %zu "
		    "blocks: %s", f->hex, f->fetched, btapi_strerror(rc));
	for (i = 0; i < f->nwaiters; i++) {
		if (r->stopped)
			break;
		if (rc != BT_OK) {
			reply_err(f->waiters[i], rc, btapi_strerror(rc));
			continue;
		}
		reply_progress(f, f->waiters[i], 1);
	}
	f->nwaiters = 0;
	if (f->inflight == 0 && !f->rec_pending)
		fetch_free(f);
}

static void
fetch_timeout(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	fetch_finish(arg, BT_ETIMEDOUT);
}

/* A block is here: queue what a node names. */
static int
fetch_have(struct fetch *f, const struct work *w, const uint8_t *data,
    size_t len)
{
	if (w->tag != T_NODE)
		return BT_OK;
	return node_children(data, len, &f->seen, &f->q);
}

static void
get_cb(void *arg, const struct btnet_dht_result *res)
{
	struct get *g = arg;
	struct fetch *f = g->f;
	struct btnode_repl *r = f->r;
	int rc;

	f->inflight--;
	if (f->done || res->status == BT_ECLOSED || r->stopped) {
		if (f->done && f->inflight == 0 && !f->rec_pending)
			fetch_free(f);
		free(g);
		return;
	}
	rc = res->status;
	if (rc == BT_OK) {
		/* checked against its id by the engine and again here */
		rc = btstore_block_put(r->cfg.store, &g->w.id, res->value,
		    res->value_len, 0);
		if (rc == BT_OK) {
			f->fetched++;
			rc = fetch_have(f, &g->w, res->value, res->value_len);
			if (rc != BT_OK) {
				free(g);
				fetch_finish(f, rc);
				return;
			}
		}
	}
	if (rc != BT_OK) {
		if (++g->w.tries >= FETCH_TRIES) {
			char hex[BT_ID_HEX_LEN + 1];

			btnode_log(BTNODE_LOG_WARN, "block %s of /%s: %s",
			    btcore_id_to_hex(&g->w.id, hex), f->hex,
			    btapi_strerror(rc));
			free(g);
			fetch_finish(f, rc == BT_ETIMEDOUT ? rc : BT_ENOTFOUND);
			return;
		}
		/* again, at the end of the queue */
		if (wl_push(&f->q, &g->w.id, g->w.tag) != BT_OK) {
			free(g);
			fetch_finish(f, BT_ENOMEM);
			return;
		}
		f->q.w[f->q.n - 1].tries = g->w.tries;
	}
	free(g);
	fetch_pump(f);
}

static void
fetch_import(struct fetch *f)
{
	int rc;

	rc = btstore_ns_import(f->r->cfg.store, f->rec, f->rec_len);
	if (rc == BT_ESTALE)
		rc = BT_OK;	/* something newer arrived meanwhile */
	fetch_finish(f, rc);
}

static void
fetch_pump(struct fetch *f)
{
	struct btnode_repl *r = f->r;
	struct work w;
	struct get *g;
	size_t len;
	int rc;

	while (!f->done) {
		while (f->inflight < FETCH_WINDOW && wl_left(&f->q) > 0) {
			w = f->q.w[f->q.pos++];
			if (f->seen.n > r->cfg.fetch_max_blocks) {
				fetch_finish(f, BT_ETOOBIG);
				return;
			}
			rc = btstore_block_get(r->cfg.store, &w.id, r->blk,
			    BTSTORE_BLOCK_MAX, &len);
			if (rc == BT_OK) {
				if (w.tries == 0)
					f->present++;
				if ((rc = fetch_have(f, &w, r->blk,
				    len)) != BT_OK) {
					fetch_finish(f, rc);
					return;
				}
				continue;
			}
			if (rc != BT_ENOTFOUND && rc != BT_ECORRUPT) {
				fetch_finish(f, rc);
				return;
			}
			rc = BT_ENOMEM;
			if ((g = malloc(sizeof(*g))) == NULL ||
			    (rc = btnet_dht_get_value(btnet_dht(r->cfg.net),
			    &w.id, get_cb, g)) != BT_OK) {
				free(g);
				if (rc == BT_EAGAIN && f->inflight > 0) {
					f->q.pos--;	/* retry when one ends */
					return;
				}
				fetch_finish(f, rc);
				return;
			}
			g->f = f;
			g->w = w;
			f->inflight++;
		}
		if (f->inflight > 0)
			return;
		if (wl_left(&f->dirs) == 0) {
			fetch_import(f);
			return;
		}
		/* every block so far is here: read the directories found */
		while (wl_left(&f->dirs) > 0) {
			w = f->dirs.w[f->dirs.pos++];
			if ((rc = dir_children(r->cfg.store, &w.id, &f->seen,
			    &f->dirs_seen, &f->q, &f->dirs)) != BT_OK) {
				fetch_finish(f, rc);
				return;
			}
			/* subdirectories found now are read next round */
			if (wl_left(&f->q) > 0)
				break;
		}
	}
}

static void
root_cb(void *arg, const struct btnet_dht_result *res)
{
	struct fetch *f = arg;
	struct btnode_repl *r = f->r;
	struct bt_id dir;
	uint64_t have = 0;
	int rc;

	f->rec_pending = 0;
	if (f->done || res->status == BT_ECLOSED || r->stopped) {
		if (f->done && f->inflight == 0)
			fetch_free(f);
		return;
	}
	rc = res->status;
	if (rc == BT_OK && (res->value_len > sizeof(f->rec) ||
	    res->record == NULL))
		rc = BT_EFORMAT;
	if (rc != BT_OK) {
		fetch_finish(f, rc);
		return;
	}
	memcpy(f->rec, res->value, res->value_len);
	f->rec_len = res->value_len;
	f->seq = res->record->seq;
	if (res->record->value_len != 1 + BT_ID_LEN ||
	    res->record->value[0] != 1) {
		fetch_finish(f, BT_EFORMAT);
		return;
	}
	memcpy(dir.b, res->record->value + 1, BT_ID_LEN);
	rc = btstore_ns_root(r->cfg.store, &f->ns, NULL, 0, NULL, &have, NULL);
	if ((rc == BT_OK || rc == BT_ERANGE) && have >= f->seq) {
		fetch_finish(f, BT_OK);
		return;
	}
	btnode_log(BTNODE_LOG_INFO, "fetching /%s at sequence %llu", f->hex,
	    (unsigned long long)f->seq);
	if (idset_add(&f->seen, &dir) < 0 ||
	    idset_add(&f->dirs_seen, &dir) < 0 ||
	    wl_push(&f->q, &dir, T_NODE) != BT_OK ||
	    wl_push(&f->dirs, &dir, 0) != BT_OK) {
		fetch_finish(f, BT_ENOMEM);
		return;
	}
	fetch_pump(f);
}

static int
waiter_add(struct fetch *f, struct btapi_rpc *req)
{
	struct btapi_rpc **w;

	w = realloc(f->waiters, (f->nwaiters + 1) * sizeof(*w));
	if (w == NULL)
		return BT_ENOMEM;
	f->waiters = w;
	f->waiters[f->nwaiters++] = req;
	return BT_OK;
}

static void
op_fetch(struct btnode_repl *r, struct btapi_rpc *req, const char *path)
{
	struct btcore_path *p = NULL;
	const struct bt_pubkey *ns;
	struct fetch *f = NULL;
	struct timeval tv;
	bson_t b;
	int rc;

	if ((rc = btcore_path_parse(&p, path, strlen(path))) != BT_OK) {
		reply_err(req, rc, "not a path /<64 hex namespace>/...");
		goto out;
	}
	ns = btcore_path_namespace(p);
	if (memcmp(ns->b, r->home.b, sizeof(ns->b)) == 0) {
		bson_init(&b);
		BSON_APPEND_BOOL(&b, "done", 1);
		BSON_APPEND_INT64(&b, "fetched", 0);
		reply_doc(req, &b);
		goto out;
	}
	if (!btnet_is_online(r->cfg.net)) {
		reply_err(req, BTAPI_EOFFLINE, "the node is offline");
		goto out;
	}
	for (f = r->fetches; f != NULL; f = f->next)
		if (memcmp(f->ns.b, ns->b, sizeof(ns->b)) == 0)
			break;
	if (f != NULL) {
		if (waiter_add(f, req) != BT_OK)
			reply_err(req, BT_ENOMEM, NULL);
		f = NULL;
		goto out;
	}
	rc = BT_ENOMEM;
	if ((f = calloc(1, sizeof(*f))) == NULL ||
	    (f->timer = evtimer_new(r->cfg.base, fetch_timeout, f)) == NULL ||
	    (f->progress = event_new(r->cfg.base, -1, EV_PERSIST,
	    fetch_progress, f)) == NULL ||
	    waiter_add(f, req) != BT_OK) {
		reply_err(req, rc, NULL);
		goto out;
	}
	f->r = r;
	f->ns = *ns;
	btcore_id_to_hex((const struct bt_id *)(const void *)ns, f->hex);
	if ((rc = btnet_dht_record_get(btnet_dht(r->cfg.net), ns,
	    BTSTORE_NS_ROOT_KEY, sizeof(BTSTORE_NS_ROOT_KEY) - 1, root_cb,
	    f)) != BT_OK) {
		reply_err(req, rc, btapi_strerror(rc));
		goto out;
	}
	f->rec_pending = 1;
	tv.tv_sec = (time_t)r->cfg.fetch_timeout_s;
	tv.tv_usec = 0;
	(void)evtimer_add(f->timer, &tv);
	tv.tv_sec = PROGRESS_MS / 1000;
	tv.tv_usec = (PROGRESS_MS % 1000) * 1000;
	(void)event_add(f->progress, &tv);
	f->next = r->fetches;
	r->fetches = f;
	r->nfetches++;
	f = NULL;
out:
	if (f != NULL)
		fetch_free(f);
	btcore_path_free(p);
}

/* ---- the "node" scope ------------------------------------------------------ */

static void
op_status(struct btnode_repl *r, struct btapi_rpc *req)
{
	char hex[BT_ID_HEX_LEN + 2];
	uint64_t blocks = 0, bytes = 0, held_bytes = 0;
	size_t held = 0;
	bson_t b;

	if (btstore_block_usage(r->cfg.store, &blocks, &bytes) != BT_OK)
		blocks = bytes = 0;
	if (r->cfg.storage != NULL)
		btnode_storage_count(r->cfg.storage, &held, &held_bytes);
	bson_init(&b);
	BSON_APPEND_UTF8(&b, "version", BTNODE_VERSION);
	BSON_APPEND_UTF8(&b, "node", btcore_id_to_hex(&r->self, hex));
	hex[0] = '/';
	memcpy(hex + 1, r->home_hex, sizeof(r->home_hex));
	BSON_APPEND_UTF8(&b, "home", hex);
	BSON_APPEND_BOOL(&b, "online", btnet_is_online(r->cfg.net));
	BSON_APPEND_INT32(&b, "peers",
	    (int32_t)btnet_peers(r->cfg.net, NULL, 0));
	BSON_APPEND_INT32(&b, "replication", (int32_t)r->cfg.replication);
	BSON_APPEND_UTF8(&b, "keystore", r->cfg.keystore_tpm ? "tpm" :
	    "software");
	BSON_APPEND_INT64(&b, "blocks", (int64_t)blocks);
	BSON_APPEND_INT64(&b, "block_bytes", (int64_t)bytes);
	BSON_APPEND_INT64(&b, "dht_items", (int64_t)held);
	BSON_APPEND_INT64(&b, "dht_bytes", (int64_t)held_bytes);
	BSON_APPEND_INT64(&b, "published_seq", (int64_t)r->published_seq);
	BSON_APPEND_INT32(&b, "fetches", (int32_t)r->nfetches);
	BSON_APPEND_INT64(&b, "uptime", (int64_t)(time(NULL) - r->started));
	reply_doc(req, &b);
}

static void
on_rpc(void *arg, struct btapi_rpc *req, const struct bt_id *from,
    const char *scope, const uint8_t *args, size_t len)
{
	struct btnode_repl *r = arg;
	bson_iter_t it;
	bson_t doc;
	const char *op = NULL, *path = NULL;

	(void)scope;
	if (!bson_init_static(&doc, args, len)) {
		reply_err(req, BT_EFORMAT, "arguments are not a BSON document");
		return;
	}
	if (bson_iter_init_find(&it, &doc, "op") && BSON_ITER_HOLDS_UTF8(&it))
		op = bson_iter_utf8(&it, NULL);
	if (bson_iter_init_find(&it, &doc, "path") &&
	    BSON_ITER_HOLDS_UTF8(&it))
		path = bson_iter_utf8(&it, NULL);
	if (op == NULL) {
		reply_err(req, BT_EINVAL, "no op: status or fetch");
	} else if (strcmp(op, "status") == 0) {
		op_status(r, req);
	} else if (strcmp(op, "fetch") == 0) {
		if (btcore_id_cmp(from, &r->self) != 0)
			reply_err(req, BT_EPERM, "fetch is for the node's own "
			    "programs");
		else if (path == NULL)
			reply_err(req, BT_EINVAL, "fetch needs a path");
		else
			op_fetch(r, req, path);
	} else
		reply_err(req, BT_EUNSUPPORTED, "unknown op: status or fetch");
}

static void
handle_cb(void *arg, int err)
{
	(void)arg;
	if (err != BT_OK)
		btnode_log(BTNODE_LOG_ERROR, "cannot serve the \"%s\" scope: %s",
		    SCOPE, btapi_strerror(err));
	else
		btnode_log(BTNODE_LOG_DEBUG, "serving the \"%s\" scope", SCOPE);
}

static void
hello_cb(void *arg, int err)
{
	struct btnode_repl *r = arg;

	if (err != BT_OK) {
		btnode_log(BTNODE_LOG_ERROR, "the API socket refused the node's "
		    "own connection: %s", btapi_strerror(err));
		return;
	}
	if (btapi_handle(r->api, SCOPE, on_rpc, r, handle_cb, r) != BT_OK)
		btnode_log(BTNODE_LOG_ERROR, "cannot register the \"%s\" "
		    "scope", SCOPE);
}

static void
closed_cb(void *arg, int err)
{
	struct btnode_repl *r = arg;

	if (!r->stopped)
		btnode_log(BTNODE_LOG_ERROR, "the node's own API connection "
		    "ended: %s", btapi_strerror(err));
}

int
btnode_repl_open(struct btnode_repl **out, const struct btnode_repl_config *cfg)
{
	struct btnode_repl *r;
	char topic[BT_ID_HEX_LEN + 2];
	int rc = BT_ENOMEM;

	*out = NULL;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		goto out;
	r->cfg = *cfg;
	r->started = time(NULL);
	r->home = cfg->signer->pub;
	btcore_id_to_hex((const struct bt_id *)(const void *)&r->home,
	    r->home_hex);
	btnet_local_id(cfg->net, &r->self);
	if ((r->socket_path = strdup(cfg->socket_path)) == NULL ||
	    (r->blk = malloc(BTSTORE_BLOCK_MAX)) == NULL ||
	    (r->debounce = evtimer_new(cfg->base, debounce_cb, r)) == NULL)
		goto out;
	r->cfg.socket_path = r->socket_path;
	topic[0] = '/';
	memcpy(topic + 1, r->home_hex, sizeof(r->home_hex));
	if ((rc = btstore_watch(cfg->store, BTSTORE_TOPIC_PATH, topic,
	    strlen(topic), watch_cb, r, &r->watch)) != BT_OK)
		goto out;
	r->watching = 1;
	if ((rc = btapi_open(&r->api, cfg->base, r->socket_path, NULL, 0,
	    hello_cb, r)) != BT_OK)
		goto out;
	btapi_set_closed_cb(r->api, closed_cb, r);
	*out = r;
	r = NULL;
	rc = BT_OK;
out:
	if (r != NULL) {
		btnode_repl_stop(r);
		btnode_repl_free(r);
	}
	return rc;
}

void
btnode_repl_stop(struct btnode_repl *r)
{
	struct fetch *f;

	if (r == NULL || r->stopped)
		return;
	r->stopped = 1;
	if (r->watching)
		if (btstore_unwatch(r->cfg.store, r->watch) != BT_OK)
			btnode_log(BTNODE_LOG_DEBUG, "watch already gone");
	r->watching = 0;
	if (r->debounce != NULL)
		event_del(r->debounce);
	/* waiting requests are released by btapi_close() */
	for (f = r->fetches; f != NULL; f = f->next) {
		f->nwaiters = 0;
		if (f->timer != NULL)
			event_del(f->timer);
		if (f->progress != NULL)
			event_del(f->progress);
	}
	btapi_close(r->api);
	r->api = NULL;
}

void
btnode_repl_free(struct btnode_repl *r)
{
	struct fetch *f, *next;

	if (r == NULL)
		return;
	for (f = r->fetches; f != NULL; f = next) {
		next = f->next;
		fetch_free(f);
	}
	if (r->debounce != NULL)
		event_free(r->debounce);
	idset_clear(&r->pushed);
	idset_clear(&r->pushed_dirs);
	wl_free(&r->push);
	free(r->blk);
	free(r->socket_path);
	free(r);
}
