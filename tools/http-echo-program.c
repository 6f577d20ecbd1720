/* bt-link: btapi */
/*
 * http-echo-program - a small program on libbtapi that registers an HTTP
 * route at its node and answers through the gateway; for the gateway's
 * integration tests.
 *
 *	http-echo-program -S socket [-m manifest] -H host -P prefix
 *	    [-M echo|silent|gone|stream] [-n bytes]
 *
 * echo: answers 200 at once and streams the request body back as it
 * comes; silent: never answers; gone: exits when a request arrives;
 * stream: answers with -n bytes of 'x' in pieces.  Prints "ready" once
 * the route is registered; exits 3 when the node refuses the route.
 */
#include <err.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include <bt/api.h>
#include <bt/error.h>

static const char *mode = "echo";
static const char *host, *prefix;
static unsigned long long nbytes = 1 << 20;
static struct event_base *base;
static struct btapi *conn;
static int exit_code;

static void
on_request(void *arg, struct btapi_http *req, const char *method,
    const char *h, const char *uri, const struct btapi_header *hd, size_t n)
{
	struct btapi_header out[3];
	static char buf[65536];
	unsigned long long left;
	size_t k;

	(void)arg;
	(void)h;
	(void)hd;
	(void)n;
	if (strcmp(mode, "silent") == 0)
		return;
	if (strcmp(mode, "gone") == 0)
		_exit(0);
	out[0].name = "Content-Type";
	out[0].value = "application/octet-stream";
	out[1].name = "X-Echo-Method";
	out[1].value = method;
	out[2].name = "X-Echo-Uri";
	out[2].value = uri;
	if (strcmp(mode, "stream") == 0) {
		if (btapi_http_respond(req, 200, out, 3, NULL, 0, 0) != BT_OK)
			return;
		memset(buf, 'x', sizeof(buf));
		for (left = nbytes; left > 0; left -= k) {
			k = left > sizeof(buf) ? sizeof(buf) : (size_t)left;
			if (btapi_http_send(req, buf, k, left == k) != BT_OK)
				return;
		}
		if (nbytes == 0 && btapi_http_send(req, NULL, 0, 1) != BT_OK)
			return;
		return;
	}
	if (btapi_http_respond(req, 200, out, 3, NULL, 0, 0) != BT_OK)
		warnx("respond failed");
}

static void
on_body(void *arg, struct btapi_http *req, const void *data, size_t len,
    int end)
{
	(void)arg;
	if (strcmp(mode, "echo") != 0)
		return;
	if (btapi_http_send(req, data, len, end) != BT_OK)
		warnx("send failed");
}

static const struct btapi_route_cbs CBS = { on_request, on_body, NULL };

static void
routed(void *arg, int rc)
{
	(void)arg;
	if (rc != BT_OK) {
		fprintf(stderr, "http-echo-program: route %s%s refused: %s\n",
		    host, prefix, btapi_strerror(rc));
		exit_code = 3;
		event_base_loopbreak(base);
		return;
	}
	printf("ready\n");
	fflush(stdout);
}

static void
hello(void *arg, int rc)
{
	(void)arg;
	if (rc != BT_OK) {
		fprintf(stderr, "http-echo-program: hello: %s\n",
		    btapi_strerror(rc));
		exit_code = 1;
		event_base_loopbreak(base);
		return;
	}
	if (btapi_route(conn, host, prefix, &CBS, NULL, routed, NULL) != BT_OK)
		errx(1, "route");
}

static void
closed(void *arg, int rc)
{
	(void)arg;
	(void)rc;
	if (exit_code == 0)
		exit_code = 1;
	event_base_loopbreak(base);
}

int
main(int argc, char **argv)
{
	const char *sock = NULL, *mpath = NULL;
	static uint8_t man[65536];
	size_t mlen = 0;
	FILE *f;
	int c;

	while ((c = getopt(argc, argv, "S:m:H:P:M:n:")) != -1) {
		switch (c) {
		case 'S': sock = optarg; break;
		case 'm': mpath = optarg; break;
		case 'H': host = optarg; break;
		case 'P': prefix = optarg; break;
		case 'M': mode = optarg; break;
		case 'n': nbytes = strtoull(optarg, NULL, 10); break;
		default:
			fprintf(stderr, "usage: http-echo-program -S sock "
			    "[-m manifest] -H host -P prefix [-M mode] [-n n]\n");
			return 2;
		}
	}
	if (sock == NULL || host == NULL || prefix == NULL)
		errx(2, "-S, -H and -P are required");
	signal(SIGPIPE, SIG_IGN);
	if (mpath != NULL) {
		if ((f = fopen(mpath, "rb")) == NULL)
			err(1, "%s", mpath);
		mlen = fread(man, 1, sizeof(man), f);
		fclose(f);
	}
	if ((base = event_base_new()) == NULL)
		errx(1, "event_base_new");
	if (btapi_open(&conn, base, sock, mpath != NULL ? man : NULL, mlen,
	    hello, NULL) != BT_OK)
		errx(1, "cannot connect to %s", sock);
	btapi_set_closed_cb(conn, closed, NULL);
	event_base_dispatch(base);
	btapi_close(conn);
	event_base_free(base);
	return exit_code;
}
