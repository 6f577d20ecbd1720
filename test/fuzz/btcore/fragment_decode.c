/*
 * Fuzz target: btcore_fragment_decode over arbitrary bytes, then a rebuild
 * from the fuzzed fragment together with four valid fragments of a fixed
 * block, which must always succeed unless the fuzzed fragment is itself a
 * valid fragment.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <bt/fragment.h>
#include <bt/id.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FIXED_LEN	1001

static uint8_t fixed[FIXED_LEN];
static struct bt_id fixed_id;
static uint8_t **frags;
static size_t frag_len;

static void
setup(void)
{
	size_t i;

	if (frags != NULL)
		return;
	for (i = 0; i < FIXED_LEN; i++)
		fixed[i] = (uint8_t)(i * 7 + 3);
	if (btcore_id_hash(&fixed_id, fixed, FIXED_LEN) != BT_OK ||
	    btcore_fragment_encode(fixed, FIXED_LEN, 4, 2, &frags,
	    &frag_len) != BT_OK)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct btcore_fragment_hdr h;
	const uint8_t *in[5];
	size_t lens[5], bad[5], nbad, out_len;
	uint8_t *out;
	struct bt_id got;
	int rc, drc;

	setup();
	drc = btcore_fragment_decode(&h, data, size);
	if (drc == BT_OK) {
		if (h.k < 1 || h.k + h.m > BTCORE_FRAGMENT_MAX ||
		    h.index >= h.k + h.m ||
		    h.block_len > BTCORE_FRAGMENT_BLOCK_MAX ||
		    h.payload != data + BTCORE_FRAGMENT_HEADER_LEN ||
		    h.payload_len != (h.block_len + h.k - 1) / h.k ||
		    size != btcore_fragment_len(h.block_len, h.k))
			abort();
	} else if (h.payload != NULL || h.k != 0) {
		abort();	/* output not cleared on failure */
	}

	/* the fuzzed fragment first, then four valid ones (not index 0) */
	in[0] = data;
	lens[0] = size;
	in[1] = frags[1];
	in[2] = frags[5];
	in[3] = frags[2];
	in[4] = frags[3];
	lens[1] = lens[2] = lens[3] = lens[4] = frag_len;
	rc = btcore_fragment_rebuild(in, lens, 5, &out, &out_len, bad, &nbad);
	if (drc != BT_OK) {
		if (rc != BT_OK || nbad != 1 || bad[0] != 0 ||
		    out_len != FIXED_LEN || memcmp(out, fixed, FIXED_LEN) != 0)
			abort();
	} else if (rc == BT_OK) {
		/* whatever came out is the block some group names */
		if (btcore_id_hash(&got, out, out_len) != BT_OK)
			abort();
		if (btcore_id_cmp(&got, &fixed_id) != 0 &&
		    btcore_id_cmp(&got, &h.block_id) != 0)
			abort();
	} else if (rc != BT_ECORRUPT) {
		abort();
	}
	btcore_fragment_block_free(out);
	return 0;
}
