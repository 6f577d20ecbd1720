/*
 * repl-internal.h - the decoders of the "node" scope's ops "root" and
 * "blocks" (replicate.c), shared with the fuzz target.
 */
#ifndef BTAPI_REPL_INTERNAL_H
#define BTAPI_REPL_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <bt/key.h>

/* ids a "blocks" call asks for, at most */
#define BTAPI_REPL_IDS_MAX	64

/* {op: "root", ns}: the namespace.  BT_OK or BT_EFORMAT. */
int btapi_repl_root_args_(const uint8_t *doc, size_t len,
    struct bt_pubkey *ns);

/* {op: "blocks", ids}: @p *ids points into @p doc, @p *n ids of 32 bytes.
 * BT_OK, BT_EFORMAT, BT_ETOOBIG (more than BTAPI_REPL_IDS_MAX). */
int btapi_repl_blocks_args_(const uint8_t *doc, size_t len,
    const uint8_t **ids, size_t *n);

/* The reply to "root": the record's encoding (pointing into @p doc),
 * decoded and verified into @p rec, and for namespace @p ns.  BT_OK,
 * BT_EPROTO (malformed, or another namespace's), BT_EVERIFY. */
struct bt_record;
int btapi_repl_root_reply_(const uint8_t *doc, size_t len,
    const struct bt_pubkey *ns, struct bt_record *rec,
    const uint8_t **enc, size_t *enc_len);

/* The reply to "blocks" for @p asked ids: data[i] (pointing into @p doc)
 * and dlen[i] for the first @p *n ids, data[i] NULL where the node does
 * not hold the block.  BT_OK or BT_EPROTO. */
int btapi_repl_blocks_reply_(const uint8_t *doc, size_t len, size_t asked,
    const uint8_t **data, uint32_t *dlen, size_t *n);

#endif /* BTAPI_REPL_INTERNAL_H */
