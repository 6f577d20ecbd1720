/*
 * bt/apiproto.h - the program API protocol: constants shared by the node's
 * API server (bt/apiserver.h) and the client library (bt/api.h), libbtapi's
 * error codes and version.
 *
 * The protocol runs over a Unix stream socket.  Each frame is a 32-bit
 * big-endian length followed by exactly one BSON document of that many
 * bytes (the length equals the document's own length); a frame is at most
 * BT_MSG_MAX bytes.  Requests carry {op, id, ...}, replies {id, err,
 * text, ...}, and events pushed by the node {event, ...}.  Every op and
 * field is described in blocktree-api(7).
 */
#ifndef BT_APIPROTO_H
#define BT_APIPROTO_H

#include <bt/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Protocol version spoken by this library ("version" of hello). */
#define BTAPI_PROTO_VERSION	1

/** Largest frame payload (the BSON document), as for every wire message. */
#define BTAPI_FRAME_MAX		BT_MSG_MAX
/** Most bytes one read request returns, and one write request carries. */
#define BTAPI_IO_MAX		(256 * 1024)
/** Longest error text in a reply. */
#define BTAPI_TEXT_MAX		1024
/** Most headers in a forwarded HTTP request or a response. */
#define BTAPI_HTTP_HEADERS_MAX	100
/** Longest header name and value. */
#define BTAPI_HTTP_NAME_MAX	256
#define BTAPI_HTTP_VALUE_MAX	8192

/* ---- errors (libbtapi's block, -5000 .. -5999) ------------------------ */

/** The path is locked by another client. */
#define BTAPI_ELOCKED		(BT_ERR_BTAPI_BASE - 1)
/** The fencing token given is not the current lock's token. */
#define BTAPI_EFENCED		(BT_ERR_BTAPI_BASE - 2)
/** The program's manifest does not allow this path, scope or route. */
#define BTAPI_EDENIED		(BT_ERR_BTAPI_BASE - 3)
/** The node has no network (it runs offline or without libbtnet). */
#define BTAPI_EOFFLINE		(BT_ERR_BTAPI_BASE - 4)
/** No such stream, watch, request or lock handle on this connection. */
#define BTAPI_EBADHANDLE	(BT_ERR_BTAPI_BASE - 5)
/** No program handles this scope or route. */
#define BTAPI_ENOHANDLER	(BT_ERR_BTAPI_BASE - 6)
/** The program serving the request went away. */
#define BTAPI_EGONE		(BT_ERR_BTAPI_BASE - 7)
/** A per-client limit (streams, watches, requests waiting) is reached. */
#define BTAPI_ELIMIT		(BT_ERR_BTAPI_BASE - 8)
/** The op is unknown to the node. */
#define BTAPI_EBADOP		(BT_ERR_BTAPI_BASE - 9)
/** The scope or route is already served by another program. */
#define BTAPI_EBUSY		(BT_ERR_BTAPI_BASE - 10)
/** An HTTP exchange with another host failed (connect, protocol, size). */
#define BTAPI_EHTTP		(BT_ERR_BTAPI_BASE - 11)

/** Compile-time version of the headers. */
#define BTAPI_VERSION_MAJOR	0
#define BTAPI_VERSION_MINOR	1
#define BTAPI_VERSION_PATCH	0

/**
 * Describe an error code of libbtapi, or of any layer below it (libbtnet,
 * libbtstore, libbttpm, libbtcore and the generic BT_ codes).
 *
 * @param err	BT_OK or a negative code.
 * @return	static text, never NULL.  Thread safe.
 * @since 0.1
 */
BT_EXPORT const char *btapi_strerror(int err);

/**
 * The library's version as "MAJOR.MINOR.PATCH".  Static text.
 * @since 0.1
 */
BT_EXPORT const char *btapi_version(void);

#ifdef __cplusplus
}
#endif
#endif /* BT_APIPROTO_H */
