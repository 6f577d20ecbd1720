/*
 * error.c - libbtnet's error descriptions and version.
 */
#include <bt/error.h>
#include <bt/neterror.h>

#ifndef BTNET_VERSION_STRING
#error "the build defines BTNET_VERSION_STRING from libbtnet/VERSION"
#endif

const char *
btnet_strerror(int err)
{
	switch (err) {
	case BTNET_ENONCE:
		return "cipher nonce space exhausted; the connection must be renewed";
	case BTNET_EPEERID:
		return "peer is not the node that was dialled";
	case BTNET_EUNREACHABLE:
		return "node could not be resolved or reached";
	case BTNET_ENOSCOPE:
		return "remote node serves no such scope";
	case BTNET_EREMOTE:
		return "remote handler answered with an error";
	case BTNET_EADMISSION:
		return "admission refused: no valid attestation statement (ours or the peer's)";
	default:
		return btcore_strerror(err);
	}
}

const char *
btnet_version(void)
{
	return BTNET_VERSION_STRING;
}
