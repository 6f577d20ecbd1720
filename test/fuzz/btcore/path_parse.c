/*
 * Fuzz target: btcore_path_parse.  The normal form is a fixed point, is
 * never longer than the input, stays within the limits, and its parent
 * and components agree with it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <bt/dir.h>
#include <bt/path.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct btcore_path *p = NULL, *q = NULL, *par = NULL, *j = NULL;
	const char *f, *c;
	size_t flen, clen = 0, i, depth;

	if (btcore_path_parse(&p, (const char *)data, size) != BT_OK)
		return 0;
	f = btcore_path_format(p, &flen);
	depth = btcore_path_depth(p);
	if (flen > size || flen > BTCORE_PATH_MAX || strlen(f) != flen ||
	    depth > BTCORE_PATH_DEPTH_MAX)
		abort();
	if (btcore_path_parse(&q, f, flen) != BT_OK ||
	    btcore_path_cmp(p, q) != 0 ||
	    strcmp(btcore_path_format(q, NULL), f) != 0)
		abort();
	for (i = 0; i < depth; i++) {
		c = btcore_path_component(p, i, &clen);
		if (c == NULL || strlen(c) != clen ||
		    !btcore_dir_name_valid(c, clen))
			abort();
	}
	if (depth > 0) {
		if (btcore_path_parent(&par, p) != BT_OK ||
		    !btcore_path_is_ancestor(par, p) ||
		    btcore_path_join(&j, par, btcore_path_component(p,
		    depth - 1, NULL), clen) != BT_OK ||
		    btcore_path_cmp(j, p) != 0)
			abort();
	} else if (btcore_path_parent(&par, p) != BT_EPERM) {
		abort();
	}
	btcore_path_free(j);
	btcore_path_free(par);
	btcore_path_free(q);
	btcore_path_free(p);
	return 0;
}
