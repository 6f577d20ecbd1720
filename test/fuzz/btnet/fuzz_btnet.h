/*
 * fuzz_btnet.h - fixed identities and keys shared by libbtnet's fuzz
 * targets, so that the committed seed corpora (real handshakes and
 * frames made with the same keys) reach deep into the code.
 */
#ifndef FUZZ_BTNET_H
#define FUZZ_BTNET_H

#include <stdlib.h>
#include <string.h>

#include <bt/crypto.h>
#include <bt/key.h>
#include <bt/noise.h>

#include "btnet-internal.h"

/* Frame corpora are encrypted under this key from nonce 0. */
static const uint8_t fuzz_frame_key[32] = { 0x42, 1, 2, 3 };

/* Party 0 is the initiator, party 1 the responder. */
struct fuzz_party {
	struct btcore_key *key;
	struct btnet_identity *id;
	struct bt_id node_id;
	uint8_t static_pub[32];
};

static const uint8_t fuzz_eph[2][32] = { { 1, 2, 3, 4, 5 },
	{ 9, 8, 7, 6, 5 } };

static inline struct fuzz_party *
fuzz_parties(void)
{
	static struct fuzz_party p[2];
	static int ready;
	struct btcore_signer signer;
	uint8_t seed[32], spriv[32];
	int i;

	if (ready)
		return p;
	for (i = 0; i < 2; i++) {
		memset(seed, 0x30 + i, sizeof(seed));
		memset(spriv, 0x60 + i, sizeof(spriv));
		if (btcore_key_from_seed(&p[i].key, seed) != BT_OK)
			abort();
		btcore_key_signer(p[i].key, &signer);
		if (btnet_identity_new(&p[i].id, &signer, spriv) != BT_OK)
			abort();
		btnet_identity_node_id(p[i].id, &p[i].node_id);
		if (btcore_x25519_public(p[i].static_pub, spriv) != BT_OK)
			abort();
	}
	ready = 1;
	return p;
}

static inline struct btnet_handshake *
fuzz_handshake(int initiator)
{
	struct fuzz_party *p = fuzz_parties();
	struct btnet_handshake *hs;

	if (btnet_handshake_new_(&hs, p[initiator ? 0 : 1].id, initiator,
	    NULL, BTNET_NOISE_PROLOGUE, strlen(BTNET_NOISE_PROLOGUE),
	    fuzz_eph[initiator ? 0 : 1]) != BT_OK)
		abort();
	return hs;
}

#endif /* FUZZ_BTNET_H */
