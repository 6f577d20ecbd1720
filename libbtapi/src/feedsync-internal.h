/*
 * feedsync-internal.h - the decoders of the "feed" scope (feedsync.c),
 * shared with the tests and the fuzz target; never installed.
 */
#ifndef BTAPI_FEEDSYNC_INTERNAL_H
#define BTAPI_FEEDSYNC_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <bt/key.h>
#include <bt/log.h>
#include <bt/merkle.h>

/* Ops of the "feed" scope. */
#define BTAPI_FSOP_HEAD_	1
#define BTAPI_FSOP_ENTRIES_	2

/* Fields present in a request. */
#define BTAPI_FSF_HAVE_		(1u << 0)
#define BTAPI_FSF_FROM_		(1u << 1)
#define BTAPI_FSF_MAX_		(1u << 2)
#define BTAPI_FSF_AT_		(1u << 3)

/* A decoded request of the "feed" scope.  Value type. */
struct btapi_fsargs_ {
	int op;				/* BTAPI_FSOP_* */
	uint32_t has;			/* BTAPI_FSF_* */
	struct bt_pubkey feed;
	uint64_t have, from, max, at;	/* each >= 0; max >= 1 */
};

/*
 * Decode a request: {op, feed, ...} with exactly the fields its op takes
 * (head: have; entries: from required, max, at), each once.
 * @return BT_OK; BT_EFORMAT (not BSON, a field of the wrong type, length
 *	or range, unknown, repeated or missing); BT_EUNSUPPORTED (an op
 *	other than "head" and "entries").  @p a is zeroed on failure.
 */
int btapi_fsargs_decode_(struct btapi_fsargs_ *a, const uint8_t *doc,
    size_t len);

/*
 * Decode a "head" reply {head, [proof]} for @p feed: the head is
 * verified (signature) and must be of @p feed; a proof must be a
 * consistency proof ending at the head's length.
 * @param proof	out: filled when *has_proof is 1.
 * @return BT_OK; BT_EFORMAT (not BSON, fields); BT_EVERIFY (a bad
 *	signature, a head of another feed, a proof for other sizes);
 *	BT_ECRYPTO.
 */
int btapi_fshead_decode_(const uint8_t *doc, size_t len,
    const struct bt_pubkey *feed, struct bt_log_head *head,
    struct bt_merkle_proof *proof, int *has_proof);

/*
 * Called for each entry of an "entries" reply, in order; @p e and
 * @p data are borrowed for the call.  A nonzero return stops the walk
 * and is returned by btapi_fsentries_decode_().
 */
typedef int (*btapi_fsentry_fn_)(void *arg, const struct bt_log_entry *e,
    const uint8_t *data, size_t len);

/*
 * Decode an "entries" reply for @p feed asked for [@p start, @p end):
 * first the whole reply is checked (at most BTAPI_FEEDSYNC_HEADS_MAX
 * heads, each verified and of @p feed; at most
 * BTAPI_FEEDSYNC_ENTRIES_MAX entries, indexes strictly ascending inside
 * [start, end) and below their head's length, proofs of the length their
 * index and head require, payloads within the maximum), then @p fn is
 * called for each entry, built with the payload's SHA-256 as its
 * payload hash; the inclusion proof itself is checked by whoever takes
 * the entry in (btstore_feed_entry_put()).
 * @param n	out: the entries in the reply.
 * @return BT_OK; BT_EFORMAT; BT_EVERIFY (a head); BT_ERANGE (counts);
 *	BT_ECRYPTO; or @p fn's nonzero return.
 */
int btapi_fsentries_decode_(const uint8_t *doc, size_t len,
    const struct bt_pubkey *feed, uint64_t start, uint64_t end,
    btapi_fsentry_fn_ fn, void *arg, size_t *n);

#endif /* BTAPI_FEEDSYNC_INTERNAL_H */
