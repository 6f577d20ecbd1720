/*
 * bt/store.h - the node's persistent store on LMDB: opening, read views,
 * blocks, garbage collection and change notifications.
 *
 * A store is one LMDB environment in a directory (data.mdb and lock.mdb)
 * holding named databases.  Every operation that changes the store is one
 * write transaction: it is either wholly committed or not at all.  Writers
 * are serialised inside the process; readers (views) never block writers
 * and see one consistent snapshot each.
 *
 * Thread safety: a struct btstore may be used from any number of threads at
 * once.  A struct btstore_view is used by one thread at a time (it may move
 * between threads).  Notification callbacks run on the thread that calls
 * btstore_notify_dispatch().
 *
 * Failure: when an operation fails half-way (storage engine error, map
 * full, quota reached, out of memory) its transaction is aborted and the
 * store stays usable; nothing committed earlier is lost.  Only
 * BTSTORE_EPANIC (the storage engine declared the environment unusable)
 * requires closing and reopening the store.
 */
#ifndef BT_STORE_H
#define BT_STORE_H

#include <bt/common.h>
#include <bt/block.h>
#include <bt/id.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- errors and version ------------------------------------------------ */

/** Too many read views open at once (raise BTSTORE_OPT_MAX_READERS). */
#define BTSTORE_EREADERS	(BT_ERR_BTSTORE_BASE - 1)
/** One operation touched more pages than a transaction can hold. */
#define BTSTORE_ETXNFULL	(BT_ERR_BTSTORE_BASE - 2)
/** The storage engine failed fatally; close and reopen the store. */
#define BTSTORE_EPANIC		(BT_ERR_BTSTORE_BASE - 3)
/** Any other storage engine error (the detail goes to the log callback). */
#define BTSTORE_ELMDB		(BT_ERR_BTSTORE_BASE - 4)
/** The store was written by a newer, incompatible format. */
#define BTSTORE_ENEWER		(BT_ERR_BTSTORE_BASE - 5)

/** Compile-time version of the headers. */
#define BTSTORE_VERSION_MAJOR	0
#define BTSTORE_VERSION_MINOR	1
#define BTSTORE_VERSION_PATCH	0

/**
 * Describe an error code of libbtstore; other codes are described by
 * btcore_strerror().
 * @return static text, never NULL.  Thread safe.
 * @since 0.1
 */
BT_EXPORT const char *btstore_strerror(int err);

/** The library's version as "MAJOR.MINOR.PATCH".  Static text. @since 0.1 */
BT_EXPORT const char *btstore_version(void);

/* ---- options ------------------------------------------------------------ */

/** Opaque set of options for btstore_open(). */
struct btstore_options;

/** Option keys for btstore_options_set(); every value is a uint64_t. */
enum btstore_opt {
	/** Map size at open in bytes (default 64 MiB; at least 1 MiB). */
	BTSTORE_OPT_MAP_INITIAL = 1,
	/** Largest map in bytes the store may grow to (default 256 GiB). */
	BTSTORE_OPT_MAP_MAX = 2,
	/** Bytes of block payload the store may hold (default 0: no quota). */
	BTSTORE_OPT_BLOCK_QUOTA = 3,
	/** 1: commits are not flushed to disk until btstore_sync() (default
	 *  0: every commit is durable when it returns). */
	BTSTORE_OPT_NOSYNC = 4,
	/** Bytes of DHT values held in total (default 64 MiB). */
	BTSTORE_OPT_DHT_TOTAL = 5,
	/** Bytes of DHT values held for one origin (default 1 MiB). */
	BTSTORE_OPT_DHT_PER_ORIGIN = 6,
	/** Read views open at once, all processes together (default 126). */
	BTSTORE_OPT_MAX_READERS = 7,
	/**
	 * 1 (the default): write through a writable memory map (LMDB's
	 * MDB_WRITEMAP) where the file system can reserve disk blocks for
	 * it; 0: write each changed page with write(2).  The map makes
	 * small commits (single feed appends, record puts) about a third
	 * cheaper, and a crash of the process still loses nothing
	 * committed.  The store reserves the disk blocks of the whole map
	 * with fallocate(2) at open and before each growth, so a write
	 * into the map never meets a full file system (which would raise
	 * SIGBUS); a growth that cannot be reserved fails with BT_ENOSPC
	 * instead, losing nothing committed.  The costs: data.mdb takes
	 * the map's size on disk (the map grows by doubling, at most
	 * 1 GiB at a time, so at most that much beyond what is used); a
	 * stray write anywhere in the process can reach stored pages; and
	 * pages reused in a store much larger than memory are read before
	 * being overwritten.  On file systems that copy on write (btrfs,
	 * ZFS, bcachefs), network and FUSE file systems, and where
	 * fallocate(2) is not supported, a reservation would not hold and
	 * the store writes as with 0.  Every process opening the store
	 * must use the same value.  @since 0.1
	 */
	BTSTORE_OPT_WRITEMAP = 8
};

/** Log levels passed to the log callback. */
#define BTSTORE_LOG_ERROR	1
#define BTSTORE_LOG_INFO	2

/**
 * Log callback: @p msg is borrowed, valid during the call only.  Called
 * from whichever thread hit the event; it must not call into the store.
 */
typedef void (*btstore_log_fn)(void *arg, int level, const char *msg);

/**
 * New options holding the defaults.
 * @param out	out: caller owns; release with btstore_options_free().
 * @return BT_OK, BT_EINVAL or BT_ENOMEM.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btstore_options_new(struct btstore_options **out);

/** Release @p opts; NULL is a no-op.  @since 0.1 */
BT_EXPORT void btstore_options_free(struct btstore_options *opts);

/**
 * Set one option.
 * @return BT_OK, BT_EINVAL for an unknown key or NULL @p opts, BT_ERANGE
 *	for a value outside the key's range.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btstore_options_set(struct btstore_options *opts,
    enum btstore_opt key, uint64_t value);

/**
 * Set the log callback (NULL for none, the default).  @p arg is borrowed
 * and passed back unchanged.
 * @return BT_OK or BT_EINVAL.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btstore_options_set_log(struct btstore_options *opts,
    btstore_log_fn fn, void *arg);

/* ---- the store -------------------------------------------------------- */

/** An open store.  Opaque. */
struct btstore;

/**
 * Open (creating if needed) the store in directory @p dir, which must
 * exist.  Stale reader slots left by dead processes are cleared.  The
 * disk blocks of the map (see BTSTORE_OPT_WRITEMAP) and of the reader
 * table (lock.mdb) are reserved, so that no write through a shared map
 * can meet a full file system.
 *
 * @param out	out: caller owns; release with btstore_close().  NULL on
 *		failure.
 * @param dir	in, borrowed: the directory.
 * @param opts	in, borrowed, may be NULL for the defaults; not kept.
 * @return BT_OK, BT_EINVAL, BT_ENOMEM, BT_ENOTFOUND (no such directory),
 *	BT_EPERM, BT_EIO, BT_ENOSPC (no room to reserve the map or the
 *	reader table), BT_ECORRUPT (not a store), BTSTORE_ENEWER, or
 *	BTSTORE_ELMDB.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btstore_open(struct btstore **out, const char *dir,
    const struct btstore_options *opts);

/**
 * Close the store; NULL is a no-op.  Every view must have ended and no
 * other thread may be using the store.  Pending notifications are dropped.
 * @since 0.1
 */
BT_EXPORT void btstore_close(struct btstore *st);

/**
 * Flush every commit to disk (needed only with BTSTORE_OPT_NOSYNC).
 * @return BT_OK, BT_EIO or BTSTORE_ELMDB.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btstore_sync(struct btstore *st);

/**
 * The current map size and the bytes of it in use.  Either out pointer
 * may be NULL.
 * @return BT_OK, BT_EINVAL or BTSTORE_ELMDB.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btstore_map_info(struct btstore *st, uint64_t *map_size,
    uint64_t *map_used);

/* ---- read views --------------------------------------------------------- */

/** A read-only snapshot of the store.  Opaque. */
struct btstore_view;

/**
 * Begin a read view: a consistent snapshot that later commits do not
 * change.  Keep views short: while one is open, the pages it sees cannot
 * be reused, and growing the map waits (at most 5 s) for every view of
 * the process to end.
 *
 * @param out	out: caller owns; release with btstore_view_end().
 * @return BT_OK, BT_EINVAL, BT_ENOMEM, BTSTORE_EREADERS, BT_EAGAIN (the
 *	map is being resized by another process; retry) or BTSTORE_ELMDB.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btstore_view_begin(struct btstore *st,
    struct btstore_view **out);

/**
 * End @p v; NULL is a no-op.  Every pointer obtained through it becomes
 * invalid.
 * @since 0.1
 */
BT_EXPORT void btstore_view_end(struct btstore_view *v);

/* ---- blocks ------------------------------------------------------------- */

/** Largest block payload in bytes (the suite's block limit). */
#define BTSTORE_BLOCK_MAX	BTCORE_BLOCK_MAX

/** Flags for btstore_block_put() and btstore_block_put_many(). */
#define BTSTORE_PUT_PIN		0x1u	/* also pin each block once */

/** One block for btstore_block_put_many(): a small value type. */
struct btstore_block {
	struct bt_id id;	/* the SHA-256 of the bytes */
	const void *data;	/* borrowed */
	size_t len;		/* at most BTSTORE_BLOCK_MAX */
};

/**
 * Store a block.  The bytes must hash (SHA-256) to @p id.  Storing a
 * block already present changes nothing (but BTSTORE_PUT_PIN still pins).
 * A new block is collectable by btstore_gc() until it is pinned or
 * referenced.
 *
 * @param id	in, borrowed: the block's id.
 * @param data	in, borrowed: @p len bytes (may be NULL when len is 0).
 * @param flags	0 or BTSTORE_PUT_PIN.
 * @return BT_OK, BT_EINVAL, BT_ETOOBIG (len > BTSTORE_BLOCK_MAX),
 *	BT_EVERIFY (hash mismatch), BT_ENOSPC (block quota, the map at its
 *	maximum, or no disk blocks for the map to grow), BT_ECRYPTO, BT_ENOMEM, BT_EAGAIN (map growth waited for
 *	read views too long, or this thread holds a view while the map must
 *	grow), BTSTORE_EREADERS, BTSTORE_ETXNFULL, BTSTORE_EPANIC,
 *	BTSTORE_ELMDB, BT_EIO.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btstore_block_put(struct btstore *st,
    const struct bt_id *id, const void *data, size_t len, unsigned flags);

/**
 * Store @p n blocks in one transaction: all or none.  Each is verified
 * against its id before anything is written.
 *
 * @param blocks	in, borrowed: the blocks.
 * @param added		out, may be NULL: how many were new.
 * @return as btstore_block_put(); BT_EVERIFY if any block fails.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btstore_block_put_many(struct btstore *st,
    const struct btstore_block *blocks, size_t n, unsigned flags,
    size_t *added);

/**
 * Copy a block out, verified against its id.
 *
 * @param buf	out: receives the bytes; at most @p cap are written.
 * @param len	out: the block's size (also set with BT_ERANGE).
 * @return BT_OK, BT_EINVAL, BT_ENOTFOUND, BT_ERANGE (@p cap too small),
 *	BT_ECORRUPT (stored bytes do not hash to the id; nothing is copied),
 *	BT_ECRYPTO, BT_ENOMEM, BTSTORE_EREADERS, BT_EAGAIN, BTSTORE_ELMDB.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btstore_block_get(struct btstore *st,
    const struct bt_id *id, void *buf, size_t cap, size_t *len);

/**
 * Zero-copy read of a block inside view @p v, verified against its id.
 *
 * @param data	out: valid until the view ends; never write through it.
 *		NULL on failure.
 * @param len	out: the block's size; 0 on failure.
 * @return BT_OK, BT_EINVAL, BT_ENOTFOUND, BT_ECORRUPT, BT_ECRYPTO,
 *	BTSTORE_ELMDB.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btstore_view_block_get(struct btstore_view *v,
    const struct bt_id *id, const void **data, size_t *len);

/**
 * Whether a block is stored (its bytes are not verified).
 * @return BT_OK when present, BT_ENOTFOUND, or an error as
 *	btstore_block_get().
 * @since 0.1
 */
BT_EXPORT BT_WUR int btstore_block_has(struct btstore *st,
    const struct bt_id *id);

/**
 * Pin and unpin a block: a pinned block is never collected.  Pins are
 * counted; each pin needs its own unpin.
 * @return BT_OK, BT_EINVAL, BT_ENOTFOUND (no such block), BT_ESTATE
 *	(unpin of an unpinned block), BT_ERANGE (2^32 - 1 pins), or a
 *	write error as btstore_block_put().
 * @since 0.1
 */
BT_EXPORT BT_WUR int btstore_block_pin(struct btstore *st,
    const struct bt_id *id);
/** Remove one pin; errors as btstore_block_pin().  @since 0.1 */
BT_EXPORT BT_WUR int btstore_block_unpin(struct btstore *st,
    const struct bt_id *id);

/**
 * Count and uncount a reference to a block from stored structures (file
 * trees, directories, logs).  A referenced block is never collected.  A
 * reference may be taken before the block arrives.
 * @return BT_OK, BT_EINVAL, BT_ESTATE (unref of an unreferenced block),
 *	BT_ERANGE, or a write error as btstore_block_put().
 * @since 0.1
 */
BT_EXPORT BT_WUR int btstore_block_ref(struct btstore *st,
    const struct bt_id *id);
/** Remove one reference; errors as btstore_block_ref().  @since 0.1 */
BT_EXPORT BT_WUR int btstore_block_unref(struct btstore *st,
    const struct bt_id *id);

/**
 * A block's pin and reference counts (0 when absent).  Either out pointer
 * may be NULL.
 * @return BT_OK, BT_EINVAL, BT_ECORRUPT, or a read error.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btstore_block_counts(struct btstore *st,
    const struct bt_id *id, uint32_t *pins, uint32_t *refs);

/**
 * Blocks stored and their payload bytes.  Either out pointer may be NULL.
 * @return BT_OK, BT_EINVAL, BT_ECORRUPT, or a read error.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btstore_block_usage(struct btstore *st, uint64_t *count,
    uint64_t *bytes);

/**
 * One bounded step of garbage collection: examine at most @p max_scan
 * blocks (1..100000) in id order, starting after where the previous step
 * stopped, and delete those with no pin and no reference, in one
 * transaction.
 *
 * @param removed	out, may be NULL: blocks deleted by this step.
 * @param finished	out, may be NULL: 1 when this step reached the end of
 *			the blocks (the next step starts a new pass), else 0.
 * @return BT_OK, BT_EINVAL, BT_ERANGE, or a write error.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btstore_gc(struct btstore *st, size_t max_scan,
    size_t *removed, int *finished);

/* ---- change notifications ------------------------------------------------ */

/** Topic kinds: what a watch key names. */
#define BTSTORE_TOPIC_BLOCK	1	/* a block id (32 bytes) */
#define BTSTORE_TOPIC_PATH	2	/* a path; the watch key is a prefix */
#define BTSTORE_TOPIC_FEED	3	/* a feed id (32 bytes) */
#define BTSTORE_TOPIC_RECORD	4	/* a record id (32 bytes) */
#define BTSTORE_TOPIC_BAG	5	/* a bag key (32 bytes) */
#define BTSTORE_TOPIC_DHT	6	/* a DHT value key (32 bytes) */
#define BTSTORE_TOPIC_FRAG	7	/* an owner id of held fragments */

/** Longest topic key in bytes. */
#define BTSTORE_TOPIC_KEY_MAX	1024

/** Event codes passed to a watch callback. */
#define BTSTORE_EV_PUT		1	/* stored or changed */
#define BTSTORE_EV_DEL		2	/* deleted, collected, expired */
#define BTSTORE_EV_OVERFLOW	3	/* events were dropped (see below) */

/**
 * Pending events held; past this, new events are dropped and each watch
 * affected gets one BTSTORE_EV_OVERFLOW instead.
 */
#define BTSTORE_NOTIFY_QUEUE_MAX	65536

/**
 * Watch callback.  @p key (borrowed, valid during the call) is the topic
 * key of the change (for BTSTORE_TOPIC_PATH the full path that changed;
 * NULL with BTSTORE_EV_OVERFLOW).  The callback may call any store
 * function, including btstore_watch() and btstore_unwatch(), but not
 * btstore_notify_dispatch() or btstore_close().
 */
typedef void (*btstore_watch_fn)(void *arg, int kind, int event,
    const void *key, size_t keylen);

/**
 * Register @p fn for changes on (@p kind, @p key).  Exact keys match
 * exactly; a BTSTORE_TOPIC_PATH key matches a changed path equal to it or
 * below it (the key "/ns/a" matches "/ns/a" and "/ns/a/b", not "/ns/ab";
 * "/" matches every path).  A change is queued when its transaction
 * commits, in commit order, only for the watches registered at that
 * moment.  When more than BTSTORE_NOTIFY_QUEUE_MAX events are pending,
 * new ones are dropped and every watch receives one BTSTORE_EV_OVERFLOW.
 *
 * @param key	in, borrowed: copied; 1..BTSTORE_TOPIC_KEY_MAX bytes.
 * @param arg	borrowed: passed back unchanged.
 * @param watch	out: the watch's handle for btstore_unwatch().
 * @return BT_OK, BT_EINVAL, BT_ERANGE (key length), BT_ENOMEM.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btstore_watch(struct btstore *st, int kind,
    const void *key, size_t keylen, btstore_watch_fn fn, void *arg,
    uint64_t *watch);

/**
 * Remove a watch; its callback is not called again after this returns
 * (unless it is running right now on another thread).
 * @return BT_OK, BT_EINVAL or BT_ENOTFOUND.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btstore_unwatch(struct btstore *st, uint64_t watch);

/**
 * A file descriptor that polls readable while events are pending.  Owned
 * by the store (closed by btstore_close()); never read or write it.
 * @return the descriptor, or -1 for a NULL store.
 * @since 0.1
 */
BT_EXPORT int btstore_notify_fd(struct btstore *st);

/**
 * Run the callbacks of every pending event on this thread, in commit
 * order.  Call it from one thread at a time (typically the event loop's,
 * when btstore_notify_fd() is readable).
 *
 * @param delivered	out, may be NULL: callbacks called.
 * @return BT_OK or BT_EINVAL.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btstore_notify_dispatch(struct btstore *st,
    size_t *delivered);

#ifdef __cplusplus
}
#endif
#endif /* BT_STORE_H */
