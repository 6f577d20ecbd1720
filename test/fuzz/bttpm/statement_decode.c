/*
 * Fuzz target: the attestation statement decoder and verifier.  Anything
 * decoded must re-encode to the same bytes and decode again the same.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <bt/tpm.h>

#include "bttpm-internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct bttpm_verifier *v;
	struct bttpm_stmt_ st, again;
	struct bt_id ek;
	uint8_t *enc = NULL;
	size_t len;
	int rc;

	if (v == NULL && bttpm_verifier_new(&v) != BT_OK)
		abort();
	if (bttpm_stmt_decode_(data, size, &st) == BT_OK) {
		if (bttpm_stmt_encode_(&st, &enc, &len) != BT_OK ||
		    len != size || memcmp(enc, data, size) != 0 ||
		    bttpm_stmt_decode_(enc, len, &again) != BT_OK ||
		    again.kind != st.kind || again.when != st.when ||
		    again.ekcert_len != st.ekcert_len)
			abort();
		free(enc);
	}
	/* with no trusted CA nothing may verify as attested */
	rc = bttpm_statement_verify(v, data, size, &ek, NULL, NULL);
	if (rc == BT_OK)
		abort();
	if (rc != BT_OK && !btcore_id_is_zero(&ek))
		abort();
	return 0;
}
