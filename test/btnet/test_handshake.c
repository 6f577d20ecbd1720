/*
 * test_handshake.c - BlockTree's authenticated Noise_XX handshake:
 * success, every bit flipped, truncation, wrong prologue, wrong static
 * key, identity signed by another key, wrong peer, replays.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <bt/crypto.h>
#include <bt/key.h>
#include <bt/neterror.h>
#include <bt/noise.h>

#include "btnet-internal.h"

Suite *suite_handshake(void);

struct party {
	struct btcore_key *key;
	struct btcore_signer signer;
	struct btnet_identity *id;
	struct bt_id node_id;
	uint8_t static_priv[32];
};

static void
party_init(struct party *p, uint8_t seed)
{
	uint8_t s[32];
	struct bt_id id;

	memset(s, seed, sizeof(s));
	ck_assert_int_eq(btcore_key_from_seed(&p->key, s), BT_OK);
	btcore_key_signer(p->key, &p->signer);
	memset(p->static_priv, (uint8_t)(seed + 100), sizeof(p->static_priv));
	ck_assert_int_eq(btnet_identity_new(&p->id, &p->signer, p->static_priv),
	    BT_OK);
	btnet_identity_node_id(p->id, &p->node_id);
	ck_assert_int_eq(btcore_pubkey_id(&p->signer.pub, &id), BT_OK);
	ck_assert_mem_eq(id.b, p->node_id.b, 32);
}

static void
party_fini(struct party *p)
{
	btnet_identity_free(p->id);
	btcore_key_free(p->key);
}

static const uint8_t eph_i[32] = { 1, 2, 3, 4, 5 };
static const uint8_t eph_r[32] = { 9, 8, 7, 6, 5 };

static struct btnet_handshake *
hs_fixed(const struct party *p, int initiator, const struct bt_id *expect)
{
	struct btnet_handshake *hs;

	ck_assert_int_eq(btnet_handshake_new_(&hs, p->id, initiator, expect,
	    BTNET_NOISE_PROLOGUE, strlen(BTNET_NOISE_PROLOGUE),
	    initiator ? eph_i : eph_r), BT_OK);
	return hs;
}

/* A failed handshake gives nothing away. */
static void
assert_no_session(struct btnet_handshake *hs)
{
	struct btnet_cipher *s = (struct btnet_cipher *)1;
	struct btnet_cipher *r = (struct btnet_cipher *)1;
	uint8_t buf[BTNET_HANDSHAKE_MSG_MAX];
	size_t len;

	ck_assert_int_eq(btnet_handshake_action(hs), BTNET_NOISE_FAILED);
	ck_assert_int_eq(btnet_handshake_finish(hs, &s, &r, NULL, NULL),
	    BT_ESTATE);
	ck_assert_ptr_null(s);
	ck_assert_ptr_null(r);
	ck_assert_int_eq(btnet_handshake_write(hs, buf, sizeof(buf), &len),
	    BT_ESTATE);
	ck_assert_int_eq(btnet_handshake_read(hs, buf, 32), BT_ESTATE);
}

struct transcript {
	uint8_t m[3][BTNET_HANDSHAKE_MSG_MAX];
	size_t len[3];
};

/* Run a full handshake; check both ends agree and can talk. */
static void
run_ok(struct btnet_handshake *i, struct btnet_handshake *r,
    const struct party *pi, const struct party *pr, struct transcript *t)
{
	struct btnet_cipher *is, *ir, *rs, *rr, *xs, *xr;
	struct bt_id id;
	struct bt_pubkey pk;

	ck_assert_int_eq(btnet_handshake_action(i), BTNET_NOISE_WRITE);
	ck_assert_int_eq(btnet_handshake_action(r), BTNET_NOISE_READ);
	ck_assert_int_eq(btnet_handshake_write(i, t->m[0], sizeof(t->m[0]),
	    &t->len[0]), BT_OK);
	ck_assert_int_eq(btnet_handshake_read(r, t->m[0], t->len[0]), BT_OK);
	ck_assert_int_eq(btnet_handshake_write(r, t->m[1], sizeof(t->m[1]),
	    &t->len[1]), BT_OK);
	ck_assert_int_eq(btnet_handshake_read(i, t->m[1], t->len[1]), BT_OK);
	ck_assert_int_eq(btnet_handshake_write(i, t->m[2], sizeof(t->m[2]),
	    &t->len[2]), BT_OK);
	ck_assert_int_eq(btnet_handshake_read(r, t->m[2], t->len[2]), BT_OK);
	ck_assert_uint_eq(t->len[0], 32);
	ck_assert_uint_eq(t->len[1], 32 + 48 + BTNET_IDENTITY_PAYLOAD_LEN + 16);
	ck_assert_uint_eq(t->len[2], 48 + BTNET_IDENTITY_PAYLOAD_LEN + 16);
	ck_assert_int_eq(btnet_handshake_action(i), BTNET_NOISE_DONE);
	ck_assert_int_eq(btnet_handshake_action(r), BTNET_NOISE_DONE);

	ck_assert_int_eq(btnet_handshake_finish(i, &is, &ir, &id, &pk), BT_OK);
	ck_assert_mem_eq(id.b, pr->node_id.b, 32);
	ck_assert_mem_eq(pk.b, pr->signer.pub.b, 32);
	ck_assert_int_eq(btnet_handshake_finish(r, &rs, &rr, &id, &pk), BT_OK);
	ck_assert_mem_eq(id.b, pi->node_id.b, 32);
	ck_assert_mem_eq(pk.b, pi->signer.pub.b, 32);
	/* finishing twice is refused */
	ck_assert_int_eq(btnet_handshake_finish(r, &xs, &xr, NULL, NULL),
	    BT_ESTATE);
	ck_assert_ptr_null(xs);
	btnet_cipher_free(is);
	btnet_cipher_free(ir);
	btnet_cipher_free(rs);
	btnet_cipher_free(rr);
}

/* As run_ok, but keeps the cipher states to exercise them. */
static void
run_and_talk(const struct party *pi, const struct party *pr)
{
	struct btnet_handshake *i, *r;
	struct btnet_cipher *is, *ir, *rs, *rr;
	struct transcript t;
	uint8_t buf[64], pt[64];

	ck_assert_int_eq(btnet_handshake_new(&i, pi->id, 1, &pr->node_id),
	    BT_OK);
	ck_assert_int_eq(btnet_handshake_new(&r, pr->id, 0, NULL), BT_OK);
	ck_assert_int_eq(btnet_handshake_write(i, t.m[0], sizeof(t.m[0]),
	    &t.len[0]), BT_OK);
	ck_assert_int_eq(btnet_handshake_read(r, t.m[0], t.len[0]), BT_OK);
	ck_assert_int_eq(btnet_handshake_write(r, t.m[1], sizeof(t.m[1]),
	    &t.len[1]), BT_OK);
	ck_assert_int_eq(btnet_handshake_read(i, t.m[1], t.len[1]), BT_OK);
	ck_assert_int_eq(btnet_handshake_write(i, t.m[2], sizeof(t.m[2]),
	    &t.len[2]), BT_OK);
	ck_assert_int_eq(btnet_handshake_read(r, t.m[2], t.len[2]), BT_OK);
	ck_assert_int_eq(btnet_handshake_finish(i, &is, &ir, NULL, NULL), BT_OK);
	ck_assert_int_eq(btnet_handshake_finish(r, &rs, &rr, NULL, NULL), BT_OK);
	ck_assert_int_eq(btnet_cipher_encrypt(is, NULL, 0, "ping", 4, buf),
	    BT_OK);
	ck_assert_int_eq(btnet_cipher_decrypt(rr, NULL, 0, buf, 20, pt), BT_OK);
	ck_assert_mem_eq(pt, "ping", 4);
	ck_assert_int_eq(btnet_cipher_encrypt(rs, NULL, 0, "pong", 4, buf),
	    BT_OK);
	/* the directions have different keys */
	ck_assert_int_eq(btnet_cipher_decrypt(rr, NULL, 0, buf, 20, pt),
	    BT_EVERIFY);
	ck_assert_int_eq(btnet_cipher_decrypt(ir, NULL, 0, buf, 20, pt), BT_OK);
	ck_assert_mem_eq(pt, "pong", 4);
	btnet_cipher_free(is);
	btnet_cipher_free(ir);
	btnet_cipher_free(rs);
	btnet_cipher_free(rr);
	btnet_handshake_free(i);
	btnet_handshake_free(r);
}

START_TEST(handshake_succeeds)
{
	struct party a, b;
	struct btnet_handshake *i, *r;
	struct transcript t1, t2;

	party_init(&a, 1);
	party_init(&b, 2);
	run_and_talk(&a, &b);
	run_and_talk(&b, &a);
	/* fixed ephemerals give the same transcript twice */
	i = hs_fixed(&a, 1, &b.node_id);
	r = hs_fixed(&b, 0, NULL);
	run_ok(i, r, &a, &b, &t1);
	btnet_handshake_free(i);
	btnet_handshake_free(r);
	i = hs_fixed(&a, 1, NULL);
	r = hs_fixed(&b, 0, &a.node_id);
	run_ok(i, r, &a, &b, &t2);
	btnet_handshake_free(i);
	btnet_handshake_free(r);
	ck_assert_mem_eq(t1.m[1], t2.m[1], t1.len[1]);
	ck_assert_mem_eq(t1.m[2], t2.m[2], t1.len[2]);
	btnet_handshake_free(NULL);
	btnet_identity_free(NULL);
	ck_assert_int_eq(btnet_handshake_new(&i, NULL, 1, NULL), BT_EINVAL);
	ck_assert_ptr_null(i);
	party_fini(&a);
	party_fini(&b);
}
END_TEST

/*
 * Replay the fixed-key handshake with message @p which replaced by @p m
 * (@p len bytes); returns 1 when both ends completed.
 */
static int
try_tampered(const struct party *a, const struct party *b,
    const struct transcript *t, int which, const uint8_t *m, size_t len)
{
	struct btnet_handshake *i, *r;
	uint8_t buf[BTNET_HANDSHAKE_MSG_MAX];
	size_t blen;
	int ok = 0;

	i = hs_fixed(a, 1, &b->node_id);
	r = hs_fixed(b, 0, NULL);
	ck_assert_int_eq(btnet_handshake_write(i, buf, sizeof(buf), &blen),
	    BT_OK);
	if (btnet_handshake_read(r, which == 0 ? m : t->m[0],
	    which == 0 ? len : t->len[0]) != BT_OK) {
		assert_no_session(r);
		goto out;
	}
	ck_assert_int_eq(btnet_handshake_write(r, buf, sizeof(buf), &blen),
	    BT_OK);
	if (btnet_handshake_read(i, which == 1 ? m : buf,
	    which == 1 ? len : blen) != BT_OK) {
		assert_no_session(i);
		goto out;
	}
	ck_assert_int_eq(btnet_handshake_write(i, buf, sizeof(buf), &blen),
	    BT_OK);
	if (btnet_handshake_read(r, which == 2 ? m : buf,
	    which == 2 ? len : blen) != BT_OK) {
		assert_no_session(r);
		goto out;
	}
	ok = 1;
out:
	btnet_handshake_free(i);
	btnet_handshake_free(r);
	return ok;
}

START_TEST(every_bit_flipped_and_every_length)
{
	struct party a, b;
	struct btnet_handshake *i, *r;
	struct transcript t;
	uint8_t m[BTNET_HANDSHAKE_MSG_MAX + 1];
	size_t j, bit, len;
	int which, flips = 0;

	party_init(&a, 3);
	party_init(&b, 4);
	i = hs_fixed(&a, 1, &b.node_id);
	r = hs_fixed(&b, 0, NULL);
	run_ok(i, r, &a, &b, &t);
	btnet_handshake_free(i);
	btnet_handshake_free(r);
	/* the untouched transcript goes through */
	for (which = 0; which < 3; which++)
		ck_assert_int_eq(try_tampered(&a, &b, &t, which, t.m[which],
		    t.len[which]), 1);
	for (which = 0; which < 3; which++) {
		for (j = 0; j < t.len[which]; j++) {
			for (bit = 0; bit < 8; bit++) {
				memcpy(m, t.m[which], t.len[which]);
				m[j] ^= (uint8_t)(1u << bit);
				ck_assert_msg(!try_tampered(&a, &b, &t, which, m,
				    t.len[which]), "msg %d byte %zu bit %zu "
				    "accepted", which + 1, j, bit);
				flips++;
			}
		}
		/* every truncation, and one byte too many */
		for (len = 0; len < t.len[which]; len++)
			ck_assert(!try_tampered(&a, &b, &t, which, t.m[which],
			    len));
		memcpy(m, t.m[which], t.len[which]);
		m[t.len[which]] = 0;
		ck_assert(!try_tampered(&a, &b, &t, which, m,
		    t.len[which] + 1));
	}
	ck_assert_int_eq(flips, (32 + 193 + 161) * 8);
	party_fini(&a);
	party_fini(&b);
}
END_TEST

START_TEST(wrong_prologue_and_wrong_peer)
{
	struct party a, b, c;
	struct btnet_handshake *i, *r;
	uint8_t buf[BTNET_HANDSHAKE_MSG_MAX];
	size_t len;

	party_init(&a, 5);
	party_init(&b, 6);
	party_init(&c, 7);
	/* different prologue: the initiator refuses message 2 */
	ck_assert_int_eq(btnet_handshake_new_(&i, a.id, 1, NULL, "BlockTree/2",
	    11, NULL), BT_OK);
	ck_assert_int_eq(btnet_handshake_new(&r, b.id, 0, NULL), BT_OK);
	ck_assert_int_eq(btnet_handshake_write(i, buf, sizeof(buf), &len), BT_OK);
	ck_assert_int_eq(btnet_handshake_read(r, buf, len), BT_OK);
	ck_assert_int_eq(btnet_handshake_write(r, buf, sizeof(buf), &len), BT_OK);
	ck_assert_int_eq(btnet_handshake_read(i, buf, len), BT_EVERIFY);
	assert_no_session(i);
	btnet_handshake_free(i);
	btnet_handshake_free(r);

	/* dialling c but reaching b */
	ck_assert_int_eq(btnet_handshake_new(&i, a.id, 1, &c.node_id), BT_OK);
	ck_assert_int_eq(btnet_handshake_new(&r, b.id, 0, NULL), BT_OK);
	ck_assert_int_eq(btnet_handshake_write(i, buf, sizeof(buf), &len), BT_OK);
	ck_assert_int_eq(btnet_handshake_read(r, buf, len), BT_OK);
	ck_assert_int_eq(btnet_handshake_write(r, buf, sizeof(buf), &len), BT_OK);
	ck_assert_int_eq(btnet_handshake_read(i, buf, len), BTNET_EPEERID);
	assert_no_session(i);
	btnet_handshake_free(i);
	btnet_handshake_free(r);

	/* a responder expecting c refuses a's message 3 */
	ck_assert_int_eq(btnet_handshake_new(&i, a.id, 1, NULL), BT_OK);
	ck_assert_int_eq(btnet_handshake_new(&r, b.id, 0, &c.node_id), BT_OK);
	ck_assert_int_eq(btnet_handshake_write(i, buf, sizeof(buf), &len), BT_OK);
	ck_assert_int_eq(btnet_handshake_read(r, buf, len), BT_OK);
	ck_assert_int_eq(btnet_handshake_write(r, buf, sizeof(buf), &len), BT_OK);
	ck_assert_int_eq(btnet_handshake_read(i, buf, len), BT_OK);
	ck_assert_int_eq(btnet_handshake_write(i, buf, sizeof(buf), &len), BT_OK);
	ck_assert_int_eq(btnet_handshake_read(r, buf, len), BTNET_EPEERID);
	assert_no_session(r);
	btnet_handshake_free(i);
	btnet_handshake_free(r);
	party_fini(&a);
	party_fini(&b);
	party_fini(&c);
}
END_TEST

/*
 * A responder built from the generic Noise API, sending @p payload in
 * message 2 with static key @p s; returns what the honest initiator's
 * read of message 2 gives.
 */
static int
rogue_responder(const struct party *a, const uint8_t s[32],
    const uint8_t *payload, size_t plen, const char *prologue)
{
	struct btnet_handshake *i;
	struct btnet_noise *n;
	uint8_t buf[BTNET_HANDSHAKE_MSG_MAX], pl[64];
	size_t len, got;
	int rc;

	ck_assert_int_eq(btnet_handshake_new(&i, a->id, 1, NULL), BT_OK);
	ck_assert_int_eq(btnet_noise_new(&n, BTNET_NOISE_PROTOCOL, 0), BT_OK);
	ck_assert_int_eq(btnet_noise_set_prologue(n, prologue, strlen(prologue)),
	    BT_OK);
	ck_assert_int_eq(btnet_noise_set_local_static(n, s), BT_OK);
	ck_assert_int_eq(btnet_handshake_write(i, buf, sizeof(buf), &len), BT_OK);
	ck_assert_int_eq(btnet_noise_read_message(n, buf, len, pl, sizeof(pl),
	    &got), BT_OK);
	ck_assert_int_eq(btnet_noise_write_message(n, payload, plen, buf,
	    sizeof(buf), &len), BT_OK);
	rc = btnet_handshake_read(i, buf, len);
	if (rc != BT_OK)
		assert_no_session(i);
	btnet_noise_free(n);
	btnet_handshake_free(i);
	return rc;
}

static void
sign_static(const struct party *signer, const uint8_t static_priv[32],
    struct bt_sig *sig)
{
	uint8_t msg[sizeof(BTNET_IDENTITY_DOMAIN) + 32];

	memcpy(msg, BTNET_IDENTITY_DOMAIN, sizeof(BTNET_IDENTITY_DOMAIN));
	ck_assert_int_eq(btcore_x25519_public(msg + sizeof(BTNET_IDENTITY_DOMAIN),
	    static_priv), BT_OK);
	ck_assert_int_eq(btcore_key_sign(signer->key, msg, sizeof(msg), sig),
	    BT_OK);
}

START_TEST(forged_identities)
{
	struct party a, b, c;
	uint8_t payload[BTNET_IDENTITY_PAYLOAD_LEN];
	struct bt_sig sig;

	party_init(&a, 8);
	party_init(&b, 9);
	party_init(&c, 10);
	/* the honest payload through the rogue path works (control) */
	sign_static(&b, b.static_priv, &sig);
	btnet_identity_payload_encode(&b.signer.pub, &sig, payload);
	ck_assert_int_eq(rogue_responder(&a, b.static_priv, payload,
	    sizeof(payload), BTNET_NOISE_PROLOGUE), BT_OK);
	/* b's genuine payload replayed with another static key (c's) */
	ck_assert_int_eq(rogue_responder(&a, c.static_priv, payload,
	    sizeof(payload), BTNET_NOISE_PROLOGUE), BT_EVERIFY);
	/* b's key claimed, but c signed */
	sign_static(&c, b.static_priv, &sig);
	btnet_identity_payload_encode(&b.signer.pub, &sig, payload);
	ck_assert_int_eq(rogue_responder(&a, b.static_priv, payload,
	    sizeof(payload), BTNET_NOISE_PROLOGUE), BT_EVERIFY);
	/* no payload, a short one, a wrong format byte */
	ck_assert_int_eq(rogue_responder(&a, b.static_priv, NULL, 0,
	    BTNET_NOISE_PROLOGUE), BT_ETRUNC);
	sign_static(&b, b.static_priv, &sig);
	btnet_identity_payload_encode(&b.signer.pub, &sig, payload);
	ck_assert_int_eq(rogue_responder(&a, b.static_priv, payload,
	    sizeof(payload) - 1, BTNET_NOISE_PROLOGUE), BT_ETRUNC);
	payload[0] = 2;
	ck_assert_int_eq(rogue_responder(&a, b.static_priv, payload,
	    sizeof(payload), BTNET_NOISE_PROLOGUE), BT_EFORMAT);
	party_fini(&a);
	party_fini(&b);
	party_fini(&c);
}
END_TEST

START_TEST(replays_and_payload_in_message_1)
{
	struct party a, b;
	struct btnet_handshake *i, *r;
	struct btnet_noise *n;
	struct transcript t;
	uint8_t buf[BTNET_HANDSHAKE_MSG_MAX];
	size_t len;

	party_init(&a, 11);
	party_init(&b, 12);
	/* a recorded session with random ephemerals */
	ck_assert_int_eq(btnet_handshake_new(&i, a.id, 1, NULL), BT_OK);
	ck_assert_int_eq(btnet_handshake_new(&r, b.id, 0, NULL), BT_OK);
	run_ok(i, r, &a, &b, &t);
	btnet_handshake_free(i);
	btnet_handshake_free(r);

	/* replayed messages 1 and 3 to a fresh responder */
	ck_assert_int_eq(btnet_handshake_new(&r, b.id, 0, NULL), BT_OK);
	ck_assert_int_eq(btnet_handshake_read(r, t.m[0], t.len[0]), BT_OK);
	ck_assert_int_eq(btnet_handshake_write(r, buf, sizeof(buf), &len), BT_OK);
	ck_assert_int_eq(btnet_handshake_read(r, t.m[2], t.len[2]), BT_EVERIFY);
	assert_no_session(r);
	btnet_handshake_free(r);

	/* replayed message 2 to a fresh initiator */
	ck_assert_int_eq(btnet_handshake_new(&i, a.id, 1, NULL), BT_OK);
	ck_assert_int_eq(btnet_handshake_write(i, buf, sizeof(buf), &len), BT_OK);
	ck_assert_int_eq(btnet_handshake_read(i, t.m[1], t.len[1]), BT_EVERIFY);
	assert_no_session(i);
	btnet_handshake_free(i);

	/* the same message twice to one responder: out of turn */
	ck_assert_int_eq(btnet_handshake_new(&r, b.id, 0, NULL), BT_OK);
	ck_assert_int_eq(btnet_handshake_read(r, t.m[0], t.len[0]), BT_OK);
	ck_assert_int_eq(btnet_handshake_read(r, t.m[0], t.len[0]), BT_ESTATE);
	assert_no_session(r);
	btnet_handshake_free(r);

	/* message 1 with a payload is a protocol violation */
	ck_assert_int_eq(btnet_noise_new(&n, BTNET_NOISE_PROTOCOL, 1), BT_OK);
	ck_assert_int_eq(btnet_noise_set_prologue(n, BTNET_NOISE_PROLOGUE,
	    strlen(BTNET_NOISE_PROLOGUE)), BT_OK);
	ck_assert_int_eq(btnet_noise_write_message(n, "hi", 2, buf, sizeof(buf),
	    &len), BT_OK);
	ck_assert_int_eq(btnet_handshake_new(&r, b.id, 0, NULL), BT_OK);
	ck_assert_int_eq(btnet_handshake_read(r, buf, len), BT_EPROTO);
	assert_no_session(r);
	btnet_handshake_free(r);
	btnet_noise_free(n);

	/* oversize input */
	ck_assert_int_eq(btnet_handshake_new(&r, b.id, 0, NULL), BT_OK);
	ck_assert_int_eq(btnet_handshake_read(r, buf,
	    BTNET_HANDSHAKE_MSG_MAX + 1), BT_ETOOBIG);
	assert_no_session(r);
	btnet_handshake_free(r);
	party_fini(&a);
	party_fini(&b);
}
END_TEST

START_TEST(identity_payload_codec)
{
	struct party a;
	uint8_t payload[BTNET_IDENTITY_PAYLOAD_LEN + 1], spub[32];
	struct bt_pubkey k;
	struct bt_sig sig, s2;
	struct bt_id id;
	size_t len;

	party_init(&a, 13);
	sign_static(&a, a.static_priv, &sig);
	ck_assert_int_eq(btcore_x25519_public(spub, a.static_priv), BT_OK);
	btnet_identity_payload_encode(&a.signer.pub, &sig, payload);
	ck_assert_uint_eq(payload[0], 1);
	ck_assert_int_eq(btnet_identity_payload_decode(payload,
	    BTNET_IDENTITY_PAYLOAD_LEN, spub, &k, &s2, &id), BT_OK);
	ck_assert_mem_eq(k.b, a.signer.pub.b, 32);
	ck_assert_mem_eq(s2.b, sig.b, 64);
	ck_assert_mem_eq(id.b, a.node_id.b, 32);
	/* without a static key only the format is checked */
	ck_assert_int_eq(btnet_identity_payload_decode(payload,
	    BTNET_IDENTITY_PAYLOAD_LEN, NULL, NULL, NULL, NULL), BT_OK);
	for (len = 0; len < BTNET_IDENTITY_PAYLOAD_LEN; len++) {
		ck_assert_int_eq(btnet_identity_payload_decode(payload, len,
		    spub, &k, NULL, &id), BT_ETRUNC);
		ck_assert(btcore_id_is_zero(&id));
	}
	ck_assert_int_eq(btnet_identity_payload_decode(payload,
	    BTNET_IDENTITY_PAYLOAD_LEN + 1, spub, &k, NULL, NULL), BT_EFORMAT);
	spub[0] ^= 1;
	ck_assert_int_eq(btnet_identity_payload_decode(payload,
	    BTNET_IDENTITY_PAYLOAD_LEN, spub, &k, NULL, &id), BT_EVERIFY);
	ck_assert(btcore_id_is_zero(&id));
	spub[0] ^= 1;
	payload[0] = 0;
	ck_assert_int_eq(btnet_identity_payload_decode(payload,
	    BTNET_IDENTITY_PAYLOAD_LEN, spub, &k, NULL, NULL), BT_EFORMAT);
	ck_assert_int_eq(btnet_identity_payload_decode(payload, 5, spub, &k,
	    NULL, NULL), BT_EFORMAT);
	ck_assert_int_eq(btnet_identity_payload_decode(NULL, 5, spub, &k, NULL,
	    NULL), BT_EINVAL);
	party_fini(&a);
}
END_TEST

Suite *
suite_handshake(void)
{
	Suite *s = suite_create("handshake");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, handshake_succeeds);
	tcase_add_test(tc, every_bit_flipped_and_every_length);
	tcase_add_test(tc, wrong_prologue_and_wrong_peer);
	tcase_add_test(tc, forged_identities);
	tcase_add_test(tc, replays_and_payload_in_message_1);
	tcase_add_test(tc, identity_payload_codec);
	suite_add_tcase(s, tc);
	return s;
}
