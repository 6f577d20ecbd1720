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
 * Entry record: u8 version, payload hash (32), be64 head length, u8
 * count, count * 32 proof hashes, be32 payload length, payload.  For a
 * feed written here the head length is the one the entry was appended
 * under and count is 0 (proofs are built from the stored tree); for a
 * followed feed they are the head and proof the entry was verified with.
 */
#define BTSTORE_FEEDENT_HDR_	(1 + 32 + 8 + 1 + 4)
#define BTSTORE_FEEDENT_COUNT_MAX_	(BTCORE_MERKLE_PROOF_MAX - 1)
struct btstore_feedent_ {
	struct bt_id payload_hash;
	uint64_t head_len;
	uint8_t count;
	const uint8_t *proof;	/* count * 32 bytes */
	const uint8_t *payload;
	size_t len;
};
size_t btstore_feedent_size_(unsigned count, size_t len);
void btstore_feedent_encode_(uint8_t *out, const struct btstore_feedent_ *e);
int btstore_feedent_decode_(const void *buf, size_t len,
    struct btstore_feedent_ *e);

#endif /* BTSTORE_FEED_INTERNAL_H */
