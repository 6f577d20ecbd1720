/* Fuzz target: btcore_record_decode over arbitrary bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <bt/record.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t back[BTCORE_RECORD_ENC_MAX];
	struct bt_record rec, again;
	struct bt_id target;
	size_t len = 0;

	if (btcore_record_decode(&rec, data, size) != BT_OK)
		return 0;
	/* anything accepted is signed, in bounds and encodes to itself */
	if (btcore_record_verify(&rec) != BT_OK ||
	    rec.key_len == 0 || rec.key_len > BTCORE_RECORD_KEY_MAX ||
	    rec.value_len > BTCORE_RECORD_VALUE_MAX)
		abort();
	if (btcore_record_encode(&rec, back, sizeof(back), &len) != BT_OK ||
	    len != size || memcmp(back, data, size) != 0)
		abort();
	if (btcore_record_decode(&again, back, len) != BT_OK ||
	    again.seq != rec.seq || again.value_len != rec.value_len)
		abort();
	if (btcore_record_compare(&again, &rec) != BTCORE_RECORD_REFRESH)
		abort();
	if (btcore_record_target(&target, &rec.pub, rec.key,
	    rec.key_len) != BT_OK)
		abort();
	return 0;
}
