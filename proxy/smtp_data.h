/* smtp_data.h - the DATA/BDAT body machine: strict end of data, dot unstuffing,
 * bare CR/LF policy, line and size limits, header/body split; re-stuffing for
 * output. No I/O: bytes in, canonical content out through a sink callback. */
#ifndef SLUICE_SMTP_DATA_H
#define SLUICE_SMTP_DATA_H

#include <stddef.h>
#include <stdint.h>

#define SMTP_TEXT_LINE_MAX 1000   /* RFC 5321 4.5.3.1.6, including CRLF */

/* Receives canonical content (CRLF line ends, no stuffing) in order. Returns 0, or
 * -1 to report a sink failure (e.g. spool write error), which sets
 * SMTP_DATA_F_SINK_ERROR and stops further output (input is still scanned). */
typedef int smtp_data_sink(void *arg, const char *buf, size_t len);

enum smtp_data_mode {
	SMTP_DATA_DOT,            /* DATA: ends at CRLF.CRLF, dot-unstuffing */
	SMTP_DATA_RAW,            /* BDAT: no end marker, no stuffing */
};

enum smtp_data_policy {
	SMTP_DATA_BARE_REJECT,    /* a bare CR or LF sets SMTP_DATA_F_BARE (message is refused) */
	SMTP_DATA_BARE_NORMALIZE, /* each bare CR or LF becomes CRLF; also sets ..._F_BARE_SEEN */
};

/* Flags that describe what was seen; the caller decides the reply at the end. */
enum smtp_data_flag {
	SMTP_DATA_F_BARE = 1 << 0,        /* bare CR/LF under REJECT */
	SMTP_DATA_F_BARE_SEEN = 1 << 1,   /* bare CR/LF normalised */
	SMTP_DATA_F_LINE_TOO_LONG = 1 << 2,
	SMTP_DATA_F_TOO_BIG = 1 << 3,     /* content exceeded max_size; output stopped */
	SMTP_DATA_F_SINK_ERROR = 1 << 4,
	SMTP_DATA_F_NUL = 1 << 5,         /* content holds NUL (passed through) */
};

struct smtp_data {
	/* configuration, set by smtp_data_init */
	enum smtp_data_mode mode;
	enum smtp_data_policy policy;
	uint64_t max_size;        /* 0 = unlimited */
	smtp_data_sink *sink;
	void *sink_arg;

	/* results */
	unsigned flags;           /* enum smtp_data_flag */
	uint64_t size;            /* content octets emitted to the sink (or that would have been) */
	uint64_t header_size;     /* octets of the header section incl. the empty line; 0 until seen */
	int ended;                /* DOT mode: CRLF.CRLF seen */

	/* private state */
	int state;
	size_t line_len;
	int in_header;
	int prev_crlf;            /* header split: last line was empty */
};

void smtp_data_init(struct smtp_data *d, enum smtp_data_mode mode, enum smtp_data_policy policy,
                    uint64_t max_size, smtp_data_sink *sink, void *sink_arg);

/* Feed input. Returns the number of bytes consumed. In DOT mode consumption stops
 * right after the terminating CRLF.CRLF (d->ended is set), so the caller can handle
 * pipelined commands that follow. In RAW mode everything is consumed. Resumable
 * across any split of the input, including inside CRLF and inside CRLF.CRLF. */
size_t smtp_data_feed(struct smtp_data *d, const char *in, size_t len);

/* RAW mode: the last chunk arrived. Flushes a pending CR (a chunk may end in CR and
 * the next begin with LF). */
void smtp_data_finish(struct smtp_data *d);

/* Output side: dot-stuffing for DATA towards the backend (RFC 5321 4.5.2). */
struct smtp_stuff {
	int at_line_start;        /* start: 1 */
	int last_was_cr;
};
void smtp_stuff_init(struct smtp_stuff *s);
/* Emit in[0..len) with a '.' added before every line that starts with '.'. */
int smtp_stuff_feed(struct smtp_stuff *s, const char *in, size_t len, smtp_data_sink *sink, void *arg);
/* Emit the end: CRLF first when the content did not end with CRLF, then ".\r\n". */
int smtp_stuff_end(struct smtp_stuff *s, smtp_data_sink *sink, void *arg);

#endif
