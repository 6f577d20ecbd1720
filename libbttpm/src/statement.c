/*
 * statement.c - the attestation statement encoding, the message it signs,
 * AK names, and small file helpers.
 *
 * Statement, all integers big endian:
 *   "BTTA" | version (1) | kind (1 = TPM, 2 = software) |
 *   Ed25519 public key [32] | time (u64 seconds) |
 *   u16 n | EK certificate, DER [n] |
 *   u16 n | AK TPM2B_PUBLIC, TPM marshalling [n] |
 *   u16 n | AK TPMT_SIGNATURE, TPM marshalling [n] |
 *   Ed25519 signature [64]
 * A software statement has the three variable fields empty.  Both
 * signatures cover the message of bttpm_stmt_msg_().
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <tss2/tss2_mu.h>

#include <bt/hash.h>
#include <bt/id.h>

#include "bttpm-internal.h"

static const uint8_t stmt_magic[4] = { 'B', 'T', 'T', 'A' };
static const char stmt_domain[29] = "BlockTree TPM attestation v1";
#define STMT_VERSION	1
#define STMT_FIXED	(4 + 1 + 1 + 32 + 8 + 2 + 2 + 2 + 64)

int
bttpm_ak_name_(const TPM2B_PUBLIC *ak, uint8_t name[34])
{
	uint8_t buf[BTTPM_AKPUB_MAX];
	struct bt_id h;
	size_t off = 0;
	int rc;

	if (ak->publicArea.nameAlg != TPM2_ALG_SHA256)
		return BT_EFORMAT;
	if (Tss2_MU_TPMT_PUBLIC_Marshal(&ak->publicArea, buf, sizeof(buf),
	    &off) != TSS2_RC_SUCCESS)
		return BT_EFORMAT;
	if ((rc = btcore_id_hash(&h, buf, off)) != BT_OK)
		return rc;
	bttpm_put_be16_(name, TPM2_ALG_SHA256);
	memcpy(name + 2, h.b, 32);
	return BT_OK;
}

/*
 * "BlockTree TPM attestation v1\0" | kind | public key | time |
 * SHA-256(u16 n | EK cert | u16 n | AK public)
 */
int
bttpm_stmt_msg_(const struct bttpm_stmt_ *st, uint8_t msg[BTTPM_STMT_MSG_LEN])
{
	struct btcore_sha256 *h = NULL;
	struct bt_id d;
	uint8_t n[2];
	int rc;

	if ((rc = btcore_sha256_new(&h)) != BT_OK)
		goto out;
	bttpm_put_be16_(n, (uint16_t)st->ekcert_len);
	if ((rc = btcore_sha256_update(h, n, 2)) != BT_OK ||
	    (rc = btcore_sha256_update(h, st->ekcert, st->ekcert_len)) != BT_OK)
		goto out;
	bttpm_put_be16_(n, (uint16_t)st->akpub_len);
	if ((rc = btcore_sha256_update(h, n, 2)) != BT_OK ||
	    (rc = btcore_sha256_update(h, st->akpub, st->akpub_len)) != BT_OK ||
	    (rc = btcore_sha256_final(h, &d)) != BT_OK)
		goto out;
	memcpy(msg, stmt_domain, sizeof(stmt_domain));
	msg[29] = st->kind;
	memcpy(msg + 30, st->pub.b, 32);
	bttpm_put_be64_(msg + 62, st->when);
	memcpy(msg + 70, d.b, 32);
out:
	btcore_sha256_free(h);
	return rc;
}

/* Read a u16-prefixed field of at most @p max bytes. */
static int
take_field(const uint8_t *buf, size_t len, size_t *off, size_t max,
    const uint8_t **field, size_t *field_len)
{
	size_t n;

	if (len - *off < 2)
		return BT_ETRUNC;
	n = bttpm_get_be16_(buf + *off);
	*off += 2;
	if (n > max)
		return BT_ETOOBIG;
	if (len - *off < n)
		return BT_ETRUNC;
	*field = buf + *off;
	*field_len = n;
	*off += n;
	return BT_OK;
}

int
bttpm_stmt_decode_(const uint8_t *buf, size_t len, struct bttpm_stmt_ *st)
{
	uint8_t canon[BTTPM_AKSIG_MAX > BTTPM_AKPUB_MAX ? BTTPM_AKSIG_MAX :
	    BTTPM_AKPUB_MAX];
	size_t off = 0, o;
	int rc;

	memset(st, 0, sizeof(*st));
	if (buf == NULL)
		return BT_EINVAL;
	if (len > BTTPM_STATEMENT_MAX)
		return BT_ETOOBIG;
	if (len < STMT_FIXED)
		return BT_ETRUNC;
	if (memcmp(buf, stmt_magic, 4) != 0 || buf[4] != STMT_VERSION)
		return BT_EFORMAT;
	st->kind = buf[5];
	if (st->kind != BTTPM_STMT_TPM && st->kind != BTTPM_STMT_SOFT)
		return BT_EFORMAT;
	memcpy(st->pub.b, buf + 6, 32);
	st->when = bttpm_get_be64_(buf + 38);
	off = 46;
	if ((rc = take_field(buf, len, &off, BTTPM_EKCERT_MAX, &st->ekcert,
	    &st->ekcert_len)) != BT_OK ||
	    (rc = take_field(buf, len, &off, BTTPM_AKPUB_MAX, &st->akpub,
	    &st->akpub_len)) != BT_OK ||
	    (rc = take_field(buf, len, &off, BTTPM_AKSIG_MAX, &st->aksig,
	    &st->aksig_len)) != BT_OK)
		goto bad;
	if (len - off < 64) {
		rc = BT_ETRUNC;
		goto bad;
	}
	memcpy(st->edsig.b, buf + off, 64);
	off += 64;
	if (off != len) {
		rc = BT_EFORMAT;
		goto bad;
	}
	rc = BT_EFORMAT;
	if (st->kind == BTTPM_STMT_SOFT) {
		if (st->ekcert_len != 0 || st->akpub_len != 0 ||
		    st->aksig_len != 0)
			goto bad;
		return BT_OK;
	}
	if (st->ekcert_len == 0 || st->akpub_len == 0 || st->aksig_len == 0)
		goto bad;
	/* the TPM structures must parse exactly and be canonical */
	o = 0;
	if (Tss2_MU_TPM2B_PUBLIC_Unmarshal(st->akpub, st->akpub_len, &o,
	    &st->ak) != TSS2_RC_SUCCESS || o != st->akpub_len)
		goto bad;
	o = 0;
	if (Tss2_MU_TPM2B_PUBLIC_Marshal(&st->ak, canon, sizeof(canon), &o) !=
	    TSS2_RC_SUCCESS || o != st->akpub_len ||
	    memcmp(canon, st->akpub, o) != 0)
		goto bad;
	o = 0;
	if (Tss2_MU_TPMT_SIGNATURE_Unmarshal(st->aksig, st->aksig_len, &o,
	    &st->sig) != TSS2_RC_SUCCESS || o != st->aksig_len)
		goto bad;
	o = 0;
	if (Tss2_MU_TPMT_SIGNATURE_Marshal(&st->sig, canon, sizeof(canon), &o) !=
	    TSS2_RC_SUCCESS || o != st->aksig_len ||
	    memcmp(canon, st->aksig, o) != 0)
		goto bad;
	return BT_OK;
bad:
	memset(st, 0, sizeof(*st));
	return rc;
}

int
bttpm_stmt_encode_(const struct bttpm_stmt_ *st, uint8_t **out,
    size_t *out_len)
{
	uint8_t *buf;
	size_t len, off;

	*out = NULL;
	*out_len = 0;
	if (st->ekcert_len > BTTPM_EKCERT_MAX || st->akpub_len > BTTPM_AKPUB_MAX ||
	    st->aksig_len > BTTPM_AKSIG_MAX)
		return BT_ETOOBIG;
	len = STMT_FIXED + st->ekcert_len + st->akpub_len + st->aksig_len;
	if ((buf = malloc(len)) == NULL)
		return BT_ENOMEM;
	memcpy(buf, stmt_magic, 4);
	buf[4] = STMT_VERSION;
	buf[5] = st->kind;
	memcpy(buf + 6, st->pub.b, 32);
	bttpm_put_be64_(buf + 38, st->when);
	off = 46;
	bttpm_put_be16_(buf + off, (uint16_t)st->ekcert_len);
	if (st->ekcert_len > 0)
		memcpy(buf + off + 2, st->ekcert, st->ekcert_len);
	off += 2 + st->ekcert_len;
	bttpm_put_be16_(buf + off, (uint16_t)st->akpub_len);
	if (st->akpub_len > 0)
		memcpy(buf + off + 2, st->akpub, st->akpub_len);
	off += 2 + st->akpub_len;
	bttpm_put_be16_(buf + off, (uint16_t)st->aksig_len);
	if (st->aksig_len > 0)
		memcpy(buf + off + 2, st->aksig, st->aksig_len);
	off += 2 + st->aksig_len;
	memcpy(buf + off, st->edsig.b, 64);
	*out = buf;
	*out_len = len;
	return BT_OK;
}

/*
 * Write @p len bytes to @p path with mode 0600, atomically: a 0600
 * temporary in the same directory, fsync, rename.
 */
int
bttpm_file_write_(const char *path, const void *data, size_t len)
{
	char tmp[4096];
	const uint8_t *p = data;
	size_t done = 0;
	ssize_t n;
	int fd = -1, rc = BT_EIO;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmpXXXXXX", path) >=
	    sizeof(tmp))
		return BT_ERANGE;
	/* mkstemp creates the file 0600 */
	if ((fd = mkstemp(tmp)) < 0)
		return BT_EIO;
	if (fchmod(fd, 0600) != 0)
		goto out;
	while (done < len) {
		n = write(fd, p + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			goto out;
		done += (size_t)n;
	}
	if (fsync(fd) != 0)
		goto out;
	if (close(fd) != 0) {
		fd = -1;
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) != 0)
		goto out;
	rc = BT_OK;
out:
	if (fd >= 0)
		close(fd);
	if (rc != BT_OK)
		unlink(tmp);
	return rc;
}

/*
 * Read a whole file of at most @p max bytes.  BT_ENOTFOUND when absent,
 * BT_EPERM when group or others may read it, BT_ECORRUPT when larger.
 */
int
bttpm_file_read_(const char *path, size_t max, uint8_t **out, size_t *out_len)
{
	struct stat sb;
	uint8_t *buf = NULL;
	size_t done = 0;
	ssize_t n;
	int fd, rc = BT_EIO;

	*out = NULL;
	*out_len = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return errno == ENOENT ? BT_ENOTFOUND : BT_EIO;
	if (fstat(fd, &sb) != 0)
		goto out;
	if (!S_ISREG(sb.st_mode)) {
		rc = BT_ECORRUPT;
		goto out;
	}
	if ((sb.st_mode & 077) != 0) {
		rc = BT_EPERM;
		goto out;
	}
	if (sb.st_size < 0 || (uint64_t)sb.st_size > max) {
		rc = BT_ECORRUPT;
		goto out;
	}
	if ((buf = malloc((size_t)sb.st_size + 1)) == NULL) {
		rc = BT_ENOMEM;
		goto out;
	}
	while (done < (size_t)sb.st_size) {
		n = read(fd, buf + done, (size_t)sb.st_size - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			goto out;
		done += (size_t)n;
	}
	*out = buf;
	*out_len = done;
	buf = NULL;
	rc = BT_OK;
out:
	if (buf != NULL) {
		btcore_wipe(buf, (size_t)sb.st_size);
		free(buf);
	}
	close(fd);
	return rc;
}
