/*
 * server-ext.c - the data ops of the API server: feeds, records, bags,
 * pubsub, friends, program manifests and peer addresses
 * (blocktree-api(7), "Data ops").
 *
 * server.c hands every frame whose op its own decoder does not know to
 * btapi_ext_frame_(); the requests are decoded here as strictly as the
 * core ones.  What must outlive a restart (friends' peer files and
 * allow-lists, installed and removed programs) is kept in the store's
 * local area (bt/local.h), never in a namespace: a namespace is
 * replicated and readable by anyone, and this would tell who the node's
 * friends are and which programs it runs.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include <bt/apifeed.h>
#include <bt/apiserver.h>
#include <bt/bag.h>
#include <bt/feed.h>
#include <bt/friend.h>
#include <bt/local.h>
#include <bt/manifest.h>
#include <bt/net.h>
#include <bt/ns.h>
#include <bt/pubsub.h>
#include <bt/record.h>
#include <bt/recordstore.h>
#include <bt/store.h>

#include "btapi-internal.h"

/* Follows and channels one client may hold. */
#define FOLLOWS_MAX	64
#define SUBS_MAX	64
/* Entries sent per turn of a follow before yielding to the loop. */
#define PUMP_BATCH	64
/* A stored friend or program file, at most. */
#define SMALL_FILE_MAX	(BTCORE_MANIFEST_MAX + 64)

/* ---- the request decoder ---------------------------------------------- */

struct xopdef {
	const char *name;
	uint32_t req, opt;
};

static const struct xopdef xops[BTAPI_XOP_COUNT_] = {
	[BTAPI_XOP_FEED_CREATE_] = { "feed-create", 0, 0 },
	[BTAPI_XOP_FEED_APPEND_] = { "feed-append", BTAPI_XF_ITEMS_, 0 },
	[BTAPI_XOP_FEED_HEAD_] = { "feed-head", 0, BTAPI_XF_FEED_ },
	[BTAPI_XOP_FEED_GET_] = { "feed-get", BTAPI_XF_INDEX_,
	    BTAPI_XF_FEED_ },
	[BTAPI_XOP_FEED_FOLLOW_] = { "feed-follow", 0,
	    BTAPI_XF_FEED_ | BTAPI_XF_FROM_ },
	[BTAPI_XOP_FEED_UNFOLLOW_] = { "feed-unfollow", BTAPI_XF_FOLLOW_, 0 },
	[BTAPI_XOP_RECORD_SET_] = { "record-set",
	    BTAPI_XF_KEY_ | BTAPI_XF_VALUE_, 0 },
	[BTAPI_XOP_RECORD_GET_] = { "record-get", BTAPI_XF_KEY_,
	    BTAPI_XF_PUB_ },
	[BTAPI_XOP_BAG_ADD_] = { "bag-add", BTAPI_XF_KEY_ | BTAPI_XF_VALUE_,
	    0 },
	[BTAPI_XOP_BAG_QUERY_] = { "bag-query", BTAPI_XF_KEY_ | BTAPI_XF_KIND_,
	    BTAPI_XF_LIMIT_ },
	[BTAPI_XOP_PUBSUB_JOIN_] = { "pubsub-join", BTAPI_XF_CHANNEL_, 0 },
	[BTAPI_XOP_PUBSUB_PUBLISH_] = { "pubsub-publish",
	    BTAPI_XF_CHANNEL_ | BTAPI_XF_DATA_, 0 },
	[BTAPI_XOP_PUBSUB_LEAVE_] = { "pubsub-leave", BTAPI_XF_CHANNEL_, 0 },
	[BTAPI_XOP_FRIEND_INVITE_] = { "friend-invite", 0, 0 },
	[BTAPI_XOP_FRIEND_ACCEPT_] = { "friend-accept", BTAPI_XF_FILE_, 0 },
	[BTAPI_XOP_FRIEND_LIST_] = { "friend-list", 0, 0 },
	[BTAPI_XOP_FRIEND_ALLOW_] = { "friend-allow",
	    BTAPI_XF_NODE_ | BTAPI_XF_SCOPES_, 0 },
	[BTAPI_XOP_FRIEND_REMOVE_] = { "friend-remove", BTAPI_XF_NODE_, 0 },
	[BTAPI_XOP_PROGRAM_INSTALL_] = { "program-install",
	    BTAPI_XF_MANIFEST_, 0 },
	[BTAPI_XOP_PROGRAM_LIST_] = { "program-list", 0, 0 },
	[BTAPI_XOP_PROGRAM_REMOVE_] = { "program-remove", BTAPI_XF_NAME_, 0 },
	[BTAPI_XOP_PEER_LIST_] = { "peer-list", 0, 0 },
};

const char *
btapi_xop_name_(enum btapi_xop_ op)
{
	if ((int)op <= 0 || op >= BTAPI_XOP_COUNT_)
		return NULL;
	return xops[op].name;
}

static int
x_bin32(const bson_iter_t *it, const uint8_t **p)
{
	size_t n;

	if (btapi_bson_bin_(it, p, &n) != BT_OK || n != BT_ID_LEN)
		return BT_EFORMAT;
	return BT_OK;
}

static int
x_count(const bson_iter_t *it, int64_t *v)
{
	if (!BSON_ITER_HOLDS_INT64(it))
		return BT_EFORMAT;
	*v = bson_iter_int64(it);
	return *v < 0 ? BT_ERANGE : BT_OK;
}

/*
 * An array keyed "0", "1", ... of at most @p max elements, each binary
 * of at most @p item_max bytes (@p strings 0) or a scope string
 * (@p strings 1).
 */
static int
x_array(const bson_iter_t *it, int strings, size_t max, size_t item_max,
    const uint8_t **doc, size_t *dlen, size_t *n)
{
	bson_iter_t in;
	uint32_t len;
	char key[16];
	const char *k, *s;
	const uint8_t *p;
	size_t i = 0, sl;

	if (!BSON_ITER_HOLDS_ARRAY(it))
		return BT_EFORMAT;
	bson_iter_array(it, &len, doc);
	*dlen = len;
	/* libbson does not check an embedded document's final byte */
	if (*doc == NULL || len < 5 || (*doc)[len - 1] != 0 ||
	    !bson_iter_recurse(it, &in))
		return BT_EFORMAT;
	while (bson_iter_next(&in)) {
		if (i >= max)
			return BT_ERANGE;
		bson_uint32_to_string((uint32_t)i, &k, key, sizeof(key));
		if (strcmp(bson_iter_key(&in), k) != 0)
			return BT_EFORMAT;
		if (strings) {
			if (btapi_bson_str_(&in, &s, &sl) != BT_OK ||
			    !btcore_scope_valid(s, sl))
				return BT_EFORMAT;
		} else {
			if (btapi_bson_bin_(&in, &p, &sl) != BT_OK)
				return BT_EFORMAT;
			if (sl > item_max)
				return BT_ETOOBIG;
		}
		i++;
	}
	/* the walk must end at the array's end, not at a broken element */
	if (in.err_off != 0)
		return BT_EFORMAT;
	*n = i;
	return BT_OK;
}

static int
x_field(struct btapi_xreq_ *r, const bson_iter_t *it, const char *k,
    uint32_t *bit)
{
	const char *s;
	size_t n;
	int rc = BT_EFORMAT;

	*bit = 0;
	if (strcmp(k, "feed") == 0) {
		*bit = BTAPI_XF_FEED_;
		rc = x_bin32(it, &r->feed);
	} else if (strcmp(k, "items") == 0) {
		*bit = BTAPI_XF_ITEMS_;
		if ((rc = x_array(it, 0, BTAPI_XITEMS_MAX_,
		    BTSTORE_FEED_PAYLOAD_MAX, &r->items, &r->items_len,
		    &r->nitems)) == BT_OK && r->nitems == 0)
			rc = BT_ERANGE;
	} else if (strcmp(k, "index") == 0) {
		*bit = BTAPI_XF_INDEX_;
		rc = x_count(it, &r->index);
	} else if (strcmp(k, "from") == 0) {
		*bit = BTAPI_XF_FROM_;
		rc = x_count(it, &r->from);
	} else if (strcmp(k, "follow") == 0) {
		*bit = BTAPI_XF_FOLLOW_;
		if (BSON_ITER_HOLDS_INT64(it)) {
			r->follow = bson_iter_int64(it);
			rc = BT_OK;
		}
	} else if (strcmp(k, "key") == 0) {
		*bit = BTAPI_XF_KEY_;
		if (BSON_ITER_HOLDS_BINARY(it)) {
			r->key_is_bin = 1;
			rc = btapi_bson_bin_(it, &r->key, &r->key_len);
		} else {
			r->key_is_bin = 0;
			rc = btapi_bson_str_(it, &s, &r->key_len);
			r->key = (const uint8_t *)s;
		}
		if (rc == BT_OK && (r->key_len == 0 ||
		    r->key_len > BTCORE_RECORD_KEY_MAX))
			rc = BT_ERANGE;
	} else if (strcmp(k, "value") == 0) {
		*bit = BTAPI_XF_VALUE_;
		if ((rc = btapi_bson_bin_(it, &r->value, &r->value_len)) == BT_OK &&
		    r->value_len > BTCORE_RECORD_VALUE_MAX)
			rc = BT_ETOOBIG;
	} else if (strcmp(k, "pub") == 0) {
		*bit = BTAPI_XF_PUB_;
		rc = x_bin32(it, &r->feed);
	} else if (strcmp(k, "kind") == 0) {
		*bit = BTAPI_XF_KIND_;
		if ((rc = btapi_bson_str_(it, &r->kind, &n)) == BT_OK &&
		    strcmp(r->kind, "popular") != 0 &&
		    strcmp(r->kind, "recent") != 0 &&
		    strcmp(r->kind, "sample") != 0)
			rc = BT_EFORMAT;
	} else if (strcmp(k, "limit") == 0) {
		*bit = BTAPI_XF_LIMIT_;
		if (BSON_ITER_HOLDS_INT32(it)) {
			r->limit = bson_iter_int32(it);
			rc = r->limit < 1 || r->limit > BTSTORE_BAG_QUERY_MAX ?
			    BT_ERANGE : BT_OK;
		}
	} else if (strcmp(k, "channel") == 0) {
		*bit = BTAPI_XF_CHANNEL_;
		rc = x_bin32(it, &r->channel);
	} else if (strcmp(k, "data") == 0) {
		*bit = BTAPI_XF_DATA_;
		if ((rc = btapi_bson_bin_(it, &r->data, &r->data_len)) == BT_OK &&
		    r->data_len > BTAPI_IO_MAX)
			rc = BT_ETOOBIG;
	} else if (strcmp(k, "file") == 0) {
		*bit = BTAPI_XF_FILE_;
		if ((rc = btapi_bson_bin_(it, &r->data, &r->data_len)) == BT_OK &&
		    (r->data_len == 0 || r->data_len > BTNET_PEERFILE_MAX))
			rc = BT_ERANGE;
	} else if (strcmp(k, "node") == 0) {
		*bit = BTAPI_XF_NODE_;
		rc = x_bin32(it, &r->node);
	} else if (strcmp(k, "scopes") == 0) {
		*bit = BTAPI_XF_SCOPES_;
		rc = x_array(it, 1, BTAPI_XSCOPES_MAX_, 0, &r->scopes,
		    &r->scopes_len, &r->nscopes);
	} else if (strcmp(k, "manifest") == 0) {
		*bit = BTAPI_XF_MANIFEST_;
		if ((rc = btapi_bson_bin_(it, &r->manifest, &r->manifest_len)) == BT_OK &&
		    (r->manifest_len == 0 ||
		    r->manifest_len > BTCORE_MANIFEST_MAX))
			rc = BT_ERANGE;
	} else if (strcmp(k, "name") == 0) {
		*bit = BTAPI_XF_NAME_;
		if ((rc = btapi_bson_str_(it, &r->name, &n)) == BT_OK &&
		    (n == 0 || n > BTCORE_MANIFEST_NAME_MAX))
			rc = BT_ERANGE;
	}
	return rc;
}

int
btapi_xreq_decode_(struct btapi_xreq_ *r, const uint8_t *doc, size_t len)
{
	bson_t b;
	bson_iter_t it;
	const char *opname = NULL;
	size_t n, off;
	int have_id = 0, rc = BT_EFORMAT, i;
	uint32_t bit;
	const struct xopdef *d;

	memset(r, 0, sizeof(*r));
	if (len > BTAPI_FRAME_MAX) {
		rc = BT_ETOOBIG;
		goto out;
	}
	if (len < 5 || !bson_init_static(&b, doc, len))
		goto out;
	if (bson_iter_init_find(&it, &b, "id") && BSON_ITER_HOLDS_INT64(&it))
		r->id = bson_iter_int64(&it);
	if (!bson_validate(&b, BSON_VALIDATE_UTF8 | BSON_VALIDATE_EMPTY_KEYS,
	    &off) || !bson_iter_init(&it, &b))
		goto out;
	/* the op first: a frame that is not a data op is not ours */
	if (!bson_iter_find(&it, "op") || btapi_bson_str_(&it, &opname, &n) != BT_OK)
		goto out;
	for (i = 1; i < BTAPI_XOP_COUNT_; i++)
		if (strcmp(xops[i].name, opname) == 0)
			break;
	if (i == BTAPI_XOP_COUNT_) {
		rc = BTAPI_EBADOP;
		goto out;
	}
	r->op = (enum btapi_xop_)i;
	opname = NULL;
	if (!bson_iter_init(&it, &b))
		goto out;
	while (bson_iter_next(&it)) {
		const char *k = bson_iter_key(&it);

		if (strcmp(k, "op") == 0) {
			if (opname != NULL || btapi_bson_str_(&it, &opname, &n) != BT_OK)
				goto out;
			continue;
		}
		if (strcmp(k, "id") == 0) {
			if (have_id || !BSON_ITER_HOLDS_INT64(&it))
				goto out;
			r->id = bson_iter_int64(&it);
			have_id = 1;
			continue;
		}
		if ((rc = x_field(r, &it, k, &bit)) != BT_OK)
			goto out;
		rc = BT_EFORMAT;
		if (bit == 0 || (r->have & bit))
			goto out;	/* unknown or repeated */
		r->have |= bit;
	}
	if (!have_id)
		goto out;
	d = &xops[r->op];
	if ((r->have & d->req) != d->req ||
	    (r->have & ~(d->req | d->opt)) != 0)
		goto out;
	rc = BT_OK;
out:
	if (rc != BT_OK) {
		int64_t id = r->id;

		memset(r, 0, sizeof(*r));
		r->id = id;
	}
	return rc;
}

/* ---- server state ---------------------------------------------------------- */

struct xsrv;

struct xfollow {
	struct xfollow *next;
	struct xsrv *x;
	struct client *c;
	int64_t id;
	struct bt_pubkey feed;
	uint64_t next_index;
	uint64_t sw;			/* the store's watch */
	struct event *ev;		/* the pump */
	int synced;			/* kept current by the synchroniser */
};

struct xsub {
	struct xsub *next;
	struct client *c;
	struct bt_id channel;
};

enum xpkind { XP_RECORD_SET = 1, XP_RECORD_GET, XP_BAG_ADD, XP_BAG_QUERY,
    XP_FEED_HEAD, XP_FEED_GET, XP_FEED_FOLLOW };

/* A request waiting for the network. */
struct xpend {
	struct xpend *next, *prev;
	struct xsrv *x;			/* NULL: orphaned by close */
	struct client *c;		/* NULL: the client went away */
	int64_t id;
	enum xpkind kind;
	uint64_t seq;
	struct bt_pubkey feed;		/* XP_FEED_*: the feed */
	int64_t index;			/* XP_FEED_GET: the entry; _FOLLOW:
					   the first index */
};

struct xsrv {
	struct btapi_server *srv;
	struct btstore *st;
	struct btnet *net;
	const struct btcore_signer *signer;
	struct btapi_feedsync *fs;	/* may be NULL */
	struct xfollow *follows;
	struct xsub *subs;
	struct xpend *pends;
	int64_t next_id;
	int friends_loaded;
};

static struct xsrv *
xsrv_of(struct client *c)
{
	return *btapi_server_ext_(btapi_client_server_(c));
}

static void
x_ignore(int rc)
{
	(void)rc;
}

static uint64_t
wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void
x_reply_begin(bson_t *b, int64_t id)
{
	bson_init(b);
	BSON_APPEND_INT64(b, "id", id);
	BSON_APPEND_INT32(b, "err", 0);
}

static void
x_send(struct client *c, bson_t *b)
{
	btapi_client_send_(c, b);
	bson_destroy(b);
}

static void
x_ok(struct client *c, int64_t id)
{
	bson_t b;

	x_reply_begin(&b, id);
	x_send(c, &b);
}

static int
net_online(const struct xsrv *x)
{
	return x->net != NULL && btnet_is_online(x->net);
}

/* ---- the node's bookkeeping in the store's local area ------------------- */
/*
 * Kept under "<kind>/<name>" in the local area (bt/local.h), which is
 * never part of a namespace and never leaves the node:
 *	friend/<hex id>		the friend's newest peer file
 *	friend-allow/<hex id>	the scopes it may use: a BSON array document
 *	program/<name>		an installed program's manifest
 *	program-removed/<name>	"": a program the owner removed
 */

/* Fill @p buf with "<kind>/<name>"; *klen its length. */
static int
loc_key(char *buf, size_t cap, const char *kind, const char *name,
    size_t *klen)
{
	size_t kl = strlen(kind), nl = strlen(name);

	if (kl + 1 + nl > BTSTORE_LOCAL_KEY_MAX || kl + 1 + nl + 1 > cap)
		return BT_ERANGE;
	memcpy(buf, kind, kl);
	buf[kl] = '/';
	memcpy(buf + kl + 1, name, nl + 1);
	*klen = kl + 1 + nl;
	return BT_OK;
}

static int
loc_put(struct xsrv *x, const char *kind, const char *name, const void *data,
    size_t len)
{
	char k[BTSTORE_LOCAL_KEY_MAX + 1];
	size_t kl;
	int rc;

	if ((rc = loc_key(k, sizeof(k), kind, name, &kl)) != BT_OK)
		return rc;
	return btstore_local_put(x->st, k, kl, data, len);
}

static int
loc_del(struct xsrv *x, const char *kind, const char *name)
{
	char k[BTSTORE_LOCAL_KEY_MAX + 1];
	size_t kl;
	int rc;

	if ((rc = loc_key(k, sizeof(k), kind, name, &kl)) != BT_OK)
		return rc;
	return btstore_local_del(x->st, k, kl);
}

/* Read a value: *out (caller frees) of *len bytes. */
static int
loc_get(struct xsrv *x, const char *kind, const char *name, uint8_t **out,
    size_t *len)
{
	struct btstore_view *v = NULL;
	const void *val;
	char k[BTSTORE_LOCAL_KEY_MAX + 1];
	size_t kl, n;
	int rc;

	*out = NULL;
	*len = 0;
	if ((rc = loc_key(k, sizeof(k), kind, name, &kl)) != BT_OK ||
	    (rc = btstore_view_begin(x->st, &v)) != BT_OK ||
	    (rc = btstore_view_local_get(v, k, kl, &val, &n)) != BT_OK)
		goto out;
	rc = BT_ETOOBIG;
	if (n > SMALL_FILE_MAX)
		goto out;
	rc = BT_ENOMEM;
	if ((*out = malloc(n > 0 ? n : 1)) == NULL)
		goto out;
	if (n > 0)
		memcpy(*out, val, n);
	*len = n;
	rc = BT_OK;
out:
	btstore_view_end(v);
	return rc;
}

struct names {
	char (*v)[BTCORE_MANIFEST_NAME_MAX + 1];
	size_t n, cap;
	size_t skip;		/* the length of "<kind>/" */
	int err;
};

static int
names_one(void *arg, const void *key, size_t klen, const void *value,
    size_t vlen)
{
	struct names *nm = arg;
	const char *name = (const char *)key + nm->skip;
	size_t nl = klen - nm->skip;
	void *p;

	(void)value;
	(void)vlen;
	if (nl == 0 || nl > BTCORE_MANIFEST_NAME_MAX ||
	    memchr(name, '\0', nl) != NULL)
		return 0;
	if (nm->n == nm->cap) {
		size_t cap = nm->cap == 0 ? 16 : nm->cap * 2;

		if ((p = realloc(nm->v, cap * sizeof(*nm->v))) == NULL) {
			nm->err = BT_ENOMEM;
			return 1;
		}
		nm->v = p;
		nm->cap = cap;
	}
	memcpy(nm->v[nm->n], name, nl);
	nm->v[nm->n][nl] = '\0';
	nm->n++;
	return 0;
}

/* The names kept under "<kind>/", in order.  Free nm->v. */
static int
loc_names(struct xsrv *x, const char *kind, struct names *nm)
{
	char k[BTSTORE_LOCAL_KEY_MAX + 1];
	size_t kl;
	int rc;

	memset(nm, 0, sizeof(*nm));
	if ((rc = loc_key(k, sizeof(k), kind, "", &kl)) != BT_OK)
		return rc;
	nm->skip = kl;
	rc = btstore_local_list(x->st, k, kl, names_one, nm);
	if (rc == BT_OK)
		rc = nm->err;
	return rc;
}

/* ---- permissions ------------------------------------------------------------ */

/*
 * A program (a client with a manifest) may use a data op only when its
 * manifest lists the matching capability among its scopes (a program
 * granted such a name may also handle RPC calls under it, since scope
 * names share one rule):
 *	feed:write	feed-create, feed-append
 *	feed:read	feed-head, feed-get, feed-follow (feed:write too)
 *	record:<key>	record-set and record-get of the node's record <key>
 *	record:read	record-get of any record
 *	bag:use		bag-add, bag-query
 *	pubsub:use	pubsub-join, pubsub-publish, pubsub-leave
 *	friends:manage	friend-*
 * program-* is for the owner only; peer-list and feed-unfollow for all.
 */
static int
x_allowed(struct client *c, const struct btapi_xreq_ *r)
{
	const struct btcore_manifest *m = btapi_client_manifest_(c);
	char scope[BTCORE_SCOPE_MAX + 1];

	if (m == NULL)
		return 1;
	switch (r->op) {
	case BTAPI_XOP_FEED_CREATE_:
	case BTAPI_XOP_FEED_APPEND_:
		return btcore_manifest_allows_scope(m, "feed:write");
	case BTAPI_XOP_FEED_HEAD_:
	case BTAPI_XOP_FEED_GET_:
	case BTAPI_XOP_FEED_FOLLOW_:
		return btcore_manifest_allows_scope(m, "feed:read") ||
		    btcore_manifest_allows_scope(m, "feed:write");
	case BTAPI_XOP_RECORD_GET_:
		if (btcore_manifest_allows_scope(m, "record:read"))
			return 1;
		if ((r->have & BTAPI_XF_PUB_) &&
		    memcmp(r->feed, btapi_server_cfg_(
		    btapi_client_server_(c))->signer->pub.b, 32) != 0)
			return 0;
		/* FALLTHROUGH */
	case BTAPI_XOP_RECORD_SET_:
		if (r->key_is_bin || r->key_len + 7 > BTCORE_SCOPE_MAX)
			return 0;
		memcpy(scope, "record:", 7);
		memcpy(scope + 7, r->key, r->key_len);
		scope[7 + r->key_len] = '\0';
		return btcore_scope_valid(scope, 7 + r->key_len) &&
		    btcore_manifest_allows_scope(m, scope);
	case BTAPI_XOP_BAG_ADD_:
	case BTAPI_XOP_BAG_QUERY_:
		return btcore_manifest_allows_scope(m, "bag:use");
	case BTAPI_XOP_PUBSUB_JOIN_:
	case BTAPI_XOP_PUBSUB_PUBLISH_:
	case BTAPI_XOP_PUBSUB_LEAVE_:
		return btcore_manifest_allows_scope(m, "pubsub:use");
	case BTAPI_XOP_FRIEND_INVITE_:
	case BTAPI_XOP_FRIEND_ACCEPT_:
	case BTAPI_XOP_FRIEND_LIST_:
	case BTAPI_XOP_FRIEND_ALLOW_:
	case BTAPI_XOP_FRIEND_REMOVE_:
		return btcore_manifest_allows_scope(m, "friends:manage");
	case BTAPI_XOP_FEED_UNFOLLOW_:
	case BTAPI_XOP_PEER_LIST_:
		return 1;
	default:
		return 0;
	}
}

/* ---- feeds ---------------------------------------------------------------- */

static struct xpend *xpend_new(struct xsrv *x, struct client *c, int64_t id,
    enum xpkind kind);
static void xpend_free(struct xpend *p);

/* A feed another node writes, reached through the synchroniser. */
static int
feed_remote(const struct xsrv *x, const struct bt_pubkey *k)
{
	return x->fs != NULL && memcmp(k->b, x->signer->pub.b, 32) != 0;
}

/* Wait for the synchroniser to fetch entry @p index (or the head) of
 * @p k, then run @p done. */
static int
feed_fetch(struct client *c, int64_t id, const struct bt_pubkey *k,
    enum xpkind kind, int64_t index, btapi_feedsync_cb done)
{
	struct xsrv *x = xsrv_of(c);
	struct xpend *p;
	int rc;

	if ((p = xpend_new(x, c, id, kind)) == NULL)
		return BT_ENOMEM;
	p->feed = *k;
	p->index = index;
	rc = btapi_feedsync_fetch(x->fs, k, kind == XP_FEED_GET ?
	    (uint64_t)index : BTAPI_FEEDSYNC_HEAD, done, p, NULL);
	if (rc != BT_OK)
		xpend_free(p);
	return rc;
}

static void
feed_key(struct client *c, const struct btapi_xreq_ *r, struct bt_pubkey *k)
{
	if (r->have & (BTAPI_XF_FEED_ | BTAPI_XF_PUB_))
		memcpy(k->b, r->feed, 32);	/* "feed" or "pub" */
	else
		*k = xsrv_of(c)->signer->pub;
}

static void
reply_head(struct client *c, int64_t id, const struct bt_pubkey *feed,
    struct xsrv *x, uint64_t first, int with_first)
{
	struct btstore_feed_info info;
	bson_t b;
	int rc;

	if ((rc = btstore_feed_info(x->st, feed, &info)) != BT_OK) {
		btapi_client_error_(c, id, rc, NULL);
		return;
	}
	x_reply_begin(&b, id);
	BSON_APPEND_BINARY(&b, "feed", BSON_SUBTYPE_BINARY, feed->b, 32);
	BSON_APPEND_INT64(&b, "length", (int64_t)info.length);
	BSON_APPEND_INT64(&b, "held", (int64_t)info.held);
	BSON_APPEND_BOOL(&b, "owned", info.owned != 0);
	BSON_APPEND_BOOL(&b, "forked", info.forked != 0);
	if (with_first)
		BSON_APPEND_INT64(&b, "first", (int64_t)first);
	x_send(c, &b);
}

static void
op_feed_create(struct client *c, const struct btapi_xreq_ *r)
{
	struct xsrv *x = xsrv_of(c);
	int rc;

	if ((rc = btstore_feed_create(x->st, x->signer)) != BT_OK) {
		btapi_client_error_(c, r->id, rc, rc == BT_EEXIST ?
		    "the node's feed exists already" : NULL);
		return;
	}
	reply_head(c, r->id, &x->signer->pub, x, 0, 0);
}

static void
op_feed_append(struct client *c, const struct btapi_xreq_ *r)
{
	struct xsrv *x = xsrv_of(c);
	struct btstore_feed_payload *items = NULL;
	bson_iter_t it;
	bson_subtype_t sub;
	uint32_t n;
	const uint8_t *p;
	uint64_t first = 0;
	size_t i = 0;
	int rc = BT_ENOMEM;

	if ((items = calloc(r->nitems, sizeof(*items))) == NULL)
		goto out;
	rc = BT_EFORMAT;
	if (!bson_iter_init_from_data(&it, r->items, r->items_len))
		goto out;
	while (bson_iter_next(&it) && i < r->nitems) {
		bson_iter_binary(&it, &sub, &n, &p);
		items[i].data = p;
		items[i].len = n;
		i++;
	}
	if (i != r->nitems)
		goto out;
	if ((rc = btstore_feed_append_batch(x->st, x->signer, items, i,
	    &first)) != BT_OK)
		goto out;
	reply_head(c, r->id, &x->signer->pub, x, first, 1);
out:
	free(items);
	if (rc != BT_OK)
		btapi_client_error_(c, r->id, rc, rc == BT_ENOTFOUND ?
		    "the node has no feed: create it first" : NULL);
}

static void
feed_head_done(void *arg, int err)
{
	struct xpend *p = arg;
	struct btstore_feed_info info;

	if (p->x != NULL && p->c != NULL) {
		/* what is held answers when the network could not */
		if (err == BT_OK ||
		    btstore_feed_info(p->x->st, &p->feed, &info) == BT_OK)
			reply_head(p->c, p->id, &p->feed, p->x, 0, 0);
		else
			btapi_client_error_(p->c, p->id, err, NULL);
	}
	xpend_free(p);
}

static void
op_feed_head(struct client *c, const struct btapi_xreq_ *r)
{
	struct bt_pubkey k;

	feed_key(c, r, &k);
	if (feed_remote(xsrv_of(c), &k) && feed_fetch(c, r->id, &k,
	    XP_FEED_HEAD, 0, feed_head_done) == BT_OK)
		return;
	reply_head(c, r->id, &k, xsrv_of(c), 0, 0);
}

/* Answer with entry @p index of @p k held in the store; the error is
 * returned, not sent. */
static int
feed_get_reply(struct client *c, int64_t id, struct xsrv *x,
    const struct bt_pubkey *k, uint64_t index)
{
	struct bt_log_entry e;
	uint8_t *buf = NULL;
	size_t len = 0;
	bson_t b;
	int rc = BT_ENOMEM;

	if ((buf = malloc(BTSTORE_FEED_PAYLOAD_MAX)) == NULL)
		goto out;
	if ((rc = btstore_feed_entry_get(x->st, k, index, 0, &e, buf,
	    BTSTORE_FEED_PAYLOAD_MAX, &len)) != BT_OK)
		goto out;
	x_reply_begin(&b, id);
	BSON_APPEND_INT64(&b, "index", (int64_t)e.index);
	BSON_APPEND_INT64(&b, "length", (int64_t)e.head.length);
	BSON_APPEND_BINARY(&b, "data", BSON_SUBTYPE_BINARY, buf,
	    (uint32_t)len);
	x_send(c, &b);
out:
	free(buf);
	return rc;
}

static void
feed_get_done(void *arg, int err)
{
	struct xpend *p = arg;
	int rc;

	if (p->x != NULL && p->c != NULL) {
		rc = feed_get_reply(p->c, p->id, p->x, &p->feed,
		    (uint64_t)p->index);
		if (rc != BT_OK)
			btapi_client_error_(p->c, p->id, rc == BT_ENOTFOUND &&
			    err != BT_OK ? err : rc, NULL);
	}
	xpend_free(p);
}

static void
op_feed_get(struct client *c, const struct btapi_xreq_ *r)
{
	struct xsrv *x = xsrv_of(c);
	struct bt_pubkey k;
	int rc;

	feed_key(c, r, &k);
	rc = feed_get_reply(c, r->id, x, &k, (uint64_t)r->index);
	if (rc == BT_ENOTFOUND && feed_remote(x, &k))
		rc = feed_fetch(c, r->id, &k, XP_FEED_GET, r->index,
		    feed_get_done);
	if (rc != BT_OK)
		btapi_client_error_(c, r->id, rc, NULL);
}

static void
follow_free(struct xfollow *f)
{
	if (f->synced)
		btapi_feedsync_unfollow(f->x->fs, &f->feed);
	if (f->sw != 0)
		x_ignore(btstore_unwatch(f->x->st, f->sw));
	if (f->ev != NULL)
		event_free(f->ev);
	free(f);
}

/* Send the entries held from f->next_index on, a batch per turn. */
static void
follow_pump(evutil_socket_t fd, short what, void *arg)
{
	struct xfollow *f = arg;
	struct bt_log_head head;
	struct bt_log_entry e;
	uint8_t *buf = NULL;
	size_t len, sent = 0;
	struct timeval tv = { 0, 20000 };
	bson_t b;

	(void)fd;
	(void)what;
	if (btstore_feed_head(f->x->st, &f->feed, &head) != BT_OK)
		return;
	if (f->next_index >= head.length)
		return;
	if ((buf = malloc(BTSTORE_FEED_PAYLOAD_MAX)) == NULL)
		goto again;
	while (f->next_index < head.length && sent < PUMP_BATCH) {
		if (btapi_client_output_full_(f->c))
			goto again;
		if (btstore_feed_entry_get(f->x->st, &f->feed, f->next_index,
		    0, &e, buf, BTSTORE_FEED_PAYLOAD_MAX, &len) != BT_OK)
			break;	/* not held yet: the next change resumes */
		bson_init(&b);
		BSON_APPEND_UTF8(&b, "event", "feed");
		BSON_APPEND_INT64(&b, "follow", f->id);
		BSON_APPEND_BINARY(&b, "feed", BSON_SUBTYPE_BINARY, f->feed.b,
		    32);
		BSON_APPEND_INT64(&b, "index", (int64_t)f->next_index);
		BSON_APPEND_BINARY(&b, "data", BSON_SUBTYPE_BINARY, buf,
		    (uint32_t)len);
		x_send(f->c, &b);
		f->next_index++;
		sent++;
	}
	free(buf);
	if (f->next_index < head.length && sent == PUMP_BATCH)
		event_active(f->ev, EV_TIMEOUT, 0);
	return;
again:
	free(buf);
	evtimer_add(f->ev, &tv);
}

static void
follow_changed(void *arg, int kind, int event, const void *key, size_t keylen)
{
	struct xfollow *f = arg;

	(void)kind;
	(void)event;
	(void)key;
	(void)keylen;
	if (!evtimer_pending(f->ev, NULL))
		event_active(f->ev, EV_TIMEOUT, 0);
}

/* Follow @p feed for @p c from @p from on; the error is returned, not
 * sent. */
static int
follow_start(struct client *c, int64_t id, const struct bt_pubkey *feed,
    uint64_t from)
{
	struct xsrv *x = xsrv_of(c);
	struct btstore_feed_info info;
	struct xfollow *f = NULL, *g;
	size_t n = 0;
	bson_t b;
	int rc;

	for (g = x->follows; g != NULL; g = g->next)
		if (g->c == c)
			n++;
	rc = BTAPI_ELIMIT;
	if (n >= FOLLOWS_MAX)
		goto out;
	rc = BT_ENOMEM;
	if ((f = calloc(1, sizeof(*f))) == NULL)
		goto out;
	f->x = x;
	f->c = c;
	f->feed = *feed;
	f->next_index = from;
	if ((rc = btstore_feed_info(x->st, &f->feed, &info)) != BT_OK)
		goto out;
	rc = BT_ENOMEM;
	if ((f->ev = evtimer_new(btapi_server_base_(x->srv), follow_pump,
	    f)) == NULL)
		goto out;
	if ((rc = btstore_watch(x->st, BTSTORE_TOPIC_FEED, f->feed.b, 32,
	    follow_changed, f, &f->sw)) != BT_OK)
		goto out;
	if (feed_remote(x, &f->feed)) {
		if ((rc = btapi_feedsync_follow(x->fs, &f->feed, from)) !=
		    BT_OK)
			goto out;
		f->synced = 1;
	}
	f->id = ++x->next_id;
	f->next = x->follows;
	x->follows = f;
	x_reply_begin(&b, id);
	BSON_APPEND_INT64(&b, "follow", f->id);
	BSON_APPEND_INT64(&b, "length", (int64_t)info.length);
	x_send(c, &b);
	/* the entries already held follow the reply */
	event_active(f->ev, EV_TIMEOUT, 0);
	f = NULL;
out:
	if (f != NULL)
		follow_free(f);
	return rc;
}

static void
feed_follow_done(void *arg, int err)
{
	struct xpend *p = arg;
	struct btstore_feed_info info;
	int rc;

	if (p->x != NULL && p->c != NULL) {
		rc = btstore_feed_info(p->x->st, &p->feed, &info);
		if (rc == BT_OK)
			rc = follow_start(p->c, p->id, &p->feed,
			    (uint64_t)p->index);
		else if (err != BT_OK)
			rc = err;
		if (rc != BT_OK)
			btapi_client_error_(p->c, p->id, rc, NULL);
	}
	xpend_free(p);
}

static void
op_feed_follow(struct client *c, const struct btapi_xreq_ *r)
{
	struct xsrv *x = xsrv_of(c);
	struct btstore_feed_info info;
	struct bt_pubkey k;
	int64_t from = (r->have & BTAPI_XF_FROM_) ? r->from : 0;
	int rc;

	feed_key(c, r, &k);
	if (feed_remote(x, &k) &&
	    btstore_feed_info(x->st, &k, &info) == BT_ENOTFOUND)
		/* not held yet: its head first */
		rc = feed_fetch(c, r->id, &k, XP_FEED_FOLLOW, from,
		    feed_follow_done);
	else
		rc = follow_start(c, r->id, &k, (uint64_t)from);
	if (rc != BT_OK)
		btapi_client_error_(c, r->id, rc, NULL);
}

static void
op_feed_unfollow(struct client *c, const struct btapi_xreq_ *r)
{
	struct xsrv *x = xsrv_of(c);
	struct xfollow **fp, *f;

	for (fp = &x->follows; (f = *fp) != NULL; fp = &f->next)
		if (f->c == c && f->id == r->follow)
			break;
	if (f == NULL) {
		btapi_client_error_(c, r->id, BTAPI_EBADHANDLE, NULL);
		return;
	}
	*fp = f->next;
	follow_free(f);
	x_ok(c, r->id);
}

/* ---- network waits ------------------------------------------------------------ */

static struct xpend *
xpend_new(struct xsrv *x, struct client *c, int64_t id, enum xpkind kind)
{
	struct xpend *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return NULL;
	p->x = x;
	p->c = c;
	p->id = id;
	p->kind = kind;
	p->next = x->pends;
	if (x->pends != NULL)
		x->pends->prev = p;
	x->pends = p;
	return p;
}

static void
xpend_free(struct xpend *p)
{
	if (p->x != NULL) {
		if (p->prev != NULL)
			p->prev->next = p->next;
		else
			p->x->pends = p->next;
		if (p->next != NULL)
			p->next->prev = p->prev;
	}
	free(p);
}

/* ---- records ------------------------------------------------------------------ */

static int
reserved_key(const struct btapi_xreq_ *r)
{
	static const char *const keys[] = { BTSTORE_NS_ROOT_KEY,
	    BTNET_ADDR_RECORD_KEY };
	size_t i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (r->key_len == strlen(keys[i]) &&
		    memcmp(r->key, keys[i], r->key_len) == 0)
			return 1;
	return 0;
}

static void
record_set_done(void *arg, const struct btnet_dht_result *res)
{
	struct xpend *p = arg;
	bson_t b;

	if (p->x != NULL && p->c != NULL) {
		x_reply_begin(&b, p->id);
		BSON_APPEND_INT64(&b, "seq", (int64_t)p->seq);
		BSON_APPEND_INT32(&b, "stored",
		    res->status == BT_OK ? (int32_t)res->stored : 0);
		x_send(p->c, &b);
	}
	xpend_free(p);
}

static void
op_record_set(struct client *c, const struct btapi_xreq_ *r)
{
	struct xsrv *x = xsrv_of(c);
	struct bt_record rec, old;
	uint8_t *buf = NULL;
	struct xpend *p;
	size_t len;
	uint64_t seq = 0, stamp;
	bson_t b;
	int rc = BT_EPERM;

	if (reserved_key(r))
		goto out;
	rc = BT_ENOMEM;
	if ((buf = malloc(BTCORE_RECORD_ENC_MAX)) == NULL)
		goto out;
	rc = btstore_record_get(x->st, &x->signer->pub, r->key, r->key_len,
	    &old, buf, BTCORE_RECORD_ENC_MAX, &len, &stamp);
	if (rc == BT_OK)
		seq = old.seq;
	else if (rc != BT_ENOTFOUND)
		goto out;
	rc = BT_ERANGE;
	if (seq == UINT64_MAX)
		goto out;
	if ((rc = btcore_record_sign(&rec, x->signer, r->key, r->key_len,
	    r->value, r->value_len, seq + 1)) != BT_OK)
		goto out;
	if ((rc = btstore_record_put(x->st, &rec, wall_ms(), 0, 0, NULL)) !=
	    BT_OK)
		goto out;
	if (net_online(x)) {
		rc = BT_ENOMEM;
		if ((p = xpend_new(x, c, r->id, XP_RECORD_SET)) == NULL)
			goto out;
		p->seq = seq + 1;
		if (btnet_dht_record_put(btnet_dht(x->net), &rec,
		    record_set_done, p) == BT_OK) {
			rc = BT_OK;
			goto out;
		}
		xpend_free(p);	/* kept here only */
	}
	x_reply_begin(&b, r->id);
	BSON_APPEND_INT64(&b, "seq", (int64_t)(seq + 1));
	BSON_APPEND_INT32(&b, "stored", 0);
	x_send(c, &b);
	rc = BT_OK;
out:
	free(buf);
	if (rc != BT_OK)
		btapi_client_error_(c, r->id, rc, rc == BT_EPERM ?
		    "the key is reserved by the node" : NULL);
}

static void
reply_record(struct client *c, int64_t id, const struct bt_record *rec)
{
	bson_t b;

	x_reply_begin(&b, id);
	BSON_APPEND_BINARY(&b, "pub", BSON_SUBTYPE_BINARY, rec->pub.b, 32);
	BSON_APPEND_INT64(&b, "seq", (int64_t)rec->seq);
	BSON_APPEND_BINARY(&b, "value", BSON_SUBTYPE_BINARY,
	    rec->value_len > 0 ? rec->value : (const uint8_t *)"",
	    rec->value_len);
	x_send(c, &b);
}

static void
record_get_done(void *arg, const struct btnet_dht_result *res)
{
	struct xpend *p = arg;

	if (p->x != NULL && p->c != NULL) {
		if (res->status == BT_OK && res->record != NULL)
			reply_record(p->c, p->id, res->record);
		else
			btapi_client_error_(p->c, p->id,
			    res->status == BT_OK ? BT_ENOTFOUND : res->status,
			    NULL);
	}
	xpend_free(p);
}

static void
op_record_get(struct client *c, const struct btapi_xreq_ *r)
{
	struct xsrv *x = xsrv_of(c);
	struct bt_record rec;
	struct bt_pubkey pub;
	uint8_t *buf = NULL;
	struct xpend *p;
	uint64_t stamp;
	size_t len;
	int rc = BT_ENOMEM;

	feed_key(c, r, &pub);
	if ((buf = malloc(BTCORE_RECORD_ENC_MAX)) == NULL)
		goto out;
	rc = btstore_record_get(x->st, &pub, r->key, r->key_len, &rec, buf,
	    BTCORE_RECORD_ENC_MAX, &len, &stamp);
	if (rc == BT_OK) {
		reply_record(c, r->id, &rec);
		goto out;
	}
	if (rc != BT_ENOTFOUND || !net_online(x))
		goto out;
	rc = BT_ENOMEM;
	if ((p = xpend_new(x, c, r->id, XP_RECORD_GET)) == NULL)
		goto out;
	if ((rc = btnet_dht_record_get(btnet_dht(x->net), &pub, r->key,
	    r->key_len, record_get_done, p)) != BT_OK)
		xpend_free(p);
out:
	free(buf);
	if (rc != BT_OK)
		btapi_client_error_(c, r->id, rc, NULL);
}

/* ---- bags -------------------------------------------------------------------- */

static void
bag_add_done(void *arg, const struct btnet_dht_result *res)
{
	struct xpend *p = arg;
	bson_t b;

	if (p->x != NULL && p->c != NULL) {
		if (res->status == BT_OK) {
			x_reply_begin(&b, p->id);
			BSON_APPEND_INT32(&b, "stored", (int32_t)res->stored);
			x_send(p->c, &b);
		} else {
			btapi_client_error_(p->c, p->id, res->status, NULL);
		}
	}
	xpend_free(p);
}

struct bagvals {
	bson_t arr;
	uint32_t n;
};

static int
bag_one(void *arg, const void *value, size_t len, uint32_t count,
    uint64_t last)
{
	struct bagvals *v = arg;
	char key[16];
	const char *k;

	(void)count;
	(void)last;
	bson_uint32_to_string(v->n++, &k, key, sizeof(key));
	bson_append_binary(&v->arr, k, -1, BSON_SUBTYPE_BINARY, value,
	    (uint32_t)len);
	return 0;
}

static void
bag_query_done(void *arg, const struct btnet_dht_result *res)
{
	struct xpend *p = arg;
	struct bagvals v;
	bson_t b;
	size_t i;

	if (p->x != NULL && p->c != NULL) {
		if (res->status == BT_OK) {
			x_reply_begin(&b, p->id);
			BSON_APPEND_ARRAY_BEGIN(&b, "values", &v.arr);
			v.n = 0;
			for (i = 0; i < res->nvalues; i++)
				(void)bag_one(&v, res->values[i], 32, 0, 0);
			bson_append_array_end(&b, &v.arr);
			x_send(p->c, &b);
		} else {
			btapi_client_error_(p->c, p->id, res->status, NULL);
		}
	}
	xpend_free(p);
}

static void
op_bag(struct client *c, const struct btapi_xreq_ *r)
{
	struct xsrv *x = xsrv_of(c);
	struct bt_id key;
	struct xpend *p;
	struct bagvals v;
	enum btnet_dht_bag kind = BTNET_DHT_BAG_RECENT;
	size_t limit = r->limit > 0 ? (size_t)r->limit : 32;
	uint32_t count;
	bson_t b;
	int rc = BT_EFORMAT;

	if (!r->key_is_bin || r->key_len != BT_ID_LEN)
		goto out;
	memcpy(key.b, r->key, BT_ID_LEN);
	if (r->op == BTAPI_XOP_BAG_ADD_ && r->value_len != 32)
		goto out;
	if (r->op == BTAPI_XOP_BAG_QUERY_) {
		if (strcmp(r->kind, "popular") == 0)
			kind = BTNET_DHT_BAG_POPULAR;
		else if (strcmp(r->kind, "sample") == 0)
			kind = BTNET_DHT_BAG_SAMPLE;
	}
	if (net_online(x)) {
		rc = BT_ENOMEM;
		if ((p = xpend_new(x, c, r->id, r->op == BTAPI_XOP_BAG_ADD_ ?
		    XP_BAG_ADD : XP_BAG_QUERY)) == NULL)
			goto out;
		if (r->op == BTAPI_XOP_BAG_ADD_)
			rc = btnet_dht_bag_add(btnet_dht(x->net), &key,
			    r->value, bag_add_done, p);
		else
			rc = btnet_dht_bag_query(btnet_dht(x->net), kind, &key,
			    limit, NULL, bag_query_done, p);
		if (rc != BT_OK)
			xpend_free(p);
		goto out;
	}
	if (r->op == BTAPI_XOP_BAG_ADD_) {
		if ((rc = btstore_bag_add(x->st, &key, r->value, 32,
		    btapi_server_node_(x->srv), wall_ms(), &count)) != BT_OK)
			goto out;
		x_reply_begin(&b, r->id);
		BSON_APPEND_INT32(&b, "stored", 1);
		x_send(c, &b);
		goto out;
	}
	x_reply_begin(&b, r->id);
	BSON_APPEND_ARRAY_BEGIN(&b, "values", &v.arr);
	v.n = 0;
	if (kind == BTNET_DHT_BAG_POPULAR)
		rc = btstore_bag_popular(x->st, &key, limit, bag_one, &v);
	else if (kind == BTNET_DHT_BAG_SAMPLE)
		rc = btstore_bag_sample(x->st, &key, limit, bag_one, &v);
	else
		rc = btstore_bag_recent(x->st, &key, limit, bag_one, &v);
	bson_append_array_end(&b, &v.arr);
	if (rc == BT_OK)
		btapi_client_send_(c, &b);
	bson_destroy(&b);
out:
	if (rc != BT_OK)
		btapi_client_error_(c, r->id, rc, NULL);
}

/* ---- pubsub ------------------------------------------------------------------- */

static void
pubsub_deliver(struct xsrv *x, const struct bt_id *channel,
    const struct bt_id *from, const uint8_t *data, size_t len,
    const struct client *except)
{
	struct xsub *s;
	bson_t b;

	for (s = x->subs; s != NULL; s = s->next) {
		if (s->c == except ||
		    memcmp(s->channel.b, channel->b, BT_ID_LEN) != 0)
			continue;
		bson_init(&b);
		BSON_APPEND_UTF8(&b, "event", "pubsub");
		BSON_APPEND_BINARY(&b, "channel", BSON_SUBTYPE_BINARY,
		    channel->b, BT_ID_LEN);
		BSON_APPEND_BINARY(&b, "from", BSON_SUBTYPE_BINARY, from->b,
		    BT_ID_LEN);
		BSON_APPEND_BINARY(&b, "data", BSON_SUBTYPE_BINARY,
		    len > 0 ? data : (const uint8_t *)"", (uint32_t)len);
		x_send(s->c, &b);
	}
}

static void
pubsub_cb(void *arg, const struct bt_id *channel, const struct bt_id *from,
    const uint8_t *data, size_t len)
{
	pubsub_deliver(arg, channel, from, data, len, NULL);
}

static struct xsub **
sub_find(struct xsrv *x, const struct client *c, const uint8_t *ch)
{
	struct xsub **sp;

	for (sp = &x->subs; *sp != NULL; sp = &(*sp)->next)
		if ((c == NULL || (*sp)->c == c) &&
		    memcmp((*sp)->channel.b, ch, BT_ID_LEN) == 0)
			return sp;
	return NULL;
}

/* Drop subscription *sp; the node leaves the channel with the last. */
static void
sub_drop(struct xsrv *x, struct xsub **sp)
{
	struct xsub *s = *sp;

	*sp = s->next;
	if (x->net != NULL && sub_find(x, NULL, s->channel.b) == NULL)
		btnet_pubsub_leave(x->net, &s->channel);
	free(s);
}

static void
op_pubsub(struct client *c, const struct btapi_xreq_ *r)
{
	struct xsrv *x = xsrv_of(c);
	struct xsub **sp, *s;
	struct bt_id ch;
	size_t n = 0;
	int rc = BTAPI_EOFFLINE;

	if (x->net == NULL)
		goto out;
	memcpy(ch.b, r->channel, BT_ID_LEN);
	sp = sub_find(x, c, r->channel);
	switch (r->op) {
	case BTAPI_XOP_PUBSUB_JOIN_:
		rc = BT_OK;
		if (sp != NULL)
			break;
		for (s = x->subs; s != NULL; s = s->next)
			if (s->c == c)
				n++;
		rc = BTAPI_ELIMIT;
		if (n >= SUBS_MAX)
			break;
		rc = BT_ENOMEM;
		if ((s = calloc(1, sizeof(*s))) == NULL)
			break;
		if (sub_find(x, NULL, r->channel) == NULL &&
		    (rc = btnet_pubsub_join(x->net, &ch, pubsub_cb, x)) !=
		    BT_OK) {
			free(s);
			break;
		}
		s->c = c;
		s->channel = ch;
		s->next = x->subs;
		x->subs = s;
		rc = BT_OK;
		break;
	case BTAPI_XOP_PUBSUB_PUBLISH_:
		rc = BT_ENOTFOUND;
		if (sp == NULL)
			break;
		if ((rc = btnet_pubsub_publish(x->net, &ch, r->data,
		    r->data_len)) != BT_OK)
			break;
		pubsub_deliver(x, &ch, btapi_server_node_(x->srv), r->data,
		    r->data_len, c);
		break;
	default:
		rc = BT_ENOTFOUND;
		if (sp == NULL)
			break;
		sub_drop(x, sp);
		rc = BT_OK;
		break;
	}
out:
	if (rc == BT_OK)
		x_ok(c, r->id);
	else
		btapi_client_error_(c, r->id, rc, rc == BT_ENOTFOUND ?
		    "this connection has not joined the channel" : NULL);
}

/* ---- friends --------------------------------------------------------------------- */

/* Keep a friend's peer file. */
static int
friend_store(struct xsrv *x, const struct bt_id *id, const uint8_t *file,
    size_t flen)
{
	char hex[BT_ID_HEX_LEN + 1];

	return loc_put(x, "friend", btcore_id_to_hex(id, hex), file, flen);
}

/* Forget a friend: its peer file and its allow-list. */
static void
friend_forget(struct xsrv *x, const struct bt_id *id)
{
	char hex[BT_ID_HEX_LEN + 1];

	btcore_id_to_hex(id, hex);
	x_ignore(loc_del(x, "friend", hex));
	x_ignore(loc_del(x, "friend-allow", hex));
}

/* Apply an allow-list array document to the network. */
static int
friend_allow_apply(struct xsrv *x, const struct bt_id *id,
    const uint8_t *allow, size_t alen)
{
	const char *scopes[BTAPI_XSCOPES_MAX_] = { NULL };
	bson_iter_t it;
	size_t n = 0;

	if (allow == NULL)
		return btnet_friend_allow(x->net, id, scopes, 0);
	if (!bson_iter_init_from_data(&it, allow, alen))
		return BT_ECORRUPT;
	while (bson_iter_next(&it) && n < BTAPI_XSCOPES_MAX_) {
		if (!BSON_ITER_HOLDS_UTF8(&it))
			return BT_ECORRUPT;
		scopes[n++] = bson_iter_utf8(&it, NULL);
	}
	return btnet_friend_allow(x->net, id, scopes, n);
}

/* libbtnet's change callback: persist the friend's newest file. */
static void
friend_changed(void *arg, const struct bt_id *id, const uint8_t *file,
    size_t len)
{
	struct xsrv *x = arg;

	if (file == NULL)
		friend_forget(x, id);
	else
		x_ignore(friend_store(x, id, file, len));
}

/* Import every stored friend, with its allow-list (at open). */
static int
friends_load(struct xsrv *x)
{
	struct names nm;
	struct bt_id id;
	uint8_t *file, *allow;
	size_t flen, alen, i;
	int rc;

	if ((rc = loc_names(x, "friend", &nm)) != BT_OK)
		goto out;
	for (i = 0; i < nm.n; i++) {
		if (btcore_id_from_hex(&id, nm.v[i]) != BT_OK ||
		    loc_get(x, "friend", nm.v[i], &file, &flen) != BT_OK)
			continue;
		rc = btnet_friend_import(x->net, file, flen, NULL);
		free(file);
		if ((rc == BT_OK || rc == BT_ESTALE) &&
		    loc_get(x, "friend-allow", nm.v[i], &allow, &alen) ==
		    BT_OK) {
			x_ignore(friend_allow_apply(x, &id, allow, alen));
			free(allow);
		}
	}
	rc = BT_OK;
out:
	free(nm.v);
	return rc;
}

static void
addr_text(const struct btnet_dht_addr *a, char *buf, size_t cap)
{
	char ip[INET6_ADDRSTRLEN], digits[8];
	size_t n, d = 0;
	unsigned port = a->port;

	buf[0] = '\0';
	if (inet_ntop(a->family == 6 ? AF_INET6 : AF_INET, a->ip, ip,
	    sizeof(ip)) == NULL)
		return;
	n = strlen(ip);
	if (n + 10 > cap)
		return;
	if (a->family == 6) {
		buf[0] = '[';
		memcpy(buf + 1, ip, n);
		buf[n + 1] = ']';
		n += 2;
	} else {
		memcpy(buf, ip, n);
	}
	buf[n++] = ':';
	do {
		digits[d++] = (char)('0' + port % 10);
		port /= 10;
	} while (port > 0);
	while (d > 0)
		buf[n++] = digits[--d];
	buf[n] = '\0';
}

static void
op_friend(struct client *c, const struct btapi_xreq_ *r)
{
	struct xsrv *x = xsrv_of(c);
	uint8_t file[BTNET_PEERFILE_MAX];
	struct bt_id ids[BTNET_FRIENDS_MAX], peers[256], id;
	struct btnet_peerfile pf;
	char key[16], addr[64], hex[BT_ID_HEX_LEN + 1];
	const char *k;
	size_t len, n, np, i, j;
	bson_t b, arr, one, aa;
	int rc = BTAPI_EOFFLINE;

	if (x->net == NULL)
		goto out;
	switch (r->op) {
	case BTAPI_XOP_FRIEND_INVITE_:
		if ((rc = btnet_friend_export(x->net, file, sizeof(file),
		    &len)) != BT_OK)
			goto out;
		x_reply_begin(&b, r->id);
		BSON_APPEND_BINARY(&b, "file", BSON_SUBTYPE_BINARY, file,
		    (uint32_t)len);
		x_send(c, &b);
		return;
	case BTAPI_XOP_FRIEND_ACCEPT_:
		rc = btnet_friend_import(x->net, r->data, r->data_len, &id);
		if (rc == BT_ESTALE)
			rc = BT_OK;	/* a friend already, file kept */
		if (rc != BT_OK)
			goto out;
		/* persisted by friend_changed(); again here when the
		   callback had nothing new */
		if (btnet_friend_get(x->net, &id, file, sizeof(file), &len) ==
		    BT_OK)
			friend_changed(x, &id, file, len);
		x_reply_begin(&b, r->id);
		BSON_APPEND_BINARY(&b, "node", BSON_SUBTYPE_BINARY, id.b,
		    BT_ID_LEN);
		x_send(c, &b);
		return;
	case BTAPI_XOP_FRIEND_LIST_:
		n = btnet_friend_list(x->net, ids, BTNET_FRIENDS_MAX);
		if (n > BTNET_FRIENDS_MAX)
			n = BTNET_FRIENDS_MAX;
		np = btnet_peers(x->net, peers, 256);
		if (np > 256)
			np = 256;
		x_reply_begin(&b, r->id);
		BSON_APPEND_ARRAY_BEGIN(&b, "friends", &arr);
		for (i = 0; i < n; i++) {
			bson_uint32_to_string((uint32_t)i, &k, key,
			    sizeof(key));
			BSON_APPEND_DOCUMENT_BEGIN(&arr, k, &one);
			BSON_APPEND_BINARY(&one, "node", BSON_SUBTYPE_BINARY,
			    ids[i].b, BT_ID_LEN);
			for (j = 0; j < np; j++)
				if (memcmp(peers[j].b, ids[i].b, 32) == 0)
					break;
			BSON_APPEND_BOOL(&one, "connected", j < np);
			BSON_APPEND_ARRAY_BEGIN(&one, "addrs", &aa);
			if (btnet_friend_get(x->net, &ids[i], file,
			    sizeof(file), &len) == BT_OK &&
			    btnet_friend_decode(file, len, &pf) == BT_OK) {
				for (j = 0; j < pf.naddrs; j++) {
					addr_text(&pf.addrs[j], addr,
					    sizeof(addr));
					bson_uint32_to_string((uint32_t)j, &k,
					    key, sizeof(key));
					BSON_APPEND_UTF8(&aa, k, addr);
				}
			}
			bson_append_array_end(&one, &aa);
			bson_append_document_end(&arr, &one);
		}
		bson_append_array_end(&b, &arr);
		x_send(c, &b);
		return;
	case BTAPI_XOP_FRIEND_ALLOW_:
		memcpy(id.b, r->node, BT_ID_LEN);
		if ((rc = friend_allow_apply(x, &id, r->nscopes > 0 ?
		    r->scopes : NULL, r->scopes_len)) != BT_OK)
			goto out;
		if ((rc = btnet_friend_get(x->net, &id, file, sizeof(file),
		    &len)) != BT_OK)
			goto out;
		if ((rc = loc_put(x, "friend-allow", btcore_id_to_hex(&id,
		    hex), r->scopes, r->scopes_len)) != BT_OK)
			goto out;
		break;
	default:
		memcpy(id.b, r->node, BT_ID_LEN);
		if ((rc = btnet_friend_remove(x->net, &id)) != BT_OK)
			goto out;
		/* friend_changed() forgot it; make sure */
		friend_forget(x, &id);
		break;
	}
	rc = BT_OK;
	x_ok(c, r->id);
out:
	if (rc != BT_OK)
		btapi_client_error_(c, r->id, rc, rc == BTAPI_EOFFLINE ?
		    "the node runs without network" : NULL);
}

/* ---- programs ------------------------------------------------------------------- */

int
btapi_ext_hello_(struct btapi_server *srv, const struct btcore_manifest *m,
    const uint8_t *enc, size_t len)
{
	struct xsrv *x = *btapi_server_ext_(srv);
	const char *name = btcore_manifest_name(m);
	uint8_t *doc = NULL;
	size_t dlen;
	int rc;

	if (x == NULL)
		return BT_OK;
	rc = loc_get(x, "program", name, &doc, &dlen);
	if (rc == BT_OK) {
		rc = dlen == len && memcmp(doc, enc, len) == 0 ? BT_OK :
		    BTAPI_EDENIED;
		goto out;
	}
	if (rc != BT_ENOTFOUND)
		goto out;
	/* not installed: any manifest the owner signed, unless removed */
	rc = loc_get(x, "program-removed", name, &doc, &dlen);
	if (rc == BT_OK)
		rc = BTAPI_EDENIED;
	else if (rc == BT_ENOTFOUND)
		rc = BT_OK;
out:
	free(doc);
	return rc;
}

static void
op_program(struct client *c, const struct btapi_xreq_ *r)
{
	struct xsrv *x = xsrv_of(c);
	struct btapi_server *srv = x->srv;
	struct btcore_manifest *m = NULL;
	const struct bt_pubkey *owner;
	struct names nm = { NULL, 0, 0, 0, 0 };
	uint8_t *doc;
	size_t dlen, i;
	uint32_t j = 0;
	char key[16];
	const char *k;
	bson_t b, arr, one;
	int rc = BTAPI_EDENIED;

	if (btapi_client_manifest_(c) != NULL)
		goto out;
	switch (r->op) {
	case BTAPI_XOP_PROGRAM_INSTALL_:
		if ((rc = btcore_manifest_decode(&m, r->manifest,
		    r->manifest_len)) != BT_OK)
			goto out;
		owner = btcore_manifest_owner(m);
		rc = BTAPI_EDENIED;
		if (owner == NULL || memcmp(owner->b,
		    btapi_server_owner_(srv), 32) != 0)
			goto out;
		if ((rc = loc_put(x, "program", btcore_manifest_name(m),
		    r->manifest, r->manifest_len)) != BT_OK)
			goto out;
		rc = loc_del(x, "program-removed", btcore_manifest_name(m));
		if (rc != BT_OK && rc != BT_ENOTFOUND)
			goto out;
		/* a program running with another manifest of this name
		   must say hello again with the installed one */
		btapi_server_revoke_(srv, btcore_manifest_name(m));
		x_reply_begin(&b, r->id);
		BSON_APPEND_UTF8(&b, "name", btcore_manifest_name(m));
		BSON_APPEND_UTF8(&b, "version", btcore_manifest_version(m));
		x_send(c, &b);
		rc = BT_OK;
		goto out;
	case BTAPI_XOP_PROGRAM_LIST_:
		if ((rc = loc_names(x, "program", &nm)) != BT_OK)
			goto out;
		x_reply_begin(&b, r->id);
		BSON_APPEND_ARRAY_BEGIN(&b, "programs", &arr);
		for (i = 0; i < nm.n; i++) {
			if (loc_get(x, "program", nm.v[i], &doc, &dlen) !=
			    BT_OK)
				continue;
			if (btcore_manifest_decode(&m, doc, dlen) == BT_OK) {
				bson_uint32_to_string(j++, &k, key,
				    sizeof(key));
				BSON_APPEND_DOCUMENT_BEGIN(&arr, k, &one);
				BSON_APPEND_UTF8(&one, "name",
				    btcore_manifest_name(m));
				BSON_APPEND_UTF8(&one, "version",
				    btcore_manifest_version(m));
				BSON_APPEND_INT32(&one, "scopes", (int32_t)
				    btcore_manifest_scope_count(m));
				BSON_APPEND_INT32(&one, "routes", (int32_t)
				    btcore_manifest_route_count(m));
				BSON_APPEND_INT32(&one, "grants", (int32_t)
				    btcore_manifest_grant_count(m));
				bson_append_document_end(&arr, &one);
			}
			btcore_manifest_free(m);
			m = NULL;
			free(doc);
		}
		bson_append_array_end(&b, &arr);
		x_send(c, &b);
		rc = BT_OK;
		goto out;
	default:
		if ((rc = loc_del(x, "program", r->name)) != BT_OK)
			goto out;
		if ((rc = loc_put(x, "program-removed", r->name, "", 0)) != BT_OK)
			goto out;
		btapi_server_revoke_(srv, r->name);
		x_ok(c, r->id);
		rc = BT_OK;
		goto out;
	}
out:
	btcore_manifest_free(m);
	free(nm.v);
	if (rc != BT_OK)
		btapi_client_error_(c, r->id, rc, rc == BTAPI_EDENIED ?
		    (r->op == BTAPI_XOP_PROGRAM_INSTALL_ &&
		    btapi_client_manifest_(c) == NULL ?
		    "the manifest is not signed by the node owner" :
		    "only the node owner manages programs") :
		    rc == BT_ENOTFOUND ? "no such program installed" : NULL);
}

/* ---- peers ----------------------------------------------------------------------- */

static void
op_peer_list(struct client *c, const struct btapi_xreq_ *r)
{
	struct xsrv *x = xsrv_of(c);
	struct bt_id ids[256];
	struct btnet_dht_node near;
	struct btnet_peerfile pf;
	uint8_t file[BTNET_PEERFILE_MAX];
	size_t flen;
	char key[16], addr[64];
	const char *k;
	size_t n = 0, i;
	bson_t b, arr, one;

	if (x->net != NULL)
		n = btnet_peers(x->net, ids, 256);
	if (n > 256)
		n = 256;
	x_reply_begin(&b, r->id);
	BSON_APPEND_BOOL(&b, "online", net_online(x));
	BSON_APPEND_ARRAY_BEGIN(&b, "peers", &arr);
	for (i = 0; i < n; i++) {
		bson_uint32_to_string((uint32_t)i, &k, key, sizeof(key));
		BSON_APPEND_DOCUMENT_BEGIN(&arr, k, &one);
		BSON_APPEND_BINARY(&one, "node", BSON_SUBTYPE_BINARY, ids[i].b,
		    BT_ID_LEN);
		addr[0] = '\0';
		/* the routing table's address, else a friend's last known */
		if (btnet_dht_closest(btnet_dht(x->net), &ids[i], &near, 1) ==
		    1 && memcmp(near.id.b, ids[i].b, BT_ID_LEN) == 0)
			addr_text(&near.addr, addr, sizeof(addr));
		else if (btnet_friend_get(x->net, &ids[i], file, sizeof(file),
		    &flen) == BT_OK && btnet_friend_decode(file, flen, &pf) ==
		    BT_OK && pf.naddrs > 0)
			addr_text(&pf.addrs[0], addr, sizeof(addr));
		BSON_APPEND_UTF8(&one, "addr", addr);
		bson_append_document_end(&arr, &one);
	}
	bson_append_array_end(&b, &arr);
	x_send(c, &b);
}

/* ---- hooks ------------------------------------------------------------------------- */

int
btapi_ext_frame_(struct client *c, const uint8_t *doc, size_t len)
{
	struct btapi_xreq_ r;
	int rc;

	rc = btapi_xreq_decode_(&r, doc, len);
	if (rc == BTAPI_EBADOP)
		return 0;
	if (rc != BT_OK) {
		btapi_client_error_(c, r.id, rc, NULL);
		return 1;
	}
	if (!btapi_client_hello_(c)) {
		btapi_client_error_(c, r.id, BT_ESTATE, "say hello first");
		return 1;
	}
	if (xsrv_of(c) == NULL) {
		btapi_client_error_(c, r.id, BT_ESTATE, NULL);
		return 1;
	}
	if (!x_allowed(c, &r)) {
		btapi_client_error_(c, r.id, BTAPI_EDENIED,
		    "the program's manifest does not grant this");
		return 1;
	}
	switch (r.op) {
	case BTAPI_XOP_FEED_CREATE_:	op_feed_create(c, &r); break;
	case BTAPI_XOP_FEED_APPEND_:	op_feed_append(c, &r); break;
	case BTAPI_XOP_FEED_HEAD_:	op_feed_head(c, &r); break;
	case BTAPI_XOP_FEED_GET_:	op_feed_get(c, &r); break;
	case BTAPI_XOP_FEED_FOLLOW_:	op_feed_follow(c, &r); break;
	case BTAPI_XOP_FEED_UNFOLLOW_:	op_feed_unfollow(c, &r); break;
	case BTAPI_XOP_RECORD_SET_:	op_record_set(c, &r); break;
	case BTAPI_XOP_RECORD_GET_:	op_record_get(c, &r); break;
	case BTAPI_XOP_BAG_ADD_:
	case BTAPI_XOP_BAG_QUERY_:	op_bag(c, &r); break;
	case BTAPI_XOP_PUBSUB_JOIN_:
	case BTAPI_XOP_PUBSUB_PUBLISH_:
	case BTAPI_XOP_PUBSUB_LEAVE_:	op_pubsub(c, &r); break;
	case BTAPI_XOP_FRIEND_INVITE_:
	case BTAPI_XOP_FRIEND_ACCEPT_:
	case BTAPI_XOP_FRIEND_LIST_:
	case BTAPI_XOP_FRIEND_ALLOW_:
	case BTAPI_XOP_FRIEND_REMOVE_:	op_friend(c, &r); break;
	case BTAPI_XOP_PROGRAM_INSTALL_:
	case BTAPI_XOP_PROGRAM_LIST_:
	case BTAPI_XOP_PROGRAM_REMOVE_:	op_program(c, &r); break;
	case BTAPI_XOP_PEER_LIST_:	op_peer_list(c, &r); break;
	default:
		btapi_client_error_(c, r.id, BTAPI_EBADOP, NULL);
		break;
	}
	return 1;
}

int
btapi_ext_open_(struct btapi_server *srv)
{
	const struct btapi_server_config *cfg = btapi_server_cfg_(srv);
	struct xsrv *x;
	int rc;

	if ((x = calloc(1, sizeof(*x))) == NULL)
		return BT_ENOMEM;
	x->srv = srv;
	x->st = cfg->store;
	x->net = cfg->net;
	x->signer = cfg->signer;
	x->fs = cfg->feedsync;
	*btapi_server_ext_(srv) = x;
	if (x->net != NULL) {
		if ((rc = friends_load(x)) != BT_OK)
			return rc;	/* btapi_ext_close_() frees x */
		btnet_friend_setcb(x->net, friend_changed, x);
		x->friends_loaded = 1;
	}
	return BT_OK;
}

void
btapi_ext_client_free_(struct client *c)
{
	struct xsrv *x = xsrv_of(c);
	struct xfollow **fp, *f;
	struct xsub **sp;
	struct xpend *p;

	if (x == NULL)
		return;
	for (fp = &x->follows; (f = *fp) != NULL;) {
		if (f->c == c) {
			*fp = f->next;
			follow_free(f);
		} else {
			fp = &f->next;
		}
	}
	for (sp = &x->subs; *sp != NULL;) {
		if ((*sp)->c == c)
			sub_drop(x, sp);
		else
			sp = &(*sp)->next;
	}
	for (p = x->pends; p != NULL; p = p->next)
		if (p->c == c)
			p->c = NULL;
}

void
btapi_ext_close_(struct btapi_server *srv)
{
	struct xsrv *x = *btapi_server_ext_(srv);
	struct xpend *p;

	if (x == NULL)
		return;
	if (x->friends_loaded)
		btnet_friend_setcb(x->net, NULL, NULL);
	/* network operations still running call back later: let them find
	   nothing */
	while ((p = x->pends) != NULL) {
		x->pends = p->next;
		p->x = NULL;
		p->c = NULL;
		p->next = p->prev = NULL;
	}
	/* clients are gone: their follows and channels with them */
	free(x);
	*btapi_server_ext_(srv) = NULL;
}
