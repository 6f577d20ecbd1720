/*
 * fragment.c - erasure-coded fragments of a block (Cauchy Reed-Solomon
 * over GF(2^8) through ISA-L).
 *
 * The generator is ISA-L's gf_gen_cauchy1_matrix(): an identity on top
 * (data fragments are the block itself) and rows 1 / (i ^ j) below.  Any k
 * rows of it form an invertible matrix, so any k distinct fragments
 * rebuild the block.  The tables are recomputed per call rather than
 * cached: setting up an encode takes under a microsecond and a rebuild's
 * matrix inversion a few (k = 10), against hundreds of microseconds to
 * hash a 256 KiB block, and keeping no state makes every function thread
 * safe.
 */
#include <bt/fragment.h>
#include <bt/id.h>

#include <isa-l/erasure_code.h>

#include <stdlib.h>
#include <string.h>

#include "btcore-internal.h"

static const uint8_t frag_magic[4] = { 'B', 'T', 'F', 'G' };

#define OFF_MAGIC	0
#define OFF_VERSION	4
#define OFF_K		5
#define OFF_M		6
#define OFF_INDEX	7
#define OFF_LEN		8
#define OFF_BLOCK_ID	12

/*
 * ISA-L takes its sources as unsigned char ** although it only reads
 * them; this drops the const without a qualifier-discarding cast.
 */
static unsigned char *
unconst(const uint8_t *p)
{
	return (unsigned char *)(uintptr_t)p;
}

static size_t
payload_len(size_t block_len, unsigned int k)
{
	return (block_len + k - 1) / k;
}

size_t
btcore_fragment_len(size_t block_len, unsigned int k)
{
	if (k == 0)
		return 0;
	return BTCORE_FRAGMENT_OVERHEAD + payload_len(block_len, k);
}

/* How many bytes of data fragment @p index come from the block. */
static size_t
data_bytes(size_t block_len, size_t plen, unsigned int index)
{
	size_t off = (size_t)index * plen;

	if (off >= block_len)
		return 0;
	return block_len - off < plen ? block_len - off : plen;
}

int
btcore_fragment_encode(const void *block, size_t len, unsigned int k,
    unsigned int m, uint8_t ***frags, size_t *frag_len)
{
	unsigned char matrix[BTCORE_FRAGMENT_MAX * BTCORE_FRAGMENT_MAX];
	unsigned char *src[BTCORE_FRAGMENT_MAX], *dst[BTCORE_FRAGMENT_MAX];
	unsigned char *tables = NULL;
	const uint8_t *in = block;
	uint8_t **arr = NULL, *base, *p;
	struct bt_id id, ph;
	size_t plen, flen, take;
	unsigned int n, i;
	int rc;

	if (frags != NULL)
		*frags = NULL;
	if (frag_len != NULL)
		*frag_len = 0;
	if (frags == NULL || frag_len == NULL || (block == NULL && len != 0))
		return BT_EINVAL;
	if (k < 1 || k > BTCORE_FRAGMENT_MAX || m > BTCORE_FRAGMENT_MAX - k ||
	    len > BTCORE_FRAGMENT_BLOCK_MAX)
		return BT_ERANGE;

	n = k + m;
	plen = payload_len(len, k);
	flen = BTCORE_FRAGMENT_OVERHEAD + plen;
	if ((rc = btcore_id_hash(&id, block, len)) != BT_OK)
		goto out;
	if ((arr = malloc(n * sizeof(*arr) + n * flen)) == NULL) {
		rc = BT_ENOMEM;
		goto out;
	}
	base = (uint8_t *)(arr + n);
	for (i = 0; i < n; i++) {
		p = arr[i] = base + (size_t)i * flen;
		memcpy(p + OFF_MAGIC, frag_magic, sizeof(frag_magic));
		p[OFF_VERSION] = BTCORE_FRAGMENT_VERSION;
		p[OFF_K] = (uint8_t)k;
		p[OFF_M] = (uint8_t)m;
		p[OFF_INDEX] = (uint8_t)i;
		btcore_put_be32_(p + OFF_LEN, (uint32_t)len);
		memcpy(p + OFF_BLOCK_ID, id.b, BT_ID_LEN);
		p += BTCORE_FRAGMENT_HEADER_LEN;
		if (i < k) {
			take = data_bytes(len, plen, i);
			if (take > 0)
				memcpy(p, in + (size_t)i * plen, take);
			memset(p + take, 0, plen - take);
			src[i] = p;
		} else {
			dst[i - k] = p;
		}
	}

	if (m > 0 && plen > 0) {
		if ((tables = malloc(32u * k * m)) == NULL) {
			rc = BT_ENOMEM;
			goto out;
		}
		gf_gen_cauchy1_matrix(matrix, (int)n, (int)k);
		ec_init_tables((int)k, (int)m, matrix + k * k, tables);
		ec_encode_data((int)plen, (int)k, (int)m, tables, src, dst);
	}

	for (i = 0; i < n; i++) {
		p = arr[i];
		if ((rc = btcore_id_hash(&ph, p, flen - BT_ID_LEN)) != BT_OK)
			goto out;
		memcpy(p + flen - BT_ID_LEN, ph.b, BT_ID_LEN);
	}

	*frags = arr;
	*frag_len = flen;
	arr = NULL;
	rc = BT_OK;
out:
	free(tables);
	free(arr);
	return rc;
}

void
btcore_fragment_free(uint8_t **frags)
{
	free(frags);
}

int
btcore_fragment_decode(struct btcore_fragment_hdr *hdr, const void *data,
    size_t len)
{
	const uint8_t *p = data, *pay;
	unsigned int k, m, index;
	size_t blen, plen, take, i;
	struct bt_id ph;
	int rc;

	if (hdr == NULL)
		return BT_EINVAL;
	memset(hdr, 0, sizeof(*hdr));
	if (data == NULL) {
		rc = BT_EINVAL;
		goto out;
	}
	rc = BT_ETRUNC;
	if (len < BTCORE_FRAGMENT_OVERHEAD)
		goto out;
	rc = BT_EFORMAT;
	if (memcmp(p + OFF_MAGIC, frag_magic, sizeof(frag_magic)) != 0)
		goto out;
	if (p[OFF_VERSION] != BTCORE_FRAGMENT_VERSION) {
		rc = BT_EUNSUPPORTED;
		goto out;
	}
	k = p[OFF_K];
	m = p[OFF_M];
	index = p[OFF_INDEX];
	blen = btcore_get_be32_(p + OFF_LEN);
	if (k < 1 || k > BTCORE_FRAGMENT_MAX || m > BTCORE_FRAGMENT_MAX - k ||
	    index >= k + m || blen > BTCORE_FRAGMENT_BLOCK_MAX)
		goto out;
	plen = payload_len(blen, k);
	if (len < BTCORE_FRAGMENT_OVERHEAD + plen) {
		rc = BT_ETRUNC;
		goto out;
	}
	if (len > BTCORE_FRAGMENT_OVERHEAD + plen)
		goto out;
	pay = p + BTCORE_FRAGMENT_HEADER_LEN;
	if (index < k) {
		/* the zero padding past the end of the block */
		take = data_bytes(blen, plen, index);
		for (i = take; i < plen; i++)
			if (pay[i] != 0)
				goto out;
	}
	if ((rc = btcore_id_hash(&ph, p, len - BT_ID_LEN)) != BT_OK)
		goto out;
	if (memcmp(ph.b, p + len - BT_ID_LEN, BT_ID_LEN) != 0) {
		rc = BT_EVERIFY;
		goto out;
	}

	hdr->k = k;
	hdr->m = m;
	hdr->index = index;
	hdr->block_len = blen;
	memcpy(hdr->block_id.b, p + OFF_BLOCK_ID, BT_ID_LEN);
	hdr->hash = ph;
	hdr->payload = pay;
	hdr->payload_len = plen;
	rc = BT_OK;
out:
	return rc;
}

static int
same_block(const struct btcore_fragment_hdr *a,
    const struct btcore_fragment_hdr *b)
{
	return a->k == b->k && a->m == b->m && a->block_len == b->block_len &&
	    btcore_id_cmp(&a->block_id, &b->block_id) == 0;
}

/*
 * Rebuild from exactly k distinct fragments, sorted by index, into @p out
 * (k * plen bytes).  Data fragments are copied; missing data fragments
 * are computed from the inverse of the k rows of the generator in use.
 */
static int
rebuild_from(const struct btcore_fragment_hdr *const *use, unsigned int k,
    unsigned int m, size_t plen, uint8_t *out)
{
	unsigned char enc[BTCORE_FRAGMENT_MAX * BTCORE_FRAGMENT_MAX];
	unsigned char sub[BTCORE_FRAGMENT_MAX * BTCORE_FRAGMENT_MAX];
	unsigned char inv[BTCORE_FRAGMENT_MAX * BTCORE_FRAGMENT_MAX];
	unsigned char rows[BTCORE_FRAGMENT_MAX * BTCORE_FRAGMENT_MAX];
	unsigned char *src[BTCORE_FRAGMENT_MAX], *dst[BTCORE_FRAGMENT_MAX];
	unsigned char *tables = NULL;
	uint32_t have = 0;
	unsigned int i, j, nmiss = 0;
	int rc;

	for (i = 0; i < k; i++) {
		if (use[i]->index < k) {
			have |= (uint32_t)1 << use[i]->index;
			if (plen > 0)
				memcpy(out + (size_t)use[i]->index * plen,
				    use[i]->payload, plen);
		}
	}
	if (have == (k == 32 ? UINT32_MAX : ((uint32_t)1 << k) - 1) ||
	    plen == 0) {
		rc = BT_OK;
		goto out;
	}

	gf_gen_cauchy1_matrix(enc, (int)(k + m), (int)k);
	for (i = 0; i < k; i++) {
		memcpy(sub + i * k, enc + use[i]->index * k, k);
		src[i] = unconst(use[i]->payload);
	}
	if (gf_invert_matrix(sub, inv, (int)k) != 0) {
		/* cannot happen for distinct rows of a Cauchy generator */
		rc = BT_ECORRUPT;
		goto out;
	}
	for (j = 0; j < k; j++) {
		if (have & ((uint32_t)1 << j))
			continue;
		memcpy(rows + nmiss * k, inv + j * k, k);
		dst[nmiss++] = out + (size_t)j * plen;
	}
	if ((tables = malloc(32u * k * nmiss)) == NULL) {
		rc = BT_ENOMEM;
		goto out;
	}
	ec_init_tables((int)k, (int)nmiss, rows, tables);
	ec_encode_data((int)plen, (int)k, (int)nmiss, tables, src, dst);
	rc = BT_OK;
out:
	free(tables);
	return rc;
}

int
btcore_fragment_rebuild(const uint8_t *const *frags, const size_t *lens,
    size_t n, uint8_t **block, size_t *block_len, size_t *bad, size_t *nbad)
{
	const struct btcore_fragment_hdr *use[BTCORE_FRAGMENT_MAX];
	struct btcore_fragment_hdr *h = NULL;
	unsigned char *valid = NULL;
	const struct btcore_fragment_hdr *g;
	uint8_t *out = NULL;
	uint32_t seen;
	size_t i, j, lead, nb;
	unsigned int idx, count;
	struct bt_id got;
	int rc, chosen = 0;

	if (block != NULL)
		*block = NULL;
	if (block_len != NULL)
		*block_len = 0;
	if (nbad != NULL)
		*nbad = 0;
	if (block == NULL || block_len == NULL ||
	    (n > 0 && (frags == NULL || lens == NULL)))
		return BT_EINVAL;
	if (n > BTCORE_FRAGMENT_REBUILD_MAX)
		return BT_ERANGE;
	if (n == 0)
		return BT_ENOTFOUND;
	if ((h = calloc(n, sizeof(*h))) == NULL ||
	    (valid = calloc(n, 1)) == NULL) {
		rc = BT_ENOMEM;
		goto out;
	}

	for (i = 0; i < n; i++) {
		if (frags[i] == NULL)
			continue;
		rc = btcore_fragment_decode(&h[i], frags[i], lens[i]);
		if (rc == BT_ECRYPTO)
			goto out;
		valid[i] = rc == BT_OK;
	}

	/* the first group, in input order, with k distinct indexes */
	lead = 0;
	for (i = 0; i < n && !chosen; i++) {
		if (!valid[i])
			continue;
		for (j = 0; j < i; j++)
			if (valid[j] && same_block(&h[j], &h[i]))
				break;
		if (j < i)
			continue;	/* group already examined */
		seen = 0;
		for (j = i; j < n; j++)
			if (valid[j] && same_block(&h[j], &h[i]))
				seen |= (uint32_t)1 << h[j].index;
		for (count = 0; seen != 0; seen &= seen - 1)
			count++;
		if (count >= h[i].k) {
			lead = i;
			chosen = 1;
		}
	}
	if (!chosen) {
		rc = BT_ENOTFOUND;
		goto report;
	}
	g = &h[lead];
	for (i = 0; i < n; i++)
		if (valid[i] && !same_block(&h[i], g))
			valid[i] = 0;

	/* the k lowest distinct indexes: data fragments first */
	count = 0;
	for (idx = 0; idx < g->k + g->m && count < g->k; idx++) {
		for (i = 0; i < n; i++) {
			if (valid[i] && h[i].index == idx) {
				use[count++] = &h[i];
				break;
			}
		}
	}

	if ((out = malloc(g->k * g->payload_len + 1)) == NULL) {
		rc = BT_ENOMEM;
		goto report;
	}
	if ((rc = rebuild_from(use, g->k, g->m, g->payload_len, out)) != BT_OK)
		goto report;
	if ((rc = btcore_id_hash(&got, out, g->block_len)) != BT_OK)
		goto report;
	if (btcore_id_cmp(&got, &g->block_id) != 0) {
		rc = BT_ECORRUPT;
		goto report;
	}
	*block = out;
	*block_len = g->block_len;
	out = NULL;
	rc = BT_OK;
report:
	if (rc == BT_OK || rc == BT_ENOTFOUND || rc == BT_ECORRUPT) {
		for (i = 0, nb = 0; i < n; i++) {
			if (valid[i])
				continue;
			if (bad != NULL)
				bad[nb] = i;
			nb++;
		}
		if (nbad != NULL)
			*nbad = nb;
	}
out:
	free(out);
	free(valid);
	free(h);
	return rc;
}

void
btcore_fragment_block_free(uint8_t *block)
{
	free(block);
}
