/*
 * conn.c - BlockTree connections on libevent bufferevents: the handshake
 * over be16-framed messages, then framed transport messages (bt/conn.h).
 *
 * I/O.  The handshake reads through the bufferevent.  Once a connection
 * is established it reads the socket itself (an event on the descriptor,
 * recv(2) into one buffer of RX_BUF bytes): one system call per read
 * instead of libevent's FIONREAD, readv and input chains.  Only whole
 * frames go to the decoder, which decrypts them from there straight into
 * its message buffer; a partial frame waits in place for the next read
 * and moves to the front only when the room behind it runs short.
 * Output stays with the bufferevent: messages are encrypted frame by
 * frame into reserved space of its output buffer (in chains of about
 * TX_RESERVE bytes), small ones on an empty queue straight to the socket
 * with one send(2).  Once a message is out, and once the messages of a
 * read are delivered (the answers they caused sent), each cipher sets up
 * the nonce of its next message (btnet_cipher_prepare_()), so that work
 * is not between a message's arrival and its answer.  Reads only note
 * the time; one idle sweep per endpoint (see idle_arm()) closes quiet
 * connections, so the loop has no timer to re-arm per read.
 *
 * Lifetime.  Every entry from libevent raises ep->busy for the duration
 * of the callback.  A connection that ends is unlinked and disabled at
 * once (no callback fires for it again) and put on ep->grave; memory is
 * released by ep_leave() when busy drops back to zero, so a callback may
 * close its own connection, another one, or the whole endpoint.
 */
#include <bt/conn.h>
#include <bt/frame.h>
#include <bt/hash.h>
#include <bt/neterror.h>
#include <bt/noise.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#ifdef __linux__
#include <sys/timerfd.h>
#endif
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>

#include "btnet-internal.h"

#define ST_HS		1	/* handshake running */
#define ST_OPEN		2	/* established */
#define ST_DRAIN	3	/* closed by the application, flushing */
#define ST_DEAD		4	/* on the grave list */

#define IPKEY_LEN	17	/* family, then 4 (IPv4) or 8 (IPv6 /64) bytes */
#define RATE_SLOTS	1024
#define RATE_UNIT	60000u	/* a handshake in bucket units (per minute, ms) */
#define SINGLE_IO	(256 * 1024)
#define DIRECT_MAX	(16 * 1024)	/* messages tried straight on the socket */
#define TX_DIRECT	(BTNET_FRAME_HDR_LEN + BTNET_FRAME_LEN_LEN + \
			    DIRECT_MAX + BTNET_NOISE_TAG_LEN)
#define RX_BUF		(256 * 1024 + 512)	/* not a multiple of 64 KiB */
#define FRAME_WIRE_MAX	(BTNET_FRAME_HDR_LEN + BTNET_NOISE_MSG_MAX)
#define RX_ROUNDS	4		/* reads per wakeup, while they fill */
#define TX_RESERVE	(256 * 1024 - 512)	/* fits a 256 KiB chain */

struct rate_slot {
	uint8_t key[IPKEY_LEN];
	int used;
	uint64_t units;			/* tokens * RATE_UNIT */
	uint64_t last_ms;
};

struct btnet_conn {
	struct btnet_endpoint *ep;
	struct btnet_conn *prev, *next;	/* ep->conns, or ep->grave (next) */
	struct bufferevent *bev;
	struct event *timer;		/* handshake, drain and failure */
	struct btnet_handshake *hs;
	struct btnet_cipher *send, *recv;
	struct btnet_frame_decoder *dec;
	struct event *rd;		/* established: reads the socket */
	uint8_t *rx;			/* RX_BUF bytes for rd */
	uint8_t *tx;			/* TX_DIRECT bytes for send_direct() */
	evutil_socket_t fd;		/* established: the socket */
	size_t rx_off, rx_end;		/* unprocessed bytes at rx */
	size_t tx_room;			/* free bytes after the last commit */
	uint64_t rx_ms;			/* established: when bytes last came */
	int state;
	int inbound;
	int seen;			/* the application knows the handle */
	int want_writable;
	int failed;			/* an error to report from the loop */
	uint8_t ipkey[IPKEY_LEN];
	struct sockaddr_storage peer;
	int peer_len;
	struct bt_id peer_id;
	struct bt_pubkey peer_key;
	void *data;
};

struct btnet_endpoint {
	struct event_base *base;
	const struct btnet_identity *id;
	struct evconnlistener *lst;
	btnet_established_cb established_cb;
	btnet_message_cb message_cb;
	btnet_closed_cb closed_cb;
	btnet_writable_cb writable_cb;
	void *arg;
	uint64_t hs_timeout_ms, idle_ms, max_conns, max_per_ip, rate, burst;
	uint64_t out_max, msg_max, rekey;
	struct btnet_conn *conns, *grave;
	uint64_t nconns;
	int busy, dead;
	struct rate_slot *slots;
	struct event *idle_ev;		/* the idle sweep (see idle_arm) */
	int idle_fd;			/* its timerfd, or -1 */
	uint64_t idle_at;		/* when it fires, 0: not armed */
	uint64_t stat_established, stat_hs_failed, stat_rate, stat_cap,
	    stat_accept_err;
};

static void conn_kill(struct btnet_conn *c, int reason, int notify);

/* ---- small helpers ---------------------------------------------------- */

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static struct timeval
ms_tv(uint64_t ms)
{
	struct timeval tv;

	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)((ms % 1000) * 1000);
	return tv;
}

/* IPv4 addresses whole, IPv6 by /64; IPv4-mapped IPv6 as IPv4. */
static void
ip_key(const struct sockaddr *sa, uint8_t key[IPKEY_LEN])
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	    0xff, 0xff };
	const struct sockaddr_in6 *s6;
	const struct sockaddr_in *s4;

	memset(key, 0, IPKEY_LEN);
	if (sa->sa_family == AF_INET) {
		s4 = (const struct sockaddr_in *)(const void *)sa;
		key[0] = 4;
		memcpy(key + 1, &s4->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6) {
		s6 = (const struct sockaddr_in6 *)(const void *)sa;
		if (memcmp(s6->sin6_addr.s6_addr, mapped, 12) == 0) {
			key[0] = 4;
			memcpy(key + 1, s6->sin6_addr.s6_addr + 12, 4);
		} else {
			key[0] = 6;
			memcpy(key + 1, s6->sin6_addr.s6_addr, 8);
		}
	}
}

/*
 * Split "a.b.c.d:port" or "[v6]:port" (numeric, port required) into the
 * host text (NUL-terminated, at most @p cap - 1 bytes), the port and
 * whether it is IPv6.  Shared by every parser of addresses in libbtnet.
 */
int
btnet_hostport_split_(const char *s, char *host, size_t cap, uint16_t *port,
    int *v6)
{
	const char *end, *p;
	unsigned long n = 0;
	size_t hl;

	*v6 = s[0] == '[';
	if (*v6) {
		if ((end = strstr(s, "]:")) == NULL)
			return BT_EFORMAT;
		s++;
		p = end + 2;
	} else {
		if ((end = strchr(s, ':')) == NULL)
			return BT_EFORMAT;
		p = end + 1;
	}
	hl = (size_t)(end - s);
	if (hl == 0 || hl >= cap || *p == '\0')
		return BT_EFORMAT;
	for (; *p != '\0'; p++) {
		if (*p < '0' || *p > '9' || n > 65535)
			return BT_EFORMAT;
		n = n * 10 + (unsigned long)(*p - '0');
	}
	if (n > 65535)
		return BT_EFORMAT;
	memcpy(host, s, hl);
	host[hl] = '\0';
	*port = (uint16_t)n;
	return BT_OK;
}

/* Parse "a.b.c.d:port" or "[v6]:port" (numeric only, port required). */
static int
parse_addr(const char *addr, struct sockaddr_storage *ss, int *len)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)(void *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)(void *)ss;
	char host[INET6_ADDRSTRLEN];
	uint16_t port;
	int v6, rc;

	memset(ss, 0, sizeof(*ss));
	if ((rc = btnet_hostport_split_(addr, host, sizeof(host), &port,
	    &v6)) != BT_OK)
		return rc;
	if (v6) {
		if (evutil_inet_pton(AF_INET6, host, &s6->sin6_addr) != 1)
			return BT_EFORMAT;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		*len = (int)sizeof(*s6);
	} else {
		if (evutil_inet_pton(AF_INET, host, &s4->sin_addr) != 1)
			return BT_EFORMAT;
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		*len = (int)sizeof(*s4);
	}
	return BT_OK;
}

static void
set_nodelay(evutil_socket_t fd)
{
	int one = 1;

	if (fd >= 0)
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
		    sizeof(one));
}

/* Take one handshake token for @p key; 0 when the bucket is empty. */
static int
rate_take(struct btnet_endpoint *ep, const uint8_t key[IPKEY_LEN])
{
	struct rate_slot *s = NULL, *lru = NULL;
	uint64_t t = now_ms(), cap = ep->burst * RATE_UNIT;
	size_t i;

	for (i = 0; i < RATE_SLOTS; i++) {
		if (ep->slots[i].used &&
		    memcmp(ep->slots[i].key, key, IPKEY_LEN) == 0) {
			s = &ep->slots[i];
			break;
		}
		if (lru == NULL || !ep->slots[i].used ||
		    (lru->used && ep->slots[i].last_ms < lru->last_ms))
			lru = &ep->slots[i];
	}
	if (s == NULL) {
		/* a new address, or one evicted: a full bucket */
		s = lru;
		memcpy(s->key, key, IPKEY_LEN);
		s->used = 1;
		s->units = cap;
		s->last_ms = t;
	}
	if (t > s->last_ms) {
		if ((t - s->last_ms) >= cap / ep->rate + 1)
			s->units = cap;
		else
			s->units += (t - s->last_ms) * ep->rate;
		if (s->units > cap)
			s->units = cap;
	}
	s->last_ms = t;
	if (s->units < RATE_UNIT)
		return 0;
	s->units -= RATE_UNIT;
	return 1;
}

static uint64_t
count_ip(const struct btnet_endpoint *ep, const uint8_t key[IPKEY_LEN])
{
	const struct btnet_conn *c;
	uint64_t n = 0;

	for (c = ep->conns; c != NULL; c = c->next)
		if (c->inbound && memcmp(c->ipkey, key, IPKEY_LEN) == 0)
			n++;
	return n;
}

/* ---- lifetime --------------------------------------------------------- */

static void
conn_destroy(struct btnet_conn *c)
{
	if (c->bev != NULL)
		bufferevent_free(c->bev);
	if (c->timer != NULL)
		event_free(c->timer);
	if (c->rd != NULL)
		event_free(c->rd);
	free(c->rx);
	free(c->tx);
	btnet_handshake_free(c->hs);
	btnet_frame_decoder_free(c->dec);
	btnet_cipher_free(c->send);
	btnet_cipher_free(c->recv);
	btcore_wipe(c, sizeof(*c));
	free(c);
}

static void
ep_reap(struct btnet_endpoint *ep)
{
	struct btnet_conn *c;

	while ((c = ep->grave) != NULL) {
		ep->grave = c->next;
		conn_destroy(c);
	}
}

static void
ep_free(struct btnet_endpoint *ep)
{
	if (ep->lst != NULL)
		evconnlistener_free(ep->lst);
	if (ep->idle_ev != NULL)
		event_free(ep->idle_ev);
	if (ep->idle_fd >= 0)
		(void)close(ep->idle_fd);
	free(ep->slots);
	btcore_wipe(ep, sizeof(*ep));
	free(ep);
}

static void
ep_enter(struct btnet_endpoint *ep)
{
	ep->busy++;
}

/* Leave a callback or an API call; frees what ended once at depth 0. */
static void
ep_leave(struct btnet_endpoint *ep)
{
	if (--ep->busy > 0)
		return;
	ep_reap(ep);
	if (ep->dead)
		ep_free(ep);
}

static void
conn_unlink(struct btnet_conn *c)
{
	struct btnet_endpoint *ep = c->ep;

	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		ep->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
	ep->nconns--;
}

/*
 * End @p c: unlink it, silence it, and (when @p notify and the
 * application knows it) report @p reason.  Freed by ep_leave().
 */
static void
conn_kill(struct btnet_conn *c, int reason, int notify)
{
	struct btnet_endpoint *ep = c->ep;
	int tell;

	if (c->state == ST_DEAD)
		return;
	ep_enter(ep);
	tell = notify && c->seen && c->state != ST_DRAIN &&
	    ep->closed_cb != NULL;
	if (c->state == ST_HS && reason != BT_OK)
		ep->stat_hs_failed++;
	c->state = ST_DEAD;
	conn_unlink(c);
	if (c->bev != NULL) {
		bufferevent_setcb(c->bev, NULL, NULL, NULL, NULL);
		(void)bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	}
	if (c->rd != NULL)
		(void)event_del(c->rd);
	if (c->timer != NULL)
		(void)evtimer_del(c->timer);
	c->next = ep->grave;
	ep->grave = c;
	if (tell)
		ep->closed_cb(c, reason, ep->arg);
	ep_leave(ep);
}

/* Report @p reason from the loop rather than from inside an API call. */
static void
conn_fail_later(struct btnet_conn *c, int reason)
{
	struct timeval zero = { 0, 0 };

	if (c->failed)
		return;
	c->failed = reason;
	(void)bufferevent_disable(c->bev, EV_READ);
	if (c->rd != NULL)
		(void)event_del(c->rd);
	if (evtimer_add(c->timer, &zero) != 0)
		conn_kill(c, reason, 0);
}

/* ---- the idle sweep --------------------------------------------------- */

/*
 * Reads of established connections only note the time (c->rx_ms).  One
 * sweep per endpoint, set for the earliest deadline, closes connections
 * idle for idle_ms and sets itself again.  On Linux it runs on a timerfd:
 * a pending libevent timer would give each epoll_wait() of the loop a
 * timeout, which costs every wakeup a kernel timer (a few percent of a
 * small round trip).
 */
static void on_idle(evutil_socket_t fd, short what, void *arg);

static int
idle_start(struct btnet_endpoint *ep)
{
#ifdef __linux__
	ep->idle_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK |
	    TFD_CLOEXEC);
	if (ep->idle_fd < 0)
		return errno == ENOMEM ? BT_ENOMEM : BT_EIO;
	ep->idle_ev = event_new(ep->base, ep->idle_fd, EV_READ | EV_PERSIST,
	    on_idle, ep);
	if (ep->idle_ev != NULL && event_add(ep->idle_ev, NULL) == 0)
		return BT_OK;
#else
	if ((ep->idle_ev = evtimer_new(ep->base, on_idle, ep)) != NULL)
		return BT_OK;
#endif
	if (ep->idle_ev != NULL)
		event_free(ep->idle_ev);
	ep->idle_ev = NULL;
	if (ep->idle_fd >= 0)
		(void)close(ep->idle_fd);
	ep->idle_fd = -1;
	return BT_ENOMEM;
}

/* Make the sweep run at @p at (ms, CLOCK_MONOTONIC) or earlier. */
static int
idle_arm(struct btnet_endpoint *ep, uint64_t at)
{
#ifdef __linux__
	struct itimerspec its;
#else
	struct timeval tv;
	uint64_t t;
#endif
	int rc;

	if (ep->idle_at != 0 && ep->idle_at <= at)
		return BT_OK;
	if (ep->idle_ev == NULL && (rc = idle_start(ep)) != BT_OK)
		return rc;
#ifdef __linux__
	memset(&its, 0, sizeof(its));
	its.it_value.tv_sec = (time_t)(at / 1000);
	its.it_value.tv_nsec = (long)(at % 1000) * 1000000;
	if (timerfd_settime(ep->idle_fd, TFD_TIMER_ABSTIME, &its, NULL) != 0)
		return BT_EIO;
#else
	t = now_ms();
	tv = ms_tv(at > t ? at - t : 0);
	if (evtimer_add(ep->idle_ev, &tv) != 0)
		return BT_ENOMEM;
#endif
	ep->idle_at = at;
	return BT_OK;
}

static void
on_idle(evutil_socket_t fd, short what, void *arg)
{
	struct btnet_endpoint *ep = arg;
	struct btnet_conn *c;
	uint64_t t, due, next;
	int killed;
#ifdef __linux__
	uint64_t expired;

	/* take the expiry count; the sweep itself goes by the clock */
	if (read(fd, &expired, sizeof(expired)) != (ssize_t)sizeof(expired))
		expired = 0;
#endif
	(void)fd;
	(void)what;
	ep_enter(ep);
	ep->idle_at = 0;
	if (ep->dead || ep->idle_ms == 0)
		goto out;
	t = now_ms();
	do {
		killed = 0;
		next = 0;
		for (c = ep->conns; c != NULL; c = c->next) {
			if (c->state != ST_OPEN || c->rd == NULL || c->failed)
				continue;
			due = c->rx_ms + ep->idle_ms;
			if (due <= t) {
				/* its callback may close others: start over */
				conn_kill(c, BT_ETIMEDOUT, 1);
				killed = 1;
				break;
			}
			if (next == 0 || due < next)
				next = due;
		}
	} while (killed);
	/* when this fails, the next established connection tries again */
	if (next != 0)
		(void)idle_arm(ep, next);
out:
	ep_leave(ep);
}

/* ---- the handshake ---------------------------------------------------- */

#define HS_WAIT		0	/* need more bytes */
#define HS_STEP		1	/* a message was processed */
#define HS_DONE		2	/* established */

/* Write what the handshake has to say; finish it when it is done. */
static int
hs_advance(struct btnet_conn *c)
{
	struct btnet_endpoint *ep = c->ep;
	uint8_t buf[BTNET_FRAME_HDR_LEN + BTNET_HANDSHAKE_MSG_MAX];
	struct timeval tv;
	size_t len;
	int rc;

	while (btnet_handshake_action(c->hs) == BTNET_NOISE_WRITE) {
		rc = btnet_handshake_write(c->hs, buf + BTNET_FRAME_HDR_LEN,
		    sizeof(buf) - BTNET_FRAME_HDR_LEN, &len);
		if (rc != BT_OK)
			return rc;
		btnet_put_be16_(buf, (uint16_t)len);
		if (evbuffer_add(bufferevent_get_output(c->bev), buf,
		    len + BTNET_FRAME_HDR_LEN) != 0)
			return BT_ENOMEM;
	}
	switch (btnet_handshake_action(c->hs)) {
	case BTNET_NOISE_READ:
		return HS_STEP;
	case BTNET_NOISE_DONE:
		break;
	default:
		return BT_ESTATE;
	}
	rc = btnet_handshake_finish(c->hs, &c->send, &c->recv, &c->peer_id,
	    &c->peer_key);
	if (rc != BT_OK)
		return rc;
	btnet_cipher_set_rekey_interval(c->send, ep->rekey);
	btnet_cipher_set_rekey_interval(c->recv, ep->rekey);
	rc = btnet_frame_decoder_new(&c->dec, c->recv, (size_t)ep->msg_max);
	if (rc != BT_OK)
		return rc;
	btnet_handshake_free(c->hs);
	c->hs = NULL;
	c->fd = bufferevent_getfd(c->bev);
	(void)evtimer_del(c->timer);
	if (ep->idle_ms != 0) {
		tv = ms_tv(ep->idle_ms);
		(void)bufferevent_set_timeouts(c->bev, &tv, &tv);
	}
	bufferevent_setwatermark(c->bev, EV_WRITE, (size_t)ep->out_max / 2,
	    0);
	c->state = ST_OPEN;
	c->seen = 1;
	ep->stat_established++;
	return HS_DONE;
}

static int
hs_read_one(struct btnet_conn *c, struct evbuffer *in)
{
	uint8_t hdr[BTNET_FRAME_HDR_LEN], msg[BTNET_HANDSHAKE_MSG_MAX];
	size_t have = evbuffer_get_length(in), len;
	int rc;

	if (have < sizeof(hdr))
		return HS_WAIT;
	if (evbuffer_copyout(in, hdr, sizeof(hdr)) != (ev_ssize_t)sizeof(hdr))
		return BT_EIO;
	len = btnet_get_be16_(hdr);
	if (len == 0 || len > sizeof(msg))
		return BT_EPROTO;
	if (have < sizeof(hdr) + len)
		return HS_WAIT;
	if (evbuffer_drain(in, sizeof(hdr)) != 0 ||
	    evbuffer_remove(in, msg, len) != (int)len)
		return BT_EIO;
	if ((rc = btnet_handshake_read(c->hs, msg, len)) != BT_OK)
		return rc;
	return hs_advance(c);
}

/* ---- libevent callbacks ----------------------------------------------- */

/*
 * Decode @p len bytes and deliver the messages they complete.  0 when
 * all was consumed and the connection goes on; -1 when it ended, failed
 * or was closed (the rest of the bytes is of no use then).
 */
static int
transport_feed(struct btnet_conn *c, const uint8_t *buf, size_t len,
    size_t *consumed)
{
	struct btnet_endpoint *ep = c->ep;
	const uint8_t *msg;
	size_t pos = 0, used, mlen;
	int rc, ret = 0;

	while (pos < len) {
		rc = btnet_frame_decode(c->dec, buf + pos, len - pos, &used,
		    &msg, &mlen);
		pos += used;
		if (rc != BT_OK) {
			conn_kill(c, rc, 1);
			ret = -1;
			break;
		}
		if (msg == NULL)
			continue;
		if (ep->message_cb != NULL)
			ep->message_cb(c, msg, mlen, ep->arg);
		if (c->state != ST_OPEN || c->failed) {
			ret = -1;
			break;
		}
	}
	if (consumed != NULL)
		*consumed = pos;
	return ret;
}

/* The length of the whole frames at the start of @p p. */
static size_t
whole_frames(const uint8_t *p, size_t len)
{
	size_t pos = 0, f;

	while (len - pos >= BTNET_FRAME_HDR_LEN) {
		f = BTNET_FRAME_HDR_LEN + btnet_get_be16_(p + pos);
		if (len - pos < f)
			break;
		pos += f;
	}
	return pos;
}

/* Room for a whole frame behind the unprocessed bytes at c->rx. */
static void
rx_make_room(struct btnet_conn *c)
{
	if (RX_BUF - c->rx_end < FRAME_WIRE_MAX) {
		/* a partial frame near the end: move it to the front */
		memmove(c->rx, c->rx + c->rx_off, c->rx_end - c->rx_off);
		c->rx_end -= c->rx_off;
		c->rx_off = 0;
	}
}

/*
 * Deliver the whole frames at c->rx (input is dropped while draining).
 * 0 to go on; -1 when the connection ended or stopped reading.
 */
static int
rx_process(struct btnet_conn *c)
{
	size_t whole;

	if (c->state == ST_DRAIN) {
		/* after btnet_conn_close() input is read and ignored */
		c->rx_off = c->rx_end = 0;
		return 0;
	}
	whole = whole_frames(c->rx + c->rx_off, c->rx_end - c->rx_off);
	if (whole > 0 && transport_feed(c, c->rx + c->rx_off, whole, NULL) != 0)
		return -1;
	c->rx_off += whole;
	if (c->rx_off == c->rx_end)
		c->rx_off = c->rx_end = 0;
	return c->state == ST_OPEN || c->state == ST_DRAIN ? 0 : -1;
}

/* The socket of an established connection is readable (or idle). */
static void
on_rd(evutil_socket_t fd, short what, void *arg)
{
	struct btnet_conn *c = arg;
	struct btnet_endpoint *ep = c->ep;
	size_t room;
	ssize_t n;
	int round, err;

	(void)what;
	ep_enter(ep);
	for (round = 0; round < RX_ROUNDS; round++) {
		rx_make_room(c);
		room = RX_BUF - c->rx_end;
		n = recv(fd, c->rx + c->rx_end, room, MSG_DONTWAIT);
		if (n < 0) {
			err = EVUTIL_SOCKET_ERROR();
			if (err == EAGAIN || err == EWOULDBLOCK || err == EINTR)
				break;
			conn_kill(c, err == ECONNRESET || err == EPIPE ?
			    BT_ECLOSED : BT_EIO, 1);
			goto out;
		}
		if (n == 0) {
			conn_kill(c, BT_ECLOSED, 1);
			goto out;
		}
		if (round == 0)
			c->rx_ms = now_ms();
		c->rx_end += (size_t)n;
		if (rx_process(c) != 0 || (size_t)n < room)
			break;
	}
	/* answers are out: set up the next nonce while nobody waits */
	if (c->state == ST_OPEN && !c->failed)
		btnet_cipher_prepare_(c->recv, 0);
out:
	ep_leave(ep);
}

/* Established: read the socket directly from now on. */
static int
direct_start(struct btnet_conn *c)
{
	struct btnet_endpoint *ep = c->ep;
	struct timeval tv, *tp = NULL;
	int rc;

	if ((c->rx = malloc(RX_BUF)) == NULL)
		return BT_ENOMEM;
	c->rd = event_new(ep->base, c->fd, EV_READ | EV_PERSIST, on_rd, c);
	if (c->rd == NULL)
		return BT_ENOMEM;
	if (ep->idle_ms != 0) {
		tv = ms_tv(ep->idle_ms);
		tp = &tv;
	}
	(void)bufferevent_disable(c->bev, EV_READ);
	(void)bufferevent_set_timeouts(c->bev, NULL, tp);
	/* the read event has no timeout: the endpoint's idle sweep */
	if (event_add(c->rd, NULL) != 0)
		return BT_ENOMEM;
	c->rx_ms = now_ms();
	if (ep->idle_ms != 0 &&
	    (rc = idle_arm(ep, c->rx_ms + ep->idle_ms)) != BT_OK)
		return rc;
	return BT_OK;
}

/* Transport bytes that arrived with the end of the handshake. */
static void
direct_take(struct btnet_conn *c, struct evbuffer *in)
{
	size_t n;

	while ((n = evbuffer_get_length(in)) > 0) {
		rx_make_room(c);
		if (n > RX_BUF - c->rx_end)
			n = RX_BUF - c->rx_end;
		if (evbuffer_remove(in, c->rx + c->rx_end, n) != (int)n) {
			conn_kill(c, BT_EIO, 1);
			return;
		}
		c->rx_end += n;
		if (rx_process(c) != 0 || c->state != ST_OPEN || c->failed)
			return;
	}
}

static void
on_read(struct bufferevent *bev, void *arg)
{
	struct btnet_conn *c = arg;
	struct btnet_endpoint *ep = c->ep;
	struct evbuffer *in = bufferevent_get_input(bev);
	int rc;

	ep_enter(ep);
	if (c->state == ST_DRAIN) {
		(void)evbuffer_drain(in, evbuffer_get_length(in));
		goto out;
	}
	while (c->state == ST_HS) {
		rc = hs_read_one(c, in);
		if (rc < 0) {
			conn_kill(c, rc, 1);
			goto out;
		}
		if (rc == HS_WAIT)
			goto out;
		if (rc == HS_DONE && ep->established_cb != NULL)
			ep->established_cb(c, &c->peer_id, ep->arg);
	}
	if (c->state == ST_OPEN && !c->failed && c->rd == NULL) {
		if ((rc = direct_start(c)) != BT_OK)
			conn_kill(c, rc, 1);
		else
			direct_take(c, in);
	}
out:
	ep_leave(ep);
}

static void
on_write(struct bufferevent *bev, void *arg)
{
	struct btnet_conn *c = arg;
	struct btnet_endpoint *ep = c->ep;

	ep_enter(ep);
	if (c->state == ST_DRAIN) {
		if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
			conn_kill(c, BT_OK, 0);
	} else if (c->state == ST_OPEN && c->want_writable && !c->failed) {
		c->want_writable = 0;
		if (ep->writable_cb != NULL)
			ep->writable_cb(c, ep->arg);
	}
	ep_leave(ep);
}

static void
on_event(struct bufferevent *bev, short what, void *arg)
{
	struct btnet_conn *c = arg;
	struct btnet_endpoint *ep = c->ep;
	int err = EVUTIL_SOCKET_ERROR(), reason;

	ep_enter(ep);
	if (what & BEV_EVENT_CONNECTED) {
		set_nodelay(bufferevent_getfd(bev));
		goto out;
	}
	if (what & BEV_EVENT_TIMEOUT)
		reason = BT_ETIMEDOUT;
	else if ((what & BEV_EVENT_EOF) || err == ECONNRESET || err == EPIPE)
		reason = BT_ECLOSED;
	else
		reason = BT_EIO;
	conn_kill(c, reason, 1);
out:
	ep_leave(ep);
}

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct btnet_conn *c = arg;
	struct btnet_endpoint *ep = c->ep;

	(void)fd;
	(void)what;
	ep_enter(ep);
	if (c->failed)
		conn_kill(c, c->failed, 1);
	else
		conn_kill(c, BT_ETIMEDOUT, c->state != ST_DRAIN);
	ep_leave(ep);
}

/* A connection on @p fd (-1 to dial); takes ownership of @p fd. */
static int
conn_new(struct btnet_endpoint *ep, evutil_socket_t fd, int inbound,
    const struct bt_id *expect, const struct sockaddr *sa, int salen,
    struct btnet_conn **out)
{
	struct btnet_conn *c;
	struct timeval tv;
	int rc;

	*out = NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		rc = BT_ENOMEM;
		goto out;
	}
	c->ep = ep;
	c->inbound = inbound;
	c->state = ST_HS;
	c->bev = bufferevent_socket_new(ep->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		rc = BT_ENOMEM;
		goto out;
	}
	fd = -1;
	if ((c->timer = evtimer_new(ep->base, on_timer, c)) == NULL) {
		rc = BT_ENOMEM;
		goto out;
	}
	if ((size_t)salen > sizeof(c->peer)) {
		rc = BT_EINVAL;
		goto out;
	}
	memcpy(&c->peer, sa, (size_t)salen);
	c->peer_len = salen;
	ip_key(sa, c->ipkey);
	if ((rc = btnet_handshake_new(&c->hs, ep->id, !inbound, expect))
	    != BT_OK)
		goto out;
	bufferevent_setcb(c->bev, on_read, on_write, on_event, c);
	(void)bufferevent_set_max_single_read(c->bev, SINGLE_IO);
	(void)bufferevent_set_max_single_write(c->bev, SINGLE_IO);
	tv = ms_tv(ep->hs_timeout_ms);
	if (evtimer_add(c->timer, &tv) != 0) {
		rc = BT_ENOMEM;
		goto out;
	}
	*out = c;
	c = NULL;
	rc = BT_OK;
out:
	if (fd >= 0)
		evutil_closesocket(fd);
	if (c != NULL)
		conn_destroy(c);
	return rc;
}

static void
conn_link(struct btnet_conn *c)
{
	struct btnet_endpoint *ep = c->ep;

	c->prev = NULL;
	c->next = ep->conns;
	if (ep->conns != NULL)
		ep->conns->prev = c;
	ep->conns = c;
	ep->nconns++;
}

static void
on_accept(struct evconnlistener *lst, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct btnet_endpoint *ep = arg;
	struct btnet_conn *c;
	uint8_t key[IPKEY_LEN];
	int rc;

	(void)lst;
	ep_enter(ep);
	if (ep->dead) {
		evutil_closesocket(fd);
		goto out;
	}
	ip_key(sa, key);
	if (ep->nconns >= ep->max_conns || count_ip(ep, key) >= ep->max_per_ip) {
		ep->stat_cap++;
		evutil_closesocket(fd);
		goto out;
	}
	if (!rate_take(ep, key)) {
		ep->stat_rate++;
		evutil_closesocket(fd);
		goto out;
	}
	set_nodelay(fd);
	if ((rc = conn_new(ep, fd, 1, NULL, sa, salen, &c)) != BT_OK) {
		ep->stat_hs_failed++;
		goto out;
	}
	conn_link(c);
	if (bufferevent_enable(c->bev, EV_READ | EV_WRITE) != 0)
		conn_kill(c, BT_EIO, 0);
out:
	ep_leave(ep);
}

static void
on_accept_error(struct evconnlistener *lst, void *arg)
{
	struct btnet_endpoint *ep = arg;

	(void)lst;
	ep->stat_accept_err++;
}

/* ---- the API ---------------------------------------------------------- */

int
btnet_endpoint_open(struct btnet_endpoint **out, struct event_base *base,
    const struct btnet_identity *id)
{
	struct btnet_endpoint *ep;

	if (out == NULL)
		return BT_EINVAL;
	*out = NULL;
	if (base == NULL || id == NULL)
		return BT_EINVAL;
	if ((ep = calloc(1, sizeof(*ep))) == NULL)
		return BT_ENOMEM;
	if ((ep->slots = calloc(RATE_SLOTS, sizeof(*ep->slots))) == NULL) {
		free(ep);
		return BT_ENOMEM;
	}
	ep->base = base;
	ep->id = id;
	ep->idle_fd = -1;
	ep->hs_timeout_ms = 10000;
	ep->idle_ms = 300000;
	ep->max_conns = 1024;
	ep->max_per_ip = 16;
	ep->rate = 600;
	ep->burst = 20;
	ep->out_max = 4u << 20;
	ep->msg_max = BT_MSG_MAX;
	ep->rekey = BTNET_CIPHER_REKEY_DEFAULT;
	*out = ep;
	return BT_OK;
}

int
btnet_endpoint_set(struct btnet_endpoint *ep, int opt, uint64_t value)
{
	uint64_t lo = 1, hi = 1000000, *field;

	if (ep == NULL)
		return BT_EINVAL;
	switch (opt) {
	case BTNET_OPT_HANDSHAKE_TIMEOUT_MS:
		field = &ep->hs_timeout_ms;
		hi = 3600000;
		break;
	case BTNET_OPT_IDLE_TIMEOUT_MS:
		field = &ep->idle_ms;
		lo = 0;
		hi = 86400000;
		break;
	case BTNET_OPT_MAX_CONNS:
		field = &ep->max_conns;
		break;
	case BTNET_OPT_MAX_CONNS_PER_IP:
		field = &ep->max_per_ip;
		break;
	case BTNET_OPT_HANDSHAKE_RATE:
		field = &ep->rate;
		hi = 6000000;
		break;
	case BTNET_OPT_HANDSHAKE_BURST:
		field = &ep->burst;
		break;
	case BTNET_OPT_OUTPUT_MAX:
		field = &ep->out_max;
		lo = 65536;
		hi = 1073741824;
		break;
	case BTNET_OPT_MESSAGE_MAX:
		field = &ep->msg_max;
		hi = BT_MSG_MAX;
		break;
	case BTNET_OPT_REKEY_INTERVAL:
		field = &ep->rekey;
		lo = 0;
		hi = UINT64_MAX;
		break;
	default:
		return BT_EINVAL;
	}
	if (value < lo || value > hi)
		return BT_ERANGE;
	*field = value;
	return BT_OK;
}

void
btnet_endpoint_setcb(struct btnet_endpoint *ep,
    btnet_established_cb established, btnet_message_cb message,
    btnet_closed_cb closed, btnet_writable_cb writable, void *arg)
{
	if (ep == NULL)
		return;
	ep->established_cb = established;
	ep->message_cb = message;
	ep->closed_cb = closed;
	ep->writable_cb = writable;
	ep->arg = arg;
}

int
btnet_endpoint_listen(struct btnet_endpoint *ep, const char *addr)
{
	struct sockaddr_storage ss;
	int len, rc;

	if (ep == NULL || addr == NULL)
		return BT_EINVAL;
	if (ep->lst != NULL || ep->dead)
		return BT_ESTATE;
	if ((rc = parse_addr(addr, &ss, &len)) != BT_OK)
		return rc;
	ep->lst = evconnlistener_new_bind(ep->base, on_accept, ep,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC,
	    -1, (struct sockaddr *)&ss, len);
	if (ep->lst == NULL)
		return BT_EIO;
	evconnlistener_set_error_cb(ep->lst, on_accept_error);
	return BT_OK;
}

uint16_t
btnet_endpoint_port(const struct btnet_endpoint *ep)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	evutil_socket_t fd;

	if (ep == NULL || ep->lst == NULL)
		return 0;
	fd = evconnlistener_get_fd(ep->lst);
	if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
		return 0;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return 0;
}

int
btnet_endpoint_dial(struct btnet_endpoint *ep, const char *addr,
    const struct bt_id *expect, struct btnet_conn **out)
{
	struct btnet_conn *c = NULL;
	struct sockaddr_storage ss;
	int len, rc;

	if (out != NULL)
		*out = NULL;
	if (ep == NULL || addr == NULL)
		return BT_EINVAL;
	if ((rc = parse_addr(addr, &ss, &len)) != BT_OK)
		return rc;
	if (ep->dead)
		return BT_ESTATE;
	if (ep->nconns >= ep->max_conns)
		return BT_EAGAIN;
	ep_enter(ep);
	rc = conn_new(ep, -1, 0, expect, (struct sockaddr *)&ss, len, &c);
	if (rc != BT_OK)
		goto out;
	if (bufferevent_socket_connect(c->bev, (struct sockaddr *)&ss,
	    len) != 0) {
		rc = BT_EIO;
		goto out;
	}
	set_nodelay(bufferevent_getfd(c->bev));
	rc = hs_advance(c);
	if (rc < 0)
		goto out;
	if (bufferevent_enable(c->bev, EV_READ | EV_WRITE) != 0) {
		rc = BT_EIO;
		goto out;
	}
	c->seen = 1;
	conn_link(c);
	if (out != NULL)
		*out = c;
	c = NULL;
	rc = BT_OK;
out:
	if (c != NULL)
		conn_destroy(c);
	ep_leave(ep);
	return rc;
}

uint64_t
btnet_endpoint_stat(const struct btnet_endpoint *ep, int which)
{
	if (ep == NULL)
		return 0;
	switch (which) {
	case BTNET_STAT_CONNS:
		return ep->nconns;
	case BTNET_STAT_ESTABLISHED:
		return ep->stat_established;
	case BTNET_STAT_HANDSHAKE_FAILED:
		return ep->stat_hs_failed;
	case BTNET_STAT_REFUSED_RATE:
		return ep->stat_rate;
	case BTNET_STAT_REFUSED_CAP:
		return ep->stat_cap;
	case BTNET_STAT_ACCEPT_ERRORS:
		return ep->stat_accept_err;
	default:
		return 0;
	}
}

void
btnet_endpoint_close(struct btnet_endpoint *ep)
{
	if (ep == NULL || ep->dead)
		return;
	ep_enter(ep);
	ep->dead = 1;
	if (ep->lst != NULL)
		(void)evconnlistener_disable(ep->lst);
	while (ep->conns != NULL)
		conn_kill(ep->conns, BT_OK, 0);
	ep_leave(ep);
}

/* Small messages on an empty queue go straight to the socket. */
static int
send_direct(struct btnet_conn *c, const void *msg, size_t len)
{
	uint8_t *buf = c->tx;
	size_t wl, off = 0;
	ssize_t n;
	int rc;

	/* ciphertext only: kept for the next message, never wiped */
	if (buf == NULL && (buf = c->tx = malloc(TX_DIRECT)) == NULL)
		return BT_ENOMEM;
	if ((rc = btnet_frame_encode(c->send, msg, len, 0, buf, TX_DIRECT,
	    &wl)) != BT_OK)
		return rc;
	n = send(c->fd, buf, wl, MSG_NOSIGNAL | MSG_DONTWAIT);
	/* on any error the bufferevent finds it again when it writes */
	if (n > 0)
		off = (size_t)n;
	if (off < wl && evbuffer_add(bufferevent_get_output(c->bev),
	    buf + off, wl - off) != 0)
		rc = BT_ENOMEM;
	return rc;
}

/*
 * Encrypt a message frame by frame into reserved space of the output
 * buffer: chains of about TX_RESERVE bytes filled with whole frames, no
 * contiguous room for the whole message and no copy.
 */
static int
send_queued(struct btnet_conn *c, const void *msg, size_t len)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	struct evbuffer_iovec v;
	size_t pos = 0, end = BTNET_FRAME_LEN_LEN + len, take, frame, ask;
	size_t wl, room;
	int rc = BT_OK;

	while (pos < end) {
		take = end - pos < BTNET_FRAME_CHUNK_MAX ? end - pos :
		    BTNET_FRAME_CHUNK_MAX;
		frame = BTNET_FRAME_HDR_LEN + take + BTNET_NOISE_TAG_LEN;
		/* the tail of the last chain when it still takes a frame */
		ask = c->tx_room >= frame && evbuffer_get_length(out) > 0 ?
		    frame : TX_RESERVE;
		if (evbuffer_reserve_space(out, (ev_ssize_t)ask, &v, 1) < 1) {
			rc = BT_ENOMEM;
			goto out;
		}
		room = v.iov_len;
		rc = btnet_frame_encode_some(c->send, msg, len, 0, &pos,
		    v.iov_base, room, &wl);
		if (rc != BT_OK)
			goto out;
		v.iov_len = wl;
		if (evbuffer_commit_space(out, &v, 1) != 0) {
			rc = BT_ENOMEM;
			goto out;
		}
		c->tx_room = room - wl;
	}
out:
	return rc;
}

int
btnet_conn_send(struct btnet_conn *c, const void *msg, size_t len)
{
	struct evbuffer *out;
	size_t need, queued;
	int rc;

	if (c == NULL || (msg == NULL && len != 0))
		return BT_EINVAL;
	if (c->failed || c->state == ST_DRAIN || c->state == ST_DEAD)
		return BT_ECLOSED;
	if (c->state != ST_OPEN)
		return BT_ESTATE;
	if (len > c->ep->msg_max)
		return BT_ETOOBIG;
	out = bufferevent_get_output(c->bev);
	need = btnet_frame_encoded_len(len, 0);
	queued = evbuffer_get_length(out);
	if (queued > 0 && queued + need > c->ep->out_max) {
		c->want_writable = 1;
		return BT_EAGAIN;
	}
	if (queued == 0 && len <= DIRECT_MAX)
		rc = send_direct(c, msg, len);
	else
		rc = send_queued(c, msg, len);
	/* the sending nonce may have moved: the stream cannot continue */
	if (rc != BT_OK)
		conn_fail_later(c, rc);
	else
		btnet_cipher_prepare_(c->send, 1);
	return rc;
}

void
btnet_conn_close(struct btnet_conn *c)
{
	struct btnet_endpoint *ep;
	struct timeval tv;

	if (c == NULL || c->state == ST_DEAD || c->state == ST_DRAIN)
		return;
	ep = c->ep;
	ep_enter(ep);
	if (c->state == ST_OPEN && !c->failed &&
	    evbuffer_get_length(bufferevent_get_output(c->bev)) > 0) {
		c->state = ST_DRAIN;
		c->seen = 0;
		c->want_writable = 0;
		bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
		tv = ms_tv(ep->hs_timeout_ms);
		if (evtimer_add(c->timer, &tv) != 0)
			conn_kill(c, BT_OK, 0);
	} else {
		conn_kill(c, BT_OK, 0);
	}
	ep_leave(ep);
}

int
btnet_conn_peer(const struct btnet_conn *c, struct bt_id *id,
    struct bt_pubkey *key)
{
	int ok;

	if (id != NULL)
		memset(id, 0, sizeof(*id));
	if (key != NULL)
		memset(key, 0, sizeof(*key));
	if (c == NULL)
		return BT_EINVAL;
	ok = c->state == ST_OPEN || (c->state == ST_DEAD && c->hs == NULL &&
	    c->dec != NULL);
	if (!ok)
		return BT_ESTATE;
	if (id != NULL)
		*id = c->peer_id;
	if (key != NULL)
		*key = c->peer_key;
	return BT_OK;
}

int
btnet_conn_peer_addr(const struct btnet_conn *c, char *buf, size_t cap)
{
	char ip[INET6_ADDRSTRLEN];
	const struct sockaddr_in *s4;
	const struct sockaddr_in6 *s6;
	int n;

	if (buf != NULL && cap > 0)
		buf[0] = '\0';
	if (c == NULL || buf == NULL)
		return BT_EINVAL;
	if (c->peer.ss_family == AF_INET) {
		s4 = (const struct sockaddr_in *)(const void *)&c->peer;
		if (evutil_inet_ntop(AF_INET, &s4->sin_addr, ip,
		    sizeof(ip)) == NULL)
			return BT_EINVAL;
		n = snprintf(buf, cap, "%s:%u", ip, ntohs(s4->sin_port));
	} else if (c->peer.ss_family == AF_INET6) {
		s6 = (const struct sockaddr_in6 *)(const void *)&c->peer;
		if (evutil_inet_ntop(AF_INET6, &s6->sin6_addr, ip,
		    sizeof(ip)) == NULL)
			return BT_EINVAL;
		n = snprintf(buf, cap, "[%s]:%u", ip, ntohs(s6->sin6_port));
	} else {
		return BT_EINVAL;
	}
	if (n < 0 || (size_t)n >= cap) {
		if (cap > 0)
			buf[0] = '\0';
		return BT_ENOSPC;
	}
	return BT_OK;
}

int
btnet_conn_inbound(const struct btnet_conn *c)
{
	return c != NULL && c->inbound;
}

size_t
btnet_conn_queued(const struct btnet_conn *c)
{
	if (c == NULL || c->bev == NULL)
		return 0;
	return evbuffer_get_length(bufferevent_get_output(c->bev));
}

void
btnet_conn_set_data(struct btnet_conn *c, void *data)
{
	if (c != NULL)
		c->data = data;
}

void *
btnet_conn_data(const struct btnet_conn *c)
{
	return c == NULL ? NULL : c->data;
}
