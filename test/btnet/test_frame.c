/*
 * test_frame.c - the length envelope and Noise framing: round trips at
 * every boundary, 1 MiB exactly, oversize lengths, 0, bytes dribbled one
 * at a time, tampering and malformed frames.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <bt/frame.h>
#include <bt/neterror.h>
#include <bt/noise.h>

#include "btnet-internal.h"

Suite *suite_frame(void);

static const uint8_t test_key[32] = { 0x42, 1, 2, 3 };

/* Sender and receiver sharing one key. */
static void
pair(struct btnet_cipher **send, struct btnet_cipher **recv)
{
	ck_assert_int_eq(btnet_cipher_new_(send, test_key), BT_OK);
	ck_assert_int_eq(btnet_cipher_new_(recv, test_key), BT_OK);
}

static uint8_t *
pattern_buf(size_t len, unsigned seed)
{
	uint8_t *p = malloc(len ? len : 1);
	size_t i;

	ck_assert_ptr_nonnull(p);
	for (i = 0; i < len; i++)
		p[i] = (uint8_t)(i * 131 + seed + (i >> 9));
	return p;
}

static uint8_t *
encode(struct btnet_cipher *c, const uint8_t *msg, size_t len, size_t chunk,
    size_t *wire_len)
{
	size_t need = btnet_frame_encoded_len(len, chunk);
	uint8_t *w;

	ck_assert_uint_gt(need, 0);
	w = malloc(need);
	ck_assert_ptr_nonnull(w);
	ck_assert_int_eq(btnet_frame_encode(c, msg, len, chunk, w, need,
	    wire_len), BT_OK);
	ck_assert_uint_eq(*wire_len, need);
	return w;
}

/* Decode @p wire fed in pieces of @p step bytes; expects one message. */
static void
decode_expect(struct btnet_frame_decoder *d, const uint8_t *wire, size_t len,
    size_t step, const uint8_t *want, size_t want_len)
{
	const uint8_t *msg;
	size_t pos = 0, n, used, mlen;
	int got = 0;

	while (pos < len) {
		n = len - pos < step ? len - pos : step;
		ck_assert_int_eq(btnet_frame_decode(d, wire + pos, n, &used,
		    &msg, &mlen), BT_OK);
		ck_assert_uint_le(used, n);
		pos += used;
		if (msg != NULL) {
			ck_assert(!got);
			ck_assert_uint_eq(pos, len);	/* ends with the message */
			ck_assert_uint_eq(mlen, want_len);
			if (want_len)
				ck_assert_mem_eq(msg, want, want_len);
			got = 1;
		} else {
			ck_assert_uint_eq(used, n);	/* all taken */
		}
	}
	ck_assert(got);
}

START_TEST(round_trips_at_boundaries)
{
	static const size_t sizes[] = { 0, 1, 15, 65514, 65515, 65516, 65519,
	    65520, 131030, 131031, 200000, BT_MSG_MAX - 1, BT_MSG_MAX };
	static const size_t chunks[] = { 0, 16, 17, 4096, 16384, 65519 };
	struct btnet_cipher *s, *r;
	struct btnet_frame_decoder *d;
	uint8_t *msg, *wire;
	size_t i, j, wl, expect;

	pair(&s, &r);
	ck_assert_int_eq(btnet_frame_decoder_new(&d, r, 0), BT_OK);
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		for (j = 0; j < sizeof(chunks) / sizeof(chunks[0]); j++) {
			if (chunks[j] < 1000 && sizes[i] > 70000)
				continue;	/* keep the test fast */
			msg = pattern_buf(sizes[i], (unsigned)(i + j));
			wire = encode(s, msg, sizes[i], chunks[j], &wl);
			expect = chunks[j] ? chunks[j] : 65519;
			expect = (sizes[i] + 4 + expect - 1) / expect;
			ck_assert_uint_eq(wl, sizes[i] + 4 + expect * 18);
			decode_expect(d, wire, wl, wl, msg, sizes[i]);
			ck_assert_uint_eq(btnet_cipher_nonce(s),
			    btnet_cipher_nonce(r));
			free(msg);
			free(wire);
		}
	}
	btnet_frame_decoder_free(d);
	btnet_frame_decoder_free(NULL);
	btnet_cipher_free(s);
	btnet_cipher_free(r);
}
END_TEST

START_TEST(dribbled_and_concatenated)
{
	static const size_t sizes[] = { 0, 3, 70000, 1, 65515, 0, 300 };
	struct btnet_cipher *s, *r;
	struct btnet_frame_decoder *d;
	uint8_t *msgs[7], *wire, *all;
	size_t i, wl, total = 0, pos = 0, used, mlen, k = 0, step;
	const uint8_t *m;

	pair(&s, &r);
	ck_assert_int_eq(btnet_frame_decoder_new(&d, r, 0), BT_OK);
	all = malloc(200000);
	ck_assert_ptr_nonnull(all);
	for (i = 0; i < 7; i++) {
		msgs[i] = pattern_buf(sizes[i], (unsigned)i);
		wire = encode(s, msgs[i], sizes[i], i % 2 ? 1000 : 0, &wl);
		memcpy(all + total, wire, wl);
		total += wl;
		free(wire);
	}
	/* one byte at a time, then growing pieces, over the whole stream */
	for (step = 1; pos < total; step = step * 3 + 1) {
		size_t n = total - pos < step ? total - pos : step;

		if (k < 3)
			n = 1;		/* the first three messages: bytewise */
		ck_assert_int_eq(btnet_frame_decode(d, all + pos, n, &used, &m,
		    &mlen), BT_OK);
		pos += used;
		if (m != NULL) {
			ck_assert_uint_lt(k, 7);
			ck_assert_uint_eq(mlen, sizes[k]);
			if (mlen)
				ck_assert_mem_eq(m, msgs[k], mlen);
			k++;
		}
		if (step > 100000)
			step = 1;
	}
	ck_assert_uint_eq(k, 7);
	/* empty input is fine */
	ck_assert_int_eq(btnet_frame_decode(d, NULL, 0, &used, &m, &mlen),
	    BT_OK);
	ck_assert_ptr_null(m);
	for (i = 0; i < 7; i++)
		free(msgs[i]);
	free(all);
	btnet_frame_decoder_free(d);
	btnet_cipher_free(s);
	btnet_cipher_free(r);
}
END_TEST

START_TEST(zero_length_message)
{
	struct btnet_cipher *s, *r;
	struct btnet_frame_decoder *d;
	uint8_t wire[64];
	const uint8_t *m;
	size_t wl, used, mlen;

	pair(&s, &r);
	ck_assert_int_eq(btnet_frame_decoder_new(&d, r, 0), BT_OK);
	ck_assert_int_eq(btnet_frame_encode(s, NULL, 0, 0, wire, sizeof(wire),
	    &wl), BT_OK);
	ck_assert_uint_eq(wl, 2 + 4 + 16);
	ck_assert_int_eq(btnet_frame_decode(d, wire, wl, &used, &m, &mlen),
	    BT_OK);
	ck_assert_ptr_nonnull(m);
	ck_assert_uint_eq(mlen, 0);
	ck_assert_uint_eq(used, wl);
	btnet_frame_decoder_free(d);
	btnet_cipher_free(s);
	btnet_cipher_free(r);
}
END_TEST

/* Encrypt a hand-made chunk as one frame. */
static size_t
raw_frame(struct btnet_cipher *c, const uint8_t *plain, size_t len,
    uint8_t *out)
{
	memcpy(out + 2, plain, len);
	ck_assert_int_eq(btnet_cipher_encrypt(c, NULL, 0, out + 2, len,
	    out + 2), BT_OK);
	btnet_put_be16_(out, (uint16_t)(len + 16));
	return len + 18;
}

/* Feed @p wire to a fresh decoder; the first error, or BT_OK. */
static int
feed_fresh(const uint8_t *wire, size_t len, size_t max, int *delivered)
{
	struct btnet_cipher *r;
	struct btnet_frame_decoder *d;
	const uint8_t *m;
	size_t pos = 0, used, mlen;
	int rc = BT_OK;

	*delivered = 0;
	ck_assert_int_eq(btnet_cipher_new_(&r, test_key), BT_OK);
	ck_assert_int_eq(btnet_frame_decoder_new(&d, r, max), BT_OK);
	while (pos < len) {
		rc = btnet_frame_decode(d, wire + pos, len - pos, &used, &m,
		    &mlen);
		if (rc != BT_OK) {
			ck_assert_ptr_null(m);
			/* a failed decoder stays failed */
			ck_assert_int_eq(btnet_frame_decode(d, wire, 1, &used,
			    &m, &mlen), BT_ESTATE);
			break;
		}
		if (m != NULL)
			(*delivered)++;
		if (used == 0)
			break;
		pos += used;
	}
	btnet_frame_decoder_free(d);
	btnet_cipher_free(r);
	return rc;
}

/* Piecewise encoding gives the bytes of one-shot encoding. */
START_TEST(encode_some_matches_encode)
{
	static const size_t lens[] = { 0, 1, 65515, 65516, 131072, 300001,
	    BT_MSG_MAX };
	static const size_t caps[] = { 16 + 18, 1000, 65537, 65538, 200000,
	    2u << 20 };
	struct btnet_cipher *s1, *r1, *s2, *r2;
	size_t li, ci, wl, pos, n, got, cap, chunk;
	uint8_t *msg, *one, *some;

	for (li = 0; li < sizeof(lens) / sizeof(lens[0]); li++) {
		msg = pattern_buf(lens[li], (unsigned)li);
		for (ci = 0; ci < sizeof(caps) / sizeof(caps[0]); ci++) {
			cap = caps[ci];
			chunk = cap < 65537 ? cap - 18 : 0;
			if (chunk != 0 && chunk < BTNET_FRAME_CHUNK_MIN)
				continue;
			pair(&s1, &r1);
			pair(&s2, &r2);
			one = encode(s1, msg, lens[li], chunk, &wl);
			some = malloc(wl + cap);
			ck_assert_ptr_nonnull(some);
			pos = 0;
			got = 0;
			while (pos < 4 + lens[li]) {
				ck_assert_int_eq(btnet_frame_encode_some(s2,
				    msg, lens[li], chunk, &pos, some + got,
				    cap, &n), BT_OK);
				ck_assert_uint_gt(n, 0);
				ck_assert_uint_le(n, cap);
				got += n;
			}
			ck_assert_uint_eq(pos, 4 + lens[li]);
			ck_assert_uint_eq(got, wl);
			ck_assert_mem_eq(some, one, wl);
			ck_assert_uint_eq(btnet_cipher_nonce(s1),
			    btnet_cipher_nonce(s2));
			/* finished: a further call is refused */
			ck_assert_int_eq(btnet_frame_encode_some(s2, msg,
			    lens[li], chunk, &pos, some, cap, &n), BT_EINVAL);
			ck_assert_uint_eq(n, 0);
			free(one);
			free(some);
			btnet_cipher_free(s1);
			btnet_cipher_free(r1);
			btnet_cipher_free(s2);
			btnet_cipher_free(r2);
		}
		free(msg);
	}
}
END_TEST

START_TEST(encode_some_errors)
{
	struct btnet_cipher *s, *r;
	uint8_t buf[128], *big = pattern_buf(1000, 9);
	size_t pos = 0, n = 7;

	pair(&s, &r);
	/* the next frame (2 + 4 + 1000 + 16 bytes) does not fit */
	ck_assert_int_eq(btnet_frame_encode_some(s, big, 1000, 0, &pos, buf,
	    sizeof(buf), &n), BT_ENOSPC);
	ck_assert_uint_eq(n, 0);
	ck_assert_uint_eq(pos, 0);
	ck_assert_uint_eq(btnet_cipher_nonce(s), 0);
	ck_assert_int_eq(btnet_frame_encode_some(s, big, 1000, 64, &pos, buf,
	    sizeof(buf), &n), BT_OK);
	ck_assert_uint_eq(n, 82);	/* one frame of 64 bytes */
	ck_assert_uint_eq(pos, 64);
	pos = 2;			/* inside the length */
	ck_assert_int_eq(btnet_frame_encode_some(s, big, 1000, 64, &pos, buf,
	    sizeof(buf), &n), BT_EINVAL);
	pos = 0;
	ck_assert_int_eq(btnet_frame_encode_some(s, big, 1000, 15, &pos, buf,
	    sizeof(buf), &n), BT_EINVAL);
	ck_assert_int_eq(btnet_frame_encode_some(s, NULL, 1, 0, &pos, buf,
	    sizeof(buf), &n), BT_EINVAL);
	ck_assert_int_eq(btnet_frame_encode_some(s, big, 1000, 0, NULL, buf,
	    sizeof(buf), &n), BT_EINVAL);
	ck_assert_int_eq(btnet_frame_encode_some(NULL, big, 1000, 0, &pos,
	    buf, sizeof(buf), &n), BT_EINVAL);
	ck_assert_int_eq(btnet_frame_encode_some(s, big, 1000, 0, &pos, buf,
	    sizeof(buf), NULL), BT_EINVAL);
	ck_assert_int_eq(btnet_frame_encode_some(s, big, (size_t)BT_MSG_MAX + 1,
	    0, &pos, buf, sizeof(buf), &n), BT_ETOOBIG);
	btnet_cipher_free(s);
	btnet_cipher_free(r);
	free(big);
}
END_TEST

/* One decoder through messages that grow, shrink, pass the kept size and
 * arrive whole, cut at every frame and dribbled. */
START_TEST(decoder_reuses_buffers)
{
	static const size_t lens[] = { 200000, 70000, 10, 262144, 300000,
	    65515, 131072, 1048576, 100, 262145, 140000, 0, 70000 };
	struct btnet_cipher *s, *r;
	struct btnet_frame_decoder *d;
	const uint8_t *m;
	size_t i, wl, used, mlen, pos, step;
	uint8_t *msg, *w;

	pair(&s, &r);
	ck_assert_int_eq(btnet_frame_decoder_new(&d, r, 0), BT_OK);
	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		msg = pattern_buf(lens[i], (unsigned)i + 100);
		w = encode(s, msg, lens[i], i % 3 == 2 ? 1000 : 0, &wl);
		step = i % 2 ? wl : 65537 + i;
		for (pos = 0; pos < wl; pos += used) {
			ck_assert_int_eq(btnet_frame_decode(d, w + pos,
			    wl - pos < step ? wl - pos : step, &used, &m,
			    &mlen), BT_OK);
			if (m != NULL)
				break;
		}
		ck_assert_ptr_nonnull(m);
		ck_assert_uint_eq(pos + used, wl);
		ck_assert_uint_eq(mlen, lens[i]);
		if (lens[i] > 0)
			ck_assert_mem_eq(m, msg, lens[i]);
		free(w);
		free(msg);
	}
	btnet_frame_decoder_free(d);
	btnet_cipher_free(s);
	btnet_cipher_free(r);
}
END_TEST

START_TEST(oversize_and_malformed)
{
	struct btnet_cipher *s, *r;
	uint8_t plain[64], wire[256], *big;
	size_t wl, n;
	int dl;

	/* 1 MiB + 1 and 2^32 - 1 announced: refused after the first frame */
	ck_assert_int_eq(btnet_cipher_new_(&s, test_key), BT_OK);
	btnet_put_be32_(plain, BT_MSG_MAX + 1);
	memset(plain + 4, 'x', 10);
	wl = raw_frame(s, plain, 14, wire);
	ck_assert_int_eq(feed_fresh(wire, wl, 0, &dl), BT_ETOOBIG);
	btnet_cipher_free(s);
	ck_assert_int_eq(btnet_cipher_new_(&s, test_key), BT_OK);
	btnet_put_be32_(plain, UINT32_MAX);
	wl = raw_frame(s, plain, 14, wire);
	ck_assert_int_eq(feed_fresh(wire, wl, 0, &dl), BT_ETOOBIG);
	btnet_cipher_free(s);
	/* a configured lower limit */
	ck_assert_int_eq(btnet_cipher_new_(&s, test_key), BT_OK);
	btnet_put_be32_(plain, 11);
	memset(plain + 4, 'y', 11);
	wl = raw_frame(s, plain, 15, wire);
	ck_assert_int_eq(feed_fresh(wire, wl, 10, &dl), BT_ETOOBIG);
	ck_assert_int_eq(feed_fresh(wire, wl, 11, &dl), BT_OK);
	ck_assert_int_eq(dl, 1);
	btnet_cipher_free(s);

	/* an empty chunk (a bare tag) */
	ck_assert_int_eq(btnet_cipher_new_(&s, test_key), BT_OK);
	wl = raw_frame(s, plain, 0, wire);
	ck_assert_int_eq(feed_fresh(wire, wl, 0, &dl), BT_EPROTO);
	btnet_cipher_free(s);
	/* a first chunk too short for the length */
	ck_assert_int_eq(btnet_cipher_new_(&s, test_key), BT_OK);
	wl = raw_frame(s, plain, 3, wire);
	ck_assert_int_eq(feed_fresh(wire, wl, 0, &dl), BT_EPROTO);
	btnet_cipher_free(s);
	/* a chunk running past its message, first frame and later frames */
	ck_assert_int_eq(btnet_cipher_new_(&s, test_key), BT_OK);
	btnet_put_be32_(plain, 5);
	wl = raw_frame(s, plain, 10, wire);
	ck_assert_int_eq(feed_fresh(wire, wl, 0, &dl), BT_EPROTO);
	btnet_cipher_free(s);
	ck_assert_int_eq(btnet_cipher_new_(&s, test_key), BT_OK);
	btnet_put_be32_(plain, 8);
	wl = raw_frame(s, plain, 8, wire);
	wl += raw_frame(s, plain, 5, wire + wl);
	ck_assert_int_eq(feed_fresh(wire, wl, 0, &dl), BT_EPROTO);
	btnet_cipher_free(s);

	/* every bit of an encoded message flipped: never a wrong message */
	ck_assert_int_eq(btnet_cipher_new_(&s, test_key), BT_OK);
	memset(plain, 'z', 40);
	ck_assert_int_eq(btnet_frame_encode(s, plain, 40, 20, wire, sizeof(wire),
	    &wl), BT_OK);
	btnet_cipher_free(s);
	ck_assert_int_eq(feed_fresh(wire, wl, 0, &dl), BT_OK);
	ck_assert_int_eq(dl, 1);
	for (n = 0; n < wl * 8; n++) {
		wire[n / 8] ^= (uint8_t)(1u << (n % 8));
		(void)feed_fresh(wire, wl, 0, &dl);
		ck_assert_int_eq(dl, 0);
		wire[n / 8] ^= (uint8_t)(1u << (n % 8));
	}
	/* every truncation: no message */
	for (n = 0; n < wl; n++) {
		ck_assert_int_eq(feed_fresh(wire, n, 0, &dl), BT_OK);
		ck_assert_int_eq(dl, 0);
	}

	/* encoder limits */
	pair(&s, &r);
	big = calloc(1, BT_MSG_MAX + 1);
	ck_assert_ptr_nonnull(big);
	ck_assert_uint_eq(btnet_frame_encoded_len(BT_MSG_MAX + 1, 0), 0);
	ck_assert_uint_eq(btnet_frame_encoded_len(10, 15), 0);
	ck_assert_uint_eq(btnet_frame_encoded_len(10, 65520), 0);
	ck_assert_int_eq(btnet_frame_encode(s, big, BT_MSG_MAX + 1, 0, big, 1,
	    &wl), BT_ETOOBIG);
	ck_assert_int_eq(btnet_frame_encode(s, plain, 10, 0, wire, 31, &wl),
	    BT_ENOSPC);
	ck_assert_int_eq(btnet_frame_encode(s, plain, 10, 8, wire, 64, &wl),
	    BT_EINVAL);
	ck_assert_uint_eq(btnet_cipher_nonce(s), 0);	/* nothing sent */
	ck_assert_int_eq(btnet_frame_decoder_new(NULL, r, 0), BT_EINVAL);
	{
		struct btnet_frame_decoder *d;

		ck_assert_int_eq(btnet_frame_decoder_new(&d, r,
		    BT_MSG_MAX + 1), BT_ERANGE);
		ck_assert_ptr_null(d);
	}
	free(big);
	btnet_cipher_free(s);
	btnet_cipher_free(r);
}
END_TEST

Suite *
suite_frame(void)
{
	Suite *s = suite_create("frame");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, round_trips_at_boundaries);
	tcase_add_test(tc, dribbled_and_concatenated);
	tcase_add_test(tc, zero_length_message);
	tcase_add_test(tc, oversize_and_malformed);
	tcase_add_test(tc, encode_some_matches_encode);
	tcase_add_test(tc, encode_some_errors);
	tcase_add_test(tc, decoder_reuses_buffers);
	suite_add_tcase(s, tc);
	return s;
}
