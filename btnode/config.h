/*
 * btnode/config.h - btnode's settings: defaults, the INI file
 * (btnode.conf(5)) and the command line override.
 *
 * Every value is checked when it is read; an error names the file, the
 * line and the key.  Strings are owned by the struct and released by
 * btnode_config_free().
 */
#ifndef BTNODE_CONFIG_H
#define BTNODE_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include <bt/net.h>

/** Most static gateway routes. */
#define BTNODE_STATIC_MAX	32

/** Log levels, most severe first. */
enum btnode_log_level {
	BTNODE_LOG_ERROR = 0,
	BTNODE_LOG_WARN,
	BTNODE_LOG_INFO,
	BTNODE_LOG_DEBUG
};

/** Most CA files for endorsement certificates. */
#define BTNODE_CA_MAX		8

/** Admission policies (the values of bt/tpm.h BTTPM_POLICY_*). */
enum btnode_admission {
	BTNODE_ADMIT_OPEN = 0,
	BTNODE_ADMIT_ATTESTED = 1,
	BTNODE_ADMIT_ACTIVATED = 2
};

struct btnode_config {
	char *datadir;			/* [node] datadir */
	char *keystore;			/* [node] keystore; NULL: auto */
	int log_level;			/* [node] log_level */
	int admission;			/* [node] admission */
	char *ca[BTNODE_CA_MAX];	/* [node] ca: EK CA PEM files */
	size_t nca;
	char *listen[BTNET_LISTEN_MAX];	/* [network] listen */
	size_t nlisten;
	char *bootstrap[BTNET_BOOTSTRAP_MAX]; /* [network] bootstrap */
	size_t nbootstrap;
	unsigned replication;		/* [network] replication */
	char *api_socket;		/* [api] socket; NULL: <data>/api/sock */
	char *gateway;			/* [gateway] listen; NULL: off */
	char *statics[BTNODE_STATIC_MAX]; /* [gateway] static */
	size_t nstatics;
	unsigned swtpm_port;		/* [swtpm] port; 0: any free */
	uint32_t fetch_max_blocks;	/* [replication] fetch_max_blocks */
	uint32_t fetch_timeout_s;	/* [replication] fetch_timeout */
	uint32_t push_max_blocks;	/* [replication] push_max_blocks */
	uint64_t dht_max_bytes;		/* [replication] dht_max_bytes */
	uint32_t dht_max_items;		/* [replication] dht_max_items */
	int listen_set, bootstrap_set, statics_set, ca_set;
};

/** Fill @p cfg with the defaults (data directory from $BT_HOME or
 *  ~/.local/share/blocktree).  Returns 0, or -1 when out of memory. */
int btnode_config_defaults(struct btnode_config *cfg);

/**
 * Read the INI file @p path over @p cfg.  On error, write a message naming
 * the line and key into @p err (@p cap bytes) and return -1.
 * @p must_exist 0 lets a missing file pass (the default path).
 */
int btnode_config_load(struct btnode_config *cfg, const char *path,
    int must_exist, char *err, size_t cap);

/** Set the data directory (the -d option). */
int btnode_config_set_datadir(struct btnode_config *cfg, const char *dir);

/** The API socket path: configured or <data>/api/sock.  Caller frees. */
char *btnode_config_socket(const struct btnode_config *cfg);

/** Admission policy name ("open", "attested", "activated"). */
const char *btnode_admission_name(int policy);

/** Log level name ("error" ... "debug"). */
const char *btnode_log_level_name(int level);

/** Write the effective settings to @p f (for --check-config). */
void btnode_config_print(const struct btnode_config *cfg, void *f);

void btnode_config_free(struct btnode_config *cfg);

#endif /* BTNODE_CONFIG_H */
