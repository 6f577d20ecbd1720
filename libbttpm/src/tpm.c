/*
 * tpm.c - the TPM backend on tpm2-tss ESAPI.
 *
 * Objects (all from fixed templates, so they can be recreated):
 * - storage primary: ECC P-256, restricted decrypt, owner hierarchy,
 *   persisted at opt->primary_handle (default 0x81000101);
 * - sealed seed: KEYEDHASH child of the primary holding the 32-byte
 *   Ed25519 seed; its public and private parts are the blob file;
 * - attestation key: restricted ECDSA P-256 signing key, a primary of the
 *   owner hierarchy, persisted at opt->ak_handle (default 0x81000102);
 * - endorsement key: the RSA EK at 0x81010001, or recreated from the TCG
 *   EK template L-1 when not persisted (transient, flushed after use).
 *
 * Sealed blob file (BTTPM_SEALED_FILE, 0600): "BTTS" | version 1 |
 * TPM2B_PUBLIC | TPM2B_PRIVATE, both in TPM marshalling.
 *
 * Every transient object and session is flushed on every path.  The seed
 * crosses the TPM interface only inside a salted, encrypting session.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <openssl/x509.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_rc.h>
#include <tss2/tss2_tctildr.h>

#include <bt/hash.h>

#include "bttpm-internal.h"

static const uint8_t blob_magic[4] = { 'B', 'T', 'T', 'S' };
#define BLOB_VERSION	1
#define BLOB_MAX	4096
#define NV_CHUNK	512

/* TCG EK Credential Profile: the policy digest of PolicySecret(endorsement) */
static const uint8_t ek_policy[32] = {
	0x83, 0x71, 0x97, 0x67, 0x44, 0x84, 0xb3, 0xf8, 0x1a, 0x90, 0xcc,
	0x8d, 0x46, 0xa5, 0xd7, 0x24, 0xfd, 0x52, 0xd7, 0x6e, 0x06, 0x52,
	0x0b, 0x64, 0xf2, 0xa1, 0xda, 0x1b, 0x33, 0x14, 0x69, 0xaa
};

static void
tpl_primary(TPM2B_PUBLIC *t)
{
	memset(t, 0, sizeof(*t));
	t->publicArea.type = TPM2_ALG_ECC;
	t->publicArea.nameAlg = TPM2_ALG_SHA256;
	t->publicArea.objectAttributes = TPMA_OBJECT_FIXEDTPM |
	    TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN |
	    TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_NODA |
	    TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT;
	t->publicArea.parameters.eccDetail.symmetric.algorithm = TPM2_ALG_AES;
	t->publicArea.parameters.eccDetail.symmetric.keyBits.aes = 128;
	t->publicArea.parameters.eccDetail.symmetric.mode.aes = TPM2_ALG_CFB;
	t->publicArea.parameters.eccDetail.scheme.scheme = TPM2_ALG_NULL;
	t->publicArea.parameters.eccDetail.curveID = TPM2_ECC_NIST_P256;
	t->publicArea.parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
}

static void
tpl_ak(TPM2B_PUBLIC *t)
{
	static const char label[] = "BlockTree attestation key";

	memset(t, 0, sizeof(*t));
	t->publicArea.type = TPM2_ALG_ECC;
	t->publicArea.nameAlg = TPM2_ALG_SHA256;
	t->publicArea.objectAttributes = TPMA_OBJECT_FIXEDTPM |
	    TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN |
	    TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_NODA |
	    TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_SIGN_ENCRYPT;
	t->publicArea.parameters.eccDetail.symmetric.algorithm = TPM2_ALG_NULL;
	t->publicArea.parameters.eccDetail.scheme.scheme = TPM2_ALG_ECDSA;
	t->publicArea.parameters.eccDetail.scheme.details.ecdsa.hashAlg =
	    TPM2_ALG_SHA256;
	t->publicArea.parameters.eccDetail.curveID = TPM2_ECC_NIST_P256;
	t->publicArea.parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
	/* a distinct unique field keeps this key apart from other primaries */
	t->publicArea.unique.ecc.x.size = sizeof(label) - 1;
	memcpy(t->publicArea.unique.ecc.x.buffer, label, sizeof(label) - 1);
}

static void
tpl_sealed(TPM2B_PUBLIC *t)
{
	memset(t, 0, sizeof(*t));
	t->publicArea.type = TPM2_ALG_KEYEDHASH;
	t->publicArea.nameAlg = TPM2_ALG_SHA256;
	t->publicArea.objectAttributes = TPMA_OBJECT_FIXEDTPM |
	    TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_USERWITHAUTH |
	    TPMA_OBJECT_NODA;
	t->publicArea.parameters.keyedHashDetail.scheme.scheme = TPM2_ALG_NULL;
}

/* TCG EK Credential Profile, template L-1 (RSA 2048). */
static void
tpl_ek_rsa(TPM2B_PUBLIC *t)
{
	memset(t, 0, sizeof(*t));
	t->publicArea.type = TPM2_ALG_RSA;
	t->publicArea.nameAlg = TPM2_ALG_SHA256;
	t->publicArea.objectAttributes = TPMA_OBJECT_FIXEDTPM |
	    TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN |
	    TPMA_OBJECT_ADMINWITHPOLICY | TPMA_OBJECT_RESTRICTED |
	    TPMA_OBJECT_DECRYPT;
	t->publicArea.authPolicy.size = sizeof(ek_policy);
	memcpy(t->publicArea.authPolicy.buffer, ek_policy, sizeof(ek_policy));
	t->publicArea.parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_AES;
	t->publicArea.parameters.rsaDetail.symmetric.keyBits.aes = 128;
	t->publicArea.parameters.rsaDetail.symmetric.mode.aes = TPM2_ALG_CFB;
	t->publicArea.parameters.rsaDetail.scheme.scheme = TPM2_ALG_NULL;
	t->publicArea.parameters.rsaDetail.keyBits = 2048;
	t->publicArea.unique.rsa.size = 256;
}

/* Map a TSS2_RC to our codes, logging the detail. */
static int
rcmap(struct bttpm_keystore *ks, const char *what, TSS2_RC rc)
{
	TSS2_RC layer = rc & TSS2_RC_LAYER_MASK;
	TSS2_RC base = rc & ~TSS2_RC_LAYER_MASK;

	bttpm_logf_(ks->log, ks->log_arg, "%s: %s", what, Tss2_RC_Decode(rc));
	if (layer == TSS2_TCTI_RC_LAYER)
		return BTTPM_E_TCTI;
	if (layer == TSS2_ESAPI_RC_LAYER || layer == TSS2_SYS_RC_LAYER ||
	    layer == TSS2_MU_RC_LAYER) {
		if (base == TSS2_BASE_RC_IO_ERROR ||
		    base == TSS2_BASE_RC_NO_CONNECTION ||
		    base == TSS2_BASE_RC_TRY_AGAIN ||
		    base == TSS2_BASE_RC_INSUFFICIENT_RESPONSE ||
		    base == TSS2_BASE_RC_MALFORMED_RESPONSE)
			return BTTPM_E_TCTI;
		if (base == TSS2_BASE_RC_MEMORY)
			return BT_ENOMEM;
	}
	return BTTPM_E_TPM;
}

static void
flush(struct bttpm_keystore *ks, ESYS_TR *tr)
{
	TSS2_RC rc;

	if (*tr == ESYS_TR_NONE)
		return;
	if ((rc = Esys_FlushContext(ks->esys, *tr)) != TSS2_RC_SUCCESS)
		(void)rcmap(ks, "Esys_FlushContext", rc);
	*tr = ESYS_TR_NONE;
}

/* Forget a persistent object's ESYS metadata; the object stays. */
static void
tr_close(struct bttpm_keystore *ks, ESYS_TR *tr)
{
	if (*tr == ESYS_TR_NONE)
		return;
	(void)Esys_TR_Close(ks->esys, tr);
	*tr = ESYS_TR_NONE;
}

/* The ESYS_TR of a persistent handle; BT_ENOTFOUND when it is empty. */
static int
persistent(struct bttpm_keystore *ks, uint32_t handle, ESYS_TR *tr)
{
	TSS2_RC rc;
	TPMS_CAPABILITY_DATA *cap = NULL;
	TPMI_YES_NO more;
	int found;

	*tr = ESYS_TR_NONE;
	/* ask first, so that an absent handle is not a logged failure */
	rc = Esys_GetCapability(ks->esys, ESYS_TR_NONE, ESYS_TR_NONE,
	    ESYS_TR_NONE, TPM2_CAP_HANDLES, handle, 1, &more, &cap);
	if (rc != TSS2_RC_SUCCESS)
		return rcmap(ks, "Esys_GetCapability", rc);
	found = cap->data.handles.count > 0 &&
	    cap->data.handles.handle[0] == handle;
	Esys_Free(cap);
	if (!found)
		return BT_ENOTFOUND;
	rc = Esys_TR_FromTPMPublic(ks->esys, handle, ESYS_TR_NONE, ESYS_TR_NONE,
	    ESYS_TR_NONE, tr);
	if (rc != TSS2_RC_SUCCESS) {
		*tr = ESYS_TR_NONE;
		return rcmap(ks, "Esys_TR_FromTPMPublic", rc);
	}
	return BT_OK;
}

static int
create_primary(struct bttpm_keystore *ks, ESYS_TR hierarchy,
    const TPM2B_PUBLIC *tpl, ESYS_TR *tr)
{
	TPM2B_SENSITIVE_CREATE sens;
	TPM2B_DATA outside;
	TPML_PCR_SELECTION pcrs;
	TSS2_RC rc;

	memset(&sens, 0, sizeof(sens));
	memset(&outside, 0, sizeof(outside));
	memset(&pcrs, 0, sizeof(pcrs));
	rc = Esys_CreatePrimary(ks->esys, hierarchy, ESYS_TR_PASSWORD,
	    ESYS_TR_NONE, ESYS_TR_NONE, &sens, tpl, &outside, &pcrs, tr, NULL,
	    NULL, NULL, NULL);
	if (rc != TSS2_RC_SUCCESS) {
		*tr = ESYS_TR_NONE;
		return rcmap(ks, "Esys_CreatePrimary", rc);
	}
	return BT_OK;
}

/* Make transient @p tr persistent at @p handle; @p tr becomes that handle. */
static int
persist(struct bttpm_keystore *ks, ESYS_TR *tr, uint32_t handle)
{
	ESYS_TR ptr = ESYS_TR_NONE;
	TSS2_RC rc;

	rc = Esys_EvictControl(ks->esys, ESYS_TR_RH_OWNER, *tr,
	    ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, handle, &ptr);
	if (rc != TSS2_RC_SUCCESS)
		return rcmap(ks, "Esys_EvictControl", rc);
	flush(ks, tr);
	*tr = ptr;
	return BT_OK;
}

/* The attestation key, created and persisted when missing. */
static int
ak_handle(struct bttpm_keystore *ks, ESYS_TR *tr)
{
	TPM2B_PUBLIC tpl;
	int rc;

	rc = persistent(ks, ks->ak_handle, tr);
	if (rc != BT_ENOTFOUND)
		return rc;
	tpl_ak(&tpl);
	if ((rc = create_primary(ks, ESYS_TR_RH_OWNER, &tpl, tr)) != BT_OK)
		return rc;
	if ((rc = persist(ks, tr, ks->ak_handle)) != BT_OK)
		flush(ks, tr);
	return rc;
}

/* A salted HMAC session encrypting the first parameter both ways. */
static int
enc_session(struct bttpm_keystore *ks, ESYS_TR salt_key, ESYS_TR *sess)
{
	TPMT_SYM_DEF sym;
	TSS2_RC rc;

	memset(&sym, 0, sizeof(sym));
	sym.algorithm = TPM2_ALG_AES;
	sym.keyBits.aes = 128;
	sym.mode.aes = TPM2_ALG_CFB;
	rc = Esys_StartAuthSession(ks->esys, salt_key, ESYS_TR_NONE,
	    ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, NULL, TPM2_SE_HMAC, &sym,
	    TPM2_ALG_SHA256, sess);
	if (rc != TSS2_RC_SUCCESS) {
		*sess = ESYS_TR_NONE;
		return rcmap(ks, "Esys_StartAuthSession", rc);
	}
	rc = Esys_TRSess_SetAttributes(ks->esys, *sess,
	    TPMA_SESSION_DECRYPT | TPMA_SESSION_ENCRYPT |
	    TPMA_SESSION_CONTINUESESSION, 0xff);
	if (rc != TSS2_RC_SUCCESS) {
		flush(ks, sess);
		return rcmap(ks, "Esys_TRSess_SetAttributes", rc);
	}
	return BT_OK;
}

/* Page-aligned, locked memory for the seed. */
static uint8_t *
secure_alloc(struct bttpm_keystore *ks, size_t *size)
{
	long page = sysconf(_SC_PAGESIZE);
	void *p = NULL;

	*size = page > 0 ? (size_t)page : 4096;
	if (posix_memalign(&p, *size, *size) != 0)
		return NULL;
	memset(p, 0, *size);
	if (mlock(p, *size) != 0)
		bttpm_logf_(ks->log, ks->log_arg,
		    "mlock failed; the seed may be swapped out");
#ifdef MADV_DONTDUMP
	(void)madvise(p, *size, MADV_DONTDUMP);
#endif
	return p;
}

static void
secure_free(uint8_t *p, size_t size)
{
	if (p == NULL)
		return;
	btcore_wipe(p, size);
	(void)munlock(p, size);
	free(p);
}

static int
blob_encode(const TPM2B_PUBLIC *pub, const TPM2B_PRIVATE *priv,
    uint8_t *buf, size_t *len)
{
	size_t off = 5;

	memcpy(buf, blob_magic, 4);
	buf[4] = BLOB_VERSION;
	if (Tss2_MU_TPM2B_PUBLIC_Marshal(pub, buf, BLOB_MAX, &off) !=
	    TSS2_RC_SUCCESS ||
	    Tss2_MU_TPM2B_PRIVATE_Marshal(priv, buf, BLOB_MAX, &off) !=
	    TSS2_RC_SUCCESS)
		return BT_EFORMAT;
	*len = off;
	return BT_OK;
}

static int
blob_decode(const uint8_t *buf, size_t len, TPM2B_PUBLIC *pub,
    TPM2B_PRIVATE *priv)
{
	size_t off = 5;

	memset(pub, 0, sizeof(*pub));
	memset(priv, 0, sizeof(*priv));
	if (len < 5 || memcmp(buf, blob_magic, 4) != 0 ||
	    buf[4] != BLOB_VERSION)
		return BT_ECORRUPT;
	if (Tss2_MU_TPM2B_PUBLIC_Unmarshal(buf, len, &off, pub) !=
	    TSS2_RC_SUCCESS ||
	    Tss2_MU_TPM2B_PRIVATE_Unmarshal(buf, len, &off, priv) !=
	    TSS2_RC_SUCCESS || off != len ||
	    pub->publicArea.type != TPM2_ALG_KEYEDHASH)
		return BT_ECORRUPT;
	return BT_OK;
}

static int
connect_tpm(struct bttpm_keystore *ks, const char *tcti)
{
	TSS2_RC rc;

	rc = Tss2_TctiLdr_Initialize(tcti, &ks->tcti);
	if (rc != TSS2_RC_SUCCESS) {
		ks->tcti = NULL;
		bttpm_logf_(ks->log, ks->log_arg,
		    "TCTI \"%s\" cannot be loaded or connected: %s", tcti,
		    Tss2_RC_Decode(rc));
		return BTTPM_E_TCTI;
	}
	rc = Esys_Initialize(&ks->esys, ks->tcti, NULL);
	if (rc != TSS2_RC_SUCCESS) {
		ks->esys = NULL;
		return rcmap(ks, "Esys_Initialize", rc);
	}
	/* harmless when already started (mapped to success) */
	rc = Esys_Startup(ks->esys, TPM2_SU_CLEAR);
	if (rc != TSS2_RC_SUCCESS && rc != TPM2_RC_INITIALIZE) {
		bttpm_logf_(ks->log, ks->log_arg,
		    "TPM at TCTI \"%s\" does not answer: %s", tcti,
		    Tss2_RC_Decode(rc));
		return rcmap(ks, "Esys_Startup", rc);
	}
	return BT_OK;
}

/* First start: seal a fresh seed under the primary and write the blob. */
static int
create_identity(struct bttpm_keystore *ks, const char *path, uint8_t *seed)
{
	TPM2B_PUBLIC tpl, *pub = NULL;
	TPM2B_PRIVATE *priv = NULL;
	TPM2B_SENSITIVE_CREATE sens;
	TPM2B_DATA outside;
	TPML_PCR_SELECTION pcrs;
	ESYS_TR prim = ESYS_TR_NONE, sess = ESYS_TR_NONE;
	uint8_t blob[BLOB_MAX];
	size_t blob_len;
	TSS2_RC trc;
	int rc, transient = 0;

	memset(&sens, 0, sizeof(sens));
	memset(&outside, 0, sizeof(outside));
	memset(&pcrs, 0, sizeof(pcrs));
	rc = persistent(ks, ks->primary_handle, &prim);
	if (rc == BT_OK) {
		bttpm_logf_(ks->log, ks->log_arg,
		    "persistent handle 0x%08x is in use but %s is missing",
		    (unsigned)ks->primary_handle, path);
		rc = BTTPM_E_ORPHAN;
		goto out;
	}
	if (rc != BT_ENOTFOUND)
		goto out;
	tpl_primary(&tpl);
	if ((rc = create_primary(ks, ESYS_TR_RH_OWNER, &tpl, &prim)) != BT_OK)
		goto out;
	transient = 1;
	if ((rc = btcore_random_bytes(seed, BTCORE_ED25519_SEED_LEN)) != BT_OK)
		goto out;
	sens.sensitive.data.size = BTCORE_ED25519_SEED_LEN;
	memcpy(sens.sensitive.data.buffer, seed, BTCORE_ED25519_SEED_LEN);
	if ((rc = enc_session(ks, prim, &sess)) != BT_OK)
		goto out;
	tpl_sealed(&tpl);
	trc = Esys_Create(ks->esys, prim, sess, ESYS_TR_NONE, ESYS_TR_NONE,
	    &sens, &tpl, &outside, &pcrs, &priv, &pub, NULL, NULL, NULL);
	if (trc != TSS2_RC_SUCCESS) {
		rc = rcmap(ks, "Esys_Create", trc);
		goto out;
	}
	if ((rc = blob_encode(pub, priv, blob, &blob_len)) != BT_OK)
		goto out;
	/* persist the primary only once the sealed blob exists */
	if ((rc = bttpm_file_write_(path, blob, blob_len)) != BT_OK) {
		bttpm_logf_(ks->log, ks->log_arg, "cannot write %s", path);
		goto out;
	}
	if ((rc = persist(ks, &prim, ks->primary_handle)) != BT_OK) {
		unlink(path);
		goto out;
	}
	transient = 0;
out:
	flush(ks, &sess);
	if (transient)
		flush(ks, &prim);
	else
		tr_close(ks, &prim);
	btcore_wipe(&sens, sizeof(sens));
	Esys_Free(pub);
	Esys_Free(priv);
	return rc;
}

/* Later starts: load and unseal the blob into @p seed. */
static int
unseal_identity(struct bttpm_keystore *ks, const uint8_t *buf, size_t len,
    uint8_t *seed)
{
	TPM2B_PUBLIC pub, tpl;
	TPM2B_PRIVATE priv;
	TPM2B_SENSITIVE_DATA *data = NULL;
	ESYS_TR prim = ESYS_TR_NONE, obj = ESYS_TR_NONE, sess = ESYS_TR_NONE;
	int rc, transient = 0;
	TSS2_RC trc;

	if ((rc = blob_decode(buf, len, &pub, &priv)) != BT_OK)
		goto out;
	rc = persistent(ks, ks->primary_handle, &prim);
	if (rc == BT_ENOTFOUND) {
		/* the primary comes from a fixed template: recreate it */
		tpl_primary(&tpl);
		if ((rc = create_primary(ks, ESYS_TR_RH_OWNER, &tpl, &prim)) !=
		    BT_OK)
			goto out;
		transient = 1;
	} else if (rc != BT_OK)
		goto out;
	trc = Esys_Load(ks->esys, prim, ESYS_TR_PASSWORD, ESYS_TR_NONE,
	    ESYS_TR_NONE, &priv, &pub, &obj);
	if (trc != TSS2_RC_SUCCESS) {
		obj = ESYS_TR_NONE;
		rc = rcmap(ks, "Esys_Load (sealed seed)", trc);
		if (rc == BTTPM_E_TPM)
			rc = BTTPM_E_FOREIGN;
		goto out;
	}
	if ((rc = enc_session(ks, prim, &sess)) != BT_OK)
		goto out;
	trc = Esys_Unseal(ks->esys, obj, sess, ESYS_TR_NONE, ESYS_TR_NONE,
	    &data);
	if (trc != TSS2_RC_SUCCESS) {
		data = NULL;
		rc = rcmap(ks, "Esys_Unseal", trc);
		goto out;
	}
	if (data->size != BTCORE_ED25519_SEED_LEN) {
		rc = BT_ECORRUPT;
		goto out;
	}
	memcpy(seed, data->buffer, BTCORE_ED25519_SEED_LEN);
	if (transient && (rc = persist(ks, &prim, ks->primary_handle)) == BT_OK)
		transient = 0;
out:
	if (data != NULL) {
		btcore_wipe(data, sizeof(*data));
		Esys_Free(data);
	}
	flush(ks, &sess);
	flush(ks, &obj);
	if (transient)
		flush(ks, &prim);
	else
		tr_close(ks, &prim);
	return rc;
}

int
bttpm_tpm_open_(struct bttpm_keystore *ks, const char *tcti,
    const char *datadir, const struct bttpm_options *opt)
{
	char path[4096];
	uint8_t *blob = NULL, *seed = NULL;
	size_t blob_len = 0, seed_size = 0;
	ESYS_TR ak = ESYS_TR_NONE;
	int rc;

	ks->primary_handle = BTTPM_DEFAULT_PRIMARY_HANDLE;
	ks->ak_handle = BTTPM_DEFAULT_AK_HANDLE;
	if (opt != NULL && opt->primary_handle != 0)
		ks->primary_handle = opt->primary_handle;
	if (opt != NULL && opt->ak_handle != 0)
		ks->ak_handle = opt->ak_handle;
	if ((ks->primary_handle >> 24) != TPM2_HT_PERSISTENT ||
	    (ks->ak_handle >> 24) != TPM2_HT_PERSISTENT ||
	    ks->primary_handle == ks->ak_handle)
		return BT_EINVAL;
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", datadir,
	    BTTPM_SEALED_FILE) >= sizeof(path))
		return BT_ERANGE;
	if ((rc = connect_tpm(ks, tcti)) != BT_OK)
		goto out;
	rc = bttpm_file_read_(path, BLOB_MAX, &blob, &blob_len);
	if (rc != BT_OK && rc != BT_ENOTFOUND)
		goto out;
	if (rc == BT_ENOTFOUND && (opt == NULL ||
	    (opt->flags & BTTPM_OPEN_CREATE) == 0)) {
		bttpm_logf_(ks->log, ks->log_arg, "no sealed identity at %s",
		    path);
		rc = BTTPM_E_NOIDENTITY;
		goto out;
	}
	if ((seed = secure_alloc(ks, &seed_size)) == NULL) {
		rc = BT_ENOMEM;
		goto out;
	}
	if (blob == NULL)
		rc = create_identity(ks, path, seed);
	else
		rc = unseal_identity(ks, blob, blob_len, seed);
	if (rc != BT_OK)
		goto out;
	if ((rc = ak_handle(ks, &ak)) != BT_OK)
		goto out;
	rc = btcore_key_from_seed(&ks->key, seed);
out:
	tr_close(ks, &ak);
	secure_free(seed, seed_size);
	free(blob);
	return rc;
}

void
bttpm_tpm_close_(struct bttpm_keystore *ks)
{
	if (ks->esys != NULL)
		Esys_Finalize(&ks->esys);
	if (ks->tcti != NULL)
		Tss2_TctiLdr_Finalize(&ks->tcti);
}

int
bttpm_tpm_ekcert_(struct bttpm_keystore *ks, uint8_t **der, size_t *der_len)
{
	ESYS_TR nv = ESYS_TR_NONE;
	TPM2B_NV_PUBLIC *nvpub = NULL;
	TPM2B_MAX_NV_BUFFER *chunk = NULL;
	uint8_t *raw = NULL, *p;
	const uint8_t *cp;
	X509 *x = NULL;
	size_t size, off = 0, n;
	TSS2_RC trc;
	int rc, len;

	*der = NULL;
	*der_len = 0;
	trc = Esys_TR_FromTPMPublic(ks->esys, BTTPM_EK_CERT_NV_RSA,
	    ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &nv);
	if (trc != TSS2_RC_SUCCESS) {
		nv = ESYS_TR_NONE;
		rc = rcmap(ks, "EK certificate NV index 0x01c00002", trc);
		if (rc == BTTPM_E_TPM)
			rc = BTTPM_E_NOEK;
		goto out;
	}
	trc = Esys_NV_ReadPublic(ks->esys, nv, ESYS_TR_NONE, ESYS_TR_NONE,
	    ESYS_TR_NONE, &nvpub, NULL);
	if (trc != TSS2_RC_SUCCESS) {
		nvpub = NULL;
		rc = rcmap(ks, "Esys_NV_ReadPublic", trc);
		goto out;
	}
	size = nvpub->nvPublic.dataSize;
	if (size == 0 || size > BTTPM_EKCERT_MAX) {
		rc = BTTPM_E_NOEK;
		goto out;
	}
	if ((raw = malloc(size)) == NULL) {
		rc = BT_ENOMEM;
		goto out;
	}
	while (off < size) {
		n = size - off < NV_CHUNK ? size - off : NV_CHUNK;
		trc = Esys_NV_Read(ks->esys, nv, nv, ESYS_TR_PASSWORD,
		    ESYS_TR_NONE, ESYS_TR_NONE, (UINT16)n, (UINT16)off, &chunk);
		if (trc != TSS2_RC_SUCCESS) {
			chunk = NULL;
			rc = rcmap(ks, "Esys_NV_Read", trc);
			goto out;
		}
		if (chunk->size != n) {
			rc = BTTPM_E_TPM;
			goto out;
		}
		memcpy(raw + off, chunk->buffer, n);
		off += n;
		Esys_Free(chunk);
		chunk = NULL;
	}
	/* NV areas may be padded: keep exactly the certificate's DER */
	cp = raw;
	if ((x = d2i_X509(NULL, &cp, (long)size)) == NULL ||
	    (len = i2d_X509(x, NULL)) <= 0 || (size_t)len > BTTPM_EKCERT_MAX) {
		rc = BTTPM_E_NOEK;
		goto out;
	}
	if ((*der = malloc((size_t)len)) == NULL) {
		rc = BT_ENOMEM;
		goto out;
	}
	p = *der;
	(void)i2d_X509(x, &p);
	*der_len = (size_t)len;
	rc = BT_OK;
out:
	X509_free(x);
	Esys_Free(chunk);
	Esys_Free(nvpub);
	free(raw);
	tr_close(ks, &nv);
	return rc;
}

int
bttpm_tpm_akpub_(struct bttpm_keystore *ks, TPM2B_PUBLIC *out)
{
	TPM2B_PUBLIC *pub = NULL;
	ESYS_TR ak = ESYS_TR_NONE;
	TSS2_RC trc;
	int rc;

	if ((rc = ak_handle(ks, &ak)) != BT_OK)
		goto out;
	trc = Esys_ReadPublic(ks->esys, ak, ESYS_TR_NONE, ESYS_TR_NONE,
	    ESYS_TR_NONE, &pub, NULL, NULL);
	if (trc != TSS2_RC_SUCCESS) {
		pub = NULL;
		rc = rcmap(ks, "Esys_ReadPublic (AK)", trc);
		goto out;
	}
	*out = *pub;
out:
	Esys_Free(pub);
	tr_close(ks, &ak);
	return rc;
}

int
bttpm_tpm_sign_(struct bttpm_keystore *ks, const uint8_t *msg, size_t len,
    TPMT_SIGNATURE *sig)
{
	TPM2B_MAX_BUFFER data;
	TPM2B_DIGEST *digest = NULL;
	TPMT_TK_HASHCHECK *ticket = NULL;
	TPMT_SIG_SCHEME scheme;
	TPMT_SIGNATURE *s = NULL;
	ESYS_TR ak = ESYS_TR_NONE;
	TSS2_RC trc;
	int rc;

	if (len > sizeof(data.buffer))
		return BT_ERANGE;
	data.size = (UINT16)len;
	memcpy(data.buffer, msg, len);
	if ((rc = ak_handle(ks, &ak)) != BT_OK)
		goto out;
	/* a restricted key signs only a digest the TPM made itself */
	trc = Esys_Hash(ks->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
	    &data, TPM2_ALG_SHA256, ESYS_TR_RH_OWNER, &digest, &ticket);
	if (trc != TSS2_RC_SUCCESS) {
		digest = NULL;
		ticket = NULL;
		rc = rcmap(ks, "Esys_Hash", trc);
		goto out;
	}
	memset(&scheme, 0, sizeof(scheme));
	scheme.scheme = TPM2_ALG_ECDSA;
	scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256;
	trc = Esys_Sign(ks->esys, ak, ESYS_TR_PASSWORD, ESYS_TR_NONE,
	    ESYS_TR_NONE, digest, &scheme, ticket, &s);
	if (trc != TSS2_RC_SUCCESS) {
		s = NULL;
		rc = rcmap(ks, "Esys_Sign", trc);
		goto out;
	}
	*sig = *s;
out:
	Esys_Free(s);
	Esys_Free(digest);
	Esys_Free(ticket);
	tr_close(ks, &ak);
	return rc;
}

int
bttpm_tpm_activate_(struct bttpm_keystore *ks, const TPM2B_ID_OBJECT *cred,
    const TPM2B_ENCRYPTED_SECRET *secret, uint8_t out[32])
{
	TPM2B_PUBLIC tpl;
	TPM2B_NONCE nonce;
	TPM2B_DIGEST *info = NULL;
	TPMT_SYM_DEF sym;
	ESYS_TR ak = ESYS_TR_NONE, ek = ESYS_TR_NONE, ps = ESYS_TR_NONE;
	TSS2_RC trc;
	int rc, ek_transient = 0;

	if ((rc = ak_handle(ks, &ak)) != BT_OK)
		goto out;
	rc = persistent(ks, BTTPM_EK_HANDLE_RSA, &ek);
	if (rc == BT_ENOTFOUND) {
		tpl_ek_rsa(&tpl);
		if ((rc = create_primary(ks, ESYS_TR_RH_ENDORSEMENT, &tpl,
		    &ek)) != BT_OK)
			goto out;
		ek_transient = 1;
	} else if (rc != BT_OK)
		goto out;
	memset(&sym, 0, sizeof(sym));
	sym.algorithm = TPM2_ALG_NULL;
	trc = Esys_StartAuthSession(ks->esys, ESYS_TR_NONE, ESYS_TR_NONE,
	    ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, NULL, TPM2_SE_POLICY,
	    &sym, TPM2_ALG_SHA256, &ps);
	if (trc != TSS2_RC_SUCCESS) {
		ps = ESYS_TR_NONE;
		rc = rcmap(ks, "Esys_StartAuthSession (policy)", trc);
		goto out;
	}
	memset(&nonce, 0, sizeof(nonce));
	trc = Esys_PolicySecret(ks->esys, ESYS_TR_RH_ENDORSEMENT, ps,
	    ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &nonce, NULL, NULL, 0,
	    NULL, NULL);
	if (trc != TSS2_RC_SUCCESS) {
		rc = rcmap(ks, "Esys_PolicySecret", trc);
		goto out;
	}
	trc = Esys_ActivateCredential(ks->esys, ak, ek, ESYS_TR_PASSWORD, ps,
	    ESYS_TR_NONE, cred, secret, &info);
	if (trc != TSS2_RC_SUCCESS) {
		info = NULL;
		rc = rcmap(ks, "Esys_ActivateCredential", trc);
		if (rc == BTTPM_E_TPM)
			rc = BTTPM_E_ACTIVATION;
		goto out;
	}
	if (info->size != 32) {
		rc = BTTPM_E_ACTIVATION;
		goto out;
	}
	memcpy(out, info->buffer, 32);
	rc = BT_OK;
out:
	if (info != NULL) {
		btcore_wipe(info, sizeof(*info));
		Esys_Free(info);
	}
	flush(ks, &ps);
	if (ek_transient)
		flush(ks, &ek);
	else
		tr_close(ks, &ek);
	tr_close(ks, &ak);
	return rc;
}
