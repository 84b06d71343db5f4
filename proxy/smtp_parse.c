/* smtp_parse.c - SMTP command, reply, EHLO capability, xtext and HELO parsing; no I/O. */
#include "smtp_parse.h"

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

int
smtp_ascii_ieq(const char *s, size_t len, const char *word)
{
	size_t n = strlen(word);

	if (len != n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (ascii_lower((unsigned char)s[i]) != ascii_lower((unsigned char)word[i]))
			return 0;
	return 1;
}

int
smtp_ascii_iprefix(const char *s, size_t len, const char *word)
{
	size_t n = strlen(word);

	return len >= n && smtp_ascii_ieq(s, n, word);
}

int
smtp_decimal_u64(const char *s, size_t len, uint64_t *v_r)
{
	uint64_t v = 0;

	if (len == 0 || len > 20)
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned d;

		if (!smtp_is_digit((unsigned char)s[i]))
			return 0;
		d = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return 0;
		v = v * 10 + d;
	}
	*v_r = v;
	return 1;
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
		if (smtp_is_ctl((unsigned char)line[i]))
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
		if (smtp_ascii_ieq(line, vlen, verb_names[v])) {
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
		if (smtp_is_ctl(u[i]) || u[i] >= 0x80)
			return SMTP_ERR_BAD_CHAR;
	if (len < 3 || u[0] < '2' || u[0] > '5' || u[1] < '0' || u[1] > '5' || !smtp_is_digit(u[2]))
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

	while (*i < len && smtp_is_digit((unsigned char)s[*i]) && n < 4) {
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
	if (smtp_ascii_iprefix(kw, kl, "AUTH=")) {
		/* Pre-RFC 2554 form "AUTH=PLAIN LOGIN": same meaning as AUTH. */
		caps->caps |= SMTP_CAP_AUTH;
		caps_set_auth(caps, text, len, (size_t)(kw - text) + 5);
		return;
	}
	for (size_t w = 0; w < ARRAY_LEN(cap_words); w++)
		if (smtp_ascii_ieq(kw, kl, cap_words[w].name)) {
			bit = cap_words[w].bit;
			break;
		}
	caps->caps |= bit;

	if (bit == SMTP_CAP_SIZE) {
		const char *tok;
		size_t tl = next_token(text, len, &i, &tok);
		uint64_t v;

		/* RFC 1870: no argument or 0 means no fixed limit. */
		caps->size = tl > 0 && smtp_decimal_u64(tok, tl, &v) ? v : 0;
	} else if (bit == SMTP_CAP_AUTH) {
		caps_set_auth(caps, text, len, i);
	} else if (bit == SMTP_CAP_XCLIENT || bit == SMTP_CAP_XFORWARD) {
		unsigned *attrs = bit == SMTP_CAP_XCLIENT ? &caps->xclient_attrs : &caps->xforward_attrs;
		const char *tok;
		size_t tl;

		while ((tl = next_token(text, len, &i, &tok)) > 0)
			for (size_t w = 0; w < ARRAY_LEN(xclient_words); w++)
				if (smtp_ascii_ieq(tok, tl, xclient_words[w].name))
					*attrs |= xclient_words[w].bit;
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
	return smtp_is_digit(c) || (c >= 'A' && c <= 'F');
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
		if (!smtp_is_alpha(u[i]) && !smtp_is_digit(u[i]) && u[i] != '-' && u[i] != '.'
		    && u[i] != '_' && u[i] < 0x80)
			return 0;
	return 1;
}
