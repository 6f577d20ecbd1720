/*
 * bt/key.h - Ed25519 identities and signatures.
 *
 * A node's identity is an Ed25519 key pair; its node id is the SHA-256 of
 * the 32-byte public key.  Private keys live in an opaque object whose
 * memory is wiped when it is freed.  Code that signs takes a struct
 * btcore_signer, so the private key may live elsewhere (libbttpm).
 */
#ifndef BT_KEY_H
#define BT_KEY_H

#include <bt/common.h>
#include <bt/id.h>

#ifdef __cplusplus
extern "C" {
#endif

#define BTCORE_ED25519_PUBLIC_LEN	32
#define BTCORE_ED25519_SEED_LEN		32
#define BTCORE_ED25519_SIG_LEN		64

/** An Ed25519 public key.  Value type. */
struct bt_pubkey {
	uint8_t b[BTCORE_ED25519_PUBLIC_LEN];
};

/** An Ed25519 signature.  Value type. */
struct bt_sig {
	uint8_t b[BTCORE_ED25519_SIG_LEN];
};

/** An Ed25519 private key.  Opaque; wiped on btcore_key_free(). */
struct btcore_key;

/**
 * Something that signs for a public key: a btcore_key, or a key held in a
 * TPM by libbttpm.  @c sign writes the signature of @p len bytes at @p msg
 * into @p sig and returns BT_OK or a negative code.  @c ctx is borrowed
 * and passed back to @c sign.
 */
struct btcore_signer {
	struct bt_pubkey pub;
	int (*sign)(void *ctx, const void *msg, size_t len, struct bt_sig *sig);
	void *ctx;
};

/**
 * Generate a new key from the operating system's CSPRNG.
 * @param out	out: caller owns; release with btcore_key_free(); NULL on
 *		failure.
 * @return BT_OK, BT_EINVAL, BT_ENOMEM or BT_ECRYPTO.
 */
BT_EXPORT BT_WUR int btcore_key_generate(struct btcore_key **out);

/**
 * Rebuild a key from its 32-byte seed (RFC 8032 private key).
 * @param out	out: caller owns; release with btcore_key_free().
 * @param seed	in, borrowed: 32 bytes; the caller should wipe its copy.
 * @return BT_OK, BT_EINVAL, BT_ENOMEM or BT_ECRYPTO.
 */
BT_EXPORT BT_WUR int btcore_key_from_seed(struct btcore_key **out,
    const uint8_t seed[BTCORE_ED25519_SEED_LEN]);

/**
 * Copy the 32-byte secret seed out, e.g. to seal it in a TPM.  The caller
 * must wipe it with btcore_wipe() when done.
 */
BT_EXPORT void btcore_key_seed(const struct btcore_key *key,
    uint8_t seed[BTCORE_ED25519_SEED_LEN]);

/** The public half of @p key. */
BT_EXPORT void btcore_key_public(const struct btcore_key *key,
    struct bt_pubkey *out);

/** Release @p key after wiping it; NULL is a no-op. */
BT_EXPORT void btcore_key_free(struct btcore_key *key);

/**
 * Sign @p len bytes at @p msg (pure Ed25519, RFC 8032).
 * @return BT_OK, BT_EINVAL or BT_ECRYPTO; @p sig is zeroed on failure.
 */
BT_EXPORT BT_WUR int btcore_key_sign(const struct btcore_key *key,
    const void *msg, size_t len, struct bt_sig *sig);

/**
 * Fill @p out with a signer that signs with @p key.  @p key is borrowed
 * and must outlive every use of the signer.
 */
BT_EXPORT void btcore_key_signer(const struct btcore_key *key,
    struct btcore_signer *out);

/**
 * Sign through a signer; checks the arguments and zeroes @p sig on
 * failure.  @return BT_OK, BT_EINVAL or the signer's error.
 */
BT_EXPORT BT_WUR int btcore_signer_sign(const struct btcore_signer *signer,
    const void *msg, size_t len, struct bt_sig *sig);

/**
 * Verify an Ed25519 signature.
 * @return BT_OK when valid, BT_EVERIFY when not (including non-canonical
 *	   or small-order keys), BT_EINVAL for NULL arguments.
 */
BT_EXPORT BT_WUR int btcore_sig_verify(const struct bt_pubkey *pub,
    const void *msg, size_t len, const struct bt_sig *sig);

/** The node id of a public key: SHA-256 of its 32 bytes. */
BT_EXPORT BT_WUR int btcore_pubkey_id(const struct bt_pubkey *pub,
    struct bt_id *out);

/**
 * PEM encodings (PKCS#8 "PRIVATE KEY" and SubjectPublicKeyInfo "PUBLIC
 * KEY", as OpenSSL writes them for Ed25519).
 *
 * btcore_key_to_pem: @p out receives a NUL-terminated string the caller
 * owns and must release with btcore_pem_free() (which wipes it).
 * btcore_key_from_pem / btcore_pubkey_from_pem: @p pem is borrowed,
 * @p len its length.  Errors: BT_EINVAL, BT_ENOMEM, BT_EFORMAT (not an
 * Ed25519 key of that kind), BT_ECRYPTO.
 */
BT_EXPORT BT_WUR int btcore_key_to_pem(const struct btcore_key *key,
    char **out, size_t *out_len);
BT_EXPORT BT_WUR int btcore_key_from_pem(struct btcore_key **out,
    const char *pem, size_t len);
BT_EXPORT BT_WUR int btcore_pubkey_to_pem(const struct bt_pubkey *pub,
    char **out, size_t *out_len);
BT_EXPORT BT_WUR int btcore_pubkey_from_pem(struct bt_pubkey *out,
    const char *pem, size_t len);
BT_EXPORT void btcore_pem_free(char *pem);

/**
 * Write @p key as PEM to @p path, created with mode 0600 (an existing
 * file is replaced atomically through a 0600 temporary in the same
 * directory).  Read one back with btcore_key_load().
 * @return BT_OK, BT_EINVAL, BT_EIO, BT_ENOMEM, BT_ECRYPTO; load also
 *	   BT_ENOTFOUND, BT_EFORMAT and BT_EPERM when the file is readable by
 *	   group or others.
 */
BT_EXPORT BT_WUR int btcore_key_save(const struct btcore_key *key,
    const char *path);
BT_EXPORT BT_WUR int btcore_key_load(struct btcore_key **out,
    const char *path);

#ifdef __cplusplus
}
#endif
#endif /* BT_KEY_H */
