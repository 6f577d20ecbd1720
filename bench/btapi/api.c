/*
 * api.c - libbtapi benchmarks, each a ratio against a raw baseline
 * measured in the same run:
 *   stat round trips/s over the API socket / a raw Unix-socket echo of
 *   the same frame sizes;
 *   a 256 MiB file write through the API, 256 KiB a blocking write
 *   (MB/s) / btstore_ns_write() of the same bytes directly into a fresh
 *   store (in the first store every block would be there already).
 * The node's server runs on its own loop in a second thread.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>

#include <bt/api.h>
#include <bt/key.h>
#include <bt/ns.h>
#include <bt/store.h>
#include <bt/tree.h>

#include "bench.h"

#define FILE_SIZE	(256u << 20)
#define STAT_SECONDS	2.0

static struct event_base *sbase;
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

struct echo {
	int fd;
	size_t req, rep;
};

/* The raw baseline's server: read a request frame, answer a reply frame. */
static void *
echo_serve(void *arg)
{
	struct echo *e = arg;
	uint8_t buf[512];
	size_t got;
	ssize_t n;

	for (;;) {
		for (got = 0; got < e->req; got += (size_t)n)
			if ((n = read(e->fd, buf + got, e->req - got)) <= 0)
				return NULL;
		if (write(e->fd, buf, e->rep) != (ssize_t)e->rep)
			return NULL;
	}
}

static double
raw_echo_rate(size_t req, size_t rep)
{
	int sv[2];
	pthread_t t;
	struct echo e;
	uint8_t buf[512];
	double t0, el = 1;
	long n = 0;
	size_t got;
	ssize_t k;

	memset(buf, 1, sizeof(buf));
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
		return 0;
	e.fd = sv[1];
	e.req = req;
	e.rep = rep;
	pthread_create(&t, NULL, echo_serve, &e);
	t0 = bench_now();
	do {
		if (write(sv[0], buf, req) != (ssize_t)req)
			break;
		for (got = 0; got < rep; got += (size_t)k)
			if ((k = read(sv[0], buf + got, rep - got)) <= 0)
				break;
		n++;
	} while ((el = bench_now() - t0) < STAT_SECONDS);
	close(sv[0]);
	pthread_join(t, NULL);
	close(sv[1]);
	return (double)n / el;
}

int
main(void)
{
	char dir[] = "/tmp/btapi-bench-XXXXXX", p[128], sock[128], cmd[160];
	struct btstore *st;
	struct btstore_options *o;
	struct btcore_key *key;
	struct btcore_signer signer;
	struct btapi_server_config cfg;
	struct btapi_server *srv;
	struct btapi *c = NULL;
	struct btapi_stream *s;
	struct btapi_stat sb;
	pthread_t thr;
	uint8_t *data;
	double t0, el = 1, api_rate, raw_rate, api_mb, raw_mb;
	long n = 0;
	size_t off;
	int rc = 1;

	signal(SIGPIPE, SIG_IGN);
	if (mkdtemp(dir) == NULL)
		return 1;
	snprintf(p, sizeof(p), "%s/store", dir);
	snprintf(sock, sizeof(sock), "%s/run/api.sock", dir);
	if (mkdir(p, 0700) != 0 || btstore_options_new(&o) != BT_OK ||
	    btstore_options_set(o, BTSTORE_OPT_NOSYNC, 1) != BT_OK ||
	    btstore_open(&st, p, o) != BT_OK || btcore_key_generate(&key) !=
	    BT_OK)
		return 1;
	btstore_options_free(o);
	btcore_key_signer(key, &signer);
	sbase = event_base_new();
	btapi_server_config_init(&cfg);
	cfg.socket_path = sock;
	cfg.store = st;
	cfg.signer = &signer;
	if (btapi_server_open(&srv, sbase, &cfg) != BT_OK)
		return 1;
	pthread_create(&thr, NULL, serve, NULL);
	if (btapi_connect_blocking(&c, sock, NULL, 0) != BT_OK ||
	    btapi_mkdir_sync(c, "/b", 0) != BT_OK)
		goto out;

	/* stat round trips; frame sizes as the API's */
	t0 = bench_now();
	do {
		if (btapi_stat_sync(c, "/b", &sb) != BT_OK)
			goto out;
		n++;
	} while ((el = bench_now() - t0) < STAT_SECONDS);
	api_rate = (double)n / el;
	/* a stat request is about 60 bytes, its reply about 150 */
	raw_rate = raw_echo_rate(64, 160);
	bench_line("btapi", "stat_round_trips", api_rate, "ops/s", raw_rate,
	    "echo/s", NULL);

	/* a 256 MiB write through the API (a blocking write each 256 KiB),
	   then the same bytes written directly into a fresh store */
	if ((data = malloc(FILE_SIZE)) == NULL)
		goto out;
	for (off = 0; off < FILE_SIZE; off++)
		data[off] = (uint8_t)(off * 2654435761u >> 13);
	t0 = bench_now();
	if (btapi_stream_open_sync(&s, c, "/b/api.bin", BTAPI_WRITE |
	    BTAPI_CREATE, 0) != BT_OK)
		goto out;
	for (off = 0; off < FILE_SIZE; off += BTAPI_IO_MAX)
		if (btapi_stream_write_sync(s, data + off, BTAPI_IO_MAX) !=
		    BT_OK)
			goto out;
	if (btapi_stream_close_sync(s) != BT_OK)
		goto out;
	api_mb = FILE_SIZE / 1e6 / (bench_now() - t0);
	atomic_store(&stop, 1);
	pthread_join(thr, NULL);
	{
		/* into a store of its own, fresh as the first was: in the
		   same store every block would be there already */
		struct btstore *st2 = NULL;
		struct bt_id id;
		char hex[65], path[128];
		int wrc;

		snprintf(p, sizeof(p), "%s/raw", dir);
		if (mkdir(p, 0700) != 0 || btstore_options_new(&o) != BT_OK)
			goto out;
		wrc = btstore_options_set(o, BTSTORE_OPT_NOSYNC, 1);
		if (wrc == BT_OK)
			wrc = btstore_open(&st2, p, o);
		btstore_options_free(o);
		if (wrc == BT_OK)
			wrc = btstore_ns_create(st2, &signer);
		memcpy(id.b, signer.pub.b, 32);
		snprintf(path, sizeof(path), "/%s/raw.bin",
		    btcore_id_to_hex(&id, hex));
		t0 = bench_now();
		if (wrc == BT_OK)
			wrc = btstore_ns_write(st2, &signer, path, strlen(path),
			    data, FILE_SIZE, BTCORE_TREE_SEQUENTIAL, NULL, 0,
			    NULL);
		raw_mb = FILE_SIZE / 1e6 / (bench_now() - t0);
		btstore_close(st2);
		snprintf(p, sizeof(p), "%s/raw/data.mdb", dir);
		unlink(p);
		snprintf(p, sizeof(p), "%s/raw/lock.mdb", dir);
		unlink(p);
		snprintf(p, sizeof(p), "%s/raw", dir);
		rmdir(p);
		if (wrc != BT_OK)
			goto out;
	}
	bench_line("btapi", "write_256MiB", api_mb, "MB/s", raw_mb, "MB/s",
	    NULL);
	free(data);
	rc = 0;
out:
	if (!atomic_load(&stop)) {
		atomic_store(&stop, 1);
		pthread_join(thr, NULL);
	}
	btapi_close(c);
	btapi_server_close(srv);
	event_base_free(sbase);
	btstore_close(st);
	btcore_key_free(key);
	snprintf(cmd, sizeof(cmd), "%s", dir);
	snprintf(p, sizeof(p), "%s/store/data.mdb", dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/store/lock.mdb", dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/store", dir);
	rmdir(p);
	snprintf(p, sizeof(p), "%s/run", dir);
	rmdir(p);
	rmdir(cmd);
	return rc;
}
