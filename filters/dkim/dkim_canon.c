/* dkim_canon.c - relaxed canonicalization, the signed-field choice and the
 * DKIM-Signature text for the Ed25519 signer; no I/O, no crypto. */
#include <ctype.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dkim_canon.h"

#define FOLD_AT 76                /* "DKIM-Signature: " counts on the first line */
#define SIGHDR_PREFIX 16          /* strlen("DKIM-Signature: ") */

/* ---------------------------------------------------------------- header fields */

size_t
dkf_canon_header(const char *field, size_t len, char *out)
{
	size_t i = 0, n = 0, colon;
	bool ws = false, started = false;

	colon = 0;
	while (colon < len && field[colon] != ':')
		colon++;
	/* The name in lower case, without WSP before the colon. */
	for (i = 0; i < colon; i++)
		out[n++] = (char)tolower((unsigned char)field[i]);
	while (n > 0 && (out[n - 1] == ' ' || out[n - 1] == '\t'))
		n--;
	if (colon == len)
		return n;
	out[n++] = ':';
	/* The value unfolded, WSP runs as one SP, none at either end. */
	for (i = colon + 1; i < len; i++) {
		char c = field[i];

		if (c == '\r' || c == '\n')
			continue;
		if (c == ' ' || c == '\t') {
			ws = true;
			continue;
		}
		if (ws && started)
			out[n++] = ' ';
		ws = false;
		started = true;
		out[n++] = c;
	}
	out[n] = '\0';
	return n;
}

/* ---------------------------------------------------------------- body */

void
dkf_canon_body_init(struct dkf_canon_body *c, void (*out)(void *, const void *, size_t), void *arg)
{
	memset(c, 0, sizeof(*c));
	c->out = out;
	c->arg = arg;
}

static void
body_put(struct dkf_canon_body *c, const void *data, size_t len)
{
	c->out(c->arg, data, len);
	c->length += len;
}

static void
body_char(struct dkf_canon_body *c, unsigned char ch)
{
	/* Empty lines are only body when something follows them. */
	for (; c->empty > 0; c->empty--)
		body_put(c, "\r\n", 2);
	if (c->ws)
		body_put(c, " ", 1);
	c->ws = 0;
	body_put(c, &ch, 1);
	c->nonempty = 1;
}

static void
body_eol(struct dkf_canon_body *c)
{
	c->ws = 0;                /* trailing WSP goes */
	if (c->nonempty)
		body_put(c, "\r\n", 2);
	else
		c->empty++;
	c->nonempty = 0;
}

void
dkf_canon_body_feed(struct dkf_canon_body *c, const unsigned char *data, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char b = data[i];

		if (c->cr) {
			c->cr = 0;
			if (b == '\n') {
				body_eol(c);
				continue;
			}
			body_char(c, '\r');     /* a bare CR is an ordinary character */
		}
		if (b == '\r')
			c->cr = 1;
		else if (b == ' ' || b == '\t')
			c->ws = 1;
		else
			body_char(c, b);
	}
}

void
dkf_canon_body_end(struct dkf_canon_body *c)
{
	if (c->cr) {
		c->cr = 0;
		body_char(c, '\r');
	}
	if (c->nonempty)
		body_eol(c);        /* RFC 6376 3.4.4: a last line gets its CRLF */
	c->empty = 0;
}

/* ---------------------------------------------------------------- choosing the fields */

static bool
name_in(const char *name, size_t len, const char *const *list)
{
	for (; list != NULL && *list != NULL; list++)
		if (strlen(*list) == len && strncasecmp(*list, name, len) == 0)
			return true;
	return false;
}

static size_t
name_len(const char *field)
{
	size_t n = strcspn(field, ":");

	while (n > 0 && (field[n - 1] == ' ' || field[n - 1] == '\t'))
		n--;
	return n;
}

int
dkf_canon_select(char *const *fields, size_t n, const char *const *sign,
                 const char *const *oversign, char **hlist_r, char **block_r)
{
	size_t hcap = 1, bcap = 1, hn = 0, bn = 0, names = 0;
	const char **hnames = NULL;
	bool *used = calloc(n + 1, sizeof(*used));
	char *hlist = NULL, *block = NULL;

	*hlist_r = *block_r = NULL;
	for (size_t i = 0; i < n; i++) {
		hcap += name_len(fields[i]) + 1;
		bcap += strlen(fields[i]) + 2;
	}
	for (const char *const *o = oversign; o != NULL && *o != NULL; o++)
		hcap += strlen(*o) + 1;
	hnames = calloc(n + 8 + (size_t)(oversign ? 8 : 0), sizeof(*hnames));
	if (used == NULL || hnames == NULL || (hlist = malloc(hcap)) == NULL ||
	    (block = malloc(bcap)) == NULL)
		goto fail;
	/* h=: the signed names in message order, the oversigned ones again. */
	for (size_t i = 0; i < n; i++) {
		size_t len = name_len(fields[i]);

		if (!name_in(fields[i], len, sign))
			continue;
		for (size_t k = 0; k < len; k++)
			hlist[hn + k] = (char)tolower((unsigned char)fields[i][k]);
		hnames[names++] = hlist + hn;
		hn += len;
		hlist[hn++] = ':';
	}
	for (const char *const *o = oversign; o != NULL && *o != NULL && names < n + 8; o++) {
		size_t len = strlen(*o);

		memcpy(hlist + hn, *o, len);
		hnames[names++] = hlist + hn;
		hn += len;
		hlist[hn++] = ':';
	}
	if (hn > 0)
		hn--;
	hlist[hn] = '\0';
	/* What a verifier hashes: for each h= name the lowest unused instance. */
	for (size_t k = 0; k < names; k++) {
		size_t len = strcspn(hnames[k], ":");

		for (size_t i = n; i-- > 0;) {
			if (used[i] || name_len(fields[i]) != len ||
			    strncasecmp(fields[i], hnames[k], len) != 0)
				continue;
			used[i] = true;
			bn += dkf_canon_header(fields[i], strlen(fields[i]), block + bn);
			memcpy(block + bn, "\r\n", 2);
			bn += 2;
			break;
		}
	}
	block[bn] = '\0';
	free(used);
	free(hnames);
	*hlist_r = hlist;
	*block_r = block;
	return 0;
fail:
	free(used);
	free(hnames);
	free(hlist);
	free(block);
	return -1;
}

/* ---------------------------------------------------------------- the signature's text */

struct text {
	char *s;
	size_t len, cap, col;     /* col: octets on the current line */
	bool fresh;               /* nothing on this line yet (after a fold, or first) */
	bool failed;
};

static void
text_put(struct text *t, const char *s, size_t n)
{
	if (t->failed)
		return;
	if (t->len + n + 1 > t->cap) {
		size_t cap = t->cap ? t->cap : 512;
		char *p;

		while (cap < t->len + n + 1)
			cap *= 2;
		if ((p = realloc(t->s, cap)) == NULL) {
			t->failed = true;
			return;
		}
		t->s = p;
		t->cap = cap;
	}
	memcpy(t->s + t->len, s, n);
	t->len += n;
	t->s[t->len] = '\0';
	t->col += n;
}

static void
text_fold(struct text *t)
{
	text_put(t, "\n\t", 2);
	t->col = 1;
	t->fresh = true;
}

/* One tag; "tag=value" stays on one line when it fits on a fresh one, else
 * the value breaks after ':' (h=) or anywhere (bh=, b=). */
static void
text_tag(struct text *t, const char *tag, const char *value, bool breakable, bool last)
{
	size_t tlen = strlen(tag), vlen = strlen(value);
	size_t need = tlen + 1 + vlen + (last ? 0 : 1);

	if (!t->fresh && t->col + 1 + need > FOLD_AT)
		text_fold(t);
	else if (!t->fresh)
		text_put(t, " ", 1);
	t->fresh = false;
	text_put(t, tag, tlen);
	text_put(t, "=", 1);
	while (vlen > 0) {
		size_t room = t->col < FOLD_AT ? FOLD_AT - t->col : 0, n = vlen;

		if (n > room && breakable) {
			n = room;
			/* h= folds after a colon: FWS is allowed there (RFC 6376 3.5). */
			if (strcmp(tag, "h") == 0) {
				while (n > 0 && value[n - 1] != ':')
					n--;
				if (n == 0) {
					n = strcspn(value, ":");
					n += value[n] == ':';
				}
			} else if (n == 0) {
				n = 1;
			}
		}
		text_put(t, value, n);
		value += n;
		vlen -= n;
		if (vlen > 0)
			text_fold(t);
	}
	if (!last)
		text_put(t, ";", 1);
}

char *
dkf_sig_template(const char *alg, const char *domain, const char *selector, uint64_t tstamp,
                 const char *bh, const char *hlist)
{
	struct text t = { .col = SIGHDR_PREFIX, .fresh = true };
	char ts[24];

	snprintf(ts, sizeof(ts), "%" PRIu64, tstamp);
	text_tag(&t, "v", "1", false, false);
	text_tag(&t, "a", alg, false, false);
	text_tag(&t, "c", "relaxed/relaxed", false, false);
	text_tag(&t, "d", domain, false, false);
	text_tag(&t, "s", selector, false, false);
	text_tag(&t, "t", ts, false, false);
	text_tag(&t, "bh", bh, true, false);
	text_tag(&t, "h", hlist, true, false);
	/* "b=" ends the template: what is hashed is the field with b= empty. */
	if (t.col + 3 > FOLD_AT)
		text_fold(&t);
	else
		text_put(&t, " ", 1);
	text_put(&t, "b=", 2);
	if (t.failed) {
		free(t.s);
		return NULL;
	}
	return t.s;
}

char *
dkf_sig_finish(const char *tmpl, const char *b64)
{
	const char *nl = strrchr(tmpl, '\n');
	struct text t = { 0 };

	text_put(&t, tmpl, strlen(tmpl));
	t.col = nl != NULL ? strlen(nl + 1) : SIGHDR_PREFIX + strlen(tmpl);   /* TAB counts 1 */
	for (size_t vlen = strlen(b64); vlen > 0;) {
		size_t room = t.col < FOLD_AT ? FOLD_AT - t.col : 0;
		size_t n = vlen < room ? vlen : room;

		if (n == 0) {
			text_fold(&t);
			continue;
		}
		text_put(&t, b64, n);
		b64 += n;
		vlen -= n;
		if (vlen > 0)
			text_fold(&t);
	}
	if (t.failed) {
		free(t.s);
		return NULL;
	}
	return t.s;
}
