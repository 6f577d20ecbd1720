/*
 * Fuzz target: the API server's decoder of data-op requests (feeds,
 * records, bags, pubsub, friends, programs, peers) over arbitrary bytes,
 * framed as a client sends them.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <bson/bson.h>

#include "btapi-internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Walk a validated array again: its count must match the decoder's. */
static size_t
count(const uint8_t *doc, size_t len)
{
	bson_iter_t it;
	size_t n = 0;

	if (!bson_iter_init_from_data(&it, doc, len))
		abort();
	while (bson_iter_next(&it))
		n++;
	return n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *doc;
	size_t len, total;
	struct btapi_xreq_ r, again;
	int rc;

	while (size > 0) {
		rc = btapi_frame_parse_(data, size, &doc, &len, &total);
		if (rc != BT_OK) {
			doc = data;
			len = size;
			total = size;
		}
		rc = btapi_xreq_decode_(&r, doc, len);
		if (rc == BT_OK) {
			if (btapi_xop_name_(r.op) == NULL)
				abort();
			if (btapi_xreq_decode_(&again, doc, len) != BT_OK ||
			    again.op != r.op || again.id != r.id ||
			    again.have != r.have)
				abort();
			if ((r.have & BTAPI_XF_ITEMS_) &&
			    (r.nitems == 0 || r.nitems > BTAPI_XITEMS_MAX_ ||
			    count(r.items, r.items_len) != r.nitems))
				abort();
			if ((r.have & BTAPI_XF_SCOPES_) &&
			    (r.nscopes > BTAPI_XSCOPES_MAX_ ||
			    count(r.scopes, r.scopes_len) != r.nscopes))
				abort();
			if ((r.have & BTAPI_XF_KEY_) && (r.key_len == 0 ||
			    r.key_len > 64))
				abort();
			if ((r.have & BTAPI_XF_DATA_) &&
			    r.data_len > BTAPI_IO_MAX)
				abort();
		} else if (r.op != BTAPI_XOP_NONE_) {
			abort();	/* a failed decode leaves no request */
		}
		data += total;
		size -= total;
	}
	return 0;
}
