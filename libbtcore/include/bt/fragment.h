/*
 * bt/fragment.h - erasure-coded fragments of a block.
 *
 * A block is split into k data fragments and m parity fragments with a
 * systematic Cauchy Reed-Solomon code over GF(2^8) (ISA-L underneath);
 * any k distinct fragments of the k + m rebuild the block.  Every
 * fragment carries a self-describing header, so a node can store and
 * serve fragments without knowing anything else about the block.
 *
 * Encoding of one fragment (all integers big-endian), 76 + P bytes:
 *
 *	offset	size	field
 *	0	4	magic "BTFG"
 *	4	1	format version, 1
 *	5	1	k, number of data fragments (1 .. BTCORE_FRAGMENT_MAX)
 *	6	1	m, number of parity fragments (k + m <= BTCORE_FRAGMENT_MAX)
 *	7	1	index of this fragment, 0 .. k + m - 1 (data first)
 *	8	4	block length L (0 .. BTCORE_FRAGMENT_BLOCK_MAX)
 *	12	32	block id: SHA-256 of the L bytes of the block
 *	44	P	payload, P = ceil(L / k) bytes
 *	44 + P	32	fragment hash: SHA-256 of bytes 0 .. 44 + P - 1
 *
 * The fragment hash covers the header as well as the payload, so a
 * damaged field (a flipped index or parity count, say) is caught when the
 * fragment is decoded, not only later when a rebuilt block fails to match
 * its id.  It also names the fragment for storage.
 *
 * Data fragment i holds bytes [i * P, (i + 1) * P) of the block,
 * zero-padded past L; parity fragment k + j is row j of the Cauchy
 * matrix applied to the k data fragments.  The padding of data fragments
 * must be zero.
 *
 * The defaults k = 4, m = 2 store 1.5 times the block (three full copies
 * would store 3 times) and survive the loss of any 2 of the 6 fragments,
 * while a rebuild fetches only 4 pieces of a quarter block each.
 *
 * Every function here is a pure function over its arguments and keeps no
 * shared state: all are thread safe.
 */
#ifndef BT_FRAGMENT_H
#define BT_FRAGMENT_H

#include <bt/block.h>
#include <bt/common.h>
#include <bt/id.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The largest block that can be fragmented: any block. */
#define BTCORE_FRAGMENT_BLOCK_MAX	BTCORE_BLOCK_MAX

/*
 * The largest k + m.  32 keeps every fragment set describable by a 32-bit
 * mask and the decode matrix small (a k x k inversion per rebuild); a
 * larger k gives tiny fragments whose per-fragment overhead dominates.
 */
#define BTCORE_FRAGMENT_MAX		32

#define BTCORE_FRAGMENT_K_DEFAULT	4
#define BTCORE_FRAGMENT_M_DEFAULT	2

/* Bytes of a fragment before its payload, and in all besides it. */
#define BTCORE_FRAGMENT_HEADER_LEN	44
#define BTCORE_FRAGMENT_OVERHEAD	76

/* The format version written and accepted. */
#define BTCORE_FRAGMENT_VERSION		1

/* The most fragments btcore_fragment_rebuild() accepts in one call. */
#define BTCORE_FRAGMENT_REBUILD_MAX	256

/** A decoded fragment.  Value type. */
struct btcore_fragment_hdr {
	unsigned int	k;		/* data fragments */
	unsigned int	m;		/* parity fragments */
	unsigned int	index;		/* this fragment, 0 .. k + m - 1 */
	size_t		block_len;	/* length of the whole block */
	struct bt_id	block_id;	/* SHA-256 of the whole block */
	struct bt_id	hash;		/* the fragment hash (see above) */
	const uint8_t	*payload;	/* borrowed: points into the bytes
					   decoded; valid while they are */
	size_t		payload_len;	/* ceil(block_len / k) */
};

/**
 * The length of every fragment of a block of @p block_len bytes split
 * into @p k data fragments: 76 + ceil(block_len / k).  0 when @p k is 0.
 * @since 0.1
 */
BT_EXPORT size_t btcore_fragment_len(size_t block_len, unsigned int k);

/**
 * Split a block into @p k data and @p m parity fragments.
 *
 * @param block	in, borrowed: @p len bytes; may be NULL when @p len is 0.
 * @param len	0 .. BTCORE_FRAGMENT_BLOCK_MAX.
 * @param k	1 .. BTCORE_FRAGMENT_MAX data fragments.
 * @param m	parity fragments, k + m <= BTCORE_FRAGMENT_MAX.
 * @param frags	out: an array of k + m pointers, fragment i at index i,
 *		each btcore_fragment_len(len, k) bytes long.  The array and
 *		the fragments are one allocation: the caller owns it and
 *		releases it with btcore_fragment_free(*frags).  NULL on
 *		failure.
 * @param frag_len out: the length of each fragment; 0 on failure.
 * @return BT_OK; BT_EINVAL for a NULL argument; BT_ERANGE for k, m or
 *	   @p len out of range; BT_ENOMEM; BT_ECRYPTO when hashing fails.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btcore_fragment_encode(const void *block, size_t len,
    unsigned int k, unsigned int m, uint8_t ***frags, size_t *frag_len);

/**
 * Release the fragments returned by btcore_fragment_encode(); NULL is a
 * no-op.
 * @since 0.1
 */
BT_EXPORT void btcore_fragment_free(uint8_t **frags);

/**
 * Decode and validate one fragment: magic, version, k, m, index, block
 * length, the exact total length, zero padding of data fragments and the
 * fragment hash.  Nothing is allocated.
 *
 * @param hdr	out: the fields; hdr->payload points into @p data.  Zeroed
 *		on failure.
 * @param data	in, borrowed: @p len bytes.
 * @return BT_OK; BT_EINVAL for a NULL argument; BT_ETRUNC when @p len is
 *	   shorter than a header or than the header says; BT_EFORMAT for a
 *	   bad magic, out-of-range field, trailing bytes or nonzero
 *	   padding; BT_EUNSUPPORTED for another format version; BT_EVERIFY
 *	   when the fragment does not hash to its recorded hash;
 *	   BT_ECRYPTO when hashing fails.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btcore_fragment_decode(struct btcore_fragment_hdr *hdr,
    const void *data, size_t len);

/**
 * Rebuild a block from a set of fragments.
 *
 * Each input is decoded with btcore_fragment_decode(); inputs that fail
 * are refused.  The valid inputs are grouped by (k, m, block id, block
 * length), and the first group, in input order, that holds at least k
 * distinct indexes is rebuilt; inputs of other groups are refused as
 * well.  Duplicate indexes are allowed: the first copy is used and the
 * others are neither used nor refused.  Data fragments are preferred, so
 * with all k of them present no decoding is needed.  The result is
 * checked against the block id.
 *
 * @param frags	in, borrowed: @p n fragment encodings (an entry may be
 *		NULL only when its length is 0; it is then refused).
 * @param lens	in, borrowed: their lengths.
 * @param n	number of inputs, at most BTCORE_FRAGMENT_REBUILD_MAX.
 * @param block	out: the block; the caller owns it and releases it with
 *		btcore_fragment_block_free().  Never NULL on success, also
 *		for an empty block.  NULL on failure.
 * @param block_len out: its length; 0 on failure.
 * @param bad	out, optional (may be NULL): receives the positions in
 *		@p frags of the refused inputs, in increasing order; must
 *		hold @p n entries.
 * @param nbad	out, optional: the number of refused inputs.  Set to 0 at
 *		once and filled in once the inputs have been examined (on
 *		success, BT_ENOTFOUND and BT_ECORRUPT).  When no group
 *		qualifies, only the inputs that failed to decode are
 *		reported.
 * @return BT_OK; BT_EINVAL for a NULL argument; BT_ERANGE when @p n
 *	   exceeds BTCORE_FRAGMENT_REBUILD_MAX; BT_ENOTFOUND when no group
 *	   of valid, agreeing fragments has k distinct indexes (including
 *	   @p n == 0); BT_ECORRUPT when the rebuilt block does not hash to
 *	   its id (fragments that were each well-formed but inconsistent);
 *	   BT_ENOMEM; BT_ECRYPTO.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btcore_fragment_rebuild(const uint8_t *const *frags,
    const size_t *lens, size_t n, uint8_t **block, size_t *block_len,
    size_t *bad, size_t *nbad);

/**
 * Release a block returned by btcore_fragment_rebuild(); NULL is a no-op.
 * @since 0.1
 */
BT_EXPORT void btcore_fragment_block_free(uint8_t *block);

#ifdef __cplusplus
}
#endif
#endif /* BT_FRAGMENT_H */
