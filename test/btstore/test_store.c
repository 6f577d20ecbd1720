/*
 * test_store.c - opening, options, errors, map growth up to the maximum,
 * readers beside writers, stale reader slots, the writable map's disk
 * reservation.
 */
#include <check.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bt/error.h>
#include <bt/store.h>

#include "btstore-internal.h"

Suite *suite_store(void);

static char dir[64];

static void
mkdir_tmp(void)
{
	snprintf(dir, sizeof(dir), "%s", "/tmp/btstore-test-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void
rm_tmp(void)
{
	char p[128];

	snprintf(p, sizeof(p), "%s/data.mdb", dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/lock.mdb", dir);
	unlink(p);
	rmdir(dir);
}

/* A block whose bytes derive from @p n; returns its id. */
static void
make_block(uint8_t *buf, size_t len, uint32_t n, struct bt_id *id)
{
	size_t i;

	for (i = 0; i < len; i++)
		buf[i] = (uint8_t)(n * 131 + i * 7 + (i >> 8));
	if (len >= 4)
		memcpy(buf, &n, 4);
	ck_assert_int_eq(btcore_id_hash(id, buf, len), BT_OK);
}

START_TEST(open_close_and_errors)
{
	struct btstore_options *o;
	struct btstore *st;
	uint64_t size, used;

	mkdir_tmp();
	ck_assert_int_eq(btstore_open(NULL, dir, NULL), BT_EINVAL);
	st = (struct btstore *)1;
	ck_assert_int_eq(btstore_open(&st, NULL, NULL), BT_EINVAL);
	ck_assert_ptr_null(st);
	ck_assert_int_eq(btstore_open(&st, "/nonexistent/btstore/dir", NULL),
	    BT_ENOTFOUND);
	ck_assert_ptr_null(st);

	ck_assert_int_eq(btstore_options_new(&o), BT_OK);
	ck_assert_int_eq(btstore_options_set(o, BTSTORE_OPT_MAP_INITIAL, 1000),
	    BT_ERANGE);
	ck_assert_int_eq(btstore_options_set(o, BTSTORE_OPT_NOSYNC, 2),
	    BT_ERANGE);
	ck_assert_int_eq(btstore_options_set(o, BTSTORE_OPT_MAX_READERS, 0),
	    BT_ERANGE);
	ck_assert_int_eq(btstore_options_set(o, (enum btstore_opt)99, 1),
	    BT_EINVAL);
	ck_assert_int_eq(btstore_options_set(NULL, BTSTORE_OPT_NOSYNC, 1),
	    BT_EINVAL);
	ck_assert_int_eq(btstore_options_set(o, BTSTORE_OPT_MAP_INITIAL,
	    2 << 20), BT_OK);
	ck_assert_int_eq(btstore_open(&st, dir, o), BT_OK);
	ck_assert_int_eq(btstore_map_info(st, &size, &used), BT_OK);
	ck_assert_uint_eq(size, 2 << 20);
	ck_assert_uint_gt(used, 0);
	ck_assert_uint_le(used, size);
	ck_assert_int_ge(btstore_notify_fd(st), 0);
	ck_assert_int_eq(btstore_notify_fd(NULL), -1);
	ck_assert_int_eq(btstore_sync(st), BT_OK);
	ck_assert_int_eq(btstore_sync(NULL), BT_EINVAL);
	btstore_close(st);
	/* reopen: the format check passes */
	ck_assert_int_eq(btstore_open(&st, dir, o), BT_OK);
	btstore_close(st);
	btstore_close(NULL);
	btstore_options_free(o);
	btstore_options_free(NULL);

	ck_assert_str_eq(btstore_strerror(BTSTORE_EREADERS),
	    "too many read views open at once");
	ck_assert_str_eq(btstore_strerror(BT_EINVAL), "invalid argument");
	ck_assert_str_eq(btstore_strerror(-3999), "unknown error");
	ck_assert_str_eq(btstore_version(), "0.1.0");
	rm_tmp();
}
END_TEST

START_TEST(newer_format_refused)
{
	struct btstore *st;
	MDB_txn *txn;
	MDB_val k = { 6, (void *)"format" }, v;
	uint8_t fmt[4] = { 0, 0, 0, 9 };

	mkdir_tmp();
	ck_assert_int_eq(btstore_open(&st, dir, NULL), BT_OK);
	ck_assert_int_eq(mdb_txn_begin(st->env, NULL, 0, &txn), 0);
	v.mv_size = 4;
	v.mv_data = fmt;
	ck_assert_int_eq(mdb_put(txn, st->dbi[BTSTORE_DB_META_], &k, &v, 0),
	    0);
	ck_assert_int_eq(mdb_txn_commit(txn), 0);
	btstore_close(st);
	ck_assert_int_eq(btstore_open(&st, dir, NULL), BTSTORE_ENEWER);
	ck_assert_ptr_null(st);
	rm_tmp();
}
END_TEST

static int grew;

static void
log_fn(void *arg, int level, const char *msg)
{
	(void)arg;
	if (level == BTSTORE_LOG_INFO && strstr(msg, "map size now") != NULL)
		grew++;
}

/* The map grows up to its maximum, then BT_ENOSPC; all commits stay. */
START_TEST(map_grows_then_enospc)
{
	struct btstore_options *o;
	struct btstore *st;
	static uint8_t buf[65536], back[65536];
	struct bt_id ids[200];
	uint64_t size, count, bytes;
	size_t len, stored = 0, i;
	int rc = BT_OK;

	mkdir_tmp();
	ck_assert_int_eq(btstore_options_new(&o), BT_OK);
	ck_assert_int_eq(btstore_options_set(o, BTSTORE_OPT_MAP_INITIAL,
	    1 << 20), BT_OK);
	ck_assert_int_eq(btstore_options_set(o, BTSTORE_OPT_MAP_MAX, 4 << 20),
	    BT_OK);
	ck_assert_int_eq(btstore_options_set(o, BTSTORE_OPT_NOSYNC, 1), BT_OK);
	ck_assert_int_eq(btstore_options_set_log(o, log_fn, NULL), BT_OK);
	ck_assert_int_eq(btstore_open(&st, dir, o), BT_OK);
	for (i = 0; i < 200; i++) {
		make_block(buf, sizeof(buf), (uint32_t)i, &ids[i]);
		rc = btstore_block_put(st, &ids[i], buf, sizeof(buf),
		    BTSTORE_PUT_PIN);
		if (rc != BT_OK)
			break;
		stored++;
	}
	ck_assert_int_eq(rc, BT_ENOSPC);
	ck_assert_int_ge(grew, 2);	/* 1 -> 2 -> 4 MiB */
	ck_assert_int_eq(btstore_map_info(st, &size, NULL), BT_OK);
	ck_assert_uint_eq(size, 4 << 20);
	ck_assert_uint_gt(stored, 40);	/* most of 4 MiB was usable */
	/* the failed put left nothing behind; earlier ones all read back */
	ck_assert_int_eq(btstore_block_has(st, &ids[stored]), BT_ENOTFOUND);
	ck_assert_int_eq(btstore_block_usage(st, &count, &bytes), BT_OK);
	ck_assert_uint_eq(count, stored);
	ck_assert_uint_eq(bytes, stored * sizeof(buf));
	for (i = 0; i < stored; i++) {
		ck_assert_int_eq(btstore_block_get(st, &ids[i], back,
		    sizeof(back), &len), BT_OK);
		make_block(buf, sizeof(buf), (uint32_t)i, &ids[i]);
		ck_assert_mem_eq(back, buf, sizeof(buf));
	}
	/* still usable: small writes that fit succeed after unpin + gc */
	for (i = 0; i < stored / 2; i++)
		ck_assert_int_eq(btstore_block_unpin(st, &ids[i]), BT_OK);
	ck_assert_int_eq(btstore_gc(st, 1000, &len, NULL), BT_OK);
	ck_assert_uint_eq(len, stored / 2);
	make_block(buf, sizeof(buf), 9999, &ids[0]);
	ck_assert_int_eq(btstore_block_put(st, &ids[0], buf, sizeof(buf), 0),
	    BT_OK);
	btstore_close(st);
	/* and after reopening */
	ck_assert_int_eq(btstore_open(&st, dir, o), BT_OK);
	ck_assert_int_eq(btstore_block_get(st, &ids[stored - 1], back,
	    sizeof(back), &len), BT_OK);
	btstore_close(st);
	btstore_options_free(o);
	rm_tmp();
}
END_TEST

/* Through a writable map: the same results, across map growth and a
 * reopen. */
START_TEST(writemap_store)
{
	struct btstore_options *o;
	struct btstore *st;
	static uint8_t buf[65536], back[65536];
	struct bt_id ids[40];
	uint64_t size, count, bytes;
	size_t len, i;

	mkdir_tmp();
	ck_assert_int_eq(btstore_options_new(&o), BT_OK);
	ck_assert_int_eq(btstore_options_set(o, BTSTORE_OPT_WRITEMAP, 2),
	    BT_ERANGE);
	ck_assert_int_eq(btstore_options_set(o, BTSTORE_OPT_WRITEMAP, 1),
	    BT_OK);
	ck_assert_int_eq(btstore_options_set(o, BTSTORE_OPT_MAP_INITIAL,
	    1 << 20), BT_OK);
	ck_assert_int_eq(btstore_options_set(o, BTSTORE_OPT_MAP_MAX, 16 << 20),
	    BT_OK);
	ck_assert_int_eq(btstore_open(&st, dir, o), BT_OK);
	for (i = 0; i < 40; i++) {
		make_block(buf, sizeof(buf), (uint32_t)i, &ids[i]);
		ck_assert_int_eq(btstore_block_put(st, &ids[i], buf,
		    sizeof(buf), 0), BT_OK);
	}
	ck_assert_int_eq(btstore_map_info(st, &size, NULL), BT_OK);
	ck_assert_uint_gt(size, 2 << 20);	/* it grew on the way */
	ck_assert_int_eq(btstore_block_usage(st, &count, &bytes), BT_OK);
	ck_assert_uint_eq(count, 40);
	btstore_close(st);
	ck_assert_int_eq(btstore_open(&st, dir, o), BT_OK);
	for (i = 0; i < 40; i++) {
		ck_assert_int_eq(btstore_block_get(st, &ids[i], back,
		    sizeof(back), &len), BT_OK);
		make_block(buf, sizeof(buf), (uint32_t)i, &ids[i]);
		ck_assert_uint_eq(len, sizeof(buf));
		ck_assert_mem_eq(back, buf, sizeof(buf));
	}
	btstore_close(st);
	btstore_options_free(o);
	rm_tmp();
}
END_TEST

/* Bytes of @p name in the store's directory that have disk blocks, and
 * its size. */
static void
file_space(const char *name, uint64_t *allocated, uint64_t *size)
{
	char p[128];
	struct stat sb;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	*allocated = *size = 0;
	if (stat(p, &sb) == 0) {
		*allocated = (uint64_t)sb.st_blocks * 512;
		*size = (uint64_t)sb.st_size;
	}
}

/* Whether the test directory's file system keeps reserved blocks (the
 * store's own rule: ext2/3/4, XFS, tmpfs). */
static int
fs_reserves(void)
{
	struct statfs sf;

	if (statfs(dir, &sf) != 0)
		return 0;
	return (unsigned long)sf.f_type == 0xef53ul ||
	    (unsigned long)sf.f_type == 0x58465342ul ||
	    (unsigned long)sf.f_type == 0x01021994ul;
}

#define FSIZE_LIMIT	(3u << 20)
#define RESERVE_BLOCKS	64

/*
 * The writer of reserve_stops_growth: under RLIMIT_FSIZE of 3 MiB (a
 * file system out of space, for fallocate(2) and ftruncate(2) alike), it
 * fills a store whose map starts at 1 MiB until a put fails.  Returns 0
 * when every check held, else the number of the failed check.
 */
static int
reserve_child(const struct btstore_options *o, int *stored)
{
	static uint8_t buf[65536], back[65536];
	struct btstore *st;
	struct rlimit rl;
	struct bt_id id;
	uint64_t alloc, size, map;
	size_t len;
	int rc, i, n;

	*stored = 0;
	signal(SIGXFSZ, SIG_IGN);
	rl.rlim_cur = rl.rlim_max = FSIZE_LIMIT;
	if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
		return 1;
	if (btstore_open(&st, dir, o) != BT_OK)
		return 2;
	if (!st->writemap)
		return 3;
	/* the map and the reader table have their blocks from the start */
	file_space("data.mdb", &alloc, &size);
	if (size < st->map_size || alloc < st->map_size)
		return 4;
	file_space("lock.mdb", &alloc, &size);
	if (size == 0 || alloc < size)
		return 5;
	for (n = 0; n < RESERVE_BLOCKS; n++) {
		make_block(buf, sizeof(buf), (uint32_t)n, &id);
		if ((rc = btstore_block_put(st, &id, buf, sizeof(buf), 0))
		    != BT_OK)
			break;
		/* whatever the map has grown to is reserved */
		file_space("data.mdb", &alloc, &size);
		if (alloc < st->map_size)
			return 6;
	}
	*stored = n;
	/* growing past the limit is refused as a full disk, cleanly */
	if (n == RESERVE_BLOCKS || rc != BT_ENOSPC || n < 16)
		return 7;
	if (btstore_map_info(st, &map, NULL) != BT_OK || map > FSIZE_LIMIT ||
	    map < (2u << 20))
		return 8;
	/* nothing committed is lost, also after reopening */
	for (i = 0; i < n; i++) {
		make_block(buf, sizeof(buf), (uint32_t)i, &id);
		if (btstore_block_get(st, &id, back, sizeof(back), &len) !=
		    BT_OK || len != sizeof(buf) || memcmp(buf, back, len) != 0)
			return 9;
	}
	btstore_close(st);
	if (btstore_open(&st, dir, o) != BT_OK)
		return 11;
	make_block(buf, sizeof(buf), (uint32_t)(n - 1), &id);
	if (btstore_block_get(st, &id, back, sizeof(back), &len) != BT_OK ||
	    memcmp(buf, back, len) != 0)
		return 12;
	btstore_close(st);
	return 0;
}

/* With the writable map, a full file system stops the map growing with
 * BT_ENOSPC, never SIGBUS, and loses nothing committed; without the
 * limit the store then grows on. */
START_TEST(reserve_stops_growth)
{
	static uint8_t buf[65536], back[65536];
	struct btstore_options *o;
	struct btstore *st;
	struct bt_id id;
	uint64_t alloc, size, count;
	size_t len;
	int p[2], status, stored = -1, rc;
	pid_t pid;

	mkdir_tmp();
	if (!fs_reserves()) {
		/* the store writes without the map here: nothing to test */
		rm_tmp();
		return;
	}
	ck_assert_int_eq(btstore_options_new(&o), BT_OK);
	ck_assert_int_eq(btstore_options_set(o, BTSTORE_OPT_MAP_INITIAL,
	    1 << 20), BT_OK);
	ck_assert_int_eq(btstore_options_set(o, BTSTORE_OPT_MAP_MAX,
	    64 << 20), BT_OK);
	ck_assert_int_eq(pipe(p), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(p[0]);
		rc = reserve_child(o, &stored);
		if (write(p[1], &stored, sizeof(stored)) != sizeof(stored))
			rc = 100;
		_exit(rc);
	}
	close(p[1]);
	ck_assert_int_eq(read(p[0], &stored, sizeof(stored)),
	    sizeof(stored));
	close(p[0]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status), "writer ended by signal %d",
	    WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	ck_assert_int_eq(WEXITSTATUS(status), 0);
	ck_assert_int_ge(stored, 16);

	/* no limit now: the store grows on and keeps every block */
	ck_assert_int_eq(btstore_open(&st, dir, o), BT_OK);
	ck_assert_int_eq(btstore_block_usage(st, &count, NULL), BT_OK);
	ck_assert_uint_eq(count, (uint64_t)stored);
	for (rc = stored; rc < RESERVE_BLOCKS; rc++) {
		make_block(buf, sizeof(buf), (uint32_t)rc, &id);
		ck_assert_int_eq(btstore_block_put(st, &id, buf, sizeof(buf),
		    0), BT_OK);
	}
	file_space("data.mdb", &alloc, &size);
	ck_assert_uint_gt(st->map_size, FSIZE_LIMIT);
	ck_assert_uint_ge(alloc, st->map_size);
	for (rc = 0; rc < RESERVE_BLOCKS; rc++) {
		make_block(buf, sizeof(buf), (uint32_t)rc, &id);
		ck_assert_int_eq(btstore_block_get(st, &id, back, sizeof(back),
		    &len), BT_OK);
		ck_assert_mem_eq(buf, back, len);
	}
	btstore_close(st);
	btstore_options_free(o);
	rm_tmp();
}
END_TEST

/* With the writable map turned off the data file is not reserved: it
 * grows by writes only. */
START_TEST(no_writemap_no_reserve)
{
	struct btstore_options *o;
	struct btstore *st;
	uint64_t alloc, size;

	mkdir_tmp();
	ck_assert_int_eq(btstore_options_new(&o), BT_OK);
	ck_assert_int_eq(btstore_options_set(o, BTSTORE_OPT_WRITEMAP, 0),
	    BT_OK);
	ck_assert_int_eq(btstore_open(&st, dir, o), BT_OK);
	ck_assert_int_eq(st->writemap, 0);
	file_space("data.mdb", &alloc, &size);
	ck_assert_uint_lt(size, st->map_size);
	ck_assert_uint_lt(alloc, st->map_size);
	btstore_close(st);
	/* the default is the reserved writable map, where it holds */
	ck_assert_int_eq(btstore_open(&st, dir, NULL), BT_OK);
	ck_assert_int_eq(st->writemap, fs_reserves());
	btstore_close(st);
	btstore_options_free(o);
	rm_tmp();
}
END_TEST

struct writer_arg {
	struct btstore *st;
	int rc;
	int done;
};

static void *
writer(void *p)
{
	struct writer_arg *a = p;
	uint8_t buf[4000];
	struct bt_id id;
	uint32_t i;

	for (i = 0; i < 50 && a->rc == BT_OK; i++) {
		make_block(buf, sizeof(buf), 1000 + i, &id);
		a->rc = btstore_block_put(a->st, &id, buf, sizeof(buf), 0);
	}
	a->done = 1;
	return NULL;
}

/* A long-lived view neither blocks writers nor sees their commits. */
START_TEST(readers_do_not_block_writers)
{
	struct btstore_options *o;
	struct btstore *st;
	struct btstore_view *v, *v2;
	struct writer_arg a;
	uint8_t buf[4000];
	struct bt_id id0, id1;
	const void *p;
	size_t len;
	pthread_t t;

	mkdir_tmp();
	ck_assert_int_eq(btstore_options_new(&o), BT_OK);
	ck_assert_int_eq(btstore_options_set(o, BTSTORE_OPT_NOSYNC, 1), BT_OK);
	ck_assert_int_eq(btstore_open(&st, dir, o), BT_OK);
	make_block(buf, sizeof(buf), 1, &id0);
	ck_assert_int_eq(btstore_block_put(st, &id0, buf, sizeof(buf), 0),
	    BT_OK);
	ck_assert_int_eq(btstore_view_begin(st, &v), BT_OK);
	a.st = st;
	a.rc = BT_OK;
	a.done = 0;
	ck_assert_int_eq(pthread_create(&t, NULL, writer, &a), 0);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	ck_assert_int_eq(a.rc, BT_OK);
	ck_assert_int_eq(a.done, 1);
	/* the old snapshot does not see the new blocks, a new one does */
	make_block(buf, sizeof(buf), 1000, &id1);
	ck_assert_int_eq(btstore_view_block_get(v, &id1, &p, &len),
	    BT_ENOTFOUND);
	ck_assert_ptr_null(p);
	ck_assert_int_eq(btstore_view_block_get(v, &id0, &p, &len), BT_OK);
	ck_assert_uint_eq(len, sizeof(buf));
	ck_assert_int_eq(btstore_view_begin(st, &v2), BT_OK);
	ck_assert_int_eq(btstore_view_block_get(v2, &id1, &p, &len), BT_OK);
	btstore_view_end(v2);
	btstore_view_end(v);
	btstore_view_end(NULL);
	btstore_close(st);
	btstore_options_free(o);
	rm_tmp();
}
END_TEST

/* A thread holding a view cannot wait for the map to grow: BT_EAGAIN,
 * and the write succeeds once the view ends. */
START_TEST(grow_with_own_view_is_eagain)
{
	struct btstore_options *o;
	struct btstore *st;
	struct btstore_view *v;
	static uint8_t buf[262128];
	struct bt_id id;
	uint32_t i;
	int rc = BT_OK;

	mkdir_tmp();
	ck_assert_int_eq(btstore_options_new(&o), BT_OK);
	ck_assert_int_eq(btstore_options_set(o, BTSTORE_OPT_MAP_INITIAL,
	    1 << 20), BT_OK);
	ck_assert_int_eq(btstore_options_set(o, BTSTORE_OPT_NOSYNC, 1), BT_OK);
	ck_assert_int_eq(btstore_open(&st, dir, o), BT_OK);
	ck_assert_int_eq(btstore_view_begin(st, &v), BT_OK);
	for (i = 0; i < 10 && rc == BT_OK; i++) {
		make_block(buf, sizeof(buf), i, &id);
		rc = btstore_block_put(st, &id, buf, sizeof(buf), 0);
	}
	ck_assert_int_eq(rc, BT_EAGAIN);
	btstore_view_end(v);
	ck_assert_int_eq(btstore_block_put(st, &id, buf, sizeof(buf), 0),
	    BT_OK);
	btstore_close(st);
	btstore_options_free(o);
	rm_tmp();
}
END_TEST

/*
 * A process killed inside a read view leaves its slot taken while another
 * process keeps the store open (the last one out resets the table);
 * btstore_open() clears it.
 */
START_TEST(dead_reader_cleared_at_open)
{
	struct btstore *st;
	struct btstore_view *v;
	int pfd[2], status, i;
	pid_t pid[2];
	char c;

	mkdir_tmp();
	ck_assert_int_eq(btstore_open(&st, dir, NULL), BT_OK);
	btstore_close(st);
	ck_assert_int_eq(pipe(pfd), 0);
	/* child 0 holds the store open; child 1 dies inside a view */
	for (i = 0; i < 2; i++) {
		pid[i] = fork();
		ck_assert_int_ge(pid[i], 0);
		if (pid[i] == 0) {
			close(pfd[0]);
			if (btstore_open(&st, dir, NULL) != BT_OK)
				_exit(1);
			if (i == 1 && btstore_view_begin(st, &v) != BT_OK)
				_exit(1);
			if (write(pfd[1], "r", 1) != 1)
				_exit(1);
			for (;;)
				pause();
		}
		ck_assert_int_eq(read(pfd[0], &c, 1), 1);
	}
	close(pfd[1]);
	close(pfd[0]);
	ck_assert_int_eq(kill(pid[1], SIGKILL), 0);
	ck_assert_int_eq(waitpid(pid[1], &status, 0), pid[1]);
	ck_assert(WIFSIGNALED(status));
	ck_assert_int_eq(btstore_open(&st, dir, NULL), BT_OK);
	ck_assert_int_eq(st->readers_cleared, 1);
	/* the slot was freed, not just counted */
	ck_assert_int_eq(mdb_reader_check(st->env, &status), 0);
	ck_assert_int_eq(status, 0);
	btstore_close(st);
	kill(pid[0], SIGKILL);
	waitpid(pid[0], &status, 0);
	rm_tmp();
}
END_TEST

Suite *
suite_store(void)
{
	Suite *s = suite_create("store");
	TCase *tc = tcase_create("store");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, open_close_and_errors);
	tcase_add_test(tc, newer_format_refused);
	tcase_add_test(tc, map_grows_then_enospc);
	tcase_add_test(tc, writemap_store);
	tcase_add_test(tc, reserve_stops_growth);
	tcase_add_test(tc, no_writemap_no_reserve);
	tcase_add_test(tc, readers_do_not_block_writers);
	tcase_add_test(tc, grow_with_own_view_is_eagain);
	tcase_add_test(tc, dead_reader_cleared_at_open);
	suite_add_tcase(s, tc);
	return s;
}
