/*
 * bt/relay.h - relayed connections over a BlockTree node (bt/net.h), for
 * peers that cannot be dialled directly (behind a firewall or NAT).
 *
 * Three roles:
 *  - the relay R serves (btnet_relay_serve()): it relays only for nodes
 *    that registered with it, within limits;
 *  - the target B registers with R (btnet_relay_register()) and so keeps
 *    a connection to R (it registers again every 20 s, and after the
 *    connection was lost);
 *  - the caller A routes its connections to B through R
 *    (btnet_relay_route()).
 *
 * A routed connection is an ordinary connection of the node: btnet_rpc_
 * call(), btnet_direct_connect() and every other use of B's node id work
 * unchanged.  A's node dials a loopback address of the route (which the
 * resolution of B's id now returns first) with B's node id as the
 * expected identity; each TCP connection accepted there opens a circuit:
 * "relay-open" (B's id) to R, which checks that B is registered and
 * connected, numbers the circuit and tells B ("relay-incoming", with A's
 * id); B connects a loopback socket to its own listener.  From then on
 * "relay-data" messages carry the bytes of that TCP stream, in chunks of
 * at most 16 KiB, A -> R -> B and back, and "relay-close" ends the
 * circuit on either side.  The end-to-end stream is the Noise session
 * between A and B (bt/conn.h): the handshake authenticates B as the node
 * id A expects, and R forwards ciphertext only - it never holds a key
 * of that session.
 *
 * Addresses.  The remote address of a relayed connection is an end of
 * the relay on the node itself (at A the route's listener, at B the
 * circuit's loopback socket), never an address of the peer: neither node
 * records it as one - not in its address cache, not in its routing table
 * (the DHT answers requests over the connection but learns no contact
 * from it), not in what btnet_resolve() returns - and B ignores the
 * listening address A would claim over it.  The peer's own signed
 * address record stays the source of its addresses.  The route's
 * address is what the resolution of B returns first while the route
 * lasts; it is never cached, so it ends with the route.
 *
 * "via R": a peer file (bt/friend.h) lists the relays its node is
 * registered with; a friend that cannot reach the node directly routes
 * through them (see btnet_friend_contact()).
 *
 * Limits at R: registered nodes, circuits in all and per node (counted
 * at both ends), and a token bucket of bytes per circuit; a circuit over
 * its budget, or whose output cannot be queued, is closed at both ends.
 * A node that does not listen cannot be a target (B needs a listener; it
 * may be on a loopback address).  The relayed connections of a target
 * all come from its own loopback address, so its per-IP limits
 * (bt/net.h) count them together.
 */
#ifndef BT_RELAY_H
#define BT_RELAY_H

#include <bt/common.h>
#include <bt/id.h>
#include <bt/net.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Most relays a node registers with, and most routes it keeps. */
#define BTNET_RELAY_REGISTER_MAX	8
#define BTNET_RELAY_ROUTES_MAX		64

/** What a relay allows; fill with btnet_relay_limits_init() first. */
struct btnet_relay_limits {
	uint32_t registered;		/* nodes registered at once (64) */
	uint32_t circuits;		/* circuits at once (256) */
	uint32_t circuits_per_peer;	/* per node, either end (16) */
	uint32_t rate;			/* bytes per second per circuit
					   (1048576) */
	uint32_t burst;			/* bucket size in bytes (4194304),
					   >= 65536 */
};

/** The outcome of btnet_relay_register(): BT_OK (accepted), BT_EPERM
 *  (refused: the relay does not serve, or is full), or an error as for
 *  struct btnet_rpc_result. */
typedef void (*btnet_relay_cb)(void *arg, int status,
    const struct bt_id *relay);

/**
 * Fill @p lim with the defaults shown in struct btnet_relay_limits.
 * @since 0.1
 */
BT_EXPORT void btnet_relay_limits_init(struct btnet_relay_limits *lim);

/**
 * Relay for registered nodes within @p lim (borrowed for the call), or
 * with @p lim NULL stop: every circuit is closed and every registration
 * dropped.
 * @return BT_OK; BT_EINVAL (NULL net); BT_ERANGE (a zero limit, a burst
 *	   below 65536).
 * @since 0.1
 */
BT_EXPORT BT_WUR int btnet_relay_serve(struct btnet *net,
    const struct btnet_relay_limits *lim);

/**
 * Register with relay @p relay and stay registered (see above).  @p cb
 * (may be NULL) runs exactly once, from the loop, with the outcome of the
 * first attempt.  Registering again with the same relay only refreshes.
 * @return BT_OK; BT_EINVAL (NULL argument, our own id); BT_ESTATE
 *	   (offline, or no listening address); BT_ENOSPC
 *	   (BTNET_RELAY_REGISTER_MAX relays); BT_EAGAIN; BT_ENOMEM.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btnet_relay_register(struct btnet *net,
    const struct bt_id *relay, btnet_relay_cb cb, void *arg);

/**
 * Stop registering with @p relay (the relay forgets us when the
 * connection ends).  No-op when not registered.
 * @since 0.1
 */
BT_EXPORT void btnet_relay_unregister(struct btnet *net,
    const struct bt_id *relay);

/**
 * Route connections to node @p target through relay @p relay (replacing
 * an earlier route to @p target): open a loopback listener for it and
 * make it the first address the resolution of @p target returns while
 * the route lasts (it is not cached as an address of @p target).
 * Connections to @p target already established are not moved.
 * @return BT_OK; BT_EINVAL (NULL argument, our own id, target equal to
 *	   relay); BT_ENOSPC (BTNET_RELAY_ROUTES_MAX routes); BT_EIO (the
 *	   listener); BT_ENOMEM.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btnet_relay_route(struct btnet *net,
    const struct bt_id *target, const struct bt_id *relay);

/**
 * Remove the route to @p target and close its circuits.  No-op when there
 * is none.
 * @since 0.1
 */
BT_EXPORT void btnet_relay_unroute(struct btnet *net,
    const struct bt_id *target);

#ifdef __cplusplus
}
#endif
#endif /* BT_RELAY_H */
