/* xclient.h - the XCLIENT command lines that tell a backend who the real client
 * is (Postfix XCLIENT_README); pure, no I/O. */
#ifndef SLUICE_XCLIENT_H
#define SLUICE_XCLIENT_H

#include <stddef.h>

#include "smtp_parse.h"

#define XCLIENT_LINES_MAX 4

/* Who the client is. Strings are borrowed; NULL or "" means unknown (omitted). */
struct client_identity {
	const char *name;         /* verified name, "[UNAVAILABLE]" or "[TEMPUNAVAIL]" */
	const char *addr;         /* IP address text */
	int ipv6;                 /* ADDR gets the "IPV6:" prefix */
	unsigned port;
	int esmtp;                /* PROTO=ESMTP, else SMTP */
	const char *helo;
	const char *login;        /* authenticated user */
};

/* Build the XCLIENT lines (without CRLF) for the attributes in attrs (enum
 * smtp_xclient_attr bits, as the backend announced them), in the order NAME ADDR
 * PORT PROTO HELO LOGIN, values in xtext, each line under 512 octets with its
 * CRLF; an attribute that cannot fit even alone is left out. Returns the number of
 * lines written (0 when there is nothing to send). */
size_t xclient_build(const struct client_identity *id, unsigned attrs,
                     char lines[][SMTP_COMMAND_MAX], size_t max_lines);

/* The same for XFORWARD (Postfix XFORWARD_README), sent before each MAIL: only
 * NAME ADDR PORT PROTO HELO, as the backend lists them. */
size_t xforward_build(const struct client_identity *id, unsigned attrs,
                      char lines[][SMTP_COMMAND_MAX], size_t max_lines);

/* A trusted client's own XCLIENT or XFORWARD arguments, decoded. Attributes
 * not given keep their bit clear in set; a value of [UNAVAILABLE] or
 * [TEMPUNAVAIL] sets the bit in set and in unavailable, with an empty string. */
struct xclient_attrs {
	unsigned set;             /* enum smtp_xclient_attr bits given */
	unsigned unavailable;
	char name[256];
	char addr[64];            /* without "IPV6:" */
	int ipv6;
	unsigned port;
	int esmtp;
	char helo[256];
	char login[256];
};

/* Parse the arguments after the verb: "ATTR=xtext" separated by spaces. XCLIENT
 * takes NAME ADDR PORT PROTO HELO LOGIN DESTADDR DESTPORT; XFORWARD (xforward
 * set) NAME ADDR PORT PROTO HELO IDENT SOURCE. Attribute names are
 * case-insensitive; DEST*, IDENT and SOURCE are checked and ignored. Returns 0,
 * or -1 with *why_r a static reason (an unknown attribute, bad xtext, a bad
 * address, port, protocol or name, nothing given). */
int xclient_parse(const char *args, size_t len, int xforward, struct xclient_attrs *a,
                  const char **why_r);

#endif
