/*
 * Fuzz target: btnet_dht_input.  An engine with a one-contact table and
 * requests of every kind pending (transaction ids 1, 2, 3, ... as the
 * environment's generator counts) receives the input from that contact.
 * Whatever the input, the table holds only nodes that answered a ping
 * (here: the one contact), pending requests stay bounded, and ticking
 * past every timeout ends every operation with its callback.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <bt/dht.h>
#include <bt/msg.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fenv {
	uint64_t now, counter;
	int64_t last_tid;
	int calls;
};

static uint64_t
f_now(void *ctx)
{
	return ((struct fenv *)ctx)->now;
}

static int
f_random(void *ctx, void *buf, size_t len)
{
	struct fenv *e = ctx;
	uint64_t v;

	if (len == 8) {
		v = ++e->counter << 1;	/* transaction ids 1, 2, 3, ... */
		memcpy(buf, &v, 8);
	} else {
		memset(buf, 0x42, len);
	}
	return BT_OK;
}

static int
f_send(void *ctx, const struct btnet_dht_addr *to, const struct bt_id *to_id,
    const uint8_t *msg, size_t len)
{
	struct fenv *e = ctx;
	int64_t tid;

	(void)to;
	(void)to_id;
	if (btcore_msg_peek(msg, len, &tid, NULL) == BT_OK)
		e->last_tid = tid;
	return BT_OK;
}

static void
f_cb(void *arg, const struct btnet_dht_result *res)
{
	(void)res;
	((struct fenv *)arg)->calls++;
}

static int
feed(struct btnet_dht *dht, struct btcore_msg *m,
    const struct btnet_dht_addr *a, const struct bt_id *id)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc = -1;

	if (btcore_msg_encode(m, &buf, &len) == BT_OK)
		rc = btnet_dht_input(dht, a, id, buf, len);
	btcore_msg_bytes_free(buf);
	btcore_msg_free(m);
	return rc;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct btnet_dht_memstore *ms = NULL;
	struct btnet_dht_storage st;
	struct btnet_dht_stats stats;
	struct btnet_dht_env env;
	struct btnet_dht_addr a;
	struct btnet_dht_node at;
	struct btnet_dht *dht = NULL;
	struct btcore_msg *m = NULL;
	struct bt_id self, peer, key;
	struct bt_pubkey pub;
	struct fenv e;
	int started = 0, i, rc;

	memset(&e, 0, sizeof(e));
	e.now = 1000;
	env.now_ms = f_now;
	env.random = f_random;
	env.send = f_send;
	env.ctx = &e;
	memset(self.b, 0x80, BT_ID_LEN);
	memset(peer.b, 0x77, BT_ID_LEN);
	memset(&a, 0, sizeof(a));
	a.family = 4;
	a.ip[0] = 127;
	a.ip[1] = 1;
	a.ip[2] = 2;
	a.ip[3] = 1;
	a.port = 4000;
	if (btnet_dht_memstore_new(&ms, NULL) != BT_OK)
		abort();
	btnet_dht_memstore_storage(ms, &st);
	if (btnet_dht_new(&dht, &env, &st, &self, NULL) != BT_OK)
		abort();
	/* the contact pings us; we ping it (tid 1); it answers */
	if (btcore_msg_new(&m, BTCORE_MSG_PING_REQ, 99) != BT_OK ||
	    feed(dht, m, &a, &peer) != BT_OK || e.last_tid != 1 ||
	    btcore_msg_new(&m, BTCORE_MSG_PING_REP, 1) != BT_OK ||
	    feed(dht, m, &a, &peer) != BT_OK)
		abort();
	/* tids 2..: peers, ref, namespace-ref, popular at, a put's peers */
	memset(key.b, 0x81, BT_ID_LEN);
	memset(pub.b, 3, sizeof(pub.b));
	at.id = peer;
	at.addr = a;
	if (btnet_dht_find_nodes(dht, &key, f_cb, &e) == BT_OK)
		started++;
	if (btnet_dht_get_value(dht, &key, f_cb, &e) == BT_OK)
		started++;
	if (btnet_dht_record_get(dht, &pub, "head", 4, f_cb, &e) == BT_OK)
		started++;
	if (btnet_dht_bag_query(dht, BTNET_DHT_BAG_POPULAR, &key, 5, &at,
	    f_cb, &e) == BT_OK)
		started++;
	if (btnet_dht_put_value(dht, "hello", 5, f_cb, &e) == BT_OK)
		started++;

	rc = btnet_dht_input(dht, &a, &peer, data, size);
	/* twice: a reply is consumed the first time */
	if (btnet_dht_input(dht, &a, &peer, data, size) == BT_OK &&
	    rc != BT_OK && rc != BT_EPROTO)
		abort();	/* refused once, accepted after? */
	btnet_dht_stats(dht, &stats);
	if (stats.table_size > 1 || stats.pending > BTNET_DHT_PENDING_MAX)
		abort();
	for (i = 0; i < 8; i++) {
		e.now += BT_REQUEST_TIMEOUT_MS;
		if (btnet_dht_tick(dht) != BT_OK)
			abort();
	}
	if (e.calls != started)
		abort();	/* every callback exactly once */
	btnet_dht_free(dht);
	btnet_dht_memstore_free(ms);
	return 0;
}
