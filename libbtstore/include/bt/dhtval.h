/*
 * bt/dhtval.h - content-addressed DHT values held by a node: expiry,
 * republish bookkeeping, a byte quota per origin (the node id that stored
 * the value) and a total cap.
 *
 * A value's key is the SHA-256 of its bytes; the store refuses anything
 * else and re-checks the hash on every read.  Times are the caller's
 * clock in any unit (the store only compares them).
 */
#ifndef BT_DHTVAL_H
#define BT_DHTVAL_H

#include <bt/common.h>
#include <bt/id.h>
#include <bt/store.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Largest DHT value in bytes: one block, as everywhere in the suite. */
#define BTSTORE_DHT_VALUE_MAX	BTSTORE_BLOCK_MAX

/**
 * Store a value for @p origin until @p expires, to be republished at
 * @p republish.  Storing a value already held keeps its first origin,
 * and moves its expiry and republish time to the later of old and new.
 * A value that would take its origin over the per-origin quota is
 * refused; one that would take the store over the total cap first evicts
 * values of the origin holding the most bytes (soonest expiry first),
 * repeatedly, until it fits.  Notifies BTSTORE_TOPIC_DHT on the key of
 * each value stored or evicted.
 *
 * @return BT_OK, BT_EINVAL, BT_ETOOBIG (len > BTSTORE_DHT_VALUE_MAX or
 *	larger than a quota), BT_EVERIFY (bytes do not hash to @p key),
 *	BT_ENOSPC (origin quota), or a write error as btstore_block_put().
 * @since 0.1
 */
BT_EXPORT BT_WUR int btstore_dht_put(struct btstore *st,
    const struct bt_id *key, const void *value, size_t len,
    const struct bt_id *origin, uint64_t expires, uint64_t republish);

/**
 * Copy out a value that has not expired at @p now, verified.
 *
 * @param len		out: the value's size (also set with BT_ERANGE).
 * @param expires	out, may be NULL: its expiry.
 * @param origin	out, may be NULL: the node that stored it.
 * @return BT_OK, BT_EINVAL, BT_ENOTFOUND (absent or expired), BT_ERANGE,
 *	BT_ECORRUPT, or a read error.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btstore_dht_get(struct btstore *st,
    const struct bt_id *key, uint64_t now, void *buf, size_t cap,
    size_t *len, uint64_t *expires, struct bt_id *origin);

/**
 * Callback for btstore_dht_due(): @p value is borrowed, valid during the
 * call.  Return 0 to continue, nonzero to stop.  It must not write to the
 * store.
 */
typedef int (*btstore_dht_fn)(void *arg, const struct bt_id *key,
    const void *value, size_t len, uint64_t expires);

/**
 * Visit up to @p limit unexpired values whose republish time is <= @p now,
 * earliest first.  After republishing one, move its time on with
 * btstore_dht_set_republish().
 * @return BT_OK, BT_EINVAL, BT_ECORRUPT, or a read error.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btstore_dht_due(struct btstore *st, uint64_t now,
    size_t limit, btstore_dht_fn fn, void *arg);

/**
 * Set a value's next republish time.
 * @return BT_OK, BT_EINVAL, BT_ENOTFOUND, or a write error.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btstore_dht_set_republish(struct btstore *st,
    const struct bt_id *key, uint64_t republish);

/**
 * Delete up to @p limit values whose expiry is <= @p now, in one
 * transaction.
 * @param removed	out, may be NULL: values deleted.
 * @return BT_OK, BT_EINVAL, or a write error.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btstore_dht_expire(struct btstore *st, uint64_t now,
    size_t limit, size_t *removed);

/**
 * Values and bytes held, for one origin or (@p origin NULL) in total.
 * @return BT_OK, BT_EINVAL, BT_ECORRUPT, or a read error.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btstore_dht_usage(struct btstore *st,
    const struct bt_id *origin, uint64_t *count, uint64_t *bytes);

#ifdef __cplusplus
}
#endif
#endif /* BT_DHTVAL_H */
