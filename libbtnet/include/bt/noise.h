/*
 * bt/noise.h - the Noise Protocol Framework (revision 34) over buffers,
 * and the authenticated BlockTree handshake built on it.
 *
 * Three layers, all pure functions over caller-supplied buffers (no
 * sockets, no event loop, no global state):
 *
 *  - struct btnet_noise: a Noise handshake state for
 *    Noise_<P>_25519_ChaChaPoly_SHA256, where <P> is one of the twelve
 *    fundamental interactive patterns (NN NK NX XN XK XX KN KK KX IN IK
 *    IX).  It passes the published cacophony test vectors.
 *  - struct btnet_cipher: a transport cipher state (64-bit nonce,
 *    ChaCha20-Poly1305, REKEY) produced by a finished handshake.
 *  - struct btnet_identity and struct btnet_handshake: BlockTree's
 *    Noise_XX_25519_ChaChaPoly_SHA256 with the prologue "BlockTree/1",
 *    whose second and third messages carry the sender's Ed25519 identity
 *    and a signature binding it to the sender's Noise static key.
 *
 * Objects are not shared between threads; distinct objects may be used
 * from distinct threads.
 */
#ifndef BT_NOISE_H
#define BT_NOISE_H

#include <bt/common.h>
#include <bt/id.h>
#include <bt/key.h>

#ifdef __cplusplus
extern "C" {
#endif

#define BTNET_NOISE_KEY_LEN	32	/* X25519 keys, cipher keys */
#define BTNET_NOISE_HASH_LEN	32	/* SHA-256 */
#define BTNET_NOISE_TAG_LEN	16	/* ChaCha20-Poly1305 tag */
#define BTNET_NOISE_MSG_MAX	65535	/* largest Noise message */
/** Largest plaintext one transport message can carry. */
#define BTNET_NOISE_PLAIN_MAX	(BTNET_NOISE_MSG_MAX - BTNET_NOISE_TAG_LEN)

/** What a handshake expects next (btnet_noise_action()). */
#define BTNET_NOISE_FAILED	0	/* failed; only _free is useful */
#define BTNET_NOISE_WRITE	1	/* call the write function */
#define BTNET_NOISE_READ	2	/* call the read function */
#define BTNET_NOISE_DONE	3	/* finished: split / finish */

/* ---- transport cipher states ------------------------------------------ */

/**
 * A Noise CipherState with a key: ChaCha20-Poly1305 under a 64-bit
 * counter nonce (4 zero bytes, then the counter little-endian).  Opaque;
 * the key is wiped on free.
 */
struct btnet_cipher;

/**
 * Encrypt @p len bytes (at most BTNET_NOISE_PLAIN_MAX) with associated
 * data @p ad, writing len + 16 bytes to @p out (which may equal @p in),
 * then advance the nonce and, when the rekey interval is reached, rekey.
 *
 * @param c	the cipher state, borrowed.
 * @param ad	in, borrowed: @p ad_len bytes; NULL when ad_len is 0.
 * @param in	in, borrowed: @p len bytes; NULL when len is 0.
 * @param out	out: room for len + BTNET_NOISE_TAG_LEN bytes.
 * @return BT_OK; BT_EINVAL for NULL arguments; BT_ETOOBIG when @p len is
 *	   above BTNET_NOISE_PLAIN_MAX; BTNET_ENONCE when the nonce reached
 *	   2^64 - 1 (the cipher state is then unusable); BT_ECRYPTO.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btnet_cipher_encrypt(struct btnet_cipher *c,
    const void *ad, size_t ad_len, const void *in, size_t len, uint8_t *out);

/**
 * Authenticate and decrypt @p len bytes (16 ... BTNET_NOISE_MSG_MAX) of
 * ciphertext and tag, writing len - 16 bytes to @p out (which may equal
 * @p in).  On success the nonce advances (and the key is replaced at the
 * rekey interval); on failure nothing changes and @p out is zeroed.
 *
 * @return BT_OK; BT_EINVAL; BT_ETRUNC when @p len < 16; BT_ETOOBIG when
 *	   @p len > BTNET_NOISE_MSG_MAX; BT_EVERIFY when the tag does not
 *	   verify; BTNET_ENONCE; BT_ECRYPTO.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btnet_cipher_decrypt(struct btnet_cipher *c,
    const void *ad, size_t ad_len, const void *in, size_t len, uint8_t *out);

/**
 * Replace the key with REKEY(k): the first 32 bytes of the encryption of
 * 32 zero bytes under nonce 2^64 - 1.  The nonce is kept.  Both ends must
 * rekey at the same point of the stream.
 * @return BT_OK, BT_EINVAL, BT_ECRYPTO (the state is then unusable).
 * @since 0.1
 */
BT_EXPORT BT_WUR int btnet_cipher_rekey(struct btnet_cipher *c);

/**
 * Rekey automatically after every @p interval messages (counted by the
 * nonce: after the message with nonce n when (n + 1) % interval == 0).
 * 0 turns automatic rekeying off.  Both ends must use the same interval;
 * states made by btnet_noise_split() and btnet_handshake_finish() start
 * with BTNET_CIPHER_REKEY_DEFAULT.
 * @since 0.1
 */
BT_EXPORT void btnet_cipher_set_rekey_interval(struct btnet_cipher *c,
    uint64_t interval);
#define BTNET_CIPHER_REKEY_DEFAULT	((uint64_t)1 << 20)

/** The next nonce @p c will use.  @since 0.1 */
BT_EXPORT uint64_t btnet_cipher_nonce(const struct btnet_cipher *c);

/** Wipe and release @p c; NULL is a no-op.  @since 0.1 */
BT_EXPORT void btnet_cipher_free(struct btnet_cipher *c);

/* ---- generic Noise handshake states ----------------------------------- */

/** A Noise HandshakeState.  Opaque; every secret is wiped on free. */
struct btnet_noise;

/**
 * Start a handshake.
 *
 * @param out		out: caller owns; release with btnet_noise_free();
 *			NULL on failure.
 * @param protocol	in, borrowed: the full protocol name, e.g.
 *			"Noise_XX_25519_ChaChaPoly_SHA256".
 * @param initiator	nonzero for the initiator, 0 for the responder.
 * @return BT_OK, BT_EINVAL, BT_ENOMEM, BT_ECRYPTO, BT_EUNSUPPORTED (a
 *	   pattern, DH, cipher or hash other than those listed above, or a
 *	   modifier such as psk or fallback).
 * @since 0.1
 */
BT_EXPORT BT_WUR int btnet_noise_new(struct btnet_noise **out,
    const char *protocol, int initiator);

/**
 * Configuration, allowed only before the first message is written or
 * read (else BT_ESTATE).  Keys are copied; callers wipe their copies.
 *
 * btnet_noise_set_prologue: @p len bytes (at most 65535) mixed into the
 * transcript, at most once (a second call is BT_ESTATE); both ends must
 * use the same prologue.  Without it the prologue is empty.
 * btnet_noise_set_local_static: our static X25519 private key.
 * btnet_noise_set_remote_static: the peer's static public key, for
 * patterns where it is known in advance (NK, XK, KK, IK).
 * btnet_noise_set_local_ephemeral: fix the ephemeral private key instead
 * of drawing it at random.  Only for test vectors: reusing an ephemeral
 * key destroys the security of the handshake.
 *
 * @return BT_OK, BT_EINVAL, BT_ERANGE (prologue too long), BT_ESTATE,
 *	   BT_ECRYPTO.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btnet_noise_set_prologue(struct btnet_noise *n,
    const void *prologue, size_t len);
BT_EXPORT BT_WUR int btnet_noise_set_local_static(struct btnet_noise *n,
    const uint8_t priv[BTNET_NOISE_KEY_LEN]);
BT_EXPORT BT_WUR int btnet_noise_set_remote_static(struct btnet_noise *n,
    const uint8_t pub[BTNET_NOISE_KEY_LEN]);
BT_EXPORT BT_WUR int btnet_noise_set_local_ephemeral(struct btnet_noise *n,
    const uint8_t priv[BTNET_NOISE_KEY_LEN]);

/** BTNET_NOISE_WRITE, _READ, _DONE or _FAILED.  @since 0.1 */
BT_EXPORT int btnet_noise_action(const struct btnet_noise *n);

/**
 * Write the next handshake message, carrying @p payload_len bytes of
 * payload (encrypted once a key is established).
 *
 * @param out		out: room for @p cap bytes; *out_len receives the
 *			message length (at most BTNET_NOISE_MSG_MAX).
 * @return BT_OK; BT_EINVAL; BT_ESTATE (not our turn, or failed earlier);
 *	   BT_ENOSPC (@p cap too small; the state is unchanged);
 *	   BT_ETOOBIG (the message would exceed 65535 bytes); BT_ENOTFOUND
 *	   (a static key the pattern needs was not set); BT_EVERIFY (a
 *	   low-order peer key); BT_ECRYPTO.  Any error but BT_EINVAL,
 *	   BT_ENOSPC and BT_ETOOBIG fails the handshake for good.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btnet_noise_write_message(struct btnet_noise *n,
    const void *payload, size_t payload_len, uint8_t *out, size_t cap,
    size_t *out_len);

/**
 * Read the next handshake message and write its payload to @p payload
 * (room for @p cap bytes; the payload is never longer than @p len).
 *
 * @return BT_OK; BT_EINVAL; BT_ESTATE; BT_ETRUNC (message too short);
 *	   BT_ETOOBIG (longer than 65535 bytes); BT_ENOSPC (@p cap too
 *	   small); BT_EVERIFY (authentication failed or a low-order key);
 *	   BT_ENOTFOUND; BT_ECRYPTO.  Every error but BT_EINVAL fails the
 *	   handshake for good and wipes its secrets; @p payload is zeroed.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btnet_noise_read_message(struct btnet_noise *n,
    const uint8_t *msg, size_t len, uint8_t *payload, size_t cap,
    size_t *payload_len);

/**
 * The peer's static public key, once received (or set in advance).
 * @return BT_OK, BT_EINVAL, BT_ENOTFOUND.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btnet_noise_remote_static(const struct btnet_noise *n,
    uint8_t pub[BTNET_NOISE_KEY_LEN]);

/**
 * The handshake hash h (channel binding), once the handshake is done.
 * @return BT_OK, BT_EINVAL, BT_ESTATE.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btnet_noise_handshake_hash(const struct btnet_noise *n,
    uint8_t h[BTNET_NOISE_HASH_LEN]);

/**
 * Split a finished handshake into its two transport cipher states and
 * wipe the handshake's keys (only _free is useful afterwards).
 *
 * @param send	out: caller owns; release with btnet_cipher_free().
 * @param recv	out: caller owns; release with btnet_cipher_free().
 *		Both NULL on failure.
 * @return BT_OK, BT_EINVAL, BT_ESTATE, BT_ENOMEM, BT_ECRYPTO.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btnet_noise_split(struct btnet_noise *n,
    struct btnet_cipher **send, struct btnet_cipher **recv);

/** Wipe and release @p n; NULL is a no-op.  @since 0.1 */
BT_EXPORT void btnet_noise_free(struct btnet_noise *n);

/* ---- the BlockTree handshake ------------------------------------------ */

/** The Noise protocol and prologue of BlockTree's transport. */
#define BTNET_NOISE_PROTOCOL	"Noise_XX_25519_ChaChaPoly_SHA256"
#define BTNET_NOISE_PROLOGUE	"BlockTree/1"
/** What an identity signature covers: this text, its NUL, the key. */
#define BTNET_IDENTITY_DOMAIN	"BlockTree/1 noise static key"
/** Bytes of an encoded identity payload. */
#define BTNET_IDENTITY_PAYLOAD_LEN	(1 + 32 + 64)
/** Largest BlockTree handshake message. */
#define BTNET_HANDSHAKE_MSG_MAX	256

/**
 * Encode an identity payload: the format byte 1, the 32-byte Ed25519
 * identity public key, and the 64-byte Ed25519 signature of
 * BTNET_IDENTITY_DOMAIN, a NUL byte and the 32-byte Noise static public
 * key.  Writes exactly BTNET_IDENTITY_PAYLOAD_LEN bytes.
 * @since 0.1
 */
BT_EXPORT void btnet_identity_payload_encode(const struct bt_pubkey *key,
    const struct bt_sig *sig, uint8_t out[BTNET_IDENTITY_PAYLOAD_LEN]);

/**
 * Decode an identity payload of @p len bytes (borrowed) and, when
 * @p static_pub is not NULL, verify its signature over that Noise static
 * public key.  @p key, @p sig and @p node_id (any may be NULL) receive the
 * identity key, the signature and SHA-256 of the key; they are zeroed on
 * failure.
 * @return BT_OK; BT_EINVAL (@p data NULL with len > 0); BT_ETRUNC;
 *	   BT_EFORMAT (wrong length or format byte); BT_EVERIFY (bad
 *	   signature); BT_ECRYPTO.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btnet_identity_payload_decode(const uint8_t *data,
    size_t len, const uint8_t static_pub[BTNET_NOISE_KEY_LEN],
    struct bt_pubkey *key, struct bt_sig *sig, struct bt_id *node_id);

/**
 * A node's transport identity: its Noise static key pair and its
 * identity payload, signed once here.  Opaque; wiped on free.
 */
struct btnet_identity;

/**
 * @param out		out: caller owns; release with
 *			btnet_identity_free(); NULL on failure.
 * @param signer	in, borrowed for the call only: signs the static key.
 * @param static_priv	in, borrowed: the X25519 static private key to
 *			use, or NULL to generate one.
 * @return BT_OK, BT_EINVAL, BT_ENOMEM, BT_ECRYPTO or the signer's error.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btnet_identity_new(struct btnet_identity **out,
    const struct btcore_signer *signer,
    const uint8_t static_priv[BTNET_NOISE_KEY_LEN]);

/** The node id (SHA-256 of the identity public key).  @since 0.1 */
BT_EXPORT void btnet_identity_node_id(const struct btnet_identity *id,
    struct bt_id *out);

/** Wipe and release @p id; NULL is a no-op.  @since 0.1 */
BT_EXPORT void btnet_identity_free(struct btnet_identity *id);

/**
 * One BlockTree handshake (three messages: initiator, responder,
 * initiator).  Message 1 carries no payload; messages 2 and 3 carry the
 * sender's identity payload, which the receiver verifies against the
 * static key just received.  Opaque; wiped on free.
 */
struct btnet_handshake;

/**
 * @param out		out: caller owns; release with
 *			btnet_handshake_free(); NULL on failure.
 * @param local		in, borrowed: must outlive the handshake.
 * @param initiator	nonzero when dialling.
 * @param expect	in, borrowed for the call: the node id we mean to
 *			reach, or NULL to accept any authenticated peer.
 * @return BT_OK, BT_EINVAL, BT_ENOMEM, BT_ECRYPTO.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btnet_handshake_new(struct btnet_handshake **out,
    const struct btnet_identity *local, int initiator,
    const struct bt_id *expect);

/** BTNET_NOISE_WRITE, _READ, _DONE or _FAILED.  @since 0.1 */
BT_EXPORT int btnet_handshake_action(const struct btnet_handshake *hs);

/**
 * Write our next message into @p out (room for @p cap bytes; at most
 * BTNET_HANDSHAKE_MSG_MAX are needed); *len receives its length.
 * @return as btnet_noise_write_message().
 * @since 0.1
 */
BT_EXPORT BT_WUR int btnet_handshake_write(struct btnet_handshake *hs,
    uint8_t *out, size_t cap, size_t *len);

/**
 * Read the peer's next message (@p len bytes, borrowed).
 * @return BT_OK; BT_EINVAL; BT_ESTATE; BT_ETRUNC, BT_ETOOBIG, BT_EVERIFY
 *	   (as btnet_noise_read_message(), or a bad identity signature);
 *	   BT_EPROTO (a payload in message 1); BT_EFORMAT (a malformed
 *	   identity payload); BTNET_EPEERID (not the node in @p expect);
 *	   BT_ECRYPTO.  Every error but BT_EINVAL fails the handshake for
 *	   good and wipes its secrets.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btnet_handshake_read(struct btnet_handshake *hs,
    const uint8_t *msg, size_t len);

/**
 * Take the result of a finished handshake: the two transport cipher
 * states and the authenticated peer.  The handshake keeps nothing
 * afterwards (only _free is useful).
 *
 * @param send, recv	out: caller owns; release with btnet_cipher_free().
 * @param peer_id	out, may be NULL: SHA-256 of the peer's identity.
 * @param peer_key	out, may be NULL: the peer's Ed25519 identity key.
 * @return BT_OK, BT_EINVAL, BT_ESTATE, BT_ENOMEM, BT_ECRYPTO.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btnet_handshake_finish(struct btnet_handshake *hs,
    struct btnet_cipher **send, struct btnet_cipher **recv,
    struct bt_id *peer_id, struct bt_pubkey *peer_key);

/** Wipe and release @p hs; NULL is a no-op.  @since 0.1 */
BT_EXPORT void btnet_handshake_free(struct btnet_handshake *hs);

#ifdef __cplusplus
}
#endif
#endif /* BT_NOISE_H */
