/* content.c - end of message: limits, the content filter phases, edits, and the
 * handoff to the relay; the client's reply is the backend's reply to the dot. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/event.h>

#include "authres.h"
#include "chain.h"
#include "config.h"
#include "content.h"
#include "log.h"
#include "message.h"
#include "metrics.h"
#include "relay.h"
#include "session.h"
#include "spool.h"
#include "tls.h"
#include "util.h"

#define CONTENT_BODY_CHUNK (64 * 1024)

static void content_headers(struct session *s);
static void content_body(struct session *s);

static void
content_log(struct session *s, const char *result, const char *reply)
{
	const char *qid = "-";
	char qbuf[64];
	size_t rl = strcspn(reply, "\r\n");
	const char *q = memmem(reply, rl, "queued as ", 10);

	if (q != NULL) {
		q += 10;
		size_t ql = strcspn(q, " \r\n");
		xsnprintf(qbuf, sizeof(qbuf), "%.*s", (int)(ql < 60 ? ql : 60), q);
		qid = qbuf;
	}
	log_info(s->sid, "message %s from=<%s> nrcpt=%zu size=%llu result=%s backend=%s queue_id=%s "
	         "latency=%llums reply=\"%.*s\"",
	         s->tx->id, s->tx->sender, s->tx->nrcpts, (unsigned long long)s->data.size, result,
	         s->relay ? relay_backend_name(s->relay) : "-", qid,
	         (unsigned long long)(now_ms() - s->tx->start_ms), (int)rl, reply);
	metrics_counter_add(result[0] == 'a' ? "sluice_messages_accepted_total" :
	                    result[0] == 'r' ? "sluice_messages_rejected_total" :
	                    result[0] == 'd' ? "sluice_messages_discarded_total" :
	                                       "sluice_messages_tempfailed_total", 1);
}

/* End a transaction sluice answered itself: the backend still holds MAIL and
 * RCPT, so it gets RSET before the next MAIL. */
static void
content_finish_local(struct session *s, const char *line, const char *result)
{
	session_reply(s, "%s", line);
	content_log(s, result ? result : line[0] == '4' ? "tempfailed" : "rejected", line);
	s->backend_dirty = 1;
	session_tx_end(s);
	session_done(s);
}

static void
content_refuse(struct session *s, const char *line)
{
	content_finish_local(s, line, NULL);
}

static void
content_relay_done(void *arg, const struct relay_reply *reply)
{
	struct session *s = arg;
	const char *result = reply->code / 100 == 2 ? "accepted" :
	                     reply->code / 100 == 5 ? "rejected" : "tempfailed";

	session_reply_raw(s, reply->text, reply->len);
	if (reply->code / 100 == 2)
		s->nmessages++;
	content_log(s, result, reply->text);
	/* The backend's transaction is over whatever it answered, unless the answer
	 * came to DATA itself (then RSET it). */
	if (reply->local == 0 && reply->code / 100 != 2)
		s->backend_dirty = 1;
	session_tx_end(s);
	session_done(s);
}

static size_t
content_received(struct session *s, char *buf, size_t size)
{
	char date[64];
	time_t t = time(NULL);
	struct tm tm;
	size_t n;

	localtime_r(&t, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z", &tm);
	/* With TLS, Postfix's comment after the from clause and RFC 3848's ESMTPS. */
	n = xsnprintf(buf, size, "Received: from %s (%s [%s%s])\r\n\t%s%sby %s (sluice) with %s id %s",
	              s->helo, s->name, s->ipv6 ? "IPv6:" : "", s->addr, tls_session_comment(s),
	              *tls_session_comment(s) ? "\r\n\t" : "", s->cfg->hostname,
	              tls_session_proto(s), s->tx->id);
	if (s->tx->nrcpts == 1)
		n += xsnprintf(buf + n, size - n, "\r\n\tfor <%s>; %s\r\n", s->tx->rcpts[0], date);
	else
		n += xsnprintf(buf + n, size - n, ";\r\n\t%s\r\n", date);
	return n;
}

static void
content_send(struct session *s)
{
	char received[2048];
	size_t n = content_received(s, received, sizeof(received));

	message_out_init(&s->msg_out, s->msg, received, n);
	relay_data(s->relay, message_out_source, &s->msg_out, content_relay_done, s);
}

/* ------------------------------------------------------------ edited envelope */

static void
content_envelope_done(void *arg, const struct relay_reply *reply)
{
	struct session *s = arg;

	if (reply->code / 100 != 2 || relay_envelope_accepted(s->relay) == 0) {
		log_info(s->sid, "backend refused the edited envelope: %.*s",
		         (int)strcspn(reply->text, "\r\n"), reply->text);
		session_reply_raw(s, reply->code / 100 == 2 ? "554 5.5.1 Error: no valid recipients\r\n"
		                                            : reply->text,
		                  reply->code / 100 == 2 ? 38 : reply->len);
		content_log(s, reply->code / 100 == 4 ? "tempfailed" : "rejected", reply->text);
		s->backend_dirty = reply->code / 100 == 2 || !reply->local;
		session_tx_end(s);
		session_done(s);
		return;
	}
	content_send(s);
}

/* A filter changed the sender or the recipients: the backend already has the
 * received envelope, so it gets RSET and the new one before DATA. */
static void
content_envelope(struct session *s)
{
	const char *params = NULL, *sender = message_new_sender(s->msg, &params);
	char mail[SMTP_COMMAND_MAX];
	struct message_rcpt *rc;
	size_t n = 0;

	if (sender == NULL) {
		sender = s->tx->sender;
		params = s->tx->mail_params;
	}
	xsnprintf(mail, sizeof(mail), "MAIL FROM:<%s>%s%s", sender, params && *params ? " " : "",
	          params ? params : "");
	rc = message_rcpt_final(s->msg, (const char *const *)s->tx->rcpts, s->tx->nrcpts, &n);
	char **lines = xcalloc(n ? n : 1, sizeof(*lines));
	for (size_t i = 0; i < n; i++) {
		const char *p = rc[i].orig != SIZE_MAX ? s->tx->rcpt_params[rc[i].orig] : rc[i].params;
		char line[SMTP_COMMAND_MAX];
		xsnprintf(line, sizeof(line), "RCPT TO:<%s>%s%s", rc[i].addr, p && *p ? " " : "", p ? p : "");
		lines[i] = xstrdup(line);
	}
	log_info(s->sid, "filters edited the envelope: %s, %zu recipients", mail, n);
	relay_envelope(s->relay, mail, (const char *const *)lines, n, content_envelope_done, s);
	for (size_t i = 0; i < n; i++)
		free(lines[i]);
	free(lines);
	free(rc);
}

/* ------------------------------------------------------------ the phases */

/* The one Authentication-Results field (RFC 8601), from the filters'
 * "auth-results." notes, when there are any and an authserv-id is set. */
static void
content_authres(struct session *s)
{
	const char *results[32], *why = NULL;
	char value[4096];
	size_t n;

	if (strcmp(s->cfg->authserv_id, "none") == 0 ||
	    (n = chain_tx_notes(s, "auth-results.", results, ARRAY_LEN(results))) == 0)
		return;
	if (authres_build(value, sizeof(value), s->cfg->authserv_id, results, n) == 0) {
		log_warning(s->sid, "%s not added: the results do not fit in a header field",
		            AUTHRES_FIELD);
		return;
	}
	if (message_header_add(s->msg, AUTHRES_FIELD, value, &why) < 0)
		log_warning(s->sid, "cannot add %s: %s", AUTHRES_FIELD, why);
}

/* message_fields_remove's test: an Authentication-Results field naming our
 * authserv-id came from outside, and nobody may believe it (RFC 8601 5). */
static int
content_forged_authres(const char *name, const char *value, void *arg)
{
	return strcasecmp(name, AUTHRES_FIELD) == 0 && authres_names_id(value, arg);
}

static void
content_eom_done(struct session *s, const struct chain_result *res)
{
	const char *why = NULL, *q;
	char buf[600];

	if (res->verdict == SLUICE_REJECT || res->verdict == SLUICE_TEMPFAIL) {
		content_refuse(s, res->reply);
		return;
	}
	if (chain_tx_discard(s)) {
		/* The client is told what an accepted message gets; nothing is delivered. */
		xsnprintf(buf, sizeof(buf), "250 2.0.0 Ok: queued as %s", s->tx->id);
		content_finish_local(s, buf, "discarded");
		return;
	}
	if ((q = chain_tx_quarantine(s)) != NULL) {
		if (s->cfg->quarantine_header[0] != '\0' &&
		    message_header_add(s->msg, s->cfg->quarantine_header, q, &why) < 0)
			log_warning(s->sid, "cannot add %s: %s", s->cfg->quarantine_header, why);
		if (s->cfg->quarantine_rcpt != NULL) {
			/* Diverted: the quarantine mailbox instead of every recipient. */
			for (size_t i = 0; i < s->tx->nrcpts; i++)
				(void)message_rcpt_delete(s->msg, s->tx->rcpts[i], &why);
			if (message_rcpt_add(s->msg, s->cfg->quarantine_rcpt, NULL, &why) < 0)
				log_warning(s->sid, "cannot divert to %s: %s", s->cfg->quarantine_rcpt, why);
		}
		log_info(s->sid, "message %s quarantined%s%s: %s", s->tx->id,
		         s->cfg->quarantine_rcpt ? " to " : "",
		         s->cfg->quarantine_rcpt ? s->cfg->quarantine_rcpt : "", q);
	}
	content_authres(s);
	if (s->cfg->score_header[0] != '\0' && s->chain != NULL) {
		const char *reasons = chain_tx_score_reasons(s);
		xsnprintf(buf, sizeof(buf), "%.2f%s%s%s", chain_tx_score(s), reasons[0] ? " (" : "",
		          reasons, reasons[0] ? ")" : "");
		if (message_header_add(s->msg, s->cfg->score_header, buf, &why) < 0)
			log_warning(s->sid, "cannot add %s: %s", s->cfg->score_header, why);
	}
	if (message_envelope_edited(s->msg))
		content_envelope(s);
	else
		content_send(s);
}

static void
content_body_done(struct session *s, const struct chain_result *res)
{
	if (res->verdict == SLUICE_REJECT || res->verdict == SLUICE_TEMPFAIL) {
		content_refuse(s, res->reply);
		return;
	}
	if (s->content_sync)
		s->content_again = 1;   /* content_body's loop goes on: no recursion */
	else
		content_body(s);
}

static void
content_body(struct session *s)
{
	uint64_t size = spool_size(s->spool);

	while (chain_wants(CHAIN_BODY) && s->content_off < size) {
		static __thread char chunk[CONTENT_BODY_CHUNK];
		size_t want = size - s->content_off > CONTENT_BODY_CHUNK ? CONTENT_BODY_CHUNK
		                                                         : (size_t)(size - s->content_off);
		ssize_t got = spool_read(s->spool, s->content_off, chunk, want);
		if (got <= 0) {
			log_error(s->sid, "cannot read spooled message: %s", strerror(errno));
			content_refuse(s, "451 4.3.0 Error: local error in processing");
			return;
		}
		s->content_off += (uint64_t)got;
		s->content_sync = 1;
		s->content_again = 0;
		chain_run(s, CHAIN_BODY, &(struct chain_args){ .chunk = (unsigned char *)chunk,
		                                               .len = (size_t)got }, content_body_done);
		s->content_sync = 0;
		if (!s->content_again)
			return;   /* pending, or refused */
	}
	chain_run(s, CHAIN_EOM, NULL, content_eom_done);
}

static void
content_eoh_done(struct session *s, const struct chain_result *res)
{
	if (res->verdict == SLUICE_REJECT || res->verdict == SLUICE_TEMPFAIL) {
		content_refuse(s, res->reply);
		return;
	}
	s->content_off = s->data.header_size;
	content_body(s);
}

static void
content_header_done(struct session *s, const struct chain_result *res)
{
	if (res->verdict == SLUICE_REJECT || res->verdict == SLUICE_TEMPFAIL) {
		content_refuse(s, res->reply);
		return;
	}
	s->content_field++;
	if (s->content_sync)
		s->content_again = 1;
	else
		content_headers(s);
}

static void
content_headers(struct session *s)
{
	size_t n = message_nfields(s->msg);

	while (chain_wants(CHAIN_HEADER) && s->content_field < n) {
		const char *name = message_field_name(s->msg, s->content_field);
		if (name == NULL || *name == '\0') {   /* an opaque line: not a field */
			s->content_field++;
			continue;
		}
		s->content_sync = 1;
		s->content_again = 0;
		chain_run(s, CHAIN_HEADER, &(struct chain_args){ .name = name,
		          .value = message_field_value(s->msg, s->content_field) }, content_header_done);
		s->content_sync = 0;
		if (!s->content_again)
			return;
	}
	chain_run(s, CHAIN_EOH, NULL, content_eoh_done);
}

void
content_end(struct session *s)
{
	unsigned f = s->data.flags;

	session_set_state(s, S_BUSY);
	evtimer_del(s->timer);
	if (f & SMTP_DATA_F_TOO_BIG) {
		content_refuse(s, "552 5.3.4 Error: message too large");
	} else if (f & SMTP_DATA_F_BARE) {
		content_refuse(s, "550 5.5.2 Error: bare <CR> or <LF> received");
	} else if (f & SMTP_DATA_F_LINE_TOO_LONG) {
		content_refuse(s, "500 5.5.2 Error: message line too long");
	} else if (f & SMTP_DATA_F_SINK_ERROR) {
		log_error(s->sid, "cannot spool message to %s: %s", s->cfg->spool_dir, strerror(errno));
		content_refuse(s, "451 4.3.0 Error: local error in processing");
	} else {
		/* The header is parsed once, before any content hook: the hooks read it
		 * and edit it; message_out sends it with the edits applied. */
		if (s->msg == NULL)
			s->msg = message_new(s->cfg->spool_dir, s->cfg->spool_memory);
		if (message_parse(s->msg, s->spool, s->data.header_size) < 0) {
			log_error(s->sid, "cannot read spooled message: %s", strerror(errno));
			content_refuse(s, "451 4.3.0 Error: local error in processing");
			return;
		}
		if (strcmp(s->cfg->authserv_id, "none") != 0) {
			size_t n = message_fields_remove(s->msg, content_forged_authres,
			                                 s->cfg->authserv_id);
			if (n > 0)
				log_info(s->sid, "removed %zu %s field%s naming our authserv-id %s", n,
				         AUTHRES_FIELD, n == 1 ? "" : "s", s->cfg->authserv_id);
		}
		s->msg_ready = 1;
		s->content_field = 0;
		content_headers(s);
	}
}
