/*
 * btnode/btnode-internal.h - what the files of btnode share: the log.
 */
#ifndef BTNODE_INTERNAL_H
#define BTNODE_INTERNAL_H

#include "config.h"

/** btnode's version. */
#define BTNODE_VERSION	"0.1.0"

/**
 * Log one line at @p level (enum btnode_log_level) to stderr or syslog,
 * when the configured level lets it through.  Never pass secrets.
 */
void btnode_log(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif /* BTNODE_INTERNAL_H */
