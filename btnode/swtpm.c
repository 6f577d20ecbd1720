/*
 * swtpm.c - the software TPM that btnode starts under its data directory
 * when no TPM device is there (keystore "swtpm", see btnode(8)): a free
 * port pair on 127.0.0.1, the swtpm child started and watched until it
 * answers, and stopped with the node.
 */
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bt/id.h>

#include "btnode-internal.h"

static int
port_free(unsigned port)
{
	struct sockaddr_in sa;
	int fd, ok;

	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) < 0)
		return 0;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ok = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return ok;
}

/* A port P with P and P + 1 free on 127.0.0.1. */
static unsigned
find_ports(void)
{
	struct bt_id rnd;
	unsigned i, p;
	uint32_t r;

	for (i = 0; i < 200; i++) {
		if (btcore_id_random(&rnd) == BT_OK)
			memcpy(&r, rnd.b, sizeof(r));
		else
			r = (uint32_t)getpid() * 7919u + i * 104729u;
		p = 61000 + r % 4000;	/* above the ephemeral ports */
		if (port_free(p) && port_free(p + 1))
			return p;
	}
	return 0;
}

static int
port_answers(unsigned port)
{
	struct sockaddr_in sa;
	int fd, ok;

	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) < 0)
		return 0;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return ok;
}

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static pid_t
spawn(char *const argv[])
{
	pid_t pid = fork();
	int fd;

	if (pid != 0)
		return pid;
	/* the child: ends with us, stays out of our terminal's signals */
	(void)prctl(PR_SET_PDEATHSIG, SIGTERM);
	(void)setpgid(0, 0);
	if ((fd = open("/dev/null", O_RDWR)) >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		if (fd > 2)
			close(fd);
	}
	execvp(argv[0], argv);
	_exit(127);
}

/* Wait for @p pid at most @p ms; 1 when it ended. */
static int
wait_for(pid_t pid, long ms, int *status)
{
	long t;
	int st;

	for (t = 0; t <= ms; t += 10) {
		pid_t w = waitpid(pid, &st, WNOHANG);

		if (w == pid || (w < 0 && errno == ECHILD)) {
			if (status != NULL)
				*status = w == pid ? st : 0;
			return 1;
		}
		sleep_ms(10);
	}
	return 0;
}

void
btnode_swtpm_stop(struct btnode_swtpm *t)
{
	char ctrl[32];
	char *argv[] = { "swtpm_ioctl", "--tcp", ctrl, "-s", NULL };
	pid_t p;

	if (t->pid <= 0)
		return;
	snprintf(ctrl, sizeof(ctrl), "127.0.0.1:%u", t->port + 1);
	if ((p = spawn(argv)) > 0 && !wait_for(p, 3000, NULL)) {
		kill(p, SIGKILL);
		(void)wait_for(p, 1000, NULL);
	}
	if (!wait_for(t->pid, 3000, NULL)) {
		kill(t->pid, SIGTERM);
		if (!wait_for(t->pid, 2000, NULL)) {
			kill(t->pid, SIGKILL);
			(void)wait_for(t->pid, 2000, NULL);
		}
	}
	btnode_log(BTNODE_LOG_INFO, "swtpm stopped");
	t->pid = 0;
}

int
btnode_swtpm_start(struct btnode_swtpm *t, const char *datadir,
    unsigned cfg_port)
{
	char state[4200], server[80], ctrl[80], log[4200];
	char *argv[] = { "swtpm", "socket", "--tpm2", "--tpmstate", state,
	    "--server", server, "--ctrl", ctrl, "--flags",
	    "not-need-init,startup-clear", "--log", log, NULL };
	int attempt, status;
	long ms;

	if ((t->dir = btnode_join(datadir, "swtpm")) == NULL)
		return -1;
	if (strchr(t->dir, ',') != NULL) {
		btnode_log(BTNODE_LOG_ERROR, "swtpm: the data directory must "
		    "not contain a comma: %s", t->dir);
		return -1;
	}
	if (btnode_mkdirs(t->dir) != 0) {
		btnode_log(BTNODE_LOG_ERROR, "swtpm: cannot create %s",
		    t->dir);
		return -1;
	}
	snprintf(state, sizeof(state), "dir=%s", t->dir);
	snprintf(log, sizeof(log), "file=%s/swtpm.log,level=1", t->dir);
	for (attempt = 0; attempt < 10; attempt++) {
		t->port = cfg_port != 0 ? cfg_port : find_ports();
		if (t->port == 0) {
			btnode_log(BTNODE_LOG_ERROR, "swtpm: no free port pair");
			return -1;
		}
		snprintf(server, sizeof(server),
		    "type=tcp,port=%u,bindaddr=127.0.0.1", t->port);
		snprintf(ctrl, sizeof(ctrl),
		    "type=tcp,port=%u,bindaddr=127.0.0.1", t->port + 1);
		if ((t->pid = spawn(argv)) < 0) {
			btnode_log(BTNODE_LOG_ERROR, "swtpm: cannot fork");
			return -1;
		}
		for (ms = 0; ms < 5000; ms += 10) {
			if (wait_for(t->pid, 0, &status)) {
				t->pid = 0;
				break;
			}
			if (port_answers(t->port)) {
				btnode_log(BTNODE_LOG_INFO, "swtpm started "
				    "(pid %ld, 127.0.0.1:%u, state %s)",
				    (long)t->pid, t->port, t->dir);
				return 0;
			}
			sleep_ms(10);
		}
		if (t->pid > 0) {
			kill(t->pid, SIGKILL);
			(void)wait_for(t->pid, 2000, NULL);
			t->pid = 0;
		} else if (WIFEXITED(status) && WEXITSTATUS(status) == 127) {
			btnode_log(BTNODE_LOG_ERROR, "swtpm: cannot run swtpm "
			    "(install the swtpm package, or set keystore = "
			    "file:<path> in btnode.conf)");
			return -1;
		}
		/* port taken meanwhile, or the state still locked by an
		   instance that is ending: try again */
		sleep_ms(300);
	}
	btnode_log(BTNODE_LOG_ERROR, "swtpm: did not start; see %s/swtpm.log",
	    t->dir);
	return -1;
}

