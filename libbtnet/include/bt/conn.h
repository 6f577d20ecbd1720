/*
 * bt/conn.h - encrypted, authenticated BlockTree connections over TCP on
 * the caller's libevent event loop.
 *
 * A struct btnet_endpoint holds a node's transport identity, its limits
 * and (optionally) a listening socket.  Connections it dials or accepts
 * run the BlockTree handshake (Noise_XX_25519_ChaChaPoly_SHA256, prologue
 * "BlockTree/1", Ed25519 identity payloads; see bt/noise.h) and then
 * carry whole BlockTree messages of up to 1 MiB in the framing of
 * bt/frame.h.
 *
 * Wire format.  Each handshake message travels as  be16(length) ||
 * message  (1 ... BTNET_HANDSHAKE_MSG_MAX bytes); the initiator sends
 * messages 1 and 3, the responder message 2.  The transport frames of
 * bt/frame.h follow directly; the initiator may send them right after
 * message 3.
 *
 * Everything runs on the struct event_base given to btnet_endpoint_open():
 * no threads, no global state, no output.  Callbacks run from that loop.
 * Inside a callback any function of this header may be called, including
 * btnet_conn_close() and btnet_endpoint_close(); memory is released once
 * the callback has returned.  An endpoint and its connections are used
 * from the loop's thread only.
 *
 * Writing to a socket the peer has closed raises SIGPIPE on some
 * systems; like every libevent program, the application ignores SIGPIPE.
 */
#ifndef BT_CONN_H
#define BT_CONN_H

#include <bt/common.h>
#include <bt/id.h>
#include <bt/key.h>

#ifdef __cplusplus
extern "C" {
#endif

struct event_base;
struct btnet_identity;

/** An endpoint: identity, limits, listener, connections.  Opaque. */
struct btnet_endpoint;
/** One connection, owned by its endpoint.  Opaque. */
struct btnet_conn;

/*
 * Callbacks.  @p arg is the pointer given to btnet_endpoint_setcb().  The
 * connection handle is borrowed.
 *
 * established: the handshake finished; @p peer (borrowed for the call)
 *	is the authenticated node id of the peer.  Accepted connections
 *	become known to the application here.
 * message: one whole message of @p len bytes (0 ... the message limit);
 *	@p msg is borrowed for the call only.  An empty message is a
 *	keepalive the peer sent.
 * closed: the connection ended for @p reason (below).  Called once for
 *	every connection the application knows (dialled, or reported by
 *	established), unless the application closed it itself with
 *	btnet_conn_close() or btnet_endpoint_close().  The handle becomes
 *	invalid when the callback returns.
 * writable: a btnet_conn_send() failed with BT_EAGAIN and the output
 *	queue has since drained to half its limit.
 *
 * Close reasons: BT_ECLOSED (the peer closed the connection, or refused
 * it because of a limit); BT_ETIMEDOUT (handshake or idle timeout);
 * BT_EIO (connect or socket error); BTNET_EPEERID (the peer is not the
 * node that was dialled); BT_EVERIFY, BT_EPROTO, BT_EFORMAT, BT_ETRUNC
 * (a handshake message or a frame failed; see bt/noise.h, bt/frame.h);
 * BT_ETOOBIG (the peer announced a message above the limit);
 * BTNET_ENONCE; BT_ENOMEM; BT_ECRYPTO.
 */
typedef void (*btnet_established_cb)(struct btnet_conn *c,
    const struct bt_id *peer, void *arg);
typedef void (*btnet_message_cb)(struct btnet_conn *c, const uint8_t *msg,
    size_t len, void *arg);
typedef void (*btnet_closed_cb)(struct btnet_conn *c, int reason, void *arg);
typedef void (*btnet_writable_cb)(struct btnet_conn *c, void *arg);

/* Options for btnet_endpoint_set(); each names its unit and default. */
/** Milliseconds from TCP connect to the end of the handshake (1 ...
 *  3600000; default 10000).  A peer that sends nothing, or too little,
 *  is closed with BT_ETIMEDOUT. */
#define BTNET_OPT_HANDSHAKE_TIMEOUT_MS	1
/** Milliseconds without a received byte, or without progress writing,
 *  before an established connection is closed with BT_ETIMEDOUT (0 turns
 *  it off ... 86400000; default 300000). */
#define BTNET_OPT_IDLE_TIMEOUT_MS	2
/** Connections at once, dialled and accepted, in handshake or
 *  established (1 ... 1000000; default 1024). */
#define BTNET_OPT_MAX_CONNS		3
/** Accepted connections at once from one IP address (IPv6: one /64)
 *  (1 ... 1000000; default 16). */
#define BTNET_OPT_MAX_CONNS_PER_IP	4
/** Handshakes accepted per minute from one IP address: the refill rate
 *  of a token bucket (1 ... 6000000; default 600). */
#define BTNET_OPT_HANDSHAKE_RATE	5
/** The size of that bucket: handshakes accepted at once from one IP
 *  address after a quiet spell (1 ... 1000000; default 20). */
#define BTNET_OPT_HANDSHAKE_BURST	6
/** Bytes of encrypted output a connection may queue (65536 ...
 *  1073741824; default 4194304).  A send that would pass it fails with
 *  BT_EAGAIN, except on an empty queue. */
#define BTNET_OPT_OUTPUT_MAX		7
/** Largest message accepted from a peer and sent (1 ... BT_MSG_MAX;
 *  default BT_MSG_MAX).  A peer that announces more is closed with
 *  BT_ETOOBIG. */
#define BTNET_OPT_MESSAGE_MAX		8
/** Transport messages between rekeys (0 turns rekeying off; default
 *  BTNET_CIPHER_REKEY_DEFAULT).  Both ends must use the same value. */
#define BTNET_OPT_REKEY_INTERVAL	9

/* Counters for btnet_endpoint_stat(). */
#define BTNET_STAT_CONNS		1	/* connections now */
#define BTNET_STAT_ESTABLISHED		2	/* handshakes completed */
#define BTNET_STAT_HANDSHAKE_FAILED	3	/* handshakes that failed */
#define BTNET_STAT_REFUSED_RATE		4	/* accepts refused: rate */
#define BTNET_STAT_REFUSED_CAP		5	/* accepts refused: caps */
#define BTNET_STAT_ACCEPT_ERRORS	6	/* accept(2) failures */

/** Longest text btnet_conn_peer_addr() writes, with its NUL. */
#define BTNET_ADDR_STRLEN	64

/**
 * Create an endpoint on @p base.
 *
 * @param out	out: caller owns; release with btnet_endpoint_close();
 *		NULL on failure.
 * @param base	borrowed: must outlive the endpoint.
 * @param id	borrowed: the local transport identity (btnet_identity_new());
 *		must outlive the endpoint.
 * @return BT_OK, BT_EINVAL (a NULL argument), BT_ENOMEM.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btnet_endpoint_open(struct btnet_endpoint **out,
    struct event_base *base, const struct btnet_identity *id);

/**
 * Set one option (BTNET_OPT_*).  Limits apply to connections made and
 * accepted afterwards; set them before btnet_endpoint_listen().
 *
 * @return BT_OK; BT_EINVAL (NULL @p ep or an unknown option); BT_ERANGE
 *	   (@p value outside the option's range).
 * @since 0.1
 */
BT_EXPORT BT_WUR int btnet_endpoint_set(struct btnet_endpoint *ep, int opt,
    uint64_t value);

/**
 * Set the callbacks of every connection of @p ep (any may be NULL) and
 * the pointer passed to them.  Replaces earlier callbacks.
 * @since 0.1
 */
BT_EXPORT void btnet_endpoint_setcb(struct btnet_endpoint *ep,
    btnet_established_cb established, btnet_message_cb message,
    btnet_closed_cb closed, btnet_writable_cb writable, void *arg);

/**
 * Listen on @p addr, numeric "IPv4:port" or "[IPv6]:port" (port 0 picks
 * a free port; see btnet_endpoint_port()).  One listener per endpoint.
 *
 * @param addr	in, borrowed.
 * @return BT_OK; BT_EINVAL; BT_EFORMAT (not a numeric address with a
 *	   port); BT_ESTATE (already listening); BT_EIO (socket, bind or
 *	   listen failed).
 * @since 0.1
 */
BT_EXPORT BT_WUR int btnet_endpoint_listen(struct btnet_endpoint *ep,
    const char *addr);

/**
 * The port the endpoint listens on, 0 when it does not listen.
 * @since 0.1
 */
BT_EXPORT uint16_t btnet_endpoint_port(const struct btnet_endpoint *ep);

/**
 * Connect to @p addr (numeric, as for btnet_endpoint_listen()) and run
 * the handshake as initiator.  Completion is reported by the established
 * callback, failure by the closed callback, both from the event loop and
 * never from inside this call.
 *
 * @param addr		in, borrowed.
 * @param expect	in, borrowed for the call: the node id to reach;
 *			a peer with another id is closed with
 *			BTNET_EPEERID.  NULL accepts any authenticated
 *			peer (e.g. a bootstrap address).
 * @param out		out, may be NULL: the connection, owned by the
 *			endpoint, valid until the closed callback returns
 *			or btnet_conn_close(); NULL on failure.
 * @return BT_OK; BT_EINVAL; BT_EFORMAT (bad address); BT_ESTATE (the
 *	   endpoint is closing); BT_EAGAIN (BTNET_OPT_MAX_CONNS reached);
 *	   BT_ENOMEM; BT_EIO (the socket could not be created or the
 *	   connect failed at once); BT_ECRYPTO.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btnet_endpoint_dial(struct btnet_endpoint *ep,
    const char *addr, const struct bt_id *expect, struct btnet_conn **out);

/**
 * One counter (BTNET_STAT_*); 0 for NULL @p ep or an unknown counter.
 * @since 0.1
 */
BT_EXPORT uint64_t btnet_endpoint_stat(const struct btnet_endpoint *ep,
    int which);

/**
 * Close every connection (without closed callbacks), stop listening
 * and release the endpoint.  Queued output is discarded.  Called from
 * inside a callback, the memory is released when the callback returns.
 * NULL is a no-op.
 * @since 0.1
 */
BT_EXPORT void btnet_endpoint_close(struct btnet_endpoint *ep);

/**
 * Queue one message: it is framed, encrypted at once and written as the
 * socket allows.
 *
 * @param c	borrowed, established.
 * @param msg	in, borrowed for the call: @p len bytes; NULL when len
 *		is 0.
 * @return BT_OK; BT_EINVAL; BT_ESTATE (the handshake has not finished);
 *	   BT_ECLOSED (the connection failed and is closing);
 *	   BT_ETOOBIG (@p len above BTNET_OPT_MESSAGE_MAX); BT_EAGAIN (the
 *	   output queue is full: wait for the writable callback; nothing
 *	   was queued); BT_ENOMEM; BTNET_ENONCE or BT_ECRYPTO (the
 *	   connection is then closed with that reason, from the loop).
 * @since 0.1
 */
BT_EXPORT BT_WUR int btnet_conn_send(struct btnet_conn *c, const void *msg,
    size_t len);

/**
 * Close @p c: no callback runs for it afterwards and the handle is
 * invalid when this returns.  Output already queued is still written
 * (within the handshake timeout) before the socket is closed; input is
 * ignored.  NULL is a no-op.
 * @since 0.1
 */
BT_EXPORT void btnet_conn_close(struct btnet_conn *c);

/**
 * The authenticated peer: node id (SHA-256 of its identity key) and
 * Ed25519 identity key.  Either out pointer may be NULL.
 * @return BT_OK; BT_EINVAL; BT_ESTATE (the handshake has not finished;
 *	   the outputs are zeroed).
 * @since 0.1
 */
BT_EXPORT BT_WUR int btnet_conn_peer(const struct btnet_conn *c,
    struct bt_id *id, struct bt_pubkey *key);

/**
 * The peer's address as numeric text, "IPv4:port" or "[IPv6]:port".
 *
 * @param buf	out: room for @p cap bytes (BTNET_ADDR_STRLEN suffice).
 * @return BT_OK; BT_EINVAL; BT_ENOSPC (@p cap too small; @p buf holds an
 *	   empty string).
 * @since 0.1
 */
BT_EXPORT BT_WUR int btnet_conn_peer_addr(const struct btnet_conn *c,
    char *buf, size_t cap);

/** Nonzero for an accepted connection, 0 for a dialled one.  @since 0.1 */
BT_EXPORT int btnet_conn_inbound(const struct btnet_conn *c);

/** Bytes of output queued and not yet written.  @since 0.1 */
BT_EXPORT size_t btnet_conn_queued(const struct btnet_conn *c);

/**
 * Attach a pointer of the application's to @p c (borrowed; never
 * dereferenced by the library) and read it back; NULL at first.
 * @since 0.1
 */
BT_EXPORT void btnet_conn_set_data(struct btnet_conn *c, void *data);
BT_EXPORT void *btnet_conn_data(const struct btnet_conn *c);

#ifdef __cplusplus
}
#endif
#endif /* BT_CONN_H */
