/* smtp_data.c - the DATA/BDAT body machine and output dot-stuffing; no I/O. */
#include <string.h>

#include "smtp_data.h"

/*
 * Where lines end. A CR LF pair is a real line end. A CR not followed by LF and
 * an LF not preceded by CR are "bare" line ends. Both policies treat a bare line
 * end as a line end for structure (line length, header split, line starts) and
 * send CRLF to the sink in its place, so the sink always sees canonical content;
 * the policy only picks the flag (F_BARE, which refuses the message, or
 * F_BARE_SEEN). A line that begins after a bare line end is "tainted": it can
 * never end the data, so "\n.\r\n", "\r.\r\n" and friends are content
 * (RFC 5321 4.1.1.4; reliability.md 1.1).
 *
 * Unstuffing (RFC 5321 4.5.2) removes the first '.' of every line in DOT mode,
 * tainted or not. So a lone "." line that does not end the data (it began after
 * a bare line end, or its CR is bare) becomes an empty line of content. That is
 * the same rule for every line, and the result is re-stuffed on output anyway.
 *
 * Output is emitted as runs of the input buffer; a run is cut only where a
 * byte is removed (a stuffing dot, the end marker) or inserted (the CR or LF
 * that completes a bare line end, a CR held back from the previous chunk).
 */

enum data_state {
	ST_START_CLEAN,   /* line start after CRLF or at the start of data */
	ST_START_TAINTED, /* line start after a bare CR or LF */
	ST_DOT,           /* DOT: a '.' removed at a clean line start */
	ST_DOT_CR,        /* DOT: ".\r" at a clean line start; an LF ends the data */
	ST_BODY,          /* inside a line */
	ST_CR,            /* a CR inside a line, not yet known to be bare */
};

/* RFC 5321 4.5.3.1.6: 1000 octets including CRLF, so 998 of text. */
#define LINE_TEXT_MAX (SMTP_TEXT_LINE_MAX - 2)

/* Octets that stop the fast scan of a line. */
static const unsigned char data_special[256] = {
	['\0'] = 1, ['\r'] = 1, ['\n'] = 1,
};

static void
data_emit(struct smtp_data *d, const char *p, size_t n)
{
	size_t out = n;

	if (n == 0)
		return;
	if (d->max_size != 0 && d->size + n > d->max_size) {
		/* Emit exactly max_size octets in total, so the output does not
		 * depend on how the input was split. */
		out = d->size >= d->max_size ? 0 : (size_t)(d->max_size - d->size);
		d->flags |= SMTP_DATA_F_TOO_BIG;
	}
	if (out > 0 && d->sink != NULL &&
	    !(d->flags & SMTP_DATA_F_SINK_ERROR) &&
	    d->sink(d->sink_arg, p, out) < 0)
		d->flags |= SMTP_DATA_F_SINK_ERROR;
	d->size += n;
}

static void
data_check_line(struct smtp_data *d)
{
	if (d->line_len > LINE_TEXT_MAX)
		d->flags |= SMTP_DATA_F_LINE_TOO_LONG;
}

/* A line just ended; pending = octets of its end that are not emitted yet. */
static void
data_line_end(struct smtp_data *d, int bare, size_t pending)
{
	if (bare)
		d->flags |= d->policy == SMTP_DATA_BARE_REJECT ?
		    SMTP_DATA_F_BARE : SMTP_DATA_F_BARE_SEEN;
	data_check_line(d);
	if (d->in_header && d->line_len == 0) {
		d->header_size = d->size + pending;
		d->in_header = 0;
	}
	d->line_len = 0;
	d->state = bare ? ST_START_TAINTED : ST_START_CLEAN;
}

void
smtp_data_init(struct smtp_data *d, enum smtp_data_mode mode, enum smtp_data_policy policy,
               uint64_t max_size, smtp_data_sink *sink, void *sink_arg)
{
	memset(d, 0, sizeof(*d));
	d->mode = mode;
	d->policy = policy;
	d->max_size = max_size;
	d->sink = sink;
	d->sink_arg = sink_arg;
	d->state = ST_START_CLEAN;
	d->in_header = 1;
}

size_t
smtp_data_feed(struct smtp_data *d, const char *in, size_t len)
{
	const char *p = in, *end = in + len, *run = in;
	int dot = d->mode == SMTP_DATA_DOT;
	/* ST_DOT_CR at entry: its CR came in the previous chunk and was held back. */
	int held_dot_cr = d->state == ST_DOT_CR;

	if (d->ended || len == 0)
		return 0;
	/* A CR inside a line is content either way (CRLF, or bare CR + LF). */
	if (d->state == ST_CR)
		data_emit(d, "\r", 1);

	while (p < end) {
		unsigned char c = (unsigned char)*p;

		switch (d->state) {
		case ST_START_CLEAN:
		case ST_START_TAINTED:
			if (dot && c == '.') {
				data_emit(d, run, (size_t)(p - run));
				run = ++p;
				d->state = d->state == ST_START_CLEAN ? ST_DOT : ST_BODY;
			} else {
				d->state = ST_BODY;
			}
			break;
		case ST_DOT:
			if (c == '\r') {
				d->state = ST_DOT_CR;
				p++;
			} else {
				d->state = ST_BODY;
			}
			break;
		case ST_DOT_CR:
			if (c == '\n') {
				/* CRLF "." CRLF. The run holds at most the CR: the
				 * dot was cut out, nothing to emit. */
				d->ended = 1;
				return (size_t)(p + 1 - in);
			}
			/* ".\r" + not LF: the CR was bare; the line is empty. */
			if (held_dot_cr)
				data_emit(d, "\r", 1);
			data_emit(d, run, (size_t)(p - run));
			data_emit(d, "\n", 1);
			run = p;
			data_line_end(d, 1, 0);
			break;
		case ST_BODY: {
			const char *s = p;

			while (p < end && !data_special[(unsigned char)*p])
				p++;
			d->line_len += (size_t)(p - s);
			if (p == end)
				break;
			c = (unsigned char)*p;
			if (c == '\0') {
				d->flags |= SMTP_DATA_F_NUL;
				d->line_len++;
				p++;
			} else if (c == '\r') {
				d->state = ST_CR;
				p++;
			} else {
				/* bare LF: replace it with CRLF */
				data_emit(d, run, (size_t)(p - run));
				data_emit(d, "\r\n", 2);
				run = ++p;
				data_line_end(d, 1, 0);
			}
			break;
		}
		case ST_CR:
			if (c == '\n') {
				p++;
				data_line_end(d, 0, (size_t)(p - run));
			} else {
				/* bare CR: add the LF; c starts the next line */
				data_emit(d, run, (size_t)(p - run));
				data_emit(d, "\n", 1);
				run = p;
				data_line_end(d, 1, 0);
			}
			break;
		}
		held_dot_cr = 0;
	}

	/* A trailing CR waits for the next chunk to know whether it is bare. */
	if (d->state == ST_CR || d->state == ST_DOT_CR)
		end--;
	if (end > run)
		data_emit(d, run, (size_t)(end - run));
	data_check_line(d);
	return len;
}

void
smtp_data_finish(struct smtp_data *d)
{
	if (d->ended)
		return;
	if (d->state == ST_CR || d->state == ST_DOT_CR) {
		/* The last chunk ended in CR: no LF can follow any more. */
		data_emit(d, "\r\n", 2);
		data_line_end(d, 1, 0);
	}
	data_check_line(d);
}

/*
 * Output stuffing. at_line_start: 1 at the start and after CRLF (the content so
 * far is empty or ends in CRLF), 2 after a bare LF, 0 otherwise; last_was_cr:
 * the last octet was CR. The content should be canonical; if it is not, a '.'
 * after any CR or LF is stuffed too, so a lenient backend that ends lines on a
 * bare CR or LF still cannot see an end marker.
 */

void
smtp_stuff_init(struct smtp_stuff *s)
{
	s->at_line_start = 1;
	s->last_was_cr = 0;
}

int
smtp_stuff_feed(struct smtp_stuff *s, const char *in, size_t len, smtp_data_sink *sink, void *arg)
{
	const char *p = in, *end = in + len, *run = in;

	while (p < end) {
		unsigned char c = (unsigned char)*p;

		if (c == '.' && (s->at_line_start || s->last_was_cr)) {
			if (p > run && sink(arg, run, (size_t)(p - run)) < 0)
				return -1;
			if (sink(arg, ".", 1) < 0)
				return -1;
			run = p;
		}
		if (c == '\n')
			s->at_line_start = s->last_was_cr ? 1 : 2;
		else
			s->at_line_start = 0;
		s->last_was_cr = c == '\r';
		p++;
		if (c != '\r' && c != '\n') {
			/* skip to the next octet that can matter */
			while (p < end && *p != '\r' && *p != '\n')
				p++;
		}
	}
	if (end > run && sink(arg, run, (size_t)(end - run)) < 0)
		return -1;
	return 0;
}

int
smtp_stuff_end(struct smtp_stuff *s, smtp_data_sink *sink, void *arg)
{
	int r;

	if (s->at_line_start == 1)
		r = sink(arg, ".\r\n", 3);
	else
		r = sink(arg, "\r\n.\r\n", 5);
	smtp_stuff_init(s);
	return r < 0 ? -1 : 0;
}
