/*
 * test_file.c - file trees on the store: write/read/seek round trips in
 * both layouts and at the sizes around block and leaf edges, batched
 * puts committed as they fill, unreferenced files collectable, a missing
 * block reported.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bt/file.h>
#include <bt/store.h>
#include <bt/tree.h>

Suite *suite_file(void);

static char dir[64];

static struct btstore *
open_tmp(void)
{
	struct btstore_options *o;
	struct btstore *st;

	snprintf(dir, sizeof(dir), "%s", "/tmp/btstore-file-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_eq(btstore_options_new(&o), BT_OK);
	ck_assert_int_eq(btstore_options_set(o, BTSTORE_OPT_NOSYNC, 1), BT_OK);
	ck_assert_int_eq(btstore_open(&st, dir, o), BT_OK);
	btstore_options_free(o);
	return st;
}

static void
close_tmp(struct btstore *st)
{
	char p[128];

	btstore_close(st);
	snprintf(p, sizeof(p), "%s/data.mdb", dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/lock.mdb", dir);
	unlink(p);
	rmdir(dir);
}

static void
fill(uint8_t *p, size_t len, uint32_t seed)
{
	uint32_t x = seed * 2654435761u + 1;
	size_t i;

	for (i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = (uint8_t)x;
	}
}

#define BIG	(3u * 1024u * 1024u + 77u)
static uint8_t data[BIG], back[BIG];

static struct bt_id
write_file(struct btstore *st, int layout, const struct btcore_tree_params *pp,
    const uint8_t *p, size_t len, size_t chunk)
{
	struct btstore_file_writer *w;
	struct bt_id root;
	uint64_t size;
	size_t off, n;

	ck_assert_int_eq(btstore_file_writer_new(&w, st, layout, pp), BT_OK);
	for (off = 0; off < len; off += n) {
		n = len - off < chunk ? len - off : chunk;
		ck_assert_int_eq(btstore_file_writer_write(w, p + off, n), BT_OK);
	}
	ck_assert_int_eq(btstore_file_writer_finish(w, &root, &size), BT_OK);
	ck_assert_uint_eq(size, len);
	/* finished: further writes are refused */
	ck_assert_int_eq(btstore_file_writer_write(w, p, 0), BT_ESTATE);
	btstore_file_writer_free(w);
	return root;
}

static void
read_back(struct btstore *st, const struct bt_id *root, const uint8_t *p,
    size_t len)
{
	struct btstore_file_reader *r;
	size_t got = 0, n;

	ck_assert_int_eq(btstore_file_reader_open(&r, st, root), BT_OK);
	ck_assert_uint_eq(btstore_file_reader_size(r), len);
	for (;;) {
		ck_assert_int_eq(btstore_file_reader_read(r, back + got,
		    len - got < 100000 ? len - got + 1 : 100000, &n), BT_OK);
		if (n == 0)
			break;
		got += n;
		ck_assert_uint_le(got, len);
	}
	ck_assert_uint_eq(got, len);
	ck_assert(len == 0 || memcmp(back, p, len) == 0);
	ck_assert_uint_eq(btstore_file_reader_tell(r), len);
	btstore_file_reader_close(r);
}

START_TEST(round_trips)
{
	static const size_t sizes[] = { 0, 1, 4079, 4080, 4081, 65519, 65520,
	    65521, BTCORE_BLOCK_MAX - 1, BTCORE_BLOCK_MAX,
	    BTCORE_BLOCK_MAX + 1, BIG };
	struct btcore_tree_params small = { 4080, 126 };
	struct btcore_tree_stat ts;
	struct btstore_file_reader *r;
	struct btstore *st = open_tmp();
	struct bt_id root;
	size_t i, l;

	fill(data, BIG, 1);
	for (l = 0; l < 3; l++) {
		for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			root = write_file(st, l == 0 ? BTCORE_TREE_SEQUENTIAL :
			    BTCORE_TREE_RANDOM, l == 2 ? &small : NULL, data,
			    sizes[i], l == 1 ? sizes[i] + 1 : 10007);
			read_back(st, &root, data, sizes[i]);
		}
	}
	/* the stat of a small-leaf random file */
	root = write_file(st, BTCORE_TREE_RANDOM, &small, data, BIG, 65536);
	ck_assert_int_eq(btstore_file_reader_open(&r, st, &root), BT_OK);
	ck_assert_int_eq(btstore_file_reader_stat(r, &ts), BT_OK);
	ck_assert_int_eq(ts.layout, BTCORE_TREE_RANDOM);
	ck_assert_uint_eq(ts.leaf_size, 4080);
	ck_assert_uint_eq(ts.fanout, 126);
	ck_assert_uint_eq(ts.leaves, (BIG + 4079) / 4080);
	btstore_file_reader_close(r);
	close_tmp(st);
}
END_TEST

START_TEST(seek_reads)
{
	struct btcore_tree_params small = { 4080, 126 };
	struct btstore_file_reader *r;
	struct btstore *st = open_tmp();
	struct bt_id root;
	unsigned seed = 7, i, layout;
	uint64_t pos;
	uint8_t buf[9000];
	size_t off, len, n;

	fill(data, BIG, 2);
	for (layout = 1; layout <= 2; layout++) {
		root = write_file(st, (int)layout, layout == 2 ? &small : NULL,
		    data, BIG, 1 << 20);
		ck_assert_int_eq(btstore_file_reader_open(&r, st, &root),
		    BT_OK);
		for (i = 0; i < 300; i++) {
			off = (size_t)rand_r(&seed) % BIG;
			len = (size_t)rand_r(&seed) % sizeof(buf);
			ck_assert_int_eq(btstore_file_reader_seek(r, (int64_t)off,
			    BTCORE_SEEK_SET, &pos), BT_OK);
			ck_assert_uint_eq(pos, off);
			ck_assert_int_eq(btstore_file_reader_read(r, buf, len,
			    &n), BT_OK);
			ck_assert_uint_eq(n, len < BIG - off ? len : BIG - off);
			ck_assert(memcmp(buf, data + off, n) == 0);
		}
		ck_assert_int_eq(btstore_file_reader_seek(r, 1, BTCORE_SEEK_END,
		    NULL), BT_ERANGE);
		ck_assert_int_eq(btstore_file_reader_seek(r, -1,
		    BTCORE_SEEK_SET, NULL), BT_ERANGE);
		ck_assert_int_eq(btstore_file_reader_seek(r, 0, BTCORE_SEEK_END,
		    &pos), BT_OK);
		ck_assert_uint_eq(pos, BIG);
		ck_assert_int_eq(btstore_file_reader_read(r, buf, 10, &n),
		    BT_OK);
		ck_assert_uint_eq(n, 0);
		btstore_file_reader_close(r);
	}
	close_tmp(st);
}
END_TEST

START_TEST(batches_and_gc)
{
	struct btcore_blockio io;
	struct btcore_tree_builder *b;
	struct btstore_file_io *fio;
	struct btstore *st = open_tmp();
	struct bt_id root;
	uint64_t count, bytes, c2, b2;
	size_t removed, total = 0;
	int fin;

	fill(data, BIG, 3);
	ck_assert_int_eq(btstore_file_io_new(&fio, st, 1), BT_ERANGE);
	ck_assert_int_eq(btstore_file_io_new(&fio, st, BTCORE_BLOCK_MAX),
	    BT_OK);
	btstore_file_io_blockio(fio, &io);
	ck_assert_int_eq(btcore_tree_builder_new(&b, BTCORE_TREE_RANDOM, NULL,
	    &io), BT_OK);
	/* 3 MiB in 64 KiB leaves: batches of one block's worth commit as
	 * they fill, long before the file is finished */
	ck_assert_int_eq(btcore_tree_builder_write(b, data, BIG / 2), BT_OK);
	ck_assert_int_eq(btstore_block_usage(st, &count, &bytes), BT_OK);
	ck_assert_uint_gt(count, 10);
	ck_assert_uint_le(bytes, BIG / 2);
	ck_assert_int_eq(btcore_tree_builder_write(b, data + BIG / 2,
	    BIG - BIG / 2), BT_OK);
	ck_assert_int_eq(btcore_tree_builder_finish(b, &root, NULL), BT_OK);
	btcore_tree_builder_free(b);
	/* the root may still wait in the batch: visible to this adapter's
	 * get, not yet to the store */
	ck_assert_int_eq(btstore_file_io_flush(fio), BT_OK);
	ck_assert_int_eq(btstore_block_has(st, &root), BT_OK);
	ck_assert_int_eq(btstore_block_usage(st, &count, &bytes), BT_OK);
	ck_assert_uint_ge(bytes, BIG);
	read_back(st, &root, data, BIG);

	/* unreferenced: collected entirely, and the reader says so */
	do {
		ck_assert_int_eq(btstore_gc(st, 1000, &removed, &fin), BT_OK);
		total += removed;
	} while (!fin);
	ck_assert_uint_eq(total, count);
	ck_assert_int_eq(btstore_block_usage(st, &c2, &b2), BT_OK);
	ck_assert_uint_eq(c2, 0);
	ck_assert_uint_eq(b2, 0);
	{
		struct btstore_file_reader *r;

		ck_assert_int_eq(btstore_file_reader_open(&r, st, &root),
		    BT_ENOTFOUND);
		ck_assert_ptr_null(r);
	}
	btstore_file_io_free(fio);
	close_tmp(st);
}
END_TEST

START_TEST(missing_leaf_and_args)
{
	struct btcore_tree_params small = { 4080, 126 };
	struct btstore_file_reader *r;
	struct btstore_file_writer *w;
	struct btstore *st = open_tmp();
	struct bt_id root, leaf;
	uint8_t buf[4080];
	size_t n;
	int fin;

	fill(data, 20000, 4);
	root = write_file(st, BTCORE_TREE_RANDOM, &small, data, 20000, 20000);
	/* pin the root node only, collect the leaves */
	ck_assert_int_eq(btstore_block_pin(st, &root), BT_OK);
	ck_assert_int_eq(btstore_gc(st, 1000, NULL, &fin), BT_OK);
	ck_assert_int_eq(fin, 1);
	ck_assert_int_eq(btstore_file_reader_open(&r, st, &root), BT_OK);
	ck_assert_int_eq(btstore_file_reader_read(r, buf, sizeof(buf), &n),
	    BT_ENOTFOUND);
	ck_assert_uint_eq(n, 0);
	ck_assert_uint_eq(btstore_file_reader_tell(r), 0);
	btstore_file_reader_close(r);
	ck_assert_int_eq(btcore_id_hash(&leaf, data, 4080), BT_OK);
	ck_assert_int_eq(btstore_block_has(st, &leaf), BT_ENOTFOUND);

	ck_assert_int_eq(btstore_file_writer_new(&w, st, 3, NULL), BT_EINVAL);
	ck_assert_ptr_null(w);
	ck_assert_int_eq(btstore_file_writer_new(&w, NULL, 1, NULL),
	    BT_EINVAL);
	ck_assert_int_eq(btstore_file_reader_open(&r, st, NULL), BT_EINVAL);
	ck_assert_int_eq(btstore_file_io_flush(NULL), BT_EINVAL);
	ck_assert_uint_eq(btstore_file_reader_size(NULL), 0);
	btstore_file_writer_free(NULL);
	btstore_file_reader_close(NULL);
	btstore_file_io_free(NULL);
	close_tmp(st);
}
END_TEST

Suite *
suite_file(void)
{
	Suite *s = suite_create("file");
	TCase *tc = tcase_create("file");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, round_trips);
	tcase_add_test(tc, seek_reads);
	tcase_add_test(tc, batches_and_gc);
	tcase_add_test(tc, missing_leaf_and_args);
	suite_add_tcase(s, tc);
	return s;
}
