/* dkim_canon.h - DKIM relaxed canonicalization (RFC 6376 3.4.2, 3.4.4), the
 * choice of the header fields to sign, and the text of a DKIM-Signature: what
 * the Ed25519 signer needs, because libopendkim 2.11.0~beta2 leaks its key on
 * every Ed25519 signature. Pure: no I/O, no crypto (hashing is the caller's,
 * through the out callback). */
#ifndef DKIM_CANON_H
#define DKIM_CANON_H

#include <stddef.h>
#include <stdint.h>

/* One header field ("Name: value", folding CRLFs or LFs inside, no final
 * CRLF) in relaxed form, "name:value" without CRLF, into out (room for len + 1
 * octets). Returns the length written. */
size_t dkf_canon_header(const char *field, size_t len, char *out);

/* The body in relaxed form, fed in chunks of any size, handed to out in
 * pieces. Empty lines at the end are dropped; an empty body gives nothing. */
struct dkf_canon_body {
	void (*out)(void *arg, const void *data, size_t len);
	void *arg;
	int ws;                   /* WSP since the last other character of the line */
	int nonempty;             /* the line has content */
	int cr;                   /* a CR waits for its LF */
	uint64_t empty;           /* empty lines held back */
	uint64_t length;          /* octets handed out */
};

void dkf_canon_body_init(struct dkf_canon_body *c, void (*out)(void *, const void *, size_t),
                         void *arg);
void dkf_canon_body_feed(struct dkf_canon_body *c, const unsigned char *data, size_t len);
void dkf_canon_body_end(struct dkf_canon_body *c);

/* Picks the fields to sign among fields[0..n) (top to bottom): those whose
 * name is in sign (lower case, NULL-terminated), listed in h= in message order,
 * then every name of oversign once more (RFC 6376 8.15). Writes the h= value
 * ("from:to:subject:from") to *hlist_r and the relaxed fields in the order a
 * verifier hashes them (each h= name takes the lowest instance not yet taken,
 * RFC 6376 5.4.2), each followed by CRLF, to *block_r. Both malloc'ed.
 * Returns 0, or -1 (memory). */
int dkf_canon_select(char *const *fields, size_t n, const char *const *sign,
                     const char *const *oversign, char **hlist_r, char **block_r);

/* The DKIM-Signature value up to and including the empty "b=", folded with
 * "\n\t" into lines of at most about 78 octets (counting "DKIM-Signature: ").
 * NULL on memory failure. */
char *dkf_sig_template(const char *alg, const char *domain, const char *selector, uint64_t t,
                       const char *bh, const char *hlist);

/* Appends b64 to the template, folded the same way. NULL on memory failure. */
char *dkf_sig_finish(const char *tmpl, const char *b64);

#endif
