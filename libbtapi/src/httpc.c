/*
 * httpc.c - HTTP requests from a program to other hosts (libevent evhttp),
 * with a timeout and a response size limit.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include <bt/api.h>

#include "btapi-internal.h"

#define HTTP_BODY_DEFAULT	(16u << 20)

struct hreq {
	struct evdns_base *dns;
	struct evhttp_connection *conn;
	btapi_http_cb cb;
	void *arg;
	struct event *fin;
	int err, status;
	struct evbuffer *body;
	struct btapi_header *h;
	size_t n;
	struct evhttp_request *req;	/* kept for its headers */
};

static void
hreq_free(struct hreq *r)
{
	if (r->req != NULL)
		evhttp_request_free(r->req);
	if (r->conn != NULL)
		evhttp_connection_free(r->conn);
	if (r->dns != NULL)
		evdns_base_free(r->dns, 1);
	if (r->fin != NULL)
		event_free(r->fin);
	if (r->body != NULL)
		evbuffer_free(r->body);
	free(r->h);
	free(r);
}

/* Runs from the loop after the request finished: the connection may be
 * freed here, not inside its own callback. */
static void
hreq_finish(evutil_socket_t fd, short what, void *arg)
{
	struct hreq *r = arg;
	size_t len = evbuffer_get_length(r->body);
	const void *d = len > 0 ? evbuffer_pullup(r->body, -1) : NULL;

	(void)fd;
	(void)what;
	r->cb(r->arg, r->err, r->err == BT_OK ? r->status : 0,
	    r->err == BT_OK ? r->h : NULL, r->err == BT_OK ? r->n : 0,
	    r->err == BT_OK ? d : NULL, r->err == BT_OK ? len : 0);
	hreq_free(r);
}

static void
hreq_done(struct evhttp_request *req, void *arg)
{
	struct hreq *r = arg;
	struct evkeyvalq *kv;
	struct evkeyval *e;
	size_t n = 0;

	if (req == NULL || evhttp_request_get_response_code(req) == 0) {
		r->err = r->err != BT_OK ? r->err : BTAPI_EHTTP;
		goto out;
	}
	r->status = evhttp_request_get_response_code(req);
	if (evbuffer_add_buffer(r->body,
	    evhttp_request_get_input_buffer(req)) != 0) {
		r->err = BT_ENOMEM;
		goto out;
	}
	kv = evhttp_request_get_input_headers(req);
	for (e = kv->tqh_first; e != NULL; e = e->next.tqe_next)
		n++;
	if (n > 0 && (r->h = calloc(n, sizeof(*r->h))) == NULL) {
		r->err = BT_ENOMEM;
		goto out;
	}
	/* the request (and its headers) lives until the connection is
	   freed in hreq_finish: evhttp keeps it while we hold it */
	evhttp_request_own(req);
	r->req = req;
	for (e = kv->tqh_first; e != NULL; e = e->next.tqe_next) {
		r->h[r->n].name = e->key;
		r->h[r->n].value = e->value;
		r->n++;
	}
	r->err = BT_OK;
out:
	event_active(r->fin, EV_TIMEOUT, 0);
}

static void
hreq_error(enum evhttp_request_error e, void *arg)
{
	struct hreq *r = arg;

	r->err = e == EVREQ_HTTP_TIMEOUT ? BT_ETIMEDOUT :
	    e == EVREQ_HTTP_DATA_TOO_LONG ? BTAPI_EHTTP : BTAPI_EHTTP;
}

int
btapi_http_request(struct event_base *base, const char *method,
    const char *url, const struct btapi_header *h, size_t n,
    const void *body, size_t len, uint32_t timeout_ms, size_t max_body,
    btapi_http_cb cb, void *arg)
{
	struct evhttp_uri *uri = NULL;
	struct evhttp_request *req = NULL;
	struct hreq *r = NULL;
	struct timeval tv;
	const char *scheme, *host, *path, *query;
	char *target = NULL;
	enum evhttp_cmd_type cmd;
	int port, rc = BT_EINVAL;
	size_t i, tlen;

	if (base == NULL || method == NULL || url == NULL || cb == NULL ||
	    (h == NULL && n > 0) || (body == NULL && len > 0))
		return BT_EINVAL;
	if (strcmp(method, "GET") == 0)
		cmd = EVHTTP_REQ_GET;
	else if (strcmp(method, "POST") == 0)
		cmd = EVHTTP_REQ_POST;
	else if (strcmp(method, "PUT") == 0)
		cmd = EVHTTP_REQ_PUT;
	else if (strcmp(method, "DELETE") == 0)
		cmd = EVHTTP_REQ_DELETE;
	else if (strcmp(method, "HEAD") == 0)
		cmd = EVHTTP_REQ_HEAD;
	else if (strcmp(method, "PATCH") == 0)
		cmd = EVHTTP_REQ_PATCH;
	else if (strcmp(method, "OPTIONS") == 0)
		cmd = EVHTTP_REQ_OPTIONS;
	else
		return BT_EINVAL;
	if ((uri = evhttp_uri_parse(url)) == NULL)
		return BT_EFORMAT;
	scheme = evhttp_uri_get_scheme(uri);
	host = evhttp_uri_get_host(uri);
	rc = BT_EFORMAT;
	if (scheme == NULL || host == NULL || host[0] == '\0')
		goto out;
	rc = BT_EUNSUPPORTED;
	if (strcasecmp(scheme, "https") == 0)
		goto out;
	rc = BT_EFORMAT;
	if (strcasecmp(scheme, "http") != 0)
		goto out;
	port = evhttp_uri_get_port(uri);
	if (port < 0)
		port = 80;
	path = evhttp_uri_get_path(uri);
	if (path == NULL || path[0] == '\0')
		path = "/";
	query = evhttp_uri_get_query(uri);
	tlen = strlen(path) + (query != NULL ? strlen(query) + 1 : 0) + 1;
	rc = BT_ENOMEM;
	if ((target = malloc(tlen)) == NULL)
		goto out;
	memcpy(target, path, strlen(path) + 1);
	if (query != NULL) {
		target[strlen(path)] = '?';
		memcpy(target + strlen(path) + 1, query, strlen(query) + 1);
	}
	if ((r = calloc(1, sizeof(*r))) == NULL)
		goto out;
	r->cb = cb;
	r->arg = arg;
	r->err = BTAPI_EHTTP;
	if ((r->body = evbuffer_new()) == NULL ||
	    (r->fin = event_new(base, -1, 0, hreq_finish, r)) == NULL ||
	    (r->dns = evdns_base_new(base,
	    EVDNS_BASE_INITIALIZE_NAMESERVERS)) == NULL ||
	    (r->conn = evhttp_connection_base_new(base, r->dns, host,
	    (unsigned short)port)) == NULL)
		goto out;
	if (timeout_ms == 0)
		timeout_ms = BT_REQUEST_TIMEOUT_MS;
	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = (timeout_ms % 1000) * 1000;
	evhttp_connection_set_timeout_tv(r->conn, &tv);
	evhttp_connection_set_retries(r->conn, 0);
	evhttp_connection_set_max_body_size(r->conn, (ev_ssize_t)(max_body ?
	    max_body : HTTP_BODY_DEFAULT));
	evhttp_connection_set_max_headers_size(r->conn, 64 * 1024);
	if ((req = evhttp_request_new(hreq_done, r)) == NULL)
		goto out;
	evhttp_request_set_error_cb(req, hreq_error);
	if (evhttp_add_header(evhttp_request_get_output_headers(req), "Host",
	    host) != 0)
		goto out;
	for (i = 0; i < n; i++) {
		rc = BT_EFORMAT;
		if (evhttp_add_header(evhttp_request_get_output_headers(req),
		    h[i].name, h[i].value) != 0)
			goto out;
	}
	rc = BT_ENOMEM;
	if (len > 0 && evbuffer_add(evhttp_request_get_output_buffer(req),
	    body, len) != 0)
		goto out;
	if (evhttp_make_request(r->conn, req, cmd, target) != 0) {
		req = NULL;	/* freed by evhttp on failure */
		rc = BTAPI_EHTTP;
		goto out;
	}
	req = NULL;
	r = NULL;
	rc = BT_OK;
out:
	if (req != NULL)
		evhttp_request_free(req);
	if (r != NULL)
		hreq_free(r);
	free(target);
	evhttp_uri_free(uri);
	return rc;
}
