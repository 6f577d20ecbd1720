/*
 * test_path.c - parsing and normalising /<namespace>/a/b/c paths.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <bt/path.h>

#define NS_L	"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define NS_U	"0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF"
#define NS_M	"0123456789AbCdEf0123456789abcdef0123456789ABCDEF0123456789abcdef"

struct pcase {
	const char *in;
	size_t len;		/* 0: strlen(in) */
	int rc;
	const char *out;	/* expected format when rc == BT_OK */
};

#define OK(in, out)		{ in, 0, BT_OK, out }
#define BAD(in, rc)		{ in, 0, rc, NULL }
#define BADN(in, n, rc)		{ in, n, rc, NULL }

static const struct pcase cases[] = {
	OK("/" NS_L, "/" NS_L),
	OK("/" NS_L "/", "/" NS_L),
	OK("/" NS_L "//", "/" NS_L),
	OK("/" NS_L "/a", "/" NS_L "/a"),
	OK("//" NS_L "//a///b/", "/" NS_L "/a/b"),
	OK("/" NS_L "/./a/.", "/" NS_L "/a"),
	OK("/" NS_L "/.", "/" NS_L),
	OK("/" NS_L "/a/..", "/" NS_L),
	OK("/" NS_L "/a/../b", "/" NS_L "/b"),
	OK("/" NS_L "/a/./b/../c//", "/" NS_L "/a/c"),
	OK("/" NS_L "/a/b/c/../../d", "/" NS_L "/a/d"),
	OK("/" NS_U "/a", "/" NS_L "/a"),
	OK("/" NS_M "/A/B", "/" NS_L "/A/B"),
	OK("/" NS_L "/...", "/" NS_L "/..."),
	OK("/" NS_L "/.a/..b/a.", "/" NS_L "/.a/..b/a."),
	OK("/" NS_L "/h\xc3\xa9llo/\xe6\x97\xa5", "/" NS_L "/h\xc3\xa9llo/\xe6\x97\xa5"),
	OK("/" NS_L "/a b/ c", "/" NS_L "/a b/ c"),
	/* '..' may never leave the namespace */
	BAD("/" NS_L "/..", BT_EPERM),
	BAD("/" NS_L "/../..", BT_EPERM),
	BAD("/" NS_L "/../a", BT_EPERM),
	BAD("/" NS_L "/a/../../b", BT_EPERM),
	BAD("/" NS_L "/a/b/../../..", BT_EPERM),
	BAD("/" NS_L "/./..", BT_EPERM),
	BAD("//" NS_L "//..//", BT_EPERM),
	/* no namespace, relative, empty */
	BAD("", BT_EFORMAT),
	BAD("/", BT_EFORMAT),
	BAD("//", BT_EFORMAT),
	BAD("a/b", BT_EFORMAT),
	BAD(NS_L "/a", BT_EFORMAT),
	BAD("./" NS_L, BT_EFORMAT),
	BAD("/../" NS_L, BT_EFORMAT),
	BAD("/./" NS_L, BT_EFORMAT),
	BAD("/a/b", BT_EFORMAT),
	/* bad namespaces */
	BAD("/0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde",
	    BT_EFORMAT),
	BAD("/0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0",
	    BT_EFORMAT),
	BAD("/0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdeg/a",
	    BT_EFORMAT),
	BAD("/ 123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
	    BT_EFORMAT),
	BAD("/0x23456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
	    BT_EFORMAT),
	/* embedded NUL (length-given) */
	BADN("/" NS_L "/a\0b", 65 + 4, BT_EFORMAT),
	BADN("/" NS_L "/\0", 65 + 2, BT_EFORMAT),
	BADN("/" NS_L "\0/a", 65 + 3, BT_EFORMAT),
	BADN("/\0" NS_L, 66, BT_EFORMAT),
	/* not UTF-8 */
	BAD("/" NS_L "/\xff", BT_EFORMAT),
	BAD("/" NS_L "/a\x80", BT_EFORMAT),
	BAD("/" NS_L "/\xc3", BT_EFORMAT),
	BAD("/" NS_L "/\xc0\xaf", BT_EFORMAT),	/* overlong '/' */
	BAD("/" NS_L "/ok/\xe6\x97", BT_EFORMAT),
	BAD("/" NS_L "/\xf8\x88\x80\x80\x80", BT_EFORMAT),
};

static struct btcore_path *
parse_ok(const char *s)
{
	struct btcore_path *p = NULL;

	ck_assert_int_eq(btcore_path_parse(&p, s, strlen(s)), BT_OK);
	ck_assert_ptr_nonnull(p);
	return p;
}

START_TEST(normalisation_table)
{
	const struct pcase *c;
	struct btcore_path *p, *q;
	const char *f;
	size_t i, len, flen;
	int rc;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		c = &cases[i];
		len = c->len ? c->len : strlen(c->in);
		p = (struct btcore_path *)1;
		rc = btcore_path_parse(&p, c->in, len);
		ck_assert_msg(rc == c->rc, "case %zu \"%s\": rc %d, want %d",
		    i, c->in, rc, c->rc);
		if (rc != BT_OK) {
			ck_assert_ptr_null(p);
			continue;
		}
		f = btcore_path_format(p, &flen);
		ck_assert_msg(strcmp(f, c->out) == 0, "case %zu: got %s", i, f);
		ck_assert_uint_eq(flen, strlen(c->out));
		/* normal form is a fixed point */
		q = parse_ok(f);
		ck_assert_str_eq(btcore_path_format(q, NULL), f);
		ck_assert_int_eq(btcore_path_cmp(p, q), 0);
		btcore_path_free(q);
		btcore_path_free(p);
	}
}
END_TEST

START_TEST(limits)
{
	struct btcore_path *p = NULL;
	char *buf;
	size_t i, n;

	buf = malloc(BTCORE_PATH_MAX * 2);
	ck_assert_ptr_nonnull(buf);

	/* total length: exactly 4096 accepted, 4097 refused */
	memcpy(buf, "/" NS_L "/a", 67);
	memset(buf + 67, '/', BTCORE_PATH_MAX - 67 + 1);
	ck_assert_int_eq(btcore_path_parse(&p, buf, BTCORE_PATH_MAX), BT_OK);
	ck_assert_str_eq(btcore_path_format(p, NULL), "/" NS_L "/a");
	btcore_path_free(p);
	ck_assert_int_eq(btcore_path_parse(&p, buf, BTCORE_PATH_MAX + 1),
	    BT_ERANGE);
	ck_assert_ptr_null(p);

	/* component of 255 bytes accepted, 256 refused */
	memcpy(buf, "/" NS_L "/", 66);
	memset(buf + 66, 'x', 256);
	ck_assert_int_eq(btcore_path_parse(&p, buf, 66 + 255), BT_OK);
	ck_assert_uint_eq(btcore_path_depth(p), 1);
	btcore_path_free(p);
	ck_assert_int_eq(btcore_path_parse(&p, buf, 66 + 256), BT_ERANGE);
	/* an overlong component that would be removed by '..' too */
	memcpy(buf + 66 + 256, "/..", 3);
	ck_assert_int_eq(btcore_path_parse(&p, buf, 66 + 259), BT_ERANGE);

	/* depth 64 accepted, 65 refused, also transiently */
	memcpy(buf, "/" NS_L, 65);
	n = 65;
	for (i = 0; i < 64; i++) {
		memcpy(buf + n, "/d", 2);
		n += 2;
	}
	ck_assert_int_eq(btcore_path_parse(&p, buf, n), BT_OK);
	ck_assert_uint_eq(btcore_path_depth(p), 64);
	btcore_path_free(p);
	memcpy(buf + n, "/e/..", 5);
	ck_assert_int_eq(btcore_path_parse(&p, buf, n + 2), BT_ERANGE);
	ck_assert_int_eq(btcore_path_parse(&p, buf, n + 5), BT_ERANGE);
	memcpy(buf + n, "/../e", 5);
	ck_assert_int_eq(btcore_path_parse(&p, buf, n + 5), BT_OK);
	ck_assert_uint_eq(btcore_path_depth(p), 64);
	btcore_path_free(p);

	ck_assert_int_eq(btcore_path_parse(NULL, "/", 1), BT_EINVAL);
	ck_assert_int_eq(btcore_path_parse(&p, NULL, 1), BT_EINVAL);
	ck_assert_int_eq(btcore_path_parse(&p, NULL, 0), BT_EFORMAT);
	free(buf);
}
END_TEST

START_TEST(accessors)
{
	struct btcore_path *p, *root = NULL, *par = NULL, *j = NULL;
	const struct bt_pubkey *ns;
	const char *c;
	size_t len, i;

	p = parse_ok("/" NS_U "/alpha//beta/./gamma/");
	ns = btcore_path_namespace(p);
	ck_assert_uint_eq(ns->b[0], 0x01);
	ck_assert_uint_eq(ns->b[7], 0xef);
	ck_assert_uint_eq(ns->b[31], 0xef);
	ck_assert_uint_eq(btcore_path_depth(p), 3);
	c = btcore_path_component(p, 0, &len);
	ck_assert_str_eq(c, "alpha");
	ck_assert_uint_eq(len, 5);
	ck_assert_str_eq(btcore_path_component(p, 1, NULL), "beta");
	ck_assert_str_eq(btcore_path_component(p, 2, &len), "gamma");
	ck_assert_uint_eq(len, 5);
	ck_assert_ptr_null(btcore_path_component(p, 3, &len));
	ck_assert_uint_eq(len, 0);

	ck_assert_int_eq(btcore_path_root(&root, ns), BT_OK);
	ck_assert_str_eq(btcore_path_format(root, &len), "/" NS_L);
	ck_assert_uint_eq(len, 65);
	ck_assert_uint_eq(btcore_path_depth(root), 0);
	ck_assert_int_eq(btcore_path_parent(&par, root), BT_EPERM);
	ck_assert_ptr_null(par);

	ck_assert_int_eq(btcore_path_parent(&par, p), BT_OK);
	ck_assert_str_eq(btcore_path_format(par, NULL), "/" NS_L "/alpha/beta");
	ck_assert(btcore_path_is_ancestor(par, p));
	ck_assert(btcore_path_is_ancestor(root, p));
	ck_assert(!btcore_path_is_ancestor(p, par));
	ck_assert(!btcore_path_is_ancestor(p, p));
	ck_assert_int_lt(btcore_path_cmp(par, p), 0);
	ck_assert_int_gt(btcore_path_cmp(p, par), 0);
	ck_assert_int_lt(btcore_path_cmp(root, par), 0);

	/* joins */
	ck_assert_int_eq(btcore_path_join(&j, par, "x/../y/./z/", 11), BT_OK);
	ck_assert_str_eq(btcore_path_format(j, NULL),
	    "/" NS_L "/alpha/beta/y/z");
	btcore_path_free(j);
	ck_assert_int_eq(btcore_path_join(&j, par, "../..", 5), BT_OK);
	ck_assert_int_eq(btcore_path_cmp(j, root), 0);
	btcore_path_free(j);
	ck_assert_int_eq(btcore_path_join(&j, par, "", 0), BT_OK);
	ck_assert_int_eq(btcore_path_cmp(j, par), 0);
	btcore_path_free(j);
	ck_assert_int_eq(btcore_path_join(&j, par, "../../..", 8), BT_EPERM);
	ck_assert_ptr_null(j);
	ck_assert_int_eq(btcore_path_join(&j, root, "..", 2), BT_EPERM);
	ck_assert_int_eq(btcore_path_join(&j, par, "/abs", 4), BT_EFORMAT);
	ck_assert_int_eq(btcore_path_join(&j, par, "a\0b", 3), BT_EFORMAT);
	ck_assert_int_eq(btcore_path_join(&j, par, "\xfe", 1), BT_EFORMAT);
	ck_assert_int_eq(btcore_path_join(&j, NULL, "a", 1), BT_EINVAL);

	/* a join may not grow past the length or depth limits */
	{
		char comp[256 * 17];
		size_t n = 0;

		for (i = 0; i < 16; i++) {
			memset(comp + n, 'q', 255);
			comp[n + 255] = '/';
			n += 256;
		}
		ck_assert_int_eq(btcore_path_join(&j, par, comp, n),
		    BT_ERANGE);
		ck_assert_ptr_null(j);
	}

	/* different namespaces are never ancestors */
	{
		struct btcore_path *o = parse_ok("/" "f123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef/alpha/beta/gamma");

		ck_assert(!btcore_path_is_ancestor(root, o));
		ck_assert(!btcore_path_is_ancestor(par, o));
		ck_assert_int_ne(btcore_path_cmp(o, p), 0);
		btcore_path_free(o);
	}
	/* component-wise, not textual, prefixes */
	{
		struct btcore_path *a = parse_ok("/" NS_L "/alp");

		ck_assert(!btcore_path_is_ancestor(a, p));
		ck_assert_int_lt(btcore_path_cmp(a, p), 0);
		btcore_path_free(a);
	}

	btcore_path_free(root);
	btcore_path_free(par);
	btcore_path_free(p);
	btcore_path_free(NULL);
}
END_TEST

Suite *suite_path(void);

Suite *
suite_path(void)
{
	Suite *s = suite_create("path");
	TCase *tc = tcase_create("path");

	tcase_add_test(tc, normalisation_table);
	tcase_add_test(tc, limits);
	tcase_add_test(tc, accessors);
	suite_add_tcase(s, tc);
	return s;
}
