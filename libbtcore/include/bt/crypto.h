/*
 * bt/crypto.h - X25519, HKDF-SHA256, HMAC-SHA256 and ChaCha20-Poly1305.
 *
 * SHA-256, HMAC, HKDF and the AEAD run on OpenSSL EVP; these are the
 * primitives the Noise transport of libbtnet is built from.
 */
#ifndef BT_CRYPTO_H
#define BT_CRYPTO_H

#include <bt/common.h>

#ifdef __cplusplus
extern "C" {
#endif

#define BTCORE_X25519_LEN	32
#define BTCORE_AEAD_KEY_LEN	32
#define BTCORE_AEAD_NONCE_LEN	12
#define BTCORE_AEAD_TAG_LEN	16
#define BTCORE_HMAC_LEN		32

/**
 * Make an X25519 key pair: @p priv receives 32 random bytes (clamped by the
 * function itself when used), @p pub the matching public key.  The caller
 * wipes @p priv with btcore_wipe().  @return BT_OK, BT_EINVAL, BT_ECRYPTO.
 * Every function of this header is thread safe; a struct btcore_aead is
 * used by one thread at a time.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btcore_x25519_keypair(uint8_t priv[BTCORE_X25519_LEN],
    uint8_t pub[BTCORE_X25519_LEN]);

/**
 * The public key of a private key.  @return BT_OK, BT_EINVAL, BT_ECRYPTO.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btcore_x25519_public(uint8_t pub[BTCORE_X25519_LEN],
    const uint8_t priv[BTCORE_X25519_LEN]);

/**
 * Diffie-Hellman: @p shared = X25519(@p priv, @p peer_pub) (RFC 7748).
 * The top bit of @p peer_pub is ignored, as RFC 7748 requires.
 * @return BT_OK; BT_EVERIFY when the result is all zero (a low-order peer
 *	   point, which must be refused); BT_EINVAL; BT_ECRYPTO.  @p shared
 *	   is zeroed on failure.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btcore_x25519(uint8_t shared[BTCORE_X25519_LEN],
    const uint8_t priv[BTCORE_X25519_LEN],
    const uint8_t peer_pub[BTCORE_X25519_LEN]);

/**
 * HMAC-SHA256 of @p len bytes under a key of @p key_len bytes.  @p key and
 * @p data may be NULL when their length is 0.
 * @return BT_OK, BT_EINVAL, BT_ECRYPTO; @p out is zeroed on failure.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btcore_hmac_sha256(uint8_t out[BTCORE_HMAC_LEN],
    const void *key, size_t key_len, const void *data, size_t len);

/**
 * HKDF-SHA256 (RFC 5869): extract with @p salt, expand with @p info into
 * @p out_len bytes (1 to 255 * 32).  Any of salt, ikm, info may be NULL
 * when its length is 0; an empty salt means 32 zero bytes.  Noise's
 * HKDF(ck, ikm) with two or three outputs is this function with salt =
 * ck, an empty info and @p out_len 64 or 96.
 * @return BT_OK, BT_EINVAL, BT_ERANGE (@p out_len is 0 or above 8160),
 *	   BT_ECRYPTO; @p out is zeroed on failure.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btcore_hkdf_sha256(void *out, size_t out_len,
    const void *salt, size_t salt_len, const void *ikm, size_t ikm_len,
    const void *info, size_t info_len);

/**
 * ChaCha20-Poly1305 (RFC 8439), one shot.  Seal writes @p len bytes of
 * ciphertext followed by the 16-byte tag, so @p out must hold len + 16
 * bytes; open reads @p len bytes of ciphertext+tag (len >= 16) and writes
 * len - 16 bytes.  @p out may equal @p in (no other overlap is allowed).
 * @p ad and @p in may be NULL when their length is 0.  One nonce covers at
 * most 2^38 - 64 bytes of text.
 * @return BT_OK, BT_EINVAL (a NULL argument; open: @p len < 16),
 *	   BT_ERANGE (text longer than one nonce covers), BT_EVERIFY (open:
 *	   tag mismatch; @p out is zeroed), BT_ECRYPTO (@p out is zeroed).
 * @since 0.1
 */
BT_EXPORT BT_WUR int btcore_aead_seal(uint8_t *out,
    const uint8_t key[BTCORE_AEAD_KEY_LEN],
    const uint8_t nonce[BTCORE_AEAD_NONCE_LEN], const void *ad,
    size_t ad_len, const void *in, size_t len);
BT_EXPORT BT_WUR int btcore_aead_open(uint8_t *out,
    const uint8_t key[BTCORE_AEAD_KEY_LEN],
    const uint8_t nonce[BTCORE_AEAD_NONCE_LEN], const void *ad,
    size_t ad_len, const void *in, size_t len);

/**
 * A ChaCha20-Poly1305 key kept ready for many messages (a Noise cipher
 * state): the cipher context is set up once and each message only sets its
 * nonce.  Opaque; the key is wiped on free.  Same seal/open conventions
 * and errors as the one-shot functions; a failed open leaves the object
 * usable.  Not safe for concurrent use from several threads.
 *
 * btcore_aead_new: @p out: caller owns; release with btcore_aead_free();
 * NULL on failure.  @p key is borrowed (32 bytes).  @return BT_OK,
 * BT_EINVAL, BT_ENOMEM, BT_ECRYPTO.  btcore_aead_free: NULL is a no-op.
 * @since 0.1
 */
struct btcore_aead;

BT_EXPORT BT_WUR int btcore_aead_new(struct btcore_aead **out,
    const uint8_t key[BTCORE_AEAD_KEY_LEN]);
BT_EXPORT BT_WUR int btcore_aead_ctx_seal(struct btcore_aead *a,
    uint8_t *out, const uint8_t nonce[BTCORE_AEAD_NONCE_LEN],
    const void *ad, size_t ad_len, const void *in, size_t len);
BT_EXPORT BT_WUR int btcore_aead_ctx_open(struct btcore_aead *a,
    uint8_t *out, const uint8_t nonce[BTCORE_AEAD_NONCE_LEN],
    const void *ad, size_t ad_len, const void *in, size_t len);
BT_EXPORT void btcore_aead_free(struct btcore_aead *a);

#ifdef __cplusplus
}
#endif
#endif /* BT_CRYPTO_H */
