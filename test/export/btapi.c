/*
 * export/btapi.c - libbtapi through its shared library and public headers
 * only.  The export link line names the bt libraries but not libevent, so
 * this program stays off the event loop: configuration defaults, error
 * texts through every layer, and a blocking connect that finds no node.
 */
#include <stdio.h>
#include <string.h>

#include <bt/api.h>
#include <bt/apiserver.h>
#include <bt/ns.h>
#include <bt/store.h>

int
main(void)
{
	struct btapi_server_config cfg;
	struct btapi *c = NULL;
	int fail = 0;

	btapi_server_config_init(&cfg);
	if (cfg.max_clients != 64 || cfg.max_output != (4u << 20) ||
	    cfg.request_timeout_ms != BT_REQUEST_TIMEOUT_MS ||
	    cfg.dispatch_notify != 1 || cfg.store != NULL)
		fail = 1;
	if (strcmp(btapi_strerror(BTAPI_EDENIED),
	    "the program's manifest does not allow this") != 0 ||
	    strcmp(btapi_strerror(BTSTORE_EISDIR),
	    btstore_strerror(BTSTORE_EISDIR)) != 0)
		fail = 1;
	if (btapi_connect_blocking(&c, "/nonexistent/btapi/api.sock", NULL,
	    0) != BT_EIO || c != NULL)
		fail = 1;
	if (btapi_stream_size(NULL) != 0)
		fail = 1;
	btapi_close(NULL);
	btapi_server_close(NULL);
	printf("btapi %s: %s\n", btapi_version(), fail ? "FAIL" : "ok");
	return fail;
}
