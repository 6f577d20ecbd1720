/*
 * relay.c - relayed connections (bt/relay.h): the relay's registrations
 * and circuits, the target's registrations and incoming circuits, the
 * caller's routes (a loopback listener per route), and the pumps that
 * move a TCP stream's bytes in "relay-data" messages.
 */
#include <bt/hash.h>
#include <bt/msg.h>
#include <bt/net.h>
#include <bt/relay.h>

#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "net-internal.h"

#define RL_CHUNK	16384		/* bytes per relay-data we send */
#define RL_OUT_MAX	(4u * 1024 * 1024)	/* pump output queued */
#define RL_LOCAL_MAX	64		/* our circuit ends at once */
#define RL_REREGISTER_MS	20000
#define RL_TICK_MS	1000
#define RL_DRAIN_MS	5000		/* to deliver a closed circuit's rest */

/* At the relay: one circuit between a and b. */
struct rl_circ {
	struct rl_circ *next;
	int64_t cid;
	struct bt_id a, b;
	uint64_t tokens, refilled;
};

struct rl_reg {				/* at the relay */
	struct bt_id id;
};

struct rl_mine {			/* at a target: a relay we use */
	struct bt_id relay;
	int accepted, busy;
	uint64_t next;
	btnet_relay_cb cb;		/* the first outcome, once */
	void *arg;
};

struct rl_route {			/* at a caller */
	struct rl_route *next;
	struct btnet *net;
	struct bt_id target, relay;
	struct evconnlistener *lis;
	struct btnet_dht_addr addr;
};

/* One end of a circuit here: a pump between a TCP socket and a relay. */
struct rl_local {
	struct rl_local *next;
	struct btnet *net;
	struct bt_id relay;
	int64_t cid;			/* 0 until the relay numbered it */
	struct bufferevent *bev;
	struct bt_id target;		/* a caller's end: the route's */
	int caller;
	int draining;			/* the circuit ended: delivering */
	/* a target's end: the local address of its socket, which our
	   listener sees as the remote address of the relayed connection */
	struct btnet_dht_addr src;
	int has_src;
};

struct net_relay {
	struct btnet *net;
	int serving;
	struct btnet_relay_limits lim;
	struct rl_reg *regs;		/* lim.registered slots */
	size_t nregs;
	struct rl_circ *circs;
	size_t ncircs;
	int64_t next_cid;
	struct rl_mine mine[BTNET_RELAY_REGISTER_MAX];
	size_t nmine;
	struct rl_route *routes;
	size_t nroutes;
	struct rl_local *locals;
	size_t nlocals;
	struct event *tick;
	void (*tap)(void *arg, const uint8_t *data, size_t len);
	void *tap_arg;
	uint64_t forwarded, refused;
};

static int
id_eq(const struct bt_id *a, const struct bt_id *b)
{
	return memcmp(a->b, b->b, BT_ID_LEN) == 0;
}

static int
send_cid(struct btnet *net, const struct bt_id *to, enum btcore_msg_type t,
    int64_t cid, const uint8_t *data, size_t len)
{
	struct btcore_msg *m = NULL;
	int rc;

	if ((rc = btcore_msg_new(&m, t, btnet_tid_(net))) != BT_OK)
		return rc;
	rc = btcore_msg_set_int64(m, BTCORE_MSG_F_CIRCUIT, cid);
	if (rc == BT_OK && data != NULL)
		rc = btcore_msg_set_bin(m, BTCORE_MSG_F_VALUE, data, len);
	if (rc == BT_OK)
		rc = btnet_send_msg_(net, to, m);
	btcore_msg_free(m);
	return rc;
}

/* ---- the relay: circuits ---------------------------------------------- */

static struct rl_reg *
reg_find(struct net_relay *rl, const struct bt_id *id)
{
	size_t i;

	for (i = 0; i < rl->nregs; i++)
		if (id_eq(&rl->regs[i].id, id))
			return &rl->regs[i];
	return NULL;
}

static size_t
circs_of(const struct net_relay *rl, const struct bt_id *id)
{
	const struct rl_circ *c;
	size_t n = 0;

	for (c = rl->circs; c != NULL; c = c->next)
		n += id_eq(&c->a, id) || id_eq(&c->b, id);
	return n;
}

/* Close circuit *cp, telling the ends other than @p quiet. */
static void
circ_close(struct btnet *net, struct rl_circ **cp, const struct bt_id *quiet)
{
	struct net_relay *rl = net->relay;
	struct rl_circ *c = *cp;

	if (!net->closing) {
		if (quiet == NULL || !id_eq(quiet, &c->a))
			(void)send_cid(net, &c->a, BTCORE_MSG_RELAY_CLOSE,
			    c->cid, NULL, 0);
		if (quiet == NULL || !id_eq(quiet, &c->b))
			(void)send_cid(net, &c->b, BTCORE_MSG_RELAY_CLOSE,
			    c->cid, NULL, 0);
	}
	*cp = c->next;
	rl->ncircs--;
	free(c);
}

static struct rl_circ **
circ_find(struct net_relay *rl, int64_t cid, const struct bt_id *party)
{
	struct rl_circ **cp;

	for (cp = &rl->circs; *cp != NULL; cp = &(*cp)->next)
		if ((*cp)->cid == cid && (id_eq(&(*cp)->a, party) ||
		    id_eq(&(*cp)->b, party)))
			return cp;
	return NULL;
}

static int
reply_bool(struct btnet *net, const struct bt_id *to,
    enum btcore_msg_type t, int64_t tid, int ok)
{
	struct btcore_msg *m = NULL;
	int rc;

	if ((rc = btcore_msg_new(&m, t, tid)) != BT_OK)
		return rc;
	if ((rc = btcore_msg_set_bool(m, BTCORE_MSG_F_STORED, ok)) == BT_OK)
		rc = btnet_send_msg_(net, to, m);
	btcore_msg_free(m);
	return rc;
}

static int
reply_error(struct btnet *net, const struct bt_id *to, int64_t tid, int code,
    const char *text)
{
	struct btcore_msg *m = NULL;
	int rc;

	if ((rc = btcore_msg_new(&m, BTCORE_MSG_ERROR, tid)) != BT_OK)
		return rc;
	if ((rc = btcore_msg_set_int64(m, BTCORE_MSG_F_CODE, code)) == BT_OK &&
	    (rc = btcore_msg_set_str(m, BTCORE_MSG_F_TEXT, text,
	    strlen(text))) == BT_OK)
		rc = btnet_send_msg_(net, to, m);
	btcore_msg_free(m);
	return rc;
}

static int
on_register(struct btnet *net, void *arg, struct net_conn *nc,
    const struct btcore_msg *m, const uint8_t *raw, size_t len)
{
	struct net_relay *rl = arg;
	struct bt_id from = nc->peer->id;
	int ok = 0;

	(void)raw;
	(void)len;
	if (rl->serving) {
		if (reg_find(rl, &from) != NULL)
			ok = 1;
		else if (rl->nregs < rl->lim.registered) {
			rl->regs[rl->nregs++].id = from;
			ok = 1;
		}
	}
	if (!ok)
		rl->refused++;
	return reply_bool(net, &from, BTCORE_MSG_RELAY_REGISTER_REP,
	    btcore_msg_tid(m), ok);
}

static int
on_open(struct btnet *net, void *arg, struct net_conn *nc,
    const struct btcore_msg *m, const uint8_t *raw, size_t len)
{
	struct net_relay *rl = arg;
	struct bt_id from = nc->peer->id, to;
	struct btcore_msg *rep = NULL, *in = NULL;
	struct rl_circ *c;
	const uint8_t *v;
	size_t vlen;
	int rc;

	(void)raw;
	(void)len;
	if (btcore_msg_get_bin(m, BTCORE_MSG_F_ID, &v, &vlen) != BT_OK)
		return BT_EFORMAT;
	memcpy(to.b, v, 32);
	if (!rl->serving || reg_find(rl, &to) == NULL ||
	    btnet_peer_find_(net, &to) == NULL || id_eq(&to, &from)) {
		rl->refused++;
		return reply_error(net, &from, btcore_msg_tid(m),
		    BTNET_EUNREACHABLE, "not relayed here");
	}
	if (rl->ncircs >= rl->lim.circuits ||
	    circs_of(rl, &from) >= rl->lim.circuits_per_peer ||
	    circs_of(rl, &to) >= rl->lim.circuits_per_peer) {
		rl->refused++;
		return reply_error(net, &from, btcore_msg_tid(m), BT_EAGAIN,
		    "too many circuits");
	}
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return reply_error(net, &from, btcore_msg_tid(m), BT_ENOMEM,
		    "out of memory");
	c->cid = ++rl->next_cid;
	c->a = from;
	c->b = to;
	c->tokens = rl->lim.burst;
	c->refilled = btnet_now_ms_(net);
	c->next = rl->circs;
	rl->circs = c;
	rl->ncircs++;
	rc = btcore_msg_new(&in, BTCORE_MSG_RELAY_INCOMING, btnet_tid_(net));
	if (rc == BT_OK)
		rc = btcore_msg_set_int64(in, BTCORE_MSG_F_CIRCUIT, c->cid);
	if (rc == BT_OK)
		rc = btcore_msg_set_bin(in, BTCORE_MSG_F_ID, from.b, 32);
	if (rc == BT_OK)
		rc = btnet_send_msg_(net, &to, in);
	if (rc == BT_OK)
		rc = btcore_msg_new(&rep, BTCORE_MSG_RELAY_OPEN_REP,
		    btcore_msg_tid(m));
	if (rc == BT_OK)
		rc = btcore_msg_set_int64(rep, BTCORE_MSG_F_CIRCUIT, c->cid);
	if (rc == BT_OK)
		rc = btnet_send_msg_(net, &from, rep);
	if (rc != BT_OK) {
		circ_close(net, circ_find(rl, c->cid, &from), NULL);
		rc = reply_error(net, &from, btcore_msg_tid(m),
		    BTNET_EUNREACHABLE, "circuit failed");
	}
	btcore_msg_free(in);
	btcore_msg_free(rep);
	return rc;
}

/* Take @p len bytes from the circuit's bucket: 1 when allowed. */
static int
bucket_take(struct net_relay *rl, struct rl_circ *c, size_t len)
{
	uint64_t now = btnet_now_ms_(rl->net), add;

	add = (now - c->refilled) * rl->lim.rate / 1000;
	if (add > 0) {
		c->tokens = c->tokens + add > rl->lim.burst ? rl->lim.burst :
		    c->tokens + add;
		c->refilled = now;
	}
	if (c->tokens < len)
		return 0;
	c->tokens -= len;
	return 1;
}

/* ---- our circuit ends: pumps ------------------------------------------ */

static void
local_free(struct btnet *net, struct rl_local *lc, int tell)
{
	struct net_relay *rl = net->relay;
	struct rl_local **lp;

	for (lp = &rl->locals; *lp != NULL; lp = &(*lp)->next)
		if (*lp == lc) {
			*lp = lc->next;
			break;
		}
	rl->nlocals--;
	btnet_request_cancel_(net, lc);
	if (tell && lc->cid != 0 && !lc->draining && !net->closing)
		(void)send_cid(net, &lc->relay, BTCORE_MSG_RELAY_CLOSE, lc->cid,
		    NULL, 0);
	if (lc->bev != NULL)
		bufferevent_free(lc->bev);
	free(lc);
}

static struct rl_local *
local_find(struct net_relay *rl, const struct bt_id *relay, int64_t cid)
{
	struct rl_local *lc;

	for (lc = rl->locals; lc != NULL; lc = lc->next)
		if (!lc->draining && lc->cid == cid && id_eq(&lc->relay, relay))
			return lc;
	return NULL;
}

static void
drain_write(struct bufferevent *bev, void *arg)
{
	struct rl_local *lc = arg;

	if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		local_free(lc->net, lc, 0);
}

static void
drain_event(struct bufferevent *bev, short what, void *arg)
{
	struct rl_local *lc = arg;

	(void)bev;
	(void)what;
	local_free(lc->net, lc, 0);
}

/*
 * The circuit of @p lc ended at the far side: what arrived before the
 * "relay-close" (often the last message of that end, such as an
 * admission refusal) is still queued for our socket, so deliver it
 * within RL_DRAIN_MS, then close the socket.
 */
static void
local_end(struct btnet *net, struct rl_local *lc)
{
	struct timeval tv = { RL_DRAIN_MS / 1000, (RL_DRAIN_MS % 1000) *
	    1000 };

	if (net->closing || evbuffer_get_length(bufferevent_get_output(
	    lc->bev)) == 0) {
		local_free(net, lc, 0);
		return;
	}
	btnet_request_cancel_(net, lc);
	lc->draining = 1;
	bufferevent_setcb(lc->bev, NULL, drain_write, drain_event, lc);
	bufferevent_setwatermark(lc->bev, EV_WRITE, 0, 0);
	if (bufferevent_disable(lc->bev, EV_READ) != 0 ||
	    bufferevent_set_timeouts(lc->bev, NULL, &tv) != 0 ||
	    bufferevent_enable(lc->bev, EV_WRITE) != 0)
		local_free(net, lc, 0);
}

static void
pump_read(struct bufferevent *bev, void *arg)
{
	struct rl_local *lc = arg;
	struct btnet *net = lc->net;
	struct evbuffer *in = bufferevent_get_input(bev);
	uint8_t chunk[RL_CHUNK];
	int n;

	while (evbuffer_get_length(in) > 0) {
		n = evbuffer_remove(in, chunk, sizeof(chunk));
		if (n <= 0 || send_cid(net, &lc->relay, BTCORE_MSG_RELAY_DATA,
		    lc->cid, chunk, (size_t)n) != BT_OK) {
			local_free(net, lc, 1);
			return;
		}
	}
}

static void
pump_event(struct bufferevent *bev, short what, void *arg)
{
	struct rl_local *lc = arg;

	(void)bev;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		local_free(lc->net, lc, 1);
}

static struct rl_local *
local_new(struct btnet *net, const struct bt_id *relay, evutil_socket_t fd)
{
	struct net_relay *rl = net->relay;
	struct rl_local *lc;

	if (rl->nlocals >= RL_LOCAL_MAX || (lc = calloc(1, sizeof(*lc))) ==
	    NULL)
		return NULL;
	lc->net = net;
	lc->relay = *relay;
	lc->bev = bufferevent_socket_new(net->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (lc->bev == NULL) {
		free(lc);
		return NULL;
	}
	bufferevent_setcb(lc->bev, pump_read, NULL, pump_event, lc);
	lc->next = rl->locals;
	rl->locals = lc;
	rl->nlocals++;
	return lc;
}

static int
on_data(struct btnet *net, void *arg, struct net_conn *nc,
    const struct btcore_msg *m, const uint8_t *raw, size_t len)
{
	struct net_relay *rl = arg;
	struct bt_id from = nc->peer->id;
	struct rl_circ **cp;
	struct rl_local *lc;
	const uint8_t *v;
	size_t vlen;
	int64_t cid;

	(void)raw;
	(void)len;
	if (btcore_msg_get_int64(m, BTCORE_MSG_F_CIRCUIT, &cid) != BT_OK ||
	    btcore_msg_get_bin(m, BTCORE_MSG_F_VALUE, &v, &vlen) != BT_OK)
		return BT_EFORMAT;
	/* an end of ours? */
	if ((lc = local_find(rl, &from, cid)) != NULL) {
		if (evbuffer_get_length(bufferevent_get_output(lc->bev)) +
		    vlen > RL_OUT_MAX || bufferevent_write(lc->bev, v, vlen)
		    != 0)
			local_free(net, lc, 1);
		return BT_OK;
	}
	/* a circuit we relay? */
	if (!rl->serving || (cp = circ_find(rl, cid, &from)) == NULL)
		return BT_ENOTFOUND;
	if (!bucket_take(rl, *cp, vlen)) {
		rl->refused++;
		circ_close(net, cp, NULL);
		return BT_EAGAIN;
	}
	if (rl->tap != NULL)
		rl->tap(rl->tap_arg, v, vlen);
	if (send_cid(net, id_eq(&(*cp)->a, &from) ? &(*cp)->b : &(*cp)->a,
	    BTCORE_MSG_RELAY_DATA, cid, v, vlen) != BT_OK) {
		circ_close(net, cp, NULL);
		return BT_EAGAIN;
	}
	rl->forwarded += vlen;
	return BT_OK;
}

static int
on_close(struct btnet *net, void *arg, struct net_conn *nc,
    const struct btcore_msg *m, const uint8_t *raw, size_t len)
{
	struct net_relay *rl = arg;
	struct bt_id from = nc->peer->id;
	struct rl_circ **cp;
	struct rl_local *lc;
	int64_t cid;

	(void)raw;
	(void)len;
	if (btcore_msg_get_int64(m, BTCORE_MSG_F_CIRCUIT, &cid) != BT_OK)
		return BT_EFORMAT;
	if ((lc = local_find(rl, &from, cid)) != NULL) {
		local_end(net, lc);
		return BT_OK;
	}
	if ((cp = circ_find(rl, cid, &from)) != NULL)
		circ_close(net, cp, &from);
	return BT_OK;
}

/* ---- the target: incoming circuits ------------------------------------- */

static struct rl_mine *
mine_find(struct net_relay *rl, const struct bt_id *relay)
{
	size_t i;

	for (i = 0; i < rl->nmine; i++)
		if (id_eq(&rl->mine[i].relay, relay))
			return &rl->mine[i];
	return NULL;
}

/* The local address of socket @p fd. */
static int
sock_addr(evutil_socket_t fd, struct btnet_dht_addr *a)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	socklen_t sl = sizeof(ss);

	memset(a, 0, sizeof(*a));
	if (fd < 0 || getsockname(fd, (struct sockaddr *)&ss, &sl) != 0)
		return BT_EIO;
	if (ss.ss_family == AF_INET) {
		a->family = 4;
		memcpy(a->ip, &s4->sin_addr, 4);
		a->port = ntohs(s4->sin_port);
	} else if (ss.ss_family == AF_INET6) {
		a->family = 6;
		memcpy(a->ip, &s6->sin6_addr, 16);
		a->port = ntohs(s6->sin6_port);
	} else {
		return BT_EIO;
	}
	return BT_OK;
}

/* Our own listener as a loopback-reachable address. */
static int
own_addr(struct btnet *net, struct btnet_dht_addr *a)
{
	static const uint8_t any[16];

	if (net->cfg.nlisten == 0 ||
	    btnet_addr_parse_(net->listen_addr[0], a) != BT_OK)
		return BT_ESTATE;
	if (memcmp(a->ip, any, a->family == 4 ? 4 : 16) == 0) {
		memset(a->ip, 0, sizeof(a->ip));
		if (a->family == 4) {
			a->ip[0] = 127;
			a->ip[3] = 1;
		} else {
			a->ip[15] = 1;
		}
	}
	return BT_OK;
}

static int
on_incoming(struct btnet *net, void *arg, struct net_conn *nc,
    const struct btcore_msg *m, const uint8_t *raw, size_t len)
{
	struct net_relay *rl = arg;
	struct bt_id from = nc->peer->id;
	struct btnet_dht_addr a;
	struct sockaddr_storage ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	struct rl_mine *mi;
	struct rl_local *lc;
	int64_t cid;
	socklen_t sl;

	(void)raw;
	(void)len;
	if (btcore_msg_get_int64(m, BTCORE_MSG_F_CIRCUIT, &cid) != BT_OK)
		return BT_EFORMAT;
	if ((mi = mine_find(rl, &from)) == NULL || !mi->accepted ||
	    local_find(rl, &from, cid) != NULL || own_addr(net, &a) != BT_OK ||
	    (lc = local_new(net, &from, -1)) == NULL) {
		(void)send_cid(net, &from, BTCORE_MSG_RELAY_CLOSE, cid, NULL, 0);
		return BT_EPERM;
	}
	lc->cid = cid;
	memset(&ss, 0, sizeof(ss));
	if (a.family == 4) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(a.port);
		memcpy(&s4->sin_addr, a.ip, 4);
		sl = sizeof(*s4);
	} else {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(a.port);
		memcpy(&s6->sin6_addr, a.ip, 16);
		sl = sizeof(*s6);
	}
	if (bufferevent_socket_connect(lc->bev, (struct sockaddr *)&ss,
	    (int)sl) != 0 ||
	    bufferevent_enable(lc->bev, EV_READ | EV_WRITE) != 0) {
		local_free(net, lc, 1);
		return BT_EIO;
	}
	/* connect() bound the local end: how the connection will be known */
	lc->has_src = sock_addr(bufferevent_getfd(lc->bev), &lc->src) ==
	    BT_OK;
	return BT_OK;
}

static void
register_done(struct btnet *net, void *ctx, int status,
    const struct btcore_msg *reply)
{
	struct net_relay *rl = net->relay;
	struct bt_id *relay = ctx;
	struct rl_mine *mi;
	btnet_relay_cb cb;
	int ok = 0;

	if (rl == NULL || (mi = mine_find(rl, relay)) == NULL)
		goto out;
	mi->busy = 0;
	if (net->closing) {
		status = BT_ECLOSED;
	} else if (status == BT_OK) {
		if (btcore_msg_type(reply) == BTCORE_MSG_RELAY_REGISTER_REP &&
		    btcore_msg_get_bool(reply, BTCORE_MSG_F_STORED, &ok) ==
		    BT_OK)
			status = ok ? BT_OK : BT_EPERM;
		else
			status = BT_EPROTO;
	}
	mi->accepted = status == BT_OK;
	if ((cb = mi->cb) != NULL) {
		mi->cb = NULL;
		cb(mi->arg, status, relay);
	}
out:
	free(relay);
}

static int
register_send(struct btnet *net, struct rl_mine *mi)
{
	struct btcore_msg *m = NULL;
	struct bt_id *ctx;
	int rc;

	if ((ctx = malloc(sizeof(*ctx))) == NULL)
		return BT_ENOMEM;
	*ctx = mi->relay;
	if ((rc = btcore_msg_new(&m, BTCORE_MSG_RELAY_REGISTER_REQ,
	    btnet_tid_(net))) == BT_OK)
		rc = btnet_request_(net, &mi->relay, m, register_done, ctx);
	btcore_msg_free(m);
	if (rc != BT_OK) {
		free(ctx);
		return rc;
	}
	mi->busy = 1;
	mi->next = btnet_now_ms_(net) + RL_REREGISTER_MS;
	return BT_OK;
}

/* ---- the caller: routes ---------------------------------------------- */

static void
open_done(struct btnet *net, void *ctx, int status,
    const struct btcore_msg *reply)
{
	struct rl_local *lc = ctx;
	int64_t cid;

	if (net->closing)
		return;
	if (status != BT_OK ||
	    btcore_msg_type(reply) != BTCORE_MSG_RELAY_OPEN_REP ||
	    btcore_msg_get_int64(reply, BTCORE_MSG_F_CIRCUIT, &cid) != BT_OK ||
	    local_find(net->relay, &lc->relay, cid) != NULL) {
		local_free(net, lc, 0);
		return;
	}
	lc->cid = cid;
	if (bufferevent_enable(lc->bev, EV_READ | EV_WRITE) != 0)
		local_free(net, lc, 1);
	else
		pump_read(lc->bev, lc);	/* what arrived meanwhile */
}

static void
on_accept(struct evconnlistener *lis, evutil_socket_t fd,
    struct sockaddr *sa, int socklen, void *arg)
{
	struct rl_route *r = arg;
	struct btnet *net = r->net;
	struct btcore_msg *m = NULL;
	struct rl_local *lc;

	(void)lis;
	(void)sa;
	(void)socklen;
	if (net->closing || net->state == NET_OFFLINE ||
	    (lc = local_new(net, &r->relay, fd)) == NULL) {
		evutil_closesocket(fd);
		return;
	}
	lc->caller = 1;
	lc->target = r->target;
	/* reading waits for the circuit's number */
	if (btcore_msg_new(&m, BTCORE_MSG_RELAY_OPEN_REQ, btnet_tid_(net)) !=
	    BT_OK ||
	    btcore_msg_set_bin(m, BTCORE_MSG_F_ID, r->target.b, 32) != BT_OK ||
	    btnet_request_(net, &r->relay, m, open_done, lc) != BT_OK)
		local_free(net, lc, 0);
	btcore_msg_free(m);
}

static struct rl_route **
route_find(struct net_relay *rl, const struct bt_id *target)
{
	struct rl_route **rp;

	for (rp = &rl->routes; *rp != NULL; rp = &(*rp)->next)
		if (id_eq(&(*rp)->target, target))
			break;
	return rp;
}

static void
route_free(struct net_relay *rl, struct rl_route **rp)
{
	struct rl_route *r = *rp;

	*rp = r->next;
	rl->nroutes--;
	if (r->lis != NULL)
		evconnlistener_free(r->lis);
	free(r);
}

int
btnet_relay_local_end_(struct btnet *net, const struct btnet_dht_addr *a)
{
	struct rl_route *r;
	struct rl_local *lc;

	if (net->relay == NULL || a == NULL)
		return 0;
	for (r = net->relay->routes; r != NULL; r = r->next)
		if (btnet_addr_eq_(&r->addr, a))
			return 1;
	for (lc = net->relay->locals; lc != NULL; lc = lc->next)
		if (lc->has_src && btnet_addr_eq_(&lc->src, a))
			return 1;
	return 0;
}

int
btnet_relay_route_addr_(struct btnet *net, const struct bt_id *id,
    struct btnet_dht_addr *out)
{
	struct rl_route *r;

	if (net->relay == NULL || (r = *route_find(net->relay, id)) == NULL)
		return BT_ENOTFOUND;
	*out = r->addr;
	return BT_OK;
}

int
btnet_relay_route(struct btnet *net, const struct bt_id *target,
    const struct bt_id *relay)
{
	struct net_relay *rl;
	struct rl_route *r, **rp;
	struct sockaddr_in sin;
	socklen_t sl = sizeof(sin);

	if (net == NULL || target == NULL || relay == NULL ||
	    (rl = net->relay) == NULL || id_eq(target, &net->self) ||
	    id_eq(relay, &net->self) || id_eq(target, relay))
		return BT_EINVAL;
	rp = route_find(rl, target);
	if (*rp != NULL) {
		(*rp)->relay = *relay;
		return BT_OK;
	}
	if (rl->nroutes >= BTNET_RELAY_ROUTES_MAX)
		return BT_ENOSPC;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return BT_ENOMEM;
	r->net = net;
	r->target = *target;
	r->relay = *relay;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	r->lis = evconnlistener_new_bind(net->base, on_accept, r,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 16,
	    (struct sockaddr *)&sin, sizeof(sin));
	if (r->lis == NULL || getsockname(evconnlistener_get_fd(r->lis),
	    (struct sockaddr *)&sin, &sl) != 0) {
		if (r->lis != NULL)
			evconnlistener_free(r->lis);
		free(r);
		return BT_EIO;
	}
	r->addr.family = 4;
	memcpy(r->addr.ip, &sin.sin_addr, 4);
	r->addr.port = ntohs(sin.sin_port);
	/* the resolution of target returns r->addr first while it lasts
	   (resolve.c); it is never cached as an address of target */
	r->next = rl->routes;
	rl->routes = r;
	rl->nroutes++;
	return BT_OK;
}

void
btnet_relay_unroute(struct btnet *net, const struct bt_id *target)
{
	struct rl_route **rp;
	struct rl_local *lc, *next;

	if (net == NULL || target == NULL || net->relay == NULL)
		return;
	rp = route_find(net->relay, target);
	if (*rp == NULL)
		return;
	route_free(net->relay, rp);
	for (lc = net->relay->locals; lc != NULL; lc = next) {
		next = lc->next;
		if (lc->caller && id_eq(&lc->target, target))
			local_free(net, lc, 1);
	}
}

/* ---- registration, serving ------------------------------------------- */

void
btnet_relay_limits_init(struct btnet_relay_limits *lim)
{
	if (lim == NULL)
		return;
	lim->registered = 64;
	lim->circuits = 256;
	lim->circuits_per_peer = 16;
	lim->rate = 1048576;
	lim->burst = 4194304;
}

static void
drop_all_circuits(struct btnet *net)
{
	struct net_relay *rl = net->relay;

	while (rl->circs != NULL)
		circ_close(net, &rl->circs, NULL);
}

int
btnet_relay_serve(struct btnet *net, const struct btnet_relay_limits *lim)
{
	struct net_relay *rl;
	struct rl_reg *regs;

	if (net == NULL || (rl = net->relay) == NULL)
		return BT_EINVAL;
	if (lim == NULL) {
		drop_all_circuits(net);
		rl->serving = 0;
		rl->nregs = 0;
		return BT_OK;
	}
	if (lim->registered == 0 || lim->registered > 65536 ||
	    lim->circuits == 0 || lim->circuits_per_peer == 0 ||
	    lim->rate == 0 || lim->burst < 65536)
		return BT_ERANGE;
	if (lim->registered != rl->lim.registered || rl->regs == NULL) {
		if ((regs = calloc(lim->registered, sizeof(*regs))) == NULL)
			return BT_ENOMEM;
		rl->nregs = rl->nregs < lim->registered ? rl->nregs :
		    lim->registered;
		if (rl->regs != NULL)
			memcpy(regs, rl->regs, rl->nregs * sizeof(*regs));
		free(rl->regs);
		rl->regs = regs;
	}
	rl->lim = *lim;
	rl->serving = 1;
	return BT_OK;
}

int
btnet_relay_register(struct btnet *net, const struct bt_id *relay,
    btnet_relay_cb cb, void *arg)
{
	struct net_relay *rl;
	struct rl_mine *mi;
	int rc;

	if (net == NULL || relay == NULL || (rl = net->relay) == NULL ||
	    id_eq(relay, &net->self))
		return BT_EINVAL;
	if (net->state == NET_OFFLINE || net->closing || net->cfg.nlisten == 0)
		return BT_ESTATE;
	if ((mi = mine_find(rl, relay)) == NULL) {
		if (rl->nmine >= BTNET_RELAY_REGISTER_MAX)
			return BT_ENOSPC;
		mi = &rl->mine[rl->nmine];
		memset(mi, 0, sizeof(*mi));
		mi->relay = *relay;
		if ((rc = register_send(net, mi)) != BT_OK)
			return rc;
		rl->nmine++;
	} else if (mi->cb != NULL) {
		return BT_EAGAIN;
	} else if (!mi->busy && (rc = register_send(net, mi)) != BT_OK) {
		return rc;
	}
	/* the answer in flight reports to cb */
	mi->cb = cb;
	mi->arg = arg;
	return BT_OK;
}

void
btnet_relay_unregister(struct btnet *net, const struct bt_id *relay)
{
	struct net_relay *rl;
	struct rl_mine *mi;
	btnet_relay_cb cb;
	struct bt_id id;
	void *arg;
	size_t i;

	if (net == NULL || relay == NULL || (rl = net->relay) == NULL ||
	    (mi = mine_find(rl, relay)) == NULL)
		return;
	i = (size_t)(mi - rl->mine);
	cb = mi->cb;
	arg = mi->arg;
	id = mi->relay;
	rl->mine[i] = rl->mine[rl->nmine - 1];
	rl->nmine--;
	if (cb != NULL)
		cb(arg, BT_ECLOSED, &id);
}

size_t
btnet_relay_registered_(struct btnet *net, struct bt_id *out, size_t max)
{
	struct net_relay *rl = net->relay;
	size_t i, n = 0;

	for (i = 0; rl != NULL && i < rl->nmine; i++)
		if (rl->mine[i].accepted && n < max)
			out[n++] = rl->mine[i].relay;
	return n;
}

void
btnet_relay_tap_(struct btnet *net,
    void (*fn)(void *arg, const uint8_t *data, size_t len), void *arg)
{
	net->relay->tap = fn;
	net->relay->tap_arg = arg;
}

/* A node's last connection ended: its registration and circuits at the
 * relay, our circuits through it, our registration with it. */
static void
on_peer(struct btnet *net, void *arg, const struct bt_id *id, int up)
{
	struct net_relay *rl = arg;
	struct rl_circ **cp;
	struct rl_local *lc, *next;
	struct rl_reg *rg;
	struct rl_mine *mi;

	if (up)
		return;
	if ((rg = reg_find(rl, id)) != NULL)
		*rg = rl->regs[--rl->nregs];
	for (cp = &rl->circs; *cp != NULL;) {
		if (id_eq(&(*cp)->a, id) || id_eq(&(*cp)->b, id))
			circ_close(net, cp, id);
		else
			cp = &(*cp)->next;
	}
	for (lc = rl->locals; lc != NULL; lc = next) {
		next = lc->next;
		if (id_eq(&lc->relay, id))
			local_free(net, lc, 0);
	}
	if ((mi = mine_find(rl, id)) != NULL) {
		mi->accepted = 0;
		mi->next = 0;		/* register again at the next tick */
	}
}

static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct net_relay *rl = arg;
	struct btnet *net = rl->net;
	struct timeval tv = { RL_TICK_MS / 1000, (RL_TICK_MS % 1000) * 1000 };
	uint64_t now = btnet_now_ms_(net);
	size_t i;

	(void)fd;
	(void)what;
	for (i = 0; i < rl->nmine && net->state != NET_OFFLINE; i++)
		if (!rl->mine[i].busy && now >= rl->mine[i].next)
			(void)register_send(net, &rl->mine[i]);
	(void)evtimer_add(rl->tick, &tv);
}

int
btnet_relay_init_(struct btnet *net)
{
	struct net_relay *rl;
	struct timeval tv = { RL_TICK_MS / 1000, (RL_TICK_MS % 1000) * 1000 };
	uint64_t start;
	int rc;

	if ((rl = calloc(1, sizeof(*rl))) == NULL)
		return BT_ENOMEM;
	rl->net = net;
	btnet_relay_limits_init(&rl->lim);
	rl->lim.registered = 0;		/* regs allocated when serving */
	net->relay = rl;
	/* circuit numbers from a random start: unlikely to meet the
	   numbers of another relay we use */
	if (btcore_random_bytes(&start, sizeof(start)) != BT_OK)
		return BT_ECRYPTO;
	rl->next_cid = (int64_t)(start & (((uint64_t)1 << 61) - 1));
	if ((rl->tick = evtimer_new(net->base, on_tick, rl)) == NULL ||
	    evtimer_add(rl->tick, &tv) != 0)
		return BT_ENOMEM;
	if ((rc = btnet_op_handle_(net, BTCORE_MSG_RELAY_REGISTER_REQ,
	    on_register, rl)) != BT_OK ||
	    (rc = btnet_op_handle_(net, BTCORE_MSG_RELAY_OPEN_REQ, on_open, rl))
	    != BT_OK ||
	    (rc = btnet_op_handle_(net, BTCORE_MSG_RELAY_INCOMING, on_incoming,
	    rl)) != BT_OK ||
	    (rc = btnet_op_handle_(net, BTCORE_MSG_RELAY_DATA, on_data, rl)) !=
	    BT_OK ||
	    (rc = btnet_op_handle_(net, BTCORE_MSG_RELAY_CLOSE, on_close, rl)) !=
	    BT_OK)
		return rc;
	return btnet_peer_hook_(net, on_peer, rl);
}

void
btnet_relay_close_(struct btnet *net)
{
	struct net_relay *rl = net->relay;

	if (rl == NULL)
		return;
	while (rl->circs != NULL)
		circ_close(net, &rl->circs, NULL);
	while (rl->locals != NULL)
		local_free(net, rl->locals, 0);
	while (rl->routes != NULL)
		route_free(rl, &rl->routes);
	if (rl->tick != NULL)
		event_free(rl->tick);
	free(rl->regs);
	free(rl);
	net->relay = NULL;
}
