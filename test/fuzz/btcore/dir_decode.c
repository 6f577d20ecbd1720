/*
 * Fuzz target: btcore_dir_decode.  Whatever decodes must be canonical:
 * encoding it again gives back the input byte for byte, and every entry
 * is found by name.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <bt/dir.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct btcore_dir *d = NULL;
	struct btcore_dir_entry e, g;
	uint8_t *buf = NULL;
	size_t len = 0, i;

	if (btcore_dir_decode(&d, data, size) != BT_OK)
		return 0;
	if (btcore_dir_encode(d, &buf, &len) != BT_OK || len != size ||
	    memcmp(buf, data, size) != 0)
		abort();
	for (i = 0; i < btcore_dir_count(d); i++) {
		if (btcore_dir_entry_at(d, i, &e) != BT_OK ||
		    !btcore_dir_name_valid(e.name, e.name_len) ||
		    btcore_dir_get(d, e.name, e.name_len, &g) != BT_OK ||
		    g.name != e.name)
			abort();
	}
	btcore_dir_bytes_free(buf);
	btcore_dir_free(d);
	return 0;
}
