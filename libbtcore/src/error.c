/*
 * error.c - error descriptions and the library version.
 */
#include <bt/error.h>

#ifndef BTCORE_VERSION_STRING
#error "the build defines BTCORE_VERSION_STRING from libbtcore/VERSION"
#endif

const char *
btcore_strerror(int err)
{
	switch (err) {
	case BT_OK:		return "success";
	case BT_EINVAL:		return "invalid argument";
	case BT_ENOMEM:		return "out of memory";
	case BT_ERANGE:		return "value out of range";
	case BT_EFORMAT:	return "malformed encoding";
	case BT_ETRUNC:		return "input is truncated";
	case BT_EVERIFY:	return "verification failed (signature, hash or MAC)";
	case BT_ECRYPTO:	return "cryptographic library failure";
	case BT_ENOTFOUND:	return "not found";
	case BT_EEXIST:		return "already exists";
	case BT_EIO:		return "input/output error";
	case BT_ESTATE:		return "object is in the wrong state";
	case BT_EPERM:		return "operation not permitted";
	case BT_ENOSPC:		return "storage limit reached";
	case BT_ECORRUPT:	return "stored data is corrupt";
	case BT_ETIMEDOUT:	return "operation timed out";
	case BT_EAGAIN:		return "resource temporarily unavailable";
	case BT_ETOOBIG:	return "larger than the protocol allows";
	case BT_ESTALE:		return "older than the version already known";
	case BT_ECONFLICT:	return "same version with different content";
	case BT_EUNSUPPORTED:	return "not supported";
	case BT_ECLOSED:	return "closed";
	case BT_EPROTO:		return "protocol violation by peer";
	default:		return "unknown error";
	}
}

const char *
btcore_version(void)
{
	return BTCORE_VERSION_STRING;
}
