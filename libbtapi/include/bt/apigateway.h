/*
 * bt/apigateway.h - a node's HTTP gateway (libevent evhttp): requests to
 * the programs that registered routes with the API server, and static
 * content straight from blocktree paths.
 *
 * The gateway listens on one TCP address and answers each request in
 * this order:
 *   1. the program that registered the host and path with the API
 *      server (btapi_server_http_find()) gets the request, the response
 *      body streamed back as the program sends it;
 *   2. otherwise a static route whose host and path prefix match (the
 *      longest prefix wins; a route without host matches every host) is
 *      served straight from its blocktree path: ETag (the file's root
 *      id), Last-Modified, If-None-Match / If-Modified-Since (304), a
 *      single Range (206, 416), MIME type by extension, index.html for
 *      directories, a listing only when the route allows it;
 *   3. otherwise 404.
 * Errors: request line or headers malformed 400; header block (request
 * line and header lines, without line ends) over max_header_bytes 431
 * and the connection closed, up to a hard limit of 4 x max_header_bytes
 * (at most 256 KiB) beyond which evhttp itself closes with 400 (libevent
 * 2.1); more headers than a program may be given 431; body over
 * max_body_bytes 413 (refused from its Content-Length before any of it
 * is read, or as soon as a chunked body passes it); folded header lines,
 * a repeated or malformed Content-Length, a Transfer-Encoding other than
 * chunked or together with Content-Length 400; program gone 502; program
 * without an answer within the API server's request_timeout_ms after the
 * end of the request body 504.  The gateway must be closed before the
 * API server (closing the server first answers its requests 502).
 *
 * Request bodies stream: each piece goes to the program as it is read,
 * paced by the program's queue (the API server's max_output); while that
 * queue is full the gateway keeps at most 256 KiB of a connection read
 * ahead and stops reading from it.  A body nothing takes (static routes,
 * errors, a program that answered before the body's end) is read and
 * dropped.  "Expect: 100-continue" is answered when the request goes to
 * a program; otherwise the connection closes after the answer.  One
 * request at a time per connection: a pipelined request waits until the
 * one before it is answered.
 *
 * Everything runs on the caller's event loop, from that loop's thread.
 */
#ifndef BT_APIGATEWAY_H
#define BT_APIGATEWAY_H

#include <stddef.h>
#include <stdint.h>

#include <bt/common.h>

#ifdef __cplusplus
extern "C" {
#endif

struct event_base;
struct btapi_server;
struct btstore;

/** A running gateway.  Opaque. */
struct btapi_gateway;

/** Sizes of the static route fields, NUL included. */
#define BTAPI_GATEWAY_HOST_MAX		256
#define BTAPI_GATEWAY_PATH_MAX		4097

/**
 * One static route: requests for @c host (empty: any host; compared
 * without port, any case) whose path starts with the components of
 * @c prefix are served from the blocktree path @c target + the rest of
 * the request path.
 */
struct btapi_gateway_static {
	char host[BTAPI_GATEWAY_HOST_MAX];	/* "" or "example.org" */
	char prefix[BTAPI_GATEWAY_PATH_MAX];	/* "/" or "/docs" */
	char target[BTAPI_GATEWAY_PATH_MAX];	/* "/<64 hex>/site" */
	int listing;	/* 1: list a directory without index.html */
};

/** Settings; fill with btapi_gateway_config_init() first. */
struct btapi_gateway_config {
	const char *listen;		/* "127.0.0.1:8080", "[::1]:8080",
					   ":8080" (all addresses) */
	uint32_t max_header_bytes;	/* request line + headers (16384) */
	uint64_t max_body_bytes;	/* request body (64 MiB) */
	uint32_t timeout_s;		/* idle / read / write of a
					   connection, and the longest pause
					   of a program's response body once
					   its head was sent (30) */
	/* Static routes, borrowed for the call (copied). */
	const struct btapi_gateway_static *statics;
	size_t n_statics;
};

/** Fill @p cfg with the defaults above (listen "127.0.0.1:8080").
 *  @since 0.1 */
BT_EXPORT void btapi_gateway_config_init(struct btapi_gateway_config *cfg);

/**
 * Parse the value of a "static" key of btnode.conf's [gateway] section:
 * "[host]/prefix=/<64 hex namespace>/path" with an optional trailing
 * " listing" (e.g. "/=/ab..ef/site", "example.org/docs=/ab..ef/docs").
 * A target without a namespace ("/site") is taken below @p home (64 hex
 * digits; may be NULL, then such a target is refused).
 * @param out	out: the route; zeroed on failure.
 * @param text	in, borrowed: NUL-terminated.
 * @return BT_OK; BT_EINVAL (NULL); BT_EFORMAT (syntax, with a message in
 *	   @p err when not NULL: borrowed static text); BT_ERANGE (too long).
 * @since 0.1
 */
BT_EXPORT BT_WUR int btapi_gateway_parse_static(
    struct btapi_gateway_static *out, const char *text, const char *home,
    const char **err);

/**
 * Bind the listen address and start serving on @p base.
 * @param out	out: caller owns; release with btapi_gateway_close();
 *		NULL on failure.
 * @param base, srv, store	borrowed: must outlive the gateway.  @p srv
 *		may be NULL (static routes only).
 * @param cfg	in, borrowed for the call.
 * @return BT_OK; BT_EINVAL (bad setting or listen address); BT_EIO
 *	   (bind failed: address in use, no permission); BT_ENOMEM.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btapi_gateway_open(struct btapi_gateway **out,
    struct event_base *base, struct btapi_server *srv, struct btstore *store,
    const struct btapi_gateway_config *cfg);

/**
 * Apply new limits, timeouts and static routes (SIGHUP).  The listen
 * address is not changed (a different one answers BT_EINVAL and changes
 * nothing).  Requests in progress finish under the old settings.
 * @return BT_OK, BT_EINVAL, BT_ENOMEM (nothing changed).
 * @since 0.1
 */
BT_EXPORT BT_WUR int btapi_gateway_reload(struct btapi_gateway *gw,
    const struct btapi_gateway_config *cfg);

/** The bound port (useful with port 0).  0 when unknown.  @since 0.1 */
BT_EXPORT int btapi_gateway_port(const struct btapi_gateway *gw);

/**
 * Stop listening, fail the requests in progress (their connections
 * close), free @p gw.  NULL is a no-op.
 * @since 0.1
 */
BT_EXPORT void btapi_gateway_close(struct btapi_gateway *gw);

#ifdef __cplusplus
}
#endif
#endif /* BT_APIGATEWAY_H */
