/*
 * test_block.c - block ids, verification and the in-memory block map.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <bt/block.h>
#include <bt/id.h>

START_TEST(block_id_and_verify)
{
	struct bt_id id, id2;
	char hex[BT_ID_HEX_LEN + 1];
	uint8_t *big;

	ck_assert_int_eq(btcore_block_id(&id, NULL, 0), BT_OK);
	ck_assert_str_eq(btcore_id_to_hex(&id, hex),
	    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	ck_assert_int_eq(btcore_block_id(&id, "abc", 3), BT_OK);
	ck_assert_str_eq(btcore_id_to_hex(&id, hex),
	    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	ck_assert_int_eq(btcore_block_verify(&id, "abc", 3), BT_OK);
	ck_assert_int_eq(btcore_block_verify(&id, "abd", 3), BT_ECORRUPT);
	ck_assert_int_eq(btcore_block_verify(&id, "ab", 2), BT_ECORRUPT);

	big = calloc(1, BTCORE_BLOCK_MAX + 1);
	ck_assert_ptr_nonnull(big);
	ck_assert_int_eq(btcore_block_id(&id, big, BTCORE_BLOCK_MAX), BT_OK);
	ck_assert_int_eq(btcore_id_hash(&id2, big, BTCORE_BLOCK_MAX), BT_OK);
	ck_assert_int_eq(btcore_id_cmp(&id, &id2), 0);
	ck_assert_int_eq(btcore_block_verify(&id, big, BTCORE_BLOCK_MAX),
	    BT_OK);
	ck_assert_int_eq(btcore_block_id(&id, big, BTCORE_BLOCK_MAX + 1),
	    BT_ETOOBIG);
	ck_assert(btcore_id_is_zero(&id));
	ck_assert_int_eq(btcore_block_verify(&id2, big, BTCORE_BLOCK_MAX + 1),
	    BT_ETOOBIG);
	free(big);

	ck_assert_int_eq(btcore_block_id(NULL, "a", 1), BT_EINVAL);
	ck_assert_int_eq(btcore_block_id(&id, NULL, 1), BT_EINVAL);
	ck_assert_int_eq(btcore_block_verify(NULL, "a", 1), BT_EINVAL);
	ck_assert_int_eq(btcore_block_verify(&id, NULL, 1), BT_EINVAL);
	/* the sizes the format is built around */
	ck_assert_int_eq(BTCORE_BLOCK_MAX + 16, 64 * 4096);
	ck_assert_int_lt(BTCORE_BLOCK_MAX, BT_MSG_MAX / 2);
}
END_TEST

/* A block of @p len bytes whose content is derived from @p seed. */
static size_t
make_block(uint8_t *buf, unsigned seed)
{
	size_t len = 4 + (seed * 37u) % 296, i;

	for (i = 0; i < len; i++)
		buf[i] = (uint8_t)(seed * 131u + i * 7u);
	{
		buf[0] = (uint8_t)seed;
		buf[1] = (uint8_t)(seed >> 8);
		buf[2] = (uint8_t)(seed >> 16);
		buf[3] = 0xa5;
	}
	return len;
}

START_TEST(memblocks_put_get_remove)
{
	enum { N = 5000 };
	struct btcore_memblocks *m;
	struct bt_id *ids;
	uint8_t buf[300];
	const void *data;
	size_t len, i, n, cnt;
	uint64_t bytes = 0, removed = 0;

	ids = calloc(N, sizeof(*ids));
	ck_assert_ptr_nonnull(ids);
	ck_assert_int_eq(btcore_memblocks_new(&m), BT_OK);
	ck_assert_uint_eq(btcore_memblocks_count(m), 0);
	for (i = 0; i < N; i++) {
		/* seeds 0 and 1 give blocks of under 4 bytes: keep distinct */
		n = make_block(buf, (unsigned)i + 2);
		ck_assert_int_eq(btcore_block_id(&ids[i], buf, n), BT_OK);
		ck_assert_int_eq(btcore_memblocks_put(m, &ids[i], buf, n),
		    BT_OK);
		bytes += n;
	}
	cnt = btcore_memblocks_count(m);
	ck_assert_uint_eq(cnt, N);
	ck_assert_uint_eq(btcore_memblocks_bytes(m), bytes);
	/* putting again changes nothing */
	n = make_block(buf, 2);
	ck_assert_int_eq(btcore_memblocks_put(m, &ids[0], buf, n), BT_OK);
	ck_assert_uint_eq(btcore_memblocks_count(m), N);
	/* remove every third one; the rest are all still found, intact */
	for (i = 0; i < N; i += 3) {
		ck_assert_int_eq(btcore_memblocks_get(m, &ids[i], &data, &len),
		    BT_OK);
		removed += len;
		ck_assert_int_eq(btcore_memblocks_remove(m, &ids[i]), BT_OK);
		ck_assert_int_eq(btcore_memblocks_remove(m, &ids[i]),
		    BT_ENOTFOUND);
	}
	ck_assert_uint_eq(btcore_memblocks_bytes(m), bytes - removed);
	for (i = 0; i < N; i++) {
		int rc = btcore_memblocks_get(m, &ids[i], &data, &len);

		if (i % 3 == 0) {
			ck_assert_int_eq(rc, BT_ENOTFOUND);
			continue;
		}
		ck_assert_int_eq(rc, BT_OK);
		n = make_block(buf, (unsigned)i + 2);
		ck_assert_uint_eq(len, n);
		ck_assert_int_eq(btcore_block_verify(&ids[i], data, len),
		    BT_OK);
	}
	ck_assert_uint_eq(btcore_memblocks_count(m), N - (N + 2) / 3);
	ck_assert_int_eq(btcore_memblocks_put(m, &ids[0], NULL, 1), BT_EINVAL);
	ck_assert_int_eq(btcore_memblocks_put(m, &ids[0], buf,
	    BTCORE_BLOCK_MAX + 1), BT_ETOOBIG);
	ck_assert_int_eq(btcore_memblocks_get(m, NULL, &data, &len),
	    BT_EINVAL);
	btcore_memblocks_free(m);
	btcore_memblocks_free(NULL);
	ck_assert_uint_eq(btcore_memblocks_count(NULL), 0);
	ck_assert_uint_eq(btcore_memblocks_bytes(NULL), 0);
	ck_assert_int_eq(btcore_memblocks_new(NULL), BT_EINVAL);
	free(ids);
}
END_TEST

START_TEST(memblocks_blockio)
{
	struct btcore_memblocks *m;
	struct btcore_blockio io;
	struct bt_id id, other;
	const void *data;
	size_t len;

	ck_assert_int_eq(btcore_memblocks_new(&m), BT_OK);
	btcore_memblocks_blockio(m, &io);
	ck_assert_ptr_eq(io.ctx, m);
	ck_assert(io.release == NULL);
	ck_assert_int_eq(btcore_block_id(&id, "hello", 5), BT_OK);
	ck_assert_int_eq(io.put(io.ctx, &id, "hello", 5), BT_OK);
	ck_assert_int_eq(io.get(io.ctx, &id, &data, &len), BT_OK);
	ck_assert_uint_eq(len, 5);
	ck_assert_int_eq(memcmp(data, "hello", 5), 0);
	ck_assert_int_eq(btcore_block_id(&other, "hullo", 5), BT_OK);
	ck_assert_int_eq(io.get(io.ctx, &other, &data, &len), BT_ENOTFOUND);
	/* the empty block is a block */
	ck_assert_int_eq(btcore_block_id(&other, NULL, 0), BT_OK);
	ck_assert_int_eq(io.put(io.ctx, &other, NULL, 0), BT_OK);
	ck_assert_int_eq(io.get(io.ctx, &other, &data, &len), BT_OK);
	ck_assert_uint_eq(len, 0);
	ck_assert_uint_eq(btcore_memblocks_count(m), 2);
	btcore_memblocks_free(m);
}
END_TEST

Suite *suite_block(void);

Suite *
suite_block(void)
{
	Suite *s = suite_create("block");
	TCase *tc = tcase_create("block");

	tcase_add_test(tc, block_id_and_verify);
	tcase_add_test(tc, memblocks_put_get_remove);
	tcase_add_test(tc, memblocks_blockio);
	suite_add_tcase(s, tc);
	return s;
}
