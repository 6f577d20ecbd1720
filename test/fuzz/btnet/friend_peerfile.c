/*
 * Fuzz target: peer files (btnet_friend_decode).  A file that decodes
 * must name a node id that hashes its key, hold within-bounds address and
 * relay lists (at least one of the two), and be exactly the bytes its
 * fields encode to, followed by the 64-byte signature.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <bt/friend.h>
#include <bt/key.h>
#include <bt/net.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct btnet_peerfile pf;
	uint8_t back[BTNET_PEERFILE_MAX];
	struct bt_id id;
	size_t pos = 47, alen = 0, i;
	static const uint8_t zero[sizeof(pf)];

	if (btnet_friend_decode(data, size, &pf) != BT_OK) {
		if (memcmp(&pf, zero, sizeof(pf)) != 0)
			abort();
		return 0;
	}
	if (pf.naddrs > BTNET_ADDRS_MAX || pf.nvia > BTNET_PEERFILE_VIA_MAX ||
	    pf.naddrs + pf.nvia == 0 || size > BTNET_PEERFILE_MAX)
		abort();
	if (btcore_pubkey_id(&pf.key, &id) != BT_OK ||
	    memcmp(id.b, pf.id.b, BT_ID_LEN) != 0)
		abort();
	memcpy(back, "BTPF\1", 5);
	memcpy(back + 5, pf.key.b, 32);
	for (i = 0; i < 8; i++)
		back[37 + i] = (uint8_t)(pf.seq >> (56 - 8 * i));
	if (pf.naddrs > 0 && btnet_addrs_encode(pf.addrs, pf.naddrs,
	    back + pos, sizeof(back) - pos, &alen) != BT_OK)
		abort();
	back[45] = (uint8_t)(alen >> 8);
	back[46] = (uint8_t)alen;
	pos += alen;
	back[pos++] = (uint8_t)pf.nvia;
	for (i = 0; i < pf.nvia; i++, pos += 32)
		memcpy(back + pos, pf.via[i].b, 32);
	if (pos + 64 != size || memcmp(back, data, pos) != 0)
		abort();
	return 0;
}
