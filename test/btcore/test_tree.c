/*
 * test_tree.c - files as trees of blocks: node format, builder, reader,
 * both layouts.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <bt/block.h>
#include <bt/id.h>
#include <bt/tree.h>

#define BM	BTCORE_BLOCK_MAX

static uint64_t rng_state;

static uint64_t
rng(void)
{
	uint64_t x = rng_state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	rng_state = x;
	return x;
}

/* Deterministic file content: bytes depend on position and seed. */
static uint8_t *
make_data(size_t len, uint64_t seed)
{
	uint8_t *p = malloc(len > 0 ? len : 1);
	uint64_t s = seed * 0x9e3779b97f4a7c15ull + 1;
	size_t i;

	ck_assert_ptr_nonnull(p);
	for (i = 0; i < len; i++) {
		if (i % 8 == 0) {
			s ^= s << 13;
			s ^= s >> 7;
			s ^= s << 17;
		}
		p[i] = (uint8_t)(s >> (8 * (i % 8)));
	}
	return p;
}

/* A block I/O wrapper counting gets and puts, optionally failing. */
struct cio {
	struct btcore_blockio inner;
	unsigned gets;
	unsigned puts;
	unsigned releases;
	int fail_put_after;	/* -1: never */
	int outstanding;	/* gets not yet released */
};

static int
cio_put(void *ctx, const struct bt_id *id, const void *data, size_t len)
{
	struct cio *c = ctx;

	if (c->fail_put_after >= 0 && c->puts >= (unsigned)c->fail_put_after)
		return BT_ENOSPC;
	c->puts++;
	return c->inner.put(c->inner.ctx, id, data, len);
}

static int
cio_get(void *ctx, const struct bt_id *id, const void **data, size_t *len)
{
	struct cio *c = ctx;
	int rc;

	/* the user must release before getting again */
	ck_assert_int_eq(c->outstanding, 0);
	c->gets++;
	rc = c->inner.get(c->inner.ctx, id, data, len);
	if (rc == BT_OK)
		c->outstanding = 1;
	return rc;
}

static void
cio_release(void *ctx)
{
	struct cio *c = ctx;

	ck_assert_int_eq(c->outstanding, 1);
	c->outstanding = 0;
	c->releases++;
}

static void
cio_init(struct cio *c, struct btcore_memblocks *m, struct btcore_blockio *io)
{
	memset(c, 0, sizeof(*c));
	btcore_memblocks_blockio(m, &c->inner);
	c->fail_put_after = -1;
	io->ctx = c;
	io->put = cio_put;
	io->get = cio_get;
	io->release = cio_release;
}

/* Build @p len bytes in pieces of @p chunk (0: pieces of varying size). */
static struct bt_id
build(int layout, const struct btcore_tree_params *p,
    const struct btcore_blockio *io, const uint8_t *data, size_t len,
    size_t chunk)
{
	struct btcore_tree_builder *b;
	struct bt_id root, again;
	uint64_t size = 1;
	size_t off = 0, n;

	ck_assert_int_eq(btcore_tree_builder_new(&b, layout, p, io), BT_OK);
	while (off < len) {
		n = chunk != 0 ? chunk : 1 + (size_t)(rng() % 70000);
		if (n > len - off)
			n = len - off;
		ck_assert_int_eq(btcore_tree_builder_write(b, data + off, n),
		    BT_OK);
		off += n;
	}
	ck_assert_int_eq(btcore_tree_builder_write(b, NULL, 0), BT_OK);
	ck_assert_int_eq(btcore_tree_builder_finish(b, &root, &size), BT_OK);
	ck_assert_uint_eq(size, len);
	ck_assert_int_eq(btcore_tree_builder_write(b, data, 0), BT_ESTATE);
	ck_assert_int_eq(btcore_tree_builder_finish(b, &again, NULL),
	    BT_ESTATE);
	ck_assert(btcore_id_is_zero(&again));
	btcore_tree_builder_free(b);
	return root;
}

/* Read the whole file in pieces of @p chunk and compare with @p data. */
static void
read_compare(const struct bt_id *root, const struct btcore_blockio *io,
    const uint8_t *data, size_t len, size_t chunk)
{
	struct btcore_tree_reader *r;
	uint8_t *buf = malloc(chunk);
	size_t off = 0, n;

	ck_assert_ptr_nonnull(buf);
	ck_assert_int_eq(btcore_tree_reader_open(&r, root, io), BT_OK);
	ck_assert_uint_eq(btcore_tree_reader_size(r), len);
	for (;;) {
		ck_assert_int_eq(btcore_tree_reader_read(r, buf, chunk, &n),
		    BT_OK);
		if (n == 0)
			break;
		ck_assert_uint_le(off + n, len);
		ck_assert_int_eq(memcmp(buf, data + off, n), 0);
		off += n;
		ck_assert_uint_eq(btcore_tree_reader_tell(r), off);
	}
	ck_assert_uint_eq(off, len);
	btcore_tree_reader_close(r);
	free(buf);
}

/* 'count' random seeks and reads, compared with the source. */
static void
random_reads(const struct bt_id *root, const struct btcore_blockio *io,
    const uint8_t *data, size_t len, unsigned count, size_t maxread)
{
	struct btcore_tree_reader *r;
	uint8_t *buf = malloc(maxread + 1);
	uint64_t pos;
	size_t want, n;
	unsigned i;

	ck_assert_ptr_nonnull(buf);
	ck_assert_int_eq(btcore_tree_reader_open(&r, root, io), BT_OK);
	for (i = 0; i < count; i++) {
		uint64_t at = len > 0 ? rng() % (len + 1) : 0;

		want = (size_t)(rng() % (maxread + 1));
		if (i % 3 == 0) {
			ck_assert_int_eq(btcore_tree_reader_seek(r,
			    (int64_t)at - (int64_t)len, BTCORE_SEEK_END,
			    &pos), BT_OK);
		} else {
			ck_assert_int_eq(btcore_tree_reader_seek(r,
			    (int64_t)at, BTCORE_SEEK_SET, &pos), BT_OK);
		}
		ck_assert_uint_eq(pos, at);
		ck_assert_int_eq(btcore_tree_reader_read(r, buf, want, &n),
		    BT_OK);
		ck_assert_uint_eq(n, want < len - at ? want : len - at);
		ck_assert_int_eq(memcmp(buf, data + at, n), 0);
	}
	btcore_tree_reader_close(r);
	free(buf);
}

static void
check_stat(const struct bt_id *root, const struct btcore_blockio *io,
    int layout, uint64_t size, uint32_t leaf, uint32_t fanout)
{
	struct btcore_tree_reader *r;
	struct btcore_tree_stat st;
	uint64_t leaves, n, nodes = 0;
	unsigned depth = 0;

	ck_assert_int_eq(btcore_tree_reader_open(&r, root, io), BT_OK);
	ck_assert_int_eq(btcore_tree_reader_stat(r, &st), BT_OK);
	ck_assert_int_eq(st.layout, layout);
	ck_assert_uint_eq(st.size, size);
	leaves = size / leaf + (size % leaf != 0);
	ck_assert_uint_eq(st.leaves, leaves);
	if (layout == BTCORE_TREE_RANDOM) {
		/* the least depth that holds the leaves */
		n = leaves;
		do {
			n = n / fanout + (n % fanout != 0);
			if (n == 0)
				n = 1;
			nodes += n;
			depth++;
		} while (n > 1);
		ck_assert_uint_eq(st.depth, depth);
		ck_assert_uint_eq(st.nodes, nodes);
		ck_assert_uint_eq(st.leaf_size, leaf);
		ck_assert_uint_eq(st.fanout, fanout);
	} else {
		ck_assert_uint_eq(st.depth, 1);
		n = leaves / BTCORE_TREE_SEQ_ENTRIES_MAX +
		    (leaves % BTCORE_TREE_SEQ_ENTRIES_MAX != 0);
		ck_assert_uint_eq(st.nodes, n > 0 ? n : 1);
	}
	btcore_tree_reader_close(r);
}

static void
roundtrip(int layout, const struct btcore_tree_params *p, uint32_t leaf,
    uint32_t fanout, size_t len)
{
	struct btcore_memblocks *m;
	struct btcore_blockio io;
	struct bt_id a, b2, c;
	uint8_t *data = make_data(len, len);

	ck_assert_int_eq(btcore_memblocks_new(&m), BT_OK);
	btcore_memblocks_blockio(m, &io);
	a = build(layout, p, &io, data, len, 0);
	b2 = build(layout, p, &io, data, len, 1 + len / 3);
	c = build(layout, p, &io, data, len, 4093);
	/* content ids do not depend on how the bytes were written */
	ck_assert_int_eq(btcore_id_cmp(&a, &b2), 0);
	ck_assert_int_eq(btcore_id_cmp(&a, &c), 0);
	read_compare(&a, &io, data, len, 100000);
	read_compare(&a, &io, data, len, 777);
	check_stat(&a, &io, layout, len, leaf, fanout);
	if (len > 0)
		random_reads(&a, &io, data, len, 50, 2 * leaf + 5);
	btcore_memblocks_free(m);
	free(data);
}

START_TEST(sizes_both_layouts)
{
	static const size_t big[] = { 0, 1, BM - 1, BM, BM + 1, 2 * BM + 7 };
	struct btcore_tree_params small = { 512, 3 }, seqsmall = { 512, 0 };
	size_t i, s;

	rng_state = 0x1234567;
	for (i = 0; i < sizeof(big) / sizeof(big[0]); i++) {
		roundtrip(BTCORE_TREE_SEQUENTIAL, NULL, BM, 0, big[i]);
		roundtrip(BTCORE_TREE_RANDOM, NULL, BTCORE_TREE_LEAF_DEFAULT,
		    BTCORE_TREE_FANOUT_DEFAULT, big[i]);
	}
	/* leaf_size +- 1 and level boundaries of a small tree */
	for (s = 512; s <= 512 * 27; s *= 3) {
		for (i = 0; i < 3; i++) {
			roundtrip(BTCORE_TREE_RANDOM, &small, 512, 3,
			    s - 1 + i);
			roundtrip(BTCORE_TREE_SEQUENTIAL, &seqsmall, 512, 0,
			    s - 1 + i);
		}
	}
	for (i = 0; i < 3; i++)
		roundtrip(BTCORE_TREE_RANDOM, NULL, BTCORE_TREE_LEAF_DEFAULT,
		    BTCORE_TREE_FANOUT_DEFAULT,
		    BTCORE_TREE_LEAF_DEFAULT - 1 + i);
}
END_TEST

START_TEST(layouts_and_params_differ)
{
	struct btcore_memblocks *m;
	struct btcore_blockio io;
	struct btcore_tree_params p1 = { 4096, 0 }, p2 = { 4096, 16 };
	struct bt_id s0, r0, s1, r1, r2, r3;
	uint8_t *data = make_data(100000, 5);

	ck_assert_int_eq(btcore_memblocks_new(&m), BT_OK);
	btcore_memblocks_blockio(m, &io);
	/* empty files: well-defined roots, one per layout and parameters */
	s0 = build(BTCORE_TREE_SEQUENTIAL, NULL, &io, data, 0, 1);
	r0 = build(BTCORE_TREE_RANDOM, NULL, &io, data, 0, 1);
	ck_assert_int_ne(btcore_id_cmp(&s0, &r0), 0);
	ck_assert_int_eq(btcore_id_cmp(&s0,
	    &(struct bt_id){ { 0 } }) != 0, 1);
	s1 = build(BTCORE_TREE_SEQUENTIAL, NULL, &io, data, 100000, 0);
	r1 = build(BTCORE_TREE_RANDOM, NULL, &io, data, 100000, 0);
	r2 = build(BTCORE_TREE_RANDOM, &p2, &io, data, 100000, 0);
	ck_assert_int_ne(btcore_id_cmp(&s1, &r1), 0);
	ck_assert_int_ne(btcore_id_cmp(&r1, &r2), 0);
	/* one byte changed: another id */
	data[99999] ^= 1;
	r3 = build(BTCORE_TREE_RANDOM, NULL, &io, data, 100000, 0);
	ck_assert_int_ne(btcore_id_cmp(&r1, &r3), 0);
	ck_assert_int_eq(btcore_id_cmp(&s1,
	    &(struct bt_id){ { 0 } }) != 0, 1);
	s1 = build(BTCORE_TREE_SEQUENTIAL, &p1, &io, data, 100000, 0);
	read_compare(&s1, &io, data, 100000, 5000);
	btcore_memblocks_free(m);
	free(data);
}
END_TEST

START_TEST(large_file_and_random_seeks)
{
	const size_t len = 24u << 20;
	struct btcore_memblocks *m;
	struct btcore_blockio io;
	struct btcore_tree_params deep = { 512, 4 };
	struct bt_id rs, rr, rd;
	uint8_t *data = make_data(len, 99);

	rng_state = 0xfeedface;
	ck_assert_int_eq(btcore_memblocks_new(&m), BT_OK);
	btcore_memblocks_blockio(m, &io);
	rs = build(BTCORE_TREE_SEQUENTIAL, NULL, &io, data, len, 1u << 20);
	rr = build(BTCORE_TREE_RANDOM, NULL, &io, data, len, 1u << 20);
	read_compare(&rs, &io, data, len, 1u << 20);
	read_compare(&rr, &io, data, len, 1u << 20);
	read_compare(&rr, &io, data, len, 65536 + 17);
	random_reads(&rs, &io, data, len, 2000, 20000);
	random_reads(&rr, &io, data, len, 2000, 20000);
	check_stat(&rr, &io, BTCORE_TREE_RANDOM, len,
	    BTCORE_TREE_LEAF_DEFAULT, BTCORE_TREE_FANOUT_DEFAULT);
	/* a deep tree over part of it: 3 MiB in 512-byte leaves, depth 7 */
	rd = build(BTCORE_TREE_RANDOM, &deep, &io, data, 3u << 20, 1u << 20);
	random_reads(&rd, &io, data, 3u << 20, 2000, 3000);
	check_stat(&rd, &io, BTCORE_TREE_RANDOM, 3u << 20, 512, 4);
	btcore_memblocks_free(m);
	free(data);
}
END_TEST

/* Append @p data in the pieces @p cuts and compare with a whole build. */
static void
append_pieces(int layout, const struct btcore_tree_params *p,
    const uint8_t *data, const size_t *cuts, size_t ncuts, size_t len)
{
	struct btcore_memblocks *m;
	struct btcore_blockio io;
	struct cio c;
	struct btcore_tree_builder *b;
	struct bt_id root, whole;
	uint64_t size;
	size_t i, from = 0, to;
	unsigned gets;

	ck_assert_int_eq(btcore_memblocks_new(&m), BT_OK);
	cio_init(&c, m, &io);
	ck_assert_int_eq(btcore_tree_builder_new(&b, layout, p, &io), BT_OK);
	ck_assert_int_eq(btcore_tree_builder_finish(b, &root, NULL), BT_OK);
	btcore_tree_builder_free(b);
	for (i = 0; i <= ncuts; i++) {
		to = i < ncuts ? cuts[i] : len;
		gets = c.gets;
		ck_assert_int_eq(btcore_tree_builder_append(&b, &root, p, &io),
		    BT_OK);
		/* the old root and its last leaf, or the rightmost path */
		ck_assert_uint_le(c.gets - gets, 2 + 4);
		ck_assert_int_eq(btcore_tree_builder_write(b, data + from,
		    to - from), BT_OK);
		ck_assert_int_eq(btcore_tree_builder_finish(b, &root, &size),
		    BT_OK);
		ck_assert_uint_eq(size, to);
		btcore_tree_builder_free(b);
		read_compare(&root, &io, data, to, 70001);
		from = to;
	}
	ck_assert_int_eq(c.outstanding, 0);
	ck_assert_uint_eq(c.gets, c.releases);
	whole = build(layout, p, &io, data, len, 0);
	ck_assert_int_eq(btcore_id_cmp(&root, &whole), 0);
	btcore_memblocks_free(m);
}

START_TEST(append_matches_whole_build)
{
	static const size_t cuts1[] = { 1, 2, 1000, BM - 1, BM, BM + 1,
	    3 * BM, 3 * BM + 5, 900000 };
	/* 512-byte leaves: more than one index node (7279 entries) */
	static const size_t cuts2[] = { 100, 512 * 7279 - 1, 512 * 7279,
	    512 * 7279 + 1, 512 * 7279 + 513, 4000000 };
	static const size_t cuts3[] = { 511, 512, 513, 512 * 4 * 4,
	    512 * 4 * 4 * 4 + 1, 200000 };
	struct btcore_tree_params seqsmall = { 512, 0 }, rsmall = { 512, 4 };
	size_t len = 4200000;
	uint8_t *data = make_data(len, 7);

	rng_state = 42;
	append_pieces(BTCORE_TREE_SEQUENTIAL, NULL, data, cuts1, 9, 1000000);
	append_pieces(BTCORE_TREE_RANDOM, NULL, data, cuts1, 9, 1000000);
	append_pieces(BTCORE_TREE_SEQUENTIAL, &seqsmall, data, cuts2, 6, len);
	append_pieces(BTCORE_TREE_RANDOM, &rsmall, data, cuts3, 6, 300000);
	free(data);
}
END_TEST

START_TEST(append_checks)
{
	struct btcore_memblocks *m;
	struct btcore_blockio io;
	struct btcore_tree_builder *b;
	struct btcore_tree_params other = { 4096, 0 }, wrongfan = { 0, 7 };
	struct bt_id r, missing;
	uint8_t *data = make_data(10000, 3);

	ck_assert_int_eq(btcore_memblocks_new(&m), BT_OK);
	btcore_memblocks_blockio(m, &io);
	r = build(BTCORE_TREE_RANDOM, NULL, &io, data, 10000, 0);
	/* random: leaf size and fanout are the file's */
	ck_assert_int_eq(btcore_tree_builder_append(&b, &r, &other, &io),
	    BT_EINVAL);
	ck_assert_ptr_null(b);
	ck_assert_int_eq(btcore_tree_builder_append(&b, &r, &wrongfan, &io),
	    BT_EINVAL);
	memset(&missing, 0x5a, sizeof(missing));
	ck_assert_int_eq(btcore_tree_builder_append(&b, &missing, NULL, &io),
	    BT_ENOTFOUND);
	ck_assert_int_eq(btcore_tree_builder_append(&b, &r, NULL, NULL),
	    BT_EINVAL);
	ck_assert_int_eq(btcore_tree_builder_append(NULL, &r, NULL, &io),
	    BT_EINVAL);
	/* a block that is not a node */
	ck_assert_int_eq(btcore_block_id(&missing, data, 100), BT_OK);
	ck_assert_int_eq(btcore_memblocks_put(m, &missing, data, 100), BT_OK);
	ck_assert_int_eq(btcore_tree_builder_append(&b, &missing, NULL, &io),
	    BT_EFORMAT);
	btcore_memblocks_free(m);
	free(data);
}
END_TEST

/* Find the id of leaf @p i and of the root's first child. */
static struct bt_id
first_entry(struct btcore_memblocks *m, const struct bt_id *root)
{
	struct btcore_tree_node n;
	struct bt_id id;
	const void *data;
	size_t len;

	ck_assert_int_eq(btcore_memblocks_get(m, root, &data, &len), BT_OK);
	ck_assert_int_eq(btcore_tree_node_decode(&n, data, len), BT_OK);
	ck_assert_int_eq(btcore_tree_node_entry(&n, 0, &id, NULL), BT_OK);
	return id;
}

/* Replace the block @p id in the map by a copy with one byte flipped. */
static void
tamper(struct btcore_memblocks *m, const struct bt_id *id, size_t at)
{
	const void *data;
	size_t len;
	uint8_t *copy;

	ck_assert_int_eq(btcore_memblocks_get(m, id, &data, &len), BT_OK);
	copy = malloc(len);
	ck_assert_ptr_nonnull(copy);
	memcpy(copy, data, len);
	copy[at % len] ^= 0x10;
	ck_assert_int_eq(btcore_memblocks_remove(m, id), BT_OK);
	ck_assert_int_eq(btcore_memblocks_put(m, id, copy, len), BT_OK);
	free(copy);
}

START_TEST(tampered_and_missing_blocks)
{
	const size_t len = 3 * BM;
	struct btcore_tree_params deep = { 512, 4 };
	struct btcore_memblocks *m;
	struct btcore_blockio io;
	struct btcore_tree_reader *r;
	struct bt_id root, leaf, mid;
	uint8_t *data = make_data(len, 11), *buf = malloc(len);
	size_t n;
	int layout;

	ck_assert_ptr_nonnull(buf);
	for (layout = 1; layout <= 2; layout++) {
		ck_assert_int_eq(btcore_memblocks_new(&m), BT_OK);
		btcore_memblocks_blockio(m, &io);
		root = build(layout, NULL, &io, data, len, 0);
		leaf = first_entry(m, &root);
		tamper(m, &leaf, 1000);
		ck_assert_int_eq(btcore_tree_reader_open(&r, &root, &io),
		    BT_OK);
		/* into the caller's buffer, and into the reader's own */
		memset(buf, 0x77, len);
		ck_assert_int_eq(btcore_tree_reader_read(r, buf, len, &n),
		    BT_ECORRUPT);
		ck_assert_uint_eq(n, 0);
		ck_assert_uint_eq(btcore_tree_reader_tell(r), 0);
		/* no unverified byte reached the caller */
		ck_assert(memcmp(buf, data, 1001) != 0);
		ck_assert_int_eq(btcore_tree_reader_read(r, buf, 10, &n),
		    BT_ECORRUPT);
		/* the rest of the file still reads */
		ck_assert_int_eq(btcore_tree_reader_seek(r, -100,
		    BTCORE_SEEK_END, NULL), BT_OK);
		ck_assert_int_eq(btcore_tree_reader_read(r, buf, 1000, &n),
		    BT_OK);
		ck_assert_uint_eq(n, 100);
		ck_assert_int_eq(memcmp(buf, data + len - 100, 100), 0);
		btcore_tree_reader_close(r);
		/* a missing leaf */
		ck_assert_int_eq(btcore_memblocks_remove(m, &leaf), BT_OK);
		ck_assert_int_eq(btcore_tree_reader_open(&r, &root, &io),
		    BT_OK);
		ck_assert_int_eq(btcore_tree_reader_read(r, buf, 5, &n),
		    BT_ENOTFOUND);
		btcore_tree_reader_close(r);
		/* a tampered and a missing root */
		tamper(m, &root, 3);
		ck_assert_int_eq(btcore_tree_reader_open(&r, &root, &io),
		    BT_ECORRUPT);
		ck_assert_ptr_null(r);
		ck_assert_int_eq(btcore_memblocks_remove(m, &root), BT_OK);
		ck_assert_int_eq(btcore_tree_reader_open(&r, &root, &io),
		    BT_ENOTFOUND);
		btcore_memblocks_free(m);
	}
	/* a tampered interior node of a random-access tree */
	ck_assert_int_eq(btcore_memblocks_new(&m), BT_OK);
	btcore_memblocks_blockio(m, &io);
	root = build(BTCORE_TREE_RANDOM, &deep, &io, data, 100000, 0);
	mid = first_entry(m, &root);
	tamper(m, &mid, 40);
	ck_assert_int_eq(btcore_tree_reader_open(&r, &root, &io), BT_OK);
	ck_assert_int_eq(btcore_tree_reader_read(r, buf, 1, &n), BT_ECORRUPT);
	ck_assert_int_eq(btcore_tree_reader_seek(r, -1, BTCORE_SEEK_END, NULL),
	    BT_OK);
	ck_assert_int_eq(btcore_tree_reader_read(r, buf, 1, &n), BT_OK);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(buf[0], data[99999]);
	btcore_tree_reader_close(r);
	btcore_memblocks_free(m);
	free(data);
	free(buf);
}
END_TEST

/* A store whose get lends different bytes of the right id. */
START_TEST(wrong_shape_under_right_id)
{
	struct btcore_memblocks *m;
	struct btcore_blockio io;
	struct btcore_tree_reader *r;
	struct btcore_tree_node n;
	struct bt_id root, leaf, fake;
	uint8_t node[BTCORE_TREE_RND_HEADER + BT_ID_LEN];
	uint8_t buf[700], *data = make_data(1000, 1);
	size_t len;

	ck_assert_int_eq(btcore_memblocks_new(&m), BT_OK);
	btcore_memblocks_blockio(m, &io);
	/* a valid random node whose one child (a leaf of 600 bytes) is
	 * really a block of 700 bytes: the hash checks, the shape not */
	ck_assert_int_eq(btcore_block_id(&leaf, data, 700), BT_OK);
	ck_assert_int_eq(btcore_memblocks_put(m, &leaf, data, 700), BT_OK);
	memset(&n, 0, sizeof(n));
	n.layout = BTCORE_TREE_RANDOM;
	n.level = 1;
	n.size = 600;
	n.leaf_size = 600;
	n.fanout = 4;
	n.count = 1;
	n.entries = leaf.b;
	ck_assert_int_eq(btcore_tree_node_encode(&n, node, sizeof(node),
	    &len), BT_OK);
	ck_assert_uint_eq(len, sizeof(node));
	ck_assert_int_eq(btcore_block_id(&root, node, len), BT_OK);
	ck_assert_int_eq(btcore_memblocks_put(m, &root, node, len), BT_OK);
	ck_assert_int_eq(btcore_tree_reader_open(&r, &root, &io), BT_OK);
	ck_assert_int_eq(btcore_tree_reader_read(r, buf, 600, &len),
	    BT_EFORMAT);
	ck_assert_int_eq(btcore_tree_reader_read(r, buf, 10, &len),
	    BT_EFORMAT);
	btcore_tree_reader_close(r);
	/* a root that is a leaf, not a node */
	ck_assert_int_eq(btcore_block_id(&fake, data, 1000), BT_OK);
	ck_assert_int_eq(btcore_memblocks_put(m, &fake, data, 1000), BT_OK);
	ck_assert_int_eq(btcore_tree_reader_open(&r, &fake, &io), BT_EFORMAT);
	btcore_memblocks_free(m);
	free(data);
}
END_TEST

START_TEST(seek_reads_depth_blocks)
{
	const size_t len = 2u << 20;
	struct btcore_tree_params deep = { 512, 4 };
	struct btcore_memblocks *m;
	struct btcore_blockio io;
	struct btcore_tree_reader *r;
	struct btcore_tree_stat st;
	struct cio c;
	struct bt_id root;
	uint8_t *data = make_data(len, 21), byte;
	unsigned i, before;
	uint64_t at;
	size_t n;

	rng_state = 777;
	ck_assert_int_eq(btcore_memblocks_new(&m), BT_OK);
	cio_init(&c, m, &io);
	root = build(BTCORE_TREE_RANDOM, &deep, &io, data, len, 0);
	ck_assert_int_eq(btcore_tree_reader_open(&r, &root, &io), BT_OK);
	ck_assert_uint_eq(c.gets, c.releases);
	ck_assert_int_eq(btcore_tree_reader_stat(r, &st), BT_OK);
	ck_assert_uint_eq(st.depth, 6);	/* 4096 = 4^6 leaves */
	for (i = 0; i < 500; i++) {
		at = rng() % len;
		ck_assert_int_eq(btcore_tree_reader_seek(r, (int64_t)at,
		    BTCORE_SEEK_SET, NULL), BT_OK);
		before = c.gets;
		ck_assert_int_eq(btcore_tree_reader_read(r, &byte, 1, &n),
		    BT_OK);
		ck_assert_uint_eq(n, 1);
		ck_assert_uint_eq(byte, data[at]);
		/* the nodes below the root on the path, and the leaf */
		ck_assert_uint_le(c.gets - before, st.depth);
		ck_assert_uint_eq(c.gets, c.releases);
	}
	/* streaming reads fetch each block once */
	ck_assert_int_eq(btcore_tree_reader_seek(r, 0, BTCORE_SEEK_SET, NULL),
	    BT_OK);
	before = c.gets;
	for (i = 0; i < 4096; i++)
		ck_assert_int_eq(btcore_tree_reader_read(r, &byte, 1, &n),
		    BT_OK);
	ck_assert_uint_le(c.gets - before, 8 + 6 + 1);
	btcore_tree_reader_close(r);
	btcore_memblocks_free(m);
	free(data);
}
END_TEST

/*
 * The id of the node of a random-access tree that is reached from the
 * root by taking entry @p which[i] at step i, for @p steps steps.
 */
static struct bt_id
descend(struct btcore_memblocks *m, const struct bt_id *root,
    const uint32_t *which, unsigned steps)
{
	struct btcore_tree_node n;
	struct bt_id id = *root;
	const void *data;
	size_t len;
	unsigned i;

	for (i = 0; i < steps; i++) {
		ck_assert_int_eq(btcore_memblocks_get(m, &id, &data, &len),
		    BT_OK);
		ck_assert_int_eq(btcore_tree_node_decode(&n, data, len), BT_OK);
		ck_assert_int_eq(btcore_tree_node_entry(&n, which[i], &id,
		    NULL), BT_OK);
	}
	return id;
}

/*
 * Read @p want bytes at @p at and compare; returns the gets it took.
 * Checked without ck_assert, which records every assertion that passes:
 * these run by the thousand.
 */
static unsigned
read_at(struct btcore_tree_reader *r, const struct cio *c,
    const uint8_t *data, size_t len, uint64_t at, size_t want, uint8_t *buf)
{
	unsigned before = c != NULL ? c->gets : 0;
	size_t n = 0, expect = want < len - at ? want : (size_t)(len - at);
	int rs, rr;

	rs = btcore_tree_reader_seek(r, (int64_t)at, BTCORE_SEEK_SET, NULL);
	rr = btcore_tree_reader_read(r, buf, want, &n);
	if (rs != BT_OK || rr != BT_OK || n != expect ||
	    memcmp(buf, data + at, n) != 0 ||
	    btcore_tree_reader_tell(r) != at + n ||
	    (c != NULL && c->gets != c->releases))
		ck_abort_msg("read of %zu at %llu: seek %d, read %d, %zu bytes",
		    want, (unsigned long long)at, rs, rr, n);
	return c != NULL ? c->gets - before : 0;
}

/* No byte of @p buf other than @p fill or 0: nothing unverified. */
static int
untouched(const uint8_t *buf, size_t len, uint8_t fill)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (buf[i] != fill && buf[i] != 0)
			return 0;
	return 1;
}

/* Once cached, the nodes are not fetched again; without the cache they
 * are; the last two leaves are held. */
START_TEST(node_cache_fetches)
{
	const size_t len = 2u << 20;	/* 4096 leaves, depth 6 */
	struct btcore_tree_params deep = { 512, 4 };
	struct btcore_memblocks *m;
	struct btcore_blockio io;
	struct btcore_tree_reader *r;
	struct btcore_tree_stat st;
	struct cio c;
	struct bt_id root;
	uint8_t *data = make_data(len, 31), buf[2048];
	unsigned i, got, before;
	uint64_t at;

	rng_state = 4242;
	ck_assert_int_eq(btcore_memblocks_new(&m), BT_OK);
	cio_init(&c, m, &io);
	root = build(BTCORE_TREE_RANDOM, &deep, &io, data, len, 0);
	ck_assert_int_eq(btcore_tree_reader_open(&r, &root, &io), BT_OK);
	ck_assert_int_eq(btcore_tree_reader_stat(r, &st), BT_OK);
	ck_assert_uint_eq(st.depth, 6);
	ck_assert_int_eq(btcore_tree_reader_set_cache(NULL, 0), BT_EINVAL);
	/* a first pass of whole leaves fetches every block once */
	before = c.gets;
	for (at = 0, got = 0; at < len; at += 512) {
		i = read_at(r, &c, data, len, at, 512, buf);
		got = i > got ? i : got;
	}
	ck_assert_uint_le(got, 6);
	ck_assert_uint_eq(c.gets - before, st.leaves + st.nodes - 1);
	/* then random reads fetch only leaves: one per leaf touched */
	for (i = 0; i < 1000; i++) {
		at = rng() % (len - 600);
		got = read_at(r, &c, data, len, at, 600, buf);
		if (got < 1 || got > 600 / 512 + 2)
			ck_abort_msg("%u gets for 600 bytes at %llu", got,
			    (unsigned long long)at);
	}
	/* two leaves far apart, read in turn: held, no fetch at all */
	ck_assert_uint_eq(read_at(r, &c, data, len, 1000, 10, buf), 1);
	ck_assert_uint_eq(read_at(r, &c, data, len, len - 1000, 10, buf), 1);
	for (i = 0; i < 14; i++) {
		ck_assert_uint_eq(read_at(r, &c, data, len, 1000 + i, 10, buf),
		    0);
		ck_assert_uint_eq(read_at(r, &c, data, len, len - 1000 + i, 10,
		    buf), 0);
	}
	/* a third leaf pushes out the less recent one */
	ck_assert_uint_eq(read_at(r, &c, data, len, len / 2, 10, buf), 1);
	ck_assert_uint_eq(read_at(r, &c, data, len, len - 1000, 10, buf), 0);
	ck_assert_uint_eq(read_at(r, &c, data, len, 1000, 10, buf), 1);
	/*
	 * The least budget keeps 5 nodes (depth - 1).  Three leaves under
	 * one level-5 node but different level-4 nodes, read in turn: each
	 * read finds the shared level-5 node and fetches the 4 nodes below
	 * it, which push out those of the leaf before, and the leaf (two
	 * leaves are held, not three).
	 */
	ck_assert_int_eq(btcore_tree_reader_set_cache(r, 0), BT_OK);
	for (i = 0; i < 30; i++) {
		at = (i % 3) * 256 * 512 + 100 + i;
		got = read_at(r, &c, data, len, at, 1, buf);
		if (i >= 3)
			ck_assert_uint_eq(got, 5);
		ck_assert_uint_le(got, 6);
	}
	/* with a budget: once read, leaves only */
	ck_assert_int_eq(btcore_tree_reader_set_cache(r, 100000), BT_OK);
	for (i = 0; i < 30; i++) {
		at = (i % 3) * 256 * 512 + 100 + i;
		got = read_at(r, &c, data, len, at, 1, buf);
		if (i >= 3)
			ck_assert_uint_eq(got, 1);
	}
	/* and with none again, at random */
	ck_assert_int_eq(btcore_tree_reader_set_cache(r, 0), BT_OK);
	for (i = 0; i < 300; i++) {
		at = rng() % len;
		if (read_at(r, &c, data, len, at, 1, buf) > 6)
			ck_abort_msg("more than a path for a byte at %llu",
			    (unsigned long long)at);
	}
	/* a cache again: after one pass, leaves only */
	ck_assert_int_eq(btcore_tree_reader_set_cache(r,
	    BTCORE_TREE_CACHE_DEFAULT), BT_OK);
	for (at = 0; at < len; at += 512)
		(void)read_at(r, &c, data, len, at, 512, buf);
	before = c.gets;
	for (at = 0; at < len; at += 512)
		if (read_at(r, &c, data, len, at, 512, buf) > 1)
			ck_abort_msg("a node fetched at %llu",
			    (unsigned long long)at);
	/* all but the (at most two) leaves held from before */
	ck_assert_uint_le(c.gets - before, st.leaves);
	ck_assert_uint_ge(c.gets - before, st.leaves - 2);
	btcore_tree_reader_close(r);
	btcore_memblocks_free(m);
	free(data);
}
END_TEST

/*
 * A budget that holds only some nodes: the least recently used go, the
 * content stays right, and nodes that stay in use are not fetched again.
 */
START_TEST(node_cache_eviction)
{
	const size_t len = 1u << 20;	/* 2048 leaves, fanout 3: depth 7 */
	struct btcore_tree_params deep = { 512, 3 };
	static const size_t budgets[] = { 0, 1, 600, 2000, 6000, 20000,
	    60000, (size_t)-1 };
	struct btcore_memblocks *m;
	struct btcore_blockio io;
	struct btcore_tree_reader *r;
	struct btcore_tree_stat st;
	struct cio c;
	struct bt_id root;
	uint8_t *data = make_data(len, 32), buf[1600];
	unsigned i, b, got, hot;
	uint64_t at;

	rng_state = 99;
	ck_assert_int_eq(btcore_memblocks_new(&m), BT_OK);
	cio_init(&c, m, &io);
	root = build(BTCORE_TREE_RANDOM, &deep, &io, data, len, 0);
	for (b = 0; b < sizeof(budgets) / sizeof(budgets[0]); b++) {
		ck_assert_int_eq(btcore_tree_reader_open(&r, &root, &io),
		    BT_OK);
		ck_assert_int_eq(btcore_tree_reader_stat(r, &st), BT_OK);
		ck_assert_uint_eq(st.depth, 7);
		ck_assert_int_eq(btcore_tree_reader_set_cache(r, budgets[b]),
		    BT_OK);
		for (i = 0; i < 1500; i++) {
			at = rng() % len;
			got = read_at(r, &c, data, len, at,
			    (size_t)(rng() % sizeof(buf)), buf);
			/* at most the path below the root for each leaf */
			if (got > 4 * 7)
				ck_abort_msg("%u gets at %llu", got,
				    (unsigned long long)at);
		}
		/* a small region read over and over: after the first time
		 * its nodes stay (its path is the most recent), so each
		 * read fetches only its leaves */
		for (i = 0; i < 200; i++)
			(void)read_at(r, &c, data, len, 300000 + (i % 7) * 1024,
			    1024, buf);
		for (i = 0; i < 200; i++) {
			hot = read_at(r, &c, data, len,
			    300000 + (i % 7) * 1024, 1024, buf);
			if (budgets[b] >= 6000 && hot > 3)
				ck_abort_msg("budget %zu: %u gets", budgets[b],
				    hot);
		}
		/* lowering the budget keeps the reader right */
		ck_assert_int_eq(btcore_tree_reader_set_cache(r, 0), BT_OK);
		for (i = 0; i < 300; i++)
			(void)read_at(r, &c, data, len, rng() % len, 700, buf);
		btcore_tree_reader_close(r);
	}
	/* a sequential file has no node cache: the call changes nothing */
	root = build(BTCORE_TREE_SEQUENTIAL, NULL, &io, data, len, 0);
	ck_assert_int_eq(btcore_tree_reader_open(&r, &root, &io), BT_OK);
	ck_assert_int_eq(btcore_tree_reader_set_cache(r, 0), BT_OK);
	for (i = 0; i < 100; i++)
		(void)read_at(r, &c, data, len, rng() % len, 1500, buf);
	btcore_tree_reader_close(r);
	btcore_memblocks_free(m);
	free(data);
}
END_TEST

/* Put back the original bytes of @p id (see tamper()). */
static void
restore(struct btcore_memblocks *m, const struct bt_id *id,
    const uint8_t *orig, size_t len)
{
	ck_assert_int_eq(btcore_memblocks_remove(m, id), BT_OK);
	ck_assert_int_eq(btcore_memblocks_put(m, id, orig, len), BT_OK);
}

/*
 * A node tampered with in the store after the reader verified and cached
 * it: the reader goes on serving the verified copy.  Fetched fresh (from
 * a new reader, or after the cache dropped it), it is BT_ECORRUPT and no
 * byte under it reaches the caller; a failed node is not cached.
 */
START_TEST(node_cache_tampered)
{
	const size_t len = 1u << 20;	/* 2048 leaves, depth 6 */
	struct btcore_tree_params deep = { 512, 4 };
	static const uint32_t first[5] = { 0, 0, 0, 0, 0 };
	static const uint32_t last[5] = { 1, 3, 3, 3, 3 };
	struct btcore_memblocks *m;
	struct btcore_blockio io;
	struct btcore_tree_reader *r, *r2;
	struct bt_id root, lv1, lv3, lv1b;
	const void *p;
	uint8_t *data = make_data(len, 33), buf[3000], *orig1, *orig3;
	size_t n, l1, l3;
	uint64_t at;

	rng_state = 5;
	ck_assert_int_eq(btcore_memblocks_new(&m), BT_OK);
	btcore_memblocks_blockio(m, &io);
	root = build(BTCORE_TREE_RANDOM, &deep, &io, data, len, 0);
	/* the level-1 and level-3 nodes above the first leaf, and the
	 * level-1 node above the last leaf */
	lv1 = descend(m, &root, first, 5);
	lv3 = descend(m, &root, first, 3);
	lv1b = descend(m, &root, last, 5);
	ck_assert_int_eq(btcore_memblocks_get(m, &lv1, &p, &l1), BT_OK);
	ck_assert_ptr_nonnull(orig1 = malloc(l1));
	memcpy(orig1, p, l1);
	ck_assert_int_eq(btcore_memblocks_get(m, &lv3, &p, &l3), BT_OK);
	ck_assert_ptr_nonnull(orig3 = malloc(l3));
	memcpy(orig3, p, l3);

	ck_assert_int_eq(btcore_tree_reader_open(&r, &root, &io), BT_OK);
	(void)read_at(r, NULL, data, len, 0, 10, buf);
	(void)read_at(r, NULL, data, len, len - 10, 10, buf);
	tamper(m, &lv1, 50);
	tamper(m, &lv3, 33);
	tamper(m, &lv1b, 40);
	/* cached: the verified copies serve every leaf below them */
	for (at = 0; at < 4 * 512 * 4 * 4; at += 1000)
		(void)read_at(r, NULL, data, len, at, 1200, buf);
	for (at = len - 4 * 512; at < len; at += 100)
		(void)read_at(r, NULL, data, len, at, 3000, buf);
	/* fresh: corrupt, nothing returned, the position stays */
	ck_assert_int_eq(btcore_tree_reader_open(&r2, &root, &io), BT_OK);
	memset(buf, 0x5a, sizeof(buf));
	ck_assert_int_eq(btcore_tree_reader_read(r2, buf, sizeof(buf), &n),
	    BT_ECORRUPT);
	ck_assert_uint_eq(n, 0);
	ck_assert_uint_eq(btcore_tree_reader_tell(r2), 0);
	ck_assert(untouched(buf, sizeof(buf), 0x5a));
	/* not cached after failing: corrupt again, then right once the
	 * store has the real bytes back */
	ck_assert_int_eq(btcore_tree_reader_read(r2, buf, 1, &n),
	    BT_ECORRUPT);
	restore(m, &lv3, orig3, l3);
	ck_assert_int_eq(btcore_tree_reader_read(r2, buf, 1, &n),
	    BT_ECORRUPT);	/* lv1 below it is still tampered */
	restore(m, &lv1, orig1, l1);
	(void)read_at(r2, NULL, data, len, 0, 1000, buf);
	/* a read that ends in a corrupt subtree returns nothing */
	ck_assert_int_eq(btcore_tree_reader_seek(r2, -(int64_t)(4 * 512) - 5,
	    BTCORE_SEEK_END, NULL), BT_OK);
	memset(buf, 0x5a, sizeof(buf));
	ck_assert_int_eq(btcore_tree_reader_read(r2, buf, 10, &n),
	    BT_ECORRUPT);
	ck_assert_uint_eq(n, 0);
	ck_assert(untouched(buf, sizeof(buf), 0x5a));
	ck_assert_uint_eq(btcore_tree_reader_tell(r2), len - 4 * 512 - 5);
	(void)read_at(r2, NULL, data, len, len - 4 * 512 - 5, 5, buf);
	btcore_tree_reader_close(r2);
	/* the first reader, once its cache lets the node go, fetches it
	 * fresh and finds it corrupt: with the least budget it keeps five
	 * nodes, those last used, here for reads in the middle */
	(void)read_at(r, NULL, data, len, 0, 10, buf);
	ck_assert_int_eq(btcore_tree_reader_set_cache(r, 0), BT_OK);
	(void)read_at(r, NULL, data, len, len / 2, 10, buf);
	(void)read_at(r, NULL, data, len, len / 4, 10, buf);
	ck_assert_int_eq(btcore_tree_reader_seek(r, -600, BTCORE_SEEK_END,
	    NULL), BT_OK);
	ck_assert_int_eq(btcore_tree_reader_read(r, buf, 1, &n), BT_ECORRUPT);
	ck_assert_uint_eq(n, 0);
	ck_assert_uint_eq(btcore_tree_reader_tell(r), len - 600);
	(void)read_at(r, NULL, data, len, 0, 10, buf);
	btcore_tree_reader_close(r);
	btcore_memblocks_free(m);
	free(orig1);
	free(orig3);
	free(data);
}
END_TEST

/*
 * Reads starting at every offset near leaf boundaries, of lengths around
 * one and two leaves, from a reader that holds the leaves around and from
 * a fresh one; both layouts.
 */
START_TEST(reads_across_leaf_boundaries)
{
	const size_t len = 40 * 512 + 100;
	static const size_t lens[] = { 1, 2, 3, 17, 511, 512, 513, 1023, 1024,
	    1025, 1536, 1537, 2000 };
	static const uint64_t bounds[] = { 512, 1024, 3 * 512, 9 * 512,
	    27 * 512, 39 * 512, 40 * 512 };
	struct btcore_tree_params small = { 512, 3 };
	struct btcore_tree_params seq = { 512, 0 };
	struct btcore_memblocks *m;
	struct btcore_blockio io;
	struct btcore_tree_reader *r, *fresh;
	struct bt_id root;
	uint8_t *data = make_data(len, 34), buf[2100];
	unsigned b, k, layout;
	int d;
	uint64_t at;

	ck_assert_int_eq(btcore_memblocks_new(&m), BT_OK);
	btcore_memblocks_blockio(m, &io);
	for (layout = BTCORE_TREE_SEQUENTIAL; layout <= BTCORE_TREE_RANDOM;
	    layout++) {
		root = build((int)layout, layout == BTCORE_TREE_RANDOM ?
		    &small : &seq, &io, data, len, 700);
		ck_assert_int_eq(btcore_tree_reader_open(&r, &root, &io),
		    BT_OK);
		for (b = 0; b < sizeof(bounds) / sizeof(bounds[0]); b++) {
			for (d = -24; d <= 24; d++) {
				at = bounds[b] + (uint64_t)(int64_t)d;
				if (at > len)
					continue;
				for (k = 0; k < sizeof(lens) / sizeof(lens[0]);
				    k++) {
					(void)read_at(r, NULL, data, len, at,
					    lens[k], buf);
					if (btcore_tree_reader_open(&fresh,
					    &root, &io) != BT_OK)
						ck_abort_msg("open");
					(void)read_at(fresh, NULL, data, len,
					    at, lens[k], buf);
					btcore_tree_reader_close(fresh);
				}
			}
		}
		btcore_tree_reader_close(r);
	}
	btcore_memblocks_free(m);
	free(data);
}
END_TEST

START_TEST(seek_bounds)
{
	struct btcore_memblocks *m;
	struct btcore_blockio io;
	struct btcore_tree_reader *r;
	struct bt_id root;
	uint8_t *data = make_data(1000, 2), buf[10];
	uint64_t pos;
	size_t n;

	ck_assert_int_eq(btcore_memblocks_new(&m), BT_OK);
	btcore_memblocks_blockio(m, &io);
	root = build(BTCORE_TREE_SEQUENTIAL, NULL, &io, data, 1000, 0);
	ck_assert_int_eq(btcore_tree_reader_open(&r, &root, &io), BT_OK);
	ck_assert_int_eq(btcore_tree_reader_seek(r, 1000, BTCORE_SEEK_SET,
	    &pos), BT_OK);
	ck_assert_uint_eq(pos, 1000);
	ck_assert_int_eq(btcore_tree_reader_read(r, buf, 10, &n), BT_OK);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(btcore_tree_reader_seek(r, 1001, BTCORE_SEEK_SET,
	    &pos), BT_ERANGE);
	ck_assert_int_eq(btcore_tree_reader_seek(r, -1, BTCORE_SEEK_SET,
	    &pos), BT_ERANGE);
	ck_assert_int_eq(btcore_tree_reader_seek(r, INT64_MIN, BTCORE_SEEK_END,
	    &pos), BT_ERANGE);
	ck_assert_int_eq(btcore_tree_reader_seek(r, INT64_MAX, BTCORE_SEEK_CUR,
	    &pos), BT_ERANGE);
	ck_assert_uint_eq(btcore_tree_reader_tell(r), 1000);
	ck_assert_int_eq(btcore_tree_reader_seek(r, -1000, BTCORE_SEEK_CUR,
	    &pos), BT_OK);
	ck_assert_uint_eq(pos, 0);
	ck_assert_int_eq(btcore_tree_reader_seek(r, 0, 3, &pos), BT_EINVAL);
	ck_assert_int_eq(btcore_tree_reader_seek(r, 10, BTCORE_SEEK_CUR,
	    NULL), BT_OK);
	ck_assert_int_eq(btcore_tree_reader_read(r, buf, 10, &n), BT_OK);
	ck_assert_int_eq(memcmp(buf, data + 10, 10), 0);
	ck_assert_int_eq(btcore_tree_reader_read(r, NULL, 1, &n), BT_EINVAL);
	ck_assert_int_eq(btcore_tree_reader_read(r, buf, 1, NULL), BT_EINVAL);
	ck_assert_int_eq(btcore_tree_reader_stat(r, NULL), BT_EINVAL);
	btcore_tree_reader_close(r);
	btcore_tree_reader_close(NULL);
	ck_assert_int_eq(btcore_tree_reader_open(&r, NULL, &io), BT_EINVAL);
	ck_assert_int_eq(btcore_tree_reader_open(NULL, &root, &io), BT_EINVAL);
	btcore_memblocks_free(m);
	free(data);
}
END_TEST

START_TEST(builder_fails_and_stays_failed)
{
	struct btcore_memblocks *m;
	struct btcore_blockio io;
	struct btcore_tree_builder *b;
	struct btcore_tree_params bad[] = { { 511, 0 }, { BM + 1, 0 },
	    { 0, 1 }, { 0, BTCORE_TREE_FANOUT_MAX + 1 } };
	struct cio c;
	struct bt_id root;
	uint8_t *data = make_data(3 * BM, 4);
	size_t i;
	int layout;

	ck_assert_int_eq(btcore_memblocks_new(&m), BT_OK);
	cio_init(&c, m, &io);
	for (i = 0; i < 4; i++) {
		ck_assert_int_eq(btcore_tree_builder_new(&b,
		    BTCORE_TREE_RANDOM, &bad[i], &io), BT_EINVAL);
		ck_assert_ptr_null(b);
	}
	ck_assert_int_eq(btcore_tree_builder_new(&b, BTCORE_TREE_SEQUENTIAL,
	    &(struct btcore_tree_params){ 0, 4 }, &io), BT_EINVAL);
	ck_assert_int_eq(btcore_tree_builder_new(&b, 3, NULL, &io), BT_EINVAL);
	ck_assert_int_eq(btcore_tree_builder_new(&b, 1, NULL, NULL),
	    BT_EINVAL);
	for (layout = 1; layout <= 2; layout++) {
		/* put fails at the second block */
		c.fail_put_after = (int)c.puts + 1;
		ck_assert_int_eq(btcore_tree_builder_new(&b, layout, NULL,
		    &io), BT_OK);
		ck_assert_int_eq(btcore_tree_builder_write(b, data, 3 * BM),
		    BT_ENOSPC);
		c.fail_put_after = -1;
		ck_assert_int_eq(btcore_tree_builder_write(b, data, 1),
		    BT_ESTATE);
		ck_assert_int_eq(btcore_tree_builder_finish(b, &root, NULL),
		    BT_ESTATE);
		ck_assert(btcore_id_is_zero(&root));
		ck_assert_int_eq(btcore_tree_builder_write(b, NULL, 1),
		    BT_EINVAL);
		btcore_tree_builder_free(b);
		/* put fails at finish */
		ck_assert_int_eq(btcore_tree_builder_new(&b, layout, NULL,
		    &io), BT_OK);
		ck_assert_int_eq(btcore_tree_builder_write(b, data, 100),
		    BT_OK);
		c.fail_put_after = (int)c.puts;
		ck_assert_int_eq(btcore_tree_builder_finish(b, &root, NULL),
		    BT_ENOSPC);
		c.fail_put_after = -1;
		ck_assert_int_eq(btcore_tree_builder_finish(b, &root, NULL),
		    BT_ESTATE);
		btcore_tree_builder_free(b);
	}
	btcore_tree_builder_free(NULL);
	btcore_memblocks_free(m);
	free(data);
}
END_TEST

/* ---- node decoder ------------------------------------------------------- */

static size_t
enc(const struct btcore_tree_node *n, uint8_t *buf, size_t cap)
{
	size_t len = 0;

	ck_assert_int_eq(btcore_tree_node_encode(n, buf, cap, &len), BT_OK);
	return len;
}

/* Every prefix fails; every single-bit flip fails or re-encodes as is. */
static void
hostile(const uint8_t *good, size_t len)
{
	struct btcore_tree_node n;
	uint8_t *b = malloc(len), *again = malloc(len);
	size_t i, alen;
	int rc;

	ck_assert_ptr_nonnull(b);
	ck_assert_ptr_nonnull(again);
	for (i = 0; i < len; i++)
		ck_assert_int_ne(btcore_tree_node_decode(&n, good, i), BT_OK);
	for (i = 0; i < len * 8; i++) {
		memcpy(b, good, len);
		b[i / 8] ^= (uint8_t)(1u << (i % 8));
		rc = btcore_tree_node_decode(&n, b, len);
		if (rc != BT_OK) {
			ck_assert(rc == BT_EFORMAT || rc == BT_EUNSUPPORTED);
			ck_assert_ptr_null(n.entries);
			continue;
		}
		ck_assert_int_eq(btcore_tree_node_encode(&n, again, len,
		    &alen), BT_OK);
		ck_assert_uint_eq(alen, len);
		ck_assert_int_eq(memcmp(again, b, len), 0);
	}
	free(b);
	free(again);
}

START_TEST(node_decoder)
{
	struct btcore_tree_node n, d;
	uint8_t ents[5 * BTCORE_TREE_SEQ_ENTRY], buf[512], bad[512];
	struct bt_id id;
	uint64_t sz;
	size_t len, i;

	memset(ents, 0, sizeof(ents));
	for (i = 0; i < 5; i++) {
		memset(ents + i * BTCORE_TREE_SEQ_ENTRY, (int)(i + 1),
		    BT_ID_LEN);
		ents[i * BTCORE_TREE_SEQ_ENTRY + 34] = (uint8_t)(i + 1);
	}
	/* sequential, second in its chain: start 1000, 5 entries */
	memset(&n, 0, sizeof(n));
	n.layout = BTCORE_TREE_SEQUENTIAL;
	n.level = 1;
	n.start = 1000;
	n.size = 1000 + 256 * (1 + 2 + 3 + 4 + 5);
	n.count = 5;
	memset(n.prev.b, 0xee, BT_ID_LEN);
	n.entries = ents;
	len = enc(&n, buf, sizeof(buf));
	ck_assert_uint_eq(len, 64 + 5 * 36);
	ck_assert_int_eq(btcore_tree_node_decode(&d, buf, len), BT_OK);
	ck_assert_uint_eq(d.size, n.size);
	ck_assert_uint_eq(d.start, 1000);
	ck_assert_int_eq(btcore_tree_node_entry(&d, 4, &id, &sz), BT_OK);
	ck_assert_uint_eq(sz, 5 * 256);
	ck_assert_uint_eq(id.b[0], 5);
	ck_assert_int_eq(btcore_tree_node_entry(&d, 5, &id, &sz), BT_ERANGE);
	ck_assert_int_eq(memcmp(buf, "BTTN\x01\x01\x01\x00", 8), 0);
	hostile(buf, len);
	/* a start without a prev, a prev without entries */
	memcpy(bad, buf, len);
	memset(bad + 32, 0, 32);
	ck_assert_int_eq(btcore_tree_node_decode(&d, bad, len), BT_EFORMAT);
	n.count = 0;
	n.size = n.start;
	ck_assert_int_eq(btcore_tree_node_encode(&n, bad, sizeof(bad), &len),
	    BT_EINVAL);
	/* leaf lengths 0 and BLOCK_MAX + 1 */
	n.count = 1;
	n.size = 1000;
	ents[32] = ents[33] = ents[34] = ents[35] = 0;
	ck_assert_int_eq(btcore_tree_node_encode(&n, bad, sizeof(bad), &len),
	    BT_EINVAL);
	ents[33] = (uint8_t)((BM + 1) >> 16);
	ents[34] = (uint8_t)((BM + 1) >> 8);
	ents[35] = (uint8_t)(BM + 1);
	n.size = 1000 + BM + 1;
	ck_assert_int_eq(btcore_tree_node_encode(&n, bad, sizeof(bad), &len),
	    BT_EINVAL);
	/* an oversize count with a short body */
	memcpy(bad, buf, 64);
	bad[24] = bad[25] = bad[26] = bad[27] = 0xff;
	ck_assert_int_eq(btcore_tree_node_decode(&d, bad, 64 + 5 * 36),
	    BT_EFORMAT);
	/* a size over INT64_MAX */
	memcpy(bad, buf, 64 + 5 * 36);
	bad[8] = 0x80;
	ck_assert_int_eq(btcore_tree_node_decode(&d, bad, 64 + 5 * 36),
	    BT_EFORMAT);
	/* another version is unsupported, flags must be 0 */
	memcpy(bad, buf, 64 + 5 * 36);
	bad[4] = 2;
	ck_assert_int_eq(btcore_tree_node_decode(&d, bad, 64 + 5 * 36),
	    BT_EUNSUPPORTED);
	bad[4] = 1;
	bad[7] = 1;
	ck_assert_int_eq(btcore_tree_node_decode(&d, bad, 64 + 5 * 36),
	    BT_EFORMAT);

	/* random: level 2, leaf 512, fanout 4, 4 children of 2048 bytes
	 * (the last partial) */
	memset(&n, 0, sizeof(n));
	n.layout = BTCORE_TREE_RANDOM;
	n.level = 2;
	n.leaf_size = 512;
	n.fanout = 4;
	n.size = 3 * 2048 + 10;
	n.count = 4;
	n.entries = ents;
	len = enc(&n, buf, sizeof(buf));
	ck_assert_uint_eq(len, 32 + 4 * 32);
	ck_assert_int_eq(btcore_tree_node_decode(&d, buf, len), BT_OK);
	ck_assert_int_eq(btcore_tree_node_entry(&d, 0, &id, &sz), BT_OK);
	ck_assert_uint_eq(sz, 2048);
	ck_assert_int_eq(btcore_tree_node_entry(&d, 3, &id, &sz), BT_OK);
	ck_assert_uint_eq(sz, 10);
	hostile(buf, len);
	/* counts that do not fit the size, fanout and level limits */
	n.count = 3;
	ck_assert_int_eq(btcore_tree_node_encode(&n, bad, sizeof(bad), &len),
	    BT_EINVAL);
	n.count = 5;
	n.size = 4 * 2048 + 10;
	ck_assert_int_eq(btcore_tree_node_encode(&n, bad, sizeof(bad), &len),
	    BT_EINVAL);
	n.count = 4;
	n.size = 3 * 2048 + 10;
	n.fanout = 1;
	ck_assert_int_eq(btcore_tree_node_encode(&n, bad, sizeof(bad), &len),
	    BT_EINVAL);
	n.fanout = 4;
	n.leaf_size = 511;
	ck_assert_int_eq(btcore_tree_node_encode(&n, bad, sizeof(bad), &len),
	    BT_EINVAL);
	n.leaf_size = 512;
	n.level = 65;
	ck_assert_int_eq(btcore_tree_node_encode(&n, bad, sizeof(bad), &len),
	    BT_EINVAL);
	/* an empty node only at level 1 */
	n.level = 2;
	n.size = 0;
	n.count = 0;
	ck_assert_int_eq(btcore_tree_node_encode(&n, bad, sizeof(bad), &len),
	    BT_EINVAL);
	n.level = 1;
	ck_assert_int_eq(btcore_tree_node_encode(&n, bad, sizeof(bad), &len),
	    BT_OK);
	ck_assert_uint_eq(len, 32);
	/* too small a buffer */
	ck_assert_int_eq(btcore_tree_node_encode(&n, bad, 31, &len), BT_ERANGE);
	/* a deep level saturates the child size instead of overflowing */
	memcpy(bad, buf, 32 + 32);
	bad[6] = 64;
	bad[24] = bad[25] = bad[26] = 0;
	bad[27] = 1;
	ck_assert_int_eq(btcore_tree_node_decode(&d, bad, 64), BT_OK);
	ck_assert_int_eq(btcore_tree_node_entry(&d, 0, &id, &sz), BT_OK);
	ck_assert_uint_eq(sz, 3 * 2048 + 10);
	/* reserved bytes */
	memcpy(bad, buf, 32 + 4 * 32);
	bad[31] = 1;
	ck_assert_int_eq(btcore_tree_node_decode(&d, bad, 32 + 4 * 32),
	    BT_EFORMAT);
	ck_assert_int_eq(btcore_tree_node_decode(&d, NULL, 5), BT_EINVAL);
	ck_assert_int_eq(btcore_tree_node_decode(NULL, buf, 5), BT_EINVAL);
	ck_assert_int_eq(btcore_tree_node_decode(&d, "", 0), BT_EFORMAT);
}
END_TEST

Suite *suite_tree(void);

Suite *
suite_tree(void)
{
	Suite *s = suite_create("tree");
	TCase *tc = tcase_create("tree");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, node_decoder);
	tcase_add_test(tc, sizes_both_layouts);
	tcase_add_test(tc, layouts_and_params_differ);
	tcase_add_test(tc, large_file_and_random_seeks);
	tcase_add_test(tc, append_matches_whole_build);
	tcase_add_test(tc, append_checks);
	tcase_add_test(tc, tampered_and_missing_blocks);
	tcase_add_test(tc, wrong_shape_under_right_id);
	tcase_add_test(tc, seek_reads_depth_blocks);
	tcase_add_test(tc, node_cache_fetches);
	tcase_add_test(tc, node_cache_eviction);
	tcase_add_test(tc, node_cache_tampered);
	tcase_add_test(tc, reads_across_leaf_boundaries);
	tcase_add_test(tc, seek_bounds);
	tcase_add_test(tc, builder_fails_and_stays_failed);
	suite_add_tcase(s, tc);
	return s;
}
