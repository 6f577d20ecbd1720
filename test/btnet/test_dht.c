/*
 * test_dht.c - the DHT engine in a simulated network of 200 nodes, and
 * one engine against hand-made hostile messages.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bt/dht.h>
#include <bt/dhtstore.h>
#include <bt/key.h>
#include <bt/msg.h>
#include <bt/record.h>

#include "dht-internal.h"
#include "btnet/dhtsim.h"

/* ---- a lone engine whose sends are captured ----------------------------- */

#define CAP_MAX	64

struct cap {
	uint64_t now, rng;
	size_t n;
	struct {
		struct btnet_dht_addr to;
		struct bt_id to_id;
		int has_id;
		uint8_t *msg;
		size_t len;
	} m[CAP_MAX];
	struct btnet_dht_env env;
	struct btnet_dht_memstore *ms;
	struct btnet_dht *dht;
	struct bt_id self;
};

static uint64_t
cap_now(void *ctx)
{
	return ((struct cap *)ctx)->now;
}

static int
cap_random(void *ctx, void *buf, size_t len)
{
	struct cap *c = ctx;
	uint8_t *p = buf;
	uint64_t v;
	size_t i;

	for (i = 0; i < len; i += 8) {
		v = dhtsim_mix(&c->rng);
		memcpy(p + i, &v, len - i < 8 ? len - i : 8);
	}
	return BT_OK;
}

static int
cap_send(void *ctx, const struct btnet_dht_addr *to,
    const struct bt_id *to_id, const uint8_t *msg, size_t len)
{
	struct cap *c = ctx;

	if (c->n == CAP_MAX) {
		free(c->m[0].msg);
		memmove(&c->m[0], &c->m[1], (CAP_MAX - 1) * sizeof(c->m[0]));
		c->n--;
	}
	c->m[c->n].to = *to;
	c->m[c->n].has_id = to_id != NULL;
	if (to_id != NULL)
		c->m[c->n].to_id = *to_id;
	c->m[c->n].msg = malloc(len);
	ck_assert_ptr_nonnull(c->m[c->n].msg);
	memcpy(c->m[c->n].msg, msg, len);
	c->m[c->n].len = len;
	c->n++;
	return BT_OK;
}

static void
cap_clear(struct cap *c)
{
	size_t i;

	for (i = 0; i < c->n; i++)
		free(c->m[i].msg);
	c->n = 0;
}

static void
cap_open(struct cap *c, const struct btnet_dht_config *cfg)
{
	struct btnet_dht_storage st;

	memset(c, 0, sizeof(*c));
	c->now = 1000;
	c->rng = 77;
	memset(c->self.b, 0x80, BT_ID_LEN);
	c->env.now_ms = cap_now;
	c->env.random = cap_random;
	c->env.send = cap_send;
	c->env.ctx = c;
	ck_assert_int_eq(btnet_dht_memstore_new(&c->ms, NULL), BT_OK);
	btnet_dht_memstore_storage(c->ms, &st);
	ck_assert_int_eq(btnet_dht_new(&c->dht, &c->env, &st, &c->self, cfg),
	    BT_OK);
}

static void
cap_close(struct cap *c)
{
	btnet_dht_free(c->dht);
	btnet_dht_memstore_free(c->ms);
	cap_clear(c);
}

/* Decode the last captured message. */
static struct btcore_msg *
cap_last(struct cap *c)
{
	struct btcore_msg *m = NULL;

	ck_assert_uint_gt(c->n, 0);
	ck_assert_int_eq(btcore_msg_decode(&m, c->m[c->n - 1].msg,
	    c->m[c->n - 1].len), BT_OK);
	return m;
}

/* Decode the last captured message of type @p t. */
static struct btcore_msg *
cap_find(struct cap *c, enum btcore_msg_type t)
{
	struct btcore_msg *m = NULL;
	size_t i;

	for (i = c->n; i-- > 0;) {
		ck_assert_int_eq(btcore_msg_decode(&m, c->m[i].msg,
		    c->m[i].len), BT_OK);
		if (btcore_msg_type(m) == t)
			return m;
		btcore_msg_free(m);
	}
	ck_abort_msg("no message of type %d sent", (int)t);
	return NULL;
}

static void
mkaddr(struct btnet_dht_addr *a, uint8_t b1, uint8_t b2, uint8_t b3,
    uint16_t port)
{
	memset(a, 0, sizeof(*a));
	a->family = 4;
	a->ip[0] = 10;
	a->ip[1] = b1;
	a->ip[2] = b2;
	a->ip[3] = b3;
	a->port = port;
}

static void
mkid(struct bt_id *id, uint32_t n)
{
	uint8_t in[4] = { (uint8_t)(n >> 24), (uint8_t)(n >> 16),
		(uint8_t)(n >> 8), (uint8_t)n };

	ck_assert_int_eq(btcore_id_hash(id, in, sizeof(in)), BT_OK);
}

/* Encode @p m (consumed) and feed it to the engine. */
static int
feed(struct cap *c, struct btcore_msg *m, const struct btnet_dht_addr *from,
    const struct bt_id *from_id)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc;

	ck_assert_int_eq(btcore_msg_encode(m, &buf, &len), BT_OK);
	btcore_msg_free(m);
	rc = btnet_dht_input(c->dht, from, from_id, buf, len);
	btcore_msg_bytes_free(buf);
	return rc;
}

static struct btcore_msg *
mk(enum btcore_msg_type t, int64_t tid)
{
	struct btcore_msg *m = NULL;

	ck_assert_int_eq(btcore_msg_new(&m, t, tid), BT_OK);
	return m;
}

/*
 * Make @p id at @p from known: it pings us, we ping it back, it answers.
 * Returns the engine's result for the answer.
 */
static int
introduce(struct cap *c, const struct bt_id *id,
    const struct btnet_dht_addr *from, const struct bt_id *answer_as)
{
	struct btcore_msg *m;
	int64_t tid;
	size_t before;

	ck_assert_int_eq(feed(c, mk(BTCORE_MSG_PING_REQ, 5), from, id), BT_OK);
	before = c->n;
	m = cap_last(c);
	/* the last message is our ping to it, unless it was not wanted */
	if (btcore_msg_type(m) != BTCORE_MSG_PING_REQ) {
		btcore_msg_free(m);
		return BT_ENOTFOUND;
	}
	tid = btcore_msg_tid(m);
	btcore_msg_free(m);
	ck_assert_uint_eq(before, c->n);
	return feed(c, mk(BTCORE_MSG_PING_REP, tid), from, answer_as);
}

static size_t
table_size(const struct btnet_dht *dht)
{
	struct btnet_dht_stats st;

	btnet_dht_stats(dht, &st);
	return st.table_size;
}

/* ---- 1: a 200-node network ----------------------------------------------- */

#define NET_N		200
#define NET_VALUES	24

static int
run_op(struct dhtsim *sim, size_t node, struct dhtsim_wait *w)
{
	dhtsim_kick(sim, node);
	ck_assert_int_eq(w->done, 0);	/* never from inside the call */
	dhtsim_run(sim, &w->done, 120000);
	ck_assert_int_eq(w->done, 1);
	return w->status;
}

START_TEST(network_200)
{
	struct dhtsim sim;
	struct dhtsim_wait w;
	struct bt_id key, keys[NET_VALUES];
	uint8_t val[NET_VALUES][100];
	size_t truth[BT_K], i, j, n, from, exact = 0, killed = 0;
	uint64_t r = 12345;

	memset(&w, 0, sizeof(w));
	ck_assert_int_eq(dhtsim_init(&sim, NET_N, 1, NULL), BT_OK);
	ck_assert_uint_eq(dhtsim_join_all(&sim), NET_N - 1);
	/* let the pings of the last joins settle */
	dhtsim_run(&sim, NULL, 20000);

	/* lookups find the true k closest */
	for (i = 0; i < 30; i++) {
		from = (size_t)(dhtsim_mix(&r) % NET_N);
		ck_assert_int_eq(dhtsim_random(&sim.nodes[from], key.b,
		    BT_ID_LEN), BT_OK);
		dhtsim_wait_reset(&w);
		ck_assert_int_eq(btnet_dht_find_nodes(sim.nodes[from].dht,
		    &key, dhtsim_cb, &w), BT_OK);
		ck_assert_int_eq(run_op(&sim, from, &w), BT_OK);
		n = dhtsim_true_closest(&sim, &key, from, truth, BT_K);
		ck_assert_uint_eq(w.nnodes, BT_K);
		ck_assert_uint_eq(n, BT_K);
		/* nearest first, and the very set brute force finds */
		for (j = 1; j < w.nnodes; j++)
			ck_assert_int_lt(btcore_id_distance_cmp(&key,
			    &w.nodes[j - 1].id, &w.nodes[j].id), 0);
		if (dhtsim_overlap(&sim, w.nodes, w.nnodes, truth, n) == n)
			exact++;
	}
	ck_assert_uint_eq(exact, 30);

	/* values set from any node are read from any other */
	for (i = 0; i < NET_VALUES; i++) {
		for (j = 0; j < sizeof(val[i]); j++)
			val[i][j] = (uint8_t)dhtsim_mix(&r);
		from = (size_t)(dhtsim_mix(&r) % NET_N);
		dhtsim_wait_reset(&w);
		ck_assert_int_eq(btnet_dht_put_value(sim.nodes[from].dht,
		    val[i], sizeof(val[i]), dhtsim_cb, &w), BT_OK);
		ck_assert_int_eq(run_op(&sim, from, &w), BT_OK);
		ck_assert_uint_ge(w.stored, BT_REPLICATION_DEFAULT);
		ck_assert_int_eq(btcore_id_hash(&keys[i], val[i],
		    sizeof(val[i])), BT_OK);
	}
	for (i = 0; i < NET_VALUES; i++) {
		from = (size_t)(dhtsim_mix(&r) % NET_N);
		dhtsim_wait_reset(&w);
		ck_assert_int_eq(btnet_dht_get_value(sim.nodes[from].dht,
		    &keys[i], dhtsim_cb, &w), BT_OK);
		ck_assert_int_eq(run_op(&sim, from, &w), BT_OK);
		ck_assert_uint_eq(w.value_len, sizeof(val[i]));
		ck_assert_mem_eq(w.value, val[i], sizeof(val[i]));
	}
	/* a key nobody stored is not found */
	memset(key.b, 0x33, BT_ID_LEN);
	dhtsim_wait_reset(&w);
	ck_assert_int_eq(btnet_dht_get_value(sim.nodes[3].dht, &key,
	    dhtsim_cb, &w), BT_OK);
	ck_assert_int_eq(run_op(&sim, 3, &w), BT_ENOTFOUND);

	/* kill 30%: every value is still there with replication 5 */
	while (killed < NET_N * 3 / 10) {
		i = (size_t)(dhtsim_mix(&r) % NET_N);
		if (!sim.nodes[i].dead) {
			sim.nodes[i].dead = 1;
			killed++;
		}
	}
	for (i = 0; i < NET_VALUES; i++) {
		do {
			from = (size_t)(dhtsim_mix(&r) % NET_N);
		} while (sim.nodes[from].dead);
		dhtsim_wait_reset(&w);
		ck_assert_int_eq(btnet_dht_get_value(sim.nodes[from].dht,
		    &keys[i], dhtsim_cb, &w), BT_OK);
		ck_assert_int_eq(run_op(&sim, from, &w), BT_OK);
		ck_assert_uint_eq(w.value_len, sizeof(val[i]));
		ck_assert_mem_eq(w.value, val[i], sizeof(val[i]));
	}
	/* lookups still converge on the live closest */
	for (i = 0; i < 5; i++) {
		do {
			from = (size_t)(dhtsim_mix(&r) % NET_N);
		} while (sim.nodes[from].dead);
		ck_assert_int_eq(dhtsim_random(&sim.nodes[from], key.b,
		    BT_ID_LEN), BT_OK);
		dhtsim_wait_reset(&w);
		ck_assert_int_eq(btnet_dht_find_nodes(sim.nodes[from].dht,
		    &key, dhtsim_cb, &w), BT_OK);
		ck_assert_int_eq(run_op(&sim, from, &w), BT_OK);
		/*
		 * Right after the kill the tables still name dead nodes, so
		 * a reply carries fewer live ones: most, not always all, of
		 * the live k closest are found.
		 */
		n = dhtsim_true_closest(&sim, &key, from, truth, BT_K);
		ck_assert_uint_ge(dhtsim_overlap(&sim, w.nodes, w.nnodes,
		    truth, n), n * 3 / 4);
	}
	dhtsim_wait_reset(&w);
	dhtsim_free(&sim);
}
END_TEST


/* ---- 2: routing-table poisoning ----------------------------------------- */

START_TEST(poisoning)
{
	struct cap c;
	struct btcore_msg *m;
	struct btcore_msg_node mn;
	struct btnet_dht_addr a;
	struct btnet_dht_node near[BT_K];
	struct bt_id id, other;
	struct dhtsim_wait w;
	size_t i, sent;
	int64_t tid;

	memset(&w, 0, sizeof(w));
	cap_open(&c, NULL);

	/* an unsolicited node list (a reply nobody asked for) */
	m = mk(BTCORE_MSG_PEERS_REP, 999);
	for (i = 0; i < BT_K; i++) {
		memset(&mn, 0, sizeof(mn));
		mkid(&mn.id, (uint32_t)i);
		mn.ip_len = 4;
		mn.ip[0] = 10;
		mn.ip[1] = (uint8_t)i;
		mn.port = 7000;
		ck_assert_int_eq(btcore_msg_add_node(m, &mn), BT_OK);
	}
	mkaddr(&a, 1, 1, 1, 7000);
	mkid(&id, 1000);
	ck_assert_int_eq(feed(&c, m, &a, &id), BT_EPROTO);
	ck_assert_uint_eq(table_size(c.dht), 0);

	/* a request makes us ping; only the answer inserts */
	ck_assert_int_eq(feed(&c, mk(BTCORE_MSG_PING_REQ, 5), &a, &id), BT_OK);
	ck_assert_uint_eq(c.n, 2);	/* our pong, then our ping */
	ck_assert_uint_eq(table_size(c.dht), 0);
	m = cap_last(&c);
	ck_assert_int_eq(btcore_msg_type(m), BTCORE_MSG_PING_REQ);
	ck_assert(c.m[c.n - 1].has_id);
	ck_assert_mem_eq(c.m[c.n - 1].to_id.b, id.b, BT_ID_LEN);
	tid = btcore_msg_tid(m);
	btcore_msg_free(m);
	/* a reply from a different node than the one asked */
	mkid(&other, 1001);
	ck_assert_int_eq(feed(&c, mk(BTCORE_MSG_PING_REP, tid), &a, &other),
	    BT_EPROTO);
	/* a reply of the wrong op */
	m = mk(BTCORE_MSG_PEERS_REP, tid);
	ck_assert_int_eq(btcore_msg_set_empty(m, BTCORE_MSG_F_NODES), BT_OK);
	ck_assert_int_eq(feed(&c, m, &a, &id), BT_EPROTO);
	/* an unknown transaction id */
	ck_assert_int_eq(feed(&c, mk(BTCORE_MSG_PING_REP, tid + 1), &a, &id),
	    BT_EPROTO);
	ck_assert_uint_eq(table_size(c.dht), 0);
	ck_assert_int_eq(feed(&c, mk(BTCORE_MSG_PING_REP, tid), &a, &id),
	    BT_OK);
	ck_assert_uint_eq(table_size(c.dht), 1);
	/* the same reply again is unknown now */
	ck_assert_int_eq(feed(&c, mk(BTCORE_MSG_PING_REP, tid), &a, &id),
	    BT_EPROTO);

	/* iam claiming an id other than the authenticated one */
	cap_clear(&c);
	m = mk(BTCORE_MSG_IAM, 6);
	ck_assert_int_eq(btcore_msg_set_bin(m, BTCORE_MSG_F_ID, other.b,
	    BT_ID_LEN), BT_OK);
	mkaddr(&a, 1, 2, 1, 7000);
	mkid(&id, 1002);
	ck_assert_int_eq(feed(&c, m, &a, &id), BT_EPROTO);
	ck_assert_uint_eq(c.n, 0);	/* no welcome, no ping */
	/* a welcome claiming another id than its sender's */
	{
		struct cap c2;
		struct btnet_dht_stats st;

		cap_open(&c2, NULL);
		ck_assert_int_eq(btnet_dht_bootstrap(c2.dht, &a, 1, dhtsim_cb,
		    &w), BT_OK);
		ck_assert_uint_eq(c2.n, 1);
		ck_assert(!c2.m[0].has_id);
		m = cap_last(&c2);
		tid = btcore_msg_tid(m);
		btcore_msg_free(m);
		m = mk(BTCORE_MSG_WELCOME, tid);
		ck_assert_int_eq(btcore_msg_set_bin(m, BTCORE_MSG_F_ID, other.b,
		    BT_ID_LEN), BT_OK);
		ck_assert_int_eq(btcore_msg_set_bin(m, BTCORE_MSG_F_IP, a.ip,
		    4), BT_OK);
		ck_assert_int_eq(btcore_msg_set_int64(m, BTCORE_MSG_F_PORT, 9),
		    BT_OK);
		ck_assert_int_eq(feed(&c2, m, &a, &id), BT_EPROTO);
		ck_assert_uint_eq(table_size(c2.dht), 0);
		/* the true one: inserted, and our address reflected */
		m = mk(BTCORE_MSG_WELCOME, tid);
		ck_assert_int_eq(btcore_msg_set_bin(m, BTCORE_MSG_F_ID, id.b,
		    BT_ID_LEN), BT_OK);
		ck_assert_int_eq(btcore_msg_set_bin(m, BTCORE_MSG_F_IP, a.ip,
		    4), BT_OK);
		ck_assert_int_eq(btcore_msg_set_int64(m, BTCORE_MSG_F_PORT, 9),
		    BT_OK);
		ck_assert_int_eq(feed(&c2, m, &a, &id), BT_OK);
		ck_assert_uint_eq(table_size(c2.dht), 1);
		btnet_dht_stats(c2.dht, &st);
		ck_assert(st.has_external);
		ck_assert_int_eq(st.external.port, 9);
		cap_close(&c2);	/* the bootstrap ends with BT_ECLOSED */
		ck_assert_int_eq(w.done, 1);
		ck_assert_int_eq(w.status, BT_ECLOSED);
	}

	/* a lookup's reply names nodes: candidates, not table entries */
	cap_clear(&c);
	memset(&id, 0x11, BT_ID_LEN);
	dhtsim_wait_reset(&w);
	ck_assert_int_eq(btnet_dht_find_nodes(c.dht, &id, dhtsim_cb, &w),
	    BT_OK);
	ck_assert_uint_eq(c.n, 1);
	m = cap_last(&c);
	ck_assert_int_eq(btcore_msg_type(m), BTCORE_MSG_PEERS_REQ);
	tid = btcore_msg_tid(m);
	btcore_msg_free(m);
	m = mk(BTCORE_MSG_PEERS_REP, tid);
	for (i = 0; i < 10; i++) {
		memset(&mn, 0, sizeof(mn));
		mkid(&mn.id, 5000 + (uint32_t)i);
		mn.ip_len = 4;
		mn.ip[0] = 10;
		mn.ip[1] = 50;
		mn.ip[2] = (uint8_t)i;
		mn.port = 7000;
		ck_assert_int_eq(btcore_msg_add_node(m, &mn), BT_OK);
	}
	mkaddr(&a, 1, 1, 1, 7000);
	mkid(&id, 1000);
	ck_assert_int_eq(feed(&c, m, &a, &id), BT_OK);
	ck_assert_uint_eq(table_size(c.dht), 1);
	ck_assert_uint_eq(c.n, 1 + BT_ALPHA);	/* it asks them */
	cap_clear(&c);

	/* 100 ids from one /24: at most 3 in the table, 2 per bucket */
	for (i = 0; i < 100; i++) {
		mkaddr(&a, 9, 9, (uint8_t)(i + 1), 7000);
		mkid(&id, 20000 + (uint32_t)i);
		(void)introduce(&c, &id, &a, &id);
		cap_clear(&c);
	}
	ck_assert_uint_eq(table_size(c.dht), 1 + 3);
	/* and the table's contacts from 10.9.9.0/24 */
	memset(&id, 0, BT_ID_LEN);
	sent = btnet_dht_closest(c.dht, &id, near, BT_K);
	for (i = 0, w.done = 0; i < sent; i++)
		if (near[i].addr.ip[1] == 9 && near[i].addr.ip[2] == 9)
			w.done++;
	ck_assert_int_eq(w.done, 3);
	dhtsim_wait_reset(&w);
	cap_close(&c);
}
END_TEST

/* ---- hostile values, tokens and records on a lone engine ----------------- */

/* Ask for a write token the way a writer does: a peers request. */
static void
get_token(struct cap *c, const struct btnet_dht_addr *a,
    const struct bt_id *id, uint8_t tok[32], size_t *tlen)
{
	struct btcore_msg *m;
	const uint8_t *p;

	m = mk(BTCORE_MSG_PEERS_REQ, 31);
	ck_assert_int_eq(btcore_msg_set_bin(m, BTCORE_MSG_F_KEY, id->b,
	    BT_ID_LEN), BT_OK);
	ck_assert_int_eq(feed(c, m, a, id), BT_OK);
	m = cap_find(c, BTCORE_MSG_PEERS_REP);
	ck_assert_int_eq(btcore_msg_get_bin(m, BTCORE_MSG_F_TOKEN, &p, tlen),
	    BT_OK);
	memcpy(tok, p, *tlen);
	btcore_msg_free(m);
}

static int
stored_reply(struct cap *c, enum btcore_msg_type t)
{
	struct btcore_msg *m = cap_find(c, t);
	int v = -1;

	ck_assert_int_eq(btcore_msg_get_bool(m, BTCORE_MSG_F_STORED, &v),
	    BT_OK);
	btcore_msg_free(m);
	return v;
}

START_TEST(hostile_writes)
{
	struct cap c;
	struct btcore_msg *m;
	struct btnet_dht_addr a, b;
	struct bt_id id, key;
	struct btcore_key *k = NULL;
	struct btcore_signer signer;
	struct bt_record rec;
	struct dhtsim_wait w;
	uint8_t tok[32], seed[32], enc[512];
	size_t tlen, len, nv, nr;
	int64_t tid;

	memset(&w, 0, sizeof(w));
	cap_open(&c, NULL);
	mkaddr(&a, 3, 3, 3, 7000);
	mkaddr(&b, 3, 3, 4, 7000);
	mkid(&id, 7);
	get_token(&c, &a, &id, tok, &tlen);

	/* no token is no answer; a token for another address is refused */
	m = mk(BTCORE_MSG_SET_REQ, 40);
	ck_assert_int_eq(btcore_msg_set_bin(m, BTCORE_MSG_F_VALUE, "hello", 5),
	    BT_OK);
	ck_assert_int_eq(btcore_msg_set_bin(m, BTCORE_MSG_F_TOKEN, tok, tlen),
	    BT_OK);
	ck_assert_int_eq(feed(&c, m, &b, &id), BT_EPROTO);
	tok[0] ^= 1;
	m = mk(BTCORE_MSG_SET_REQ, 41);
	ck_assert_int_eq(btcore_msg_set_bin(m, BTCORE_MSG_F_VALUE, "hello", 5),
	    BT_OK);
	ck_assert_int_eq(btcore_msg_set_bin(m, BTCORE_MSG_F_TOKEN, tok, tlen),
	    BT_OK);
	ck_assert_int_eq(feed(&c, m, &a, &id), BT_EPROTO);
	tok[0] ^= 1;
	btnet_dht_memstore_count(c.ms, &nv, NULL, NULL, NULL);
	ck_assert_uint_eq(nv, 0);
	m = mk(BTCORE_MSG_SET_REQ, 42);
	ck_assert_int_eq(btcore_msg_set_bin(m, BTCORE_MSG_F_VALUE, "hello", 5),
	    BT_OK);
	ck_assert_int_eq(btcore_msg_set_bin(m, BTCORE_MSG_F_TOKEN, tok, tlen),
	    BT_OK);
	ck_assert_int_eq(feed(&c, m, &a, &id), BT_OK);
	ck_assert_int_eq(stored_reply(&c, BTCORE_MSG_SET_REP), 1);
	btnet_dht_memstore_count(c.ms, &nv, NULL, NULL, NULL);
	ck_assert_uint_eq(nv, 1);
	/* the token outlives one rotation, not two */
	c.now += 300000;
	ck_assert_int_eq(btnet_dht_tick(c.dht), BT_OK);
	m = mk(BTCORE_MSG_SET_REQ, 43);
	ck_assert_int_eq(btcore_msg_set_bin(m, BTCORE_MSG_F_VALUE, "again", 5),
	    BT_OK);
	ck_assert_int_eq(btcore_msg_set_bin(m, BTCORE_MSG_F_TOKEN, tok, tlen),
	    BT_OK);
	ck_assert_int_eq(feed(&c, m, &a, &id), BT_OK);
	c.now += 300000;
	ck_assert_int_eq(btnet_dht_tick(c.dht), BT_OK);
	m = mk(BTCORE_MSG_SET_REQ, 44);
	ck_assert_int_eq(btcore_msg_set_bin(m, BTCORE_MSG_F_VALUE, "third", 5),
	    BT_OK);
	ck_assert_int_eq(btcore_msg_set_bin(m, BTCORE_MSG_F_TOKEN, tok, tlen),
	    BT_OK);
	ck_assert_int_eq(feed(&c, m, &a, &id), BT_EPROTO);
	get_token(&c, &a, &id, tok, &tlen);

	/* records: a bad signature is refused without a reply */
	memset(seed, 9, sizeof(seed));
	ck_assert_int_eq(btcore_key_from_seed(&k, seed), BT_OK);
	btcore_key_signer(k, &signer);
	ck_assert_int_eq(btcore_record_sign(&rec, &signer, "name", 4, "v1", 2,
	    5), BT_OK);
	ck_assert_int_eq(btcore_record_encode(&rec, enc, sizeof(enc), &len),
	    BT_OK);
	enc[len - 1] ^= 0x40;
	m = mk(BTCORE_MSG_NS_SET_REQ, 50);
	ck_assert_int_eq(btcore_msg_set_bin(m, BTCORE_MSG_F_RECORD, enc, len),
	    BT_OK);
	ck_assert_int_eq(btcore_msg_set_bin(m, BTCORE_MSG_F_TOKEN, tok, tlen),
	    BT_OK);
	cap_clear(&c);
	ck_assert_int_eq(feed(&c, m, &a, &id), BT_EPROTO);
	ck_assert_uint_eq(c.n, 0);
	enc[len - 1] ^= 0x40;
	m = mk(BTCORE_MSG_NS_SET_REQ, 51);
	ck_assert_int_eq(btcore_msg_set_bin(m, BTCORE_MSG_F_RECORD, enc, len),
	    BT_OK);
	ck_assert_int_eq(btcore_msg_set_bin(m, BTCORE_MSG_F_TOKEN, tok, tlen),
	    BT_OK);
	ck_assert_int_eq(feed(&c, m, &a, &id), BT_OK);
	ck_assert_int_eq(stored_reply(&c, BTCORE_MSG_NS_SET_REP), 1);
	btnet_dht_memstore_count(c.ms, NULL, &nr, NULL, NULL);
	ck_assert_uint_eq(nr, 1);
	/* the engine's own record_put refuses a bad signature */
	rec.sig.b[0] ^= 1;
	ck_assert_int_eq(btnet_dht_record_put(c.dht, &rec, dhtsim_cb, &w),
	    BT_EVERIFY);

	/* a ref reply whose value does not hash to the key */
	cap_clear(&c);
	mkaddr(&a, 3, 5, 5, 7000);
	mkid(&id, 8);
	ck_assert_int_eq(introduce(&c, &id, &a, &id), BT_OK);
	ck_assert_int_eq(btcore_id_hash(&key, "real", 4), BT_OK);
	cap_clear(&c);
	ck_assert_int_eq(btnet_dht_get_value(c.dht, &key, dhtsim_cb, &w),
	    BT_OK);
	m = cap_last(&c);
	ck_assert_int_eq(btcore_msg_type(m), BTCORE_MSG_REF_REQ);
	tid = btcore_msg_tid(m);
	btcore_msg_free(m);
	m = mk(BTCORE_MSG_REF_REP, tid);
	ck_assert_int_eq(btcore_msg_set_bin(m, BTCORE_MSG_F_VALUE, "fake", 4),
	    BT_OK);
	ck_assert_int_eq(feed(&c, m, &a, &id), BT_EPROTO);
	ck_assert_int_eq(btnet_dht_tick(c.dht), BT_OK);
	ck_assert_int_eq(w.done, 1);
	ck_assert_int_eq(w.status, BT_ENOTFOUND);
	ck_assert_ptr_null(w.value);

	/* an unsupported request is answered with an error */
	{
		uint8_t doc[] = { 0x2a, 0, 0, 0,
			0x02, 'o', 'p', 0, 5, 0, 0, 0, 'n', 'o', 'p', 'e', 0,
			0x12, 't', 0, 9, 0, 0, 0, 0, 0, 0, 0,
			0x08, 'r', 'e', 'p', 'l', 'y', 0, 0,
			0 };

		doc[0] = (uint8_t)sizeof(doc);
		cap_clear(&c);
		ck_assert_int_eq(btnet_dht_input(c.dht, &a, &id, doc,
		    sizeof(doc)), BT_EUNSUPPORTED);
		m = cap_last(&c);
		ck_assert_int_eq(btcore_msg_type(m), BTCORE_MSG_ERROR);
		ck_assert_int_eq(btcore_msg_tid(m), 9);
		btcore_msg_free(m);
	}
	dhtsim_wait_reset(&w);
	btcore_key_free(k);
	cap_close(&c);
}
END_TEST

START_TEST(rate_limit)
{
	struct btnet_dht_config cfg;
	struct btnet_dht_stats st;
	struct btnet_dht_addr a;
	struct bt_id id;
	struct cap c;
	int i, ok = 0, limited = 0, rc;

	btnet_dht_config_init(&cfg);
	cfg.rate_per_s = 10;
	cfg.rate_burst = 20;
	cap_open(&c, &cfg);
	mkaddr(&a, 4, 4, 4, 7000);
	mkid(&id, 9);
	for (i = 0; i < 50; i++) {
		rc = feed(&c, mk(BTCORE_MSG_PING_REQ, i), &a, &id);
		if (rc == BT_OK)
			ok++;
		else if (rc == BT_EAGAIN)
			limited++;
	}
	ck_assert_int_eq(ok, 20);
	ck_assert_int_eq(limited, 30);
	c.now += 1000;		/* 10 more per second */
	for (i = 0, ok = 0; i < 50; i++)
		if (feed(&c, mk(BTCORE_MSG_PING_REQ, i), &a, &id) == BT_OK)
			ok++;
	ck_assert_int_eq(ok, 10);
	/* another address has its own bucket */
	mkaddr(&a, 4, 4, 5, 7000);
	ck_assert_int_eq(feed(&c, mk(BTCORE_MSG_PING_REQ, 1), &a, &id), BT_OK);
	btnet_dht_stats(c.dht, &st);
	ck_assert_uint_eq(st.rate_limited, 70);
	cap_close(&c);
}
END_TEST

/* ---- 5: timeouts ---------------------------------------------------------- */

START_TEST(timeouts)
{
	struct cap c;
	struct btnet_dht_addr a;
	struct btnet_dht_node at;
	struct bt_id id, key;
	struct dhtsim_wait w;

	memset(&w, 0, sizeof(w));
	cap_open(&c, NULL);
	/* an empty table: the callback still comes, from the next tick */
	memset(key.b, 0x42, BT_ID_LEN);
	ck_assert_int_eq(btnet_dht_find_nodes(c.dht, &key, dhtsim_cb, &w),
	    BT_OK);
	ck_assert_int_eq(w.done, 0);
	ck_assert_uint_le(btnet_dht_next_deadline(c.dht), c.now);
	ck_assert_int_eq(btnet_dht_tick(c.dht), BT_OK);
	ck_assert_int_eq(w.done, 1);
	ck_assert_int_eq(w.status, BT_ENOTFOUND);

	/* a peer that answered once, then died */
	mkaddr(&a, 6, 6, 6, 7000);
	mkid(&id, 66);
	ck_assert_int_eq(introduce(&c, &id, &a, &id), BT_OK);
	dhtsim_wait_reset(&w);
	ck_assert_int_eq(btnet_dht_find_nodes(c.dht, &key, dhtsim_cb, &w),
	    BT_OK);
	ck_assert_uint_eq(btnet_dht_next_deadline(c.dht),
	    c.now + BT_REQUEST_TIMEOUT_MS);
	c.now += BT_REQUEST_TIMEOUT_MS - 1;
	ck_assert_int_eq(btnet_dht_tick(c.dht), BT_OK);
	ck_assert_int_eq(w.done, 0);
	c.now += 1;
	ck_assert_int_eq(btnet_dht_tick(c.dht), BT_OK);
	ck_assert_int_eq(w.done, 1);
	ck_assert_int_eq(w.status, BT_ETIMEDOUT);

	/* a bag query at a dead peer */
	at.id = id;
	at.addr = a;
	dhtsim_wait_reset(&w);
	ck_assert_int_eq(btnet_dht_bag_query(c.dht, BTNET_DHT_BAG_POPULAR,
	    &key, 10, &at, dhtsim_cb, &w), BT_OK);
	c.now += BT_REQUEST_TIMEOUT_MS;
	ck_assert_int_eq(btnet_dht_tick(c.dht), BT_OK);
	ck_assert_int_eq(w.done, 1);
	ck_assert_int_eq(w.status, BT_ETIMEDOUT);

	/* an operation still running when the engine goes: BT_ECLOSED */
	dhtsim_wait_reset(&w);
	ck_assert_int_eq(btnet_dht_bag_query(c.dht, BTNET_DHT_BAG_RECENT,
	    &key, 10, &at, dhtsim_cb, &w), BT_OK);
	btnet_dht_free(c.dht);
	c.dht = NULL;
	ck_assert_int_eq(w.done, 1);
	ck_assert_int_eq(w.status, BT_ECLOSED);
	dhtsim_wait_reset(&w);
	cap_close(&c);
}
END_TEST

START_TEST(config_limits)
{
	struct btnet_dht_config cfg;
	struct btnet_dht_storage st;
	struct btnet_dht_env env;
	struct btnet_dht *dht = NULL;
	struct btnet_dht_memstore *ms = NULL;
	struct bt_id self;
	struct cap c;

	memset(&self, 1, sizeof(self));
	memset(&c, 0, sizeof(c));
	env.now_ms = NULL;	/* the real defaults */
	env.random = NULL;
	env.send = cap_send;
	env.ctx = &c;
	ck_assert_int_eq(btnet_dht_memstore_new(&ms, NULL), BT_OK);
	btnet_dht_memstore_storage(ms, &st);
	btnet_dht_config_init(&cfg);
	ck_assert_uint_eq(cfg.replication, BT_REPLICATION_DEFAULT);
	cfg.replication = BT_REPLICATION_MAX + 1;
	ck_assert_int_eq(btnet_dht_new(&dht, &env, &st, &self, &cfg),
	    BT_ERANGE);
	ck_assert_ptr_null(dht);
	cfg.replication = 0;
	ck_assert_int_eq(btnet_dht_new(&dht, &env, &st, &self, &cfg),
	    BT_ERANGE);
	cfg.replication = BT_REPLICATION_MAX;
	cfg.prefix_per_table = 0;
	ck_assert_int_eq(btnet_dht_new(&dht, &env, &st, &self, &cfg),
	    BT_EINVAL);
	cfg.prefix_per_table = 3;
	st.expire = NULL;
	ck_assert_int_eq(btnet_dht_new(&dht, &env, &st, &self, &cfg),
	    BT_EINVAL);
	btnet_dht_memstore_storage(ms, &st);
	env.send = NULL;
	ck_assert_int_eq(btnet_dht_new(&dht, &env, &st, &self, &cfg),
	    BT_EINVAL);
	env.send = cap_send;
	ck_assert_int_eq(btnet_dht_new(&dht, &env, &st, &self, &cfg), BT_OK);
	ck_assert_int_eq(btnet_dht_find_nodes(dht, &self, NULL, NULL),
	    BT_EINVAL);
	ck_assert_int_eq(btnet_dht_bag_query(dht, BTNET_DHT_BAG_SAMPLE, &self,
	    0, NULL, dhtsim_cb, &c), BT_EINVAL);
	ck_assert_int_eq(btnet_dht_bag_query(dht, BTNET_DHT_BAG_SAMPLE, &self,
	    BTCORE_MSG_BAG_MAX + 1, NULL, dhtsim_cb, &c), BT_EINVAL);
	ck_assert_int_eq(btnet_dht_put_value(dht, "x", BTNET_DHT_VALUE_MAX + 1,
	    dhtsim_cb, &c), BT_ETOOBIG);
	ck_assert_int_eq(btnet_dht_input(dht, NULL, &self, (const uint8_t *)"",
	    0), BT_EINVAL);
	btnet_dht_free(dht);
	btnet_dht_free(NULL);
	btnet_dht_memstore_free(ms);
	btnet_dht_memstore_free(NULL);
	cap_clear(&c);
}
END_TEST

/* ---- the in-memory storage ----------------------------------------------- */

START_TEST(memstore)
{
	struct btnet_dht_memstore_limits lim;
	struct btnet_dht_memstore *ms = NULL;
	struct btnet_dht_storage st;
	struct bt_id k1, k2, o1, o2, o3;
	uint8_t v[32], out[8][32];
	const uint8_t *p;
	size_t len, n, i;

	memset(&lim, 0, sizeof(lim));
	lim.per_origin = 3;
	lim.bag_max = 3;
	ck_assert_int_eq(btnet_dht_memstore_new(&ms, &lim), BT_OK);
	btnet_dht_memstore_storage(ms, &st);
	memset(k1.b, 1, 32);
	memset(k2.b, 2, 32);
	memset(o1.b, 0xa, 32);
	memset(o2.b, 0xb, 32);
	memset(o3.b, 0xc, 32);
	ck_assert_int_eq(st.value_put(st.ctx, &k1, (const uint8_t *)"ab", 2,
	    &o1, 100), BT_OK);
	ck_assert_int_eq(st.value_get(st.ctx, &k1, &p, &len), BT_OK);
	ck_assert_uint_eq(len, 2);
	ck_assert_int_eq(st.value_get(st.ctx, &k2, &p, &len), BT_ENOTFOUND);
	/* per-origin quota */
	ck_assert_int_eq(st.value_put(st.ctx, &k2, (const uint8_t *)"c", 1,
	    &o1, 100), BT_OK);
	memset(v, 0, sizeof(v));
	ck_assert_int_eq(st.bag_add(st.ctx, &k1, v, &o1, 100), BT_OK);
	v[0] = 1;
	ck_assert_int_eq(st.bag_add(st.ctx, &k1, v, &o1, 101), BT_ENOSPC);
	ck_assert_int_eq(st.bag_add(st.ctx, &k1, v, &o2, 101), BT_OK);
	/*
	 * Popularity counts distinct adders: value 1 has two (o2, o3), value
	 * 2 one adder (o2) who added it five times.
	 */
	for (i = 0; i < 3; i++)
		ck_assert_int_eq(st.bag_add(st.ctx, &k1, v, &o2, 102 + i),
		    BT_OK);
	ck_assert_int_eq(st.bag_add(st.ctx, &k1, v, &o3, 105), BT_OK);
	v[0] = 2;
	for (i = 0; i < 5; i++)
		ck_assert_int_eq(st.bag_add(st.ctx, &k1, v, &o2, 200 + i),
		    BT_OK);
	ck_assert_int_eq(st.bag_query(st.ctx, BTNET_DHT_BAG_POPULAR, &k1, 8,
	    1, out, &n), BT_OK);
	ck_assert_uint_eq(n, 3);
	ck_assert_int_eq(out[0][0], 1);
	ck_assert_int_eq(out[1][0], 2);
	ck_assert_int_eq(out[2][0], 0);
	ck_assert_int_eq(st.bag_query(st.ctx, BTNET_DHT_BAG_RECENT, &k1, 2,
	    1, out, &n), BT_OK);
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(out[0][0], 2);
	ck_assert_int_eq(out[1][0], 1);
	ck_assert_int_eq(st.bag_query(st.ctx, BTNET_DHT_BAG_SAMPLE, &k1, 8,
	    7, out, &n), BT_OK);
	ck_assert_uint_eq(n, 3);
	ck_assert_int_eq(out[0][0] + out[1][0] + out[2][0], 3);
	/* bag size limit */
	v[0] = 3;
	ck_assert_int_eq(st.bag_add(st.ctx, &k1, v, &o2, 201), BT_ENOSPC);
	/* expiry frees the quota */
	st.expire(st.ctx, 150);
	ck_assert_int_eq(st.value_get(st.ctx, &k1, &p, &len), BT_ENOTFOUND);
	ck_assert_int_eq(st.bag_query(st.ctx, BTNET_DHT_BAG_POPULAR, &k1, 8,
	    1, out, &n), BT_OK);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(st.value_put(st.ctx, &k1, (const uint8_t *)"ab", 2,
	    &o1, 300), BT_OK);
	btnet_dht_memstore_count(ms, &n, NULL, NULL, &len);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(len, 2);
	btnet_dht_memstore_free(ms);
}
END_TEST


/* ---- 3: bags --------------------------------------------------------------- */

START_TEST(bags)
{
	struct dhtsim sim;
	struct dhtsim_wait w;
	struct btnet_dht_node at;
	struct bt_id key;
	uint8_t v[32], local[8][32];
	size_t i, j, n, from;
	int seen[3];

	memset(&w, 0, sizeof(w));
	ck_assert_int_eq(dhtsim_init(&sim, 40, 3, NULL), BT_OK);
	ck_assert_uint_eq(dhtsim_join_all(&sim), 39);
	memset(key.b, 0x5c, BT_ID_LEN);
	/* value 0 added by 8 nodes, value 1 by 4, value 2 by 1 (last) */
	for (i = 0; i < 13; i++) {
		memset(v, 0, sizeof(v));
		v[0] = i < 8 ? 0 : i < 12 ? 1 : 2;
		from = 1 + i * 2;
		dhtsim_wait_reset(&w);
		ck_assert_int_eq(btnet_dht_bag_add(sim.nodes[from].dht, &key, v,
		    dhtsim_cb, &w), BT_OK);
		ck_assert_int_eq(run_op(&sim, from, &w), BT_OK);
		ck_assert_uint_ge(w.stored, BT_REPLICATION_DEFAULT);
	}
	dhtsim_wait_reset(&w);
	ck_assert_int_eq(btnet_dht_bag_query(sim.nodes[30].dht,
	    BTNET_DHT_BAG_POPULAR, &key, 10, NULL, dhtsim_cb, &w), BT_OK);
	ck_assert_int_eq(run_op(&sim, 30, &w), BT_OK);
	ck_assert_uint_eq(w.nvalues, 3);
	ck_assert_int_eq(w.values[0][0], 0);
	ck_assert_int_eq(w.values[1][0], 1);
	ck_assert_int_eq(w.values[2][0], 2);
	dhtsim_wait_reset(&w);
	ck_assert_int_eq(btnet_dht_bag_query(sim.nodes[31].dht,
	    BTNET_DHT_BAG_RECENT, &key, 2, NULL, dhtsim_cb, &w), BT_OK);
	ck_assert_int_eq(run_op(&sim, 31, &w), BT_OK);
	ck_assert_uint_eq(w.nvalues, 2);
	ck_assert_int_eq(w.values[0][0], 2);
	ck_assert_int_eq(w.values[1][0], 1);
	dhtsim_wait_reset(&w);
	ck_assert_int_eq(btnet_dht_bag_query(sim.nodes[32].dht,
	    BTNET_DHT_BAG_SAMPLE, &key, 2, NULL, dhtsim_cb, &w), BT_OK);
	ck_assert_int_eq(run_op(&sim, 32, &w), BT_OK);
	ck_assert_uint_ge(w.nvalues, 2);
	memset(seen, 0, sizeof(seen));
	for (i = 0; i < w.nvalues; i++) {
		ck_assert_int_lt(w.values[i][0], 3);
		ck_assert_int_eq(seen[w.values[i][0]]++, 0);
	}
	/* popular at one node holding the bag, and that node locally */
	for (i = 0, from = SIZE_MAX; i < sim.n && from == SIZE_MAX; i++) {
		ck_assert_int_eq(btnet_dht_bag_local(sim.nodes[i].dht,
		    BTNET_DHT_BAG_POPULAR, &key, 8, local, &n), BT_OK);
		if (n == 3)
			from = i;
	}
	ck_assert_uint_ne(from, SIZE_MAX);
	ck_assert_int_eq(local[0][0], 0);
	at.id = sim.nodes[from].id;
	at.addr = sim.nodes[from].addr;
	j = from == 0 ? 1 : 0;
	dhtsim_wait_reset(&w);
	ck_assert_int_eq(btnet_dht_bag_query(sim.nodes[j].dht,
	    BTNET_DHT_BAG_POPULAR, &key, 1, &at, dhtsim_cb, &w), BT_OK);
	ck_assert_int_eq(run_op(&sim, j, &w), BT_OK);
	ck_assert_uint_eq(w.nvalues, 1);
	ck_assert_int_eq(w.values[0][0], 0);
	dhtsim_wait_reset(&w);
	dhtsim_free(&sim);
}
END_TEST

/* ---- 4: records ------------------------------------------------------------ */

static int
put_record(struct dhtsim *sim, size_t from, const struct btcore_signer *s,
    const char *value, uint64_t seq, struct dhtsim_wait *w)
{
	struct bt_record rec;

	ck_assert_int_eq(btcore_record_sign(&rec, s, "head", 4, value,
	    strlen(value), seq), BT_OK);
	dhtsim_wait_reset(w);
	ck_assert_int_eq(btnet_dht_record_put(sim->nodes[from].dht, &rec,
	    dhtsim_cb, w), BT_OK);
	return run_op(sim, from, w);
}

static void
get_record(struct dhtsim *sim, size_t from, const struct bt_pubkey *pub,
    struct dhtsim_wait *w)
{
	dhtsim_wait_reset(w);
	ck_assert_int_eq(btnet_dht_record_get(sim->nodes[from].dht, pub, "head",
	    4, dhtsim_cb, w), BT_OK);
	ck_assert_int_eq(run_op(sim, from, w), BT_OK);
}

START_TEST(records)
{
	struct dhtsim sim;
	struct dhtsim_wait w;
	struct btcore_key *k = NULL;
	struct btcore_signer signer;
	struct bt_record rec;
	uint8_t seed[32];

	memset(&w, 0, sizeof(w));
	memset(seed, 4, sizeof(seed));
	ck_assert_int_eq(btcore_key_from_seed(&k, seed), BT_OK);
	btcore_key_signer(k, &signer);
	ck_assert_int_eq(dhtsim_init(&sim, 40, 4, NULL), BT_OK);
	ck_assert_uint_eq(dhtsim_join_all(&sim), 39);

	ck_assert_int_eq(put_record(&sim, 5, &signer, "one", 1, &w), BT_OK);
	ck_assert_uint_ge(w.stored, BT_REPLICATION_DEFAULT);
	get_record(&sim, 17, &signer.pub, &w);
	ck_assert_uint_eq(w.seq, 1);
	/* higher sequence wins */
	ck_assert_int_eq(put_record(&sim, 9, &signer, "two", 2, &w), BT_OK);
	get_record(&sim, 23, &signer.pub, &w);
	ck_assert_uint_eq(w.seq, 2);
	ck_assert_int_eq(btcore_record_decode(&rec, w.value, w.value_len),
	    BT_OK);
	ck_assert_uint_eq(rec.value_len, 3);
	ck_assert_mem_eq(rec.value, "two", 3);
	/* stale: refused everywhere */
	ck_assert_int_eq(put_record(&sim, 11, &signer, "old", 1, &w),
	    BT_ENOSPC);
	ck_assert_uint_eq(w.stored, 0);
	/* the same sequence with another value: refused */
	ck_assert_int_eq(put_record(&sim, 12, &signer, "TWO", 2, &w),
	    BT_ENOSPC);
	/* the same record again is a refresh */
	ck_assert_int_eq(put_record(&sim, 13, &signer, "two", 2, &w), BT_OK);
	get_record(&sim, 29, &signer.pub, &w);
	ck_assert_uint_eq(w.seq, 2);
	ck_assert_int_eq(btcore_record_decode(&rec, w.value, w.value_len),
	    BT_OK);
	ck_assert_mem_eq(rec.value, "two", 3);
	/* a record nobody published */
	dhtsim_wait_reset(&w);
	ck_assert_int_eq(btnet_dht_record_get(sim.nodes[3].dht, &signer.pub,
	    "tail", 4, dhtsim_cb, &w), BT_OK);
	ck_assert_int_eq(run_op(&sim, 3, &w), BT_ENOTFOUND);
	dhtsim_wait_reset(&w);
	btcore_key_free(k);
	dhtsim_free(&sim);
}
END_TEST

/* ---- republish and expiry under the fake clock ---------------------------- */

START_TEST(republish_expire)
{
	struct btnet_dht_config cfg;
	struct dhtsim sim;
	struct dhtsim_wait w;
	struct bt_id key;
	size_t i, holders = 0, nv;
	uint64_t republished = 0;

	btnet_dht_config_init(&cfg);
	cfg.republish_ms = 60000;
	cfg.expire_ms = 150000;
	memset(&w, 0, sizeof(w));
	ck_assert_int_eq(dhtsim_init(&sim, 30, 5, &cfg), BT_OK);
	ck_assert_uint_eq(dhtsim_join_all(&sim), 29);
	ck_assert_int_eq(btnet_dht_put_value(sim.nodes[2].dht, "keep me", 7,
	    dhtsim_cb, &w), BT_OK);
	ck_assert_int_eq(run_op(&sim, 2, &w), BT_OK);
	ck_assert_int_eq(btcore_id_hash(&key, "keep me", 7), BT_OK);
	/* ten expiry periods: the holders keep refreshing each other */
	dhtsim_run(&sim, NULL, 10 * cfg.expire_ms);
	for (i = 0; i < sim.n; i++) {
		struct btnet_dht_stats st;

		btnet_dht_stats(sim.nodes[i].dht, &st);
		republished += st.republished;
		btnet_dht_memstore_count(sim.nodes[i].ms, &nv, NULL, NULL,
		    NULL);
		holders += nv;
	}
	ck_assert_uint_gt(republished, 0);
	ck_assert_uint_ge(holders, BT_REPLICATION_DEFAULT);
	dhtsim_wait_reset(&w);
	ck_assert_int_eq(btnet_dht_get_value(sim.nodes[20].dht, &key,
	    dhtsim_cb, &w), BT_OK);
	ck_assert_int_eq(run_op(&sim, 20, &w), BT_OK);
	/* with every holder gone quiet (killed), nothing is left to find */
	for (i = 0; i < sim.n; i++) {
		btnet_dht_memstore_count(sim.nodes[i].ms, &nv, NULL, NULL,
		    NULL);
		if (nv > 0)
			sim.nodes[i].dead = 1;
	}
	dhtsim_wait_reset(&w);
	for (i = 0; sim.nodes[i].dead; i++)
		;
	ck_assert_int_eq(btnet_dht_get_value(sim.nodes[i].dht, &key,
	    dhtsim_cb, &w), BT_OK);
	ck_assert_int_ne(run_op(&sim, i, &w), BT_OK);
	dhtsim_wait_reset(&w);
	dhtsim_free(&sim);
}
END_TEST

Suite *suite_dht(void);

Suite *
suite_dht(void)
{
	Suite *s = suite_create("dht");
	TCase *tc = tcase_create("dht");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, network_200);
	tcase_add_test(tc, bags);
	tcase_add_test(tc, records);
	tcase_add_test(tc, republish_expire);
	tcase_add_test(tc, poisoning);
	tcase_add_test(tc, hostile_writes);
	tcase_add_test(tc, rate_limit);
	tcase_add_test(tc, timeouts);
	tcase_add_test(tc, config_limits);
	tcase_add_test(tc, memstore);
	suite_add_tcase(s, tc);
	return s;
}
