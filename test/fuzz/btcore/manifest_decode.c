/*
 * Fuzz target: btcore_manifest_decode over arbitrary bytes.  Whatever is
 * accepted must be consistent: its own scopes, routes and grants must pass
 * its own policy checks, and decoding is deterministic.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <bt/manifest.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct btcore_manifest *m = NULL, *again = NULL;
	const char *s, *h, *p;
	size_t i;
	int access;

	if (btcore_manifest_decode(&m, data, size) != BT_OK) {
		if (m != NULL)
			abort();
		return 0;
	}
	if (size > BTCORE_MANIFEST_MAX || btcore_manifest_name(m) == NULL ||
	    btcore_manifest_version(m) == NULL ||
	    btcore_manifest_owner(m) == NULL ||
	    btcore_manifest_scope_count(m) > BTCORE_MANIFEST_SCOPES_MAX ||
	    btcore_manifest_route_count(m) > BTCORE_MANIFEST_ROUTES_MAX ||
	    btcore_manifest_grant_count(m) > BTCORE_MANIFEST_GRANTS_MAX)
		abort();
	for (i = 0; i < btcore_manifest_scope_count(m); i++) {
		s = btcore_manifest_scope(m, i);
		if (s == NULL || !btcore_manifest_allows_scope(m, s))
			abort();
	}
	for (i = 0; i < btcore_manifest_route_count(m); i++) {
		if (btcore_manifest_route(m, i, &h, &p) != BT_OK ||
		    !btcore_manifest_allows_route(m, h, p))
			abort();
	}
	for (i = 0; i < btcore_manifest_grant_count(m); i++) {
		if (btcore_manifest_grant(m, i, &p, &access) != BT_OK ||
		    !btcore_manifest_allows_path(m, p, 0) ||
		    (access == BTCORE_MANIFEST_READ_WRITE &&
		    !btcore_manifest_allows_path(m, p, 1)))
			abort();
	}
	if (btcore_manifest_decode(&again, data, size) != BT_OK ||
	    strcmp(btcore_manifest_name(again), btcore_manifest_name(m)) != 0 ||
	    memcmp(btcore_manifest_owner(again), btcore_manifest_owner(m),
	    sizeof(struct bt_pubkey)) != 0)
		abort();
	btcore_manifest_free(again);
	btcore_manifest_free(m);
	return 0;
}
