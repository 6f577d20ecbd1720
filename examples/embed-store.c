/* bt-link: btstore */
/*
 * embed-store.c - a small daemon embedding libbtstore alone.
 *
 * It opens a store (in the directory given, or a fresh temporary one),
 * watches for the blocks and DHT values it expects, and runs a poll(2)
 * loop the way an event-driven daemon would: each turn some "incoming"
 * data is committed (a batch of blocks, a DHT value), and when the
 * store's notification descriptor turns readable the callbacks run on
 * this thread.  At the end it collects unpinned blocks, reads the pinned
 * ones back (verified), prints a summary and exits 0.
 *
 *   embed-store [DIR]
 */
#include <bt/dhtval.h>
#include <bt/id.h>
#include <bt/store.h>

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TURNS		8
#define PER_TURN	16

int embed_store_run(const char *dir, FILE *out);

struct daemon {
	struct btstore *st;
	FILE *out;
	unsigned blocks_seen;
	unsigned values_seen;
};

static void
on_change(void *arg, int kind, int event, const void *key, size_t keylen)
{
	struct daemon *d = arg;

	(void)key;
	(void)keylen;
	if (event != BTSTORE_EV_PUT)
		return;
	if (kind == BTSTORE_TOPIC_BLOCK)
		d->blocks_seen++;
	else if (kind == BTSTORE_TOPIC_DHT)
		d->values_seen++;
}

/* Block @p n of the demonstration: 4 KiB of text. */
static int
make_block(uint8_t *buf, size_t len, unsigned n, struct bt_id *id)
{
	size_t i;

	for (i = 0; i < len; i++)
		buf[i] = (uint8_t)('a' + (n + i) % 26);
	snprintf((char *)buf, len, "block %u", n);
	return btcore_id_hash(id, buf, len);
}

/* Commit one turn's incoming data: a batch of blocks and a DHT value. */
static int
receive(struct daemon *d, unsigned turn, struct bt_id *pinned)
{
	static uint8_t bufs[PER_TURN][4080];
	struct btstore_block b[PER_TURN];
	struct bt_id key, origin;
	char value[64];
	unsigned i;
	int rc;

	for (i = 0; i < PER_TURN; i++) {
		if ((rc = make_block(bufs[i], sizeof(bufs[i]),
		    turn * PER_TURN + i, &b[i].id)) != BT_OK)
			return rc;
		b[i].data = bufs[i];
		b[i].len = sizeof(bufs[i]);
	}
	/* the first block of each turn is kept; the rest are transient */
	if ((rc = btstore_block_put_many(d->st, b, PER_TURN, 0, NULL)) != BT_OK ||
	    (rc = btstore_block_pin(d->st, &b[0].id)) != BT_OK)
		return rc;
	pinned[turn] = b[0].id;
	snprintf(value, sizeof(value), "announcement %u", turn);
	memset(&origin, 0x0d, sizeof(origin));
	if ((rc = btcore_id_hash(&key, value, strlen(value))) != BT_OK)
		return rc;
	return btstore_dht_put(d->st, &key, value, strlen(value), &origin,
	    1000 + turn, 500);
}

int
embed_store_run(const char *dir, FILE *out)
{
	struct daemon d;
	struct bt_id pinned[TURNS];
	struct pollfd pfd;
	uint8_t buf[4080];
	uint64_t watch, count, bytes;
	size_t removed, len, n;
	unsigned turn, i;
	int rc, finished = 0;

	memset(&d, 0, sizeof(d));
	d.out = out;
	if ((rc = btstore_open(&d.st, dir, NULL)) != BT_OK) {
		fprintf(out, "open %s: %s\n", dir, btstore_strerror(rc));
		return -1;
	}
	/* watch every block the daemon expects, and one DHT key */
	for (turn = 0; turn < TURNS && rc == BT_OK; turn++)
		for (i = 0; i < PER_TURN && rc == BT_OK; i++) {
			struct bt_id id;

			rc = make_block(buf, sizeof(buf), turn * PER_TURN + i,
			    &id);
			if (rc == BT_OK)
				rc = btstore_watch(d.st, BTSTORE_TOPIC_BLOCK,
				    id.b, sizeof(id.b), on_change, &d, &watch);
		}
	if (rc == BT_OK) {
		struct bt_id key;

		rc = btcore_id_hash(&key, "announcement 3", 14);
		if (rc == BT_OK)
			rc = btstore_watch(d.st, BTSTORE_TOPIC_DHT, key.b,
			    sizeof(key.b), on_change, &d, &watch);
	}
	/* the event loop */
	pfd.fd = btstore_notify_fd(d.st);
	pfd.events = POLLIN;
	for (turn = 0; turn < TURNS && rc == BT_OK; turn++) {
		if ((rc = receive(&d, turn, pinned)) != BT_OK)
			break;
		if (poll(&pfd, 1, 1000) == 1 && (pfd.revents & POLLIN))
			rc = btstore_notify_dispatch(d.st, &n);
	}
	/* housekeeping: collect what nobody pinned, in bounded steps */
	while (rc == BT_OK && !finished)
		rc = btstore_gc(d.st, 32, &removed, &finished);
	for (i = 0; i < TURNS && rc == BT_OK; i++)
		rc = btstore_block_get(d.st, &pinned[i], buf, sizeof(buf),
		    &len);
	if (rc == BT_OK)
		rc = btstore_block_usage(d.st, &count, &bytes);
	if (rc == BT_OK) {
		fprintf(out, "embed-store: %u blocks and %u value announced, "
		    "%llu blocks (%llu bytes) kept after collection\n",
		    d.blocks_seen, d.values_seen, (unsigned long long)count,
		    (unsigned long long)bytes);
		if (d.blocks_seen != TURNS * PER_TURN || d.values_seen != 1 ||
		    count != TURNS)
			rc = BT_ESTATE;
	}
	if (rc != BT_OK)
		fprintf(out, "embed-store: %s\n", btstore_strerror(rc));
	btstore_close(d.st);
	return rc == BT_OK ? 0 : -1;
}

#ifndef EMBED_STORE_NO_MAIN
int
main(int argc, char **argv)
{
	char tmp[] = "/tmp/embed-store-XXXXXX", path[64];
	const char *dir = argc > 1 ? argv[1] : NULL;
	int rc;

	if (dir == NULL && (dir = mkdtemp(tmp)) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	rc = embed_store_run(dir, stdout);
	if (argc <= 1) {
		snprintf(path, sizeof(path), "%s/data.mdb", tmp);
		unlink(path);
		snprintf(path, sizeof(path), "%s/lock.mdb", tmp);
		unlink(path);
		rmdir(tmp);
	}
	return rc == 0 ? 0 : 1;
}
#endif
