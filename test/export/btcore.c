/*
 * Links libbtcore.so through its public headers only: proves the
 * exported names are reachable and the library works as installed.
 */
#include <stdio.h>
#include <string.h>

#include <bt/error.h>
#include <bt/hash.h>
#include <bt/id.h>

int
main(void)
{
	struct bt_id a, b;

	if (btcore_id_hash(&a, "abc", 3) != BT_OK ||
	    btcore_id_from_hex(&b,
	    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
	    != BT_OK || btcore_id_cmp(&a, &b) != 0) {
		fprintf(stderr, "export test: sha256 mismatch\n");
		return 1;
	}
	if (strcmp(btcore_strerror(BT_EINVAL), "invalid argument") != 0)
		return 1;
	printf("libbtcore.so %s: public API reachable\n", btcore_version());
	return 0;
}
