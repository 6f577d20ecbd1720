/*
 * bt/scope.h - names of message scopes.
 *
 * A scope names a service a node or a program offers over BlockTree
 * messages (RPC calls and direct messages) and is what a program manifest
 * grants.  One rule holds everywhere: 1 to BTCORE_SCOPE_MAX bytes of
 * A-Z a-z 0-9 and the characters . _ - : /, compared exactly.
 */
#ifndef BT_SCOPE_H
#define BT_SCOPE_H

#include <bt/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Longest scope name in bytes. */
#define BTCORE_SCOPE_MAX	64

/**
 * Whether @p len bytes at @p scope (borrowed; need not be NUL-terminated)
 * form a valid scope name.
 * @return 1 when valid, 0 when not (also for NULL).  Thread safe.
 * @since 0.1
 */
BT_EXPORT int btcore_scope_valid(const char *scope, size_t len);

#ifdef __cplusplus
}
#endif
#endif /* BT_SCOPE_H */
