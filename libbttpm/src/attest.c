/*
 * attest.c - verifying attestation statements, credential activation
 * challenges (TPM2_MakeCredential in software) and admission policy.
 *
 * Challenge, integers big endian:
 *   "BTTC" | version 1 | u16 n | TPM2B_ID_OBJECT contents [n] |
 *   u16 n | TPM2B_ENCRYPTED_SECRET contents [n]
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <openssl/pem.h>

#include <bt/hash.h>
#include <bt/id.h>

#include "bttpm-internal.h"

struct bttpm_verifier {
	X509_STORE	*store;
};

static const uint8_t chal_magic[4] = { 'B', 'T', 'T', 'C' };
#define CHAL_VERSION	1

int
bttpm_verifier_new(struct bttpm_verifier **out)
{
	struct bttpm_verifier *v;

	if (out == NULL)
		return BT_EINVAL;
	*out = NULL;
	if ((v = calloc(1, sizeof(*v))) == NULL)
		return BT_ENOMEM;
	if ((v->store = X509_STORE_new()) == NULL) {
		free(v);
		return BT_ENOMEM;
	}
	*out = v;
	return BT_OK;
}

void
bttpm_verifier_free(struct bttpm_verifier *v)
{
	if (v == NULL)
		return;
	X509_STORE_free(v->store);
	free(v);
}

int
bttpm_verifier_add_ca_file(struct bttpm_verifier *v, const char *path)
{
	BIO *bio = NULL;
	X509 *x = NULL;
	int rc, count = 0;

	if (v == NULL || path == NULL)
		return BT_EINVAL;
	if ((bio = BIO_new_file(path, "r")) == NULL) {
		rc = BT_ENOTFOUND;
		goto out;
	}
	while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		if (X509_STORE_add_cert(v->store, x) != 1) {
			X509_free(x);
			rc = BT_ENOMEM;
			goto out;
		}
		X509_free(x);
		count++;
	}
	rc = count > 0 ? BT_OK : BT_EFORMAT;
out:
	ERR_clear_error();
	BIO_free(bio);
	return rc;
}

/*
 * EK certificates may mark the TCG subjectDirectoryAttributes (2.5.29.9)
 * critical, which OpenSSL does not process.  Accept exactly that on the
 * end-entity certificate; every other unhandled critical extension, and
 * every other error, still fails the chain.
 */
static int
ek_verify_cb(int ok, X509_STORE_CTX *ctx)
{
	X509 *x;
	X509_EXTENSION *ext;
	int i, n;

	if (ok || X509_STORE_CTX_get_error(ctx) !=
	    X509_V_ERR_UNHANDLED_CRITICAL_EXTENSION ||
	    X509_STORE_CTX_get_error_depth(ctx) != 0)
		return ok;
	x = X509_STORE_CTX_get_current_cert(ctx);
	n = X509_get_ext_count(x);
	for (i = 0; i < n; i++) {
		ext = X509_get_ext(x, i);
		if (!X509_EXTENSION_get_critical(ext) ||
		    X509_supported_extension(ext))
			continue;
		if (OBJ_obj2nid(X509_EXTENSION_get_object(ext)) !=
		    NID_subject_directory_attributes)
			return 0;
	}
	X509_STORE_CTX_set_error(ctx, X509_V_OK);
	return 1;
}

static int
parse_cert(const uint8_t *der, size_t len, X509 **out)
{
	const uint8_t *p = der;
	X509 *x;

	*out = NULL;
	if ((x = d2i_X509(NULL, &p, (long)len)) == NULL)
		return BT_EFORMAT;
	if (p != der + len) {
		X509_free(x);
		return BT_EFORMAT;
	}
	*out = x;
	return BT_OK;
}

static int
ek_id_of(X509 *x, struct bt_id *id)
{
	uint8_t *der = NULL;
	int len, rc;

	if ((len = i2d_PUBKEY(X509_get0_pubkey(x), &der)) <= 0)
		return BT_ECRYPTO;
	rc = btcore_id_hash(id, der, (size_t)len);
	OPENSSL_free(der);
	return rc;
}

static int
ak_is_acceptable(const TPMT_PUBLIC *a)
{
	const TPMA_OBJECT need = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
	    TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_RESTRICTED |
	    TPMA_OBJECT_SIGN_ENCRYPT;

	return a->type == TPM2_ALG_ECC && a->nameAlg == TPM2_ALG_SHA256 &&
	    (a->objectAttributes & need) == need &&
	    (a->objectAttributes & TPMA_OBJECT_DECRYPT) == 0 &&
	    a->parameters.eccDetail.curveID == TPM2_ECC_NIST_P256 &&
	    a->parameters.eccDetail.scheme.scheme == TPM2_ALG_ECDSA &&
	    a->parameters.eccDetail.scheme.details.ecdsa.hashAlg ==
	    TPM2_ALG_SHA256 &&
	    a->unique.ecc.x.size == 32 && a->unique.ecc.y.size == 32;
}

/* Verify an ECDSA P-256 TPM signature over SHA-256(@p msg). */
static int
ak_sig_verify(const TPMT_PUBLIC *a, const TPMT_SIGNATURE *sig,
    const uint8_t *msg, size_t len)
{
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *pctx = NULL;
	EVP_PKEY *pkey = NULL;
	EVP_MD_CTX *md = NULL;
	ECDSA_SIG *es = NULL;
	BIGNUM *r = NULL, *s = NULL;
	uint8_t point[65], *der = NULL;
	int der_len, rc = BTTPM_E_AKSIG;

	if (sig->sigAlg != TPM2_ALG_ECDSA ||
	    sig->signature.ecdsa.hash != TPM2_ALG_SHA256 ||
	    sig->signature.ecdsa.signatureR.size == 0 ||
	    sig->signature.ecdsa.signatureR.size > 32 ||
	    sig->signature.ecdsa.signatureS.size == 0 ||
	    sig->signature.ecdsa.signatureS.size > 32)
		return BTTPM_E_AKSIG;
	point[0] = 0x04;
	memcpy(point + 1, a->unique.ecc.x.buffer, 32);
	memcpy(point + 33, a->unique.ecc.y.buffer, 32);
	rc = BT_ECRYPTO;
	if ((bld = OSSL_PARAM_BLD_new()) == NULL ||
	    !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
	    "prime256v1", 0) ||
	    !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY,
	    point, sizeof(point)) ||
	    (params = OSSL_PARAM_BLD_to_param(bld)) == NULL ||
	    (pctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(pctx) != 1)
		goto out;
	if (EVP_PKEY_fromdata(pctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1) {
		rc = BTTPM_E_AK;	/* not a point on the curve */
		goto out;
	}
	if ((es = ECDSA_SIG_new()) == NULL ||
	    (r = BN_bin2bn(sig->signature.ecdsa.signatureR.buffer,
	    sig->signature.ecdsa.signatureR.size, NULL)) == NULL ||
	    (s = BN_bin2bn(sig->signature.ecdsa.signatureS.buffer,
	    sig->signature.ecdsa.signatureS.size, NULL)) == NULL ||
	    ECDSA_SIG_set0(es, r, s) != 1)
		goto out;
	r = s = NULL;
	if ((der_len = i2d_ECDSA_SIG(es, &der)) <= 0 ||
	    (md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestVerifyInit_ex(md, NULL, "SHA256", NULL, NULL, pkey,
	    NULL) != 1)
		goto out;
	rc = EVP_DigestVerify(md, der, (size_t)der_len, msg, len) == 1 ?
	    BT_OK : BTTPM_E_AKSIG;
out:
	ERR_clear_error();
	OPENSSL_free(der);
	EVP_MD_CTX_free(md);
	BN_free(r);
	BN_free(s);
	ECDSA_SIG_free(es);
	EVP_PKEY_free(pkey);
	EVP_PKEY_CTX_free(pctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	return rc;
}

int
bttpm_statement_verify(const struct bttpm_verifier *v, const uint8_t *stmt,
    size_t len, struct bt_id *ek_id, struct bt_pubkey *pub, uint64_t *when)
{
	struct bttpm_stmt_ st;
	uint8_t msg[BTTPM_STMT_MSG_LEN];
	X509_STORE_CTX *ctx = NULL;
	X509 *cert = NULL;
	struct bt_id id;
	int rc;

	if (ek_id != NULL)
		memset(ek_id, 0, sizeof(*ek_id));
	if (pub != NULL)
		memset(pub, 0, sizeof(*pub));
	if (when != NULL)
		*when = 0;
	if (v == NULL || stmt == NULL)
		return BT_EINVAL;
	if ((rc = bttpm_stmt_decode_(stmt, len, &st)) != BT_OK)
		return rc;
	if ((rc = bttpm_stmt_msg_(&st, msg)) != BT_OK)
		goto out;
	if (btcore_sig_verify(&st.pub, msg, sizeof(msg), &st.edsig) != BT_OK) {
		rc = BTTPM_E_CLAIMSIG;
		goto out;
	}
	if (st.kind == BTTPM_STMT_SOFT) {
		if (pub != NULL)
			*pub = st.pub;
		if (when != NULL)
			*when = st.when;
		rc = BTTPM_E_UNATTESTED;
		goto out;
	}
	if ((rc = parse_cert(st.ekcert, st.ekcert_len, &cert)) != BT_OK)
		goto out;
	if ((ctx = X509_STORE_CTX_new()) == NULL) {
		rc = BT_ENOMEM;
		goto out;
	}
	/* the store is only read during verification */
	if (X509_STORE_CTX_init(ctx, v->store, cert, NULL) != 1) {
		rc = BT_ECRYPTO;
		goto out;
	}
	X509_STORE_CTX_set_verify_cb(ctx, ek_verify_cb);
	if (X509_verify_cert(ctx) != 1) {
		rc = BTTPM_E_EKCERT;
		goto out;
	}
	if (!ak_is_acceptable(&st.ak.publicArea)) {
		rc = BTTPM_E_AK;
		goto out;
	}
	if ((rc = ak_sig_verify(&st.ak.publicArea, &st.sig, msg,
	    sizeof(msg))) != BT_OK)
		goto out;
	if ((rc = ek_id_of(cert, &id)) != BT_OK)
		goto out;
	if (ek_id != NULL)
		*ek_id = id;
	if (pub != NULL)
		*pub = st.pub;
	if (when != NULL)
		*when = st.when;
out:
	ERR_clear_error();
	X509_STORE_CTX_free(ctx);
	X509_free(cert);
	return rc;
}

/* KDFa (TPM 2.0 Part 1, 11.4.10.2) with HMAC-SHA256; @p label with NUL. */
static int
kdfa(uint8_t *out, size_t bits, const uint8_t *key, size_t key_len,
    const char *label, const uint8_t *ctx_u, size_t ctx_u_len)
{
	uint8_t in[4 + 16 + 64 + 4], block[32];
	size_t label_len = strlen(label) + 1, n, off = 0, need = bits / 8;
	unsigned int hlen;
	uint32_t i;

	if (label_len > 16 || ctx_u_len > 64)
		return BT_EINVAL;
	for (i = 1; off < need; i++) {
		in[0] = (uint8_t)(i >> 24);
		in[1] = (uint8_t)(i >> 16);
		in[2] = (uint8_t)(i >> 8);
		in[3] = (uint8_t)i;
		n = 4;
		memcpy(in + n, label, label_len);
		n += label_len;
		if (ctx_u_len > 0)
			memcpy(in + n, ctx_u, ctx_u_len);
		n += ctx_u_len;
		in[n++] = (uint8_t)(bits >> 24);
		in[n++] = (uint8_t)(bits >> 16);
		in[n++] = (uint8_t)(bits >> 8);
		in[n++] = (uint8_t)bits;
		hlen = sizeof(block);
		if (HMAC(EVP_sha256(), key, (int)key_len, in, n, block,
		    &hlen) == NULL || hlen != 32)
			return BT_ECRYPTO;
		memcpy(out + off, block, need - off < 32 ? need - off : 32);
		off += need - off < 32 ? need - off : 32;
	}
	btcore_wipe(block, sizeof(block));
	return BT_OK;
}

static int
rsa_oaep_identity(EVP_PKEY *ek, const uint8_t *in, size_t in_len,
    uint8_t *out, size_t *out_len)
{
	static const char label[] = "IDENTITY";
	EVP_PKEY_CTX *ctx = NULL;
	void *lab = NULL;
	int rc = BT_ECRYPTO;

	if ((ctx = EVP_PKEY_CTX_new(ek, NULL)) == NULL ||
	    EVP_PKEY_encrypt_init(ctx) != 1 ||
	    EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) != 1 ||
	    EVP_PKEY_CTX_set_rsa_oaep_md(ctx, EVP_sha256()) != 1 ||
	    EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, EVP_sha256()) != 1 ||
	    (lab = OPENSSL_memdup(label, sizeof(label))) == NULL)
		goto out;
	/* takes ownership of the label, with its NUL */
	if (EVP_PKEY_CTX_set0_rsa_oaep_label(ctx, lab, sizeof(label)) != 1)
		goto out;
	lab = NULL;
	if (EVP_PKEY_encrypt(ctx, out, out_len, in, in_len) != 1)
		goto out;
	rc = BT_OK;
out:
	OPENSSL_free(lab);
	EVP_PKEY_CTX_free(ctx);
	return rc;
}

int
bttpm_challenge_make(const uint8_t *stmt, size_t len, uint8_t secret[32],
    uint8_t **challenge, size_t *challenge_len)
{
	struct bttpm_stmt_ st;
	X509 *cert = NULL;
	EVP_PKEY *ek;
	EVP_CIPHER_CTX *cctx = NULL;
	uint8_t name[34], seed[32], symkey[16], hmackey[32], iv[16];
	uint8_t plain[34], enc_ident[34], hmac_in[34 + 34], hmac[32];
	uint8_t encsec[256], *buf = NULL;
	size_t encsec_len = sizeof(encsec), off;
	unsigned int hlen = sizeof(hmac);
	int outl, rc;

	if (secret != NULL)
		memset(secret, 0, 32);
	if (challenge != NULL)
		*challenge = NULL;
	if (challenge_len != NULL)
		*challenge_len = 0;
	if (stmt == NULL || secret == NULL || challenge == NULL ||
	    challenge_len == NULL)
		return BT_EINVAL;
	if ((rc = bttpm_stmt_decode_(stmt, len, &st)) != BT_OK)
		return rc;
	if (st.kind != BTTPM_STMT_TPM)
		return BTTPM_E_UNATTESTED;
	if ((rc = parse_cert(st.ekcert, st.ekcert_len, &cert)) != BT_OK)
		goto out;
	ek = X509_get0_pubkey(cert);
	if (ek == NULL || EVP_PKEY_get_base_id(ek) != EVP_PKEY_RSA ||
	    EVP_PKEY_get_bits(ek) != 2048) {
		rc = BTTPM_E_EKCERT;
		goto out;
	}
	if ((rc = bttpm_ak_name_(&st.ak, name)) != BT_OK)
		goto out;
	if ((rc = btcore_random_bytes(secret, 32)) != BT_OK ||
	    (rc = btcore_random_bytes(seed, sizeof(seed))) != BT_OK)
		goto out;
	if ((rc = rsa_oaep_identity(ek, seed, sizeof(seed), encsec,
	    &encsec_len)) != BT_OK)
		goto out;
	if ((rc = kdfa(symkey, 128, seed, sizeof(seed), "STORAGE", name,
	    sizeof(name))) != BT_OK ||
	    (rc = kdfa(hmackey, 256, seed, sizeof(seed), "INTEGRITY", NULL,
	    0)) != BT_OK)
		goto out;
	/* the credential as a marshalled TPM2B_DIGEST, AES-128-CFB, zero IV */
	bttpm_put_be16_(plain, 32);
	memcpy(plain + 2, secret, 32);
	memset(iv, 0, sizeof(iv));
	rc = BT_ECRYPTO;
	if ((cctx = EVP_CIPHER_CTX_new()) == NULL ||
	    EVP_EncryptInit_ex(cctx, EVP_aes_128_cfb128(), NULL, symkey, iv) != 1 ||
	    EVP_EncryptUpdate(cctx, enc_ident, &outl, plain, sizeof(plain)) != 1 ||
	    outl != (int)sizeof(plain))
		goto out;
	memcpy(hmac_in, enc_ident, sizeof(enc_ident));
	memcpy(hmac_in + sizeof(enc_ident), name, sizeof(name));
	if (HMAC(EVP_sha256(), hmackey, sizeof(hmackey), hmac_in,
	    sizeof(hmac_in), hmac, &hlen) == NULL || hlen != 32)
		goto out;
	*challenge_len = 5 + 2 + 2 + 32 + sizeof(enc_ident) + 2 + encsec_len;
	if ((buf = malloc(*challenge_len)) == NULL) {
		*challenge_len = 0;
		rc = BT_ENOMEM;
		goto out;
	}
	memcpy(buf, chal_magic, 4);
	buf[4] = CHAL_VERSION;
	off = 5;
	bttpm_put_be16_(buf + off, (uint16_t)(2 + 32 + sizeof(enc_ident)));
	bttpm_put_be16_(buf + off + 2, 32);
	memcpy(buf + off + 4, hmac, 32);
	memcpy(buf + off + 36, enc_ident, sizeof(enc_ident));
	off += 2 + 2 + 32 + sizeof(enc_ident);
	bttpm_put_be16_(buf + off, (uint16_t)encsec_len);
	memcpy(buf + off + 2, encsec, encsec_len);
	*challenge = buf;
	rc = BT_OK;
out:
	if (rc != BT_OK)
		btcore_wipe(secret, 32);
	ERR_clear_error();
	EVP_CIPHER_CTX_free(cctx);
	X509_free(cert);
	btcore_wipe(seed, sizeof(seed));
	btcore_wipe(symkey, sizeof(symkey));
	btcore_wipe(hmackey, sizeof(hmackey));
	btcore_wipe(plain, sizeof(plain));
	return rc;
}

int
bttpm_challenge_decode_(const uint8_t *buf, size_t len, TPM2B_ID_OBJECT *cred,
    TPM2B_ENCRYPTED_SECRET *secret)
{
	size_t off = 5, n;

	memset(cred, 0, sizeof(*cred));
	memset(secret, 0, sizeof(*secret));
	if (len < 5 + 2 + 2)
		return BT_ETRUNC;
	if (memcmp(buf, chal_magic, 4) != 0 || buf[4] != CHAL_VERSION)
		return BT_EFORMAT;
	n = bttpm_get_be16_(buf + off);
	off += 2;
	if (n == 0 || n > sizeof(cred->credential) || len - off < n + 2)
		return BT_EFORMAT;
	cred->size = (UINT16)n;
	memcpy(cred->credential, buf + off, n);
	off += n;
	n = bttpm_get_be16_(buf + off);
	off += 2;
	if (n == 0 || n > sizeof(secret->secret) || len - off != n)
		return BT_EFORMAT;
	secret->size = (UINT16)n;
	memcpy(secret->secret, buf + off, n);
	return BT_OK;
}

int
bttpm_admission_check(const struct bttpm_verifier *v, int policy,
    const struct bt_pubkey *peer, const uint8_t *stmt, size_t len,
    const uint8_t *expected, const uint8_t *response, struct bt_id *ek_id)
{
	struct bt_pubkey pub;
	struct bt_id id;
	int rc;

	if (ek_id != NULL)
		memset(ek_id, 0, sizeof(*ek_id));
	if (v == NULL || peer == NULL || (policy != BTTPM_POLICY_OPEN &&
	    policy != BTTPM_POLICY_ATTESTED && policy != BTTPM_POLICY_ACTIVATED))
		return BT_EINVAL;
	if (stmt == NULL || len == 0)
		return policy == BTTPM_POLICY_OPEN ? BT_OK : BTTPM_E_NOSTATEMENT;
	rc = bttpm_statement_verify(v, stmt, len, &id, &pub, NULL);
	if (rc != BT_OK && rc != BTTPM_E_UNATTESTED)
		return rc;
	if (!btcore_ct_equal(pub.b, peer->b, sizeof(pub.b)))
		return BTTPM_E_KEYMISMATCH;
	if (rc == BTTPM_E_UNATTESTED)
		return policy == BTTPM_POLICY_OPEN ? BT_OK : BTTPM_E_UNATTESTED;
	if (policy == BTTPM_POLICY_ACTIVATED && (expected == NULL ||
	    response == NULL || !btcore_ct_equal(expected, response, 32)))
		return BTTPM_E_ACTIVATION;
	if (ek_id != NULL)
		*ek_id = id;
	return BT_OK;
}
