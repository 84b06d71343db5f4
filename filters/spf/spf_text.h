/* spf_text.h - what the spf filter writes: the Received-SPF field (RFC 7208
 * 9.1), its Authentication-Results clause (RFC 8601 2.7.2) and its SMTP
 * replies (RFC 7372 codes). Pure. */
#ifndef SLUICE_SPF_TEXT_H
#define SLUICE_SPF_TEXT_H

#include <stddef.h>

#include "spf_check.h"
#include "spf_policy.h"

/* Header lines stay under 78 octets where the values allow; the host turns
 * "\n\t" into CRLF TAB. */
#define SPF_TEXT_MAX 1200

/* The value of a Received-SPF field (without "Received-SPF: ") for outcome o
 * of identity id, folded with "\n\t". receiver may be NULL or "". Returns the
 * length, or -1 when it does not fit len. */
int spf_received_build(char *buf, size_t len, const struct spf_outcome *o,
                       const struct spf_identity *id, const char *receiver);

/* "spf=pass smtp.mailfrom=example.org" ("smtp.helo=" for the helo scope; no
 * property when the identity had no valid domain). -1 when it does not fit. */
int spf_authres_build(char *buf, size_t len, const struct spf_outcome *o);

struct spf_reply {
	char code[4];               /* "550" / "451" */
	char ecode[8];              /* X.7.23 for a failed check, X.7.24 for an error */
	char text[512];             /* under 400 octets, as set_reply wants */
};

/* The reply refusing MAIL for outcome o under act (SPF_ACT_REJECT or
 * SPF_ACT_TEMPFAIL); ip the client. */
void spf_reply_build(struct spf_reply *r, enum spf_act act, const struct spf_outcome *o,
                     const char *ip);

/* value as an RFC 5322 dot-atom when it is one, else as a quoted-string
 * (non-printable octets become '?'). -1 when it does not fit len. */
int spf_text_kv_value(char *buf, size_t len, const char *value);

#endif
