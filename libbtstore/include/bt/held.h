/*
 * bt/held.h - fragments this node holds for other nodes: keyed by (owner
 * node id, block id, fragment index), each with an expiry and the id of
 * the contract that pays for it (32 opaque bytes).
 *
 * The fragment's SHA-256 is stored beside it and checked on every read.
 * Times are the caller's clock in any unit.
 */
#ifndef BT_HELD_H
#define BT_HELD_H

#include <bt/common.h>
#include <bt/fragment.h>
#include <bt/id.h>
#include <bt/store.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Largest held fragment in bytes: a whole encoded fragment of the
 * largest block (k = 1), header and hash included.
 */
#define BTSTORE_FRAG_MAX \
	(BTCORE_FRAGMENT_BLOCK_MAX + BTCORE_FRAGMENT_OVERHEAD)

/**
 * Store (or replace) fragment @p index of @p block for @p owner.
 * Notifies BTSTORE_TOPIC_FRAG on @p owner.
 * @return BT_OK, BT_EINVAL, BT_ETOOBIG, BT_ECRYPTO, or a write error as
 *	btstore_block_put().
 * @since 0.1
 */
BT_EXPORT BT_WUR int btstore_frag_put(struct btstore *st,
    const struct bt_id *owner, const struct bt_id *block, uint16_t index,
    const void *data, size_t len, uint64_t expires,
    const struct bt_id *contract);

/**
 * Copy a fragment out, verified.
 * @param len		out: its size (also set with BT_ERANGE).
 * @param expires	out, may be NULL.
 * @param contract	out, may be NULL.
 * @return BT_OK, BT_EINVAL, BT_ENOTFOUND, BT_ERANGE, BT_ECORRUPT, or a
 *	read error.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btstore_frag_get(struct btstore *st,
    const struct bt_id *owner, const struct bt_id *block, uint16_t index,
    void *buf, size_t cap, size_t *len, uint64_t *expires,
    struct bt_id *contract);

/**
 * Callback for btstore_frag_list(); arguments are borrowed, valid during
 * the call.  Return 0 to continue, nonzero to stop.  No store writes.
 */
typedef int (*btstore_frag_fn)(void *arg, const struct bt_id *block,
    uint16_t index, size_t len, uint64_t expires,
    const struct bt_id *contract);

/**
 * Visit every fragment held for @p owner, by block id then index.
 * @return BT_OK, BT_EINVAL, BT_ECORRUPT, or a read error.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btstore_frag_list(struct btstore *st,
    const struct bt_id *owner, btstore_frag_fn fn, void *arg);

/**
 * Delete one fragment.
 * @return BT_OK, BT_EINVAL, BT_ENOTFOUND, or a write error.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btstore_frag_del(struct btstore *st,
    const struct bt_id *owner, const struct bt_id *block, uint16_t index);

/**
 * Delete up to @p limit fragments whose expiry is <= @p now, in one
 * transaction.
 * @param removed	out, may be NULL.
 * @return BT_OK, BT_EINVAL, or a write error.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btstore_frag_expire(struct btstore *st, uint64_t now,
    size_t limit, size_t *removed);

#ifdef __cplusplus
}
#endif
#endif /* BT_HELD_H */
