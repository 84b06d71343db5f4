/* smtp_parse.c - SMTP command, ESMTP parameter, reply and EHLO parsing; no I/O. */
#include "smtp_parse.h"

#include <arpa/inet.h>
#include <string.h>

#include "util.h"

static const char *const verb_names[SMTP_VERB_COUNT] = {
	[SMTP_VERB_UNKNOWN] = "?",
	[SMTP_VERB_HELO] = "HELO", [SMTP_VERB_EHLO] = "EHLO", [SMTP_VERB_MAIL] = "MAIL",
	[SMTP_VERB_RCPT] = "RCPT", [SMTP_VERB_DATA] = "DATA", [SMTP_VERB_BDAT] = "BDAT",
	[SMTP_VERB_RSET] = "RSET", [SMTP_VERB_NOOP] = "NOOP", [SMTP_VERB_QUIT] = "QUIT",
	[SMTP_VERB_VRFY] = "VRFY", [SMTP_VERB_EXPN] = "EXPN", [SMTP_VERB_HELP] = "HELP",
	[SMTP_VERB_STARTTLS] = "STARTTLS", [SMTP_VERB_AUTH] = "AUTH",
	[SMTP_VERB_XCLIENT] = "XCLIENT", [SMTP_VERB_XFORWARD] = "XFORWARD",
	[SMTP_VERB_ETRN] = "ETRN", [SMTP_VERB_TURN] = "TURN", [SMTP_VERB_PROXY] = "PROXY",
};

static const char *const err_texts[] = {
	[SMTP_OK] = "ok",
	[SMTP_ERR_EMPTY] = "empty command",
	[SMTP_ERR_BAD_CHAR] = "bad character in command",
	[SMTP_ERR_SYNTAX] = "syntax error",
	[SMTP_ERR_PATH_TOO_LONG] = "address too long",
	[SMTP_ERR_BAD_ADDRESS] = "bad address syntax",
	[SMTP_ERR_TOO_MANY_PARAMS] = "too many parameters",
	[SMTP_ERR_DUP_PARAM] = "duplicate parameter",
	[SMTP_ERR_UNKNOWN_PARAM] = "unsupported option",
	[SMTP_ERR_BAD_PARAM_VALUE] = "bad parameter value",
};

const char *
smtp_verb_name(enum smtp_verb v)
{
	if ((unsigned)v >= SMTP_VERB_COUNT)
		return "?";
	return verb_names[v];
}

const char *
smtp_err_text(enum smtp_err e)
{
	if ((unsigned)e >= ARRAY_LEN(err_texts) || err_texts[e] == NULL)
		return "unknown error";
	return err_texts[e];
}

/* Locale-independent: the C library's case folding depends on LC_CTYPE. */
static int
ascii_lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

static int
ascii_ieq(const char *s, size_t len, const char *word)
{
	size_t n = strlen(word);

	if (len != n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (ascii_lower((unsigned char)s[i]) != ascii_lower((unsigned char)word[i]))
			return 0;
	return 1;
}

static int
ascii_iprefix(const char *s, size_t len, const char *word)
{
	size_t n = strlen(word);

	return len >= n && ascii_ieq(s, n, word);
}

static int
is_alpha(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static int
is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static int
is_ctl(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

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

/* ---- commands ---- */

enum smtp_err
smtp_cmd_parse(const char *line, size_t len, struct smtp_cmd *cmd_r)
{
	size_t i, vlen;

	memset(cmd_r, 0, sizeof(*cmd_r));
	cmd_r->verb_text = "";
	cmd_r->arg = "";
	if (len == 0)
		return SMTP_ERR_EMPTY;
	for (i = 0; i < len; i++)
		if (is_ctl((unsigned char)line[i]))
			return SMTP_ERR_BAD_CHAR;

	for (vlen = 0; vlen < len && line[vlen] != ' '; vlen++)
		;
	if (vlen == 0) {
		/* RFC 5321 4.1.1: the verb starts the line. A blank line is "empty". */
		for (i = 0; i < len && line[i] == ' '; i++)
			;
		return i == len ? SMTP_ERR_EMPTY : SMTP_ERR_SYNTAX;
	}
	cmd_r->verb_text = line;
	cmd_r->verb_len = vlen;
	cmd_r->verb = SMTP_VERB_UNKNOWN;
	for (int v = SMTP_VERB_UNKNOWN + 1; v < SMTP_VERB_COUNT; v++)
		if (ascii_ieq(line, vlen, verb_names[v])) {
			cmd_r->verb = (enum smtp_verb)v;
			break;
		}

	for (i = vlen; i < len && line[i] == ' '; i++)
		;
	while (len > i && line[len - 1] == ' ')
		len--;
	cmd_r->arg = line + i;
	cmd_r->arg_len = len - i;
	return SMTP_OK;
}

/* ---- paths (RFC 5321 4.1.2, RFC 6531 3.3) ---- */

/* RFC 5322 atext, the characters of a Dot-string atom. */
static int
is_atext(unsigned char c)
{
	return is_alpha(c) || is_digit(c) || (c != 0 && strchr("!#$%&'*+-/=?^_`{|}~", c));
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
		} else if (is_alpha(u[i]) || is_digit(u[i])) {
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
		while (i < len && is_digit((unsigned char)s[i]) && d < 3) {
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
	if (ascii_iprefix(s, len, "IPv6:")) {
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
	if (len > 0 && is_digit((unsigned char)s[0]))
		return ipv4_literal_valid(s, len);

	/* General-address-literal: Standardized-tag = Ldh-str */
	size_t i = 0;

	while (i < len && (is_alpha((unsigned char)s[i]) || is_digit((unsigned char)s[i])
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
 * there is none. '>' and '\' inside a quoted local part do not count. */
static size_t
path_end(const char *s, size_t len)
{
	int quoted = 0;

	for (size_t i = 1; i < len; i++) {
		if (quoted && s[i] == '\\' && i + 1 < len)
			i++;
		else if (s[i] == '"')
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
	if (kind == SMTP_PATH_RCPT && ascii_ieq(s, len, "postmaster")) {
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

/* size-value = 1*20DIGIT (RFC 1870), and it must fit. */
static int
decimal_u64(const char *s, size_t len, uint64_t *v_r)
{
	uint64_t v = 0;

	if (len == 0 || len > 20)
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned d;

		if (!is_digit((unsigned char)s[i]))
			return 0;
		d = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return 0;
		v = v * 10 + d;
	}
	*v_r = v;
	return 1;
}

/* NOTIFY = "NEVER" / 1#( "SUCCESS" / "FAILURE" / "DELAY" ) (RFC 3461 4.1) */
static int
notify_valid(const char *s, size_t len)
{
	static const char *const words[] = { "SUCCESS", "FAILURE", "DELAY" };
	unsigned seen = 0;

	if (ascii_ieq(s, len, "NEVER"))
		return 1;
	for (size_t a = 0; a <= len; ) {
		size_t b;
		size_t w;

		for (b = a; b < len && s[b] != ','; b++)
			;
		for (w = 0; w < ARRAY_LEN(words); w++)
			if (ascii_ieq(s + a, b - a, words[w]))
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
		if (!decimal_u64(v, vl, &p->size))
			return SMTP_ERR_BAD_PARAM_VALUE;
		p->has_size = 1;
		break;
	case SMTP_PARAM_BODY:
		if (ascii_ieq(v, vl, "8BITMIME"))
			p->body_8bit = 1;
		else if (ascii_ieq(v, vl, "BINARYMIME"))
			return SMTP_ERR_UNKNOWN_PARAM;  /* RFC 3030, not offered */
		else if (!ascii_ieq(v, vl, "7BIT"))
			return SMTP_ERR_BAD_PARAM_VALUE;
		break;
	case SMTP_PARAM_RET:
		if (!ascii_ieq(v, vl, "FULL") && !ascii_ieq(v, vl, "HDRS"))
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
		if (!is_alpha((unsigned char)s[k]) && !is_digit((unsigned char)s[k])
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
		if (ascii_ieq(s, k, param_rules[r].name)) {
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
		if (is_ctl((unsigned char)arg[i]))
			return SMTP_ERR_BAD_CHAR;
	if (!ascii_iprefix(arg, len, prefix))
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

/* ---- replies ---- */

enum smtp_err
smtp_reply_line_parse(const char *line, size_t len, struct smtp_reply_line *r)
{
	const unsigned char *u = (const unsigned char *)line;

	memset(r, 0, sizeof(*r));
	r->text = "";
	if (len == 0)
		return SMTP_ERR_EMPTY;
	if (len > SMTP_REPLY_LINE_MAX - 2)
		return SMTP_ERR_SYNTAX;
	for (size_t i = 0; i < len; i++)
		if (is_ctl(u[i]) || u[i] >= 0x80)
			return SMTP_ERR_BAD_CHAR;
	if (len < 3 || u[0] < '2' || u[0] > '5' || u[1] < '0' || u[1] > '5' || !is_digit(u[2]))
		return SMTP_ERR_SYNTAX;
	if (len > 3 && u[3] != ' ' && u[3] != '-')
		return SMTP_ERR_SYNTAX;
	r->code = (u[0] - '0') * 100 + (u[1] - '0') * 10 + (u[2] - '0');
	r->last = len == 3 || u[3] == ' ';
	r->text = len > 3 ? line + 4 : line + 3;
	r->text_len = len > 3 ? len - 4 : 0;
	return SMTP_OK;
}

/* Digits at s[*i], at most 3 and at least 1. */
static int
code_part(const char *s, size_t len, size_t *i)
{
	size_t n = 0;

	while (*i < len && is_digit((unsigned char)s[*i]) && n < 4) {
		(*i)++;
		n++;
	}
	return n >= 1 && n <= 3;
}

size_t
smtp_enhanced_code_len(const char *text, size_t len)
{
	size_t i;

	if (len < 5 || (text[0] != '2' && text[0] != '4' && text[0] != '5') || text[1] != '.')
		return 0;
	i = 2;
	if (!code_part(text, len, &i) || i >= len || text[i] != '.')
		return 0;
	i++;
	if (!code_part(text, len, &i))
		return 0;
	if (i < len && text[i] != ' ')
		return 0;
	return i;
}

/* ---- EHLO keywords ---- */

void
smtp_caps_init(struct smtp_caps *caps)
{
	memset(caps, 0, sizeof(*caps));
}

static const struct {
	const char *name;
	unsigned bit;
} cap_words[] = {
	{ "SIZE", SMTP_CAP_SIZE }, { "PIPELINING", SMTP_CAP_PIPELINING },
	{ "8BITMIME", SMTP_CAP_8BITMIME }, { "SMTPUTF8", SMTP_CAP_SMTPUTF8 },
	{ "DSN", SMTP_CAP_DSN }, { "CHUNKING", SMTP_CAP_CHUNKING },
	{ "ENHANCEDSTATUSCODES", SMTP_CAP_ENHANCEDSTATUSCODES },
	{ "STARTTLS", SMTP_CAP_STARTTLS }, { "AUTH", SMTP_CAP_AUTH },
	{ "XCLIENT", SMTP_CAP_XCLIENT }, { "XFORWARD", SMTP_CAP_XFORWARD },
	{ "BINARYMIME", SMTP_CAP_BINARYMIME },
};

static const struct {
	const char *name;
	unsigned bit;
} xclient_words[] = {
	{ "NAME", SMTP_XCLIENT_NAME }, { "ADDR", SMTP_XCLIENT_ADDR },
	{ "PORT", SMTP_XCLIENT_PORT }, { "PROTO", SMTP_XCLIENT_PROTO },
	{ "HELO", SMTP_XCLIENT_HELO }, { "LOGIN", SMTP_XCLIENT_LOGIN },
	{ "DESTADDR", SMTP_XCLIENT_DESTADDR }, { "DESTPORT", SMTP_XCLIENT_DESTPORT },
};

/* Next space-separated token of s[*i..len); 0 at the end. */
static size_t
next_token(const char *s, size_t len, size_t *i, const char **tok_r)
{
	size_t start;

	while (*i < len && s[*i] == ' ')
		(*i)++;
	start = *i;
	while (*i < len && s[*i] != ' ')
		(*i)++;
	*tok_r = s + start;
	return *i - start;
}

/* Keep whole, printable mechanism names only, so that a truncated or hostile
 * list never yields a mechanism the server did not offer. */
static void
caps_set_auth(struct smtp_caps *caps, const char *s, size_t len, size_t i)
{
	size_t out = 0;
	const char *tok;
	size_t tl;

	if (caps->auth[0] != '\0')
		return;  /* Postfix may offer both "AUTH x" and "AUTH=x"; keep the first */
	while ((tl = next_token(s, len, &i, &tok)) > 0) {
		size_t j;

		for (j = 0; j < tl; j++)
			if ((unsigned char)tok[j] < 0x21 || (unsigned char)tok[j] > 0x7e)
				break;
		if (j < tl)
			continue;
		if (out + (out > 0) + tl >= sizeof(caps->auth))
			break;
		if (out > 0)
			caps->auth[out++] = ' ';
		memcpy(caps->auth + out, tok, tl);
		out += tl;
		caps->auth[out] = '\0';
	}
}

void
smtp_caps_add_line(struct smtp_caps *caps, const char *text, size_t len)
{
	size_t i = 0, kl;
	const char *kw;
	unsigned bit = 0;

	kl = next_token(text, len, &i, &kw);
	if (kl == 0)
		return;
	if (ascii_iprefix(kw, kl, "AUTH=")) {
		/* Pre-RFC 2554 form "AUTH=PLAIN LOGIN": same meaning as AUTH. */
		caps->caps |= SMTP_CAP_AUTH;
		caps_set_auth(caps, text, len, (size_t)(kw - text) + 5);
		return;
	}
	for (size_t w = 0; w < ARRAY_LEN(cap_words); w++)
		if (ascii_ieq(kw, kl, cap_words[w].name)) {
			bit = cap_words[w].bit;
			break;
		}
	caps->caps |= bit;

	if (bit == SMTP_CAP_SIZE) {
		const char *tok;
		size_t tl = next_token(text, len, &i, &tok);
		uint64_t v;

		/* RFC 1870: no argument or 0 means no fixed limit. */
		caps->size = tl > 0 && decimal_u64(tok, tl, &v) ? v : 0;
	} else if (bit == SMTP_CAP_AUTH) {
		caps_set_auth(caps, text, len, i);
	} else if (bit == SMTP_CAP_XCLIENT) {
		const char *tok;
		size_t tl;

		while ((tl = next_token(text, len, &i, &tok)) > 0)
			for (size_t w = 0; w < ARRAY_LEN(xclient_words); w++)
				if (ascii_ieq(tok, tl, xclient_words[w].name))
					caps->xclient_attrs |= xclient_words[w].bit;
	}
}

/* ---- xtext (RFC 3461 4) ---- */

static int
is_xchar(unsigned char c)
{
	return c >= 33 && c <= 126 && c != '+' && c != '=';
}

size_t
smtp_xtext_encode(char *dst, size_t dstlen, const char *src, size_t srclen)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t out = 0;
	int room = dstlen > 0;

	if (dstlen > 0)
		dst[0] = '\0';
	for (size_t i = 0; i < srclen; i++) {
		unsigned char c = (unsigned char)src[i];
		size_t n = is_xchar(c) ? 1 : 3;

		/* Never emit half a "+XX": a cut-off escape would not be xtext. */
		if (room && out + n > dstlen - 1)
			room = 0;
		if (room) {
			if (n == 1) {
				dst[out] = (char)c;
			} else {
				dst[out] = '+';
				dst[out + 1] = hex[c >> 4];
				dst[out + 2] = hex[c & 0xf];
			}
			dst[out + n] = '\0';
		}
		out += n;
	}
	return out;
}

static int
is_upper_hex(unsigned char c)
{
	return is_digit(c) || (c >= 'A' && c <= 'F');
}

int
smtp_xtext_valid(const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;

	for (size_t i = 0; i < len; i++) {
		if (u[i] == '+') {
			if (i + 2 >= len || !is_upper_hex(u[i + 1]) || !is_upper_hex(u[i + 2]))
				return 0;
			i += 2;
		} else if (!is_xchar(u[i])) {
			return 0;
		}
	}
	return 1;
}

/* ---- HELO/EHLO argument ---- */

int
smtp_helo_valid(const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;

	if (len == 0 || len > SMTP_DOMAIN_MAX)
		return 0;
	if (u[0] == '[') {
		if (len < 3 || u[len - 1] != ']')
			return 0;
		for (size_t i = 1; i < len - 1; i++)
			if (u[i] < 0x21 || u[i] > 0x7e || u[i] == '[' || u[i] == ']')
				return 0;
		return 1;
	}
	for (size_t i = 0; i < len; i++)
		if (!is_alpha(u[i]) && !is_digit(u[i]) && u[i] != '-' && u[i] != '.'
		    && u[i] != '_' && u[i] < 0x80)
			return 0;
	return 1;
}
