/*
 * Links libbtstore.so through its public headers only: proves the
 * exported names are reachable and the library works as installed.
 */
#define _POSIX_C_SOURCE 200809L	/* mkdtemp */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bt/bag.h>
#include <bt/dhtval.h>
#include <bt/held.h>
#include <bt/id.h>
#include <bt/store.h>

static int seen;

static void
on_block(void *arg, int kind, int event, const void *key, size_t keylen)
{
	(void)arg;
	(void)key;
	seen += kind == BTSTORE_TOPIC_BLOCK && event == BTSTORE_EV_PUT &&
	    keylen == BT_ID_LEN;
}

static int
fail(const char *what, int rc)
{
	fprintf(stderr, "export test: %s: %s\n", what, btstore_strerror(rc));
	return 1;
}

int
main(void)
{
	char dir[] = "/tmp/btstore-export-XXXXXX", p[64];
	struct btstore *st;
	struct bt_id id, node, got;
	uint8_t buf[64];
	uint64_t watch;
	uint32_t count;
	size_t len, n;
	int rc;

	if (mkdtemp(dir) == NULL)
		return 1;
	if ((rc = btstore_open(&st, dir, NULL)) != BT_OK)
		return fail("open", rc);
	if ((rc = btcore_id_hash(&id, "hello", 5)) != BT_OK)
		return fail("hash", rc);
	memset(&node, 7, sizeof(node));
	if ((rc = btstore_watch(st, BTSTORE_TOPIC_BLOCK, id.b, BT_ID_LEN,
	    on_block, NULL, &watch)) != BT_OK ||
	    (rc = btstore_block_put(st, &id, "hello", 5, BTSTORE_PUT_PIN))
	    != BT_OK ||
	    (rc = btstore_block_get(st, &id, buf, sizeof(buf), &len)) != BT_OK)
		return fail("block", rc);
	if (len != 5 || memcmp(buf, "hello", 5) != 0)
		return fail("block bytes", BT_ECORRUPT);
	if ((rc = btstore_notify_dispatch(st, &n)) != BT_OK || n != 1 ||
	    seen != 1)
		return fail("notify", rc);
	if ((rc = btstore_bag_add(st, &id, "v", 1, &node, 1, &count)) != BT_OK ||
	    count != 1)
		return fail("bag", rc);
	if ((rc = btstore_dht_put(st, &id, "hello", 5, &node, 10, 5)) != BT_OK ||
	    (rc = btstore_dht_get(st, &id, 0, buf, sizeof(buf), &len, NULL,
	    &got)) != BT_OK || len != 5)
		return fail("dht", rc);
	if ((rc = btstore_frag_put(st, &node, &id, 0, "f", 1, 10, &node))
	    != BT_OK)
		return fail("fragment", rc);
	btstore_close(st);
	snprintf(p, sizeof(p), "%s/data.mdb", dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/lock.mdb", dir);
	unlink(p);
	rmdir(dir);
	printf("libbtstore.so %s: public API reachable\n", btstore_version());
	return 0;
}
