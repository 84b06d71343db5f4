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

#endif
