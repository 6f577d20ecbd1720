/*
 * bt/log.h - signed append-only logs (feeds).
 *
 * A feed is identified by an Ed25519 public key; only its private key can
 * extend it.  The entries of a feed are the leaves of a Merkle tree
 * (bt/merkle.h): the leaf data of entry i is the SHA-256 of its payload
 * (its payload hash), so an entry verifies without its payload and the
 * payload verifies against the entry.
 *
 * Signed head.  The writer signs the tree, not each entry:
 *
 *	head = (feed key, length, root of the first length entries, sig)
 *	sig  = Ed25519 over "blocktree-log-head-v1" 0x00 || feed key (32) ||
 *	       u64 length || root (32)
 *
 * A head of length 0 has the empty root SHA-256("").  The newest head is
 * what the feed announces as a mutable record in the DHT.
 *
 * Entry.  An entry carries the signed head it was appended under and the
 * inclusion proof of its leaf in that head's tree:
 *
 *	entry = (signed head, index, payload hash, inclusion proof)
 *
 * so a batch of appends costs one signature: every entry of the batch
 * refers to the one head signed for the batch's end, each with its own
 * proof (O(log n) hashes).  Entries can be fetched from any node and
 * checked in any order; a reader that holds a newer head checks with a
 * consistency proof that it extends the entry's head.
 *
 * Forks.  Two validly signed heads of one feed with the same length and
 * different roots prove the writer signed two histories; the pair is the
 * evidence (struct bt_log_fork), which anyone can check again.
 *
 * Encodings (integers big-endian):
 *
 *	head  : u8 'H' | feed key (32) | u64 length | root (32) | sig (64)
 *		(BTCORE_LOG_HEAD_ENC_LEN = 137 bytes)
 *	entry : u8 'E' | head (137) | u64 index | payload hash (32) |
 *		u8 count | count * 32 proof hashes
 *		(179 + 32 * count bytes; count is the one index and length
 *		require, at most 63)
 *	fork  : u8 'F' | head (137) | head (137)
 *
 * Decoders take exactly the encoded bytes, validate every field and check
 * every signature and proof: what they return is verified.
 */
#ifndef BT_LOG_H
#define BT_LOG_H

#include <bt/common.h>
#include <bt/id.h>
#include <bt/key.h>
#include <bt/merkle.h>

#ifdef __cplusplus
extern "C" {
#endif

#define BTCORE_LOG_HEAD_ENC_LEN		137
#define BTCORE_LOG_ENTRY_ENC_MAX \
	(1 + BTCORE_LOG_HEAD_ENC_LEN + 8 + 32 + 1 + 32 * BTCORE_MERKLE_PROOF_MAX)
#define BTCORE_LOG_FORK_ENC_LEN		(1 + 2 * BTCORE_LOG_HEAD_ENC_LEN)

/** A signed head: the feed's tree of @c length entries.  Value type. */
struct bt_log_head {
	struct bt_pubkey feed;
	uint64_t length;
	struct bt_id root;
	struct bt_sig sig;
};

/**
 * An entry: payload hash @c payload_hash at @c index, proven by
 * @c proof (inclusion of leaf @c index in a tree of @c head.length) to be
 * in the tree @c head signs.  Value type of bounded size.
 */
struct bt_log_entry {
	struct bt_log_head head;
	uint64_t index;
	struct bt_id payload_hash;
	struct bt_merkle_proof proof;
};

/** Evidence of a fork: two signed heads, one feed, one length, two roots. */
struct bt_log_fork {
	struct bt_log_head a;
	struct bt_log_head b;
};

/**
 * The Merkle leaf hash of an entry: SHA-256(0x00 || payload hash).  This
 * is what the writer appends to its btcore_merkle accumulator.
 * @return BT_OK, BT_EINVAL, BT_ECRYPTO.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btcore_log_leaf_hash(struct bt_id *out,
    const struct bt_id *payload_hash);

/**
 * Sign the head of the feed @p signer writes at @p length entries with
 * tree root @p root.
 * @param head	out: the signed head; zeroed on failure.
 * @param signer in, borrowed; its public key is the feed id.
 * @return BT_OK; BT_EINVAL (NULL, or length 0 with a root other than
 *	   SHA-256("")); BT_ERANGE (length above BTCORE_MERKLE_SIZE_MAX);
 *	   BT_ECRYPTO; or the signer's error.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btcore_log_head_sign(struct bt_log_head *head,
    const struct btcore_signer *signer, uint64_t length,
    const struct bt_id *root);

/**
 * Check a head's signature and fields.
 * @return BT_OK; BT_EINVAL (NULL); BT_EVERIFY (bad signature, length above
 *	   the maximum, length 0 with a non-empty root); BT_ECRYPTO.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btcore_log_head_verify(const struct bt_log_head *head);

/**
 * Encode a head into @p buf, which holds BTCORE_LOG_HEAD_ENC_LEN bytes.
 * Decode exactly @p len bytes and verify the result.
 * @return encode: BT_OK or BT_EINVAL.  decode: BT_OK; BT_EINVAL (NULL);
 *	   BT_ETRUNC; BT_EFORMAT (tag, trailing bytes); BT_EVERIFY (as
 *	   btcore_log_head_verify()); @p out is zeroed on failure.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btcore_log_head_encode(const struct bt_log_head *head,
    uint8_t buf[BTCORE_LOG_HEAD_ENC_LEN]);
BT_EXPORT BT_WUR int btcore_log_head_decode(struct bt_log_head *out,
    const uint8_t *buf, size_t len);

/**
 * Does @p newer extend @p older?  Both heads are verified.  For equal
 * lengths the roots must be equal and @p proof is ignored (may be NULL);
 * otherwise @p proof must be the consistency proof from older->length to
 * newer->length.
 * @param fork	optional out: filled when BT_ECONFLICT is returned.
 * @return BT_OK when newer extends (or equals) older;
 *	   BT_ECONFLICT when both have one length and different roots (a
 *	   fork; @p fork receives the evidence);
 *	   BT_ESTALE when newer is shorter than older;
 *	   BT_EVERIFY when a head's signature or the proof does not verify
 *	   (a bad proof alone proves no fork);
 *	   BT_EINVAL for NULL, heads of different feeds, or a missing proof
 *	   or one for other sizes; BT_ECRYPTO.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btcore_log_head_extends(const struct bt_log_head *older,
    const struct bt_log_head *newer, const struct bt_merkle_proof *proof,
    struct bt_log_fork *fork);

/**
 * Check two heads of one feed and one length for a fork.
 * @param fork	optional out: the evidence, filled on BT_ECONFLICT.
 * @return BT_OK (same root); BT_ECONFLICT (a fork: both signed, roots
 *	   differ); BT_EVERIFY (a head does not verify); BT_EINVAL (NULL,
 *	   different feeds or lengths); BT_ECRYPTO.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btcore_log_fork_check(const struct bt_log_head *a,
    const struct bt_log_head *b, struct bt_log_fork *fork);

/**
 * Check evidence of a fork received from elsewhere.
 * @return BT_OK when @p fork proves a fork of its feed; BT_EVERIFY when it
 *	   does not (a bad signature, different feeds or lengths, equal
 *	   roots); BT_EINVAL (NULL); BT_ECRYPTO.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btcore_log_fork_verify(const struct bt_log_fork *fork);

/**
 * Encode evidence into @p buf of BTCORE_LOG_FORK_ENC_LEN bytes; decode
 * exactly @p len bytes, which must be valid evidence.
 * @return encode: BT_OK or BT_EINVAL.  decode: BT_OK; BT_EINVAL (NULL);
 *	   BT_ETRUNC; BT_EFORMAT; BT_EVERIFY (not a proven fork); @p out is
 *	   zeroed on failure.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btcore_log_fork_encode(const struct bt_log_fork *fork,
    uint8_t buf[BTCORE_LOG_FORK_ENC_LEN]);
BT_EXPORT BT_WUR int btcore_log_fork_decode(struct bt_log_fork *out,
    const uint8_t *buf, size_t len);

/**
 * Make entry @p index of the tree signed by @p head: copy the head and
 * payload hash and build the inclusion proof from @p subtree (see
 * btcore_merkle_inclusion_prove()).  Neither the head nor the proof is
 * verified here; btcore_log_entry_verify() does that.
 * @param entry	out: zeroed on failure.
 * @return BT_OK; BT_EINVAL (NULL, index >= head->length); BT_ERANGE;
 *	   BT_ECRYPTO; or the callback's error.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btcore_log_entry_make(struct bt_log_entry *entry,
    const struct bt_log_head *head, uint64_t index,
    const struct bt_id *payload_hash, btcore_merkle_subtree_fn subtree,
    void *ctx);

/**
 * Verify an entry: its head's signature and the inclusion of its leaf
 * hash at its index in the head's tree (the proof's numbers must be the
 * entry's index and the head's length).
 * @return BT_OK; BT_EVERIFY; BT_EINVAL (NULL); BT_ECRYPTO.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btcore_log_entry_verify(const struct bt_log_entry *entry);

/**
 * Check that @p len bytes at @p payload are the entry's payload (their
 * SHA-256 is its payload hash).  Does not verify the entry itself.
 * @return BT_OK; BT_EVERIFY; BT_EINVAL (NULL); BT_ECRYPTO.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btcore_log_entry_check_payload(
    const struct bt_log_entry *entry, const void *payload, size_t len);

/**
 * Encode an entry into @p buf of @p cap bytes (at most
 * BTCORE_LOG_ENTRY_ENC_MAX needed); @p *out_len receives the length
 * needed, also when BT_ERANGE says @p cap is too small.  Decode exactly
 * @p len bytes and verify the entry.
 * @return encode: BT_OK; BT_EINVAL (NULL, a proof that is not the
 *	   inclusion proof of index in head->length); BT_ERANGE.
 *	   decode: BT_OK; BT_EINVAL (NULL); BT_ETRUNC; BT_EFORMAT (tags,
 *	   index >= length, count not the one required, trailing bytes);
 *	   BT_EVERIFY (head signature or proof); BT_ECRYPTO.  @p out is
 *	   zeroed on failure.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btcore_log_entry_encode(const struct bt_log_entry *entry,
    uint8_t *buf, size_t cap, size_t *out_len);
BT_EXPORT BT_WUR int btcore_log_entry_decode(struct bt_log_entry *out,
    const uint8_t *buf, size_t len);

#ifdef __cplusplus
}
#endif
#endif /* BT_LOG_H */
