/*
 * crypto-rates.h - raw X25519 and Ed25519 rates of OpenSSL and libsodium,
 * the crypto bound of a handshake, shared by the libbtnet benchmarks.
 * Each function runs for @p secs seconds; failures end the program.
 */
#ifndef BT_BENCH_CRYPTO_RATES_H
#define BT_BENCH_CRYPTO_RATES_H

#include <stdio.h>
#include <stdlib.h>

#include <openssl/evp.h>
#include <sodium.h>

#include "bench.h"

static void
rates_die(const char *what)
{
	fprintf(stderr, "bench btnet: %s failed\n", what);
	exit(1);
}

static double
raw_x25519_per_s(double secs)
{
	EVP_PKEY *a = NULL, *b = NULL;
	EVP_PKEY_CTX *kg, *dc;
	unsigned char out[32];
	size_t len;
	double t0, t;
	int n = 0;

	kg = EVP_PKEY_CTX_new_id(EVP_PKEY_X25519, NULL);
	if (kg == NULL || EVP_PKEY_keygen_init(kg) != 1 ||
	    EVP_PKEY_keygen(kg, &a) != 1 || EVP_PKEY_keygen(kg, &b) != 1)
		rates_die("x25519 keygen");
	t0 = bench_now();
	do {
		dc = EVP_PKEY_CTX_new(a, NULL);
		len = sizeof(out);
		if (dc == NULL || EVP_PKEY_derive_init(dc) != 1 ||
		    EVP_PKEY_derive_set_peer(dc, b) != 1 ||
		    EVP_PKEY_derive(dc, out, &len) != 1)
			rates_die("x25519 derive");
		EVP_PKEY_CTX_free(dc);
		bench_consume(out);
		n++;
	} while ((t = bench_now() - t0) < secs);
	EVP_PKEY_CTX_free(kg);
	EVP_PKEY_free(a);
	EVP_PKEY_free(b);
	return n / t;
}

static double
sodium_x25519_per_s(double secs)
{
	unsigned char a[32] = { 1 }, b[32] = { 2 }, pb[32], out[32];
	double t0, t;
	int n = 0;

	if (sodium_init() < 0 || crypto_scalarmult_base(pb, b) != 0)
		rates_die("sodium");
	t0 = bench_now();
	do {
		if (crypto_scalarmult(out, a, pb) != 0)
			rates_die("sodium x25519");
		bench_consume(out);
		n++;
	} while ((t = bench_now() - t0) < secs);
	return n / t;
}

static double
sodium_verify_per_s(double secs)
{
	unsigned char pk[32], sk[64], msg[61] = { 1 }, sig[64];
	double t0, t;
	int n = 0;

	if (sodium_init() < 0 || crypto_sign_keypair(pk, sk) != 0 ||
	    crypto_sign_detached(sig, NULL, msg, sizeof(msg), sk) != 0)
		rates_die("sodium sign");
	t0 = bench_now();
	do {
		if (crypto_sign_verify_detached(sig, msg, sizeof(msg), pk) != 0)
			rates_die("sodium verify");
		n++;
	} while ((t = bench_now() - t0) < secs);
	return n / t;
}

static double
raw_ed25519_verify_per_s(double secs)
{
	EVP_PKEY *k = NULL;
	EVP_PKEY_CTX *kg;
	EVP_MD_CTX *md;
	unsigned char msg[61] = { 1 }, sig[64];
	size_t sl = sizeof(sig);
	double t0, t;
	int n = 0;

	kg = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, NULL);
	md = EVP_MD_CTX_new();
	if (kg == NULL || md == NULL || EVP_PKEY_keygen_init(kg) != 1 ||
	    EVP_PKEY_keygen(kg, &k) != 1 ||
	    EVP_DigestSignInit(md, NULL, NULL, NULL, k) != 1 ||
	    EVP_DigestSign(md, sig, &sl, msg, sizeof(msg)) != 1)
		rates_die("ed25519 sign");
	t0 = bench_now();
	do {
		if (EVP_DigestVerifyInit(md, NULL, NULL, NULL, k) != 1 ||
		    EVP_DigestVerify(md, sig, sl, msg, sizeof(msg)) != 1)
			rates_die("ed25519 verify");
		n++;
	} while ((t = bench_now() - t0) < secs);
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(k);
	EVP_PKEY_CTX_free(kg);
	return n / t;
}

#endif /* BT_BENCH_CRYPTO_RATES_H */
