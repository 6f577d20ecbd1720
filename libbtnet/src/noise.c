/*
 * noise.c - Noise (revision 34) cipher, symmetric and handshake states for
 * Noise_<pattern>_25519_ChaChaPoly_SHA256.
 */
#include <bt/crypto.h>
#include <bt/hash.h>
#include <bt/neterror.h>
#include <bt/noise.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <sodium.h>

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "btnet-internal.h"

#define KEYLEN		BTNET_NOISE_KEY_LEN
#define HASHLEN		BTNET_NOISE_HASH_LEN
#define TAGLEN		BTNET_NOISE_TAG_LEN
#define NONCE_MAX	UINT64_MAX

/* ---- cipher states ------------------------------------------------------ */

/*
 * A transport cipher keeps one EVP ChaCha20-Poly1305 context, keyed once
 * per key; a message then only sets its nonce, feeds its bytes and takes
 * or checks the tag.  Setting the nonce is a good part of the cost of a
 * small message, so a connection sets the next one ahead once a message
 * is done (btnet_cipher_prepare_()), while nobody waits for it:
 * c->armed says for which direction the context holds nonce c->n.
 *
 * Small messages.  Of a 64-byte message, the EVP layer's per-call work
 * is most of the cost, and most of the rest does not depend on the
 * message: the ChaCha20 block that gives the Poly1305 key and the
 * keystream it will be XORed with.  So after a message of at most
 * PRE_LEN bytes, btnet_cipher_prepare_() computes for the next nonce,
 * with libsodium's ChaCha20 (IETF) and Poly1305, the keystream of
 * PRE_LEN bytes from block counter 1 and a Poly1305 state keyed from
 * block 0: RFC 8439's construction, as libsodium's own
 * crypto_aead_chacha20poly1305_ietf composes it.  A message of at most
 * PRE_LEN bytes under that nonce then costs an XOR and the MAC over its
 * bytes.  The state is for nonce c->pre_n only, used once: any message,
 * rekey or nonce change makes it stale, and its bytes are wiped once
 * spent.  Larger messages, and every message when nothing was prepared,
 * take the EVP path; the two give the same bytes (the tests compare them
 * on every length up to PRE_LEN + 1 and on the published vectors).
 *
 * OpenSSL's error queue: keying and rekeying keep it as it was (a mark);
 * a keyed context with valid lengths fails on nothing but a tag that does
 * not verify, which queues nothing, so a message sets no mark (that is
 * about a tenth of a small message) and only a real failure, which
 * leaves the state unusable, clears what it queued.
 */
#define ARMED_NONE	0
#define ARMED_ENC	1
#define ARMED_DEC	2
#define EVP_PIECE	(1 << 30)	/* EVP lengths are int */
/* prepared keystream: block 0 and 7 more, the size libsodium's AVX2
   ChaCha20 makes in one pass (5 blocks take longer than 8 there) */
#define PRE_LEN		BTNET_CIPHER_PREPARED_MAX
#define BLOCK		64		/* a ChaCha20 block */

struct btnet_cipher {
	/* first: libsodium's Poly1305 state is 16-byte aligned */
	crypto_onetimeauth_poly1305_state mac;	/* keyed for pre_n */
	uint8_t ks[BLOCK + PRE_LEN];	/* block 0 (wiped), then keystream */
	uint8_t key[KEYLEN];
	EVP_CIPHER_CTX *ctx;
	uint64_t n;
	uint64_t rekey_interval;
	uint64_t pre_n;			/* the nonce mac and ks are for */
	int pre;			/* 1: mac and ks hold pre_n */
	int last_small;			/* the last message <= PRE_LEN */
	int failed;
	int armed;
};

static pthread_once_t chacha_once = PTHREAD_ONCE_INIT;
static EVP_CIPHER *chacha;

static void
chacha_fetch(void)
{
	/* libsodium picks its implementations here (idempotent) */
	if (sodium_init() < 0)
		return;
	chacha = EVP_CIPHER_fetch(NULL, "ChaCha20-Poly1305", NULL);
}

/* ChaChaPoly nonce: 32 zero bits, then the 64-bit counter little-endian. */
static void
noise_nonce(uint8_t nonce[BTCORE_AEAD_NONCE_LEN], uint64_t n)
{
	int i;

	memset(nonce, 0, 4);
	for (i = 0; i < 8; i++)
		nonce[4 + i] = (uint8_t)(n >> (8 * i));
}

/* Key the context (the cipher too when @p first); nonce unset. */
static int
cipher_key(struct btnet_cipher *c, const uint8_t key[KEYLEN], int first)
{
	int ok;

	ERR_set_mark();
	ok = EVP_CipherInit_ex2(c->ctx, first ? chacha : NULL, key, NULL, 1,
	    NULL) == 1;
	ERR_pop_to_mark();
	c->armed = ARMED_NONE;
	c->pre = 0;
	memcpy(c->key, key, KEYLEN);
	return ok ? BT_OK : BT_ECRYPTO;
}

/* Make the context hold nonce c->n for @p dir (ARMED_ENC or _DEC). */
static int
cipher_arm(struct btnet_cipher *c, int dir)
{
	uint8_t nonce[BTCORE_AEAD_NONCE_LEN];

	if (c->armed == dir)
		return BT_OK;
	c->armed = ARMED_NONE;
	noise_nonce(nonce, c->n);
	if (EVP_CipherInit_ex2(c->ctx, NULL, NULL, nonce, dir == ARMED_ENC,
	    NULL) != 1)
		return BT_ECRYPTO;
	c->armed = dir;
	return BT_OK;
}

/* Feed associated data (@p out NULL) or text through the context. */
static int
cipher_feed(EVP_CIPHER_CTX *ctx, uint8_t *out, const uint8_t *in,
    size_t len)
{
	int piece, n;

	while (len > 0) {
		piece = len > EVP_PIECE ? EVP_PIECE : (int)len;
		if (EVP_CipherUpdate(ctx, out, &n, in, piece) != 1 ||
		    (out != NULL && n != piece))
			return BT_ECRYPTO;
		in += piece;
		if (out != NULL)
			out += piece;
		len -= (size_t)piece;
	}
	return BT_OK;
}

int
btnet_cipher_new_(struct btnet_cipher **out, const uint8_t key[KEYLEN])
{
	struct btnet_cipher *c;
	int rc;

	*out = NULL;
	pthread_once(&chacha_once, chacha_fetch);
	if (chacha == NULL)
		return BT_ECRYPTO;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return BT_ENOMEM;
	if ((c->ctx = EVP_CIPHER_CTX_new()) == NULL) {
		free(c);
		return BT_ENOMEM;
	}
	if ((rc = cipher_key(c, key, 1)) != BT_OK) {
		btnet_cipher_free(c);
		return rc;
	}
	c->rekey_interval = BTNET_CIPHER_REKEY_DEFAULT;
	c->last_small = 1;	/* a session begins with small messages */
	*out = c;
	return BT_OK;
}

void
btnet_cipher_set_nonce_(struct btnet_cipher *c, uint64_t n)
{
	c->n = n;
	c->armed = ARMED_NONE;
	c->pre = 0;
}

void
btnet_cipher_prepare_(struct btnet_cipher *c, int encrypt)
{
	uint8_t nonce[BTCORE_AEAD_NONCE_LEN];

	if (c == NULL || c->failed || c->n == NONCE_MAX)
		return;
	if (!c->last_small) {
		/* on failure the message itself tries again and reports it */
		if (cipher_arm(c, encrypt ? ARMED_ENC : ARMED_DEC) != BT_OK)
			ERR_clear_error();
		return;
	}
	if (c->pre && c->pre_n == c->n)
		return;
	noise_nonce(nonce, c->n);
	/* counter 0: the Poly1305 key; from counter 1: the keystream */
	if (crypto_stream_chacha20_ietf(c->ks, sizeof(c->ks), nonce,
	    c->key) != 0 ||
	    crypto_onetimeauth_poly1305_init(&c->mac, c->ks) != 0) {
		sodium_memzero(c->ks, sizeof(c->ks));
		c->pre = 0;
		return;
	}
	sodium_memzero(c->ks, BLOCK);
	c->pre_n = c->n;
	c->pre = 1;
}

/*
 * Poly1305 of RFC 8439 over (ad, ct) from the prepared state into tag.
 * The text, its padding and the lengths go in as one update: on short
 * input the per-call work of the update is most of its cost.
 */
static void
pre_mac(struct btnet_cipher *c, const uint8_t *ad, size_t ad_len,
    const uint8_t *ct, size_t len, uint8_t tag[TAGLEN])
{
	static const uint8_t zero[16];
	uint8_t tail[PRE_LEN + 32];
	size_t i, n;

	if (ad_len > 0) {
		crypto_onetimeauth_poly1305_update(&c->mac, ad, ad_len);
		crypto_onetimeauth_poly1305_update(&c->mac, zero,
		    (16 - (ad_len & 15)) & 15);
	}
	memcpy(tail, ct, len);
	n = (len + 15) & ~(size_t)15;
	memset(tail + len, 0, n - len);
	for (i = 0; i < 8; i++) {
		tail[n + i] = (uint8_t)((uint64_t)ad_len >> (8 * i));
		tail[n + 8 + i] = (uint8_t)((uint64_t)len >> (8 * i));
	}
	crypto_onetimeauth_poly1305_update(&c->mac, tail, n + 16);
	/* final wipes the state */
	crypto_onetimeauth_poly1305_final(&c->mac, tag);
}

/* out = in XOR the prepared keystream (in place allowed), then wipe it. */
static void
pre_xor(struct btnet_cipher *c, uint8_t *out, const uint8_t *in, size_t len)
{
	const uint8_t *k = c->ks + BLOCK;
	uint64_t a, b;
	size_t i = 0;

	for (; i + 8 <= len; i += 8) {
		memcpy(&a, in + i, 8);
		memcpy(&b, k + i, 8);
		a ^= b;
		memcpy(out + i, &a, 8);
	}
	for (; i < len; i++)
		out[i] = in[i] ^ k[i];
	sodium_memzero(c->ks + BLOCK, len);
}

/* 1 when the message with @p len bytes of text can use the prepared
 * state; the state is spent either way (it was for this nonce only). */
static int
pre_take(struct btnet_cipher *c, size_t len)
{
	int ok = c->pre && c->pre_n == c->n;

	c->last_small = len <= PRE_LEN;
	if (!ok)
		return 0;
	c->pre = 0;
	if (len <= PRE_LEN)
		return 1;
	sodium_memzero(&c->mac, sizeof(c->mac));
	sodium_memzero(c->ks, sizeof(c->ks));
	return 0;
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
	int rc = BT_ECRYPTO, n;

	if (c == NULL)
		return BT_EINVAL;
	if (c->failed)
		return BT_ESTATE;
	/* REKEY(k) = ENCRYPT(k, 2^64 - 1, empty, 32 zero bytes)[0..32] */
	memset(buf, 0, sizeof(buf));
	noise_nonce(nonce, NONCE_MAX);
	ERR_set_mark();
	c->armed = ARMED_NONE;
	if (EVP_CipherInit_ex2(c->ctx, NULL, NULL, nonce, 1, NULL) == 1 &&
	    cipher_feed(c->ctx, buf, buf, KEYLEN) == BT_OK &&
	    EVP_CipherFinal_ex(c->ctx, buf + KEYLEN, &n) == 1 && n == 0)
		rc = BT_OK;
	ERR_pop_to_mark();
	if (rc == BT_OK)
		rc = cipher_key(c, buf, 0);
	if (rc != BT_OK) {
		c->failed = 1;
		rc = BT_ECRYPTO;
	}
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
	OSSL_PARAM tag[2];
	int rc, n = 0;

	if (c == NULL || out == NULL || (ad == NULL && ad_len != 0) ||
	    (in == NULL && len != 0))
		return BT_EINVAL;
	if (c->failed)
		return BT_ESTATE;
	if (len > BTNET_NOISE_PLAIN_MAX)
		return BT_ETOOBIG;
	if (c->n == NONCE_MAX)
		return BTNET_ENONCE;
	if (pre_take(c, len)) {
		pre_xor(c, out, in, len);
		pre_mac(c, ad, ad_len, out, len, out + len);
		c->n++;
		return cipher_after_message(c);
	}
	tag[0] = OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG,
	    out + len, TAGLEN);
	tag[1] = OSSL_PARAM_construct_end();
	if ((rc = cipher_arm(c, ARMED_ENC)) != BT_OK)
		goto fail;
	/* the nonce is spent whatever happens next */
	c->armed = ARMED_NONE;
	if ((rc = cipher_feed(c->ctx, NULL, ad, ad_len)) != BT_OK ||
	    (rc = cipher_feed(c->ctx, out, in, len)) != BT_OK)
		goto fail;
	if (EVP_CipherFinal_ex(c->ctx, out + len, &n) != 1 || n != 0 ||
	    EVP_CIPHER_CTX_get_params(c->ctx, tag) != 1) {
		rc = BT_ECRYPTO;
		goto fail;
	}
	c->n++;
	return cipher_after_message(c);
fail:
	ERR_clear_error();
	btcore_wipe(out, len + TAGLEN);
	c->failed = 1;
	return BT_ECRYPTO;
}

int
btnet_cipher_decrypt(struct btnet_cipher *c, const void *ad, size_t ad_len,
    const void *in, size_t len, uint8_t *out)
{
	uint8_t tag[TAGLEN];
	OSSL_PARAM p[2];
	size_t plen;
	int rc, n = 0;

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
	plen = len - TAGLEN;
	if (pre_take(c, plen)) {
		uint8_t want[TAGLEN];

		pre_mac(c, ad, ad_len, in, plen, want);
		rc = crypto_verify_16(want, (const uint8_t *)in + plen);
		sodium_memzero(want, sizeof(want));
		if (rc != 0) {
			/* the nonce stays; the next try takes the EVP path */
			sodium_memzero(c->ks, sizeof(c->ks));
			return BT_EVERIFY;
		}
		pre_xor(c, out, in, plen);
		c->n++;
		return cipher_after_message(c);
	}
	/* taken first: decrypting in place may overwrite it otherwise */
	memcpy(tag, (const uint8_t *)in + plen, TAGLEN);
	p[0] = OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG,
	    tag, TAGLEN);
	p[1] = OSSL_PARAM_construct_end();
	if ((rc = cipher_arm(c, ARMED_DEC)) != BT_OK)
		goto fail;
	/* a failed check leaves the nonce where it was: set it again */
	c->armed = ARMED_NONE;
	if (EVP_CIPHER_CTX_set_params(c->ctx, p) != 1 ||
	    (rc = cipher_feed(c->ctx, NULL, ad, ad_len)) != BT_OK ||
	    (rc = cipher_feed(c->ctx, out, in, plen)) != BT_OK) {
		rc = BT_ECRYPTO;
		goto fail;
	}
	/* the provider compares the tags in constant time */
	if (EVP_CipherFinal_ex(c->ctx, out + plen, &n) != 1 || n != 0) {
		rc = BT_EVERIFY;
		goto fail;
	}
	c->n++;
	return cipher_after_message(c);
fail:
	if (rc != BT_EVERIFY)
		ERR_clear_error();
	btcore_wipe(out, plen);
	return rc;
}

void
btnet_cipher_free(struct btnet_cipher *c)
{
	if (c == NULL)
		return;
	/* the provider cleanses its key schedule when the context is freed */
	EVP_CIPHER_CTX_free(c->ctx);
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
