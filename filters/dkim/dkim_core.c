/* dkim_core.c - the dkim filter's pure parts on the way in: the sign table,
 * splitting the outgoing message, its From domain, small parsers; no I/O. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dkim_core.h"

/* ---------------------------------------------------------------- sign table */

static struct dkf_table *
table_fail(struct dkf_table *t, char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	dkf_table_free(&t);
	return NULL;
}

static void
domain_normalize(char *d)
{
	size_t n = strlen(d);

	for (size_t i = 0; i < n; i++)
		d[i] = (char)tolower((unsigned char)d[i]);
	if (n > 1 && d[n - 1] == '.')
		d[n - 1] = '\0';
}

#define DNS_CHARS "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_"

/* A DNS name's characters (RFC 6376 d= and s= are DNS labels). */
static bool
dns_name_ok(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n <= 253 && s[0] != '.' && s[0] != '-' && strstr(s, "..") == NULL &&
	       strspn(s, DNS_CHARS) == n;
}

static char *
join_path(const char *basedir, const char *file)
{
	size_t n;
	char *p;

	if (file[0] == '/' || basedir == NULL || basedir[0] == '\0')
		return strdup(file);
	n = strlen(basedir) + strlen(file) + 2;
	if ((p = malloc(n)) != NULL)
		snprintf(p, n, "%s/%s", basedir, file);
	return p;
}

struct dkf_table *
dkf_table_parse(const char *text, const char *basedir, char *err, size_t errlen)
{
	struct dkf_table *t = calloc(1, sizeof(*t));
	const char *p = text;
	int lineno = 0;

	if (t == NULL)
		return table_fail(t, err, errlen, "out of memory");
	while (*p != '\0') {
		size_t len = strcspn(p, "\n");
		char line[1024], *w[4], *save = NULL, *hash;
		struct dkf_table_entry *e;
		int nw = 0;

		lineno++;
		if (len >= sizeof(line))
			return table_fail(t, err, errlen, "line %d: longer than %zu octets", lineno,
			                  sizeof(line) - 1);
		memcpy(line, p, len);
		line[len] = '\0';
		p += len + (p[len] == '\n');
		if ((hash = strchr(line, '#')) != NULL)
			*hash = '\0';
		for (char *tok = strtok_r(line, " \t\r", &save); tok != NULL;
		     tok = strtok_r(NULL, " \t\r", &save)) {
			if (nw == 3)
				return table_fail(t, err, errlen, "line %d: want DOMAIN SELECTOR "
				                  "KEYFILE, got more words", lineno);
			w[nw++] = tok;
		}
		if (nw == 0)
			continue;
		if (nw != 3)
			return table_fail(t, err, errlen, "line %d: want DOMAIN SELECTOR KEYFILE",
			                  lineno);
		domain_normalize(w[0]);
		if (!dns_name_ok(w[0]) || !dns_name_ok(w[1]))
			return table_fail(t, err, errlen, "line %d: bad %s \"%s\"", lineno,
			                  dns_name_ok(w[0]) ? "selector" : "domain",
			                  dns_name_ok(w[0]) ? w[1] : w[0]);
		if (dkf_table_find(t, w[0]) != NULL)
			return table_fail(t, err, errlen, "line %d: domain %s listed twice "
			                  "(first on line %d)", lineno, w[0],
			                  dkf_table_find(t, w[0])->line);
		e = realloc(t->v, (t->n + 1) * sizeof(*t->v));
		if (e == NULL)
			return table_fail(t, err, errlen, "out of memory");
		t->v = e;
		e = &t->v[t->n];
		memset(e, 0, sizeof(*e));
		t->n++;
		e->line = lineno;
		if ((e->domain = strdup(w[0])) == NULL || (e->selector = strdup(w[1])) == NULL ||
		    (e->keyfile = join_path(basedir, w[2])) == NULL)
			return table_fail(t, err, errlen, "out of memory");
	}
	if (t->n == 0)
		return table_fail(t, err, errlen, "no entries: want lines DOMAIN SELECTOR KEYFILE");
	return t;
}

const struct dkf_table_entry *
dkf_table_find(const struct dkf_table *t, const char *domain)
{
	size_t n = strlen(domain);

	if (n > 1 && domain[n - 1] == '.')
		n--;
	for (size_t i = 0; t != NULL && i < t->n; i++)
		if (strlen(t->v[i].domain) == n && strncasecmp(t->v[i].domain, domain, n) == 0)
			return &t->v[i];
	return NULL;
}

void
dkf_table_free(struct dkf_table **tp)
{
	struct dkf_table *t = *tp;

	if (t == NULL)
		return;
	for (size_t i = 0; i < t->n; i++) {
		free(t->v[i].domain);
		free(t->v[i].selector);
		free(t->v[i].keyfile);
	}
	free(t->v);
	free(t);
	*tp = NULL;
}

/* ---------------------------------------------------------------- message splitting */

enum {
	SPLIT_LINE_START = 0,     /* at the start of a header line */
	SPLIT_IN_LINE,            /* inside a header line */
	SPLIT_CR,                 /* a CR inside a header line */
	SPLIT_EMPTY_CR,           /* a CR at the start of a line: the empty line? */
	SPLIT_BODY,
};

void
dkf_split_init(struct dkf_split *s, const struct dkf_split_cb *cb)
{
	memset(s, 0, sizeof(*s));
	s->cb = *cb;
}

void
dkf_split_free(struct dkf_split *s)
{
	free(s->field);
	s->field = NULL;
	s->len = s->cap = 0;
}

static int
split_put(struct dkf_split *s, const char *data, size_t n)
{
	if (s->len + n > DKF_FIELD_MAX)
		return -1;
	if (s->len + n + 1 > s->cap) {
		size_t cap = s->cap ? s->cap : 256;
		char *p;

		while (cap < s->len + n + 1)
			cap *= 2;
		if ((p = realloc(s->field, cap)) == NULL)
			return -1;
		s->field = p;
		s->cap = cap;
	}
	memcpy(s->field + s->len, data, n);
	s->len += n;
	s->field[s->len] = '\0';
	return 0;
}

/* Hands the gathered field on; a field must have a name and a colon. */
static int
split_flush(struct dkf_split *s)
{
	size_t name, len = s->len;

	if (s->len == 0)
		return 0;
	name = strcspn(s->field, ":\r");
	if (name == 0 || name >= len || s->field[name] != ':')
		return -1;
	s->len = 0;
	if (s->cb.field(s->cb.arg, s->field, len) != 0) {
		s->stopped = 1;
		return 1;
	}
	return 0;
}

static int
split_eoh(struct dkf_split *s)
{
	int r = split_flush(s);

	if (r != 0)
		return r;
	s->state = SPLIT_BODY;
	if (s->cb.eoh(s->cb.arg) != 0) {
		s->stopped = 1;
		return 1;
	}
	return 0;
}

int
dkf_split_feed(struct dkf_split *s, const unsigned char *data, size_t len)
{
	size_t i = 0;
	int r;

	if (s->stopped)
		return 1;
	while (i < len) {
		unsigned char c = data[i];

		switch (s->state) {
		case SPLIT_BODY:
			if (s->cb.body(s->cb.arg, data + i, len - i) != 0) {
				s->stopped = 1;
				return 1;
			}
			return 0;
		case SPLIT_LINE_START:
			if (c == '\r') {
				s->state = SPLIT_EMPTY_CR;
				i++;
				continue;
			}
			if (c == ' ' || c == '\t') {
				/* A continuation line: the field keeps its folding CRLF. */
				if (s->len == 0 || split_put(s, "\r\n", 2) < 0)
					return -1;
			} else if ((r = split_flush(s)) != 0) {
				return r;
			}
			s->state = SPLIT_IN_LINE;
			continue;
		case SPLIT_EMPTY_CR:
			if (c != '\n')
				return -1;      /* a bare CR opening a header line */
			i++;
			if ((r = split_eoh(s)) != 0)
				return r;
			continue;
		case SPLIT_IN_LINE: {
			const unsigned char *cr = memchr(data + i, '\r', len - i);
			size_t n = cr != NULL ? (size_t)(cr - (data + i)) : len - i;

			if (split_put(s, (const char *)data + i, n) < 0)
				return -1;
			i += n;
			if (cr != NULL) {
				s->state = SPLIT_CR;
				i++;
			}
			continue;
		}
		case SPLIT_CR:
			if (c == '\n') {
				s->state = SPLIT_LINE_START;
				i++;
			} else {
				/* A bare CR stays part of the line (message_read promises
				 * canonical CRLF; this is only robustness). */
				if (split_put(s, "\r", 1) < 0)
					return -1;
				s->state = SPLIT_IN_LINE;
			}
			continue;
		}
	}
	return 0;
}

int
dkf_split_end(struct dkf_split *s)
{
	if (s->stopped)
		return 1;
	switch (s->state) {
	case SPLIT_BODY:
		return 0;
	case SPLIT_CR:
		if (split_put(s, "\r", 1) < 0)
			return -1;
		break;
	case SPLIT_EMPTY_CR:
		return -1;
	default:
		break;
	}
	return split_eoh(s);
}

/* ---------------------------------------------------------------- From domain */

int
dkf_from_domain(const char *value, char *out, size_t outlen)
{
	char clean[1024];
	size_t n = 0;
	int depth = 0, quoted = 0, angle = 0, seen_at = 0, group = 0;
	const char *addr, *at, *end;

	/* One pass: drop comments and folding, blank out quoted strings (an '@' in
	 * a quoted local part or display name is no separator), skip a group's
	 * display name, stop at the end of the first mailbox. */
	for (const char *p = value; *p != '\0' && n + 1 < sizeof(clean); p++) {
		char c = *p;

		if (quoted) {
			if (c == '\\' && p[1] != '\0')
				p++;
			else if (c == '"')
				quoted = 0;
			if (c != '"')
				clean[n++] = 'x';
			continue;
		}
		if (depth > 0) {
			if (c == '\\' && p[1] != '\0')
				p++;
			else if (c == '(')
				depth++;
			else if (c == ')')
				depth--;
			continue;
		}
		if (c == '(') {
			depth = 1;
			clean[n++] = ' ';
		} else if (c == '"') {
			quoted = 1;
			clean[n++] = 'x';
		} else if (c == ':' && !angle && !seen_at) {
			n = 0;                  /* "Group: a@b, c@d;" */
			group = 1;
		} else if (c == ';' && !angle && !group) {
			return -1;              /* no group to end */
		} else if ((c == ',' || c == ';') && !angle) {
			if (seen_at)
				break;
			n = 0;                  /* an empty list element */
		} else if (c == '\r' || c == '\n') {
			clean[n++] = ' ';
		} else {
			if (c == '<')
				angle = 1;
			else if (c == '>')
				angle = 0;
			else if (c == '@')
				seen_at = 1;
			clean[n++] = c;
		}
	}
	clean[n] = '\0';
	addr = clean;
	if ((at = strchr(clean, '<')) != NULL)
		addr = at + 1;
	if ((end = strchr(addr, '>')) == NULL)
		end = addr + strlen(addr);
	at = NULL;
	for (const char *p = addr; p < end; p++)
		if (*p == '@')
			at = p;
	if (at == NULL)
		return -1;
	at++;
	while (at < end && (*at == ' ' || *at == '\t'))
		at++;
	n = strcspn(at, " \t>");
	if (at + n > end)
		n = (size_t)(end - at);
	if (n == 0 || n >= outlen || *at == '[')
		return -1;
	memcpy(out, at, n);
	out[n] = '\0';
	domain_normalize(out);
	return dns_name_ok(out) ? 0 : -1;
}

/* ---------------------------------------------------------------- small helpers */

void
dkf_fold_lf(char *s)
{
	char *w = s;

	for (const char *r = s; *r != '\0'; r++)
		if (*r != '\r')
			*w++ = *r;
	*w = '\0';
}

int
dkf_word_in_list(const char *list, const char *word)
{
	size_t wlen = strlen(word);

	if (list == NULL || wlen == 0)
		return 0;
	for (const char *p = list; *p != '\0';) {
		size_t n;

		p += strspn(p, " \t,");
		n = strcspn(p, " \t,");
		if (n == wlen && strncmp(p, word, n) == 0)
			return 1;
		p += n;
	}
	return 0;
}

int
dkf_action_parse(const char *v, struct dkf_action *a)
{
	char *end;
	double d;

	memset(a, 0, sizeof(*a));
	if (strcmp(v, "none") == 0)
		return 0;
	if (strcmp(v, "reject") == 0) {
		a->kind = DKF_ACT_REJECT;
		return 0;
	}
	if (strcmp(v, "tempfail") == 0) {
		a->kind = DKF_ACT_TEMPFAIL;
		return 0;
	}
	if (strncmp(v, "score:", 6) != 0 || v[6] == '\0')
		return -1;
	errno = 0;
	d = strtod(v + 6, &end);
	if (errno != 0 || *end != '\0' || !isfinite(d) || fabs(d) > 1000)
		return -1;
	a->kind = DKF_ACT_SCORE;
	a->points = d;
	return 0;
}
