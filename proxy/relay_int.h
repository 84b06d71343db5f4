/* relay_int.h - what relay.c and relay_open.c share: struct relay, its states, and
 * the internal functions each side calls in the other. Private to those two files. */
#ifndef SLUICE_RELAY_INT_H
#define SLUICE_RELAY_INT_H

#include <stddef.h>
#include <stdint.h>

#include "relay.h"
#include "smtp_data.h"
#include "smtp_parse.h"
#include "xclient.h"

struct bufferevent;
struct event;

#define RELAY_REPLY_MAX 4096          /* all lines of one reply */
#define RELAY_XCLIENT_LINES XCLIENT_LINES_MAX

enum relay_state {
	R_CLOSED, R_CONNECTING, R_GREETING, R_EHLO, R_HELO, R_XCLIENT, R_EHLO2,
	R_READY, R_COMMAND, R_DATA_CMD, R_DATA_BODY, R_DATA_END,
	R_ENV_RSET, R_ENV_MAIL, R_ENV_RCPT,
};

struct relay {
	struct event_base *base;
	struct backend_pool *pool;
	const struct config *cfg;
	char sid[32];

	struct bufferevent *bev;
	enum relay_state state;
	int bidx;                 /* backend in use, -1 none */
	size_t next_try;          /* next backend index to try while opening */
	int probe;                /* opened without identity: no XCLIENT */
	int probe_only;           /* one given backend, no failover */

	relay_cb *cb;
	void *cb_arg;
	struct event *done_ev;    /* delivers the result on the next loop pass */
	struct relay_reply result;

	/* the reply being read, and the one being delivered */
	char rbuf[RELAY_REPLY_MAX];
	char resbuf[RELAY_REPLY_MAX];
	unsigned gen;             /* bumped whenever the connection is closed */
	size_t rlen;
	int rcode;

	struct smtp_caps caps;
	char name[80];

	/* XCLIENT lines still to send */
	char xclient[RELAY_XCLIENT_LINES][SMTP_COMMAND_MAX];
	size_t nxclient, ixclient;
	int xclient_early;        /* sent before any EHLO, on known capabilities */

	/* who the client is, for XCLIENT (owned copies) */
	struct client_identity id;
	char *id_helo, *id_name, *id_addr, *id_login;

	/* DATA streaming */
	relay_source *src;
	void *src_arg;
	uint64_t sent;
	struct smtp_stuff stuff;
	char *chunk;

	/* envelope replay (relay_envelope): owned copies of the lines */
	char *env_mail;
	char **env_rcpt;
	int *env_code;
	size_t env_n, env_i, env_accepted;
};

/* relay.c */

/* Every state change goes through here; logs old -> new at debug level. */
void relay_set_state(struct relay *r, enum relay_state st);
/* Finish the outstanding operation: the callback runs on the next loop pass.
 * text (len octets, at most RELAY_REPLY_MAX) is copied. */
void relay_finish(struct relay *r, int code, int local, const char *text, size_t len);
/* relay_finish with a local reply (NUL-terminated, starting with its code). */
void relay_finish_local(struct relay *r, const char *reply);
/* Free the connection, if any, and return to R_CLOSED; safe when closed. */
void relay_close(struct relay *r);
/* Read timeout read_ms (0 = none) and the command write timeout. */
void relay_timeouts(struct relay *r, unsigned read_ms);
/* Send one line; CRLF is added, an overlong line is cut. */
void relay_send(struct relay *r, const char *line, size_t len);
/* A new unconnected bufferevent in r->bev with relay.c's callbacks; aborts on
 * allocation failure. */
void relay_socket_new(struct relay *r);

/* relay_open.c */

/* Give up on the current backend (mark it down for why) and try the next one, or
 * finish with a 451 when none is left. */
void relay_backend_failed(struct relay *r, const char *why);
/* One complete reply while opening (R_GREETING to R_EHLO2). */
void relay_open_on_reply(struct relay *r);
/* Forget the owned copy of the client identity. */
void relay_id_clear(struct relay *r);
/* Forget the XCLIENT lines still to send. */
void relay_xclient_clear(struct relay *r);

#endif
