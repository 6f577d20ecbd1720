/*
 * stream.c - connections over real loopback sockets (bt/conn.h):
 *   encrypted stream MB/s between two processes (fork: sender and
 *   receiver each pinned to its own CPU, as both raw TCP runs are:
 *   left to the scheduler, raw TCP's two ends often shared one CPU and
 *   ran at half speed, while the busier encrypted ends did not, which
 *   flattered the ratio) over the pipeline bound
 *   1/(1/TCP + 1/AEAD), TCP being raw loopback TCP in the same process
 *   arrangement (the parent sends STREAM_TOTAL bytes in 128 KiB writes,
 *   the forked child reads them and answers one byte) and AEAD raw
 *   ChaCha20-Poly1305 (EVP) sealing in 65519-byte pieces; the encrypted
 *   stream carries the same bytes as 128 KiB messages and its receiver
 *   answers an empty message.  Both streams are timed from the first
 *   write to the answer, raw and encrypted in turn, best of STREAM_RUNS;
 *   handshakes/s over real sockets (dialler and listener in one process
 *   and one thread, as the crypto bound counts both ends) over the bound
 *   of 8 X25519 + 2 Ed25519 verifications (the faster of OpenSSL and
 *   libsodium for each), and over TLS 1.3 handshakes/s measured with
 *   `openssl s_time -new` against `openssl s_server` with an Ed25519
 *   certificate (skipped when the openssl command is missing);
 *   64-byte round trip (median) over an established session over raw TCP
 *   ping-pong (blocking read(2) and write(2)), each pair two processes,
 *   next to a third pair, a libevent echo without a session (the floor
 *   of any end that waits in an event loop), the three taking turns in
 *   ten slices of 0.1 s so that a change of the machine's load falls on
 *   all.  Measured twice: each end of a pair on its own CPU, and all on
 *   one CPU.  On these virtual machines a wakeup across CPUs costs tens
 *   of microseconds (the hypervisor wakes the idle virtual CPU), more
 *   than the work of both ends, and left to the scheduler the two ends
 *   share a CPU in some slices and not in others, so a run's median
 *   swings (a lone raw pair has shown 16 and 130 us); pinned, each
 *   figure is steady.  On one CPU a round trip is the work of both ends:
 *   every instruction counts, and work done ahead
 *   (btnet_cipher_prepare_()) gains nothing.  The CPU time both
 *   processes spent per round trip (user and system) is
 *   printed too: when it matches the round trip the two ran in turn.
 *
 * Arguments pick parts: "stream", "handshake", "rtt"; none runs
 * everything.  For profiling, "stream-tcp" and "stream-enc" run one raw
 * or one encrypted stream and print its rate, "rtt-tcp", "rtt-ev" and
 * "rtt-enc" one raw, libevent or encrypted ping-pong and print its median
 * round trip.
 */
#define _GNU_SOURCE	/* sched_setaffinity(), sched_getcpu() */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <event2/event.h>
#include <openssl/evp.h>
#include <sodium.h>

#include <bt/conn.h>
#include <bt/key.h>
#include <bt/noise.h>

#include "bench.h"
#include "btnet-internal.h"

#define TCP_WRITE	(128 * 1024)
#define STREAM_MSG	TCP_WRITE	/* same write size for both streams */
#ifndef STREAM_MIB
#define STREAM_MIB	1024	/* -DSTREAM_MIB=64 for profiling runs */
#endif
#define STREAM_TOTAL	((double)STREAM_MIB * 1048576.0)
#define STREAM_RUNS	3
#define PING_LEN	64
#define MAX_RTT		200000
#define RTT_SLICES	10
#define RTT_SLICE_S	0.1

_Noreturn static void
die(const char *what)
{
	fprintf(stderr, "bench btnet.stream: %s failed\n", what);
	exit(1);
}

static void
pin(int cpu)
{
	cpu_set_t one;

	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	if (sched_setaffinity(0, sizeof(one), &one) != 0)
		die("sched_setaffinity");
}

/* Where forked ends run (-1: anywhere); set by the stream figure. */
static int fork_cpu = -1;

static void
after_fork(void)
{
	if (fork_cpu >= 0)
		pin(fork_cpu);
}

/* The CPU we are on and another one we may use (the same when none). */
static void
two_cpus(int *cpu, int *other)
{
	cpu_set_t set;
	int k;

	*cpu = sched_getcpu();
	if (*cpu < 0)
		*cpu = 0;
	*other = *cpu;
	if (sched_getaffinity(0, sizeof(set), &set) == 0)
		for (k = 0; k < CPU_SETSIZE; k++)
			if (k != *cpu && CPU_ISSET(k, &set)) {
				*other = k;
				break;
			}
}

struct node {
	struct btcore_key *key;
	struct btnet_identity *id;
	struct bt_id nid;
};

static void
node_new(struct node *n)
{
	struct btcore_signer s;

	if (btcore_key_generate(&n->key) != BT_OK)
		die("key");
	btcore_key_signer(n->key, &s);
	if (btnet_identity_new(&n->id, &s, NULL) != BT_OK)
		die("identity");
	btnet_identity_node_id(n->id, &n->nid);
}

static void
node_free(struct node *n)
{
	btnet_identity_free(n->id);
	btcore_key_free(n->key);
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* ---- raw baselines ---------------------------------------------------- */

static double
raw_aead_mb_s(void)
{
	EVP_CIPHER_CTX *e = EVP_CIPHER_CTX_new();
	unsigned char key[32] = { 3 }, iv[12] = { 0 }, tag[16];
	unsigned char *buf = malloc(BTNET_NOISE_PLAIN_MAX);
	unsigned char *out = malloc(BTNET_NOISE_MSG_MAX);
	double t0, t, bytes = 0;
	int ol;

	if (e == NULL || buf == NULL || out == NULL ||
	    EVP_EncryptInit_ex(e, EVP_chacha20_poly1305(), NULL, key, iv) != 1)
		die("aead init");
	memset(buf, 7, BTNET_NOISE_PLAIN_MAX);
	t0 = bench_now();
	do {
		iv[4]++;
		if (EVP_EncryptInit_ex(e, NULL, NULL, NULL, iv) != 1 ||
		    EVP_EncryptUpdate(e, out, &ol, buf,
		    BTNET_NOISE_PLAIN_MAX) != 1 ||
		    EVP_EncryptFinal_ex(e, out + ol, &ol) != 1 ||
		    EVP_CIPHER_CTX_ctrl(e, EVP_CTRL_AEAD_GET_TAG, 16, tag) != 1)
			die("aead seal");
		bytes += BTNET_NOISE_PLAIN_MAX;
	} while ((t = bench_now() - t0) < 0.5);
	EVP_CIPHER_CTX_free(e);
	free(buf);
	free(out);
	return bytes / t / 1e6;
}

#include "crypto-rates.h"

/* A listening socket on 127.0.0.1 and its port. */
static int
raw_listen(uint16_t *port)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one,
	    sizeof(one)) != 0 || bind(fd, (struct sockaddr *)&sa,
	    sizeof(sa)) != 0 || listen(fd, 64) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &sl) != 0)
		die("listen");
	*port = ntohs(sa.sin_port);
	return fd;
}

static int
raw_dial(uint16_t port)
{
	struct sockaddr_in sa;
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons(port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
		die("connect");
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

static void
write_all(int fd, const void *p, size_t len)
{
	const char *c = p;
	ssize_t n;

	while (len > 0) {
		n = write(fd, c, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			die("write");
		c += n;
		len -= (size_t)n;
	}
}

static int
read_all(int fd, void *p, size_t len)
{
	char *c = p;
	ssize_t n;

	while (len > 0) {
		n = read(fd, c, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		c += n;
		len -= (size_t)n;
	}
	return 0;
}

static void
reap(pid_t pid)
{
	int st;

	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) ||
	    WEXITSTATUS(st) != 0)
		die("child");
}

/* CPU seconds (user, system) of both processes of a round-trip run. */
struct cpu {
	double user, sys;
	int n;
};

static double
tv_s(struct timeval tv)
{
	return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

/* Our CPU seconds so far. */
static void
self_cpu(double *user, double *sys)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) != 0)
		die("getrusage");
	*user = tv_s(ru.ru_utime);
	*sys = tv_s(ru.ru_stime);
}

/* Add our CPU time since (@p u0, @p s0) to @p c. */
static void
cpu_add_self(struct cpu *c, double u0, double s0)
{
	double u, sy;

	self_cpu(&u, &sy);
	c->user += u - u0;
	c->sys += sy - s0;
}

/* Reap @p pid and add all its CPU time to @p c. */
static void
cpu_reap(struct cpu *c, pid_t pid)
{
	struct rusage child;
	int st;

	if (wait4(pid, &st, 0, &child) != pid || !WIFEXITED(st) ||
	    WEXITSTATUS(st) != 0)
		die("child");
	c->user += tv_s(child.ru_utime);
	c->sys += tv_s(child.ru_stime);
}

/* Raw TCP: the child reads to EOF and answers one byte. */
static double
raw_tcp_mb_s(void)
{
	uint16_t port;
	int lfd = raw_listen(&port), fd;
	char *buf = malloc(TCP_WRITE), ack = 0;
	double t0, t, bytes = 0;
	ssize_t n;
	pid_t pid;

	if (buf == NULL)
		die("malloc");
	memset(buf, 1, TCP_WRITE);
	if ((pid = fork()) < 0)
		die("fork");
	if (pid == 0) {
		after_fork();
		fd = accept(lfd, NULL, NULL);
		while ((n = read(fd, buf, TCP_WRITE)) > 0)
			;
		write_all(fd, &ack, 1);
		_exit(0);
	}
	close(lfd);
	fd = raw_dial(port);
	t0 = bench_now();
	do {
		write_all(fd, buf, TCP_WRITE);
		bytes += TCP_WRITE;
	} while (bytes < STREAM_TOTAL);
	shutdown(fd, SHUT_WR);
	if (read_all(fd, &ack, 1) != 0)
		die("tcp ack");
	t = bench_now() - t0;
	close(fd);
	reap(pid);
	free(buf);
	return bytes / t / 1e6;
}

/*
 * Raw TCP ping-pong of PING_LEN bytes: a forked child echoes with
 * blocking read(2) and write(2); we send and wait the same way.
 */
struct raw_pp {
	int fd;
	pid_t pid;
	char buf[PING_LEN];
	double *rtt;
	struct cpu cpu;
};

static void
raw_pp_start(struct raw_pp *p, double *rtt)
{
	uint16_t port;
	int lfd = raw_listen(&port), fd, one = 1;

	memset(p, 0, sizeof(*p));
	p->rtt = rtt;
	memset(p->buf, 2, sizeof(p->buf));
	if ((p->pid = fork()) < 0)
		die("fork");
	if (p->pid == 0) {
		fd = accept(lfd, NULL, NULL);
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
		    sizeof(one));
		while (read_all(fd, p->buf, sizeof(p->buf)) == 0)
			write_all(fd, p->buf, sizeof(p->buf));
		_exit(0);
	}
	close(lfd);
	p->fd = raw_dial(port);
}

/* Round trips for @p secs seconds. */
static void
raw_pp_slice(struct raw_pp *p, double secs)
{
	double t0 = bench_now(), t1, u0, s0;

	self_cpu(&u0, &s0);
	while (p->cpu.n < MAX_RTT && bench_now() - t0 < secs) {
		t1 = bench_now();
		write_all(p->fd, p->buf, sizeof(p->buf));
		if (read_all(p->fd, p->buf, sizeof(p->buf)) != 0)
			die("ping");
		p->rtt[p->cpu.n++] = bench_now() - t1;
	}
	cpu_add_self(&p->cpu, u0, s0);
}

static void
raw_pp_end(struct raw_pp *p)
{
	close(p->fd);
	cpu_reap(&p->cpu, p->pid);
}

/*
 * The same ping-pong through libevent without a session: each end waits
 * in the event loop, reads when told and writes the answer from the read
 * callback, as libbtnet does, only with no framing and no cipher.  The
 * floor of any event-driven end here.
 */
struct ev_pp {
	int fd, got;
	pid_t pid;
	struct event_base *base;
	struct event *ev;
	char buf[PING_LEN];
	double *rtt, t1, t_end;
	struct cpu cpu;
};

/* Read what is there into buf; 1 once PING_LEN bytes are in. */
static int
ev_fill(int fd, char *buf, int *got)
{
	ssize_t n = recv(fd, buf + *got, (size_t)(PING_LEN - *got), 0);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n <= 0)
		return -1;
	*got += (int)n;
	if (*got < PING_LEN)
		return 0;
	*got = 0;
	return 1;
}

static void
ev_echo_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ev_pp *p = arg;
	int r = ev_fill(fd, p->buf, &p->got);

	(void)what;
	if (r < 0)
		event_base_loopbreak(p->base);
	else if (r > 0)
		write_all(fd, p->buf, PING_LEN);
}

static void
ev_ping_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ev_pp *p = arg;
	int r = ev_fill(fd, p->buf, &p->got);
	double t;

	(void)what;
	if (r < 0)
		die("ev pong");
	if (r == 0)
		return;
	t = bench_now();
	p->rtt[p->cpu.n++] = t - p->t1;
	if (p->cpu.n >= MAX_RTT || t >= p->t_end) {
		event_base_loopbreak(p->base);
		return;
	}
	p->t1 = bench_now();
	write_all(fd, p->buf, PING_LEN);
}

static void
ev_pp_start(struct ev_pp *p, double *rtt)
{
	uint16_t port;
	int lfd = raw_listen(&port), one = 1;

	memset(p, 0, sizeof(*p));
	p->rtt = rtt;
	if ((p->pid = fork()) < 0)
		die("fork");
	if (p->pid == 0) {
		p->fd = accept(lfd, NULL, NULL);
		(void)setsockopt(p->fd, IPPROTO_TCP, TCP_NODELAY, &one,
		    sizeof(one));
		if (p->fd < 0 || evutil_make_socket_nonblocking(p->fd) != 0 ||
		    (p->base = event_base_new()) == NULL ||
		    (p->ev = event_new(p->base, p->fd, EV_READ | EV_PERSIST,
		    ev_echo_cb, p)) == NULL || event_add(p->ev, NULL) != 0)
			_exit(3);
		event_base_dispatch(p->base);
		_exit(0);
	}
	close(lfd);
	p->fd = raw_dial(port);
	if (evutil_make_socket_nonblocking(p->fd) != 0 ||
	    (p->base = event_base_new()) == NULL ||
	    (p->ev = event_new(p->base, p->fd, EV_READ | EV_PERSIST,
	    ev_ping_cb, p)) == NULL || event_add(p->ev, NULL) != 0)
		die("ev setup");
}

static void
ev_pp_slice(struct ev_pp *p, double secs)
{
	double u0, s0;

	self_cpu(&u0, &s0);
	memset(p->buf, 2, sizeof(p->buf));
	p->t1 = bench_now();
	p->t_end = p->t1 + secs;
	write_all(p->fd, p->buf, PING_LEN);
	event_base_dispatch(p->base);
	cpu_add_self(&p->cpu, u0, s0);
}

static void
ev_pp_end(struct ev_pp *p)
{
	event_free(p->ev);
	event_base_free(p->base);
	close(p->fd);
	cpu_reap(&p->cpu, p->pid);
}

/* ---- the child: an endpoint that counts, echoes or acknowledges ------- */

#define MODE_SINK	1	/* count; answer an empty message with one */
#define MODE_ECHO	2	/* send every message back */

struct child {
	struct event_base *base;
	int mode;
};

static void
child_msg(struct btnet_conn *c, const uint8_t *msg, size_t len, void *arg)
{
	struct child *ch = arg;

	if ((ch->mode == MODE_ECHO || len == 0) &&
	    btnet_conn_send(c, msg, len) != BT_OK)
		_exit(2);
}

static void
child_closed(struct btnet_conn *c, int reason, void *arg)
{
	struct child *ch = arg;

	(void)c;
	(void)reason;
	event_base_loopbreak(ch->base);
}

/* Fork a listening endpoint; returns its port (via a pipe). */
static pid_t
child_start(const struct node *n, int mode, uint16_t *port)
{
	struct btnet_endpoint *ep;
	struct child ch;
	int p[2];
	pid_t pid;

	if (pipe(p) != 0 || (pid = fork()) < 0)
		die("fork");
	if (pid == 0) {
		after_fork();
		close(p[0]);
		ch.mode = mode;
		if ((ch.base = event_base_new()) == NULL ||
		    btnet_endpoint_open(&ep, ch.base, n->id) != BT_OK ||
		    btnet_endpoint_set(ep, BTNET_OPT_OUTPUT_MAX, 64u << 20) ||
		    btnet_endpoint_listen(ep, "127.0.0.1:0") != BT_OK)
			_exit(3);
		btnet_endpoint_setcb(ep, NULL, child_msg, child_closed, NULL,
		    &ch);
		*port = btnet_endpoint_port(ep);
		write_all(p[1], port, sizeof(*port));
		close(p[1]);
		event_base_dispatch(ch.base);
		btnet_endpoint_close(ep);
		event_base_free(ch.base);
		_exit(0);
	}
	close(p[1]);
	if (read_all(p[0], port, sizeof(*port)) != 0)
		die("child port");
	close(p[0]);
	return pid;
}

/* ---- the parent's side ------------------------------------------------ */

struct run {
	struct event_base *base;
	struct btnet_conn *conn;
	uint8_t *msg;
	double t0, t_end, bytes;
	int stopping, done;
	/* round trips */
	double *rtt, t1;
	int nrtt;
	/* handshakes */
	struct btnet_endpoint *dialler;
	const struct bt_id *expect;
	char addr[32];
	int hs_done;
};

static void
pump(struct run *r, struct btnet_conn *c)
{
	int rc;

	while (!r->stopping) {
		if (r->bytes >= STREAM_TOTAL) {
			r->stopping = 1;
			if (btnet_conn_send(c, NULL, 0) != BT_OK)
				die("stream end");
			return;
		}
		rc = btnet_conn_send(c, r->msg, STREAM_MSG);
		if (rc == BT_EAGAIN)
			return;
		if (rc != BT_OK)
			die("stream send");
		r->bytes += STREAM_MSG;
	}
}

static void
stream_est(struct btnet_conn *c, const struct bt_id *peer, void *arg)
{
	struct run *r = arg;

	(void)peer;
	r->conn = c;
	r->t0 = bench_now();
	pump(r, c);
}

static void
stream_writable(struct btnet_conn *c, void *arg)
{
	pump(arg, c);
}

static void
stream_msg(struct btnet_conn *c, const uint8_t *msg, size_t len, void *arg)
{
	struct run *r = arg;

	(void)c;
	(void)msg;
	(void)len;
	r->t_end = bench_now();
	r->done = 1;
	event_base_loopbreak(r->base);
}

static void
parent_closed(struct btnet_conn *c, int reason, void *arg)
{
	(void)c;
	(void)arg;
	fprintf(stderr, "bench btnet.stream: closed: %d\n", reason);
	exit(1);
}

static double
stream_mb_s(const struct node *na, const struct node *nb)
{
	struct btnet_endpoint *ep;
	struct run r;
	uint16_t port;
	pid_t pid = child_start(nb, MODE_SINK, &port);

	memset(&r, 0, sizeof(r));
	if ((r.base = event_base_new()) == NULL ||
	    (r.msg = malloc(STREAM_MSG)) == NULL ||
	    btnet_endpoint_open(&ep, r.base, na->id) != BT_OK)
		die("stream setup");
	memset(r.msg, 4, STREAM_MSG);
	btnet_endpoint_setcb(ep, stream_est, stream_msg, parent_closed,
	    stream_writable, &r);
	snprintf(r.addr, sizeof(r.addr), "127.0.0.1:%u", port);
	if (btnet_endpoint_dial(ep, r.addr, &nb->nid, NULL) != BT_OK)
		die("stream dial");
	event_base_dispatch(r.base);
	if (!r.done)
		die("stream");
	btnet_endpoint_close(ep);
	event_base_free(r.base);
	reap(pid);
	free(r.msg);
	return r.bytes / (r.t_end - r.t0) / 1e6;
}

/*
 * Encrypted ping-pong over an established session with a forked echoing
 * endpoint; each message is sent from the callback of the one before.
 */
struct enc_pp {
	struct run r;
	struct btnet_endpoint *ep;
	pid_t pid;
	struct cpu cpu;
};

static void
ping_est(struct btnet_conn *c, const struct bt_id *peer, void *arg)
{
	struct run *r = arg;

	(void)peer;
	r->conn = c;
	event_base_loopbreak(r->base);
}

static void
ping_msg(struct btnet_conn *c, const uint8_t *msg, size_t len, void *arg)
{
	struct run *r = arg;
	double t = bench_now();

	(void)msg;
	if (len != PING_LEN)
		die("pong");
	r->rtt[r->nrtt++] = t - r->t1;
	if (r->nrtt >= MAX_RTT || t >= r->t_end) {
		r->done = 1;
		event_base_loopbreak(r->base);
		return;
	}
	r->t1 = bench_now();
	if (btnet_conn_send(c, r->msg, PING_LEN) != BT_OK)
		die("ping");
}

static void
enc_pp_start(struct enc_pp *p, const struct node *na, const struct node *nb,
    double *rtt)
{
	struct run *r = &p->r;
	uint16_t port;
	double u0, s0;

	memset(p, 0, sizeof(*p));
	p->pid = child_start(nb, MODE_ECHO, &port);
	r->rtt = rtt;
	if ((r->base = event_base_new()) == NULL ||
	    (r->msg = calloc(1, PING_LEN)) == NULL ||
	    btnet_endpoint_open(&p->ep, r->base, na->id) != BT_OK)
		die("rtt setup");
	btnet_endpoint_setcb(p->ep, ping_est, ping_msg, parent_closed, NULL,
	    r);
	snprintf(r->addr, sizeof(r->addr), "127.0.0.1:%u", port);
	self_cpu(&u0, &s0);
	if (btnet_endpoint_dial(p->ep, r->addr, &nb->nid, NULL) != BT_OK)
		die("rtt dial");
	event_base_dispatch(r->base);
	if (r->conn == NULL)
		die("rtt session");
	cpu_add_self(&p->cpu, u0, s0);
}

/* Round trips for @p secs seconds. */
static void
enc_pp_slice(struct enc_pp *p, double secs)
{
	struct run *r = &p->r;
	double u0, s0;

	self_cpu(&u0, &s0);
	r->done = 0;
	r->t1 = bench_now();
	r->t_end = r->t1 + secs;
	if (btnet_conn_send(r->conn, r->msg, PING_LEN) != BT_OK)
		die("ping");
	event_base_dispatch(r->base);
	if (!r->done)
		die("rtt");
	p->cpu.n = r->nrtt;
	cpu_add_self(&p->cpu, u0, s0);
}

static void
enc_pp_end(struct enc_pp *p)
{
	btnet_endpoint_close(p->ep);
	event_base_free(p->r.base);
	free(p->r.msg);
	cpu_reap(&p->cpu, p->pid);
}

static double
median(double *v, int n)
{
	if (n == 0)
		die("no round trips");
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return v[n / 2];
}

/*
 * Round trips of the three pairs: raw TCP, the libevent echo, and
 * libbtnet's session.  Each pair's round trips are kept per slice
 * (start[i] .. start[i + 1]) so that a slice of one can be set against
 * the slice of another next to it in time.
 */
#define PP_RAW		0
#define PP_EV		1
#define PP_ENC		2
#define PP_N		3

struct rtt_res {
	double *v[PP_N];		/* MAX_RTT round trips each */
	int start[PP_N][RTT_SLICES + 1];
	struct cpu cpu[PP_N];
	double med[PP_N];		/* over all slices */
	double ratio[PP_N][RTT_SLICES];	/* slice median / raw's, sorted */
};

/*
 * Run the pairs @p mask asks for (bits 1 << PP_*), taking turns in
 * RTT_SLICES slices of RTT_SLICE_S seconds so that a change of the
 * machine's load in between falls on all; the idle pairs wait blocked.
 * @p cpu, @p child_cpu >= 0: we and the forked ends on those CPUs only.
 */
static void
rtt_run(const struct node *na, const struct node *nb, int mask, int cpu,
    int child_cpu, struct rtt_res *res)
{
	struct raw_pp rp;
	struct ev_pp evp;
	struct enc_pp ep;
	cpu_set_t all;
	double m[PP_N];
	int i, k;

	if (sched_getaffinity(0, sizeof(all), &all) != 0)
		die("sched_getaffinity");
	/* the children are forked on child_cpu, and we go to cpu */
	if (child_cpu >= 0)
		pin(child_cpu);
	/* children forked later hold copies of the earlier pairs' sockets
	   until they end: they end first (in reverse order below) */
	if (mask & (1 << PP_ENC))
		enc_pp_start(&ep, na, nb, res->v[PP_ENC]);
	if (mask & (1 << PP_EV))
		ev_pp_start(&evp, res->v[PP_EV]);
	if (mask & (1 << PP_RAW))
		raw_pp_start(&rp, res->v[PP_RAW]);
	if (cpu >= 0)
		pin(cpu);
	for (i = 0; i < RTT_SLICES; i++) {
		if (mask & (1 << PP_RAW)) {
			res->start[PP_RAW][i] = rp.cpu.n;
			raw_pp_slice(&rp, RTT_SLICE_S);
		}
		if (mask & (1 << PP_EV)) {
			res->start[PP_EV][i] = evp.cpu.n;
			ev_pp_slice(&evp, RTT_SLICE_S);
		}
		if (mask & (1 << PP_ENC)) {
			res->start[PP_ENC][i] = ep.r.nrtt;
			enc_pp_slice(&ep, RTT_SLICE_S);
		}
	}
	if (mask & (1 << PP_RAW)) {
		res->start[PP_RAW][i] = rp.cpu.n;
		raw_pp_end(&rp);
		res->cpu[PP_RAW] = rp.cpu;
	}
	if (mask & (1 << PP_EV)) {
		res->start[PP_EV][i] = evp.cpu.n;
		ev_pp_end(&evp);
		res->cpu[PP_EV] = evp.cpu;
	}
	if (mask & (1 << PP_ENC)) {
		res->start[PP_ENC][i] = ep.r.nrtt;
		enc_pp_end(&ep);
		res->cpu[PP_ENC] = ep.cpu;
	}
	if (sched_setaffinity(0, sizeof(all), &all) != 0)
		die("sched_setaffinity");
	/* slice by slice against raw, then each pair over all its slices */
	for (i = 0; i < RTT_SLICES && (mask & (1 << PP_RAW)); i++) {
		for (k = 0; k < PP_N; k++)
			if (mask & (1 << k))
				m[k] = median(res->v[k] + res->start[k][i],
				    res->start[k][i + 1] - res->start[k][i]);
		for (k = 0; k < PP_N; k++)
			if (mask & (1 << k))
				res->ratio[k][i] = m[k] / m[PP_RAW];
	}
	for (k = 0; k < PP_N; k++)
		if (mask & (1 << k)) {
			qsort(res->ratio[k], RTT_SLICES, sizeof(double),
			    cmp_double);
			res->med[k] = median(res->v[k], res->cpu[k].n);
		}
}

/* One rtt figure: libbtnet against raw, with the libevent floor. */
static void
rtt_report(const char *name, const char *target, const char *how,
    const struct rtt_res *res)
{
	const struct cpu *c = res->cpu;

	bench_line("btnet", name, res->med[PP_ENC] * 1e6, "us",
	    res->med[PP_RAW] * 1e6, "us", target);
	printf("  (%s; medians of %d raw, %d libevent-echo and %d encrypted "
	    "round trips in %d alternating slices; libevent echo without "
	    "a session %.2f us = %.3f of raw; per-slice ratio encrypted "
	    "%.3f..%.3f, libevent %.3f..%.3f; CPU per round trip, both "
	    "processes, user + system: raw %.2f + %.2f us, libevent "
	    "%.2f + %.2f, encrypted %.2f + %.2f)\n",
	    how, c[PP_RAW].n, c[PP_EV].n, c[PP_ENC].n, RTT_SLICES,
	    res->med[PP_EV] * 1e6, res->med[PP_EV] / res->med[PP_RAW],
	    res->ratio[PP_ENC][0], res->ratio[PP_ENC][RTT_SLICES - 1],
	    res->ratio[PP_EV][0], res->ratio[PP_EV][RTT_SLICES - 1],
	    c[PP_RAW].user / c[PP_RAW].n * 1e6,
	    c[PP_RAW].sys / c[PP_RAW].n * 1e6,
	    c[PP_EV].user / c[PP_EV].n * 1e6,
	    c[PP_EV].sys / c[PP_EV].n * 1e6,
	    c[PP_ENC].user / c[PP_ENC].n * 1e6,
	    c[PP_ENC].sys / c[PP_ENC].n * 1e6);
	fflush(stdout);
}

/* Handshakes: the dialler closes once established (its message 3 is
 * still flushed); the listener counts and starts the next dial. */
static void
hs_dial(struct run *r)
{
	if (btnet_endpoint_dial(r->dialler, r->addr, r->expect, NULL) != BT_OK)
		die("hs dial");
}

static void
hs_client_est(struct btnet_conn *c, const struct bt_id *peer, void *arg)
{
	(void)peer;
	(void)arg;
	btnet_conn_close(c);
}

static void
hs_server_est(struct btnet_conn *c, const struct bt_id *peer, void *arg)
{
	struct run *r = arg;

	(void)peer;
	btnet_conn_close(c);
	r->hs_done++;
	if (bench_now() - r->t0 >= 2.0) {
		r->done = 1;
		event_base_loopbreak(r->base);
		return;
	}
	hs_dial(r);
}

static void
hs_server_closed(struct btnet_conn *c, int reason, void *arg)
{
	(void)c;
	(void)reason;
	(void)arg;
}

static double
handshakes_per_s(const struct node *na, const struct node *nb)
{
	struct btnet_endpoint *a, *b;
	struct run r;
	int i;

	memset(&r, 0, sizeof(r));
	if ((r.base = event_base_new()) == NULL ||
	    btnet_endpoint_open(&a, r.base, na->id) != BT_OK ||
	    btnet_endpoint_open(&b, r.base, nb->id) != BT_OK ||
	    btnet_endpoint_set(b, BTNET_OPT_HANDSHAKE_RATE, 6000000) ||
	    btnet_endpoint_set(b, BTNET_OPT_HANDSHAKE_BURST, 1000000) ||
	    btnet_endpoint_set(b, BTNET_OPT_MAX_CONNS_PER_IP, 1000000) ||
	    btnet_endpoint_listen(b, "127.0.0.1:0") != BT_OK)
		die("hs setup");
	btnet_endpoint_setcb(a, hs_client_est, NULL, parent_closed, NULL, &r);
	btnet_endpoint_setcb(b, hs_server_est, NULL, hs_server_closed, NULL,
	    &r);
	r.dialler = a;
	r.expect = &nb->nid;
	snprintf(r.addr, sizeof(r.addr), "127.0.0.1:%u",
	    btnet_endpoint_port(b));
	r.t0 = bench_now();
	for (i = 0; i < 4; i++)
		hs_dial(&r);
	event_base_dispatch(r.base);
	r.t_end = bench_now();
	btnet_endpoint_close(a);
	btnet_endpoint_close(b);
	event_base_free(r.base);
	return r.hs_done / (r.t_end - r.t0);
}

/* ---- TLS 1.3 with openssl s_server / s_time --------------------------- */

static double
tls_handshakes_per_s(void)
{
	char dir[] = "/tmp/bt-bench-tls-XXXXXX", cmd[512], line[256];
	double t0, t, rate = 0;
	uint16_t port;
	int lfd, fd, conns = -1, tries;
	pid_t srv;
	FILE *f;

	if (mkdtemp(dir) == NULL)
		return 0;
	snprintf(cmd, sizeof(cmd), "openssl req -x509 -newkey ed25519 "
	    "-keyout %s/key.pem -out %s/cert.pem -days 1 -nodes "
	    "-subj /CN=bench >/dev/null 2>&1", dir, dir);
	if (system(cmd) != 0)
		goto out;
	lfd = raw_listen(&port);
	close(lfd);
	if ((srv = fork()) < 0)
		goto out;
	if (srv == 0) {
		char acc[32], cert[128], key[128];

		snprintf(acc, sizeof(acc), "127.0.0.1:%u", port);
		snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
		snprintf(key, sizeof(key), "%s/key.pem", dir);
		if (freopen("/dev/null", "w", stdout) == NULL ||
		    freopen("/dev/null", "w", stderr) == NULL)
			_exit(1);
		execlp("openssl", "openssl", "s_server", "-quiet", "-tls1_3",
		    "-cert", cert, "-key", key, "-accept", acc, (char *)NULL);
		_exit(127);
	}
	/* wait until it accepts */
	for (tries = 0; tries < 300; tries++) {
		struct sockaddr_in sa;

		memset(&sa, 0, sizeof(sa));
		sa.sin_family = AF_INET;
		sa.sin_port = htons(port);
		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		fd = socket(AF_INET, SOCK_STREAM, 0);
		if (fd >= 0 && connect(fd, (struct sockaddr *)&sa,
		    sizeof(sa)) == 0) {
			close(fd);
			break;
		}
		if (fd >= 0)
			close(fd);
		usleep(10000);
	}
	snprintf(cmd, sizeof(cmd), "openssl s_time -connect 127.0.0.1:%u "
	    "-new -tls1_3 -time 3 2>/dev/null", port);
	t0 = bench_now();
	if (tries < 300 && (f = popen(cmd, "r")) != NULL) {
		while (fgets(line, sizeof(line), f) != NULL)
			if (strstr(line, "connections in") != NULL &&
			    strstr(line, "real seconds") != NULL)
				conns = (int)strtol(line, NULL, 10);
		pclose(f);
	}
	t = bench_now() - t0;
	kill(srv, SIGTERM);
	waitpid(srv, NULL, 0);
	if (conns > 0 && t > 0)
		rate = conns / t;
out:
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		rate = rate > 0 ? rate : 0;
	return rate;
}

static int
want(int argc, char **argv, const char *part)
{
	int i;

	if (argc < 2)
		return 1;
	for (i = 1; i < argc; i++)
		if (strcmp(argv[i], part) == 0)
			return 1;
	return 0;
}

int
main(int argc, char **argv)
{
	struct node na, nb;
	double aead, tcp, bound, enc, x, v, hs_bound, hs, tls;
	double *rtt = malloc(PP_N * MAX_RTT * sizeof(double));
	static struct rtt_res res;
	cpu_set_t set;
	int k, cpu, other;

	if (rtt == NULL)
		die("malloc");
	for (k = 0; k < PP_N; k++)
		res.v[k] = rtt + (size_t)k * MAX_RTT;
	signal(SIGPIPE, SIG_IGN);
	node_new(&na);
	node_new(&nb);

	if (argc > 1 && strcmp(argv[1], "stream-tcp") == 0)
		printf("raw TCP %.0f MB/s\n", raw_tcp_mb_s());
	if (argc > 1 && strcmp(argv[1], "stream-enc") == 0)
		printf("encrypted %.0f MB/s\n", stream_mb_s(&na, &nb));
	for (k = 0; k < PP_N; k++)
		if (argc > 1 && strcmp(argv[1], (const char *[]){ "rtt-tcp",
		    "rtt-ev", "rtt-enc" }[k]) == 0) {
			rtt_run(&na, &nb, 1 << k, -1, -1, &res);
			printf("%s %.2f us (%d)\n", argv[1], res.med[k] * 1e6,
			    res.cpu[k].n);
		}
	if (want(argc, argv, "stream")) {
		aead = raw_aead_mb_s();
		/* sender and receiver each on its own CPU, raw and
		   encrypted in turn */
		if (sched_getaffinity(0, sizeof(set), &set) != 0)
			die("sched_getaffinity");
		two_cpus(&cpu, &other);
		pin(cpu);
		fork_cpu = other;
		tcp = enc = 0;
		for (k = 0; k < STREAM_RUNS; k++) {
			if ((x = raw_tcp_mb_s()) > tcp)
				tcp = x;
			if ((x = stream_mb_s(&na, &nb)) > enc)
				enc = x;
		}
		fork_cpu = -1;
		if (sched_setaffinity(0, sizeof(set), &set) != 0)
			die("sched_setaffinity");
		bound = 1.0 / (1.0 / tcp + 1.0 / aead);
		bench_line("btnet", "stream_vs_pipeline_bound", enc, "MB/s",
		    bound, "MB/s", ">= 0.8");
		printf("  (2 processes, each on its own CPU; %.0f MiB in "
		    "128 KiB writes / messages, raw and encrypted in turn, "
		    "best of %d; raw TCP %.0f MB/s, raw "
		    "ChaCha20-Poly1305 seal %.0f MB/s)\n",
		    (double)STREAM_MIB, STREAM_RUNS, tcp, aead);
		fflush(stdout);
	}
	if (want(argc, argv, "handshake")) {
		x = raw_x25519_per_s(0.5);
		v = sodium_x25519_per_s(0.5);
		x = x > v ? x : v;
		v = raw_ed25519_verify_per_s(0.5);
		hs = sodium_verify_per_s(0.5);
		v = v > hs ? v : hs;
		hs_bound = 1.0 / (8.0 / x + 2.0 / v);
		hs = handshakes_per_s(&na, &nb);
		tls = tls_handshakes_per_s();
		bench_line("btnet", "socket_handshake_vs_crypto_bound", hs,
		    "handshakes/s", hs_bound, "handshakes/s", ">= 0.4");
		if (tls > 0)
			bench_line("btnet", "socket_handshake_vs_tls13", hs,
			    "handshakes/s", tls, "handshakes/s", ">= 2");
		else
			printf("bench btnet.socket_handshake_vs_tls13: not "
			    "measured (openssl s_server/s_time "
			    "unavailable)\n");
	}
	if (want(argc, argv, "rtt")) {
		two_cpus(&cpu, &other);
		rtt_run(&na, &nb, 7, cpu, other, &res);
		rtt_report("rtt64_vs_raw_tcp", "<= 1.2", other != cpu ?
		    "2 processes a pair, each end on its own CPU" :
		    "2 processes a pair; one CPU here", &res);
		rtt_run(&na, &nb, 7, cpu, cpu, &res);
		rtt_report("rtt64_vs_raw_tcp.1cpu", "<= 1.2", "2 processes a "
		    "pair, all on one CPU", &res);
	}
	fflush(stdout);
	node_free(&na);
	node_free(&nb);
	free(rtt);
	return 0;
}
