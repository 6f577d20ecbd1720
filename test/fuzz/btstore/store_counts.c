/*
 * Fuzz target: the small stored records - counters (count, bytes), the
 * be32 pin/ref/bag-size counters and the be64 adder times.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "btstore-internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t out[BTSTORE_COUNTS_LEN_];
	uint64_t count, bytes, t;
	uint32_t v;

	if (btstore_counts_decode_(data, size, &count, &bytes) == BT_OK) {
		if (size != BTSTORE_COUNTS_LEN_ || (count == 0 && bytes != 0))
			abort();
		btstore_counts_encode_(out, count, bytes);
		if (memcmp(out, data, size) != 0)
			abort();
	}
	if (btstore_u32_decode_(data, size, &v) == BT_OK &&
	    (size != 4 || v != btstore_get_be32_(data)))
		abort();
	if (btstore_u64_decode_(data, size, &t) == BT_OK &&
	    (size != 8 || t != btstore_get_be64_(data)))
		abort();
	return 0;
}
