/*
 * bt/merkle.h - Merkle trees of RFC 6962 / RFC 9162: an incremental
 * accumulator, inclusion proofs and consistency proofs.
 *
 * The tree over leaves d[0..n) is the one of RFC 9162 section 2.1.1:
 *
 *	leaf hash   = SHA-256(0x00 || leaf data)
 *	node hash   = SHA-256(0x01 || left || right)
 *	MTH({})     = SHA-256("")
 *	MTH(d[0:n]) = node(MTH(d[0:k]), MTH(d[k:n])), k the largest power of
 *		      two smaller than n.
 *
 * Every function here takes leaf hashes (already prefixed with 0x00 and
 * hashed), never leaf data.  A tree holds at most BTCORE_MERKLE_SIZE_MAX
 * leaves, so no proof is longer than BTCORE_MERKLE_PROOF_MAX hashes.
 *
 * Proofs are generated from the hashes of perfect subtrees: the subtree
 * of height h starting at leaf s (s a multiple of 2^h) covers leaves
 * [s, s + 2^h); height 0 is a leaf hash.  A store keeps these hashes
 * (btcore_merkle_append() reports each one as it is completed) and
 * answers a btcore_merkle_subtree_fn; a proof then costs O(log n)
 * look-ups.  Nothing here recurses.
 */
#ifndef BT_MERKLE_H
#define BT_MERKLE_H

#include <bt/common.h>
#include <bt/id.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Most leaves in a tree: 2^63. */
#define BTCORE_MERKLE_SIZE_MAX		((uint64_t)1 << 63)
/** Most hashes in an inclusion or a consistency proof. */
#define BTCORE_MERKLE_PROOF_MAX		64

/** What a struct bt_merkle_proof proves. */
#define BTCORE_MERKLE_INCLUSION		1
#define BTCORE_MERKLE_CONSISTENCY	2

/** Bytes of an encoded proof: 18 fixed bytes, then 32 per hash. */
#define BTCORE_MERKLE_PROOF_ENC_MAX	(18 + 32 * BTCORE_MERKLE_PROOF_MAX)

/**
 * An inclusion proof (leaf @c first in the tree of @c size leaves) or a
 * consistency proof (the tree of @c first leaves is a prefix of the tree
 * of @c size leaves), with its @c count hashes in RFC 9162 order.  A value
 * type of bounded size.
 */
struct bt_merkle_proof {
	uint8_t kind;		/* BTCORE_MERKLE_INCLUSION or _CONSISTENCY */
	uint8_t count;		/* hashes used, 0..BTCORE_MERKLE_PROOF_MAX */
	uint64_t first;		/* leaf index, or the older tree size */
	uint64_t size;		/* tree size */
	struct bt_id hash[BTCORE_MERKLE_PROOF_MAX];
};

/**
 * Supplies the hash of the perfect subtree of height @p height starting
 * at leaf @p start (start is a multiple of 2^height).  @p ctx is the
 * caller's, passed back unchanged.  Return BT_OK after writing @p out, or
 * a negative code, which the caller of the generator gets back.
 */
typedef int (*btcore_merkle_subtree_fn)(void *ctx, uint64_t start,
    unsigned height, struct bt_id *out);

/**
 * Told of each perfect subtree an append completes, from the leaf itself
 * (height 0) upward.  Same conventions as btcore_merkle_subtree_fn; a
 * negative return stops the append, which then leaves the accumulator
 * unchanged.
 */
typedef int (*btcore_merkle_emit_fn)(void *ctx, uint64_t start,
    unsigned height, const struct bt_id *hash);

/**
 * The leaf hash SHA-256(0x00 || data) of @p len bytes at @p data (NULL
 * allowed when len is 0).
 * @return BT_OK, BT_EINVAL or BT_ECRYPTO.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btcore_merkle_leaf_hash(struct bt_id *out,
    const void *data, size_t len);

/**
 * The interior node hash SHA-256(0x01 || left || right).
 * @return BT_OK, BT_EINVAL or BT_ECRYPTO.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btcore_merkle_node_hash(struct bt_id *out,
    const struct bt_id *left, const struct bt_id *right);

/**
 * An incremental Merkle accumulator (a compact range).  Opaque.  Used by
 * one thread at a time, also for the const functions (they share its
 * digest context).
 */
struct btcore_merkle;

/**
 * Start an empty accumulator.  It keeps one hash per set bit of its size
 * (at most 63) and nothing else.
 * @param out	out: caller owns; release with btcore_merkle_free(); NULL
 *		on failure.
 * @return BT_OK, BT_EINVAL, BT_ENOMEM or BT_ECRYPTO.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btcore_merkle_new(struct btcore_merkle **out);

/** Release @p m; NULL is a no-op.  @since 0.1 */
BT_EXPORT void btcore_merkle_free(struct btcore_merkle *m);

/**
 * Append one leaf hash.  When @p emit is not NULL it is called for every
 * perfect subtree the append completes (the new leaf at height 0, then
 * each parent it closes), so a store can keep them for proofs.
 * @param m	in/out: the accumulator.
 * @param leaf	in, borrowed: the leaf hash.
 * @param emit	optional; @p ctx is passed to it.
 * @return BT_OK; BT_EINVAL; BT_ERANGE when the tree is full; BT_ECRYPTO;
 *	   or the error @p emit returned.  On failure @p m is unchanged.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btcore_merkle_append(struct btcore_merkle *m,
    const struct bt_id *leaf, btcore_merkle_emit_fn emit, void *ctx);

/** The number of leaves appended so far.  @since 0.1 */
BT_EXPORT uint64_t btcore_merkle_size(const struct btcore_merkle *m);

/**
 * The root hash of the leaves appended so far (SHA-256("") when none).
 * @return BT_OK, BT_EINVAL or BT_ECRYPTO.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btcore_merkle_root(const struct btcore_merkle *m,
    struct bt_id *out);

/**
 * Reset @p m to a tree of @p size leaves, taking the hashes it needs (one
 * perfect subtree per set bit of @p size) from @p subtree.  Used to resume
 * appending to a stored tree.
 * @return BT_OK, BT_EINVAL, BT_ERANGE (size above the maximum), or the
 *	   error @p subtree returned; on failure @p m is unchanged.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btcore_merkle_load(struct btcore_merkle *m,
    uint64_t size, btcore_merkle_subtree_fn subtree, void *ctx);

/**
 * The root hash of the first @p size leaves of a stored tree, from the
 * hashes of at most 63 perfect subtrees.
 * @return BT_OK, BT_EINVAL, BT_ERANGE, BT_ECRYPTO, or the callback's error.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btcore_merkle_root_at(uint64_t size,
    btcore_merkle_subtree_fn subtree, void *ctx, struct bt_id *out);

/**
 * The number of hashes in the inclusion proof of leaf @p index in a tree
 * of @p size leaves, or in the consistency proof from @p first to @p size
 * leaves.  Both are determined by the two numbers alone.
 * @return the count (0..64), or BT_EINVAL / BT_ERANGE when the numbers
 *	   name no proof (index >= size, first > size, size above the
 *	   maximum).
 * @since 0.1
 */
BT_EXPORT int btcore_merkle_inclusion_len(uint64_t index, uint64_t size);
BT_EXPORT int btcore_merkle_consistency_len(uint64_t first, uint64_t size);

/**
 * Build the inclusion proof of leaf @p index in the tree of @p size
 * leaves (RFC 9162 section 2.1.3.1), asking @p subtree for O(log n)
 * subtree hashes.
 * @param out	out: the proof; zeroed on failure.
 * @return BT_OK, BT_EINVAL (index >= size, NULL), BT_ERANGE, BT_ECRYPTO,
 *	   or the callback's error.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btcore_merkle_inclusion_prove(struct bt_merkle_proof *out,
    uint64_t index, uint64_t size, btcore_merkle_subtree_fn subtree,
    void *ctx);

/**
 * Check that @p leaf is leaf @c proof->first of the tree of
 * @c proof->size leaves whose root is @p root (RFC 9162 section
 * 2.1.3.2).
 * @return BT_OK; BT_EVERIFY when it does not (including a proof whose
 *	   count or numbers do not fit together); BT_EINVAL for NULL or a
 *	   proof of the wrong kind; BT_ECRYPTO.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btcore_merkle_inclusion_verify(
    const struct bt_merkle_proof *proof, const struct bt_id *leaf,
    const struct bt_id *root);

/**
 * Build the consistency proof between the tree of @p first leaves and the
 * tree of @p size leaves (RFC 9162 section 2.1.4.1).  When first is 0 or
 * equal to size the proof is empty.
 * @return BT_OK, BT_EINVAL (first > size, NULL), BT_ERANGE, BT_ECRYPTO, or
 *	   the callback's error; @p out is zeroed on failure.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btcore_merkle_consistency_prove(
    struct bt_merkle_proof *out, uint64_t first, uint64_t size,
    btcore_merkle_subtree_fn subtree, void *ctx);

/**
 * Check that the tree of @c proof->first leaves with root @p first_root
 * is a prefix of the tree of @c proof->size leaves with root
 * @p second_root (RFC 9162 section 2.1.4.2).  With first == size the
 * proof must be empty and the roots equal; with first == 0 it must be
 * empty and @p first_root must be SHA-256("").
 * @return BT_OK; BT_EVERIFY when it does not (including a proof whose
 *	   count or numbers do not fit together); BT_EINVAL for NULL or a
 *	   proof of the wrong kind; BT_ECRYPTO.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btcore_merkle_consistency_verify(
    const struct bt_merkle_proof *proof, const struct bt_id *first_root,
    const struct bt_id *second_root);

/**
 * Binary encoding of a proof (all integers big-endian):
 *
 *	u8 kind ('I' inclusion, 'C' consistency) | u64 first | u64 size |
 *	u8 count | count * 32 bytes
 *
 * 18 + 32 * count bytes, at most BTCORE_MERKLE_PROOF_ENC_MAX.
 *
 * btcore_merkle_proof_encode writes into @p buf of @p cap bytes and sets
 * @p *out_len (also when BT_ERANGE says @p cap is too small).  Errors:
 * BT_EINVAL (NULL, or a proof whose count does not match its numbers),
 * BT_ERANGE.
 *
 * btcore_merkle_proof_decode reads exactly @p len bytes.  Errors:
 * BT_EINVAL (NULL), BT_ETRUNC (input too short), BT_EFORMAT (unknown kind,
 * first/size naming no proof, count not the one the numbers require,
 * trailing bytes).  @p out is zeroed on failure.  Decoding does not verify
 * the hashes: that needs a root.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btcore_merkle_proof_encode(
    const struct bt_merkle_proof *proof, uint8_t *buf, size_t cap,
    size_t *out_len);
BT_EXPORT BT_WUR int btcore_merkle_proof_decode(struct bt_merkle_proof *out,
    const uint8_t *buf, size_t len);

#ifdef __cplusplus
}
#endif
#endif /* BT_MERKLE_H */
