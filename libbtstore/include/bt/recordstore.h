/*
 * bt/recordstore.h - signed mutable records held in a store: the values
 * of the DHT's namespace-set / namespace-ref (libbtcore's <bt/record.h>),
 * and the roots of namespaces.
 *
 * A store holds at most one record per (public key, key), found by that
 * pair or by its target id SHA-256(public key || key).  Putting a record
 * follows the sequence rules of btcore_record_compare(): a higher
 * sequence replaces the stored record, the same sequence and value only
 * refreshes its time stamp, a lower sequence is refused with BT_ESTALE
 * and the same sequence with another value with BT_ECONFLICT.  A put may
 * also require the stored record to be the one the caller last saw
 * (compare-and-swap on its sequence), refused with BT_ESTATE otherwise.
 *
 * Signatures are checked on every put, and the stored bytes are checked
 * again (signature included) on every get: a damaged record is reported
 * as BT_ECORRUPT, never returned.
 *
 * Notifications: BTSTORE_TOPIC_RECORD with the 32-byte target id, event
 * BTSTORE_EV_PUT, when a put stores a new record or replaces one (a
 * refresh is not announced).
 *
 * Thread safety: as <bt/store.h>.
 */
#ifndef BT_RECORDSTORE_H
#define BT_RECORDSTORE_H

#include <bt/common.h>
#include <bt/id.h>
#include <bt/key.h>
#include <bt/record.h>
#include <bt/store.h>

#ifdef __cplusplus
extern "C" {
#endif

/** btstore_record_put(): replace only a stored record of sequence
 *  @c expect_seq (none stored is a mismatch). */
#define BTSTORE_RECORD_IF_SEQ		0x1u
/** btstore_record_put(): store only when no record is stored. */
#define BTSTORE_RECORD_IF_ABSENT	0x2u

/**
 * Store @p rec under (rec->pub, rec->key) by the sequence rules, after
 * checking its signature.
 *
 * @param rec	in, borrowed: the record (its value is copied).
 * @param now	the caller's clock in any unit: kept as the record's time
 *		stamp when it is stored or refreshed.
 * @param flags	0, BTSTORE_RECORD_IF_SEQ or BTSTORE_RECORD_IF_ABSENT.
 * @param expect_seq with BTSTORE_RECORD_IF_SEQ: the sequence the stored
 *		record must have; ignored otherwise.
 * @param outcome out, may be NULL: BTCORE_RECORD_ACCEPT (stored or
 *		replaced) or BTCORE_RECORD_REFRESH (same record; time stamp
 *		updated).
 * @return BT_OK; BT_EINVAL (NULL, both flags, unknown flags); BT_ERANGE
 *	(key or value length); BT_EVERIFY (bad signature); BT_ESTALE (lower
 *	sequence than the stored record); BT_ECONFLICT (same sequence,
 *	different value); BT_ESTATE (the compare-and-swap condition does not
 *	hold: re-read and decide again); BT_ECORRUPT (the stored record is
 *	damaged); BT_ENOMEM; BT_ECRYPTO; or a write error as
 *	btstore_block_put().
 * @since 0.1
 */
BT_EXPORT BT_WUR int btstore_record_put(struct btstore *st,
    const struct bt_record *rec, uint64_t now, unsigned flags,
    uint64_t expect_seq, int *outcome);

/**
 * The record stored under (@p pub, @p key), verified.
 *
 * @param key	in, borrowed: 1..BTCORE_RECORD_KEY_MAX bytes.
 * @param out	out: the record; out->value points into @p buf (valid as
 *		long as @p buf is).  Zeroed on failure.
 * @param buf	out: receives the record's encoding (btcore_record_encode()
 *		layout), at most BTCORE_RECORD_ENC_MAX bytes; @p cap bytes.
 * @param len	out, may be NULL: the encoding's length (also set with
 *		BT_ERANGE).
 * @param stamp	out, may be NULL: the time stamp of the last put that
 *		stored or refreshed it.
 * @return BT_OK; BT_EINVAL; BT_ERANGE (key length, or @p cap too small);
 *	BT_ENOTFOUND; BT_ECORRUPT (stored bytes damaged or their signature
 *	fails); BT_ENOMEM; BT_ECRYPTO; or a read error as
 *	btstore_block_get().
 * @since 0.1
 */
BT_EXPORT BT_WUR int btstore_record_get(struct btstore *st,
    const struct bt_pubkey *pub, const void *key, size_t key_len,
    struct bt_record *out, void *buf, size_t cap, size_t *len,
    uint64_t *stamp);

/**
 * The record stored under the target id @p target (see
 * btcore_record_target()), verified.  Parameters and errors as
 * btstore_record_get().
 * @since 0.1
 */
BT_EXPORT BT_WUR int btstore_record_get_target(struct btstore *st,
    const struct bt_id *target, struct bt_record *out, void *buf, size_t cap,
    size_t *len, uint64_t *stamp);

#ifdef __cplusplus
}
#endif
#endif /* BT_RECORDSTORE_H */
