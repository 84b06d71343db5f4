/* relay.h - the backend leg: one SMTP client connection to a backend MTA.
 *
 * All calls run on the loop thread that owns the relay. At most one operation is
 * outstanding at a time; its callback runs exactly once, on the loop, never from
 * inside the call that started it, unless the relay is freed first (then never). */
#ifndef SLUICE_RELAY_H
#define SLUICE_RELAY_H

#include <stddef.h>
#include <sys/types.h>

#include "smtp_parse.h"
#include "xclient.h"

struct backend_pool;
struct config;
struct event_base;

/* What the client should be told. For backend replies, text is the backend's reply
 * verbatim (all lines, each ending in CRLF). When sluice itself failed to get a
 * usable reply (connect failure, timeout, close, malformed reply), local is set and
 * text is sluice's own reply from doc/replies.md. */
struct relay_reply {
	int code;
	int local;
	const char *text;
	size_t len;
};

typedef void relay_cb(void *arg, const struct relay_reply *reply);

/* Created on a loop thread whose relay_pool is bound (relay_pool_bind), the relay
 * takes and gives back idle connections through that pool; elsewhere (the probe
 * on the main thread) it never pools. */
struct relay *relay_new(struct event_base *base, struct backend_pool *pool,
                        const struct config *cfg, const char *sid);

/* Send QUIT when idle (best effort, never waits) and close. NULLs *r. */
void relay_free(struct relay **r);

/* The owner is done with r (its client left). When the connection is clean, it
 * goes to the loop's idle pool for the next client instead of QUIT and close:
 * connected and greeted, no command outstanding and nothing unread, no
 * transaction open (no MAIL sent, or the last one ended with the reply to the
 * final dot or an RSET answered 2xx), no RSET and no 4xx/5xx reply ever on it
 * (Postfix counts both per connection, and the next client would inherit them),
 * not marked by relay_mark_no_reuse, fewer than RELAY_REUSE_MAX sessions served,
 * the backend not marked down, room in the pool. Otherwise relay_free. NULLs *r. */
void relay_release(struct relay **r);

/* Never give r's connection, the one open now or any r opens later, to another
 * client: it carries state that belongs to this one (AUTH passed through to the
 * backend, TLS on the backend leg). May be called before relay_open. Commands
 * other than MAIL, RCPT, RSET and NOOP (AUTH included) mark r by themselves. */
void relay_mark_no_reuse(struct relay *r);

/* Connect to the first usable backend (in configured order, skipping those marked
 * down, marking down those that fail), read the greeting, EHLO, XCLIENT when
 * configured and offered (id: who the client is; strings are copied), the
 * client's own EHLO/HELO again. Success: code 250. Failure: local 451 4.4.1.
 * id may be NULL (capability probe: no XCLIENT).
 *
 * When the loop's pool holds an idle connection to the backend chosen, that one
 * is used instead of a new one and re-identified: XCLIENT for this client (when
 * the connection carries an XCLIENT identity), else sluice's own EHLO; then the
 * client's EHLO/HELO as above, each reply within backend_timeout_connect. If that
 * fails (closed, 4xx/5xx, timeout), a new connection is opened to the same backend
 * as if nothing happened: no client command has gone out on the reused one. */
void relay_open(struct relay *r, const struct client_identity *id, relay_cb *cb, void *arg);

/* Capability probe of one given backend, down or not: connect, EHLO (its
 * capabilities are recorded in the pool), then code 250; the backend is marked up
 * or down by the outcome. Free the relay afterwards (that sends QUIT). */
void relay_probe(struct relay *r, size_t idx, relay_cb *cb, void *arg);

/* Send one command line (without CRLF) and deliver its reply. */
void relay_command(struct relay *r, const char *line, size_t len, relay_cb *cb, void *arg);
/* The AUTH command and the client's answers to the backend's 334 challenges
 * (RFC 4954): as relay_command, but a 334 is delivered as a reply, the line is
 * never logged, and the connection is never reused by another client. */
void relay_auth(struct relay *r, const char *line, size_t len, relay_cb *cb, void *arg);

/* Where relay_data takes the message from: the next octets of canonical CRLF
 * content, either pointed to through *data_r or copied into buf (at most len).
 * Returns the count, 0 at the end, -1 on a read error (errno set). */
typedef ssize_t relay_source(void *arg, const char **data_r, char *buf, size_t len);

/* DATA; on 354 the content pulled from src (trace header included), dot-stuffed,
 * then ".". src is pulled only while the backend keeps up, and never after the
 * callback ran. Delivers the reply to the final dot, or the reply to DATA if that
 * was not 354; a source read error gives local 451 4.3.0. */
void relay_data(struct relay *r, relay_source *src, void *src_arg, relay_cb *cb, void *arg);

/* End of message with an edited envelope: RSET, the MAIL line, then each RCPT
 * line (lines without CRLF, under SMTP_COMMAND_MAX - 2 octets; copied), one at a
 * time. Delivers the reply to RSET or MAIL when it was not 2xx, a 421 to any of
 * them, else code 250 (local 0, text "250 ok"), with the per-recipient results
 * in relay_envelope_accepted/relay_envelope_rcpt_code; local 451 4.4.2 when
 * the connection failed. */
void relay_envelope(struct relay *r, const char *mail_line, const char *const *rcpt_lines, size_t n,
                    relay_cb *cb, void *arg);
/* After relay_envelope: how many RCPT got 2xx, and the reply code of the i-th
 * (0 when not sent). */
size_t relay_envelope_accepted(const struct relay *r);
int relay_envelope_rcpt_code(const struct relay *r, size_t i);

int relay_is_open(const struct relay *r);
/* The backend's capabilities as learned by the last EHLO of this connection. */
const struct smtp_caps *relay_caps(const struct relay *r);
/* "host:port" of the connected backend, or "-". */
const char *relay_backend_name(const struct relay *r);

#endif
