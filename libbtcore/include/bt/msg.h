/*
 * bt/msg.h - BlockTree wire messages: typed BSON documents, one schema
 * per message type, checked when encoding and when decoding.
 *
 * WIRE FORMAT
 *
 * A message is one BSON document of at most BT_MSG_MAX (1 MiB) bytes.
 * Every message holds three header elements:
 *
 *	"op"     0x02 string  the operation (below)
 *	"t"      0x12 int64   transaction id, chosen by the requester and
 *			      copied into the reply
 *	"reply"  0x08 bool    false in a request, true in a reply
 *
 * and the fields its schema lists, nothing else.  Elements may come in
 * any order when decoding (the encoder writes the header, then the fields
 * in schema order); a key that appears twice, a key the schema does not
 * list, a missing required field, a BSON type other than the one listed,
 * a binary subtype other than 0x00, a string that is not UTF-8 or holds a
 * NUL, and a value outside its bounds are all refused.  A message whose
 * "op" names no known operation is refused with BT_EUNSUPPORTED (so that
 * a node can answer it with an "error" reply); a known op in the wrong
 * direction is BT_EFORMAT.
 *
 * Field types:
 *	bin(n)    0x05 binary, subtype 0, exactly n bytes (bin(a..b): a to b)
 *	addr      0x05 binary, subtype 0, 4 bytes (IPv4) or 16 bytes (IPv6),
 *		  network byte order
 *	int32     0x10 int32 within the bounds shown
 *	int64     0x12 int64 within the bounds shown
 *	bool      0x08 boolean
 *	str(a..b) 0x02 string of a to b bytes
 *	nodes     0x04 array (keys "0", "1", ... in order) of at most
 *		  BT_K (20) node documents, each exactly
 *		  { "id": bin(32), "ip": addr, "port": int32 1..65535 }
 *		  in any order
 *	bins(n)   0x04 array (keys "0", "1", ...) of bin(n) items
 *	doc       0x03 embedded BSON document of 5 bytes .. 1 MiB, any
 *		  content (valid BSON, UTF-8 checked)
 *
 * Presence: "req" required; "opt" optional; "alt A" / "alt B": exactly
 * one of the two groups is present, and all of its fields.
 *
 * SCHEMAS (op, direction: fields)
 *
 *   ping, request:  (none)
 *   ping, reply:    (none)
 *   iam, request:   id bin(32) req      sender's node id
 *                   port int32 1..65535 opt   port it listens on
 *   welcome, reply (to iam):
 *                   id bin(32) req      replier's node id
 *                   ip addr req         the requester's address as seen
 *                   port int32 1..65535 req   by the replier (external)
 *   peers, request: key bin(32) req     target
 *   peers, reply:   nodes req           up to 20 nodes nearest to key
 *                   token bin(1..32) opt  write token (below)
 *   set, request:   value bin(0..1 MiB) req; its key is its SHA-256
 *                   token bin(1..32) req
 *   set, reply:     stored bool req; nodes opt (nearer nodes)
 *   ref, request:   key bin(32) req
 *   ref, reply:     value bin(0..1 MiB) alt A (hashes to key), or
 *                   nodes alt B (nearer nodes); token bin(1..32) opt
 *   bag-add, request: key bin(32) req; value bin(32) req;
 *                   token bin(1..32) req
 *   bag-add, reply: stored bool req; nodes opt
 *   popular, recent, sample, request:
 *                   key bin(32) req; limit int32 1..256 req
 *   popular, recent, sample, reply:
 *                   values bins(32) req, at most 256 items: the values
 *                   of the answering node's own bag for key (most
 *                   popular first, most recent first, or a random
 *                   sample); nodes opt (nearer nodes)
 *   namespace-set, request:
 *                   record bin(109..BTCORE_RECORD_ENC_MAX) req  a whole
 *                   signed record in the encoding of bt/record.h
 *                   (public key, sequence, key, value, signature)
 *                   token bin(1..32) req
 *   namespace-set, reply: stored bool req; nodes opt
 *   namespace-ref, request: pubkey bin(32) req; key bin(1..64) req
 *   namespace-ref, reply: record bin(109..BTCORE_RECORD_ENC_MAX) alt A,
 *                   or nodes alt B; token bin(1..32) opt
 *   error, reply:   code int32 req      a BT_ error code
 *                   text str(0..1024) req   human-readable detail
 *
 * Node-to-node messages (bt/net.h):
 *
 *   hello, request: ip addr opt; port int32 1..65535 opt   the address
 *                   the sender listens on; sent first on every
 *                   connection it dials, never answered
 *   rpc, request:   scope str(1..64) req    the service addressed (a scope
 *                   name by the rule of bt/scope.h)
 *                   args doc req            the call's arguments
 *   rpc, reply:     result doc req          the handler's answer (a
 *                   failure is an "error" reply)
 *   direct, request: scope str(1..64), a scope name, req; value bin(0..1 MiB) req
 *                   one message of a direct connection, never answered
 *   direct-open, request: (none)            ask for a direct connection
 *   direct-open, reply:   (none)            accepted
 *   direct-close, request: (none)           end it, never answered
 *
 * Pubsub, friends and relaying (bt/pubsub.h, bt/friend.h, bt/relay.h):
 *
 *   pubsub, request: key bin(32) req        the channel id
 *                   id bin(32) req          the message id
 *                   pubkey bin(32) req      the sender's Ed25519 key
 *                   seq int64 0..2^63-1 req the sender's sequence number
 *                   hops int32 0..255 req   hops travelled so far
 *                   value bin(0..1 MiB) req the payload
 *                   sig bin(64) req         the sender's signature
 *                   one published message, never answered
 *   pubsub-graft, request: key bin(32) req  join the sender's mesh of
 *                   this channel
 *   pubsub-graft, reply: stored bool req    accepted or not
 *   pubsub-prune, request: key bin(32) req  leave it, never answered
 *   friend-hello, request: value bin(1..BTCORE_MSG_PEERFILE_MAX) req
 *                   the sender's signed peer file
 *   friend-hello, reply: value bin(1..BTCORE_MSG_PEERFILE_MAX) req
 *                   the replier's signed peer file
 *   where-is, request: id bin(32) req       the node sought
 *   where-is, reply: value bin(1..BTCORE_MSG_PEERFILE_MAX) req  its
 *                   latest signed peer file known to the replier
 *   relay-register, request: (none)         relay for me
 *   relay-register, reply: stored bool req  accepted or not
 *   relay-open, request: id bin(32) req     a circuit to this node
 *   relay-open, reply: circuit int64 1..2^63-1 req  the circuit's number
 *   relay-incoming, request: circuit int64 req; id bin(32) req  a
 *                   circuit from node id opens, never answered
 *   relay-data, request: circuit int64 req; value bin(1..65536) req
 *                   opaque bytes of a circuit, never answered
 *   relay-close, request: circuit int64 req  the circuit ends, never
 *                   answered
 *
 * Admission (bt/net.h "Admission"):
 *
 *   admit, request: value bin(0..BTCORE_MSG_ADMIT_MAX) req  the sender's
 *                   attestation statement (empty: none); sent first on
 *                   a connection by a node that requires admission
 *   admit, reply:   value bin(0..BTCORE_MSG_ADMIT_MAX) req  the
 *                   replier's statement (a refusal is an "error" reply)
 *   admit-challenge, request: value bin(1..BTCORE_MSG_ADMIT_MAX) req
 *                   a credential-activation challenge
 *   admit-challenge, reply: value bin(32) req  the secret it held
 *
 * A write token is an opaque proof, handed out by a node in its peers,
 * ref and namespace-ref replies, that the requester was seen at its
 * address recently; set, bag-add and namespace-set must carry one.
 *
 * The schemas are also available as data: btcore_msg_spec_at().  A
 * "record" is checked here for its size only: its contents and signature
 * are checked by btcore_record_decode() (bt/record.h), which every
 * receiver must call.  This module never checks hashes or signatures.
 *
 * A struct btcore_msg is not thread safe; distinct messages may be used
 * from distinct threads.  The schema table is constant.
 */
#ifndef BT_MSG_H
#define BT_MSG_H

#include <bt/common.h>
#include <bt/scope.h>
#include <bt/id.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Most values in a popular/recent/sample reply, and the largest limit. */
#define BTCORE_MSG_BAG_MAX	256
/** Longest text of an error reply in bytes. */
#define BTCORE_MSG_TEXT_MAX	1024
/** Longest scope of an rpc or direct message in bytes. */
#define BTCORE_MSG_SCOPE_MAX	BTCORE_SCOPE_MAX
/** Longest peer file in a friend-hello or where-is message. */
#define BTCORE_MSG_PEERFILE_MAX	1024
/** Longest chunk of a relay-data message. */
#define BTCORE_MSG_RELAY_CHUNK_MAX	16384
/** Longest statement or challenge in an admit or admit-challenge message. */
#define BTCORE_MSG_ADMIT_MAX	16384
/** Length of the answer in an admit-challenge reply. */
#define BTCORE_MSG_ADMIT_ANSWER_LEN	32
/** Longest write token in bytes. */
#define BTCORE_MSG_TOKEN_MAX	32
/**
 * Shortest encoded record (bt/record.h: a 1-byte key, an empty value);
 * the longest is BTCORE_RECORD_ENC_MAX.
 */
#define BTCORE_MSG_RECORD_MIN	(1 + 32 + 8 + 1 + 1 + 2 + 64)

/** Message types: one per (op, direction).  Numbered 1 .. count. */
enum btcore_msg_type {
	BTCORE_MSG_PING_REQ = 1,
	BTCORE_MSG_PING_REP,
	BTCORE_MSG_IAM,			/* "iam", request */
	BTCORE_MSG_WELCOME,		/* "welcome", reply to iam */
	BTCORE_MSG_PEERS_REQ,
	BTCORE_MSG_PEERS_REP,
	BTCORE_MSG_SET_REQ,
	BTCORE_MSG_SET_REP,
	BTCORE_MSG_REF_REQ,
	BTCORE_MSG_REF_REP,
	BTCORE_MSG_BAG_ADD_REQ,
	BTCORE_MSG_BAG_ADD_REP,
	BTCORE_MSG_POPULAR_REQ,
	BTCORE_MSG_POPULAR_REP,
	BTCORE_MSG_RECENT_REQ,
	BTCORE_MSG_RECENT_REP,
	BTCORE_MSG_SAMPLE_REQ,
	BTCORE_MSG_SAMPLE_REP,
	BTCORE_MSG_NS_SET_REQ,		/* "namespace-set" */
	BTCORE_MSG_NS_SET_REP,
	BTCORE_MSG_NS_REF_REQ,		/* "namespace-ref" */
	BTCORE_MSG_NS_REF_REP,
	BTCORE_MSG_ERROR,		/* "error", reply to any request */
	BTCORE_MSG_HELLO,		/* "hello", request, no reply */
	BTCORE_MSG_RPC_REQ,		/* "rpc" */
	BTCORE_MSG_RPC_REP,
	BTCORE_MSG_DIRECT,		/* "direct", request, no reply */
	BTCORE_MSG_DIRECT_OPEN_REQ,	/* "direct-open" */
	BTCORE_MSG_DIRECT_OPEN_REP,
	BTCORE_MSG_DIRECT_CLOSE,	/* "direct-close", request, no reply */
	BTCORE_MSG_PUBSUB,		/* "pubsub", request, no reply */
	BTCORE_MSG_PUBSUB_GRAFT_REQ,	/* "pubsub-graft" */
	BTCORE_MSG_PUBSUB_GRAFT_REP,
	BTCORE_MSG_PUBSUB_PRUNE,	/* "pubsub-prune", request, no reply */
	BTCORE_MSG_FRIEND_HELLO_REQ,	/* "friend-hello" */
	BTCORE_MSG_FRIEND_HELLO_REP,
	BTCORE_MSG_WHERE_IS_REQ,	/* "where-is" */
	BTCORE_MSG_WHERE_IS_REP,
	BTCORE_MSG_RELAY_REGISTER_REQ,	/* "relay-register" */
	BTCORE_MSG_RELAY_REGISTER_REP,
	BTCORE_MSG_RELAY_OPEN_REQ,	/* "relay-open" */
	BTCORE_MSG_RELAY_OPEN_REP,
	BTCORE_MSG_RELAY_INCOMING,	/* "relay-incoming", request, no reply */
	BTCORE_MSG_RELAY_DATA,		/* "relay-data", request, no reply */
	BTCORE_MSG_RELAY_CLOSE,		/* "relay-close", request, no reply */
	BTCORE_MSG_ADMIT_REQ,		/* "admit" */
	BTCORE_MSG_ADMIT_REP,
	BTCORE_MSG_ADMIT_CHALLENGE_REQ,	/* "admit-challenge" */
	BTCORE_MSG_ADMIT_CHALLENGE_REP
};

/** Fields, named on the wire by the string in the comment. */
enum btcore_msg_field {
	BTCORE_MSG_F_ID = 0,		/* "id" */
	BTCORE_MSG_F_IP,		/* "ip" */
	BTCORE_MSG_F_PORT,		/* "port" */
	BTCORE_MSG_F_KEY,		/* "key" */
	BTCORE_MSG_F_VALUE,		/* "value" */
	BTCORE_MSG_F_STORED,		/* "stored" */
	BTCORE_MSG_F_NODES,		/* "nodes" */
	BTCORE_MSG_F_LIMIT,		/* "limit" */
	BTCORE_MSG_F_VALUES,		/* "values" */
	BTCORE_MSG_F_PUBKEY,		/* "pubkey" */
	BTCORE_MSG_F_CODE,		/* "code" */
	BTCORE_MSG_F_TEXT,		/* "text" */
	BTCORE_MSG_F_TOKEN,		/* "token" */
	BTCORE_MSG_F_RECORD,		/* "record" */
	BTCORE_MSG_F_SCOPE,		/* "scope" */
	BTCORE_MSG_F_ARGS,		/* "args" */
	BTCORE_MSG_F_RESULT,		/* "result" */
	BTCORE_MSG_F_SEQ,		/* "seq" */
	BTCORE_MSG_F_HOPS,		/* "hops" */
	BTCORE_MSG_F_SIG,		/* "sig" */
	BTCORE_MSG_F_CIRCUIT,		/* "circuit" */
	BTCORE_MSG_F_COUNT		/* number of fields, not a field */
};

/** Field value types (see "Field types" above). */
enum btcore_msg_ftype {
	BTCORE_MSG_T_BIN = 1,
	BTCORE_MSG_T_ADDR,
	BTCORE_MSG_T_INT32,
	BTCORE_MSG_T_INT64,
	BTCORE_MSG_T_BOOL,
	BTCORE_MSG_T_STR,
	BTCORE_MSG_T_NODES,
	BTCORE_MSG_T_BINS,
	BTCORE_MSG_T_DOC
};

/** Whether a field must be present. */
enum btcore_msg_presence {
	BTCORE_MSG_REQUIRED = 0,
	BTCORE_MSG_OPTIONAL,
	BTCORE_MSG_ALT_A,
	BTCORE_MSG_ALT_B
};

/** One field of a schema.  Library-owned constant data. */
struct btcore_msg_field_spec {
	enum btcore_msg_field field;
	const char *name;		/* wire key */
	enum btcore_msg_ftype type;
	enum btcore_msg_presence presence;
	/*
	 * Bounds, inclusive: the value of INT32/INT64; the byte length of
	 * BIN/STR; the item count of NODES/BINS; unused for ADDR/BOOL.
	 */
	int64_t min, max;
	size_t item_len;		/* BINS: bytes of each item */
};

/** The schema of one message type.  Library-owned constant data. */
struct btcore_msg_spec {
	enum btcore_msg_type type;
	const char *op;			/* value of "op" */
	int reply;			/* value of "reply" */
	const struct btcore_msg_field_spec *fields;
	size_t nfields;
};

/** A node in a reply.  Value type. */
struct btcore_msg_node {
	struct bt_id id;
	uint8_t ip[16];			/* ip_len bytes used */
	uint8_t ip_len;			/* 4 or 16 */
	uint16_t port;			/* 1 .. 65535 */
};

/** A message.  Opaque. */
struct btcore_msg;

/**
 * Number of message types, and the schema of the @p i-th (0-based, in
 * enum order).  NULL when @p i >= the count.  Constant, thread safe.
 * @since 0.1
 */
BT_EXPORT size_t btcore_msg_spec_count(void);
BT_EXPORT const struct btcore_msg_spec *btcore_msg_spec_at(size_t i);

/**
 * The schema of message type @p type; NULL for an unknown type.
 * @since 0.1
 */
BT_EXPORT const struct btcore_msg_spec *btcore_msg_spec_of(
    enum btcore_msg_type type);

/**
 * Start an empty message of @p type with transaction id @p tid.
 *
 * @param out	out: caller owns; release with btcore_msg_free().  NULL on
 *		failure.
 * @return	BT_OK, BT_EINVAL (NULL @p out or unknown @p type) or
 *		BT_ENOMEM.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btcore_msg_new(struct btcore_msg **out,
    enum btcore_msg_type type, int64_t tid);

/** Release @p m.  NULL is a no-op.  @since 0.1 */
BT_EXPORT void btcore_msg_free(struct btcore_msg *m);

/** The message type, op string (static), direction and transaction id. */
BT_EXPORT enum btcore_msg_type btcore_msg_type(const struct btcore_msg *m);
BT_EXPORT const char *btcore_msg_op(const struct btcore_msg *m);
BT_EXPORT int btcore_msg_is_reply(const struct btcore_msg *m);
BT_EXPORT int64_t btcore_msg_tid(const struct btcore_msg *m);

/**
 * Setters.  Each replaces the field's previous value.
 *
 * btcore_msg_set_bin: a BIN, ADDR or DOC field; @p len bytes at @p p are
 * copied (@p p may be NULL when @p len is 0).  A DOC must be exactly one
 * valid BSON document of @p len bytes (UTF-8 checked), else BT_EFORMAT.
 * btcore_msg_set_str: a STR field; @p len bytes, copied; must be UTF-8
 * without NUL.
 * btcore_msg_set_int64: an INT32 or INT64 field.
 * btcore_msg_set_bool: a BOOL field; any nonzero @p v is true.
 * btcore_msg_set_empty: a NODES or BINS field becomes present with no
 * items (needed only where presence matters, e.g. a ref reply that knows
 * no nearer nodes).
 * btcore_msg_add_node: append to the NODES field (copied).
 * btcore_msg_add_bin: append one item to a BINS field (copied).
 *
 * @return	BT_OK; BT_EINVAL for a NULL argument, a field the message's
 *		schema does not list or of another type, or a string that is
 *		not UTF-8 or holds a NUL; BT_ERANGE for a value, length or
 *		item count outside the field's bounds (also an ip_len other
 *		than 4 or 16, or port 0); BT_EFORMAT for a DOC that is not
 *		a valid BSON document; BT_ENOMEM.  On failure the message
 *		is unchanged.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btcore_msg_set_bin(struct btcore_msg *m,
    enum btcore_msg_field f, const void *p, size_t len);
BT_EXPORT BT_WUR int btcore_msg_set_str(struct btcore_msg *m,
    enum btcore_msg_field f, const char *s, size_t len);
BT_EXPORT BT_WUR int btcore_msg_set_int64(struct btcore_msg *m,
    enum btcore_msg_field f, int64_t v);
BT_EXPORT BT_WUR int btcore_msg_set_bool(struct btcore_msg *m,
    enum btcore_msg_field f, int v);
BT_EXPORT BT_WUR int btcore_msg_set_empty(struct btcore_msg *m,
    enum btcore_msg_field f);
BT_EXPORT BT_WUR int btcore_msg_add_node(struct btcore_msg *m,
    const struct btcore_msg_node *node);
BT_EXPORT BT_WUR int btcore_msg_add_bin(struct btcore_msg *m,
    enum btcore_msg_field f, const void *p, size_t len);

/**
 * 1 when field @p f is present in @p m, else 0.
 * @since 0.1
 */
BT_EXPORT int btcore_msg_has(const struct btcore_msg *m,
    enum btcore_msg_field f);

/**
 * Getters.  Pointers returned are borrowed and valid until @p m is freed
 * or the field is set again.
 *
 * btcore_msg_get_bin: a BIN, ADDR or DOC field (a DOC: the bytes of the
 * embedded document).
 * btcore_msg_get_str: a STR field; NUL-terminated, @p len without the NUL.
 * btcore_msg_get_int64: an INT32 or INT64 field.
 * btcore_msg_get_bool: a BOOL field, 0 or 1.
 * btcore_msg_node_at / btcore_msg_bin_at: item @p i of the NODES or a
 * BINS field; btcore_msg_node_count / btcore_msg_bin_count: the item count
 * (0 when absent or not listed).
 *
 * @return	BT_OK; BT_EINVAL for a NULL argument or a field the schema
 *		does not list or of another type; BT_ENOTFOUND when the
 *		field is absent; BT_ERANGE when @p i is not below the count.
 *		Outputs are zeroed on failure.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btcore_msg_get_bin(const struct btcore_msg *m,
    enum btcore_msg_field f, const uint8_t **p, size_t *len);
BT_EXPORT BT_WUR int btcore_msg_get_str(const struct btcore_msg *m,
    enum btcore_msg_field f, const char **s, size_t *len);
BT_EXPORT BT_WUR int btcore_msg_get_int64(const struct btcore_msg *m,
    enum btcore_msg_field f, int64_t *v);
BT_EXPORT BT_WUR int btcore_msg_get_bool(const struct btcore_msg *m,
    enum btcore_msg_field f, int *v);
BT_EXPORT size_t btcore_msg_node_count(const struct btcore_msg *m);
BT_EXPORT BT_WUR int btcore_msg_node_at(const struct btcore_msg *m,
    size_t i, struct btcore_msg_node *out);
BT_EXPORT size_t btcore_msg_bin_count(const struct btcore_msg *m,
    enum btcore_msg_field f);
BT_EXPORT BT_WUR int btcore_msg_bin_at(const struct btcore_msg *m,
    enum btcore_msg_field f, size_t i, const uint8_t **p, size_t *len);

/**
 * Encode @p m after checking its schema.
 *
 * @param out	out: caller owns; release with btcore_msg_bytes_free().
 *		NULL on failure.
 * @param out_len out: its length.
 * @return	BT_OK; BT_EINVAL for a NULL argument, a missing required
 *		field, or alternatives not satisfied (none or both groups,
 *		or a group only in part); BT_ETOOBIG when the encoding
 *		would exceed BT_MSG_MAX; BT_ENOMEM.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btcore_msg_encode(const struct btcore_msg *m,
    uint8_t **out, size_t *out_len);

/** Release bytes from btcore_msg_encode().  NULL is a no-op. @since 0.1 */
BT_EXPORT void btcore_msg_bytes_free(uint8_t *buf);

/**
 * Decode and validate a message.
 *
 * @param out	out: caller owns; release with btcore_msg_free().  NULL on
 *		failure.
 * @param buf	in, borrowed: @p len bytes, copied.
 * @return	BT_OK; BT_EINVAL for a NULL argument; BT_ETOOBIG when @p len
 *		exceeds BT_MSG_MAX; BT_ETRUNC when the input is shorter
 *		than its BSON length says; BT_EUNSUPPORTED when "op" is a
 *		string naming no known operation; BT_EFORMAT for anything
 *		else that breaks BSON or the schema; BT_ENOMEM.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btcore_msg_decode(struct btcore_msg **out,
    const uint8_t *buf, size_t len);

/**
 * Read only the header of a message that may not decode, e.g. to answer
 * an unsupported request with an "error" reply carrying its "t".
 *
 * @param tid	out: the "t" element.
 * @param reply	out, may be NULL: the "reply" element, 0 when absent or
 *		not a bool.
 * @return	BT_OK; BT_EINVAL; BT_ETOOBIG; BT_ETRUNC; BT_EFORMAT when the
 *		BSON is invalid or "t" is missing or not an int64.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btcore_msg_peek(const uint8_t *buf, size_t len,
    int64_t *tid, int *reply);

#ifdef __cplusplus
}
#endif
#endif /* BT_MSG_H */
