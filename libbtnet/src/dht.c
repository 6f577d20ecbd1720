/*
 * dht.c - the Kademlia DHT engine: requests and replies, write tokens,
 * rate limits, iterative lookups and the operations built on them.
 * No sockets and no event loop: see bt/dht.h.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bt/crypto.h>
#include <bt/hash.h>
#include <bt/msg.h>

#include "dht-internal.h"

#define CAND_MAX	(2 * BT_K)	/* candidates kept per lookup */
#define TOKEN_LEN	16		/* tokens we hand out */
#define RATE_SLOTS	128		/* rate-limit table */
#define PING_FRESH_MS	30000		/* do not ping a contact seen since */
#define BOOT_ADDRS_MAX	64

enum cstate { C_NEW = 0, C_WAIT, C_DONE, C_FAILED };

struct cand {
	struct btnet_dht_node n;
	uint8_t state, hop, tlen;
	uint8_t token[BTCORE_MSG_TOKEN_MAX];
};

enum phase { PH_IAM = 1, PH_LOOKUP, PH_WRITE, PH_QUERY, PH_DONE };

struct op {
	struct op *next, *prev;
	enum btnet_dht_op kind;
	int internal;			/* republish: no callback */
	enum phase phase;
	struct bt_id target;
	enum btcore_msg_type req;	/* lookup request type */
	struct cand c[CAND_MAX];
	size_t nc;
	unsigned inflight, outstanding, rpcs;
	/* what to write */
	uint8_t *data;
	size_t len;
	uint8_t bagval[32];
	/* bag query */
	enum btnet_dht_bag bagkind;
	size_t limit;
	/* record get */
	struct bt_pubkey pub;
	uint8_t rkey[BTCORE_RECORD_KEY_MAX];
	size_t rkey_len;
	/* bootstrap: next bucket to refresh */
	int boot_next;
	/* results */
	int status;
	uint8_t *value;
	size_t value_len;
	struct bt_record rec;
	int has_rec;
	uint8_t (*values)[32];
	size_t nvalues;
	unsigned stored, refused, timeouts;
	void (*cb)(void *arg, const struct btnet_dht_result *res);
	void *arg;
};

enum purpose { P_PING = 1, P_IAM, P_LOOKUP, P_WRITE, P_QUERY };

struct pending {
	struct pending *next, *prev;
	int64_t tid;
	uint64_t deadline;
	struct bt_id to_id;
	int has_id;
	struct btnet_dht_addr to;
	enum btcore_msg_type expect;
	enum purpose purpose;
	struct op *op;
};

struct rate {
	uint8_t family;
	uint8_t ip[16];
	uint64_t milli;			/* tokens x 1000 */
	uint64_t last;
};

struct btnet_dht {
	struct btnet_dht_env env;
	struct btnet_dht_storage st;
	struct btnet_dht_config cfg;
	struct btnet_rt rt;
	struct pending *pend;
	size_t npend;
	struct op *ops;			/* running */
	struct op *done, *done_tail;	/* finished, callback not yet run */
	size_t nops;
	uint8_t secret[32], prev_secret[32];
	uint64_t secret_at, next_republish, next_expire;
	struct rate rate[RATE_SLOTS];
	struct btnet_dht_stats stats;
};

/* ---- environment ------------------------------------------------------ */

static uint64_t
now_ms(const struct btnet_dht *dht)
{
	struct timespec ts;

	if (dht->env.now_ms != NULL)
		return dht->env.now_ms(dht->env.ctx);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int
rnd(struct btnet_dht *dht, void *buf, size_t len)
{
	if (dht->env.random != NULL)
		return dht->env.random(dht->env.ctx, buf, len);
	return btcore_random_bytes(buf, len);
}

static uint64_t
rnd64(struct btnet_dht *dht)
{
	uint64_t v = 0;

	if (rnd(dht, &v, sizeof(v)) != BT_OK)
		v = now_ms(dht) * 0x9e3779b97f4a7c15ULL;
	return v;
}

static int
addr_ok(const struct btnet_dht_addr *a)
{
	return a != NULL && (a->family == 4 || a->family == 6) && a->port != 0;
}

static void
addr_to_node(const struct btnet_dht_node *n, struct btcore_msg_node *out)
{
	memset(out, 0, sizeof(*out));
	out->id = n->id;
	out->ip_len = n->addr.family == 4 ? 4 : 16;
	memcpy(out->ip, n->addr.ip, out->ip_len);
	out->port = n->addr.port;
}

static void
node_to_addr(const struct btcore_msg_node *n, struct btnet_dht_node *out)
{
	memset(out, 0, sizeof(*out));
	out->id = n->id;
	out->addr.family = n->ip_len == 4 ? 4 : 6;
	memcpy(out->addr.ip, n->ip, n->ip_len);
	out->addr.port = n->port;
}

static int
id_eq(const struct bt_id *a, const struct bt_id *b)
{
	return memcmp(a->b, b->b, BT_ID_LEN) == 0;
}

/* ---- tokens and rate limits ------------------------------------------ */

static int
token_for(const uint8_t secret[32], const struct btnet_dht_addr *a,
    uint8_t out[TOKEN_LEN])
{
	uint8_t in[19], mac[BTCORE_HMAC_LEN];
	int rc;

	in[0] = a->family;
	memcpy(in + 1, a->ip, 16);
	in[17] = (uint8_t)(a->port >> 8);
	in[18] = (uint8_t)a->port;
	rc = btcore_hmac_sha256(mac, secret, 32, in, sizeof(in));
	memcpy(out, mac, TOKEN_LEN);
	return rc;
}

static int
token_valid(const struct btnet_dht *dht, const struct btnet_dht_addr *a,
    const uint8_t *tok, size_t len)
{
	uint8_t t[TOKEN_LEN];

	if (len != TOKEN_LEN)
		return 0;
	if (token_for(dht->secret, a, t) == BT_OK &&
	    btcore_ct_equal(t, tok, TOKEN_LEN))
		return 1;
	return token_for(dht->prev_secret, a, t) == BT_OK &&
	    btcore_ct_equal(t, tok, TOKEN_LEN);
}

static int
rate_ok(struct btnet_dht *dht, const struct btnet_dht_addr *a, uint64_t now)
{
	struct rate *r;
	uint64_t h = 1469598103934665603ULL, cap;
	size_t i, n = a->family == 4 ? 4 : 16;

	for (i = 0; i < n; i++)
		h = (h ^ a->ip[i]) * 1099511628211ULL;
	r = &dht->rate[h % RATE_SLOTS];
	cap = (uint64_t)dht->cfg.rate_burst * 1000;
	if (r->family != a->family || memcmp(r->ip, a->ip, 16) != 0) {
		r->family = a->family;
		memcpy(r->ip, a->ip, 16);
		r->milli = cap;
		r->last = now;
	}
	if (now > r->last) {
		r->milli += (now - r->last) * dht->cfg.rate_per_s;
		if (r->milli > cap)
			r->milli = cap;
		r->last = now;
	}
	if (r->milli < 1000)
		return 0;
	r->milli -= 1000;
	return 1;
}

/* ---- sending ---------------------------------------------------------- */

static int
send_msg(struct btnet_dht *dht, const struct btcore_msg *m,
    const struct btnet_dht_addr *to, const struct bt_id *to_id)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc;

	if ((rc = btcore_msg_encode(m, &buf, &len)) != BT_OK)
		return rc;
	rc = dht->env.send(dht->env.ctx, to, to_id, buf, len);
	btcore_msg_bytes_free(buf);
	return rc;
}

static struct pending *
pending_find(struct btnet_dht *dht, int64_t tid)
{
	struct pending *p;

	for (p = dht->pend; p != NULL; p = p->next)
		if (p->tid == tid)
			return p;
	return NULL;
}

static void
pending_unlink(struct btnet_dht *dht, struct pending *p)
{
	if (p->prev != NULL)
		p->prev->next = p->next;
	else
		dht->pend = p->next;
	if (p->next != NULL)
		p->next->prev = p->prev;
	dht->npend--;
}

static int
pinging(const struct btnet_dht *dht, const struct bt_id *id)
{
	const struct pending *p;

	for (p = dht->pend; p != NULL; p = p->next)
		if (p->purpose == P_PING && p->has_id && id_eq(&p->to_id, id))
			return 1;
	return 0;
}

/* A new request message with a fresh transaction id. */
static int
req_new(struct btnet_dht *dht, enum btcore_msg_type type,
    struct btcore_msg **out)
{
	int64_t tid;

	do {
		tid = (int64_t)(rnd64(dht) >> 1);
	} while (pending_find(dht, tid) != NULL);
	return btcore_msg_new(out, type, tid);
}

/*
 * Send request @p m (consumed) to @p to and remember it.  A send error
 * makes the request fail at the next tick; BT_EAGAIN when too many
 * requests are pending.
 */
static int
req_send(struct btnet_dht *dht, struct btcore_msg *m,
    const struct btnet_dht_addr *to, const struct bt_id *to_id,
    enum purpose purpose, struct op *op)
{
	struct pending *p = NULL;
	uint64_t now = now_ms(dht);
	int rc;

	if (dht->npend >= BTNET_DHT_PENDING_MAX) {
		rc = BT_EAGAIN;
		goto out;
	}
	if ((p = calloc(1, sizeof(*p))) == NULL) {
		rc = BT_ENOMEM;
		goto out;
	}
	p->tid = btcore_msg_tid(m);
	p->deadline = now + dht->cfg.request_timeout_ms;
	if (to_id != NULL) {
		p->to_id = *to_id;
		p->has_id = 1;
	}
	p->to = *to;
	p->expect = (enum btcore_msg_type)(btcore_msg_type(m) + 1);
	p->purpose = purpose;
	p->op = op;
	if (send_msg(dht, m, to, to_id) != BT_OK)
		p->deadline = now;	/* fails at the next tick */
	p->next = dht->pend;
	if (dht->pend != NULL)
		dht->pend->prev = p;
	dht->pend = p;
	dht->npend++;
	dht->stats.rpcs_sent++;
	if (op != NULL)
		op->rpcs++;
	p = NULL;
	rc = BT_OK;
out:
	free(p);
	btcore_msg_free(m);
	return rc;
}

static void
send_ping(struct btnet_dht *dht, const struct btnet_dht_addr *to,
    const struct bt_id *id)
{
	struct btcore_msg *m = NULL;

	if (dht->npend >= BTNET_DHT_PENDING_MAX / 2 || pinging(dht, id))
		return;
	if (req_new(dht, BTCORE_MSG_PING_REQ, &m) != BT_OK)
		return;
	(void)req_send(dht, m, to, id, P_PING, NULL);
}

/* @p id answered us at @p addr: into the table, maybe ping to replace. */
static void
node_answered(struct btnet_dht *dht, const struct bt_id *id,
    const struct btnet_dht_addr *addr)
{
	struct btnet_rt_contact lrs;
	uint64_t now = now_ms(dht);

	if (btnet_rt_seen_(&dht->rt, id, addr, now, &lrs) == BTNET_RT_CACHED &&
	    lrs.last_seen + PING_FRESH_MS <= now)
		send_ping(dht, &lrs.addr, &lrs.id);
}

/* ---- operations: bookkeeping ----------------------------------------- */

static void
op_unlink(struct btnet_dht *dht, struct op *op)
{
	if (op->prev != NULL)
		op->prev->next = op->next;
	else
		dht->ops = op->next;
	if (op->next != NULL)
		op->next->prev = op->prev;
	op->next = op->prev = NULL;
}

static void
op_free(struct op *op)
{
	if (op == NULL)
		return;
	free(op->data);
	free(op->value);
	free(op->values);
	free(op);
}

/* Largest hop among the first BT_K answered candidates. */
static unsigned
op_rounds(const struct op *op)
{
	unsigned r = 0, n = 0;
	size_t i;

	for (i = 0; i < op->nc && n < BT_K; i++) {
		if (op->c[i].state != C_DONE)
			continue;
		n++;
		if (op->c[i].hop > r)
			r = op->c[i].hop;
	}
	return r;
}

/* The operation is over: detach its requests, queue its callback. */
static void
op_finish(struct btnet_dht *dht, struct op *op, int status)
{
	struct pending *p;

	if (op->phase == PH_DONE)
		return;
	op->phase = PH_DONE;
	op->status = status;
	for (p = dht->pend; p != NULL; p = p->next)
		if (p->op == op)
			p->op = NULL;
	op_unlink(dht, op);
	if (dht->done_tail != NULL)
		dht->done_tail->next = op;
	else
		dht->done = op;
	dht->done_tail = op;
}

static void
op_result(const struct btnet_dht *dht, const struct op *op,
    struct btnet_dht_result *res)
{
	size_t i;

	memset(res, 0, sizeof(*res));
	res->status = op->status;
	res->op = op->kind;
	res->key = op->target;
	if (op->kind == BTNET_DHT_OP_BOOTSTRAP) {
		res->nnodes = btnet_rt_closest_(&dht->rt, &dht->rt.self,
		    res->nodes, BT_K);
	} else {
		for (i = 0; i < op->nc && res->nnodes < BT_K; i++)
			if (op->c[i].state == C_DONE)
				res->nodes[res->nnodes++] = op->c[i].n;
	}
	res->value = op->value;
	res->value_len = op->value_len;
	res->record = op->has_rec ? &op->rec : NULL;
	res->values = (const uint8_t (*)[32])op->values;
	res->nvalues = op->nvalues;
	res->stored = op->stored;
	res->rounds = op_rounds(op);
	res->rpcs = op->rpcs;
}

static int
op_new(struct btnet_dht *dht, enum btnet_dht_op kind,
    const struct bt_id *target,
    void (*cb)(void *arg, const struct btnet_dht_result *res), void *arg,
    int internal, struct op **out)
{
	struct op *op;

	*out = NULL;
	if ((!internal && cb == NULL) || target == NULL)
		return BT_EINVAL;
	if (dht->nops >= BTNET_DHT_OPS_MAX)
		return BT_EAGAIN;
	if ((op = calloc(1, sizeof(*op))) == NULL)
		return BT_ENOMEM;
	op->kind = kind;
	op->internal = internal;
	op->target = *target;
	op->cb = cb;
	op->arg = arg;
	op->req = BTCORE_MSG_PEERS_REQ;
	op->next = dht->ops;
	if (dht->ops != NULL)
		dht->ops->prev = op;
	dht->ops = op;
	dht->nops++;
	*out = op;
	return BT_OK;
}

/* ---- lookups ----------------------------------------------------------- */

static struct cand *
cand_find(struct op *op, const struct bt_id *id)
{
	size_t i;

	for (i = 0; i < op->nc; i++)
		if (id_eq(&op->c[i].n.id, id))
			return &op->c[i];
	return NULL;
}

static void
cand_add(struct btnet_dht *dht, struct op *op,
    const struct btnet_dht_node *n, unsigned hop)
{
	size_t k;

	if (id_eq(&n->id, &dht->rt.self) || !addr_ok(&n->addr) ||
	    cand_find(op, &n->id) != NULL)
		return;
	if (op->nc == CAND_MAX) {
		if (btcore_id_distance_cmp(&op->target, &n->id,
		    &op->c[CAND_MAX - 1].n.id) >= 0)
			return;
		/* drop the farthest; its reply, if any, will find no one */
		if (op->c[CAND_MAX - 1].state == C_WAIT)
			op->inflight--;
		op->nc--;
	}
	k = op->nc++;
	while (k > 0 && btcore_id_distance_cmp(&op->target, &n->id,
	    &op->c[k - 1].n.id) < 0) {
		op->c[k] = op->c[k - 1];
		k--;
	}
	memset(&op->c[k], 0, sizeof(op->c[k]));
	op->c[k].n = *n;
	op->c[k].hop = (uint8_t)(hop > 255 ? 255 : hop);
}

static void
lookup_seed(struct btnet_dht *dht, struct op *op)
{
	struct btnet_dht_node near[BT_K];
	size_t i, n;

	op->nc = 0;
	op->inflight = 0;
	n = btnet_rt_closest_(&dht->rt, &op->target, near, BT_K);
	for (i = 0; i < n; i++)
		cand_add(dht, op, &near[i], 0);
	op->phase = PH_LOOKUP;
}

static int
lookup_query(struct btnet_dht *dht, struct op *op, struct cand *c)
{
	struct btcore_msg *m = NULL;
	int rc;

	if ((rc = req_new(dht, op->req, &m)) != BT_OK)
		return rc;
	if (op->req == BTCORE_MSG_NS_REF_REQ) {
		rc = btcore_msg_set_bin(m, BTCORE_MSG_F_PUBKEY, op->pub.b, 32);
		if (rc == BT_OK)
			rc = btcore_msg_set_bin(m, BTCORE_MSG_F_KEY, op->rkey,
			    op->rkey_len);
	} else {
		rc = btcore_msg_set_bin(m, BTCORE_MSG_F_KEY, op->target.b,
		    BT_ID_LEN);
	}
	if (rc != BT_OK) {
		btcore_msg_free(m);
		return rc;
	}
	return req_send(dht, m, &c->n.addr, &c->n.id, P_LOOKUP, op);
}

static void lookup_done(struct btnet_dht *, struct op *);

/* Keep α requests in flight among the k closest; finish when done. */
static void
lookup_step(struct btnet_dht *dht, struct op *op)
{
	size_t i, live;
	int busy;

again:
	if (op->phase != PH_LOOKUP)
		return;
	busy = 0;
	for (i = 0, live = 0; i < op->nc && live < BT_K; i++) {
		struct cand *c = &op->c[i];

		if (c->state == C_FAILED)
			continue;
		live++;
		if (c->state == C_WAIT) {
			busy = 1;
		} else if (c->state == C_NEW) {
			busy = 1;
			if (op->inflight >= BT_ALPHA)
				continue;
			if (lookup_query(dht, op, c) != BT_OK) {
				c->state = C_FAILED;
				goto again;
			}
			c->state = C_WAIT;
			op->inflight++;
		}
	}
	if (!busy)
		lookup_done(dht, op);
}

/* ---- writes and queries after a lookup ------------------------------- */

static int
near_enough(const struct btnet_dht *dht, const struct bt_id *key)
{
	return btnet_rt_nearer_(&dht->rt, key, BT_REPLICATION_MAX) <
	    BT_REPLICATION_MAX;
}

/*
 * Store record encoding @p enc (already verified into @p rec) locally if
 * the sequence rules allow.  BT_OK, BT_ESTALE, BT_ECONFLICT, storage
 * errors.
 */
static int
record_store(struct btnet_dht *dht, const struct bt_record *rec,
    const uint8_t *enc, size_t len, const struct bt_id *origin)
{
	struct bt_record old;
	struct bt_id target;
	const uint8_t *oenc;
	size_t olen;
	int rc;

	if ((rc = btcore_record_target(&target, &rec->pub, rec->key,
	    rec->key_len)) != BT_OK)
		return rc;
	if (dht->st.record_get(dht->st.ctx, &target, &oenc, &olen) == BT_OK &&
	    btcore_record_decode(&old, oenc, olen) == BT_OK) {
		rc = btcore_record_compare(rec, &old);
		if (rc < 0)
			return rc;
	}
	return dht->st.record_put(dht->st.ctx, &target, enc, len, origin,
	    now_ms(dht));
}

static int
local_write(struct btnet_dht *dht, struct op *op)
{
	struct bt_record rec;
	uint64_t now = now_ms(dht);

	switch (op->kind) {
	case BTNET_DHT_OP_PUT_VALUE:
		return dht->st.value_put(dht->st.ctx, &op->target, op->data,
		    op->len, &dht->rt.self, now);
	case BTNET_DHT_OP_BAG_ADD:
		return dht->st.bag_add(dht->st.ctx, &op->target, op->bagval,
		    &dht->rt.self, now);
	case BTNET_DHT_OP_RECORD_PUT:
		if (btcore_record_decode(&rec, op->data, op->len) != BT_OK)
			return BT_EVERIFY;
		return record_store(dht, &rec, op->data, op->len,
		    &dht->rt.self);
	default:
		return BT_EINVAL;
	}
}

static int
write_send(struct btnet_dht *dht, struct op *op, const struct cand *c)
{
	struct btcore_msg *m = NULL;
	enum btcore_msg_type t;
	int rc;

	t = op->kind == BTNET_DHT_OP_PUT_VALUE ? BTCORE_MSG_SET_REQ :
	    op->kind == BTNET_DHT_OP_BAG_ADD ? BTCORE_MSG_BAG_ADD_REQ :
	    BTCORE_MSG_NS_SET_REQ;
	if ((rc = req_new(dht, t, &m)) != BT_OK)
		return rc;
	rc = btcore_msg_set_bin(m, BTCORE_MSG_F_TOKEN, c->token, c->tlen);
	if (rc == BT_OK && t == BTCORE_MSG_SET_REQ)
		rc = btcore_msg_set_bin(m, BTCORE_MSG_F_VALUE, op->data,
		    op->len);
	else if (rc == BT_OK && t == BTCORE_MSG_BAG_ADD_REQ) {
		rc = btcore_msg_set_bin(m, BTCORE_MSG_F_KEY, op->target.b,
		    BT_ID_LEN);
		if (rc == BT_OK)
			rc = btcore_msg_set_bin(m, BTCORE_MSG_F_VALUE,
			    op->bagval, 32);
	} else if (rc == BT_OK)
		rc = btcore_msg_set_bin(m, BTCORE_MSG_F_RECORD, op->data,
		    op->len);
	if (rc != BT_OK) {
		btcore_msg_free(m);
		return rc;
	}
	return req_send(dht, m, &c->n.addr, &c->n.id, P_WRITE, op);
}

static int
query_send(struct btnet_dht *dht, struct op *op,
    const struct btnet_dht_node *to)
{
	struct btcore_msg *m = NULL;
	enum btcore_msg_type t;
	int rc;

	t = op->bagkind == BTNET_DHT_BAG_POPULAR ? BTCORE_MSG_POPULAR_REQ :
	    op->bagkind == BTNET_DHT_BAG_RECENT ? BTCORE_MSG_RECENT_REQ :
	    BTCORE_MSG_SAMPLE_REQ;
	if ((rc = req_new(dht, t, &m)) != BT_OK)
		return rc;
	rc = btcore_msg_set_bin(m, BTCORE_MSG_F_KEY, op->target.b, BT_ID_LEN);
	if (rc == BT_OK)
		rc = btcore_msg_set_int64(m, BTCORE_MSG_F_LIMIT,
		    (int64_t)op->limit);
	if (rc != BT_OK) {
		btcore_msg_free(m);
		return rc;
	}
	return req_send(dht, m, &to->addr, &to->id, P_QUERY, op);
}

static void
write_finish_check(struct btnet_dht *dht, struct op *op)
{
	if (op->outstanding != 0)
		return;
	if (op->phase == PH_WRITE)
		op_finish(dht, op, op->stored > 0 ? BT_OK :
		    op->refused > 0 ? BT_ENOSPC : BT_ETIMEDOUT);
	else if (op->phase == PH_QUERY) {
		if (op->bagkind == BTNET_DHT_BAG_SAMPLE && op->nvalues > 1) {
			size_t i, j;
			uint8_t t[32];

			for (i = op->nvalues - 1; i > 0; i--) {
				j = (size_t)(rnd64(dht) % (i + 1));
				memcpy(t, op->values[i], 32);
				memcpy(op->values[i], op->values[j], 32);
				memcpy(op->values[j], t, 32);
			}
		}
		op_finish(dht, op, op->refused == 0 && op->stored == 0 &&
		    op->nvalues == 0 ? BT_ETIMEDOUT : BT_OK);
	}
}

/* Lookup over: write, query, refresh or finish, by kind. */
static void
write_phase(struct btnet_dht *dht, struct op *op)
{
	unsigned r = dht->cfg.replication, chosen = 0;
	int self_done = 0;
	size_t i;

	op->phase = PH_WRITE;
	op->outstanding = 0;
	for (i = 0; i < op->nc && chosen < r; i++) {
		struct cand *c = &op->c[i];

		if (c->state != C_DONE || c->tlen == 0)
			continue;
		if (!self_done && btcore_id_distance_cmp(&op->target,
		    &dht->rt.self, &c->n.id) < 0) {
			self_done = 1;
			chosen++;
			if (local_write(dht, op) == BT_OK)
				op->stored++;
			else
				op->refused++;
			if (chosen == r)
				break;
		}
		chosen++;
		if (write_send(dht, op, c) == BT_OK)
			op->outstanding++;
	}
	if (!self_done && chosen < r) {
		if (local_write(dht, op) == BT_OK)
			op->stored++;
		else
			op->refused++;
	}
	write_finish_check(dht, op);
}

static void
query_phase(struct btnet_dht *dht, struct op *op)
{
	size_t i;
	unsigned sent = 0;

	op->phase = PH_QUERY;
	op->outstanding = 0;
	for (i = 0; i < op->nc && sent < dht->cfg.replication; i++) {
		if (op->c[i].state != C_DONE)
			continue;
		sent++;
		if (query_send(dht, op, &op->c[i].n) == BT_OK)
			op->outstanding++;
	}
	write_finish_check(dht, op);
}

/* Next bucket to refresh during bootstrap, or -1. */
static int
boot_next_bucket(struct btnet_dht *dht, struct op *op)
{
	struct btnet_dht_node near;
	int depth, b;

	if (btnet_rt_closest_(&dht->rt, &dht->rt.self, &near, 1) == 0)
		return -1;
	depth = btnet_rt_index_(&dht->rt, &near.id);
	for (b = op->boot_next; b < depth; b++) {
		const struct btnet_rt_bucket *bk = dht->rt.b[b];

		if (bk == NULL || bk->n < BT_K)
			return b;
	}
	return -1;
}

/* A random id in bucket @p b: our first b bits, bit b flipped. */
static void
id_in_bucket(struct btnet_dht *dht, int b, struct bt_id *out)
{
	struct bt_id r;
	int byte = b / 8, bit = 7 - b % 8, i;
	uint8_t keep;

	if (rnd(dht, r.b, sizeof(r.b)) != BT_OK)
		memset(r.b, 0x5a, sizeof(r.b));
	*out = dht->rt.self;
	keep = (uint8_t)(0xff << (bit + 1));
	out->b[byte] = (uint8_t)((dht->rt.self.b[byte] & keep) |
	    ((~dht->rt.self.b[byte]) & (1u << bit)) |
	    (r.b[byte] & ((1u << bit) - 1)));
	for (i = byte + 1; i < BT_ID_LEN; i++)
		out->b[i] = r.b[i];
}

static void
lookup_done(struct btnet_dht *dht, struct op *op)
{
	size_t i;
	int b, any = 0;

	for (i = 0; i < op->nc; i++)
		if (op->c[i].state == C_DONE)
			any = 1;
	dht->stats.lookups++;
	dht->stats.lookup_rounds += op_rounds(op);
	dht->stats.lookup_rpcs += op->rpcs;
	switch (op->kind) {
	case BTNET_DHT_OP_BOOTSTRAP:
		if ((b = boot_next_bucket(dht, op)) < 0) {
			op_finish(dht, op, dht->rt.count > 0 ? BT_OK :
			    BT_ETIMEDOUT);
			return;
		}
		op->boot_next = b + 1;
		id_in_bucket(dht, b, &op->target);
		lookup_seed(dht, op);
		lookup_step(dht, op);
		return;
	case BTNET_DHT_OP_FIND_NODES:
		op_finish(dht, op, any ? BT_OK : op->timeouts ? BT_ETIMEDOUT :
		    BT_ENOTFOUND);
		return;
	case BTNET_DHT_OP_GET_VALUE:
		op_finish(dht, op, !any && op->timeouts ? BT_ETIMEDOUT :
		    BT_ENOTFOUND);
		return;
	case BTNET_DHT_OP_RECORD_GET:
		op_finish(dht, op, op->has_rec ? BT_OK : BT_ENOTFOUND);
		return;
	case BTNET_DHT_OP_BAG_QUERY:
		query_phase(dht, op);
		return;
	default:
		write_phase(dht, op);
		return;
	}
}

/* ---- replies ----------------------------------------------------------- */

static void
merge_values(struct op *op, const struct btcore_msg *m)
{
	size_t i, j, n = btcore_msg_bin_count(m, BTCORE_MSG_F_VALUES), len;
	const uint8_t *p;

	for (i = 0; i < n && op->nvalues < op->limit; i++) {
		if (btcore_msg_bin_at(m, BTCORE_MSG_F_VALUES, i, &p, &len) !=
		    BT_OK || len != 32)
			continue;
		for (j = 0; j < op->nvalues; j++)
			if (memcmp(op->values[j], p, 32) == 0)
				break;
		if (j == op->nvalues)
			memcpy(op->values[op->nvalues++], p, 32);
	}
}

/* A record in a namespace-ref reply for @p op: keep the best valid one. */
static int
take_record(struct op *op, const uint8_t *enc, size_t len)
{
	struct bt_record rec;
	uint8_t *copy;

	if (btcore_record_decode(&rec, enc, len) != BT_OK ||
	    memcmp(rec.pub.b, op->pub.b, 32) != 0 ||
	    rec.key_len != op->rkey_len ||
	    memcmp(rec.key, op->rkey, op->rkey_len) != 0)
		return BT_EPROTO;
	if (op->has_rec && rec.seq <= op->rec.seq)
		return BT_OK;
	if ((copy = malloc(len)) == NULL)
		return BT_ENOMEM;
	memcpy(copy, enc, len);
	if (btcore_record_decode(&rec, copy, len) != BT_OK) {
		free(copy);
		return BT_EPROTO;
	}
	free(op->value);
	op->value = copy;
	op->value_len = len;
	op->rec = rec;
	op->has_rec = 1;
	return BT_OK;
}

static int
lookup_reply(struct btnet_dht *dht, struct op *op, struct cand *c,
    const struct btcore_msg *m)
{
	struct btcore_msg_node mn;
	struct btnet_dht_node n;
	struct bt_id h;
	const uint8_t *p;
	size_t i, len;
	unsigned hop = c->hop + 1u;
	int rc = BT_OK;

	op->inflight--;
	if (btcore_msg_type(m) == BTCORE_MSG_ERROR) {
		c->state = C_FAILED;
		return BT_OK;
	}
	c->state = C_DONE;
	if (btcore_msg_get_bin(m, BTCORE_MSG_F_TOKEN, &p, &len) == BT_OK) {
		memcpy(c->token, p, len);
		c->tlen = (uint8_t)len;
	}
	if (btcore_msg_type(m) == BTCORE_MSG_REF_REP &&
	    btcore_msg_get_bin(m, BTCORE_MSG_F_VALUE, &p, &len) == BT_OK) {
		if (btcore_id_hash(&h, p, len) != BT_OK ||
		    !id_eq(&h, &op->target)) {
			c->state = C_FAILED;
			return BT_EPROTO;
		}
		if ((op->value = malloc(len ? len : 1)) == NULL) {
			c->state = C_FAILED;
			return BT_ENOMEM;
		}
		if (len)
			memcpy(op->value, p, len);
		op->value_len = len;
		op_finish(dht, op, BT_OK);
		return BT_OK;
	}
	if (btcore_msg_type(m) == BTCORE_MSG_NS_REF_REP &&
	    btcore_msg_get_bin(m, BTCORE_MSG_F_RECORD, &p, &len) == BT_OK) {
		if ((rc = take_record(op, p, len)) != BT_OK)
			c->state = C_FAILED;
		return rc;
	}
	/* nearer nodes: candidates only, never straight into the table */
	for (i = 0; i < btcore_msg_node_count(m); i++) {
		if (btcore_msg_node_at(m, i, &mn) != BT_OK)
			continue;
		node_to_addr(&mn, &n);
		cand_add(dht, op, &n, hop);
	}
	return BT_OK;
}

/*
 * A reply.  @p relayed: it came over a relayed connection, which proves
 * nothing about an address of its sender (see btnet_dht_input_relayed_()).
 */
static int
handle_reply(struct btnet_dht *dht, const struct btcore_msg *m,
    const struct btnet_dht_addr *from, const struct bt_id *from_id,
    int relayed)
{
	struct pending *p;
	struct op *op;
	struct cand *c;
	const uint8_t *b;
	size_t len;
	int stored, rc = BT_OK;
	enum btcore_msg_type t = btcore_msg_type(m);

	(void)from;
	if ((p = pending_find(dht, btcore_msg_tid(m))) == NULL)
		return BT_EPROTO;	/* never asked, or too late */
	if (p->has_id && !id_eq(&p->to_id, from_id))
		return BT_EPROTO;	/* someone else answering */
	if (t != p->expect && t != BTCORE_MSG_ERROR)
		return BT_EPROTO;
	if (t == BTCORE_MSG_WELCOME) {
		if (btcore_msg_get_bin(m, BTCORE_MSG_F_ID, &b, &len) != BT_OK ||
		    len != BT_ID_LEN || memcmp(b, from_id->b, BT_ID_LEN) != 0)
			return BT_EPROTO;	/* id != authenticated id */
	}
	pending_unlink(dht, p);
	dht->stats.replies++;
	op = p->op;
	if (!relayed)
		node_answered(dht, from_id, &p->to);
	if (t == BTCORE_MSG_WELCOME && !relayed) {
		const uint8_t *ip;
		int64_t port;

		if (btcore_msg_get_bin(m, BTCORE_MSG_F_IP, &ip, &len) ==
		    BT_OK && btcore_msg_get_int64(m, BTCORE_MSG_F_PORT,
		    &port) == BT_OK) {
			dht->stats.has_external = 1;
			memset(&dht->stats.external, 0,
			    sizeof(dht->stats.external));
			dht->stats.external.family = len == 4 ? 4 : 6;
			memcpy(dht->stats.external.ip, ip, len);
			dht->stats.external.port = (uint16_t)port;
		}
	}
	if (op == NULL)
		goto out;
	switch (p->purpose) {
	case P_IAM:
		if (op->outstanding > 0 && --op->outstanding == 0) {
			lookup_seed(dht, op);
			lookup_step(dht, op);
		}
		break;
	case P_LOOKUP:
		if ((c = cand_find(op, from_id)) == NULL || c->state != C_WAIT)
			break;
		rc = lookup_reply(dht, op, c, m);
		lookup_step(dht, op);
		break;
	case P_WRITE:
		if (t != BTCORE_MSG_ERROR && btcore_msg_get_bool(m,
		    BTCORE_MSG_F_STORED, &stored) == BT_OK && stored)
			op->stored++;
		else
			op->refused++;
		op->outstanding--;
		write_finish_check(dht, op);
		break;
	case P_QUERY:
		if (t != BTCORE_MSG_ERROR) {
			merge_values(op, m);
			op->stored++;	/* counts answers */
		}
		op->outstanding--;
		write_finish_check(dht, op);
		break;
	case P_PING:
		break;
	}
out:
	free(p);
	return rc;
}

/* ---- requests ---------------------------------------------------------- */

static int
add_nodes(struct btnet_dht *dht, struct btcore_msg *m,
    const struct bt_id *key, const struct bt_id *skip)
{
	struct btnet_dht_node near[BT_K + 1];
	struct btcore_msg_node mn;
	size_t i, n, added = 0;
	int rc;

	if ((rc = btcore_msg_set_empty(m, BTCORE_MSG_F_NODES)) != BT_OK)
		return rc;
	n = btnet_rt_closest_(&dht->rt, key, near, BT_K + 1);
	for (i = 0; i < n && added < BT_K; i++) {
		if (skip != NULL && id_eq(&near[i].id, skip))
			continue;
		addr_to_node(&near[i], &mn);
		if ((rc = btcore_msg_add_node(m, &mn)) != BT_OK)
			return rc;
		added++;
	}
	return BT_OK;
}

static int
add_token(struct btnet_dht *dht, struct btcore_msg *m,
    const struct btnet_dht_addr *to)
{
	uint8_t t[TOKEN_LEN];
	int rc;

	if ((rc = token_for(dht->secret, to, t)) != BT_OK)
		return rc;
	return btcore_msg_set_bin(m, BTCORE_MSG_F_TOKEN, t, TOKEN_LEN);
}

/* The write request @p m carries a valid token for @p from. */
static int
has_token(const struct btnet_dht *dht, const struct btcore_msg *m,
    const struct btnet_dht_addr *from)
{
	const uint8_t *p;
	size_t len;

	return btcore_msg_get_bin(m, BTCORE_MSG_F_TOKEN, &p, &len) == BT_OK &&
	    token_valid(dht, from, p, len);
}

/* A request; @p relayed as for handle_reply(). */
static int
handle_request(struct btnet_dht *dht, const struct btcore_msg *m,
    const struct btnet_dht_addr *from, const struct bt_id *from_id,
    int relayed)
{
	struct btcore_msg *r = NULL;
	enum btcore_msg_type t = btcore_msg_type(m);
	struct btnet_dht_addr contact = *from;
	struct bt_id key;
	struct bt_record rec;
	const uint8_t *p, *v;
	size_t len, vlen, n;
	int64_t i64;
	uint64_t now = now_ms(dht);
	int rc, ok;

	if ((rc = btcore_msg_new(&r, (enum btcore_msg_type)(t + 1),
	    btcore_msg_tid(m))) != BT_OK)
		return rc;
	switch (t) {
	case BTCORE_MSG_PING_REQ:
		break;
	case BTCORE_MSG_IAM:
		if ((rc = btcore_msg_get_bin(m, BTCORE_MSG_F_ID, &p, &len)) !=
		    BT_OK || memcmp(p, from_id->b, BT_ID_LEN) != 0) {
			rc = BT_EPROTO;	/* claims another id */
			goto out;
		}
		if (btcore_msg_get_int64(m, BTCORE_MSG_F_PORT, &i64) == BT_OK)
			contact.port = (uint16_t)i64;
		rc = btcore_msg_set_bin(r, BTCORE_MSG_F_ID, dht->rt.self.b,
		    BT_ID_LEN);
		if (rc == BT_OK)
			rc = btcore_msg_set_bin(r, BTCORE_MSG_F_IP, from->ip,
			    from->family == 4 ? 4 : 16);
		if (rc == BT_OK)
			rc = btcore_msg_set_int64(r, BTCORE_MSG_F_PORT,
			    from->port);
		break;
	case BTCORE_MSG_PEERS_REQ:
		rc = btcore_msg_get_bin(m, BTCORE_MSG_F_KEY, &p, &len);
		if (rc == BT_OK) {
			memcpy(key.b, p, BT_ID_LEN);
			rc = add_nodes(dht, r, &key, from_id);
		}
		if (rc == BT_OK)
			rc = add_token(dht, r, from);
		break;
	case BTCORE_MSG_REF_REQ:
		rc = btcore_msg_get_bin(m, BTCORE_MSG_F_KEY, &p, &len);
		if (rc != BT_OK)
			break;
		memcpy(key.b, p, BT_ID_LEN);
		if (dht->st.value_get(dht->st.ctx, &key, &v, &vlen) == BT_OK)
			rc = btcore_msg_set_bin(r, BTCORE_MSG_F_VALUE, v, vlen);
		else
			rc = add_nodes(dht, r, &key, from_id);
		if (rc == BT_OK)
			rc = add_token(dht, r, from);
		break;
	case BTCORE_MSG_SET_REQ:
	case BTCORE_MSG_BAG_ADD_REQ:
	case BTCORE_MSG_NS_SET_REQ:
		ok = has_token(dht, m, from);
		if (!ok) {
			rc = BT_EPROTO;	/* no valid token: no answer */
			goto out;
		}
		if (t == BTCORE_MSG_SET_REQ) {
			rc = btcore_msg_get_bin(m, BTCORE_MSG_F_VALUE, &v,
			    &vlen);
			if (rc == BT_OK)
				rc = btcore_id_hash(&key, v, vlen);
		} else if (t == BTCORE_MSG_BAG_ADD_REQ) {
			rc = btcore_msg_get_bin(m, BTCORE_MSG_F_KEY, &p, &len);
			if (rc == BT_OK) {
				memcpy(key.b, p, BT_ID_LEN);
				rc = btcore_msg_get_bin(m, BTCORE_MSG_F_VALUE,
				    &v, &vlen);
			}
		} else {
			rc = btcore_msg_get_bin(m, BTCORE_MSG_F_RECORD, &v,
			    &vlen);
			if (rc == BT_OK &&
			    btcore_record_decode(&rec, v, vlen) != BT_OK) {
				rc = BT_EPROTO;	/* bad signature or form */
				goto out;
			}
			if (rc == BT_OK)
				rc = btcore_record_target(&key, &rec.pub,
				    rec.key, rec.key_len);
		}
		if (rc != BT_OK)
			break;
		ok = near_enough(dht, &key);
		if (ok) {
			if (t == BTCORE_MSG_SET_REQ)
				ok = vlen <= BTNET_DHT_VALUE_MAX &&
				    dht->st.value_put(dht->st.ctx, &key, v,
				    vlen, from_id, now) == BT_OK;
			else if (t == BTCORE_MSG_BAG_ADD_REQ)
				ok = dht->st.bag_add(dht->st.ctx, &key, v,
				    from_id, now) == BT_OK;
			else
				ok = record_store(dht, &rec, v, vlen,
				    from_id) == BT_OK;
		}
		rc = btcore_msg_set_bool(r, BTCORE_MSG_F_STORED, ok);
		if (rc == BT_OK && !ok)
			rc = add_nodes(dht, r, &key, from_id);
		break;
	case BTCORE_MSG_POPULAR_REQ:
	case BTCORE_MSG_RECENT_REQ:
	case BTCORE_MSG_SAMPLE_REQ: {
		uint8_t (*vals)[32];

		rc = btcore_msg_get_bin(m, BTCORE_MSG_F_KEY, &p, &len);
		if (rc == BT_OK)
			rc = btcore_msg_get_int64(m, BTCORE_MSG_F_LIMIT, &i64);
		if (rc != BT_OK)
			break;
		memcpy(key.b, p, BT_ID_LEN);
		if ((vals = malloc((size_t)i64 * 32)) == NULL) {
			rc = BT_ENOMEM;
			break;
		}
		rc = dht->st.bag_query(dht->st.ctx,
		    t == BTCORE_MSG_POPULAR_REQ ? BTNET_DHT_BAG_POPULAR :
		    t == BTCORE_MSG_RECENT_REQ ? BTNET_DHT_BAG_RECENT :
		    BTNET_DHT_BAG_SAMPLE, &key, (size_t)i64, rnd64(dht), vals,
		    &n);
		if (rc == BT_OK)
			rc = btcore_msg_set_empty(r, BTCORE_MSG_F_VALUES);
		for (len = 0; rc == BT_OK && len < n; len++)
			rc = btcore_msg_add_bin(r, BTCORE_MSG_F_VALUES, vals[len],
			    32);
		free(vals);
		break;
	}
	case BTCORE_MSG_NS_REF_REQ: {
		struct bt_pubkey pub;

		rc = btcore_msg_get_bin(m, BTCORE_MSG_F_PUBKEY, &p, &len);
		if (rc != BT_OK)
			break;
		memcpy(pub.b, p, 32);
		rc = btcore_msg_get_bin(m, BTCORE_MSG_F_KEY, &p, &len);
		if (rc == BT_OK)
			rc = btcore_record_target(&key, &pub, p, len);
		if (rc != BT_OK)
			break;
		if (dht->st.record_get(dht->st.ctx, &key, &v, &vlen) == BT_OK)
			rc = btcore_msg_set_bin(r, BTCORE_MSG_F_RECORD, v, vlen);
		else
			rc = add_nodes(dht, r, &key, from_id);
		if (rc == BT_OK)
			rc = add_token(dht, r, from);
		break;
	}
	default:
		rc = BT_EPROTO;
		goto out;
	}
	if (rc != BT_OK)
		goto out;
	rc = send_msg(dht, r, from, from_id);
	dht->stats.requests++;
	/* a known node proves it is alive; an unknown one is pinged */
	if (relayed)
		;	/* not at this address: the table learns nothing */
	else if (btnet_rt_find_(&dht->rt, from_id) != NULL)
		(void)btnet_rt_seen_(&dht->rt, from_id, &contact, now, NULL);
	else if (btnet_rt_wants_(&dht->rt, from_id, &contact))
		send_ping(dht, &contact, from_id);
out:
	btcore_msg_free(r);
	return rc;
}

static void
send_error(struct btnet_dht *dht, int64_t tid, int code,
    const struct btnet_dht_addr *to, const struct bt_id *to_id)
{
	static const char text[] = "unsupported operation";
	struct btcore_msg *m = NULL;

	if (btcore_msg_new(&m, BTCORE_MSG_ERROR, tid) != BT_OK)
		return;
	if (btcore_msg_set_int64(m, BTCORE_MSG_F_CODE, code) == BT_OK &&
	    btcore_msg_set_str(m, BTCORE_MSG_F_TEXT, text,
	    sizeof(text) - 1) == BT_OK)
		(void)send_msg(dht, m, to, to_id);
	btcore_msg_free(m);
}

static int
input(struct btnet_dht *dht, const struct btnet_dht_addr *from,
    const struct bt_id *from_id, const uint8_t *msg, size_t len, int relayed)
{
	struct btcore_msg *m = NULL;
	int64_t tid;
	int reply, rc;

	if (dht == NULL || !addr_ok(from) || from_id == NULL || msg == NULL)
		return BT_EINVAL;
	if ((rc = btcore_msg_peek(msg, len, &tid, &reply)) != BT_OK)
		goto out;
	if (!reply && !rate_ok(dht, from, now_ms(dht))) {
		dht->stats.rate_limited++;
		rc = BT_EAGAIN;
		goto out;
	}
	if ((rc = btcore_msg_decode(&m, msg, len)) != BT_OK) {
		if (rc == BT_EUNSUPPORTED && !reply)
			send_error(dht, tid, BT_EUNSUPPORTED, from, from_id);
		goto out;
	}
	if (id_eq(from_id, &dht->rt.self)) {
		rc = BT_EPROTO;
		goto out;
	}
	if (btcore_msg_is_reply(m))
		rc = handle_reply(dht, m, from, from_id, relayed);
	else
		rc = handle_request(dht, m, from, from_id, relayed);
out:
	if (rc != BT_OK && rc != BT_EAGAIN)
		dht->stats.dropped++;
	btcore_msg_free(m);
	return rc;
}

int
btnet_dht_input(struct btnet_dht *dht, const struct btnet_dht_addr *from,
    const struct bt_id *from_id, const uint8_t *msg, size_t len)
{
	return input(dht, from, from_id, msg, len, 0);
}

int
btnet_dht_input_relayed_(struct btnet_dht *dht,
    const struct btnet_dht_addr *from, const struct bt_id *from_id,
    const uint8_t *msg, size_t len)
{
	return input(dht, from, from_id, msg, len, 1);
}

/* ---- timers ------------------------------------------------------------ */

static void
pending_timeout(struct btnet_dht *dht, struct pending *p)
{
	struct op *op = p->op;
	struct cand *c;

	dht->stats.timeouts++;
	if (p->has_id)
		(void)btnet_rt_failed_(&dht->rt, &p->to_id,
		    p->purpose == P_PING);
	if (op == NULL)
		return;
	switch (p->purpose) {
	case P_IAM:
		if (op->outstanding > 0 && --op->outstanding == 0) {
			lookup_seed(dht, op);
			lookup_step(dht, op);
		}
		break;
	case P_LOOKUP:
		if ((c = cand_find(op, &p->to_id)) != NULL &&
		    c->state == C_WAIT) {
			c->state = C_FAILED;
			op->inflight--;
			op->timeouts++;
			lookup_step(dht, op);
		}
		break;
	case P_WRITE:
	case P_QUERY:
		op->timeouts++;
		op->outstanding--;
		write_finish_check(dht, op);
		break;
	case P_PING:
		break;
	}
}

static int start_put(struct btnet_dht *, enum btnet_dht_op,
    const struct bt_id *, const uint8_t *, size_t, const uint8_t *,
    void (*)(void *, const struct btnet_dht_result *), void *, int);

static int
republish_one(void *arg, enum btnet_dht_item kind, const struct bt_id *id,
    const uint8_t *bytes, size_t len)
{
	struct btnet_dht *dht = arg;
	int rc;

	if (dht->nops >= BTNET_DHT_OPS_MAX / 2)
		return 1;	/* the rest at the next round */
	rc = start_put(dht, kind == BTNET_DHT_ITEM_VALUE ?
	    BTNET_DHT_OP_PUT_VALUE : BTNET_DHT_OP_RECORD_PUT, id, bytes, len,
	    NULL, NULL, NULL, 1);
	if (rc != BT_OK)
		return 1;
	dht->stats.republished++;
	return 0;
}

int
btnet_dht_tick(struct btnet_dht *dht)
{
	struct btnet_dht_result res;
	struct pending *p, *next;
	struct op *op;
	uint64_t now;
	int rc = BT_OK;

	if (dht == NULL)
		return BT_EINVAL;
	now = now_ms(dht);
	for (p = dht->pend; p != NULL; p = next) {
		next = p->next;
		if (p->deadline > now)
			continue;
		pending_unlink(dht, p);
		pending_timeout(dht, p);
		free(p);
		next = dht->pend;	/* the list may have changed */
	}
	if (now >= dht->secret_at + dht->cfg.token_ms) {
		memcpy(dht->prev_secret, dht->secret, 32);
		if (rnd(dht, dht->secret, 32) != BT_OK)
			rc = BT_ECRYPTO;
		dht->secret_at = now;
	}
	if (now >= dht->next_republish) {
		dht->next_republish = now + dht->cfg.republish_ms / 8;
		(void)dht->st.republish(dht->st.ctx,
		    now >= dht->cfg.republish_ms ?
		    now - dht->cfg.republish_ms + 1 : 0, now, republish_one,
		    dht);
	}
	if (now >= dht->next_expire) {
		dht->next_expire = now + dht->cfg.expire_ms / 8;
		if (now >= dht->cfg.expire_ms)
			dht->st.expire(dht->st.ctx, now - dht->cfg.expire_ms);
	}
	/* callbacks last: they may start operations */
	while ((op = dht->done) != NULL) {
		dht->done = op->next;
		if (dht->done == NULL)
			dht->done_tail = NULL;
		dht->nops--;
		if (!op->internal) {
			op_result(dht, op, &res);
			op->cb(op->arg, &res);
		}
		op_free(op);
	}
	return rc;
}

uint64_t
btnet_dht_next_deadline(const struct btnet_dht *dht)
{
	const struct pending *p;
	uint64_t t;

	if (dht == NULL)
		return UINT64_MAX;
	if (dht->done != NULL)
		return 0;
	t = dht->secret_at + dht->cfg.token_ms;
	if (dht->next_republish < t)
		t = dht->next_republish;
	if (dht->next_expire < t)
		t = dht->next_expire;
	for (p = dht->pend; p != NULL; p = p->next)
		if (p->deadline < t)
			t = p->deadline;
	return t;
}

/* ---- lifecycle --------------------------------------------------------- */

void
btnet_dht_config_init(struct btnet_dht_config *cfg)
{
	if (cfg == NULL)
		return;
	memset(cfg, 0, sizeof(*cfg));
	cfg->replication = BT_REPLICATION_DEFAULT;
	cfg->prefix_per_bucket = 2;
	cfg->prefix_per_table = 3;
	cfg->request_timeout_ms = BT_REQUEST_TIMEOUT_MS;
	cfg->token_ms = 300000;
	cfg->republish_ms = 3600000;
	cfg->expire_ms = 86400000;
	cfg->rate_per_s = 100;
	cfg->rate_burst = 400;
}

int
btnet_dht_new(struct btnet_dht **out, const struct btnet_dht_env *env,
    const struct btnet_dht_storage *storage, const struct bt_id *self,
    const struct btnet_dht_config *cfg)
{
	struct btnet_dht *dht = NULL;
	struct btnet_dht_config c;
	int rc;

	if (out != NULL)
		*out = NULL;
	if (out == NULL || env == NULL || env->send == NULL ||
	    storage == NULL || self == NULL)
		return BT_EINVAL;
	if (storage->value_put == NULL || storage->value_get == NULL ||
	    storage->bag_add == NULL || storage->bag_query == NULL ||
	    storage->record_put == NULL || storage->record_get == NULL ||
	    storage->republish == NULL || storage->expire == NULL)
		return BT_EINVAL;
	if (cfg != NULL)
		c = *cfg;
	else
		btnet_dht_config_init(&c);
	if (c.replication == 0 || c.replication > BT_REPLICATION_MAX)
		return BT_ERANGE;
	if (c.prefix_per_bucket == 0 || c.prefix_per_table == 0 ||
	    c.request_timeout_ms == 0 || c.token_ms == 0 ||
	    c.republish_ms == 0 || c.expire_ms == 0 || c.rate_per_s == 0 ||
	    c.rate_burst == 0)
		return BT_EINVAL;
	if ((dht = calloc(1, sizeof(*dht))) == NULL)
		return BT_ENOMEM;
	dht->env = *env;
	dht->st = *storage;
	dht->cfg = c;
	btnet_rt_init_(&dht->rt, self, c.prefix_per_bucket,
	    c.prefix_per_table);
	if ((rc = rnd(dht, dht->secret, 32)) != BT_OK)
		goto out;
	memcpy(dht->prev_secret, dht->secret, 32);
	dht->secret_at = now_ms(dht);
	dht->next_republish = dht->secret_at + c.republish_ms / 8;
	dht->next_expire = dht->secret_at + c.expire_ms / 8;
	*out = dht;
	dht = NULL;
out:
	btnet_dht_free(dht);
	return rc;
}

void
btnet_dht_free(struct btnet_dht *dht)
{
	struct btnet_dht_result res;
	struct pending *p;
	struct op *op;

	if (dht == NULL)
		return;
	while ((op = dht->ops) != NULL)
		op_finish(dht, op, BT_ECLOSED);
	while ((op = dht->done) != NULL) {
		dht->done = op->next;
		if (!op->internal) {
			op_result(dht, op, &res);
			op->cb(op->arg, &res);
		}
		op_free(op);
	}
	while ((p = dht->pend) != NULL) {
		dht->pend = p->next;
		free(p);
	}
	btnet_rt_free_(&dht->rt);
	btcore_wipe(dht->secret, sizeof(dht->secret));
	btcore_wipe(dht->prev_secret, sizeof(dht->prev_secret));
	free(dht);
}

/* ---- operations -------------------------------------------------------- */

int
btnet_dht_bootstrap(struct btnet_dht *dht, const struct btnet_dht_addr *addrs,
    size_t n, void (*cb)(void *arg, const struct btnet_dht_result *res),
    void *arg)
{
	struct btcore_msg *m = NULL;
	struct op *op = NULL;
	size_t i;
	int rc;

	if (dht == NULL || addrs == NULL || n == 0 || n > BOOT_ADDRS_MAX)
		return BT_EINVAL;
	for (i = 0; i < n; i++)
		if (!addr_ok(&addrs[i]))
			return BT_EINVAL;
	if ((rc = op_new(dht, BTNET_DHT_OP_BOOTSTRAP, &dht->rt.self, cb, arg,
	    0, &op)) != BT_OK)
		return rc;
	op->phase = PH_IAM;
	for (i = 0; i < n; i++) {
		if ((rc = req_new(dht, BTCORE_MSG_IAM, &m)) != BT_OK)
			break;
		rc = btcore_msg_set_bin(m, BTCORE_MSG_F_ID, dht->rt.self.b,
		    BT_ID_LEN);
		if (rc == BT_OK && dht->cfg.port != 0)
			rc = btcore_msg_set_int64(m, BTCORE_MSG_F_PORT,
			    dht->cfg.port);
		if (rc != BT_OK) {
			btcore_msg_free(m);
			break;
		}
		if (req_send(dht, m, &addrs[i], NULL, P_IAM, op) == BT_OK)
			op->outstanding++;
	}
	if (op->outstanding == 0) {
		lookup_seed(dht, op);
		lookup_step(dht, op);
	}
	return BT_OK;
}

int
btnet_dht_find_nodes(struct btnet_dht *dht, const struct bt_id *key,
    void (*cb)(void *arg, const struct btnet_dht_result *res), void *arg)
{
	struct op *op;
	int rc;

	if (dht == NULL)
		return BT_EINVAL;
	if ((rc = op_new(dht, BTNET_DHT_OP_FIND_NODES, key, cb, arg, 0,
	    &op)) != BT_OK)
		return rc;
	lookup_seed(dht, op);
	lookup_step(dht, op);
	return BT_OK;
}

/* Start a write: value (key = its hash), record encoding, or bag add. */
static int
start_put(struct btnet_dht *dht, enum btnet_dht_op kind,
    const struct bt_id *key, const uint8_t *data, size_t len,
    const uint8_t *bagval,
    void (*cb)(void *arg, const struct btnet_dht_result *res), void *arg,
    int internal)
{
	struct op *op;
	int rc;

	if ((rc = op_new(dht, kind, key, cb, arg, internal, &op)) != BT_OK)
		return rc;
	if (data != NULL) {
		if ((op->data = malloc(len ? len : 1)) == NULL) {
			op_unlink(dht, op);
			dht->nops--;
			op_free(op);
			return BT_ENOMEM;
		}
		if (len)
			memcpy(op->data, data, len);
		op->len = len;
	}
	if (bagval != NULL)
		memcpy(op->bagval, bagval, 32);
	lookup_seed(dht, op);
	lookup_step(dht, op);
	return BT_OK;
}

int
btnet_dht_put_value(struct btnet_dht *dht, const void *value, size_t len,
    void (*cb)(void *arg, const struct btnet_dht_result *res), void *arg)
{
	struct bt_id key;
	int rc;

	if (dht == NULL || (value == NULL && len != 0) || cb == NULL)
		return BT_EINVAL;
	if (len > BTNET_DHT_VALUE_MAX)
		return BT_ETOOBIG;
	if ((rc = btcore_id_hash(&key, value, len)) != BT_OK)
		return rc;
	return start_put(dht, BTNET_DHT_OP_PUT_VALUE, &key, value, len, NULL,
	    cb, arg, 0);
}

int
btnet_dht_get_value(struct btnet_dht *dht, const struct bt_id *key,
    void (*cb)(void *arg, const struct btnet_dht_result *res), void *arg)
{
	struct op *op;
	const uint8_t *v;
	size_t len;
	int rc;

	if (dht == NULL)
		return BT_EINVAL;
	if ((rc = op_new(dht, BTNET_DHT_OP_GET_VALUE, key, cb, arg, 0,
	    &op)) != BT_OK)
		return rc;
	op->req = BTCORE_MSG_REF_REQ;
	if (dht->st.value_get(dht->st.ctx, key, &v, &len) == BT_OK) {
		if ((op->value = malloc(len ? len : 1)) != NULL) {
			if (len)
				memcpy(op->value, v, len);
			op->value_len = len;
			op_finish(dht, op, BT_OK);
			return BT_OK;
		}
	}
	lookup_seed(dht, op);
	lookup_step(dht, op);
	return BT_OK;
}

int
btnet_dht_bag_add(struct btnet_dht *dht, const struct bt_id *key,
    const uint8_t value[32],
    void (*cb)(void *arg, const struct btnet_dht_result *res), void *arg)
{
	if (dht == NULL || key == NULL || value == NULL || cb == NULL)
		return BT_EINVAL;
	return start_put(dht, BTNET_DHT_OP_BAG_ADD, key, NULL, 0, value, cb,
	    arg, 0);
}

int
btnet_dht_bag_query(struct btnet_dht *dht, enum btnet_dht_bag kind,
    const struct bt_id *key, size_t limit, const struct btnet_dht_node *at,
    void (*cb)(void *arg, const struct btnet_dht_result *res), void *arg)
{
	struct op *op;
	int rc;

	if (dht == NULL || limit == 0 || limit > BTCORE_MSG_BAG_MAX ||
	    (kind != BTNET_DHT_BAG_POPULAR && kind != BTNET_DHT_BAG_RECENT &&
	    kind != BTNET_DHT_BAG_SAMPLE) || (at != NULL && !addr_ok(&at->addr)))
		return BT_EINVAL;
	if ((rc = op_new(dht, BTNET_DHT_OP_BAG_QUERY, key, cb, arg, 0,
	    &op)) != BT_OK)
		return rc;
	op->bagkind = kind;
	op->limit = limit;
	if ((op->values = malloc(limit * 32)) == NULL) {
		op_unlink(dht, op);
		dht->nops--;
		op_free(op);
		return BT_ENOMEM;
	}
	if (at != NULL) {
		op->phase = PH_QUERY;
		if (query_send(dht, op, at) == BT_OK)
			op->outstanding++;
		write_finish_check(dht, op);
		return BT_OK;
	}
	lookup_seed(dht, op);
	lookup_step(dht, op);
	return BT_OK;
}

int
btnet_dht_bag_local(struct btnet_dht *dht, enum btnet_dht_bag kind,
    const struct bt_id *key, size_t limit, uint8_t (*out)[32],
    size_t *count)
{
	if (count != NULL)
		*count = 0;
	if (dht == NULL || key == NULL || out == NULL || count == NULL ||
	    limit == 0)
		return BT_EINVAL;
	return dht->st.bag_query(dht->st.ctx, kind, key, limit, rnd64(dht),
	    out, count);
}

int
btnet_dht_record_put(struct btnet_dht *dht, const struct bt_record *rec,
    void (*cb)(void *arg, const struct btnet_dht_result *res), void *arg)
{
	uint8_t *enc = NULL;
	struct bt_id target;
	size_t len = 0;
	int rc;

	if (dht == NULL || rec == NULL || cb == NULL)
		return BT_EINVAL;
	if ((rc = btcore_record_verify(rec)) != BT_OK)
		return rc;
	if ((rc = btcore_record_target(&target, &rec->pub, rec->key,
	    rec->key_len)) != BT_OK)
		return rc;
	if ((rc = btcore_record_encode(rec, NULL, 0, &len)) != BT_ERANGE &&
	    rc != BT_OK)
		return rc;
	if ((enc = malloc(len)) == NULL)
		return BT_ENOMEM;
	if ((rc = btcore_record_encode(rec, enc, len, &len)) == BT_OK)
		rc = start_put(dht, BTNET_DHT_OP_RECORD_PUT, &target, enc, len,
		    NULL, cb, arg, 0);
	free(enc);
	return rc;
}

int
btnet_dht_record_get(struct btnet_dht *dht, const struct bt_pubkey *pub,
    const void *key, size_t key_len,
    void (*cb)(void *arg, const struct btnet_dht_result *res), void *arg)
{
	struct bt_id target;
	const uint8_t *enc;
	struct op *op;
	size_t len;
	int rc;

	if (dht == NULL || pub == NULL || key == NULL)
		return BT_EINVAL;
	if ((rc = btcore_record_target(&target, pub, key, key_len)) != BT_OK)
		return rc;
	if ((rc = op_new(dht, BTNET_DHT_OP_RECORD_GET, &target, cb, arg, 0,
	    &op)) != BT_OK)
		return rc;
	op->req = BTCORE_MSG_NS_REF_REQ;
	op->pub = *pub;
	memcpy(op->rkey, key, key_len);
	op->rkey_len = key_len;
	if (dht->st.record_get(dht->st.ctx, &target, &enc, &len) == BT_OK &&
	    take_record(op, enc, len) == BT_ENOMEM) {
		op_unlink(dht, op);
		dht->nops--;
		op_free(op);
		return BT_ENOMEM;
	}
	lookup_seed(dht, op);
	lookup_step(dht, op);
	return BT_OK;
}

/* ---- introspection ----------------------------------------------------- */

void
btnet_dht_stats(const struct btnet_dht *dht, struct btnet_dht_stats *out)
{
	const struct op *op;

	if (out == NULL)
		return;
	memset(out, 0, sizeof(*out));
	if (dht == NULL)
		return;
	*out = dht->stats;
	out->table_size = dht->rt.count;
	out->pending = dht->npend;
	out->ops = dht->nops;
	out->memory = sizeof(*dht) +
	    dht->rt.nbuckets * sizeof(struct btnet_rt_bucket) +
	    dht->npend * sizeof(struct pending);
	for (op = dht->ops; op != NULL; op = op->next)
		out->memory += sizeof(*op) + op->len + op->value_len +
		    (op->values != NULL ? op->limit * 32 : 0);
	for (op = dht->done; op != NULL; op = op->next)
		out->memory += sizeof(*op) + op->len + op->value_len +
		    (op->values != NULL ? op->limit * 32 : 0);
}

size_t
btnet_dht_closest(const struct btnet_dht *dht, const struct bt_id *key,
    struct btnet_dht_node *out, size_t max)
{
	if (dht == NULL || key == NULL || out == NULL)
		return 0;
	return btnet_rt_closest_(&dht->rt, key, out, max);
}
