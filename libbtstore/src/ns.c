/*
 * ns.c - namespaces, directories and paths: signed root records, copy on
 * write from a changed entry up to the root, one commit per operation,
 * and reference accounting for what the roots reach.
 *
 * Liveness: the "ns.live" database counts, for each (kind, root id) of a
 * file or directory, how many places reach it: namespace roots and
 * entries of live directories.  When that count goes from 0 to 1, each
 * block of the object's tree gains one reference in the shared "refs"
 * database (btstore_block_refs_add_()), and for a directory each entry's
 * object gains one live count in turn; from 1 to 0 the same is undone.
 * A change adds the new root before it drops the old one, so whatever
 * the two versions share goes from n to n + 1 and back, untouched; only
 * the rewritten path and what was added or removed are walked.  All
 * walks use explicit work lists (no recursion over stored data) and are
 * bounded by WALK_MAX blocks per operation.  The kind is part of the key
 * because a file whose bytes equal a directory's encoding has the same
 * root id.
 */
#include <bt/dir.h>
#include <bt/file.h>
#include <bt/ns.h>
#include <bt/path.h>
#include <bt/record.h>
#include <bt/store.h>
#include <bt/tree.h>

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "file-internal.h"

#define ROOT_VERSION	1
#define ROOT_VALUE_LEN	(1 + BT_ID_LEN)
#define ROOT_KEY_LEN	(sizeof(BTSTORE_NS_ROOT_KEY) - 1)
#define WALK_MAX	(1u << 24)
#define DIR_MODE	0755u
#define FILE_MODE	0644u
#define LIVE_KEY_LEN	(1 + BT_ID_LEN)

enum op_type { OP_CREATE, OP_IMPORT, OP_MKDIR, OP_LINK, OP_REMOVE, OP_RENAME };

struct op {
	enum op_type type;
	const struct btcore_signer *signer;
	const struct bt_pubkey *ns;
	const struct btcore_path *path, *path2;
	unsigned flags;
	int64_t now;
	/* OP_LINK: the file and the blocks to put in the same commit */
	struct bt_id file;
	uint64_t file_size;
	int layout;
	struct btstore_file_io *pending;
	/* OP_IMPORT: the decoded record and its bytes */
	const uint8_t *rec_bytes;
	size_t rec_len;
	const struct bt_record *rec_in;
	struct bt_id rec_dir;
	/* result */
	uint64_t seq;
};

/* The state of one run of an operation inside its transaction. */
struct run {
	struct btstore_w_ *w;
	struct btstore_file_txnio_ t;
	struct btcore_blockio io;
	uint64_t visits;
	uint8_t *node;		/* BTCORE_BLOCK_MAX bytes for tree walks */
};

/* ---- the root record ---------------------------------------------------- */

int
btstore_ns_root_decode_(const void *buf, size_t len, const struct bt_pubkey *ns,
    struct bt_record *rec, struct bt_id *dir)
{
	int rc;

	memset(dir, 0, sizeof(*dir));
	if ((rc = btcore_record_decode(rec, buf, len)) != BT_OK)
		return rc;
	if (rec->key_len != ROOT_KEY_LEN ||
	    memcmp(rec->key, BTSTORE_NS_ROOT_KEY, ROOT_KEY_LEN) != 0 ||
	    rec->value_len != ROOT_VALUE_LEN || rec->value[0] != ROOT_VERSION ||
	    (ns != NULL && memcmp(ns->b, rec->pub.b, sizeof(ns->b)) != 0)) {
		memset(rec, 0, sizeof(*rec));
		return BT_EFORMAT;
	}
	memcpy(dir->b, rec->value + 1, BT_ID_LEN);
	return BT_OK;
}

/*
 * Verified roots.  Checking a root record's Ed25519 signature costs far
 * more than the rest of a path lookup, and every lookup starts at the
 * root record.  So the exact bytes of records whose signatures verified
 * are kept, with what they decode to, in a small table: a later load
 * whose stored bytes equal an entry's, byte for byte, takes the decoded
 * record from it.  Anything else (a new record, bytes changed on disk)
 * is decoded and verified in full, so a corrupt record is still
 * BT_ECORRUPT.  An entry states only "these bytes verify", which holds
 * in every store and never goes stale; a changed root has other bytes
 * and replaces the entry of its namespace.  So the table is one per
 * process, a fixed array (no allocation, nothing to release) under one
 * mutex, one slot per namespace hash.
 */
#define VROOT_SLOTS	64
#define VROOT_ENC_MAX \
	(1 + 32 + 8 + 1 + ROOT_KEY_LEN + 2 + ROOT_VALUE_LEN + 64)

struct vroot {
	size_t len;		/* 0: empty */
	uint8_t enc[VROOT_ENC_MAX];
	struct bt_record rec;	/* rec.value: NULL; at enc + voff */
	size_t voff;
};

static struct vroot vroots[VROOT_SLOTS];
static pthread_mutex_t vroot_lock = PTHREAD_MUTEX_INITIALIZER;

static struct vroot *
vroot_slot(const uint8_t *enc)
{
	/* the namespace key follows the one-byte tag; it is uniform */
	return &vroots[(((size_t)enc[1] << 8) | enc[2]) % VROOT_SLOTS];
}

/* Whether @p enc is a verified record; then *rec, value into @p enc. */
static int
vroot_get(const uint8_t *enc, size_t len, struct bt_record *rec)
{
	struct vroot *v;
	int hit = 0;

	if (len != VROOT_ENC_MAX)
		return 0;
	v = vroot_slot(enc);
	if (pthread_mutex_lock(&vroot_lock) != 0)
		return 0;
	if (v->len == len && memcmp(v->enc, enc, len) == 0) {
		*rec = v->rec;
		rec->value = enc + v->voff;
		hit = 1;
	}
	(void)pthread_mutex_unlock(&vroot_lock);
	return hit;
}

/* Remember @p enc, whose record @p rec (value into @p enc) verified. */
static void
vroot_put(const uint8_t *enc, size_t len, const struct bt_record *rec)
{
	struct vroot *v;

	if (len != VROOT_ENC_MAX || rec->value == NULL ||
	    rec->value < enc || rec->value >= enc + len)
		return;
	v = vroot_slot(enc);
	if (pthread_mutex_lock(&vroot_lock) != 0)
		return;
	memcpy(v->enc, enc, len);
	v->len = len;
	v->rec = *rec;
	v->voff = (size_t)(rec->value - enc);
	v->rec.value = NULL;
	(void)pthread_mutex_unlock(&vroot_lock);
}

/* Decode a root record as btstore_ns_root_decode_(), through the table
 * of verified roots. */
static int
root_decode(const uint8_t *enc, size_t len, const struct bt_pubkey *ns,
    struct bt_record *rec, struct bt_id *dir)
{
	int rc;

	if (vroot_get(enc, len, rec)) {
		if (ns != NULL && memcmp(ns->b, rec->pub.b, sizeof(ns->b)) != 0) {
			memset(rec, 0, sizeof(*rec));
			memset(dir, 0, sizeof(*dir));
			return BT_EFORMAT;
		}
		memcpy(dir->b, rec->value + 1, BT_ID_LEN);
		return BT_OK;
	}
	if ((rc = btstore_ns_root_decode_(enc, len, ns, rec, dir)) == BT_OK)
		vroot_put(enc, len, rec);
	return rc;
}

/*
 * Load and verify namespace @p ns's record.  With @p enc (at least
 * BTCORE_RECORD_ENC_MAX bytes) the record is copied there and
 * rec->value points into it; with @p enc NULL, rec->value points into
 * the transaction's view and is valid until the transaction ends or
 * writes.
 */
static int
root_load(struct btstore *st, MDB_txn *txn, const struct bt_pubkey *ns,
    uint8_t *enc, struct bt_record *rec, struct bt_id *dir, size_t *enclen)
{
	MDB_val k = { sizeof(ns->b), (void *)(uintptr_t)ns->b }, v;
	const uint8_t *src;
	int rc, mrc;

	mrc = mdb_get(txn, st->dbi[BTSTORE_DB_NS_], &k, &v);
	if (mrc != MDB_SUCCESS)
		return btstore_err_(st, mrc, "read namespace root");
	if (v.mv_size > BTCORE_RECORD_ENC_MAX)
		return BT_ECORRUPT;
	src = v.mv_data;
	if (enc != NULL) {
		memcpy(enc, v.mv_data, v.mv_size);
		src = enc;
	}
	if (enclen != NULL)
		*enclen = v.mv_size;
	rc = root_decode(src, v.mv_size, ns, rec, dir);
	if (rc != BT_OK && rc != BT_ENOMEM) {
		btstore_log_(st, BTSTORE_LOG_ERROR,
		    "stored namespace root does not verify");
		rc = BT_ECORRUPT;
	}
	return rc;
}

static int
root_put(struct btstore_w_ *w, const struct bt_pubkey *ns, const void *enc,
    size_t len)
{
	MDB_val k = { sizeof(ns->b), (void *)(uintptr_t)ns->b };
	MDB_val v = { len, (void *)(uintptr_t)enc };

	return btstore_werr_(w, mdb_put(w->txn, w->st->dbi[BTSTORE_DB_NS_], &k,
	    &v, 0), "write namespace root");
}

/* Sign and store the root record (@p dir, @p seq). */
static int
root_sign(struct btstore_w_ *w, const struct btcore_signer *signer,
    const struct bt_id *dir, uint64_t seq)
{
	uint8_t val[ROOT_VALUE_LEN], *enc;
	struct bt_record rec;
	size_t len;
	int rc;

	if ((enc = malloc(BTCORE_RECORD_ENC_MAX)) == NULL)
		return BT_ENOMEM;
	val[0] = ROOT_VERSION;
	memcpy(val + 1, dir->b, BT_ID_LEN);
	rc = btcore_record_sign(&rec, signer, BTSTORE_NS_ROOT_KEY, ROOT_KEY_LEN,
	    val, sizeof(val), seq);
	if (rc == BT_OK)
		rc = btcore_record_encode(&rec, enc, BTCORE_RECORD_ENC_MAX, &len);
	if (rc == BT_OK)
		rc = root_put(w, &signer->pub, enc, len);
	free(enc);
	return rc;
}

/* ---- directories as trees ------------------------------------------------- */

static int
as_corrupt(int rc)
{
	switch (rc) {
	case BT_EFORMAT:
	case BT_ETRUNC:
	case BT_EUNSUPPORTED:
	case BT_ETOOBIG:
		return BT_ECORRUPT;
	default:
		return rc;
	}
}

/* Read the directory whose tree root is @p id through @p io; its
 * encoding's length in *enclen when not NULL. */
static int
dir_read(const struct btcore_blockio *io, const struct bt_id *id,
    struct btcore_dir **out, size_t *enclen)
{
	struct btcore_tree_reader *r = NULL;
	uint8_t *buf = NULL;
	uint64_t size;
	size_t n, got = 0;
	int rc;

	*out = NULL;
	if ((rc = btcore_tree_reader_open(&r, id, io)) != BT_OK)
		goto out;
	size = btcore_tree_reader_size(r);
	if (size > BTCORE_DIR_MAX_BYTES) {
		rc = BT_ECORRUPT;
		goto out;
	}
	if ((buf = malloc(size ? (size_t)size : 1)) == NULL) {
		rc = BT_ENOMEM;
		goto out;
	}
	while (got < size) {
		rc = btcore_tree_reader_read(r, buf + got, (size_t)size - got,
		    &n);
		if (rc != BT_OK)
			goto out;
		if (n == 0) {
			rc = BT_ECORRUPT;
			goto out;
		}
		got += n;
	}
	rc = btcore_dir_decode(out, buf, got);
	if (enclen != NULL)
		*enclen = got;
out:
	btcore_tree_reader_close(r);
	free(buf);
	return as_corrupt(rc);
}

static int
dir_load(const struct btcore_blockio *io, const struct bt_id *id,
    struct btcore_dir **out)
{
	return dir_read(io, id, out, NULL);
}

/* Sum of the entries' sizes, saturating at INT64_MAX. */
static uint64_t
dir_sum(const struct btcore_dir *d)
{
	struct btcore_dir_entry e;
	uint64_t sum = 0;
	size_t i, n = btcore_dir_count(d);

	for (i = 0; i < n; i++) {
		if (btcore_dir_entry_at(d, i, &e) != BT_OK)
			continue;
		sum = e.size > (uint64_t)INT64_MAX - sum ? (uint64_t)INT64_MAX :
		    sum + e.size;
	}
	return sum;
}

/*
 * Decoded directories.  A path lookup reads, verifies and decodes every
 * directory from the root down; the same few directories (a site's
 * root, its folders) are looked up again and again.  A directory's id is
 * the root hash of the tree holding its encoding, so the directory
 * decoded under an id, once its blocks verified, is that id's directory
 * for good, in every store: lookups keep recently decoded ones here and
 * look names up in them without reading the store.  Directories that
 * change get new ids; old ones just fall out.  Bounded: one directory
 * per slot, at most DCACHE_DIR_MAX bytes of encoding each and
 * DCACHE_BUDGET in all (a directory that does not fit is used once and
 * freed).  Only read paths use it; changes decode their own copies.
 * One per process (like the verified roots), under its own mutex.
 */
#define DCACHE_SLOTS	64
#define DCACHE_DIR_MAX	(64u * 1024u)
#define DCACHE_BUDGET	(1024u * 1024u)

struct dslot {
	struct bt_id id;
	struct btcore_dir *d;	/* NULL: empty */
	size_t bytes;		/* its encoding's length */
	uint64_t sum;		/* dir_sum(d) */
};

static struct dslot dslots[DCACHE_SLOTS];
static size_t dcache_bytes;
static pthread_mutex_t dcache_lock = PTHREAD_MUTEX_INITIALIZER;

static struct dslot *
dcache_slot(const struct bt_id *id)
{
	return &dslots[(((size_t)id->b[0] << 8) | id->b[1]) % DCACHE_SLOTS];
}

/*
 * Look @p name up in the cached directory @p id: 1 and *rc (the result
 * of btcore_dir_get(), with ent->name NULL) when it is cached, else 0.
 * With @p name NULL, only *sum is wanted.
 */
static int
dcache_get(const struct bt_id *id, const char *name, size_t len,
    struct btcore_dir_entry *ent, uint64_t *sum, int *rc)
{
	struct dslot *s = dcache_slot(id);
	int hit = 0;

	if (pthread_mutex_lock(&dcache_lock) != 0)
		return 0;
	if (s->d != NULL && memcmp(s->id.b, id->b, BT_ID_LEN) == 0) {
		hit = 1;
		if (sum != NULL)
			*sum = s->sum;
		*rc = name != NULL ? btcore_dir_get(s->d, name, len, ent) :
		    BT_OK;
		if (name != NULL) {
			ent->name = NULL;
			ent->name_len = 0;
		}
	}
	(void)pthread_mutex_unlock(&dcache_lock);
	return hit;
}

/* Keep @p d (decoded and verified from @p id, @p bytes of encoding) in
 * the cache, or free it.  Takes ownership. */
static void
dcache_put(const struct bt_id *id, struct btcore_dir *d, size_t bytes)
{
	struct dslot *s = dcache_slot(id);
	struct btcore_dir *old = NULL;

	if (bytes > DCACHE_DIR_MAX || pthread_mutex_lock(&dcache_lock) != 0) {
		btcore_dir_free(d);
		return;
	}
	if (s->d != NULL) {
		old = s->d;
		dcache_bytes -= s->bytes;
		s->d = NULL;
	}
	if (dcache_bytes + bytes <= DCACHE_BUDGET) {
		s->id = *id;
		s->d = d;
		s->bytes = bytes;
		s->sum = dir_sum(d);
		dcache_bytes += bytes;
		d = NULL;
	}
	(void)pthread_mutex_unlock(&dcache_lock);
	btcore_dir_free(old);
	btcore_dir_free(d);
}

/*
 * The entry @p name (@p len bytes) of directory @p id, through the
 * cache; ent->name is NULL.  With @p name NULL, only *sum (the sum of
 * the entries' sizes) is set.
 */
static int
dir_lookup(const struct btcore_blockio *io, const struct bt_id *id,
    const char *name, size_t len, struct btcore_dir_entry *ent,
    uint64_t *sum)
{
	struct btcore_dir *d = NULL;
	size_t bytes = 0;
	int rc;

	if (dcache_get(id, name, len, ent, sum, &rc))
		return rc;
	if ((rc = dir_read(io, id, &d, &bytes)) != BT_OK)
		return rc;
	if (sum != NULL)
		*sum = dir_sum(d);
	rc = name != NULL ? btcore_dir_get(d, name, len, ent) : BT_OK;
	if (name != NULL) {
		ent->name = NULL;
		ent->name_len = 0;
	}
	dcache_put(id, d, bytes);
	return rc;
}

/* Store @p d as a sequential tree in the write; its id and size sum. */
static int
dir_store(struct run *r, const struct btcore_dir *d, struct bt_id *id,
    uint64_t *sum)
{
	struct btcore_tree_builder *b = NULL;
	uint8_t *enc = NULL;
	size_t len;
	int rc;

	if ((rc = btcore_dir_encode(d, &enc, &len)) != BT_OK)
		goto out;
	if ((rc = btcore_tree_builder_new(&b, BTCORE_TREE_SEQUENTIAL, NULL,
	    &r->io)) != BT_OK)
		goto out;
	if ((rc = btcore_tree_builder_write(b, enc, len)) != BT_OK ||
	    (rc = btcore_tree_builder_finish(b, id, NULL)) != BT_OK)
		goto out;
	if (sum != NULL)
		*sum = dir_sum(d);
out:
	btcore_tree_builder_free(b);
	btcore_dir_bytes_free(enc);
	return rc;
}

/* ---- liveness and block references ---------------------------------------- */

struct wl {
	struct { uint8_t kind; struct bt_id id; } *v;
	size_t n, cap;
};

static int
wl_push(struct wl *l, int kind, const struct bt_id *id)
{
	void *nv;
	size_t cap;

	if (l->n == l->cap) {
		cap = l->cap ? l->cap * 2 : 64;
		if ((nv = realloc(l->v, cap * sizeof(*l->v))) == NULL)
			return BT_ENOMEM;
		l->v = nv;
		l->cap = cap;
	}
	l->v[l->n].kind = (uint8_t)kind;
	l->v[l->n].id = *id;
	l->n++;
	return BT_OK;
}

/* Add @p delta to the live count of (kind, id); *before, *after. */
static int
live_count(struct btstore_w_ *w, int kind, const struct bt_id *id, int delta,
    uint32_t *before, uint32_t *after)
{
	uint8_t key[LIVE_KEY_LEN], buf[4];
	MDB_val k = { sizeof(key), key }, v;
	uint32_t cur = 0;
	int rc, mrc;

	key[0] = (uint8_t)kind;
	memcpy(key + 1, id->b, BT_ID_LEN);
	mrc = mdb_get(w->txn, w->st->dbi[BTSTORE_DB_NSLIVE_], &k, &v);
	if (mrc == MDB_SUCCESS) {
		if ((rc = btstore_u32_decode_(v.mv_data, v.mv_size, &cur))
		    != BT_OK)
			return rc;
	} else if (mrc != MDB_NOTFOUND) {
		return btstore_werr_(w, mrc, "read live count");
	}
	if ((delta < 0 && cur == 0) || (delta > 0 && cur == UINT32_MAX))
		return delta < 0 ? BT_ECORRUPT : BT_ERANGE;
	*before = cur;
	cur = delta < 0 ? cur - 1 : cur + 1;
	*after = cur;
	if (cur == 0)
		return btstore_werr_(w, mdb_del(w->txn,
		    w->st->dbi[BTSTORE_DB_NSLIVE_], &k, NULL), "delete live count");
	btstore_put_be32_(buf, cur);
	v.mv_size = sizeof(buf);
	v.mv_data = buf;
	return btstore_werr_(w, mdb_put(w->txn, w->st->dbi[BTSTORE_DB_NSLIVE_],
	    &k, &v, 0), "write live count");
}

static int
block_ref(struct run *r, const struct bt_id *id, int delta, int check)
{
	MDB_val k = { BT_ID_LEN, (void *)(uintptr_t)id->b }, v;
	int mrc;

	if (++r->visits > WALK_MAX)
		return BT_ETOOBIG;
	if (check) {
		mrc = mdb_get(r->w->txn, r->w->st->dbi[BTSTORE_DB_BLOCKS_], &k,
		    &v);
		if (mrc != MDB_SUCCESS)
			return btstore_werr_(r->w, mrc, "file block");
	}
	return btstore_block_refs_add_(r->w, id, delta);
}

/* Add @p delta to the reference of every block of the tree at @p root. */
static int
tree_refs(struct run *r, const struct bt_id *root, int delta)
{
	struct btcore_tree_node node;
	struct wl nodes = { NULL, 0, 0 };
	struct bt_id id, child;
	MDB_val k, v;
	uint32_t i;
	int rc, mrc, leaves;

	if ((rc = wl_push(&nodes, 0, root)) != BT_OK)
		goto out;
	while (nodes.n > 0) {
		id = nodes.v[--nodes.n].id;
		k.mv_size = BT_ID_LEN;
		k.mv_data = id.b;
		mrc = mdb_get(r->w->txn, r->w->st->dbi[BTSTORE_DB_BLOCKS_], &k,
		    &v);
		if (mrc != MDB_SUCCESS) {
			rc = btstore_werr_(r->w, mrc, "tree node");
			goto out;
		}
		if (v.mv_size > BTCORE_BLOCK_MAX) {
			rc = BT_ECORRUPT;
			goto out;
		}
		/* copy: the value may move once the write changes pages */
		memcpy(r->node, v.mv_data, v.mv_size);
		if ((rc = btcore_block_verify(&id, r->node, v.mv_size)) != BT_OK ||
		    (rc = btcore_tree_node_decode(&node, r->node, v.mv_size))
		    != BT_OK) {
			rc = as_corrupt(rc);
			goto out;
		}
		if ((rc = block_ref(r, &id, delta, 0)) != BT_OK)
			goto out;
		leaves = node.layout == BTCORE_TREE_SEQUENTIAL || node.level == 1;
		for (i = 0; i < node.count; i++) {
			if ((rc = btcore_tree_node_entry(&node, i, &child, NULL))
			    != BT_OK)
				goto out;
			if (leaves)
				rc = block_ref(r, &child, delta, delta > 0);
			else
				rc = wl_push(&nodes, 0, &child);
			if (rc != BT_OK)
				goto out;
		}
		if (node.layout == BTCORE_TREE_SEQUENTIAL &&
		    !btcore_id_is_zero(&node.prev) &&
		    (rc = wl_push(&nodes, 0, &node.prev)) != BT_OK)
			goto out;
	}
out:
	free(nodes.v);
	return rc;
}

/* Add @p delta (+1 or -1) to the live count of (kind, id), walking what
 * becomes live or dead. */
static int
live_change(struct run *r, int kind, const struct bt_id *id, int delta)
{
	struct btcore_dir_entry e;
	struct btcore_dir *d = NULL;
	struct wl work = { NULL, 0, 0 };
	struct bt_id cur;
	uint32_t before = 0, after = 0;
	size_t i, n;
	int rc, ckind;

	if ((rc = wl_push(&work, kind, id)) != BT_OK)
		goto out;
	while (work.n > 0) {
		work.n--;
		ckind = work.v[work.n].kind;
		cur = work.v[work.n].id;
		rc = live_count(r->w, ckind, &cur, delta, &before, &after);
		if (rc != BT_OK)
			goto out;
		if (!(delta > 0 && before == 0) && !(delta < 0 && after == 0))
			continue;
		if ((rc = tree_refs(r, &cur, delta)) != BT_OK)
			goto out;
		if (ckind != BTCORE_DIR_DIR)
			continue;
		if ((rc = dir_load(&r->io, &cur, &d)) != BT_OK)
			goto out;
		n = btcore_dir_count(d);
		r->visits += n;
		if (r->visits > WALK_MAX) {
			rc = BT_ETOOBIG;
			goto out;
		}
		for (i = 0; i < n; i++) {
			if ((rc = btcore_dir_entry_at(d, i, &e)) != BT_OK ||
			    (rc = wl_push(&work, (int)e.kind, &e.root)) != BT_OK)
				goto out;
		}
		btcore_dir_free(d);
		d = NULL;
	}
out:
	btcore_dir_free(d);
	free(work.v);
	return rc;
}

/* ---- copy on write along a path -------------------------------------------- */

struct edit {
	struct btcore_dir *dirs[BTCORE_PATH_DEPTH_MAX];
	size_t n;	/* dirs[0] the root ... dirs[n - 1] the parent */
};

static void
edit_free(struct edit *e)
{
	while (e->n > 0)
		btcore_dir_free(e->dirs[--e->n]);
}

/* Load the directories from the root to the parent of @p p's last
 * component (creating missing ones with BTSTORE_NS_PARENTS). */
static int
descend(struct run *r, const struct bt_id *root, const struct btcore_path *p,
    unsigned flags, struct edit *e)
{
	struct btcore_dir_entry ent;
	const char *c;
	size_t depth = btcore_path_depth(p), i, len;
	int rc;

	e->n = 0;
	if ((rc = dir_load(&r->io, root, &e->dirs[0])) != BT_OK)
		return rc;
	e->n = 1;
	for (i = 0; i + 1 < depth; i++) {
		c = btcore_path_component(p, i, &len);
		rc = btcore_dir_get(e->dirs[i], c, len, &ent);
		if (rc == BT_ENOTFOUND && (flags & BTSTORE_NS_PARENTS) != 0)
			rc = btcore_dir_new(&e->dirs[i + 1]);
		else if (rc == BT_OK && ent.kind != BTCORE_DIR_DIR)
			rc = BTSTORE_ENOTDIR;
		else if (rc == BT_OK)
			rc = dir_load(&r->io, &ent.root, &e->dirs[i + 1]);
		if (rc != BT_OK)
			return rc;
		e->n++;
	}
	return BT_OK;
}

/* Store the edited directories from the parent up; the new root. */
static int
ascend(struct run *r, const struct btcore_path *p, struct edit *e,
    int64_t now, struct bt_id *root)
{
	struct btcore_dir_entry ent, old;
	struct bt_id id;
	uint64_t sum;
	size_t i, len;
	const char *c;
	int rc;

	for (i = e->n - 1; i > 0; i--) {
		if ((rc = dir_store(r, e->dirs[i], &id, &sum)) != BT_OK)
			return rc;
		c = btcore_path_component(p, i - 1, &len);
		memset(&ent, 0, sizeof(ent));
		ent.name = c;
		ent.name_len = len;
		ent.kind = BTCORE_DIR_DIR;
		ent.root = id;
		ent.size = sum;
		ent.mode = DIR_MODE;
		ent.mtime = now;
		ent.layout = BTCORE_DIR_LAYOUT_SEQUENTIAL;
		if (btcore_dir_get(e->dirs[i - 1], c, len, &old) == BT_OK)
			ent.mode = old.mode;
		if ((rc = btcore_dir_put(e->dirs[i - 1], &ent)) != BT_OK)
			return rc;
	}
	return dir_store(r, e->dirs[0], root, NULL);
}

static int
empty_dir(struct run *r, struct bt_id *id)
{
	struct btcore_dir *d;
	int rc;

	if ((rc = btcore_dir_new(&d)) != BT_OK)
		return rc;
	rc = dir_store(r, d, id, NULL);
	btcore_dir_free(d);
	return rc;
}

/* Apply the operation to root @p old; *nochange when nothing changed. */
static int
apply(struct run *r, struct op *o, const struct bt_id *old, struct bt_id *root,
    int *nochange)
{
	struct btcore_dir_entry ent, moved;
	struct btcore_dir *sub = NULL;
	struct edit e = { { NULL }, 0 };
	const struct btcore_path *p = o->path;
	struct bt_id mid;
	const char *c;
	size_t len;
	int rc, have;

	*nochange = 0;
	if ((rc = descend(r, old, p, o->type == OP_REMOVE ||
	    o->type == OP_RENAME ? 0 : o->flags, &e)) != BT_OK)
		goto out;
	c = btcore_path_component(p, btcore_path_depth(p) - 1, &len);
	rc = btcore_dir_get(e.dirs[e.n - 1], c, len, &ent);
	if (rc != BT_OK && rc != BT_ENOTFOUND)
		goto out;
	have = rc == BT_OK;
	memset(&moved, 0, sizeof(moved));
	switch (o->type) {
	case OP_MKDIR:
		if (have) {
			rc = ent.kind == BTCORE_DIR_DIR &&
			    (o->flags & BTSTORE_NS_PARENTS) != 0 ? BT_OK :
			    BT_EEXIST;
			*nochange = 1;
			goto out;
		}
		memset(&ent, 0, sizeof(ent));
		ent.kind = BTCORE_DIR_DIR;
		ent.mode = DIR_MODE;
		if ((rc = empty_dir(r, &ent.root)) != BT_OK)
			goto out;
		break;
	case OP_LINK:
		if (have && ent.kind == BTCORE_DIR_DIR) {
			rc = BTSTORE_EISDIR;
			goto out;
		}
		if (have && (o->flags & BTSTORE_NS_EXCL) != 0) {
			rc = BT_EEXIST;
			goto out;
		}
		ent.mode = have ? ent.mode : FILE_MODE;
		ent.kind = BTCORE_DIR_FILE;
		ent.root = o->file;
		ent.size = o->file_size;
		ent.layout = o->layout == BTCORE_TREE_RANDOM ?
		    BTCORE_DIR_LAYOUT_RANDOM : BTCORE_DIR_LAYOUT_SEQUENTIAL;
		break;
	case OP_REMOVE:
	case OP_RENAME:
		if (!have) {
			rc = BT_ENOTFOUND;
			goto out;
		}
		if (o->type == OP_REMOVE && ent.kind == BTCORE_DIR_DIR &&
		    (o->flags & BTSTORE_NS_RECURSIVE) == 0) {
			if ((rc = dir_load(&r->io, &ent.root, &sub)) != BT_OK)
				goto out;
			if (btcore_dir_count(sub) > 0) {
				rc = BT_EEXIST;
				goto out;
			}
		}
		moved = ent;
		moved.name = NULL;
		rc = btcore_dir_remove(e.dirs[e.n - 1], c, len);
		if (rc != BT_OK)
			goto out;
		break;
	default:
		rc = BT_EINVAL;
		goto out;
	}
	if (o->type == OP_MKDIR || o->type == OP_LINK) {
		ent.name = c;
		ent.name_len = len;
		ent.mtime = o->now;
		if ((rc = btcore_dir_put(e.dirs[e.n - 1], &ent)) != BT_OK)
			goto out;
	}
	if ((rc = ascend(r, p, &e, o->now, root)) != BT_OK)
		goto out;
	if (o->type != OP_RENAME)
		goto out;
	/* the second half of a rename: insert at the destination */
	mid = *root;
	edit_free(&e);
	p = o->path2;
	if ((rc = descend(r, &mid, p, o->flags, &e)) != BT_OK)
		goto out;
	c = btcore_path_component(p, btcore_path_depth(p) - 1, &len);
	rc = btcore_dir_get(e.dirs[e.n - 1], c, len, &ent);
	if (rc == BT_OK) {
		rc = BT_EEXIST;
		goto out;
	}
	if (rc != BT_ENOTFOUND)
		goto out;
	moved.name = c;
	moved.name_len = len;
	if ((rc = btcore_dir_put(e.dirs[e.n - 1], &moved)) != BT_OK)
		goto out;
	rc = ascend(r, p, &e, o->now, root);
out:
	btcore_dir_free(sub);
	edit_free(&e);
	return rc;
}

/* Emit a path event; a path longer than a topic key is announced as its
 * longest ancestor that fits. */
static int
emit_path(struct btstore_w_ *w, const struct btcore_path *p, int event)
{
	const char *text;
	size_t len;

	text = btcore_path_format(p, &len);
	if (len > BTSTORE_TOPIC_KEY_MAX) {
		len = BTSTORE_TOPIC_KEY_MAX;
		while (len > 0 && text[len] != '/')
			len--;
	}
	return btstore_emit_(w, BTSTORE_TOPIC_PATH, event, text, len);
}

static int
emit_root(struct btstore_w_ *w, const struct bt_pubkey *ns)
{
	struct btcore_path *p = NULL;
	int rc;

	if ((rc = btcore_path_root(&p, ns)) == BT_OK)
		rc = emit_path(w, p, BTSTORE_EV_PUT);
	btcore_path_free(p);
	return rc;
}

static int
op_fn(struct btstore_w_ *w, void *arg)
{
	struct op *o = arg;
	struct run r;
	struct bt_record rec;
	struct bt_id old, root;
	uint8_t *enc = NULL;
	int rc, have, nochange = 0;

	memset(&r, 0, sizeof(r));
	r.w = w;
	btstore_file_txnio_init_(&r.t, w->st, w->txn, w, &r.io);
	o->seq = 0;
	if ((enc = malloc(BTCORE_RECORD_ENC_MAX)) == NULL ||
	    (r.node = malloc(BTCORE_BLOCK_MAX)) == NULL) {
		rc = BT_ENOMEM;
		goto out;
	}
	rc = root_load(w->st, w->txn, o->ns, enc, &rec, &old, NULL);
	if (rc != BT_OK && rc != BT_ENOTFOUND)
		goto out;
	have = rc == BT_OK;
	if (!have && o->type != OP_CREATE && o->type != OP_IMPORT)
		goto out;
	if (have && o->type == OP_CREATE) {
		rc = BT_EEXIST;
		goto out;
	}
	switch (o->type) {
	case OP_CREATE:
		if ((rc = empty_dir(&r, &root)) != BT_OK)
			goto out;
		break;
	case OP_IMPORT:
		if (have) {
			rc = btcore_record_compare(o->rec_in, &rec);
			if (rc == BTCORE_RECORD_REFRESH) {
				o->seq = rec.seq;
				rc = BT_OK;
				goto out;
			}
			if (rc != BTCORE_RECORD_ACCEPT)
				goto out;
		}
		root = o->rec_dir;
		break;
	default:
		if (o->pending != NULL &&
		    (rc = btstore_file_io_put_pending_(w, o->pending)) != BT_OK)
			goto out;
		if ((rc = apply(&r, o, &old, &root, &nochange)) != BT_OK)
			goto out;
		break;
	}
	if (nochange) {
		o->seq = rec.seq;
		goto out;
	}
	/* the new root first: what both reach is never walked */
	if ((rc = live_change(&r, BTCORE_DIR_DIR, &root, 1)) != BT_OK)
		goto out;
	if (have && (rc = live_change(&r, BTCORE_DIR_DIR, &old, -1)) != BT_OK)
		goto out;
	if (o->type == OP_IMPORT) {
		o->seq = o->rec_in->seq;
		rc = root_put(w, o->ns, o->rec_bytes, o->rec_len);
	} else {
		o->seq = have ? rec.seq + 1 : 1;
		if (o->seq == 0) {
			rc = BT_ERANGE;
			goto out;
		}
		rc = root_sign(w, o->signer, &root, o->seq);
	}
	if (rc != BT_OK ||
	    (rc = btstore_block_account_(w, r.t.count, r.t.bytes)) != BT_OK)
		goto out;
	switch (o->type) {
	case OP_CREATE:
	case OP_IMPORT:
		rc = emit_root(w, o->ns);
		break;
	case OP_REMOVE:
		rc = emit_path(w, o->path, BTSTORE_EV_DEL);
		break;
	case OP_RENAME:
		if ((rc = emit_path(w, o->path, BTSTORE_EV_DEL)) == BT_OK)
			rc = emit_path(w, o->path2, BTSTORE_EV_PUT);
		break;
	default:
		rc = emit_path(w, o->path, BTSTORE_EV_PUT);
		break;
	}
out:
	free(enc);
	free(r.node);
	if (rc != BT_OK)
		o->seq = 0;
	return rc;
}

static int64_t
now_ns(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
		return 0;
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Parse @p text into *p and check that @p signer may change it. */
static int
parse_owned(const struct btcore_signer *signer, const char *text, size_t len,
    struct btcore_path **p)
{
	int rc;

	*p = NULL;
	if (signer == NULL || text == NULL)
		return BT_EINVAL;
	if ((rc = btcore_path_parse(p, text, len)) != BT_OK)
		return rc;
	if (btcore_path_depth(*p) == 0)
		rc = BT_EINVAL;
	else if (memcmp(btcore_path_namespace(*p)->b, signer->pub.b,
	    sizeof(signer->pub.b)) != 0)
		rc = BT_EPERM;
	if (rc != BT_OK) {
		btcore_path_free(*p);
		*p = NULL;
	}
	return rc;
}

static int
run_op(struct btstore *st, struct op *o, uint64_t *seq)
{
	int rc;

	o->now = now_ns();
	rc = btstore_write_(st, op_fn, o);
	if (seq != NULL)
		*seq = rc == BT_OK ? o->seq : 0;
	return rc;
}

/* ---- the public operations --------------------------------------------- */

int
btstore_ns_create(struct btstore *st, const struct btcore_signer *signer)
{
	struct op o;

	if (st == NULL || signer == NULL || signer->sign == NULL)
		return BT_EINVAL;
	memset(&o, 0, sizeof(o));
	o.type = OP_CREATE;
	o.signer = signer;
	o.ns = &signer->pub;
	return run_op(st, &o, NULL);
}

int
btstore_ns_import(struct btstore *st, const void *buf, size_t len)
{
	struct bt_record rec;
	struct op o;
	int rc;

	if (st == NULL || buf == NULL)
		return BT_EINVAL;
	memset(&o, 0, sizeof(o));
	if ((rc = btstore_ns_root_decode_(buf, len, NULL, &rec, &o.rec_dir))
	    != BT_OK)
		return rc;
	o.type = OP_IMPORT;
	o.ns = &rec.pub;
	o.rec_in = &rec;
	o.rec_bytes = buf;
	o.rec_len = len;
	return run_op(st, &o, NULL);
}

int
btstore_ns_root(struct btstore *st, const struct bt_pubkey *ns, void *buf,
    size_t cap, size_t *len, uint64_t *seq, struct bt_id *dir)
{
	struct bt_record rec;
	struct bt_id d;
	uint8_t *enc = NULL;
	MDB_txn *txn = NULL;
	size_t n = 0;
	int rc;

	if (len != NULL)
		*len = 0;
	if (seq != NULL)
		*seq = 0;
	if (dir != NULL)
		memset(dir, 0, sizeof(*dir));
	if (st == NULL || ns == NULL || (buf == NULL && cap != 0))
		return BT_EINVAL;
	if ((enc = malloc(BTCORE_RECORD_ENC_MAX)) == NULL)
		return BT_ENOMEM;
	if ((rc = btstore_rtxn_begin_(st, &txn)) != BT_OK) {
		txn = NULL;
		goto out;
	}
	if ((rc = root_load(st, txn, ns, enc, &rec, &d, &n)) != BT_OK)
		goto out;
	if (len != NULL)
		*len = n;
	if (seq != NULL)
		*seq = rec.seq;
	if (dir != NULL)
		*dir = d;
	if (buf == NULL)
		goto out;	/* a query of the sequence or the root only */
	if (n > cap)
		rc = BT_ERANGE;
	else
		memcpy(buf, enc, n);
out:
	if (txn != NULL)
		btstore_rtxn_end_(st, txn);
	free(enc);
	return rc;
}

int
btstore_ns_mkdir(struct btstore *st, const struct btcore_signer *signer,
    const char *path, size_t len, unsigned flags, uint64_t *seq)
{
	struct btcore_path *p = NULL;
	struct op o;
	int rc;

	if (seq != NULL)
		*seq = 0;
	if (st == NULL || (flags & ~BTSTORE_NS_PARENTS) != 0)
		return BT_EINVAL;
	if ((rc = parse_owned(signer, path, len, &p)) != BT_OK)
		return rc;
	memset(&o, 0, sizeof(o));
	o.type = OP_MKDIR;
	o.signer = signer;
	o.ns = &signer->pub;
	o.path = p;
	o.flags = flags;
	rc = run_op(st, &o, seq);
	btcore_path_free(p);
	return rc;
}

struct btstore_ns_writer {
	struct btstore *st;
	const struct btcore_signer *signer;
	struct btcore_path *path;
	unsigned flags;
	struct btstore_file_writer *fw;
	int done;
};

/* Whether namespace @p ns is held (verified). */
static int
ns_held(struct btstore *st, const struct bt_pubkey *ns)
{
	return btstore_ns_root(st, ns, NULL, 0, NULL, NULL, NULL);
}

int
btstore_ns_writer_open(struct btstore_ns_writer **out, struct btstore *st,
    const struct btcore_signer *signer, const char *path, size_t len,
    int layout, const struct btcore_tree_params *params, unsigned flags)
{
	struct btstore_ns_writer *w;
	int rc;

	if (out == NULL)
		return BT_EINVAL;
	*out = NULL;
	if (st == NULL ||
	    (flags & ~(BTSTORE_NS_PARENTS | BTSTORE_NS_EXCL)) != 0)
		return BT_EINVAL;
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return BT_ENOMEM;
	w->st = st;
	w->signer = signer;
	w->flags = flags;
	if ((rc = parse_owned(signer, path, len, &w->path)) != BT_OK ||
	    (rc = ns_held(st, &signer->pub)) != BT_OK ||
	    (rc = btstore_file_writer_new(&w->fw, st, layout, params)) != BT_OK) {
		btstore_ns_writer_free(w);
		return rc;
	}
	*out = w;
	return BT_OK;
}

int
btstore_ns_writer_write(struct btstore_ns_writer *w, const void *data,
    size_t len)
{
	if (w == NULL)
		return BT_EINVAL;
	if (w->done)
		return BT_ESTATE;
	return btstore_file_writer_write(w->fw, data, len);
}

int
btstore_ns_writer_commit(struct btstore_ns_writer *w, uint64_t *seq)
{
	struct op o;
	int rc;

	if (seq != NULL)
		*seq = 0;
	if (w == NULL)
		return BT_EINVAL;
	if (w->done)
		return BT_ESTATE;
	w->done = 1;
	memset(&o, 0, sizeof(o));
	o.type = OP_LINK;
	o.signer = w->signer;
	o.ns = &w->signer->pub;
	o.path = w->path;
	o.flags = w->flags;
	o.layout = btstore_file_writer_layout_(w->fw);
	if ((rc = btstore_file_writer_end_(w->fw, &o.file, &o.file_size,
	    &o.pending)) != BT_OK)
		return rc;
	if ((rc = run_op(w->st, &o, seq)) == BT_OK)
		btstore_file_io_clear_(o.pending);
	return rc;
}

void
btstore_ns_writer_free(struct btstore_ns_writer *w)
{
	if (w == NULL)
		return;
	btstore_file_writer_free(w->fw);
	btcore_path_free(w->path);
	free(w);
}

int
btstore_ns_write(struct btstore *st, const struct btcore_signer *signer,
    const char *path, size_t len, const void *data, size_t size, int layout,
    const struct btcore_tree_params *params, unsigned flags, uint64_t *seq)
{
	struct btstore_ns_writer *w = NULL;
	int rc;

	if (seq != NULL)
		*seq = 0;
	if (data == NULL && size != 0)
		return BT_EINVAL;
	if ((rc = btstore_ns_writer_open(&w, st, signer, path, len, layout,
	    params, flags)) != BT_OK)
		return rc;
	if ((rc = btstore_ns_writer_write(w, data, size)) == BT_OK)
		rc = btstore_ns_writer_commit(w, seq);
	btstore_ns_writer_free(w);
	return rc;
}

int
btstore_ns_rename(struct btstore *st, const struct btcore_signer *signer,
    const char *from, size_t from_len, const char *to, size_t to_len,
    unsigned flags, uint64_t *seq)
{
	struct btcore_path *a = NULL, *b = NULL;
	struct op o;
	int rc;

	if (seq != NULL)
		*seq = 0;
	if (st == NULL || (flags & ~BTSTORE_NS_PARENTS) != 0)
		return BT_EINVAL;
	if ((rc = parse_owned(signer, from, from_len, &a)) != BT_OK ||
	    (rc = parse_owned(signer, to, to_len, &b)) != BT_OK)
		goto out;
	if (btcore_path_is_ancestor(a, b)) {
		rc = BT_EINVAL;
		goto out;
	}
	memset(&o, 0, sizeof(o));
	o.type = OP_RENAME;
	o.signer = signer;
	o.ns = &signer->pub;
	o.path = a;
	o.path2 = b;
	o.flags = flags;
	rc = run_op(st, &o, seq);
out:
	btcore_path_free(a);
	btcore_path_free(b);
	return rc;
}

int
btstore_ns_remove(struct btstore *st, const struct btcore_signer *signer,
    const char *path, size_t len, unsigned flags, uint64_t *seq)
{
	struct btcore_path *p = NULL;
	struct op o;
	int rc;

	if (seq != NULL)
		*seq = 0;
	if (st == NULL || (flags & ~BTSTORE_NS_RECURSIVE) != 0)
		return BT_EINVAL;
	if ((rc = parse_owned(signer, path, len, &p)) != BT_OK)
		return rc;
	memset(&o, 0, sizeof(o));
	o.type = OP_REMOVE;
	o.signer = signer;
	o.ns = &signer->pub;
	o.path = p;
	o.flags = flags;
	rc = run_op(st, &o, seq);
	btcore_path_free(p);
	return rc;
}

/* ---- reading -------------------------------------------------------------- */

/*
 * Resolve @p text in a read view: the entry (name NULL) and, when
 * @p dir is not NULL and the entry is a directory, the directory itself.
 */
static int
resolve(struct btstore *st, const char *text, size_t tlen,
    struct btcore_dir_entry *out, struct btcore_dir **dir)
{
	struct btstore_file_txnio_ t;
	struct btcore_blockio io;
	struct btcore_dir_entry ent;
	struct btcore_dir *d = NULL;
	struct btcore_path *p = NULL;
	struct bt_record rec;
	struct bt_id cur;
	MDB_txn *txn = NULL;
	const char *c;
	size_t i, depth, len;
	int rc;

	memset(out, 0, sizeof(*out));
	if (dir != NULL)
		*dir = NULL;
	if (text == NULL)
		return BT_EINVAL;
	if ((rc = btcore_path_parse(&p, text, tlen)) != BT_OK)
		return rc;
	if ((rc = btstore_rtxn_begin_(st, &txn)) != BT_OK) {
		txn = NULL;
		goto out;
	}
	btstore_file_txnio_init_(&t, st, txn, NULL, &io);
	rc = root_load(st, txn, btcore_path_namespace(p), NULL, &rec, &cur,
	    NULL);
	if (rc != BT_OK)
		goto out;
	memset(&ent, 0, sizeof(ent));
	ent.kind = BTCORE_DIR_DIR;
	ent.root = cur;
	ent.mode = DIR_MODE;
	depth = btcore_path_depth(p);
	for (i = 0; i < depth; i++) {
		c = btcore_path_component(p, i, &len);
		if ((rc = dir_lookup(&io, &cur, c, len, &ent, NULL)) != BT_OK)
			goto out;
		if (i + 1 < depth && ent.kind != BTCORE_DIR_DIR) {
			rc = BTSTORE_ENOTDIR;
			goto out;
		}
		cur = ent.root;
	}
	if (ent.kind == BTCORE_DIR_DIR && dir != NULL) {
		/* the caller's own copy */
		if ((rc = dir_load(&io, &cur, &d)) != BT_OK)
			goto out;
		if (depth == 0)
			ent.size = dir_sum(d);
	} else if (depth == 0 &&
	    (rc = dir_lookup(&io, &cur, NULL, 0, NULL, &ent.size)) != BT_OK) {
		goto out;
	}
	ent.name = NULL;
	ent.name_len = 0;
	*out = ent;
	if (dir != NULL) {
		*dir = d;
		d = NULL;
	}
out:
	if (txn != NULL)
		btstore_rtxn_end_(st, txn);
	btcore_dir_free(d);
	btcore_path_free(p);
	if (rc == BT_ECORRUPT)
		btstore_log_(st, BTSTORE_LOG_ERROR,
		    "corrupt directory or root record on a path lookup");
	return rc;
}

int
btstore_ns_stat(struct btstore *st, const char *path, size_t len,
    struct btcore_dir_entry *out)
{
	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (st == NULL || out == NULL)
		return BT_EINVAL;
	return resolve(st, path, len, out, NULL);
}

int
btstore_ns_list(struct btstore *st, const char *path, size_t len,
    btstore_ns_list_fn fn, void *arg, size_t *count)
{
	struct btcore_dir_entry ent;
	struct btcore_dir *d = NULL;
	size_t i, n, made = 0;
	int rc;

	if (count != NULL)
		*count = 0;
	if (st == NULL || fn == NULL)
		return BT_EINVAL;
	if ((rc = resolve(st, path, len, &ent, &d)) != BT_OK)
		goto out;
	if (ent.kind != BTCORE_DIR_DIR) {
		rc = BTSTORE_ENOTDIR;
		goto out;
	}
	n = btcore_dir_count(d);
	for (i = 0; i < n; i++) {
		if ((rc = btcore_dir_entry_at(d, i, &ent)) != BT_OK)
			goto out;
		made++;
		if (fn(arg, &ent) != 0)
			break;
	}
out:
	if (count != NULL)
		*count = made;
	btcore_dir_free(d);
	return rc;
}

int
btstore_ns_open(struct btstore_file_reader **out, struct btstore *st,
    const char *path, size_t len)
{
	struct btcore_dir_entry ent;
	int rc;

	if (out == NULL)
		return BT_EINVAL;
	*out = NULL;
	if (st == NULL)
		return BT_EINVAL;
	if ((rc = resolve(st, path, len, &ent, NULL)) != BT_OK)
		return rc;
	if (ent.kind != BTCORE_DIR_FILE)
		return BTSTORE_EISDIR;
	return btstore_file_reader_open(out, st, &ent.root);
}
