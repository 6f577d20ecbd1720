/*
 * test_key.c - Ed25519 keys, signatures, signers, PEM and key files.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <openssl/evp.h>

#include <bt/hash.h>
#include <bt/id.h>
#include <bt/key.h>

static void
unhex(uint8_t *out, const char *hex, size_t len)
{
	size_t i;
	unsigned v;

	ck_assert_uint_eq(strlen(hex), 2 * len);
	for (i = 0; i < len; i++) {
		ck_assert_int_eq(sscanf(hex + 2 * i, "%2x", &v), 1);
		out[i] = (uint8_t)v;
	}
}

static int
all_zero(const uint8_t *p, size_t len)
{
	uint8_t acc = 0;

	while (len-- > 0)
		acc |= *p++;
	return acc == 0;
}

/* Read a file of test/data into a NUL-terminated buffer. */
static char *
slurp(const char *name, size_t *len)
{
	char path[512];
	FILE *f;
	char *buf;
	long n;

	snprintf(path, sizeof(path), "%s/%s", BT_TEST_DATA, name);
	f = fopen(path, "rb");
	ck_assert_msg(f != NULL, "cannot open %s", path);
	ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	ck_assert_int_ge(n, 0);
	rewind(f);
	buf = malloc((size_t)n + 1);
	ck_assert_ptr_nonnull(buf);
	ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return buf;
}

/* RFC 8032 section 7.1: TEST 1, TEST 2, TEST 3 and TEST SHA(abc). */
static const struct {
	const char *seed, *pub, *msg, *sig;
} rfc8032[] = {
	{ "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
	  "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
	  "",
	  "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
	  "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b" },
	{ "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
	  "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
	  "72",
	  "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
	  "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00" },
	{ "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
	  "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
	  "af82",
	  "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac"
	  "18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a" },
	{ "833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42",
	  "ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf",
	  "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
	  "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
	  "dc2a4459e7369633a52b1bf277839a00201009a3efbf3ecb69bea2186c26b589"
	  "09351fc9ac90b3ecfdfbc7c66431e0303dca179c138ac17ad9bef1177331a704" },
};

START_TEST(rfc8032_vectors)
{
	uint8_t seed[32], seed2[32], msg[64];
	struct bt_pubkey pub, want_pub;
	struct bt_sig sig, want_sig, sig2;
	struct btcore_signer signer;
	struct btcore_key *key;
	size_t i, mlen;

	for (i = 0; i < sizeof(rfc8032) / sizeof(rfc8032[0]); i++) {
		unhex(seed, rfc8032[i].seed, 32);
		unhex(want_pub.b, rfc8032[i].pub, 32);
		mlen = strlen(rfc8032[i].msg) / 2;
		unhex(msg, rfc8032[i].msg, mlen);
		unhex(want_sig.b, rfc8032[i].sig, 64);

		ck_assert_int_eq(btcore_key_from_seed(&key, seed), BT_OK);
		btcore_key_public(key, &pub);
		ck_assert_mem_eq(pub.b, want_pub.b, 32);
		btcore_key_seed(key, seed2);
		ck_assert_mem_eq(seed2, seed, 32);
		ck_assert_int_eq(btcore_key_sign(key, mlen ? msg : NULL, mlen,
		    &sig), BT_OK);
		ck_assert_mem_eq(sig.b, want_sig.b, 64);
		ck_assert_int_eq(btcore_sig_verify(&want_pub, msg, mlen,
		    &want_sig), BT_OK);

		/* the same through a signer */
		btcore_key_signer(key, &signer);
		ck_assert_mem_eq(signer.pub.b, want_pub.b, 32);
		ck_assert_ptr_eq(signer.ctx, key);
		ck_assert_int_eq(btcore_signer_sign(&signer, msg, mlen, &sig2),
		    BT_OK);
		ck_assert_mem_eq(sig2.b, want_sig.b, 64);
		btcore_key_free(key);
	}
}
END_TEST

/* Deterministic signatures must agree byte for byte with OpenSSL's. */
START_TEST(sign_matches_openssl)
{
	uint8_t seed[32], msg[100], osig[64];
	struct bt_pubkey pub;
	struct btcore_key *key;
	struct bt_sig sig;
	EVP_PKEY *pkey;
	EVP_MD_CTX *md;
	size_t n, len;
	int i;

	for (i = 0; i < 20; i++) {
		len = (size_t)i * 5;
		ck_assert_int_eq(btcore_random_bytes(seed, 32), BT_OK);
		ck_assert_int_eq(btcore_random_bytes(msg, sizeof(msg)), BT_OK);
		ck_assert_int_eq(btcore_key_from_seed(&key, seed), BT_OK);
		ck_assert_int_eq(btcore_key_sign(key, msg, len, &sig), BT_OK);
		btcore_key_public(key, &pub);

		pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL,
		    seed, 32);
		ck_assert_ptr_nonnull(pkey);
		md = EVP_MD_CTX_new();
		ck_assert_ptr_nonnull(md);
		ck_assert_int_eq(EVP_DigestSignInit(md, NULL, NULL, NULL, pkey),
		    1);
		n = sizeof(osig);
		ck_assert_int_eq(EVP_DigestSign(md, osig, &n, msg, len), 1);
		ck_assert_uint_eq(n, 64);
		ck_assert_mem_eq(sig.b, osig, 64);
		ck_assert_int_eq(btcore_sig_verify(&pub, msg, len, &sig),
		    BT_OK);
		EVP_MD_CTX_free(md);
		EVP_PKEY_free(pkey);
		btcore_key_free(key);
	}
}
END_TEST

START_TEST(every_bit_flip_fails)
{
	uint8_t msg[48];
	struct btcore_key *key;
	struct bt_pubkey pub, p2;
	struct bt_sig sig, s2;
	size_t bit;

	ck_assert_int_eq(btcore_key_generate(&key), BT_OK);
	btcore_key_public(key, &pub);
	ck_assert_int_eq(btcore_random_bytes(msg, sizeof(msg)), BT_OK);
	ck_assert_int_eq(btcore_key_sign(key, msg, sizeof(msg), &sig), BT_OK);
	ck_assert_int_eq(btcore_sig_verify(&pub, msg, sizeof(msg), &sig),
	    BT_OK);
	for (bit = 0; bit < 8 * sizeof(msg); bit++) {
		msg[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		ck_assert_int_eq(btcore_sig_verify(&pub, msg, sizeof(msg),
		    &sig), BT_EVERIFY);
		msg[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
	for (bit = 0; bit < 8 * sizeof(sig.b); bit++) {
		s2 = sig;
		s2.b[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		ck_assert_int_eq(btcore_sig_verify(&pub, msg, sizeof(msg),
		    &s2), BT_EVERIFY);
	}
	for (bit = 0; bit < 8 * sizeof(pub.b); bit++) {
		p2 = pub;
		p2.b[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		ck_assert_int_eq(btcore_sig_verify(&p2, msg, sizeof(msg),
		    &sig), BT_EVERIFY);
	}
	/* shorter and longer messages */
	ck_assert_int_eq(btcore_sig_verify(&pub, msg, sizeof(msg) - 1, &sig),
	    BT_EVERIFY);
	ck_assert_int_eq(btcore_sig_verify(&pub, msg, 0, &sig), BT_EVERIFY);
	/* still valid after all that */
	ck_assert_int_eq(btcore_sig_verify(&pub, msg, sizeof(msg), &sig),
	    BT_OK);
	btcore_key_free(key);
}
END_TEST

/* Malleated (S + L) signatures and small-order keys are refused. */
START_TEST(non_canonical_refused)
{
	/* the group order L, little endian */
	static const char *order =
	    "edd3f55c1a631258d69cf7a2def9de140000000000000000000000000000001"
	    "0";
	uint8_t l[32], msg[8] = "message";
	struct btcore_key *key;
	struct bt_pubkey pub, zero;
	struct bt_sig sig, mal;
	unsigned carry = 0, v;
	int i;

	unhex(l, order, 32);
	ck_assert_int_eq(btcore_key_generate(&key), BT_OK);
	btcore_key_public(key, &pub);
	ck_assert_int_eq(btcore_key_sign(key, msg, sizeof(msg), &sig), BT_OK);
	mal = sig;
	for (i = 0; i < 32; i++) {
		v = (unsigned)mal.b[32 + i] + l[i] + carry;
		mal.b[32 + i] = (uint8_t)v;
		carry = v >> 8;
	}
	ck_assert_uint_eq(carry, 0);
	ck_assert_int_eq(btcore_sig_verify(&pub, msg, sizeof(msg), &mal),
	    BT_EVERIFY);
	/* the identity-like all-zero key and an all-zero signature */
	memset(&zero, 0, sizeof(zero));
	memset(&mal, 0, sizeof(mal));
	ck_assert_int_eq(btcore_sig_verify(&zero, msg, sizeof(msg), &mal),
	    BT_EVERIFY);
	ck_assert_int_eq(btcore_sig_verify(&zero, msg, sizeof(msg), &sig),
	    BT_EVERIFY);
	btcore_key_free(key);
}
END_TEST

static int
failing_sign(void *ctx, const void *msg, size_t len, struct bt_sig *sig)
{
	(void)msg;
	(void)len;
	memset(sig, 0x55, sizeof(*sig));
	return *(int *)ctx;
}

START_TEST(signers_and_null_arguments)
{
	uint8_t seed[32];
	struct btcore_signer signer;
	struct btcore_key *key, *k2;
	struct bt_pubkey pub;
	struct bt_sig sig;
	struct bt_id id, want;
	int code;

	ck_assert_int_eq(btcore_key_generate(&key), BT_OK);
	btcore_key_public(key, &pub);

	/* a signer's failure zeroes the signature */
	signer.pub = pub;
	signer.sign = failing_sign;
	signer.ctx = &code;
	code = BT_ECRYPTO;
	ck_assert_int_eq(btcore_signer_sign(&signer, "x", 1, &sig),
	    BT_ECRYPTO);
	ck_assert(all_zero(sig.b, sizeof(sig.b)));
	code = 7;		/* not a valid error code */
	ck_assert_int_eq(btcore_signer_sign(&signer, "x", 1, &sig),
	    BT_ECRYPTO);
	ck_assert_uint_eq(sig.b[0], 0);
	code = BT_OK;
	ck_assert_int_eq(btcore_signer_sign(&signer, "x", 1, &sig), BT_OK);
	ck_assert_uint_eq(sig.b[0], 0x55);
	signer.sign = NULL;
	ck_assert_int_eq(btcore_signer_sign(&signer, "x", 1, &sig),
	    BT_EINVAL);
	ck_assert_uint_eq(sig.b[0], 0);
	btcore_key_signer(key, &signer);
	memset(&sig, 0x55, sizeof(sig));
	ck_assert_int_eq(btcore_signer_sign(&signer, NULL, 1, &sig),
	    BT_EINVAL);
	ck_assert_uint_eq(sig.b[63], 0);
	ck_assert_int_eq(btcore_signer_sign(NULL, "x", 1, &sig), BT_EINVAL);
	ck_assert_int_eq(btcore_signer_sign(&signer, "x", 1, NULL),
	    BT_EINVAL);
	ck_assert_int_eq(btcore_signer_sign(&signer, NULL, 0, &sig), BT_OK);
	ck_assert_int_eq(btcore_sig_verify(&pub, NULL, 0, &sig), BT_OK);
	ck_assert_int_eq(btcore_sig_verify(&pub, "", 0, &sig), BT_OK);

	/* NULL arguments */
	ck_assert_int_eq(btcore_key_generate(NULL), BT_EINVAL);
	k2 = key;
	ck_assert_int_eq(btcore_key_from_seed(&k2, NULL), BT_EINVAL);
	ck_assert_ptr_null(k2);
	ck_assert_int_eq(btcore_key_from_seed(NULL, seed), BT_EINVAL);
	memset(&sig, 0x55, sizeof(sig));
	ck_assert_int_eq(btcore_key_sign(NULL, "x", 1, &sig), BT_EINVAL);
	ck_assert_uint_eq(sig.b[10], 0);
	memset(&sig, 0x55, sizeof(sig));
	ck_assert_int_eq(btcore_key_sign(key, NULL, 1, &sig), BT_EINVAL);
	ck_assert_uint_eq(sig.b[10], 0);
	ck_assert_int_eq(btcore_key_sign(key, "x", 1, NULL), BT_EINVAL);
	ck_assert_int_eq(btcore_sig_verify(NULL, "x", 1, &sig), BT_EINVAL);
	ck_assert_int_eq(btcore_sig_verify(&pub, NULL, 1, &sig), BT_EINVAL);
	ck_assert_int_eq(btcore_sig_verify(&pub, "x", 1, NULL), BT_EINVAL);
	ck_assert_int_eq(btcore_pubkey_id(NULL, &id), BT_EINVAL);
	ck_assert_int_eq(btcore_pubkey_id(&pub, NULL), BT_EINVAL);
	btcore_key_signer(NULL, &signer);
	ck_assert(signer.sign == NULL);
	btcore_key_signer(key, NULL);
	btcore_key_public(NULL, &pub);
	ck_assert(all_zero(pub.b, sizeof(pub.b)));
	memset(seed, 1, sizeof(seed));
	btcore_key_seed(NULL, seed);
	ck_assert_uint_eq(seed[5], 0);
	btcore_key_free(NULL);

	/* the node id is the SHA-256 of the public key (RFC 8032 TEST 1) */
	unhex(pub.b, rfc8032[0].pub, 32);
	ck_assert_int_eq(btcore_pubkey_id(&pub, &id), BT_OK);
	unhex(want.b,
	    "21fe31dfa154a261626bf854046fd2271b7bed4b6abe45aa58877ef47f9721b9",
	    32);
	ck_assert_int_eq(btcore_id_cmp(&id, &want), 0);

	/* two generated keys differ */
	ck_assert_int_eq(btcore_key_generate(&k2), BT_OK);
	btcore_key_public(k2, &pub);
	btcore_key_signer(key, &signer);
	ck_assert_mem_ne(pub.b, signer.pub.b, 32);
	btcore_key_free(k2);
	btcore_key_free(key);
}
END_TEST

START_TEST(pem_round_trip)
{
	static const char priv_head[] = "-----BEGIN PRIVATE KEY-----\n";
	static const char pub_head[] = "-----BEGIN PUBLIC KEY-----\n";
	uint8_t s1[32], s2[32];
	struct btcore_key *key, *back;
	struct bt_pubkey pub, pub2;
	char *pem, *exact;
	size_t len;

	ck_assert_int_eq(btcore_key_generate(&key), BT_OK);
	btcore_key_public(key, &pub);
	ck_assert_int_eq(btcore_key_to_pem(key, &pem, &len), BT_OK);
	ck_assert_uint_eq(len, strlen(pem));
	ck_assert_int_eq(strncmp(pem, priv_head, strlen(priv_head)), 0);
	/* an exact-size copy without a NUL: the parser must stay inside */
	exact = malloc(len);
	ck_assert_ptr_nonnull(exact);
	memcpy(exact, pem, len);
	ck_assert_int_eq(btcore_key_from_pem(&back, exact, len), BT_OK);
	btcore_key_seed(key, s1);
	btcore_key_seed(back, s2);
	ck_assert_mem_eq(s1, s2, 32);
	btcore_key_public(back, &pub2);
	ck_assert_mem_eq(pub.b, pub2.b, 32);
	btcore_key_free(back);
	/* a private key is not a public key */
	ck_assert_int_eq(btcore_pubkey_from_pem(&pub2, exact, len),
	    BT_EFORMAT);
	free(exact);
	btcore_pem_free(pem);
	/* out_len is optional */
	ck_assert_int_eq(btcore_key_to_pem(key, &pem, NULL), BT_OK);
	btcore_pem_free(pem);

	ck_assert_int_eq(btcore_pubkey_to_pem(&pub, &pem, &len), BT_OK);
	ck_assert_uint_eq(len, strlen(pem));
	ck_assert_int_eq(strncmp(pem, pub_head, strlen(pub_head)), 0);
	ck_assert_int_eq(btcore_pubkey_from_pem(&pub2, pem, len), BT_OK);
	ck_assert_mem_eq(pub.b, pub2.b, 32);
	back = (struct btcore_key *)1;
	ck_assert_int_eq(btcore_key_from_pem(&back, pem, len), BT_EFORMAT);
	ck_assert_ptr_null(back);
	btcore_pem_free(pem);
	btcore_pem_free(NULL);

	/* NULL arguments */
	ck_assert_int_eq(btcore_key_to_pem(NULL, &pem, &len), BT_EINVAL);
	ck_assert_ptr_null(pem);
	ck_assert_int_eq(btcore_key_to_pem(key, NULL, &len), BT_EINVAL);
	ck_assert_int_eq(btcore_pubkey_to_pem(NULL, &pem, &len), BT_EINVAL);
	ck_assert_int_eq(btcore_pubkey_to_pem(&pub, NULL, &len), BT_EINVAL);
	ck_assert_int_eq(btcore_key_from_pem(NULL, "x", 1), BT_EINVAL);
	ck_assert_int_eq(btcore_key_from_pem(&back, NULL, 1), BT_EINVAL);
	ck_assert_int_eq(btcore_pubkey_from_pem(NULL, "x", 1), BT_EINVAL);
	ck_assert_int_eq(btcore_pubkey_from_pem(&pub2, NULL, 1), BT_EINVAL);
	btcore_key_free(key);
}
END_TEST

/* The files were written by the openssl command-line tool. */
START_TEST(pem_matches_openssl_tool)
{
	uint8_t seed[32];
	struct bt_pubkey pub, want;
	struct btcore_key *key;
	char *file, *pem;
	size_t flen, len;

	unhex(seed, rfc8032[0].seed, 32);
	unhex(want.b, rfc8032[0].pub, 32);
	file = slurp("key-ed25519-rfc8032-test1.pem", &flen);
	ck_assert_int_eq(btcore_key_from_pem(&key, file, flen), BT_OK);
	btcore_key_public(key, &pub);
	ck_assert_mem_eq(pub.b, want.b, 32);
	ck_assert_int_eq(btcore_key_to_pem(key, &pem, &len), BT_OK);
	ck_assert_uint_eq(len, flen);
	ck_assert_str_eq(pem, file);
	btcore_pem_free(pem);
	btcore_key_free(key);
	free(file);

	file = slurp("key-ed25519-rfc8032-test1.pub.pem", &flen);
	ck_assert_int_eq(btcore_pubkey_from_pem(&pub, file, flen), BT_OK);
	ck_assert_mem_eq(pub.b, want.b, 32);
	ck_assert_int_eq(btcore_pubkey_to_pem(&want, &pem, &len), BT_OK);
	ck_assert_str_eq(pem, file);
	btcore_pem_free(pem);
	free(file);
}
END_TEST

START_TEST(pem_other_key_types_refused)
{
	static const char *privs[] = { "key-rsa.pem", "key-x25519.pem",
	    "key-ed25519-encrypted.pem", "key-rsa.pub.pem",
	    "key-x25519.pub.pem", "key-ed25519-rfc8032-test1.pub.pem" };
	static const char *pubs[] = { "key-rsa.pub.pem", "key-x25519.pub.pem",
	    "key-rsa.pem", "key-x25519.pem", "key-ed25519-rfc8032-test1.pem" };
	struct btcore_key *key;
	struct bt_pubkey pub;
	char *file;
	size_t i, len;

	for (i = 0; i < sizeof(privs) / sizeof(privs[0]); i++) {
		file = slurp(privs[i], &len);
		key = (struct btcore_key *)1;
		ck_assert_msg(btcore_key_from_pem(&key, file, len) ==
		    BT_EFORMAT, "%s accepted as a private key", privs[i]);
		ck_assert_ptr_null(key);
		free(file);
	}
	for (i = 0; i < sizeof(pubs) / sizeof(pubs[0]); i++) {
		file = slurp(pubs[i], &len);
		memset(&pub, 0x55, sizeof(pub));
		ck_assert_msg(btcore_pubkey_from_pem(&pub, file, len) ==
		    BT_EFORMAT, "%s accepted as a public key", pubs[i]);
		ck_assert_uint_eq(pub.b[0], 0);
		free(file);
	}
}
END_TEST

START_TEST(pem_truncated_and_garbage_refused)
{
	static const char *garbage[] = {
		"",
		"hello",
		"-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----\n",
		"-----BEGIN PRIVATE KEY-----\n!!!!\n-----END PRIVATE KEY-----\n",
		"-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIJ1hsZ3v\n"
		    "-----END PRIVATE KEY-----\n",
		"-----BEGIN CERTIFICATE-----\n"
		    "MC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn9g\n"
		    "-----END CERTIFICATE-----\n",
		/* one byte more in the key octet string */
		"-----BEGIN PRIVATE KEY-----\n"
		    "MC8CAQAwBQYDK2VwBCMEIQCdYbGd7/1aYLqESvSS7CzEREnFaXsyaRlwO6wDHK5/YA==\n"
		    "-----END PRIVATE KEY-----\n",
	};
	struct btcore_key *key, *back;
	struct bt_pubkey pub;
	char *pem, *big, *both;
	size_t len, n, i;
	uint8_t s1[32], s2[32];
	int rc;

	for (i = 0; i < sizeof(garbage) / sizeof(garbage[0]); i++) {
		ck_assert_msg(btcore_key_from_pem(&key, garbage[i],
		    strlen(garbage[i])) == BT_EFORMAT, "garbage %zu", i);
		ck_assert_int_eq(btcore_pubkey_from_pem(&pub, garbage[i],
		    strlen(garbage[i])), BT_EFORMAT);
	}

	ck_assert_int_eq(btcore_key_generate(&key), BT_OK);
	btcore_key_seed(key, s1);
	ck_assert_int_eq(btcore_key_to_pem(key, &pem, &len), BT_OK);
	/* every truncation; only dropping the final newline may still parse */
	for (n = 0; n < len; n++) {
		rc = btcore_key_from_pem(&back, pem, n);
		if (n + 1 == len && rc == BT_OK) {
			btcore_key_seed(back, s2);
			ck_assert_mem_eq(s1, s2, 32);
			btcore_key_free(back);
			continue;
		}
		ck_assert_msg(rc == BT_EFORMAT, "truncated to %zu: %d", n, rc);
		ck_assert_ptr_null(back);
	}
	/* only the first PEM block counts */
	btcore_key_public(key, &pub);
	ck_assert_int_eq(btcore_pubkey_to_pem(&pub, &big, &n), BT_OK);
	both = malloc(n + len);
	ck_assert_ptr_nonnull(both);
	memcpy(both, big, n);
	memcpy(both + n, pem, len);
	ck_assert_int_eq(btcore_key_from_pem(&back, both, n + len),
	    BT_EFORMAT);
	ck_assert_int_eq(btcore_pubkey_from_pem(&pub, both, n + len), BT_OK);
	memcpy(both, pem, len);
	memcpy(both + len, big, n);
	ck_assert_int_eq(btcore_pubkey_from_pem(&pub, both, n + len),
	    BT_EFORMAT);
	ck_assert_int_eq(btcore_key_from_pem(&back, both, n + len), BT_OK);
	btcore_key_free(back);
	free(both);
	btcore_pem_free(big);
	/* PEM headers are not part of a key file */
	both = malloc(len + 40);
	ck_assert_ptr_nonnull(both);
	n = strlen("-----BEGIN PRIVATE KEY-----\n");
	memcpy(both, pem, n);
	memcpy(both + n, "Comment: x\n\n", 13);
	memcpy(both + n + 13, pem + n, len - n);
	ck_assert_int_eq(btcore_key_from_pem(&back, both, len + 13),
	    BT_EFORMAT);
	free(both);

	/* larger than any key file: refused before parsing */
	big = malloc(20000 + len);
	ck_assert_ptr_nonnull(big);
	memset(big, '\n', 20000);
	memcpy(big + 20000, pem, len);
	ck_assert_int_eq(btcore_key_from_pem(&back, big, 20000 + len),
	    BT_EFORMAT);
	/* leading blank lines alone are fine */
	ck_assert_int_eq(btcore_key_from_pem(&back, big + 20000 - 100,
	    100 + len), BT_OK);
	btcore_key_free(back);
	free(big);
	btcore_pem_free(pem);
	btcore_key_free(key);
}
END_TEST

static char tmpdir[64];

static void
make_tmpdir(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/bt-test-key-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

/* Remove every entry of the directory (flat) and the directory. */
static int
clean_tmpdir(void)
{
	char path[sizeof(tmpdir) + 256 + 2];
	struct dirent *e;
	DIR *d;
	int n = 0;

	d = opendir(tmpdir);
	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", tmpdir, e->d_name);
		if (unlink(path) != 0)
			ck_assert_int_eq(rmdir(path), 0);
		n++;
	}
	closedir(d);
	ck_assert_int_eq(rmdir(tmpdir), 0);
	return n;
}

static int
count_entries(void)
{
	struct dirent *e;
	DIR *d;
	int n = 0;

	d = opendir(tmpdir);
	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

static void
write_file(const char *path, const void *data, size_t len, mode_t mode)
{
	FILE *f = fopen(path, "wb");

	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(data, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_int_eq(chmod(path, mode), 0);
}

START_TEST(save_and_load)
{
	char path[128], other[128];
	uint8_t s1[32], s2[32];
	struct btcore_key *key, *k2, *back;
	struct stat st;
	mode_t old;
	char *big, *pem;
	size_t len;

	make_tmpdir();
	snprintf(path, sizeof(path), "%s/node.key", tmpdir);
	ck_assert_int_eq(btcore_key_generate(&key), BT_OK);
	btcore_key_seed(key, s1);

	/* 0600 even with an empty umask */
	old = umask(0);
	ck_assert_int_eq(btcore_key_save(key, path), BT_OK);
	umask(old);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0600);
	ck_assert_int_eq(count_entries(), 1);
	ck_assert_int_eq(btcore_key_load(&back, path), BT_OK);
	btcore_key_seed(back, s2);
	ck_assert_mem_eq(s1, s2, 32);
	btcore_key_free(back);

	/* replacing an existing file leaves no temporary behind */
	ck_assert_int_eq(btcore_key_generate(&k2), BT_OK);
	ck_assert_int_eq(btcore_key_save(k2, path), BT_OK);
	ck_assert_int_eq(count_entries(), 1);
	ck_assert_int_eq(btcore_key_load(&back, path), BT_OK);
	btcore_key_seed(back, s2);
	btcore_key_seed(k2, s1);
	ck_assert_mem_eq(s1, s2, 32);
	btcore_key_free(back);
	btcore_key_free(k2);

	/* readable by group or others: refused */
	ck_assert_int_eq(chmod(path, 0644), 0);
	back = (struct btcore_key *)1;
	ck_assert_int_eq(btcore_key_load(&back, path), BT_EPERM);
	ck_assert_ptr_null(back);
	ck_assert_int_eq(chmod(path, 0640), 0);
	ck_assert_int_eq(btcore_key_load(&back, path), BT_EPERM);
	ck_assert_int_eq(chmod(path, 0604), 0);
	ck_assert_int_eq(btcore_key_load(&back, path), BT_EPERM);
	ck_assert_int_eq(chmod(path, 0400), 0);
	ck_assert_int_eq(btcore_key_load(&back, path), BT_OK);
	btcore_key_free(back);

	/* missing, symlink, directory, FIFO, oversize, garbage */
	snprintf(other, sizeof(other), "%s/missing.key", tmpdir);
	ck_assert_int_eq(btcore_key_load(&back, other), BT_ENOTFOUND);
	snprintf(other, sizeof(other), "%s/link.key", tmpdir);
	ck_assert_int_eq(symlink(path, other), 0);
	ck_assert_int_eq(btcore_key_load(&back, other), BT_EIO);
	snprintf(other, sizeof(other), "%s/dir.key", tmpdir);
	ck_assert_int_eq(mkdir(other, 0700), 0);
	ck_assert_int_eq(btcore_key_load(&back, other), BT_EIO);
	snprintf(other, sizeof(other), "%s/fifo.key", tmpdir);
	ck_assert_int_eq(mkfifo(other, 0600), 0);
	ck_assert_int_eq(btcore_key_load(&back, other), BT_EIO);
	snprintf(other, sizeof(other), "%s/big.key", tmpdir);
	ck_assert_int_eq(btcore_key_to_pem(key, &pem, &len), BT_OK);
	big = malloc(17 * 1024);
	ck_assert_ptr_nonnull(big);
	memset(big, '\n', 17 * 1024);
	memcpy(big + 17 * 1024 - len, pem, len);
	write_file(other, big, 17 * 1024, 0600);
	ck_assert_int_eq(btcore_key_load(&back, other), BT_EFORMAT);
	/* exactly at the limit still loads */
	write_file(other, big + 1024, 16 * 1024, 0600);
	ck_assert_int_eq(btcore_key_load(&back, other), BT_OK);
	btcore_key_free(back);
	free(big);
	btcore_pem_free(pem);
	snprintf(other, sizeof(other), "%s/garbage.key", tmpdir);
	write_file(other, "not a key\n", 10, 0600);
	ck_assert_int_eq(btcore_key_load(&back, other), BT_EFORMAT);
	write_file(other, "", 0, 0600);
	ck_assert_int_eq(btcore_key_load(&back, other), BT_EFORMAT);

	/* a directory that does not exist */
	snprintf(other, sizeof(other), "%s/no/such.key", tmpdir);
	ck_assert_int_eq(btcore_key_save(key, other), BT_EIO);
	/* NULL arguments */
	ck_assert_int_eq(btcore_key_save(NULL, path), BT_EINVAL);
	ck_assert_int_eq(btcore_key_save(key, NULL), BT_EINVAL);
	ck_assert_int_eq(btcore_key_save(key, ""), BT_EINVAL);
	ck_assert_int_eq(btcore_key_load(NULL, path), BT_EINVAL);
	ck_assert_int_eq(btcore_key_load(&back, NULL), BT_EINVAL);

	ck_assert_int_eq(clean_tmpdir(), 6);
	btcore_key_free(key);
}
END_TEST

/* A relative path saves into the working directory. */
START_TEST(save_relative_path)
{
	char cwd[512];
	struct btcore_key *key, *back;
	struct stat st;

	ck_assert_ptr_nonnull(getcwd(cwd, sizeof(cwd)));
	make_tmpdir();
	ck_assert_int_eq(chdir(tmpdir), 0);
	ck_assert_int_eq(btcore_key_generate(&key), BT_OK);
	ck_assert_int_eq(btcore_key_save(key, "plain.key"), BT_OK);
	ck_assert_int_eq(stat("plain.key", &st), 0);
	ck_assert_uint_eq(st.st_mode & 0777, 0600);
	ck_assert_int_eq(btcore_key_load(&back, "plain.key"), BT_OK);
	btcore_key_free(back);
	ck_assert_int_eq(chdir(cwd), 0);
	ck_assert_int_eq(clean_tmpdir(), 1);
	btcore_key_free(key);
}
END_TEST

Suite *suite_key(void);

Suite *
suite_key(void)
{
	Suite *s = suite_create("key");
	TCase *tc = tcase_create("key");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, rfc8032_vectors);
	tcase_add_test(tc, sign_matches_openssl);
	tcase_add_test(tc, every_bit_flip_fails);
	tcase_add_test(tc, non_canonical_refused);
	tcase_add_test(tc, signers_and_null_arguments);
	tcase_add_test(tc, pem_round_trip);
	tcase_add_test(tc, pem_matches_openssl_tool);
	tcase_add_test(tc, pem_other_key_types_refused);
	tcase_add_test(tc, pem_truncated_and_garbage_refused);
	tcase_add_test(tc, save_and_load);
	tcase_add_test(tc, save_relative_path);
	suite_add_tcase(s, tc);
	return s;
}
