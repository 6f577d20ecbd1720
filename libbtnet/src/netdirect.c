/*
 * netdirect.c - direct connections (bt/net.h): "direct-open" marks a
 * peer's connection as direct on both sides (kept open and alive), then
 * "direct" messages carry scoped bytes both ways until "direct-close" or
 * the last connection to the peer ends.
 */
#include <bt/msg.h>
#include <bt/net.h>

#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "net-internal.h"

struct net_direct_handler {
	struct net_direct_handler *next;
	char scope[BTNET_SCOPE_MAX + 1];
	btnet_direct_handler fn;
	void *arg;
};

/* A direct connect in progress. */
struct net_direct_open {
	struct net_direct_open *prev, *next;
	struct btnet *net;
	struct bt_id to;
	struct event *now;	/* already connected: report from the loop */
	btnet_direct_connect_cb cb;
	void *arg;
};

static void
event_up(struct btnet *net, const struct bt_id *id, int up)
{
	if (net->direct_cb != NULL)
		net->direct_cb(net->direct_arg, id, up);
}

static void
set_direct(struct btnet *net, struct net_peer *p, int up)
{
	struct bt_id id;

	if (p == NULL || p->direct == up)
		return;
	p->direct = up;
	id = p->id;
	event_up(net, &id, up);
}

static void
open_unlink(struct btnet *net, struct net_direct_open *d)
{
	if (d->prev != NULL)
		d->prev->next = d->next;
	else
		net->direct_opens = d->next;
	if (d->next != NULL)
		d->next->prev = d->prev;
	if (d->now != NULL)
		event_free(d->now);
	d->now = NULL;
}

static void
open_finish(struct btnet *net, struct net_direct_open *d, int status)
{
	struct bt_id to = d->to;
	btnet_direct_connect_cb cb = d->cb;
	void *arg = d->arg;

	open_unlink(net, d);
	free(d);
	cb(arg, status, &to);
}

static void
open_now(evutil_socket_t fd, short what, void *arg)
{
	struct net_direct_open *d = arg;
	struct net_peer *p = btnet_peer_find_(d->net, &d->to);

	(void)fd;
	(void)what;
	open_finish(d->net, d, p != NULL && p->direct ? BT_OK : BT_ECLOSED);
}

static void
open_done(struct btnet *net, void *ctx, int status,
    const struct btcore_msg *reply)
{
	struct net_direct_open *d = ctx;
	struct net_peer *p;

	if (status == BT_OK) {
		if (btcore_msg_type(reply) == BTCORE_MSG_DIRECT_OPEN_REP) {
			p = btnet_peer_find_(net, &d->to);
			if (p != NULL && !net->closing)
				set_direct(net, p, 1);
			else
				status = BT_ECLOSED;
		} else if (btcore_msg_type(reply) == BTCORE_MSG_ERROR) {
			status = BTNET_EREMOTE;
		} else {
			status = BT_EPROTO;
		}
	}
	open_finish(net, d, status);
}

int
btnet_direct_connect(struct btnet *net, const struct bt_id *to,
    btnet_direct_connect_cb cb, void *arg)
{
	struct net_direct_open *d;
	struct net_peer *p;
	struct btcore_msg *m = NULL;
	struct timeval zero = { 0, 0 };
	int rc;

	if (net == NULL || to == NULL || cb == NULL ||
	    memcmp(to->b, net->self.b, BT_ID_LEN) == 0)
		return BT_EINVAL;
	if (net->state == NET_OFFLINE || net->closing)
		return BT_ESTATE;
	if ((d = calloc(1, sizeof(*d))) == NULL)
		return BT_ENOMEM;
	d->net = net;
	d->to = *to;
	d->cb = cb;
	d->arg = arg;
	p = btnet_peer_find_(net, to);
	if (p != NULL && p->direct) {
		if ((d->now = evtimer_new(net->base, open_now, d)) == NULL ||
		    evtimer_add(d->now, &zero) != 0) {
			rc = BT_ENOMEM;
			goto out;
		}
	} else {
		if ((rc = btcore_msg_new(&m, BTCORE_MSG_DIRECT_OPEN_REQ,
		    btnet_tid_(net))) != BT_OK)
			goto out;
		if ((rc = btnet_request_(net, to, m, open_done, d)) != BT_OK)
			goto out;
	}
	d->next = net->direct_opens;
	if (net->direct_opens != NULL)
		net->direct_opens->prev = d;
	net->direct_opens = d;
	d = NULL;
	rc = BT_OK;
out:
	if (d != NULL) {
		if (d->now != NULL)
			event_free(d->now);
		free(d);
	}
	btcore_msg_free(m);
	return rc;
}

static struct net_direct_handler **
handler_find(struct btnet *net, const char *scope, size_t len)
{
	struct net_direct_handler **h;

	for (h = &net->direct_handlers; *h != NULL; h = &(*h)->next)
		if (strlen((*h)->scope) == len &&
		    memcmp((*h)->scope, scope, len) == 0)
			break;
	return h;
}

int
btnet_direct_handle(struct btnet *net, const char *scope,
    btnet_direct_handler fn, void *arg)
{
	struct net_direct_handler **h, *n;
	size_t len;

	if (net == NULL || scope == NULL)
		return BT_EINVAL;
	len = strlen(scope);
	if (!btnet_scope_ok_(scope, len))
		return BT_EINVAL;
	h = handler_find(net, scope, len);
	if (fn == NULL) {
		if ((n = *h) != NULL) {
			*h = n->next;
			free(n);
		}
		return BT_OK;
	}
	if (*h == NULL) {
		if ((n = calloc(1, sizeof(*n))) == NULL)
			return BT_ENOMEM;
		memcpy(n->scope, scope, len + 1);
		*h = n;
	}
	(*h)->fn = fn;
	(*h)->arg = arg;
	return BT_OK;
}

void
btnet_direct_events(struct btnet *net, btnet_direct_event_cb cb, void *arg)
{
	if (net == NULL)
		return;
	net->direct_cb = cb;
	net->direct_arg = arg;
}

int
btnet_direct_send(struct btnet *net, const struct bt_id *to,
    const char *scope, const uint8_t *data, size_t len)
{
	struct btcore_msg *m = NULL;
	struct net_peer *p;
	size_t slen;
	int rc;

	if (net == NULL || to == NULL || scope == NULL ||
	    (data == NULL && len > 0))
		return BT_EINVAL;
	slen = strlen(scope);
	if (!btnet_scope_ok_(scope, slen))
		return BT_EINVAL;
	p = btnet_peer_find_(net, to);
	if (p == NULL || !p->direct)
		return BT_ESTATE;
	if (len > BT_MSG_MAX)
		return BT_ETOOBIG;
	if ((rc = btcore_msg_new(&m, BTCORE_MSG_DIRECT, btnet_tid_(net))) !=
	    BT_OK)
		goto out;
	if ((rc = btcore_msg_set_str(m, BTCORE_MSG_F_SCOPE, scope, slen)) ==
	    BT_OK)
		rc = btcore_msg_set_bin(m, BTCORE_MSG_F_VALUE, data, len);
	if (rc == BT_OK)
		rc = btnet_send_msg_(net, to, m);
out:
	btcore_msg_free(m);
	return rc;
}

static int
send_plain(struct btnet *net, const struct bt_id *to,
    enum btcore_msg_type type, int64_t tid)
{
	struct btcore_msg *m = NULL;
	int rc;

	if ((rc = btcore_msg_new(&m, type, tid)) != BT_OK)
		return rc;
	rc = btnet_send_msg_(net, to, m);
	btcore_msg_free(m);
	return rc;
}

void
btnet_direct_close(struct btnet *net, const struct bt_id *to)
{
	struct net_peer *p;

	if (net == NULL || to == NULL)
		return;
	p = btnet_peer_find_(net, to);
	if (p == NULL || !p->direct)
		return;
	(void)send_plain(net, to, BTCORE_MSG_DIRECT_CLOSE, btnet_tid_(net));
	set_direct(net, p, 0);
}

static int
on_open(struct btnet *net, void *arg, struct net_conn *nc,
    const struct btcore_msg *m, const uint8_t *raw, size_t len)
{
	struct bt_id id = nc->peer->id;
	int rc;

	(void)arg;
	(void)raw;
	(void)len;
	rc = send_plain(net, &id, BTCORE_MSG_DIRECT_OPEN_REP,
	    btcore_msg_tid(m));
	if (rc == BT_OK)
		set_direct(net, nc->peer, 1);
	return rc;
}

static int
on_close(struct btnet *net, void *arg, struct net_conn *nc,
    const struct btcore_msg *m, const uint8_t *raw, size_t len)
{
	(void)arg;
	(void)m;
	(void)raw;
	(void)len;
	set_direct(net, nc->peer, 0);
	return BT_OK;
}

static int
on_direct(struct btnet *net, void *arg, struct net_conn *nc,
    const struct btcore_msg *m, const uint8_t *raw, size_t rawlen)
{
	struct net_direct_handler *h;
	const char *scope;
	const uint8_t *data;
	size_t slen, len;
	struct bt_id from = nc->peer->id;

	(void)arg;
	(void)raw;
	(void)rawlen;
	if (!nc->peer->direct)
		return BT_ESTATE;	/* not asked for: dropped */
	if (btcore_msg_get_str(m, BTCORE_MSG_F_SCOPE, &scope, &slen) != BT_OK ||
	    btcore_msg_get_bin(m, BTCORE_MSG_F_VALUE, &data, &len) != BT_OK ||
	    !btnet_scope_ok_(scope, slen))
		return BT_EFORMAT;
	if ((h = *handler_find(net, scope, slen)) == NULL)
		return BT_ENOTFOUND;
	h->fn(h->arg, &from, scope, data, len);
	return BT_OK;
}

/* The last connection to a peer ended: its direct connection with it. */
static void
on_peer(struct btnet *net, void *arg, const struct bt_id *id, int up)
{
	(void)arg;
	if (!up)
		set_direct(net, btnet_peer_find_(net, id), 0);
}

int
btnet_direct_init_(struct btnet *net)
{
	int rc;

	if ((rc = btnet_op_handle_(net, BTCORE_MSG_DIRECT_OPEN_REQ, on_open,
	    NULL)) != BT_OK ||
	    (rc = btnet_op_handle_(net, BTCORE_MSG_DIRECT_CLOSE, on_close,
	    NULL)) != BT_OK ||
	    (rc = btnet_op_handle_(net, BTCORE_MSG_DIRECT, on_direct, NULL))
	    != BT_OK)
		return rc;
	return btnet_peer_hook_(net, on_peer, NULL);
}

void
btnet_direct_close_all_(struct btnet *net)
{
	struct net_direct_handler *h;
	struct net_direct_open *d, *next;
	struct net_peer *p;
	size_t i;

	for (i = 0; i < NET_PEER_BUCKETS; i++)
		for (p = net->peers[i]; p != NULL; p = p->next)
			if (p->direct) {
				if (!net->closing)
					(void)send_plain(net, &p->id,
					    BTCORE_MSG_DIRECT_CLOSE,
					    btnet_tid_(net));
				set_direct(net, p, 0);
			}
	/* connects answered from the loop: now, as failed */
	for (d = net->direct_opens; d != NULL; d = next) {
		next = d->next;
		if (d->now != NULL)
			open_finish(net, d, BT_ECLOSED);
	}
	if (!net->closing)
		return;
	while ((h = net->direct_handlers) != NULL) {
		net->direct_handlers = h->next;
		free(h);
	}
}
