/*
 * friend.c - friends (bt/friend.h): peer files, the friend list and its
 * allow-lists, "friend-hello" on contact, "where-is" among friends, the
 * friends' resolution source and the scope policy in front of "rpc".
 */
#include <bt/friend.h>
#include <bt/hash.h>
#include <bt/key.h>
#include <bt/msg.h>
#include <bt/net.h>
#include <bt/relay.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "btnet-internal.h"
#include "net-internal.h"

#define FR_MAGIC	"BTPF"
#define FR_VERSION	1
#define FR_HEAD		(4 + 1 + 32 + 8 + 2)
#define FR_SIG		64
#define FR_SCOPES_MAX	256
#define FR_CONTACTS_MAX	64
#define FR_ASK_MAX	8	/* friends asked "where-is" at once */
#define FR_TICK_MS	1000

static const char sig_domain[] = "BlockTree peer file v1";	/* + NUL */

struct fr_friend {
	struct fr_friend *next;
	struct btnet_peerfile pf;
	uint8_t file[BTNET_PEERFILE_MAX];
	size_t flen;
	char (*scopes)[BTNET_SCOPE_MAX + 1];
	size_t nscopes;
	uint64_t next_try;
	int hello_due;
};

struct fr_scope {
	char name[BTNET_SCOPE_MAX + 1];
	int vis;
};

#define C_HELLO		1	/* friend-hello to the known addresses */
#define C_VIA		2	/* the same through a relay of the file */
#define C_WHERE		3	/* asking other friends */
#define C_AGAIN		4	/* friend-hello to the address learned */

struct fr_contact {
	struct fr_contact *prev, *next;
	struct btnet *net;
	struct bt_id id;
	int step;
	size_t via;			/* next relay of the file to try */
	int asked, answers;		/* where-is requests, replies */
	int found;			/* a newer file arrived */
	int status;			/* to report from the loop */
	struct event *now;
	btnet_friend_contact_cb cb;
	void *arg;
};

/* A where-is request, by id: the contact may be gone when it ends. */
struct fr_ask {
	struct btnet *net;
	struct fr_contact *c;		/* NULL once the contact ended */
};

struct net_friends {
	struct btnet *net;
	struct fr_friend *list;
	size_t n;
	struct fr_scope *scopes;
	size_t nscopes;
	int default_vis;
	btnet_op_fn_ rpc_fn;		/* the "rpc" handler we stand before */
	void *rpc_arg;
	btnet_friend_cb cb;
	void *cb_arg;
	uint32_t retry_ms;
	struct event *tick;
	struct fr_contact *contacts;
	size_t ncontacts;
	/* our last file */
	uint8_t mine[BTNET_PEERFILE_MAX];
	size_t mine_len, mine_body;	/* bytes; bytes before seq's end */
	uint64_t mine_seq;
	/* counters, for tests */
	uint64_t where_asked, where_found, refused;
};

static void contact_step(struct btnet *net, struct fr_contact *c);

/* ---- helpers ---------------------------------------------------------- */

static uint64_t
wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void
put_be64(uint8_t *p, uint64_t v)
{
	btnet_put_be32_(p, (uint32_t)(v >> 32));
	btnet_put_be32_(p + 4, (uint32_t)v);
}

static uint64_t
get_be64(const uint8_t *p)
{
	return (uint64_t)btnet_get_be32_(p) << 32 | btnet_get_be32_(p + 4);
}

static int
id_eq(const struct bt_id *a, const struct bt_id *b)
{
	return memcmp(a->b, b->b, BT_ID_LEN) == 0;
}

static struct fr_friend *
fr_find(const struct net_friends *fr, const struct bt_id *id)
{
	struct fr_friend *f;

	if (fr == NULL)
		return NULL;
	for (f = fr->list; f != NULL; f = f->next)
		if (id_eq(&f->pf.id, id))
			return f;
	return NULL;
}

/* The signed prefix: domain, NUL, the file up to the signature. */
static int
file_verify_or_sign(const uint8_t *body, size_t blen,
    const struct bt_pubkey *key, const struct btcore_signer *signer,
    struct bt_sig *sig)
{
	uint8_t buf[sizeof(sig_domain) + BTNET_PEERFILE_MAX];
	int rc;

	if (blen > BTNET_PEERFILE_MAX)
		return BT_ETOOBIG;
	memcpy(buf, sig_domain, sizeof(sig_domain));
	memcpy(buf + sizeof(sig_domain), body, blen);
	if (signer != NULL)
		rc = btcore_signer_sign(signer, buf, sizeof(sig_domain) + blen,
		    sig);
	else
		rc = btcore_sig_verify(key, buf, sizeof(sig_domain) + blen,
		    sig);
	btcore_wipe(buf, sizeof(buf));
	return rc;
}

/* ---- the peer file ------------------------------------------------------ */

int
btnet_friend_decode(const uint8_t *buf, size_t len, struct btnet_peerfile *out)
{
	struct bt_sig sig;
	size_t alen, pos, i, nvia;
	int rc = BT_EFORMAT;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (buf == NULL || out == NULL)
		return BT_EINVAL;
	if (len > BTNET_PEERFILE_MAX)
		return BT_ETOOBIG;
	if (len < FR_HEAD)
		return len < 4 || memcmp(buf, FR_MAGIC, 4) == 0 ? BT_ETRUNC :
		    BT_EFORMAT;
	if (memcmp(buf, FR_MAGIC, 4) != 0 || buf[4] != FR_VERSION)
		goto fail;
	memcpy(out->key.b, buf + 5, 32);
	out->seq = get_be64(buf + 37);
	alen = btnet_get_be16_(buf + 45);
	pos = FR_HEAD;
	if (len - pos < alen) {
		rc = BT_ETRUNC;
		goto fail;
	}
	if (alen > 0) {
		rc = btnet_addrs_decode(buf + pos, alen, out->addrs,
		    &out->naddrs);
		if (rc != BT_OK) {
			rc = BT_EFORMAT;
			goto fail;
		}
		rc = BT_EFORMAT;
	}
	pos += alen;
	if (pos >= len) {
		rc = BT_ETRUNC;
		goto fail;
	}
	nvia = buf[pos++];
	if (nvia > BTNET_PEERFILE_VIA_MAX || (nvia == 0 && alen == 0))
		goto fail;
	if (len - pos < nvia * 32 + FR_SIG) {
		rc = BT_ETRUNC;
		goto fail;
	}
	for (i = 0; i < nvia; i++, pos += 32)
		memcpy(out->via[i].b, buf + pos, 32);
	out->nvia = nvia;
	if (len - pos != FR_SIG)
		goto fail;
	memcpy(sig.b, buf + pos, FR_SIG);
	if (file_verify_or_sign(buf, pos, &out->key, NULL, &sig) != BT_OK) {
		rc = BT_EVERIFY;
		goto fail;
	}
	if ((rc = btcore_pubkey_id(&out->key, &out->id)) != BT_OK)
		goto fail;
	return BT_OK;
fail:
	memset(out, 0, sizeof(*out));
	return rc;
}

/* Our addresses (as resolve.c publishes them) and relays. */
static int
make_body(struct btnet *net, uint8_t *buf, size_t *blen, size_t *seqpos)
{
	static const uint8_t any[16];
	struct btnet_dht_addr addrs[BTNET_LISTEN_MAX];
	struct btnet_dht_stats ds;
	struct bt_id via[BTNET_PEERFILE_VIA_MAX];
	size_t i, n = 0, alen = 0, nvia, pos;
	int rc;

	btnet_dht_stats(net->dht, &ds);
	for (i = 0; i < net->cfg.nlisten; i++) {
		if (btnet_addr_parse_(net->listen_addr[i], &addrs[n]) != BT_OK)
			continue;
		if (memcmp(addrs[n].ip, any, addrs[n].family == 4 ? 4 : 16)
		    == 0) {
			if (!ds.has_external ||
			    ds.external.family != addrs[n].family)
				continue;
			memcpy(addrs[n].ip, ds.external.ip, 16);
		}
		n++;
	}
	nvia = btnet_relay_registered_(net, via, BTNET_PEERFILE_VIA_MAX);
	if (n == 0 && nvia == 0)
		return BT_ENOTFOUND;
	memcpy(buf, FR_MAGIC, 4);
	buf[4] = FR_VERSION;
	memcpy(buf + 5, net->signer->pub.b, 32);
	*seqpos = 37;
	pos = FR_HEAD;
	if (n > 0 && (rc = btnet_addrs_encode(addrs, n, buf + pos,
	    BTNET_PEERFILE_MAX - pos, &alen)) != BT_OK)
		return rc;
	btnet_put_be16_(buf + 45, (uint16_t)alen);
	pos += alen;
	buf[pos++] = (uint8_t)nvia;
	for (i = 0; i < nvia; i++, pos += 32)
		memcpy(buf + pos, via[i].b, 32);
	*blen = pos;
	return BT_OK;
}

/* Refresh our signed file; a new seq only when the content changed. */
static int
make_mine(struct btnet *net)
{
	struct net_friends *fr = net->friends;
	uint8_t body[BTNET_PEERFILE_MAX];
	struct bt_sig sig;
	size_t blen = 0, seqpos = 0;
	uint64_t seq;
	int rc;

	memset(body, 0, sizeof(body));
	if ((rc = make_body(net, body, &blen, &seqpos)) != BT_OK)
		return rc;
	if (fr->mine_len > 0 && fr->mine_body == blen &&
	    memcmp(fr->mine, body, seqpos) == 0 &&
	    memcmp(fr->mine + seqpos + 8, body + seqpos + 8,
	    blen - seqpos - 8) == 0)
		return BT_OK;
	seq = wall_ms();
	if (seq <= fr->mine_seq)
		seq = fr->mine_seq + 1;
	put_be64(body + seqpos, seq);
	if ((rc = file_verify_or_sign(body, blen, NULL, net->signer, &sig)) !=
	    BT_OK)
		return rc == BT_EINVAL ? BT_ECRYPTO : rc;
	memcpy(fr->mine, body, blen);
	memcpy(fr->mine + blen, sig.b, FR_SIG);
	fr->mine_len = blen + FR_SIG;
	fr->mine_body = blen;
	fr->mine_seq = seq;
	return BT_OK;
}

int
btnet_friend_export(struct btnet *net, uint8_t *buf, size_t cap, size_t *len)
{
	struct net_friends *fr;
	int rc;

	if (len != NULL)
		*len = 0;
	if (net == NULL || len == NULL || (buf == NULL && cap > 0) ||
	    (fr = net->friends) == NULL)
		return BT_EINVAL;
	if ((rc = make_mine(net)) != BT_OK)
		return rc;
	*len = fr->mine_len;
	if (cap < fr->mine_len)
		return BT_ENOSPC;
	memcpy(buf, fr->mine, fr->mine_len);
	return BT_OK;
}

/* ---- the list ------------------------------------------------------------ */

static void
cache_addrs(struct btnet *net, const struct btnet_peerfile *pf)
{
	size_t i;

	/* the first address ends up first */
	for (i = pf->naddrs; i > 0; i--)
		btnet_cache_put_(net, &pf->id, &pf->addrs[i - 1], &pf->key);
}

/* Take @p file (decoded into @p pf) for friend @p f when newer. */
static int
fr_update(struct btnet *net, struct fr_friend *f,
    const struct btnet_peerfile *pf, const uint8_t *file, size_t len)
{
	struct net_friends *fr = net->friends;
	struct bt_id id;

	if (pf->seq <= f->pf.seq)
		return BT_ESTALE;
	f->pf = *pf;
	memcpy(f->file, file, len);
	f->flen = len;
	cache_addrs(net, pf);
	if (fr->cb != NULL) {
		id = pf->id;
		fr->cb(fr->cb_arg, &id, f->file, f->flen);
	}
	return BT_OK;
}

int
btnet_friend_import(struct btnet *net, const uint8_t *buf, size_t len,
    struct bt_id *id)
{
	struct net_friends *fr;
	struct btnet_peerfile pf;
	struct fr_friend *f;
	int rc;

	if (id != NULL)
		memset(id, 0, sizeof(*id));
	if (net == NULL || buf == NULL || (fr = net->friends) == NULL)
		return BT_EINVAL;
	if ((rc = btnet_friend_decode(buf, len, &pf)) != BT_OK)
		return rc;
	if (id_eq(&pf.id, &net->self))
		return BT_EINVAL;
	if (id != NULL)
		*id = pf.id;
	if ((f = fr_find(fr, &pf.id)) != NULL)
		return fr_update(net, f, &pf, buf, len);
	if (fr->n >= BTNET_FRIENDS_MAX)
		return BT_ENOSPC;
	if ((f = calloc(1, sizeof(*f))) == NULL)
		return BT_ENOMEM;
	f->pf.id = pf.id;
	f->next = fr->list;
	fr->list = f;
	fr->n++;
	(void)fr_update(net, f, &pf, buf, len);
	f->next_try = 0;		/* contact at the next tick */
	return BT_OK;
}

static void
fr_free(struct fr_friend *f)
{
	free(f->scopes);
	free(f);
}

int
btnet_friend_remove(struct btnet *net, const struct bt_id *id)
{
	struct net_friends *fr;
	struct fr_friend **fp, *f;
	struct bt_id gone;

	if (net == NULL || id == NULL || (fr = net->friends) == NULL)
		return BT_EINVAL;
	for (fp = &fr->list; *fp != NULL; fp = &(*fp)->next)
		if (id_eq(&(*fp)->pf.id, id))
			break;
	if ((f = *fp) == NULL)
		return BT_ENOTFOUND;
	*fp = f->next;
	fr->n--;
	gone = f->pf.id;
	fr_free(f);
	if (fr->cb != NULL)
		fr->cb(fr->cb_arg, &gone, NULL, 0);
	return BT_OK;
}

size_t
btnet_friend_list(const struct btnet *net, struct bt_id *out, size_t max)
{
	const struct fr_friend *f;
	size_t n = 0;

	if (net == NULL || net->friends == NULL)
		return 0;
	for (f = net->friends->list; f != NULL; f = f->next, n++)
		if (out != NULL && n < max)
			out[n] = f->pf.id;
	return n;
}

int
btnet_friend_get(const struct btnet *net, const struct bt_id *id,
    uint8_t *buf, size_t cap, size_t *len)
{
	const struct fr_friend *f;

	if (len != NULL)
		*len = 0;
	if (net == NULL || id == NULL || len == NULL ||
	    (buf == NULL && cap > 0))
		return BT_EINVAL;
	if ((f = fr_find(net->friends, id)) == NULL)
		return BT_ENOTFOUND;
	*len = f->flen;
	if (cap < f->flen)
		return BT_ENOSPC;
	memcpy(buf, f->file, f->flen);
	return BT_OK;
}

int
btnet_friend_allow(struct btnet *net, const struct bt_id *id,
    const char *const *scopes, size_t n)
{
	char (*list)[BTNET_SCOPE_MAX + 1] = NULL;
	struct fr_friend *f;
	size_t i, len;

	if (net == NULL || id == NULL || (scopes == NULL && n > 0))
		return BT_EINVAL;
	if ((f = fr_find(net->friends, id)) == NULL)
		return BT_ENOTFOUND;
	if (n > BTNET_FRIEND_SCOPES_MAX)
		return BT_ERANGE;
	for (i = 0; i < n; i++)
		if (scopes[i] == NULL ||
		    !btnet_scope_ok_(scopes[i], strlen(scopes[i])))
			return BT_EINVAL;
	if (n > 0 && (list = calloc(n, sizeof(*list))) == NULL)
		return BT_ENOMEM;
	for (i = 0; i < n; i++) {
		len = strlen(scopes[i]);
		memcpy(list[i], scopes[i], len + 1);
	}
	free(f->scopes);
	f->scopes = list;
	f->nscopes = n;
	return BT_OK;
}

int
btnet_friend_scope(struct btnet *net, const char *scope, int visibility)
{
	struct net_friends *fr;
	struct fr_scope *s;
	size_t i, len;

	if (net == NULL || (fr = net->friends) == NULL ||
	    (visibility != BTNET_SCOPE_PUBLIC &&
	    visibility != BTNET_SCOPE_FRIENDS))
		return BT_EINVAL;
	if (scope == NULL) {
		fr->default_vis = visibility;
		return BT_OK;
	}
	len = strlen(scope);
	if (!btnet_scope_ok_(scope, len))
		return BT_EINVAL;
	for (i = 0; i < fr->nscopes; i++)
		if (strcmp(fr->scopes[i].name, scope) == 0) {
			fr->scopes[i].vis = visibility;
			return BT_OK;
		}
	if (fr->nscopes >= FR_SCOPES_MAX)
		return BT_ENOSPC;
	if (fr->scopes == NULL &&
	    (fr->scopes = calloc(FR_SCOPES_MAX, sizeof(*s))) == NULL)
		return BT_ENOMEM;
	s = &fr->scopes[fr->nscopes++];
	memcpy(s->name, scope, len + 1);
	s->vis = visibility;
	return BT_OK;
}

void
btnet_friend_setcb(struct btnet *net, btnet_friend_cb cb, void *arg)
{
	if (net == NULL || net->friends == NULL)
		return;
	net->friends->cb = cb;
	net->friends->cb_arg = arg;
}

void
btnet_friend_retry(struct btnet *net, uint32_t retry_ms)
{
	if (net == NULL || net->friends == NULL)
		return;
	net->friends->retry_ms = retry_ms;
}

/* ---- the scope policy ------------------------------------------------- */

/* 1 when @p from may call @p scope (@p len bytes). */
static int
may_call(const struct net_friends *fr, const struct bt_id *from,
    const char *scope, size_t len)
{
	const struct fr_friend *f;
	int vis = fr->default_vis;
	size_t i;

	for (i = 0; i < fr->nscopes; i++)
		if (strlen(fr->scopes[i].name) == len &&
		    memcmp(fr->scopes[i].name, scope, len) == 0) {
			vis = fr->scopes[i].vis;
			break;
		}
	if (vis == BTNET_SCOPE_PUBLIC)
		return 1;
	if ((f = fr_find(fr, from)) == NULL)
		return 0;
	for (i = 0; i < f->nscopes; i++)
		if (strlen(f->scopes[i]) == len &&
		    memcmp(f->scopes[i], scope, len) == 0)
			return 1;
	return 0;
}

static int
send_error(struct btnet *net, const struct bt_id *to, int64_t tid, int code,
    const char *text)
{
	struct btcore_msg *m = NULL;
	int rc;

	if ((rc = btcore_msg_new(&m, BTCORE_MSG_ERROR, tid)) != BT_OK)
		return rc;
	if ((rc = btcore_msg_set_int64(m, BTCORE_MSG_F_CODE, code)) == BT_OK &&
	    (rc = btcore_msg_set_str(m, BTCORE_MSG_F_TEXT, text,
	    strlen(text))) == BT_OK)
		rc = btnet_send_msg_(net, to, m);
	btcore_msg_free(m);
	return rc;
}

static int
on_rpc(struct btnet *net, void *arg, struct net_conn *nc,
    const struct btcore_msg *m, const uint8_t *raw, size_t len)
{
	struct net_friends *fr = arg;
	struct bt_id from = nc->peer->id;
	const char *scope;
	size_t slen;

	if (btcore_msg_get_str(m, BTCORE_MSG_F_SCOPE, &scope, &slen) != BT_OK)
		return BT_EFORMAT;
	if (!may_call(fr, &from, scope, slen)) {
		fr->refused++;
		/* the very answer of a scope without handler */
		return send_error(net, &from, btcore_msg_tid(m),
		    BTNET_ENOSCOPE, "no handler for this scope");
	}
	return fr->rpc_fn != NULL ? fr->rpc_fn(net, fr->rpc_arg, nc, m, raw,
	    len) : BT_ENOTFOUND;
}

/* ---- friend-hello and where-is ------------------------------------------ */

/* A peer file that came from (or about) friend @p want. */
static void
take_file(struct btnet *net, const struct bt_id *want,
    const struct btcore_msg *m, int *newer)
{
	struct btnet_peerfile pf;
	struct fr_friend *f;
	const uint8_t *v;
	size_t vlen;

	if (newer != NULL)
		*newer = 0;
	if (btcore_msg_get_bin(m, BTCORE_MSG_F_VALUE, &v, &vlen) != BT_OK ||
	    btnet_friend_decode(v, vlen, &pf) != BT_OK ||
	    !id_eq(&pf.id, want) || (f = fr_find(net->friends, want)) == NULL)
		return;
	if (fr_update(net, f, &pf, v, vlen) == BT_OK && newer != NULL)
		*newer = 1;
}

static int
build_file_msg(struct btnet *net, enum btcore_msg_type type, int64_t tid,
    struct btcore_msg **out)
{
	struct net_friends *fr = net->friends;
	int rc;

	*out = NULL;
	if ((rc = make_mine(net)) != BT_OK)
		return rc;
	if ((rc = btcore_msg_new(out, type, tid)) != BT_OK)
		return rc;
	if ((rc = btcore_msg_set_bin(*out, BTCORE_MSG_F_VALUE, fr->mine,
	    fr->mine_len)) != BT_OK) {
		btcore_msg_free(*out);
		*out = NULL;
	}
	return rc;
}

static int
on_hello(struct btnet *net, void *arg, struct net_conn *nc,
    const struct btcore_msg *m, const uint8_t *raw, size_t len)
{
	struct net_friends *fr = arg;
	struct btcore_msg *rep = NULL;
	struct bt_id from = nc->peer->id;
	int rc;

	(void)raw;
	(void)len;
	if (fr_find(fr, &from) == NULL) {
		fr->refused++;
		return send_error(net, &from, btcore_msg_tid(m), BT_EPERM,
		    "not a friend");
	}
	take_file(net, &from, m, NULL);
	if ((rc = build_file_msg(net, BTCORE_MSG_FRIEND_HELLO_REP,
	    btcore_msg_tid(m), &rep)) == BT_OK)
		rc = btnet_send_msg_(net, &from, rep);
	btcore_msg_free(rep);
	return rc;
}

static int
on_where(struct btnet *net, void *arg, struct net_conn *nc,
    const struct btcore_msg *m, const uint8_t *raw, size_t len)
{
	struct net_friends *fr = arg;
	struct btcore_msg *rep = NULL;
	struct bt_id from = nc->peer->id, want;
	struct fr_friend *f;
	const uint8_t *v;
	size_t vlen;
	int rc;

	(void)raw;
	(void)len;
	if (btcore_msg_get_bin(m, BTCORE_MSG_F_ID, &v, &vlen) != BT_OK)
		return BT_EFORMAT;
	memcpy(want.b, v, 32);
	if (fr_find(fr, &from) == NULL) {
		fr->refused++;
		return send_error(net, &from, btcore_msg_tid(m), BT_EPERM,
		    "not a friend");
	}
	if ((f = fr_find(fr, &want)) == NULL)
		return send_error(net, &from, btcore_msg_tid(m), BT_ENOTFOUND,
		    "unknown");
	if ((rc = btcore_msg_new(&rep, BTCORE_MSG_WHERE_IS_REP,
	    btcore_msg_tid(m))) == BT_OK &&
	    (rc = btcore_msg_set_bin(rep, BTCORE_MSG_F_VALUE, f->file,
	    f->flen)) == BT_OK)
		rc = btnet_send_msg_(net, &from, rep);
	btcore_msg_free(rep);
	return rc;
}

/* ---- contacts --------------------------------------------------------- */

static void
contact_end(struct btnet *net, struct fr_contact *c, int status)
{
	struct net_friends *fr = net->friends;
	btnet_friend_contact_cb cb = c->cb;
	void *arg = c->arg;
	struct bt_id id = c->id;
	struct fr_friend *f;

	btnet_request_cancel_(net, c);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		fr->contacts = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	fr->ncontacts--;
	if (c->now != NULL)
		event_free(c->now);
	free(c);
	if ((f = fr_find(fr, &id)) != NULL && fr->retry_ms > 0)
		f->next_try = btnet_now_ms_(net) + fr->retry_ms;
	if (cb != NULL)
		cb(arg, status, &id);
}

static void
contact_now(evutil_socket_t fd, short what, void *arg)
{
	struct fr_contact *c = arg;

	(void)fd;
	(void)what;
	if (c->status != 1)
		contact_end(c->net, c, c->status);
	else
		contact_step(c->net, c);
}

/* Continue (status 1) or end with @p status, from the loop. */
static void
contact_soon(struct fr_contact *c, int status)
{
	struct timeval zero = { 0, 0 };

	c->status = status;
	(void)evtimer_add(c->now, &zero);
}

static void
hello_done(struct btnet *net, void *ctx, int status,
    const struct btcore_msg *reply)
{
	struct fr_contact *c = ctx;

	if (net->closing) {
		c->status = BT_ECLOSED;
		return;
	}
	if (status == BT_OK) {
		if (btcore_msg_type(reply) == BTCORE_MSG_FRIEND_HELLO_REP)
			take_file(net, &c->id, reply, NULL);
		/* answered over a connection authenticated as the friend */
		contact_soon(c, BT_OK);
		return;
	}
	if (status == BT_ECLOSED && net->state == NET_OFFLINE) {
		contact_soon(c, BT_ECLOSED);
		return;
	}
	contact_soon(c, 1);		/* the next step */
}

static int
send_hello(struct btnet *net, const struct bt_id *to, void *ctx)
{
	struct btcore_msg *m = NULL;
	int rc;

	if ((rc = build_file_msg(net, BTCORE_MSG_FRIEND_HELLO_REQ,
	    btnet_tid_(net), &m)) != BT_OK)
		return rc;
	rc = btnet_request_(net, to, m, hello_done, ctx);
	btcore_msg_free(m);
	return rc;
}

static void
where_done(struct btnet *net, void *ctx, int status,
    const struct btcore_msg *reply)
{
	struct fr_contact *c = ctx;
	int newer = 0;

	if (net->closing)
		return;
	c->answers++;
	if (status == BT_OK &&
	    btcore_msg_type(reply) == BTCORE_MSG_WHERE_IS_REP) {
		take_file(net, &c->id, reply, &newer);
		if (newer) {
			c->found = 1;
			net->friends->where_found++;
		}
	}
	if (c->answers == c->asked)
		contact_soon(c, 1);
}

/* Ask every other friend (connected ones first) where @p c's friend is. */
static int
ask_friends(struct btnet *net, struct fr_contact *c)
{
	struct net_friends *fr = net->friends;
	struct btcore_msg *m = NULL;
	struct fr_friend *f;
	int pass;

	for (pass = 0; pass < 2; pass++)
		for (f = fr->list; f != NULL && c->asked < FR_ASK_MAX;
		    f = f->next) {
			if (id_eq(&f->pf.id, &c->id) ||
			    (btnet_peer_find_(net, &f->pf.id) != NULL) !=
			    (pass == 0))
				continue;
			if (btcore_msg_new(&m, BTCORE_MSG_WHERE_IS_REQ,
			    btnet_tid_(net)) != BT_OK)
				return c->asked;
			if (btcore_msg_set_bin(m, BTCORE_MSG_F_ID, c->id.b, 32)
			    == BT_OK &&
			    btnet_request_(net, &f->pf.id, m, where_done, c) ==
			    BT_OK) {
				c->asked++;
				fr->where_asked++;
			}
			btcore_msg_free(m);
			m = NULL;
		}
	return c->asked;
}

static void
contact_step(struct btnet *net, struct fr_contact *c)
{
	struct fr_friend *f = fr_find(net->friends, &c->id);

	if (f == NULL || net->state == NET_OFFLINE) {
		contact_soon(c, f == NULL ? BTNET_EUNREACHABLE : BT_ECLOSED);
		return;
	}
	switch (c->step) {
	case 0:
		c->step = C_HELLO;
		if (send_hello(net, &c->id, c) == BT_OK)
			return;
		/* FALLTHROUGH */
	case C_HELLO:
	case C_VIA:
		c->step = C_VIA;
		while (c->via < f->pf.nvia) {
			if (btnet_relay_route(net, &c->id, &f->pf.via[c->via++])
			    == BT_OK && send_hello(net, &c->id, c) == BT_OK)
				return;
		}
		c->step = C_WHERE;
		if (ask_friends(net, c) > 0)
			return;
		contact_soon(c, BTNET_EUNREACHABLE);
		return;
	case C_WHERE:
		if (!c->found) {
			contact_soon(c, BTNET_EUNREACHABLE);
			return;
		}
		c->step = C_AGAIN;
		if (send_hello(net, &c->id, c) == BT_OK)
			return;
		contact_soon(c, BTNET_EUNREACHABLE);
		return;
	default:
		contact_soon(c, BTNET_EUNREACHABLE);
		return;
	}
}

static int
contact_start(struct btnet *net, const struct bt_id *id,
    btnet_friend_contact_cb cb, void *arg)
{
	struct net_friends *fr = net->friends;
	struct fr_contact *c;

	if (fr->ncontacts >= FR_CONTACTS_MAX)
		return BT_EAGAIN;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return BT_ENOMEM;
	if ((c->now = evtimer_new(net->base, contact_now, c)) == NULL) {
		free(c);
		return BT_ENOMEM;
	}
	c->net = net;
	c->id = *id;
	c->cb = cb;
	c->arg = arg;
	c->next = fr->contacts;
	if (fr->contacts != NULL)
		fr->contacts->prev = c;
	fr->contacts = c;
	fr->ncontacts++;
	/* already connected: done; else start from the loop */
	contact_soon(c, btnet_peer_find_(net, id) != NULL ? BT_OK : 1);
	return BT_OK;
}

int
btnet_friend_contact(struct btnet *net, const struct bt_id *id,
    btnet_friend_contact_cb cb, void *arg)
{
	if (net == NULL || id == NULL || cb == NULL || net->friends == NULL)
		return BT_EINVAL;
	if (fr_find(net->friends, id) == NULL)
		return BT_ENOTFOUND;
	if (net->state == NET_OFFLINE || net->closing)
		return BT_ESTATE;
	return contact_start(net, id, cb, arg);
}

static int
contacting(const struct net_friends *fr, const struct bt_id *id)
{
	const struct fr_contact *c;

	for (c = fr->contacts; c != NULL; c = c->next)
		if (id_eq(&c->id, id))
			return 1;
	return 0;
}

static void
hello_sent(struct btnet *net, void *ctx, int status,
    const struct btcore_msg *reply)
{
	struct bt_id *id = ctx;

	if (!net->closing && status == BT_OK &&
	    btcore_msg_type(reply) == BTCORE_MSG_FRIEND_HELLO_REP)
		take_file(net, id, reply, NULL);
	free(id);
}

/* Once a second: hellos due, automatic contacts. */
static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct net_friends *fr = arg;
	struct btnet *net = fr->net;
	struct timeval tv = { FR_TICK_MS / 1000, (FR_TICK_MS % 1000) * 1000 };
	uint64_t now = btnet_now_ms_(net);
	struct btcore_msg *m = NULL;
	struct fr_friend *f;
	struct bt_id *ctx;

	(void)fd;
	(void)what;
	for (f = fr->list; f != NULL && net->state != NET_OFFLINE;
	    f = f->next) {
		if (btnet_peer_find_(net, &f->pf.id) != NULL) {
			if (!f->hello_due)
				continue;
			f->hello_due = 0;
			if ((ctx = malloc(sizeof(*ctx))) == NULL)
				continue;
			*ctx = f->pf.id;
			if (build_file_msg(net, BTCORE_MSG_FRIEND_HELLO_REQ,
			    btnet_tid_(net), &m) != BT_OK ||
			    btnet_request_(net, &f->pf.id, m, hello_sent, ctx)
			    != BT_OK)
				free(ctx);
			btcore_msg_free(m);
			m = NULL;
			continue;
		}
		if (fr->retry_ms == 0 || now < f->next_try ||
		    contacting(fr, &f->pf.id))
			continue;
		f->next_try = now + fr->retry_ms;
		(void)contact_start(net, &f->pf.id, NULL, NULL);
	}
	(void)evtimer_add(fr->tick, &tv);
}

/* A connection with a friend came up: tell it our file from the loop
 * (unless we are contacting it: our hello is on its way). */
static void
on_peer(struct btnet *net, void *arg, const struct bt_id *id, int up)
{
	struct net_friends *fr = arg;
	struct fr_friend *f;
	struct timeval soon = { 0, 1000 };

	(void)net;
	if (!up || (f = fr_find(fr, id)) == NULL || contacting(fr, id))
		return;
	f->hello_due = 1;
	(void)evtimer_add(fr->tick, &soon);
}

/* The friends' resolution source: the addresses of the friend's file (a
 * relayed route comes first: btnet_resolve() asks for it itself). */
static int
on_resolve(struct btnet *net, void *arg, const struct bt_id *id,
    uint64_t token)
{
	struct net_friends *fr = arg;
	struct fr_friend *f;

	if ((f = fr_find(fr, id)) == NULL || f->pf.naddrs == 0)
		return BT_ENOTFOUND;
	btnet_resolve_found_(net, token, f->pf.addrs, f->pf.naddrs);
	return BT_OK;
}

void
btnet_friend_counts_(const struct btnet *net, uint64_t *asked,
    uint64_t *found, uint64_t *refused)
{
	const struct net_friends *fr = net->friends;

	*asked = fr != NULL ? fr->where_asked : 0;
	*found = fr != NULL ? fr->where_found : 0;
	*refused = fr != NULL ? fr->refused : 0;
}

/* ---- the module ----------------------------------------------------------- */

int
btnet_friend_init_(struct btnet *net)
{
	struct net_friends *fr;
	struct timeval tv = { FR_TICK_MS / 1000, (FR_TICK_MS % 1000) * 1000 };
	int rc;

	if ((fr = calloc(1, sizeof(*fr))) == NULL)
		return BT_ENOMEM;
	fr->net = net;
	fr->retry_ms = 60000;
	fr->default_vis = BTNET_SCOPE_PUBLIC;
	net->friends = fr;
	fr->rpc_fn = net->ops[BTCORE_MSG_RPC_REQ].fn;
	fr->rpc_arg = net->ops[BTCORE_MSG_RPC_REQ].arg;
	if ((fr->tick = evtimer_new(net->base, on_tick, fr)) == NULL ||
	    evtimer_add(fr->tick, &tv) != 0)
		return BT_ENOMEM;
	if ((rc = btnet_op_handle_(net, BTCORE_MSG_RPC_REQ, on_rpc, fr)) !=
	    BT_OK ||
	    (rc = btnet_op_handle_(net, BTCORE_MSG_FRIEND_HELLO_REQ, on_hello,
	    fr)) != BT_OK ||
	    (rc = btnet_op_handle_(net, BTCORE_MSG_WHERE_IS_REQ, on_where, fr))
	    != BT_OK)
		return rc;
	btnet_resolve_hook_(net, on_resolve, fr);
	return btnet_peer_hook_(net, on_peer, fr);
}

void
btnet_friend_close_(struct btnet *net)
{
	struct net_friends *fr = net->friends;
	struct fr_friend *f;

	if (fr == NULL)
		return;
	/* contacts report BT_ECLOSED (their requests have ended) */
	while (fr->contacts != NULL)
		contact_end(net, fr->contacts, BT_ECLOSED);
	while ((f = fr->list) != NULL) {
		fr->list = f->next;
		fr_free(f);
	}
	if (fr->tick != NULL)
		event_free(fr->tick);
	free(fr->scopes);
	btcore_wipe(fr->mine, sizeof(fr->mine));
	free(fr);
	net->friends = NULL;
}
