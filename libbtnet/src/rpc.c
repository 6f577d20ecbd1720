/*
 * rpc.c - calls to a scope on another node and the handlers that answer
 * them (bt/net.h), over the requests of net.c.
 */
#include <bt/msg.h>
#include <bt/net.h>

#include <stdlib.h>
#include <string.h>

#include "net-internal.h"

struct net_rpc_handler {
	struct net_rpc_handler *next;
	char scope[BTNET_SCOPE_MAX + 1];
	btnet_rpc_handler fn;
	void *arg;
};

struct btnet_rpc_req {
	struct btnet_rpc_req *prev, *next;
	struct btnet *net;
	struct bt_id from;
	int64_t tid;
};

struct rpc_call {
	btnet_rpc_cb cb;
	void *arg;
};

static struct net_rpc_handler **
handler_find(struct btnet *net, const char *scope, size_t len)
{
	struct net_rpc_handler **h;

	for (h = &net->rpc_handlers; *h != NULL; h = &(*h)->next)
		if (strlen((*h)->scope) == len &&
		    memcmp((*h)->scope, scope, len) == 0)
			break;
	return h;
}

int
btnet_rpc_handle(struct btnet *net, const char *scope, btnet_rpc_handler fn,
    void *arg)
{
	struct net_rpc_handler **h, *n;
	size_t len;

	if (net == NULL || scope == NULL)
		return BT_EINVAL;
	len = strlen(scope);
	if (!btnet_scope_ok_(scope, len))
		return BT_EINVAL;
	h = handler_find(net, scope, len);
	if (fn == NULL) {
		if ((n = *h) != NULL) {
			*h = n->next;
			free(n);
		}
		return BT_OK;
	}
	if (*h == NULL) {
		if ((n = calloc(1, sizeof(*n))) == NULL)
			return BT_ENOMEM;
		memcpy(n->scope, scope, len + 1);
		*h = n;
	}
	(*h)->fn = fn;
	(*h)->arg = arg;
	return BT_OK;
}

/* Send an "error" reply to @p tid of @p to. */
static int
send_error(struct btnet *net, const struct bt_id *to, int64_t tid, int code,
    const char *text)
{
	struct btcore_msg *m = NULL;
	size_t len = text != NULL ? strlen(text) : 0;
	int rc;

	if ((rc = btcore_msg_new(&m, BTCORE_MSG_ERROR, tid)) != BT_OK)
		return rc;
	if ((rc = btcore_msg_set_int64(m, BTCORE_MSG_F_CODE, code)) == BT_OK)
		rc = btcore_msg_set_str(m, BTCORE_MSG_F_TEXT,
		    text != NULL ? text : "", len);
	if (rc == BT_ERANGE)
		rc = BT_EINVAL;
	if (rc == BT_OK)
		rc = btnet_send_msg_(net, to, m);
	btcore_msg_free(m);
	return rc;
}

static void
req_free(struct btnet_rpc_req *req)
{
	struct btnet *net = req->net;

	if (req->prev != NULL)
		req->prev->next = req->next;
	else
		net->rpc_in = req->next;
	if (req->next != NULL)
		req->next->prev = req->prev;
	net->nrpc_in--;
	free(req);
}

int
btnet_rpc_reply(struct btnet_rpc_req *req, const uint8_t *doc, size_t len)
{
	struct btcore_msg *m = NULL;
	int rc;

	if (req == NULL)
		return BT_EINVAL;
	if (doc == NULL) {
		rc = BT_EINVAL;
		goto out;
	}
	if ((rc = btcore_msg_new(&m, BTCORE_MSG_RPC_REP, req->tid)) != BT_OK)
		goto out;
	rc = btcore_msg_set_bin(m, BTCORE_MSG_F_RESULT, doc, len);
	if (rc == BT_ERANGE)
		rc = len > 5 ? BT_ETOOBIG : BT_EFORMAT;
	if (rc == BT_OK)
		rc = btnet_send_msg_(req->net, &req->from, m);
out:
	btcore_msg_free(m);
	req_free(req);
	return rc;
}

int
btnet_rpc_error(struct btnet_rpc_req *req, int code, const char *text)
{
	int rc;

	if (req == NULL)
		return BT_EINVAL;
	if (code >= 0)
		rc = BT_EINVAL;
	else
		rc = send_error(req->net, &req->from, req->tid, code, text);
	req_free(req);
	return rc;
}

static int
on_rpc_req(struct btnet *net, void *arg, struct net_conn *nc,
    const struct btcore_msg *m, const uint8_t *raw, size_t rawlen)
{
	struct net_rpc_handler *h;
	struct btnet_rpc_req *req;
	const uint8_t *args;
	const char *scope;
	size_t slen, alen;
	struct bt_id from = nc->peer->id;

	(void)arg;
	(void)raw;
	(void)rawlen;
	if (btcore_msg_get_str(m, BTCORE_MSG_F_SCOPE, &scope, &slen) != BT_OK ||
	    btcore_msg_get_bin(m, BTCORE_MSG_F_ARGS, &args, &alen) != BT_OK)
		return BT_EFORMAT;
	if (!btnet_scope_ok_(scope, slen) ||
	    (h = *handler_find(net, scope, slen)) == NULL)
		return send_error(net, &from, btcore_msg_tid(m),
		    BTNET_ENOSCOPE, "no handler for this scope");
	if (net->nrpc_in >= net->cfg.max_requests)
		return send_error(net, &from, btcore_msg_tid(m), BT_EAGAIN,
		    "too many requests waiting");
	if ((req = calloc(1, sizeof(*req))) == NULL)
		return send_error(net, &from, btcore_msg_tid(m), BT_ENOMEM,
		    "out of memory");
	req->net = net;
	req->from = from;
	req->tid = btcore_msg_tid(m);
	req->next = net->rpc_in;
	if (net->rpc_in != NULL)
		net->rpc_in->prev = req;
	net->rpc_in = req;
	net->nrpc_in++;
	/* the handler may answer (and so free req) before it returns */
	h->fn(h->arg, req, &from, scope, args, alen);
	return BT_OK;
}

static void
call_done(struct btnet *net, void *ctx, int status,
    const struct btcore_msg *reply)
{
	struct rpc_call *call = ctx;
	struct btnet_rpc_result res;
	int64_t code;
	size_t tlen;

	(void)net;
	memset(&res, 0, sizeof(res));
	res.status = status;
	res.text = "";
	if (status == BT_OK && btcore_msg_type(reply) == BTCORE_MSG_RPC_REP) {
		if (btcore_msg_get_bin(reply, BTCORE_MSG_F_RESULT, &res.reply,
		    &res.len) != BT_OK)
			res.status = BT_EPROTO;
	} else if (status == BT_OK &&
	    btcore_msg_type(reply) == BTCORE_MSG_ERROR) {
		if (btcore_msg_get_int64(reply, BTCORE_MSG_F_CODE, &code) !=
		    BT_OK || btcore_msg_get_str(reply, BTCORE_MSG_F_TEXT,
		    &res.text, &tlen) != BT_OK) {
			res.status = BT_EPROTO;
			res.text = "";
		} else if (code == BTNET_ENOSCOPE) {
			res.status = BTNET_ENOSCOPE;
		} else {
			res.status = BTNET_EREMOTE;
			res.code = (int)code;
		}
	} else if (status == BT_OK) {
		res.status = BT_EPROTO;
	}
	call->cb(call->arg, &res);
	free(call);
}

int
btnet_rpc_call(struct btnet *net, const struct bt_id *to, const char *scope,
    const uint8_t *args, size_t len, btnet_rpc_cb cb, void *arg)
{
	struct btcore_msg *m = NULL;
	struct rpc_call *call = NULL;
	size_t slen;
	int rc;

	if (net == NULL || to == NULL || scope == NULL || args == NULL ||
	    cb == NULL)
		return BT_EINVAL;
	slen = strlen(scope);
	if (!btnet_scope_ok_(scope, slen) ||
	    memcmp(to->b, net->self.b, BT_ID_LEN) == 0)
		return BT_EINVAL;
	if (len > BT_MSG_MAX)
		return BT_ETOOBIG;
	if (net->state == NET_OFFLINE || net->closing)
		return BT_ESTATE;
	if ((rc = btcore_msg_new(&m, BTCORE_MSG_RPC_REQ, btnet_tid_(net))) !=
	    BT_OK)
		goto out;
	if ((rc = btcore_msg_set_str(m, BTCORE_MSG_F_SCOPE, scope, slen)) !=
	    BT_OK)
		goto out;
	rc = btcore_msg_set_bin(m, BTCORE_MSG_F_ARGS, args, len);
	if (rc == BT_ERANGE)
		rc = len < 5 ? BT_EFORMAT : BT_ETOOBIG;
	if (rc != BT_OK)
		goto out;
	if ((call = calloc(1, sizeof(*call))) == NULL) {
		rc = BT_ENOMEM;
		goto out;
	}
	call->cb = cb;
	call->arg = arg;
	if ((rc = btnet_request_(net, to, m, call_done, call)) != BT_OK)
		goto out;
	call = NULL;
out:
	free(call);
	btcore_msg_free(m);
	return rc;
}

int
btnet_rpc_init_(struct btnet *net)
{
	return btnet_op_handle_(net, BTCORE_MSG_RPC_REQ, on_rpc_req, NULL);
}

void
btnet_rpc_close_(struct btnet *net)
{
	struct net_rpc_handler *h;

	while (net->rpc_in != NULL)
		req_free(net->rpc_in);
	while ((h = net->rpc_handlers) != NULL) {
		net->rpc_handlers = h->next;
		free(h);
	}
}
