/* smtp_path.c - MAIL/RCPT path and ESMTP parameter parsing (RFC 5321 4.1.2, 6531); no I/O. */
#include "smtp_path.h"

#include <arpa/inet.h>
#include <string.h>

#include "util.h"

/* Length of the well-formed UTF-8 sequence (RFC 3629 UTF8-2/3/4) starting at s[0],
 * which is > 0x7f; 0 when malformed, overlong, a surrogate or beyond U+10FFFF. */
static size_t
utf8_seq_len(const unsigned char *s, size_t len)
{
	unsigned char c = s[0];
	size_t n;
	unsigned char lo = 0x80, hi = 0xbf;  /* range of the second byte */

	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
	} else {
		return 0;
	}
	if (len < n || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return n;
}

/* ---- paths (RFC 5321 4.1.2, RFC 6531 3.3) ---- */

/* RFC 5322 atext, the characters of a Dot-string atom. */
static int
is_atext(unsigned char c)
{
	return smtp_is_alpha(c) || smtp_is_digit(c) || (c != 0 && strchr("!#$%&'*+-/=?^_`{|}~", c));
}

/* Dot-string = Atom *("." Atom), atoms of atext or UTF-8 non-ASCII. */
static int
dot_string_valid(const char *s, size_t len, int *is8_r)
{
	const unsigned char *u = (const unsigned char *)s;
	int atom_empty = 1;

	for (size_t i = 0; i < len; ) {
		if (u[i] == '.') {
			if (atom_empty)
				return 0;
			atom_empty = 1;
			i++;
		} else if (u[i] >= 0x80) {
			size_t n = utf8_seq_len(u + i, len - i);

			if (n == 0)
				return 0;
			*is8_r = 1;
			atom_empty = 0;
			i += n;
		} else if (is_atext(u[i])) {
			atom_empty = 0;
			i++;
		} else {
			return 0;
		}
	}
	return !atom_empty;
}

/* Quoted-string = DQUOTE *(qtextSMTP / quoted-pairSMTP) DQUOTE */
static int
quoted_string_valid(const char *s, size_t len, int *is8_r)
{
	const unsigned char *u = (const unsigned char *)s;

	if (len < 2 || u[0] != '"' || u[len - 1] != '"')
		return 0;
	for (size_t i = 1; i < len - 1; ) {
		if (u[i] == '\\') {
			if (i + 1 >= len - 1 || u[i + 1] < 32 || u[i + 1] > 126)
				return 0;
			i += 2;
		} else if (u[i] >= 0x80) {
			size_t n = utf8_seq_len(u + i, len - 1 - i);

			if (n == 0)
				return 0;
			*is8_r = 1;
			i += n;
		} else if (u[i] >= 32 && u[i] <= 126 && u[i] != '"') {
			i++;
		} else {
			return 0;
		}
	}
	return 1;
}

/* Domain = sub-domain *("." sub-domain); sub-domain = Let-dig [Ldh-str], or a
 * U-label (RFC 6531). Label lengths (RFC 1035) are left to the MTA. */
static int
domain_valid(const char *s, size_t len, int *is8_r)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t label = 0;

	if (len == 0)
		return 0;
	for (size_t i = 0; i < len; ) {
		if (u[i] == '.') {
			if (label == 0 || u[i - 1] == '-')
				return 0;
			label = 0;
			i++;
		} else if (u[i] == '-') {
			if (label == 0)
				return 0;
			label++;
			i++;
		} else if (u[i] >= 0x80) {
			size_t n = utf8_seq_len(u + i, len - i);

			if (n == 0)
				return 0;
			*is8_r = 1;
			label++;
			i += n;
		} else if (smtp_is_alpha(u[i]) || smtp_is_digit(u[i])) {
			label++;
			i++;
		} else {
			return 0;
		}
	}
	return label > 0 && u[len - 1] != '-';
}

/* IPv4-address-literal = Snum 3("." Snum), Snum = 1*3DIGIT up to 255 */
static int
ipv4_literal_valid(const char *s, size_t len)
{
	size_t i = 0;

	for (int part = 0; part < 4; part++) {
		unsigned v = 0;
		size_t d = 0;

		if (part > 0) {
			if (i >= len || s[i] != '.')
				return 0;
			i++;
		}
		while (i < len && smtp_is_digit((unsigned char)s[i]) && d < 3) {
			v = v * 10 + (unsigned)(s[i] - '0');
			i++;
			d++;
		}
		if (d == 0 || v > 255)
			return 0;
	}
	return i == len;
}

/* address-literal = "[" ( IPv4 / "IPv6:" IPv6-addr / tag ":" 1*dcontent ) "]" */
static int
address_literal_valid(const char *s, size_t len)
{
	if (len < 3 || s[0] != '[' || s[len - 1] != ']')
		return 0;
	s++;
	len -= 2;
	if (smtp_ascii_iprefix(s, len, "IPv6:")) {
		char buf[INET6_ADDRSTRLEN + 1];
		unsigned char bin[16];

		/* inet_pton's grammar matches RFC 5321 IPv6-addr, including the
		 * IPv4-embedded forms. */
		if (len - 5 == 0 || len - 5 >= sizeof(buf))
			return 0;
		memcpy(buf, s + 5, len - 5);
		buf[len - 5] = '\0';
		return inet_pton(AF_INET6, buf, bin) == 1;
	}
	if (len > 0 && smtp_is_digit((unsigned char)s[0]))
		return ipv4_literal_valid(s, len);

	/* General-address-literal: Standardized-tag = Ldh-str */
	size_t i = 0;

	while (i < len && (smtp_is_alpha((unsigned char)s[i]) || smtp_is_digit((unsigned char)s[i])
	                   || s[i] == '-'))
		i++;
	if (i == 0 || i >= len || s[i] != ':' || s[i - 1] == '-')
		return 0;
	if (++i == len)
		return 0;
	for (; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 33 || c > 126 || c == '[' || c == '\\' || c == ']')
			return 0;
	}
	return 1;
}

/* Offset of the '>' that closes the path starting at s[0] == '<', or len when
 * there is none. '>' and '\' inside a quoted local part do not count. Inside an
 * address literal ("[" to "]") a '"' is plain dcontent (RFC 5321 4.1.3): it must
 * not open a quote that hides the closing '>' (fuzz_smtp_path found
 * "<_@[v:1:<\"x>\"@]>" accepted whole, where a backend ends the path earlier). */
static size_t
path_end(const char *s, size_t len)
{
	int quoted = 0, literal = 0;

	for (size_t i = 1; i < len; i++) {
		if (quoted && s[i] == '\\' && i + 1 < len)
			i++;
		else if (literal && s[i] == ']')
			literal = 0;
		else if (!quoted && !literal && s[i] == '[')
			literal = 1;
		else if (s[i] == '"' && !literal)
			quoted = !quoted;
		else if (!quoted && s[i] == '>')
			return i;
	}
	return len;
}

/* Parse the inside of <...>: [A-d-l ":"] Mailbox, or "Postmaster". */
static enum smtp_err
mailbox_parse(enum smtp_path_kind kind, const char *s, size_t len, struct smtp_path *p)
{
	size_t i = 0;
	int is8 = 0;

	if (len == 0) {
		if (kind != SMTP_PATH_MAIL)
			return SMTP_ERR_BAD_ADDRESS;
		p->addr = s;
		p->addr_len = 0;
		return SMTP_OK;
	}
	if (kind == SMTP_PATH_RCPT && smtp_ascii_ieq(s, len, "postmaster")) {
		p->addr = s;
		p->addr_len = len;
		p->is_postmaster = 1;
		return SMTP_OK;
	}

	/* A-d-l = At-domain *( "," At-domain ): obsolete, checked and dropped. */
	if (s[0] == '@') {
		size_t colon;

		for (colon = 0; colon < len && s[colon] != ':'; colon++)
			;
		if (colon == len)
			return SMTP_ERR_BAD_ADDRESS;
		for (size_t a = 0; a < colon; ) {
			size_t b;

			if (s[a] != '@')
				return SMTP_ERR_BAD_ADDRESS;
			for (b = a + 1; b < colon && s[b] != ','; b++)
				;
			if (!domain_valid(s + a + 1, b - a - 1, &is8))
				return SMTP_ERR_BAD_ADDRESS;
			a = b == colon ? b : b + 1;
			if (b < colon && a == colon)
				return SMTP_ERR_BAD_ADDRESS;  /* trailing comma */
		}
		i = colon + 1;
	}

	const char *mb = s + i;
	size_t mblen = len - i;
	size_t at;

	/* The local part ends at the last '@' outside a quoted string; a quoted
	 * local part may itself contain '@'. */
	if (mblen > 0 && mb[0] == '"') {
		size_t q;

		for (q = 1; q < mblen && mb[q] != '"'; q++)
			if (mb[q] == '\\')
				q++;
		if (q >= mblen)
			return SMTP_ERR_BAD_ADDRESS;
		at = q + 1;
	} else {
		for (at = 0; at < mblen && mb[at] != '@'; at++)
			;
	}
	if (at >= mblen || mb[at] != '@')
		return SMTP_ERR_BAD_ADDRESS;
	if (at > SMTP_LOCAL_MAX || mblen - at - 1 > SMTP_DOMAIN_MAX)
		return SMTP_ERR_PATH_TOO_LONG;

	is8 = 0;  /* only the mailbox counts, not the discarded route */
	if (mb[0] == '"') {
		if (!quoted_string_valid(mb, at, &is8))
			return SMTP_ERR_BAD_ADDRESS;
	} else if (!dot_string_valid(mb, at, &is8)) {
		return SMTP_ERR_BAD_ADDRESS;
	}
	const char *dom = mb + at + 1;
	size_t domlen = mblen - at - 1;

	if (domlen > 0 && dom[0] == '[') {
		if (!address_literal_valid(dom, domlen))
			return SMTP_ERR_BAD_ADDRESS;
	} else if (!domain_valid(dom, domlen, &is8)) {
		return SMTP_ERR_BAD_ADDRESS;
	}
	p->addr = mb;
	p->addr_len = mblen;
	p->is_8bit = is8;
	return SMTP_OK;
}

struct param_rule {
	const char *name;
	enum smtp_param_id id;
	enum smtp_path_kind kind;
};

static const struct param_rule param_rules[] = {
	{ "SIZE", SMTP_PARAM_SIZE, SMTP_PATH_MAIL },
	{ "BODY", SMTP_PARAM_BODY, SMTP_PATH_MAIL },
	{ "SMTPUTF8", SMTP_PARAM_SMTPUTF8, SMTP_PATH_MAIL },
	{ "RET", SMTP_PARAM_RET, SMTP_PATH_MAIL },
	{ "ENVID", SMTP_PARAM_ENVID, SMTP_PATH_MAIL },
	{ "AUTH", SMTP_PARAM_AUTH, SMTP_PATH_MAIL },
	{ "NOTIFY", SMTP_PARAM_NOTIFY, SMTP_PATH_RCPT },
	{ "ORCPT", SMTP_PARAM_ORCPT, SMTP_PATH_RCPT },
};

/* NOTIFY = "NEVER" / 1#( "SUCCESS" / "FAILURE" / "DELAY" ) (RFC 3461 4.1) */
static int
notify_valid(const char *s, size_t len)
{
	static const char *const words[] = { "SUCCESS", "FAILURE", "DELAY" };
	unsigned seen = 0;

	if (smtp_ascii_ieq(s, len, "NEVER"))
		return 1;
	for (size_t a = 0; a <= len; ) {
		size_t b;
		size_t w;

		for (b = a; b < len && s[b] != ','; b++)
			;
		for (w = 0; w < ARRAY_LEN(words); w++)
			if (smtp_ascii_ieq(s + a, b - a, words[w]))
				break;
		if (w == ARRAY_LEN(words) || (seen & (1u << w)))
			return 0;
		seen |= 1u << w;
		a = b + 1;
	}
	return 1;
}

/* ORCPT = addr-type ";" xtext (RFC 3461 4.2); addr-type is an atom. An empty
 * original address carries nothing and is refused. */
static int
orcpt_valid(const char *s, size_t len)
{
	size_t semi;

	for (semi = 0; semi < len && s[semi] != ';'; semi++)
		if (!is_atext((unsigned char)s[semi]))
			return 0;
	return semi > 0 && semi < len && semi + 1 < len
	       && smtp_xtext_valid(s + semi + 1, len - semi - 1);
}

static enum smtp_err
param_check(struct smtp_path *p, const struct smtp_param *pa)
{
	const char *v = pa->value;
	size_t vl = pa->value_len;

	if (pa->id == SMTP_PARAM_SMTPUTF8) {
		if (v != NULL)
			return SMTP_ERR_BAD_PARAM_VALUE;
		p->smtputf8 = 1;
		return SMTP_OK;
	}
	if (v == NULL)
		return SMTP_ERR_BAD_PARAM_VALUE;
	switch (pa->id) {
	case SMTP_PARAM_SIZE:
		if (!smtp_decimal_u64(v, vl, &p->size))
			return SMTP_ERR_BAD_PARAM_VALUE;
		p->has_size = 1;
		break;
	case SMTP_PARAM_BODY:
		if (smtp_ascii_ieq(v, vl, "8BITMIME"))
			p->body_8bit = 1;
		else if (smtp_ascii_ieq(v, vl, "BINARYMIME"))
			return SMTP_ERR_UNKNOWN_PARAM;  /* RFC 3030, not offered */
		else if (!smtp_ascii_ieq(v, vl, "7BIT"))
			return SMTP_ERR_BAD_PARAM_VALUE;
		break;
	case SMTP_PARAM_RET:
		if (!smtp_ascii_ieq(v, vl, "FULL") && !smtp_ascii_ieq(v, vl, "HDRS"))
			return SMTP_ERR_BAD_PARAM_VALUE;
		p->has_dsn = 1;
		break;
	case SMTP_PARAM_ENVID:
		if (vl > 100 || !smtp_xtext_valid(v, vl))
			return SMTP_ERR_BAD_PARAM_VALUE;
		p->has_dsn = 1;
		break;
	case SMTP_PARAM_AUTH:
		/* "<>" is itself valid xtext. */
		if (!smtp_xtext_valid(v, vl))
			return SMTP_ERR_BAD_PARAM_VALUE;
		break;
	case SMTP_PARAM_NOTIFY:
		if (!notify_valid(v, vl))
			return SMTP_ERR_BAD_PARAM_VALUE;
		p->has_dsn = 1;
		break;
	case SMTP_PARAM_ORCPT:
		if (!orcpt_valid(v, vl))
			return SMTP_ERR_BAD_PARAM_VALUE;
		p->has_dsn = 1;
		break;
	default:
		return SMTP_ERR_UNKNOWN_PARAM;
	}
	return SMTP_OK;
}

/* esmtp-param = esmtp-keyword ["=" esmtp-value]; s is one space-free token. */
static enum smtp_err
param_parse(enum smtp_path_kind kind, const char *s, size_t len, struct smtp_path *p)
{
	struct smtp_param *pa = &p->params[p->nparams];
	size_t k;

	for (k = 0; k < len && s[k] != '='; k++)
		if (!smtp_is_alpha((unsigned char)s[k]) && !smtp_is_digit((unsigned char)s[k])
		    && !(k > 0 && s[k] == '-'))
			return SMTP_ERR_SYNTAX;
	if (k == 0)
		return SMTP_ERR_SYNTAX;
	pa->id = SMTP_PARAM_OTHER;
	pa->key = s;
	pa->key_len = k;
	pa->value = k < len ? s + k + 1 : NULL;
	pa->value_len = k < len ? len - k - 1 : 0;
	/* From here on the caller can name the parameter. */
	p->nparams++;

	for (size_t r = 0; r < ARRAY_LEN(param_rules); r++)
		if (smtp_ascii_ieq(s, k, param_rules[r].name)) {
			if (param_rules[r].kind == kind)
				pa->id = param_rules[r].id;
			break;
		}
	if (pa->id == SMTP_PARAM_OTHER)
		return SMTP_ERR_UNKNOWN_PARAM;
	for (size_t j = 0; j + 1 < p->nparams; j++)
		if (p->params[j].id == pa->id)
			return SMTP_ERR_DUP_PARAM;
	if (pa->value != NULL) {
		/* esmtp-value = 1*(%d33-60 / %d62-126 / UTF8-non-ascii) */
		if (pa->value_len == 0)
			return SMTP_ERR_BAD_PARAM_VALUE;
		for (size_t j = 0; j < pa->value_len; j++)
			if (pa->value[j] == '=')
				return SMTP_ERR_BAD_PARAM_VALUE;
	}
	return param_check(p, pa);
}

enum smtp_err
smtp_path_parse(enum smtp_path_kind kind, const char *arg, size_t len,
                struct smtp_path *path_r)
{
	const char *prefix = kind == SMTP_PATH_MAIL ? "FROM:" : "TO:";
	size_t i, end, ntok;
	enum smtp_err err;

	memset(path_r, 0, sizeof(*path_r));
	path_r->addr = "";
	for (i = 0; i < len; i++)
		if (smtp_is_ctl((unsigned char)arg[i]))
			return SMTP_ERR_BAD_CHAR;
	if (!smtp_ascii_iprefix(arg, len, prefix))
		return SMTP_ERR_SYNTAX;
	/* Postfix accepts "MAIL FROM: <a@b>"; so do we. */
	for (i = strlen(prefix); i < len && arg[i] == ' '; i++)
		;
	if (i == len || arg[i] != '<')
		return SMTP_ERR_BAD_ADDRESS;
	end = i + path_end(arg + i, len - i);
	if (end == len)
		return SMTP_ERR_BAD_ADDRESS;
	if (end - i + 1 > SMTP_PATH_MAX)
		return SMTP_ERR_PATH_TOO_LONG;
	err = mailbox_parse(kind, arg + i + 1, end - i - 1, path_r);
	if (err != SMTP_OK)
		return err;

	i = end + 1;
	if (i < len && arg[i] != ' ')
		return SMTP_ERR_SYNTAX;

	/* Count first, so that the limit is reachable at all: only 6 distinct
	 * parameters are known, so a longer list would otherwise always stop at a
	 * duplicate or unknown one. */
	ntok = 0;
	for (size_t j = i; j < len; j++)
		if (arg[j] != ' ' && (j == i || arg[j - 1] == ' '))
			ntok++;
	if (ntok > SMTP_PARAMS_MAX)
		return SMTP_ERR_TOO_MANY_PARAMS;

	while (i < len) {
		size_t t;

		while (i < len && arg[i] == ' ')
			i++;
		if (i == len)
			break;
		for (t = i; t < len && arg[t] != ' '; t++)
			;
		err = param_parse(kind, arg + i, t - i, path_r);
		if (err != SMTP_OK)
			return err;
		i = t;
	}
	return SMTP_OK;
}
