/*
 * bt/apifeed.h - feeds of other nodes over the network, for a node that
 * embeds libbtstore, libbtnet and the API server: the feed synchroniser.
 *
 * Serving.  Every node answers the RPC scope "feed" from its store, for
 * its own feed and for every feed it holds (entries verify by themselves,
 * so any holder may answer):
 *
 *	{op: "head", feed: bin(32), [have: int64]}
 *	    -> {head: bin(137), [proof: bin]}
 *	The newest head held (bt/log.h encoding).  From the writer, when
 *	@c have (the length of the head the caller holds) is below the
 *	head's length, @c proof is the consistency proof from @c have to
 *	it (bt/merkle.h encoding), so that the caller can take the head in.
 *
 *	{op: "entries", feed, from: int64, [max: int64], [at: int64]}
 *	    -> {heads: [bin(137), ...], entries: [{h: int32, i: int64,
 *		p: bin, d: bin}, ...]}
 *	Entries held from index @c from on, in ascending order: @c i the
 *	index, @c d the payload, @c p the 32-byte hashes of its inclusion
 *	proof in the tree of head number @c h of @c heads.  The writer
 *	proves every entry against its head of length @c at (the head the
 *	caller holds; default its newest), so that one head serves the
 *	whole reply; another holder sends each entry with the head it was
 *	verified against (at most BTAPI_FEEDSYNC_HEADS_MAX heads a reply).
 *	At most @c max (default and at most reply_entries) entries and
 *	about reply_bytes bytes: a caller asks again from the index after
 *	the last one received.
 *
 * Errors are RPC errors: BT_ENOTFOUND ("the feed is not held here", or
 * no head of length @c at), BT_EFORMAT (a malformed request),
 * BT_EUNSUPPORTED (an unknown op).
 *
 * Following.  btapi_feedsync_follow() makes the node keep a feed written
 * by another node current in its store: it asks the writer (the node
 * whose id is the SHA-256 of the feed key) for the head with a
 * consistency proof from the head held, takes it in with
 * btstore_feed_head_put(), then pulls the entries it lacks below that
 * head in requests of "batch" entries, "window" requests in flight, and
 * takes each in with btstore_feed_entry_put(): every head's signature,
 * every consistency and inclusion proof and every payload hash is
 * checked by the store, and whatever fails is refused and counted.  A
 * head of the same length as one held with another root is a fork: the
 * store keeps the evidence, the synchroniser logs it once and reports it
 * in btapi_feedsync_info() (and btstore_feed_info() says forked).  What
 * the store takes in reaches the feed's watchers (the API server's
 * feed-follow delivers entries in order, each once).
 *
 * When the writer cannot be reached (unreachable, timed out, no "feed"
 * scope), the round asks the mesh peers of the feed's channel instead:
 * followers of the feed.  Their heads carry no consistency proof, so the
 * node takes their newest head only when it holds none, or the same one;
 * their entries are taken when their heads are held.
 *
 * New entries.  The writer's synchroniser joins the channel of its own
 * feed and publishes each new head on it (bt/pubsub.h); followers join
 * the channels of the feeds they follow and pull when a longer head is
 * announced (a head of a length already held goes to the store, which
 * finds a fork).  Followers also ask the writer every poll_ms in case an
 * announcement is lost.  The last btapi_feedsync_unfollow() of a feed
 * stops its pulling and leaves its channel.
 *
 *	channel = SHA-256("BlockTree feed channel v1" || 0x00 || feed key)
 *
 * The store's notifications must be dispatched on the loop (the API
 * server does it by default).  Everything runs on the caller's event
 * loop, from that loop's thread.  The library never prints: messages go
 * to the log callback (levels BTAPI_LOG_* of bt/apirepl.h).
 */
#ifndef BT_APIFEED_H
#define BT_APIFEED_H

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

/** A running feed synchroniser.  Opaque. */
struct btapi_feedsync;
/** One caller waiting for btapi_feedsync_fetch().  Opaque. */
struct btapi_feedsync_wait;

/** The scope the synchroniser answers. */
#define BTAPI_FEED_SCOPE		"feed"
/** Most entries in one "entries" reply. */
#define BTAPI_FEEDSYNC_ENTRIES_MAX	1024
/** Most bytes of one "entries" reply (under the 1 MiB message limit). */
#define BTAPI_FEEDSYNC_REPLY_MAX	(900u * 1024)
/** Fewest bytes reply_bytes may be: one entry of the largest payload. */
#define BTAPI_FEEDSYNC_REPLY_MIN	(256u * 1024 + 4096)
/** Most distinct heads in one "entries" reply. */
#define BTAPI_FEEDSYNC_HEADS_MAX	8
/** Most requests in flight per feed (the largest window). */
#define BTAPI_FEEDSYNC_WINDOW_MAX	32
/** btapi_feedsync_fetch(): the head, not an entry. */
#define BTAPI_FEEDSYNC_HEAD		UINT64_MAX

/**
 * Settings; fill with btapi_feedsync_config_init() first.  Pointers are
 * borrowed and must outlive the synchroniser.
 */
struct btapi_feedsync_config {
	struct btstore *store;		/* required */
	struct btnet *net;		/* required */
	const struct btcore_signer *signer; /* required: the node key, the
					   key of the node's own feed */
	uint32_t poll_ms;		/* ask the writer of each followed
					   feed for its head this often
					   (10000) */
	uint32_t request_timeout_ms;	/* btapi_feedsync_fetch() waits at
					   most this long
					   (BT_REQUEST_TIMEOUT_MS) */
	uint32_t batch;			/* entries asked per request (256),
					   1..BTAPI_FEEDSYNC_ENTRIES_MAX */
	uint32_t window;		/* requests in flight per feed (4),
					   1..BTAPI_FEEDSYNC_WINDOW_MAX */
	uint32_t reply_entries;		/* entries per reply served
					   (BTAPI_FEEDSYNC_ENTRIES_MAX),
					   1..BTAPI_FEEDSYNC_ENTRIES_MAX */
	uint32_t reply_bytes;		/* bytes per reply served, about
					   (BTAPI_FEEDSYNC_REPLY_MAX),
					   BTAPI_FEEDSYNC_REPLY_MIN..
					   BTAPI_FEEDSYNC_REPLY_MAX */
	int pubsub;			/* 1: announce the node's heads and
					   listen to the followed feeds'
					   channels (default); 0: poll only */
	/* May be NULL.  One line, without secrets, borrowed for the call. */
	void (*log)(void *arg, int level, const char *msg);
	void *log_arg;
};

/** What the synchroniser knows of one feed.  Value type. */
struct btapi_feedsync_info {
	uint32_t follows;	/* btapi_feedsync_follow() not undone */
	int joined;		/* 1: its channel is joined */
	int forked;		/* 1: a fork was found (the store holds the
				   evidence: btstore_feed_fork()) */
	int last_error;		/* outcome of the last round: BT_OK or a
				   code as btapi_feedsync_cb */
	uint64_t rounds;	/* rounds finished (a head, then entries) */
	uint64_t pulled;	/* entries taken in */
	uint64_t refused;	/* heads, entries or replies refused: bad
				   signature, proof or payload, another
				   feed, a malformed reply */
	uint64_t announced;	/* heads heard on the channel */
	uint64_t announces;	/* own feed: heads published */
};

/**
 * The end of btapi_feedsync_fetch(): BT_OK (the store holds what was
 * asked), or BT_ENOTFOUND (the writer has no such feed, or the entry is
 * beyond its head), BT_ETIMEDOUT (request_timeout_ms passed),
 * BTNET_EUNREACHABLE and the other errors of struct btnet_rpc_result,
 * BT_EVERIFY (what came back was refused), BT_ECONFLICT (a fork was
 * found), BTAPI_EOFFLINE, BT_ECLOSED (the synchroniser stopped), store
 * errors.
 */
typedef void (*btapi_feedsync_cb)(void *arg, int err);

/**
 * Fill @p cfg with the defaults shown above (pointers NULL).
 * @since 0.1
 */
BT_EXPORT void btapi_feedsync_config_init(struct btapi_feedsync_config *cfg);

/**
 * The pubsub channel of @p feed (formula above).
 * @param out	out; zeroed on failure.
 * @return BT_OK; BT_EINVAL; BT_ECRYPTO.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btapi_feedsync_channel(const struct bt_pubkey *feed,
    struct bt_id *out);

/**
 * Start: serve the "feed" scope and, with pubsub, announce the node's own
 * feed (once it exists) on its channel.
 * @param out	out: caller owns; release with btapi_feedsync_stop(), then
 *		btapi_feedsync_free() after btnet_close(); NULL on failure.
 * @param base	borrowed: must outlive the synchroniser.
 * @param cfg	in, borrowed for the call (see the struct).
 * @return BT_OK; BT_EINVAL (NULL or zero setting); BT_ERANGE (a setting
 *	   out of range); BT_ENOMEM; errors of btstore_watch() and
 *	   btnet_rpc_handle().
 * @since 0.1
 */
BT_EXPORT BT_WUR int btapi_feedsync_open(struct btapi_feedsync **out,
    struct event_base *base, const struct btapi_feedsync_config *cfg);

/**
 * Keep @p feed (written by another node) current in the store from entry
 * @p from on, as described above; a round starts at once (from the
 * loop).  Calls add up: each needs its btapi_feedsync_unfollow().
 * @return BT_OK; BT_EINVAL (NULL, or the node's own feed); BT_ESTATE
 *	   (stopped); BT_ENOMEM.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btapi_feedsync_follow(struct btapi_feedsync *fs,
    const struct bt_pubkey *feed, uint64_t from);

/**
 * Undo one btapi_feedsync_follow() of @p feed; the last stops the polling
 * and leaves the channel (a round under way ends first).  No-op for a
 * feed not followed or NULL arguments.
 * @since 0.1
 */
BT_EXPORT void btapi_feedsync_unfollow(struct btapi_feedsync *fs,
    const struct bt_pubkey *feed);

/**
 * Fetch the writer's newest head of @p feed (@p index
 * BTAPI_FEEDSYNC_HEAD), or entry @p index with its proof, into the
 * store; an entry fetch takes the head first and also asks for up to
 * "batch" entries after @p index.  For a followed feed whose head was
 * taken from the writer within poll_ms, a head fetch ends at once.
 * @p done runs exactly once, from the loop (never before this returns),
 * unless btapi_feedsync_cancel() comes first.
 * @param out	out, may be NULL: the waiting caller, valid until @p done
 *		has run or btapi_feedsync_cancel().
 * @param arg	borrowed: passed to @p done.
 * @return BT_OK; BT_EINVAL (NULL, or the node's own feed); BT_ESTATE
 *	   (stopped); BT_ENOMEM.  On failure @p done never runs.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btapi_feedsync_fetch(struct btapi_feedsync *fs,
    const struct bt_pubkey *feed, uint64_t index, btapi_feedsync_cb done,
    void *arg, struct btapi_feedsync_wait **out);

/**
 * Stop waiting: @p done of @p w does not run; the round goes on.  NULL
 * is a no-op.
 * @since 0.1
 */
BT_EXPORT void btapi_feedsync_cancel(struct btapi_feedsync_wait *w);

/**
 * Answer a request of the "feed" scope: @p args (a BSON document of
 * @p len bytes, borrowed) from node @p from, as the RPC handler does.
 * @param reply, rlen	out: the answer, a BSON document of at most
 *		reply_bytes plus a small margin; caller owns, release with
 *		btapi_free(); NULL on failure.
 * @return BT_OK; BT_EINVAL (NULL); BT_EFORMAT (not a valid request);
 *	   BT_EUNSUPPORTED (an unknown op); BT_ENOTFOUND (feed not held, no
 *	   head of length @c at); BT_ENOMEM; store errors.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btapi_feedsync_answer(struct btapi_feedsync *fs,
    const struct bt_id *from, const uint8_t *args, size_t len,
    uint8_t **reply, size_t *rlen);

/**
 * What the synchroniser knows of @p feed.
 * @param info	out; zeroed on failure.
 * @return BT_OK; BT_EINVAL; BT_ENOTFOUND (neither followed nor being
 *	   fetched now, nor the node's own feed).
 * @since 0.1
 */
BT_EXPORT BT_WUR int btapi_feedsync_info(struct btapi_feedsync *fs,
    const struct bt_pubkey *feed, struct btapi_feedsync_info *info);

/**
 * Stop: end the "feed" scope, the watch, the timers and the channels;
 * waiting callers hear BT_ECLOSED; requests in flight end with the
 * network.  Call after closing the API server that uses @p fs and before
 * closing the network.  NULL is a no-op.
 * @since 0.1
 */
BT_EXPORT void btapi_feedsync_stop(struct btapi_feedsync *fs);

/**
 * Free, after btnet_close() has run the network's callbacks.  Stops
 * first when needed.  NULL is a no-op.
 * @since 0.1
 */
BT_EXPORT void btapi_feedsync_free(struct btapi_feedsync *fs);

#ifdef __cplusplus
}
#endif
#endif /* BT_APIFEED_H */
