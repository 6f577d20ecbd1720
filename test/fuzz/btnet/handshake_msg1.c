/* Fuzz target: a responder reading BlockTree handshake message 1. */
#include <stdint.h>
#include <stdlib.h>

#include "fuzz_btnet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct btnet_handshake *r = fuzz_handshake(0);
	uint8_t out[BTNET_HANDSHAKE_MSG_MAX];
	size_t len;
	int rc;

	rc = btnet_handshake_read(r, data, size);
	if (rc == BT_OK) {
		/* message 1 is exactly an ephemeral key with no payload */
		if (size != 32 || btnet_handshake_action(r) != BTNET_NOISE_WRITE)
			abort();
		/* a low-order key is refused here; anything else answers */
		rc = btnet_handshake_write(r, out, sizeof(out), &len);
		if (rc != BT_OK && rc != BT_EVERIFY)
			abort();
		if (rc == BT_OK && len != 32 + 48 + BTNET_IDENTITY_PAYLOAD_LEN + 16)
			abort();
	} else if (btnet_handshake_action(r) != BTNET_NOISE_FAILED) {
		abort();
	}
	btnet_handshake_free(r);
	return 0;
}
