/*
 * test_friend.c - friends on real loopback sockets without a DHT (every
 * node goes online without bootstrap peers, so only the friends' paths
 * find anyone): peer files (round trip, truncation, bit flips, trailing
 * bytes, staleness), contact on import, per-friend scopes, "where-is"
 * only for friends, and a friend that moves to a new port found again
 * through a common friend.
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wcast-qual"
#ifdef __clang__
#pragma clang diagnostic ignored "-Wnewline-eof"
#endif
#include <bson.h>
#pragma GCC diagnostic pop

#include <event2/event.h>

#include <bt/friend.h>
#include <bt/key.h>
#include <bt/msg.h>
#include <bt/net.h>

#include "net-internal.h"

Suite *suite_friend(void);

#define A	0
#define B	1
#define C	2
#define D	3		/* a stranger */
#define NN	4

struct fnode {
	struct btcore_key *key;
	struct btcore_signer signer;
	struct btnet *net;
	struct bt_id id;
	uint8_t file[BTNET_PEERFILE_MAX];
	size_t flen;
	int changes;
};

static struct event_base *base;
static struct fnode nodes[NN];

static uint64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void
run_for(uint64_t ms)
{
	struct timeval tv;

	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
}

static void
h_echo(void *arg, struct btnet_rpc_req *req, const struct bt_id *from,
    const char *scope, const uint8_t *args, size_t len)
{
	(void)arg;
	(void)from;
	(void)scope;
	ck_assert_int_eq(btnet_rpc_reply(req, args, len), BT_OK);
}

static void
on_change(void *arg, const struct bt_id *id, const uint8_t *file, size_t len)
{
	struct fnode *n = arg;

	(void)id;
	(void)file;
	(void)len;
	n->changes++;
}

static void
open_node(int i, int port)
{
	struct btnet_config cfg;
	uint8_t seed[32];
	char listen[32];

	memset(seed, 0x70 + i, sizeof(seed));
	if (nodes[i].key == NULL) {
		ck_assert_int_eq(btcore_key_from_seed(&nodes[i].key, seed),
		    BT_OK);
		btcore_key_signer(nodes[i].key, &nodes[i].signer);
	}
	btnet_config_init(&cfg);
	cfg.request_timeout_ms = 1500;
	snprintf(listen, sizeof(listen), "127.0.3.%d:%d", 10 + i, port);
	cfg.listen[0] = listen;
	cfg.nlisten = 1;
	ck_assert_int_eq(btnet_open(&nodes[i].net, base, &nodes[i].signer,
	    NULL, &cfg), BT_OK);
	btnet_local_id(nodes[i].net, &nodes[i].id);
	ck_assert_int_eq(btnet_rpc_handle(nodes[i].net, "echo", h_echo, NULL),
	    BT_OK);
	ck_assert_int_eq(btnet_rpc_handle(nodes[i].net, "photos", h_echo,
	    NULL), BT_OK);
	btnet_friend_setcb(nodes[i].net, on_change, &nodes[i]);
	/* no bootstrap peer: no DHT */
	ck_assert_int_eq(btnet_online(nodes[i].net, NULL, 0), BT_OK);
	ck_assert_int_eq(btnet_friend_export(nodes[i].net, nodes[i].file,
	    sizeof(nodes[i].file), &nodes[i].flen), BT_OK);
}

static void
start(void)
{
	int i;

	signal(SIGPIPE, SIG_IGN);
	base = event_base_new();
	ck_assert_ptr_nonnull(base);
	memset(nodes, 0, sizeof(nodes));
	for (i = 0; i < NN; i++)
		open_node(i, 0);
}

static void
stop(void)
{
	int i;

	for (i = 0; i < NN; i++) {
		btnet_close(nodes[i].net);
		btcore_key_free(nodes[i].key);
	}
	event_base_free(base);
	base = NULL;
}

static int
connected(int a, int b)
{
	return btnet_peer_find_(nodes[a].net, &nodes[b].id) != NULL;
}

struct callres {
	int done, status;
};

static void
on_call(void *arg, const struct btnet_rpc_result *res)
{
	struct callres *r = arg;

	ck_assert_int_eq(r->done, 0);
	r->done = 1;
	r->status = res->status;
}

static int
call(int from, int to, const char *scope)
{
	struct callres r;
	uint64_t end = mono_ms() + 5000;
	bson_t b;

	memset(&r, 0, sizeof(r));
	bson_init(&b);
	ck_assert(bson_append_int32(&b, "n", 1, 5));
	ck_assert_int_eq(btnet_rpc_call(nodes[from].net, &nodes[to].id, scope,
	    bson_get_data(&b), b.len, on_call, &r), BT_OK);
	bson_destroy(&b);
	while (!r.done && mono_ms() < end)
		run_for(10);
	ck_assert(r.done);
	return r.status;
}

START_TEST(peer_files)
{
	struct btnet_peerfile pf;
	uint8_t buf[BTNET_PEERFILE_MAX + 2];
	size_t len, i, bit;
	struct bt_id id;
	int rc;

	signal(SIGPIPE, SIG_IGN);
	base = event_base_new();
	memset(nodes, 0, sizeof(nodes));
	open_node(A, 0);
	open_node(B, 0);
	ck_assert_int_eq(btnet_friend_decode(nodes[A].file, nodes[A].flen,
	    &pf), BT_OK);
	ck_assert_mem_eq(pf.id.b, nodes[A].id.b, BT_ID_LEN);
	ck_assert_mem_eq(pf.key.b, nodes[A].signer.pub.b, 32);
	ck_assert_uint_eq(pf.naddrs, 1);
	ck_assert_uint_eq(pf.nvia, 0);
	ck_assert_uint_gt(pf.seq, 0);
	/* the same content: the same file */
	ck_assert_int_eq(btnet_friend_export(nodes[A].net, buf, sizeof(buf),
	    &len), BT_OK);
	ck_assert_uint_eq(len, nodes[A].flen);
	ck_assert_mem_eq(buf, nodes[A].file, len);
	ck_assert_int_eq(btnet_friend_export(nodes[A].net, buf, len - 1,
	    &len), BT_ENOSPC);
	ck_assert_uint_eq(len, nodes[A].flen);
	/* every truncation, every bit flip, a trailing byte */
	for (i = 0; i < nodes[A].flen; i++) {
		rc = btnet_friend_decode(nodes[A].file, i, &pf);
		ck_assert_msg(rc == BT_ETRUNC || rc == BT_EFORMAT,
		    "prefix %zu: %d", i, rc);
		ck_assert_uint_eq(pf.seq, 0);
	}
	memcpy(buf, nodes[A].file, nodes[A].flen);
	for (bit = 0; bit < nodes[A].flen * 8; bit++) {
		buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		ck_assert_int_ne(btnet_friend_decode(buf, nodes[A].flen, &pf),
		    BT_OK);
		buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
	buf[nodes[A].flen] = 0;
	ck_assert_int_eq(btnet_friend_decode(buf, nodes[A].flen + 1, &pf),
	    BT_EFORMAT);
	ck_assert_int_eq(btnet_friend_decode(buf, BTNET_PEERFILE_MAX + 1, &pf),
	    BT_ETOOBIG);
	ck_assert_int_eq(btnet_friend_decode(NULL, 5, &pf), BT_EINVAL);
	/* import: not our own; once; then stale */
	ck_assert_int_eq(btnet_friend_import(nodes[A].net, nodes[A].file,
	    nodes[A].flen, &id), BT_EINVAL);
	ck_assert_int_eq(btnet_friend_import(nodes[A].net, nodes[B].file,
	    nodes[B].flen, &id), BT_OK);
	ck_assert_mem_eq(id.b, nodes[B].id.b, BT_ID_LEN);
	ck_assert_int_eq(nodes[A].changes, 1);
	ck_assert_int_eq(btnet_friend_import(nodes[A].net, nodes[B].file,
	    nodes[B].flen, NULL), BT_ESTALE);
	ck_assert_uint_eq(btnet_friend_list(nodes[A].net, &id, 1), 1);
	ck_assert_int_eq(btnet_friend_get(nodes[A].net, &nodes[B].id, buf,
	    sizeof(buf), &len), BT_OK);
	ck_assert_uint_eq(len, nodes[B].flen);
	ck_assert_int_eq(btnet_friend_get(nodes[A].net, &nodes[A].id, buf,
	    sizeof(buf), &len), BT_ENOTFOUND);
	/* scopes */
	ck_assert_int_eq(btnet_friend_scope(nodes[A].net, "bad scope",
	    BTNET_SCOPE_FRIENDS), BT_EINVAL);
	ck_assert_int_eq(btnet_friend_scope(nodes[A].net, "x", 7), BT_EINVAL);
	{
		const char *sc[1] = { "no space" };

		ck_assert_int_eq(btnet_friend_allow(nodes[A].net,
		    &nodes[B].id, sc, 1), BT_EINVAL);
		ck_assert_int_eq(btnet_friend_allow(nodes[A].net,
		    &nodes[A].id, NULL, 0), BT_ENOTFOUND);
	}
	ck_assert_int_eq(btnet_friend_remove(nodes[A].net, &nodes[B].id),
	    BT_OK);
	ck_assert_int_eq(nodes[A].changes, 2);
	ck_assert_int_eq(btnet_friend_remove(nodes[A].net, &nodes[B].id),
	    BT_ENOTFOUND);
	ck_assert_uint_eq(btnet_friend_list(nodes[A].net, NULL, 0), 0);
	btnet_close(nodes[A].net);
	btnet_close(nodes[B].net);
	btcore_key_free(nodes[A].key);
	btcore_key_free(nodes[B].key);
	event_base_free(base);
}
END_TEST

struct contact {
	int done, status;
};

static void
on_contact(void *arg, int status, const struct bt_id *id)
{
	struct contact *c = arg;

	(void)id;
	ck_assert_int_eq(c->done, 0);
	c->done = 1;
	c->status = status;
}

struct whereres {
	int done, status, type, code;
};

static void
on_where(struct btnet *net, void *ctx, int status,
    const struct btcore_msg *reply)
{
	struct whereres *w = ctx;
	int64_t code = 0;

	(void)net;
	w->done = 1;
	w->status = status;
	if (status == BT_OK) {
		w->type = btcore_msg_type(reply);
		if (w->type == BTCORE_MSG_ERROR)
			ck_assert_int_eq(btcore_msg_get_int64(reply,
			    BTCORE_MSG_F_CODE, &code), BT_OK);
		w->code = (int)code;
	}
}

static uint16_t
file_port(int holder, int of)
{
	struct btnet_peerfile pf;
	uint8_t buf[BTNET_PEERFILE_MAX];
	size_t len;

	if (btnet_friend_get(nodes[holder].net, &nodes[of].id, buf,
	    sizeof(buf), &len) != BT_OK ||
	    btnet_friend_decode(buf, len, &pf) != BT_OK || pf.naddrs == 0)
		return 0;
	return pf.addrs[0].port;
}

START_TEST(friends_move)
{
	const char *photos[1] = { "photos" };
	struct btnet_peerfile pf;
	struct btcore_msg *m;
	struct whereres w;
	struct contact ct;
	uint64_t asked, found, refused, end;
	uint16_t oldport;
	int i, j;

	start();
	/* A, B and C are friends of each other; D is nobody's */
	for (i = A; i <= C; i++)
		for (j = A; j <= C; j++)
			if (i != j)
				ck_assert_int_eq(btnet_friend_import(
				    nodes[i].net, nodes[j].file,
				    nodes[j].flen, NULL), BT_OK);
	end = mono_ms() + 5000;
	while (!(connected(A, B) && connected(A, C) && connected(B, C)) &&
	    mono_ms() < end)
		run_for(20);
	ck_assert(connected(A, B) && connected(A, C) && connected(B, C));

	/* per-friend scopes: photos only for A */
	ck_assert_int_eq(btnet_friend_scope(nodes[B].net, "photos",
	    BTNET_SCOPE_FRIENDS), BT_OK);
	ck_assert_int_eq(btnet_friend_allow(nodes[B].net, &nodes[A].id,
	    photos, 1), BT_OK);
	ck_assert_int_eq(call(A, B, "photos"), BT_OK);
	ck_assert_int_eq(call(C, B, "photos"), BTNET_ENOSCOPE);
	ck_assert_int_eq(call(C, B, "echo"), BT_OK);
	/* D learns B's address by hand: public scopes only */
	ck_assert_int_eq(btnet_friend_decode(nodes[B].file, nodes[B].flen,
	    &pf), BT_OK);
	btnet_cache_put_(nodes[D].net, &nodes[B].id, &pf.addrs[0], NULL);
	ck_assert_int_eq(call(D, B, "echo"), BT_OK);
	ck_assert_int_eq(call(D, B, "photos"), BTNET_ENOSCOPE);
	/* everything closed for strangers */
	ck_assert_int_eq(btnet_friend_scope(nodes[B].net, NULL,
	    BTNET_SCOPE_FRIENDS), BT_OK);
	ck_assert_int_eq(call(D, B, "echo"), BTNET_ENOSCOPE);
	ck_assert_int_eq(call(A, B, "photos"), BT_OK);
	ck_assert_int_eq(btnet_friend_scope(nodes[B].net, NULL,
	    BTNET_SCOPE_PUBLIC), BT_OK);
	btnet_friend_counts_(nodes[B].net, &asked, &found, &refused);
	ck_assert_uint_eq(refused, 3);

	/* where-is: answered to friends only */
	ck_assert_int_eq(btnet_friend_decode(nodes[C].file, nodes[C].flen,
	    &pf), BT_OK);
	btnet_cache_put_(nodes[D].net, &nodes[C].id, &pf.addrs[0], NULL);
	memset(&w, 0, sizeof(w));
	ck_assert_int_eq(btcore_msg_new(&m, BTCORE_MSG_WHERE_IS_REQ,
	    btnet_tid_(nodes[D].net)), BT_OK);
	ck_assert_int_eq(btcore_msg_set_bin(m, BTCORE_MSG_F_ID, nodes[B].id.b,
	    32), BT_OK);
	ck_assert_int_eq(btnet_request_(nodes[D].net, &nodes[C].id, m,
	    on_where, &w), BT_OK);
	btcore_msg_free(m);
	end = mono_ms() + 5000;
	while (!w.done && mono_ms() < end)
		run_for(10);
	ck_assert_int_eq(w.status, BT_OK);
	ck_assert_int_eq(w.type, BTCORE_MSG_ERROR);
	ck_assert_int_eq(w.code, BT_EPERM);

	/* B moves: closed, reopened with the same key on another port;
	   it knows only C now, and tells C on contact */
	oldport = file_port(A, B);
	ck_assert_uint_ne(oldport, 0);
	btnet_close(nodes[B].net);
	nodes[B].net = NULL;
	run_for(100);
	ck_assert(!connected(A, B));
	open_node(B, 0);
	ck_assert_int_eq(btnet_friend_decode(nodes[B].file, nodes[B].flen,
	    &pf), BT_OK);
	ck_assert_uint_ne(pf.addrs[0].port, oldport);
	ck_assert_int_eq(btnet_friend_import(nodes[B].net, nodes[C].file,
	    nodes[C].flen, NULL), BT_OK);
	end = mono_ms() + 5000;
	while (file_port(C, B) != pf.addrs[0].port && mono_ms() < end)
		run_for(20);
	ck_assert_uint_eq(file_port(C, B), pf.addrs[0].port);
	/* A still has the old address; the contact asks C */
	ck_assert_uint_eq(file_port(A, B), oldport);
	memset(&ct, 0, sizeof(ct));
	ck_assert_int_eq(btnet_friend_contact(nodes[A].net, &nodes[B].id,
	    on_contact, &ct), BT_OK);
	ck_assert_int_eq(ct.done, 0);
	end = mono_ms() + 10000;
	while (!ct.done && mono_ms() < end)
		run_for(10);
	ck_assert(ct.done);
	ck_assert_int_eq(ct.status, BT_OK);
	ck_assert(connected(A, B));
	ck_assert_uint_eq(file_port(A, B), pf.addrs[0].port);
	btnet_friend_counts_(nodes[A].net, &asked, &found, &refused);
	ck_assert_uint_ge(asked, 1);
	ck_assert_uint_eq(found, 1);
	ck_assert_int_eq(call(A, B, "echo"), BT_OK);
	/* contacting a friend already connected: BT_OK from the loop */
	memset(&ct, 0, sizeof(ct));
	ck_assert_int_eq(btnet_friend_contact(nodes[A].net, &nodes[B].id,
	    on_contact, &ct), BT_OK);
	ck_assert_int_eq(ct.done, 0);
	run_for(20);
	ck_assert_int_eq(ct.done, 1);
	ck_assert_int_eq(ct.status, BT_OK);
	ck_assert_int_eq(btnet_friend_contact(nodes[A].net, &nodes[D].id,
	    on_contact, &ct), BT_ENOTFOUND);
	/* a contact still running when the node closes: BT_ECLOSED */
	memset(&ct, 0, sizeof(ct));
	ck_assert_int_eq(btnet_friend_import(nodes[D].net, nodes[A].file,
	    nodes[A].flen, NULL), BT_OK);
	btnet_close(nodes[A].net);
	nodes[A].net = NULL;
	ck_assert_int_eq(btnet_friend_contact(nodes[D].net, &nodes[A].id,
	    on_contact, &ct), BT_OK);
	btnet_close(nodes[D].net);
	nodes[D].net = NULL;
	ck_assert_int_eq(ct.done, 1);
	ck_assert_int_eq(ct.status, BT_ECLOSED);
	stop();
}
END_TEST

Suite *
suite_friend(void)
{
	Suite *s = suite_create("friend");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, peer_files);
	tcase_add_test(tc, friends_move);
	suite_add_tcase(s, tc);
	return s;
}
