/*
 * bt - the command-line client of a BlockTree node (bt(1)).
 *
 * Talks to the local node over its API socket with libbtapi: files
 * (put, get, cat, ls, mkdir, rm, mv), peers and status.  Exit codes are
 * listed in EXIT_* below and in bt(1).
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

/* peers has no blocking call: one request on a private loop */
struct peersctx {
	struct event_base *base;
	int rc;
	int done;
};

static void
peers_open_cb(void *arg, int err)
{
	struct peersctx *p = arg;

	if (err != BT_OK) {
		p->rc = err;
		p->done = 1;
		event_base_loopbreak(p->base);
	}
}

static void
peers_cb(void *arg, int err, const struct bt_id *ids, size_t n, int online)
{
	struct peersctx *p = arg;
	char hex[65];
	size_t i;

	p->rc = err;
	p->done = 1;
	if (err == BT_OK) {
		if (opt_json) {
			printf("{\"online\": %s, \"peers\": [",
			    online ? "true" : "false");
			for (i = 0; i < n; i++)
				printf("%s\"%s\"", i > 0 ? ", " : "",
				    btcore_id_to_hex(&ids[i], hex));
			printf("]}\n");
		} else {
			if (!online)
				fprintf(stderr, "bt: the node is offline\n");
			for (i = 0; i < n; i++)
				printf("%s\n", btcore_id_to_hex(&ids[i], hex));
		}
	}
	event_base_loopbreak(p->base);
}

static int
cmd_peers(void)
{
	struct peersctx p = { NULL, BT_OK, 0 };
	struct btapi *c = NULL;
	struct timeval tv = { 10, 0 };
	int rc, ex;

	if ((p.base = event_base_new()) == NULL) {
		say("out of memory");
		return EXIT_ERR;
	}
	rc = btapi_open(&c, p.base, sock_path, NULL, 0, peers_open_cb, &p);
	if (rc != BT_OK) {
		event_base_free(p.base);
		if (rc == BT_EIO || rc == BT_ERANGE) {
			say("cannot reach the node at %s: is btnode running? "
			    "(start it with: btnode)", sock_path);
			return EXIT_UNREACH;
		}
		return fail("peers", rc);
	}
	if ((rc = btapi_peers(c, peers_cb, &p)) != BT_OK) {
		btapi_close(c);
		event_base_free(p.base);
		return fail("peers", rc);
	}
	event_base_loopexit(p.base, &tv);
	event_base_dispatch(p.base);
	ex = !p.done ? fail("peers", BT_ETIMEDOUT) :
	    p.rc != BT_OK ? fail("peers", p.rc) : EXIT_OK;
	btapi_close(c);
	event_base_free(p.base);
	return ex;
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
	    "  peers                         connected peers\n"
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
	    strcmp(cmd, "mv") && strcmp(cmd, "peers") && strcmp(cmd, "status")) {
		say("unknown command '%s' (bt --help lists them)", cmd);
		return EXIT_USAGE;
	}
	if (strcmp(cmd, "peers") == 0) {
		if (argc != 0) {
			say("usage: bt peers");
			return EXIT_USAGE;
		}
		return cmd_peers();
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
	else
		ex = cmd_simple(c, cmd, argc, argv);
	btapi_close(c);
	if (fflush(stdout) != 0 && ex == EXIT_OK) {
		say("cannot write the output: %s", errtext(errno));
		ex = EXIT_ERR;
	}
	return ex;
}
