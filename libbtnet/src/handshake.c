/*
 * handshake.c - BlockTree's authenticated Noise_XX handshake: identity
 * payloads binding an Ed25519 identity to the Noise static key.
 */
#include <bt/crypto.h>
#include <bt/hash.h>
#include <bt/key.h>
#include <bt/neterror.h>
#include <bt/noise.h>

#include <stdlib.h>
#include <string.h>

#include "btnet-internal.h"

#define KEYLEN		BTNET_NOISE_KEY_LEN
#define PAYLOAD_FORMAT	1
/* domain text, its NUL, the static key */
#define SIGNED_LEN	(sizeof(BTNET_IDENTITY_DOMAIN) + KEYLEN)

static void
signed_bytes(uint8_t out[SIGNED_LEN], const uint8_t static_pub[KEYLEN])
{
	memcpy(out, BTNET_IDENTITY_DOMAIN, sizeof(BTNET_IDENTITY_DOMAIN));
	memcpy(out + sizeof(BTNET_IDENTITY_DOMAIN), static_pub, KEYLEN);
}

void
btnet_identity_payload_encode(const struct bt_pubkey *key,
    const struct bt_sig *sig, uint8_t out[BTNET_IDENTITY_PAYLOAD_LEN])
{
	out[0] = PAYLOAD_FORMAT;
	memcpy(out + 1, key->b, sizeof(key->b));
	memcpy(out + 1 + sizeof(key->b), sig->b, sizeof(sig->b));
}

int
btnet_identity_payload_decode(const uint8_t *data, size_t len,
    const uint8_t static_pub[KEYLEN], struct bt_pubkey *key,
    struct bt_sig *sig, struct bt_id *node_id)
{
	uint8_t msg[SIGNED_LEN];
	struct bt_pubkey k;
	struct bt_sig s;
	struct bt_id id;
	int rc;

	memset(&k, 0, sizeof(k));
	memset(&s, 0, sizeof(s));
	memset(&id, 0, sizeof(id));
	if (data == NULL && len != 0) {
		rc = BT_EINVAL;
		goto out;
	}
	if (len < BTNET_IDENTITY_PAYLOAD_LEN) {
		rc = len == 0 || data[0] == PAYLOAD_FORMAT ? BT_ETRUNC :
		    BT_EFORMAT;
		goto out;
	}
	if (len != BTNET_IDENTITY_PAYLOAD_LEN || data[0] != PAYLOAD_FORMAT) {
		rc = BT_EFORMAT;
		goto out;
	}
	memcpy(k.b, data + 1, sizeof(k.b));
	memcpy(s.b, data + 1 + sizeof(k.b), sizeof(s.b));
	if (static_pub != NULL) {
		signed_bytes(msg, static_pub);
		rc = btcore_sig_verify(&k, msg, sizeof(msg), &s);
		if (rc != BT_OK) {
			rc = rc == BT_EVERIFY ? BT_EVERIFY : BT_ECRYPTO;
			goto out;
		}
	}
	if ((rc = btcore_pubkey_id(&k, &id)) != BT_OK) {
		rc = BT_ECRYPTO;
		goto out;
	}
	rc = BT_OK;
out:
	if (rc != BT_OK) {
		memset(&k, 0, sizeof(k));
		memset(&s, 0, sizeof(s));
		memset(&id, 0, sizeof(id));
	}
	if (key != NULL)
		*key = k;
	if (sig != NULL)
		*sig = s;
	if (node_id != NULL)
		*node_id = id;
	return rc;
}

/* ---- local identity --------------------------------------------------- */

struct btnet_identity {
	uint8_t s_priv[KEYLEN];
	uint8_t s_pub[KEYLEN];
	uint8_t payload[BTNET_IDENTITY_PAYLOAD_LEN];
	struct bt_id node_id;
};

int
btnet_identity_new(struct btnet_identity **out,
    const struct btcore_signer *signer, const uint8_t static_priv[KEYLEN])
{
	struct btnet_identity *id = NULL;
	uint8_t msg[SIGNED_LEN];
	struct bt_sig sig;
	int rc;

	if (out == NULL)
		return BT_EINVAL;
	*out = NULL;
	if (signer == NULL)
		return BT_EINVAL;
	if ((id = calloc(1, sizeof(*id))) == NULL)
		return BT_ENOMEM;
	if (static_priv != NULL) {
		memcpy(id->s_priv, static_priv, KEYLEN);
		rc = btcore_x25519_public(id->s_pub, id->s_priv);
	} else {
		rc = btcore_x25519_keypair(id->s_priv, id->s_pub);
	}
	if (rc != BT_OK) {
		rc = rc == BT_EINVAL ? BT_EINVAL : BT_ECRYPTO;
		goto out;
	}
	signed_bytes(msg, id->s_pub);
	if ((rc = btcore_signer_sign(signer, msg, sizeof(msg), &sig)) != BT_OK)
		goto out;
	/* refuse a signer whose signature does not match its key */
	if ((rc = btcore_sig_verify(&signer->pub, msg, sizeof(msg), &sig))
	    != BT_OK) {
		rc = rc == BT_EINVAL ? BT_EINVAL : BT_ECRYPTO;
		goto out;
	}
	if ((rc = btcore_pubkey_id(&signer->pub, &id->node_id)) != BT_OK)
		goto out;
	btnet_identity_payload_encode(&signer->pub, &sig, id->payload);
	*out = id;
	id = NULL;
out:
	btnet_identity_free(id);
	return rc;
}

void
btnet_identity_node_id(const struct btnet_identity *id, struct bt_id *out)
{
	if (id == NULL || out == NULL)
		return;
	*out = id->node_id;
}

void
btnet_identity_free(struct btnet_identity *id)
{
	if (id == NULL)
		return;
	btcore_wipe(id, sizeof(*id));
	free(id);
}

/* ---- the handshake ---------------------------------------------------- */

struct btnet_handshake {
	struct btnet_noise *noise;
	const struct btnet_identity *local;
	int initiator;
	int has_expect;
	int peer_known;
	int failed;
	struct bt_id expect;
	struct bt_id peer_id;
	struct bt_pubkey peer_key;
};

int
btnet_handshake_new_(struct btnet_handshake **out,
    const struct btnet_identity *local, int initiator,
    const struct bt_id *expect, const void *prologue, size_t prologue_len,
    const uint8_t *ephemeral)
{
	struct btnet_handshake *hs = NULL;
	int rc;

	if (out == NULL)
		return BT_EINVAL;
	*out = NULL;
	if (local == NULL)
		return BT_EINVAL;
	if ((hs = calloc(1, sizeof(*hs))) == NULL)
		return BT_ENOMEM;
	hs->local = local;
	hs->initiator = initiator != 0;
	if (expect != NULL) {
		hs->expect = *expect;
		hs->has_expect = 1;
	}
	if ((rc = btnet_noise_new(&hs->noise, BTNET_NOISE_PROTOCOL,
	    initiator)) != BT_OK)
		goto out;
	if ((rc = btnet_noise_set_prologue(hs->noise, prologue,
	    prologue_len)) != BT_OK ||
	    (rc = btnet_noise_set_local_static(hs->noise, local->s_priv))
	    != BT_OK)
		goto out;
	if (ephemeral != NULL && (rc = btnet_noise_set_local_ephemeral(
	    hs->noise, ephemeral)) != BT_OK)
		goto out;
	*out = hs;
	hs = NULL;
out:
	btnet_handshake_free(hs);
	return rc;
}

int
btnet_handshake_new(struct btnet_handshake **out,
    const struct btnet_identity *local, int initiator,
    const struct bt_id *expect)
{
	return btnet_handshake_new_(out, local, initiator, expect,
	    BTNET_NOISE_PROLOGUE, strlen(BTNET_NOISE_PROLOGUE), NULL);
}

int
btnet_handshake_action(const struct btnet_handshake *hs)
{
	if (hs == NULL || hs->failed)
		return BTNET_NOISE_FAILED;
	return btnet_noise_action(hs->noise);
}

static void
handshake_fail(struct btnet_handshake *hs)
{
	btnet_noise_fail_(hs->noise);
	hs->failed = 1;
	hs->peer_known = 0;
	memset(&hs->peer_id, 0, sizeof(hs->peer_id));
	memset(&hs->peer_key, 0, sizeof(hs->peer_key));
}

int
btnet_handshake_write(struct btnet_handshake *hs, uint8_t *out, size_t cap,
    size_t *len)
{
	const uint8_t *payload;
	size_t plen;
	int rc;

	if (hs == NULL || out == NULL || len == NULL)
		return BT_EINVAL;
	*len = 0;
	if (hs->failed)
		return BT_ESTATE;
	/* message 1 carries nothing: it is sent in the clear */
	if (btnet_noise_msg_index_(hs->noise) == 0) {
		payload = NULL;
		plen = 0;
	} else {
		payload = hs->local->payload;
		plen = sizeof(hs->local->payload);
	}
	rc = btnet_noise_write_message(hs->noise, payload, plen, out, cap, len);
	if (rc != BT_OK && btnet_noise_action(hs->noise) == BTNET_NOISE_FAILED)
		handshake_fail(hs);
	return rc;
}

int
btnet_handshake_read(struct btnet_handshake *hs, const uint8_t *msg,
    size_t len)
{
	uint8_t payload[BTNET_HANDSHAKE_MSG_MAX], rs[KEYLEN];
	size_t plen = 0;
	unsigned idx;
	int rc;

	if (hs == NULL || (msg == NULL && len != 0))
		return BT_EINVAL;
	if (hs->failed) {
		rc = BT_ESTATE;
		goto out;
	}
	if (len > BTNET_HANDSHAKE_MSG_MAX) {
		rc = BT_ETOOBIG;
		goto out;
	}
	idx = btnet_noise_msg_index_(hs->noise);
	rc = btnet_noise_read_message(hs->noise, msg, len, payload,
	    sizeof(payload), &plen);
	if (rc != BT_OK)
		goto out;
	if (idx == 0) {
		rc = plen == 0 ? BT_OK : BT_EPROTO;
		goto out;
	}
	/* messages 2 and 3 carry the sender's identity for its static key */
	if ((rc = btnet_noise_remote_static(hs->noise, rs)) != BT_OK) {
		rc = BT_ESTATE;
		goto out;
	}
	rc = btnet_identity_payload_decode(payload, plen, rs, &hs->peer_key,
	    NULL, &hs->peer_id);
	if (rc != BT_OK)
		goto out;
	if (hs->has_expect &&
	    !btcore_ct_equal(hs->expect.b, hs->peer_id.b, BT_ID_LEN)) {
		rc = BTNET_EPEERID;
		goto out;
	}
	hs->peer_known = 1;
out:
	btcore_wipe(payload, sizeof(payload));
	if (rc != BT_OK)
		handshake_fail(hs);
	return rc;
}

int
btnet_handshake_finish(struct btnet_handshake *hs, struct btnet_cipher **send,
    struct btnet_cipher **recv, struct bt_id *peer_id,
    struct bt_pubkey *peer_key)
{
	int rc;

	if (send != NULL)
		*send = NULL;
	if (recv != NULL)
		*recv = NULL;
	if (hs == NULL || send == NULL || recv == NULL)
		return BT_EINVAL;
	if (hs->failed || !hs->peer_known ||
	    btnet_noise_action(hs->noise) != BTNET_NOISE_DONE)
		return BT_ESTATE;
	if ((rc = btnet_noise_split(hs->noise, send, recv)) != BT_OK) {
		handshake_fail(hs);
		return rc;
	}
	if (peer_id != NULL)
		*peer_id = hs->peer_id;
	if (peer_key != NULL)
		*peer_key = hs->peer_key;
	/* nothing is left to take */
	hs->failed = 1;
	return BT_OK;
}

void
btnet_handshake_free(struct btnet_handshake *hs)
{
	if (hs == NULL)
		return;
	btnet_noise_free(hs->noise);
	btcore_wipe(hs, sizeof(*hs));
	free(hs);
}
