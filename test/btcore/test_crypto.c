/*
 * test_crypto.c - X25519, HMAC-SHA256, HKDF-SHA256, ChaCha20-Poly1305.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <sodium.h>

#include <bt/crypto.h>
#include <bt/hash.h>

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

static void
assert_hex(const uint8_t *got, const char *hex)
{
	uint8_t want[256];
	size_t len = strlen(hex) / 2;

	ck_assert_uint_le(len, sizeof(want));
	unhex(want, hex, len);
	ck_assert_mem_eq(got, want, len);
}

static int
all_zero(const uint8_t *p, size_t len)
{
	uint8_t acc = 0;

	while (len-- > 0)
		acc |= *p++;
	return acc == 0;
}

/* X25519 */

/* RFC 7748 section 5.2. */
START_TEST(x25519_rfc7748_vectors)
{
	uint8_t k[32], u[32], out[32], t[32];
	int i;

	unhex(k, "a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4",
	    32);
	unhex(u, "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c",
	    32);
	ck_assert_int_eq(btcore_x25519(out, k, u), BT_OK);
	assert_hex(out,
	    "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552");
	/* the top bit of this u-coordinate is set and must be ignored */
	unhex(k, "4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d",
	    32);
	unhex(u, "e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493",
	    32);
	ck_assert_int_eq(btcore_x25519(out, k, u), BT_OK);
	assert_hex(out,
	    "95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957");

	/* iterated: k = X25519(k, u), u = old k, from k = u = 9 */
	memset(k, 0, 32);
	k[0] = 9;
	memcpy(u, k, 32);
	for (i = 1; i <= 1000; i++) {
		ck_assert_int_eq(btcore_x25519(t, k, u), BT_OK);
		memcpy(u, k, 32);
		memcpy(k, t, 32);
		if (i == 1)
			assert_hex(k, "422c8e7a6227d7bca1350b3e2bb7279f"
			    "7897b87bb6854b783c60e80311ae3079");
	}
	assert_hex(k,
	    "684cf59ba83309552800ef566f2f4d3c1c3887c49360e3875f2eb94d99532c51");
}
END_TEST

/* RFC 7748 section 6.1. */
START_TEST(x25519_rfc7748_dh)
{
	uint8_t a[32], b[32], apub[32], bpub[32], s1[32], s2[32];

	unhex(a, "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a",
	    32);
	unhex(b, "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb",
	    32);
	ck_assert_int_eq(btcore_x25519_public(apub, a), BT_OK);
	assert_hex(apub,
	    "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
	ck_assert_int_eq(btcore_x25519_public(bpub, b), BT_OK);
	assert_hex(bpub,
	    "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
	ck_assert_int_eq(btcore_x25519(s1, a, bpub), BT_OK);
	ck_assert_int_eq(btcore_x25519(s2, b, apub), BT_OK);
	assert_hex(s1,
	    "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
	ck_assert_mem_eq(s1, s2, 32);
}
END_TEST

/*
 * Points of order 1, 2, 4 and 8 and their non-canonical encodings (the
 * list published with Curve25519 and used by libsodium); also each with
 * the ignored top bit set.
 */
static const char *low_order[] = {
	"0000000000000000000000000000000000000000000000000000000000000000",
	"0100000000000000000000000000000000000000000000000000000000000000",
	"e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
	"5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
	"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	"eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
};

START_TEST(x25519_low_order_refused)
{
	uint8_t priv[32], pub[32], peer[32], shared[32];
	size_t i;
	int top;

	ck_assert_int_eq(btcore_x25519_keypair(priv, pub), BT_OK);
	for (i = 0; i < sizeof(low_order) / sizeof(low_order[0]); i++) {
		for (top = 0; top < 2; top++) {
			unhex(peer, low_order[i], 32);
			if (top)
				peer[31] |= 0x80;
			memset(shared, 0xaa, sizeof(shared));
			ck_assert_msg(btcore_x25519(shared, priv, peer) ==
			    BT_EVERIFY, "point %zu top %d accepted", i, top);
			ck_assert(all_zero(shared, 32));
		}
	}
}
END_TEST

/* Agreement with OpenSSL's independent X25519 for random keys. */
START_TEST(x25519_keypair_and_openssl)
{
	uint8_t a[32], apub[32], b[32], bpub[32], s1[32], s2[32], s3[32];
	EVP_PKEY *ka, *kb;
	EVP_PKEY_CTX *ctx;
	size_t n;
	int i;

	for (i = 0; i < 10; i++) {
		ck_assert_int_eq(btcore_x25519_keypair(a, apub), BT_OK);
		ck_assert_int_eq(btcore_x25519_keypair(b, bpub), BT_OK);
		ck_assert_mem_ne(a, b, 32);
		ck_assert_int_eq(btcore_x25519(s1, a, bpub), BT_OK);
		ck_assert_int_eq(btcore_x25519(s2, b, apub), BT_OK);
		ck_assert_mem_eq(s1, s2, 32);

		ka = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, a, 32);
		kb = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, bpub,
		    32);
		ck_assert_ptr_nonnull(ka);
		ck_assert_ptr_nonnull(kb);
		n = sizeof(s3);
		ck_assert_int_eq(EVP_PKEY_get_raw_public_key(ka, s3, &n), 1);
		ck_assert_mem_eq(s3, apub, 32);
		ctx = EVP_PKEY_CTX_new(ka, NULL);
		ck_assert_ptr_nonnull(ctx);
		ck_assert_int_eq(EVP_PKEY_derive_init(ctx), 1);
		ck_assert_int_eq(EVP_PKEY_derive_set_peer(ctx, kb), 1);
		n = sizeof(s3);
		ck_assert_int_eq(EVP_PKEY_derive(ctx, s3, &n), 1);
		ck_assert_mem_eq(s3, s1, 32);
		EVP_PKEY_CTX_free(ctx);
		EVP_PKEY_free(ka);
		EVP_PKEY_free(kb);
	}
	ck_assert_int_eq(btcore_x25519_keypair(NULL, apub), BT_EINVAL);
	ck_assert_int_eq(btcore_x25519_keypair(a, NULL), BT_EINVAL);
	ck_assert_int_eq(btcore_x25519_public(NULL, a), BT_EINVAL);
	ck_assert_int_eq(btcore_x25519_public(apub, NULL), BT_EINVAL);
	ck_assert_int_eq(btcore_x25519(NULL, a, bpub), BT_EINVAL);
	memset(s1, 0xaa, 32);
	ck_assert_int_eq(btcore_x25519(s1, NULL, bpub), BT_EINVAL);
	ck_assert(all_zero(s1, 32));
	ck_assert_int_eq(btcore_x25519(s1, a, NULL), BT_EINVAL);
}
END_TEST

/* HMAC-SHA256 */

/* RFC 4231 section 4: test cases 1, 2, 3, 4, 6 and 7. */
START_TEST(hmac_rfc4231)
{
	static const char tc6[] =
	    "Test Using Larger Than Block-Size Key - Hash Key First";
	static const char tc7[] =
	    "This is a test using a larger than block-size key and a larger "
	    "than block-size data. The key needs to be hashed before being "
	    "used by the HMAC algorithm.";
	uint8_t key[131], data[50], mac[32];
	int i;

	memset(key, 0x0b, 20);
	ck_assert_int_eq(btcore_hmac_sha256(mac, key, 20, "Hi There", 8),
	    BT_OK);
	assert_hex(mac,
	    "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
	ck_assert_int_eq(btcore_hmac_sha256(mac, "Jefe", 4,
	    "what do ya want for nothing?", 28), BT_OK);
	assert_hex(mac,
	    "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
	memset(key, 0xaa, 20);
	memset(data, 0xdd, 50);
	ck_assert_int_eq(btcore_hmac_sha256(mac, key, 20, data, 50), BT_OK);
	assert_hex(mac,
	    "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe");
	for (i = 0; i < 25; i++)
		key[i] = (uint8_t)(i + 1);
	memset(data, 0xcd, 50);
	ck_assert_int_eq(btcore_hmac_sha256(mac, key, 25, data, 50), BT_OK);
	assert_hex(mac,
	    "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b");
	memset(key, 0xaa, 131);
	ck_assert_int_eq(btcore_hmac_sha256(mac, key, 131, tc6,
	    strlen(tc6)), BT_OK);
	assert_hex(mac,
	    "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
	ck_assert_int_eq(btcore_hmac_sha256(mac, key, 131, tc7,
	    strlen(tc7)), BT_OK);
	assert_hex(mac,
	    "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2");

	/* empty key and empty data */
	ck_assert_int_eq(btcore_hmac_sha256(mac, NULL, 0, NULL, 0), BT_OK);
	assert_hex(mac,
	    "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
	ck_assert_int_eq(btcore_hmac_sha256(mac, "", 0, "", 0), BT_OK);
	assert_hex(mac,
	    "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");

	ck_assert_int_eq(btcore_hmac_sha256(NULL, key, 1, data, 1), BT_EINVAL);
	memset(mac, 0xaa, 32);
	ck_assert_int_eq(btcore_hmac_sha256(mac, NULL, 1, data, 1), BT_EINVAL);
	ck_assert(all_zero(mac, 32));
	ck_assert_int_eq(btcore_hmac_sha256(mac, key, 1, NULL, 1), BT_EINVAL);
}
END_TEST

/* HKDF-SHA256 */

static void
seq(uint8_t *p, int from, int n)
{
	int i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)(from + i);
}

/* RFC 5869 appendix A, test cases 1, 2 and 3. */
START_TEST(hkdf_rfc5869)
{
	uint8_t ikm[80], salt[80], info[80], okm[82];

	memset(ikm, 0x0b, 22);
	seq(salt, 0x00, 13);
	seq(info, 0xf0, 10);
	ck_assert_int_eq(btcore_hkdf_sha256(okm, 42, salt, 13, ikm, 22, info,
	    10), BT_OK);
	assert_hex(okm, "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db0"
	    "2d56ecc4c5bf34007208d5b887185865");

	seq(ikm, 0x00, 80);
	seq(salt, 0x60, 80);
	seq(info, 0xb0, 80);
	ck_assert_int_eq(btcore_hkdf_sha256(okm, 82, salt, 80, ikm, 80, info,
	    80), BT_OK);
	assert_hex(okm, "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050"
	    "cc4c19afa97c59045a99cac7827271cb41c65e590e09da3275600c2f09b836"
	    "7793a9aca3db71cc30c58179ec3e87c14c01d5c1f3434f1d87");

	memset(ikm, 0x0b, 22);
	ck_assert_int_eq(btcore_hkdf_sha256(okm, 42, NULL, 0, ikm, 22, NULL,
	    0), BT_OK);
	assert_hex(okm, "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec345"
	    "4e5f3c738d2d9d201395faa4b61a96c8");
	/* an empty salt is the same as 32 zero bytes */
	memset(salt, 0, 32);
	ck_assert_int_eq(btcore_hkdf_sha256(okm, 42, salt, 32, ikm, 22, "",
	    0), BT_OK);
	assert_hex(okm, "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec345"
	    "4e5f3c738d2d9d201395faa4b61a96c8");
}
END_TEST

/*
 * Noise's HKDF(ck, ikm, n): temp = HMAC(ck, ikm), o1 = HMAC(temp, 0x01),
 * o2 = HMAC(temp, o1 || 0x02), o3 = HMAC(temp, o2 || 0x03).
 */
static void
noise_hkdf(uint8_t out[96], const uint8_t ck[32], const uint8_t *ikm,
    size_t ikm_len)
{
	uint8_t temp[32], in[33];
	int i;

	ck_assert_int_eq(btcore_hmac_sha256(temp, ck, 32, ikm, ikm_len), BT_OK);
	in[0] = 1;
	ck_assert_int_eq(btcore_hmac_sha256(out, temp, 32, in, 1), BT_OK);
	for (i = 1; i < 3; i++) {
		memcpy(in, out + 32 * (i - 1), 32);
		in[32] = (uint8_t)(i + 1);
		ck_assert_int_eq(btcore_hmac_sha256(out + 32 * i, temp, 32, in,
		    33), BT_OK);
	}
}

START_TEST(hkdf_equals_noise_hkdf)
{
	uint8_t ck[32], ikm[32], want[96], got[96];
	int i;

	for (i = 0; i < 20; i++) {
		ck_assert_int_eq(btcore_random_bytes(ck, 32), BT_OK);
		ck_assert_int_eq(btcore_random_bytes(ikm, 32), BT_OK);
		/* ikm of 32 bytes (a DH result) and empty (Split()) */
		noise_hkdf(want, ck, ikm, i % 2 ? 32 : 0);
		ck_assert_int_eq(btcore_hkdf_sha256(got, 96, ck, 32,
		    i % 2 ? ikm : NULL, i % 2 ? 32 : 0, NULL, 0), BT_OK);
		ck_assert_mem_eq(got, want, 96);
		memset(got, 0, sizeof(got));
		ck_assert_int_eq(btcore_hkdf_sha256(got, 64, ck, 32,
		    ikm, i % 2 ? 32 : 0, NULL, 0), BT_OK);
		ck_assert_mem_eq(got, want, 64);
		ck_assert(all_zero(got + 64, 32));
	}
	/* empty IKM, known answer computed independently */
	memset(ck, 1, 32);
	ck_assert_int_eq(btcore_hkdf_sha256(got, 64, ck, 32, NULL, 0, NULL, 0),
	    BT_OK);
	assert_hex(got, "b5a5789af1d00c74773ef327dc63f0f11c7041252d4916c43a25"
	    "2b92e3358ad272d7e204fba7b0ac19964ebcba5e88e3609cb8c3cafa4b9409"
	    "45df49da83680f");
}
END_TEST

START_TEST(hkdf_limits_and_arguments)
{
	uint8_t *out, ikm[4] = { 1, 2, 3, 4 }, first[100];

	out = malloc(255 * 32 + 1);
	ck_assert_ptr_nonnull(out);
	ck_assert_int_eq(btcore_hkdf_sha256(out, 255 * 32, NULL, 0, ikm, 4,
	    NULL, 0), BT_OK);
	/* a longer output begins with the shorter one */
	ck_assert_int_eq(btcore_hkdf_sha256(first, sizeof(first), NULL, 0, ikm,
	    4, NULL, 0), BT_OK);
	ck_assert_mem_eq(first, out, sizeof(first));
	ck_assert_int_eq(btcore_hkdf_sha256(out, 255 * 32 + 1, NULL, 0, ikm, 4,
	    NULL, 0), BT_ERANGE);
	ck_assert_int_eq(btcore_hkdf_sha256(out, 0, NULL, 0, ikm, 4, NULL, 0),
	    BT_ERANGE);
	ck_assert_int_eq(btcore_hkdf_sha256(NULL, 32, NULL, 0, ikm, 4, NULL,
	    0), BT_EINVAL);
	memset(out, 0xaa, 32);
	ck_assert_int_eq(btcore_hkdf_sha256(out, 32, NULL, 1, ikm, 4, NULL, 0),
	    BT_EINVAL);
	ck_assert(all_zero(out, 32));
	ck_assert_int_eq(btcore_hkdf_sha256(out, 32, NULL, 0, NULL, 4, NULL, 0),
	    BT_EINVAL);
	ck_assert_int_eq(btcore_hkdf_sha256(out, 32, NULL, 0, ikm, 4, NULL, 1),
	    BT_EINVAL);
	free(out);
}
END_TEST

/* ChaCha20-Poly1305 */

static const char sunscreen[] =
    "Ladies and Gentlemen of the class of '99: If I could offer you only "
    "one tip for the future, sunscreen would be it.";
static const char *sunscreen_sealed =
    "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d6"
    "3dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b36"
    "92ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc"
    "3ff4def08e4b7a9de576d26586cec64b6116"
    "1ae10b594f09e26a7e902ecbd0600691";

static void
rfc8439_inputs(uint8_t key[32], uint8_t nonce[12], uint8_t ad[12])
{
	seq(key, 0x80, 32);
	unhex(nonce, "070000004041424344454647", 12);
	unhex(ad, "50515253c0c1c2c3c4c5c6c7", 12);
}

/* RFC 8439 section 2.8.2. */
START_TEST(aead_rfc8439)
{
	uint8_t key[32], nonce[12], ad[12], sealed[114 + 16], plain[114];
	struct btcore_aead *a;
	size_t len = strlen(sunscreen);
	int i;

	ck_assert_uint_eq(len, 114);
	rfc8439_inputs(key, nonce, ad);
	ck_assert_int_eq(btcore_aead_seal(sealed, key, nonce, ad, 12,
	    sunscreen, len), BT_OK);
	assert_hex(sealed, sunscreen_sealed);
	ck_assert_int_eq(btcore_aead_open(plain, key, nonce, ad, 12, sealed,
	    len + 16), BT_OK);
	ck_assert_mem_eq(plain, sunscreen, len);

	/* the context API, reused for several messages in both directions */
	ck_assert_int_eq(btcore_aead_new(&a, key), BT_OK);
	for (i = 0; i < 3; i++) {
		memset(sealed, 0, sizeof(sealed));
		ck_assert_int_eq(btcore_aead_ctx_seal(a, sealed, nonce, ad, 12,
		    sunscreen, len), BT_OK);
		assert_hex(sealed, sunscreen_sealed);
		memset(plain, 0, sizeof(plain));
		ck_assert_int_eq(btcore_aead_ctx_open(a, plain, nonce, ad, 12,
		    sealed, len + 16), BT_OK);
		ck_assert_mem_eq(plain, sunscreen, len);
		/* a failed open leaves the context usable */
		sealed[0] ^= 1;
		ck_assert_int_eq(btcore_aead_ctx_open(a, plain, nonce, ad, 12,
		    sealed, len + 16), BT_EVERIFY);
	}
	btcore_aead_free(a);
	btcore_aead_free(NULL);
}
END_TEST

/* Every length around the block sizes agrees with libsodium's AEAD. */
START_TEST(aead_matches_libsodium)
{
	uint8_t key[32], nonce[12], ad[70], in[300], out[316], ref[316],
	    back[300];
	unsigned long long rlen;
	struct btcore_aead *a;
	size_t len, alen;

	ck_assert_int_ge(sodium_init(), 0);
	ck_assert_int_eq(btcore_random_bytes(key, sizeof(key)), BT_OK);
	ck_assert_int_eq(btcore_random_bytes(in, sizeof(in)), BT_OK);
	ck_assert_int_eq(btcore_random_bytes(ad, sizeof(ad)), BT_OK);
	ck_assert_int_eq(btcore_aead_new(&a, key), BT_OK);
	for (len = 0; len <= sizeof(in); len++) {
		alen = len % sizeof(ad);
		ck_assert_int_eq(btcore_random_bytes(nonce, 12), BT_OK);
		ck_assert_int_eq(btcore_aead_ctx_seal(a, out, nonce, ad, alen,
		    in, len), BT_OK);
		ck_assert_int_eq(crypto_aead_chacha20poly1305_ietf_encrypt(ref,
		    &rlen, in, len, ad, alen, NULL, nonce, key), 0);
		ck_assert_uint_eq(rlen, len + 16);
		ck_assert_mem_eq(out, ref, len + 16);
		ck_assert_int_eq(btcore_aead_ctx_open(a, back, nonce, ad, alen,
		    out, len + 16), BT_OK);
		ck_assert_mem_eq(back, in, len);
	}
	btcore_aead_free(a);
}
END_TEST

START_TEST(aead_tampering_fails)
{
	uint8_t key[32], nonce[12], ad[12], sealed[130], bad[130], out[114];
	size_t bit, len;

	rfc8439_inputs(key, nonce, ad);
	ck_assert_int_eq(btcore_aead_seal(sealed, key, nonce, ad, 12,
	    sunscreen, 114), BT_OK);
	/* every bit of ciphertext and tag */
	for (bit = 0; bit < 8 * sizeof(sealed); bit++) {
		memcpy(bad, sealed, sizeof(bad));
		bad[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		memset(out, 0xaa, sizeof(out));
		ck_assert_int_eq(btcore_aead_open(out, key, nonce, ad, 12, bad,
		    sizeof(bad)), BT_EVERIFY);
		ck_assert(all_zero(out, sizeof(out)));
	}
	/* every bit of the associated data, nonce and key */
	for (bit = 0; bit < 96; bit++) {
		ad[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		ck_assert_int_eq(btcore_aead_open(out, key, nonce, ad, 12,
		    sealed, sizeof(sealed)), BT_EVERIFY);
		ad[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		nonce[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		ck_assert_int_eq(btcore_aead_open(out, key, nonce, ad, 12,
		    sealed, sizeof(sealed)), BT_EVERIFY);
		nonce[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
	for (bit = 0; bit < 256; bit += 7) {
		key[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		ck_assert_int_eq(btcore_aead_open(out, key, nonce, ad, 12,
		    sealed, sizeof(sealed)), BT_EVERIFY);
		key[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
	/* missing or extra associated data */
	ck_assert_int_eq(btcore_aead_open(out, key, nonce, ad, 11, sealed,
	    sizeof(sealed)), BT_EVERIFY);
	ck_assert_int_eq(btcore_aead_open(out, key, nonce, NULL, 0, sealed,
	    sizeof(sealed)), BT_EVERIFY);
	/* every truncation */
	for (len = 16; len < sizeof(sealed); len++)
		ck_assert_int_eq(btcore_aead_open(out, key, nonce, ad, 12,
		    sealed, len), BT_EVERIFY);
	for (len = 0; len < 16; len++)
		ck_assert_int_eq(btcore_aead_open(out, key, nonce, ad, 12,
		    sealed, len), BT_EINVAL);
	/* and it still opens */
	ck_assert_int_eq(btcore_aead_open(out, key, nonce, ad, 12, sealed,
	    sizeof(sealed)), BT_OK);
	ck_assert_mem_eq(out, sunscreen, 114);
}
END_TEST

START_TEST(aead_in_place_and_empty)
{
	uint8_t key[32], nonce[12], ad[12], buf[130], tag[16], out[1];
	struct btcore_aead *a;

	rfc8439_inputs(key, nonce, ad);
	memcpy(buf, sunscreen, 114);
	ck_assert_int_eq(btcore_aead_seal(buf, key, nonce, ad, 12, buf, 114),
	    BT_OK);
	assert_hex(buf, sunscreen_sealed);
	ck_assert_int_eq(btcore_aead_open(buf, key, nonce, ad, 12, buf, 130),
	    BT_OK);
	ck_assert_mem_eq(buf, sunscreen, 114);
	ck_assert_int_eq(btcore_aead_new(&a, key), BT_OK);
	ck_assert_int_eq(btcore_aead_ctx_seal(a, buf, nonce, ad, 12, buf, 114),
	    BT_OK);
	assert_hex(buf, sunscreen_sealed);
	ck_assert_int_eq(btcore_aead_ctx_open(a, buf, nonce, ad, 12, buf, 130),
	    BT_OK);
	ck_assert_mem_eq(buf, sunscreen, 114);

	/* an empty message is a bare tag over the associated data */
	ck_assert_int_eq(btcore_aead_ctx_seal(a, tag, nonce, ad, 12, NULL, 0),
	    BT_OK);
	ck_assert(!all_zero(tag, 16));
	ck_assert_int_eq(btcore_aead_ctx_open(a, out, nonce, ad, 12, tag, 16),
	    BT_OK);
	tag[15] ^= 0x80;
	ck_assert_int_eq(btcore_aead_ctx_open(a, out, nonce, ad, 12, tag, 16),
	    BT_EVERIFY);
	ck_assert_int_eq(btcore_aead_seal(tag, key, nonce, NULL, 0, NULL, 0),
	    BT_OK);
	ck_assert_int_eq(btcore_aead_open(out, key, nonce, NULL, 0, tag, 16),
	    BT_OK);
	btcore_aead_free(a);
}
END_TEST

START_TEST(aead_arguments)
{
	uint8_t key[32] = { 1 }, nonce[12] = { 2 }, buf[64] = { 0 };
	struct btcore_aead *a;

	ck_assert_int_eq(btcore_aead_new(NULL, key), BT_EINVAL);
	a = (struct btcore_aead *)1;
	ck_assert_int_eq(btcore_aead_new(&a, NULL), BT_EINVAL);
	ck_assert_ptr_null(a);
	ck_assert_int_eq(btcore_aead_seal(NULL, key, nonce, NULL, 0, buf, 8),
	    BT_EINVAL);
	ck_assert_int_eq(btcore_aead_seal(buf, NULL, nonce, NULL, 0, buf, 8),
	    BT_EINVAL);
	ck_assert_int_eq(btcore_aead_seal(buf, key, NULL, NULL, 0, buf, 8),
	    BT_EINVAL);
	ck_assert_int_eq(btcore_aead_seal(buf, key, nonce, NULL, 1, buf, 8),
	    BT_EINVAL);
	ck_assert_int_eq(btcore_aead_seal(buf, key, nonce, NULL, 0, NULL, 8),
	    BT_EINVAL);
	ck_assert_int_eq(btcore_aead_open(NULL, key, nonce, NULL, 0, buf, 20),
	    BT_EINVAL);
	ck_assert_int_eq(btcore_aead_open(buf, NULL, nonce, NULL, 0, buf, 20),
	    BT_EINVAL);
	ck_assert_int_eq(btcore_aead_open(buf, key, NULL, NULL, 0, buf, 20),
	    BT_EINVAL);
	ck_assert_int_eq(btcore_aead_open(buf, key, nonce, NULL, 0, NULL, 20),
	    BT_EINVAL);
	ck_assert_int_eq(btcore_aead_ctx_seal(NULL, buf, nonce, NULL, 0, buf,
	    8), BT_EINVAL);
	ck_assert_int_eq(btcore_aead_ctx_open(NULL, buf, nonce, NULL, 0, buf,
	    20), BT_EINVAL);
	ck_assert_int_eq(btcore_aead_new(&a, key), BT_OK);
	ck_assert_int_eq(btcore_aead_ctx_seal(a, buf, NULL, NULL, 0, buf, 8),
	    BT_EINVAL);
	ck_assert_int_eq(btcore_aead_ctx_open(a, buf, nonce, NULL, 0, buf, 15),
	    BT_EINVAL);
#if SIZE_MAX > 0xffffffffu
	/*
	 * Beyond what one nonce may encrypt (2^38 - 64 bytes): refused
	 * before any byte is touched.
	 */
	ck_assert_int_eq(btcore_aead_ctx_seal(a, buf, nonce, NULL, 0, buf,
	    (size_t)1 << 38), BT_ERANGE);
	ck_assert_int_eq(btcore_aead_ctx_open(a, buf, nonce, NULL, 0, buf,
	    ((size_t)1 << 38) + 16), BT_ERANGE);
	ck_assert_int_eq(btcore_aead_seal(buf, key, nonce, NULL, 0, buf,
	    SIZE_MAX), BT_ERANGE);
#endif
	btcore_aead_free(a);
}
END_TEST

Suite *suite_crypto(void);

Suite *
suite_crypto(void)
{
	Suite *s = suite_create("crypto");
	TCase *tc = tcase_create("crypto");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, x25519_rfc7748_vectors);
	tcase_add_test(tc, x25519_rfc7748_dh);
	tcase_add_test(tc, x25519_low_order_refused);
	tcase_add_test(tc, x25519_keypair_and_openssl);
	tcase_add_test(tc, hmac_rfc4231);
	tcase_add_test(tc, hkdf_rfc5869);
	tcase_add_test(tc, hkdf_equals_noise_hkdf);
	tcase_add_test(tc, hkdf_limits_and_arguments);
	tcase_add_test(tc, aead_rfc8439);
	tcase_add_test(tc, aead_matches_libsodium);
	tcase_add_test(tc, aead_tampering_fails);
	tcase_add_test(tc, aead_in_place_and_empty);
	tcase_add_test(tc, aead_arguments);
	suite_add_tcase(s, tc);
	return s;
}
