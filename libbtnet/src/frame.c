/*
 * frame.c - BlockTree messages as a sequence of Noise transport messages
 * inside a length envelope (see bt/frame.h for the wire format).
 */
#include <bt/hash.h>
#include <bt/frame.h>
#include <bt/neterror.h>
#include <bt/noise.h>

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
btnet_frame_encode(struct btnet_cipher *send, const void *msg, size_t len,
    size_t chunk, uint8_t *out, size_t cap, size_t *out_len)
{
	const uint8_t *src = msg;
	size_t need, pos = 0, done = 0, take;
	uint8_t *p;
	int rc = BT_OK, first = 1;

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
	while (first || done < len) {
		p = out + pos + HDRLEN;
		if (first) {
			take = len < chunk - LENLEN ? len : chunk - LENLEN;
			btnet_put_be32_(p, (uint32_t)len);
			if (take != 0)
				memcpy(p + LENLEN, src, take);
			rc = btnet_cipher_encrypt(send, NULL, 0, p,
			    take + LENLEN, p);
			btnet_put_be16_(out + pos,
			    (uint16_t)(take + LENLEN + TAGLEN));
			pos += HDRLEN + LENLEN + take + TAGLEN;
			first = 0;
		} else {
			take = len - done < chunk ? len - done : chunk;
			rc = btnet_cipher_encrypt(send, NULL, 0, src + done,
			    take, p);
			btnet_put_be16_(out + pos, (uint16_t)(take + TAGLEN));
			pos += HDRLEN + take + TAGLEN;
		}
		if (rc != BT_OK)
			goto out;
		done += take;
	}
	*out_len = pos;
out:
	if (rc != BT_OK)
		btcore_wipe(out, need);
	return rc;
}

struct btnet_frame_decoder {
	struct btnet_cipher *recv;
	size_t max;
	int failed;
	uint8_t hdr[HDRLEN];
	size_t hdr_have;
	size_t frame_len;		/* ciphertext bytes of this frame */
	size_t frame_have;
	int in_msg;			/* the length is known */
	size_t total, got;
	uint8_t *msg;			/* a message spanning frames */
	uint8_t *delivered;		/* handed out by the last call */
	size_t delivered_len;
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
	if ((d = calloc(1, sizeof(*d))) == NULL)
		return BT_ENOMEM;
	d->recv = recv;
	d->max = max == 0 ? BT_MSG_MAX : max;
	*out = d;
	return BT_OK;
}

static void
release_buffers(struct btnet_frame_decoder *d)
{
	if (d->delivered != NULL) {
		btcore_wipe(d->delivered, d->delivered_len);
		free(d->delivered);
		d->delivered = NULL;
		d->delivered_len = 0;
	}
	if (d->msg != NULL) {
		btcore_wipe(d->msg, d->got);
		free(d->msg);
		d->msg = NULL;
	}
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
	if (d->delivered != NULL) {
		btcore_wipe(d->delivered, d->delivered_len);
		free(d->delivered);
		d->delivered = NULL;
		d->delivered_len = 0;
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
			p = d->in_msg && plen <= d->total - d->got ?
			    d->msg + d->got : d->frame;
		} else {
			take = len - pos;
			if (take > d->frame_len - d->frame_have)
				take = d->frame_len - d->frame_have;
			memcpy(d->frame + d->frame_have, in + pos, take);
			d->frame_have += take;
			pos += take;
			if (d->frame_have < d->frame_len)
				break;
			src = p = d->frame;
		}
		/* a whole Noise message */
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
				*msg = p;
				*msg_len = plen;
				break;
			}
			if ((d->msg = malloc(d->total)) == NULL) {
				rc = BT_ENOMEM;
				goto out;
			}
			memcpy(d->msg, p, plen);
			d->got = plen;
			d->in_msg = 1;
			continue;
		}
		if (plen > d->total - d->got) {
			rc = BT_EPROTO;
			goto out;
		}
		if (p != d->msg + d->got)
			memcpy(d->msg + d->got, p, plen);
		d->got += plen;
		if (d->got == d->total) {
			d->delivered = d->msg;
			d->delivered_len = d->total;
			d->msg = NULL;
			d->in_msg = 0;
			*msg = d->delivered;
			*msg_len = d->total;
			break;
		}
	}
	*used = pos;
out:
	if (rc != BT_OK) {
		d->failed = 1;
		release_buffers(d);
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
	release_buffers(d);
	btcore_wipe(d, sizeof(*d));
	free(d);
}
