/*
 * dir.c - directories: a sorted array of entries, canonical BSON encoding.
 */
#include <bt/dir.h>

/* libbson's own headers trip -Wcast-qual (and clang's -Wnewline-eof). */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wcast-qual"
#ifdef __clang__
#pragma clang diagnostic ignored "-Wnewline-eof"
#endif
#include <bson.h>
#pragma GCC diagnostic pop

#include <stdlib.h>
#include <string.h>

struct ent {
	char *name;		/* owned, NUL-terminated */
	size_t name_len;
	enum btcore_dir_kind kind;
	enum btcore_dir_layout layout;
	struct bt_id root;
	uint64_t size;
	uint32_t mode;
	int64_t mtime;
};

struct btcore_dir {
	struct ent *v;
	size_t n, cap;
	size_t bytes;		/* length of the encoding */
};

/* Bytes of the empty document: length and terminator. */
#define DOC_EMPTY	5u

/*
 * Bytes one entry adds to the encoding: the element header (type, key,
 * NUL) and the entry document (see dir.h for the fields).
 */
static size_t
ent_bytes(size_t name_len, enum btcore_dir_kind kind)
{
	size_t doc = DOC_EMPTY;

	doc += 1 + sizeof("kind") + 4 +
	    (kind == BTCORE_DIR_FILE ? sizeof("file") : sizeof("dir"));
	doc += 1 + sizeof("root") + 4 + 1 + BT_ID_LEN;
	doc += 1 + sizeof("size") + 8;
	doc += 1 + sizeof("mode") + 4;
	doc += 1 + sizeof("mtime") + 8;
	if (kind == BTCORE_DIR_FILE)
		doc += 1 + sizeof("layout") + 4;
	return 1 + name_len + 1 + doc;
}

int
btcore_dir_name_valid(const char *name, size_t len)
{
	if (len == 0 || len > BTCORE_DIR_NAME_MAX || name == NULL)
		return 0;
	if (memchr(name, '/', len) != NULL || memchr(name, '\0', len) != NULL)
		return 0;
	if (name[0] == '.' && (len == 1 || (len == 2 && name[1] == '.')))
		return 0;
	return bson_utf8_validate(name, len, false) ? 1 : 0;
}

/* Bytewise order, a prefix before its extensions. */
static int
name_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);

	if (c != 0)
		return c;
	return alen < blen ? -1 : alen > blen ? 1 : 0;
}

/* Index of @p name, or where it would be inserted; *found says which. */
static size_t
find(const struct btcore_dir *d, const char *name, size_t len, int *found)
{
	size_t lo = 0, hi = d->n, mid;
	int c;

	*found = 0;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		c = name_cmp(d->v[mid].name, d->v[mid].name_len, name, len);
		if (c == 0) {
			*found = 1;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int
grow(struct btcore_dir *d, size_t want)
{
	struct ent *v;
	size_t cap;

	if (want <= d->cap)
		return BT_OK;
	cap = d->cap ? d->cap : 8;
	while (cap < want)
		cap *= 2;
	if (cap > BTCORE_DIR_MAX_ENTRIES)
		cap = BTCORE_DIR_MAX_ENTRIES;
	if ((v = realloc(d->v, cap * sizeof(*v))) == NULL)
		return BT_ENOMEM;
	d->v = v;
	d->cap = cap;
	return BT_OK;
}

static void
fill(const struct ent *e, struct btcore_dir_entry *out)
{
	out->name = e->name;
	out->name_len = e->name_len;
	out->kind = e->kind;
	out->root = e->root;
	out->size = e->size;
	out->mode = e->mode;
	out->mtime = e->mtime;
	out->layout = e->layout;
}

int
btcore_dir_new(struct btcore_dir **out)
{
	struct btcore_dir *d;

	if (out == NULL)
		return BT_EINVAL;
	if ((d = calloc(1, sizeof(*d))) == NULL) {
		*out = NULL;
		return BT_ENOMEM;
	}
	d->bytes = DOC_EMPTY;
	*out = d;
	return BT_OK;
}

void
btcore_dir_free(struct btcore_dir *d)
{
	size_t i;

	if (d == NULL)
		return;
	for (i = 0; i < d->n; i++)
		free(d->v[i].name);
	free(d->v);
	free(d);
}

int
btcore_dir_put(struct btcore_dir *d, const struct btcore_dir_entry *e)
{
	struct ent ne;
	size_t i, add, old = 0;
	int found, rc;

	memset(&ne, 0, sizeof(ne));
	if (d == NULL || e == NULL || !btcore_dir_name_valid(e->name,
	    e->name_len))
		return BT_EINVAL;
	if ((e->kind != BTCORE_DIR_FILE && e->kind != BTCORE_DIR_DIR) ||
	    (e->layout != BTCORE_DIR_LAYOUT_SEQUENTIAL &&
	    e->layout != BTCORE_DIR_LAYOUT_RANDOM) ||
	    (e->kind == BTCORE_DIR_DIR &&
	    e->layout != BTCORE_DIR_LAYOUT_SEQUENTIAL) ||
	    e->size > (uint64_t)INT64_MAX || e->mode > BTCORE_DIR_MODE_MAX)
		return BT_EINVAL;
	i = find(d, e->name, e->name_len, &found);
	add = ent_bytes(e->name_len, e->kind);
	if (found)
		old = ent_bytes(d->v[i].name_len, d->v[i].kind);
	else if (d->n >= BTCORE_DIR_MAX_ENTRIES)
		return BT_ETOOBIG;
	if (d->bytes - old + add > BTCORE_DIR_MAX_BYTES)
		return BT_ETOOBIG;
	if (!found && (rc = grow(d, d->n + 1)) != BT_OK)
		return rc;
	if ((ne.name = malloc(e->name_len + 1)) == NULL)
		return BT_ENOMEM;
	memcpy(ne.name, e->name, e->name_len);
	ne.name[e->name_len] = '\0';
	ne.name_len = e->name_len;
	ne.kind = e->kind;
	ne.layout = e->layout;
	ne.root = e->root;
	ne.size = e->size;
	ne.mode = e->mode;
	ne.mtime = e->mtime;
	if (found) {
		free(d->v[i].name);
	} else {
		memmove(&d->v[i + 1], &d->v[i], (d->n - i) * sizeof(*d->v));
		d->n++;
	}
	d->v[i] = ne;
	d->bytes = d->bytes - old + add;
	return BT_OK;
}

int
btcore_dir_remove(struct btcore_dir *d, const char *name, size_t len)
{
	size_t i;
	int found;

	if (d == NULL || (name == NULL && len != 0))
		return BT_EINVAL;
	i = find(d, name ? name : "", len, &found);
	if (!found)
		return BT_ENOTFOUND;
	d->bytes -= ent_bytes(d->v[i].name_len, d->v[i].kind);
	free(d->v[i].name);
	memmove(&d->v[i], &d->v[i + 1], (d->n - i - 1) * sizeof(*d->v));
	d->n--;
	return BT_OK;
}

int
btcore_dir_get(const struct btcore_dir *d, const char *name, size_t len,
    struct btcore_dir_entry *out)
{
	size_t i;
	int found;

	if (out == NULL)
		return BT_EINVAL;
	memset(out, 0, sizeof(*out));
	if (d == NULL || (name == NULL && len != 0))
		return BT_EINVAL;
	i = find(d, name ? name : "", len, &found);
	if (!found)
		return BT_ENOTFOUND;
	fill(&d->v[i], out);
	return BT_OK;
}

size_t
btcore_dir_count(const struct btcore_dir *d)
{
	return d == NULL ? 0 : d->n;
}

int
btcore_dir_entry_at(const struct btcore_dir *d, size_t i,
    struct btcore_dir_entry *out)
{
	if (out == NULL)
		return BT_EINVAL;
	memset(out, 0, sizeof(*out));
	if (d == NULL)
		return BT_EINVAL;
	if (i >= d->n)
		return BT_ERANGE;
	fill(&d->v[i], out);
	return BT_OK;
}

int
btcore_dir_encode(const struct btcore_dir *d, uint8_t **out, size_t *out_len)
{
	bson_t *doc = NULL, child;
	const struct ent *e;
	uint32_t len = 0;
	size_t i;
	int rc = BT_ENOMEM;

	if (out != NULL)
		*out = NULL;
	if (out_len != NULL)
		*out_len = 0;
	if (d == NULL || out == NULL || out_len == NULL)
		return BT_EINVAL;
	if ((doc = bson_sized_new(d->bytes)) == NULL)
		goto out;
	for (i = 0; i < d->n; i++) {
		e = &d->v[i];
		if (!bson_append_document_begin(doc, e->name,
		    (int)e->name_len, &child))
			goto out;
		if (!bson_append_utf8(&child, "kind", 4,
		    e->kind == BTCORE_DIR_FILE ? "file" : "dir", -1) ||
		    !bson_append_binary(&child, "root", 4, BSON_SUBTYPE_BINARY,
		    e->root.b, BT_ID_LEN) ||
		    !bson_append_int64(&child, "size", 4, (int64_t)e->size) ||
		    !bson_append_int32(&child, "mode", 4, (int32_t)e->mode) ||
		    !bson_append_int64(&child, "mtime", 5, e->mtime) ||
		    (e->kind == BTCORE_DIR_FILE &&
		    !bson_append_int32(&child, "layout", 6,
		    (int32_t)e->layout))) {
			bson_append_document_end(doc, &child);
			goto out;
		}
		if (!bson_append_document_end(doc, &child))
			goto out;
	}
	*out = bson_destroy_with_steal(doc, true, &len);
	doc = NULL;
	if (*out == NULL)
		goto out;
	*out_len = len;
	rc = BT_OK;
out:
	if (doc != NULL)
		bson_destroy(doc);
	return rc;
}

void
btcore_dir_bytes_free(uint8_t *buf)
{
	bson_free(buf);
}

/* Advance to the next element, which must be @p key of @p type. */
static int
next_is(bson_iter_t *it, const char *key, bson_type_t type)
{
	return bson_iter_next(it) && bson_iter_type(it) == type &&
	    strcmp(bson_iter_key(it), key) == 0;
}

/* Parse one entry document into @p e (name not set). */
static int
parse_entry(const bson_iter_t *outer, struct ent *e)
{
	bson_iter_t it;
	const char *s;
	const uint8_t *bin;
	uint32_t n;
	bson_subtype_t sub;
	int64_t v64;
	int32_t v32;
	const uint8_t *raw = NULL;
	uint32_t rawlen = 0;

	/* libbson does not look at an embedded document's final byte */
	bson_iter_document(outer, &rawlen, &raw);
	if (raw == NULL || rawlen < 5 || raw[rawlen - 1] != 0 ||
	    !bson_iter_recurse(outer, &it))
		return BT_EFORMAT;
	if (!next_is(&it, "kind", BSON_TYPE_UTF8))
		return BT_EFORMAT;
	s = bson_iter_utf8(&it, &n);
	if (n == 4 && memcmp(s, "file", 4) == 0)
		e->kind = BTCORE_DIR_FILE;
	else if (n == 3 && memcmp(s, "dir", 3) == 0)
		e->kind = BTCORE_DIR_DIR;
	else
		return BT_EFORMAT;
	if (!next_is(&it, "root", BSON_TYPE_BINARY))
		return BT_EFORMAT;
	bson_iter_binary(&it, &sub, &n, &bin);
	if (sub != BSON_SUBTYPE_BINARY || n != BT_ID_LEN || bin == NULL)
		return BT_EFORMAT;
	memcpy(e->root.b, bin, BT_ID_LEN);
	if (!next_is(&it, "size", BSON_TYPE_INT64) ||
	    (v64 = bson_iter_int64(&it)) < 0)
		return BT_EFORMAT;
	e->size = (uint64_t)v64;
	if (!next_is(&it, "mode", BSON_TYPE_INT32) ||
	    (v32 = bson_iter_int32(&it)) < 0 || v32 > BTCORE_DIR_MODE_MAX)
		return BT_EFORMAT;
	e->mode = (uint32_t)v32;
	if (!next_is(&it, "mtime", BSON_TYPE_INT64))
		return BT_EFORMAT;
	e->mtime = bson_iter_int64(&it);
	e->layout = BTCORE_DIR_LAYOUT_SEQUENTIAL;
	if (e->kind == BTCORE_DIR_FILE) {
		if (!next_is(&it, "layout", BSON_TYPE_INT32))
			return BT_EFORMAT;
		v32 = bson_iter_int32(&it);
		if (v32 != BTCORE_DIR_LAYOUT_SEQUENTIAL &&
		    v32 != BTCORE_DIR_LAYOUT_RANDOM)
			return BT_EFORMAT;
		e->layout = (enum btcore_dir_layout)v32;
	}
	if (bson_iter_next(&it))
		return BT_EFORMAT;
	return BT_OK;
}

int
btcore_dir_decode(struct btcore_dir **out, const uint8_t *buf, size_t len)
{
	struct btcore_dir *d = NULL;
	struct ent e, *prev;
	bson_iter_t it;
	bson_t doc;
	const char *key;
	uint32_t klen;
	int rc;

	if (out == NULL)
		return BT_EINVAL;
	*out = NULL;
	if (buf == NULL)
		return BT_EINVAL;
	if (len > BTCORE_DIR_MAX_BYTES)
		return BT_ETOOBIG;
	if (len < DOC_EMPTY ||
	    (size_t)(buf[0] | (buf[1] << 8) | (buf[2] << 16) |
	    ((uint32_t)buf[3] << 24)) > len)
		return BT_ETRUNC;
	/* libbson does not look at the document's final byte */
	if (buf[len - 1] != 0 || !bson_init_static(&doc, buf, len) ||
	    !bson_validate(&doc, BSON_VALIDATE_NONE, NULL) ||
	    !bson_iter_init(&it, &doc))
		return BT_EFORMAT;
	if ((rc = btcore_dir_new(&d)) != BT_OK)
		return rc;
	while (bson_iter_next(&it)) {
		if (d->n >= BTCORE_DIR_MAX_ENTRIES) {
			rc = BT_ETOOBIG;
			goto out;
		}
		memset(&e, 0, sizeof(e));
		key = bson_iter_key(&it);
		klen = bson_iter_key_len(&it);
		if (bson_iter_type(&it) != BSON_TYPE_DOCUMENT ||
		    !btcore_dir_name_valid(key, klen)) {
			rc = BT_EFORMAT;
			goto out;
		}
		prev = d->n ? &d->v[d->n - 1] : NULL;
		if (prev != NULL && name_cmp(prev->name, prev->name_len, key,
		    klen) >= 0) {
			rc = BT_EFORMAT;
			goto out;
		}
		if ((rc = parse_entry(&it, &e)) != BT_OK)
			goto out;
		if ((rc = grow(d, d->n + 1)) != BT_OK)
			goto out;
		if ((e.name = malloc((size_t)klen + 1)) == NULL) {
			rc = BT_ENOMEM;
			goto out;
		}
		memcpy(e.name, key, (size_t)klen + 1);
		e.name_len = klen;
		d->v[d->n++] = e;
		d->bytes += ent_bytes(e.name_len, e.kind);
	}
	/* canonical encodings only: the sizes must agree exactly */
	if (d->bytes != len) {
		rc = BT_EFORMAT;
		goto out;
	}
	*out = d;
	d = NULL;
	rc = BT_OK;
out:
	btcore_dir_free(d);
	return rc;
}
