/* dmarc_from.c - the Author Domain of an RFC5322.From field; no I/O. */

/*
 * One pass over the value (RFC 5322 3.4 address-list, with the obsolete forms
 * of 4.4 that still occur): comments are dropped, quoted strings kept whole,
 * and the list is cut at ',' and ';' outside quotes and angle brackets. A ':'
 * outside brackets opens a group: what came before it is the group's name. In
 * each element the address is what stands in angle brackets, or the whole
 * element when there are none; its domain is what follows the last '@' that is
 * not quoted.
 */

#include <stdlib.h>
#include <string.h>

#include "dmarc_from.h"
#include "dmarc_psl.h"

struct from_scan {
	char *plain;            /* the element outside angle brackets, comments dropped */
	char *angle;            /* inside angle brackets */
	size_t nplain, nangle;
	int in_angle, had_angle, after_angle, in_group;
	int bad, count, several;
	char *domain;           /* the first domain found */
	size_t size;
};

static int
is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int
dmarc_domain_valid(const char *name)
{
	size_t len = strlen(name), label = 0;

	if (len == 0 || len > DMARC_DOMAIN_MAX)
		return 0;
	for (size_t i = 0; i <= len; i++) {
		char c = name[i];
		if (c == '.' || c == '\0') {
			if (label == 0 || label > 63 || name[i - 1] == '-' || name[i - label] == '-')
				return 0;
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_'))
			return 0;
		label++;
	}
	return 1;
}

/* Trims blanks at both ends of s (n octets), in place; returns the new start. */
static char *
trim(char *s, size_t *n)
{
	while (*n > 0 && is_blank(s[*n - 1]))
		(*n)--;
	s[*n] = '\0';
	while (*n > 0 && is_blank(*s)) {
		s++;
		(*n)--;
	}
	return s;
}

/* One addr-spec (or obs-route addr-spec, from angle brackets). */
static void
scan_address(struct from_scan *sc, char *addr, size_t n, int bracketed)
{
	char *at = NULL, *domain;
	int quoted = 0;
	size_t dn;

	addr = trim(addr, &n);
	if (bracketed && n > 0 && addr[0] == '@') {
		/* obs-route: "@a.example,@b.example:" before the address */
		char *colon = strchr(addr, ':');
		if (colon == NULL) {
			sc->bad = 1;
			return;
		}
		n -= (size_t)(colon + 1 - addr);
		addr = trim(colon + 1, &n);
	}
	for (size_t i = 0; i < n; i++) {
		if (quoted && addr[i] == '\\' && i + 1 < n)
			i++;
		else if (addr[i] == '"')
			quoted = !quoted;
		else if (!quoted && addr[i] == '@')
			at = addr + i;
	}
	if (at == NULL || at == addr) {
		sc->bad = 1;            /* no '@', or nothing before it ("<>" too) */
		return;
	}
	dn = n - (size_t)(at + 1 - addr);
	domain = trim(at + 1, &dn);
	if (!dmarc_domain_valid(domain)) {
		sc->bad = 1;            /* a domain literal, blanks inside, ... */
		return;
	}
	for (char *p = domain; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	if (sc->count++ == 0) {
		if (strlen(domain) + 1 > sc->size) {
			sc->bad = 1;
			return;
		}
		memcpy(sc->domain, domain, strlen(domain) + 1);
	} else if (strcmp(sc->domain, domain) != 0) {
		sc->several = 1;
	}
}

/* The end of a list element (',' or ';' or the end of the value). */
static void
scan_element_end(struct from_scan *sc)
{
	if (sc->in_angle || sc->after_angle)
		sc->bad = 1;
	else if (sc->had_angle)
		scan_address(sc, sc->angle, sc->nangle, 1);
	else {
		char *plain = trim(sc->plain, &sc->nplain);
		/* An empty element is allowed by the obsolete list syntax. */
		if (*plain != '\0')
			scan_address(sc, plain, sc->nplain, 0);
	}
	sc->nplain = sc->nangle = 0;
	sc->in_angle = sc->had_angle = sc->after_angle = 0;
}

static void
scan_put(struct from_scan *sc, char c)
{
	if (sc->in_angle) {
		sc->angle[sc->nangle++] = c;
		return;
	}
	if (sc->had_angle && !is_blank(c))
		sc->after_angle = 1;    /* "Name <a@b.example> junk" */
	sc->plain[sc->nplain++] = c;
}

/* Skips a comment starting at s[i] == '('; returns the index after it, or
 * 0 when it does not end. */
static size_t
skip_comment(const char *s, size_t i)
{
	int depth = 0;

	for (; s[i] != '\0'; i++) {
		if (s[i] == '\\' && s[i + 1] != '\0')
			i++;
		else if (s[i] == '(')
			depth++;
		else if (s[i] == ')' && --depth == 0)
			return i + 1;
	}
	return 0;
}

static void
scan(struct from_scan *sc, const char *v)
{
	for (size_t i = 0; v[i] != '\0' && !sc->bad;) {
		char c = v[i];

		if (c == '(') {
			if ((i = skip_comment(v, i)) == 0)
				sc->bad = 1;
			else
				scan_put(sc, ' ');
			continue;
		}
		i++;
		if (c == '"') {
			scan_put(sc, c);
			for (;; i++) {
				if (v[i] == '\0') {
					sc->bad = 1;
					break;
				}
				scan_put(sc, v[i]);
				if (v[i] == '\\' && v[i + 1] != '\0')
					scan_put(sc, v[++i]);
				else if (v[i] == '"') {
					i++;
					break;
				}
			}
		} else if (c == '<') {
			if (sc->in_angle || sc->had_angle)
				sc->bad = 1;
			sc->in_angle = 1;
		} else if (c == '>') {
			if (!sc->in_angle)
				sc->bad = 1;
			sc->in_angle = 0;
			sc->had_angle = 1;
		} else if (c == ';' && sc->in_angle) {
			sc->bad = 1;
		} else if ((c == ',' && !sc->in_angle) || c == ';') {
			scan_element_end(sc);
			if (c == ';')
				sc->in_group = 0;
		} else if (c == ':' && !sc->in_angle) {
			/* a group: what came before is its display name */
			if (sc->in_group || sc->had_angle)
				sc->bad = 1;
			sc->in_group = 1;
			sc->nplain = 0;
		} else {
			scan_put(sc, is_blank(c) ? ' ' : c);
		}
	}
	if (!sc->bad)
		scan_element_end(sc);
}

enum dmarc_from_status
dmarc_from_domain(const char *value, char *domain, size_t size)
{
	size_t len = strlen(value);
	struct from_scan sc = { .domain = domain, .size = size };

	sc.plain = malloc(len + 1);
	sc.angle = malloc(len + 1);
	if (sc.plain == NULL || sc.angle == NULL || size == 0) {
		free(sc.plain);
		free(sc.angle);
		return DMARC_FROM_BAD;
	}
	scan(&sc, value);
	free(sc.plain);
	free(sc.angle);
	if (sc.bad)
		return DMARC_FROM_BAD;
	if (sc.count == 0)
		return DMARC_FROM_NO_ADDRESS;
	return sc.several ? DMARC_FROM_SEVERAL : DMARC_FROM_OK;
}

const char *
dmarc_from_status_text(enum dmarc_from_status st)
{
	switch (st) {
	case DMARC_FROM_OK:
		return "one From domain";
	case DMARC_FROM_NO_ADDRESS:
		return "no address in the From field";
	case DMARC_FROM_SEVERAL:
		return "From addresses of several domains";
	default:
		return "unparsable From field";
	}
}
