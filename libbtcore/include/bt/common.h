/*
 * bt/common.h - definitions shared by every BlockTree library.
 *
 * This header is part of libbtcore and is the only place suite-wide BT_
 * names are defined.  It includes nothing but <stddef.h> and <stdint.h>.
 */
#ifndef BT_COMMON_H
#define BT_COMMON_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * BT_EXPORT marks a function as part of a library's public ABI.  It always
 * expands to default visibility, also when a header is read by a program or
 * by another library of the suite: an empty expansion on the consumer side
 * would break links between the shared libraries.
 */
#if defined(__GNUC__) || defined(__clang__)
#define BT_EXPORT	__attribute__((visibility("default")))
#define BT_WUR		__attribute__((warn_unused_result))
#define BT_NONNULL(...)	__attribute__((nonnull(__VA_ARGS__)))
#else
#define BT_EXPORT
#define BT_WUR
#define BT_NONNULL(...)
#endif

/** Success.  Every fallible function returns BT_OK or a negative code. */
#define BT_OK		0

/*
 * Generic error codes, shared by the whole suite (-1 ... -999).  Each
 * library owns a block of its own below these: btcore -1000..-1999,
 * bttpm -2000..-2999, btstore -3000..-3999, btnet -4000..-4999,
 * btapi -5000..-5999.  Use btcore_strerror() (or the library's own
 * *_strerror(), which defers to the layer below) to describe a code.
 */
#define BT_EINVAL	(-1)	/* invalid argument */
#define BT_ENOMEM	(-2)	/* out of memory */
#define BT_ERANGE	(-3)	/* value or size out of the allowed range */
#define BT_EFORMAT	(-4)	/* malformed encoding */
#define BT_ETRUNC	(-5)	/* input ends too early */
#define BT_EVERIFY	(-6)	/* signature, hash or MAC does not verify */
#define BT_ECRYPTO	(-7)	/* the crypto library failed */
#define BT_ENOTFOUND	(-8)	/* no such item */
#define BT_EEXIST	(-9)	/* item already exists */
#define BT_EIO		(-10)	/* input/output error */
#define BT_ESTATE	(-11)	/* object is in the wrong state (or failed earlier) */
#define BT_EPERM	(-12)	/* operation not permitted */
#define BT_ENOSPC	(-13)	/* storage limit or quota reached */
#define BT_ECORRUPT	(-14)	/* stored data is corrupt */
#define BT_ETIMEDOUT	(-15)	/* operation timed out */
#define BT_EAGAIN	(-16)	/* try again later */
#define BT_ETOOBIG	(-17)	/* input larger than the protocol allows */
#define BT_ESTALE	(-18)	/* older than what is already known */
#define BT_ECONFLICT	(-19)	/* same version, different content */
#define BT_EUNSUPPORTED	(-20)	/* feature or version not supported */
#define BT_ECLOSED	(-21)	/* connection or stream is closed */
#define BT_EPROTO	(-22)	/* peer broke the protocol */

/** First and last code of each library's own block. */
#define BT_ERR_BTCORE_BASE	(-1000)
#define BT_ERR_BTTPM_BASE	(-2000)
#define BT_ERR_BTSTORE_BASE	(-3000)
#define BT_ERR_BTNET_BASE	(-4000)
#define BT_ERR_BTAPI_BASE	(-5000)

/** Protocol constants fixed for the whole suite. */
#define BT_ID_LEN		32		/* bytes in an id */
#define BT_MSG_MAX		(1024 * 1024)	/* largest wire message */
#define BT_REQUEST_TIMEOUT_MS	5000		/* a request waits this long */
#define BT_K			20		/* k-bucket size */
#define BT_ALPHA		3		/* parallel lookups */
#define BT_REPLICATION_DEFAULT	5
#define BT_REPLICATION_MAX	20

#ifdef __cplusplus
}
#endif
#endif /* BT_COMMON_H */
