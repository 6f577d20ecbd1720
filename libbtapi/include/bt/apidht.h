/*
 * bt/apidht.h - libbtstore as the storage of libbtnet's DHT engine
 * (struct btnet_dht_storage of bt/dhtstore.h), for a node that embeds
 * both.
 *
 * Values are content-addressed blocks: they go into the store's block
 * database, so a value and a block of a file are one thing, and every
 * block the node holds answers "ref".  Bags go into the store's bags,
 * records into its record store.  A table in memory remembers, for each
 * item held for the network, when it was last refreshed and republished,
 * within a byte and an item budget.  Expired values stay in the block
 * database unpinned and unreferenced, where btstore_gc() may collect
 * them; a value that is also a block of one of the node's own files is
 * never lost by expiring.
 *
 * A storage is used by one engine from one thread, like the store's
 * other handles on that thread.
 */
#ifndef BT_APIDHT_H
#define BT_APIDHT_H

#include <stddef.h>
#include <stdint.h>

#include <bt/common.h>

#ifdef __cplusplus
extern "C" {
#endif

struct btstore;
struct btnet_dht_storage;

/** A DHT storage over a store.  Opaque. */
struct btapi_dhtstore;

/** Defaults of btapi_dhtstore_new() for a zero budget. */
#define BTAPI_DHTSTORE_BYTES_DEFAULT	(256u << 20)
#define BTAPI_DHTSTORE_ITEMS_DEFAULT	65536u

/**
 * Create a DHT storage over @p st.
 *
 * @param out	out: caller owns; release with btapi_dhtstore_free() after
 *		the network using it is closed.  NULL on failure.
 * @param st	borrowed: must outlive the storage.
 * @param max_bytes	bytes of values and records held for the network
 *		(0: BTAPI_DHTSTORE_BYTES_DEFAULT).
 * @param max_items	values, records and bags held for the network
 *		(0: BTAPI_DHTSTORE_ITEMS_DEFAULT).
 * @return BT_OK; BT_EINVAL (NULL @p out or @p st); BT_ENOMEM.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btapi_dhtstore_new(struct btapi_dhtstore **out,
    struct btstore *st, uint64_t max_bytes, uint32_t max_items);

/**
 * Fill @p iface with the functions of @p ds (ctx = @p ds), to pass to
 * btnet_open() or btnet_dht_new().  Both must be non-NULL.  The
 * functions return, beyond the codes of bt/dhtstore.h: BT_ENOSPC (a
 * budget is spent), BT_ETOOBIG (a value above BTSTORE_BLOCK_MAX),
 * BT_EINVAL (a record not under its target) and the store's errors.
 * @since 0.1
 */
BT_EXPORT void btapi_dhtstore_storage(struct btapi_dhtstore *ds,
    struct btnet_dht_storage *iface);

/**
 * Items held for the network now and their bytes.  Either output may
 * be NULL.
 * @since 0.1
 */
BT_EXPORT void btapi_dhtstore_count(const struct btapi_dhtstore *ds,
    size_t *items, uint64_t *bytes);

/** Release @p ds (the store keeps what was put).  NULL is a no-op.
 *  @since 0.1 */
BT_EXPORT void btapi_dhtstore_free(struct btapi_dhtstore *ds);

#ifdef __cplusplus
}
#endif
#endif /* BT_APIDHT_H */
