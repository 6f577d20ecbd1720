/*
 * bt/tree.h - files as trees of blocks, in two layouts.
 *
 * A file is a tree of blocks (bt/block.h).  Its data is cut into leaves,
 * which are plain blocks holding only file bytes; node blocks above them
 * name the leaves by id.  The file id is the id of the root node, so a
 * file is named by its content and every block of it is checked against
 * the id that named it.  Two layouts:
 *
 * SEQUENTIAL - cheap append, streaming reads.  One level of index nodes
 * lists (leaf id, leaf length) entries.  A file larger than one index node
 * can list is a chain: each index node names the previous one and records
 * the file offset at which its own first leaf starts; the root is the last
 * node of the chain.  A reader walks the chain back once (one node per
 * 7279 leaves, about 1.9 GB), then streams leaves in order.  Leaves may be
 * 1 to BTCORE_BLOCK_MAX bytes, so other cutting rules (e.g. cut points
 * chosen by content) fit the format; the builder cuts full leaves of the
 * leaf size (BTCORE_BLOCK_MAX unless set), the last one shorter.
 * Appending (btcore_tree_builder_append()) reads only the old root and
 * its last leaf: it writes the new leaves, rewrites the old last leaf if
 * it was short, and writes one new root that takes over the old root's
 * entries - O(1) in the old file's size.  The result is the same tree,
 * block for block, as building the whole content at once with the same
 * leaf size, so equal content gives equal ids however it was written.
 *
 * RANDOM ACCESS - O(log n) seek.  Leaves of a fixed leaf size, all full
 * except the last; a balanced tree of interior nodes with a fixed fanout
 * above them, holding child ids only (the size below each child follows
 * from its position).  Every node records the size under it, the leaf
 * size, the fanout and its level, so a seek to byte x takes the digits of
 * x / leaf_size in base fanout as the path from the root: one block per
 * level.  The tree has the least depth that holds the file.  Appending
 * reads the rightmost path (O(depth) blocks) and gives the same tree as a
 * whole build.
 *
 * A file of 0 bytes is a root node with no entries.  Sizes are at most
 * INT64_MAX.
 *
 * NODE FORMAT (version 1).  All integers are big-endian and unsigned.
 *
 *   offset size  field
 *   0      4     magic "BTTN" (42 54 54 4e)
 *   4      1     version: 1
 *   5      1     layout: 1 sequential, 2 random access
 *   6      1     level: sequential 1; random 1..64, 1 when the children
 *                are leaves, n + 1 above nodes of level n
 *   7      1     flags: 0
 *   8      8     size: sequential: file offset just past this node's last
 *                leaf (= start + the sum of the lengths); random: bytes
 *                under this node
 *
 * Sequential index node (layout 1), 64-byte header:
 *   16     8     start: file offset of this node's first leaf
 *   24     4     count: entries, 0..7279
 *   28     4     0
 *   32     32    prev: id of the previous index node, or 32 zero bytes
 *   64     36*count  entries: leaf id (32), leaf length (4, 1..262128)
 *   The block is exactly 64 + 36 * count bytes.  start is 0 exactly when
 *   prev is zero; a node with a prev has at least one entry, and the
 *   size of the node named by prev equals this node's start.
 *
 * Random-access interior node (layout 2), 32-byte header:
 *   16     4     leaf size: 512..262128
 *   20     4     fanout: 2..8190
 *   24     4     count: children, 0..fanout
 *   28     4     0
 *   32     32*count  child ids
 *   The block is exactly 32 + 32 * count bytes.  With cap = leaf size *
 *   fanout^(level - 1) (the bytes under a full child), count =
 *   ceil(size / cap); child i holds min(cap, size - i * cap) bytes: a
 *   node of level - 1 recording that size, or at level 1 a leaf of that
 *   length.  size 0 (count 0) only at level 1.
 *
 * Builders and readers are not thread safe; use one from one thread at a
 * time.  Nothing here recurses over decoded data.
 */
#ifndef BT_TREE_H
#define BT_TREE_H

#include <bt/block.h>
#include <bt/common.h>
#include <bt/id.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Layouts. */
#define BTCORE_TREE_SEQUENTIAL	1
#define BTCORE_TREE_RANDOM	2

/** Limits of the node format. */
#define BTCORE_TREE_SEQ_HEADER		64
#define BTCORE_TREE_SEQ_ENTRY		36
#define BTCORE_TREE_SEQ_ENTRIES_MAX	7279
#define BTCORE_TREE_RND_HEADER		32
#define BTCORE_TREE_LEAF_MIN		512
#define BTCORE_TREE_FANOUT_MIN		2
#define BTCORE_TREE_FANOUT_MAX		8190
#define BTCORE_TREE_DEPTH_MAX		64
/** Longest chain of sequential index nodes a reader follows. */
#define BTCORE_TREE_SEQ_CHAIN_MAX	(1u << 20)
/** Largest file. */
#define BTCORE_TREE_SIZE_MAX		INT64_MAX

/**
 * Defaults.  Random access: leaves of 65520 bytes (16 LMDB overflow pages
 * with a store's 16-byte header): a 4 KiB random read verifies one such
 * leaf, a quarter of a full block, while whole-file builds and streaming
 * reads run as fast as with full-size leaves (per-block costs stay under
 * 2%) and a 1 GiB file is 16 Ki blocks to fetch.  Interior nodes of 254
 * children (8160 bytes, 2 pages): a random read that misses the reader's
 * cached path verifies 8 KiB per level rather than 32 KiB with 1022
 * children, and a 64 GiB file is still only 3 levels deep.  For fine
 * 4 KiB random reads choose leaf_size 4080 and fanout 126 (leaves and
 * nodes of one page each).  Sequential: full-size leaves.
 */
#define BTCORE_TREE_LEAF_DEFAULT	65520
#define BTCORE_TREE_FANOUT_DEFAULT	254
#define BTCORE_TREE_SEQ_LEAF_DEFAULT	BTCORE_BLOCK_MAX

/**
 * Parameters of a new tree.  A zero field takes its default.
 * leaf_size: BTCORE_TREE_LEAF_MIN..BTCORE_BLOCK_MAX, both layouts.
 * fanout: BTCORE_TREE_FANOUT_MIN..BTCORE_TREE_FANOUT_MAX, random layout
 * only (must be 0 for the sequential layout).
 */
struct btcore_tree_params {
	uint32_t leaf_size;
	uint32_t fanout;
};

/** A decoded node.  A view into the bytes it was decoded from. */
struct btcore_tree_node {
	int layout;		/* BTCORE_TREE_SEQUENTIAL or _RANDOM */
	unsigned level;		/* 1 for sequential */
	uint64_t size;		/* see the format above */
	uint64_t start;		/* sequential; 0 for random */
	uint32_t leaf_size;	/* random; 0 for sequential */
	uint32_t fanout;	/* random; 0 for sequential */
	uint32_t count;		/* entries */
	struct bt_id prev;	/* sequential; zero for random */
	const uint8_t *entries;	/* borrowed: the entries in the decoded bytes */
};

/**
 * Decode and validate one node block.  A pure function of its input.
 *
 * @param out	out: the node; @c entries points into @p data, so it is
 *		valid as long as @p data is.  Zeroed on failure.
 * @param data	in, borrowed: the block.
 * @param len	its length.
 * @return	BT_OK; BT_EINVAL for a NULL argument; BT_EFORMAT when the
 *		bytes are not a valid node (bad magic, version, layout,
 *		level, flags or reserved bytes, length not matching the
 *		count, counts, sizes, leaf size or fanout out of their
 *		limits or not adding up); BT_EUNSUPPORTED for a node of
 *		another version.  Thread safe.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btcore_tree_node_decode(struct btcore_tree_node *out,
    const void *data, size_t len);

/**
 * Encode @p n (whose fields and entries must satisfy the format above) into
 * @p buf.  Decoding the result gives @p n back; decoding and encoding a
 * valid block gives the same bytes.
 *
 * @param n	in, borrowed: the node; @c entries holds @c count entries
 *		in their encoded form (ids, and for sequential nodes the
 *		4-byte lengths).
 * @param buf	out: at least @p cap bytes.
 * @param len	out: bytes written.
 * @return	BT_OK; BT_EINVAL for a NULL argument or a node that would not
 *		decode; BT_ERANGE when @p cap is too small.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btcore_tree_node_encode(const struct btcore_tree_node *n,
    void *buf, size_t cap, size_t *len);

/**
 * Entry @p i of a decoded node: @p id (out) and @p size (out, may be
 * NULL): the leaf length of a sequential entry, or the bytes under a
 * random node's child.  This lets a caller walk every block of a tree.
 * @return BT_OK, BT_EINVAL, or BT_ERANGE when @p i >= count.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btcore_tree_node_entry(const struct btcore_tree_node *n,
    uint32_t i, struct bt_id *id, uint64_t *size);

/** Building a file.  Opaque. */
struct btcore_tree_builder;

/**
 * Start a new file.
 *
 * @param out	out: caller owns; release with btcore_tree_builder_free().
 *		NULL on failure.
 * @param layout	BTCORE_TREE_SEQUENTIAL or BTCORE_TREE_RANDOM.
 * @param params	in, borrowed, may be NULL for all defaults.
 * @param io	in: copied; its @c put (and for appends @c get) is called
 *		with the id computed by the builder.  @c ctx must outlive
 *		the builder.
 * @return	BT_OK; BT_EINVAL for a NULL argument, an unknown layout or
 *		parameters out of range; BT_ENOMEM.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btcore_tree_builder_new(struct btcore_tree_builder **out,
    int layout, const struct btcore_tree_params *params,
    const struct btcore_blockio *io);

/**
 * Continue an existing file of either layout: the file built by the new
 * builder is the old file's bytes followed by what is written.  Reads
 * O(depth) blocks of the old file (verified); writes nothing until data
 * arrives.
 *
 * @param out	out: as for btcore_tree_builder_new().
 * @param root	in, borrowed: the old file's id.
 * @param params	in, borrowed, may be NULL.  Random layout: the old file's
 *		leaf size and fanout are kept, and nonzero fields must
 *		equal them.  Sequential: the leaf size for new leaves.
 * @param io	as for btcore_tree_builder_new(); needs @c get.
 * @return	BT_OK; BT_EINVAL (also for params that differ from the
 *		file's); BT_ENOMEM; BT_ENOTFOUND, BT_ECORRUPT, BT_EFORMAT as
 *		for btcore_tree_reader_open(); errors of @c get.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btcore_tree_builder_append(
    struct btcore_tree_builder **out, const struct bt_id *root,
    const struct btcore_tree_params *params, const struct btcore_blockio *io);

/**
 * Add @p len bytes at @p data (borrowed; may be NULL when @p len is 0) to
 * the end of the file.  Full leaves and nodes are put as they fill; each
 * leaf is hashed once and, when the caller's buffer holds a whole leaf,
 * not copied.
 * @return	BT_OK; BT_EINVAL; BT_ETOOBIG when the file would exceed
 *		BTCORE_TREE_SIZE_MAX; BT_ESTATE when the builder failed or
 *		finished before; errors of @c put.  After any error but
 *		BT_EINVAL and BT_ESTATE the builder has failed and stays
 *		failed: every later call returns BT_ESTATE.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btcore_tree_builder_write(struct btcore_tree_builder *b,
    const void *data, size_t len);

/**
 * Put the remaining blocks and the root.  The builder is finished after
 * this (later calls return BT_ESTATE); free it.
 * @param root	out: the file id; zeroed on failure.
 * @param size	out, may be NULL: the file's size.
 * @return	BT_OK, BT_EINVAL, BT_ESTATE, errors of @c put (the builder
 *		then has failed).
 * @since 0.1
 */
BT_EXPORT BT_WUR int btcore_tree_builder_finish(struct btcore_tree_builder *b,
    struct bt_id *root, uint64_t *size);

/** Free @p b (finished, failed or not); NULL is a no-op.  @since 0.1 */
BT_EXPORT void btcore_tree_builder_free(struct btcore_tree_builder *b);

/** Reading a file.  Opaque. */
struct btcore_tree_reader;

/** Whence values of btcore_tree_reader_seek() (as in stdio). */
#define BTCORE_SEEK_SET	0
#define BTCORE_SEEK_CUR	1
#define BTCORE_SEEK_END	2

/**
 * Open the file named @p root.  Fetches and verifies the root (and for a
 * sequential file the whole chain of index nodes).
 *
 * @param out	out: caller owns; release with btcore_tree_reader_close().
 *		NULL on failure.
 * @param root	in, borrowed: the file id.
 * @param io	in: copied; needs @c get.  @c ctx must outlive the reader.
 * @return	BT_OK; BT_EINVAL; BT_ENOMEM; BT_ENOTFOUND when a block is
 *		missing; BT_ECORRUPT when a block's bytes do not hash to its
 *		id; BT_EFORMAT when a node is malformed or does not fit its
 *		parent; BT_EUNSUPPORTED when the root is a node of another
 *		format version; BT_ETOOBIG when a sequential chain is longer
 *		than BTCORE_TREE_SEQ_CHAIN_MAX; other errors of @c get.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btcore_tree_reader_open(struct btcore_tree_reader **out,
    const struct bt_id *root, const struct btcore_blockio *io);

/**
 * Bytes of verified interior nodes a reader of a random-access file keeps
 * at most, unless btcore_tree_reader_set_cache() says otherwise: 16 MiB,
 * taken only as nodes are read.  That holds every node of a 1.5 GiB file
 * with 4080-byte leaves and fanout 126 (a node of 4 KiB per 502 KiB of
 * file), or of a 30 GiB file with the default leaf size and fanout.
 */
#define BTCORE_TREE_CACHE_DEFAULT	((size_t)16 << 20)

/**
 * Read up to @p len bytes at the current position into @p buf and advance
 * by the count read.  Stops early only at the end of the file; @p *n is 0
 * at the end.  Every byte returned comes from a block verified against its
 * id: each block is copied out of the store and the copy hashed (in one
 * pass) before any of its bytes is used.  The reader keeps the last two
 * leaves it read and, for a random-access file, the root and a cache of
 * verified interior nodes (btcore_tree_reader_set_cache()), so streaming
 * or nearby reads fetch each block once, a seek fetches at most one block
 * per level, and once the nodes above a part of the file are cached a
 * read there fetches and hashes only leaves.  A node served from the
 * cache is not fetched again: it was verified against the id its parent
 * names when it was fetched, and blocks never change.
 *
 * @param buf	out: @p len bytes.
 * @param n	out: bytes read; 0 on failure.
 * @return	BT_OK; BT_EINVAL; BT_ENOMEM; BT_ENOTFOUND, BT_ECORRUPT,
 *		BT_EFORMAT and errors of @c get as for
 *		btcore_tree_reader_open().  On failure the position is
 *		unchanged and @p buf holds no unverified bytes; the reader
 *		stays usable.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btcore_tree_reader_read(struct btcore_tree_reader *r,
    void *buf, size_t len, size_t *n);

/**
 * Move the position to @p off from the start, the current position or the
 * end (@p whence BTCORE_SEEK_SET, _CUR, _END).  Fetches nothing.
 * @param pos	out, may be NULL: the new position.
 * @return	BT_OK; BT_EINVAL for a bad @p whence; BT_ERANGE when the new
 *		position would be before 0 or after the end.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btcore_tree_reader_seek(struct btcore_tree_reader *r,
    int64_t off, int whence, uint64_t *pos);

/** The current position.  @since 0.1 */
BT_EXPORT uint64_t btcore_tree_reader_tell(const struct btcore_tree_reader *r);

/** The file's size.  @since 0.1 */
BT_EXPORT uint64_t btcore_tree_reader_size(const struct btcore_tree_reader *r);

/** What btcore_tree_reader_stat() reports. */
struct btcore_tree_stat {
	int layout;		/* BTCORE_TREE_SEQUENTIAL or _RANDOM */
	unsigned depth;		/* levels of nodes above the leaves */
	uint32_t leaf_size;	/* random; 0 for sequential */
	uint32_t fanout;	/* random; 0 for sequential */
	uint64_t size;		/* bytes */
	uint64_t leaves;	/* leaf blocks */
	uint64_t nodes;		/* node blocks, the root included */
};

/**
 * Describe the open file.  Fetches nothing.
 * @return BT_OK or BT_EINVAL.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btcore_tree_reader_stat(const struct btcore_tree_reader *r,
    struct btcore_tree_stat *st);

/**
 * Set the memory budget of @p r's node cache.  For a random-access file
 * the reader keeps, besides its root and its two leaves, up to @p bytes
 * of verified interior nodes, the least recently used dropped first; the
 * count includes the reader's bookkeeping (under 200 bytes per node on top
 * of the node's 32 + 32 * fanout bytes).  It keeps at least depth - 1
 * nodes, one path below the root, even when @p bytes is less; a read
 * then fetches at most one node per level, as without a cache.  Nodes are
 * looked up from the leaves up, so a cached node stands in for all those
 * above it.  A smaller budget frees the nodes beyond it at once;
 * memory is taken only as nodes are read.  For a sequential file, which
 * holds one index node at a time, this has no effect.  The default is
 * BTCORE_TREE_CACHE_DEFAULT.  Fetches nothing.
 *
 * @param r	the reader.
 * @param bytes	the budget; 0 keeps only one path below the root.
 * @return	BT_OK; BT_EINVAL for a NULL @p r.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btcore_tree_reader_set_cache(struct btcore_tree_reader *r,
    size_t bytes);

/** Close @p r; NULL is a no-op.  @since 0.1 */
BT_EXPORT void btcore_tree_reader_close(struct btcore_tree_reader *r);

#ifdef __cplusplus
}
#endif
#endif /* BT_TREE_H */
