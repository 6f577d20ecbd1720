/*
 * bt/manifest.h - signed program manifests.
 *
 * A program manifest names a program and says what a node may let it do:
 * the message scopes it serves, the HTTP routes it answers and the paths
 * it may read or write.  It is a BSON document signed with Ed25519 by the
 * program's owner, whose public key it carries:
 *
 *	{ "name":    string,
 *	  "version": string,
 *	  "owner":   binary (subtype 0), 32 bytes,
 *	  "scopes":  [ string, ... ],
 *	  "routes":  [ { "host": string, "path": string }, ... ],
 *	  "grants":  [ { "path": string, "access": "r" or "rw" }, ... ],
 *	  "sig":     binary (subtype 0), 64 bytes }
 *
 * The fields appear in exactly this order, arrays are keyed "0", "1", ...
 * and nothing else may appear, so each manifest has one encoding.  The
 * signature covers the prefix "blocktree-manifest-v1" with its NUL
 * followed by the same document without its "sig" element.
 *
 * What each string may hold:
 *   name	1 .. 64 bytes of a-z 0-9 . _ -, starting with a-z or 0-9.
 *   version	1 .. 32 printable ASCII bytes, no space.
 *   scope	a scope name as bt/scope.h defines it: 1 .. 64 bytes of
 *		A-Z a-z 0-9 . _ - : /.
 *   host	a lower-case DNS name, 1 .. 253 bytes: labels of 1 .. 63 bytes
 *		of a-z 0-9 -, not starting or ending with -, joined by dots.
 *   route path	"/" or "/" followed by components joined by "/"; each
 *		component non-empty, not "." or "..", of A-Z a-z 0-9 and
 *		- . _ ~ ! $ & ' ( ) * + , ; = : @ %.  At most 1024 bytes.
 *   grant path	"/" followed by one or more components joined by "/" (the
 *		first is the namespace); each non-empty, not "." or "..", of
 *		printable ASCII other than space, "/" and "\".  At most 1024
 *		bytes.
 * At most 64 scopes, 64 routes and 64 grants; no duplicates; the whole
 * encoding at most BTCORE_MANIFEST_MAX bytes.
 *
 * Prefixes match whole path components: a grant for /ns/app covers
 * /ns/app and /ns/app/x but not /ns/apple.
 *
 * A manifest object is not locked: build or change it from one thread;
 * once built, any number of threads may read it (accessors and policy
 * checks) at the same time.
 */
#ifndef BT_MANIFEST_H
#define BT_MANIFEST_H

#include <bt/common.h>
#include <bt/key.h>
#include <bt/scope.h>

#ifdef __cplusplus
extern "C" {
#endif

#define BTCORE_MANIFEST_MAX		65536	/* bytes of an encoding */
#define BTCORE_MANIFEST_NAME_MAX	64
#define BTCORE_MANIFEST_VERSION_MAX	32
#define BTCORE_MANIFEST_SCOPE_MAX	BTCORE_SCOPE_MAX
#define BTCORE_MANIFEST_HOST_MAX	253
#define BTCORE_MANIFEST_PATH_MAX	1024
#define BTCORE_MANIFEST_SCOPES_MAX	64
#define BTCORE_MANIFEST_ROUTES_MAX	64
#define BTCORE_MANIFEST_GRANTS_MAX	64

/* The access of a path grant. */
#define BTCORE_MANIFEST_READ		0	/* "r" */
#define BTCORE_MANIFEST_READ_WRITE	1	/* "rw" */

/** A program manifest.  Opaque. */
struct btcore_manifest;

/**
 * Start an empty manifest to fill in and sign.
 * @param out	out: caller owns; release with btcore_manifest_free().
 *		NULL on failure.
 * @return BT_OK, BT_EINVAL or BT_ENOMEM.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btcore_manifest_new(struct btcore_manifest **out);

/** Release @p m; NULL is a no-op.  @since 0.1 */
BT_EXPORT void btcore_manifest_free(struct btcore_manifest *m);

/**
 * Set the name or the version, replacing an earlier value.  Any change
 * to a manifest drops its owner and signature until it is signed again.
 *
 * @param m	the manifest.
 * @param s	in, borrowed: a NUL-terminated string (copied).
 * @return BT_OK; BT_EINVAL for NULL or a string that breaks the rules
 *	   above; BT_ETOOBIG when the encoding would exceed
 *	   BTCORE_MANIFEST_MAX; BT_ENOMEM.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btcore_manifest_set_name(struct btcore_manifest *m,
    const char *s);
BT_EXPORT BT_WUR int btcore_manifest_set_version(struct btcore_manifest *m,
    const char *s);

/**
 * Add a message scope, an HTTP route (a host and a path prefix) or a path
 * grant (a path prefix and BTCORE_MANIFEST_READ or
 * BTCORE_MANIFEST_READ_WRITE).  Strings are borrowed and copied.
 *
 * @return BT_OK; BT_EINVAL for NULL, a string that breaks the rules
 *	   above or another access value; BT_EEXIST for a scope or route
 *	   already present or a path already granted; BT_ERANGE when the
 *	   list is full; BT_ETOOBIG when the encoding would exceed
 *	   BTCORE_MANIFEST_MAX; BT_ENOMEM.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btcore_manifest_add_scope(struct btcore_manifest *m,
    const char *scope);
BT_EXPORT BT_WUR int btcore_manifest_add_route(struct btcore_manifest *m,
    const char *host, const char *path);
BT_EXPORT BT_WUR int btcore_manifest_add_grant(struct btcore_manifest *m,
    const char *path, int access);

/**
 * Sign @p m with @p signer, which becomes its owner, and encode it.  The
 * signature is checked against the signer's public key before it is
 * used.
 *
 * @param m	the manifest; its owner and signature are set on success.
 * @param signer in, borrowed.
 * @param out	out: the encoding; caller owns; release with
 *		btcore_manifest_bytes_free().  NULL on failure.
 * @param out_len out: its length; 0 on failure.
 * @return BT_OK; BT_EINVAL for a NULL argument; BT_ESTATE when the name
 *	   or the version is not set; BT_EVERIFY when the signer's signature
 *	   does not verify under its public key; the signer's error;
 *	   BT_ENOMEM.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btcore_manifest_sign(struct btcore_manifest *m,
    const struct btcore_signer *signer, uint8_t **out, size_t *out_len);

/** Release an encoding from btcore_manifest_sign(); NULL is a no-op. */
BT_EXPORT void btcore_manifest_bytes_free(uint8_t *buf);

/**
 * Decode and verify a manifest: the exact layout above, every string,
 * count and size, and the signature under the owner key it carries.
 * Pure over its input; safe on hostile bytes.
 *
 * @param out	out: caller owns; release with btcore_manifest_free().
 *		NULL on failure.
 * @param data	in, borrowed: @p len bytes.
 * @return BT_OK; BT_EINVAL for a NULL argument; BT_ETOOBIG when @p len
 *	   exceeds BTCORE_MANIFEST_MAX; BT_ETRUNC when the input is shorter
 *	   than its BSON length says; BT_EFORMAT for anything malformed,
 *	   out of layout, invalid or duplicated; BT_ERANGE for too many
 *	   scopes, routes or grants; BT_EVERIFY when the signature does not
 *	   verify; BT_ENOMEM.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btcore_manifest_decode(struct btcore_manifest **out,
    const void *data, size_t len);

/**
 * Accessors.  Strings are valid until @p m is changed or freed; NULL for
 * a name or version not set.  btcore_manifest_owner() is NULL until the
 * manifest has been signed or decoded.  btcore_manifest_scope() is NULL
 * for an index out of range; btcore_manifest_route() and
 * btcore_manifest_grant() return BT_OK, BT_EINVAL for NULL arguments or
 * BT_ERANGE for an index out of range (with the outputs set to NULL and
 * 0).
 * @since 0.1
 */
BT_EXPORT const char *btcore_manifest_name(const struct btcore_manifest *m);
BT_EXPORT const char *btcore_manifest_version(const struct btcore_manifest *m);
BT_EXPORT const struct bt_pubkey *btcore_manifest_owner(
    const struct btcore_manifest *m);
BT_EXPORT size_t btcore_manifest_scope_count(const struct btcore_manifest *m);
BT_EXPORT const char *btcore_manifest_scope(const struct btcore_manifest *m,
    size_t i);
BT_EXPORT size_t btcore_manifest_route_count(const struct btcore_manifest *m);
BT_EXPORT BT_WUR int btcore_manifest_route(const struct btcore_manifest *m,
    size_t i, const char **host, const char **path);
BT_EXPORT size_t btcore_manifest_grant_count(const struct btcore_manifest *m);
BT_EXPORT BT_WUR int btcore_manifest_grant(const struct btcore_manifest *m,
    size_t i, const char **path, int *access);

/**
 * Policy checks; each returns 1 when allowed and 0 otherwise (also for
 * NULL arguments or a string that breaks the rules above).
 *
 * btcore_manifest_allows_scope: @p scope is one of the scopes, exactly.
 * btcore_manifest_allows_route: @p host (compared without regard to
 * ASCII case; no port) names a route whose path prefix covers @p path (a
 * request path without query; "." and ".." components or empty
 * components are never allowed).  btcore_manifest_allows_path: a grant
 * covers @p path and, when @p want_write is nonzero, grants "rw".
 * @since 0.1
 */
BT_EXPORT int btcore_manifest_allows_scope(const struct btcore_manifest *m,
    const char *scope);
BT_EXPORT int btcore_manifest_allows_route(const struct btcore_manifest *m,
    const char *host, const char *path);
BT_EXPORT int btcore_manifest_allows_path(const struct btcore_manifest *m,
    const char *path, int want_write);

#ifdef __cplusplus
}
#endif
#endif /* BT_MANIFEST_H */
