/*
 * test_file_crash.c - a writer of files through a namespace killed with
 * SIGKILL at random points: after each kill the store opens, every file
 * whose commit was acknowledged reads back verified, every root record
 * verifies, and no partial file is visible (each listed file is complete
 * and verified, whether acknowledged or cut off before its
 * acknowledgement).
 *
 * The child writes file i (sizes 0 .. ~600 KiB, both layouts, some
 * through the stream in small batches so that several commits of blocks
 * precede the one that links the file) and writes i to a pipe after the
 * commit returns.
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <bt/file.h>
#include <bt/key.h>
#include <bt/ns.h>
#include <bt/record.h>
#include <bt/store.h>

Suite *suite_file_crash(void);

#define ROUNDS		60
#define KILL_WINDOW_US	60000

static char dir[64];
static char hex[65];
static struct btcore_key *key;
static struct btcore_signer signer;

static size_t
file_size(uint32_t i)
{
	static const size_t sizes[] = { 0, 1, 4080, 70000, 262129, 600001 };

	return sizes[i % 6] + (i % 7);
}

static void
content(uint32_t i, uint8_t *p, size_t len)
{
	uint32_t x = i * 2654435761u + 7;
	size_t k;

	for (k = 0; k < len; k++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[k] = (uint8_t)x;
	}
}

static int
name(uint32_t i, char *buf, size_t cap)
{
	return snprintf(buf, cap, "/%s/d%u/f%u", hex, i % 4, i);
}

static uint8_t wbuf[700000], rbuf[700001];

/* The writer: never returns. */
static void
writer(int fd, uint32_t i)
{
	struct btstore_ns_writer *w;
	struct btstore *st;
	char path[160];
	size_t len, off, n;
	int rc;

	if (btstore_open(&st, dir, NULL) != BT_OK)
		_exit(2);
	for (;; i++) {
		len = file_size(i);
		content(i, wbuf, len);
		name(i, path, sizeof(path));
		if (i % 3 == 0) {
			rc = btstore_ns_write(st, &signer, path, strlen(path),
			    wbuf, len, i % 2 ? BTCORE_TREE_RANDOM :
			    BTCORE_TREE_SEQUENTIAL, NULL, BTSTORE_NS_PARENTS,
			    NULL);
		} else {
			struct btcore_tree_params small = { 4080, 126 };

			rc = btstore_ns_writer_open(&w, st, &signer, path,
			    strlen(path), i % 2 ? BTCORE_TREE_RANDOM :
			    BTCORE_TREE_SEQUENTIAL, i % 2 ? &small : NULL,
			    BTSTORE_NS_PARENTS);
			for (off = 0; rc == BT_OK && off < len; off += n) {
				n = len - off < 50000 ? len - off : 50000;
				rc = btstore_ns_writer_write(w, wbuf + off, n);
			}
			if (rc == BT_OK)
				rc = btstore_ns_writer_commit(w, NULL);
			btstore_ns_writer_free(w);
		}
		if (rc != BT_OK)
			_exit(4);
		if (write(fd, &i, sizeof(i)) != sizeof(i))
			_exit(5);
	}
}

static void
verify_file(struct btstore *st, uint32_t i)
{
	struct btstore_file_reader *r;
	char path[160];
	size_t len = file_size(i), got = 0, n;

	name(i, path, sizeof(path));
	ck_assert_int_eq(btstore_ns_open(&r, st, path, strlen(path)), BT_OK);
	ck_assert_uint_eq(btstore_file_reader_size(r), len);
	do {
		ck_assert_int_eq(btstore_file_reader_read(r, rbuf + got,
		    sizeof(rbuf) - got, &n), BT_OK);
		got += n;
	} while (n > 0);
	ck_assert_uint_eq(got, len);
	content(i, wbuf, len);
	ck_assert(memcmp(rbuf, wbuf, len) == 0);
	btstore_file_reader_close(r);
}

struct seen {
	struct btstore *st;
	uint32_t max;
	uint32_t n;
};

static int
check_listed(void *arg, const struct btcore_dir_entry *e)
{
	struct seen *s = arg;
	char nm[32];
	unsigned long i;

	ck_assert_uint_lt(e->name_len, sizeof(nm));
	memcpy(nm, e->name, e->name_len);
	nm[e->name_len] = '\0';
	ck_assert_int_eq(nm[0], 'f');
	i = strtoul(nm + 1, NULL, 10);
	/* at most the one file whose acknowledgement the kill cut off */
	ck_assert_uint_le(i, s->max);
	ck_assert_uint_eq(e->size, file_size((uint32_t)i));
	verify_file(s->st, (uint32_t)i);
	s->n++;
	return 0;
}

START_TEST(sigkill_file_writer)
{
	struct btstore *st;
	struct bt_record rec;
	struct seen s;
	unsigned seed = 20261122, round, k;
	uint32_t next = 0, ack, first, i, listed;
	uint8_t enc[BTCORE_RECORD_ENC_MAX], sd[32];
	struct bt_id id;
	char path[160];
	size_t len;
	int pfd[2], status;
	ssize_t r;
	pid_t pid;

	memset(sd, 0x5c, sizeof(sd));
	ck_assert_int_eq(btcore_key_from_seed(&key, sd), BT_OK);
	btcore_key_signer(key, &signer);
	memcpy(id.b, signer.pub.b, 32);
	btcore_id_to_hex(&id, hex);
	snprintf(dir, sizeof(dir), "%s", "/tmp/btstore-fcrash-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_eq(btstore_open(&st, dir, NULL), BT_OK);
	ck_assert_int_eq(btstore_ns_create(st, &signer), BT_OK);
	btstore_close(st);
	for (round = 0; round < ROUNDS; round++) {
		ck_assert_int_eq(pipe(pfd), 0);
		pid = fork();
		ck_assert_int_ge(pid, 0);
		if (pid == 0) {
			close(pfd[0]);
			writer(pfd[1], next);
		}
		close(pfd[1]);
		usleep((useconds_t)(rand_r(&seed) % KILL_WINDOW_US));
		ck_assert_int_eq(kill(pid, SIGKILL), 0);
		ck_assert_int_eq(waitpid(pid, &status, 0), pid);
		ck_assert_msg(WIFSIGNALED(status), "writer exited with %d",
		    WEXITSTATUS(status));
		first = next;
		while ((r = read(pfd[0], &ack, sizeof(ack))) == sizeof(ack)) {
			ck_assert_uint_eq(ack, next);
			next++;
		}
		ck_assert_int_eq(r, 0);
		close(pfd[0]);
		ck_assert_int_eq(btstore_open(&st, dir, NULL), BT_OK);
		ck_assert_int_eq(btstore_ns_root(st, &signer.pub, enc,
		    sizeof(enc), &len, NULL, NULL), BT_OK);
		ck_assert_int_eq(btcore_record_decode(&rec, enc, len), BT_OK);
		for (i = first; i < next; i++)
			verify_file(st, i);
		/* every listed file is whole; the acknowledged ones are all
		 * there */
		listed = 0;
		for (k = 0; k < 4; k++) {
			memset(&s, 0, sizeof(s));
			s.st = st;
			s.max = next;
			snprintf(path, sizeof(path), "/%s/d%u", hex, k);
			status = btstore_ns_list(st, path, strlen(path),
			    check_listed, &s, NULL);
			ck_assert(status == BT_OK || (status == BT_ENOTFOUND &&
			    next <= k));
			listed += s.n;
		}
		ck_assert_uint_ge(listed, next);
		ck_assert_uint_le(listed, next + 1);
		btstore_close(st);
	}
	fprintf(stderr, "file crash test: %u kills, %u acknowledged files "
	    "verified\n", ROUNDS, next);
	ck_assert_uint_gt(next, ROUNDS / 4);
	btcore_key_free(key);
	snprintf(path, sizeof(path), "%s/data.mdb", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/lock.mdb", dir);
	unlink(path);
	rmdir(dir);
}
END_TEST

Suite *
suite_file_crash(void)
{
	Suite *s = suite_create("file_crash");
	TCase *tc = tcase_create("file_crash");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, sigkill_file_writer);
	suite_add_tcase(s, tc);
	return s;
}
