/* config.c - loading sluice.conf with inih: lines, sections, backends, DNS servers,
 * defaults. Listeners: config_listener.c; [filter NAME] sections: config_filter.c. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ini.h>
#include <openssl/ssl.h>

#include "config.h"
#include "config_filter.h"
#include "config_keys.h"
#include "config_listener.h"
#include "log.h"
#include "tls.h"
#include "util.h"

/* Longer lines are reported, never split: inih would parse the rest as a new line. */
#define CONFIG_MAX_LINE 1024

#define DEFAULT_LISTEN "127.0.0.1:2525"
#define DEFAULT_BACKEND "127.0.0.1:25"

#ifndef PKGLIBDIR
#define PKGLIBDIR "/usr/local/lib/sluice"
#endif

enum section_kind { SEC_NONE, SEC_SLUICE, SEC_LISTENER, SEC_FILTER, SEC_BAD };

/* One load in progress. inih calls the handler for line N after our reader returned
 * line N and before it asks for line N+1, so `lineno` is the handler's line. */
struct load {
	const char *path;
	FILE *errs;
	int nerrors;
	int first_inih_error;            /* first line inih itself counts as bad */

	FILE *fp;                        /* file source, or */
	const char *str;                 /* string source: the unread rest */
	char *buf;
	size_t cap;
	int lineno;

	bool last_is_key;                /* last line must reach the handler */
	bool last_handled;
	bool last_colon;                 /* "key: value", which inih also accepts */

	enum section_kind sec;
	char *sec_text;                  /* "[listener x]" for messages */
	size_t sec_listener;
	size_t sec_filter;
	int seen[CONFIG_NKEYS];
	struct config_listener_lines *llines;  /* parallel to cfg->listeners */
	unsigned nlisten;

	struct config *cfg;
};

static void load_error(struct load *ld, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
load_error(struct load *ld, int line, const char *fmt, ...)
{
	va_list ap;

	ld->nerrors++;
	if (ld->errs == NULL)
		return;
	fprintf(ld->errs, "%s:%d: ", ld->path, line);
	va_start(ap, fmt);
	vfprintf(ld->errs, fmt, ap);
	va_end(ap);
	fputc('\n', ld->errs);
}

/* A handler failure: inih records the first such line; remember it to compare. */
static int
load_fail(struct load *ld)
{
	if (ld->first_inih_error == 0)
		ld->first_inih_error = ld->lineno;
	return 0;
}

/* ---------------------------------------------------------------- listen, backends, dns */

static int
value_listen(struct load *ld, const char *value)
{
	char name[32], err[CONFIG_MAX_LINE + 512];

	xsnprintf(name, sizeof(name), "listen:%u", ld->nlisten + 1);
	if (config_listener_listen(ld->cfg, &ld->llines, name, value, ld->lineno, err,
	                           sizeof(err)) < 0) {
		load_error(ld, ld->lineno, "%s", err);
		return -1;
	}
	ld->nlisten++;
	return 0;
}

static void
backend_add(struct config *cfg, const char *host, const char *port, const struct config_addr *addr)
{
	size_t i = cfg->nbackends++;

	cfg->backends = xrealloc(cfg->backends, cfg->nbackends * sizeof(*cfg->backends));
	cfg->backends[i].host = xstrdup(host);
	cfg->backends[i].port = xstrdup(port);
	cfg->backends[i].addr = *addr;
	cfg->backends[i].identity = CONFIG_IDENTITY_AUTO;
}

/* "HOST:PORT [identity=auto|xclient|xforward|none]" */
static int
value_backend(struct load *ld, const char *value)
{
	static const char *const identity_words[] = { "auto", "xclient", "xforward", "none", NULL };
	struct config_addr addr;
	char host[256], where[CONFIG_MAX_LINE];
	const char *port, *err, *opt = NULL;
	bool bracketed;
	int identity = CONFIG_IDENTITY_AUTO;

	strlcpy_s(where, value, sizeof(where));
	if (strchr(where, ' ') != NULL) {
		char *sp = strchr(where, ' ');
		*sp = '\0';
		for (opt = sp + 1; *opt == ' '; opt++)
			;
		if (strncmp(opt, "identity=", 9) != 0) {
			load_error(ld, ld->lineno, "bad option '%s' for backend: want identity=auto, "
			           "xclient, xforward or none", opt);
			return -1;
		}
		for (identity = 0; identity_words[identity] != NULL; identity++)
			if (strcmp(opt + 9, identity_words[identity]) == 0)
				break;
		if (identity_words[identity] == NULL) {
			load_error(ld, ld->lineno, "bad value '%s' for backend identity: want auto, "
			           "xclient, xforward or none", opt + 9);
			return -1;
		}
	}
	if (config_addr_split(where, host, sizeof(host), &port, &bracketed, &err) < 0 ||
	    config_parse_addr(where, 1, &addr, &err) < 0) {
		load_error(ld, ld->lineno, "bad value '%s' for backend: %s; want HOST:PORT or "
		           "[IPV6]:PORT", where, err);
		return -1;
	}
	backend_add(ld->cfg, host, port, &addr);
	ld->cfg->backends[ld->cfg->nbackends - 1].identity = identity;
	return 0;
}

static int
value_dns(struct load *ld, const char *value)
{
	struct config *cfg = ld->cfg;
	char server[CONFIG_DNS_MAX];
	const char *err;

	if (config_parse_dns(value, server, sizeof(server), &err) < 0) {
		load_error(ld, ld->lineno, "bad value '%s' for dns: %s; want ADDR, ADDR:PORT or "
		           "[IPV6]:PORT, numeric", value, err);
		return -1;
	}
	for (size_t i = 0; i < cfg->ndns_servers; i++)
		if (strcmp(cfg->dns_servers[i], server) == 0) {
			load_error(ld, ld->lineno, "dns server %s is given twice", server);
			return -1;
		}
	cfg->dns_servers = xrealloc(cfg->dns_servers, (cfg->ndns_servers + 1) * sizeof(char *));
	cfg->dns_servers[cfg->ndns_servers++] = xstrdup(server);
	return 0;
}

/* ---------------------------------------------------------------- sections and keys */

static int
sluice_key(struct load *ld, const char *name, const char *value)
{
	const struct config_key *k = NULL;
	char err[CONFIG_MAX_LINE + 512];     /* the value is shorter than a line */
	size_t i;

	for (i = 0; i < CONFIG_NKEYS; i++)
		if (strcmp(name, config_keys[i].name) == 0) {
			k = &config_keys[i];
			break;
		}
	if (k == NULL) {
		load_error(ld, ld->lineno, "unknown key '%s' in %s", name, ld->sec_text);
		return -1;
	}
	if (k->type != KT_LISTEN && k->type != KT_BACKEND && k->type != KT_DNS) {
		if (ld->seen[i] != 0) {
			load_error(ld, ld->lineno, "duplicate key '%s' (first set on line %d)",
			           name, ld->seen[i]);
			return -1;
		}
		ld->seen[i] = ld->lineno;
	}
	if (*value == '\0') {
		load_error(ld, ld->lineno, "empty value for %s", name);
		return -1;
	}

	if (k->type == KT_LISTEN)
		return value_listen(ld, value);
	if (k->type == KT_BACKEND)
		return value_backend(ld, value);
	if (k->type == KT_DNS)
		return value_dns(ld, value);
	if (config_key_set(ld->cfg, k, value, err, sizeof(err)) < 0) {
		load_error(ld, ld->lineno, "%s", err);
		return -1;
	}
	return 0;
}

/* A "[...]" line. inih calls back for keys only, so a section without keys would go
 * unchecked: the reader sees every header and checks it here, by inih's own rule
 * (the name ends at the first ']'; " ;" starts a comment, making the line bad). */
static void
section_open(struct load *ld, const char *line)
{
	const char *p = line + 1, *close, *after;
	char *text, *name;
	size_t n;

	for (close = p; *close && *close != ']'; close++)
		if (*close == ';' && close > p && isspace((unsigned char)close[-1]))
			break;
	if (*close != ']') {
		load_error(ld, ld->lineno, "missing ']' in section header");
		ld->first_inih_error = ld->first_inih_error ? ld->first_inih_error : ld->lineno;
		return;                      /* inih keeps the previous section, so do we */
	}
	p += strspn(p, " \t");
	n = (size_t)(close - p);
	while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
		n--;
	text = xstrndup(p, n);
	name = text + strcspn(text, " \t");
	if (*name != '\0')
		*name++ = '\0';
	name += strspn(name, " \t");

	free(ld->sec_text);
	ld->sec = SEC_BAD;
	after = close + 1 + strspn(close + 1, " \t\r\n");
	if (*after != '\0' && *after != ';' && *after != '#')   /* inih ignores it silently */
		load_error(ld, ld->lineno, "text after ']' in section header");
	if (strcmp(text, "sluice") == 0) {
		ld->sec_text = xstrdup("[sluice]");
		if (*name != '\0')
			load_error(ld, ld->lineno, "section [sluice] takes no name");
		else
			ld->sec = SEC_SLUICE;
	} else if (strcmp(text, "listener") == 0) {
		char buf[CONFIG_MAX_LINE + 16], err[CONFIG_MAX_LINE + 512];

		xsnprintf(buf, sizeof(buf), "[listener %s]", name);
		ld->sec_text = xstrdup(buf);
		if (config_listener_open(ld->cfg, &ld->llines, name, ld->lineno, err,
		                         sizeof(err)) < 0) {
			load_error(ld, ld->lineno, "%s", err);
		} else {
			ld->sec_listener = ld->cfg->nlisteners - 1;
			ld->sec = SEC_LISTENER;
		}
	} else if (strcmp(text, "filter") == 0) {
		char buf[CONFIG_MAX_LINE + 16], err[CONFIG_MAX_LINE + 512];

		xsnprintf(buf, sizeof(buf), "[filter %s]", name);
		ld->sec_text = xstrdup(buf);
		if (config_filter_open(ld->cfg, name, (unsigned)ld->lineno, err, sizeof(err)) < 0) {
			load_error(ld, ld->lineno, "%s", err);
		} else {
			ld->sec_filter = ld->cfg->nfilters - 1;
			ld->sec = SEC_FILTER;
		}
	} else {
		ld->sec_text = xstrndup(line, (size_t)(close - line) + 1);
		load_error(ld, ld->lineno, "unknown section %s", ld->sec_text);
	}
	free(text);
}

static int
load_handler(void *user, const char *section, const char *name, const char *value)
{
	struct load *ld = user;
	int rc = 0;

	(void)section;                   /* tracked in section_open, untruncated */
	ld->last_handled = true;
	if (ld->last_colon) {
		load_error(ld, ld->lineno, "syntax error: missing '=' after the key");
		return load_fail(ld);
	}
	if (*name == '\0') {
		load_error(ld, ld->lineno, "missing key name before '='");
		return load_fail(ld);
	}
	switch (ld->sec) {
	case SEC_NONE:
		load_error(ld, ld->lineno, "key '%s' before any section; put it under [sluice]",
		           name);
		rc = -1;
		break;
	case SEC_BAD:
		return 1;                    /* the section header was reported already */
	case SEC_SLUICE:
		rc = sluice_key(ld, name, value);
		break;
	case SEC_LISTENER: {
		char err[CONFIG_MAX_LINE + 512];

		rc = config_listener_key(ld->cfg, ld->llines, ld->sec_listener, name, value,
		                         ld->lineno, err, sizeof(err));
		if (rc < 0)
			load_error(ld, ld->lineno, "%s", err);
		break;
	}
	case SEC_FILTER: {
		char err[CONFIG_MAX_LINE + 512];

		rc = config_filter_key(&ld->cfg->filters[ld->sec_filter], name, value,
		                       (unsigned)ld->lineno, err, sizeof(err));
		if (rc < 0)
			load_error(ld, ld->lineno, "%s", err);
		break;
	}
	}
	return rc < 0 ? load_fail(ld) : 1;
}

/* ---------------------------------------------------------------- reading lines */

/* Next physical line into ld->buf, NUL-terminated; its length, or -1 at the end. */
static ssize_t
source_next(struct load *ld)
{
	size_t n;

	if (ld->fp != NULL)
		return getline(&ld->buf, &ld->cap, ld->fp);
	if (*ld->str == '\0')
		return -1;
	n = strcspn(ld->str, "\n");
	if (ld->str[n] == '\n')
		n++;
	if (n + 1 > ld->cap) {
		ld->cap = n + 1;
		ld->buf = xrealloc(ld->buf, ld->cap);
	}
	memcpy(ld->buf, ld->str, n);
	ld->buf[n] = '\0';
	ld->str += n;
	return (ssize_t)n;
}

/* inih has finished with the last line: a key line it never handed to the handler
 * is one it could not parse (no '=' before a comment). */
static void
line_done(struct load *ld)
{
	if (ld->last_is_key && !ld->last_handled) {
		load_error(ld, ld->lineno, "syntax error: want 'key = value' or '[section]'");
		if (ld->first_inih_error == 0)
			ld->first_inih_error = ld->lineno;
	}
	ld->last_is_key = false;
}

/* The fgets-style reader inih pulls lines through. Always one whole line per call,
 * so our count and inih's agree. */
static char *
load_reader(char *str, int num, void *stream)
{
	struct load *ld = stream;
	const char *p;
	ssize_t n;

	line_done(ld);
	n = source_next(ld);
	if (n < 0)
		return NULL;
	ld->lineno++;
	ld->last_handled = false;
	ld->last_colon = false;
	if (n >= num || memchr(ld->buf, '\0', (size_t)n) != NULL) {
		if (n >= num)
			load_error(ld, ld->lineno, "line too long (over %d characters)", num - 2);
		else
			load_error(ld, ld->lineno, "NUL character in line");
		strlcpy_s(str, "\n", (size_t)num);   /* inih sees an empty line */
		return str;
	}
	memcpy(str, ld->buf, (size_t)n + 1);

	p = ld->buf;
	if (ld->lineno == 1 && strncmp(p, "\xEF\xBB\xBF", 3) == 0)
		p += 3;                      /* inih skips a UTF-8 BOM on line 1 too */
	while (isspace((unsigned char)*p))
		p++;
	if (*p == '\0' || *p == ';' || *p == '#')
		return str;
	if (*p == '[') {
		section_open(ld, p);
		return str;
	}
	ld->last_is_key = true;
	ld->last_colon = p[strcspn(p, "=:")] == ':';
	return str;
}

/* ---------------------------------------------------------------- load */

static struct config *
config_new_defaults(const char *path)
{
	struct config *cfg = xcalloc(1, sizeof(*cfg));

	cfg->path = xstrdup(path);
	cfg->workers = 0;
	cfg->max_message_size = (size_t)25 << 20;
	cfg->max_recipients = 1000;
	cfg->max_connections = 1000;
	cfg->max_connections_per_ip = 20;
	cfg->max_errors = 10;
	cfg->timeout_command = 300 * 1000;
	cfg->timeout_data = 180 * 1000;
	cfg->min_data_rate = 500;
	cfg->greet_pause = 0;
	cfg->xclient = CONFIG_XCLIENT_AUTO;
	cfg->bare_newline = CONFIG_BARE_NEWLINE_REJECT;
	cfg->spool_dir = xstrdup("/var/spool/sluice");
	cfg->spool_memory = (size_t)128 << 10;
	cfg->backend_timeout_connect = 30 * 1000;
	cfg->backend_timeout_command = 300 * 1000;
	cfg->backend_timeout_data_end = 600 * 1000;
	cfg->backend_retry = 10 * 1000;
	cfg->backend_probe_interval = 60 * 1000;
	cfg->auth_fail_limit = 5;
	cfg->auth_fail_window = 15 * 60 * 1000;
	cfg->auth_fail_delay = 1000;
	cfg->backend_pool = 8;
	cfg->backend_idle_timeout = 10 * 1000;
	cfg->backend_tls = CONFIG_BACKEND_TLS_NO;
	cfg->backend_tls_verify = 1;
	cfg->shutdown_timeout = 30 * 1000;
	cfg->log_level = LOG_LEVEL_INFO;
	cfg->filter_dir = xstrdup(PKGLIBDIR);
	cfg->dns_timeout = 5 * 1000;
	cfg->work_threads = 4;
	cfg->score_header = xstrdup("");
	cfg->quarantine_header = xstrdup("X-Sluice-Quarantine");
	return cfg;
}

/* A problem config_listener_check found (config_listener_report_fn). */
static void
listener_report(void *ctx, int line, const char *msg)
{
	load_error(ctx, line, "%s", msg);
}

/* The backend leg's TLS context (tls.h), with the CA file read now. */
static void
backend_tls_finish(struct load *ld)
{
	char err[CONFIG_MAX_LINE + 512];
	int line = 0;

	for (size_t i = 0; i < CONFIG_NKEYS; i++)
		if (strcmp(config_keys[i].name, ld->cfg->backend_tls_ca ? "backend_tls_ca" :
		                                "backend_tls") == 0)
			line = ld->seen[i];
	ld->cfg->backend_tls_ctx = tls_client_ctx_new(ld->cfg->backend_tls_ca, err, sizeof(err));
	if (ld->cfg->backend_tls_ctx == NULL)
		load_error(ld, line, "%s", err);
}

/* Checks across lines, then the defaults that depend on what was given. */
static void
load_finish(struct load *ld)
{
	struct config *cfg = ld->cfg;
	struct config_addr addr;
	const char *err;

	for (size_t i = 0; i < cfg->nlisteners; i++)
		config_listener_check(cfg, ld->llines, i, listener_report, ld);
	for (size_t i = 0; i < cfg->nfilters; i++) {
		char msg[CONFIG_MAX_LINE + 512];

		if (config_filter_check(&cfg->filters[i], msg, sizeof(msg)) < 0)
			load_error(ld, (int)cfg->filters[i].line, "%s", msg);
	}
	if (cfg->nlisteners == 0) {
		char msg[CONFIG_MAX_LINE + 512];

		(void)config_listener_listen(cfg, &ld->llines, "listen:1", DEFAULT_LISTEN, 0,
		                             msg, sizeof(msg));   /* a constant: never fails */
	}
	if (cfg->nbackends == 0 && config_parse_addr(DEFAULT_BACKEND, 0, &addr, &err) == 0)
		backend_add(cfg, "127.0.0.1", "25", &addr);
	if (cfg->hostname == NULL) {
		char host[256] = "";

		if (gethostname(host, sizeof(host) - 1) != 0 || host[0] == '\0')
			strlcpy_s(host, "localhost", sizeof(host));
		cfg->hostname = xstrdup(host);
	}
	if (cfg->authserv_id == NULL)
		cfg->authserv_id = xstrdup(cfg->hostname);
	if (cfg->backend_tls != CONFIG_BACKEND_TLS_NO && ld->nerrors == 0)
		backend_tls_finish(ld);
}

/* inih's options are process globals: set ours for the parse, then put them back.
 * Multi-line values are off: a continuation line would call the handler again for
 * the previous key, which reads as a duplicate key or an extra listen/backend. */
static int
load_run(struct load *ld, struct config **cfg_r)
{
	static char comment_start[] = ";#", comment_inline[] = ";";
	bool multiline = ini_allow_multiline, bom = ini_allow_bom;
	bool inline_comments = ini_allow_inline_comments, use_stack = ini_use_stack;
	bool stop_first = ini_stop_on_first_error, no_value = ini_allow_no_value;
	char *starts = ini_start_comment_prefixes, *inlines = ini_inline_comment_prefixes;
	int max_line = ini_max_line, rc;

	ini_allow_multiline = false;
	ini_allow_bom = true;
	ini_allow_inline_comments = true;
	ini_inline_comment_prefixes = comment_inline;
	ini_start_comment_prefixes = comment_start;
	ini_use_stack = true;
	ini_max_line = CONFIG_MAX_LINE;
	ini_stop_on_first_error = false;
	ini_allow_no_value = false;
	rc = ini_parse_stream(load_reader, ld, load_handler, ld);
	ini_allow_multiline = multiline;
	ini_allow_bom = bom;
	ini_allow_inline_comments = inline_comments;
	ini_inline_comment_prefixes = inlines;
	ini_start_comment_prefixes = starts;
	ini_use_stack = use_stack;
	ini_max_line = max_line;
	ini_stop_on_first_error = stop_first;
	ini_allow_no_value = no_value;

	if (ld->fp != NULL && ferror(ld->fp))
		load_error(ld, ld->lineno, "read error: %s", strerror(errno));
	if (rc > 0 && rc != ld->first_inih_error)
		load_error(ld, rc, "syntax error");  /* a case the checks above missed */
	else if (rc < 0)
		load_error(ld, 0, "cannot parse (inih error %d)", rc);
	load_finish(ld);

	free(ld->buf);
	free(ld->sec_text);
	free(ld->llines);
	if (ld->nerrors > 0)
		config_free(&ld->cfg);
	*cfg_r = ld->cfg;
	return ld->nerrors;
}

static void
load_init(struct load *ld, const char *path, FILE *errs)
{
	memset(ld, 0, sizeof(*ld));
	ld->path = path;
	ld->errs = errs;
	ld->sec = SEC_NONE;
	ld->cfg = config_new_defaults(path);
}

int
config_load(const char *path, FILE *errs, struct config **cfg_r)
{
	struct load ld;
	int rc;

	*cfg_r = NULL;
	load_init(&ld, path, errs);
	ld.fp = fopen(path, "r");
	if (ld.fp == NULL) {
		load_error(&ld, 0, "cannot open: %s", strerror(errno));
		config_free(&ld.cfg);
		return ld.nerrors;
	}
	rc = load_run(&ld, cfg_r);
	fclose(ld.fp);
	return rc;
}

int
config_load_string(const char *text, const char *path, FILE *errs, struct config **cfg_r)
{
	struct load ld;

	*cfg_r = NULL;
	load_init(&ld, path, errs);
	ld.str = text;
	return load_run(&ld, cfg_r);
}

void
config_free(struct config **cfgp)
{
	struct config *cfg = *cfgp;

	if (cfg == NULL)
		return;
	for (size_t i = 0; i < cfg->nlisteners; i++)
		config_listener_clear(&cfg->listeners[i]);
	free(cfg->listeners);
	for (size_t i = 0; i < cfg->nbackends; i++) {
		free(cfg->backends[i].host);
		free(cfg->backends[i].port);
	}
	free(cfg->backends);
	free(cfg->hostname);
	free(cfg->spool_dir);
	for (size_t i = 0; i < cfg->nfilters; i++)
		config_filter_clear(&cfg->filters[i]);
	free(cfg->filters);
	free(cfg->filter_dir);
	for (size_t i = 0; i < cfg->ndns_servers; i++)
		free(cfg->dns_servers[i]);
	free(cfg->dns_servers);
	free(cfg->dns_local_data);
	free(cfg->score_header);
	free(cfg->authserv_id);
	free(cfg->quarantine_header);
	free(cfg->quarantine_rcpt);
	free(cfg->backend_tls_ca);
	SSL_CTX_free(cfg->backend_tls_ctx);
	free(cfg->path);
	free(cfg);
	*cfgp = NULL;
}
