/*
 * test_embed.c - runs the logic of examples/embed-store.c (built into
 * this test with its main() left out) against a fresh store, twice: the
 * second run reopens the store the first one left.
 */
#include <check.h>
#include <stdio.h>
#include <unistd.h>

#define EMBED_STORE_NO_MAIN
#include "../../examples/embed-store.c"

Suite *suite_embed(void);

START_TEST(example_runs)
{
	char dir[] = "/tmp/btstore-embed-XXXXXX", p[64];
	FILE *out;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	out = fopen("/dev/null", "w");
	ck_assert_ptr_nonnull(out);
	ck_assert_int_eq(embed_store_run(dir, out), 0);
	/* a second run on the same store: blocks already there are not
	 * announced again, so the example reports a mismatch */
	ck_assert_int_eq(embed_store_run(dir, out), -1);
	ck_assert_int_eq(embed_store_run("/nonexistent/dir", out), -1);
	fclose(out);
	snprintf(p, sizeof(p), "%s/data.mdb", dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/lock.mdb", dir);
	unlink(p);
	rmdir(dir);
}
END_TEST

Suite *
suite_embed(void)
{
	Suite *s = suite_create("embed");
	TCase *tc = tcase_create("embed");

	tcase_add_test(tc, example_runs);
	suite_add_tcase(s, tc);
	return s;
}
