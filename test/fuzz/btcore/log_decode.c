/*
 * Fuzz target: the log decoders (head, entry, fork evidence) and the
 * Merkle proof decoder, then proof verification with fuzzed hashes: the
 * input is a proof followed by two 32-byte ids (leaf and root for an
 * inclusion proof, older and newer root for a consistency proof).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <bt/log.h>
#include <bt/merkle.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_proof(const uint8_t *data, size_t size)
{
	uint8_t back[BTCORE_MERKLE_PROOF_ENC_MAX];
	struct bt_merkle_proof p, q;
	struct bt_id a, b;
	size_t len = 0;
	int rc;

	if (size < 64)
		return;
	memcpy(a.b, data + size - 64, 32);
	memcpy(b.b, data + size - 32, 32);
	size -= 64;
	if (btcore_merkle_proof_decode(&p, data, size) != BT_OK)
		return;
	if (p.count > BTCORE_MERKLE_PROOF_MAX ||
	    btcore_merkle_proof_encode(&p, back, sizeof(back), &len) != BT_OK ||
	    len != size || memcmp(back, data, size) != 0 ||
	    btcore_merkle_proof_decode(&q, back, len) != BT_OK ||
	    memcmp(&p, &q, sizeof(p)) != 0)
		abort();
	if (p.kind == BTCORE_MERKLE_INCLUSION)
		rc = btcore_merkle_inclusion_verify(&p, &a, &b);
	else
		rc = btcore_merkle_consistency_verify(&p, &a, &b);
	if (rc != BT_OK && rc != BT_EVERIFY)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t back[BTCORE_LOG_ENTRY_ENC_MAX];
	struct bt_log_head h;
	struct bt_log_entry e, e2;
	struct bt_log_fork f;
	size_t len = 0;

	if (btcore_log_head_decode(&h, data, size) == BT_OK) {
		if (btcore_log_head_verify(&h) != BT_OK ||
		    btcore_log_head_encode(&h, back) != BT_OK ||
		    size != BTCORE_LOG_HEAD_ENC_LEN ||
		    memcmp(back, data, size) != 0)
			abort();
	}
	if (btcore_log_entry_decode(&e, data, size) == BT_OK) {
		if (btcore_log_entry_verify(&e) != BT_OK ||
		    e.index >= e.head.length ||
		    btcore_log_entry_encode(&e, back, sizeof(back), &len) !=
		    BT_OK || len != size || memcmp(back, data, size) != 0 ||
		    btcore_log_entry_decode(&e2, back, len) != BT_OK ||
		    memcmp(&e, &e2, sizeof(e)) != 0)
			abort();
	}
	if (btcore_log_fork_decode(&f, data, size) == BT_OK) {
		if (btcore_log_fork_verify(&f) != BT_OK ||
		    btcore_log_fork_encode(&f, back) != BT_OK ||
		    size != BTCORE_LOG_FORK_ENC_LEN ||
		    memcmp(back, data, size) != 0)
			abort();
	}
	fuzz_proof(data, size);
	return 0;
}
