/*
 * frame.c - BlockTree messages as a sequence of Noise transport messages
 * inside a length envelope (see bt/frame.h for the wire format).
 */
#include <bt/hash.h>
#include <bt/frame.h>
#include <bt/neterror.h>
#include <bt/noise.h>

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "btnet-internal.h"

#define TAGLEN	BTNET_NOISE_TAG_LEN
#define HDRLEN	BTNET_FRAME_HDR_LEN
#define LENLEN	BTNET_FRAME_LEN_LEN

size_t
btnet_frame_encoded_len(size_t len, size_t chunk)
{
	size_t plain, frames;

	if (chunk == 0)
		chunk = BTNET_FRAME_CHUNK_MAX;
	if (len > BT_MSG_MAX || chunk < BTNET_FRAME_CHUNK_MIN ||
	    chunk > BTNET_FRAME_CHUNK_MAX)
		return 0;
	plain = LENLEN + len;
	frames = (plain + chunk - 1) / chunk;
	return plain + frames * (HDRLEN + TAGLEN);
}

int
btnet_frame_encode_some(struct btnet_cipher *send, const void *msg,
    size_t len, size_t chunk, size_t *pos, uint8_t *out, size_t cap,
    size_t *out_len)
{
	const uint8_t *src = msg;
	size_t end, at, w = 0, take, dirty = 0;
	uint8_t *p;
	int rc = BT_OK;

	if (out_len != NULL)
		*out_len = 0;
	if (send == NULL || pos == NULL || out == NULL || out_len == NULL ||
	    (msg == NULL && len != 0))
		return BT_EINVAL;
	if (chunk == 0)
		chunk = BTNET_FRAME_CHUNK_MAX;
	if (chunk < BTNET_FRAME_CHUNK_MIN || chunk > BTNET_FRAME_CHUNK_MAX)
		return BT_EINVAL;
	if (len > BT_MSG_MAX)
		return BT_ETOOBIG;
	end = LENLEN + len;
	at = *pos;
	if (at >= end || (at != 0 && at < LENLEN))
		return BT_EINVAL;
	while (at < end) {
		take = end - at < chunk ? end - at : chunk;
		if (cap - w < HDRLEN + take + TAGLEN)
			break;
		p = out + w + HDRLEN;
		dirty = w + HDRLEN + take + TAGLEN;
		if (at == 0) {
			/* the first chunk: the length, then the message */
			btnet_put_be32_(p, (uint32_t)len);
			if (take > LENLEN)
				memcpy(p + LENLEN, src, take - LENLEN);
			rc = btnet_cipher_encrypt(send, NULL, 0, p, take, p);
		} else {
			rc = btnet_cipher_encrypt(send, NULL, 0,
			    src + (at - LENLEN), take, p);
		}
		if (rc != BT_OK)
			goto out;
		btnet_put_be16_(out + w, (uint16_t)(take + TAGLEN));
		w += HDRLEN + take + TAGLEN;
		at += take;
	}
	if (w == 0)
		rc = BT_ENOSPC;
	else
		*pos = at;
	*out_len = w;
out:
	if (rc != BT_OK) {
		/* a cipher failure leaves the stream unusable */
		btcore_wipe(out, dirty);
		*out_len = 0;
	}
	return rc;
}

int
btnet_frame_encode(struct btnet_cipher *send, const void *msg, size_t len,
    size_t chunk, uint8_t *out, size_t cap, size_t *out_len)
{
	size_t need, pos = 0;
	int rc;

	if (out_len != NULL)
		*out_len = 0;
	if (send == NULL || out == NULL || out_len == NULL ||
	    (msg == NULL && len != 0))
		return BT_EINVAL;
	if (chunk == 0)
		chunk = BTNET_FRAME_CHUNK_MAX;
	if (chunk < BTNET_FRAME_CHUNK_MIN || chunk > BTNET_FRAME_CHUNK_MAX)
		return BT_EINVAL;
	if (len > BT_MSG_MAX)
		return BT_ETOOBIG;
	need = btnet_frame_encoded_len(len, chunk);
	if (cap < need)
		return BT_ENOSPC;
	/* the room suffices: one call writes every frame */
	rc = btnet_frame_encode_some(send, msg, len, chunk, &pos, out, need,
	    out_len);
	if (rc == BT_OK && (pos != LENLEN + len || *out_len != need))
		rc = BT_ECRYPTO;
	if (rc != BT_OK) {
		btcore_wipe(out, need);
		*out_len = 0;
	}
	return rc;
}

/*
 * A message spanning frames is assembled at d->buf + LENLEN, which is
 * kept for the next message when it is at most KEEP_MAX bytes (a
 * connection streaming large messages allocates nothing per message) and
 * released otherwise.  A first frame that fits is decrypted straight into
 * d->buf, its length in the LENLEN bytes in front of the message.
 */
#define KEEP_MAX	(256 * 1024)

struct btnet_frame_decoder {
	struct btnet_cipher *recv;
	size_t max;
	int failed;
	uint8_t hdr[HDRLEN];
	size_t hdr_have;
	size_t frame_len;		/* ciphertext bytes of this frame */
	size_t frame_have;
	int in_msg;			/* the length is known */
	int delivered;			/* d->buf was handed out last call */
	size_t total, got;
	uint8_t *buf;			/* LENLEN + cap bytes */
	size_t cap;			/* room for a message at buf + LENLEN */
	uint8_t frame[BTNET_NOISE_MSG_MAX];
};

int
btnet_frame_decoder_new(struct btnet_frame_decoder **out,
    struct btnet_cipher *recv, size_t max)
{
	struct btnet_frame_decoder *d;

	if (out == NULL)
		return BT_EINVAL;
	*out = NULL;
	if (recv == NULL)
		return BT_EINVAL;
	if (max > BT_MSG_MAX)
		return BT_ERANGE;
	if ((d = malloc(sizeof(*d))) == NULL)
		return BT_ENOMEM;
	/* d->frame needs no clearing: it is only read after being written */
	memset(d, 0, offsetof(struct btnet_frame_decoder, frame));
	d->recv = recv;
	d->max = max == 0 ? BT_MSG_MAX : max;
	*out = d;
	return BT_OK;
}

/*
 * Release d->buf.  Delivered plaintext is the application's data, not a
 * key: it is wiped when the decoder fails or is freed (@p wipe), not each
 * time a buffer is replaced.
 */
static void
release_buffers(struct btnet_frame_decoder *d, int wipe)
{
	if (d->buf != NULL) {
		if (wipe)
			btcore_wipe(d->buf, LENLEN + d->cap);
		free(d->buf);
		d->buf = NULL;
		d->cap = 0;
	}
	d->delivered = 0;
}

/*
 * Start a message of d->total bytes at d->buf + LENLEN with its first
 * @p len bytes from @p p (which may lie in d->buf already).
 */
static int
msg_start(struct btnet_frame_decoder *d, const uint8_t *p, size_t len)
{
	uint8_t *nb;

	if (d->cap < d->total) {
		if ((nb = malloc(LENLEN + d->total)) == NULL)
			return BT_ENOMEM;
		memcpy(nb + LENLEN, p, len);
		release_buffers(d, 0);
		d->buf = nb;
		d->cap = d->total;
	} else if (p != d->buf + LENLEN) {
		memcpy(d->buf + LENLEN, p, len);
	}
	d->got = len;
	d->in_msg = 1;
	return BT_OK;
}

int
btnet_frame_decode(struct btnet_frame_decoder *d, const uint8_t *in,
    size_t len, size_t *used, const uint8_t **msg, size_t *msg_len)
{
	size_t pos = 0, take, plen;
	const uint8_t *src;
	uint8_t *p;
	int rc = BT_OK;

	if (used != NULL)
		*used = 0;
	if (msg != NULL)
		*msg = NULL;
	if (msg_len != NULL)
		*msg_len = 0;
	if (d == NULL || (in == NULL && len != 0) || used == NULL ||
	    msg == NULL || msg_len == NULL)
		return BT_EINVAL;
	if (d->failed)
		return BT_ESTATE;
	if (d->delivered) {
		d->delivered = 0;
		if (d->cap > KEEP_MAX)
			release_buffers(d, 0);
	}
	while (pos < len) {
		if (d->hdr_have < HDRLEN) {
			d->hdr[d->hdr_have++] = in[pos++];
			if (d->hdr_have < HDRLEN)
				continue;
			d->frame_len = btnet_get_be16_(d->hdr);
			d->frame_have = 0;
			/* every Noise message carries at least one byte */
			if (d->frame_len < TAGLEN + 1) {
				rc = BT_EPROTO;
				goto out;
			}
			continue;
		}
		plen = d->frame_len - TAGLEN;
		if (d->frame_have == 0 && len - pos >= d->frame_len) {
			/* the whole frame is in the input: no staging copy */
			src = in + pos;
			pos += d->frame_len;
		} else {
			take = len - pos;
			if (take > d->frame_len - d->frame_have)
				take = d->frame_len - d->frame_have;
			memcpy(d->frame + d->frame_have, in + pos, take);
			d->frame_have += take;
			pos += take;
			if (d->frame_have < d->frame_len)
				break;
			src = d->frame;
		}
		/* a whole Noise message, decrypted straight into its place */
		if (!d->in_msg)
			p = d->buf != NULL && plen <= LENLEN + d->cap ? d->buf :
			    d->frame;
		else
			p = plen <= d->total - d->got ?
			    d->buf + LENLEN + d->got : d->frame;
		d->hdr_have = 0;
		d->frame_have = 0;
		rc = btnet_cipher_decrypt(d->recv, NULL, 0, src, d->frame_len,
		    p);
		if (rc != BT_OK)
			goto out;
		if (!d->in_msg) {
			if (plen < LENLEN) {
				rc = BT_EPROTO;
				goto out;
			}
			d->total = btnet_get_be32_(p);
			if (d->total > d->max) {
				rc = BT_ETOOBIG;
				goto out;
			}
			p += LENLEN;
			plen -= LENLEN;
			if (plen > d->total) {
				rc = BT_EPROTO;
				goto out;
			}
			if (plen == d->total) {
				/* the whole message in one frame: no copy */
				d->delivered = p != d->frame + LENLEN;
				*msg = p;
				*msg_len = plen;
				break;
			}
			if ((rc = msg_start(d, p, plen)) != BT_OK)
				goto out;
			continue;
		}
		if (plen > d->total - d->got) {
			rc = BT_EPROTO;
			goto out;
		}
		d->got += plen;
		if (d->got == d->total) {
			d->in_msg = 0;
			d->delivered = 1;
			*msg = d->buf + LENLEN;
			*msg_len = d->total;
			break;
		}
	}
	*used = pos;
out:
	if (rc != BT_OK) {
		d->failed = 1;
		release_buffers(d, 1);
		btcore_wipe(d->frame, sizeof(d->frame));
		*msg = NULL;
		*msg_len = 0;
		*used = pos;
	}
	return rc;
}

void
btnet_frame_decoder_free(struct btnet_frame_decoder *d)
{
	if (d == NULL)
		return;
	release_buffers(d, 1);
	btcore_wipe(d, sizeof(*d));
	free(d);
}
