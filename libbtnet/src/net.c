/*
 * net.c - the node object (bt/net.h): endpoints, the connection manager,
 * message dispatch by op, the DHT engine's environment and timers,
 * requests by node id, online and offline.
 *
 * Connections.  Each struct btnet_conn carries a struct net_conn (its
 * data pointer).  Dialled connections exist from the dial on and queue
 * what is sent before the handshake ends; accepted ones become known when
 * established.  Established connections hang off their struct net_peer
 * (one per node id with at least one connection).  The first message on a
 * dialled connection is "hello", naming the address we listen on, so the
 * acceptor can attribute the peer's DHT messages to that address rather
 * than to an ephemeral port.  A relayed connection (relay.c) is marked:
 * its remote address is an end of the relay on this host, so it sends no
 * "hello", and neither the cache nor the DHT engine learns an address of
 * the peer from it (the peer's signed address record is the source of
 * those).  When admission is required (admit.c), a connection becomes
 * established only once its peer is admitted.
 *
 * Timers.  dht_timer runs btnet_dht_tick() at btnet_dht_next_deadline();
 * the engine asks for the time whenever it starts work, and that arms
 * "kick", which reschedules dht_timer from the loop.  "house" runs once a
 * second: idle connections, keepalives, the offline check, republishing.
 */
#include <bt/conn.h>
#include <bt/dht.h>
#include <bt/dhtstore.h>
#include <bt/hash.h>
#include <bt/msg.h>
#include <bt/net.h>
#include <bt/scope.h>
#include <bt/neterror.h>
#include <bt/noise.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>

#include <event2/event.h>
#include <event2/util.h>
#include <openssl/rand.h>

#include "btnet-internal.h"
#include "dht-internal.h"
#include "net-internal.h"

#define HOUSE_MS	1000
#define KEEPALIVE_MS	10000

struct net_req {
	struct net_req *prev, *next;
	struct btnet *net;
	int64_t tid;
	struct bt_id to;
	uint8_t *bytes;
	size_t len;
	struct net_conn *nc;
	struct event *timer;
	int fail;			/* a status to report from the loop */
	int resolving;
	btnet_req_done_ done;
	void *ctx;
};

static void conn_lost(struct btnet *net, struct net_conn *nc, int reason);

/* ---- small helpers ---------------------------------------------------- */

uint64_t
btnet_now_ms_(struct btnet *net)
{
	struct timespec ts;

	(void)net;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static struct timeval
ms_tv(uint64_t ms)
{
	struct timeval tv;

	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)((ms % 1000) * 1000);
	return tv;
}

int64_t
btnet_tid_(struct btnet *net)
{
	return (int64_t)(net->tid_next++ & INT64_MAX);
}

int
btnet_addr_parse_(const char *s, struct btnet_dht_addr *out)
{
	char host[64];
	uint16_t port;
	int v6, rc;

	if (s == NULL || out == NULL)
		return BT_EINVAL;
	memset(out, 0, sizeof(*out));
	if ((rc = btnet_hostport_split_(s, host, sizeof(host), &port,
	    &v6)) != BT_OK)
		return rc;
	if (evutil_inet_pton(v6 ? AF_INET6 : AF_INET, host, out->ip) != 1)
		return BT_EFORMAT;
	out->family = v6 ? 6 : 4;
	out->port = port;
	return BT_OK;
}

int
btnet_addr_format_(const struct btnet_dht_addr *a, char *buf, size_t cap)
{
	char ip[INET6_ADDRSTRLEN];
	int n;

	if (a == NULL || buf == NULL || cap == 0)
		return BT_EINVAL;
	buf[0] = '\0';
	if (a->family != 4 && a->family != 6)
		return BT_EINVAL;
	if (evutil_inet_ntop(a->family == 4 ? AF_INET : AF_INET6, a->ip, ip,
	    sizeof(ip)) == NULL)
		return BT_EINVAL;
	n = snprintf(buf, cap, a->family == 4 ? "%s:%u" : "[%s]:%u", ip,
	    (unsigned)a->port);
	if (n < 0 || (size_t)n >= cap) {
		buf[0] = '\0';
		return BT_ENOSPC;
	}
	return BT_OK;
}

int
btnet_addr_eq_(const struct btnet_dht_addr *a, const struct btnet_dht_addr *b)
{
	return a->family == b->family && a->port == b->port &&
	    memcmp(a->ip, b->ip, a->family == 4 ? 4 : 16) == 0;
}

static int
addr_loopback(const struct btnet_dht_addr *a)
{
	static const uint8_t v6lo[16] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	    0, 0, 0, 1 };

	return (a->family == 4 && a->ip[0] == 127) ||
	    (a->family == 6 && memcmp(a->ip, v6lo, 16) == 0);
}

int
btnet_scope_ok_(const char *scope, size_t len)
{
	return btcore_scope_valid(scope, len);
}

/* ---- peers ------------------------------------------------------------ */

static size_t
peer_slot(const struct bt_id *id)
{
	return (size_t)id->b[0] % NET_PEER_BUCKETS;
}

struct net_peer *
btnet_peer_find_(const struct btnet *net, const struct bt_id *id)
{
	struct net_peer *p;

	for (p = net->peers[peer_slot(id)]; p != NULL; p = p->next)
		if (memcmp(p->id.b, id->b, BT_ID_LEN) == 0)
			return p;
	return NULL;
}

static void
peer_hooks(struct btnet *net, const struct bt_id *id, int up)
{
	size_t i;

	for (i = 0; i < net->npeer_hooks; i++)
		net->peer_hooks[i].fn(net, net->peer_hooks[i].arg, id, up);
}

int
btnet_peer_hook_(struct btnet *net, btnet_peer_fn_ fn, void *arg)
{
	if (net == NULL || fn == NULL)
		return BT_EINVAL;
	if (net->npeer_hooks >= NET_HOOKS_MAX)
		return BT_ENOSPC;
	net->peer_hooks[net->npeer_hooks].fn = fn;
	net->peer_hooks[net->npeer_hooks].arg = arg;
	net->npeer_hooks++;
	return BT_OK;
}

/* Attach the established @p nc to its peer, creating it. */
static int
peer_attach(struct btnet *net, struct net_conn *nc, const struct bt_id *id,
    const struct bt_pubkey *key)
{
	struct net_peer *p = btnet_peer_find_(net, id);
	size_t slot;
	int fresh = 0;

	if (p == NULL) {
		if ((p = calloc(1, sizeof(*p))) == NULL)
			return BT_ENOMEM;
		p->id = *id;
		p->key = *key;
		slot = peer_slot(id);
		p->next = net->peers[slot];
		net->peers[slot] = p;
		net->npeers++;
		fresh = 1;
	}
	nc->peer = p;
	nc->pnext = p->conns;
	p->conns = nc;
	if (fresh)
		peer_hooks(net, id, 1);
	return BT_OK;
}

static void
peer_detach(struct btnet *net, struct net_conn *nc)
{
	struct net_peer *p = nc->peer, **pp;
	struct net_conn **cp;
	struct bt_id id;

	if (p == NULL)
		return;
	for (cp = &p->conns; *cp != NULL; cp = &(*cp)->pnext)
		if (*cp == nc) {
			*cp = nc->pnext;
			break;
		}
	nc->peer = NULL;
	nc->pnext = NULL;
	if (p->conns != NULL)
		return;
	id = p->id;
	/* hooks see the peer without connections (direct: the down event) */
	peer_hooks(net, &id, 0);
	for (pp = &net->peers[peer_slot(&id)]; *pp != NULL; pp = &(*pp)->next)
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	net->npeers--;
	free(p);
}

/* ---- connections ------------------------------------------------------ */

static void
queue_free(struct net_conn *nc)
{
	struct net_out *o;

	while ((o = nc->q) != NULL) {
		nc->q = o->next;
		free(o);
	}
	nc->qtail = NULL;
	nc->qn = nc->qbytes = 0;
}

static struct net_conn *
nc_new(struct btnet *net)
{
	struct net_conn *nc = calloc(1, sizeof(*nc));

	if (nc == NULL)
		return NULL;
	nc->net = net;
	nc->last_used = btnet_now_ms_(net);
	nc->next = net->conns;
	if (net->conns != NULL)
		net->conns->prev = nc;
	net->conns = nc;
	net->nconns++;
	return nc;
}

static void
nc_free(struct btnet *net, struct net_conn *nc)
{
	if (nc->prev != NULL)
		nc->prev->next = nc->next;
	else
		net->conns = nc->next;
	if (nc->next != NULL)
		nc->next->prev = nc->prev;
	net->nconns--;
	queue_free(nc);
	btnet_admit_conn_free_(nc);
	free(nc);
}

/* Send or queue @p len bytes on @p nc. */
static int
nc_send(struct net_conn *nc, const uint8_t *msg, size_t len)
{
	struct net_out *o;

	nc->last_used = btnet_now_ms_(nc->net);
	if (nc->established)
		return btnet_conn_send(nc->c, msg, len);
	if (nc->qn >= NET_QUEUE_MAX || nc->qbytes + len > NET_QUEUE_BYTES)
		return BT_EAGAIN;
	if ((o = malloc(sizeof(*o) + len)) == NULL)
		return BT_ENOMEM;
	o->next = NULL;
	o->len = len;
	memcpy(o->data, msg, len);
	if (nc->qtail != NULL)
		nc->qtail->next = o;
	else
		nc->q = o;
	nc->qtail = o;
	nc->qn++;
	nc->qbytes += len;
	return BT_OK;
}

/* An established connection to @p id, or NULL. */
static struct net_conn *
conn_to(const struct btnet *net, const struct bt_id *id)
{
	struct net_peer *p = btnet_peer_find_(net, id);

	return p != NULL ? p->conns : NULL;
}

static int
dial(struct btnet *net, const struct btnet_dht_addr *addr,
    const struct bt_id *id, struct net_conn **out)
{
	char text[BTNET_ADDR_STRLEN];
	struct net_conn *nc;
	int rc;

	*out = NULL;
	if ((rc = btnet_addr_format_(addr, text, sizeof(text))) != BT_OK)
		return rc;
	if ((nc = nc_new(net)) == NULL)
		return BT_ENOMEM;
	nc->outbound = 1;
	nc->dialed = *addr;
	nc->from = *addr;
	nc->relayed = btnet_relay_local_end_(net, addr);
	if (id != NULL) {
		nc->expect = *id;
		nc->has_expect = 1;
	}
	rc = btnet_endpoint_dial(net->ep[0], text, id, &nc->c);
	if (rc != BT_OK) {
		nc_free(net, nc);
		return rc;
	}
	btnet_conn_set_data(nc->c, nc);
	*out = nc;
	return BT_OK;
}

int
btnet_send_to_(struct btnet *net, const struct btnet_dht_addr *addr,
    const struct bt_id *id, const uint8_t *msg, size_t len,
    struct net_conn **used)
{
	struct net_conn *nc = NULL, *it;
	int rc;

	if (used != NULL)
		*used = NULL;
	if (id == NULL && addr == NULL)
		return BT_EINVAL;
	if (net->state == NET_OFFLINE || net->closing)
		return BT_ECLOSED;
	if (id != NULL && memcmp(id->b, net->self.b, BT_ID_LEN) == 0)
		return BT_EINVAL;
	if (id != NULL)
		nc = conn_to(net, id);
	for (it = net->conns; nc == NULL && it != NULL; it = it->next) {
		if (it->established || !it->outbound)
			continue;
		if (id != NULL ? (it->has_expect && memcmp(it->expect.b,
		    id->b, BT_ID_LEN) == 0) : btnet_addr_eq_(&it->dialed,
		    addr))
			nc = it;
	}
	if (nc == NULL && id == NULL) {
		/* an established connection to that address will do */
		for (it = net->conns; it != NULL; it = it->next)
			if (it->established && !it->relayed &&
			    btnet_addr_eq_(&it->from, addr)) {
				nc = it;
				break;
			}
	}
	if (nc == NULL) {
		if (addr == NULL)
			return BTNET_EUNREACHABLE;
		if ((rc = dial(net, addr, id, &nc)) != BT_OK)
			return rc;
	}
	if ((rc = nc_send(nc, msg, len)) == BT_OK && used != NULL)
		*used = nc;
	return rc;
}

int
btnet_send_msg_(struct btnet *net, const struct bt_id *id,
    const struct btcore_msg *m)
{
	struct net_conn *nc = conn_to(net, id);
	uint8_t *buf = NULL;
	size_t len;
	int rc;

	if (nc == NULL)
		return BT_ECLOSED;
	if ((rc = btcore_msg_encode(m, &buf, &len)) != BT_OK)
		return rc;
	rc = nc_send(nc, buf, len);
	btcore_msg_bytes_free(buf);
	return rc;
}

/* ---- requests ---------------------------------------------------------- */

static void
req_unlink(struct btnet *net, struct net_req *r)
{
	if (r->prev != NULL)
		r->prev->next = r->next;
	else
		net->reqs = r->next;
	if (r->next != NULL)
		r->next->prev = r->prev;
	net->nreqs--;
}

static void req_resolved(void *arg, int status, const struct bt_id *id,
    const struct btnet_dht_addr *addrs, size_t n);

static void
req_finish(struct btnet *net, struct net_req *r, int status,
    const struct btcore_msg *reply)
{
	req_unlink(net, r);
	if (r->resolving)
		btnet_resolve_cancel_(net, req_resolved, r);
	if (r->timer != NULL)
		event_free(r->timer);
	free(r->bytes);
	if (r->done != NULL)
		r->done(net, r->ctx, status, reply);
	free(r);
}

static void
req_timer(evutil_socket_t fd, short what, void *arg)
{
	struct net_req *r = arg;

	(void)fd;
	(void)what;
	req_finish(r->net, r, r->fail != 0 ? r->fail : BT_ETIMEDOUT, NULL);
}

/* Report @p status from the loop. */
static void
req_fail_soon(struct net_req *r, int status)
{
	struct timeval zero = { 0, 0 };

	r->fail = status;
	(void)evtimer_add(r->timer, &zero);
}

static void
req_send(struct btnet *net, struct net_req *r,
    const struct btnet_dht_addr *addr)
{
	int rc;

	rc = btnet_send_to_(net, addr, &r->to, r->bytes, r->len, &r->nc);
	if (rc != BT_OK)
		req_fail_soon(r, rc == BT_EAGAIN || rc == BT_ENOMEM ||
		    rc == BT_ECLOSED ? rc : BTNET_EUNREACHABLE);
}

static void
req_resolved(void *arg, int status, const struct bt_id *id,
    const struct btnet_dht_addr *addrs, size_t n)
{
	struct net_req *r = arg;

	(void)id;
	r->resolving = 0;
	if (status != BT_OK || n == 0) {
		req_fail_soon(r, status == BT_ECLOSED ? BT_ECLOSED :
		    BTNET_EUNREACHABLE);
		return;
	}
	req_send(r->net, r, &addrs[0]);
}

int
btnet_request_(struct btnet *net, const struct bt_id *to,
    const struct btcore_msg *m, btnet_req_done_ done, void *ctx)
{
	struct net_req *r = NULL;
	struct timeval tv;
	int rc;

	if (net == NULL || to == NULL || m == NULL)
		return BT_EINVAL;
	if (memcmp(to->b, net->self.b, BT_ID_LEN) == 0)
		return BT_EINVAL;
	if (net->state == NET_OFFLINE || net->closing)
		return BT_ESTATE;
	if (net->nreqs >= net->cfg.max_requests)
		return BT_EAGAIN;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return BT_ENOMEM;
	r->net = net;
	r->tid = btcore_msg_tid(m);
	r->to = *to;
	r->done = done;
	r->ctx = ctx;
	if ((rc = btcore_msg_encode(m, &r->bytes, &r->len)) != BT_OK)
		goto out;
	if ((r->timer = evtimer_new(net->base, req_timer, r)) == NULL) {
		rc = BT_ENOMEM;
		goto out;
	}
	tv = ms_tv(net->cfg.request_timeout_ms);
	if (evtimer_add(r->timer, &tv) != 0) {
		rc = BT_ENOMEM;
		goto out;
	}
	r->next = net->reqs;
	if (net->reqs != NULL)
		net->reqs->prev = r;
	net->reqs = r;
	net->nreqs++;
	if (conn_to(net, to) != NULL) {
		req_send(net, r, NULL);
	} else {
		r->resolving = 1;
		rc = btnet_resolve(net, to, req_resolved, r);
		if (rc != BT_OK) {
			r->resolving = 0;
			req_fail_soon(r, rc == BT_EAGAIN || rc == BT_ENOMEM ?
			    rc : BTNET_EUNREACHABLE);
		}
	}
	r = NULL;
	rc = BT_OK;
out:
	if (r != NULL) {
		if (r->timer != NULL)
			event_free(r->timer);
		btcore_msg_bytes_free(r->bytes);
		free(r);
	}
	return rc;
}

void
btnet_request_cancel_(struct btnet *net, void *ctx)
{
	struct net_req *r, *next;

	for (r = net->reqs; r != NULL; r = next) {
		next = r->next;
		if (r->ctx == ctx) {
			r->done = NULL;
			req_finish(net, r, BT_ECLOSED, NULL);
		}
	}
}

/* A reply of a request of ours: 1 when it was one. */
static int
req_reply(struct btnet *net, const struct bt_id *from,
    const struct btcore_msg *m)
{
	struct net_req *r;
	int64_t tid = btcore_msg_tid(m);

	for (r = net->reqs; r != NULL; r = r->next)
		if (r->tid == tid && memcmp(r->to.b, from->b, BT_ID_LEN) == 0
		    && r->fail == 0) {
			req_finish(net, r, BT_OK, m);
			return 1;
		}
	return 0;
}

/* ---- the DHT's environment and timers -------------------------------- */

static uint64_t
env_now(void *ctx)
{
	struct btnet *net = ctx;

	/* the engine asks the time when it starts work: look again soon */
	if (!net->in_tick && !net->kicked && net->kick != NULL) {
		net->kicked = 1;
		event_active(net->kick, EV_TIMEOUT, 0);
	}
	return btnet_now_ms_(net);
}

static int
env_send(void *ctx, const struct btnet_dht_addr *to,
    const struct bt_id *to_id, const uint8_t *msg, size_t len)
{
	return btnet_send_to_(ctx, to, to_id, msg, len, NULL);
}

void
btnet_dht_arm_(struct btnet *net)
{
	uint64_t now, at;
	struct timeval tv;

	if (net->dht == NULL || net->closing)
		return;
	now = btnet_now_ms_(net);
	at = btnet_dht_next_deadline(net->dht);
	tv = ms_tv(at > now ? at - now : 0);
	(void)evtimer_add(net->dht_timer, &tv);
}

static void
on_dht_timer(evutil_socket_t fd, short what, void *arg)
{
	struct btnet *net = arg;

	(void)fd;
	(void)what;
	net->in_tick = 1;
	if (btnet_dht_tick(net->dht) != BT_OK)
		net->stats.dropped++;	/* postponed work: runs next tick */
	net->in_tick = 0;
	btnet_dht_arm_(net);
}

static void
on_kick(evutil_socket_t fd, short what, void *arg)
{
	struct btnet *net = arg;

	(void)fd;
	(void)what;
	net->kicked = 0;
	btnet_dht_arm_(net);
}

/* ---- events ----------------------------------------------------------- */

static void
announce(struct btnet *net)
{
	struct timeval zero = { 0, 0 };

	(void)evtimer_add(net->announce, &zero);
}

static void
on_announce(evutil_socket_t fd, short what, void *arg)
{
	struct btnet *net = arg;
	int st;

	(void)fd;
	(void)what;
	if (net->pending_offline != 1) {
		st = net->pending_offline;
		net->pending_offline = 1;
		if (net->event_cb != NULL)
			net->event_cb(net->event_arg, BTNET_EVENT_OFFLINE, st);
		return;
	}
	if (net->state == NET_ONLINE && !net->announced) {
		net->announced = 1;
		if (net->event_cb != NULL)
			net->event_cb(net->event_arg, BTNET_EVENT_ONLINE,
			    BT_OK);
	}
}

/* A peer answered: we are online. */
static void
became_online(struct btnet *net)
{
	if (net->state == NET_OFFLINE)
		return;
	net->state = NET_ONLINE;
	if (!net->announced)
		announce(net);
}

static void
report_offline(struct btnet *net, int status)
{
	net->pending_offline = status;
	net->announced = 0;
	announce(net);
}

/* ---- connection callbacks --------------------------------------------- */

static void
send_hello(struct btnet *net, struct net_conn *nc)
{
	struct btcore_msg *m = NULL;
	struct btnet_dht_addr a;
	uint8_t *buf = NULL;
	size_t len;
	int rc;

	if (net->cfg.nlisten == 0)
		return;
	if (btnet_addr_parse_(net->listen_addr[0], &a) != BT_OK)
		return;
	if ((rc = btcore_msg_new(&m, BTCORE_MSG_HELLO, btnet_tid_(net)))
	    != BT_OK)
		return;
	rc = btcore_msg_set_int64(m, BTCORE_MSG_F_PORT, a.port);
	if (rc == BT_OK && addr_loopback(&a))
		rc = btcore_msg_set_bin(m, BTCORE_MSG_F_IP, a.ip,
		    a.family == 4 ? 4 : 16);
	if (rc == BT_OK && (rc = btcore_msg_encode(m, &buf, &len)) == BT_OK &&
	    btnet_conn_send(nc->c, buf, len) != BT_OK)
		net->stats.dropped++;
	btcore_msg_bytes_free(buf);
	btcore_msg_free(m);
}

static void
on_established(struct btnet_conn *c, const struct bt_id *peer, void *arg)
{
	struct btnet *net = arg;
	struct net_conn *nc = btnet_conn_data(c);
	struct bt_pubkey key;
	char text[BTNET_ADDR_STRLEN];
	int rc = BT_OK;

	if (net->state == NET_OFFLINE || net->closing) {
		btnet_conn_close(c);
		if (nc != NULL)
			conn_lost(net, nc, BT_ECLOSED);
		return;
	}
	if (nc == NULL) {
		/* accepted */
		if ((nc = nc_new(net)) == NULL) {
			btnet_conn_close(c);
			return;
		}
		nc->c = c;
		btnet_conn_set_data(c, nc);
		if (btnet_conn_peer_addr(c, text, sizeof(text)) != BT_OK ||
		    btnet_addr_parse_(text, &nc->from) != BT_OK) {
			btnet_conn_close(c);
			nc_free(net, nc);
			return;
		}
		/* from one of our circuits' sockets: a relayed connection */
		nc->relayed = btnet_relay_local_end_(net, &nc->from);
	}
	if (btnet_conn_peer(c, NULL, &key) != BT_OK ||
	    memcmp(peer->b, net->self.b, BT_ID_LEN) == 0 ||
	    (rc = btnet_admit_begin_(net, nc, peer, &key)) < 0) {
		/* ourselves (a bootstrap address of our own), or no memory */
		btnet_conn_close(c);
		conn_lost(net, nc, BT_ECLOSED);
		return;
	}
	if (rc == 0)
		(void)btnet_conn_ready_(net, nc, peer, &key);
}

int
btnet_conn_ready_(struct btnet *net, struct net_conn *nc,
    const struct bt_id *peer, const struct bt_pubkey *key)
{
	struct btnet_conn *c = nc->c;
	struct net_out *o;
	int rc;

	if (peer_attach(net, nc, peer, key) != BT_OK) {
		btnet_conn_close(c);
		conn_lost(net, nc, BT_ECLOSED);
		return BT_ECLOSED;
	}
	nc->established = 1;
	nc->last_used = btnet_now_ms_(net);
	/* a relay's end is no address of the peer: only its key is learned */
	if (nc->outbound) {
		btnet_cache_put_(net, peer, nc->relayed ? NULL : &nc->dialed,
		    key);
		if (!nc->relayed)
			send_hello(net, nc);
	} else {
		btnet_cache_put_(net, peer, NULL, key);
	}
	while ((o = nc->q) != NULL) {
		nc->q = o->next;
		nc->qn--;
		nc->qbytes -= o->len;
		rc = btnet_conn_send(c, o->data, o->len);
		free(o);
		if (rc == BT_ECLOSED)
			break;
	}
	if (nc->q == NULL)
		nc->qtail = NULL;
	became_online(net);
	return BT_OK;
}

/* @p nc ended (closed by the peer, failed, or closed by us). */
static void
conn_lost(struct btnet *net, struct net_conn *nc, int reason)
{
	struct net_req *r, *next;
	int st = nc->established ? BT_ECLOSED : BTNET_EUNREACHABLE;

	if (reason == BTNET_EADMISSION)
		st = reason;
	for (r = net->reqs; r != NULL; r = next) {
		next = r->next;
		if (r->nc == nc) {
			r->nc = NULL;
			if (r->fail == 0)
				req_fail_soon(r, st);
		}
	}
	peer_detach(net, nc);
	nc_free(net, nc);
}

void
btnet_conn_drop_(struct btnet *net, struct net_conn *nc, int reason)
{
	btnet_conn_close(nc->c);
	conn_lost(net, nc, reason);
}

static void
on_closed(struct btnet_conn *c, int reason, void *arg)
{
	struct btnet *net = arg;
	struct net_conn *nc = btnet_conn_data(c);

	if (nc != NULL)
		conn_lost(net, nc, reason);
}

static int
on_hello(struct btnet *net, void *arg, struct net_conn *nc,
    const struct btcore_msg *m, const uint8_t *raw, size_t len)
{
	const uint8_t *ip;
	size_t iplen;
	int64_t port;

	(void)arg;
	(void)raw;
	(void)len;
	/* relayed: the claim would pair a port of the peer with our end of
	   the relay; its signed address record tells its addresses */
	if (nc->outbound || nc->relayed)
		return BT_OK;
	if (btcore_msg_get_int64(m, BTCORE_MSG_F_PORT, &port) == BT_OK)
		nc->from.port = (uint16_t)port;
	/*
	 * A claimed address is believed only between loopback addresses:
	 * there every 127.0.0.0/8 address reaches this host, and the
	 * source address of a dial is 127.0.0.1 whatever the listener.
	 */
	if (btcore_msg_get_bin(m, BTCORE_MSG_F_IP, &ip, &iplen) == BT_OK &&
	    addr_loopback(&nc->from)) {
		struct btnet_dht_addr a = nc->from;

		memset(a.ip, 0, sizeof(a.ip));
		memcpy(a.ip, ip, iplen);
		a.family = iplen == 4 ? 4 : 6;
		if (addr_loopback(&a))
			nc->from = a;
	}
	btnet_cache_put_(net, &nc->peer->id, &nc->from, NULL);
	return BT_OK;
}

static int
is_dht_type(enum btcore_msg_type t)
{
	return t >= BTCORE_MSG_PING_REQ && t <= BTCORE_MSG_ERROR;
}

/* To the DHT engine, which learns no address from a relayed connection. */
static int
dht_input(struct btnet *net, const struct net_conn *nc,
    const struct bt_id *from, const uint8_t *msg, size_t len)
{
	if (nc->relayed)
		return btnet_dht_input_relayed_(net->dht, &nc->from, from, msg,
		    len);
	return btnet_dht_input(net->dht, &nc->from, from, msg, len);
}

void
btnet_conn_input_(struct btnet_conn *c, const uint8_t *msg, size_t len,
    void *arg)
{
	struct btnet *net = arg;
	struct net_conn *nc = btnet_conn_data(c);
	struct btcore_msg *m = NULL;
	enum btcore_msg_type t;
	struct bt_id from;
	int rc;

	if (nc != NULL && nc->adm != NULL) {
		/* its peer is not admitted yet */
		btnet_admit_input_(net, nc, msg, len);
		return;
	}
	if (nc == NULL || nc->peer == NULL)
		return;
	nc->last_used = btnet_now_ms_(net);
	if (len == 0)
		return;		/* keepalive */
	from = nc->peer->id;
	rc = btcore_msg_decode(&m, msg, len);
	if (rc == BT_EUNSUPPORTED) {
		/* the engine answers it with an "error" reply */
		if (dht_input(net, nc, &from, msg, len) != BT_OK)
			net->stats.dropped++;
		goto out;
	}
	if (rc != BT_OK) {
		net->stats.dropped++;
		goto out;
	}
	t = btcore_msg_type(m);
	if (t == BTCORE_MSG_ERROR && btnet_admit_refusal_(net, nc, m))
		goto out;
	if ((size_t)t < NET_TYPES && net->ops[t].fn != NULL) {
		(void)net->ops[t].fn(net, net->ops[t].arg, nc, m, msg, len);
		goto out;
	}
	if (btcore_msg_is_reply(m) && req_reply(net, &from, m))
		goto out;
	if (!is_dht_type(t) || dht_input(net, nc, &from, msg, len) != BT_OK)
		net->stats.dropped++;
out:
	btcore_msg_free(m);
}

int
btnet_op_handle_(struct btnet *net, enum btcore_msg_type type,
    btnet_op_fn_ fn, void *arg)
{
	if (net == NULL || (size_t)type >= NET_TYPES ||
	    btcore_msg_spec_of(type) == NULL)
		return BT_EINVAL;
	net->ops[type].fn = fn;
	net->ops[type].arg = arg;
	return BT_OK;
}

/* ---- housekeeping ---------------------------------------------------- */

static void
on_house(evutil_socket_t fd, short what, void *arg)
{
	struct btnet *net = arg;
	struct net_conn *nc, *next;
	struct btnet_dht_stats ds;
	uint64_t now = btnet_now_ms_(net);
	struct timeval tv = ms_tv(HOUSE_MS);
	int live = 0;

	(void)fd;
	(void)what;
	for (nc = net->conns; nc != NULL; nc = next) {
		next = nc->next;
		if (!nc->established) {
			if (nc->adm != NULL)
				btnet_admit_tick_(net, nc, now);
			continue;
		}
		if (nc->peer != NULL && nc->peer->direct) {
			if (now - nc->last_used >= KEEPALIVE_MS) {
				nc->last_used = now;
				/* a full queue is as good as a keepalive */
				if (btnet_conn_send(nc->c, NULL, 0) != BT_OK)
					net->stats.dropped++;
			}
			live = 1;
			continue;
		}
		if (now - nc->last_used >= net->cfg.idle_ms) {
			net->stats.idle_closed++;
			btnet_conn_close(nc->c);
			conn_lost(net, nc, BT_OK);
			continue;
		}
		live = 1;
	}
	if (net->state == NET_ONLINE && net->announced) {
		btnet_dht_stats(net->dht, &ds);
		if (!live && ds.table_size == 0) {
			net->state = NET_JOINING;
			report_offline(net, BT_ECLOSED);
		}
	}
	if (net->state == NET_ONLINE)
		btnet_resolve_tick_(net);
	btnet_dht_arm_(net);
	(void)evtimer_add(net->house, &tv);
}

/* ---- the API ---------------------------------------------------------- */

void
btnet_config_init(struct btnet_config *cfg)
{
	if (cfg == NULL)
		return;
	memset(cfg, 0, sizeof(*cfg));
	cfg->replication = BT_REPLICATION_DEFAULT;
	cfg->prefix_per_bucket = 2;
	cfg->prefix_per_table = 3;
	cfg->request_timeout_ms = BT_REQUEST_TIMEOUT_MS;
	cfg->handshake_timeout_ms = 10000;
	cfg->idle_ms = 60000;
	cfg->max_conns = 512;
	cfg->max_conns_per_ip = 16;
	cfg->handshake_rate = 600;
	cfg->handshake_burst = 20;
	cfg->republish_ms = 1800000;
	cfg->cache_ms = 600000;
	cfg->max_requests = 1024;
	cfg->admission.cache_ms = 600000;
	cfg->admission.refused_ms = 30000;
}

static int
config_check(const struct btnet_config *c)
{
	if (c->nlisten > BTNET_LISTEN_MAX)
		return BT_EINVAL;
	if (c->replication == 0 || c->replication > BT_REPLICATION_MAX)
		return BT_ERANGE;
	if (c->prefix_per_bucket == 0 || c->prefix_per_table == 0 ||
	    c->request_timeout_ms == 0 || c->handshake_timeout_ms == 0 ||
	    c->idle_ms == 0 || c->max_conns == 0 || c->max_conns_per_ip == 0 ||
	    c->handshake_rate == 0 || c->handshake_burst == 0 ||
	    c->republish_ms == 0 || c->cache_ms == 0 || c->max_requests == 0)
		return BT_EINVAL;
	if ((c->admission.stmt == NULL && c->admission.stmt_len > 0) ||
	    (c->admission.challenge != NULL && c->admission.admit == NULL))
		return BT_EINVAL;
	if (c->admission.stmt_len > BTCORE_MSG_ADMIT_MAX ||
	    c->admission.refused_ms > BTNET_ADMIT_REFUSED_MS_MAX)
		return BT_ERANGE;
	return BT_OK;
}

static int
endpoint_setup(struct btnet *net, struct btnet_endpoint **out)
{
	const struct btnet_config *c = &net->cfg;
	uint64_t idle = (c->idle_ms > 30000 ? c->idle_ms : 30000) +
	    KEEPALIVE_MS;
	int rc;

	if ((rc = btnet_endpoint_open(out, net->base, net->ident)) != BT_OK)
		return rc;
	if ((rc = btnet_endpoint_set(*out, BTNET_OPT_HANDSHAKE_TIMEOUT_MS,
	    c->handshake_timeout_ms)) != BT_OK ||
	    (rc = btnet_endpoint_set(*out, BTNET_OPT_IDLE_TIMEOUT_MS, idle))
	    != BT_OK ||
	    (rc = btnet_endpoint_set(*out, BTNET_OPT_MAX_CONNS, c->max_conns))
	    != BT_OK ||
	    (rc = btnet_endpoint_set(*out, BTNET_OPT_MAX_CONNS_PER_IP,
	    c->max_conns_per_ip)) != BT_OK ||
	    (rc = btnet_endpoint_set(*out, BTNET_OPT_HANDSHAKE_RATE,
	    c->handshake_rate)) != BT_OK ||
	    (rc = btnet_endpoint_set(*out, BTNET_OPT_HANDSHAKE_BURST,
	    c->handshake_burst)) != BT_OK)
		return rc;
	btnet_endpoint_setcb(*out, on_established, btnet_conn_input_, on_closed,
	    NULL, net);
	return BT_OK;
}

int
btnet_open(struct btnet **out, struct event_base *base,
    const struct btcore_signer *signer,
    const struct btnet_dht_storage *storage, const struct btnet_config *cfg)
{
	struct btnet *net = NULL;
	struct btnet_dht_config dc;
	struct btnet_dht_addr a;
	struct timeval tv = ms_tv(HOUSE_MS);
	size_t i;
	int rc;

	if (out == NULL)
		return BT_EINVAL;
	*out = NULL;
	if (base == NULL || signer == NULL || signer->sign == NULL)
		return BT_EINVAL;
	if ((net = calloc(1, sizeof(*net))) == NULL)
		return BT_ENOMEM;
	net->base = base;
	net->signer = signer;
	net->pending_offline = 1;
	if (cfg != NULL)
		net->cfg = *cfg;
	else
		btnet_config_init(&net->cfg);
	net->cfg.static_priv = NULL;
	for (i = 0; i < BTNET_LISTEN_MAX; i++)
		net->cfg.listen[i] = NULL;
	if ((rc = config_check(&net->cfg)) != BT_OK)
		goto out;
	if (RAND_bytes((unsigned char *)&net->tid_next,
	    sizeof(net->tid_next)) != 1) {
		rc = BT_ECRYPTO;
		goto out;
	}
	if ((rc = btcore_id_hash(&net->self, signer->pub.b, 32)) != BT_OK)
		goto out;
	if ((rc = btnet_identity_new(&net->ident, signer,
	    cfg != NULL ? cfg->static_priv : NULL)) != BT_OK)
		goto out;
	/* endpoints: one per listening address, or one to dial from */
	net->nep = net->cfg.nlisten > 0 ? net->cfg.nlisten : 1;
	for (i = 0; i < net->nep; i++)
		if ((rc = endpoint_setup(net, &net->ep[i])) != BT_OK)
			goto out;
	for (i = 0; i < net->cfg.nlisten; i++) {
		if (cfg->listen[i] == NULL) {
			rc = BT_EINVAL;
			goto out;
		}
		if ((rc = btnet_addr_parse_(cfg->listen[i], &a)) != BT_OK)
			goto out;
		if ((rc = btnet_endpoint_listen(net->ep[i], cfg->listen[i]))
		    != BT_OK)
			goto out;
		a.port = btnet_endpoint_port(net->ep[i]);
		if ((rc = btnet_addr_format_(&a, net->listen_addr[i],
		    sizeof(net->listen_addr[i]))) != BT_OK)
			goto out;
	}
	/* the DHT */
	if (storage == NULL) {
		if ((rc = btnet_dht_memstore_new(&net->mem, NULL)) != BT_OK)
			goto out;
		btnet_dht_memstore_storage(net->mem, &net->st);
	} else {
		net->st = *storage;
	}
	net->env.now_ms = env_now;
	net->env.send = env_send;
	net->env.ctx = net;
	btnet_dht_config_init(&dc);
	dc.replication = net->cfg.replication;
	dc.prefix_per_bucket = net->cfg.prefix_per_bucket;
	dc.prefix_per_table = net->cfg.prefix_per_table;
	dc.request_timeout_ms = net->cfg.request_timeout_ms;
	if (net->cfg.nlisten > 0)
		dc.port = btnet_endpoint_port(net->ep[0]);
	if ((rc = btnet_dht_new(&net->dht, &net->env, &net->st, &net->self,
	    &dc)) != BT_OK)
		goto out;
	net->dht_timer = evtimer_new(base, on_dht_timer, net);
	net->kick = event_new(base, -1, 0, on_kick, net);
	net->house = evtimer_new(base, on_house, net);
	net->announce = evtimer_new(base, on_announce, net);
	if (net->dht_timer == NULL || net->kick == NULL || net->house == NULL ||
	    net->announce == NULL) {
		rc = BT_ENOMEM;
		goto out;
	}
	if ((rc = btnet_op_handle_(net, BTCORE_MSG_HELLO, on_hello, NULL))
	    != BT_OK ||
	    (rc = btnet_admit_init_(net)) != BT_OK ||
	    (rc = btnet_resolve_init_(net)) != BT_OK ||
	    (rc = btnet_rpc_init_(net)) != BT_OK ||
	    (rc = btnet_direct_init_(net)) != BT_OK ||
	    (rc = btnet_pubsub_init_(net)) != BT_OK ||
	    (rc = btnet_relay_init_(net)) != BT_OK ||
	    (rc = btnet_friend_init_(net)) != BT_OK)
		goto out;
	if (evtimer_add(net->house, &tv) != 0) {
		rc = BT_ENOMEM;
		goto out;
	}
	btnet_dht_arm_(net);
	*out = net;
	net = NULL;
	rc = BT_OK;
out:
	btnet_close(net);
	return rc;
}

void
btnet_close(struct btnet *net)
{
	struct net_peer *p;
	size_t i;

	if (net == NULL)
		return;
	net->closing = 1;
	net->state = NET_OFFLINE;
	/* requests and resolutions report BT_ECLOSED */
	while (net->reqs != NULL)
		req_finish(net, net->reqs, BT_ECLOSED, NULL);
	btnet_direct_close_all_(net);
	btnet_rpc_close_(net);
	/* the engine's callbacks (resolutions) run with BT_ECLOSED */
	btnet_dht_free(net->dht);
	net->dht = NULL;
	btnet_friend_close_(net);
	btnet_relay_close_(net);
	btnet_pubsub_close_(net);
	btnet_resolve_close_(net);
	for (i = 0; i < net->nep; i++) {
		btnet_endpoint_close(net->ep[i]);
		net->ep[i] = NULL;
	}
	while (net->conns != NULL)
		nc_free(net, net->conns);
	btnet_admit_close_(net);
	for (i = 0; i < NET_PEER_BUCKETS; i++)
		while ((p = net->peers[i]) != NULL) {
			net->peers[i] = p->next;
			free(p);
		}
	btnet_dht_memstore_free(net->mem);
	if (net->dht_timer != NULL)
		event_free(net->dht_timer);
	if (net->kick != NULL)
		event_free(net->kick);
	if (net->house != NULL)
		event_free(net->house);
	if (net->announce != NULL)
		event_free(net->announce);
	btnet_identity_free(net->ident);
	btcore_wipe(net, sizeof(*net));
	free(net);
}

void
btnet_setcb(struct btnet *net, btnet_event_cb cb, void *arg)
{
	if (net == NULL)
		return;
	net->event_cb = cb;
	net->event_arg = arg;
}

static void
on_bootstrap(void *arg, const struct btnet_dht_result *res)
{
	struct btnet *net = arg;

	if (net->closing || net->state == NET_OFFLINE)
		return;
	if (res->status == BT_OK) {
		became_online(net);
		/* the external address may be known now */
		if (!net->publishing)
			(void)btnet_publish_(net);
	} else if (net->state == NET_JOINING) {
		report_offline(net, BT_ETIMEDOUT);
	}
}

int
btnet_online(struct btnet *net, const char *const *bootstrap, size_t n)
{
	struct btnet_dht_addr addrs[BTNET_BOOTSTRAP_MAX];
	size_t i;
	int rc;

	if (net == NULL || (bootstrap == NULL && n > 0) ||
	    n > BTNET_BOOTSTRAP_MAX)
		return BT_EINVAL;
	if (net->state != NET_OFFLINE || net->closing)
		return BT_ESTATE;
	for (i = 0; i < n; i++)
		if (bootstrap[i] == NULL ||
		    (rc = btnet_addr_parse_(bootstrap[i], &addrs[i])) != BT_OK)
			return bootstrap[i] == NULL ? BT_EINVAL : rc;
	net->pending_offline = 1;
	net->announced = 0;
	if (n == 0) {
		net->state = NET_ONLINE;
		announce(net);
		return BT_OK;
	}
	net->state = NET_JOINING;
	rc = btnet_dht_bootstrap(net->dht, addrs, n, on_bootstrap, net);
	if (rc != BT_OK)
		net->state = NET_OFFLINE;
	btnet_dht_arm_(net);
	return rc;
}

void
btnet_offline(struct btnet *net)
{
	struct net_conn *nc;

	if (net == NULL || net->state == NET_OFFLINE || net->closing)
		return;
	net->state = NET_OFFLINE;
	btnet_resolve_fail_all_(net, BT_ECLOSED);
	btnet_direct_close_all_(net);
	while ((nc = net->conns) != NULL) {
		btnet_conn_close(nc->c);
		conn_lost(net, nc, BT_OK);
	}
	report_offline(net, BT_OK);
}

int
btnet_is_online(const struct btnet *net)
{
	return net != NULL && net->state != NET_OFFLINE;
}

void
btnet_local_id(const struct btnet *net, struct bt_id *out)
{
	if (out == NULL)
		return;
	if (net == NULL)
		memset(out, 0, sizeof(*out));
	else
		*out = net->self;
}

int
btnet_local_addr(const struct btnet *net, size_t i, char *buf, size_t cap)
{
	size_t n;

	if (buf != NULL && cap > 0)
		buf[0] = '\0';
	if (net == NULL || buf == NULL)
		return BT_EINVAL;
	if (i >= net->cfg.nlisten)
		return BT_ENOTFOUND;
	n = strlen(net->listen_addr[i]);
	if (n >= cap)
		return BT_ENOSPC;
	memcpy(buf, net->listen_addr[i], n + 1);
	return BT_OK;
}

size_t
btnet_peers(const struct btnet *net, struct bt_id *out, size_t max)
{
	const struct net_peer *p;
	size_t i, n = 0;

	if (net == NULL)
		return 0;
	for (i = 0; i < NET_PEER_BUCKETS; i++)
		for (p = net->peers[i]; p != NULL; p = p->next) {
			if (out != NULL && n < max)
				out[n] = p->id;
			n++;
		}
	return n;
}

struct btnet_dht *
btnet_dht(struct btnet *net)
{
	if (net == NULL)
		return NULL;
	/* an operation is about to start: look at the engine's deadline
	   from the loop, as it may finish without asking the time */
	if (!net->kicked && net->kick != NULL && !net->closing) {
		net->kicked = 1;
		event_active(net->kick, EV_TIMEOUT, 0);
	}
	return net->dht;
}
