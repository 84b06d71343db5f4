/* identity.c - a trusted client's own XCLIENT and XFORWARD (Postfix
 * XCLIENT_README, XFORWARD_README): a proxy or content filter in front of
 * sluice, listed in the listener's `trusted`, tells who the real client is.
 * Anyone else gets 550 5.7.0, and the line is never forwarded as is. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "chain.h"
#include "identity.h"
#include "listener.h"
#include "log.h"
#include "relay.h"
#include "session.h"
#include "smtp_parse.h"
#include "util.h"
#include "worker.h"
#include "xclient.h"

/* The client's new address (and port, when given) into s->peer, moving the
 * per-IP count with it. */
static void
identity_set_addr(struct session *s, const struct xclient_attrs *a)
{
	struct sockaddr_storage prev = s->peer, ss;
	socklen_t len;

	memset(&ss, 0, sizeof(ss));
	if (a->ipv6) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
		in6->sin6_family = AF_INET6;
		(void)inet_pton(AF_INET6, a->addr, &in6->sin6_addr);   /* checked by xclient_parse */
		len = sizeof(*in6);
	} else {
		struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
		in4->sin_family = AF_INET;
		(void)inet_pton(AF_INET, a->addr, &in4->sin_addr);
		len = sizeof(*in4);
	}
	session_set_peer(s, (const struct sockaddr *)&ss, len);
	if (s->limit_ip)
		conn_limits_move(s->w->srv, (const struct sockaddr *)&prev, (const struct sockaddr *)&s->peer);
}

static void
identity_set_port(struct session *s, unsigned port)
{
	s->port = port;
	if (s->peer.ss_family == AF_INET6)
		((struct sockaddr_in6 *)&s->peer)->sin6_port = htons((uint16_t)port);
	else
		((struct sockaddr_in *)&s->peer)->sin_port = htons((uint16_t)port);
}

/* A string attribute: the value, "" when [UNAVAILABLE], unchanged when absent. */
static void
identity_set_str(const struct xclient_attrs *a, unsigned bit, const char *v, char *dst, size_t size)
{
	if (a->set & bit)
		strlcpy_s(dst, (a->unavailable & bit) ? "" : v, size);
}

void
identity_command(struct session *s)
{
	int xforward = s->cmd.verb == SMTP_VERB_XFORWARD;
	const char *verb = xforward ? "XFORWARD" : "XCLIENT", *why = NULL, *name;
	struct xclient_attrs a;
	char was[80];

	if (!s->trusted) {
		log_info(s->sid, "refused %s from [%s]: not in the listener's trusted list", verb, s->addr);
		session_error(s, "550 5.7.0 Error: insufficient authorization");
		return;
	}
	if (s->tx != NULL) {
		session_error(s, "503 5.5.1 Error: MAIL transaction in progress");
		return;
	}
	if (xclient_parse(s->cmd.arg, s->cmd.arg_len, xforward, &a, &why) < 0) {
		session_error(s, "501 5.5.4 Syntax: %s: %s", verb, why);
		return;
	}
	xsnprintf(was, sizeof(was), "%s:%u", s->addr, s->port);
	if ((a.set & SMTP_XCLIENT_ADDR) && !(a.unavailable & SMTP_XCLIENT_ADDR))
		identity_set_addr(s, &a);
	if (a.set & SMTP_XCLIENT_PORT)
		identity_set_port(s, (a.unavailable & SMTP_XCLIENT_PORT) ? 0 : a.port);
	identity_set_str(&a, SMTP_XCLIENT_LOGIN, a.login, s->login, sizeof(s->login));
	identity_set_str(&a, SMTP_XCLIENT_HELO, a.helo, s->helo, sizeof(s->helo));
	/* A new address without a name is looked up, as at connect. */
	if (a.set & SMTP_XCLIENT_NAME)
		name = (a.unavailable & SMTP_XCLIENT_NAME) ? "unknown" : a.name;
	else
		name = (a.set & SMTP_XCLIENT_ADDR) ? NULL : s->name;
	if (s->proxy_addr[0] == '\0')
		strlcpy_s(s->proxy_addr, was, sizeof(s->proxy_addr));
	log_info(s->sid, "%s from trusted %s: the client is [%s]:%u%s%s", verb, was, s->addr, s->port,
	         name != NULL ? " named " : "", name != NULL ? name : "");
	if (xforward) {
		/* For what follows: Received, logs, filters' lookups, the backend leg.
		 * The connect and helo hooks already ran and are not run again. */
		if (name == NULL)
			name = "unknown";   /* a new address, no name: not looked up here */
		if (name != s->name) {
			strlcpy_s(s->name, name, sizeof(s->name));
			s->name_status = strcmp(name, "unknown") != 0 ? DNS_STATUS_OK : DNS_STATUS_NONE;
		}
		session_reply(s, "250 2.0.0 Ok");
		session_done(s);
		return;
	}
	/* XCLIENT: from here on it is a new session of that client, which greets
	 * and then says EHLO; a backend connection made for the old identity goes. */
	relay_free(&s->relay);
	s->backend_dirty = 0;
	s->helo_seen = s->esmtp = s->pipelining = 0;
	chain_session_end(s);
	chain_session_begin(s);
	session_set_state(s, S_GREETING);
	session_begin(s, name);
}
