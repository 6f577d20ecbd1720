/*
 * log.c - signed append-only logs: signed heads, entries with inclusion
 * proofs, consistency between heads, fork evidence.
 */
#include <bt/hash.h>
#include <bt/key.h>
#include <bt/log.h>
#include <bt/merkle.h>

#include <string.h>

#include "btcore-internal.h"

#define HEAD_TAG	0x48	/* 'H' */
#define ENTRY_TAG	0x45	/* 'E' */
#define FORK_TAG	0x46	/* 'F' */
#define ENTRY_FIXED	(1 + BTCORE_LOG_HEAD_ENC_LEN + 8 + 32 + 1)

static const char head_domain[] = "blocktree-log-head-v1";	/* + NUL */
#define HEAD_MSG_LEN	(sizeof(head_domain) + 32 + 8 + 32)

static void
head_message(const struct bt_log_head *h, uint8_t msg[HEAD_MSG_LEN])
{
	uint8_t *p = msg;

	memcpy(p, head_domain, sizeof(head_domain));
	p += sizeof(head_domain);
	memcpy(p, h->feed.b, 32);
	p += 32;
	btcore_put_be64_(p, h->length);
	p += 8;
	memcpy(p, h->root.b, 32);
}

static int
is_empty_root(const struct bt_id *root, int *yes)
{
	struct bt_id e;
	int rc;

	if ((rc = btcore_id_hash(&e, NULL, 0)) != BT_OK)
		return rc;
	*yes = memcmp(e.b, root->b, BT_ID_LEN) == 0;
	return BT_OK;
}

int
btcore_log_leaf_hash(struct bt_id *out, const struct bt_id *payload_hash)
{
	if (out == NULL || payload_hash == NULL)
		return BT_EINVAL;
	return btcore_merkle_leaf_hash(out, payload_hash->b, BT_ID_LEN);
}

int
btcore_log_head_sign(struct bt_log_head *head,
    const struct btcore_signer *signer, uint64_t length,
    const struct bt_id *root)
{
	uint8_t msg[HEAD_MSG_LEN];
	int rc, empty = 0;

	if (head == NULL)
		return BT_EINVAL;
	memset(head, 0, sizeof(*head));
	if (signer == NULL || root == NULL)
		return BT_EINVAL;
	if (length > BTCORE_MERKLE_SIZE_MAX)
		return BT_ERANGE;
	if (length == 0) {
		if ((rc = is_empty_root(root, &empty)) != BT_OK)
			goto out;
		if (!empty) {
			rc = BT_EINVAL;
			goto out;
		}
	}
	head->feed = signer->pub;
	head->length = length;
	head->root = *root;
	head_message(head, msg);
	rc = btcore_signer_sign(signer, msg, sizeof(msg), &head->sig);
out:
	if (rc != BT_OK)
		memset(head, 0, sizeof(*head));
	return rc;
}

int
btcore_log_head_verify(const struct bt_log_head *head)
{
	uint8_t msg[HEAD_MSG_LEN];
	int rc, empty = 0;

	if (head == NULL)
		return BT_EINVAL;
	if (head->length > BTCORE_MERKLE_SIZE_MAX)
		return BT_EVERIFY;
	if (head->length == 0) {
		if ((rc = is_empty_root(&head->root, &empty)) != BT_OK)
			return rc;
		if (!empty)
			return BT_EVERIFY;
	}
	head_message(head, msg);
	return btcore_sig_verify(&head->feed, msg, sizeof(msg), &head->sig) ==
	    BT_OK ? BT_OK : BT_EVERIFY;
}

int
btcore_log_head_encode(const struct bt_log_head *head,
    uint8_t buf[BTCORE_LOG_HEAD_ENC_LEN])
{
	if (head == NULL || buf == NULL)
		return BT_EINVAL;
	buf[0] = HEAD_TAG;
	memcpy(buf + 1, head->feed.b, 32);
	btcore_put_be64_(buf + 33, head->length);
	memcpy(buf + 41, head->root.b, 32);
	memcpy(buf + 73, head->sig.b, 64);
	return BT_OK;
}

/* Parse a head without checking it. */
static int
head_parse(struct bt_log_head *out, const uint8_t *buf, size_t len)
{
	if (len < BTCORE_LOG_HEAD_ENC_LEN)
		return BT_ETRUNC;
	if (buf[0] != HEAD_TAG)
		return BT_EFORMAT;
	memcpy(out->feed.b, buf + 1, 32);
	out->length = btcore_get_be64_(buf + 33);
	memcpy(out->root.b, buf + 41, 32);
	memcpy(out->sig.b, buf + 73, 64);
	return BT_OK;
}

int
btcore_log_head_decode(struct bt_log_head *out, const uint8_t *buf,
    size_t len)
{
	int rc;

	if (out == NULL)
		return BT_EINVAL;
	memset(out, 0, sizeof(*out));
	if (buf == NULL && len != 0)
		return BT_EINVAL;
	if ((rc = head_parse(out, buf, len)) != BT_OK)
		goto out;
	if (len != BTCORE_LOG_HEAD_ENC_LEN) {
		rc = BT_EFORMAT;
		goto out;
	}
	rc = btcore_log_head_verify(out);
out:
	if (rc != BT_OK)
		memset(out, 0, sizeof(*out));
	return rc;
}

static int
same_feed(const struct bt_log_head *a, const struct bt_log_head *b)
{
	return memcmp(a->feed.b, b->feed.b, 32) == 0;
}

int
btcore_log_fork_check(const struct bt_log_head *a, const struct bt_log_head *b,
    struct bt_log_fork *fork)
{
	int rc;

	if (fork != NULL)
		memset(fork, 0, sizeof(*fork));
	if (a == NULL || b == NULL)
		return BT_EINVAL;
	if (!same_feed(a, b) || a->length != b->length)
		return BT_EINVAL;
	if ((rc = btcore_log_head_verify(a)) != BT_OK ||
	    (rc = btcore_log_head_verify(b)) != BT_OK)
		return rc;
	if (memcmp(a->root.b, b->root.b, BT_ID_LEN) == 0)
		return BT_OK;
	if (fork != NULL) {
		fork->a = *a;
		fork->b = *b;
	}
	return BT_ECONFLICT;
}

int
btcore_log_fork_verify(const struct bt_log_fork *fork)
{
	int rc;

	if (fork == NULL)
		return BT_EINVAL;
	rc = btcore_log_fork_check(&fork->a, &fork->b, NULL);
	if (rc == BT_ECONFLICT)
		return BT_OK;
	if (rc == BT_ECRYPTO)
		return rc;
	return BT_EVERIFY;
}

int
btcore_log_fork_encode(const struct bt_log_fork *fork,
    uint8_t buf[BTCORE_LOG_FORK_ENC_LEN])
{
	int rc;

	if (fork == NULL || buf == NULL)
		return BT_EINVAL;
	buf[0] = FORK_TAG;
	if ((rc = btcore_log_head_encode(&fork->a, buf + 1)) != BT_OK)
		return rc;
	return btcore_log_head_encode(&fork->b,
	    buf + 1 + BTCORE_LOG_HEAD_ENC_LEN);
}

int
btcore_log_fork_decode(struct bt_log_fork *out, const uint8_t *buf,
    size_t len)
{
	int rc;

	if (out == NULL)
		return BT_EINVAL;
	memset(out, 0, sizeof(*out));
	if (buf == NULL && len != 0)
		return BT_EINVAL;
	if (len < 1) {
		rc = BT_ETRUNC;
		goto out;
	}
	if (buf[0] != FORK_TAG) {
		rc = BT_EFORMAT;
		goto out;
	}
	if ((rc = head_parse(&out->a, buf + 1, len - 1)) != BT_OK ||
	    (rc = head_parse(&out->b, buf + 1 + BTCORE_LOG_HEAD_ENC_LEN,
	    len - 1 - BTCORE_LOG_HEAD_ENC_LEN)) != BT_OK)
		goto out;
	if (len != BTCORE_LOG_FORK_ENC_LEN) {
		rc = BT_EFORMAT;
		goto out;
	}
	rc = btcore_log_fork_verify(out);
out:
	if (rc != BT_OK)
		memset(out, 0, sizeof(*out));
	return rc;
}

int
btcore_log_head_extends(const struct bt_log_head *older,
    const struct bt_log_head *newer, const struct bt_merkle_proof *proof,
    struct bt_log_fork *fork)
{
	int rc;

	if (fork != NULL)
		memset(fork, 0, sizeof(*fork));
	if (older == NULL || newer == NULL)
		return BT_EINVAL;
	if (!same_feed(older, newer))
		return BT_EINVAL;
	if (older->length == newer->length)
		return btcore_log_fork_check(older, newer, fork);
	if ((rc = btcore_log_head_verify(older)) != BT_OK ||
	    (rc = btcore_log_head_verify(newer)) != BT_OK)
		return rc;
	if (newer->length < older->length)
		return BT_ESTALE;
	if (proof == NULL || proof->kind != BTCORE_MERKLE_CONSISTENCY ||
	    proof->first != older->length || proof->size != newer->length)
		return BT_EINVAL;
	return btcore_merkle_consistency_verify(proof, &older->root,
	    &newer->root);
}

int
btcore_log_entry_make(struct bt_log_entry *entry,
    const struct bt_log_head *head, uint64_t index,
    const struct bt_id *payload_hash, btcore_merkle_subtree_fn subtree,
    void *ctx)
{
	int rc;

	if (entry == NULL)
		return BT_EINVAL;
	memset(entry, 0, sizeof(*entry));
	if (head == NULL || payload_hash == NULL || subtree == NULL)
		return BT_EINVAL;
	rc = btcore_merkle_inclusion_prove(&entry->proof, index, head->length,
	    subtree, ctx);
	if (rc != BT_OK)
		goto out;
	entry->head = *head;
	entry->index = index;
	entry->payload_hash = *payload_hash;
out:
	if (rc != BT_OK)
		memset(entry, 0, sizeof(*entry));
	return rc;
}

int
btcore_log_entry_verify(const struct bt_log_entry *entry)
{
	struct bt_id leaf;
	int rc;

	if (entry == NULL)
		return BT_EINVAL;
	if (entry->proof.kind != BTCORE_MERKLE_INCLUSION ||
	    entry->proof.first != entry->index ||
	    entry->proof.size != entry->head.length ||
	    entry->index >= entry->head.length)
		return BT_EVERIFY;
	if ((rc = btcore_log_head_verify(&entry->head)) != BT_OK)
		return rc;
	if ((rc = btcore_log_leaf_hash(&leaf, &entry->payload_hash)) != BT_OK)
		return rc;
	return btcore_merkle_inclusion_verify(&entry->proof, &leaf,
	    &entry->head.root);
}

int
btcore_log_entry_check_payload(const struct bt_log_entry *entry,
    const void *payload, size_t len)
{
	struct bt_id h;
	int rc;

	if (entry == NULL || (payload == NULL && len != 0))
		return BT_EINVAL;
	if ((rc = btcore_id_hash(&h, payload, len)) != BT_OK)
		return rc;
	return memcmp(h.b, entry->payload_hash.b, BT_ID_LEN) == 0 ?
	    BT_OK : BT_EVERIFY;
}

int
btcore_log_entry_encode(const struct bt_log_entry *entry, uint8_t *buf,
    size_t cap, size_t *out_len)
{
	const struct bt_merkle_proof *p;
	size_t need, i;
	uint8_t *q;
	int want;

	if (entry == NULL || out_len == NULL || (buf == NULL && cap != 0))
		return BT_EINVAL;
	*out_len = 0;
	p = &entry->proof;
	want = btcore_merkle_inclusion_len(entry->index, entry->head.length);
	if (want < 0 || p->kind != BTCORE_MERKLE_INCLUSION ||
	    p->first != entry->index || p->size != entry->head.length ||
	    (int)p->count != want)
		return BT_EINVAL;
	need = ENTRY_FIXED + (size_t)p->count * BT_ID_LEN;
	*out_len = need;
	if (cap < need)
		return BT_ERANGE;
	q = buf;
	*q++ = ENTRY_TAG;
	if (btcore_log_head_encode(&entry->head, q) != BT_OK)
		return BT_EINVAL;
	q += BTCORE_LOG_HEAD_ENC_LEN;
	btcore_put_be64_(q, entry->index);
	q += 8;
	memcpy(q, entry->payload_hash.b, BT_ID_LEN);
	q += BT_ID_LEN;
	*q++ = p->count;
	for (i = 0; i < p->count; i++, q += BT_ID_LEN)
		memcpy(q, p->hash[i].b, BT_ID_LEN);
	return BT_OK;
}

int
btcore_log_entry_decode(struct bt_log_entry *out, const uint8_t *buf,
    size_t len)
{
	const uint8_t *q;
	size_t need, i;
	int want, rc;

	if (out == NULL)
		return BT_EINVAL;
	memset(out, 0, sizeof(*out));
	if (buf == NULL && len != 0)
		return BT_EINVAL;
	if (len < 1) {
		rc = BT_ETRUNC;
		goto out;
	}
	if (buf[0] != ENTRY_TAG) {
		rc = BT_EFORMAT;
		goto out;
	}
	if ((rc = head_parse(&out->head, buf + 1, len - 1)) != BT_OK)
		goto out;
	if (len < ENTRY_FIXED) {
		rc = BT_ETRUNC;
		goto out;
	}
	q = buf + 1 + BTCORE_LOG_HEAD_ENC_LEN;
	out->index = btcore_get_be64_(q);
	q += 8;
	memcpy(out->payload_hash.b, q, BT_ID_LEN);
	q += BT_ID_LEN;
	out->proof.kind = BTCORE_MERKLE_INCLUSION;
	out->proof.first = out->index;
	out->proof.size = out->head.length;
	out->proof.count = *q++;
	want = btcore_merkle_inclusion_len(out->index, out->head.length);
	if (want < 0 || want != (int)out->proof.count) {
		rc = BT_EFORMAT;
		goto out;
	}
	need = ENTRY_FIXED + (size_t)out->proof.count * BT_ID_LEN;
	if (len < need) {
		rc = BT_ETRUNC;
		goto out;
	}
	if (len > need) {
		rc = BT_EFORMAT;
		goto out;
	}
	for (i = 0; i < out->proof.count; i++, q += BT_ID_LEN)
		memcpy(out->proof.hash[i].b, q, BT_ID_LEN);
	rc = btcore_log_entry_verify(out);
out:
	if (rc != BT_OK)
		memset(out, 0, sizeof(*out));
	return rc;
}
