/*
 * test_fragment.c - erasure-coded fragments: encode, decode, rebuild.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <bt/fragment.h>
#include <bt/hash.h>
#include <bt/id.h>

static uint8_t *
random_block(size_t len)
{
	uint8_t *b = malloc(len + 1);

	ck_assert_ptr_nonnull(b);
	ck_assert_int_eq(btcore_random_bytes(b, len), BT_OK);
	return b;
}

/* Rebuild from the fragments whose bits are set in @p mask. */
static int
rebuild_mask(uint8_t **frags, size_t flen, unsigned int n, uint32_t mask,
    uint8_t **out, size_t *out_len)
{
	const uint8_t *sel[BTCORE_FRAGMENT_MAX];
	size_t lens[BTCORE_FRAGMENT_MAX], nbad = 99;
	unsigned int i, c = 0;
	int rc;

	for (i = 0; i < n; i++) {
		if (mask & ((uint32_t)1 << i)) {
			sel[c] = frags[i];
			lens[c++] = flen;
		}
	}
	rc = btcore_fragment_rebuild(sel, lens, c, out, out_len, NULL, &nbad);
	ck_assert_uint_eq(nbad, 0);
	return rc;
}

static unsigned int
popcount32(uint32_t v)
{
	unsigned int c = 0;

	for (; v != 0; v &= v - 1)
		c++;
	return c;
}

/* Every k-subset of the k + m fragments rebuilds the block. */
static void
check_all_subsets(unsigned int k, unsigned int m, size_t len)
{
	uint8_t *block = random_block(len), **frags, *out;
	size_t flen, out_len;
	unsigned int n = k + m, tried = 0;
	uint32_t mask;
	struct btcore_fragment_hdr h;
	struct bt_id id;

	ck_assert_int_eq(btcore_fragment_encode(block, len, k, m, &frags,
	    &flen), BT_OK);
	ck_assert_uint_eq(flen, btcore_fragment_len(len, k));
	ck_assert_int_eq(btcore_id_hash(&id, block, len), BT_OK);
	for (mask = 0; mask < ((uint32_t)1 << n); mask++) {
		if (popcount32(mask) != k)
			continue;
		ck_assert_int_eq(rebuild_mask(frags, flen, n, mask, &out,
		    &out_len), BT_OK);
		ck_assert_uint_eq(out_len, len);
		ck_assert_int_eq(memcmp(out, block, len), 0);
		btcore_fragment_block_free(out);
		tried++;
	}
	ck_assert_uint_gt(tried, 0);
	/* all of them at once, and the header fields of each */
	ck_assert_int_eq(rebuild_mask(frags, flen, n, ((uint32_t)1 << n) - 1,
	    &out, &out_len), BT_OK);
	ck_assert_int_eq(memcmp(out, block, len), 0);
	btcore_fragment_block_free(out);
	for (mask = 0; mask < n; mask++) {
		ck_assert_int_eq(btcore_fragment_decode(&h, frags[mask], flen),
		    BT_OK);
		ck_assert_uint_eq(h.k, k);
		ck_assert_uint_eq(h.m, m);
		ck_assert_uint_eq(h.index, mask);
		ck_assert_uint_eq(h.block_len, len);
		ck_assert_uint_eq(h.payload_len, (len + k - 1) / k);
		ck_assert_ptr_eq(h.payload, frags[mask] + 44);
		ck_assert_int_eq(btcore_id_cmp(&h.block_id, &id), 0);
		/* data fragments are the block itself */
		if (mask < k && mask * h.payload_len < len)
			ck_assert_int_eq(memcmp(h.payload,
			    block + mask * h.payload_len,
			    len - mask * h.payload_len < h.payload_len ?
			    len - mask * h.payload_len : h.payload_len), 0);
	}
	btcore_fragment_free(frags);
	free(block);
}

START_TEST(every_subset_4_2)
{
	check_all_subsets(4, 2, BTCORE_FRAGMENT_BLOCK_MAX);
}
END_TEST

START_TEST(every_subset_10_4)
{
	check_all_subsets(10, 4, BTCORE_FRAGMENT_BLOCK_MAX);
}
END_TEST

START_TEST(sizes_and_shapes)
{
	static const unsigned int km[][2] = {
		{ 1, 0 }, { 1, 3 }, { 2, 1 }, { 4, 2 }, { 10, 4 }, { 16, 16 },
		{ 31, 1 }, { 32, 0 }, { 3, 29 },
	};
	size_t sizes[6], i, s, flen, out_len;
	uint8_t *block, **frags, *out;
	unsigned int k, m, n;
	uint32_t mask;

	for (i = 0; i < sizeof(km) / sizeof(km[0]); i++) {
		k = km[i][0];
		m = km[i][1];
		n = k + m;
		sizes[0] = 0;
		sizes[1] = 1;
		sizes[2] = k - 1;
		sizes[3] = k + 1;
		sizes[4] = 1000;
		sizes[5] = BTCORE_FRAGMENT_BLOCK_MAX;
		for (s = 0; s < 6; s++) {
			block = random_block(sizes[s]);
			ck_assert_int_eq(btcore_fragment_encode(block, sizes[s],
			    k, m, &frags, &flen), BT_OK);
			ck_assert_uint_eq(flen, 76 + (sizes[s] + k - 1) / k);
			/* the last k fragments: as many parity ones as possible */
			mask = (n == 32 ? UINT32_MAX : ((uint32_t)1 << n) - 1) &
			    ~(((uint32_t)1 << m) - 1);
			ck_assert_uint_eq(popcount32(mask), k);
			ck_assert_int_eq(rebuild_mask(frags, flen, n, mask, &out,
			    &out_len), BT_OK);
			ck_assert_ptr_nonnull(out);
			ck_assert_uint_eq(out_len, sizes[s]);
			ck_assert_int_eq(memcmp(out, block, sizes[s]), 0);
			btcore_fragment_block_free(out);
			btcore_fragment_free(frags);
			free(block);
		}
	}
}
END_TEST

START_TEST(encode_rejects)
{
	uint8_t buf[16] = { 0 }, **frags = (uint8_t **)buf;
	size_t flen = 7;

	ck_assert_int_eq(btcore_fragment_encode(buf, 16, 0, 2, &frags, &flen),
	    BT_ERANGE);
	ck_assert_ptr_null(frags);
	ck_assert_uint_eq(flen, 0);
	ck_assert_int_eq(btcore_fragment_encode(buf, 16, 33, 0, &frags, &flen),
	    BT_ERANGE);
	ck_assert_int_eq(btcore_fragment_encode(buf, 16, 30, 3, &frags, &flen),
	    BT_ERANGE);
	ck_assert_int_eq(btcore_fragment_encode(buf, 16, 4, UINT32_MAX, &frags,
	    &flen), BT_ERANGE);
	ck_assert_int_eq(btcore_fragment_encode(buf,
	    BTCORE_FRAGMENT_BLOCK_MAX + 1, 4, 2, &frags, &flen), BT_ERANGE);
	ck_assert_int_eq(btcore_fragment_encode(buf, 262144, 4, 2, &frags,
	    &flen), BT_ERANGE);
	ck_assert_int_eq(btcore_fragment_encode(NULL, 1, 4, 2, &frags, &flen),
	    BT_EINVAL);
	ck_assert_int_eq(btcore_fragment_encode(buf, 1, 4, 2, NULL, &flen),
	    BT_EINVAL);
	ck_assert_int_eq(btcore_fragment_encode(buf, 1, 4, 2, &frags, NULL),
	    BT_EINVAL);
	ck_assert_ptr_null(frags);
	ck_assert_int_eq(btcore_fragment_encode(NULL, 0, 4, 2, &frags, &flen),
	    BT_OK);
	ck_assert_uint_eq(flen, 76);
	btcore_fragment_free(frags);
	btcore_fragment_free(NULL);
	btcore_fragment_block_free(NULL);
	ck_assert_uint_eq(btcore_fragment_len(10, 0), 0);
	ck_assert_uint_eq(btcore_fragment_len(10, 4), 79);
	ck_assert_uint_eq(btcore_fragment_len(0, 4), 76);
}
END_TEST

/* A corrupted fragment is refused and reported; the others still work. */
START_TEST(corrupted_fragment_refused)
{
	size_t len = 100000, flen, out_len, lens[6], bad[6], nbad, i;
	uint8_t *block = random_block(len), **frags, *out;
	const uint8_t *sel[6];
	struct btcore_fragment_hdr h;

	ck_assert_int_eq(btcore_fragment_encode(block, len, 4, 2, &frags,
	    &flen), BT_OK);
	frags[1][44 + 500] ^= 0x10;
	ck_assert_int_eq(btcore_fragment_decode(&h, frags[1], flen),
	    BT_EVERIFY);
	ck_assert_ptr_null(h.payload);
	ck_assert_uint_eq(h.k, 0);
	for (i = 0; i < 6; i++) {
		sel[i] = frags[i];
		lens[i] = flen;
	}
	/* all six: rebuilt, position 1 reported */
	memset(bad, 0xff, sizeof(bad));
	ck_assert_int_eq(btcore_fragment_rebuild(sel, lens, 6, &out, &out_len,
	    bad, &nbad), BT_OK);
	ck_assert_uint_eq(nbad, 1);
	ck_assert_uint_eq(bad[0], 1);
	ck_assert_uint_eq(out_len, len);
	ck_assert_int_eq(memcmp(out, block, len), 0);
	btcore_fragment_block_free(out);

	/* a second one damaged in its header: still four good ones */
	frags[4][6] ^= 0x01;
	ck_assert_int_eq(btcore_fragment_rebuild(sel, lens, 6, &out, &out_len,
	    bad, &nbad), BT_OK);
	ck_assert_uint_eq(nbad, 2);
	ck_assert_uint_eq(bad[0], 1);
	ck_assert_uint_eq(bad[1], 4);
	ck_assert_int_eq(memcmp(out, block, len), 0);
	btcore_fragment_block_free(out);

	/* a third: only three good ones left */
	lens[5] = flen - 1;
	out = (uint8_t *)block;
	out_len = 5;
	ck_assert_int_eq(btcore_fragment_rebuild(sel, lens, 6, &out, &out_len,
	    bad, &nbad), BT_ENOTFOUND);
	ck_assert_ptr_null(out);
	ck_assert_uint_eq(out_len, 0);
	ck_assert_uint_eq(nbad, 3);
	ck_assert_uint_eq(bad[2], 5);

	/* a NULL entry is refused like a damaged one */
	sel[1] = NULL;
	lens[1] = 0;
	lens[5] = flen;
	ck_assert_int_eq(btcore_fragment_rebuild(sel, lens, 6, &out, &out_len,
	    NULL, &nbad), BT_OK);
	ck_assert_uint_eq(nbad, 2);
	btcore_fragment_block_free(out);

	btcore_fragment_free(frags);
	free(block);
}
END_TEST

START_TEST(too_few_and_duplicates)
{
	size_t len = 4097, flen, out_len, lens[8], nbad, bad[8];
	uint8_t *block = random_block(len), **frags, *out;
	const uint8_t *sel[8];
	unsigned int i;

	ck_assert_int_eq(btcore_fragment_encode(block, len, 4, 2, &frags,
	    &flen), BT_OK);
	for (i = 0; i < 8; i++)
		lens[i] = flen;
	/* three distinct, even when repeated */
	sel[0] = frags[5];
	sel[1] = frags[0];
	sel[2] = frags[5];
	sel[3] = frags[3];
	sel[4] = frags[0];
	ck_assert_int_eq(btcore_fragment_rebuild(sel, lens, 3, &out, &out_len,
	    bad, &nbad), BT_ENOTFOUND);
	ck_assert_int_eq(btcore_fragment_rebuild(sel, lens, 5, &out, &out_len,
	    bad, &nbad), BT_ENOTFOUND);
	ck_assert_uint_eq(nbad, 0);
	ck_assert_int_eq(btcore_fragment_rebuild(sel, lens, 0, &out, &out_len,
	    bad, &nbad), BT_ENOTFOUND);
	ck_assert_int_eq(btcore_fragment_rebuild(NULL, NULL, 0, &out, &out_len,
	    NULL, NULL), BT_ENOTFOUND);
	/* a fourth distinct one among duplicates */
	sel[5] = frags[2];
	ck_assert_int_eq(btcore_fragment_rebuild(sel, lens, 6, &out, &out_len,
	    bad, &nbad), BT_OK);
	ck_assert_uint_eq(nbad, 0);
	ck_assert_uint_eq(out_len, len);
	ck_assert_int_eq(memcmp(out, block, len), 0);
	btcore_fragment_block_free(out);

	ck_assert_int_eq(btcore_fragment_rebuild(sel, lens,
	    BTCORE_FRAGMENT_REBUILD_MAX + 1, &out, &out_len, bad, &nbad),
	    BT_ERANGE);
	ck_assert_int_eq(btcore_fragment_rebuild(sel, lens, 6, NULL, &out_len,
	    bad, &nbad), BT_EINVAL);
	ck_assert_int_eq(btcore_fragment_rebuild(sel, lens, 6, &out, NULL,
	    bad, &nbad), BT_EINVAL);
	ck_assert_int_eq(btcore_fragment_rebuild(sel, NULL, 6, &out, &out_len,
	    bad, &nbad), BT_EINVAL);
	ck_assert_int_eq(btcore_fragment_rebuild(NULL, lens, 6, &out, &out_len,
	    bad, &nbad), BT_EINVAL);
	btcore_fragment_free(frags);
	free(block);
}
END_TEST

/* Fragments of two blocks never mix. */
START_TEST(mixed_blocks_refused)
{
	size_t len = 9000, flen, flen2, out_len, lens[8], nbad, bad[8];
	uint8_t *a = random_block(len), *b = random_block(len);
	uint8_t **fa, **fb, **fc, *out;
	const uint8_t *sel[8];
	unsigned int i;

	ck_assert_int_eq(btcore_fragment_encode(a, len, 4, 2, &fa, &flen),
	    BT_OK);
	ck_assert_int_eq(btcore_fragment_encode(b, len, 4, 2, &fb, &flen2),
	    BT_OK);
	ck_assert_uint_eq(flen, flen2);
	for (i = 0; i < 8; i++)
		lens[i] = flen;

	/* two of each: no block has four */
	sel[0] = fa[0];
	sel[1] = fb[1];
	sel[2] = fa[2];
	sel[3] = fb[3];
	ck_assert_int_eq(btcore_fragment_rebuild(sel, lens, 4, &out, &out_len,
	    bad, &nbad), BT_ENOTFOUND);
	ck_assert_ptr_null(out);
	/* three of a and three of b, all indexes covered between them */
	sel[4] = fa[4];
	sel[5] = fb[5];
	ck_assert_int_eq(btcore_fragment_rebuild(sel, lens, 6, &out, &out_len,
	    bad, &nbad), BT_ENOTFOUND);

	/* b's two come first, then four of a: a is rebuilt, b's refused */
	sel[0] = fb[0];
	sel[1] = fa[5];
	sel[2] = fb[1];
	sel[3] = fa[1];
	sel[4] = fa[2];
	sel[5] = fa[3];
	ck_assert_int_eq(btcore_fragment_rebuild(sel, lens, 6, &out, &out_len,
	    bad, &nbad), BT_OK);
	ck_assert_int_eq(memcmp(out, a, len), 0);
	ck_assert_uint_eq(nbad, 2);
	ck_assert_uint_eq(bad[0], 0);
	ck_assert_uint_eq(bad[1], 2);
	btcore_fragment_block_free(out);

	/* same block, another (k, m): refused too */
	ck_assert_int_eq(btcore_fragment_encode(a, len, 4, 3, &fc, &flen2),
	    BT_OK);
	ck_assert_uint_eq(flen2, flen);
	sel[0] = fc[0];
	sel[1] = fa[1];
	sel[2] = fc[2];
	sel[3] = fa[3];
	ck_assert_int_eq(btcore_fragment_rebuild(sel, lens, 4, &out, &out_len,
	    bad, &nbad), BT_ENOTFOUND);

	btcore_fragment_free(fa);
	btcore_fragment_free(fb);
	btcore_fragment_free(fc);
	free(a);
	free(b);
}
END_TEST

/*
 * A fragment that is well formed and hashes correctly but whose payload
 * is not the block's: the rebuilt block fails its id.
 */
START_TEST(inconsistent_fragment_detected)
{
	size_t len = 5000, flen, out_len, lens[4], nbad;
	uint8_t *block = random_block(len), **frags, *out;
	const uint8_t *sel[4];
	struct bt_id h;
	unsigned int i;

	ck_assert_int_eq(btcore_fragment_encode(block, len, 4, 2, &frags,
	    &flen), BT_OK);
	/* change parity fragment 4's payload and re-seal its hash */
	frags[4][44 + 7] ^= 0x55;
	ck_assert_int_eq(btcore_id_hash(&h, frags[4], flen - 32), BT_OK);
	memcpy(frags[4] + flen - 32, h.b, 32);
	for (i = 0; i < 4; i++)
		lens[i] = flen;
	sel[0] = frags[0];
	sel[1] = frags[4];
	sel[2] = frags[2];
	sel[3] = frags[3];
	ck_assert_int_eq(btcore_fragment_rebuild(sel, lens, 4, &out, &out_len,
	    NULL, &nbad), BT_ECORRUPT);
	ck_assert_ptr_null(out);
	ck_assert_uint_eq(out_len, 0);
	/* with the four data fragments instead it is fine */
	sel[1] = frags[1];
	ck_assert_int_eq(btcore_fragment_rebuild(sel, lens, 4, &out, &out_len,
	    NULL, &nbad), BT_OK);
	ck_assert_int_eq(memcmp(out, block, len), 0);
	btcore_fragment_block_free(out);
	btcore_fragment_free(frags);
	free(block);
}
END_TEST

/* Truncation at every length and a flip of every header bit are refused. */
START_TEST(decode_rejects_damage)
{
	size_t len = 4099, flen, i;
	uint8_t *block = random_block(len), **frags, *copy;
	struct btcore_fragment_hdr h;
	unsigned int f, bit;
	int rc;

	ck_assert_int_eq(btcore_fragment_encode(block, len, 4, 2, &frags,
	    &flen), BT_OK);
	copy = malloc(flen + 1);
	ck_assert_ptr_nonnull(copy);
	for (f = 0; f < 6; f++) {
		ck_assert_int_eq(btcore_fragment_decode(&h, frags[f], flen),
		    BT_OK);
		for (i = 0; i < flen; i++) {
			rc = btcore_fragment_decode(&h, frags[f], i);
			ck_assert_int_eq(rc, BT_ETRUNC);
			ck_assert_ptr_null(h.payload);
		}
		/* a trailing byte */
		memcpy(copy, frags[f], flen);
		copy[flen] = 0;
		ck_assert_int_eq(btcore_fragment_decode(&h, copy, flen + 1),
		    BT_EFORMAT);
		/* every bit of the header and the hash, some of the payload */
		for (i = 0; i < flen; i++) {
			if (i >= 44 + 64 && i < flen - 32 && i % 97 != 0)
				continue;
			for (bit = 0; bit < 8; bit++) {
				memcpy(copy, frags[f], flen);
				copy[i] ^= (uint8_t)(1u << bit);
				rc = btcore_fragment_decode(&h, copy, flen);
				ck_assert_int_ne(rc, BT_OK);
				ck_assert_ptr_null(h.payload);
			}
		}
	}
	/* each error for its cause */
	memcpy(copy, frags[0], flen);
	copy[4] = 2;
	ck_assert_int_eq(btcore_fragment_decode(&h, copy, flen),
	    BT_EUNSUPPORTED);
	memcpy(copy, frags[0], flen);
	copy[0] = 'X';
	ck_assert_int_eq(btcore_fragment_decode(&h, copy, flen), BT_EFORMAT);
	memcpy(copy, frags[0], flen);
	copy[5] = 0;
	ck_assert_int_eq(btcore_fragment_decode(&h, copy, flen), BT_EFORMAT);
	memcpy(copy, frags[0], flen);
	copy[7] = 6;
	ck_assert_int_eq(btcore_fragment_decode(&h, copy, flen), BT_EFORMAT);
	memcpy(copy, frags[0], flen);
	copy[6] = 29;
	ck_assert_int_eq(btcore_fragment_decode(&h, copy, flen), BT_EFORMAT);
	memcpy(copy, frags[0], flen);
	copy[8] = 0xff;
	ck_assert_int_eq(btcore_fragment_decode(&h, copy, flen), BT_EFORMAT);
	ck_assert_int_eq(btcore_fragment_decode(&h, NULL, flen), BT_EINVAL);
	ck_assert_int_eq(btcore_fragment_decode(NULL, copy, flen), BT_EINVAL);

	free(copy);
	btcore_fragment_free(frags);
	free(block);
}
END_TEST

/* Nonzero padding in a data fragment is refused even with a valid hash. */
START_TEST(padding_must_be_zero)
{
	size_t len = 4097, flen;	/* payload 1025: fragment 3 has 1022
					   bytes of data, 3 of padding */
	uint8_t *block = random_block(len), **frags;
	struct btcore_fragment_hdr h;
	struct bt_id id;

	ck_assert_int_eq(btcore_fragment_encode(block, len, 4, 2, &frags,
	    &flen), BT_OK);
	ck_assert_int_eq(btcore_fragment_decode(&h, frags[3], flen), BT_OK);
	ck_assert_uint_eq(h.payload_len, 1025);
	frags[3][44 + 1024] = 1;
	ck_assert_int_eq(btcore_id_hash(&id, frags[3], flen - 32), BT_OK);
	memcpy(frags[3] + flen - 32, id.b, 32);
	ck_assert_int_eq(btcore_fragment_decode(&h, frags[3], flen),
	    BT_EFORMAT);
	/* its last data byte is not padding */
	frags[3][44 + 1024] = 0;
	frags[3][44 + 1021] ^= 1;
	ck_assert_int_eq(btcore_id_hash(&id, frags[3], flen - 32), BT_OK);
	memcpy(frags[3] + flen - 32, id.b, 32);
	ck_assert_int_eq(btcore_fragment_decode(&h, frags[3], flen), BT_OK);
	btcore_fragment_free(frags);
	free(block);
}
END_TEST

/* The encoding is fixed: a known header for a known block. */
START_TEST(known_layout)
{
	static const uint8_t block[5] = { 'h', 'e', 'l', 'l', 'o' };
	uint8_t **frags;
	size_t flen;
	struct bt_id id;
	char hex[BT_ID_HEX_LEN + 1];

	ck_assert_int_eq(btcore_fragment_encode(block, 5, 2, 1, &frags, &flen),
	    BT_OK);
	ck_assert_uint_eq(flen, 76 + 3);
	ck_assert_int_eq(memcmp(frags[1], "BTFG\001\002\001\001\0\0\0\005", 12),
	    0);
	memcpy(&id, frags[1] + 12, 32);
	ck_assert_str_eq(btcore_id_to_hex(&id, hex),
	    "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
	ck_assert_int_eq(memcmp(frags[0] + 44, "hel", 3), 0);
	ck_assert_int_eq(memcmp(frags[1] + 44, "lo\0", 3), 0);
	ck_assert_int_eq(memcmp(frags[2], "BTFG\001\002\001\002", 8), 0);
	/* hash of a fragment covers its first 44 + 3 bytes */
	ck_assert_int_eq(btcore_id_hash(&id, frags[0], 47), BT_OK);
	ck_assert_int_eq(memcmp(frags[0] + 47, id.b, 32), 0);
	btcore_fragment_free(frags);
}
END_TEST

Suite *suite_fragment(void);

Suite *
suite_fragment(void)
{
	Suite *s = suite_create("fragment");
	TCase *tc = tcase_create("fragment");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, every_subset_4_2);
	tcase_add_test(tc, every_subset_10_4);
	tcase_add_test(tc, sizes_and_shapes);
	tcase_add_test(tc, encode_rejects);
	tcase_add_test(tc, corrupted_fragment_refused);
	tcase_add_test(tc, too_few_and_duplicates);
	tcase_add_test(tc, mixed_blocks_refused);
	tcase_add_test(tc, inconsistent_fragment_detected);
	tcase_add_test(tc, decode_rejects_damage);
	tcase_add_test(tc, padding_must_be_zero);
	tcase_add_test(tc, known_layout);
	suite_add_tcase(s, tc);
	return s;
}
