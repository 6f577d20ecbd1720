/*
 * file.c - file trees on the store: the block I/O adapter (batched puts,
 * gets in short read views), the write stream and the read/seek stream.
 *
 * Puts trust the id the tree builder computed (struct btcore_blockio
 * allows it): the builder hashed each block once already, and hashing
 * again here would halve the write rate.  Gets are not verified here
 * because the tree reader verifies every block it copies out.
 */
#include <bt/file.h>
#include <bt/store.h>

#include <stdlib.h>

#include "file-internal.h"

struct pending {
	struct bt_id id;
	size_t off;
	size_t len;
};

struct btstore_file_io {
	struct btstore *st;
	size_t limit;		/* flush when the batch would exceed it */
	uint8_t *buf;		/* limit + BTCORE_BLOCK_MAX bytes, lazily */
	size_t used;
	struct pending *blocks;
	size_t n, cap;
	MDB_txn *rtxn;		/* read view between get and release */
	int hold;		/* release keeps the view (see the reader) */
};

struct btstore_file_writer {
	struct btstore_file_io *fio;
	struct btcore_tree_builder *b;
	int layout;
};

struct btstore_file_reader {
	struct btstore_file_io *fio;
	struct btcore_tree_reader *r;
};

/* ---- puts inside a write transaction ---------------------------------- */

int
btstore_file_put_txn_(struct btstore_w_ *w, const struct bt_id *id,
    const void *data, size_t len, uint64_t *count, uint64_t *bytes)
{
	MDB_val k, v;
	int mrc;

	if (len > BTSTORE_BLOCK_MAX)
		return BT_ETOOBIG;
	k.mv_size = BT_ID_LEN;
	k.mv_data = (void *)(uintptr_t)id->b;
	v.mv_size = len;
	v.mv_data = len ? (void *)(uintptr_t)data : (void *)"";
	mrc = mdb_put(w->txn, w->st->dbi[BTSTORE_DB_BLOCKS_], &k, &v,
	    MDB_NOOVERWRITE);
	if (mrc == MDB_KEYEXIST)
		return BT_OK;
	if (mrc != MDB_SUCCESS)
		return btstore_werr_(w, mrc, "put file block");
	(*count)++;
	*bytes += len;
	return btstore_emit_(w, BTSTORE_TOPIC_BLOCK, BTSTORE_EV_PUT, id->b,
	    BT_ID_LEN);
}

/* ---- the adapter bound to a transaction ---------------------------------- */

static int
txnio_put(void *ctx, const struct bt_id *id, const void *data, size_t len)
{
	struct btstore_file_txnio_ *t = ctx;
	int rc;

	if (t->w == NULL)
		return BT_ESTATE;
	rc = btstore_file_put_txn_(t->w, id, data, len, &t->count, &t->bytes);
	if (rc != BT_OK && t->err == BT_OK)
		t->err = rc;
	return rc;
}

static int
txnio_get(void *ctx, const struct bt_id *id, const void **data, size_t *len)
{
	struct btstore_file_txnio_ *t = ctx;
	MDB_val k = { BT_ID_LEN, (void *)(uintptr_t)id->b }, v;
	int mrc;

	*data = NULL;
	*len = 0;
	mrc = mdb_get(t->txn, t->st->dbi[BTSTORE_DB_BLOCKS_], &k, &v);
	if (mrc != MDB_SUCCESS)
		return t->w != NULL ? btstore_werr_(t->w, mrc, "get file block") :
		    btstore_err_(t->st, mrc, "get file block");
	*data = v.mv_data;
	*len = v.mv_size;
	return BT_OK;
}

void
btstore_file_txnio_init_(struct btstore_file_txnio_ *t, struct btstore *st,
    MDB_txn *txn, struct btstore_w_ *w, struct btcore_blockio *io)
{
	t->st = st;
	t->txn = txn;
	t->w = w;
	t->count = 0;
	t->bytes = 0;
	t->err = BT_OK;
	io->ctx = t;
	io->put = txnio_put;
	io->get = txnio_get;
	io->release = NULL;
}

/* ---- the batching adapter ------------------------------------------------- */

int
btstore_file_io_new(struct btstore_file_io **out, struct btstore *st,
    size_t batch_bytes)
{
	struct btstore_file_io *f;

	if (out == NULL)
		return BT_EINVAL;
	*out = NULL;
	if (st == NULL)
		return BT_EINVAL;
	if (batch_bytes == 0)
		batch_bytes = BTSTORE_FILE_BATCH_DEFAULT;
	if (batch_bytes < BTCORE_BLOCK_MAX ||
	    batch_bytes > BTSTORE_FILE_BATCH_MAX)
		return BT_ERANGE;
	if ((f = calloc(1, sizeof(*f))) == NULL)
		return BT_ENOMEM;
	f->st = st;
	f->limit = batch_bytes;
	*out = f;
	return BT_OK;
}

static void
release_view(struct btstore_file_io *f)
{
	if (f->rtxn != NULL) {
		btstore_rtxn_end_(f->st, f->rtxn);
		f->rtxn = NULL;
	}
}

void
btstore_file_io_free(struct btstore_file_io *f)
{
	if (f == NULL)
		return;
	release_view(f);
	free(f->buf);
	free(f->blocks);
	free(f);
}

void
btstore_file_io_clear_(struct btstore_file_io *f)
{
	f->n = 0;
	f->used = 0;
}

int
btstore_file_io_put_pending_(struct btstore_w_ *w, struct btstore_file_io *f)
{
	uint64_t count = 0, bytes = 0;
	size_t i;
	int rc;

	for (i = 0; i < f->n; i++) {
		rc = btstore_file_put_txn_(w, &f->blocks[i].id,
		    f->buf + f->blocks[i].off, f->blocks[i].len, &count, &bytes);
		if (rc != BT_OK)
			return rc;
	}
	return btstore_block_account_(w, count, bytes);
}

static int
flush_fn(struct btstore_w_ *w, void *arg)
{
	return btstore_file_io_put_pending_(w, arg);
}

int
btstore_file_io_flush(struct btstore_file_io *f)
{
	int rc;

	if (f == NULL)
		return BT_EINVAL;
	if (f->n == 0)
		return BT_OK;
	/* a view held by this thread would make map growth fail */
	release_view(f);
	if ((rc = btstore_write_(f->st, flush_fn, f)) == BT_OK)
		btstore_file_io_clear_(f);
	return rc;
}

static int
fio_put(void *ctx, const struct bt_id *id, const void *data, size_t len)
{
	struct btstore_file_io *f = ctx;
	struct pending *nb;
	size_t cap;
	int rc;

	if (len > BTCORE_BLOCK_MAX)
		return BT_ETOOBIG;
	if (f->used + len > f->limit && (rc = btstore_file_io_flush(f))
	    != BT_OK)
		return rc;
	if (f->buf == NULL &&
	    (f->buf = malloc(f->limit + BTCORE_BLOCK_MAX)) == NULL)
		return BT_ENOMEM;
	if (f->n == f->cap) {
		cap = f->cap ? f->cap * 2 : 64;
		if ((nb = realloc(f->blocks, cap * sizeof(*nb))) == NULL)
			return BT_ENOMEM;
		f->blocks = nb;
		f->cap = cap;
	}
	/* used <= limit here, and limit + BTCORE_BLOCK_MAX bytes exist */
	if (len > 0)
		memcpy(f->buf + f->used, data, len);
	f->blocks[f->n].id = *id;
	f->blocks[f->n].off = f->used;
	f->blocks[f->n].len = len;
	f->n++;
	f->used += len;
	return BT_OK;
}

static int
fio_get(void *ctx, const struct bt_id *id, const void **data, size_t *len)
{
	struct btstore_file_io *f = ctx;
	MDB_val k = { BT_ID_LEN, (void *)(uintptr_t)id->b }, v;
	size_t i;
	int rc, mrc;

	*data = NULL;
	*len = 0;
	for (i = f->n; i-- > 0;) {
		if (memcmp(f->blocks[i].id.b, id->b, BT_ID_LEN) == 0) {
			*data = f->buf + f->blocks[i].off;
			*len = f->blocks[i].len;
			return BT_OK;
		}
	}
	if (f->rtxn == NULL &&
	    (rc = btstore_rtxn_begin_(f->st, &f->rtxn)) != BT_OK) {
		f->rtxn = NULL;
		return rc;
	}
	mrc = mdb_get(f->rtxn, f->st->dbi[BTSTORE_DB_BLOCKS_], &k, &v);
	if (mrc != MDB_SUCCESS) {
		release_view(f);
		return btstore_err_(f->st, mrc, "get file block");
	}
	*data = v.mv_data;
	*len = v.mv_size;
	return BT_OK;
}

static void
fio_release(void *ctx)
{
	struct btstore_file_io *f = ctx;

	if (!f->hold)
		release_view(f);
}

void
btstore_file_io_blockio(struct btstore_file_io *f, struct btcore_blockio *io)
{
	if (f == NULL || io == NULL)
		return;
	io->ctx = f;
	io->put = fio_put;
	io->get = fio_get;
	io->release = fio_release;
}

/* ---- write stream ----------------------------------------------------------- */

int
btstore_file_writer_new(struct btstore_file_writer **out, struct btstore *st,
    int layout, const struct btcore_tree_params *params)
{
	struct btstore_file_writer *fw = NULL;
	struct btcore_blockio io;
	int rc;

	if (out == NULL)
		return BT_EINVAL;
	*out = NULL;
	if (st == NULL)
		return BT_EINVAL;
	if ((fw = calloc(1, sizeof(*fw))) == NULL)
		return BT_ENOMEM;
	fw->layout = layout;
	if ((rc = btstore_file_io_new(&fw->fio, st, 0)) != BT_OK)
		goto out;
	btstore_file_io_blockio(fw->fio, &io);
	rc = btcore_tree_builder_new(&fw->b, layout, params, &io);
out:
	if (rc != BT_OK) {
		btstore_file_writer_free(fw);
		return rc;
	}
	*out = fw;
	return BT_OK;
}

int
btstore_file_writer_write(struct btstore_file_writer *fw, const void *data,
    size_t len)
{
	if (fw == NULL)
		return BT_EINVAL;
	return btcore_tree_builder_write(fw->b, data, len);
}

int
btstore_file_writer_end_(struct btstore_file_writer *fw, struct bt_id *root,
    uint64_t *size, struct btstore_file_io **fio)
{
	int rc;

	if (fio != NULL)
		*fio = NULL;
	if (fw == NULL || root == NULL)
		return BT_EINVAL;
	if ((rc = btcore_tree_builder_finish(fw->b, root, size)) != BT_OK)
		return rc;
	if (fio != NULL)
		*fio = fw->fio;
	return BT_OK;
}

int
btstore_file_writer_layout_(const struct btstore_file_writer *fw)
{
	return fw->layout;
}

int
btstore_file_writer_finish(struct btstore_file_writer *fw, struct bt_id *root,
    uint64_t *size)
{
	int rc;

	if (root != NULL)
		memset(root, 0, sizeof(*root));
	if (size != NULL)
		*size = 0;
	if (fw == NULL || root == NULL)
		return BT_EINVAL;
	if ((rc = btstore_file_writer_end_(fw, root, size, NULL)) != BT_OK)
		return rc;
	if ((rc = btstore_file_io_flush(fw->fio)) != BT_OK) {
		memset(root, 0, sizeof(*root));
		if (size != NULL)
			*size = 0;
	}
	return rc;
}

void
btstore_file_writer_free(struct btstore_file_writer *fw)
{
	if (fw == NULL)
		return;
	btcore_tree_builder_free(fw->b);
	btstore_file_io_free(fw->fio);
	free(fw);
}

/* ---- read stream ------------------------------------------------------------ */
/*
 * The reader's adapter keeps its read view from the first get of a call
 * until the call returns, rather than beginning and ending one per block:
 * a 1 MiB read of full-size leaves, or a random read through a node or
 * two, then costs one view.  No view outlives a call, so the reader never
 * holds back map growth or page reuse between calls.
 */

int
btstore_file_reader_open(struct btstore_file_reader **out, struct btstore *st,
    const struct bt_id *root)
{
	struct btstore_file_reader *fr = NULL;
	struct btcore_blockio io;
	int rc;

	if (out == NULL)
		return BT_EINVAL;
	*out = NULL;
	if (st == NULL || root == NULL)
		return BT_EINVAL;
	if ((fr = calloc(1, sizeof(*fr))) == NULL)
		return BT_ENOMEM;
	if ((rc = btstore_file_io_new(&fr->fio, st, 0)) != BT_OK)
		goto out;
	fr->fio->hold = 1;
	btstore_file_io_blockio(fr->fio, &io);
	rc = btcore_tree_reader_open(&fr->r, root, &io);
	release_view(fr->fio);
out:
	if (rc != BT_OK) {
		btstore_file_reader_close(fr);
		return rc;
	}
	*out = fr;
	return BT_OK;
}

int
btstore_file_reader_read(struct btstore_file_reader *fr, void *buf,
    size_t len, size_t *n)
{
	int rc;

	if (n != NULL)
		*n = 0;
	if (fr == NULL)
		return BT_EINVAL;
	rc = btcore_tree_reader_read(fr->r, buf, len, n);
	release_view(fr->fio);
	return rc;
}

int
btstore_file_reader_seek(struct btstore_file_reader *fr, int64_t off,
    int whence, uint64_t *pos)
{
	if (fr == NULL)
		return BT_EINVAL;
	return btcore_tree_reader_seek(fr->r, off, whence, pos);
}

uint64_t
btstore_file_reader_tell(const struct btstore_file_reader *fr)
{
	return fr == NULL ? 0 : btcore_tree_reader_tell(fr->r);
}

uint64_t
btstore_file_reader_size(const struct btstore_file_reader *fr)
{
	return fr == NULL ? 0 : btcore_tree_reader_size(fr->r);
}

int
btstore_file_reader_stat(const struct btstore_file_reader *fr,
    struct btcore_tree_stat *out)
{
	if (fr == NULL || out == NULL)
		return BT_EINVAL;
	return btcore_tree_reader_stat(fr->r, out);
}

void
btstore_file_reader_close(struct btstore_file_reader *fr)
{
	if (fr == NULL)
		return;
	btcore_tree_reader_close(fr->r);
	btstore_file_io_free(fr->fio);
	free(fr);
}
