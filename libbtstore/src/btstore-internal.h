/*
 * btstore-internal.h - shared inside libbtstore only; never installed.
 *
 * The write machinery every module uses: an operation is a function run
 * inside one write transaction by btstore_write_().  It may run more than
 * once (after the map grew), so it must derive everything from its
 * argument and the transaction, and keep no side effects outside them.
 * Changes it wants announced go through btstore_emit_(); they are queued
 * for the watchers only when the transaction commits, in commit order.
 */
#ifndef BTSTORE_INTERNAL_H
#define BTSTORE_INTERNAL_H

#include <lmdb.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include <bt/store.h>

/* The named databases.  Later modules add theirs before DB_COUNT_. */
enum btstore_db_ {
	BTSTORE_DB_META_ = 0,	/* "format", "blocks", "dht" -> counters */
	BTSTORE_DB_BLOCKS_,	/* id -> block bytes */
	BTSTORE_DB_PINS_,	/* id -> be32 pins (absent when 0) */
	BTSTORE_DB_REFS_,	/* id -> be32 refs (absent when 0) */
	BTSTORE_DB_BAG_,	/* bag || H(value) -> bag entry */
	BTSTORE_DB_BAGADD_,	/* bag || H(value) || adder -> be64 time */
	BTSTORE_DB_BAGTIME_,	/* bag || be64 last || H(value) -> "" */
	BTSTORE_DB_BAGPOP_,	/* bag || be32 count || be64 last || H -> "" */
	BTSTORE_DB_BAGMETA_,	/* bag -> be32 values */
	BTSTORE_DB_DHT_,	/* key -> dht record */
	BTSTORE_DB_DHTEXP_,	/* be64 expires || key -> "" */
	BTSTORE_DB_DHTREP_,	/* be64 republish || key -> "" */
	BTSTORE_DB_DHTORIG_,	/* origin || be64 expires || key -> "" */
	BTSTORE_DB_DHTOBYTES_,	/* origin -> counts (values, bytes) */
	BTSTORE_DB_DHTHEAVY_,	/* be64 bytes || origin -> "" */
	BTSTORE_DB_FRAG_,	/* owner || block || be16 index -> frag record */
	BTSTORE_DB_FRAGEXP_,	/* be64 expires || owner || block || idx -> "" */
	BTSTORE_DB_FEED_,	/* feed key -> feed record (feed.c) */
	BTSTORE_DB_FEEDENT_,	/* feed || be64 index -> entry record */
	BTSTORE_DB_FEEDHEAD_,	/* feed || be64 length -> signed head */
	BTSTORE_DB_FEEDFORK_,	/* feed || be64 length -> fork evidence */
	BTSTORE_DB_RECORD_,	/* target -> stored record (recstore.c) */
	BTSTORE_DB_NS_,		/* namespace key -> signed root record (ns.c) */
	BTSTORE_DB_NSLIVE_,	/* kind || root -> be32 live references (ns.c) */
	BTSTORE_DB_LOCAL_,	/* key -> local entry, never replicated (local.c) */
	BTSTORE_DB_COUNT_
};

/* Room for the named databases of later modules. */
#define BTSTORE_MAXDBS_		64
#define BTSTORE_FORMAT_		1u

struct btstore_ev_ {
	struct btstore_ev_ *next;
	int kind;
	int event;
	size_t keylen;
	uint8_t key[];
};

struct btstore_watch_ {
	uint64_t id;
	int kind;
	btstore_watch_fn fn;
	void *arg;
	size_t keylen;
	uint8_t *key;
};

struct btstore {
	MDB_env *env;
	MDB_dbi dbi[BTSTORE_DB_COUNT_];

	btstore_log_fn log;
	void *log_arg;

	uint64_t map_size;	/* under wlock */
	uint64_t map_max;
	uint64_t block_quota;
	uint64_t dht_total;
	uint64_t dht_origin;
	int nosync;
	int readers_cleared;	/* stale slots cleared at open */
	int writemap;		/* MDB_WRITEMAP in effect */
	uint64_t reserved;	/* with writemap: bytes of data.mdb whose
				 * disk blocks are allocated; under wlock */

	/* Write operations run one at a time, in commit order. */
	pthread_mutex_t wlock;

	/* Views of this process; the map grows only when there are none. */
	pthread_mutex_t vlock;
	pthread_cond_t vcond;
	unsigned views;
	int growing;

	/* Accumulators of feeds appended to (feed.c), under wlock. */
	struct btstore_feed_cache_ *feed_cache;

	/* Notifications. */
	pthread_mutex_t nlock;
	int efd;
	struct btstore_watch_ *watches;	/* sorted by id */
	size_t nwatches, capwatches;
	unsigned nkind[8];
	uint64_t next_watch;
	struct btstore_ev_ *pend_head, *pend_tail;
	size_t npend;
	int overflow;
};

struct btstore_view {
	struct btstore *st;
	MDB_txn *txn;
};

/* One write transaction in progress. */
struct btstore_w_ {
	struct btstore *st;
	MDB_txn *txn;
	struct btstore_ev_ *ev_head, *ev_tail;
	int mapfull;	/* MDB_MAP_FULL seen: grow and run again */
};

typedef int (*btstore_wfn_)(struct btstore_w_ *w, void *arg);

/* Run @p fn in a write transaction, growing the map and retrying on
 * MDB_MAP_FULL, queueing its events on commit. */
int btstore_write_(struct btstore *st, btstore_wfn_ fn, void *arg);

/*
 * A bounded expiry pass: @p fn runs in one write transaction with a
 * struct btstore_expire_ and removes at most @p limit items that expired
 * before @p now, counting them in @c removed.
 */
struct btstore_expire_ {
	uint64_t now;
	size_t limit;
	size_t removed;
};
int btstore_expire_run_(struct btstore *st, btstore_wfn_ fn, uint64_t now,
    size_t limit, size_t *removed);

/* Map an LMDB or errno code to a BT_ code, logging the detail. */
int btstore_err_(struct btstore *st, int mrc, const char *what);
/* The same inside a write: also remembers MDB_MAP_FULL. */
int btstore_werr_(struct btstore_w_ *w, int mrc, const char *what);

/* Record a change to announce if the transaction commits. */
int btstore_emit_(struct btstore_w_ *w, int kind, int event,
    const void *key, size_t keylen);
/* Whether any watch of @p kind exists (cheap filter for bulk writes). */
int btstore_watched_(struct btstore *st, int kind);
/* Queue committed events (notify.c), and release a list of them. */
void btstore_notify_commit_(struct btstore *st, struct btstore_ev_ *head);
void btstore_ev_free_(struct btstore_ev_ *head);
int btstore_notify_init_(struct btstore *st);
void btstore_notify_fini_(struct btstore *st);

/* Begin and end a read transaction counted as a view. */
int btstore_rtxn_begin_(struct btstore *st, MDB_txn **txn);
void btstore_rtxn_end_(struct btstore *st, MDB_txn *txn);

void btstore_log_(struct btstore *st, int level, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Counters kept in the meta database ("blocks", "dht"). */
int btstore_counts_get_(MDB_txn *txn, struct btstore *st, const char *name,
    uint64_t *count, uint64_t *bytes);
int btstore_counts_add_(struct btstore_w_ *w, const char *name,
    int64_t dcount, int64_t dbytes);

/* Release the feed accumulator cache (feed.c); at close. */
void btstore_feed_cache_free_(struct btstore *st);

/* Add new blocks to the store's usage counters, enforcing the quota. */
int btstore_block_account_(struct btstore_w_ *w, uint64_t count,
    uint64_t bytes);

/* Block reference counting inside a write (used by later modules too). */
int btstore_block_refs_add_(struct btstore_w_ *w, const struct bt_id *id,
    int delta);

/* ---- big-endian helpers ------------------------------------------------ */

static inline void
btstore_put_be16_(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void
btstore_put_be32_(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline void
btstore_put_be64_(uint8_t *p, uint64_t v)
{
	btstore_put_be32_(p, (uint32_t)(v >> 32));
	btstore_put_be32_(p + 4, (uint32_t)v);
}

static inline uint16_t
btstore_get_be16_(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

static inline uint32_t
btstore_get_be32_(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
	    ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

static inline uint64_t
btstore_get_be64_(const uint8_t *p)
{
	return ((uint64_t)btstore_get_be32_(p) << 32) |
	    btstore_get_be32_(p + 4);
}

/* ---- stored record layouts (codec.c) ------------------------------------ */
/*
 * Every decoder checks the whole record and returns BT_ECORRUPT for
 * anything malformed; decoded pointers point into the input.
 */

#define BTSTORE_REC_VERSION_	1

/* Counters: be64 count, be64 bytes. */
#define BTSTORE_COUNTS_LEN_	16
void btstore_counts_encode_(uint8_t out[BTSTORE_COUNTS_LEN_], uint64_t count,
    uint64_t bytes);
int btstore_counts_decode_(const void *buf, size_t len, uint64_t *count,
    uint64_t *bytes);

/* A be32 counter (pins, refs, bag sizes). */
int btstore_u32_decode_(const void *buf, size_t len, uint32_t *v);
/* A be64 time (bag adders). */
int btstore_u64_decode_(const void *buf, size_t len, uint64_t *v);

/* Bag entry: u8 version, be32 count, be64 first, be64 last, be16 len,
 * value. */
#define BTSTORE_BAGREC_HDR_	23
struct btstore_bagrec_ {
	uint32_t count;
	uint64_t first;
	uint64_t last;
	const uint8_t *value;
	size_t len;
};
size_t btstore_bagrec_size_(size_t vlen);
void btstore_bagrec_encode_(uint8_t *out, const struct btstore_bagrec_ *r);
int btstore_bagrec_decode_(const void *buf, size_t len,
    struct btstore_bagrec_ *r);

/* DHT value: u8 version, origin[32], be64 expires, be64 republish,
 * be32 len, value. */
#define BTSTORE_DHTREC_HDR_	53
struct btstore_dhtrec_ {
	struct bt_id origin;
	uint64_t expires;
	uint64_t republish;
	const uint8_t *value;
	size_t len;
};
size_t btstore_dhtrec_size_(size_t vlen);
void btstore_dhtrec_encode_(uint8_t *out, const struct btstore_dhtrec_ *r);
int btstore_dhtrec_decode_(const void *buf, size_t len,
    struct btstore_dhtrec_ *r);

/* Held fragment: u8 version, be64 expires, contract[32], sha256[32],
 * be32 len, bytes. */
#define BTSTORE_FRAGREC_HDR_	77
struct btstore_fragrec_ {
	uint64_t expires;
	struct bt_id contract;
	struct bt_id hash;
	const uint8_t *data;
	size_t len;
};
size_t btstore_fragrec_size_(size_t len);
void btstore_fragrec_encode_(uint8_t *out, const struct btstore_fragrec_ *r);
int btstore_fragrec_decode_(const void *buf, size_t len,
    struct btstore_fragrec_ *r);

#endif /* BTSTORE_INTERNAL_H */
