/*
 * test_admit.c - admission of peers on real loopback nodes: a node that
 * requires admission admits a peer with a valid statement and refuses
 * one with none or an invalid one, with the reason on both sides; calls
 * through a refused connection fail with BTNET_EADMISSION; nodes without
 * admission are unaffected; two nodes requiring admission admit each
 * other; the credential-activation round; a silent peer times out and a
 * peer flooding before admission is cut off.  Every wait has a deadline.
 *
 * The statements here are "ok" followed by the node's Ed25519 key: the
 * callbacks check that, as btnode checks a TPM statement with libbttpm.
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

#include <bt/conn.h>
#include <bt/key.h>
#include <bt/msg.h>
#include <bt/net.h>
#include <bt/noise.h>
#include <bt/relay.h>

#include "net-internal.h"

Suite *suite_admit(void);

/* Refusal reasons of the test's callbacks. */
#define R_NONE		(-9001)		/* no statement */
#define R_BAD		(-9002)		/* not "ok" + the peer's key */
#define R_ACT		(-9003)		/* wrong or missing answer */

#define STMT_NONE	0
#define STMT_GOOD	1
#define STMT_BAD	2

#define NMAX		8
#define CHAL_LEN	40

struct tnode {
	struct btcore_key *key;
	struct btcore_signer signer;
	struct btnet *net;
	struct bt_id id;
	struct bt_pubkey pub;
	char addr[BTNET_ADDR_STRLEN];
	uint8_t stmt[34];
	int admit_calls, challenges, answers;
	int admitted, refused, refused_by;	/* events */
	int last_reason, last_by_reason;
	struct bt_id last_peer;
	int calls_in;
};

static struct event_base *base;
static struct tnode nodes[NMAX];
static int nnodes;

static uint64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

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

/* Run the loop until *p is @p v, at most @p ms; then check it. */
static void
wait_eq(const int *p, int v, uint64_t ms)
{
	uint64_t end = mono_ms() + ms;

	while (*p != v && mono_ms() < end)
		run_for(10);
	ck_assert_int_eq(*p, v);
}

/* ---- the callbacks ------------------------------------------------------ */

static int
cb_admit(void *arg, const struct bt_id *peer,
    const struct bt_pubkey *identity, const uint8_t *stmt, size_t len,
    int *reason)
{
	struct tnode *n = arg;

	ck_assert_ptr_nonnull(peer);
	n->admit_calls++;
	if (len == 0) {
		*reason = R_NONE;
		return 0;
	}
	if (len != 34 || memcmp(stmt, "ok", 2) != 0 ||
	    memcmp(stmt + 2, identity->b, 32) != 0) {
		*reason = R_BAD;
		return 0;
	}
	return 1;
}

/* The challenge: the secret, each byte xor 0x5a, and 8 more bytes. */
static int
cb_challenge(void *arg, const struct bt_id *peer, const uint8_t *stmt,
    size_t len, uint8_t *chal, size_t cap, size_t *chal_len,
    uint8_t secret[32], int *reason)
{
	struct tnode *n = arg;
	size_t i;

	(void)peer;
	ck_assert_uint_eq(len, 34);
	ck_assert_ptr_nonnull(stmt);
	ck_assert_uint_ge(cap, CHAL_LEN);
	n->challenges++;
	for (i = 0; i < 32; i++)
		secret[i] = (uint8_t)(i * 7 + (size_t)n->challenges);
	for (i = 0; i < CHAL_LEN; i++)
		chal[i] = i < 32 ? (uint8_t)(secret[i] ^ 0x5a) : 0xee;
	*chal_len = CHAL_LEN;
	*reason = R_ACT;
	return 1;
}

static int
cb_answer(void *arg, const struct bt_id *peer, const uint8_t *chal,
    size_t len, uint8_t secret[32])
{
	struct tnode *n = arg;
	size_t i;

	(void)peer;
	ck_assert_uint_eq(len, CHAL_LEN);
	n->answers++;
	for (i = 0; i < 32; i++)
		secret[i] = (uint8_t)(chal[i] ^ 0x5a);
	return BT_OK;
}

static int
cb_answer_wrong(void *arg, const struct bt_id *peer, const uint8_t *chal,
    size_t len, uint8_t secret[32])
{
	struct tnode *n = arg;

	(void)peer;
	(void)chal;
	(void)len;
	n->answers++;
	memset(secret, 0x11, 32);
	return BT_OK;
}

static void
cb_event(void *arg, const struct bt_id *peer, int event, int reason)
{
	struct tnode *n = arg;

	n->last_peer = *peer;
	switch (event) {
	case BTNET_ADMIT_ADMITTED:
		ck_assert_int_eq(reason, 0);
		n->admitted++;
		break;
	case BTNET_ADMIT_REFUSED:
		n->refused++;
		n->last_reason = reason;
		break;
	case BTNET_ADMIT_REFUSED_BY:
		n->refused_by++;
		n->last_by_reason = reason;
		break;
	default:
		ck_abort_msg("unknown admission event %d", event);
	}
}

static void
h_echo(void *arg, struct btnet_rpc_req *req, const struct bt_id *from,
    const char *scope, const uint8_t *args, size_t len)
{
	struct tnode *n = arg;

	(void)from;
	(void)scope;
	n->calls_in++;
	ck_assert_int_eq(btnet_rpc_reply(req, args, len), BT_OK);
}

/* ---- nodes ---------------------------------------------------------------- */

/* How node i is set up. */
struct setup {
	int stmt;			/* STMT_* */
	int require;			/* has admit() */
	int challenge;			/* has challenge() */
	btnet_admit_answer_fn answer;
	uint32_t handshake_ms;
	uint32_t refused_ms;		/* 0: the default */
};

/* Start @p n nodes that know nothing of each other. */
static void
start_alone(const struct setup *s, int n)
{
	struct btnet_config cfg;
	uint8_t seed[32];
	char listen[32];
	int i;

	signal(SIGPIPE, SIG_IGN);
	base = event_base_new();
	ck_assert_ptr_nonnull(base);
	nnodes = n;
	memset(nodes, 0, sizeof(nodes));
	for (i = 0; i < n; i++) {
		struct tnode *t = &nodes[i];

		memset(seed, 0x60 + i, sizeof(seed));
		ck_assert_int_eq(btcore_key_from_seed(&t->key, seed), BT_OK);
		btcore_key_signer(t->key, &t->signer);
		t->pub = t->signer.pub;
		memcpy(t->stmt, "ok", 2);
		memcpy(t->stmt + 2, t->pub.b, 32);
		if (s[i].stmt == STMT_BAD)
			t->stmt[10] ^= 1;	/* another key */
		btnet_config_init(&cfg);
		ck_assert_uint_eq(cfg.admission.cache_ms, 600000);
		ck_assert_uint_eq(cfg.admission.refused_ms, 30000);
		if (s[i].refused_ms != 0)
			cfg.admission.refused_ms = s[i].refused_ms;
		ck_assert(cfg.admission.admit == NULL);
		cfg.prefix_per_bucket = BT_K;
		cfg.prefix_per_table = 1000;
		cfg.request_timeout_ms = 3000;
		if (s[i].handshake_ms != 0)
			cfg.handshake_timeout_ms = s[i].handshake_ms;
		snprintf(listen, sizeof(listen), "127.0.0.%d:0", 60 + i);
		cfg.listen[0] = listen;
		cfg.nlisten = 1;
		if (s[i].stmt != STMT_NONE) {
			cfg.admission.stmt = t->stmt;
			cfg.admission.stmt_len = sizeof(t->stmt);
		}
		if (s[i].require)
			cfg.admission.admit = cb_admit;
		if (s[i].challenge)
			cfg.admission.challenge = cb_challenge;
		cfg.admission.answer = s[i].answer;
		cfg.admission.event = cb_event;
		cfg.admission.arg = t;
		ck_assert_int_eq(btnet_open(&t->net, base, &t->signer, NULL,
		    &cfg), BT_OK);
		/* the statement was copied */
		memset(listen, 0, sizeof(listen));
		btnet_local_id(t->net, &t->id);
		ck_assert_int_eq(btnet_local_addr(t->net, 0, t->addr,
		    sizeof(t->addr)), BT_OK);
		ck_assert_int_eq(btnet_rpc_handle(t->net, "echo", h_echo, t),
		    BT_OK);
		ck_assert_int_eq(btnet_online(t->net, NULL, 0), BT_OK);
	}
}

/* Tell node @p i where node @p j listens. */
static void
introduce(int i, int j)
{
	struct btnet_dht_addr a;

	ck_assert_int_eq(btnet_addr_parse_(nodes[j].addr, &a), BT_OK);
	btnet_cache_put_(nodes[i].net, &nodes[j].id, &a, &nodes[j].pub);
}

/* Start @p n nodes that all know where the others listen. */
static void
start(const struct setup *s, int n)
{
	int i, j;

	start_alone(s, n);
	for (i = 0; i < n; i++)
		for (j = 0; j < n; j++)
			if (i != j)
				introduce(i, j);
}

static void
stop(void)
{
	int i;

	for (i = 0; i < nnodes; i++) {
		btnet_close(nodes[i].net);
		btcore_key_free(nodes[i].key);
	}
	event_base_free(base);
	base = NULL;
}

struct callres {
	int done, status, n;
};

static void
on_call(void *arg, const struct btnet_rpc_result *res)
{
	struct callres *r = arg;
	bson_t b;
	bson_iter_t it;

	ck_assert_int_eq(r->done, 0);
	r->done = 1;
	r->status = res->status;
	if (res->status == BT_OK) {
		ck_assert(bson_init_static(&b, res->reply, res->len));
		ck_assert(bson_iter_init_find(&it, &b, "n"));
		r->n = bson_iter_int32(&it);
	}
}

/* Call "echo" from node @p from on node @p to; the outcome. */
static int
echo(int from, int to, int v)
{
	struct callres r;
	bson_t b;

	memset(&r, 0, sizeof(r));
	bson_init(&b);
	ck_assert(bson_append_int32(&b, "n", 1, v));
	ck_assert_int_eq(btnet_rpc_call(nodes[from].net, &nodes[to].id, "echo",
	    bson_get_data(&b), b.len, on_call, &r), BT_OK);
	bson_destroy(&b);
	ck_assert_msg(wait_for(&r.done, 8000), "call %d -> %d never ended",
	    from, to);
	if (r.status == BT_OK)
		ck_assert_int_eq(r.n, v);
	return r.status;
}

static int
knows(int i, int j)
{
	struct bt_id ids[NMAX];
	size_t n, k;

	n = btnet_peers(nodes[i].net, ids, NMAX);
	for (k = 0; k < n && k < NMAX; k++)
		if (memcmp(ids[k].b, nodes[j].id.b, BT_ID_LEN) == 0)
			return 1;
	return 0;
}

/* ---- tests ------------------------------------------------------------- */

START_TEST(config_checked)
{
	struct btnet_config cfg;
	struct btcore_key *key = NULL;
	struct btcore_signer signer;
	struct btnet *net = NULL;
	uint8_t seed[32], big[BTCORE_MSG_ADMIT_MAX + 1];

	base = event_base_new();
	memset(seed, 3, sizeof(seed));
	memset(big, 1, sizeof(big));
	ck_assert_int_eq(btcore_key_from_seed(&key, seed), BT_OK);
	btcore_key_signer(key, &signer);
	btnet_config_init(&cfg);
	cfg.admission.stmt_len = 5;
	ck_assert_int_eq(btnet_open(&net, base, &signer, NULL, &cfg),
	    BT_EINVAL);
	ck_assert_ptr_null(net);
	cfg.admission.stmt = big;
	cfg.admission.stmt_len = sizeof(big);
	ck_assert_int_eq(btnet_open(&net, base, &signer, NULL, &cfg),
	    BT_ERANGE);
	cfg.admission.stmt_len = sizeof(big) - 1;
	cfg.admission.challenge = cb_challenge;
	ck_assert_int_eq(btnet_open(&net, base, &signer, NULL, &cfg),
	    BT_EINVAL);
	cfg.admission.admit = cb_admit;
	cfg.admission.refused_ms = BTNET_ADMIT_REFUSED_MS_MAX + 1;
	ck_assert_int_eq(btnet_open(&net, base, &signer, NULL, &cfg),
	    BT_ERANGE);
	ck_assert_ptr_null(net);
	cfg.admission.refused_ms = BTNET_ADMIT_REFUSED_MS_MAX;
	ck_assert_int_eq(btnet_open(&net, base, &signer, NULL, &cfg), BT_OK);
	btnet_close(net);
	net = NULL;
	cfg.admission.refused_ms = 0;
	ck_assert_int_eq(btnet_open(&net, base, &signer, NULL, &cfg), BT_OK);
	btnet_close(net);
	btcore_key_free(key);
	event_base_free(base);
	base = NULL;
	ck_assert_str_ne(btnet_strerror(BTNET_EADMISSION),
	    btnet_strerror(BTNET_EREMOTE));
	ck_assert_ptr_nonnull(strstr(btnet_strerror(BTNET_EADMISSION),
	    "admission"));
}
END_TEST

/*
 * 0 requires admission; 1 has a valid statement, 2 none, 3 a statement
 * for another key; 1, 2, 3 admit everyone.
 */
START_TEST(attested_admits_and_refuses)
{
	static const struct setup s[] = {
		{ STMT_GOOD, 1, 0, NULL, 0, 0 },
		{ STMT_GOOD, 0, 0, NULL, 0, 0 },
		{ STMT_NONE, 0, 0, NULL, 0, 0 },
		{ STMT_BAD, 0, 0, NULL, 0, 0 },
	};

	start(s, 4);
	/* a valid statement: admitted, and the call held meanwhile runs */
	ck_assert_int_eq(echo(1, 0, 11), BT_OK);
	ck_assert_int_eq(nodes[0].admit_calls, 1);
	ck_assert_int_eq(nodes[0].admitted, 1);
	ck_assert_mem_eq(nodes[0].last_peer.b, nodes[1].id.b, BT_ID_LEN);
	ck_assert_int_eq(nodes[0].calls_in, 1);
	ck_assert(knows(0, 1));
	/* the same connection: no second judgement; the other way too */
	ck_assert_int_eq(echo(1, 0, 12), BT_OK);
	ck_assert_int_eq(echo(0, 1, 13), BT_OK);
	ck_assert_int_eq(nodes[0].admit_calls, 1);
	ck_assert_int_eq(nodes[1].refused_by, 0);

	/* no statement: refused with the reason, on both sides */
	ck_assert_int_eq(echo(2, 0, 21), BTNET_EADMISSION);
	ck_assert_int_eq(nodes[0].refused, 1);
	ck_assert_int_eq(nodes[0].last_reason, R_NONE);
	ck_assert_mem_eq(nodes[0].last_peer.b, nodes[2].id.b, BT_ID_LEN);
	ck_assert_int_eq(nodes[2].refused_by, 1);
	ck_assert_int_eq(nodes[2].last_by_reason, R_NONE);
	ck_assert_int_eq(nodes[0].calls_in, 2);	/* 11 and 12 only */
	ck_assert(!knows(0, 2));

	/* a statement for another key */
	ck_assert_int_eq(echo(3, 0, 31), BTNET_EADMISSION);
	ck_assert_int_eq(nodes[0].refused, 2);
	ck_assert_int_eq(nodes[0].last_reason, R_BAD);
	ck_assert_int_eq(nodes[3].refused_by, 1);
	ck_assert_int_eq(nodes[3].last_by_reason, R_BAD);
	ck_assert_int_eq(nodes[0].calls_in, 2);

	/* dialling out: the node requiring admission refuses the callee */
	ck_assert_int_eq(echo(0, 2, 41), BTNET_EADMISSION);
	ck_assert_int_eq(nodes[0].refused, 3);
	ck_assert_int_eq(nodes[0].last_reason, R_NONE);
	ck_assert_int_eq(nodes[2].calls_in, 0);
	wait_eq(&nodes[2].refused_by, 2, 2000);

	/* nodes without admission are not affected */
	ck_assert_int_eq(echo(2, 1, 51), BT_OK);
	ck_assert_int_eq(echo(3, 2, 52), BT_OK);
	ck_assert_int_eq(nodes[1].admit_calls + nodes[2].admit_calls +
	    nodes[3].admit_calls, 0);
	ck_assert_int_eq(nodes[1].refused + nodes[2].refused +
	    nodes[3].refused, 0);
	ck_assert_int_eq(nodes[0].admitted, 1);
	stop();
}
END_TEST

/* Two nodes that both require admission admit each other once. */
START_TEST(mutual_admission)
{
	static const struct setup s[] = {
		{ STMT_GOOD, 1, 0, NULL, 0, 0 },
		{ STMT_GOOD, 1, 0, NULL, 0, 0 },
		{ STMT_NONE, 1, 0, NULL, 0, 0 },
	};

	start(s, 3);
	ck_assert_int_eq(echo(0, 1, 1), BT_OK);
	ck_assert_int_eq(echo(1, 0, 2), BT_OK);
	ck_assert_int_eq(nodes[0].admitted, 1);
	ck_assert_int_eq(nodes[1].admitted, 1);
	ck_assert_int_eq(nodes[0].admit_calls, 1);
	ck_assert_int_eq(nodes[1].admit_calls, 1);
	ck_assert(knows(0, 1) && knows(1, 0));
	/* 2 requires admission but has no statement: 0 refuses it, while
	   2 admits 0 */
	ck_assert_int_eq(echo(2, 0, 3), BTNET_EADMISSION);
	ck_assert_int_eq(nodes[0].last_reason, R_NONE);
	ck_assert_int_eq(nodes[2].last_by_reason, R_NONE);
	ck_assert_int_eq(nodes[2].refused, 0);
	ck_assert(!knows(0, 2));
	stop();
}
END_TEST

/*
 * 0 requires admission with a challenge; 1 answers it, 2 cannot, 3
 * answers wrongly.
 */
START_TEST(activation_round)
{
	static const struct setup s[] = {
		{ STMT_GOOD, 1, 1, cb_answer, 0, 0 },
		{ STMT_GOOD, 0, 0, cb_answer, 0, 0 },
		{ STMT_GOOD, 0, 0, NULL, 0, 0 },
		{ STMT_GOOD, 0, 0, cb_answer_wrong, 0, 0 },
	};

	start(s, 4);
	ck_assert_int_eq(echo(1, 0, 1), BT_OK);
	ck_assert_int_eq(nodes[0].challenges, 1);
	ck_assert_int_eq(nodes[1].answers, 1);
	ck_assert_int_eq(nodes[0].admitted, 1);

	ck_assert_int_eq(echo(2, 0, 2), BTNET_EADMISSION);
	ck_assert_int_eq(nodes[0].challenges, 2);
	ck_assert_int_eq(nodes[0].last_reason, R_ACT);
	ck_assert_int_eq(nodes[2].last_by_reason, R_ACT);

	ck_assert_int_eq(echo(3, 0, 3), BTNET_EADMISSION);
	ck_assert_int_eq(nodes[3].answers, 1);
	ck_assert_int_eq(nodes[0].last_reason, R_ACT);
	ck_assert_int_eq(nodes[3].last_by_reason, R_ACT);
	ck_assert_int_eq(nodes[0].refused, 2);
	ck_assert_int_eq(nodes[0].calls_in, 1);
	ck_assert_int_eq(nodes[1].calls_in + nodes[2].calls_in +
	    nodes[3].calls_in, 0);
	stop();
}
END_TEST

/* A raw connection that never answers, or floods. */
struct raw {
	struct btnet_identity *ident;
	struct btnet_endpoint *ep;
	struct btnet_conn *c;
	int up, closed, flood;
};

static void
raw_established(struct btnet_conn *c, const struct bt_id *peer, void *arg)
{
	struct raw *r = arg;
	struct btcore_msg *m = NULL;
	uint8_t *buf = NULL;
	size_t len;
	int i;

	(void)peer;
	r->up = 1;
	for (i = 0; i < r->flood; i++) {
		ck_assert_int_eq(btcore_msg_new(&m, BTCORE_MSG_PING_REQ, i),
		    BT_OK);
		ck_assert_int_eq(btcore_msg_encode(m, &buf, &len), BT_OK);
		ck_assert_int_eq(btnet_conn_send(c, buf, len), BT_OK);
		btcore_msg_bytes_free(buf);
		btcore_msg_free(m);
	}
}

static void
raw_message(struct btnet_conn *c, const uint8_t *msg, size_t len, void *arg)
{
	(void)c;
	(void)msg;
	(void)len;
	(void)arg;
}

static void
raw_closed(struct btnet_conn *c, int reason, void *arg)
{
	struct raw *r = arg;

	(void)c;
	(void)reason;
	r->closed = 1;
}

static void
raw_dial(struct raw *r, struct btcore_signer *signer, const char *addr,
    int flood)
{
	memset(r, 0, sizeof(*r));
	r->flood = flood;
	ck_assert_int_eq(btnet_identity_new(&r->ident, signer, NULL), BT_OK);
	ck_assert_int_eq(btnet_endpoint_open(&r->ep, base, r->ident), BT_OK);
	btnet_endpoint_setcb(r->ep, raw_established, raw_message, raw_closed,
	    NULL, r);
	ck_assert_int_eq(btnet_endpoint_dial(r->ep, addr, NULL, &r->c), BT_OK);
}

static void
raw_free(struct raw *r)
{
	btnet_endpoint_close(r->ep);
	btnet_identity_free(r->ident);
}

START_TEST(silent_and_flooding_peers)
{
	static const struct setup s[] = {
		{ STMT_GOOD, 1, 0, NULL, 1000, 0 },
		{ STMT_NONE, 0, 0, NULL, 0, 0 },
	};
	struct raw r;
	uint64_t t0;

	start(s, 2);
	/* silent: refused when the handshake time has passed */
	t0 = mono_ms();
	raw_dial(&r, &nodes[1].signer, nodes[0].addr, 0);
	ck_assert(wait_for(&r.up, 2000));
	ck_assert(wait_for(&nodes[0].refused, 4000));
	ck_assert_uint_ge(mono_ms() - t0, 900);
	ck_assert_int_eq(nodes[0].last_reason, BT_ETIMEDOUT);
	ck_assert(wait_for(&r.closed, 2000));
	ck_assert_uint_eq(nodes[0].net->nconns, 0);
	raw_free(&r);

	/* flooding before admission: cut off */
	nodes[0].refused = 0;
	raw_dial(&r, &nodes[1].signer, nodes[0].addr, NET_QUEUE_MAX + 8);
	ck_assert(wait_for(&r.up, 2000));
	ck_assert(wait_for(&nodes[0].refused, 2000));
	ck_assert_int_eq(nodes[0].last_reason, BT_EAGAIN);
	ck_assert(wait_for(&r.closed, 2000));
	raw_free(&r);
	ck_assert_int_eq(nodes[0].admitted, 0);
	ck_assert_int_eq(nodes[0].calls_in, 0);
	stop();
}
END_TEST

/*
 * A refused peer that redials is refused again from the memory of its
 * refusal, without a new judgement, until refused_ms has passed; a
 * peer admitted meanwhile is not affected.
 */
START_TEST(refusals_remembered)
{
	static const struct setup s[] = {
		{ STMT_GOOD, 1, 1, cb_answer, 0, 600 },
		{ STMT_NONE, 0, 0, cb_answer, 0, 0 },
		{ STMT_GOOD, 0, 0, cb_answer, 0, 0 },
		{ STMT_GOOD, 0, 0, cb_answer_wrong, 0, 0 },
	};
	uint64_t t0;
	int i;

	start(s, 4);
	t0 = mono_ms();
	ck_assert_int_eq(echo(1, 0, 1), BTNET_EADMISSION);
	ck_assert_int_eq(nodes[0].admit_calls, 1);
	for (i = 2; i <= 4; i++) {
		/* each redial: a fresh connection, refused at once */
		ck_assert_int_eq(echo(1, 0, i), BTNET_EADMISSION);
		ck_assert_int_eq(nodes[0].refused, i);
		ck_assert_int_eq(nodes[0].last_reason, R_NONE);
		wait_eq(&nodes[1].refused_by, i, 2000);
		ck_assert_int_eq(nodes[1].last_by_reason, R_NONE);
	}
	/* dialling it: refused from memory as well */
	ck_assert_int_eq(echo(0, 1, 5), BTNET_EADMISSION);
	ck_assert_int_eq(nodes[0].refused, 5);
	ck_assert_int_eq(nodes[0].admit_calls, 1);
	ck_assert_uint_lt(mono_ms() - t0, 600);
	ck_assert_int_eq(nodes[0].calls_in + nodes[1].calls_in, 0);

	/* a wrong challenge answer is remembered too */
	ck_assert_int_eq(echo(3, 0, 6), BTNET_EADMISSION);
	ck_assert_int_eq(echo(3, 0, 7), BTNET_EADMISSION);
	ck_assert_int_eq(nodes[0].challenges, 1);
	ck_assert_int_eq(nodes[3].answers, 1);
	ck_assert_int_eq(nodes[0].last_reason, R_ACT);
	ck_assert_int_eq(nodes[0].admit_calls, 2);

	/* others are judged as usual */
	ck_assert_int_eq(echo(2, 0, 8), BT_OK);
	ck_assert_int_eq(nodes[0].admit_calls, 3);
	ck_assert_int_eq(nodes[0].admitted, 1);

	/* once refused_ms has passed, a redial is judged again */
	while (mono_ms() - t0 < 700)
		run_for(20);
	ck_assert_int_eq(echo(1, 0, 9), BTNET_EADMISSION);
	ck_assert_int_eq(nodes[0].admit_calls, 4);
	ck_assert_int_eq(nodes[0].last_reason, R_NONE);
	stop();
}
END_TEST

/* The memory of refusals is bounded (the oldest make room), consulted
 * before admit(); refused_ms 0 remembers nothing. */
START_TEST(refusals_bounded)
{
	static const struct setup s[] = {
		{ STMT_GOOD, 1, 0, NULL, 0, 0 },
		{ STMT_GOOD, 0, 0, NULL, 0, 0 },
	};
	struct bt_id id;
	int i, reason;

	start(s, 2);
	memset(&id, 0, sizeof(id));
	for (i = 0; i < BTNET_ADMIT_REFUSED_MAX + 10; i++) {
		id.b[0] = (uint8_t)i;
		btnet_admit_refused_put_(nodes[0].net, &id, -100 - i);
	}
	/* again for the last one: no second entry */
	btnet_admit_refused_put_(nodes[0].net, &id, -100 - i + 1);
	for (i = 0; i < BTNET_ADMIT_REFUSED_MAX + 10; i++) {
		id.b[0] = (uint8_t)i;
		reason = 0;
		if (i < 10) {
			ck_assert_int_eq(btnet_admit_refused_get_(nodes[0].net,
			    &id, &reason), 0);
			continue;
		}
		ck_assert_int_eq(btnet_admit_refused_get_(nodes[0].net, &id,
		    &reason), 1);
		ck_assert_int_eq(reason, -100 - i);
	}
	/* a refusal in memory: node 1 is refused without a judgement */
	btnet_admit_refused_put_(nodes[0].net, &nodes[1].id, R_BAD);
	ck_assert_int_eq(echo(1, 0, 1), BTNET_EADMISSION);
	ck_assert_int_eq(nodes[0].admit_calls, 0);
	ck_assert_int_eq(nodes[0].last_reason, R_BAD);
	stop();

	/* refused_ms 0 */
	start(s, 2);
	nodes[0].net->cfg.admission.refused_ms = 0;
	btnet_admit_refused_put_(nodes[0].net, &nodes[1].id, R_BAD);
	ck_assert_int_eq(btnet_admit_refused_get_(nodes[0].net, &nodes[1].id,
	    &reason), 0);
	ck_assert_int_eq(echo(1, 0, 2), BT_OK);
	ck_assert_int_eq(nodes[0].admit_calls, 1);
	stop();
}
END_TEST

/* ---- through a relay --------------------------------------------------- */

#define RL	0		/* the relay */
#define TB	1		/* the target, registered at RL */
#define CA	2		/* a caller with a valid statement */
#define CC	3		/* a caller without one */

static size_t relayed;

static void
count_relayed(void *arg, const uint8_t *data, size_t len)
{
	(void)arg;
	(void)data;
	relayed += len;
}

static void
on_registered(void *arg, int status, const struct bt_id *relay)
{
	int *st = arg;

	ck_assert_mem_eq(relay->b, nodes[RL].id.b, BT_ID_LEN);
	*st = status;
}

/* Node @p i registers at RL: the outcome. */
static int
register_at_relay(int i)
{
	uint64_t end = mono_ms() + 8000;
	int st = 1;

	ck_assert_int_eq(btnet_relay_register(nodes[i].net, &nodes[RL].id,
	    on_registered, &st), BT_OK);
	while (st == 1 && mono_ms() < end)
		run_for(10);
	ck_assert_int_ne(st, 1);
	return st;
}

/*
 * RL relays, TB registers with it; CA and CC know only RL and route to
 * TB through it.  Both ends: every node knows where RL listens, no one
 * where TB does.
 */
static void
start_relayed(const struct setup *s)
{
	struct btnet_relay_limits lim;

	start_alone(s, 4);
	relayed = 0;
	introduce(TB, RL);
	introduce(CA, RL);
	introduce(CC, RL);
	btnet_relay_limits_init(&lim);
	ck_assert_int_eq(btnet_relay_serve(nodes[RL].net, &lim), BT_OK);
	btnet_relay_tap_(nodes[RL].net, count_relayed, NULL);
	ck_assert_int_eq(btnet_relay_route(nodes[CA].net, &nodes[TB].id,
	    &nodes[RL].id), BT_OK);
	ck_assert_int_eq(btnet_relay_route(nodes[CC].net, &nodes[TB].id,
	    &nodes[RL].id), BT_OK);
}

/*
 * A target requiring admission, reached through an open relay: the
 * relayed connection is judged like a direct one - a caller without a
 * statement is refused with BTNET_EADMISSION on both sides, one with a
 * valid statement is admitted and its call runs.
 */
START_TEST(relayed_peers_are_judged)
{
	static const struct setup s[] = {
		{ STMT_GOOD, 0, 0, NULL, 0, 0 },	/* RL */
		{ STMT_GOOD, 1, 0, NULL, 0, 0 },	/* TB */
		{ STMT_GOOD, 0, 0, NULL, 0, 0 },	/* CA */
		{ STMT_NONE, 0, 0, NULL, 0, 0 },	/* CC */
	};
	size_t before;

	start_relayed(s);
	/* TB's connection to RL is under TB's admission as well */
	ck_assert_int_eq(register_at_relay(TB), BT_OK);
	ck_assert_int_eq(nodes[TB].admit_calls, 1);
	ck_assert_int_eq(nodes[TB].admitted, 1);
	ck_assert_mem_eq(nodes[TB].last_peer.b, nodes[RL].id.b, BT_ID_LEN);

	ck_assert_int_eq(echo(CC, TB, 1), BTNET_EADMISSION);
	ck_assert_uint_gt(relayed, 0);
	ck_assert_int_eq(nodes[TB].refused, 1);
	ck_assert_int_eq(nodes[TB].last_reason, R_NONE);
	ck_assert_mem_eq(nodes[TB].last_peer.b, nodes[CC].id.b, BT_ID_LEN);
	wait_eq(&nodes[CC].refused_by, 1, 2000);
	ck_assert_int_eq(nodes[CC].last_by_reason, R_NONE);
	ck_assert_int_eq(nodes[TB].calls_in, 0);
	ck_assert(!knows(TB, CC));
	ck_assert(!knows(CC, TB));

	before = relayed;
	ck_assert_int_eq(echo(CA, TB, 2), BT_OK);
	ck_assert_uint_gt(relayed, before);
	ck_assert_int_eq(nodes[TB].admitted, 2);
	ck_assert_mem_eq(nodes[TB].last_peer.b, nodes[CA].id.b, BT_ID_LEN);
	ck_assert_int_eq(nodes[TB].calls_in, 1);
	ck_assert(knows(TB, CA));
	/* TB answers over the relayed connection, judged once */
	ck_assert_int_eq(echo(TB, CA, 3), BT_OK);
	ck_assert_int_eq(nodes[CA].calls_in, 1);
	ck_assert_int_eq(nodes[TB].admit_calls, 3);
	ck_assert_int_eq(nodes[TB].admitted, 2);
	ck_assert_int_eq(nodes[TB].refused, 1);
	/* CC redials through the relay: refused again, not judged again */
	ck_assert_int_eq(echo(CC, TB, 4), BTNET_EADMISSION);
	ck_assert_int_eq(nodes[TB].refused, 2);
	ck_assert_int_eq(nodes[TB].last_reason, R_NONE);
	wait_eq(&nodes[CC].refused_by, 2, 2000);
	ck_assert_int_eq(nodes[CC].last_by_reason, R_NONE);
	ck_assert_int_eq(nodes[TB].admit_calls, 3);
	ck_assert_int_eq(nodes[TB].calls_in, 1);
	stop();
}
END_TEST

/*
 * A relay requiring admission admits the target and the caller on their
 * own connections to it, and refuses a caller without a statement, who
 * then cannot reach the target through it at all.
 */
START_TEST(relay_admits_both_ends)
{
	static const struct setup s[] = {
		{ STMT_GOOD, 1, 0, NULL, 0, 0 },	/* RL */
		{ STMT_GOOD, 1, 0, NULL, 0, 0 },	/* TB */
		{ STMT_GOOD, 0, 0, NULL, 0, 0 },	/* CA */
		{ STMT_NONE, 0, 0, NULL, 0, 0 },	/* CC */
	};

	start_relayed(s);
	ck_assert_int_eq(register_at_relay(TB), BT_OK);
	ck_assert_int_eq(nodes[RL].admitted, 1);
	ck_assert_mem_eq(nodes[RL].last_peer.b, nodes[TB].id.b, BT_ID_LEN);
	/* TB requires admission too: it admitted RL */
	ck_assert_int_eq(nodes[TB].admitted, 1);
	ck_assert_mem_eq(nodes[TB].last_peer.b, nodes[RL].id.b, BT_ID_LEN);

	ck_assert_int_eq(echo(CA, TB, 1), BT_OK);
	ck_assert_int_eq(nodes[RL].admitted, 2);
	ck_assert_mem_eq(nodes[RL].last_peer.b, nodes[CA].id.b, BT_ID_LEN);
	ck_assert_int_eq(nodes[TB].admitted, 2);
	ck_assert_mem_eq(nodes[TB].last_peer.b, nodes[CA].id.b, BT_ID_LEN);
	ck_assert_int_eq(nodes[TB].calls_in, 1);
	ck_assert(knows(RL, CA) && knows(RL, TB) && knows(TB, CA));

	/* CC is refused by the relay: no circuit, so TB is unreachable for
	   it (the refusal itself is CC's BTNET_ADMIT_REFUSED_BY event) */
	ck_assert_int_eq(echo(CC, TB, 2), BTNET_EUNREACHABLE);
	ck_assert_int_eq(nodes[RL].refused, 1);
	ck_assert_int_eq(nodes[RL].last_reason, R_NONE);
	ck_assert_mem_eq(nodes[RL].last_peer.b, nodes[CC].id.b, BT_ID_LEN);
	ck_assert_int_ge(nodes[CC].refused_by, 1);
	ck_assert_int_eq(nodes[CC].last_by_reason, R_NONE);
	/* nor may it register (refused from the relay's memory) */
	ck_assert_int_eq(register_at_relay(CC), BTNET_EADMISSION);
	ck_assert_int_eq(nodes[RL].refused, 2);
	ck_assert_int_eq(nodes[RL].admit_calls, 3);
	ck_assert_int_eq(nodes[TB].calls_in, 1);
	ck_assert_int_eq(nodes[TB].refused, 0);
	ck_assert_int_eq(nodes[TB].admit_calls, 2);
	ck_assert(!knows(RL, CC));
	stop();
}
END_TEST

Suite *
suite_admit(void)
{
	Suite *s = suite_create("admit");
	TCase *tc = tcase_create("admit");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, config_checked);
	tcase_add_test(tc, attested_admits_and_refuses);
	tcase_add_test(tc, mutual_admission);
	tcase_add_test(tc, activation_round);
	tcase_add_test(tc, silent_and_flooding_peers);
	tcase_add_test(tc, refusals_remembered);
	tcase_add_test(tc, refusals_bounded);
	tcase_add_test(tc, relayed_peers_are_judged);
	tcase_add_test(tc, relay_admits_both_ends);
	suite_add_tcase(s, tc);
	return s;
}
