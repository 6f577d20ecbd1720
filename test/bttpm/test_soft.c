/*
 * test_soft.c - the software keystore, software statements, admission
 * policy, registration records and the decoders' hostile inputs.
 */
#define _GNU_SOURCE
#include <check.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bt/error.h>
#include <bt/hash.h>
#include <bt/key.h>
#include <bt/tpm.h>

#include "bttpm-internal.h"

Suite *suite_soft(void);

static char dir[64];

static int
rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void
setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/bttpm-soft.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void
teardown(void)
{
	(void)nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static struct bttpm_options
opts(unsigned flags, const char *pass)
{
	struct bttpm_options o;

	memset(&o, 0, sizeof(o));
	o.version = BTTPM_OPTIONS_VERSION;
	o.flags = flags;
	o.passphrase = pass;
	o.passphrase_len = pass != NULL ? strlen(pass) : 0;
	return o;
}

static void
save_seed(const char *name, const uint8_t *buf, size_t len)
{
	const char *d = getenv("BTTPM_SAVE_CORPUS");
	char path[1024];
	FILE *f;

	if (d == NULL)
		return;
	snprintf(path, sizeof(path), "%s/%s", d, name);
	if ((f = fopen(path, "wb")) != NULL) {
		fwrite(buf, 1, len, f);
		fclose(f);
	}
}

START_TEST(soft_round_trip)
{
	struct bttpm_keystore *ks;
	struct bttpm_options o = opts(BTTPM_OPEN_CREATE, NULL);
	struct bt_pubkey a, b;
	struct btcore_signer s;
	struct bt_sig sig;
	struct stat sb;
	char uri[128];

	snprintf(uri, sizeof(uri), "file:%s/seed", dir);
	o.flags = 0;
	ck_assert_int_eq(bttpm_keystore_open(&ks, uri, NULL, &o),
	    BTTPM_E_NOIDENTITY);
	ck_assert_ptr_null(ks);
	o.flags = BTTPM_OPEN_CREATE;
	ck_assert_int_eq(bttpm_keystore_open(&ks, uri, NULL, &o), BT_OK);
	ck_assert_int_eq(bttpm_keystore_is_tpm(ks), 0);
	bttpm_keystore_public(ks, &a);
	bttpm_keystore_signer(ks, &s);
	ck_assert_int_eq(btcore_signer_sign(&s, "m", 1, &sig), BT_OK);
	ck_assert_int_eq(btcore_sig_verify(&a, "m", 1, &sig), BT_OK);
	bttpm_keystore_close(ks);
	ck_assert_int_eq(stat(uri + 5, &sb), 0);
	ck_assert_uint_eq(sb.st_mode & 0777, 0600);
	ck_assert_int_eq(sb.st_size, 38);
	ck_assert_int_eq(bttpm_keystore_open(&ks, uri, NULL, NULL), BT_OK);
	bttpm_keystore_public(ks, &b);
	ck_assert_mem_eq(a.b, b.b, 32);
	bttpm_keystore_close(ks);
	bttpm_keystore_close(NULL);

	/* a passphrase is expected but the file is in clear */
	o = opts(0, "pw");
	ck_assert_int_eq(bttpm_keystore_open(&ks, uri, NULL, &o),
	    BTTPM_E_PASSPHRASE);
	/* readable by others: refused */
	ck_assert_int_eq(chmod(uri + 5, 0640), 0);
	ck_assert_int_eq(bttpm_keystore_open(&ks, uri, NULL, NULL), BT_EPERM);
	ck_assert_int_eq(bttpm_keystore_open(&ks, "file:", NULL, NULL),
	    BTTPM_E_URI);
}
END_TEST

START_TEST(soft_passphrase)
{
	struct bttpm_keystore *ks;
	struct bttpm_options o = opts(BTTPM_OPEN_CREATE, "correct horse");
	struct bt_pubkey a, b;
	uint8_t buf[128];
	struct stat sb;
	char uri[128];
	FILE *f;
	size_t n;

	snprintf(uri, sizeof(uri), "file:%s/sealed", dir);
	ck_assert_int_eq(bttpm_keystore_open(&ks, uri, NULL, &o), BT_OK);
	bttpm_keystore_public(ks, &a);
	bttpm_keystore_close(ks);
	ck_assert_int_eq(stat(uri + 5, &sb), 0);
	ck_assert_int_eq(sb.st_size, 91);
	o = opts(0, "correct horse");
	ck_assert_int_eq(bttpm_keystore_open(&ks, uri, NULL, &o), BT_OK);
	bttpm_keystore_public(ks, &b);
	ck_assert_mem_eq(a.b, b.b, 32);
	bttpm_keystore_close(ks);
	o = opts(0, "wrong horse");
	ck_assert_int_eq(bttpm_keystore_open(&ks, uri, NULL, &o),
	    BTTPM_E_PASSPHRASE);
	ck_assert_int_eq(bttpm_keystore_open(&ks, uri, NULL, NULL),
	    BTTPM_E_PASSPHRASE);
	/* the seed is not in the file in clear: flip a header byte */
	f = fopen(uri + 5, "rb");
	ck_assert_ptr_nonnull(f);
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	ck_assert_uint_eq(n, 91);
	buf[20] ^= 1;	/* salt */
	f = fopen(uri + 5, "wb");
	ck_assert_ptr_nonnull(f);
	fwrite(buf, 1, n, f);
	fclose(f);
	o = opts(0, "correct horse");
	ck_assert_int_eq(bttpm_keystore_open(&ks, uri, NULL, &o),
	    BTTPM_E_PASSPHRASE);
	buf[20] ^= 1;
	buf[6] = 40;	/* absurd scrypt cost */
	f = fopen(uri + 5, "wb");
	fwrite(buf, 1, n, f);
	fclose(f);
	ck_assert_int_eq(bttpm_keystore_open(&ks, uri, NULL, &o), BT_ECORRUPT);
	f = fopen(uri + 5, "wb");
	fwrite(buf, 1, 50, f);
	fclose(f);
	ck_assert_int_eq(bttpm_keystore_open(&ks, uri, NULL, &o), BT_ECORRUPT);
}
END_TEST

START_TEST(soft_statement_is_unattested)
{
	struct bttpm_keystore *ks;
	struct bttpm_verifier *v;
	struct bttpm_options o = opts(BTTPM_OPEN_CREATE, NULL);
	struct bt_pubkey pub, got, other;
	struct bt_id ek;
	uint8_t *st, *chal = NULL, secret[32], answer[32];
	size_t len, chal_len, i;
	uint64_t when;
	char uri[128];

	snprintf(uri, sizeof(uri), "file:%s/seed", dir);
	ck_assert_int_eq(bttpm_keystore_open(&ks, uri, NULL, &o), BT_OK);
	bttpm_keystore_public(ks, &pub);
	ck_assert_int_eq(bttpm_keystore_attest(ks, 99, &st, &len), BT_OK);
	save_seed("soft-statement", st, len);
	ck_assert_int_eq(bttpm_verifier_new(&v), BT_OK);
	ck_assert_int_eq(bttpm_statement_verify(v, st, len, &ek, &got, &when),
	    BTTPM_E_UNATTESTED);
	ck_assert_mem_eq(got.b, pub.b, 32);
	ck_assert_uint_eq(when, 99);
	ck_assert(btcore_id_is_zero(&ek));
	ck_assert_int_eq(bttpm_challenge_make(st, len, secret, &chal, &chal_len),
	    BTTPM_E_UNATTESTED);
	ck_assert_ptr_null(chal);
	ck_assert_int_eq(bttpm_keystore_activate(ks, (const uint8_t *)"BTTC",
	    4, answer), BTTPM_E_UNATTESTED);

	/* admission by policy */
	ck_assert_int_eq(bttpm_admission_check(v, BTTPM_POLICY_OPEN, &pub, st,
	    len, NULL, NULL, &ek), BT_OK);
	ck_assert_int_eq(bttpm_admission_check(v, BTTPM_POLICY_OPEN, &pub,
	    NULL, 0, NULL, NULL, NULL), BT_OK);
	ck_assert_int_eq(bttpm_admission_check(v, BTTPM_POLICY_ATTESTED, &pub,
	    st, len, NULL, NULL, NULL), BTTPM_E_UNATTESTED);
	ck_assert_int_eq(bttpm_admission_check(v, BTTPM_POLICY_ACTIVATED, &pub,
	    st, len, NULL, NULL, NULL), BTTPM_E_UNATTESTED);
	ck_assert_int_eq(bttpm_admission_check(v, BTTPM_POLICY_ATTESTED, &pub,
	    NULL, 0, NULL, NULL, NULL), BTTPM_E_NOSTATEMENT);
	ck_assert_int_eq(bttpm_admission_check(v, 7, &pub, st, len, NULL, NULL,
	    NULL), BT_EINVAL);
	other = pub;
	other.b[31] ^= 0x40;
	ck_assert_int_eq(bttpm_admission_check(v, BTTPM_POLICY_OPEN, &other, st,
	    len, NULL, NULL, NULL), BTTPM_E_KEYMISMATCH);

	/* tampering: every bit flip and truncation is refused */
	for (i = 0; i < len * 8; i++) {
		st[i / 8] ^= (uint8_t)(1u << (i % 8));
		ck_assert_int_lt(bttpm_statement_verify(v, st, len, NULL, NULL,
		    NULL), 0);
		ck_assert_int_ne(bttpm_admission_check(v, BTTPM_POLICY_OPEN,
		    &pub, st, len, NULL, NULL, NULL), BT_OK);
		st[i / 8] ^= (uint8_t)(1u << (i % 8));
	}
	for (i = 0; i < len; i++)
		ck_assert_int_eq(bttpm_statement_verify(v, st, i, NULL, NULL,
		    NULL), BT_ETRUNC);
	bttpm_free(st);
	bttpm_verifier_free(v);
	bttpm_keystore_close(ks);
}
END_TEST

START_TEST(statement_decoder_hostile)
{
	struct bttpm_stmt_ st, back;
	uint8_t buf[BTTPM_STATEMENT_MAX + 1], *enc;
	size_t len;

	memset(&st, 0, sizeof(st));
	st.kind = BTTPM_STMT_SOFT;
	st.when = 5;
	ck_assert_int_eq(bttpm_stmt_encode_(&st, &enc, &len), BT_OK);
	ck_assert_uint_eq(len, 116);
	ck_assert_int_eq(bttpm_stmt_decode_(enc, len, &back), BT_OK);
	ck_assert_uint_eq(back.when, 5);
	memcpy(buf, enc, len);
	/* trailing byte */
	buf[len] = 0;
	ck_assert_int_eq(bttpm_stmt_decode_(buf, len + 1, &back), BT_EFORMAT);
	/* unknown version and kind */
	buf[4] = 2;
	ck_assert_int_eq(bttpm_stmt_decode_(buf, len, &back), BT_EFORMAT);
	buf[4] = 1;
	buf[5] = 3;
	ck_assert_int_eq(bttpm_stmt_decode_(buf, len, &back), BT_EFORMAT);
	/* a software statement with an EK certificate field */
	buf[5] = BTTPM_STMT_SOFT;
	memcpy(buf, enc, 46);
	buf[46] = 0;
	buf[47] = 1;
	memset(buf + 48, 0, len - 46 + 1);
	ck_assert_int_eq(bttpm_stmt_decode_(buf, len + 1, &back), BT_EFORMAT);
	/* a TPM statement without its parts */
	memcpy(buf, enc, len);
	buf[5] = BTTPM_STMT_TPM;
	ck_assert_int_eq(bttpm_stmt_decode_(buf, len, &back), BT_EFORMAT);
	/* an oversized field */
	memcpy(buf, enc, len);
	buf[46] = 0xff;
	buf[47] = 0xff;
	ck_assert_int_eq(bttpm_stmt_decode_(buf, len, &back), BT_ETOOBIG);
	ck_assert_int_eq(bttpm_stmt_decode_(buf, sizeof(buf), &back), BT_ETOOBIG);
	ck_assert_int_eq(bttpm_stmt_decode_(NULL, 10, &back), BT_EINVAL);
	bttpm_free(enc);
	bttpm_free(NULL);
}
END_TEST

START_TEST(registration_records)
{
	struct btcore_key *k;
	struct btcore_signer s;
	struct bttpm_registry *reg;
	struct bt_id ek, got;
	struct bt_pubkey pub, claimant;
	uint8_t rec[BTTPM_REGISTRATION_LEN + 1];
	uint64_t when;
	size_t i;
	int n;

	ck_assert_int_eq(btcore_key_generate(&k), BT_OK);
	btcore_key_signer(k, &s);
	btcore_key_public(k, &pub);
	ck_assert_int_eq(btcore_id_hash(&ek, "ek", 2), BT_OK);
	ck_assert_int_eq(bttpm_registration_make(&s, &ek, 1234, rec), BT_OK);
	save_seed("registration", rec, BTTPM_REGISTRATION_LEN);
	ck_assert_int_eq(bttpm_registration_verify(rec, BTTPM_REGISTRATION_LEN,
	    &got, &claimant, &when), BT_OK);
	ck_assert_mem_eq(got.b, ek.b, 32);
	ck_assert_mem_eq(claimant.b, pub.b, 32);
	ck_assert_uint_eq(when, 1234);
	for (i = 0; i < BTTPM_REGISTRATION_LEN * 8; i++) {
		rec[i / 8] ^= (uint8_t)(1u << (i % 8));
		ck_assert_int_lt(bttpm_registration_verify(rec,
		    BTTPM_REGISTRATION_LEN, &got, NULL, NULL), 0);
		ck_assert(btcore_id_is_zero(&got));
		rec[i / 8] ^= (uint8_t)(1u << (i % 8));
	}
	for (i = 0; i < BTTPM_REGISTRATION_LEN; i++)
		ck_assert_int_eq(bttpm_registration_verify(rec, i, NULL, NULL,
		    NULL), BT_ETRUNC);
	ck_assert_int_eq(bttpm_registration_verify(rec,
	    BTTPM_REGISTRATION_LEN + 1, NULL, NULL, NULL), BT_EFORMAT);
	ck_assert_int_eq(bttpm_registration_verify(NULL, 1, NULL, NULL, NULL),
	    BT_EINVAL);
	ck_assert_int_eq(bttpm_registration_make(NULL, &ek, 1, rec), BT_EINVAL);

	/* many claims, kept sorted; each id once */
	ck_assert_int_eq(bttpm_registry_new(&reg), BT_OK);
	for (n = 0; n < 100; n++) {
		ck_assert_int_eq(btcore_id_hash(&ek, &n, sizeof(n)), BT_OK);
		ck_assert_int_eq(bttpm_registration_make(&s, &ek, (uint64_t)n,
		    rec), BT_OK);
		ck_assert_int_eq(bttpm_registry_claim(reg, rec,
		    BTTPM_REGISTRATION_LEN), BT_OK);
	}
	for (n = 99; n >= 0; n--) {
		ck_assert_int_eq(btcore_id_hash(&ek, &n, sizeof(n)), BT_OK);
		ck_assert_int_eq(bttpm_registry_lookup(reg, &ek, &claimant,
		    &when), BT_OK);
		ck_assert_uint_eq(when, (uint64_t)n);
	}
	rec[100] ^= 1;
	ck_assert_int_eq(bttpm_registry_claim(reg, rec, BTTPM_REGISTRATION_LEN),
	    BTTPM_E_CLAIMSIG);
	ck_assert_int_eq(bttpm_registry_claim(NULL, rec, 1), BT_EINVAL);
	bttpm_registry_free(reg);
	bttpm_registry_free(NULL);
	btcore_key_free(k);
}
END_TEST

START_TEST(errors_and_version)
{
	int e;

	for (e = BT_ERR_BTTPM_BASE - 1; e >= BT_ERR_BTTPM_BASE - 19; e--)
		ck_assert_ptr_nonnull(bttpm_strerror(e));
	ck_assert_str_eq(bttpm_strerror(BTTPM_E_UNATTESTED),
	    "identity is software-only (unattested by a TPM)");
	ck_assert_str_eq(bttpm_strerror(BTTPM_E_CLAIMED),
	    "endorsement id already claimed by another key");
	ck_assert_str_eq(bttpm_strerror(BT_ENOMEM), btcore_strerror(BT_ENOMEM));
	ck_assert_str_eq(bttpm_strerror(-2999), "unknown error");
	ck_assert_str_eq(bttpm_version(), "0.1.0");
}
END_TEST

START_TEST(verifier_ca_files)
{
	struct bttpm_verifier *v;
	char path[128];
	FILE *f;

	ck_assert_int_eq(bttpm_verifier_new(&v), BT_OK);
	ck_assert_int_eq(bttpm_verifier_add_ca_file(v, "/nonexistent/ca.pem"),
	    BT_ENOTFOUND);
	snprintf(path, sizeof(path), "%s/notpem", dir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs("hello\n", f);
	fclose(f);
	ck_assert_int_eq(bttpm_verifier_add_ca_file(v, path), BT_EFORMAT);
	ck_assert_int_eq(bttpm_verifier_add_ca_file(NULL, path), BT_EINVAL);
	ck_assert_int_eq(bttpm_verifier_new(NULL), BT_EINVAL);
	bttpm_verifier_free(v);
	bttpm_verifier_free(NULL);
}
END_TEST

Suite *
suite_soft(void)
{
	Suite *s = suite_create("soft");
	TCase *tc = tcase_create("soft");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, soft_round_trip);
	tcase_add_test(tc, soft_passphrase);
	tcase_add_test(tc, soft_statement_is_unattested);
	tcase_add_test(tc, statement_decoder_hostile);
	tcase_add_test(tc, registration_records);
	tcase_add_test(tc, errors_and_version);
	tcase_add_test(tc, verifier_ca_files);
	suite_add_tcase(s, tc);
	return s;
}
