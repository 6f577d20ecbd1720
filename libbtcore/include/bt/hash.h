/*
 * bt/hash.h - incremental SHA-256 (OpenSSL EVP underneath).
 */
#ifndef BT_HASH_H
#define BT_HASH_H

#include <bt/common.h>
#include <bt/id.h>

#ifdef __cplusplus
extern "C" {
#endif

/** An incremental SHA-256 computation.  Opaque. */
struct btcore_sha256;

/**
 * Start a SHA-256.
 * @param out	out: caller owns; release with btcore_sha256_free().
 *		NULL on failure.
 * @return BT_OK, BT_EINVAL, BT_ENOMEM or BT_ECRYPTO.
 */
BT_EXPORT BT_WUR int btcore_sha256_new(struct btcore_sha256 **out);

/** Feed @p len bytes.  @return BT_OK, BT_EINVAL or BT_ECRYPTO. */
BT_EXPORT BT_WUR int btcore_sha256_update(struct btcore_sha256 *h,
    const void *data, size_t len);

/**
 * Finish into @p out and reset @p h for reuse.
 * @return BT_OK, BT_EINVAL or BT_ECRYPTO.
 */
BT_EXPORT BT_WUR int btcore_sha256_final(struct btcore_sha256 *h,
    struct bt_id *out);

/** Release @p h; NULL is a no-op. */
BT_EXPORT void btcore_sha256_free(struct btcore_sha256 *h);

/**
 * Fill @p len bytes at @p buf from the operating system's CSPRNG.
 * @return BT_OK, BT_EINVAL or BT_ECRYPTO.
 */
BT_EXPORT BT_WUR int btcore_random_bytes(void *buf, size_t len);

/**
 * Compare @p len bytes in time independent of their contents.
 * @return 1 when equal, else 0.
 */
BT_EXPORT int btcore_ct_equal(const void *a, const void *b, size_t len);

/** Zero @p len bytes in a way the compiler will not remove. */
BT_EXPORT void btcore_wipe(void *buf, size_t len);

#ifdef __cplusplus
}
#endif
#endif /* BT_HASH_H */
