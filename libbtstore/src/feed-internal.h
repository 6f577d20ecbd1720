/*
 * feed-internal.h - stored layouts of feeds (feedcodec.c); shared inside
 * libbtstore only, never installed.
 *
 * Every decoder checks the whole record and returns BT_ECORRUPT for
 * anything malformed; decoded pointers point into the input.  Signatures
 * are not checked by these decoders: the callers check what they serve.
 */
#ifndef BTSTORE_FEED_INTERNAL_H
#define BTSTORE_FEED_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <bt/log.h>

#define BTSTORE_FEED_OWNED_	0x1u	/* written here: the whole tree held */
#define BTSTORE_FEED_FORKED_	0x2u	/* fork evidence stored */
#define BTSTORE_FEED_FLAGS_	0x3u

/* A head in libbtcore's encoding (BTCORE_LOG_HEAD_ENC_LEN bytes), parsed
 * without checking its signature: tag, length at most the tree maximum. */
int btstore_feed_head_parse_(const void *buf, size_t len,
    struct bt_log_head *h);

/* Feed record: u8 version, u8 flags, be64 entries held, head (137). */
#define BTSTORE_FEEDREC_LEN_	(1 + 1 + 8 + BTCORE_LOG_HEAD_ENC_LEN)
struct btstore_feedrec_ {
	unsigned flags;
	uint64_t held;
	struct bt_log_head head;
};
int btstore_feedrec_encode_(uint8_t out[BTSTORE_FEEDREC_LEN_],
    const struct btstore_feedrec_ *r);
int btstore_feedrec_decode_(const void *buf, size_t len,
    struct btstore_feedrec_ *r);

/*
 * Entry record: u8 version (2), u8 flags, payload hash (32), be64 head
 * length, u8 count, count * 32 hashes, with FEEDENT_HEAD_ a head's root
 * (32) and signature (64), be32 payload length, payload.
 *
 * An entry of a followed feed (flags 0) keeps the head length and the
 * inclusion proof (count hashes) it was verified with.
 *
 * An entry of a feed written here (FEEDENT_TREE_) keeps the length of
 * the head it was appended under, and the hashes of the perfect subtrees
 * its leaf completes, of heights 1 to count: count is the number of
 * trailing one bits of its index, and the subtree of height h starting at
 * s is found in entry s + 2^h - 1.  The last entry of an append also
 * keeps the head signed for it (FEEDENT_HEAD_: its length is the entry's
 * index + 1, so count is the number of trailing zero bits of it).  So an
 * append writes one record per entry and nothing else but the feed
 * record, and a feed's newest records share their pages.
 */
#define BTSTORE_FEEDENT_VERSION_	2
#define BTSTORE_FEEDENT_TREE_		0x1u	/* hashes are subtrees */
#define BTSTORE_FEEDENT_HEAD_		0x2u	/* a signed head follows */
#define BTSTORE_FEEDENT_FLAGS_		0x3u
#define BTSTORE_FEEDENT_HDR_		(1 + 1 + 32 + 8 + 1 + 4)
#define BTSTORE_FEEDENT_HEADLEN_	(32 + 64)
#define BTSTORE_FEEDENT_COUNT_MAX_	(BTCORE_MERKLE_PROOF_MAX - 1)
struct btstore_feedent_ {
	unsigned flags;
	struct bt_id payload_hash;
	uint64_t head_len;
	uint8_t count;
	const uint8_t *hashes;	/* count * 32 bytes; NULL when count is 0 */
	struct bt_id root;	/* with FEEDENT_HEAD_ */
	struct bt_sig sig;	/* with FEEDENT_HEAD_ */
	const uint8_t *payload;
	size_t len;
};
size_t btstore_feedent_size_(unsigned flags, unsigned count, size_t len);
void btstore_feedent_encode_(uint8_t *out, const struct btstore_feedent_ *e);
int btstore_feedent_decode_(const void *buf, size_t len,
    struct btstore_feedent_ *e);

/* The number of trailing one bits of @p v. */
static inline unsigned
btstore_feed_ones_(uint64_t v)
{
	unsigned n = 0;

	while (v & 1) {
		n++;
		v >>= 1;
	}
	return n;
}

#endif /* BTSTORE_FEED_INTERNAL_H */
