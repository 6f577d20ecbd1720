/*
 * btapi-internal.h - shared inside libbtapi only; never installed.
 */
#ifndef BTAPI_INTERNAL_H
#define BTAPI_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include <bson/bson.h>

#include <bt/apiproto.h>
#include <bt/id.h>

struct evbuffer;
struct event_base;

/* Ops of the protocol (the "op" of a request). */
enum btapi_op_ {
	BTAPI_OP_NONE_ = 0,
	BTAPI_OP_HELLO_,
	BTAPI_OP_STATUS_,
	BTAPI_OP_STAT_,
	BTAPI_OP_LIST_,
	BTAPI_OP_MKDIR_,
	BTAPI_OP_RENAME_,
	BTAPI_OP_REMOVE_,
	BTAPI_OP_OPEN_,
	BTAPI_OP_READ_,
	BTAPI_OP_WRITE_,
	BTAPI_OP_SEEK_,
	BTAPI_OP_CLOSE_,
	BTAPI_OP_WATCH_,
	BTAPI_OP_UNWATCH_,
	BTAPI_OP_LOCK_,
	BTAPI_OP_UNLOCK_,
	BTAPI_OP_HANDLE_,
	BTAPI_OP_UNHANDLE_,
	BTAPI_OP_REPLY_,
	BTAPI_OP_CALL_,
	BTAPI_OP_ROUTE_,
	BTAPI_OP_UNROUTE_,
	BTAPI_OP_HTTP_REPLY_,
	BTAPI_OP_HTTP_BODY_,
	BTAPI_OP_PEERS_,
	BTAPI_OP_COUNT_
};

/* Request fields, one bit each. */
#define BTAPI_F_PATH_		(1u << 0)	/* path: string */
#define BTAPI_F_TO_		(1u << 1)	/* to: string */
#define BTAPI_F_MODE_		(1u << 2)	/* mode: "r" "w" "rw" */
#define BTAPI_F_LAYOUT_		(1u << 3)	/* layout: "sequential" "random" */
#define BTAPI_F_PARENTS_	(1u << 4)	/* parents: bool */
#define BTAPI_F_RECURSIVE_	(1u << 5)	/* recursive: bool */
#define BTAPI_F_CREATE_		(1u << 6)	/* create: bool */
#define BTAPI_F_TRUNCATE_	(1u << 7)	/* truncate: bool */
#define BTAPI_F_EXCL_		(1u << 8)	/* excl: bool */
#define BTAPI_F_WAIT_		(1u << 9)	/* wait: bool */
#define BTAPI_F_ONEWAY_		(1u << 10)	/* oneway: bool */
#define BTAPI_F_END_		(1u << 11)	/* end: bool */
#define BTAPI_F_HANDLE_		(1u << 12)	/* handle: int64 */
#define BTAPI_F_LEN_		(1u << 13)	/* len: int32 */
#define BTAPI_F_OFFSET_		(1u << 14)	/* offset: int64 */
#define BTAPI_F_WHENCE_		(1u << 15)	/* whence: int32 0..2 */
#define BTAPI_F_DATA_		(1u << 16)	/* data: binary */
#define BTAPI_F_KIND_		(1u << 17)	/* kind: "block" "path" */
#define BTAPI_F_KEY_		(1u << 18)	/* key: string or binary */
#define BTAPI_F_WATCH_		(1u << 19)	/* watch: int64 */
#define BTAPI_F_TOKEN_		(1u << 20)	/* token: int64 */
#define BTAPI_F_SCOPE_		(1u << 21)	/* scope: string */
#define BTAPI_F_NODE_		(1u << 22)	/* node: binary, 32 bytes */
#define BTAPI_F_ARGS_		(1u << 23)	/* args: binary, a BSON document */
#define BTAPI_F_REQ_		(1u << 24)	/* req: int64 */
#define BTAPI_F_ERR_		(1u << 25)	/* err: int32 < 0 */
#define BTAPI_F_TEXT_		(1u << 26)	/* text: string */
#define BTAPI_F_HOST_		(1u << 27)	/* host: string */
#define BTAPI_F_PREFIX_		(1u << 28)	/* prefix: string */
#define BTAPI_F_STATUS_		(1u << 29)	/* status: int32 100..599 */
#define BTAPI_F_HEADERS_	(1u << 30)	/* headers: array of [name, value] */
#define BTAPI_F_VERSION_	(1u << 31)	/* version: int32 */
/* second word */
#define BTAPI_F2_MANIFEST_	(1u << 0)	/* manifest: binary */
#define BTAPI_F2_AFTER_		(1u << 1)	/* after: string */
#define BTAPI_F2_MAX_		(1u << 2)	/* max: int32 */
#define BTAPI_F2_RESULT_	(1u << 3)	/* result: binary, a BSON document */

/* Modes of open. */
#define BTAPI_MODE_R_		1
#define BTAPI_MODE_W_		2
#define BTAPI_MODE_RW_		3

/* One header of an HTTP request or response (borrowed strings). */
struct btapi_hdr_ {
	const char *name;
	const char *value;
};

/*
 * A decoded request.  Every pointer is borrowed from the frame it was
 * decoded from and valid as long as that frame.  Strings are
 * NUL-terminated (BSON strings, checked free of embedded NULs).
 */
struct btapi_req_ {
	enum btapi_op_ op;
	int64_t id;
	uint32_t have, have2;		/* BTAPI_F_* and BTAPI_F2_* present */
	const char *path, *to, *kind, *scope, *text, *host, *prefix, *after;
	size_t path_len, to_len, scope_len, text_len, host_len, prefix_len,
	    after_len;
	int mode;			/* BTAPI_MODE_* */
	int layout;			/* BTCORE_TREE_SEQUENTIAL / _RANDOM */
	int parents, recursive, create, truncate, excl, wait, oneway, end;
	int64_t handle, offset, watch, token, req;
	int32_t len, whence, err, status, version, max;
	const uint8_t *data, *args, *manifest, *result, *key;
	size_t data_len, args_len, manifest_len, result_len, key_len;
	int key_is_bin;
	struct bt_id node;
	const uint8_t *headers;		/* the array document, validated */
	size_t headers_len;
	size_t nheaders;
};

/*
 * Frame framing over a buffer of @p avail bytes.
 * @return BT_OK: a whole frame; *doc / *len the document, *total the
 *	frame size to drain.  BT_EAGAIN: more bytes needed (*total says
 *	how many in all when the length is known, else 4).  BT_ETOOBIG:
 *	the length is above BTAPI_FRAME_MAX (close the connection).
 *	BT_EFORMAT: a length below the smallest document (5).
 */
int btapi_frame_parse_(const uint8_t *buf, size_t avail, const uint8_t **doc,
    size_t *len, size_t *total);

/*
 * Decode and validate a request document of @p len bytes.  On failure
 * r->id holds the request's id when it could be read (else 0), so that
 * the error reply can name it.
 * @return BT_OK; BT_EFORMAT (not BSON, bad UTF-8, a field of the wrong
 *	type or range, unknown or duplicate field, a required field
 *	missing, a field the op does not take); BTAPI_EBADOP (an op this
 *	node does not know); BT_ETOOBIG.
 */
int btapi_req_decode_(struct btapi_req_ *r, const uint8_t *doc, size_t len);

/* The op's name, or NULL. */
const char *btapi_op_name_(enum btapi_op_ op);

/* Header @p i of a decoded request (i < r->nheaders). */
int btapi_req_header_(const struct btapi_req_ *r, size_t i,
    struct btapi_hdr_ *out);

/* Validate a header list (array of [name, value]): count, name token
 * characters, value without CR/LF/NUL.  Sets *n. */
int btapi_headers_check_(const uint8_t *doc, size_t len, size_t *n);

/* Append a frame holding @p doc to @p out.  BT_OK, BT_ETOOBIG, BT_ENOMEM. */
int btapi_frame_add_(struct evbuffer *out, const bson_t *doc);
/* Send a frame at once when nothing is queued, else queue it (proto.c). */
/*
 * Read a BSON string (UTF-8, no NUL inside) or a binary of subtype 0 at
 * @p it; the result points into the document.  BT_OK or BT_EFORMAT.
 */
int btapi_bson_str_(const bson_iter_t *it, const char **s, size_t *len);
int btapi_bson_bin_(const bson_iter_t *it, const uint8_t **p, size_t *len);
struct bufferevent;
int btapi_frame_send_(struct bufferevent *bev, const bson_t *doc);

/* Valid scope text (as libbtnet: 1..64 of [A-Za-z0-9._/-]; manifests also
 * allow ':', which the network cannot carry). */
int btapi_scope_ok_(const char *s, size_t len);


/* ---- data ops (server-ext.c, client-ext.c) -------------------------------
 * Feeds, records, bags, pubsub, friends, programs and peer addresses: ops
 * decoded and served by server-ext.c, reached from server.c through the
 * hooks below, and their client calls in client-ext.c.
 */
struct client;
struct btapi_server;
struct btapi_server_config;
struct btcore_manifest;
struct btapi;

/* server.c: what server-ext.c may see of a server and its clients. */
struct btapi_server *btapi_client_server_(struct client *c);
const struct btapi_server_config *btapi_server_cfg_(
    const struct btapi_server *srv);
struct event_base *btapi_server_base_(struct btapi_server *srv);
const char *btapi_server_home_(const struct btapi_server *srv);
const struct bt_id *btapi_server_node_(const struct btapi_server *srv);
const uint8_t *btapi_server_owner_(const struct btapi_server *srv);
int btapi_client_hello_(const struct client *c);
const struct btcore_manifest *btapi_client_manifest_(const struct client *c);
int btapi_client_output_full_(const struct client *c);
void btapi_client_send_(struct client *c, const bson_t *doc);
void btapi_client_error_(struct client *c, int64_t id, int err,
    const char *text);
void **btapi_client_ext_(struct client *c);
void **btapi_server_ext_(struct btapi_server *srv);
/* Disconnect every client that said hello with program @p name. */
void btapi_server_revoke_(struct btapi_server *srv, const char *name);

/* server-ext.c: called by server.c. */
/* A frame the core decoder refused: 1 when its op is a data op (then
 * answered here), 0 otherwise. */
int btapi_ext_frame_(struct client *c, const uint8_t *doc, size_t len);
/* May this signed manifest (already checked against the owner) say
 * hello?  BT_OK or BTAPI_EDENIED. */
int btapi_ext_hello_(struct btapi_server *srv,
    const struct btcore_manifest *m, const uint8_t *enc, size_t len);
int btapi_ext_open_(struct btapi_server *srv);
void btapi_ext_close_(struct btapi_server *srv);
void btapi_ext_client_free_(struct client *c);

/* Decoded data-op request (server-ext.c); pointers borrowed from the
 * frame. */
enum btapi_xop_ {
	BTAPI_XOP_NONE_ = 0,
	BTAPI_XOP_FEED_CREATE_,
	BTAPI_XOP_FEED_APPEND_,
	BTAPI_XOP_FEED_HEAD_,
	BTAPI_XOP_FEED_GET_,
	BTAPI_XOP_FEED_FOLLOW_,
	BTAPI_XOP_FEED_UNFOLLOW_,
	BTAPI_XOP_RECORD_SET_,
	BTAPI_XOP_RECORD_GET_,
	BTAPI_XOP_BAG_ADD_,
	BTAPI_XOP_BAG_QUERY_,
	BTAPI_XOP_PUBSUB_JOIN_,
	BTAPI_XOP_PUBSUB_PUBLISH_,
	BTAPI_XOP_PUBSUB_LEAVE_,
	BTAPI_XOP_FRIEND_INVITE_,
	BTAPI_XOP_FRIEND_ACCEPT_,
	BTAPI_XOP_FRIEND_LIST_,
	BTAPI_XOP_FRIEND_ALLOW_,
	BTAPI_XOP_FRIEND_REMOVE_,
	BTAPI_XOP_PROGRAM_INSTALL_,
	BTAPI_XOP_PROGRAM_LIST_,
	BTAPI_XOP_PROGRAM_REMOVE_,
	BTAPI_XOP_PEER_LIST_,
	BTAPI_XOP_COUNT_
};

#define BTAPI_XITEMS_MAX_	4096	/* entries of one feed-append */
#define BTAPI_XSCOPES_MAX_	32	/* scopes of one friend-allow */

struct btapi_xreq_ {
	enum btapi_xop_ op;
	int64_t id;
	uint32_t have;			/* BTAPI_XF_* */
	const uint8_t *feed, *key, *value, *data, *channel, *node, *manifest;
	size_t key_len, value_len, data_len, manifest_len;
	int key_is_bin;
	const char *name, *kind;
	int64_t index, from, follow;
	int32_t limit;
	const uint8_t *items;		/* array document, validated */
	size_t items_len, nitems;
	const uint8_t *scopes;		/* array document, validated */
	size_t scopes_len, nscopes;
};

#define BTAPI_XF_FEED_		(1u << 0)	/* feed: binary 32 */
#define BTAPI_XF_ITEMS_		(1u << 1)	/* items: array of binary */
#define BTAPI_XF_INDEX_		(1u << 2)	/* index: int64 >= 0 */
#define BTAPI_XF_FROM_		(1u << 3)	/* from: int64 >= 0 */
#define BTAPI_XF_FOLLOW_	(1u << 4)	/* follow: int64 */
#define BTAPI_XF_KEY_		(1u << 5)	/* key: string or binary 1..64 */
#define BTAPI_XF_VALUE_		(1u << 6)	/* value: binary */
#define BTAPI_XF_PUB_		(1u << 7)	/* pub: binary 32 */
#define BTAPI_XF_KIND_		(1u << 8)	/* kind: popular recent sample */
#define BTAPI_XF_LIMIT_		(1u << 9)	/* limit: int32 1..256 */
#define BTAPI_XF_CHANNEL_	(1u << 10)	/* channel: binary 32 */
#define BTAPI_XF_DATA_		(1u << 11)	/* data: binary */
#define BTAPI_XF_FILE_		(1u << 12)	/* file: binary (peer file) */
#define BTAPI_XF_NODE_		(1u << 13)	/* node: binary 32 */
#define BTAPI_XF_SCOPES_	(1u << 14)	/* scopes: array of string */
#define BTAPI_XF_MANIFEST_	(1u << 15)	/* manifest: binary */
#define BTAPI_XF_NAME_		(1u << 16)	/* name: string */

/* Decode a data-op request.  BT_OK; BTAPI_EBADOP (not a data op);
 * BT_EFORMAT, BT_ERANGE, BT_ETOOBIG as btapi_req_decode_(). */
int btapi_xreq_decode_(struct btapi_xreq_ *r, const uint8_t *doc, size_t len);
/* The data op's name, or NULL. */
const char *btapi_xop_name_(enum btapi_xop_ op);

/* client.c: what client-ext.c may use of a connection. */
typedef void (*btapi_reply_fn_)(struct btapi *c, void *arg, int err,
    const char *text, const bson_t *reply);
/* Start a request of op @p op in @p b (fills op and id). */
void btapi_req_begin_(struct btapi *c, bson_t *b, const char *op);
/* Send @p b (destroyed); @p fn runs exactly once with the reply (or
 * BT_ECLOSED) when BT_OK is returned, never otherwise. */
int btapi_request_(struct btapi *c, bson_t *b, btapi_reply_fn_ fn,
    void *arg);
/* Run a connection's private loop until *done: BT_OK, BT_ESTATE (not a
 * blocking connection), BT_ECLOSED, BT_EIO. */
int btapi_wait_(struct btapi *c, const int *done);
void **btapi_conn_ext_(struct btapi *c);
struct event_base *btapi_conn_base_(struct btapi *c);
/* client-ext.c: called by client.c. */
void btapi_ext_event_(struct btapi *c, const char *ev, const bson_t *b);
void btapi_ext_conn_free_(struct btapi *c);

/* Milliseconds of the monotonic clock, never 0 (replicate.c,
 * feedsync.c). */
static inline uint64_t
btapi_now_ms_(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
		return 1;
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u +
	    1;
}

/* A log line formatted into at most 511 bytes, to @p log when set. */
static inline void
btapi_vlog_(void (*log)(void *, int, const char *), void *arg, int level,
    const char *fmt, va_list ap)
{
	char msg[512];

	if (log == NULL)
		return;
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	log(arg, level, msg);
}

#endif /* BTAPI_INTERNAL_H */
