/*
 * dht-internal.h - the DHT engine's routing table, shared by dht.c,
 * dhtrt.c and the tests; never installed.
 */
#ifndef BTNET_DHT_INTERNAL_H
#define BTNET_DHT_INTERNAL_H

#include <stdint.h>

#include <bt/dht.h>

/* Replacement-cache entries per bucket. */
#define BTNET_RT_REPL	4
/* Failed requests after which a contact is dropped. */
#define BTNET_RT_FAILS	2

struct btnet_rt_contact {
	struct bt_id id;
	struct btnet_dht_addr addr;
	uint64_t last_seen;
	uint8_t fails;
};

struct btnet_rt_bucket {
	uint8_t n, nrep;
	/* oldest first: c[0] is the least recently seen */
	struct btnet_rt_contact c[BT_K];
	/* most recent last */
	struct btnet_rt_contact rep[BTNET_RT_REPL];
};

struct btnet_rt {
	struct bt_id self;
	struct btnet_rt_bucket *b[256];	/* allocated on first use */
	size_t count;
	size_t nbuckets;
	unsigned per_bucket, per_table;
};

/* Outcome of btnet_rt_seen_(). */
enum btnet_rt_seen {
	BTNET_RT_UPDATED = 1,	/* known; refreshed */
	BTNET_RT_INSERTED,	/* added to its bucket */
	BTNET_RT_CACHED,	/* bucket full: in the replacement cache;
				   *ping names the contact to ping */
	BTNET_RT_REFUSED	/* our own id, or over an address limit */
};

void btnet_rt_init_(struct btnet_rt *rt, const struct bt_id *self,
    unsigned per_bucket, unsigned per_table);
void btnet_rt_free_(struct btnet_rt *rt);
/* The bucket index of @p id: the logdist from us; -1 for our own id. */
int btnet_rt_index_(const struct btnet_rt *rt, const struct bt_id *id);
struct btnet_rt_contact *btnet_rt_find_(struct btnet_rt *rt,
    const struct bt_id *id);
/*
 * @p id answered us from @p addr at @p now.  BT_ENOMEM (as a negative
 * value) when a bucket could not be allocated.
 */
int btnet_rt_seen_(struct btnet_rt *rt, const struct bt_id *id,
    const struct btnet_dht_addr *addr, uint64_t now,
    struct btnet_rt_contact *ping);
/*
 * Would a new contact @p id at @p addr be worth a ping: not known, not us,
 * within the address limits.
 */
int btnet_rt_wants_(const struct btnet_rt *rt, const struct bt_id *id,
    const struct btnet_dht_addr *addr);
/*
 * A request to @p id failed; after BTNET_RT_FAILS failures (at once when
 * @p hard) the contact is dropped and the newest replacement that fits
 * the address limits takes its place.  1 when dropped.
 */
int btnet_rt_failed_(struct btnet_rt *rt, const struct bt_id *id, int hard);
/* Up to @p max contacts nearest to @p key, nearest first. */
size_t btnet_rt_closest_(const struct btnet_rt *rt, const struct bt_id *key,
    struct btnet_dht_node *out, size_t max);
/* Contacts nearer to @p key than we are, counting up to @p stop. */
size_t btnet_rt_nearer_(const struct btnet_rt *rt, const struct bt_id *key,
    size_t stop);
/* Same /24 (IPv4) or /48 (IPv6). */
int btnet_rt_same_prefix_(const struct btnet_dht_addr *a,
    const struct btnet_dht_addr *b);

/*
 * btnet_dht_input() for a message that came over a relayed connection
 * (bt/relay.h): @p from is the local end of the relay, not an address of
 * the sender, so it is used only to answer (and to rate-limit and bind
 * write tokens), never learned: the sender does not enter or refresh the
 * routing table, is not pinged there, an answer to one of our requests
 * does not mark the address we asked as alive, and a "welcome" does not
 * tell us our external address.
 */
int btnet_dht_input_relayed_(struct btnet_dht *dht,
    const struct btnet_dht_addr *from, const struct bt_id *from_id,
    const uint8_t *msg, size_t len);

#endif /* BTNET_DHT_INTERNAL_H */
