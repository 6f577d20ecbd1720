/*
 * btnode/storage.h - libbtstore as the DHT engine's storage
 * (struct btnet_dht_storage of bt/dhtstore.h).
 *
 * Values are content-addressed blocks: they go into the store's block
 * database (so a value and a block of a file are one thing, and every
 * block the node holds answers "ref").  Bags go into the store's bags,
 * records into its record store.  A table in memory remembers, for each
 * item held for the network, when it was last refreshed and republished,
 * within a byte and an item budget.  Expired values stay in the block
 * database unpinned and unreferenced, where btstore_gc() may collect them.
 */
#ifndef BTNODE_STORAGE_H
#define BTNODE_STORAGE_H

#include <stddef.h>
#include <stdint.h>

#include <bt/dhtstore.h>

struct btstore;
struct btnode_storage;

/**
 * Create the adapter over @p st (borrowed) and fill @p iface for
 * btnet_open().  Returns BT_OK or BT_ENOMEM.
 */
int btnode_storage_new(struct btnode_storage **out, struct btstore *st,
    uint64_t max_bytes, uint32_t max_items, struct btnet_dht_storage *iface);

/** Items held for the network and their bytes. */
void btnode_storage_count(const struct btnode_storage *s, size_t *items,
    uint64_t *bytes);

void btnode_storage_free(struct btnode_storage *s);

#endif /* BTNODE_STORAGE_H */
