/* authres.h - Authentication-Results (RFC 8601) for the core: does a received
 * field name our authserv-id (section 5: such fields are removed), and the one
 * field sluice writes from the filters' result notes. Pure: no I/O, no logging. */
#ifndef SLUICE_AUTHRES_H
#define SLUICE_AUTHRES_H

#include <stddef.h>

/* The field name, as sluice writes it and compares it (ASCII case-insensitive). */
#define AUTHRES_FIELD "Authentication-Results"

/* 1 when value (a received field's value, after the colon, folding kept) starts
 * with the authserv-id id (ASCII case-insensitive; leading comments and white
 * space skipped; a quoted-string id unquoted), else 0. */
int authres_names_id(const char *value, const char *id);

/*
 * The value of the field: "id;" then each result clause on its own folded line
 * ("\n\t", which message_header_add turns into CRLF TAB). results holds n note
 * values, each one or more resinfo clauses joined with "; " (a "; " inside a
 * comment does not split). Returns the length written, or 0 when n is 0 or the
 * result (or one of its lines, past 998 octets) does not fit in size.
 */
size_t authres_build(char *buf, size_t size, const char *id, const char *const *results, size_t n);

#endif
