/*
 * test_record.c - signed mutable records: signing, encoding, sequence rules.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <bt/hash.h>
#include <bt/id.h>
#include <bt/key.h>
#include <bt/record.h>

Suite *suite_record(void);

static struct btcore_key *
seeded_key(uint8_t fill)
{
	uint8_t seed[BTCORE_ED25519_SEED_LEN];
	struct btcore_key *k = NULL;

	memset(seed, fill, sizeof(seed));
	ck_assert_int_eq(btcore_key_from_seed(&k, seed), BT_OK);
	return k;
}

static int
failing_sign(void *ctx, const void *msg, size_t len, struct bt_sig *sig)
{
	(void)ctx;
	(void)msg;
	(void)len;
	memset(sig, 0xee, sizeof(*sig));
	return BT_EIO;
}

START_TEST(sign_verify_encode)
{
	struct btcore_key *k = seeded_key(7);
	struct btcore_signer s;
	struct bt_record r, d;
	struct bt_id target, want;
	uint8_t buf[BTCORE_RECORD_ENC_MAX], msg[200], tb[32 + 5];
	size_t len, n;

	btcore_key_signer(k, &s);
	ck_assert_int_eq(btcore_record_sign(&r, &s, "feed/", 5, "hello", 5, 42),
	    BT_OK);
	ck_assert_int_eq(btcore_record_verify(&r), BT_OK);
	ck_assert_mem_eq(r.pub.b, s.pub.b, 32);

	/* the documented signed message */
	n = 0;
	memcpy(msg, "blocktree-record-v1", 20);	/* with its NUL */
	n = 20;
	msg[n++] = 5;
	memcpy(msg + n, "feed/", 5);
	n += 5;
	memset(msg + n, 0, 7);
	msg[n + 7] = 42;
	n += 8;
	memcpy(msg + n, "hello", 5);
	n += 5;
	ck_assert_int_eq(btcore_sig_verify(&r.pub, msg, n, &r.sig), BT_OK);

	/* target = SHA-256(pub || key) */
	ck_assert_int_eq(btcore_record_target(&target, &r.pub, "feed/", 5),
	    BT_OK);
	memcpy(tb, r.pub.b, 32);
	memcpy(tb + 32, "feed/", 5);
	ck_assert_int_eq(btcore_id_hash(&want, tb, sizeof(tb)), BT_OK);
	ck_assert_mem_eq(target.b, want.b, 32);
	ck_assert_int_eq(btcore_record_target(&target, &r.pub, "", 0),
	    BT_ERANGE);
	ck_assert_int_eq(btcore_record_target(&target, &r.pub, tb, 65),
	    BT_ERANGE);
	ck_assert_int_eq(btcore_record_target(&target, NULL, tb, 5), BT_EINVAL);

	/* encoding */
	ck_assert_int_eq(btcore_record_encode(&r, buf, 10, &len), BT_ERANGE);
	ck_assert_uint_eq(len, 1 + 32 + 8 + 1 + 5 + 2 + 5 + 64);
	ck_assert_int_eq(btcore_record_encode(&r, buf, sizeof(buf), &len),
	    BT_OK);
	ck_assert_uint_eq(buf[0], 'R');
	ck_assert_int_eq(btcore_record_decode(&d, buf, len), BT_OK);
	ck_assert_uint_eq(d.seq, 42);
	ck_assert_uint_eq(d.key_len, 5);
	ck_assert_mem_eq(d.key, "feed/", 5);
	ck_assert_uint_eq(d.value_len, 5);
	ck_assert_ptr_eq(d.value, buf + 1 + 32 + 8 + 1 + 5 + 2);
	ck_assert_mem_eq(d.value, "hello", 5);
	ck_assert_mem_eq(d.sig.b, r.sig.b, 64);

	/* empty value */
	ck_assert_int_eq(btcore_record_sign(&r, &s, "k", 1, NULL, 0, 0), BT_OK);
	ck_assert_int_eq(btcore_record_encode(&r, buf, sizeof(buf), &len),
	    BT_OK);
	ck_assert_int_eq(btcore_record_decode(&d, buf, len), BT_OK);
	ck_assert_uint_eq(d.value_len, 0);

	/* a signer that fails leaves nothing behind */
	s.sign = failing_sign;
	ck_assert_int_eq(btcore_record_sign(&r, &s, "k", 1, "v", 1, 1),
	    BT_EIO);
	ck_assert_uint_eq(r.key_len, 0);
	ck_assert_ptr_null(r.value);
	btcore_key_free(k);
}
END_TEST

START_TEST(bounds)
{
	struct btcore_key *k = seeded_key(9);
	struct btcore_signer s;
	struct bt_record r, d;
	uint8_t key[65], *val, *buf;
	size_t len;

	btcore_key_signer(k, &s);
	memset(key, 'k', sizeof(key));
	val = calloc(1, BTCORE_RECORD_VALUE_MAX + 1);
	buf = malloc(BTCORE_RECORD_ENC_MAX + 1);
	ck_assert_ptr_nonnull(val);
	ck_assert_ptr_nonnull(buf);
	ck_assert_int_eq(btcore_record_sign(&r, &s, key, 0, val, 1, 1),
	    BT_ERANGE);
	ck_assert_int_eq(btcore_record_sign(&r, &s, key, 65, val, 1, 1),
	    BT_ERANGE);
	ck_assert_int_eq(btcore_record_sign(&r, &s, key, 1, val,
	    BTCORE_RECORD_VALUE_MAX + 1, 1), BT_ERANGE);
	ck_assert_int_eq(btcore_record_sign(&r, &s, key, 1, NULL, 1, 1),
	    BT_EINVAL);
	ck_assert_int_eq(btcore_record_sign(NULL, &s, key, 1, val, 1, 1),
	    BT_EINVAL);
	ck_assert_int_eq(btcore_record_sign(&r, NULL, key, 1, val, 1, 1),
	    BT_EINVAL);

	/* the largest record */
	val[BTCORE_RECORD_VALUE_MAX - 1] = 0x77;
	ck_assert_int_eq(btcore_record_sign(&r, &s, key, 64, val,
	    BTCORE_RECORD_VALUE_MAX, UINT64_MAX), BT_OK);
	ck_assert_int_eq(btcore_record_encode(&r, buf, BTCORE_RECORD_ENC_MAX,
	    &len), BT_OK);
	ck_assert_uint_eq(len, BTCORE_RECORD_ENC_MAX);
	ck_assert_int_eq(btcore_record_decode(&d, buf, len), BT_OK);
	ck_assert_uint_eq(d.seq, UINT64_MAX);
	ck_assert_uint_eq(d.value_len, BTCORE_RECORD_VALUE_MAX);
	ck_assert_uint_eq(d.value[BTCORE_RECORD_VALUE_MAX - 1], 0x77);

	/* hostile lengths in the encoding */
	buf[41] = 0;
	ck_assert_int_eq(btcore_record_decode(&d, buf, len), BT_EFORMAT);
	buf[41] = 65;
	ck_assert_int_eq(btcore_record_decode(&d, buf, len), BT_EFORMAT);
	buf[41] = 64;
	buf[42 + 64] = 0x40;	/* value length 0x4001 > 16 KiB */
	buf[42 + 65] = 0x01;
	ck_assert_int_eq(btcore_record_decode(&d, buf, len), BT_EFORMAT);
	buf[42 + 64] = 0xff;
	buf[42 + 65] = 0xff;
	ck_assert_int_eq(btcore_record_decode(&d, buf, len), BT_EFORMAT);
	buf[0] = 'X';
	ck_assert_int_eq(btcore_record_decode(&d, buf, len), BT_EFORMAT);
	ck_assert_int_eq(btcore_record_decode(NULL, buf, len), BT_EINVAL);
	ck_assert_int_eq(btcore_record_decode(&d, NULL, 3), BT_EINVAL);
	ck_assert_int_eq(btcore_record_decode(&d, NULL, 0), BT_ETRUNC);

	/* encode refuses a record out of bounds */
	r.key_len = 0;
	ck_assert_int_eq(btcore_record_encode(&r, buf, BTCORE_RECORD_ENC_MAX,
	    &len), BT_EINVAL);
	ck_assert_int_eq(btcore_record_verify(&r), BT_ERANGE);
	free(val);
	free(buf);
	btcore_key_free(k);
}
END_TEST

START_TEST(truncation_and_bit_flips)
{
	struct btcore_key *k = seeded_key(3);
	struct btcore_signer s;
	struct bt_record r, d;
	uint8_t buf[300], mut[301];
	size_t len, cut, i, bit;
	int rc;

	btcore_key_signer(k, &s);
	ck_assert_int_eq(btcore_record_sign(&r, &s, "name", 4, "value bytes",
	    11, 1000), BT_OK);
	ck_assert_int_eq(btcore_record_encode(&r, buf, sizeof(buf), &len),
	    BT_OK);
	for (cut = 0; cut < len; cut++) {
		ck_assert_int_eq(btcore_record_decode(&d, buf, cut), BT_ETRUNC);
		ck_assert_uint_eq(d.key_len, 0);
	}
	memcpy(mut, buf, len);
	mut[len] = 0;
	ck_assert_int_eq(btcore_record_decode(&d, mut, len + 1), BT_EFORMAT);
	for (i = 0; i < len; i++)
		for (bit = 0; bit < 8; bit++) {
			memcpy(mut, buf, len);
			mut[i] ^= (uint8_t)(1u << bit);
			rc = btcore_record_decode(&d, mut, len);
			ck_assert_msg(rc == BT_EVERIFY || rc == BT_EFORMAT ||
			    rc == BT_ETRUNC, "byte %zu bit %zu: %d", i, bit, rc);
			ck_assert_uint_eq(d.key_len, 0);
		}
	/* a field changed in the struct fails verification */
	d = r;
	d.seq++;
	ck_assert_int_eq(btcore_record_verify(&d), BT_EVERIFY);
	d = r;
	d.key[0] ^= 1;
	ck_assert_int_eq(btcore_record_verify(&d), BT_EVERIFY);
	d = r;
	d.value_len--;
	ck_assert_int_eq(btcore_record_verify(&d), BT_EVERIFY);
	d = r;
	d.pub.b[5] ^= 0x20;
	ck_assert_int_eq(btcore_record_verify(&d), BT_EVERIFY);
	ck_assert_int_eq(btcore_record_verify(NULL), BT_EINVAL);
	btcore_key_free(k);
}
END_TEST

START_TEST(sequence_rules)
{
	struct btcore_key *k = seeded_key(1), *k2 = seeded_key(2);
	struct btcore_signer s, s2;
	struct bt_record stored, in;
	static const struct {
		uint64_t seq_in, seq_stored;
		const char *v_in, *v_stored;
		int want;
	} table[] = {
		{ 2, 1, "b", "a", BTCORE_RECORD_ACCEPT },
		{ 2, 1, "a", "a", BTCORE_RECORD_ACCEPT },
		{ 1, 0, "", "a", BTCORE_RECORD_ACCEPT },
		{ UINT64_MAX, UINT64_MAX - 1, "x", "y", BTCORE_RECORD_ACCEPT },
		{ 5, 5, "same", "same", BTCORE_RECORD_REFRESH },
		{ 0, 0, "", "", BTCORE_RECORD_REFRESH },
		{ 4, 5, "new", "old", BT_ESTALE },
		{ 0, UINT64_MAX, "a", "a", BT_ESTALE },
		{ 5, 5, "one", "two", BT_ECONFLICT },
		{ 5, 5, "one", "one!", BT_ECONFLICT },
		{ 5, 5, "", "x", BT_ECONFLICT },
	};
	size_t i;

	btcore_key_signer(k, &s);
	btcore_key_signer(k2, &s2);
	for (i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		ck_assert_int_eq(btcore_record_sign(&in, &s, "key", 3,
		    table[i].v_in, strlen(table[i].v_in), table[i].seq_in),
		    BT_OK);
		ck_assert_int_eq(btcore_record_sign(&stored, &s, "key", 3,
		    table[i].v_stored, strlen(table[i].v_stored),
		    table[i].seq_stored), BT_OK);
		ck_assert_msg(btcore_record_compare(&in, &stored) ==
		    table[i].want, "row %zu", i);
	}
	/* the codes are distinct */
	ck_assert_int_ne(BTCORE_RECORD_ACCEPT, BTCORE_RECORD_REFRESH);
	ck_assert_int_ne(BTCORE_RECORD_ACCEPT, BT_OK);
	ck_assert_int_ne(BT_ESTALE, BT_ECONFLICT);

	/* another key or another signer is not comparable */
	ck_assert_int_eq(btcore_record_sign(&stored, &s, "key", 3, "v", 1, 1),
	    BT_OK);
	ck_assert_int_eq(btcore_record_sign(&in, &s, "kez", 3, "v", 1, 2),
	    BT_OK);
	ck_assert_int_eq(btcore_record_compare(&in, &stored), BT_EINVAL);
	ck_assert_int_eq(btcore_record_sign(&in, &s, "ke", 2, "v", 1, 2),
	    BT_OK);
	ck_assert_int_eq(btcore_record_compare(&in, &stored), BT_EINVAL);
	ck_assert_int_eq(btcore_record_sign(&in, &s2, "key", 3, "v", 1, 2),
	    BT_OK);
	ck_assert_int_eq(btcore_record_compare(&in, &stored), BT_EINVAL);
	ck_assert_int_eq(btcore_record_compare(NULL, &stored), BT_EINVAL);
	ck_assert_int_eq(btcore_record_compare(&in, NULL), BT_EINVAL);
	btcore_key_free(k);
	btcore_key_free(k2);
}
END_TEST

Suite *
suite_record(void)
{
	Suite *s = suite_create("record");
	TCase *tc = tcase_create("record");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, sign_verify_encode);
	tcase_add_test(tc, bounds);
	tcase_add_test(tc, truncation_and_bit_flips);
	tcase_add_test(tc, sequence_rules);
	suite_add_tcase(s, tc);
	return s;
}
