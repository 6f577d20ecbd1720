/*
 * btcore-internal.h - shared inside libbtcore only; never installed.
 */
#ifndef BTCORE_INTERNAL_H
#define BTCORE_INTERNAL_H

#include <stdint.h>
#include <string.h>

struct evp_md_st;
struct evp_cipher_st;

/* The SHA-256 digest, fetched once per process.  NULL if OpenSSL fails. */
const struct evp_md_st *btcore_md_sha256_(void);

/* libsodium initialised once per process: BT_OK or BT_ECRYPTO. */
int btcore_sodium_ready_(void);

/* Big-endian integer helpers for binary encodings. */
static inline void
btcore_put_be16_(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void
btcore_put_be32_(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline void
btcore_put_be64_(uint8_t *p, uint64_t v)
{
	btcore_put_be32_(p, (uint32_t)(v >> 32));
	btcore_put_be32_(p + 4, (uint32_t)v);
}

static inline uint16_t
btcore_get_be16_(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

static inline uint32_t
btcore_get_be32_(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
	    ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

static inline uint64_t
btcore_get_be64_(const uint8_t *p)
{
	return ((uint64_t)btcore_get_be32_(p) << 32) | btcore_get_be32_(p + 4);
}

#endif /* BTCORE_INTERNAL_H */
