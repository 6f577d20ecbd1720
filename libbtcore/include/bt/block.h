/*
 * bt/block.h - immutable, content-addressed blocks and block I/O.
 *
 * A block is a string of 0 to BTCORE_BLOCK_MAX bytes.  Its id is the
 * SHA-256 of exactly those bytes (btcore_id_hash() over the block), so a
 * block can be fetched from anyone and checked against the id that named
 * it.  Blocks never change: new content is a new block.
 *
 * BTCORE_BLOCK_MAX is 262128 bytes (256 KiB - 16).  A full block kept by a
 * store with no header of its own fills exactly 64 LMDB overflow pages
 * (4096-byte pages, 16-byte overflow header), and it fits one wire message
 * (BT_MSG_MAX, 1 MiB) with ample room for the message's own headers.
 *
 * Block I/O is a small table of callbacks (struct btcore_blockio), so that
 * any store - the in-memory map below, libbtstore on LMDB, a network
 * fetcher - can sit under the file-tree builder and reader (bt/tree.h).
 */
#ifndef BT_BLOCK_H
#define BT_BLOCK_H

#include <bt/common.h>
#include <bt/id.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Largest block in bytes: 256 KiB - 16. */
#define BTCORE_BLOCK_MAX	262128

/**
 * Callbacks through which the builder and reader of bt/tree.h store and
 * fetch blocks.
 *
 * @c put stores @p len bytes at @p data (borrowed for the call) under
 * @p id, which the caller computed as the SHA-256 of those bytes; a store
 * may trust it.  Putting a block that is already present succeeds.
 * Returns BT_OK or a negative code (e.g. BT_ENOSPC, BT_EIO, BT_ENOMEM),
 * which the caller passes on.
 *
 * @c get finds the block named @p id and sets @p *data and @p *len to its
 * bytes without copying them.  The bytes are borrowed from the store and
 * stay valid until the next call of @c get or @c release on the same
 * @c ctx, whichever comes first (a store serving gets from inside an LMDB
 * read transaction may keep the transaction open until then).  Returns
 * BT_OK, BT_ENOTFOUND when the store does not have the block, or another
 * negative code.  A store need not check the bytes against @p id: every
 * user in libbtcore copies the bytes out, calls @c release, and then
 * verifies the copy against the id (BT_ECORRUPT on mismatch) before using
 * it.
 *
 * @c release, if not NULL, is called after every successful @c get once
 * the caller is done with the bytes, and before the caller returns to its
 * own caller; the store may then drop whatever kept the bytes valid.
 *
 * @c ctx is borrowed and passed back to each callback.  Users in
 * libbtcore call these from the thread that calls them; a @c ctx shared by
 * several threads must be safe for that itself.
 */
struct btcore_blockio {
	void *ctx;
	int (*put)(void *ctx, const struct bt_id *id, const void *data,
	    size_t len);
	int (*get)(void *ctx, const struct bt_id *id, const void **data,
	    size_t *len);
	void (*release)(void *ctx);
};

/**
 * The id of a block: the SHA-256 of its @p len bytes at @p data.
 *
 * @param out	out: the id; zeroed on failure.
 * @param data	in, borrowed; may be NULL when @p len is 0.
 * @return	BT_OK; BT_EINVAL for a NULL argument; BT_ETOOBIG when
 *		@p len > BTCORE_BLOCK_MAX; BT_ECRYPTO when OpenSSL fails.
 *		Thread safe.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btcore_block_id(struct bt_id *out, const void *data,
    size_t len);

/**
 * Check that @p len bytes at @p data are the block named @p id.
 *
 * @param id	in, borrowed: the expected id.
 * @param data	in, borrowed; may be NULL when @p len is 0.
 * @return	BT_OK when the bytes hash to @p id; BT_ECORRUPT when they do
 *		not; BT_ETOOBIG when @p len > BTCORE_BLOCK_MAX; BT_EINVAL for
 *		a NULL argument; BT_ECRYPTO when OpenSSL fails.  Thread safe.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btcore_block_verify(const struct bt_id *id,
    const void *data, size_t len);

/**
 * An in-memory block map: a hash table from id to a private copy of the
 * block.  For tests, benchmarks, demonstrations and embedders that keep
 * blocks in memory.  Not thread safe: calls on one map must not overlap.
 */
struct btcore_memblocks;

/**
 * Create an empty map.
 * @param out	out: caller owns; release with btcore_memblocks_free().
 *		NULL on failure.
 * @return BT_OK, BT_EINVAL or BT_ENOMEM.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btcore_memblocks_new(struct btcore_memblocks **out);

/** Free @p m and every block in it; NULL is a no-op.  @since 0.1 */
BT_EXPORT void btcore_memblocks_free(struct btcore_memblocks *m);

/**
 * Fill @p io with callbacks that put into and get from @p m.  @p m is
 * borrowed: it must outlive every use of @p io.  Blocks returned by the
 * get callback stay valid until removed or until the map is freed, which
 * is longer than struct btcore_blockio requires; @c release is NULL.
 * @since 0.1
 */
BT_EXPORT void btcore_memblocks_blockio(struct btcore_memblocks *m,
    struct btcore_blockio *io);

/**
 * Store a copy of @p len bytes at @p data under @p id, which the caller
 * computed with btcore_block_id() (the map trusts it).  A block already
 * present is left as it is.
 * @return BT_OK; BT_EINVAL for a NULL argument; BT_ETOOBIG when @p len >
 *	BTCORE_BLOCK_MAX; BT_ENOMEM.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btcore_memblocks_put(struct btcore_memblocks *m,
    const struct bt_id *id, const void *data, size_t len);

/**
 * Look up @p id.  On success @p *data (borrowed, valid until the block is
 * removed or the map freed) and @p *len describe the block.
 * @return BT_OK, BT_EINVAL or BT_ENOTFOUND.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btcore_memblocks_get(const struct btcore_memblocks *m,
    const struct bt_id *id, const void **data, size_t *len);

/**
 * Remove and free the block named @p id.
 * @return BT_OK, BT_EINVAL or BT_ENOTFOUND.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btcore_memblocks_remove(struct btcore_memblocks *m,
    const struct bt_id *id);

/** Number of blocks in @p m (0 for NULL).  @since 0.1 */
BT_EXPORT size_t btcore_memblocks_count(const struct btcore_memblocks *m);

/** Total bytes of the blocks in @p m (0 for NULL).  @since 0.1 */
BT_EXPORT uint64_t btcore_memblocks_bytes(const struct btcore_memblocks *m);

#ifdef __cplusplus
}
#endif
#endif /* BT_BLOCK_H */
