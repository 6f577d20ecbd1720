/*
 * net-internal.h - the node layer's internals, shared by net.c, rpc.c,
 * resolve.c, netdirect.c and the layers built on them (pubsub, friends,
 * relaying) and the tests; never installed.
 *
 * Extension points:
 *  - btnet_op_handle_(): route a message type (bt/msg.h) to a handler;
 *  - btnet_request_(): send a request to a node by id (resolving and
 *    dialling as needed) and get its reply, a timeout or an error once;
 *  - btnet_send_msg_(): a one-way message over an established connection;
 *  - btnet_peer_hook_(): learn when a node's last connection ends;
 *  - btnet_resolve_hook_(): a source of addresses consulted after the
 *    local cache and before the DHT (friends).
 */
#ifndef BTNET_NET_INTERNAL_H
#define BTNET_NET_INTERNAL_H

#include <stdint.h>

#include <bt/conn.h>
#include <bt/dht.h>
#include <bt/msg.h>
#include <bt/net.h>
#include <bt/noise.h>

struct event;

/* Messages queued on a connection until its handshake ends. */
#define NET_QUEUE_MAX		64
#define NET_QUEUE_BYTES		(4u * 1024 * 1024)
/* Peers by id: buckets of the hash table. */
#define NET_PEER_BUCKETS	256
/* Address cache entries. */
#define NET_CACHE_MAX		1024
/* Handlers per message type. */
#define NET_TYPES		64
#define NET_HOOKS_MAX		8

struct net_out {
	struct net_out *next;
	size_t len;
	uint8_t data[];
};

struct net_peer;

struct net_conn {
	struct btnet *net;
	struct btnet_conn *c;
	struct net_conn *prev, *next;	/* net->conns */
	struct net_conn *pnext;		/* peer->conns */
	struct net_peer *peer;		/* once established */
	struct bt_id expect;		/* dialled: the id we meant */
	int has_expect;
	int outbound, established;
	/* through a relay (relay.c): dialled at a route's listener, or
	   accepted from a circuit's socket.  Its addresses are ends of the
	   relay here, never the peer's: nothing records them as such */
	int relayed;
	struct btnet_dht_addr dialed;	/* outbound: the address dialled */
	struct btnet_dht_addr from;	/* the peer's listening address; for
					   a relayed one the local end */
	struct net_out *q, *qtail;
	size_t qn, qbytes;
	uint64_t last_used;
	/* admit.c: the exchange in progress (NULL once admitted), and the
	   transaction ids of the "admit" requests each way, by which a
	   refusal is recognised */
	struct net_admit *adm;
	int64_t adm_own_tid, adm_peer_tid;
	int adm_has_own, adm_has_peer;
};

struct net_peer {
	struct bt_id id;
	struct bt_pubkey key;
	struct net_peer *next;		/* hash chain */
	struct net_conn *conns;		/* established connections */
	int direct;			/* a direct connection is up */
};

typedef int (*btnet_op_fn_)(struct btnet *net, void *arg,
    struct net_conn *nc, const struct btcore_msg *m, const uint8_t *raw,
    size_t len);
typedef void (*btnet_req_done_)(struct btnet *net, void *ctx, int status,
    const struct btcore_msg *reply);
typedef void (*btnet_peer_fn_)(struct btnet *net, void *arg,
    const struct bt_id *id, int up);
/*
 * A resolution source: answer through btnet_resolve_found_() (or not at
 * all: return BT_ENOTFOUND to pass).  @p token identifies the resolution.
 */
typedef int (*btnet_resolve_fn_)(struct btnet *net, void *arg,
    const struct bt_id *id, uint64_t token);

struct net_req;			/* rpc.c/net.c: a request in flight */
struct net_resolve;		/* resolve.c: a resolution in flight */
struct net_rpc_handler;		/* rpc.c */
struct net_direct_handler;	/* netdirect.c */
struct net_direct_open;		/* netdirect.c */
struct net_cache_entry;		/* resolve.c */
struct net_pubsub;		/* pubsub.c */
struct net_friends;		/* friend.c */
struct net_relay;		/* relay.c */
struct net_admit;		/* admit.c: one connection's exchange */
struct net_admit_ctx;		/* admit.c: statement copy, cache */

struct btnet {
	struct event_base *base;
	const struct btcore_signer *signer;
	struct btnet_identity *ident;
	struct bt_id self;
	struct btnet_config cfg;
	struct btnet_endpoint *ep[BTNET_LISTEN_MAX + 1];
	size_t nep;			/* endpoints: listeners, or one */
	char listen_addr[BTNET_LISTEN_MAX][BTNET_ADDR_STRLEN];
	struct btnet_dht *dht;
	struct btnet_dht_env env;
	struct btnet_dht_memstore *mem;	/* when no storage was given */
	struct btnet_dht_storage st;
	struct event *dht_timer, *kick, *house, *announce;
	int in_tick, kicked;
	int state;			/* NET_OFFLINE, NET_JOINING, NET_ONLINE */
	int announced;			/* ONLINE event sent */
	int pending_offline;		/* status of an OFFLINE to report */
	int closing;
	btnet_event_cb event_cb;
	void *event_arg;
	struct net_conn *conns;
	size_t nconns;
	struct net_peer *peers[NET_PEER_BUCKETS];
	size_t npeers;
	struct {
		btnet_op_fn_ fn;
		void *arg;
	} ops[NET_TYPES];
	struct {
		btnet_peer_fn_ fn;
		void *arg;
	} peer_hooks[NET_HOOKS_MAX];
	size_t npeer_hooks;
	btnet_resolve_fn_ resolve_hook;
	void *resolve_hook_arg;
	/* requests in flight */
	struct net_req *reqs;
	size_t nreqs;
	uint64_t tid_next;
	/* rpc.c */
	struct net_rpc_handler *rpc_handlers;
	struct btnet_rpc_req *rpc_in;
	size_t nrpc_in;
	/* netdirect.c */
	struct net_direct_handler *direct_handlers;
	struct net_direct_open *direct_opens;
	btnet_direct_event_cb direct_cb;
	void *direct_arg;
	/* resolve.c */
	struct net_cache_entry *cache;
	struct net_resolve *resolves;
	size_t nresolves;
	uint64_t resolve_token;
	uint64_t addr_seq;		/* last address record sequence */
	uint64_t published_ms;		/* when it was last published */
	int publishing;
	/* pubsub.c, friend.c, relay.c */
	struct net_pubsub *pubsub;
	struct net_friends *friends;
	struct net_relay *relay;
	/* admit.c */
	struct net_admit_ctx *admit;
	/* counters, for tests and statistics */
	struct {
		uint64_t dropped;	/* messages that did not decode */
		uint64_t resolved_cache, resolved_table, resolved_hook,
		    resolved_dht, resolve_failed;
		uint64_t published;
		uint64_t idle_closed;
	} stats;
};

#define NET_OFFLINE	0
#define NET_JOINING	1
#define NET_ONLINE	2

/* ---- net.c ---------------------------------------------------------- */

uint64_t btnet_now_ms_(struct btnet *net);
/* A fresh transaction id. */
int64_t btnet_tid_(struct btnet *net);
/* Route messages of @p type to @p fn (NULL removes).  BT_EINVAL. */
int btnet_op_handle_(struct btnet *net, enum btcore_msg_type type,
    btnet_op_fn_ fn, void *arg);
/* Learn when a node gets its first (up 1) or loses its last (0)
 * established connection.  BT_ENOSPC when full. */
int btnet_peer_hook_(struct btnet *net, btnet_peer_fn_ fn, void *arg);
struct net_peer *btnet_peer_find_(const struct btnet *net,
    const struct bt_id *id);
/* Send the encoded @p m to @p id over an established connection. */
int btnet_send_msg_(struct btnet *net, const struct bt_id *id,
    const struct btcore_msg *m);
/* Send bytes to (@p addr, @p id): find, or dial, a connection; queue
 * until it is established.  The connection used in @p *used. */
int btnet_send_to_(struct btnet *net, const struct btnet_dht_addr *addr,
    const struct bt_id *id, const uint8_t *msg, size_t len,
    struct net_conn **used);
/*
 * Send request @p m (its tid from btnet_tid_()) to node @p to and call
 * @p done once: BT_OK with the reply (a reply to it, or an "error"), or
 * BT_ETIMEDOUT, BTNET_EUNREACHABLE, BT_ECLOSED, BT_EAGAIN, BT_ENOMEM -
 * never from inside this call.  @p m is encoded here (borrowed).
 */
int btnet_request_(struct btnet *net, const struct bt_id *to,
    const struct btcore_msg *m, btnet_req_done_ done, void *ctx);
/* Cancel every request whose ctx is @p ctx (done is not called). */
void btnet_request_cancel_(struct btnet *net, void *ctx);
/* Reschedule the DHT timer. */
void btnet_dht_arm_(struct btnet *net);
/* Parse numeric "ip:port" / "[ip]:port"; format the reverse. */
int btnet_addr_parse_(const char *s, struct btnet_dht_addr *out);
int btnet_addr_format_(const struct btnet_dht_addr *a, char *buf,
    size_t cap);
int btnet_addr_eq_(const struct btnet_dht_addr *a,
    const struct btnet_dht_addr *b);
/* 1 for a valid scope. */
int btnet_scope_ok_(const char *scope, size_t len);

/*
 * The rest of an established connection's set-up, once its peer is
 * admitted: attach it to its peer, send "hello" and what was queued.
 * BT_OK, or BT_ECLOSED when the connection was dropped.
 */
int btnet_conn_ready_(struct btnet *net, struct net_conn *nc,
    const struct bt_id *id, const struct bt_pubkey *key);
/* Close @p nc and forget it; its requests fail with @p reason when it is
 * BTNET_EADMISSION, else as for a lost connection. */
void btnet_conn_drop_(struct btnet *net, struct net_conn *nc, int reason);
/* Process one message received on @p c (the message callback). */
void btnet_conn_input_(struct btnet_conn *c, const uint8_t *msg, size_t len,
    void *arg);

/* ---- admit.c -------------------------------------------------------- */
int btnet_admit_init_(struct btnet *net);
void btnet_admit_close_(struct btnet *net);
/*
 * A connection to (@p id, @p key) is established: 0 when it needs no
 * admission (none required, or the peer is admitted already), 1 when the
 * exchange has started (btnet_conn_ready_() follows on success), or a
 * negative code (close it).
 */
int btnet_admit_begin_(struct btnet *net, struct net_conn *nc,
    const struct bt_id *id, const struct bt_pubkey *key);
/* Input on a connection whose exchange is in progress. */
void btnet_admit_input_(struct btnet *net, struct net_conn *nc,
    const uint8_t *msg, size_t len);
/* An "error" reply on an established connection: 1 when it was the
 * peer refusing us (the connection is then dropped). */
int btnet_admit_refusal_(struct btnet *net, struct net_conn *nc,
    const struct btcore_msg *m);
/* Housekeeping of an exchange in progress: time it out. */
void btnet_admit_tick_(struct btnet *net, struct net_conn *nc, uint64_t now);
/* Release the exchange state of @p nc. */
void btnet_admit_conn_free_(struct net_conn *nc);
/* The refusals remembered (admission.refused_ms): 1 and the reason in
 * @p *reason while @p id is refused, else 0; remember one. */
int btnet_admit_refused_get_(struct btnet *net, const struct bt_id *id,
    int *reason);
void btnet_admit_refused_put_(struct btnet *net, const struct bt_id *id,
    int reason);

/* ---- rpc.c ---------------------------------------------------------- */
int btnet_rpc_init_(struct btnet *net);
void btnet_rpc_close_(struct btnet *net);

/* ---- netdirect.c ---------------------------------------------------- */
int btnet_direct_init_(struct btnet *net);
void btnet_direct_close_all_(struct btnet *net);

/* ---- resolve.c ------------------------------------------------------ */
int btnet_resolve_init_(struct btnet *net);
void btnet_resolve_close_(struct btnet *net);
/* Remember @p addr (a listening address) and @p key for @p id. */
void btnet_cache_put_(struct btnet *net, const struct bt_id *id,
    const struct btnet_dht_addr *addr, const struct bt_pubkey *key);
/* The cached addresses of @p id: up to @p max into @p out, most recent
 * first; how many (tests). */
size_t btnet_cache_addrs_(const struct btnet *net, const struct bt_id *id,
    struct btnet_dht_addr *out, size_t max);
/* A resolution hook found @p n addresses for the resolution @p token. */
void btnet_resolve_found_(struct btnet *net, uint64_t token,
    const struct btnet_dht_addr *addrs, size_t n);
/* Install the friends' resolution source (NULL removes). */
void btnet_resolve_hook_(struct btnet *net, btnet_resolve_fn_ fn,
    void *arg);
/* Resolve through the DHT only (tests; the last step of btnet_resolve). */
int btnet_resolve_dht_(struct btnet *net, const struct bt_id *id,
    btnet_resolve_cb cb, void *arg);
/* Drop the resolutions started with (@p cb, @p arg) without calling. */
void btnet_resolve_cancel_(struct btnet *net, btnet_resolve_cb cb,
    void *arg);
/* Publish our address record (and public key) now. */
int btnet_publish_(struct btnet *net);
/* Housekeeping: republish when due, expire the cache. */
void btnet_resolve_tick_(struct btnet *net);
/* Fail every resolution with @p status (offline). */
void btnet_resolve_fail_all_(struct btnet *net, int status);

/* ---- pubsub.c, friend.c, relay.c ------------------------------------ */
/* Set up after the RPC and direct modules (friend.c wraps the "rpc"
 * handler); closed after the DHT engine is freed. */
int btnet_pubsub_init_(struct btnet *net);
void btnet_pubsub_close_(struct btnet *net);
/* Counters of messages delivered, duplicates and forgeries dropped. */
void btnet_pubsub_counts_(const struct btnet *net, uint64_t *delivered,
    uint64_t *duplicates, uint64_t *forged);
int btnet_friend_init_(struct btnet *net);
void btnet_friend_close_(struct btnet *net);
int btnet_relay_init_(struct btnet *net);
void btnet_relay_close_(struct btnet *net);
/* A relayed route's local address for @p id (the resolution returns it
 * first, and never caches it).  BT_OK or BT_ENOTFOUND. */
int btnet_relay_route_addr_(struct btnet *net, const struct bt_id *id,
    struct btnet_dht_addr *out);
/* 1 when @p a is a local end of our relaying: a route's listener (what a
 * routed dial connects to) or the local address of one of our circuits'
 * sockets (where a relayed connection to our listener comes from). */
int btnet_relay_local_end_(struct btnet *net, const struct btnet_dht_addr *a);
/* The relays that accepted our registration: up to @p max; how many. */
size_t btnet_relay_registered_(struct btnet *net, struct bt_id *out,
    size_t max);
/* Tests: see every chunk a relay forwards (NULL: stop). */
void btnet_relay_tap_(struct btnet *net,
    void (*fn)(void *arg, const uint8_t *data, size_t len), void *arg);
/* Counters of where-is requests sent, newer files found by them, and
 * requests refused by the friends' policy. */
void btnet_friend_counts_(const struct btnet *net, uint64_t *asked,
    uint64_t *found, uint64_t *refused);

#endif /* BTNET_NET_INTERNAL_H */
