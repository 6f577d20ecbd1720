/*
 * Fuzz target: the credential-activation challenge decoder.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bttpm-internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	TPM2B_ID_OBJECT cred;
	TPM2B_ENCRYPTED_SECRET secret;

	if (bttpm_challenge_decode_(data, size, &cred, &secret) != BT_OK)
		return 0;
	/* accepted: both parts fit their TPM structures and fill the input */
	if (cred.size == 0 || cred.size > sizeof(cred.credential) ||
	    secret.size == 0 || secret.size > sizeof(secret.secret) ||
	    (size_t)9 + cred.size + secret.size != size ||
	    memcmp(cred.credential, data + 7, cred.size) != 0)
		abort();
	return 0;
}
