/*
 * bt/pubsub.h - publish and subscribe over a BlockTree node (bt/net.h):
 * channels named by a 32-byte id, a small mesh of subscribers per
 * channel, signed messages flooded through the mesh.
 *
 * Rendezvous.  A subscriber adds its node id to the DHT bag whose key is
 * the channel id (bt/dht.h, btnet_dht_bag_add()), and queries the bag's
 * most recent values for other subscribers.  It does both when it joins,
 * then every fast_ms while its mesh has fewer than "mesh" peers, and
 * every refresh_ms afterwards (the bag entries expire in the DHT, so
 * refreshing keeps them).
 *
 * Mesh.  A subscriber asks candidates, in an order that is a hash of both
 * node ids (so that meshes differ from node to node, yet every run is
 * the same), to join its mesh with "pubsub-graft"; a subscriber of the
 * channel accepts while its mesh holds fewer than mesh_max peers.  Both
 * sides then count each other as mesh peers until one sends
 * "pubsub-prune" (btnet_pubsub_leave()) or the last connection between
 * them ends.  Every refresh grafts the mesh peers again, which keeps the
 * connections in use.
 *
 * Messages.  A message carries the channel id, the sender's Ed25519 key,
 * a sequence number (strictly increasing per node: it starts from the
 * wall clock in microseconds when the node opens), the payload, a hop
 * count, its message id and a signature:
 *
 *	id  = SHA-256("BlockTree pubsub id v1" || channel || key || be64 seq)
 *	sig = Ed25519(key, "BlockTree pubsub v1" || NUL || channel ||
 *		      be64 seq || payload)
 *
 * A node delivers a message at most once: it drops messages whose id it
 * has seen (a bounded cache of the last "seen" ids), whose id does not
 * match, whose signature does not verify (these are not remembered, so a
 * forgery cannot shadow the real message), whose hop count passes "ttl",
 * and messages of channels it has not joined.  It forwards a new message
 * to each mesh peer except the one it came from, with the hop count plus
 * one, while that stays within "ttl"; then it calls the channel's
 * callback.  The sender does not receive its own messages.
 *
 * Callbacks run from the event loop; inside one, any function of this
 * header and of bt/net.h may be called except btnet_close().
 */
#ifndef BT_PUBSUB_H
#define BT_PUBSUB_H

#include <bt/common.h>
#include <bt/id.h>
#include <bt/net.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Largest payload of one message. */
#define BTNET_PUBSUB_PAYLOAD_MAX	(256u * 1024)
/** Most channels joined at once by one node. */
#define BTNET_PUBSUB_CHANNELS_MAX	64
/** Most mesh peers per channel (the largest mesh_max). */
#define BTNET_PUBSUB_MESH_MAX		32
/** Largest hop limit. */
#define BTNET_PUBSUB_TTL_MAX		255

/** Settings; fill with btnet_pubsub_config_init() first. */
struct btnet_pubsub_config {
	unsigned mesh;		/* mesh peers sought (6) */
	unsigned mesh_max;	/* mesh peers accepted (12), >= mesh */
	unsigned ttl;		/* hop limit (16), 1..BTNET_PUBSUB_TTL_MAX */
	uint32_t fast_ms;	/* refresh while the mesh is short (1000) */
	uint32_t refresh_ms;	/* refresh otherwise (30000) */
	uint32_t seen;		/* message ids remembered (4096),
				   16..1048576 */
};

/**
 * A message of @p len bytes (@p data, borrowed for the call) published
 * on @p channel by node @p from (the SHA-256 of the signing key).
 */
typedef void (*btnet_pubsub_cb)(void *arg, const struct bt_id *channel,
    const struct bt_id *from, const uint8_t *data, size_t len);

/**
 * Fill @p cfg with the defaults shown in struct btnet_pubsub_config.
 * @since 0.1
 */
BT_EXPORT void btnet_pubsub_config_init(struct btnet_pubsub_config *cfg);

/**
 * Change the settings of @p net (borrowed for the call).  A smaller
 * "seen" forgets the message ids remembered so far.
 * @return BT_OK; BT_EINVAL (NULL argument); BT_ERANGE (mesh 0 or above
 *	   mesh_max, mesh_max above BTNET_PUBSUB_MESH_MAX, ttl or seen out
 *	   of range, a zero interval); BT_ENOMEM.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btnet_pubsub_configure(struct btnet *net,
    const struct btnet_pubsub_config *cfg);

/**
 * Join @p channel: deliver its messages to @p cb, announce ourselves in
 * the channel's DHT bag and build a mesh (see above).  Joining a channel
 * already joined replaces its callback.
 * @return BT_OK; BT_EINVAL (NULL argument); BT_ENOSPC
 *	   (BTNET_PUBSUB_CHANNELS_MAX channels joined); BT_ENOMEM.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btnet_pubsub_join(struct btnet *net,
    const struct bt_id *channel, btnet_pubsub_cb cb, void *arg);

/**
 * Sign @p len bytes of @p data (borrowed) as the next message of this
 * node and send it to every mesh peer of @p channel.  A channel without
 * mesh peers yet is not an error: the message reaches nobody.
 * @return BT_OK; BT_EINVAL (NULL argument, NULL data with len > 0);
 *	   BT_ENOTFOUND (channel not joined); BT_ETOOBIG (above
 *	   BTNET_PUBSUB_PAYLOAD_MAX); BT_ESTATE (offline); BT_ECRYPTO
 *	   (signing failed); BT_ENOMEM.
 * @since 0.1
 */
BT_EXPORT BT_WUR int btnet_pubsub_publish(struct btnet *net,
    const struct bt_id *channel, const uint8_t *data, size_t len);

/**
 * Leave @p channel: tell the mesh peers, stop delivering its messages
 * (also from inside its callback) and forget it.  The bag entry expires
 * in the DHT.  No-op for a channel not joined.
 * @since 0.1
 */
BT_EXPORT void btnet_pubsub_leave(struct btnet *net,
    const struct bt_id *channel);

/**
 * The mesh peers of @p channel: up to @p max ids into @p out (may be
 * NULL when @p max is 0); returns how many there are (0 when the
 * channel is not joined).
 * @since 0.1
 */
BT_EXPORT size_t btnet_pubsub_peers(const struct btnet *net,
    const struct bt_id *channel, struct bt_id *out, size_t max);

#ifdef __cplusplus
}
#endif
#endif /* BT_PUBSUB_H */
