/*
 * btnode - the BlockTree node daemon: configuration -> keystore (its
 * swtpm child when asked) -> store -> DHT storage -> network ->
 * replicator -> API server -> HTTP gateway, wired on one event loop,
 * with signals, logging and the data directory's lock.  The layers are
 * libbttpm, libbtstore, libbtnet and libbtapi; see btnode(8).
 *
 * Admission: btnode makes its attestation statement with its keystore
 * (a TPM statement, or an "unattested" one from a software keystore),
 * hands it to libbtnet, and, under the attested or activated policy,
 * judges each peer's statement with libbttpm against the configured CA
 * files; under activated it also challenges the peer's TPM.  Every node
 * answers challenges with its own TPM.
 */
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

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

#include <bt/apidht.h>
#include <bt/apifeed.h>
#include <bt/apigateway.h>
#include <bt/apirepl.h>
#include <bt/apiserver.h>
#include <bt/id.h>
#include <bt/net.h>
#include <bt/store.h>
#include <bt/tpm.h>

#include "btnode-internal.h"
#include "config.h"

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

static void
repl_log(void *arg, int level, const char *msg)
{
	(void)arg;
	/* BTAPI_LOG_* and BTNODE_LOG_* count alike, most severe first */
	btnode_log(level, "%s", msg);
}

/* ---- files --------------------------------------------------------------- */

/* mkdir -p with mode 0700 for what is made. */
int
btnode_mkdirs(const char *path)
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

char *
btnode_join(const char *a, const char *b)
{
	size_t n = strlen(a) + strlen(b) + 2;
	char *p = malloc(n);

	if (p != NULL)
		snprintf(p, n, "%s/%s", a, b);
	return p;
}

/* ---- the node ------------------------------------------------------------ */

struct node {
	struct btnode_config cfg;
	const char *cfg_path;
	int cfg_must_exist;
	struct event_base *base;
	struct btnode_swtpm tpm;
	struct bttpm_keystore *ks;
	struct btcore_signer signer;
	struct bttpm_verifier *verifier;	/* attested, activated */
	uint8_t *stmt;				/* our statement */
	size_t stmt_len;
	struct btstore *store;
	struct btapi_dhtstore *dht;
	struct btnet_dht_storage iface;
	struct btnet *net;
	struct btapi_replicator *repl;
	struct btapi_feedsync *feeds;
	struct btapi_server *api;
	struct btapi_gateway *gw;
	struct btapi_gateway_static *statics;
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
		btapi_replicator_online(n->repl);
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
    struct btapi_gateway_static **out)
{
	struct btapi_gateway_static *s;
	const char *why = NULL;
	size_t i;

	*out = NULL;
	if (cfg->nstatics == 0)
		return 0;
	if ((s = calloc(cfg->nstatics, sizeof(*s))) == NULL)
		return -1;
	for (i = 0; i < cfg->nstatics; i++)
		if (btapi_gateway_parse_static(&s[i], cfg->statics[i],
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
gw_config(struct btapi_gateway_config *gc, const struct btnode_config *cfg,
    const struct btapi_gateway_static *st)
{
	btapi_gateway_config_init(gc);
	gc->listen = cfg->gateway;
	gc->statics = st;
	gc->n_statics = cfg->nstatics;
}

static void
reload(struct node *n)
{
	struct btnode_config nc;
	struct btapi_gateway_static *st = NULL;
	struct btapi_gateway_config gc;
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
		gw_config(&gc, &nc, st);
		gc.listen = n->cfg.gateway;
		if (btapi_gateway_reload(n->gw, &gc) != BT_OK) {
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
		if (btnode_swtpm_start(&n->tpm, n->cfg.datadir,
		    n->cfg.swtpm_port) != 0)
			goto out;
		snprintf(uri, sizeof(uri), "tpm:swtpm:host=127.0.0.1,port=%u",
		    n->tpm.port);
	} else
		snprintf(uri, sizeof(uri), "%s", ks);
	if ((keys = btnode_join(n->cfg.datadir, "keys")) == NULL ||
	    btnode_mkdirs(keys) != 0) {
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

/* ---- admission ------------------------------------------------------------ */

static const char *
reason_text(int reason)
{
	if (reason <= BT_ERR_BTTPM_BASE && reason > BT_ERR_BTTPM_BASE - 1000)
		return bttpm_strerror(reason);
	return btnet_strerror(reason);
}

static int
admit_peer(void *arg, const struct bt_id *peer,
    const struct bt_pubkey *identity, const uint8_t *stmt, size_t len,
    int *reason)
{
	struct node *n = arg;
	struct bt_id ek;
	char hex[BT_ID_HEX_LEN + 1], ekhex[BT_ID_HEX_LEN + 1];
	int rc;

	/* the activation part of "activated" is the challenge round */
	rc = bttpm_admission_check(n->verifier, BTTPM_POLICY_ATTESTED,
	    identity, stmt, len, NULL, NULL, &ek);
	if (rc != BT_OK) {
		*reason = rc;
		return 0;
	}
	btnode_log(BTNODE_LOG_DEBUG, "peer %.16s: TPM %.16s attested",
	    btcore_id_to_hex(peer, hex), btcore_id_to_hex(&ek, ekhex));
	return 1;
}

static int
admit_challenge(void *arg, const struct bt_id *peer, const uint8_t *stmt,
    size_t len, uint8_t *chal, size_t cap, size_t *chal_len,
    uint8_t secret[32], int *reason)
{
	uint8_t *c = NULL;
	size_t clen = 0;
	int rc;

	(void)arg;
	(void)peer;
	rc = bttpm_challenge_make(stmt, len, secret, &c, &clen);
	if (rc == BT_OK && (clen == 0 || clen > cap))
		rc = BT_ETOOBIG;
	if (rc != BT_OK) {
		bttpm_free(c);
		*reason = rc;
		return 0;
	}
	memcpy(chal, c, clen);
	*chal_len = clen;
	bttpm_free(c);
	*reason = BTTPM_E_ACTIVATION;	/* if the answer is wrong */
	return 1;
}

static int
admit_answer(void *arg, const struct bt_id *peer, const uint8_t *chal,
    size_t len, uint8_t secret[32])
{
	struct node *n = arg;
	char hex[BT_ID_HEX_LEN + 1];
	int rc;

	rc = bttpm_keystore_activate(n->ks, chal, len, secret);
	btnode_log(rc == BT_OK ? BTNODE_LOG_DEBUG : BTNODE_LOG_WARN,
	    "peer %.16s challenged our TPM: %s", btcore_id_to_hex(peer, hex),
	    rc == BT_OK ? "answered" : bttpm_strerror(rc));
	return rc;
}

static void
admit_event(void *arg, const struct bt_id *peer, int event, int reason)
{
	char hex[BT_ID_HEX_LEN + 1];

	(void)arg;
	btcore_id_to_hex(peer, hex);
	if (event == BTNET_ADMIT_ADMITTED)
		btnode_log(BTNODE_LOG_INFO, "admission: admitted peer %s", hex);
	else if (event == BTNET_ADMIT_REFUSED)
		btnode_log(BTNODE_LOG_WARN, "admission: refused peer %s: %s",
		    hex, reason_text(reason));
	else
		btnode_log(BTNODE_LOG_WARN, "admission: peer %s refused this "
		    "node: %s", hex, reason_text(reason));
}

/* Our statement, and the verifier when peers must be attested. */
static int
admission_setup(struct node *n)
{
	size_t i;
	int rc;

	rc = bttpm_keystore_attest(n->ks, (uint64_t)time(NULL), &n->stmt,
	    &n->stmt_len);
	if (rc != BT_OK) {
		/* without a statement this node is refused by attested
		   peers, but it may still serve open ones */
		btnode_log(rc == BTTPM_E_NOEK && n->cfg.admission ==
		    BTNODE_ADMIT_OPEN ? BTNODE_LOG_INFO : BTNODE_LOG_WARN,
		    "admission: no attestation statement (%s)%s", bttpm_strerror(rc), rc ==
		    BTTPM_E_NOEK ? ": the TPM holds no endorsement "
		    "certificate; peers requiring admission will refuse "
		    "this node" : "");
		n->stmt = NULL;
		n->stmt_len = 0;
	} else if (!bttpm_keystore_is_tpm(n->ks)) {
		btnode_log(BTNODE_LOG_INFO, "admission: software keystore; "
		    "peers requiring attestation will refuse this node");
	}
	if (n->cfg.admission == BTNODE_ADMIT_OPEN)
		return 0;
	if (n->cfg.nca == 0) {
		btnode_log(BTNODE_LOG_ERROR, "admission = %s needs at least one "
		    "\"ca = <PEM file>\" to check endorsement certificates",
		    btnode_admission_name(n->cfg.admission));
		return -1;
	}
	if (bttpm_verifier_new(&n->verifier) != BT_OK)
		return -1;
	for (i = 0; i < n->cfg.nca; i++)
		if ((rc = bttpm_verifier_add_ca_file(n->verifier,
		    n->cfg.ca[i])) != BT_OK) {
			btnode_log(BTNODE_LOG_ERROR, "ca %s: %s", n->cfg.ca[i],
			    rc == BT_ENOTFOUND ? "no such file" : rc ==
			    BT_EFORMAT ? "no PEM certificate in it" :
			    bttpm_strerror(rc));
			return -1;
		}
	btnode_log(BTNODE_LOG_INFO, "admission: %s, %zu CA file%s",
	    btnode_admission_name(n->cfg.admission), n->cfg.nca,
	    n->cfg.nca == 1 ? "" : "s");
	return 0;
}

static void
admission_config(struct node *n, struct btnet_admission *a)
{
	a->stmt = n->stmt;
	a->stmt_len = n->stmt_len;
	a->answer = admit_answer;
	a->event = admit_event;
	a->arg = n;
	if (n->cfg.admission != BTNODE_ADMIT_OPEN)
		a->admit = admit_peer;
	if (n->cfg.admission == BTNODE_ADMIT_ACTIVATED)
		a->challenge = admit_challenge;
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
	struct btapi_replicator_config rc_;
	struct btapi_feedsync_config fc;
	struct btapi_server_config ac;
	struct btapi_gateway_config gc;
	struct bt_id id;
	char *dir = NULL, idhex[BT_ID_HEX_LEN + 1], addr[80];
	size_t i;
	int rc, ret = -1;

	if (open_keystore(n) != 0 || admission_setup(n) != 0)
		goto out;
	btcore_id_to_hex((const struct bt_id *)(const void *)&n->signer.pub,
	    n->home);
	if ((dir = btnode_join(n->cfg.datadir, "store")) == NULL ||
	    btnode_mkdirs(dir) != 0) {
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
	/* the store answers for the DHT */
	if (btapi_dhtstore_new(&n->dht, n->store, n->cfg.dht_max_bytes,
	    n->cfg.dht_max_items) != BT_OK)
		goto out;
	btapi_dhtstore_storage(n->dht, &n->iface);
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
	admission_config(n, &nc.admission);
	if ((rc = btnet_open(&n->net, n->base, &n->signer, &n->iface,
	    &nc)) != BT_OK) {
		btnode_log(BTNODE_LOG_ERROR, "network: %s (listen %s)",
		    btnet_strerror(rc), n->cfg.nlisten > 0 ?
		    n->cfg.listen[0] : "none");
		goto out;
	}
	btnet_setcb(n->net, net_event, n);
	btnet_local_id(n->net, &id);
	/* publish the home namespace, fetch the others on demand */
	btapi_replicator_config_init(&rc_);
	rc_.store = n->store;
	rc_.net = n->net;
	rc_.signer = &n->signer;
	rc_.dhtstore = n->dht;
	rc_.fetch_max_blocks = n->cfg.fetch_max_blocks;
	rc_.fetch_timeout_ms = n->cfg.fetch_timeout_s * 1000u;
	rc_.push_max_blocks = n->cfg.push_max_blocks;
	rc_.replication = n->cfg.replication;
	rc_.keystore_tpm = bttpm_keystore_is_tpm(n->ks);
	rc_.version = BTNODE_VERSION;
	rc_.log = repl_log;
	if ((rc = btapi_replicator_open(&n->repl, n->base, &rc_)) != BT_OK) {
		btnode_log(BTNODE_LOG_ERROR, "replication: %s",
		    btapi_strerror(rc));
		goto out;
	}
	/* serve feeds to other nodes, follow theirs */
	btapi_feedsync_config_init(&fc);
	fc.store = n->store;
	fc.net = n->net;
	fc.signer = &n->signer;
	fc.log = repl_log;
	if ((rc = btapi_feedsync_open(&n->feeds, n->base, &fc)) != BT_OK) {
		btnode_log(BTNODE_LOG_ERROR, "feeds: %s", btapi_strerror(rc));
		goto out;
	}
	btapi_server_config_init(&ac);
	ac.socket_path = n->sock;
	ac.store = n->store;
	ac.net = n->net;
	ac.signer = &n->signer;
	ac.replicator = n->repl;
	ac.feedsync = n->feeds;
	if ((rc = btapi_server_open(&n->api, n->base, &ac)) != BT_OK) {
		btnode_log(BTNODE_LOG_ERROR, "API socket %s: %s", n->sock,
		    rc == BT_EEXIST ? "another node answers there" :
		    rc == BT_EPERM ? "its directory must be ours and mode "
		    "0700" : btapi_strerror(rc));
		if (rc == BT_EEXIST)
			n->exit_code = EXIT_BUSY;
		goto out;
	}
	if (n->cfg.gateway != NULL) {
		if (parse_statics(n, &n->cfg, &n->statics) != 0)
			goto out;
		gw_config(&gc, &n->cfg, n->statics);
		if ((rc = btapi_gateway_open(&n->gw, n->base, n->api,
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
	/* outside in: HTTP, programs, replication, peers, then the data */
	btapi_gateway_close(n->gw);
	n->gw = NULL;
	btapi_server_close(n->api);
	n->api = NULL;
	btapi_feedsync_stop(n->feeds);
	btapi_replicator_stop(n->repl);
	if (n->net != NULL) {
		btnet_offline(n->net);
		/* let the closes reach the peers */
		(void)event_base_loop(n->base, EVLOOP_NONBLOCK);
	}
	btnet_close(n->net);
	n->net = NULL;
	btapi_feedsync_free(n->feeds);
	n->feeds = NULL;
	btapi_replicator_free(n->repl);
	n->repl = NULL;
	btapi_dhtstore_free(n->dht);
	n->dht = NULL;
	if (n->store != NULL && btstore_sync(n->store) != BT_OK)
		btnode_log(BTNODE_LOG_ERROR, "store: final sync failed");
	btstore_close(n->store);
	n->store = NULL;
	bttpm_verifier_free(n->verifier);
	n->verifier = NULL;
	bttpm_free(n->stmt);
	n->stmt = NULL;
	bttpm_keystore_close(n->ks);
	n->ks = NULL;
	btnode_swtpm_stop(&n->tpm);
}

/* ---- command line -------------------------------------------------------- */

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
		if ((def_cfg = btnode_join(n.cfg.datadir, "btnode.conf")) == NULL)
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
	if (btnode_mkdirs(n.cfg.datadir) != 0) {
		btnode_log(BTNODE_LOG_ERROR, "cannot create the data directory "
		    "%s", n.cfg.datadir);
		goto out;
	}
	if ((lockpath = btnode_join(n.cfg.datadir, "lock")) == NULL)
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
