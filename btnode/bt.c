/*
 * bt - the command-line client of a BlockTree node (bt(1)).
 *
 * Talks to the local node over its API socket with libbtapi: files
 * (put, get, cat, ls, mkdir, rm, mv), peers, friends (invite, accept),
 * feeds, records, programs and status.  Exit codes are listed in EXIT_*
 * below and in bt(1).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include <bt/api.h>
#include <bt/error.h>
#include <bt/id.h>
#include <bt/ns.h>

#define EXIT_OK		0
#define EXIT_ERR	1	/* any other failure */
#define EXIT_USAGE	2	/* bad command line */
#define EXIT_NOTFOUND	3	/* the path or file does not exist */
#define EXIT_UNREACH	4	/* no node answers on the socket */
#define EXIT_DENIED	5	/* not permitted */
#define EXIT_EXISTS	6	/* the destination exists */

#define PIECE		BTAPI_IO_MAX

static const char *sock_path;
static int opt_json;
static int opt_quiet;
static char sock_buf[PATH_MAX];

/* ---- messages ------------------------------------------------------------- */

static void
ignore_rc(int rc)
{
	(void)rc;
}

/* The text of errno @p e (XSI strerror_r into a static buffer). */
static const char *
errtext(int e)
{
	static char buf[256];

	if (strerror_r(e, buf, sizeof(buf)) != 0)
		snprintf(buf, sizeof(buf), "error %d", e);
	return buf;
}

static void
say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
say(const char *fmt, ...)
{
	va_list ap;

	fputs("bt: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* Report a node error about @p what; the exit code that goes with it. */
static int
fail(const char *what, int rc)
{
	switch (rc) {
	case BT_ENOTFOUND:
		say("%s: not found", what);
		return EXIT_NOTFOUND;
	case BTSTORE_ENOTDIR:
		say("%s: a component of the path is a file, not a directory",
		    what);
		return EXIT_NOTFOUND;
	case BTSTORE_EISDIR:
		say("%s: is a directory (use bt ls, or bt rm -r to remove it)",
		    what);
		return EXIT_ERR;
	case BT_EEXIST:
		say("%s: already exists", what);
		return EXIT_EXISTS;
	case BT_EPERM:
		say("%s: not permitted (only the node's home namespace can be "
		    "changed; .. cannot leave a namespace)", what);
		return EXIT_DENIED;
	case BTAPI_EDENIED:
		say("%s: denied by the node", what);
		return EXIT_DENIED;
	case BTAPI_ELOCKED:
		say("%s: locked by a program; try again when it is done", what);
		return EXIT_ERR;
	case BT_EFORMAT:
		say("%s: not a valid path (paths look like /dir/file or "
		    "/<64 hex namespace>/dir/file)", what);
		return EXIT_USAGE;
	case BT_ENOSPC:
		say("%s: the node's storage is full", what);
		return EXIT_ERR;
	case BTAPI_EOFFLINE:
		say("%s: the node runs without network (start btnode with "
		    "listen addresses)", what);
		return EXIT_ERR;
	case BT_EVERIFY:
		say("%s: the signature does not verify (damaged or forged)",
		    what);
		return EXIT_DENIED;
	case BT_ECLOSED:
	case BT_EIO:
		say("%s: lost the connection to the node at %s (%s)", what,
		    sock_path, btapi_strerror(rc));
		return EXIT_UNREACH;
	default:
		say("%s: %s", what, btapi_strerror(rc));
		return EXIT_ERR;
	}
}

static void
json_str(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	fputc('"', f);
	for (; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p == '\n')
			fputs("\\n", f);
		else if (*p == '\t')
			fputs("\\t", f);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(f, "\\u%04x", *p);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}

/* ---- connection ------------------------------------------------------------- */

static void
default_socket(void)
{
	const char *s, *home;

	if ((s = getenv("BT_SOCKET")) != NULL && s[0] != '\0') {
		sock_path = s;
		return;
	}
	if ((s = getenv("BT_HOME")) != NULL && s[0] != '\0')
		snprintf(sock_buf, sizeof(sock_buf), "%s/api/sock", s);
	else if ((home = getenv("HOME")) != NULL && home[0] != '\0')
		snprintf(sock_buf, sizeof(sock_buf),
		    "%s/.local/share/blocktree/api/sock", home);
	else
		snprintf(sock_buf, sizeof(sock_buf), "blocktree/api/sock");
	sock_path = sock_buf;
}

static int
connect_node(struct btapi **c)
{
	struct stat sb;
	int rc;

	if ((rc = btapi_connect_blocking(c, sock_path, NULL, 0)) == BT_OK)
		return EXIT_OK;
	if (stat(sock_path, &sb) != 0)
		say("cannot reach the node at %s: no socket there; is btnode "
		    "running? (start it with: btnode; or point bt at its "
		    "socket with -S or BT_SOCKET)", sock_path);
	else if (rc == BT_EIO)
		say("cannot reach the node at %s: is btnode running, and "
		    "running as you? (start it with: btnode)", sock_path);
	else
		say("the node at %s refused the connection: %s", sock_path,
		    btapi_strerror(rc));
	return EXIT_UNREACH;
}

/* ---- progress -------------------------------------------------------------- */

struct progress {
	int on;			/* a terminal and not quiet */
	int shown;
	double t0, last;
	uint64_t total;		/* 0: unknown */
	const char *name;
};

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
human(char *buf, size_t cap, double v)
{
	static const char *const U[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	size_t u = 0;

	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	snprintf(buf, cap, u == 0 ? "%.0f %s" : "%.1f %s", v, U[u]);
}

static void
progress_init(struct progress *p, const char *name, uint64_t total)
{
	memset(p, 0, sizeof(*p));
	p->on = !opt_quiet && !opt_json && isatty(STDERR_FILENO);
	p->t0 = now();
	p->total = total;
	p->name = name;
}

static void
progress_show(struct progress *p, uint64_t done, int final)
{
	char a[32], b[32], r[32], bar[32], eta[32] = "";
	double t = now(), el = t - p->t0, rate;
	size_t i, fill;

	if (!p->on || (!final && (el < 1.0 || t - p->last < 0.1)) ||
	    (final && !p->shown))
		return;
	p->last = t;
	p->shown = 1;
	rate = el > 0 ? (double)done / el : 0;
	human(a, sizeof(a), (double)done);
	human(r, sizeof(r), rate);
	if (p->total > 0) {
		human(b, sizeof(b), (double)p->total);
		fill = (size_t)(20.0 * (double)done / (double)p->total);
		if (fill > 20)
			fill = 20;
		for (i = 0; i < 20; i++)
			bar[i] = i < fill ? '#' : '.';
		bar[20] = '\0';
		if (!final && rate > 0 && done < p->total) {
			uint64_t s = (uint64_t)((double)(p->total - done) /
			    rate);

			snprintf(eta, sizeof(eta), " ETA %" PRIu64 ":%02u",
			    s / 60, (unsigned)(s % 60));
		}
		fprintf(stderr, "\r%s [%s] %s / %s  %s/s%s\033[K", p->name, bar,
		    a, b, r, eta);
	} else {
		fprintf(stderr, "\r%s %s  %s/s\033[K", p->name, a, r);
	}
	if (final)
		fputc('\n', stderr);
	fflush(stderr);
}

/* ---- commands ---------------------------------------------------------------- */

static const char *
base_name(const char *p)
{
	const char *s = strrchr(p, '/');

	return s != NULL ? s + 1 : p;
}

static int
cmd_put(struct btapi *c, int argc, char **argv)
{
	struct btapi_stream *s = NULL;
	struct btapi_stat st;
	struct progress pg;
	struct stat sb;
	char dest[8192], *buf = NULL;
	const char *local = argv[0], *path = argv[1];
	uint64_t done = 0;
	ssize_t n;
	unsigned flags = BTAPI_WRITE | BTAPI_CREATE;
	int fd = -1, rc, ex = EXIT_ERR;

	if (argc != 2) {
		say("usage: bt put <local-file|-> <path>");
		return EXIT_USAGE;
	}
	if (strcmp(local, "-") == 0) {
		fd = STDIN_FILENO;
	} else if ((fd = open(local, O_RDONLY)) < 0) {
		say("%s: cannot open: %s", local, errtext(errno));
		return errno == ENOENT ? EXIT_NOTFOUND : EXIT_ERR;
	}
	/* into a directory: keep the file's name */
	snprintf(dest, sizeof(dest), "%s", path);
	if (path[strlen(path) - 1] == '/' ||
	    (btapi_stat_sync(c, path, &st) == BT_OK &&
	    st.kind == BTAPI_KIND_DIR)) {
		if (strcmp(local, "-") == 0) {
			say("%s: is a directory: name the file to write",
			    path);
			ex = EXIT_USAGE;
			goto out;
		}
		snprintf(dest, sizeof(dest), "%s%s%s", path,
		    path[strlen(path) - 1] == '/' ? "" : "/", base_name(local));
	}
	progress_init(&pg, base_name(dest), fstat(fd, &sb) == 0 &&
	    S_ISREG(sb.st_mode) ? (uint64_t)sb.st_size : 0);
	if ((buf = malloc(PIECE)) == NULL) {
		say("out of memory");
		goto out;
	}
	if ((rc = btapi_stream_open_sync(&s, c, dest, flags, 0)) != BT_OK) {
		ex = fail(dest, rc);
		goto out;
	}
	for (;;) {
		n = read(fd, buf, PIECE);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			say("%s: read failed: %s", local,
			    errtext(errno));
			goto out;
		}
		if (n == 0)
			break;
		if ((rc = btapi_stream_write_sync(s, buf, (size_t)n)) !=
		    BT_OK) {
			ex = fail(dest, rc);
			goto out;
		}
		done += (uint64_t)n;
		progress_show(&pg, done, 0);
	}
	rc = btapi_stream_close_sync(s);
	s = NULL;
	if (rc != BT_OK) {
		ex = fail(dest, rc);
		goto out;
	}
	progress_show(&pg, done, 1);
	if (opt_json) {
		printf("{\"path\": ");
		json_str(stdout, dest);
		printf(", \"bytes\": %" PRIu64 ", \"seconds\": %.3f}\n", done,
		    now() - pg.t0);
	}
	ex = EXIT_OK;
out:
	if (s != NULL)
		ignore_rc(btapi_stream_close_sync(s));
	if (fd > STDIN_FILENO)
		close(fd);
	free(buf);
	return ex;
}

/* Write all of @p len bytes to @p fd. */
static int
write_all(int fd, const void *data, size_t len)
{
	const char *p = data;
	ssize_t n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int
cmd_get(struct btapi *c, int argc, char **argv, int cat)
{
	struct btapi_stream *s = NULL;
	struct progress pg;
	struct stat sb;
	char tmp[PATH_MAX + 16], target[PATH_MAX], *buf = NULL;
	const char *path, *local = "-";
	uint64_t done = 0;
	size_t n;
	int fd = -1, rc, ex = EXIT_ERR, to_stdout;

	if (argc < 1 || argc > 2 || (cat && argc != 1)) {
		say(cat ? "usage: bt cat <path>" :
		    "usage: bt get <path> [<local-file>|-]");
		return EXIT_USAGE;
	}
	path = argv[0];
	if (argc == 2)
		local = argv[1];
	else if (!cat)
		local = base_name(path);
	to_stdout = cat || strcmp(local, "-") == 0;
	if (!to_stdout && local[0] == '\0') {
		say("%s: name the local file to write", path);
		return EXIT_USAGE;
	}
	tmp[0] = '\0';
	if ((rc = btapi_stream_open_sync(&s, c, path, BTAPI_READ, 0)) !=
	    BT_OK) {
		ex = fail(path, rc);
		goto out;
	}
	if (to_stdout) {
		fd = STDOUT_FILENO;
	} else {
		/* a directory: the file keeps its name there */
		if (stat(local, &sb) == 0 && S_ISDIR(sb.st_mode))
			n = (size_t)snprintf(target, sizeof(target), "%s/%s",
			    local, base_name(path));
		else
			n = (size_t)snprintf(target, sizeof(target), "%s",
			    local);
		if (n >= sizeof(target)) {
			say("%s: local name too long", local);
			goto out;
		}
		snprintf(tmp, sizeof(tmp), "%s.bt-part", target);
		if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644)) < 0) {
			say("%s: cannot create: %s", tmp, errtext(errno));
			tmp[0] = '\0';
			goto out;
		}
	}
	progress_init(&pg, base_name(path), btapi_stream_size(s));
	if (to_stdout && isatty(STDOUT_FILENO))
		pg.on = 0;
	if ((buf = malloc(PIECE)) == NULL) {
		say("out of memory");
		goto out;
	}
	for (;;) {
		if ((rc = btapi_stream_read_sync(s, buf, PIECE, &n)) != BT_OK) {
			ex = fail(path, rc);
			goto out;
		}
		if (n == 0)
			break;
		if (write_all(fd, buf, n) != 0) {
			say("%s: write failed: %s", to_stdout ? "stdout" : tmp,
			    errtext(errno));
			goto out;
		}
		done += n;
		progress_show(&pg, done, 0);
	}
	if (!to_stdout) {
		if (fsync(fd) != 0 || close(fd) != 0) {
			fd = -1;
			say("%s: write failed: %s", tmp, errtext(errno));
			goto out;
		}
		fd = -1;
		if (rename(tmp, target) != 0) {
			say("%s: cannot rename into place: %s", target,
			    errtext(errno));
			goto out;
		}
		tmp[0] = '\0';
	}
	progress_show(&pg, done, 1);
	if (opt_json && !to_stdout) {
		printf("{\"path\": ");
		json_str(stdout, path);
		printf(", \"file\": ");
		json_str(stdout, target);
		printf(", \"bytes\": %" PRIu64 ", \"seconds\": %.3f}\n", done,
		    now() - pg.t0);
	}
	ex = EXIT_OK;
out:
	if (s != NULL)
		ignore_rc(btapi_stream_close_sync(s));
	if (fd > STDOUT_FILENO)
		close(fd);
	if (tmp[0] != '\0')
		unlink(tmp);
	free(buf);
	return ex;
}

struct lsctx {
	int longfmt;
	int n;
};

static void
fmt_time(int64_t ns, char *buf, size_t cap)
{
	time_t t = (time_t)(ns / 1000000000);
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, cap, "-");
}

static void
print_entry(struct lsctx *l, const char *name, const struct btapi_stat *st)
{
	char t[40], hex[65];

	if (opt_json) {
		fmt_time(st->mtime, t, sizeof(t));
		printf("%s\n  {\"name\": ", l->n > 0 ? "," : "");
		json_str(stdout, name);
		printf(", \"kind\": \"%s\", \"size\": %" PRIu64 ", \"mode\": "
		    "%" PRIu32 ", \"mtime\": \"%s\", \"mtime_ns\": %" PRId64
		    ", \"layout\": \"%s\", \"root\": \"%s\"}",
		    st->kind == BTAPI_KIND_DIR ? "dir" : "file", st->size,
		    st->mode, t, st->mtime, st->random ? "random" :
		    "sequential", btcore_id_to_hex(&st->root, hex));
	} else if (l->longfmt) {
		fmt_time(st->mtime, t, sizeof(t));
		printf("%c%04o %12" PRIu64 " %s %s%s\n",
		    st->kind == BTAPI_KIND_DIR ? 'd' : '-', st->mode & 07777,
		    st->size, t, name, st->kind == BTAPI_KIND_DIR ? "/" : "");
	} else {
		printf("%s%s\n", name, st->kind == BTAPI_KIND_DIR ? "/" : "");
	}
	l->n++;
}

static int
ls_one(void *arg, const struct btapi_dirent *e)
{
	print_entry(arg, e->name, &e->st);
	return 0;
}

static int
cmd_ls(struct btapi *c, int argc, char **argv)
{
	struct lsctx l = { 0, 0 };
	struct btapi_stat st;
	const char *path = "/";
	int rc, i;

	for (i = 0; i < argc && argv[i][0] == '-' && argv[i][1] != '\0'; i++) {
		if (strcmp(argv[i], "-l") == 0) {
			l.longfmt = 1;
		} else {
			say("usage: bt ls [-l] [<path>]");
			return EXIT_USAGE;
		}
	}
	if (argc - i > 1) {
		say("usage: bt ls [-l] [<path>]");
		return EXIT_USAGE;
	}
	if (argc - i == 1)
		path = argv[i];
	if ((rc = btapi_stat_sync(c, path, &st)) != BT_OK)
		return fail(path, rc);
	if (opt_json)
		printf("[");
	if (st.kind == BTAPI_KIND_FILE)
		print_entry(&l, base_name(path), &st);
	else if ((rc = btapi_list_sync(c, path, ls_one, &l)) != BT_OK) {
		if (opt_json)
			printf("]\n");
		return fail(path, rc);
	}
	if (opt_json)
		printf("%s]\n", l.n > 0 ? "\n" : "");
	return EXIT_OK;
}

static int
cmd_simple(struct btapi *c, const char *cmd, int argc, char **argv)
{
	unsigned flags = 0;
	int i, rc;

	for (i = 0; i < argc && argv[i][0] == '-' && argv[i][1] != '\0'; i++) {
		if (strcmp(cmd, "mkdir") == 0 && strcmp(argv[i], "-p") == 0)
			flags |= BTAPI_PARENTS;
		else if (strcmp(cmd, "rm") == 0 && strcmp(argv[i], "-r") == 0)
			flags |= BTAPI_RECURSIVE;
		else if (strcmp(cmd, "mv") == 0 && strcmp(argv[i], "-p") == 0)
			flags |= BTAPI_PARENTS;
		else
			goto usage;
	}
	argc -= i;
	argv += i;
	if (strcmp(cmd, "mv") == 0) {
		if (argc != 2)
			goto usage;
		rc = btapi_rename_sync(c, argv[0], argv[1], flags);
		if (rc == BT_EEXIST)
			return fail(argv[1], rc);
		if (rc != BT_OK)
			return fail(argv[0], rc);
		return EXIT_OK;
	}
	if (argc < 1)
		goto usage;
	for (i = 0; i < argc; i++) {
		if (strcmp(cmd, "mkdir") == 0)
			rc = btapi_mkdir_sync(c, argv[i], flags);
		else
			rc = btapi_remove_sync(c, argv[i], flags);
		if (rc == BT_EEXIST && strcmp(cmd, "mkdir") == 0 &&
		    (flags & BTAPI_PARENTS))
			rc = BT_OK;
		if (rc == BT_EEXIST && strcmp(cmd, "rm") == 0) {
			say("%s: directory not empty (use bt rm -r)", argv[i]);
			return EXIT_ERR;
		}
		if (rc != BT_OK)
			return fail(argv[i], rc);
	}
	return EXIT_OK;
usage:
	if (strcmp(cmd, "mv") == 0)
		say("usage: bt mv [-p] <from> <to>");
	else if (strcmp(cmd, "mkdir") == 0)
		say("usage: bt mkdir [-p] <path>...");
	else
		say("usage: bt rm [-r] <path>...");
	return EXIT_USAGE;
}

static int
cmd_status(struct btapi *c)
{
	struct btapi_status st;
	char home[160], hex[65];
	int rc;

	if ((rc = btapi_status_sync(c, &st, home, sizeof(home))) != BT_OK)
		return fail("status", rc);
	btcore_id_to_hex(&st.node, hex);
	if (opt_json) {
		printf("{\"version\": ");
		json_str(stdout, st.version != NULL ? st.version : "");
		printf(", \"node\": \"%s\", \"home\": ", hex);
		json_str(stdout, home);
		printf(", \"online\": %s, \"peers\": %" PRIu32 ", \"clients\": "
		    "%" PRIu32 ", \"socket\": ", st.online ? "true" : "false",
		    st.peers, st.clients);
		json_str(stdout, sock_path);
		printf("}\n");
	} else {
		printf("node     %s\nhome     %s\nversion  %s\nnetwork  %s\n"
		    "peers    %" PRIu32 "\nprograms %" PRIu32 "\nsocket   %s\n",
		    hex, home, st.version != NULL ? st.version : "-",
		    st.online ? "online" : "offline", st.peers, st.clients,
		    sock_path);
	}
	return EXIT_OK;
}

/* ---- peers and friends ------------------------------------------------------ */

static void
peers_cb(void *arg, int err, const struct btapi_peer *p, size_t n, int online)
{
	char hex[65];
	size_t i;

	(void)arg;
	(void)err;
	if (opt_json) {
		printf("{\"online\": %s, \"peers\": [", online ? "true" :
		    "false");
		for (i = 0; i < n; i++) {
			printf("%s{\"node\": \"%s\", \"addr\": ", i > 0 ?
			    ", " : "", btcore_id_to_hex(&p[i].node, hex));
			json_str(stdout, p[i].addr);
			printf("}");
		}
		printf("]}\n");
		return;
	}
	if (!online)
		fprintf(stderr, "bt: the node is offline\n");
	for (i = 0; i < n; i++)
		printf("%s  %s\n", btcore_id_to_hex(&p[i].node, hex),
		    p[i].addr[0] != '\0' ? p[i].addr : "-");
}

static int
cmd_peers(struct btapi *c)
{
	int rc;

	if ((rc = btapi_peer_list_sync(c, peers_cb, NULL)) != BT_OK)
		return fail("peers", rc);
	return EXIT_OK;
}

/* Read a whole small file (or stdin for "-") into @p buf. */
static int
read_small(const char *path, uint8_t *buf, size_t cap, size_t *len)
{
	int fd, e;
	ssize_t n;

	*len = 0;
	fd = strcmp(path, "-") == 0 ? STDIN_FILENO : open(path, O_RDONLY);
	if (fd < 0) {
		say("%s: %s", path, errtext(errno));
		return errno == ENOENT ? EXIT_NOTFOUND : EXIT_ERR;
	}
	for (;;) {
		n = read(fd, buf + *len, cap - *len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		*len += (size_t)n;
		if (*len == cap) {
			say("%s: larger than %zu bytes", path, cap - 1);
			n = -2;
			break;
		}
	}
	e = errno;
	if (fd != STDIN_FILENO)
		close(fd);
	if (n == -1) {
		say("%s: %s", path, errtext(e));
		return EXIT_ERR;
	}
	return n == -2 ? EXIT_ERR : EXIT_OK;
}

static int
cmd_invite(struct btapi *c, int argc, char **argv)
{
	uint8_t file[1024];
	size_t len;
	const char *out = NULL;
	int fd, rc, ex = EXIT_OK;

	if (argc == 2 && strcmp(argv[0], "-o") == 0)
		out = argv[1];
	else if (argc != 0) {
		say("usage: bt invite [-o <file>]");
		return EXIT_USAGE;
	}
	if ((rc = btapi_friend_invite_sync(c, file, sizeof(file), &len)) !=
	    BT_OK)
		return fail("invite", rc);
	if (out == NULL && isatty(STDOUT_FILENO)) {
		say("invite: the peer file is binary: write it with -o <file> "
		    "or redirect the output");
		return EXIT_USAGE;
	}
	fd = out == NULL ? STDOUT_FILENO :
	    open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0) {
		say("%s: %s", out, errtext(errno));
		return EXIT_ERR;
	}
	if (write_all(fd, file, len) != 0) {
		say("%s: %s", out != NULL ? out : "stdout", errtext(errno));
		ex = EXIT_ERR;
	}
	if (out != NULL && close(fd) != 0 && ex == EXIT_OK) {
		say("%s: %s", out, errtext(errno));
		ex = EXIT_ERR;
	}
	return ex;
}

static int
cmd_accept(struct btapi *c, int argc, char **argv)
{
	uint8_t file[1025];
	struct bt_id id;
	char hex[65];
	size_t len;
	int rc, ex;

	if (argc != 1) {
		say("usage: bt accept <peer-file|->");
		return EXIT_USAGE;
	}
	if ((ex = read_small(argv[0], file, sizeof(file), &len)) != EXIT_OK)
		return ex;
	if (len == 0) {
		say("%s: empty", argv[0]);
		return EXIT_ERR;
	}
	rc = btapi_friend_accept_sync(c, file, len, &id);
	if (rc == BT_EFORMAT || rc == BT_ETRUNC) {
		say("%s: not a peer file", argv[0]);
		return EXIT_ERR;
	}
	if (rc != BT_OK)
		return fail(argv[0], rc);
	btcore_id_to_hex(&id, hex);
	if (opt_json)
		printf("{\"node\": \"%s\"}\n", hex);
	else
		printf("%s\n", hex);
	return EXIT_OK;
}

static void
friends_cb(void *arg, int err, const struct btapi_friend *f, size_t n)
{
	char hex[65];
	size_t i, j;

	(void)arg;
	(void)err;
	if (opt_json)
		printf("[");
	for (i = 0; i < n; i++) {
		btcore_id_to_hex(&f[i].node, hex);
		if (opt_json) {
			printf("%s{\"node\": \"%s\", \"connected\": %s, "
			    "\"addrs\": [", i > 0 ? ", " : "", hex,
			    f[i].connected ? "true" : "false");
			for (j = 0; j < f[i].naddrs; j++) {
				if (j > 0)
					printf(", ");
				json_str(stdout, f[i].addrs[j]);
			}
			printf("]}");
			continue;
		}
		printf("%s  %-9s", hex, f[i].connected ? "connected" :
		    "away");
		for (j = 0; j < f[i].naddrs; j++)
			printf(" %s", f[i].addrs[j]);
		printf("\n");
	}
	if (opt_json)
		printf("]\n");
}

static int
parse_id(const char *s, struct bt_id *id)
{
	if (strlen(s) != 64 || btcore_id_from_hex(id, s) != BT_OK) {
		say("%s: not a node or key id (64 hex digits)", s);
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

static int
cmd_friends(struct btapi *c, int argc, char **argv)
{
	struct bt_id id;
	int rc, ex;

	if (argc == 2 && strcmp(argv[0], "rm") == 0) {
		if ((ex = parse_id(argv[1], &id)) != EXIT_OK)
			return ex;
		if ((rc = btapi_friend_remove_sync(c, &id)) != BT_OK)
			return fail(argv[1], rc);
		return EXIT_OK;
	}
	if (argc != 0) {
		say("usage: bt friends [rm <node>]");
		return EXIT_USAGE;
	}
	if ((rc = btapi_friend_list_sync(c, friends_cb, NULL)) != BT_OK)
		return fail("friends", rc);
	return EXIT_OK;
}

/* ---- feeds ------------------------------------------------------------------ */

static int
parse_feed(const char *s, struct bt_pubkey *k)
{
	struct bt_id id;
	int ex;

	if ((ex = parse_id(s, &id)) == EXIT_OK)
		memcpy(k->b, id.b, 32);
	return ex;
}

static int
parse_count(const char *s, uint64_t *v)
{
	char *end;
	unsigned long long n;

	errno = 0;
	n = strtoull(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || s[0] == '-' ||
	    n > INT64_MAX) {
		say("%s: not a count", s);
		return EXIT_USAGE;
	}
	*v = n;
	return EXIT_OK;
}

static void
print_info(const struct btapi_feed_info *fi, int first)
{
	char hex[65];
	struct bt_id id;

	memcpy(id.b, fi->feed.b, 32);
	btcore_id_to_hex(&id, hex);
	if (opt_json) {
		printf("{\"feed\": \"%s\", \"length\": %" PRIu64 ", \"held\": "
		    "%" PRIu64 ", \"owned\": %s, \"forked\": %s", hex,
		    fi->length, fi->held, fi->owned ? "true" : "false",
		    fi->forked ? "true" : "false");
		if (first)
			printf(", \"first\": %" PRIu64, fi->first);
		printf("}\n");
	} else if (first) {
		printf("%" PRIu64 "\n", fi->first);
	} else {
		printf("feed    %s\nlength  %" PRIu64 "\nheld    %" PRIu64
		    "\n%s%s", hex, fi->length, fi->held, fi->owned ?
		    "owned   yes\n" : "owned   no\n", fi->forked ?
		    "forked  yes\n" : "");
	}
}

/* Print an entry: the payload and a newline (JSON: one object a line). */
static void
print_entry_data(uint64_t index, const void *data, size_t len)
{
	const unsigned char *p = data;
	size_t i;

	if (opt_json) {
		printf("{\"index\": %" PRIu64 ", \"data\": \"", index);
		for (i = 0; i < len; i++) {
			if (p[i] == '"' || p[i] == '\\')
				printf("\\%c", p[i]);
			else if (p[i] < 0x20 || p[i] >= 0x7f)
				printf("\\u%04x", p[i]);
			else
				putchar(p[i]);
		}
		printf("\"}\n");
	} else {
		fwrite(data, 1, len, stdout);
		putchar('\n');
	}
}

static void
follow_fn(void *arg, int64_t follow, uint64_t index, const void *data,
    size_t len)
{
	(void)arg;
	(void)follow;
	print_entry_data(index, data, len);
	fflush(stdout);
}

/* Append each argument, or each line of stdin, as one entry. */
static int
feed_append(struct btapi *c, int argc, char **argv)
{
	struct btapi_item items[256];
	struct btapi_feed_info fi;
	char *line = NULL;
	char *lines[256];
	size_t cap = 0, n = 0, i;
	ssize_t got;
	int rc, ex = EXIT_OK, any = 0;
	uint64_t first = 0;

	if (argc > 256) {
		say("feed append: at most 256 entries per command");
		return EXIT_USAGE;
	}
	if (argc > 0 && strcmp(argv[0], "-") != 0) {
		for (i = 0; i < (size_t)argc; i++) {
			items[i].data = argv[i];
			items[i].len = strlen(argv[i]);
		}
		if ((rc = btapi_feed_append_sync(c, items, (size_t)argc,
		    &fi)) != BT_OK)
			return fail("feed append", rc);
		print_info(&fi, 1);
		return EXIT_OK;
	}
	for (;;) {
		got = getline(&line, &cap, stdin);
		if (got > 0) {
			if (line[got - 1] == '\n')
				line[--got] = '\0';
			if ((lines[n] = strdup(line)) == NULL) {
				say("out of memory");
				ex = EXIT_ERR;
				break;
			}
			items[n].data = lines[n];
			items[n].len = (size_t)got;
			n++;
		}
		if (n == 256 || (got < 0 && n > 0)) {
			rc = btapi_feed_append_sync(c, items, n, &fi);
			for (i = 0; i < n; i++)
				free(lines[i]);
			n = 0;
			if (rc != BT_OK) {
				ex = fail("feed append", rc);
				break;
			}
			if (!any)
				first = fi.first;
			any = 1;
		}
		if (got < 0)
			break;
	}
	for (i = 0; i < n; i++)
		free(lines[i]);
	free(line);
	if (ex == EXIT_OK && any) {
		fi.first = first;
		print_info(&fi, 1);
	}
	return ex;
}

static int
cmd_feed(struct btapi *c, int argc, char **argv)
{
	struct btapi_feed_info fi;
	struct bt_pubkey k, *feed = NULL;
	uint64_t from = 0, i;
	uint8_t *buf = NULL;
	size_t len;
	int64_t follow;
	const char *sub;
	int rc, ex, a;

	if (argc < 1)
		goto usage;
	sub = argv[0];
	if (strcmp(sub, "create") == 0) {
		if (argc != 1)
			goto usage;
		if ((rc = btapi_feed_create_sync(c, &fi)) != BT_OK)
			return fail("feed create", rc);
		print_info(&fi, 0);
		return EXIT_OK;
	}
	if (strcmp(sub, "append") == 0)
		return feed_append(c, argc - 1, argv + 1);
	for (a = 1; a < argc; a++) {
		if (strcmp(argv[a], "-n") == 0 && a + 1 < argc &&
		    strcmp(sub, "head") != 0) {
			if ((ex = parse_count(argv[++a], &from)) != EXIT_OK)
				return ex;
		} else if (feed == NULL && argv[a][0] != '-') {
			if ((ex = parse_feed(argv[a], &k)) != EXIT_OK)
				return ex;
			feed = &k;
		} else {
			goto usage;
		}
	}
	if (strcmp(sub, "head") == 0) {
		if ((rc = btapi_feed_head_sync(c, feed, &fi)) != BT_OK)
			return fail("feed", rc);
		print_info(&fi, 0);
		return EXIT_OK;
	}
	if (strcmp(sub, "follow") == 0) {
		if ((rc = btapi_feed_follow_sync(c, feed, from, follow_fn, NULL,
		    &follow)) != BT_OK)
			return fail("feed", rc);
		rc = btapi_run_sync(c, 0);
		return fail("feed follow", rc);
	}
	if (strcmp(sub, "cat") != 0)
		goto usage;
	if ((rc = btapi_feed_head_sync(c, feed, &fi)) != BT_OK)
		return fail("feed", rc);
	if ((buf = malloc(BTAPI_IO_MAX)) == NULL) {
		say("out of memory");
		return EXIT_ERR;
	}
	ex = EXIT_OK;
	for (i = from; i < fi.length; i++) {
		rc = btapi_feed_get_sync(c, feed, i, buf, BTAPI_IO_MAX, &len);
		if (rc == BT_ENOTFOUND && !fi.owned)
			continue;	/* not held here */
		if (rc != BT_OK) {
			ex = fail("feed cat", rc);
			break;
		}
		print_entry_data(i, buf, len);
	}
	free(buf);
	return ex;
usage:
	say("usage: bt feed create | append [<text>...|-] | head [<feed>] | "
	    "cat [-n <from>] [<feed>] | follow [-n <from>] [<feed>]");
	return EXIT_USAGE;
}

/* ---- records and programs ----------------------------------------------------- */

static int
cmd_record(struct btapi *c, int argc, char **argv)
{
	uint8_t val[16 * 1024 + 1];
	struct bt_pubkey k, *pub = NULL;
	uint64_t seq;
	size_t len;
	int rc, ex;

	if (argc == 3 && strcmp(argv[0], "set") == 0) {
		if (strcmp(argv[2], "-") == 0) {
			if ((ex = read_small("-", val, sizeof(val), &len)) !=
			    EXIT_OK)
				return ex;
		} else {
			len = strlen(argv[2]);
			if (len > sizeof(val) - 1) {
				say("record set: a value is at most 16 KiB");
				return EXIT_USAGE;
			}
			memcpy(val, argv[2], len);
		}
		if (strlen(argv[1]) == 0 || strlen(argv[1]) > 64) {
			say("record set: a key is 1 to 64 bytes");
			return EXIT_USAGE;
		}
		rc = btapi_record_set_sync(c, argv[1], strlen(argv[1]), val,
		    len, &seq);
		if (rc == BT_EPERM) {
			say("%s: a key the node uses itself; pick another",
			    argv[1]);
			return EXIT_DENIED;
		}
		if (rc != BT_OK)
			return fail(argv[1], rc);
		if (opt_json)
			printf("{\"seq\": %" PRIu64 "}\n", seq);
		return EXIT_OK;
	}
	if (argc >= 2 && strcmp(argv[0], "get") == 0) {
		if (argc == 4 && strcmp(argv[1], "-k") == 0) {
			if ((ex = parse_feed(argv[2], &k)) != EXIT_OK)
				return ex;
			pub = &k;
		} else if (argc != 2) {
			goto usage;
		}
		if (strlen(argv[argc - 1]) == 0 ||
		    strlen(argv[argc - 1]) > 64) {
			say("record get: a key is 1 to 64 bytes");
			return EXIT_USAGE;
		}
		rc = btapi_record_get_sync(c, pub, argv[argc - 1],
		    strlen(argv[argc - 1]), val, sizeof(val), &len, &seq);
		if (rc != BT_OK)
			return fail(argv[argc - 1], rc);
		if (opt_json) {
			printf("{\"seq\": %" PRIu64 ", \"value\": ", seq);
			val[len] = '\0';
			json_str(stdout, (const char *)val);
			printf("}\n");
		} else {
			fwrite(val, 1, len, stdout);
			if (isatty(STDOUT_FILENO))
				putchar('\n');
		}
		return EXIT_OK;
	}
usage:
	say("usage: bt record set <key> <value|-> | get [-k <pubkey>] <key>");
	return EXIT_USAGE;
}

static void
programs_cb(void *arg, int err, const struct btapi_program *p, size_t n)
{
	size_t i;

	(void)arg;
	(void)err;
	if (opt_json)
		printf("[");
	for (i = 0; i < n; i++) {
		if (opt_json) {
			printf("%s{\"name\": ", i > 0 ? ", " : "");
			json_str(stdout, p[i].name);
			printf(", \"version\": ");
			json_str(stdout, p[i].version);
			printf(", \"scopes\": %" PRIu32 ", \"routes\": %" PRIu32
			    ", \"grants\": %" PRIu32 "}", p[i].scopes,
			    p[i].routes, p[i].grants);
		} else {
			printf("%-24s %-12s scopes %" PRIu32 " routes %" PRIu32
			    " grants %" PRIu32 "\n", p[i].name, p[i].version,
			    p[i].scopes, p[i].routes, p[i].grants);
		}
	}
	if (opt_json)
		printf("]\n");
}

static int
cmd_program(struct btapi *c, int argc, char **argv)
{
	uint8_t *m = NULL;
	size_t len;
	int rc, ex;

	if (argc == 2 && strcmp(argv[0], "install") == 0) {
		if ((m = malloc(65537)) == NULL) {
			say("out of memory");
			return EXIT_ERR;
		}
		ex = read_small(argv[1], m, 65537, &len);
		if (ex == EXIT_OK) {
			rc = btapi_program_install_sync(c, m, len);
			if (rc == BTAPI_EDENIED) {
				say("%s: not signed by the node owner's key",
				    argv[1]);
				ex = EXIT_DENIED;
			} else if (rc == BT_EFORMAT || rc == BT_ETRUNC) {
				say("%s: not a program manifest", argv[1]);
				ex = EXIT_ERR;
			} else if (rc != BT_OK) {
				ex = fail(argv[1], rc);
			}
		}
		free(m);
		return ex;
	}
	if (argc == 1 && strcmp(argv[0], "list") == 0) {
		if ((rc = btapi_program_list_sync(c, programs_cb, NULL)) !=
		    BT_OK)
			return fail("program list", rc);
		return EXIT_OK;
	}
	if (argc == 2 && strcmp(argv[0], "remove") == 0) {
		if ((rc = btapi_program_remove_sync(c, argv[1])) != BT_OK)
			return fail(argv[1], rc);
		return EXIT_OK;
	}
	say("usage: bt program install <manifest> | list | remove <name>");
	return EXIT_USAGE;
}

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: bt [-S socket] [--json] [-q] <command> [args]\n"
	    "  put <local-file|-> <path>     store a file (into a directory:"
	    " same name)\n"
	    "  get <path> [<local-file>|-]   fetch a file\n"
	    "  cat <path>                    print a file\n"
	    "  ls [-l] [<path>]              list a directory\n"
	    "  mkdir [-p] <path>...          make directories\n"
	    "  rm [-r] <path>...             remove files or directories\n"
	    "  mv [-p] <from> <to>           move or rename\n"
	    "  peers                         connected peers and addresses\n"
	    "  invite [-o <file>]            write this node's peer file\n"
	    "  accept <peer-file|->          make a friend of a peer file\n"
	    "  friends [rm <node>]           list (or remove) friends\n"
	    "  feed create                   start this node's feed\n"
	    "  feed append [<text>...|-]     append entries (-: lines of"
	    " stdin)\n"
	    "  feed head [<feed>]            a feed's length\n"
	    "  feed cat [-n <from>] [<feed>] print a feed's entries\n"
	    "  feed follow [-n <from>] [<feed>]  print entries as they come\n"
	    "  record set <key> <value|->    set this node's record\n"
	    "  record get [-k <pubkey>] <key>  print a record's value\n"
	    "  program install <manifest>    allow a signed program\n"
	    "  program list                  installed programs\n"
	    "  program remove <name>         revoke a program\n"
	    "  status                        the node's status\n"
	    "Paths: /dir/file (home namespace) or /<64 hex namespace>/dir/file."
	    "\nSocket: -S, $BT_SOCKET, $BT_HOME/api/sock or "
	    "~/.local/share/blocktree/api/sock.\nSee bt(1).\n");
}

int
main(int argc, char **argv)
{
	struct btapi *c = NULL;
	const char *cmd;
	int i, ex;

	default_socket();
	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--json") == 0 || strcmp(argv[i], "-j") == 0) {
			opt_json = 1;
		} else if (strcmp(argv[i], "-q") == 0 ||
		    strcmp(argv[i], "--quiet") == 0) {
			opt_quiet = 1;
		} else if (strcmp(argv[i], "-S") == 0 && i + 1 < argc) {
			sock_path = argv[++i];
		} else if (strncmp(argv[i], "--socket=", 9) == 0) {
			sock_path = argv[i] + 9;
		} else if (strcmp(argv[i], "-h") == 0 ||
		    strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return EXIT_OK;
		} else if (strcmp(argv[i], "--version") == 0) {
			printf("bt %s\n", btapi_version());
			return EXIT_OK;
		} else {
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (i >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	cmd = argv[i++];
	argc -= i;
	argv += i;
	if (strcmp(cmd, "help") == 0) {
		usage(stdout);
		return EXIT_OK;
	}
	if (strcmp(cmd, "put") && strcmp(cmd, "get") && strcmp(cmd, "cat") &&
	    strcmp(cmd, "ls") && strcmp(cmd, "mkdir") && strcmp(cmd, "rm") &&
	    strcmp(cmd, "mv") && strcmp(cmd, "peers") && strcmp(cmd, "status") &&
	    strcmp(cmd, "invite") && strcmp(cmd, "accept") &&
	    strcmp(cmd, "friends") && strcmp(cmd, "feed") &&
	    strcmp(cmd, "record") && strcmp(cmd, "program")) {
		say("unknown command '%s' (bt --help lists them)", cmd);
		return EXIT_USAGE;
	}
	if (strcmp(cmd, "peers") == 0 && argc != 0) {
		say("usage: bt peers");
		return EXIT_USAGE;
	}
	if ((ex = connect_node(&c)) != EXIT_OK)
		return ex;
	if (strcmp(cmd, "put") == 0)
		ex = cmd_put(c, argc, argv);
	else if (strcmp(cmd, "get") == 0)
		ex = cmd_get(c, argc, argv, 0);
	else if (strcmp(cmd, "cat") == 0)
		ex = cmd_get(c, argc, argv, 1);
	else if (strcmp(cmd, "ls") == 0)
		ex = cmd_ls(c, argc, argv);
	else if (strcmp(cmd, "status") == 0)
		ex = argc == 0 ? cmd_status(c) : EXIT_USAGE;
	else if (strcmp(cmd, "peers") == 0)
		ex = cmd_peers(c);
	else if (strcmp(cmd, "invite") == 0)
		ex = cmd_invite(c, argc, argv);
	else if (strcmp(cmd, "accept") == 0)
		ex = cmd_accept(c, argc, argv);
	else if (strcmp(cmd, "friends") == 0)
		ex = cmd_friends(c, argc, argv);
	else if (strcmp(cmd, "feed") == 0)
		ex = cmd_feed(c, argc, argv);
	else if (strcmp(cmd, "record") == 0)
		ex = cmd_record(c, argc, argv);
	else if (strcmp(cmd, "program") == 0)
		ex = cmd_program(c, argc, argv);
	else
		ex = cmd_simple(c, cmd, argc, argv);
	btapi_close(c);
	if (fflush(stdout) != 0 && ex == EXIT_OK) {
		say("cannot write the output: %s", errtext(errno));
		ex = EXIT_ERR;
	}
	return ex;
}
