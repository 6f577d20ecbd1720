/* bt-link: btapi */
/*
 * btapi-probe - a small program API client for btnode's integration tests
 * and `make run`.
 *
 *   btapi-probe [-s SOCKET] status          node id, home, online, peers
 *   btapi-probe [-s SOCKET] node-status     the "node" scope's status
 *   btapi-probe [-s SOCKET] put FILE PATH   store a local file at PATH
 *   btapi-probe [-s SOCKET] get PATH        write PATH to stdout; a path in
 *                                           another namespace is fetched by
 *                                           the node first (progress on
 *                                           stderr)
 *   btapi-probe [-s SOCKET] fetch PATH      fetch PATH's namespace (a stat
 *                                           of its root)
 *   btapi-probe [-s SOCKET] garbage         send malformed frames; expect
 *                                           error replies or a close
 *
 * SOCKET defaults to $BT_SOCKET.  Exit 0 on success, 1 on failure (the
 * message names the error), 2 on bad usage.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bson.h>

#include <bt/api.h>
#include <bt/id.h>
#include <bt/neterror.h>

static const char *prog = "btapi-probe";

static int
fail(const char *what, int err)
{
	fprintf(stderr, "%s: %s: %s\n", prog, what, btapi_strerror(err));
	return 1;
}

static int
do_status(struct btapi *c)
{
	struct btapi_status st;
	char home[128], hex[BT_ID_HEX_LEN + 1];
	int rc;

	if ((rc = btapi_status_sync(c, &st, home, sizeof(home))) != BT_OK)
		return fail("status", rc);
	printf("node %s\nhome %s\nonline %d\npeers %u\n",
	    btcore_id_to_hex(&st.node, hex), home, st.online, st.peers);
	return 0;
}

/* Call the node's own "node" scope with {op}. */
static int
node_call(struct btapi *c, const char *op, uint8_t **reply, size_t *rlen,
    int *code)
{
	struct bt_id self;
	const char *home;
	bson_t b;
	int rc;

	if ((rc = btapi_node(c, &self, &home)) != BT_OK)
		return rc;
	bson_init(&b);
	BSON_APPEND_UTF8(&b, "op", op);
	rc = btapi_call_sync(c, &self, "node", bson_get_data(&b), b.len, reply,
	    rlen, code);
	bson_destroy(&b);
	return rc;
}

static int
do_node_status(struct btapi *c)
{
	uint8_t *reply = NULL;
	size_t len = 0;
	int rc, code = 0;
	bson_t doc;
	char *json;

	if ((rc = node_call(c, "status", &reply, &len, &code)) != BT_OK)
		return fail("node status", rc == BTNET_EREMOTE ? code : rc);
	if (!bson_init_static(&doc, reply, len)) {
		btapi_free(reply);
		return fail("node status", BT_EFORMAT);
	}
	json = bson_as_relaxed_extended_json(&doc, NULL);
	printf("%s\n", json != NULL ? json : "?");
	bson_free(json);
	btapi_free(reply);
	return 0;
}

/* Progress of a fetch the node runs for a request, on stderr. */
static void
on_progress(void *arg, const struct btapi_progress *p)
{
	(void)arg;
	fprintf(stderr, "%s: %s %s: %llu blocks fetched, %llu here, %llu "
	    "known\n", prog, p->what, p->ns, (unsigned long long)p->fetched,
	    (unsigned long long)p->present, (unsigned long long)p->blocks);
}

/* Fetch the namespace of @p path: a stat of its root waits for it. */
static int
do_fetch(struct btapi *c, const char *path)
{
	struct btapi_stat st;
	char root[1 + BT_ID_HEX_LEN + 1];
	size_t n;

	n = strcspn(path + (path[0] == '/'), "/");
	if (path[0] != '/' || n != BT_ID_HEX_LEN)
		return BT_EFORMAT;
	memcpy(root, path, 1 + n);
	root[1 + n] = '\0';
	return btapi_stat_sync(c, root, &st);
}

static int
do_put(struct btapi *c, const char *file, const char *path)
{
	struct btapi_stream *s = NULL;
	char buf[65536], *parent = NULL, *slash;
	size_t n;
	FILE *f;
	int rc;

	if ((f = fopen(file, "rb")) == NULL) {
		fprintf(stderr, "%s: cannot open %s\n", prog, file);
		return 1;
	}
	if ((parent = strdup(path)) != NULL &&
	    (slash = strrchr(parent, '/')) != NULL && slash != parent) {
		*slash = '\0';
		if ((rc = btapi_mkdir_sync(c, parent, BTAPI_PARENTS)) != BT_OK &&
		    rc != BT_EEXIST) {
			fclose(f);
			free(parent);
			return fail(path, rc);
		}
	}
	free(parent);
	rc = btapi_stream_open_sync(&s, c, path, BTAPI_WRITE | BTAPI_CREATE, 0);
	while (rc == BT_OK && (n = fread(buf, 1, sizeof(buf), f)) > 0)
		rc = btapi_stream_write_sync(s, buf, n);
	if (s != NULL) {
		int crc = btapi_stream_close_sync(s);

		if (rc == BT_OK)
			rc = crc;
	}
	fclose(f);
	return rc == BT_OK ? 0 : fail(path, rc);
}

static int
read_out(struct btapi *c, const char *path, int *err)
{
	struct btapi_stream *s = NULL;
	char buf[65536];
	size_t n;
	int rc;

	if ((rc = btapi_stream_open_sync(&s, c, path, BTAPI_READ, 0)) != BT_OK) {
		*err = rc;
		return -1;
	}
	for (;;) {
		if ((rc = btapi_stream_read_sync(s, buf, sizeof(buf),
		    &n)) != BT_OK || n == 0)
			break;
		if (fwrite(buf, 1, n, stdout) != n) {
			rc = BT_EIO;
			break;
		}
	}
	if (btapi_stream_close_sync(s) != BT_OK && rc == BT_OK)
		rc = BT_EIO;
	*err = rc;
	return rc == BT_OK ? 0 : -1;
}

static int
do_get(struct btapi *c, const char *path)
{
	int err = BT_OK;

	/* a path in another namespace waits while the node fetches it */
	if (read_out(c, path, &err) == 0)
		return 0;
	return fail(path, err);
}

/* ---- malformed frames, on a raw socket ---------------------------------- */

static int
raw_connect(const char *path)
{
	struct sockaddr_un sa;
	int fd;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa.sun_path))
		return -1;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Read one reply frame within 5 s: 1 with an "err" below 0, 0 when the
 * node closed the connection, -1 otherwise. */
static int
raw_reply(int fd)
{
	uint8_t buf[4096];
	size_t have = 0, need = 4;
	struct pollfd p = { fd, POLLIN, 0 };
	bson_iter_t it;
	bson_t doc;
	ssize_t r;

	while (have < need) {
		if (poll(&p, 1, 5000) != 1)
			return -1;
		r = read(fd, buf + have, need - have);
		if (r == 0)
			return 0;
		if (r < 0)
			return errno == ECONNRESET ? 0 : -1;
		have += (size_t)r;
		if (have == 4) {
			need = 4 + ((size_t)buf[0] << 24 | (size_t)buf[1] << 16 |
			    (size_t)buf[2] << 8 | buf[3]);
			if (need > sizeof(buf))
				return -1;
		}
	}
	if (!bson_init_static(&doc, buf + 4, need - 4))
		return -1;
	if (bson_iter_init_find(&it, &doc, "err") &&
	    BSON_ITER_HOLDS_INT32(&it) && bson_iter_int32(&it) < 0)
		return 1;
	return -1;
}

static int
do_garbage(const char *path)
{
	/* {op: 5}: valid BSON, not a request */
	static const uint8_t notreq[] = { 0, 0, 0, 13, 13, 0, 0, 0, 0x10, 'o',
	    'p', 0, 5, 0, 0, 0, 0 };
	/* an element of type 0x99: not BSON */
	static const uint8_t notbson[] = { 0, 0, 0, 9, 9, 0, 0, 0, 0x99, 'x', 0,
	    1, 0 };
	/* frame length and document length disagree */
	static const uint8_t mismatch[] = { 0, 0, 0, 6, 5, 0, 0, 0, 0, 0 };
	/* a frame length of 2 GiB */
	static const uint8_t huge[] = { 0x80, 0, 0, 0 };
	const struct { const uint8_t *b; size_t n; int close_ok; } t[] = {
		{ notreq, sizeof(notreq), 0 },
		{ notbson, sizeof(notbson), 0 },
		{ mismatch, sizeof(mismatch), 1 },
		{ huge, sizeof(huge), 1 },
	};
	size_t i;
	int fd, r;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		if ((fd = raw_connect(path)) < 0) {
			fprintf(stderr, "%s: cannot connect to %s\n", prog,
			    path);
			return 1;
		}
		if (write(fd, t[i].b, t[i].n) != (ssize_t)t[i].n) {
			close(fd);
			return 1;
		}
		r = raw_reply(fd);
		close(fd);
		if (r == 1 || (r == 0 && t[i].close_ok)) {
			printf("frame %zu: %s\n", i, r == 1 ? "error reply" :
			    "connection closed");
			continue;
		}
		fprintf(stderr, "%s: malformed frame %zu: %s\n", prog, i,
		    r == 0 ? "closed without an error reply" :
		    "no error reply");
		return 1;
	}
	return 0;
}

static void
usage(void)
{
	fprintf(stderr, "usage: %s [-s SOCKET] status | node-status | "
	    "put FILE PATH | get PATH | fetch PATH | garbage\n", prog);
	exit(2);
}

int
main(int argc, char **argv)
{
	const char *sock = getenv("BT_SOCKET");
	struct btapi *c = NULL;
	int i = 1, rc, ret;

	if (argc > 2 && strcmp(argv[1], "-s") == 0) {
		sock = argv[2];
		i = 3;
	}
	if (i >= argc || sock == NULL)
		usage();
	if (strcmp(argv[i], "garbage") == 0)
		return do_garbage(sock);
	if ((rc = btapi_connect_blocking(&c, sock, NULL, 0)) != BT_OK)
		return fail(sock, rc);
	btapi_set_progress_cb(c, on_progress, NULL);
	if (strcmp(argv[i], "status") == 0 && argc == i + 1)
		ret = do_status(c);
	else if (strcmp(argv[i], "node-status") == 0 && argc == i + 1)
		ret = do_node_status(c);
	else if (strcmp(argv[i], "put") == 0 && argc == i + 3)
		ret = do_put(c, argv[i + 1], argv[i + 2]);
	else if (strcmp(argv[i], "get") == 0 && argc == i + 2)
		ret = do_get(c, argv[i + 1]);
	else if (strcmp(argv[i], "fetch") == 0 && argc == i + 2) {
		rc = do_fetch(c, argv[i + 1]);
		ret = rc == BT_OK ? 0 : fail(argv[i + 1], rc);
	} else {
		btapi_close(c);
		usage();
		return 2;
	}
	btapi_close(c);
	return ret;
}
