/*
 * store.c - opening the environment, options, errors, read views, and the
 * write machinery (one transaction per operation, map growth, retry).
 *
 * Growing the map: LMDB may change the map size only while the process
 * has no transaction open.  Writes are serialised by wlock, so no write
 * transaction is open while the writer holding wlock grows the map; read
 * views are counted, and new ones wait while `growing` is set.  A thread
 * that itself holds a view cannot wait for views to drain, so its write
 * fails with BT_EAGAIN instead of deadlocking.
 */
#include <bt/error.h>
#include <bt/ns.h>
#include <bt/store.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "btstore-internal.h"

#ifndef BTSTORE_VERSION_STRING
#error "the build defines BTSTORE_VERSION_STRING from libbtstore/VERSION"
#endif

#define MIB			(1024ull * 1024ull)
#define DEF_MAP_INITIAL		(64 * MIB)
#define DEF_MAP_MAX		(256 * 1024 * MIB)
#define DEF_DHT_TOTAL		(64 * MIB)
#define DEF_DHT_ORIGIN		(1 * MIB)
#define DEF_MAX_READERS		126
#define GROW_WAIT_S		5

/* Views this thread holds, in any store: such a thread cannot wait for
 * the views of its process to end. */
static _Thread_local unsigned views_held;

static const char *const db_names[BTSTORE_DB_COUNT_] = {
	"meta", "blocks", "pins", "refs", "bag", "bag.adders", "bag.time",
	"bag.popular", "bag.meta", "dht", "dht.expires", "dht.republish",
	"dht.origin", "dht.origin.bytes", "dht.heavy", "frag", "frag.expires",
	"feed", "feed.entries", "feed.tree", "feed.heads", "feed.forks",
	"record", "ns", "ns.live",
};

const char *
btstore_strerror(int err)
{
	switch (err) {
	case BTSTORE_EREADERS:
		return "too many read views open at once";
	case BTSTORE_ETXNFULL:
		return "operation too large for one transaction";
	case BTSTORE_EPANIC:
		return "storage engine failed; close and reopen the store";
	case BTSTORE_ELMDB:
		return "storage engine error";
	case BTSTORE_ENEWER:
		return "store written by a newer format";
	case BTSTORE_ENOTDIR:
		return "a path component is not a directory";
	case BTSTORE_EISDIR:
		return "the path names a directory";
	default:
		return btcore_strerror(err);
	}
}

const char *
btstore_version(void)
{
	return BTSTORE_VERSION_STRING;
}

/* ---- options ------------------------------------------------------------ */

struct btstore_options {
	uint64_t map_initial;
	uint64_t map_max;
	uint64_t block_quota;
	uint64_t nosync;
	uint64_t dht_total;
	uint64_t dht_origin;
	uint64_t max_readers;
	uint64_t writemap;
	btstore_log_fn log;
	void *log_arg;
};

static void
options_default(struct btstore_options *o)
{
	memset(o, 0, sizeof(*o));
	o->map_initial = DEF_MAP_INITIAL;
	o->map_max = DEF_MAP_MAX;
	o->dht_total = DEF_DHT_TOTAL;
	o->dht_origin = DEF_DHT_ORIGIN;
	o->max_readers = DEF_MAX_READERS;
	if (sizeof(size_t) < 8 && o->map_max > SIZE_MAX / 2)
		o->map_max = SIZE_MAX / 2;
}

int
btstore_options_new(struct btstore_options **out)
{
	struct btstore_options *o;

	if (out == NULL)
		return BT_EINVAL;
	*out = NULL;
	if ((o = malloc(sizeof(*o))) == NULL)
		return BT_ENOMEM;
	options_default(o);
	*out = o;
	return BT_OK;
}

void
btstore_options_free(struct btstore_options *opts)
{
	free(opts);
}

int
btstore_options_set(struct btstore_options *o, enum btstore_opt key,
    uint64_t v)
{
	if (o == NULL)
		return BT_EINVAL;
	switch (key) {
	case BTSTORE_OPT_MAP_INITIAL:
		if (v < MIB || v > SIZE_MAX / 2)
			return BT_ERANGE;
		o->map_initial = v;
		return BT_OK;
	case BTSTORE_OPT_MAP_MAX:
		if (v < MIB || v > SIZE_MAX / 2)
			return BT_ERANGE;
		o->map_max = v;
		return BT_OK;
	case BTSTORE_OPT_BLOCK_QUOTA:
		o->block_quota = v;
		return BT_OK;
	case BTSTORE_OPT_NOSYNC:
		if (v > 1)
			return BT_ERANGE;
		o->nosync = v;
		return BT_OK;
	case BTSTORE_OPT_DHT_TOTAL:
		o->dht_total = v;
		return BT_OK;
	case BTSTORE_OPT_DHT_PER_ORIGIN:
		o->dht_origin = v;
		return BT_OK;
	case BTSTORE_OPT_MAX_READERS:
		if (v < 1 || v > 65536)
			return BT_ERANGE;
		o->max_readers = v;
		return BT_OK;
	case BTSTORE_OPT_WRITEMAP:
		if (v > 1)
			return BT_ERANGE;
		o->writemap = v;
		return BT_OK;
	default:
		return BT_EINVAL;
	}
}

int
btstore_options_set_log(struct btstore_options *o, btstore_log_fn fn,
    void *arg)
{
	if (o == NULL)
		return BT_EINVAL;
	o->log = fn;
	o->log_arg = arg;
	return BT_OK;
}

/* ---- errors and logging --------------------------------------------------- */

void
btstore_log_(struct btstore *st, int level, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	if (st == NULL || st->log == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	st->log(st->log_arg, level, msg);
}

int
btstore_err_(struct btstore *st, int mrc, const char *what)
{
	int rc;

	switch (mrc) {
	case MDB_SUCCESS:
		return BT_OK;
	case MDB_NOTFOUND:
		return BT_ENOTFOUND;
	case MDB_KEYEXIST:
		return BT_EEXIST;
	case MDB_MAP_FULL:
		return BT_ENOSPC;
	case MDB_READERS_FULL:
		rc = BTSTORE_EREADERS;
		break;
	case MDB_TXN_FULL:
		rc = BTSTORE_ETXNFULL;
		break;
	case MDB_MAP_RESIZED:
		rc = BT_EAGAIN;
		break;
	case MDB_PANIC:
		rc = BTSTORE_EPANIC;
		break;
	case MDB_CORRUPTED:
	case MDB_PAGE_NOTFOUND:
	case MDB_INVALID:
		rc = BT_ECORRUPT;
		break;
	case MDB_VERSION_MISMATCH:
		rc = BT_EUNSUPPORTED;
		break;
	case ENOMEM:
		rc = BT_ENOMEM;
		break;
	case ENOSPC:
		rc = BT_ENOSPC;
		break;
	case ENOENT:
		rc = BT_ENOTFOUND;
		break;
	case EACCES:
	case EPERM:
	case EROFS:
		rc = BT_EPERM;
		break;
	case EIO:
		rc = BT_EIO;
		break;
	default:
		rc = mrc > 0 ? BT_EIO : BTSTORE_ELMDB;
		break;
	}
	btstore_log_(st, BTSTORE_LOG_ERROR, "%s: %s", what, mdb_strerror(mrc));
	return rc;
}

int
btstore_werr_(struct btstore_w_ *w, int mrc, const char *what)
{
	if (mrc == MDB_MAP_FULL)
		w->mapfull = 1;
	return btstore_err_(w->st, mrc, what);
}

/* ---- views and map growth ----------------------------------------------- */

static int set_mapsize(struct btstore *st, uint64_t size);

int
btstore_rtxn_begin_(struct btstore *st, MDB_txn **txn)
{
	int mrc, rc, adopted = 0;

again:
	pthread_mutex_lock(&st->vlock);
	while (st->growing)
		pthread_cond_wait(&st->vcond, &st->vlock);
	st->views++;
	pthread_mutex_unlock(&st->vlock);
	views_held++;
	mrc = mdb_txn_begin(st->env, NULL, MDB_RDONLY, txn);
	if (mrc == MDB_SUCCESS)
		return BT_OK;
	*txn = NULL;
	btstore_rtxn_end_(st, NULL);
	if (mrc == MDB_MAP_RESIZED && !adopted && views_held == 0) {
		/* another process grew the map: adopt its size */
		pthread_mutex_lock(&st->wlock);
		rc = set_mapsize(st, 0);
		pthread_mutex_unlock(&st->wlock);
		if (rc != BT_OK)
			return rc;
		adopted = 1;
		goto again;
	}
	return btstore_err_(st, mrc, "begin read");
}

void
btstore_rtxn_end_(struct btstore *st, MDB_txn *txn)
{
	if (txn != NULL)
		mdb_txn_abort(txn);
	views_held--;
	pthread_mutex_lock(&st->vlock);
	st->views--;
	if (st->views == 0)
		pthread_cond_broadcast(&st->vcond);
	pthread_mutex_unlock(&st->vlock);
}

int
btstore_view_begin(struct btstore *st, struct btstore_view **out)
{
	struct btstore_view *v;
	int rc;

	if (out == NULL)
		return BT_EINVAL;
	*out = NULL;
	if (st == NULL)
		return BT_EINVAL;
	if ((v = malloc(sizeof(*v))) == NULL)
		return BT_ENOMEM;
	v->st = st;
	if ((rc = btstore_rtxn_begin_(st, &v->txn)) != BT_OK) {
		free(v);
		return rc;
	}
	*out = v;
	return BT_OK;
}

void
btstore_view_end(struct btstore_view *v)
{
	if (v == NULL)
		return;
	btstore_rtxn_end_(v->st, v->txn);
	free(v);
}

/*
 * Set the map size (0: adopt the size another process set), waiting for
 * the views of this process to end.  Called with wlock held and no write
 * transaction open.
 */
static int
set_mapsize(struct btstore *st, uint64_t size)
{
	struct timespec deadline;
	MDB_envinfo info;
	int rc = BT_OK, mrc, wrc = 0;

	if (views_held > 0)
		return BT_EAGAIN;
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += GROW_WAIT_S;
	pthread_mutex_lock(&st->vlock);
	st->growing = 1;
	while (st->views > 0 && wrc == 0)
		wrc = pthread_cond_timedwait(&st->vcond, &st->vlock, &deadline);
	if (st->views > 0) {
		rc = BT_EAGAIN;
		goto out;
	}
	mrc = mdb_env_set_mapsize(st->env, (size_t)size);
	if (mrc != MDB_SUCCESS) {
		rc = btstore_err_(st, mrc, "set map size");
		goto out;
	}
	if (mdb_env_info(st->env, &info) == MDB_SUCCESS)
		st->map_size = info.me_mapsize;
	btstore_log_(st, BTSTORE_LOG_INFO, "map size now %llu bytes",
	    (unsigned long long)st->map_size);
out:
	st->growing = 0;
	pthread_cond_broadcast(&st->vcond);
	pthread_mutex_unlock(&st->vlock);
	return rc;
}

/* ---- writes ------------------------------------------------------------- */

/*
 * Commit a transaction that rewrites the format record unchanged.  LMDB
 * reuses a page freed by transaction N only from transaction N + 2 on;
 * this is the commit in between.
 */
static int
touch(struct btstore *st)
{
	uint8_t fmt[4];
	MDB_txn *txn;
	MDB_val k = { 6, (void *)(uintptr_t)"format" }, v;
	int mrc;

	if ((mrc = mdb_txn_begin(st->env, NULL, 0, &txn)) != MDB_SUCCESS)
		return btstore_err_(st, mrc, "begin touch");
	btstore_put_be32_(fmt, BTSTORE_FORMAT_);
	v.mv_size = sizeof(fmt);
	v.mv_data = fmt;
	mrc = mdb_put(txn, st->dbi[BTSTORE_DB_META_], &k, &v, 0);
	if (mrc != MDB_SUCCESS) {
		mdb_txn_abort(txn);
		return btstore_err_(st, mrc, "touch");
	}
	return btstore_err_(st, mdb_txn_commit(txn), "commit touch");
}

int
btstore_write_(struct btstore *st, btstore_wfn_ fn, void *arg)
{
	struct btstore_w_ w;
	uint64_t next;
	int rc, mrc, touched = 0;

	pthread_mutex_lock(&st->wlock);
	for (;;) {
		memset(&w, 0, sizeof(w));
		w.st = st;
		mrc = mdb_txn_begin(st->env, NULL, 0, &w.txn);
		if (mrc == MDB_MAP_RESIZED) {
			if ((rc = set_mapsize(st, 0)) != BT_OK)
				break;
			continue;
		}
		if (mrc != MDB_SUCCESS) {
			rc = btstore_err_(st, mrc, "begin write");
			break;
		}
		rc = fn(&w, arg);
		if (rc == BT_OK) {
			mrc = mdb_txn_commit(w.txn);
			if (mrc != MDB_SUCCESS)
				rc = btstore_werr_(&w, mrc, "commit");
		} else {
			mdb_txn_abort(w.txn);
		}
		w.txn = NULL;
		if (rc == BT_OK) {
			btstore_notify_commit_(st, w.ev_head);
			break;
		}
		btstore_ev_free_(w.ev_head);
		if (!w.mapfull)
			break;
		/* the map is full: grow it and run the operation again */
		if (st->map_size >= st->map_max) {
			/* pages freed by the last commit become reusable only
			 * after one more commit: make one, then retry once */
			if (touched || touch(st) != BT_OK) {
				rc = BT_ENOSPC;
				break;
			}
			touched = 1;
			continue;
		}
		next = st->map_size > st->map_max / 2 ? st->map_max :
		    st->map_size * 2;
		if ((rc = set_mapsize(st, next)) != BT_OK)
			break;
	}
	pthread_mutex_unlock(&st->wlock);
	return rc;
}

/* ---- counters in the meta database ------------------------------------- */

int
btstore_counts_get_(MDB_txn *txn, struct btstore *st, const char *name,
    uint64_t *count, uint64_t *bytes)
{
	MDB_val k = { strlen(name), (void *)(uintptr_t)name }, v;
	int mrc;

	*count = 0;
	*bytes = 0;
	mrc = mdb_get(txn, st->dbi[BTSTORE_DB_META_], &k, &v);
	if (mrc == MDB_NOTFOUND)
		return BT_OK;
	if (mrc != MDB_SUCCESS)
		return btstore_err_(st, mrc, "read counters");
	return btstore_counts_decode_(v.mv_data, v.mv_size, count, bytes);
}

int
btstore_counts_add_(struct btstore_w_ *w, const char *name, int64_t dcount,
    int64_t dbytes)
{
	uint8_t buf[BTSTORE_COUNTS_LEN_];
	MDB_val k = { strlen(name), (void *)(uintptr_t)name }, v;
	uint64_t count, bytes;
	int rc;

	if (dcount == 0 && dbytes == 0)
		return BT_OK;
	rc = btstore_counts_get_(w->txn, w->st, name, &count, &bytes);
	if (rc != BT_OK)
		return rc;
	if ((dcount < 0 && (uint64_t)-dcount > count) ||
	    (dbytes < 0 && (uint64_t)-dbytes > bytes))
		return BT_ECORRUPT;
	count += (uint64_t)dcount;
	bytes += (uint64_t)dbytes;
	btstore_counts_encode_(buf, count, bytes);
	v.mv_size = sizeof(buf);
	v.mv_data = buf;
	return btstore_werr_(w, mdb_put(w->txn, w->st->dbi[BTSTORE_DB_META_],
	    &k, &v, 0), "write counters");
}

/* ---- open and close ------------------------------------------------------ */

static int
open_dbs(struct btstore *st)
{
	uint8_t fmt[4];
	MDB_txn *txn = NULL;
	MDB_val k = { 6, (void *)(uintptr_t)"format" }, v;
	uint32_t have;
	int rc = BT_OK, mrc, i;

	mrc = mdb_txn_begin(st->env, NULL, 0, &txn);
	if (mrc != MDB_SUCCESS) {
		txn = NULL;
		rc = btstore_err_(st, mrc, "begin open");
		goto out;
	}
	for (i = 0; i < BTSTORE_DB_COUNT_; i++) {
		mrc = mdb_dbi_open(txn, db_names[i], MDB_CREATE, &st->dbi[i]);
		if (mrc != MDB_SUCCESS) {
			rc = btstore_err_(st, mrc, db_names[i]);
			goto out;
		}
	}
	mrc = mdb_get(txn, st->dbi[BTSTORE_DB_META_], &k, &v);
	if (mrc == MDB_SUCCESS) {
		if ((rc = btstore_u32_decode_(v.mv_data, v.mv_size, &have))
		    != BT_OK)
			goto out;
		if (have > BTSTORE_FORMAT_) {
			rc = BTSTORE_ENEWER;
			goto out;
		}
		if (have == 0) {
			rc = BT_ECORRUPT;
			goto out;
		}
	} else if (mrc == MDB_NOTFOUND) {
		btstore_put_be32_(fmt, BTSTORE_FORMAT_);
		v.mv_size = sizeof(fmt);
		v.mv_data = fmt;
		mrc = mdb_put(txn, st->dbi[BTSTORE_DB_META_], &k, &v, 0);
		if (mrc != MDB_SUCCESS) {
			rc = btstore_err_(st, mrc, "write format");
			goto out;
		}
	} else {
		rc = btstore_err_(st, mrc, "read format");
		goto out;
	}
	mrc = mdb_txn_commit(txn);
	txn = NULL;
	if (mrc != MDB_SUCCESS)
		rc = btstore_err_(st, mrc, "commit open");
out:
	if (txn != NULL)
		mdb_txn_abort(txn);
	return rc;
}

int
btstore_open(struct btstore **out, const char *dir,
    const struct btstore_options *opts)
{
	struct btstore_options defs;
	struct btstore *st = NULL;
	pthread_condattr_t ca;
	MDB_envinfo info;
	int rc, mrc, dead = 0, locks = 0;
	unsigned flags;

	if (out == NULL)
		return BT_EINVAL;
	*out = NULL;
	if (dir == NULL)
		return BT_EINVAL;
	if (opts == NULL) {
		options_default(&defs);
		opts = &defs;
	}
	if ((st = calloc(1, sizeof(*st))) == NULL)
		return BT_ENOMEM;
	st->efd = -1;
	st->log = opts->log;
	st->log_arg = opts->log_arg;
	st->map_max = opts->map_max;
	st->block_quota = opts->block_quota;
	st->dht_total = opts->dht_total;
	st->dht_origin = opts->dht_origin;
	st->nosync = (int)opts->nosync;
	st->next_watch = 1;

	if (pthread_mutex_init(&st->wlock, NULL) != 0) {
		rc = BT_ENOMEM;
		goto out;
	}
	locks = 1;
	if (pthread_mutex_init(&st->vlock, NULL) != 0) {
		rc = BT_ENOMEM;
		goto out;
	}
	locks = 2;
	if (pthread_condattr_init(&ca) != 0) {
		rc = BT_ENOMEM;
		goto out;
	}
	if (pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) != 0 ||
	    pthread_cond_init(&st->vcond, &ca) != 0) {
		pthread_condattr_destroy(&ca);
		rc = BT_ENOMEM;
		goto out;
	}
	pthread_condattr_destroy(&ca);
	locks = 3;
	if ((rc = btstore_notify_init_(st)) != BT_OK)
		goto out;
	locks = 4;

	if ((mrc = mdb_env_create(&st->env)) != MDB_SUCCESS) {
		st->env = NULL;
		rc = btstore_err_(st, mrc, "create environment");
		goto out;
	}
	if ((mrc = mdb_env_set_maxdbs(st->env, BTSTORE_MAXDBS_)) != 0 ||
	    (mrc = mdb_env_set_maxreaders(st->env,
	    (unsigned)opts->max_readers)) != 0 ||
	    (mrc = mdb_env_set_mapsize(st->env,
	    (size_t)(opts->map_initial < opts->map_max ? opts->map_initial :
	    opts->map_max))) != 0) {
		rc = btstore_err_(st, mrc, "configure environment");
		goto out;
	}
	flags = MDB_NOTLS | (st->nosync ? MDB_NOSYNC : 0) |
	    (opts->writemap ? MDB_WRITEMAP : 0);
	if ((mrc = mdb_env_open(st->env, dir, flags, 0600)) != MDB_SUCCESS) {
		rc = btstore_err_(st, mrc, "open environment");
		goto out;
	}
	/* slots of readers whose process died would pin old pages forever */
	if ((mrc = mdb_reader_check(st->env, &dead)) != MDB_SUCCESS) {
		rc = btstore_err_(st, mrc, "reader check");
		goto out;
	}
	st->readers_cleared = dead;
	if (dead > 0)
		btstore_log_(st, BTSTORE_LOG_INFO,
		    "cleared %d stale reader slots", dead);
	if ((mrc = mdb_env_info(st->env, &info)) != MDB_SUCCESS) {
		rc = btstore_err_(st, mrc, "environment info");
		goto out;
	}
	st->map_size = info.me_mapsize;
	if (st->map_max < st->map_size)
		st->map_max = st->map_size;
	rc = open_dbs(st);
out:
	if (rc != BT_OK) {
		if (st->env != NULL)
			mdb_env_close(st->env);
		if (locks >= 4)
			btstore_notify_fini_(st);
		if (locks >= 3)
			pthread_cond_destroy(&st->vcond);
		if (locks >= 2)
			pthread_mutex_destroy(&st->vlock);
		if (locks >= 1)
			pthread_mutex_destroy(&st->wlock);
		free(st);
		return rc;
	}
	*out = st;
	return BT_OK;
}

void
btstore_close(struct btstore *st)
{
	if (st == NULL)
		return;
	mdb_env_close(st->env);
	btstore_feed_cache_free_(st);
	btstore_notify_fini_(st);
	pthread_cond_destroy(&st->vcond);
	pthread_mutex_destroy(&st->vlock);
	pthread_mutex_destroy(&st->wlock);
	free(st);
}

int
btstore_sync(struct btstore *st)
{
	if (st == NULL)
		return BT_EINVAL;
	return btstore_err_(st, mdb_env_sync(st->env, 1), "sync");
}

int
btstore_map_info(struct btstore *st, uint64_t *map_size, uint64_t *map_used)
{
	MDB_envinfo info;
	MDB_stat stat;
	int mrc;

	if (st == NULL)
		return BT_EINVAL;
	if ((mrc = mdb_env_info(st->env, &info)) != MDB_SUCCESS ||
	    (mrc = mdb_env_stat(st->env, &stat)) != MDB_SUCCESS)
		return btstore_err_(st, mrc, "environment info");
	if (map_size != NULL)
		*map_size = info.me_mapsize;
	if (map_used != NULL)
		*map_used = ((uint64_t)info.me_last_pgno + 1) * stat.ms_psize;
	return BT_OK;
}
