/*
 * Fuzz target: a stored namespace root record (signed record, key
 * "root", value version 1 || directory id).  A record that decodes must
 * encode back to the same bytes, name its namespace, and hold the
 * directory id it reports.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <bt/ns.h>
#include <bt/record.h>

#include "file-internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t out[BTCORE_RECORD_ENC_MAX];
	struct bt_record rec, again;
	struct bt_id dir, dir2;
	size_t len;

	if (btstore_ns_root_decode_(data, size, NULL, &rec, &dir) != BT_OK)
		return 0;
	if (rec.key_len != 4 || memcmp(rec.key, "root", 4) != 0 ||
	    rec.value_len != 33 || rec.value[0] != 1 ||
	    memcmp(rec.value + 1, dir.b, 32) != 0)
		abort();
	if (btcore_record_encode(&rec, out, sizeof(out), &len) != BT_OK ||
	    len != size || memcmp(out, data, size) != 0)
		abort();
	if (btstore_ns_root_decode_(out, len, &rec.pub, &again, &dir2) !=
	    BT_OK || memcmp(dir.b, dir2.b, 32) != 0 || again.seq != rec.seq)
		abort();
	return 0;
}
