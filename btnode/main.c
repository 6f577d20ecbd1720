/*
 * btnode - the BlockTree node daemon: keystore -> store -> network ->
 * API socket -> HTTP gateway, wired on one event loop.  See btnode(8).
 */
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include <bt/apiserver.h>
#include <bt/id.h>
#include <bt/net.h>
#include <bt/store.h>
#include <bt/tpm.h>

#include "btnode-internal.h"
#include "config.h"
#include "gateway.h"
#include "replicate.h"
#include "storage.h"

/* Exit codes (btnode(8)). */
#define EXIT_STOPPED	0	/* stopped by a signal, cleanly */
#define EXIT_RUNTIME	1	/* could not start, or failed running */
#define EXIT_USAGE	2	/* bad command line or configuration */
#define EXIT_BUSY	3	/* another btnode uses the data directory */

static int log_level = BTNODE_LOG_INFO;
static int log_syslog;

void
btnode_log(int level, const char *fmt, ...)
{
	static const int prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };
	char msg[1024], stamp[32];
	struct tm tm;
	time_t now;
	va_list ap;

	if (level > log_level)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (log_syslog) {
		syslog(prio[level], "%s", msg);
		return;
	}
	now = time(NULL);
	if (gmtime_r(&now, &tm) == NULL ||
	    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		stamp[0] = '\0';
	fprintf(stderr, "%s btnode[%ld] %s: %s\n", stamp, (long)getpid(),
	    btnode_log_level_name(level), msg);
}

static void
store_log(void *arg, int level, const char *msg)
{
	(void)arg;
	btnode_log(level == BTSTORE_LOG_ERROR ? BTNODE_LOG_ERROR :
	    BTNODE_LOG_DEBUG, "store: %s", msg);
}

static void
tpm_log(void *arg, const char *msg)
{
	(void)arg;
	btnode_log(BTNODE_LOG_DEBUG, "keystore: %s", msg);
}

/* ---- files -------------------------------------------------------------- */

/* mkdir -p with mode 0700 for what is made. */
static int
mkdirs(const char *path)
{
	char *p = strdup(path), *s;
	int rc = -1;

	if (p == NULL)
		return -1;
	for (s = p + 1; ; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		char c = *s;

		*s = '\0';
		if (mkdir(p, 0700) != 0 && errno != EEXIST)
			goto out;
		*s = c;
		if (c == '\0')
			break;
	}
	rc = 0;
out:
	free(p);
	return rc;
}

static char *
join(const char *a, const char *b)
{
	size_t n = strlen(a) + strlen(b) + 2;
	char *p = malloc(n);

	if (p != NULL)
		snprintf(p, n, "%s/%s", a, b);
	return p;
}

/* ---- swtpm ------------------------------------------------------------------- */

struct swtpm {
	pid_t pid;
	unsigned port;
	char *dir;
};

static int
port_free(unsigned port)
{
	struct sockaddr_in sa;
	int fd, ok;

	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) < 0)
		return 0;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ok = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return ok;
}

/* A port P with P and P + 1 free on 127.0.0.1. */
static unsigned
find_ports(void)
{
	struct bt_id rnd;
	unsigned i, p;
	uint32_t r;

	for (i = 0; i < 200; i++) {
		if (btcore_id_random(&rnd) == BT_OK)
			memcpy(&r, rnd.b, sizeof(r));
		else
			r = (uint32_t)getpid() * 7919u + i * 104729u;
		p = 61000 + r % 4000;	/* above the ephemeral ports */
		if (port_free(p) && port_free(p + 1))
			return p;
	}
	return 0;
}

static int
port_answers(unsigned port)
{
	struct sockaddr_in sa;
	int fd, ok;

	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) < 0)
		return 0;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return ok;
}

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static pid_t
spawn(char *const argv[])
{
	pid_t pid = fork();
	int fd;

	if (pid != 0)
		return pid;
	/* the child: ends with us, stays out of our terminal's signals */
	(void)prctl(PR_SET_PDEATHSIG, SIGTERM);
	(void)setpgid(0, 0);
	if ((fd = open("/dev/null", O_RDWR)) >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		if (fd > 2)
			close(fd);
	}
	execvp(argv[0], argv);
	_exit(127);
}

/* Wait for @p pid at most @p ms; 1 when it ended. */
static int
wait_for(pid_t pid, long ms, int *status)
{
	long t;
	int st;

	for (t = 0; t <= ms; t += 10) {
		pid_t w = waitpid(pid, &st, WNOHANG);

		if (w == pid || (w < 0 && errno == ECHILD)) {
			if (status != NULL)
				*status = w == pid ? st : 0;
			return 1;
		}
		sleep_ms(10);
	}
	return 0;
}

static void
swtpm_stop(struct swtpm *t)
{
	char ctrl[32];
	char *argv[] = { "swtpm_ioctl", "--tcp", ctrl, "-s", NULL };
	pid_t p;

	if (t->pid <= 0)
		return;
	snprintf(ctrl, sizeof(ctrl), "127.0.0.1:%u", t->port + 1);
	if ((p = spawn(argv)) > 0 && !wait_for(p, 3000, NULL)) {
		kill(p, SIGKILL);
		(void)wait_for(p, 1000, NULL);
	}
	if (!wait_for(t->pid, 3000, NULL)) {
		kill(t->pid, SIGTERM);
		if (!wait_for(t->pid, 2000, NULL)) {
			kill(t->pid, SIGKILL);
			(void)wait_for(t->pid, 2000, NULL);
		}
	}
	btnode_log(BTNODE_LOG_INFO, "swtpm stopped");
	t->pid = 0;
}

static int
swtpm_start(struct swtpm *t, const char *datadir, unsigned cfg_port)
{
	char state[4200], server[80], ctrl[80], log[4200];
	char *argv[] = { "swtpm", "socket", "--tpm2", "--tpmstate", state,
	    "--server", server, "--ctrl", ctrl, "--flags",
	    "not-need-init,startup-clear", "--log", log, NULL };
	int attempt, status;
	long ms;

	if ((t->dir = join(datadir, "swtpm")) == NULL)
		return -1;
	if (strchr(t->dir, ',') != NULL) {
		btnode_log(BTNODE_LOG_ERROR, "swtpm: the data directory must "
		    "not contain a comma: %s", t->dir);
		return -1;
	}
	if (mkdirs(t->dir) != 0) {
		btnode_log(BTNODE_LOG_ERROR, "swtpm: cannot create %s",
		    t->dir);
		return -1;
	}
	snprintf(state, sizeof(state), "dir=%s", t->dir);
	snprintf(log, sizeof(log), "file=%s/swtpm.log,level=1", t->dir);
	for (attempt = 0; attempt < 10; attempt++) {
		t->port = cfg_port != 0 ? cfg_port : find_ports();
		if (t->port == 0) {
			btnode_log(BTNODE_LOG_ERROR, "swtpm: no free port pair");
			return -1;
		}
		snprintf(server, sizeof(server),
		    "type=tcp,port=%u,bindaddr=127.0.0.1", t->port);
		snprintf(ctrl, sizeof(ctrl),
		    "type=tcp,port=%u,bindaddr=127.0.0.1", t->port + 1);
		if ((t->pid = spawn(argv)) < 0) {
			btnode_log(BTNODE_LOG_ERROR, "swtpm: cannot fork");
			return -1;
		}
		for (ms = 0; ms < 5000; ms += 10) {
			if (wait_for(t->pid, 0, &status)) {
				t->pid = 0;
				break;
			}
			if (port_answers(t->port)) {
				btnode_log(BTNODE_LOG_INFO, "swtpm started "
				    "(pid %ld, 127.0.0.1:%u, state %s)",
				    (long)t->pid, t->port, t->dir);
				return 0;
			}
			sleep_ms(10);
		}
		if (t->pid > 0) {
			kill(t->pid, SIGKILL);
			(void)wait_for(t->pid, 2000, NULL);
			t->pid = 0;
		} else if (WIFEXITED(status) && WEXITSTATUS(status) == 127) {
			btnode_log(BTNODE_LOG_ERROR, "swtpm: cannot run swtpm "
			    "(install the swtpm package, or set keystore = "
			    "file:<path> in btnode.conf)");
			return -1;
		}
		/* port taken meanwhile, or the state still locked by an
		   instance that is ending: try again */
		sleep_ms(300);
	}
	btnode_log(BTNODE_LOG_ERROR, "swtpm: did not start; see %s/swtpm.log",
	    t->dir);
	return -1;
}

/* ---- the node ------------------------------------------------------------------ */

struct node {
	struct btnode_config cfg;
	const char *cfg_path;
	int cfg_must_exist;
	struct event_base *base;
	struct swtpm tpm;
	struct bttpm_keystore *ks;
	struct btcore_signer signer;
	struct btstore *store;
	struct btnode_storage *storage;
	struct btnet_dht_storage iface;
	struct btnet *net;
	struct btapi_server *api;
	struct btnode_repl *repl;
	struct btnode_gateway *gw;
	struct btnode_gateway_static *statics;
	char *sock;
	char home[BT_ID_HEX_LEN + 1];
	struct event *sig_term, *sig_int, *sig_hup, *rejoin;
	unsigned backoff;
	int stopping;
	int exit_code;
};

static int
go_online(struct node *n)
{
	const char *boot[BTNET_BOOTSTRAP_MAX];
	size_t i;
	int rc;

	for (i = 0; i < n->cfg.nbootstrap; i++)
		boot[i] = n->cfg.bootstrap[i];
	rc = btnet_online(n->net, n->cfg.nbootstrap > 0 ? boot : NULL,
	    n->cfg.nbootstrap);
	if (rc == BT_ESTATE)
		rc = BT_OK;
	return rc;
}

static void
rejoin_cb(evutil_socket_t fd, short what, void *arg)
{
	struct node *n = arg;
	int rc;

	(void)fd;
	(void)what;
	if (n->stopping || btnet_is_online(n->net))
		return;
	if ((rc = go_online(n)) != BT_OK)
		btnode_log(BTNODE_LOG_WARN, "cannot go online: %s",
		    btapi_strerror(rc));
}

static void
net_event(void *arg, int event, int status)
{
	struct node *n = arg;
	struct timeval tv;

	if (event == BTNET_EVENT_ONLINE) {
		n->backoff = 0;
		btnode_log(BTNODE_LOG_INFO, "online (%zu peers)",
		    btnet_peers(n->net, NULL, 0));
		btnode_repl_online(n->repl);
		return;
	}
	if (n->stopping || status == BT_OK)
		return;
	if (n->cfg.nbootstrap == 0) {
		/* the first node of a network waits to be contacted */
		btnode_log(BTNODE_LOG_DEBUG, "no peer left; waiting for "
		    "contacts");
		rejoin_cb(-1, 0, n);
		return;
	}
	n->backoff = n->backoff == 0 ? 2 : n->backoff * 2;
	if (n->backoff > 60)
		n->backoff = 60;
	btnode_log(BTNODE_LOG_WARN, "offline (%s); joining again in %u s",
	    status == BT_ETIMEDOUT ? "no bootstrap peer answered" :
	    "the last peer went away", n->backoff);
	tv.tv_sec = (time_t)n->backoff;
	tv.tv_usec = 0;
	(void)evtimer_add(n->rejoin, &tv);
}

static int
parse_statics(struct node *n, const struct btnode_config *cfg,
    struct btnode_gateway_static **out)
{
	struct btnode_gateway_static *s;
	const char *why = NULL;
	size_t i;

	*out = NULL;
	if (cfg->nstatics == 0)
		return 0;
	if ((s = calloc(cfg->nstatics, sizeof(*s))) == NULL)
		return -1;
	for (i = 0; i < cfg->nstatics; i++)
		if (btnode_gateway_parse_static(&s[i], cfg->statics[i],
		    n->home, &why) != BT_OK) {
			btnode_log(BTNODE_LOG_ERROR, "[gateway] static \"%s\": "
			    "%s", cfg->statics[i], why != NULL ? why : "bad");
			free(s);
			return -1;
		}
	*out = s;
	return 0;
}

static void
gw_config(struct node *n, struct btnode_gateway_config *gc,
    const struct btnode_config *cfg, const struct btnode_gateway_static *st)
{
	btnode_gateway_config_init(gc);
	gc->listen = cfg->gateway;
	gc->statics = st;
	gc->n_statics = cfg->nstatics;
	(void)n;
}

static void
reload(struct node *n)
{
	struct btnode_config nc;
	struct btnode_gateway_static *st = NULL;
	struct btnode_gateway_config gc;
	char err[512];
	size_t i;

	if (btnode_config_defaults(&nc) != 0) {
		btnode_log(BTNODE_LOG_ERROR, "reload: out of memory");
		return;
	}
	if (btnode_config_load(&nc, n->cfg_path, n->cfg_must_exist, err,
	    sizeof(err)) != 0) {
		btnode_log(BTNODE_LOG_ERROR, "reload: %s; keeping the running "
		    "settings", err);
		goto out;
	}
	if (parse_statics(n, &nc, &st) != 0)
		goto out;
	if (n->gw != NULL) {
		gw_config(n, &gc, &nc, st);
		gc.listen = n->cfg.gateway;
		if (btnode_gateway_reload(n->gw, &gc) != BT_OK) {
			btnode_log(BTNODE_LOG_ERROR, "reload: the gateway "
			    "refused the new routes; keeping the running "
			    "settings");
			goto out;
		}
	}
	/* take over what can change while running */
	log_level = nc.log_level;
	n->cfg.log_level = nc.log_level;
	for (i = 0; i < n->cfg.nbootstrap; i++)
		free(n->cfg.bootstrap[i]);
	memcpy(n->cfg.bootstrap, nc.bootstrap, sizeof(nc.bootstrap));
	n->cfg.nbootstrap = nc.nbootstrap;
	nc.nbootstrap = 0;
	for (i = 0; i < n->cfg.nstatics; i++)
		free(n->cfg.statics[i]);
	memcpy(n->cfg.statics, nc.statics, sizeof(nc.statics));
	n->cfg.nstatics = nc.nstatics;
	nc.nstatics = 0;
	free(n->statics);
	n->statics = st;
	st = NULL;
	btnode_log(BTNODE_LOG_INFO, "reloaded %s: log level %s, %zu bootstrap "
	    "peers, %zu static routes (other settings apply at the next "
	    "start)", n->cfg_path, btnode_log_level_name(log_level),
	    n->cfg.nbootstrap, n->cfg.nstatics);
	if (!btnet_is_online(n->net) && n->cfg.nbootstrap > 0)
		rejoin_cb(-1, 0, n);
out:
	free(st);
	btnode_config_free(&nc);
}

static void
signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct node *n = arg;

	(void)what;
	if (sig == SIGHUP) {
		reload(n);
		return;
	}
	btnode_log(BTNODE_LOG_INFO, "%s: stopping",
	    sig == SIGTERM ? "SIGTERM" : "SIGINT");
	n->stopping = 1;
	event_base_loopbreak(n->base);
}

static int
open_keystore(struct node *n)
{
	struct bttpm_options opt;
	char uri[256], *keys = NULL;
	const char *ks = n->cfg.keystore;
	int rc, ret = -1;

	if (ks == NULL)
		ks = access("/dev/tpmrm0", R_OK | W_OK) == 0 ?
		    "tpm:device:/dev/tpmrm0" : "swtpm";
	if (strcmp(ks, "swtpm") == 0) {
		if (swtpm_start(&n->tpm, n->cfg.datadir, n->cfg.swtpm_port) != 0)
			goto out;
		snprintf(uri, sizeof(uri), "tpm:swtpm:host=127.0.0.1,port=%u",
		    n->tpm.port);
	} else
		snprintf(uri, sizeof(uri), "%s", ks);
	if ((keys = join(n->cfg.datadir, "keys")) == NULL || mkdirs(keys) != 0) {
		btnode_log(BTNODE_LOG_ERROR, "cannot create %s/keys",
		    n->cfg.datadir);
		goto out;
	}
	memset(&opt, 0, sizeof(opt));
	opt.version = BTTPM_OPTIONS_VERSION;
	opt.flags = BTTPM_OPEN_CREATE;
	opt.log = tpm_log;
	if ((rc = bttpm_keystore_open(&n->ks, uri, keys, &opt)) != BT_OK) {
		btnode_log(BTNODE_LOG_ERROR, "keystore %s: %s", uri,
		    bttpm_strerror(rc));
		goto out;
	}
	bttpm_keystore_signer(n->ks, &n->signer);
	btnode_log(BTNODE_LOG_INFO, "keystore: %s (%s)", uri,
	    bttpm_keystore_is_tpm(n->ks) ? "key sealed by a TPM" :
	    "software key, not attested");
	ret = 0;
out:
	free(keys);
	return ret;
}

static int
all_loopback(const struct btnode_config *cfg)
{
	size_t i;

	if (cfg->nlisten == 0)
		return 0;
	for (i = 0; i < cfg->nlisten; i++)
		if (strncmp(cfg->listen[i], "127.", 4) != 0 &&
		    strncmp(cfg->listen[i], "[::1]", 5) != 0)
			return 0;
	return 1;
}

static int
start(struct node *n)
{
	struct btstore_options *so = NULL;
	struct btnet_config nc;
	struct btapi_server_config ac;
	struct btnode_repl_config rc_;
	struct btnode_gateway_config gc;
	struct bt_id id;
	char *dir = NULL, idhex[BT_ID_HEX_LEN + 1], addr[80];
	size_t i;
	int rc, ret = -1;

	if (open_keystore(n) != 0)
		goto out;
	btcore_id_to_hex((const struct bt_id *)(const void *)&n->signer.pub,
	    n->home);
	if ((dir = join(n->cfg.datadir, "store")) == NULL || mkdirs(dir) != 0) {
		btnode_log(BTNODE_LOG_ERROR, "cannot create %s/store",
		    n->cfg.datadir);
		goto out;
	}
	if (btstore_options_new(&so) != BT_OK ||
	    btstore_options_set_log(so, store_log, NULL) != BT_OK)
		goto out;
	if ((rc = btstore_open(&n->store, dir, so)) != BT_OK) {
		btnode_log(BTNODE_LOG_ERROR, "store %s: %s", dir,
		    btstore_strerror(rc));
		goto out;
	}
	if (btnode_storage_new(&n->storage, n->store, n->cfg.dht_max_bytes,
	    n->cfg.dht_max_items, &n->iface) != BT_OK)
		goto out;
	btnet_config_init(&nc);
	for (i = 0; i < n->cfg.nlisten; i++)
		nc.listen[i] = n->cfg.listen[i];
	nc.nlisten = n->cfg.nlisten;
	nc.replication = n->cfg.replication;
	if (all_loopback(&n->cfg)) {
		/* every loopback address is this machine */
		nc.prefix_per_bucket = BT_K;
		nc.prefix_per_table = 1000;
	}
	if ((rc = btnet_open(&n->net, n->base, &n->signer, &n->iface,
	    &nc)) != BT_OK) {
		btnode_log(BTNODE_LOG_ERROR, "network: %s (listen %s)",
		    btnet_strerror(rc), n->cfg.nlisten > 0 ?
		    n->cfg.listen[0] : "none");
		goto out;
	}
	btnet_setcb(n->net, net_event, n);
	btnet_local_id(n->net, &id);
	btapi_server_config_init(&ac);
	ac.socket_path = n->sock;
	ac.store = n->store;
	ac.net = n->net;
	ac.signer = &n->signer;
	if ((rc = btapi_server_open(&n->api, n->base, &ac)) != BT_OK) {
		btnode_log(BTNODE_LOG_ERROR, "API socket %s: %s", n->sock,
		    rc == BT_EEXIST ? "another node answers there" :
		    rc == BT_EPERM ? "its directory must be ours and mode "
		    "0700" : btapi_strerror(rc));
		if (rc == BT_EEXIST)
			n->exit_code = EXIT_BUSY;
		goto out;
	}
	memset(&rc_, 0, sizeof(rc_));
	rc_.base = n->base;
	rc_.store = n->store;
	rc_.net = n->net;
	rc_.storage = n->storage;
	rc_.signer = &n->signer;
	rc_.socket_path = n->sock;
	rc_.keystore_tpm = bttpm_keystore_is_tpm(n->ks);
	rc_.replication = n->cfg.replication;
	rc_.fetch_max_blocks = n->cfg.fetch_max_blocks;
	rc_.fetch_timeout_s = n->cfg.fetch_timeout_s;
	rc_.push_max_blocks = n->cfg.push_max_blocks;
	if ((rc = btnode_repl_open(&n->repl, &rc_)) != BT_OK) {
		btnode_log(BTNODE_LOG_ERROR, "replication: %s",
		    btapi_strerror(rc));
		goto out;
	}
	if (n->cfg.gateway != NULL) {
		if (parse_statics(n, &n->cfg, &n->statics) != 0)
			goto out;
		gw_config(n, &gc, &n->cfg, n->statics);
		if ((rc = btnode_gateway_open(&n->gw, n->base, n->api,
		    n->store, &gc)) != BT_OK) {
			btnode_log(BTNODE_LOG_ERROR, "gateway %s: %s",
			    n->cfg.gateway, rc == BT_EIO ? "cannot listen "
			    "(address in use?)" : btapi_strerror(rc));
			goto out;
		}
	}
	if ((rc = go_online(n)) != BT_OK) {
		btnode_log(BTNODE_LOG_ERROR, "cannot go online: %s",
		    btnet_strerror(rc));
		goto out;
	}
	if (n->cfg.nlisten == 0 ||
	    btnet_local_addr(n->net, 0, addr, sizeof(addr)) != BT_OK)
		snprintf(addr, sizeof(addr), "none");
	btnode_log(BTNODE_LOG_INFO, "ready: node %s, home /%s, listening on "
	    "%s, API %s, gateway %s", btcore_id_to_hex(&id, idhex), n->home,
	    addr, n->sock, n->cfg.gateway != NULL ? n->cfg.gateway : "off");
	ret = 0;
out:
	btstore_options_free(so);
	free(dir);
	return ret;
}

static void
stop(struct node *n)
{
	btnode_repl_stop(n->repl);
	btnode_gateway_close(n->gw);
	n->gw = NULL;
	btapi_server_close(n->api);
	n->api = NULL;
	if (n->net != NULL) {
		btnet_offline(n->net);
		/* let the closes reach the peers */
		(void)event_base_loop(n->base, EVLOOP_NONBLOCK);
	}
	btnet_close(n->net);
	n->net = NULL;
	btnode_repl_free(n->repl);
	n->repl = NULL;
	btnode_storage_free(n->storage);
	n->storage = NULL;
	if (n->store != NULL && btstore_sync(n->store) != BT_OK)
		btnode_log(BTNODE_LOG_ERROR, "store: final sync failed");
	btstore_close(n->store);
	n->store = NULL;
	bttpm_keystore_close(n->ks);
	n->ks = NULL;
	swtpm_stop(&n->tpm);
}

/* ---- command line --------------------------------------------------------------- */

static void
usage(FILE *f)
{
	fprintf(f, "usage: btnode [-fsV] [-c config] [-d datadir] "
	    "[--check-config]\n"
	    "  -c FILE         configuration (default <datadir>/btnode.conf)\n"
	    "  -d DIR          data directory (default $BT_HOME or "
	    "~/.local/share/blocktree)\n"
	    "  -f              stay in the foreground\n"
	    "  -s              log to syslog\n"
	    "  --check-config  check the configuration, print it, exit\n"
	    "  -V              print the version\n");
}

/* Detach: the parent exits 0 once the child says it is ready. */
static int
detach(int *ready_fd)
{
	int p[2];
	pid_t pid;
	char c;
	ssize_t r;
	int status;

	if (pipe(p) != 0)
		return -1;
	if ((pid = fork()) < 0)
		return -1;
	if (pid > 0) {
		close(p[1]);
		do
			r = read(p[0], &c, 1);
		while (r < 0 && errno == EINTR);
		if (r == 1)
			_exit(EXIT_STOPPED);
		if (waitpid(pid, &status, 0) == pid && WIFEXITED(status))
			_exit(WEXITSTATUS(status));
		_exit(EXIT_RUNTIME);
	}
	close(p[0]);
	(void)setsid();
	*ready_fd = p[1];
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "check-config", no_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	struct node n;
	const char *cfg_file = NULL, *datadir = NULL;
	char *def_cfg = NULL, *lockpath = NULL, err[512];
	int ch, foreground = 0, check = 0, lockfd = -1, ready_fd = -1, fd;

	memset(&n, 0, sizeof(n));
	n.exit_code = EXIT_RUNTIME;
	while ((ch = getopt_long(argc, argv, "c:d:fshV", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'c':
			cfg_file = optarg;
			break;
		case 'd':
			datadir = optarg;
			break;
		case 'f':
			foreground = 1;
			break;
		case 's':
			log_syslog = 1;
			break;
		case 'C':
			check = 1;
			break;
		case 'V':
			printf("btnode %s\n", BTNODE_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (btnode_config_defaults(&n.cfg) != 0 ||
	    (datadir != NULL && btnode_config_set_datadir(&n.cfg,
	    datadir) != 0)) {
		fprintf(stderr, "btnode: out of memory\n");
		return EXIT_RUNTIME;
	}
	if (datadir != NULL && datadir[0] != '/') {
		fprintf(stderr, "btnode: -d %s: the data directory must be an "
		    "absolute path\n", datadir);
		return EXIT_USAGE;
	}
	if (cfg_file == NULL) {
		if ((def_cfg = join(n.cfg.datadir, "btnode.conf")) == NULL)
			return EXIT_RUNTIME;
		n.cfg_path = def_cfg;
	} else {
		n.cfg_path = cfg_file;
		n.cfg_must_exist = 1;
	}
	if (btnode_config_load(&n.cfg, n.cfg_path, n.cfg_must_exist, err,
	    sizeof(err)) != 0) {
		fprintf(stderr, "btnode: %s\n", err);
		n.exit_code = EXIT_USAGE;
		goto out;
	}
	if (datadir != NULL && btnode_config_set_datadir(&n.cfg, datadir) != 0)
		goto out;
	log_level = n.cfg.log_level;
	if ((n.sock = btnode_config_socket(&n.cfg)) == NULL)
		goto out;
	if (check) {
		btnode_config_print(&n.cfg, stdout);
		n.exit_code = EXIT_STOPPED;
		goto out;
	}
	if (!foreground) {
		log_syslog = 1;
		if (detach(&ready_fd) != 0) {
			fprintf(stderr, "btnode: cannot detach\n");
			goto out;
		}
	}
	if (log_syslog)
		openlog("btnode", LOG_PID, LOG_DAEMON);
	signal(SIGPIPE, SIG_IGN);
	if (mkdirs(n.cfg.datadir) != 0) {
		btnode_log(BTNODE_LOG_ERROR, "cannot create the data directory "
		    "%s", n.cfg.datadir);
		goto out;
	}
	if ((lockpath = join(n.cfg.datadir, "lock")) == NULL)
		goto out;
	if ((lockfd = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0 ||
	    flock(lockfd, LOCK_EX | LOCK_NB) != 0) {
		btnode_log(BTNODE_LOG_ERROR, "%s is in use by another btnode",
		    n.cfg.datadir);
		n.exit_code = EXIT_BUSY;
		goto out;
	}
	{
		/* the lock file names the running node's process */
		char pid[32];
		int pl = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());

		if (ftruncate(lockfd, 0) != 0 ||
		    pwrite(lockfd, pid, (size_t)pl, 0) != (ssize_t)pl)
			btnode_log(BTNODE_LOG_WARN, "cannot write %s", lockpath);
	}
	if ((n.base = event_base_new()) == NULL ||
	    (n.sig_term = evsignal_new(n.base, SIGTERM, signal_cb,
	    &n)) == NULL ||
	    (n.sig_int = evsignal_new(n.base, SIGINT, signal_cb, &n)) == NULL ||
	    (n.sig_hup = evsignal_new(n.base, SIGHUP, signal_cb, &n)) == NULL ||
	    (n.rejoin = evtimer_new(n.base, rejoin_cb, &n)) == NULL ||
	    evsignal_add(n.sig_term, NULL) != 0 ||
	    evsignal_add(n.sig_int, NULL) != 0 ||
	    evsignal_add(n.sig_hup, NULL) != 0) {
		btnode_log(BTNODE_LOG_ERROR, "cannot set up the event loop");
		goto out;
	}
	if (start(&n) != 0)
		goto stop;
	if (ready_fd >= 0) {
		if (write(ready_fd, "R", 1) != 1)
			btnode_log(BTNODE_LOG_WARN, "lost the starting process");
		close(ready_fd);
		ready_fd = -1;
		if ((fd = open("/dev/null", O_RDWR)) >= 0) {
			dup2(fd, 0);
			dup2(fd, 1);
			dup2(fd, 2);
			if (fd > 2)
				close(fd);
		}
	}
	if (event_base_dispatch(n.base) < 0)
		btnode_log(BTNODE_LOG_ERROR, "the event loop failed");
	else if (n.stopping)
		n.exit_code = EXIT_STOPPED;
stop:
	stop(&n);
	if (n.exit_code == EXIT_STOPPED)
		btnode_log(BTNODE_LOG_INFO, "stopped");
out:
	if (n.sig_term != NULL)
		event_free(n.sig_term);
	if (n.sig_int != NULL)
		event_free(n.sig_int);
	if (n.sig_hup != NULL)
		event_free(n.sig_hup);
	if (n.rejoin != NULL)
		event_free(n.rejoin);
	if (n.base != NULL)
		event_base_free(n.base);
	if (lockfd >= 0)
		close(lockfd);
	if (ready_fd >= 0)
		close(ready_fd);
	free(n.statics);
	free(n.sock);
	free(n.tpm.dir);
	free(lockpath);
	free(def_cfg);
	btnode_config_free(&n.cfg);
	if (log_syslog)
		closelog();
	return n.exit_code;
}
