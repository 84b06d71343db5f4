/* commands.h - the SMTP command table: per verb, where it is allowed, its checks,
 * its filter phase and how it proceeds. */
#ifndef SLUICE_COMMANDS_H
#define SLUICE_COMMANDS_H

struct session;

/* Handle s->line (s->line_len octets, CRLF removed). The handler replies, or goes
 * asynchronous (state S_BUSY) and calls session_done() when finished. */
void commands_dispatch(struct session *s);

/* Open the session's backend connection for the client as sluice knows it
 * (address, name, HELO, login: what XCLIENT or XFORWARD will say); cb gets the
 * outcome. Used by MAIL and by AUTH, whichever needs the backend first. */
struct relay_reply;
void commands_relay_open(struct session *s, void (*cb)(void *arg, const struct relay_reply *reply));

/* A BDAT chunk has been read completely. */
void commands_bdat_chunk_done(struct session *s);

#endif
