/*
 * msg.c - wire messages and directories against raw libbson.
 *
 *   msg_peers20: encode + decode of a `peers` reply with 20 nodes through
 *	btcore_msg, against the same document built with bson_append_*()
 *	and read back with bson_iter_*() (type-checked, without the
 *	schema, duplicate and bounds checks btcore_msg makes).
 *   dir1000: encode + decode of a 1000-entry directory through btcore_dir,
 *	against the same document built and read with raw libbson.
 */
#include <stdlib.h>
#include <string.h>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wcast-qual"
#ifdef __clang__
#pragma clang diagnostic ignored "-Wnewline-eof"
#endif
#include <bson.h>
#pragma GCC diagnostic pop

#include <bt/dir.h>
#include <bt/msg.h>

#include "bench.h"

#define SECONDS	1.5
#define NENT	1000

static struct btcore_msg_node nodes[BT_K];

static void
die(const char *what)
{
	fprintf(stderr, "bench msg: %s failed\n", what);
	exit(1);
}

static void
ours_peers(void)
{
	struct btcore_msg *m, *back;
	struct btcore_msg_node n;
	uint8_t *buf;
	size_t len, i;

	if (btcore_msg_new(&m, BTCORE_MSG_PEERS_REP, 12345) != BT_OK)
		die("btcore_msg_new");
	for (i = 0; i < BT_K; i++)
		if (btcore_msg_add_node(m, &nodes[i]) != BT_OK)
			die("btcore_msg_add_node");
	if (btcore_msg_encode(m, &buf, &len) != BT_OK)
		die("btcore_msg_encode");
	if (btcore_msg_decode(&back, buf, len) != BT_OK)
		die("btcore_msg_decode");
	for (i = 0; i < btcore_msg_node_count(back); i++) {
		if (btcore_msg_node_at(back, i, &n) != BT_OK)
			die("btcore_msg_node_at");
		bench_consume(&n);
	}
	btcore_msg_free(back);
	btcore_msg_bytes_free(buf);
	btcore_msg_free(m);
}

static void
raw_peers(void)
{
	struct btcore_msg_node out[BT_K];
	bson_t doc, arr, nd, in;
	bson_iter_t it, ai, ni;
	const uint8_t *p;
	const char *key;
	char kbuf[16];
	uint32_t len;
	bson_subtype_t sub;
	size_t i, n = 0;
	uint8_t *buf;

	bson_init(&doc);
	bson_append_utf8(&doc, "op", 2, "peers", -1);
	bson_append_int64(&doc, "t", 1, 12345);
	bson_append_bool(&doc, "reply", 5, true);
	bson_append_array_begin(&doc, "nodes", 5, &arr);
	for (i = 0; i < BT_K; i++) {
		bson_uint32_to_string((uint32_t)i, &key, kbuf, sizeof(kbuf));
		bson_append_document_begin(&arr, key, -1, &nd);
		bson_append_binary(&nd, "id", 2, BSON_SUBTYPE_BINARY,
		    nodes[i].id.b, 32);
		bson_append_binary(&nd, "ip", 2, BSON_SUBTYPE_BINARY,
		    nodes[i].ip, nodes[i].ip_len);
		bson_append_int32(&nd, "port", 4, nodes[i].port);
		bson_append_document_end(&arr, &nd);
	}
	bson_append_array_end(&doc, &arr);
	buf = bson_destroy_with_steal(&doc, true, &len);
	if (buf == NULL || !bson_init_static(&in, buf, len) ||
	    !bson_iter_init(&it, &in))
		die("raw build");
	while (bson_iter_next(&it)) {
		if (strcmp(bson_iter_key(&it), "nodes") != 0 ||
		    !BSON_ITER_HOLDS_ARRAY(&it))
			continue;
		bson_iter_recurse(&it, &ai);
		while (bson_iter_next(&ai) && n < BT_K) {
			bson_iter_recurse(&ai, &ni);
			while (bson_iter_next(&ni)) {
				key = bson_iter_key(&ni);
				if (strcmp(key, "id") == 0 &&
				    BSON_ITER_HOLDS_BINARY(&ni)) {
					bson_iter_binary(&ni, &sub, &len, &p);
					memcpy(out[n].id.b, p, 32);
				} else if (strcmp(key, "ip") == 0 &&
				    BSON_ITER_HOLDS_BINARY(&ni)) {
					bson_iter_binary(&ni, &sub, &len, &p);
					memcpy(out[n].ip, p, len);
					out[n].ip_len = (uint8_t)len;
				} else if (strcmp(key, "port") == 0 &&
				    BSON_ITER_HOLDS_INT32(&ni)) {
					out[n].port =
					    (uint16_t)bson_iter_int32(&ni);
				}
			}
			n++;
		}
	}
	bench_consume(out);
	bson_free(buf);
}

/* ---- directories ---------------------------------------------------- */

static struct btcore_dir_entry ents[NENT];
static char names[NENT][24];
static struct btcore_dir *dir;

struct raw_ent {
	const char *name;
	int kind, layout;
	const uint8_t *root;
	int64_t size, mtime;
	int32_t mode;
};

static void
ours_dir(void)
{
	struct btcore_dir *back;
	uint8_t *buf;
	size_t len;

	if (btcore_dir_encode(dir, &buf, &len) != BT_OK)
		die("btcore_dir_encode");
	if (btcore_dir_decode(&back, buf, len) != BT_OK ||
	    btcore_dir_count(back) != NENT)
		die("btcore_dir_decode");
	btcore_dir_free(back);
	btcore_dir_bytes_free(buf);
}

static void
raw_dir(void)
{
	static struct raw_ent out[NENT];
	bson_t doc, c, in;
	bson_iter_t it, ei;
	bson_subtype_t sub;
	const uint8_t *p;
	const char *key, *s;
	uint32_t len;
	uint8_t *buf;
	size_t i, n = 0;

	bson_init(&doc);
	for (i = 0; i < NENT; i++) {
		bson_append_document_begin(&doc, ents[i].name,
		    (int)ents[i].name_len, &c);
		bson_append_utf8(&c, "kind", 4, ents[i].kind ==
		    BTCORE_DIR_FILE ? "file" : "dir", -1);
		bson_append_binary(&c, "root", 4, BSON_SUBTYPE_BINARY,
		    ents[i].root.b, 32);
		bson_append_int64(&c, "size", 4, (int64_t)ents[i].size);
		bson_append_int32(&c, "mode", 4, (int32_t)ents[i].mode);
		bson_append_int64(&c, "mtime", 5, ents[i].mtime);
		if (ents[i].kind == BTCORE_DIR_FILE)
			bson_append_int32(&c, "layout", 6,
			    (int32_t)ents[i].layout);
		bson_append_document_end(&doc, &c);
	}
	buf = bson_destroy_with_steal(&doc, true, &len);
	if (buf == NULL || !bson_init_static(&in, buf, len) ||
	    !bson_iter_init(&it, &in))
		die("raw dir build");
	while (bson_iter_next(&it) && n < NENT) {
		out[n].name = bson_iter_key(&it);
		bson_iter_recurse(&it, &ei);
		while (bson_iter_next(&ei)) {
			key = bson_iter_key(&ei);
			if (strcmp(key, "kind") == 0) {
				s = bson_iter_utf8(&ei, &len);
				out[n].kind = s[0] == 'f' ? 0 : 1;
			} else if (strcmp(key, "root") == 0) {
				bson_iter_binary(&ei, &sub, &len, &p);
				out[n].root = p;
			} else if (strcmp(key, "size") == 0) {
				out[n].size = bson_iter_int64(&ei);
			} else if (strcmp(key, "mode") == 0) {
				out[n].mode = bson_iter_int32(&ei);
			} else if (strcmp(key, "mtime") == 0) {
				out[n].mtime = bson_iter_int64(&ei);
			} else if (strcmp(key, "layout") == 0) {
				out[n].layout = bson_iter_int32(&ei);
			}
		}
		n++;
	}
	bench_consume(out);
	bson_free(buf);
}

/* Runs per second of @p fn over about SECONDS. */
static double
rate(void (*fn)(void))
{
	double t0 = bench_now(), t;
	unsigned long n = 0;

	do {
		fn();
		n++;
	} while ((n & 15) != 0 || (t = bench_now() - t0) < SECONDS);
	return (double)n / t;
}

int
main(void)
{
	double ours, raw;
	size_t i;

	for (i = 0; i < BT_K; i++) {
		memset(nodes[i].id.b, (int)i + 1, 32);
		nodes[i].ip_len = i % 2 ? 16 : 4;
		memset(nodes[i].ip, 10 + (int)i, nodes[i].ip_len);
		nodes[i].port = (uint16_t)(4000 + i);
	}
	ours_peers();
	raw_peers();
	ours = rate(ours_peers);
	raw = rate(raw_peers);
	bench_line("btcore", "msg_peers20", ours, "msg/s", raw,
	    "msg/s raw libbson", NULL);

	if (btcore_dir_new(&dir) != BT_OK)
		die("btcore_dir_new");
	for (i = 0; i < NENT; i++) {
		snprintf(names[i], sizeof(names[i]), "file-%06zu.dat", i);
		memset(&ents[i], 0, sizeof(ents[i]));
		ents[i].name = names[i];
		ents[i].name_len = strlen(names[i]);
		ents[i].kind = i % 10 ? BTCORE_DIR_FILE : BTCORE_DIR_DIR;
		memset(ents[i].root.b, (int)i, 32);
		ents[i].size = ents[i].kind == BTCORE_DIR_FILE ? i * 4096 : 0;
		ents[i].mode = 0644;
		ents[i].mtime = 1700000000000000000LL + (int64_t)i;
		ents[i].layout = ents[i].kind == BTCORE_DIR_FILE ?
		    (enum btcore_dir_layout)(i & 1) :
		    BTCORE_DIR_LAYOUT_SEQUENTIAL;
		if (btcore_dir_put(dir, &ents[i]) != BT_OK)
			die("btcore_dir_put");
	}
	ours_dir();
	raw_dir();
	ours = rate(ours_dir);
	raw = rate(raw_dir);
	bench_line("btcore", "dir1000", ours, "dir/s", raw,
	    "dir/s raw libbson", NULL);
	btcore_dir_free(dir);
	return 0;
}
