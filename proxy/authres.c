/* authres.c - Authentication-Results: recognising our authserv-id in received
 * fields, and building the field sluice writes. */
#include <string.h>
#include <strings.h>

#include "authres.h"
#include "util.h"

#define AUTHRES_LINE_MAX 998   /* RFC 5322 2.1.1, without CRLF */

/* Past CFWS (RFC 5322 3.2.2): white space, CR, LF and nested comments. */
static const char *
skip_cfws(const char *p)
{
	int depth = 0;

	for (; *p != '\0'; p++) {
		if (*p == '(') {
			depth++;
		} else if (*p == ')' && depth > 0) {
			depth--;
		} else if (*p == '\\' && depth > 0 && p[1] != '\0') {
			p++;
		} else if (depth == 0 && *p != ' ' && *p != '\t' && *p != '\r' && *p != '\n') {
			break;
		}
	}
	return p;
}

int
authres_names_id(const char *value, const char *id)
{
	char tok[256];
	size_t n = 0;
	const char *p;

	if (value == NULL || id == NULL || *id == '\0')
		return 0;
	p = skip_cfws(value);
	if (*p == '"') {
		/* quoted-string: the id is its content, quoted-pairs unescaped */
		for (p++; *p != '\0' && *p != '"'; p++) {
			if (*p == '\\' && p[1] != '\0')
				p++;
			if (n + 1 >= sizeof(tok))
				return 0;
			tok[n++] = *p;
		}
		if (*p != '"')
			return 0;
	} else {
		/* token (RFC 2045): up to white space, ';', a comment or a tspecial */
		for (; *p != '\0' && strchr(" \t\r\n;()<>@,:\\\"/[]?=", *p) == NULL; p++) {
			if (n + 1 >= sizeof(tok))
				return 0;
			tok[n++] = *p;
		}
	}
	tok[n] = '\0';
	return n > 0 && strcasecmp(tok, id) == 0;
}

/* Append len octets of s; -1 when buf is full. */
static int
put(char *buf, size_t size, size_t *at, const char *s, size_t len)
{
	if (*at + len + 1 > size)
		return -1;
	memcpy(buf + *at, s, len);
	*at += len;
	buf[*at] = '\0';
	return 0;
}

/* Append one note's clauses, each on its own folded line. line_r: where the
 * current line starts, to hold lines to AUTHRES_LINE_MAX. */
static int
put_clauses(char *buf, size_t size, size_t *at, size_t *line_r, const char *v)
{
	while (*v != '\0') {
		const char *e = v;
		int depth = 0;

		/* a clause ends at "; " outside comments, or at the end */
		for (; *e != '\0'; e++) {
			if (*e == '(')
				depth++;
			else if (*e == ')' && depth > 0)
				depth--;
			else if (*e == ';' && depth == 0)
				break;
		}
		while (v < e && (*v == ' ' || *v == '\t'))
			v++;
		if (e > v) {
			if (put(buf, size, at, ";\n\t", 3) < 0)
				return -1;
			*line_r = *at;
			if (put(buf, size, at, v, (size_t)(e - v)) < 0 ||
			    *at - *line_r + 1 > AUTHRES_LINE_MAX)
				return -1;
		}
		v = *e == ';' ? e + 1 : e;
	}
	return 0;
}

size_t
authres_build(char *buf, size_t size, const char *id, const char *const *results, size_t n)
{
	size_t at = 0, line = 0, before;

	if (n == 0 || size == 0)
		return 0;
	buf[0] = '\0';
	/* "Authentication-Results: " precedes the id on the first line */
	if (put(buf, size, &at, id, strlen(id)) < 0 ||
	    at + sizeof(AUTHRES_FIELD) + 2 > AUTHRES_LINE_MAX)
		return 0;
	before = at;
	for (size_t i = 0; i < n; i++)
		if (results[i] != NULL && put_clauses(buf, size, &at, &line, results[i]) < 0)
			return 0;
	if (at == before)
		return 0;   /* nothing but empty notes */
	return at;
}
