/*
 * bt/file.h - file trees on the store: a block I/O adapter that lets the
 * tree builder and reader of libbtcore (bt/tree.h) run on a store, a
 * write stream and a read/seek stream.
 *
 * Writing a file puts its blocks into the store in batches (one write
 * transaction per batch) as the builder fills them.  A file written this
 * way is stored but not referenced: it is invisible to every path, and
 * btstore_gc() may collect its blocks until something references them.
 * Files become visible atomically through a namespace commit
 * (bt/ns.h) that links their root into a directory, or by pinning or
 * referencing their blocks explicitly.
 *
 * Reading fetches each block inside a short read view of its own and
 * verifies every block against the id that named it (the tree reader
 * copies the bytes out, then checks them), so corrupted bytes on disk are
 * reported as BT_ECORRUPT and never returned.  A reader sees blocks, not
 * a snapshot: if the file's blocks are collected while it is open (the
 * file was removed and btstore_gc() ran), reads fail with BT_ENOTFOUND.
 *
 * Thread safety: each object here is used by one thread at a time; any
 * number of them may work on one store at once.
 */
#ifndef BT_FILE_H
#define BT_FILE_H

#include <bt/block.h>
#include <bt/common.h>
#include <bt/id.h>
#include <bt/tree.h>

#ifdef __cplusplus
extern "C" {
#endif

struct btstore;

/** Default bytes of blocks gathered before they are put in one commit. */
#define BTSTORE_FILE_BATCH_DEFAULT	(8u * 1024u * 1024u)
/** Largest batch. */
#define BTSTORE_FILE_BATCH_MAX		(1024u * 1024u * 1024u)

/* ---- block I/O over the store ------------------------------------------- */

/** A block I/O adapter over a store.  Opaque. */
struct btstore_file_io;

/**
 * New adapter over @p st.  Its @c put copies each block into a batch and
 * puts the batch in one write transaction when it holds @p batch_bytes
 * (trusting the id the builder computed, as struct btcore_blockio
 * allows); its @c get looks in the batch, then in the store inside a read
 * view held until @c release or the next @c get.
 *
 * @param out	out: caller owns; release with btstore_file_io_free().
 *		NULL on failure.
 * @param st	borrowed: must outlive the adapter.
 * @param batch_bytes	0 for BTSTORE_FILE_BATCH_DEFAULT, else
 *		BTCORE_BLOCK_MAX..BTSTORE_FILE_BATCH_MAX.
 * @return BT_OK, BT_EINVAL, BT_ERANGE (@p batch_bytes) or BT_ENOMEM.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btstore_file_io_new(struct btstore_file_io **out,
    struct btstore *st, size_t batch_bytes);

/**
 * Fill @p io with the adapter's callbacks (@c ctx is @p fio, which must
 * outlive every use of @p io).  A NULL argument is a no-op.
 * @since 0.1
 */
BT_EXPORT void btstore_file_io_blockio(struct btstore_file_io *fio,
    struct btcore_blockio *io);

/**
 * Put every block still waiting in the batch, in one write transaction.
 * @return BT_OK, BT_EINVAL, or a write error as btstore_block_put()
 *	(BT_ENOSPC, BTSTORE_ETXNFULL, BTSTORE_ELMDB, ...); the blocks stay
 *	in the batch on failure.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btstore_file_io_flush(struct btstore_file_io *fio);

/**
 * Free @p fio; blocks still in the batch are dropped.  NULL is a no-op.
 * @since 0.1
 */
BT_EXPORT void btstore_file_io_free(struct btstore_file_io *fio);

/* ---- write stream ----------------------------------------------------------- */

/** A file being written.  Opaque. */
struct btstore_file_writer;

/**
 * Start writing a new file into @p st.
 *
 * @param out	out: caller owns; release with btstore_file_writer_free().
 *		NULL on failure.
 * @param st	borrowed: must outlive the writer.
 * @param layout	BTCORE_TREE_SEQUENTIAL or BTCORE_TREE_RANDOM.
 * @param params	in, borrowed, may be NULL for the defaults of bt/tree.h.
 * @return BT_OK, BT_EINVAL (NULL, unknown layout, parameters out of
 *	range) or BT_ENOMEM.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btstore_file_writer_new(struct btstore_file_writer **out,
    struct btstore *st, int layout, const struct btcore_tree_params *params);

/**
 * Append @p len bytes at @p data (borrowed; NULL only when @p len is 0).
 * Full blocks go into the batch; a full batch is put in one commit.
 * @return BT_OK, BT_EINVAL, BT_ESTATE (finished or failed before),
 *	BT_ETOOBIG, BT_ENOMEM, or a write error as btstore_block_put().
 *	After any error but BT_EINVAL and BT_ESTATE the writer has failed.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btstore_file_writer_write(struct btstore_file_writer *w,
    const void *data, size_t len);

/**
 * Finish the file: put its last blocks and its root, and commit every
 * block still in the batch.  The file is then stored, unreferenced.
 * @param root	out: the file id; zeroed on failure.
 * @param size	out, may be NULL: its size in bytes.
 * @return as btstore_file_writer_write().
 * @since 0.1
 */
BT_EXPORT BT_WUR int btstore_file_writer_finish(struct btstore_file_writer *w,
    struct bt_id *root, uint64_t *size);

/**
 * Free @p w; blocks not yet committed are dropped.  NULL is a no-op.
 * @since 0.1
 */
BT_EXPORT void btstore_file_writer_free(struct btstore_file_writer *w);

/* ---- read stream ------------------------------------------------------------ */

/** An open file.  Opaque. */
struct btstore_file_reader;

/**
 * Open the file whose root is @p root (either layout); fetches and
 * verifies the root (and a sequential file's chain of index nodes).
 *
 * @param out	out: caller owns; release with btstore_file_reader_close().
 *		NULL on failure.
 * @param st	borrowed: must outlive the reader.
 * @param root	in, borrowed.
 * @return BT_OK, BT_EINVAL, BT_ENOMEM, BT_ENOTFOUND (a block is missing),
 *	BT_ECORRUPT (a block does not hash to its id), BT_EFORMAT (not a
 *	valid tree), BT_EUNSUPPORTED, BT_ETOOBIG, BTSTORE_EREADERS,
 *	BT_EAGAIN, BTSTORE_ELMDB.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btstore_file_reader_open(
    struct btstore_file_reader **out, struct btstore *st,
    const struct bt_id *root);

/**
 * Read up to @p len bytes at the current position into @p buf; fewer
 * only at the end of the file (@p *n is 0 there).  Every byte comes from
 * a block verified against its id.
 * @param n	out: bytes read; 0 on failure.
 * @return BT_OK, or an error as btstore_file_reader_open(); on failure
 *	the position is unchanged and the reader stays usable.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btstore_file_reader_read(struct btstore_file_reader *r,
    void *buf, size_t len, size_t *n);

/**
 * Move the position to @p off from the start, the current position or
 * the end (@p whence BTCORE_SEEK_SET, _CUR or _END).  Fetches nothing.
 * @param pos	out, may be NULL: the new position.
 * @return BT_OK, BT_EINVAL, or BT_ERANGE (before 0 or past the end).
 * @since 0.1
 */
BT_EXPORT BT_WUR int btstore_file_reader_seek(struct btstore_file_reader *r,
    int64_t off, int whence, uint64_t *pos);

/** The current position (0 for NULL).  @since 0.1 */
BT_EXPORT uint64_t btstore_file_reader_tell(
    const struct btstore_file_reader *r);

/** The file's size in bytes (0 for NULL).  @since 0.1 */
BT_EXPORT uint64_t btstore_file_reader_size(
    const struct btstore_file_reader *r);

/**
 * The file's layout, depth, leaf size, fanout and block counts.
 * @return BT_OK or BT_EINVAL.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btstore_file_reader_stat(
    const struct btstore_file_reader *r, struct btcore_tree_stat *out);

/** Close @p r; NULL is a no-op.  @since 0.1 */
BT_EXPORT void btstore_file_reader_close(struct btstore_file_reader *r);

#ifdef __cplusplus
}
#endif
#endif /* BT_FILE_H */
