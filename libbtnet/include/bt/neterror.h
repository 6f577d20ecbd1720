/*
 * bt/neterror.h - libbtnet's error codes, error text and version.
 */
#ifndef BT_NETERROR_H
#define BT_NETERROR_H

#include <bt/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * libbtnet's own error block (-4000 ... -4999).  Functions of libbtnet
 * also return the generic BT_ codes of <bt/common.h>.
 */
/** A cipher state reached the last nonce (2^64 - 1): reconnect. */
#define BTNET_ENONCE	(BT_ERR_BTNET_BASE - 0)
/** The peer authenticated, but is not the node that was dialled. */
#define BTNET_EPEERID	(BT_ERR_BTNET_BASE - 1)
/** The node could not be resolved or reached. */
#define BTNET_EUNREACHABLE	(BT_ERR_BTNET_BASE - 16)
/** The remote node has no handler for the scope called. */
#define BTNET_ENOSCOPE		(BT_ERR_BTNET_BASE - 17)
/** The remote handler answered with an error (code and text given). */
#define BTNET_EREMOTE		(BT_ERR_BTNET_BASE - 18)
/** Admission refused: the peer has no valid statement, or refused ours. */
#define BTNET_EADMISSION	(BT_ERR_BTNET_BASE - 19)

/**
 * Describe an error code of libbtnet, libbtcore or a generic BT_ code.
 *
 * @param err	BT_OK or a negative code.
 * @return	static text, never NULL; codes libbtnet does not own are
 *		described by btcore_strerror().  Thread safe.
 * @since 0.1
 */
BT_EXPORT const char *btnet_strerror(int err);

/**
 * The library's version as "MAJOR.MINOR.PATCH".  Static text.
 * @since 0.1
 */
BT_EXPORT const char *btnet_version(void);

/** Compile-time version of the headers. */
#define BTNET_VERSION_MAJOR	0
#define BTNET_VERSION_MINOR	1
#define BTNET_VERSION_PATCH	0

#ifdef __cplusplus
}
#endif
#endif /* BT_NETERROR_H */
