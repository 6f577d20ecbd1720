/*
 * bt/frame.h - BlockTree messages over Noise transport messages.
 *
 * Wire format.  A BlockTree message of L bytes (0 <= L <= BT_MSG_MAX)
 * becomes the plaintext stream  be32(L) || message , cut into one or more
 * chunks of 1 ... 65519 bytes; the first chunk holds at least the four
 * length bytes.  Each chunk is encrypted as one Noise transport message
 * (with empty associated data) and sent as  be16(ciphertext length) ||
 * ciphertext , the ciphertext being the chunk plus a 16-byte tag.  A
 * chunk never spans two messages.
 *
 * The length is authenticated (it travels inside the first Noise
 * message) and checked before anything is allocated for the message: a
 * length above the limit is an error after which the connection must be
 * closed.  A message of length 0 is valid and is delivered as an empty
 * message (it serves as a keepalive).  A Noise message shorter than 17
 * bytes (an empty chunk), a first chunk shorter than 4 bytes, and a chunk
 * that runs past the end of its message are protocol errors.
 */
#ifndef BT_FRAME_H
#define BT_FRAME_H

#include <bt/common.h>
#include <bt/noise.h>

#ifdef __cplusplus
extern "C" {
#endif

#define BTNET_FRAME_HDR_LEN	2	/* be16 length of a Noise message */
#define BTNET_FRAME_LEN_LEN	4	/* be32 length of a message */
#define BTNET_FRAME_CHUNK_MAX	BTNET_NOISE_PLAIN_MAX
#define BTNET_FRAME_CHUNK_MIN	16	/* smallest chunk size an encoder may use */

/**
 * Bytes on the wire for a message of @p len bytes cut into chunks of
 * @p chunk bytes (0 means BTNET_FRAME_CHUNK_MAX).  0 when @p len exceeds
 * BT_MSG_MAX or @p chunk is out of range.
 * @since 0.1
 */
BT_EXPORT size_t btnet_frame_encoded_len(size_t len, size_t chunk);

/**
 * Encrypt one message into wire bytes.
 *
 * @param send	the sending cipher state, borrowed; its nonce advances by
 *		the number of chunks.
 * @param msg	in, borrowed: @p len bytes; NULL when len is 0.
 * @param chunk	plaintext bytes per Noise message, BTNET_FRAME_CHUNK_MIN
 *		... BTNET_FRAME_CHUNK_MAX, or 0 for the maximum.
 * @param out	out: room for @p cap bytes; *out_len receives
 *		btnet_frame_encoded_len(len, chunk).
 * @return BT_OK; BT_EINVAL; BT_ETOOBIG (@p len > BT_MSG_MAX); BT_ENOSPC
 *	   (@p cap too small; nothing was encrypted); BTNET_ENONCE or
 *	   BT_ECRYPTO from the cipher (the stream is then unusable).
 * @since 0.1
 */
BT_EXPORT BT_WUR int btnet_frame_encode(struct btnet_cipher *send,
    const void *msg, size_t len, size_t chunk, uint8_t *out, size_t cap,
    size_t *out_len);

/**
 * Encrypt the next whole frames of one message into @p out, as many as
 * fit in @p cap bytes: a message can be written into several buffers
 * (for instance the free space of an output queue) without first being
 * encrypted in one piece.  Calls from *pos = 0 until *pos reaches
 * BTNET_FRAME_LEN_LEN + @p len produce, concatenated, the bytes of
 * btnet_frame_encode() for the same message and cipher state.
 *
 * @param send	the sending cipher state, borrowed; its nonce advances by
 *		the number of frames written.
 * @param msg	in, borrowed: @p len bytes; NULL when len is 0.  The same
 *		message in every call.
 * @param chunk	as for btnet_frame_encode(); the same in every call.
 * @param pos	in/out: the offset in the plaintext stream
 *		be32(len) || message; 0 for the first call; advanced past
 *		the frames written.
 * @param out	out: room for @p cap bytes; *out_len receives the bytes
 *		written (whole frames only).
 * @return BT_OK (at least one frame written); BT_EINVAL (a NULL argument,
 *	   a bad @p chunk, or *pos not an offset a previous call returned
 *	   short of the end); BT_ETOOBIG (@p len > BT_MSG_MAX); BT_ENOSPC
 *	   (not even the next frame fits; nothing was written); BTNET_ENONCE
 *	   or BT_ECRYPTO from the cipher (the stream is then unusable).
 * @since 0.1
 */
BT_EXPORT BT_WUR int btnet_frame_encode_some(struct btnet_cipher *send,
    const void *msg, size_t len, size_t chunk, size_t *pos, uint8_t *out,
    size_t cap, size_t *out_len);

/**
 * A streaming decoder of framed messages.  Opaque.
 *
 * A message spanning frames is decrypted straight into a buffer of the
 * decoder, which is reused for the next message when it is at most
 * 256 KiB.  Delivered plaintext is the application's data rather than
 * key material, and the application holds copies of it anyway: it is not
 * wiped after every message (which would cost another pass over every
 * byte received), only when the decoder fails or is freed.
 */
struct btnet_frame_decoder;

/**
 * @param out	out: caller owns; release with
 *		btnet_frame_decoder_free(); NULL on failure.
 * @param recv	the receiving cipher state, borrowed: must outlive the
 *		decoder, which advances its nonce.
 * @param max	the largest message accepted, 0 ... BT_MSG_MAX; 0 means
 *		BT_MSG_MAX.
 * @return BT_OK, BT_EINVAL, BT_ERANGE, BT_ENOMEM.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btnet_frame_decoder_new(struct btnet_frame_decoder **out,
    struct btnet_cipher *recv, size_t max);

/**
 * Consume wire bytes.  Reads from @p in until one message is complete or
 * the input is used up, whichever comes first; *used receives the number
 * of bytes consumed (feed the rest in the next call).  Bytes may arrive in
 * pieces of any size, down to one at a time.
 *
 * @param msg, msg_len	out: when a message completed, *msg points to its
 *			*msg_len bytes (valid until the next call or until
 *			the decoder is freed; owned by the decoder); else
 *			*msg is NULL.  An empty message gives a non-NULL
 *			*msg and *msg_len 0.
 * @return BT_OK; BT_EINVAL; BT_ETOOBIG (announced length above the
 *	   limit); BT_EPROTO (framing violation); BT_EVERIFY (a Noise
 *	   message does not authenticate); BTNET_ENONCE; BT_ENOMEM;
 *	   BT_ECRYPTO; BT_ESTATE (a previous call failed).  After any error
 *	   but BT_EINVAL the decoder stays failed and the connection must be
 *	   closed.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btnet_frame_decode(struct btnet_frame_decoder *d,
    const uint8_t *in, size_t len, size_t *used, const uint8_t **msg,
    size_t *msg_len);

/** Release @p d (wiping buffered plaintext); NULL is a no-op.  @since 0.1 */
BT_EXPORT void btnet_frame_decoder_free(struct btnet_frame_decoder *d);

#ifdef __cplusplus
}
#endif
#endif /* BT_FRAME_H */
