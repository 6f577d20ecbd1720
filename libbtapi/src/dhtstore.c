/*
 * dhtstore.c - the DHT engine's storage on libbtstore (see bt/apidht.h).
 */
#include <stdlib.h>
#include <string.h>

#include <bt/apidht.h>
#include <bt/bag.h>
#include <bt/dhtstore.h>
#include <bt/record.h>
#include <bt/recordstore.h>
#include <bt/store.h>

enum { K_EMPTY = 0, K_VALUE, K_RECORD, K_BAG };

struct item {
	struct bt_id id;
	uint8_t kind;
	uint32_t len;
	uint64_t refreshed;
	uint64_t republished;
};

struct btapi_dhtstore {
	struct btstore *st;
	struct item *tab;
	size_t cap;		/* power of two */
	size_t n;
	uint64_t bytes;
	uint64_t max_bytes;
	uint32_t max_items;
	uint8_t *vbuf;		/* BTSTORE_BLOCK_MAX: value_get results */
	uint8_t rbuf[BTCORE_RECORD_ENC_MAX];
};

static size_t
slot_of(const struct btapi_dhtstore *s, int kind, const struct bt_id *id)
{
	uint64_t h;

	memcpy(&h, id->b, sizeof(h));
	h ^= (uint64_t)kind * 0x9e3779b97f4a7c15ull;
	return (size_t)h & (s->cap - 1);
}

static struct item *
find(struct btapi_dhtstore *s, int kind, const struct bt_id *id)
{
	size_t i = slot_of(s, kind, id);
	struct item *it;

	for (;;) {
		it = &s->tab[i];
		if (it->kind == K_EMPTY)
			return NULL;
		if (it->kind == kind && memcmp(it->id.b, id->b, BT_ID_LEN) == 0)
			return it;
		i = (i + 1) & (s->cap - 1);
	}
}

/* Put a copy of @p src into @p s's table (s->cap slots, not full). */
static struct item *
place(struct item *tab, const struct btapi_dhtstore *s, const struct item *src)
{
	size_t i;

	i = slot_of(s, src->kind, &src->id);
	while (tab[i].kind != K_EMPTY)
		i = (i + 1) & (s->cap - 1);
	tab[i] = *src;
	return &tab[i];
}

/* Rebuild the table at @p cap slots, keeping items refreshed at or after
 * @p keep_after (0: all). */
static int
rebuild(struct btapi_dhtstore *s, size_t cap, uint64_t keep_after)
{
	struct item *old = s->tab, *tab;
	size_t oldcap = s->cap, i;

	if ((tab = calloc(cap, sizeof(*tab))) == NULL)
		return BT_ENOMEM;
	s->tab = tab;
	s->cap = cap;
	s->n = 0;
	s->bytes = 0;
	for (i = 0; i < oldcap; i++) {
		if (old[i].kind == K_EMPTY || old[i].refreshed == 0 ||
		    old[i].refreshed < keep_after)
			continue;
		place(tab, s, &old[i]);
		s->n++;
		s->bytes += old[i].len;
	}
	free(old);
	return BT_OK;
}

/* Find or add an item; BT_ENOSPC when the budget is spent. */
static int
upsert(struct btapi_dhtstore *s, int kind, const struct bt_id *id,
    uint32_t len, uint64_t now, struct item **out)
{
	struct item *it, tmp;
	int rc;

	if ((it = find(s, kind, id)) != NULL) {
		if (len > it->len && s->bytes + (len - it->len) > s->max_bytes)
			return BT_ENOSPC;
		s->bytes = s->bytes - it->len + len;
		it->len = len;
		it->refreshed = now;
		*out = it;
		return BT_OK;
	}
	if (s->n >= s->max_items || s->bytes + len > s->max_bytes)
		return BT_ENOSPC;
	if ((s->n + 1) * 2 > s->cap &&
	    (rc = rebuild(s, s->cap * 2, 0)) != BT_OK)
		return rc;
	memset(&tmp, 0, sizeof(tmp));
	tmp.id = *id;
	tmp.kind = (uint8_t)kind;
	tmp.len = len;
	tmp.refreshed = now;
	tmp.republished = now;
	*out = place(s->tab, s, &tmp);
	s->n++;
	s->bytes += len;
	return BT_OK;
}

static void
drop(struct item *it)
{
	/* mark stale: the next rebuild leaves it out */
	it->refreshed = 0;
	it->republished = UINT64_MAX;
}

/* ---- the interface ------------------------------------------------------- */

static int
value_put(void *ctx, const struct bt_id *key, const uint8_t *value, size_t len,
    const struct bt_id *origin, uint64_t now_ms)
{
	struct btapi_dhtstore *s = ctx;
	struct item *it;
	int rc;

	(void)origin;
	if (len > BTSTORE_BLOCK_MAX)
		return BT_ETOOBIG;
	if ((rc = upsert(s, K_VALUE, key, (uint32_t)len, now_ms, &it)) != BT_OK)
		return rc;
	if ((rc = btstore_block_put(s->st, key, value, len, 0)) != BT_OK)
		drop(it);
	return rc;
}

static int
value_get(void *ctx, const struct bt_id *key, const uint8_t **value,
    size_t *len)
{
	struct btapi_dhtstore *s = ctx;
	size_t n = 0;
	int rc;

	rc = btstore_block_get(s->st, key, s->vbuf, BTSTORE_BLOCK_MAX, &n);
	if (rc != BT_OK)
		return rc;
	*value = s->vbuf;
	*len = n;
	return BT_OK;
}

static int
bag_add(void *ctx, const struct bt_id *key, const uint8_t value[32],
    const struct bt_id *origin, uint64_t now_ms)
{
	struct btapi_dhtstore *s = ctx;
	struct item *it;
	int rc;

	if ((rc = upsert(s, K_BAG, key, 0, now_ms, &it)) != BT_OK)
		return rc;
	return btstore_bag_add(s->st, key, value, 32, origin, now_ms, NULL);
}

struct bagq {
	uint8_t (*out)[32];
	size_t limit, n;
};

static int
bag_one(void *arg, const void *value, size_t len, uint32_t count, uint64_t last)
{
	struct bagq *q = arg;

	(void)count;
	(void)last;
	if (len != 32)
		return 0;	/* not a DHT bag value */
	memcpy(q->out[q->n], value, 32);
	return ++q->n >= q->limit;
}

static int
bag_query(void *ctx, enum btnet_dht_bag kind, const struct bt_id *key,
    size_t limit, uint64_t seed, uint8_t (*out)[32], size_t *count)
{
	struct btapi_dhtstore *s = ctx;
	struct bagq q;
	int rc;

	(void)seed;
	*count = 0;
	if (limit == 0)
		return BT_OK;
	if (limit > BTSTORE_BAG_QUERY_MAX)
		limit = BTSTORE_BAG_QUERY_MAX;
	q.out = out;
	q.limit = limit;
	q.n = 0;
	switch (kind) {
	case BTNET_DHT_BAG_POPULAR:
		rc = btstore_bag_popular(s->st, key, limit, bag_one, &q);
		break;
	case BTNET_DHT_BAG_RECENT:
		rc = btstore_bag_recent(s->st, key, limit, bag_one, &q);
		break;
	case BTNET_DHT_BAG_SAMPLE:
		rc = btstore_bag_sample(s->st, key, limit, bag_one, &q);
		break;
	default:
		rc = BT_EINVAL;
		break;
	}
	if (rc == BT_OK)
		*count = q.n;
	return rc;
}

static int
record_put(void *ctx, const struct bt_id *target, const uint8_t *enc,
    size_t len, const struct bt_id *origin, uint64_t now_ms)
{
	struct btapi_dhtstore *s = ctx;
	struct bt_record rec;
	struct bt_id t;
	struct item *it;
	int rc;

	(void)origin;
	if ((rc = btcore_record_decode(&rec, enc, len)) != BT_OK)
		return rc;
	if ((rc = btcore_record_target(&t, &rec.pub, rec.key,
	    rec.key_len)) != BT_OK)
		return rc;
	if (memcmp(t.b, target->b, BT_ID_LEN) != 0)
		return BT_EINVAL;
	if ((rc = upsert(s, K_RECORD, target, (uint32_t)len, now_ms,
	    &it)) != BT_OK)
		return rc;
	rc = btstore_record_put(s->st, &rec, now_ms, 0, 0, NULL);
	if (rc == BT_ESTALE || rc == BT_ECONFLICT)
		rc = BT_OK;	/* ours is as new: keep it, refreshed */
	return rc;
}

static int
record_get(void *ctx, const struct bt_id *target, const uint8_t **enc,
    size_t *len)
{
	struct btapi_dhtstore *s = ctx;
	struct bt_record rec;
	size_t n = 0;
	int rc;

	rc = btstore_record_get_target(s->st, target, &rec, s->rbuf,
	    sizeof(s->rbuf), &n, NULL);
	if (rc != BT_OK)
		return rc;
	*enc = s->rbuf;
	*len = n;
	return BT_OK;
}

static int
republish(void *ctx, uint64_t before_ms, uint64_t now_ms,
    int (*fn)(void *arg, enum btnet_dht_item kind, const struct bt_id *id,
    const uint8_t *bytes, size_t len), void *arg)
{
	struct btapi_dhtstore *s = ctx;
	struct item *it;
	const uint8_t *bytes;
	size_t i, len;
	int rc;

	for (i = 0; i < s->cap; i++) {
		it = &s->tab[i];
		if (it->kind == K_EMPTY || it->kind == K_BAG ||
		    it->republished >= before_ms)
			continue;
		if (it->kind == K_VALUE)
			rc = value_get(s, &it->id, &bytes, &len);
		else
			rc = record_get(s, &it->id, &bytes, &len);
		if (rc == BT_ENOTFOUND || rc == BT_ECORRUPT) {
			drop(it);	/* collected or damaged meanwhile */
			continue;
		}
		if (rc != BT_OK)
			continue;
		if (fn(arg, it->kind == K_VALUE ? BTNET_DHT_ITEM_VALUE :
		    BTNET_DHT_ITEM_RECORD, &it->id, bytes, len) != 0)
			break;
		it->republished = now_ms;
	}
	return BT_OK;
}

static void
expire(void *ctx, uint64_t before_ms)
{
	struct btapi_dhtstore *s = ctx;

	/* on failure the table stays as it was; the next period retries */
	(void)rebuild(s, s->cap, before_ms == 0 ? 1 : before_ms);
}

int
btapi_dhtstore_new(struct btapi_dhtstore **out, struct btstore *st,
    uint64_t max_bytes, uint32_t max_items)
{
	struct btapi_dhtstore *s = NULL;
	int rc = BT_EINVAL;

	if (out != NULL)
		*out = NULL;
	if (out == NULL || st == NULL)
		goto out;
	rc = BT_ENOMEM;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		goto out;
	s->st = st;
	s->max_bytes = max_bytes != 0 ? max_bytes :
	    BTAPI_DHTSTORE_BYTES_DEFAULT;
	s->max_items = max_items != 0 ? max_items :
	    BTAPI_DHTSTORE_ITEMS_DEFAULT;
	s->cap = 1024;
	if ((s->tab = calloc(s->cap, sizeof(*s->tab))) == NULL ||
	    (s->vbuf = malloc(BTSTORE_BLOCK_MAX)) == NULL)
		goto out;
	*out = s;
	s = NULL;
	rc = BT_OK;
out:
	btapi_dhtstore_free(s);
	return rc;
}

void
btapi_dhtstore_storage(struct btapi_dhtstore *ds,
    struct btnet_dht_storage *iface)
{
	if (ds == NULL || iface == NULL)
		return;
	memset(iface, 0, sizeof(*iface));
	iface->ctx = ds;
	iface->value_put = value_put;
	iface->value_get = value_get;
	iface->bag_add = bag_add;
	iface->bag_query = bag_query;
	iface->record_put = record_put;
	iface->record_get = record_get;
	iface->republish = republish;
	iface->expire = expire;
}

void
btapi_dhtstore_count(const struct btapi_dhtstore *ds, size_t *items,
    uint64_t *bytes)
{
	if (items != NULL)
		*items = ds != NULL ? ds->n : 0;
	if (bytes != NULL)
		*bytes = ds != NULL ? ds->bytes : 0;
}

void
btapi_dhtstore_free(struct btapi_dhtstore *ds)
{
	if (ds == NULL)
		return;
	free(ds->tab);
	free(ds->vbuf);
	free(ds);
}
