/*
 * proto.c - frames and the strict request decoder of the API protocol.
 *
 * Pure functions over buffers: the server runs every frame it reads
 * through btapi_frame_parse_() and btapi_req_decode_(), and the fuzz
 * target does the same with arbitrary bytes.
 */
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include <bt/scope.h>
#include <bt/tree.h>

#include "btapi-internal.h"

struct opdef {
	const char *name;
	uint32_t req, opt;	/* BTAPI_F_* required / optional */
	uint32_t req2, opt2;	/* BTAPI_F2_* */
};

static const struct opdef ops[BTAPI_OP_COUNT_] = {
	[BTAPI_OP_HELLO_] = { "hello", BTAPI_F_VERSION_, 0, 0,
	    BTAPI_F2_MANIFEST_ },
	[BTAPI_OP_STATUS_] = { "status", 0, 0, 0, 0 },
	[BTAPI_OP_STAT_] = { "stat", BTAPI_F_PATH_, 0, 0, 0 },
	[BTAPI_OP_LIST_] = { "list", BTAPI_F_PATH_, 0, 0,
	    BTAPI_F2_AFTER_ | BTAPI_F2_MAX_ },
	[BTAPI_OP_MKDIR_] = { "mkdir", BTAPI_F_PATH_,
	    BTAPI_F_PARENTS_ | BTAPI_F_TOKEN_, 0, 0 },
	[BTAPI_OP_RENAME_] = { "rename", BTAPI_F_PATH_ | BTAPI_F_TO_,
	    BTAPI_F_PARENTS_ | BTAPI_F_TOKEN_, 0, 0 },
	[BTAPI_OP_REMOVE_] = { "remove", BTAPI_F_PATH_,
	    BTAPI_F_RECURSIVE_ | BTAPI_F_TOKEN_, 0, 0 },
	[BTAPI_OP_OPEN_] = { "open", BTAPI_F_PATH_ | BTAPI_F_MODE_,
	    BTAPI_F_CREATE_ | BTAPI_F_TRUNCATE_ | BTAPI_F_EXCL_ |
	    BTAPI_F_LAYOUT_ | BTAPI_F_TOKEN_, 0, 0 },
	[BTAPI_OP_READ_] = { "read", BTAPI_F_HANDLE_ | BTAPI_F_LEN_, 0, 0, 0 },
	[BTAPI_OP_WRITE_] = { "write", BTAPI_F_HANDLE_ | BTAPI_F_DATA_, 0, 0,
	    0 },
	[BTAPI_OP_SEEK_] = { "seek", BTAPI_F_HANDLE_ | BTAPI_F_OFFSET_,
	    BTAPI_F_WHENCE_, 0, 0 },
	[BTAPI_OP_CLOSE_] = { "close", BTAPI_F_HANDLE_, 0, 0, 0 },
	[BTAPI_OP_WATCH_] = { "watch", BTAPI_F_KIND_ | BTAPI_F_KEY_, 0, 0, 0 },
	[BTAPI_OP_UNWATCH_] = { "unwatch", BTAPI_F_WATCH_, 0, 0, 0 },
	[BTAPI_OP_LOCK_] = { "lock", BTAPI_F_PATH_, BTAPI_F_WAIT_, 0, 0 },
	[BTAPI_OP_UNLOCK_] = { "unlock", BTAPI_F_TOKEN_, 0, 0, 0 },
	[BTAPI_OP_HANDLE_] = { "handle", BTAPI_F_SCOPE_, 0, 0, 0 },
	[BTAPI_OP_UNHANDLE_] = { "unhandle", BTAPI_F_SCOPE_, 0, 0, 0 },
	[BTAPI_OP_REPLY_] = { "reply", BTAPI_F_REQ_,
	    BTAPI_F_ERR_ | BTAPI_F_TEXT_, 0, BTAPI_F2_RESULT_ },
	[BTAPI_OP_CALL_] = { "call", BTAPI_F_NODE_ | BTAPI_F_SCOPE_,
	    BTAPI_F_ARGS_ | BTAPI_F_ONEWAY_, 0, 0 },
	[BTAPI_OP_ROUTE_] = { "route", BTAPI_F_HOST_ | BTAPI_F_PREFIX_, 0, 0,
	    0 },
	[BTAPI_OP_UNROUTE_] = { "unroute", BTAPI_F_HOST_ | BTAPI_F_PREFIX_, 0,
	    0, 0 },
	[BTAPI_OP_HTTP_REPLY_] = { "http-reply", BTAPI_F_REQ_ |
	    BTAPI_F_STATUS_, BTAPI_F_HEADERS_ | BTAPI_F_DATA_ | BTAPI_F_END_,
	    0, 0 },
	[BTAPI_OP_HTTP_BODY_] = { "http-body", BTAPI_F_REQ_,
	    BTAPI_F_DATA_ | BTAPI_F_END_, 0, 0 },
	[BTAPI_OP_PEERS_] = { "peers", 0, 0, 0, 0 },
};

const char *
btapi_op_name_(enum btapi_op_ op)
{
	if ((int)op <= 0 || op >= BTAPI_OP_COUNT_)
		return NULL;
	return ops[op].name;
}

int
btapi_frame_parse_(const uint8_t *buf, size_t avail, const uint8_t **doc,
    size_t *len, size_t *total)
{
	uint32_t n;

	*doc = NULL;
	*len = 0;
	*total = 4;
	if (avail < 4)
		return BT_EAGAIN;
	n = ((uint32_t)buf[0] << 24) | ((uint32_t)buf[1] << 16) |
	    ((uint32_t)buf[2] << 8) | (uint32_t)buf[3];
	if (n > BTAPI_FRAME_MAX)
		return BT_ETOOBIG;
	if (n < 5)
		return BT_EFORMAT;
	*total = 4 + (size_t)n;
	if (avail < *total)
		return BT_EAGAIN;
	*doc = buf + 4;
	*len = n;
	return BT_OK;
}

int
btapi_frame_add_(struct evbuffer *out, const bson_t *doc)
{
	uint8_t hdr[4];
	uint32_t n = doc->len;

	if (n > BTAPI_FRAME_MAX)
		return BT_ETOOBIG;
	hdr[0] = (uint8_t)(n >> 24);
	hdr[1] = (uint8_t)(n >> 16);
	hdr[2] = (uint8_t)(n >> 8);
	hdr[3] = (uint8_t)n;
	if (evbuffer_expand(out, 4 + (size_t)n) != 0 ||
	    evbuffer_add(out, hdr, 4) != 0 ||
	    evbuffer_add(out, bson_get_data(doc), n) != 0)
		return BT_ENOMEM;
	return BT_OK;
}

/*
 * Queue the frame of @p doc on @p bev.  When nothing is queued before it,
 * the frame goes to the socket at once and only what the socket does not
 * take is queued: a frame then costs one send, not a write event armed,
 * waited for and disarmed.  A failing send queues the whole frame; the
 * bufferevent meets the error on its own write.
 */
int
btapi_frame_send_(struct bufferevent *bev, const bson_t *doc)
{
	struct evbuffer *out = bufferevent_get_output(bev);
	const uint8_t *data = bson_get_data(doc);
	struct iovec iov[2];
	struct msghdr mh;
	uint8_t hdr[4];
	uint32_t n = doc->len;
	size_t done;
	ssize_t k;

	if (n > BTAPI_FRAME_MAX)
		return BT_ETOOBIG;
	if (evbuffer_get_length(out) != 0 || bufferevent_getfd(bev) < 0)
		return btapi_frame_add_(out, doc);
	hdr[0] = (uint8_t)(n >> 24);
	hdr[1] = (uint8_t)(n >> 16);
	hdr[2] = (uint8_t)(n >> 8);
	hdr[3] = (uint8_t)n;
	iov[0].iov_base = hdr;
	iov[0].iov_len = sizeof(hdr);
	iov[1].iov_base = (void *)(uintptr_t)data;
	iov[1].iov_len = n;
	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = iov;
	mh.msg_iovlen = 2;
	k = sendmsg(bufferevent_getfd(bev), &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
	done = k > 0 ? (size_t)k : 0;
	if (done == sizeof(hdr) + n)
		return BT_OK;
	if (done < sizeof(hdr))
		return btapi_frame_add_(out, doc);
	done -= sizeof(hdr);
	return evbuffer_add(out, data + done, n - done) == 0 ? BT_OK :
	    BT_ENOMEM;
}

int
btapi_scope_ok_(const char *s, size_t len)
{
	return btcore_scope_valid(s, len);
}

/* A header name is an RFC 9110 token. */
static int
token_ok(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len > BTAPI_HTTP_NAME_MAX)
		return 0;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c <= 32 || c >= 127 || strchr("\"(),/:;<=>?@[\\]{}", c))
			return 0;
	}
	return 1;
}

static int
value_ok(const char *s, size_t len)
{
	size_t i;

	if (len > BTAPI_HTTP_VALUE_MAX)
		return 0;
	for (i = 0; i < len; i++)
		if (s[i] == '\r' || s[i] == '\n' || s[i] == '\0')
			return 0;
	return 1;
}

/* Is the element at @p it a [name, value] pair?  Fills @p out. */
static int
header_pair(const bson_iter_t *it, struct btapi_hdr_ *out)
{
	bson_iter_t in;
	const char *s;
	uint32_t n;

	if (!BSON_ITER_HOLDS_ARRAY(it) || !bson_iter_recurse(it, &in))
		return 0;
	if (!bson_iter_next(&in) || strcmp(bson_iter_key(&in), "0") != 0 ||
	    !BSON_ITER_HOLDS_UTF8(&in))
		return 0;
	s = bson_iter_utf8(&in, &n);
	if (!token_ok(s, n))
		return 0;
	out->name = s;
	if (!bson_iter_next(&in) || strcmp(bson_iter_key(&in), "1") != 0 ||
	    !BSON_ITER_HOLDS_UTF8(&in))
		return 0;
	s = bson_iter_utf8(&in, &n);
	if (!value_ok(s, n))
		return 0;
	out->value = s;
	return !bson_iter_next(&in);
}

int
btapi_headers_check_(const uint8_t *doc, size_t len, size_t *n)
{
	bson_iter_t it;
	struct btapi_hdr_ h;
	char key[16];
	const char *k;
	size_t i = 0;

	*n = 0;
	if (!bson_iter_init_from_data(&it, doc, len))
		return BT_EFORMAT;
	while (bson_iter_next(&it)) {
		if (i >= BTAPI_HTTP_HEADERS_MAX)
			return BT_ERANGE;
		bson_uint32_to_string((uint32_t)i, &k, key, sizeof(key));
		if (strcmp(bson_iter_key(&it), k) != 0 ||
		    !header_pair(&it, &h))
			return BT_EFORMAT;
		i++;
	}
	*n = i;
	return BT_OK;
}

int
btapi_req_header_(const struct btapi_req_ *r, size_t i, struct btapi_hdr_ *out)
{
	bson_iter_t it;
	size_t k = 0;

	if (r->headers == NULL ||
	    !bson_iter_init_from_data(&it, r->headers, r->headers_len))
		return BT_EINVAL;
	while (bson_iter_next(&it)) {
		if (k++ == i)
			return header_pair(&it, out) ? BT_OK : BT_EFORMAT;
	}
	return BT_ENOTFOUND;
}

int
btapi_bson_str_(const bson_iter_t *it, const char **s, size_t *len)
{
	uint32_t n;

	if (!BSON_ITER_HOLDS_UTF8(it))
		return BT_EFORMAT;
	*s = bson_iter_utf8(it, &n);
	if (*s == NULL || memchr(*s, '\0', n) != NULL)
		return BT_EFORMAT;
	*len = n;
	return BT_OK;
}

int
btapi_bson_bin_(const bson_iter_t *it, const uint8_t **p, size_t *len)
{
	bson_subtype_t sub;
	uint32_t n;

	if (!BSON_ITER_HOLDS_BINARY(it))
		return BT_EFORMAT;
	bson_iter_binary(it, &sub, &n, p);
	if (sub != BSON_SUBTYPE_BINARY)
		return BT_EFORMAT;
	*len = n;
	return BT_OK;
}

static int
get_bool(const bson_iter_t *it, int *v)
{
	if (!BSON_ITER_HOLDS_BOOL(it))
		return BT_EFORMAT;
	*v = bson_iter_bool(it) ? 1 : 0;
	return BT_OK;
}

static int
get_i64(const bson_iter_t *it, int64_t *v)
{
	if (!BSON_ITER_HOLDS_INT64(it))
		return BT_EFORMAT;
	*v = bson_iter_int64(it);
	return BT_OK;
}

static int
get_i32(const bson_iter_t *it, int32_t *v)
{
	if (!BSON_ITER_HOLDS_INT32(it))
		return BT_EFORMAT;
	*v = bson_iter_int32(it);
	return BT_OK;
}

/* A binary field holding exactly one valid BSON document. */
static int
get_doc(const bson_iter_t *it, const uint8_t **p, size_t *len)
{
	bson_t b;
	size_t off;

	if (btapi_bson_bin_(it, p, len) != BT_OK || *len < 5 ||
	    !bson_init_static(&b, *p, *len) ||
	    !bson_validate(&b, BSON_VALIDATE_UTF8 | BSON_VALIDATE_EMPTY_KEYS,
	    &off))
		return BT_EFORMAT;
	return BT_OK;
}

static enum btapi_op_
op_lookup(const char *s)
{
	int i;

	for (i = 1; i < BTAPI_OP_COUNT_; i++)
		if (strcmp(ops[i].name, s) == 0)
			return (enum btapi_op_)i;
	return BTAPI_OP_NONE_;
}

/* One field of a request. */
static int
field(struct btapi_req_ *r, const bson_iter_t *it, const char *k,
    uint32_t *bit, uint32_t *bit2)
{
	const char *s;
	size_t n;
	int rc = BT_EFORMAT;

	*bit = 0;
	*bit2 = 0;
	if (strcmp(k, "path") == 0) {
		*bit = BTAPI_F_PATH_;
		rc = btapi_bson_str_(it, &r->path, &r->path_len);
	} else if (strcmp(k, "to") == 0) {
		*bit = BTAPI_F_TO_;
		rc = btapi_bson_str_(it, &r->to, &r->to_len);
	} else if (strcmp(k, "mode") == 0) {
		*bit = BTAPI_F_MODE_;
		if ((rc = btapi_bson_str_(it, &s, &n)) == BT_OK) {
			if (strcmp(s, "r") == 0)
				r->mode = BTAPI_MODE_R_;
			else if (strcmp(s, "w") == 0)
				r->mode = BTAPI_MODE_W_;
			else if (strcmp(s, "rw") == 0)
				r->mode = BTAPI_MODE_RW_;
			else
				rc = BT_EFORMAT;
		}
	} else if (strcmp(k, "layout") == 0) {
		*bit = BTAPI_F_LAYOUT_;
		if ((rc = btapi_bson_str_(it, &s, &n)) == BT_OK) {
			if (strcmp(s, "sequential") == 0)
				r->layout = BTCORE_TREE_SEQUENTIAL;
			else if (strcmp(s, "random") == 0)
				r->layout = BTCORE_TREE_RANDOM;
			else
				rc = BT_EFORMAT;
		}
	} else if (strcmp(k, "parents") == 0) {
		*bit = BTAPI_F_PARENTS_;
		rc = get_bool(it, &r->parents);
	} else if (strcmp(k, "recursive") == 0) {
		*bit = BTAPI_F_RECURSIVE_;
		rc = get_bool(it, &r->recursive);
	} else if (strcmp(k, "create") == 0) {
		*bit = BTAPI_F_CREATE_;
		rc = get_bool(it, &r->create);
	} else if (strcmp(k, "truncate") == 0) {
		*bit = BTAPI_F_TRUNCATE_;
		rc = get_bool(it, &r->truncate);
	} else if (strcmp(k, "excl") == 0) {
		*bit = BTAPI_F_EXCL_;
		rc = get_bool(it, &r->excl);
	} else if (strcmp(k, "wait") == 0) {
		*bit = BTAPI_F_WAIT_;
		rc = get_bool(it, &r->wait);
	} else if (strcmp(k, "oneway") == 0) {
		*bit = BTAPI_F_ONEWAY_;
		rc = get_bool(it, &r->oneway);
	} else if (strcmp(k, "end") == 0) {
		*bit = BTAPI_F_END_;
		rc = get_bool(it, &r->end);
	} else if (strcmp(k, "handle") == 0) {
		*bit = BTAPI_F_HANDLE_;
		rc = get_i64(it, &r->handle);
	} else if (strcmp(k, "len") == 0) {
		*bit = BTAPI_F_LEN_;
		if ((rc = get_i32(it, &r->len)) == BT_OK &&
		    (r->len < 0 || r->len > BTAPI_IO_MAX))
			rc = BT_ERANGE;
	} else if (strcmp(k, "offset") == 0) {
		*bit = BTAPI_F_OFFSET_;
		rc = get_i64(it, &r->offset);
	} else if (strcmp(k, "whence") == 0) {
		*bit = BTAPI_F_WHENCE_;
		if ((rc = get_i32(it, &r->whence)) == BT_OK &&
		    (r->whence < 0 || r->whence > 2))
			rc = BT_ERANGE;
	} else if (strcmp(k, "data") == 0) {
		*bit = BTAPI_F_DATA_;
		if ((rc = btapi_bson_bin_(it, &r->data, &r->data_len)) == BT_OK &&
		    r->data_len > BTAPI_IO_MAX)
			rc = BT_ETOOBIG;
	} else if (strcmp(k, "kind") == 0) {
		*bit = BTAPI_F_KIND_;
		if ((rc = btapi_bson_str_(it, &r->kind, &n)) == BT_OK &&
		    strcmp(r->kind, "block") != 0 &&
		    strcmp(r->kind, "path") != 0)
			rc = BT_EFORMAT;
	} else if (strcmp(k, "key") == 0) {
		*bit = BTAPI_F_KEY_;
		if (BSON_ITER_HOLDS_BINARY(it)) {
			r->key_is_bin = 1;
			rc = btapi_bson_bin_(it, &r->key, &r->key_len);
		} else {
			r->key_is_bin = 0;
			rc = btapi_bson_str_(it, &s, &r->key_len);
			r->key = (const uint8_t *)s;
		}
		if (rc == BT_OK && (r->key_len == 0 || r->key_len > 4096))
			rc = BT_ERANGE;
	} else if (strcmp(k, "watch") == 0) {
		*bit = BTAPI_F_WATCH_;
		rc = get_i64(it, &r->watch);
	} else if (strcmp(k, "token") == 0) {
		*bit = BTAPI_F_TOKEN_;
		rc = get_i64(it, &r->token);
	} else if (strcmp(k, "scope") == 0) {
		*bit = BTAPI_F_SCOPE_;
		if ((rc = btapi_bson_str_(it, &r->scope, &r->scope_len)) == BT_OK &&
		    (r->scope_len == 0 || r->scope_len > 128))
			rc = BT_ERANGE;
	} else if (strcmp(k, "node") == 0) {
		const uint8_t *p;

		*bit = BTAPI_F_NODE_;
		if ((rc = btapi_bson_bin_(it, &p, &n)) == BT_OK) {
			if (n != BT_ID_LEN)
				rc = BT_EFORMAT;
			else
				memcpy(r->node.b, p, BT_ID_LEN);
		}
	} else if (strcmp(k, "args") == 0) {
		*bit = BTAPI_F_ARGS_;
		rc = get_doc(it, &r->args, &r->args_len);
	} else if (strcmp(k, "result") == 0) {
		*bit2 = BTAPI_F2_RESULT_;
		rc = get_doc(it, &r->result, &r->result_len);
	} else if (strcmp(k, "req") == 0) {
		*bit = BTAPI_F_REQ_;
		rc = get_i64(it, &r->req);
	} else if (strcmp(k, "err") == 0) {
		*bit = BTAPI_F_ERR_;
		if ((rc = get_i32(it, &r->err)) == BT_OK && r->err >= 0)
			rc = BT_ERANGE;
	} else if (strcmp(k, "text") == 0) {
		*bit = BTAPI_F_TEXT_;
		if ((rc = btapi_bson_str_(it, &r->text, &r->text_len)) == BT_OK &&
		    r->text_len > BTAPI_TEXT_MAX)
			rc = BT_ERANGE;
	} else if (strcmp(k, "host") == 0) {
		*bit = BTAPI_F_HOST_;
		rc = btapi_bson_str_(it, &r->host, &r->host_len);
	} else if (strcmp(k, "prefix") == 0) {
		*bit = BTAPI_F_PREFIX_;
		rc = btapi_bson_str_(it, &r->prefix, &r->prefix_len);
	} else if (strcmp(k, "status") == 0) {
		*bit = BTAPI_F_STATUS_;
		if ((rc = get_i32(it, &r->status)) == BT_OK &&
		    (r->status < 100 || r->status > 599))
			rc = BT_ERANGE;
	} else if (strcmp(k, "headers") == 0) {
		uint32_t dlen;
		const uint8_t *d;

		*bit = BTAPI_F_HEADERS_;
		if (BSON_ITER_HOLDS_ARRAY(it)) {
			bson_iter_array(it, &dlen, &d);
			r->headers = d;
			r->headers_len = dlen;
			rc = btapi_headers_check_(d, dlen, &r->nheaders);
		}
	} else if (strcmp(k, "version") == 0) {
		*bit = BTAPI_F_VERSION_;
		if ((rc = get_i32(it, &r->version)) == BT_OK && r->version < 1)
			rc = BT_ERANGE;
	} else if (strcmp(k, "manifest") == 0) {
		*bit2 = BTAPI_F2_MANIFEST_;
		rc = btapi_bson_bin_(it, &r->manifest, &r->manifest_len);
	} else if (strcmp(k, "after") == 0) {
		*bit2 = BTAPI_F2_AFTER_;
		rc = btapi_bson_str_(it, &r->after, &r->after_len);
	} else if (strcmp(k, "max") == 0) {
		*bit2 = BTAPI_F2_MAX_;
		if ((rc = get_i32(it, &r->max)) == BT_OK && r->max < 1)
			rc = BT_ERANGE;
	}
	return rc;
}

int
btapi_req_decode_(struct btapi_req_ *r, const uint8_t *doc, size_t len)
{
	bson_t b;
	bson_iter_t it;
	const char *opname = NULL;
	size_t n, off;
	int have_id = 0, rc = BT_EFORMAT;
	uint32_t bit, bit2;
	const struct opdef *d;

	memset(r, 0, sizeof(*r));
	r->layout = BTCORE_TREE_SEQUENTIAL;
	if (len > BTAPI_FRAME_MAX) {
		rc = BT_ETOOBIG;
		goto out;
	}
	if (len < 5 || !bson_init_static(&b, doc, len))
		goto out;
	/* ids first, so that even a bad request gets an addressed reply */
	if (bson_iter_init_find(&it, &b, "id") && BSON_ITER_HOLDS_INT64(&it))
		r->id = bson_iter_int64(&it);
	if (!bson_validate(&b, BSON_VALIDATE_UTF8 | BSON_VALIDATE_EMPTY_KEYS,
	    &off) || !bson_iter_init(&it, &b))
		goto out;
	while (bson_iter_next(&it)) {
		const char *k = bson_iter_key(&it);

		if (strcmp(k, "op") == 0) {
			if (opname != NULL || btapi_bson_str_(&it, &opname, &n) != BT_OK)
				goto out;
			continue;
		}
		if (strcmp(k, "id") == 0) {
			if (have_id || get_i64(&it, &r->id) != BT_OK)
				goto out;
			have_id = 1;
			continue;
		}
		if ((rc = field(r, &it, k, &bit, &bit2)) != BT_OK)
			goto out;
		rc = BT_EFORMAT;
		if ((bit == 0 && bit2 == 0) || (r->have & bit) ||
		    (r->have2 & bit2))
			goto out;	/* unknown or repeated */
		r->have |= bit;
		r->have2 |= bit2;
	}
	if (opname == NULL || !have_id)
		goto out;
	if ((r->op = op_lookup(opname)) == BTAPI_OP_NONE_) {
		rc = BTAPI_EBADOP;
		goto out;
	}
	d = &ops[r->op];
	if ((r->have & d->req) != d->req || (r->have2 & d->req2) != d->req2 ||
	    (r->have & ~(d->req | d->opt)) != 0 ||
	    (r->have2 & ~(d->req2 | d->opt2)) != 0)
		goto out;
	/* a reply carries a result or an error, never both */
	if (r->op == BTAPI_OP_REPLY_ &&
	    !!(r->have2 & BTAPI_F2_RESULT_) == !!(r->have & BTAPI_F_ERR_))
		goto out;
	rc = BT_OK;
out:
	if (rc != BT_OK) {
		int64_t id = r->id;

		memset(r, 0, sizeof(*r));
		r->id = id;
	}
	return rc;
}
