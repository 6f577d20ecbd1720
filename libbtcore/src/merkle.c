/*
 * merkle.c - RFC 6962 / RFC 9162 Merkle trees: accumulator, inclusion and
 * consistency proofs, proof encoding.  Every walk is a loop over at most
 * 64 levels; nothing recurses.
 */
#include <bt/merkle.h>

#include <openssl/evp.h>

#include <stdlib.h>
#include <string.h>

#include "btcore-internal.h"

#define TAG_INCLUSION	0x49	/* 'I' */
#define TAG_CONSISTENCY	0x43	/* 'C' */
#define PROOF_FIXED	18

/* One reusable digest context for a run of node hashes. */
struct hasher {
	EVP_MD_CTX *ctx;
};

static int
hasher_init(struct hasher *h)
{
	const EVP_MD *md = btcore_md_sha256_();

	h->ctx = NULL;
	if (md == NULL)
		return BT_ECRYPTO;
	if ((h->ctx = EVP_MD_CTX_new()) == NULL)
		return BT_ENOMEM;
	if (EVP_DigestInit_ex2(h->ctx, md, NULL) != 1) {
		EVP_MD_CTX_free(h->ctx);
		h->ctx = NULL;
		return BT_ECRYPTO;
	}
	return BT_OK;
}

static void
hasher_done(struct hasher *h)
{
	EVP_MD_CTX_free(h->ctx);
	h->ctx = NULL;
}

/* SHA-256 of len bytes; the context is left ready for the next digest. */
static int
hasher_digest(struct hasher *h, const uint8_t *buf, size_t len,
    struct bt_id *out)
{
	unsigned int n = 0;

	if (EVP_DigestUpdate(h->ctx, buf, len) != 1 ||
	    EVP_DigestFinal_ex(h->ctx, out->b, &n) != 1 || n != BT_ID_LEN ||
	    EVP_DigestInit_ex2(h->ctx, NULL, NULL) != 1)
		return BT_ECRYPTO;
	return BT_OK;
}

/* node(l, r); @p out may alias either input. */
static int
hasher_node(struct hasher *h, const struct bt_id *l, const struct bt_id *r,
    struct bt_id *out)
{
	uint8_t buf[1 + 2 * BT_ID_LEN];

	buf[0] = 0x01;
	memcpy(buf + 1, l->b, BT_ID_LEN);
	memcpy(buf + 1 + BT_ID_LEN, r->b, BT_ID_LEN);
	return hasher_digest(h, buf, sizeof(buf), out);
}

static int
empty_root(struct bt_id *out)
{
	return btcore_id_hash(out, NULL, 0);
}

/* floor(log2(v)) for v > 0. */
static unsigned
log2_floor(uint64_t v)
{
	unsigned r = 0;

	while (v >>= 1)
		r++;
	return r;
}

/* The height of the largest power of two smaller than s (s >= 2). */
static unsigned
split_height(uint64_t s)
{
	return log2_floor(s - 1);
}

int
btcore_merkle_leaf_hash(struct bt_id *out, const void *data, size_t len)
{
	struct hasher h;
	uint8_t zero = 0x00;
	unsigned int n = 0;
	int rc;

	if (out == NULL || (data == NULL && len != 0))
		return BT_EINVAL;
	if ((rc = hasher_init(&h)) != BT_OK)
		goto out;
	if (EVP_DigestUpdate(h.ctx, &zero, 1) != 1 ||
	    (len != 0 && EVP_DigestUpdate(h.ctx, data, len) != 1) ||
	    EVP_DigestFinal_ex(h.ctx, out->b, &n) != 1 || n != BT_ID_LEN) {
		rc = BT_ECRYPTO;
		goto out;
	}
	rc = BT_OK;
out:
	if (rc != BT_OK)
		memset(out, 0, sizeof(*out));
	hasher_done(&h);
	return rc;
}

int
btcore_merkle_node_hash(struct bt_id *out, const struct bt_id *left,
    const struct bt_id *right)
{
	struct hasher h;
	int rc;

	if (out == NULL || left == NULL || right == NULL)
		return BT_EINVAL;
	if ((rc = hasher_init(&h)) == BT_OK)
		rc = hasher_node(&h, left, right, out);
	if (rc != BT_OK)
		memset(out, 0, sizeof(*out));
	hasher_done(&h);
	return rc;
}

/*
 * The root of the leaves [lo, hi), hi > lo, a range of the RFC tree: its
 * perfect subtrees follow the binary digits of hi - lo from the top, and
 * the root folds them from the right.
 */
static int
range_hash(struct hasher *h, uint64_t lo, uint64_t hi,
    btcore_merkle_subtree_fn subtree, void *ctx, struct bt_id *out)
{
	struct bt_id piece[64];
	uint64_t width = hi - lo, cur = lo;
	unsigned n = 0, b;
	int rc = BT_OK;

	for (b = 64; b-- > 0;) {
		if (((width >> b) & 1) == 0)
			continue;
		if ((rc = subtree(ctx, cur, b, &piece[n])) != BT_OK)
			goto out;
		cur += (uint64_t)1 << b;
		n++;
	}
	*out = piece[n - 1];
	while (n-- > 1)
		if ((rc = hasher_node(h, &piece[n - 1], out, out)) != BT_OK)
			goto out;
out:
	return rc;
}

/* Accumulator. */

struct btcore_merkle {
	uint64_t size;
	struct bt_id frontier[64];	/* [h] valid when bit h of size is set */
	struct hasher h;
};

int
btcore_merkle_new(struct btcore_merkle **out)
{
	struct btcore_merkle *m = NULL;
	int rc;

	if (out == NULL)
		return BT_EINVAL;
	*out = NULL;
	if ((m = calloc(1, sizeof(*m))) == NULL)
		return BT_ENOMEM;
	if ((rc = hasher_init(&m->h)) != BT_OK)
		goto out;
	*out = m;
	m = NULL;
out:
	btcore_merkle_free(m);
	return rc;
}

void
btcore_merkle_free(struct btcore_merkle *m)
{
	if (m == NULL)
		return;
	hasher_done(&m->h);
	free(m);
}

int
btcore_merkle_append(struct btcore_merkle *m, const struct bt_id *leaf,
    btcore_merkle_emit_fn emit, void *ctx)
{
	struct bt_id carry;
	unsigned h = 0;
	int rc = BT_OK;

	if (m == NULL || leaf == NULL)
		return BT_EINVAL;
	if (m->size >= BTCORE_MERKLE_SIZE_MAX)
		return BT_ERANGE;
	carry = *leaf;
	if (emit != NULL && (rc = emit(ctx, m->size, 0, &carry)) != BT_OK)
		goto out;
	while ((m->size >> h) & 1) {
		if ((rc = hasher_node(&m->h, &m->frontier[h], &carry,
		    &carry)) != BT_OK)
			goto out;
		h++;
		if (emit != NULL && (rc = emit(ctx,
		    m->size + 1 - ((uint64_t)1 << h), h, &carry)) != BT_OK)
			goto out;
	}
	/* only now change the state: a failure above leaves it intact */
	m->frontier[h] = carry;
	m->size++;
out:
	return rc;
}

uint64_t
btcore_merkle_size(const struct btcore_merkle *m)
{
	return m == NULL ? 0 : m->size;
}

int
btcore_merkle_root(const struct btcore_merkle *m, struct bt_id *out)
{
	struct hasher h;
	unsigned b;
	int rc = BT_OK, have = 0;

	if (m == NULL || out == NULL)
		return BT_EINVAL;
	if (m->size == 0)
		return empty_root(out);
	/* the object's digest context is scratch space, also when const */
	h = m->h;
	for (b = 0; b < 64; b++) {
		if (((m->size >> b) & 1) == 0)
			continue;
		if (!have) {
			*out = m->frontier[b];
			have = 1;
		} else if ((rc = hasher_node(&h, &m->frontier[b], out,
		    out)) != BT_OK) {
			memset(out, 0, sizeof(*out));
			break;
		}
	}
	return rc;
}

int
btcore_merkle_load(struct btcore_merkle *m, uint64_t size,
    btcore_merkle_subtree_fn subtree, void *ctx)
{
	struct bt_id f[64];
	uint64_t cur = 0;
	unsigned b;
	int rc = BT_OK;

	if (m == NULL || subtree == NULL)
		return BT_EINVAL;
	if (size > BTCORE_MERKLE_SIZE_MAX)
		return BT_ERANGE;
	for (b = 64; b-- > 0;) {
		if (((size >> b) & 1) == 0)
			continue;
		if ((rc = subtree(ctx, cur, b, &f[b])) != BT_OK)
			goto out;
		cur += (uint64_t)1 << b;
	}
	for (b = 0; b < 64; b++)
		if ((size >> b) & 1)
			m->frontier[b] = f[b];
	m->size = size;
out:
	return rc;
}

int
btcore_merkle_root_at(uint64_t size, btcore_merkle_subtree_fn subtree,
    void *ctx, struct bt_id *out)
{
	struct hasher h = { NULL };
	int rc;

	if (subtree == NULL || out == NULL)
		return BT_EINVAL;
	if (size > BTCORE_MERKLE_SIZE_MAX) {
		rc = BT_ERANGE;
		goto out;
	}
	if (size == 0) {
		rc = empty_root(out);
		goto out;
	}
	if ((rc = hasher_init(&h)) != BT_OK)
		goto out;
	rc = range_hash(&h, 0, size, subtree, ctx, out);
out:
	if (rc != BT_OK)
		memset(out, 0, sizeof(*out));
	hasher_done(&h);
	return rc;
}

/* Proof shapes. */

int
btcore_merkle_inclusion_len(uint64_t index, uint64_t size)
{
	uint64_t lo = 0, hi = size, k;
	int n = 0;

	if (size > BTCORE_MERKLE_SIZE_MAX)
		return BT_ERANGE;
	if (index >= size)
		return BT_EINVAL;
	while (hi - lo > 1) {
		k = (uint64_t)1 << split_height(hi - lo);
		if (index < lo + k)
			hi = lo + k;
		else
			lo += k;
		n++;
	}
	return n;
}

int
btcore_merkle_consistency_len(uint64_t first, uint64_t size)
{
	uint64_t lo = 0, hi = size, mm = first, k;
	int n = 0, right = 0;

	if (size > BTCORE_MERKLE_SIZE_MAX)
		return BT_ERANGE;
	if (first > size)
		return BT_EINVAL;
	if (first == 0 || first == size)
		return 0;
	for (;;) {
		if (mm == hi - lo)
			return n + right;
		k = (uint64_t)1 << split_height(hi - lo);
		if (mm <= k) {
			hi = lo + k;
		} else {
			lo += k;
			mm -= k;
			right = 1;
		}
		n++;
	}
}

int
btcore_merkle_inclusion_prove(struct bt_merkle_proof *out, uint64_t index,
    uint64_t size, btcore_merkle_subtree_fn subtree, void *ctx)
{
	struct bt_id tmp[BTCORE_MERKLE_PROOF_MAX];
	struct hasher h = { NULL };
	uint64_t lo = 0, hi = size, k;
	unsigned kh, n = 0, i;
	int rc;

	if (out == NULL)
		return BT_EINVAL;
	memset(out, 0, sizeof(*out));
	if (subtree == NULL)
		return BT_EINVAL;
	if ((rc = btcore_merkle_inclusion_len(index, size)) < 0)
		return rc;
	if ((rc = hasher_init(&h)) != BT_OK)
		goto out;
	while (hi - lo > 1) {
		kh = split_height(hi - lo);
		k = (uint64_t)1 << kh;
		if (index < lo + k) {
			rc = range_hash(&h, lo + k, hi, subtree, ctx, &tmp[n]);
			hi = lo + k;
		} else {
			rc = subtree(ctx, lo, kh, &tmp[n]);
			lo += k;
		}
		if (rc != BT_OK)
			goto out;
		n++;
	}
	out->kind = BTCORE_MERKLE_INCLUSION;
	out->first = index;
	out->size = size;
	out->count = (uint8_t)n;
	for (i = 0; i < n; i++)
		out->hash[i] = tmp[n - 1 - i];
out:
	if (rc != BT_OK)
		memset(out, 0, sizeof(*out));
	hasher_done(&h);
	return rc;
}

int
btcore_merkle_inclusion_verify(const struct bt_merkle_proof *proof,
    const struct bt_id *leaf, const struct bt_id *root)
{
	struct hasher h = { NULL };
	struct bt_id r;
	uint64_t fn, sn;
	unsigned i;
	int rc;

	if (proof == NULL || leaf == NULL || root == NULL ||
	    proof->kind != BTCORE_MERKLE_INCLUSION)
		return BT_EINVAL;
	if (btcore_merkle_inclusion_len(proof->first, proof->size) !=
	    (int)proof->count || proof->count > BTCORE_MERKLE_PROOF_MAX)
		return BT_EVERIFY;
	if ((rc = hasher_init(&h)) != BT_OK)
		goto out;
	fn = proof->first;
	sn = proof->size - 1;
	r = *leaf;
	for (i = 0; i < proof->count; i++) {
		if (sn == 0) {
			rc = BT_EVERIFY;
			goto out;
		}
		if ((fn & 1) || fn == sn) {
			if ((rc = hasher_node(&h, &proof->hash[i], &r,
			    &r)) != BT_OK)
				goto out;
			while ((fn & 1) == 0 && fn != 0) {
				fn >>= 1;
				sn >>= 1;
			}
		} else if ((rc = hasher_node(&h, &r, &proof->hash[i],
		    &r)) != BT_OK) {
			goto out;
		}
		fn >>= 1;
		sn >>= 1;
	}
	rc = (sn == 0 && memcmp(r.b, root->b, BT_ID_LEN) == 0) ?
	    BT_OK : BT_EVERIFY;
out:
	hasher_done(&h);
	return rc;
}

int
btcore_merkle_consistency_prove(struct bt_merkle_proof *out, uint64_t first,
    uint64_t size, btcore_merkle_subtree_fn subtree, void *ctx)
{
	struct bt_id tmp[BTCORE_MERKLE_PROOF_MAX], base;
	struct hasher h = { NULL };
	uint64_t lo = 0, hi = size, mm = first, k;
	unsigned kh, n = 0, i, o = 0;
	int rc, right = 0, have_base = 0;

	if (out == NULL)
		return BT_EINVAL;
	memset(out, 0, sizeof(*out));
	if (subtree == NULL)
		return BT_EINVAL;
	if ((rc = btcore_merkle_consistency_len(first, size)) < 0)
		return rc;
	rc = BT_OK;
	if (first == 0 || first == size)
		goto done;
	if ((rc = hasher_init(&h)) != BT_OK)
		goto out;
	for (;;) {
		if (mm == hi - lo) {
			/* SUBPROOF(m, D[m], b): MTH(D[m]) unless b */
			if (right) {
				if ((rc = range_hash(&h, lo, hi, subtree, ctx,
				    &base)) != BT_OK)
					goto out;
				have_base = 1;
			}
			break;
		}
		kh = split_height(hi - lo);
		k = (uint64_t)1 << kh;
		if (mm <= k) {
			rc = range_hash(&h, lo + k, hi, subtree, ctx, &tmp[n]);
			hi = lo + k;
		} else {
			rc = subtree(ctx, lo, kh, &tmp[n]);
			lo += k;
			mm -= k;
			right = 1;
		}
		if (rc != BT_OK)
			goto out;
		n++;
	}
	if (have_base)
		out->hash[o++] = base;
	for (i = 0; i < n; i++)
		out->hash[o++] = tmp[n - 1 - i];
done:
	out->kind = BTCORE_MERKLE_CONSISTENCY;
	out->first = first;
	out->size = size;
	out->count = (uint8_t)o;
out:
	if (rc != BT_OK)
		memset(out, 0, sizeof(*out));
	hasher_done(&h);
	return rc;
}

int
btcore_merkle_consistency_verify(const struct bt_merkle_proof *proof,
    const struct bt_id *first_root, const struct bt_id *second_root)
{
	struct hasher h = { NULL };
	struct bt_id fr, sr, empty;
	const struct bt_id *c;
	uint64_t fn, sn;
	unsigned i, start;
	int rc;

	if (proof == NULL || first_root == NULL || second_root == NULL ||
	    proof->kind != BTCORE_MERKLE_CONSISTENCY)
		return BT_EINVAL;
	if (btcore_merkle_consistency_len(proof->first, proof->size) !=
	    (int)proof->count || proof->count > BTCORE_MERKLE_PROOF_MAX)
		return BT_EVERIFY;
	if (proof->first == proof->size)
		return memcmp(first_root->b, second_root->b, BT_ID_LEN) == 0 ?
		    BT_OK : BT_EVERIFY;
	if (proof->first == 0) {
		if ((rc = empty_root(&empty)) != BT_OK)
			return rc;
		return memcmp(first_root->b, empty.b, BT_ID_LEN) == 0 ?
		    BT_OK : BT_EVERIFY;
	}
	if ((rc = hasher_init(&h)) != BT_OK)
		goto out;
	fn = proof->first - 1;
	sn = proof->size - 1;
	/*
	 * When first is a power of two its root is the first hash of the
	 * path, and the proof leaves it out (RFC 9162 step 2).
	 */
	if ((proof->first & (proof->first - 1)) == 0) {
		fr = *first_root;
		start = 0;
	} else {
		fr = proof->hash[0];
		start = 1;
	}
	sr = fr;
	while (fn & 1) {
		fn >>= 1;
		sn >>= 1;
	}
	for (i = start; i < proof->count; i++) {
		c = &proof->hash[i];
		if (sn == 0) {
			rc = BT_EVERIFY;
			goto out;
		}
		if ((fn & 1) || fn == sn) {
			if ((rc = hasher_node(&h, c, &fr, &fr)) != BT_OK ||
			    (rc = hasher_node(&h, c, &sr, &sr)) != BT_OK)
				goto out;
			while ((fn & 1) == 0 && fn != 0) {
				fn >>= 1;
				sn >>= 1;
			}
		} else if ((rc = hasher_node(&h, &sr, c, &sr)) != BT_OK) {
			goto out;
		}
		fn >>= 1;
		sn >>= 1;
	}
	rc = (sn == 0 && memcmp(fr.b, first_root->b, BT_ID_LEN) == 0 &&
	    memcmp(sr.b, second_root->b, BT_ID_LEN) == 0) ?
	    BT_OK : BT_EVERIFY;
out:
	hasher_done(&h);
	return rc;
}

/* Encoding. */

int
btcore_merkle_proof_encode(const struct bt_merkle_proof *proof, uint8_t *buf,
    size_t cap, size_t *out_len)
{
	size_t need, i;
	int want;

	if (proof == NULL || out_len == NULL || (buf == NULL && cap != 0))
		return BT_EINVAL;
	*out_len = 0;
	if (proof->kind == BTCORE_MERKLE_INCLUSION)
		want = btcore_merkle_inclusion_len(proof->first, proof->size);
	else if (proof->kind == BTCORE_MERKLE_CONSISTENCY)
		want = btcore_merkle_consistency_len(proof->first,
		    proof->size);
	else
		return BT_EINVAL;
	if (want != (int)proof->count)
		return BT_EINVAL;
	need = PROOF_FIXED + (size_t)proof->count * BT_ID_LEN;
	*out_len = need;
	if (cap < need)
		return BT_ERANGE;
	buf[0] = proof->kind == BTCORE_MERKLE_INCLUSION ?
	    TAG_INCLUSION : TAG_CONSISTENCY;
	btcore_put_be64_(buf + 1, proof->first);
	btcore_put_be64_(buf + 9, proof->size);
	buf[17] = proof->count;
	for (i = 0; i < proof->count; i++)
		memcpy(buf + PROOF_FIXED + i * BT_ID_LEN, proof->hash[i].b,
		    BT_ID_LEN);
	return BT_OK;
}

int
btcore_merkle_proof_decode(struct bt_merkle_proof *out, const uint8_t *buf,
    size_t len)
{
	size_t need, i;
	int want, rc;

	if (out == NULL)
		return BT_EINVAL;
	memset(out, 0, sizeof(*out));
	if (buf == NULL && len != 0)
		return BT_EINVAL;
	if (len < PROOF_FIXED) {
		rc = BT_ETRUNC;
		goto out;
	}
	out->first = btcore_get_be64_(buf + 1);
	out->size = btcore_get_be64_(buf + 9);
	out->count = buf[17];
	if (buf[0] == TAG_INCLUSION) {
		out->kind = BTCORE_MERKLE_INCLUSION;
		want = btcore_merkle_inclusion_len(out->first, out->size);
	} else if (buf[0] == TAG_CONSISTENCY) {
		out->kind = BTCORE_MERKLE_CONSISTENCY;
		want = btcore_merkle_consistency_len(out->first, out->size);
	} else {
		rc = BT_EFORMAT;
		goto out;
	}
	if (want < 0 || want != (int)out->count) {
		rc = BT_EFORMAT;
		goto out;
	}
	need = PROOF_FIXED + (size_t)out->count * BT_ID_LEN;
	if (len < need) {
		rc = BT_ETRUNC;
		goto out;
	}
	if (len > need) {
		rc = BT_EFORMAT;
		goto out;
	}
	for (i = 0; i < out->count; i++)
		memcpy(out->hash[i].b, buf + PROOF_FIXED + i * BT_ID_LEN,
		    BT_ID_LEN);
	rc = BT_OK;
out:
	if (rc != BT_OK)
		memset(out, 0, sizeof(*out));
	return rc;
}
