/*
 * resolve.c - node id -> addresses: the cache of addresses seen, the
 * address list encoding, our signed address record and its publication,
 * and resolution (a relayed route, the cache, the routing table, the
 * friends' hook, the DHT).
 */
#include <bt/dht.h>
#include <bt/hash.h>
#include <bt/net.h>
#include <bt/record.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "btnet-internal.h"
#include "net-internal.h"

struct net_cache_entry {
	struct bt_id id;
	struct bt_pubkey key;
	int used, has_key;
	size_t naddrs;
	struct btnet_dht_addr addrs[BTNET_ADDRS_MAX];
	uint64_t stamp;
};

#define R_START		0
#define R_HOOK		1	/* asked the friends' hook */
#define R_KEY		2	/* DHT: fetching the public key */
#define R_RECORD	3	/* DHT: fetching the address record */

struct net_resolve {
	struct net_resolve *prev, *next;
	struct btnet *net;
	struct bt_id id;
	struct bt_pubkey key;
	uint64_t token;
	int state, dht_busy, done;
	int status;			/* to report from the timer */
	struct btnet_dht_addr addrs[BTNET_ADDRS_MAX];
	size_t n;
	struct event *timer;
	btnet_resolve_cb cb;
	void *arg;
};

/* ---- the address list --------------------------------------------------- */

int
btnet_addrs_encode(const struct btnet_dht_addr *addrs, size_t n, uint8_t *buf,
    size_t cap, size_t *len)
{
	size_t i, need = 2, pos;

	if (len != NULL)
		*len = 0;
	if (addrs == NULL || len == NULL || (buf == NULL && cap > 0))
		return BT_EINVAL;
	if (n == 0 || n > BTNET_ADDRS_MAX)
		return BT_ERANGE;
	for (i = 0; i < n; i++) {
		if ((addrs[i].family != 4 && addrs[i].family != 6) ||
		    addrs[i].port == 0)
			return BT_EINVAL;
		need += 1 + (addrs[i].family == 4 ? 4 : 16) + 2;
	}
	*len = need;
	if (cap < need)
		return BT_ENOSPC;
	buf[0] = 1;
	buf[1] = (uint8_t)n;
	pos = 2;
	for (i = 0; i < n; i++) {
		buf[pos++] = addrs[i].family;
		memcpy(buf + pos, addrs[i].ip, addrs[i].family == 4 ? 4 : 16);
		pos += addrs[i].family == 4 ? 4 : 16;
		btnet_put_be16_(buf + pos, addrs[i].port);
		pos += 2;
	}
	return BT_OK;
}

int
btnet_addrs_decode(const uint8_t *buf, size_t len, struct btnet_dht_addr *out,
    size_t *n)
{
	size_t i, count, pos = 2, iplen;
	int rc = BT_EFORMAT;

	if (n != NULL)
		*n = 0;
	if (buf == NULL || out == NULL || n == NULL)
		return BT_EINVAL;
	memset(out, 0, BTNET_ADDRS_MAX * sizeof(*out));
	if (len < 2)
		return BT_ETRUNC;
	count = buf[1];
	if (buf[0] != 1 || count == 0 || count > BTNET_ADDRS_MAX)
		goto fail;
	for (i = 0; i < count; i++) {
		if (pos >= len) {
			rc = BT_ETRUNC;
			goto fail;
		}
		if (buf[pos] != 4 && buf[pos] != 6)
			goto fail;
		iplen = buf[pos] == 4 ? 4 : 16;
		if (len - pos < 1 + iplen + 2) {
			rc = BT_ETRUNC;
			goto fail;
		}
		out[i].family = buf[pos];
		memcpy(out[i].ip, buf + pos + 1, iplen);
		out[i].port = btnet_get_be16_(buf + pos + 1 + iplen);
		if (out[i].port == 0)
			goto fail;
		pos += 1 + iplen + 2;
	}
	if (pos != len)
		goto fail;
	*n = count;
	return BT_OK;
fail:
	memset(out, 0, BTNET_ADDRS_MAX * sizeof(*out));
	return rc;
}

/* ---- the cache -------------------------------------------------------- */

static struct net_cache_entry *
cache_find(const struct btnet *net, const struct bt_id *id)
{
	size_t i;

	if (net->cache == NULL)
		return NULL;
	for (i = 0; i < NET_CACHE_MAX; i++)
		if (net->cache[i].used &&
		    memcmp(net->cache[i].id.b, id->b, BT_ID_LEN) == 0)
			return &net->cache[i];
	return NULL;
}

void
btnet_cache_put_(struct btnet *net, const struct bt_id *id,
    const struct btnet_dht_addr *addr, const struct bt_pubkey *key)
{
	struct net_cache_entry *e = cache_find(net, id), *old = NULL;
	size_t i;

	if (net->cache == NULL)
		return;
	if (e == NULL) {
		for (i = 0; i < NET_CACHE_MAX; i++) {
			if (!net->cache[i].used) {
				old = &net->cache[i];
				break;
			}
			if (old == NULL || net->cache[i].stamp < old->stamp)
				old = &net->cache[i];
		}
		e = old;
		memset(e, 0, sizeof(*e));
		e->used = 1;
		e->id = *id;
	}
	e->stamp = btnet_now_ms_(net);
	if (key != NULL) {
		e->key = *key;
		e->has_key = 1;
	}
	if (addr == NULL)
		return;
	/* most recent first, without duplicates */
	for (i = 0; i < e->naddrs; i++)
		if (btnet_addr_eq_(&e->addrs[i], addr))
			break;
	if (i == e->naddrs && e->naddrs < BTNET_ADDRS_MAX)
		e->naddrs++;
	if (i == e->naddrs)
		i = e->naddrs - 1;
	memmove(&e->addrs[1], &e->addrs[0], i * sizeof(e->addrs[0]));
	e->addrs[0] = *addr;
}

size_t
btnet_cache_addrs_(const struct btnet *net, const struct bt_id *id,
    struct btnet_dht_addr *out, size_t max)
{
	const struct net_cache_entry *e = cache_find(net, id);
	size_t n;

	if (e == NULL)
		return 0;
	n = e->naddrs < max ? e->naddrs : max;
	memcpy(out, e->addrs, n * sizeof(*out));
	return n;
}

/* ---- resolutions ------------------------------------------------------ */

static void
r_free(struct btnet *net, struct net_resolve *r)
{
	if (r->prev != NULL)
		r->prev->next = r->next;
	else
		net->resolves = r->next;
	if (r->next != NULL)
		r->next->prev = r->prev;
	net->nresolves--;
	if (r->timer != NULL)
		event_free(r->timer);
	free(r);
}

/* Call back once; free unless the DHT still holds a pointer. */
static void
r_done(struct btnet *net, struct net_resolve *r, int status,
    const struct btnet_dht_addr *addrs, size_t n)
{
	btnet_resolve_cb cb = r->cb;
	struct bt_id id = r->id;

	r->cb = NULL;
	r->done = 1;
	if (status == BT_OK)
		net->stats.resolved_dht += r->state >= R_KEY;
	else
		net->stats.resolve_failed++;
	if (cb != NULL)
		cb(r->arg, status, &id, addrs, n);
	if (!r->dht_busy)
		r_free(net, r);
}

static void
r_timer(evutil_socket_t fd, short what, void *arg)
{
	struct net_resolve *r = arg;

	(void)fd;
	(void)what;
	if (r->done)
		return;
	if (r->status == 0 && r->state == R_HOOK)
		r->status = BTNET_EUNREACHABLE;	/* the hook said nothing */
	r_done(r->net, r, r->status, r->addrs, r->n);
}

static void
r_soon(struct net_resolve *r, int status)
{
	struct timeval zero = { 0, 0 };

	r->status = status;
	(void)evtimer_add(r->timer, &zero);
}

static void r_dht_record(void *arg, const struct btnet_dht_result *res);

static int
r_get_record(struct btnet *net, struct net_resolve *r)
{
	int rc;

	r->state = R_RECORD;
	rc = btnet_dht_record_get(net->dht, &r->key, BTNET_ADDR_RECORD_KEY,
	    sizeof(BTNET_ADDR_RECORD_KEY) - 1, r_dht_record, r);
	if (rc == BT_OK)
		r->dht_busy = 1;
	return rc;
}

static void
r_dht_record(void *arg, const struct btnet_dht_result *res)
{
	struct net_resolve *r = arg;
	struct btnet *net = r->net;
	struct bt_id h;
	size_t i;

	r->dht_busy = 0;
	if (r->done) {
		r_free(net, r);
		return;
	}
	if (res->status != BT_OK || res->record == NULL ||
	    btcore_id_hash(&h, res->record->pub.b, 32) != BT_OK ||
	    memcmp(h.b, r->id.b, BT_ID_LEN) != 0 ||
	    btnet_addrs_decode(res->record->value, res->record->value_len,
	    r->addrs, &r->n) != BT_OK) {
		r_done(net, r, res->status == BT_ECLOSED ? BT_ECLOSED :
		    BTNET_EUNREACHABLE, NULL, 0);
		return;
	}
	for (i = r->n; i > 0; i--)
		btnet_cache_put_(net, &r->id, &r->addrs[i - 1], &r->key);
	r_done(net, r, BT_OK, r->addrs, r->n);
}

static void
r_dht_key(void *arg, const struct btnet_dht_result *res)
{
	struct net_resolve *r = arg;
	struct btnet *net = r->net;

	r->dht_busy = 0;
	if (r->done) {
		r_free(net, r);
		return;
	}
	/* the engine checked that the value hashes to its key, our id */
	if (res->status != BT_OK || res->value_len != 32 ||
	    net->closing || net->state == NET_OFFLINE) {
		r_done(net, r, res->status == BT_ECLOSED || net->closing ?
		    BT_ECLOSED : BTNET_EUNREACHABLE, NULL, 0);
		return;
	}
	memcpy(r->key.b, res->value, 32);
	if (r_get_record(net, r) != BT_OK)
		r_done(net, r, BTNET_EUNREACHABLE, NULL, 0);
}

/* Start the DHT step.  BT_OK or an error to report. */
static int
r_dht(struct btnet *net, struct net_resolve *r)
{
	struct net_cache_entry *e = cache_find(net, &r->id);
	int rc;

	if (e != NULL && e->has_key) {
		r->key = e->key;
		return r_get_record(net, r);
	}
	r->state = R_KEY;
	rc = btnet_dht_get_value(net->dht, &r->id, r_dht_key, r);
	if (rc == BT_OK)
		r->dht_busy = 1;
	return rc;
}

void
btnet_resolve_found_(struct btnet *net, uint64_t token,
    const struct btnet_dht_addr *addrs, size_t n)
{
	struct net_resolve *r;
	size_t i;

	for (r = net->resolves; r != NULL; r = r->next)
		if (r->token == token && r->state == R_HOOK && !r->done)
			break;
	if (r == NULL)
		return;
	if (addrs != NULL && n > 0) {
		if (n > BTNET_ADDRS_MAX)
			n = BTNET_ADDRS_MAX;
		for (i = 0; i < n; i++)
			r->addrs[i] = addrs[i];
		r->n = n;
		net->stats.resolved_hook++;
		r->state = R_START;
		r_soon(r, BT_OK);
		return;
	}
	(void)evtimer_del(r->timer);
	if (r_dht(net, r) != BT_OK)
		r_soon(r, BTNET_EUNREACHABLE);
}

void
btnet_resolve_hook_(struct btnet *net, btnet_resolve_fn_ fn, void *arg)
{
	net->resolve_hook = fn;
	net->resolve_hook_arg = arg;
}

static int
r_new(struct btnet *net, const struct bt_id *id, btnet_resolve_cb cb,
    void *arg, struct net_resolve **out)
{
	struct net_resolve *r;

	*out = NULL;
	if (net == NULL || id == NULL || cb == NULL)
		return BT_EINVAL;
	if (memcmp(id->b, net->self.b, BT_ID_LEN) == 0)
		return BT_EINVAL;
	if (net->state == NET_OFFLINE || net->closing)
		return BT_ESTATE;
	if (net->nresolves >= net->cfg.max_requests)
		return BT_EAGAIN;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return BT_ENOMEM;
	if ((r->timer = evtimer_new(net->base, r_timer, r)) == NULL) {
		free(r);
		return BT_ENOMEM;
	}
	r->net = net;
	r->id = *id;
	r->cb = cb;
	r->arg = arg;
	r->token = ++net->resolve_token;
	r->next = net->resolves;
	if (net->resolves != NULL)
		net->resolves->prev = r;
	net->resolves = r;
	net->nresolves++;
	*out = r;
	return BT_OK;
}

int
btnet_resolve(struct btnet *net, const struct bt_id *id, btnet_resolve_cb cb,
    void *arg)
{
	struct net_resolve *r;
	struct net_cache_entry *e;
	struct btnet_dht_node node;
	struct timeval tv;
	int rc;

	if ((rc = r_new(net, id, cb, arg, &r)) != BT_OK)
		return rc;
	/* a route of ours (bt/relay.h) first, while it lasts: it is a way
	   to the node, not an address of it, so the cache never holds it */
	if (btnet_relay_route_addr_(net, id, &r->addrs[0]) == BT_OK) {
		r->n = 1;
		net->stats.resolved_hook++;
		r_soon(r, BT_OK);
		return BT_OK;
	}
	e = cache_find(net, id);
	if (e != NULL && e->naddrs > 0 &&
	    btnet_now_ms_(net) - e->stamp < net->cfg.cache_ms) {
		memcpy(r->addrs, e->addrs, e->naddrs * sizeof(e->addrs[0]));
		r->n = e->naddrs;
		net->stats.resolved_cache++;
		r_soon(r, BT_OK);
		return BT_OK;
	}
	if (btnet_dht_closest(net->dht, id, &node, 1) == 1 &&
	    memcmp(node.id.b, id->b, BT_ID_LEN) == 0) {
		r->addrs[0] = node.addr;
		r->n = 1;
		net->stats.resolved_table++;
		r_soon(r, BT_OK);
		return BT_OK;
	}
	if (net->resolve_hook != NULL) {
		r->state = R_HOOK;
		tv.tv_sec = (time_t)(net->cfg.request_timeout_ms / 1000);
		tv.tv_usec = (suseconds_t)(net->cfg.request_timeout_ms % 1000) *
		    1000;
		(void)evtimer_add(r->timer, &tv);
		if (net->resolve_hook(net, net->resolve_hook_arg, id,
		    r->token) == BT_OK)
			return BT_OK;
		(void)evtimer_del(r->timer);
		r->state = R_START;
	}
	if (r_dht(net, r) != BT_OK)
		r_soon(r, BTNET_EUNREACHABLE);
	return BT_OK;
}

int
btnet_resolve_dht_(struct btnet *net, const struct bt_id *id,
    btnet_resolve_cb cb, void *arg)
{
	struct net_resolve *r;
	int rc;

	if ((rc = r_new(net, id, cb, arg, &r)) != BT_OK)
		return rc;
	if (r_dht(net, r) != BT_OK)
		r_soon(r, BTNET_EUNREACHABLE);
	return BT_OK;
}

void
btnet_resolve_cancel_(struct btnet *net, btnet_resolve_cb cb, void *arg)
{
	struct net_resolve *r, *next;

	for (r = net->resolves; r != NULL; r = next) {
		next = r->next;
		if (r->cb != cb || r->arg != arg || r->done)
			continue;
		r->cb = NULL;
		r->done = 1;
		if (!r->dht_busy)
			r_free(net, r);
	}
}

void
btnet_resolve_fail_all_(struct btnet *net, int status)
{
	struct net_resolve *r;

	for (r = net->resolves; r != NULL; r = r->next)
		if (!r->done) {
			r->n = 0;
			r->state = R_START;
			r_soon(r, status);
		}
}

/* ---- publishing -------------------------------------------------------- */

static void
published(void *arg, const struct btnet_dht_result *res)
{
	struct btnet *net = arg;

	(void)res;
	if (net->publishing > 0)
		net->publishing--;
}

static uint64_t
wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int
btnet_publish_(struct btnet *net)
{
	static const uint8_t any[16];
	struct btnet_dht_addr addrs[BTNET_LISTEN_MAX];
	struct btnet_dht_stats ds;
	struct bt_record rec;
	uint8_t value[2 + BTNET_LISTEN_MAX * 19];
	size_t i, n = 0, len;
	uint64_t seq;
	int rc;

	if (net->dht == NULL || net->closing)
		return BT_ESTATE;
	btnet_dht_stats(net->dht, &ds);
	for (i = 0; i < net->cfg.nlisten; i++) {
		if (btnet_addr_parse_(net->listen_addr[i], &addrs[n]) != BT_OK)
			continue;
		if (memcmp(addrs[n].ip, any, addrs[n].family == 4 ? 4 : 16)
		    == 0) {
			/* a wildcard: the address peers see us at */
			if (!ds.has_external ||
			    ds.external.family != addrs[n].family)
				continue;
			memcpy(addrs[n].ip, ds.external.ip, 16);
		}
		n++;
	}
	if (n == 0)
		return BT_ENOTFOUND;
	if ((rc = btnet_addrs_encode(addrs, n, value, sizeof(value), &len))
	    != BT_OK)
		return rc;
	seq = wall_ms();
	if (seq <= net->addr_seq)
		seq = net->addr_seq + 1;
	if ((rc = btcore_record_sign(&rec, net->signer, BTNET_ADDR_RECORD_KEY,
	    sizeof(BTNET_ADDR_RECORD_KEY) - 1, value, len, seq)) != BT_OK)
		return rc;
	if ((rc = btnet_dht_record_put(net->dht, &rec, published, net)) !=
	    BT_OK)
		return rc;
	net->addr_seq = seq;
	net->publishing++;
	/* our public key, stored under its hash: our node id */
	if (btnet_dht_put_value(net->dht, net->signer->pub.b, 32, published,
	    net) == BT_OK)
		net->publishing++;
	net->published_ms = btnet_now_ms_(net);
	net->stats.published++;
	return BT_OK;
}

void
btnet_resolve_tick_(struct btnet *net)
{
	struct btnet_dht_stats ds;
	uint64_t now = btnet_now_ms_(net);

	if (net->publishing > 0)
		return;
	if (net->published_ms != 0 &&
	    now - net->published_ms < net->cfg.republish_ms)
		return;
	btnet_dht_stats(net->dht, &ds);
	if (ds.table_size > 0)
		(void)btnet_publish_(net);
}

int
btnet_resolve_init_(struct btnet *net)
{
	net->cache = calloc(NET_CACHE_MAX, sizeof(*net->cache));
	return net->cache == NULL ? BT_ENOMEM : BT_OK;
}

void
btnet_resolve_close_(struct btnet *net)
{
	struct net_resolve *r;

	while ((r = net->resolves) != NULL) {
		r->dht_busy = 0;	/* the engine is gone */
		if (!r->done)
			r_done(net, r, BT_ECLOSED, NULL, 0);
		else
			r_free(net, r);
	}
	free(net->cache);
	net->cache = NULL;
}
