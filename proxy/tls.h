/* tls.h - TLS on the client leg: each listener's OpenSSL server contexts (built at
 * config load; SNI picks the certificate) and the session glue for STARTTLS and
 * implicit TLS on libevent's OpenSSL bufferevent filter. */
#ifndef SLUICE_TLS_H
#define SLUICE_TLS_H

#include <stddef.h>

struct config_listener;
struct session;
struct ssl_ctx_st;
struct tls_server;

/* The oldest queued OpenSSL error of this thread as text in buf (the queue is
 * emptied); "unknown error" when none is queued. Returns buf or a constant. */
const char *tls_error_text(char *buf, size_t size);

/* The client context of the backend leg (backend_tls): TLS 1.2 at least, the
 * trust anchors from cafile (PEM), or the system store when cafile is NULL.
 * Verification is off in the context; each connection turns it on as configured.
 * Blocking (reads files): call at config load. NULL with a message in err. The
 * result is shared by every loop thread (SSL_new only); free with SSL_CTX_free. */
struct ssl_ctx_st *tls_client_ctx_new(const char *cafile, char *err, size_t errlen);

/* One SSL_CTX per tls_cert/tls_key pair of l, with l's tls_min_version and
 * tls_ciphers. Reads the files (blocking: call at config load). Returns NULL with
 * a message in err and the config line it concerns in *line_r (ciphers_line for
 * a bad tls_ciphers). The result is immutable and shared by every loop thread. */
struct tls_server *tls_server_new(const struct config_listener *l, unsigned ciphers_line,
                                  char *err, size_t errlen, unsigned *line_r);
void tls_server_free(struct tls_server **t);

/* Session TLS states (struct session.tls). */
enum tls_state { TLS_OFF = 0, TLS_HANDSHAKE, TLS_ON };

/* STARTTLS is offered in EHLO (the listener allows it and TLS is not on yet). */
int tls_session_offer(const struct session *s);
/* MAIL must wait for STARTTLS (tls = required and TLS not on yet). */
int tls_session_required(const struct session *s);

/* The STARTTLS command (commands.c): checks, discards pipelined input, replies 220
 * on the plain connection, wraps it, resets the SMTP state. The handshake's end
 * comes to session_tls_done() (session.c). */
void tls_session_starttls(struct session *s);
/* Wrap s->bev in a TLS server filter (implicit TLS, or after the 220): state S_TLS.
 * Returns 0, or -1 after closing the session. */
int tls_session_wrap(struct session *s);

/* A bufferevent event while TLS is on or starting: records the handshake's result
 * (BEV_EVENT_CONNECTED) or logs OpenSSL's reason for an error. Returns -1 when the
 * handshake failed (the caller frees the session), else 0 (it goes on). */
int tls_session_event(struct session *s, short what);

/* Closing: 1 when nothing is left to send below the TLS layer (always 1 without
 * TLS). When 0, the session's timer is armed at 0 once it is. */
int tls_session_flushed(struct session *s);

/* For the Received header (RFC 5321 4.4): the protocol ("ESMTPS" with TLS, RFC
 * 3848) and the Postfix-style comment "(using TLSv1.3 with cipher ... (256/256
 * bits))", "" without TLS. */
const char *tls_session_proto(const struct session *s);
const char *tls_session_comment(const struct session *s);

#endif
