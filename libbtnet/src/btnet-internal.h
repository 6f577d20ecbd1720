/*
 * btnet-internal.h - shared inside libbtnet (and its tests) only; never
 * installed.
 */
#ifndef BTNET_INTERNAL_H
#define BTNET_INTERNAL_H

#include <stdint.h>
#include <string.h>

#include <bt/noise.h>

/* Big-endian integer helpers for the wire formats. */
static inline void
btnet_put_be16_(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void
btnet_put_be32_(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline uint16_t
btnet_get_be16_(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

static inline uint32_t
btnet_get_be32_(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
	    ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

/*
 * A cipher state from a 32-byte key, nonce 0, default rekey interval.
 * *out is NULL on failure.  BT_OK, BT_ENOMEM, BT_ECRYPTO.
 */
int btnet_cipher_new_(struct btnet_cipher **out,
    const uint8_t key[BTNET_NOISE_KEY_LEN]);

/* Set the next nonce (tests of the nonce limit; Noise's SetNonce). */
void btnet_cipher_set_nonce_(struct btnet_cipher *c, uint64_t n);

/*
 * Set up the nonce of the next message ahead, for encrypting (@p encrypt
 * non-zero) or decrypting, so that the message itself costs less: done
 * after a message is out, while no peer waits.  Best effort (the message
 * does it when this could not); NULL is a no-op.
 */
void btnet_cipher_prepare_(struct btnet_cipher *c, int encrypt);
/* Messages of at most this many bytes of text use what
 * btnet_cipher_prepare_() set up (noise.c). */
#define BTNET_CIPHER_PREPARED_MAX	448

/* Index of the next handshake message (0 for the first). */
unsigned btnet_noise_msg_index_(const struct btnet_noise *n);

/* Fail the handshake for good and wipe its secrets. */
void btnet_noise_fail_(struct btnet_noise *n);

/*
 * btnet_handshake_new() with a chosen prologue and, for reproducible
 * tests and fuzz corpora only, a fixed ephemeral private key (NULL: a
 * fresh random one).
 */
int btnet_handshake_new_(struct btnet_handshake **out,
    const struct btnet_identity *local, int initiator,
    const struct bt_id *expect, const void *prologue, size_t prologue_len,
    const uint8_t *ephemeral);

/* Split "host:port" / "[v6]:port" text (conn.c). */
int btnet_hostport_split_(const char *s, char *host, size_t cap,
    uint16_t *port, int *v6);

#endif /* BTNET_INTERNAL_H */
