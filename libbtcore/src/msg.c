/*
 * msg.c - wire messages: the schema table, typed setters and getters,
 * schema-checked BSON encoding and decoding.
 */
#include <bt/msg.h>
#include <bt/scope.h>
#include <bt/record.h>

/* libbson's own headers trip -Wcast-qual (and clang's -Wnewline-eof). */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wcast-qual"
#ifdef __clang__
#pragma clang diagnostic ignored "-Wnewline-eof"
#endif
#include <bson.h>
#pragma GCC diagnostic pop

#include <stdlib.h>
#include <string.h>

#define VALUE_MAX	BT_MSG_MAX

/* One field per line: name, type, presence, min, max, item length. */
#define F(f, n, t, p, lo, hi, il) \
	{ BTCORE_MSG_F_##f, n, BTCORE_MSG_T_##t, BTCORE_MSG_##p, lo, hi, il }
#define ID(p)		F(ID, "id", BIN, p, BT_ID_LEN, BT_ID_LEN, 0)
#define KEY(p)		F(KEY, "key", BIN, p, BT_ID_LEN, BT_ID_LEN, 0)
#define PUBKEY(p)	F(PUBKEY, "pubkey", BIN, p, 32, 32, 0)
#define VALUE(p)	F(VALUE, "value", BIN, p, 0, VALUE_MAX, 0)
#define IP(p)		F(IP, "ip", ADDR, p, 0, 0, 0)
#define PORT(p)		F(PORT, "port", INT32, p, 1, 65535, 0)
#define STORED(p)	F(STORED, "stored", BOOL, p, 0, 1, 0)
#define NODES(p)	F(NODES, "nodes", NODES, p, 0, BT_K, 0)
#define LIMIT(p)	F(LIMIT, "limit", INT32, p, 1, BTCORE_MSG_BAG_MAX, 0)
#define VALUES(p)	F(VALUES, "values", BINS, p, 0, BTCORE_MSG_BAG_MAX, 32)
#define TOKEN(p)	F(TOKEN, "token", BIN, p, 1, BTCORE_MSG_TOKEN_MAX, 0)
#define RECORD(p)	F(RECORD, "record", BIN, p, BTCORE_MSG_RECORD_MIN, \
			    BTCORE_RECORD_ENC_MAX, 0)

static const struct btcore_msg_field_spec f_iam[] = {
	ID(REQUIRED), PORT(OPTIONAL)
};
static const struct btcore_msg_field_spec f_welcome[] = {
	ID(REQUIRED), IP(REQUIRED), PORT(REQUIRED)
};
static const struct btcore_msg_field_spec f_key[] = { KEY(REQUIRED) };
static const struct btcore_msg_field_spec f_nodes[] = {
	NODES(REQUIRED), TOKEN(OPTIONAL)
};
static const struct btcore_msg_field_spec f_set[] = {
	VALUE(REQUIRED), TOKEN(REQUIRED)
};
static const struct btcore_msg_field_spec f_stored[] = {
	STORED(REQUIRED), NODES(OPTIONAL)
};
static const struct btcore_msg_field_spec f_ref_rep[] = {
	VALUE(ALT_A), NODES(ALT_B), TOKEN(OPTIONAL)
};
static const struct btcore_msg_field_spec f_bag_add[] = {
	KEY(REQUIRED), F(VALUE, "value", BIN, REQUIRED, 32, 32, 0),
	TOKEN(REQUIRED)
};
static const struct btcore_msg_field_spec f_bag_req[] = {
	KEY(REQUIRED), LIMIT(REQUIRED)
};
static const struct btcore_msg_field_spec f_bag_rep[] = {
	VALUES(REQUIRED), NODES(OPTIONAL)
};
static const struct btcore_msg_field_spec f_ns_set[] = {
	RECORD(REQUIRED), TOKEN(REQUIRED)
};
static const struct btcore_msg_field_spec f_ns_ref[] = {
	PUBKEY(REQUIRED),
	F(KEY, "key", BIN, REQUIRED, 1, BTCORE_RECORD_KEY_MAX, 0)
};
static const struct btcore_msg_field_spec f_ns_ref_rep[] = {
	RECORD(ALT_A), NODES(ALT_B), TOKEN(OPTIONAL)
};
static const struct btcore_msg_field_spec f_hello[] = {
	IP(OPTIONAL), PORT(OPTIONAL)
};
static const struct btcore_msg_field_spec f_rpc_req[] = {
	F(SCOPE, "scope", STR, REQUIRED, 1, BTCORE_MSG_SCOPE_MAX, 0),
	F(ARGS, "args", DOC, REQUIRED, 5, VALUE_MAX, 0)
};
static const struct btcore_msg_field_spec f_rpc_rep[] = {
	F(RESULT, "result", DOC, REQUIRED, 5, VALUE_MAX, 0)
};
static const struct btcore_msg_field_spec f_direct[] = {
	F(SCOPE, "scope", STR, REQUIRED, 1, BTCORE_MSG_SCOPE_MAX, 0),
	VALUE(REQUIRED)
};
static const struct btcore_msg_field_spec f_pubsub[] = {
	KEY(REQUIRED), ID(REQUIRED), PUBKEY(REQUIRED),
	F(SEQ, "seq", INT64, REQUIRED, 0, INT64_MAX, 0),
	F(HOPS, "hops", INT32, REQUIRED, 0, 255, 0),
	VALUE(REQUIRED),
	F(SIG, "sig", BIN, REQUIRED, 64, 64, 0)
};
static const struct btcore_msg_field_spec f_stored_only[] = {
	STORED(REQUIRED)
};
static const struct btcore_msg_field_spec f_peerfile[] = {
	F(VALUE, "value", BIN, REQUIRED, 1, BTCORE_MSG_PEERFILE_MAX, 0)
};
static const struct btcore_msg_field_spec f_id[] = { ID(REQUIRED) };
#define CIRCUIT(p)	F(CIRCUIT, "circuit", INT64, p, 1, INT64_MAX, 0)
static const struct btcore_msg_field_spec f_circuit[] = {
	CIRCUIT(REQUIRED)
};
static const struct btcore_msg_field_spec f_relay_incoming[] = {
	CIRCUIT(REQUIRED), ID(REQUIRED)
};
static const struct btcore_msg_field_spec f_relay_data[] = {
	CIRCUIT(REQUIRED),
	F(VALUE, "value", BIN, REQUIRED, 1, BTCORE_MSG_RELAY_CHUNK_MAX, 0)
};
static const struct btcore_msg_field_spec f_admit[] = {
	F(VALUE, "value", BIN, REQUIRED, 0, BTCORE_MSG_ADMIT_MAX, 0)
};
static const struct btcore_msg_field_spec f_admit_challenge[] = {
	F(VALUE, "value", BIN, REQUIRED, 1, BTCORE_MSG_ADMIT_MAX, 0)
};
static const struct btcore_msg_field_spec f_admit_answer[] = {
	F(VALUE, "value", BIN, REQUIRED, BTCORE_MSG_ADMIT_ANSWER_LEN,
	    BTCORE_MSG_ADMIT_ANSWER_LEN, 0)
};
static const struct btcore_msg_field_spec f_error[] = {
	F(CODE, "code", INT32, REQUIRED, INT32_MIN, INT32_MAX, 0),
	F(TEXT, "text", STR, REQUIRED, 0, BTCORE_MSG_TEXT_MAX, 0)
};

#define S(t, op, r, f) \
	{ BTCORE_MSG_##t, op, r, f, sizeof(f) / sizeof((f)[0]) }
#define S0(t, op, r)	{ BTCORE_MSG_##t, op, r, NULL, 0 }

/* In enum order: specs[t - 1] is the schema of type t. */
static const struct btcore_msg_spec specs[] = {
	S0(PING_REQ, "ping", 0),
	S0(PING_REP, "ping", 1),
	S(IAM, "iam", 0, f_iam),
	S(WELCOME, "welcome", 1, f_welcome),
	S(PEERS_REQ, "peers", 0, f_key),
	S(PEERS_REP, "peers", 1, f_nodes),
	S(SET_REQ, "set", 0, f_set),
	S(SET_REP, "set", 1, f_stored),
	S(REF_REQ, "ref", 0, f_key),
	S(REF_REP, "ref", 1, f_ref_rep),
	S(BAG_ADD_REQ, "bag-add", 0, f_bag_add),
	S(BAG_ADD_REP, "bag-add", 1, f_stored),
	S(POPULAR_REQ, "popular", 0, f_bag_req),
	S(POPULAR_REP, "popular", 1, f_bag_rep),
	S(RECENT_REQ, "recent", 0, f_bag_req),
	S(RECENT_REP, "recent", 1, f_bag_rep),
	S(SAMPLE_REQ, "sample", 0, f_bag_req),
	S(SAMPLE_REP, "sample", 1, f_bag_rep),
	S(NS_SET_REQ, "namespace-set", 0, f_ns_set),
	S(NS_SET_REP, "namespace-set", 1, f_stored),
	S(NS_REF_REQ, "namespace-ref", 0, f_ns_ref),
	S(NS_REF_REP, "namespace-ref", 1, f_ns_ref_rep),
	S(ERROR, "error", 1, f_error),
	S(HELLO, "hello", 0, f_hello),
	S(RPC_REQ, "rpc", 0, f_rpc_req),
	S(RPC_REP, "rpc", 1, f_rpc_rep),
	S(DIRECT, "direct", 0, f_direct),
	S0(DIRECT_OPEN_REQ, "direct-open", 0),
	S0(DIRECT_OPEN_REP, "direct-open", 1),
	S0(DIRECT_CLOSE, "direct-close", 0),
	S(PUBSUB, "pubsub", 0, f_pubsub),
	S(PUBSUB_GRAFT_REQ, "pubsub-graft", 0, f_key),
	S(PUBSUB_GRAFT_REP, "pubsub-graft", 1, f_stored_only),
	S(PUBSUB_PRUNE, "pubsub-prune", 0, f_key),
	S(FRIEND_HELLO_REQ, "friend-hello", 0, f_peerfile),
	S(FRIEND_HELLO_REP, "friend-hello", 1, f_peerfile),
	S(WHERE_IS_REQ, "where-is", 0, f_id),
	S(WHERE_IS_REP, "where-is", 1, f_peerfile),
	S0(RELAY_REGISTER_REQ, "relay-register", 0),
	S(RELAY_REGISTER_REP, "relay-register", 1, f_stored_only),
	S(RELAY_OPEN_REQ, "relay-open", 0, f_id),
	S(RELAY_OPEN_REP, "relay-open", 1, f_circuit),
	S(RELAY_INCOMING, "relay-incoming", 0, f_relay_incoming),
	S(RELAY_DATA, "relay-data", 0, f_relay_data),
	S(RELAY_CLOSE, "relay-close", 0, f_circuit),
	S(ADMIT_REQ, "admit", 0, f_admit),
	S(ADMIT_REP, "admit", 1, f_admit),
	S(ADMIT_CHALLENGE_REQ, "admit-challenge", 0, f_admit_challenge),
	S(ADMIT_CHALLENGE_REP, "admit-challenge", 1, f_admit_answer),
};

#define NSPECS	(sizeof(specs) / sizeof(specs[0]))

/* Wire keys by field, for decoding. */
static const char *const field_names[BTCORE_MSG_F_COUNT] = {
	"id", "ip", "port", "key", "value", "stored", "nodes", "limit",
	"values", "pubkey", "code", "text", "token", "record", "scope",
	"args", "result", "seq", "hops", "sig", "circuit"
};

struct slot {
	int present;
	int64_t i;		/* INT32, INT64, BOOL */
	const uint8_t *p;	/* BIN, ADDR, STR, BINS items */
	size_t len;		/* bytes, or items of BINS */
	uint8_t *own;		/* owned copy p points into, if any */
};

struct btcore_msg {
	const struct btcore_msg_spec *spec;
	int64_t tid;
	struct slot s[BTCORE_MSG_F_COUNT];
	struct btcore_msg_node nodes[BT_K];
	uint8_t *buf;		/* copy of the decoded input */
};

size_t
btcore_msg_spec_count(void)
{
	return NSPECS;
}

const struct btcore_msg_spec *
btcore_msg_spec_at(size_t i)
{
	return i < NSPECS ? &specs[i] : NULL;
}

const struct btcore_msg_spec *
btcore_msg_spec_of(enum btcore_msg_type type)
{
	if ((int)type < 1 || (size_t)type > NSPECS)
		return NULL;
	return &specs[type - 1];
}

/* The field spec of @p f in @p m's schema, or NULL. */
static const struct btcore_msg_field_spec *
fspec(const struct btcore_msg *m, enum btcore_msg_field f)
{
	size_t i;

	if (m == NULL)
		return NULL;
	for (i = 0; i < m->spec->nfields; i++)
		if (m->spec->fields[i].field == f)
			return &m->spec->fields[i];
	return NULL;
}

static const struct btcore_msg_field_spec *
fspec_typed(const struct btcore_msg *m, enum btcore_msg_field f,
    enum btcore_msg_ftype t1, enum btcore_msg_ftype t2)
{
	const struct btcore_msg_field_spec *fs = fspec(m, f);

	if (fs == NULL || (fs->type != t1 && fs->type != t2))
		return NULL;
	return fs;
}

static void
slot_clear(struct slot *s)
{
	free(s->own);
	memset(s, 0, sizeof(*s));
}

int
btcore_msg_new(struct btcore_msg **out, enum btcore_msg_type type,
    int64_t tid)
{
	const struct btcore_msg_spec *spec = btcore_msg_spec_of(type);
	struct btcore_msg *m;

	if (out == NULL)
		return BT_EINVAL;
	*out = NULL;
	if (spec == NULL)
		return BT_EINVAL;
	if ((m = calloc(1, sizeof(*m))) == NULL)
		return BT_ENOMEM;
	m->spec = spec;
	m->tid = tid;
	*out = m;
	return BT_OK;
}

void
btcore_msg_free(struct btcore_msg *m)
{
	size_t i;

	if (m == NULL)
		return;
	for (i = 0; i < BTCORE_MSG_F_COUNT; i++)
		free(m->s[i].own);
	free(m->buf);
	free(m);
}

enum btcore_msg_type
btcore_msg_type(const struct btcore_msg *m)
{
	return m->spec->type;
}

const char *
btcore_msg_op(const struct btcore_msg *m)
{
	return m->spec->op;
}

int
btcore_msg_is_reply(const struct btcore_msg *m)
{
	return m->spec->reply;
}

int64_t
btcore_msg_tid(const struct btcore_msg *m)
{
	return m->tid;
}

/* ---- setters -------------------------------------------------------- */

/* Exactly one valid BSON document of @p len bytes (UTF-8 checked). */
static int
doc_ok(const uint8_t *p, size_t len)
{
	bson_t doc;
	uint32_t declared;

	if (len < 5 || len > BT_MSG_MAX)
		return 0;
	declared = (uint32_t)p[0] | ((uint32_t)p[1] << 8) |
	    ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
	/* libbson does not look at the document's final byte */
	return declared == len && p[len - 1] == 0 &&
	    bson_init_static(&doc, p, len) &&
	    bson_validate(&doc, BSON_VALIDATE_UTF8, NULL);
}

int
btcore_msg_set_bin(struct btcore_msg *m, enum btcore_msg_field f,
    const void *p, size_t len)
{
	const struct btcore_msg_field_spec *fs;
	uint8_t *copy;

	fs = fspec(m, f);
	if (fs != NULL && fs->type != BTCORE_MSG_T_BIN &&
	    fs->type != BTCORE_MSG_T_ADDR && fs->type != BTCORE_MSG_T_DOC)
		fs = NULL;
	if (fs == NULL || (p == NULL && len != 0))
		return BT_EINVAL;
	if (fs->type == BTCORE_MSG_T_ADDR ? (len != 4 && len != 16) :
	    ((int64_t)len < fs->min || (uint64_t)len > (uint64_t)fs->max))
		return BT_ERANGE;
	if (fs->type == BTCORE_MSG_T_DOC && !doc_ok(p, len))
		return BT_EFORMAT;
	if ((copy = malloc(len ? len : 1)) == NULL)
		return BT_ENOMEM;
	if (len)
		memcpy(copy, p, len);
	slot_clear(&m->s[f]);
	m->s[f].present = 1;
	m->s[f].own = copy;
	m->s[f].p = copy;
	m->s[f].len = len;
	return BT_OK;
}

int
btcore_msg_set_str(struct btcore_msg *m, enum btcore_msg_field f,
    const char *str, size_t len)
{
	const struct btcore_msg_field_spec *fs;
	uint8_t *copy;

	fs = fspec_typed(m, f, BTCORE_MSG_T_STR, BTCORE_MSG_T_STR);
	if (fs == NULL || (str == NULL && len != 0) ||
	    (len != 0 && !bson_utf8_validate(str, len, false)))
		return BT_EINVAL;
	if ((int64_t)len < fs->min || (uint64_t)len > (uint64_t)fs->max)
		return BT_ERANGE;
	if (f == BTCORE_MSG_F_SCOPE && !btcore_scope_valid(str, len))
		return BT_EINVAL;
	if ((copy = malloc(len + 1)) == NULL)
		return BT_ENOMEM;
	if (len)
		memcpy(copy, str, len);
	copy[len] = '\0';
	slot_clear(&m->s[f]);
	m->s[f].present = 1;
	m->s[f].own = copy;
	m->s[f].p = copy;
	m->s[f].len = len;
	return BT_OK;
}

int
btcore_msg_set_int64(struct btcore_msg *m, enum btcore_msg_field f,
    int64_t v)
{
	const struct btcore_msg_field_spec *fs;

	fs = fspec_typed(m, f, BTCORE_MSG_T_INT32, BTCORE_MSG_T_INT64);
	if (fs == NULL)
		return BT_EINVAL;
	if (v < fs->min || v > fs->max)
		return BT_ERANGE;
	slot_clear(&m->s[f]);
	m->s[f].present = 1;
	m->s[f].i = v;
	return BT_OK;
}

int
btcore_msg_set_bool(struct btcore_msg *m, enum btcore_msg_field f, int v)
{
	if (fspec_typed(m, f, BTCORE_MSG_T_BOOL, BTCORE_MSG_T_BOOL) == NULL)
		return BT_EINVAL;
	slot_clear(&m->s[f]);
	m->s[f].present = 1;
	m->s[f].i = v != 0;
	return BT_OK;
}

int
btcore_msg_set_empty(struct btcore_msg *m, enum btcore_msg_field f)
{
	if (fspec_typed(m, f, BTCORE_MSG_T_NODES, BTCORE_MSG_T_BINS) == NULL)
		return BT_EINVAL;
	slot_clear(&m->s[f]);
	m->s[f].present = 1;
	return BT_OK;
}

int
btcore_msg_add_node(struct btcore_msg *m, const struct btcore_msg_node *n)
{
	const struct btcore_msg_field_spec *fs;
	struct slot *s;

	fs = fspec_typed(m, BTCORE_MSG_F_NODES, BTCORE_MSG_T_NODES,
	    BTCORE_MSG_T_NODES);
	if (fs == NULL || n == NULL)
		return BT_EINVAL;
	s = &m->s[BTCORE_MSG_F_NODES];
	if ((n->ip_len != 4 && n->ip_len != 16) || n->port == 0 ||
	    (int64_t)s->len >= fs->max)
		return BT_ERANGE;
	m->nodes[s->len] = *n;
	if (n->ip_len == 4)
		memset(m->nodes[s->len].ip + 4, 0, 12);
	s->len++;
	s->present = 1;
	return BT_OK;
}

int
btcore_msg_add_bin(struct btcore_msg *m, enum btcore_msg_field f,
    const void *p, size_t len)
{
	const struct btcore_msg_field_spec *fs;
	struct slot *s;

	fs = fspec_typed(m, f, BTCORE_MSG_T_BINS, BTCORE_MSG_T_BINS);
	if (fs == NULL || p == NULL)
		return BT_EINVAL;
	s = &m->s[f];
	if (len != fs->item_len || (int64_t)s->len >= fs->max)
		return BT_ERANGE;
	if (s->own == NULL) {
		if ((s->own = malloc((size_t)fs->max * fs->item_len)) == NULL)
			return BT_ENOMEM;
		s->p = s->own;
	}
	memcpy(s->own + s->len * fs->item_len, p, len);
	s->len++;
	s->present = 1;
	return BT_OK;
}

/* ---- getters -------------------------------------------------------- */

int
btcore_msg_has(const struct btcore_msg *m, enum btcore_msg_field f)
{
	return fspec(m, f) != NULL && m->s[f].present;
}

int
btcore_msg_get_bin(const struct btcore_msg *m, enum btcore_msg_field f,
    const uint8_t **p, size_t *len)
{
	if (p != NULL)
		*p = NULL;
	if (len != NULL)
		*len = 0;
	if (p == NULL || len == NULL || (fspec_typed(m, f, BTCORE_MSG_T_BIN,
	    BTCORE_MSG_T_ADDR) == NULL && fspec_typed(m, f, BTCORE_MSG_T_DOC,
	    BTCORE_MSG_T_DOC) == NULL))
		return BT_EINVAL;
	if (!m->s[f].present)
		return BT_ENOTFOUND;
	*p = m->s[f].p;
	*len = m->s[f].len;
	return BT_OK;
}

int
btcore_msg_get_str(const struct btcore_msg *m, enum btcore_msg_field f,
    const char **str, size_t *len)
{
	if (str != NULL)
		*str = NULL;
	if (len != NULL)
		*len = 0;
	if (str == NULL || len == NULL ||
	    fspec_typed(m, f, BTCORE_MSG_T_STR, BTCORE_MSG_T_STR) == NULL)
		return BT_EINVAL;
	if (!m->s[f].present)
		return BT_ENOTFOUND;
	*str = (const char *)m->s[f].p;
	*len = m->s[f].len;
	return BT_OK;
}

int
btcore_msg_get_int64(const struct btcore_msg *m, enum btcore_msg_field f,
    int64_t *v)
{
	if (v != NULL)
		*v = 0;
	if (v == NULL ||
	    fspec_typed(m, f, BTCORE_MSG_T_INT32, BTCORE_MSG_T_INT64) == NULL)
		return BT_EINVAL;
	if (!m->s[f].present)
		return BT_ENOTFOUND;
	*v = m->s[f].i;
	return BT_OK;
}

int
btcore_msg_get_bool(const struct btcore_msg *m, enum btcore_msg_field f,
    int *v)
{
	if (v != NULL)
		*v = 0;
	if (v == NULL ||
	    fspec_typed(m, f, BTCORE_MSG_T_BOOL, BTCORE_MSG_T_BOOL) == NULL)
		return BT_EINVAL;
	if (!m->s[f].present)
		return BT_ENOTFOUND;
	*v = (int)m->s[f].i;
	return BT_OK;
}

size_t
btcore_msg_node_count(const struct btcore_msg *m)
{
	if (fspec(m, BTCORE_MSG_F_NODES) == NULL)
		return 0;
	return m->s[BTCORE_MSG_F_NODES].len;
}

int
btcore_msg_node_at(const struct btcore_msg *m, size_t i,
    struct btcore_msg_node *out)
{
	if (out == NULL)
		return BT_EINVAL;
	memset(out, 0, sizeof(*out));
	if (fspec(m, BTCORE_MSG_F_NODES) == NULL)
		return BT_EINVAL;
	if (i >= m->s[BTCORE_MSG_F_NODES].len)
		return BT_ERANGE;
	*out = m->nodes[i];
	return BT_OK;
}

size_t
btcore_msg_bin_count(const struct btcore_msg *m, enum btcore_msg_field f)
{
	if (fspec_typed(m, f, BTCORE_MSG_T_BINS, BTCORE_MSG_T_BINS) == NULL)
		return 0;
	return m->s[f].len;
}

int
btcore_msg_bin_at(const struct btcore_msg *m, enum btcore_msg_field f,
    size_t i, const uint8_t **p, size_t *len)
{
	const struct btcore_msg_field_spec *fs;

	if (p != NULL)
		*p = NULL;
	if (len != NULL)
		*len = 0;
	fs = fspec_typed(m, f, BTCORE_MSG_T_BINS, BTCORE_MSG_T_BINS);
	if (fs == NULL || p == NULL || len == NULL)
		return BT_EINVAL;
	if (i >= m->s[f].len)
		return BT_ERANGE;
	*p = m->s[f].p + i * fs->item_len;
	*len = fs->item_len;
	return BT_OK;
}

/* ---- schema presence ------------------------------------------------ */

/*
 * Required fields present; when the schema has alternatives, exactly one
 * group present and complete.  @p have is indexed by field.
 */
static int
presence_ok(const struct btcore_msg_spec *spec, const int *have)
{
	const struct btcore_msg_field_spec *fs;
	int any[2] = { 0, 0 }, all[2] = { 1, 1 }, alts = 0, g;
	size_t i;

	for (i = 0; i < spec->nfields; i++) {
		fs = &spec->fields[i];
		if (fs->presence == BTCORE_MSG_REQUIRED && !have[fs->field])
			return 0;
		if (fs->presence != BTCORE_MSG_ALT_A &&
		    fs->presence != BTCORE_MSG_ALT_B)
			continue;
		alts = 1;
		g = fs->presence == BTCORE_MSG_ALT_B;
		if (have[fs->field])
			any[g] = 1;
		else
			all[g] = 0;
	}
	if (!alts)
		return 1;
	return (any[0] && all[0] && !any[1]) || (any[1] && all[1] && !any[0]);
}

/* ---- encoding ------------------------------------------------------- */

static int
append_nodes(bson_t *doc, const char *name, const struct btcore_msg *m)
{
	bson_t arr, nd;
	const struct btcore_msg_node *n;
	const char *key;
	char kbuf[16];
	size_t i, klen;

	if (!bson_append_array_begin(doc, name, -1, &arr))
		return 0;
	for (i = 0; i < m->s[BTCORE_MSG_F_NODES].len; i++) {
		n = &m->nodes[i];
		klen = bson_uint32_to_string((uint32_t)i, &key, kbuf,
		    sizeof(kbuf));
		if (!bson_append_document_begin(&arr, key, (int)klen, &nd))
			goto fail;
		if (!bson_append_binary(&nd, "id", 2, BSON_SUBTYPE_BINARY,
		    n->id.b, BT_ID_LEN) ||
		    !bson_append_binary(&nd, "ip", 2, BSON_SUBTYPE_BINARY,
		    n->ip, n->ip_len) ||
		    !bson_append_int32(&nd, "port", 4, n->port)) {
			bson_append_document_end(&arr, &nd);
			goto fail;
		}
		if (!bson_append_document_end(&arr, &nd))
			goto fail;
	}
	return bson_append_array_end(doc, &arr);
fail:
	bson_append_array_end(doc, &arr);
	return 0;
}

static int
append_bins(bson_t *doc, const char *name, const struct slot *s,
    size_t item_len)
{
	bson_t arr;
	const char *key;
	char kbuf[16];
	size_t i, klen;
	int ok = 1;

	if (!bson_append_array_begin(doc, name, -1, &arr))
		return 0;
	for (i = 0; ok && i < s->len; i++) {
		klen = bson_uint32_to_string((uint32_t)i, &key, kbuf,
		    sizeof(kbuf));
		ok = bson_append_binary(&arr, key, (int)klen,
		    BSON_SUBTYPE_BINARY, s->p + i * item_len,
		    (uint32_t)item_len);
	}
	return bson_append_array_end(doc, &arr) && ok;
}

static int
append_field(bson_t *doc, const struct btcore_msg_field_spec *fs,
    const struct btcore_msg *m)
{
	const struct slot *s = &m->s[fs->field];

	switch (fs->type) {
	case BTCORE_MSG_T_BIN:
	case BTCORE_MSG_T_ADDR:
		return bson_append_binary(doc, fs->name, -1,
		    BSON_SUBTYPE_BINARY, s->p, (uint32_t)s->len);
	case BTCORE_MSG_T_INT32:
		return bson_append_int32(doc, fs->name, -1, (int32_t)s->i);
	case BTCORE_MSG_T_INT64:
		return bson_append_int64(doc, fs->name, -1, s->i);
	case BTCORE_MSG_T_BOOL:
		return bson_append_bool(doc, fs->name, -1, s->i != 0);
	case BTCORE_MSG_T_STR:
		return bson_append_utf8(doc, fs->name, -1,
		    (const char *)s->p, (int)s->len);
	case BTCORE_MSG_T_NODES:
		return append_nodes(doc, fs->name, m);
	case BTCORE_MSG_T_BINS:
		return append_bins(doc, fs->name, s, fs->item_len);
	case BTCORE_MSG_T_DOC: {
		bson_t sub;

		return bson_init_static(&sub, s->p, s->len) &&
		    bson_append_document(doc, fs->name, -1, &sub);
	}
	}
	return 0;
}

int
btcore_msg_encode(const struct btcore_msg *m, uint8_t **out,
    size_t *out_len)
{
	int have[BTCORE_MSG_F_COUNT];
	const struct btcore_msg_field_spec *fs;
	bson_t doc;
	uint32_t len = 0;
	size_t i;
	int rc = BT_ENOMEM, inited = 0;

	if (out != NULL)
		*out = NULL;
	if (out_len != NULL)
		*out_len = 0;
	if (m == NULL || out == NULL || out_len == NULL)
		return BT_EINVAL;
	for (i = 0; i < BTCORE_MSG_F_COUNT; i++)
		have[i] = m->s[i].present;
	if (!presence_ok(m->spec, have))
		return BT_EINVAL;
	bson_init(&doc);
	inited = 1;
	if (!bson_append_utf8(&doc, "op", 2, m->spec->op, -1) ||
	    !bson_append_int64(&doc, "t", 1, m->tid) ||
	    !bson_append_bool(&doc, "reply", 5, m->spec->reply != 0))
		goto toobig;
	for (i = 0; i < m->spec->nfields; i++) {
		fs = &m->spec->fields[i];
		if (m->s[fs->field].present && !append_field(&doc, fs, m))
			goto toobig;
	}
	if (doc.len > BT_MSG_MAX)
		goto toobig;
	inited = 0;
	if ((*out = bson_destroy_with_steal(&doc, true, &len)) == NULL)
		goto out;
	*out_len = len;
	rc = BT_OK;
	goto out;
toobig:
	/* libbson refuses only documents beyond its own size limit */
	rc = BT_ETOOBIG;
out:
	if (inited)
		bson_destroy(&doc);
	return rc;
}

void
btcore_msg_bytes_free(uint8_t *buf)
{
	bson_free(buf);
}

/* ---- decoding ------------------------------------------------------- */

/* Checks shared by decode and peek: sizes, BSON structure and UTF-8. */
static int
open_doc(bson_t *doc, const uint8_t *buf, size_t len)
{
	uint32_t declared;

	if (len > BT_MSG_MAX)
		return BT_ETOOBIG;
	if (len < 5)
		return BT_ETRUNC;
	declared = (uint32_t)buf[0] | ((uint32_t)buf[1] << 8) |
	    ((uint32_t)buf[2] << 16) | ((uint32_t)buf[3] << 24);
	if (declared > len)
		return BT_ETRUNC;
	/* libbson does not look at the document's final byte */
	if (buf[len - 1] != 0 || !bson_init_static(doc, buf, len) ||
	    !bson_validate(doc, BSON_VALIDATE_UTF8, NULL))
		return BT_EFORMAT;
	return BT_OK;
}

/*
 * Enter the embedded document or array at @p it.  libbson does not look
 * at an embedded document's final byte, so that is checked here.
 */
static int
recurse(const bson_iter_t *it, bson_type_t type, bson_iter_t *sub)
{
	const uint8_t *raw = NULL;
	uint32_t len = 0;

	if (bson_iter_type(it) != type)
		return 0;
	if (type == BSON_TYPE_ARRAY)
		bson_iter_array(it, &len, &raw);
	else
		bson_iter_document(it, &len, &raw);
	return raw != NULL && len >= 5 && raw[len - 1] == 0 &&
	    bson_iter_recurse(it, sub);
}

static int
bin_of(const bson_iter_t *it, const uint8_t **p, uint32_t *len)
{
	bson_subtype_t sub;

	if (bson_iter_type(it) != BSON_TYPE_BINARY)
		return 0;
	bson_iter_binary(it, &sub, len, p);
	return sub == BSON_SUBTYPE_BINARY;
}

/* Is the key of @p it the decimal index @p i? */
static int
index_key(const bson_iter_t *it, size_t i)
{
	const char *key;
	char kbuf[16];
	size_t klen;

	klen = bson_uint32_to_string((uint32_t)i, &key, kbuf, sizeof(kbuf));
	return bson_iter_key_len(it) == klen &&
	    memcmp(bson_iter_key(it), key, klen) == 0;
}

static int
parse_node(const bson_iter_t *outer, struct btcore_msg_node *n)
{
	bson_iter_t it;
	const uint8_t *p;
	const char *key;
	uint32_t len;
	int32_t port;
	int seen = 0;

	if (!recurse(outer, BSON_TYPE_DOCUMENT, &it))
		return 0;
	while (bson_iter_next(&it)) {
		key = bson_iter_key(&it);
		if (strcmp(key, "id") == 0 && !(seen & 1)) {
			if (!bin_of(&it, &p, &len) || len != BT_ID_LEN)
				return 0;
			memcpy(n->id.b, p, BT_ID_LEN);
			seen |= 1;
		} else if (strcmp(key, "ip") == 0 && !(seen & 2)) {
			if (!bin_of(&it, &p, &len) || (len != 4 && len != 16))
				return 0;
			memcpy(n->ip, p, len);
			n->ip_len = (uint8_t)len;
			seen |= 2;
		} else if (strcmp(key, "port") == 0 && !(seen & 4)) {
			if (bson_iter_type(&it) != BSON_TYPE_INT32)
				return 0;
			port = bson_iter_int32(&it);
			if (port < 1 || port > 65535)
				return 0;
			n->port = (uint16_t)port;
			seen |= 4;
		} else {
			return 0;
		}
	}
	return seen == 7;
}

/* Parse one field's element into @p m; 0 when it breaks the schema. */
static int
parse_field(struct btcore_msg *m, const struct btcore_msg_field_spec *fs,
    const bson_iter_t *it)
{
	struct slot *s = &m->s[fs->field];
	bson_iter_t sub;
	const uint8_t *p;
	uint32_t len;
	size_t n = 0;

	switch (fs->type) {
	case BTCORE_MSG_T_BIN:
	case BTCORE_MSG_T_ADDR:
		if (!bin_of(it, &p, &len))
			return 0;
		if (fs->type == BTCORE_MSG_T_ADDR ? (len != 4 && len != 16) :
		    ((int64_t)len < fs->min || (int64_t)len > fs->max))
			return 0;
		s->p = p;
		s->len = len;
		break;
	case BTCORE_MSG_T_INT32:
		if (bson_iter_type(it) != BSON_TYPE_INT32)
			return 0;
		s->i = bson_iter_int32(it);
		if (s->i < fs->min || s->i > fs->max)
			return 0;
		break;
	case BTCORE_MSG_T_INT64:
		if (bson_iter_type(it) != BSON_TYPE_INT64)
			return 0;
		s->i = bson_iter_int64(it);
		if (s->i < fs->min || s->i > fs->max)
			return 0;
		break;
	case BTCORE_MSG_T_BOOL:
		if (bson_iter_type(it) != BSON_TYPE_BOOL)
			return 0;
		s->i = bson_iter_bool(it) ? 1 : 0;
		break;
	case BTCORE_MSG_T_STR:
		if (bson_iter_type(it) != BSON_TYPE_UTF8)
			return 0;
		s->p = (const uint8_t *)bson_iter_utf8(it, &len);
		s->len = len;
		if ((int64_t)len < fs->min || (int64_t)len > fs->max ||
		    !bson_utf8_validate((const char *)s->p, len, false))
			return 0;
		/* a scope follows the one rule of bt/scope.h */
		if (fs->field == BTCORE_MSG_F_SCOPE &&
		    !btcore_scope_valid((const char *)s->p, len))
			return 0;
		break;
	case BTCORE_MSG_T_NODES:
		if (!recurse(it, BSON_TYPE_ARRAY, &sub))
			return 0;
		while (bson_iter_next(&sub)) {
			if ((int64_t)n >= fs->max || !index_key(&sub, n) ||
			    !parse_node(&sub, &m->nodes[n]))
				return 0;
			n++;
		}
		s->len = n;
		break;
	case BTCORE_MSG_T_BINS:
		if (!recurse(it, BSON_TYPE_ARRAY, &sub))
			return 0;
		while (bson_iter_next(&sub)) {
			if ((int64_t)n >= fs->max || !index_key(&sub, n) ||
			    !bin_of(&sub, &p, &len) || len != fs->item_len)
				return 0;
			if (s->own == NULL) {
				s->own = malloc((size_t)fs->max *
				    fs->item_len);
				if (s->own == NULL)
					return -1;
			}
			memcpy(s->own + n * fs->item_len, p, len);
			n++;
		}
		s->p = s->own;
		s->len = n;
		break;
	case BTCORE_MSG_T_DOC:
		/* the whole message passed bson_validate(): so did this */
		if (!recurse(it, BSON_TYPE_DOCUMENT, &sub))
			return 0;
		bson_iter_document(it, &len, &p);
		if ((int64_t)len < fs->min || (int64_t)len > fs->max)
			return 0;
		s->p = p;
		s->len = len;
		break;
	}
	s->present = 1;
	return 1;
}

static int
op_known(const char *op, size_t len)
{
	size_t i;

	for (i = 0; i < NSPECS; i++)
		if (strlen(specs[i].op) == len &&
		    memcmp(specs[i].op, op, len) == 0)
			return 1;
	return 0;
}

int
btcore_msg_decode(struct btcore_msg **out, const uint8_t *buf, size_t len)
{
	bson_iter_t it;
	int have[BTCORE_MSG_F_COUNT];
	struct btcore_msg *m = NULL;
	const struct btcore_msg_field_spec *fs;
	const char *key, *op = NULL;
	uint32_t oplen = 0;
	int64_t tid = 0;
	int reply = -1, has_t = 0, unknown = 0, r;
	size_t i, f;
	bson_t doc;
	int rc;

	if (out == NULL)
		return BT_EINVAL;
	*out = NULL;
	if (buf == NULL)
		return BT_EINVAL;
	if (len > BT_MSG_MAX)
		return BT_ETOOBIG;
	if ((m = calloc(1, sizeof(*m))) == NULL)
		return BT_ENOMEM;
	if ((m->buf = malloc(len ? len : 1)) == NULL) {
		rc = BT_ENOMEM;
		goto out;
	}
	if (len)
		memcpy(m->buf, buf, len);
	if ((rc = open_doc(&doc, m->buf, len)) != BT_OK)
		goto out;
	rc = BT_EFORMAT;
	memset(have, 0, sizeof(have));
	if (!bson_iter_init(&it, &doc))
		goto out;
	/* pass 1: the header, and where each field is */
	while (bson_iter_next(&it)) {
		key = bson_iter_key(&it);
		if (strcmp(key, "op") == 0) {
			if (op != NULL || bson_iter_type(&it) != BSON_TYPE_UTF8)
				goto out;
			op = bson_iter_utf8(&it, &oplen);
		} else if (strcmp(key, "t") == 0) {
			if (has_t || bson_iter_type(&it) != BSON_TYPE_INT64)
				goto out;
			tid = bson_iter_int64(&it);
			has_t = 1;
		} else if (strcmp(key, "reply") == 0) {
			if (reply >= 0 || bson_iter_type(&it) != BSON_TYPE_BOOL)
				goto out;
			reply = bson_iter_bool(&it) ? 1 : 0;
		} else {
			for (f = 0; f < BTCORE_MSG_F_COUNT; f++)
				if (strcmp(key, field_names[f]) == 0)
					break;
			if (f == BTCORE_MSG_F_COUNT) {
				unknown = 1;
				continue;
			}
			if (have[f])
				goto out;
			have[f] = 1;
		}
	}
	if (op == NULL)
		goto out;
	if (!op_known(op, oplen)) {
		rc = BT_EUNSUPPORTED;
		goto out;
	}
	if (!has_t || reply < 0 || unknown)
		goto out;
	for (i = 0; i < NSPECS; i++)
		if (specs[i].reply == reply && strlen(specs[i].op) == oplen &&
		    memcmp(specs[i].op, op, oplen) == 0)
			break;
	if (i == NSPECS)
		goto out;
	m->spec = &specs[i];
	m->tid = tid;
	/* pass 2: every field present must be in the schema and valid */
	if (!bson_iter_init(&it, &doc))
		goto out;
	while (bson_iter_next(&it)) {
		key = bson_iter_key(&it);
		for (f = 0; f < BTCORE_MSG_F_COUNT; f++)
			if (strcmp(key, field_names[f]) == 0)
				break;
		if (f == BTCORE_MSG_F_COUNT)
			continue;	/* a header element */
		if ((fs = fspec(m, (enum btcore_msg_field)f)) == NULL)
			goto out;
		if ((r = parse_field(m, fs, &it)) <= 0) {
			rc = r < 0 ? BT_ENOMEM : BT_EFORMAT;
			goto out;
		}
	}
	if (!presence_ok(m->spec, have))
		goto out;
	*out = m;
	m = NULL;
	rc = BT_OK;
out:
	btcore_msg_free(m);
	return rc;
}

int
btcore_msg_peek(const uint8_t *buf, size_t len, int64_t *tid, int *reply)
{
	bson_iter_t it;
	bson_t doc;
	int rc;

	if (tid != NULL)
		*tid = 0;
	if (reply != NULL)
		*reply = 0;
	if (buf == NULL || tid == NULL)
		return BT_EINVAL;
	if ((rc = open_doc(&doc, buf, len)) != BT_OK)
		return rc;
	if (reply != NULL && bson_iter_init_find(&it, &doc, "reply") &&
	    BSON_ITER_HOLDS_BOOL(&it))
		*reply = bson_iter_bool(&it) ? 1 : 0;
	if (!bson_iter_init_find(&it, &doc, "t") ||
	    !BSON_ITER_HOLDS_INT64(&it)) {
		if (reply != NULL)
			*reply = 0;
		return BT_EFORMAT;
	}
	*tid = bson_iter_int64(&it);
	return BT_OK;
}
