/*
 * path.c - parsing, normalising and formatting /<namespace>/a/b/c paths.
 *
 * Normalisation is one left-to-right pass over the text with a bounded
 * stack of components (no recursion); the result is one allocation that
 * holds the formatted text twice: once as is, once with each '/' turned
 * into a NUL so that every component is a NUL-terminated string.
 */
#include <bt/dir.h>
#include <bt/path.h>

#include <stdlib.h>
#include <string.h>

#define NS_HEX	(2 * BTCORE_ED25519_PUBLIC_LEN)

struct btcore_path {
	struct bt_pubkey ns;
	size_t depth;
	size_t len;			/* of str */
	uint16_t off[BTCORE_PATH_DEPTH_MAX];
	uint16_t clen[BTCORE_PATH_DEPTH_MAX];
	char *str;			/* "/<hex>/a/b" */
	char *comps;			/* "\0<hex>\0a\0b" */
	char buf[];
};

struct seg {
	const char *p;
	size_t len;
};

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int
parse_ns(struct bt_pubkey *ns, const char *p, size_t len)
{
	size_t i;
	int hi, lo;

	if (len != NS_HEX)
		return BT_EFORMAT;
	for (i = 0; i < BTCORE_ED25519_PUBLIC_LEN; i++) {
		hi = hexval(p[2 * i]);
		lo = hexval(p[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return BT_EFORMAT;
		ns->b[i] = (uint8_t)((hi << 4) | lo);
	}
	return BT_OK;
}

/* Assemble a path from a namespace and a stack of components. */
static int
build(struct btcore_path **out, const struct bt_pubkey *ns,
    const struct seg *stack, size_t depth)
{
	static const char digits[] = "0123456789abcdef";
	struct btcore_path *p;
	size_t total = 1 + NS_HEX, i, at;

	for (i = 0; i < depth; i++)
		total += 1 + stack[i].len;
	if (total > BTCORE_PATH_MAX)
		return BT_ERANGE;
	if ((p = malloc(sizeof(*p) + 2 * (total + 1))) == NULL)
		return BT_ENOMEM;
	memset(p, 0, sizeof(*p));
	p->ns = *ns;
	p->depth = depth;
	p->len = total;
	p->str = p->buf;
	p->comps = p->buf + total + 1;
	p->str[0] = '/';
	for (i = 0; i < BTCORE_ED25519_PUBLIC_LEN; i++) {
		p->str[1 + 2 * i] = digits[ns->b[i] >> 4];
		p->str[2 + 2 * i] = digits[ns->b[i] & 0xf];
	}
	at = 1 + NS_HEX;
	for (i = 0; i < depth; i++) {
		p->str[at++] = '/';
		memcpy(p->str + at, stack[i].p, stack[i].len);
		p->off[i] = (uint16_t)at;
		p->clen[i] = (uint16_t)stack[i].len;
		at += stack[i].len;
	}
	p->str[at] = '\0';
	memcpy(p->comps, p->str, total + 1);
	p->comps[0] = '\0';
	for (i = 0; i < depth; i++)
		p->comps[p->off[i] - 1] = '\0';
	*out = p;
	return BT_OK;
}

/*
 * Apply the segments of @p len bytes at @p s to @p stack (holding
 * *depth components).  Segments are separated by runs of '/'.
 */
static int
walk(struct seg *stack, size_t *depth, const char *s, size_t len)
{
	size_t i = 0, j;

	while (i < len) {
		if (s[i] == '/') {
			i++;
			continue;
		}
		for (j = i; j < len && s[j] != '/'; j++)
			;
		if (j - i == 1 && s[i] == '.') {
			/* dropped */
		} else if (j - i == 2 && s[i] == '.' && s[i + 1] == '.') {
			if (*depth == 0)
				return BT_EPERM;
			(*depth)--;
		} else {
			if (j - i > BTCORE_DIR_NAME_MAX)
				return BT_ERANGE;
			if (!btcore_dir_name_valid(s + i, j - i))
				return BT_EFORMAT;
			if (*depth >= BTCORE_PATH_DEPTH_MAX)
				return BT_ERANGE;
			stack[*depth].p = s + i;
			stack[*depth].len = j - i;
			(*depth)++;
		}
		i = j;
	}
	return BT_OK;
}

int
btcore_path_parse(struct btcore_path **out, const char *text, size_t len)
{
	struct seg stack[BTCORE_PATH_DEPTH_MAX];
	struct bt_pubkey ns;
	size_t depth = 0, i = 0, j;
	int rc;

	if (out == NULL)
		return BT_EINVAL;
	*out = NULL;
	if (text == NULL && len != 0)
		return BT_EINVAL;
	if (len > BTCORE_PATH_MAX)
		return BT_ERANGE;
	if (len == 0 || text[0] != '/')
		return BT_EFORMAT;
	while (i < len && text[i] == '/')
		i++;
	for (j = i; j < len && text[j] != '/'; j++)
		;
	if ((rc = parse_ns(&ns, text + i, j - i)) != BT_OK)
		return rc;
	if ((rc = walk(stack, &depth, text + j, len - j)) != BT_OK)
		return rc;
	return build(out, &ns, stack, depth);
}

int
btcore_path_root(struct btcore_path **out, const struct bt_pubkey *ns)
{
	if (out == NULL)
		return BT_EINVAL;
	*out = NULL;
	if (ns == NULL)
		return BT_EINVAL;
	return build(out, ns, NULL, 0);
}

void
btcore_path_free(struct btcore_path *p)
{
	free(p);
}

const struct bt_pubkey *
btcore_path_namespace(const struct btcore_path *p)
{
	return p == NULL ? NULL : &p->ns;
}

size_t
btcore_path_depth(const struct btcore_path *p)
{
	return p == NULL ? 0 : p->depth;
}

const char *
btcore_path_component(const struct btcore_path *p, size_t i, size_t *len)
{
	if (len != NULL)
		*len = 0;
	if (p == NULL || i >= p->depth)
		return NULL;
	if (len != NULL)
		*len = p->clen[i];
	return p->comps + p->off[i];
}

const char *
btcore_path_format(const struct btcore_path *p, size_t *len)
{
	if (len != NULL)
		*len = p == NULL ? 0 : p->len;
	return p == NULL ? NULL : p->str;
}

/* The components of @p p as segments. */
static void
segs_of(const struct btcore_path *p, struct seg *stack)
{
	size_t i;

	for (i = 0; i < p->depth; i++) {
		stack[i].p = p->comps + p->off[i];
		stack[i].len = p->clen[i];
	}
}

int
btcore_path_parent(struct btcore_path **out, const struct btcore_path *p)
{
	struct seg stack[BTCORE_PATH_DEPTH_MAX];

	if (out == NULL)
		return BT_EINVAL;
	*out = NULL;
	if (p == NULL)
		return BT_EINVAL;
	if (p->depth == 0)
		return BT_EPERM;
	segs_of(p, stack);
	return build(out, &p->ns, stack, p->depth - 1);
}

int
btcore_path_join(struct btcore_path **out, const struct btcore_path *base,
    const char *rel, size_t len)
{
	struct seg stack[BTCORE_PATH_DEPTH_MAX];
	size_t depth;
	int rc;

	if (out == NULL)
		return BT_EINVAL;
	*out = NULL;
	if (base == NULL || (rel == NULL && len != 0))
		return BT_EINVAL;
	if (len > BTCORE_PATH_MAX)
		return BT_ERANGE;
	if (len > 0 && rel[0] == '/')
		return BT_EFORMAT;
	segs_of(base, stack);
	depth = base->depth;
	if ((rc = walk(stack, &depth, rel, len)) != BT_OK)
		return rc;
	return build(out, &base->ns, stack, depth);
}

static int
comp_cmp(const struct btcore_path *a, size_t i, const struct btcore_path *b)
{
	size_t al = a->clen[i], bl = b->clen[i];
	int c = memcmp(a->comps + a->off[i], b->comps + b->off[i],
	    al < bl ? al : bl);

	if (c != 0)
		return c;
	return al < bl ? -1 : al > bl ? 1 : 0;
}

int
btcore_path_is_ancestor(const struct btcore_path *a,
    const struct btcore_path *b)
{
	size_t i;

	if (a == NULL || b == NULL || a->depth >= b->depth ||
	    memcmp(a->ns.b, b->ns.b, sizeof(a->ns.b)) != 0)
		return 0;
	for (i = 0; i < a->depth; i++)
		if (comp_cmp(a, i, b) != 0)
			return 0;
	return 1;
}

int
btcore_path_cmp(const struct btcore_path *a, const struct btcore_path *b)
{
	size_t i, n;
	int c;

	if (a == NULL || b == NULL)
		return a == b ? 0 : a == NULL ? -1 : 1;
	if ((c = memcmp(a->ns.b, b->ns.b, sizeof(a->ns.b))) != 0)
		return c;
	n = a->depth < b->depth ? a->depth : b->depth;
	for (i = 0; i < n; i++)
		if ((c = comp_cmp(a, i, b)) != 0)
			return c;
	return a->depth < b->depth ? -1 : a->depth > b->depth ? 1 : 0;
}
