/*
 * keystore.c - the keystore front: URI dispatch, signer, statements,
 * error texts.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <bt/error.h>
#include <bt/hash.h>
#include <bt/tpm.h>

#include "bttpm-internal.h"

#ifndef BTTPM_VERSION_STRING
#error "the build defines BTTPM_VERSION_STRING from libbttpm/VERSION"
#endif

const char *
bttpm_strerror(int err)
{
	switch (err) {
	case BTTPM_E_TCTI:
		return "TPM unreachable: the TCTI cannot be loaded or the TPM does not answer";
	case BTTPM_E_TPM:	return "the TPM refused a command";
	case BTTPM_E_NOIDENTITY: return "the keystore holds no node identity";
	case BTTPM_E_ORPHAN:
		return "the TPM holds an identity at this handle but its sealed blob is missing";
	case BTTPM_E_FOREIGN:
		return "the sealed blob belongs to another TPM or another storage key";
	case BTTPM_E_URI:
		return "keystore URI is neither tpm:<TCTI> nor file:<path>";
	case BTTPM_E_PASSPHRASE: return "passphrase missing or wrong";
	case BTTPM_E_UNATTESTED:
		return "identity is software-only (unattested by a TPM)";
	case BTTPM_E_NOSTATEMENT: return "no attestation statement presented";
	case BTTPM_E_EKCERT:
		return "endorsement certificate does not chain to a trusted CA";
	case BTTPM_E_AK:
		return "attestation key is not a restricted TPM-resident ECDSA P-256 key";
	case BTTPM_E_AKSIG:	return "attestation key signature does not verify";
	case BTTPM_E_CLAIMSIG:	return "node key signature does not verify";
	case BTTPM_E_KEYMISMATCH:
		return "statement is for a different node key";
	case BTTPM_E_ACTIVATION: return "credential activation failed";
	case BTTPM_E_CLAIMED:
		return "endorsement id already claimed by another key";
	case BTTPM_E_NOEK:	return "the TPM has no endorsement certificate";
	default:		return btcore_strerror(err);
	}
}

const char *
bttpm_version(void)
{
	return BTTPM_VERSION_STRING;
}

void
bttpm_free(void *p)
{
	free(p);
}

void
bttpm_logf_(void (*log)(void *, const char *), void *arg, const char *fmt,
    ...)
{
	char buf[512];
	va_list ap;

	if (log == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	log(arg, buf);
}

int
bttpm_keystore_open(struct bttpm_keystore **out, const char *uri,
    const char *datadir, const struct bttpm_options *opt)
{
	struct bttpm_keystore *ks = NULL;
	int rc;

	if (out == NULL)
		return BT_EINVAL;
	*out = NULL;
	if (uri == NULL || (opt != NULL && opt->version != BTTPM_OPTIONS_VERSION))
		return BT_EINVAL;
	if ((ks = calloc(1, sizeof(*ks))) == NULL)
		return BT_ENOMEM;
	if (opt != NULL) {
		ks->log = opt->log;
		ks->log_arg = opt->log_arg;
	}
	if (strncmp(uri, "tpm:", 4) == 0 && uri[4] != '\0') {
		ks->kind = BTTPM_KIND_TPM;
		if (datadir == NULL || datadir[0] == '\0') {
			rc = BT_EINVAL;
			goto out;
		}
		rc = bttpm_tpm_open_(ks, uri + 4, datadir, opt);
	} else if (strncmp(uri, "file:", 5) == 0 && uri[5] != '\0') {
		ks->kind = BTTPM_KIND_SOFT;
		rc = bttpm_soft_open_(ks, uri + 5, opt);
	} else {
		bttpm_logf_(ks->log, ks->log_arg,
		    "keystore URI \"%s\" is neither tpm:<TCTI> nor file:<path>",
		    uri);
		rc = BTTPM_E_URI;
	}
	if (rc == BT_OK)
		btcore_key_public(ks->key, &ks->pub);
out:
	if (rc != BT_OK) {
		bttpm_keystore_close(ks);
		ks = NULL;
	}
	*out = ks;
	return rc;
}

void
bttpm_keystore_close(struct bttpm_keystore *ks)
{
	if (ks == NULL)
		return;
	btcore_key_free(ks->key);
	if (ks->kind == BTTPM_KIND_TPM)
		bttpm_tpm_close_(ks);
	btcore_wipe(ks, sizeof(*ks));
	free(ks);
}

void
bttpm_keystore_signer(const struct bttpm_keystore *ks,
    struct btcore_signer *out)
{
	btcore_key_signer(ks->key, out);
}

void
bttpm_keystore_public(const struct bttpm_keystore *ks, struct bt_pubkey *out)
{
	*out = ks->pub;
}

int
bttpm_keystore_is_tpm(const struct bttpm_keystore *ks)
{
	return ks != NULL && ks->kind == BTTPM_KIND_TPM;
}

static int
marshal_akpub(const TPM2B_PUBLIC *ak, uint8_t *buf, size_t *len)
{
	size_t off = 0;

	if (Tss2_MU_TPM2B_PUBLIC_Marshal(ak, buf, BTTPM_AKPUB_MAX, &off) !=
	    TSS2_RC_SUCCESS)
		return BT_EFORMAT;
	*len = off;
	return BT_OK;
}

int
bttpm_keystore_attest(struct bttpm_keystore *ks, uint64_t when,
    uint8_t **out, size_t *out_len)
{
	struct bttpm_stmt_ st;
	uint8_t msg[BTTPM_STMT_MSG_LEN];
	uint8_t akpub[BTTPM_AKPUB_MAX], aksig[BTTPM_AKSIG_MAX];
	uint8_t *ekcert = NULL;
	size_t ekcert_len = 0, off;
	int rc;

	if (out != NULL)
		*out = NULL;
	if (out_len != NULL)
		*out_len = 0;
	if (ks == NULL || out == NULL || out_len == NULL)
		return BT_EINVAL;
	memset(&st, 0, sizeof(st));
	st.pub = ks->pub;
	st.when = when;
	if (ks->kind == BTTPM_KIND_TPM) {
		st.kind = BTTPM_STMT_TPM;
		if ((rc = bttpm_tpm_ekcert_(ks, &ekcert, &ekcert_len)) != BT_OK)
			goto out;
		if ((rc = bttpm_tpm_akpub_(ks, &st.ak)) != BT_OK)
			goto out;
		if ((rc = marshal_akpub(&st.ak, akpub, &st.akpub_len)) != BT_OK)
			goto out;
		st.ekcert = ekcert;
		st.ekcert_len = ekcert_len;
		st.akpub = akpub;
		if ((rc = bttpm_stmt_msg_(&st, msg)) != BT_OK)
			goto out;
		if ((rc = bttpm_tpm_sign_(ks, msg, sizeof(msg), &st.sig)) != BT_OK)
			goto out;
		off = 0;
		if (Tss2_MU_TPMT_SIGNATURE_Marshal(&st.sig, aksig, sizeof(aksig),
		    &off) != TSS2_RC_SUCCESS) {
			rc = BT_EFORMAT;
			goto out;
		}
		st.aksig = aksig;
		st.aksig_len = off;
	} else {
		st.kind = BTTPM_STMT_SOFT;
		if ((rc = bttpm_stmt_msg_(&st, msg)) != BT_OK)
			goto out;
	}
	if ((rc = btcore_key_sign(ks->key, msg, sizeof(msg), &st.edsig)) != BT_OK)
		goto out;
	rc = bttpm_stmt_encode_(&st, out, out_len);
out:
	free(ekcert);
	return rc;
}

int
bttpm_keystore_activate(struct bttpm_keystore *ks, const uint8_t *challenge,
    size_t len, uint8_t secret[32])
{
	TPM2B_ID_OBJECT cred;
	TPM2B_ENCRYPTED_SECRET enc;
	int rc;

	if (secret != NULL)
		memset(secret, 0, 32);
	if (ks == NULL || challenge == NULL || secret == NULL)
		return BT_EINVAL;
	if (ks->kind != BTTPM_KIND_TPM)
		return BTTPM_E_UNATTESTED;
	if ((rc = bttpm_challenge_decode_(challenge, len, &cred, &enc)) != BT_OK)
		return rc;
	return bttpm_tpm_activate_(ks, &cred, &enc, secret);
}
