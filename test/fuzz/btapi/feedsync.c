/*
 * Fuzz target: the decoders of the "feed" scope (bt/apifeed.h) over
 * arbitrary bytes.  The first byte picks the decoder: 0 a request, 1 a
 * "head" reply, 2 an "entries" reply; the rest is the document.  Replies
 * are read as replies for the feed of the key made from the seed 0x61...
 * (the seeds of the corpus carry heads it signed).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <bt/apifeed.h>
#include <bt/feed.h>
#include <bt/key.h>
#include <bt/log.h>
#include <bt/merkle.h>

#include "feedsync-internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct bt_pubkey feed;
static int have_feed;

struct walk {
	uint64_t start, end, prev;
	size_t n;
};

/* Every entry handed out must be what the decoder promised. */
static int
one(void *arg, const struct bt_log_entry *e, const uint8_t *d, size_t len)
{
	struct walk *w = arg;

	if (memcmp(e->head.feed.b, feed.b, 32) != 0 || e->index < w->start ||
	    e->index >= w->end || (w->n > 0 && e->index <= w->prev) ||
	    e->index >= e->head.length || d == NULL ||
	    len > BTSTORE_FEED_PAYLOAD_MAX ||
	    e->proof.kind != BTCORE_MERKLE_INCLUSION ||
	    e->proof.first != e->index || e->proof.size != e->head.length ||
	    (int)e->proof.count != btcore_merkle_inclusion_len(e->index,
	    e->head.length) ||
	    btcore_log_entry_check_payload(e, d, len) != BT_OK)
		abort();
	w->prev = e->index;
	w->n++;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct btapi_fsargs_ a, again;
	struct bt_log_head h;
	struct bt_merkle_proof pr;
	struct btcore_key *k;
	struct walk w;
	uint8_t seed[32];
	size_t n = 0;
	int hasp;

	if (!have_feed) {
		memset(seed, 0x61, sizeof(seed));
		if (btcore_key_from_seed(&k, seed) != BT_OK)
			abort();
		btcore_key_public(k, &feed);
		btcore_key_free(k);
		have_feed = 1;
	}
	if (size < 1)
		return 0;
	switch (data[0] % 3) {
	case 0:
		if (btapi_fsargs_decode_(&a, data + 1, size - 1) != BT_OK)
			break;
		if ((a.op != BTAPI_FSOP_HEAD_ && a.op != BTAPI_FSOP_ENTRIES_) ||
		    (a.op == BTAPI_FSOP_ENTRIES_ &&
		    !(a.has & BTAPI_FSF_FROM_)) ||
		    ((a.has & BTAPI_FSF_MAX_) && a.max == 0) ||
		    btapi_fsargs_decode_(&again, data + 1, size - 1) != BT_OK ||
		    memcmp(&a, &again, sizeof(a)) != 0)
			abort();
		break;
	case 1:
		if (btapi_fshead_decode_(data + 1, size - 1, &feed, &h, &pr,
		    &hasp) != BT_OK)
			break;
		if (btcore_log_head_verify(&h) != BT_OK ||
		    memcmp(h.feed.b, feed.b, 32) != 0 ||
		    (hasp && (pr.kind != BTCORE_MERKLE_CONSISTENCY ||
		    pr.size != h.length || pr.first >= pr.size)))
			abort();
		break;
	default:
		memset(&w, 0, sizeof(w));
		w.end = UINT64_MAX;
		if (btapi_fsentries_decode_(data + 1, size - 1, &feed, w.start,
		    w.end, one, &w, &n) != BT_OK)
			break;
		if (n != w.n || n > BTAPI_FEEDSYNC_ENTRIES_MAX)
			abort();
		break;
	}
	return 0;
}
