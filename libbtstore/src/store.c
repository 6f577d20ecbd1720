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
 *
 * The writable map (MDB_WRITEMAP) is the default.  Measured on the same
 * machine in the same runs, it took single feed appends from about 0.5
 * to about 0.8 of the raw signature rate (without it, writing the
 * changed pages with write(2) was about a third of an append), and
 * block and file writes kept or gained their ratio against raw LMDB
 * using the same flags.  What kept it off before was safety: a write
 * into a page of the sparse data file that the file system has no block
 * for raises SIGBUS when the disk is full.  The store now reserves the
 * blocks of the whole map with fallocate(2) before the map covers them
 * (reserve()), so a full disk is met when the map would grow and the
 * write fails with BT_ENOSPC, as without the map; on a full tmpfs the
 * unreserved map raised SIGBUS and the reserved one returned BT_ENOSPC
 * with every commit intact.  Where a reservation does not hold (copy on
 * write, network file systems, no fallocate) the store opens without
 * the writable map.  Not taken: MDB_NOMETASYNC, which would break the
 * promise that a commit is durable when it returns (with
 * BTSTORE_OPT_NOSYNC, as in the benchmarks, it changes nothing).
 */
#define _GNU_SOURCE	/* fallocate(2) */

#include <bt/error.h>
#include <bt/ns.h>
#include <bt/store.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

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
#define GROW_STEP_MAX		(1024 * MIB)

/* File systems (statfs f_type) on which blocks allocated by fallocate(2)
 * stay allocated to the file and are overwritten in place, so that a
 * write into them never needs space: ext2/3/4 (ext2 and ext3 without
 * extents refuse fallocate and so fall back), XFS (blocks shared with a
 * reflinked copy are unshared too), tmpfs.  Copy-on-write file systems
 * (btrfs, ZFS, bcachefs) and network or FUSE file systems allocate on
 * every write whatever was reserved, so a write into the map could still
 * fault there. */
#define FS_EXT4			0xef53ul
#define FS_XFS			0x58465342ul
#define FS_TMPFS		0x01021994ul

/* Views this thread holds, in any store: such a thread cannot wait for
 * the views of its process to end. */
static _Thread_local unsigned views_held;

static const char *const db_names[BTSTORE_DB_COUNT_] = {
	"meta", "blocks", "pins", "refs", "bag", "bag.adders", "bag.time",
	"bag.popular", "bag.meta", "dht", "dht.expires", "dht.republish",
	"dht.origin", "dht.origin.bytes", "dht.heavy", "frag", "frag.expires",
	"feed", "feed.entries", "feed.heads", "feed.forks",
	"record", "ns", "ns.live", "local",
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
	o->writemap = 1;
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

/* ---- disk blocks for the writable map ------------------------------------ */

/* Whether the file system of @p path (or of @p fd when @p path is NULL)
 * keeps blocks reserved with fallocate(2) writable in place. */
static int
fs_reserves(const char *path, int fd)
{
	struct statfs sf;

	if ((path != NULL ? statfs(path, &sf) : fstatfs(fd, &sf)) != 0)
		return 0;
	switch ((unsigned long)sf.f_type) {
	case FS_EXT4:
	case FS_XFS:
	case FS_TMPFS:
		return 1;
	default:
		return 0;
	}
}

static int
falloc(int fd, int mode, uint64_t size)
{
	int r;

	if ((uint64_t)(off_t)size != size || (off_t)size < 0)
		return EFBIG;
	do
		r = fallocate(fd, mode, 0, (off_t)size);
	while (r != 0 && errno == EINTR);
	return r == 0 ? 0 : errno;
}

/*
 * Allocate disk blocks for the first @p size bytes of @p fd and make the
 * file at least that long; an errno value or 0.  The blocks are reserved
 * before the size changes, so a failure leaves the size as it was (at
 * worst with some blocks allocated past its end, used by the next
 * success); the size is set by a second call that allocates nothing and
 * is where RLIMIT_FSIZE applies (EFBIG).  Blocks shared with a reflinked
 * copy are unshared, where the file system shares blocks at all.
 */
static int
alloc_blocks(int fd, uint64_t size)
{
	int e;

	if ((e = falloc(fd, FALLOC_FL_KEEP_SIZE, size)) != 0 ||
	    (e = falloc(fd, 0, size)) != 0)
		return e;
	e = falloc(fd, FALLOC_FL_UNSHARE_RANGE, size);
	return e == EOPNOTSUPP || e == EINVAL ? 0 : e;
}

static int
alloc_err(struct btstore *st, int e, const char *what)
{
	btstore_log_(st, BTSTORE_LOG_ERROR, "%s: errno %d", what, e);
	switch (e) {
	case ENOSPC:
	case EDQUOT:
	case EFBIG:
		return BT_ENOSPC;
	case EOPNOTSUPP:
		return BT_EUNSUPPORTED;
	case ENOMEM:
		return BT_ENOMEM;
	default:
		return BT_EIO;
	}
}

/*
 * With the writable map: give the first @p size bytes of data.mdb their
 * disk blocks.  LMDB writes changed pages straight into the map; a page
 * of a sparse file has no block until then, and when none is free the
 * kernel can only raise SIGBUS.  With every byte of the map reserved
 * before the map covers it, that cannot happen: a full file system is
 * met here, before the map grows, and the write fails with BT_ENOSPC.
 * Called with wlock held (or at open).
 */
static int
reserve(struct btstore *st, uint64_t size)
{
	int fd, e;

	if (!st->writemap || size <= st->reserved)
		return BT_OK;
	if (mdb_env_get_fd(st->env, &fd) != MDB_SUCCESS)
		return BTSTORE_ELMDB;
	if ((e = alloc_blocks(fd, size)) != 0)
		return alloc_err(st, e, "reserve map");
	st->reserved = size;
	return BT_OK;
}

/*
 * Give lock.mdb its disk blocks, before the environment opens it.  LMDB
 * sizes it with ftruncate(2) and writes reader slots through a shared
 * map; a slot on a page without a block would raise SIGBUS on a full
 * file system, with or without the writable map.  Blocks for the reader
 * table LMDB lays out for @p readers slots (64 bytes each after a
 * header) are reserved past the file's end, so the size LMDB sets falls
 * on them.  This must run before LMDB holds its locks: closing any
 * descriptor of the file would drop this process's fcntl(2) locks on it.
 * Where the file cannot be opened here, mdb_env_open() reports why.
 */
static int
reserve_lock(struct btstore *st, const char *dir, uint64_t readers)
{
	struct stat sb;
	uint64_t want;
	char *name = NULL;
	size_t n;
	int fd = -1, e, rc = BT_OK;

	n = strlen(dir) + sizeof("/lock.mdb");
	if ((name = malloc(n)) == NULL)
		return BT_ENOMEM;
	snprintf(name, n, "%s/lock.mdb", dir);
	if ((fd = open(name, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0 ||
	    fstat(fd, &sb) != 0)
		goto out;
	want = (readers + 1) * 64 + 4096;
	if ((uint64_t)sb.st_size > want)
		want = (uint64_t)sb.st_size;
	if ((e = falloc(fd, FALLOC_FL_KEEP_SIZE, want)) != 0 &&
	    e != EOPNOTSUPP)
		rc = alloc_err(st, e, "reserve lock file");
out:
	if (fd >= 0)
		close(fd);
	free(name);
	return rc;
}

/* The size to grow the map to: double, by at most GROW_STEP_MAX, never
 * below the data file (another process may map that much already), at
 * most the maximum. */
static uint64_t
grow_size(struct btstore *st)
{
	struct stat sb;
	uint64_t next;
	int fd;

	next = st->map_size + (st->map_size < GROW_STEP_MAX ? st->map_size :
	    GROW_STEP_MAX);
	if (st->writemap && mdb_env_get_fd(st->env, &fd) == MDB_SUCCESS &&
	    fstat(fd, &sb) == 0 && (uint64_t)sb.st_size > next)
		next = (uint64_t)sb.st_size;
	return next < st->map_max ? next : st->map_max;
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
	/* LMDB sets the data file to the map's size: what lay past it is
	 * no longer the file's */
	if (st->reserved > st->map_size)
		st->reserved = st->map_size;
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
		/* a size adopted from another process may lack blocks */
		if ((rc = reserve(st, st->map_size)) != BT_OK)
			break;
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
		/* the map is full: grow it and run the operation again,
		 * its blocks reserved first */
		if (st->map_size < st->map_max) {
			next = grow_size(st);
			if ((rc = reserve(st, next)) == BT_OK) {
				if ((rc = set_mapsize(st, next)) != BT_OK)
					break;
				continue;
			}
			if (rc != BT_ENOSPC)
				break;
		}
		/* it cannot grow: pages freed by the last commit become
		 * reusable only after one more commit: make one, then retry
		 * once */
		if (touched || touch(st) != BT_OK) {
			rc = BT_ENOSPC;
			break;
		}
		touched = 1;
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

/* Create, configure and open the environment with @p flags. */
static int
env_open(struct btstore *st, const char *dir,
    const struct btstore_options *opts, unsigned flags)
{
	int mrc;

	if ((mrc = mdb_env_create(&st->env)) != MDB_SUCCESS) {
		st->env = NULL;
		return btstore_err_(st, mrc, "create environment");
	}
	if ((mrc = mdb_env_set_maxdbs(st->env, BTSTORE_MAXDBS_)) != 0 ||
	    (mrc = mdb_env_set_maxreaders(st->env,
	    (unsigned)opts->max_readers)) != 0 ||
	    (mrc = mdb_env_set_mapsize(st->env,
	    (size_t)(opts->map_initial < opts->map_max ? opts->map_initial :
	    opts->map_max))) != 0)
		return btstore_err_(st, mrc, "configure environment");
	if ((mrc = mdb_env_open(st->env, dir, flags, 0600)) != MDB_SUCCESS)
		return btstore_err_(st, mrc, "open environment");
	return BT_OK;
}

/*
 * Open the environment, through the writable map when it is asked for
 * and the file system can reserve the map's blocks.  Nothing has been
 * written through the map when the reservation is tried: where the file
 * system turns out not to support it, the environment is opened again
 * without the writable map, which is what every process on that file
 * system then does.
 */
static int
env_open_reserved(struct btstore *st, const char *dir,
    const struct btstore_options *opts)
{
	MDB_envinfo info;
	unsigned flags;
	int rc, fd, mrc;

	flags = MDB_NOTLS | (st->nosync ? MDB_NOSYNC : 0);
	if (fs_reserves(dir, -1) &&
	    (rc = reserve_lock(st, dir, opts->max_readers)) != BT_OK)
		goto out;
	st->writemap = opts->writemap && fs_reserves(dir, -1);
	if ((rc = env_open(st, dir, opts, flags |
	    (st->writemap ? MDB_WRITEMAP : 0))) != BT_OK)
		goto out;
	if (st->writemap) {
		if ((mrc = mdb_env_info(st->env, &info)) != MDB_SUCCESS ||
		    (mrc = mdb_env_get_fd(st->env, &fd)) != MDB_SUCCESS) {
			rc = btstore_err_(st, mrc, "environment info");
			goto out;
		}
		if (!fs_reserves(NULL, fd))
			rc = BT_EUNSUPPORTED;
		else
			rc = reserve(st, info.me_mapsize);
		if (rc == BT_EUNSUPPORTED) {
			btstore_log_(st, BTSTORE_LOG_INFO, "the file system "
			    "cannot reserve the map: writing without it");
			mdb_env_close(st->env);
			st->env = NULL;
			st->writemap = 0;
			st->reserved = 0;
			rc = env_open(st, dir, opts, flags);
		}
	}
out:
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

	if ((rc = env_open_reserved(st, dir, opts)) != BT_OK)
		goto out;
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

int
btstore_expire_run_(struct btstore *st, btstore_wfn_ fn, uint64_t now,
    size_t limit, size_t *removed)
{
	struct btstore_expire_ a;
	int rc;

	if (removed != NULL)
		*removed = 0;
	if (st == NULL)
		return BT_EINVAL;
	if (limit == 0)
		return BT_OK;
	a.now = now;
	a.limit = limit;
	a.removed = 0;
	rc = btstore_write_(st, fn, &a);
	if (rc == BT_OK && removed != NULL)
		*removed = a.removed;
	return rc;
}
