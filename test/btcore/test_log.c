/*
 * test_log.c - signed heads, batch entries with inclusion proofs,
 * consistency between heads, forks, encodings.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bt/hash.h>
#include <bt/id.h>
#include <bt/key.h>
#include <bt/log.h>
#include <bt/merkle.h>

Suite *suite_log(void);

#define MAXLOG 64

/*
 * A writer as a store would run one: an accumulator whose completed
 * subtrees are kept in a table, which then answers proof look-ups.
 */
struct writer {
	struct btcore_key *key;
	struct btcore_signer signer;
	struct btcore_merkle *acc;
	struct bt_id node[7][MAXLOG];	/* [height][start >> height] */
	struct bt_id payload_hash[MAXLOG];
	struct bt_log_head head[MAXLOG + 1];	/* head after n entries */
};

static int
store_emit(void *ctx, uint64_t start, unsigned height,
    const struct bt_id *hash)
{
	struct writer *w = ctx;

	ck_assert_uint_lt(height, 7);
	w->node[height][start >> height] = *hash;
	return BT_OK;
}

static int
store_subtree(void *ctx, uint64_t start, unsigned height, struct bt_id *out)
{
	struct writer *w = ctx;

	if (height >= 7 || (start >> height) >= MAXLOG ||
	    (start + ((uint64_t)1 << height)) > btcore_merkle_size(w->acc))
		return BT_ENOTFOUND;
	*out = w->node[height][start >> height];
	return BT_OK;
}

static struct writer *
writer_new(uint8_t seed_fill)
{
	uint8_t seed[BTCORE_ED25519_SEED_LEN];
	struct writer *w = calloc(1, sizeof(*w));
	struct bt_id root;

	ck_assert_ptr_nonnull(w);
	memset(seed, seed_fill, sizeof(seed));
	ck_assert_int_eq(btcore_key_from_seed(&w->key, seed), BT_OK);
	btcore_key_signer(w->key, &w->signer);
	ck_assert_int_eq(btcore_merkle_new(&w->acc), BT_OK);
	ck_assert_int_eq(btcore_merkle_root(w->acc, &root), BT_OK);
	ck_assert_int_eq(btcore_log_head_sign(&w->head[0], &w->signer, 0,
	    &root), BT_OK);
	return w;
}

static void
writer_free(struct writer *w)
{
	btcore_merkle_free(w->acc);
	btcore_key_free(w->key);
	free(w);
}

/* Append a batch of @p n payloads "<tag>-<i>" and sign one head. */
static void
writer_batch(struct writer *w, int n, const char *tag)
{
	struct bt_id leaf, root;
	uint64_t i;
	char payload[64];
	int k, plen;

	for (k = 0; k < n; k++) {
		i = btcore_merkle_size(w->acc);
		ck_assert_uint_lt(i, MAXLOG);
		plen = snprintf(payload, sizeof(payload), "%s-%llu", tag,
		    (unsigned long long)i);
		ck_assert_int_eq(btcore_id_hash(&w->payload_hash[i], payload,
		    (size_t)plen), BT_OK);
		ck_assert_int_eq(btcore_log_leaf_hash(&leaf,
		    &w->payload_hash[i]), BT_OK);
		ck_assert_int_eq(btcore_merkle_append(w->acc, &leaf,
		    store_emit, w), BT_OK);
	}
	i = btcore_merkle_size(w->acc);
	ck_assert_int_eq(btcore_merkle_root(w->acc, &root), BT_OK);
	ck_assert_int_eq(btcore_log_head_sign(&w->head[i], &w->signer, i,
	    &root), BT_OK);
}

START_TEST(head_sign_verify_encode)
{
	struct writer *w = writer_new(1);
	struct bt_log_head h, d;
	uint8_t buf[BTCORE_LOG_HEAD_ENC_LEN + 1], mut[sizeof(buf)], msg[94];
	struct bt_id root, empty;
	size_t cut, i, bit;
	int rc;

	writer_batch(w, 5, "a");
	h = w->head[5];
	ck_assert_uint_eq(h.length, 5);
	ck_assert_mem_eq(h.feed.b, w->signer.pub.b, 32);
	ck_assert_int_eq(btcore_log_head_verify(&h), BT_OK);
	ck_assert_int_eq(btcore_log_head_verify(&w->head[0]), BT_OK);

	/* the documented signed message */
	memcpy(msg, "blocktree-log-head-v1", 22);
	memcpy(msg + 22, h.feed.b, 32);
	memset(msg + 54, 0, 8);
	msg[61] = 5;
	memcpy(msg + 62, h.root.b, 32);
	ck_assert_int_eq(btcore_sig_verify(&h.feed, msg, sizeof(msg), &h.sig),
	    BT_OK);

	/* length 0 needs the empty root */
	memset(&root, 0x11, sizeof(root));
	ck_assert_int_eq(btcore_log_head_sign(&d, &w->signer, 0, &root),
	    BT_EINVAL);
	ck_assert_int_eq(btcore_id_hash(&empty, NULL, 0), BT_OK);
	ck_assert_mem_eq(w->head[0].root.b, empty.b, 32);
	ck_assert_int_eq(btcore_log_head_sign(&d, &w->signer,
	    BTCORE_MERKLE_SIZE_MAX + 1, &root), BT_ERANGE);
	ck_assert_int_eq(btcore_log_head_sign(&d, NULL, 1, &root), BT_EINVAL);

	/* encoding round trip, truncation, trailing bytes, bit flips */
	ck_assert_int_eq(btcore_log_head_encode(&h, buf), BT_OK);
	ck_assert_uint_eq(buf[0], 'H');
	ck_assert_int_eq(btcore_log_head_decode(&d, buf,
	    BTCORE_LOG_HEAD_ENC_LEN), BT_OK);
	ck_assert_int_eq(memcmp(&d, &h, sizeof(h)), 0);
	for (cut = 0; cut < BTCORE_LOG_HEAD_ENC_LEN; cut++)
		ck_assert_int_eq(btcore_log_head_decode(&d, buf, cut),
		    BT_ETRUNC);
	buf[BTCORE_LOG_HEAD_ENC_LEN] = 0;
	ck_assert_int_eq(btcore_log_head_decode(&d, buf,
	    BTCORE_LOG_HEAD_ENC_LEN + 1), BT_EFORMAT);
	for (i = 0; i < BTCORE_LOG_HEAD_ENC_LEN; i++)
		for (bit = 0; bit < 8; bit++) {
			memcpy(mut, buf, BTCORE_LOG_HEAD_ENC_LEN);
			mut[i] ^= (uint8_t)(1u << bit);
			rc = btcore_log_head_decode(&d, mut,
			    BTCORE_LOG_HEAD_ENC_LEN);
			ck_assert(rc == BT_EVERIFY || rc == BT_EFORMAT);
			ck_assert_uint_eq(d.length, 0);
		}
	/* an over-long head, even correctly signed, is refused */
	d = h;
	d.length = BTCORE_MERKLE_SIZE_MAX + 1;
	ck_assert_int_eq(btcore_log_head_verify(&d), BT_EVERIFY);
	ck_assert_int_eq(btcore_log_head_verify(NULL), BT_EINVAL);
	ck_assert_int_eq(btcore_log_head_decode(NULL, buf, 137), BT_EINVAL);
	ck_assert_int_eq(btcore_log_head_encode(NULL, buf), BT_EINVAL);
	writer_free(w);
}
END_TEST

START_TEST(batch_entries)
{
	struct writer *w = writer_new(2);
	struct bt_log_entry e, d;
	struct bt_log_head batch_head;
	struct bt_merkle_proof p;
	uint8_t buf[BTCORE_LOG_ENTRY_ENC_MAX + 1];
	char payload[64];
	size_t len;
	uint64_t i, j, ends[] = { 0, 5, 6, 16, 37 };
	int plen, b;

	writer_batch(w, 5, "p");
	writer_batch(w, 1, "p");
	writer_batch(w, 10, "p");
	writer_batch(w, 21, "p");
	/* every entry under the head of its own batch and of every later one */
	for (b = 1; b < 5; b++) {
		for (i = 0; i < ends[b]; i++) {
			batch_head = w->head[ends[b]];
			ck_assert_int_eq(btcore_log_entry_make(&e, &batch_head,
			    i, &w->payload_hash[i], store_subtree, w), BT_OK);
			ck_assert_int_eq(btcore_log_entry_verify(&e), BT_OK);
			plen = snprintf(payload, sizeof(payload), "p-%llu",
			    (unsigned long long)i);
			ck_assert_int_eq(btcore_log_entry_check_payload(&e,
			    payload, (size_t)plen), BT_OK);
			payload[0] = 'q';
			ck_assert_int_eq(btcore_log_entry_check_payload(&e,
			    payload, (size_t)plen), BT_EVERIFY);
			ck_assert_int_eq(btcore_log_entry_encode(&e, buf,
			    sizeof(buf), &len), BT_OK);
			ck_assert_uint_eq(len, 179 + 32 * (size_t)e.proof.count);
			ck_assert_int_eq(btcore_log_entry_decode(&d, buf, len),
			    BT_OK);
			ck_assert_int_eq(memcmp(&d, &e, sizeof(e)), 0);
			/* the wrong payload hash, index or head fails */
			d = e;
			d.payload_hash.b[3] ^= 4;
			ck_assert_int_eq(btcore_log_entry_verify(&d),
			    BT_EVERIFY);
			d = e;
			d.index = (i + 1) % ends[b];
			d.proof.first = d.index;
			if (ends[b] > 1)
				ck_assert_int_eq(btcore_log_entry_verify(&d),
				    BT_EVERIFY);
			d = e;
			d.head.root.b[0] ^= 1;
			ck_assert_int_eq(btcore_log_entry_verify(&d),
			    BT_EVERIFY);
			d = e;
			d.head.length++;
			d.proof.size++;
			ck_assert_int_eq(btcore_log_entry_verify(&d),
			    BT_EVERIFY);
		}
		/* each batch head extends every earlier one */
		for (j = 0; j < (uint64_t)b; j++) {
			ck_assert_int_eq(btcore_merkle_consistency_prove(&p,
			    ends[j], ends[b], store_subtree, w), BT_OK);
			ck_assert_int_eq(btcore_log_head_extends(
			    &w->head[ends[j]], &w->head[ends[b]], &p, NULL),
			    BT_OK);
			ck_assert_int_eq(btcore_log_head_extends(
			    &w->head[ends[b]], &w->head[ends[j]], &p, NULL),
			    BT_ESTALE);
			ck_assert_int_eq(btcore_log_head_extends(
			    &w->head[ends[j]], &w->head[ends[b]], NULL, NULL),
			    BT_EINVAL);
			if (p.count > 0) {
				p.hash[0].b[9] ^= 0x80;
				ck_assert_int_eq(btcore_log_head_extends(
				    &w->head[ends[j]], &w->head[ends[b]], &p,
				    NULL), BT_EVERIFY);
			}
		}
		ck_assert_int_eq(btcore_log_head_extends(&w->head[ends[b]],
		    &w->head[ends[b]], NULL, NULL), BT_OK);
	}
	/* an entry past its head's end cannot be made */
	ck_assert_int_eq(btcore_log_entry_make(&e, &w->head[5], 5,
	    &w->payload_hash[5], store_subtree, w), BT_EINVAL);
	ck_assert_int_eq(btcore_log_entry_make(&e, &w->head[5], 1,
	    &w->payload_hash[1], NULL, w), BT_EINVAL);
	/* a proof for another index is refused by the encoder */
	ck_assert_int_eq(btcore_log_entry_make(&e, &w->head[16], 3,
	    &w->payload_hash[3], store_subtree, w), BT_OK);
	e.index = 4;
	ck_assert_int_eq(btcore_log_entry_encode(&e, buf, sizeof(buf), &len),
	    BT_EINVAL);
	ck_assert_int_eq(btcore_log_entry_verify(&e), BT_EVERIFY);
	ck_assert_int_eq(btcore_log_entry_verify(NULL), BT_EINVAL);
	writer_free(w);
}
END_TEST

START_TEST(entry_decoder_hostile)
{
	struct writer *w = writer_new(3);
	struct bt_log_entry e, d;
	uint8_t buf[BTCORE_LOG_ENTRY_ENC_MAX + 1], mut[sizeof(buf)];
	size_t len, cut, i, bit;
	int rc;

	writer_batch(w, 11, "x");
	ck_assert_int_eq(btcore_log_entry_make(&e, &w->head[11], 6,
	    &w->payload_hash[6], store_subtree, w), BT_OK);
	ck_assert_int_eq(btcore_log_entry_encode(&e, buf, 10, &len), BT_ERANGE);
	ck_assert_int_eq(btcore_log_entry_encode(&e, buf, sizeof(buf), &len),
	    BT_OK);
	ck_assert_uint_eq(buf[0], 'E');
	for (cut = 0; cut < len; cut++) {
		ck_assert_int_eq(btcore_log_entry_decode(&d, buf, cut),
		    BT_ETRUNC);
		ck_assert_uint_eq(d.proof.count, 0);
	}
	memcpy(mut, buf, len);
	mut[len] = 0;
	ck_assert_int_eq(btcore_log_entry_decode(&d, mut, len + 1), BT_EFORMAT);
	for (i = 0; i < len; i++)
		for (bit = 0; bit < 8; bit++) {
			memcpy(mut, buf, len);
			mut[i] ^= (uint8_t)(1u << bit);
			rc = btcore_log_entry_decode(&d, mut, len);
			ck_assert_msg(rc == BT_EVERIFY || rc == BT_EFORMAT,
			    "byte %zu bit %zu: %d", i, bit, rc);
			ck_assert_uint_eq(d.index, 0);
		}
	/* index past the head, count not the required one */
	memcpy(mut, buf, len);
	mut[1 + 137 + 7] = 11;
	ck_assert_int_eq(btcore_log_entry_decode(&d, mut, len), BT_EFORMAT);
	memcpy(mut, buf, len);
	mut[1 + 137 + 8 + 32]++;
	ck_assert_int_eq(btcore_log_entry_decode(&d, mut, len), BT_EFORMAT);
	ck_assert_int_eq(btcore_log_entry_decode(NULL, buf, len), BT_EINVAL);
	ck_assert_int_eq(btcore_log_entry_decode(&d, NULL, len), BT_EINVAL);
	writer_free(w);
}
END_TEST

START_TEST(forks)
{
	struct writer *w = writer_new(4), *v = writer_new(4), *o = writer_new(5);
	struct bt_log_fork f, d;
	struct bt_log_head h;
	struct bt_merkle_proof p;
	uint8_t buf[BTCORE_LOG_FORK_ENC_LEN + 1], mut[sizeof(buf)];
	size_t cut, i, bit;
	int rc;

	/* one key, two histories: equal up to 3, then different */
	writer_batch(w, 3, "same");
	writer_batch(v, 3, "same");
	writer_batch(w, 3, "left");
	writer_batch(v, 3, "right");
	writer_batch(w, 2, "left");
	ck_assert_int_eq(btcore_log_fork_check(&w->head[3], &v->head[3], &f),
	    BT_OK);
	ck_assert_int_eq(btcore_log_fork_check(&w->head[6], &v->head[6], &f),
	    BT_ECONFLICT);
	ck_assert_mem_eq(f.a.root.b, w->head[6].root.b, 32);
	ck_assert_mem_eq(f.b.root.b, v->head[6].root.b, 32);
	ck_assert_int_eq(btcore_log_fork_verify(&f), BT_OK);
	ck_assert_int_eq(btcore_log_head_extends(&w->head[6], &v->head[6],
	    NULL, &d), BT_ECONFLICT);
	ck_assert_int_eq(memcmp(&d, &f, sizeof(f)), 0);
	/* v's later history has no proof from w's head */
	ck_assert_int_eq(btcore_merkle_consistency_prove(&p, 6, 8,
	    store_subtree, w), BT_OK);
	ck_assert_int_eq(btcore_log_head_extends(&v->head[6], &w->head[8], &p,
	    NULL), BT_EVERIFY);
	ck_assert_int_eq(btcore_log_head_extends(&w->head[6], &w->head[8], &p,
	    NULL), BT_OK);

	/* not forks: different lengths, feeds, bad signatures */
	ck_assert_int_eq(btcore_log_fork_check(&w->head[3], &v->head[6], &d),
	    BT_EINVAL);
	ck_assert_int_eq(btcore_log_fork_check(&w->head[3], &o->head[0], &d),
	    BT_EINVAL);
	writer_batch(o, 3, "other");
	ck_assert_int_eq(btcore_log_fork_check(&w->head[3], &o->head[3], &d),
	    BT_EINVAL);
	ck_assert_int_eq(btcore_log_head_extends(&w->head[3], &o->head[3],
	    NULL, NULL), BT_EINVAL);
	h = v->head[6];
	h.sig.b[0] ^= 1;
	ck_assert_int_eq(btcore_log_fork_check(&w->head[6], &h, &d),
	    BT_EVERIFY);
	d = f;
	d.b = d.a;
	ck_assert_int_eq(btcore_log_fork_verify(&d), BT_EVERIFY);
	d = f;
	d.b.sig.b[63] ^= 1;
	ck_assert_int_eq(btcore_log_fork_verify(&d), BT_EVERIFY);
	d = f;
	d.b = o->head[3];
	ck_assert_int_eq(btcore_log_fork_verify(&d), BT_EVERIFY);
	ck_assert_int_eq(btcore_log_fork_verify(NULL), BT_EINVAL);
	ck_assert_int_eq(btcore_log_fork_check(NULL, &h, &d), BT_EINVAL);

	/* evidence encoding */
	ck_assert_int_eq(btcore_log_fork_encode(&f, buf), BT_OK);
	ck_assert_uint_eq(buf[0], 'F');
	ck_assert_int_eq(btcore_log_fork_decode(&d, buf,
	    BTCORE_LOG_FORK_ENC_LEN), BT_OK);
	ck_assert_int_eq(memcmp(&d, &f, sizeof(f)), 0);
	for (cut = 0; cut < BTCORE_LOG_FORK_ENC_LEN; cut++)
		ck_assert_int_eq(btcore_log_fork_decode(&d, buf, cut),
		    BT_ETRUNC);
	buf[BTCORE_LOG_FORK_ENC_LEN] = 0;
	ck_assert_int_eq(btcore_log_fork_decode(&d, buf,
	    BTCORE_LOG_FORK_ENC_LEN + 1), BT_EFORMAT);
	for (i = 0; i < BTCORE_LOG_FORK_ENC_LEN; i++)
		for (bit = 0; bit < 8; bit++) {
			memcpy(mut, buf, BTCORE_LOG_FORK_ENC_LEN);
			mut[i] ^= (uint8_t)(1u << bit);
			rc = btcore_log_fork_decode(&d, mut,
			    BTCORE_LOG_FORK_ENC_LEN);
			ck_assert(rc == BT_EVERIFY || rc == BT_EFORMAT);
		}
	ck_assert_int_eq(btcore_log_fork_decode(NULL, buf, 10), BT_EINVAL);
	writer_free(w);
	writer_free(v);
	writer_free(o);
}
END_TEST

Suite *
suite_log(void)
{
	Suite *s = suite_create("log");
	TCase *tc = tcase_create("log");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, head_sign_verify_encode);
	tcase_add_test(tc, batch_entries);
	tcase_add_test(tc, entry_decoder_hostile);
	tcase_add_test(tc, forks);
	suite_add_tcase(s, tc);
	return s;
}
