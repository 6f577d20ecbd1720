/*
 * file-internal.h - shared between file.c and ns.c only; never installed.
 *
 * Block I/O inside a transaction the caller already holds: gets read in
 * that transaction, puts (in a write transaction) go straight into it,
 * and the new blocks are counted once at the end with
 * btstore_file_io_account_().
 */
#ifndef BTSTORE_FILE_INTERNAL_H
#define BTSTORE_FILE_INTERNAL_H

#include <bt/block.h>
#include <bt/file.h>
#include <bt/tree.h>

#include "btstore-internal.h"

/* Put one block (id trusted) into the write transaction; counts it in
 * *count and *bytes when it is new. */
int btstore_file_put_txn_(struct btstore_w_ *w, const struct bt_id *id,
    const void *data, size_t len, uint64_t *count, uint64_t *bytes);

/* An adapter bound to transaction @p txn (and, when @p w is not NULL,
 * writing into it); puts are counted in fio->count/fio->bytes. */
struct btstore_file_txnio_ {
	struct btstore *st;
	MDB_txn *txn;
	struct btstore_w_ *w;
	uint64_t count, bytes;
	int err;		/* first put error, for callers to report */
};
void btstore_file_txnio_init_(struct btstore_file_txnio_ *t,
    struct btstore *st, MDB_txn *txn, struct btstore_w_ *w,
    struct btcore_blockio *io);

/* Put the blocks waiting in @p fio's batch into write @p w (counted and
 * accounted); the batch is kept until btstore_file_io_clear_(). */
int btstore_file_io_put_pending_(struct btstore_w_ *w,
    struct btstore_file_io *fio);
void btstore_file_io_clear_(struct btstore_file_io *fio);

/* Finish @p fw's tree without committing its batch; the adapter holding
 * the remaining blocks is returned in *fio (owned by the writer). */
int btstore_file_writer_end_(struct btstore_file_writer *fw,
    struct bt_id *root, uint64_t *size, struct btstore_file_io **fio);
/* The writer's layout. */
int btstore_file_writer_layout_(const struct btstore_file_writer *fw);

/* ---- ns.c ---------------------------------------------------------------- */

struct bt_record;
struct bt_pubkey;

/* Decode a namespace root record (signature checked): key "root", value
 * u8 version 1 || root directory id.  With @p ns not NULL the record must
 * be that namespace's.  rec->value points into @p buf.  BT_EFORMAT for a
 * record that is not a root; other errors of btcore_record_decode(). */
int btstore_ns_root_decode_(const void *buf, size_t len,
    const struct bt_pubkey *ns, struct bt_record *rec, struct bt_id *dir);

#endif /* BTSTORE_FILE_INTERNAL_H */
