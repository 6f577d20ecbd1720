/*
 * bt/bag.h - bags: for a 32-byte key, a set of values each counted by the
 * distinct nodes that added it (the DHT's bag-add, popular, recent and
 * sample operations), held in a store.
 *
 * Limits: a value is 1..BTSTORE_BAG_VALUE_MAX bytes; a bag holds at most
 * BTSTORE_BAG_VALUES_MAX distinct values (adding one more evicts the value
 * with the fewest adders, the oldest last addition among equals); a value
 * counts at most BTSTORE_BAG_ADDERS_MAX distinct adders (further new
 * adders refresh its time but no longer raise its count); a query returns
 * at most BTSTORE_BAG_QUERY_MAX values.  Timestamps are the caller's clock
 * in any unit; the store only compares them.
 */
#ifndef BT_BAG_H
#define BT_BAG_H

#include <bt/common.h>
#include <bt/id.h>
#include <bt/store.h>

#ifdef __cplusplus
extern "C" {
#endif

#define BTSTORE_BAG_VALUE_MAX	1024
#define BTSTORE_BAG_VALUES_MAX	4096
#define BTSTORE_BAG_ADDERS_MAX	4096
#define BTSTORE_BAG_QUERY_MAX	256

/**
 * Query callback, once per value: @p value (borrowed, valid during the
 * call) with its count of distinct adders and its latest addition time.
 * Return 0 to continue, nonzero to stop early.  It must not write to the
 * store (it runs inside a read view).
 */
typedef int (*btstore_bag_fn)(void *arg, const void *value, size_t len,
    uint32_t count, uint64_t last);

/**
 * Add @p value to bag @p key on behalf of node @p adder at time @p ts.
 * A first addition by this adder raises the value's count; a repeated one
 * only moves its time forward.  Notifies BTSTORE_TOPIC_BAG on @p key.
 *
 * @param count	out, may be NULL: the value's count after the addition.
 * @return BT_OK, BT_EINVAL, BT_ERANGE (value length), or a write error as
 *	btstore_block_put().
 * @since 0.1
 */
BT_EXPORT BT_WUR int btstore_bag_add(struct btstore *st,
    const struct bt_id *key, const void *value, size_t len,
    const struct bt_id *adder, uint64_t ts, uint32_t *count);

/**
 * The @p limit (1..BTSTORE_BAG_QUERY_MAX) values with the most adders,
 * most first (ties: most recent first).
 * @return BT_OK (also for an empty bag), BT_EINVAL, BT_ERANGE,
 *	BT_ECORRUPT, or a read error.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btstore_bag_popular(struct btstore *st,
    const struct bt_id *key, size_t limit, btstore_bag_fn fn, void *arg);

/**
 * The @p limit most recently added values, newest first.  As above.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btstore_bag_recent(struct btstore *st,
    const struct bt_id *key, size_t limit, btstore_bag_fn fn, void *arg);

/**
 * Up to @p limit distinct values drawn uniformly at random (every subset
 * of that size equally likely), in no particular order.  As above, and
 * BT_ECRYPTO when the random source fails.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btstore_bag_sample(struct btstore *st,
    const struct bt_id *key, size_t limit, btstore_bag_fn fn, void *arg);

/**
 * Distinct values in bag @p key (0 for an unknown bag).
 * @return BT_OK, BT_EINVAL, BT_ECORRUPT, or a read error.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btstore_bag_size(struct btstore *st,
    const struct bt_id *key, uint32_t *nvalues);

#ifdef __cplusplus
}
#endif
#endif /* BT_BAG_H */
