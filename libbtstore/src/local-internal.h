/*
 * local-internal.h - stored layout of the local area's entries
 * (local.c); shared inside libbtstore only, never installed.
 */
#ifndef BTSTORE_LOCAL_INTERNAL_H
#define BTSTORE_LOCAL_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

/*
 * Stored entry: u8 version, checksum (32), u8 key length, key, value.
 * The checksum is the SHA-256 of everything after it, so a flipped byte
 * of the value, or an entry found under another key, is caught on every
 * read.
 */
#define BTSTORE_LOCALREC_HDR_	34

/* The stored size of an entry with a @p klen-byte key and a @p vlen-byte
 * value. */
size_t btstore_localrec_size_(size_t klen, size_t vlen);

/* Fill @p out (btstore_localrec_size_() bytes); @p key is 1..255 bytes.
 * BT_OK or BT_ECRYPTO. */
int btstore_localrec_encode_(uint8_t *out, const void *key, size_t klen,
    const void *value, size_t vlen);

/*
 * Check a stored entry: its version, lengths and checksum, and, when
 * @p want is not NULL, that its key is the @p wlen bytes at @p want.
 * *key and *value point into @p buf (*value is NULL for an empty value).
 * BT_OK, BT_ECORRUPT or BT_ECRYPTO; the outputs are zeroed on failure.
 */
int btstore_localrec_decode_(const void *buf, size_t len, const void *want,
    size_t wlen, const uint8_t **key, size_t *klen, const uint8_t **value,
    size_t *vlen);

#endif /* BTSTORE_LOCAL_INTERNAL_H */
