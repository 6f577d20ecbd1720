/*
 * Fuzz target: the API server's frame splitter and strict request
 * decoder over arbitrary bytes (a stream of frames, as a client sends).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "btapi-internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *doc;
	size_t len, total, i;
	struct btapi_req_ r, again;
	struct btapi_hdr_ h;
	int rc;

	while (size > 0) {
		rc = btapi_frame_parse_(data, size, &doc, &len, &total);
		if (rc != BT_OK) {
			if (rc == BT_EAGAIN && size >= 4 && total <= size)
				abort();	/* had the whole frame */
			/* the rest is a partial frame: decode it as one doc */
			doc = data;
			len = size;
			total = size;
		} else if (total != len + 4 || len > BTAPI_FRAME_MAX) {
			abort();
		}
		rc = btapi_req_decode_(&r, doc, len);
		if (rc == BT_OK) {
			if (btapi_op_name_(r.op) == NULL)
				abort();
			/* decoding is a pure function of the bytes */
			if (btapi_req_decode_(&again, doc, len) != BT_OK ||
			    again.op != r.op || again.id != r.id ||
			    again.have != r.have || again.have2 != r.have2)
				abort();
			for (i = 0; i < r.nheaders; i++)
				if (btapi_req_header_(&r, i, &h) != BT_OK ||
				    h.name == NULL || h.value == NULL ||
				    strpbrk(h.value, "\r\n") != NULL)
					abort();
			if ((r.have & BTAPI_F_DATA_) &&
			    r.data_len > BTAPI_IO_MAX)
				abort();
		} else if (r.op != BTAPI_OP_NONE_) {
			abort();	/* a failed decode leaves no request */
		}
		data += total;
		size -= total;
	}
	return 0;
}
