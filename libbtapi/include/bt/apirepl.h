/*
 * bt/apirepl.h - replication of namespaces over the DHT, for a node that
 * embeds libbtstore, libbtnet and the API server.
 *
 * Publishing: when the node's home namespace (the namespace of its key)
 * changes, the blocks of every file and directory not pushed before are
 * stored in the DHT (the DHT keeps each at the nodes nearest to its id:
 * that is the block replication), then the signed root record is
 * published.  Changes that arrive meanwhile are gathered into the next
 * round; going online publishes again.
 *
 * Fetching: btapi_replicator_fetch() gets the root record of another
 * namespace from its owner (the node whose id is the SHA-256 of the
 * namespace key), or from the DHT when the owner does not answer, and,
 * when it is newer than what the store holds, walks the directory and
 * file trees from that root breadth first, getting each block the store
 * lacks (checked against its id) from the owner, several a call, or from
 * the DHT when the owner lacks it, fails or sends a wrong block, within a
 * block budget and a time limit; then it imports the record, so the
 * namespace reads like a local one.  Concurrent fetches of one namespace
 * are one fetch.  Given to the API server (struct btapi_server_config's
 * replicator), it makes reads of other namespaces transparent: an op on
 * such a path waits for the fetch (blocktree-api(7), "progress" events).
 *
 * The scope "node": the replicator answers {op: "status"}, {op: "root",
 * ns} and {op: "blocks", ids} (blocktree(7)) for every node over the
 * network and, through the API server, for local programs calling the
 * node's own id.
 *
 * Tree walks use explicit work lists, never recursion: trees come from
 * the network.  Everything runs on the caller's event loop, from that
 * loop's thread.  The library never prints: messages go to the log
 * callback.
 */
#ifndef BT_APIREPL_H
#define BT_APIREPL_H

#include <stddef.h>
#include <stdint.h>

#include <bt/common.h>
#include <bt/id.h>
#include <bt/key.h>

#ifdef __cplusplus
extern "C" {
#endif

struct event_base;
struct btstore;
struct btnet;
struct btapi_dhtstore;

/** A running replicator.  Opaque. */
struct btapi_replicator;
/** One caller waiting for a fetch.  Opaque. */
struct btapi_fetch;

/** The scope the replicator answers. */
#define BTAPI_REPL_SCOPE	"node"

/** Levels of the log callback, most severe first. */
#define BTAPI_LOG_ERROR		0
#define BTAPI_LOG_WARN		1
#define BTAPI_LOG_INFO		2
#define BTAPI_LOG_DEBUG		3

/**
 * Settings; fill with btapi_replicator_config_init() first.  Pointers
 * are borrowed and must outlive the replicator.
 */
struct btapi_replicator_config {
	struct btstore *store;		/* required */
	struct btnet *net;		/* required */
	const struct btcore_signer *signer; /* required: the node key, whose
					   namespace is published */
	struct btapi_dhtstore *dhtstore; /* may be NULL: for status */
	uint32_t fetch_max_blocks;	/* blocks of one fetch (1 << 20) */
	uint32_t fetch_timeout_ms;	/* one fetch, whole (300000) */
	uint32_t push_max_blocks;	/* new blocks of one publish round
					   (1 << 20) */
	uint32_t fresh_ms;		/* a namespace fetched this recently
					   is served as held (5000) */
	uint32_t progress_ms;		/* between progress reports (1000) */
	unsigned replication;		/* for status (BT_REPLICATION_DEFAULT) */
	int keystore_tpm;		/* for status: 1 when the key is
					   sealed by a TPM */
	const char *version;		/* for status: the node's version
					   (NULL: libbtapi's) */
	/* May be NULL.  One line, without secrets, borrowed for the call. */
	void (*log)(void *arg, int level, const char *msg);
	void *log_arg;
};

/** Where a fetch stands.  Value type. */
struct btapi_fetch_progress {
	uint64_t seq;		/* the root record's sequence (0: not yet) */
	uint64_t fetched;	/* blocks got from the network */
	uint64_t present;	/* blocks the store had already */
	uint64_t blocks;	/* blocks known so far */
};

/**
 * The end of a fetch: BT_OK (the store holds the namespace at the DHT's
 * sequence, or a newer one), or BT_ETIMEDOUT (fetch_timeout_ms passed),
 * BT_ENOTFOUND (no root record, or a block nobody holds), BT_ETOOBIG
 * (more than fetch_max_blocks), BT_EFORMAT (a root record that is not a
 * namespace root), BTAPI_EOFFLINE, BT_ECLOSED (the replicator stopped),
 * the store's and the network's errors.
 */
typedef void (*btapi_fetch_done_cb)(void *arg, int err);
/** Progress, every progress_ms while the fetch runs (borrowed). */
typedef void (*btapi_fetch_progress_cb)(void *arg,
    const struct btapi_fetch_progress *p);

/**
 * Fill @p cfg with the defaults shown above (pointers NULL).
 * @since 0.1
 */
BT_EXPORT void btapi_replicator_config_init(
    struct btapi_replicator_config *cfg);

/**
 * Start: watch the home namespace (created when missing) and serve the
 * "node" scope on the network.
 * @param out	out: caller owns; release with btapi_replicator_stop(),
 *		then btapi_replicator_free() after btnet_close(); NULL on
 *		failure.
 * @param base	borrowed: must outlive the replicator.
 * @param cfg	in, borrowed for the call (see the struct).
 * @return BT_OK; BT_EINVAL (NULL or zero setting); BT_ENOMEM; errors
 *	   of btstore_ns_create(), btstore_watch() and btnet_rpc_handle().
 * @since 0.1
 */
BT_EXPORT BT_WUR int btapi_replicator_open(struct btapi_replicator **out,
    struct event_base *base, const struct btapi_replicator_config *cfg);

/**
 * The node came online: publish the home namespace again.  NULL is a
 * no-op.
 * @since 0.1
 */
BT_EXPORT void btapi_replicator_online(struct btapi_replicator *r);

/**
 * Should a read of namespace @p ns fetch it first?  0 for the home
 * namespace and for one fetched within fresh_ms; 1 otherwise.
 * @since 0.1
 */
BT_EXPORT int btapi_replicator_stale(struct btapi_replicator *r,
    const struct bt_pubkey *ns);

/**
 * Fetch the namespace @p ns (see above), joining a fetch of it under
 * way.  @p done runs exactly once (not before this returns), unless
 * btapi_replicator_cancel() comes first; @p progress (may be NULL) runs
 * every progress_ms until then.
 * @param out	out, may be NULL: the waiting caller, valid until @p done
 *		has run or btapi_replicator_cancel().
 * @param arg	borrowed: passed to the callbacks.
 * @return BT_OK; BT_EINVAL (NULL, or the home namespace); BTAPI_EOFFLINE
 *	   (the node is not online); BT_ESTATE (stopped); BT_ENOMEM and
 *	   btnet_dht_record_get()'s errors.  On failure no callback runs.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btapi_replicator_fetch(struct btapi_replicator *r,
    const struct bt_pubkey *ns, btapi_fetch_done_cb done,
    btapi_fetch_progress_cb progress, void *arg, struct btapi_fetch **out);

/**
 * Stop waiting: no callback of @p w runs any more; the fetch goes on for
 * its other callers (or ends, when none is left, at its next step).
 * NULL is a no-op.
 * @since 0.1
 */
BT_EXPORT void btapi_replicator_cancel(struct btapi_fetch *w);

/**
 * Answer a message of the "node" scope: @p args (a BSON document of
 * @p len bytes, borrowed) from node @p from.  {op: "status"} answers
 * {version, node, home, online, peers, replication, keystore, blocks,
 * block_bytes, dht_items, dht_bytes, published_seq, fetches,
 * fetched_blocks, fetched_from_owner, uptime}; {op: "root", ns: <32
 * bytes>} answers {rec: <the root record's encoding>}; {op: "blocks",
 * ids: <1..64 ids, concatenated>} answers {blocks: [<bytes> or null,
 * ...]} in the order asked, ending early where the next block would not
 * fit one message.
 * @param reply, rlen	out: the answer, a BSON document; caller owns,
 *		release with btapi_free(); NULL on failure.
 * @return BT_OK; BT_EINVAL (NULL); BT_EFORMAT (not a BSON document, no
 *	   op, a malformed ns or ids); BT_ETOOBIG (more than 64 ids);
 *	   BT_ENOTFOUND (root: the store holds no such namespace);
 *	   BT_EUNSUPPORTED (an unknown op); BT_ENOMEM; the store's read
 *	   errors.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btapi_replicator_answer(struct btapi_replicator *r,
    const struct bt_id *from, const uint8_t *args, size_t len,
    uint8_t **reply, size_t *rlen);

/**
 * Stop: end the watch, the "node" scope, the timers; fetches under way
 * end with BT_ECLOSED for their callers.  Call before closing the
 * network.  NULL is a no-op.
 * @since 0.1
 */
BT_EXPORT void btapi_replicator_stop(struct btapi_replicator *r);

/**
 * Free, after btnet_close() has run the network's callbacks.  Stops
 * first when needed.  NULL is a no-op.
 * @since 0.1
 */
BT_EXPORT void btapi_replicator_free(struct btapi_replicator *r);

#ifdef __cplusplus
}
#endif
#endif /* BT_APIREPL_H */
