/*
 * Fuzz target: the file-tree node decoder (a pure function), its encoder
 * round trip, and a reader and an appending builder over an in-memory map
 * holding the input as the root block.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <bt/block.h>
#include <bt/id.h>
#include <bt/tree.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_node(const uint8_t *data, size_t size, const struct btcore_tree_node *n)
{
	uint8_t *again;
	struct bt_id id;
	uint64_t sz, sum = 0;
	size_t len = 0;
	uint32_t i;

	/* decode -> encode gives the same bytes */
	if ((again = malloc(size)) == NULL)
		return;
	if (btcore_tree_node_encode(n, again, size, &len) != BT_OK ||
	    len != size || memcmp(again, data, size) != 0)
		abort();
	free(again);
	/* the entries add up to the size the node records */
	for (i = 0; i < n->count; i++) {
		if (btcore_tree_node_entry(n, i, &id, &sz) != BT_OK || sz == 0 ||
		    sz > n->size)
			abort();
		sum += sz;
	}
	if (btcore_tree_node_entry(n, n->count, &id, &sz) != BT_ERANGE)
		abort();
	if (sum != n->size - n->start)
		abort();
	if (n->layout == BTCORE_TREE_RANDOM && n->level == 1 &&
	    n->count > 0 && sum > (uint64_t)n->count * n->leaf_size)
		abort();
}

static void
read_and_append(const struct bt_id *root, struct btcore_memblocks *m,
    const struct btcore_tree_node *n)
{
	struct btcore_blockio io;
	struct btcore_tree_reader *r;
	struct btcore_tree_builder *b;
	struct btcore_tree_stat st;
	struct bt_id nroot;
	uint8_t buf[256];
	uint64_t nsize = 0;
	size_t got = 0;
	int rc;

	btcore_memblocks_blockio(m, &io);
	if (btcore_tree_reader_open(&r, root, &io) != BT_OK) {
		/* a sequential node with a prev fails: the prev is missing */
		if (n->layout == BTCORE_TREE_RANDOM ||
		    btcore_id_is_zero(&n->prev))
			abort();
		return;
	}
	if (btcore_tree_reader_stat(r, &st) != BT_OK || st.size != n->size ||
	    st.layout != n->layout)
		abort();
	if (btcore_tree_reader_seek(r, -1, BTCORE_SEEK_END, NULL) == BT_OK)
		rc = btcore_tree_reader_read(r, buf, sizeof(buf), &got);
	else
		rc = btcore_tree_reader_read(r, buf, sizeof(buf), &got);
	/* the children are not in the map: nothing can be read but EOF */
	if (rc == BT_OK && got != 0)
		abort();
	btcore_tree_reader_close(r);

	if (btcore_tree_builder_append(&b, root, NULL, &io) != BT_OK)
		return;
	if (btcore_tree_builder_write(b, "xyz", 3) == BT_OK &&
	    btcore_tree_builder_finish(b, &nroot, &nsize) == BT_OK &&
	    nsize != n->size + 3)
		abort();
	btcore_tree_builder_free(b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct btcore_tree_node n;
	struct btcore_memblocks *m;
	struct bt_id root;

	if (size > BTCORE_BLOCK_MAX)
		return 0;
	if (btcore_tree_node_decode(&n, data, size) != BT_OK) {
		if (n.entries != NULL || n.count != 0 || n.size != 0)
			abort();
		return 0;
	}
	check_node(data, size, &n);
	if (btcore_memblocks_new(&m) != BT_OK)
		return 0;
	if (btcore_block_id(&root, data, size) == BT_OK &&
	    btcore_memblocks_put(m, &root, data, size) == BT_OK)
		read_and_append(&root, m, &n);
	btcore_memblocks_free(m);
	return 0;
}
