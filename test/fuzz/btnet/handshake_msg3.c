/* Fuzz target: a responder reading BlockTree handshake message 3. */
#include <stdint.h>
#include <stdlib.h>

#include "fuzz_btnet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct btnet_handshake *i = fuzz_handshake(1);
	struct btnet_handshake *r = fuzz_handshake(0);
	struct btnet_cipher *s = NULL, *c = NULL;
	uint8_t m[BTNET_HANDSHAKE_MSG_MAX];
	struct bt_id peer;
	size_t len;

	/* the genuine first two messages, then the input as message 3 */
	if (btnet_handshake_write(i, m, sizeof(m), &len) != BT_OK ||
	    btnet_handshake_read(r, m, len) != BT_OK ||
	    btnet_handshake_write(r, m, sizeof(m), &len) != BT_OK)
		abort();
	if (btnet_handshake_read(r, data, size) == BT_OK) {
		if (btnet_handshake_finish(r, &s, &c, &peer, NULL) != BT_OK)
			abort();
		btnet_cipher_free(s);
		btnet_cipher_free(c);
	} else if (btnet_handshake_action(r) != BTNET_NOISE_FAILED) {
		abort();
	}
	btnet_handshake_free(i);
	btnet_handshake_free(r);
	return 0;
}
