/*
 * bt/local.h - the store's private local area: a small key-value space
 * for the node's own bookkeeping (friends' peer files, allow-lists,
 * installed programs) that never leaves the node.
 *
 * The local area is one named database of the store.  It is not part of
 * any namespace, file tree, directory, record or DHT value: nothing in
 * it is signed, referenced, announced, replicated or served to another
 * node, and the store's block references and garbage collection never
 * see it.  Whoever can read the store's files can read it (it is not
 * encrypted): it is private because it stays on the node.
 *
 * Keys are 1..BTSTORE_LOCAL_KEY_MAX bytes of any value, ordered bytewise
 * (a shorter key sorts before the longer keys it begins).  Values are
 * 0..BTSTORE_LOCAL_VALUE_MAX bytes.  Every put and delete is one write
 * transaction.  Each value is stored with its key and the SHA-256 of
 * both, checked on every read: a damaged value is reported as
 * BT_ECORRUPT, never returned.
 *
 * Notifications: none (nothing else on the node follows these values).
 *
 * Thread safety: as <bt/store.h>.
 */
#ifndef BT_LOCAL_H
#define BT_LOCAL_H

#include <bt/common.h>
#include <bt/store.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Longest key in bytes. */
#define BTSTORE_LOCAL_KEY_MAX		255
/** Largest value in bytes (1 MiB). */
#define BTSTORE_LOCAL_VALUE_MAX		(1024 * 1024)

/**
 * Store @p value under @p key, replacing any value stored there.
 *
 * @param key	in, borrowed: 1..BTSTORE_LOCAL_KEY_MAX bytes.
 * @param value	in, borrowed: @p vlen bytes, copied (may be NULL when
 *		vlen is 0).
 * @return BT_OK; BT_EINVAL (NULL store, key, or value with vlen > 0);
 *	BT_ERANGE (key length); BT_ETOOBIG (vlen > BTSTORE_LOCAL_VALUE_MAX);
 *	BT_ECRYPTO; or a write error as btstore_block_put() (BT_ENOSPC,
 *	BT_ENOMEM, BT_EAGAIN, BTSTORE_EREADERS, BTSTORE_ETXNFULL,
 *	BTSTORE_EPANIC, BTSTORE_ELMDB, BT_EIO).
 * @since 0.1
 */
BT_EXPORT BT_WUR int btstore_local_put(struct btstore *st, const void *key,
    size_t klen, const void *value, size_t vlen);

/**
 * Copy out the value stored under @p key, verified.
 *
 * @param key	in, borrowed: 1..BTSTORE_LOCAL_KEY_MAX bytes.
 * @param buf	out: receives the value; at most @p cap bytes are written
 *		(may be NULL when cap is 0).
 * @param len	out, may be NULL: the value's length (also set with
 *		BT_ERANGE for a short @p buf; 0 on other failures).
 * @return BT_OK; BT_EINVAL; BT_ERANGE (key length, or @p cap smaller
 *	than the value: nothing is copied); BT_ENOTFOUND; BT_ECORRUPT (the
 *	stored value is damaged; nothing is copied); BT_ECRYPTO; or a read
 *	error (BT_ENOMEM, BTSTORE_EREADERS, BT_EAGAIN, BTSTORE_ELMDB).
 * @since 0.1
 */
BT_EXPORT BT_WUR int btstore_local_get(struct btstore *st, const void *key,
    size_t klen, void *buf, size_t cap, size_t *len);

/**
 * Zero-copy read of the value stored under @p key inside view @p v,
 * verified.
 *
 * @param value	out: valid until the view ends; never write through it.
 *		NULL on failure and for an empty value.
 * @param len	out: the value's length; 0 on failure.
 * @return BT_OK, BT_EINVAL, BT_ERANGE (key length), BT_ENOTFOUND,
 *	BT_ECORRUPT, BT_ECRYPTO, BTSTORE_ELMDB.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btstore_view_local_get(struct btstore_view *v,
    const void *key, size_t klen, const void **value, size_t *len);

/**
 * Delete the value stored under @p key.
 *
 * @param key	in, borrowed: 1..BTSTORE_LOCAL_KEY_MAX bytes.
 * @return BT_OK; BT_EINVAL; BT_ERANGE (key length); BT_ENOTFOUND (no
 *	value there; nothing changes); or a write error as
 *	btstore_local_put().
 * @since 0.1
 */
BT_EXPORT BT_WUR int btstore_local_del(struct btstore *st, const void *key,
    size_t klen);

/**
 * Callback of btstore_local_list(): one stored entry, verified.  @p key
 * and @p value are borrowed, valid during the call only (@p value is
 * NULL for an empty value).  Return 0 to go on, anything else to stop.
 * The callback runs inside the listing's read view: it may read the
 * store, but should not write to it (a write that must grow the map
 * fails with BT_EAGAIN while a view is open on its thread).
 */
typedef int (*btstore_local_list_fn)(void *arg, const void *key, size_t klen,
    const void *value, size_t vlen);

/** Most entries one btstore_local_list() visits. */
#define BTSTORE_LOCAL_LIST_MAX		65536

/**
 * Visit, in one view and in key order (bytewise), the entries whose key
 * begins with @p prefix, and no others: at most BTSTORE_LOCAL_LIST_MAX
 * of them.  Every visited value is verified before its callback.
 *
 * @param prefix	in, borrowed: 0..BTSTORE_LOCAL_KEY_MAX bytes (may be
 *			NULL when plen is 0: every entry).
 * @param fn		the callback.
 * @param arg		borrowed: passed back unchanged.
 * @return BT_OK (every matching entry visited, or the callback stopped);
 *	BT_EINVAL; BT_ERANGE (prefix length, or more than
 *	BTSTORE_LOCAL_LIST_MAX entries match: the first
 *	BTSTORE_LOCAL_LIST_MAX were visited); BT_ECORRUPT (a damaged entry:
 *	the listing stops before it); BT_ECRYPTO; or a read error as
 *	btstore_local_get().
 * @since 0.1
 */
BT_EXPORT BT_WUR int btstore_local_list(struct btstore *st,
    const void *prefix, size_t plen, btstore_local_list_fn fn, void *arg);

#ifdef __cplusplus
}
#endif
#endif /* BT_LOCAL_H */
