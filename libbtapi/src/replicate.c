/*
 * replicate.c - publishing the home namespace to the DHT, fetching other
 * namespaces from it, and the "node" scope (see bt/apirepl.h).
 *
 * Tree walks use explicit work lists, never recursion: the trees come
 * from the network.  Every walk is bounded by a block budget.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bson/bson.h>
#include <event2/event.h>

#include <bt/apidht.h>
#include <bt/apiproto.h>
#include <bt/apirepl.h>
#include <bt/dir.h>
#include <bt/file.h>
#include <bt/net.h>
#include <bt/ns.h>
#include <bt/record.h>
#include <bt/store.h>
#include <bt/tree.h>

#include "btapi-internal.h"
#include "repl-internal.h"

/*
 * Puts and gets in flight: at most the window, which halves when a
 * request fails and grows by one with each success.  A node refuses
 * requests over its rate limit (they time out here), so a bulk transfer
 * slows down to what the other side takes instead of failing; a failed
 * block is tried again at the end of the queue, after a pause that
 * doubles with its attempts (a put only when no node answered: a
 * refusal, all nodes full, is final).
 */
#define PUSH_WINDOW	8	/* puts in flight, at most */
#define PUSH_TRIES	4	/* attempts per block */
#define FETCH_WINDOW	16	/* gets in flight, at most */
#define FETCH_TRIES	8	/* attempts per block */
/*
 * Request rates.  A node answers at most rate_per_s DHT requests a second
 * from one source (libbtnet's default 100, burst 400) and drops the rest
 * silently: a put (a lookup and a store, two requests to a near node)
 * the pusher also keeps itself still "succeeds", so the other node would
 * just miss the block, and a get times out.  Bulk transfers therefore
 * stay under that rate.
 */
#define PUSH_RATE	45	/* puts a second */
#define FETCH_RATE	90	/* gets a second */
#define RATE_BURST	16	/* requests at once, at most */
#define RETRY_MS	250	/* pause after a failed request, doubling */
#define RETRY_MAX_MS	4000	/* ... up to this */
#define DEBOUNCE_MS	300
#define FRESH_MAX	256	/* namespaces remembered as fetched */
/*
 * Direct fetches: blocks asked of the namespace's owner over the session
 * with it ("node" scope, op "blocks"), several ids a call, a few calls in
 * flight.  A reply carries the blocks that fit in one message, in the
 * order asked; the rest are asked again.  Blocks the owner lacks, and
 * every block once the owner failed to answer, come from the DHT.
 */
#define DIRECT_WINDOW	4	/* calls in flight, at most */
#define DIRECT_IDS_MAX	BTAPI_REPL_IDS_MAX	/* ids a call, at most */
#define DIRECT_IDS_FIRST 4	/* ids of the first calls */
#define DIRECT_SLOW_MAX	3	/* calls timed out in a row: the DHT */
/* the blocks of one reply, at most: what fits one message with room for
   the envelope */
#define DIRECT_REPLY_MAX (BT_MSG_MAX - 4096)

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
	int dht;		/* 1: from the DHT only */
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
	l->w[l->n].dht = 0;
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

/* ---- the "node" scope's messages ------------------------------------------- */

int
btapi_repl_root_args_(const uint8_t *doc, size_t len, struct bt_pubkey *ns)
{
	bson_iter_t it;
	bson_subtype_t sub;
	const uint8_t *data;
	uint32_t n;
	bson_t b;

	if (!bson_init_static(&b, doc, len) ||
	    !bson_iter_init_find(&it, &b, "ns") ||
	    !BSON_ITER_HOLDS_BINARY(&it))
		return BT_EFORMAT;
	bson_iter_binary(&it, &sub, &n, &data);
	if (n != sizeof(ns->b))
		return BT_EFORMAT;
	memcpy(ns->b, data, sizeof(ns->b));
	return BT_OK;
}

int
btapi_repl_blocks_args_(const uint8_t *doc, size_t len, const uint8_t **ids,
    size_t *n)
{
	bson_iter_t it;
	bson_subtype_t sub;
	uint32_t blen;
	bson_t b;

	*ids = NULL;
	*n = 0;
	if (!bson_init_static(&b, doc, len) ||
	    !bson_iter_init_find(&it, &b, "ids") ||
	    !BSON_ITER_HOLDS_BINARY(&it))
		return BT_EFORMAT;
	bson_iter_binary(&it, &sub, &blen, ids);
	if (blen == 0 || blen % BT_ID_LEN != 0) {
		*ids = NULL;
		return BT_EFORMAT;
	}
	if (blen / BT_ID_LEN > BTAPI_REPL_IDS_MAX) {
		*ids = NULL;
		return BT_ETOOBIG;
	}
	*n = blen / BT_ID_LEN;
	return BT_OK;
}

int
btapi_repl_root_reply_(const uint8_t *doc, size_t len,
    const struct bt_pubkey *ns, struct bt_record *rec, const uint8_t **enc,
    size_t *enc_len)
{
	bson_iter_t it;
	bson_subtype_t sub;
	const uint8_t *data;
	uint32_t n;
	bson_t b;
	int rc;

	*enc = NULL;
	*enc_len = 0;
	if (!bson_init_static(&b, doc, len) ||
	    !bson_iter_init_find(&it, &b, "rec") ||
	    !BSON_ITER_HOLDS_BINARY(&it))
		return BT_EPROTO;
	bson_iter_binary(&it, &sub, &n, &data);
	if (n > BTCORE_RECORD_ENC_MAX)
		return BT_EPROTO;
	if ((rc = btcore_record_decode(rec, data, n)) != BT_OK)
		return rc == BT_EVERIFY ? rc : BT_EPROTO;
	if (memcmp(rec->pub.b, ns->b, sizeof(ns->b)) != 0 ||
	    rec->key_len != sizeof(BTSTORE_NS_ROOT_KEY) - 1 ||
	    memcmp(rec->key, BTSTORE_NS_ROOT_KEY, rec->key_len) != 0)
		return BT_EPROTO;
	*enc = data;
	*enc_len = n;
	return BT_OK;
}

int
btapi_repl_blocks_reply_(const uint8_t *doc, size_t len, size_t asked,
    const uint8_t **data, uint32_t *dlen, size_t *n)
{
	bson_iter_t it, ai;
	bson_subtype_t sub;
	const uint8_t *arr = NULL;
	uint32_t alen = 0;
	bson_t b;
	size_t i = 0;

	*n = 0;
	if (!bson_init_static(&b, doc, len) ||
	    !bson_iter_init_find(&it, &b, "blocks") ||
	    !BSON_ITER_HOLDS_ARRAY(&it))
		return BT_EPROTO;
	/* libbson does not check an embedded document's final byte */
	bson_iter_array(&it, &alen, &arr);
	if (arr == NULL || alen < 5 || arr[alen - 1] != 0 ||
	    !bson_iter_recurse(&it, &ai))
		return BT_EPROTO;
	while (bson_iter_next(&ai)) {
		if (i == asked)
			return BT_EPROTO;	/* more than asked */
		data[i] = NULL;
		dlen[i] = 0;
		if (BSON_ITER_HOLDS_BINARY(&ai)) {
			bson_iter_binary(&ai, &sub, &dlen[i], &data[i]);
			if (dlen[i] == 0 || dlen[i] > BTSTORE_BLOCK_MAX)
				return BT_EPROTO;
		} else if (!BSON_ITER_HOLDS_NULL(&ai))
			return BT_EPROTO;
		i++;
	}
	/* a walk that stopped at a broken element is a broken reply */
	if (ai.err_off != 0)
		return BT_EPROTO;
	*n = i;
	return BT_OK;
}

/* ---- the replicator ----------------------------------------------------------- */

struct job;

/* A token bucket of requests. */
struct pace {
	uint64_t last;		/* ms of the last refill */
	uint32_t milli;		/* tokens x 1000 */
};

struct fresh {
	struct bt_pubkey ns;
	uint64_t at;			/* ms, monotonic; 0: unused */
};

struct btapi_replicator {
	struct btapi_replicator_config cfg;
	struct event_base *base;
	struct bt_pubkey home;
	char home_hex[BT_ID_HEX_LEN + 1];
	struct bt_id self;
	int stopped;
	time_t started;
	uint64_t watch;
	int watching, serving;
	struct event *debounce;
	uint8_t *blk;			/* BTSTORE_BLOCK_MAX */
	/* publishing */
	int dirty, busy;
	uint64_t published_seq, round_seq;
	struct idset pushed;		/* file roots pushed whole */
	struct idset pushed_dirs;	/* directory roots pushed whole */
	struct worklist push;
	size_t push_inflight, push_ok, push_fail, push_window;
	uint64_t push_pause;		/* ms: no new put before */
	struct pace push_pace;
	struct event *push_retry;
	uint8_t rec[BTCORE_RECORD_ENC_MAX];
	size_t rec_len;
	/* fetching */
	uint64_t fetched, from_owner;	/* blocks, since the start */
	struct job *jobs;
	size_t njobs;
	struct fresh fresh[FRESH_MAX];
};

/* A caller waiting for a fetch. */
struct btapi_fetch {
	struct btapi_fetch *next;
	struct job *job;
	btapi_fetch_done_cb done;
	btapi_fetch_progress_cb progress;
	void *arg;
};

/* One fetch of one namespace. */
struct job {
	struct btapi_replicator *r;
	struct job *next;
	struct bt_pubkey ns;
	char hex[BT_ID_HEX_LEN + 1];
	struct btapi_fetch *waiters;
	struct idset seen, dirs_seen;
	struct worklist q, dirs;
	size_t inflight;		/* callbacks to come: gets, calls */
	size_t dht_inflight, window;	/* DHT gets */
	size_t fetched, present, from_owner;
	uint64_t pause;			/* ms: no new DHT get before */
	struct pace pace;
	struct event *retry;
	int done;			/* finished: waiting for gets to end */
	struct event *timer;
	struct event *progress;
	/* the root record: asked of the DHT and of the owner at once */
	int rec_pending;		/* the DHT's answer is to come */
	int drec_pending;		/* the owner's answer is to come */
	int rooted;			/* a record was chosen */
	int dht_status;			/* the DHT's answer, once in */
	uint8_t rec[BTCORE_RECORD_ENC_MAX];	/* chosen; the DHT's before */
	size_t rec_len;
	uint8_t drec[BTCORE_RECORD_ENC_MAX];	/* the owner's */
	size_t drec_len;
	uint64_t seq;
	/* direct fetches from the owner */
	struct bt_id owner;
	int direct;			/* 1 while the owner answers */
	int dslow;			/* calls timed out in a row */
	size_t dinflight, dwindow;	/* calls in flight, at most */
	size_t dids;			/* ids a call, now */
};

struct get {
	struct job *f;
	struct work w;
};

/* One "blocks" call to the owner. */
struct dcall {
	struct job *f;
	size_t n;
	struct work w[DIRECT_IDS_MAX];
};

struct put {
	struct btapi_replicator *r;
	struct work w;
};

/* The pause before attempt @p tries + 1 of a block. */
static uint64_t
retry_delay(int tries)
{
	uint64_t d = (uint64_t)RETRY_MS << (tries > 5 ? 4 : tries - 1);

	return d < RETRY_MAX_MS ? d : RETRY_MAX_MS;
}

/* Arm @p ev to fire at @p at (ms, monotonic). */
static void
arm_at(struct event *ev, uint64_t at)
{
	uint64_t now = btapi_now_ms_(), d = at > now ? at - now : 0;
	struct timeval tv;

	tv.tv_sec = (time_t)(d / 1000);
	tv.tv_usec = (suseconds_t)(d % 1000) * 1000;

	if (!evtimer_pending(ev, NULL))
		(void)evtimer_add(ev, &tv);
}

/* Take a token at @p rate a second: 0, or the ms until one is there. */
static uint64_t
pace_take(struct pace *p, uint32_t rate)
{
	uint64_t now = btapi_now_ms_(), m;

	if (p->last == 0) {
		p->last = now;
		p->milli = RATE_BURST * 1000;
	}
	m = p->milli + (now - p->last) * rate;
	p->milli = m > RATE_BURST * 1000 ? RATE_BURST * 1000 : (uint32_t)m;
	p->last = now;
	if (p->milli < 1000)
		return (1000 - p->milli + rate - 1) / rate;
	p->milli -= 1000;
	return 0;
}

/* The window after a success (+1, up to @p max) or a failure (halved). */
static size_t
window_next(size_t cur, size_t max, int ok)
{
	if (ok)
		return cur < max ? cur + 1 : max;
	return cur > 1 ? cur / 2 : 1;
}

static void publish_start(struct btapi_replicator *r);
static void fetch_pump(struct job *f);

static void rlog(struct btapi_replicator *r, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
rlog(struct btapi_replicator *r, int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	btapi_vlog_(r->cfg.log, r->cfg.log_arg, level, fmt, ap);
	va_end(ap);
}

static struct fresh *
fresh_find(struct btapi_replicator *r, const struct bt_pubkey *ns)
{
	size_t i;

	for (i = 0; i < FRESH_MAX; i++)
		if (r->fresh[i].at != 0 &&
		    memcmp(r->fresh[i].ns.b, ns->b, sizeof(ns->b)) == 0)
			return &r->fresh[i];
	return NULL;
}

/* Remember @p ns as fetched now, in its slot or the oldest. */
static void
fresh_mark(struct btapi_replicator *r, const struct bt_pubkey *ns)
{
	struct fresh *e = fresh_find(r, ns);
	size_t i;

	if (e == NULL) {
		e = &r->fresh[0];
		for (i = 1; i < FRESH_MAX; i++)
			if (r->fresh[i].at < e->at)
				e = &r->fresh[i];
		e->ns = *ns;
	}
	e->at = btapi_now_ms_();
}

/* ---- publishing ----------------------------------------------------------- */

static void
publish_done(struct btapi_replicator *r)
{
	r->busy = 0;
	if (r->dirty && !r->stopped)
		publish_start(r);
}

static void
record_cb(void *arg, const struct btnet_dht_result *res)
{
	struct btapi_replicator *r = arg;

	if (res->status == BT_ECLOSED || r->stopped) {
		r->busy = 0;
		return;
	}
	if (res->status == BT_OK) {
		r->published_seq = r->round_seq;
		rlog(r, BTAPI_LOG_INFO, "published /%s at sequence %llu "
		    "(root record on %u nodes; %zu blocks pushed, %zu failed)",
		    r->home_hex, (unsigned long long)r->round_seq, res->stored,
		    r->push_ok, r->push_fail);
	} else
		rlog(r, BTAPI_LOG_WARN, "publishing /%s at sequence %llu "
		    "failed: %s", r->home_hex,
		    (unsigned long long)r->round_seq,
		    btapi_strerror(res->status));
	publish_done(r);
}

static void
publish_record(struct btapi_replicator *r)
{
	struct bt_record rec;
	int rc;

	if ((rc = btcore_record_decode(&rec, r->rec, r->rec_len)) != BT_OK ||
	    (rc = btnet_dht_record_put(btnet_dht(r->cfg.net), &rec, record_cb,
	    r)) != BT_OK) {
		rlog(r, BTAPI_LOG_WARN, "cannot publish the root record: %s",
		    btapi_strerror(rc));
		publish_done(r);
	}
}

static void push_pump(struct btapi_replicator *r);

static void
put_cb(void *arg, const struct btnet_dht_result *res)
{
	struct put *p = arg;
	struct btapi_replicator *r = p->r;
	int ok = res->status == BT_OK;

	r->push_inflight--;
	if (res->status == BT_ECLOSED || r->stopped) {
		if (r->push_inflight == 0)
			r->busy = 0;
		free(p);
		return;
	}
	if (ok || res->status == BT_ETIMEDOUT)
		r->push_window = window_next(r->push_window, PUSH_WINDOW, ok);
	if (ok) {
		r->push_ok++;
	} else if (res->status == BT_ETIMEDOUT && ++p->w.tries < PUSH_TRIES &&
	    wl_push(&r->push, &p->w.id, p->w.tag) == BT_OK) {
		r->push.w[r->push.n - 1].tries = p->w.tries;
		r->push_pause = btapi_now_ms_() + retry_delay(p->w.tries);
	} else {
		r->push_fail++;
	}
	free(p);
	push_pump(r);
}

static void
push_pump(struct btapi_replicator *r)
{
	struct put *p;
	uint64_t wait;
	size_t len;
	int rc;

	if (r->push_window == 0)
		r->push_window = PUSH_WINDOW;
	if (wl_left(&r->push) > 0 && r->push_pause > btapi_now_ms_()) {
		if (r->push_inflight == 0)
			arm_at(r->push_retry, r->push_pause);
		return;
	}
	while (r->push_inflight < r->push_window && wl_left(&r->push) > 0) {
		if ((wait = pace_take(&r->push_pace, PUSH_RATE)) > 0) {
			arm_at(r->push_retry, btapi_now_ms_() + wait);
			return;
		}
		if ((p = malloc(sizeof(*p))) == NULL) {
			if (r->push_inflight > 0)
				return;	/* again when one ends */
			r->push_fail += wl_left(&r->push);
			r->push.pos = r->push.n;
			break;
		}
		p->r = r;
		p->w = r->push.w[r->push.pos++];
		rc = btstore_block_get(r->cfg.store, &p->w.id, r->blk,
		    BTSTORE_BLOCK_MAX, &len);
		if (rc == BT_OK)
			rc = btnet_dht_put_value(btnet_dht(r->cfg.net), r->blk,
			    len, put_cb, p);
		if (rc == BT_EAGAIN && r->push_inflight > 0) {
			r->push.pos--;	/* again when one ends */
			free(p);
			return;
		}
		if (rc != BT_OK) {
			r->push_fail++;
			free(p);
			continue;
		}
		r->push_inflight++;
	}
	if (r->push_inflight == 0 && wl_left(&r->push) == 0) {
		rlog(r, BTAPI_LOG_DEBUG, "publishing /%s at sequence %llu: "
		    "blocks pushed, now the root record", r->home_hex,
		    (unsigned long long)r->round_seq);
		publish_record(r);
	}
}

/*
 * Collect the blocks of the files and directories reachable from the root
 * directory @p dir that were not pushed before.  Trees are content
 * addressed: an object pushed once is pushed whole, so the walk descends
 * only into what is new.
 */
static int
push_collect(struct btapi_replicator *r, const struct bt_id *dir)
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
publish_start(struct btapi_replicator *r)
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
		rlog(r, BTAPI_LOG_WARN, "cannot read /%s: %s", r->home_hex,
		    btapi_strerror(rc));
		return;
	}
	if (seq == r->published_seq)
		return;
	r->busy = 1;
	r->round_seq = seq;
	r->push_ok = r->push_fail = 0;
	r->push_window = PUSH_WINDOW;
	r->push_pause = 0;
	if ((rc = push_collect(r, &dir)) != BT_OK)
		rlog(r, BTAPI_LOG_WARN, "pushing the blocks of /%s stopped: %s",
		    r->home_hex, rc == BT_ETOOBIG ? "more than "
		    "push_max_blocks" : btapi_strerror(rc));
	rlog(r, BTAPI_LOG_DEBUG, "publishing /%s at sequence %llu: %zu new "
	    "blocks", r->home_hex, (unsigned long long)seq, wl_left(&r->push));
	push_pump(r);
}

static void
push_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct btapi_replicator *r = arg;

	(void)fd;
	(void)what;
	if (!r->stopped)
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
schedule(struct btapi_replicator *r)
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
btapi_replicator_online(struct btapi_replicator *r)
{
	if (r == NULL)
		return;
	r->published_seq = 0;	/* announce the root again */
	schedule(r);
}

/* ---- fetching --------------------------------------------------------------- */

static void
job_unlink(struct job *f)
{
	struct job **p;

	for (p = &f->r->jobs; *p != NULL; p = &(*p)->next)
		if (*p == f) {
			*p = f->next;
			f->r->njobs--;
			return;
		}
}

static void
job_free(struct job *f)
{
	struct btapi_fetch *w;

	if (f->timer != NULL)
		event_free(f->timer);
	if (f->progress != NULL)
		event_free(f->progress);
	if (f->retry != NULL)
		event_free(f->retry);
	while ((w = f->waiters) != NULL) {
		f->waiters = w->next;
		free(w);
	}
	idset_clear(&f->seen);
	idset_clear(&f->dirs_seen);
	wl_free(&f->q);
	wl_free(&f->dirs);
	free(f);
}

static void
job_where(const struct job *f, struct btapi_fetch_progress *p)
{
	p->seq = f->seq;
	p->fetched = f->fetched;
	p->present = f->present;
	p->blocks = f->seen.n;
}

/* Every progress_ms: tell the callers how far it is. */
static void
job_progress(evutil_socket_t fd, short what, void *arg)
{
	struct job *f = arg;
	struct btapi_fetch_progress p;
	struct btapi_fetch *w, *next;

	(void)fd;
	(void)what;
	job_where(f, &p);
	for (w = f->waiters; w != NULL; w = next) {
		next = w->next;
		if (w->progress != NULL)
			w->progress(w->arg, &p);
	}
}

/* No callback is to come: the job may go. */
static int
job_idle(const struct job *f)
{
	return f->inflight == 0 && !f->rec_pending && !f->drec_pending;
}

/* Tell every caller, end the fetch (freed when no get is left). */
static void
fetch_finish(struct job *f, int rc)
{
	struct btapi_fetch *w;

	if (f->done)
		return;
	f->done = 1;
	job_unlink(f);
	if (f->timer != NULL)
		event_del(f->timer);
	if (f->progress != NULL)
		event_del(f->progress);
	if (f->retry != NULL)
		event_del(f->retry);
	if (rc == BT_OK) {
		fresh_mark(f->r, &f->ns);
		rlog(f->r, BTAPI_LOG_INFO, "fetched /%s at sequence %llu: %zu "
		    "blocks from the network (%zu from its owner), %zu "
		    "already here", f->hex, (unsigned long long)f->seq,
		    f->fetched, f->from_owner, f->present);
	} else
		rlog(f->r, BTAPI_LOG_WARN, "fetching /%s failed after %zu "
		    "blocks: %s", f->hex, f->fetched, btapi_strerror(rc));
	/* a callback may cancel only itself, which is gone from the list */
	while ((w = f->waiters) != NULL) {
		f->waiters = w->next;
		w->job = NULL;
		if (w->done != NULL)
			w->done(w->arg, rc);
		free(w);
	}
	if (job_idle(f))
		job_free(f);
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
fetch_have(struct job *f, const struct work *w, const uint8_t *data,
    size_t len)
{
	if (w->tag != T_NODE)
		return BT_OK;
	return node_children(data, len, &f->seen, &f->q);
}

/* A failed block: again at the end of the queue, or the end of the fetch
 * after FETCH_TRIES.  0 when the fetch goes on. */
static int
fetch_again(struct job *f, struct work *w, int rc)
{
	char hex[BT_ID_HEX_LEN + 1];

	if (++w->tries >= FETCH_TRIES) {
		rlog(f->r, BTAPI_LOG_WARN, "block %s of /%s: %s",
		    btcore_id_to_hex(&w->id, hex), f->hex, btapi_strerror(rc));
		fetch_finish(f, rc == BT_ETIMEDOUT ? rc : BT_ENOTFOUND);
		return -1;
	}
	if (wl_push(&f->q, &w->id, w->tag) != BT_OK) {
		fetch_finish(f, BT_ENOMEM);
		return -1;
	}
	f->q.w[f->q.n - 1].tries = w->tries;
	f->q.w[f->q.n - 1].dht = 1;
	f->pause = btapi_now_ms_() + retry_delay(w->tries);
	return 0;
}

static void
get_cb(void *arg, const struct btnet_dht_result *res)
{
	struct get *g = arg;
	struct job *f = g->f;
	struct btapi_replicator *r = f->r;
	int rc;

	f->inflight--;
	f->dht_inflight--;
	if (f->done || res->status == BT_ECLOSED || r->stopped) {
		if (f->done && job_idle(f))
			job_free(f);
		free(g);
		return;
	}
	rc = res->status;
	f->window = window_next(f->window, FETCH_WINDOW, rc == BT_OK);
	if (rc == BT_OK) {
		/* checked against its id by the engine and again here */
		rc = btstore_block_put(r->cfg.store, &g->w.id, res->value,
		    res->value_len, 0);
		if (rc == BT_OK) {
			f->fetched++;
			r->fetched++;
			rc = fetch_have(f, &g->w, res->value, res->value_len);
			if (rc != BT_OK) {
				free(g);
				fetch_finish(f, rc);
				return;
			}
		}
	}
	if (rc != BT_OK && fetch_again(f, &g->w, rc) != 0) {
		free(g);
		return;
	}
	free(g);
	fetch_pump(f);
}

/* Stop asking the owner: what is left comes from the DHT. */
static void
direct_off(struct job *f, const char *why)
{
	if (!f->direct)
		return;
	f->direct = 0;
	rlog(f->r, BTAPI_LOG_INFO, "fetching /%s: the owner %s; the rest "
	    "comes from the DHT", f->hex, why);
}

/* The blocks of a reply to "blocks": stored, and the rest queued again. */
static int
dcall_take(struct job *f, struct dcall *d, const uint8_t *doc, size_t len)
{
	struct btapi_replicator *r = f->r;
	struct btstore_block blocks[DIRECT_IDS_MAX];
	const uint8_t *data[DIRECT_IDS_MAX];
	uint32_t dlen[DIRECT_IDS_MAX];
	size_t i, n = 0, nb = 0, bytes = 0;
	int rc;

	if ((rc = btapi_repl_blocks_reply_(doc, len, d->n, data, dlen,
	    &n)) != BT_OK)
		return rc;
	for (i = 0; i < n; i++)
		if (data[i] != NULL) {
			blocks[nb].id = d->w[i].id;
			blocks[nb].data = data[i];
			blocks[nb].len = dlen[i];
			nb++;
			bytes += dlen[i];
		}
	/* one transaction; each block is checked against its id */
	if (nb > 0 && (rc = btstore_block_put_many(r->cfg.store, blocks, nb, 0,
	    NULL)) != BT_OK)
		return rc;
	for (i = 0; i < d->n; i++) {
		if (i < n && data[i] != NULL) {
			f->fetched++;
			f->from_owner++;
			r->fetched++;
			r->from_owner++;
			if ((rc = fetch_have(f, &d->w[i], data[i],
			    dlen[i])) != BT_OK)
				return rc;
			continue;
		}
		/* null: the owner lacks it; left out: no room, ask again */
		if ((rc = wl_push(&f->q, &d->w[i].id, d->w[i].tag)) != BT_OK)
			return rc;
		f->q.w[f->q.n - 1].tries = d->w[i].tries;
		f->q.w[f->q.n - 1].dht = i < n;
	}
	/* ask for about as many as the last reply held */
	if (n > 0 && nb > 0) {
		i = DIRECT_REPLY_MAX / (bytes / nb + 64);
		f->dids = i < 1 ? 1 : i > DIRECT_IDS_MAX ? DIRECT_IDS_MAX : i;
	}
	return BT_OK;
}

/* Queue the blocks of call @p d again, as they were.  On failure the
 * fetch ends and @p d is freed. */
static int
dcall_requeue(struct job *f, struct dcall *d)
{
	size_t i;

	for (i = 0; i < d->n; i++) {
		if (wl_push(&f->q, &d->w[i].id, d->w[i].tag) != BT_OK) {
			free(d);
			fetch_finish(f, BT_ENOMEM);
			return BT_ENOMEM;
		}
		f->q.w[f->q.n - 1].tries = d->w[i].tries;
	}
	return BT_OK;
}

static void
dcall_cb(void *arg, const struct btnet_rpc_result *res)
{
	struct dcall *d = arg;
	struct job *f = d->f;
	struct btapi_replicator *r = f->r;
	int rc;

	f->inflight--;
	f->dinflight--;
	if (f->done || res->status == BT_ECLOSED || r->stopped) {
		if (f->done && job_idle(f))
			job_free(f);
		free(d);
		return;
	}
	rc = res->status;
	if (rc == BT_OK && (rc = dcall_take(f, d, res->reply,
	    res->len)) != BT_OK && rc != BT_EVERIFY && rc != BT_EPROTO) {
		free(d);
		fetch_finish(f, rc);	/* a local error */
		return;
	}
	if (rc == BT_OK) {
		f->dslow = 0;
		if (f->dwindow < DIRECT_WINDOW)
			f->dwindow++;
	} else {
		/* a busy owner answers late: ask it again, a call less at a
		   time, and give up on it only when that keeps happening */
		if (rc == BT_ETIMEDOUT && ++f->dslow < DIRECT_SLOW_MAX) {
			if (f->dwindow > 1)
				f->dwindow--;
		} else
			direct_off(f, rc == BT_EVERIFY ? "sent a block that is "
			    "not what was asked" : rc == BT_EPROTO ? "sent a "
			    "malformed reply" : btapi_strerror(rc));
		if (dcall_requeue(f, d) != BT_OK)
			return;
	}
	free(d);
	fetch_pump(f);
}

/* Ask the owner for the blocks of @p d. */
static int
dcall_send(struct job *f, struct dcall *d)
{
	uint8_t ids[DIRECT_IDS_MAX * BT_ID_LEN];
	size_t i;
	bson_t b;
	int rc;

	for (i = 0; i < d->n; i++)
		memcpy(ids + i * BT_ID_LEN, d->w[i].id.b, BT_ID_LEN);
	bson_init(&b);
	BSON_APPEND_UTF8(&b, "op", "blocks");
	BSON_APPEND_BINARY(&b, "ids", BSON_SUBTYPE_BINARY, ids,
	    (uint32_t)(d->n * BT_ID_LEN));
	rc = btnet_rpc_call(f->r->cfg.net, &f->owner, BTAPI_REPL_SCOPE,
	    bson_get_data(&b), b.len, dcall_cb, d);
	bson_destroy(&b);
	if (rc == BT_OK) {
		f->inflight++;
		f->dinflight++;
	}
	return rc;
}

/*
 * Send the call @p d (which it takes).  0: sent, or its blocks queued
 * again (for the DHT when the owner cannot be asked); 1: stop pumping
 * until a callback (too many requests, or the fetch ended).
 */
static int
dcall_flush(struct job *f, struct dcall *d)
{
	int rc;

	if ((rc = dcall_send(f, d)) == BT_OK)
		return 0;
	if (dcall_requeue(f, d) != BT_OK)
		return 1;
	free(d);
	if (rc == BT_EAGAIN && f->inflight > 0)
		return 1;
	direct_off(f, btapi_strerror(rc));
	return 0;
}

static void
fetch_import(struct job *f)
{
	int rc;

	rc = btstore_ns_import(f->r->cfg.store, f->rec, f->rec_len);
	if (rc == BT_ESTALE)
		rc = BT_OK;	/* something newer arrived meanwhile */
	fetch_finish(f, rc);
}

/* Start a DHT get of @p w: 0 started (or failed the fetch: f->done), 1
 * not now (window, pace or pause: try again later). */
static int
fetch_dht(struct job *f, const struct work *w)
{
	struct btapi_replicator *r = f->r;
	struct get *g;
	uint64_t wait;
	int rc;

	if (f->dht_inflight >= f->window)
		return 1;
	if (f->pause > btapi_now_ms_()) {
		arm_at(f->retry, f->pause);
		return 1;
	}
	if ((wait = pace_take(&f->pace, FETCH_RATE)) > 0) {
		arm_at(f->retry, btapi_now_ms_() + wait);
		return 1;
	}
	rc = BT_ENOMEM;
	if ((g = malloc(sizeof(*g))) == NULL ||
	    (rc = btnet_dht_get_value(btnet_dht(r->cfg.net), &w->id, get_cb,
	    g)) != BT_OK) {
		free(g);
		if (rc == BT_EAGAIN && f->inflight > 0)
			return 1;	/* again when one ends */
		fetch_finish(f, rc);
		return 0;
	}
	g->f = f;
	g->w = *w;
	f->inflight++;
	f->dht_inflight++;
	return 0;
}

static void
fetch_pump(struct job *f)
{
	struct btapi_replicator *r = f->r;
	struct dcall *d = NULL;
	struct work w;
	size_t len;
	int rc;

	while (!f->done) {
		while (wl_left(&f->q) > 0) {
			w = f->q.w[f->q.pos];
			if (f->seen.n > r->cfg.fetch_max_blocks) {
				free(d);
				fetch_finish(f, BT_ETOOBIG);
				return;
			}
			rc = btstore_block_get(r->cfg.store, &w.id, r->blk,
			    BTSTORE_BLOCK_MAX, &len);
			if (rc == BT_OK) {
				f->q.pos++;
				if (w.tries == 0)
					f->present++;
				if ((rc = fetch_have(f, &w, r->blk,
				    len)) != BT_OK) {
					free(d);
					fetch_finish(f, rc);
					return;
				}
				continue;
			}
			if (rc != BT_ENOTFOUND && rc != BT_ECORRUPT) {
				free(d);
				fetch_finish(f, rc);
				return;
			}
			if (f->direct && !w.dht) {
				if (d == NULL && f->dinflight >= f->dwindow)
					break;	/* when a call ends */
				if (d == NULL) {
					if ((d = malloc(sizeof(*d))) == NULL) {
						fetch_finish(f, BT_ENOMEM);
						return;
					}
					d->f = f;
					d->n = 0;
				}
				d->w[d->n++] = w;
				f->q.pos++;
				if (d->n < f->dids)
					continue;
			} else {
				if (fetch_dht(f, &w) != 0)
					break;
				if (f->done) {
					free(d);
					return;
				}
				f->q.pos++;
				continue;
			}
			/* a full call */
			rc = dcall_flush(f, d);
			d = NULL;
			if (rc != 0)
				return;
		}
		if (d != NULL) {
			rc = dcall_flush(f, d);
			d = NULL;
			if (rc != 0)
				return;
			continue;	/* sent, or queued again for the DHT */
		}
		if (f->inflight > 0 || wl_left(&f->q) > 0)
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
fetch_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	fetch_pump(arg);
}

/* Fetch from the root record @p buf (@p len bytes): decode and verify it,
 * and walk from its directory when it is newer than the store's. */
static void
root_start(struct job *f, const uint8_t *buf, size_t len)
{
	struct btapi_replicator *r = f->r;
	struct bt_record rec;
	struct bt_id dir;
	uint64_t have = 0;
	int rc;

	f->rooted = 1;
	if (buf != f->rec)
		memcpy(f->rec, buf, len);
	f->rec_len = len;
	if ((rc = btcore_record_decode(&rec, f->rec, f->rec_len)) != BT_OK) {
		fetch_finish(f, rc);
		return;
	}
	if (memcmp(rec.pub.b, f->ns.b, sizeof(f->ns.b)) != 0 ||
	    rec.key_len != sizeof(BTSTORE_NS_ROOT_KEY) - 1 ||
	    memcmp(rec.key, BTSTORE_NS_ROOT_KEY, rec.key_len) != 0 ||
	    rec.value_len != 1 + BT_ID_LEN || rec.value[0] != 1) {
		fetch_finish(f, BT_EFORMAT);
		return;
	}
	f->seq = rec.seq;
	memcpy(dir.b, rec.value + 1, BT_ID_LEN);
	rc = btstore_ns_root(r->cfg.store, &f->ns, NULL, 0, NULL, &have, NULL);
	if ((rc == BT_OK || rc == BT_ERANGE) && have >= f->seq) {
		fetch_finish(f, BT_OK);
		return;
	}
	rlog(r, BTAPI_LOG_INFO, "fetching /%s at sequence %llu%s", f->hex,
	    (unsigned long long)f->seq, f->direct ? " from its owner" : "");
	if (idset_add(&f->seen, &dir) < 0 ||
	    idset_add(&f->dirs_seen, &dir) < 0 ||
	    wl_push(&f->q, &dir, T_NODE) != BT_OK ||
	    wl_push(&f->dirs, &dir, 0) != BT_OK) {
		fetch_finish(f, BT_ENOMEM);
		return;
	}
	fetch_pump(f);
}

/*
 * Choose the root record once the answers allow: the owner's when it
 * gave one (it signs every sequence, so it holds the newest), else the
 * DHT's once that is in.
 */
static void
root_decide(struct job *f)
{
	if (f->rooted || f->done)
		return;
	if (f->direct) {
		if (f->drec_pending)
			return;
		root_start(f, f->drec, f->drec_len);
		return;
	}
	if (f->rec_pending)
		return;
	if (f->dht_status != BT_OK) {
		fetch_finish(f, f->dht_status);
		return;
	}
	root_start(f, f->rec, f->rec_len);
}

static void
root_cb(void *arg, const struct btnet_dht_result *res)
{
	struct job *f = arg;
	struct btapi_replicator *r = f->r;

	f->rec_pending = 0;
	if (f->done || res->status == BT_ECLOSED || r->stopped) {
		if (f->done && job_idle(f))
			job_free(f);
		return;
	}
	if (f->rooted)
		return;		/* the owner answered first */
	f->dht_status = res->status;
	if (res->status == BT_OK) {
		if (res->value_len > sizeof(f->rec) || res->record == NULL)
			f->dht_status = BT_EFORMAT;
		else {
			memcpy(f->rec, res->value, res->value_len);
			f->rec_len = res->value_len;
		}
	}
	root_decide(f);
}

/* The owner's answer to "root". */
static void
droot_cb(void *arg, const struct btnet_rpc_result *res)
{
	struct job *f = arg;
	struct btapi_replicator *r = f->r;
	struct bt_record rec;
	const uint8_t *data = NULL;
	size_t len = 0;
	int rc;

	f->drec_pending = 0;
	if (f->done || res->status == BT_ECLOSED || r->stopped) {
		if (f->done && job_idle(f))
			job_free(f);
		return;
	}
	rc = res->status;
	if (rc == BT_OK)
		rc = btapi_repl_root_reply_(res->reply, res->len, &f->ns, &rec,
		    &data, &len);
	if (rc != BT_OK) {
		direct_off(f, rc == BTNET_EREMOTE && res->code ==
		    BT_ENOTFOUND ? "does not hold it" : rc == BTNET_EREMOTE ?
		    res->text : rc == BT_EPROTO ? "sent a malformed root "
		    "record" : btapi_strerror(rc));
	} else {
		memcpy(f->drec, data, len);
		f->drec_len = len;
	}
	root_decide(f);
}

/* Ask the owner for the namespace's root record. */
static int
droot_ask(struct job *f)
{
	bson_t b;
	int rc;

	bson_init(&b);
	BSON_APPEND_UTF8(&b, "op", "root");
	BSON_APPEND_BINARY(&b, "ns", BSON_SUBTYPE_BINARY, f->ns.b,
	    sizeof(f->ns.b));
	rc = btnet_rpc_call(f->r->cfg.net, &f->owner, BTAPI_REPL_SCOPE,
	    bson_get_data(&b), b.len, droot_cb, f);
	bson_destroy(&b);
	if (rc == BT_OK)
		f->drec_pending = 1;
	return rc;
}

int
btapi_replicator_stale(struct btapi_replicator *r, const struct bt_pubkey *ns)
{
	struct fresh *e;

	if (r == NULL || ns == NULL ||
	    memcmp(ns->b, r->home.b, sizeof(ns->b)) == 0)
		return 0;
	e = fresh_find(r, ns);
	return e == NULL || btapi_now_ms_() - e->at >= r->cfg.fresh_ms;
}

int
btapi_replicator_fetch(struct btapi_replicator *r, const struct bt_pubkey *ns,
    btapi_fetch_done_cb done, btapi_fetch_progress_cb progress, void *arg,
    struct btapi_fetch **out)
{
	struct btapi_fetch *w = NULL;
	struct job *f = NULL;
	struct timeval tv;
	int rc = BT_EINVAL;

	if (out != NULL)
		*out = NULL;
	if (r == NULL || ns == NULL || done == NULL ||
	    memcmp(ns->b, r->home.b, sizeof(ns->b)) == 0)
		goto out;
	rc = BT_ESTATE;
	if (r->stopped)
		goto out;
	rc = BTAPI_EOFFLINE;
	if (!btnet_is_online(r->cfg.net))
		goto out;
	rc = BT_ENOMEM;
	if ((w = calloc(1, sizeof(*w))) == NULL)
		goto out;
	w->done = done;
	w->progress = progress;
	w->arg = arg;
	for (f = r->jobs; f != NULL; f = f->next)
		if (memcmp(f->ns.b, ns->b, sizeof(ns->b)) == 0)
			break;
	if (f == NULL) {
		if ((f = calloc(1, sizeof(*f))) == NULL ||
		    (f->timer = evtimer_new(r->base, fetch_timeout,
		    f)) == NULL ||
		    (f->progress = event_new(r->base, -1, EV_PERSIST,
		    job_progress, f)) == NULL ||
		    (f->retry = evtimer_new(r->base, fetch_retry_cb,
		    f)) == NULL)
			goto out;
		f->r = r;
		f->ns = *ns;
		f->window = FETCH_WINDOW;
		btcore_id_to_hex((const struct bt_id *)(const void *)ns,
		    f->hex);
		f->dids = DIRECT_IDS_FIRST;
		f->dwindow = DIRECT_WINDOW;
		if ((rc = btcore_id_hash(&f->owner, ns->b,
		    sizeof(ns->b))) != BT_OK)
			goto out;
		if ((rc = btnet_dht_record_get(btnet_dht(r->cfg.net), ns,
		    BTSTORE_NS_ROOT_KEY, sizeof(BTSTORE_NS_ROOT_KEY) - 1,
		    root_cb, f)) != BT_OK)
			goto out;
		f->rec_pending = 1;
		/* the owner too (a node's namespace is its key's) */
		f->direct = droot_ask(f) == BT_OK;
		tv.tv_sec = (time_t)(r->cfg.fetch_timeout_ms / 1000);
		tv.tv_usec = (suseconds_t)(r->cfg.fetch_timeout_ms % 1000) *
		    1000;
		(void)evtimer_add(f->timer, &tv);
		tv.tv_sec = (time_t)(r->cfg.progress_ms / 1000);
		tv.tv_usec = (suseconds_t)(r->cfg.progress_ms % 1000) * 1000;
		(void)event_add(f->progress, &tv);
		f->next = r->jobs;
		r->jobs = f;
		r->njobs++;
	}
	w->job = f;
	w->next = f->waiters;
	f->waiters = w;
	if (out != NULL)
		*out = w;
	w = NULL;
	f = NULL;
	rc = BT_OK;
out:
	free(w);
	if (f != NULL)
		job_free(f);	/* made here, never started */
	return rc;
}

void
btapi_replicator_cancel(struct btapi_fetch *w)
{
	struct btapi_fetch **p;

	if (w == NULL)
		return;
	if (w->job != NULL)
		for (p = &w->job->waiters; *p != NULL; p = &(*p)->next)
			if (*p == w) {
				*p = w->next;
				break;
			}
	free(w);
}

/* ---- the "node" scope ------------------------------------------------------ */

static int
status_doc(struct btapi_replicator *r, bson_t *b)
{
	char hex[BT_ID_HEX_LEN + 2];
	uint64_t blocks = 0, bytes = 0, held_bytes = 0;
	size_t held = 0;

	if (btstore_block_usage(r->cfg.store, &blocks, &bytes) != BT_OK)
		blocks = bytes = 0;
	btapi_dhtstore_count(r->cfg.dhtstore, &held, &held_bytes);
	BSON_APPEND_UTF8(b, "version", r->cfg.version != NULL ?
	    r->cfg.version : btapi_version());
	BSON_APPEND_UTF8(b, "node", btcore_id_to_hex(&r->self, hex));
	hex[0] = '/';
	memcpy(hex + 1, r->home_hex, sizeof(r->home_hex));
	BSON_APPEND_UTF8(b, "home", hex);
	BSON_APPEND_BOOL(b, "online", btnet_is_online(r->cfg.net));
	BSON_APPEND_INT32(b, "peers",
	    (int32_t)btnet_peers(r->cfg.net, NULL, 0));
	BSON_APPEND_INT32(b, "replication", (int32_t)r->cfg.replication);
	BSON_APPEND_UTF8(b, "keystore", r->cfg.keystore_tpm ? "tpm" :
	    "software");
	BSON_APPEND_INT64(b, "blocks", (int64_t)blocks);
	BSON_APPEND_INT64(b, "block_bytes", (int64_t)bytes);
	BSON_APPEND_INT64(b, "dht_items", (int64_t)held);
	BSON_APPEND_INT64(b, "dht_bytes", (int64_t)held_bytes);
	BSON_APPEND_INT64(b, "published_seq", (int64_t)r->published_seq);
	BSON_APPEND_INT32(b, "fetches", (int32_t)r->njobs);
	BSON_APPEND_INT64(b, "fetched_blocks", (int64_t)r->fetched);
	BSON_APPEND_INT64(b, "fetched_from_owner", (int64_t)r->from_owner);
	BSON_APPEND_INT64(b, "uptime", (int64_t)(time(NULL) - r->started));
	return BT_OK;
}

/* {op: "root", ns: <32 bytes>}: the namespace's root record, as held. */
static int
root_doc(struct btapi_replicator *r, const uint8_t *args, size_t len,
    bson_t *b)
{
	uint8_t rec[BTCORE_RECORD_ENC_MAX];
	struct bt_pubkey ns;
	size_t rlen;
	int rc;

	if ((rc = btapi_repl_root_args_(args, len, &ns)) != BT_OK)
		return rc;
	if ((rc = btstore_ns_root(r->cfg.store, &ns, rec, sizeof(rec), &rlen,
	    NULL, NULL)) != BT_OK)
		return rc;
	BSON_APPEND_BINARY(b, "rec", BSON_SUBTYPE_BINARY, rec,
	    (uint32_t)rlen);
	return BT_OK;
}

/*
 * {op: "blocks", ids: <1..DIRECT_IDS_MAX ids of 32 bytes>}: {blocks:
 * [...]}, in the order asked, each the block's bytes or null when this
 * node does not hold it; the array ends early when the next block would
 * not fit one message.  Blocks are content addressed and public: any
 * stored block is served (verified as it is read).
 */
static int
blocks_doc(struct btapi_replicator *r, const uint8_t *args, size_t len,
    bson_t *b)
{
	struct btstore_view *v = NULL;
	struct bt_id id;
	const uint8_t *ids;
	const void *data;
	size_t i, n, dlen, total = 0;
	bson_t arr;
	char key[16];
	const char *k;
	int rc;

	if ((rc = btapi_repl_blocks_args_(args, len, &ids, &n)) != BT_OK)
		return rc;
	if ((rc = btstore_view_begin(r->cfg.store, &v)) != BT_OK)
		return rc;
	BSON_APPEND_ARRAY_BEGIN(b, "blocks", &arr);
	for (i = 0; i < n; i++) {
		memcpy(id.b, ids + i * BT_ID_LEN, BT_ID_LEN);
		rc = btstore_view_block_get(v, &id, &data, &dlen);
		if (rc != BT_OK && rc != BT_ENOTFOUND && rc != BT_ECORRUPT)
			break;
		if (rc == BT_OK && total + dlen + 64 > DIRECT_REPLY_MAX)
			break;		/* asked again */
		(void)bson_uint32_to_string((uint32_t)i, &k, key, sizeof(key));
		if (rc == BT_OK) {
			BSON_APPEND_BINARY(&arr, k, BSON_SUBTYPE_BINARY, data,
			    (uint32_t)dlen);
			total += dlen + 64;
		} else
			BSON_APPEND_NULL(&arr, k);
		rc = BT_OK;
	}
	bson_append_array_end(b, &arr);
	btstore_view_end(v);
	return rc == BT_ENOTFOUND || rc == BT_ECORRUPT ? BT_OK : rc;
}

int
btapi_replicator_answer(struct btapi_replicator *r, const struct bt_id *from,
    const uint8_t *args, size_t len, uint8_t **reply, size_t *rlen)
{
	bson_iter_t it;
	bson_t doc, b;
	const char *op = NULL;
	int rc = BT_EINVAL;

	if (reply != NULL)
		*reply = NULL;
	if (rlen != NULL)
		*rlen = 0;
	if (r == NULL || from == NULL || args == NULL || reply == NULL ||
	    rlen == NULL)
		return BT_EINVAL;
	if (!bson_init_static(&doc, args, len))
		return BT_EFORMAT;
	if (bson_iter_init_find(&it, &doc, "op") && BSON_ITER_HOLDS_UTF8(&it))
		op = bson_iter_utf8(&it, NULL);
	if (op == NULL)
		return BT_EFORMAT;
	bson_init(&b);
	if (strcmp(op, "status") == 0)
		rc = status_doc(r, &b);
	else if (strcmp(op, "root") == 0)
		rc = root_doc(r, args, len, &b);
	else if (strcmp(op, "blocks") == 0)
		rc = blocks_doc(r, args, len, &b);
	else
		rc = BT_EUNSUPPORTED;
	if (rc == BT_OK) {
		rc = BT_ENOMEM;
		if ((*reply = malloc(b.len)) != NULL) {
			memcpy(*reply, bson_get_data(&b), b.len);
			*rlen = b.len;
			rc = BT_OK;
		}
	}
	bson_destroy(&b);
	return rc;
}

static void
net_rpc(void *arg, struct btnet_rpc_req *req, const struct bt_id *from,
    const char *scope, const uint8_t *args, size_t len)
{
	struct btapi_replicator *r = arg;
	uint8_t *reply = NULL;
	size_t rlen = 0;
	int rc;

	(void)scope;
	rc = btapi_replicator_answer(r, from, args, len, &reply, &rlen);
	if (rc == BT_OK)
		rc = btnet_rpc_reply(req, reply, rlen);
	else
		rc = btnet_rpc_error(req, rc, rc == BT_EUNSUPPORTED ?
		    "unknown op: the scope \"node\" answers status, root "
		    "and blocks" :
		    btapi_strerror(rc));
	if (rc != BT_OK)
		rlog(r, BTAPI_LOG_DEBUG, "could not answer a node request: %s",
		    btapi_strerror(rc));
	free(reply);
}

/* ---- life ----------------------------------------------------------------- */

void
btapi_replicator_config_init(struct btapi_replicator_config *cfg)
{
	if (cfg == NULL)
		return;
	memset(cfg, 0, sizeof(*cfg));
	cfg->fetch_max_blocks = 1u << 20;
	cfg->fetch_timeout_ms = 300000;
	cfg->push_max_blocks = 1u << 20;
	cfg->fresh_ms = 5000;
	cfg->progress_ms = 1000;
	cfg->replication = BT_REPLICATION_DEFAULT;
}

int
btapi_replicator_open(struct btapi_replicator **out, struct event_base *base,
    const struct btapi_replicator_config *cfg)
{
	struct btapi_replicator *r = NULL;
	char topic[BT_ID_HEX_LEN + 2];
	int rc = BT_EINVAL;

	if (out != NULL)
		*out = NULL;
	if (out == NULL || base == NULL || cfg == NULL || cfg->store == NULL ||
	    cfg->net == NULL || cfg->signer == NULL ||
	    cfg->fetch_max_blocks == 0 || cfg->fetch_timeout_ms == 0 ||
	    cfg->push_max_blocks == 0 || cfg->progress_ms == 0)
		goto out;
	rc = BT_ENOMEM;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		goto out;
	r->cfg = *cfg;
	r->base = base;
	r->started = time(NULL);
	r->home = cfg->signer->pub;
	btcore_id_to_hex((const struct bt_id *)(const void *)&r->home,
	    r->home_hex);
	btnet_local_id(cfg->net, &r->self);
	if ((r->blk = malloc(BTSTORE_BLOCK_MAX)) == NULL ||
	    (r->debounce = evtimer_new(base, debounce_cb, r)) == NULL ||
	    (r->push_retry = evtimer_new(base, push_retry_cb, r)) == NULL)
		goto out;
	rc = btstore_ns_create(cfg->store, cfg->signer);
	if (rc != BT_OK && rc != BT_EEXIST)
		goto out;
	topic[0] = '/';
	memcpy(topic + 1, r->home_hex, sizeof(r->home_hex));
	if ((rc = btstore_watch(cfg->store, BTSTORE_TOPIC_PATH, topic,
	    strlen(topic), watch_cb, r, &r->watch)) != BT_OK)
		goto out;
	r->watching = 1;
	if ((rc = btnet_rpc_handle(cfg->net, BTAPI_REPL_SCOPE, net_rpc,
	    r)) != BT_OK)
		goto out;
	r->serving = 1;
	*out = r;
	r = NULL;
	rc = BT_OK;
out:
	btapi_replicator_free(r);
	return rc;
}

void
btapi_replicator_stop(struct btapi_replicator *r)
{
	if (r == NULL || r->stopped)
		return;
	r->stopped = 1;
	if (r->watching &&
	    btstore_unwatch(r->cfg.store, r->watch) != BT_OK)
		rlog(r, BTAPI_LOG_DEBUG, "the watch was gone already");
	r->watching = 0;
	if (r->serving &&
	    btnet_rpc_handle(r->cfg.net, BTAPI_REPL_SCOPE, NULL, NULL) != BT_OK)
		rlog(r, BTAPI_LOG_DEBUG, "the scope was gone already");
	r->serving = 0;
	if (r->debounce != NULL)
		event_del(r->debounce);
	if (r->push_retry != NULL)
		event_del(r->push_retry);
	/* every caller hears BT_ECLOSED; gets in flight end with the
	   network */
	while (r->jobs != NULL)
		fetch_finish(r->jobs, BT_ECLOSED);
}

void
btapi_replicator_free(struct btapi_replicator *r)
{
	if (r == NULL)
		return;
	btapi_replicator_stop(r);
	if (r->debounce != NULL)
		event_free(r->debounce);
	if (r->push_retry != NULL)
		event_free(r->push_retry);
	idset_clear(&r->pushed);
	idset_clear(&r->pushed_dirs);
	wl_free(&r->push);
	free(r->blk);
	free(r);
}
