/* commands.c - the SMTP command table and one handler per verb:
 * check -> filter phase -> proceed (relay or local reply). */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "auth.h"
#include "backend.h"
#include "chain.h"
#include "commands.h"
#include "config.h"
#include "content.h"
#include "identity.h"
#include "log.h"
#include "relay.h"
#include "session.h"
#include "smtp_path.h"
#include "tls.h"
#include "util.h"
#include "worker.h"

enum command_flag {
	CMD_NEEDS_HELO = 1 << 0,     /* 503 before HELO/EHLO */
	CMD_COUNTS_ERROR = 1 << 1,   /* the reply is a client error */
	CMD_NEEDS_TLS = 1 << 2,      /* 530 before STARTTLS on a tls = required listener */
};

struct command {
	enum smtp_verb verb;
	unsigned flags;
	void (*handle)(struct session *s);
};

/* ------------------------------------------------------------ simple verbs */

static void
cmd_noop(struct session *s)
{
	session_reply(s, "250 2.0.0 Ok");
}

static void
cmd_quit(struct session *s)
{
	session_close(s, "221 2.0.0 Bye");
}

static void
cmd_vrfy(struct session *s)
{
	session_reply(s, "252 2.0.0 Cannot VRFY user, but will accept message and attempt delivery");
}

static void
cmd_help(struct session *s)
{
	session_reply(s, "214 2.0.0 See RFC 5321; sluice relays mail to its backend MTA");
}

static void
cmd_not_implemented(struct session *s)
{
	session_error(s, "502 5.5.1 Error: command not implemented");
}



static void
cmd_unknown(struct session *s)
{
	session_error(s, "502 5.5.2 Error: command not recognized");
}

static void
cmd_rset(struct session *s)
{
	/* Ending the transaction runs the filters' reset hooks (chain_tx_end). */
	if (s->tx != NULL) {
		s->backend_dirty = 1;
		session_tx_end(s);
	}
	session_reply(s, "250 2.0.0 Ok");
}

/* ------------------------------------------------------------ HELO / EHLO */

static void
ehlo_offer(struct session *s)
{
	struct smtp_caps bc;
	int known = backend_pool_caps(s->w->srv->pool, &bc);
	uint64_t size = s->cfg->max_message_size;

	s->offered = SMTP_CAP_PIPELINING | SMTP_CAP_SIZE | SMTP_CAP_ENHANCEDSTATUSCODES |
	             SMTP_CAP_CHUNKING;
	if (known) {
		s->offered |= bc.caps & (SMTP_CAP_8BITMIME | SMTP_CAP_SMTPUTF8 | SMTP_CAP_DSN);
		if ((bc.caps & SMTP_CAP_SIZE) && bc.size > 0 && (size == 0 || bc.size < size))
			size = bc.size;
	}
	s->offered_size = size;
}

static void
cmd_helo_done(struct session *s, const struct chain_result *res)
{
	char mechs[128];

	if (res->verdict == SLUICE_REJECT || res->verdict == SLUICE_TEMPFAIL) {
		s->helo_seen = 0;
		session_reply(s, "%s", res->reply ? res->reply : "550 5.7.1 Access denied");
		session_done(s);
		return;
	}
	if (!s->esmtp) {
		s->offered = 0;
		s->offered_size = s->cfg->max_message_size;
		session_reply(s, "250 %s", s->cfg->hostname);
		session_done(s);
		return;
	}
	ehlo_offer(s);
	session_reply(s, "250-%s", s->cfg->hostname);
	session_reply(s, "250-PIPELINING");
	if (s->offered_size > 0)
		session_reply(s, "250-SIZE %" PRIu64, s->offered_size);
	else
		session_reply(s, "250-SIZE");
	if (s->offered & SMTP_CAP_8BITMIME)
		session_reply(s, "250-8BITMIME");
	if (s->offered & SMTP_CAP_SMTPUTF8)
		session_reply(s, "250-SMTPUTF8");
	if (s->offered & SMTP_CAP_DSN)
		session_reply(s, "250-DSN");
	if (tls_session_offer(s)) {
		s->offered |= SMTP_CAP_STARTTLS;
		session_reply(s, "250-STARTTLS");
	}
	if (s->trusted) {
		/* Only for the listener's trusted peers (a proxy or filter in front). */
		session_reply(s, "250-XCLIENT NAME ADDR PORT PROTO HELO LOGIN");
		session_reply(s, "250-XFORWARD NAME ADDR PORT PROTO HELO");
	}
	if (auth_offer(s, mechs, sizeof(mechs))) {
		s->offered |= SMTP_CAP_AUTH;
		session_reply(s, "250-AUTH %s", mechs);
	}
	session_reply(s, "250-ENHANCEDSTATUSCODES");
	session_reply(s, "250 CHUNKING");
	session_done(s);
}

static void
cmd_helo(struct session *s)
{
	int ehlo = s->cmd.verb == SMTP_VERB_EHLO;

	if (!smtp_helo_valid(s->cmd.arg, s->cmd.arg_len) || s->cmd.arg_len >= sizeof(s->helo)) {
		session_error(s, "501 5.5.4 Syntax: %s hostname", ehlo ? "EHLO" : "HELO");
		return;
	}
	/* RFC 5321 4.1.4: HELO/EHLO resets the transaction. */
	if (s->tx != NULL) {
		s->backend_dirty = 1;
		session_tx_end(s);
	}
	memcpy(s->helo, s->cmd.arg, s->cmd.arg_len);
	s->helo[s->cmd.arg_len] = '\0';
	s->helo_seen = 1;
	s->esmtp = ehlo;
	s->pipelining = ehlo;
	session_set_state(s, S_BUSY);
	chain_run(s, CHAIN_HELO, &(struct chain_args){ .str = s->helo }, cmd_helo_done);
}

/* ------------------------------------------------------------ MAIL */

/* The mail and rcpt hooks' arguments: the address and "KEY=VALUE" parameters,
 * NUL-terminated copies kept in the session until the phase is done. */
static const struct chain_args *
chain_args_path(struct session *s)
{
	const struct smtp_path *p = &s->path;
	size_t off = 0, n = 0;

	xsnprintf(s->chain_addr, sizeof(s->chain_addr), "%.*s", (int)p->addr_len, p->addr);
	for (size_t i = 0; i < p->nparams && n < SMTP_PARAMS_MAX; i++) {
		const struct smtp_param *pa = &p->params[i];
		size_t w = xsnprintf(s->chain_pbuf + off, sizeof(s->chain_pbuf) - off, "%.*s%s%.*s",
		                     (int)pa->key_len, pa->key, pa->value ? "=" : "",
		                     pa->value ? (int)pa->value_len : 0, pa->value ? pa->value : "");
		s->chain_params[n++] = s->chain_pbuf + off;
		off += w + 1;
		if (off >= sizeof(s->chain_pbuf))
			break;
	}
	s->chain_params[n] = NULL;
	s->chain_argv.str = s->chain_addr;
	s->chain_argv.params = s->chain_params;
	return &s->chain_argv;
}

static int
path_error(struct session *s, enum smtp_err e, enum smtp_path_kind kind)
{
	const struct smtp_path *p = &s->path;
	const char *who = kind == SMTP_PATH_MAIL ? "5.1.7 Bad sender" : "5.1.3 Bad recipient";

	switch (e) {
	case SMTP_OK:
		return 0;
	case SMTP_ERR_BAD_ADDRESS:
		session_error(s, "501 %s address syntax", who);
		break;
	case SMTP_ERR_PATH_TOO_LONG:
		session_error(s, "501 %s address syntax: address too long", who);
		break;
	case SMTP_ERR_UNKNOWN_PARAM:
		session_error(s, "555 5.5.4 Unsupported option: %.*s",
		              p->nparams ? (int)p->params[p->nparams - 1].key_len : 0,
		              p->nparams ? p->params[p->nparams - 1].key : "");
		break;
	default:
		session_error(s, "501 5.5.4 Syntax error in parameters");
		break;
	}
	return 1;
}

/* Parameters we did not offer are refused as if unknown (RFC 5321 4.1.1.11). */
static int
params_offered(struct session *s)
{
	const struct smtp_path *p = &s->path;

	for (size_t i = 0; i < p->nparams; i++) {
		unsigned need = 0;
		switch (p->params[i].id) {
		case SMTP_PARAM_BODY: need = p->body_8bit ? SMTP_CAP_8BITMIME : 0; break;
		case SMTP_PARAM_SMTPUTF8: need = SMTP_CAP_SMTPUTF8; break;
		case SMTP_PARAM_RET: case SMTP_PARAM_ENVID:
		case SMTP_PARAM_NOTIFY: case SMTP_PARAM_ORCPT: need = SMTP_CAP_DSN; break;
		case SMTP_PARAM_AUTH: need = SMTP_CAP_AUTH; break;
		default: break;
		}
		if (need && !(s->offered & need)) {
			session_error(s, "555 5.5.4 Unsupported option: %.*s",
			              (int)p->params[i].key_len, p->params[i].key);
			return 0;
		}
	}
	if (p->is_8bit && !p->smtputf8 && !(s->tx != NULL && s->tx->smtputf8)) {
		session_error(s, "553 5.6.7 Must declare SMTPUTF8 to send unicode address");
		return 0;
	}
	return 1;
}

static void
mail_reply(void *arg, const struct relay_reply *reply)
{
	struct session *s = arg;

	session_reply_raw(s, reply->text, reply->len);
	if (reply->code / 100 == 2 && !reply->local)
		session_tx_new(s, s->path.addr, s->path.addr_len)->smtputf8 = s->path.smtputf8;
	else if (reply->code / 100 != 2)
		log_info(s->sid, "MAIL from=<%.*s> refused: %.*s", (int)s->path.addr_len, s->path.addr,
		         (int)strcspn(reply->text, "\r\n"), reply->text);
	session_done(s);
}

static void
mail_send(struct session *s)
{
	relay_command(s->relay, s->line, s->line_len, mail_reply, s);
}

static void
mail_after_rset(void *arg, const struct relay_reply *reply)
{
	struct session *s = arg;

	if (reply->local) {
		session_reply_raw(s, reply->text, reply->len);
		session_done(s);
		return;
	}
	mail_send(s);
}

static void
mail_relay_ready(void *arg, const struct relay_reply *reply)
{
	struct session *s = arg;

	if (reply->code / 100 != 2) {
		session_reply_raw(s, reply->text, reply->len);
		session_done(s);
		return;
	}
	if (s->backend_dirty) {
		s->backend_dirty = 0;
		relay_command(s->relay, "RSET", 4, mail_after_rset, s);
		return;
	}
	mail_send(s);
}

static void
cmd_mail_done(struct session *s, const struct chain_result *res)
{
	if (res->verdict == SLUICE_REJECT || res->verdict == SLUICE_TEMPFAIL) {
		/* No transaction began: the filters' transaction state and notes go. */
		chain_tx_end(s);
		session_reply(s, "%s", res->reply ? res->reply : "550 5.7.1 Sender rejected");
		session_done(s);
		return;
	}
	if (s->relay == NULL)
		s->relay = relay_new(s->w->base, s->w->srv->pool, s->cfg, s->sid);
	if (!relay_is_open(s->relay)) {
		commands_relay_open(s, mail_relay_ready);
		return;
	}
	mail_relay_ready(s, &(struct relay_reply){ .code = 250 });
}

void
commands_relay_open(struct session *s, relay_cb *cb)
{
	struct client_identity id = {
		.helo = s->helo,
		.name = s->name_status == DNS_STATUS_OK ? s->name :
		        s->name_status == DNS_STATUS_TEMPFAIL ? "[TEMPUNAVAIL]" : "[UNAVAILABLE]",
		.addr = s->addr, .ipv6 = s->ipv6, .port = s->port, .esmtp = s->esmtp,
		.login = s->login[0] ? s->login : NULL,
	};

	if (s->relay == NULL)
		s->relay = relay_new(s->w->base, s->w->srv->pool, s->cfg, s->sid);
	s->backend_dirty = 0;
	relay_open(s->relay, &id, cb, s);
}

static void
cmd_mail(struct session *s)
{
	enum smtp_err e;

	if (s->tx != NULL) {
		session_error(s, "503 5.5.1 Error: nested MAIL command");
		return;
	}
	e = smtp_path_parse(SMTP_PATH_MAIL, s->cmd.arg, s->cmd.arg_len, &s->path);
	if (path_error(s, e, SMTP_PATH_MAIL) || !params_offered(s))
		return;
	if (!auth_mail_allowed(s))
		return;
	if (s->path.has_size && s->offered_size > 0 && s->path.size > s->offered_size) {
		session_reply(s, "552 5.3.4 Message size exceeds fixed limit");
		return;
	}
	if (s->shutdown) {
		session_close(s, "421 4.3.2 %s Service shutting down", s->cfg->hostname);
		return;
	}
	session_set_state(s, S_BUSY);
	chain_run(s, CHAIN_MAIL, chain_args_path(s), cmd_mail_done);
}

/* ------------------------------------------------------------ RCPT */

static void
rcpt_reply(void *arg, const struct relay_reply *reply)
{
	struct session *s = arg;

	session_reply_raw(s, reply->text, reply->len);
	if (s->tx != NULL) {
		if (reply->code / 100 == 2 && !reply->local)
			session_tx_add_rcpt(s, s->path.addr, s->path.addr_len);
		else if (reply->local || !relay_is_open(s->relay))
			session_tx_end(s);   /* the backend is gone: so is the transaction */
	}
	session_done(s);
}

static void
cmd_rcpt_done(struct session *s, const struct chain_result *res)
{
	if (res->verdict == SLUICE_REJECT || res->verdict == SLUICE_TEMPFAIL) {
		session_reply(s, "%s", res->reply ? res->reply : "550 5.7.1 Recipient rejected");
		session_done(s);
		return;
	}
	relay_command(s->relay, s->line, s->line_len, rcpt_reply, s);
}

static void
cmd_rcpt(struct session *s)
{
	enum smtp_err e;

	if (s->tx == NULL) {
		session_error(s, "503 5.5.1 Error: need MAIL command");
		return;
	}
	e = smtp_path_parse(SMTP_PATH_RCPT, s->cmd.arg, s->cmd.arg_len, &s->path);
	if (path_error(s, e, SMTP_PATH_RCPT) || !params_offered(s))
		return;
	if (s->tx->nrcpts >= s->cfg->max_recipients) {
		session_reply(s, "452 4.5.3 Error: too many recipients");
		return;
	}
	s->tx->rcpt_attempts++;
	session_set_state(s, S_BUSY);
	chain_run(s, CHAIN_RCPT, chain_args_path(s), cmd_rcpt_done);
}

/* ------------------------------------------------------------ DATA / BDAT */

/* Common checks of DATA and BDAT; returns the error reply or NULL. */
static const char *
content_check(struct session *s, int bdat)
{
	if (s->tx == NULL)
		return "503 5.5.1 Error: need MAIL command";
	if ((bdat && s->tx->used_data) || (!bdat && s->tx->used_bdat))
		return "503 5.5.1 Error: BDAT and DATA cannot be mixed";
	if (s->tx->nrcpts == 0)
		return s->tx->rcpt_attempts > 0 ? "554 5.5.1 Error: no valid recipients"
		                                 : "503 5.5.1 Error: need RCPT command";
	return NULL;
}

static void
cmd_data_done(struct session *s, const struct chain_result *res)
{
	if (res->verdict == SLUICE_REJECT || res->verdict == SLUICE_TEMPFAIL) {
		session_reply(s, "%s", res->reply ? res->reply : "554 5.7.1 Message refused");
		s->backend_dirty = 1;
		session_tx_end(s);
		session_done(s);
		return;
	}
	session_reply(s, "354 End data with <CR><LF>.<CR><LF>");
	s->tx->used_data = 1;
	session_content_begin(s, SMTP_DATA_DOT);
	session_content_read(s, S_DATA);
}

static void
cmd_data(struct session *s)
{
	const char *err;

	if (s->cmd.arg_len > 0) {
		session_error(s, "501 5.5.4 Syntax: DATA");
		return;
	}
	if ((err = content_check(s, 0)) != NULL) {
		session_error(s, "%s", err);
		return;
	}
	/* RFC 2920: DATA ends a pipelined group; content before our 354 is smuggling
	 * territory (reliability.md 1.3). */
	if (evbuffer_get_length(bufferevent_get_input(s->bev)) > 0) {
		log_info(s->sid, "content before 354 from [%s]", s->addr);
		session_close(s, "554 5.5.0 Error: SMTP protocol synchronization");
		return;
	}
	session_set_state(s, S_BUSY);
	chain_run(s, CHAIN_DATA, NULL, cmd_data_done);
}

static int
bdat_parse(const char *arg, size_t len, uint64_t *size_r, int *last_r)
{
	size_t i = 0;
	uint64_t v = 0;

	if (len == 0 || arg[0] < '0' || arg[0] > '9')
		return -1;
	for (; i < len && arg[i] >= '0' && arg[i] <= '9'; i++) {
		if (v > (UINT64_MAX - 9) / 10)
			return -1;
		v = v * 10 + (uint64_t)(arg[i] - '0');
	}
	*size_r = v;
	*last_r = 0;
	if (i == len)
		return 0;
	if (arg[i] != ' ')
		return -1;
	while (i < len && arg[i] == ' ')
		i++;
	if (len - i == 4 && strncasecmp(arg + i, "LAST", 4) == 0) {
		*last_r = 1;
		return 0;
	}
	return -1;
}

static void
cmd_bdat_read(struct session *s)
{
	if (s->bdat_size == 0) {
		commands_bdat_chunk_done(s);
		return;
	}
	session_content_read(s, S_BDAT);
}

static void
cmd_bdat_data_done(struct session *s, const struct chain_result *res)
{
	if (res->verdict == SLUICE_REJECT || res->verdict == SLUICE_TEMPFAIL) {
		/* The chunk is still read (RFC 3030), then refused with the filter's reply. */
		strlcpy_s(s->bdat_reply, res->reply, sizeof(s->bdat_reply));
		s->bdat_error = s->bdat_reply;
		s->bdat_discard = 1;
		s->bdat_end_tx = 1;
	} else {
		session_content_begin(s, SMTP_DATA_RAW);
	}
	cmd_bdat_read(s);
}

static void
cmd_bdat(struct session *s)
{
	uint64_t size;
	int last;
	const char *err;

	if (bdat_parse(s->cmd.arg, s->cmd.arg_len, &size, &last) < 0) {
		session_error(s, "501 5.5.4 Syntax: BDAT size [LAST]");
		return;
	}
	err = content_check(s, 1);
	s->bdat_left = size;
	s->bdat_size = size;
	s->bdat_last = last;
	s->bdat_discard = err != NULL;
	s->bdat_error = err;
	s->bdat_end_tx = 0;
	if (err == NULL && !s->tx->used_bdat) {
		/* The first chunk is where the data hooks run, as for DATA. */
		s->tx->used_bdat = 1;
		session_set_state(s, S_BUSY);
		chain_run(s, CHAIN_DATA, NULL, cmd_bdat_data_done);
		return;
	}
	cmd_bdat_read(s);
}

void
commands_bdat_chunk_done(struct session *s)
{
	if (s->bdat_discard) {
		session_set_state(s, S_COMMAND);
		if (s->bdat_end_tx) {
			session_reply(s, "%s", s->bdat_error);
			s->backend_dirty = 1;
			session_tx_end(s);
			session_done(s);
			return;
		}
		session_error(s, "%s", s->bdat_error);
		if (s->state != S_CLOSING)
			session_done(s);
		return;
	}
	if (s->bdat_last) {
		smtp_data_finish(&s->data);
		content_end(s);
		return;
	}
	/* RFC 3030 examples: each chunk's reply counts that chunk's octets. */
	session_reply(s, "250 2.0.0 Ok: %" PRIu64 " octets received", s->bdat_size);
	session_done(s);
}

/* ------------------------------------------------------------ the table */

static const struct command command_table[SMTP_VERB_COUNT] = {
	[SMTP_VERB_UNKNOWN] = { SMTP_VERB_UNKNOWN, 0, cmd_unknown },
	[SMTP_VERB_HELO] = { SMTP_VERB_HELO, 0, cmd_helo },
	[SMTP_VERB_EHLO] = { SMTP_VERB_EHLO, 0, cmd_helo },
	[SMTP_VERB_MAIL] = { SMTP_VERB_MAIL, CMD_NEEDS_HELO | CMD_NEEDS_TLS, cmd_mail },
	[SMTP_VERB_RCPT] = { SMTP_VERB_RCPT, CMD_NEEDS_HELO | CMD_NEEDS_TLS, cmd_rcpt },
	[SMTP_VERB_DATA] = { SMTP_VERB_DATA, CMD_NEEDS_HELO | CMD_NEEDS_TLS, cmd_data },
	[SMTP_VERB_BDAT] = { SMTP_VERB_BDAT, CMD_NEEDS_HELO | CMD_NEEDS_TLS, cmd_bdat },
	[SMTP_VERB_RSET] = { SMTP_VERB_RSET, 0, cmd_rset },
	[SMTP_VERB_NOOP] = { SMTP_VERB_NOOP, 0, cmd_noop },
	[SMTP_VERB_QUIT] = { SMTP_VERB_QUIT, 0, cmd_quit },
	[SMTP_VERB_VRFY] = { SMTP_VERB_VRFY, 0, cmd_vrfy },
	[SMTP_VERB_EXPN] = { SMTP_VERB_EXPN, 0, cmd_not_implemented },
	[SMTP_VERB_HELP] = { SMTP_VERB_HELP, 0, cmd_help },
	[SMTP_VERB_STARTTLS] = { SMTP_VERB_STARTTLS, 0, tls_session_starttls },
	[SMTP_VERB_AUTH] = { SMTP_VERB_AUTH, CMD_NEEDS_HELO, auth_command },
	[SMTP_VERB_XCLIENT] = { SMTP_VERB_XCLIENT, 0, identity_command },
	[SMTP_VERB_XFORWARD] = { SMTP_VERB_XFORWARD, 0, identity_command },
	[SMTP_VERB_ETRN] = { SMTP_VERB_ETRN, 0, cmd_not_implemented },
	[SMTP_VERB_TURN] = { SMTP_VERB_TURN, 0, cmd_not_implemented },
	[SMTP_VERB_PROXY] = { SMTP_VERB_PROXY, 0, cmd_unknown },
};

void
commands_dispatch(struct session *s)
{
	enum smtp_err e = smtp_cmd_parse(s->line, s->line_len, &s->cmd);
	const struct command *c;

	if (e == SMTP_ERR_BAD_CHAR) {
		session_error(s, "500 5.5.2 Error: bad character in command");
		return;
	}
	if (e != SMTP_OK) {
		session_error(s, "502 5.5.2 Error: command not recognized");
		return;
	}
	c = &command_table[s->cmd.verb];
	if (s->shutdown && s->tx == NULL && s->cmd.verb != SMTP_VERB_QUIT) {
		session_close(s, "421 4.3.2 %s Service shutting down", s->cfg->hostname);
		return;
	}
	if ((c->flags & CMD_NEEDS_HELO) && !s->helo_seen) {
		session_error(s, "503 5.5.1 Error: send HELO/EHLO first");
		return;
	}
	if ((c->flags & CMD_NEEDS_TLS) && tls_session_required(s)) {
		session_error(s, "530 5.7.0 Must issue a STARTTLS command first");
		return;
	}
	c->handle(s);
}
