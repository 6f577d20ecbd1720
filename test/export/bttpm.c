/*
 * Links libbttpm.so through its public headers only: a software keystore,
 * its statement, admission and registration.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bt/key.h>
#include <bt/tpm.h>

int
main(void)
{
	char dir[] = "/tmp/bttpm-export.XXXXXX", uri[96], path[64];
	struct bttpm_options o;
	struct bttpm_keystore *ks = NULL;
	struct bttpm_verifier *v = NULL;
	struct bttpm_registry *reg = NULL;
	struct btcore_signer s;
	struct bt_pubkey pub;
	struct bt_id ek;
	uint8_t *st = NULL, rec[BTTPM_REGISTRATION_LEN];
	size_t len;
	int ok = 0;

	if (mkdtemp(dir) == NULL)
		return 1;
	snprintf(path, sizeof(path), "%s/seed", dir);
	snprintf(uri, sizeof(uri), "file:%s", path);
	memset(&o, 0, sizeof(o));
	o.version = BTTPM_OPTIONS_VERSION;
	o.flags = BTTPM_OPEN_CREATE;
	memset(&ek, 0x11, sizeof(ek));
	if (bttpm_keystore_open(&ks, uri, NULL, &o) != BT_OK ||
	    bttpm_keystore_is_tpm(ks) != 0 ||
	    bttpm_keystore_attest(ks, 1, &st, &len) != BT_OK ||
	    bttpm_verifier_new(&v) != BT_OK)
		goto out;
	bttpm_keystore_public(ks, &pub);
	bttpm_keystore_signer(ks, &s);
	if (bttpm_statement_verify(v, st, len, NULL, NULL, NULL) !=
	    BTTPM_E_UNATTESTED ||
	    bttpm_admission_check(v, BTTPM_POLICY_ATTESTED, &pub, st, len, NULL,
	    NULL, NULL) != BTTPM_E_UNATTESTED ||
	    bttpm_registry_new(&reg) != BT_OK ||
	    bttpm_registration_make(&s, &ek, 2, rec) != BT_OK ||
	    bttpm_registry_claim(reg, rec, sizeof(rec)) != BT_OK)
		goto out;
	if (strcmp(bttpm_strerror(BTTPM_E_UNATTESTED),
	    "identity is software-only (unattested by a TPM)") != 0)
		goto out;
	ok = 1;
out:
	bttpm_free(st);
	bttpm_registry_free(reg);
	bttpm_verifier_free(v);
	bttpm_keystore_close(ks);
	unlink(path);
	rmdir(dir);
	if (!ok) {
		fprintf(stderr, "export test: libbttpm public API failed\n");
		return 1;
	}
	printf("libbttpm.so %s: public API reachable\n", bttpm_version());
	return 0;
}
