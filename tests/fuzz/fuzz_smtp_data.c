/* fuzz_smtp_data.c - libFuzzer target, differential: the DATA/BDAT machine
 * (smtp_data_feed) against itself fed whole, split at an input-chosen point and
 * one octet at a time, and against a simple line-by-line reference written
 * here; in both modes and both bare-CR/LF policies. Then the output side:
 * unstuff(stuff(x)) == x, and stuffing arbitrary bytes never lets the data end
 * early.
 *
 * Input: octet 0 picks max_size (bits 0-1: none, octet 1, octet 1 * 16, none);
 * octets 1-2 the split point; the rest is the data. */
#include <string.h>

#include "fuzz.h"
#include "smtp_data.h"

struct buf {
	char *p;
	size_t n, cap;
};

static void
buf_add(struct buf *b, const char *s, size_t n)
{
	if (b->n + n > b->cap) {
		b->cap = (b->n + n) * 2 + 16;
		b->p = realloc(b->p, b->cap);
		CHECK(b->p != NULL);
	}
	if (n > 0)
		memcpy(b->p + b->n, s, n);
	b->n += n;
}

static int
buf_sink(void *arg, const char *s, size_t n)
{
	CHECK(n > 0);   /* the machine never emits empty runs */
	buf_add(arg, s, n);
	return 0;
}

struct result {
	struct buf out;
	unsigned flags;
	size_t consumed;
	uint64_t size, header_size;
	int ended;
};

static void
result_free(struct result *r)
{
	free(r->out.p);
	memset(r, 0, sizeof(*r));
}

/* The machine, fed in pieces of at most step octets after a first piece of
 * first octets (step 0: the rest in one piece). */
static void
run_machine(enum smtp_data_mode mode, enum smtp_data_policy policy, uint64_t max,
            const char *in, size_t len, size_t first, size_t step, struct result *r)
{
	struct smtp_data d;
	size_t off = 0;

	memset(r, 0, sizeof(*r));
	smtp_data_init(&d, mode, policy, max, buf_sink, &r->out);
	while (off < len && !d.ended) {
		size_t n = off == 0 && first > 0 ? first : step > 0 ? step : len - off;
		size_t c;

		if (n > len - off)
			n = len - off;
		c = smtp_data_feed(&d, in + off, n);
		CHECK(c <= n);
		if (!d.ended)
			CHECK(c == n);
		else
			CHECK(mode == SMTP_DATA_DOT && c > 0);
		r->consumed += c;
		off += n;
		if (d.ended)
			break;
	}
	if (mode == SMTP_DATA_RAW)
		smtp_data_finish(&d);
	/* Nothing more is taken once ended. */
	if (d.ended)
		CHECK(smtp_data_feed(&d, "x", 1) == 0);
	r->flags = d.flags;
	r->size = d.size;
	r->header_size = d.header_size;
	r->ended = d.ended;
}

/* ---- the reference: split into lines first, then decide per line. */
enum term { T_NONE, T_CRLF, T_BARE, T_PENDING_CR };

static void
run_reference(enum smtp_data_mode mode, enum smtp_data_policy policy, uint64_t max,
              const char *in, size_t len, struct result *r)
{
	struct buf full = { 0 };
	size_t pos = 0;
	int tainted = 0, in_header = 1;

	memset(r, 0, sizeof(*r));
	r->consumed = len;
	while (pos < len) {
		size_t q = pos, next, clen;
		const char *content;
		enum term t;

		while (q < len && in[q] != '\r' && in[q] != '\n')
			q++;
		if (q == len) {
			t = T_NONE;
			next = len;
		} else if (in[q] == '\n') {
			t = T_BARE;
			next = q + 1;
		} else if (q + 1 == len) {
			t = T_PENDING_CR;
			next = len;
		} else if (in[q + 1] == '\n') {
			t = T_CRLF;
			next = q + 2;
		} else {
			t = T_BARE;
			next = q + 1;
		}
		content = in + pos;
		clen = q - pos;
		if (mode == SMTP_DATA_DOT && clen > 0 && content[0] == '.') {
			if (!tainted && clen == 1 && t == T_CRLF) {
				r->ended = 1;
				r->consumed = next;
				break;
			}
			content++;
			clen--;
		}
		if (memchr(content, '\0', clen) != NULL)
			r->flags |= SMTP_DATA_F_NUL;
		if (clen > SMTP_TEXT_LINE_MAX - 2)
			r->flags |= SMTP_DATA_F_LINE_TOO_LONG;
		buf_add(&full, content, clen);
		if (t == T_PENDING_CR && mode == SMTP_DATA_RAW)
			t = T_BARE;   /* smtp_data_finish: no LF can follow */
		if (t == T_CRLF || t == T_BARE) {
			buf_add(&full, "\r\n", 2);
			if (t == T_BARE)
				r->flags |= policy == SMTP_DATA_BARE_REJECT ? SMTP_DATA_F_BARE
				                                            : SMTP_DATA_F_BARE_SEEN;
			if (in_header && clen == 0) {
				r->header_size = full.n;
				in_header = 0;
			}
		}
		tainted = t == T_BARE;
		pos = next;
	}
	r->size = full.n;
	if (max != 0 && full.n > max) {
		r->flags |= SMTP_DATA_F_TOO_BIG;
		full.n = (size_t)max;
	}
	r->out = full;
}

static void
same(const struct result *a, const struct result *b)
{
	CHECK(a->out.n == b->out.n);
	CHECK(a->out.n == 0 || memcmp(a->out.p, b->out.p, a->out.n) == 0);
	CHECK(a->flags == b->flags);
	CHECK(a->consumed == b->consumed);
	CHECK(a->size == b->size);
	CHECK(a->header_size == b->header_size);
	CHECK(a->ended == b->ended);
}

/* No bare CR or LF; a truncated output (TOO_BIG) may end in CR. */
static void
check_canonical(const struct result *r)
{
	const char *p = r->out.p;
	size_t n = r->out.n;

	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\r' && !(i + 1 == n && (r->flags & SMTP_DATA_F_TOO_BIG)))
			CHECK(i + 1 < n && p[i + 1] == '\n');
		if (p[i] == '\n')
			CHECK(i > 0 && p[i - 1] == '\r');
	}
	if (!(r->flags & SMTP_DATA_F_LINE_TOO_LONG)) {
		size_t col = 0;
		for (size_t i = 0; i < n; i++) {
			col = p[i] == '\r' || p[i] == '\n' ? 0 : col + 1;
			CHECK(col <= SMTP_TEXT_LINE_MAX - 2);
		}
	}
	if (r->header_size > 0)
		CHECK(r->header_size >= 2 && r->header_size <= r->size);
	CHECK(r->size >= r->out.n);
}

static void
stuff(const char *in, size_t len, size_t split, struct buf *y)
{
	struct smtp_stuff s;

	smtp_stuff_init(&s);
	if (split > len)
		split = len;
	CHECK(smtp_stuff_feed(&s, in, split, buf_sink, y) == 0);
	CHECK(smtp_stuff_feed(&s, in + split, len - split, buf_sink, y) == 0);
	CHECK(smtp_stuff_end(&s, buf_sink, y) == 0);
}

/* unstuff(stuff(x)) == x for canonical x (CRLF added when x does not end in one). */
static void
check_roundtrip(const struct result *r, size_t split)
{
	struct buf y = { 0 };
	struct result back;
	const char *x = r->out.p != NULL ? r->out.p : "";   /* never NULL + 0 */
	size_t n = r->out.n;
	int add_crlf = n > 0 && !(n >= 2 && x[n - 2] == '\r' && x[n - 1] == '\n');

	stuff(x, n, split, &y);
	run_machine(SMTP_DATA_DOT, SMTP_DATA_BARE_REJECT, 0, y.p, y.n, 0, 0, &back);
	CHECK(back.ended && back.consumed == y.n);
	CHECK(!(back.flags & (SMTP_DATA_F_BARE | SMTP_DATA_F_BARE_SEEN)));
	CHECK(back.out.n == n + (add_crlf ? 2 : 0));
	CHECK(n == 0 || memcmp(back.out.p, x, n) == 0);
	if (add_crlf)
		CHECK(memcmp(back.out.p + n, "\r\n", 2) == 0);
	result_free(&back);
	free(y.p);
}

/* Stuffing arbitrary (non-canonical) octets: the data still ends only at the
 * final marker, for us and for a lenient reader that ends lines on a bare CR
 * or LF (no '.' after CR or LF is left undoubled). */
static void
check_stuff_raw(const char *in, size_t len, size_t split)
{
	struct buf y = { 0 };
	struct result back;

	stuff(in, len, split, &y);
	CHECK(y.n >= 3 && memcmp(y.p + y.n - 3, ".\r\n", 3) == 0);
	for (size_t i = 0; i + 3 < y.n; i++)
		if (y.p[i] == '.' && (i == 0 || y.p[i - 1] == '\r' || y.p[i - 1] == '\n'))
			CHECK(y.p[i + 1] == '.');
	run_machine(SMTP_DATA_DOT, SMTP_DATA_BARE_NORMALIZE, 0, y.p, y.n, 0, 0, &back);
	CHECK(back.ended && back.consumed == y.n);
	result_free(&back);
	free(y.p);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum smtp_data_mode modes[] = { SMTP_DATA_DOT, SMTP_DATA_RAW };
	static const enum smtp_data_policy policies[] = { SMTP_DATA_BARE_REJECT,
	                                                  SMTP_DATA_BARE_NORMALIZE };
	const char *in;
	size_t len, split;
	uint64_t max = 0;

	if (size < 3)
		return 0;
	switch (data[0] & 3) {
	case 1: max = data[1]; break;
	case 2: max = (uint64_t)data[1] * 16; break;
	default: break;
	}
	in = (const char *)data + 3;
	len = size - 3;
	split = ((size_t)data[1] << 8 | data[2]) % (len + 1);

	for (size_t mi = 0; mi < 2; mi++) {
		struct result byp[2];

		for (size_t pi = 0; pi < 2; pi++) {
			struct result whole, halves, bytes, ref;

			run_machine(modes[mi], policies[pi], max, in, len, 0, 0, &whole);
			run_machine(modes[mi], policies[pi], max, in, len, split, 0, &halves);
			run_machine(modes[mi], policies[pi], max, in, len, 0, 1, &bytes);
			run_reference(modes[mi], policies[pi], max, in, len, &ref);
			same(&whole, &halves);
			same(&whole, &bytes);
			same(&whole, &ref);
			check_canonical(&whole);
			if (modes[mi] == SMTP_DATA_RAW)
				CHECK(!whole.ended && whole.consumed == len);
			if (!(whole.flags & SMTP_DATA_F_TOO_BIG) && pi == 0)
				check_roundtrip(&whole, split);
			result_free(&halves);
			result_free(&bytes);
			result_free(&ref);
			byp[pi] = whole;
		}
		/* The policy changes the flag only, never the content. */
		CHECK(byp[0].out.n == byp[1].out.n);
		CHECK(byp[0].out.n == 0 || memcmp(byp[0].out.p, byp[1].out.p, byp[0].out.n) == 0);
		CHECK(byp[0].consumed == byp[1].consumed && byp[0].header_size == byp[1].header_size);
		CHECK(!!(byp[0].flags & SMTP_DATA_F_BARE) == !!(byp[1].flags & SMTP_DATA_F_BARE_SEEN));
		CHECK(!(byp[0].flags & SMTP_DATA_F_BARE_SEEN) && !(byp[1].flags & SMTP_DATA_F_BARE));
		result_free(&byp[0]);
		result_free(&byp[1]);
	}
	check_stuff_raw(in, len, split);
	return 0;
}
