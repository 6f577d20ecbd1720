/*
 * feedsync.c - feeds of other nodes over the network: the "feed" scope,
 * pulling followed feeds from their writers into the store, announcing
 * the node's own heads on pubsub (see bt/apifeed.h).
 *
 * Each feed the synchroniser deals with has a struct sfeed.  Work on it
 * goes in rounds: ask a head (the writer first, then other holders),
 * take it in, then ask the entries missing below it, a window of
 * requests at a time, and take them in.  Whatever wants a round (a
 * follow, an announcement, the poll timer, a fetch) sets "again" or
 * queues a waiter and kicks the feed; the kick event, run from the loop,
 * starts the next round or frees an idle feed, so that no callback ever
 * frees the feed under the code that called it.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bson/bson.h>
#include <event2/event.h>

#include <bt/apifeed.h>
#include <bt/apiproto.h>
#include <bt/apirepl.h>
#include <bt/feed.h>
#include <bt/log.h>
#include <bt/merkle.h>
#include <bt/net.h>
#include <bt/pubsub.h>
#include <bt/store.h>

#include "btapi-internal.h"
#include "feedsync-internal.h"

/* BSON bytes of one entry in a reply besides its proof and payload (key,
 * sub-document, field names and headers: 45), with a margin. */
#define ENTRY_OVERHEAD	64
/* ... of one head in the heads array (145), and of the document. */
#define HEAD_OVERHEAD	160
#define DOC_OVERHEAD	64
/* Ranges asked again in one round (a short reply leaves one). */
#define RETRY_MAX	BTAPI_FEEDSYNC_WINDOW_MAX
/* Other holders asked when the writer cannot be reached. */
#define ALTS_MAX	8

static const char chan_domain[] = "BlockTree feed channel v1";	/* + NUL */

/* ---- the decoders ------------------------------------------------------- */

/* An int64 >= 0. */
static int
get_count(const bson_iter_t *it, uint64_t *v)
{
	int64_t x;

	if (!BSON_ITER_HOLDS_INT64(it))
		return BT_EFORMAT;
	x = bson_iter_int64(it);
	if (x < 0)
		return BT_EFORMAT;
	*v = (uint64_t)x;
	return BT_OK;
}

/* Start a walk over exactly @p len bytes of one BSON document. */
static int
doc_iter(bson_iter_t *it, const uint8_t *doc, size_t len)
{
	if (doc == NULL || len < 5 || len > BT_MSG_MAX || doc[len - 1] != 0 ||
	    !bson_iter_init_from_data(it, doc, (size_t)len))
		return BT_EFORMAT;
	return BT_OK;
}

/* The embedded document or array at @p it (its final byte checked, which
 * libbson does not do). */
static int
sub_doc(const bson_iter_t *it, int array, const uint8_t **doc, size_t *len)
{
	uint32_t n = 0;

	*doc = NULL;
	if (array ? !BSON_ITER_HOLDS_ARRAY(it) : !BSON_ITER_HOLDS_DOCUMENT(it))
		return BT_EFORMAT;
	if (array)
		bson_iter_array(it, &n, doc);
	else
		bson_iter_document(it, &n, doc);
	if (*doc == NULL || n < 5 || (*doc)[n - 1] != 0)
		return BT_EFORMAT;
	*len = n;
	return BT_OK;
}

/* Is the key of array element @p i the decimal @p i? */
static int
elem_key(const bson_iter_t *it, size_t i)
{
	char key[24];
	const char *k;

	bson_uint32_to_string((uint32_t)i, &k, key, sizeof(key));
	return i <= UINT32_MAX && strcmp(bson_iter_key(it), k) == 0;
}

int
btapi_fsargs_decode_(struct btapi_fsargs_ *a, const uint8_t *doc, size_t len)
{
	bson_iter_t it;
	const char *k, *s;
	const uint8_t *p;
	size_t n;
	uint32_t seen = 0, bit;
	uint64_t *v;
	int rc = BT_EFORMAT, unknown = 0;

	memset(a, 0, sizeof(*a));
	if (doc_iter(&it, doc, len) != BT_OK)
		goto out;
	while (bson_iter_next(&it)) {
		k = bson_iter_key(&it);
		v = NULL;
		if (strcmp(k, "op") == 0) {
			bit = 1u << 8;
			if (btapi_bson_str_(&it, &s, &n) != BT_OK)
				goto out;
			if (strcmp(s, "head") == 0)
				a->op = BTAPI_FSOP_HEAD_;
			else if (strcmp(s, "entries") == 0)
				a->op = BTAPI_FSOP_ENTRIES_;
			else
				unknown = 1;
		} else if (strcmp(k, "feed") == 0) {
			bit = 1u << 9;
			if (btapi_bson_bin_(&it, &p, &n) != BT_OK || n != 32)
				goto out;
			memcpy(a->feed.b, p, 32);
		} else if (strcmp(k, "have") == 0) {
			bit = BTAPI_FSF_HAVE_;
			v = &a->have;
		} else if (strcmp(k, "from") == 0) {
			bit = BTAPI_FSF_FROM_;
			v = &a->from;
		} else if (strcmp(k, "max") == 0) {
			bit = BTAPI_FSF_MAX_;
			v = &a->max;
		} else if (strcmp(k, "at") == 0) {
			bit = BTAPI_FSF_AT_;
			v = &a->at;
		} else {
			goto out;
		}
		if (seen & bit)
			goto out;
		seen |= bit;
		if (v != NULL && get_count(&it, v) != BT_OK)
			goto out;
	}
	if (it.err_off != 0 || !(seen & (1u << 8)))
		goto out;
	if (unknown) {
		rc = BT_EUNSUPPORTED;
		goto out;
	}
	if (!(seen & (1u << 9)))
		goto out;
	a->has = seen & 0xff;
	if (a->op == BTAPI_FSOP_HEAD_) {
		if (a->has & ~BTAPI_FSF_HAVE_)
			goto out;
	} else {
		if (!(a->has & BTAPI_FSF_FROM_) ||
		    (a->has & ~(BTAPI_FSF_FROM_ | BTAPI_FSF_MAX_ |
		    BTAPI_FSF_AT_)))
			goto out;
		if ((a->has & BTAPI_FSF_MAX_) && a->max == 0)
			goto out;
	}
	rc = BT_OK;
out:
	if (rc != BT_OK)
		memset(a, 0, sizeof(*a));
	return rc;
}

int
btapi_fshead_decode_(const uint8_t *doc, size_t len,
    const struct bt_pubkey *feed, struct bt_log_head *head,
    struct bt_merkle_proof *proof, int *has_proof)
{
	bson_iter_t it;
	const char *k;
	const uint8_t *hp = NULL, *pp = NULL;
	size_t hl = 0, pl = 0;
	int rc = BT_EFORMAT;

	memset(head, 0, sizeof(*head));
	memset(proof, 0, sizeof(*proof));
	*has_proof = 0;
	if (doc_iter(&it, doc, len) != BT_OK)
		goto out;
	while (bson_iter_next(&it)) {
		k = bson_iter_key(&it);
		if (strcmp(k, "head") == 0 && hp == NULL) {
			if (btapi_bson_bin_(&it, &hp, &hl) != BT_OK)
				goto out;
		} else if (strcmp(k, "proof") == 0 && pp == NULL) {
			if (btapi_bson_bin_(&it, &pp, &pl) != BT_OK)
				goto out;
		} else {
			goto out;
		}
	}
	if (it.err_off != 0 || hp == NULL)
		goto out;
	rc = btcore_log_head_decode(head, hp, hl);
	if (rc == BT_ETRUNC || rc == BT_EINVAL)
		rc = BT_EFORMAT;
	if (rc != BT_OK)
		goto out;
	rc = BT_EVERIFY;
	if (memcmp(head->feed.b, feed->b, 32) != 0)
		goto out;
	if (pp != NULL) {
		rc = BT_EFORMAT;
		if (btcore_merkle_proof_decode(proof, pp, pl) != BT_OK)
			goto out;
		rc = BT_EVERIFY;
		if (proof->kind != BTCORE_MERKLE_CONSISTENCY ||
		    proof->size != head->length || proof->first >= proof->size)
			goto out;
		*has_proof = 1;
	}
	rc = BT_OK;
out:
	if (rc != BT_OK) {
		memset(head, 0, sizeof(*head));
		memset(proof, 0, sizeof(*proof));
		*has_proof = 0;
	}
	return rc;
}

/* One entry of an "entries" reply, as read. */
struct fsent {
	int32_t h;
	uint64_t i;
	const uint8_t *p, *d;
	size_t plen, dlen;
};

static int
entry_fields(const bson_iter_t *at, struct fsent *v)
{
	bson_iter_t it;
	const uint8_t *doc;
	const char *k;
	size_t len;
	uint32_t seen = 0, bit;

	memset(v, 0, sizeof(*v));
	if (sub_doc(at, 0, &doc, &len) != BT_OK ||
	    doc_iter(&it, doc, len) != BT_OK)
		return BT_EFORMAT;
	while (bson_iter_next(&it)) {
		k = bson_iter_key(&it);
		if (strcmp(k, "h") == 0) {
			bit = 1;
			if (!BSON_ITER_HOLDS_INT32(&it))
				return BT_EFORMAT;
			v->h = bson_iter_int32(&it);
		} else if (strcmp(k, "i") == 0) {
			bit = 2;
			if (get_count(&it, &v->i) != BT_OK)
				return BT_EFORMAT;
		} else if (strcmp(k, "p") == 0) {
			bit = 4;
			if (btapi_bson_bin_(&it, &v->p, &v->plen) != BT_OK)
				return BT_EFORMAT;
		} else if (strcmp(k, "d") == 0) {
			bit = 8;
			if (btapi_bson_bin_(&it, &v->d, &v->dlen) != BT_OK)
				return BT_EFORMAT;
		} else {
			return BT_EFORMAT;
		}
		if (seen & bit)
			return BT_EFORMAT;
		seen |= bit;
	}
	if (it.err_off != 0 || seen != 15)
		return BT_EFORMAT;
	return BT_OK;
}

int
btapi_fsentries_decode_(const uint8_t *doc, size_t len,
    const struct bt_pubkey *feed, uint64_t start, uint64_t end,
    btapi_fsentry_fn_ fn, void *arg, size_t *n)
{
	struct bt_log_head heads[BTAPI_FEEDSYNC_HEADS_MAX];
	struct bt_log_entry e;
	struct fsent v;
	bson_iter_t it, in;
	const uint8_t *hdoc = NULL, *edoc = NULL, *p;
	const char *k;
	size_t hlen = 0, elen = 0, nh = 0, ne = 0, pl;
	uint64_t prev = 0;
	int rc = BT_EFORMAT, need, pass;

	*n = 0;
	if (doc_iter(&it, doc, len) != BT_OK)
		return BT_EFORMAT;
	while (bson_iter_next(&it)) {
		k = bson_iter_key(&it);
		if (strcmp(k, "heads") == 0 && hdoc == NULL) {
			if (sub_doc(&it, 1, &hdoc, &hlen) != BT_OK)
				return BT_EFORMAT;
		} else if (strcmp(k, "entries") == 0 && edoc == NULL) {
			if (sub_doc(&it, 1, &edoc, &elen) != BT_OK)
				return BT_EFORMAT;
		} else {
			return BT_EFORMAT;
		}
	}
	if (it.err_off != 0 || hdoc == NULL || edoc == NULL)
		return BT_EFORMAT;
	/* the heads: each signed, each of this feed */
	if (doc_iter(&in, hdoc, hlen) != BT_OK)
		return BT_EFORMAT;
	while (bson_iter_next(&in)) {
		if (nh >= BTAPI_FEEDSYNC_HEADS_MAX)
			return BT_ERANGE;
		if (!elem_key(&in, nh) ||
		    btapi_bson_bin_(&in, &p, &pl) != BT_OK)
			return BT_EFORMAT;
		rc = btcore_log_head_decode(&heads[nh], p, pl);
		if (rc == BT_ETRUNC || rc == BT_EINVAL)
			rc = BT_EFORMAT;
		if (rc != BT_OK)
			return rc;
		if (memcmp(heads[nh].feed.b, feed->b, 32) != 0)
			return BT_EVERIFY;
		nh++;
	}
	if (in.err_off != 0)
		return BT_EFORMAT;
	/* the entries: checked whole first, then handed out */
	for (pass = 0; pass < 2; pass++) {
		if (doc_iter(&in, edoc, elen) != BT_OK)
			return BT_EFORMAT;
		ne = 0;
		while (bson_iter_next(&in)) {
			if (ne >= BTAPI_FEEDSYNC_ENTRIES_MAX)
				return BT_ERANGE;
			if (!elem_key(&in, ne) ||
			    entry_fields(&in, &v) != BT_OK)
				return BT_EFORMAT;
			if (v.h < 0 || (size_t)v.h >= nh || v.i < start ||
			    v.i >= end || (ne > 0 && v.i <= prev) ||
			    v.i >= heads[v.h].length ||
			    v.dlen > BTSTORE_FEED_PAYLOAD_MAX)
				return BT_EFORMAT;
			need = btcore_merkle_inclusion_len(v.i,
			    heads[v.h].length);
			if (need < 0 || need > BTCORE_MERKLE_PROOF_MAX ||
			    v.plen != 32 * (size_t)need)
				return BT_EFORMAT;
			prev = v.i;
			ne++;
			if (pass == 0)
				continue;
			memset(&e, 0, sizeof(e));
			e.head = heads[v.h];
			e.index = v.i;
			if ((rc = btcore_id_hash(&e.payload_hash,
			    v.dlen > 0 ? (const void *)v.d : "", v.dlen)) !=
			    BT_OK)
				return rc;
			e.proof.kind = BTCORE_MERKLE_INCLUSION;
			e.proof.count = (uint8_t)need;
			e.proof.first = v.i;
			e.proof.size = e.head.length;
			if (need > 0)
				memcpy(e.proof.hash, v.p, v.plen);
			if ((rc = fn(arg, &e, v.dlen > 0 ? v.d :
			    (const uint8_t *)"", v.dlen)) != 0)
				return rc;
		}
		if (in.err_off != 0)
			return BT_EFORMAT;
	}
	*n = ne;
	return BT_OK;
}

/* ---- state -------------------------------------------------------------- */

struct range {
	uint64_t start, end;
};

struct sfeed;

struct btapi_feedsync_wait {
	struct btapi_feedsync_wait *next;
	struct sfeed *f;
	uint64_t index;			/* BTAPI_FEEDSYNC_HEAD: the head */
	int asked;			/* its entries were asked this round */
	int ready, result;		/* done: delivered from the timer */
	btapi_feedsync_cb done;
	void *arg;
	struct event *timer;
};

enum { PH_NONE, PH_HEAD, PH_ENTRIES };

struct sfeed {
	struct sfeed *next;
	struct btapi_feedsync *fs;
	struct bt_pubkey feed;
	struct bt_id owner, channel;
	char hex[BT_ID_HEX_LEN + 1];	/* the feed key, for logs */
	uint32_t refs;			/* follows */
	uint64_t from;			/* lowest index followed */
	uint64_t held_to;		/* [from, held_to) is all held (the
					   store never drops an entry) */
	int joined;
	struct event *poll, *kick;
	uint64_t head_at;		/* ms when the writer's head was
					   last taken in; 0: never */
	/* the round */
	int busy, again, phase, halt;
	int head_err, err;
	struct bt_id src;		/* the node asked */
	int src_owner;
	struct bt_id alts[ALTS_MAX];
	size_t nalts, alt;
	uint64_t limit, cursor;
	size_t inflight;
	struct range retry[RETRY_MAX];
	size_t nretry;
	struct btapi_feedsync_wait *waiters;	/* this round's */
	struct btapi_feedsync_wait *later;	/* the next round's */
	struct btapi_feedsync_info st;
};

/* One RPC in flight. */
struct call {
	struct sfeed *f;
	int op;				/* BTAPI_FSOP_* */
	struct range r;
};

struct btapi_feedsync {
	struct btapi_feedsync_config cfg;
	struct event_base *base;
	int stopped, serving, watching;
	uint64_t watch;
	struct bt_pubkey own;
	struct bt_id own_channel;
	int own_joined;
	uint64_t own_sent;		/* length published + 1; 0: none */
	uint64_t own_announces;
	struct event *announce;
	struct sfeed *feeds;
	uint8_t *buf;			/* BTSTORE_FEED_PAYLOAD_MAX */
};

static void flog(struct btapi_feedsync *fs, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
flog(struct btapi_feedsync *fs, int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	btapi_vlog_(fs->cfg.log, fs->cfg.log_arg, level, fmt, ap);
	va_end(ap);
}

static void
ms_tv(uint32_t ms, struct timeval *tv)
{
	tv->tv_sec = (time_t)(ms / 1000);
	tv->tv_usec = (suseconds_t)(ms % 1000) * 1000;
}

static int
own_feed(const struct btapi_feedsync *fs, const struct bt_pubkey *feed)
{
	return memcmp(fs->own.b, feed->b, 32) == 0;
}

int
btapi_feedsync_channel(const struct bt_pubkey *feed, struct bt_id *out)
{
	uint8_t buf[sizeof(chan_domain) + 32];
	int rc;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (feed == NULL || out == NULL)
		return BT_EINVAL;
	memcpy(buf, chan_domain, sizeof(chan_domain));	/* with its NUL */
	memcpy(buf + sizeof(chan_domain), feed->b, 32);
	rc = btcore_id_hash(out, buf, sizeof(buf));
	if (rc != BT_OK)
		memset(out, 0, sizeof(*out));
	return rc;
}

/* ---- serving ------------------------------------------------------------ */

static int
answer_head(struct btapi_feedsync *fs, const struct btapi_fsargs_ *a,
    bson_t *b, const char **text)
{
	struct bt_log_head h;
	struct bt_merkle_proof pr;
	uint8_t enc[BTCORE_LOG_HEAD_ENC_LEN], penc[BTCORE_MERKLE_PROOF_ENC_MAX];
	size_t plen;
	int rc;

	if ((rc = btstore_feed_head(fs->cfg.store, &a->feed, &h)) != BT_OK) {
		if (rc == BT_ENOTFOUND)
			*text = "the feed is not held here";
		return rc;
	}
	if ((rc = btcore_log_head_encode(&h, enc)) != BT_OK)
		return rc;
	BSON_APPEND_BINARY(b, "head", BSON_SUBTYPE_BINARY, enc, sizeof(enc));
	if (!(a->has & BTAPI_FSF_HAVE_) || a->have >= h.length)
		return BT_OK;
	/* only the writer holds the tree a consistency proof comes from */
	rc = btstore_feed_consistency(fs->cfg.store, &a->feed, a->have,
	    h.length, &pr);
	if (rc == BT_EUNSUPPORTED || rc == BT_ENOTFOUND)
		return BT_OK;
	if (rc != BT_OK ||
	    (rc = btcore_merkle_proof_encode(&pr, penc, sizeof(penc), &plen))
	    != BT_OK)
		return rc;
	BSON_APPEND_BINARY(b, "proof", BSON_SUBTYPE_BINARY, penc,
	    (uint32_t)plen);
	return BT_OK;
}

/* Indexes held from a start on, up to a count and below a limit. */
struct collect {
	uint64_t *idx;
	size_t n, max;
	uint64_t limit;
};

static int
collect_one(void *arg, uint64_t start, uint64_t count)
{
	struct collect *c = arg;
	uint64_t i;

	for (i = start; i < start + count; i++) {
		if (i >= c->limit || c->n >= c->max)
			return 1;
		c->idx[c->n++] = i;
	}
	return c->n >= c->max;
}

static int
heads_equal(const struct bt_log_head *a, const struct bt_log_head *b)
{
	return a->length == b->length &&
	    memcmp(a->root.b, b->root.b, BT_ID_LEN) == 0 &&
	    memcmp(a->sig.b, b->sig.b, sizeof(a->sig.b)) == 0;
}

static int
answer_entries(struct btapi_feedsync *fs, const struct btapi_fsargs_ *a,
    bson_t *b, const char **text)
{
	struct btstore_feed_info info;
	struct bt_log_head heads[BTAPI_FEEDSYNC_HEADS_MAX], h;
	struct bt_log_entry e;
	struct collect col;
	uint8_t enc[BTCORE_LOG_HEAD_ENC_LEN];
	bson_t ents, one, arr;
	char key[24];
	const char *k;
	uint64_t at = 0, limit;
	size_t i, nh = 0, ne = 0, bytes = DOC_OVERHEAD, cost, dlen, j;
	int rc, inited = 0;

	memset(&col, 0, sizeof(col));
	if ((rc = btstore_feed_info(fs->cfg.store, &a->feed, &info)) != BT_OK) {
		if (rc == BT_ENOTFOUND)
			*text = "the feed is not held here";
		goto out;
	}
	limit = info.length;
	if (info.owned) {
		at = (a->has & BTAPI_FSF_AT_) && a->at != 0 ? a->at :
		    info.length;
		if (at > info.length ||
		    btstore_feed_head_at(fs->cfg.store, &a->feed, at, &h) !=
		    BT_OK) {
			rc = BT_ENOTFOUND;
			*text = "no head of that length here";
			goto out;
		}
		limit = at;
	}
	col.max = fs->cfg.reply_entries;
	if ((a->has & BTAPI_FSF_MAX_) && a->max < col.max)
		col.max = (size_t)a->max;
	col.limit = limit;
	rc = BT_ENOMEM;
	if ((col.idx = calloc(col.max, sizeof(*col.idx))) == NULL)
		goto out;
	if (a->from < limit &&
	    (rc = btstore_feed_have(fs->cfg.store, &a->feed, a->from,
	    collect_one, &col)) != BT_OK)
		goto out;
	bson_init(&ents);
	inited = 1;
	for (i = 0; i < col.n; i++) {
		rc = btstore_feed_entry_get(fs->cfg.store, &a->feed, col.idx[i],
		    at, &e, fs->buf, BTSTORE_FEED_PAYLOAD_MAX, &dlen);
		if (rc == BT_ENOTFOUND && !info.owned)
			continue;
		if (rc != BT_OK) {
			if (ne > 0)
				break;	/* what was read is served */
			goto out;
		}
		for (j = 0; j < nh; j++)
			if (heads_equal(&heads[j], &e.head))
				break;
		cost = dlen + 32 * (size_t)e.proof.count + ENTRY_OVERHEAD +
		    (j == nh ? HEAD_OVERHEAD : 0);
		if (ne > 0 && bytes + cost > fs->cfg.reply_bytes)
			break;
		if (j == nh) {
			if (nh == BTAPI_FEEDSYNC_HEADS_MAX)
				break;
			heads[nh++] = e.head;
		}
		bytes += cost;
		bson_uint32_to_string((uint32_t)ne, &k, key, sizeof(key));
		BSON_APPEND_DOCUMENT_BEGIN(&ents, k, &one);
		BSON_APPEND_INT32(&one, "h", (int32_t)j);
		BSON_APPEND_INT64(&one, "i", (int64_t)e.index);
		BSON_APPEND_BINARY(&one, "p", BSON_SUBTYPE_BINARY,
		    (const uint8_t *)e.proof.hash,
		    32 * (uint32_t)e.proof.count);
		BSON_APPEND_BINARY(&one, "d", BSON_SUBTYPE_BINARY,
		    dlen > 0 ? fs->buf : (const uint8_t *)"", (uint32_t)dlen);
		bson_append_document_end(&ents, &one);
		ne++;
	}
	BSON_APPEND_ARRAY_BEGIN(b, "heads", &arr);
	for (j = 0; j < nh; j++) {
		if ((rc = btcore_log_head_encode(&heads[j], enc)) != BT_OK)
			goto out;
		bson_uint32_to_string((uint32_t)j, &k, key, sizeof(key));
		BSON_APPEND_BINARY(&arr, k, BSON_SUBTYPE_BINARY, enc,
		    sizeof(enc));
	}
	bson_append_array_end(b, &arr);
	BSON_APPEND_ARRAY(b, "entries", &ents);
	rc = BT_OK;
out:
	if (inited)
		bson_destroy(&ents);
	free(col.idx);
	return rc;
}

static int
answer(struct btapi_feedsync *fs, const uint8_t *args, size_t len, bson_t *b,
    const char **text)
{
	struct btapi_fsargs_ a;
	int rc;

	*text = NULL;
	if ((rc = btapi_fsargs_decode_(&a, args, len)) != BT_OK) {
		*text = rc == BT_EUNSUPPORTED ? "unknown op: the scope "
		    "\"feed\" answers head and entries" : "malformed request";
		return rc;
	}
	if (a.op == BTAPI_FSOP_HEAD_)
		return answer_head(fs, &a, b, text);
	return answer_entries(fs, &a, b, text);
}

int
btapi_feedsync_answer(struct btapi_feedsync *fs, const struct bt_id *from,
    const uint8_t *args, size_t len, uint8_t **reply, size_t *rlen)
{
	const char *text;
	bson_t b;
	int rc;

	if (reply != NULL)
		*reply = NULL;
	if (rlen != NULL)
		*rlen = 0;
	if (fs == NULL || from == NULL || args == NULL || reply == NULL ||
	    rlen == NULL)
		return BT_EINVAL;
	bson_init(&b);
	if ((rc = answer(fs, args, len, &b, &text)) == BT_OK) {
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
	struct btapi_feedsync *fs = arg;
	const char *text;
	bson_t b;
	int rc;

	(void)from;
	(void)scope;
	bson_init(&b);
	rc = answer(fs, args, len, &b, &text);
	if (rc == BT_OK)
		rc = btnet_rpc_reply(req, bson_get_data(&b), b.len);
	else
		rc = btnet_rpc_error(req, rc, text != NULL ? text :
		    btapi_strerror(rc));
	bson_destroy(&b);
	if (rc != BT_OK)
		flog(fs, BTAPI_LOG_DEBUG, "could not answer a feed request: %s",
		    btapi_strerror(rc));
}

/* ---- the node's own feed: announcing heads ------------------------------ */

static void
pubsub_cb(void *arg, const struct bt_id *channel, const struct bt_id *from,
    const uint8_t *data, size_t len);

static void
announce_cb(evutil_socket_t fd, short what, void *arg)
{
	struct btapi_feedsync *fs = arg;
	struct bt_log_head h;
	uint8_t enc[BTCORE_LOG_HEAD_ENC_LEN];
	int rc;

	(void)fd;
	(void)what;
	if (fs->stopped || !fs->cfg.pubsub ||
	    btstore_feed_head(fs->cfg.store, &fs->own, &h) != BT_OK)
		return;
	if (!fs->own_joined) {
		if ((rc = btnet_pubsub_join(fs->cfg.net, &fs->own_channel,
		    pubsub_cb, fs)) != BT_OK) {
			flog(fs, BTAPI_LOG_WARN, "cannot join the channel of "
			    "the node's feed: %s", btapi_strerror(rc));
			return;
		}
		fs->own_joined = 1;
	}
	if (fs->own_sent == h.length + 1 ||
	    btcore_log_head_encode(&h, enc) != BT_OK)
		return;
	rc = btnet_pubsub_publish(fs->cfg.net, &fs->own_channel, enc,
	    sizeof(enc));
	if (rc == BT_OK) {
		fs->own_sent = h.length + 1;
		fs->own_announces++;
	} else if (rc != BT_ESTATE) {
		flog(fs, BTAPI_LOG_DEBUG, "cannot announce the feed's head: %s",
		    btapi_strerror(rc));
	}
}

static void
own_changed(void *arg, int kind, int event, const void *key, size_t keylen)
{
	struct btapi_feedsync *fs = arg;

	(void)kind;
	(void)event;
	(void)key;
	(void)keylen;
	if (!fs->stopped)
		event_active(fs->announce, EV_TIMEOUT, 1);
}

/* ---- feeds of other nodes: bookkeeping ---------------------------------- */

static struct sfeed *
sfeed_find(struct btapi_feedsync *fs, const struct bt_pubkey *feed)
{
	struct sfeed *f;

	for (f = fs->feeds; f != NULL; f = f->next)
		if (memcmp(f->feed.b, feed->b, 32) == 0)
			return f;
	return NULL;
}

static void kick_cb(evutil_socket_t fd, short what, void *arg);
static void poll_cb(evutil_socket_t fd, short what, void *arg);

static void
sfeed_free(struct sfeed *f)
{
	if (f == NULL)
		return;
	if (f->kick != NULL)
		event_free(f->kick);
	if (f->poll != NULL)
		event_free(f->poll);
	free(f);
}

static int
sfeed_get(struct btapi_feedsync *fs, const struct bt_pubkey *feed,
    struct sfeed **out)
{
	struct sfeed *f;
	struct bt_id id;
	int rc;

	if ((*out = sfeed_find(fs, feed)) != NULL)
		return BT_OK;
	if ((f = calloc(1, sizeof(*f))) == NULL)
		return BT_ENOMEM;
	f->fs = fs;
	f->feed = *feed;
	f->from = UINT64_MAX;
	memcpy(id.b, feed->b, 32);
	btcore_id_to_hex(&id, f->hex);
	if ((rc = btcore_pubkey_id(feed, &f->owner)) != BT_OK ||
	    (rc = btapi_feedsync_channel(feed, &f->channel)) != BT_OK)
		goto fail;
	rc = BT_ENOMEM;
	if ((f->kick = event_new(fs->base, -1, 0, kick_cb, f)) == NULL ||
	    (f->poll = event_new(fs->base, -1, EV_PERSIST, poll_cb, f)) ==
	    NULL)
		goto fail;
	f->next = fs->feeds;
	fs->feeds = f;
	*out = f;
	return BT_OK;
fail:
	sfeed_free(f);
	return rc;
}

/* Have the loop look at @p f: start a round, or free it when idle. */
static void
kick(struct sfeed *f)
{
	if (!f->fs->stopped)
		event_active(f->kick, EV_TIMEOUT, 1);
}

static void
leave(struct sfeed *f)
{
	if (f->joined)
		btnet_pubsub_leave(f->fs->cfg.net, &f->channel);
	f->joined = 0;
}

struct hit {
	uint64_t index;
	int held;
};

static int
hit_one(void *arg, uint64_t start, uint64_t count)
{
	struct hit *h = arg;

	(void)count;
	h->held = start == h->index;
	return 1;
}

static int
held(struct sfeed *f, uint64_t index)
{
	struct hit h = { index, 0 };

	if (btstore_feed_have(f->fs->cfg.store, &f->feed, index, hit_one, &h)
	    != BT_OK)
		return 0;
	return h.held;
}

/* The first run of missing entries in [pos, limit). */
struct gap {
	uint64_t pos, limit;
	int found;
	uint64_t start, end;
};

static int
gap_one(void *arg, uint64_t start, uint64_t count)
{
	struct gap *g = arg;

	if (start > g->pos) {
		g->found = 1;
		g->start = g->pos;
		g->end = start < g->limit ? start : g->limit;
		return 1;
	}
	if (start + count > g->pos)
		g->pos = start + count;
	return g->pos >= g->limit;
}

static int
gap_find(struct sfeed *f, uint64_t pos, uint64_t limit, struct range *r)
{
	struct gap g;
	int rc;

	memset(&g, 0, sizeof(g));
	g.pos = pos;
	g.limit = limit;
	if (pos >= limit)
		return 0;
	rc = btstore_feed_have(f->fs->cfg.store, &f->feed, pos, gap_one, &g);
	if (rc != BT_OK && rc != BT_ENOTFOUND)
		return 0;
	if (!g.found && g.pos < limit) {
		g.found = 1;
		g.start = g.pos;
		g.end = limit;
	}
	if (!g.found || g.start >= g.end)
		return 0;
	r->start = g.start;
	r->end = g.end;
	return 1;
}

static void
fork_found(struct sfeed *f, uint64_t length)
{
	if (f->st.forked)
		return;
	f->st.forked = 1;
	flog(f->fs, BTAPI_LOG_ERROR, "feed %s: its writer signed two heads "
	    "of length %llu: a fork; the evidence is stored", f->hex,
	    (unsigned long long)length);
}

/* ---- waiters ------------------------------------------------------------ */

static void
wait_unlink(struct btapi_feedsync_wait *w)
{
	struct btapi_feedsync_wait **wp;
	struct sfeed *f = w->f;

	for (wp = &f->waiters; *wp != NULL; wp = &(*wp)->next)
		if (*wp == w) {
			*wp = w->next;
			return;
		}
	for (wp = &f->later; *wp != NULL; wp = &(*wp)->next)
		if (*wp == w) {
			*wp = w->next;
			return;
		}
}

/* Deliver @p rc to @p w from the loop. */
static void
wait_ready(struct btapi_feedsync_wait *w, int rc)
{
	w->ready = 1;
	w->result = rc;
	event_del(w->timer);
	event_active(w->timer, EV_TIMEOUT, 1);
}

static void
wait_cb(evutil_socket_t fd, short what, void *arg)
{
	struct btapi_feedsync_wait *w = arg;
	struct sfeed *f = w->f;
	int rc = w->ready ? w->result : BT_ETIMEDOUT;

	(void)fd;
	(void)what;
	wait_unlink(w);
	if (w->done != NULL)
		w->done(w->arg, rc);
	event_free(w->timer);
	free(w);
	kick(f);
}

void
btapi_feedsync_cancel(struct btapi_feedsync_wait *w)
{
	struct sfeed *f;

	if (w == NULL)
		return;
	f = w->f;
	wait_unlink(w);
	event_free(w->timer);
	free(w);
	kick(f);
}

/* Entry waiters of the round whose entry has come. */
static void
waiters_check(struct sfeed *f)
{
	struct btapi_feedsync_wait *w;

	for (w = f->waiters; w != NULL; w = w->next)
		if (!w->ready && w->index != BTAPI_FEEDSYNC_HEAD &&
		    held(f, w->index))
			wait_ready(w, BT_OK);
}

/* ---- rounds ------------------------------------------------------------- */

static void head_ask(struct sfeed *f);
static void pump(struct sfeed *f);

static void
round_end(struct sfeed *f, int err)
{
	struct btapi_feedsync_wait *w;
	int rc;

	f->busy = 0;
	f->phase = PH_NONE;
	f->halt = 0;
	f->st.rounds++;
	f->st.last_error = f->head_err != BT_OK ? f->head_err : err;
	for (w = f->waiters; w != NULL; w = w->next) {
		if (w->ready)
			continue;
		if (w->index == BTAPI_FEEDSYNC_HEAD)
			rc = f->head_err;
		else if (held(f, w->index))
			rc = BT_OK;
		else if (f->head_err != BT_OK)
			rc = f->head_err;
		else if (w->index >= f->limit || err == BT_OK)
			rc = BT_ENOTFOUND;
		else
			rc = err;
		wait_ready(w, rc);
	}
	if (f->st.last_error != BT_OK && f->st.last_error != BT_ECONFLICT)
		flog(f->fs, BTAPI_LOG_DEBUG, "feed %s: round ended: %s",
		    f->hex, btapi_strerror(f->st.last_error));
	kick(f);
}

/* A failure that another holder may not have. */
static int
unreachable(int status)
{
	return status == BT_ETIMEDOUT || status == BTNET_EUNREACHABLE ||
	    status == BTNET_ENOSCOPE || status == BTNET_EADMISSION ||
	    status == BT_ECLOSED;
}

/* Ask the next holder of the feed (a mesh peer of its channel): 1 when
 * there is one. */
static int
next_source(struct sfeed *f)
{
	struct btapi_feedsync *fs = f->fs;
	struct bt_id peers[BTNET_PUBSUB_MESH_MAX];
	size_t n, i;

	if (f->src_owner) {
		f->nalts = 0;
		f->alt = 0;
		if (f->joined) {
			n = btnet_pubsub_peers(fs->cfg.net, &f->channel, peers,
			    BTNET_PUBSUB_MESH_MAX);
			if (n > BTNET_PUBSUB_MESH_MAX)
				n = BTNET_PUBSUB_MESH_MAX;
			for (i = 0; i < n && f->nalts < ALTS_MAX; i++)
				if (memcmp(peers[i].b, f->owner.b, BT_ID_LEN))
					f->alts[f->nalts++] = peers[i];
		}
	}
	if (f->alt >= f->nalts)
		return 0;
	f->src = f->alts[f->alt++];
	f->src_owner = 0;
	return 1;
}

static void call_cb(void *arg, const struct btnet_rpc_result *res);

static int
call_start(struct sfeed *f, int op, const struct range *r, bson_t *b)
{
	struct call *cl;
	int rc;

	if ((cl = calloc(1, sizeof(*cl))) == NULL) {
		bson_destroy(b);
		return BT_ENOMEM;
	}
	cl->f = f;
	cl->op = op;
	if (r != NULL)
		cl->r = *r;
	rc = btnet_rpc_call(f->fs->cfg.net, &f->src, BTAPI_FEED_SCOPE,
	    bson_get_data(b), b->len, call_cb, cl);
	bson_destroy(b);
	if (rc != BT_OK) {
		free(cl);
		return rc == BT_ESTATE ? BTAPI_EOFFLINE : rc;
	}
	f->inflight++;
	return BT_OK;
}

static void
head_ask(struct sfeed *f)
{
	struct btstore_feed_info info;
	bson_t b;
	int rc;

	f->phase = PH_HEAD;
	bson_init(&b);
	BSON_APPEND_UTF8(&b, "op", "head");
	BSON_APPEND_BINARY(&b, "feed", BSON_SUBTYPE_BINARY, f->feed.b, 32);
	if (btstore_feed_info(f->fs->cfg.store, &f->feed, &info) == BT_OK)
		BSON_APPEND_INT64(&b, "have", (int64_t)info.length);
	if ((rc = call_start(f, BTAPI_FSOP_HEAD_, NULL, &b)) != BT_OK) {
		f->head_err = rc;
		round_end(f, rc);
	}
}

static void
round_start(struct sfeed *f)
{
	struct btapi_feedsync_wait **wp;

	for (wp = &f->waiters; *wp != NULL; wp = &(*wp)->next)
		;
	*wp = f->later;
	f->later = NULL;
	for (wp = &f->waiters; *wp != NULL; wp = &(*wp)->next)
		(*wp)->asked = 0;
	f->busy = 1;
	f->again = 0;
	f->halt = 0;
	f->head_err = BT_OK;
	f->err = BT_OK;
	f->nretry = 0;
	f->limit = 0;
	f->cursor = 0;
	f->src = f->owner;
	f->src_owner = 1;
	f->nalts = 0;
	f->alt = 0;
	head_ask(f);
}

static void
head_done(struct sfeed *f, const struct btnet_rpc_result *res)
{
	struct btapi_feedsync *fs = f->fs;
	struct btstore_feed_info info;
	struct bt_log_head h;
	struct bt_merkle_proof pr;
	int rc, hasp;

	rc = res->status;
	if (rc == BTNET_EREMOTE)
		rc = res->code < 0 ? res->code : BT_EPROTO;
	if (rc != BT_OK) {
		if (unreachable(res->status) && next_source(f)) {
			head_ask(f);
			return;
		}
		goto fail;
	}
	rc = btapi_fshead_decode_(res->reply, res->len, &f->feed, &h, &pr,
	    &hasp);
	if (rc != BT_OK) {
		f->st.refused++;
		flog(fs, BTAPI_LOG_WARN, "feed %s: a head reply was refused: "
		    "%s", f->hex, btapi_strerror(rc));
		rc = rc == BT_ECRYPTO ? rc : BT_EVERIFY;
		if (next_source(f)) {
			head_ask(f);
			return;
		}
		goto fail;
	}
	rc = btstore_feed_head_put(fs->cfg.store, &h, hasp ? &pr : NULL);
	switch (rc) {
	case BT_OK:
		if (f->src_owner)
			f->head_at = btapi_now_ms_();
		break;
	case BT_ESTALE:		/* the source is behind this node */
	case BT_EINVAL:		/* longer, without proof: not the writer */
		rc = BT_OK;
		break;
	case BT_ECONFLICT:
		fork_found(f, h.length);
		goto fail;
	case BT_EVERIFY:
		f->st.refused++;
		flog(fs, BTAPI_LOG_WARN, "feed %s: a head of length %llu was "
		    "refused: it does not extend the head held", f->hex,
		    (unsigned long long)h.length);
		goto fail;
	default:
		goto fail;
	}
	if ((rc = btstore_feed_info(fs->cfg.store, &f->feed, &info)) != BT_OK)
		goto fail;
	f->limit = info.length;
	f->cursor = f->from;
	f->phase = PH_ENTRIES;
	pump(f);
	return;
fail:
	f->head_err = rc;
	round_end(f, rc);
}

/* The next range to ask this round: 0 when none. */
static int
next_range(struct sfeed *f, struct range *r)
{
	struct btapi_feedsync_wait *w;
	uint64_t batch = f->fs->cfg.batch;
	int known;

	if (f->halt)
		return 0;
	/* waiters first: a reader is waiting for them */
	for (w = f->waiters; w != NULL; w = w->next) {
		if (w->ready || w->asked || w->index == BTAPI_FEEDSYNC_HEAD)
			continue;
		w->asked = 1;
		if (w->index >= f->limit || held(f, w->index))
			continue;
		r->start = w->index;
		r->end = f->limit - w->index > batch ? w->index + batch :
		    f->limit;
		return 1;
	}
	if (f->nretry > 0) {
		*r = f->retry[--f->nretry];
		return 1;
	}
	if (f->refs == 0)
		return 0;
	/* the scan starts past the run known to be held */
	if (f->cursor < f->held_to)
		f->cursor = f->held_to;
	known = f->cursor == f->held_to;
	if (!gap_find(f, f->cursor, f->limit, r)) {
		if (known && f->limit > f->held_to)
			f->held_to = f->limit;
		return 0;
	}
	if (known)
		f->held_to = r->start;
	if (r->end - r->start > batch)
		r->end = r->start + batch;
	f->cursor = r->end;
	return 1;
}

static void
entries_ask(struct sfeed *f, const struct range *r)
{
	bson_t b;
	int rc;

	bson_init(&b);
	BSON_APPEND_UTF8(&b, "op", "entries");
	BSON_APPEND_BINARY(&b, "feed", BSON_SUBTYPE_BINARY, f->feed.b, 32);
	BSON_APPEND_INT64(&b, "from", (int64_t)r->start);
	BSON_APPEND_INT64(&b, "max", (int64_t)(r->end - r->start));
	BSON_APPEND_INT64(&b, "at", (int64_t)f->limit);
	if ((rc = call_start(f, BTAPI_FSOP_ENTRIES_, r, &b)) != BT_OK) {
		f->err = rc;
		f->halt = 1;
	}
}

static void
pump(struct sfeed *f)
{
	struct range r;

	while (f->inflight < f->fs->cfg.window && next_range(f, &r))
		entries_ask(f, &r);
	if (f->inflight == 0)
		round_end(f, f->err);
}

struct take {
	struct sfeed *f;
	size_t count;
	uint64_t last;
};

static int
take_one(void *arg, const struct bt_log_entry *e, const uint8_t *data,
    size_t len)
{
	struct take *t = arg;
	int rc;

	rc = btstore_feed_entry_put(t->f->fs->cfg.store, e, NULL, data, len);
	if (rc == BT_ECONFLICT)
		fork_found(t->f, e->head.length);
	if (rc != BT_OK)
		return rc;
	t->f->st.pulled++;
	t->count++;
	t->last = e->index;
	return 0;
}

static void
entries_done(struct sfeed *f, const struct range *r,
    const struct btnet_rpc_result *res)
{
	struct take t;
	size_t n = 0;
	int rc;

	rc = res->status;
	if (rc == BTNET_EREMOTE)
		rc = res->code < 0 ? res->code : BT_EPROTO;
	if (rc != BT_OK) {
		f->err = rc;
		f->halt = 1;
		goto next;
	}
	memset(&t, 0, sizeof(t));
	t.f = f;
	rc = btapi_fsentries_decode_(res->reply, res->len, &f->feed, r->start,
	    r->end, take_one, &t, &n);
	if (rc != BT_OK) {
		if (rc != BT_ECONFLICT) {
			f->st.refused++;
			flog(f->fs, BTAPI_LOG_WARN, "feed %s: entries from "
			    "%llu refused: %s", f->hex, (unsigned long long)
			    (t.count > 0 ? t.last + 1 : r->start),
			    btapi_strerror(rc));
		}
		f->err = rc;
		f->halt = 1;
	} else if (n == 0) {
		/* the source holds none of them */
		if (f->err == BT_OK)
			f->err = BT_ENOTFOUND;
	} else if (t.last + 1 < r->end && f->nretry < RETRY_MAX) {
		/* a reply bounded in bytes: ask for the rest */
		f->retry[f->nretry].start = t.last + 1;
		f->retry[f->nretry].end = r->end;
		f->nretry++;
	}
	waiters_check(f);
next:
	pump(f);
}

static void
call_cb(void *arg, const struct btnet_rpc_result *res)
{
	struct call *cl = arg;
	struct sfeed *f = cl->f;

	f->inflight--;
	if (!f->fs->stopped) {
		if (cl->op == BTAPI_FSOP_HEAD_)
			head_done(f, res);
		else
			entries_done(f, &cl->r, res);
	}
	free(cl);
}

static void
kick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sfeed *f = arg;
	struct btapi_feedsync *fs = f->fs;
	struct sfeed **fp;

	(void)fd;
	(void)what;
	if (fs->stopped || f->busy)
		return;
	if (f->again || f->later != NULL) {
		round_start(f);
		return;
	}
	if (f->refs > 0 || f->waiters != NULL || f->inflight > 0)
		return;
	for (fp = &fs->feeds; *fp != NULL; fp = &(*fp)->next)
		if (*fp == f) {
			*fp = f->next;
			break;
		}
	leave(f);
	sfeed_free(f);
}

static void
poll_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sfeed *f = arg;

	(void)fd;
	(void)what;
	f->again = 1;
	kick(f);
}

/* A head heard on a channel. */
static void
pubsub_cb(void *arg, const struct bt_id *channel, const struct bt_id *from,
    const uint8_t *data, size_t len)
{
	struct btapi_feedsync *fs = arg;
	struct btstore_feed_info info;
	struct bt_log_head h;
	struct sfeed *f;

	(void)from;
	if (fs->stopped)
		return;
	for (f = fs->feeds; f != NULL; f = f->next)
		if (f->joined && memcmp(f->channel.b, channel->b, BT_ID_LEN) ==
		    0)
			break;
	if (f == NULL)
		return;		/* the node's own channel, or one left */
	if (btcore_log_head_decode(&h, data, len) != BT_OK ||
	    memcmp(h.feed.b, f->feed.b, 32) != 0) {
		f->st.refused++;
		return;
	}
	f->st.announced++;
	if (btstore_feed_info(fs->cfg.store, &f->feed, &info) != BT_OK ||
	    h.length > info.length) {
		f->again = 1;
		kick(f);
		return;
	}
	/* as long as a head held, or shorter: the store looks for a fork */
	if (btstore_feed_head_put(fs->cfg.store, &h, NULL) == BT_ECONFLICT)
		fork_found(f, h.length);
}

/* ---- following and fetching --------------------------------------------- */

int
btapi_feedsync_follow(struct btapi_feedsync *fs, const struct bt_pubkey *feed,
    uint64_t from)
{
	struct sfeed *f;
	struct timeval tv;
	int rc;

	if (fs == NULL || feed == NULL || own_feed(fs, feed))
		return BT_EINVAL;
	if (fs->stopped)
		return BT_ESTATE;
	if ((rc = sfeed_get(fs, feed, &f)) != BT_OK)
		return rc;
	if (f->refs == UINT32_MAX)
		return BT_ERANGE;
	if (from < f->from) {
		f->from = from;
		f->held_to = from;
	}
	if (f->refs++ == 0) {
		ms_tv(fs->cfg.poll_ms, &tv);
		(void)event_add(f->poll, &tv);
		if (fs->cfg.pubsub && !f->joined) {
			rc = btnet_pubsub_join(fs->cfg.net, &f->channel,
			    pubsub_cb, fs);
			if (rc == BT_OK)
				f->joined = 1;
			else
				flog(fs, BTAPI_LOG_INFO, "feed %s: polled only "
				    "(channel: %s)", f->hex,
				    btapi_strerror(rc));
		}
	}
	f->again = 1;
	kick(f);
	return BT_OK;
}

void
btapi_feedsync_unfollow(struct btapi_feedsync *fs,
    const struct bt_pubkey *feed)
{
	struct sfeed *f;

	if (fs == NULL || feed == NULL ||
	    (f = sfeed_find(fs, feed)) == NULL || f->refs == 0)
		return;
	if (--f->refs > 0)
		return;
	event_del(f->poll);
	leave(f);
	f->from = UINT64_MAX;
	f->again = 0;
	kick(f);
}

int
btapi_feedsync_fetch(struct btapi_feedsync *fs, const struct bt_pubkey *feed,
    uint64_t index, btapi_feedsync_cb done, void *arg,
    struct btapi_feedsync_wait **out)
{
	struct btapi_feedsync_wait *w;
	struct sfeed *f;
	struct timeval tv;
	int rc;

	if (out != NULL)
		*out = NULL;
	if (fs == NULL || feed == NULL || done == NULL || own_feed(fs, feed))
		return BT_EINVAL;
	if (fs->stopped)
		return BT_ESTATE;
	if ((rc = sfeed_get(fs, feed, &f)) != BT_OK)
		return rc;
	if ((w = calloc(1, sizeof(*w))) == NULL ||
	    (w->timer = evtimer_new(fs->base, wait_cb, w)) == NULL) {
		free(w);
		kick(f);	/* a new feed without work goes */
		return BT_ENOMEM;
	}
	w->f = f;
	w->index = index;
	w->done = done;
	w->arg = arg;
	ms_tv(fs->cfg.request_timeout_ms, &tv);
	(void)evtimer_add(w->timer, &tv);
	if (index == BTAPI_FEEDSYNC_HEAD && f->refs > 0 && !f->again &&
	    f->head_at != 0 && btapi_now_ms_() - f->head_at < fs->cfg.poll_ms) {
		/* followed, and the writer's head is fresh */
		w->next = f->waiters;
		f->waiters = w;
		wait_ready(w, BT_OK);
	} else if (index != BTAPI_FEEDSYNC_HEAD && held(f, index)) {
		w->next = f->waiters;
		f->waiters = w;
		wait_ready(w, BT_OK);
	} else if (index != BTAPI_FEEDSYNC_HEAD && f->busy &&
	    f->phase == PH_ENTRIES && index < f->limit) {
		/* the round under way asks for it next */
		w->next = f->waiters;
		f->waiters = w;
	} else {
		w->next = f->later;
		f->later = w;
		kick(f);
	}
	if (out != NULL)
		*out = w;
	return BT_OK;
}

int
btapi_feedsync_info(struct btapi_feedsync *fs, const struct bt_pubkey *feed,
    struct btapi_feedsync_info *info)
{
	struct sfeed *f;

	if (info != NULL)
		memset(info, 0, sizeof(*info));
	if (fs == NULL || feed == NULL || info == NULL)
		return BT_EINVAL;
	if ((f = sfeed_find(fs, feed)) != NULL) {
		*info = f->st;
		info->follows = f->refs;
		info->joined = f->joined;
		return BT_OK;
	}
	if (!own_feed(fs, feed))
		return BT_ENOTFOUND;
	info->joined = fs->own_joined;
	info->announces = fs->own_announces;
	return BT_OK;
}

/* ---- life --------------------------------------------------------------- */

void
btapi_feedsync_config_init(struct btapi_feedsync_config *cfg)
{
	if (cfg == NULL)
		return;
	memset(cfg, 0, sizeof(*cfg));
	cfg->poll_ms = 10000;
	cfg->request_timeout_ms = BT_REQUEST_TIMEOUT_MS;
	cfg->batch = 256;
	cfg->window = 4;
	cfg->reply_entries = BTAPI_FEEDSYNC_ENTRIES_MAX;
	cfg->reply_bytes = BTAPI_FEEDSYNC_REPLY_MAX;
	cfg->pubsub = 1;
}

int
btapi_feedsync_open(struct btapi_feedsync **out, struct event_base *base,
    const struct btapi_feedsync_config *cfg)
{
	struct btapi_feedsync *fs = NULL;
	struct btstore_feed_info info;
	int rc = BT_EINVAL;

	if (out != NULL)
		*out = NULL;
	if (out == NULL || base == NULL || cfg == NULL || cfg->store == NULL ||
	    cfg->net == NULL || cfg->signer == NULL || cfg->poll_ms == 0 ||
	    cfg->request_timeout_ms == 0 || cfg->batch == 0 ||
	    cfg->window == 0 || cfg->reply_entries == 0 ||
	    cfg->reply_bytes == 0)
		goto out;
	rc = BT_ERANGE;
	if (cfg->batch > BTAPI_FEEDSYNC_ENTRIES_MAX ||
	    cfg->window > BTAPI_FEEDSYNC_WINDOW_MAX ||
	    cfg->reply_entries > BTAPI_FEEDSYNC_ENTRIES_MAX ||
	    cfg->reply_bytes < BTAPI_FEEDSYNC_REPLY_MIN ||
	    cfg->reply_bytes > BTAPI_FEEDSYNC_REPLY_MAX)
		goto out;
	rc = BT_ENOMEM;
	if ((fs = calloc(1, sizeof(*fs))) == NULL)
		goto out;
	fs->cfg = *cfg;
	fs->cfg.pubsub = cfg->pubsub != 0;
	fs->base = base;
	fs->own = cfg->signer->pub;
	if ((rc = btapi_feedsync_channel(&fs->own, &fs->own_channel)) != BT_OK)
		goto out;
	rc = BT_ENOMEM;
	if ((fs->buf = malloc(BTSTORE_FEED_PAYLOAD_MAX)) == NULL ||
	    (fs->announce = event_new(base, -1, 0, announce_cb, fs)) == NULL)
		goto out;
	if ((rc = btstore_watch(cfg->store, BTSTORE_TOPIC_FEED, fs->own.b, 32,
	    own_changed, fs, &fs->watch)) != BT_OK)
		goto out;
	fs->watching = 1;
	if ((rc = btnet_rpc_handle(cfg->net, BTAPI_FEED_SCOPE, net_rpc, fs)) !=
	    BT_OK)
		goto out;
	fs->serving = 1;
	if (fs->cfg.pubsub &&
	    btstore_feed_info(cfg->store, &fs->own, &info) == BT_OK)
		event_active(fs->announce, EV_TIMEOUT, 1);
	*out = fs;
	fs = NULL;
	rc = BT_OK;
out:
	btapi_feedsync_free(fs);
	return rc;
}

void
btapi_feedsync_stop(struct btapi_feedsync *fs)
{
	struct btapi_feedsync_wait *w;
	struct sfeed *f;

	if (fs == NULL || fs->stopped)
		return;
	fs->stopped = 1;
	if (fs->watching &&
	    btstore_unwatch(fs->cfg.store, fs->watch) != BT_OK)
		flog(fs, BTAPI_LOG_DEBUG, "the feed watch was gone already");
	fs->watching = 0;
	if (fs->serving &&
	    btnet_rpc_handle(fs->cfg.net, BTAPI_FEED_SCOPE, NULL, NULL) !=
	    BT_OK)
		flog(fs, BTAPI_LOG_DEBUG, "the feed scope was gone already");
	fs->serving = 0;
	if (fs->announce != NULL)
		event_del(fs->announce);
	if (fs->own_joined)
		btnet_pubsub_leave(fs->cfg.net, &fs->own_channel);
	fs->own_joined = 0;
	for (f = fs->feeds; f != NULL; f = f->next) {
		event_del(f->kick);
		event_del(f->poll);
		leave(f);
		/* every waiting caller hears BT_ECLOSED; RPCs in flight end
		   with the network */
		while ((w = f->waiters) != NULL || (w = f->later) != NULL) {
			wait_unlink(w);
			event_free(w->timer);
			if (w->done != NULL)
				w->done(w->arg, BT_ECLOSED);
			free(w);
		}
	}
}

void
btapi_feedsync_free(struct btapi_feedsync *fs)
{
	struct sfeed *f;

	if (fs == NULL)
		return;
	btapi_feedsync_stop(fs);
	while ((f = fs->feeds) != NULL) {
		fs->feeds = f->next;
		sfeed_free(f);
	}
	if (fs->announce != NULL)
		event_free(fs->announce);
	free(fs->buf);
	free(fs);
}
