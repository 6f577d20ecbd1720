/*
 * test_sync.c - the blocking client: a node's API server runs on its own
 * loop in a second thread, the program uses the *_sync calls.
 */
#include <check.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bson/bson.h>
#include <event2/event.h>

#include <bt/api.h>
#include <bt/key.h>
#include <bt/net.h>
#include <bt/store.h>

Suite *suite_sync(void);

static char dir[64], sock[128];
static struct btstore *st;
static struct btcore_key *key;
static struct btcore_signer signer;
static struct event_base *sbase;
static struct btapi_server *srv;
static pthread_t thr;
static atomic_int stop;

static void
tick(evutil_socket_t fd, short w, void *arg)
{
	(void)fd;
	(void)w;
	if (atomic_load(&stop))
		event_base_loopbreak(arg);
}

static void *
serve(void *arg)
{
	struct event *t = event_new(sbase, -1, EV_PERSIST, tick, sbase);
	struct timeval tv = { 0, 5000 };

	(void)arg;
	evtimer_add(t, &tv);
	event_base_dispatch(sbase);
	event_free(t);
	return NULL;
}

static void
setup(void)
{
	struct btapi_server_config cfg;
	struct btstore_options *o;
	char p[128];

	signal(SIGPIPE, SIG_IGN);
	snprintf(dir, sizeof(dir), "%s", "/tmp/btapi-sync-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(p, sizeof(p), "%s/store", dir);
	ck_assert_int_eq(mkdir(p, 0700), 0);
	ck_assert_int_eq(btstore_options_new(&o), BT_OK);
	ck_assert_int_eq(btstore_options_set(o, BTSTORE_OPT_NOSYNC, 1), BT_OK);
	ck_assert_int_eq(btstore_open(&st, p, o), BT_OK);
	btstore_options_free(o);
	ck_assert_int_eq(btcore_key_generate(&key), BT_OK);
	btcore_key_signer(key, &signer);
	snprintf(sock, sizeof(sock), "%s/run/api.sock", dir);
	ck_assert_ptr_nonnull(sbase = event_base_new());
	btapi_server_config_init(&cfg);
	cfg.socket_path = sock;
	cfg.store = st;
	cfg.signer = &signer;
	ck_assert_int_eq(btapi_server_open(&srv, sbase, &cfg), BT_OK);
	atomic_store(&stop, 0);
	ck_assert_int_eq(pthread_create(&thr, NULL, serve, NULL), 0);
}

static void
teardown(void)
{
	char p[160];

	atomic_store(&stop, 1);
	pthread_join(thr, NULL);
	btapi_server_close(srv);
	event_base_free(sbase);
	btstore_close(st);
	btcore_key_free(key);
	snprintf(p, sizeof(p), "%s/store/data.mdb", dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/store/lock.mdb", dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/store", dir);
	rmdir(p);
	snprintf(p, sizeof(p), "%s/run", dir);
	rmdir(p);
	rmdir(dir);
}

static int
count_entry(void *arg, const struct btapi_dirent *e)
{
	(void)e;
	(*(int *)arg)++;
	return 0;
}

START_TEST(blocking_files_and_lines)
{
	struct btapi *c, *d;
	struct btapi_stream *s;
	struct btapi_stat sb;
	struct btapi_status stt;
	char line[64], home[80], name[32];
	const size_t size = 3 * 1024 * 1024 + 7;
	uint8_t *data = malloc(size), *back = malloc(size);
	size_t n, got;
	uint64_t pos;
	int64_t tok, tok2;
	int i, count = 0;

	ck_assert_ptr_nonnull(data);
	ck_assert_ptr_nonnull(back);
	ck_assert_int_eq(btapi_connect_blocking(&c, sock, NULL, 0), BT_OK);
	ck_assert_int_eq(btapi_status_sync(c, &stt, home, sizeof(home)),
	    BT_OK);
	ck_assert_uint_eq(stt.clients, 1);
	ck_assert_int_eq(home[0], '/');
	ck_assert_uint_eq(strlen(home), 65);
	ck_assert_int_eq(btapi_mkdir_sync(c, "/d", 0), BT_OK);

	/* text: formatted output, then lines back */
	ck_assert_int_eq(btapi_stream_open_sync(&s, c, "/d/t.txt",
	    BTAPI_WRITE | BTAPI_CREATE, 0), BT_OK);
	for (i = 0; i < 500; i++)
		ck_assert_int_eq(btapi_stream_printf(s, "line %03d\n", i), BT_OK);
	ck_assert_int_eq(btapi_stream_close_sync(s), BT_OK);
	ck_assert_int_eq(btapi_stream_open_sync(&s, c, "/d/t.txt", BTAPI_READ,
	    0), BT_OK);
	for (i = 0; i < 500; i++) {
		ck_assert_int_eq(btapi_stream_getline_sync(s, line,
		    sizeof(line), &n), BT_OK);
		snprintf(name, sizeof(name), "line %03d", i);
		ck_assert_str_eq(line, name);
		ck_assert_uint_eq(n, 8);
	}
	ck_assert_int_eq(btapi_stream_getline_sync(s, line, sizeof(line), &n),
	    BT_ENOTFOUND);
	/* seek back: the read-ahead is dropped */
	ck_assert_int_eq(btapi_stream_seek_sync(s, 9, 0, &pos), BT_OK);
	ck_assert_uint_eq(pos, 9);
	ck_assert_int_eq(btapi_stream_getline_sync(s, line, sizeof(line), &n),
	    BT_OK);
	ck_assert_str_eq(line, "line 001");
	ck_assert_int_eq(btapi_stream_getline_sync(s, line, 4, &n), BT_ERANGE);
	ck_assert_int_eq(btapi_stream_close_sync(s), BT_OK);

	/* a multi-MiB pipelined write, read back */
	for (n = 0; n < size; n++)
		data[n] = (uint8_t)(n * 31 + (n >> 11));
	ck_assert_int_eq(btapi_stream_open_sync(&s, c, "/d/big",
	    BTAPI_WRITE | BTAPI_CREATE | BTAPI_RANDOM, 0), BT_OK);
	for (n = 0; n < size; n += 65536)
		ck_assert_int_eq(btapi_stream_write_sync(s, data + n,
		    size - n < 65536 ? size - n : 65536), BT_OK);
	ck_assert_int_eq(btapi_stream_close_sync(s), BT_OK);
	ck_assert_int_eq(btapi_stat_sync(c, "/d/big", &sb), BT_OK);
	ck_assert_uint_eq(sb.size, size);
	ck_assert_int_eq(sb.random, 1);
	ck_assert_int_eq(btapi_stream_open_sync(&s, c, "/d/big", BTAPI_READ,
	    0), BT_OK);
	for (got = 0; got < size; got += n) {
		ck_assert_int_eq(btapi_stream_read_sync(s, back + got,
		    size - got, &n), BT_OK);
		ck_assert_uint_gt(n, 0);
	}
	ck_assert(memcmp(data, back, size) == 0);
	ck_assert_int_eq(btapi_stream_close_sync(s), BT_OK);

	/* list, rename, remove */
	ck_assert_int_eq(btapi_list_sync(c, "/d", count_entry, &count), BT_OK);
	ck_assert_int_eq(count, 2);
	ck_assert_int_eq(btapi_rename_sync(c, "/d/big", "/e/big",
	    BTAPI_PARENTS), BT_OK);
	ck_assert_int_eq(btapi_stat_sync(c, "/d/big", &sb), BT_ENOTFOUND);
	ck_assert_int_eq(btapi_remove_sync(c, "/e", BTAPI_RECURSIVE), BT_OK);

	/* locks between two blocking programs */
	ck_assert_int_eq(btapi_connect_blocking(&d, sock, NULL, 0), BT_OK);
	ck_assert_int_eq(btapi_lock_sync(c, "/d", 0, &tok), BT_OK);
	ck_assert_int_eq(btapi_lock_sync(d, "/d/t.txt", 0, &tok2),
	    BTAPI_ELOCKED);
	ck_assert_int_eq(btapi_remove_sync(d, "/d/t.txt", 0), BTAPI_ELOCKED);
	ck_assert_int_eq(btapi_unlock_sync(c, tok), BT_OK);
	ck_assert_int_eq(btapi_lock_sync(d, "/d/t.txt", 0, &tok2), BT_OK);
	ck_assert_int_gt(tok2, tok);
	btapi_close(d);
	ck_assert_int_eq(btapi_remove_sync(c, "/d/t.txt", 0), BT_OK);
	btapi_close(c);
	free(data);
	free(back);
}
END_TEST

START_TEST(blocking_call_and_refusals)
{
	struct btapi *c;
	struct bt_id node;
	uint8_t *reply;
	size_t rlen;
	int code;

	ck_assert_int_eq(btapi_connect_blocking(&c, "/nonexistent/api.sock",
	    NULL, 0), BT_EIO);
	ck_assert_int_eq(btapi_connect_blocking(&c, sock, NULL, 0), BT_OK);
	ck_assert_int_eq(btapi_node(c, &node, NULL), BT_OK);
	ck_assert_int_eq(btapi_call_sync(c, &node, "none", NULL, 0, &reply,
	    &rlen, &code), BTNET_ENOSCOPE);
	ck_assert_ptr_null(reply);
	btapi_close(c);
}
END_TEST

Suite *
suite_sync(void)
{
	Suite *s = suite_create("sync");
	TCase *tc = tcase_create("sync");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, blocking_files_and_lines);
	tcase_add_test(tc, blocking_call_and_refusals);
	suite_add_tcase(s, tc);
	return s;
}
