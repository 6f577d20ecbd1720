/* Fuzz target: btcore_id_from_hex over arbitrary text. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <bt/id.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char buf[130], back[BT_ID_HEX_LEN + 1];
	struct bt_id id, again;

	if (size >= sizeof(buf))
		size = sizeof(buf) - 1;
	memcpy(buf, data, size);
	buf[size] = '\0';
	if (btcore_id_from_hex(&id, buf) != BT_OK)
		return 0;
	/* anything accepted must round-trip */
	btcore_id_to_hex(&id, back);
	if (btcore_id_from_hex(&again, back) != BT_OK ||
	    btcore_id_cmp(&id, &again) != 0)
		abort();
	return 0;
}
