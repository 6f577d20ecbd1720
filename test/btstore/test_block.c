/*
 * test_block.c - blocks: verified put, copied and zero-copy reads, batch
 * atomicity, pins and references, garbage collection, quota, and
 * corruption on disk detected on read.
 */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bt/store.h>

#include "btstore-internal.h"

Suite *suite_block(void);

static char dir[64];

static struct btstore *
open_tmp(uint64_t quota)
{
	struct btstore_options *o;
	struct btstore *st;

	snprintf(dir, sizeof(dir), "%s", "/tmp/btstore-test-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_eq(btstore_options_new(&o), BT_OK);
	ck_assert_int_eq(btstore_options_set(o, BTSTORE_OPT_NOSYNC, 1), BT_OK);
	ck_assert_int_eq(btstore_options_set(o, BTSTORE_OPT_BLOCK_QUOTA,
	    quota), BT_OK);
	ck_assert_int_eq(btstore_open(&st, dir, o), BT_OK);
	btstore_options_free(o);
	return st;
}

static void
rm_tmp(void)
{
	char p[128];

	snprintf(p, sizeof(p), "%s/data.mdb", dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/lock.mdb", dir);
	unlink(p);
	rmdir(dir);
}

static void
make_block(uint8_t *buf, size_t len, uint32_t n, struct bt_id *id)
{
	size_t i;

	for (i = 0; i < len; i++)
		buf[i] = (uint8_t)(n * 131 + i * 7 + (i >> 8));
	if (len >= 4)
		memcpy(buf, &n, 4);
	ck_assert_int_eq(btcore_id_hash(id, buf, len), BT_OK);
}

static uint8_t big[BTSTORE_BLOCK_MAX + 1], back[BTSTORE_BLOCK_MAX + 1];

START_TEST(put_get_sizes)
{
	static const size_t sizes[] = { 0, 1, 100, 4080, 4081, 65520, 65536,
	    BTSTORE_BLOCK_MAX };
	struct btstore *st = open_tmp(0);
	struct btstore_view *v;
	struct bt_id id, other;
	const void *p;
	uint64_t count, bytes, total = 0;
	size_t i, len;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		make_block(big, sizes[i], (uint32_t)i, &id);
		ck_assert_int_eq(btstore_block_has(st, &id), BT_ENOTFOUND);
		ck_assert_int_eq(btstore_block_put(st, &id, big, sizes[i], 0),
		    BT_OK);
		/* a second put is a no-op */
		ck_assert_int_eq(btstore_block_put(st, &id, big, sizes[i], 0),
		    BT_OK);
		total += sizes[i];
		ck_assert_int_eq(btstore_block_has(st, &id), BT_OK);
		memset(back, 0xee, sizeof(back));
		ck_assert_int_eq(btstore_block_get(st, &id, back, sizeof(back),
		    &len), BT_OK);
		ck_assert_uint_eq(len, sizes[i]);
		ck_assert(memcmp(back, big, len) == 0);
		if (sizes[i] > 0) {
			ck_assert_int_eq(btstore_block_get(st, &id, back,
			    sizes[i] - 1, &len), BT_ERANGE);
			ck_assert_uint_eq(len, sizes[i]);
		}
		ck_assert_int_eq(btstore_view_begin(st, &v), BT_OK);
		ck_assert_int_eq(btstore_view_block_get(v, &id, &p, &len),
		    BT_OK);
		ck_assert_uint_eq(len, sizes[i]);
		ck_assert(memcmp(p, big, len) == 0);
		btstore_view_end(v);
	}
	ck_assert_int_eq(btstore_block_usage(st, &count, &bytes), BT_OK);
	ck_assert_uint_eq(count, 8);
	ck_assert_uint_eq(bytes, total);

	/* refused: too big, wrong id, bad arguments */
	make_block(big, BTSTORE_BLOCK_MAX + 1, 77, &id);
	ck_assert_int_eq(btstore_block_put(st, &id, big, BTSTORE_BLOCK_MAX + 1,
	    0), BT_ETOOBIG);
	make_block(big, 100, 78, &id);
	big[50] ^= 1;
	ck_assert_int_eq(btstore_block_put(st, &id, big, 100, 0), BT_EVERIFY);
	ck_assert_int_eq(btstore_block_has(st, &id), BT_ENOTFOUND);
	ck_assert_int_eq(btstore_block_put(st, NULL, big, 100, 0), BT_EINVAL);
	ck_assert_int_eq(btstore_block_put(st, &id, NULL, 100, 0), BT_EINVAL);
	ck_assert_int_eq(btstore_block_put(st, &id, big, 100, 0x80),
	    BT_EINVAL);
	ck_assert_int_eq(btstore_block_get(st, &id, back, sizeof(back), &len),
	    BT_ENOTFOUND);
	ck_assert_int_eq(btstore_block_get(st, &id, NULL, 5, &len), BT_EINVAL);
	ck_assert_int_eq(btstore_view_block_get(NULL, &id, &p, &len),
	    BT_EINVAL);
	memset(&other, 0, sizeof(other));
	ck_assert_int_eq(btstore_block_get(st, &other, back, sizeof(back),
	    &len), BT_ENOTFOUND);
	btstore_close(st);
	rm_tmp();
}
END_TEST

/* A batch is all or nothing. */
START_TEST(batch_atomic)
{
	struct btstore *st = open_tmp(0);
	struct btstore_block b[64];
	static uint8_t bufs[64][1000];
	uint64_t count;
	size_t i, added;

	for (i = 0; i < 64; i++) {
		make_block(bufs[i], sizeof(bufs[i]), (uint32_t)i, &b[i].id);
		b[i].data = bufs[i];
		b[i].len = sizeof(bufs[i]);
	}
	b[40].id.b[3] ^= 0x10;
	ck_assert_int_eq(btstore_block_put_many(st, b, 64, 0, &added),
	    BT_EVERIFY);
	ck_assert_uint_eq(added, 0);
	ck_assert_int_eq(btstore_block_has(st, &b[0].id), BT_ENOTFOUND);
	b[40].id.b[3] ^= 0x10;
	ck_assert_int_eq(btstore_block_put_many(st, b, 32, 0, &added), BT_OK);
	ck_assert_uint_eq(added, 32);
	ck_assert_int_eq(btstore_block_put_many(st, b, 64, BTSTORE_PUT_PIN,
	    &added), BT_OK);
	ck_assert_uint_eq(added, 32);
	ck_assert_int_eq(btstore_block_usage(st, &count, NULL), BT_OK);
	ck_assert_uint_eq(count, 64);
	ck_assert_int_eq(btstore_block_put_many(st, b, 0, 0, &added), BT_OK);
	ck_assert_int_eq(btstore_block_put_many(st, NULL, 1, 0, &added),
	    BT_EINVAL);
	btstore_close(st);
	rm_tmp();
}
END_TEST

START_TEST(pins_refs_gc)
{
	struct btstore *st = open_tmp(0);
	uint8_t buf[500];
	struct bt_id ids[100], missing;
	uint32_t pins, refs;
	uint64_t count, bytes;
	size_t i, removed, total = 0;
	int finished = 0, steps = 0;

	for (i = 0; i < 100; i++) {
		make_block(buf, sizeof(buf), (uint32_t)i, &ids[i]);
		ck_assert_int_eq(btstore_block_put(st, &ids[i], buf,
		    sizeof(buf), 0), BT_OK);
	}
	/* 0..29 pinned (0..9 twice), 30..49 referenced, 50..99 loose */
	for (i = 0; i < 30; i++)
		ck_assert_int_eq(btstore_block_pin(st, &ids[i]), BT_OK);
	for (i = 0; i < 10; i++)
		ck_assert_int_eq(btstore_block_pin(st, &ids[i]), BT_OK);
	for (i = 30; i < 50; i++)
		ck_assert_int_eq(btstore_block_ref(st, &ids[i]), BT_OK);
	ck_assert_int_eq(btstore_block_counts(st, &ids[5], &pins, &refs),
	    BT_OK);
	ck_assert_uint_eq(pins, 2);
	ck_assert_uint_eq(refs, 0);
	ck_assert_int_eq(btstore_block_counts(st, &ids[35], &pins, &refs),
	    BT_OK);
	ck_assert_uint_eq(pins, 0);
	ck_assert_uint_eq(refs, 1);
	memset(&missing, 0x42, sizeof(missing));
	ck_assert_int_eq(btstore_block_pin(st, &missing), BT_ENOTFOUND);
	ck_assert_int_eq(btstore_block_unpin(st, &ids[60]), BT_ESTATE);
	ck_assert_int_eq(btstore_block_unref(st, &ids[60]), BT_ESTATE);
	/* a reference may precede its block */
	ck_assert_int_eq(btstore_block_ref(st, &missing), BT_OK);
	ck_assert_int_eq(btstore_block_unref(st, &missing), BT_OK);
	ck_assert_int_eq(btstore_gc(st, 0, &removed, &finished), BT_ERANGE);
	ck_assert_int_eq(btstore_gc(st, 100001, &removed, &finished),
	    BT_ERANGE);

	/* bounded steps of 7 until a pass ends */
	while (!finished) {
		ck_assert_int_eq(btstore_gc(st, 7, &removed, &finished), BT_OK);
		ck_assert_uint_le(removed, 7);
		total += removed;
		steps++;
		ck_assert_int_lt(steps, 30);
	}
	ck_assert_uint_eq(total, 50);
	ck_assert_int_ge(steps, 14);
	for (i = 0; i < 100; i++)
		ck_assert_int_eq(btstore_block_has(st, &ids[i]),
		    i < 50 ? BT_OK : BT_ENOTFOUND);
	ck_assert_int_eq(btstore_block_usage(st, &count, &bytes), BT_OK);
	ck_assert_uint_eq(count, 50);
	ck_assert_uint_eq(bytes, 50 * sizeof(buf));

	/* one unpin of a doubly pinned block keeps it */
	ck_assert_int_eq(btstore_block_unpin(st, &ids[3]), BT_OK);
	ck_assert_int_eq(btstore_block_unpin(st, &ids[20]), BT_OK);
	ck_assert_int_eq(btstore_block_unref(st, &ids[40]), BT_OK);
	ck_assert_int_eq(btstore_gc(st, 1000, &removed, &finished), BT_OK);
	ck_assert_uint_eq(removed, 2);
	ck_assert_int_eq(finished, 1);
	ck_assert_int_eq(btstore_block_has(st, &ids[3]), BT_OK);
	ck_assert_int_eq(btstore_block_has(st, &ids[20]), BT_ENOTFOUND);
	ck_assert_int_eq(btstore_block_has(st, &ids[40]), BT_ENOTFOUND);
	btstore_close(st);
	rm_tmp();
}
END_TEST

START_TEST(quota)
{
	struct btstore *st = open_tmp(10000);
	uint8_t buf[3000];
	struct bt_id ids[4];
	uint64_t bytes;
	size_t removed;
	uint32_t i;

	for (i = 0; i < 4; i++)
		make_block(buf, sizeof(buf), i, &ids[i]);
	for (i = 0; i < 3; i++) {
		make_block(buf, sizeof(buf), i, &ids[i]);
		ck_assert_int_eq(btstore_block_put(st, &ids[i], buf,
		    sizeof(buf), 0), BT_OK);
	}
	make_block(buf, sizeof(buf), 3, &ids[3]);
	ck_assert_int_eq(btstore_block_put(st, &ids[3], buf, sizeof(buf), 0),
	    BT_ENOSPC);
	ck_assert_int_eq(btstore_block_has(st, &ids[3]), BT_ENOTFOUND);
	/* a duplicate does not count */
	make_block(buf, sizeof(buf), 0, &ids[0]);
	ck_assert_int_eq(btstore_block_put(st, &ids[0], buf, sizeof(buf), 0),
	    BT_OK);
	ck_assert_int_eq(btstore_block_usage(st, NULL, &bytes), BT_OK);
	ck_assert_uint_eq(bytes, 9000);
	/* collecting frees quota */
	ck_assert_int_eq(btstore_block_pin(st, &ids[1]), BT_OK);
	ck_assert_int_eq(btstore_gc(st, 10, &removed, NULL), BT_OK);
	ck_assert_uint_eq(removed, 2);
	make_block(buf, sizeof(buf), 3, &ids[3]);
	ck_assert_int_eq(btstore_block_put(st, &ids[3], buf, sizeof(buf), 0),
	    BT_OK);
	btstore_close(st);
	rm_tmp();
}
END_TEST

/* Flip one bit at @p off in every copy of @p marker in data.mdb. */
static void
flip_on_disk(const char *marker, size_t off)
{
	char path[128];
	struct stat sb;
	uint8_t *file;
	size_t mlen = strlen(marker), i, hits = 0, at = 0;
	int fd;

	snprintf(path, sizeof(path), "%s/data.mdb", dir);
	fd = open(path, O_RDWR);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(fstat(fd, &sb), 0);
	file = malloc((size_t)sb.st_size);
	ck_assert_ptr_nonnull(file);
	ck_assert_int_eq(pread(fd, file, (size_t)sb.st_size, 0), sb.st_size);
	/* copy-on-write leaves stale copies in free pages: flip them all */
	for (i = 0; i + mlen <= (size_t)sb.st_size; i++)
		if (memcmp(file + i, marker, mlen) == 0) {
			hits++;
			at = i + off;
			file[at] ^= 0x04;
			ck_assert_int_eq(pwrite(fd, file + at, 1, (off_t)at),
			    1);
		}
	ck_assert_uint_ge(hits, 1);
	close(fd);
	free(file);
}

START_TEST(corruption_detected)
{
	static const char *m1 = "BTSTORE-MARKER-small-7f3a9c";
	static const char *m2 = "BTSTORE-MARKER-large-51be02";
	struct btstore *st = open_tmp(0);
	struct btstore_view *v;
	struct bt_id id1, id2, id3;
	const void *p;
	size_t len;

	make_block(big, 4000, 1, &id3);	/* an intact neighbour */
	ck_assert_int_eq(btstore_block_put(st, &id3, big, 4000, 0), BT_OK);
	memset(big, 'x', 4000);
	memcpy(big + 1000, m1, strlen(m1));
	ck_assert_int_eq(btcore_id_hash(&id1, big, 4000), BT_OK);
	ck_assert_int_eq(btstore_block_put(st, &id1, big, 4000, 0), BT_OK);
	memset(big, 'y', 100000);
	memcpy(big + 70000, m2, strlen(m2));
	ck_assert_int_eq(btcore_id_hash(&id2, big, 100000), BT_OK);
	ck_assert_int_eq(btstore_block_put(st, &id2, big, 100000, 0), BT_OK);
	btstore_close(st);

	flip_on_disk(m1, 3);
	flip_on_disk(m2, 10);
	ck_assert_int_eq(btstore_open(&st, dir, NULL), BT_OK);
	memset(back, 0, sizeof(back));
	ck_assert_int_eq(btstore_block_get(st, &id1, back, sizeof(back), &len),
	    BT_ECORRUPT);
	ck_assert_uint_eq(len, 0);
	ck_assert_int_eq(back[1000], 0);	/* nothing copied */
	ck_assert_int_eq(btstore_block_get(st, &id2, back, sizeof(back), &len),
	    BT_ECORRUPT);
	ck_assert_int_eq(btstore_view_begin(st, &v), BT_OK);
	p = big;
	ck_assert_int_eq(btstore_view_block_get(v, &id1, &p, &len),
	    BT_ECORRUPT);
	ck_assert_ptr_null(p);
	ck_assert_uint_eq(len, 0);
	ck_assert_int_eq(btstore_view_block_get(v, &id2, &p, &len),
	    BT_ECORRUPT);
	ck_assert_int_eq(btstore_view_block_get(v, &id3, &p, &len), BT_OK);
	btstore_view_end(v);
	/* the store stays usable */
	ck_assert_int_eq(btstore_block_get(st, &id3, back, sizeof(back), &len),
	    BT_OK);
	btstore_close(st);
	rm_tmp();
}
END_TEST

/* Damaged counter records are reported, not trusted. */
START_TEST(corrupt_counters)
{
	struct btstore *st = open_tmp(0);
	uint8_t buf[100], bad[3] = { 1, 2, 3 };
	struct bt_id id;
	MDB_txn *txn;
	MDB_val k, v;
	uint32_t pins;

	make_block(buf, sizeof(buf), 5, &id);
	ck_assert_int_eq(btstore_block_put(st, &id, buf, sizeof(buf),
	    BTSTORE_PUT_PIN), BT_OK);
	ck_assert_int_eq(mdb_txn_begin(st->env, NULL, 0, &txn), 0);
	k.mv_size = BT_ID_LEN;
	k.mv_data = id.b;
	v.mv_size = sizeof(bad);
	v.mv_data = bad;
	ck_assert_int_eq(mdb_put(txn, st->dbi[BTSTORE_DB_PINS_], &k, &v, 0),
	    0);
	k.mv_size = 6;
	k.mv_data = (void *)"blocks";
	ck_assert_int_eq(mdb_put(txn, st->dbi[BTSTORE_DB_META_], &k, &v, 0),
	    0);
	ck_assert_int_eq(mdb_txn_commit(txn), 0);
	ck_assert_int_eq(btstore_block_counts(st, &id, &pins, NULL),
	    BT_ECORRUPT);
	ck_assert_int_eq(btstore_block_pin(st, &id), BT_ECORRUPT);
	ck_assert_int_eq(btstore_block_usage(st, NULL, NULL), BT_ECORRUPT);
	make_block(buf, sizeof(buf), 6, &id);
	ck_assert_int_eq(btstore_block_put(st, &id, buf, sizeof(buf), 0),
	    BT_ECORRUPT);
	btstore_close(st);
	rm_tmp();
}
END_TEST

Suite *
suite_block(void)
{
	Suite *s = suite_create("block");
	TCase *tc = tcase_create("block");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, put_get_sizes);
	tcase_add_test(tc, batch_atomic);
	tcase_add_test(tc, pins_refs_gc);
	tcase_add_test(tc, quota);
	tcase_add_test(tc, corruption_detected);
	tcase_add_test(tc, corrupt_counters);
	suite_add_tcase(s, tc);
	return s;
}
