/*
 * bt/dir.h - directories: sorted tables of named entries, encoded as BSON.
 *
 * A directory maps names to entries.  Each entry names a file or a
 * subdirectory by the root id of its tree (or of the child directory's
 * encoding), with its size, permission bits, modification time and, for
 * files, the layout the file's tree was built in.  The encoding is
 * canonical: the same entries always give the same bytes, hence the same
 * content id.
 *
 * Encoding (BSON, all integers little-endian as BSON prescribes):
 *
 *   directory := document { <name>: entry, ... }
 *
 *	one element per entry, of type 0x03 (embedded document), whose key
 *	is the entry's name; keys strictly increasing in bytewise order
 *	(memcmp, a shorter name before its extensions), so no duplicates.
 *	An empty directory is the empty document (5 bytes).
 *
 *   entry := document, exactly these elements in exactly this order:
 *	"kind"    0x02 string   "file" or "dir"
 *	"root"    0x05 binary   subtype 0x00, exactly 32 bytes
 *	"size"    0x12 int64    0 ... INT64_MAX (bytes of a file; for a
 *				directory whatever its writer records,
 *				conventionally the sum of its children)
 *	"mode"    0x10 int32    0 ... 07777 (permission, setuid, setgid
 *				and sticky bits)
 *	"mtime"   0x12 int64    nanoseconds since 1970-01-01T00:00:00Z,
 *				any value (negative is before the epoch)
 *	"layout"  0x10 int32    0 sequential, 1 random access; present
 *				for files only, absent for directories
 *
 *   name: 1 ... 255 bytes of valid UTF-8 (as bson_utf8_validate judges
 *	it), without NUL or '/', and neither "." nor "..".
 *
 * Limits: at most BTCORE_DIR_MAX_ENTRIES entries and BTCORE_DIR_MAX_BYTES
 * bytes of encoding.  The decoder accepts exactly the encodings the
 * encoder produces: anything else (unknown, missing, reordered or
 * duplicated fields, other BSON types or binary subtypes, out-of-range
 * values, bad or unsorted names, trailing bytes) is refused, so that
 * decode followed by encode gives back the input byte for byte.
 *
 * A struct btcore_dir is not thread safe; distinct directories may be used
 * from distinct threads.
 */
#ifndef BT_DIR_H
#define BT_DIR_H

#include <bt/common.h>
#include <bt/id.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Longest entry name in bytes. */
#define BTCORE_DIR_NAME_MAX	255
/** Most entries in one directory. */
#define BTCORE_DIR_MAX_ENTRIES	65536
/** Largest encoded directory in bytes (16 MiB). */
#define BTCORE_DIR_MAX_BYTES	(16 * 1024 * 1024)
/** Largest permission value. */
#define BTCORE_DIR_MODE_MAX	07777

/** What an entry names. */
enum btcore_dir_kind {
	BTCORE_DIR_FILE = 0,		/* a file tree; "file" */
	BTCORE_DIR_DIR = 1		/* a directory; "dir" */
};

/** The layout of a file's block tree. */
enum btcore_dir_layout {
	BTCORE_DIR_LAYOUT_SEQUENTIAL = 0,	/* laid out for streaming */
	BTCORE_DIR_LAYOUT_RANDOM = 1		/* O(log n) seek */
};

/**
 * One directory entry, as passed to btcore_dir_put() and filled in by
 * btcore_dir_get() and btcore_dir_entry_at().
 */
struct btcore_dir_entry {
	/*
	 * The name, name_len bytes.  For btcore_dir_put() borrowed (it is
	 * copied and need not be NUL-terminated); when filled in by the
	 * directory, NUL-terminated and valid until the directory is next
	 * changed or freed.
	 */
	const char *name;
	size_t name_len;
	enum btcore_dir_kind kind;
	struct bt_id root;		/* root id of the tree or directory */
	uint64_t size;			/* at most INT64_MAX */
	uint32_t mode;			/* at most BTCORE_DIR_MODE_MAX */
	int64_t mtime;			/* ns since the Unix epoch, UTC */
	enum btcore_dir_layout layout;	/* files; directories must say 0 */
};

/** A directory.  Opaque. */
struct btcore_dir;

/**
 * Whether @p len bytes at @p name make a valid entry name (see above).
 * Also the rule for path components (bt/path.h).
 *
 * @param name	in, borrowed; may be NULL only when @p len is 0.
 * @return	1 when valid, else 0.  Thread safe.
 * @since 0.1
 */
BT_EXPORT int btcore_dir_name_valid(const char *name, size_t len);

/**
 * Create an empty directory.
 *
 * @param out	out: caller owns; release with btcore_dir_free().  NULL
 *		on failure.
 * @return	BT_OK, BT_EINVAL (@p out NULL) or BT_ENOMEM.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btcore_dir_new(struct btcore_dir **out);

/**
 * Release @p dir and every name it holds.  NULL is a no-op.
 * @since 0.1
 */
BT_EXPORT void btcore_dir_free(struct btcore_dir *dir);

/**
 * Insert @p entry, or replace the entry of the same name.
 *
 * @param dir	in/out.
 * @param entry	in, borrowed; its name is copied.
 * @return	BT_OK; BT_EINVAL for a NULL argument, an invalid name, an
 *		unknown kind or layout, a directory whose layout is not 0, a
 *		size above INT64_MAX or a mode above 07777; BT_ETOOBIG when
 *		the directory would exceed BTCORE_DIR_MAX_ENTRIES entries or
 *		BTCORE_DIR_MAX_BYTES bytes of encoding; BT_ENOMEM.  On
 *		failure @p dir is unchanged.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btcore_dir_put(struct btcore_dir *dir,
    const struct btcore_dir_entry *entry);

/**
 * Remove the entry named by @p len bytes at @p name.
 *
 * @return	BT_OK, BT_EINVAL (NULL argument) or BT_ENOTFOUND.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btcore_dir_remove(struct btcore_dir *dir,
    const char *name, size_t len);

/**
 * Look up an entry by name (binary search, O(log n)).
 *
 * @param out	out: the entry; its name is valid until @p dir is next
 *		changed or freed.  Zeroed when not found.
 * @return	BT_OK, BT_EINVAL (NULL argument) or BT_ENOTFOUND.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btcore_dir_get(const struct btcore_dir *dir,
    const char *name, size_t len, struct btcore_dir_entry *out);

/**
 * Number of entries; 0 for NULL.
 * @since 0.1
 */
BT_EXPORT size_t btcore_dir_count(const struct btcore_dir *dir);

/**
 * The @p i-th entry in name order, 0 <= i < btcore_dir_count().
 *
 * @param out	out: as for btcore_dir_get().
 * @return	BT_OK, BT_EINVAL (NULL argument) or BT_ERANGE.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btcore_dir_entry_at(const struct btcore_dir *dir,
    size_t i, struct btcore_dir_entry *out);

/**
 * Encode @p dir canonically.
 *
 * @param out	out: caller owns; release with btcore_dir_bytes_free().
 *		NULL on failure.
 * @param out_len out: its length.
 * @return	BT_OK, BT_EINVAL or BT_ENOMEM.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btcore_dir_encode(const struct btcore_dir *dir,
    uint8_t **out, size_t *out_len);

/**
 * Release bytes from btcore_dir_encode().  NULL is a no-op.
 * @since 0.1
 */
BT_EXPORT void btcore_dir_bytes_free(uint8_t *buf);

/**
 * Decode and validate an encoded directory.
 *
 * @param out	out: caller owns; release with btcore_dir_free().  NULL
 *		on failure.
 * @param buf	in, borrowed: @p len bytes; not referenced afterwards.
 * @return	BT_OK; BT_EINVAL for a NULL argument; BT_ETOOBIG when @p len
 *		exceeds BTCORE_DIR_MAX_BYTES or there are more than
 *		BTCORE_DIR_MAX_ENTRIES entries; BT_ETRUNC when the input is
 *		shorter than its BSON length says; BT_EFORMAT for anything
 *		else that is not exactly a canonical encoding; BT_ENOMEM.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btcore_dir_decode(struct btcore_dir **out,
    const uint8_t *buf, size_t len);

#ifdef __cplusplus
}
#endif
#endif /* BT_DIR_H */
