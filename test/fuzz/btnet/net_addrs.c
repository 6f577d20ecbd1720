/*
 * Fuzz target: the address list of address records (btnet_addrs_decode).
 * A list that decodes must encode back to exactly the same bytes, and
 * hold 1..BTNET_ADDRS_MAX addresses with a port.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <bt/net.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct btnet_dht_addr a[BTNET_ADDRS_MAX];
	uint8_t back[2 + BTNET_ADDRS_MAX * 19];
	size_t n = 99, len, i;

	if (btnet_addrs_decode(data, size, a, &n) != BT_OK) {
		if (n != 0)
			abort();
		return 0;
	}
	if (n == 0 || n > BTNET_ADDRS_MAX)
		abort();
	for (i = 0; i < n; i++)
		if (a[i].port == 0 || (a[i].family != 4 && a[i].family != 6))
			abort();
	if (btnet_addrs_encode(a, n, back, sizeof(back), &len) != BT_OK ||
	    len != size || memcmp(back, data, size) != 0)
		abort();
	return 0;
}
