/*
 * bt/feed.h - signed append-only logs (feeds) held in a store.
 *
 * A feed is identified by an Ed25519 public key; its entries are the
 * leaves of a Merkle tree and its writer signs heads (length, root), as
 * described in libbtcore's <bt/log.h>.  A store holds feeds of two kinds:
 *
 *  - Feeds written here (btstore_feed_create()).  The store keeps every
 *    entry and the hash of every perfect subtree of the tree, each
 *    subtree with the entry that completes it, and every head it signed
 *    with the last entry of its append.  An append costs one signature
 *    and writes one record per entry plus the feed's own record (the
 *    accumulator of the tree stays in memory between appends; after a
 *    reopen or another writer it is loaded with O(log n) look-ups); the
 *    inclusion proof of any entry against any head it signed, or the
 *    consistency proof between two heads, costs O(log n) look-ups.  A
 *    batch append signs once: its entries all refer to the head at the
 *    batch's end.
 *
 *  - Feeds followed from elsewhere (btstore_feed_head_put() with a head
 *    of a feed not held yet).  The store keeps the newest head it holds,
 *    the older heads it verified, and any subset of the entries, received
 *    in any order.  Each entry is kept with the inclusion proof it
 *    arrived with and is served again with that proof and its head.
 *
 * Verification.  Every head taken in is signature-checked, and a head
 * replaces the held one only when a consistency proof shows it extends
 * it.  Every entry taken in is checked against a head the store holds:
 * its own head must be byte-identical to a held head of its length (then
 * its signature is not checked again, only the inclusion proof), or be
 * proven consistent with the held head, or extend it.  Payloads are
 * checked against the entry's payload hash on the way in, and re-hashed
 * on every read.
 *
 * Forks.  Two validly signed heads of one length with different roots are
 * stored as evidence (struct bt_log_fork), the feed is marked forked, a
 * BTSTORE_EV_PUT notification is queued on its topic, and the call that
 * found it returns BT_ECONFLICT.  A forked feed still serves what it
 * holds; later heads and entries are checked against the head held
 * before the fork was found.
 *
 * Notifications: BTSTORE_TOPIC_FEED with the 32-byte feed key, event
 * BTSTORE_EV_PUT, when entries or a newer head are committed and when a
 * fork is recorded.
 *
 * Thread safety: as <bt/store.h>.  Signers are called inside the write
 * transaction, with the store's writer lock held.
 */
#ifndef BT_FEED_H
#define BT_FEED_H

#include <bt/common.h>
#include <bt/id.h>
#include <bt/key.h>
#include <bt/log.h>
#include <bt/merkle.h>
#include <bt/store.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Largest entry payload in bytes. */
#define BTSTORE_FEED_PAYLOAD_MAX	BTSTORE_BLOCK_MAX
/** Most entries in one btstore_feed_append_batch(). */
#define BTSTORE_FEED_BATCH_MAX		4096

/** One payload for btstore_feed_append_batch(): a small value type. */
struct btstore_feed_payload {
	const void *data;	/* borrowed; may be NULL when len is 0 */
	size_t len;		/* at most BTSTORE_FEED_PAYLOAD_MAX */
};

/** What btstore_feed_info() reports.  Value type. */
struct btstore_feed_info {
	uint64_t length;	/* length of the newest head held */
	uint64_t held;		/* entries stored */
	int owned;		/* 1: written here (btstore_feed_create()) */
	int forked;		/* 1: fork evidence is stored */
};

/**
 * Start a feed written by @p signer (whose public key is the feed id):
 * signs and stores the head of length 0.
 * @param signer	in, borrowed: used during the call only.
 * @return BT_OK; BT_EINVAL; BT_EEXIST (the feed is already held, written
 *	here or followed); the signer's error; or a write error as
 *	btstore_block_put().
 * @since 0.1
 */
BT_EXPORT BT_WUR int btstore_feed_create(struct btstore *st,
    const struct btcore_signer *signer);

/**
 * Append one entry to a feed written here and sign the new head.
 * @param data	in, borrowed: @p len bytes (NULL allowed when len is 0).
 * @param index	out, may be NULL: the entry's index.
 * @return BT_OK; BT_EINVAL; BT_ERANGE (len above
 *	BTSTORE_FEED_PAYLOAD_MAX, or the tree is full); BT_ENOTFOUND (no
 *	such feed); BT_EPERM (the feed is followed, not written here);
 *	BT_ECORRUPT (stored tree damaged); BT_ECRYPTO; the signer's error;
 *	or a write error as btstore_block_put().
 * @since 0.1
 */
BT_EXPORT BT_WUR int btstore_feed_append(struct btstore *st,
    const struct btcore_signer *signer, const void *data, size_t len,
    uint64_t *index);

/**
 * Append @p n (1..BTSTORE_FEED_BATCH_MAX) entries in one transaction with
 * one signature: all of them refer to the head at the batch's end.
 * @param items	in, borrowed: the payloads.
 * @param first	out, may be NULL: the index of the batch's first entry.
 * @return as btstore_feed_append().
 * @since 0.1
 */
BT_EXPORT BT_WUR int btstore_feed_append_batch(struct btstore *st,
    const struct btcore_signer *signer,
    const struct btstore_feed_payload *items, size_t n, uint64_t *first);

/**
 * The newest head held for @p feed, its signature checked.
 * @param head	out; zeroed on failure.
 * @return BT_OK; BT_EINVAL; BT_ENOTFOUND; BT_ECORRUPT (stored head damaged
 *	or its signature fails); BT_ECRYPTO; or a read error as
 *	btstore_block_get().
 * @since 0.1
 */
BT_EXPORT BT_WUR int btstore_feed_head(struct btstore *st,
    const struct bt_pubkey *feed, struct bt_log_head *head);

/**
 * The held head of @p feed of length @p length (a head signed here, or
 * one verified on the way in), its signature checked.
 * @return as btstore_feed_head(); BT_ENOTFOUND when no head of that
 *	length is held.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btstore_feed_head_at(struct btstore *st,
    const struct bt_pubkey *feed, uint64_t length, struct bt_log_head *head);

/**
 * Entry @p index of @p feed with its inclusion proof, and its payload.
 * For a feed written here the proof is built against the held head of
 * length @p at_length (0: the newest head).  For a followed feed the
 * entry comes with the proof and head it was verified against
 * (@p at_length must be 0 or that head's length).  The proof is checked
 * against the head's root and the payload against the payload hash
 * before anything is returned; the head's signature was checked when it
 * was stored and is not checked again here.
 *
 * @param entry	out; zeroed on failure.
 * @param buf	out: receives the payload, at most @p cap bytes (NULL
 *		allowed when cap is 0).
 * @param len	out: the payload's size (also set with BT_ERANGE).
 * @return BT_OK; BT_EINVAL; BT_ENOTFOUND (no such feed, entry or head);
 *	BT_ERANGE (@p cap too small; @p entry is still filled);
 *	BT_ECORRUPT (stored entry, tree or payload damaged; nothing is
 *	returned); BT_ECRYPTO; or a read error as btstore_block_get().
 * @since 0.1
 */
BT_EXPORT BT_WUR int btstore_feed_entry_get(struct btstore *st,
    const struct bt_pubkey *feed, uint64_t index, uint64_t at_length,
    struct bt_log_entry *entry, void *buf, size_t cap, size_t *len);

/**
 * The consistency proof from the held head of length @p first to the
 * held head of length @p size, for a feed written here (so that a
 * follower holding the first can take in the second).
 * @param proof	out; zeroed on failure.
 * @return BT_OK; BT_EINVAL (first > size); BT_ENOTFOUND (no such feed, or
 *	size above the newest head); BT_EUNSUPPORTED (the feed is followed:
 *	its tree is not held); BT_ECORRUPT; BT_ECRYPTO; or a read error.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btstore_feed_consistency(struct btstore *st,
    const struct bt_pubkey *feed, uint64_t first, uint64_t size,
    struct bt_merkle_proof *proof);

/**
 * Take in a signed head.  For a feed not held, the store starts
 * following it with this head.  Otherwise, against the newest head held
 * (H):
 *  - longer than H: adopted when @p proof, the consistency proof from
 *    H's length to the head's, verifies;
 *  - as long as H, or as long as an older held head: nothing changes
 *    when the roots are equal, a fork when they differ;
 *  - shorter than H and no held head of its length: kept as a verified
 *    older head when @p proof, the consistency proof from its length to
 *    H's, verifies.
 *
 * @param head	in, borrowed.
 * @param proof	in, borrowed, may be NULL when none is needed.
 * @return BT_OK; BT_EINVAL (NULL head, or a proof missing or for other
 *	sizes); BT_EVERIFY (bad signature or proof); BT_ESTALE (shorter than
 *	H, not held, no proof); BT_ECONFLICT (a fork: the evidence was
 *	committed); BT_EPERM (a longer head of a feed written here);
 *	BT_ECORRUPT; BT_ECRYPTO; or a write error as btstore_block_put().
 * @since 0.1
 */
BT_EXPORT BT_WUR int btstore_feed_head_put(struct btstore *st,
    const struct bt_log_head *head, const struct bt_merkle_proof *proof);

/**
 * Take in an entry of a held feed with its payload, in any order.  The
 * entry's head is handled as by btstore_feed_head_put() (with @p proof
 * relating it to the newest head held when it is not held itself), its
 * inclusion proof and the payload are verified, and the entry is stored.
 * An entry already held changes nothing.
 *
 * @param entry	in, borrowed.
 * @param proof	in, borrowed, may be NULL: a consistency proof, needed
 *		only when the entry's head is not held.
 * @param payload in, borrowed: @p len bytes (NULL allowed when len is 0).
 * @return BT_OK; BT_EINVAL; BT_ERANGE (len above the maximum);
 *	BT_ENOTFOUND (the feed is not held: take in a head first);
 *	BT_EVERIFY (head signature, inclusion proof, consistency proof or
 *	payload hash fails; or the head is not held and no proof was given);
 *	BT_ECONFLICT (the entry's head forks the feed: the evidence was
 *	committed, the entry was not); BT_EPERM (an entry under a longer
 *	head of a feed written here); BT_ECORRUPT; BT_ECRYPTO; or a write
 *	error as btstore_block_put().
 * @since 0.1
 */
BT_EXPORT BT_WUR int btstore_feed_entry_put(struct btstore *st,
    const struct bt_log_entry *entry, const struct bt_merkle_proof *proof,
    const void *payload, size_t len);

/**
 * Callback of btstore_feed_have(): the entries [@p start, @p start +
 * @p count) are held.  Return 0 to continue, nonzero to stop.  It must not
 * write to the store (it runs inside a read view).
 */
typedef int (*btstore_feed_range_fn)(void *arg, uint64_t start,
    uint64_t count);

/**
 * The entries of @p feed held, as maximal runs of consecutive indexes in
 * ascending order, starting at index @p from.
 * @param arg	borrowed: passed back unchanged.
 * @return BT_OK (also when none are held); BT_EINVAL; BT_ENOTFOUND (no such
 *	feed); BT_ECORRUPT; or a read error.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btstore_feed_have(struct btstore *st,
    const struct bt_pubkey *feed, uint64_t from, btstore_feed_range_fn fn,
    void *arg);

/**
 * What the store holds of @p feed.
 * @param info	out; zeroed on failure.
 * @return BT_OK; BT_EINVAL; BT_ENOTFOUND; BT_ECORRUPT; or a read error.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btstore_feed_info(struct btstore *st,
    const struct bt_pubkey *feed, struct btstore_feed_info *info);

/**
 * The first fork evidence stored for @p feed (the one of the shortest
 * length), checked again.
 * @param fork	out; zeroed on failure.
 * @return BT_OK; BT_EINVAL; BT_ENOTFOUND (no evidence); BT_ECORRUPT
 *	(stored evidence no longer proves a fork); BT_ECRYPTO; or a read
 *	error.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btstore_feed_fork(struct btstore *st,
    const struct bt_pubkey *feed, struct bt_log_fork *fork);

#ifdef __cplusplus
}
#endif
#endif /* BT_FEED_H */
