/*
 * bt/id.h - 32-byte identifiers, SHA-256 and XOR distance.
 *
 * A node id is the SHA-256 of the node's Ed25519 public key; a content key
 * is the SHA-256 of the content.  Distance between ids is their XOR.
 */
#ifndef BT_ID_H
#define BT_ID_H

#include <bt/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/** A 32-byte id.  A small value type: copy it freely. */
struct bt_id {
	uint8_t b[BT_ID_LEN];
};

/** Characters of an id in hex, without the terminating NUL. */
#define BT_ID_HEX_LEN	(2 * BT_ID_LEN)

/**
 * Parse 64 hex digits (either case) into @p out.
 *
 * @param out	out: the id; zeroed on failure.
 * @param hex	in, borrowed: the digits; exactly 64 of them, then NUL.
 * @return	BT_OK, or BT_EINVAL for a NULL argument, BT_EFORMAT for a
 *		wrong length or a non-hex character.
 */
BT_EXPORT BT_WUR int btcore_id_from_hex(struct bt_id *out, const char *hex);

/**
 * Write @p id as 64 lower-case hex digits and a NUL into @p buf, which
 * must hold BT_ID_HEX_LEN + 1 bytes.  Returns @p buf.
 */
BT_EXPORT char *btcore_id_to_hex(const struct bt_id *id,
    char buf[BT_ID_HEX_LEN + 1]);

/**
 * The SHA-256 of @p len bytes at @p data (data may be NULL when len is 0).
 * @return BT_OK, BT_EINVAL, or BT_ECRYPTO if the crypto library fails.
 */
BT_EXPORT BT_WUR int btcore_id_hash(struct bt_id *out, const void *data,
    size_t len);

/** Compare two ids as big-endian numbers: <0, 0 or >0. */
BT_EXPORT int btcore_id_cmp(const struct bt_id *a, const struct bt_id *b);

/** Store a XOR b in @p out. */
BT_EXPORT void btcore_id_xor(struct bt_id *out, const struct bt_id *a,
    const struct bt_id *b);

/**
 * Which of @p a and @p b is nearer to @p target by XOR distance:
 * <0 when a is nearer, >0 when b is, 0 when a == b.
 */
BT_EXPORT int btcore_id_distance_cmp(const struct bt_id *target,
    const struct bt_id *a, const struct bt_id *b);

/**
 * The index (0..255) of the first bit, counted from the most significant
 * bit of byte 0, in which @p a and @p b differ; -1 when they are equal.
 * A node at logdist i from us goes in k-bucket 255 - i.
 */
BT_EXPORT int btcore_id_logdist(const struct bt_id *a, const struct bt_id *b);

/**
 * A random id from the operating system's CSPRNG.
 * @return BT_OK or BT_ECRYPTO.
 */
BT_EXPORT BT_WUR int btcore_id_random(struct bt_id *out);

/** 1 when all 32 bytes are zero, else 0. */
BT_EXPORT int btcore_id_is_zero(const struct bt_id *id);

#ifdef __cplusplus
}
#endif
#endif /* BT_ID_H */
