/*
 * bt/record.h - signed mutable records: the values of the DHT's
 * namespace-set / namespace-ref.
 *
 * A record is a value stored under (public key, key), signed by that key,
 * with a sequence number: a higher sequence replaces a lower one.  Its
 * place in the DHT, the target id, is
 *
 *	target = SHA-256(public key (32 bytes) || key)
 *
 * The signature covers the domain-separated encoding
 *
 *	"blocktree-record-v1" 0x00 || u8 key length || key || u64 seq ||
 *	value
 *
 * and the binary encoding (integers big-endian) is
 *
 *	u8 'R' | public key (32) | u64 seq | u8 key length | key |
 *	u16 value length | value | signature (64)
 *
 * Keys hold 1..BTCORE_RECORD_KEY_MAX bytes, values 0..BTCORE_RECORD_VALUE_MAX
 * bytes (16 KiB: a record then fits a DHT message with room to spare), so
 * an encoding is at most BTCORE_RECORD_ENC_MAX bytes.
 */
#ifndef BT_RECORD_H
#define BT_RECORD_H

#include <bt/common.h>
#include <bt/id.h>
#include <bt/key.h>

#ifdef __cplusplus
extern "C" {
#endif

#define BTCORE_RECORD_KEY_MAX	64
#define BTCORE_RECORD_VALUE_MAX	(16 * 1024)
#define BTCORE_RECORD_ENC_MAX \
	(1 + 32 + 8 + 1 + BTCORE_RECORD_KEY_MAX + 2 + \
	 BTCORE_RECORD_VALUE_MAX + 64)

/** btcore_record_compare(): the incoming record replaces the stored one. */
#define BTCORE_RECORD_ACCEPT	1
/** btcore_record_compare(): the same record again (refresh its lifetime). */
#define BTCORE_RECORD_REFRESH	2

/**
 * A mutable record.  The key is held inline; the value is borrowed: after
 * btcore_record_decode() it points into the decoded buffer and is valid as
 * long as that buffer is.
 */
struct bt_record {
	struct bt_pubkey pub;
	uint64_t seq;
	uint8_t key_len;
	uint8_t key[BTCORE_RECORD_KEY_MAX];
	uint16_t value_len;
	const uint8_t *value;
	struct bt_sig sig;
};

/**
 * The DHT target id of (@p pub, @p key): SHA-256(pub || key).
 * @param key	in, borrowed: 1..BTCORE_RECORD_KEY_MAX bytes.
 * @return BT_OK, BT_EINVAL (NULL), BT_ERANGE (key length), BT_ECRYPTO.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btcore_record_target(struct bt_id *out,
    const struct bt_pubkey *pub, const void *key, size_t key_len);

/**
 * Fill @p rec for (@p signer's public key, @p key) with @p value and
 * @p seq, and sign it.
 * @param rec	out: the record; its value points at @p value, which must
 *		outlive it.  Zeroed on failure.
 * @param signer in, borrowed: signs for the record's public key.
 * @return BT_OK; BT_EINVAL (NULL); BT_ERANGE (key or value length);
 *	   BT_ENOMEM; or the signer's error.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btcore_record_sign(struct bt_record *rec,
    const struct btcore_signer *signer, const void *key, size_t key_len,
    const void *value, size_t value_len, uint64_t seq);

/**
 * Check the signature of @p rec and the bounds of its fields.
 * @return BT_OK, BT_EINVAL (NULL), BT_ERANGE (lengths), BT_EVERIFY,
 *	   BT_ENOMEM.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btcore_record_verify(const struct bt_record *rec);

/**
 * Encode @p rec into @p buf of @p cap bytes; @p *out_len receives the
 * length needed (also when @p cap is too small).  The signature is not
 * checked here.
 * @return BT_OK, BT_EINVAL (NULL, bad lengths), BT_ERANGE (cap too small).
 * @since 0.1
 */
BT_EXPORT BT_WUR int btcore_record_encode(const struct bt_record *rec,
    uint8_t *buf, size_t cap, size_t *out_len);

/**
 * Decode exactly @p len bytes and verify the signature.
 * @param out	out: the record; out->value points into @p buf (borrowed,
 *		valid while @p buf is).  Zeroed on failure.
 * @return BT_OK; BT_EINVAL (NULL); BT_ETRUNC (input ends early);
 *	   BT_EFORMAT (wrong tag, key length 0 or above the maximum, value
 *	   length above the maximum, trailing bytes); BT_EVERIFY (bad
 *	   signature); BT_ENOMEM.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btcore_record_decode(struct bt_record *out,
    const uint8_t *buf, size_t len);

/**
 * The sequence rules of namespace-set: may @p incoming replace @p stored?
 * Both must be for the same (public key, key); signatures are not checked
 * here (records come from btcore_record_decode() or a local signer).
 * @return BTCORE_RECORD_ACCEPT when incoming has the higher sequence;
 *	   BTCORE_RECORD_REFRESH when the sequences and values are equal;
 *	   BT_ESTALE when incoming has the lower sequence;
 *	   BT_ECONFLICT when the sequences are equal and the values differ
 *	   (the signer published two values under one sequence);
 *	   BT_EINVAL for NULL or records of different (public key, key).
 * @since 0.1
 */
BT_EXPORT BT_WUR int btcore_record_compare(const struct bt_record *incoming,
    const struct bt_record *stored);

#ifdef __cplusplus
}
#endif
#endif /* BT_RECORD_H */
