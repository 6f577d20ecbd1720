/*
 * bt/api.h - the client side of the program API: what a program links to
 * use its node (protocol: blocktree-api(7); the node side: bt/apiserver.h).
 *
 * A connection is asynchronous on the caller's libevent loop
 * (btapi_open()), or blocking with a private loop
 * (btapi_connect_blocking(), then the *_sync calls).  Requests may be
 * pipelined: many are in flight at once and their callbacks run in the
 * order the node answers.
 *
 * Rules for every asynchronous call here: it returns BT_OK when the
 * request was queued, and then its callback runs exactly once from the
 * loop (BT_ECLOSED when the connection ends first); on any other return
 * the callback is never called.  A NULL callback is allowed where said.
 * Callbacks may call any function of this header, btapi_close()
 * included.  Strings and bytes handed to a callback are borrowed for the
 * call.  Callbacks of requests still in flight are not called after
 * btapi_close().
 *
 * Paths are BlockTree paths "/<64 hex namespace>/a/b"; a path whose
 * first component is not a namespace is below the node's home namespace
 * ("/site/x").  A connection is used from one thread at a time.
 */
#ifndef BT_API_H
#define BT_API_H

#include <stdarg.h>

#include <bt/common.h>
#include <bt/apiproto.h>
#include <bt/apiserver.h>
#include <bt/id.h>

#ifdef __cplusplus
extern "C" {
#endif

struct event_base;

/** A connection to a node.  Opaque. */
struct btapi;
/** An open file stream.  Opaque. */
struct btapi_stream;
/** A message sent to a scope this program handles, to be answered. */
struct btapi_rpc;
/** An HTTP request routed to this program, to be answered. */
struct btapi_http;

/** Flags of btapi_mkdir(), btapi_rename(), btapi_remove(). */
#define BTAPI_PARENTS		0x1u	/* make missing parents */
#define BTAPI_RECURSIVE		0x2u	/* remove non-empty directories */

/** Flags of btapi_stream_open(). */
#define BTAPI_READ		0x01u	/* read */
#define BTAPI_WRITE		0x02u	/* write (with BTAPI_READ: both) */
#define BTAPI_CREATE		0x04u	/* create when missing */
#define BTAPI_TRUNCATE		0x08u	/* read+write: start empty */
#define BTAPI_EXCL		0x10u	/* fail when it exists */
#define BTAPI_RANDOM		0x20u	/* new file laid out for random
					   access (default: sequential) */
#define BTAPI_SEQUENTIAL	0x40u	/* new file laid out for reading in
					   order (the default) */

/** Watch kinds and changes. */
#define BTAPI_WATCH_BLOCK	1	/* key: a 32-byte block id */
#define BTAPI_WATCH_PATH	2	/* key: a path; it and what is below */
#define BTAPI_CHANGE_PUT	1	/* stored or changed */
#define BTAPI_CHANGE_DEL	2	/* removed */
#define BTAPI_CHANGE_OVERFLOW	3	/* changes were lost */

/** Kinds in struct btapi_stat. */
#define BTAPI_KIND_FILE		0
#define BTAPI_KIND_DIR		1

/** What a path names.  Value type. */
struct btapi_stat {
	int kind;		/* BTAPI_KIND_FILE or BTAPI_KIND_DIR */
	uint64_t size;		/* bytes of a file */
	uint32_t mode;		/* permission bits */
	int64_t mtime;		/* ns since the epoch */
	int random;		/* a file laid out for random access */
	struct bt_id root;	/* the file's or directory's tree root */
};

/** One directory entry; @c name borrowed for the callback. */
struct btapi_dirent {
	const char *name;
	struct btapi_stat st;
};

/** The node's status; strings borrowed for the callback. */
struct btapi_status {
	const char *version;	/* libbtapi version of the node */
	struct bt_id node;	/* the node id */
	const char *home;	/* "/<hex>" of the home namespace */
	int online;		/* 1 when on the network */
	uint32_t peers;		/* connected peers */
	uint32_t clients;	/* programs connected */
};

typedef void (*btapi_done_cb)(void *arg, int err);
typedef void (*btapi_stat_cb)(void *arg, int err, const struct btapi_stat *st);
/* @p e: @p n entries; @p more: 1 when the listing continues after the
   last name (ask again with it as @p after). */
typedef void (*btapi_list_cb)(void *arg, int err, const struct btapi_dirent *e,
    size_t n, int more);
typedef void (*btapi_status_cb)(void *arg, int err,
    const struct btapi_status *st);
typedef void (*btapi_peers_cb)(void *arg, int err, const struct bt_id *ids,
    size_t n, int online);
/* A new stream (caller owns it; close with btapi_stream_close()). */
typedef void (*btapi_open_cb)(void *arg, int err, struct btapi_stream *s);
/* Read data; 0 bytes at the end of the file. */
typedef void (*btapi_read_cb)(void *arg, int err, const void *data,
    size_t len);
typedef void (*btapi_pos_cb)(void *arg, int err, uint64_t pos);
/* A watch id, lock fencing token, or 0 with an error. */
typedef void (*btapi_id_cb)(void *arg, int err, int64_t id);
/* The reply of a call: BT_OK with the BSON document @p reply; or an error
   (BTNET_EREMOTE: the handler's @p code and @p text). */
typedef void (*btapi_call_cb)(void *arg, int err, int code, const char *text,
    const uint8_t *reply, size_t len);
/* A change under a watch; @p key NULL for BTAPI_CHANGE_OVERFLOW. */
typedef void (*btapi_watch_fn)(void *arg, int64_t watch, int kind,
    int change, const void *key, size_t keylen);
/* A message to a handled scope: answer @p req with btapi_rpc_reply() or
   btapi_rpc_error(); a request not answered is released by btapi_close()
   and must not be used after it. */
typedef void (*btapi_rpc_fn)(void *arg, struct btapi_rpc *req,
    const struct bt_id *from, const char *scope, const uint8_t *args,
    size_t len);

/** Callbacks of an HTTP route (btapi_route()). */
struct btapi_route_cbs {
	/* A request: answer with btapi_http_respond(). */
	void (*on_request)(void *arg, struct btapi_http *req,
	    const char *method, const char *host, const char *uri,
	    const struct btapi_header *h, size_t n);
	/* A piece of its body (may be NULL: bodies are dropped); @p end 1
	   with the last. */
	void (*on_body)(void *arg, struct btapi_http *req, const void *data,
	    size_t len, int end);
	/* The HTTP client went away or timed out: @p req is freed when this
	   returns (may be NULL). */
	void (*on_abort)(void *arg, struct btapi_http *req);
};

/* ---- connections ---------------------------------------------------------- */

/**
 * Connect to the node's API socket at @p path and say hello.
 *
 * @param out	out: caller owns; release with btapi_close(); NULL on
 *		failure.
 * @param base	borrowed: must outlive the connection.
 * @param manifest in, borrowed for the call, may be NULL: the program's
 *		signed manifest (@p len bytes); NULL connects as the owner.
 * @param cb	called when the node has answered hello (BT_OK, or
 *		BTAPI_EDENIED, BT_EVERIFY, BT_EFORMAT for a manifest the node
 *		refuses, BT_ECLOSED when refused); may be NULL.  Requests may
 *		be queued before it runs.
 * @return BT_OK; BT_EINVAL; BT_ERANGE (path too long); BT_EIO (connect
 *	   failed: no node there, or permission denied); BT_ETOOBIG;
 *	   BT_ENOMEM.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btapi_open(struct btapi **out, struct event_base *base,
    const char *path, const uint8_t *manifest, size_t len, btapi_done_cb cb,
    void *arg);

/**
 * Connect with a private event loop and wait for hello's answer; use the
 * *_sync calls on the result.
 * @param out	out: caller owns; release with btapi_close().
 * @return as btapi_open(), and hello's error.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btapi_connect_blocking(struct btapi **out,
    const char *path, const uint8_t *manifest, size_t len);

/**
 * Close the connection: open streams are dropped (files being written
 * keep their old contents), handlers, routes, watches and locks of this
 * connection end at the node.  NULL is a no-op.
 * @since 0.1
 */
BT_EXPORT void btapi_close(struct btapi *c);

/**
 * Call @p cb (NULL: none) once when the node closes the connection or it
 * fails (BT_ECLOSED, BT_EPROTO for a broken frame, BT_EIO).
 * @since 0.1
 */
BT_EXPORT void btapi_set_closed_cb(struct btapi *c, btapi_done_cb cb,
    void *arg);

/**
 * Progress of a request the node is working on: a read of a path in
 * another namespace waits while the node fetches that namespace from
 * the network (blocktree-api(7), the "progress" event).  Strings are
 * borrowed for the callback.  Value type.
 */
struct btapi_progress {
	const char *what;	/* "fetch" */
	const char *ns;		/* the namespace, "/<64 hex>" */
	uint64_t seq;		/* its root sequence (0: not known yet) */
	uint64_t fetched;	/* blocks got from the network so far */
	uint64_t present;	/* blocks the node had already */
	uint64_t blocks;	/* blocks known so far */
};
typedef void (*btapi_progress_fn)(void *arg, const struct btapi_progress *p);

/**
 * Call @p fn (NULL: none; with @p arg) for each progress report of this
 * connection's requests, about once a second while a request waits; on
 * a blocking connection it runs inside the *_sync call that waits.
 * @since 0.1
 */
BT_EXPORT void btapi_set_progress_cb(struct btapi *c, btapi_progress_fn fn,
    void *arg);

/**
 * The node id and home namespace path learned from hello.
 * @return BT_OK, BT_EINVAL, BT_ESTATE (hello not answered yet).
 * @since 0.1
 */
BT_EXPORT BT_WUR int btapi_node(const struct btapi *c, struct bt_id *node,
    const char **home);

/* ---- status and files ---------------------------------------------------- */

/**
 * Ask the node's status (btapi_status_cb) or its connected peers
 * (btapi_peers_cb).
 * @return BT_OK; BT_EINVAL; BT_ECLOSED; BT_ENOMEM.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btapi_status(struct btapi *c, btapi_status_cb cb,
    void *arg);
BT_EXPORT BT_WUR int btapi_peers(struct btapi *c, btapi_peers_cb cb,
    void *arg);

/**
 * Describe, list, make, move and remove paths.  btapi_list() returns up
 * to @p max entries (0: the node's default of 1000) after the name
 * @p after (NULL: from the first), in name order.  The node's answers:
 * BT_ENOTFOUND, BTSTORE_ENOTDIR, BTSTORE_EISDIR, BT_EEXIST, BT_EFORMAT and
 * BT_EPERM (path), BTAPI_EDENIED (manifest), BTAPI_ELOCKED (locked by
 * another program) and the store's errors.
 * @param cb	may be NULL for btapi_mkdir(), btapi_rename() and
 *		btapi_remove().
 * @return BT_OK; BT_EINVAL; BT_ETOOBIG; BT_ECLOSED; BT_ENOMEM.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btapi_stat(struct btapi *c, const char *path,
    btapi_stat_cb cb, void *arg);
BT_EXPORT BT_WUR int btapi_list(struct btapi *c, const char *path,
    const char *after, uint32_t max, btapi_list_cb cb, void *arg);
BT_EXPORT BT_WUR int btapi_mkdir(struct btapi *c, const char *path,
    unsigned flags, btapi_done_cb cb, void *arg);
BT_EXPORT BT_WUR int btapi_rename(struct btapi *c, const char *from,
    const char *to, unsigned flags, btapi_done_cb cb, void *arg);
BT_EXPORT BT_WUR int btapi_remove(struct btapi *c, const char *path,
    unsigned flags, btapi_done_cb cb, void *arg);

/* ---- streams ----------------------------------------------------------------- */

/**
 * Open the file at @p path as a stream.
 *
 * BTAPI_READ: read and seek anywhere.  BTAPI_WRITE: write a new content
 * from the start, appended in order (seek only to the current position);
 * it replaces the file when btapi_stream_close() commits it.  Both: the
 * file is held by the node as a whole (up to its rw limit, 64 MiB by
 * default) for reads, writes and seeks anywhere, and written back at
 * close.  Until the commit the old file stays intact; a stream dropped
 * or failed changes nothing.
 *
 * @param token	a lock's fencing token the open must hold (BTAPI_EFENCED
 *		otherwise), or 0.
 * @param cb	receives the stream: caller owns it; release with
 *		btapi_stream_close().
 * @return BT_OK; BT_EINVAL (no mode, unknown flags); BT_ECLOSED;
 *	   BT_ENOMEM.  The node answers BT_ENOTFOUND, BT_EEXIST,
 *	   BTSTORE_EISDIR, BTAPI_EDENIED, BTAPI_ELOCKED, BTAPI_EFENCED,
 *	   BTAPI_ELIMIT, BT_ETOOBIG and the store's errors.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btapi_stream_open(struct btapi *c, const char *path,
    unsigned flags, int64_t token, btapi_open_cb cb, void *arg);

/** The file's size when the stream was opened.  @since 0.1 */
BT_EXPORT uint64_t btapi_stream_size(const struct btapi_stream *s);

/**
 * Read up to @p len bytes (at most BTAPI_IO_MAX) at the position.
 * @return BT_OK; BT_EINVAL; BT_ERANGE; BT_ECLOSED; BT_ENOMEM.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btapi_stream_read(struct btapi_stream *s, size_t len,
    btapi_read_cb cb, void *arg);

/**
 * Write @p len bytes (borrowed: copied into the queue) at the position,
 * in pieces of BTAPI_IO_MAX.  With a NULL @p cb the write is pipelined
 * and its error, if any, is kept: the next write, printf and the close
 * report it.
 * @return BT_OK; BT_EINVAL; BT_ECLOSED; the kept error; BT_ENOMEM.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btapi_stream_write(struct btapi_stream *s,
    const void *data, size_t len, btapi_done_cb cb, void *arg);

/**
 * Formatted output: vsnprintf(3) into the stream, pipelined as a write
 * with a NULL callback.  On a blocking connection it waits while too many
 * writes are in flight.
 * @return BT_OK; BT_EINVAL; BT_ERANGE (formatting failed); a kept error;
 *	   BT_ECLOSED; BT_ENOMEM.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btapi_stream_printf(struct btapi_stream *s,
    const char *fmt, ...) __attribute__((format(printf, 2, 3)));
BT_EXPORT BT_WUR int btapi_stream_vprintf(struct btapi_stream *s,
    const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

/**
 * Read one line: the bytes up to and including the next '\n' (or up to
 * the end of the file), at most @p max bytes.  Bytes read ahead are kept
 * for the next line and for btapi_stream_read(); a seek drops them.
 * The callback gets the line without its '\n' (a '\r' before it is
 * kept); 0 bytes and BT_ENOTFOUND at the end of the file.
 * @return BT_OK; BT_EINVAL; BT_ECLOSED; BT_ENOMEM.  The callback gets
 *	   BT_ERANGE when no '\n' comes within @p max bytes.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btapi_stream_readline(struct btapi_stream *s,
    size_t max, btapi_read_cb cb, void *arg);

/**
 * Move the position (@p whence 0, 1, 2 as SEEK_SET, SEEK_CUR, SEEK_END).
 * @return BT_OK; BT_EINVAL; BT_ECLOSED; BT_ENOMEM.  The node answers
 *	   BT_ERANGE, BT_EUNSUPPORTED (a write stream moved elsewhere than
 *	   its end).
 * @since 0.1
 */
BT_EXPORT BT_WUR int btapi_stream_seek(struct btapi_stream *s, int64_t off,
    int whence, btapi_pos_cb cb, void *arg);

/**
 * Close the stream, committing what was written; @p s is released now
 * (in every case).  @p cb (may be NULL) gets the commit's result, or the
 * first error a pipelined write kept.
 * @return BT_OK; BT_ECLOSED; BT_ENOMEM (the stream is dropped then).
 * @since 0.1
 */
BT_EXPORT BT_WUR int btapi_stream_close(struct btapi_stream *s,
    btapi_done_cb cb, void *arg);

/* ---- watches and locks ------------------------------------------------------ */

/**
 * Watch a block (@p key 32 bytes) or a path (@p key text, it and what is
 * below): @p fn (borrowed, with @p arg) runs for each change until
 * btapi_unwatch().  @p cb gets the watch id.
 * @return BT_OK; BT_EINVAL; BT_ECLOSED; BT_ENOMEM.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btapi_watch(struct btapi *c, int kind, const void *key,
    size_t keylen, btapi_watch_fn fn, void *arg, btapi_id_cb cb, void *cbarg);
BT_EXPORT BT_WUR int btapi_unwatch(struct btapi *c, int64_t watch,
    btapi_done_cb cb, void *arg);

/**
 * Take the exclusive write lock on @p path and what is below it, local to
 * the node: while held, changes by other programs are refused
 * (BTAPI_ELOCKED), also through streams they opened before.  The lock
 * ends with btapi_unlock() or when the connection closes.  @p cb gets the
 * fencing token, higher for every lock the node grants.  With @p wait the
 * answer waits until the lock is free.
 * @return BT_OK; BT_EINVAL; BT_ECLOSED; BT_ENOMEM.  The node answers
 *	   BTAPI_ELOCKED, BTAPI_EDENIED, BTAPI_ELIMIT.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btapi_lock(struct btapi *c, const char *path, int wait,
    btapi_id_cb cb, void *arg);
BT_EXPORT BT_WUR int btapi_unlock(struct btapi *c, int64_t token,
    btapi_done_cb cb, void *arg);

/* ---- messages ---------------------------------------------------------------- */

/**
 * Handle BlockTree messages of @p scope (1..64 of [A-Za-z0-9._/-]) sent
 * to this node: @p fn (with @p arg) runs for each.  @p cb gets the
 * node's answer (BTAPI_EDENIED, BTAPI_EBUSY).  btapi_unhandle() stops.
 * @return BT_OK; BT_EINVAL; BT_ECLOSED; BT_ENOMEM.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btapi_handle(struct btapi *c, const char *scope,
    btapi_rpc_fn fn, void *arg, btapi_done_cb cb, void *cbarg);
BT_EXPORT BT_WUR int btapi_unhandle(struct btapi *c, const char *scope,
    btapi_done_cb cb, void *arg);

/**
 * Answer a message with the BSON document @p doc of @p len bytes, or with
 * an error (@p code negative, @p text may be NULL).  @p req is released
 * in every case.
 * @return BT_OK; BT_EINVAL; BT_EFORMAT (not one BSON document);
 *	   BT_ETOOBIG; BT_ECLOSED; BT_ENOMEM.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btapi_rpc_reply(struct btapi_rpc *req,
    const uint8_t *doc, size_t len);
BT_EXPORT BT_WUR int btapi_rpc_error(struct btapi_rpc *req, int code,
    const char *text);

/**
 * Send the BSON document @p args (@p len bytes; NULL: empty) to @p scope
 * on node @p node (this node's own id reaches its local programs).  With
 * @p oneway the callback (may then be NULL) runs once the node sent it.
 * The callback's errors: BT_ETIMEDOUT, BTNET_EUNREACHABLE,
 * BTNET_ENOSCOPE, BTNET_EREMOTE, BTAPI_EOFFLINE, BTAPI_ELIMIT.
 * @return BT_OK; BT_EINVAL; BT_EFORMAT; BT_ETOOBIG; BT_ECLOSED;
 *	   BT_ENOMEM.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btapi_call(struct btapi *c, const struct bt_id *node,
    const char *scope, const uint8_t *args, size_t len, int oneway,
    btapi_call_cb cb, void *arg);

/* ---- HTTP ---------------------------------------------------------------------- */

/**
 * Answer HTTP requests for @p host (lower case, no port) under the path
 * prefix @p prefix ("/" or "/a/b", whole components) that reach the
 * node's gateway.  @p cbs is borrowed and must stay valid until
 * btapi_unroute() or btapi_close().
 * @return BT_OK; BT_EINVAL; BT_ECLOSED; BT_ENOMEM.  The node answers
 *	   BTAPI_EDENIED, BTAPI_EBUSY, BT_EFORMAT.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btapi_route(struct btapi *c, const char *host,
    const char *prefix, const struct btapi_route_cbs *cbs, void *arg,
    btapi_done_cb cb, void *cbarg);
BT_EXPORT BT_WUR int btapi_unroute(struct btapi *c, const char *host,
    const char *prefix, btapi_done_cb cb, void *arg);

/**
 * Answer @p req: status (100..599), @p n headers, and a first piece of
 * the body (@p len bytes, may be 0); @p end 1 when this is all.  More of
 * the body follows with btapi_http_send().  @p req is released after the
 * end is sent (or on error).
 * @return BT_OK; BT_EINVAL; BT_ERANGE (status, headers); BT_EFORMAT (a
 *	   header); BT_ESTATE (already answered); BT_ECLOSED; BT_ENOMEM.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btapi_http_respond(struct btapi_http *req, int status,
    const struct btapi_header *h, size_t n, const void *data, size_t len,
    int end);
BT_EXPORT BT_WUR int btapi_http_send(struct btapi_http *req,
    const void *data, size_t len, int end);

/**
 * The outcome of btapi_http_request(): BT_OK with the status, @p n
 * headers and the body (all borrowed for the call), or BT_ETIMEDOUT,
 * BTAPI_EHTTP (connection, protocol or a body above the limit),
 * BT_ENOMEM, BT_ECLOSED.
 */
typedef void (*btapi_http_cb)(void *arg, int err, int status,
    const struct btapi_header *h, size_t n, const void *body, size_t len);

/**
 * Make an HTTP/1.1 request to another host ("http://host[:port]/path",
 * resolved with the loop's DNS) on @p base, without a node.
 * @param h	in, borrowed for the call: @p n extra headers.
 * @param body	in, borrowed for the call, may be NULL.
 * @param timeout_ms	for the whole exchange (0: BT_REQUEST_TIMEOUT_MS).
 * @param max_body	largest response body accepted (0: 16 MiB).
 * @return BT_OK (the callback follows); BT_EINVAL; BT_EFORMAT (not an
 *	   http URL); BT_EUNSUPPORTED (https); BT_ENOMEM.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btapi_http_request(struct event_base *base,
    const char *method, const char *url, const struct btapi_header *h,
    size_t n, const void *body, size_t len, uint32_t timeout_ms,
    size_t max_body, btapi_http_cb cb, void *arg);

/* ---- blocking calls (connections from btapi_connect_blocking()) ---------- */

/**
 * The asynchronous calls above, waiting for their answer on the private
 * loop.  They return the node's error or BT_OK; BT_ESTATE on a connection
 * made with btapi_open().
 *
 * btapi_list_sync() calls @p fn (with @p arg) for each entry, fetching
 * pages; @p fn returns 0 to go on.  btapi_stream_open_sync() stores a
 * stream the caller owns in @p out.  btapi_stream_read_sync() reads up
 * to @p cap bytes into @p buf (*n 0 at the end).
 * btapi_stream_write_sync() pipelines: it waits only while many writes
 * are in flight, and returns an error kept from an earlier write.
 * btapi_stream_getline_sync() reads a line as btapi_stream_readline()
 * into @p buf of @p cap bytes, NUL-terminated (BT_ERANGE when longer;
 * BT_ENOTFOUND at the end of the file).  btapi_stream_close_sync()
 * releases @p s in every case.  btapi_call_sync() stores the reply
 * document in *reply (caller owns; release with btapi_free()) or the
 * handler's code in *code with BTNET_EREMOTE.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btapi_status_sync(struct btapi *c,
    struct btapi_status *st, char *home, size_t cap);
BT_EXPORT BT_WUR int btapi_stat_sync(struct btapi *c, const char *path,
    struct btapi_stat *st);
BT_EXPORT BT_WUR int btapi_list_sync(struct btapi *c, const char *path,
    int (*fn)(void *arg, const struct btapi_dirent *e), void *arg);
BT_EXPORT BT_WUR int btapi_mkdir_sync(struct btapi *c, const char *path,
    unsigned flags);
BT_EXPORT BT_WUR int btapi_rename_sync(struct btapi *c, const char *from,
    const char *to, unsigned flags);
BT_EXPORT BT_WUR int btapi_remove_sync(struct btapi *c, const char *path,
    unsigned flags);
BT_EXPORT BT_WUR int btapi_stream_open_sync(struct btapi_stream **out,
    struct btapi *c, const char *path, unsigned flags, int64_t token);
BT_EXPORT BT_WUR int btapi_stream_read_sync(struct btapi_stream *s,
    void *buf, size_t cap, size_t *n);
BT_EXPORT BT_WUR int btapi_stream_write_sync(struct btapi_stream *s,
    const void *data, size_t len);
BT_EXPORT BT_WUR int btapi_stream_getline_sync(struct btapi_stream *s,
    char *buf, size_t cap, size_t *len);
BT_EXPORT BT_WUR int btapi_stream_seek_sync(struct btapi_stream *s,
    int64_t off, int whence, uint64_t *pos);
BT_EXPORT BT_WUR int btapi_stream_close_sync(struct btapi_stream *s);
BT_EXPORT BT_WUR int btapi_lock_sync(struct btapi *c, const char *path,
    int wait, int64_t *token);
BT_EXPORT BT_WUR int btapi_unlock_sync(struct btapi *c, int64_t token);
BT_EXPORT BT_WUR int btapi_call_sync(struct btapi *c, const struct bt_id *node,
    const char *scope, const uint8_t *args, size_t len, uint8_t **reply,
    size_t *rlen, int *code);

/** Release memory returned by this library; NULL is a no-op.  @since 0.1 */
BT_EXPORT void btapi_free(void *p);

/* ---- data: feeds, records, bags, pubsub, friends, programs, peers -------
 *
 * The same rules as above hold for every asynchronous call here.  A
 * program (a connection with a manifest) may use these only as its
 * manifest grants (the capability scopes of blocktree-api(7): feed:write,
 * feed:read, record:<key>, record:read, bag:use, pubsub:use,
 * friends:manage); programs are managed by the owner only.  Denied calls
 * end with BTAPI_EDENIED.  Ops that need the network end with
 * BTAPI_EOFFLINE on a node without one.
 */

/** Bag query kinds (btapi_bag_query()). */
#define BTAPI_BAG_POPULAR	1	/* most adders first */
#define BTAPI_BAG_RECENT	2	/* most recently added first */
#define BTAPI_BAG_SAMPLE	3	/* a random sample */

/** One payload of btapi_feed_append().  Value type; data borrowed. */
struct btapi_item {
	const void *data;
	size_t len;		/* at most BTCORE_BLOCK_MAX */
};

/** What the node holds of a feed.  Value type. */
struct btapi_feed_info {
	struct bt_pubkey feed;	/* the feed id: its writer's public key */
	uint64_t length;	/* length of the newest head held */
	uint64_t held;		/* entries held */
	int owned;		/* 1: written by this node */
	int forked;		/* 1: fork evidence is held */
	uint64_t first;		/* btapi_feed_append(): first new index */
};

/** A friend; @c addrs borrowed for the callback. */
struct btapi_friend {
	struct bt_id node;
	int connected;		/* 1: a connection is up now */
	const char *const *addrs; /* last known addresses, "ip:port" */
	size_t naddrs;
};

/** An installed program; strings borrowed for the callback. */
struct btapi_program {
	const char *name;
	const char *version;
	uint32_t scopes, routes, grants;	/* sizes of its lists */
};

/** A connected peer; @c addr borrowed ("" when not known). */
struct btapi_peer {
	struct bt_id node;
	const char *addr;
};

typedef void (*btapi_feed_cb)(void *arg, int err,
    const struct btapi_feed_info *fi);
/* An entry: its index and payload (borrowed). */
typedef void (*btapi_entry_cb)(void *arg, int err, uint64_t index,
    const void *data, size_t len);
/* A followed entry, in index order. */
typedef void (*btapi_follow_fn)(void *arg, int64_t follow, uint64_t index,
    const void *data, size_t len);
/* A record's sequence and value (value NULL for btapi_record_set()). */
typedef void (*btapi_record_cb)(void *arg, int err, uint64_t seq,
    const void *value, size_t len);
typedef void (*btapi_bag_cb)(void *arg, int err, const uint8_t (*values)[32],
    size_t n);
/* A message of a joined channel, from node @p from. */
typedef void (*btapi_pubsub_fn)(void *arg, const struct bt_id *channel,
    const struct bt_id *from, const void *data, size_t len);
typedef void (*btapi_bytes_cb)(void *arg, int err, const uint8_t *data,
    size_t len);
typedef void (*btapi_node_cb)(void *arg, int err, const struct bt_id *node);
typedef void (*btapi_friends_cb)(void *arg, int err,
    const struct btapi_friend *f, size_t n);
typedef void (*btapi_programs_cb)(void *arg, int err,
    const struct btapi_program *p, size_t n);
typedef void (*btapi_peer_list_cb)(void *arg, int err,
    const struct btapi_peer *p, size_t n, int online);

/**
 * The node's feed (its id is the node key): create it, append a batch
 * of @p n (1..4096) payloads signed once, or read the head of a feed
 * (@p feed NULL: the node's).
 * @return BT_OK, BT_EINVAL, BT_ETOOBIG (a payload too large), BT_ENOMEM,
 *	   BT_ECLOSED.  The callback gets BT_EEXIST (create: exists),
 *	   BT_ENOTFOUND (no such feed), BTAPI_EDENIED, or a store error.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btapi_feed_create(struct btapi *c, btapi_feed_cb cb,
    void *arg);
BT_EXPORT BT_WUR int btapi_feed_append(struct btapi *c,
    const struct btapi_item *items, size_t n, btapi_feed_cb cb, void *arg);
BT_EXPORT BT_WUR int btapi_feed_head(struct btapi *c,
    const struct bt_pubkey *feed, btapi_feed_cb cb, void *arg);

/**
 * Entry @p index of @p feed (NULL: the node's), its inclusion proof and
 * payload hash verified by the node.  The callback gets BT_ENOTFOUND for
 * an entry not held.
 * @return as btapi_feed_create().
 * @since 0.1
 */
BT_EXPORT BT_WUR int btapi_feed_get(struct btapi *c,
    const struct bt_pubkey *feed, uint64_t index, btapi_entry_cb cb,
    void *arg);

/**
 * Follow @p feed (NULL: the node's) from entry @p from on: @p fn (with
 * @p fnarg, borrowed until unfollowed or closed) receives every entry the
 * node holds, then each new one, in index order.  @p cb receives the
 * follow id (or an error: BT_ENOTFOUND, BTAPI_ELIMIT after 64 follows).
 * Another node's feed is fetched from its writer: its head first, then
 * the entries missing, each verified; the node keeps it current while it
 * is followed (bt/apifeed.h).
 * @return as btapi_feed_create().
 * @since 0.1
 */
BT_EXPORT BT_WUR int btapi_feed_follow(struct btapi *c,
    const struct bt_pubkey *feed, uint64_t from, btapi_follow_fn fn,
    void *fnarg, btapi_id_cb cb, void *arg);
/** Stop a follow (BTAPI_EBADHANDLE: unknown id).  @since 0.1 */
BT_EXPORT BT_WUR int btapi_feed_unfollow(struct btapi *c, int64_t follow,
    btapi_done_cb cb, void *arg);

/**
 * Set the node's record @p key (1..64 bytes) to @p value (at most
 * 16 KiB), signed by the node key with the stored sequence + 1, stored
 * here and, when online, in the DHT (the callback runs when the DHT
 * write ends; @p value of the callback is NULL).  Get a record of
 * @p pub (NULL: the node's): the local store first, then the DHT.
 * @return BT_OK, BT_EINVAL, BT_ERANGE, BT_ENOMEM, BT_ECLOSED.  The
 *	   callback gets BT_EPERM (a key the node reserves: "root",
 *	   "addr"), BT_ENOTFOUND, BT_ETIMEDOUT, BTAPI_EDENIED.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btapi_record_set(struct btapi *c, const void *key,
    size_t klen, const void *value, size_t vlen, btapi_record_cb cb,
    void *arg);
BT_EXPORT BT_WUR int btapi_record_get(struct btapi *c,
    const struct bt_pubkey *pub, const void *key, size_t klen,
    btapi_record_cb cb, void *arg);

/**
 * Add the 32-byte @p value to bag @p key, or query up to @p limit
 * (1..256) values of it in the order of @p kind (BTAPI_BAG_*): in the
 * DHT when online, in the node's store otherwise.
 * @return BT_OK, BT_EINVAL, BT_ERANGE, BT_ENOMEM, BT_ECLOSED.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btapi_bag_add(struct btapi *c, const struct bt_id *key,
    const uint8_t value[32], btapi_done_cb cb, void *arg);
BT_EXPORT BT_WUR int btapi_bag_query(struct btapi *c, int kind,
    const struct bt_id *key, size_t limit, btapi_bag_cb cb, void *arg);

/**
 * Join pubsub @p channel: @p fn (with @p fnarg, borrowed until left or
 * closed) receives its messages, also those other programs of this node
 * publish.  Publish @p len bytes (at most BTAPI_IO_MAX) on a channel this
 * connection joined (else BT_ENOTFOUND); leave it.  Joining twice
 * replaces @p fn.  The callbacks get BTAPI_EOFFLINE, BTAPI_ELIMIT (64
 * channels), BT_ENOSPC (the node's channel limit).
 * @return BT_OK, BT_EINVAL, BT_ETOOBIG, BT_ENOMEM, BT_ECLOSED.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btapi_pubsub_join(struct btapi *c,
    const struct bt_id *channel, btapi_pubsub_fn fn, void *fnarg,
    btapi_done_cb cb, void *arg);
BT_EXPORT BT_WUR int btapi_pubsub_publish(struct btapi *c,
    const struct bt_id *channel, const void *data, size_t len,
    btapi_done_cb cb, void *arg);
BT_EXPORT BT_WUR int btapi_pubsub_leave(struct btapi *c,
    const struct bt_id *channel, btapi_done_cb cb, void *arg);

/**
 * Friends.  btapi_friend_invite(): the node's signed peer file, to hand
 * to a friend.  btapi_friend_accept(): make the node of a peer file a
 * friend (the callback gets its id; BT_EVERIFY, BT_EFORMAT for a bad
 * file).  btapi_friend_list(), btapi_friend_remove(), and
 * btapi_friend_allow(): the @p n scopes (borrowed for the call) friend
 * @p node may call.  The node keeps its friends and their allow-lists
 * across restarts.
 * @return BT_OK, BT_EINVAL, BT_ERANGE, BT_ENOMEM, BT_ECLOSED.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btapi_friend_invite(struct btapi *c, btapi_bytes_cb cb,
    void *arg);
BT_EXPORT BT_WUR int btapi_friend_accept(struct btapi *c,
    const uint8_t *file, size_t len, btapi_node_cb cb, void *arg);
BT_EXPORT BT_WUR int btapi_friend_list(struct btapi *c, btapi_friends_cb cb,
    void *arg);
BT_EXPORT BT_WUR int btapi_friend_allow(struct btapi *c,
    const struct bt_id *node, const char *const *scopes, size_t n,
    btapi_done_cb cb, void *arg);
BT_EXPORT BT_WUR int btapi_friend_remove(struct btapi *c,
    const struct bt_id *node, btapi_done_cb cb, void *arg);

/**
 * Programs (owner only).  Install a manifest signed by the node owner
 * (the callback gets BTAPI_EDENIED for another signer, BT_EVERIFY for a
 * bad signature); list the installed ones; remove one by name
 * (BT_ENOTFOUND), which disconnects its running connections and refuses
 * its hello until it is installed again.
 * @return BT_OK, BT_EINVAL, BT_ETOOBIG, BT_ENOMEM, BT_ECLOSED.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btapi_program_install(struct btapi *c,
    const uint8_t *manifest, size_t len, btapi_done_cb cb, void *arg);
BT_EXPORT BT_WUR int btapi_program_list(struct btapi *c,
    btapi_programs_cb cb, void *arg);
BT_EXPORT BT_WUR int btapi_program_remove(struct btapi *c, const char *name,
    btapi_done_cb cb, void *arg);

/**
 * The connected peers with the address each is reached at.
 * @return BT_OK, BT_EINVAL, BT_ENOMEM, BT_ECLOSED.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btapi_peer_list(struct btapi *c, btapi_peer_list_cb cb,
    void *arg);

/**
 * Blocking forms, for connections made with btapi_connect_blocking()
 * (BT_ESTATE otherwise).  Each returns the call's error or its
 * callback's.  Those taking a callback run it once, from inside the
 * call, with the borrowed result.  btapi_feed_get_sync() copies at most
 * @p cap bytes into @p buf (BT_ERANGE when larger; *len says the size).
 * btapi_record_get_sync() likewise; btapi_friend_invite_sync() likewise.
 * btapi_run_sync() delivers events (follows, pubsub, messages) for
 * @p ms milliseconds (0: until the connection ends) and returns BT_OK
 * after the time, or BT_ECLOSED.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btapi_feed_create_sync(struct btapi *c,
    struct btapi_feed_info *fi);
BT_EXPORT BT_WUR int btapi_feed_append_sync(struct btapi *c,
    const struct btapi_item *items, size_t n, struct btapi_feed_info *fi);
BT_EXPORT BT_WUR int btapi_feed_head_sync(struct btapi *c,
    const struct bt_pubkey *feed, struct btapi_feed_info *fi);
BT_EXPORT BT_WUR int btapi_feed_get_sync(struct btapi *c,
    const struct bt_pubkey *feed, uint64_t index, void *buf, size_t cap,
    size_t *len);
BT_EXPORT BT_WUR int btapi_feed_follow_sync(struct btapi *c,
    const struct bt_pubkey *feed, uint64_t from, btapi_follow_fn fn,
    void *fnarg, int64_t *follow);
BT_EXPORT BT_WUR int btapi_record_set_sync(struct btapi *c, const void *key,
    size_t klen, const void *value, size_t vlen, uint64_t *seq);
BT_EXPORT BT_WUR int btapi_record_get_sync(struct btapi *c,
    const struct bt_pubkey *pub, const void *key, size_t klen, void *buf,
    size_t cap, size_t *len, uint64_t *seq);
BT_EXPORT BT_WUR int btapi_bag_add_sync(struct btapi *c,
    const struct bt_id *key, const uint8_t value[32]);
BT_EXPORT BT_WUR int btapi_bag_query_sync(struct btapi *c, int kind,
    const struct bt_id *key, size_t limit, btapi_bag_cb cb, void *arg);
BT_EXPORT BT_WUR int btapi_friend_invite_sync(struct btapi *c, uint8_t *buf,
    size_t cap, size_t *len);
BT_EXPORT BT_WUR int btapi_friend_accept_sync(struct btapi *c,
    const uint8_t *file, size_t len, struct bt_id *node);
BT_EXPORT BT_WUR int btapi_friend_list_sync(struct btapi *c,
    btapi_friends_cb cb, void *arg);
BT_EXPORT BT_WUR int btapi_friend_remove_sync(struct btapi *c,
    const struct bt_id *node);
BT_EXPORT BT_WUR int btapi_program_install_sync(struct btapi *c,
    const uint8_t *manifest, size_t len);
BT_EXPORT BT_WUR int btapi_program_list_sync(struct btapi *c,
    btapi_programs_cb cb, void *arg);
BT_EXPORT BT_WUR int btapi_program_remove_sync(struct btapi *c,
    const char *name);
BT_EXPORT BT_WUR int btapi_peer_list_sync(struct btapi *c,
    btapi_peer_list_cb cb, void *arg);
BT_EXPORT BT_WUR int btapi_run_sync(struct btapi *c, uint32_t ms);

#ifdef __cplusplus
}
#endif
#endif /* BT_API_H */
