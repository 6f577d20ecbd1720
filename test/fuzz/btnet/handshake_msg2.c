/* Fuzz target: an initiator reading BlockTree handshake message 2. */
#include <stdint.h>
#include <stdlib.h>

#include "fuzz_btnet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct btnet_handshake *i = fuzz_handshake(1);
	struct btnet_cipher *s = NULL, *r = NULL;
	uint8_t out[BTNET_HANDSHAKE_MSG_MAX];
	struct bt_id peer;
	size_t len;

	if (btnet_handshake_write(i, out, sizeof(out), &len) != BT_OK)
		abort();
	if (btnet_handshake_read(i, data, size) == BT_OK) {
		/* accepted: it must authenticate a node and let us go on */
		if (btnet_handshake_write(i, out, sizeof(out), &len) != BT_OK ||
		    btnet_handshake_finish(i, &s, &r, &peer, NULL) != BT_OK)
			abort();
		btnet_cipher_free(s);
		btnet_cipher_free(r);
	} else if (btnet_handshake_action(i) != BTNET_NOISE_FAILED) {
		abort();
	}
	btnet_handshake_free(i);
	return 0;
}
