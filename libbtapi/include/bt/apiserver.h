/*
 * bt/apiserver.h - the node side of the program API: the engine a node
 * embeds to serve its Unix API socket (protocol: blocktree-api(7)).
 *
 * The server listens on a Unix stream socket created with mode 0600
 * inside a directory that must be mode 0700 and owned by the node's
 * effective uid (the directory is created so when missing; a directory
 * open to others is refused).  Each client's peer credentials are read
 * at accept (SO_PEERCRED): another uid is closed at once, unanswered.
 *
 * A client sends hello first.  Without a manifest it is the node owner
 * and may do everything; with a program manifest (bt/manifest.h) signed
 * by the node owner's key it may touch only the paths its grants cover,
 * serve only its scopes and answer only its routes (BTAPI_EDENIED).
 *
 * Paths are BlockTree paths "/<64 hex namespace>/a/b"; a path whose
 * first component is not a namespace is taken below the node's home
 * namespace (the namespace of the node key, created when missing):
 * "/site/index.html" is "/<home>/site/index.html".  Only the home
 * namespace can be changed.
 *
 * Network operations (call, handle, peers) go through the struct btnet
 * given in the configuration.  Without one, calls to other nodes answer
 * BTAPI_EOFFLINE; calls to the node's own id are served by the local
 * program that handles the scope.
 *
 * Everything runs on the caller's event loop; a server is used from that
 * loop's thread only.
 */
#ifndef BT_APISERVER_H
#define BT_APISERVER_H

#include <bt/common.h>
#include <bt/apiproto.h>
#include <bt/key.h>

#ifdef __cplusplus
extern "C" {
#endif

struct event_base;
struct btstore;
struct btnet;
struct btapi_replicator;
struct btapi_feedsync;

/** A running API server.  Opaque. */
struct btapi_server;

/**
 * Settings; fill with btapi_server_config_init() first.  Pointers are
 * borrowed and must outlive the server (socket_path only for the call).
 */
struct btapi_server_config {
	const char *socket_path;	/* required; its directory is checked */
	struct btstore *store;		/* required */
	struct btnet *net;		/* may be NULL: no network */
	const struct btcore_signer *signer; /* required: the node key */
	const struct bt_pubkey *owner;	/* key that signs program manifests;
					   NULL: the node key */
	uint32_t max_clients;		/* connections at once (64) */
	uint32_t max_inflight;		/* requests waiting per client (256) */
	uint32_t max_handles;		/* open streams per client (64) */
	uint32_t max_watches;		/* watches per client (256) */
	uint32_t max_output;		/* bytes queued to one client before
					   it is no longer read (4 MiB) */
	uint32_t rw_max;		/* bytes of a stream opened "rw",
					   held in memory (64 MiB) */
	uint32_t request_timeout_ms;	/* calls and HTTP requests served by
					   programs (BT_REQUEST_TIMEOUT_MS) */
	int dispatch_notify;		/* 1: the server dispatches the
					   store's notifications on the loop
					   (default); 0: the embedder calls
					   btstore_notify_dispatch() */
	struct btapi_replicator *replicator; /* may be NULL.  Set: a read
					   (stat, list, open "r") of a path in
					   another namespace that is stale
					   (btapi_replicator_stale()) waits
					   for its fetch, with "progress"
					   events; the "node" scope is
					   answered for local callers */
	struct btapi_feedsync *feedsync; /* may be NULL.  Set: feed-head,
					   feed-get and feed-follow of a feed
					   another node writes go through it
					   (bt/apifeed.h): its head and the
					   entries missing are fetched from
					   the network first, and a follow
					   keeps it current.  Close the
					   server before stopping it */
};

/**
 * Fill @p cfg with the defaults shown above (pointers NULL).
 * @since 0.1
 */
BT_EXPORT void btapi_server_config_init(struct btapi_server_config *cfg);

/**
 * Create the socket and start serving on @p base.
 *
 * @param out	out: caller owns; release with btapi_server_close(); NULL
 *		on failure.
 * @param base	borrowed: must outlive the server.
 * @param cfg	in, borrowed (see struct btapi_server_config).
 * @return BT_OK; BT_EINVAL (NULL or zero setting, path too long for a
 *	   Unix socket); BT_EPERM (the socket's directory is not ours or is
 *	   open to group or others); BT_EEXIST (a live server answers on the
 *	   path); BT_EIO (socket, bind or listen failed); BT_ENOMEM; errors
 *	   of btstore_ns_create() for the home namespace.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btapi_server_open(struct btapi_server **out,
    struct event_base *base, const struct btapi_server_config *cfg);

/**
 * Stop listening, remove the socket file, disconnect every client
 * (streams being written are dropped, the files keep their old
 * contents), fail the HTTP requests in progress (their on_end callbacks
 * run with BTAPI_EGONE) and release @p srv.  NULL is a no-op.
 * @since 0.1
 */
BT_EXPORT void btapi_server_close(struct btapi_server *srv);

/** Clients connected now.  @since 0.1 */
BT_EXPORT size_t btapi_server_clients(const struct btapi_server *srv);

/* ---- HTTP requests for the gateway ------------------------------------- */

/** One header: NUL-terminated name and value, borrowed. */
struct btapi_header {
	const char *name;
	const char *value;
};

/** An HTTP request being forwarded to a program.  Opaque. */
struct btapi_http_req;

/**
 * What the program answers, reported to the gateway.  Every callback
 * runs from the loop; the strings and bytes are borrowed for the call.
 */
struct btapi_http_cbs {
	/* The status and headers (once, before any body). */
	void (*on_head)(void *arg, int status, const struct btapi_header *h,
	    size_t n);
	/* A piece of the response body. */
	void (*on_body)(void *arg, const void *data, size_t len);
	/* The end: BT_OK after the whole response; BTAPI_EGONE (program
	   disconnected or server closed), BT_ETIMEDOUT (no head within
	   request_timeout_ms of the end of the request body, or of a
	   piece the program's queue could not take), BT_EPROTO (the
	   program broke the exchange) otherwise.  The request is freed
	   when this returns. */
	void (*on_end)(void *arg, int status);
	/* May be NULL: the program's queue has room again after
	   btapi_server_http_body() answered BT_EAGAIN. */
	void (*on_writable)(void *arg);
};

/**
 * Is there a program answering @p host (no port; any case) and
 * @p path (the request path, without query)?  The route with the
 * longest path prefix wins; a prefix matches whole components.
 * @return BT_OK (found), BTAPI_ENOHANDLER, BT_EINVAL.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btapi_server_http_find(struct btapi_server *srv,
    const char *host, const char *path);

/**
 * Forward a request to the program whose route matches (as
 * btapi_server_http_find()).  The program receives it as an "http"
 * event; the body follows with btapi_server_http_body().
 *
 * @param out	out: the request, valid until on_end has run or
 *		btapi_server_http_cancel(); NULL on failure.
 * @param method, host, uri	in, borrowed for the call: the method,
 *		the Host without port, and the request target (path and
 *		query).
 * @param h	in, borrowed for the call: @p n headers (at most
 *		BTAPI_HTTP_HEADERS_MAX).
 * @param cbs	in, borrowed: must outlive the request.
 * @param arg	borrowed: passed to the callbacks.
 * @return BT_OK; BT_EINVAL; BTAPI_ENOHANDLER (no route); BT_ERANGE (too
 *	   many or too long headers); BT_EFORMAT (a header with bad
 *	   characters); BT_ETOOBIG; BT_EAGAIN (the program's queue is full);
 *	   BT_ENOMEM.  On failure no callback is called.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btapi_server_http_start(struct btapi_http_req **out,
    struct btapi_server *srv, const char *method, const char *host,
    const char *uri, const struct btapi_header *h, size_t n,
    const struct btapi_http_cbs *cbs, void *arg);

/**
 * Send a piece of the request body (borrowed; split into pieces of at
 * most BTAPI_IO_MAX), @p end 1 with the last one (@p len may be 0).
 * Bodies stream: the program receives each piece as it is sent, and
 * request_timeout_ms runs from the end of the body (a slow client is
 * not a slow program); a piece the queue could not take starts it too.
 * @return BT_OK; BT_EINVAL; BT_ESTATE (the body has ended); BT_EAGAIN
 *	   (the program's queue is full: wait for on_writable; nothing was
 *	   sent); BT_ENOMEM.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btapi_server_http_body(struct btapi_http_req *req,
    const void *data, size_t len, int end);

/**
 * Give up on a request (the HTTP client went away, the gateway timed
 * out): the program receives an "http-abort" event, no callback runs
 * any more, and @p req is freed.  NULL is a no-op.
 * @since 0.1
 */
BT_EXPORT void btapi_server_http_cancel(struct btapi_http_req *req);

#ifdef __cplusplus
}
#endif
#endif /* BT_APISERVER_H */
