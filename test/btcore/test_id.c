/*
 * test_id.c - ids, SHA-256, distance, errors and version.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bt/error.h>
#include <bt/hash.h>
#include <bt/id.h>

/* FIPS 180-2 / NIST examples. */
START_TEST(sha256_known_answers)
{
	struct bt_id id;
	char hex[BT_ID_HEX_LEN + 1];
	static const char *abc56 =
	    "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	struct btcore_sha256 *h;
	char *million;
	size_t i;

	ck_assert_int_eq(btcore_id_hash(&id, "", 0), BT_OK);
	ck_assert_str_eq(btcore_id_to_hex(&id, hex),
	    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	ck_assert_int_eq(btcore_id_hash(&id, NULL, 0), BT_OK);
	ck_assert_str_eq(btcore_id_to_hex(&id, hex),
	    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	ck_assert_int_eq(btcore_id_hash(&id, "abc", 3), BT_OK);
	ck_assert_str_eq(btcore_id_to_hex(&id, hex),
	    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	ck_assert_int_eq(btcore_id_hash(&id, abc56, strlen(abc56)), BT_OK);
	ck_assert_str_eq(btcore_id_to_hex(&id, hex),
	    "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");

	/* one million 'a', fed incrementally in uneven pieces */
	million = malloc(1000000);
	ck_assert_ptr_nonnull(million);
	memset(million, 'a', 1000000);
	ck_assert_int_eq(btcore_sha256_new(&h), BT_OK);
	for (i = 0; i < 1000000; i += 7777) {
		size_t n = 1000000 - i < 7777 ? 1000000 - i : 7777;
		ck_assert_int_eq(btcore_sha256_update(h, million + i, n), BT_OK);
	}
	ck_assert_int_eq(btcore_sha256_final(h, &id), BT_OK);
	ck_assert_str_eq(btcore_id_to_hex(&id, hex),
	    "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
	/* final resets the context */
	ck_assert_int_eq(btcore_sha256_update(h, "abc", 3), BT_OK);
	ck_assert_int_eq(btcore_sha256_final(h, &id), BT_OK);
	ck_assert_str_eq(btcore_id_to_hex(&id, hex),
	    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	btcore_sha256_free(h);
	btcore_sha256_free(NULL);
	free(million);

	ck_assert_int_eq(btcore_id_hash(NULL, "a", 1), BT_EINVAL);
	ck_assert_int_eq(btcore_id_hash(&id, NULL, 1), BT_EINVAL);
}
END_TEST

START_TEST(hex_round_trip_and_rejects)
{
	static const char *good =
	    "00112233445566778899AABBCCDDEEFF00112233445566778899aabbccddeeff";
	struct bt_id id;
	char hex[BT_ID_HEX_LEN + 1], bad[80];
	size_t i;

	ck_assert_int_eq(btcore_id_from_hex(&id, good), BT_OK);
	ck_assert_uint_eq(id.b[0], 0x00);
	ck_assert_uint_eq(id.b[10], 0xaa);
	ck_assert_uint_eq(id.b[31], 0xff);
	ck_assert_str_eq(btcore_id_to_hex(&id, hex),
	    "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff");

	/* too short, too long, empty */
	ck_assert_int_eq(btcore_id_from_hex(&id, ""), BT_EFORMAT);
	ck_assert(btcore_id_is_zero(&id));
	memcpy(bad, good, 63);
	bad[63] = '\0';
	ck_assert_int_eq(btcore_id_from_hex(&id, bad), BT_EFORMAT);
	memcpy(bad, good, 64);
	bad[64] = '0';
	bad[65] = '\0';
	ck_assert_int_eq(btcore_id_from_hex(&id, bad), BT_EFORMAT);
	/* every position with a non-hex character */
	for (i = 0; i < 64; i++) {
		memcpy(bad, good, 65);
		bad[i] = (i % 2) ? 'g' : ' ';
		ck_assert_int_eq(btcore_id_from_hex(&id, bad), BT_EFORMAT);
		ck_assert(btcore_id_is_zero(&id));
	}
	ck_assert_int_eq(btcore_id_from_hex(&id, NULL), BT_EINVAL);
	ck_assert_int_eq(btcore_id_from_hex(NULL, good), BT_EINVAL);
}
END_TEST

START_TEST(distance_and_logdist)
{
	struct bt_id t, a, b, x;
	int i;

	memset(&t, 0, sizeof(t));
	a = t;
	b = t;
	ck_assert_int_eq(btcore_id_logdist(&a, &b), -1);
	ck_assert_int_eq(btcore_id_distance_cmp(&t, &a, &b), 0);
	for (i = 0; i < 256; i++) {
		b = t;
		b.b[i / 8] = (uint8_t)(0x80 >> (i % 8));
		ck_assert_int_eq(btcore_id_logdist(&a, &b), i);
		ck_assert_int_eq(btcore_id_logdist(&b, &a), i);
	}
	/* a = 0x40.., b = 0x01..: a is farther from 0 than b */
	a = t;
	a.b[0] = 0x40;
	b = t;
	b.b[0] = 0x01;
	ck_assert_int_gt(btcore_id_distance_cmp(&t, &a, &b), 0);
	ck_assert_int_lt(btcore_id_distance_cmp(&t, &b, &a), 0);
	/* relative to a target of 0x41.., a is nearer */
	t.b[0] = 0x41;
	ck_assert_int_lt(btcore_id_distance_cmp(&t, &a, &b), 0);
	btcore_id_xor(&x, &a, &b);
	ck_assert_uint_eq(x.b[0], 0x41);
	ck_assert_int_lt(btcore_id_cmp(&b, &a), 0);
	ck_assert_int_gt(btcore_id_cmp(&a, &b), 0);
	ck_assert_int_eq(btcore_id_cmp(&a, &a), 0);
}
END_TEST

START_TEST(random_ids_differ)
{
	struct bt_id a, b;

	ck_assert_int_eq(btcore_id_random(&a), BT_OK);
	ck_assert_int_eq(btcore_id_random(&b), BT_OK);
	ck_assert_int_ne(btcore_id_cmp(&a, &b), 0);
	ck_assert(!btcore_id_is_zero(&a));
	ck_assert_int_eq(btcore_random_bytes(NULL, 1), BT_EINVAL);
	ck_assert_int_eq(btcore_random_bytes(NULL, 0), BT_OK);
}
END_TEST

START_TEST(ct_equal_and_wipe)
{
	uint8_t a[40], b[40];

	memset(a, 7, sizeof(a));
	memcpy(b, a, sizeof(b));
	ck_assert_int_eq(btcore_ct_equal(a, b, sizeof(a)), 1);
	b[39] ^= 1;
	ck_assert_int_eq(btcore_ct_equal(a, b, sizeof(a)), 0);
	btcore_wipe(a, sizeof(a));
	memset(b, 0, sizeof(b));
	ck_assert_int_eq(memcmp(a, b, sizeof(a)), 0);
	btcore_wipe(NULL, 10);
}
END_TEST

START_TEST(strerror_and_version)
{
	int c;
	char v[32];

	for (c = 0; c >= BT_EPROTO; c--)
		ck_assert_str_ne(btcore_strerror(c), "unknown error");
	ck_assert_str_eq(btcore_strerror(-999), "unknown error");
	ck_assert_str_eq(btcore_strerror(12345), "unknown error");
	snprintf(v, sizeof(v), "%d.%d.%d", BTCORE_VERSION_MAJOR,
	    BTCORE_VERSION_MINOR, BTCORE_VERSION_PATCH);
	ck_assert_str_eq(btcore_version(), v);
}
END_TEST

Suite *suite_id(void);

Suite *
suite_id(void)
{
	Suite *s = suite_create("id");
	TCase *tc = tcase_create("id");

	tcase_add_test(tc, sha256_known_answers);
	tcase_add_test(tc, hex_round_trip_and_rejects);
	tcase_add_test(tc, distance_and_logdist);
	tcase_add_test(tc, random_ids_differ);
	tcase_add_test(tc, ct_equal_and_wipe);
	tcase_add_test(tc, strerror_and_version);
	suite_add_tcase(s, tc);
	return s;
}
