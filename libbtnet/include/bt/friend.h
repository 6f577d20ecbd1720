/*
 * bt/friend.h - friend-to-friend networking over a BlockTree node
 * (bt/net.h): signed peer files to invite a friend by any channel,
 * reconnecting and authenticating on contact, asking common friends where
 * a friend went, and a different set of RPC scopes for each friend.
 *
 * Peer file.  What a node hands a friend (by mail, a QR code, ...):
 *
 *	"BTPF" | u8 version (1) | public key (32) | be64 seq |
 *	be16 alen | address list (alen bytes, the format of bt/net.h;
 *	alen 0: no address) | u8 nvia (0..BTNET_PEERFILE_VIA_MAX) |
 *	nvia * relay node id (32) | signature (64)
 *
 * The signature is Ed25519 by the public key over "BlockTree peer file
 * v1", a NUL, and every byte before it; the node id is the SHA-256 of the
 * key; seq grows with every change (milliseconds of the wall clock when
 * the file was made).  A file without address lists at least one relay
 * ("via"): the node is reached through that relay (bt/relay.h).  At most
 * BTNET_PEERFILE_MAX bytes; nothing may follow the signature.
 *
 * Friends.  A node keeps up to BTNET_FRIENDS_MAX friends, each with its
 * latest peer file.  libbtnet keeps no storage of its own: the owner
 * persists the files (btnet_friend_get(), or the change callback of
 * btnet_friend_setcb()) and the allow-lists it set, and imports them
 * again after opening the node.
 *
 * Contact.  When a connection with a friend comes up, each side sends
 * "friend-hello" with its current peer file; a newer file (higher seq,
 * signed by the friend, for the authenticated node) replaces the one
 * known.  While online, a node contacts every friend it is not connected
 * to: at once after an import, then every retry_ms.  A contact
 * (btnet_friend_contact()) dials the friend's last known addresses with
 * the friend's node id as the expected identity (the Noise handshake
 * authenticates it); when that fails and the friend's file names relays,
 * it tries through them (bt/relay.h); when that fails too, it asks every
 * other friend "where-is" with the friend's id, takes the newest valid
 * peer file among the answers and tries once more.  A node answers
 * "where-is" only to its friends, and only about its friends.
 *
 * Resolution.  btnet_resolve() (and so every call, request and direct
 * connect by node id) asks the friends' addresses after the local cache
 * and before the DHT; a relayed route (bt/relay.h) comes first.
 *
 * Scopes.  Every RPC scope is public (anyone may call it, as bt/net.h
 * describes) or for friends: only friends whose allow-list names it may
 * call it.  A call to a scope the caller may not use is refused with
 * BTNET_ENOSCOPE, exactly as if the scope had no handler, so nobody
 * learns what a node serves to others.  Scopes not given a visibility
 * have the default one, public unless changed with
 * btnet_friend_scope(net, NULL, BTNET_SCOPE_FRIENDS).
 *
 * Callbacks run from the event loop; inside one, any function of this
 * header and of bt/net.h may be called except btnet_close().
 */
#ifndef BT_FRIEND_H
#define BT_FRIEND_H

#include <bt/common.h>
#include <bt/id.h>
#include <bt/key.h>
#include <bt/msg.h>
#include <bt/net.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Largest peer file. */
#define BTNET_PEERFILE_MAX	BTCORE_MSG_PEERFILE_MAX
/** Most relays a peer file names. */
#define BTNET_PEERFILE_VIA_MAX	4
/** Most friends of one node. */
#define BTNET_FRIENDS_MAX	256
/** Most scopes in one friend's allow-list. */
#define BTNET_FRIEND_SCOPES_MAX	32

/** Scope visibility (btnet_friend_scope()). */
#define BTNET_SCOPE_PUBLIC	0
#define BTNET_SCOPE_FRIENDS	1

/** A decoded peer file.  Value type. */
struct btnet_peerfile {
	struct bt_id id;		/* SHA-256 of key */
	struct bt_pubkey key;
	uint64_t seq;
	size_t naddrs;			/* 0 .. BTNET_ADDRS_MAX */
	struct btnet_dht_addr addrs[BTNET_ADDRS_MAX];
	size_t nvia;			/* 0 .. BTNET_PEERFILE_VIA_MAX */
	struct bt_id via[BTNET_PEERFILE_VIA_MAX];
};

/**
 * A friend's peer file changed (imported, or a newer one arrived): the
 * @p len bytes of @p file (borrowed for the call) are what to persist.
 * @p file is NULL when the friend was removed.
 */
typedef void (*btnet_friend_cb)(void *arg, const struct bt_id *id,
    const uint8_t *file, size_t len);

/** The outcome of btnet_friend_contact(): BT_OK (connected and
 *  authenticated), BTNET_EUNREACHABLE, BT_ETIMEDOUT, BT_ECLOSED. */
typedef void (*btnet_friend_contact_cb)(void *arg, int status,
    const struct bt_id *id);

/**
 * Decode and verify a peer file of exactly @p len bytes.
 * @param out	out: the file; zeroed on failure.
 * @return BT_OK; BT_EINVAL (NULL argument); BT_ETRUNC; BT_ETOOBIG (above
 *	   BTNET_PEERFILE_MAX); BT_EFORMAT (magic, version, the address
 *	   list, no address and no relay, too many relays, trailing
 *	   bytes); BT_EVERIFY (the signature).
 * @since 0.1
 */
BT_EXPORT BT_WUR int btnet_friend_decode(const uint8_t *buf, size_t len,
    struct btnet_peerfile *out);

/**
 * Write our current peer file (listening addresses, the relays we are
 * registered with, signed by the node's key) into @p buf of @p cap bytes.
 * @param len	out: its length, or the size needed with BT_ENOSPC.
 * @return BT_OK; BT_EINVAL; BT_ENOSPC; BT_ENOTFOUND (no address and no
 *	   relay to name); BT_ECRYPTO (signing failed).
 * @since 0.1
 */
BT_EXPORT BT_WUR int btnet_friend_export(struct btnet *net, uint8_t *buf,
    size_t cap, size_t *len);

/**
 * Make the node of a peer file (@p len bytes, borrowed) a friend, or
 * update a friend's file when this one is newer.  Its addresses go into
 * the address cache; while online the friend is contacted from the loop.
 * @param id	out, may be NULL: the friend's node id.
 * @return BT_OK; BT_EINVAL (NULL argument; our own file); the errors of
 *	   btnet_friend_decode(); BT_ESTALE (a friend already, with a file
 *	   as new or newer: kept); BT_ENOSPC (BTNET_FRIENDS_MAX friends);
 *	   BT_ENOMEM.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btnet_friend_import(struct btnet *net,
    const uint8_t *buf, size_t len, struct bt_id *id);

/**
 * Forget friend @p id (its allow-list too).
 * @return BT_OK; BT_EINVAL; BT_ENOTFOUND.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btnet_friend_remove(struct btnet *net,
    const struct bt_id *id);

/**
 * Our friends: up to @p max ids into @p out (may be NULL when @p max is
 * 0); returns how many there are.
 * @since 0.1
 */
BT_EXPORT size_t btnet_friend_list(const struct btnet *net, struct bt_id *out,
    size_t max);

/**
 * The latest peer file known of friend @p id, into @p buf of @p cap
 * bytes; its length in @p *len (the size needed with BT_ENOSPC).
 * @return BT_OK; BT_EINVAL; BT_ENOTFOUND (not a friend); BT_ENOSPC.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btnet_friend_get(const struct btnet *net,
    const struct bt_id *id, uint8_t *buf, size_t cap, size_t *len);

/**
 * Replace the allow-list of friend @p id with the @p n scopes of
 * @p scopes (borrowed for the call; n 0 empties it).
 * @return BT_OK; BT_EINVAL (NULL argument, a bad scope); BT_ENOTFOUND
 *	   (not a friend); BT_ERANGE (more than BTNET_FRIEND_SCOPES_MAX);
 *	   BT_ENOMEM.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btnet_friend_allow(struct btnet *net,
    const struct bt_id *id, const char *const *scopes, size_t n);

/**
 * Set the visibility of RPC @p scope (BTNET_SCOPE_PUBLIC or
 * BTNET_SCOPE_FRIENDS), or with @p scope NULL the default of every scope
 * not named.
 * @return BT_OK; BT_EINVAL (NULL net, a bad scope or visibility);
 *	   BT_ENOSPC (256 scopes named); BT_ENOMEM.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btnet_friend_scope(struct btnet *net, const char *scope,
    int visibility);

/**
 * Set the change callback (NULL: none).
 * @since 0.1
 */
BT_EXPORT void btnet_friend_setcb(struct btnet *net, btnet_friend_cb cb,
    void *arg);

/**
 * Reach friend @p id now (see "Contact" above); @p cb runs exactly once,
 * from the loop.  Already connected: BT_OK at once (from the loop).
 * @return BT_OK; BT_EINVAL (NULL argument); BT_ENOTFOUND (not a friend);
 *	   BT_ESTATE (offline); BT_EAGAIN (64 contacts in progress);
 *	   BT_ENOMEM.  On error @p cb is never called.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btnet_friend_contact(struct btnet *net,
    const struct bt_id *id, btnet_friend_contact_cb cb, void *arg);

/**
 * Milliseconds between automatic contacts of a friend not connected
 * (default 60000; 0 turns them off).
 * @since 0.1
 */
BT_EXPORT void btnet_friend_retry(struct btnet *net, uint32_t retry_ms);

#ifdef __cplusplus
}
#endif
#endif /* BT_FRIEND_H */
