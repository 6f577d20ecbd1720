/*
 * test_dir.c - directories: entries, canonical encoding, hostile input.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wcast-qual"
#ifdef __clang__
#pragma clang diagnostic ignored "-Wnewline-eof"
#endif
#include <bson.h>
#pragma GCC diagnostic pop

#include <bt/dir.h>

static struct btcore_dir_entry
mk(const char *name, enum btcore_dir_kind kind, uint8_t seed)
{
	struct btcore_dir_entry e;

	memset(&e, 0, sizeof(e));
	e.name = name;
	e.name_len = strlen(name);
	e.kind = kind;
	memset(e.root.b, seed, sizeof(e.root.b));
	e.size = kind == BTCORE_DIR_FILE ? 1000u * seed : 0;
	e.mode = kind == BTCORE_DIR_FILE ? 0644 : 0755;
	e.mtime = 1700000000000000000LL + seed;
	e.layout = (kind == BTCORE_DIR_FILE && (seed & 1)) ?
	    BTCORE_DIR_LAYOUT_RANDOM : BTCORE_DIR_LAYOUT_SEQUENTIAL;
	return e;
}

static void
put(struct btcore_dir *d, const char *name, enum btcore_dir_kind kind,
    uint8_t seed)
{
	struct btcore_dir_entry e = mk(name, kind, seed);

	ck_assert_int_eq(btcore_dir_put(d, &e), BT_OK);
}

/* A small directory with names whose order needs care. */
static struct btcore_dir *
sample(void)
{
	struct btcore_dir *d = NULL;

	ck_assert_int_eq(btcore_dir_new(&d), BT_OK);
	put(d, "zeta", BTCORE_DIR_FILE, 1);
	put(d, "a", BTCORE_DIR_DIR, 2);
	put(d, "ab", BTCORE_DIR_FILE, 3);
	put(d, "B", BTCORE_DIR_FILE, 4);
	put(d, "\xc3\xa9t\xc3\xa9", BTCORE_DIR_FILE, 5);
	put(d, "a.b", BTCORE_DIR_DIR, 6);
	return d;
}

static void
encode(const struct btcore_dir *d, uint8_t **buf, size_t *len)
{
	ck_assert_int_eq(btcore_dir_encode(d, buf, len), BT_OK);
	ck_assert_ptr_nonnull(*buf);
}

START_TEST(entries)
{
	static const char *order[] = { "B", "a", "a.b", "ab", "zeta",
	    "\xc3\xa9t\xc3\xa9" };
	struct btcore_dir *d = sample();
	struct btcore_dir_entry e, got;
	size_t i;

	ck_assert_uint_eq(btcore_dir_count(d), 6);
	for (i = 0; i < 6; i++) {
		ck_assert_int_eq(btcore_dir_entry_at(d, i, &got), BT_OK);
		ck_assert_str_eq(got.name, order[i]);
		ck_assert_uint_eq(got.name_len, strlen(order[i]));
	}
	ck_assert_int_eq(btcore_dir_entry_at(d, 6, &got), BT_ERANGE);
	ck_assert_ptr_null(got.name);

	ck_assert_int_eq(btcore_dir_get(d, "ab", 2, &got), BT_OK);
	e = mk("ab", BTCORE_DIR_FILE, 3);
	ck_assert_int_eq(got.kind, BTCORE_DIR_FILE);
	ck_assert_mem_eq(got.root.b, e.root.b, 32);
	ck_assert_uint_eq(got.size, 3000);
	ck_assert_uint_eq(got.mode, 0644);
	ck_assert_int_eq(got.mtime, e.mtime);
	ck_assert_int_eq(got.layout, BTCORE_DIR_LAYOUT_RANDOM);
	ck_assert_int_eq(btcore_dir_get(d, "a", 1, &got), BT_OK);
	ck_assert_int_eq(got.kind, BTCORE_DIR_DIR);
	ck_assert_int_eq(btcore_dir_get(d, "abc", 3, &got), BT_ENOTFOUND);
	ck_assert_int_eq(btcore_dir_get(d, "", 0, &got), BT_ENOTFOUND);

	/* replace keeps the count */
	e = mk("ab", BTCORE_DIR_DIR, 9);
	ck_assert_int_eq(btcore_dir_put(d, &e), BT_OK);
	ck_assert_uint_eq(btcore_dir_count(d), 6);
	ck_assert_int_eq(btcore_dir_get(d, "ab", 2, &got), BT_OK);
	ck_assert_int_eq(got.kind, BTCORE_DIR_DIR);
	ck_assert_uint_eq(got.root.b[0], 9);

	ck_assert_int_eq(btcore_dir_remove(d, "a", 1), BT_OK);
	ck_assert_int_eq(btcore_dir_remove(d, "a", 1), BT_ENOTFOUND);
	ck_assert_uint_eq(btcore_dir_count(d), 5);
	ck_assert_int_eq(btcore_dir_entry_at(d, 1, &got), BT_OK);
	ck_assert_str_eq(got.name, "a.b");

	ck_assert_int_eq(btcore_dir_put(NULL, &e), BT_EINVAL);
	ck_assert_int_eq(btcore_dir_put(d, NULL), BT_EINVAL);
	ck_assert_int_eq(btcore_dir_get(NULL, "a", 1, &got), BT_EINVAL);
	ck_assert_int_eq(btcore_dir_new(NULL), BT_EINVAL);
	ck_assert_uint_eq(btcore_dir_count(NULL), 0);
	btcore_dir_free(d);
	btcore_dir_free(NULL);
}
END_TEST

START_TEST(invalid_entries)
{
	static const struct {
		const char *n;
		size_t len;
	} names[] = {
		{ "", 0 }, { ".", 1 }, { "..", 2 }, { "a/b", 3 }, { "/", 1 },
		{ "a\0b", 3 }, { "\0", 1 }, { "\xff", 1 }, { "\xc0\xaf", 2 },
		{ "ab\xe6\x97", 4 }, { "\x80", 1 },
	};
	struct btcore_dir *d = sample();
	struct btcore_dir_entry e;
	char longname[257];
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		e = mk("x", BTCORE_DIR_FILE, 1);
		e.name = names[i].n;
		e.name_len = names[i].len;
		ck_assert_msg(btcore_dir_put(d, &e) == BT_EINVAL, "name %zu", i);
		ck_assert_int_eq(btcore_dir_name_valid(names[i].n,
		    names[i].len), 0);
	}
	memset(longname, 'n', sizeof(longname));
	e.name = longname;
	e.name_len = 256;
	ck_assert_int_eq(btcore_dir_put(d, &e), BT_EINVAL);
	e.name_len = 255;
	ck_assert_int_eq(btcore_dir_put(d, &e), BT_OK);
	ck_assert_int_eq(btcore_dir_name_valid("...", 3), 1);

	e = mk("y", BTCORE_DIR_FILE, 1);
	e.mode = 010000;
	ck_assert_int_eq(btcore_dir_put(d, &e), BT_EINVAL);
	e = mk("y", BTCORE_DIR_FILE, 1);
	e.size = (uint64_t)INT64_MAX + 1;
	ck_assert_int_eq(btcore_dir_put(d, &e), BT_EINVAL);
	e.size = (uint64_t)INT64_MAX;
	ck_assert_int_eq(btcore_dir_put(d, &e), BT_OK);
	e = mk("y", BTCORE_DIR_DIR, 1);
	e.layout = BTCORE_DIR_LAYOUT_RANDOM;
	ck_assert_int_eq(btcore_dir_put(d, &e), BT_EINVAL);
	e = mk("y", BTCORE_DIR_FILE, 1);
	e.layout = (enum btcore_dir_layout)2;
	ck_assert_int_eq(btcore_dir_put(d, &e), BT_EINVAL);
	e = mk("y", BTCORE_DIR_FILE, 1);
	e.kind = (enum btcore_dir_kind)7;
	ck_assert_int_eq(btcore_dir_put(d, &e), BT_EINVAL);
	ck_assert_uint_eq(btcore_dir_count(d), 8);
	btcore_dir_free(d);
}
END_TEST

/* The same directory built with libbson by hand, field by field. */
static void
bson_entry(bson_t *doc, const char *name, int kind, uint8_t seed)
{
	struct btcore_dir_entry e = mk(name, (enum btcore_dir_kind)kind, seed);
	bson_t c;

	bson_append_document_begin(doc, name, -1, &c);
	bson_append_utf8(&c, "kind", -1, kind == BTCORE_DIR_FILE ? "file" :
	    "dir", -1);
	bson_append_binary(&c, "root", -1, BSON_SUBTYPE_BINARY, e.root.b, 32);
	bson_append_int64(&c, "size", -1, (int64_t)e.size);
	bson_append_int32(&c, "mode", -1, (int32_t)e.mode);
	bson_append_int64(&c, "mtime", -1, e.mtime);
	if (kind == BTCORE_DIR_FILE)
		bson_append_int32(&c, "layout", -1, (int32_t)e.layout);
	bson_append_document_end(doc, &c);
}

START_TEST(canonical_encoding)
{
	struct btcore_dir *d = sample(), *d2 = NULL, *back = NULL;
	uint8_t *a, *b;
	size_t alen, blen, i;
	bson_t ref;
	struct btcore_dir_entry x, y;

	encode(d, &a, &alen);
	/* matches the documented layout exactly */
	bson_init(&ref);
	bson_entry(&ref, "B", BTCORE_DIR_FILE, 4);
	bson_entry(&ref, "a", BTCORE_DIR_DIR, 2);
	bson_entry(&ref, "a.b", BTCORE_DIR_DIR, 6);
	bson_entry(&ref, "ab", BTCORE_DIR_FILE, 3);
	bson_entry(&ref, "zeta", BTCORE_DIR_FILE, 1);
	bson_entry(&ref, "\xc3\xa9t\xc3\xa9", BTCORE_DIR_FILE, 5);
	ck_assert_uint_eq(ref.len, alen);
	ck_assert_mem_eq(bson_get_data(&ref), a, alen);
	bson_destroy(&ref);

	/* insertion order does not matter */
	ck_assert_int_eq(btcore_dir_new(&d2), BT_OK);
	put(d2, "a.b", BTCORE_DIR_DIR, 6);
	put(d2, "\xc3\xa9t\xc3\xa9", BTCORE_DIR_FILE, 5);
	put(d2, "B", BTCORE_DIR_FILE, 4);
	put(d2, "zeta", BTCORE_DIR_FILE, 77);
	put(d2, "ab", BTCORE_DIR_FILE, 3);
	put(d2, "a", BTCORE_DIR_DIR, 2);
	put(d2, "zeta", BTCORE_DIR_FILE, 1);
	encode(d2, &b, &blen);
	ck_assert_uint_eq(alen, blen);
	ck_assert_mem_eq(a, b, alen);
	btcore_dir_bytes_free(b);

	/* decode gives the same entries, and encodes to the same bytes */
	ck_assert_int_eq(btcore_dir_decode(&back, a, alen), BT_OK);
	ck_assert_uint_eq(btcore_dir_count(back), btcore_dir_count(d));
	for (i = 0; i < btcore_dir_count(d); i++) {
		ck_assert_int_eq(btcore_dir_entry_at(d, i, &x), BT_OK);
		ck_assert_int_eq(btcore_dir_entry_at(back, i, &y), BT_OK);
		ck_assert_str_eq(x.name, y.name);
		ck_assert_int_eq(x.kind, y.kind);
		ck_assert_mem_eq(x.root.b, y.root.b, 32);
		ck_assert_uint_eq(x.size, y.size);
		ck_assert_uint_eq(x.mode, y.mode);
		ck_assert_int_eq(x.mtime, y.mtime);
		ck_assert_int_eq(x.layout, y.layout);
	}
	encode(back, &b, &blen);
	ck_assert_uint_eq(alen, blen);
	ck_assert_mem_eq(a, b, alen);
	btcore_dir_bytes_free(b);
	btcore_dir_free(back);

	/* the empty directory is the empty document */
	btcore_dir_free(d2);
	ck_assert_int_eq(btcore_dir_new(&d2), BT_OK);
	encode(d2, &b, &blen);
	ck_assert_uint_eq(blen, 5);
	ck_assert_mem_eq(b, "\x05\0\0\0\0", 5);
	ck_assert_int_eq(btcore_dir_decode(&back, b, blen), BT_OK);
	ck_assert_uint_eq(btcore_dir_count(back), 0);
	btcore_dir_free(back);
	btcore_dir_bytes_free(b);
	btcore_dir_free(d2);

	ck_assert_int_eq(btcore_dir_encode(d, NULL, &blen), BT_EINVAL);
	ck_assert_int_eq(btcore_dir_decode(NULL, a, alen), BT_EINVAL);
	ck_assert_int_eq(btcore_dir_decode(&back, NULL, 5), BT_EINVAL);
	btcore_dir_bytes_free(a);
	btcore_dir_bytes_free(NULL);
	btcore_dir_free(d);
}
END_TEST

START_TEST(truncation_and_bit_flips)
{
	struct btcore_dir *d = sample(), *back;
	uint8_t *a, *b, *buf;
	size_t alen, blen, i, bit, accepted = 0;
	int rc;

	encode(d, &a, &alen);
	/* every proper prefix is refused */
	for (i = 0; i < alen; i++) {
		back = (struct btcore_dir *)1;
		rc = btcore_dir_decode(&back, a, i);
		ck_assert_msg(rc == BT_ETRUNC || rc == BT_EFORMAT,
		    "prefix %zu: %d", i, rc);
		ck_assert_ptr_null(back);
	}
	/* every bit flip is refused, or is itself a canonical encoding */
	buf = malloc(alen);
	ck_assert_ptr_nonnull(buf);
	for (bit = 0; bit < alen * 8; bit++) {
		memcpy(buf, a, alen);
		buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		rc = btcore_dir_decode(&back, buf, alen);
		if (rc != BT_OK) {
			ck_assert_msg(rc == BT_EFORMAT || rc == BT_ETRUNC,
			    "bit %zu: %d", bit, rc);
			continue;
		}
		accepted++;
		encode(back, &b, &blen);
		ck_assert_uint_eq(blen, alen);
		ck_assert_mem_eq(b, buf, alen);
		btcore_dir_bytes_free(b);
		btcore_dir_free(back);
	}
	/* flips inside roots, sizes and times give other valid directories */
	ck_assert_uint_gt(accepted, 6 * 32 * 8);
	free(buf);
	btcore_dir_bytes_free(a);
	btcore_dir_free(d);
}
END_TEST

/* Mutations of the second of three entries. */
enum mut {
	M_NONE, M_UNSORTED, M_DUP, M_EXTRA_FIELD, M_NO_MTIME, M_ORDER,
	M_KIND_INT, M_KIND_BAD, M_ROOT_31, M_ROOT_SUB, M_SIZE_NEG,
	M_SIZE_I32, M_MODE_BIG, M_MODE_NEG, M_LAYOUT_2, M_DIR_LAYOUT,
	M_FILE_NO_LAYOUT, M_NAME_DOT, M_NAME_BADUTF8, M_NOT_DOC,
	M_MTIME_DOUBLE, M_NAME_SLASH, M_COUNT
};

static void
hostile(bson_t *doc, enum mut m)
{
	uint8_t root[32];
	bson_t c;
	const char *name = m == M_UNSORTED ? "a" : m == M_DUP ? "b" :
	    m == M_NAME_DOT ? ".." : m == M_NAME_BADUTF8 ? "c\xff" :
	    m == M_NAME_SLASH ? "c/d" : "c";
	int file = m != M_DIR_LAYOUT;

	memset(root, 3, sizeof(root));
	bson_init(doc);
	bson_entry(doc, "b", BTCORE_DIR_FILE, 1);
	if (m == M_NOT_DOC) {
		bson_append_int32(doc, name, -1, 1);
		goto last;
	}
	bson_append_document_begin(doc, name, -1, &c);
	if (m == M_ORDER)
		bson_append_binary(&c, "root", -1, BSON_SUBTYPE_BINARY, root,
		    32);
	if (m == M_KIND_INT)
		bson_append_int32(&c, "kind", -1, 0);
	else
		bson_append_utf8(&c, "kind", -1, m == M_KIND_BAD ? "link" :
		    file ? "file" : "dir", -1);
	if (m != M_ORDER)
		bson_append_binary(&c, "root", -1, m == M_ROOT_SUB ?
		    BSON_SUBTYPE_UUID : BSON_SUBTYPE_BINARY, root,
		    m == M_ROOT_31 ? 31 : 32);
	if (m == M_SIZE_I32)
		bson_append_int32(&c, "size", -1, 1);
	else
		bson_append_int64(&c, "size", -1, m == M_SIZE_NEG ? -1 : 7);
	bson_append_int32(&c, "mode", -1, m == M_MODE_BIG ? 010000 :
	    m == M_MODE_NEG ? -1 : 0600);
	if (m == M_MTIME_DOUBLE)
		bson_append_double(&c, "mtime", -1, 1.0);
	else if (m != M_NO_MTIME)
		bson_append_int64(&c, "mtime", -1, -5);
	if ((file && m != M_FILE_NO_LAYOUT) || m == M_DIR_LAYOUT)
		bson_append_int32(&c, "layout", -1, m == M_LAYOUT_2 ? 2 : 1);
	if (m == M_EXTRA_FIELD)
		bson_append_int32(&c, "link", -1, 0);
	bson_append_document_end(doc, &c);
last:
	bson_entry(doc, "d", BTCORE_DIR_DIR, 4);
}

START_TEST(hostile_documents)
{
	struct btcore_dir *d;
	bson_t doc;
	uint8_t *big;
	int m, rc;

	for (m = 0; m < M_COUNT; m++) {
		hostile(&doc, (enum mut)m);
		d = NULL;
		rc = btcore_dir_decode(&d, bson_get_data(&doc), doc.len);
		if (m == M_NONE) {
			ck_assert_int_eq(rc, BT_OK);
			ck_assert_uint_eq(btcore_dir_count(d), 3);
			btcore_dir_free(d);
		} else {
			ck_assert_msg(rc == BT_EFORMAT, "mutation %d: %d", m,
			    rc);
			ck_assert_ptr_null(d);
		}
		bson_destroy(&doc);
	}

	/* trailing bytes after the document */
	hostile(&doc, M_NONE);
	big = malloc(doc.len + 1);
	ck_assert_ptr_nonnull(big);
	memcpy(big, bson_get_data(&doc), doc.len);
	big[doc.len] = 0;
	ck_assert_int_eq(btcore_dir_decode(&d, big, doc.len + 1), BT_EFORMAT);
	free(big);
	bson_destroy(&doc);

	/* more than 16 MiB is refused before it is looked at */
	big = calloc(1, (size_t)BTCORE_DIR_MAX_BYTES + 1);
	ck_assert_ptr_nonnull(big);
	ck_assert_int_eq(btcore_dir_decode(&d, big,
	    (size_t)BTCORE_DIR_MAX_BYTES + 1), BT_ETOOBIG);
	free(big);
}
END_TEST

START_TEST(size_limits)
{
	struct btcore_dir *d = NULL, *back = NULL;
	struct btcore_dir_entry e;
	char name[256];
	uint8_t *buf;
	size_t i, len;
	int rc;

	/* the entry count */
	ck_assert_int_eq(btcore_dir_new(&d), BT_OK);
	for (i = 0; i < BTCORE_DIR_MAX_ENTRIES; i++) {
		snprintf(name, sizeof(name), "%08zx", i);
		e = mk(name, BTCORE_DIR_DIR, 1);
		ck_assert_int_eq(btcore_dir_put(d, &e), BT_OK);
	}
	e = mk("extra", BTCORE_DIR_DIR, 1);
	ck_assert_int_eq(btcore_dir_put(d, &e), BT_ETOOBIG);
	e = mk("00000000", BTCORE_DIR_FILE, 2);
	ck_assert_int_eq(btcore_dir_put(d, &e), BT_OK);	/* replacing */
	encode(d, &buf, &len);
	ck_assert_int_eq(btcore_dir_decode(&back, buf, len), BT_OK);
	ck_assert_uint_eq(btcore_dir_count(back), BTCORE_DIR_MAX_ENTRIES);
	btcore_dir_free(back);
	btcore_dir_bytes_free(buf);
	btcore_dir_free(d);

	/* the encoded size: long names reach 16 MiB first */
	ck_assert_int_eq(btcore_dir_new(&d), BT_OK);
	memset(name, 'L', 255);
	name[255] = '\0';
	for (i = 0;; i++) {
		snprintf(name, sizeof(name), "%08zx", i);
		name[8] = 'L';
		e = mk(name, BTCORE_DIR_FILE, 1);
		if ((rc = btcore_dir_put(d, &e)) != BT_OK)
			break;
	}
	ck_assert_int_eq(rc, BT_ETOOBIG);
	encode(d, &buf, &len);
	ck_assert_uint_le(len, BTCORE_DIR_MAX_BYTES);
	ck_assert_uint_gt(len + 380, BTCORE_DIR_MAX_BYTES);
	ck_assert_int_eq(btcore_dir_decode(&back, buf, len), BT_OK);
	ck_assert_uint_eq(btcore_dir_count(back), i);
	btcore_dir_free(back);
	btcore_dir_bytes_free(buf);
	btcore_dir_free(d);
}
END_TEST

Suite *suite_dir(void);

Suite *
suite_dir(void)
{
	Suite *s = suite_create("dir");
	TCase *tc = tcase_create("dir");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, entries);
	tcase_add_test(tc, invalid_entries);
	tcase_add_test(tc, canonical_encoding);
	tcase_add_test(tc, truncation_and_bit_flips);
	tcase_add_test(tc, hostile_documents);
	tcase_add_test(tc, size_limits);
	suite_add_tcase(s, tc);
	return s;
}
