/*
 * test_manifest.c - signed program manifests.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <bt/key.h>
#include <bt/manifest.h>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wcast-qual"
#include <bson/bson.h>
#pragma GCC diagnostic pop

/* Bytes of the trailing "sig" element: type, "sig\0", length, subtype. */
#define SIG_ELEM_LEN	(1 + 4 + 4 + 1 + 64)

static struct btcore_key *
key_from_byte(uint8_t b)
{
	uint8_t seed[BTCORE_ED25519_SEED_LEN];
	struct btcore_key *k;

	memset(seed, b, sizeof(seed));
	ck_assert_int_eq(btcore_key_from_seed(&k, seed), BT_OK);
	return k;
}

/* The manifest every test starts from. */
static struct btcore_manifest *
sample(void)
{
	struct btcore_manifest *m;

	ck_assert_int_eq(btcore_manifest_new(&m), BT_OK);
	ck_assert_int_eq(btcore_manifest_set_name(m, "docdb"), BT_OK);
	ck_assert_int_eq(btcore_manifest_set_version(m, "1.2.0-rc1"), BT_OK);
	ck_assert_int_eq(btcore_manifest_add_scope(m, "docdb.query"), BT_OK);
	ck_assert_int_eq(btcore_manifest_add_scope(m, "docdb/sync:v1"), BT_OK);
	ck_assert_int_eq(btcore_manifest_add_route(m, "db.example.org", "/api"),
	    BT_OK);
	ck_assert_int_eq(btcore_manifest_add_route(m, "example.org", "/"),
	    BT_OK);
	ck_assert_int_eq(btcore_manifest_add_grant(m, "/ns/app",
	    BTCORE_MANIFEST_READ_WRITE), BT_OK);
	ck_assert_int_eq(btcore_manifest_add_grant(m, "/ns/shared/docs",
	    BTCORE_MANIFEST_READ), BT_OK);
	return m;
}

static void
sign_with(struct btcore_manifest *m, const struct btcore_key *k,
    uint8_t **out, size_t *len)
{
	struct btcore_signer s;

	btcore_key_signer(k, &s);
	ck_assert_int_eq(btcore_manifest_sign(m, &s, out, len), BT_OK);
}

static int
decode_rc(const uint8_t *d, size_t len)
{
	struct btcore_manifest *m = (struct btcore_manifest *)&m;
	int rc;

	rc = btcore_manifest_decode(&m, d, len);
	if (rc == BT_OK)
		btcore_manifest_free(m);
	else
		ck_assert_ptr_null(m);
	return rc;
}

START_TEST(round_trip)
{
	struct btcore_manifest *m = sample(), *d;
	struct btcore_key *k = key_from_byte(1);
	struct bt_pubkey pub;
	uint8_t *enc, *enc2;
	size_t len, len2;
	const char *h, *p;
	int access;
	bson_t b;
	bson_iter_t it;

	ck_assert_ptr_null(btcore_manifest_owner(m));
	sign_with(m, k, &enc, &len);
	btcore_key_public(k, &pub);
	ck_assert_ptr_nonnull(btcore_manifest_owner(m));
	ck_assert_int_eq(memcmp(btcore_manifest_owner(m), &pub, 32), 0);

	/* plain BSON that libbson reads */
	ck_assert(bson_init_static(&b, enc, len));
	ck_assert(bson_validate(&b, BSON_VALIDATE_UTF8, NULL));
	ck_assert(bson_iter_init_find(&it, &b, "version"));
	ck_assert_str_eq(bson_iter_utf8(&it, NULL), "1.2.0-rc1");
	ck_assert(bson_iter_init_find(&it, &b, "sig"));

	ck_assert_int_eq(btcore_manifest_decode(&d, enc, len), BT_OK);
	ck_assert_str_eq(btcore_manifest_name(d), "docdb");
	ck_assert_str_eq(btcore_manifest_version(d), "1.2.0-rc1");
	ck_assert_int_eq(memcmp(btcore_manifest_owner(d), &pub, 32), 0);
	ck_assert_uint_eq(btcore_manifest_scope_count(d), 2);
	ck_assert_str_eq(btcore_manifest_scope(d, 0), "docdb.query");
	ck_assert_str_eq(btcore_manifest_scope(d, 1), "docdb/sync:v1");
	ck_assert_ptr_null(btcore_manifest_scope(d, 2));
	ck_assert_uint_eq(btcore_manifest_route_count(d), 2);
	ck_assert_int_eq(btcore_manifest_route(d, 0, &h, &p), BT_OK);
	ck_assert_str_eq(h, "db.example.org");
	ck_assert_str_eq(p, "/api");
	ck_assert_int_eq(btcore_manifest_route(d, 1, &h, &p), BT_OK);
	ck_assert_str_eq(h, "example.org");
	ck_assert_str_eq(p, "/");
	ck_assert_int_eq(btcore_manifest_route(d, 2, &h, &p), BT_ERANGE);
	ck_assert_ptr_null(h);
	ck_assert_uint_eq(btcore_manifest_grant_count(d), 2);
	ck_assert_int_eq(btcore_manifest_grant(d, 0, &p, &access), BT_OK);
	ck_assert_str_eq(p, "/ns/app");
	ck_assert_int_eq(access, BTCORE_MANIFEST_READ_WRITE);
	ck_assert_int_eq(btcore_manifest_grant(d, 1, &p, &access), BT_OK);
	ck_assert_str_eq(p, "/ns/shared/docs");
	ck_assert_int_eq(access, BTCORE_MANIFEST_READ);
	ck_assert_int_eq(btcore_manifest_grant(d, 2, &p, &access), BT_ERANGE);
	ck_assert_int_eq(btcore_manifest_grant(d, 0, NULL, &access),
	    BT_EINVAL);

	/* signing the decoded copy again gives the same bytes */
	sign_with(d, k, &enc2, &len2);
	ck_assert_uint_eq(len2, len);
	ck_assert_int_eq(memcmp(enc, enc2, len), 0);
	btcore_manifest_bytes_free(enc2);

	/* a change drops the signature */
	ck_assert_int_eq(btcore_manifest_add_scope(d, "more"), BT_OK);
	ck_assert_ptr_null(btcore_manifest_owner(d));

	btcore_manifest_bytes_free(enc);
	btcore_manifest_bytes_free(NULL);
	btcore_manifest_free(d);
	btcore_manifest_free(m);
	btcore_manifest_free(NULL);
	btcore_key_free(k);
}
END_TEST

/* An empty manifest (only name and version) round-trips too. */
START_TEST(minimal_and_sign_errors)
{
	struct btcore_manifest *m, *d;
	struct btcore_key *k = key_from_byte(2);
	struct btcore_signer s;
	uint8_t *enc = (uint8_t *)&k;
	size_t len = 9;

	btcore_key_signer(k, &s);
	ck_assert_int_eq(btcore_manifest_new(&m), BT_OK);
	ck_assert_int_eq(btcore_manifest_sign(m, &s, &enc, &len), BT_ESTATE);
	ck_assert_ptr_null(enc);
	ck_assert_uint_eq(len, 0);
	ck_assert_int_eq(btcore_manifest_set_name(m, "x"), BT_OK);
	ck_assert_int_eq(btcore_manifest_sign(m, &s, &enc, &len), BT_ESTATE);
	ck_assert_int_eq(btcore_manifest_set_version(m, "1"), BT_OK);
	ck_assert_int_eq(btcore_manifest_sign(NULL, &s, &enc, &len), BT_EINVAL);
	ck_assert_int_eq(btcore_manifest_sign(m, NULL, &enc, &len), BT_EINVAL);
	ck_assert_int_eq(btcore_manifest_sign(m, &s, NULL, &len), BT_EINVAL);
	ck_assert_int_eq(btcore_manifest_sign(m, &s, &enc, NULL), BT_EINVAL);
	ck_assert_int_eq(btcore_manifest_sign(m, &s, &enc, &len), BT_OK);
	ck_assert_int_eq(btcore_manifest_decode(&d, enc, len), BT_OK);
	ck_assert_uint_eq(btcore_manifest_scope_count(d), 0);
	ck_assert_uint_eq(btcore_manifest_route_count(d), 0);
	ck_assert_uint_eq(btcore_manifest_grant_count(d), 0);
	ck_assert_int_eq(btcore_manifest_allows_path(d, "/ns/a", 0), 0);
	btcore_manifest_free(d);
	ck_assert_int_eq(btcore_manifest_decode(NULL, enc, len), BT_EINVAL);
	ck_assert_int_eq(btcore_manifest_decode(&d, NULL, len), BT_EINVAL);
	ck_assert_ptr_null(d);
	ck_assert_int_eq(btcore_manifest_new(NULL), BT_EINVAL);
	btcore_manifest_bytes_free(enc);
	btcore_manifest_free(m);
	btcore_key_free(k);
}
END_TEST

/*
 * Put the signature of @p orig over the bytes of @p other: the result is
 * a well-formed manifest whose signature belongs to different content.
 */
static void
expect_tamper_refused(const uint8_t *orig, size_t olen,
    struct btcore_manifest *changed, const struct btcore_key *k)
{
	uint8_t *enc;
	size_t len;

	sign_with(changed, k, &enc, &len);
	ck_assert_int_eq(decode_rc(enc, len), BT_OK);
	memcpy(enc + len - 65, orig + olen - 65, 64);
	ck_assert_int_eq(decode_rc(enc, len), BT_EVERIFY);
	btcore_manifest_bytes_free(enc);
	btcore_manifest_free(changed);
}

START_TEST(each_field_tampered)
{
	struct btcore_key *k = key_from_byte(3), *other = key_from_byte(4);
	struct btcore_manifest *m = sample(), *c;
	uint8_t *enc;
	size_t len, i;

	sign_with(m, k, &enc, &len);
	ck_assert_int_eq(decode_rc(enc, len), BT_OK);

	c = sample();
	ck_assert_int_eq(btcore_manifest_set_name(c, "docdc"), BT_OK);
	expect_tamper_refused(enc, len, c, k);
	c = sample();
	ck_assert_int_eq(btcore_manifest_set_version(c, "1.2.0-rc2"), BT_OK);
	expect_tamper_refused(enc, len, c, k);
	c = sample();
	ck_assert_int_eq(btcore_manifest_add_scope(c, "docdb.admin"), BT_OK);
	expect_tamper_refused(enc, len, c, k);
	c = sample();
	ck_assert_int_eq(btcore_manifest_add_route(c, "evil.example", "/"),
	    BT_OK);
	expect_tamper_refused(enc, len, c, k);
	c = sample();
	ck_assert_int_eq(btcore_manifest_add_grant(c, "/ns/other",
	    BTCORE_MANIFEST_READ), BT_OK);
	expect_tamper_refused(enc, len, c, k);

	/* same lengths, one byte different: name, route host, grant path */
	for (i = 0; i < 4; i++) {
		ck_assert_int_eq(btcore_manifest_new(&c), BT_OK);
		ck_assert_int_eq(btcore_manifest_set_name(c,
		    i == 0 ? "docdc" : "docdb"), BT_OK);
		ck_assert_int_eq(btcore_manifest_set_version(c, "1.2.0-rc1"),
		    BT_OK);
		ck_assert_int_eq(btcore_manifest_add_scope(c, "docdb.query"),
		    BT_OK);
		ck_assert_int_eq(btcore_manifest_add_scope(c, "docdb/sync:v1"),
		    BT_OK);
		ck_assert_int_eq(btcore_manifest_add_route(c,
		    i == 1 ? "db.example.com" : "db.example.org", "/api"),
		    BT_OK);
		ck_assert_int_eq(btcore_manifest_add_route(c, "example.org",
		    "/"), BT_OK);
		ck_assert_int_eq(btcore_manifest_add_grant(c,
		    i == 2 ? "/ns/apq" : "/ns/app",
		    BTCORE_MANIFEST_READ_WRITE), BT_OK);
		ck_assert_int_eq(btcore_manifest_add_grant(c, "/ns/shared/docs",
		    i == 3 ? BTCORE_MANIFEST_READ_WRITE : BTCORE_MANIFEST_READ),
		    BT_OK);
		expect_tamper_refused(enc, len, c, k);
	}

	/* another owner key in place of the real one */
	c = sample();
	{
		uint8_t *enc2;
		size_t len2;

		sign_with(c, other, &enc2, &len2);
		ck_assert_uint_eq(len2, len);
		/* owner from the other key, signature from the original */
		memcpy(enc2 + len - 65, enc + len - 65, 64);
		ck_assert_int_eq(decode_rc(enc2, len2), BT_EVERIFY);
		btcore_manifest_bytes_free(enc2);
	}
	btcore_manifest_free(c);

	/* every byte of the signature */
	for (i = len - 65; i < len - 1; i++) {
		enc[i] ^= 0x01;
		ck_assert_int_eq(decode_rc(enc, len), BT_EVERIFY);
		enc[i] ^= 0x01;
	}
	ck_assert_int_eq(decode_rc(enc, len), BT_OK);

	btcore_manifest_bytes_free(enc);
	btcore_manifest_free(m);
	btcore_key_free(k);
	btcore_key_free(other);
}
END_TEST

/* A signer that claims one public key and signs with another. */
static int
lying_sign(void *ctx, const void *msg, size_t len, struct bt_sig *sig)
{
	return btcore_key_sign(ctx, msg, len, sig);
}

START_TEST(signed_by_other_key)
{
	struct btcore_key *owner = key_from_byte(5), *thief = key_from_byte(6);
	struct btcore_manifest *m = sample();
	struct btcore_signer s;
	struct bt_sig sig;
	uint8_t *enc, *msg;
	size_t len, mlen, i;
	static const char prefix[] = "blocktree-manifest-v1";

	/* the library checks what a signer returns */
	btcore_key_public(owner, &s.pub);
	s.sign = lying_sign;
	s.ctx = thief;
	enc = (uint8_t *)&s;
	ck_assert_int_eq(btcore_manifest_sign(m, &s, &enc, &len), BT_EVERIFY);
	ck_assert_ptr_null(enc);
	ck_assert_ptr_null(btcore_manifest_owner(m));

	/*
	 * Built by hand: the owner's manifest with the thief's signature
	 * over exactly the signed message.  The message is the prefix and
	 * the document without its trailing "sig" element.
	 */
	sign_with(m, owner, &enc, &len);
	mlen = sizeof(prefix) + len - SIG_ELEM_LEN;
	msg = malloc(mlen);
	ck_assert_ptr_nonnull(msg);
	memcpy(msg, prefix, sizeof(prefix));
	memcpy(msg + sizeof(prefix), enc, len - SIG_ELEM_LEN - 1);
	msg[mlen - 1] = 0;
	i = len - SIG_ELEM_LEN;
	msg[sizeof(prefix)] = (uint8_t)i;
	msg[sizeof(prefix) + 1] = (uint8_t)(i >> 8);
	/* the real signature verifies over that message: it is the right one */
	ck_assert_int_eq(btcore_sig_verify(btcore_manifest_owner(m), msg, mlen,
	    (const struct bt_sig *)(enc + len - 65)), BT_OK);
	ck_assert_int_eq(btcore_key_sign(thief, msg, mlen, &sig), BT_OK);
	memcpy(enc + len - 65, sig.b, 64);
	ck_assert_int_eq(decode_rc(enc, len), BT_EVERIFY);
	/* and without the domain prefix, by the owner: also refused */
	ck_assert_int_eq(btcore_key_sign(owner, msg + sizeof(prefix),
	    mlen - sizeof(prefix), &sig), BT_OK);
	memcpy(enc + len - 65, sig.b, 64);
	ck_assert_int_eq(decode_rc(enc, len), BT_EVERIFY);

	free(msg);
	btcore_manifest_bytes_free(enc);
	btcore_manifest_free(m);
	btcore_key_free(owner);
	btcore_key_free(thief);
}
END_TEST

START_TEST(truncation_and_bit_flips)
{
	struct btcore_key *k = key_from_byte(7);
	struct btcore_manifest *m = sample();
	uint8_t *enc, *copy;
	size_t len, i;
	int bit, rc;

	sign_with(m, k, &enc, &len);
	for (i = 0; i < len; i++) {
		rc = decode_rc(enc, i);
		ck_assert_int_ne(rc, BT_OK);
		ck_assert(rc == BT_ETRUNC || rc == BT_EFORMAT);
	}
	copy = malloc(len + 1);
	ck_assert_ptr_nonnull(copy);
	memcpy(copy, enc, len);
	copy[len] = 0;
	ck_assert_int_eq(decode_rc(copy, len + 1), BT_EFORMAT);
	for (i = 0; i < len; i++) {
		for (bit = 0; bit < 8; bit++) {
			memcpy(copy, enc, len);
			copy[i] ^= (uint8_t)(1u << bit);
			ck_assert_int_ne(decode_rc(copy, len), BT_OK);
		}
	}
	free(copy);
	btcore_manifest_bytes_free(enc);
	btcore_manifest_free(m);
	btcore_key_free(k);
}
END_TEST

/* Valid BSON with the same content but not the canonical layout. */
START_TEST(non_canonical_refused)
{
	struct btcore_key *k = key_from_byte(8);
	struct btcore_manifest *m = sample();
	uint8_t *enc;
	size_t len;
	bson_t b, out, child;
	bson_iter_t it;
	int variant;

	sign_with(m, k, &enc, &len);
	ck_assert(bson_init_static(&b, enc, len));
	for (variant = 0; variant < 4; variant++) {
		bson_init(&out);
		ck_assert(bson_iter_init(&it, &b));
		while (bson_iter_next(&it)) {
			const char *key = bson_iter_key(&it);

			if (variant == 0 && strcmp(key, "version") == 0)
				continue;	/* appended at the end below */
			if (variant == 1 && strcmp(key, "scopes") == 0) {
				/* array keyed "1", "2" instead of "0", "1" */
				bson_append_array_begin(&out, "scopes", -1,
				    &child);
				bson_append_utf8(&child, "1", -1,
				    "docdb.query", -1);
				bson_append_utf8(&child, "2", -1,
				    "docdb/sync:v1", -1);
				bson_append_array_end(&out, &child);
				continue;
			}
			if (variant == 2 && strcmp(key, "sig") == 0)
				bson_append_int32(&out, "extra", -1, 1);
			if (variant == 3 && strcmp(key, "name") == 0) {
				bson_append_symbol(&out, "name", -1, "docdb",
				    -1);
				continue;
			}
			ck_assert(bson_append_iter(&out, NULL, 0, &it));
		}
		if (variant == 0) {
			ck_assert(bson_iter_init_find(&it, &b, "version"));
			ck_assert(bson_append_iter(&out, NULL, 0, &it));
		}
		ck_assert_int_eq(decode_rc(bson_get_data(&out), out.len),
		    BT_EFORMAT);
		bson_destroy(&out);
	}
	/* the untouched copy through libbson is accepted */
	bson_init(&out);
	ck_assert(bson_iter_init(&it, &b));
	while (bson_iter_next(&it))
		ck_assert(bson_append_iter(&out, NULL, 0, &it));
	ck_assert_int_eq(decode_rc(bson_get_data(&out), out.len), BT_OK);
	bson_destroy(&out);

	btcore_manifest_bytes_free(enc);
	btcore_manifest_free(m);
	btcore_key_free(k);
}
END_TEST

START_TEST(limits_and_oversize)
{
	struct btcore_key *k = key_from_byte(9);
	struct btcore_manifest *m;
	char buf[BTCORE_MANIFEST_PATH_MAX + 2];
	uint8_t *enc, *big;
	size_t len, i;
	int rc;

	/* 64 scopes fit, the 65th does not */
	ck_assert_int_eq(btcore_manifest_new(&m), BT_OK);
	ck_assert_int_eq(btcore_manifest_set_name(m, "a"), BT_OK);
	ck_assert_int_eq(btcore_manifest_set_version(m, "1"), BT_OK);
	for (i = 0; i < BTCORE_MANIFEST_SCOPES_MAX; i++) {
		buf[0] = 's';
		buf[1] = (char)('a' + i / 26);
		buf[2] = (char)('a' + i % 26);
		buf[3] = '\0';
		ck_assert_int_eq(btcore_manifest_add_scope(m, buf), BT_OK);
	}
	ck_assert_int_eq(btcore_manifest_add_scope(m, "zzz"), BT_ERANGE);
	for (i = 0; i < BTCORE_MANIFEST_GRANTS_MAX; i++) {
		buf[0] = '/';
		buf[1] = (char)('a' + i / 26);
		buf[2] = (char)('a' + i % 26);
		buf[3] = '\0';
		ck_assert_int_eq(btcore_manifest_add_grant(m, buf,
		    BTCORE_MANIFEST_READ), BT_OK);
	}
	ck_assert_int_eq(btcore_manifest_add_grant(m, "/zz",
	    BTCORE_MANIFEST_READ), BT_ERANGE);
	sign_with(m, k, &enc, &len);
	ck_assert_int_eq(decode_rc(enc, len), BT_OK);
	btcore_manifest_bytes_free(enc);
	btcore_manifest_free(m);

	/* routes with long paths: the size limit stops them */
	ck_assert_int_eq(btcore_manifest_new(&m), BT_OK);
	ck_assert_int_eq(btcore_manifest_set_name(m, "big"), BT_OK);
	ck_assert_int_eq(btcore_manifest_set_version(m, "1"), BT_OK);
	memset(buf, 'p', BTCORE_MANIFEST_PATH_MAX);
	buf[BTCORE_MANIFEST_PATH_MAX] = '\0';
	rc = BT_OK;
	for (i = 0; i < BTCORE_MANIFEST_ROUTES_MAX && rc == BT_OK; i++) {
		buf[0] = '/';
		buf[1] = (char)('a' + i / 26);
		buf[2] = (char)('a' + i % 26);
		rc = btcore_manifest_add_route(m, "h.example", buf);
	}
	ck_assert_int_eq(rc, BT_ETOOBIG);
	ck_assert_uint_lt(btcore_manifest_route_count(m), 64);
	ck_assert_uint_gt(btcore_manifest_route_count(m), 50);
	sign_with(m, k, &enc, &len);
	ck_assert_uint_le(len, BTCORE_MANIFEST_MAX);
	ck_assert_uint_gt(len, BTCORE_MANIFEST_MAX - 1100);
	ck_assert_int_eq(decode_rc(enc, len), BT_OK);
	btcore_manifest_bytes_free(enc);

	/* an over-long input is refused before it is read */
	big = calloc(1, BTCORE_MANIFEST_MAX + 1);
	ck_assert_ptr_nonnull(big);
	ck_assert_int_eq(decode_rc(big, BTCORE_MANIFEST_MAX + 1), BT_ETOOBIG);
	free(big);

	/* a path one byte too long */
	memset(buf, 'q', sizeof(buf));
	buf[0] = '/';
	buf[BTCORE_MANIFEST_PATH_MAX + 1] = '\0';
	ck_assert_int_eq(btcore_manifest_add_grant(m, buf,
	    BTCORE_MANIFEST_READ), BT_EINVAL);
	buf[BTCORE_MANIFEST_PATH_MAX] = '\0';
	ck_assert_int_eq(btcore_manifest_add_grant(m, buf,
	    BTCORE_MANIFEST_READ), BT_ETOOBIG);
	btcore_manifest_free(m);
	btcore_key_free(k);
}
END_TEST

START_TEST(field_validation)
{
	static const struct {
		const char *s;
		int ok;
	} names[] = {
		{ "a", 1 }, { "docdb", 1 }, { "my-app_2.x", 1 }, { "9lives", 1 },
		{ "", 0 }, { "-app", 0 }, { ".app", 0 }, { "App", 0 },
		{ "a b", 0 }, { "a/b", 0 }, { "caf\xc3\xa9", 0 },
		{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		  1 },
		{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		  0 },
	}, versions[] = {
		{ "1", 1 }, { "1.0.0+build~7", 1 }, { "", 0 }, { "1 0", 0 },
		{ "1\t", 0 }, { "12345678901234567890123456789012", 1 },
		{ "123456789012345678901234567890123", 0 },
	}, scopes[] = {
		{ "chat", 1 }, { "Chat.Msg_v2:send/x-y", 1 }, { "", 0 },
		{ "a b", 0 }, { "a*", 0 }, { "a\x7f", 0 },
	}, hosts[] = {
		{ "example.org", 1 }, { "a", 1 }, { "a-b.c0", 1 },
		{ "xn--bcher-kva.example", 1 }, { "", 0 }, { "Example.org", 0 },
		{ "-a.org", 0 }, { "a-.org", 0 }, { "a..org", 0 }, { ".a", 0 },
		{ "a.", 0 }, { "a_b.org", 0 }, { "a:80", 0 }, { "*.a.org", 0 },
		{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.b",
		  1 },
		{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.b",
		  0 },
	}, rpaths[] = {
		{ "/", 1 }, { "/api", 1 }, { "/api/v1/x~y", 1 }, { "/a%20b", 1 },
		{ "", 0 }, { "api", 0 }, { "/api/", 0 }, { "//api", 0 },
		{ "/a//b", 0 }, { "/./a", 0 }, { "/a/..", 0 }, { "/a?x=1", 0 },
		{ "/a#f", 0 }, { "/a b", 0 }, { "/..a", 1 }, { "/a.", 1 },
	}, gpaths[] = {
		{ "/ns", 1 }, { "/ns/app", 1 }, { "/ns/a b", 0 }, { "/", 0 },
		{ "", 0 }, { "ns/app", 0 }, { "/ns/", 0 }, { "/ns//a", 0 },
		{ "/ns/./a", 0 }, { "/ns/../b", 0 }, { "/ns/a\\b", 0 },
		{ "/ns/\xc3\xa9", 0 }, { "/n:s/a?b", 1 },
	};
	struct btcore_manifest *m;
	size_t i;

	ck_assert_int_eq(btcore_manifest_new(&m), BT_OK);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		ck_assert_msg((btcore_manifest_set_name(m, names[i].s) == BT_OK)
		    == names[i].ok, "name %s", names[i].s);
	for (i = 0; i < sizeof(versions) / sizeof(versions[0]); i++)
		ck_assert_msg((btcore_manifest_set_version(m, versions[i].s) ==
		    BT_OK) == versions[i].ok, "version %s", versions[i].s);
	for (i = 0; i < sizeof(scopes) / sizeof(scopes[0]); i++)
		ck_assert_msg((btcore_manifest_add_scope(m, scopes[i].s) ==
		    BT_OK) == scopes[i].ok, "scope %s", scopes[i].s);
	for (i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++)
		ck_assert_msg((btcore_manifest_add_route(m, hosts[i].s, "/h") ==
		    BT_OK) == hosts[i].ok, "host %s", hosts[i].s);
	for (i = 0; i < sizeof(rpaths) / sizeof(rpaths[0]); i++)
		ck_assert_msg((btcore_manifest_add_route(m, "r.example",
		    rpaths[i].s) == BT_OK) == rpaths[i].ok, "route %s",
		    rpaths[i].s);
	for (i = 0; i < sizeof(gpaths) / sizeof(gpaths[0]); i++)
		ck_assert_msg((btcore_manifest_add_grant(m, gpaths[i].s,
		    BTCORE_MANIFEST_READ) == BT_OK) == gpaths[i].ok, "grant %s",
		    gpaths[i].s);

	/* the name in force is the last valid one */
	ck_assert_str_eq(btcore_manifest_name(m),
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
	/* duplicates and bad arguments */
	ck_assert_int_eq(btcore_manifest_add_scope(m, "chat"), BT_EEXIST);
	ck_assert_int_eq(btcore_manifest_add_route(m, "a", "/h"), BT_EEXIST);
	ck_assert_int_eq(btcore_manifest_add_route(m, "a", "/h2"), BT_OK);
	ck_assert_int_eq(btcore_manifest_add_grant(m, "/ns",
	    BTCORE_MANIFEST_READ_WRITE), BT_EEXIST);
	ck_assert_int_eq(btcore_manifest_add_grant(m, "/ns2", 2), BT_EINVAL);
	ck_assert_int_eq(btcore_manifest_add_grant(m, "/ns2", -1), BT_EINVAL);
	ck_assert_int_eq(btcore_manifest_add_grant(NULL, "/ns2", 0),
	    BT_EINVAL);
	ck_assert_int_eq(btcore_manifest_add_grant(m, NULL, 0), BT_EINVAL);
	ck_assert_int_eq(btcore_manifest_add_route(m, NULL, "/"), BT_EINVAL);
	ck_assert_int_eq(btcore_manifest_add_route(m, "a", NULL), BT_EINVAL);
	ck_assert_int_eq(btcore_manifest_add_scope(m, NULL), BT_EINVAL);
	ck_assert_int_eq(btcore_manifest_set_name(NULL, "a"), BT_EINVAL);
	ck_assert_int_eq(btcore_manifest_set_version(m, NULL), BT_EINVAL);
	btcore_manifest_free(m);
}
END_TEST

START_TEST(policy_table)
{
	static const struct {
		const char *path;
		int write, want;
	} paths[] = {
		{ "/ns/app", 0, 1 }, { "/ns/app", 1, 1 }, { "/ns/app/x", 1, 1 },
		{ "/ns/app/x/y.txt", 0, 1 }, { "/ns/apple", 0, 0 },
		{ "/ns/apple/x", 1, 0 }, { "/ns/ap", 0, 0 }, { "/ns", 0, 0 },
		{ "/ns/", 0, 0 }, { "/ns/app/", 0, 0 }, { "/ns/app/../x", 0, 0 },
		{ "/ns/app/./x", 0, 0 }, { "/ns/app//x", 0, 0 },
		{ "/ns/shared/docs", 0, 1 }, { "/ns/shared/docs", 1, 0 },
		{ "/ns/shared/docs/a", 0, 1 }, { "/ns/shared/docs/a", 1, 0 },
		{ "/ns/shared", 0, 0 }, { "/ns/shared/docsx", 0, 0 },
		{ "/other/app", 0, 0 }, { "ns/app", 0, 0 }, { "", 0, 0 },
		{ "/", 0, 0 },
	};
	static const struct {
		const char *host, *path;
		int want;
	} routes[] = {
		{ "db.example.org", "/api", 1 }, { "db.example.org", "/api/v1", 1 },
		{ "DB.Example.ORG", "/api/x", 1 }, { "db.example.org", "/apix", 0 },
		{ "db.example.org", "/", 0 }, { "db.example.org", "/ap", 0 },
		{ "db.example.org", "/api/../admin", 0 },
		{ "db.example.org", "/api/", 0 },
		{ "example.org", "/", 1 }, { "example.org", "/anything/at/all", 1 },
		{ "example.org", "/a/../b", 0 }, { "example.org", "", 0 },
		{ "www.example.org", "/", 0 }, { "example.org.", "/", 0 },
		{ "xample.org", "/", 0 }, { "", "/", 0 },
	};
	static const struct {
		const char *scope;
		int want;
	} scopes[] = {
		{ "docdb.query", 1 }, { "docdb/sync:v1", 1 }, { "docdb", 0 },
		{ "docdb.query.x", 0 }, { "DOCDB.QUERY", 0 }, { "", 0 },
		{ "docdb.quer", 0 },
	};
	struct btcore_key *k = key_from_byte(10);
	struct btcore_manifest *built = sample(), *m;
	uint8_t *enc;
	size_t len, i;

	sign_with(built, k, &enc, &len);
	ck_assert_int_eq(btcore_manifest_decode(&m, enc, len), BT_OK);
	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		ck_assert_msg(btcore_manifest_allows_path(m, paths[i].path,
		    paths[i].write) == paths[i].want, "path %s write %d",
		    paths[i].path, paths[i].write);
		ck_assert_int_eq(btcore_manifest_allows_path(built,
		    paths[i].path, paths[i].write), paths[i].want);
	}
	for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
		ck_assert_msg(btcore_manifest_allows_route(m, routes[i].host,
		    routes[i].path) == routes[i].want, "route %s %s",
		    routes[i].host, routes[i].path);
	for (i = 0; i < sizeof(scopes) / sizeof(scopes[0]); i++)
		ck_assert_msg(btcore_manifest_allows_scope(m, scopes[i].scope) ==
		    scopes[i].want, "scope %s", scopes[i].scope);
	ck_assert_int_eq(btcore_manifest_allows_scope(NULL, "docdb.query"), 0);
	ck_assert_int_eq(btcore_manifest_allows_scope(m, NULL), 0);
	ck_assert_int_eq(btcore_manifest_allows_route(m, NULL, "/"), 0);
	ck_assert_int_eq(btcore_manifest_allows_route(m, "example.org", NULL),
	    0);
	ck_assert_int_eq(btcore_manifest_allows_path(m, NULL, 0), 0);
	ck_assert_int_eq(btcore_manifest_allows_path(NULL, "/ns/app", 0), 0);
	btcore_manifest_bytes_free(enc);
	btcore_manifest_free(m);
	btcore_manifest_free(built);
	btcore_key_free(k);
}
END_TEST

Suite *suite_manifest(void);

Suite *
suite_manifest(void)
{
	Suite *s = suite_create("manifest");
	TCase *tc = tcase_create("manifest");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, round_trip);
	tcase_add_test(tc, minimal_and_sign_errors);
	tcase_add_test(tc, each_field_tampered);
	tcase_add_test(tc, signed_by_other_key);
	tcase_add_test(tc, truncation_and_bit_flips);
	tcase_add_test(tc, non_canonical_refused);
	tcase_add_test(tc, limits_and_oversize);
	tcase_add_test(tc, field_validation);
	tcase_add_test(tc, policy_table);
	suite_add_tcase(s, tc);
	return s;
}
