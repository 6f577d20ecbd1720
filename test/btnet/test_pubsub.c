/*
 * test_pubsub.c - pubsub on real loopback sockets: 50 subscribers in one
 * process on one event loop find each other through the DHT bag of the
 * channel, build a connected mesh, and a message from one reaches each
 * of the other 49 exactly once; forgeries are dropped; a node that left
 * receives nothing more.  Keys and addresses are fixed; every wait has a
 * hard deadline.
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include <bt/hash.h>
#include <bt/key.h>
#include <bt/msg.h>
#include <bt/net.h>
#include <bt/pubsub.h>

#include "net-internal.h"

Suite *suite_pubsub(void);

#define N	50

struct pnode {
	struct btcore_key *key;
	struct btcore_signer signer;
	struct btnet *net;
	struct bt_id id;
	char addr[BTNET_ADDR_STRLEN];
	int online;
	int got[4];			/* deliveries per message number */
	int bad;			/* deliveries that did not match */
};

static struct event_base *base;
static struct pnode nodes[N];
static struct bt_id chan;
static const struct bt_id *expect_from;

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
on_event(void *arg, int event, int status)
{
	struct pnode *n = arg;

	(void)status;
	if (event == BTNET_EVENT_ONLINE)
		n->online = 1;
}

static void
on_msg(void *arg, const struct bt_id *channel, const struct bt_id *from,
    const uint8_t *data, size_t len)
{
	struct pnode *n = arg;
	int k;

	if (memcmp(channel->b, chan.b, BT_ID_LEN) != 0 || len != 8 ||
	    memcmp(data, "message", 7) != 0 || expect_from == NULL ||
	    memcmp(from->b, expect_from->b, BT_ID_LEN) != 0) {
		n->bad++;
		return;
	}
	k = data[7] - '0';
	if (k >= 0 && k < 4)
		n->got[k]++;
	else
		n->bad++;
}

static void
start(void)
{
	struct btnet_config cfg;
	struct btnet_pubsub_config pc;
	const char *boot[1];
	uint8_t seed[32];
	char listen[32];
	uint64_t end;
	int i, all;

	signal(SIGPIPE, SIG_IGN);
	base = event_base_new();
	ck_assert_ptr_nonnull(base);
	memset(nodes, 0, sizeof(nodes));
	memset(chan.b, 0xc4, sizeof(chan.b));
	for (i = 0; i < N; i++) {
		memset(seed, 0x40 + i, sizeof(seed));
		ck_assert_int_eq(btcore_key_from_seed(&nodes[i].key, seed),
		    BT_OK);
		btcore_key_signer(nodes[i].key, &nodes[i].signer);
		btnet_config_init(&cfg);
		cfg.prefix_per_bucket = BT_K;
		cfg.prefix_per_table = 1000;
		/* every dial comes from 127.0.0.1 */
		cfg.max_conns_per_ip = 1000;
		cfg.handshake_rate = 6000000;
		cfg.handshake_burst = 100000;
		cfg.request_timeout_ms = 3000;
		snprintf(listen, sizeof(listen), "127.0.2.%d:0", 10 + i);
		cfg.listen[0] = listen;
		cfg.nlisten = 1;
		ck_assert_int_eq(btnet_open(&nodes[i].net, base,
		    &nodes[i].signer, NULL, &cfg), BT_OK);
		btnet_local_id(nodes[i].net, &nodes[i].id);
		ck_assert_int_eq(btnet_local_addr(nodes[i].net, 0,
		    nodes[i].addr, sizeof(nodes[i].addr)), BT_OK);
		btnet_setcb(nodes[i].net, on_event, &nodes[i]);
		btnet_pubsub_config_init(&pc);
		pc.fast_ms = 200;
		pc.refresh_ms = 5000;
		ck_assert_int_eq(btnet_pubsub_configure(nodes[i].net, &pc),
		    BT_OK);
	}
	ck_assert_int_eq(btnet_online(nodes[0].net, NULL, 0), BT_OK);
	boot[0] = nodes[0].addr;
	for (i = 1; i < N; i++)
		ck_assert_int_eq(btnet_online(nodes[i].net, boot, 1), BT_OK);
	end = mono_ms() + 20000;
	do {
		run_for(20);
		for (i = 0, all = 1; i < N; i++)
			all &= nodes[i].online;
	} while (!all && mono_ms() < end);
	ck_assert_msg(all, "not all online");
}

static void
stop(void)
{
	int i;

	for (i = 0; i < N; i++) {
		btnet_close(nodes[i].net);
		btcore_key_free(nodes[i].key);
	}
	event_base_free(base);
	base = NULL;
}

static int
index_of(const struct bt_id *id)
{
	int i;

	for (i = 0; i < N; i++)
		if (memcmp(nodes[i].id.b, id->b, BT_ID_LEN) == 0)
			return i;
	return -1;
}

/*
 * 1 when the mesh over the nodes not in @p out is connected, no node has
 * fewer than @p min peers, and no mesh names a node of @p out.
 */
static int
mesh_ready(const int *out, size_t min)
{
	struct bt_id peers[BTNET_PUBSUB_MESH_MAX];
	int adj[N][N], seen[N], stack[N], sp = 0, i, j, k, n, reached = 0,
	    members = 0, first = -1;

	memset(adj, 0, sizeof(adj));
	for (i = 0; i < N; i++) {
		if (out[i])
			continue;
		members++;
		if (first < 0)
			first = i;
		n = (int)btnet_pubsub_peers(nodes[i].net, &chan, peers,
		    BTNET_PUBSUB_MESH_MAX);
		if ((size_t)n < min)
			return 0;
		for (k = 0; k < n; k++) {
			j = index_of(&peers[k]);
			if (j < 0 || out[j])
				return 0;
			adj[i][j] = adj[j][i] = 1;
		}
	}
	memset(seen, 0, sizeof(seen));
	seen[first] = 1;
	stack[sp++] = first;
	while (sp > 0) {
		i = stack[--sp];
		reached++;
		for (j = 0; j < N; j++)
			if (adj[i][j] && !seen[j] && !out[j]) {
				seen[j] = 1;
				stack[sp++] = j;
			}
	}
	return reached == members;
}

static void
wait_mesh(const int *out)
{
	uint64_t end = mono_ms() + 30000;

	while (!mesh_ready(out, 3) && mono_ms() < end)
		run_for(50);
	ck_assert_msg(mesh_ready(out, 3), "mesh not formed");
}

static int
count_got(int k)
{
	int i, c = 0;

	for (i = 0; i < N; i++)
		c += nodes[i].got[k] > 0;
	return c;
}

static void
wait_got(int k, int want)
{
	uint64_t end = mono_ms() + 10000;

	while (count_got(k) < want && mono_ms() < end)
		run_for(10);
	run_for(300);			/* duplicates would arrive by now */
}

/* A pubsub message from node @p from's key with a given signature. */
static struct btcore_msg *
forged(int from, uint64_t seq, const uint8_t *payload, size_t len,
    const struct bt_sig *sig)
{
	struct btcore_msg *m = NULL;
	uint8_t buf[22 + 64 + 8];
	struct bt_id mid;

	memcpy(buf, "BlockTree pubsub id v1", 22);
	memcpy(buf + 22, chan.b, 32);
	memcpy(buf + 54, nodes[from].signer.pub.b, 32);
	buf[86] = 0; buf[87] = 0; buf[88] = 0; buf[89] = 0;
	buf[90] = (uint8_t)(seq >> 24);
	buf[91] = (uint8_t)(seq >> 16);
	buf[92] = (uint8_t)(seq >> 8);
	buf[93] = (uint8_t)seq;
	ck_assert_int_eq(btcore_id_hash(&mid, buf, sizeof(buf)), BT_OK);
	ck_assert_int_eq(btcore_msg_new(&m, BTCORE_MSG_PUBSUB, 77), BT_OK);
	ck_assert_int_eq(btcore_msg_set_bin(m, BTCORE_MSG_F_KEY, chan.b, 32),
	    BT_OK);
	ck_assert_int_eq(btcore_msg_set_bin(m, BTCORE_MSG_F_ID, mid.b, 32),
	    BT_OK);
	ck_assert_int_eq(btcore_msg_set_bin(m, BTCORE_MSG_F_PUBKEY,
	    nodes[from].signer.pub.b, 32), BT_OK);
	ck_assert_int_eq(btcore_msg_set_int64(m, BTCORE_MSG_F_SEQ,
	    (int64_t)seq), BT_OK);
	ck_assert_int_eq(btcore_msg_set_int64(m, BTCORE_MSG_F_HOPS, 0), BT_OK);
	ck_assert_int_eq(btcore_msg_set_bin(m, BTCORE_MSG_F_VALUE, payload,
	    len), BT_OK);
	ck_assert_int_eq(btcore_msg_set_bin(m, BTCORE_MSG_F_SIG, sig->b, 64),
	    BT_OK);
	return m;
}

START_TEST(arguments)
{
	struct btnet_pubsub_config pc;
	uint8_t big[16];
	int out[N];
	int i;

	(void)out;
	start();
	btnet_pubsub_config_init(&pc);
	ck_assert_uint_eq(pc.mesh, 6);
	pc.mesh = 0;
	ck_assert_int_eq(btnet_pubsub_configure(nodes[0].net, &pc), BT_ERANGE);
	pc.mesh = 13;
	ck_assert_int_eq(btnet_pubsub_configure(nodes[0].net, &pc), BT_ERANGE);
	btnet_pubsub_config_init(&pc);
	pc.ttl = 256;
	ck_assert_int_eq(btnet_pubsub_configure(nodes[0].net, &pc), BT_ERANGE);
	btnet_pubsub_config_init(&pc);
	pc.mesh_max = BTNET_PUBSUB_MESH_MAX + 1;
	ck_assert_int_eq(btnet_pubsub_configure(nodes[0].net, &pc), BT_ERANGE);
	ck_assert_int_eq(btnet_pubsub_configure(NULL, &pc), BT_EINVAL);
	ck_assert_int_eq(btnet_pubsub_join(nodes[0].net, NULL, on_msg, NULL),
	    BT_EINVAL);
	ck_assert_int_eq(btnet_pubsub_join(nodes[0].net, &chan, NULL, NULL),
	    BT_EINVAL);
	memset(big, 0, sizeof(big));
	ck_assert_int_eq(btnet_pubsub_publish(nodes[0].net, &chan, big, 1),
	    BT_ENOTFOUND);
	ck_assert_int_eq(btnet_pubsub_join(nodes[0].net, &chan, on_msg,
	    &nodes[0]), BT_OK);
	ck_assert_int_eq(btnet_pubsub_publish(nodes[0].net, &chan, NULL, 1),
	    BT_EINVAL);
	ck_assert_int_eq(btnet_pubsub_publish(nodes[0].net, &chan, big,
	    BTNET_PUBSUB_PAYLOAD_MAX + 1), BT_ETOOBIG);
	/* no mesh yet: sent to nobody, not an error */
	ck_assert_int_eq(btnet_pubsub_publish(nodes[0].net, &chan, big, 1),
	    BT_OK);
	ck_assert_uint_eq(btnet_pubsub_peers(nodes[0].net, &chan, NULL, 0), 0);
	btnet_pubsub_leave(nodes[0].net, &chan);
	btnet_pubsub_leave(nodes[0].net, &chan);
	ck_assert_int_eq(btnet_pubsub_publish(nodes[0].net, &chan, big, 1),
	    BT_ENOTFOUND);
	/* a channel limit */
	for (i = 0; i < BTNET_PUBSUB_CHANNELS_MAX; i++) {
		struct bt_id c;

		memset(c.b, i, sizeof(c.b));
		ck_assert_int_eq(btnet_pubsub_join(nodes[1].net, &c, on_msg,
		    NULL), BT_OK);
	}
	ck_assert_int_eq(btnet_pubsub_join(nodes[1].net, &chan, on_msg, NULL),
	    BT_ENOSPC);
	stop();
}
END_TEST

START_TEST(fifty_subscribers)
{
	struct bt_id peers[BTNET_PUBSUB_MESH_MAX];
	struct btcore_msg *m;
	struct bt_sig sig;
	uint64_t d0, dup0, f0, d1, dup1, f1, dups = 0;
	int out[N], i, target;
	uint8_t msg[8];

	start();
	for (i = 0; i < N; i++)
		ck_assert_int_eq(btnet_pubsub_join(nodes[i].net, &chan, on_msg,
		    &nodes[i]), BT_OK);
	memset(out, 0, sizeof(out));
	wait_mesh(out);

	/* one message from node 7 reaches the other 49 exactly once */
	expect_from = &nodes[7].id;
	memcpy(msg, "message1", 8);
	ck_assert_int_eq(btnet_pubsub_publish(nodes[7].net, &chan, msg, 8),
	    BT_OK);
	wait_got(1, N - 1);
	for (i = 0; i < N; i++) {
		ck_assert_int_eq(nodes[i].bad, 0);
		ck_assert_msg(nodes[i].got[1] == (i == 7 ? 0 : 1),
		    "node %d got message 1 %d times", i, nodes[i].got[1]);
		btnet_pubsub_counts_(nodes[i].net, &d0, &dup0, &f0);
		dups += dup0;
	}
	/* the flood reached nodes more than once; each delivered once */
	ck_assert_uint_gt(dups, 0);

	/* a forged signature, then a valid signature by another key */
	ck_assert_uint_gt(btnet_pubsub_peers(nodes[3].net, &chan, peers, 1),
	    0);
	target = index_of(&peers[0]);
	ck_assert_int_ge(target, 0);
	btnet_pubsub_counts_(nodes[target].net, &d0, &dup0, &f0);
	memset(sig.b, 0x5a, sizeof(sig.b));
	memcpy(msg, "message2", 8);
	m = forged(3, 1, msg, 8, &sig);
	ck_assert_int_eq(btnet_send_msg_(nodes[3].net, &peers[0], m), BT_OK);
	btcore_msg_free(m);
	ck_assert_int_eq(btcore_key_sign(nodes[5].key, msg, 8, &sig), BT_OK);
	m = forged(3, 2, msg, 8, &sig);
	ck_assert_int_eq(btnet_send_msg_(nodes[3].net, &peers[0], m), BT_OK);
	btcore_msg_free(m);
	run_for(300);
	btnet_pubsub_counts_(nodes[target].net, &d1, &dup1, &f1);
	ck_assert_uint_eq(f1, f0 + 2);
	ck_assert_uint_eq(d1, d0);
	ck_assert_int_eq(count_got(2), 0);

	/* node 11 leaves: the rest mend the mesh, 11 receives nothing */
	btnet_pubsub_leave(nodes[11].net, &chan);
	ck_assert_uint_eq(btnet_pubsub_peers(nodes[11].net, &chan, NULL, 0),
	    0);
	out[11] = 1;
	wait_mesh(out);
	memcpy(msg, "message3", 8);
	ck_assert_int_eq(btnet_pubsub_publish(nodes[7].net, &chan, msg, 8),
	    BT_OK);
	wait_got(3, N - 2);
	for (i = 0; i < N; i++) {
		ck_assert_int_eq(nodes[i].bad, 0);
		ck_assert_msg(nodes[i].got[3] == (i == 7 || i == 11 ? 0 : 1),
		    "node %d got message 3 %d times", i, nodes[i].got[3]);
	}
	expect_from = NULL;
	stop();
}
END_TEST

Suite *
suite_pubsub(void)
{
	Suite *s = suite_create("pubsub");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, arguments);
	tcase_add_test(tc, fifty_subscribers);
	suite_add_tcase(s, tc);
	return s;
}
