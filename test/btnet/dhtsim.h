/*
 * dhtsim.h - a simulated network for the DHT engine: many engines in one
 * process, a fake clock and a discrete-event loop.  Messages pass through
 * the engines' real encoders and decoders; delivery takes 10..49 ms of
 * fake time, chosen by a seeded generator, so a run is reproducible.
 *
 * Node i listens on 127.(1 + i / 250).(1 + i % 250).1 port 4000: every
 * node has its own /24.  A message sent to a node id that is not the
 * id of the node at the address is dropped, as a Noise handshake with
 * the wrong node would fail.  Killed nodes receive nothing and are never
 * ticked.
 *
 * Shared by the unit tests (test/btnet/test_dht*.c) and the benchmark
 * (bench/btnet/dht.c); every function is static inline.
 */
#ifndef DHTSIM_H
#define DHTSIM_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <bt/dht.h>
#include <bt/dhtstore.h>

#define DHTSIM_PORT	4000

struct dhtsim;

struct dhtsim_node {
	struct dhtsim *sim;
	size_t index;
	struct btnet_dht *dht;
	struct btnet_dht_memstore *ms;
	struct btnet_dht_env env;
	struct bt_id id;
	struct btnet_dht_addr addr;
	uint64_t rng;
	uint64_t sched;		/* time of the queued tick, UINT64_MAX: none */
	int dead;
};

struct dhtsim_ev {
	uint64_t t, seq;
	size_t node;		/* destination (or node to tick) */
	size_t from;		/* sender, for deliveries */
	uint8_t *msg;		/* NULL: a tick */
	size_t len;
};

struct dhtsim {
	uint64_t now, seq, rng;
	struct dhtsim_node *nodes;
	size_t n;
	struct dhtsim_ev *heap;
	size_t nheap, capheap;
	uint64_t delivered, dropped, bytes;
	uint64_t refused;	/* messages an engine refused */
	uint64_t errors;	/* ticks that failed */
	/* when set, deliveries from (from, to) are dropped if it says so */
	int (*filter)(void *arg, size_t from, size_t to);
	void *filter_arg;
};

static inline uint64_t
dhtsim_mix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static inline void
dhtsim_addr(size_t i, struct btnet_dht_addr *a)
{
	memset(a, 0, sizeof(*a));
	a->family = 4;
	a->ip[0] = 127;
	a->ip[1] = (uint8_t)(1 + i / 250);
	a->ip[2] = (uint8_t)(1 + i % 250);
	a->ip[3] = 1;
	a->port = DHTSIM_PORT;
}

/* The node at @p a, or SIZE_MAX. */
static inline size_t
dhtsim_lookup_addr(const struct dhtsim *sim, const struct btnet_dht_addr *a)
{
	size_t i;

	if (a->family != 4 || a->ip[0] != 127 || a->ip[3] != 1 ||
	    a->port != DHTSIM_PORT || a->ip[1] == 0 || a->ip[2] == 0 ||
	    a->ip[2] > 250)
		return SIZE_MAX;
	i = (size_t)(a->ip[1] - 1) * 250 + (size_t)(a->ip[2] - 1);
	return i < sim->n ? i : SIZE_MAX;
}

static inline int
dhtsim_ev_before(const struct dhtsim_ev *a, const struct dhtsim_ev *b)
{
	return a->t < b->t || (a->t == b->t && a->seq < b->seq);
}

static inline int
dhtsim_push(struct dhtsim *sim, struct dhtsim_ev *ev)
{
	struct dhtsim_ev t;
	size_t i, p;

	if (sim->nheap == sim->capheap) {
		size_t cap = sim->capheap ? sim->capheap * 2 : 1024;
		struct dhtsim_ev *h = realloc(sim->heap, cap * sizeof(*h));

		if (h == NULL)
			return BT_ENOMEM;
		sim->heap = h;
		sim->capheap = cap;
	}
	ev->seq = sim->seq++;
	i = sim->nheap++;
	sim->heap[i] = *ev;
	while (i > 0) {
		p = (i - 1) / 2;
		if (!dhtsim_ev_before(&sim->heap[i], &sim->heap[p]))
			break;
		t = sim->heap[i];
		sim->heap[i] = sim->heap[p];
		sim->heap[p] = t;
		i = p;
	}
	return BT_OK;
}

static inline void
dhtsim_pop(struct dhtsim *sim, struct dhtsim_ev *out)
{
	struct dhtsim_ev t;
	size_t i = 0, l, r, m;

	*out = sim->heap[0];
	sim->heap[0] = sim->heap[--sim->nheap];
	for (;;) {
		l = 2 * i + 1;
		r = l + 1;
		m = i;
		if (l < sim->nheap && dhtsim_ev_before(&sim->heap[l],
		    &sim->heap[m]))
			m = l;
		if (r < sim->nheap && dhtsim_ev_before(&sim->heap[r],
		    &sim->heap[m]))
			m = r;
		if (m == i)
			break;
		t = sim->heap[i];
		sim->heap[i] = sim->heap[m];
		sim->heap[m] = t;
		i = m;
	}
}

/* After any call into node @p i: queue its next tick if it moved earlier. */
static inline void
dhtsim_kick(struct dhtsim *sim, size_t i)
{
	struct dhtsim_node *nd = &sim->nodes[i];
	struct dhtsim_ev ev;
	uint64_t d;

	if (nd->dead || nd->dht == NULL)
		return;
	d = btnet_dht_next_deadline(nd->dht);
	if (d < sim->now)
		d = sim->now;
	if (d >= nd->sched)
		return;
	memset(&ev, 0, sizeof(ev));
	ev.t = d;
	ev.node = i;
	if (dhtsim_push(sim, &ev) == BT_OK)
		nd->sched = d;
}

static inline uint64_t
dhtsim_now(void *ctx)
{
	return ((struct dhtsim_node *)ctx)->sim->now;
}

static inline int
dhtsim_random(void *ctx, void *buf, size_t len)
{
	struct dhtsim_node *nd = ctx;
	uint8_t *p = buf;
	uint64_t v;
	size_t i;

	for (i = 0; i < len; i += 8) {
		v = dhtsim_mix(&nd->rng);
		memcpy(p + i, &v, len - i < 8 ? len - i : 8);
	}
	return BT_OK;
}

static inline int
dhtsim_send(void *ctx, const struct btnet_dht_addr *to,
    const struct bt_id *to_id, const uint8_t *msg, size_t len)
{
	struct dhtsim_node *nd = ctx;
	struct dhtsim *sim = nd->sim;
	struct dhtsim_ev ev;
	size_t dst = dhtsim_lookup_addr(sim, to);

	if (dst == SIZE_MAX)
		return BT_OK;	/* nobody there: silence */
	if (to_id != NULL && memcmp(to_id->b, sim->nodes[dst].id.b,
	    BT_ID_LEN) != 0) {
		sim->dropped++;	/* the handshake would fail */
		return BT_OK;
	}
	memset(&ev, 0, sizeof(ev));
	ev.t = sim->now + 10 + dhtsim_mix(&sim->rng) % 40;
	ev.node = dst;
	ev.from = nd->index;
	ev.len = len;
	if ((ev.msg = malloc(len)) == NULL)
		return BT_ENOMEM;
	memcpy(ev.msg, msg, len);
	sim->bytes += len;
	if (dhtsim_push(sim, &ev) != BT_OK) {
		free(ev.msg);
		return BT_ENOMEM;
	}
	return BT_OK;
}

/*
 * Create @p n nodes (ids SHA-256 of the seed and index), engines with
 * @p cfg (NULL: defaults) and in-memory storage each.
 */
static inline int
dhtsim_init(struct dhtsim *sim, size_t n, uint64_t seed,
    const struct btnet_dht_config *cfg)
{
	struct btnet_dht_storage st;
	uint8_t in[16];
	size_t i;
	int rc = BT_OK;

	memset(sim, 0, sizeof(*sim));
	sim->rng = seed;
	sim->now = 1000;
	if ((sim->nodes = calloc(n, sizeof(*sim->nodes))) == NULL)
		return BT_ENOMEM;
	sim->n = n;
	for (i = 0; i < n && rc == BT_OK; i++) {
		struct dhtsim_node *nd = &sim->nodes[i];

		nd->sim = sim;
		nd->index = i;
		nd->sched = UINT64_MAX;
		nd->rng = seed ^ (0x1000 + i) * 0x9e3779b97f4a7c15ULL;
		memcpy(in, &seed, 8);
		memcpy(in + 8, &i, sizeof(i) < 8 ? sizeof(i) : 8);
		if ((rc = btcore_id_hash(&nd->id, in, sizeof(in))) != BT_OK)
			break;
		dhtsim_addr(i, &nd->addr);
		nd->env.now_ms = dhtsim_now;
		nd->env.random = dhtsim_random;
		nd->env.send = dhtsim_send;
		nd->env.ctx = nd;
		if ((rc = btnet_dht_memstore_new(&nd->ms, NULL)) != BT_OK)
			break;
		btnet_dht_memstore_storage(nd->ms, &st);
		rc = btnet_dht_new(&nd->dht, &nd->env, &st, &nd->id, cfg);
	}
	return rc;
}

static inline void
dhtsim_free(struct dhtsim *sim)
{
	size_t i;

	for (i = 0; i < sim->n; i++) {
		btnet_dht_free(sim->nodes[i].dht);
		btnet_dht_memstore_free(sim->nodes[i].ms);
	}
	for (i = 0; i < sim->nheap; i++)
		free(sim->heap[i].msg);
	free(sim->heap);
	free(sim->nodes);
	memset(sim, 0, sizeof(*sim));
}

/* Run one event.  0 when there is none. */
static inline int
dhtsim_step(struct dhtsim *sim)
{
	struct dhtsim_ev ev;
	struct dhtsim_node *nd;

	if (sim->nheap == 0)
		return 0;
	dhtsim_pop(sim, &ev);
	if (ev.t > sim->now)
		sim->now = ev.t;
	nd = &sim->nodes[ev.node];
	if (ev.msg == NULL) {
		if (ev.t != nd->sched || nd->dead)
			return 1;	/* superseded */
		nd->sched = UINT64_MAX;
		if (btnet_dht_tick(nd->dht) != BT_OK)
			sim->errors++;
	} else {
		if (nd->dead || (sim->filter != NULL &&
		    sim->filter(sim->filter_arg, ev.from, ev.node))) {
			sim->dropped++;
		} else {
			sim->delivered++;
			if (btnet_dht_input(nd->dht, &sim->nodes[ev.from].addr,
			    &sim->nodes[ev.from].id, ev.msg, ev.len) != BT_OK)
				sim->refused++;
		}
		free(ev.msg);
	}
	dhtsim_kick(sim, ev.node);
	return 1;
}

/*
 * Run until *@p flag is nonzero (NULL: until @p max_ms of fake time
 * passed).  Returns *flag (or 1).
 */
static inline int
dhtsim_run(struct dhtsim *sim, const int *flag, uint64_t max_ms)
{
	uint64_t end = sim->now + max_ms;

	while ((flag == NULL || !*flag) && sim->nheap > 0 &&
	    sim->heap[0].t <= end)
		(void)dhtsim_step(sim);
	if (flag == NULL && sim->now < end)
		sim->now = end;
	return flag == NULL ? 1 : *flag;
}

/* A result saved by dhtsim_cb. */
struct dhtsim_wait {
	int done;
	int status;
	unsigned rounds, rpcs, stored;
	size_t nnodes;
	struct btnet_dht_node nodes[BT_K];
	uint8_t *value;
	size_t value_len;
	uint64_t seq;
	size_t nvalues;
	uint8_t values[256][32];
};

static inline void
dhtsim_cb(void *arg, const struct btnet_dht_result *res)
{
	struct dhtsim_wait *w = arg;

	w->done++;
	w->status = res->status;
	w->rounds = res->rounds;
	w->rpcs = res->rpcs;
	w->stored = res->stored;
	w->nnodes = res->nnodes;
	memcpy(w->nodes, res->nodes, res->nnodes * sizeof(res->nodes[0]));
	free(w->value);
	w->value = NULL;
	w->value_len = 0;
	if (res->value != NULL && (w->value = malloc(res->value_len + 1)) !=
	    NULL) {
		memcpy(w->value, res->value, res->value_len);
		w->value_len = res->value_len;
	}
	w->seq = res->record != NULL ? res->record->seq : 0;
	w->nvalues = res->nvalues > 256 ? 256 : res->nvalues;
	if (w->nvalues)
		memcpy(w->values, res->values, w->nvalues * 32);
}

static inline void
dhtsim_wait_reset(struct dhtsim_wait *w)
{
	free(w->value);
	memset(w, 0, sizeof(*w));
}

/*
 * Node 0 is the seed; nodes 1..n-1 join one after the other, each
 * bootstrapping from node 0.  Returns how many joins reported BT_OK.
 */
static inline size_t
dhtsim_join_all(struct dhtsim *sim)
{
	struct dhtsim_wait w;
	size_t i, ok = 0;

	memset(&w, 0, sizeof(w));
	for (i = 1; i < sim->n; i++) {
		dhtsim_wait_reset(&w);
		if (btnet_dht_bootstrap(sim->nodes[i].dht,
		    &sim->nodes[0].addr, 1, dhtsim_cb, &w) != BT_OK)
			continue;
		dhtsim_kick(sim, i);
		if (dhtsim_run(sim, &w.done, 600000) && w.status == BT_OK)
			ok++;
	}
	dhtsim_wait_reset(&w);
	return ok;
}

/*
 * The @p k live nodes nearest to @p key other than @p skip (SIZE_MAX: none),
 * by brute force, into @p out (indices, nearest first).  Returns how many.
 */
static inline size_t
dhtsim_true_closest(const struct dhtsim *sim, const struct bt_id *key,
    size_t skip, size_t *out, size_t k)
{
	size_t i, n = 0, j;

	for (i = 0; i < sim->n; i++) {
		if (i == skip || sim->nodes[i].dead)
			continue;
		if (n == k && btcore_id_distance_cmp(key, &sim->nodes[i].id,
		    &sim->nodes[out[n - 1]].id) >= 0)
			continue;
		j = n < k ? n++ : k - 1;
		while (j > 0 && btcore_id_distance_cmp(key, &sim->nodes[i].id,
		    &sim->nodes[out[j - 1]].id) < 0) {
			out[j] = out[j - 1];
			j--;
		}
		out[j] = i;
	}
	return n;
}

/* How many of @p nodes (an operation's result) are in @p idx[0..k). */
static inline size_t
dhtsim_overlap(const struct dhtsim *sim, const struct btnet_dht_node *nodes,
    size_t nn, const size_t *idx, size_t k)
{
	size_t i, j, hit = 0;

	for (i = 0; i < nn; i++)
		for (j = 0; j < k; j++)
			if (memcmp(nodes[i].id.b, sim->nodes[idx[j]].id.b,
			    BT_ID_LEN) == 0) {
				hit++;
				break;
			}
	return hit;
}

#endif /* DHTSIM_H */
