/*
 * bt/path.h - BlockTree paths: /<namespace>/a/b/c
 *
 * A path starts with '/' and the namespace: the 64 hex digits of an
 * Ed25519 public key (either case when parsing; lower case when
 * formatted).  Then come zero or more components, each a valid directory
 * entry name (btcore_dir_name_valid(): 1..255 bytes of UTF-8 without NUL
 * or '/', and not "." or "..").
 *
 * Parsing normalises:
 *   - runs of '/' count as one, and a trailing '/' is allowed;
 *   - a "." component is dropped;
 *   - a ".." component removes the component before it.  ".." never
 *     leaves the namespace: at the namespace root it is an error
 *     (BT_EPERM), never silently ignored;
 *   - the result is formatted as "/<64 lower-case hex>" followed by
 *     "/<component>" for each component, without a trailing '/'.
 *
 * Limits: the text given to btcore_path_parse() and every formatted path
 * is at most BTCORE_PATH_MAX bytes; a component at most
 * BTCORE_DIR_NAME_MAX bytes; at no point during normalisation are there
 * more than BTCORE_PATH_DEPTH_MAX components.
 *
 * A struct btcore_path is immutable once made: any number of threads may
 * read one at the same time.
 */
#ifndef BT_PATH_H
#define BT_PATH_H

#include <bt/common.h>
#include <bt/key.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Longest path text in bytes (without a terminating NUL). */
#define BTCORE_PATH_MAX		4096
/** Most components below the namespace. */
#define BTCORE_PATH_DEPTH_MAX	64

/** A normalised path.  Opaque and immutable. */
struct btcore_path;

/**
 * Parse and normalise @p len bytes at @p text (which need not be
 * NUL-terminated; an embedded NUL is refused).
 *
 * @param out	out: caller owns; release with btcore_path_free().  NULL
 *		on failure.
 * @param text	in, borrowed.
 * @return	BT_OK;
 *		BT_EINVAL: @p out NULL, or @p text NULL with @p len > 0;
 *		BT_ERANGE: @p len above BTCORE_PATH_MAX, a component longer
 *		than 255 bytes, or more than BTCORE_PATH_DEPTH_MAX
 *		components;
 *		BT_EFORMAT: empty, not starting with '/', a namespace that
 *		is not 64 hex digits, or an invalid component (NUL byte,
 *		invalid UTF-8);
 *		BT_EPERM: ".." at the namespace root;
 *		BT_ENOMEM.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btcore_path_parse(struct btcore_path **out,
    const char *text, size_t len);

/**
 * The root path of namespace @p ns, "/<hex of ns>".
 *
 * @param out	out: caller owns; release with btcore_path_free().
 * @param ns	in, borrowed.
 * @return	BT_OK, BT_EINVAL or BT_ENOMEM.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btcore_path_root(struct btcore_path **out,
    const struct bt_pubkey *ns);

/**
 * Release @p path.  NULL is a no-op.
 * @since 0.1
 */
BT_EXPORT void btcore_path_free(struct btcore_path *path);

/**
 * The namespace public key.  Borrowed, valid until @p path is freed.
 * @since 0.1
 */
BT_EXPORT const struct bt_pubkey *btcore_path_namespace(
    const struct btcore_path *path);

/**
 * Number of components below the namespace (0 for the namespace root).
 * @since 0.1
 */
BT_EXPORT size_t btcore_path_depth(const struct btcore_path *path);

/**
 * Component @p i (0 is the one nearest the namespace).
 *
 * @param len	out, may be NULL: its length in bytes.
 * @return	the NUL-terminated component, borrowed and valid until
 *		@p path is freed; NULL (and *len 0) when @p i is not below
 *		btcore_path_depth().
 * @since 0.1
 */
BT_EXPORT const char *btcore_path_component(const struct btcore_path *path,
    size_t i, size_t *len);

/**
 * The normalised text, e.g. "/0123...cdef/a/b".
 *
 * @param len	out, may be NULL: its length in bytes.
 * @return	NUL-terminated, borrowed, valid until @p path is freed.
 * @since 0.1
 */
BT_EXPORT const char *btcore_path_format(const struct btcore_path *path,
    size_t *len);

/**
 * The parent of @p path.
 *
 * @param out	out: caller owns; release with btcore_path_free().
 * @return	BT_OK, BT_EINVAL, BT_EPERM when @p path is a namespace root,
 *		or BT_ENOMEM.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btcore_path_parent(struct btcore_path **out,
    const struct btcore_path *path);

/**
 * Resolve the relative path @p rel (@p len bytes, not starting with '/')
 * against @p base, with the normalisation rules above: "." is dropped
 * and ".." removes one component, never going above the namespace root.
 * An empty @p rel gives a copy of @p base.
 *
 * @param out	out: caller owns; release with btcore_path_free().
 * @return	BT_OK; BT_EINVAL (NULL argument); BT_EFORMAT (@p rel starts
 *		with '/' or has an invalid component); BT_ERANGE (a limit is
 *		exceeded, including the length of the result); BT_EPERM
 *		(".." above the namespace root); BT_ENOMEM.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btcore_path_join(struct btcore_path **out,
    const struct btcore_path *base, const char *rel, size_t len);

/**
 * 1 when @p a is a proper ancestor of @p b (same namespace, fewer
 * components, and each of them equal to b's), else 0.  A path is not its
 * own ancestor; use btcore_path_cmp() for equality.
 * @since 0.1
 */
BT_EXPORT int btcore_path_is_ancestor(const struct btcore_path *a,
    const struct btcore_path *b);

/**
 * Total order: by namespace bytes, then component by component in
 * bytewise order, a path before its descendants.  <0, 0 or >0.
 * @since 0.1
 */
BT_EXPORT int btcore_path_cmp(const struct btcore_path *a,
    const struct btcore_path *b);

#ifdef __cplusplus
}
#endif
#endif /* BT_PATH_H */
