/*
 * test_noise.c - the Noise state machine against the cacophony vectors,
 * cipher states (nonce limit, rekey, nonces set up ahead) and misuse of the handshake API.
 */
#include <check.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bt/crypto.h>
#include <bt/neterror.h>
#include <bt/noise.h>

#include "btnet-internal.h"

Suite *suite_noise(void);

#define VEC_FILE BT_TEST_DATA "/noise-cacophony-25519-chachapoly-sha256.txt"
#define VEC_MSGS_MAX 16

struct hexfield {
	uint8_t b[1024];
	size_t len;
	int set;
};

struct vector {
	char name[128];
	struct hexfield init_prologue, init_static, init_ephemeral,
	    init_remote_static, resp_prologue, resp_static, resp_ephemeral,
	    resp_remote_static;
	struct hexfield payload[VEC_MSGS_MAX], ciphertext[VEC_MSGS_MAX];
	size_t nmsgs;
};

static int
hexnib(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static void
parse_hex(struct hexfield *f, const char *s)
{
	size_t n = strlen(s), i;

	f->set = 1;
	f->len = 0;
	if (strcmp(s, "-") == 0)
		return;
	ck_assert_uint_eq(n % 2, 0);
	ck_assert_uint_le(n / 2, sizeof(f->b));
	for (i = 0; i < n / 2; i++) {
		ck_assert_int_ge(hexnib(s[2 * i]), 0);
		ck_assert_int_ge(hexnib(s[2 * i + 1]), 0);
		f->b[i] = (uint8_t)(hexnib(s[2 * i]) << 4 | hexnib(s[2 * i + 1]));
	}
	f->len = n / 2;
}

static struct hexfield *
field(struct vector *v, const char *key)
{
	static const struct {
		const char *name;
		size_t off;
	} map[] = {
#define F(x) { #x, offsetof(struct vector, x) }
		F(init_prologue), F(init_static), F(init_ephemeral),
		F(init_remote_static), F(resp_prologue), F(resp_static),
		F(resp_ephemeral), F(resp_remote_static),
#undef F
	};
	size_t i;

	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(map[i].name, key) == 0)
			return (struct hexfield *)((char *)v + map[i].off);
	return NULL;
}

static struct btnet_noise *
make_party(const struct vector *v, int initiator)
{
	const struct hexfield *pro = initiator ? &v->init_prologue :
	    &v->resp_prologue;
	const struct hexfield *s = initiator ? &v->init_static : &v->resp_static;
	const struct hexfield *e = initiator ? &v->init_ephemeral :
	    &v->resp_ephemeral;
	const struct hexfield *rs = initiator ? &v->init_remote_static :
	    &v->resp_remote_static;
	struct btnet_noise *n;

	ck_assert_int_eq(btnet_noise_new(&n, v->name, initiator), BT_OK);
	ck_assert_int_eq(btnet_noise_set_prologue(n, pro->b, pro->len), BT_OK);
	if (s->set)
		ck_assert_int_eq(btnet_noise_set_local_static(n, s->b), BT_OK);
	if (e->set)
		ck_assert_int_eq(btnet_noise_set_local_ephemeral(n, e->b), BT_OK);
	if (rs->set)
		ck_assert_int_eq(btnet_noise_set_remote_static(n, rs->b), BT_OK);
	return n;
}

/* Run one vector; both parties write and read every message. */
/* @p prep: each transport message with its nonce set up ahead
 * (btnet_cipher_prepare_()), as a connection does. */
static void
run_vector(const struct vector *v, int prep)
{
	struct btnet_noise *party[2];
	struct btnet_cipher *send[2] = { NULL, NULL }, *recv[2] = { NULL, NULL };
	struct btnet_cipher *xs, *xr;
	uint8_t buf[2048], pl[2048], h0[32], h1[32], rs[32], pub[32];
	size_t i, len, plen;
	int w, r;

	party[0] = make_party(v, 1);
	party[1] = make_party(v, 0);
	for (i = 0; i < v->nmsgs; i++) {
		w = (int)(i % 2);	/* the initiator sends even messages */
		r = 1 - w;
		if (btnet_noise_action(party[w]) != BTNET_NOISE_DONE) {
			ck_assert_int_eq(btnet_noise_action(party[w]),
			    BTNET_NOISE_WRITE);
			ck_assert_int_eq(btnet_noise_action(party[r]),
			    BTNET_NOISE_READ);
			ck_assert_int_eq(btnet_noise_write_message(party[w],
			    v->payload[i].b, v->payload[i].len, buf,
			    sizeof(buf), &len), BT_OK);
			ck_assert_uint_eq(len, v->ciphertext[i].len);
			ck_assert_mem_eq(buf, v->ciphertext[i].b, len);
			ck_assert_int_eq(btnet_noise_read_message(party[r], buf,
			    len, pl, sizeof(pl), &plen), BT_OK);
			ck_assert_uint_eq(plen, v->payload[i].len);
			ck_assert_mem_eq(pl, v->payload[i].b, plen);
			if (btnet_noise_action(party[w]) == BTNET_NOISE_DONE) {
				ck_assert_int_eq(btnet_noise_action(party[r]),
				    BTNET_NOISE_DONE);
				ck_assert_int_eq(btnet_noise_handshake_hash(
				    party[0], h0), BT_OK);
				ck_assert_int_eq(btnet_noise_handshake_hash(
				    party[1], h1), BT_OK);
				ck_assert_mem_eq(h0, h1, 32);
				/* each side learnt the other's static key */
				if (v->init_static.set) {
					ck_assert_int_eq(btnet_noise_remote_static(
					    party[1], rs), BT_OK);
					ck_assert_int_eq(btcore_x25519_public(pub,
					    v->init_static.b), BT_OK);
					ck_assert_mem_eq(rs, pub, 32);
				}
				ck_assert_int_eq(btnet_noise_split(party[0],
				    &send[0], &recv[0]), BT_OK);
				ck_assert_int_eq(btnet_noise_split(party[1],
				    &send[1], &recv[1]), BT_OK);
				/* a second split is refused */
				ck_assert_int_eq(btnet_noise_split(party[1],
				    &xs, &xr), BT_ESTATE);
				ck_assert_ptr_null(xs);
				ck_assert_ptr_null(xr);
			}
			continue;
		}
		if (prep) {
			btnet_cipher_prepare_(send[w], 1);
			btnet_cipher_prepare_(recv[r], 0);
		}
		ck_assert_int_eq(btnet_cipher_encrypt(send[w], NULL, 0,
		    v->payload[i].b, v->payload[i].len, buf), BT_OK);
		ck_assert_uint_eq(v->payload[i].len + 16, v->ciphertext[i].len);
		ck_assert_mem_eq(buf, v->ciphertext[i].b, v->ciphertext[i].len);
		ck_assert_int_eq(btnet_cipher_decrypt(recv[r], NULL, 0, buf,
		    v->ciphertext[i].len, pl), BT_OK);
		ck_assert_mem_eq(pl, v->payload[i].b, v->payload[i].len);
	}
	ck_assert_ptr_nonnull(send[0]);
	btnet_cipher_free(send[0]);
	btnet_cipher_free(recv[0]);
	btnet_cipher_free(send[1]);
	btnet_cipher_free(recv[1]);
	btnet_noise_free(party[0]);
	btnet_noise_free(party[1]);
}

START_TEST(cacophony_vectors)
{
	static struct vector v;
	char line[4096], *key, *val, *val2;
	FILE *f;
	int in_vec = 0, ran = 0, xx = 0;
	struct hexfield *hf;

	f = fopen(VEC_FILE, "r");
	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		if (line[0] == '#' || line[0] == '\0')
			continue;
		key = line;
		val = NULL;
		val2 = NULL;
		if ((val = strchr(line, ' ')) != NULL) {
			*val++ = '\0';
			if ((val2 = strchr(val, ' ')) != NULL)
				*val2++ = '\0';
		}
		if (strcmp(key, "vector") == 0) {
			ck_assert(!in_vec);
			memset(&v, 0, sizeof(v));
			ck_assert_ptr_nonnull(val);
			ck_assert_uint_lt(strlen(val), sizeof(v.name));
			memcpy(v.name, val, strlen(val) + 1);
			in_vec = 1;
		} else if (strcmp(key, "msg") == 0) {
			ck_assert(in_vec);
			ck_assert_uint_lt(v.nmsgs, VEC_MSGS_MAX);
			ck_assert_ptr_nonnull(val);
			ck_assert_ptr_nonnull(val2);
			parse_hex(&v.payload[v.nmsgs], val);
			parse_hex(&v.ciphertext[v.nmsgs], val2);
			v.nmsgs++;
		} else if (strcmp(key, "end") == 0) {
			ck_assert(in_vec);
			run_vector(&v, 0);
			run_vector(&v, 1);
			ran++;
			if (strstr(v.name, "_XX_") != NULL)
				xx++;
			in_vec = 0;
		} else {
			hf = field(&v, key);
			ck_assert_msg(hf != NULL, "unknown field %s", key);
			ck_assert_ptr_nonnull(val);
			parse_hex(hf, val);
		}
	}
	fclose(f);
	ck_assert(!in_vec);
	/* every vector of the file: NN, IK and XX */
	ck_assert_int_eq(ran, 3);
	ck_assert_int_eq(xx, 1);
}
END_TEST

START_TEST(protocol_names)
{
	struct btnet_noise *n = (struct btnet_noise *)1;
	static const char *good[] = { "NN", "NK", "NX", "XN", "XK", "XX",
	    "KN", "KK", "KX", "IN", "IK", "IX" };
	static const char *bad[] = { "Noise_XX_448_ChaChaPoly_SHA256",
	    "Noise_XX_25519_AESGCM_SHA256", "Noise_XX_25519_ChaChaPoly_BLAKE2s",
	    "Noise_XXpsk3_25519_ChaChaPoly_SHA256", "Noise__25519_ChaChaPoly_SHA256",
	    "Noise_N_25519_ChaChaPoly_SHA256", "noise_XX_25519_ChaChaPoly_SHA256",
	    "Noise_XX_25519_ChaChaPoly_SHA2566", "", "Noise_XX" };
	char name[64];
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		snprintf(name, sizeof(name), "Noise_%s_25519_ChaChaPoly_SHA256",
		    good[i]);
		ck_assert_int_eq(btnet_noise_new(&n, name, 1), BT_OK);
		ck_assert_int_eq(btnet_noise_action(n), BTNET_NOISE_WRITE);
		btnet_noise_free(n);
		ck_assert_int_eq(btnet_noise_new(&n, name, 0), BT_OK);
		ck_assert_int_eq(btnet_noise_action(n), BTNET_NOISE_READ);
		btnet_noise_free(n);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		n = (struct btnet_noise *)1;
		ck_assert_int_eq(btnet_noise_new(&n, bad[i], 1),
		    BT_EUNSUPPORTED);
		ck_assert_ptr_null(n);
	}
	ck_assert_int_eq(btnet_noise_new(&n, NULL, 1), BT_EINVAL);
	ck_assert_int_eq(btnet_noise_new(NULL, "Noise_NN_25519_ChaChaPoly_SHA256",
	    1), BT_EINVAL);
	btnet_noise_free(NULL);
}
END_TEST

/* Two NN parties run to the end; returns their cipher states. */
static void
nn_pair(struct btnet_cipher **is, struct btnet_cipher **ir,
    struct btnet_cipher **rs, struct btnet_cipher **rr)
{
	struct btnet_noise *i, *r;
	uint8_t buf[256], pl[256];
	size_t len, plen;

	ck_assert_int_eq(btnet_noise_new(&i, "Noise_NN_25519_ChaChaPoly_SHA256",
	    1), BT_OK);
	ck_assert_int_eq(btnet_noise_new(&r, "Noise_NN_25519_ChaChaPoly_SHA256",
	    0), BT_OK);
	ck_assert_int_eq(btnet_noise_write_message(i, NULL, 0, buf, sizeof(buf),
	    &len), BT_OK);
	ck_assert_int_eq(btnet_noise_read_message(r, buf, len, pl, sizeof(pl),
	    &plen), BT_OK);
	ck_assert_int_eq(btnet_noise_write_message(r, "x", 1, buf, sizeof(buf),
	    &len), BT_OK);
	ck_assert_int_eq(btnet_noise_read_message(i, buf, len, pl, sizeof(pl),
	    &plen), BT_OK);
	ck_assert_uint_eq(plen, 1);
	ck_assert_int_eq(btnet_noise_split(i, is, ir), BT_OK);
	ck_assert_int_eq(btnet_noise_split(r, rs, rr), BT_OK);
	btnet_noise_free(i);
	btnet_noise_free(r);
}

START_TEST(cipher_nonce_limit_and_rekey)
{
	struct btnet_cipher *is, *ir, *rs, *rr;
	uint8_t buf[64], pt[64], big[BTNET_NOISE_MSG_MAX + 1];
	uint64_t k;

	nn_pair(&is, &ir, &rs, &rr);
	/* a round trip, then a tampered tag, which leaves the nonce alone */
	ck_assert_int_eq(btnet_cipher_encrypt(is, "ad", 2, "hello", 5, buf),
	    BT_OK);
	ck_assert_uint_eq(btnet_cipher_nonce(is), 1);
	buf[20] ^= 1;
	ck_assert_int_eq(btnet_cipher_decrypt(rr, "ad", 2, buf, 21, pt),
	    BT_EVERIFY);
	ck_assert_uint_eq(btnet_cipher_nonce(rr), 0);
	buf[20] ^= 1;
	ck_assert_int_eq(btnet_cipher_decrypt(rr, "ax", 2, buf, 21, pt),
	    BT_EVERIFY);
	ck_assert_int_eq(btnet_cipher_decrypt(rr, "ad", 2, buf, 21, pt), BT_OK);
	ck_assert_mem_eq(pt, "hello", 5);
	/* replaying the same ciphertext fails: the nonce moved on */
	ck_assert_int_eq(btnet_cipher_decrypt(rr, "ad", 2, buf, 21, pt),
	    BT_EVERIFY);
	ck_assert_int_eq(btnet_cipher_decrypt(rr, NULL, 0, buf, 15, pt),
	    BT_ETRUNC);
	memset(big, 0, sizeof(big));
	ck_assert_int_eq(btnet_cipher_decrypt(rr, NULL, 0, big, sizeof(big),
	    big), BT_ETOOBIG);
	ck_assert_int_eq(btnet_cipher_encrypt(is, NULL, 0, big,
	    BTNET_NOISE_PLAIN_MAX + 1, big), BT_ETOOBIG);
	ck_assert_int_eq(btnet_cipher_encrypt(is, NULL, 0, big,
	    BTNET_NOISE_PLAIN_MAX, big), BT_OK);
	ck_assert_int_eq(btnet_cipher_decrypt(rr, NULL, 0, big,
	    BTNET_NOISE_MSG_MAX, big), BT_OK);

	/* nonce 2^64 - 2 is the last usable one; 2^64 - 1 is refused */
	btnet_cipher_set_rekey_interval(is, 0);
	btnet_cipher_set_rekey_interval(rr, 0);
	btnet_cipher_set_nonce_(is, UINT64_MAX - 1);
	btnet_cipher_set_nonce_(rr, UINT64_MAX - 1);
	ck_assert_int_eq(btnet_cipher_encrypt(is, NULL, 0, "z", 1, buf), BT_OK);
	ck_assert_int_eq(btnet_cipher_decrypt(rr, NULL, 0, buf, 17, pt), BT_OK);
	ck_assert_uint_eq(btnet_cipher_nonce(is), UINT64_MAX);
	ck_assert_int_eq(btnet_cipher_encrypt(is, NULL, 0, "z", 1, buf),
	    BTNET_ENONCE);
	ck_assert_int_eq(btnet_cipher_decrypt(rr, NULL, 0, buf, 17, pt),
	    BTNET_ENONCE);

	/* explicit rekey on both ends at the same point */
	ck_assert_int_eq(btnet_cipher_encrypt(rs, NULL, 0, "a", 1, buf), BT_OK);
	ck_assert_int_eq(btnet_cipher_decrypt(ir, NULL, 0, buf, 17, pt), BT_OK);
	ck_assert_int_eq(btnet_cipher_rekey(rs), BT_OK);
	ck_assert_int_eq(btnet_cipher_encrypt(rs, NULL, 0, "b", 1, buf), BT_OK);
	ck_assert_int_eq(btnet_cipher_decrypt(ir, NULL, 0, buf, 17, pt),
	    BT_EVERIFY);	/* not rekeyed yet */
	ck_assert_int_eq(btnet_cipher_rekey(ir), BT_OK);
	ck_assert_int_eq(btnet_cipher_decrypt(ir, NULL, 0, buf, 17, pt), BT_OK);
	ck_assert_uint_eq(pt[0], 'b');
	ck_assert_uint_eq(btnet_cipher_nonce(ir), 2);	/* rekey keeps n */

	/* automatic rekey every 3 messages; a mismatched interval fails */
	btnet_cipher_set_rekey_interval(rs, 3);
	btnet_cipher_set_rekey_interval(ir, 3);
	for (k = 0; k < 10; k++) {
		ck_assert_int_eq(btnet_cipher_encrypt(rs, NULL, 0, &k, sizeof(k),
		    buf), BT_OK);
		ck_assert_int_eq(btnet_cipher_decrypt(ir, NULL, 0, buf,
		    sizeof(k) + 16, pt), BT_OK);
		ck_assert_mem_eq(pt, &k, sizeof(k));
	}
	btnet_cipher_set_rekey_interval(ir, 4);
	for (k = 0; k < 4; k++) {
		ck_assert_int_eq(btnet_cipher_encrypt(rs, NULL, 0, "q", 1, buf),
		    BT_OK);
		if (btnet_cipher_decrypt(ir, NULL, 0, buf, 17, pt) != BT_OK)
			break;
	}
	ck_assert_uint_lt(k, 4);

	ck_assert_int_eq(btnet_cipher_encrypt(NULL, NULL, 0, "a", 1, buf),
	    BT_EINVAL);
	ck_assert_int_eq(btnet_cipher_rekey(NULL), BT_EINVAL);
	btnet_cipher_free(is);
	btnet_cipher_free(ir);
	btnet_cipher_free(rs);
	btnet_cipher_free(rr);
	btnet_cipher_free(NULL);
}
END_TEST

/*
 * Messages whose nonce was set up ahead (btnet_cipher_prepare_()) give
 * the bytes of the plain path: every length up to the prepared size and
 * past it, with and without associated data, in place; a tag that does
 * not verify spends nothing; a rekey or a nonce set makes what was set
 * up stale.  The plain path is checked against the one-shot AEAD.
 */
START_TEST(cipher_prepared_path)
{
	enum { MAXLEN = BTNET_CIPHER_PREPARED_MAX + 8 };
	static uint8_t in[MAXLEN], a[MAXLEN + 16], b[MAXLEN + 16],
	    ref[MAXLEN + 16], pt[MAXLEN + 16];
	uint8_t key[32], nonce[12];
	struct btnet_cipher *pa, *pb, *ra, *rb;
	size_t len, ad_len, i;
	uint64_t n = 0;

	for (i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)(i * 7 + 1);
	for (i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)(i * 13 + 5);
	ck_assert_int_eq(btnet_cipher_new_(&pa, key), BT_OK);
	ck_assert_int_eq(btnet_cipher_new_(&pb, key), BT_OK);
	ck_assert_int_eq(btnet_cipher_new_(&ra, key), BT_OK);
	ck_assert_int_eq(btnet_cipher_new_(&rb, key), BT_OK);
	btnet_cipher_set_rekey_interval(pa, 0);
	btnet_cipher_set_rekey_interval(pb, 0);
	btnet_cipher_set_rekey_interval(ra, 0);
	btnet_cipher_set_rekey_interval(rb, 0);
	for (len = 0; len <= MAXLEN; len++, n++) {
		ad_len = len % 3 == 0 ? len % 37 : 0;
		/* the plain path against the one-shot AEAD */
		memset(nonce, 0, sizeof(nonce));
		for (i = 0; i < 8; i++)
			nonce[4 + i] = (uint8_t)(n >> (8 * i));
		ck_assert_int_eq(btcore_aead_seal(ref, key, nonce,
		    ad_len ? in + 1 : NULL, ad_len, in, len), BT_OK);
		ck_assert_int_eq(btnet_cipher_encrypt(pb, ad_len ? in + 1 :
		    NULL, ad_len, in, len, b), BT_OK);
		ck_assert_mem_eq(b, ref, len + 16);
		/* prepared, in place (after a message of this size, as a
		   connection prepares) */
		btnet_cipher_prepare_(pa, 1);
		memcpy(a, in, len);
		ck_assert_int_eq(btnet_cipher_encrypt(pa, ad_len ? in + 1 :
		    NULL, ad_len, a, len, a), BT_OK);
		ck_assert_mem_eq(a, ref, len + 16);
		/* a wrong tag, prepared: refused, the nonce stays */
		btnet_cipher_prepare_(ra, 0);
		a[len + (len % 16)] ^= 0x20;
		ck_assert_int_eq(btnet_cipher_decrypt(ra, ad_len ? in + 1 :
		    NULL, ad_len, a, len + 16, pt), BT_EVERIFY);
		ck_assert_uint_eq(btnet_cipher_nonce(ra), n);
		a[len + (len % 16)] ^= 0x20;
		if (len > 0) {
			/* a flipped text bit, prepared again */
			btnet_cipher_prepare_(ra, 0);
			a[len / 2] ^= 1;
			ck_assert_int_eq(btnet_cipher_decrypt(ra, ad_len ?
			    in + 1 : NULL, ad_len, a, len + 16, pt),
			    BT_EVERIFY);
			a[len / 2] ^= 1;
		}
		/* the genuine one: every other time prepared again */
		if (len % 2 == 0)
			btnet_cipher_prepare_(ra, 0);
		ck_assert_int_eq(btnet_cipher_decrypt(ra, ad_len ? in + 1 :
		    NULL, ad_len, a, len + 16, pt), BT_OK);
		ck_assert_mem_eq(pt, in, len);
		/* prepared decryption in place */
		btnet_cipher_prepare_(rb, 0);
		ck_assert_int_eq(btnet_cipher_decrypt(rb, ad_len ? in + 1 :
		    NULL, ad_len, b, len + 16, b), BT_OK);
		ck_assert_mem_eq(b, in, len);
	}
	/* set up, then made stale by a rekey on both ends */
	btnet_cipher_prepare_(pa, 1);
	btnet_cipher_prepare_(ra, 0);
	ck_assert_int_eq(btnet_cipher_rekey(pa), BT_OK);
	ck_assert_int_eq(btnet_cipher_rekey(pb), BT_OK);
	ck_assert_int_eq(btnet_cipher_rekey(ra), BT_OK);
	ck_assert_int_eq(btnet_cipher_encrypt(pa, NULL, 0, in, 64, a), BT_OK);
	ck_assert_int_eq(btnet_cipher_encrypt(pb, NULL, 0, in, 64, b), BT_OK);
	ck_assert_mem_eq(a, b, 64 + 16);
	ck_assert_int_eq(btnet_cipher_decrypt(ra, NULL, 0, a, 80, pt), BT_OK);
	/* ... and by setting the nonce */
	btnet_cipher_prepare_(pa, 1);
	btnet_cipher_set_nonce_(pa, n + 100);
	btnet_cipher_set_nonce_(pb, n + 100);
	ck_assert_int_eq(btnet_cipher_encrypt(pa, NULL, 0, in, 64, a), BT_OK);
	ck_assert_int_eq(btnet_cipher_encrypt(pb, NULL, 0, in, 64, b), BT_OK);
	ck_assert_mem_eq(a, b, 64 + 16);
	/* set up twice for one nonce: one message uses it, the next not */
	btnet_cipher_prepare_(pa, 1);
	btnet_cipher_prepare_(pa, 1);
	ck_assert_int_eq(btnet_cipher_encrypt(pa, NULL, 0, in, 10, a), BT_OK);
	ck_assert_int_eq(btnet_cipher_encrypt(pb, NULL, 0, in, 10, b), BT_OK);
	ck_assert_mem_eq(a, b, 10 + 16);
	ck_assert_int_eq(btnet_cipher_encrypt(pa, NULL, 0, in, 10, a), BT_OK);
	ck_assert_int_eq(btnet_cipher_encrypt(pb, NULL, 0, in, 10, b), BT_OK);
	ck_assert_mem_eq(a, b, 10 + 16);
	/* NULL is a no-op */
	btnet_cipher_prepare_(NULL, 1);
	btnet_cipher_free(pa);
	btnet_cipher_free(pb);
	btnet_cipher_free(ra);
	btnet_cipher_free(rb);
}
END_TEST

START_TEST(handshake_misuse)
{
	struct btnet_noise *i, *r;
	struct btnet_cipher *a = NULL, *b = NULL;
	uint8_t buf[256], pl[256], key[32], h[32];
	size_t len, plen;

	memset(key, 7, sizeof(key));
	ck_assert_int_eq(btnet_noise_new(&i, "Noise_XX_25519_ChaChaPoly_SHA256",
	    1), BT_OK);
	ck_assert_int_eq(btnet_noise_new(&r, "Noise_XX_25519_ChaChaPoly_SHA256",
	    0), BT_OK);
	/* reading out of turn, splitting early */
	ck_assert_int_eq(btnet_noise_write_message(r, NULL, 0, buf, sizeof(buf),
	    &len), BT_ESTATE);
	ck_assert_int_eq(btnet_noise_split(i, &a, &b), BT_ESTATE);
	ck_assert_int_eq(btnet_noise_handshake_hash(i, h), BT_ESTATE);
	ck_assert_int_eq(btnet_noise_remote_static(i, h), BT_ENOTFOUND);
	/* too small an output buffer leaves the state usable */
	ck_assert_int_eq(btnet_noise_write_message(i, NULL, 0, buf, 31, &len),
	    BT_ENOSPC);
	ck_assert_int_eq(btnet_noise_write_message(i, NULL, 65504, buf,
	    sizeof(buf), &len), BT_EINVAL);
	ck_assert_int_eq(btnet_noise_write_message(i, NULL, 0, buf, sizeof(buf),
	    &len), BT_OK);
	ck_assert_uint_eq(len, 32);
	/* configuration after the first message is refused */
	ck_assert_int_eq(btnet_noise_set_prologue(i, "x", 1), BT_ESTATE);
	ck_assert_int_eq(btnet_noise_set_local_static(i, key), BT_ESTATE);
	ck_assert_int_eq(btnet_noise_read_message(r, buf, len, pl, sizeof(pl),
	    &plen), BT_OK);
	/* the responder has no static key: XX needs one for message 2 */
	ck_assert_int_eq(btnet_noise_write_message(r, NULL, 0, buf, sizeof(buf),
	    &len), BT_ENOTFOUND);
	ck_assert_int_eq(btnet_noise_action(r), BTNET_NOISE_FAILED);
	ck_assert_int_eq(btnet_noise_write_message(r, NULL, 0, buf, sizeof(buf),
	    &len), BT_ESTATE);
	btnet_noise_free(i);
	btnet_noise_free(r);

	/* a low-order ephemeral key (all zero) is refused by the responder */
	ck_assert_int_eq(btnet_noise_new(&r, "Noise_XX_25519_ChaChaPoly_SHA256",
	    0), BT_OK);
	ck_assert_int_eq(btnet_noise_set_local_static(r, key), BT_OK);
	memset(buf, 0, 32);
	ck_assert_int_eq(btnet_noise_read_message(r, buf, 32, pl, sizeof(pl),
	    &plen), BT_OK);
	ck_assert_int_eq(btnet_noise_write_message(r, NULL, 0, buf, sizeof(buf),
	    &len), BT_EVERIFY);
	ck_assert_int_eq(btnet_noise_action(r), BTNET_NOISE_FAILED);
	btnet_noise_free(r);

	/* prologue set twice, oversize prologue */
	ck_assert_int_eq(btnet_noise_new(&r, "Noise_NN_25519_ChaChaPoly_SHA256",
	    0), BT_OK);
	ck_assert_int_eq(btnet_noise_set_prologue(r, buf, 65536), BT_ERANGE);
	ck_assert_int_eq(btnet_noise_set_prologue(r, "p", 1), BT_OK);
	ck_assert_int_eq(btnet_noise_set_prologue(r, "p", 1), BT_ESTATE);
	/* truncated message 1 fails the handshake for good */
	ck_assert_int_eq(btnet_noise_read_message(r, buf, 31, pl, sizeof(pl),
	    &plen), BT_ETRUNC);
	ck_assert_int_eq(btnet_noise_action(r), BTNET_NOISE_FAILED);
	btnet_noise_free(r);

	ck_assert_str_eq(btnet_strerror(BTNET_ENONCE),
	    "cipher nonce space exhausted; the connection must be renewed");
	ck_assert_str_eq(btnet_strerror(BT_EINVAL), "invalid argument");
	ck_assert_str_eq(btnet_version(), "0.1.0");
}
END_TEST

Suite *
suite_noise(void)
{
	Suite *s = suite_create("noise");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, cacophony_vectors);
	tcase_add_test(tc, protocol_names);
	tcase_add_test(tc, cipher_nonce_limit_and_rekey);
	tcase_add_test(tc, cipher_prepared_path);
	tcase_add_test(tc, handshake_misuse);
	suite_add_tcase(s, tc);
	return s;
}
