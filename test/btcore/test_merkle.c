/*
 * test_merkle.c - RFC 6962 / 9162 trees: roots, accumulator, inclusion and
 * consistency proofs, proof encoding.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bt/hash.h>
#include <bt/id.h>
#include <bt/merkle.h>

Suite *suite_merkle(void);

#define MAXN 200

/* A tree of known leaves; the reference computations recurse (bounded). */
struct tree {
	uint64_t n;
	struct bt_id leaf[MAXN];
	int calls;
	int fail_at;		/* make the fail_at-th callback fail, 0: never */
};

static void
hex_id(struct bt_id *id, const char *hex)
{
	ck_assert_int_eq(btcore_id_from_hex(id, hex), BT_OK);
}

/* SHA-256(prefix || a || b) through the plain hash API only. */
static void
raw_node(struct bt_id *out, const struct bt_id *a, const struct bt_id *b)
{
	uint8_t buf[65];

	buf[0] = 1;
	memcpy(buf + 1, a->b, 32);
	memcpy(buf + 33, b->b, 32);
	ck_assert_int_eq(btcore_id_hash(out, buf, sizeof(buf)), BT_OK);
}

static void
raw_leaf(struct bt_id *out, const void *data, size_t len)
{
	uint8_t buf[64];

	ck_assert_uint_lt(len, sizeof(buf));
	buf[0] = 0;
	memcpy(buf + 1, data, len);
	ck_assert_int_eq(btcore_id_hash(out, buf, len + 1), BT_OK);
}

static void
ref_mth(const struct tree *t, uint64_t lo, uint64_t hi, struct bt_id *out)
{
	struct bt_id l, r;
	uint64_t k = 1;

	if (hi - lo == 1) {
		*out = t->leaf[lo];
		return;
	}
	while (k * 2 < hi - lo)
		k *= 2;
	ref_mth(t, lo, lo + k, &l);
	ref_mth(t, lo + k, hi, &r);
	raw_node(out, &l, &r);
}

static void
tree_init(struct tree *t, uint64_t n)
{
	uint64_t i;
	uint8_t d[8];

	memset(t, 0, sizeof(*t));
	t->n = n;
	for (i = 0; i < n; i++) {
		d[0] = (uint8_t)i;
		d[1] = (uint8_t)(i >> 8);
		memcpy(d + 2, "merkle", 6);
		ck_assert_int_eq(btcore_merkle_leaf_hash(&t->leaf[i], d, 8),
		    BT_OK);
	}
}

static void
tree_root(const struct tree *t, uint64_t n, struct bt_id *out)
{
	if (n == 0)
		ck_assert_int_eq(btcore_id_hash(out, NULL, 0), BT_OK);
	else
		ref_mth(t, 0, n, out);
}

static int
tree_subtree(void *ctx, uint64_t start, unsigned height, struct bt_id *out)
{
	struct tree *t = ctx;
	uint64_t w = (uint64_t)1 << height;

	t->calls++;
	if (t->fail_at != 0 && t->calls == t->fail_at)
		return BT_EIO;
	/* the contract: aligned, perfect, inside the tree */
	ck_assert_uint_eq(start % w, 0);
	ck_assert_uint_le(start + w, t->n);
	ref_mth(t, start, start + w, out);
	return BT_OK;
}

START_TEST(known_roots)
{
	/* RFC 6962 test inputs, as used by Certificate Transparency */
	static const uint8_t in[8][16] = {
		{ 0 }, { 0x00 }, { 0x10 }, { 0x20, 0x21 }, { 0x30, 0x31 },
		{ 0x40, 0x41, 0x42, 0x43 },
		{ 0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57 },
		{ 0x60, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69,
		  0x6a, 0x6b, 0x6c, 0x6d, 0x6e, 0x6f } };
	static const size_t inlen[8] = { 0, 1, 1, 2, 2, 4, 8, 16 };
	static const char *roots[8] = {
	    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
	    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
	    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
	    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
	    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
	    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
	    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
	    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328" };
	struct bt_id L[8], want, got, n01, n23, n45, n67, n0123, n4567, x;
	struct btcore_merkle *m;
	size_t i;

	ck_assert_int_eq(btcore_merkle_new(&m), BT_OK);
	ck_assert_int_eq(btcore_merkle_root(m, &got), BT_OK);
	hex_id(&want,
	    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	ck_assert_mem_eq(got.b, want.b, 32);
	for (i = 0; i < 8; i++) {
		ck_assert_int_eq(btcore_merkle_leaf_hash(&L[i], in[i],
		    inlen[i]), BT_OK);
		raw_leaf(&x, in[i], inlen[i]);
		ck_assert_mem_eq(L[i].b, x.b, 32);
		ck_assert_int_eq(btcore_merkle_append(m, &L[i], NULL, NULL),
		    BT_OK);
		ck_assert_uint_eq(btcore_merkle_size(m), i + 1);
		ck_assert_int_eq(btcore_merkle_root(m, &got), BT_OK);
		hex_id(&want, roots[i]);
		ck_assert_mem_eq(got.b, want.b, 32);
	}

	/* the same shapes composed by hand */
	raw_node(&n01, &L[0], &L[1]);
	raw_node(&n23, &L[2], &L[3]);
	raw_node(&n45, &L[4], &L[5]);
	raw_node(&n67, &L[6], &L[7]);
	raw_node(&n0123, &n01, &n23);
	raw_node(&n4567, &n45, &n67);
	hex_id(&want, roots[0]);
	ck_assert_mem_eq(L[0].b, want.b, 32);
	hex_id(&want, roots[1]);
	ck_assert_mem_eq(n01.b, want.b, 32);
	raw_node(&x, &n01, &L[2]);		/* 3: (01)(2) */
	hex_id(&want, roots[2]);
	ck_assert_mem_eq(x.b, want.b, 32);
	raw_node(&x, &n45, &L[6]);		/* 7: (0123)((45)(6)) */
	raw_node(&x, &n0123, &x);
	hex_id(&want, roots[6]);
	ck_assert_mem_eq(x.b, want.b, 32);
	raw_node(&x, &n0123, &n4567);		/* 8: balanced */
	hex_id(&want, roots[7]);
	ck_assert_mem_eq(x.b, want.b, 32);
	ck_assert_int_eq(btcore_merkle_node_hash(&got, &n0123, &n4567), BT_OK);
	ck_assert_mem_eq(got.b, want.b, 32);

	ck_assert_int_eq(btcore_merkle_node_hash(NULL, &L[0], &L[1]),
	    BT_EINVAL);
	ck_assert_int_eq(btcore_merkle_leaf_hash(&x, NULL, 1), BT_EINVAL);
	ck_assert_int_eq(btcore_merkle_leaf_hash(&x, NULL, 0), BT_OK);
	ck_assert_int_eq(btcore_merkle_append(m, NULL, NULL, NULL), BT_EINVAL);
	ck_assert_int_eq(btcore_merkle_root(m, NULL), BT_EINVAL);
	ck_assert_int_eq(btcore_merkle_new(NULL), BT_EINVAL);
	btcore_merkle_free(m);
	btcore_merkle_free(NULL);
}
END_TEST

struct emitted {
	const struct tree *t;
	int count;
	int fail;
};

static int
check_emit(void *ctx, uint64_t start, unsigned height,
    const struct bt_id *hash)
{
	struct emitted *e = ctx;
	struct bt_id want;
	uint64_t w = (uint64_t)1 << height;

	if (e->fail)
		return BT_ENOSPC;
	ck_assert_uint_eq(start % w, 0);
	ref_mth(e->t, start, start + w, &want);
	ck_assert_mem_eq(hash->b, want.b, 32);
	e->count++;
	return BT_OK;
}

START_TEST(accumulator_matches_reference)
{
	static struct tree t;
	struct btcore_merkle *m, *m2;
	struct emitted e;
	struct bt_id want, got, got2;
	uint64_t n, i, c;
	int pop;

	tree_init(&t, 130);
	ck_assert_int_eq(btcore_merkle_new(&m), BT_OK);
	ck_assert_int_eq(btcore_merkle_new(&m2), BT_OK);
	e.t = &t;
	e.count = 0;
	e.fail = 0;
	for (n = 0; n <= 130; n++) {
		tree_root(&t, n, &want);
		ck_assert_int_eq(btcore_merkle_root(m, &got), BT_OK);
		ck_assert_mem_eq(got.b, want.b, 32);
		ck_assert_int_eq(btcore_merkle_root_at(n, tree_subtree, &t,
		    &got), BT_OK);
		ck_assert_mem_eq(got.b, want.b, 32);
		/* completed subtrees: 2n - popcount(n) */
		for (pop = 0, c = n; c != 0; c >>= 1)
			pop += (int)(c & 1);
		ck_assert_int_eq(e.count, (int)(2 * n) - pop);
		/* resume from stored subtrees, then keep appending */
		ck_assert_int_eq(btcore_merkle_load(m2, n, tree_subtree, &t),
		    BT_OK);
		ck_assert_uint_eq(btcore_merkle_size(m2), n);
		for (i = n; i < n + 3 && i < 130; i++)
			ck_assert_int_eq(btcore_merkle_append(m2, &t.leaf[i],
			    NULL, NULL), BT_OK);
		ck_assert_int_eq(btcore_merkle_root(m2, &got2), BT_OK);
		tree_root(&t, i, &want);
		ck_assert_mem_eq(got2.b, want.b, 32);
		if (n < 130)
			ck_assert_int_eq(btcore_merkle_append(m, &t.leaf[n],
			    check_emit, &e), BT_OK);
	}
	/* a failing emit leaves the accumulator as it was */
	e.fail = 1;
	ck_assert_int_eq(btcore_merkle_append(m, &t.leaf[0], check_emit, &e),
	    BT_ENOSPC);
	ck_assert_uint_eq(btcore_merkle_size(m), 130);
	ck_assert_int_eq(btcore_merkle_root(m, &got), BT_OK);
	tree_root(&t, 130, &want);
	ck_assert_mem_eq(got.b, want.b, 32);

	/* a failing look-up leaves it too, and reaches the caller */
	t.calls = 0;
	t.fail_at = 2;
	ck_assert_int_eq(btcore_merkle_load(m, 7, tree_subtree, &t), BT_EIO);
	ck_assert_uint_eq(btcore_merkle_size(m), 130);
	t.calls = 0;
	ck_assert_int_eq(btcore_merkle_root_at(7, tree_subtree, &t, &got),
	    BT_EIO);
	ck_assert(btcore_id_is_zero(&got));
	t.fail_at = 0;
	ck_assert_int_eq(btcore_merkle_load(m, BTCORE_MERKLE_SIZE_MAX + 1,
	    tree_subtree, &t), BT_ERANGE);
	ck_assert_int_eq(btcore_merkle_load(m, 1, NULL, &t), BT_EINVAL);
	btcore_merkle_free(m);
	btcore_merkle_free(m2);
}
END_TEST

static int
zero_subtree(void *ctx, uint64_t start, unsigned height, struct bt_id *out)
{
	(void)ctx;
	(void)start;
	(void)height;
	memset(out, 0x5a, sizeof(*out));
	return BT_OK;
}

START_TEST(full_tree_and_shapes)
{
	struct btcore_merkle *m;
	struct bt_id leaf, root;
	uint64_t a, b, big[] = { 1, 2, 3, 5, 1000, 1000000, 0x7fffffffffffffffULL,
	    BTCORE_MERKLE_SIZE_MAX - 1, BTCORE_MERKLE_SIZE_MAX, 0x5555555555555555ULL };
	size_t i, j;

	ck_assert_int_eq(btcore_merkle_new(&m), BT_OK);
	ck_assert_int_eq(btcore_merkle_load(m, BTCORE_MERKLE_SIZE_MAX,
	    zero_subtree, NULL), BT_OK);
	memset(&leaf, 1, sizeof(leaf));
	ck_assert_int_eq(btcore_merkle_append(m, &leaf, NULL, NULL), BT_ERANGE);
	ck_assert_int_eq(btcore_merkle_root(m, &root), BT_OK);
	ck_assert_int_eq(btcore_merkle_load(m, BTCORE_MERKLE_SIZE_MAX - 1,
	    zero_subtree, NULL), BT_OK);
	ck_assert_int_eq(btcore_merkle_append(m, &leaf, NULL, NULL), BT_OK);
	ck_assert_uint_eq(btcore_merkle_size(m), BTCORE_MERKLE_SIZE_MAX);
	btcore_merkle_free(m);

	/* lengths stay within the bound for the largest trees */
	ck_assert_int_eq(btcore_merkle_inclusion_len(0,
	    BTCORE_MERKLE_SIZE_MAX), 63);
	for (i = 0; i < sizeof(big) / sizeof(big[0]); i++)
		for (j = 0; j < sizeof(big) / sizeof(big[0]); j++) {
			a = big[i];
			b = big[j];
			if (a < b) {
				ck_assert_int_ge(btcore_merkle_inclusion_len(a, b), 1);
				ck_assert_int_le(btcore_merkle_inclusion_len(a, b),
				    BTCORE_MERKLE_PROOF_MAX);
			}
			if (a <= b) {
				ck_assert_int_ge(btcore_merkle_consistency_len(a, b), 0);
				ck_assert_int_le(btcore_merkle_consistency_len(a, b),
				    BTCORE_MERKLE_PROOF_MAX);
			} else {
				ck_assert_int_eq(btcore_merkle_consistency_len(a,
				    b), BT_EINVAL);
			}
		}
	ck_assert_int_eq(btcore_merkle_inclusion_len(5, 5), BT_EINVAL);
	ck_assert_int_eq(btcore_merkle_inclusion_len(0, 0), BT_EINVAL);
	ck_assert_int_eq(btcore_merkle_inclusion_len(0,
	    BTCORE_MERKLE_SIZE_MAX + 1), BT_ERANGE);
	ck_assert_int_eq(btcore_merkle_consistency_len(1,
	    BTCORE_MERKLE_SIZE_MAX + 1), BT_ERANGE);
	ck_assert_int_eq(btcore_merkle_inclusion_len(0, 1), 0);
	ck_assert_int_eq(btcore_merkle_inclusion_len(6, 7), 2);
	ck_assert_int_eq(btcore_merkle_consistency_len(4, 8), 1);
	/* the examples of RFC 9162 section 2.1.5 */
	ck_assert_int_eq(btcore_merkle_consistency_len(3, 7), 4);
	ck_assert_int_eq(btcore_merkle_consistency_len(4, 7), 1);
	ck_assert_int_eq(btcore_merkle_consistency_len(6, 7), 3);
	ck_assert_int_eq(btcore_merkle_inclusion_len(0, 7), 3);
	ck_assert_int_eq(btcore_merkle_inclusion_len(3, 7), 3);
	ck_assert_int_eq(btcore_merkle_inclusion_len(4, 7), 3);
}
END_TEST

static void
flip(struct bt_id *id, unsigned bit)
{
	id->b[bit / 8] ^= (uint8_t)(1u << (bit % 8));
}

START_TEST(inclusion_all_sizes)
{
	static struct tree t;
	struct bt_merkle_proof p, q;
	struct bt_id root, leaf;
	uint64_t n, i;
	unsigned h, bit;

	tree_init(&t, 64);
	for (n = 1; n <= 64; n++) {
		tree_root(&t, n, &root);
		t.n = n;
		for (i = 0; i < n; i++) {
			ck_assert_int_eq(btcore_merkle_inclusion_prove(&p, i, n,
			    tree_subtree, &t), BT_OK);
			ck_assert_int_eq(p.count,
			    btcore_merkle_inclusion_len(i, n));
			ck_assert_int_eq(btcore_merkle_inclusion_verify(&p,
			    &t.leaf[i], &root), BT_OK);
			/* a bit flip anywhere fails: proof, leaf, root */
			for (h = 0; h < p.count; h++) {
				bit = (unsigned)(i * 37 + h * 11 + n) % 256;
				q = p;
				flip(&q.hash[h], bit);
				ck_assert_int_eq(btcore_merkle_inclusion_verify(
				    &q, &t.leaf[i], &root), BT_EVERIFY);
			}
			leaf = t.leaf[i];
			flip(&leaf, (unsigned)(i * 13) % 256);
			ck_assert_int_eq(btcore_merkle_inclusion_verify(&p,
			    &leaf, &root), BT_EVERIFY);
			leaf = root;
			flip(&leaf, (unsigned)(n * 7) % 256);
			ck_assert_int_eq(btcore_merkle_inclusion_verify(&p,
			    &t.leaf[i], &leaf), BT_EVERIFY);
			/* another position or size */
			if (n > 1) {
				q = p;
				q.first = (i + 1) % n;
				ck_assert_int_eq(btcore_merkle_inclusion_verify(
				    &q, &t.leaf[i], &root), BT_EVERIFY);
				ck_assert_int_eq(btcore_merkle_inclusion_verify(
				    &p, &t.leaf[(i + 1) % n], &root),
				    BT_EVERIFY);
			}
			/*
			 * (The size is not covered: a proof for leaf 0 of 3
			 * also fits a tree of 4.  Logs take it from the
			 * signed head.)
			 */
			if (p.count > 0) {
				q = p;
				q.count--;
				ck_assert_int_eq(btcore_merkle_inclusion_verify(
				    &q, &t.leaf[i], &root), BT_EVERIFY);
			}
		}
	}
	/* every single bit of one proof, its leaf and root */
	t.n = 45;
	tree_root(&t, 45, &root);
	ck_assert_int_eq(btcore_merkle_inclusion_prove(&p, 22, 45,
	    tree_subtree, &t), BT_OK);
	for (bit = 0; bit < 256; bit++) {
		for (h = 0; h < p.count; h++) {
			q = p;
			flip(&q.hash[h], bit);
			ck_assert_int_eq(btcore_merkle_inclusion_verify(&q,
			    &t.leaf[22], &root), BT_EVERIFY);
		}
		leaf = t.leaf[22];
		flip(&leaf, bit);
		ck_assert_int_eq(btcore_merkle_inclusion_verify(&p, &leaf,
		    &root), BT_EVERIFY);
		leaf = root;
		flip(&leaf, bit);
		ck_assert_int_eq(btcore_merkle_inclusion_verify(&p,
		    &t.leaf[22], &leaf), BT_EVERIFY);
	}

	/* errors */
	ck_assert_int_eq(btcore_merkle_inclusion_prove(&p, 45, 45,
	    tree_subtree, &t), BT_EINVAL);
	ck_assert_uint_eq(p.count, 0);
	ck_assert_int_eq(btcore_merkle_inclusion_prove(&p, 0, 45, NULL, &t),
	    BT_EINVAL);
	ck_assert_int_eq(btcore_merkle_inclusion_prove(NULL, 0, 45,
	    tree_subtree, &t), BT_EINVAL);
	t.calls = 0;
	t.fail_at = 3;
	ck_assert_int_eq(btcore_merkle_inclusion_prove(&p, 0, 45,
	    tree_subtree, &t), BT_EIO);
	ck_assert_uint_eq(p.count, 0);
	t.fail_at = 0;
	ck_assert_int_eq(btcore_merkle_inclusion_prove(&p, 3, 45,
	    tree_subtree, &t), BT_OK);
	p.kind = BTCORE_MERKLE_CONSISTENCY;
	ck_assert_int_eq(btcore_merkle_inclusion_verify(&p, &t.leaf[3], &root),
	    BT_EINVAL);
	ck_assert_int_eq(btcore_merkle_inclusion_verify(NULL, &t.leaf[3],
	    &root), BT_EINVAL);
}
END_TEST

START_TEST(consistency_all_pairs)
{
	static struct tree t;
	struct bt_merkle_proof p, q;
	struct bt_id r1, r2, x;
	uint64_t m, n;
	unsigned h;

	tree_init(&t, 40);
	for (n = 0; n <= 40; n++) {
		t.n = n;
		tree_root(&t, n, &r2);
		for (m = 0; m <= n; m++) {
			tree_root(&t, m, &r1);
			ck_assert_int_eq(btcore_merkle_consistency_prove(&p, m,
			    n, tree_subtree, &t), BT_OK);
			ck_assert_int_eq(p.count,
			    btcore_merkle_consistency_len(m, n));
			ck_assert_int_eq(btcore_merkle_consistency_verify(&p,
			    &r1, &r2), BT_OK);
			/* tampered roots */
			x = r1;
			flip(&x, (unsigned)(m * 5 + n) % 256);
			ck_assert_int_eq(btcore_merkle_consistency_verify(&p,
			    &x, &r2), BT_EVERIFY);
			if (m > 0) {
				x = r2;
				flip(&x, (unsigned)(m + n * 3) % 256);
				ck_assert_int_eq(
				    btcore_merkle_consistency_verify(&p, &r1,
				    &x), BT_EVERIFY);
			}
			/* tampered hashes */
			for (h = 0; h < p.count; h++) {
				q = p;
				flip(&q.hash[h], (h * 29 + (unsigned)m) % 256);
				ck_assert_int_eq(
				    btcore_merkle_consistency_verify(&q, &r1,
				    &r2), BT_EVERIFY);
			}
			/* the proof for other sizes */
			if (m > 0 && m < n) {
				q = p;
				q.first = m - 1;
				ck_assert_int_eq(
				    btcore_merkle_consistency_verify(&q, &r1,
				    &r2), BT_EVERIFY);
				q = p;
				q.first = m + 1;
				ck_assert_int_eq(
				    btcore_merkle_consistency_verify(&q, &r1,
				    &r2), BT_EVERIFY);
				/* an older root of another size */
				tree_root(&t, m - 1, &x);
				ck_assert_int_eq(
				    btcore_merkle_consistency_verify(&p, &x,
				    &r2), BT_EVERIFY);
			}
			/* a root from a different history */
			if (m > 0 && m < n) {
				struct tree *o = malloc(sizeof(*o));

				ck_assert_ptr_nonnull(o);
				*o = t;
				flip(&o->leaf[m - 1], 0);
				tree_root(o, n, &x);
				ck_assert_int_eq(
				    btcore_merkle_consistency_verify(&p, &r1,
				    &x), BT_EVERIFY);
				free(o);
			}
		}
	}
	t.n = 40;
	ck_assert_int_eq(btcore_merkle_consistency_prove(&p, 41, 40,
	    tree_subtree, &t), BT_EINVAL);
	ck_assert_int_eq(btcore_merkle_consistency_prove(&p, 4, 40, NULL, &t),
	    BT_EINVAL);
	t.calls = 0;
	t.fail_at = 2;
	ck_assert_int_eq(btcore_merkle_consistency_prove(&p, 13, 40,
	    tree_subtree, &t), BT_EIO);
	ck_assert_uint_eq(p.count, 0);
	t.fail_at = 0;
	p.kind = BTCORE_MERKLE_INCLUSION;
	ck_assert_int_eq(btcore_merkle_consistency_verify(&p, &r1, &r2),
	    BT_EINVAL);
}
END_TEST

START_TEST(proof_encoding)
{
	static struct tree t;
	struct bt_merkle_proof p, d;
	uint8_t buf[BTCORE_MERKLE_PROOF_ENC_MAX + 1], mut[sizeof(buf)];
	struct bt_id r1, r2;
	size_t len, cut, k, bit;
	int rc, pass;

	tree_init(&t, 27);
	tree_root(&t, 27, &r2);
	tree_root(&t, 11, &r1);
	for (pass = 0; pass < 2; pass++) {
		if (pass == 0)
			ck_assert_int_eq(btcore_merkle_inclusion_prove(&p, 11,
			    27, tree_subtree, &t), BT_OK);
		else
			ck_assert_int_eq(btcore_merkle_consistency_prove(&p,
			    11, 27, tree_subtree, &t), BT_OK);
		ck_assert_int_eq(btcore_merkle_proof_encode(&p, buf, 10, &len),
		    BT_ERANGE);
		ck_assert_uint_eq(len, 18 + 32 * (size_t)p.count);
		ck_assert_int_eq(btcore_merkle_proof_encode(&p, buf,
		    sizeof(buf), &len), BT_OK);
		ck_assert_int_eq(btcore_merkle_proof_decode(&d, buf, len),
		    BT_OK);
		ck_assert_int_eq(memcmp(&d, &p, sizeof(p)), 0);
		/* every truncation, then a trailing byte */
		for (cut = 0; cut < len; cut++) {
			ck_assert_int_eq(btcore_merkle_proof_decode(&d, buf,
			    cut), BT_ETRUNC);
			ck_assert_uint_eq(d.count, 0);
		}
		buf[len] = 0;
		ck_assert_int_eq(btcore_merkle_proof_decode(&d, buf, len + 1),
		    BT_EFORMAT);
		/* every bit flip: rejected, or decodes and fails to verify */
		for (k = 0; k < len; k++)
			for (bit = 0; bit < 8; bit++) {
				memcpy(mut, buf, len);
				mut[k] ^= (uint8_t)(1u << bit);
				rc = btcore_merkle_proof_decode(&d, mut, len);
				if (rc != BT_OK) {
					ck_assert(rc == BT_EFORMAT ||
					    rc == BT_ETRUNC);
					continue;
				}
				/*
				 * The numbers are not covered by the hashes
				 * (a log takes the size from its signed
				 * head); a flip there only has to decode.
				 */
				if (d.first != p.first || d.size != p.size)
					continue;
				if (d.kind == BTCORE_MERKLE_INCLUSION)
					rc = btcore_merkle_inclusion_verify(&d,
					    &t.leaf[11], &r2);
				else
					rc = btcore_merkle_consistency_verify(
					    &d, &r1, &r2);
				ck_assert_int_ne(rc, BT_OK);
			}
	}
	/* a wrong count is refused both ways */
	buf[17]++;
	ck_assert_int_eq(btcore_merkle_proof_decode(&d, buf, len), BT_EFORMAT);
	p.count--;
	ck_assert_int_eq(btcore_merkle_proof_encode(&p, buf, sizeof(buf),
	    &len), BT_EINVAL);
	/* unknown kind, index past the end */
	memset(buf, 0, 18);
	buf[0] = 'X';
	buf[16] = 1;
	ck_assert_int_eq(btcore_merkle_proof_decode(&d, buf, 18), BT_EFORMAT);
	buf[0] = 'I';
	ck_assert_int_eq(btcore_merkle_proof_decode(&d, buf, 18), BT_OK);
	buf[8] = 1;
	ck_assert_int_eq(btcore_merkle_proof_decode(&d, buf, 18), BT_EFORMAT);
	buf[0] = 'C';	/* 1 -> 1: empty, fine */
	ck_assert_int_eq(btcore_merkle_proof_decode(&d, buf, 18), BT_OK);
	ck_assert_int_eq(d.kind, BTCORE_MERKLE_CONSISTENCY);
	buf[8] = 2;
	ck_assert_int_eq(btcore_merkle_proof_decode(&d, buf, 18), BT_EFORMAT);
	ck_assert_int_eq(btcore_merkle_proof_decode(NULL, buf, 18), BT_EINVAL);
	ck_assert_int_eq(btcore_merkle_proof_decode(&d, NULL, 18), BT_EINVAL);
	ck_assert_int_eq(btcore_merkle_proof_decode(&d, NULL, 0), BT_ETRUNC);
}
END_TEST

Suite *
suite_merkle(void)
{
	Suite *s = suite_create("merkle");
	TCase *tc = tcase_create("merkle");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, known_roots);
	tcase_add_test(tc, accumulator_matches_reference);
	tcase_add_test(tc, full_tree_and_shapes);
	tcase_add_test(tc, inclusion_all_sizes);
	tcase_add_test(tc, consistency_all_pairs);
	tcase_add_test(tc, proof_encoding);
	suite_add_tcase(s, tc);
	return s;
}
