/* auth.c - SMTP AUTH (RFC 4954) passed through to the backend: sluice offers the
 * backend's mechanisms where the listener allows, relays the exchange line by
 * line, and the backend's answer decides. Failures are counted per client
 * address in the shared store and slowed down, then refused with 421 4.7.0. */
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/event.h>
#include <openssl/evp.h>

#include "auth.h"
#include "backend.h"
#include "chain.h"
#include "commands.h"
#include "config.h"
#include "log.h"
#include "relay.h"
#include "session.h"
#include "store.h"
#include "tls.h"
#include "util.h"
#include "worker.h"

#define AUTH_KEY_PREFIX "sluice.authfail."

struct auth_state {
	struct session *s;
	struct store_req *req;        /* outstanding store request */
	struct event *delay;          /* holds back a failure's reply */
	char mech[32];
	int step;                     /* client responses relayed so far */
	int active;                   /* an exchange is in progress */
	char user[256];               /* the user name seen in the exchange */
	char reply[SMTP_REPLY_LINE_MAX * 4];   /* the failure reply, while delayed */
	size_t reply_len;
	int over;                     /* the failure reached the limit: close */
};

static void auth_forward(struct session *s, const char *line, size_t len);

static struct auth_state *
auth_of(struct session *s)
{
	if (s->auth == NULL) {
		s->auth = xcalloc(1, sizeof(*s->auth));
		s->auth->s = s;
	}
	return s->auth;
}

void
auth_free(struct session *s)
{
	struct auth_state *a = s->auth;

	if (a == NULL)
		return;
	store_cancel(a->req);
	if (a->delay != NULL)
		event_free(a->delay);
	free(a);
	s->auth = NULL;
}

/* ------------------------------------------------------------ offering */

/* Is word (len octets) one of the space-separated words of list (ASCII
 * case-insensitive)? */
static int
word_in_list(const char *list, const char *word, size_t len)
{
	while (*list != '\0') {
		size_t n = strcspn(list, " ");
		if (n == len && strncasecmp(list, word, len) == 0)
			return 1;
		list += n;
		list += strspn(list, " ");
	}
	return 0;
}

static int
client_is_loopback(const struct session *s)
{
	if (s->peer.ss_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)&s->peer)->sin_addr.s_addr) >> 24) == 127;
	if (s->peer.ss_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)&s->peer)->sin6_addr;
		return IN6_IS_ADDR_LOOPBACK(a) ||
		       (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
	}
	return 0;
}

/* AUTH may be used on this connection now (TLS, or allowed without). */
static int
auth_channel_ok(const struct session *s)
{
	switch (s->lcfg->auth_without_tls) {
	case CONFIG_AUTH_PLAIN_YES: return 1;
	case CONFIG_AUTH_PLAIN_LOOPBACK: return s->tls == TLS_ON || client_is_loopback(s);
	default: return s->tls == TLS_ON;
	}
}

int
auth_offer(struct session *s, char *mechs, size_t size)
{
	struct smtp_caps bc;

	if (s->lcfg->auth == CONFIG_AUTH_NONE || !auth_channel_ok(s) ||
	    !backend_pool_caps(s->w->srv->pool, &bc) || !(bc.caps & SMTP_CAP_AUTH) || bc.auth[0] == '\0')
		return 0;
	strlcpy_s(mechs, bc.auth, size);
	return 1;
}

int
auth_mail_allowed(struct session *s)
{
	if (s->lcfg->auth != CONFIG_AUTH_REQUIRED || s->login[0] != '\0')
		return 1;
	session_error(s, "530 5.7.0 Authentication required");
	return 0;
}

/* ------------------------------------------------------------ the user name */

/* base64 into out (NUL-terminated); its length, or -1 when not base64. */
static int
b64_decode(const char *in, size_t len, unsigned char *out, size_t size)
{
	int n, pad = 0;

	if (len == 0 || len % 4 != 0 || len / 4 * 3 + 1 > size)
		return -1;
	n = EVP_DecodeBlock(out, (const unsigned char *)in, (int)len);
	if (n < 0)
		return -1;
	pad = (in[len - 1] == '=') + (len > 1 && in[len - 2] == '=');
	n -= pad;
	out[n] = '\0';
	return n;
}

/* What the response says about the user: PLAIN (authzid NUL authcid NUL
 * password: authcid, RFC 4616), LOGIN (the first response), CRAM-MD5 ("user
 * digest"). Other mechanisms leave it unknown. */
static void
auth_note_user(struct auth_state *a, const char *resp, size_t len)
{
	unsigned char buf[1024];
	int n = b64_decode(resp, len, buf, sizeof(buf));
	const unsigned char *u = NULL;
	size_t ulen = 0;

	if (n <= 0)
		return;
	if (strcasecmp(a->mech, "PLAIN") == 0) {
		const unsigned char *z = memchr(buf, '\0', (size_t)n);
		if (z != NULL) {
			u = z + 1;
			ulen = strnlen((const char *)u, (size_t)(buf + n - u));
		}
	} else if (strcasecmp(a->mech, "LOGIN") == 0 && a->step == 0) {
		u = buf;
		ulen = strnlen((const char *)buf, (size_t)n);
	} else if (strcasecmp(a->mech, "CRAM-MD5") == 0) {
		const unsigned char *sp = memchr(buf, ' ', (size_t)n);
		u = buf;
		ulen = sp != NULL ? (size_t)(sp - buf) : 0;
	}
	if (u == NULL || ulen == 0 || ulen >= sizeof(a->user))
		return;
	for (size_t i = 0; i < ulen; i++)
		if (u[i] < 0x21 || u[i] == 0x7f)
			return;   /* not something to log or hand to filters */
	memcpy(a->user, u, ulen);
	a->user[ulen] = '\0';
}

/* ------------------------------------------------------------ failures */

static void
fail_key(const struct session *s, char *key, size_t size)
{
	xsnprintf(key, size, AUTH_KEY_PREFIX "%s", s->addr);
}

static void
auth_finish(struct session *s)
{
	s->auth->active = 0;
	session_done(s);
}

static void
delay_done(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;
	struct auth_state *a = s->auth;

	(void)fd;
	(void)what;
	session_reply_raw(s, a->reply, a->reply_len);
	if (a->over) {
		session_close(s, "421 4.7.0 %s Error: too many failed authentications", s->cfg->hostname);
		return;
	}
	auth_finish(s);
}

/* The failure count after this one: hold the reply back, then maybe close. */
static void
fail_counted(void *arg, int status, const char *value)
{
	struct session *s = arg;
	struct auth_state *a = s->auth;
	long n = status == 0 && value != NULL ? strtol(value, NULL, 10) : 1;
	unsigned ms = s->cfg->auth_fail_delay * (unsigned)(n > 0 && n < 100 ? n : 100);
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	a->req = NULL;
	a->over = s->cfg->auth_fail_limit > 0 && n >= (long)s->cfg->auth_fail_limit;
	log_info(s->sid, "AUTH %s failed for [%s]%s%s (%ld in the window)", a->mech, s->addr,
	         a->user[0] ? " user=" : "", a->user, n);
	if (a->delay == NULL)
		a->delay = evtimer_new(s->w->base, delay_done, s);
	evtimer_add(a->delay, &tv);
}

static void
auth_failed(struct session *s, const struct relay_reply *reply)
{
	struct auth_state *a = s->auth;
	char key[STORE_KEY_MAX];

	a->reply_len = reply->len < sizeof(a->reply) ? reply->len : sizeof(a->reply) - 2;
	memcpy(a->reply, reply->text, a->reply_len);
	if (a->reply_len < reply->len)
		memcpy(a->reply + a->reply_len - 2, "\r\n", 2);
	fail_key(s, key, sizeof(key));
	a->req = store_incr(s->w->srv->store, s->w->base, key, 1, s->cfg->auth_fail_window,
	                    fail_counted, s);
	if (a->req == NULL)
		fail_counted(s, -1, NULL);
}

/* ------------------------------------------------------------ the exchange */

static void
auth_chain_done(struct session *s, const struct chain_result *res)
{
	struct auth_state *a = s->auth;

	if (res->verdict == SLUICE_REJECT || res->verdict == SLUICE_TEMPFAIL) {
		/* The backend took the AUTH: drop that connection, not just the name. */
		relay_free(&s->relay);
		s->login[0] = '\0';
		session_reply(s, "%s", res->reply ? res->reply : "535 5.7.8 Error: authentication failed");
		auth_finish(s);
		return;
	}
	session_reply_raw(s, a->reply, a->reply_len);
	auth_finish(s);
}

static void
auth_reply(void *arg, const struct relay_reply *reply)
{
	struct session *s = arg;
	struct auth_state *a = s->auth;

	if (reply->code == 334 && !reply->local) {
		session_reply_raw(s, reply->text, reply->len);   /* a challenge: the client answers */
		session_set_state(s, S_COMMAND);
		s->auth_step = 1;
		session_done(s);
		return;
	}
	s->auth_step = 0;
	if (reply->code / 100 == 2 && !reply->local) {
		strlcpy_s(s->login, a->user[0] ? a->user : "unknown", sizeof(s->login));
		log_info(s->sid, "AUTH %s succeeded for [%s] user=%s", a->mech, s->addr, s->login);
		a->reply_len = reply->len < sizeof(a->reply) ? reply->len : 0;
		memcpy(a->reply, reply->text, a->reply_len);
		if (a->reply_len == 0)
			a->reply_len = (size_t)xsnprintf(a->reply, sizeof(a->reply),
			                                 "235 2.7.0 Authentication successful\r\n");
		chain_run(s, CHAIN_AUTH, &(struct chain_args){ .str = s->login }, auth_chain_done);
		return;
	}
	if (reply->local || reply->code / 100 == 4 || reply->code == 501) {
		/* Not a wrong password: a backend failure, or a cancelled exchange. */
		session_reply_raw(s, reply->text, reply->len);
		auth_finish(s);
		return;
	}
	auth_failed(s, reply);
}

static void
auth_forward(struct session *s, const char *line, size_t len)
{
	session_set_state(s, S_BUSY);
	relay_auth(s->relay, line, len, auth_reply, s);
}

static void
auth_relay_ready(void *arg, const struct relay_reply *reply)
{
	struct session *s = arg;

	if (reply->code / 100 != 2) {
		session_reply_raw(s, reply->text, reply->len);
		auth_finish(s);
		return;
	}
	auth_forward(s, s->line, s->line_len);
}

static void
auth_start(struct session *s)
{
	if (s->relay == NULL)
		s->relay = relay_new(s->w->base, s->w->srv->pool, s->cfg, s->sid);
	relay_mark_no_reuse(s->relay);
	if (!relay_is_open(s->relay)) {
		commands_relay_open(s, auth_relay_ready);
		return;
	}
	auth_forward(s, s->line, s->line_len);
}

/* The failures so far from this address: over the limit, 421 and close. */
static void
auth_checked(void *arg, int status, const char *value)
{
	struct session *s = arg;
	long n = status == 0 && value != NULL ? strtol(value, NULL, 10) : 0;

	s->auth->req = NULL;
	if (s->cfg->auth_fail_limit > 0 && n >= (long)s->cfg->auth_fail_limit) {
		log_info(s->sid, "AUTH from [%s] refused: %ld failures in the window", s->addr, n);
		session_close(s, "421 4.7.0 %s Error: too many failed authentications", s->cfg->hostname);
		return;
	}
	auth_start(s);
}

void
auth_command(struct session *s)
{
	struct auth_state *a;
	char mechs[128], key[STORE_KEY_MAX];
	const char *arg = s->cmd.arg, *sp;
	size_t mlen;

	if (s->lcfg->auth == CONFIG_AUTH_NONE || !(s->offered & SMTP_CAP_AUTH)) {
		if (s->lcfg->auth != CONFIG_AUTH_NONE && !auth_channel_ok(s))
			session_error(s, "538 5.7.11 Encryption required for requested authentication mechanism");
		else
			session_error(s, "503 5.5.1 Error: authentication not enabled");
		return;
	}
	if (s->login[0] != '\0') {
		session_error(s, "503 5.5.1 Error: already authenticated");
		return;
	}
	if (s->tx != NULL) {
		session_error(s, "503 5.5.1 Error: MAIL transaction in progress");
		return;
	}
	sp = memchr(arg, ' ', s->cmd.arg_len);
	mlen = sp != NULL ? (size_t)(sp - arg) : s->cmd.arg_len;
	if (!auth_offer(s, mechs, sizeof(mechs)) || mlen == 0 || mlen >= sizeof(a->mech) ||
	    !word_in_list(mechs, arg, mlen)) {
		session_error(s, "504 5.5.4 Error: unsupported authentication mechanism");
		return;
	}
	a = auth_of(s);
	memset(a->user, 0, sizeof(a->user));
	memcpy(a->mech, arg, mlen);
	a->mech[mlen] = '\0';
	a->step = 0;
	a->active = 1;
	if (sp != NULL && strcmp(sp + 1, "=") != 0)
		auth_note_user(a, sp + 1, s->cmd.arg_len - mlen - 1);
	session_set_state(s, S_BUSY);
	fail_key(s, key, sizeof(key));
	a->req = store_get(s->w->srv->store, s->w->base, key, auth_checked, s);
	if (a->req == NULL)
		auth_start(s);
}

void
auth_input(struct session *s)
{
	struct auth_state *a = s->auth;

	if (s->line_len == 1 && s->line[0] == '*') {
		log_info(s->sid, "AUTH %s cancelled by the client", a->mech);
	} else {
		auth_note_user(a, s->line, s->line_len);
		a->step++;
	}
	/* The line goes as is: the backend answers "*" with 501, a bad
	 * response with its own error. */
	auth_forward(s, s->line, s->line_len);
}
