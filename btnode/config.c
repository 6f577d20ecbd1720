/*
 * config.c - btnode.conf(5): defaults, the INI reader (libinih) with line
 * numbers, and the checks of every key.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <ini.h>

#include <bt/apigateway.h>
#include <bt/common.h>

#include "config.h"

#define DEFAULT_LISTEN		"0.0.0.0:7100"
#define DEFAULT_GATEWAY		"127.0.0.1:8080"

static const char *const level_names[] = { "error", "warn", "info", "debug" };
static const char *const admission_names[] = { "open", "attested",
    "activated" };

const char *
btnode_admission_name(int policy)
{
	if (policy < BTNODE_ADMIT_OPEN || policy > BTNODE_ADMIT_ACTIVATED)
		return "?";
	return admission_names[policy];
}

const char *
btnode_log_level_name(int level)
{
	if (level < 0 || level > BTNODE_LOG_DEBUG)
		return "?";
	return level_names[level];
}

static int
set_str(char **slot, const char *v)
{
	char *n = strdup(v);

	if (n == NULL)
		return -1;
	free(*slot);
	*slot = n;
	return 0;
}

int
btnode_config_defaults(struct btnode_config *cfg)
{
	const char *home = getenv("BT_HOME"), *h = getenv("HOME");
	char *dir = NULL;
	size_t n;
	int rc = -1;

	memset(cfg, 0, sizeof(*cfg));
	cfg->log_level = BTNODE_LOG_INFO;
	cfg->admission = BTNODE_ADMIT_OPEN;
	cfg->replication = BT_REPLICATION_DEFAULT;
	cfg->fetch_max_blocks = 1u << 20;
	cfg->fetch_timeout_s = 300;
	cfg->push_max_blocks = 1u << 20;
	cfg->dht_max_bytes = 256u << 20;
	cfg->dht_max_items = 65536;
	if (home != NULL && home[0] != '\0') {
		dir = strdup(home);
	} else {
		if (h == NULL || h[0] == '\0')
			h = "/";
		n = strlen(h) + sizeof("/.local/share/blocktree");
		if ((dir = malloc(n)) != NULL)
			snprintf(dir, n, "%s/.local/share/blocktree", h);
	}
	if (dir == NULL)
		goto out;
	cfg->datadir = dir;
	if ((cfg->listen[0] = strdup(DEFAULT_LISTEN)) == NULL ||
	    (cfg->gateway = strdup(DEFAULT_GATEWAY)) == NULL)
		goto out;
	cfg->nlisten = 1;
	rc = 0;
out:
	return rc;
}

int
btnode_config_set_datadir(struct btnode_config *cfg, const char *dir)
{
	return set_str(&cfg->datadir, dir);
}

char *
btnode_config_socket(const struct btnode_config *cfg)
{
	char *p;
	size_t n;

	if (cfg->api_socket != NULL)
		return strdup(cfg->api_socket);
	n = strlen(cfg->datadir) + sizeof("/api/sock");
	if ((p = malloc(n)) != NULL)
		snprintf(p, n, "%s/api/sock", cfg->datadir);
	return p;
}

void
btnode_config_free(struct btnode_config *cfg)
{
	size_t i;

	if (cfg == NULL)
		return;
	free(cfg->datadir);
	free(cfg->keystore);
	for (i = 0; i < cfg->nlisten; i++)
		free(cfg->listen[i]);
	for (i = 0; i < cfg->nbootstrap; i++)
		free(cfg->bootstrap[i]);
	for (i = 0; i < cfg->nstatics; i++)
		free(cfg->statics[i]);
	for (i = 0; i < cfg->nca; i++)
		free(cfg->ca[i]);
	free(cfg->api_socket);
	free(cfg->gateway);
	memset(cfg, 0, sizeof(*cfg));
}

/* ---- value checks ------------------------------------------------------ */

/* "IPv4:port" or "[IPv6]:port", numeric; port 1..65535 (0 with any_port). */
static int
addr_ok(const char *s, int any_port, int empty_host)
{
	char host[64];
	const char *colon, *h = s;
	size_t hl;
	unsigned long port;
	char *end;
	unsigned char buf[16];

	if (s[0] == '[') {
		const char *rb = strchr(s, ']');

		if (rb == NULL || rb[1] != ':')
			return 0;
		h = s + 1;
		hl = (size_t)(rb - h);
		colon = rb + 1;
	} else {
		if ((colon = strrchr(s, ':')) == NULL)
			return 0;
		hl = (size_t)(colon - s);
	}
	if (hl >= sizeof(host))
		return 0;
	memcpy(host, h, hl);
	host[hl] = '\0';
	if (colon[1] < '0' || colon[1] > '9')
		return 0;
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (errno != 0 || *end != '\0' || port > 65535 ||
	    (port == 0 && !any_port))
		return 0;
	if (hl == 0)
		return empty_host;
	if (s[0] == '[')
		return inet_pton(AF_INET6, host, buf) == 1;
	return inet_pton(AF_INET, host, buf) == 1;
}

/* A decimal number (with an optional K, M or G suffix when @p sizes). */
static int
number(const char *s, uint64_t lo, uint64_t hi, int sizes, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (s[0] < '0' || s[0] > '9')
		return 0;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0)
		return 0;
	if (sizes && *end != '\0' && end[1] == '\0') {
		unsigned shift = *end == 'K' || *end == 'k' ? 10 :
		    *end == 'M' || *end == 'm' ? 20 :
		    *end == 'G' || *end == 'g' ? 30 : 0;

		if (shift == 0 || v > (UINT64_MAX >> shift))
			return 0;
		v <<= shift;
		end++;
	}
	if (*end != '\0' || v < lo || v > hi)
		return 0;
	*out = v;
	return 1;
}

/* ---- the INI file ---------------------------------------------------------- */

struct parse {
	struct btnode_config *cfg;
	FILE *f;
	const char *path;
	int line;
	char *err;
	size_t cap;
	int failed;
};

static int
fail(struct parse *p, const char *section, const char *name,
    const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!p->failed)
		snprintf(p->err, p->cap, "%s:%d: [%s] %s: %s", p->path,
		    p->line, section, name, msg);
	p->failed = 1;
	return 0;
}

static char *
reader(char *str, int num, void *stream)
{
	struct parse *p = stream;
	char *r = fgets(str, num, p->f);
	size_t n;

	if (r != NULL) {
		n = strlen(str);
		if (n > 0 && str[n - 1] == '\n')
			p->line++;
		else if (!feof(p->f)) {
			/* inih splits longer lines; refuse them instead */
			if (!p->failed)
				snprintf(p->err, p->cap, "%s:%d: line longer "
				    "than %d bytes", p->path, p->line + 1,
				    num - 2);
			p->failed = 1;
			return NULL;
		} else
			p->line++;
	}
	return r;
}

static int
list_add(struct parse *p, const char *section, const char *name,
    char **arr, size_t *n, size_t max, int *set, const char *v)
{
	size_t i;

	if (!*set) {
		for (i = 0; i < *n; i++) {
			free(arr[i]);
			arr[i] = NULL;
		}
		*n = 0;
		*set = 1;
	}
	if (*n >= max)
		return fail(p, section, name, "more than %zu values", max);
	if ((arr[*n] = strdup(v)) == NULL)
		return fail(p, section, name, "out of memory");
	(*n)++;
	return 1;
}

static int
handler(void *user, const char *section, const char *name, const char *value)
{
	struct parse *p = user;
	struct btnode_config *c = p->cfg;
	uint64_t v;
	size_t i;

	if (p->failed)
		return 0;
	if (strcmp(section, "node") == 0) {
		if (strcmp(name, "datadir") == 0) {
			if (value[0] != '/')
				return fail(p, section, name, "\"%s\" is not "
				    "an absolute path", value);
			if (set_str(&c->datadir, value) != 0)
				return fail(p, section, name, "out of memory");
		} else if (strcmp(name, "keystore") == 0) {
			if (strcmp(value, "auto") != 0 &&
			    strcmp(value, "swtpm") != 0 &&
			    !(strncmp(value, "tpm:", 4) == 0 && value[4]) &&
			    !(strncmp(value, "file:", 5) == 0 &&
			    value[5] == '/'))
				return fail(p, section, name, "\"%s\" is not "
				    "auto, swtpm, tpm:<TCTI> or "
				    "file:<absolute path>", value);
			if (strcmp(value, "auto") == 0) {
				free(c->keystore);
				c->keystore = NULL;
			} else if (set_str(&c->keystore, value) != 0)
				return fail(p, section, name, "out of memory");
		} else if (strcmp(name, "log_level") == 0) {
			for (i = 0; i < 4; i++)
				if (strcmp(value, level_names[i]) == 0)
					break;
			if (i == 4)
				return fail(p, section, name, "\"%s\" is not "
				    "error, warn, info or debug", value);
			c->log_level = (int)i;
		} else if (strcmp(name, "admission") == 0) {
			for (i = 0; i < 3; i++)
				if (strcmp(value, admission_names[i]) == 0)
					break;
			if (i == 3)
				return fail(p, section, name, "\"%s\" is not "
				    "open, attested or activated", value);
			c->admission = (int)i;
		} else if (strcmp(name, "ca") == 0) {
			if (value[0] != '/')
				return fail(p, section, name, "\"%s\" is not "
				    "an absolute path", value);
			return list_add(p, section, name, c->ca, &c->nca,
			    BTNODE_CA_MAX, &c->ca_set, value);
		} else
			return fail(p, section, name, "unknown key");
	} else if (strcmp(section, "network") == 0) {
		if (strcmp(name, "listen") == 0) {
			if (strcmp(value, "none") == 0) {
				for (i = 0; i < c->nlisten; i++)
					free(c->listen[i]);
				c->nlisten = 0;
				c->listen_set = 1;
				return 1;
			}
			if (!addr_ok(value, 1, 0))
				return fail(p, section, name, "\"%s\" is not a "
				    "numeric IPv4:port or [IPv6]:port", value);
			return list_add(p, section, name, c->listen,
			    &c->nlisten, BTNET_LISTEN_MAX, &c->listen_set,
			    value);
		} else if (strcmp(name, "bootstrap") == 0) {
			if (!addr_ok(value, 0, 0))
				return fail(p, section, name, "\"%s\" is not a "
				    "numeric IPv4:port or [IPv6]:port", value);
			return list_add(p, section, name, c->bootstrap,
			    &c->nbootstrap, BTNET_BOOTSTRAP_MAX,
			    &c->bootstrap_set, value);
		} else if (strcmp(name, "replication") == 0) {
			if (!number(value, 1, BT_REPLICATION_MAX, 0, &v))
				return fail(p, section, name, "\"%s\" is not a "
				    "number from 1 to %d", value,
				    BT_REPLICATION_MAX);
			c->replication = (unsigned)v;
		} else
			return fail(p, section, name, "unknown key");
	} else if (strcmp(section, "api") == 0) {
		if (strcmp(name, "socket") != 0)
			return fail(p, section, name, "unknown key");
		if (value[0] != '/' || strlen(value) > 100)
			return fail(p, section, name, "\"%s\" is not an "
			    "absolute path of at most 100 bytes", value);
		if (set_str(&c->api_socket, value) != 0)
			return fail(p, section, name, "out of memory");
	} else if (strcmp(section, "gateway") == 0) {
		if (strcmp(name, "listen") == 0) {
			if (strcmp(value, "off") == 0) {
				free(c->gateway);
				c->gateway = NULL;
				return 1;
			}
			if (!addr_ok(value, 1, 1))
				return fail(p, section, name, "\"%s\" is not "
				    "off, IPv4:port, [IPv6]:port or :port",
				    value);
			if (set_str(&c->gateway, value) != 0)
				return fail(p, section, name, "out of memory");
		} else if (strcmp(name, "static") == 0) {
			struct btapi_gateway_static *r;
			const char *why = NULL;
			int rc;

			if ((r = malloc(sizeof(*r))) == NULL)
				return fail(p, section, name, "out of memory");
			rc = btapi_gateway_parse_static(r, value,
			    "0000000000000000000000000000000000000000000000000000000000000000",
			    &why);
			free(r);
			if (rc != BT_OK)
				return fail(p, section, name, "\"%s\": %s",
				    value, why != NULL ? why : "not "
				    "[host]/prefix=/path");
			return list_add(p, section, name, c->statics,
			    &c->nstatics, BTNODE_STATIC_MAX, &c->statics_set,
			    value);
		} else
			return fail(p, section, name, "unknown key");
	} else if (strcmp(section, "swtpm") == 0) {
		if (strcmp(name, "port") != 0)
			return fail(p, section, name, "unknown key");
		if (!number(value, 1024, 65534, 0, &v))
			return fail(p, section, name, "\"%s\" is not a port "
			    "from 1024 to 65534 (it and the next are used)",
			    value);
		c->swtpm_port = (unsigned)v;
	} else if (strcmp(section, "replication") == 0) {
		if (strcmp(name, "fetch_max_blocks") == 0) {
			if (!number(value, 1, 1u << 24, 0, &v))
				return fail(p, section, name, "\"%s\" is not a "
				    "number from 1 to 16777216", value);
			c->fetch_max_blocks = (uint32_t)v;
		} else if (strcmp(name, "push_max_blocks") == 0) {
			if (!number(value, 1, 1u << 24, 0, &v))
				return fail(p, section, name, "\"%s\" is not a "
				    "number from 1 to 16777216", value);
			c->push_max_blocks = (uint32_t)v;
		} else if (strcmp(name, "fetch_timeout") == 0) {
			if (!number(value, 1, 3600, 0, &v))
				return fail(p, section, name, "\"%s\" is not a "
				    "number of seconds from 1 to 3600", value);
			c->fetch_timeout_s = (uint32_t)v;
		} else if (strcmp(name, "dht_max_bytes") == 0) {
			if (!number(value, 1u << 20, (uint64_t)1 << 40, 1, &v))
				return fail(p, section, name, "\"%s\" is not a "
				    "size from 1M to 1024G", value);
			c->dht_max_bytes = v;
		} else if (strcmp(name, "dht_max_items") == 0) {
			if (!number(value, 16, 1u << 24, 0, &v))
				return fail(p, section, name, "\"%s\" is not a "
				    "number from 16 to 16777216", value);
			c->dht_max_items = (uint32_t)v;
		} else
			return fail(p, section, name, "unknown key");
	} else
		return fail(p, section, name, "unknown section");
	return 1;
}

int
btnode_config_load(struct btnode_config *cfg, const char *path, int must_exist,
    char *err, size_t cap)
{
	struct parse p;
	int rc;

	memset(&p, 0, sizeof(p));
	p.cfg = cfg;
	p.path = path;
	p.err = err;
	p.cap = cap;
	if ((p.f = fopen(path, "r")) == NULL) {
		if (errno == ENOENT && !must_exist)
			return 0;
		snprintf(err, cap, "%s: cannot open: %s", path,
		    errno == ENOENT ? "no such file" :
		    errno == EACCES ? "permission denied" : "error");
		return -1;
	}
	rc = ini_parse_stream(reader, &p, handler, &p);
	fclose(p.f);
	if (p.failed)
		return -1;
	if (rc != 0) {
		snprintf(err, cap, "%s:%d: not a key = value line or [section]",
		    path, rc > 0 ? rc : p.line);
		return -1;
	}
	return 0;
}

void
btnode_config_print(const struct btnode_config *cfg, void *fp)
{
	FILE *f = fp;
	char *sock = btnode_config_socket(cfg);
	size_t i;

	fprintf(f, "[node]\ndatadir = %s\nkeystore = %s\nlog_level = %s\n"
	    "admission = %s\n", cfg->datadir,
	    cfg->keystore != NULL ? cfg->keystore : "auto",
	    btnode_log_level_name(cfg->log_level),
	    btnode_admission_name(cfg->admission));
	for (i = 0; i < cfg->nca; i++)
		fprintf(f, "ca = %s\n", cfg->ca[i]);
	fprintf(f, "\n[network]\n");
	if (cfg->nlisten == 0)
		fprintf(f, "listen = none\n");
	for (i = 0; i < cfg->nlisten; i++)
		fprintf(f, "listen = %s\n", cfg->listen[i]);
	for (i = 0; i < cfg->nbootstrap; i++)
		fprintf(f, "bootstrap = %s\n", cfg->bootstrap[i]);
	fprintf(f, "replication = %u\n\n[api]\nsocket = %s\n\n[gateway]\n"
	    "listen = %s\n", cfg->replication, sock != NULL ? sock : "?",
	    cfg->gateway != NULL ? cfg->gateway : "off");
	for (i = 0; i < cfg->nstatics; i++)
		fprintf(f, "static = %s\n", cfg->statics[i]);
	if (cfg->swtpm_port != 0)
		fprintf(f, "\n[swtpm]\nport = %u\n", cfg->swtpm_port);
	fprintf(f, "\n[replication]\nfetch_max_blocks = %u\nfetch_timeout = %u\n"
	    "push_max_blocks = %u\ndht_max_bytes = %llu\ndht_max_items = %u\n",
	    cfg->fetch_max_blocks, cfg->fetch_timeout_s, cfg->push_max_blocks,
	    (unsigned long long)cfg->dht_max_bytes, cfg->dht_max_items);
	free(sock);
}
