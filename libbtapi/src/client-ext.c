/*
 * client-ext.c - the program side of the data ops: feeds, records, bags,
 * pubsub, friends, programs and peers (blocktree-api(7), "Data ops"),
 * with their events and blocking forms.
 */
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include <bt/api.h>
#include <bt/block.h>
#include <bt/record.h>
#include <bt/scope.h>

#include "btapi-internal.h"

/* Most addresses reported per friend. */
#define ADDRS_MAX	8

struct xfollow_c {
	struct xfollow_c *next;
	int64_t id;
	btapi_follow_fn fn;
	void *arg;
};

struct xsub_c {
	struct xsub_c *next;
	struct bt_id channel;
	btapi_pubsub_fn fn;
	void *arg;
};

struct xconn {
	struct xfollow_c *follows;
	struct xsub_c *subs;
};

/* One request in flight: the typed callback and what to register. */
union xcb {
	btapi_done_cb done;
	btapi_feed_cb feed;
	btapi_entry_cb entry;
	btapi_id_cb id;
	btapi_record_cb record;
	btapi_bag_cb bag;
	btapi_bytes_cb bytes;
	btapi_node_cb node;
	btapi_friends_cb friends;
	btapi_programs_cb programs;
	btapi_peer_list_cb peers;
};

struct xctx {
	union xcb cb;
	void *arg;
	btapi_follow_fn ffn;		/* follow, join */
	btapi_pubsub_fn pfn;
	void *farg;
	struct bt_id channel;
};

static struct xconn *
xconn(struct btapi *c, int make)
{
	void **slot = btapi_conn_ext_(c);

	if (*slot == NULL && make)
		*slot = calloc(1, sizeof(struct xconn));
	return *slot;
}

void
btapi_ext_conn_free_(struct btapi *c)
{
	struct xconn *x = *btapi_conn_ext_(c);
	struct xfollow_c *f;
	struct xsub_c *s;

	if (x == NULL)
		return;
	while ((f = x->follows) != NULL) {
		x->follows = f->next;
		free(f);
	}
	while ((s = x->subs) != NULL) {
		x->subs = s->next;
		free(s);
	}
	free(x);
	*btapi_conn_ext_(c) = NULL;
}

static int
get_bin(const bson_t *b, const char *k, const uint8_t **p, size_t *len)
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

static int64_t
get_i64(const bson_t *b, const char *k)
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
get_bool(const bson_t *b, const char *k)
{
	bson_iter_t it;

	return b != NULL && bson_iter_init_find(&it, b, k) &&
	    BSON_ITER_HOLDS_BOOL(&it) && bson_iter_bool(&it);
}

static const char *
get_str(const bson_t *b, const char *k)
{
	bson_iter_t it;

	if (b == NULL || !bson_iter_init_find(&it, b, k) ||
	    !BSON_ITER_HOLDS_UTF8(&it))
		return NULL;
	return bson_iter_utf8(&it, NULL);
}

/* ---- events ----------------------------------------------------------------- */

void
btapi_ext_event_(struct btapi *c, const char *ev, const bson_t *b)
{
	struct xconn *x = xconn(c, 0);
	struct xfollow_c *f;
	struct xsub_c *s;
	const uint8_t *d, *ch, *from;
	size_t dl, cl, fl;
	struct bt_id cid, fid;
	int64_t id;

	if (x == NULL)
		return;
	if (strcmp(ev, "feed") == 0) {
		id = get_i64(b, "follow");
		for (f = x->follows; f != NULL; f = f->next)
			if (f->id == id)
				break;
		if (f == NULL || !get_bin(b, "data", &d, &dl))
			return;
		f->fn(f->arg, id, (uint64_t)get_i64(b, "index"), d, dl);
	} else if (strcmp(ev, "pubsub") == 0) {
		if (!get_bin(b, "channel", &ch, &cl) || cl != BT_ID_LEN ||
		    !get_bin(b, "from", &from, &fl) || fl != BT_ID_LEN ||
		    !get_bin(b, "data", &d, &dl))
			return;
		for (s = x->subs; s != NULL; s = s->next)
			if (memcmp(s->channel.b, ch, BT_ID_LEN) == 0)
				break;
		if (s == NULL)
			return;
		memcpy(cid.b, ch, BT_ID_LEN);
		memcpy(fid.b, from, BT_ID_LEN);
		s->fn(s->arg, &cid, &fid, d, dl);
	}
}

/* ---- requests ------------------------------------------------------------------ */

static int
xsend(struct btapi *c, bson_t *b, btapi_reply_fn_ fn, struct xctx *x)
{
	int rc = btapi_request_(c, b, fn, x);

	if (rc != BT_OK)
		free(x);
	return rc;
}

static struct xctx *
xctx_new(void *arg)
{
	struct xctx *x = calloc(1, sizeof(*x));

	if (x != NULL)
		x->arg = arg;
	return x;
}

#define BEGIN(c, cbp, op) \
	struct xctx *x; \
	bson_t b; \
	if ((c) == NULL) \
		return BT_EINVAL; \
	if ((x = xctx_new(arg)) == NULL) \
		return BT_ENOMEM; \
	btapi_req_begin_((c), &b, (op)); \
	(void)(cbp)

static void
r_done(struct btapi *c, void *arg, int err, const char *text, const bson_t *r)
{
	struct xctx *x = arg;

	(void)c;
	(void)text;
	(void)r;
	if (x->cb.done != NULL)
		x->cb.done(x->arg, err);
	free(x);
}

static void
r_feed(struct btapi *c, void *arg, int err, const char *text, const bson_t *r)
{
	struct xctx *x = arg;
	struct btapi_feed_info fi;
	const uint8_t *p;
	size_t n;

	(void)c;
	(void)text;
	memset(&fi, 0, sizeof(fi));
	if (err == BT_OK) {
		if (get_bin(r, "feed", &p, &n) && n == 32)
			memcpy(fi.feed.b, p, 32);
		else
			err = BT_EPROTO;
		fi.length = (uint64_t)get_i64(r, "length");
		fi.held = (uint64_t)get_i64(r, "held");
		fi.owned = get_bool(r, "owned");
		fi.forked = get_bool(r, "forked");
		fi.first = (uint64_t)get_i64(r, "first");
	}
	x->cb.feed(x->arg, err, err == BT_OK ? &fi : NULL);
	free(x);
}

int
btapi_feed_create(struct btapi *c, btapi_feed_cb cb, void *arg)
{
	BEGIN(c, cb, "feed-create");
	x->cb.feed = cb;
	if (cb == NULL) {
		bson_destroy(&b);
		free(x);
		return BT_EINVAL;
	}
	return xsend(c, &b, r_feed, x);
}

int
btapi_feed_append(struct btapi *c, const struct btapi_item *items, size_t n,
    btapi_feed_cb cb, void *arg)
{
	bson_t arr;
	char key[16];
	const char *k;
	size_t i, total = 0;

	if (c == NULL || cb == NULL || items == NULL || n == 0 ||
	    n > BTAPI_XITEMS_MAX_)
		return BT_EINVAL;
	for (i = 0; i < n; i++) {
		if (items[i].data == NULL && items[i].len > 0)
			return BT_EINVAL;
		if (items[i].len > BTCORE_BLOCK_MAX)
			return BT_ETOOBIG;
		total += items[i].len + 16;
	}
	if (total > BTAPI_FRAME_MAX - 1024)
		return BT_ETOOBIG;
	{
		BEGIN(c, cb, "feed-append");
		x->cb.feed = cb;
		BSON_APPEND_ARRAY_BEGIN(&b, "items", &arr);
		for (i = 0; i < n; i++) {
			bson_uint32_to_string((uint32_t)i, &k, key,
			    sizeof(key));
			bson_append_binary(&arr, k, -1, BSON_SUBTYPE_BINARY,
			    items[i].len > 0 ? items[i].data :
			    (const uint8_t *)"", (uint32_t)items[i].len);
		}
		bson_append_array_end(&b, &arr);
		return xsend(c, &b, r_feed, x);
	}
}

int
btapi_feed_head(struct btapi *c, const struct bt_pubkey *feed,
    btapi_feed_cb cb, void *arg)
{
	if (cb == NULL)
		return BT_EINVAL;
	{
		BEGIN(c, cb, "feed-head");
		x->cb.feed = cb;
		if (feed != NULL)
			BSON_APPEND_BINARY(&b, "feed", BSON_SUBTYPE_BINARY,
			    feed->b, 32);
		return xsend(c, &b, r_feed, x);
	}
}

static void
r_entry(struct btapi *c, void *arg, int err, const char *text,
    const bson_t *r)
{
	struct xctx *x = arg;
	const uint8_t *d = NULL;
	size_t n = 0;

	(void)c;
	(void)text;
	if (err == BT_OK && !get_bin(r, "data", &d, &n))
		err = BT_EPROTO;
	x->cb.entry(x->arg, err, (uint64_t)get_i64(r, "index"),
	    err == BT_OK ? d : NULL, err == BT_OK ? n : 0);
	free(x);
}

int
btapi_feed_get(struct btapi *c, const struct bt_pubkey *feed, uint64_t index,
    btapi_entry_cb cb, void *arg)
{
	if (cb == NULL || index > INT64_MAX)
		return BT_EINVAL;
	{
		BEGIN(c, cb, "feed-get");
		x->cb.entry = cb;
		if (feed != NULL)
			BSON_APPEND_BINARY(&b, "feed", BSON_SUBTYPE_BINARY,
			    feed->b, 32);
		BSON_APPEND_INT64(&b, "index", (int64_t)index);
		return xsend(c, &b, r_entry, x);
	}
}

static void
r_follow(struct btapi *c, void *arg, int err, const char *text,
    const bson_t *r)
{
	struct xctx *x = arg;
	struct xconn *xc;
	struct xfollow_c *f = NULL;
	int64_t id = 0;

	(void)text;
	if (err == BT_OK) {
		id = get_i64(r, "follow");
		if ((xc = xconn(c, 1)) == NULL ||
		    (f = calloc(1, sizeof(*f))) == NULL) {
			err = BT_ENOMEM;	/* the node keeps sending; the
						   events are dropped */
			id = 0;
		} else {
			f->id = id;
			f->fn = x->ffn;
			f->arg = x->farg;
			f->next = xc->follows;
			xc->follows = f;
		}
	}
	if (x->cb.id != NULL)
		x->cb.id(x->arg, err, id);
	free(x);
}

int
btapi_feed_follow(struct btapi *c, const struct bt_pubkey *feed,
    uint64_t from, btapi_follow_fn fn, void *fnarg, btapi_id_cb cb, void *arg)
{
	if (fn == NULL || from > INT64_MAX)
		return BT_EINVAL;
	{
		BEGIN(c, cb, "feed-follow");
		x->cb.id = cb;
		x->ffn = fn;
		x->farg = fnarg;
		if (feed != NULL)
			BSON_APPEND_BINARY(&b, "feed", BSON_SUBTYPE_BINARY,
			    feed->b, 32);
		BSON_APPEND_INT64(&b, "from", (int64_t)from);
		return xsend(c, &b, r_follow, x);
	}
}

int
btapi_feed_unfollow(struct btapi *c, int64_t follow, btapi_done_cb cb,
    void *arg)
{
	struct xconn *xc;
	struct xfollow_c **fp, *f;

	if (c == NULL)
		return BT_EINVAL;
	/* no event reaches the program after this call */
	if ((xc = xconn(c, 0)) != NULL) {
		for (fp = &xc->follows; (f = *fp) != NULL; fp = &f->next)
			if (f->id == follow) {
				*fp = f->next;
				free(f);
				break;
			}
	}
	{
		BEGIN(c, cb, "feed-unfollow");
		x->cb.done = cb;
		BSON_APPEND_INT64(&b, "follow", follow);
		return xsend(c, &b, r_done, x);
	}
}

/* ---- records ------------------------------------------------------------------ */

static void
r_record(struct btapi *c, void *arg, int err, const char *text,
    const bson_t *r)
{
	struct xctx *x = arg;
	const uint8_t *v = NULL;
	size_t n = 0;

	(void)c;
	(void)text;
	if (err == BT_OK)
		(void)get_bin(r, "value", &v, &n);
	x->cb.record(x->arg, err, (uint64_t)get_i64(r, "seq"), v, n);
	free(x);
}

static int
key_ok(const void *key, size_t klen)
{
	return key != NULL && klen > 0 && klen <= BTCORE_RECORD_KEY_MAX;
}

/* Text keys travel as strings (readable in records and scopes). */
static void
append_key(bson_t *b, const void *key, size_t klen)
{
	const char *s = key;
	size_t i;

	for (i = 0; i < klen; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			break;
	if (i == klen)
		bson_append_utf8(b, "key", -1, s, (int)klen);
	else
		bson_append_binary(b, "key", -1, BSON_SUBTYPE_BINARY, key,
		    (uint32_t)klen);
}

int
btapi_record_set(struct btapi *c, const void *key, size_t klen,
    const void *value, size_t vlen, btapi_record_cb cb, void *arg)
{
	if (!key_ok(key, klen) || (value == NULL && vlen > 0))
		return BT_EINVAL;
	if (vlen > BTCORE_RECORD_VALUE_MAX)
		return BT_ERANGE;
	{
		BEGIN(c, cb, "record-set");
		x->cb.record = cb;
		append_key(&b, key, klen);
		BSON_APPEND_BINARY(&b, "value", BSON_SUBTYPE_BINARY,
		    vlen > 0 ? value : (const void *)"", (uint32_t)vlen);
		if (cb == NULL) {
			bson_destroy(&b);
			free(x);
			return BT_EINVAL;
		}
		return xsend(c, &b, r_record, x);
	}
}

int
btapi_record_get(struct btapi *c, const struct bt_pubkey *pub,
    const void *key, size_t klen, btapi_record_cb cb, void *arg)
{
	if (!key_ok(key, klen) || cb == NULL)
		return BT_EINVAL;
	{
		BEGIN(c, cb, "record-get");
		x->cb.record = cb;
		append_key(&b, key, klen);
		if (pub != NULL)
			BSON_APPEND_BINARY(&b, "pub", BSON_SUBTYPE_BINARY,
			    pub->b, 32);
		return xsend(c, &b, r_record, x);
	}
}

/* ---- bags ------------------------------------------------------------------------ */

static void
r_bag(struct btapi *c, void *arg, int err, const char *text, const bson_t *r)
{
	struct xctx *x = arg;
	uint8_t (*v)[32] = NULL;
	bson_iter_t it, in;
	const uint8_t *p;
	bson_subtype_t sub;
	uint32_t n;
	size_t cnt = 0;

	(void)c;
	(void)text;
	if (err == BT_OK) {
		err = BT_EPROTO;
		if (bson_iter_init_find(&it, r, "values") &&
		    BSON_ITER_HOLDS_ARRAY(&it) && bson_iter_recurse(&it, &in)) {
			err = BT_OK;
			v = calloc(256, 32);
			if (v == NULL)
				err = BT_ENOMEM;
			while (v != NULL && cnt < 256 && bson_iter_next(&in)) {
				if (!BSON_ITER_HOLDS_BINARY(&in))
					continue;
				bson_iter_binary(&in, &sub, &n, &p);
				if (n != 32)
					continue;
				memcpy(v[cnt++], p, 32);
			}
		}
	}
	x->cb.bag(x->arg, err, (const uint8_t (*)[32])v, err == BT_OK ? cnt :
	    0);
	free(v);
	free(x);
}

int
btapi_bag_add(struct btapi *c, const struct bt_id *key,
    const uint8_t value[32], btapi_done_cb cb, void *arg)
{
	if (key == NULL || value == NULL)
		return BT_EINVAL;
	{
		BEGIN(c, cb, "bag-add");
		x->cb.done = cb;
		BSON_APPEND_BINARY(&b, "key", BSON_SUBTYPE_BINARY, key->b, 32);
		BSON_APPEND_BINARY(&b, "value", BSON_SUBTYPE_BINARY, value, 32);
		return xsend(c, &b, r_done, x);
	}
}

int
btapi_bag_query(struct btapi *c, int kind, const struct bt_id *key,
    size_t limit, btapi_bag_cb cb, void *arg)
{
	static const char *const kinds[] = { NULL, "popular", "recent",
	    "sample" };

	if (key == NULL || cb == NULL || kind < BTAPI_BAG_POPULAR ||
	    kind > BTAPI_BAG_SAMPLE)
		return BT_EINVAL;
	if (limit < 1 || limit > 256)
		return BT_ERANGE;
	{
		BEGIN(c, cb, "bag-query");
		x->cb.bag = cb;
		BSON_APPEND_BINARY(&b, "key", BSON_SUBTYPE_BINARY, key->b, 32);
		BSON_APPEND_UTF8(&b, "kind", kinds[kind]);
		BSON_APPEND_INT32(&b, "limit", (int32_t)limit);
		return xsend(c, &b, r_bag, x);
	}
}

/* ---- pubsub ----------------------------------------------------------------------- */

static void
r_join(struct btapi *c, void *arg, int err, const char *text,
    const bson_t *r)
{
	struct xctx *x = arg;
	struct xconn *xc;
	struct xsub_c *s;

	(void)text;
	(void)r;
	if (err == BT_OK) {
		if ((xc = xconn(c, 1)) == NULL) {
			err = BT_ENOMEM;
		} else {
			for (s = xc->subs; s != NULL; s = s->next)
				if (memcmp(s->channel.b, x->channel.b, 32) == 0)
					break;
			if (s == NULL && (s = calloc(1, sizeof(*s))) != NULL) {
				s->channel = x->channel;
				s->next = xc->subs;
				xc->subs = s;
			}
			if (s == NULL) {
				err = BT_ENOMEM;
			} else {
				s->fn = x->pfn;
				s->arg = x->farg;
			}
		}
	}
	if (x->cb.done != NULL)
		x->cb.done(x->arg, err);
	free(x);
}

int
btapi_pubsub_join(struct btapi *c, const struct bt_id *channel,
    btapi_pubsub_fn fn, void *fnarg, btapi_done_cb cb, void *arg)
{
	if (channel == NULL || fn == NULL)
		return BT_EINVAL;
	{
		BEGIN(c, cb, "pubsub-join");
		x->cb.done = cb;
		x->pfn = fn;
		x->farg = fnarg;
		x->channel = *channel;
		BSON_APPEND_BINARY(&b, "channel", BSON_SUBTYPE_BINARY,
		    channel->b, 32);
		return xsend(c, &b, r_join, x);
	}
}

int
btapi_pubsub_publish(struct btapi *c, const struct bt_id *channel,
    const void *data, size_t len, btapi_done_cb cb, void *arg)
{
	if (channel == NULL || (data == NULL && len > 0))
		return BT_EINVAL;
	if (len > BTAPI_IO_MAX)
		return BT_ETOOBIG;
	{
		BEGIN(c, cb, "pubsub-publish");
		x->cb.done = cb;
		BSON_APPEND_BINARY(&b, "channel", BSON_SUBTYPE_BINARY,
		    channel->b, 32);
		BSON_APPEND_BINARY(&b, "data", BSON_SUBTYPE_BINARY,
		    len > 0 ? data : (const void *)"", (uint32_t)len);
		return xsend(c, &b, r_done, x);
	}
}

int
btapi_pubsub_leave(struct btapi *c, const struct bt_id *channel,
    btapi_done_cb cb, void *arg)
{
	struct xconn *xc;
	struct xsub_c **sp, *s;

	if (c == NULL || channel == NULL)
		return BT_EINVAL;
	if ((xc = xconn(c, 0)) != NULL) {
		for (sp = &xc->subs; (s = *sp) != NULL; sp = &s->next)
			if (memcmp(s->channel.b, channel->b, 32) == 0) {
				*sp = s->next;
				free(s);
				break;
			}
	}
	{
		BEGIN(c, cb, "pubsub-leave");
		x->cb.done = cb;
		BSON_APPEND_BINARY(&b, "channel", BSON_SUBTYPE_BINARY,
		    channel->b, 32);
		return xsend(c, &b, r_done, x);
	}
}

/* ---- friends ---------------------------------------------------------------------- */

static void
r_bytes(struct btapi *c, void *arg, int err, const char *text,
    const bson_t *r)
{
	struct xctx *x = arg;
	const uint8_t *d = NULL;
	size_t n = 0;

	(void)c;
	(void)text;
	if (err == BT_OK && !get_bin(r, "file", &d, &n))
		err = BT_EPROTO;
	x->cb.bytes(x->arg, err, d, n);
	free(x);
}

static void
r_node(struct btapi *c, void *arg, int err, const char *text,
    const bson_t *r)
{
	struct xctx *x = arg;
	const uint8_t *d;
	size_t n;
	struct bt_id id;

	(void)c;
	(void)text;
	memset(&id, 0, sizeof(id));
	if (err == BT_OK) {
		if (get_bin(r, "node", &d, &n) && n == BT_ID_LEN)
			memcpy(id.b, d, BT_ID_LEN);
		else
			err = BT_EPROTO;
	}
	if (x->cb.node != NULL)
		x->cb.node(x->arg, err, err == BT_OK ? &id : NULL);
	free(x);
}

static void
r_friends(struct btapi *c, void *arg, int err, const char *text,
    const bson_t *r)
{
	struct xctx *x = arg;
	struct btapi_friend *f = NULL;
	const char **addrs = NULL;
	bson_iter_t it, in, one, aa;
	const uint8_t *d;
	uint32_t dl;
	bson_subtype_t sub;
	size_t n = 0, na = 0;

	(void)c;
	(void)text;
	if (err == BT_OK) {
		err = BT_ENOMEM;
		if ((f = calloc(256, sizeof(*f))) == NULL ||
		    (addrs = calloc(256 * ADDRS_MAX, sizeof(*addrs))) == NULL)
			goto done;
		err = BT_EPROTO;
		if (!bson_iter_init_find(&it, r, "friends") ||
		    !BSON_ITER_HOLDS_ARRAY(&it) || !bson_iter_recurse(&it, &in))
			goto done;
		err = BT_OK;
		while (n < 256 && bson_iter_next(&in)) {
			if (!BSON_ITER_HOLDS_DOCUMENT(&in) ||
			    !bson_iter_recurse(&in, &one))
				continue;
			f[n].addrs = addrs + n * ADDRS_MAX;
			na = 0;
			while (bson_iter_next(&one)) {
				const char *k = bson_iter_key(&one);

				if (strcmp(k, "node") == 0 &&
				    BSON_ITER_HOLDS_BINARY(&one)) {
					bson_iter_binary(&one, &sub, &dl, &d);
					if (dl == BT_ID_LEN)
						memcpy(f[n].node.b, d, 32);
				} else if (strcmp(k, "connected") == 0 &&
				    BSON_ITER_HOLDS_BOOL(&one)) {
					f[n].connected = bson_iter_bool(&one);
				} else if (strcmp(k, "addrs") == 0 &&
				    BSON_ITER_HOLDS_ARRAY(&one) &&
				    bson_iter_recurse(&one, &aa)) {
					while (na < ADDRS_MAX &&
					    bson_iter_next(&aa))
						if (BSON_ITER_HOLDS_UTF8(&aa))
							addrs[n * ADDRS_MAX +
							    na++] =
							    bson_iter_utf8(&aa,
							    NULL);
				}
			}
			f[n].naddrs = na;
			n++;
		}
	}
done:
	x->cb.friends(x->arg, err, err == BT_OK ? f : NULL,
	    err == BT_OK ? n : 0);
	free(addrs);
	free(f);
	free(x);
}

int
btapi_friend_invite(struct btapi *c, btapi_bytes_cb cb, void *arg)
{
	if (cb == NULL)
		return BT_EINVAL;
	{
		BEGIN(c, cb, "friend-invite");
		x->cb.bytes = cb;
		return xsend(c, &b, r_bytes, x);
	}
}

int
btapi_friend_accept(struct btapi *c, const uint8_t *file, size_t len,
    btapi_node_cb cb, void *arg)
{
	if (file == NULL || len == 0)
		return BT_EINVAL;
	if (len > 1024)
		return BT_ETOOBIG;
	{
		BEGIN(c, cb, "friend-accept");
		x->cb.node = cb;
		BSON_APPEND_BINARY(&b, "file", BSON_SUBTYPE_BINARY, file,
		    (uint32_t)len);
		return xsend(c, &b, r_node, x);
	}
}

int
btapi_friend_list(struct btapi *c, btapi_friends_cb cb, void *arg)
{
	if (cb == NULL)
		return BT_EINVAL;
	{
		BEGIN(c, cb, "friend-list");
		x->cb.friends = cb;
		return xsend(c, &b, r_friends, x);
	}
}

int
btapi_friend_allow(struct btapi *c, const struct bt_id *node,
    const char *const *scopes, size_t n, btapi_done_cb cb, void *arg)
{
	bson_t arr;
	char key[16];
	const char *k;
	size_t i;

	if (node == NULL || (scopes == NULL && n > 0))
		return BT_EINVAL;
	if (n > BTAPI_XSCOPES_MAX_)
		return BT_ERANGE;
	for (i = 0; i < n; i++)
		if (scopes[i] == NULL ||
		    !btcore_scope_valid(scopes[i], strlen(scopes[i])))
			return BT_EINVAL;
	{
		BEGIN(c, cb, "friend-allow");
		x->cb.done = cb;
		BSON_APPEND_BINARY(&b, "node", BSON_SUBTYPE_BINARY, node->b, 32);
		BSON_APPEND_ARRAY_BEGIN(&b, "scopes", &arr);
		for (i = 0; i < n; i++) {
			bson_uint32_to_string((uint32_t)i, &k, key,
			    sizeof(key));
			BSON_APPEND_UTF8(&arr, k, scopes[i]);
		}
		bson_append_array_end(&b, &arr);
		return xsend(c, &b, r_done, x);
	}
}

int
btapi_friend_remove(struct btapi *c, const struct bt_id *node,
    btapi_done_cb cb, void *arg)
{
	if (node == NULL)
		return BT_EINVAL;
	{
		BEGIN(c, cb, "friend-remove");
		x->cb.done = cb;
		BSON_APPEND_BINARY(&b, "node", BSON_SUBTYPE_BINARY, node->b, 32);
		return xsend(c, &b, r_done, x);
	}
}

/* ---- programs and peers ---------------------------------------------------------- */

static void
r_programs(struct btapi *c, void *arg, int err, const char *text,
    const bson_t *r)
{
	struct xctx *x = arg;
	struct btapi_program *p = NULL;
	bson_iter_t it, in;
	bson_t one;
	const uint8_t *d;
	uint32_t dl;
	size_t n = 0;

	(void)c;
	(void)text;
	if (err == BT_OK) {
		err = BT_EPROTO;
		if (!bson_iter_init_find(&it, r, "programs") ||
		    !BSON_ITER_HOLDS_ARRAY(&it) || !bson_iter_recurse(&it, &in))
			goto done;
		err = BT_ENOMEM;
		if ((p = calloc(1024, sizeof(*p))) == NULL)
			goto done;
		err = BT_OK;
		while (n < 1024 && bson_iter_next(&in)) {
			if (!BSON_ITER_HOLDS_DOCUMENT(&in))
				continue;
			bson_iter_document(&in, &dl, &d);
			if (!bson_init_static(&one, d, dl))
				continue;
			p[n].name = get_str(&one, "name");
			p[n].version = get_str(&one, "version");
			if (p[n].name == NULL || p[n].version == NULL)
				continue;
			p[n].scopes = (uint32_t)get_i64(&one, "scopes");
			p[n].routes = (uint32_t)get_i64(&one, "routes");
			p[n].grants = (uint32_t)get_i64(&one, "grants");
			n++;
		}
	}
done:
	x->cb.programs(x->arg, err, err == BT_OK ? p : NULL,
	    err == BT_OK ? n : 0);
	free(p);
	free(x);
}

static void
r_peers(struct btapi *c, void *arg, int err, const char *text,
    const bson_t *r)
{
	struct xctx *x = arg;
	struct btapi_peer *p = NULL;
	bson_iter_t it, in;
	bson_t one;
	const uint8_t *d, *id;
	uint32_t dl;
	size_t n = 0, il;

	(void)c;
	(void)text;
	if (err == BT_OK) {
		err = BT_EPROTO;
		if (!bson_iter_init_find(&it, r, "peers") ||
		    !BSON_ITER_HOLDS_ARRAY(&it) || !bson_iter_recurse(&it, &in))
			goto done;
		err = BT_ENOMEM;
		if ((p = calloc(256, sizeof(*p))) == NULL)
			goto done;
		err = BT_OK;
		while (n < 256 && bson_iter_next(&in)) {
			if (!BSON_ITER_HOLDS_DOCUMENT(&in))
				continue;
			bson_iter_document(&in, &dl, &d);
			if (!bson_init_static(&one, d, dl) ||
			    !get_bin(&one, "node", &id, &il) || il != 32)
				continue;
			memcpy(p[n].node.b, id, 32);
			p[n].addr = get_str(&one, "addr");
			if (p[n].addr == NULL)
				p[n].addr = "";
			n++;
		}
	}
done:
	x->cb.peers(x->arg, err, err == BT_OK ? p : NULL, err == BT_OK ? n : 0,
	    get_bool(r, "online"));
	free(p);
	free(x);
}

int
btapi_program_install(struct btapi *c, const uint8_t *manifest, size_t len,
    btapi_done_cb cb, void *arg)
{
	if (manifest == NULL || len == 0)
		return BT_EINVAL;
	if (len > BTAPI_FRAME_MAX / 2)
		return BT_ETOOBIG;
	{
		BEGIN(c, cb, "program-install");
		x->cb.done = cb;
		BSON_APPEND_BINARY(&b, "manifest", BSON_SUBTYPE_BINARY,
		    manifest, (uint32_t)len);
		return xsend(c, &b, r_done, x);
	}
}

int
btapi_program_list(struct btapi *c, btapi_programs_cb cb, void *arg)
{
	if (cb == NULL)
		return BT_EINVAL;
	{
		BEGIN(c, cb, "program-list");
		x->cb.programs = cb;
		return xsend(c, &b, r_programs, x);
	}
}

int
btapi_program_remove(struct btapi *c, const char *name, btapi_done_cb cb,
    void *arg)
{
	if (name == NULL || name[0] == '\0' || strlen(name) > 64)
		return BT_EINVAL;
	{
		BEGIN(c, cb, "program-remove");
		x->cb.done = cb;
		BSON_APPEND_UTF8(&b, "name", name);
		return xsend(c, &b, r_done, x);
	}
}

int
btapi_peer_list(struct btapi *c, btapi_peer_list_cb cb, void *arg)
{
	if (cb == NULL)
		return BT_EINVAL;
	{
		BEGIN(c, cb, "peer-list");
		x->cb.peers = cb;
		return xsend(c, &b, r_peers, x);
	}
}

/* ---- blocking ------------------------------------------------------------------------ */

struct xs {
	int done, err;
	struct btapi_feed_info *fi;
	void *buf;
	size_t cap, *len;
	uint64_t *seq;
	int64_t id;
	struct bt_id *node;
	union xcb user;
	void *uarg;
};

static int
xwait(struct btapi *c, int rc, struct xs *s)
{
	if (rc != BT_OK)
		return rc;
	if ((rc = btapi_wait_(c, &s->done)) != BT_OK)
		return rc;
	return s->err;
}

/* A blocking call must be on a blocking connection before it starts. */
static int
blocking(struct btapi *c)
{
	int done = 1;

	if (c == NULL)
		return BT_EINVAL;
	return btapi_wait_(c, &done);
}

static void
s_done(void *arg, int err)
{
	struct xs *s = arg;

	s->err = err;
	s->done = 1;
}

static void
s_feed(void *arg, int err, const struct btapi_feed_info *fi)
{
	struct xs *s = arg;

	if (err == BT_OK && s->fi != NULL)
		*s->fi = *fi;
	s_done(s, err);
}

static void
s_copy(struct xs *s, int err, const void *data, size_t len)
{
	if (err == BT_OK) {
		*s->len = len;
		if (len > s->cap)
			err = BT_ERANGE;
		else if (len > 0)
			memcpy(s->buf, data, len);
	}
	s_done(s, err);
}

static void
s_entry(void *arg, int err, uint64_t index, const void *data, size_t len)
{
	(void)index;
	s_copy(arg, err, data, len);
}

static void
s_record(void *arg, int err, uint64_t seq, const void *value, size_t len)
{
	struct xs *s = arg;

	if (err == BT_OK && s->seq != NULL)
		*s->seq = seq;
	if (s->len == NULL)
		s_done(s, err);
	else
		s_copy(s, err, value, len);
}

static void
s_bytes(void *arg, int err, const uint8_t *data, size_t len)
{
	s_copy(arg, err, data, len);
}

static void
s_node(void *arg, int err, const struct bt_id *node)
{
	struct xs *s = arg;

	if (err == BT_OK && s->node != NULL)
		*s->node = *node;
	s_done(s, err);
}

static void
s_id(void *arg, int err, int64_t id)
{
	struct xs *s = arg;

	s->id = id;
	s_done(s, err);
}

static void
s_bag(void *arg, int err, const uint8_t (*v)[32], size_t n)
{
	struct xs *s = arg;

	if (err == BT_OK)
		s->user.bag(s->uarg, err, v, n);
	s_done(s, err);
}

static void
s_friends(void *arg, int err, const struct btapi_friend *f, size_t n)
{
	struct xs *s = arg;

	if (err == BT_OK)
		s->user.friends(s->uarg, err, f, n);
	s_done(s, err);
}

static void
s_programs(void *arg, int err, const struct btapi_program *p, size_t n)
{
	struct xs *s = arg;

	if (err == BT_OK)
		s->user.programs(s->uarg, err, p, n);
	s_done(s, err);
}

static void
s_peers(void *arg, int err, const struct btapi_peer *p, size_t n, int online)
{
	struct xs *s = arg;

	if (err == BT_OK)
		s->user.peers(s->uarg, err, p, n, online);
	s_done(s, err);
}

#define SYNC_BEGIN(c) \
	struct xs s; \
	int rc; \
	memset(&s, 0, sizeof(s)); \
	if ((rc = blocking(c)) != BT_OK) \
		return rc

int
btapi_feed_create_sync(struct btapi *c, struct btapi_feed_info *fi)
{
	SYNC_BEGIN(c);
	s.fi = fi;
	return xwait(c, btapi_feed_create(c, s_feed, &s), &s);
}

int
btapi_feed_append_sync(struct btapi *c, const struct btapi_item *items,
    size_t n, struct btapi_feed_info *fi)
{
	SYNC_BEGIN(c);
	s.fi = fi;
	return xwait(c, btapi_feed_append(c, items, n, s_feed, &s), &s);
}

int
btapi_feed_head_sync(struct btapi *c, const struct bt_pubkey *feed,
    struct btapi_feed_info *fi)
{
	SYNC_BEGIN(c);
	s.fi = fi;
	return xwait(c, btapi_feed_head(c, feed, s_feed, &s), &s);
}

int
btapi_feed_get_sync(struct btapi *c, const struct bt_pubkey *feed,
    uint64_t index, void *buf, size_t cap, size_t *len)
{
	SYNC_BEGIN(c);
	if (len == NULL || (buf == NULL && cap > 0))
		return BT_EINVAL;
	*len = 0;
	s.buf = buf;
	s.cap = cap;
	s.len = len;
	return xwait(c, btapi_feed_get(c, feed, index, s_entry, &s), &s);
}

int
btapi_feed_follow_sync(struct btapi *c, const struct bt_pubkey *feed,
    uint64_t from, btapi_follow_fn fn, void *fnarg, int64_t *follow)
{
	SYNC_BEGIN(c);
	rc = xwait(c, btapi_feed_follow(c, feed, from, fn, fnarg, s_id, &s),
	    &s);
	if (follow != NULL)
		*follow = rc == BT_OK ? s.id : 0;
	return rc;
}

int
btapi_record_set_sync(struct btapi *c, const void *key, size_t klen,
    const void *value, size_t vlen, uint64_t *seq)
{
	SYNC_BEGIN(c);
	s.seq = seq;
	return xwait(c, btapi_record_set(c, key, klen, value, vlen, s_record,
	    &s), &s);
}

int
btapi_record_get_sync(struct btapi *c, const struct bt_pubkey *pub,
    const void *key, size_t klen, void *buf, size_t cap, size_t *len,
    uint64_t *seq)
{
	SYNC_BEGIN(c);
	if (len == NULL || (buf == NULL && cap > 0))
		return BT_EINVAL;
	*len = 0;
	s.buf = buf;
	s.cap = cap;
	s.len = len;
	s.seq = seq;
	return xwait(c, btapi_record_get(c, pub, key, klen, s_record, &s), &s);
}

int
btapi_bag_add_sync(struct btapi *c, const struct bt_id *key,
    const uint8_t value[32])
{
	SYNC_BEGIN(c);
	return xwait(c, btapi_bag_add(c, key, value, s_done, &s), &s);
}

int
btapi_bag_query_sync(struct btapi *c, int kind, const struct bt_id *key,
    size_t limit, btapi_bag_cb cb, void *arg)
{
	SYNC_BEGIN(c);
	if (cb == NULL)
		return BT_EINVAL;
	s.user.bag = cb;
	s.uarg = arg;
	return xwait(c, btapi_bag_query(c, kind, key, limit, s_bag, &s), &s);
}

int
btapi_friend_invite_sync(struct btapi *c, uint8_t *buf, size_t cap,
    size_t *len)
{
	SYNC_BEGIN(c);
	if (len == NULL || (buf == NULL && cap > 0))
		return BT_EINVAL;
	*len = 0;
	s.buf = buf;
	s.cap = cap;
	s.len = len;
	return xwait(c, btapi_friend_invite(c, s_bytes, &s), &s);
}

int
btapi_friend_accept_sync(struct btapi *c, const uint8_t *file, size_t len,
    struct bt_id *node)
{
	SYNC_BEGIN(c);
	s.node = node;
	return xwait(c, btapi_friend_accept(c, file, len, s_node, &s), &s);
}

int
btapi_friend_list_sync(struct btapi *c, btapi_friends_cb cb, void *arg)
{
	SYNC_BEGIN(c);
	if (cb == NULL)
		return BT_EINVAL;
	s.user.friends = cb;
	s.uarg = arg;
	return xwait(c, btapi_friend_list(c, s_friends, &s), &s);
}

int
btapi_friend_remove_sync(struct btapi *c, const struct bt_id *node)
{
	SYNC_BEGIN(c);
	return xwait(c, btapi_friend_remove(c, node, s_done, &s), &s);
}

int
btapi_program_install_sync(struct btapi *c, const uint8_t *manifest,
    size_t len)
{
	SYNC_BEGIN(c);
	return xwait(c, btapi_program_install(c, manifest, len, s_done, &s),
	    &s);
}

int
btapi_program_list_sync(struct btapi *c, btapi_programs_cb cb, void *arg)
{
	SYNC_BEGIN(c);
	if (cb == NULL)
		return BT_EINVAL;
	s.user.programs = cb;
	s.uarg = arg;
	return xwait(c, btapi_program_list(c, s_programs, &s), &s);
}

int
btapi_program_remove_sync(struct btapi *c, const char *name)
{
	SYNC_BEGIN(c);
	return xwait(c, btapi_program_remove(c, name, s_done, &s), &s);
}

int
btapi_peer_list_sync(struct btapi *c, btapi_peer_list_cb cb, void *arg)
{
	SYNC_BEGIN(c);
	if (cb == NULL)
		return BT_EINVAL;
	s.user.peers = cb;
	s.uarg = arg;
	return xwait(c, btapi_peer_list(c, s_peers, &s), &s);
}

static void
run_expire(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	*(int *)arg = 1;
}

int
btapi_run_sync(struct btapi *c, uint32_t ms)
{
	struct event *t = NULL;
	struct timeval tv;
	int expired = 0, never = 0, rc;

	if ((rc = blocking(c)) != BT_OK)
		return rc;
	if (ms == 0)
		return btapi_wait_(c, &never);
	if ((t = evtimer_new(btapi_conn_base_(c), run_expire, &expired)) ==
	    NULL)
		return BT_ENOMEM;
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(t, &tv);
	rc = btapi_wait_(c, &expired);
	event_free(t);
	return rc;
}
