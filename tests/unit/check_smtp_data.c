/* check_smtp_data.c - unit tests for the DATA/BDAT body machine and re-stuffing. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtp_data.h"
#include "util.h"

#define BYTES(s) s, sizeof(s) - 1

/* ------------------------------------------------------------ helpers */

struct buf {
	char *p;
	size_t len, cap;
	unsigned calls;
	int fail_at_call;         /* 0 = never; n = the n-th call fails */
};

static int
buf_sink(void *arg, const char *p, size_t n)
{
	struct buf *b = arg;

	b->calls++;
	if (b->fail_at_call != 0 && b->calls >= (unsigned)b->fail_at_call)
		return -1;
	if (n == 0)
		return 0;
	if (b->len + n > b->cap) {
		b->cap = (b->len + n) * 2;
		b->p = xrealloc(b->p, b->cap);
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
	return 0;
}

static void
buf_append(struct buf *b, const char *p, size_t n)
{
	unsigned calls = b->calls;

	buf_sink(b, p, n);
	b->calls = calls;
}

static void
buf_free(struct buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

struct result {
	struct buf out;
	unsigned flags;
	uint64_t size, header_size;
	int ended;
	size_t consumed;
};

/* Printable form of a byte string for failure messages. */
static const char *
show(const char *p, size_t n)
{
	static char s[4][512];
	static int which;
	char *o = s[which++ & 3];
	size_t k = 0;

	for (size_t i = 0; i < n && k + 8 < sizeof(s[0]); i++) {
		unsigned char c = (unsigned char)p[i];

		if (c == '\r')
			k += xsnprintf(o + k, sizeof(s[0]) - k, "\\r");
		else if (c == '\n')
			k += xsnprintf(o + k, sizeof(s[0]) - k, "\\n");
		else if (c < 32 || c > 126)
			k += xsnprintf(o + k, sizeof(s[0]) - k, "\\x%02x", c);
		else
			o[k++] = (char)c;
	}
	o[k] = '\0';
	return o;
}

/* Feed in[0..len) as chunks ending at cuts[0..ncuts) (sorted) and then len. */
static void
run_cuts(enum smtp_data_mode mode, enum smtp_data_policy policy, uint64_t max_size,
         const char *in, size_t len, const size_t *cuts, size_t ncuts, struct result *r)
{
	struct smtp_data d;
	size_t start = 0;

	memset(r, 0, sizeof(*r));
	smtp_data_init(&d, mode, policy, max_size, buf_sink, &r->out);
	for (size_t k = 0; k <= ncuts; k++) {
		size_t stop = k < ncuts ? cuts[k] : len;
		size_t n = smtp_data_feed(&d, in + start, stop - start);

		ck_assert_msg(n <= stop - start, "feed consumed %zu of %zu", n, stop - start);
		r->consumed += n;
		if (d.ended)
			break;
		ck_assert_msg(n == stop - start, "got consumed %zu without end, want %zu",
		              n, stop - start);
		start = stop;
	}
	if (mode == SMTP_DATA_RAW)
		smtp_data_finish(&d);
	r->flags = d.flags;
	r->size = d.size;
	r->header_size = d.header_size;
	r->ended = d.ended;
}

static void
run_whole(enum smtp_data_mode mode, enum smtp_data_policy policy, uint64_t max_size,
          const char *in, size_t len, struct result *r)
{
	run_cuts(mode, policy, max_size, in, len, NULL, 0, r);
}

static void
run_bytewise(enum smtp_data_mode mode, enum smtp_data_policy policy, uint64_t max_size,
             const char *in, size_t len, struct result *r)
{
	size_t *cuts = xmalloc((len ? len : 1) * sizeof(*cuts));

	for (size_t i = 0; i < len; i++)
		cuts[i] = i + 1;
	run_cuts(mode, policy, max_size, in, len, cuts, len ? len - 1 : 0, r);
	free(cuts);
}

static void
result_same(const char *what, const char *in, size_t len, const struct result *got,
            const struct result *want)
{
	ck_assert_msg(got->out.len == want->out.len &&
	              (got->out.len == 0 || memcmp(got->out.p, want->out.p, got->out.len) == 0),
	              "%s on \"%s\": got output \"%s\", want \"%s\"", what, show(in, len),
	              show(got->out.p, got->out.len), show(want->out.p, want->out.len));
	ck_assert_msg(got->flags == want->flags, "%s on \"%s\": got flags %#x, want %#x",
	              what, show(in, len), got->flags, want->flags);
	ck_assert_msg(got->ended == want->ended, "%s on \"%s\": got ended %d, want %d",
	              what, show(in, len), got->ended, want->ended);
	ck_assert_msg(got->consumed == want->consumed, "%s on \"%s\": got consumed %zu, want %zu",
	              what, show(in, len), got->consumed, want->consumed);
	ck_assert_msg(got->size == want->size, "%s on \"%s\": got size %llu, want %llu",
	              what, show(in, len), (unsigned long long)got->size,
	              (unsigned long long)want->size);
	ck_assert_msg(got->header_size == want->header_size,
	              "%s on \"%s\": got header_size %llu, want %llu", what, show(in, len),
	              (unsigned long long)got->header_size, (unsigned long long)want->header_size);
}

/* Every split in two, every split in three (short inputs), and byte by byte give
 * the same result as one feed. */
static void
check_all_splits(enum smtp_data_mode mode, enum smtp_data_policy policy, uint64_t max_size,
                 const char *in, size_t len, const struct result *want)
{
	struct result r;
	size_t cuts[2];

	for (size_t i = 0; i <= len; i++) {
		cuts[0] = i;
		run_cuts(mode, policy, max_size, in, len, cuts, 1, &r);
		result_same("split in two", in, len, &r, want);
		buf_free(&r.out);
		if (len > 80)
			continue;
		for (size_t j = i; j <= len; j++) {
			cuts[1] = j;
			run_cuts(mode, policy, max_size, in, len, cuts, 2, &r);
			result_same("split in three", in, len, &r, want);
			buf_free(&r.out);
		}
	}
	run_bytewise(mode, policy, max_size, in, len, &r);
	result_same("byte by byte", in, len, &r, want);
	buf_free(&r.out);
}

/* ------------------------------------------------------------ DOT: normal messages */

struct dot_case {
	const char *name;
	const char *in;
	size_t in_len;
	const char *out;
	size_t out_len;
	unsigned flags;
	int ended;
	size_t consumed;
	uint64_t header_size;
};

static const struct dot_case dot_cases[] = {
	{ "empty message", BYTES(".\r\n"), BYTES(""), 0, 1, 3, 0 },
	{ "empty message, pipelined QUIT", BYTES(".\r\nQUIT\r\n"), BYTES(""), 0, 1, 3, 0 },
	{ "header and body", BYTES("Subject: a\r\n\r\nbody\r\n.\r\n"),
	  BYTES("Subject: a\r\n\r\nbody\r\n"), 0, 1, 23, 14 },
	{ "header only", BYTES("Subject: a\r\n.\r\n"), BYTES("Subject: a\r\n"), 0, 1, 15, 0 },
	{ "leading empty line", BYTES("\r\nbody\r\n.\r\n"), BYTES("\r\nbody\r\n"), 0, 1, 11, 2 },
	{ "only an empty line", BYTES("\r\n.\r\n"), BYTES("\r\n"), 0, 1, 5, 2 },
	{ "unstuffing (RFC 5321 4.5.2)", BYTES("..\r\n...\r\n..x\r\n.y\r\n.\r\n"),
	  BYTES(".\r\n..\r\n.x\r\ny\r\n"), 0, 1, 21, 0 },
	{ "dot followed by space", BYTES(". \r\n.\r\n"), BYTES(" \r\n"), 0, 1, 7, 0 },
	{ "dots inside lines", BYTES("a.b\r\n a.\r\nx.\r\n.\r\n"),
	  BYTES("a.b\r\n a.\r\nx.\r\n"), 0, 1, 17, 0 },
	{ "no end yet", BYTES("abc\r\n"), BYTES("abc\r\n"), 0, 0, 5, 0 },
	{ "no end, open line", BYTES("abc\r\nde"), BYTES("abc\r\nde"), 0, 0, 7, 0 },
	{ "dot line without CRLF before it", BYTES("abc.\r\n"), BYTES("abc.\r\n"), 0, 0, 6, 0 },
	{ "NUL is content", BYTES("a\0b\r\n\0\r\n.\r\n"), BYTES("a\0b\r\n\0\r\n"),
	  SMTP_DATA_F_NUL, 1, 11, 0 },
	{ "end then more data", BYTES("x\r\n.\r\nMAIL FROM:<a@b>\r\n"), BYTES("x\r\n"), 0, 1, 6, 0 },
	{ "header end after body-like line", BYTES("A: 1\r\nB: 2\r\n\r\n\r\nz\r\n.\r\n"),
	  BYTES("A: 1\r\nB: 2\r\n\r\n\r\nz\r\n"), 0, 1, 22, 14 },
};

START_TEST(test_dot_cases)
{
	const struct dot_case *c = &dot_cases[_i];
	struct result want;

	for (int pol = 0; pol < 2; pol++) {
		struct result r;

		run_whole(SMTP_DATA_DOT, (enum smtp_data_policy)pol, 0, c->in, c->in_len, &r);
		want = (struct result){
			.out = { .p = (char *)c->out, .len = c->out_len },
			.flags = c->flags, .size = c->out_len, .header_size = c->header_size,
			.ended = c->ended, .consumed = c->consumed,
		};
		result_same(c->name, c->in, c->in_len, &r, &want);
		buf_free(&r.out);
		check_all_splits(SMTP_DATA_DOT, (enum smtp_data_policy)pol, 0, c->in, c->in_len, &want);
	}
}
END_TEST

/* ------------------------------------------------------------ DOT: smuggling */

/* Each vector sits between "...hello" and "MAIL FROM..." inside a message that
 * really ends later with CRLF.CRLF (reliability.md 1.1, smtpsmug's vectors).
 * None may end the data. want_out is the canonical form of the vector: each bare
 * CR or LF becomes CRLF and the first dot of a line is removed. */
struct smuggle_case {
	const char *vec;
	size_t vec_len;
	const char *want_out;
	size_t want_out_len;
	int bare;               /* holds a bare CR or LF */
	int nul;
};

static const struct smuggle_case smuggle_cases[] = {
	{ BYTES("\n.\n"), BYTES("\r\n\r\n"), 1, 0 },
	{ BYTES("\n.\r"), BYTES("\r\n\r\n"), 1, 0 },
	{ BYTES("\r.\n"), BYTES("\r\n\r\n"), 1, 0 },
	{ BYTES("\r.\r"), BYTES("\r\n\r\n"), 1, 0 },
	{ BYTES("\n.\r\n"), BYTES("\r\n\r\n"), 1, 0 },
	{ BYTES("\r.\r\n"), BYTES("\r\n\r\n"), 1, 0 },
	{ BYTES("\r\n\0.\r\n"), BYTES("\r\n\0.\r\n"), 0, 1 },
	{ BYTES("\r\n.\0\r\n"), BYTES("\r\n\0\r\n"), 0, 1 },
	{ BYTES("\r\n.\r\r\n"), BYTES("\r\n\r\n\r\n"), 1, 0 },
	{ BYTES("\r\r\n.\r\r\n"), BYTES("\r\n\r\n\r\n\r\n"), 1, 0 },
	{ BYTES("\r\n.\n"), BYTES("\r\n\r\n"), 1, 0 },
	{ BYTES("\n.\n.\r\n"), BYTES("\r\n\r\n\r\n"), 1, 0 },
	{ BYTES("\r\n.\r.\r\n"), BYTES("\r\n\r\n\r\n"), 1, 0 },
};

static const char smuggle_head[] = "Subject: t\r\n\r\nhello";
static const char smuggle_tail[] = "MAIL FROM:<a@evil>\r\nRCPT TO:<b@victim>\r\nDATA\r\nspoof";
static const char smuggle_end[] = "\r\n.\r\n";
static const char smuggle_after[] = "QUIT\r\n";

START_TEST(test_smuggling)
{
	const struct smuggle_case *c = &smuggle_cases[_i];
	struct buf in = { 0 }, out = { 0 };

	buf_append(&in, smuggle_head, sizeof(smuggle_head) - 1);
	buf_append(&in, c->vec, c->vec_len);
	buf_append(&in, smuggle_tail, sizeof(smuggle_tail) - 1);
	buf_append(&in, smuggle_end, sizeof(smuggle_end) - 1);
	size_t end_at = in.len;
	buf_append(&in, smuggle_after, sizeof(smuggle_after) - 1);

	buf_append(&out, smuggle_head, sizeof(smuggle_head) - 1);
	buf_append(&out, c->want_out, c->want_out_len);
	buf_append(&out, smuggle_tail, sizeof(smuggle_tail) - 1);
	buf_append(&out, "\r\n", 2);

	for (int pol = 0; pol < 2; pol++) {
		struct result r, want = {
			.out = out, .size = out.len, .header_size = 14, .ended = 1, .consumed = end_at,
		};

		if (c->bare)
			want.flags |= pol == SMTP_DATA_BARE_REJECT ? SMTP_DATA_F_BARE :
			    SMTP_DATA_F_BARE_SEEN;
		if (c->nul)
			want.flags |= SMTP_DATA_F_NUL;
		run_whole(SMTP_DATA_DOT, (enum smtp_data_policy)pol, 0, in.p, in.len, &r);
		result_same(pol ? "normalize" : "reject", in.p, in.len, &r, &want);
		buf_free(&r.out);
		check_all_splits(SMTP_DATA_DOT, (enum smtp_data_policy)pol, 0, in.p, in.len, &want);

		/* The vector alone, with nothing after it, must not end the data either. */
		run_whole(SMTP_DATA_DOT, (enum smtp_data_policy)pol, 0, in.p,
		          sizeof(smuggle_head) - 1 + c->vec_len, &r);
		ck_assert_msg(!r.ended, "vector \"%s\": got ended, want not ended",
		              show(c->vec, c->vec_len));
		buf_free(&r.out);
	}
	buf_free(&in);
	buf_free(&out);
}
END_TEST

/* ------------------------------------------------------------ limits */

struct size_case {
	uint64_t max_size;
	unsigned flags;
	size_t out_len;
};

/* Content "abcd\r\n" is 6 octets. */
static const struct size_case size_cases[] = {
	{ 0, 0, 6 },
	{ 7, 0, 6 },
	{ 6, 0, 6 },
	{ 5, SMTP_DATA_F_TOO_BIG, 5 },
	{ 1, SMTP_DATA_F_TOO_BIG, 1 },
};

START_TEST(test_size_limit)
{
	const struct size_case *c = &size_cases[_i];
	static const char in[] = "abcd\r\n.\r\n";
	struct result r, want = {
		.out = { .p = (char *)"abcd\r\n", .len = c->out_len }, .flags = c->flags,
		.size = 6, .ended = 1, .consumed = sizeof(in) - 1,
	};

	run_whole(SMTP_DATA_DOT, SMTP_DATA_BARE_REJECT, c->max_size, in, sizeof(in) - 1, &r);
	result_same("size limit", in, sizeof(in) - 1, &r, &want);
	buf_free(&r.out);
	check_all_splits(SMTP_DATA_DOT, SMTP_DATA_BARE_REJECT, c->max_size, in, sizeof(in) - 1,
	                 &want);
}
END_TEST

struct line_case {
	enum smtp_data_mode mode;
	int stuffed;            /* the line starts with a stuffing dot */
	size_t text;            /* octets of text before CRLF */
	int crlf;               /* the line is terminated */
	int too_long;
};

/* RFC 5321 4.5.3.1.6: 1000 octets including CRLF, the stuffing dot not counted. */
static const struct line_case line_cases[] = {
	{ SMTP_DATA_DOT, 0, 998, 1, 0 },
	{ SMTP_DATA_DOT, 0, 999, 1, 1 },
	{ SMTP_DATA_DOT, 1, 998, 1, 0 },
	{ SMTP_DATA_DOT, 1, 999, 1, 1 },
	{ SMTP_DATA_DOT, 0, 5000, 1, 1 },
	{ SMTP_DATA_RAW, 0, 998, 1, 0 },
	{ SMTP_DATA_RAW, 0, 999, 1, 1 },
	{ SMTP_DATA_RAW, 0, 998, 0, 0 },
	{ SMTP_DATA_RAW, 0, 999, 0, 1 },
};

START_TEST(test_line_length)
{
	const struct line_case *c = &line_cases[_i];
	struct buf in = { 0 };
	struct result r;
	char *text = xmalloc(c->text);

	memset(text, 'x', c->text);
	if (c->stuffed)
		buf_append(&in, "..", 2);   /* one stuffing dot + a dot of text */
	buf_append(&in, text, c->text - (c->stuffed ? 1 : 0));
	if (c->crlf)
		buf_append(&in, "\r\nshort\r\n", 9);
	if (c->mode == SMTP_DATA_DOT)
		buf_append(&in, ".\r\n", 3);
	run_whole(c->mode, SMTP_DATA_BARE_REJECT, 0, in.p, in.len, &r);
	ck_assert_msg(!!(r.flags & SMTP_DATA_F_LINE_TOO_LONG) == c->too_long,
	              "line of %zu text octets (stuffed %d): got too_long %d, want %d",
	              c->text, c->stuffed, !!(r.flags & SMTP_DATA_F_LINE_TOO_LONG), c->too_long);
	ck_assert_msg(r.size == c->text + (c->crlf ? 9 : 0), "got size %llu, want %zu",
	              (unsigned long long)r.size, c->text + (c->crlf ? 9 : 0));
	buf_free(&r.out);
	/* In 7-octet pieces the result is the same. */
	{
		size_t ncuts = in.len / 7, *cuts = xmalloc((ncuts + 1) * sizeof(*cuts));
		struct result r2;

		for (size_t k = 0; k < ncuts; k++)
			cuts[k] = (k + 1) * 7;
		run_cuts(c->mode, SMTP_DATA_BARE_REJECT, 0, in.p, in.len, cuts, ncuts, &r2);
		ck_assert_msg(r2.flags == r.flags, "in pieces: got flags %#x, want %#x",
		              r2.flags, r.flags);
		buf_free(&r2.out);
		free(cuts);
	}
	free(text);
	buf_free(&in);
}
END_TEST

/* ------------------------------------------------------------ RAW (BDAT) */

static const struct dot_case raw_cases[] = {
	{ "plain", BYTES("a\r\nb\r\n"), BYTES("a\r\nb\r\n"), 0, 0, 6, 0 },
	{ "no unstuffing", BYTES(".a\r\n..\r\n"), BYTES(".a\r\n..\r\n"), 0, 0, 8, 0 },
	{ "no end marker", BYTES("x\r\n.\r\ny"), BYTES("x\r\n.\r\ny"), 0, 0, 7, 0 },
	{ "bare LF", BYTES("a\nb"), BYTES("a\r\nb"), SMTP_DATA_F_BARE, 0, 3, 0 },
	{ "bare CR", BYTES("a\rb"), BYTES("a\r\nb"), SMTP_DATA_F_BARE, 0, 3, 0 },
	{ "trailing CR is bare at finish", BYTES("a\r"), BYTES("a\r\n"), SMTP_DATA_F_BARE, 0, 2, 0 },
	{ "header split", BYTES("S: x\r\n\r\nb"), BYTES("S: x\r\n\r\nb"), 0, 0, 9, 8 },
	{ "NUL", BYTES("\0\r\n"), BYTES("\0\r\n"), SMTP_DATA_F_NUL, 0, 3, 0 },
	{ "empty", BYTES(""), BYTES(""), 0, 0, 0, 0 },
};

START_TEST(test_raw_cases)
{
	const struct dot_case *c = &raw_cases[_i];
	struct result r, want = {
		.out = { .p = (char *)c->out, .len = c->out_len }, .flags = c->flags,
		.size = c->out_len, .header_size = c->header_size, .ended = 0,
		.consumed = c->consumed,
	};

	run_whole(SMTP_DATA_RAW, SMTP_DATA_BARE_REJECT, 0, c->in, c->in_len, &r);
	result_same(c->name, c->in, c->in_len, &r, &want);
	buf_free(&r.out);
	check_all_splits(SMTP_DATA_RAW, SMTP_DATA_BARE_REJECT, 0, c->in, c->in_len, &want);
}
END_TEST

START_TEST(test_raw_cr_across_chunks)
{
	/* BDAT chunk 1 ends in CR, chunk 2 starts with LF: a real CRLF. */
	struct smtp_data d;
	struct buf out = { 0 };

	smtp_data_init(&d, SMTP_DATA_RAW, SMTP_DATA_BARE_REJECT, 0, buf_sink, &out);
	ck_assert_uint_eq(smtp_data_feed(&d, "a\r", 2), 2);
	ck_assert_msg(d.flags == 0, "after chunk 1: got flags %#x, want 0", d.flags);
	ck_assert_uint_eq(smtp_data_feed(&d, "\nb", 2), 2);
	smtp_data_finish(&d);
	ck_assert_msg(d.flags == 0, "got flags %#x, want 0", d.flags);
	ck_assert_msg(out.len == 4 && memcmp(out.p, "a\r\nb", 4) == 0, "got \"%s\", want \"a\\r\\nb\"",
	              show(out.p, out.len));
	buf_free(&out);
}
END_TEST

/* ------------------------------------------------------------ sink behaviour */

START_TEST(test_large_spans)
{
	/* 100 KB of 78-octet lines: the sink gets whole runs, not lines or bytes. */
	struct buf in = { 0 };
	struct result r;
	static const char line[] = "The quick brown fox jumps over the lazy dog, again and again and again...!!\r\n";

	buf_append(&in, "Subject: big\r\n\r\n", 16);
	while (in.len < 100 * 1024)
		buf_append(&in, line, sizeof(line) - 1);
	size_t content = in.len;
	buf_append(&in, ".\r\n", 3);

	run_whole(SMTP_DATA_DOT, SMTP_DATA_BARE_REJECT, 0, in.p, in.len, &r);
	ck_assert_msg(r.ended && r.out.len == content, "got ended %d len %zu, want 1 %zu",
	              r.ended, r.out.len, content);
	ck_assert_msg(r.out.calls <= 2, "one feed: got %u sink calls, want <= 2", r.out.calls);
	buf_free(&r.out);

	size_t ncuts = in.len / 4096, *cuts = xmalloc((ncuts + 1) * sizeof(*cuts));

	for (size_t k = 0; k < ncuts; k++)
		cuts[k] = (k + 1) * 4096;
	run_cuts(SMTP_DATA_DOT, SMTP_DATA_BARE_REJECT, 0, in.p, in.len, cuts, ncuts, &r);
	ck_assert_msg(r.out.len == content && memcmp(r.out.p, in.p, content) == 0,
	              "4 KB pieces: content differs");
	/* at most a run and a held-back CR per piece */
	ck_assert_msg(r.out.calls <= 2 * (ncuts + 1), "4 KB pieces: got %u sink calls, want <= %zu",
	              r.out.calls, 2 * (ncuts + 1));
	buf_free(&r.out);
	free(cuts);
	buf_free(&in);
}
END_TEST

START_TEST(test_sink_error)
{
	static const char in[] = "a\r\n..b\r\n..c\r\n.\r\nQUIT\r\n";
	struct smtp_data d;
	struct buf out = { .fail_at_call = 2 };

	smtp_data_init(&d, SMTP_DATA_DOT, SMTP_DATA_BARE_REJECT, 0, buf_sink, &out);
	size_t n = smtp_data_feed(&d, in, sizeof(in) - 1);
	ck_assert_msg(d.flags == SMTP_DATA_F_SINK_ERROR, "got flags %#x, want %#x", d.flags,
	              SMTP_DATA_F_SINK_ERROR);
	ck_assert_msg(out.calls == 2, "got %u sink calls, want 2 (none after the error)", out.calls);
	ck_assert_msg(d.ended && n == sizeof(in) - 1 - 6, "got ended %d consumed %zu, want 1 %zu",
	              d.ended, n, sizeof(in) - 1 - 6);
	buf_free(&out);
}
END_TEST

/* ------------------------------------------------------------ differential */

/* A straightforward line-at-a-time reading of the rules over the whole input,
 * independent of the resumable machine. */
static void
ref_run(enum smtp_data_mode mode, enum smtp_data_policy policy, uint64_t max_size,
        const char *in, size_t len, struct result *r)
{
	struct buf all = { 0 };
	size_t i = 0;
	int clean = 1, in_header = 1;

	memset(r, 0, sizeof(*r));
	r->consumed = len;
	while (i < len) {
		size_t j = i, next;
		enum { T_NONE, T_CRLF, T_BARE } term;

		while (j < len && in[j] != '\r' && in[j] != '\n')
			j++;
		if (j == len) {
			term = T_NONE;
			next = len;
		} else if (in[j] == '\n') {
			term = T_BARE;
			next = j + 1;
		} else if (j + 1 < len && in[j + 1] == '\n') {
			term = T_CRLF;
			next = j + 2;
		} else if (j + 1 < len) {
			term = T_BARE;
			next = j + 1;
		} else {
			term = mode == SMTP_DATA_RAW ? T_BARE : T_NONE; /* RAW: finish() */
			next = len;
		}
		size_t cs = i, ce = j;

		if (mode == SMTP_DATA_DOT && ce > cs && in[cs] == '.') {
			if (clean && ce - cs == 1 && term == T_CRLF) {
				r->ended = 1;
				r->consumed = next;
				break;
			}
			cs++;
		}
		buf_append(&all, in + cs, ce - cs);
		if (memchr(in + cs, '\0', ce - cs) != NULL)
			r->flags |= SMTP_DATA_F_NUL;
		if (ce - cs > 998)
			r->flags |= SMTP_DATA_F_LINE_TOO_LONG;
		if (term != T_NONE) {
			buf_append(&all, "\r\n", 2);
			if (term == T_BARE)
				r->flags |= policy == SMTP_DATA_BARE_REJECT ? SMTP_DATA_F_BARE :
				    SMTP_DATA_F_BARE_SEEN;
			if (in_header && ce == cs) {
				r->header_size = all.len;
				in_header = 0;
			}
		}
		clean = term == T_CRLF;
		i = next;
	}
	r->size = all.len;
	if (max_size != 0 && all.len > max_size) {
		r->flags |= SMTP_DATA_F_TOO_BIG;
		all.len = max_size;
	}
	r->out = all;
	if (r->out.len == 0)
		buf_free(&r->out);
}

static uint32_t rng_state = 12345;

static uint32_t
rng(void)
{
	rng_state = rng_state * 1103515245u + 12345u;
	return rng_state >> 16;
}

START_TEST(test_differential)
{
	static const char alphabet[] = { '\r', '\n', '.', 'a', '\0' };
	char in[24];

	rng_state = 12345;
	for (int k = 0; k < 6000; k++) {
		size_t len = rng() % sizeof(in);
		enum smtp_data_mode mode = k % 4 == 3 ? SMTP_DATA_RAW : SMTP_DATA_DOT;
		enum smtp_data_policy pol = (enum smtp_data_policy)(rng() % 2);
		uint64_t max = rng() % 3 == 0 ? rng() % 16 : 0;
		struct result want, got;
		size_t cuts[4];
		size_t ncuts = len ? rng() % 4 : 0;

		for (size_t i = 0; i < len; i++)
			in[i] = alphabet[rng() % sizeof(alphabet)];
		/* Often end like a real message, so the end marker is reachable. */
		if (len >= 3 && rng() % 2)
			memcpy(in + len - 3, ".\r\n", 3);
		for (size_t c = 0; c < ncuts; c++)
			cuts[c] = rng() % (len + 1);
		for (size_t a = 0; a < ncuts; a++)     /* sort the cuts */
			for (size_t b = a + 1; b < ncuts; b++)
				if (cuts[b] < cuts[a]) {
					size_t t = cuts[a];
					cuts[a] = cuts[b];
					cuts[b] = t;
				}

		ref_run(mode, pol, max, in, len, &want);
		run_whole(mode, pol, max, in, len, &got);
		result_same(mode == SMTP_DATA_DOT ? "differential DOT" : "differential RAW", in, len,
		            &got, &want);
		buf_free(&got.out);
		run_cuts(mode, pol, max, in, len, cuts, ncuts, &got);
		result_same("differential in pieces", in, len, &got, &want);
		buf_free(&got.out);
		buf_free(&want.out);
	}
}
END_TEST

/* ------------------------------------------------------------ stuffing */

struct stuff_case {
	const char *in;
	size_t in_len;
	const char *out;
	size_t out_len;
};

/* RFC 5321 4.5.2: a '.' is added before a line that starts with '.'; the end is
 * CRLF.CRLF, whose first CRLF is the content's last line end. */
static const struct stuff_case stuff_cases[] = {
	{ BYTES(""), BYTES(".\r\n") },
	{ BYTES("a\r\n"), BYTES("a\r\n.\r\n") },
	{ BYTES("a"), BYTES("a\r\n.\r\n") },
	{ BYTES(".\r\n"), BYTES("..\r\n.\r\n") },
	{ BYTES("."), BYTES("..\r\n.\r\n") },
	{ BYTES(".a\r\n.b\r\n"), BYTES("..a\r\n..b\r\n.\r\n") },
	{ BYTES("a.b\r\nc.\r\n"), BYTES("a.b\r\nc.\r\n.\r\n") },
	{ BYTES("...\r\n...."), BYTES("....\r\n.....\r\n.\r\n") },
	{ BYTES("\r\n.\r\n"), BYTES("\r\n..\r\n.\r\n") },
	{ BYTES("a\r"), BYTES("a\r\r\n.\r\n") },
	/* Not canonical (smtp_data never emits these): a dot after any CR or LF is
	 * stuffed and a bare LF at the end still gets a CRLF, so a lenient backend
	 * cannot find an end marker either. */
	{ BYTES("a\n"), BYTES("a\n\r\n.\r\n") },
	{ BYTES("a\n.\r\n"), BYTES("a\n..\r\n.\r\n") },
	{ BYTES("a\r.\r\n"), BYTES("a\r..\r\n.\r\n") },
};

START_TEST(test_stuff_cases)
{
	const struct stuff_case *c = &stuff_cases[_i];

	/* whole, and byte by byte */
	for (int bytewise = 0; bytewise < 2; bytewise++) {
		struct smtp_stuff s;
		struct buf out = { 0 };

		smtp_stuff_init(&s);
		if (bytewise) {
			for (size_t i = 0; i < c->in_len; i++)
				ck_assert_int_eq(smtp_stuff_feed(&s, c->in + i, 1, buf_sink, &out), 0);
		} else {
			ck_assert_int_eq(smtp_stuff_feed(&s, c->in, c->in_len, buf_sink, &out), 0);
		}
		ck_assert_int_eq(smtp_stuff_end(&s, buf_sink, &out), 0);
		ck_assert_msg(out.len == c->out_len && memcmp(out.p, c->out, out.len) == 0,
		              "stuff \"%s\" (bytewise %d): got \"%s\", want \"%s\"",
		              show(c->in, c->in_len), bytewise, show(out.p, out.len),
		              show(c->out, c->out_len));
		buf_free(&out);
	}
}
END_TEST

/* unstuff(stuff(x)) == x for canonical x, in one piece and in random pieces. */
static void
round_trip(const char *x, size_t len, size_t piece)
{
	struct smtp_stuff s;
	struct buf wire = { 0 }, want = { 0 };
	struct result r;

	smtp_stuff_init(&s);
	for (size_t i = 0; i < len; i += piece) {
		size_t n = len - i < piece ? len - i : piece;

		ck_assert_int_eq(smtp_stuff_feed(&s, x + i, n, buf_sink, &wire), 0);
	}
	ck_assert_int_eq(smtp_stuff_end(&s, buf_sink, &wire), 0);
	buf_append(&wire, "NOOP\r\n", 6);

	buf_append(&want, x, len);
	if (len > 0 && (len < 2 || memcmp(x + len - 2, "\r\n", 2) != 0))
		buf_append(&want, "\r\n", 2);

	run_whole(SMTP_DATA_DOT, SMTP_DATA_BARE_REJECT, 0, wire.p, wire.len, &r);
	ck_assert_msg(r.ended && r.consumed == wire.len - 6,
	              "round trip \"%s\": got ended %d consumed %zu, want 1 %zu",
	              show(x, len), r.ended, r.consumed, wire.len - 6);
	ck_assert_msg(r.out.len == want.len &&
	              (want.len == 0 || memcmp(r.out.p, want.p, want.len) == 0),
	              "round trip \"%s\": got \"%s\", want \"%s\"", show(x, len),
	              show(r.out.p, r.out.len), show(want.p, want.len));
	ck_assert_msg((r.flags & ~(unsigned)SMTP_DATA_F_NUL) == 0, "round trip \"%s\": got flags %#x",
	              show(x, len), r.flags);
	buf_free(&r.out);
	buf_free(&wire);
	buf_free(&want);
}

static const struct stuff_case round_trip_cases[] = {
	{ BYTES(""), NULL, 0 },
	{ BYTES("."), NULL, 0 },
	{ BYTES(".\r\n"), NULL, 0 },
	{ BYTES("..\r\n"), NULL, 0 },
	{ BYTES("...\r\n.\r\n..\r\n"), NULL, 0 },
	{ BYTES("\r\n.\r\n\r\n"), NULL, 0 },
	{ BYTES("Subject: x\r\n\r\n.\r\n..\r\n.end"), NULL, 0 },
	{ BYTES(".\0\r\n\0.\r\n"), NULL, 0 },
};

START_TEST(test_stuff_round_trip)
{
	const struct stuff_case *c = &round_trip_cases[_i];

	for (size_t piece = 1; piece <= c->in_len + 1; piece++)
		round_trip(c->in, c->in_len, piece);
}
END_TEST

START_TEST(test_stuff_round_trip_random)
{
	static const char alphabet[] = { '.', '.', 'a', '\0' };
	char x[64];

	rng_state = 777;
	for (int k = 0; k < 3000; k++) {
		size_t len = 0, lines = rng() % 5;

		for (size_t l = 0; l < lines; l++) {
			size_t n = rng() % 6;

			for (size_t i = 0; i < n; i++)
				x[len++] = alphabet[rng() % sizeof(alphabet)];
			if (l + 1 < lines || rng() % 2) {
				x[len++] = '\r';
				x[len++] = '\n';
			}
		}
		round_trip(x, len, 1 + rng() % 8);
	}
}
END_TEST

START_TEST(test_stuff_large_spans)
{
	struct smtp_stuff s;
	struct buf out = { 0 };
	char *x = xmalloc(100 * 1024);

	for (size_t i = 0; i < 100 * 1024; i++)
		x[i] = i % 80 == 78 ? '\r' : i % 80 == 79 ? '\n' : 'a' + i % 26;
	x[80 * 10] = '.';       /* one line starts with a dot */
	smtp_stuff_init(&s);
	ck_assert_int_eq(smtp_stuff_feed(&s, x, 100 * 1024, buf_sink, &out), 0);
	ck_assert_msg(out.calls == 3, "got %u sink calls, want 3 (run, dot, run)", out.calls);
	ck_assert_msg(out.len == 100 * 1024 + 1, "got %zu octets, want %d", out.len, 100 * 1024 + 1);
	free(x);
	buf_free(&out);
}
END_TEST

START_TEST(test_stuff_sink_error)
{
	struct smtp_stuff s;
	struct buf out = { .fail_at_call = 1 };

	smtp_stuff_init(&s);
	ck_assert_int_eq(smtp_stuff_feed(&s, "abc", 3, buf_sink, &out), -1);
	ck_assert_int_eq(smtp_stuff_end(&s, buf_sink, &out), -1);
	buf_free(&out);
}
END_TEST

static Suite *
smtp_data_suite(void)
{
	Suite *s = suite_create("smtp_data");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_dot_cases, 0, ARRAY_LEN(dot_cases));
	tcase_add_loop_test(tc, test_smuggling, 0, ARRAY_LEN(smuggle_cases));
	tcase_add_loop_test(tc, test_size_limit, 0, ARRAY_LEN(size_cases));
	tcase_add_loop_test(tc, test_line_length, 0, ARRAY_LEN(line_cases));
	tcase_add_loop_test(tc, test_raw_cases, 0, ARRAY_LEN(raw_cases));
	tcase_add_test(tc, test_raw_cr_across_chunks);
	tcase_add_test(tc, test_large_spans);
	tcase_add_test(tc, test_sink_error);
	tcase_add_test(tc, test_differential);
	tcase_add_loop_test(tc, test_stuff_cases, 0, ARRAY_LEN(stuff_cases));
	tcase_add_loop_test(tc, test_stuff_round_trip, 0, ARRAY_LEN(round_trip_cases));
	tcase_add_test(tc, test_stuff_round_trip_random);
	tcase_add_test(tc, test_stuff_large_spans);
	tcase_add_test(tc, test_stuff_sink_error);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(smtp_data_suite());

	srunner_run_all(sr, CK_ENV);
	int nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf ? EXIT_FAILURE : EXIT_SUCCESS;
}
