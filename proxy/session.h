/* session.h - one client connection: its state machine, I/O, timers, and the
 * transaction object that RSET and end of message free. Commands are in
 * commands.c; the backend leg in relay.c. A session lives on one loop thread. */
#ifndef SLUICE_SESSION_H
#define SLUICE_SESSION_H

#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include "chain.h"
#include "dns.h"
#include "message.h"
#include "smtp_data.h"
#include "smtp_parse.h"
#include "smtp_path.h"

struct relay;
struct spool;
struct worker;

enum session_state {
	S_PROXY,                  /* reading the PROXY protocol header (proxy_protocol listeners) */
	S_TLS,                    /* TLS handshake (implicit TLS, or after STARTTLS's 220) */
	S_GREETING,               /* before the banner: DNS, connect filters, greet pause */
	S_COMMAND,                /* reading command lines */
	S_BUSY,                   /* waiting for a filter or the backend; input waits */
	S_DATA,                   /* reading DATA content */
	S_BDAT,                   /* reading a BDAT chunk */
	S_CLOSING,                /* last reply being flushed */
	S_STATE_COUNT
};

/* One mail transaction: MAIL to end of message or RSET. */
struct transaction {
	unsigned serial;
	char id[32];              /* session id "T" serial: the id in logs and Received */
	char *sender;             /* reverse-path without <> */
	char **rcpts;             /* accepted forward-paths without <> */
	size_t nrcpts, rcpt_cap;
	unsigned rcpt_attempts;
	char *mail_params;        /* MAIL's ESMTP parameters as sent */
	char **rcpt_params;       /* each accepted RCPT's parameters as sent */
	int used_data, used_bdat;
	int smtputf8;             /* MAIL declared SMTPUTF8 */
	uint64_t start_ms;
};

struct session {
	TAILQ_ENTRY(session) link;
	struct worker *w;
	const struct config *cfg;
	char sid[16];

	struct bufferevent *bev;
	struct evbuffer *outq;    /* replies not yet written (see session_flush) */
	struct sockaddr_storage peer;
	socklen_t peer_len;
	char addr[64];            /* IP text, no brackets */
	unsigned port;
	int ipv6;
	const char *listener;     /* listener name, for logs */
	/* The client is peer/addr/port: the accepted socket's address, or the source
	 * a trusted proxy's PROXY header named. proxy_addr is then that proxy
	 * ("ip:port"; "" when none), limit_ip tells that peer counts against
	 * max_connections_per_ip. */
	const struct config_listener *lcfg;
	char proxy_addr[72];
	int limit_ip;
	int trusted;              /* the connection's peer is in the listener's trusted
	                           * list: it may send XCLIENT and XFORWARD */

	char name[256];           /* verified client name, "unknown" when none */
	enum dns_status name_status;
	struct dns_query *dnsq;
	int dns_pending;

	enum session_state state;
	int processing;           /* inside session_process(): completions must not recurse */
	struct event *timer;
	uint64_t start_ms, data_start_ms, last_read_ms, data_bytes, close_ms;

	char helo[256];
	int helo_seen, esmtp, pipelining;
	unsigned offered;         /* enum smtp_cap bits offered in our EHLO */
	uint64_t offered_size;

	unsigned errors, ncommands, nmessages, nserial;
	int shutdown;             /* stop after the current transaction */
	int discard_line;         /* inside an overlong command line */
	int backend_dirty;        /* backend has a transaction to RSET before the next MAIL */

	struct transaction *tx;
	struct relay *relay;
	struct spool *spool;
	struct smtp_data data;
	uint64_t bdat_left, bdat_size;
	int bdat_last, bdat_discard;
	const char *bdat_error;   /* reply for a discarded chunk */
	/* End of message (message.h): the header and the filters' edits, and the
	 * iterator relay_data pulls the content from. msg is reset by
	 * message_parse for each message and freed with the session. */
	struct message *msg;
	struct message_out msg_out;
	int msg_ready;            /* msg parsed: the header/body/eom hooks may read it */

	/* Filters (chain.c): the chain state, and the hook arguments kept while a
	 * phase runs. */
	uint64_t num;             /* the number the session id spells */
	char login[256];          /* authenticated user, "" when none */
	struct auth_state *auth;  /* AUTH in progress (auth.c), NULL before any */
	int auth_step;            /* the next line is a SASL response, not a command */
	struct chain_session *chain;
	char chain_addr[SMTP_PATH_MAX + 1];
	char chain_pbuf[SMTP_COMMAND_MAX];
	const char *chain_params[SMTP_PARAMS_MAX + 1];
	struct chain_args chain_argv;
	char bdat_reply[SMTP_REPLY_LINE_MAX];
	int bdat_end_tx;          /* the data hooks refused: end the transaction after the chunk */
	size_t content_field;     /* end of message: next header field for the header hooks */
	uint64_t content_off;     /* next body octet for the body hooks */
	int content_sync, content_again;   /* see content.c */

	/* TLS (tls.c). */
	int tls;                  /* enum tls_state */
	int tls_close_watch;      /* closing: watching the socket's output below TLS */
	char tls_comment[160];    /* "(using TLSv1.3 with cipher ... bits))" once on */

	/* The command being handled, kept across asynchronous steps. */
	char line[SMTP_COMMAND_MAX];
	size_t line_len;
	struct smtp_cmd cmd;
	struct smtp_path path;
};

/* Take over an accepted socket on listener l; reads the PROXY header when l
 * wants one, then starts DNS, connect filters, then the greeting. The caller
 * counted the connection in the limits: per IP for sa, or, on a PROXY listener,
 * only in the total (the session counts the real client itself). */
struct config_listener;
void session_new(struct worker *w, int fd, const struct sockaddr *sa, socklen_t salen,
                 const struct config_listener *l);

/* SIGTERM: close now when idle, else after the current transaction. */
void session_shutdown(struct session *s);
/* Shutdown bound reached: 421 and close whatever the state. */
void session_kill(struct session *s);

/* For commands.c. */
void session_set_state(struct session *s, enum session_state st);
void session_reply(struct session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void session_reply_raw(struct session *s, const char *text, size_t len);
/* A client error: reply, count it, and close with 421 past max_errors. */
void session_error(struct session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Reply, then close once the reply is flushed. */
void session_close(struct session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Write the queued replies now (STARTTLS's 220 before the TLS filter). */
void session_flush(struct session *s);
/* s->bev is new (the TLS filter): set its callbacks and watermarks, enable it. */
void session_bev_setup(struct session *s);
/* Closing with TLS: the socket's output has drained (tls_session_flushed). */
void session_closing_flushed(struct session *s);
/* The current command is finished: read the next one (never recurses). */
void session_done(struct session *s);
/* Start reading message content (DATA or BDAT) into the spool. */
void session_content_begin(struct session *s, enum smtp_data_mode mode);
/* Read content now (st is S_DATA or S_BDAT), under the data timeout and rate. */
void session_content_read(struct session *s, enum session_state st);

/* The client's address from sa: peer, addr (IPv4-mapped shown as IPv4), port. */
void session_set_peer(struct session *s, const struct sockaddr *sa, socklen_t salen);
/* Who the client is, then the connect filters, then the greeting (at accept, and
 * again after a trusted client's XCLIENT). name: the client's name as given, or
 * NULL to look it up. */
void session_begin(struct session *s, const char *name);

struct transaction *session_tx_new(struct session *s, const char *sender, size_t len);
void session_tx_add_rcpt(struct session *s, const char *rcpt, size_t len);
/* Free the transaction (RSET, end of message, HELO). */
void session_tx_end(struct session *s);

#endif
