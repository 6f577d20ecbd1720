/*
 * bench/bttpm/tpm.c - node start-up (open + unseal) and attestation
 * statements signed and verified per second on swtpm, which the benchmark
 * starts and stops itself.  Baseline: the software backend doing the same
 * (open of a clear seed file; a statement signed and checked with Ed25519
 * only).  TPM operations are slow by nature: no target.
 */
#define _GNU_SOURCE
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
#include <unistd.h>

#include <bt/tpm.h>

#include "bench.h"

static char base[] = "/tmp/bttpm-bench.XXXXXX";
static pid_t tpm_pid;
static int tpm_port;

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
bindable(int port)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	int fd, got;

	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) < 0)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons((uint16_t)port);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &sl) != 0)
		got = -1;
	else
		got = ntohs(sa.sin_port);
	close(fd);
	return got;
}

static int
start_swtpm(const char *state)
{
	char srv[96], ctl[96], sdir[300], addr[64];
	int i, tries, st;

	for (tries = 0; tries < 20; tries++) {
		tpm_port = bindable(0);
		if (tpm_port <= 0 || tpm_port >= 65535 ||
		    bindable(tpm_port + 1) < 0)
			continue;
		snprintf(srv, sizeof(srv), "type=tcp,port=%d,bindaddr=127.0.0.1",
		    tpm_port);
		snprintf(ctl, sizeof(ctl), "type=tcp,port=%d,bindaddr=127.0.0.1",
		    tpm_port + 1);
		snprintf(sdir, sizeof(sdir), "dir=%s", state);
		if ((tpm_pid = fork()) < 0)
			return -1;
		if (tpm_pid == 0) {
			prctl(PR_SET_PDEATHSIG, SIGTERM);
			execlp("swtpm", "swtpm", "socket", "--tpm2", "--tpmstate",
			    sdir, "--server", srv, "--ctrl", ctl, "--flags",
			    "not-need-init,startup-clear", (char *)NULL);
			_exit(127);
		}
		snprintf(addr, sizeof(addr), "127.0.0.1:%d", tpm_port + 1);
		for (i = 0; i < 400; i++) {
			char *argv[] = { "swtpm_ioctl", "--tcp", addr, "-g", NULL };

			if (waitpid(tpm_pid, &st, WNOHANG) == tpm_pid)
				break;
			if (run(argv) == 0)
				return 0;
			usleep(5000);
		}
	}
	return -1;
}

static void
stop_swtpm(void)
{
	char addr[64];
	char *argv[] = { "swtpm_ioctl", "--tcp", addr, "-s", NULL };
	int st;

	snprintf(addr, sizeof(addr), "127.0.0.1:%d", tpm_port + 1);
	(void)run(argv);
	waitpid(tpm_pid, &st, 0);
}

static int
rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (f == NULL)
		return -1;
	fputs(text, f);
	return fclose(f);
}

/* swtpm_setup with a local CA under base/, so the TPM has an EK cert. */
static int
provision(char *state, char *root, char *issuer, size_t size)
{
	char conf[2048], lconf[64], sconf[64], ca[64];
	char *argv[] = { "swtpm_setup", "--tpm2", "--tpmstate", state,
	    "--config", sconf, "--create-ek-cert", "--lock-nvram", NULL };

	snprintf(ca, sizeof(ca), "%s/ca", base);
	snprintf(lconf, sizeof(lconf), "%s/localca.conf", base);
	snprintf(sconf, sizeof(sconf), "%s/setup.conf", base);
	if (mkdir(ca, 0700) != 0 || mkdir(state, 0700) != 0)
		return -1;
	snprintf(conf, sizeof(conf), "statedir = %s\nsigningkey = %s/key.pem\n"
	    "issuercert = %s/issuercert.pem\ncertserial = %s/serial\n", ca, ca,
	    ca, ca);
	if (write_file(lconf, conf) != 0)
		return -1;
	snprintf(conf, sizeof(conf), "create_certs_tool = /usr/bin/swtpm_localca\n"
	    "create_certs_tool_config = %s\ncreate_certs_tool_options = /dev/null\n"
	    "active_pcr_banks = sha256\n", lconf);
	if (write_file(sconf, conf) != 0)
		return -1;
	snprintf(root, size, "%s/swtpm-localca-rootca-cert.pem", ca);
	snprintf(issuer, size, "%s/issuercert.pem", ca);
	return run(argv) == 0 ? 0 : -1;
}

static double
opens_per_s(const char *uri, const char *dir, int n)
{
	struct bttpm_keystore *ks;
	double t0 = bench_now();
	int i;

	for (i = 0; i < n; i++) {
		if (bttpm_keystore_open(&ks, uri, dir, NULL) != BT_OK)
			return 0;
		bttpm_keystore_close(ks);
	}
	return (bench_now() - t0) * 1000.0 / n;
}

int
main(void)
{
	struct bttpm_options o;
	struct bttpm_keystore *tks = NULL, *sks = NULL;
	struct bttpm_verifier *v = NULL;
	char state[64], data[64], uri[96], suri[96], root[256], issuer[256];
	uint8_t *tst = NULL, *sst = NULL, *st;
	size_t tlen, slen, len;
	double t0, tpm_ms, soft_ms, t_sign, s_sign, t_ver, s_ver;
	int i, rc = 1, n;

	setenv("TSS2_LOG", "all+none", 1);
	if (mkdtemp(base) == NULL)
		return 1;
	snprintf(state, sizeof(state), "%s/state", base);
	snprintf(data, sizeof(data), "%s/data", base);
	snprintf(suri, sizeof(suri), "file:%s/seed", base);
	if (mkdir(data, 0700) != 0 ||
	    provision(state, root, issuer, sizeof(root)) != 0 ||
	    start_swtpm(state) != 0) {
		fprintf(stderr, "bench bttpm: cannot provision or start swtpm\n");
		goto out;
	}
	snprintf(uri, sizeof(uri), "tpm:swtpm:host=127.0.0.1,port=%d", tpm_port);
	memset(&o, 0, sizeof(o));
	o.version = BTTPM_OPTIONS_VERSION;
	o.flags = BTTPM_OPEN_CREATE;
	if (bttpm_keystore_open(&tks, uri, data, &o) != BT_OK ||
	    bttpm_keystore_open(&sks, suri, NULL, &o) != BT_OK)
		goto out;
	bttpm_keystore_close(tks);
	bttpm_keystore_close(sks);
	tks = sks = NULL;

	tpm_ms = opens_per_s(uri, data, 20);
	soft_ms = opens_per_s(suri, NULL, 200);
	if (tpm_ms == 0 || soft_ms == 0)
		goto out;
	bench_line("bttpm", "startup_open_unseal_swtpm", tpm_ms, "ms",
	    soft_ms, "ms (software backend)", NULL);

	if (bttpm_keystore_open(&tks, uri, data, NULL) != BT_OK ||
	    bttpm_keystore_open(&sks, suri, NULL, NULL) != BT_OK ||
	    bttpm_verifier_new(&v) != BT_OK ||
	    bttpm_verifier_add_ca_file(v, root) != BT_OK ||
	    bttpm_verifier_add_ca_file(v, issuer) != BT_OK)
		goto out;
	n = 50;
	t0 = bench_now();
	for (i = 0; i < n; i++) {
		if (bttpm_keystore_attest(tks, (uint64_t)i, &st, &len) != BT_OK)
			goto out;
		bttpm_free(tst);
		tst = st;
		tlen = len;
	}
	t_sign = n / (bench_now() - t0);
	n = 2000;
	t0 = bench_now();
	for (i = 0; i < n; i++) {
		if (bttpm_keystore_attest(sks, (uint64_t)i, &st, &len) != BT_OK)
			goto out;
		bttpm_free(sst);
		sst = st;
		slen = len;
	}
	s_sign = n / (bench_now() - t0);
	bench_line("bttpm", "attest_sign_swtpm", t_sign, "stmt/s", s_sign,
	    "stmt/s (software backend)", NULL);

	n = 500;
	t0 = bench_now();
	for (i = 0; i < n; i++)
		if (bttpm_statement_verify(v, tst, tlen, NULL, NULL, NULL) != BT_OK)
			goto out;
	t_ver = n / (bench_now() - t0);
	n = 2000;
	t0 = bench_now();
	for (i = 0; i < n; i++)
		if (bttpm_statement_verify(v, sst, slen, NULL, NULL, NULL) !=
		    BTTPM_E_UNATTESTED)
			goto out;
	s_ver = n / (bench_now() - t0);
	bench_line("bttpm", "attest_verify", t_ver, "stmt/s", s_ver,
	    "stmt/s (software statement)", NULL);
	rc = 0;
out:
	bttpm_free(tst);
	bttpm_free(sst);
	bttpm_verifier_free(v);
	bttpm_keystore_close(tks);
	bttpm_keystore_close(sks);
	if (tpm_pid > 0)
		stop_swtpm();
	(void)nftw(base, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	if (rc != 0)
		fprintf(stderr, "bench bttpm: failed\n");
	return rc;
}
