/*
 * bttpm-internal.h - shared inside libbttpm only; never installed.
 */
#ifndef BTTPM_INTERNAL_H
#define BTTPM_INTERNAL_H

#include <stdint.h>
#include <string.h>

#include <tss2/tss2_esys.h>
#include <tss2/tss2_mu.h>

#include <bt/key.h>
#include <bt/tpm.h>

/* Backends of a keystore. */
#define BTTPM_KIND_TPM		1
#define BTTPM_KIND_SOFT		2

/* Well-known TPM locations (TCG EK Credential Profile). */
#define BTTPM_EK_CERT_NV_RSA	0x01c00002u
#define BTTPM_EK_HANDLE_RSA	0x81010001u

/* Limits of the statement encoding. */
#define BTTPM_EKCERT_MAX	4096
#define BTTPM_AKPUB_MAX		512
#define BTTPM_AKSIG_MAX		256

/* The message signed by the AK and by the node key: see bttpm_stmt_msg_(). */
#define BTTPM_STMT_MSG_LEN	(29 + 1 + 32 + 8 + 32)

/* Statement kinds on the wire. */
#define BTTPM_STMT_TPM		1
#define BTTPM_STMT_SOFT		2

struct bttpm_keystore {
	int			kind;
	struct btcore_key	*key;
	struct bt_pubkey	pub;
	void			(*log)(void *arg, const char *msg);
	void			*log_arg;
	/* tpm backend */
	TSS2_TCTI_CONTEXT	*tcti;
	ESYS_CONTEXT		*esys;
	uint32_t		primary_handle;
	uint32_t		ak_handle;
};

/* A decoded statement; the pointers point into the decoded buffer. */
struct bttpm_stmt_ {
	uint8_t			kind;
	struct bt_pubkey	pub;
	uint64_t		when;
	const uint8_t		*ekcert;
	size_t			ekcert_len;
	const uint8_t		*akpub;
	size_t			akpub_len;
	const uint8_t		*aksig;
	size_t			aksig_len;
	TPM2B_PUBLIC		ak;	/* akpub, unmarshalled */
	TPMT_SIGNATURE		sig;	/* aksig, unmarshalled */
	struct bt_sig		edsig;
};

/* Log through the keystore's callback (printf-style; truncated). */
void bttpm_logf_(void (*log)(void *, const char *), void *arg,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* statement.c */
int bttpm_stmt_decode_(const uint8_t *buf, size_t len, struct bttpm_stmt_ *out);
int bttpm_stmt_encode_(const struct bttpm_stmt_ *st, uint8_t **out,
    size_t *out_len);
int bttpm_stmt_msg_(const struct bttpm_stmt_ *st,
    uint8_t msg[BTTPM_STMT_MSG_LEN]);
int bttpm_ak_name_(const TPM2B_PUBLIC *ak, uint8_t name[34]);
int bttpm_file_write_(const char *path, const void *data, size_t len);
int bttpm_file_read_(const char *path, size_t max, uint8_t **out,
    size_t *out_len);

/* tpm.c */
int bttpm_tpm_open_(struct bttpm_keystore *ks, const char *tcti,
    const char *datadir, const struct bttpm_options *opt);
void bttpm_tpm_close_(struct bttpm_keystore *ks);
int bttpm_tpm_ekcert_(struct bttpm_keystore *ks, uint8_t **der,
    size_t *der_len);
int bttpm_tpm_akpub_(struct bttpm_keystore *ks, TPM2B_PUBLIC *out);
int bttpm_tpm_sign_(struct bttpm_keystore *ks, const uint8_t *msg,
    size_t len, TPMT_SIGNATURE *sig);
int bttpm_tpm_activate_(struct bttpm_keystore *ks, const TPM2B_ID_OBJECT *cred,
    const TPM2B_ENCRYPTED_SECRET *secret, uint8_t out[32]);

/* soft.c */
int bttpm_soft_open_(struct bttpm_keystore *ks, const char *path,
    const struct bttpm_options *opt);

/* challenge encoding (attest.c) */
int bttpm_challenge_decode_(const uint8_t *buf, size_t len,
    TPM2B_ID_OBJECT *cred, TPM2B_ENCRYPTED_SECRET *secret);

/* Big-endian helpers. */
static inline void
bttpm_put_be16_(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void
bttpm_put_be64_(uint8_t *p, uint64_t v)
{
	int i;

	for (i = 7; i >= 0; i--) {
		p[i] = (uint8_t)v;
		v >>= 8;
	}
}

static inline uint16_t
bttpm_get_be16_(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

static inline uint64_t
bttpm_get_be64_(const uint8_t *p)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v = (v << 8) | p[i];
	return v;
}

#endif /* BTTPM_INTERNAL_H */
