/*
 * manifest.c - signed program manifests (BSON, Ed25519).
 *
 * The encoder writes the one canonical BSON layout by hand into a buffer
 * sized beforehand, so every allocation is checked and the bytes never
 * depend on a library's choices.  The decoder walks the input with
 * libbson's iterator, rebuilds the manifest through the same validating
 * builder functions, re-encodes it and requires the result to equal the
 * input byte for byte: whatever is accepted has exactly one encoding.
 */
#include <bt/key.h>
#include <bt/manifest.h>
#include <bt/scope.h>

/* libbson's inline atomics drop a const; nothing of ours is affected */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wcast-qual"
#include <bson/bson.h>
#pragma GCC diagnostic pop

#include <stdlib.h>
#include <string.h>

static const char sig_prefix[] = "blocktree-manifest-v1";
#define SIG_PREFIX_LEN	sizeof(sig_prefix)	/* with its NUL */

struct mf_route {
	char	*host;
	char	*path;
};

struct mf_grant {
	char	*path;
	int	 access;
};

struct btcore_manifest {
	char		*name;
	char		*version;
	char		*scopes[BTCORE_MANIFEST_SCOPES_MAX];
	size_t		 nscopes;
	struct mf_route	 routes[BTCORE_MANIFEST_ROUTES_MAX];
	size_t		 nroutes;
	struct mf_grant	 grants[BTCORE_MANIFEST_GRANTS_MAX];
	size_t		 ngrants;
	struct bt_pubkey owner;
	struct bt_sig	 sig;
	int		 is_signed;
};

/* ---- validation ------------------------------------------------------- */

static int
is_lower_digit(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static int
is_alnum(char c)
{
	return is_lower_digit(c) || (c >= 'A' && c <= 'Z');
}

static int
valid_name(const char *s, size_t n)
{
	size_t i;

	if (n < 1 || n > BTCORE_MANIFEST_NAME_MAX || !is_lower_digit(s[0]))
		return 0;
	for (i = 1; i < n; i++)
		if (!is_lower_digit(s[i]) && s[i] != '.' && s[i] != '_' &&
		    s[i] != '-')
			return 0;
	return 1;
}

static int
valid_version(const char *s, size_t n)
{
	size_t i;

	if (n < 1 || n > BTCORE_MANIFEST_VERSION_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if (s[i] < 0x21 || s[i] > 0x7e)
			return 0;
	return 1;
}

static int
valid_host(const char *s, size_t n)
{
	size_t i, label = 0;

	if (n < 1 || n > BTCORE_MANIFEST_HOST_MAX)
		return 0;
	for (i = 0; i < n; i++) {
		if (s[i] == '.') {
			if (label == 0 || s[i - 1] == '-')
				return 0;
			label = 0;
			continue;
		}
		if (!is_lower_digit(s[i]) && s[i] != '-')
			return 0;
		if (s[i] == '-' && label == 0)
			return 0;
		if (++label > 63)
			return 0;
	}
	return label > 0 && s[n - 1] != '-';
}

static int
route_char(char c)
{
	return is_alnum(c) || (c != '\0' && strchr("-._~!$&'()*+,;=:@%", c)
	    != NULL);
}

static int
grant_char(char c)
{
	return c >= 0x21 && c <= 0x7e && c != '/' && c != '\\';
}

/*
 * "/" and then components joined by "/", each non-empty, not "." or
 * "..", of the characters @p ok allows.  "/" alone only if @p root.
 */
static int
valid_path(const char *s, size_t n, int root, int (*ok)(char))
{
	size_t i, start;

	if (n < 1 || n > BTCORE_MANIFEST_PATH_MAX || s[0] != '/')
		return 0;
	if (n == 1)
		return root;
	start = 1;
	for (i = 1; i <= n; i++) {
		if (i < n && s[i] != '/') {
			if (!ok(s[i]))
				return 0;
			continue;
		}
		if (i == start)
			return 0;	/* empty component */
		if (s[start] == '.' && (i - start == 1 ||
		    (i - start == 2 && s[start + 1] == '.')))
			return 0;
		start = i + 1;
	}
	return 1;
}

static int
valid_route_path(const char *s, size_t n)
{
	return valid_path(s, n, 1, route_char);
}

static int
valid_grant_path(const char *s, size_t n)
{
	return valid_path(s, n, 0, grant_char);
}

/* Does the path prefix @p p cover @p s on whole components? */
static int
covers(const char *p, size_t pn, const char *s, size_t n)
{
	if (pn == 1)
		return 1;	/* "/" */
	return n >= pn && memcmp(s, p, pn) == 0 && (n == pn || s[pn] == '/');
}

static int
eq(const char *a, const char *b, size_t bn)
{
	return strlen(a) == bn && memcmp(a, b, bn) == 0;
}

/* ---- the canonical encoding ------------------------------------------ */

/* A writer that only counts when p is NULL. */
struct wbuf {
	uint8_t	*p;
	size_t	 len;
};

static void
w_bytes(struct wbuf *w, const void *d, size_t n)
{
	if (w->p != NULL && n > 0)
		memcpy(w->p + w->len, d, n);
	w->len += n;
}

static void
w_u8(struct wbuf *w, uint8_t v)
{
	w_bytes(w, &v, 1);
}

static void
w_le32(struct wbuf *w, size_t v)
{
	uint8_t b[4];

	b[0] = (uint8_t)v;
	b[1] = (uint8_t)(v >> 8);
	b[2] = (uint8_t)(v >> 16);
	b[3] = (uint8_t)(v >> 24);
	w_bytes(w, b, 4);
}

static void
w_key(struct wbuf *w, uint8_t type, const char *key)
{
	w_u8(w, type);
	w_bytes(w, key, strlen(key) + 1);
}

static void
w_utf8(struct wbuf *w, const char *key, const char *s)
{
	size_t n = s != NULL ? strlen(s) : 0;

	w_key(w, BSON_TYPE_UTF8, key);
	w_le32(w, n + 1);
	w_bytes(w, s, n);
	w_u8(w, 0);
}

static void
w_bin(struct wbuf *w, const char *key, const uint8_t *d, size_t n)
{
	w_key(w, BSON_TYPE_BINARY, key);
	w_le32(w, n);
	w_u8(w, BSON_SUBTYPE_BINARY);
	w_bytes(w, d, n);
}

/* Begin a document (with its element header unless @p key is NULL). */
static size_t
w_begin(struct wbuf *w, uint8_t type, const char *key)
{
	size_t off;

	if (key != NULL)
		w_key(w, type, key);
	off = w->len;
	w_le32(w, 0);
	return off;
}

static void
w_end(struct wbuf *w, size_t off)
{
	size_t n;

	w_u8(w, 0);
	n = w->len - off;
	if (w->p != NULL) {
		w->p[off] = (uint8_t)n;
		w->p[off + 1] = (uint8_t)(n >> 8);
		w->p[off + 2] = (uint8_t)(n >> 16);
		w->p[off + 3] = (uint8_t)(n >> 24);
	}
}

/* Array keys "0" .. "99". */
static const char *
index_key(char buf[3], size_t i)
{
	if (i < 10) {
		buf[0] = (char)('0' + i);
		buf[1] = '\0';
	} else {
		buf[0] = (char)('0' + i / 10);
		buf[1] = (char)('0' + i % 10);
		buf[2] = '\0';
	}
	return buf;
}

static void
encode(const struct btcore_manifest *m, struct wbuf *w, int with_sig)
{
	char k[3];
	size_t doc, arr, el, i;

	doc = w_begin(w, 0, NULL);
	w_utf8(w, "name", m->name);
	w_utf8(w, "version", m->version);
	w_bin(w, "owner", m->owner.b, sizeof(m->owner.b));
	arr = w_begin(w, BSON_TYPE_ARRAY, "scopes");
	for (i = 0; i < m->nscopes; i++)
		w_utf8(w, index_key(k, i), m->scopes[i]);
	w_end(w, arr);
	arr = w_begin(w, BSON_TYPE_ARRAY, "routes");
	for (i = 0; i < m->nroutes; i++) {
		el = w_begin(w, BSON_TYPE_DOCUMENT, index_key(k, i));
		w_utf8(w, "host", m->routes[i].host);
		w_utf8(w, "path", m->routes[i].path);
		w_end(w, el);
	}
	w_end(w, arr);
	arr = w_begin(w, BSON_TYPE_ARRAY, "grants");
	for (i = 0; i < m->ngrants; i++) {
		el = w_begin(w, BSON_TYPE_DOCUMENT, index_key(k, i));
		w_utf8(w, "path", m->grants[i].path);
		w_utf8(w, "access",
		    m->grants[i].access == BTCORE_MANIFEST_READ_WRITE ?
		    "rw" : "r");
		w_end(w, el);
	}
	w_end(w, arr);
	if (with_sig)
		w_bin(w, "sig", m->sig.b, sizeof(m->sig.b));
	w_end(w, doc);
}

/* The size of the signed encoding, for the limit checks. */
static size_t
encoded_size(const struct btcore_manifest *m)
{
	struct wbuf w = { NULL, 0 };

	encode(m, &w, 1);
	return w.len;
}

/* ---- building ---------------------------------------------------------- */

static char *
dupn(const char *s, size_t n)
{
	char *d = malloc(n + 1);

	if (d != NULL) {
		memcpy(d, s, n);
		d[n] = '\0';
	}
	return d;
}

int
btcore_manifest_new(struct btcore_manifest **out)
{
	if (out == NULL)
		return BT_EINVAL;
	*out = calloc(1, sizeof(**out));
	return *out != NULL ? BT_OK : BT_ENOMEM;
}

void
btcore_manifest_free(struct btcore_manifest *m)
{
	size_t i;

	if (m == NULL)
		return;
	free(m->name);
	free(m->version);
	for (i = 0; i < m->nscopes; i++)
		free(m->scopes[i]);
	for (i = 0; i < m->nroutes; i++) {
		free(m->routes[i].host);
		free(m->routes[i].path);
	}
	for (i = 0; i < m->ngrants; i++)
		free(m->grants[i].path);
	free(m);
}

static void
unsign(struct btcore_manifest *m)
{
	m->is_signed = 0;
	memset(&m->owner, 0, sizeof(m->owner));
	memset(&m->sig, 0, sizeof(m->sig));
}

/* Replace *slot by a copy of s[0..n), if the result fits. */
static int
set_string(struct btcore_manifest *m, char **slot, const char *s, size_t n)
{
	char *copy, *old;
	int rc;

	if ((copy = dupn(s, n)) == NULL)
		return BT_ENOMEM;
	old = *slot;
	*slot = copy;
	if (encoded_size(m) > BTCORE_MANIFEST_MAX) {
		*slot = old;
		free(copy);
		rc = BT_ETOOBIG;
		goto out;
	}
	free(old);
	unsign(m);
	rc = BT_OK;
out:
	return rc;
}

static int
set_name(struct btcore_manifest *m, const char *s, size_t n)
{
	if (!valid_name(s, n))
		return BT_EINVAL;
	return set_string(m, &m->name, s, n);
}

static int
set_version(struct btcore_manifest *m, const char *s, size_t n)
{
	if (!valid_version(s, n))
		return BT_EINVAL;
	return set_string(m, &m->version, s, n);
}

static int
add_scope(struct btcore_manifest *m, const char *s, size_t n)
{
	size_t i;
	int rc;

	if (!btcore_scope_valid(s, n))
		return BT_EINVAL;
	for (i = 0; i < m->nscopes; i++)
		if (eq(m->scopes[i], s, n))
			return BT_EEXIST;
	if (m->nscopes == BTCORE_MANIFEST_SCOPES_MAX)
		return BT_ERANGE;
	if ((m->scopes[m->nscopes] = dupn(s, n)) == NULL)
		return BT_ENOMEM;
	m->nscopes++;
	if (encoded_size(m) > BTCORE_MANIFEST_MAX) {
		free(m->scopes[--m->nscopes]);
		rc = BT_ETOOBIG;
		goto out;
	}
	unsign(m);
	rc = BT_OK;
out:
	return rc;
}

static int
add_route(struct btcore_manifest *m, const char *host, size_t hn,
    const char *path, size_t pn)
{
	struct mf_route *r;
	size_t i;
	int rc;

	if (!valid_host(host, hn) || !valid_route_path(path, pn))
		return BT_EINVAL;
	for (i = 0; i < m->nroutes; i++)
		if (eq(m->routes[i].host, host, hn) &&
		    eq(m->routes[i].path, path, pn))
			return BT_EEXIST;
	if (m->nroutes == BTCORE_MANIFEST_ROUTES_MAX)
		return BT_ERANGE;
	r = &m->routes[m->nroutes];
	r->host = dupn(host, hn);
	r->path = dupn(path, pn);
	if (r->host == NULL || r->path == NULL) {
		rc = BT_ENOMEM;
		goto fail;
	}
	m->nroutes++;
	if (encoded_size(m) > BTCORE_MANIFEST_MAX) {
		m->nroutes--;
		rc = BT_ETOOBIG;
		goto fail;
	}
	unsign(m);
	rc = BT_OK;
	goto out;
fail:
	free(r->host);
	free(r->path);
	r->host = r->path = NULL;
out:
	return rc;
}

static int
add_grant(struct btcore_manifest *m, const char *path, size_t pn,
    int access)
{
	size_t i;
	int rc;

	if (!valid_grant_path(path, pn) || (access != BTCORE_MANIFEST_READ &&
	    access != BTCORE_MANIFEST_READ_WRITE))
		return BT_EINVAL;
	for (i = 0; i < m->ngrants; i++)
		if (eq(m->grants[i].path, path, pn))
			return BT_EEXIST;
	if (m->ngrants == BTCORE_MANIFEST_GRANTS_MAX)
		return BT_ERANGE;
	if ((m->grants[m->ngrants].path = dupn(path, pn)) == NULL)
		return BT_ENOMEM;
	m->grants[m->ngrants++].access = access;
	if (encoded_size(m) > BTCORE_MANIFEST_MAX) {
		free(m->grants[--m->ngrants].path);
		m->grants[m->ngrants].path = NULL;
		rc = BT_ETOOBIG;
		goto out;
	}
	unsign(m);
	rc = BT_OK;
out:
	return rc;
}

/* strlen bounded by @p max + 1, so an over-long string is refused. */
static size_t
slen(const char *s, size_t max)
{
	return strnlen(s, max + 1);
}

int
btcore_manifest_set_name(struct btcore_manifest *m, const char *s)
{
	if (m == NULL || s == NULL)
		return BT_EINVAL;
	return set_name(m, s, slen(s, BTCORE_MANIFEST_NAME_MAX));
}

int
btcore_manifest_set_version(struct btcore_manifest *m, const char *s)
{
	if (m == NULL || s == NULL)
		return BT_EINVAL;
	return set_version(m, s, slen(s, BTCORE_MANIFEST_VERSION_MAX));
}

int
btcore_manifest_add_scope(struct btcore_manifest *m, const char *scope)
{
	if (m == NULL || scope == NULL)
		return BT_EINVAL;
	return add_scope(m, scope, slen(scope, BTCORE_MANIFEST_SCOPE_MAX));
}

int
btcore_manifest_add_route(struct btcore_manifest *m, const char *host,
    const char *path)
{
	if (m == NULL || host == NULL || path == NULL)
		return BT_EINVAL;
	return add_route(m, host, slen(host, BTCORE_MANIFEST_HOST_MAX), path,
	    slen(path, BTCORE_MANIFEST_PATH_MAX));
}

int
btcore_manifest_add_grant(struct btcore_manifest *m, const char *path,
    int access)
{
	if (m == NULL || path == NULL)
		return BT_EINVAL;
	return add_grant(m, path, slen(path, BTCORE_MANIFEST_PATH_MAX), access);
}

/*
 * The signed message: the prefix and the encoding without "sig".
 * @p out receives a buffer the caller frees.
 */
static int
signed_message(const struct btcore_manifest *m, uint8_t **out, size_t *len)
{
	struct wbuf w = { NULL, SIG_PREFIX_LEN };

	encode(m, &w, 0);
	if ((w.p = malloc(w.len)) == NULL)
		return BT_ENOMEM;
	*len = w.len;
	memcpy(w.p, sig_prefix, SIG_PREFIX_LEN);
	w.len = SIG_PREFIX_LEN;
	encode(m, &w, 0);
	*out = w.p;
	return BT_OK;
}

int
btcore_manifest_sign(struct btcore_manifest *m,
    const struct btcore_signer *signer, uint8_t **out, size_t *out_len)
{
	uint8_t *msg = NULL;
	struct wbuf w = { NULL, 0 };
	size_t msg_len = 0;
	int rc;

	if (out != NULL)
		*out = NULL;
	if (out_len != NULL)
		*out_len = 0;
	if (m == NULL || signer == NULL || out == NULL || out_len == NULL)
		return BT_EINVAL;
	if (m->name == NULL || m->version == NULL)
		return BT_ESTATE;

	unsign(m);
	m->owner = signer->pub;
	if ((rc = signed_message(m, &msg, &msg_len)) != BT_OK)
		goto out;
	if ((rc = btcore_signer_sign(signer, msg, msg_len, &m->sig)) != BT_OK)
		goto out;
	if (btcore_sig_verify(&m->owner, msg, msg_len, &m->sig) != BT_OK) {
		rc = BT_EVERIFY;
		goto out;
	}
	encode(m, &w, 1);
	if ((w.p = malloc(w.len)) == NULL) {
		rc = BT_ENOMEM;
		goto out;
	}
	*out_len = w.len;
	w.len = 0;
	encode(m, &w, 1);
	*out = w.p;
	m->is_signed = 1;
	rc = BT_OK;
out:
	if (rc != BT_OK)
		unsign(m);
	free(msg);
	return rc;
}

void
btcore_manifest_bytes_free(uint8_t *buf)
{
	free(buf);
}

/* ---- decoding ---------------------------------------------------------- */

/* Builder errors met while decoding are format errors of the input. */
static int
as_format(int rc)
{
	return rc == BT_OK || rc == BT_ENOMEM || rc == BT_ERANGE ? rc :
	    BT_EFORMAT;
}

/* Advance to the next element, which must be @p key of @p type. */
static int
next_is(bson_iter_t *it, const char *key, bson_type_t type)
{
	return bson_iter_next(it) && strcmp(bson_iter_key(it), key) == 0 &&
	    bson_iter_type(it) == type;
}

static int
get_utf8(const bson_iter_t *it, const char **s, size_t *n)
{
	uint32_t len = 0;

	*s = bson_iter_utf8(it, &len);
	*n = len;
	/* no embedded NUL: the validators then see the whole string */
	return *s != NULL && strlen(*s) == len;
}

static int
get_bin(const bson_iter_t *it, uint8_t *dst, size_t n)
{
	bson_subtype_t sub;
	const uint8_t *d = NULL;
	uint32_t len = 0;

	bson_iter_binary(it, &sub, &len, &d);
	if (d == NULL || sub != BSON_SUBTYPE_BINARY || len != n)
		return 0;
	memcpy(dst, d, n);
	return 1;
}

static int
decode_scopes(struct btcore_manifest *m, bson_iter_t *arr)
{
	const char *s;
	size_t n;
	int rc;

	while (bson_iter_next(arr)) {
		if (bson_iter_type(arr) != BSON_TYPE_UTF8 ||
		    !get_utf8(arr, &s, &n))
			return BT_EFORMAT;
		if ((rc = as_format(add_scope(m, s, n))) != BT_OK)
			return rc;
	}
	return BT_OK;
}

/* A document of two strings under the keys @p k1 and @p k2, in order. */
static int
pair(bson_iter_t *el, const char *k1, const char *k2, const char **s1,
    size_t *n1, const char **s2, size_t *n2)
{
	bson_iter_t in;

	if (bson_iter_type(el) != BSON_TYPE_DOCUMENT ||
	    !bson_iter_recurse(el, &in))
		return 0;
	if (!next_is(&in, k1, BSON_TYPE_UTF8) || !get_utf8(&in, s1, n1))
		return 0;
	if (!next_is(&in, k2, BSON_TYPE_UTF8) || !get_utf8(&in, s2, n2))
		return 0;
	return !bson_iter_next(&in);
}

static int
decode_routes(struct btcore_manifest *m, bson_iter_t *arr)
{
	const char *h, *p;
	size_t hn, pn;
	int rc;

	while (bson_iter_next(arr)) {
		if (!pair(arr, "host", "path", &h, &hn, &p, &pn))
			return BT_EFORMAT;
		if ((rc = as_format(add_route(m, h, hn, p, pn))) != BT_OK)
			return rc;
	}
	return BT_OK;
}

static int
decode_grants(struct btcore_manifest *m, bson_iter_t *arr)
{
	const char *p, *a;
	size_t pn, an;
	int rc, access;

	while (bson_iter_next(arr)) {
		if (!pair(arr, "path", "access", &p, &pn, &a, &an))
			return BT_EFORMAT;
		if (an == 1 && a[0] == 'r')
			access = BTCORE_MANIFEST_READ;
		else if (an == 2 && a[0] == 'r' && a[1] == 'w')
			access = BTCORE_MANIFEST_READ_WRITE;
		else
			return BT_EFORMAT;
		if ((rc = as_format(add_grant(m, p, pn, access))) != BT_OK)
			return rc;
	}
	return BT_OK;
}

int
btcore_manifest_decode(struct btcore_manifest **out, const void *data,
    size_t len)
{
	struct btcore_manifest *m = NULL;
	const uint8_t *in = data;
	uint8_t *msg = NULL, *again = NULL;
	struct wbuf w = { NULL, 0 };
	struct bt_pubkey owner;
	struct bt_sig sig;
	bson_iter_t it, arr;
	bson_t b;
	const char *s;
	size_t n, msg_len, declared;
	int rc;

	if (out != NULL)
		*out = NULL;
	rc = BT_EINVAL;
	if (out == NULL || data == NULL)
		goto out;
	rc = BT_ETOOBIG;
	if (len > BTCORE_MANIFEST_MAX)
		goto out;
	rc = BT_ETRUNC;
	if (len < 5)
		goto out;
	declared = (size_t)in[0] | (size_t)in[1] << 8 | (size_t)in[2] << 16 |
	    (size_t)in[3] << 24;
	if (declared > len)
		goto out;
	rc = BT_EFORMAT;
	if (declared != len || !bson_init_static(&b, in, len) ||
	    !bson_iter_init(&it, &b))
		goto out;
	if ((rc = btcore_manifest_new(&m)) != BT_OK)
		goto out;
	rc = BT_EFORMAT;
	if (!next_is(&it, "name", BSON_TYPE_UTF8) || !get_utf8(&it, &s, &n) ||
	    (rc = as_format(set_name(m, s, n))) != BT_OK)
		goto out;
	rc = BT_EFORMAT;
	if (!next_is(&it, "version", BSON_TYPE_UTF8) ||
	    !get_utf8(&it, &s, &n) ||
	    (rc = as_format(set_version(m, s, n))) != BT_OK)
		goto out;
	rc = BT_EFORMAT;
	if (!next_is(&it, "owner", BSON_TYPE_BINARY) ||
	    !get_bin(&it, owner.b, sizeof(owner.b)))
		goto out;
	if (!next_is(&it, "scopes", BSON_TYPE_ARRAY) ||
	    !bson_iter_recurse(&it, &arr) ||
	    (rc = decode_scopes(m, &arr)) != BT_OK)
		goto out;
	rc = BT_EFORMAT;
	if (!next_is(&it, "routes", BSON_TYPE_ARRAY) ||
	    !bson_iter_recurse(&it, &arr) ||
	    (rc = decode_routes(m, &arr)) != BT_OK)
		goto out;
	rc = BT_EFORMAT;
	if (!next_is(&it, "grants", BSON_TYPE_ARRAY) ||
	    !bson_iter_recurse(&it, &arr) ||
	    (rc = decode_grants(m, &arr)) != BT_OK)
		goto out;
	rc = BT_EFORMAT;
	if (!next_is(&it, "sig", BSON_TYPE_BINARY) ||
	    !get_bin(&it, sig.b, sizeof(sig.b)) || bson_iter_next(&it))
		goto out;
	/* set last: the builder calls above clear them */
	m->owner = owner;
	m->sig = sig;

	/* one encoding only: re-encode and compare */
	encode(m, &w, 1);
	if (w.len != len)
		goto out;
	if ((w.p = again = malloc(len)) == NULL) {
		rc = BT_ENOMEM;
		goto out;
	}
	w.len = 0;
	encode(m, &w, 1);
	if (memcmp(again, in, len) != 0)
		goto out;

	if ((rc = signed_message(m, &msg, &msg_len)) != BT_OK)
		goto out;
	if (btcore_sig_verify(&m->owner, msg, msg_len, &m->sig) != BT_OK) {
		rc = BT_EVERIFY;
		goto out;
	}
	m->is_signed = 1;
	*out = m;
	m = NULL;
	rc = BT_OK;
out:
	btcore_manifest_free(m);
	free(again);
	free(msg);
	return rc;
}

/* ---- accessors and policy ---------------------------------------------- */

const char *
btcore_manifest_name(const struct btcore_manifest *m)
{
	return m != NULL ? m->name : NULL;
}

const char *
btcore_manifest_version(const struct btcore_manifest *m)
{
	return m != NULL ? m->version : NULL;
}

const struct bt_pubkey *
btcore_manifest_owner(const struct btcore_manifest *m)
{
	return m != NULL && m->is_signed ? &m->owner : NULL;
}

size_t
btcore_manifest_scope_count(const struct btcore_manifest *m)
{
	return m != NULL ? m->nscopes : 0;
}

const char *
btcore_manifest_scope(const struct btcore_manifest *m, size_t i)
{
	return m != NULL && i < m->nscopes ? m->scopes[i] : NULL;
}

size_t
btcore_manifest_route_count(const struct btcore_manifest *m)
{
	return m != NULL ? m->nroutes : 0;
}

int
btcore_manifest_route(const struct btcore_manifest *m, size_t i,
    const char **host, const char **path)
{
	if (host != NULL)
		*host = NULL;
	if (path != NULL)
		*path = NULL;
	if (m == NULL || host == NULL || path == NULL)
		return BT_EINVAL;
	if (i >= m->nroutes)
		return BT_ERANGE;
	*host = m->routes[i].host;
	*path = m->routes[i].path;
	return BT_OK;
}

size_t
btcore_manifest_grant_count(const struct btcore_manifest *m)
{
	return m != NULL ? m->ngrants : 0;
}

int
btcore_manifest_grant(const struct btcore_manifest *m, size_t i,
    const char **path, int *access)
{
	if (path != NULL)
		*path = NULL;
	if (access != NULL)
		*access = 0;
	if (m == NULL || path == NULL || access == NULL)
		return BT_EINVAL;
	if (i >= m->ngrants)
		return BT_ERANGE;
	*path = m->grants[i].path;
	*access = m->grants[i].access;
	return BT_OK;
}

int
btcore_manifest_allows_scope(const struct btcore_manifest *m,
    const char *scope)
{
	size_t i, n;

	if (m == NULL || scope == NULL)
		return 0;
	n = slen(scope, BTCORE_MANIFEST_SCOPE_MAX);
	for (i = 0; i < m->nscopes; i++)
		if (eq(m->scopes[i], scope, n))
			return 1;
	return 0;
}

static int
host_eq(const char *mine, const char *host, size_t n)
{
	size_t i;
	char c;

	if (strlen(mine) != n)
		return 0;
	for (i = 0; i < n; i++) {
		c = host[i];
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (c != mine[i])
			return 0;
	}
	return 1;
}

int
btcore_manifest_allows_route(const struct btcore_manifest *m,
    const char *host, const char *path)
{
	size_t i, hn, pn;

	if (m == NULL || host == NULL || path == NULL)
		return 0;
	hn = slen(host, BTCORE_MANIFEST_HOST_MAX);
	pn = slen(path, BTCORE_MANIFEST_PATH_MAX);
	if (!valid_route_path(path, pn))
		return 0;
	for (i = 0; i < m->nroutes; i++)
		if (host_eq(m->routes[i].host, host, hn) &&
		    covers(m->routes[i].path, strlen(m->routes[i].path), path,
		    pn))
			return 1;
	return 0;
}

int
btcore_manifest_allows_path(const struct btcore_manifest *m,
    const char *path, int want_write)
{
	size_t i, pn;

	if (m == NULL || path == NULL)
		return 0;
	pn = slen(path, BTCORE_MANIFEST_PATH_MAX);
	if (!valid_grant_path(path, pn))
		return 0;
	for (i = 0; i < m->ngrants; i++)
		if (covers(m->grants[i].path, strlen(m->grants[i].path), path,
		    pn) && (!want_write ||
		    m->grants[i].access == BTCORE_MANIFEST_READ_WRITE))
			return 1;
	return 0;
}
