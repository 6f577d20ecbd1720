/*
 * bt/ns.h - namespaces, directories and paths on the store.
 *
 * A namespace is an Ed25519 public key.  Its root is a signed mutable
 * record (bt/record.h) under the key "root", whose value is one version
 * byte (1) followed by the 32-byte id of the root directory, with a
 * sequence number that grows by one with every change.  Directories
 * (bt/dir.h) are stored as sequential file trees holding their canonical
 * encoding; a directory's id is the root of that tree.  Files are file
 * trees of either layout (bt/file.h).
 *
 * Every change (mkdir, write, rename, remove) is one write transaction:
 * the directories from the changed entry up to the namespace root are
 * rewritten (copy on write), and a new root record with sequence + 1 is
 * signed through a struct btcore_signer (so the private key may live in
 * a TPM) and stored, all or nothing.  Changing a namespace needs a signer
 * whose public key is the namespace (BT_EPERM otherwise).  Reading works
 * for every namespace the store holds: those created here and those
 * imported with btstore_ns_import() (e.g. a record fetched from the DHT).
 *
 * References: the store counts, for every file and directory reachable
 * from a namespace root, one reference on each block of its tree
 * (btstore_block_counts() shows them), so btstore_gc() never collects a
 * visible file.  Files and directories that a change makes unreachable
 * drop their references; their blocks become collectable.  A file's
 * blocks must be present when it is linked (write and import check every
 * block; a file written by btstore_ns_writer is put in batches before
 * the commit, so a btstore_gc() running between the batches and the
 * commit may collect them: the commit then fails with BT_ENOTFOUND and
 * changes nothing).
 *
 * Notifications: a committed change emits BTSTORE_TOPIC_PATH events
 * (bt/store.h) with the normalised path: BTSTORE_EV_PUT for the written
 * file or made directory (and the destination of a rename),
 * BTSTORE_EV_DEL for a removed path (and the source of a rename), and
 * BTSTORE_EV_PUT on the namespace root path "/<hex>" for a new namespace
 * or an imported root.
 *
 * Paths are texts parsed by btcore_path_parse() ("/<64 hex>/a/b";
 * normalised, ".." never leaves the namespace: BT_EPERM).
 *
 * Thread safety: as bt/store.h.  A struct btstore_ns_writer is used by
 * one thread at a time.
 */
#ifndef BT_NS_H
#define BT_NS_H

#include <bt/common.h>
#include <bt/dir.h>
#include <bt/id.h>
#include <bt/key.h>
#include <bt/tree.h>

#ifdef __cplusplus
extern "C" {
#endif

struct btstore;
struct btstore_file_reader;

/** A path component names a file where a directory is needed. */
#define BTSTORE_ENOTDIR		(BT_ERR_BTSTORE_BASE - 100)
/** The path names a directory where a file is needed. */
#define BTSTORE_EISDIR		(BT_ERR_BTSTORE_BASE - 101)

/** The record key of a namespace root. */
#define BTSTORE_NS_ROOT_KEY	"root"

/** Flags of the changing operations. */
#define BTSTORE_NS_PARENTS	0x1u	/* create missing parent directories */
#define BTSTORE_NS_EXCL		0x2u	/* write: fail if the file exists */
#define BTSTORE_NS_RECURSIVE	0x4u	/* remove: also non-empty directories */

/**
 * Create namespace @p signer->pub with an empty root directory and a
 * root record of sequence 1.
 * @param signer	in, borrowed: signs for the namespace.
 * @return BT_OK, BT_EINVAL, BT_EEXIST (the store has this namespace),
 *	the signer's error, or a write error as btstore_block_put().
 * @since 0.1
 */
BT_EXPORT BT_WUR int btstore_ns_create(struct btstore *st,
    const struct btcore_signer *signer);

/**
 * Import a namespace root record from elsewhere (its encoding, as made
 * by btcore_record_encode()).  The signature is checked, the key must be
 * BTSTORE_NS_ROOT_KEY and the value a version-1 root; then the sequence
 * rules of btcore_record_compare() apply against the record held.  The
 * new root's directories and files must be stored already (every block
 * is checked); they become referenced, and what only the old root
 * reached drops its references.
 *
 * @param rec	in, borrowed: @p len bytes.
 * @param seq	out, may be NULL: the sequence now held.
 * @return BT_OK (also for the same record again: nothing changes);
 *	BT_EINVAL; BT_ETRUNC, BT_EFORMAT (not a root record); BT_EVERIFY
 *	(bad signature); BT_ESTALE (lower sequence than held); BT_ECONFLICT
 *	(same sequence, other root); BT_ENOTFOUND (a block of the new tree
 *	is missing); BT_ECORRUPT; BT_ETOOBIG (the tree has more than
 *	2^24 blocks to reference); or a write error.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btstore_ns_import(struct btstore *st, const void *rec,
    size_t len);

/**
 * The namespace's current root record, verified.
 * @param ns	in, borrowed: the namespace.
 * @param buf	out, may be NULL (with @p cap 0) to ask only for the
 *		length, sequence or directory: the record's encoding.
 * @param len	out, may be NULL: the encoding's length (also with
 *		BT_ERANGE).
 * @param seq	out, may be NULL: its sequence.
 * @param dir	out, may be NULL: the root directory's id.
 * @return BT_OK, BT_EINVAL, BT_ENOTFOUND (no such namespace), BT_ERANGE
 *	(@p cap too small; @p seq and @p dir are still set), BT_ECORRUPT
 *	(the stored record does not verify), or a read error.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btstore_ns_root(struct btstore *st,
    const struct bt_pubkey *ns, void *buf, size_t cap, size_t *len,
    uint64_t *seq, struct bt_id *dir);

/**
 * Make the directory at @p path (@p len bytes of text).  With
 * BTSTORE_NS_PARENTS, missing parents are made too and an existing
 * directory at @p path is not an error (nothing changes then).
 * @param seq	out, may be NULL: the root sequence after the operation.
 * @return BT_OK; BT_EINVAL (NULL, the namespace root, unknown flags);
 *	path errors of btcore_path_parse() (BT_EFORMAT, BT_ERANGE, BT_EPERM
 *	for ".." escaping); BT_EPERM (the signer is not the namespace);
 *	BT_ENOTFOUND (no such namespace or parent); BT_EEXIST;
 *	BTSTORE_ENOTDIR; BT_ETOOBIG (a directory would exceed its limits);
 *	BT_ECORRUPT; the signer's error; a write error.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btstore_ns_mkdir(struct btstore *st,
    const struct btcore_signer *signer, const char *path, size_t len,
    unsigned flags, uint64_t *seq);

/**
 * Write a whole file at @p path from @p size bytes at @p data, replacing
 * a file already there (unless BTSTORE_NS_EXCL), in one commit.
 * @param layout	BTCORE_TREE_SEQUENTIAL or BTCORE_TREE_RANDOM.
 * @param params	in, borrowed, may be NULL for the defaults.
 * @param flags	BTSTORE_NS_PARENTS, BTSTORE_NS_EXCL.
 * @param seq	out, may be NULL.
 * @return as btstore_ns_mkdir(), and BTSTORE_EISDIR (a directory is
 *	there), BT_EEXIST (with BTSTORE_NS_EXCL), BT_ETOOBIG.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btstore_ns_write(struct btstore *st,
    const struct btcore_signer *signer, const char *path, size_t len,
    const void *data, size_t size, int layout,
    const struct btcore_tree_params *params, unsigned flags, uint64_t *seq);

/** A file being written to a path.  Opaque. */
struct btstore_ns_writer;

/**
 * Start writing a file to @p path.  Checks the path, the namespace and
 * the signer now; the file's blocks are put in batches as they fill;
 * btstore_ns_writer_commit() links the file in one commit.
 * @param out	out: caller owns; release with btstore_ns_writer_free().
 *		NULL on failure.
 * @param signer	borrowed: must outlive the writer.
 * @return BT_OK, BT_EINVAL, BT_ENOMEM, path errors, BT_EPERM,
 *	BT_ENOTFOUND (no such namespace).
 * @since 0.1
 */
BT_EXPORT BT_WUR int btstore_ns_writer_open(struct btstore_ns_writer **out,
    struct btstore *st, const struct btcore_signer *signer,
    const char *path, size_t len, int layout,
    const struct btcore_tree_params *params, unsigned flags);

/**
 * Append @p len bytes at @p data.
 * @return as btstore_file_writer_write().
 * @since 0.1
 */
BT_EXPORT BT_WUR int btstore_ns_writer_write(struct btstore_ns_writer *w,
    const void *data, size_t len);

/**
 * Finish the file and link it at the path in one commit (the blocks
 * still in the batch are put in that same commit).  The writer is done
 * afterwards, whatever the result; free it.
 * @param seq	out, may be NULL.
 * @return as btstore_ns_write(); BT_ESTATE when used twice or failed.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btstore_ns_writer_commit(struct btstore_ns_writer *w,
    uint64_t *seq);

/**
 * Free @p w; an uncommitted file is dropped (blocks already put stay
 * collectable).  NULL is a no-op.
 * @since 0.1
 */
BT_EXPORT void btstore_ns_writer_free(struct btstore_ns_writer *w);

/**
 * Open the file at @p path for reading (bt/file.h's read stream).
 * @param out	out: caller owns; release with btstore_file_reader_close().
 * @return BT_OK, BT_EINVAL, path errors, BT_ENOTFOUND, BTSTORE_ENOTDIR,
 *	BTSTORE_EISDIR, BT_ECORRUPT, errors of btstore_file_reader_open().
 * @since 0.1
 */
BT_EXPORT BT_WUR int btstore_ns_open(struct btstore_file_reader **out,
    struct btstore *st, const char *path, size_t len);

/**
 * Describe the entry at @p path.  For the namespace root: a directory
 * with the root directory's id, mode 0755 and mtime 0.
 * @param out	out: the entry; its name is NULL (length 0).
 * @return BT_OK, BT_EINVAL, path errors, BT_ENOTFOUND, BTSTORE_ENOTDIR,
 *	BT_ECORRUPT, or a read error.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btstore_ns_stat(struct btstore *st, const char *path,
    size_t len, struct btcore_dir_entry *out);

/**
 * Called for each entry of a listed directory in name order; @p e and
 * its name are valid during the call only.  Return 0 to go on, anything
 * else to stop.  May call into the store.
 */
typedef int (*btstore_ns_list_fn)(void *arg, const struct btcore_dir_entry *e);

/**
 * List the directory at @p path in name order (bytewise).  The
 * directory is read in one view, which ends before the first callback.
 * @param arg	borrowed: passed back.
 * @param count	out, may be NULL: callbacks made.
 * @return BT_OK, BT_EINVAL, path errors, BT_ENOTFOUND, BTSTORE_ENOTDIR
 *	(a file), BT_ENOMEM, BT_ECORRUPT, or a read error.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btstore_ns_list(struct btstore *st, const char *path,
    size_t len, btstore_ns_list_fn fn, void *arg, size_t *count);

/**
 * Move the entry at @p from to @p to (same namespace, any directories),
 * in one commit.  @p to must not exist; its parent must (or be made with
 * BTSTORE_NS_PARENTS).
 * @return as btstore_ns_mkdir(); BT_EINVAL also for different
 *	namespaces, a namespace root, or a directory moved below itself.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btstore_ns_rename(struct btstore *st,
    const struct btcore_signer *signer, const char *from, size_t from_len,
    const char *to, size_t to_len, unsigned flags, uint64_t *seq);

/**
 * Remove the file or directory at @p path in one commit.  A non-empty
 * directory needs BTSTORE_NS_RECURSIVE (BT_EEXIST otherwise).
 * @return as btstore_ns_mkdir(); BT_EINVAL also for the namespace root.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btstore_ns_remove(struct btstore *st,
    const struct btcore_signer *signer, const char *path, size_t len,
    unsigned flags, uint64_t *seq);

#ifdef __cplusplus
}
#endif
#endif /* BT_NS_H */
