/*
 * btnode/btnode-internal.h - what the files of btnode share: the log,
 * two file helpers and the swtpm child.
 */
#ifndef BTNODE_INTERNAL_H
#define BTNODE_INTERNAL_H

#include <sys/types.h>

#include "config.h"

/** btnode's version. */
#define BTNODE_VERSION	"0.1.0"

/**
 * Log one line at @p level (enum btnode_log_level) to stderr or syslog,
 * when the configured level lets it through.  Never pass secrets.
 */
void btnode_log(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/** mkdir -p, mode 0700 for what is made.  0 or -1. */
int btnode_mkdirs(const char *path);

/** "a/b", or NULL when out of memory.  Caller frees. */
char *btnode_join(const char *a, const char *b);

/** A swtpm child (main.c owns it; zeroed when none runs). */
struct btnode_swtpm {
	pid_t pid;
	unsigned port;		/* server port; the control port is + 1 */
	char *dir;		/* <datadir>/swtpm; caller frees */
};

/**
 * Start swtpm with its state in <datadir>/swtpm on 127.0.0.1:@p port
 * (0: a free port pair) and wait until it answers.  0, or -1 after
 * logging why.
 */
int btnode_swtpm_start(struct btnode_swtpm *t, const char *datadir,
    unsigned port);

/** Stop the child (control "shutdown", then signals) and reap it. */
void btnode_swtpm_stop(struct btnode_swtpm *t);

#endif /* BTNODE_INTERNAL_H */
