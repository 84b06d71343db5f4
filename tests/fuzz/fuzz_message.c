/* fuzz_message.c - libFuzzer target: header parsing, edits and output.
 *
 * 1. Any content, any header_size, no edits: the output is the prefix and then
 *    the content, byte for byte (read in input-chosen piece sizes, the spool in
 *    memory or in its temporary file).
 * 2. The content made canonical by smtp_data (as sluiced receives it), parsed
 *    with smtp_data's header_size, then input-driven edits (add, insert, change,
 *    delete, body replacement, envelope): the output never holds a bare CR or LF,
 *    and no line over 998 octets unless the content or the replacement body
 *    brought one.
 *
 * Input: octets 0-1 content length (little endian), octet 2 options, octet 3
 * header_size for part 1; the content; then the edit stream. */
#include <string.h>
#include <strings.h>

#include "fuzz.h"
#include "message.h"
#include "smtp_data.h"
#include "spool.h"

#define PREFIX "Received: from fuzz (fuzz [192.0.2.1])\r\n\tby sluice; today\r\n"

struct reader {
	const uint8_t *p;
	size_t n;
};

static unsigned
rd_byte(struct reader *r)
{
	unsigned c;

	if (r->n == 0)
		return 0;
	c = *r->p++;
	r->n--;
	return c;
}

/* A length-prefixed string made into a C string (a NUL in it ends it early). */
static char *
rd_str(struct reader *r, size_t *raw_len_r)
{
	size_t l = rd_byte(r);
	char *s;

	if (l == 255)
		l = 255 + rd_byte(r) * 8;   /* now and then a long one */
	if (l > r->n)
		l = r->n;
	s = malloc(l + 1);
	CHECK(s != NULL);
	memcpy(s, r->p, l);
	s[l] = '\0';
	r->p += l;
	r->n -= l;
	if (raw_len_r != NULL)
		*raw_len_r = l;
	return s;
}

/* The whole output, read in pieces of at most piece octets. */
static char *
read_all(struct message *m, const char *prefix, size_t plen, size_t piece, size_t *n_r)
{
	struct message_out o;
	size_t cap = 1024, n = 0;
	char *out = malloc(cap), *buf = malloc(piece);
	const char *d;
	ssize_t got;

	CHECK(out != NULL && buf != NULL);
	message_out_init(&o, m, prefix, plen);
	while ((got = message_out_next(&o, &d, buf, piece)) != 0) {
		CHECK(got > 0 && (size_t)got <= piece);
		if (n + (size_t)got > cap) {
			cap = (n + (size_t)got) * 2;
			out = realloc(out, cap);
			CHECK(out != NULL);
		}
		memcpy(out + n, d, (size_t)got);
		n += (size_t)got;
	}
	CHECK(o.total == n);
	CHECK(message_out_next(&o, &d, buf, piece) == 0);
	free(buf);
	*n_r = n;
	return out;
}

static size_t
longest_line(const char *p, size_t n)
{
	size_t col = 0, max = 0;

	for (size_t i = 0; i < n; i++) {
		col = p[i] == '\r' || p[i] == '\n' ? 0 : col + 1;
		if (col > max)
			max = col;
	}
	return max;
}

static void
check_canonical(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\r')
			CHECK(i + 1 < n && p[i + 1] == '\n');
		if (p[i] == '\n')
			CHECK(i > 0 && p[i - 1] == '\r');
	}
}

/* Part 1: no edits, any content. */
static void
identity(const char *content, size_t clen, uint64_t header_size, size_t mem_limit, size_t piece)
{
	struct spool *sp = spool_new("/tmp", mem_limit);
	struct message *m = message_new("/tmp", mem_limit);
	size_t n;
	char *out;

	CHECK(spool_write(sp, content, clen) == 0);
	CHECK(message_parse(m, sp, header_size) == 0);
	for (size_t i = 0; i < message_nfields(m); i++)
		CHECK(message_field_name(m, i) != NULL && message_field_value(m, i) != NULL);
	CHECK(message_field_name(m, message_nfields(m)) == NULL);
	out = read_all(m, PREFIX, sizeof(PREFIX) - 1, piece, &n);
	CHECK(n == sizeof(PREFIX) - 1 + clen);
	CHECK(memcmp(out, PREFIX, sizeof(PREFIX) - 1) == 0);
	CHECK(clen == 0 || memcmp(out + sizeof(PREFIX) - 1, content, clen) == 0);
	free(out);
	/* Again after a reset and a second parse of the same spool. */
	message_reset(m);
	CHECK(message_parse(m, sp, header_size) == 0);
	out = read_all(m, "", 0, piece, &n);
	CHECK(n == clen && (clen == 0 || memcmp(out, content, clen) == 0));
	free(out);
	message_free(&m);
	CHECK(m == NULL);
	spool_free(&sp);
}

/* Part 2: canonical content and edits. */
static void
edits(const char *content, size_t clen, unsigned opts, struct reader *r, size_t mem_limit,
      size_t piece)
{
	struct spool *sp = spool_new("/tmp", mem_limit);
	struct message *m = message_new("/tmp", mem_limit);
	struct smtp_data d;
	size_t longest, n, nops = 0, body_run = 0, run = 0;
	int body = 0;
	char *out;

	smtp_data_init(&d, opts & 1 ? SMTP_DATA_RAW : SMTP_DATA_DOT, SMTP_DATA_BARE_NORMALIZE, 0,
	               spool_sink, sp);
	smtp_data_feed(&d, content, clen);
	if (opts & 1)
		smtp_data_finish(&d);
	CHECK(!(d.flags & SMTP_DATA_F_SINK_ERROR));
	CHECK(spool_size(sp) == d.size);
	longest = d.flags & SMTP_DATA_F_LINE_TOO_LONG ? SIZE_MAX : 0;
	CHECK(message_parse(m, sp, d.header_size) == 0);

	while (r->n > 0 && nops++ < 64) {
		unsigned op = rd_byte(r) % 9;
		const char *why = NULL;
		char *a = NULL, *b = NULL;
		size_t alen = 0;
		int rc = 0;

		switch (op) {
		case 0:
			a = rd_str(r, NULL);
			b = rd_str(r, NULL);
			rc = message_header_add(m, a, b, &why);
			break;
		case 1: {
			size_t pos = rd_byte(r);
			a = rd_str(r, NULL);
			b = rd_str(r, NULL);
			rc = message_header_insert(m, pos, a, b, &why);
			break;
		}
		case 2: {
			size_t idx = rd_byte(r) % 4;
			a = rd_str(r, NULL);
			b = rd_str(r, NULL);
			rc = message_header_change(m, a, idx, b[0] == '\0' ? NULL : b, &why);
			break;
		}
		case 3: case 4: {
			/* Change or delete a field that exists (by its received name). */
			size_t nf = message_nfields(m), i = nf > 0 ? rd_byte(r) % nf : 0;
			const char *name = message_field_name(m, i);
			b = rd_str(r, NULL);
			if (name != NULL && name[0] != '\0')
				rc = message_header_change(m, name, 1 + rd_byte(r) % 2,
				                           op == 4 ? NULL : b, &why);
			break;
		}
		case 5:
			a = rd_str(r, &alen);
			rc = message_body_replace(m, a, alen, &why);
			CHECK(rc == 0 && message_body_replaced(m));
			body = 1;
			for (size_t i = 0; i < alen; i++) {
				run = a[i] == '\r' || a[i] == '\n' ? 0 : run + 1;
				if (run > body_run)
					body_run = run;
			}
			break;
		case 6:
			a = rd_str(r, NULL);
			b = rd_str(r, NULL);
			rc = message_sender_change(m, a, b[0] == '\0' ? NULL : b, &why);
			break;
		case 7:
			a = rd_str(r, NULL);
			b = rd_str(r, NULL);
			rc = message_rcpt_add(m, a, b[0] == '\0' ? NULL : b, &why);
			break;
		case 8:
			a = rd_str(r, NULL);
			rc = message_rcpt_delete(m, a, &why);
			break;
		}
		CHECK(rc == 0 || rc == -1);
		if (rc < 0)
			CHECK(why != NULL && why[0] != '\0');
		free(a);
		free(b);
	}

	out = read_all(m, PREFIX, sizeof(PREFIX) - 1, piece, &n);
	check_canonical(out, n);
	if (longest == 0 && body_run <= MESSAGE_LINE_MAX)
		CHECK(longest_line(out, n) <= MESSAGE_LINE_MAX);
	if (!body && message_nfields(m) == 0)
		CHECK(n >= spool_size(sp));
	free(out);

	{
		static const char *const orig[] = { "a@example.org", "B@example.org", "a@EXAMPLE.org" };
		size_t nr;
		struct message_rcpt *fr = message_rcpt_final(m, orig, 3, &nr);

		CHECK(fr != NULL);
		for (size_t i = 0; i < nr; i++) {
			CHECK(fr[i].addr != NULL);
			for (size_t j = 0; j < i; j++)
				CHECK(strcasecmp(fr[i].addr, fr[j].addr) != 0);
		}
		free(fr);
	}
	message_free(&m);
	spool_free(&sp);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct reader r;
	size_t clen, piece, mem_limit;
	unsigned opts;
	uint64_t hs;
	const char *content;

	if (size < 4)
		return 0;
	clen = (size_t)data[0] | (size_t)data[1] << 8;
	opts = data[2];
	if (clen > size - 4)
		clen = size - 4;
	content = (const char *)data + 4;
	/* header_size: 0, or a length near the content's (maybe beyond it). */
	hs = data[3] == 0 ? 0 : data[3] == 1 ? clen : (uint64_t)data[3] * clen / 128;
	piece = (opts >> 1 & 7) == 0 ? 1 : (size_t)(opts >> 1 & 7) * 7 + 1;
	mem_limit = opts & 0x80 ? 16 : 1u << 20;   /* now and then the temporary file */

	identity(content, clen, hs, mem_limit, piece);
	r.p = data + 4 + clen;
	r.n = size - 4 - clen;
	edits(content, clen, opts, &r, mem_limit, piece);
	return 0;
}
