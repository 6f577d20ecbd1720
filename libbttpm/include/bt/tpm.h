/*
 * bt/tpm.h - node key custody in a TPM 2.0, a software fallback, TPM
 * attestation statements, admission policy and endorsement registration.
 *
 * A node's identity is an Ed25519 key (libbtcore).  No TPM signs with
 * Ed25519, so with the TPM backend the 32-byte seed is sealed by the TPM:
 * it is a KEYEDHASH object under an ECC P-256 storage primary key of the
 * owner hierarchy, and its blob on disk is useless without that TPM.  A
 * restricted ECDSA P-256 attestation key (AK), resident in the same TPM,
 * signs statements that bind the Ed25519 public key to the TPM; the AK is
 * tied to the TPM's endorsement key (EK) by credential activation, and the
 * EK certificate chains to a manufacturer CA.  Callers only see a struct
 * btcore_signer and the public key.
 *
 * The software backend keeps the seed in a 0600 file, optionally sealed
 * with a passphrase; every statement it produces says "unattested".
 *
 * Thread safety: a keystore is used by one thread at a time; verifiers
 * and registries likewise.  Functions without an object are thread safe.
 */
#ifndef BT_TPM_H
#define BT_TPM_H

#include <bt/common.h>
#include <bt/id.h>
#include <bt/key.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Compile-time version of the headers. */
#define BTTPM_VERSION_MAJOR	0
#define BTTPM_VERSION_MINOR	1
#define BTTPM_VERSION_PATCH	0

/*
 * Error codes of libbttpm (-2000 ... -2999).  bttpm_strerror() describes
 * them and defers every other code to btcore_strerror().
 */
#define BTTPM_E_TCTI		(BT_ERR_BTTPM_BASE - 1)	 /* TPM unreachable / bad TCTI */
#define BTTPM_E_TPM		(BT_ERR_BTTPM_BASE - 2)	 /* the TPM refused a command */
#define BTTPM_E_NOIDENTITY	(BT_ERR_BTTPM_BASE - 3)	 /* no identity in the keystore */
#define BTTPM_E_ORPHAN		(BT_ERR_BTTPM_BASE - 4)	 /* TPM holds an identity, blob missing */
#define BTTPM_E_FOREIGN		(BT_ERR_BTTPM_BASE - 5)	 /* blob sealed by another TPM */
#define BTTPM_E_URI		(BT_ERR_BTTPM_BASE - 6)	 /* URI not tpm:<tcti> or file:<path> */
#define BTTPM_E_PASSPHRASE	(BT_ERR_BTTPM_BASE - 7)	 /* passphrase missing or wrong */
#define BTTPM_E_UNATTESTED	(BT_ERR_BTTPM_BASE - 10) /* software identity */
#define BTTPM_E_NOSTATEMENT	(BT_ERR_BTTPM_BASE - 11) /* no statement presented */
#define BTTPM_E_EKCERT		(BT_ERR_BTTPM_BASE - 12) /* EK cert not trusted */
#define BTTPM_E_AK		(BT_ERR_BTTPM_BASE - 13) /* AK not a restricted TPM key */
#define BTTPM_E_AKSIG		(BT_ERR_BTTPM_BASE - 14) /* AK signature invalid */
#define BTTPM_E_CLAIMSIG	(BT_ERR_BTTPM_BASE - 15) /* Ed25519 signature invalid */
#define BTTPM_E_KEYMISMATCH	(BT_ERR_BTTPM_BASE - 16) /* statement for another key */
#define BTTPM_E_ACTIVATION	(BT_ERR_BTTPM_BASE - 17) /* credential activation failed */
#define BTTPM_E_CLAIMED		(BT_ERR_BTTPM_BASE - 18) /* EK id claimed by another key */
#define BTTPM_E_NOEK		(BT_ERR_BTTPM_BASE - 19) /* TPM has no EK certificate */

/**
 * Describe an error code of libbttpm; other codes are described by
 * btcore_strerror().  Static text, never NULL.  Thread safe.
 * @since 0.1
 */
BT_EXPORT const char *bttpm_strerror(int err);

/** The library's version as "MAJOR.MINOR.PATCH".  Static text.  @since 0.1 */
BT_EXPORT const char *bttpm_version(void);

/* ---- keystore ------------------------------------------------------------ */

/**
 * Default persistent handles (owner range).  0x81000001 is left to the
 * platform's own storage root key; BlockTree's storage primary and
 * attestation key live at 0x81000101 and 0x81000102 unless configured.
 * Both keys are derived from fixed templates, so the primary can always be
 * recreated; they are persisted so that later starts need no key creation.
 */
#define BTTPM_DEFAULT_PRIMARY_HANDLE	0x81000101u
#define BTTPM_DEFAULT_AK_HANDLE		0x81000102u

/** Name of the sealed-seed file in the data directory (mode 0600). */
#define BTTPM_SEALED_FILE		"node.tpmseal"

/** bttpm_options.flags: create the identity when the keystore has none. */
#define BTTPM_OPEN_CREATE		0x1u

/** Options of bttpm_keystore_open(); BTTPM_OPTIONS_VERSION in @c version. */
#define BTTPM_OPTIONS_VERSION		1

/**
 * Options of bttpm_keystore_open().  Zero-initialise, set @c version to
 * BTTPM_OPTIONS_VERSION and fill what you need; zero means "default".
 * All pointers are borrowed for the duration of the call, except @c log
 * and @c log_arg, which must stay valid until the keystore is closed.
 */
struct bttpm_options {
	int		version;
	unsigned	flags;		/* BTTPM_OPEN_* */
	uint32_t	primary_handle;	/* tpm: persistent storage primary */
	uint32_t	ak_handle;	/* tpm: persistent attestation key */
	const char	*passphrase;	/* file: NULL = seed stored in clear */
	size_t		passphrase_len;
	/* receives diagnostics (decoded TPM response codes, the TCTI that
	 * failed); @c msg is valid only during the call; NULL = none */
	void		(*log)(void *arg, const char *msg);
	void		*log_arg;
};

/** A node's key store.  Opaque. */
struct bttpm_keystore;

/**
 * Open a key store and load (or, with BTTPM_OPEN_CREATE, create) the
 * node's Ed25519 identity.
 *
 * @param out	out: caller owns; release with bttpm_keystore_close();
 *		NULL on failure.
 * @param uri	in, borrowed: "tpm:<TCTI>" where <TCTI> is any tpm2-tss
 *		TCTI string ("device:/dev/tpmrm0",
 *		"swtpm:host=127.0.0.1,port=2321"), or "file:<path>" for the
 *		software backend (the seed file itself).
 * @param datadir in, borrowed: tpm backend: directory holding
 *		BTTPM_SEALED_FILE (written 0600, atomically); ignored by the
 *		file backend (may be NULL there).
 * @param opt	in, borrowed; NULL for all defaults.
 *
 * With the TPM backend the first start creates the storage primary (ECC
 * P-256, owner hierarchy) and the attestation key and persists them at
 * their handles, and seals a fresh seed.  Creation is refused with
 * BTTPM_E_ORPHAN when the primary handle is already occupied but the data
 * directory holds no sealed blob: an identity was made before and its
 * blob is lost; the keystore never silently makes a new one.  Later
 * starts unseal the seed through an encrypted session into locked memory,
 * build the key and wipe the seed.  No transient TPM object is left
 * loaded on return, whatever the outcome.
 *
 * @return BT_OK; BT_EINVAL (bad arguments or options version);
 *	   BTTPM_E_URI; BTTPM_E_TCTI (the TCTI named in @p uri cannot be
 *	   loaded or the TPM does not answer; the log names it);
 *	   BTTPM_E_TPM; BTTPM_E_NOIDENTITY (no identity and no
 *	   BTTPM_OPEN_CREATE); BTTPM_E_ORPHAN; BTTPM_E_FOREIGN (the blob
 *	   was sealed by another TPM or under another primary);
 *	   BTTPM_E_PASSPHRASE; BT_EPERM (seed file readable by others);
 *	   BT_ECORRUPT (malformed blob or seed file); BT_EIO; BT_ENOMEM;
 *	   BT_ECRYPTO.
 * @since 0.1
 */
BT_EXPORT BT_WUR int bttpm_keystore_open(struct bttpm_keystore **out,
    const char *uri, const char *datadir, const struct bttpm_options *opt);

/**
 * Close @p ks: wipe the key, close the TPM connection.  Persistent TPM
 * objects stay.  NULL is a no-op.  @since 0.1
 */
BT_EXPORT void bttpm_keystore_close(struct bttpm_keystore *ks);

/**
 * A signer for the node's key.  @p ks is borrowed by the signer and must
 * outlive every use of it.  @since 0.1
 */
BT_EXPORT void bttpm_keystore_signer(const struct bttpm_keystore *ks,
    struct btcore_signer *out);

/** The node's Ed25519 public key.  @since 0.1 */
BT_EXPORT void bttpm_keystore_public(const struct bttpm_keystore *ks,
    struct bt_pubkey *out);

/**
 * 1 when the identity is held by a TPM, 0 for the software backend.
 * @since 0.1
 */
BT_EXPORT int bttpm_keystore_is_tpm(const struct bttpm_keystore *ks);

/**
 * Make an attestation statement for the node's key, stamped with
 * @p when (seconds since the epoch, chosen by the caller).
 *
 * TPM backend: reads the RSA EK certificate (NV 0x01c00002), hashes the
 * statement message in the TPM and signs it with the attestation key;
 * the statement also carries the AK public area and an Ed25519 signature
 * by the node's key.  Software backend: a statement marked unattested,
 * signed by the node's key only.
 *
 * @param out	out: caller owns; release with bttpm_free().  NULL on
 *		failure.
 * @return BT_OK, BT_EINVAL, BTTPM_E_NOEK, BTTPM_E_TPM, BTTPM_E_TCTI,
 *	   BT_ENOMEM, BT_ECRYPTO.
 * @since 0.1
 */
BT_EXPORT BT_WUR int bttpm_keystore_attest(struct bttpm_keystore *ks,
    uint64_t when, uint8_t **out, size_t *out_len);

/**
 * Answer a credential-activation challenge (see bttpm_challenge_make())
 * with the TPM: the endorsement key decrypts it only when the challenge
 * was made for this TPM's EK and this TPM's attestation key.
 *
 * @param challenge in, borrowed: @p len bytes.
 * @param secret	out: 32 bytes, zeroed on failure.
 * @return BT_OK; BTTPM_E_ACTIVATION (the challenge is not for this TPM
 *	   or this AK); BTTPM_E_UNATTESTED (software backend); BT_EFORMAT;
 *	   BT_EINVAL; BTTPM_E_TPM; BTTPM_E_TCTI.
 * @since 0.1
 */
BT_EXPORT BT_WUR int bttpm_keystore_activate(struct bttpm_keystore *ks,
    const uint8_t *challenge, size_t len, uint8_t secret[32]);

/** Release a buffer returned by this library; NULL is a no-op. @since 0.1 */
BT_EXPORT void bttpm_free(void *p);

/* ---- verification and admission ------------------------------------------ */

/** Largest statement accepted by the decoder. */
#define BTTPM_STATEMENT_MAX		8192

/** A statement verifier holding a set of trusted EK CAs.  Opaque. */
struct bttpm_verifier;

/**
 * Create a verifier with an empty CA set.
 * @param out out: caller owns; release with bttpm_verifier_free().
 * @return BT_OK, BT_EINVAL, BT_ENOMEM.  @since 0.1
 */
BT_EXPORT BT_WUR int bttpm_verifier_new(struct bttpm_verifier **out);

/**
 * Trust every certificate in the PEM file @p path (roots and
 * intermediates of TPM manufacturers).
 * @return BT_OK, BT_EINVAL, BT_ENOTFOUND (no such file), BT_EFORMAT (no
 *	   certificate in it), BT_ENOMEM.  @since 0.1
 */
BT_EXPORT BT_WUR int bttpm_verifier_add_ca_file(struct bttpm_verifier *v,
    const char *path);

/** Release @p v; NULL is a no-op.  @since 0.1 */
BT_EXPORT void bttpm_verifier_free(struct bttpm_verifier *v);

/**
 * Verify a statement: its encoding, the Ed25519 signature of the key it
 * names, the EK certificate chain to the CA set, the attestation key's
 * attributes (restricted, fixedTPM, ECDSA P-256) and its signature.
 * This proves the AK's owner has the EK certificate; that the AK lives
 * in the EK's TPM is proven by bttpm_challenge_make() and
 * bttpm_keystore_activate().
 *
 * @param ek_id	 out, may be NULL: the TPM's identity, the SHA-256 of
 *		 the EK's DER SubjectPublicKeyInfo; zeroed unless BT_OK.
 * @param pub	 out, may be NULL: the node key the statement is for
 *		 (also set for BTTPM_E_UNATTESTED).
 * @param when	 out, may be NULL: the statement's time stamp.
 * @return BT_OK; BTTPM_E_UNATTESTED (a valid software statement);
 *	   BT_EFORMAT, BT_ETRUNC, BT_ETOOBIG (encoding); BTTPM_E_CLAIMSIG;
 *	   BTTPM_E_EKCERT; BTTPM_E_AK; BTTPM_E_AKSIG; BT_EINVAL; BT_ENOMEM;
 *	   BT_ECRYPTO.
 * @since 0.1
 */
BT_EXPORT BT_WUR int bttpm_statement_verify(const struct bttpm_verifier *v,
    const uint8_t *stmt, size_t len, struct bt_id *ek_id,
    struct bt_pubkey *pub, uint64_t *when);

/**
 * Make a credential-activation challenge for the TPM a statement names
 * (TPM2_MakeCredential in software): a fresh 32-byte secret, encrypted
 * to the EK public key of the statement's certificate and bound to the
 * statement's AK name.  Verify the statement first.
 *
 * @param secret	out: the secret to expect back; zeroed on failure.
 * @param challenge	out: caller owns; release with bttpm_free().
 * @return BT_OK, BT_EINVAL, BT_EFORMAT, BTTPM_E_UNATTESTED,
 *	   BTTPM_E_EKCERT (EK is not RSA-2048), BT_ENOMEM, BT_ECRYPTO.
 * @since 0.1
 */
BT_EXPORT BT_WUR int bttpm_challenge_make(const uint8_t *stmt, size_t len,
    uint8_t secret[32], uint8_t **challenge, size_t *challenge_len);

/** Admission policies for bttpm_admission_check(). */
#define BTTPM_POLICY_OPEN	0 /* no statement, or a valid one, attested or not */
#define BTTPM_POLICY_ATTESTED	1 /* a verified TPM statement */
#define BTTPM_POLICY_ACTIVATED	2 /* ... and a successful activation */

/**
 * Decide whether to admit a peer.
 *
 * @param v		in, borrowed: the verifier (CA set).
 * @param policy	BTTPM_POLICY_*.
 * @param peer		in, borrowed: the peer's authenticated Ed25519 key.
 * @param stmt, len	in, borrowed: its statement; NULL/0 when it sent
 *			none.
 * @param expected	in, borrowed, may be NULL: the secret returned by
 *			bttpm_challenge_make() (ACTIVATED only).
 * @param response	in, borrowed, may be NULL: the peer's answer from
 *			bttpm_keystore_activate() (ACTIVATED only).
 * @param ek_id		out, may be NULL: the TPM's identity when admitted
 *			with a TPM statement, else zero.
 * @return BT_OK (admitted) or the refusal reason: BTTPM_E_NOSTATEMENT,
 *	   BTTPM_E_UNATTESTED, BTTPM_E_KEYMISMATCH, BTTPM_E_ACTIVATION, any
 *	   error of bttpm_statement_verify(), BT_EINVAL.
 * @since 0.1
 */
BT_EXPORT BT_WUR int bttpm_admission_check(const struct bttpm_verifier *v,
    int policy, const struct bt_pubkey *peer, const uint8_t *stmt,
    size_t len, const uint8_t *expected, const uint8_t *response,
    struct bt_id *ek_id);

/* ---- endorsement registration -------------------------------------------- */

/** Size of an encoded registration record. */
#define BTTPM_REGISTRATION_LEN		141

/**
 * Make a registration record: the claimant (whose key @p signer holds)
 * claims the TPM with endorsement id @p ek_id at time @p when.
 * Layout: "BTTR", version 1, ek_id[32], claimant[32], time (u64 big
 * endian), Ed25519 signature[64] over a domain-separated message.
 * @return BT_OK, BT_EINVAL, or the signer's error; @p out zeroed on
 *	   failure.  @since 0.1
 */
BT_EXPORT BT_WUR int bttpm_registration_make(const struct btcore_signer *signer,
    const struct bt_id *ek_id, uint64_t when,
    uint8_t out[BTTPM_REGISTRATION_LEN]);

/**
 * Decode and verify a registration record.  Any out pointer may be NULL.
 * @return BT_OK, BT_EINVAL, BT_ETRUNC / BT_EFORMAT (length, magic,
 *	   version), BTTPM_E_CLAIMSIG.  @since 0.1
 */
BT_EXPORT BT_WUR int bttpm_registration_verify(const uint8_t *rec,
    size_t len, struct bt_id *ek_id, struct bt_pubkey *claimant,
    uint64_t *when);

/** An in-memory registry of claimed endorsement ids.  Opaque. */
struct bttpm_registry;

/** @return BT_OK, BT_EINVAL, BT_ENOMEM.  Release with bttpm_registry_free(). */
BT_EXPORT BT_WUR int bttpm_registry_new(struct bttpm_registry **out);

/** Release @p reg; NULL is a no-op.  @since 0.1 */
BT_EXPORT void bttpm_registry_free(struct bttpm_registry *reg);

/**
 * Record a claim after verifying it.  The first claim of an endorsement
 * id wins; the same claimant claiming again is accepted (BT_OK, the
 * original record stays); a different claimant is refused.
 * @return BT_OK, BTTPM_E_CLAIMED, any error of
 *	   bttpm_registration_verify(), BT_ENOMEM.  @since 0.1
 */
BT_EXPORT BT_WUR int bttpm_registry_claim(struct bttpm_registry *reg,
    const uint8_t *rec, size_t len);

/**
 * Who claimed @p ek_id.  @p claimant and @p when may be NULL.
 * @return BT_OK, BT_ENOTFOUND, BT_EINVAL.  @since 0.1
 */
BT_EXPORT BT_WUR int bttpm_registry_lookup(const struct bttpm_registry *reg,
    const struct bt_id *ek_id, struct bt_pubkey *claimant, uint64_t *when);

#ifdef __cplusplus
}
#endif
#endif /* BT_TPM_H */
