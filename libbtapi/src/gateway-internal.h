/*
 * gateway-internal.h - the HTTP gateway's request framing (gateway.c):
 * where a request head ends and how its body is framed, and the
 * chunked body decoder.  Pure functions over buffers (fuzzed by
 * test/fuzz/btapi/gateway_framing.c).
 */
#ifndef BTAPI_GATEWAY_INTERNAL_H
#define BTAPI_GATEWAY_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

/* How a request body is framed. */
#define BTAPI_GWB_NONE_		0	/* no body */
#define BTAPI_GWB_LENGTH_	1	/* Content-Length */
#define BTAPI_GWB_CHUNKED_	2	/* Transfer-Encoding: chunked */

/* Expect header. */
#define BTAPI_GWX_NONE_		0
#define BTAPI_GWX_CONTINUE_	1	/* 100-continue */
#define BTAPI_GWX_OTHER_	2	/* an expectation the gateway cannot meet */

/* Results of btapi_gwhead_scan_(). */
#define BTAPI_GWH_MORE_		0	/* the head goes on: more bytes */
#define BTAPI_GWH_DONE_		1	/* *h describes a whole head */
#define BTAPI_GWH_LONG_		(-1)	/* over the size limit */

/* A request head (request line, header lines, blank line). */
struct btapi_gwhead_ {
	size_t len;		/* bytes, line ends and blank line included */
	size_t count;		/* request line and header lines without
				   their line ends (evhttp's measure) */
	int body;		/* BTAPI_GWB_* */
	uint64_t length;	/* BTAPI_GWB_LENGTH_ */
	int has_length;		/* a Content-Length line (maybe 0) */
	int expect;		/* BTAPI_GWX_* */
	int http11;		/* the request line ends in HTTP/1.1 */
	int bad;		/* framing not to be trusted (400): folded
				   lines, a header name that is not a token,
				   a bad or repeated Content-Length, a
				   Transfer-Encoding other than chunked, or
				   both */
	int rewrite;		/* has lines that btapi_gwhead_rewrite_()
				   takes out */
};

/*
 * Find the end of the head at @p p (@p n bytes; lines end in LF or
 * CRLF) and read its framing into @p h.  @p hard: the most bytes the
 * head may count (as evhttp counts: lines without their ends).
 * @return BTAPI_GWH_DONE_, BTAPI_GWH_MORE_ or BTAPI_GWH_LONG_.
 */
int btapi_gwhead_scan_(const char *p, size_t n, size_t hard,
    struct btapi_gwhead_ *h);

/*
 * Write the head scanned into @p h (its h->len bytes at @p p) as evhttp
 * is to see it: without Content-Length and Transfer-Encoding lines and
 * with "Content-Length: 0", so that evhttp reads no body.  @p out holds
 * at least h->len + BTAPI_GWHEAD_EXTRA_ bytes.  @return bytes written.
 */
#define BTAPI_GWHEAD_EXTRA_	32
size_t btapi_gwhead_rewrite_(const char *p, const struct btapi_gwhead_ *h,
    char *out);

/* Chunked body decoder states. */
#define BTAPI_GWC_SIZE_		0	/* a chunk-size line */
#define BTAPI_GWC_DATA_		1	/* left bytes of chunk data */
#define BTAPI_GWC_CRLF_		2	/* the line end after the data */
#define BTAPI_GWC_TRAILER_	3	/* trailer lines up to a blank one */
#define BTAPI_GWC_END_		4	/* the body has ended */

/* Results of btapi_gwchunk_step_(). */
#define BTAPI_GWC_MORE_		0	/* more bytes needed; none used */
#define BTAPI_GWC_OK_		1	/* *used bytes taken, state moved */
#define BTAPI_GWC_DONE_		2	/* *used bytes taken, body ended */
#define BTAPI_GWC_BAD_		(-1)	/* not chunked framing */
#define BTAPI_GWC_BIG_		(-2)	/* more than max bytes of data */

#define BTAPI_GWC_LINE_MAX_	4096	/* a chunk-size or trailer line */

struct btapi_gwchunk_ {
	int st;			/* BTAPI_GWC_*_ */
	uint64_t left;		/* BTAPI_GWC_DATA_: data bytes to come */
	uint64_t total;		/* data bytes announced so far */
	uint64_t max;		/* most data bytes in all */
	size_t trailer;		/* trailer bytes so far */
	size_t trailer_max;
};

/* Start decoding a body of at most @p max data bytes and
   @p trailer_max trailer bytes. */
void btapi_gwchunk_init_(struct btapi_gwchunk_ *c, uint64_t max,
    size_t trailer_max);

/*
 * Take the framing at @p p (@p n bytes) in any state but
 * BTAPI_GWC_DATA_ (whose bytes the caller takes with
 * btapi_gwchunk_take_()).  @return BTAPI_GWC_MORE_, _OK_, _DONE_ (with
 * *used), _BAD_ or _BIG_.
 */
int btapi_gwchunk_step_(struct btapi_gwchunk_ *c, const char *p, size_t n,
    size_t *used);

/* @p k (at most c->left) data bytes were taken. */
void btapi_gwchunk_take_(struct btapi_gwchunk_ *c, uint64_t k);

#endif /* BTAPI_GATEWAY_INTERNAL_H */
