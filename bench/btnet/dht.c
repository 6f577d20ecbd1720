/*
 * dht.c - the DHT engine in a simulated network of 1000 nodes (a fake
 * clock, real message encoding and decoding; see test/btnet/dhtsim.h).
 *
 *   lookup rounds until the true k closest are known (median, p99), and
 *     RPCs per lookup, against an oracle: the same lookup algorithm
 *     (α = 3, k = 20) over ideal full routing tables on the same ids;
 *   simulated lookups per second against the bound set by encoding and
 *     decoding the messages a lookup needs (raw libbson work);
 *   ref success rate for stored values (baseline: all of them);
 *   engine memory per node against the raw bytes of its contacts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bt/dht.h>
#include <bt/msg.h>

#include "bench.h"
#include "../../test/btnet/dhtsim.h"

#define N		1000
#define LOOKUPS		300
#define VALUES		100

static int
cmp_u(const void *a, const void *b)
{
	unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;

	return x < y ? -1 : x > y;
}

/* ---- the oracle: full tables, the same iterative algorithm ----------- */

struct otable {
	size_t *b[256];
	unsigned n[256];
};

static struct otable *
oracle_tables(const struct dhtsim *sim, uint64_t seed)
{
	struct otable *t = calloc(sim->n, sizeof(*t));
	size_t i, j, *order;
	int bi;

	order = malloc(sim->n * sizeof(*order));
	if (t == NULL || order == NULL)
		abort();
	for (i = 0; i < sim->n; i++) {
		/* each bucket: k nodes of its range in random order */
		for (j = 0; j < sim->n; j++)
			order[j] = j;
		for (j = sim->n - 1; j > 0; j--) {
			size_t r = (size_t)(dhtsim_mix(&seed) % (j + 1)), x;

			x = order[j];
			order[j] = order[r];
			order[r] = x;
		}
		for (j = 0; j < sim->n; j++) {
			if (order[j] == i)
				continue;
			bi = btcore_id_logdist(&sim->nodes[i].id,
			    &sim->nodes[order[j]].id);
			if (t[i].n[bi] == BT_K)
				continue;
			if (t[i].b[bi] == NULL &&
			    (t[i].b[bi] = malloc(BT_K * sizeof(size_t))) == NULL)
				abort();
			t[i].b[bi][t[i].n[bi]++] = order[j];
		}
	}
	free(order);
	return t;
}

static size_t
oracle_closest(const struct dhtsim *sim, const struct otable *t,
    const struct bt_id *key, size_t skip, size_t *out)
{
	size_t n = 0, k, x;
	unsigned bi, j;

	for (bi = 0; bi < 256; bi++) {
		for (j = 0; j < t->n[bi]; j++) {
			x = t->b[bi][j];
			if (x == skip)
				continue;
			if (n == BT_K && btcore_id_distance_cmp(key,
			    &sim->nodes[x].id, &sim->nodes[out[n - 1]].id) >= 0)
				continue;
			k = n < BT_K ? n++ : BT_K - 1;
			while (k > 0 && btcore_id_distance_cmp(key,
			    &sim->nodes[x].id, &sim->nodes[out[k - 1]].id) < 0) {
				out[k] = out[k - 1];
				k--;
			}
			out[k] = x;
		}
	}
	return n;
}

struct ocand {
	size_t node;
	unsigned hop;
	int asked;
};

/*
 * One oracle lookup from @p from: α = 3 requests per round, learning
 * from every reply; rounds as the engine counts them (the largest hop of
 * the k closest), RPCs as requests sent.
 */
static void
oracle_lookup(const struct dhtsim *sim, const struct otable *t, size_t from,
    const struct bt_id *key, unsigned *rounds, unsigned *rpcs)
{
	struct ocand c[2 * BT_K];
	size_t near[BT_K], nc = 0, i, j, n, k, sent;
	unsigned r = 0;

	*rpcs = 0;
	n = oracle_closest(sim, &t[from], key, from, near);
	for (i = 0; i < n; i++) {
		c[nc].node = near[i];
		c[nc].hop = 0;
		c[nc++].asked = 0;
	}
	for (;;) {
		size_t batch[BT_ALPHA];

		for (i = 0, sent = 0; i < nc && i < BT_K && sent < BT_ALPHA;
		    i++)
			if (!c[i].asked)
				batch[sent++] = i;
		if (sent == 0)
			break;
		for (j = 0; j < sent; j++) {
			struct ocand asked = c[batch[j]];

			c[batch[j]].asked = 1;
			(*rpcs)++;
			n = oracle_closest(sim, &t[asked.node], key, from,
			    near);
			for (i = 0; i < n; i++) {
				for (k = 0; k < nc; k++)
					if (c[k].node == near[i])
						break;
				if (k < nc)
					continue;
				if (nc == 2 * BT_K) {
					if (btcore_id_distance_cmp(key,
					    &sim->nodes[near[i]].id,
					    &sim->nodes[c[nc - 1].node].id) >= 0)
						continue;
					k = nc - 1;
				} else {
					k = nc++;
				}
				while (k > 0 && btcore_id_distance_cmp(key,
				    &sim->nodes[near[i]].id,
				    &sim->nodes[c[k - 1].node].id) < 0) {
					c[k] = c[k - 1];
					k--;
				}
				c[k].node = near[i];
				c[k].hop = asked.hop + 1;
				c[k].asked = 0;
			}
		}
	}
	for (i = 0; i < nc && i < BT_K; i++)
		if (c[i].hop > r)
			r = c[i].hop;
	*rounds = r;
}

/* ---- raw cost of the messages of one RPC ------------------------------ */

static double
encdec_seconds(void)
{
	struct btcore_msg *m, *back;
	struct btcore_msg_node nd;
	uint8_t *buf;
	size_t len, i, iters = 20000;
	double t0;
	int j;

	t0 = bench_now();
	for (i = 0; i < iters; i++) {
		if (btcore_msg_new(&m, BTCORE_MSG_PEERS_REQ, (int64_t)i) ||
		    btcore_msg_set_bin(m, BTCORE_MSG_F_KEY, "0123456789abcdef"
		    "0123456789abcdef", 32) || btcore_msg_encode(m, &buf, &len) ||
		    btcore_msg_decode(&back, buf, len))
			abort();
		btcore_msg_bytes_free(buf);
		btcore_msg_free(back);
		btcore_msg_free(m);
		if (btcore_msg_new(&m, BTCORE_MSG_PEERS_REP, (int64_t)i))
			abort();
		memset(&nd, 0, sizeof(nd));
		nd.ip_len = 4;
		nd.port = 4000;
		for (j = 0; j < BT_K; j++) {
			nd.id.b[0] = (uint8_t)j;
			if (btcore_msg_add_node(m, &nd))
				abort();
		}
		if (btcore_msg_set_bin(m, BTCORE_MSG_F_TOKEN, "tokentokentoken!",
		    16) || btcore_msg_encode(m, &buf, &len) ||
		    btcore_msg_decode(&back, buf, len))
			abort();
		bench_consume(buf);
		btcore_msg_bytes_free(buf);
		btcore_msg_free(back);
		btcore_msg_free(m);
	}
	return (bench_now() - t0) / (double)iters;
}

int
main(void)
{
	static unsigned rounds[LOOKUPS], orounds[LOOKUPS];
	struct dhtsim sim;
	struct dhtsim_wait w;
	struct otable *ot;
	struct bt_id key, keys[VALUES];
	uint8_t val[64];
	size_t truth[BT_K], i, j, from, exact = 0, found = 0, stored = 0;
	double t0, t_lookups, rpcs = 0, orpcs = 0, mem = 0, contacts = 0;
	double pair;
	unsigned orpc;
	uint64_t r = 2024;
	char target[64];

	memset(&w, 0, sizeof(w));
	if (dhtsim_init(&sim, N, 99, NULL) != BT_OK)
		abort();
	t0 = bench_now();
	if (dhtsim_join_all(&sim) != N - 1)
		fprintf(stderr, "dht bench: some joins failed\n");
	dhtsim_run(&sim, NULL, 30000);
	fprintf(stderr, "dht bench: %d nodes joined in %.1f s\n", N,
	    bench_now() - t0);

	ot = oracle_tables(&sim, 7);
	t0 = bench_now();
	for (i = 0; i < LOOKUPS; i++) {
		from = (size_t)(dhtsim_mix(&r) % N);
		if (dhtsim_random(&sim.nodes[from], key.b, BT_ID_LEN) != BT_OK)
			abort();
		dhtsim_wait_reset(&w);
		if (btnet_dht_find_nodes(sim.nodes[from].dht, &key, dhtsim_cb,
		    &w) != BT_OK)
			abort();
		dhtsim_kick(&sim, from);
		dhtsim_run(&sim, &w.done, 600000);
		rounds[i] = w.rounds;
		rpcs += w.rpcs;
		j = dhtsim_true_closest(&sim, &key, from, truth, BT_K);
		if (w.status == BT_OK &&
		    dhtsim_overlap(&sim, w.nodes, w.nnodes, truth, j) == j)
			exact++;
		oracle_lookup(&sim, ot, from, &key, &orounds[i], &orpc);
		orpcs += orpc;
	}
	t_lookups = bench_now() - t0;
	qsort(rounds, LOOKUPS, sizeof(rounds[0]), cmp_u);
	qsort(orounds, LOOKUPS, sizeof(orounds[0]), cmp_u);
	fprintf(stderr, "dht bench: %zu/%d lookups found the true k closest\n",
	    exact, LOOKUPS);
	bench_line("btnet", "dht_lookup_rounds_median", rounds[LOOKUPS / 2],
	    "rounds", orounds[LOOKUPS / 2], "rounds (full tables)", "<= 3");
	bench_line("btnet", "dht_lookup_rounds_p99",
	    rounds[LOOKUPS * 99 / 100], "rounds",
	    orounds[LOOKUPS * 99 / 100], "rounds (full tables)", NULL);
	bench_line("btnet", "dht_lookup_rpcs", rpcs / LOOKUPS, "rpcs/lookup",
	    orpcs / LOOKUPS, "rpcs/lookup (full tables)", "<= 33");
	bench_line("btnet", "dht_lookup_exact", 100.0 * (double)exact / LOOKUPS,
	    "% true k closest", 100.0, "%", "100%");
	/* each RPC is a request and a reply, encoded once, decoded once */
	pair = encdec_seconds();
	bench_line("btnet", "dht_lookups_per_s", LOOKUPS / t_lookups,
	    "lookups/s (simulated)", 1.0 / (pair * rpcs / LOOKUPS),
	    "lookups/s (encode+decode bound)", NULL);

	/* values: put from one node, ref from another */
	for (i = 0; i < VALUES; i++) {
		for (j = 0; j < sizeof(val); j++)
			val[j] = (uint8_t)dhtsim_mix(&r);
		if (btcore_id_hash(&keys[i], val, sizeof(val)) != BT_OK)
			abort();
		from = (size_t)(dhtsim_mix(&r) % N);
		dhtsim_wait_reset(&w);
		if (btnet_dht_put_value(sim.nodes[from].dht, val, sizeof(val),
		    dhtsim_cb, &w) != BT_OK)
			abort();
		dhtsim_kick(&sim, from);
		dhtsim_run(&sim, &w.done, 600000);
		if (w.status == BT_OK)
			stored++;
	}
	for (i = 0; i < VALUES; i++) {
		from = (size_t)(dhtsim_mix(&r) % N);
		dhtsim_wait_reset(&w);
		if (btnet_dht_get_value(sim.nodes[from].dht, &keys[i],
		    dhtsim_cb, &w) != BT_OK)
			abort();
		dhtsim_kick(&sim, from);
		dhtsim_run(&sim, &w.done, 600000);
		if (w.status == BT_OK)
			found++;
	}
	bench_line("btnet", "dht_ref_success", 100.0 * (double)found / VALUES,
	    "% found", 100.0 * (double)stored / VALUES, "% stored", "100%");

	for (i = 0; i < N; i++) {
		struct btnet_dht_stats st;

		btnet_dht_stats(sim.nodes[i].dht, &st);
		mem += (double)st.memory;
		contacts += (double)st.table_size;
	}
	snprintf(target, sizeof(target), "<= %d bytes", 64 * 1024);
	bench_line("btnet", "dht_memory_per_node", mem / N, "bytes",
	    contacts / N * (double)sizeof(struct btnet_dht_node),
	    "bytes of contacts", target);
	dhtsim_wait_reset(&w);
	for (i = 0; i < N; i++)
		for (j = 0; j < 256; j++)
			free(ot[i].b[j]);
	free(ot);
	dhtsim_free(&sim);
	return 0;
}
