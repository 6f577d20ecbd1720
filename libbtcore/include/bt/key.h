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
 * @return BT_OK, BT_EINVAL (@p out is NULL), BT_ENOMEM or BT_ECRYPTO (no
 *	   randomness, or libsodium failed to initialise).
 * Thread safe, like every function of this header; a struct btcore_key
 * may be used for signing from several threads at once.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btcore_key_generate(struct btcore_key **out);

/**
 * Rebuild a key from its 32-byte seed (RFC 8032 private key).
 * @param out	out: caller owns; release with btcore_key_free(); NULL on
 *		failure.
 * @param seed	in, borrowed: 32 bytes; the caller should wipe its copy.
 * @return BT_OK, BT_EINVAL (a NULL argument), BT_ENOMEM or BT_ECRYPTO.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btcore_key_from_seed(struct btcore_key **out,
    const uint8_t seed[BTCORE_ED25519_SEED_LEN]);

/**
 * Copy the 32-byte secret seed out, e.g. to seal it in a TPM.  The caller
 * must wipe it with btcore_wipe() when done.
 * @param key	in, borrowed.  NULL gives 32 zero bytes.
 * @param seed	out: 32 bytes; NULL is a no-op.
 * @since 0.1
 */
BT_EXPORT void btcore_key_seed(const struct btcore_key *key,
    uint8_t seed[BTCORE_ED25519_SEED_LEN]);

/**
 * The public half of @p key.
 * @param key	in, borrowed.  NULL gives an all-zero key.
 * @param out	out; NULL is a no-op.
 * @since 0.1
 */
BT_EXPORT void btcore_key_public(const struct btcore_key *key,
    struct bt_pubkey *out);

/**
 * Release @p key after wiping it; NULL is a no-op.
 * @since 0.1
 */
BT_EXPORT void btcore_key_free(struct btcore_key *key);

/**
 * Sign @p len bytes at @p msg (pure Ed25519, RFC 8032).  Signatures are
 * deterministic: the same key and message always give the same bytes.
 * @param key	in, borrowed.
 * @param msg	in, borrowed; may be NULL when @p len is 0.
 * @param sig	out.
 * @return BT_OK, BT_EINVAL (a NULL argument) or BT_ECRYPTO; @p sig is
 *	   zeroed on failure.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btcore_key_sign(const struct btcore_key *key,
    const void *msg, size_t len, struct bt_sig *sig);

/**
 * Fill @p out with a signer that signs with @p key.  @p key is borrowed
 * and must outlive every use of the signer; the signer never modifies it
 * (@c ctx is @p key).  A NULL @p key gives a zeroed signer, whose use
 * fails with BT_EINVAL; a NULL @p out is a no-op.
 * @since 0.1
 */
BT_EXPORT void btcore_key_signer(const struct btcore_key *key,
    struct btcore_signer *out);

/**
 * Sign through a signer; checks the arguments and zeroes @p sig on
 * failure.  @p msg may be NULL when @p len is 0.
 * @return BT_OK, BT_EINVAL (a NULL argument or a NULL @c sign) or the
 *	   signer's error (a positive value from a signer is reported as
 *	   BT_ECRYPTO).
 * @since 0.1
 */
BT_EXPORT BT_WUR int btcore_signer_sign(const struct btcore_signer *signer,
    const void *msg, size_t len, struct bt_sig *sig);

/**
 * Verify an Ed25519 signature.  @p msg may be NULL when @p len is 0.
 * @return BT_OK when valid, BT_EVERIFY when not (including non-canonical
 *	   signatures and non-canonical or small-order keys), BT_EINVAL for
 *	   NULL arguments, BT_ECRYPTO if libsodium failed to initialise.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btcore_sig_verify(const struct bt_pubkey *pub,
    const void *msg, size_t len, const struct bt_sig *sig);

/**
 * The node id of a public key: SHA-256 of its 32 bytes.
 * @return BT_OK, BT_EINVAL (a NULL argument; @p out, if given, is
 *	   zeroed) or BT_ECRYPTO.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btcore_pubkey_id(const struct bt_pubkey *pub,
    struct bt_id *out);

/**
 * PEM encodings (PKCS#8 "PRIVATE KEY" and SubjectPublicKeyInfo "PUBLIC
 * KEY", as OpenSSL writes them for Ed25519).
 *
 * btcore_key_to_pem / btcore_pubkey_to_pem: @p out receives a
 * NUL-terminated string the caller owns and must release with
 * btcore_pem_free() (which wipes it), NULL on failure; @p out_len, which
 * may be NULL, its length without the NUL.
 * btcore_key_from_pem / btcore_pubkey_from_pem: @p pem is borrowed,
 * @p len its length (no NUL needed; at most 16 KiB).  The first PEM block
 * is decoded.  On failure *@p out is NULL, or the public key all zero.
 * Encrypted private keys are refused, never prompted for.
 * Errors: BT_EINVAL (a NULL argument), BT_ENOMEM, BT_EFORMAT (not an
 * Ed25519 key of that kind, empty, over 16 KiB, malformed), BT_ECRYPTO.
 * btcore_pem_free: NULL is a no-op.
 * @since 0.1
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
 * Write @p key as PEM to @p path, created with mode 0600 whatever the
 * umask (an existing file is replaced atomically through a 0600 temporary
 * in the same directory, synced, renamed over @p path, and the directory
 * synced).  Read one back with btcore_key_load(), which does not follow a
 * symbolic link at @p path, reads only regular files of at most 16 KiB
 * and refuses files that group or others may access.
 * @param path	in, borrowed.
 * @param out	load: caller owns; release with btcore_key_free(); NULL on
 *		failure.
 * @return BT_OK, BT_EINVAL, BT_EIO, BT_ENOMEM, BT_ECRYPTO; load also
 *	   BT_ENOTFOUND (no such file), BT_EFORMAT (over 16 KiB or not an
 *	   Ed25519 private key PEM) and BT_EPERM when the file's mode has
 *	   any group or other bit set.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btcore_key_save(const struct btcore_key *key,
    const char *path);
BT_EXPORT BT_WUR int btcore_key_load(struct btcore_key **out,
    const char *path);

#ifdef __cplusplus
}
#endif
#endif /* BT_KEY_H */
