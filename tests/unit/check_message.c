/* check_message.c - unit tests for header parsing, filter edits and the output iterator.
 * Expected bytes are written out by hand from RFC 5322 (2.1.1 line limit, 2.2
 * fields, 2.2.3 folding, 2.1 header/body separation), not taken from the code. */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "message.h"
#include "smtp_data.h"
#include "spool.h"
#include "util.h"

#define BYTES(s) s, sizeof(s) - 1
#define PREFIX "Received: from client.example (client.example [192.0.2.1])\r\n" \
	"\tby mx.example.com (sluice) with ESMTP id 1AT1; Mon, 1 Jan 2024 00:00:00 +0000\r\n"

static char tmpdir[64];

static void
dir_setup(void)
{
	strlcpy_s(tmpdir, "/tmp/check_message.XXXXXX", sizeof(tmpdir));
	ck_assert_msg(mkdtemp(tmpdir) != NULL, "mkdtemp: %s", strerror(errno));
}

static void
dir_teardown(void)
{
	rmdir(tmpdir);
}

/* ------------------------------------------------------------ helpers */

/* Printable rendering of bytes for failure messages (static, truncated). */
static const char *
esc(const char *p, size_t len)
{
	static char out[2][4096];
	static int k;
	char *o = out[k ^= 1];
	size_t n = 0;

	for (size_t i = 0; i < len && n < sizeof(out[0]) - 8; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c == '\r')
			n += (size_t)snprintf(o + n, 8, "\\r");
		else if (c == '\n')
			n += (size_t)snprintf(o + n, 8, "\\n");
		else if (c == '\t')
			n += (size_t)snprintf(o + n, 8, "\\t");
		else if (c < 32 || c >= 127)
			n += (size_t)snprintf(o + n, 8, "\\x%02x", c);
		else
			o[n++] = (char)c;
	}
	o[n] = '\0';
	return o;
}

/* Content through the DATA machine (BDAT mode) into a spool, as the session
 * does; header_size from the machine. */
static struct spool *
make_spool(const char *content, size_t len, size_t mem_limit, uint64_t *header_size_r)
{
	struct spool *sp = spool_new(tmpdir, mem_limit);
	struct smtp_data d;

	smtp_data_init(&d, SMTP_DATA_RAW, SMTP_DATA_BARE_NORMALIZE, 0, spool_sink, sp);
	smtp_data_feed(&d, content, len);
	smtp_data_finish(&d);
	ck_assert_msg(spool_size(sp) == len, "spool holds %llu octets, want %zu",
	              (unsigned long long)spool_size(sp), len);
	ck_assert_msg(spool_on_disk(sp) == (mem_limit < len), "spool on disk: got %d, want %d",
	              spool_on_disk(sp), mem_limit < len);
	*header_size_r = d.header_size;
	return sp;
}

struct outbuf {
	char *p;
	size_t len;
};

/* All of the output, pulled piece octets at a time. */
static struct outbuf
out_all(struct message *m, const char *prefix, size_t prefix_len, size_t piece)
{
	struct message_out o;
	struct outbuf b = { NULL, 0 };
	size_t cap = 0;
	char *buf = xmalloc(piece);
	ssize_t n;

	message_out_init(&o, m, prefix, prefix_len);
	while ((n = message_out_read(&o, buf, piece)) > 0) {
		ck_assert_msg((size_t)n <= piece, "got %zd octets, asked at most %zu", n, piece);
		if (b.len + (size_t)n > cap) {
			cap = (b.len + (size_t)n) * 2;
			b.p = xrealloc(b.p, cap + 1);
		}
		memcpy(b.p + b.len, buf, (size_t)n);
		b.len += (size_t)n;
	}
	ck_assert_msg(n == 0, "read error: %zd (%s)", n, strerror(errno));
	ck_assert_msg(message_out_read(&o, buf, piece) == 0, "read after the end: want 0");
	ck_assert_msg(o.total == b.len, "total %llu, want %zu", (unsigned long long)o.total, b.len);
	free(buf);
	if (b.p == NULL)
		b.p = xmalloc(1);
	return b;
}

static const size_t pieces[] = { 1, 2, 3, 7, 64, 4096, 1 << 20 };

/* The output equals want for every piece size. */
static void
check_output(struct message *m, const char *prefix, size_t prefix_len, const char *want, size_t want_len)
{
	for (size_t k = 0; k < ARRAY_LEN(pieces); k++) {
		struct outbuf b = out_all(m, prefix, prefix_len, pieces[k]);
		size_t at = 0;

		while (at < b.len && at < want_len && b.p[at] == want[at])
			at++;
		if (b.len != want_len || at != want_len)
			ck_abort_msg("pieces of %zu: output differs at octet %zu (got %zu octets, want %zu)\n"
			             "got:  %s\nwant: %s", pieces[k], at, b.len, want_len,
			             esc(b.p + (at > 40 ? at - 40 : 0), b.len - (at > 40 ? at - 40 : 0)),
			             esc(want + (at > 40 ? at - 40 : 0), want_len - (at > 40 ? at - 40 : 0)));
		free(b.p);
	}
}

/* Concatenation, for expected outputs. */
static char *
cat(size_t *len_r, const char *a, size_t alen, const char *b, size_t blen)
{
	char *p = xmalloc(alen + blen + 1);

	memcpy(p, a, alen);
	memcpy(p + alen, b, blen);
	*len_r = alen + blen;
	return p;
}

/* ------------------------------------------------------------ parsing */

struct parse_case {
	const char *in;
	size_t nfields;
	const char *fields[8][2];     /* name, value */
};

static const struct parse_case parse_cases[] = {
	{ "From: a@example.org\r\nSubject: hi\r\n\r\nbody\r\n", 2,
	  { { "From", " a@example.org" }, { "Subject", " hi" } } },
	/* RFC 5322 2.2.3: CRLF followed by WSP continues the field; the raw value keeps it. */
	{ "Subject: a\r\n b\r\n\tc\r\nTo: x@example.org\r\n\r\nbody", 2,
	  { { "Subject", " a\r\n b\r\n\tc" }, { "To", " x@example.org" } } },
	{ "X-A:v\r\nX-Empty:\r\n\r\n", 2, { { "X-A", "v" }, { "X-Empty", "" } } },
	/* RFC 5322 4.5: obsolete white space before the colon. */
	{ "Subject : hi\r\n\r\n", 1, { { "Subject", " hi" } } },
	/* A value may hold any colon after the first. */
	{ "Date: Mon, 1 Jan 2024 00:00:00 +0000\r\n\r\n", 1,
	  { { "Date", " Mon, 1 Jan 2024 00:00:00 +0000" } } },
	/* Not starting with a header field: all body. */
	{ "Hello world\r\n\r\nmore\r\n", 0, { { NULL, NULL } } },
	{ "\r\nbody only\r\n", 0, { { NULL, NULL } } },
	{ " x: continuation first\r\n\r\n", 0, { { NULL, NULL } } },
	{ ": no name\r\n\r\n", 0, { { NULL, NULL } } },
	{ "", 0, { { NULL, NULL } } },
	/* Inside the header section a line without a colon is kept as an opaque field. */
	{ "A: 1\r\ngarbage line\r\nB: 2\r\n\r\nbody", 3,
	  { { "A", " 1" }, { "", "garbage line" }, { "B", " 2" } } },
	/* No empty line: fields while lines are fields; then body. */
	{ "A: 1\r\nB: 2\r\n", 2, { { "A", " 1" }, { "B", " 2" } } },
	{ "A: 1\r\nnot a header\r\nC: 3\r\n", 1, { { "A", " 1" } } },
	{ "A: 1\r\nB: 2", 1, { { "A", " 1" } } },
	/* The empty line ends the header; fields after it are body. */
	{ "A: 1\r\n\r\nB: 2\r\n", 1, { { "A", " 1" } } },
};

START_TEST(test_parse)
{
	const struct parse_case *c = &parse_cases[_i];
	uint64_t hs;
	struct spool *sp = make_spool(c->in, strlen(c->in), 1 << 20, &hs);
	struct message *m = message_new(tmpdir, 1 << 20);

	ck_assert_int_eq(message_parse(m, sp, hs), 0);
	ck_assert_msg(message_nfields(m) == c->nfields, "\"%s\": got %zu fields, want %zu",
	              esc(c->in, strlen(c->in)), message_nfields(m), c->nfields);
	for (size_t i = 0; i < c->nfields; i++) {
		ck_assert_msg(strcmp(message_field_name(m, i), c->fields[i][0]) == 0,
		              "field %zu: got name \"%s\", want \"%s\"", i, message_field_name(m, i),
		              c->fields[i][0]);
		const char *v = message_field_value(m, i);
		ck_assert_msg(strcmp(v, c->fields[i][1]) == 0, "field %zu: got value \"%s\", want \"%s\"", i,
		              esc(v, strlen(v)), esc(c->fields[i][1], strlen(c->fields[i][1])));
	}
	ck_assert_msg(message_field_name(m, c->nfields) == NULL, "name past the end: want NULL");
	ck_assert_msg(message_field_value(m, c->nfields) == NULL, "value past the end: want NULL");
	/* No edits: the output is the prefix and the content, byte for byte. */
	size_t wl;
	char *want = cat(&wl, BYTES(PREFIX), c->in, strlen(c->in));
	check_output(m, BYTES(PREFIX), want, wl);
	free(want);
	message_free(&m);
	ck_assert_ptr_null(m);
	spool_free(&sp);
}
END_TEST

START_TEST(test_lookup)
{
	static const char in[] = "Received: a\r\nreceived: b\r\nSubject: s\r\nRECEIVED: c\r\n\r\nx\r\n";
	uint64_t hs;
	struct spool *sp = make_spool(BYTES(in), 1 << 20, &hs);
	struct message *m = message_new(tmpdir, 1 << 20);
	static const struct { const char *name; size_t index; const char *want; } cases[] = {
		{ "received", 1, " a" }, { "Received", 2, " b" }, { "RECEIVED", 3, " c" },
		{ "Received", 4, NULL }, { "Received", 0, NULL }, { "subject", 1, " s" },
		{ "Subj", 1, NULL }, { "", 1, NULL }, { "X-None", 1, NULL },
	};

	ck_assert_int_eq(message_parse(m, sp, hs), 0);
	ck_assert_uint_eq(message_header_count(m, "received"), 3);
	ck_assert_uint_eq(message_header_count(m, "SUBJECT"), 1);
	ck_assert_uint_eq(message_header_count(m, "X-None"), 0);
	ck_assert_uint_eq(message_header_count(m, ""), 0);
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		const char *got = message_header_get(m, cases[i].name, cases[i].index);
		if (cases[i].want == NULL)
			ck_assert_msg(got == NULL, "get(%s, %zu): got \"%s\", want NULL", cases[i].name,
			              cases[i].index, got);
		else
			ck_assert_msg(got != NULL && strcmp(got, cases[i].want) == 0,
			              "get(%s, %zu): got \"%s\", want \"%s\"", cases[i].name, cases[i].index,
			              got ? got : "(null)", cases[i].want);
	}
	message_free(&m);
	spool_free(&sp);
}
END_TEST

/* ------------------------------------------------------------ round trip */

struct trip_case {
	const char *in;
	size_t len;
};

static const char nul_body[] = "Subject: nul\r\n\r\nbefore\0after\r\n\0\r\n";
static const char nul_header[] = "X-Nul: a\0b\r\n\r\nbody\r\n";
static const struct trip_case trip_cases[] = {
	{ BYTES("From: a@example.org\r\nTo: b@example.net\r\nSubject: t\r\n\r\nbody\r\n.dot line\r\n") },
	{ BYTES("") },
	{ BYTES("\r\n") },
	{ BYTES("body only, no header\r\n") },
	{ BYTES("A: 1\r\nB: 2\r\n") },                /* no header/body separator */
	{ BYTES("A: 1\r\nB: 2") },                    /* nor a final CRLF (BDAT) */
	{ BYTES("Subject: folded\r\n\tmore\r\n  and more\r\n\r\n") },
	{ nul_body, sizeof(nul_body) - 1 },
	{ nul_header, sizeof(nul_header) - 1 },
};

START_TEST(test_round_trip)
{
	const struct trip_case *c = &trip_cases[_i];

	/* Memory spool and on-disk spool (mem_limit 0). */
	for (int disk = 0; disk < 2; disk++) {
		uint64_t hs;
		struct spool *sp = make_spool(c->in, c->len, disk ? 0 : 1 << 20, &hs);
		struct message *m = message_new(tmpdir, 1 << 20);
		size_t wl;
		char *want;

		ck_assert_int_eq(message_parse(m, sp, hs), 0);
		want = cat(&wl, BYTES(PREFIX), c->in, c->len);
		check_output(m, BYTES(PREFIX), want, wl);
		free(want);
		/* And without a prefix: the content alone. */
		check_output(m, "", 0, c->in, c->len);
		message_free(&m);
		spool_free(&sp);
	}
}
END_TEST

/* A large body from an on-disk spool, with a header edit. */
START_TEST(test_large_disk)
{
	static const char head[] = "Subject: big\r\n\r\n";
	size_t blen = 3 * 1024 * 1024 + 17, len = sizeof(head) - 1 + blen, wl;
	char *in = xmalloc(len), *want;
	uint64_t hs;

	memcpy(in, head, sizeof(head) - 1);
	for (size_t i = 0; i < blen; i++)
		in[sizeof(head) - 1 + i] = (i % 77 == 76) ? '\n' : (i % 77 == 75) ? '\r' : (char)('a' + i % 26);
	struct spool *sp = make_spool(in, len, 0, &hs);
	struct message *m = message_new(tmpdir, 0);

	ck_assert_int_eq(message_parse(m, sp, hs), 0);
	ck_assert_uint_eq(hs, sizeof(head) - 1);
	ck_assert_int_eq(message_header_add(m, "X-Big", "yes", NULL), 0);
	want = xmalloc(len + 64 + sizeof(PREFIX));
	wl = 0;
	memcpy(want + wl, "X-Big: yes\r\n", 12);
	wl += 12;
	memcpy(want + wl, PREFIX, sizeof(PREFIX) - 1);
	wl += sizeof(PREFIX) - 1;
	memcpy(want + wl, in, len);
	wl += len;
	check_output(m, BYTES(PREFIX), want, wl);
	free(want);
	free(in);
	message_free(&m);
	spool_free(&sp);
}
END_TEST

/* ------------------------------------------------------------ header edits */

static const char edit_in[] =
	"From: a@example.org\r\n"
	"To: b@example.net\r\n"
	"Subject: hello\r\n"
	"X-Spam: old\r\n"
	"\r\n"
	"body\r\n";

START_TEST(test_edits_combined)
{
	static const char want[] =
		"Authentication-Results: mx.example.com; spf=pass\r\n"
		"X-Score: 1.5\r\n"
		PREFIX
		"X-Top: 1\r\n"
		"From: a@example.org\r\n"
		"To: folded\r\n\tline\r\n"
		"X-Before-Subject: 2\r\n"
		"X-Before-Subject-2: 4\r\n"
		"Subject: changed\r\n"
		"X-End: 3\r\n"
		"\r\n"
		"body\r\n";
	uint64_t hs;

	for (int disk = 0; disk < 2; disk++) {
		struct spool *sp = make_spool(BYTES(edit_in), disk ? 0 : 4096, &hs);
		struct message *m = message_new(tmpdir, 4096);
		const char *why = NULL;

		ck_assert_int_eq(message_parse(m, sp, hs), 0);
		ck_assert_int_eq(message_header_insert(m, 99, "X-End", "3", &why), 0);
		ck_assert_int_eq(message_header_add(m, "Authentication-Results", "mx.example.com; spf=pass", &why), 0);
		ck_assert_int_eq(message_header_insert(m, 2, "X-Before-Subject", "2", &why), 0);
		ck_assert_int_eq(message_header_change(m, "X-SPAM", 1, NULL, &why), 0);
		ck_assert_int_eq(message_header_insert(m, 0, "X-Top", "1", &why), 0);
		ck_assert_int_eq(message_header_add(m, "X-Score", "1.5", &why), 0);
		/* The last change of a field wins; the received spelling of the name stays. */
		ck_assert_int_eq(message_header_change(m, "Subject", 1, "first", &why), 0);
		ck_assert_int_eq(message_header_change(m, "subject", 1, "changed", &why), 0);
		ck_assert_int_eq(message_header_insert(m, 2, "X-Before-Subject-2", "4", &why), 0);
		/* A value starting with white space is written right after the colon. */
		ck_assert_int_eq(message_header_change(m, "To", 1, " folded\n\tline", &why), 0);
		check_output(m, BYTES(PREFIX), BYTES(want));
		/* Reads still see the message as received. */
		ck_assert_str_eq(message_header_get(m, "Subject", 1), " hello");
		ck_assert_str_eq(message_header_get(m, "X-Spam", 1), " old");
		ck_assert_uint_eq(message_header_count(m, "X-Top"), 0);
		message_free(&m);
		spool_free(&sp);
	}
}
END_TEST

START_TEST(test_edits_same_name)
{
	static const char in[] = "Received: r1\r\nReceived: r2\r\nReceived: r3\r\n\r\nb\r\n";
	static const char want[] =
		PREFIX
		"Received: r1\r\n"
		"Received: two\r\n"
		"\r\nb\r\n";
	uint64_t hs;
	struct spool *sp = make_spool(BYTES(in), 4096, &hs);
	struct message *m = message_new(tmpdir, 4096);

	ck_assert_int_eq(message_parse(m, sp, hs), 0);
	/* Indexes count received fields whatever was edited before. */
	ck_assert_int_eq(message_header_change(m, "Received", 3, NULL, NULL), 0);
	ck_assert_int_eq(message_header_change(m, "Received", 2, NULL, NULL), 0);
	ck_assert_int_eq(message_header_change(m, "Received", 3, NULL, NULL), 0);
	/* A change after a delete brings the field back. */
	ck_assert_int_eq(message_header_change(m, "Received", 2, "two", NULL), 0);
	check_output(m, BYTES(PREFIX), BYTES(want));
	message_free(&m);
	spool_free(&sp);
}
END_TEST

/* message_fields_remove's test: names starting with "X-Drop". */
static int
drop_match(const char *name, const char *value, void *arg)
{
	(void)value;
	return strncasecmp(name, arg, strlen(arg)) == 0;
}

/* Removed fields are neither read nor sent; indexes and positions afterwards
 * count the fields that are left; a folded field goes whole. */
START_TEST(test_fields_remove)
{
	static const char in[] = "X-Drop: 1\r\nA: a\r\nx-drop-too: 2\r\n\tfolded\r\nB: b\r\n\r\nbody\r\n";
	static const char want[] = PREFIX "A: a\r\nI: i\r\nB: changed\r\n\r\nbody\r\n";
	uint64_t hs;
	struct spool *sp = make_spool(BYTES(in), 4096, &hs);
	struct message *m = message_new(tmpdir, 4096);

	ck_assert_int_eq(message_parse(m, sp, hs), 0);
	ck_assert_uint_eq(message_fields_remove(m, drop_match, "X-Drop"), 2);
	ck_assert_uint_eq(message_nfields(m), 2);
	ck_assert_str_eq(message_field_name(m, 0), "A");
	ck_assert_uint_eq(message_header_count(m, "X-Drop"), 0);
	ck_assert_ptr_null(message_header_get(m, "x-drop-too", 1));
	ck_assert_int_eq(message_header_insert(m, 1, "I", "i", NULL), 0);
	ck_assert_int_eq(message_header_change(m, "B", 1, "changed", NULL), 0);
	check_output(m, BYTES(PREFIX), BYTES(want));
	ck_assert_uint_eq(message_fields_remove(m, drop_match, "X-Drop"), 0);
	message_free(&m);
	spool_free(&sp);
}
END_TEST

/* Inserting into a message without header fields, and writing back a value read. */
START_TEST(test_edits_no_header)
{
	static const char in[] = "just a body\r\n";
	static const char want[] = "A: 1\r\n" PREFIX "I: 2\r\njust a body\r\n";
	uint64_t hs;
	struct spool *sp = make_spool(BYTES(in), 4096, &hs);
	struct message *m = message_new(tmpdir, 4096);

	ck_assert_int_eq(message_parse(m, sp, hs), 0);
	ck_assert_uint_eq(message_nfields(m), 0);
	ck_assert_int_eq(message_header_add(m, "A", "1", NULL), 0);
	ck_assert_int_eq(message_header_insert(m, 5, "I", "2", NULL), 0);
	ck_assert_int_eq(message_header_change(m, "A", 1, "x", NULL), -1);
	check_output(m, BYTES(PREFIX), BYTES(want));
	message_free(&m);
	spool_free(&sp);
}
END_TEST

START_TEST(test_change_same_value)
{
	static const char in[] = "Subject:  two spaces\r\n\tfolded\r\nX:y\r\n\r\nb\r\n";
	uint64_t hs;
	struct spool *sp = make_spool(BYTES(in), 4096, &hs);
	struct message *m = message_new(tmpdir, 4096);

	ck_assert_int_eq(message_parse(m, sp, hs), 0);
	/* The raw value holds CRLF, which a filter cannot write back... */
	ck_assert_int_eq(message_header_change(m, "Subject", 1, message_header_get(m, "Subject", 1), NULL), -1);
	/* ...but an unfolded value written back reproduces its line. */
	ck_assert_int_eq(message_header_change(m, "Subject", 1, "  two spaces\n\tfolded", NULL), 0);
	ck_assert_int_eq(message_header_change(m, "X", 1, "y", NULL), 0);
	check_output(m, BYTES(PREFIX), BYTES(PREFIX "Subject:  two spaces\r\n\tfolded\r\nX: y\r\n\r\nb\r\n"));
	message_free(&m);
	spool_free(&sp);
}
END_TEST

/* ------------------------------------------------------------ refusals */

static char long_value[1200];

struct refuse_case {
	const char *name;
	const char *value;            /* "#N" = N times 'v' (text around it kept) */
	int ok;                       /* add and insert with this name */
	int change_ok;                /* change of the received "Subject" to this value */
};

static const struct refuse_case refuse_cases[] = {
	{ "X-Ok", "fine", 1, 1 },
	{ "X-Ok", "", 1, 1 },
	{ "X-Ok", "a\n\tb", 1, 1 },
	{ "X-Ok", "caf\xc3\xa9", 1, 1 },                /* RFC 6532: UTF-8 in values */
	{ "X-Bad", "a\rb", 0, 0 },                      /* bare CR */
	{ "X-Bad", "a\r\n\tb", 0, 0 },                  /* CR even in a fold */
	{ "X-Bad", "a\nb", 0, 0 },                      /* bare LF */
	{ "X-Bad", "a\n b", 0, 0 },                     /* only "\n\t" folds */
	{ "X-Bad", "a\n\t", 0, 0 },                     /* fold to a white space line */
	{ "X-Bad", "a\n\t \n\tb", 0, 0 },
	{ "", "v", 0, 1 },                              /* empty name */
	{ "Bad Name", "v", 0, 1 },
	{ "Bad:Name", "v", 0, 1 },
	{ "Bad\tName", "v", 0, 1 },
	{ "Bad\x7fName", "v", 0, 1 },
	{ "B\xc3\xa4" "d", "v", 0, 1 },                    /* RFC 5322 2.2: ftext is 33..126 */
	{ "X", "#995", 1, 0 },                          /* "X: " + 995 = 998 octets */
	{ "X", "#996", 0, 0 },                          /* 999 */
	{ "X", "#989", 1, 1 },                          /* "Subject: " + 989 = 998 */
	{ "X", "#990", 1, 0 },                          /* "Subject: " + 990 = 999 */
	{ "X", "a\n\t#997", 1, 1 },                     /* second line TAB + 997 = 998 */
	{ "X", "a\n\t#998", 0, 0 },                     /* 999 */
	{ "X", "#996\n\tb", 0, 0 },                     /* first line 999, then a fold */
	{ "X", "#995\n\tb", 1, 0 },
	{ "X", " #995", 1, 0 },                         /* "X:" + SP + 995 = 998 */
	{ "X", " #996", 0, 0 },                         /* 999 */
};

static const char *
expand(const char *v, char *buf, size_t size)
{
	const char *h = strchr(v, '#');
	char *rest;
	size_t pre, n;

	if (h == NULL)
		return v;
	pre = (size_t)(h - v);
	n = (size_t)strtoul(h + 1, &rest, 10);
	ck_assert(pre + n + strlen(rest) < size);
	memcpy(buf, v, pre);
	memset(buf + pre, 'v', n);
	strlcpy_s(buf + pre + n, rest, size - pre - n);
	return buf;
}

START_TEST(test_refusals)
{
	const struct refuse_case *c = &refuse_cases[_i];
	const char *value = expand(c->value, long_value, sizeof(long_value));
	uint64_t hs;
	struct spool *sp = make_spool(BYTES(edit_in), 4096, &hs);
	struct message *m = message_new(tmpdir, 4096);
	const char *why;
	int rc;

	ck_assert_int_eq(message_parse(m, sp, hs), 0);
	for (int kind = 0; kind < 3; kind++) {
		int want = (kind == 2 ? c->change_ok : c->ok) ? 0 : -1;

		why = NULL;
		rc = kind == 0 ? message_header_add(m, c->name, value, &why) :
		     kind == 1 ? message_header_insert(m, 1, c->name, value, &why) :
		                 message_header_change(m, "Subject", 1, value, &why);
		ck_assert_msg(rc == want, "%s(\"%s\", \"%s\"): got %d, want %d",
		              kind == 0 ? "add" : kind == 1 ? "insert" : "change of Subject",
		              esc(c->name, strlen(c->name)), esc(value, strlen(value)), rc, want);
		if (rc < 0)
			ck_assert_msg(why != NULL && *why != '\0', "refused without a reason");
	}
	if (!c->ok && !c->change_ok) {
		/* Nothing refused shows in the output. */
		size_t wl;
		char *want = cat(&wl, BYTES(PREFIX), BYTES(edit_in));
		check_output(m, BYTES(PREFIX), want, wl);
		free(want);
	}
	message_free(&m);
	spool_free(&sp);
}
END_TEST

START_TEST(test_change_missing)
{
	uint64_t hs;
	struct spool *sp = make_spool(BYTES(edit_in), 4096, &hs);
	struct message *m = message_new(tmpdir, 4096);
	static const struct { const char *name; size_t index; } cases[] = {
		{ "X-None", 1 }, { "Subject", 2 }, { "Subject", 0 }, { "", 1 }, { "Subj", 1 },
	};

	ck_assert_int_eq(message_parse(m, sp, hs), 0);
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		const char *why = NULL;
		ck_assert_msg(message_header_change(m, cases[i].name, cases[i].index, "v", &why) == -1,
		              "change(%s, %zu): want -1", cases[i].name, cases[i].index);
		ck_assert_ptr_nonnull(why);
		ck_assert_msg(message_header_change(m, cases[i].name, cases[i].index, NULL, NULL) == -1,
		              "delete(%s, %zu): want -1", cases[i].name, cases[i].index);
	}
	/* Added and inserted fields are not received fields: not changeable. */
	ck_assert_int_eq(message_header_add(m, "X-Added", "1", NULL), 0);
	ck_assert_int_eq(message_header_change(m, "X-Added", 1, NULL, NULL), -1);
	message_free(&m);
	spool_free(&sp);
}
END_TEST

/* ------------------------------------------------------------ body replacement */

struct body_case {
	const char *in;
	const char *parts[4];         /* calls, NULL-terminated; "" is an empty call */
	const char *want;             /* after PREFIX */
};

static const struct body_case body_cases[] = {
	{ edit_in, { "new body\r\n", NULL },
	  "From: a@example.org\r\nTo: b@example.net\r\nSubject: hello\r\nX-Spam: old\r\n\r\nnew body\r\n" },
	{ "S: 1\r\n\r\nold\r\n", { "a\r", "\nb\n", "c\rd", NULL }, "S: 1\r\n\r\na\r\nb\r\nc\r\nd" },
	{ "S: 1\r\n\r\nold\r\n", { "line1\nline2\n", NULL }, "S: 1\r\n\r\nline1\r\nline2\r\n" },
	{ "S: 1\r\n\r\nold\r\n", { "\r\r\n", "\n", NULL }, "S: 1\r\n\r\n\r\n\r\n\r\n" },
	{ "S: 1\r\n\r\nold\r\n", { "", NULL }, "S: 1\r\n\r\n" },
	{ "S: 1\r\n\r\nold\r\n", { "x", "", "y\r\n", NULL }, "S: 1\r\n\r\nxy\r\n" },
	/* No separator received: one is written before the new body. */
	{ "A: 1\r\nB: 2\r\n", { "new\r\n", NULL }, "A: 1\r\nB: 2\r\n\r\nnew\r\n" },
	/* Body only: all of it is replaced. */
	{ "Hello\r\n\r\nWorld\r\n", { "new\r\n", NULL }, "\r\nnew\r\n" },
	{ "", { "new\r\n", NULL }, "\r\nnew\r\n" },
};

START_TEST(test_body_replace)
{
	const struct body_case *c = &body_cases[_i];

	for (int disk = 0; disk < 2; disk++) {
		uint64_t hs;
		struct spool *sp = make_spool(c->in, strlen(c->in), disk ? 0 : 4096, &hs);
		struct message *m = message_new(tmpdir, disk ? 0 : 4096);
		size_t wl;
		char *want;

		ck_assert_int_eq(message_parse(m, sp, hs), 0);
		ck_assert_int_eq(message_body_replaced(m), 0);
		for (size_t k = 0; c->parts[k] != NULL; k++)
			ck_assert_int_eq(message_body_replace(m, c->parts[k], strlen(c->parts[k]), NULL), 0);
		ck_assert_int_eq(message_body_replaced(m), 1);
		want = cat(&wl, BYTES(PREFIX), c->want, strlen(c->want));
		check_output(m, BYTES(PREFIX), want, wl);
		free(want);
		message_free(&m);
		spool_free(&sp);
	}
}
END_TEST

/* NUL octets pass; a large replacement goes to disk. */
START_TEST(test_body_replace_large)
{
	static const char in[] = "S: 1\r\n\r\nold\r\n";
	size_t n = 600 * 1024, wl;
	char *data = xmalloc(n), *want = xmalloc(sizeof(PREFIX) + 16 + 2 * n);
	uint64_t hs;
	struct spool *sp = make_spool(BYTES(in), 4096, &hs);
	struct message *m = message_new(tmpdir, 0);

	for (size_t i = 0; i < n; i++)
		data[i] = (i % 50 == 49) ? '\n' : (i % 13 == 0) ? '\0' : (char)('A' + i % 26);
	wl = 0;
	memcpy(want, PREFIX "S: 1\r\n\r\n", sizeof(PREFIX) - 1 + 8);
	wl = sizeof(PREFIX) - 1 + 8;
	for (size_t i = 0; i < n; i++) {
		if (data[i] == '\n')
			want[wl++] = '\r';
		want[wl++] = data[i];
	}
	ck_assert_int_eq(message_parse(m, sp, hs), 0);
	/* In uneven calls. */
	for (size_t off = 0, step = 1; off < n; off += step, step = step * 3 + 1)
		ck_assert_int_eq(message_body_replace(m, data + off, off + step > n ? n - off : step, NULL), 0);
	check_output(m, BYTES(PREFIX), want, wl);
	free(data);
	free(want);
	message_free(&m);
	spool_free(&sp);
}
END_TEST

/* ------------------------------------------------------------ limits */

START_TEST(test_field_limit)
{
	size_t nf = MESSAGE_FIELDS_MAX + 2, len = nf * 6 + 2 + 6, wl;
	char *in = xmalloc(len + 1), *want;
	uint64_t hs;

	for (size_t i = 0; i < nf; i++)
		memcpy(in + i * 6, "X: 1\r\n", 6);
	memcpy(in + nf * 6, "\r\nbody\r\n", 8);
	struct spool *sp = make_spool(in, len, 1 << 20, &hs);
	struct message *m = message_new(tmpdir, 4096);

	ck_assert_int_eq(message_parse(m, sp, hs), 0);
	ck_assert_uint_eq(message_nfields(m), MESSAGE_FIELDS_MAX);
	want = cat(&wl, BYTES(PREFIX), in, len);
	check_output(m, BYTES(PREFIX), want, wl);
	free(want);
	/* The unparsed fields stay when the body is replaced. */
	ck_assert_int_eq(message_body_replace(m, BYTES("new\r\n"), NULL), 0);
	want = cat(&wl, BYTES(PREFIX), in, nf * 6 + 2);
	want = xrealloc(want, wl + 5);
	memcpy(want + wl, "new\r\n", 5);
	check_output(m, BYTES(PREFIX), want, wl + 5);
	free(want);
	free(in);
	message_free(&m);
	spool_free(&sp);
}
END_TEST

/* ------------------------------------------------------------ envelope */

START_TEST(test_envelope_none)
{
	static const char *const orig[] = { "a@example.org", "b@example.org" };
	struct message *m = message_new(tmpdir, 4096);
	const char *params = "x";
	size_t n;
	struct message_rcpt *r;

	ck_assert_int_eq(message_envelope_edited(m), 0);
	ck_assert_ptr_null(message_new_sender(m, &params));
	ck_assert_ptr_null(params);
	r = message_rcpt_final(m, orig, 2, &n);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(r[0].addr, "a@example.org");
	ck_assert_uint_eq(r[0].orig, 0);
	ck_assert_ptr_null(r[0].params);
	ck_assert_str_eq(r[1].addr, "b@example.org");
	ck_assert_uint_eq(r[1].orig, 1);
	free(r);
	message_free(&m);
}
END_TEST

struct env_case {
	const char *ops[6];           /* "+addr[ params]" or "-addr" */
	const char *want[6];          /* final list; "addr params" for added ones */
};

static const struct env_case env_cases[] = {
	{ { "-b@example.org", NULL }, { "a@example.org", "c@example.org", NULL } },
	{ { "+d@example.org NOTIFY=NEVER", NULL },
	  { "a@example.org", "b@example.org", "c@example.org", "d@example.org NOTIFY=NEVER", NULL } },
	/* Duplicates (ASCII case-insensitive) are not added twice. */
	{ { "+A@EXAMPLE.ORG", "+d@example.org", "+D@example.org", NULL },
	  { "a@example.org", "b@example.org", "c@example.org", "d@example.org", NULL } },
	/* Call order: delete then add puts it back, at the end. */
	{ { "-a@example.org", "+a@example.org", NULL },
	  { "b@example.org", "c@example.org", "a@example.org", NULL } },
	/* Add then delete removes it. */
	{ { "+d@example.org", "-D@Example.Org", NULL },
	  { "a@example.org", "b@example.org", "c@example.org", NULL } },
	{ { "-x@example.org", NULL }, { "a@example.org", "b@example.org", "c@example.org", NULL } },
	{ { "-a@example.org", "-b@example.org", "-c@example.org", NULL }, { NULL } },
};

START_TEST(test_envelope_rcpts)
{
	static const char *const orig[] = { "a@example.org", "b@example.org", "c@example.org" };
	const struct env_case *c = &env_cases[_i];
	struct message *m = message_new(tmpdir, 4096);
	struct message_rcpt *r;
	size_t n, k;

	for (k = 0; c->ops[k] != NULL; k++) {
		char addr[300];
		const char *sp = strchr(c->ops[k] + 1, ' ');
		strlcpy_s(addr, c->ops[k] + 1, sp ? (size_t)(sp - c->ops[k]) : sizeof(addr));
		if (c->ops[k][0] == '+')
			ck_assert_int_eq(message_rcpt_add(m, addr, sp ? sp + 1 : NULL, NULL), 0);
		else
			ck_assert_int_eq(message_rcpt_delete(m, addr, NULL), 0);
	}
	ck_assert_int_eq(message_envelope_edited(m), 1);
	ck_assert_ptr_null(message_new_sender(m, NULL));
	r = message_rcpt_final(m, orig, 3, &n);
	for (k = 0; c->want[k] != NULL; k++) {
		char got[600];
		ck_assert_msg(k < n, "got %zu recipients, want more (next: %s)", n, c->want[k]);
		xsnprintf(got, sizeof(got), "%s%s%s", r[k].addr, r[k].params ? " " : "",
		          r[k].params ? r[k].params : "");
		ck_assert_msg(strcmp(got, c->want[k]) == 0, "recipient %zu: got \"%s\", want \"%s\"", k, got,
		              c->want[k]);
		if (r[k].orig != SIZE_MAX)
			ck_assert_str_eq(orig[r[k].orig], r[k].addr);
	}
	ck_assert_msg(n == k, "got %zu recipients, want %zu", n, k);
	free(r);
	message_free(&m);
}
END_TEST

START_TEST(test_envelope_sender)
{
	struct message *m = message_new(tmpdir, 4096);
	const char *params;

	ck_assert_int_eq(message_sender_change(m, "first@example.org", NULL, NULL), 0);
	ck_assert_int_eq(message_sender_change(m, "new@example.org", "SIZE=100 BODY=8BITMIME", NULL), 0);
	ck_assert_int_eq(message_envelope_edited(m), 1);
	ck_assert_str_eq(message_new_sender(m, &params), "new@example.org");
	ck_assert_str_eq(params, "SIZE=100 BODY=8BITMIME");
	/* The null reverse-path (RFC 5321 4.5.5). */
	ck_assert_int_eq(message_sender_change(m, "", NULL, NULL), 0);
	ck_assert_str_eq(message_new_sender(m, &params), "");
	ck_assert_ptr_null(params);
	message_reset(m);
	ck_assert_int_eq(message_envelope_edited(m), 0);
	message_free(&m);
}
END_TEST

static char addr256[257], addr257[258];

START_TEST(test_envelope_refusals)
{
	static const struct { const char *addr; const char *params; int ok; } cases[] = {
		{ "a@example.org", NULL, 1 },
		{ addr256, NULL, 1 },
		{ "us\xc3\xa9r@example.org", NULL, 1 },   /* SMTPUTF8 */
		{ addr257, NULL, 0 },
		{ "a b@example.org", NULL, 0 },
		{ "<a@example.org>", NULL, 0 },
		{ "a@example.org>", NULL, 0 },
		{ "a\r@example.org", NULL, 0 },
		{ "a\n@example.org", NULL, 0 },
		{ "a\t@example.org", NULL, 0 },
		{ "a@example.org", "NOTIFY=NEVER\r\nRCPT TO:<x@y>", 0 },
		{ "a@example.org", "X=\n", 0 },
	};
	struct message *m = message_new(tmpdir, 4096);

	memset(addr256, 'a', 256);
	addr256[250] = '@';
	memset(addr257, 'a', 257);
	addr257[250] = '@';
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		const char *why = NULL;
		int want = cases[i].ok ? 0 : -1;
		const char *a = esc(cases[i].addr, strlen(cases[i].addr));

		ck_assert_msg(message_rcpt_add(m, cases[i].addr, cases[i].params, &why) == want,
		              "rcpt_add(%s): want %d", a, want);
		ck_assert_msg(message_sender_change(m, cases[i].addr, cases[i].params, &why) == want,
		              "sender_change(%s): want %d", a, want);
		if (cases[i].params == NULL)
			ck_assert_msg(message_rcpt_delete(m, cases[i].addr, &why) == want,
			              "rcpt_delete(%s): want %d", a, want);
		if (!cases[i].ok)
			ck_assert_ptr_nonnull(why);
	}
	ck_assert_int_eq(message_rcpt_add(m, "", NULL, NULL), -1);
	ck_assert_int_eq(message_rcpt_delete(m, "", NULL), -1);
	message_free(&m);
}
END_TEST

/* ------------------------------------------------------------ reuse */

START_TEST(test_reuse)
{
	uint64_t hs1, hs2;
	struct spool *sp1 = make_spool(BYTES(edit_in), 4096, &hs1);
	static const char in2[] = "Subject: second\r\n\r\nb2\r\n";
	struct spool *sp2 = make_spool(BYTES(in2), 4096, &hs2);
	struct message *m = message_new(tmpdir, 4096);

	ck_assert_int_eq(message_parse(m, sp1, hs1), 0);
	ck_assert_int_eq(message_header_add(m, "X-One", "1", NULL), 0);
	ck_assert_int_eq(message_header_change(m, "Subject", 1, NULL, NULL), 0);
	ck_assert_int_eq(message_body_replace(m, BYTES("x"), NULL), 0);
	ck_assert_int_eq(message_rcpt_add(m, "x@example.org", NULL, NULL), 0);
	/* message_parse starts over. */
	ck_assert_int_eq(message_parse(m, sp2, hs2), 0);
	ck_assert_uint_eq(message_nfields(m), 1);
	ck_assert_int_eq(message_envelope_edited(m), 0);
	ck_assert_int_eq(message_body_replaced(m), 0);
	check_output(m, BYTES(PREFIX), BYTES(PREFIX "Subject: second\r\n\r\nb2\r\n"));
	message_free(&m);
	spool_free(&sp1);
	spool_free(&sp2);
}
END_TEST

static Suite *
message_suite(void)
{
	Suite *s = suite_create("message");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, dir_setup, dir_teardown);
	tcase_add_loop_test(tc, test_parse, 0, ARRAY_LEN(parse_cases));
	tcase_add_test(tc, test_lookup);
	tcase_add_loop_test(tc, test_round_trip, 0, ARRAY_LEN(trip_cases));
	tcase_add_test(tc, test_large_disk);
	tcase_add_test(tc, test_edits_combined);
	tcase_add_test(tc, test_edits_same_name);
	tcase_add_test(tc, test_edits_no_header);
	tcase_add_test(tc, test_fields_remove);
	tcase_add_test(tc, test_change_same_value);
	tcase_add_loop_test(tc, test_refusals, 0, ARRAY_LEN(refuse_cases));
	tcase_add_test(tc, test_change_missing);
	tcase_add_loop_test(tc, test_body_replace, 0, ARRAY_LEN(body_cases));
	tcase_add_test(tc, test_body_replace_large);
	tcase_add_test(tc, test_field_limit);
	tcase_add_test(tc, test_envelope_none);
	tcase_add_loop_test(tc, test_envelope_rcpts, 0, ARRAY_LEN(env_cases));
	tcase_add_test(tc, test_envelope_sender);
	tcase_add_test(tc, test_envelope_refusals);
	tcase_add_test(tc, test_reuse);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(message_suite());

	srunner_run_all(sr, CK_ENV);
	int nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf ? EXIT_FAILURE : EXIT_SUCCESS;
}
