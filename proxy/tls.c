/* tls.c - the client leg's TLS: server contexts per listener with SNI, and the
 * STARTTLS / implicit TLS glue between a session and libevent's OpenSSL filter. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "config.h"
#include "log.h"
#include "relay.h"
#include "session.h"
#include "tls.h"
#include "util.h"

struct tls_server {
	SSL_CTX **ctx;            /* one per tls_cert/tls_key pair; ctx[0] is the default */
	size_t n;
};

/* ------------------------------------------------------------ contexts */

const char *
tls_error_text(char *buf, size_t size)
{
	unsigned long e = ERR_get_error(), next;

	/* The first error is where it started; later ones add context only. */
	while ((next = ERR_get_error()) != 0)
		(void)next;
	if (e == 0)
		return "unknown error";
	ERR_error_string_n(e, buf, size);
	return buf;
}

/* SNI (RFC 6066): the first pair whose certificate names the requested host
 * (X509_check_host: SAN DNS names, else the CN; "*.example.org" matches exactly one
 * label); no match or no name keeps the default, the first pair. */
static int
tls_sni_cb(SSL *ssl, int *alert, void *arg)
{
	const struct tls_server *t = arg;
	const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);

	(void)alert;
	if (name == NULL)
		return SSL_TLSEXT_ERR_OK;
	for (size_t i = 0; i < t->n; i++) {
		X509 *cert = SSL_CTX_get0_certificate(t->ctx[i]);
		if (cert != NULL && X509_check_host(cert, name, 0, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS,
		                                    NULL) == 1) {
			if (i > 0)
				SSL_set_SSL_CTX(ssl, t->ctx[i]);
			return SSL_TLSEXT_ERR_OK;
		}
	}
	return SSL_TLSEXT_ERR_OK;
}

static SSL_CTX *
tls_ctx_new(const struct config_listener *l, const struct config_tls_pair *p,
            unsigned ciphers_line, char *err, size_t errlen, unsigned *line_r)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	char ebuf[256];

	if (ctx == NULL) {
		*line_r = p->cert_line;
		xsnprintf(err, errlen, "cannot create a TLS context: %s",
		          tls_error_text(ebuf, sizeof(ebuf)));
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, l->tls_min_version == CONFIG_TLS_V1_3 ? TLS1_3_VERSION
	                                                                         : TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
	                         SSL_OP_NO_COMPRESSION);
	/* Sessions resumed across the SNI contexts need one id context. */
	SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"sluice", 6);
	if (l->tls_ciphers != NULL && SSL_CTX_set_cipher_list(ctx, l->tls_ciphers) != 1) {
		*line_r = ciphers_line;
		xsnprintf(err, errlen, "bad value '%s' for tls_ciphers: %s", l->tls_ciphers,
		          tls_error_text(ebuf, sizeof(ebuf)));
		goto fail;
	}
	if (access(p->cert, R_OK) != 0) {
		*line_r = p->cert_line;
		xsnprintf(err, errlen, "tls_cert %s: %s", p->cert, strerror(errno));
		goto fail;
	}
	if (SSL_CTX_use_certificate_chain_file(ctx, p->cert) != 1) {
		*line_r = p->cert_line;
		xsnprintf(err, errlen, "tls_cert %s: not a PEM certificate chain: %s", p->cert,
		          tls_error_text(ebuf, sizeof(ebuf)));
		goto fail;
	}
	if (access(p->key, R_OK) != 0) {
		*line_r = p->key_line;
		xsnprintf(err, errlen, "tls_key %s: %s", p->key, strerror(errno));
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, p->key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		*line_r = p->key_line;
		xsnprintf(err, errlen, "tls_key %s: not the private key of %s: %s", p->key, p->cert,
		          tls_error_text(ebuf, sizeof(ebuf)));
		goto fail;
	}
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

struct tls_server *
tls_server_new(const struct config_listener *l, unsigned ciphers_line, char *err,
               size_t errlen, unsigned *line_r)
{
	struct tls_server *t = xcalloc(1, sizeof(*t));

	ERR_clear_error();
	t->ctx = xcalloc(l->ntls_pairs, sizeof(*t->ctx));
	for (size_t i = 0; i < l->ntls_pairs; i++) {
		t->ctx[i] = tls_ctx_new(l, &l->tls_pairs[i], ciphers_line, err, errlen, line_r);
		if (t->ctx[i] == NULL) {
			tls_server_free(&t);
			return NULL;
		}
		t->n++;
	}
	SSL_CTX_set_tlsext_servername_callback(t->ctx[0], tls_sni_cb);
	SSL_CTX_set_tlsext_servername_arg(t->ctx[0], t);
	return t;
}

void
tls_server_free(struct tls_server **tp)
{
	struct tls_server *t = *tp;

	if (t == NULL)
		return;
	*tp = NULL;
	for (size_t i = 0; i < t->n; i++)
		SSL_CTX_free(t->ctx[i]);
	free(t->ctx);
	free(t);
}

SSL_CTX *
tls_client_ctx_new(const char *cafile, char *err, size_t errlen)
{
	SSL_CTX *ctx;
	char ebuf[256];
	int ok;

	ERR_clear_error();
	ctx = SSL_CTX_new(TLS_client_method());
	if (ctx == NULL) {
		xsnprintf(err, errlen, "cannot create a TLS context: %s",
		          tls_error_text(ebuf, sizeof(ebuf)));
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
	/* Verification is chosen per connection (relay_open.c): SSL_VERIFY_NONE here
	 * still computes the result, which opportunistic TLS logs. */
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	ok = cafile != NULL ? SSL_CTX_load_verify_locations(ctx, cafile, NULL)
	                    : SSL_CTX_set_default_verify_paths(ctx);
	if (ok != 1) {
		xsnprintf(err, errlen, "backend_tls_ca %s: not a PEM CA file: %s",
		          cafile ? cafile : "(system store)", tls_error_text(ebuf, sizeof(ebuf)));
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

/* ------------------------------------------------------------ sessions */

int
tls_session_offer(const struct session *s)
{
	return s->tls == TLS_OFF && (s->lcfg->tls_mode == CONFIG_TLS_OPTIONAL ||
	                             s->lcfg->tls_mode == CONFIG_TLS_REQUIRED);
}

int
tls_session_required(const struct session *s)
{
	return s->tls != TLS_ON && s->lcfg->tls_mode == CONFIG_TLS_REQUIRED;
}

int
tls_session_wrap(struct session *s)
{
	SSL *ssl = SSL_new(s->lcfg->tls->ctx[0]);
	struct bufferevent *bev = NULL;

	if (ssl != NULL)
		bev = bufferevent_openssl_filter_new(bufferevent_get_base(s->bev), s->bev, ssl,
		                                     BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		char ebuf[256];
		log_error(s->sid, "cannot start TLS with [%s]: %s", s->addr,
		          tls_error_text(ebuf, sizeof(ebuf)));
		if (ssl != NULL)
			SSL_free(ssl);
		session_close(s, "454 4.7.0 TLS not available due to local problem");
		return -1;
	}
	/* From here on only the filter is used; freeing it frees the socket's. */
	s->bev = bev;
	s->tls = TLS_HANDSHAKE;
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	session_bev_setup(s);
	session_set_state(s, S_TLS);
	return 0;
}

void
tls_session_starttls(struct session *s)
{
	struct evbuffer *in = bufferevent_get_input(s->bev);
	size_t n = evbuffer_get_length(in);

	if (s->tls != TLS_OFF) {
		session_error(s, "503 5.5.1 Error: TLS already active");
		return;
	}
	if (!tls_session_offer(s)) {
		session_error(s, "502 5.5.1 Error: command not implemented");
		return;
	}
	if (s->cmd.arg_len > 0) {
		session_error(s, "501 5.5.4 Syntax: STARTTLS");
		return;
	}
	/* RFC 3207 4.2, CVE-2011-0411: what the client sent after STARTTLS in the clear
	 * is never executed, neither now nor after the handshake. */
	if (n > 0) {
		log_info(s->sid, "discarded %zu octets after STARTTLS from [%s]", n, s->addr);
		evbuffer_drain(in, n);
	}
	session_reply(s, "220 2.0.0 Ready to start TLS");
	session_flush(s);
	/* Back to "just connected" (RFC 3207 4.2): a new EHLO is needed, the
	 * transaction and the backend's identity of the client are gone. */
	if (s->tx != NULL) {
		s->backend_dirty = 1;
		session_tx_end(s);
	}
	s->helo[0] = '\0';
	s->helo_seen = 0;
	s->esmtp = 0;
	s->pipelining = 0;
	s->offered = 0;
	/* The backend was told the old HELO (XCLIENT): the next MAIL opens a new one. */
	relay_free(&s->relay);
	s->backend_dirty = 0;
	if (tls_session_wrap(s) == 0)
		log_debug(s->sid, "STARTTLS: handshake with [%s]", s->addr);
}

int
tls_session_event(struct session *s, short what)
{
	SSL *ssl = bufferevent_openssl_get_ssl(s->bev);
	unsigned long e;
	char ebuf[256];

	if (what & BEV_EVENT_CONNECTED) {
		const SSL_CIPHER *c = SSL_get_current_cipher(ssl);
		const char *sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
		int alg = 0, bits = SSL_CIPHER_get_bits(c, &alg);

		s->tls = TLS_ON;
		xsnprintf(s->tls_comment, sizeof(s->tls_comment), "(using %s with cipher %s (%d/%d bits))",
		          SSL_get_version(ssl), SSL_CIPHER_get_name(c), bits, alg);
		log_info(s->sid, "TLS established with [%s]: %s with cipher %s (%d/%d bits)%s%s",
		         s->addr, SSL_get_version(ssl), SSL_CIPHER_get_name(c), bits, alg,
		         sni ? " sni=" : "", sni ? sni : "");
		return 0;
	}
	/* The reason OpenSSL gives, else the socket's. */
	e = bufferevent_get_openssl_error(s->bev);
	if (e != 0)
		ERR_error_string_n(e, ebuf, sizeof(ebuf));
	while (bufferevent_get_openssl_error(s->bev) != 0)
		;
	if (s->tls == TLS_HANDSHAKE) {
		log_info(s->sid, "TLS handshake failed with [%s]: %s", s->addr,
		         e ? ebuf : (what & BEV_EVENT_EOF) ? "connection closed" :
		         evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
		return -1;
	}
	if (e != 0)
		log_info(s->sid, "TLS error with [%s]: %s", s->addr, ebuf);
	return 0;
}

/* The socket's output below the filter: while closing, each change to it checks
 * whether everything has gone out. */
static void
tls_underlying_out_cb(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
	struct session *s = arg;

	(void)info;
	if (evbuffer_get_length(buf) == 0)
		session_closing_flushed(s);
}

int
tls_session_flushed(struct session *s)
{
	struct bufferevent *under;
	struct evbuffer *out;

	if (s->tls == TLS_OFF || (under = bufferevent_get_underlying(s->bev)) == NULL)
		return 1;
	out = bufferevent_get_output(under);
	if (evbuffer_get_length(out) == 0)
		return 1;
	if (!s->tls_close_watch) {
		s->tls_close_watch = 1;
		evbuffer_add_cb(out, tls_underlying_out_cb, s);
	}
	return 0;
}

const char *
tls_session_proto(const struct session *s)
{
	/* RFC 3848 registers ESMTPS; HELO over TLS has no registered name. */
	return s->esmtp ? (s->tls == TLS_ON ? "ESMTPS" : "ESMTP") : "SMTP";
}

const char *
tls_session_comment(const struct session *s)
{
	return s->tls == TLS_ON ? s->tls_comment : "";
}
