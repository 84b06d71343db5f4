/* message.c - header fields as received, filter edits, and the output iterator; no I/O
 * beyond the spool. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "message.h"
#include "spool.h"
#include "util.h"

struct field {
	char *name;               /* "" for an opaque line */
	char *value;
	size_t raw_off, raw_len;  /* in hbuf, with the final CRLF */
	char *wire;               /* changed: the new line with CRLF; NULL unchanged */
	size_t wire_len;
	int deleted;
};

struct line {                 /* an added or inserted field, ready to send */
	size_t pos, seq;
	char *wire;
	size_t len;
};

struct rcpt_op {
	int add;
	char *addr;
	char *params;
};

struct message {
	char *spool_dir;
	size_t mem_limit;

	struct spool *sp;         /* borrowed, from message_parse */
	char *hbuf;               /* copy of the parsed part of the header section */
	size_t hlen;
	struct field *fields;
	size_t nfields, fcap;
	uint64_t fields_end;      /* where the parsed fields end in sp */
	uint64_t sep_off;         /* where the empty line is (or would go) in sp */

	struct line *adds, *ins;
	size_t nadds, addcap, nins, inscap;

	struct spool *body;       /* replacement body, NULL until the first call */
	int body_replaced;
	int body_cr;              /* the last octet given was CR (a following LF is its) */

	int sender_changed;
	char *sender, *sender_params;
	struct rcpt_op *rops;
	size_t nrops, ropcap;

	char *prefix;
	size_t prefix_len;
};

enum out_stage { O_ADDS, O_PREFIX, O_FIELDS, O_REST, O_SEP, O_BODY, O_END };

struct message *
message_new(const char *spool_dir, size_t mem_limit)
{
	struct message *m = xcalloc(1, sizeof(*m));

	m->spool_dir = xstrdup(spool_dir != NULL ? spool_dir : "/tmp");
	m->mem_limit = mem_limit;
	return m;
}

static void
lines_free(struct line *l, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(l[i].wire);
}

void
message_reset(struct message *m)
{
	for (size_t i = 0; i < m->nfields; i++) {
		free(m->fields[i].name);
		free(m->fields[i].value);
		free(m->fields[i].wire);
	}
	m->nfields = 0;
	free(m->hbuf);
	m->hbuf = NULL;
	m->hlen = 0;
	m->sp = NULL;
	m->fields_end = m->sep_off = 0;
	lines_free(m->adds, m->nadds);
	lines_free(m->ins, m->nins);
	m->nadds = m->nins = 0;
	if (m->body != NULL)
		spool_reset(m->body);
	m->body_replaced = m->body_cr = 0;
	m->sender_changed = 0;
	free(m->sender);
	free(m->sender_params);
	m->sender = m->sender_params = NULL;
	for (size_t i = 0; i < m->nrops; i++) {
		free(m->rops[i].addr);
		free(m->rops[i].params);
	}
	m->nrops = 0;
	free(m->prefix);
	m->prefix = NULL;
	m->prefix_len = 0;
}

void
message_free(struct message **mp)
{
	struct message *m = *mp;

	if (m == NULL)
		return;
	*mp = NULL;
	message_reset(m);
	free(m->fields);
	free(m->adds);
	free(m->ins);
	free(m->rops);
	spool_free(&m->body);
	free(m->spool_dir);
	free(m);
}

/* ------------------------------------------------------------ parsing */

/* Length of the line at p (through its LF), or 0 when it has no LF before end. */
static size_t
line_len(const char *p, const char *end)
{
	const char *nl = memchr(p, '\n', (size_t)(end - p));

	return nl != NULL ? (size_t)(nl - p) + 1 : 0;
}

static int
is_empty_line(const char *p, size_t len)
{
	return len == 1 || (len == 2 && p[0] == '\r');
}

/* Length of the field name when the line starts a field ("name" WSP* ":"), else 0. */
static size_t
field_name_len(const char *p, size_t len)
{
	size_t n = 0, i;

	while (n < len && (unsigned char)p[n] >= 33 && (unsigned char)p[n] <= 126 && p[n] != ':')
		n++;
	if (n == 0)
		return 0;
	for (i = n; i < len && (p[i] == ' ' || p[i] == '\t'); i++)
		;
	return i < len && p[i] == ':' ? n : 0;
}

static void
field_push(struct message *m, size_t off, size_t len, size_t name_len)
{
	struct field *f;
	const char *raw = m->hbuf + off;
	size_t vstart, vend = len;

	if (m->nfields == m->fcap) {
		m->fcap = m->fcap ? m->fcap * 2 : 32;
		m->fields = xrealloc(m->fields, m->fcap * sizeof(*m->fields));
	}
	f = &m->fields[m->nfields++];
	memset(f, 0, sizeof(*f));
	f->raw_off = off;
	f->raw_len = len;
	if (vend > 0 && raw[vend - 1] == '\n')
		vend--;
	if (vend > 0 && raw[vend - 1] == '\r')
		vend--;
	if (name_len > 0) {
		f->name = xstrndup(raw, name_len);
		vstart = (size_t)((const char *)memchr(raw, ':', len) - raw) + 1;
	} else {
		f->name = xstrdup("");
		vstart = 0;
	}
	f->value = xstrndup(raw + vstart, vend - vstart);
}

int
message_parse(struct message *m, struct spool *sp, uint64_t header_size)
{
	uint64_t size = spool_size(sp), region = header_size > 0 ? header_size : size;
	const char *p, *end;
	size_t off = 0;
	int sep = 0, body_only = 0;

	message_reset(m);
	m->sp = sp;
	if (region > size)
		region = size;
	if (region > MESSAGE_HEADER_PARSE_MAX)
		region = MESSAGE_HEADER_PARSE_MAX;
	m->hbuf = xmalloc(region > 0 ? (size_t)region : 1);
	for (uint64_t got = 0; got < region;) {
		ssize_t n = spool_read(sp, got, m->hbuf + got, (size_t)(region - got));
		if (n <= 0) {
			if (n == 0)
				errno = EIO;
			free(m->hbuf);
			m->hbuf = NULL;
			m->sp = NULL;
			return -1;
		}
		got += (uint64_t)n;
	}
	m->hlen = (size_t)region;
	p = m->hbuf;
	end = m->hbuf + m->hlen;

	while (off < m->hlen && m->nfields < MESSAGE_FIELDS_MAX) {
		size_t ll = line_len(p + off, end), nl, total;

		if (ll == 0)
			break;                    /* no CRLF within the region */
		if (is_empty_line(p + off, ll)) {
			sep = 1;
			break;
		}
		nl = field_name_len(p + off, ll);
		if (nl == 0 && (m->nfields == 0 || header_size == 0)) {
			body_only = m->nfields == 0;
			break;
		}
		/* Continuation lines (RFC 5322 2.2.3): start with WSP. */
		total = ll;
		for (;;) {
			size_t cl;
			if (off + total >= m->hlen || (p[off + total] != ' ' && p[off + total] != '\t'))
				break;
			cl = line_len(p + off + total, end);
			if (cl == 0)
				break;
			total += cl;
		}
		field_push(m, off, total, nl);
		off += total;
	}
	m->fields_end = off;
	m->sep_off = off;
	if (!sep && !body_only && header_size >= 2 && off < header_size) {
		/* Limits hit: the unparsed rest of the header ends with the empty line. */
		char tail[2];
		if (spool_read(sp, header_size - 2, tail, 2) == 2)
			m->sep_off = header_size - (tail[0] == '\r' ? 2 : 1);
	}
	return 0;
}

/* ------------------------------------------------------------ reads */

size_t
message_nfields(const struct message *m)
{
	return m->nfields;
}

const char *
message_field_name(const struct message *m, size_t i)
{
	return i < m->nfields ? m->fields[i].name : NULL;
}

const char *
message_field_value(const struct message *m, size_t i)
{
	return i < m->nfields ? m->fields[i].value : NULL;
}

/* The index of the index-th (1-based) received field called name, or -1. */
static ssize_t
field_find(const struct message *m, const char *name, size_t index)
{
	if (name == NULL || *name == '\0' || index == 0)
		return -1;
	for (size_t i = 0; i < m->nfields; i++)
		if (strcasecmp(m->fields[i].name, name) == 0 && --index == 0)
			return (ssize_t)i;
	return -1;
}

size_t
message_header_count(const struct message *m, const char *name)
{
	size_t n = 0;

	if (name == NULL || *name == '\0')
		return 0;
	for (size_t i = 0; i < m->nfields; i++)
		if (strcasecmp(m->fields[i].name, name) == 0)
			n++;
	return n;
}

const char *
message_header_get(const struct message *m, const char *name, size_t index)
{
	ssize_t i = field_find(m, name, index);

	return i >= 0 ? m->fields[i].value : NULL;
}

size_t
message_fields_remove(struct message *m, int (*match)(const char *name, const char *value, void *arg),
                      void *arg)
{
	size_t kept = 0, n = m->nfields;

	for (size_t i = 0; i < n; i++) {
		struct field *f = &m->fields[i];
		if (f->name[0] != '\0' && match(f->name, f->value, arg)) {
			free(f->name);
			free(f->value);
			free(f->wire);
			continue;
		}
		m->fields[kept++] = *f;
	}
	m->nfields = kept;
	return n - kept;
}

/* ------------------------------------------------------------ header edits */

static int
refuse(const char **why_r, const char *why)
{
	if (why_r != NULL)
		*why_r = why;
	return -1;
}

/* Check name and value and build "name: value\r\n" with folds as CRLF TAB. */
static int
field_build(const char *name, const char *value, char **wire_r, size_t *len_r, const char **why_r)
{
	size_t nlen, vlen, folds = 0, col, i, out;
	int ws_only = 0, lead_ws;
	char *w;

	if (name == NULL || *name == '\0')
		return refuse(why_r, "empty header name");
	for (nlen = 0; name[nlen] != '\0'; nlen++)
		if ((unsigned char)name[nlen] < 33 || (unsigned char)name[nlen] > 126 || name[nlen] == ':')
			return refuse(why_r, "header name with a character other than printable ASCII without ':'");
	if (value == NULL)
		return refuse(why_r, "no header value");
	lead_ws = value[0] == ' ' || value[0] == '\t';
	col = nlen + (lead_ws ? 1 : 2);
	for (i = 0; value[i] != '\0'; i++) {
		char c = value[i];
		if (c == '\r')
			return refuse(why_r, "header value with CR");
		if (c == '\n') {
			if (value[i + 1] != '\t')
				return refuse(why_r, "header value with LF not followed by TAB");
			if (ws_only)
				return refuse(why_r, "header value with a folded line of white space only");
			folds++;
			col = 0;
			ws_only = 1;
			continue;
		}
		if (c != ' ' && c != '\t')
			ws_only = 0;
		if (++col > MESSAGE_LINE_MAX)
			return refuse(why_r, "header line over 998 octets");
	}
	if (ws_only)
		return refuse(why_r, "header value with a folded line of white space only");
	if (col > MESSAGE_LINE_MAX)
		return refuse(why_r, "header line over 998 octets");
	vlen = i;
	out = nlen + (lead_ws ? 1 : 2) + vlen + folds + 2;
	w = xmalloc(out + 1);
	memcpy(w, name, nlen);
	i = nlen;
	w[i++] = ':';
	if (!lead_ws)
		w[i++] = ' ';
	for (const char *v = value; *v != '\0'; v++) {
		if (*v == '\n')
			w[i++] = '\r';
		w[i++] = *v;
	}
	w[i++] = '\r';
	w[i++] = '\n';
	w[i] = '\0';
	*wire_r = w;
	*len_r = out;
	return 0;
}

static int
line_push(struct line **arr, size_t *n, size_t *cap, size_t pos, const char *name, const char *value,
          const char **why_r)
{
	char *wire;
	size_t len;

	if (*n >= MESSAGE_EDITS_MAX)
		return refuse(why_r, "too many header edits");
	if (field_build(name, value, &wire, &len, why_r) < 0)
		return -1;
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 8;
		*arr = xrealloc(*arr, *cap * sizeof(**arr));
	}
	(*arr)[*n] = (struct line){ .pos = pos, .seq = *n, .wire = wire, .len = len };
	(*n)++;
	return 0;
}

int
message_header_add(struct message *m, const char *name, const char *value, const char **why_r)
{
	return line_push(&m->adds, &m->nadds, &m->addcap, 0, name, value, why_r);
}

int
message_header_insert(struct message *m, size_t position, const char *name, const char *value,
                      const char **why_r)
{
	return line_push(&m->ins, &m->nins, &m->inscap, position, name, value, why_r);
}

int
message_header_change(struct message *m, const char *name, size_t index, const char *value,
                      const char **why_r)
{
	ssize_t i = field_find(m, name, index);
	struct field *f;
	char *wire = NULL;
	size_t len = 0;

	if (index == 0)
		return refuse(why_r, "header index is 1-based");
	if (i < 0)
		return refuse(why_r, "no such header field");
	f = &m->fields[i];
	/* The received spelling of the name is kept. */
	if (value != NULL && field_build(f->name, value, &wire, &len, why_r) < 0)
		return -1;
	free(f->wire);
	f->wire = wire;
	f->wire_len = len;
	f->deleted = value == NULL;
	return 0;
}

/* ------------------------------------------------------------ body */

int
message_body_replace(struct message *m, const void *data, size_t len, const char **why_r)
{
	const char *p = data, *end = p + len;
	char buf[8192];
	size_t n = 0;

	if (m->body == NULL)
		m->body = spool_new(m->spool_dir, m->mem_limit);
	if (!m->body_replaced) {
		spool_reset(m->body);
		m->body_replaced = 1;
		m->body_cr = 0;
	}
	for (; p < end; p++) {
		if (n + 2 > sizeof(buf)) {
			if (spool_write(m->body, buf, n) < 0)
				return refuse(why_r, "cannot write the replacement body to the spool");
			n = 0;
		}
		if (*p == '\r') {
			buf[n++] = '\r';
			buf[n++] = '\n';
			m->body_cr = 1;
			continue;
		}
		if (*p == '\n') {
			if (!m->body_cr) {
				buf[n++] = '\r';
				buf[n++] = '\n';
			}
		} else {
			buf[n++] = *p;
		}
		m->body_cr = 0;
	}
	if (n > 0 && spool_write(m->body, buf, n) < 0)
		return refuse(why_r, "cannot write the replacement body to the spool");
	return 0;
}

int
message_body_replaced(const struct message *m)
{
	return m->body_replaced;
}

/* ------------------------------------------------------------ envelope */

static int
addr_check(const char *a, int allow_empty, const char **why_r)
{
	size_t n;

	if (a == NULL || (*a == '\0' && !allow_empty))
		return refuse(why_r, "empty address");
	for (n = 0; a[n] != '\0'; n++) {
		unsigned char c = (unsigned char)a[n];
		if (c < 33 || c == 127 || c == '<' || c == '>')
			return refuse(why_r, "address with a control character, space, '<' or '>'");
		if (n >= MESSAGE_ADDR_MAX)
			return refuse(why_r, "address over 256 octets");
	}
	return 0;
}

static int
params_check(const char *p, const char **why_r)
{
	size_t n;

	if (p == NULL)
		return 0;
	for (n = 0; p[n] != '\0'; n++) {
		unsigned char c = (unsigned char)p[n];
		if (c < 32 || c == 127)
			return refuse(why_r, "ESMTP parameters with a control character");
		if (n >= MESSAGE_PARAMS_MAX)
			return refuse(why_r, "ESMTP parameters over 512 octets");
	}
	return 0;
}

static char *
dup_params(const char *p)
{
	return p != NULL && *p != '\0' ? xstrdup(p) : NULL;
}

int
message_sender_change(struct message *m, const char *sender, const char *params, const char **why_r)
{
	if (addr_check(sender, 1, why_r) < 0 || params_check(params, why_r) < 0)
		return -1;
	free(m->sender);
	free(m->sender_params);
	m->sender = xstrdup(sender);
	m->sender_params = dup_params(params);
	m->sender_changed = 1;
	return 0;
}

static int
rcpt_op(struct message *m, int add, const char *rcpt, const char *params, const char **why_r)
{
	if (addr_check(rcpt, 0, why_r) < 0 || params_check(params, why_r) < 0)
		return -1;
	if (m->nrops >= MESSAGE_EDITS_MAX)
		return refuse(why_r, "too many recipient edits");
	if (m->nrops == m->ropcap) {
		m->ropcap = m->ropcap ? m->ropcap * 2 : 8;
		m->rops = xrealloc(m->rops, m->ropcap * sizeof(*m->rops));
	}
	m->rops[m->nrops++] = (struct rcpt_op){ add, xstrdup(rcpt), add ? dup_params(params) : NULL };
	return 0;
}

int
message_rcpt_add(struct message *m, const char *rcpt, const char *params, const char **why_r)
{
	return rcpt_op(m, 1, rcpt, params, why_r);
}

int
message_rcpt_delete(struct message *m, const char *rcpt, const char **why_r)
{
	return rcpt_op(m, 0, rcpt, NULL, why_r);
}

int
message_envelope_edited(const struct message *m)
{
	return m->sender_changed || m->nrops > 0;
}

const char *
message_new_sender(const struct message *m, const char **params_r)
{
	if (params_r != NULL)
		*params_r = m->sender_changed ? m->sender_params : NULL;
	return m->sender_changed ? m->sender : NULL;
}

static ssize_t
rcpt_index(const struct message_rcpt *r, size_t n, const char *addr)
{
	for (size_t i = 0; i < n; i++)
		if (strcasecmp(r[i].addr, addr) == 0)
			return (ssize_t)i;
	return -1;
}

struct message_rcpt *
message_rcpt_final(const struct message *m, const char *const *orig, size_t norig, size_t *n_r)
{
	struct message_rcpt *r = xcalloc(norig + m->nrops + 1, sizeof(*r));
	size_t n = 0;

	for (size_t i = 0; i < norig; i++)
		if (rcpt_index(r, n, orig[i]) < 0)
			r[n++] = (struct message_rcpt){ orig[i], NULL, i };
	for (size_t k = 0; k < m->nrops; k++) {
		const struct rcpt_op *op = &m->rops[k];
		ssize_t at = rcpt_index(r, n, op->addr);

		if (op->add && at < 0)
			r[n++] = (struct message_rcpt){ op->addr, op->params, SIZE_MAX };
		else if (!op->add && at >= 0) {
			memmove(&r[at], &r[at + 1], (n - (size_t)at - 1) * sizeof(*r));
			n--;
		}
	}
	*n_r = n;
	return r;
}

/* ------------------------------------------------------------ output */

static int
line_cmp(const void *a, const void *b)
{
	const struct line *x = a, *y = b;

	if (x->pos != y->pos)
		return x->pos < y->pos ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

void
message_out_init(struct message_out *o, struct message *m, const char *prefix, size_t prefix_len)
{
	memset(o, 0, sizeof(*o));
	o->m = m;
	free(m->prefix);
	m->prefix = xstrndup(prefix != NULL ? prefix : "", prefix != NULL ? prefix_len : 0);
	m->prefix_len = prefix != NULL ? prefix_len : 0;
	if (m->nins > 1)
		qsort(m->ins, m->nins, sizeof(*m->ins), line_cmp);
	o->stage = O_ADDS;
}

/* The current piece: memory (*mem set) or a range of a spool. 0 when the stage
 * has no more pieces; in O_FIELDS, *is_ins tells which index to advance. */
struct piece {
	const char *mem;
	struct spool *sp;
	uint64_t start, len;
	int is_ins;
};

static int
out_piece(struct message_out *o, struct piece *pc)
{
	struct message *m = o->m;

	memset(pc, 0, sizeof(*pc));
	switch (o->stage) {
	case O_ADDS:
		if (o->i >= m->nadds)
			return 0;
		pc->mem = m->adds[o->i].wire;
		pc->len = m->adds[o->i].len;
		return 1;
	case O_PREFIX:
		if (o->i > 0)
			return 0;
		pc->mem = m->prefix;
		pc->len = m->prefix_len;
		return 1;
	case O_FIELDS:
		if (o->j < m->nins && (m->ins[o->j].pos <= o->i || o->i >= m->nfields)) {
			pc->is_ins = 1;
			pc->mem = m->ins[o->j].wire;
			pc->len = m->ins[o->j].len;
			return 1;
		}
		if (o->i >= m->nfields)
			return 0;
		if (m->fields[o->i].deleted) {
			pc->mem = "";
		} else if (m->fields[o->i].wire != NULL) {
			pc->mem = m->fields[o->i].wire;
			pc->len = m->fields[o->i].wire_len;
		} else {
			pc->mem = m->hbuf + m->fields[o->i].raw_off;
			pc->len = m->fields[o->i].raw_len;
		}
		return 1;
	case O_REST:
		if (o->i > 0 || m->sp == NULL)
			return 0;
		pc->sp = m->sp;
		pc->start = m->fields_end;
		pc->len = (m->body_replaced ? m->sep_off : spool_size(m->sp)) - m->fields_end;
		return 1;
	case O_SEP:
		if (o->i > 0 || !m->body_replaced)
			return 0;
		pc->mem = "\r\n";
		pc->len = 2;
		return 1;
	case O_BODY:
		if (o->i > 0 || !m->body_replaced)
			return 0;
		pc->sp = m->body;
		pc->len = spool_size(m->body);
		return 1;
	default:
		return 0;
	}
}

ssize_t
message_out_next(struct message_out *o, const char **data_r, char *buf, size_t len)
{
	struct piece pc;

	while (o->stage != O_END) {
		uint64_t left;
		size_t n;

		if (!out_piece(o, &pc)) {
			o->stage++;
			o->i = o->j = 0;
			o->off = 0;
			continue;
		}
		if (o->off >= pc.len) {
			if (pc.is_ins)
				o->j++;
			else
				o->i++;
			o->off = 0;
			continue;
		}
		left = pc.len - o->off;
		n = left < len ? (size_t)left : len;
		if (pc.mem != NULL) {
			*data_r = pc.mem + o->off;
		} else {
			size_t mlen;
			const char *mem = spool_memory(pc.sp, &mlen);
			if (mem != NULL) {
				*data_r = mem + pc.start + o->off;
			} else {
				ssize_t got = spool_read(pc.sp, pc.start + o->off, buf, n);
				if (got <= 0) {
					if (got == 0)
						errno = EIO;
					return -1;
				}
				n = (size_t)got;
				*data_r = buf;
			}
		}
		o->off += n;
		o->total += n;
		return (ssize_t)n;
	}
	return 0;
}

ssize_t
message_out_source(void *arg, const char **data_r, char *buf, size_t len)
{
	return message_out_next(arg, data_r, buf, len);
}

ssize_t
message_out_read(struct message_out *o, char *buf, size_t len)
{
	const char *data;
	ssize_t n = message_out_next(o, &data, buf, len);

	if (n > 0 && data != buf)
		memcpy(buf, data, (size_t)n);
	return n;
}
