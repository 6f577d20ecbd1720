/*
 * recstore-internal.h - stored layout of mutable records (recstore.c);
 * shared inside libbtstore only, never installed.
 */
#ifndef BTSTORE_RECSTORE_INTERNAL_H
#define BTSTORE_RECSTORE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <bt/record.h>

/* Smallest record encoding: empty value, one-byte key. */
#define BTSTORE_RECENC_MIN_	(1 + 32 + 8 + 1 + 1 + 2 + 64)

/*
 * Stored record: u8 version, checksum (32), be64 time stamp, record
 * encoding.  The checksum is the SHA-256 of everything after it: puts
 * compare against the stored record without re-checking its signature,
 * so damage must be caught more cheaply (gets check the signature too).
 */
#define BTSTORE_RECSTORE_HDR_	41

int btstore_recstore_decode_(const void *buf, size_t len, uint64_t *stamp,
    const uint8_t **enc, size_t *enclen);
/* Fill @p out (BTSTORE_RECSTORE_HDR_ + enclen bytes). */
int btstore_recstore_encode_(uint8_t *out, uint64_t stamp,
    const uint8_t *enc, size_t enclen);

/*
 * Parse a record encoding (libbtcore's layout) without checking its
 * signature; out->value points into @p enc.  BT_ECORRUPT for anything
 * malformed.
 */
int btstore_recstore_parse_(const uint8_t *enc, size_t len,
    struct bt_record *out);

#endif /* BTSTORE_RECSTORE_INTERNAL_H */
