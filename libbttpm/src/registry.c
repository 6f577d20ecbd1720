/*
 * registry.c - endorsement registration records and an in-memory
 * registry where the first claim of a TPM wins.
 *
 * Record (BTTPM_REGISTRATION_LEN = 141 bytes), integers big endian:
 *   "BTTR" | version 1 | endorsement id [32] | claimant key [32] |
 *   time (u64 seconds) | Ed25519 signature [64]
 * The signature covers "BlockTree TPM registration v1\0" followed by the
 * first 77 bytes of the record.
 */
#include <stdlib.h>
#include <string.h>

#include <bt/hash.h>

#include "bttpm-internal.h"

static const uint8_t reg_magic[4] = { 'B', 'T', 'T', 'R' };
static const char reg_domain[30] = "BlockTree TPM registration v1";
#define REG_VERSION	1
#define REG_BODY	77
#define REG_MAX_ENTRIES	(1u << 24)

struct reg_entry {
	struct bt_id		ek;
	struct bt_pubkey	claimant;
	uint64_t		when;
};

struct bttpm_registry {
	struct reg_entry	*v;
	size_t			n, cap;
};

static void
reg_msg(const uint8_t *rec, uint8_t msg[sizeof(reg_domain) + REG_BODY])
{
	memcpy(msg, reg_domain, sizeof(reg_domain));
	memcpy(msg + sizeof(reg_domain), rec, REG_BODY);
}

int
bttpm_registration_make(const struct btcore_signer *signer,
    const struct bt_id *ek_id, uint64_t when,
    uint8_t out[BTTPM_REGISTRATION_LEN])
{
	uint8_t msg[sizeof(reg_domain) + REG_BODY];
	struct bt_sig sig;
	int rc;

	if (out == NULL)
		return BT_EINVAL;
	memset(out, 0, BTTPM_REGISTRATION_LEN);
	if (signer == NULL || ek_id == NULL)
		return BT_EINVAL;
	memcpy(out, reg_magic, 4);
	out[4] = REG_VERSION;
	memcpy(out + 5, ek_id->b, 32);
	memcpy(out + 37, signer->pub.b, 32);
	bttpm_put_be64_(out + 69, when);
	reg_msg(out, msg);
	if ((rc = btcore_signer_sign(signer, msg, sizeof(msg), &sig)) != BT_OK) {
		memset(out, 0, BTTPM_REGISTRATION_LEN);
		return rc;
	}
	memcpy(out + REG_BODY, sig.b, sizeof(sig.b));
	return BT_OK;
}

int
bttpm_registration_verify(const uint8_t *rec, size_t len, struct bt_id *ek_id,
    struct bt_pubkey *claimant, uint64_t *when)
{
	uint8_t msg[sizeof(reg_domain) + REG_BODY];
	struct bt_pubkey pub;
	struct bt_sig sig;

	if (ek_id != NULL)
		memset(ek_id, 0, sizeof(*ek_id));
	if (claimant != NULL)
		memset(claimant, 0, sizeof(*claimant));
	if (when != NULL)
		*when = 0;
	if (rec == NULL)
		return BT_EINVAL;
	if (len < BTTPM_REGISTRATION_LEN)
		return BT_ETRUNC;
	if (len > BTTPM_REGISTRATION_LEN || memcmp(rec, reg_magic, 4) != 0 ||
	    rec[4] != REG_VERSION)
		return BT_EFORMAT;
	memcpy(pub.b, rec + 37, 32);
	memcpy(sig.b, rec + REG_BODY, 64);
	reg_msg(rec, msg);
	if (btcore_sig_verify(&pub, msg, sizeof(msg), &sig) != BT_OK)
		return BTTPM_E_CLAIMSIG;
	if (ek_id != NULL)
		memcpy(ek_id->b, rec + 5, 32);
	if (claimant != NULL)
		*claimant = pub;
	if (when != NULL)
		*when = bttpm_get_be64_(rec + 69);
	return BT_OK;
}

int
bttpm_registry_new(struct bttpm_registry **out)
{
	if (out == NULL)
		return BT_EINVAL;
	if ((*out = calloc(1, sizeof(**out))) == NULL)
		return BT_ENOMEM;
	return BT_OK;
}

void
bttpm_registry_free(struct bttpm_registry *reg)
{
	if (reg == NULL)
		return;
	free(reg->v);
	free(reg);
}

/* Index of the first entry not below @p ek. */
static size_t
reg_find(const struct bttpm_registry *reg, const struct bt_id *ek)
{
	size_t lo = 0, hi = reg->n, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (btcore_id_cmp(&reg->v[mid].ek, ek) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int
bttpm_registry_claim(struct bttpm_registry *reg, const uint8_t *rec,
    size_t len)
{
	struct reg_entry e, *nv;
	size_t i, ncap;
	int rc;

	if (reg == NULL)
		return BT_EINVAL;
	if ((rc = bttpm_registration_verify(rec, len, &e.ek, &e.claimant,
	    &e.when)) != BT_OK)
		return rc;
	i = reg_find(reg, &e.ek);
	if (i < reg->n && btcore_id_cmp(&reg->v[i].ek, &e.ek) == 0)
		return memcmp(reg->v[i].claimant.b, e.claimant.b, 32) == 0 ?
		    BT_OK : BTTPM_E_CLAIMED;
	if (reg->n == reg->cap) {
		if (reg->cap >= REG_MAX_ENTRIES)
			return BT_ENOSPC;
		ncap = reg->cap == 0 ? 16 : reg->cap * 2;
		if ((nv = realloc(reg->v, ncap * sizeof(*nv))) == NULL)
			return BT_ENOMEM;
		reg->v = nv;
		reg->cap = ncap;
	}
	memmove(&reg->v[i + 1], &reg->v[i], (reg->n - i) * sizeof(*reg->v));
	reg->v[i] = e;
	reg->n++;
	return BT_OK;
}

int
bttpm_registry_lookup(const struct bttpm_registry *reg,
    const struct bt_id *ek_id, struct bt_pubkey *claimant, uint64_t *when)
{
	size_t i;

	if (claimant != NULL)
		memset(claimant, 0, sizeof(*claimant));
	if (when != NULL)
		*when = 0;
	if (reg == NULL || ek_id == NULL)
		return BT_EINVAL;
	i = reg_find(reg, ek_id);
	if (i >= reg->n || btcore_id_cmp(&reg->v[i].ek, ek_id) != 0)
		return BT_ENOTFOUND;
	if (claimant != NULL)
		*claimant = reg->v[i].claimant;
	if (when != NULL)
		*when = reg->v[i].when;
	return BT_OK;
}
