/*
 * dhtrt.c - the DHT routing table: k-buckets by XOR distance with a
 * replacement cache and per-prefix address limits.
 */
#include <stdlib.h>
#include <string.h>

#include "dht-internal.h"

void
btnet_rt_init_(struct btnet_rt *rt, const struct bt_id *self,
    unsigned per_bucket, unsigned per_table)
{
	memset(rt, 0, sizeof(*rt));
	rt->self = *self;
	rt->per_bucket = per_bucket;
	rt->per_table = per_table;
}

void
btnet_rt_free_(struct btnet_rt *rt)
{
	size_t i;

	for (i = 0; i < 256; i++) {
		free(rt->b[i]);
		rt->b[i] = NULL;
	}
	rt->count = 0;
	rt->nbuckets = 0;
}

int
btnet_rt_index_(const struct btnet_rt *rt, const struct bt_id *id)
{
	return btcore_id_logdist(&rt->self, id);
}

int
btnet_rt_same_prefix_(const struct btnet_dht_addr *a,
    const struct btnet_dht_addr *b)
{
	if (a->family != b->family)
		return 0;
	if (a->family == 4)
		return memcmp(a->ip, b->ip, 3) == 0;
	return memcmp(a->ip, b->ip, 6) == 0;
}

struct btnet_rt_contact *
btnet_rt_find_(struct btnet_rt *rt, const struct bt_id *id)
{
	struct btnet_rt_bucket *b;
	int i = btnet_rt_index_(rt, id);
	unsigned j;

	if (i < 0 || (b = rt->b[i]) == NULL)
		return NULL;
	for (j = 0; j < b->n; j++)
		if (memcmp(b->c[j].id.b, id->b, BT_ID_LEN) == 0)
			return &b->c[j];
	return NULL;
}

/* Contacts sharing @p addr's prefix: in bucket @p bi, and in the table. */
static void
prefix_counts(const struct btnet_rt *rt, int bi,
    const struct btnet_dht_addr *addr, unsigned *in_bucket,
    unsigned *in_table)
{
	const struct btnet_rt_bucket *b;
	size_t i;
	unsigned j;

	*in_bucket = *in_table = 0;
	for (i = 0; i < 256; i++) {
		if ((b = rt->b[i]) == NULL)
			continue;
		for (j = 0; j < b->n; j++) {
			if (!btnet_rt_same_prefix_(&b->c[j].addr, addr))
				continue;
			(*in_table)++;
			if ((int)i == bi)
				(*in_bucket)++;
		}
	}
}

static int
prefix_ok(const struct btnet_rt *rt, int bi,
    const struct btnet_dht_addr *addr)
{
	unsigned ib, it;

	prefix_counts(rt, bi, addr, &ib, &it);
	return ib < rt->per_bucket && it < rt->per_table;
}

int
btnet_rt_wants_(const struct btnet_rt *rt, const struct bt_id *id,
    const struct btnet_dht_addr *addr)
{
	int bi = btnet_rt_index_(rt, id);
	const struct btnet_rt_bucket *b;
	unsigned j;

	if (bi < 0)
		return 0;
	if ((b = rt->b[bi]) != NULL)
		for (j = 0; j < b->n; j++)
			if (memcmp(b->c[j].id.b, id->b, BT_ID_LEN) == 0)
				return 0;
	return prefix_ok(rt, bi, addr);
}

static void
bucket_remove(struct btnet_rt_bucket *b, unsigned j)
{
	memmove(&b->c[j], &b->c[j + 1], (b->n - j - 1) * sizeof(b->c[0]));
	b->n--;
}

int
btnet_rt_seen_(struct btnet_rt *rt, const struct bt_id *id,
    const struct btnet_dht_addr *addr, uint64_t now,
    struct btnet_rt_contact *ping)
{
	struct btnet_rt_bucket *b;
	struct btnet_rt_contact c;
	int bi = btnet_rt_index_(rt, id);
	unsigned j;

	if (bi < 0)
		return BTNET_RT_REFUSED;
	if ((b = rt->b[bi]) == NULL) {
		if ((b = calloc(1, sizeof(*b))) == NULL)
			return BT_ENOMEM;
		rt->b[bi] = b;
		rt->nbuckets++;
	}
	for (j = 0; j < b->n; j++) {
		if (memcmp(b->c[j].id.b, id->b, BT_ID_LEN) != 0)
			continue;
		/* known: move to the tail (most recently seen) */
		c = b->c[j];
		bucket_remove(b, j);
		if (!btnet_rt_same_prefix_(&c.addr, addr)) {
			/* a new address must fit the limits too */
			if (!prefix_ok(rt, bi, addr)) {
				rt->count--;
				return BTNET_RT_REFUSED;
			}
		}
		c.addr = *addr;
		c.last_seen = now;
		c.fails = 0;
		b->c[b->n++] = c;
		return BTNET_RT_UPDATED;
	}
	if (!prefix_ok(rt, bi, addr))
		return BTNET_RT_REFUSED;
	memset(&c, 0, sizeof(c));
	c.id = *id;
	c.addr = *addr;
	c.last_seen = now;
	if (b->n < BT_K) {
		b->c[b->n++] = c;
		rt->count++;
		return BTNET_RT_INSERTED;
	}
	/* full: keep the newcomer aside, ping the least recently seen */
	for (j = 0; j < b->nrep; j++)
		if (memcmp(b->rep[j].id.b, id->b, BT_ID_LEN) == 0)
			break;
	if (j < b->nrep) {
		memmove(&b->rep[j], &b->rep[j + 1],
		    (b->nrep - j - 1) * sizeof(b->rep[0]));
		b->nrep--;
	} else if (b->nrep == BTNET_RT_REPL) {
		memmove(&b->rep[0], &b->rep[1],
		    (b->nrep - 1) * sizeof(b->rep[0]));
		b->nrep--;
	}
	b->rep[b->nrep++] = c;
	if (ping != NULL)
		*ping = b->c[0];
	return BTNET_RT_CACHED;
}

int
btnet_rt_failed_(struct btnet_rt *rt, const struct bt_id *id, int hard)
{
	struct btnet_rt_bucket *b;
	int bi = btnet_rt_index_(rt, id);
	unsigned j, r;

	if (bi < 0 || (b = rt->b[bi]) == NULL)
		return 0;
	for (j = 0; j < b->n; j++)
		if (memcmp(b->c[j].id.b, id->b, BT_ID_LEN) == 0)
			break;
	if (j == b->n)
		return 0;
	if (b->c[j].fails < UINT8_MAX)
		b->c[j].fails++;
	if (!hard && b->c[j].fails < BTNET_RT_FAILS)
		return 0;
	bucket_remove(b, j);
	rt->count--;
	/* the newest replacement that fits the address limits */
	for (r = b->nrep; r-- > 0;) {
		if (!prefix_ok(rt, bi, &b->rep[r].addr))
			continue;
		/* it answered longer ago than anyone in the bucket: oldest */
		memmove(&b->c[1], &b->c[0], b->n * sizeof(b->c[0]));
		b->c[0] = b->rep[r];
		b->n++;
		rt->count++;
		memmove(&b->rep[r], &b->rep[r + 1],
		    (b->nrep - r - 1) * sizeof(b->rep[0]));
		b->nrep--;
		break;
	}
	return 1;
}

size_t
btnet_rt_closest_(const struct btnet_rt *rt, const struct bt_id *key,
    struct btnet_dht_node *out, size_t max)
{
	const struct btnet_rt_bucket *b;
	size_t i, n = 0, k;
	unsigned j;

	if (max == 0)
		return 0;
	for (i = 0; i < 256; i++) {
		if ((b = rt->b[i]) == NULL)
			continue;
		for (j = 0; j < b->n; j++) {
			const struct btnet_rt_contact *c = &b->c[j];

			if (n == max && btcore_id_distance_cmp(key, &c->id,
			    &out[n - 1].id) >= 0)
				continue;
			k = n < max ? n++ : max - 1;
			while (k > 0 && btcore_id_distance_cmp(key, &c->id,
			    &out[k - 1].id) < 0) {
				out[k] = out[k - 1];
				k--;
			}
			out[k].id = c->id;
			out[k].addr = c->addr;
		}
	}
	return n;
}

size_t
btnet_rt_nearer_(const struct btnet_rt *rt, const struct bt_id *key,
    size_t stop)
{
	const struct btnet_rt_bucket *b;
	size_t i, n = 0;
	unsigned j;

	for (i = 0; i < 256 && n < stop; i++) {
		if ((b = rt->b[i]) == NULL)
			continue;
		for (j = 0; j < b->n && n < stop; j++)
			if (btcore_id_distance_cmp(key, &b->c[j].id,
			    &rt->self) < 0)
				n++;
	}
	return n;
}
