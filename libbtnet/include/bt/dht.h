/*
 * bt/dht.h - the Kademlia DHT engine: routing table, the DHT operations
 * of the wire protocol (bt/msg.h) and iterative lookups.
 *
 * The engine is pure: it owns no socket, no thread and no event loop.
 * The caller hands it every message that arrives (btnet_dht_input()),
 * with the sender's address and its authenticated node id (the Noise
 * layer authenticates peers), and the engine sends through the send
 * function of its environment.  Time comes from the environment's clock:
 * the caller runs btnet_dht_tick() when btnet_dht_next_deadline() is due,
 * from an event timer in a real node or from a discrete-event loop under
 * a fake clock in a simulation.  Randomness comes from the environment
 * too, so that a simulation is reproducible.
 *
 * ROUTING TABLE
 *
 * 256 k-buckets (k = BT_K = 20) by XOR distance from our id, each with a
 * small replacement cache.  A node enters the table only after it
 * answered one of our requests with its authenticated id; nodes named in
 * replies are only candidates for lookups, and node lists we did not ask
 * for are ignored.  A node that sends us a request is pinged, and enters
 * the table when it answers.  When a bucket is full the newcomer waits in
 * the replacement cache while the least-recently-seen contact is pinged;
 * only a contact that fails to answer (twice, or a ping) is replaced: a
 * live old contact is never evicted for a new one.  At most
 * prefix_per_bucket contacts per bucket and prefix_per_table per table
 * share one IPv4 /24 or IPv6 /48 (2 and 3 by default).
 *
 * OPERATIONS
 *
 * Iterative lookups keep α = BT_ALPHA requests in flight and end when the
 * k closest nodes known have all answered; a request times out after
 * request_timeout_ms (BT_REQUEST_TIMEOUT_MS).  Writes (put, bag add,
 * record put) look the target up with "peers", collecting the write
 * tokens the closest nodes hand out, then write to the r closest
 * (replication r, default 5, at most BT_REPLICATION_MAX) - including
 * this node when it is one of them.  A node accepts a write only with a
 * valid token (an HMAC of the requester's address and port under a
 * secret that rotates every token_ms; the previous secret stays valid
 * for one period) and only when it knows fewer than BT_REPLICATION_MAX
 * live nodes nearer to the target than itself.  get_value looks up with
 * "ref" and stops at the first value that hashes to its key; record_get
 * looks up with "namespace-ref" and returns the valid record of highest
 * sequence found.  Records are checked with btcore_record_decode() and
 * btcore_record_compare(): a lower sequence or a different value under
 * the same sequence is refused.
 *
 * Stored items are republished every republish_ms by the nodes holding
 * them and expire after expire_ms without a refresh.
 *
 * CALLBACKS
 *
 * Every operation started successfully calls its callback exactly once:
 * with its result, a timeout, or an error.  The callback is never called
 * from inside the function that started the operation nor from
 * btnet_dht_input(): it runs from btnet_dht_tick() (so a callback may
 * start new operations), or from btnet_dht_free() with BT_ECLOSED for
 * the operations still running (a callback run from btnet_dht_free()
 * must not call into the engine).  When a start function returns an
 * error, the callback is never called.
 *
 * HOSTILE INPUT
 *
 * Every message is decoded with btcore_msg_decode().  Replies with an
 * unknown transaction id, of the wrong type, or from another node than
 * the one asked; node lists we did not ask for; an "iam" whose id is not
 * the sender's; values that do not hash to their key; records whose
 * signature does not verify; writes without a valid token - all are
 * dropped without changing state.  Requests are rate-limited per source
 * address (a token bucket).  Pending requests, operations, the table and
 * the rate-limit table are all bounded.
 *
 * A struct btnet_dht is not thread safe: use one engine from one thread.
 */
#ifndef BT_DHT_H
#define BT_DHT_H

#include <bt/block.h>
#include <bt/common.h>
#include <bt/id.h>
#include <bt/record.h>
#include <bt/dhtstore.h>

#ifdef __cplusplus
extern "C" {
#endif

/** A DHT engine.  Opaque. */
struct btnet_dht;

/** An IPv4 or IPv6 address and port.  Value type. */
struct btnet_dht_addr {
	uint8_t family;		/* 4 or 6 */
	uint8_t ip[16];		/* 4 bytes used for IPv4, the rest zero */
	uint16_t port;		/* host byte order, 1..65535 */
};

/** A node: its id and address.  Value type. */
struct btnet_dht_node {
	struct bt_id id;
	struct btnet_dht_addr addr;
};

/**
 * The engine's environment.  Every pointer is borrowed and must outlive
 * the engine; @c ctx is passed back to each function.
 *
 * now_ms: a monotonic clock in milliseconds.  NULL: CLOCK_MONOTONIC.
 * random: fill @p len bytes at @p buf; BT_OK or a negative code.  NULL:
 *	the operating system's CSPRNG.
 * send: send @p len bytes of one message to @p to; @p to_id is the node
 *	id the engine means to reach, or NULL when it does not know it
 *	(bootstrap), in which case the transport authenticates whoever
 *	answers.  The bytes are borrowed for the call.  Return BT_OK, or a
 *	negative code (the request then fails at the next tick).  Required.
 *	send must not call into the engine.
 */
struct btnet_dht_env {
	uint64_t (*now_ms)(void *ctx);
	int (*random)(void *ctx, void *buf, size_t len);
	int (*send)(void *ctx, const struct btnet_dht_addr *to,
	    const struct bt_id *to_id, const uint8_t *msg, size_t len);
	void *ctx;
};

/** Engine settings; fill with btnet_dht_config_init() first. */
struct btnet_dht_config {
	unsigned replication;		/* 1..BT_REPLICATION_MAX (5) */
	unsigned prefix_per_bucket;	/* same /24 or /48 per bucket (2) */
	unsigned prefix_per_table;	/* same /24 or /48 per table (3) */
	uint32_t request_timeout_ms;	/* BT_REQUEST_TIMEOUT_MS */
	uint32_t token_ms;		/* write-token secret rotation (300000) */
	uint32_t republish_ms;		/* republish held items (3600000) */
	uint32_t expire_ms;		/* drop items not refreshed (86400000) */
	uint32_t rate_per_s;		/* requests per second per source
					   address (100) */
	uint32_t rate_burst;		/* bucket size (400) */
	uint16_t port;			/* our listening port, told in iam
					   (0: not told) */
};

/** What an operation does (btnet_dht_result.op). */
enum btnet_dht_op {
	BTNET_DHT_OP_BOOTSTRAP = 1,
	BTNET_DHT_OP_FIND_NODES,
	BTNET_DHT_OP_PUT_VALUE,
	BTNET_DHT_OP_GET_VALUE,
	BTNET_DHT_OP_BAG_ADD,
	BTNET_DHT_OP_BAG_QUERY,
	BTNET_DHT_OP_RECORD_PUT,
	BTNET_DHT_OP_RECORD_GET
};

/**
 * The result of an operation, passed to its callback.  Borrowed: valid
 * only during the callback; copy what you keep.
 */
struct btnet_dht_result {
	int status;		/* BT_OK or a negative code (below) */
	enum btnet_dht_op op;
	struct bt_id key;	/* the target of the operation */
	/* closest nodes that answered, nearest first (lookups) */
	size_t nnodes;
	struct btnet_dht_node nodes[BT_K];
	/* get_value: the value; record_get: the record's encoding */
	const uint8_t *value;
	size_t value_len;
	/* record_get: the record, its value pointing into .value */
	const struct bt_record *record;
	/* bag_query: the values, 32 bytes each */
	const uint8_t (*values)[32];
	size_t nvalues;
	/* writes: nodes that stored it (this node counts when it did) */
	unsigned stored;
	/*
	 * Lookup cost: rounds is the number of reply rounds needed to learn
	 * the nodes of .nodes (a node from our own table counts 0, one
	 * named by such a node's reply 1, and so on: the largest over
	 * .nodes); rpcs counts the requests sent.
	 */
	unsigned rounds;
	unsigned rpcs;
};

/** Counters and sizes (btnet_dht_stats()). */
struct btnet_dht_stats {
	uint64_t rpcs_sent;		/* requests sent */
	uint64_t replies;		/* valid replies to our requests */
	uint64_t timeouts;		/* requests that timed out */
	uint64_t requests;		/* requests answered */
	uint64_t dropped;		/* messages refused or ignored */
	uint64_t rate_limited;		/* requests refused by the rate limit */
	uint64_t lookups;		/* lookups finished */
	uint64_t lookup_rounds;		/* sum of their rounds */
	uint64_t lookup_rpcs;		/* sum of their requests */
	uint64_t republished;		/* items republished */
	size_t table_size;		/* contacts in the routing table */
	size_t pending;			/* requests awaiting a reply */
	size_t ops;			/* operations running */
	size_t memory;			/* bytes of engine state (not storage) */
	int has_external;		/* an address was reflected to us */
	struct btnet_dht_addr external;	/* our address as others see it */
};

/** Most operations running at once, and most requests pending. */
#define BTNET_DHT_OPS_MAX	256
#define BTNET_DHT_PENDING_MAX	1024

/**
 * Fill @p cfg with the defaults shown in struct btnet_dht_config.
 * @since 0.1
 */
BT_EXPORT void btnet_dht_config_init(struct btnet_dht_config *cfg);

/**
 * Create an engine.
 *
 * @param out	out: caller owns; release with btnet_dht_free().  NULL on
 *		failure.
 * @param env	in, borrowed (must outlive the engine): the environment;
 *		its send function is required.
 * @param storage in, borrowed (must outlive the engine): where items held
 *		for other nodes go (see bt/dhtstore.h); all functions set.
 * @param self	in: our node id.
 * @param cfg	in, borrowed, may be NULL (defaults).
 * @return BT_OK; BT_EINVAL (NULL argument, no send function, a storage
 *	   function missing, a zero timeout or period, address limits of
 *	   0); BT_ERANGE (replication 0 or above BT_REPLICATION_MAX);
 *	   BT_ENOMEM; or the environment's random error.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btnet_dht_new(struct btnet_dht **out,
    const struct btnet_dht_env *env, const struct btnet_dht_storage *storage,
    const struct bt_id *self, const struct btnet_dht_config *cfg);

/**
 * Release @p dht.  The callbacks of operations still running are called
 * with BT_ECLOSED first and must not call into the engine.  NULL is a
 * no-op.
 * @since 0.1
 */
BT_EXPORT void btnet_dht_free(struct btnet_dht *dht);

/**
 * Handle one incoming message.
 *
 * @param from	in, borrowed: the sender's address.
 * @param from_id in, borrowed: the sender's node id, as authenticated by
 *		the transport.
 * @param msg	in, borrowed: @p len bytes.
 * @return BT_OK when the message was handled; BT_EINVAL (NULL argument,
 *	   bad address); the decoder's error for a message that does not
 *	   decode (BT_EFORMAT, BT_ETRUNC, BT_ETOOBIG, BT_EUNSUPPORTED -
 *	   an unsupported request is answered with an "error" reply);
 *	   BT_EPROTO for a message that decodes but is refused (see HOSTILE
 *	   INPUT); BT_EAGAIN when the sender is over its rate limit;
 *	   BT_ENOMEM.  No error changes the engine's state beyond counters.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btnet_dht_input(struct btnet_dht *dht,
    const struct btnet_dht_addr *from, const struct bt_id *from_id,
    const uint8_t *msg, size_t len);

/**
 * Run what is due: time out requests, finish operations and call their
 * callbacks, rotate token secrets, republish and expire items.
 * @return BT_OK, or BT_ENOMEM when some work had to be postponed.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btnet_dht_tick(struct btnet_dht *dht);

/**
 * The time (on the environment's clock) at which btnet_dht_tick() should
 * next run; a time not after now when work is already waiting.
 * @since 0.1
 */
BT_EXPORT uint64_t btnet_dht_next_deadline(const struct btnet_dht *dht);

/**
 * Join the network: send "iam" to each of @p n addresses, then look up
 * our own id and fill the buckets nearer than our closest contact.
 * The result's status is BT_OK when the table holds at least one node,
 * else BT_ETIMEDOUT; its nodes are the closest found to our id.
 *
 * @param addrs	in, borrowed: 1..64 addresses.
 * @param cb	called once as described under CALLBACKS; @p arg passed.
 * @return BT_OK; BT_EINVAL (NULL, @p n 0 or above 64, bad address);
 *	   BT_EAGAIN (BTNET_DHT_OPS_MAX operations running); BT_ENOMEM.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btnet_dht_bootstrap(struct btnet_dht *dht,
    const struct btnet_dht_addr *addrs, size_t n,
    void (*cb)(void *arg, const struct btnet_dht_result *res), void *arg);

/**
 * Find the k nodes closest to @p key.  Status BT_OK (the nodes are in
 * the result); BT_ETIMEDOUT when no node answered before its request
 * timed out; BT_ENOTFOUND when there was no node to ask.
 * Errors of the start functions below: BT_EINVAL (NULL argument, bad
 * sizes), BT_EAGAIN (too many operations running), BT_ENOMEM.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btnet_dht_find_nodes(struct btnet_dht *dht,
    const struct bt_id *key,
    void (*cb)(void *arg, const struct btnet_dht_result *res), void *arg);

/**
 * Store @p len bytes (copied; at most BTNET_DHT_VALUE_MAX) under their
 * SHA-256 at the r closest nodes.  The result's key is the SHA-256,
 * stored the number of nodes that accepted it; status BT_OK when at least
 * one did, BT_ENOSPC when all refused, BT_ETIMEDOUT when none answered.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btnet_dht_put_value(struct btnet_dht *dht,
    const void *value, size_t len,
    void (*cb)(void *arg, const struct btnet_dht_result *res), void *arg);

/**
 * Largest value of btnet_dht_put_value() and of a stored value: one
 * block, since a content-addressed value is a block and nodes keep them
 * with their blocks.
 */
#define BTNET_DHT_VALUE_MAX	BTCORE_BLOCK_MAX

/**
 * Fetch the value whose SHA-256 is @p key (from our storage or the
 * network).  Status BT_OK with the value; BT_ENOTFOUND; BT_ETIMEDOUT
 * when no node answered.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btnet_dht_get_value(struct btnet_dht *dht,
    const struct bt_id *key,
    void (*cb)(void *arg, const struct btnet_dht_result *res), void *arg);

/**
 * Add the 32-byte @p value to the bag @p key at the r closest nodes.
 * Status as for btnet_dht_put_value().
 * @since 0.1
 */
BT_EXPORT BT_WUR int btnet_dht_bag_add(struct btnet_dht *dht,
    const struct bt_id *key, const uint8_t value[32],
    void (*cb)(void *arg, const struct btnet_dht_result *res), void *arg);

/**
 * Query the bag @p key: up to @p limit (1..BTCORE_MSG_BAG_MAX) values,
 * in the order of @p kind.  With @p at non-NULL, ask that node only
 * ("popular at"); otherwise ask the r nodes closest to @p key and merge
 * their answers in the order they arrive, without duplicates (a sample is
 * shuffled).  Status BT_OK (possibly with no values) or BT_ETIMEDOUT when
 * no node answered.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btnet_dht_bag_query(struct btnet_dht *dht,
    enum btnet_dht_bag kind, const struct bt_id *key, size_t limit,
    const struct btnet_dht_node *at,
    void (*cb)(void *arg, const struct btnet_dht_result *res), void *arg);

/**
 * Query the bag @p key in our own storage, synchronously: up to @p limit
 * values into @p out (room for @p limit), their number in @p *count.
 * @return BT_OK, BT_EINVAL, or the storage's error.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btnet_dht_bag_local(struct btnet_dht *dht,
    enum btnet_dht_bag kind, const struct bt_id *key, size_t limit,
    uint8_t (*out)[32], size_t *count);

/**
 * Publish the signed record @p rec (checked with btcore_record_verify())
 * at the r nodes closest to its target.  Status as for
 * btnet_dht_put_value(); a node holding a higher sequence refuses it.
 * @return also BT_EVERIFY for a record whose signature does not verify.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btnet_dht_record_put(struct btnet_dht *dht,
    const struct bt_record *rec,
    void (*cb)(void *arg, const struct btnet_dht_result *res), void *arg);

/**
 * Fetch the record of (@p pub, @p key) with the highest sequence found.
 * Status BT_OK with the record, or BT_ENOTFOUND.
 * @param key	in, borrowed: 1..BTCORE_RECORD_KEY_MAX bytes.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btnet_dht_record_get(struct btnet_dht *dht,
    const struct bt_pubkey *pub, const void *key, size_t key_len,
    void (*cb)(void *arg, const struct btnet_dht_result *res), void *arg);

/**
 * Copy the engine's counters and sizes into @p out.
 * @since 0.1
 */
BT_EXPORT void btnet_dht_stats(const struct btnet_dht *dht,
    struct btnet_dht_stats *out);

/**
 * Up to @p max contacts of our routing table nearest to @p key, nearest
 * first, into @p out; returns how many.
 * @since 0.1
 */
BT_EXPORT size_t btnet_dht_closest(const struct btnet_dht *dht,
    const struct bt_id *key, struct btnet_dht_node *out, size_t max);

#ifdef __cplusplus
}
#endif
#endif /* BT_DHT_H */
