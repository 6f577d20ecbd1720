/*
 * test_relay.c - relayed connections on real loopback sockets without a
 * DHT: A cannot find B; B registers with R; A routes to B through R and
 * calls B, and opens a direct connection to it; R forwards only
 * ciphertext (the payload never appears in what it forwards); R relays
 * only for registered nodes; B's peer file names R; what an end sent
 * just before closing its connection still arrives; a peer met through a
 * relay is never recorded at an end of the relay (routing table, cache,
 * resolution once the route is gone).
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wcast-qual"
#ifdef __clang__
#pragma clang diagnostic ignored "-Wnewline-eof"
#endif
#include <bson.h>
#pragma GCC diagnostic pop

#include <event2/event.h>

#include <bt/friend.h>
#include <bt/key.h>
#include <bt/net.h>
#include <bt/relay.h>

#include "net-internal.h"

Suite *suite_relay(void);

#define R	0
#define A	1
#define B	2
#define C	3
#define NN	4

static const char marker[] = "PLAINTEXT-MARKER-of-the-relay-test";

struct rnode {
	struct btcore_key *key;
	struct btcore_signer signer;
	struct btnet *net;
	struct bt_id id;
	uint8_t file[BTNET_PEERFILE_MAX];
	size_t flen;
	int direct_msgs;
};

static struct event_base *base;
static struct rnode nodes[NN];
static uint8_t *tapped;
static size_t ntapped;

static uint64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void
run_for(uint64_t ms)
{
	struct timeval tv;

	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
}

static void
tap(void *arg, const uint8_t *data, size_t len)
{
	uint8_t *t;

	(void)arg;
	t = realloc(tapped, ntapped + len);
	ck_assert_ptr_nonnull(t);
	tapped = t;
	memcpy(tapped + ntapped, data, len);
	ntapped += len;
}

static int
tapped_has(const void *needle, size_t n)
{
	size_t i;

	for (i = 0; i + n <= ntapped; i++)
		if (memcmp(tapped + i, needle, n) == 0)
			return 1;
	return 0;
}

static void
h_echo(void *arg, struct btnet_rpc_req *req, const struct bt_id *from,
    const char *scope, const uint8_t *args, size_t len)
{
	(void)arg;
	(void)from;
	(void)scope;
	ck_assert_int_eq(btnet_rpc_reply(req, args, len), BT_OK);
}

static void
on_direct(void *arg, const struct bt_id *from, const char *scope,
    const uint8_t *data, size_t len)
{
	struct rnode *n = arg;

	(void)from;
	(void)scope;
	if (len == sizeof(marker) && memcmp(data, marker, len) == 0)
		n->direct_msgs++;
}

static void
start(void)
{
	struct btnet_config cfg;
	uint8_t seed[32];
	char listen[32];
	int i;

	signal(SIGPIPE, SIG_IGN);
	base = event_base_new();
	ck_assert_ptr_nonnull(base);
	memset(nodes, 0, sizeof(nodes));
	for (i = 0; i < NN; i++) {
		memset(seed, 0x90 + i, sizeof(seed));
		ck_assert_int_eq(btcore_key_from_seed(&nodes[i].key, seed),
		    BT_OK);
		btcore_key_signer(nodes[i].key, &nodes[i].signer);
		btnet_config_init(&cfg);
		cfg.request_timeout_ms = 1500;
		snprintf(listen, sizeof(listen), "127.0.4.%d:0", 10 + i);
		cfg.listen[0] = listen;
		cfg.nlisten = 1;
		ck_assert_int_eq(btnet_open(&nodes[i].net, base,
		    &nodes[i].signer, NULL, &cfg), BT_OK);
		btnet_local_id(nodes[i].net, &nodes[i].id);
		ck_assert_int_eq(btnet_rpc_handle(nodes[i].net, "echo", h_echo,
		    NULL), BT_OK);
		ck_assert_int_eq(btnet_direct_handle(nodes[i].net, "note",
		    on_direct, &nodes[i]), BT_OK);
		ck_assert_int_eq(btnet_online(nodes[i].net, NULL, 0), BT_OK);
		ck_assert_int_eq(btnet_friend_export(nodes[i].net,
		    nodes[i].file, sizeof(nodes[i].file), &nodes[i].flen),
		    BT_OK);
	}
	/* everyone knows R (a friend); nobody knows anyone else */
	for (i = A; i < NN; i++) {
		ck_assert_int_eq(btnet_friend_import(nodes[i].net,
		    nodes[R].file, nodes[R].flen, NULL), BT_OK);
		ck_assert_int_eq(btnet_friend_import(nodes[R].net,
		    nodes[i].file, nodes[i].flen, NULL), BT_OK);
	}
	btnet_relay_tap_(nodes[R].net, tap, NULL);
}

static void
stop(void)
{
	int i;

	for (i = 0; i < NN; i++) {
		btnet_close(nodes[i].net);
		btcore_key_free(nodes[i].key);
	}
	event_base_free(base);
	base = NULL;
	free(tapped);
	tapped = NULL;
	ntapped = 0;
}

struct callres {
	int done, status;
	int same;
};

static void
on_call(void *arg, const struct btnet_rpc_result *res)
{
	struct callres *r = arg;
	bson_t b;
	bson_iter_t it;
	uint32_t len;
	const char *s;

	ck_assert_int_eq(r->done, 0);
	r->done = 1;
	r->status = res->status;
	if (res->status == BT_OK && bson_init_static(&b, res->reply, res->len)
	    && bson_iter_init_find(&it, &b, "secret") &&
	    (s = bson_iter_utf8(&it, &len)) != NULL)
		r->same = len == sizeof(marker) - 1 &&
		    memcmp(s, marker, len) == 0;
}

static int
call(int from, int to, int *same)
{
	struct callres r;
	uint64_t end = mono_ms() + 8000;
	bson_t b;

	memset(&r, 0, sizeof(r));
	bson_init(&b);
	ck_assert(bson_append_utf8(&b, "secret", 6, marker,
	    (int)sizeof(marker) - 1));
	ck_assert_int_eq(btnet_rpc_call(nodes[from].net, &nodes[to].id,
	    "echo", bson_get_data(&b), b.len, on_call, &r), BT_OK);
	bson_destroy(&b);
	while (!r.done && mono_ms() < end)
		run_for(10);
	ck_assert(r.done);
	if (same != NULL)
		*same = r.same;
	return r.status;
}

struct regres {
	int done, status;
};

static void
on_register(void *arg, int status, const struct bt_id *relay)
{
	struct regres *r = arg;

	ck_assert_mem_eq(relay->b, nodes[R].id.b, BT_ID_LEN);
	ck_assert_int_eq(r->done, 0);
	r->done = 1;
	r->status = status;
}

static void
on_connect(void *arg, int status, const struct bt_id *peer)
{
	int *st = arg;

	(void)peer;
	*st = status;
}

/* R relays with default limits, B registers there, A routes to B
 * through R. */
static void
relay_b_for_a(void)
{
	struct btnet_relay_limits lim;
	struct regres reg;
	uint64_t end;

	btnet_relay_limits_init(&lim);
	ck_assert_int_eq(btnet_relay_serve(nodes[R].net, &lim), BT_OK);
	memset(&reg, 0, sizeof(reg));
	ck_assert_int_eq(btnet_relay_register(nodes[B].net, &nodes[R].id,
	    on_register, &reg), BT_OK);
	end = mono_ms() + 5000;
	while (!reg.done && mono_ms() < end)
		run_for(10);
	ck_assert_int_eq(reg.status, BT_OK);
	ck_assert_int_eq(btnet_relay_route(nodes[A].net, &nodes[B].id,
	    &nodes[R].id), BT_OK);
}

START_TEST(relayed_session)
{
	struct btnet_relay_limits lim;
	struct btnet_peerfile pf;
	struct regres reg;
	uint8_t file[BTNET_PEERFILE_MAX];
	uint64_t end;
	size_t len;
	int same = 0, st = 1;

	start();
	/* not serving: registration refused */
	memset(&reg, 0, sizeof(reg));
	ck_assert_int_eq(btnet_relay_register(nodes[B].net, &nodes[R].id,
	    on_register, &reg), BT_OK);
	ck_assert_int_eq(reg.done, 0);
	end = mono_ms() + 5000;
	while (!reg.done && mono_ms() < end)
		run_for(10);
	ck_assert_int_eq(reg.status, BT_EPERM);

	btnet_relay_limits_init(&lim);
	lim.burst = 100;
	ck_assert_int_eq(btnet_relay_serve(nodes[R].net, &lim), BT_ERANGE);
	btnet_relay_limits_init(&lim);
	ck_assert_int_eq(btnet_relay_serve(nodes[R].net, &lim), BT_OK);
	memset(&reg, 0, sizeof(reg));
	ck_assert_int_eq(btnet_relay_register(nodes[B].net, &nodes[R].id,
	    on_register, &reg), BT_OK);
	end = mono_ms() + 5000;
	while (!reg.done && mono_ms() < end)
		run_for(10);
	ck_assert_int_eq(reg.status, BT_OK);
	/* B's peer file now names R */
	ck_assert_int_eq(btnet_friend_export(nodes[B].net, file, sizeof(file),
	    &len), BT_OK);
	ck_assert_int_eq(btnet_friend_decode(file, len, &pf), BT_OK);
	ck_assert_uint_eq(pf.nvia, 1);
	ck_assert_mem_eq(pf.via[0].b, nodes[R].id.b, BT_ID_LEN);

	/* A cannot find B by itself */
	ck_assert_int_eq(call(A, B, NULL), BTNET_EUNREACHABLE);
	/* a route to a node not registered at R fails */
	ck_assert_int_eq(btnet_relay_route(nodes[A].net, &nodes[C].id,
	    &nodes[R].id), BT_OK);
	ck_assert_int_eq(call(A, C, NULL), BTNET_EUNREACHABLE);
	ck_assert_uint_eq(ntapped, 0);

	/* through R: an RPC both ways, R sees only ciphertext */
	ck_assert_int_eq(btnet_relay_route(nodes[A].net, &nodes[B].id,
	    &nodes[B].id), BT_EINVAL);
	ck_assert_int_eq(btnet_relay_route(nodes[A].net, &nodes[B].id,
	    &nodes[R].id), BT_OK);
	ck_assert_int_eq(call(A, B, &same), BT_OK);
	ck_assert(same);
	ck_assert_uint_gt(ntapped, 0);
	ck_assert(!tapped_has(marker, sizeof(marker) - 1));
	ck_assert(!tapped_has("echo", 4));
	/* B answers A over the same relayed connection */
	ck_assert_int_eq(call(B, A, &same), BT_OK);
	ck_assert(same);
	/* a direct connection and a direct message through it */
	ck_assert_int_eq(btnet_direct_connect(nodes[A].net, &nodes[B].id,
	    on_connect, &st), BT_OK);
	end = mono_ms() + 5000;
	while (st == 1 && mono_ms() < end)
		run_for(10);
	ck_assert_int_eq(st, BT_OK);
	ck_assert_int_eq(btnet_direct_send(nodes[A].net, &nodes[B].id, "note",
	    (const uint8_t *)marker, sizeof(marker)), BT_OK);
	end = mono_ms() + 5000;
	while (nodes[B].direct_msgs == 0 && mono_ms() < end)
		run_for(10);
	ck_assert_int_eq(nodes[B].direct_msgs, 1);
	ck_assert(!tapped_has(marker, sizeof(marker) - 1));

	/* R stops: the circuit ends, the relayed connection with it */
	ck_assert_int_eq(btnet_relay_serve(nodes[R].net, NULL), BT_OK);
	end = mono_ms() + 5000;
	while (btnet_peer_find_(nodes[A].net, &nodes[B].id) != NULL &&
	    mono_ms() < end)
		run_for(10);
	ck_assert_ptr_null(btnet_peer_find_(nodes[A].net, &nodes[B].id));
	btnet_relay_unroute(nodes[A].net, &nodes[B].id);
	btnet_relay_unregister(nodes[B].net, &nodes[R].id);
	stop();
}
END_TEST

/*
 * A circuit's end delivers what arrived before the circuit closed: B
 * sends a direct message and closes the relayed connection at once; the
 * message and the close reach A together, and A still gets the message.
 */
START_TEST(close_delivers_the_rest)
{
	struct net_peer *p;
	uint64_t end;
	int st = 1;

	start();
	relay_b_for_a();
	ck_assert_int_eq(btnet_direct_connect(nodes[A].net, &nodes[B].id,
	    on_connect, &st), BT_OK);
	end = mono_ms() + 5000;
	while (st == 1 && mono_ms() < end)
		run_for(10);
	ck_assert_int_eq(st, BT_OK);

	ck_assert_int_eq(btnet_direct_send(nodes[B].net, &nodes[A].id, "note",
	    (const uint8_t *)marker, sizeof(marker)), BT_OK);
	p = btnet_peer_find_(nodes[B].net, &nodes[A].id);
	ck_assert_ptr_nonnull(p);
	btnet_conn_drop_(nodes[B].net, p->conns, BT_OK);
	end = mono_ms() + 5000;
	while ((nodes[A].direct_msgs == 0 ||
	    btnet_peer_find_(nodes[A].net, &nodes[B].id) != NULL) &&
	    mono_ms() < end)
		run_for(10);
	ck_assert_int_eq(nodes[A].direct_msgs, 1);
	ck_assert_ptr_null(btnet_peer_find_(nodes[A].net, &nodes[B].id));
	stop();
}
END_TEST

struct resres {
	int done, status;
	size_t n;
	struct btnet_dht_addr addrs[BTNET_ADDRS_MAX];
};

static void
on_resolved(void *arg, int status, const struct bt_id *id,
    const struct btnet_dht_addr *addrs, size_t n)
{
	struct resres *r = arg;

	(void)id;
	r->done = 1;
	r->status = status;
	r->n = status == BT_OK ? n : 0;
	if (r->n > 0)
		memcpy(r->addrs, addrs, n * sizeof(*addrs));
}

/* Resolve node @p id at node @p at; the status, addresses in @p r. */
static int
resolve(int at, int id, struct resres *r)
{
	uint64_t end = mono_ms() + 8000;

	memset(r, 0, sizeof(*r));
	ck_assert_int_eq(btnet_resolve(nodes[at].net, &nodes[id].id,
	    on_resolved, r), BT_OK);
	while (!r->done && mono_ms() < end)
		run_for(10);
	ck_assert(r->done);
	return r->status;
}

static void
on_pong(struct btnet *net, void *ctx, int status,
    const struct btcore_msg *reply)
{
	int *st = ctx;

	(void)net;
	*st = status == BT_OK &&
	    btcore_msg_type(reply) == BTCORE_MSG_PING_REP ? BT_OK : BT_EPROTO;
}

/* A DHT "ping" from node @p from to node @p to: its engine answers. */
static void
dht_ping(int from, int to)
{
	struct btcore_msg *m = NULL;
	uint64_t end = mono_ms() + 5000;
	int st = 1;

	ck_assert_int_eq(btcore_msg_new(&m, BTCORE_MSG_PING_REQ,
	    btnet_tid_(nodes[from].net)), BT_OK);
	ck_assert_int_eq(btnet_request_(nodes[from].net, &nodes[to].id, m,
	    on_pong, &st), BT_OK);
	btcore_msg_free(m);
	while (st == 1 && mono_ms() < end)
		run_for(10);
	ck_assert_int_eq(st, BT_OK);
}

/* Whether node @p at has node @p id in its routing table. */
static int
in_table(int at, int id)
{
	struct btnet_dht_node close[BT_K];
	size_t i, n;

	n = btnet_dht_closest(btnet_dht(nodes[at].net), &nodes[id].id, close,
	    BT_K);
	for (i = 0; i < n; i++)
		if (memcmp(close[i].id.b, nodes[id].id.b, BT_ID_LEN) == 0)
			return 1;
	return 0;
}

static int
has_addr(const struct btnet_dht_addr *addrs, size_t n,
    const struct btnet_dht_addr *a)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (btnet_addr_eq_(&addrs[i], a))
			return 1;
	return 0;
}

/*
 * After a relayed session with DHT traffic both ways, neither end holds
 * an address of the other that came from the relayed connection: A's
 * route (a loopback listener of A's) and B's circuit socket are ends of
 * the relay.  A resolves B to the route while it lasts, and not after.
 */
START_TEST(relayed_peer_address)
{
	struct btnet_dht_addr route, addrs[BTNET_ADDRS_MAX];
	struct resres res;
	struct net_peer *p;
	uint64_t end;

	start();
	relay_b_for_a();
	ck_assert_int_eq(btnet_relay_route_addr_(nodes[A].net, &nodes[B].id,
	    &route), BT_OK);
	/* while the route lasts, it is what B resolves to at A */
	ck_assert_int_eq(resolve(A, B, &res), BT_OK);
	ck_assert_uint_eq(res.n, 1);
	ck_assert(btnet_addr_eq_(&res.addrs[0], &route));

	ck_assert_int_eq(call(A, B, NULL), BT_OK);
	ck_assert_int_eq(call(B, A, NULL), BT_OK);
	p = btnet_peer_find_(nodes[A].net, &nodes[B].id);
	ck_assert_ptr_nonnull(p);
	ck_assert(p->conns->relayed);
	p = btnet_peer_find_(nodes[B].net, &nodes[A].id);
	ck_assert_ptr_nonnull(p);
	ck_assert(p->conns->relayed);
	/* DHT requests both ways over the relayed connection; the engines
	   would ping back a node they do not know */
	dht_ping(B, A);
	dht_ping(A, B);
	run_for(500);

	ck_assert(!in_table(A, B));
	ck_assert(!in_table(B, A));
	ck_assert(!has_addr(addrs, btnet_cache_addrs_(nodes[A].net,
	    &nodes[B].id, addrs, BTNET_ADDRS_MAX), &route));
	/* B saw no signed record of A: nothing is an address of A there */
	ck_assert_uint_eq(btnet_cache_addrs_(nodes[B].net, &nodes[A].id,
	    addrs, BTNET_ADDRS_MAX), 0);

	/* without the route, B no longer resolves to it */
	btnet_relay_unroute(nodes[A].net, &nodes[B].id);
	end = mono_ms() + 5000;
	while (btnet_peer_find_(nodes[A].net, &nodes[B].id) != NULL &&
	    mono_ms() < end)
		run_for(10);
	ck_assert_ptr_null(btnet_peer_find_(nodes[A].net, &nodes[B].id));
	if (resolve(A, B, &res) == BT_OK)
		ck_assert(!has_addr(res.addrs, res.n, &route));
	stop();
}
END_TEST

Suite *
suite_relay(void)
{
	Suite *s = suite_create("relay");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, relayed_session);
	tcase_add_test(tc, close_delivers_the_rest);
	tcase_add_test(tc, relayed_peer_address);
	suite_add_tcase(s, tc);
	return s;
}
