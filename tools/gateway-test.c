/* bt-link: btapi */
/*
 * gateway-test - an API server and its HTTP gateway (bt/apigateway.h) in
 * one process, on a fresh store, for the gateway's integration tests and
 * benchmark.
 *
 *	gateway-test -d dir [-l addr:port] [-s static]... [-t timeout_ms]
 *	    [-b max_body] [-H max_header]
 *
 * Makes dir/store, dir/api/sock (the API socket), a fresh node key, and
 * writes dir/info ("port N", "home HEX", "sock PATH") once it serves,
 * plus two program manifests signed by the node key: dir/manifest-echo
 * (routes 127.0.0.1 /echo, /slow, /gone, /stream) and dir/manifest-none
 * (no route).  Runs until SIGTERM or SIGINT.
 */
#include <err.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>

#include <bt/api.h>
#include <bt/apigateway.h>
#include <bt/apiserver.h>
#include <bt/error.h>
#include <bt/key.h>
#include <bt/manifest.h>
#include <bt/store.h>

static void
on_signal(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	event_base_loopexit(arg, NULL);
}

static void
write_manifest(const char *path, const struct btcore_signer *signer,
    const char *home, int routes)
{
	static const char *const R[] = { "/echo", "/slow", "/gone", "/stream" };
	struct btcore_manifest *m;
	uint8_t *enc = NULL;
	size_t len = 0, i;
	char grant[80];
	FILE *f;

	snprintf(grant, sizeof(grant), "/%s", home);
	if (btcore_manifest_new(&m) != BT_OK ||
	    btcore_manifest_set_name(m, routes ? "echo" : "noroute") != BT_OK ||
	    btcore_manifest_set_version(m, "1") != BT_OK ||
	    btcore_manifest_add_grant(m, grant, BTCORE_MANIFEST_READ) != BT_OK)
		errx(1, "manifest");
	for (i = 0; routes && i < sizeof(R) / sizeof(R[0]); i++)
		if (btcore_manifest_add_route(m, "127.0.0.1", R[i]) != BT_OK)
			errx(1, "manifest route");
	if (btcore_manifest_sign(m, signer, &enc, &len) != BT_OK)
		errx(1, "manifest sign");
	if ((f = fopen(path, "wb")) == NULL || fwrite(enc, 1, len, f) != len ||
	    fclose(f) != 0)
		err(1, "%s", path);
	btcore_manifest_bytes_free(enc);
	btcore_manifest_free(m);
}

int
main(int argc, char **argv)
{
	struct btapi_gateway_static st[16];
	struct btapi_gateway_config gcfg;
	struct btapi_server_config scfg;
	struct btstore_options *o;
	struct btstore *store = NULL;
	struct btcore_key *key = NULL;
	struct btcore_signer signer;
	struct event_base *base;
	struct btapi_server *srv = NULL;
	struct btapi_gateway *gw = NULL;
	struct event *sig1, *sig2;
	const char *dir = NULL, *statics[16], *why;
	char p[4096], sock[4096], home[65];
	struct bt_id id;
	size_t ns = 0, i;
	FILE *f;
	int c, rc;

	btapi_gateway_config_init(&gcfg);
	gcfg.listen = "127.0.0.1:0";
	btapi_server_config_init(&scfg);
	while ((c = getopt(argc, argv, "d:l:s:t:b:H:")) != -1) {
		switch (c) {
		case 'd': dir = optarg; break;
		case 'l': gcfg.listen = optarg; break;
		case 's':
			if (ns == 16)
				errx(2, "too many -s");
			statics[ns++] = optarg;
			break;
		case 't':
			scfg.request_timeout_ms = (uint32_t)strtoul(optarg,
			    NULL, 10);
			break;
		case 'b': gcfg.max_body_bytes = strtoull(optarg, NULL, 10);
			break;
		case 'H': gcfg.max_header_bytes = (uint32_t)strtoul(optarg,
			    NULL, 10);
			break;
		default:
			fprintf(stderr, "usage: gateway-test -d dir [-l addr:port]"
			    " [-s static]... [-t ms] [-b bytes] [-H bytes]\n");
			return 2;
		}
	}
	if (dir == NULL)
		errx(2, "-d dir is required");
	signal(SIGPIPE, SIG_IGN);
	snprintf(p, sizeof(p), "%s/store", dir);
	if (mkdir(p, 0700) != 0 && errno != EEXIST)
		err(1, "%s", p);
	if (btstore_options_new(&o) != BT_OK ||
	    btstore_options_set(o, BTSTORE_OPT_NOSYNC, 1) != BT_OK ||
	    (rc = btstore_open(&store, p, o)) != BT_OK)
		errx(1, "cannot open the store at %s", p);
	btstore_options_free(o);
	if (btcore_key_generate(&key) != BT_OK)
		errx(1, "key");
	btcore_key_signer(key, &signer);
	memcpy(id.b, signer.pub.b, 32);
	btcore_id_to_hex(&id, home);
	for (i = 0; i < ns; i++)
		if (btapi_gateway_parse_static(&st[i], statics[i], home, &why)
		    != BT_OK)
			errx(2, "-s %s: %s", statics[i], why);
	gcfg.statics = st;
	gcfg.n_statics = ns;
	snprintf(sock, sizeof(sock), "%s/api/sock", dir);
	if ((base = event_base_new()) == NULL)
		errx(1, "event_base_new");
	scfg.socket_path = sock;
	scfg.store = store;
	scfg.signer = &signer;
	if ((rc = btapi_server_open(&srv, base, &scfg)) != BT_OK)
		errx(1, "api server: %s", btapi_strerror(rc));
	if ((rc = btapi_gateway_open(&gw, base, srv, store, &gcfg)) != BT_OK)
		errx(1, "gateway on %s: %s", gcfg.listen, btapi_strerror(rc));
	snprintf(p, sizeof(p), "%s/manifest-echo", dir);
	write_manifest(p, &signer, home, 1);
	snprintf(p, sizeof(p), "%s/manifest-none", dir);
	write_manifest(p, &signer, home, 0);
	snprintf(p, sizeof(p), "%s/info.tmp", dir);
	if ((f = fopen(p, "w")) == NULL)
		err(1, "%s", p);
	fprintf(f, "port %d\nhome %s\nsock %s\n", btapi_gateway_port(gw),
	    home, sock);
	if (fclose(f) != 0)
		err(1, "%s", p);
	{
		char q[4096];

		snprintf(q, sizeof(q), "%s/info", dir);
		if (rename(p, q) != 0)
			err(1, "%s", q);
	}
	sig1 = evsignal_new(base, SIGTERM, on_signal, base);
	sig2 = evsignal_new(base, SIGINT, on_signal, base);
	if (sig1 == NULL || sig2 == NULL || evsignal_add(sig1, NULL) != 0 ||
	    evsignal_add(sig2, NULL) != 0)
		errx(1, "signals");
	event_base_dispatch(base);
	btapi_gateway_close(gw);
	btapi_server_close(srv);
	event_free(sig1);
	event_free(sig2);
	event_base_free(base);
	btstore_close(store);
	btcore_key_free(key);
	return 0;
}
