/*
 * Fuzz target: the decoders of the "node" scope's ops "root" and
 * "blocks" (requests a node answers, replies a fetching node reads) over
 * arbitrary bytes taken as one BSON document.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <bt/common.h>
#include <bt/id.h>
#include <bt/record.h>
#include <bt/store.h>

#include "repl-internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *blocks[BTAPI_REPL_IDS_MAX], *ids, *enc;
	uint32_t blen[BTAPI_REPL_IDS_MAX];
	struct bt_pubkey ns;
	struct bt_record rec;
	size_t n, i, asked, enc_len;
	volatile uint8_t sink = 0;

	if (btapi_repl_root_args_(data, size, &ns) == BT_OK)
		sink ^= ns.b[31];
	if (btapi_repl_blocks_args_(data, size, &ids, &n) == BT_OK) {
		if (n == 0 || n > BTAPI_REPL_IDS_MAX || ids < data ||
		    ids + n * BT_ID_LEN > data + size)
			abort();
		sink ^= ids[n * BT_ID_LEN - 1];
	}
	memset(ns.b, 0x11, sizeof(ns.b));
	if (btapi_repl_root_reply_(data, size, &ns, &rec, &enc,
	    &enc_len) == BT_OK) {
		if (enc < data || enc + enc_len > data + size ||
		    memcmp(rec.pub.b, ns.b, sizeof(ns.b)) != 0)
			abort();
	}
	for (asked = 1; asked <= BTAPI_REPL_IDS_MAX; asked *= 4) {
		if (btapi_repl_blocks_reply_(data, size, asked, blocks, blen,
		    &n) != BT_OK)
			continue;
		if (n > asked)
			abort();
		for (i = 0; i < n; i++) {
			if (blocks[i] == NULL)
				continue;
			if (blen[i] == 0 || blen[i] > BTSTORE_BLOCK_MAX ||
			    blocks[i] < data || blocks[i] + blen[i] > data + size)
				abort();
			sink ^= blocks[i][blen[i] - 1];
		}
	}
	(void)sink;
	return 0;
}
