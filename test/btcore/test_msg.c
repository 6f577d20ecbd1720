/*
 * test_msg.c - wire messages: every schema round trip, hostile input.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wcast-qual"
#ifdef __clang__
#pragma clang diagnostic ignored "-Wnewline-eof"
#endif
#include <bson.h>
#pragma GCC diagnostic pop

#include <bt/msg.h>
#include <bt/record.h>

static struct btcore_msg_node
node(int i)
{
	struct btcore_msg_node n;

	memset(&n, 0, sizeof(n));
	memset(n.id.b, 0x10 + i, sizeof(n.id.b));
	n.ip_len = (i % 2) ? 16 : 4;
	memset(n.ip, 0xc0 + i, n.ip_len);
	n.port = (uint16_t)(1000 + i);
	return n;
}

/*
 * Fill every field of @p m's schema that belongs to group @p alt (or to
 * no group) with a valid value derived from its bounds.
 */
static void
fill(struct btcore_msg *m, enum btcore_msg_presence alt, size_t items)
{
	const struct btcore_msg_spec *spec =
	    btcore_msg_spec_of(btcore_msg_type(m));
	const struct btcore_msg_field_spec *fs;
	uint8_t bin[256];
	struct btcore_msg_node n;
	size_t i, j, len;

	ck_assert_uint_ge(sizeof(bin), BTCORE_MSG_RECORD_MIN);

	for (i = 0; i < spec->nfields; i++) {
		fs = &spec->fields[i];
		if ((fs->presence == BTCORE_MSG_ALT_A ||
		    fs->presence == BTCORE_MSG_ALT_B) && fs->presence != alt)
			continue;
		memset(bin, 0x40 + (int)fs->field, sizeof(bin));
		switch (fs->type) {
		case BTCORE_MSG_T_BIN:
			len = fs->max > 100 ? 100 : (size_t)fs->max;
			if ((int64_t)len < fs->min)
				len = (size_t)fs->min;
			ck_assert_int_eq(btcore_msg_set_bin(m, fs->field, bin,
			    len), BT_OK);
			break;
		case BTCORE_MSG_T_ADDR:
			ck_assert_int_eq(btcore_msg_set_bin(m, fs->field, bin,
			    16), BT_OK);
			break;
		case BTCORE_MSG_T_INT32:
		case BTCORE_MSG_T_INT64:
			ck_assert_int_eq(btcore_msg_set_int64(m, fs->field,
			    fs->max - 1), BT_OK);
			break;
		case BTCORE_MSG_T_BOOL:
			ck_assert_int_eq(btcore_msg_set_bool(m, fs->field, 5),
			    BT_OK);
			break;
		case BTCORE_MSG_T_STR:
			if (fs->field == BTCORE_MSG_F_SCOPE) {
				/* scopes follow bt/scope.h's rule */
				ck_assert_int_eq(btcore_msg_set_str(m,
				    fs->field, "no such key \xc3\xa9", 14),
				    BT_EINVAL);
				ck_assert_int_eq(btcore_msg_set_str(m,
				    fs->field, "app/sub:v1", 10), BT_OK);
				break;
			}
			ck_assert_int_eq(btcore_msg_set_str(m, fs->field,
			    "no such key \xc3\xa9", 14), BT_OK);
			break;
		case BTCORE_MSG_T_NODES:
			ck_assert_int_eq(btcore_msg_set_empty(m, fs->field),
			    BT_OK);
			for (j = 0; j < items; j++) {
				n = node((int)j);
				ck_assert_int_eq(btcore_msg_add_node(m, &n),
				    BT_OK);
			}
			break;
		case BTCORE_MSG_T_BINS:
			ck_assert_int_eq(btcore_msg_set_empty(m, fs->field),
			    BT_OK);
			for (j = 0; j < items; j++) {
				bin[0] = (uint8_t)j;
				ck_assert_int_eq(btcore_msg_add_bin(m,
				    fs->field, bin, fs->item_len), BT_OK);
			}
			break;
		case BTCORE_MSG_T_DOC: {
			bson_t d = BSON_INITIALIZER;

			for (j = 0; j <= items; j++)
				ck_assert(bson_append_int32(&d, "n", 1,
				    (int32_t)j));
			ck_assert(bson_append_utf8(&d, "s", 1, "t\xc3\xa9",
			    -1));
			ck_assert_int_eq(btcore_msg_set_bin(m, fs->field,
			    bson_get_data(&d), d.len), BT_OK);
			bson_destroy(&d);
			break;
		}
		}
	}
}

/* Two messages hold the same type, tid and fields. */
static void
same(const struct btcore_msg *a, const struct btcore_msg *b)
{
	const struct btcore_msg_spec *spec =
	    btcore_msg_spec_of(btcore_msg_type(a));
	const struct btcore_msg_field_spec *fs;
	const uint8_t *pa, *pb;
	const char *sa, *sb;
	struct btcore_msg_node na, nb;
	size_t i, j, la, lb;
	int64_t ia, ib;
	int ba, bb;

	ck_assert_int_eq(btcore_msg_type(a), btcore_msg_type(b));
	ck_assert_int_eq(btcore_msg_tid(a), btcore_msg_tid(b));
	ck_assert_str_eq(btcore_msg_op(a), btcore_msg_op(b));
	ck_assert_int_eq(btcore_msg_is_reply(a), btcore_msg_is_reply(b));
	for (i = 0; i < spec->nfields; i++) {
		fs = &spec->fields[i];
		ck_assert_int_eq(btcore_msg_has(a, fs->field),
		    btcore_msg_has(b, fs->field));
		if (!btcore_msg_has(a, fs->field))
			continue;
		switch (fs->type) {
		case BTCORE_MSG_T_BIN:
		case BTCORE_MSG_T_ADDR:
		case BTCORE_MSG_T_DOC:
			ck_assert_int_eq(btcore_msg_get_bin(a, fs->field, &pa,
			    &la), BT_OK);
			ck_assert_int_eq(btcore_msg_get_bin(b, fs->field, &pb,
			    &lb), BT_OK);
			ck_assert_uint_eq(la, lb);
			if (la)
				ck_assert_mem_eq(pa, pb, la);
			break;
		case BTCORE_MSG_T_INT32:
		case BTCORE_MSG_T_INT64:
			ck_assert_int_eq(btcore_msg_get_int64(a, fs->field,
			    &ia), BT_OK);
			ck_assert_int_eq(btcore_msg_get_int64(b, fs->field,
			    &ib), BT_OK);
			ck_assert_int_eq(ia, ib);
			break;
		case BTCORE_MSG_T_BOOL:
			ck_assert_int_eq(btcore_msg_get_bool(a, fs->field,
			    &ba), BT_OK);
			ck_assert_int_eq(btcore_msg_get_bool(b, fs->field,
			    &bb), BT_OK);
			ck_assert_int_eq(ba, bb);
			break;
		case BTCORE_MSG_T_STR:
			ck_assert_int_eq(btcore_msg_get_str(a, fs->field, &sa,
			    &la), BT_OK);
			ck_assert_int_eq(btcore_msg_get_str(b, fs->field, &sb,
			    &lb), BT_OK);
			ck_assert_uint_eq(la, lb);
			ck_assert_str_eq(sa, sb);
			break;
		case BTCORE_MSG_T_NODES:
			ck_assert_uint_eq(btcore_msg_node_count(a),
			    btcore_msg_node_count(b));
			for (j = 0; j < btcore_msg_node_count(a); j++) {
				ck_assert_int_eq(btcore_msg_node_at(a, j, &na),
				    BT_OK);
				ck_assert_int_eq(btcore_msg_node_at(b, j, &nb),
				    BT_OK);
				ck_assert_mem_eq(&na, &nb, sizeof(na));
			}
			break;
		case BTCORE_MSG_T_BINS:
			ck_assert_uint_eq(btcore_msg_bin_count(a, fs->field),
			    btcore_msg_bin_count(b, fs->field));
			for (j = 0; j < btcore_msg_bin_count(a, fs->field);
			    j++) {
				ck_assert_int_eq(btcore_msg_bin_at(a,
				    fs->field, j, &pa, &la), BT_OK);
				ck_assert_int_eq(btcore_msg_bin_at(b,
				    fs->field, j, &pb, &lb), BT_OK);
				ck_assert_uint_eq(la, lb);
				ck_assert_mem_eq(pa, pb, la);
			}
			break;
		}
	}
}

static int
has_alts(const struct btcore_msg_spec *spec)
{
	size_t i;

	for (i = 0; i < spec->nfields; i++)
		if (spec->fields[i].presence == BTCORE_MSG_ALT_A)
			return 1;
	return 0;
}

/* Every valid variant of every type: (spec index, alt group, items). */
static struct btcore_msg *
variant(size_t i, enum btcore_msg_presence alt, size_t items)
{
	const struct btcore_msg_spec *spec = btcore_msg_spec_at(i);
	struct btcore_msg *m = NULL;

	ck_assert_ptr_nonnull(spec);
	ck_assert_int_eq(btcore_msg_new(&m, spec->type,
	    (int64_t)0x0102030405060708LL * (int64_t)(i + 1)), BT_OK);
	fill(m, alt, items);
	return m;
}

static void
encode(const struct btcore_msg *m, uint8_t **buf, size_t *len)
{
	ck_assert_int_eq(btcore_msg_encode(m, buf, len), BT_OK);
	ck_assert_ptr_nonnull(*buf);
	ck_assert_uint_le(*len, BT_MSG_MAX);
}

START_TEST(schema_table)
{
	const struct btcore_msg_spec *s, *t;
	size_t i, j, k;

	ck_assert_uint_eq(btcore_msg_spec_count(),
	    BTCORE_MSG_ADMIT_CHALLENGE_REP);
	ck_assert_ptr_null(btcore_msg_spec_at(btcore_msg_spec_count()));
	ck_assert_ptr_null(btcore_msg_spec_of((enum btcore_msg_type)0));
	ck_assert_ptr_null(btcore_msg_spec_of((enum btcore_msg_type)99));
	for (i = 0; i < btcore_msg_spec_count(); i++) {
		s = btcore_msg_spec_at(i);
		ck_assert_int_eq(s->type, (int)i + 1);
		ck_assert_ptr_eq(btcore_msg_spec_of(s->type), s);
		/* (op, direction) pairs are unique */
		for (j = 0; j < i; j++) {
			t = btcore_msg_spec_at(j);
			ck_assert(strcmp(s->op, t->op) != 0 ||
			    s->reply != t->reply);
		}
		for (j = 0; j < s->nfields; j++) {
			ck_assert_int_lt(s->fields[j].field, BTCORE_MSG_F_COUNT);
			ck_assert_int_le(s->fields[j].min, s->fields[j].max);
			for (k = 0; k < j; k++)
				ck_assert_int_ne(s->fields[j].field,
				    s->fields[k].field);
		}
	}
	/* the DHT operations are all there */
	ck_assert_str_eq(btcore_msg_spec_of(BTCORE_MSG_WELCOME)->op, "welcome");
	ck_assert_str_eq(btcore_msg_spec_of(BTCORE_MSG_NS_SET_REQ)->op,
	    "namespace-set");
	ck_assert_str_eq(btcore_msg_spec_of(BTCORE_MSG_BAG_ADD_REP)->op,
	    "bag-add");
	ck_assert_int_eq(btcore_msg_spec_of(BTCORE_MSG_ERROR)->reply, 1);
	/* and the node-to-node ones */
	ck_assert_str_eq(btcore_msg_spec_of(BTCORE_MSG_RPC_REP)->op, "rpc");
	ck_assert_int_eq(btcore_msg_spec_of(BTCORE_MSG_RPC_REP)->reply, 1);
	ck_assert_str_eq(btcore_msg_spec_of(BTCORE_MSG_DIRECT_OPEN_REQ)->op,
	    "direct-open");
	ck_assert_int_eq(btcore_msg_spec_of(BTCORE_MSG_DIRECT_CLOSE)->reply,
	    0);
	/* pubsub, friends and relaying */
	ck_assert_str_eq(btcore_msg_spec_of(BTCORE_MSG_PUBSUB)->op, "pubsub");
	ck_assert_uint_eq(btcore_msg_spec_of(BTCORE_MSG_PUBSUB)->nfields, 7);
	ck_assert_str_eq(btcore_msg_spec_of(BTCORE_MSG_PUBSUB_GRAFT_REP)->op,
	    "pubsub-graft");
	ck_assert_str_eq(btcore_msg_spec_of(BTCORE_MSG_WHERE_IS_REP)->op,
	    "where-is");
	ck_assert_int_eq(btcore_msg_spec_of(BTCORE_MSG_WHERE_IS_REP)->reply,
	    1);
	ck_assert_str_eq(btcore_msg_spec_of(BTCORE_MSG_FRIEND_HELLO_REQ)->op,
	    "friend-hello");
	ck_assert_str_eq(btcore_msg_spec_of(BTCORE_MSG_RELAY_DATA)->op,
	    "relay-data");
	ck_assert_int_eq(btcore_msg_spec_of(BTCORE_MSG_RELAY_CLOSE)->reply, 0);
	/* admission */
	ck_assert_str_eq(btcore_msg_spec_of(BTCORE_MSG_ADMIT_REP)->op, "admit");
	ck_assert_int_eq(btcore_msg_spec_of(BTCORE_MSG_ADMIT_REP)->reply, 1);
	ck_assert_str_eq(btcore_msg_spec_of(BTCORE_MSG_ADMIT_CHALLENGE_REQ)->op,
	    "admit-challenge");
}
END_TEST

/* An rpc request around the raw document @p args of @p len bytes. */
static int
decode_rpc_with(const uint8_t *args, uint32_t len)
{
	struct btcore_msg *m = NULL;
	bson_t b = BSON_INITIALIZER, sub;
	uint8_t *raw;
	int rc;

	bson_append_utf8(&b, "op", 2, "rpc", 3);
	bson_append_int64(&b, "t", 1, 9);
	bson_append_bool(&b, "reply", 5, false);
	bson_append_utf8(&b, "scope", 5, "echo", 4);
	/* a well-formed placeholder of the same size, patched below */
	ck_assert(len >= 5);
	bson_append_document_begin(&b, "args", 4, &sub);
	if (len > 5) {
		uint8_t *pad = calloc(1, len);

		ck_assert_ptr_nonnull(pad);
		/* one binary element: 1 + 2 + 4 + 1 + n = len - 5 */
		ck_assert(len >= 13);
		bson_append_binary(&sub, "x", 1, BSON_SUBTYPE_BINARY, pad,
		    len - 13);
		free(pad);
	}
	bson_append_document_end(&b, &sub);
	raw = malloc(b.len);
	ck_assert_ptr_nonnull(raw);
	memcpy(raw, bson_get_data(&b), b.len);
	/* the "args" element: type, "args\0", then the document */
	{
		size_t i;
		int found = 0;

		for (i = 0; i + 5 < b.len; i++)
			if (raw[i] == 0x03 && memcmp(raw + i + 1, "args", 5)
			    == 0) {
				memcpy(raw + i + 6, args, len);
				found = 1;
				break;
			}
		ck_assert(found);
	}
	rc = btcore_msg_decode(&m, raw, b.len);
	if (rc == BT_OK) {
		const uint8_t *p;
		size_t plen;

		ck_assert_int_eq(btcore_msg_get_bin(m, BTCORE_MSG_F_ARGS, &p,
		    &plen), BT_OK);
		ck_assert_uint_eq(plen, len);
		ck_assert_mem_eq(p, args, len);
	}
	btcore_msg_free(m);
	free(raw);
	bson_destroy(&b);
	return rc;
}

START_TEST(documents)
{
	static const uint8_t empty[5] = { 5, 0, 0, 0, 0 };
	static const uint8_t one[13] = { 13, 0, 0, 0, 0x10, 'a', 'b', 0, 1,
	    0, 0, 0, 0 };
	uint8_t bad[13];
	struct btcore_msg *m = NULL;
	uint8_t *buf;
	size_t len;

	ck_assert_int_eq(btcore_msg_new(&m, BTCORE_MSG_RPC_REQ, 3), BT_OK);
	ck_assert_int_eq(btcore_msg_set_str(m, BTCORE_MSG_F_SCOPE, "", 0),
	    BT_ERANGE);
	ck_assert_int_eq(btcore_msg_set_str(m, BTCORE_MSG_F_SCOPE,
	    "0123456789012345678901234567890123456789012345678901234567890"
	    "1234", 65), BT_ERANGE);
	ck_assert_int_eq(btcore_msg_set_str(m, BTCORE_MSG_F_SCOPE, "echo",
	    4), BT_OK);
	/* a document is one whole, valid BSON document */
	ck_assert_int_eq(btcore_msg_set_bin(m, BTCORE_MSG_F_ARGS, empty, 4),
	    BT_ERANGE);
	ck_assert_int_eq(btcore_msg_set_bin(m, BTCORE_MSG_F_ARGS, one, 12),
	    BT_EFORMAT);
	memcpy(bad, one, sizeof(bad));
	bad[12] = 1;
	ck_assert_int_eq(btcore_msg_set_bin(m, BTCORE_MSG_F_ARGS, bad, 13),
	    BT_EFORMAT);
	memcpy(bad, one, sizeof(bad));
	bad[4] = 0x7f;		/* no such element type */
	ck_assert_int_eq(btcore_msg_set_bin(m, BTCORE_MSG_F_ARGS, bad, 13),
	    BT_EFORMAT);
	memcpy(bad, one, sizeof(bad));
	bad[0] = 14;		/* length says more than there is */
	ck_assert_int_eq(btcore_msg_set_bin(m, BTCORE_MSG_F_ARGS, bad, 13),
	    BT_EFORMAT);
	ck_assert_int_eq(btcore_msg_encode(m, &buf, &len), BT_EINVAL);
	ck_assert_int_eq(btcore_msg_set_bin(m, BTCORE_MSG_F_ARGS, empty, 5),
	    BT_OK);
	ck_assert_int_eq(btcore_msg_encode(m, &buf, &len), BT_OK);
	btcore_msg_bytes_free(buf);
	btcore_msg_free(m);

	/* decoding: the embedded document is handed out byte for byte */
	ck_assert_int_eq(decode_rpc_with(empty, 5), BT_OK);
	ck_assert_int_eq(decode_rpc_with(one, 13), BT_OK);
	memcpy(bad, one, sizeof(bad));
	bad[4] = 0x7f;
	ck_assert_int_eq(decode_rpc_with(bad, 13), BT_EFORMAT);
	memcpy(bad, one, sizeof(bad));
	bad[12] = 7;
	ck_assert_int_eq(decode_rpc_with(bad, 13), BT_EFORMAT);

	/* a document where binary is expected, and the reverse */
	{
		bson_t b = BSON_INITIALIZER, sub;

		bson_append_utf8(&b, "op", 2, "direct", 6);
		bson_append_int64(&b, "t", 1, 9);
		bson_append_bool(&b, "reply", 5, false);
		bson_append_utf8(&b, "scope", 5, "chat", 4);
		bson_append_document_begin(&b, "value", 5, &sub);
		bson_append_document_end(&b, &sub);
		ck_assert_int_eq(btcore_msg_decode(&m, bson_get_data(&b),
		    b.len), BT_EFORMAT);
		bson_destroy(&b);
		bson_init(&b);
		bson_append_utf8(&b, "op", 2, "rpc", 3);
		bson_append_int64(&b, "t", 1, 9);
		bson_append_bool(&b, "reply", 5, true);
		bson_append_binary(&b, "result", 6, BSON_SUBTYPE_BINARY, one,
		    13);
		ck_assert_int_eq(btcore_msg_decode(&m, bson_get_data(&b),
		    b.len), BT_EFORMAT);
		bson_destroy(&b);
	}
}
END_TEST

START_TEST(round_trip_every_type)
{
	const struct btcore_msg_spec *spec;
	struct btcore_msg *m, *back;
	enum btcore_msg_presence alt;
	uint8_t *a, *b;
	size_t i, items, alen, blen;

	for (i = 0; i < btcore_msg_spec_count(); i++) {
		spec = btcore_msg_spec_at(i);
		for (alt = BTCORE_MSG_ALT_A; alt <= BTCORE_MSG_ALT_B; alt++) {
			if (alt == BTCORE_MSG_ALT_B && !has_alts(spec))
				break;
			for (items = 0; items <= BT_K; items += 10) {
				m = variant(i, alt, items);
				encode(m, &a, &alen);
				ck_assert_int_eq(btcore_msg_decode(&back, a,
				    alen), BT_OK);
				same(m, back);
				encode(back, &b, &blen);
				ck_assert_uint_eq(alen, blen);
				ck_assert_mem_eq(a, b, alen);
				btcore_msg_bytes_free(a);
				btcore_msg_bytes_free(b);
				btcore_msg_free(back);
				btcore_msg_free(m);
			}
		}
	}
}
END_TEST

START_TEST(truncation_and_bit_flips)
{
	struct btcore_msg *m, *back, *again;
	uint8_t *a, *b, *buf;
	size_t i, n, bit, alen, blen, accepted = 0;
	int rc;

	for (i = 0; i < btcore_msg_spec_count(); i++) {
		m = variant(i, BTCORE_MSG_ALT_B, 2);
		encode(m, &a, &alen);
		buf = malloc(alen);
		ck_assert_ptr_nonnull(buf);
		for (n = 0; n < alen; n++) {
			back = (struct btcore_msg *)1;
			rc = btcore_msg_decode(&back, a, n);
			ck_assert_msg(rc == BT_ETRUNC || rc == BT_EFORMAT,
			    "type %zu prefix %zu: %d", i, n, rc);
			ck_assert_ptr_null(back);
			/* the prefix with its length patched and closed */
			if (n < 5)
				continue;
			memcpy(buf, a, n);
			buf[0] = (uint8_t)n;
			buf[1] = (uint8_t)(n >> 8);
			buf[2] = buf[3] = 0;
			buf[n - 1] = 0;
			if (btcore_msg_decode(&back, buf, n) == BT_OK) {
				encode(back, &b, &blen);
				btcore_msg_bytes_free(b);
				btcore_msg_free(back);
			}
		}
		for (bit = 0; bit < alen * 8; bit++) {
			memcpy(buf, a, alen);
			buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
			rc = btcore_msg_decode(&back, buf, alen);
			if (rc != BT_OK) {
				ck_assert_msg(rc == BT_EFORMAT ||
				    rc == BT_ETRUNC || rc == BT_EUNSUPPORTED,
				    "type %zu bit %zu: %d", i, bit, rc);
				continue;
			}
			/* accepted: it is a schema-valid message */
			accepted++;
			encode(back, &b, &blen);
			ck_assert_int_eq(btcore_msg_decode(&again, b, blen),
			    BT_OK);
			same(back, again);
			btcore_msg_free(again);
			btcore_msg_bytes_free(b);
			btcore_msg_free(back);
		}
		free(buf);
		btcore_msg_bytes_free(a);
		btcore_msg_free(m);
	}
	ck_assert_uint_gt(accepted, 0);
}
END_TEST

/* A raw document with the header of (op, reply). */
static void
raw(bson_t *b, const char *op, int reply)
{
	bson_init(b);
	if (op != NULL)
		bson_append_utf8(b, "op", -1, op, -1);
	bson_append_int64(b, "t", -1, 42);
	if (reply >= 0)
		bson_append_bool(b, "reply", -1, reply != 0);
}

static int
decode_raw(bson_t *b)
{
	struct btcore_msg *m = (struct btcore_msg *)1;
	int rc;

	rc = btcore_msg_decode(&m, bson_get_data(b), b->len);
	if (rc == BT_OK)
		btcore_msg_free(m);
	else
		ck_assert_ptr_null(m);
	bson_destroy(b);
	return rc;
}

static const uint8_t k32[32] = { 1, 2, 3 };

static void
raw_nodes(bson_t *b, size_t count, int dup_id, int bad_key)
{
	bson_t arr, nd;
	char key[16];
	size_t i;

	bson_append_array_begin(b, "nodes", -1, &arr);
	for (i = 0; i < count; i++) {
		snprintf(key, sizeof(key), "%zu", bad_key ? i + 1 : i);
		bson_append_document_begin(&arr, key, -1, &nd);
		bson_append_binary(&nd, "id", -1, BSON_SUBTYPE_BINARY, k32, 32);
		bson_append_binary(&nd, "ip", -1, BSON_SUBTYPE_BINARY, k32, 4);
		if (dup_id)
			bson_append_binary(&nd, "id", -1, BSON_SUBTYPE_BINARY,
			    k32, 32);
		bson_append_int32(&nd, "port", -1, 4000);
		bson_append_document_end(&arr, &nd);
	}
	bson_append_array_end(b, &arr);
}

START_TEST(hostile_documents)
{
	bson_t b;
	uint8_t *big;

	/* the baseline is valid */
	raw(&b, "peers", 0);
	bson_append_binary(&b, "key", -1, BSON_SUBTYPE_BINARY, k32, 32);
	ck_assert_int_eq(decode_raw(&b), BT_OK);
	/* any element order */
	bson_init(&b);
	bson_append_binary(&b, "key", -1, BSON_SUBTYPE_BINARY, k32, 32);
	bson_append_bool(&b, "reply", -1, false);
	bson_append_int64(&b, "t", -1, -1);
	bson_append_utf8(&b, "op", -1, "peers", -1);
	ck_assert_int_eq(decode_raw(&b), BT_OK);

	/* unknown op, even with fields no schema lists */
	raw(&b, "frobnicate", 0);
	bson_append_int32(&b, "whatever", -1, 1);
	ck_assert_int_eq(decode_raw(&b), BT_EUNSUPPORTED);
	raw(&b, "Peers", 0);
	bson_append_binary(&b, "key", -1, BSON_SUBTYPE_BINARY, k32, 32);
	ck_assert_int_eq(decode_raw(&b), BT_EUNSUPPORTED);
	raw(&b, "", 0);
	ck_assert_int_eq(decode_raw(&b), BT_EUNSUPPORTED);
	/* a known op the wrong way round */
	raw(&b, "welcome", 0);
	ck_assert_int_eq(decode_raw(&b), BT_EFORMAT);
	raw(&b, "iam", 1);
	ck_assert_int_eq(decode_raw(&b), BT_EFORMAT);
	raw(&b, "error", 0);
	ck_assert_int_eq(decode_raw(&b), BT_EFORMAT);
	/* header missing or mistyped */
	raw(&b, NULL, 0);
	ck_assert_int_eq(decode_raw(&b), BT_EFORMAT);
	raw(&b, "ping", -1);
	ck_assert_int_eq(decode_raw(&b), BT_EFORMAT);
	bson_init(&b);
	bson_append_utf8(&b, "op", -1, "ping", -1);
	bson_append_bool(&b, "reply", -1, false);
	ck_assert_int_eq(decode_raw(&b), BT_EFORMAT);
	bson_init(&b);
	bson_append_utf8(&b, "op", -1, "ping", -1);
	bson_append_int32(&b, "t", -1, 1);
	bson_append_bool(&b, "reply", -1, false);
	ck_assert_int_eq(decode_raw(&b), BT_EFORMAT);
	bson_init(&b);
	bson_append_int32(&b, "op", -1, 1);
	bson_append_int64(&b, "t", -1, 1);
	bson_append_bool(&b, "reply", -1, false);
	ck_assert_int_eq(decode_raw(&b), BT_EFORMAT);
	raw(&b, "ping", 0);
	bson_append_int32(&b, "reply", -1, 0);
	ck_assert_int_eq(decode_raw(&b), BT_EFORMAT);

	/* duplicate keys */
	raw(&b, "peers", 0);
	bson_append_binary(&b, "key", -1, BSON_SUBTYPE_BINARY, k32, 32);
	bson_append_binary(&b, "key", -1, BSON_SUBTYPE_BINARY, k32, 32);
	ck_assert_int_eq(decode_raw(&b), BT_EFORMAT);
	raw(&b, "ping", 0);
	bson_append_int64(&b, "t", -1, 43);
	ck_assert_int_eq(decode_raw(&b), BT_EFORMAT);
	raw(&b, "ping", 0);
	bson_append_utf8(&b, "op", -1, "ping", -1);
	ck_assert_int_eq(decode_raw(&b), BT_EFORMAT);
	raw(&b, "ping", 0);
	bson_append_bool(&b, "reply", -1, false);
	ck_assert_int_eq(decode_raw(&b), BT_EFORMAT);
	raw(&b, "peers", 1);
	raw_nodes(&b, 2, 1, 0);
	ck_assert_int_eq(decode_raw(&b), BT_EFORMAT);

	/* missing required field, unknown field, field of another op */
	raw(&b, "peers", 0);
	ck_assert_int_eq(decode_raw(&b), BT_EFORMAT);
	raw(&b, "peers", 0);
	bson_append_binary(&b, "key", -1, BSON_SUBTYPE_BINARY, k32, 32);
	bson_append_int32(&b, "extra", -1, 1);
	ck_assert_int_eq(decode_raw(&b), BT_EFORMAT);
	raw(&b, "peers", 0);
	bson_append_binary(&b, "key", -1, BSON_SUBTYPE_BINARY, k32, 32);
	bson_append_int32(&b, "limit", -1, 1);
	ck_assert_int_eq(decode_raw(&b), BT_EFORMAT);

	/* wrong types and bounds */
	raw(&b, "peers", 0);
	bson_append_utf8(&b, "key", -1, "0123456789abcdef0123456789abcdef",
	    -1);
	ck_assert_int_eq(decode_raw(&b), BT_EFORMAT);
	raw(&b, "peers", 0);
	bson_append_binary(&b, "key", -1, BSON_SUBTYPE_BINARY, k32, 31);
	ck_assert_int_eq(decode_raw(&b), BT_EFORMAT);
	raw(&b, "peers", 0);
	bson_append_binary(&b, "key", -1, BSON_SUBTYPE_UUID, k32, 32);
	ck_assert_int_eq(decode_raw(&b), BT_EFORMAT);
	raw(&b, "welcome", 1);
	bson_append_binary(&b, "id", -1, BSON_SUBTYPE_BINARY, k32, 32);
	bson_append_binary(&b, "ip", -1, BSON_SUBTYPE_BINARY, k32, 4);
	bson_append_int64(&b, "port", -1, 80);
	ck_assert_int_eq(decode_raw(&b), BT_EFORMAT);
	raw(&b, "welcome", 1);
	bson_append_binary(&b, "id", -1, BSON_SUBTYPE_BINARY, k32, 32);
	bson_append_binary(&b, "ip", -1, BSON_SUBTYPE_BINARY, k32, 5);
	bson_append_int32(&b, "port", -1, 80);
	ck_assert_int_eq(decode_raw(&b), BT_EFORMAT);
	raw(&b, "welcome", 1);
	bson_append_binary(&b, "id", -1, BSON_SUBTYPE_BINARY, k32, 32);
	bson_append_binary(&b, "ip", -1, BSON_SUBTYPE_BINARY, k32, 16);
	bson_append_int32(&b, "port", -1, 65536);
	ck_assert_int_eq(decode_raw(&b), BT_EFORMAT);
	raw(&b, "welcome", 1);
	bson_append_binary(&b, "id", -1, BSON_SUBTYPE_BINARY, k32, 32);
	bson_append_binary(&b, "ip", -1, BSON_SUBTYPE_BINARY, k32, 16);
	bson_append_int32(&b, "port", -1, 65535);
	ck_assert_int_eq(decode_raw(&b), BT_OK);
	raw(&b, "popular", 0);
	bson_append_binary(&b, "key", -1, BSON_SUBTYPE_BINARY, k32, 32);
	bson_append_int32(&b, "limit", -1, 0);
	ck_assert_int_eq(decode_raw(&b), BT_EFORMAT);
	/* the old separate namespace fields are gone: one record field */
	raw(&b, "namespace-set", 0);
	bson_append_binary(&b, "pubkey", -1, BSON_SUBTYPE_BINARY, k32, 32);
	bson_append_binary(&b, "key", -1, BSON_SUBTYPE_BINARY, k32, 32);
	bson_append_binary(&b, "value", -1, BSON_SUBTYPE_BINARY, k32, 3);
	bson_append_int64(&b, "seq", -1, 1);
	bson_append_binary(&b, "sig", -1, BSON_SUBTYPE_BINARY, k32, 32);
	bson_append_binary(&b, "token", -1, BSON_SUBTYPE_BINARY, k32, 16);
	ck_assert_int_eq(decode_raw(&b), BT_EFORMAT);
	big = calloc(1, BTCORE_RECORD_ENC_MAX + 1);
	ck_assert_ptr_nonnull(big);
	raw(&b, "namespace-set", 0);
	bson_append_binary(&b, "record", -1, BSON_SUBTYPE_BINARY, big,
	    BTCORE_MSG_RECORD_MIN);
	ck_assert_int_eq(decode_raw(&b), BT_EFORMAT);	/* no token */
	raw(&b, "namespace-set", 0);
	bson_append_binary(&b, "record", -1, BSON_SUBTYPE_BINARY, big,
	    BTCORE_MSG_RECORD_MIN);
	bson_append_binary(&b, "token", -1, BSON_SUBTYPE_BINARY, k32, 16);
	ck_assert_int_eq(decode_raw(&b), BT_OK);
	raw(&b, "namespace-set", 0);
	bson_append_binary(&b, "record", -1, BSON_SUBTYPE_BINARY, big,
	    BTCORE_MSG_RECORD_MIN - 1);
	bson_append_binary(&b, "token", -1, BSON_SUBTYPE_BINARY, k32, 16);
	ck_assert_int_eq(decode_raw(&b), BT_EFORMAT);
	raw(&b, "namespace-set", 0);
	bson_append_binary(&b, "record", -1, BSON_SUBTYPE_BINARY, big,
	    BTCORE_RECORD_ENC_MAX + 1);
	bson_append_binary(&b, "token", -1, BSON_SUBTYPE_BINARY, k32, 16);
	ck_assert_int_eq(decode_raw(&b), BT_EFORMAT);
	raw(&b, "set", 0);
	bson_append_binary(&b, "value", -1, BSON_SUBTYPE_BINARY, k32, 3);
	bson_append_binary(&b, "token", -1, BSON_SUBTYPE_BINARY, big, 33);
	ck_assert_int_eq(decode_raw(&b), BT_EFORMAT);
	free(big);
	raw(&b, "error", 1);
	bson_append_int32(&b, "code", -1, -8);
	bson_append_utf8(&b, "text", -1, "a\0b", 3);
	ck_assert_int_eq(decode_raw(&b), BT_EFORMAT);
	raw(&b, "error", 1);
	bson_append_int32(&b, "code", -1, -8);
	bson_append_utf8(&b, "text", -1, "\xff", 1);
	ck_assert_int_eq(decode_raw(&b), BT_EFORMAT);
	raw(&b, "error", 1);
	bson_append_int32(&b, "code", -1, -8);
	bson_append_utf8(&b, "text", -1, "not found", -1);
	ck_assert_int_eq(decode_raw(&b), BT_OK);

	/* node counts and array keys */
	raw(&b, "peers", 1);
	raw_nodes(&b, BT_K, 0, 0);
	ck_assert_int_eq(decode_raw(&b), BT_OK);
	raw(&b, "peers", 1);
	raw_nodes(&b, BT_K + 1, 0, 0);
	ck_assert_int_eq(decode_raw(&b), BT_EFORMAT);
	raw(&b, "peers", 1);
	raw_nodes(&b, 2, 0, 1);
	ck_assert_int_eq(decode_raw(&b), BT_EFORMAT);
	raw(&b, "peers", 1);
	bson_append_int32(&b, "nodes", -1, 0);
	ck_assert_int_eq(decode_raw(&b), BT_EFORMAT);

	/* alternatives: exactly one group, complete */
	raw(&b, "ref", 1);
	ck_assert_int_eq(decode_raw(&b), BT_EFORMAT);
	raw(&b, "ref", 1);
	bson_append_binary(&b, "value", -1, BSON_SUBTYPE_BINARY, k32, 3);
	raw_nodes(&b, 1, 0, 0);
	ck_assert_int_eq(decode_raw(&b), BT_EFORMAT);
	raw(&b, "namespace-ref", 1);
	bson_append_binary(&b, "value", -1, BSON_SUBTYPE_BINARY, k32, 3);
	ck_assert_int_eq(decode_raw(&b), BT_EFORMAT);
	raw(&b, "namespace-ref", 1);
	raw_nodes(&b, 0, 0, 0);
	ck_assert_int_eq(decode_raw(&b), BT_OK);

	/* more than 1 MiB: refused by size, valid BSON or not */
	raw(&b, "set", 0);
	big = calloc(1, BT_MSG_MAX);
	ck_assert_ptr_nonnull(big);
	bson_append_binary(&b, "value", -1, BSON_SUBTYPE_BINARY, big,
	    BT_MSG_MAX);
	ck_assert_uint_gt(b.len, BT_MSG_MAX);
	ck_assert_int_eq(decode_raw(&b), BT_ETOOBIG);
	free(big);
}
END_TEST

START_TEST(encoder_checks)
{
	struct btcore_msg *m = NULL;
	struct btcore_msg_node n = node(1);
	uint8_t *buf, *big;
	const uint8_t *p;
	const char *s;
	size_t len, i;
	int64_t v;
	int bv;

	/* missing required field */
	ck_assert_int_eq(btcore_msg_new(&m, BTCORE_MSG_PEERS_REQ, 7), BT_OK);
	ck_assert_int_eq(btcore_msg_encode(m, &buf, &len), BT_EINVAL);
	ck_assert_ptr_null(buf);
	ck_assert_int_eq(btcore_msg_get_bin(m, BTCORE_MSG_F_KEY, &p, &len),
	    BT_ENOTFOUND);
	/* fields of other ops, wrong types, wrong sizes */
	ck_assert_int_eq(btcore_msg_set_bin(m, BTCORE_MSG_F_VALUE, k32, 32),
	    BT_EINVAL);
	ck_assert_int_eq(btcore_msg_set_int64(m, BTCORE_MSG_F_KEY, 1),
	    BT_EINVAL);
	ck_assert_int_eq(btcore_msg_set_bin(m, BTCORE_MSG_F_KEY, k32, 31),
	    BT_ERANGE);
	ck_assert_int_eq(btcore_msg_add_node(m, &n), BT_EINVAL);
	ck_assert_int_eq(btcore_msg_set_bin(m, BTCORE_MSG_F_KEY, k32, 32),
	    BT_OK);
	ck_assert_int_eq(btcore_msg_get_int64(m, BTCORE_MSG_F_KEY, &v),
	    BT_EINVAL);
	ck_assert_int_eq(btcore_msg_encode(m, &buf, &len), BT_OK);
	btcore_msg_bytes_free(buf);
	btcore_msg_free(m);

	/* 21 nodes */
	ck_assert_int_eq(btcore_msg_new(&m, BTCORE_MSG_PEERS_REP, 7), BT_OK);
	for (i = 0; i < BT_K; i++)
		ck_assert_int_eq(btcore_msg_add_node(m, &n), BT_OK);
	ck_assert_int_eq(btcore_msg_add_node(m, &n), BT_ERANGE);
	ck_assert_uint_eq(btcore_msg_node_count(m), BT_K);
	ck_assert_int_eq(btcore_msg_node_at(m, BT_K, &n), BT_ERANGE);
	n = node(1);
	n.port = 0;
	btcore_msg_free(m);
	ck_assert_int_eq(btcore_msg_new(&m, BTCORE_MSG_PEERS_REP, 7), BT_OK);
	ck_assert_int_eq(btcore_msg_add_node(m, &n), BT_ERANGE);
	n = node(1);
	n.ip_len = 6;
	ck_assert_int_eq(btcore_msg_add_node(m, &n), BT_ERANGE);
	/* required arrays may be empty */
	ck_assert_int_eq(btcore_msg_encode(m, &buf, &len), BT_EINVAL);
	ck_assert_int_eq(btcore_msg_set_empty(m, BTCORE_MSG_F_NODES), BT_OK);
	ck_assert_int_eq(btcore_msg_encode(m, &buf, &len), BT_OK);
	btcore_msg_bytes_free(buf);
	btcore_msg_free(m);

	/* alternatives; records and tokens within their bounds */
	ck_assert_int_eq(btcore_msg_new(&m, BTCORE_MSG_NS_REF_REP, 7), BT_OK);
	ck_assert_int_eq(btcore_msg_set_bin(m, BTCORE_MSG_F_VALUE, "v", 1),
	    BT_EINVAL);
	ck_assert_int_eq(btcore_msg_encode(m, &buf, &len), BT_EINVAL);
	big = calloc(1, BTCORE_RECORD_ENC_MAX + 1);
	ck_assert_ptr_nonnull(big);
	ck_assert_int_eq(btcore_msg_set_bin(m, BTCORE_MSG_F_RECORD, big,
	    BTCORE_MSG_RECORD_MIN - 1), BT_ERANGE);
	ck_assert_int_eq(btcore_msg_set_bin(m, BTCORE_MSG_F_RECORD, big,
	    BTCORE_RECORD_ENC_MAX + 1), BT_ERANGE);
	ck_assert_int_eq(btcore_msg_set_bin(m, BTCORE_MSG_F_RECORD, big,
	    BTCORE_RECORD_ENC_MAX), BT_OK);
	ck_assert_int_eq(btcore_msg_set_bin(m, BTCORE_MSG_F_TOKEN, big, 0),
	    BT_ERANGE);
	ck_assert_int_eq(btcore_msg_set_bin(m, BTCORE_MSG_F_TOKEN, big,
	    BTCORE_MSG_TOKEN_MAX + 1), BT_ERANGE);
	ck_assert_int_eq(btcore_msg_set_bin(m, BTCORE_MSG_F_TOKEN, big,
	    BTCORE_MSG_TOKEN_MAX), BT_OK);
	free(big);
	ck_assert_int_eq(btcore_msg_encode(m, &buf, &len), BT_OK);
	btcore_msg_bytes_free(buf);
	ck_assert_int_eq(btcore_msg_set_empty(m, BTCORE_MSG_F_NODES), BT_OK);
	ck_assert_int_eq(btcore_msg_encode(m, &buf, &len), BT_EINVAL);
	btcore_msg_free(m);

	/* writes carry a token */
	ck_assert_int_eq(btcore_msg_new(&m, BTCORE_MSG_BAG_ADD_REQ, 7), BT_OK);
	ck_assert_int_eq(btcore_msg_set_bin(m, BTCORE_MSG_F_KEY, k32, 32),
	    BT_OK);
	ck_assert_int_eq(btcore_msg_set_bin(m, BTCORE_MSG_F_VALUE, k32, 32),
	    BT_OK);
	ck_assert_int_eq(btcore_msg_encode(m, &buf, &len), BT_EINVAL);
	ck_assert_int_eq(btcore_msg_set_bin(m, BTCORE_MSG_F_TOKEN, k32, 16),
	    BT_OK);
	ck_assert_int_eq(btcore_msg_encode(m, &buf, &len), BT_OK);
	btcore_msg_bytes_free(buf);
	btcore_msg_free(m);
	/* a namespace-ref key is 1..64 bytes, not an id */
	ck_assert_int_eq(btcore_msg_new(&m, BTCORE_MSG_NS_REF_REQ, 7), BT_OK);
	ck_assert_int_eq(btcore_msg_set_bin(m, BTCORE_MSG_F_KEY, k32, 0),
	    BT_ERANGE);
	ck_assert_int_eq(btcore_msg_set_bin(m, BTCORE_MSG_F_KEY, k32, 5),
	    BT_OK);
	btcore_msg_free(m);

	/* strings, bools, ints */
	ck_assert_int_eq(btcore_msg_new(&m, BTCORE_MSG_ERROR, 7), BT_OK);
	ck_assert_int_eq(btcore_msg_set_str(m, BTCORE_MSG_F_TEXT, "a\0b", 3),
	    BT_EINVAL);
	ck_assert_int_eq(btcore_msg_set_str(m, BTCORE_MSG_F_TEXT, "\xc3", 1),
	    BT_EINVAL);
	big = malloc(BTCORE_MSG_TEXT_MAX + 1);
	ck_assert_ptr_nonnull(big);
	memset(big, 'x', BTCORE_MSG_TEXT_MAX + 1);
	ck_assert_int_eq(btcore_msg_set_str(m, BTCORE_MSG_F_TEXT,
	    (const char *)big, BTCORE_MSG_TEXT_MAX + 1), BT_ERANGE);
	free(big);
	ck_assert_int_eq(btcore_msg_set_str(m, BTCORE_MSG_F_TEXT, "gone", 4),
	    BT_OK);
	ck_assert_int_eq(btcore_msg_set_int64(m, BTCORE_MSG_F_CODE,
	    (int64_t)INT32_MAX + 1), BT_ERANGE);
	ck_assert_int_eq(btcore_msg_set_int64(m, BTCORE_MSG_F_CODE, -8),
	    BT_OK);
	ck_assert_int_eq(btcore_msg_get_str(m, BTCORE_MSG_F_TEXT, &s, &len),
	    BT_OK);
	ck_assert_str_eq(s, "gone");
	ck_assert_int_eq(btcore_msg_get_bool(m, BTCORE_MSG_F_STORED, &bv),
	    BT_EINVAL);
	ck_assert_int_eq(btcore_msg_encode(m, &buf, &len), BT_OK);
	/* peek reads the header of any well-formed document */
	ck_assert_int_eq(btcore_msg_peek(buf, len, &v, &bv), BT_OK);
	ck_assert_int_eq(v, 7);
	ck_assert_int_eq(bv, 1);
	ck_assert_int_eq(btcore_msg_peek(buf, len - 1, &v, &bv), BT_ETRUNC);
	btcore_msg_bytes_free(buf);
	btcore_msg_free(m);

	/* the 1 MiB limit on encoding */
	ck_assert_int_eq(btcore_msg_new(&m, BTCORE_MSG_SET_REQ, 7), BT_OK);
	big = calloc(1, BT_MSG_MAX);
	ck_assert_ptr_nonnull(big);
	ck_assert_int_eq(btcore_msg_set_bin(m, BTCORE_MSG_F_TOKEN, big, 16),
	    BT_OK);
	ck_assert_int_eq(btcore_msg_set_bin(m, BTCORE_MSG_F_VALUE, big,
	    BT_MSG_MAX - 96), BT_OK);
	ck_assert_int_eq(btcore_msg_encode(m, &buf, &len), BT_OK);
	ck_assert_uint_le(len, BT_MSG_MAX);
	btcore_msg_bytes_free(buf);
	ck_assert_int_eq(btcore_msg_set_bin(m, BTCORE_MSG_F_VALUE, big,
	    BT_MSG_MAX - 10), BT_OK);
	ck_assert_int_eq(btcore_msg_encode(m, &buf, &len), BT_ETOOBIG);
	ck_assert_ptr_null(buf);
	ck_assert_int_eq(btcore_msg_set_bin(m, BTCORE_MSG_F_VALUE, big,
	    BT_MSG_MAX + 1), BT_ERANGE);
	free(big);
	btcore_msg_free(m);

	ck_assert_int_eq(btcore_msg_new(&m, (enum btcore_msg_type)0, 1),
	    BT_EINVAL);
	ck_assert_ptr_null(m);
	ck_assert_int_eq(btcore_msg_decode(NULL, k32, 5), BT_EINVAL);
	ck_assert_int_eq(btcore_msg_decode(&m, NULL, 5), BT_EINVAL);
	ck_assert_int_eq(btcore_msg_decode(&m, k32, BT_MSG_MAX + 1),
	    BT_ETOOBIG);
	btcore_msg_free(NULL);
	btcore_msg_bytes_free(NULL);
}
END_TEST

Suite *suite_msg(void);

/* The bounds of the pubsub, friend and relay fields. */
START_TEST(social_bounds)
{
	struct btcore_msg *m = NULL, *back = NULL;
	uint8_t big[BTCORE_MSG_PEERFILE_MAX + 1], sig[65], id[32];
	uint8_t *enc;
	size_t len;

	memset(big, 7, sizeof(big));
	memset(sig, 1, sizeof(sig));
	memset(id, 2, sizeof(id));
	ck_assert_int_eq(btcore_msg_new(&m, BTCORE_MSG_PUBSUB, 1), BT_OK);
	ck_assert_int_eq(btcore_msg_set_int64(m, BTCORE_MSG_F_HOPS, 256),
	    BT_ERANGE);
	ck_assert_int_eq(btcore_msg_set_int64(m, BTCORE_MSG_F_HOPS, -1),
	    BT_ERANGE);
	ck_assert_int_eq(btcore_msg_set_int64(m, BTCORE_MSG_F_SEQ, -1),
	    BT_ERANGE);
	ck_assert_int_eq(btcore_msg_set_bin(m, BTCORE_MSG_F_SIG, sig, 63),
	    BT_ERANGE);
	ck_assert_int_eq(btcore_msg_set_bin(m, BTCORE_MSG_F_SIG, sig, 65),
	    BT_ERANGE);
	ck_assert_int_eq(btcore_msg_set_bin(m, BTCORE_MSG_F_KEY, id, 32),
	    BT_OK);
	ck_assert_int_eq(btcore_msg_set_bin(m, BTCORE_MSG_F_ID, id, 32), BT_OK);
	ck_assert_int_eq(btcore_msg_set_bin(m, BTCORE_MSG_F_PUBKEY, id, 32),
	    BT_OK);
	ck_assert_int_eq(btcore_msg_set_int64(m, BTCORE_MSG_F_SEQ, 5), BT_OK);
	ck_assert_int_eq(btcore_msg_set_int64(m, BTCORE_MSG_F_HOPS, 255),
	    BT_OK);
	ck_assert_int_eq(btcore_msg_set_bin(m, BTCORE_MSG_F_VALUE, NULL, 0),
	    BT_OK);
	/* the signature is still missing */
	ck_assert_int_eq(btcore_msg_encode(m, &enc, &len), BT_EINVAL);
	ck_assert_int_eq(btcore_msg_set_bin(m, BTCORE_MSG_F_SIG, sig, 64),
	    BT_OK);
	ck_assert_int_eq(btcore_msg_encode(m, &enc, &len), BT_OK);
	ck_assert_int_eq(btcore_msg_decode(&back, enc, len), BT_OK);
	ck_assert_int_eq(btcore_msg_type(back), BTCORE_MSG_PUBSUB);
	btcore_msg_bytes_free(enc);
	btcore_msg_free(back);
	btcore_msg_free(m);

	ck_assert_int_eq(btcore_msg_new(&m, BTCORE_MSG_FRIEND_HELLO_REQ, 1),
	    BT_OK);
	ck_assert_int_eq(btcore_msg_set_bin(m, BTCORE_MSG_F_VALUE, big,
	    sizeof(big)), BT_ERANGE);
	ck_assert_int_eq(btcore_msg_set_bin(m, BTCORE_MSG_F_VALUE, big, 0),
	    BT_ERANGE);
	ck_assert_int_eq(btcore_msg_set_bin(m, BTCORE_MSG_F_VALUE, big,
	    sizeof(big) - 1), BT_OK);
	btcore_msg_free(m);

	ck_assert_int_eq(btcore_msg_new(&m, BTCORE_MSG_RELAY_DATA, 1), BT_OK);
	ck_assert_int_eq(btcore_msg_set_int64(m, BTCORE_MSG_F_CIRCUIT, 0),
	    BT_ERANGE);
	ck_assert_int_eq(btcore_msg_set_bin(m, BTCORE_MSG_F_VALUE, big, 0),
	    BT_ERANGE);
	ck_assert_int_eq(btcore_msg_set_bin(m, BTCORE_MSG_F_ID, id, 32),
	    BT_EINVAL);
	btcore_msg_free(m);
}
END_TEST

/* The bounds of the admission messages. */
START_TEST(admit_bounds)
{
	static uint8_t big[BTCORE_MSG_ADMIT_MAX + 1];
	struct btcore_msg *m = NULL, *back = NULL;
	const uint8_t *p;
	uint8_t *enc = NULL;
	size_t len, plen;

	memset(big, 0x5a, sizeof(big));
	/* a statement may be empty (none) or up to the maximum */
	ck_assert_int_eq(btcore_msg_new(&m, BTCORE_MSG_ADMIT_REQ, 9), BT_OK);
	ck_assert_int_eq(btcore_msg_encode(m, &enc, &len), BT_EINVAL);
	ck_assert_int_eq(btcore_msg_set_bin(m, BTCORE_MSG_F_VALUE, big,
	    sizeof(big)), BT_ERANGE);
	ck_assert_int_eq(btcore_msg_set_bin(m, BTCORE_MSG_F_VALUE, NULL, 0),
	    BT_OK);
	ck_assert_int_eq(btcore_msg_encode(m, &enc, &len), BT_OK);
	ck_assert_int_eq(btcore_msg_decode(&back, enc, len), BT_OK);
	ck_assert_int_eq(btcore_msg_type(back), BTCORE_MSG_ADMIT_REQ);
	ck_assert_int_eq(btcore_msg_get_bin(back, BTCORE_MSG_F_VALUE, &p,
	    &plen), BT_OK);
	ck_assert_uint_eq(plen, 0);
	btcore_msg_free(back);
	btcore_msg_bytes_free(enc);
	ck_assert_int_eq(btcore_msg_set_bin(m, BTCORE_MSG_F_VALUE, big,
	    sizeof(big) - 1), BT_OK);
	ck_assert_int_eq(btcore_msg_encode(m, &enc, &len), BT_OK);
	ck_assert_int_eq(btcore_msg_decode(&back, enc, len), BT_OK);
	ck_assert_int_eq(btcore_msg_get_bin(back, BTCORE_MSG_F_VALUE, &p,
	    &plen), BT_OK);
	ck_assert_uint_eq(plen, sizeof(big) - 1);
	ck_assert_mem_eq(p, big, plen);
	btcore_msg_free(back);
	btcore_msg_bytes_free(enc);
	btcore_msg_free(m);

	/* a challenge is never empty; its answer is exactly 32 bytes */
	ck_assert_int_eq(btcore_msg_new(&m, BTCORE_MSG_ADMIT_CHALLENGE_REQ, 1),
	    BT_OK);
	ck_assert_int_eq(btcore_msg_set_bin(m, BTCORE_MSG_F_VALUE, big, 0),
	    BT_ERANGE);
	ck_assert_int_eq(btcore_msg_set_bin(m, BTCORE_MSG_F_VALUE, big, 300),
	    BT_OK);
	btcore_msg_free(m);
	ck_assert_int_eq(btcore_msg_new(&m, BTCORE_MSG_ADMIT_CHALLENGE_REP, 1),
	    BT_OK);
	ck_assert_int_eq(btcore_msg_set_bin(m, BTCORE_MSG_F_VALUE, big, 31),
	    BT_ERANGE);
	ck_assert_int_eq(btcore_msg_set_bin(m, BTCORE_MSG_F_VALUE, big, 33),
	    BT_ERANGE);
	ck_assert_int_eq(btcore_msg_set_bin(m, BTCORE_MSG_F_VALUE, big, 32),
	    BT_OK);
	ck_assert_int_eq(btcore_msg_set_bin(m, BTCORE_MSG_F_ID, big, 32),
	    BT_EINVAL);
	ck_assert_int_eq(btcore_msg_encode(m, &enc, &len), BT_OK);
	btcore_msg_free(m);
	ck_assert_int_eq(btcore_msg_decode(&back, enc, len), BT_OK);
	btcore_msg_free(back);
	btcore_msg_bytes_free(enc);
	/* an answer one byte short, or long, does not decode */
	for (plen = 31; plen <= 33; plen += 2) {
		bson_t b = BSON_INITIALIZER;

		ck_assert(BSON_APPEND_UTF8(&b, "op", "admit-challenge"));
		ck_assert(BSON_APPEND_INT64(&b, "t", 1));
		ck_assert(BSON_APPEND_BOOL(&b, "reply", true));
		ck_assert(BSON_APPEND_BINARY(&b, "value", BSON_SUBTYPE_BINARY,
		    big, (uint32_t)plen));
		ck_assert_int_eq(btcore_msg_decode(&back, bson_get_data(&b),
		    b.len), BT_EFORMAT);
		ck_assert_ptr_null(back);
		bson_destroy(&b);
	}
}
END_TEST

Suite *
suite_msg(void)
{
	Suite *s = suite_create("msg");
	TCase *tc = tcase_create("msg");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, schema_table);
	tcase_add_test(tc, round_trip_every_type);
	tcase_add_test(tc, truncation_and_bit_flips);
	tcase_add_test(tc, hostile_documents);
	tcase_add_test(tc, encoder_checks);
	tcase_add_test(tc, documents);
	tcase_add_test(tc, social_bounds);
	tcase_add_test(tc, admit_bounds);
	suite_add_tcase(s, tc);
	return s;
}
