/*
 * admit.c - admission of peers (bt/net.h "Admission"): the "admit"
 * exchange of statements at the start of each connection, the optional
 * "admit-challenge" round, holding what a peer sends until it is
 * admitted, refusals each way, a cache of admitted peer ids and a short
 * one of refused peer ids.
 *
 * A connection under admission has nc->adm set and is not established:
 * net.c hands every message it receives to btnet_admit_input_(), and
 * queues (does not send) what the node has for it.  Once admitted, the
 * connection is made established by btnet_conn_ready_() and the held
 * messages are processed in order.  Every node answers "admit" and
 * "admit-challenge" requests, also on established connections and when
 * it requires no admission itself.
 */
#include <bt/msg.h>
#include <bt/net.h>
#include <bt/neterror.h>

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "net-internal.h"

/* Admitted peer ids remembered for cache_ms. */
#define ADMIT_CACHE_MAX		256
/* Messages held per connection until its peer is admitted. */
#define ADMIT_HOLD_MAX		NET_QUEUE_MAX
#define ADMIT_HOLD_BYTES	NET_QUEUE_BYTES

#define STAGE_STATEMENT		0	/* waiting for the peer's statement */
#define STAGE_ANSWER		1	/* waiting for its challenge answer */

struct net_admit {
	struct bt_id id;
	struct bt_pubkey key;
	uint64_t since;
	int stage;
	int64_t chal_tid;
	uint8_t secret[32];
	int chal_reason;		/* reported for a wrong answer */
	struct net_out *held, *heldtail;
	size_t nheld, heldbytes;
};

struct admit_cached {
	struct bt_id id;
	uint64_t until;
};

/* A refusal by the policy, repeated without judging until @p until. */
struct admit_refused {
	struct bt_id id;
	uint64_t until;
	uint64_t seq;			/* the oldest makes room */
	int reason;
};

struct net_admit_ctx {
	uint8_t *stmt;
	size_t stmt_len;
	struct admit_cached cache[ADMIT_CACHE_MAX];
	size_t ncache;
	struct admit_refused refused[BTNET_ADMIT_REFUSED_MAX];
	size_t nrefused;
	uint64_t refused_seq;
};

/* ---- the cache ------------------------------------------------------- */

static int
is_admitted(struct btnet *net, const struct bt_id *id)
{
	struct net_admit_ctx *ctx = net->admit;
	uint64_t now = btnet_now_ms_(net);
	size_t i;

	/* every connection attached to a peer passed admission */
	if (btnet_peer_find_(net, id) != NULL)
		return 1;
	for (i = 0; i < ctx->ncache; i++)
		if (memcmp(ctx->cache[i].id.b, id->b, BT_ID_LEN) == 0)
			return ctx->cache[i].until > now;
	return 0;
}

static void
remember(struct btnet *net, const struct bt_id *id)
{
	struct net_admit_ctx *ctx = net->admit;
	uint64_t now = btnet_now_ms_(net);
	size_t i, slot = 0;

	if (net->cfg.admission.cache_ms == 0)
		return;
	for (i = 0; i < ctx->ncache; i++) {
		if (memcmp(ctx->cache[i].id.b, id->b, BT_ID_LEN) == 0) {
			slot = i;
			goto set;
		}
		if (ctx->cache[i].until < ctx->cache[slot].until)
			slot = i;
	}
	/* a free entry, else the one expiring first */
	if (ctx->ncache < ADMIT_CACHE_MAX)
		slot = ctx->ncache++;
set:
	ctx->cache[slot].id = *id;
	ctx->cache[slot].until = now + net->cfg.admission.cache_ms;
}

/* ---- the refusals ----------------------------------------------------- */

static struct admit_refused *
refused_find(struct net_admit_ctx *ctx, const struct bt_id *id)
{
	size_t i;

	for (i = 0; i < ctx->nrefused; i++)
		if (memcmp(ctx->refused[i].id.b, id->b, BT_ID_LEN) == 0)
			return &ctx->refused[i];
	return NULL;
}

int
btnet_admit_refused_get_(struct btnet *net, const struct bt_id *id,
    int *reason)
{
	struct admit_refused *r = refused_find(net->admit, id);

	if (r == NULL || r->until <= btnet_now_ms_(net))
		return 0;
	*reason = r->reason;
	return 1;
}

void
btnet_admit_refused_put_(struct btnet *net, const struct bt_id *id,
    int reason)
{
	struct net_admit_ctx *ctx = net->admit;
	uint64_t now = btnet_now_ms_(net);
	struct admit_refused *r;
	size_t i;

	if (net->cfg.admission.refused_ms == 0)
		return;
	if ((r = refused_find(ctx, id)) == NULL) {
		if (ctx->nrefused < BTNET_ADMIT_REFUSED_MAX) {
			r = &ctx->refused[ctx->nrefused++];
		} else {
			/* an expired entry, else the oldest */
			r = &ctx->refused[0];
			for (i = 1; i < ctx->nrefused && r->until > now; i++)
				if (ctx->refused[i].until <= now ||
				    ctx->refused[i].seq < r->seq)
					r = &ctx->refused[i];
		}
	}
	r->id = *id;
	r->until = now + net->cfg.admission.refused_ms;
	r->seq = ++ctx->refused_seq;
	r->reason = reason;
}

/* ---- sending ---------------------------------------------------------- */

static int
send_msg(struct btnet *net, struct net_conn *nc, const struct btcore_msg *m)
{
	uint8_t *buf = NULL;
	size_t len;
	int rc;

	(void)net;
	if ((rc = btcore_msg_encode(m, &buf, &len)) != BT_OK)
		return rc;
	rc = btnet_conn_send(nc->c, buf, len);
	btcore_msg_bytes_free(buf);
	return rc;
}

/* A message of @p type with one "value" field. */
static int
send_value(struct btnet *net, struct net_conn *nc, enum btcore_msg_type type,
    int64_t tid, const uint8_t *value, size_t len)
{
	struct btcore_msg *m = NULL;
	int rc;

	if ((rc = btcore_msg_new(&m, type, tid)) != BT_OK)
		return rc;
	if ((rc = btcore_msg_set_bin(m, BTCORE_MSG_F_VALUE, value, len)) ==
	    BT_OK)
		rc = send_msg(net, nc, m);
	btcore_msg_free(m);
	return rc;
}

static int
send_error(struct btnet *net, struct net_conn *nc, int64_t tid, int code,
    const char *text)
{
	struct btcore_msg *m = NULL;
	int rc;

	if ((rc = btcore_msg_new(&m, BTCORE_MSG_ERROR, tid)) != BT_OK)
		return rc;
	if ((rc = btcore_msg_set_int64(m, BTCORE_MSG_F_CODE, code)) == BT_OK &&
	    (rc = btcore_msg_set_str(m, BTCORE_MSG_F_TEXT, text,
	    strlen(text))) == BT_OK)
		rc = send_msg(net, nc, m);
	btcore_msg_free(m);
	return rc;
}

/* ---- decisions -------------------------------------------------------- */

static void
report(struct btnet *net, const struct bt_id *id, int event, int reason)
{
	const struct btnet_admission *a = &net->cfg.admission;

	if (a->event != NULL)
		a->event(a->arg, id, event, reason);
}

static void
held_free(struct net_admit *adm)
{
	struct net_out *o;

	while ((o = adm->held) != NULL) {
		adm->held = o->next;
		free(o);
	}
	adm->heldtail = NULL;
	adm->nheld = adm->heldbytes = 0;
}

/* Refuse the peer of @p nc for @p reason: tell it, report, drop; with
 * @p keep (a decision of the policy), remember the refusal. */
static void
refuse(struct btnet *net, struct net_conn *nc, int reason, int keep)
{
	struct bt_id id = nc->adm->id;

	if (reason >= 0)
		reason = BTNET_EADMISSION;
	if (keep)
		btnet_admit_refused_put_(net, &id, reason);
	/* the answer to its request, else to ours: it knows either id */
	if (send_error(net, nc, nc->adm_has_peer ? nc->adm_peer_tid :
	    nc->adm_own_tid, reason, "admission refused") != BT_OK)
		net->stats.dropped++;
	report(net, &id, BTNET_ADMIT_REFUSED, reason);
	btnet_conn_drop_(net, nc, BTNET_EADMISSION);
}

/* 1 while @p nc (on @p c) is still one of the node's connections. */
static int
alive(const struct btnet *net, const struct net_conn *nc,
    const struct btnet_conn *c)
{
	const struct net_conn *it;

	for (it = net->conns; it != NULL; it = it->next)
		if (it == nc && it->c == c)
			return 1;
	return 0;
}

/* The peer of @p nc is admitted: set the connection up, then process
 * what it sent meanwhile.  Runs inside the connection's callback, so
 * @p c stays valid throughout even when the connection is closed. */
static void
admitted(struct btnet *net, struct net_conn *nc)
{
	struct net_admit *adm = nc->adm;
	struct btnet_conn *c = nc->c;
	struct net_out *held = adm->held, *o;
	struct bt_id id = adm->id;
	struct bt_pubkey key = adm->key;

	adm->held = adm->heldtail = NULL;
	btnet_admit_conn_free_(nc);
	remember(net, &id);
	report(net, &id, BTNET_ADMIT_ADMITTED, 0);
	if (btnet_conn_ready_(net, nc, &id, &key) != BT_OK)
		goto out;
	while ((o = held) != NULL) {
		if (!alive(net, nc, c))
			break;
		held = o->next;
		btnet_conn_input_(c, o->data, o->len, net);
		free(o);
	}
out:
	while ((o = held) != NULL) {
		held = o->next;
		free(o);
	}
}

/* Judge the statement the peer of @p nc sent. */
static void
judge(struct btnet *net, struct net_conn *nc, const uint8_t *stmt,
    size_t len)
{
	const struct btnet_admission *a = &net->cfg.admission;
	struct net_admit *adm = nc->adm;
	uint8_t *chal = NULL;
	size_t clen = 0;
	int reason = BTNET_EADMISSION, rc;

	/* refused a moment ago: again, without judging */
	if (btnet_admit_refused_get_(net, &adm->id, &reason)) {
		refuse(net, nc, reason, 0);
		return;
	}
	if (a->admit(a->arg, &adm->id, &adm->key, stmt, len, &reason) != 1) {
		refuse(net, nc, reason, 1);
		return;
	}
	if (a->challenge == NULL) {
		admitted(net, nc);
		return;
	}
	if ((chal = malloc(BTCORE_MSG_ADMIT_MAX)) == NULL) {
		refuse(net, nc, BT_ENOMEM, 0);
		return;
	}
	reason = BTNET_EADMISSION;
	if (a->challenge(a->arg, &adm->id, stmt, len, chal,
	    BTCORE_MSG_ADMIT_MAX, &clen, adm->secret, &reason) != 1) {
		refuse(net, nc, reason, 1);
		goto out;
	}
	if (clen == 0 || clen > BTCORE_MSG_ADMIT_MAX) {
		refuse(net, nc, BT_ERANGE, 0);
		goto out;
	}
	adm->chal_reason = reason < 0 ? reason : BTNET_EADMISSION;
	adm->chal_tid = btnet_tid_(net);
	adm->stage = STAGE_ANSWER;
	adm->since = btnet_now_ms_(net);
	rc = send_value(net, nc, BTCORE_MSG_ADMIT_CHALLENGE_REQ, adm->chal_tid,
	    chal, clen);
	if (rc != BT_OK)
		refuse(net, nc, rc, 0);
out:
	free(chal);
}

/* ---- answering (every node) --------------------------------------------- */

static void
answer_admit(struct btnet *net, struct net_conn *nc,
    const struct btcore_msg *m)
{
	struct net_admit_ctx *ctx = net->admit;

	nc->adm_peer_tid = btcore_msg_tid(m);
	nc->adm_has_peer = 1;
	if (send_value(net, nc, BTCORE_MSG_ADMIT_REP, nc->adm_peer_tid,
	    ctx->stmt, ctx->stmt_len) != BT_OK)
		net->stats.dropped++;
}

static void
answer_challenge(struct btnet *net, struct net_conn *nc,
    const struct bt_id *from, const struct btcore_msg *m)
{
	const struct btnet_admission *a = &net->cfg.admission;
	const uint8_t *chal;
	uint8_t secret[32];
	size_t len;
	int rc;

	memset(secret, 0, sizeof(secret));
	if (a->answer == NULL)
		rc = BT_EUNSUPPORTED;
	else if ((rc = btcore_msg_get_bin(m, BTCORE_MSG_F_VALUE, &chal,
	    &len)) == BT_OK)
		rc = a->answer(a->arg, from, chal, len, secret);
	if (rc == BT_OK)
		rc = send_value(net, nc, BTCORE_MSG_ADMIT_CHALLENGE_REP,
		    btcore_msg_tid(m), secret, sizeof(secret));
	else
		rc = send_error(net, nc, btcore_msg_tid(m), rc < 0 ? rc :
		    BTNET_EADMISSION, "cannot answer the admission challenge");
	if (rc != BT_OK)
		net->stats.dropped++;
	OPENSSL_cleanse(secret, sizeof(secret));
}

/* The peer refused us with the "error" reply @p m: report and drop. */
static void
refused_by(struct btnet *net, struct net_conn *nc, const struct bt_id *from,
    const struct btcore_msg *m)
{
	struct bt_id id = *from;
	int64_t code = BTNET_EADMISSION;

	if (btcore_msg_get_int64(m, BTCORE_MSG_F_CODE, &code) != BT_OK ||
	    code >= 0)
		code = BTNET_EADMISSION;
	report(net, &id, BTNET_ADMIT_REFUSED_BY, (int)code);
	btnet_conn_drop_(net, nc, BTNET_EADMISSION);
}

static int
is_refusal(const struct net_conn *nc, const struct btcore_msg *m)
{
	int64_t tid = btcore_msg_tid(m);

	return (nc->adm_has_own && tid == nc->adm_own_tid) ||
	    (nc->adm_has_peer && tid == nc->adm_peer_tid);
}

/* ---- established connections ----------------------------------------- */

static int
on_admit(struct btnet *net, void *arg, struct net_conn *nc,
    const struct btcore_msg *m, const uint8_t *raw, size_t len)
{
	(void)arg;
	(void)raw;
	(void)len;
	/* late replies (the peer was admitted from its request) are
	   ignored */
	if (btcore_msg_type(m) == BTCORE_MSG_ADMIT_REQ)
		answer_admit(net, nc, m);
	return BT_OK;
}

static int
on_challenge(struct btnet *net, void *arg, struct net_conn *nc,
    const struct btcore_msg *m, const uint8_t *raw, size_t len)
{
	(void)arg;
	(void)raw;
	(void)len;
	if (btcore_msg_type(m) == BTCORE_MSG_ADMIT_CHALLENGE_REQ)
		answer_challenge(net, nc, &nc->peer->id, m);
	return BT_OK;
}

int
btnet_admit_refusal_(struct btnet *net, struct net_conn *nc,
    const struct btcore_msg *m)
{
	if (nc->peer == NULL || !is_refusal(nc, m))
		return 0;
	refused_by(net, nc, &nc->peer->id, m);
	return 1;
}

/* ---- connections under admission ------------------------------------- */

int
btnet_admit_begin_(struct btnet *net, struct net_conn *nc,
    const struct bt_id *id, const struct bt_pubkey *key)
{
	struct net_admit_ctx *ctx = net->admit;
	struct net_admit *adm;
	int rc;

	if (net->cfg.admission.admit == NULL || is_admitted(net, id))
		return 0;
	if ((adm = calloc(1, sizeof(*adm))) == NULL)
		return BT_ENOMEM;
	adm->id = *id;
	adm->key = *key;
	adm->since = btnet_now_ms_(net);
	adm->stage = STAGE_STATEMENT;
	nc->adm = adm;
	nc->adm_own_tid = btnet_tid_(net);
	nc->adm_has_own = 1;
	rc = send_value(net, nc, BTCORE_MSG_ADMIT_REQ, nc->adm_own_tid,
	    ctx->stmt, ctx->stmt_len);
	if (rc != BT_OK)
		return rc;	/* the caller closes; nc_free releases adm */
	return 1;
}

/* Keep a message the unadmitted peer sent; 0 when over the limits. */
static int
hold(struct net_admit *adm, const uint8_t *msg, size_t len)
{
	struct net_out *o;

	if (adm->nheld >= ADMIT_HOLD_MAX ||
	    adm->heldbytes + len > ADMIT_HOLD_BYTES)
		return 0;
	if ((o = malloc(sizeof(*o) + len)) == NULL)
		return 0;
	o->next = NULL;
	o->len = len;
	memcpy(o->data, msg, len);
	if (adm->heldtail != NULL)
		adm->heldtail->next = o;
	else
		adm->held = o;
	adm->heldtail = o;
	adm->nheld++;
	adm->heldbytes += len;
	return 1;
}

void
btnet_admit_input_(struct btnet *net, struct net_conn *nc,
    const uint8_t *msg, size_t len)
{
	struct net_admit *adm = nc->adm;
	struct btcore_msg *m = NULL;
	const uint8_t *v = NULL;
	size_t vlen = 0;
	int64_t tid;

	nc->last_used = btnet_now_ms_(net);
	if (len == 0)
		return;		/* keepalive */
	if (btcore_msg_decode(&m, msg, len) != BT_OK)
		goto keep;
	tid = btcore_msg_tid(m);
	switch (btcore_msg_type(m)) {
	case BTCORE_MSG_ADMIT_REQ:
		answer_admit(net, nc, m);
		if (adm->stage == STAGE_STATEMENT &&
		    btcore_msg_get_bin(m, BTCORE_MSG_F_VALUE, &v, &vlen) ==
		    BT_OK)
			judge(net, nc, v, vlen);
		break;
	case BTCORE_MSG_ADMIT_REP:
		if (adm->stage == STAGE_STATEMENT && tid == nc->adm_own_tid &&
		    btcore_msg_get_bin(m, BTCORE_MSG_F_VALUE, &v, &vlen) ==
		    BT_OK)
			judge(net, nc, v, vlen);
		break;
	case BTCORE_MSG_ADMIT_CHALLENGE_REQ:
		answer_challenge(net, nc, &adm->id, m);
		break;
	case BTCORE_MSG_ADMIT_CHALLENGE_REP:
		if (adm->stage != STAGE_ANSWER || tid != adm->chal_tid)
			break;
		if (btcore_msg_get_bin(m, BTCORE_MSG_F_VALUE, &v, &vlen) ==
		    BT_OK && vlen == sizeof(adm->secret) &&
		    CRYPTO_memcmp(v, adm->secret, vlen) == 0)
			admitted(net, nc);
		else
			refuse(net, nc, adm->chal_reason, 1);
		break;
	case BTCORE_MSG_ERROR:
		if (is_refusal(nc, m))
			refused_by(net, nc, &adm->id, m);
		else if (adm->stage == STAGE_ANSWER && tid == adm->chal_tid)
			refuse(net, nc, adm->chal_reason, 1);
		else
			goto keep;
		break;
	default:
		goto keep;
	}
	goto out;
keep:
	/* everything else waits for the peer's admission */
	if (!hold(adm, msg, len))
		refuse(net, nc, BT_EAGAIN, 0);
out:
	btcore_msg_free(m);
}

void
btnet_admit_tick_(struct btnet *net, struct net_conn *nc, uint64_t now)
{
	if (nc->adm != NULL &&
	    now - nc->adm->since >= net->cfg.handshake_timeout_ms)
		refuse(net, nc, BT_ETIMEDOUT, 0);
}

void
btnet_admit_conn_free_(struct net_conn *nc)
{
	if (nc->adm == NULL)
		return;
	held_free(nc->adm);
	OPENSSL_cleanse(nc->adm, sizeof(*nc->adm));
	free(nc->adm);
	nc->adm = NULL;
}

/* ---- set-up ------------------------------------------------------------ */

int
btnet_admit_init_(struct btnet *net)
{
	struct btnet_admission *a = &net->cfg.admission;
	struct net_admit_ctx *ctx;
	int rc;

	if ((ctx = calloc(1, sizeof(*ctx))) == NULL)
		return BT_ENOMEM;
	net->admit = ctx;
	if (a->stmt_len > 0) {
		if ((ctx->stmt = malloc(a->stmt_len)) == NULL)
			return BT_ENOMEM;
		memcpy(ctx->stmt, a->stmt, a->stmt_len);
		ctx->stmt_len = a->stmt_len;
	}
	/* the caller's buffer is borrowed for btnet_open() only */
	a->stmt = ctx->stmt;
	if ((rc = btnet_op_handle_(net, BTCORE_MSG_ADMIT_REQ, on_admit, NULL))
	    != BT_OK ||
	    (rc = btnet_op_handle_(net, BTCORE_MSG_ADMIT_REP, on_admit, NULL))
	    != BT_OK ||
	    (rc = btnet_op_handle_(net, BTCORE_MSG_ADMIT_CHALLENGE_REQ,
	    on_challenge, NULL)) != BT_OK ||
	    (rc = btnet_op_handle_(net, BTCORE_MSG_ADMIT_CHALLENGE_REP,
	    on_challenge, NULL)) != BT_OK)
		return rc;
	return BT_OK;
}

void
btnet_admit_close_(struct btnet *net)
{
	if (net == NULL || net->admit == NULL)
		return;
	free(net->admit->stmt);
	free(net->admit);
	net->admit = NULL;
	net->cfg.admission.stmt = NULL;
}
