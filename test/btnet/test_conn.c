/*
 * test_conn.c - connections on real loopback sockets in one process: the
 * handshake and messages both ways, 1 MiB exactly and 1 MiB + 1, order,
 * backpressure, the wrong node id, garbage, slow and dribbled
 * handshakes, rate limits and caps, rekeying, closing from callbacks,
 * idle timeouts.  Every wait has a hard deadline.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <event2/event.h>

#include <bt/conn.h>
#include <bt/frame.h>
#include <bt/key.h>
#include <bt/neterror.h>
#include <bt/noise.h>

#include "btnet-internal.h"

Suite *suite_conn(void);

#define MAXC	16

struct node {
	struct btcore_key *key;
	struct btnet_identity *id;
	struct bt_id nid;
};

/* What one endpoint saw. */
struct rec {
	struct btnet_endpoint *ep;
	int established, closed, msgs, writable;
	int reason;			/* last close reason */
	struct btnet_conn *conn[MAXC];	/* established, in order */
	struct bt_id peer;
	uint8_t *last;			/* copy of the last message */
	size_t last_len;
	uint32_t next_seq;		/* in-order check */
	int seq_errors;
	int close_on_msg;		/* close the connection in the message cb */
	int close_ep_on_est;		/* close the endpoint when established */
	int echo;			/* send every message back */
	void (*on_writable)(struct rec *r, struct btnet_conn *c);
};

static struct event_base *base;

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct event *tick;

static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
}

static void
setup(void)
{
	struct timeval tv = { 0, 5000 };

	signal(SIGPIPE, SIG_IGN);
	base = event_base_new();
	ck_assert_ptr_nonnull(base);
	tick = event_new(base, -1, EV_PERSIST, tick_cb, NULL);
	ck_assert_ptr_nonnull(tick);
	ck_assert_int_eq(event_add(tick, &tv), 0);
}

static void
teardown(void)
{
	event_free(tick);
	event_base_free(base);
}

static void
node_new(struct node *n)
{
	struct btcore_signer s;

	ck_assert_int_eq(btcore_key_generate(&n->key), BT_OK);
	btcore_key_signer(n->key, &s);
	ck_assert_int_eq(btnet_identity_new(&n->id, &s, NULL), BT_OK);
	btnet_identity_node_id(n->id, &n->nid);
}

static void
node_free(struct node *n)
{
	btnet_identity_free(n->id);
	btcore_key_free(n->key);
}

static void
est_cb(struct btnet_conn *c, const struct bt_id *peer, void *arg)
{
	struct rec *r = arg;

	if (r->established < MAXC)
		r->conn[r->established] = c;
	r->established++;
	r->peer = *peer;
	if (r->close_ep_on_est) {
		btnet_endpoint_close(r->ep);
		r->ep = NULL;
	}
}

static void
msg_cb(struct btnet_conn *c, const uint8_t *msg, size_t len, void *arg)
{
	struct rec *r = arg;

	r->msgs++;
	free(r->last);
	r->last = malloc(len ? len : 1);
	ck_assert_ptr_nonnull(r->last);
	if (len)
		memcpy(r->last, msg, len);
	r->last_len = len;
	if (len >= 4) {
		if (btnet_get_be32_(msg) != r->next_seq)
			r->seq_errors++;
		r->next_seq = btnet_get_be32_(msg) + 1;
	}
	if (r->echo)
		ck_assert_int_eq(btnet_conn_send(c, msg, len), BT_OK);
	if (r->close_on_msg)
		btnet_conn_close(c);
}

static void
closed_cb(struct btnet_conn *c, int reason, void *arg)
{
	struct rec *r = arg;
	int i;

	r->closed++;
	r->reason = reason;
	for (i = 0; i < MAXC; i++)
		if (r->conn[i] == c)
			r->conn[i] = NULL;
}

static void
writable_cb(struct btnet_conn *c, void *arg)
{
	struct rec *r = arg;

	r->writable++;
	if (r->on_writable)
		r->on_writable(r, c);
}

static void
ep_new(struct rec *r, struct node *n, int listen)
{
	memset(r, 0, sizeof(*r));
	ck_assert_int_eq(btnet_endpoint_open(&r->ep, base, n->id), BT_OK);
	btnet_endpoint_setcb(r->ep, est_cb, msg_cb, closed_cb, writable_cb, r);
	if (listen) {
		ck_assert_int_eq(btnet_endpoint_listen(r->ep, "127.0.0.1:0"),
		    BT_OK);
		ck_assert_uint_gt(btnet_endpoint_port(r->ep), 0);
	}
}

static void
rec_done(struct rec *r)
{
	btnet_endpoint_close(r->ep);
	free(r->last);
	memset(r, 0, sizeof(*r));
}

static void
addr_of(const struct rec *r, char buf[32])
{
	snprintf(buf, 32, "127.0.0.1:%u", btnet_endpoint_port(r->ep));
}

/* Run the loop until *a >= av and *b >= bv, or @p secs pass. */
static int
run_until(const int *a, int av, const int *b, int bv, double secs)
{
	double end = now_s() + secs;

	while ((a != NULL && *a < av) || (b != NULL && *b < bv)) {
		if (now_s() > end)
			return 0;
		event_base_loop(base, EVLOOP_ONCE);
	}
	return 1;
}

static void
run_for(double secs)
{
	double end = now_s() + secs;

	while (now_s() < end)
		event_base_loop(base, EVLOOP_ONCE);
}

static uint8_t *
pattern(size_t len, uint32_t seq)
{
	uint8_t *p = malloc(len ? len : 1);
	size_t i;

	ck_assert_ptr_nonnull(p);
	for (i = 0; i < len; i++)
		p[i] = (uint8_t)(i * 7 + seq * 13 + (i >> 11));
	if (len >= 4)
		btnet_put_be32_(p, seq);
	return p;
}

/* ---- a raw TCP client driven step by step ----------------------------- */

static int
raw_connect(uint16_t port)
{
	struct sockaddr_in sa;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	ck_assert_int_ge(fd, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons(port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
	return fd;
}

/* Write @p len bytes @p step at a time, running the loop in between. */
static void
raw_send(int fd, const uint8_t *p, size_t len, size_t step)
{
	size_t off = 0, n;
	ssize_t w;
	double end = now_s() + 10;

	while (off < len) {
		ck_assert(now_s() < end);
		n = len - off < step ? len - off : step;
		w = send(fd, p + off, n, MSG_NOSIGNAL);
		if (w > 0)
			off += (size_t)w;
		else
			ck_assert(errno == EAGAIN || errno == EWOULDBLOCK);
		event_base_loop(base, EVLOOP_NONBLOCK);
	}
}

static void
raw_recv(int fd, uint8_t *p, size_t len)
{
	size_t off = 0;
	ssize_t n;
	double end = now_s() + 10;

	while (off < len) {
		ck_assert(now_s() < end);
		n = recv(fd, p + off, len - off, 0);
		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		ck_assert_int_ne(n, 0);
		ck_assert(errno == EAGAIN || errno == EWOULDBLOCK);
		event_base_loop(base, EVLOOP_ONCE);
	}
}

/* Seconds until the peer closes @p fd (input is discarded); -1 on timeout. */
static double
raw_wait_closed(int fd, double secs)
{
	double t0 = now_s();
	uint8_t buf[4096];
	ssize_t n;

	while (now_s() - t0 < secs) {
		n = recv(fd, buf, sizeof(buf), 0);
		if (n == 0 || (n < 0 && errno != EAGAIN &&
		    errno != EWOULDBLOCK))
			return now_s() - t0;
		if (n < 0)
			event_base_loop(base, EVLOOP_ONCE);
	}
	return -1;
}

/* The initiator's side of the handshake over @p fd, @p step bytes a time. */
static void
raw_handshake(int fd, const struct node *me, const struct bt_id *expect,
    size_t step, struct btnet_cipher **send, struct btnet_cipher **recv)
{
	struct btnet_handshake *hs;
	uint8_t buf[2 + BTNET_HANDSHAKE_MSG_MAX];
	size_t len;

	ck_assert_int_eq(btnet_handshake_new(&hs, me->id, 1, expect), BT_OK);
	ck_assert_int_eq(btnet_handshake_write(hs, buf + 2, sizeof(buf) - 2,
	    &len), BT_OK);
	btnet_put_be16_(buf, (uint16_t)len);
	raw_send(fd, buf, len + 2, step);
	raw_recv(fd, buf, 2);
	len = btnet_get_be16_(buf);
	ck_assert_uint_le(len, BTNET_HANDSHAKE_MSG_MAX);
	raw_recv(fd, buf + 2, len);
	ck_assert_int_eq(btnet_handshake_read(hs, buf + 2, len), BT_OK);
	ck_assert_int_eq(btnet_handshake_write(hs, buf + 2, sizeof(buf) - 2,
	    &len), BT_OK);
	btnet_put_be16_(buf, (uint16_t)len);
	raw_send(fd, buf, len + 2, step);
	ck_assert_int_eq(btnet_handshake_finish(hs, send, recv, NULL, NULL),
	    BT_OK);
	btnet_handshake_free(hs);
}

/* ---- tests ------------------------------------------------------------ */

START_TEST(exchange_both_ways)
{
	struct node na, nb;
	struct rec a, b;
	struct btnet_conn *c;
	struct bt_id pid;
	char addr[32], peer[BTNET_ADDR_STRLEN];
	int marker;

	node_new(&na);
	node_new(&nb);
	ep_new(&a, &na, 0);
	ep_new(&b, &nb, 1);
	addr_of(&b, addr);
	ck_assert_int_eq(btnet_endpoint_dial(a.ep, addr, &nb.nid, &c), BT_OK);
	ck_assert_ptr_nonnull(c);
	btnet_conn_set_data(c, &marker);
	ck_assert_ptr_eq(btnet_conn_data(c), &marker);
	ck_assert_int_eq(btnet_conn_send(c, "x", 1), BT_ESTATE);
	ck_assert_int_eq(btnet_conn_peer(c, &pid, NULL), BT_ESTATE);
	ck_assert_int_eq(btnet_conn_inbound(c), 0);
	ck_assert(run_until(&a.established, 1, &b.established, 1, 10));
	ck_assert_ptr_eq(a.conn[0], c);
	ck_assert_mem_eq(a.peer.b, nb.nid.b, BT_ID_LEN);
	ck_assert_mem_eq(b.peer.b, na.nid.b, BT_ID_LEN);
	ck_assert_int_eq(btnet_conn_peer(c, &pid, NULL), BT_OK);
	ck_assert_mem_eq(pid.b, nb.nid.b, BT_ID_LEN);
	ck_assert_int_eq(btnet_conn_inbound(b.conn[0]), 1);
	ck_assert_ptr_null(btnet_conn_data(b.conn[0]));
	ck_assert_int_eq(btnet_conn_peer_addr(c, peer, sizeof(peer)), BT_OK);
	ck_assert_str_eq(peer, addr);
	ck_assert_int_eq(btnet_conn_peer_addr(c, peer, 5), BT_ENOSPC);
	ck_assert_str_eq(peer, "");
	ck_assert_int_eq(btnet_conn_peer_addr(b.conn[0], peer, sizeof(peer)),
	    BT_OK);
	ck_assert(strncmp(peer, "127.0.0.1:", 10) == 0);

	/* A -> B, B echoes, A -> B empty keepalive */
	b.echo = 1;
	ck_assert_int_eq(btnet_conn_send(c, "\0\0\0\0hello", 9), BT_OK);
	ck_assert(run_until(&a.msgs, 1, &b.msgs, 1, 10));
	ck_assert_uint_eq(a.last_len, 9);
	ck_assert_mem_eq(a.last, "\0\0\0\0hello", 9);
	ck_assert_mem_eq(b.last, "\0\0\0\0hello", 9);
	b.echo = 0;
	ck_assert_int_eq(btnet_conn_send(c, NULL, 0), BT_OK);
	ck_assert(run_until(&b.msgs, 2, NULL, 0, 10));
	ck_assert_uint_eq(b.last_len, 0);
	ck_assert_int_eq(btnet_conn_send(b.conn[0], "\0\0\0\1back", 8), BT_OK);
	ck_assert(run_until(&a.msgs, 2, NULL, 0, 10));
	ck_assert_mem_eq(a.last, "\0\0\0\1back", 8);
	ck_assert_uint_eq(btnet_endpoint_stat(b.ep, BTNET_STAT_CONNS), 1);
	ck_assert_uint_eq(btnet_endpoint_stat(b.ep, BTNET_STAT_ESTABLISHED), 1);

	/* closing A's endpoint: B hears of it, A's callbacks stay quiet */
	btnet_endpoint_close(a.ep);
	a.ep = NULL;
	ck_assert(run_until(&b.closed, 1, NULL, 0, 10));
	ck_assert_int_eq(b.reason, BT_ECLOSED);
	ck_assert_int_eq(a.closed, 0);
	ck_assert_uint_eq(btnet_endpoint_stat(b.ep, BTNET_STAT_CONNS), 0);
	rec_done(&a);
	rec_done(&b);
	node_free(&na);
	node_free(&nb);
}
END_TEST

START_TEST(arguments_and_addresses)
{
	struct node na;
	struct rec a;
	struct btnet_endpoint *ep;
	struct btnet_conn *c = (struct btnet_conn *)&a;
	char buf[8];

	node_new(&na);
	ck_assert_int_eq(btnet_endpoint_open(&ep, NULL, na.id), BT_EINVAL);
	ck_assert_ptr_null(ep);
	ck_assert_int_eq(btnet_endpoint_open(&ep, base, NULL), BT_EINVAL);
	ep_new(&a, &na, 0);
	ck_assert_int_eq(btnet_endpoint_dial(a.ep, "127.0.0.1", NULL, &c),
	    BT_EFORMAT);
	ck_assert_ptr_null(c);
	ck_assert_int_eq(btnet_endpoint_dial(a.ep, "example.org:80", NULL,
	    NULL), BT_EFORMAT);
	ck_assert_int_eq(btnet_endpoint_dial(a.ep, "::1", NULL, NULL),
	    BT_EFORMAT);
	ck_assert_int_eq(btnet_endpoint_listen(a.ep, "1.2.3:4"), BT_EFORMAT);
	ck_assert_int_eq(btnet_endpoint_set(a.ep, 999, 1), BT_EINVAL);
	ck_assert_int_eq(btnet_endpoint_set(a.ep,
	    BTNET_OPT_HANDSHAKE_TIMEOUT_MS, 0), BT_ERANGE);
	ck_assert_int_eq(btnet_endpoint_set(a.ep, BTNET_OPT_MESSAGE_MAX,
	    BT_MSG_MAX + 1), BT_ERANGE);
	ck_assert_int_eq(btnet_endpoint_set(a.ep, BTNET_OPT_OUTPUT_MAX, 100),
	    BT_ERANGE);
	ck_assert_int_eq(btnet_endpoint_set(a.ep, BTNET_OPT_IDLE_TIMEOUT_MS,
	    0), BT_OK);
	ck_assert_uint_eq(btnet_endpoint_port(a.ep), 0);
	ck_assert_int_eq(btnet_endpoint_listen(a.ep, "[::1]:0"), BT_OK);
	ck_assert_int_eq(btnet_endpoint_listen(a.ep, "127.0.0.1:0"),
	    BT_ESTATE);
	ck_assert_uint_eq(btnet_endpoint_stat(a.ep, 0), 0);
	ck_assert_uint_eq(btnet_endpoint_stat(NULL, BTNET_STAT_CONNS), 0);
	ck_assert_int_eq(btnet_conn_send(NULL, "", 0), BT_EINVAL);
	ck_assert_int_eq(btnet_conn_peer_addr(NULL, buf, sizeof(buf)),
	    BT_EINVAL);
	btnet_conn_close(NULL);
	btnet_endpoint_close(NULL);
	rec_done(&a);
	node_free(&na);
}
END_TEST

START_TEST(ipv6_and_refused_connect)
{
	struct node na, nb;
	struct rec a, b;
	char addr[64];
	int fd;
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);

	node_new(&na);
	node_new(&nb);
	ep_new(&a, &na, 0);
	ep_new(&b, &nb, 0);
	ck_assert_int_eq(btnet_endpoint_listen(b.ep, "[::1]:0"), BT_OK);
	snprintf(addr, sizeof(addr), "[::1]:%u", btnet_endpoint_port(b.ep));
	ck_assert_int_eq(btnet_endpoint_dial(a.ep, addr, &nb.nid, NULL),
	    BT_OK);
	ck_assert(run_until(&a.established, 1, &b.established, 1, 10));

	/* a port nobody listens on: bind one, close it, dial it */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
	close(fd);
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", ntohs(sa.sin_port));
	ck_assert_int_eq(btnet_endpoint_dial(a.ep, addr, &nb.nid, NULL),
	    BT_OK);
	ck_assert(run_until(&a.closed, 1, NULL, 0, 10));
	ck_assert_int_eq(a.reason, BT_EIO);
	rec_done(&a);
	rec_done(&b);
	node_free(&na);
	node_free(&nb);
}
END_TEST

START_TEST(one_mib_exactly_and_one_more)
{
	struct node na, nb, nr;
	struct rec a, b;
	struct btnet_cipher *s, *r;
	uint8_t *big = pattern(BT_MSG_MAX, 0), hdr[2 + 4 + 100 + 16];
	char addr[32];
	int fd;

	node_new(&na);
	node_new(&nb);
	node_new(&nr);
	ep_new(&a, &na, 0);
	ep_new(&b, &nb, 1);
	addr_of(&b, addr);
	ck_assert_int_eq(btnet_endpoint_dial(a.ep, addr, &nb.nid, NULL),
	    BT_OK);
	ck_assert(run_until(&a.established, 1, &b.established, 1, 10));
	ck_assert_int_eq(btnet_conn_send(a.conn[0], big, BT_MSG_MAX), BT_OK);
	ck_assert_int_eq(btnet_conn_send(a.conn[0], big, BT_MSG_MAX + 1),
	    BT_ETOOBIG);
	ck_assert(run_until(&b.msgs, 1, NULL, 0, 10));
	ck_assert_uint_eq(b.last_len, BT_MSG_MAX);
	ck_assert(memcmp(b.last, big, BT_MSG_MAX) == 0);
	/* and back, with the connection still healthy */
	ck_assert_int_eq(btnet_conn_send(b.conn[0], big, BT_MSG_MAX), BT_OK);
	ck_assert(run_until(&a.msgs, 1, NULL, 0, 10));
	ck_assert(memcmp(a.last, big, BT_MSG_MAX) == 0);
	ck_assert_int_eq(b.closed, 0);

	/* a hand-made peer announces 1 MiB + 1: closed before any body */
	fd = raw_connect(btnet_endpoint_port(b.ep));
	raw_handshake(fd, &nr, &nb.nid, 4096, &s, &r);
	ck_assert(run_until(&b.established, 2, NULL, 0, 10));
	btnet_put_be32_(hdr + 2, BT_MSG_MAX + 1);
	memset(hdr + 6, 0xab, 100);
	ck_assert_int_eq(btnet_cipher_encrypt(s, NULL, 0, hdr + 2, 104,
	    hdr + 2), BT_OK);
	btnet_put_be16_(hdr, 104 + 16);
	raw_send(fd, hdr, sizeof(hdr), sizeof(hdr));
	ck_assert(run_until(&b.closed, 1, NULL, 0, 10));
	ck_assert_int_eq(b.reason, BT_ETOOBIG);
	ck_assert(raw_wait_closed(fd, 5) >= 0);
	close(fd);
	btnet_cipher_free(s);
	btnet_cipher_free(r);
	free(big);
	rec_done(&a);
	rec_done(&b);
	node_free(&na);
	node_free(&nb);
	node_free(&nr);
}
END_TEST

/* Send messages seq = next ... total-1 until the queue is full. */
static uint32_t bp_next, bp_total;

static void
bp_pump(struct rec *r, struct btnet_conn *c)
{
	uint8_t *m;
	size_t len;
	int rc;

	(void)r;
	while (bp_next < bp_total) {
		len = 4 + (bp_next * 37) % 3000;
		m = pattern(len, bp_next);
		rc = btnet_conn_send(c, m, len);
		free(m);
		if (rc == BT_EAGAIN)
			return;
		ck_assert_int_eq(rc, BT_OK);
		bp_next++;
	}
}

START_TEST(many_small_in_order_with_backpressure)
{
	struct node na, nb;
	struct rec a, b;
	char addr[32];

	node_new(&na);
	node_new(&nb);
	ep_new(&a, &na, 0);
	ep_new(&b, &nb, 1);
	ck_assert_int_eq(btnet_endpoint_set(a.ep, BTNET_OPT_OUTPUT_MAX,
	    65536), BT_OK);
	addr_of(&b, addr);
	ck_assert_int_eq(btnet_endpoint_dial(a.ep, addr, &nb.nid, NULL),
	    BT_OK);
	ck_assert(run_until(&a.established, 1, &b.established, 1, 10));
	bp_next = 0;
	bp_total = 20000;
	a.on_writable = bp_pump;
	bp_pump(&a, a.conn[0]);
	ck_assert_uint_lt(bp_next, bp_total);	/* the queue did fill */
	ck_assert_uint_le(btnet_conn_queued(a.conn[0]), 65536 + 3100);
	ck_assert(run_until(&b.msgs, (int)bp_total, NULL, 0, 20));
	ck_assert_int_eq(b.seq_errors, 0);
	ck_assert_uint_eq(b.next_seq, bp_total);
	ck_assert_int_gt(a.writable, 0);
	ck_assert_int_eq(b.closed + a.closed, 0);
	rec_done(&a);
	rec_done(&b);
	node_free(&na);
	node_free(&nb);
}
END_TEST

START_TEST(wrong_expected_id)
{
	struct node na, nb, nc;
	struct rec a, b;
	char addr[32];

	node_new(&na);
	node_new(&nb);
	node_new(&nc);
	ep_new(&a, &na, 0);
	ep_new(&b, &nb, 1);
	addr_of(&b, addr);
	ck_assert_int_eq(btnet_endpoint_dial(a.ep, addr, &nc.nid, NULL),
	    BT_OK);
	ck_assert(run_until(&a.closed, 1, NULL, 0, 10));
	ck_assert_int_eq(a.reason, BTNET_EPEERID);
	ck_assert_int_eq(a.established, 0);
	ck_assert_uint_eq(btnet_endpoint_stat(a.ep,
	    BTNET_STAT_HANDSHAKE_FAILED), 1);
	run_for(0.1);
	ck_assert_int_eq(b.established, 0);
	ck_assert_uint_eq(btnet_endpoint_stat(b.ep, BTNET_STAT_CONNS), 0);
	ck_assert_uint_eq(btnet_endpoint_stat(b.ep,
	    BTNET_STAT_HANDSHAKE_FAILED), 1);
	/* NULL expects nobody in particular */
	ck_assert_int_eq(btnet_endpoint_dial(a.ep, addr, NULL, NULL), BT_OK);
	ck_assert(run_until(&a.established, 1, &b.established, 1, 10));
	ck_assert_mem_eq(a.peer.b, nb.nid.b, BT_ID_LEN);
	rec_done(&a);
	rec_done(&b);
	node_free(&na);
	node_free(&nb);
	node_free(&nc);
}
END_TEST

START_TEST(garbage_from_raw_clients)
{
	static const char http[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
	struct node nb, nr;
	struct rec b;
	struct btnet_handshake *hs;
	uint8_t buf[512];
	size_t len, i;
	int fd;

	node_new(&nb);
	node_new(&nr);
	ep_new(&b, &nb, 1);
	/* an HTTP request: the length 0x4745 is above the handshake limit */
	fd = raw_connect(btnet_endpoint_port(b.ep));
	raw_send(fd, (const uint8_t *)http, sizeof(http) - 1, 64);
	ck_assert(raw_wait_closed(fd, 5) >= 0);
	close(fd);
	/* an empty handshake message */
	fd = raw_connect(btnet_endpoint_port(b.ep));
	memset(buf, 0, 2);
	raw_send(fd, buf, 2, 2);
	ck_assert(raw_wait_closed(fd, 5) >= 0);
	close(fd);
	/* 100 random bytes as message 1 (a payload where none is allowed) */
	fd = raw_connect(btnet_endpoint_port(b.ep));
	btnet_put_be16_(buf, 100);
	for (i = 2; i < 102; i++)
		buf[i] = (uint8_t)(i * 29 + 3);
	raw_send(fd, buf, 102, 102);
	ck_assert(raw_wait_closed(fd, 5) >= 0);
	close(fd);
	/* a genuine message 1, then garbage for message 3 */
	fd = raw_connect(btnet_endpoint_port(b.ep));
	ck_assert_int_eq(btnet_handshake_new(&hs, nr.id, 1, NULL), BT_OK);
	ck_assert_int_eq(btnet_handshake_write(hs, buf + 2, 256, &len), BT_OK);
	btnet_put_be16_(buf, (uint16_t)len);
	raw_send(fd, buf, len + 2, len + 2);
	raw_recv(fd, buf, 2);
	len = btnet_get_be16_(buf);
	raw_recv(fd, buf, len);
	btnet_put_be16_(buf, 150);
	memset(buf + 2, 0x5a, 150);
	raw_send(fd, buf, 152, 152);
	ck_assert(raw_wait_closed(fd, 5) >= 0);
	close(fd);
	btnet_handshake_free(hs);
	run_for(0.05);
	ck_assert_int_eq(b.established, 0);
	ck_assert_int_eq(b.closed, 0);
	ck_assert_uint_eq(btnet_endpoint_stat(b.ep,
	    BTNET_STAT_HANDSHAKE_FAILED), 4);
	ck_assert_uint_eq(btnet_endpoint_stat(b.ep, BTNET_STAT_CONNS), 0);
	rec_done(&b);
	node_free(&nb);
	node_free(&nr);
}
END_TEST

START_TEST(slow_handshakes_time_out)
{
	struct node na, nb, nr;
	struct rec a, b;
	struct btnet_handshake *hs;
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	uint8_t buf[2 + BTNET_HANDSHAKE_MSG_MAX];
	double t0, t;
	size_t len, i;
	char addr[32];
	int fd, lfd;

	node_new(&na);
	node_new(&nb);
	node_new(&nr);
	ep_new(&b, &nb, 1);
	ck_assert_int_eq(btnet_endpoint_set(b.ep,
	    BTNET_OPT_HANDSHAKE_TIMEOUT_MS, 300), BT_OK);
	/* silent */
	fd = raw_connect(btnet_endpoint_port(b.ep));
	t = raw_wait_closed(fd, 5);
	ck_assert(t > 0.25 && t < 2.0);
	close(fd);
	/* a genuine message 1, one byte every 30 ms */
	ck_assert_int_eq(btnet_handshake_new(&hs, nr.id, 1, NULL), BT_OK);
	ck_assert_int_eq(btnet_handshake_write(hs, buf + 2, sizeof(buf) - 2,
	    &len), BT_OK);
	btnet_put_be16_(buf, (uint16_t)len);
	btnet_handshake_free(hs);
	fd = raw_connect(btnet_endpoint_port(b.ep));
	t0 = now_s();
	for (i = 0; i < len + 2; i++) {
		if (send(fd, buf + i, 1, MSG_NOSIGNAL) != 1)
			break;
		run_for(0.03);
	}
	t = raw_wait_closed(fd, 5);
	ck_assert(t >= 0);
	t = now_s() - t0;
	ck_assert(t > 0.25 && t < 2.0);
	close(fd);
	ck_assert_uint_eq(btnet_endpoint_stat(b.ep,
	    BTNET_STAT_HANDSHAKE_FAILED), 2);

	/* dialling a socket that never answers */
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(lfd, 4), 0);
	ck_assert_int_eq(getsockname(lfd, (struct sockaddr *)&sa, &sl), 0);
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", ntohs(sa.sin_port));
	ep_new(&a, &na, 0);
	ck_assert_int_eq(btnet_endpoint_set(a.ep,
	    BTNET_OPT_HANDSHAKE_TIMEOUT_MS, 200), BT_OK);
	t0 = now_s();
	ck_assert_int_eq(btnet_endpoint_dial(a.ep, addr, &nb.nid, NULL),
	    BT_OK);
	ck_assert(run_until(&a.closed, 1, NULL, 0, 5));
	ck_assert_int_eq(a.reason, BT_ETIMEDOUT);
	t = now_s() - t0;
	ck_assert(t > 0.15 && t < 2.0);
	close(lfd);
	rec_done(&a);
	rec_done(&b);
	node_free(&na);
	node_free(&nb);
	node_free(&nr);
}
END_TEST

START_TEST(dribbled_one_byte_at_a_time)
{
	struct node nb, nr;
	struct rec b;
	struct btnet_cipher *s, *r;
	struct btnet_frame_decoder *d;
	uint8_t *m = pattern(70000, 0), *w, rb[4096];
	const uint8_t *got = NULL;
	size_t wl, used, glen, have = 0, off;
	int fd;

	node_new(&nb);
	node_new(&nr);
	ep_new(&b, &nb, 1);
	b.echo = 1;
	fd = raw_connect(btnet_endpoint_port(b.ep));
	raw_handshake(fd, &nr, &nb.nid, 1, &s, &r);
	ck_assert(run_until(&b.established, 1, NULL, 0, 10));
	/* 70000 bytes span two Noise messages; sent in 1-byte writes */
	wl = btnet_frame_encoded_len(70000, 0);
	w = malloc(wl);
	ck_assert_int_eq(btnet_frame_encode(s, m, 70000, 0, w, wl, &wl),
	    BT_OK);
	raw_send(fd, w, 64, 1);
	raw_send(fd, w + 64, wl - 64, 997);
	ck_assert(run_until(&b.msgs, 1, NULL, 0, 10));
	ck_assert_uint_eq(b.last_len, 70000);
	ck_assert(memcmp(b.last, m, 70000) == 0);
	/* the echo decodes on our side */
	ck_assert_int_eq(btnet_frame_decoder_new(&d, r, 0), BT_OK);
	while (got == NULL) {
		raw_recv(fd, rb, 1);
		have++;
		ck_assert_uint_le(have, wl);
		for (off = 0; off < 1 && got == NULL; off += used)
			ck_assert_int_eq(btnet_frame_decode(d, rb + off,
			    1 - off, &used, &got, &glen), BT_OK);
	}
	ck_assert_uint_eq(glen, 70000);
	ck_assert(memcmp(got, m, 70000) == 0);
	ck_assert_uint_eq(have, wl);
	btnet_frame_decoder_free(d);
	close(fd);
	ck_assert(run_until(&b.closed, 1, NULL, 0, 10));
	ck_assert_int_eq(b.reason, BT_ECLOSED);
	btnet_cipher_free(s);
	btnet_cipher_free(r);
	free(w);
	free(m);
	rec_done(&b);
	node_free(&nb);
	node_free(&nr);
}
END_TEST

/*
 * Transport frames in the same write as handshake message 3, cut
 * anywhere: the responder takes them over from its handshake buffer
 * (a partial frame included) and reads the rest directly.
 */
START_TEST(frames_right_behind_message_3)
{
	static const size_t lens[] = { 200000, 5, 131072, 65515, 65516,
	    300000, 70000, 1048576, 12, 0 };
	struct node nb, nr;
	struct rec b;
	struct btnet_handshake *hs;
	struct btnet_cipher *s, *r;
	uint8_t hb[2 + BTNET_HANDSHAKE_MSG_MAX], *wire, *m;
	size_t cap = 0, wl = 0, len, n, i;
	int fd;

	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++)
		cap += btnet_frame_encoded_len(lens[i], 0);
	node_new(&nb);
	node_new(&nr);
	ep_new(&b, &nb, 1);
	fd = raw_connect(btnet_endpoint_port(b.ep));
	ck_assert_int_eq(btnet_handshake_new(&hs, nr.id, 1, &nb.nid), BT_OK);
	ck_assert_int_eq(btnet_handshake_write(hs, hb + 2, sizeof(hb) - 2,
	    &len), BT_OK);
	btnet_put_be16_(hb, (uint16_t)len);
	raw_send(fd, hb, len + 2, len + 2);
	raw_recv(fd, hb, 2);
	len = btnet_get_be16_(hb);
	ck_assert_uint_le(len, BTNET_HANDSHAKE_MSG_MAX);
	raw_recv(fd, hb + 2, len);
	ck_assert_int_eq(btnet_handshake_read(hs, hb + 2, len), BT_OK);
	ck_assert_int_eq(btnet_handshake_write(hs, hb + 2, sizeof(hb) - 2,
	    &len), BT_OK);
	btnet_put_be16_(hb, (uint16_t)len);
	ck_assert_int_eq(btnet_handshake_finish(hs, &s, &r, NULL, NULL),
	    BT_OK);
	btnet_handshake_free(hs);
	wire = malloc(len + 2 + cap);
	ck_assert_ptr_nonnull(wire);
	memcpy(wire, hb, len + 2);
	wl = len + 2;
	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		m = pattern(lens[i], (uint32_t)i);
		ck_assert_int_eq(btnet_frame_encode(s, m, lens[i], 0, wire + wl,
		    cap - (wl - len - 2), &n), BT_OK);
		wl += n;
		free(m);
	}
	/* message 3 and everything else in pieces of odd sizes */
	raw_send(fd, wire, wl, 99991);
	ck_assert(run_until(&b.msgs, (int)(sizeof(lens) / sizeof(lens[0])),
	    NULL, 0, 20));
	ck_assert_int_eq(b.established, 1);
	ck_assert_int_eq(b.seq_errors, 0);
	/* sequence numbers 0 ... 8 in order, then the empty message */
	ck_assert_uint_eq(b.next_seq, sizeof(lens) / sizeof(lens[0]) - 1);
	ck_assert_uint_eq(b.last_len, 0);
	close(fd);
	ck_assert(run_until(&b.closed, 1, NULL, 0, 10));
	ck_assert_int_eq(b.reason, BT_ECLOSED);
	btnet_cipher_free(s);
	btnet_cipher_free(r);
	free(wire);
	rec_done(&b);
	node_free(&nb);
	node_free(&nr);
}
END_TEST

START_TEST(handshake_rate_limit)
{
	struct node na, nb;
	struct rec a, b;
	char addr[32];
	int i;

	node_new(&na);
	node_new(&nb);
	ep_new(&a, &na, 0);
	ep_new(&b, &nb, 1);
	ck_assert_int_eq(btnet_endpoint_set(b.ep, BTNET_OPT_HANDSHAKE_BURST,
	    3), BT_OK);
	ck_assert_int_eq(btnet_endpoint_set(b.ep, BTNET_OPT_HANDSHAKE_RATE,
	    1), BT_OK);
	addr_of(&b, addr);
	for (i = 0; i < 4; i++) {
		ck_assert_int_eq(btnet_endpoint_dial(a.ep, addr, &nb.nid,
		    NULL), BT_OK);
		/* one at a time, so "the fourth" is well defined */
		ck_assert(run_until(&b.established, i < 3 ? i + 1 : 3,
		    &a.closed, i < 3 ? 0 : 1, 10));
	}
	ck_assert(run_until(&a.established, 3, NULL, 0, 10));
	ck_assert_int_eq(a.reason, BT_ECLOSED);
	ck_assert_uint_eq(btnet_endpoint_stat(b.ep, BTNET_STAT_REFUSED_RATE),
	    1);
	ck_assert_uint_eq(btnet_endpoint_stat(b.ep, BTNET_STAT_ESTABLISHED),
	    3);
	/* established connections are not disturbed */
	ck_assert_int_eq(btnet_conn_send(a.conn[2], "\0\0\0\0", 4), BT_OK);
	ck_assert(run_until(&b.msgs, 1, NULL, 0, 10));
	rec_done(&a);
	rec_done(&b);
	node_free(&na);
	node_free(&nb);
}
END_TEST

START_TEST(connection_caps)
{
	struct node na, nb;
	struct rec a, b;
	char addr[32];
	int i;

	node_new(&na);
	node_new(&nb);
	ep_new(&a, &na, 0);
	ep_new(&b, &nb, 1);
	ck_assert_int_eq(btnet_endpoint_set(b.ep, BTNET_OPT_MAX_CONNS_PER_IP,
	    2), BT_OK);
	addr_of(&b, addr);
	for (i = 0; i < 3; i++)
		ck_assert_int_eq(btnet_endpoint_dial(a.ep, addr, &nb.nid,
		    NULL), BT_OK);
	ck_assert(run_until(&a.established, 2, &a.closed, 1, 10));
	run_for(0.05);
	ck_assert_int_eq(a.established, 2);
	ck_assert_int_eq(b.established, 2);
	ck_assert_uint_eq(btnet_endpoint_stat(b.ep, BTNET_STAT_REFUSED_CAP),
	    1);
	/* the total cap on the dialling side */
	ck_assert_int_eq(btnet_endpoint_set(a.ep, BTNET_OPT_MAX_CONNS, 2),
	    BT_OK);
	ck_assert_int_eq(btnet_endpoint_dial(a.ep, addr, &nb.nid, NULL),
	    BT_EAGAIN);
	/* the total cap on the accepting side */
	ck_assert_int_eq(btnet_endpoint_set(a.ep, BTNET_OPT_MAX_CONNS, 100),
	    BT_OK);
	ck_assert_int_eq(btnet_endpoint_set(b.ep, BTNET_OPT_MAX_CONNS_PER_IP,
	    100), BT_OK);
	ck_assert_int_eq(btnet_endpoint_set(b.ep, BTNET_OPT_MAX_CONNS, 2),
	    BT_OK);
	ck_assert_int_eq(btnet_endpoint_dial(a.ep, addr, &nb.nid, NULL),
	    BT_OK);
	ck_assert(run_until(&a.closed, 2, NULL, 0, 10));
	ck_assert_uint_eq(btnet_endpoint_stat(b.ep, BTNET_STAT_REFUSED_CAP),
	    2);
	/* a slot freed is a slot usable */
	btnet_conn_close(a.conn[0]);
	ck_assert(run_until(&b.closed, 1, NULL, 0, 10));
	ck_assert_int_eq(btnet_endpoint_dial(a.ep, addr, &nb.nid, NULL),
	    BT_OK);
	ck_assert(run_until(&a.established, 3, &b.established, 3, 10));
	rec_done(&a);
	rec_done(&b);
	node_free(&na);
	node_free(&nb);
}
END_TEST

START_TEST(rekey_across_many_messages)
{
	struct node na, nb;
	struct rec a, b;
	uint8_t *m, *big = pattern(BT_MSG_MAX, 7);
	char addr[32];
	uint32_t i;

	node_new(&na);
	node_new(&nb);
	ep_new(&a, &na, 0);
	ep_new(&b, &nb, 1);
	ck_assert_int_eq(btnet_endpoint_set(a.ep, BTNET_OPT_REKEY_INTERVAL,
	    3), BT_OK);
	ck_assert_int_eq(btnet_endpoint_set(b.ep, BTNET_OPT_REKEY_INTERVAL,
	    3), BT_OK);
	addr_of(&b, addr);
	ck_assert_int_eq(btnet_endpoint_dial(a.ep, addr, &nb.nid, NULL),
	    BT_OK);
	ck_assert(run_until(&a.established, 1, &b.established, 1, 10));
	b.echo = 1;
	for (i = 0; i < 1000; i++) {
		m = pattern(4 + i % 200, i);
		ck_assert_int_eq(btnet_conn_send(a.conn[0], m, 4 + i % 200),
		    BT_OK);
		free(m);
	}
	ck_assert(run_until(&a.msgs, 1000, &b.msgs, 1000, 20));
	ck_assert_int_eq(a.seq_errors + b.seq_errors, 0);
	ck_assert_int_eq(btnet_conn_send(a.conn[0], big, BT_MSG_MAX), BT_OK);
	ck_assert(run_until(&a.msgs, 1001, NULL, 0, 20));
	ck_assert_uint_eq(a.last_len, BT_MSG_MAX);
	ck_assert(memcmp(a.last, big, BT_MSG_MAX) == 0);
	rec_done(&a);
	rec_done(&b);

	/* different intervals: the fourth message does not authenticate */
	ep_new(&a, &na, 0);
	ep_new(&b, &nb, 1);
	ck_assert_int_eq(btnet_endpoint_set(a.ep, BTNET_OPT_REKEY_INTERVAL,
	    3), BT_OK);
	ck_assert_int_eq(btnet_endpoint_set(b.ep, BTNET_OPT_REKEY_INTERVAL,
	    4), BT_OK);
	addr_of(&b, addr);
	ck_assert_int_eq(btnet_endpoint_dial(a.ep, addr, &nb.nid, NULL),
	    BT_OK);
	ck_assert(run_until(&a.established, 1, &b.established, 1, 10));
	for (i = 0; i < 5; i++) {
		m = pattern(8, i);
		ck_assert_int_eq(btnet_conn_send(a.conn[0], m, 8), BT_OK);
		free(m);
	}
	ck_assert(run_until(&b.closed, 1, &a.closed, 1, 10));
	ck_assert_int_eq(b.msgs, 3);
	ck_assert_int_eq(b.reason, BT_EVERIFY);
	free(big);
	rec_done(&a);
	rec_done(&b);
	node_free(&na);
	node_free(&nb);
}
END_TEST

START_TEST(closing_from_callbacks)
{
	struct node na, nb;
	struct rec a, b;
	uint8_t *m;
	char addr[32];
	uint32_t i;

	node_new(&na);
	node_new(&nb);
	/* B closes the connection on the first of several queued messages */
	ep_new(&a, &na, 0);
	ep_new(&b, &nb, 1);
	b.close_on_msg = 1;
	addr_of(&b, addr);
	ck_assert_int_eq(btnet_endpoint_dial(a.ep, addr, &nb.nid, NULL),
	    BT_OK);
	ck_assert(run_until(&a.established, 1, &b.established, 1, 10));
	for (i = 0; i < 5; i++) {
		m = pattern(100, i);
		ck_assert_int_eq(btnet_conn_send(a.conn[0], m, 100), BT_OK);
		free(m);
	}
	ck_assert(run_until(&a.closed, 1, NULL, 0, 10));
	ck_assert_int_eq(b.msgs, 1);
	ck_assert_int_eq(b.closed, 0);
	ck_assert_int_eq(a.reason, BT_ECLOSED);
	rec_done(&a);
	rec_done(&b);

	/* B closes its whole endpoint when the handshake finishes */
	ep_new(&a, &na, 0);
	ep_new(&b, &nb, 1);
	b.close_ep_on_est = 1;
	addr_of(&b, addr);
	ck_assert_int_eq(btnet_endpoint_dial(a.ep, addr, &nb.nid, NULL),
	    BT_OK);
	ck_assert(run_until(&a.closed, 1, NULL, 0, 10));
	ck_assert_ptr_null(b.ep);
	rec_done(&a);
	rec_done(&b);

	/* A sends 1 MiB and closes at once: B still receives it */
	m = pattern(BT_MSG_MAX, 3);
	ep_new(&a, &na, 0);
	ep_new(&b, &nb, 1);
	addr_of(&b, addr);
	ck_assert_int_eq(btnet_endpoint_dial(a.ep, addr, &nb.nid, NULL),
	    BT_OK);
	ck_assert(run_until(&a.established, 1, &b.established, 1, 10));
	ck_assert_int_eq(btnet_conn_send(a.conn[0], m, BT_MSG_MAX), BT_OK);
	ck_assert_uint_gt(btnet_conn_queued(a.conn[0]), 0);
	btnet_conn_close(a.conn[0]);
	ck_assert_uint_eq(btnet_endpoint_stat(a.ep, BTNET_STAT_CONNS), 1);
	ck_assert(run_until(&b.msgs, 1, &b.closed, 1, 10));
	ck_assert(memcmp(b.last, m, BT_MSG_MAX) == 0);
	ck_assert_int_eq(b.reason, BT_ECLOSED);
	ck_assert_int_eq(a.closed, 0);
	ck_assert_uint_eq(btnet_endpoint_stat(a.ep, BTNET_STAT_CONNS), 0);
	free(m);
	rec_done(&a);
	rec_done(&b);
	node_free(&na);
	node_free(&nb);
}
END_TEST

START_TEST(idle_timeout)
{
	struct node na, nb;
	struct rec a, b;
	char addr[32];
	double t0, t;

	node_new(&na);
	node_new(&nb);
	ep_new(&a, &na, 0);
	ep_new(&b, &nb, 1);
	ck_assert_int_eq(btnet_endpoint_set(b.ep, BTNET_OPT_IDLE_TIMEOUT_MS,
	    300), BT_OK);
	addr_of(&b, addr);
	ck_assert_int_eq(btnet_endpoint_dial(a.ep, addr, &nb.nid, NULL),
	    BT_OK);
	ck_assert(run_until(&a.established, 1, &b.established, 1, 10));
	/* keepalives hold it open past the timeout */
	t0 = now_s();
	while (now_s() - t0 < 0.6) {
		ck_assert_int_eq(btnet_conn_send(a.conn[0], NULL, 0), BT_OK);
		run_for(0.1);
	}
	ck_assert_int_eq(b.closed, 0);
	t0 = now_s();
	ck_assert(run_until(&b.closed, 1, &a.closed, 1, 5));
	t = now_s() - t0;
	/* the last keepalive left at most 0.1 s before t0 */
	ck_assert(t > 0.15 && t < 2.0);
	ck_assert_int_eq(b.reason, BT_ETIMEDOUT);
	ck_assert_int_eq(a.reason, BT_ECLOSED);
	rec_done(&a);
	rec_done(&b);
	node_free(&na);
	node_free(&nb);
}
END_TEST

/* One sweep per endpoint: only the connection that went quiet is closed. */
START_TEST(idle_timeout_per_connection)
{
	struct node na, nb;
	struct rec a, b;
	char addr[32];
	double t0, t;

	node_new(&na);
	node_new(&nb);
	ep_new(&a, &na, 0);
	ep_new(&b, &nb, 1);
	ck_assert_int_eq(btnet_endpoint_set(b.ep, BTNET_OPT_IDLE_TIMEOUT_MS,
	    300), BT_OK);
	addr_of(&b, addr);
	ck_assert_int_eq(btnet_endpoint_dial(a.ep, addr, &nb.nid, NULL),
	    BT_OK);
	ck_assert(run_until(&a.established, 1, &b.established, 1, 10));
	/* the second one starts later: its deadline is not the first's */
	run_for(0.1);
	ck_assert_int_eq(btnet_endpoint_dial(a.ep, addr, &nb.nid, NULL),
	    BT_OK);
	ck_assert(run_until(&a.established, 2, &b.established, 2, 10));
	ck_assert_ptr_nonnull(a.conn[0]);
	ck_assert_ptr_nonnull(a.conn[1]);
	/* keepalives on the first only */
	t0 = now_s();
	while (now_s() - t0 < 0.8) {
		ck_assert_int_eq(btnet_conn_send(a.conn[0], NULL, 0), BT_OK);
		run_for(0.05);
	}
	ck_assert_int_eq(b.closed, 1);
	ck_assert_int_eq(b.reason, BT_ETIMEDOUT);
	ck_assert(run_until(&a.closed, 1, NULL, 0, 5));
	ck_assert_int_eq(a.reason, BT_ECLOSED);
	ck_assert_ptr_nonnull(a.conn[0]);
	ck_assert_ptr_null(a.conn[1]);
	ck_assert_uint_eq(btnet_endpoint_stat(b.ep, BTNET_STAT_CONNS), 1);
	/* the first still works, then goes quiet and goes too */
	ck_assert_int_eq(btnet_conn_send(a.conn[0], "ping", 4), BT_OK);
	ck_assert(run_until(&b.msgs, b.msgs + 1, NULL, 0, 5));
	t0 = now_s();
	ck_assert(run_until(&b.closed, 2, &a.closed, 2, 5));
	t = now_s() - t0;
	ck_assert(t > 0.2 && t < 2.0);
	ck_assert_int_eq(b.reason, BT_ETIMEDOUT);
	ck_assert_uint_eq(btnet_endpoint_stat(b.ep, BTNET_STAT_CONNS), 0);
	rec_done(&a);
	rec_done(&b);
	node_free(&na);
	node_free(&nb);
}
END_TEST

Suite *
suite_conn(void)
{
	Suite *s = suite_create("conn");
	TCase *tc = tcase_create("loopback");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, exchange_both_ways);
	tcase_add_test(tc, arguments_and_addresses);
	tcase_add_test(tc, ipv6_and_refused_connect);
	tcase_add_test(tc, one_mib_exactly_and_one_more);
	tcase_add_test(tc, many_small_in_order_with_backpressure);
	tcase_add_test(tc, wrong_expected_id);
	tcase_add_test(tc, garbage_from_raw_clients);
	tcase_add_test(tc, slow_handshakes_time_out);
	tcase_add_test(tc, dribbled_one_byte_at_a_time);
	tcase_add_test(tc, frames_right_behind_message_3);
	tcase_add_test(tc, handshake_rate_limit);
	tcase_add_test(tc, connection_caps);
	tcase_add_test(tc, rekey_across_many_messages);
	tcase_add_test(tc, closing_from_callbacks);
	tcase_add_test(tc, idle_timeout);
	tcase_add_test(tc, idle_timeout_per_connection);
	suite_add_tcase(s, tc);
	return s;
}
