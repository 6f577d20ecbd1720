/*
 * test_tpm.c - the TPM backend, attestation and activation on swtpm.
 *
 * The harness starts and stops swtpm itself: free ports found at run
 * time, a temporary state directory, readiness through swtpm_ioctl -g,
 * shutdown through swtpm_ioctl -s and waitpid.  Each test gets its own
 * fresh TPM (a start costs ~15 ms); the attestation tests copy a state
 * provisioned once per test case with swtpm_setup and a local CA.
 */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <tss2/tss2_esys.h>
#include <tss2/tss2_tctildr.h>

#include <bt/hash.h>
#include <bt/key.h>
#include <bt/tpm.h>

#include "bttpm-internal.h"

Suite *suite_tpm(void);

/* ---- harness ------------------------------------------------------------- */

struct swtpm {
	pid_t	pid;
	int	port;
	char	state[256];
	char	tcti[128];
	char	uri[140];
};

static char base_dir[64];	/* per test case, made in the parent */
static char golden[128];	/* provisioned state with EK certificates */
static char ca_root[256], ca_issuer[256], other_ca[256], ek_crt[256];

static int
run(char *const argv[])
{
	pid_t pid;
	int st, fd;

	if ((pid = fork()) < 0)
		return -1;
	if (pid == 0) {
		if ((fd = open("/dev/null", O_RDWR)) >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execvp(argv[0], argv);
		_exit(127);
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int
port_free(int port)
{
	struct sockaddr_in sa;
	int fd, ok;

	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) < 0)
		return 0;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons((uint16_t)port);
	ok = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return ok;
}

/* Two consecutive free ports, found by asking the kernel for one. */
static int
free_port_pair(void)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	int fd, port, tries;

	for (tries = 0; tries < 100; tries++) {
		fd = socket(AF_INET, SOCK_STREAM, 0);
		ck_assert_int_ge(fd, 0);
		memset(&sa, 0, sizeof(sa));
		sa.sin_family = AF_INET;
		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
		ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
		port = ntohs(sa.sin_port);
		close(fd);
		if (port < 65535 && port_free(port) && port_free(port + 1))
			return port;
	}
	ck_abort_msg("no free port pair");
	return -1;
}

static void
swtpm_start(struct swtpm *t, const char *state)
{
	char srv[96], ctl[96], log[600], sdir[600], addr[64];
	int attempt, i, st;

	snprintf(t->state, sizeof(t->state), "%s", state);
	mkdir(state, 0700);
	for (attempt = 0; attempt < 5; attempt++) {
		t->port = free_port_pair();
		snprintf(srv, sizeof(srv), "type=tcp,port=%d,bindaddr=127.0.0.1",
		    t->port);
		snprintf(ctl, sizeof(ctl), "type=tcp,port=%d,bindaddr=127.0.0.1",
		    t->port + 1);
		snprintf(sdir, sizeof(sdir), "dir=%s", state);
		snprintf(log, sizeof(log), "file=%s/swtpm.log,level=1", state);
		t->pid = fork();
		ck_assert_int_ge(t->pid, 0);
		if (t->pid == 0) {
			/* never outlive the test that started it */
			prctl(PR_SET_PDEATHSIG, SIGTERM);
			execlp("swtpm", "swtpm", "socket", "--tpm2", "--tpmstate",
			    sdir, "--server", srv, "--ctrl", ctl, "--flags",
			    "not-need-init,startup-clear", "--log", log,
			    (char *)NULL);
			_exit(127);
		}
		snprintf(addr, sizeof(addr), "127.0.0.1:%d", t->port + 1);
		for (i = 0; i < 1000; i++) {
			char *argv[] = { "swtpm_ioctl", "--tcp", addr, "-g", NULL };

			if (waitpid(t->pid, &st, WNOHANG) == t->pid)
				break;	/* died (port taken?): try other ports */
			if (run(argv) == 0) {
				snprintf(t->tcti, sizeof(t->tcti),
				    "swtpm:host=127.0.0.1,port=%d", t->port);
				snprintf(t->uri, sizeof(t->uri), "tpm:%s",
				    t->tcti);
				return;
			}
			usleep(5000);
		}
		if (i == 1000) {
			kill(t->pid, SIGKILL);
			waitpid(t->pid, &st, 0);
		}
	}
	ck_abort_msg("swtpm did not start");
}

static void
swtpm_stop(struct swtpm *t)
{
	char addr[64];
	char *argv[] = { "swtpm_ioctl", "--tcp", addr, "-s", NULL };
	int st, i;

	if (t->pid <= 0)
		return;
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", t->port + 1);
	(void)run(argv);
	for (i = 0; i < 400; i++) {
		if (waitpid(t->pid, &st, WNOHANG) == t->pid)
			break;
		usleep(5000);
	}
	if (i == 400) {
		kill(t->pid, SIGKILL);
		waitpid(t->pid, &st, 0);
	}
	t->pid = 0;
}

static int
rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void
rm_rf(const char *path)
{
	(void)nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* A directory of its own for the running test, inside base_dir. */
static void
test_dir(char *out, size_t size, const char *what)
{
	snprintf(out, size, "%s/%ld-%s", base_dir, (long)getpid(), what);
	ck_assert_int_eq(mkdir(out, 0700), 0);
}

static void
make_base(void)
{
	snprintf(base_dir, sizeof(base_dir), "/tmp/bttpm-test.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(base_dir));
}

static void
base_setup(void)
{
	setenv("TSS2_LOG", "all+none", 1);
	make_base();
}

static void
base_teardown(void)
{
	rm_rf(base_dir);
}

static void
write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	ck_assert_int_eq(fclose(f), 0);
}

/* Provision a TPM state with EK certificates from a local CA, once. */
static void
provision_setup(void)
{
	char conf[4096], path[128], path2[128], certs[128], ca[128], key[128];
	char *setup[] = { "swtpm_setup", "--tpm2", "--tpmstate", golden,
	    "--config", path2, "--create-ek-cert", "--lock-nvram",
	    "--write-ek-cert-files", certs, NULL };
	char *other[] = { "openssl", "req", "-x509", "-newkey", "ec",
	    "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key,
	    "-out", other_ca, "-subj", "/CN=other TPM CA", "-days", "2", NULL };

	base_setup();
	snprintf(golden, sizeof(golden), "%s/golden", base_dir);
	snprintf(ca, sizeof(ca), "%s/ca", base_dir);
	snprintf(certs, sizeof(certs), "%s/certs", base_dir);
	ck_assert_int_eq(mkdir(golden, 0700), 0);
	ck_assert_int_eq(mkdir(ca, 0700), 0);
	ck_assert_int_eq(mkdir(certs, 0700), 0);
	snprintf(path, sizeof(path), "%s/swtpm-localca.conf", base_dir);
	snprintf(conf, sizeof(conf), "statedir = %s\nsigningkey = %s/signkey.pem\n"
	    "issuercert = %s/issuercert.pem\ncertserial = %s/certserial\n",
	    ca, ca, ca, ca);
	write_text(path, conf);
	snprintf(path2, sizeof(path2), "%s/swtpm_setup.conf", base_dir);
	snprintf(conf, sizeof(conf), "create_certs_tool = /usr/bin/swtpm_localca\n"
	    "create_certs_tool_config = %s\ncreate_certs_tool_options = /dev/null\n"
	    "active_pcr_banks = sha256\n", path);
	write_text(path2, conf);
	ck_assert_int_eq(run(setup), 0);
	snprintf(ca_root, sizeof(ca_root), "%s/swtpm-localca-rootca-cert.pem", ca);
	snprintf(ca_issuer, sizeof(ca_issuer), "%s/issuercert.pem", ca);
	snprintf(ek_crt, sizeof(ek_crt), "%s/ek-rsa2048.crt", certs);
	snprintf(other_ca, sizeof(other_ca), "%s/other-ca.pem", base_dir);
	snprintf(key, sizeof(key), "%s/other-ca.key", base_dir);
	ck_assert_int_eq(run(other), 0);
}

/* Start a TPM on a private copy of the provisioned state. */
static void
start_provisioned(struct swtpm *t)
{
	char dir[256];
	char *cp[] = { "cp", "-a", golden, dir, NULL };

	snprintf(dir, sizeof(dir), "%s/%ld-tpm", base_dir, (long)getpid());
	ck_assert_int_eq(run(cp), 0);
	swtpm_start(t, dir);
}

/* ---- helpers -------------------------------------------------------------- */

struct logbuf {
	char	text[4096];
};

static void
log_cb(void *arg, const char *msg)
{
	struct logbuf *lb = arg;
	size_t n = strlen(lb->text);

	snprintf(lb->text + n, sizeof(lb->text) - n, "%s\n", msg);
}

static struct bttpm_options
opts(unsigned flags, struct logbuf *lb)
{
	struct bttpm_options o;

	memset(&o, 0, sizeof(o));
	o.version = BTTPM_OPTIONS_VERSION;
	o.flags = flags;
	if (lb != NULL) {
		lb->text[0] = '\0';
		o.log = log_cb;
		o.log_arg = lb;
	}
	return o;
}

/*
 * The TPM's handles in one range, read through a connection of our own
 * (swtpm serves one connection at a time: call with no keystore open).
 */
static void
handles(const struct swtpm *t, uint32_t first, TPML_HANDLE *out)
{
	TSS2_TCTI_CONTEXT *tcti = NULL;
	ESYS_CONTEXT *esys = NULL;
	TPMS_CAPABILITY_DATA *cap = NULL;
	TPMI_YES_NO more;

	ck_assert_int_eq(Tss2_TctiLdr_Initialize(t->tcti, &tcti), 0);
	ck_assert_int_eq(Esys_Initialize(&esys, tcti, NULL), 0);
	ck_assert_int_eq(Esys_GetCapability(esys, ESYS_TR_NONE, ESYS_TR_NONE,
	    ESYS_TR_NONE, TPM2_CAP_HANDLES, first, TPM2_MAX_CAP_HANDLES, &more,
	    &cap), 0);
	*out = cap->data.handles;
	Esys_Free(cap);
	Esys_Finalize(&esys);
	Tss2_TctiLdr_Finalize(&tcti);
}

static void
assert_no_transients(const struct swtpm *t)
{
	TPML_HANDLE h;

	handles(t, 0x80000000u, &h);	/* transient objects */
	ck_assert_uint_eq(h.count, 0);
	handles(t, 0x02000000u, &h);	/* loaded sessions */
	ck_assert_uint_eq(h.count, 0);
}

static int
has_persistent(const struct swtpm *t, uint32_t handle)
{
	TPML_HANDLE h;
	uint32_t i;

	handles(t, 0x81000000u, &h);	/* persistent objects */
	for (i = 0; i < h.count; i++)
		if (h.handle[i] == handle)
			return 1;
	return 0;
}

static void
assert_signs(struct bttpm_keystore *ks)
{
	struct btcore_signer s;
	struct bt_pubkey pub;
	struct bt_sig sig;

	bttpm_keystore_signer(ks, &s);
	bttpm_keystore_public(ks, &pub);
	ck_assert_mem_eq(s.pub.b, pub.b, 32);
	ck_assert_int_eq(btcore_signer_sign(&s, "hello", 5, &sig), BT_OK);
	ck_assert_int_eq(btcore_sig_verify(&pub, "hello", 5, &sig), BT_OK);
	ck_assert_int_eq(btcore_sig_verify(&pub, "hellO", 5, &sig), BT_EVERIFY);
}

static void
blob_path(char *out, size_t size, const char *dir)
{
	snprintf(out, size, "%s/%s", dir, BTTPM_SEALED_FILE);
}

/* ---- keystore on swtpm ------------------------------------------------------ */

START_TEST(seal_unseal_round_trip)
{
	struct swtpm t;
	struct bttpm_keystore *ks;
	struct bttpm_options o = opts(BTTPM_OPEN_CREATE, NULL);
	struct bt_pubkey first, again;
	char dir[400], blob[600], tpm[400];
	struct stat sb;

	test_dir(tpm, sizeof(tpm), "tpm");
	test_dir(dir, sizeof(dir), "data");
	swtpm_start(&t, tpm);
	assert_no_transients(&t);
	ck_assert(!has_persistent(&t, BTTPM_DEFAULT_PRIMARY_HANDLE));

	ck_assert_int_eq(bttpm_keystore_open(&ks, t.uri, dir, &o), BT_OK);
	ck_assert_int_eq(bttpm_keystore_is_tpm(ks), 1);
	bttpm_keystore_public(ks, &first);
	assert_signs(ks);
	bttpm_keystore_close(ks);
	blob_path(blob, sizeof(blob), dir);
	ck_assert_int_eq(stat(blob, &sb), 0);
	ck_assert_uint_eq(sb.st_mode & 0777, 0600);
	assert_no_transients(&t);
	ck_assert(has_persistent(&t, BTTPM_DEFAULT_PRIMARY_HANDLE));
	ck_assert(has_persistent(&t, BTTPM_DEFAULT_AK_HANDLE));

	/* a later start unseals the same seed, with or without CREATE */
	o = opts(0, NULL);
	ck_assert_int_eq(bttpm_keystore_open(&ks, t.uri, dir, &o), BT_OK);
	bttpm_keystore_public(ks, &again);
	ck_assert_mem_eq(first.b, again.b, 32);
	assert_signs(ks);
	bttpm_keystore_close(ks);
	o = opts(BTTPM_OPEN_CREATE, NULL);
	ck_assert_int_eq(bttpm_keystore_open(&ks, t.uri, dir, &o), BT_OK);
	bttpm_keystore_public(ks, &again);
	ck_assert_mem_eq(first.b, again.b, 32);
	bttpm_keystore_close(ks);
	assert_no_transients(&t);
	swtpm_stop(&t);
}
END_TEST

START_TEST(blob_is_bound_to_its_tpm)
{
	struct swtpm a, b;
	struct bttpm_keystore *ks = NULL;
	struct bttpm_options o = opts(BTTPM_OPEN_CREATE, NULL);
	struct logbuf lb;
	char dir[400], ta[400], tb[400];

	test_dir(ta, sizeof(ta), "tpm-a");
	test_dir(tb, sizeof(tb), "tpm-b");
	test_dir(dir, sizeof(dir), "data");
	swtpm_start(&a, ta);
	swtpm_start(&b, tb);
	ck_assert_int_eq(bttpm_keystore_open(&ks, a.uri, dir, &o), BT_OK);
	bttpm_keystore_close(ks);

	/* the second TPM cannot load the first one's sealed seed */
	o = opts(BTTPM_OPEN_CREATE, &lb);
	ks = (struct bttpm_keystore *)&lb;
	ck_assert_int_eq(bttpm_keystore_open(&ks, b.uri, dir, &o),
	    BTTPM_E_FOREIGN);
	ck_assert_ptr_null(ks);
	ck_assert_ptr_nonnull(strstr(lb.text, "Esys_Load"));
	/* nothing left behind on the second TPM */
	assert_no_transients(&b);
	ck_assert(!has_persistent(&b, BTTPM_DEFAULT_PRIMARY_HANDLE));
	/* and a different primary handle on the first TPM fails too */
	o = opts(0, NULL);
	o.primary_handle = 0x81000201;
	o.ak_handle = 0x81000202;
	ck_assert_int_eq(bttpm_keystore_open(&ks, a.uri, dir, &o), BT_OK);
	bttpm_keystore_close(ks);
	assert_no_transients(&a);
	swtpm_stop(&a);
	swtpm_stop(&b);
}
END_TEST

START_TEST(restart_keeps_identity)
{
	struct swtpm t;
	struct bttpm_keystore *ks;
	struct bttpm_options o = opts(BTTPM_OPEN_CREATE, NULL);
	struct bt_pubkey first, again;
	char dir[400], tpm[400];

	test_dir(tpm, sizeof(tpm), "tpm");
	test_dir(dir, sizeof(dir), "data");
	swtpm_start(&t, tpm);
	ck_assert_int_eq(bttpm_keystore_open(&ks, t.uri, dir, &o), BT_OK);
	bttpm_keystore_public(ks, &first);
	bttpm_keystore_close(ks);
	swtpm_stop(&t);

	swtpm_start(&t, tpm);	/* same state directory, new process, new port */
	o = opts(0, NULL);
	ck_assert_int_eq(bttpm_keystore_open(&ks, t.uri, dir, &o), BT_OK);
	bttpm_keystore_public(ks, &again);
	ck_assert_mem_eq(first.b, again.b, 32);
	assert_signs(ks);
	bttpm_keystore_close(ks);
	assert_no_transients(&t);
	swtpm_stop(&t);
}
END_TEST

START_TEST(deleted_blob_is_an_error)
{
	struct swtpm t;
	struct bttpm_keystore *ks;
	struct bttpm_options o = opts(BTTPM_OPEN_CREATE, NULL);
	struct logbuf lb;
	char dir[400], tpm[400], blob[600];
	struct stat sb;

	test_dir(tpm, sizeof(tpm), "tpm");
	test_dir(dir, sizeof(dir), "data");
	swtpm_start(&t, tpm);
	ck_assert_int_eq(bttpm_keystore_open(&ks, t.uri, dir, &o), BT_OK);
	bttpm_keystore_close(ks);
	blob_path(blob, sizeof(blob), dir);
	ck_assert_int_eq(unlink(blob), 0);

	o = opts(0, &lb);
	ck_assert_int_eq(bttpm_keystore_open(&ks, t.uri, dir, &o),
	    BTTPM_E_NOIDENTITY);
	ck_assert_ptr_null(ks);
	ck_assert_ptr_nonnull(strstr(lb.text, BTTPM_SEALED_FILE));
	/* even when asked to create: never a silent new identity */
	o = opts(BTTPM_OPEN_CREATE, &lb);
	ck_assert_int_eq(bttpm_keystore_open(&ks, t.uri, dir, &o),
	    BTTPM_E_ORPHAN);
	ck_assert_ptr_null(ks);
	ck_assert_ptr_nonnull(strstr(lb.text, "0x81000101"));
	ck_assert_int_ne(stat(blob, &sb), 0);
	ck_assert_str_eq(bttpm_strerror(BTTPM_E_ORPHAN),
	    "the TPM holds an identity at this handle but its sealed blob is missing");

	/* a corrupt blob is reported as such */
	write_text(blob, "BTTS\001garbage");
	ck_assert_int_eq(chmod(blob, 0600), 0);
	o = opts(0, NULL);
	ck_assert_int_eq(bttpm_keystore_open(&ks, t.uri, dir, &o), BT_ECORRUPT);
	/* and one readable by others is refused */
	ck_assert_int_eq(chmod(blob, 0644), 0);
	ck_assert_int_eq(bttpm_keystore_open(&ks, t.uri, dir, &o), BT_EPERM);
	assert_no_transients(&t);
	swtpm_stop(&t);
}
END_TEST

START_TEST(unreachable_tpm)
{
	struct bttpm_keystore *ks = NULL;
	struct bttpm_options o = opts(BTTPM_OPEN_CREATE, NULL);
	struct logbuf lb;
	char dir[400], uri[128], blob[600];
	int port;

	test_dir(dir, sizeof(dir), "data");
	port = free_port_pair();	/* nothing listens there */
	snprintf(uri, sizeof(uri), "tpm:swtpm:host=127.0.0.1,port=%d", port);
	o = opts(BTTPM_OPEN_CREATE, &lb);
	ck_assert_int_eq(bttpm_keystore_open(&ks, uri, dir, &o), BTTPM_E_TCTI);
	ck_assert_ptr_null(ks);
	ck_assert_ptr_nonnull(strstr(lb.text, uri + 4));

	o = opts(BTTPM_OPEN_CREATE, &lb);
	ck_assert_int_eq(bttpm_keystore_open(&ks, "tpm:nosuchtcti:x=1", dir, &o),
	    BTTPM_E_TCTI);
	ck_assert_ptr_nonnull(strstr(lb.text, "nosuchtcti:x=1"));
	o = opts(BTTPM_OPEN_CREATE, &lb);
	ck_assert_int_eq(bttpm_keystore_open(&ks,
	    "tpm:device:/nonexistent/tpmrm0", dir, &o), BTTPM_E_TCTI);
	ck_assert_ptr_nonnull(strstr(lb.text, "/nonexistent/tpmrm0"));
	/* no identity file appeared */
	blob_path(blob, sizeof(blob), dir);
	ck_assert_int_ne(access(blob, F_OK), 0);

	ck_assert_int_eq(bttpm_keystore_open(&ks, "tpm:", dir, &o), BTTPM_E_URI);
	ck_assert_int_eq(bttpm_keystore_open(&ks, "swtpm:port=1", dir, &o),
	    BTTPM_E_URI);
	ck_assert_int_eq(bttpm_keystore_open(&ks, uri, NULL, &o), BT_EINVAL);
	o.version = 99;
	ck_assert_int_eq(bttpm_keystore_open(&ks, uri, dir, &o), BT_EINVAL);
	ck_assert_int_eq(bttpm_keystore_open(NULL, uri, dir, NULL), BT_EINVAL);
	ck_assert_str_eq(bttpm_strerror(BT_EINVAL), "invalid argument");
}
END_TEST

/* ---- attestation on a provisioned swtpm -------------------------------------- */

static struct bttpm_verifier *
verifier(const char *a, const char *b)
{
	struct bttpm_verifier *v;

	ck_assert_int_eq(bttpm_verifier_new(&v), BT_OK);
	if (a != NULL)
		ck_assert_int_eq(bttpm_verifier_add_ca_file(v, a), BT_OK);
	if (b != NULL)
		ck_assert_int_eq(bttpm_verifier_add_ca_file(v, b), BT_OK);
	return v;
}

/* SHA-256 of the DER SubjectPublicKeyInfo of the EK certificate file. */
static void
expected_ek_id(struct bt_id *id)
{
	FILE *f = fopen(ek_crt, "rb");
	X509 *x;
	uint8_t *der = NULL;
	int len;

	ck_assert_ptr_nonnull(f);
	x = d2i_X509_fp(f, NULL);
	fclose(f);
	ck_assert_ptr_nonnull(x);
	len = i2d_PUBKEY(X509_get0_pubkey(x), &der);
	ck_assert_int_gt(len, 0);
	ck_assert_int_eq(btcore_id_hash(id, der, (size_t)len), BT_OK);
	OPENSSL_free(der);
	X509_free(x);
}

static void
save_seed(const char *name, const uint8_t *buf, size_t len)
{
	const char *dir = getenv("BTTPM_SAVE_CORPUS");
	char path[1024];
	FILE *f;

	if (dir == NULL)
		return;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "wb")) != NULL) {
		fwrite(buf, 1, len, f);
		fclose(f);
	}
}

START_TEST(attestation_verifies)
{
	struct swtpm t;
	struct bttpm_keystore *ks;
	struct bttpm_verifier *v, *other, *empty;
	struct bttpm_options o = opts(BTTPM_OPEN_CREATE, NULL);
	struct bt_pubkey pub, got;
	struct bt_id ek, want;
	uint8_t *st = NULL, *bad;
	size_t len, i;
	uint64_t when;
	char dir[400];

	test_dir(dir, sizeof(dir), "data");
	start_provisioned(&t);
	ck_assert_int_eq(bttpm_keystore_open(&ks, t.uri, dir, &o), BT_OK);
	bttpm_keystore_public(ks, &pub);
	ck_assert_int_eq(bttpm_keystore_attest(ks, 1700000000, &st, &len), BT_OK);
	bttpm_keystore_close(ks);
	assert_no_transients(&t);
	swtpm_stop(&t);
	save_seed("swtpm-statement", st, len);

	v = verifier(ca_root, ca_issuer);
	ck_assert_int_eq(bttpm_statement_verify(v, st, len, &ek, &got, &when),
	    BT_OK);
	expected_ek_id(&want);
	ck_assert_mem_eq(ek.b, want.b, 32);
	ck_assert_mem_eq(got.b, pub.b, 32);
	ck_assert_uint_eq(when, 1700000000);

	/* another CA, or none, does not vouch for this EK */
	other = verifier(other_ca, NULL);
	ck_assert_int_eq(bttpm_statement_verify(other, st, len, &ek, NULL, NULL),
	    BTTPM_E_EKCERT);
	ck_assert(btcore_id_is_zero(&ek));
	ck_assert_int_eq(bttpm_verifier_new(&empty), BT_OK);
	ck_assert_int_eq(bttpm_statement_verify(empty, st, len, NULL, NULL, NULL),
	    BTTPM_E_EKCERT);
	/* the intermediate alone is not a trust anchor */
	bttpm_verifier_free(empty);
	empty = verifier(ca_issuer, NULL);
	ck_assert_int_eq(bttpm_statement_verify(empty, st, len, NULL, NULL, NULL),
	    BTTPM_E_EKCERT);

	/* every single bit flip is refused */
	bad = malloc(len);
	ck_assert_ptr_nonnull(bad);
	for (i = 0; i < len * 8; i += 3) {
		memcpy(bad, st, len);
		bad[i / 8] ^= (uint8_t)(1u << (i % 8));
		ck_assert_int_ne(bttpm_statement_verify(v, bad, len, NULL, NULL,
		    NULL), BT_OK);
	}
	/* and every truncation */
	for (i = 0; i < len; i++)
		ck_assert_int_ne(bttpm_statement_verify(v, st, i, NULL, NULL,
		    NULL), BT_OK);
	free(bad);
	bttpm_verifier_free(v);
	bttpm_verifier_free(other);
	bttpm_verifier_free(empty);
	bttpm_free(st);
}
END_TEST

/* Re-encode @p st with a change, keeping it well-formed. */
static void
reencode(const uint8_t *st, size_t len, int what, uint8_t **out, size_t *out_len)
{
	struct bttpm_stmt_ d;
	uint8_t akpub[BTTPM_AKPUB_MAX], aksig[BTTPM_AKSIG_MAX];
	size_t off = 0;

	ck_assert_int_eq(bttpm_stmt_decode_(st, len, &d), BT_OK);
	if (what == 0)		/* a different node key */
		d.pub.b[0] ^= 1;
	else if (what == 1) {	/* a different AK */
		d.ak.publicArea.unique.ecc.x.buffer[5] ^= 1;
		ck_assert_int_eq(Tss2_MU_TPM2B_PUBLIC_Marshal(&d.ak, akpub,
		    sizeof(akpub), &off), 0);
		d.akpub = akpub;
		d.akpub_len = off;
	} else {		/* a different AK signature */
		d.sig.signature.ecdsa.signatureS.buffer[3] ^= 1;
		ck_assert_int_eq(Tss2_MU_TPMT_SIGNATURE_Marshal(&d.sig, aksig,
		    sizeof(aksig), &off), 0);
		d.aksig = aksig;
		d.aksig_len = off;
	}
	ck_assert_int_eq(bttpm_stmt_encode_(&d, out, out_len), BT_OK);
}

START_TEST(activation_and_admission)
{
	struct swtpm t;
	struct bttpm_keystore *ks;
	struct bttpm_verifier *v;
	struct bttpm_options o = opts(BTTPM_OPEN_CREATE, NULL);
	struct bttpm_registry *reg;
	struct btcore_signer signer;
	struct bt_pubkey pub, other_pub;
	struct btcore_key *other;
	struct bt_id ek, ek2;
	uint8_t *st = NULL, *chal = NULL, *forged = NULL;
	uint8_t secret[32], answer[32], rec[BTTPM_REGISTRATION_LEN];
	size_t len, chal_len, forged_len;
	char dir[400];

	test_dir(dir, sizeof(dir), "data");
	start_provisioned(&t);
	v = verifier(ca_root, ca_issuer);
	ck_assert_int_eq(bttpm_keystore_open(&ks, t.uri, dir, &o), BT_OK);
	bttpm_keystore_public(ks, &pub);
	ck_assert_int_eq(bttpm_keystore_attest(ks, 42, &st, &len), BT_OK);

	/* MakeCredential in software, ActivateCredential in the TPM */
	ck_assert_int_eq(bttpm_challenge_make(st, len, secret, &chal, &chal_len),
	    BT_OK);
	save_seed("challenge", chal, chal_len);
	ck_assert_int_eq(bttpm_keystore_activate(ks, chal, chal_len, answer),
	    BT_OK);
	ck_assert_mem_eq(secret, answer, 32);
	ck_assert_int_eq(bttpm_admission_check(v, BTTPM_POLICY_ACTIVATED, &pub,
	    st, len, secret, answer, &ek), BT_OK);
	ck_assert(!btcore_id_is_zero(&ek));
	answer[0] ^= 1;
	ck_assert_int_eq(bttpm_admission_check(v, BTTPM_POLICY_ACTIVATED, &pub,
	    st, len, secret, answer, NULL), BTTPM_E_ACTIVATION);
	ck_assert_int_eq(bttpm_admission_check(v, BTTPM_POLICY_ACTIVATED, &pub,
	    st, len, NULL, NULL, NULL), BTTPM_E_ACTIVATION);
	ck_assert_int_eq(bttpm_admission_check(v, BTTPM_POLICY_ATTESTED, &pub,
	    st, len, NULL, NULL, NULL), BT_OK);

	/* a tampered challenge does not activate */
	chal[20] ^= 1;
	ck_assert_int_eq(bttpm_keystore_activate(ks, chal, chal_len, answer),
	    BTTPM_E_ACTIVATION);
	ck_assert_int_eq(bttpm_keystore_activate(ks, chal, 7, answer),
	    BT_ETRUNC);
	bttpm_free(chal);
	chal = NULL;

	/* a statement naming another AK: its challenge fails in this TPM */
	reencode(st, len, 1, &forged, &forged_len);
	/* the node key signed the AK public area too */
	ck_assert_int_eq(bttpm_statement_verify(v, forged, forged_len, NULL,
	    NULL, NULL), BTTPM_E_CLAIMSIG);
	ck_assert_int_eq(bttpm_challenge_make(forged, forged_len, secret, &chal,
	    &chal_len), BT_OK);
	ck_assert_int_eq(bttpm_keystore_activate(ks, chal, chal_len, answer),
	    BTTPM_E_ACTIVATION);
	bttpm_free(chal);
	bttpm_free(forged);
	reencode(st, len, 0, &forged, &forged_len);
	ck_assert_int_eq(bttpm_statement_verify(v, forged, forged_len, NULL,
	    NULL, NULL), BTTPM_E_CLAIMSIG);
	bttpm_free(forged);
	reencode(st, len, 2, &forged, &forged_len);
	ck_assert_int_eq(bttpm_statement_verify(v, forged, forged_len, NULL,
	    NULL, NULL), BTTPM_E_AKSIG);
	bttpm_free(forged);

	/* the statement is for this node only */
	ck_assert_int_eq(btcore_key_generate(&other), BT_OK);
	btcore_key_public(other, &other_pub);
	ck_assert_int_eq(bttpm_admission_check(v, BTTPM_POLICY_ATTESTED,
	    &other_pub, st, len, NULL, NULL, NULL), BTTPM_E_KEYMISMATCH);

	/* registration: the first claim of the EK id wins */
	ck_assert_int_eq(bttpm_registry_new(&reg), BT_OK);
	bttpm_keystore_signer(ks, &signer);
	ck_assert_int_eq(bttpm_registration_make(&signer, &ek, 43, rec), BT_OK);
	ck_assert_int_eq(bttpm_registry_claim(reg, rec, sizeof(rec)), BT_OK);
	ck_assert_int_eq(bttpm_registry_claim(reg, rec, sizeof(rec)), BT_OK);
	btcore_key_signer(other, &signer);
	ck_assert_int_eq(bttpm_registration_make(&signer, &ek, 44, rec), BT_OK);
	ck_assert_int_eq(bttpm_registry_claim(reg, rec, sizeof(rec)),
	    BTTPM_E_CLAIMED);
	ck_assert_int_eq(bttpm_registry_lookup(reg, &ek, &other_pub, NULL),
	    BT_OK);
	ck_assert_mem_eq(other_pub.b, pub.b, 32);
	memset(&ek2, 0, sizeof(ek2));
	ck_assert_int_eq(bttpm_registry_lookup(reg, &ek2, NULL, NULL),
	    BT_ENOTFOUND);
	bttpm_registry_free(reg);
	btcore_key_free(other);

	bttpm_keystore_close(ks);
	assert_no_transients(&t);
	swtpm_stop(&t);
	bttpm_verifier_free(v);
	bttpm_free(st);
}
END_TEST

START_TEST(no_ek_certificate)
{
	struct swtpm t;
	struct bttpm_keystore *ks;
	struct bttpm_options o = opts(BTTPM_OPEN_CREATE, NULL);
	uint8_t *st = (uint8_t *)"x";
	size_t len = 1;
	char dir[400], tpm[400];

	test_dir(tpm, sizeof(tpm), "tpm");
	test_dir(dir, sizeof(dir), "data");
	swtpm_start(&t, tpm);
	ck_assert_int_eq(bttpm_keystore_open(&ks, t.uri, dir, &o), BT_OK);
	ck_assert_int_eq(bttpm_keystore_attest(ks, 1, &st, &len), BTTPM_E_NOEK);
	ck_assert_ptr_null(st);
	ck_assert_uint_eq(len, 0);
	bttpm_keystore_close(ks);
	assert_no_transients(&t);
	swtpm_stop(&t);
}
END_TEST

Suite *
suite_tpm(void)
{
	Suite *s = suite_create("tpm");
	TCase *tc;

	tc = tcase_create("keystore");
	tcase_add_unchecked_fixture(tc, base_setup, base_teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, seal_unseal_round_trip);
	tcase_add_test(tc, blob_is_bound_to_its_tpm);
	tcase_add_test(tc, restart_keeps_identity);
	tcase_add_test(tc, deleted_blob_is_an_error);
	tcase_add_test(tc, unreachable_tpm);
	tcase_add_test(tc, no_ek_certificate);
	suite_add_tcase(s, tc);

	tc = tcase_create("attestation");
	tcase_add_unchecked_fixture(tc, provision_setup, base_teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, attestation_verifies);
	tcase_add_test(tc, activation_and_admission);
	suite_add_tcase(s, tc);
	return s;
}
