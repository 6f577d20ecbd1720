/*
 * Fuzz target: btcore_key_from_pem and btcore_pubkey_from_pem over
 * arbitrary bytes.  Whatever either accepts must encode and decode back to
 * the same key.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <bt/hash.h>
#include <bt/key.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_private(const char *pem, size_t len)
{
	uint8_t s1[BTCORE_ED25519_SEED_LEN], s2[BTCORE_ED25519_SEED_LEN];
	struct btcore_key *key, *again;
	struct bt_pubkey p1, p2;
	char *out;
	size_t out_len;

	if (btcore_key_from_pem(&key, pem, len) != BT_OK)
		return;
	if (btcore_key_to_pem(key, &out, &out_len) != BT_OK)
		abort();
	if (btcore_key_from_pem(&again, out, out_len) != BT_OK)
		abort();
	btcore_key_seed(key, s1);
	btcore_key_seed(again, s2);
	btcore_key_public(key, &p1);
	btcore_key_public(again, &p2);
	if (memcmp(s1, s2, sizeof(s1)) != 0 ||
	    memcmp(p1.b, p2.b, sizeof(p1.b)) != 0)
		abort();
	btcore_wipe(s1, sizeof(s1));
	btcore_wipe(s2, sizeof(s2));
	btcore_pem_free(out);
	btcore_key_free(again);
	btcore_key_free(key);
}

static void
check_public(const char *pem, size_t len)
{
	struct bt_pubkey p1, p2;
	char *out;
	size_t out_len;

	if (btcore_pubkey_from_pem(&p1, pem, len) != BT_OK)
		return;
	if (btcore_pubkey_to_pem(&p1, &out, &out_len) != BT_OK)
		abort();
	if (btcore_pubkey_from_pem(&p2, out, out_len) != BT_OK ||
	    memcmp(p1.b, p2.b, sizeof(p1.b)) != 0)
		abort();
	btcore_pem_free(out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_private((const char *)data, size);
	check_public((const char *)data, size);
	return 0;
}
