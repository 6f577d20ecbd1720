/*
 * bt/error.h - describing error codes.
 */
#ifndef BT_ERROR_H
#define BT_ERROR_H

#include <bt/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Describe an error code of libbtcore or a generic BT_ code.
 *
 * @param err	BT_OK or a negative code.
 * @return	static text, never NULL; "unknown error" for a code
 *		libbtcore does not know.  Thread safe.
 * @since 0.1
 */
BT_EXPORT const char *btcore_strerror(int err);

/**
 * The library's version as "MAJOR.MINOR.PATCH".  Static text.
 * @since 0.1
 */
BT_EXPORT const char *btcore_version(void);

/** Compile-time version of the headers. */
#define BTCORE_VERSION_MAJOR	0
#define BTCORE_VERSION_MINOR	1
#define BTCORE_VERSION_PATCH	0

#ifdef __cplusplus
}
#endif
#endif /* BT_ERROR_H */
