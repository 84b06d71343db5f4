/* spf_text.c - Received-SPF, the Authentication-Results clause, SMTP replies. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "spf_text.h"

#define FOLD_AT 78

static int
is_atext(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c != 0 && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

static int
is_dot_atom(const char *s)
{
	int after_dot = 1;

	if (*s == '\0')
		return 0;
	for (; *s != '\0'; s++) {
		if (*s == '.') {
			if (after_dot)
				return 0;
			after_dot = 1;
		} else if (is_atext((unsigned char)*s)) {
			after_dot = 0;
		} else {
			return 0;
		}
	}
	return !after_dot;
}

int
spf_text_kv_value(char *buf, size_t len, const char *value)
{
	size_t n = 0;

	if (is_dot_atom(value)) {
		if (strlen(value) >= len)
			return -1;
		memcpy(buf, value, strlen(value) + 1);
		return (int)strlen(value);
	}
	if (len < 3)
		return -1;
	buf[n++] = '"';
	for (const unsigned char *p = (const unsigned char *)value; *p != '\0'; p++) {
		if (n + 4 > len)
			return -1;
		if (*p == '"' || *p == '\\')
			buf[n++] = '\\';
		buf[n++] = *p >= 0x20 && *p < 0x7f ? (char)*p : '?';
	}
	buf[n++] = '"';
	buf[n] = '\0';
	return (int)n;
}

/* ---------------------------------------------------------------- Received-SPF */

/* A header value being built, folded before a piece that would cross FOLD_AT.
 * The field name "Received-SPF: " (14) starts the first line. */
struct fold {
	char *buf;
	size_t len, used, line;
	int overflow;
};

static void
fold_add(struct fold *f, const char *piece)
{
	size_t n = strlen(piece);
	int sep = f->used > 0;

	if (sep && f->line + 1 + n > FOLD_AT) {
		if (f->used + 2 >= f->len) {
			f->overflow = 1;
			return;
		}
		memcpy(f->buf + f->used, "\n\t", 2);
		f->used += 2;
		f->line = 8;
		sep = 0;
	}
	if (f->used + (size_t)sep + n >= f->len) {
		f->overflow = 1;
		return;
	}
	if (sep) {
		f->buf[f->used++] = ' ';
		f->line++;
	}
	memcpy(f->buf + f->used, piece, n + 1);
	f->used += n;
	f->line += n;
}

static void
fold_addf(struct fold *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
fold_addf(struct fold *f, const char *fmt, ...)
{
	char piece[600];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(piece, sizeof(piece), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(piece))
		f->overflow = 1;
	else
		fold_add(f, piece);
}

/* "key=value;" with value quoted when it must be. */
static void
fold_kv(struct fold *f, const char *key, const char *value)
{
	char v[520];

	if (spf_text_kv_value(v, sizeof(v), value) < 0)
		f->overflow = 1;
	else
		fold_addf(f, "%s=%s;", key, v);
}

/* The comment's words, one piece each so that it folds between words. */
static void
comment_add(struct fold *f, const struct spf_outcome *o, const char *ip, const char *receiver)
{
	char words[400], text[700];
	const char *d = o->domain;
	char *w, *save = NULL;

	switch (o->result) {
	case SPF_RES_PASS:
		snprintf(words, sizeof(words), "domain of %s designates %s as permitted sender", d, ip);
		break;
	case SPF_RES_FAIL:
		snprintf(words, sizeof(words), "domain of %s does not designate %s as permitted "
		         "sender", d, ip);
		break;
	case SPF_RES_SOFTFAIL:
		snprintf(words, sizeof(words), "domain of transitioning %s does not designate %s as "
		         "permitted sender", d, ip);
		break;
	case SPF_RES_NEUTRAL:
		snprintf(words, sizeof(words), "%s is neither permitted nor denied by domain of %s",
		         ip, d);
		break;
	case SPF_RES_TEMPERROR:
		snprintf(words, sizeof(words), "temporary error in processing during lookup of %s", d);
		break;
	case SPF_RES_PERMERROR:
		snprintf(words, sizeof(words), "permanent error in processing domain of %s", d);
		break;
	default:
		if (*d == '\0')
			snprintf(words, sizeof(words), "no valid domain to check");
		else
			snprintf(words, sizeof(words), "domain of %s does not provide an SPF record", d);
		break;
	}
	if (receiver != NULL)
		snprintf(text, sizeof(text), "(%s: %s)", receiver, words);
	else
		snprintf(text, sizeof(text), "(%s)", words);
	for (w = strtok_r(text, " ", &save); w != NULL; w = strtok_r(NULL, " ", &save))
		fold_add(f, w);
}

int
spf_received_build(char *buf, size_t len, const struct spf_outcome *o,
                   const struct spf_identity *id, const char *receiver)
{
	struct fold f = { buf, len, 0, sizeof("Received-SPF: ") - 1, 0 };
	int rec = receiver != NULL && is_dot_atom(receiver);

	if (len == 0)
		return -1;
	buf[0] = '\0';
	fold_add(&f, spf_res_name(o->result));
	/* The comment says who judged (RFC 7208 9.1) and how, in its own words
	 * and from values already checked (domain, address, host name): nothing
	 * in it needs escaping. */
	comment_add(&f, o, id->ip, rec ? receiver : NULL);
	if (rec)
		fold_kv(&f, "receiver", receiver);
	fold_kv(&f, "client-ip", id->ip);
	if (o->scope == SPF_SCOPE_MFROM && id->sender != NULL && id->sender[0] != '\0')
		fold_kv(&f, "envelope-from", id->sender);
	if (id->helo != NULL && id->helo[0] != '\0')
		fold_kv(&f, "helo", id->helo);
	if (o->problem[0] != '\0')
		fold_kv(&f, "problem", o->problem);
	fold_addf(&f, "identity=%s;", o->scope == SPF_SCOPE_HELO ? "helo" : "mailfrom");
	return f.overflow ? -1 : (int)f.used;
}

/* ---------------------------------------------------------------- A-R, replies */

int
spf_authres_build(char *buf, size_t len, const struct spf_outcome *o)
{
	int n;

	if (o->domain[0] == '\0')
		n = snprintf(buf, len, "spf=%s", spf_res_name(o->result));
	else
		n = snprintf(buf, len, "spf=%s smtp.%s=%s", spf_res_name(o->result),
		             o->scope == SPF_SCOPE_HELO ? "helo" : "mailfrom", o->domain);
	return n < 0 || (size_t)n >= len ? -1 : n;
}

void
spf_reply_build(struct spf_reply *r, enum spf_act act, const struct spf_outcome *o,
                const char *ip)
{
	int error = o->result == SPF_RES_TEMPERROR || o->result == SPF_RES_PERMERROR;
	const char *d = o->domain[0] != '\0' ? o->domain : "(no domain)";
	const char *what = o->scope == SPF_SCOPE_HELO ? "the HELO name" : "the sender domain";

	snprintf(r->code, sizeof(r->code), "%s", act == SPF_ACT_TEMPFAIL ? "451" : "550");
	/* RFC 7372: X.7.23 SPF validation failed, X.7.24 SPF validation error. */
	snprintf(r->ecode, sizeof(r->ecode), "%c.7.%s", act == SPF_ACT_TEMPFAIL ? '4' : '5',
	         error ? "24" : "23");
	switch (o->result) {
	case SPF_RES_FAIL:
		snprintf(r->text, sizeof(r->text), "SPF: %s is not allowed to send mail for %s %s",
		         ip, what, d);
		break;
	case SPF_RES_TEMPERROR:
		snprintf(r->text, sizeof(r->text), "SPF: temporary error checking %s %s, try again "
		         "later", what, d);
		break;
	case SPF_RES_PERMERROR:
		snprintf(r->text, sizeof(r->text), "SPF: the SPF record of %s %s is broken: %.60s",
		         what, d, o->problem[0] != '\0' ? o->problem : "permanent error");
		break;
	default:
		snprintf(r->text, sizeof(r->text), "SPF check of %s %s for %s: %s", what, d, ip,
		         spf_res_name(o->result));
		break;
	}
}
