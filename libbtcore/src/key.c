/*
 * key.c - Ed25519 keys and signatures (libsodium), their PEM encodings
 * (OpenSSL) and key files.
 */
#include <bt/hash.h>
#include <bt/id.h>
#include <bt/key.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sodium.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "btcore-internal.h"

/* Largest key file btcore_key_load() reads, and largest PEM text parsed. */
#define KEY_FILE_MAX	(16 * 1024)

/*
 * The private key: libsodium's 64-byte secret key (seed followed by the
 * public key).  Wiped before its memory is released.
 */
struct btcore_key {
	uint8_t sk[crypto_sign_SECRETKEYBYTES];
	struct bt_pubkey pub;
};

/* libsodium is initialised once per process, from any thread. */
static int
sodium_check(void)
{
	return btcore_sodium_ready_();
}

int
btcore_key_from_seed(struct btcore_key **out,
    const uint8_t seed[BTCORE_ED25519_SEED_LEN])
{
	struct btcore_key *key;
	int rc;

	if (out == NULL)
		return BT_EINVAL;
	*out = NULL;
	if (seed == NULL)
		return BT_EINVAL;
	if ((rc = sodium_check()) != BT_OK)
		return rc;
	if ((key = calloc(1, sizeof(*key))) == NULL)
		return BT_ENOMEM;
	if (crypto_sign_seed_keypair(key->pub.b, key->sk, seed) != 0) {
		btcore_key_free(key);
		return BT_ECRYPTO;
	}
	*out = key;
	return BT_OK;
}

int
btcore_key_generate(struct btcore_key **out)
{
	uint8_t seed[BTCORE_ED25519_SEED_LEN];
	int rc;

	if (out == NULL)
		return BT_EINVAL;
	*out = NULL;
	if ((rc = btcore_random_bytes(seed, sizeof(seed))) != BT_OK)
		goto out;
	rc = btcore_key_from_seed(out, seed);
out:
	btcore_wipe(seed, sizeof(seed));
	return rc;
}

void
btcore_key_seed(const struct btcore_key *key,
    uint8_t seed[BTCORE_ED25519_SEED_LEN])
{
	if (seed == NULL)
		return;
	if (key == NULL) {
		memset(seed, 0, BTCORE_ED25519_SEED_LEN);
		return;
	}
	/* libsodium keeps the seed in the first half of its secret key */
	memcpy(seed, key->sk, BTCORE_ED25519_SEED_LEN);
}

void
btcore_key_public(const struct btcore_key *key, struct bt_pubkey *out)
{
	if (out == NULL)
		return;
	if (key == NULL) {
		memset(out, 0, sizeof(*out));
		return;
	}
	*out = key->pub;
}

void
btcore_key_free(struct btcore_key *key)
{
	if (key == NULL)
		return;
	btcore_wipe(key, sizeof(*key));
	free(key);
}

int
btcore_key_sign(const struct btcore_key *key, const void *msg, size_t len,
    struct bt_sig *sig)
{
	if (sig == NULL)
		return BT_EINVAL;
	if (key == NULL || (msg == NULL && len != 0)) {
		memset(sig, 0, sizeof(*sig));
		return BT_EINVAL;
	}
	if (msg == NULL)
		msg = "";
	if (crypto_sign_detached(sig->b, NULL, msg, len, key->sk) != 0) {
		memset(sig, 0, sizeof(*sig));
		return BT_ECRYPTO;
	}
	return BT_OK;
}

static int
key_signer_sign(void *ctx, const void *msg, size_t len, struct bt_sig *sig)
{
	return btcore_key_sign(ctx, msg, len, sig);
}

void
btcore_key_signer(const struct btcore_key *key, struct btcore_signer *out)
{
	if (out == NULL)
		return;
	memset(out, 0, sizeof(*out));
	if (key == NULL)
		return;
	out->pub = key->pub;
	out->sign = key_signer_sign;
	/* the signer API passes ctx back untouched; the key is never written */
	out->ctx = (void *)(uintptr_t)key;
}

int
btcore_signer_sign(const struct btcore_signer *signer, const void *msg,
    size_t len, struct bt_sig *sig)
{
	int rc;

	if (sig == NULL)
		return BT_EINVAL;
	if (signer == NULL || signer->sign == NULL ||
	    (msg == NULL && len != 0)) {
		rc = BT_EINVAL;
		goto out;
	}
	rc = signer->sign(signer->ctx, msg, len, sig);
	if (rc > 0)
		rc = BT_ECRYPTO;
out:
	if (rc != BT_OK)
		memset(sig, 0, sizeof(*sig));
	return rc;
}

int
btcore_sig_verify(const struct bt_pubkey *pub, const void *msg, size_t len,
    const struct bt_sig *sig)
{
	int rc;

	if (pub == NULL || sig == NULL || (msg == NULL && len != 0))
		return BT_EINVAL;
	if ((rc = sodium_check()) != BT_OK)
		return rc;
	if (msg == NULL)
		msg = "";
	/*
	 * libsodium refuses non-canonical S, small-order R and public keys
	 * that are non-canonical or of small order.
	 */
	if (crypto_sign_verify_detached(sig->b, msg, len, pub->b) != 0)
		return BT_EVERIFY;
	return BT_OK;
}

int
btcore_pubkey_id(const struct bt_pubkey *pub, struct bt_id *out)
{
	if (out == NULL)
		return BT_EINVAL;
	if (pub == NULL) {
		memset(out, 0, sizeof(*out));
		return BT_EINVAL;
	}
	return btcore_id_hash(out, pub->b, sizeof(pub->b));
}

/* PEM encodings through OpenSSL's EVP_PKEY. */

/* Never prompt for a passphrase: encrypted PEM is simply refused. */
static int
no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

/* Copy what was written to @p bio into a new NUL-terminated string. */
static int
bio_to_string(BIO *bio, char **out, size_t *out_len)
{
	char *data = NULL, *s;
	long n;

	n = BIO_get_mem_data(bio, &data);
	if (n <= 0 || data == NULL)
		return BT_ECRYPTO;
	if ((s = malloc((size_t)n + 1)) == NULL)
		return BT_ENOMEM;
	memcpy(s, data, (size_t)n);
	s[n] = '\0';
	*out = s;
	if (out_len != NULL)
		*out_len = (size_t)n;
	return BT_OK;
}

int
btcore_key_to_pem(const struct btcore_key *key, char **out, size_t *out_len)
{
	EVP_PKEY *pkey = NULL;
	BIO *bio = NULL;
	int rc;

	if (out_len != NULL)
		*out_len = 0;
	if (out == NULL)
		return BT_EINVAL;
	*out = NULL;
	if (key == NULL)
		return BT_EINVAL;
	ERR_set_mark();
	pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, key->sk,
	    BTCORE_ED25519_SEED_LEN);
	if (pkey == NULL) {
		rc = BT_ECRYPTO;
		goto out;
	}
	/* a secure-heap memory BIO: its buffer is cleansed when freed */
	if ((bio = BIO_new(BIO_s_secmem())) == NULL) {
		rc = BT_ENOMEM;
		goto out;
	}
	if (PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL,
	    NULL) != 1) {
		rc = BT_ECRYPTO;
		goto out;
	}
	rc = bio_to_string(bio, out, out_len);
out:
	BIO_free(bio);
	EVP_PKEY_free(pkey);
	ERR_pop_to_mark();
	return rc;
}

int
btcore_pubkey_to_pem(const struct bt_pubkey *pub, char **out,
    size_t *out_len)
{
	EVP_PKEY *pkey = NULL;
	BIO *bio = NULL;
	int rc;

	if (out_len != NULL)
		*out_len = 0;
	if (out == NULL)
		return BT_EINVAL;
	*out = NULL;
	if (pub == NULL)
		return BT_EINVAL;
	ERR_set_mark();
	pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub->b,
	    sizeof(pub->b));
	if (pkey == NULL) {
		rc = BT_ECRYPTO;
		goto out;
	}
	if ((bio = BIO_new(BIO_s_mem())) == NULL) {
		rc = BT_ENOMEM;
		goto out;
	}
	if (PEM_write_bio_PUBKEY(bio, pkey) != 1) {
		rc = BT_ECRYPTO;
		goto out;
	}
	rc = bio_to_string(bio, out, out_len);
out:
	BIO_free(bio);
	EVP_PKEY_free(pkey);
	ERR_pop_to_mark();
	return rc;
}

/*
 * A read-only memory BIO over exactly @p len bytes of @p pem, whose first
 * PEM block must be labelled @p label, without headers.  The label is
 * checked with the plain PEM reader first: it costs microseconds, where
 * OpenSSL's key decoders take milliseconds even to refuse garbage, and it
 * keeps those decoders from looking past the first block.
 */
static int
pem_bio(BIO **out, const char *pem, size_t len, const char *label)
{
	char *name = NULL, *header = NULL;
	unsigned char *data = NULL;
	long dlen = 0;
	int rc;

	*out = NULL;
	if (len == 0 || len > KEY_FILE_MAX)
		return BT_EFORMAT;
	if ((*out = BIO_new_mem_buf(pem, (int)len)) == NULL)
		return BT_ENOMEM;
	if (PEM_read_bio(*out, &name, &header, &data, &dlen) != 1 ||
	    strcmp(name, label) != 0 || header[0] != '\0') {
		rc = BT_EFORMAT;
		goto out;
	}
	/* a fresh BIO for the key decoder, over the same bytes */
	BIO_free(*out);
	*out = BIO_new_mem_buf(pem, (int)len);
	rc = *out != NULL ? BT_OK : BT_ENOMEM;
out:
	OPENSSL_free(name);
	OPENSSL_free(header);
	if (data != NULL)
		OPENSSL_clear_free(data, dlen > 0 ? (size_t)dlen : 0);
	if (rc != BT_OK) {
		BIO_free(*out);
		*out = NULL;
	}
	return rc;
}

int
btcore_key_from_pem(struct btcore_key **out, const char *pem, size_t len)
{
	uint8_t seed[BTCORE_ED25519_SEED_LEN];
	EVP_PKEY *pkey = NULL;
	BIO *bio = NULL;
	size_t n = sizeof(seed);
	int rc;

	if (out == NULL)
		return BT_EINVAL;
	*out = NULL;
	if (pem == NULL)
		return BT_EINVAL;
	ERR_set_mark();
	if ((rc = pem_bio(&bio, pem, len, PEM_STRING_PKCS8INF)) != BT_OK)
		goto out;
	pkey = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
	if (pkey == NULL || EVP_PKEY_get_id(pkey) != EVP_PKEY_ED25519) {
		rc = BT_EFORMAT;
		goto out;
	}
	if (EVP_PKEY_get_raw_private_key(pkey, seed, &n) != 1 ||
	    n != sizeof(seed)) {
		rc = BT_EFORMAT;
		goto out;
	}
	rc = btcore_key_from_seed(out, seed);
out:
	btcore_wipe(seed, sizeof(seed));
	EVP_PKEY_free(pkey);
	BIO_free(bio);
	ERR_pop_to_mark();
	return rc;
}

int
btcore_pubkey_from_pem(struct bt_pubkey *out, const char *pem, size_t len)
{
	EVP_PKEY *pkey = NULL;
	BIO *bio = NULL;
	size_t n = sizeof(out->b);
	int rc;

	if (out == NULL)
		return BT_EINVAL;
	memset(out, 0, sizeof(*out));
	if (pem == NULL)
		return BT_EINVAL;
	ERR_set_mark();
	if ((rc = pem_bio(&bio, pem, len, PEM_STRING_PUBLIC)) != BT_OK)
		goto out;
	pkey = PEM_read_bio_PUBKEY(bio, NULL, no_passphrase, NULL);
	if (pkey == NULL || EVP_PKEY_get_id(pkey) != EVP_PKEY_ED25519) {
		rc = BT_EFORMAT;
		goto out;
	}
	if (EVP_PKEY_get_raw_public_key(pkey, out->b, &n) != 1 ||
	    n != sizeof(out->b)) {
		memset(out, 0, sizeof(*out));
		rc = BT_EFORMAT;
		goto out;
	}
	rc = BT_OK;
out:
	EVP_PKEY_free(pkey);
	BIO_free(bio);
	ERR_pop_to_mark();
	return rc;
}

void
btcore_pem_free(char *pem)
{
	if (pem == NULL)
		return;
	btcore_wipe(pem, strlen(pem));
	free(pem);
}

/* Key files. */

static int
write_all(int fd, const char *p, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return BT_EIO;
		}
		p += n;
		len -= (size_t)n;
	}
	return BT_OK;
}

/* fsync the directory that holds @p path, so a rename in it is durable. */
static int
sync_parent(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir = NULL;
	size_t n;
	int fd = -1, rc;

	if (slash == NULL) {
		fd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	} else {
		n = slash == path ? 1 : (size_t)(slash - path);
		if ((dir = malloc(n + 1)) == NULL)
			return BT_ENOMEM;
		memcpy(dir, path, n);
		dir[n] = '\0';
		fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
	if (fd < 0) {
		rc = BT_EIO;
		goto out;
	}
	rc = fsync(fd) == 0 ? BT_OK : BT_EIO;
out:
	if (fd >= 0)
		close(fd);
	free(dir);
	return rc;
}

int
btcore_key_save(const struct btcore_key *key, const char *path)
{
	static const char hex[] = "0123456789abcdef";
	uint8_t rnd[8];
	char *pem = NULL, *tmp = NULL;
	size_t pem_len = 0, plen, i;
	int fd = -1, tries, rc;

	if (key == NULL || path == NULL || path[0] == '\0')
		return BT_EINVAL;
	if ((rc = btcore_key_to_pem(key, &pem, &pem_len)) != BT_OK)
		goto out;
	/* "<path>.<16 hex digits>.tmp" in the same directory */
	plen = strlen(path);
	if ((tmp = malloc(plen + 1 + 2 * sizeof(rnd) + 4 + 1)) == NULL) {
		rc = BT_ENOMEM;
		goto out;
	}
	for (tries = 0; tries < 8 && fd < 0; tries++) {
		if ((rc = btcore_random_bytes(rnd, sizeof(rnd))) != BT_OK)
			goto out;
		memcpy(tmp, path, plen);
		tmp[plen] = '.';
		for (i = 0; i < sizeof(rnd); i++) {
			tmp[plen + 1 + 2 * i] = hex[rnd[i] >> 4];
			tmp[plen + 2 + 2 * i] = hex[rnd[i] & 0xf];
		}
		memcpy(tmp + plen + 1 + 2 * sizeof(rnd), ".tmp", 5);
		fd = open(tmp, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW |
		    O_CLOEXEC, 0600);
		if (fd < 0 && errno != EEXIST) {
			rc = BT_EIO;
			goto out;
		}
	}
	if (fd < 0) {
		rc = BT_EIO;
		goto out;
	}
	/* 0600 whatever the umask */
	if (fchmod(fd, 0600) != 0 ||
	    (rc = write_all(fd, pem, pem_len)) != BT_OK ||
	    fsync(fd) != 0) {
		rc = BT_EIO;
		goto fail;
	}
	rc = close(fd);
	fd = -1;
	if (rc != 0 || rename(tmp, path) != 0) {
		rc = BT_EIO;
		goto fail;
	}
	rc = sync_parent(path);
	goto out;
fail:
	if (fd >= 0)
		close(fd);
	fd = -1;
	unlink(tmp);
out:
	if (fd >= 0)
		close(fd);
	free(tmp);
	btcore_pem_free(pem);
	return rc;
}

int
btcore_key_load(struct btcore_key **out, const char *path)
{
	char *buf = NULL;
	struct stat st;
	size_t len = 0;
	ssize_t n;
	int fd = -1, rc;

	if (out == NULL)
		return BT_EINVAL;
	*out = NULL;
	if (path == NULL || path[0] == '\0')
		return BT_EINVAL;
	/* O_NONBLOCK: a FIFO planted at @p path must not hang the open */
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		rc = errno == ENOENT ? BT_ENOTFOUND : BT_EIO;
		goto out;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		rc = BT_EIO;
		goto out;
	}
	if ((st.st_mode & 077) != 0) {
		rc = BT_EPERM;
		goto out;
	}
	if (st.st_size > KEY_FILE_MAX) {
		rc = BT_EFORMAT;
		goto out;
	}
	/* one byte more than allowed, to notice a file that grew */
	if ((buf = malloc(KEY_FILE_MAX + 1)) == NULL) {
		rc = BT_ENOMEM;
		goto out;
	}
	for (;;) {
		n = read(fd, buf + len, KEY_FILE_MAX + 1 - len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = BT_EIO;
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > KEY_FILE_MAX) {
			rc = BT_EFORMAT;
			goto out;
		}
	}
	rc = btcore_key_from_pem(out, buf, len);
out:
	if (buf != NULL) {
		btcore_wipe(buf, KEY_FILE_MAX + 1);
		free(buf);
	}
	if (fd >= 0)
		close(fd);
	return rc;
}
