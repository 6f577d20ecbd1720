/*
 * test_scope.c - the scope name rule.
 */
#include <check.h>
#include <string.h>

#include <bt/manifest.h>
#include <bt/scope.h>

START_TEST(scope_rule)
{
	static const struct {
		const char *s;
		int ok;
	} cases[] = {
		{ "chat", 1 }, { "Chat.Msg_v2:send/x-y", 1 }, { "node", 1 },
		{ "a", 1 }, { "0", 1 }, { "app/sub:v1", 1 },
		{ "", 0 }, { "a b", 0 }, { "a*", 0 }, { "a\x7f", 0 },
		{ "caf\xc3\xa9", 0 }, { "a\tb", 0 }, { "a\\b", 0 },
		{ "a\"b", 0 }, { "a@b", 0 },
	};
	char buf[BTCORE_SCOPE_MAX + 2];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ck_assert_msg(btcore_scope_valid(cases[i].s,
		    strlen(cases[i].s)) == cases[i].ok, "%s", cases[i].s);
	/* the length is what counts, not a NUL */
	ck_assert_int_eq(btcore_scope_valid("ab\0c", 4), 0);
	ck_assert_int_eq(btcore_scope_valid("abc", 2), 1);
	ck_assert_int_eq(btcore_scope_valid(NULL, 3), 0);
	memset(buf, 'x', sizeof(buf));
	ck_assert_int_eq(btcore_scope_valid(buf, BTCORE_SCOPE_MAX), 1);
	ck_assert_int_eq(btcore_scope_valid(buf, BTCORE_SCOPE_MAX + 1), 0);
}
END_TEST

/* A manifest grants exactly the scopes the network can carry. */
START_TEST(manifest_follows_rule)
{
	struct btcore_manifest *m;
	char buf[BTCORE_SCOPE_MAX + 2];

	ck_assert_int_eq(btcore_manifest_new(&m), BT_OK);
	memset(buf, 's', sizeof(buf));
	buf[BTCORE_SCOPE_MAX] = '\0';
	ck_assert_int_eq(btcore_manifest_add_scope(m, buf), BT_OK);
	buf[BTCORE_SCOPE_MAX - 1] = 't';
	buf[BTCORE_SCOPE_MAX] = 'u';
	buf[BTCORE_SCOPE_MAX + 1] = '\0';
	ck_assert_int_ne(btcore_manifest_add_scope(m, buf), BT_OK);
	ck_assert_int_ne(btcore_manifest_add_scope(m, "a b"), BT_OK);
	btcore_manifest_free(m);
}
END_TEST

Suite *suite_scope(void);

Suite *
suite_scope(void)
{
	Suite *s = suite_create("scope");
	TCase *tc = tcase_create("scope");

	tcase_add_test(tc, scope_rule);
	tcase_add_test(tc, manifest_follows_rule);
	suite_add_tcase(s, tc);
	return s;
}
