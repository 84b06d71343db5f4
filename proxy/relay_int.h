/* relay_int.h - what relay.c, relay_open.c and relay_pool.c share: struct relay,
 * its states, and the internal functions each calls in the others. Private to them. */
#ifndef SLUICE_RELAY_INT_H
#define SLUICE_RELAY_INT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include "relay.h"
#include "smtp_data.h"
#include "smtp_parse.h"
#include "xclient.h"

struct bufferevent;
struct event;

#define RELAY_REPLY_MAX 4096          /* all lines of one reply */
#define RELAY_XCLIENT_LINES XCLIENT_LINES_MAX
/* Sessions one backend connection serves at most: spreads the load over the
 * MTA's processes and bounds what a leak on the MTA's side can grow to. */
#define RELAY_REUSE_MAX 100

enum relay_state {
	R_CLOSED, R_CONNECTING, R_GREETING, R_EHLO, R_HELO, R_STARTTLS, R_TLS, R_XCLIENT, R_EHLO2,
	R_READY, R_COMMAND, R_DATA_CMD, R_DATA_BODY, R_DATA_END,
	R_ENV_RSET, R_ENV_MAIL, R_ENV_RCPT,
	R_XFORWARD, R_ENV_XFWD,   /* XFORWARD before a MAIL: a command's, the envelope's */
};

/* What a relay_command line is, as far as connection reuse cares. */
enum relay_verb { RV_OTHER, RV_MAIL, RV_RCPT, RV_RSET, RV_NOOP, RV_AUTH };

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

	/* TLS on the backend leg (backend_tls) */
	int tls;                  /* this connection: 0 plain, 1 handshake, 2 on */
	int tls_plain;            /* opportunistic TLS failed with this backend: the
	                           * relay's next connection stays plain */

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

	/* connection reuse (relay_pool.c): what makes this connection clean */
	struct relay_pool *idle_pool; /* the pool of the loop this relay runs on, or NULL */
	TAILQ_ENTRY(relay) idle_link; /* while in that pool */
	unsigned uses;            /* sessions this connection has served (this one included) */
	unsigned errors;          /* 4xx/5xx replies on this connection (the MTA counts them) */
	unsigned nrset;           /* RSETs sent (Postfix counts them as junk commands) */
	int tx_open;              /* MAIL sent and the transaction not ended since */
	int no_reuse;             /* relay_mark_no_reuse or a command pooling knows nothing
	                           * of: for the relay's life, not only this connection's */
	int xclient_used;         /* this connection carries an XCLIENT identity */
	int xforward;             /* tell the backend the client with XFORWARD before each MAIL */
	char xfwd[RELAY_XCLIENT_LINES][SMTP_COMMAND_MAX];
	size_t nxfwd, ixfwd;
	char *xfwd_mail;          /* the MAIL line waiting for the XFORWARD replies */
	int reusing;              /* re-identifying a pooled connection: failures fall back */
	enum relay_verb cmd_verb; /* of the relay_command outstanding */
	int auth_line;            /* relay_auth: the line being sent holds credentials */

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
/* QUIT when nothing is queued (best effort, never waits; nothing read back). */
void relay_quit(struct relay *r);
/* Free the connection, if any, and return to R_CLOSED; safe when closed. */
void relay_close(struct relay *r);
/* Read timeout read_ms (0 = none) and the command write timeout. */
void relay_timeouts(struct relay *r, unsigned read_ms);
/* Send one line; CRLF is added, an overlong line is cut. */
void relay_send(struct relay *r, const char *line, size_t len);
/* A new unconnected bufferevent in r->bev with relay.c's callbacks; aborts on
 * allocation failure. */
void relay_socket_new(struct relay *r);

/* r->bev becomes bev (a filter over the old one, which it owns), with relay.c's
 * callbacks, not yet enabled; a read loop over the old one's input stops. */
void relay_bev_replace(struct relay *r, struct bufferevent *bev);

/* Hand bev and what was learned on it from the pooled relay *from to r (fresh,
 * closed), and free *from without closing the connection. */
void relay_adopt(struct relay *r, struct relay **from);

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
/* Re-identify a connection just taken from the pool (relay_adopt) for r's client;
 * finishes like relay_open. */
void relay_reidentify(struct relay *r);
/* A bufferevent event in R_TLS (the handshake): done, or failed (what). */
void relay_tls_event(struct relay *r, short what);

/* relay_pool.c */

/* Keep r's connection idle in p when it is clean (see relay_release); returns 1
 * when p took r, else 0 (r unchanged, the reason logged at debug). */
int relay_pool_put(struct relay_pool *p, struct relay *r);
/* The most recently kept connection to backend bidx, out of p, or NULL. Idle
 * connections to a backend now marked down are closed on the way. */
struct relay *relay_pool_take(struct relay_pool *p, int bidx);

#endif
