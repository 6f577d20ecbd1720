/*
 * Fuzz target: the HTTP gateway's request framing over arbitrary bytes
 * as a client sends them: heads scanned (and rewritten for evhttp) one
 * after another, each body taken as its framing says (chunked bodies
 * through the decoder, fed in pieces of every size).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gateway-internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Decode a chunked body at @p p; the bytes it took, or 0 when it broke
   off (bad, too big, or more to come). */
static size_t
chunked(const char *p, size_t n, size_t step)
{
	struct btapi_gwchunk_ c;
	size_t off = 0, used, k, avail;
	uint64_t data = 0;
	int rc;

	btapi_gwchunk_init_(&c, 1u << 20, 4096);
	for (;;) {
		if (c.st == BTAPI_GWC_DATA_) {
			k = n - off < c.left ? n - off : (size_t)c.left;
			if (k == 0)
				return 0;
			btapi_gwchunk_take_(&c, k);
			data += k;
			off += k;
			continue;
		}
		/* the framing comes in pieces of @p step bytes at most */
		avail = n - off < step ? n - off : step;
		rc = btapi_gwchunk_step_(&c, p + off, avail, &used);
		if (rc == BTAPI_GWC_MORE_ && avail < n - off) {
			step *= 2;
			continue;
		}
		if (rc < 0 || rc == BTAPI_GWC_MORE_)
			return 0;
		if (used == 0 || used > avail)
			abort();
		off += used;
		if (data > c.total || c.total > c.max)
			abort();
		if (rc == BTAPI_GWC_DONE_) {
			if (data != c.total)
				abort();
			return off;
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;
	struct btapi_gwhead_ h, again;
	size_t off = 0, len, step = size > 0 ? 1 + data[0] % 64 : 1, k;
	char *out;
	int rc;

	while (off < size) {
		rc = btapi_gwhead_scan_(p + off, size - off, 2048, &h);
		if (rc != BTAPI_GWH_DONE_)
			break;
		if (h.len == 0 || h.len > size - off || h.count > 2048)
			abort();
		if ((out = malloc(h.len + BTAPI_GWHEAD_EXTRA_)) == NULL)
			return 0;
		len = btapi_gwhead_rewrite_(p + off, &h, out);
		if (len > h.len + BTAPI_GWHEAD_EXTRA_)
			abort();
		/* evhttp's view frames no body and ends where it should */
		if (btapi_gwhead_scan_(out, len, 4096, &again) ==
		    BTAPI_GWH_DONE_ && (again.len != len ||
		    again.body != BTAPI_GWB_NONE_ || again.rewrite != 1))
			abort();
		free(out);
		off += h.len;
		if (h.bad)
			break;
		if (h.body == BTAPI_GWB_LENGTH_) {
			if (h.length > size - off)
				break;
			off += (size_t)h.length;
		} else if (h.body == BTAPI_GWB_CHUNKED_) {
			if ((k = chunked(p + off, size - off, step)) == 0)
				break;
			off += k;
		}
	}
	return 0;
}
