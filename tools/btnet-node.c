/* bt-link: btnet */
/*
 * btnet-node - one BlockTree network node in a process, for multi-process
 * tests on one machine.
 *
 *   btnet-node --listen IP:PORT --index I --count N [--bootstrap IP:PORT]
 *		[--timeout SEC] [--linger SEC]
 *
 * The node listens on IP:PORT, joins through the bootstrap address (the
 * first node has none), stores the value "value of node I" in the DHT,
 * then fetches "value of node J" for every J in 0..N-1 from the network.
 * When it has them all it prints a line saying so, keeps serving for
 * --linger seconds (default 5) so that the others can finish, and exits
 * 0.  It exits 1 when --timeout seconds (default 30) pass first, 2 on bad
 * usage.  Its identity key is derived from I, so runs are reproducible.
 * On loopback addresses the DHT's per-/24 limits are lifted (every
 * address of 127.0.0.0/8 is this machine).
 */
#include <err.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include <bt/dht.h>
#include <bt/hash.h>
#include <bt/key.h>
#include <bt/net.h>
#include <bt/neterror.h>

#define COUNT_MAX	1000

struct state {
	struct btnet *net;
	struct event_base *base;
	int index, count, online, failed;
	int *have;			/* values fetched, by node */
	int *asking;
	int put_done;
	int ok;
};

struct get {
	struct state *st;
	int j;
};

static void
usage(void)
{
	fprintf(stderr, "usage: btnet-node --listen IP:PORT --index I "
	    "--count N [--bootstrap IP:PORT]\n"
	    "                  [--timeout SEC] [--linger SEC]\n");
	exit(2);
}

/* A decimal number within [lo, hi], or exit 2 with a message. */
static unsigned long
number(const char *opt, const char *s, unsigned long lo, unsigned long hi)
{
	char *end;
	unsigned long v;

	if (s == NULL || *s < '0' || *s > '9') {
		fprintf(stderr, "btnet-node: %s needs a number\n", opt);
		exit(2);
	}
	v = strtoul(s, &end, 10);
	if (*end != '\0' || v < lo || v > hi) {
		fprintf(stderr, "btnet-node: %s must be a number from %lu to "
		    "%lu, not \"%s\"\n", opt, lo, hi, s);
		exit(2);
	}
	return v;
}

static void
value_of(int j, char *buf, size_t cap)
{
	snprintf(buf, cap, "value of node %d", j);
}

static void
on_event(void *arg, int event, int status)
{
	struct state *st = arg;

	if (event == BTNET_EVENT_ONLINE) {
		st->online = 1;
	} else if (status == BT_ETIMEDOUT) {
		fprintf(stderr, "btnet-node %d: no bootstrap node answered\n",
		    st->index);
		st->failed = 1;
		event_base_loopbreak(st->base);
	}
}

static void
on_put(void *arg, const struct btnet_dht_result *res)
{
	struct state *st = arg;

	if (res->status == BT_OK)
		st->put_done = 1;
}

static void
on_get(void *arg, const struct btnet_dht_result *res)
{
	struct get *g = arg;
	char want[64];

	value_of(g->j, want, sizeof(want));
	g->st->asking[g->j] = 0;
	if (res->status == BT_OK && res->value_len == strlen(want) &&
	    memcmp(res->value, want, res->value_len) == 0)
		g->st->have[g->j] = 1;
	free(g);
}

/* Twice a second: put our value until stored, ask for what is missing. */
static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct state *st = arg;
	struct bt_id key;
	struct get *g;
	char text[64];
	int j, missing = 0;

	(void)fd;
	(void)what;
	if (!st->online || st->ok)
		return;
	if (!st->put_done) {
		value_of(st->index, text, sizeof(text));
		if (btnet_dht_put_value(btnet_dht(st->net), text, strlen(text),
		    on_put, st) != BT_OK)
			return;
	}
	for (j = 0; j < st->count; j++) {
		if (st->have[j])
			continue;
		missing++;
		if (st->asking[j])
			continue;
		value_of(j, text, sizeof(text));
		if (btcore_id_hash(&key, text, strlen(text)) != BT_OK ||
		    (g = malloc(sizeof(*g))) == NULL)
			continue;
		g->st = st;
		g->j = j;
		if (btnet_dht_get_value(btnet_dht(st->net), &key, on_get, g) !=
		    BT_OK) {
			free(g);
			continue;
		}
		st->asking[j] = 1;
	}
	if (missing == 0 && st->put_done) {
		st->ok = 1;
		printf("btnet-node %d: stored its value and fetched all %d\n",
		    st->index, st->count);
		fflush(stdout);
	}
}

static void
on_stop(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	event_base_loopbreak(arg);
}

int
main(int argc, char **argv)
{
	const char *listen = NULL, *boot = NULL;
	unsigned long timeout = 30, linger = 5;
	struct btnet_config cfg;
	struct btcore_key *key = NULL;
	struct btcore_signer signer;
	struct event *tick, *stop;
	struct state st;
	struct timeval half = { 0, 500000 }, tv;
	uint8_t seed[32];
	int i, rc, has_index = 0, has_count = 0;

	memset(&st, 0, sizeof(st));
	for (i = 1; i < argc; i++) {
		if (i + 1 >= argc)
			usage();
		if (strcmp(argv[i], "--listen") == 0)
			listen = argv[++i];
		else if (strcmp(argv[i], "--bootstrap") == 0)
			boot = argv[++i];
		else if (strcmp(argv[i], "--index") == 0) {
			st.index = (int)number("--index", argv[++i], 0,
			    COUNT_MAX - 1);
			has_index = 1;
		} else if (strcmp(argv[i], "--count") == 0) {
			st.count = (int)number("--count", argv[++i], 1,
			    COUNT_MAX);
			has_count = 1;
		} else if (strcmp(argv[i], "--timeout") == 0)
			timeout = number("--timeout", argv[++i], 1, 600);
		else if (strcmp(argv[i], "--linger") == 0)
			linger = number("--linger", argv[++i], 0, 600);
		else
			usage();
	}
	if (listen == NULL || !has_index || !has_count)
		usage();
	if (st.index >= st.count) {
		fprintf(stderr, "btnet-node: --index must be below --count\n");
		exit(2);
	}
	signal(SIGPIPE, SIG_IGN);
	btnet_config_init(&cfg);
	cfg.listen[0] = listen;
	cfg.nlisten = 1;
	if (strncmp(listen, "127.", 4) == 0) {
		cfg.prefix_per_bucket = BT_K;
		cfg.prefix_per_table = COUNT_MAX;
	}
	memset(seed, 0, sizeof(seed));
	seed[0] = (uint8_t)(st.index >> 8);
	seed[1] = (uint8_t)st.index;
	seed[2] = 0x42;
	if (btcore_key_from_seed(&key, seed) != BT_OK)
		errx(1, "cannot create the identity key");
	btcore_key_signer(key, &signer);
	if ((st.base = event_base_new()) == NULL)
		errx(1, "cannot create an event loop");
	if ((rc = btnet_open(&st.net, st.base, &signer, NULL, &cfg)) != BT_OK)
		errx(1, "cannot listen on %s: %s", listen, btnet_strerror(rc));
	st.have = calloc((size_t)st.count, sizeof(int));
	st.asking = calloc((size_t)st.count, sizeof(int));
	if (st.have == NULL || st.asking == NULL)
		errx(1, "out of memory");
	btnet_setcb(st.net, on_event, &st);
	rc = boot != NULL ? btnet_online(st.net, &boot, 1) :
	    btnet_online(st.net, NULL, 0);
	if (rc != BT_OK)
		errx(2, "cannot go online with bootstrap \"%s\": %s",
		    boot != NULL ? boot : "", btnet_strerror(rc));
	tick = event_new(st.base, -1, EV_PERSIST, on_tick, &st);
	stop = evtimer_new(st.base, on_stop, st.base);
	if (tick == NULL || stop == NULL || event_add(tick, &half) != 0)
		errx(1, "cannot start timers");
	tv.tv_sec = (time_t)timeout;
	tv.tv_usec = 0;
	(void)evtimer_add(stop, &tv);
	while (!st.ok && !st.failed &&
	    event_base_loop(st.base, EVLOOP_ONCE) == 0 &&
	    !event_base_got_break(st.base))
		;
	if (st.ok && linger > 0) {
		/* keep serving the others */
		event_del(stop);
		tv.tv_sec = (time_t)linger;
		(void)evtimer_add(stop, &tv);
		(void)event_base_dispatch(st.base);
	}
	if (!st.ok && !st.failed) {
		int j, n = 0;

		for (j = 0; j < st.count; j++)
			n += st.have[j];
		fprintf(stderr, "btnet-node %d: timed out after %lu s with "
		    "%d of %d values%s\n", st.index, timeout, n, st.count,
		    st.put_done ? "" : " (its own not stored)");
	}
	event_free(tick);
	event_free(stop);
	btnet_close(st.net);
	event_base_free(st.base);
	btcore_key_free(key);
	free(st.have);
	free(st.asking);
	return st.ok ? 0 : 1;
}
