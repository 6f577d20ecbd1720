/*
 * error.c - libbtapi's error descriptions and version.
 */
#include <bt/apiproto.h>
#include <bt/neterror.h>
#include <bt/store.h>
#include <bt/tpm.h>

#ifndef BTAPI_VERSION_STRING
#error "the build defines BTAPI_VERSION_STRING from libbtapi/VERSION"
#endif

const char *
btapi_strerror(int err)
{
	switch (err) {
	case BTAPI_ELOCKED:
		return "the path is locked by another program";
	case BTAPI_EFENCED:
		return "the lock's fencing token has moved on; take the lock again";
	case BTAPI_EDENIED:
		return "the program's manifest does not allow this";
	case BTAPI_EOFFLINE:
		return "the node is offline (no network)";
	case BTAPI_EBADHANDLE:
		return "no such handle on this connection";
	case BTAPI_ENOHANDLER:
		return "no program handles this scope or route";
	case BTAPI_EGONE:
		return "the program serving the request went away";
	case BTAPI_ELIMIT:
		return "a per-connection limit of the node is reached";
	case BTAPI_EBADOP:
		return "the node does not know this operation";
	case BTAPI_EBUSY:
		return "another program already serves this scope or route";
	case BTAPI_EHTTP:
		return "the HTTP exchange with the other host failed";
	default:
		break;
	}
	if (err <= BT_ERR_BTSTORE_BASE && err > BT_ERR_BTNET_BASE)
		return btstore_strerror(err);
	if (err <= BT_ERR_BTTPM_BASE && err > BT_ERR_BTSTORE_BASE)
		return bttpm_strerror(err);
	return btnet_strerror(err);
}

const char *
btapi_version(void)
{
	return BTAPI_VERSION_STRING;
}
