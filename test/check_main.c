/*
 * check_main.c - the Check runner shared by every library's unit tests.
 * The build generates suites.h from the test_*.c files present, one
 * BT_SUITE(name) line each; test_name.c defines Suite *suite_name(void).
 */
#include <check.h>
#include <stdlib.h>

#define BT_SUITE(name) Suite *suite_##name(void);
#include "suites.h"
#undef BT_SUITE

int
main(void)
{
	SRunner *sr;
	int failed;

	sr = srunner_create(NULL);
#define BT_SUITE(name) srunner_add_suite(sr, suite_##name());
#include "suites.h"
#undef BT_SUITE
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
