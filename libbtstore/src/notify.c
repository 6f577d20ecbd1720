/*
 * notify.c - change notifications: watches, the queue of committed
 * events, and an eventfd that polls readable while events are pending.
 *
 * Events are matched against the watches when their transaction commits
 * (under the store's write lock, so the queue is in commit order); events
 * nobody watches are never queued.  Callbacks run in
 * btstore_notify_dispatch() without any store lock held, so they may call
 * the store; the watch list is re-read under the lock before each call,
 * so a watch removed by a callback is not called afterwards.
 */
#include <bt/store.h>

#include <errno.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "btstore-internal.h"

#define NKINDS	8

int
btstore_notify_init_(struct btstore *st)
{
	if (pthread_mutex_init(&st->nlock, NULL) != 0)
		return BT_ENOMEM;
	st->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (st->efd < 0) {
		pthread_mutex_destroy(&st->nlock);
		return errno == ENOMEM ? BT_ENOMEM : BT_EIO;
	}
	return BT_OK;
}

void
btstore_ev_free_(struct btstore_ev_ *head)
{
	struct btstore_ev_ *next;

	for (; head != NULL; head = next) {
		next = head->next;
		free(head);
	}
}

void
btstore_notify_fini_(struct btstore *st)
{
	size_t i;

	btstore_ev_free_(st->pend_head);
	st->pend_head = st->pend_tail = NULL;
	for (i = 0; i < st->nwatches; i++)
		free(st->watches[i].key);
	free(st->watches);
	st->watches = NULL;
	if (st->efd >= 0)
		close(st->efd);
	st->efd = -1;
	pthread_mutex_destroy(&st->nlock);
}

static int
matches(const struct btstore_watch_ *wa, int kind, const uint8_t *key,
    size_t keylen)
{
	if (wa->kind != kind)
		return 0;
	if (kind != BTSTORE_TOPIC_PATH)
		return wa->keylen == keylen && memcmp(wa->key, key, keylen) == 0;
	/* a path prefix matches whole components only */
	if (wa->keylen > keylen || memcmp(wa->key, key, wa->keylen) != 0)
		return 0;
	return keylen == wa->keylen || wa->key[wa->keylen - 1] == '/' ||
	    key[wa->keylen] == '/';
}

int
btstore_watched_(struct btstore *st, int kind)
{
	unsigned n;

	if (kind < 1 || kind >= NKINDS)
		return 0;
	pthread_mutex_lock(&st->nlock);
	n = st->nkind[kind];
	pthread_mutex_unlock(&st->nlock);
	return n > 0;
}

int
btstore_emit_(struct btstore_w_ *w, int kind, int event, const void *key,
    size_t keylen)
{
	struct btstore_ev_ *ev;

	if (keylen == 0 || keylen > BTSTORE_TOPIC_KEY_MAX)
		return BT_ERANGE;
	if (!btstore_watched_(w->st, kind))
		return BT_OK;
	if ((ev = malloc(sizeof(*ev) + keylen)) == NULL)
		return BT_ENOMEM;
	ev->next = NULL;
	ev->kind = kind;
	ev->event = event;
	ev->keylen = keylen;
	memcpy(ev->key, key, keylen);
	if (w->ev_tail != NULL)
		w->ev_tail->next = ev;
	else
		w->ev_head = ev;
	w->ev_tail = ev;
	return BT_OK;
}

static void
signal_fd(struct btstore *st)
{
	uint64_t one = 1;
	ssize_t n;

	/* the counter saturating (EAGAIN) still leaves the fd readable */
	do {
		n = write(st->efd, &one, sizeof(one));
	} while (n < 0 && errno == EINTR);
}

void
btstore_notify_commit_(struct btstore *st, struct btstore_ev_ *head)
{
	struct btstore_ev_ *ev, *next;
	int signal = 0, wanted;
	size_t i;

	if (head == NULL)
		return;
	pthread_mutex_lock(&st->nlock);
	for (ev = head; ev != NULL; ev = next) {
		next = ev->next;
		ev->next = NULL;
		wanted = 0;
		for (i = 0; i < st->nwatches && !wanted; i++)
			wanted = matches(&st->watches[i], ev->kind, ev->key,
			    ev->keylen);
		if (!wanted) {
			free(ev);
			continue;
		}
		if (st->npend >= BTSTORE_NOTIFY_QUEUE_MAX) {
			st->overflow = 1;
			signal = 1;
			free(ev);
			continue;
		}
		if (st->pend_tail != NULL)
			st->pend_tail->next = ev;
		else
			st->pend_head = ev;
		st->pend_tail = ev;
		st->npend++;
		signal = 1;
	}
	if (signal)
		signal_fd(st);
	pthread_mutex_unlock(&st->nlock);
}

int
btstore_watch(struct btstore *st, int kind, const void *key, size_t keylen,
    btstore_watch_fn fn, void *arg, uint64_t *watch)
{
	struct btstore_watch_ *nw;
	uint8_t *copy;
	size_t cap;

	if (watch != NULL)
		*watch = 0;
	if (st == NULL || key == NULL || fn == NULL || watch == NULL ||
	    kind < 1 || kind >= NKINDS)
		return BT_EINVAL;
	if (keylen == 0 || keylen > BTSTORE_TOPIC_KEY_MAX)
		return BT_ERANGE;
	if ((copy = malloc(keylen)) == NULL)
		return BT_ENOMEM;
	memcpy(copy, key, keylen);
	pthread_mutex_lock(&st->nlock);
	if (st->nwatches == st->capwatches) {
		cap = st->capwatches ? st->capwatches * 2 : 8;
		nw = realloc(st->watches, cap * sizeof(*nw));
		if (nw == NULL) {
			pthread_mutex_unlock(&st->nlock);
			free(copy);
			return BT_ENOMEM;
		}
		st->watches = nw;
		st->capwatches = cap;
	}
	nw = &st->watches[st->nwatches++];
	nw->id = st->next_watch++;
	nw->kind = kind;
	nw->fn = fn;
	nw->arg = arg;
	nw->keylen = keylen;
	nw->key = copy;
	st->nkind[kind]++;
	*watch = nw->id;
	pthread_mutex_unlock(&st->nlock);
	return BT_OK;
}

int
btstore_unwatch(struct btstore *st, uint64_t watch)
{
	size_t i;
	int rc = BT_ENOTFOUND;

	if (st == NULL)
		return BT_EINVAL;
	pthread_mutex_lock(&st->nlock);
	for (i = 0; i < st->nwatches; i++) {
		if (st->watches[i].id != watch)
			continue;
		st->nkind[st->watches[i].kind]--;
		free(st->watches[i].key);
		memmove(&st->watches[i], &st->watches[i + 1],
		    (st->nwatches - i - 1) * sizeof(st->watches[0]));
		st->nwatches--;
		rc = BT_OK;
		break;
	}
	pthread_mutex_unlock(&st->nlock);
	return rc;
}

int
btstore_notify_fd(struct btstore *st)
{
	return st == NULL ? -1 : st->efd;
}

int
btstore_notify_dispatch(struct btstore *st, size_t *delivered)
{
	struct btstore_ev_ *ev;
	btstore_watch_fn fn;
	uint64_t last, drain;
	void *arg;
	size_t i, n = 0;
	int overflow, found, wkind = 0;

	if (delivered != NULL)
		*delivered = 0;
	if (st == NULL)
		return BT_EINVAL;
	/* clear readiness first: an event committed from now on sets it
	 * again, so none is left pending with the fd quiet */
	while (read(st->efd, &drain, sizeof(drain)) < 0 && errno == EINTR)
		;
	for (;;) {
		overflow = 0;
		pthread_mutex_lock(&st->nlock);
		ev = st->pend_head;
		if (ev != NULL) {
			st->pend_head = ev->next;
			if (st->pend_head == NULL)
				st->pend_tail = NULL;
			st->npend--;
		} else if (st->overflow) {
			st->overflow = 0;
			overflow = 1;
		}
		pthread_mutex_unlock(&st->nlock);
		if (ev == NULL && !overflow)
			break;
		for (last = 0;;) {
			found = 0;
			pthread_mutex_lock(&st->nlock);
			for (i = 0; i < st->nwatches; i++) {
				if (st->watches[i].id <= last)
					continue;
				if (overflow || matches(&st->watches[i],
				    ev->kind, ev->key, ev->keylen)) {
					found = 1;
					break;
				}
			}
			if (found) {
				fn = st->watches[i].fn;
				arg = st->watches[i].arg;
				last = st->watches[i].id;
				wkind = st->watches[i].kind;
			}
			pthread_mutex_unlock(&st->nlock);
			if (!found)
				break;
			if (overflow)
				fn(arg, wkind, BTSTORE_EV_OVERFLOW,
				    NULL, 0);
			else
				fn(arg, ev->kind, ev->event, ev->key,
				    ev->keylen);
			n++;
		}
		free(ev);
	}
	if (delivered != NULL)
		*delivered = n;
	return BT_OK;
}
