/*
 * noise.c - Noise (revision 34) cipher, symmetric and handshake states for
 * Noise_<pattern>_25519_ChaChaPoly_SHA256.
 */
#include <bt/crypto.h>
#include <bt/hash.h>
#include <bt/neterror.h>
#include <bt/noise.h>

#include <openssl/evp.h>

#include <stdlib.h>
#include <string.h>

#include "btnet-internal.h"

#define KEYLEN		BTNET_NOISE_KEY_LEN
#define HASHLEN		BTNET_NOISE_HASH_LEN
#define TAGLEN		BTNET_NOISE_TAG_LEN
#define NONCE_MAX	UINT64_MAX

/* ---- cipher states ------------------------------------------------------ */

struct btnet_cipher {
	struct btcore_aead *aead;
	uint64_t n;
	uint64_t rekey_interval;
	int failed;
};

/* ChaChaPoly nonce: 32 zero bits, then the 64-bit counter little-endian. */
static void
noise_nonce(uint8_t nonce[BTCORE_AEAD_NONCE_LEN], uint64_t n)
{
	int i;

	memset(nonce, 0, 4);
	for (i = 0; i < 8; i++)
		nonce[4 + i] = (uint8_t)(n >> (8 * i));
}

int
btnet_cipher_new_(struct btnet_cipher **out, const uint8_t key[KEYLEN])
{
	struct btnet_cipher *c;
	int rc;

	*out = NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return BT_ENOMEM;
	rc = btcore_aead_new(&c->aead, key);
	if (rc != BT_OK) {
		free(c);
		return rc;
	}
	c->rekey_interval = BTNET_CIPHER_REKEY_DEFAULT;
	*out = c;
	return BT_OK;
}

void
btnet_cipher_set_nonce_(struct btnet_cipher *c, uint64_t n)
{
	c->n = n;
}

void
btnet_cipher_set_rekey_interval(struct btnet_cipher *c, uint64_t interval)
{
	if (c != NULL)
		c->rekey_interval = interval;
}

uint64_t
btnet_cipher_nonce(const struct btnet_cipher *c)
{
	return c != NULL ? c->n : 0;
}

int
btnet_cipher_rekey(struct btnet_cipher *c)
{
	uint8_t nonce[BTCORE_AEAD_NONCE_LEN], buf[KEYLEN + TAGLEN];
	struct btcore_aead *next = NULL;
	int rc;

	if (c == NULL)
		return BT_EINVAL;
	if (c->failed)
		return BT_ESTATE;
	/* REKEY(k) = ENCRYPT(k, 2^64 - 1, empty, 32 zero bytes)[0..32] */
	memset(buf, 0, sizeof(buf));
	noise_nonce(nonce, NONCE_MAX);
	rc = btcore_aead_ctx_seal(c->aead, buf, nonce, NULL, 0, buf, KEYLEN);
	if (rc == BT_OK)
		rc = btcore_aead_new(&next, buf);
	if (rc != BT_OK) {
		c->failed = 1;
		rc = BT_ECRYPTO;
		goto out;
	}
	btcore_aead_free(c->aead);
	c->aead = next;
out:
	btcore_wipe(buf, sizeof(buf));
	return rc;
}

/* After a message with nonce c->n - 1: rekey when the interval says so. */
static int
cipher_after_message(struct btnet_cipher *c)
{
	if (c->rekey_interval != 0 && c->n % c->rekey_interval == 0)
		return btnet_cipher_rekey(c);
	return BT_OK;
}

int
btnet_cipher_encrypt(struct btnet_cipher *c, const void *ad, size_t ad_len,
    const void *in, size_t len, uint8_t *out)
{
	uint8_t nonce[BTCORE_AEAD_NONCE_LEN];
	int rc;

	if (c == NULL || out == NULL || (ad == NULL && ad_len != 0) ||
	    (in == NULL && len != 0))
		return BT_EINVAL;
	if (c->failed)
		return BT_ESTATE;
	if (len > BTNET_NOISE_PLAIN_MAX)
		return BT_ETOOBIG;
	if (c->n == NONCE_MAX)
		return BTNET_ENONCE;
	noise_nonce(nonce, c->n);
	rc = btcore_aead_ctx_seal(c->aead, out, nonce, ad, ad_len, in, len);
	if (rc != BT_OK) {
		c->failed = 1;
		return BT_ECRYPTO;
	}
	c->n++;
	return cipher_after_message(c);
}

int
btnet_cipher_decrypt(struct btnet_cipher *c, const void *ad, size_t ad_len,
    const void *in, size_t len, uint8_t *out)
{
	uint8_t nonce[BTCORE_AEAD_NONCE_LEN];
	int rc;

	if (c == NULL || in == NULL || out == NULL ||
	    (ad == NULL && ad_len != 0))
		return BT_EINVAL;
	if (c->failed)
		return BT_ESTATE;
	if (len < TAGLEN)
		return BT_ETRUNC;
	if (len > BTNET_NOISE_MSG_MAX)
		return BT_ETOOBIG;
	if (c->n == NONCE_MAX)
		return BTNET_ENONCE;
	noise_nonce(nonce, c->n);
	rc = btcore_aead_ctx_open(c->aead, out, nonce, ad, ad_len, in, len);
	if (rc != BT_OK)
		return rc == BT_EVERIFY ? BT_EVERIFY : BT_ECRYPTO;
	c->n++;
	return cipher_after_message(c);
}

void
btnet_cipher_free(struct btnet_cipher *c)
{
	if (c == NULL)
		return;
	btcore_aead_free(c->aead);
	btcore_wipe(c, sizeof(*c));
	free(c);
}

/* ---- handshake patterns --------------------------------------------------- */

/*
 * Tokens, one character each: e, s, and the DH tokens ee = 'E', es = 'F',
 * se = 'G', ss = 'H'.  Messages alternate, starting with the initiator.
 */
#define PATTERN_MSGS_MAX	3

struct pattern {
	const char *name;
	unsigned char pre_init_s;	/* "-> s" pre-message */
	unsigned char pre_resp_s;	/* "<- s" pre-message */
	const char *msg[PATTERN_MSGS_MAX];
};

static const struct pattern patterns[] = {
	{ "NN", 0, 0, { "e", "eE", NULL } },
	{ "NK", 0, 1, { "eF", "eE", NULL } },
	{ "NX", 0, 0, { "e", "eEsF", NULL } },
	{ "XN", 0, 0, { "e", "eE", "sG" } },
	{ "XK", 0, 1, { "eF", "eE", "sG" } },
	{ "XX", 0, 0, { "e", "eEsF", "sG" } },
	{ "KN", 1, 0, { "e", "eEG", NULL } },
	{ "KK", 1, 1, { "eFH", "eEG", NULL } },
	{ "KX", 1, 0, { "e", "eEGsF", NULL } },
	{ "IN", 0, 0, { "es", "eEG", NULL } },
	{ "IK", 0, 1, { "eFsH", "eEG", NULL } },
	{ "IX", 0, 0, { "es", "eEGsF", NULL } },
};

#define PROTO_PREFIX	"Noise_"
#define PROTO_SUFFIX	"_25519_ChaChaPoly_SHA256"

/* ---- symmetric and handshake state -------------------------------------- */

enum { HS_CONFIG, HS_RUNNING, HS_DONE, HS_FAILED, HS_SPLIT };

struct btnet_noise {
	const struct pattern *p;
	EVP_MD_CTX *md;
	int initiator;
	int state;
	unsigned msg;			/* next message index */
	unsigned nmsgs;
	/* symmetric state */
	uint8_t ck[HASHLEN];
	uint8_t h[HASHLEN];
	uint8_t k[KEYLEN];
	int has_k;
	uint64_t n;
	/* keys */
	uint8_t s_priv[KEYLEN], s_pub[KEYLEN];
	uint8_t e_priv[KEYLEN], e_pub[KEYLEN];
	uint8_t rs[KEYLEN], re[KEYLEN];
	int has_s, has_e, fixed_e, has_rs, has_re;
	int has_prologue;
};

static int
mix_hash(struct btnet_noise *n, const void *data, size_t len)
{
	unsigned int outlen = 0;

	if (EVP_DigestInit_ex2(n->md, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(n->md, n->h, HASHLEN) != 1 ||
	    (len != 0 && EVP_DigestUpdate(n->md, data, len) != 1) ||
	    EVP_DigestFinal_ex(n->md, n->h, &outlen) != 1 || outlen != HASHLEN)
		return BT_ECRYPTO;
	return BT_OK;
}

/* MixKey(ikm): ck, k = HKDF(ck, ikm, 2); n = 0. */
static int
mix_key(struct btnet_noise *n, const uint8_t ikm[KEYLEN])
{
	uint8_t out[2 * HASHLEN];
	int rc;

	rc = btcore_hkdf_sha256(out, sizeof(out), n->ck, HASHLEN, ikm, KEYLEN,
	    NULL, 0);
	if (rc == BT_OK) {
		memcpy(n->ck, out, HASHLEN);
		memcpy(n->k, out + HASHLEN, KEYLEN);
		n->has_k = 1;
		n->n = 0;
	}
	btcore_wipe(out, sizeof(out));
	return rc == BT_OK ? BT_OK : BT_ECRYPTO;
}

/* EncryptAndHash: @p out receives len (+ 16 once keyed) bytes. */
static int
encrypt_and_hash(struct btnet_noise *n, const uint8_t *in, size_t len,
    uint8_t *out, size_t *out_len)
{
	uint8_t nonce[BTCORE_AEAD_NONCE_LEN];
	int rc;

	if (!n->has_k) {
		if (len != 0)
			memmove(out, in, len);
		*out_len = len;
		return mix_hash(n, out, len);
	}
	if (n->n == NONCE_MAX)
		return BTNET_ENONCE;
	noise_nonce(nonce, n->n);
	rc = btcore_aead_seal(out, n->k, nonce, n->h, HASHLEN,
	    len != 0 ? in : NULL, len);
	if (rc != BT_OK)
		return BT_ECRYPTO;
	n->n++;
	*out_len = len + TAGLEN;
	return mix_hash(n, out, len + TAGLEN);
}

/* DecryptAndHash: @p in holds len bytes (incl. the tag once keyed). */
static int
decrypt_and_hash(struct btnet_noise *n, const uint8_t *in, size_t len,
    uint8_t *out, size_t *out_len)
{
	uint8_t nonce[BTCORE_AEAD_NONCE_LEN];
	int rc;

	if (!n->has_k) {
		if (len != 0)
			memmove(out, in, len);
		*out_len = len;
		return mix_hash(n, in, len);
	}
	if (len < TAGLEN)
		return BT_ETRUNC;
	if (n->n == NONCE_MAX)
		return BTNET_ENONCE;
	noise_nonce(nonce, n->n);
	rc = btcore_aead_open(out, n->k, nonce, n->h, HASHLEN, in, len);
	if (rc != BT_OK)
		return rc == BT_EVERIFY ? BT_EVERIFY : BT_ECRYPTO;
	n->n++;
	*out_len = len - TAGLEN;
	return mix_hash(n, in, len);
}

static void
wipe_secrets(struct btnet_noise *n)
{
	btcore_wipe(n->ck, sizeof(n->ck));
	btcore_wipe(n->k, sizeof(n->k));
	btcore_wipe(n->s_priv, sizeof(n->s_priv));
	btcore_wipe(n->e_priv, sizeof(n->e_priv));
	n->has_k = 0;
	n->has_s = 0;
	n->has_e = 0;
	n->fixed_e = 0;
}

void
btnet_noise_fail_(struct btnet_noise *n)
{
	wipe_secrets(n);
	btcore_wipe(n->h, sizeof(n->h));
	n->state = HS_FAILED;
}

unsigned
btnet_noise_msg_index_(const struct btnet_noise *n)
{
	return n->msg;
}

static const struct pattern *
find_pattern(const char *protocol)
{
	size_t plen = strlen(PROTO_PREFIX), slen = strlen(PROTO_SUFFIX);
	size_t len, i, nlen;

	len = strnlen(protocol, 256);
	if (len <= plen + slen || memcmp(protocol, PROTO_PREFIX, plen) != 0 ||
	    strcmp(protocol + len - slen, PROTO_SUFFIX) != 0)
		return NULL;
	nlen = len - plen - slen;
	for (i = 0; i < sizeof(patterns) / sizeof(patterns[0]); i++)
		if (strlen(patterns[i].name) == nlen &&
		    memcmp(patterns[i].name, protocol + plen, nlen) == 0)
			return &patterns[i];
	return NULL;
}

int
btnet_noise_new(struct btnet_noise **out, const char *protocol, int initiator)
{
	struct btnet_noise *n = NULL;
	const struct pattern *p;
	size_t len;
	int rc;

	if (out == NULL)
		return BT_EINVAL;
	*out = NULL;
	if (protocol == NULL)
		return BT_EINVAL;
	if ((p = find_pattern(protocol)) == NULL)
		return BT_EUNSUPPORTED;
	if ((n = calloc(1, sizeof(*n))) == NULL)
		return BT_ENOMEM;
	if ((n->md = EVP_MD_CTX_new()) == NULL) {
		rc = BT_ENOMEM;
		goto out;
	}
	n->p = p;
	n->initiator = initiator != 0;
	n->state = HS_CONFIG;
	while (n->nmsgs < PATTERN_MSGS_MAX && p->msg[n->nmsgs] != NULL)
		n->nmsgs++;
	/* InitializeSymmetric: h = name padded, or HASH(name) if longer. */
	len = strlen(protocol);
	if (len <= HASHLEN) {
		memcpy(n->h, protocol, len);
	} else {
		unsigned int hl = 0;

		if (EVP_Digest(protocol, len, n->h, &hl, EVP_sha256(), NULL)
		    != 1 || hl != HASHLEN) {
			rc = BT_ECRYPTO;
			goto out;
		}
	}
	memcpy(n->ck, n->h, HASHLEN);
	*out = n;
	n = NULL;
	rc = BT_OK;
out:
	btnet_noise_free(n);
	return rc;
}

void
btnet_noise_free(struct btnet_noise *n)
{
	if (n == NULL)
		return;
	EVP_MD_CTX_free(n->md);
	btcore_wipe(n, sizeof(*n));
	free(n);
}

int
btnet_noise_set_prologue(struct btnet_noise *n, const void *prologue,
    size_t len)
{
	if (n == NULL || (prologue == NULL && len != 0))
		return BT_EINVAL;
	if (n->state != HS_CONFIG || n->has_prologue)
		return BT_ESTATE;
	if (len > BTNET_NOISE_MSG_MAX)
		return BT_ERANGE;
	/* MixHash(prologue) comes first, so it can be done right away. */
	if (mix_hash(n, prologue, len) != BT_OK)
		return BT_ECRYPTO;
	n->has_prologue = 1;
	return BT_OK;
}

int
btnet_noise_set_local_static(struct btnet_noise *n, const uint8_t priv[KEYLEN])
{
	int rc;

	if (n == NULL || priv == NULL)
		return BT_EINVAL;
	if (n->state != HS_CONFIG)
		return BT_ESTATE;
	memcpy(n->s_priv, priv, KEYLEN);
	rc = btcore_x25519_public(n->s_pub, n->s_priv);
	if (rc != BT_OK) {
		btcore_wipe(n->s_priv, KEYLEN);
		n->has_s = 0;
		return BT_ECRYPTO;
	}
	n->has_s = 1;
	return BT_OK;
}

int
btnet_noise_set_remote_static(struct btnet_noise *n, const uint8_t pub[KEYLEN])
{
	if (n == NULL || pub == NULL)
		return BT_EINVAL;
	if (n->state != HS_CONFIG)
		return BT_ESTATE;
	memcpy(n->rs, pub, KEYLEN);
	n->has_rs = 1;
	return BT_OK;
}

int
btnet_noise_set_local_ephemeral(struct btnet_noise *n,
    const uint8_t priv[KEYLEN])
{
	int rc;

	if (n == NULL || priv == NULL)
		return BT_EINVAL;
	if (n->state != HS_CONFIG)
		return BT_ESTATE;
	memcpy(n->e_priv, priv, KEYLEN);
	rc = btcore_x25519_public(n->e_pub, n->e_priv);
	if (rc != BT_OK) {
		btcore_wipe(n->e_priv, KEYLEN);
		n->fixed_e = 0;
		return BT_ECRYPTO;
	}
	n->fixed_e = 1;
	return BT_OK;
}

int
btnet_noise_action(const struct btnet_noise *n)
{
	if (n == NULL)
		return BTNET_NOISE_FAILED;
	switch (n->state) {
	case HS_CONFIG:
	case HS_RUNNING:
		/* even messages are the initiator's */
		return ((n->msg % 2 == 0) == n->initiator) ?
		    BTNET_NOISE_WRITE : BTNET_NOISE_READ;
	case HS_DONE:
	case HS_SPLIT:
		return BTNET_NOISE_DONE;
	default:
		return BTNET_NOISE_FAILED;
	}
}

/* Mix the prologue and the pre-messages; the initiator's key goes first. */
static int
noise_start(struct btnet_noise *n)
{
	const uint8_t *k;
	int rc;

	if (!n->has_prologue && (rc = mix_hash(n, NULL, 0)) != BT_OK)
		return rc;
	n->has_prologue = 1;
	if (n->p->pre_init_s) {
		if (n->initiator ? !n->has_s : !n->has_rs)
			return BT_ENOTFOUND;
		k = n->initiator ? n->s_pub : n->rs;
		if ((rc = mix_hash(n, k, KEYLEN)) != BT_OK)
			return rc;
	}
	if (n->p->pre_resp_s) {
		if (n->initiator ? !n->has_rs : !n->has_s)
			return BT_ENOTFOUND;
		k = n->initiator ? n->rs : n->s_pub;
		if ((rc = mix_hash(n, k, KEYLEN)) != BT_OK)
			return rc;
	}
	n->state = HS_RUNNING;
	return BT_OK;
}

/* The DH of one token, mixed into the key. */
static int
noise_dh(struct btnet_noise *n, char tok)
{
	uint8_t shared[KEYLEN];
	const uint8_t *priv, *pub;
	int have, rc, local_e, remote_e;

	switch (tok) {
	case 'E': local_e = 1; remote_e = 1; break;
	case 'F': local_e = n->initiator; remote_e = !n->initiator; break;
	case 'G': local_e = !n->initiator; remote_e = n->initiator; break;
	default:  local_e = 0; remote_e = 0; break;
	}
	priv = local_e ? n->e_priv : n->s_priv;
	pub = remote_e ? n->re : n->rs;
	have = (local_e ? n->has_e : n->has_s) &&
	    (remote_e ? n->has_re : n->has_rs);
	if (!have)
		return BT_ENOTFOUND;
	rc = btcore_x25519(shared, priv, pub);
	if (rc == BT_OK)
		rc = mix_key(n, shared);
	else if (rc != BT_EVERIFY)
		rc = BT_ECRYPTO;
	btcore_wipe(shared, sizeof(shared));
	return rc;
}

/* Bytes of message @p msg before the payload, and whether it is keyed. */
static size_t
token_bytes(const struct btnet_noise *n, unsigned msg, int *keyed)
{
	const char *t;
	size_t len = 0;
	int k = n->has_k;

	for (t = n->p->msg[msg]; *t != '\0'; t++) {
		if (*t == 'e')
			len += KEYLEN;
		else if (*t == 's')
			len += KEYLEN + (k ? TAGLEN : 0);
		else
			k = 1;
	}
	*keyed = k;
	return len;
}

int
btnet_noise_write_message(struct btnet_noise *n, const void *payload,
    size_t payload_len, uint8_t *out, size_t cap, size_t *out_len)
{
	const char *t;
	size_t need, pos = 0, w;
	int keyed, rc = BT_OK;

	if (n == NULL || out == NULL || out_len == NULL ||
	    (payload == NULL && payload_len != 0))
		return BT_EINVAL;
	*out_len = 0;
	if (btnet_noise_action(n) != BTNET_NOISE_WRITE)
		return BT_ESTATE;
	need = token_bytes(n, n->msg, &keyed);
	if (payload_len > BTNET_NOISE_MSG_MAX ||
	    need + payload_len + (keyed ? TAGLEN : 0) > BTNET_NOISE_MSG_MAX)
		return BT_ETOOBIG;
	need += payload_len + (keyed ? TAGLEN : 0);
	if (cap < need)
		return BT_ENOSPC;
	if (n->state == HS_CONFIG && (rc = noise_start(n)) != BT_OK)
		goto out;
	for (t = n->p->msg[n->msg]; *t != '\0'; t++) {
		switch (*t) {
		case 'e':
			if (!n->fixed_e) {
				rc = btcore_x25519_keypair(n->e_priv, n->e_pub);
				if (rc != BT_OK) {
					rc = BT_ECRYPTO;
					goto out;
				}
			}
			n->has_e = 1;
			memcpy(out + pos, n->e_pub, KEYLEN);
			pos += KEYLEN;
			rc = mix_hash(n, n->e_pub, KEYLEN);
			break;
		case 's':
			if (!n->has_s) {
				rc = BT_ENOTFOUND;
				goto out;
			}
			rc = encrypt_and_hash(n, n->s_pub, KEYLEN, out + pos, &w);
			pos += w;
			break;
		default:
			rc = noise_dh(n, *t);
			break;
		}
		if (rc != BT_OK)
			goto out;
	}
	rc = encrypt_and_hash(n, payload, payload_len, out + pos, &w);
	if (rc != BT_OK)
		goto out;
	pos += w;
	*out_len = pos;
	if (++n->msg == n->nmsgs)
		n->state = HS_DONE;
out:
	if (rc != BT_OK) {
		btnet_noise_fail_(n);
		btcore_wipe(out, need);
	}
	return rc;
}

int
btnet_noise_read_message(struct btnet_noise *n, const uint8_t *msg,
    size_t len, uint8_t *payload, size_t cap, size_t *payload_len)
{
	const char *t;
	size_t need, pos = 0, w, plen;
	int keyed, rc = BT_OK;

	if (n == NULL || (msg == NULL && len != 0) || payload_len == NULL ||
	    (payload == NULL && cap != 0))
		return BT_EINVAL;
	*payload_len = 0;
	if (btnet_noise_action(n) != BTNET_NOISE_READ) {
		rc = BT_ESTATE;
		goto out;
	}
	if (len > BTNET_NOISE_MSG_MAX) {
		rc = BT_ETOOBIG;
		goto out;
	}
	need = token_bytes(n, n->msg, &keyed) + (keyed ? TAGLEN : 0);
	if (len < need) {
		rc = BT_ETRUNC;
		goto out;
	}
	plen = len - need;
	if (plen > cap) {
		rc = BT_ENOSPC;
		goto out;
	}
	if (n->state == HS_CONFIG && (rc = noise_start(n)) != BT_OK)
		goto out;
	for (t = n->p->msg[n->msg]; *t != '\0'; t++) {
		switch (*t) {
		case 'e':
			memcpy(n->re, msg + pos, KEYLEN);
			n->has_re = 1;
			pos += KEYLEN;
			rc = mix_hash(n, n->re, KEYLEN);
			break;
		case 's':
			w = KEYLEN + (n->has_k ? TAGLEN : 0);
			rc = decrypt_and_hash(n, msg + pos, w, n->rs, &w);
			pos += KEYLEN + (n->has_k ? TAGLEN : 0);
			if (rc == BT_OK)
				n->has_rs = 1;
			break;
		default:
			rc = noise_dh(n, *t);
			break;
		}
		if (rc != BT_OK)
			goto out;
	}
	rc = decrypt_and_hash(n, msg + pos, len - pos, payload, &w);
	if (rc != BT_OK)
		goto out;
	*payload_len = w;
	if (++n->msg == n->nmsgs)
		n->state = HS_DONE;
out:
	if (rc != BT_OK) {
		btnet_noise_fail_(n);
		if (payload != NULL)
			btcore_wipe(payload, cap);
	}
	return rc;
}

int
btnet_noise_remote_static(const struct btnet_noise *n, uint8_t pub[KEYLEN])
{
	if (n == NULL || pub == NULL)
		return BT_EINVAL;
	if (!n->has_rs || n->state == HS_FAILED) {
		memset(pub, 0, KEYLEN);
		return BT_ENOTFOUND;
	}
	memcpy(pub, n->rs, KEYLEN);
	return BT_OK;
}

int
btnet_noise_handshake_hash(const struct btnet_noise *n, uint8_t h[HASHLEN])
{
	if (n == NULL || h == NULL)
		return BT_EINVAL;
	if (n->state != HS_DONE && n->state != HS_SPLIT) {
		memset(h, 0, HASHLEN);
		return BT_ESTATE;
	}
	memcpy(h, n->h, HASHLEN);
	return BT_OK;
}

int
btnet_noise_split(struct btnet_noise *n, struct btnet_cipher **send,
    struct btnet_cipher **recv)
{
	struct btnet_cipher *c1 = NULL, *c2 = NULL;
	uint8_t out[2 * KEYLEN];
	int rc;

	if (send != NULL)
		*send = NULL;
	if (recv != NULL)
		*recv = NULL;
	if (n == NULL || send == NULL || recv == NULL)
		return BT_EINVAL;
	if (n->state != HS_DONE)
		return BT_ESTATE;
	rc = btcore_hkdf_sha256(out, sizeof(out), n->ck, HASHLEN, NULL, 0,
	    NULL, 0);
	if (rc != BT_OK) {
		rc = BT_ECRYPTO;
		goto out;
	}
	if ((rc = btnet_cipher_new_(&c1, out)) != BT_OK ||
	    (rc = btnet_cipher_new_(&c2, out + KEYLEN)) != BT_OK)
		goto out;
	/* c1 carries initiator -> responder, c2 the other way */
	*send = n->initiator ? c1 : c2;
	*recv = n->initiator ? c2 : c1;
	c1 = c2 = NULL;
	wipe_secrets(n);
	n->state = HS_SPLIT;
out:
	btcore_wipe(out, sizeof(out));
	btnet_cipher_free(c1);
	btnet_cipher_free(c2);
	return rc;
}
