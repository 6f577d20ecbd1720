/*
 * pubsub.c - channels, their meshes and signed flooding (bt/pubsub.h)
 * over the node layer: the DHT bag of a channel for rendezvous,
 * "pubsub-graft"/"pubsub-prune" requests for the mesh, "pubsub" messages
 * for the traffic.
 */
#include <bt/dht.h>
#include <bt/hash.h>
#include <bt/key.h>
#include <bt/msg.h>
#include <bt/net.h>
#include <bt/pubsub.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "btnet-internal.h"
#include "net-internal.h"

#define PS_CAND_MAX	64	/* candidates kept from a bag query */
#define PS_QUERY_LIMIT	64	/* values asked from the bag */
#define PS_TICK_MAX_MS	1000

static const char sig_domain[] = "BlockTree pubsub v1";	/* + its NUL */
static const char id_domain[] = "BlockTree pubsub id v1";

struct ps_chan {
	struct ps_chan *next;
	struct bt_id id;
	btnet_pubsub_cb cb;
	void *arg;
	struct bt_id mesh[BTNET_PUBSUB_MESH_MAX];
	size_t nmesh;
	struct bt_id pending[BTNET_PUBSUB_MESH_MAX];	/* grafts sent */
	size_t npending;
	struct bt_id cand[PS_CAND_MAX];
	size_t ncand;
	/* peers that refused or failed a graft: skipped until refresh_ms */
	struct bt_id avoid[PS_CAND_MAX];
	uint64_t avoid_until[PS_CAND_MAX];
	size_t avoid_pos;
	uint64_t next_refresh;
	int adding, querying;
};

struct net_pubsub {
	struct btnet *net;
	struct btnet_pubsub_config cfg;
	struct ps_chan *chans;
	size_t nchans;
	struct event *tick;
	uint64_t seq;
	struct bt_id *seen;		/* ring of cfg.seen ids */
	size_t seen_pos, nseen;
	/* counters, for tests */
	uint64_t delivered, duplicates, forged, dropped, forwarded;
};

/* A DHT operation or graft in flight: names what it is for by id, as the
 * channel may be gone when it ends. */
struct ps_op {
	struct btnet *net;
	struct bt_id chan;
	struct bt_id peer;
};

/* ---- helpers ---------------------------------------------------------- */

static uint64_t
wall_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void
put_be64(uint8_t *p, uint64_t v)
{
	btnet_put_be32_(p, (uint32_t)(v >> 32));
	btnet_put_be32_(p + 4, (uint32_t)v);
}

static int
id_eq(const struct bt_id *a, const struct bt_id *b)
{
	return memcmp(a->b, b->b, BT_ID_LEN) == 0;
}

static struct ps_chan *
chan_find(const struct net_pubsub *ps, const struct bt_id *id)
{
	struct ps_chan *c;

	if (ps == NULL)
		return NULL;
	for (c = ps->chans; c != NULL; c = c->next)
		if (id_eq(&c->id, id))
			return c;
	return NULL;
}

static int
list_has(const struct bt_id *list, size_t n, const struct bt_id *id)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (id_eq(&list[i], id))
			return 1;
	return 0;
}

static int
list_remove(struct bt_id *list, size_t *n, const struct bt_id *id)
{
	size_t i;

	for (i = 0; i < *n; i++)
		if (id_eq(&list[i], id)) {
			list[i] = list[*n - 1];
			(*n)--;
			return 1;
		}
	return 0;
}

/* The message id of (channel, key, seq). */
static int
msg_id(struct bt_id *out, const struct bt_id *chan,
    const struct bt_pubkey *key, uint64_t seq)
{
	uint8_t buf[sizeof(id_domain) - 1 + 32 + 32 + 8];
	size_t n = sizeof(id_domain) - 1;

	memcpy(buf, id_domain, n);
	memcpy(buf + n, chan->b, 32);
	memcpy(buf + n + 32, key->b, 32);
	put_be64(buf + n + 64, seq);
	return btcore_id_hash(out, buf, sizeof(buf));
}

/* The signed bytes; caller frees. */
static uint8_t *
sig_input(const struct bt_id *chan, uint64_t seq, const uint8_t *data,
    size_t len, size_t *outlen)
{
	size_t n = sizeof(sig_domain), total = n + 32 + 8 + len;
	uint8_t *buf = malloc(total);

	if (buf == NULL)
		return NULL;
	memcpy(buf, sig_domain, n);
	memcpy(buf + n, chan->b, 32);
	put_be64(buf + n + 32, seq);
	if (len > 0)
		memcpy(buf + n + 40, data, len);
	*outlen = total;
	return buf;
}

static int
seen_has(const struct net_pubsub *ps, const struct bt_id *id)
{
	size_t i;

	for (i = 0; i < ps->nseen; i++)
		if (id_eq(&ps->seen[i], id))
			return 1;
	return 0;
}

static void
seen_add(struct net_pubsub *ps, const struct bt_id *id)
{
	ps->seen[ps->seen_pos] = *id;
	ps->seen_pos = (ps->seen_pos + 1) % ps->cfg.seen;
	if (ps->nseen < ps->cfg.seen)
		ps->nseen++;
}

/* Order candidates by SHA-256(self || candidate): a different but fixed
 * order at every node. */
static void
cand_sort(const struct btnet *net, struct bt_id *c, size_t n)
{
	struct bt_id key[PS_CAND_MAX], tk, tc;
	uint8_t buf[64];
	size_t i, j;

	memcpy(buf, net->self.b, 32);
	for (i = 0; i < n; i++) {
		memcpy(buf + 32, c[i].b, 32);
		if (btcore_id_hash(&key[i], buf, sizeof(buf)) != BT_OK)
			memset(&key[i], 0, sizeof(key[i]));
	}
	for (i = 1; i < n; i++) {	/* insertion sort, n <= 64 */
		tk = key[i];
		tc = c[i];
		for (j = i; j > 0 && memcmp(key[j - 1].b, tk.b, 32) > 0; j--) {
			key[j] = key[j - 1];
			c[j] = c[j - 1];
		}
		key[j] = tk;
		c[j] = tc;
	}
}

/* ---- sending ------------------------------------------------------------ */

static int
send_key_msg(struct btnet *net, const struct bt_id *to,
    enum btcore_msg_type type, const struct bt_id *chan)
{
	struct btcore_msg *m = NULL;
	int rc;

	if ((rc = btcore_msg_new(&m, type, btnet_tid_(net))) != BT_OK)
		return rc;
	if ((rc = btcore_msg_set_bin(m, BTCORE_MSG_F_KEY, chan->b, 32)) ==
	    BT_OK)
		rc = btnet_send_msg_(net, to, m);
	btcore_msg_free(m);
	return rc;
}

static void fill_mesh(struct btnet *net, struct ps_chan *c);

static void
graft_done(struct btnet *net, void *ctx, int status,
    const struct btcore_msg *reply)
{
	struct ps_op *op = ctx;
	struct net_pubsub *ps = net->pubsub;
	struct ps_chan *c;
	int ok = 0;

	if (net->closing || ps == NULL ||
	    (c = chan_find(ps, &op->chan)) == NULL)
		goto out;
	(void)list_remove(c->pending, &c->npending, &op->peer);
	if (status == BT_OK &&
	    btcore_msg_type(reply) == BTCORE_MSG_PUBSUB_GRAFT_REP &&
	    btcore_msg_get_bool(reply, BTCORE_MSG_F_STORED, &ok) == BT_OK &&
	    ok && btnet_peer_find_(net, &op->peer) != NULL) {
		if (list_has(c->mesh, c->nmesh, &op->peer))
			goto out;
		if (c->nmesh < ps->cfg.mesh_max) {
			c->mesh[c->nmesh++] = op->peer;
			goto out;
		}
		(void)send_key_msg(net, &op->peer, BTCORE_MSG_PUBSUB_PRUNE,
		    &c->id);
	}
	/* refused, gone or full: not (or no longer) a mesh peer */
	(void)list_remove(c->mesh, &c->nmesh, &op->peer);
	c->avoid[c->avoid_pos] = op->peer;
	c->avoid_until[c->avoid_pos] = btnet_now_ms_(net) + ps->cfg.refresh_ms;
	c->avoid_pos = (c->avoid_pos + 1) % PS_CAND_MAX;
	fill_mesh(net, c);
out:
	free(op);
}

static void
graft(struct btnet *net, struct ps_chan *c, const struct bt_id *peer)
{
	struct btcore_msg *m = NULL;
	struct ps_op *op;

	if (c->npending >= BTNET_PUBSUB_MESH_MAX ||
	    list_has(c->pending, c->npending, peer))
		return;
	if ((op = calloc(1, sizeof(*op))) == NULL)
		return;
	op->net = net;
	op->chan = c->id;
	op->peer = *peer;
	if (btcore_msg_new(&m, BTCORE_MSG_PUBSUB_GRAFT_REQ, btnet_tid_(net))
	    != BT_OK ||
	    btcore_msg_set_bin(m, BTCORE_MSG_F_KEY, c->id.b, 32) != BT_OK ||
	    btnet_request_(net, peer, m, graft_done, op) != BT_OK) {
		free(op);
		goto out;
	}
	c->pending[c->npending++] = *peer;
out:
	btcore_msg_free(m);
}

static int
avoided(struct btnet *net, const struct ps_chan *c, const struct bt_id *id)
{
	uint64_t now = btnet_now_ms_(net);
	size_t i;

	for (i = 0; i < PS_CAND_MAX; i++)
		if (c->avoid_until[i] > now && id_eq(&c->avoid[i], id))
			return 1;
	return 0;
}

/* Graft candidates until the mesh and the grafts in flight reach "mesh". */
static void
fill_mesh(struct btnet *net, struct ps_chan *c)
{
	struct net_pubsub *ps = net->pubsub;
	size_t i;

	for (i = 0; i < c->ncand; i++) {
		if (c->nmesh + c->npending >= ps->cfg.mesh)
			break;
		if (list_has(c->mesh, c->nmesh, &c->cand[i]) ||
		    list_has(c->pending, c->npending, &c->cand[i]) ||
		    avoided(net, c, &c->cand[i]))
			continue;
		graft(net, c, &c->cand[i]);
	}
}

/* ---- rendezvous ------------------------------------------------------- */

static void
bag_added(void *arg, const struct btnet_dht_result *res)
{
	struct ps_op *op = arg;
	struct ps_chan *c;

	(void)res;
	if (!op->net->closing && (c = chan_find(op->net->pubsub, &op->chan))
	    != NULL)
		c->adding = 0;
	free(op);
}

static void
bag_queried(void *arg, const struct btnet_dht_result *res)
{
	struct ps_op *op = arg;
	struct btnet *net = op->net;
	struct ps_chan *c;
	struct bt_id id;
	size_t i;

	if (net->closing || (c = chan_find(net->pubsub, &op->chan)) == NULL)
		goto out;
	c->querying = 0;
	if (res->status != BT_OK)
		goto out;
	c->ncand = 0;
	for (i = 0; i < res->nvalues && c->ncand < PS_CAND_MAX; i++) {
		memcpy(id.b, res->values[i], 32);
		if (id_eq(&id, &net->self) || list_has(c->cand, c->ncand, &id))
			continue;
		c->cand[c->ncand++] = id;
	}
	cand_sort(net, c->cand, c->ncand);
	fill_mesh(net, c);
out:
	free(op);
}

static void
refresh(struct btnet *net, struct ps_chan *c, uint64_t now)
{
	struct net_pubsub *ps = net->pubsub;
	struct btnet_dht *dht;
	struct ps_op *op;
	size_t i;

	c->next_refresh = now + (c->nmesh < ps->cfg.mesh ? ps->cfg.fast_ms :
	    ps->cfg.refresh_ms);
	if (net->state == NET_OFFLINE)
		return;
	/* the mesh peers again: keeps the connections and both views */
	for (i = 0; i < c->nmesh; i++)
		graft(net, c, &c->mesh[i]);
	dht = btnet_dht(net);
	if (!c->adding && (op = calloc(1, sizeof(*op))) != NULL) {
		op->net = net;
		op->chan = c->id;
		if (btnet_dht_bag_add(dht, &c->id, net->self.b, bag_added, op)
		    == BT_OK)
			c->adding = 1;
		else
			free(op);
	}
	if (!c->querying && (op = calloc(1, sizeof(*op))) != NULL) {
		op->net = net;
		op->chan = c->id;
		if (btnet_dht_bag_query(dht, BTNET_DHT_BAG_RECENT, &c->id,
		    PS_QUERY_LIMIT, NULL, bag_queried, op) == BT_OK)
			c->querying = 1;
		else
			free(op);
	}
}

static uint32_t
tick_ms(const struct net_pubsub *ps)
{
	uint32_t t = ps->cfg.fast_ms < ps->cfg.refresh_ms ? ps->cfg.fast_ms :
	    ps->cfg.refresh_ms;

	return t < PS_TICK_MAX_MS ? t : PS_TICK_MAX_MS;
}

static void
arm(struct net_pubsub *ps, uint32_t ms)
{
	struct timeval tv;

	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	(void)evtimer_add(ps->tick, &tv);
}

static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct net_pubsub *ps = arg;
	struct btnet *net = ps->net;
	uint64_t now = btnet_now_ms_(net);
	struct ps_chan *c;

	(void)fd;
	(void)what;
	for (c = ps->chans; c != NULL; c = c->next)
		if (now >= c->next_refresh)
			refresh(net, c, now);
	if (ps->chans != NULL)
		arm(ps, tick_ms(ps));
}

/* ---- incoming ------------------------------------------------------- */

static int
on_graft(struct btnet *net, void *arg, struct net_conn *nc,
    const struct btcore_msg *m, const uint8_t *raw, size_t len)
{
	struct net_pubsub *ps = arg;
	struct btcore_msg *rep = NULL;
	struct bt_id chan, from = nc->peer->id;
	struct ps_chan *c;
	const uint8_t *k;
	size_t klen;
	int ok = 0, rc;

	(void)raw;
	(void)len;
	if (btcore_msg_get_bin(m, BTCORE_MSG_F_KEY, &k, &klen) != BT_OK)
		return BT_EFORMAT;
	memcpy(chan.b, k, 32);
	if ((c = chan_find(ps, &chan)) != NULL) {
		if (list_has(c->mesh, c->nmesh, &from))
			ok = 1;
		else if (c->nmesh < ps->cfg.mesh_max) {
			c->mesh[c->nmesh++] = from;
			ok = 1;
		}
	}
	if ((rc = btcore_msg_new(&rep, BTCORE_MSG_PUBSUB_GRAFT_REP,
	    btcore_msg_tid(m))) == BT_OK &&
	    (rc = btcore_msg_set_bool(rep, BTCORE_MSG_F_STORED, ok)) == BT_OK)
		rc = btnet_send_msg_(net, &from, rep);
	btcore_msg_free(rep);
	return rc;
}

static int
on_prune(struct btnet *net, void *arg, struct net_conn *nc,
    const struct btcore_msg *m, const uint8_t *raw, size_t len)
{
	struct net_pubsub *ps = arg;
	struct bt_id chan;
	struct ps_chan *c;
	const uint8_t *k;
	size_t klen;

	(void)net;
	(void)raw;
	(void)len;
	if (btcore_msg_get_bin(m, BTCORE_MSG_F_KEY, &k, &klen) != BT_OK)
		return BT_EFORMAT;
	memcpy(chan.b, k, 32);
	if ((c = chan_find(ps, &chan)) != NULL)
		(void)list_remove(c->mesh, &c->nmesh, &nc->peer->id);
	return BT_OK;
}

/* Send the encoded message to the mesh of @p c except @p skip. */
static void
forward(struct btnet *net, struct ps_chan *c, const struct bt_id *skip,
    const struct btcore_msg *m)
{
	struct net_pubsub *ps = net->pubsub;
	struct bt_id gone[BTNET_PUBSUB_MESH_MAX];
	size_t i, ngone = 0;
	int rc;

	for (i = 0; i < c->nmesh; i++) {
		if (skip != NULL && id_eq(&c->mesh[i], skip))
			continue;
		rc = btnet_send_msg_(net, &c->mesh[i], m);
		if (rc == BT_OK)
			ps->forwarded++;
		else if (rc == BT_ECLOSED)
			gone[ngone++] = c->mesh[i];
		else
			ps->dropped++;
	}
	for (i = 0; i < ngone; i++)
		(void)list_remove(c->mesh, &c->nmesh, &gone[i]);
}

static int
on_message(struct btnet *net, void *arg, struct net_conn *nc,
    const struct btcore_msg *m, const uint8_t *raw, size_t rawlen)
{
	struct net_pubsub *ps = arg;
	struct btcore_msg *fw = NULL;
	const uint8_t *k, *idb, *pk, *data, *sigb;
	size_t klen, idlen, pklen, len, siglen, slen;
	struct bt_id chan, mid, want, from, via = nc->peer->id;
	struct bt_pubkey key;
	struct bt_sig sig;
	struct ps_chan *c;
	int64_t seq, hops;
	uint8_t *signed_bytes = NULL;
	btnet_pubsub_cb cb;
	void *cbarg;
	int rc = BT_EFORMAT;

	(void)raw;
	(void)rawlen;
	if (btcore_msg_get_bin(m, BTCORE_MSG_F_KEY, &k, &klen) != BT_OK ||
	    btcore_msg_get_bin(m, BTCORE_MSG_F_ID, &idb, &idlen) != BT_OK ||
	    btcore_msg_get_bin(m, BTCORE_MSG_F_PUBKEY, &pk, &pklen) != BT_OK ||
	    btcore_msg_get_int64(m, BTCORE_MSG_F_SEQ, &seq) != BT_OK ||
	    btcore_msg_get_int64(m, BTCORE_MSG_F_HOPS, &hops) != BT_OK ||
	    btcore_msg_get_bin(m, BTCORE_MSG_F_VALUE, &data, &len) != BT_OK ||
	    btcore_msg_get_bin(m, BTCORE_MSG_F_SIG, &sigb, &siglen) != BT_OK)
		goto drop;
	memcpy(chan.b, k, 32);
	memcpy(mid.b, idb, 32);
	memcpy(key.b, pk, 32);
	memcpy(sig.b, sigb, 64);
	rc = BT_ENOTFOUND;
	if ((c = chan_find(ps, &chan)) == NULL)
		goto drop;
	rc = BT_ERANGE;
	if (len > BTNET_PUBSUB_PAYLOAD_MAX || hops > (int64_t)ps->cfg.ttl)
		goto drop;
	if (seen_has(ps, &mid)) {
		ps->duplicates++;
		rc = BT_OK;
		goto out;
	}
	rc = BT_EVERIFY;
	if (msg_id(&want, &chan, &key, (uint64_t)seq) != BT_OK ||
	    !id_eq(&want, &mid) || btcore_pubkey_id(&key, &from) != BT_OK ||
	    id_eq(&from, &net->self)) {
		ps->forged++;
		goto out;
	}
	if ((signed_bytes = sig_input(&chan, (uint64_t)seq, data, len,
	    &slen)) == NULL) {
		rc = BT_ENOMEM;
		goto drop;
	}
	if (btcore_sig_verify(&key, signed_bytes, slen, &sig) != BT_OK) {
		ps->forged++;
		goto out;
	}
	seen_add(ps, &mid);
	if (hops + 1 <= (int64_t)ps->cfg.ttl) {
		/* the same message, one hop further */
		rc = btcore_msg_new(&fw, BTCORE_MSG_PUBSUB, btcore_msg_tid(m));
		if (rc == BT_OK)
			rc = btcore_msg_set_bin(fw, BTCORE_MSG_F_KEY, k, 32);
		if (rc == BT_OK)
			rc = btcore_msg_set_bin(fw, BTCORE_MSG_F_ID, idb, 32);
		if (rc == BT_OK)
			rc = btcore_msg_set_bin(fw, BTCORE_MSG_F_PUBKEY, pk, 32);
		if (rc == BT_OK)
			rc = btcore_msg_set_int64(fw, BTCORE_MSG_F_SEQ, seq);
		if (rc == BT_OK)
			rc = btcore_msg_set_int64(fw, BTCORE_MSG_F_HOPS,
			    hops + 1);
		if (rc == BT_OK)
			rc = btcore_msg_set_bin(fw, BTCORE_MSG_F_VALUE, data,
			    len);
		if (rc == BT_OK)
			rc = btcore_msg_set_bin(fw, BTCORE_MSG_F_SIG, sigb, 64);
		if (rc == BT_OK)
			forward(net, c, &via, fw);
		else
			ps->dropped++;
	}
	ps->delivered++;
	cb = c->cb;
	cbarg = c->arg;
	/* last: the callback may leave the channel */
	cb(cbarg, &chan, &from, data, len);
	rc = BT_OK;
	goto out;
drop:
	ps->dropped++;
out:
	btcore_msg_free(fw);
	free(signed_bytes);
	return rc;
}

/* The last connection to @p id ended: out of every mesh. */
static void
on_peer(struct btnet *net, void *arg, const struct bt_id *id, int up)
{
	struct net_pubsub *ps = arg;
	struct ps_chan *c;

	(void)net;
	if (up)
		return;
	for (c = ps->chans; c != NULL; c = c->next)
		(void)list_remove(c->mesh, &c->nmesh, id);
}

/* ---- the API ------------------------------------------------------------ */

void
btnet_pubsub_config_init(struct btnet_pubsub_config *cfg)
{
	if (cfg == NULL)
		return;
	memset(cfg, 0, sizeof(*cfg));
	cfg->mesh = 6;
	cfg->mesh_max = 12;
	cfg->ttl = 16;
	cfg->fast_ms = 1000;
	cfg->refresh_ms = 30000;
	cfg->seen = 4096;
}

int
btnet_pubsub_configure(struct btnet *net,
    const struct btnet_pubsub_config *cfg)
{
	struct net_pubsub *ps;
	struct bt_id *seen;

	if (net == NULL || cfg == NULL || net->pubsub == NULL)
		return BT_EINVAL;
	ps = net->pubsub;
	if (cfg->mesh == 0 || cfg->mesh > cfg->mesh_max ||
	    cfg->mesh_max > BTNET_PUBSUB_MESH_MAX || cfg->ttl == 0 ||
	    cfg->ttl > BTNET_PUBSUB_TTL_MAX || cfg->seen < 16 ||
	    cfg->seen > 1048576 || cfg->fast_ms == 0 || cfg->refresh_ms == 0)
		return BT_ERANGE;
	if (cfg->seen != ps->cfg.seen) {
		if ((seen = calloc(cfg->seen, sizeof(*seen))) == NULL)
			return BT_ENOMEM;
		free(ps->seen);
		ps->seen = seen;
		ps->seen_pos = ps->nseen = 0;
	}
	ps->cfg = *cfg;
	return BT_OK;
}

int
btnet_pubsub_join(struct btnet *net, const struct bt_id *channel,
    btnet_pubsub_cb cb, void *arg)
{
	struct net_pubsub *ps;
	struct ps_chan *c;

	if (net == NULL || channel == NULL || cb == NULL ||
	    net->pubsub == NULL)
		return BT_EINVAL;
	ps = net->pubsub;
	if ((c = chan_find(ps, channel)) != NULL) {
		c->cb = cb;
		c->arg = arg;
		return BT_OK;
	}
	if (ps->nchans >= BTNET_PUBSUB_CHANNELS_MAX)
		return BT_ENOSPC;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return BT_ENOMEM;
	c->id = *channel;
	c->cb = cb;
	c->arg = arg;
	c->next = ps->chans;
	ps->chans = c;
	ps->nchans++;
	/* refresh from the loop, at once */
	arm(ps, 0);
	return BT_OK;
}

int
btnet_pubsub_publish(struct btnet *net, const struct bt_id *channel,
    const uint8_t *data, size_t len)
{
	struct net_pubsub *ps;
	struct btcore_msg *m = NULL;
	struct ps_chan *c;
	struct bt_id mid;
	struct bt_sig sig;
	uint8_t *sb = NULL;
	size_t slen;
	uint64_t seq;
	int rc;

	if (net == NULL || channel == NULL || (data == NULL && len > 0) ||
	    net->pubsub == NULL)
		return BT_EINVAL;
	ps = net->pubsub;
	if ((c = chan_find(ps, channel)) == NULL)
		return BT_ENOTFOUND;
	if (len > BTNET_PUBSUB_PAYLOAD_MAX)
		return BT_ETOOBIG;
	if (net->state == NET_OFFLINE || net->closing)
		return BT_ESTATE;
	seq = ++ps->seq & (uint64_t)INT64_MAX;
	if ((rc = msg_id(&mid, channel, &net->signer->pub, seq)) != BT_OK)
		goto out;
	if ((sb = sig_input(channel, seq, data, len, &slen)) == NULL) {
		rc = BT_ENOMEM;
		goto out;
	}
	if ((rc = btcore_signer_sign(net->signer, sb, slen, &sig)) != BT_OK)
		goto out;
	if ((rc = btcore_msg_new(&m, BTCORE_MSG_PUBSUB, btnet_tid_(net))) !=
	    BT_OK)
		goto out;
	if ((rc = btcore_msg_set_bin(m, BTCORE_MSG_F_KEY, channel->b, 32)) ==
	    BT_OK &&
	    (rc = btcore_msg_set_bin(m, BTCORE_MSG_F_ID, mid.b, 32)) == BT_OK &&
	    (rc = btcore_msg_set_bin(m, BTCORE_MSG_F_PUBKEY,
	    net->signer->pub.b, 32)) == BT_OK &&
	    (rc = btcore_msg_set_int64(m, BTCORE_MSG_F_SEQ, (int64_t)seq)) ==
	    BT_OK &&
	    (rc = btcore_msg_set_int64(m, BTCORE_MSG_F_HOPS, 0)) == BT_OK &&
	    (rc = btcore_msg_set_bin(m, BTCORE_MSG_F_VALUE, data, len)) ==
	    BT_OK)
		rc = btcore_msg_set_bin(m, BTCORE_MSG_F_SIG, sig.b, 64);
	if (rc != BT_OK)
		goto out;
	seen_add(ps, &mid);
	forward(net, c, NULL, m);
out:
	btcore_msg_free(m);
	free(sb);
	return rc;
}

void
btnet_pubsub_leave(struct btnet *net, const struct bt_id *channel)
{
	struct net_pubsub *ps;
	struct ps_chan **cp, *c;
	size_t i;

	if (net == NULL || channel == NULL || (ps = net->pubsub) == NULL)
		return;
	for (cp = &ps->chans; *cp != NULL; cp = &(*cp)->next)
		if (id_eq(&(*cp)->id, channel))
			break;
	if ((c = *cp) == NULL)
		return;
	if (!net->closing && net->state != NET_OFFLINE)
		for (i = 0; i < c->nmesh; i++)
			(void)send_key_msg(net, &c->mesh[i],
			    BTCORE_MSG_PUBSUB_PRUNE, &c->id);
	*cp = c->next;
	ps->nchans--;
	free(c);
}

size_t
btnet_pubsub_peers(const struct btnet *net, const struct bt_id *channel,
    struct bt_id *out, size_t max)
{
	const struct ps_chan *c;
	size_t i;

	if (net == NULL || channel == NULL ||
	    (c = chan_find(net->pubsub, channel)) == NULL)
		return 0;
	for (i = 0; out != NULL && i < c->nmesh && i < max; i++)
		out[i] = c->mesh[i];
	return c->nmesh;
}

void
btnet_pubsub_counts_(const struct btnet *net, uint64_t *delivered,
    uint64_t *duplicates, uint64_t *forged)
{
	const struct net_pubsub *ps = net->pubsub;

	*delivered = ps != NULL ? ps->delivered : 0;
	*duplicates = ps != NULL ? ps->duplicates : 0;
	*forged = ps != NULL ? ps->forged : 0;
}

/* ---- the module --------------------------------------------------------- */

int
btnet_pubsub_init_(struct btnet *net)
{
	struct net_pubsub *ps;
	int rc;

	if ((ps = calloc(1, sizeof(*ps))) == NULL)
		return BT_ENOMEM;
	ps->net = net;
	btnet_pubsub_config_init(&ps->cfg);
	ps->seq = wall_us();
	net->pubsub = ps;
	if ((ps->seen = calloc(ps->cfg.seen, sizeof(*ps->seen))) == NULL ||
	    (ps->tick = evtimer_new(net->base, on_tick, ps)) == NULL)
		return BT_ENOMEM;
	if ((rc = btnet_op_handle_(net, BTCORE_MSG_PUBSUB, on_message, ps)) !=
	    BT_OK ||
	    (rc = btnet_op_handle_(net, BTCORE_MSG_PUBSUB_GRAFT_REQ, on_graft,
	    ps)) != BT_OK ||
	    (rc = btnet_op_handle_(net, BTCORE_MSG_PUBSUB_PRUNE, on_prune, ps))
	    != BT_OK)
		return rc;
	return btnet_peer_hook_(net, on_peer, ps);
}

void
btnet_pubsub_close_(struct btnet *net)
{
	struct net_pubsub *ps = net->pubsub;
	struct ps_chan *c;

	if (ps == NULL)
		return;
	while ((c = ps->chans) != NULL) {
		ps->chans = c->next;
		free(c);
	}
	if (ps->tick != NULL)
		event_free(ps->tick);
	free(ps->seen);
	free(ps);
	net->pubsub = NULL;
}
