/*
 * Fuzz target: registration records and the registry that takes them.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <bt/tpm.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bttpm_registry *reg;
	struct bt_id ek;
	struct bt_pubkey pub, got;
	uint64_t when, got_when;
	int rc;

	rc = bttpm_registration_verify(data, size, &ek, &pub, &when);
	if (rc == BT_OK && size != BTTPM_REGISTRATION_LEN)
		abort();
	if (bttpm_registry_new(&reg) != BT_OK)
		abort();
	if (bttpm_registry_claim(reg, data, size) != rc)
		abort();
	if (rc == BT_OK) {
		/* a verified record is found again, and claims idempotently */
		if (bttpm_registry_lookup(reg, &ek, &got, &got_when) != BT_OK ||
		    memcmp(got.b, pub.b, 32) != 0 || got_when != when ||
		    bttpm_registry_claim(reg, data, size) != BT_OK)
			abort();
	}
	bttpm_registry_free(reg);
	return 0;
}
