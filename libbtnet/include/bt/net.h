/*
 * bt/net.h - a BlockTree node on the network: the Noise endpoint
 * (bt/conn.h) and the DHT engine (bt/dht.h) joined into one object, with
 * node-id resolution, RPC and direct connections.
 *
 * A struct btnet listens on up to BTNET_LISTEN_MAX addresses, dials
 * peers on demand and keeps one connection manager: every message to a
 * node (DHT request, RPC, direct message) goes over an established,
 * authenticated connection to that node, dialled with the node id we
 * expect when it is known; idle connections are closed after idle_ms.
 * Messages that arrive are dispatched by their "op" (bt/msg.h): DHT ops
 * to the engine, with the peer's authenticated node id and its listening
 * address; "rpc" to the handler of its scope; "direct" to the direct
 * handler of its scope.
 *
 * Addresses.  Each node publishes, while online, a signed address record
 * (bt/record.h) under its own Ed25519 key with the key "addr" and a value
 * listing its listening addresses (below), sequence = milliseconds of
 * the wall clock (always above the last one published), and republishes
 * it every republish_ms.  It also stores its 32-byte public key as a DHT
 * value, whose key is therefore its node id.  btnet_resolve() takes a
 * relayed route first (bt/relay.h; a relayed connection never teaches a
 * node an address of its peer), then looks in a cache of recently seen
 * addresses, then the routing table, then the DHT: the public key by
 * node id (the engine checks that it hashes to the id), then the record
 * under (that key, "addr"), whose signature is checked.
 *
 *	address list:  u8 version (1) | u8 count (1..8) |
 *		       count * ( u8 family (4 or 6) | ip (4 or 16) |
 *				 be16 port (1..65535) )
 *
 * Callbacks.  Every callback runs from the caller's event loop, never
 * from inside the function that started the work; each started
 * operation (call, resolution, direct connect) calls its callback exactly
 * once, with BT_ECLOSED from btnet_close() at the latest.  Inside a
 * callback any function of this header may be called except
 * btnet_close() (a callback run by btnet_close() must not call into
 * @p net at all).
 *
 * A struct btnet is used from its event loop's thread only; nothing is
 * global.  Like every libevent program, the application ignores SIGPIPE.
 */
#ifndef BT_NET_H
#define BT_NET_H

#include <bt/common.h>
#include <bt/id.h>
#include <bt/key.h>
#include <bt/dht.h>
#include <bt/dhtstore.h>
#include <bt/neterror.h>
#include <bt/scope.h>

#ifdef __cplusplus
extern "C" {
#endif

struct event_base;

/** A node on the network.  Opaque. */
struct btnet;
/** An RPC request waiting for its handler's answer.  Opaque. */
struct btnet_rpc_req;

/* Error codes (BTNET_EUNREACHABLE, ...) are in <bt/neterror.h>. */

/** Most listening addresses. */
#define BTNET_LISTEN_MAX	4
/** Most bootstrap addresses given to btnet_online(). */
#define BTNET_BOOTSTRAP_MAX	64
/** Most addresses in an address record. */
#define BTNET_ADDRS_MAX		8
/** Longest scope; the rule for scope names is in <bt/scope.h>. */
#define BTNET_SCOPE_MAX		BTCORE_SCOPE_MAX
/** The record key of address records. */
#define BTNET_ADDR_RECORD_KEY	"addr"

/* ---- admission ------------------------------------------------------ */
/*
 * Admission.  A node may require every peer to present a statement (an
 * opaque byte string: with libbttpm, an attestation statement binding the
 * peer's Ed25519 identity to its TPM) before anything else it sends is
 * processed.  libbtnet carries the statements; the caller's callbacks
 * judge them (libbtnet does not link libbttpm).
 *
 * When btnet_admission.admit is set, every new connection, dialled or
 * accepted, starts with an "admit" request carrying our statement; the
 * peer answers with an "admit" reply carrying its own (every node answers,
 * whether it requires admission or not; an empty statement when it has
 * none).  Until the peer is admitted, nothing else it sends is processed
 * (up to 64 messages are held, then the connection is closed) and nothing
 * we have queued for it is sent.  The peer's statement, from its reply or
 * from its own request, whichever comes first, goes to admit().  With a
 * challenge() callback, an admitted statement is then put to a
 * credential-activation round: an "admit-challenge" request, answered by
 * the peer's answer() callback with a 32-byte secret that must match.
 * A peer refused, or silent for handshake_timeout_ms, is sent an "error"
 * reply whose code is the reason and is disconnected; requests waiting on
 * that connection fail with BTNET_EADMISSION.  The refused side sees the
 * error, reports it through event() and drops the connection as well.
 *
 * Admission is per peer id (authenticated by the Noise handshake): while
 * the peer has an admitted connection, and for cache_ms after it was
 * admitted, its further connections are admitted without a new exchange.
 * A relayed connection (bt/relay.h) is an ordinary connection of both
 * ends, admitted or refused like a direct one; a relay that requires
 * admission admits the nodes on their own connections to it.
 *
 * Refusals are remembered as well, so that a peer redialling in a loop
 * costs little: a peer refused by the policy (admit() or challenge()
 * returned 0, or its challenge answer was wrong or missing) is refused
 * again for refused_ms after, with the same reason, as soon as its
 * statement arrives on a new connection - admit() is not called, event()
 * still reports BTNET_ADMIT_REFUSED.  At most BTNET_ADMIT_REFUSED_MAX
 * peers are remembered (the oldest refusal makes room).  Refusals for a
 * time-out, for too much sent before admission or for a lack of memory
 * are not remembered.
 */

/** Most refused peers remembered (btnet_admission.refused_ms). */
#define BTNET_ADMIT_REFUSED_MAX		64
/** Longest btnet_admission.refused_ms: 10 minutes. */
#define BTNET_ADMIT_REFUSED_MS_MAX	600000

/**
 * Judge a peer's statement.  @p peer is its authenticated node id,
 * @p identity its Ed25519 key; @p stmt (@p len bytes, 0 when it sent
 * none) is borrowed for the call.  Return 1 to admit, 0 to refuse and set
 * @p *reason to a negative code describing why (e.g. a libbttpm code);
 * libbtnet reports and sends the code but does not interpret it.
 */
typedef int (*btnet_admit_fn)(void *arg, const struct bt_id *peer,
    const struct bt_pubkey *identity, const uint8_t *stmt, size_t len,
    int *reason);

/**
 * Make a credential-activation challenge for a statement admit() has just
 * accepted: write at most @p cap bytes (at least 1) into @p chal, their
 * number into @p *chal_len, and the secret the peer must send back into
 * @p secret.  Return 1 on success; 0 to refuse the peer with @p *reason.
 * When 1 is returned, @p *reason is the reason reported if the peer's
 * answer is wrong or missing.
 */
typedef int (*btnet_admit_challenge_fn)(void *arg, const struct bt_id *peer,
    const uint8_t *stmt, size_t len, uint8_t *chal, size_t cap,
    size_t *chal_len, uint8_t secret[32], int *reason);

/**
 * Answer a challenge a peer sent us (@p chal, @p len bytes, borrowed):
 * write the secret into @p secret and return BT_OK, or return a negative
 * code, which is sent to the peer.
 */
typedef int (*btnet_admit_answer_fn)(void *arg, const struct bt_id *peer,
    const uint8_t *chal, size_t len, uint8_t secret[32]);

/** Admission events (btnet_admit_event_fn). */
#define BTNET_ADMIT_ADMITTED	1	/* we admitted the peer */
#define BTNET_ADMIT_REFUSED	2	/* we refused it, for @p reason */
#define BTNET_ADMIT_REFUSED_BY	3	/* it refused us, for @p reason */

/**
 * Told of each admission decision about @p peer (borrowed for the call).
 * @p reason: 0 for ADMITTED; for REFUSED, the reason from admit() or
 * challenge(), or BT_ETIMEDOUT (no statement or answer in time),
 * BT_EPROTO (an exchange out of order), BT_EAGAIN (too much sent before
 * admission); for REFUSED_BY, the code the peer sent.
 */
typedef void (*btnet_admit_event_fn)(void *arg, const struct bt_id *peer,
    int event, int reason);

/** Admission settings: a part of struct btnet_config, zero by default. */
struct btnet_admission {
	/* our statement: sent to every peer that asks; copied by
	   btnet_open(); NULL (with len 0) for none */
	const uint8_t *stmt;
	size_t stmt_len;		/* at most BTCORE_MSG_ADMIT_MAX */
	btnet_admit_fn admit;		/* NULL: admit every peer */
	btnet_admit_challenge_fn challenge;	/* NULL: no activation round */
	btnet_admit_answer_fn answer;	/* NULL: challenges are refused */
	btnet_admit_event_fn event;	/* NULL: none */
	void *arg;			/* for the callbacks; must outlive
					   the node */
	uint32_t cache_ms;		/* (600000) */
	uint32_t refused_ms;		/* remember refusals (30000), at
					   most BTNET_ADMIT_REFUSED_MS_MAX;
					   0: never */
};

/**
 * Settings; fill with btnet_config_init() first, then change fields.
 * Zero timeouts and limits are refused by btnet_open().
 */
struct btnet_config {
	/* numeric "IPv4:port" or "[IPv6]:port" (port 0: any free port);
	   borrowed for btnet_open() only */
	const char *listen[BTNET_LISTEN_MAX];
	size_t nlisten;			/* 0: dial only */
	unsigned replication;		/* 1..BT_REPLICATION_MAX (5) */
	unsigned prefix_per_bucket;	/* DHT: same /24 per bucket (2) */
	unsigned prefix_per_table;	/* DHT: same /24 per table (3) */
	uint32_t request_timeout_ms;	/* DHT requests, RPC calls, direct
					   connects (BT_REQUEST_TIMEOUT_MS) */
	uint32_t handshake_timeout_ms;	/* (10000) */
	uint32_t idle_ms;		/* close unused connections (60000) */
	uint32_t max_conns;		/* connections per endpoint (512) */
	uint32_t max_conns_per_ip;	/* accepted from one IP (16) */
	uint32_t handshake_rate;	/* accepted per minute per IP (600) */
	uint32_t handshake_burst;	/* (20) */
	uint32_t republish_ms;		/* address record (1800000) */
	uint32_t cache_ms;		/* keep seen addresses (600000) */
	uint32_t max_requests;		/* RPC calls and requests waiting,
					   each way (1024) */
	/* the X25519 static private key (32 bytes, borrowed for
	   btnet_open() only), or NULL for a fresh one */
	const uint8_t *static_priv;
	/* peers must be admitted first (see "Admission" above) */
	struct btnet_admission admission;
};

/** Events (btnet_setcb()). */
#define BTNET_EVENT_ONLINE	1	/* a peer answered us */
#define BTNET_EVENT_OFFLINE	2	/* no live peer, or btnet_offline() */

/**
 * Event callback.  @p status: BT_OK for ONLINE and for OFFLINE after
 * btnet_offline(); BT_ETIMEDOUT when joining found no peer; BT_ECLOSED
 * when the last live peer went away.
 */
typedef void (*btnet_event_cb)(void *arg, int event, int status);

/**
 * Fill @p cfg with the defaults shown in struct btnet_config.
 * @since 0.1
 */
BT_EXPORT void btnet_config_init(struct btnet_config *cfg);

/**
 * Create a node on @p base and start listening.
 *
 * @param out	out: caller owns; release with btnet_close(); NULL on
 *		failure.
 * @param base	borrowed: must outlive the node.
 * @param signer in, borrowed (must outlive the node): the node's Ed25519
 *		identity; the node id is SHA-256 of its public key.
 * @param storage in, borrowed (must outlive the node), may be NULL: what
 *		the DHT keeps for other nodes (bt/dhtstore.h); NULL uses an
 *		internal in-memory store.
 * @param cfg	in, borrowed for the call, may be NULL (defaults).
 * @return BT_OK; BT_EINVAL (NULL argument, a zero setting, more than
 *	   BTNET_LISTEN_MAX addresses, a challenge() without admit(), a
 *	   NULL admission statement with a nonzero length); BT_ERANGE (a
 *	   setting out of range, a statement above BTCORE_MSG_ADMIT_MAX,
 *	   admission.refused_ms above BTNET_ADMIT_REFUSED_MS_MAX);
 *	   BT_EFORMAT (a listening address is not numeric with a port);
 *	   BT_EIO (bind or listen failed); BT_ENOMEM; BT_ECRYPTO.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btnet_open(struct btnet **out, struct event_base *base,
    const struct btcore_signer *signer,
    const struct btnet_dht_storage *storage, const struct btnet_config *cfg);

/**
 * Close every connection, stop every timer, call the callbacks of work
 * still running with BT_ECLOSED (they must not call into @p net), free
 * the RPC requests not answered, and release @p net.  NULL is a no-op.
 * Not from inside a callback of @p net.
 * @since 0.1
 */
BT_EXPORT void btnet_close(struct btnet *net);

/**
 * Set the event callback (NULL: none) and its argument.
 * @since 0.1
 */
BT_EXPORT void btnet_setcb(struct btnet *net, btnet_event_cb cb, void *arg);

/**
 * Go online: contact each of @p n bootstrap addresses (numeric, as for
 * listening; borrowed for the call), fill the routing table, learn our
 * external address from the "welcome" replies and publish our address
 * record.  The ONLINE event follows when a peer answers, OFFLINE with
 * BT_ETIMEDOUT when none did.  With @p n = 0 the node waits to be
 * contacted (the first node of a network) and is online at once.
 *
 * @return BT_OK; BT_EINVAL (NULL net, NULL list with n > 0, n above
 *	   BTNET_BOOTSTRAP_MAX); BT_EFORMAT (an address); BT_ESTATE
 *	   (already online or joining); BT_EAGAIN; BT_ENOMEM.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btnet_online(struct btnet *net,
    const char *const *bootstrap, size_t n);

/**
 * Go offline: close every connection (peers see them end), fail the
 * calls and direct connections in progress with BT_ECLOSED, refuse new
 * connections, and report OFFLINE (status BT_OK) from the loop.  The
 * routing table is kept for a later btnet_online().  No-op when offline.
 * @since 0.1
 */
BT_EXPORT void btnet_offline(struct btnet *net);

/** 1 when online (or joining), else 0.  @since 0.1 */
BT_EXPORT int btnet_is_online(const struct btnet *net);

/** Our node id.  @since 0.1 */
BT_EXPORT void btnet_local_id(const struct btnet *net, struct bt_id *out);

/**
 * Listening address @p i (0-based) with its actual port, as numeric text.
 * @param buf	out: room for @p cap bytes (BTNET_ADDR_STRLEN suffice).
 * @return BT_OK; BT_EINVAL; BT_ENOTFOUND (no address @p i); BT_ENOSPC.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btnet_local_addr(const struct btnet *net, size_t i,
    char *buf, size_t cap);

/**
 * The nodes we hold an established connection to: up to @p max ids into
 * @p out (may be NULL when @p max is 0); returns how many there are.
 * @since 0.1
 */
BT_EXPORT size_t btnet_peers(const struct btnet *net, struct bt_id *out,
    size_t max);

/**
 * The DHT engine of @p net (borrowed, valid until btnet_close()), for
 * put, get, bag and record operations over the network.  Its callbacks
 * run from the loop.  Do not free it or feed it input.  Fetch it with
 * this function for each operation started
 * (btnet_dht_get_value(btnet_dht(net), ...)): the call also makes the
 * node look at the engine's timer from the loop, so that an operation
 * finishing without network traffic reports at once (otherwise within a
 * second).
 * @since 0.1
 */
BT_EXPORT struct btnet_dht *btnet_dht(struct btnet *net);

/**
 * Resolution callback: @p status BT_OK with @p n (1..BTNET_ADDRS_MAX)
 * addresses (borrowed for the call), or BTNET_EUNREACHABLE, BT_ECLOSED.
 */
typedef void (*btnet_resolve_cb)(void *arg, int status,
    const struct bt_id *id, const struct btnet_dht_addr *addrs, size_t n);

/**
 * Find the addresses of node @p id: a relayed route to it (bt/relay.h),
 * cache, routing table, then the DHT address record (see above).
 * @return BT_OK (the callback follows); BT_EINVAL (NULL argument, our
 *	   own id); BT_ESTATE (offline); BT_EAGAIN (max_requests reached);
 *	   BT_ENOMEM.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btnet_resolve(struct btnet *net, const struct bt_id *id,
    btnet_resolve_cb cb, void *arg);

/**
 * Encode an address list (format above) into @p buf of @p cap bytes.
 * @return BT_OK; BT_EINVAL (NULL, a family other than 4 or 6, port 0);
 *	   BT_ERANGE (n 0 or above BTNET_ADDRS_MAX); BT_ENOSPC (cap; *len
 *	   holds the size needed).
 * @since 0.1
 */
BT_EXPORT BT_WUR int btnet_addrs_encode(const struct btnet_dht_addr *addrs,
    size_t n, uint8_t *buf, size_t cap, size_t *len);

/**
 * Decode exactly @p len bytes of an address list into @p out (room for
 * BTNET_ADDRS_MAX); the count in @p *n.
 * @return BT_OK; BT_EINVAL; BT_ETRUNC; BT_EFORMAT (version, count 0 or
 *	   above BTNET_ADDRS_MAX, family, port 0, trailing bytes).
 * @since 0.1
 */
BT_EXPORT BT_WUR int btnet_addrs_decode(const uint8_t *buf, size_t len,
    struct btnet_dht_addr *out, size_t *n);

/* ---- RPC ------------------------------------------------------------- */

/**
 * A request handler: @p args (a BSON document of @p len bytes) and
 * @p scope are borrowed for the call; @p from is the caller's
 * authenticated node id.  The handler answers @p req exactly once with
 * btnet_rpc_reply() or btnet_rpc_error(), now or later; @p req stays
 * valid until then (or until btnet_close(), which frees it).  A request
 * never answered lets the caller time out.
 */
typedef void (*btnet_rpc_handler)(void *arg, struct btnet_rpc_req *req,
    const struct bt_id *from, const char *scope, const uint8_t *args,
    size_t len);

/**
 * Handle calls to @p scope with @p fn (replacing an earlier handler);
 * a NULL @p fn removes it.
 * @return BT_OK; BT_EINVAL (NULL net or scope, a scope of the wrong
 *	   length or characters); BT_ENOMEM.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btnet_rpc_handle(struct btnet *net, const char *scope,
    btnet_rpc_handler fn, void *arg);

/**
 * Answer @p req with the BSON document @p doc of @p len bytes (borrowed)
 * and release @p req - also when the answer cannot be sent.
 * @return BT_OK; BT_EINVAL (NULL req; @p req is then untouched);
 *	   BT_EFORMAT (not one valid BSON document); BT_ETOOBIG;
 *	   BT_ECLOSED (the caller is gone); BT_EAGAIN; BT_ENOMEM.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btnet_rpc_reply(struct btnet_rpc_req *req,
    const uint8_t *doc, size_t len);

/**
 * Answer @p req with an error (@p code negative, @p text UTF-8 of at most
 * 1024 bytes, may be NULL) and release @p req.
 * @return as btnet_rpc_reply(); BT_EINVAL also for a non-negative code or
 *	   bad text (@p req is released all the same).
 * @since 0.1
 */
BT_EXPORT BT_WUR int btnet_rpc_error(struct btnet_rpc_req *req, int code,
    const char *text);

/** The outcome of a call, borrowed for the callback. */
struct btnet_rpc_result {
	/* BT_OK; BT_ETIMEDOUT; BTNET_EUNREACHABLE; BTNET_ENOSCOPE;
	   BTNET_EREMOTE; BTNET_EADMISSION (admission refused, either
	   way); BT_ECLOSED (connection lost, offline, closed);
	   BT_EAGAIN, BT_ENOMEM (local limits) */
	int status;
	const uint8_t *reply;	/* BT_OK: the answer document */
	size_t len;
	int code;		/* BTNET_EREMOTE: the handler's code */
	const char *text;	/* ENOSCOPE, EREMOTE: the remote text; else
				   "" (never NULL) */
};

typedef void (*btnet_rpc_cb)(void *arg, const struct btnet_rpc_result *res);

/**
 * Call @p scope on node @p to with the BSON document @p args of @p len
 * bytes (copied): resolve, connect, send, and wait at most
 * request_timeout_ms for the answer.  @p cb runs exactly once, from the
 * loop.
 * @return BT_OK; BT_EINVAL (NULL argument, our own id, bad scope);
 *	   BT_EFORMAT (@p args is not one valid BSON document);
 *	   BT_ETOOBIG; BT_ESTATE (offline); BT_EAGAIN (max_requests calls
 *	   waiting); BT_ENOMEM.  On error @p cb is never called.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btnet_rpc_call(struct btnet *net, const struct bt_id *to,
    const char *scope, const uint8_t *args, size_t len, btnet_rpc_cb cb,
    void *arg);

/* ---- direct connections ------------------------------------------- */

/** A direct message of @p len bytes under @p scope (borrowed). */
typedef void (*btnet_direct_handler)(void *arg, const struct bt_id *from,
    const char *scope, const uint8_t *data, size_t len);
/** A direct connection with @p peer came up (@p up 1) or ended (0). */
typedef void (*btnet_direct_event_cb)(void *arg, const struct bt_id *peer,
    int up);
/** The outcome of btnet_direct_connect(): BT_OK or an error as for
 *  struct btnet_rpc_result. */
typedef void (*btnet_direct_connect_cb)(void *arg, int status,
    const struct bt_id *peer);

/**
 * Open a direct connection to @p to: a connection kept open (not closed
 * when idle, kept alive) over which both sides send scoped messages.
 * Both sides see the up event; @p cb follows.  Connecting to a node
 * already directly connected succeeds at once (from the loop).
 * @return BT_OK; BT_EINVAL; BT_ESTATE (offline); BT_EAGAIN; BT_ENOMEM.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btnet_direct_connect(struct btnet *net,
    const struct bt_id *to, btnet_direct_connect_cb cb, void *arg);

/**
 * Send @p len bytes (borrowed; at most about 1 MiB less 256) under
 * @p scope over the direct connection with @p to.
 * @return BT_OK; BT_EINVAL (NULL, bad scope); BT_ESTATE (no direct
 *	   connection with @p to); BT_ETOOBIG; BT_EAGAIN (output queue
 *	   full); BT_ENOMEM.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btnet_direct_send(struct btnet *net,
    const struct bt_id *to, const char *scope, const uint8_t *data,
    size_t len);

/**
 * Handle direct messages of @p scope (NULL @p fn removes the handler).
 * Messages for a scope without handler are dropped.
 * @return BT_OK; BT_EINVAL; BT_ENOMEM.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btnet_direct_handle(struct btnet *net,
    const char *scope, btnet_direct_handler fn, void *arg);

/** Set the up/down event callback of direct connections.  @since 0.1 */
BT_EXPORT void btnet_direct_events(struct btnet *net,
    btnet_direct_event_cb cb, void *arg);

/**
 * End the direct connection with @p to: the peer is told, both sides see
 * the down event (ours before this returns), and the connection may then
 * be closed when idle.  No-op when there is none.
 * @since 0.1
 */
BT_EXPORT void btnet_direct_close(struct btnet *net, const struct bt_id *to);

#ifdef __cplusplus
}
#endif
#endif /* BT_NET_H */
