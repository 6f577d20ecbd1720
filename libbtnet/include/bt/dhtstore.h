/*
 * bt/dhtstore.h - what the DHT engine (bt/dht.h) stores for other nodes,
 * reached through a table of functions, and an in-memory implementation.
 *
 * The engine stores three kinds of items, each under a 32-byte id:
 *
 *	values   content-addressed bytes: the id is SHA-256(value)
 *	bags     sets of 32-byte values under a key, each with an add count
 *		 and the time of its last add (popular / recent / sample)
 *	records  signed mutable records in the encoding of bt/record.h; the
 *		 id is the record's target SHA-256(public key || key)
 *
 * Every item remembers when it was last stored ("refreshed"); the engine
 * expires items not refreshed for its expiry period and republishes the
 * values and records it holds once per republish period.  The engine
 * checks hashes, signatures and sequence rules before it calls put; a
 * storage only keeps what it is given, within its own quotas.
 *
 * A storage is used by one engine from one thread.
 */
#ifndef BT_DHTSTORE_H
#define BT_DHTSTORE_H

#include <bt/common.h>
#include <bt/id.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Kinds of bag query. */
enum btnet_dht_bag {
	BTNET_DHT_BAG_POPULAR = 1,	/* most adds first, then most recent */
	BTNET_DHT_BAG_RECENT,		/* most recently added first */
	BTNET_DHT_BAG_SAMPLE		/* a uniform random sample */
};

/** Kinds of item, as passed to the republish iterator. */
enum btnet_dht_item {
	BTNET_DHT_ITEM_VALUE = 1,
	BTNET_DHT_ITEM_RECORD
};

/**
 * The storage interface.  @c ctx is passed back to every function.  Every
 * function returns BT_OK or a negative code; pointers handed back by a get
 * are borrowed and valid until the next call into the storage.
 *
 * value_put: keep @p len bytes under @p key (SHA-256 of the bytes,
 *	checked by the caller), accounted to @p origin (the node that sent
 *	them); storing the same key again refreshes it.  BT_ENOSPC when a
 *	quota is reached.
 * value_get: the bytes under @p key, or BT_ENOTFOUND.
 * bag_add: add @p value to the bag @p key on behalf of @p origin: its
 *	count is the number of distinct adders (an adder counts once) and
 *	its last-add time becomes @p now_ms.  BT_ENOSPC when a quota is reached.
 * bag_query: up to @p limit values of bag @p key in the order of @p kind
 *	into @p out (room for @p limit items), their number in @p *count;
 *	@p seed makes a sample reproducible.  An unknown bag gives 0 items.
 * record_put: keep the record encoding @p enc under @p target, replacing
 *	what is there (the caller has applied btcore_record_compare()).
 * record_get: the record encoding under @p target, or BT_ENOTFOUND.
 * republish: call @p fn for every value and record last republished
 *	before @p before_ms and mark it republished at @p now_ms; when
 *	@p fn returns nonzero, leave that item unmarked and stop.  @p fn
 *	must not call into the storage.
 * expire: drop every item (values, bag entries, records) last refreshed
 *	before @p before_ms.
 */
struct btnet_dht_storage {
	void *ctx;
	int (*value_put)(void *ctx, const struct bt_id *key,
	    const uint8_t *value, size_t len, const struct bt_id *origin,
	    uint64_t now_ms);
	int (*value_get)(void *ctx, const struct bt_id *key,
	    const uint8_t **value, size_t *len);
	int (*bag_add)(void *ctx, const struct bt_id *key,
	    const uint8_t value[32], const struct bt_id *origin,
	    uint64_t now_ms);
	int (*bag_query)(void *ctx, enum btnet_dht_bag kind,
	    const struct bt_id *key, size_t limit, uint64_t seed,
	    uint8_t (*out)[32], size_t *count);
	int (*record_put)(void *ctx, const struct bt_id *target,
	    const uint8_t *enc, size_t len, const struct bt_id *origin,
	    uint64_t now_ms);
	int (*record_get)(void *ctx, const struct bt_id *target,
	    const uint8_t **enc, size_t *len);
	int (*republish)(void *ctx, uint64_t before_ms, uint64_t now_ms,
	    int (*fn)(void *arg, enum btnet_dht_item kind,
	    const struct bt_id *id, const uint8_t *bytes, size_t len),
	    void *arg);
	void (*expire)(void *ctx, uint64_t before_ms);
};

/** Limits of an in-memory storage.  Zero fields take the defaults. */
struct btnet_dht_memstore_limits {
	size_t max_bytes;	/* values and records, total (64 MiB) */
	size_t max_items;	/* values + records + bags (65536) */
	size_t per_origin;	/* values + records + bag adds from one
				   origin node (1024) */
	size_t bag_max;		/* distinct values in one bag (1024) */
	size_t adders_max;	/* distinct adders counted per value (4096) */
};

/** An in-memory storage.  Opaque. */
struct btnet_dht_memstore;

/**
 * Create an in-memory storage.
 *
 * @param out	out: caller owns; release with btnet_dht_memstore_free()
 *		after the engine using it is freed.  NULL on failure.
 * @param limits in, borrowed, may be NULL: the limits (NULL: defaults).
 * @return BT_OK, BT_EINVAL (NULL @p out), BT_ENOMEM.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btnet_dht_memstore_new(struct btnet_dht_memstore **out,
    const struct btnet_dht_memstore_limits *limits);

/**
 * Fill @p st with the functions of @p ms (ctx = @p ms), to pass to
 * btnet_dht_new().  Both must be non-NULL.
 * @since 0.1
 */
BT_EXPORT void btnet_dht_memstore_storage(struct btnet_dht_memstore *ms,
    struct btnet_dht_storage *st);

/**
 * Count what @p ms holds: values, records, bags and the bytes of values
 * and records.  Any output may be NULL.
 * @since 0.1
 */
BT_EXPORT void btnet_dht_memstore_count(const struct btnet_dht_memstore *ms,
    size_t *values, size_t *records, size_t *bags, size_t *bytes);

/** Release @p ms and everything it holds.  NULL is a no-op.  @since 0.1 */
BT_EXPORT void btnet_dht_memstore_free(struct btnet_dht_memstore *ms);

#ifdef __cplusplus
}
#endif
#endif /* BT_DHTSTORE_H */
