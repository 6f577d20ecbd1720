/*
 * test_net.c - the node layer on real loopback sockets, several nodes in
 * one process, each listening on its own 127.0.0.x address: joining from
 * one seed node, RPC between any two (also through the DHT address
 * record), timeouts, remote errors, unknown scopes, direct connections,
 * online and offline events, values through the network.  Every wait has
 * a hard deadline.
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

#include <bt/dht.h>
#include <bt/hash.h>
#include <bt/key.h>
#include <bt/net.h>

#include "net-internal.h"

Suite *suite_net(void);

#define NMAX	10

struct tnode {
	struct btcore_key *key;
	struct btcore_signer signer;
	struct btnet *net;
	struct bt_id id;
	char addr[BTNET_ADDR_STRLEN];
	int online, offline, offline_status;
	int up, down;			/* direct events */
	struct bt_id direct_peer;
	int msgs_a, msgs_b;		/* direct messages per scope */
	uint8_t last[64];
	size_t last_len;
	struct btnet_rpc_req *held;	/* a request never answered */
	int calls_in;
};

static struct event_base *base;
static struct tnode nodes[NMAX];
static int nnodes;

/* ---- helpers ------------------------------------------------------------ */

static uint64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Run the loop until *flag becomes nonzero, at most @p ms. */
static int
wait_for(const int *flag, uint64_t ms)
{
	uint64_t end = mono_ms() + ms;
	struct timeval tick = { 0, 5000 };

	while (!*flag && mono_ms() < end) {
		event_base_loopexit(base, &tick);
		event_base_dispatch(base);
	}
	return *flag;
}

static void
run_for(uint64_t ms)
{
	int never = 0;

	(void)wait_for(&never, ms);
}

static void
on_event(void *arg, int event, int status)
{
	struct tnode *n = arg;

	if (event == BTNET_EVENT_ONLINE)
		n->online++;
	else if (event == BTNET_EVENT_OFFLINE) {
		n->offline++;
		n->offline_status = status;
	}
}

static void
on_direct_event(void *arg, const struct bt_id *peer, int up)
{
	struct tnode *n = arg;

	if (up)
		n->up++;
	else
		n->down++;
	n->direct_peer = *peer;
}

static void
on_direct_a(void *arg, const struct bt_id *from, const char *scope,
    const uint8_t *data, size_t len)
{
	struct tnode *n = arg;

	ck_assert_str_eq(scope, "chat/a");
	ck_assert_mem_eq(from->b, n->direct_peer.b, BT_ID_LEN);
	n->msgs_a++;
	if (len <= sizeof(n->last)) {
		memcpy(n->last, data, len);
		n->last_len = len;
	}
}

static void
on_direct_b(void *arg, const struct bt_id *from, const char *scope,
    const uint8_t *data, size_t len)
{
	struct tnode *n = arg;

	(void)from;
	(void)data;
	(void)len;
	ck_assert_str_eq(scope, "chat/b");
	n->msgs_b++;
}

/* "echo": answer with the arguments. */
static void
h_echo(void *arg, struct btnet_rpc_req *req, const struct bt_id *from,
    const char *scope, const uint8_t *args, size_t len)
{
	struct tnode *n = arg;

	(void)from;
	ck_assert_str_eq(scope, "echo");
	n->calls_in++;
	ck_assert_int_eq(btnet_rpc_reply(req, args, len), BT_OK);
}

/* "hold": never answer. */
static void
h_hold(void *arg, struct btnet_rpc_req *req, const struct bt_id *from,
    const char *scope, const uint8_t *args, size_t len)
{
	struct tnode *n = arg;

	(void)from;
	(void)scope;
	(void)args;
	(void)len;
	n->held = req;
}

/* "deny": an error with a code and text. */
static void
h_deny(void *arg, struct btnet_rpc_req *req, const struct bt_id *from,
    const char *scope, const uint8_t *args, size_t len)
{
	(void)arg;
	(void)from;
	(void)scope;
	(void)args;
	(void)len;
	ck_assert_int_eq(btnet_rpc_error(req, BT_EPERM, "not for you"), BT_OK);
}

static void
start_network(int n, uint32_t timeout_ms)
{
	struct btnet_config cfg;
	const char *boot[1];
	uint8_t seed[32];
	char listen[32];
	int i;

	signal(SIGPIPE, SIG_IGN);
	base = event_base_new();
	ck_assert_ptr_nonnull(base);
	nnodes = n;
	memset(nodes, 0, sizeof(nodes));
	for (i = 0; i < n; i++) {
		memset(seed, 0x30 + i, sizeof(seed));
		ck_assert_int_eq(btcore_key_from_seed(&nodes[i].key, seed),
		    BT_OK);
		btcore_key_signer(nodes[i].key, &nodes[i].signer);
		btnet_config_init(&cfg);
		/* one /24 on loopback: lift the per-prefix limits */
		cfg.prefix_per_bucket = BT_K;
		cfg.prefix_per_table = 1000;
		cfg.request_timeout_ms = timeout_ms;
		snprintf(listen, sizeof(listen), "127.0.0.%d:0", 20 + i);
		cfg.listen[0] = listen;
		cfg.nlisten = 1;
		ck_assert_int_eq(btnet_open(&nodes[i].net, base,
		    &nodes[i].signer, NULL, &cfg), BT_OK);
		btnet_local_id(nodes[i].net, &nodes[i].id);
		ck_assert_int_eq(btnet_local_addr(nodes[i].net, 0,
		    nodes[i].addr, sizeof(nodes[i].addr)), BT_OK);
		btnet_setcb(nodes[i].net, on_event, &nodes[i]);
		btnet_direct_events(nodes[i].net, on_direct_event, &nodes[i]);
		ck_assert_int_eq(btnet_rpc_handle(nodes[i].net, "echo", h_echo,
		    &nodes[i]), BT_OK);
		ck_assert_int_eq(btnet_rpc_handle(nodes[i].net, "hold", h_hold,
		    &nodes[i]), BT_OK);
		ck_assert_int_eq(btnet_rpc_handle(nodes[i].net, "deny", h_deny,
		    &nodes[i]), BT_OK);
		ck_assert_int_eq(btnet_direct_handle(nodes[i].net, "chat/a",
		    on_direct_a, &nodes[i]), BT_OK);
		ck_assert_int_eq(btnet_direct_handle(nodes[i].net, "chat/b",
		    on_direct_b, &nodes[i]), BT_OK);
	}
	ck_assert_int_eq(btnet_online(nodes[0].net, NULL, 0), BT_OK);
	ck_assert(wait_for(&nodes[0].online, 2000));
	boot[0] = nodes[0].addr;
	for (i = 1; i < n; i++) {
		ck_assert_int_eq(btnet_online(nodes[i].net, boot, 1), BT_OK);
		ck_assert_int_eq(btnet_online(nodes[i].net, boot, 1),
		    BT_ESTATE);
	}
	for (i = 1; i < n; i++)
		ck_assert_msg(wait_for(&nodes[i].online, 10000),
		    "node %d not online", i);
}

static int
all_published(void)
{
	int i;

	for (i = 0; i < nnodes; i++)
		if (nodes[i].net->stats.published == 0 ||
		    nodes[i].net->publishing > 0)
			return 0;
	return 1;
}

static void
wait_published(void)
{
	uint64_t end = mono_ms() + 15000;

	while (!all_published() && mono_ms() < end)
		run_for(20);
	ck_assert_msg(all_published(), "address records not published");
}

static void
stop_network(void)
{
	int i;

	for (i = 0; i < nnodes; i++) {
		btnet_close(nodes[i].net);
		btcore_key_free(nodes[i].key);
	}
	event_base_free(base);
	base = NULL;
}

/* A small document {"n": v}. */
static void
doc_int(bson_t *b, int v)
{
	bson_init(b);
	ck_assert(bson_append_int32(b, "n", 1, v));
}

struct callres {
	int done;
	int status, code;
	char text[128];
	int n;				/* "n" of the answer */
};

static void
on_call(void *arg, const struct btnet_rpc_result *res)
{
	struct callres *r = arg;
	bson_t b;
	bson_iter_t it;

	ck_assert_int_eq(r->done, 0);	/* exactly once */
	r->done = 1;
	r->status = res->status;
	r->code = res->code;
	ck_assert_ptr_nonnull(res->text);
	snprintf(r->text, sizeof(r->text), "%s", res->text);
	if (res->status == BT_OK) {
		ck_assert(bson_init_static(&b, res->reply, res->len));
		ck_assert(bson_iter_init_find(&it, &b, "n"));
		r->n = bson_iter_int32(&it);
	}
}

static void
call(int from, int to, const char *scope, int v, struct callres *r)
{
	bson_t b;

	memset(r, 0, sizeof(*r));
	doc_int(&b, v);
	ck_assert_int_eq(btnet_rpc_call(nodes[from].net, &nodes[to].id, scope,
	    bson_get_data(&b), b.len, on_call, r), BT_OK);
	/* never from inside the call */
	ck_assert_int_eq(r->done, 0);
	bson_destroy(&b);
}

static void on_resolved(void *arg, int status, const struct bt_id *id,
    const struct btnet_dht_addr *addrs, size_t n);

/* ---- tests ------------------------------------------------------------- */

START_TEST(config_and_arguments)
{
	struct btnet_config cfg;
	struct btcore_key *key;
	struct btcore_signer signer;
	struct btnet *net = (struct btnet *)1;
	uint8_t seed[32] = { 1 };
	char buf[BTNET_ADDR_STRLEN];
	bson_t b;

	btnet_config_init(&cfg);
	ck_assert_uint_eq(cfg.request_timeout_ms, 5000);
	ck_assert_uint_eq(cfg.request_timeout_ms, BT_REQUEST_TIMEOUT_MS);
	ck_assert_uint_eq(cfg.replication, BT_REPLICATION_DEFAULT);
	base = event_base_new();
	ck_assert_int_eq(btcore_key_from_seed(&key, seed), BT_OK);
	btcore_key_signer(key, &signer);

	ck_assert_int_eq(btnet_open(NULL, base, &signer, NULL, NULL),
	    BT_EINVAL);
	ck_assert_int_eq(btnet_open(&net, NULL, &signer, NULL, NULL),
	    BT_EINVAL);
	ck_assert_ptr_null(net);
	cfg.replication = BT_REPLICATION_MAX + 1;
	ck_assert_int_eq(btnet_open(&net, base, &signer, NULL, &cfg),
	    BT_ERANGE);
	btnet_config_init(&cfg);
	cfg.request_timeout_ms = 0;
	ck_assert_int_eq(btnet_open(&net, base, &signer, NULL, &cfg),
	    BT_EINVAL);
	btnet_config_init(&cfg);
	cfg.nlisten = BTNET_LISTEN_MAX + 1;
	ck_assert_int_eq(btnet_open(&net, base, &signer, NULL, &cfg),
	    BT_EINVAL);
	cfg.nlisten = 1;
	cfg.listen[0] = "localhost:80";
	ck_assert_int_eq(btnet_open(&net, base, &signer, NULL, &cfg),
	    BT_EFORMAT);
	ck_assert_ptr_null(net);

	/* a node without listener: dial only; offline until told */
	ck_assert_int_eq(btnet_open(&net, base, &signer, NULL, NULL), BT_OK);
	ck_assert_int_eq(btnet_local_addr(net, 0, buf, sizeof(buf)),
	    BT_ENOTFOUND);
	ck_assert_int_eq(btnet_is_online(net), 0);
	ck_assert_ptr_nonnull(btnet_dht(net));
	ck_assert_uint_eq(btnet_peers(net, NULL, 0), 0);
	/* scopes */
	ck_assert_int_eq(btnet_rpc_handle(net, "", h_echo, NULL), BT_EINVAL);
	ck_assert_int_eq(btnet_rpc_handle(net, "a b", h_echo, NULL),
	    BT_EINVAL);
	ck_assert_int_eq(btnet_rpc_handle(net,
	    "x1234567890123456789012345678901234567890123456789012345678901234",
	    h_echo, NULL), BT_EINVAL);
	ck_assert_int_eq(btnet_rpc_handle(net,
	    "x123456789012345678901234567890123456789012345678901234567890123",
	    h_echo, NULL), BT_OK);
	ck_assert_int_eq(btnet_rpc_handle(net, "app/v1.get_x-y", h_echo,
	    NULL), BT_OK);
	ck_assert_int_eq(btnet_rpc_handle(net, "app/v1.get_x-y", NULL, NULL),
	    BT_OK);
	ck_assert_int_eq(btnet_direct_handle(net, "caf\xc3\xa9", on_direct_a,
	    NULL), BT_EINVAL);
	/* calls: checked at once, offline refused */
	doc_int(&b, 1);
	{
		struct bt_id other, self;

		memset(other.b, 7, sizeof(other.b));
		btnet_local_id(net, &self);
		ck_assert_int_eq(btnet_rpc_call(net, &other, "echo",
		    bson_get_data(&b), b.len, on_call, NULL), BT_ESTATE);
		ck_assert_int_eq(btnet_rpc_call(net, &self, "echo",
		    bson_get_data(&b), b.len, on_call, NULL), BT_EINVAL);
		ck_assert_int_eq(btnet_rpc_call(net, &other, "no scope",
		    bson_get_data(&b), b.len, on_call, NULL), BT_EINVAL);
		ck_assert_int_eq(btnet_online(net, NULL, 0), BT_OK);
		ck_assert_int_eq(btnet_rpc_call(net, &other, "echo",
		    bson_get_data(&b), b.len - 1, on_call, NULL), BT_EFORMAT);
		ck_assert_int_eq(btnet_rpc_call(net, &other, "echo",
		    (const uint8_t *)"\x05\0\0\0\1", 5, on_call, NULL),
		    BT_EFORMAT);
		ck_assert_int_eq(btnet_direct_send(net, &other, "chat/a",
		    (const uint8_t *)"x", 1), BT_ESTATE);
		ck_assert_int_eq(btnet_resolve(net, &self, NULL, NULL),
		    BT_EINVAL);
	}
	bson_destroy(&b);
	{
		const char *bad[1] = { "127.0.0.1" };

		btnet_offline(net);
		ck_assert_int_eq(btnet_online(net, bad, 1), BT_EFORMAT);
		ck_assert_int_eq(btnet_online(net, NULL, 1), BT_EINVAL);
	}
	btnet_close(net);
	btnet_close(NULL);
	btcore_key_free(key);
	event_base_free(base);
	base = NULL;
}
END_TEST

START_TEST(address_lists)
{
	struct btnet_dht_addr a[BTNET_ADDRS_MAX + 1], back[BTNET_ADDRS_MAX];
	uint8_t buf[256], flip[256];
	size_t len, n, i, bit;
	int rc;

	memset(a, 0, sizeof(a));
	for (i = 0; i <= BTNET_ADDRS_MAX; i++) {
		a[i].family = (i % 2) ? 6 : 4;
		memset(a[i].ip, (int)(0x10 + i), a[i].family == 4 ? 4 : 16);
		a[i].port = (uint16_t)(4000 + i);
	}
	ck_assert_int_eq(btnet_addrs_encode(a, 0, buf, sizeof(buf), &len),
	    BT_ERANGE);
	ck_assert_int_eq(btnet_addrs_encode(a, BTNET_ADDRS_MAX + 1, buf,
	    sizeof(buf), &len), BT_ERANGE);
	ck_assert_int_eq(btnet_addrs_encode(a, 3, buf, 5, &len), BT_ENOSPC);
	ck_assert_uint_eq(len, 2 + 7 + 19 + 7);
	ck_assert_int_eq(btnet_addrs_encode(a, BTNET_ADDRS_MAX, buf,
	    sizeof(buf), &len), BT_OK);
	ck_assert_int_eq(btnet_addrs_decode(buf, len, back, &n), BT_OK);
	ck_assert_uint_eq(n, BTNET_ADDRS_MAX);
	for (i = 0; i < n; i++)
		ck_assert(btnet_addr_eq_(&a[i], &back[i]));
	/* every truncation fails; a trailing byte fails */
	for (i = 0; i < len; i++) {
		rc = btnet_addrs_decode(buf, i, back, &n);
		ck_assert(rc == BT_ETRUNC || rc == BT_EFORMAT);
		ck_assert_uint_eq(n, 0);
	}
	buf[len] = 0;
	ck_assert_int_eq(btnet_addrs_decode(buf, len + 1, back, &n),
	    BT_EFORMAT);
	/* bit flips: refused, or a valid list that encodes back the same */
	for (bit = 0; bit < len * 8; bit++) {
		memcpy(flip, buf, len);
		flip[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		if (btnet_addrs_decode(flip, len, back, &n) != BT_OK)
			continue;
		ck_assert_int_eq(btnet_addrs_encode(back, n, buf + 128, 128,
		    &i), BT_OK);
		ck_assert_uint_eq(i, len);
		ck_assert_mem_eq(buf + 128, flip, len);
	}
	/* port 0, family 5 */
	a[0].port = 0;
	ck_assert_int_eq(btnet_addrs_encode(a, 1, buf, sizeof(buf), &len),
	    BT_EINVAL);
	a[0].port = 1;
	a[0].family = 5;
	ck_assert_int_eq(btnet_addrs_encode(a, 1, buf, sizeof(buf), &len),
	    BT_EINVAL);
}
END_TEST

START_TEST(join_rpc_and_resolution)
{
	struct callres r[NMAX];
	int i;

	start_network(8, BT_REQUEST_TIMEOUT_MS);
	wait_published();
	for (i = 0; i < nnodes; i++) {
		ck_assert_int_eq(nodes[i].online, 1);
		ck_assert_int_eq(nodes[i].offline, 0);
		ck_assert_uint_gt(btnet_peers(nodes[i].net, NULL, 0), 0);
	}
	/* a call from every node to one three places on */
	for (i = 0; i < nnodes; i++)
		call(i, (i + 3) % nnodes, "echo", 100 + i, &r[i]);
	for (i = 0; i < nnodes; i++) {
		ck_assert(wait_for(&r[i].done, 6000));
		ck_assert_int_eq(r[i].status, BT_OK);
		ck_assert_int_eq(r[i].n, 100 + i);
	}
	/* bad arguments to resolution */
	ck_assert_int_eq(btnet_resolve(nodes[7].net, &nodes[5].id, NULL,
	    NULL), BT_EINVAL);
	ck_assert_int_eq(btnet_resolve(nodes[7].net, &nodes[7].id,
	    on_resolved, NULL), BT_EINVAL);
	stop_network();
}
END_TEST

/* Resolution results for the test below. */
struct resres {
	int done, status;
	size_t n;
	struct btnet_dht_addr a;
};

static void
on_resolved(void *arg, int status, const struct bt_id *id,
    const struct btnet_dht_addr *addrs, size_t n)
{
	struct resres *r = arg;

	(void)id;
	ck_assert_int_eq(r->done, 0);
	r->done = 1;
	r->status = status;
	r->n = n;
	if (n > 0)
		r->a = addrs[0];
}

START_TEST(resolve_through_dht)
{
	struct btnet_dht_addr want;
	struct resres res;
	struct callres r;
	int i, j;

	start_network(6, BT_REQUEST_TIMEOUT_MS);
	wait_published();
	for (i = 0; i < nnodes; i++) {
		for (j = 0; j < nnodes; j++) {
			if (i == j)
				continue;
			memset(&res, 0, sizeof(res));
			ck_assert_int_eq(btnet_resolve_dht_(nodes[i].net,
			    &nodes[j].id, on_resolved, &res), BT_OK);
			ck_assert_int_eq(res.done, 0);
			ck_assert(wait_for(&res.done, 6000));
			ck_assert_msg(res.status == BT_OK,
			    "%d resolving %d: %d", i, j, res.status);
			ck_assert_uint_eq(res.n, 1);
			ck_assert_int_eq(btnet_addr_parse_(nodes[j].addr,
			    &want), BT_OK);
			ck_assert(btnet_addr_eq_(&res.a, &want));
		}
	}
	ck_assert_uint_gt(nodes[0].net->stats.resolved_dht, 0);
	/* an unknown node is unreachable */
	{
		struct bt_id nobody;

		memset(nobody.b, 0xee, sizeof(nobody.b));
		memset(&res, 0, sizeof(res));
		ck_assert_int_eq(btnet_resolve(nodes[1].net, &nobody,
		    on_resolved, &res), BT_OK);
		ck_assert(wait_for(&res.done, 12000));
		ck_assert_int_eq(res.status, BTNET_EUNREACHABLE);
		call(2, 0, "echo", 1, &r);
		ck_assert(wait_for(&r.done, 6000));
		ck_assert_int_eq(r.status, BT_OK);
		memset(&r, 0, sizeof(r));
		{
			bson_t b;

			doc_int(&b, 5);
			ck_assert_int_eq(btnet_rpc_call(nodes[2].net, &nobody,
			    "echo", bson_get_data(&b), b.len, on_call, &r),
			    BT_OK);
			bson_destroy(&b);
		}
		ck_assert(wait_for(&r.done, 12000));
		ck_assert(r.status == BTNET_EUNREACHABLE ||
		    r.status == BT_ETIMEDOUT);
	}
	stop_network();
}
END_TEST

START_TEST(errors_and_timeouts)
{
	struct callres r;
	uint64_t t0;

	start_network(4, 800);
	wait_published();
	/* unknown scope: a distinct error */
	call(1, 2, "nothing-here", 1, &r);
	ck_assert(wait_for(&r.done, 3000));
	ck_assert_int_eq(r.status, BTNET_ENOSCOPE);
	ck_assert_str_eq(r.text, "no handler for this scope");
	/* a handler's error */
	call(3, 1, "deny", 1, &r);
	ck_assert(wait_for(&r.done, 3000));
	ck_assert_int_eq(r.status, BTNET_EREMOTE);
	ck_assert_int_eq(r.code, BT_EPERM);
	ck_assert_str_eq(r.text, "not for you");
	/* a handler that never answers: the timeout, on time */
	t0 = mono_ms();
	call(2, 3, "hold", 1, &r);
	ck_assert(wait_for(&r.done, 3000));
	ck_assert_int_eq(r.status, BT_ETIMEDOUT);
	ck_assert_uint_ge(mono_ms() - t0, 700);
	ck_assert_uint_lt(mono_ms() - t0, 2000);
	ck_assert_ptr_nonnull(nodes[3].held);
	/* a late answer goes nowhere (and frees the request) */
	{
		bson_t b;

		doc_int(&b, 9);
		ck_assert_int_eq(btnet_rpc_reply(nodes[3].held,
		    bson_get_data(&b), b.len), BT_OK);
		nodes[3].held = NULL;
		bson_destroy(&b);
		run_for(100);
	}
	/* a request still held when the node closes is freed by it */
	call(2, 3, "hold", 1, &r);
	ck_assert(wait_for(&r.done, 3000));
	ck_assert_int_eq(r.status, BT_ETIMEDOUT);
	ck_assert_ptr_nonnull(nodes[3].held);
	/* a call in flight when the caller closes: BT_ECLOSED, once */
	call(1, 3, "hold", 1, &r);
	run_for(50);
	ck_assert_int_eq(r.done, 0);
	stop_network();
	ck_assert_int_eq(r.done, 1);
	ck_assert_int_eq(r.status, BT_ECLOSED);
}
END_TEST

static void
on_connected(void *arg, int status, const struct bt_id *peer)
{
	struct callres *r = arg;

	(void)peer;
	ck_assert_int_eq(r->done, 0);
	r->done = 1;
	r->status = status;
}

START_TEST(direct_and_offline)
{
	struct callres r;
	int i;

	start_network(5, BT_REQUEST_TIMEOUT_MS);
	wait_published();
	/* 1 -> 4: both see the up event */
	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(btnet_direct_connect(nodes[1].net, &nodes[4].id,
	    on_connected, &r), BT_OK);
	ck_assert_int_eq(r.done, 0);
	ck_assert(wait_for(&r.done, 6000));
	ck_assert_int_eq(r.status, BT_OK);
	ck_assert(wait_for(&nodes[4].up, 2000));
	ck_assert_int_eq(nodes[1].up, 1);
	ck_assert_mem_eq(nodes[1].direct_peer.b, nodes[4].id.b, BT_ID_LEN);
	ck_assert_mem_eq(nodes[4].direct_peer.b, nodes[1].id.b, BT_ID_LEN);
	/* again: at once, from the loop, no second event */
	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(btnet_direct_connect(nodes[1].net, &nodes[4].id,
	    on_connected, &r), BT_OK);
	ck_assert_int_eq(r.done, 0);
	ck_assert(wait_for(&r.done, 1000));
	ck_assert_int_eq(r.status, BT_OK);
	ck_assert_int_eq(nodes[1].up, 1);
	/* messages per scope, both ways */
	for (i = 0; i < 5; i++)
		ck_assert_int_eq(btnet_direct_send(nodes[1].net, &nodes[4].id,
		    "chat/a", (const uint8_t *)"hello", 5), BT_OK);
	ck_assert_int_eq(btnet_direct_send(nodes[1].net, &nodes[4].id,
	    "chat/b", NULL, 0), BT_OK);
	ck_assert_int_eq(btnet_direct_send(nodes[1].net, &nodes[4].id,
	    "chat/none", (const uint8_t *)"x", 1), BT_OK);
	ck_assert_int_eq(btnet_direct_send(nodes[4].net, &nodes[1].id,
	    "chat/a", (const uint8_t *)"back", 4), BT_OK);
	ck_assert(wait_for(&nodes[4].msgs_b, 2000));
	ck_assert(wait_for(&nodes[1].msgs_a, 2000));
	run_for(50);
	ck_assert_int_eq(nodes[4].msgs_a, 5);
	ck_assert_int_eq(nodes[4].msgs_b, 1);
	ck_assert_uint_eq(nodes[4].last_len, 5);
	ck_assert_mem_eq(nodes[4].last, "hello", 5);
	ck_assert_uint_eq(nodes[1].last_len, 4);
	ck_assert_mem_eq(nodes[1].last, "back", 4);
	/* no direct connection between 2 and 3 */
	ck_assert_int_eq(btnet_direct_send(nodes[2].net, &nodes[3].id,
	    "chat/a", (const uint8_t *)"x", 1), BT_ESTATE);
	/* closed by one side: both see down */
	btnet_direct_close(nodes[4].net, &nodes[1].id);
	ck_assert_int_eq(nodes[4].down, 1);
	ck_assert(wait_for(&nodes[1].down, 2000));
	ck_assert_int_eq(btnet_direct_send(nodes[1].net, &nodes[4].id,
	    "chat/a", (const uint8_t *)"x", 1), BT_ESTATE);

	/* 2 -> 3 direct, then 3 goes offline: 2 sees down, 3 OFFLINE */
	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(btnet_direct_connect(nodes[2].net, &nodes[3].id,
	    on_connected, &r), BT_OK);
	ck_assert(wait_for(&r.done, 6000));
	ck_assert_int_eq(r.status, BT_OK);
	ck_assert(wait_for(&nodes[3].up, 2000));
	btnet_offline(nodes[3].net);
	ck_assert_int_eq(btnet_is_online(nodes[3].net), 0);
	ck_assert_int_eq(nodes[3].offline, 0);	/* reported from the loop */
	ck_assert(wait_for(&nodes[3].offline, 1000));
	ck_assert_int_eq(nodes[3].offline_status, BT_OK);
	ck_assert_int_eq(nodes[3].down, 1);
	ck_assert(wait_for(&nodes[2].down, 3000));
	ck_assert_uint_eq(btnet_peers(nodes[3].net, NULL, 0), 0);
	/* a call to the offline node fails */
	call(0, 3, "echo", 1, &r);
	ck_assert(wait_for(&r.done, 12000));
	ck_assert_msg(r.status == BTNET_EUNREACHABLE ||
	    r.status == BT_ETIMEDOUT || r.status == BT_ECLOSED, "%d",
	    r.status);
	/* back online: the ONLINE event again, and calls work */
	{
		const char *boot[1] = { nodes[0].addr };

		ck_assert_int_eq(btnet_online(nodes[3].net, boot, 1), BT_OK);
		ck_assert(wait_for(&nodes[3].online, 1));
		nodes[3].online = 0;
		ck_assert(wait_for(&nodes[3].online, 6000));
		call(3, 4, "echo", 44, &r);
		ck_assert(wait_for(&r.done, 6000));
		ck_assert_int_eq(r.status, BT_OK);
		ck_assert_int_eq(r.n, 44);
	}
	stop_network();
}
END_TEST

struct dhtres {
	int done, status;
	struct bt_id key;
	uint8_t value[64];
	size_t len;
};

static void
on_dht(void *arg, const struct btnet_dht_result *res)
{
	struct dhtres *r = arg;

	r->done = 1;
	r->status = res->status;
	r->key = res->key;
	if (res->value != NULL && res->value_len <= sizeof(r->value)) {
		memcpy(r->value, res->value, res->value_len);
		r->len = res->value_len;
	}
}

START_TEST(values_through_the_network)
{
	struct dhtres put, get;
	char text[32];
	int i;

	start_network(7, BT_REQUEST_TIMEOUT_MS);
	wait_published();
	for (i = 0; i < nnodes; i++) {
		memset(&put, 0, sizeof(put));
		snprintf(text, sizeof(text), "value of node %d", i);
		ck_assert_int_eq(btnet_dht_put_value(btnet_dht(nodes[i].net),
		    text, strlen(text), on_dht, &put), BT_OK);
		ck_assert(wait_for(&put.done, 8000));
		ck_assert_int_eq(put.status, BT_OK);
		memset(&get, 0, sizeof(get));
		ck_assert_int_eq(btnet_dht_get_value(
		    btnet_dht(nodes[(i + 4) % nnodes].net), &put.key, on_dht,
		    &get), BT_OK);
		ck_assert_msg(wait_for(&get.done, 8000), "get %d", i);
		ck_assert_int_eq(get.status, BT_OK);
		ck_assert_uint_eq(get.len, strlen(text));
		ck_assert_mem_eq(get.value, text, get.len);
	}
	stop_network();
}
END_TEST

Suite *
suite_net(void)
{
	Suite *s = suite_create("net");
	TCase *tc = tcase_create("net");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, config_and_arguments);
	tcase_add_test(tc, address_lists);
	tcase_add_test(tc, join_rpc_and_resolution);
	tcase_add_test(tc, resolve_through_dht);
	tcase_add_test(tc, errors_and_timeouts);
	tcase_add_test(tc, direct_and_offline);
	tcase_add_test(tc, values_through_the_network);
	suite_add_tcase(s, tc);
	return s;
}
