/* auth.h - SMTP AUTH passed through to the backend (RFC 4954). */
#ifndef SLUICE_AUTH_H
#define SLUICE_AUTH_H

#include <stddef.h>

struct session;

/* Should EHLO offer AUTH now (the listener's auth and auth_without_tls, TLS, a
 * backend that offers AUTH)? 1 with the backend's mechanisms in mechs. */
int auth_offer(struct session *s, char *mechs, size_t size);
/* MAIL may go on: 1; else 530 5.7.0 was answered (auth = required, no AUTH). */
int auth_mail_allowed(struct session *s);
/* The AUTH command (s->cmd): relayed to the backend, whose answer decides. */
void auth_command(struct session *s);
/* A client line while s->auth_step is set: a response to the backend's 334. */
void auth_input(struct session *s);
/* The session ends: cancel what is pending. */
void auth_free(struct session *s);

#endif
