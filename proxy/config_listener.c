/* config_listener.c - listeners: [listener NAME] sections, `listen =` lines, their checks. */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_keys.h"
#include "config_listener.h"
#include "tls.h"
#include "util.h"

/* Room for a message: a name or value (shorter than one of config.c's 1024-octet
 * lines) and the text around it. */
#define MSG_MAX (1024 + 512)

static const char *const proxy_protocol_words[] = { "no", "v1", "v2", "any", NULL };
static const char *const role_words[] = { "mx", "submission", NULL };
static const char *const auth_words[] = { "none", "optional", "required", NULL };
static const char *const auth_plain_words[] = { "no", "loopback", "yes", NULL };
static const char *const tls_words[] = { "none", "optional", "required", "implicit", NULL };
static const char *const tls_version_words[] = { "TLSv1.2", "TLSv1.3", NULL };

/* The [listener NAME] keys besides address; `trusted` is a list and tls_ciphers a
 * string, set here; tls_cert and tls_key repeat (tls_file_add). */
#define F(field) offsetof(struct config_listener, field)
static const struct config_key listener_keys[] = {
	{ "proxy_protocol", KT_ENUM, F(proxy_protocol), 0, proxy_protocol_words, NULL },
	{ "proxy_timeout", KT_DURATION, F(proxy_timeout), 1, NULL, NULL },
	{ "trusted", KT_PATH, 0, 0, NULL, NULL },
	{ "role", KT_ENUM, F(role), 0, role_words, NULL },
	{ "tls", KT_ENUM, F(tls_mode), 0, tls_words, NULL },
	{ "tls_min_version", KT_ENUM, F(tls_min_version), 0, tls_version_words, NULL },
	{ "tls_ciphers", KT_PATH, 0, 0, NULL, NULL },
	{ "auth", KT_ENUM, F(auth), 0, auth_words, NULL },
	{ "auth_without_tls", KT_ENUM, F(auth_without_tls), 0, auth_plain_words, NULL },
};
#undef F
enum { LK_PROXY_PROTOCOL, LK_PROXY_TIMEOUT, LK_TRUSTED, LK_ROLE, LK_TLS, LK_TLS_MIN_VERSION,
       LK_TLS_CIPHERS, LK_AUTH, LK_AUTH_WITHOUT_TLS, LK_COUNT };
_Static_assert(LK_COUNT == sizeof(listener_keys) / sizeof(listener_keys[0]), "listener_keys");

struct config_listener_lines {
	int decl;                        /* `listen =` line or [listener] header */
	int addr;                        /* line of its address; 0 = none yet */
	int key[LK_COUNT];               /* lines of listener_keys[]; 0 = not given */
};

static struct config_listener *
listener_add(struct config *cfg, struct config_listener_lines **lines_r, const char *name,
             int line)
{
	size_t i = cfg->nlisteners++;

	cfg->listeners = xrealloc(cfg->listeners, cfg->nlisteners * sizeof(*cfg->listeners));
	*lines_r = xrealloc(*lines_r, cfg->nlisteners * sizeof(**lines_r));
	memset(&cfg->listeners[i], 0, sizeof(cfg->listeners[i]));
	cfg->listeners[i].name = xstrdup(name);
	cfg->listeners[i].proxy_timeout = 5 * 1000;
	memset(&(*lines_r)[i], 0, sizeof((*lines_r)[i]));
	(*lines_r)[i].decl = line;
	return &cfg->listeners[i];
}

static int
addr_parse(const char *key, const char *value, struct config_addr *addr_r, char *err,
           size_t errlen)
{
	const char *why;

	if (config_parse_addr(value, 0, addr_r, &why) == 0)
		return 0;
	xsnprintf(err, errlen, "bad value '%s' for %s: %s; want ADDR:PORT with a numeric "
	          "IPv4 address or [IPV6]:PORT", value, key, why);
	return -1;
}

int
config_listener_listen(struct config *cfg, struct config_listener_lines **lines_r,
                       const char *name, const char *value, int line, char *err, size_t errlen)
{
	struct config_addr addr;

	if (addr_parse("listen", value, &addr, err, errlen) < 0)
		return -1;
	listener_add(cfg, lines_r, name, line)->addr = addr;
	(*lines_r)[cfg->nlisteners - 1].addr = line;
	return 0;
}

static bool
name_valid(const char *s)
{
	return *s != '\0' && strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                               "0123456789-_.") == strlen(s);
}

int
config_listener_open(struct config *cfg, struct config_listener_lines **lines_r,
                     const char *name, int line, char *err, size_t errlen)
{
	if (!name_valid(name)) {
		xsnprintf(err, errlen, "%s", *name == '\0' ?
		          "section [listener] needs a name: [listener NAME]" :
		          "listener name may contain only letters, digits, '-', '_' and '.'");
		return -1;
	}
	for (size_t i = 0; i < cfg->nlisteners; i++)
		if (strcmp(cfg->listeners[i].name, name) == 0) {
			xsnprintf(err, errlen, "duplicate section [listener %s] (first on line %d)",
			          name, (*lines_r)[i].decl);
			return -1;
		}
	listener_add(cfg, lines_r, name, line);
	return 0;
}

/* "CIDR[, CIDR...]" (commas and/or spaces between them) into l->trusted. */
static int
trusted_set(struct config_listener *l, const char *value, char *err, size_t errlen)
{
	const char *p = value, *why;

	while (*p != '\0') {
		size_t n = strcspn(p, ", \t");
		char *item;

		if (n == 0) {
			p++;
			continue;
		}
		item = xstrndup(p, n);
		l->trusted = xrealloc(l->trusted, (l->ntrusted + 1) * sizeof(*l->trusted));
		if (config_parse_cidr(item, &l->trusted[l->ntrusted], &why) < 0) {
			xsnprintf(err, errlen, "bad value '%s' for trusted: %s; want ADDR or "
			          "ADDR/BITS (IPv4 or IPv6), separated by commas", item, why);
			free(item);
			return -1;
		}
		free(item);
		l->ntrusted++;
		p += n;
	}
	if (l->ntrusted == 0) {
		xsnprintf(err, errlen, "empty value for trusted");
		return -1;
	}
	return 0;
}

/* tls_cert and tls_key repeat, one pair per certificate: each fills the last pair
 * still missing it, else starts a new pair. tls_check checks the pairs are whole. */
static int
tls_file_add(struct config_listener *l, const char *key, const char *value, int line,
             char *err, size_t errlen)
{
	int cert = strcmp(key, "tls_cert") == 0;
	struct config_tls_pair *p = l->ntls_pairs ? &l->tls_pairs[l->ntls_pairs - 1] : NULL;

	if (*value == '\0') {
		xsnprintf(err, errlen, "empty value for %s", key);
		return -1;
	}
	if (p == NULL || (cert ? p->cert : p->key) != NULL) {
		l->tls_pairs = xrealloc(l->tls_pairs, (l->ntls_pairs + 1) * sizeof(*l->tls_pairs));
		p = &l->tls_pairs[l->ntls_pairs++];
		memset(p, 0, sizeof(*p));
	}
	if (cert) {
		p->cert = xstrdup(value);
		p->cert_line = (unsigned)line;
	} else {
		p->key = xstrdup(value);
		p->key_line = (unsigned)line;
	}
	return 0;
}

int
config_listener_key(struct config *cfg, struct config_listener_lines *lines, size_t i,
                    const char *key, const char *value, int line, char *err, size_t errlen)
{
	struct config_listener *l = &cfg->listeners[i];
	struct config_listener_lines *ll = &lines[i];

	if (strcmp(key, "tls_cert") == 0 || strcmp(key, "tls_key") == 0)
		return tls_file_add(l, key, value, line, err, errlen);

	for (size_t k = 0; k < ARRAY_LEN(listener_keys); k++) {
		if (strcmp(key, listener_keys[k].name) != 0)
			continue;
		if (ll->key[k] != 0) {
			xsnprintf(err, errlen, "duplicate key '%s' (first set on line %d)", key,
			          ll->key[k]);
			return -1;
		}
		ll->key[k] = line;
		if (*value == '\0') {
			xsnprintf(err, errlen, "empty value for %s", key);
			return -1;
		}
		if (k == LK_TRUSTED)
			return trusted_set(l, value, err, errlen);
		if (k == LK_TLS_CIPHERS) {
			l->tls_ciphers = xstrdup(value);
			return 0;
		}
		return config_value_set(l, &listener_keys[k], value, err, errlen);
	}
	if (strcmp(key, "address") != 0) {
		xsnprintf(err, errlen, "unknown key '%s' in [listener %s]", key, l->name);
		return -1;
	}
	if (ll->addr != 0) {
		xsnprintf(err, errlen, "duplicate key 'address' (first set on line %d)", ll->addr);
		return -1;
	}
	ll->addr = -1;                   /* set, even if bad: no "missing" error later */
	if (addr_parse("address", value, &l->addr, err, errlen) < 0)
		return -1;
	ll->addr = line;
	return 0;
}

static void check_error(config_listener_report_fn *report, void *ctx, int line,
                        const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void
check_error(config_listener_report_fn *report, void *ctx, int line, const char *fmt, ...)
{
	char msg[MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	report(ctx, line, msg);
}

/* A listener's TLS keys: whole pairs, only with tls on; then the contexts. */
static void
tls_check(struct config_listener *l, const struct config_listener_lines *ll,
          config_listener_report_fn *report, void *ctx)
{
	const int *line = ll->key;
	int bad = 0;
	char err[MSG_MAX];
	unsigned eline = 0;

	for (size_t j = 0; j < l->ntls_pairs; j++) {
		const struct config_tls_pair *p = &l->tls_pairs[j];
		if (p->cert == NULL || p->key == NULL) {
			check_error(report, ctx, (int)(p->cert ? p->cert_line : p->key_line),
			            "[listener %s]: %s without a matching %s; give tls_cert and "
			            "tls_key in pairs", l->name, p->cert ? "tls_cert" : "tls_key",
			            p->cert ? "tls_key" : "tls_cert");
			bad = 1;
		}
	}
	if (l->tls_mode == CONFIG_TLS_NONE) {
		if (l->ntls_pairs > 0 || line[LK_TLS_CIPHERS] || line[LK_TLS_MIN_VERSION])
			check_error(report, ctx, l->ntls_pairs ? (int)(l->tls_pairs[0].cert_line ?
			            l->tls_pairs[0].cert_line : l->tls_pairs[0].key_line) :
			            line[LK_TLS_CIPHERS] ? line[LK_TLS_CIPHERS] : line[LK_TLS_MIN_VERSION],
			            "[listener %s] has TLS settings but tls = none; set tls = optional, "
			            "required or implicit", l->name);
		return;
	}
	if (l->ntls_pairs == 0) {
		check_error(report, ctx, line[LK_TLS], "[listener %s] has tls = %s but no "
		            "certificate; add tls_cert = FILE and tls_key = FILE", l->name,
		            tls_words[l->tls_mode]);
		return;
	}
	if (bad)
		return;
	l->tls = tls_server_new(l, (unsigned)line[LK_TLS_CIPHERS], err, sizeof(err), &eline);
	if (l->tls == NULL)
		report(ctx, (int)eline, err);
}

void
config_listener_check(struct config *cfg, const struct config_listener_lines *lines, size_t i,
                      config_listener_report_fn *report, void *ctx)
{
	struct config_listener *l = &cfg->listeners[i];

	if (lines[i].addr == 0) {
		check_error(report, ctx, lines[i].decl, "[listener %s] has no address", l->name);
		return;
	}
	for (size_t j = 0; j < i && lines[i].addr > 0; j++)
		if (lines[j].addr > 0 && strcmp(l->addr.text, cfg->listeners[j].addr.text) == 0) {
			check_error(report, ctx, lines[i].addr, "listener address %s is already "
			            "used on line %d", l->addr.text, lines[j].addr);
			break;
		}
	/* The spec: "The receiver MUST be configured to only receive the protocol
	 * ... [and] SHOULD ensure proper access filtering". No default list. */
	if (l->proxy_protocol != 0 && l->ntrusted == 0 && lines[i].key[LK_TRUSTED] == 0)
		check_error(report, ctx, lines[i].key[LK_PROXY_PROTOCOL], "[listener %s] has "
		            "proxy_protocol = %s but no trusted addresses; add trusted = CIDR, "
		            "the load balancers allowed to send PROXY headers", l->name,
		            proxy_protocol_words[l->proxy_protocol]);
	tls_check(l, &lines[i], report, ctx);
	/* Submission means authenticated senders (RFC 6409 4.3) unless said otherwise. */
	if (lines[i].key[LK_AUTH] == 0 && l->role == CONFIG_ROLE_SUBMISSION)
		l->auth = CONFIG_AUTH_REQUIRED;
	if (l->auth == CONFIG_AUTH_REQUIRED && l->tls_mode == CONFIG_TLS_NONE &&
	    l->auth_without_tls == CONFIG_AUTH_PLAIN_NO)
		check_error(report, ctx, lines[i].key[LK_AUTH] ? lines[i].key[LK_AUTH] : lines[i].decl,
		            "[listener %s] requires AUTH but has no TLS, and AUTH is offered only "
		            "under TLS; set tls (and a certificate) or auth_without_tls", l->name);
}

void
config_listener_clear(struct config_listener *l)
{
	free(l->name);
	free(l->trusted);
	for (size_t j = 0; j < l->ntls_pairs; j++) {
		free(l->tls_pairs[j].cert);
		free(l->tls_pairs[j].key);
	}
	free(l->tls_pairs);
	free(l->tls_ciphers);
	tls_server_free(&l->tls);
	memset(l, 0, sizeof(*l));
}
