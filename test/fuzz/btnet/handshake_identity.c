/*
 * Fuzz target: the identity payload decoder.  The first byte chooses
 * whether the signature is checked against the fixed responder's static
 * key; the rest is the payload.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_btnet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_party *p = fuzz_parties();
	uint8_t again[BTNET_IDENTITY_PAYLOAD_LEN];
	struct bt_pubkey key;
	struct bt_sig sig;
	struct bt_id id, id2;
	int check;

	if (size == 0)
		return 0;
	check = data[0] & 1;
	data++;
	size--;
	if (btnet_identity_payload_decode(data, size,
	    check ? p[1].static_pub : NULL, &key, &sig, &id) != BT_OK)
		return 0;
	/* accepted: it re-encodes to the same bytes and the id is its hash */
	btnet_identity_payload_encode(&key, &sig, again);
	if (size != sizeof(again) || memcmp(again, data, size) != 0)
		abort();
	if (btcore_pubkey_id(&key, &id2) != BT_OK ||
	    memcmp(id.b, id2.b, sizeof(id.b)) != 0)
		abort();
	return 0;
}
