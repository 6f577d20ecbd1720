/*
 * btnode/replicate.h - replication of namespaces over the DHT, and the
 * node's own message scope "node".
 *
 * Publishing: when the home namespace changes (BTSTORE_TOPIC_PATH events
 * on "/<home>"), the blocks of every file and directory not pushed
 * before are stored in the DHT with btnet_dht_put_value() (the DHT keeps
 * each at the r nodes nearest to its id: that is the block replication),
 * then the signed root record is published with btnet_dht_record_put().
 * Changes that arrive meanwhile are gathered into the next round.
 *
 * Fetching: the scope "node" answers {op: "fetch", path}: it fetches the
 * root record of the path's namespace from the DHT, walks the directory
 * and file trees from that root breadth first, fetching each block it
 * lacks with btnet_dht_get_value() (checked against its id when stored),
 * within a block budget and a time limit, then imports the record with
 * btstore_ns_import().  Only the node's own programs may ask for a fetch
 * (the caller's id must be the node's).  The answer {done, seq, fetched,
 * present, blocks} comes when the fetch ends, or after 3 s with done
 * false: a request waits at most 5 s, so the caller asks again (joining
 * the fetch under way) until done is true.  {op: "status"} answers
 * anyone.
 *
 * The scope is served through the node's own API socket: the replicator
 * connects to it as a client and handles "node", so local programs
 * (btapi_call() to the node's own id) and other nodes reach it alike.
 */
#ifndef BTNODE_REPLICATE_H
#define BTNODE_REPLICATE_H

#include <stdint.h>

struct event_base;
struct btstore;
struct btnet;
struct btnode_storage;
struct btcore_signer;

struct btnode_repl;

struct btnode_repl_config {
	struct event_base *base;
	struct btstore *store;
	struct btnet *net;
	struct btnode_storage *storage;	/* for status; may be NULL */
	const struct btcore_signer *signer;
	const char *socket_path;	/* the API socket (borrowed) */
	int keystore_tpm;		/* for status */
	unsigned replication;		/* for status */
	uint32_t fetch_max_blocks;
	uint32_t fetch_timeout_s;
	uint32_t push_max_blocks;
};

/** Start: watch the home namespace, connect to the API socket.  The
 *  struct is borrowed for the call.  BT_OK or a negative code. */
int btnode_repl_open(struct btnode_repl **out,
    const struct btnode_repl_config *cfg);

/** The node came online: publish the home namespace again. */
void btnode_repl_online(struct btnode_repl *r);

/** Stop: end the watch, the timers and the API connection (fetches
 *  waiting are dropped).  Call before closing the API server. */
void btnode_repl_stop(struct btnode_repl *r);

/** Free, after btnet_close() has run the network callbacks.  NULL is a
 *  no-op. */
void btnode_repl_free(struct btnode_repl *r);

#endif /* BTNODE_REPLICATE_H */
