/*
 * dhtstore.c - the in-memory storage of the DHT engine: values, bags and
 * records in sorted arrays, with total and per-origin quotas.
 */
#include <stdlib.h>
#include <string.h>

#include <bt/dhtstore.h>

struct item {
	struct bt_id id;
	uint8_t kind;			/* enum btnet_dht_item */
	uint8_t *bytes;
	size_t len;
	struct bt_id origin;
	uint64_t refreshed, republished;
};

static int grow(void **arr, size_t *cap, size_t n, size_t size);

struct entry {
	uint8_t value[32];
	uint64_t count;			/* distinct adders (= nadders) */
	uint64_t first, last;		/* first and last add */
	struct bt_id origin;		/* who created it (quota) */
	struct bt_id *adders;		/* sorted; at most lim.adders_max */
	size_t nadders, capadders;
};

/*
 * Count @p adder for @p e once: BT_OK when it is new or already counted;
 * past lim.adders_max further adders refresh the entry without being
 * counted.
 */
static int
entry_add_adder(struct entry *e, const struct bt_id *adder, size_t max)
{
	size_t lo = 0, hi = e->nadders, mid;
	int c, rc;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		c = btcore_id_cmp(&e->adders[mid], adder);
		if (c == 0)
			return BT_OK;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (e->nadders >= max)
		return BT_OK;
	if ((rc = grow((void **)&e->adders, &e->capadders, e->nadders,
	    sizeof(e->adders[0]))) != BT_OK)
		return rc;
	memmove(&e->adders[lo + 1], &e->adders[lo],
	    (e->nadders - lo) * sizeof(e->adders[0]));
	e->adders[lo] = *adder;
	e->nadders++;
	e->count = e->nadders;
	return BT_OK;
}

struct bag {
	struct bt_id key;
	struct entry *e;
	size_t n, cap;
};

struct origin {
	struct bt_id id;
	size_t n;
};

struct btnet_dht_memstore {
	struct btnet_dht_memstore_limits lim;
	struct item *items;		/* sorted by (id, kind) */
	size_t nitems, capitems;
	struct bag *bags;		/* sorted by key */
	size_t nbags, capbags;
	struct origin *origins;		/* sorted by id */
	size_t norigins, caporigins;
	size_t bytes;
	size_t nvalues, nrecords, nentries;
};

static int
item_cmp(const struct bt_id *id, int kind, const struct item *it)
{
	int c = memcmp(id->b, it->id.b, BT_ID_LEN);

	return c ? c : kind - (int)it->kind;
}

/* Index of (id, kind), or where it would go; *found says which. */
static size_t
item_find(const struct btnet_dht_memstore *ms, const struct bt_id *id,
    int kind, int *found)
{
	size_t lo = 0, hi = ms->nitems, mid;
	int c;

	*found = 0;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		c = item_cmp(id, kind, &ms->items[mid]);
		if (c == 0) {
			*found = 1;
			return mid;
		}
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

static size_t
bag_find(const struct btnet_dht_memstore *ms, const struct bt_id *key,
    int *found)
{
	size_t lo = 0, hi = ms->nbags, mid;
	int c;

	*found = 0;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		c = memcmp(key->b, ms->bags[mid].key.b, BT_ID_LEN);
		if (c == 0) {
			*found = 1;
			return mid;
		}
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

static size_t
origin_find(const struct btnet_dht_memstore *ms, const struct bt_id *id,
    int *found)
{
	size_t lo = 0, hi = ms->norigins, mid;
	int c;

	*found = 0;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		c = memcmp(id->b, ms->origins[mid].id.b, BT_ID_LEN);
		if (c == 0) {
			*found = 1;
			return mid;
		}
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

/* Make room for one more element in a growable array. */
static int
grow(void **arr, size_t *cap, size_t n, size_t size)
{
	size_t ncap;
	void *p;

	if (n < *cap)
		return BT_OK;
	ncap = *cap ? *cap * 2 : 8;
	if ((p = realloc(*arr, ncap * size)) == NULL)
		return BT_ENOMEM;
	*arr = p;
	*cap = ncap;
	return BT_OK;
}

/* Charge one item to @p id: BT_ENOSPC over the per-origin quota. */
static int
origin_charge(struct btnet_dht_memstore *ms, const struct bt_id *id)
{
	size_t i;
	int found, rc;

	i = origin_find(ms, id, &found);
	if (found) {
		if (ms->origins[i].n >= ms->lim.per_origin)
			return BT_ENOSPC;
		ms->origins[i].n++;
		return BT_OK;
	}
	rc = grow((void **)&ms->origins, &ms->caporigins, ms->norigins,
	    sizeof(ms->origins[0]));
	if (rc != BT_OK)
		return rc;
	memmove(&ms->origins[i + 1], &ms->origins[i],
	    (ms->norigins - i) * sizeof(ms->origins[0]));
	ms->origins[i].id = *id;
	ms->origins[i].n = 1;
	ms->norigins++;
	return BT_OK;
}

static void
origin_release(struct btnet_dht_memstore *ms, const struct bt_id *id)
{
	size_t i;
	int found;

	i = origin_find(ms, id, &found);
	if (!found)
		return;
	if (--ms->origins[i].n == 0) {
		memmove(&ms->origins[i], &ms->origins[i + 1],
		    (ms->norigins - i - 1) * sizeof(ms->origins[0]));
		ms->norigins--;
	}
}

static size_t
total_items(const struct btnet_dht_memstore *ms)
{
	return ms->nitems + ms->nbags;
}

static int
item_put(struct btnet_dht_memstore *ms, int kind, const struct bt_id *id,
    const uint8_t *bytes, size_t len, const struct bt_id *origin,
    uint64_t now, int replace)
{
	struct item *it;
	uint8_t *copy = NULL;
	size_t i;
	int found, rc = BT_OK;

	i = item_find(ms, id, kind, &found);
	if (found) {
		it = &ms->items[i];
		if (replace) {
			if (ms->bytes - it->len + len > ms->lim.max_bytes)
				return BT_ENOSPC;
			if ((copy = malloc(len ? len : 1)) == NULL)
				return BT_ENOMEM;
			if (len)
				memcpy(copy, bytes, len);
			ms->bytes = ms->bytes - it->len + len;
			free(it->bytes);
			it->bytes = copy;
			it->len = len;
		}
		it->refreshed = now;
		return BT_OK;
	}
	if (total_items(ms) >= ms->lim.max_items ||
	    ms->bytes + len > ms->lim.max_bytes)
		return BT_ENOSPC;
	if ((rc = grow((void **)&ms->items, &ms->capitems, ms->nitems,
	    sizeof(ms->items[0]))) != BT_OK)
		return rc;
	if ((copy = malloc(len ? len : 1)) == NULL)
		return BT_ENOMEM;
	if ((rc = origin_charge(ms, origin)) != BT_OK) {
		free(copy);
		return rc;
	}
	if (len)
		memcpy(copy, bytes, len);
	memmove(&ms->items[i + 1], &ms->items[i],
	    (ms->nitems - i) * sizeof(ms->items[0]));
	it = &ms->items[i];
	memset(it, 0, sizeof(*it));
	it->id = *id;
	it->kind = (uint8_t)kind;
	it->bytes = copy;
	it->len = len;
	it->origin = *origin;
	it->refreshed = now;
	it->republished = now;
	ms->nitems++;
	ms->bytes += len;
	if (kind == BTNET_DHT_ITEM_VALUE)
		ms->nvalues++;
	else
		ms->nrecords++;
	return BT_OK;
}

static int
item_get(struct btnet_dht_memstore *ms, int kind, const struct bt_id *id,
    const uint8_t **bytes, size_t *len)
{
	size_t i;
	int found;

	*bytes = NULL;
	*len = 0;
	i = item_find(ms, id, kind, &found);
	if (!found)
		return BT_ENOTFOUND;
	*bytes = ms->items[i].bytes;
	*len = ms->items[i].len;
	return BT_OK;
}

static int
ms_value_put(void *ctx, const struct bt_id *key, const uint8_t *value,
    size_t len, const struct bt_id *origin, uint64_t now)
{
	if (key == NULL || (value == NULL && len) || origin == NULL)
		return BT_EINVAL;
	return item_put(ctx, BTNET_DHT_ITEM_VALUE, key, value, len, origin,
	    now, 0);
}

static int
ms_value_get(void *ctx, const struct bt_id *key, const uint8_t **value,
    size_t *len)
{
	if (key == NULL || value == NULL || len == NULL)
		return BT_EINVAL;
	return item_get(ctx, BTNET_DHT_ITEM_VALUE, key, value, len);
}

static int
ms_record_put(void *ctx, const struct bt_id *target, const uint8_t *enc,
    size_t len, const struct bt_id *origin, uint64_t now)
{
	if (target == NULL || enc == NULL || origin == NULL)
		return BT_EINVAL;
	return item_put(ctx, BTNET_DHT_ITEM_RECORD, target, enc, len, origin,
	    now, 1);
}

static int
ms_record_get(void *ctx, const struct bt_id *target, const uint8_t **enc,
    size_t *len)
{
	if (target == NULL || enc == NULL || len == NULL)
		return BT_EINVAL;
	return item_get(ctx, BTNET_DHT_ITEM_RECORD, target, enc, len);
}

static int
ms_bag_add(void *ctx, const struct bt_id *key, const uint8_t value[32],
    const struct bt_id *origin, uint64_t now)
{
	struct btnet_dht_memstore *ms = ctx;
	struct bag *b;
	size_t i, j;
	int found, rc;

	if (key == NULL || value == NULL || origin == NULL)
		return BT_EINVAL;
	i = bag_find(ms, key, &found);
	if (!found) {
		if (total_items(ms) >= ms->lim.max_items)
			return BT_ENOSPC;
		if ((rc = grow((void **)&ms->bags, &ms->capbags, ms->nbags,
		    sizeof(ms->bags[0]))) != BT_OK)
			return rc;
		memmove(&ms->bags[i + 1], &ms->bags[i],
		    (ms->nbags - i) * sizeof(ms->bags[0]));
		memset(&ms->bags[i], 0, sizeof(ms->bags[0]));
		ms->bags[i].key = *key;
		ms->nbags++;
	}
	b = &ms->bags[i];
	for (j = 0; j < b->n; j++) {
		if (memcmp(b->e[j].value, value, 32) == 0) {
			b->e[j].last = now;
			return entry_add_adder(&b->e[j], origin,
			    ms->lim.adders_max);
		}
	}
	if (b->n >= ms->lim.bag_max)
		rc = BT_ENOSPC;
	else if ((rc = grow((void **)&b->e, &b->cap, b->n,
	    sizeof(b->e[0]))) == BT_OK) {
		memset(&b->e[b->n], 0, sizeof(b->e[b->n]));
		if ((rc = entry_add_adder(&b->e[b->n], origin,
		    ms->lim.adders_max)) == BT_OK &&
		    (rc = origin_charge(ms, origin)) != BT_OK)
			free(b->e[b->n].adders);
	}
	if (rc != BT_OK) {
		if (b->n == 0) {
			free(b->e);
			memmove(&ms->bags[i], &ms->bags[i + 1],
			    (ms->nbags - i - 1) * sizeof(ms->bags[0]));
			ms->nbags--;
		}
		return rc;
	}
	memcpy(b->e[b->n].value, value, 32);
	b->e[b->n].first = b->e[b->n].last = now;
	b->e[b->n].origin = *origin;
	b->n++;
	ms->nentries++;
	return BT_OK;
}

/* Order: popular (count, then last), or recent (last, then count). */
static int
entry_before(const struct entry *a, const struct entry *b, int popular)
{
	if (popular && a->count != b->count)
		return a->count > b->count;
	if (a->last != b->last)
		return a->last > b->last;
	if (a->count != b->count)
		return a->count > b->count;
	return memcmp(a->value, b->value, 32) < 0;
}

static uint64_t
mix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static int
ms_bag_query(void *ctx, enum btnet_dht_bag kind, const struct bt_id *key,
    size_t limit, uint64_t seed, uint8_t (*out)[32], size_t *count)
{
	struct btnet_dht_memstore *ms = ctx;
	const struct bag *b;
	const struct entry **sel = NULL;
	size_t i, j, n, k;
	int found, rc = BT_OK;

	if (count != NULL)
		*count = 0;
	if (key == NULL || out == NULL || count == NULL || limit == 0 ||
	    (kind != BTNET_DHT_BAG_POPULAR && kind != BTNET_DHT_BAG_RECENT &&
	    kind != BTNET_DHT_BAG_SAMPLE))
		return BT_EINVAL;
	i = bag_find(ms, key, &found);
	if (!found)
		return BT_OK;
	b = &ms->bags[i];
	n = b->n < limit ? b->n : limit;
	if (n == 0)
		return BT_OK;
	if (kind == BTNET_DHT_BAG_SAMPLE) {
		/* partial Fisher-Yates over indices */
		size_t *idx = malloc(b->n * sizeof(*idx)), t;

		if (idx == NULL)
			return BT_ENOMEM;
		for (j = 0; j < b->n; j++)
			idx[j] = j;
		for (j = 0; j < n; j++) {
			k = j + (size_t)(mix64(&seed) % (b->n - j));
			t = idx[j];
			idx[j] = idx[k];
			idx[k] = t;
			memcpy(out[j], b->e[idx[j]].value, 32);
		}
		free(idx);
		*count = n;
		return BT_OK;
	}
	/* the top n by insertion into a sorted selection */
	if ((sel = malloc(n * sizeof(*sel))) == NULL)
		return BT_ENOMEM;
	k = 0;
	for (j = 0; j < b->n; j++) {
		const struct entry *e = &b->e[j];
		size_t p;

		if (k == n && !entry_before(e, sel[n - 1],
		    kind == BTNET_DHT_BAG_POPULAR))
			continue;
		p = k < n ? k++ : n - 1;
		while (p > 0 && entry_before(e, sel[p - 1],
		    kind == BTNET_DHT_BAG_POPULAR)) {
			sel[p] = sel[p - 1];
			p--;
		}
		sel[p] = e;
	}
	for (j = 0; j < k; j++)
		memcpy(out[j], sel[j]->value, 32);
	*count = k;
	free(sel);
	return rc;
}

static int
ms_republish(void *ctx, uint64_t before, uint64_t now,
    int (*fn)(void *arg, enum btnet_dht_item kind, const struct bt_id *id,
    const uint8_t *bytes, size_t len), void *arg)
{
	struct btnet_dht_memstore *ms = ctx;
	size_t i;

	if (fn == NULL)
		return BT_EINVAL;
	for (i = 0; i < ms->nitems; i++) {
		struct item *it = &ms->items[i];

		if (it->republished >= before)
			continue;
		if (fn(arg, (enum btnet_dht_item)it->kind, &it->id, it->bytes,
		    it->len))
			break;
		it->republished = now;
	}
	return BT_OK;
}

static void
ms_expire(void *ctx, uint64_t before)
{
	struct btnet_dht_memstore *ms = ctx;
	size_t i, o, j, e;

	for (i = o = 0; i < ms->nitems; i++) {
		struct item *it = &ms->items[i];

		if (it->refreshed >= before) {
			ms->items[o++] = *it;
			continue;
		}
		ms->bytes -= it->len;
		if (it->kind == BTNET_DHT_ITEM_VALUE)
			ms->nvalues--;
		else
			ms->nrecords--;
		origin_release(ms, &it->origin);
		free(it->bytes);
	}
	ms->nitems = o;
	for (i = o = 0; i < ms->nbags; i++) {
		struct bag *b = &ms->bags[i];

		for (j = e = 0; j < b->n; j++) {
			if (b->e[j].last >= before) {
				b->e[e++] = b->e[j];
				continue;
			}
			origin_release(ms, &b->e[j].origin);
			free(b->e[j].adders);
			ms->nentries--;
		}
		b->n = e;
		if (b->n == 0) {
			free(b->e);
			continue;
		}
		ms->bags[o++] = *b;
	}
	ms->nbags = o;
}

int
btnet_dht_memstore_new(struct btnet_dht_memstore **out,
    const struct btnet_dht_memstore_limits *limits)
{
	struct btnet_dht_memstore *ms;

	if (out == NULL)
		return BT_EINVAL;
	*out = NULL;
	if ((ms = calloc(1, sizeof(*ms))) == NULL)
		return BT_ENOMEM;
	if (limits != NULL)
		ms->lim = *limits;
	if (ms->lim.max_bytes == 0)
		ms->lim.max_bytes = (size_t)64 << 20;
	if (ms->lim.max_items == 0)
		ms->lim.max_items = 65536;
	if (ms->lim.per_origin == 0)
		ms->lim.per_origin = 1024;
	if (ms->lim.bag_max == 0)
		ms->lim.bag_max = 1024;
	if (ms->lim.adders_max == 0)
		ms->lim.adders_max = 4096;
	*out = ms;
	return BT_OK;
}

void
btnet_dht_memstore_storage(struct btnet_dht_memstore *ms,
    struct btnet_dht_storage *st)
{
	if (st == NULL)
		return;
	memset(st, 0, sizeof(*st));
	st->ctx = ms;
	st->value_put = ms_value_put;
	st->value_get = ms_value_get;
	st->bag_add = ms_bag_add;
	st->bag_query = ms_bag_query;
	st->record_put = ms_record_put;
	st->record_get = ms_record_get;
	st->republish = ms_republish;
	st->expire = ms_expire;
}

void
btnet_dht_memstore_count(const struct btnet_dht_memstore *ms, size_t *values,
    size_t *records, size_t *bags, size_t *bytes)
{
	if (values != NULL)
		*values = ms ? ms->nvalues : 0;
	if (records != NULL)
		*records = ms ? ms->nrecords : 0;
	if (bags != NULL)
		*bags = ms ? ms->nbags : 0;
	if (bytes != NULL)
		*bytes = ms ? ms->bytes : 0;
}

void
btnet_dht_memstore_free(struct btnet_dht_memstore *ms)
{
	size_t i, j;

	if (ms == NULL)
		return;
	for (i = 0; i < ms->nitems; i++)
		free(ms->items[i].bytes);
	for (i = 0; i < ms->nbags; i++) {
		for (j = 0; j < ms->bags[i].n; j++)
			free(ms->bags[i].e[j].adders);
		free(ms->bags[i].e);
	}
	free(ms->items);
	free(ms->bags);
	free(ms->origins);
	free(ms);
}
