/* smtp_parse.h - SMTP command, reply, EHLO capability, xtext and HELO parsing; no I/O.
 * MAIL/RCPT paths and ESMTP parameters are in smtp_path.h.
 *
 * Everything here is pure: input is a length-delimited buffer (never assumed to be
 * NUL-terminated, may contain NUL), output points into that buffer or into the
 * caller's struct. Nothing allocates, nothing logs. */
#ifndef SLUICE_SMTP_PARSE_H
#define SLUICE_SMTP_PARSE_H

#include <stddef.h>
#include <stdint.h>

#define SMTP_COMMAND_MAX 512      /* RFC 5321 4.5.3.1.4, including CRLF */
#define SMTP_REPLY_LINE_MAX 512   /* RFC 5321 4.5.3.1.5, including CRLF */
#define SMTP_DOMAIN_MAX 255       /* RFC 5321 4.5.3.1.2; HELO and path domains */

enum smtp_verb {
	SMTP_VERB_UNKNOWN = 0,
	SMTP_VERB_HELO, SMTP_VERB_EHLO, SMTP_VERB_MAIL, SMTP_VERB_RCPT, SMTP_VERB_DATA,
	SMTP_VERB_BDAT, SMTP_VERB_RSET, SMTP_VERB_NOOP, SMTP_VERB_QUIT, SMTP_VERB_VRFY,
	SMTP_VERB_EXPN, SMTP_VERB_HELP, SMTP_VERB_STARTTLS, SMTP_VERB_AUTH,
	SMTP_VERB_XCLIENT, SMTP_VERB_XFORWARD, SMTP_VERB_ETRN, SMTP_VERB_TURN,
	SMTP_VERB_PROXY,
	SMTP_VERB_COUNT
};

/* Parse results. The caller maps them to replies (session code), e.g.
 * SMTP_ERR_SYNTAX -> 501 5.5.4, SMTP_ERR_UNKNOWN_PARAM -> 555 5.5.4. */
enum smtp_err {
	SMTP_OK = 0,
	SMTP_ERR_EMPTY,          /* empty line */
	SMTP_ERR_BAD_CHAR,       /* NUL, CR, LF or other control character in a command */
	SMTP_ERR_SYNTAX,         /* anything else malformed */
	SMTP_ERR_PATH_TOO_LONG,
	SMTP_ERR_BAD_ADDRESS,    /* mailbox syntax (RFC 5321 4.1.2) */
	SMTP_ERR_TOO_MANY_PARAMS,
	SMTP_ERR_DUP_PARAM,
	SMTP_ERR_UNKNOWN_PARAM,
	SMTP_ERR_BAD_PARAM_VALUE,
};

const char *smtp_verb_name(enum smtp_verb v);     /* "MAIL", ... ; "?" when unknown */
const char *smtp_err_text(enum smtp_err e);       /* short English text for replies/logs */

struct smtp_cmd {
	enum smtp_verb verb;
	const char *verb_text;    /* the verb as sent (for logs) */
	size_t verb_len;
	const char *arg;          /* after the verb and one or more spaces; never NULL */
	size_t arg_len;           /* trailing spaces removed */
};

/* line excludes the CRLF. Verbs match case-insensitively; a verb is followed by
 * end-of-line or a space. Any byte < 0x20 or 0x7f rejects with SMTP_ERR_BAD_CHAR
 * (8-bit bytes are allowed: SMTPUTF8 addresses are judged by the path parser).
 * TAB is a control byte too: RFC 5321 separates with SP only.
 * A line of spaces only is SMTP_ERR_EMPTY; a line starting with a space is
 * SMTP_ERR_SYNTAX. A verb not in the table is SMTP_OK with SMTP_VERB_UNKNOWN
 * ("MAILX" is unknown). The length limit is the caller's. On error cmd_r is
 * zeroed with verb_text and arg set to "" (never NULL). */
enum smtp_err smtp_cmd_parse(const char *line, size_t len, struct smtp_cmd *cmd_r);

/* One line of a reply, without CRLF: "250-SIZE 1000" or "250 ok" or "250". */
struct smtp_reply_line {
	int code;                 /* 200..599 */
	int last;                 /* separator was ' ' or end of line */
	const char *text;         /* after the separator */
	size_t text_len;
};

/* Rejects: fewer than 3 digits, first digit not 2-5, second not 0-5, separator not
 * ' ' / '-' / end, control bytes, 8-bit bytes, length over SMTP_REPLY_LINE_MAX-2.
 * Errors: SMTP_ERR_EMPTY for an empty line, SMTP_ERR_BAD_CHAR for control or
 * 8-bit bytes, SMTP_ERR_SYNTAX for the rest. */
enum smtp_err smtp_reply_line_parse(const char *line, size_t len, struct smtp_reply_line *r);

/* Enhanced status code at the start of reply text ("5.7.1 ..."), RFC 3463.
 * Returns the length of the code (not the following space), 0 when absent. */
size_t smtp_enhanced_code_len(const char *text, size_t len);

/* What an EHLO reply offers (RFC 5321 4.1.1.1 ehlo-line keywords). */
enum smtp_cap {
	SMTP_CAP_SIZE = 1 << 0,
	SMTP_CAP_PIPELINING = 1 << 1,
	SMTP_CAP_8BITMIME = 1 << 2,
	SMTP_CAP_SMTPUTF8 = 1 << 3,
	SMTP_CAP_DSN = 1 << 4,
	SMTP_CAP_CHUNKING = 1 << 5,
	SMTP_CAP_ENHANCEDSTATUSCODES = 1 << 6,
	SMTP_CAP_STARTTLS = 1 << 7,
	SMTP_CAP_AUTH = 1 << 8,
	SMTP_CAP_XCLIENT = 1 << 9,
	SMTP_CAP_XFORWARD = 1 << 10,
	SMTP_CAP_BINARYMIME = 1 << 11,
};

/* XCLIENT attribute bits (Postfix XCLIENT_README). */
enum smtp_xclient_attr {
	SMTP_XCLIENT_NAME = 1 << 0, SMTP_XCLIENT_ADDR = 1 << 1, SMTP_XCLIENT_PORT = 1 << 2,
	SMTP_XCLIENT_PROTO = 1 << 3, SMTP_XCLIENT_HELO = 1 << 4, SMTP_XCLIENT_LOGIN = 1 << 5,
	SMTP_XCLIENT_DESTADDR = 1 << 6, SMTP_XCLIENT_DESTPORT = 1 << 7,
};

struct smtp_caps {
	unsigned caps;            /* enum smtp_cap bits */
	uint64_t size;            /* SIZE argument; 0 = none given or unlimited */
	unsigned xclient_attrs;   /* enum smtp_xclient_attr bits */
	unsigned xforward_attrs;  /* the same bits, of XFORWARD's list (NAME ADDR PORT PROTO HELO) */
	char auth[128];           /* AUTH mechanism list as offered, "" if none */
};

/* Feed the text of each reply line (after "250-"/"250 "), in order, starting from
 * the second line (the first is the greeting domain). Unknown keywords are ignored. */
void smtp_caps_init(struct smtp_caps *caps);
void smtp_caps_add_line(struct smtp_caps *caps, const char *text, size_t len);

/* xtext (RFC 3461 4): '+', '=', and bytes outside 0x21..0x7e become "+XX".
 * Writes at most dstlen-1 bytes and a NUL (never half of a "+XX"); returns the
 * full encoded length (so a result >= dstlen means truncation). */
size_t smtp_xtext_encode(char *dst, size_t dstlen, const char *src, size_t srclen);
/* Validates xtext syntax; returns 1 when valid ("" is valid xtext). */
int smtp_xtext_valid(const char *s, size_t len);

/* Domain or address literal as in HELO/EHLO (RFC 5321 4.1.1.1), lenient as MTAs
 * are: letters, digits, '-', '.', '_' or a bracketed literal; at most 255 octets. */
int smtp_helo_valid(const char *s, size_t len);

/* Byte classes and ASCII case folding shared with smtp_path.c. Locale-independent
 * (the C library's depend on LC_CTYPE); s is length-delimited, word is a C string. */
static inline int
smtp_is_alpha(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static inline int
smtp_is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static inline int
smtp_is_ctl(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

/* 1 when s equals word, or starts with it, ignoring ASCII case. */
int smtp_ascii_ieq(const char *s, size_t len, const char *word);
int smtp_ascii_iprefix(const char *s, size_t len, const char *word);

/* size-value = 1*20DIGIT (RFC 1870) that fits in 64 bits: 1 and *v_r set, else 0.
 * For SIZE= in MAIL (smtp_path.c) and the SIZE keyword of EHLO. */
int smtp_decimal_u64(const char *s, size_t len, uint64_t *v_r);

#endif
