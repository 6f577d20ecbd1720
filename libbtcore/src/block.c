/*
 * block.c - block ids, verification and the in-memory block map.
 */
#include <bt/block.h>
#include <bt/hash.h>
#include <bt/id.h>

#include <stdlib.h>
#include <string.h>

#include "btcore-internal.h"

int
btcore_block_id(struct bt_id *out, const void *data, size_t len)
{
	if (out == NULL)
		return BT_EINVAL;
	if (len > BTCORE_BLOCK_MAX) {
		memset(out, 0, sizeof(*out));
		return BT_ETOOBIG;
	}
	return btcore_id_hash(out, data, len);
}

int
btcore_block_verify(const struct bt_id *id, const void *data, size_t len)
{
	struct bt_id got;
	int rc;

	if (id == NULL || (data == NULL && len != 0))
		return BT_EINVAL;
	if ((rc = btcore_block_id(&got, data, len)) != BT_OK)
		return rc;
	return btcore_ct_equal(got.b, id->b, BT_ID_LEN) ? BT_OK : BT_ECORRUPT;
}

/*
 * The map: open addressing with linear probing over a power-of-two table,
 * kept at most half full; removal shifts the following run back so no
 * tombstones are needed.  The slot of an id mixes all of its bytes with a
 * per-map random key, so ids chosen to collide cannot be aimed at it.
 */
struct mb_slot {
	struct bt_id id;
	uint8_t *data;		/* NULL: empty slot */
	size_t len;
};

struct btcore_memblocks {
	struct mb_slot *tab;
	size_t cap;		/* power of two */
	size_t count;
	uint64_t bytes;
	uint64_t key;
};

#define MB_CAP_MIN	64

static size_t
mb_slot_of(const struct btcore_memblocks *m, const struct bt_id *id)
{
	uint64_t h = m->key;
	size_t i;

	for (i = 0; i < BT_ID_LEN; i += 8) {
		h ^= btcore_get_be64_(id->b + i);
		h *= 0x9e3779b97f4a7c15ull;
		h ^= h >> 29;
	}
	return (size_t)h & (m->cap - 1);
}

static struct mb_slot *
mb_find(const struct btcore_memblocks *m, const struct bt_id *id)
{
	size_t i = mb_slot_of(m, id);

	for (;;) {
		struct mb_slot *s = &m->tab[i];

		if (s->data == NULL)
			return NULL;
		if (memcmp(s->id.b, id->b, BT_ID_LEN) == 0)
			return s;
		i = (i + 1) & (m->cap - 1);
	}
}

static void
mb_place(struct btcore_memblocks *m, const struct mb_slot *src)
{
	size_t i = mb_slot_of(m, &src->id);

	while (m->tab[i].data != NULL)
		i = (i + 1) & (m->cap - 1);
	m->tab[i] = *src;
}

static int
mb_grow(struct btcore_memblocks *m)
{
	struct mb_slot *old = m->tab;
	size_t oldcap = m->cap, i;

	if (m->cap > SIZE_MAX / 2 / sizeof(*old))
		return BT_ENOMEM;
	if ((m->tab = calloc(m->cap * 2, sizeof(*old))) == NULL) {
		m->tab = old;
		return BT_ENOMEM;
	}
	m->cap *= 2;
	for (i = 0; i < oldcap; i++)
		if (old[i].data != NULL)
			mb_place(m, &old[i]);
	free(old);
	return BT_OK;
}

int
btcore_memblocks_new(struct btcore_memblocks **out)
{
	struct btcore_memblocks *m = NULL;
	uint8_t k[8];
	int rc;

	if (out == NULL)
		return BT_EINVAL;
	*out = NULL;
	if ((m = calloc(1, sizeof(*m))) == NULL)
		return BT_ENOMEM;
	if ((m->tab = calloc(MB_CAP_MIN, sizeof(*m->tab))) == NULL) {
		rc = BT_ENOMEM;
		goto out;
	}
	m->cap = MB_CAP_MIN;
	if ((rc = btcore_random_bytes(k, sizeof(k))) != BT_OK)
		goto out;
	m->key = btcore_get_be64_(k);
	*out = m;
	m = NULL;
	rc = BT_OK;
out:
	btcore_memblocks_free(m);
	return rc;
}

void
btcore_memblocks_free(struct btcore_memblocks *m)
{
	size_t i;

	if (m == NULL)
		return;
	if (m->tab != NULL)
		for (i = 0; i < m->cap; i++)
			free(m->tab[i].data);
	free(m->tab);
	free(m);
}

int
btcore_memblocks_put(struct btcore_memblocks *m, const struct bt_id *id,
    const void *data, size_t len)
{
	struct mb_slot s;
	int rc;

	if (m == NULL || id == NULL || (data == NULL && len != 0))
		return BT_EINVAL;
	if (len > BTCORE_BLOCK_MAX)
		return BT_ETOOBIG;
	if (mb_find(m, id) != NULL)
		return BT_OK;
	if ((m->count + 1) * 2 > m->cap && (rc = mb_grow(m)) != BT_OK)
		return rc;
	s.id = *id;
	s.len = len;
	if ((s.data = malloc(len > 0 ? len : 1)) == NULL)
		return BT_ENOMEM;
	if (len > 0)
		memcpy(s.data, data, len);
	mb_place(m, &s);
	m->count++;
	m->bytes += len;
	return BT_OK;
}

int
btcore_memblocks_get(const struct btcore_memblocks *m, const struct bt_id *id,
    const void **data, size_t *len)
{
	const struct mb_slot *s;

	if (m == NULL || id == NULL || data == NULL || len == NULL)
		return BT_EINVAL;
	if ((s = mb_find(m, id)) == NULL)
		return BT_ENOTFOUND;
	*data = s->data;
	*len = s->len;
	return BT_OK;
}

int
btcore_memblocks_remove(struct btcore_memblocks *m, const struct bt_id *id)
{
	struct mb_slot *s;
	size_t hole, i, home;

	if (m == NULL || id == NULL)
		return BT_EINVAL;
	if ((s = mb_find(m, id)) == NULL)
		return BT_ENOTFOUND;
	m->bytes -= s->len;
	m->count--;
	free(s->data);
	s->data = NULL;
	/* Shift back every entry of the run that would no longer be found. */
	hole = (size_t)(s - m->tab);
	i = hole;
	for (;;) {
		i = (i + 1) & (m->cap - 1);
		if (m->tab[i].data == NULL)
			break;
		home = mb_slot_of(m, &m->tab[i].id);
		/* move when home is not cyclically within (hole, i] */
		if (((i - home) & (m->cap - 1)) >= ((i - hole) & (m->cap - 1))) {
			m->tab[hole] = m->tab[i];
			m->tab[i].data = NULL;
			hole = i;
		}
	}
	return BT_OK;
}

size_t
btcore_memblocks_count(const struct btcore_memblocks *m)
{
	return m != NULL ? m->count : 0;
}

uint64_t
btcore_memblocks_bytes(const struct btcore_memblocks *m)
{
	return m != NULL ? m->bytes : 0;
}

static int
mb_io_put(void *ctx, const struct bt_id *id, const void *data, size_t len)
{
	return btcore_memblocks_put(ctx, id, data, len);
}

static int
mb_io_get(void *ctx, const struct bt_id *id, const void **data, size_t *len)
{
	return btcore_memblocks_get(ctx, id, data, len);
}

void
btcore_memblocks_blockio(struct btcore_memblocks *m, struct btcore_blockio *io)
{
	if (io == NULL)
		return;
	io->ctx = m;
	io->put = mb_io_put;
	io->get = mb_io_get;
	io->release = NULL;
}
