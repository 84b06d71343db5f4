/* config.c - sluice.conf (INI, parsed by inih) into one immutable struct. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ini.h>

#include "config.h"
#include "log.h"
#include "util.h"

/* Longer lines are reported, never split: inih would parse the rest as a new line. */
#define CONFIG_MAX_LINE 1024

#define DEFAULT_LISTEN "127.0.0.1:2525"
#define DEFAULT_BACKEND "127.0.0.1:25"

enum key_type {
	KT_LISTEN, KT_BACKEND, KT_HOSTNAME, KT_PATH, KT_WORKERS, KT_UINT, KT_SIZE,
	KT_DURATION, KT_ENUM, KT_LOGLEVEL,
};

struct key {
	const char *name;
	enum key_type type;
	size_t off;                      /* field in struct config */
	unsigned long long min;          /* in the stored unit (octets, ms) */
	const char *const *words;        /* KT_ENUM: index = enum value */
	const char *why;                 /* said when the value is below min */
};

static const char *const xclient_words[] = { "auto", "yes", "no", NULL };
static const char *const bare_newline_words[] = { "reject", "normalize", NULL };

#define F(field) offsetof(struct config, field)
static const struct key sluice_keys[] = {
	{ "listen", KT_LISTEN, 0, 0, NULL, NULL },
	{ "backend", KT_BACKEND, 0, 0, NULL, NULL },
	{ "hostname", KT_HOSTNAME, F(hostname), 0, NULL, NULL },
	{ "workers", KT_WORKERS, F(workers), 1, NULL, NULL },
	{ "max_message_size", KT_SIZE, F(max_message_size), 1, NULL, NULL },
	{ "max_recipients", KT_UINT, F(max_recipients), 100, NULL,
	  "RFC 5321 section 4.5.3.1.8 requires accepting at least 100 recipients" },
	{ "max_connections", KT_UINT, F(max_connections), 1, NULL, NULL },
	{ "max_connections_per_ip", KT_UINT, F(max_connections_per_ip), 1, NULL, NULL },
	{ "max_errors", KT_UINT, F(max_errors), 1, NULL, NULL },
	{ "timeout_command", KT_DURATION, F(timeout_command), 1, NULL, NULL },
	{ "timeout_data", KT_DURATION, F(timeout_data), 1, NULL, NULL },
	{ "greet_pause", KT_DURATION, F(greet_pause), 0, NULL, NULL },
	{ "min_data_rate", KT_UINT, F(min_data_rate), 0, NULL, NULL },
	{ "xclient", KT_ENUM, F(xclient), 0, xclient_words, NULL },
	{ "bare_newline", KT_ENUM, F(bare_newline), 0, bare_newline_words, NULL },
	{ "spool_dir", KT_PATH, F(spool_dir), 0, NULL, NULL },
	{ "spool_memory", KT_SIZE, F(spool_memory), 0, NULL, NULL },
	{ "backend_timeout_connect", KT_DURATION, F(backend_timeout_connect), 1, NULL, NULL },
	{ "backend_timeout_command", KT_DURATION, F(backend_timeout_command), 1, NULL, NULL },
	{ "backend_timeout_data_end", KT_DURATION, F(backend_timeout_data_end), 1, NULL, NULL },
	{ "backend_retry", KT_DURATION, F(backend_retry), 0, NULL, NULL },
	{ "backend_probe_interval", KT_DURATION, F(backend_probe_interval), 1, NULL, NULL },
	{ "shutdown_timeout", KT_DURATION, F(shutdown_timeout), 0, NULL, NULL },
	{ "log_level", KT_LOGLEVEL, F(log_level), 0, NULL, NULL },
};
#undef F

/* Enum fields are written through int; make sure that is their size. */
_Static_assert(sizeof(enum config_xclient) == sizeof(int), "enum size");
_Static_assert(sizeof(enum config_bare_newline) == sizeof(int), "enum size");

enum section_kind { SEC_NONE, SEC_SLUICE, SEC_LISTENER, SEC_BAD };

/* Lines of each listener, parallel to cfg->listeners (not part of the public struct). */
struct listener_lines {
	int decl;                        /* `listen =` line or [listener] header */
	int addr;                        /* line of its address; 0 = none yet */
};

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
	int seen[ARRAY_LEN(sluice_keys)];
	struct listener_lines *llines;
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

/* ---------------------------------------------------------------- addresses */

void
config_addr_format(const struct sockaddr *sa, char *buf, size_t len)
{
	char host[NI_MAXHOST], serv[NI_MAXSERV];
	socklen_t salen;

	if (sa->sa_family == AF_INET)
		salen = sizeof(struct sockaddr_in);
	else if (sa->sa_family == AF_INET6)
		salen = sizeof(struct sockaddr_in6);
	else {
		strlcpy_s(buf, "?", len);
		return;
	}
	if (getnameinfo(sa, salen, host, sizeof(host), serv, sizeof(serv),
	                NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
		strlcpy_s(buf, "?", len);
		return;
	}
	if (sa->sa_family == AF_INET6)
		xsnprintf(buf, len, "[%s]:%s", host, serv);
	else
		xsnprintf(buf, len, "%s:%s", host, serv);
}

static bool
port_valid(const char *s)
{
	unsigned long v = 0;

	if (*s == '\0' || strlen(s) > 5)
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return false;
		v = v * 10 + (unsigned long)(*s - '0');
	}
	return v >= 1 && v <= 65535;
}

/* RFC 1123 host name: dot-separated labels of letters, digits and inner hyphens. */
static bool
hostname_valid(const char *s)
{
	size_t label = 0, total = strlen(s);

	if (total == 0 || total > 253)
		return false;
	for (const char *p = s; ; p++) {
		if (*p == '.' || *p == '\0') {
			if (label == 0 || label > 63 || p[-1] == '-')
				return false;
			if (*p == '\0')
				return true;
			label = 0;
			continue;
		}
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || (*p == '-' && label > 0)))
			return false;
		label++;
	}
}

static int
addr_resolve(const char *host, const char *port, int flags, struct config_addr *addr_r,
             const char **err_r)
{
	struct addrinfo hints, *res;
	int rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = flags | AI_NUMERICSERV;
	rc = getaddrinfo(host, port, &hints, &res);
	if (rc != 0) {
		*err_r = rc == EAI_SYSTEM ? "cannot resolve the host name" : gai_strerror(rc);
		return -1;
	}
	memset(addr_r, 0, sizeof(*addr_r));
	memcpy(&addr_r->ss, res->ai_addr, res->ai_addrlen);
	addr_r->len = res->ai_addrlen;
	freeaddrinfo(res);
	config_addr_format((struct sockaddr *)&addr_r->ss, addr_r->text, sizeof(addr_r->text));
	return 0;
}

/* Split into host and port in caller buffers; brackets are removed from IPv6. */
static int
addr_split(const char *s, char *host, size_t hostlen, const char **port_r, bool *bracketed_r,
           const char **err_r)
{
	const char *colon;
	size_t n;

	*bracketed_r = s[0] == '[';
	if (*bracketed_r) {
		const char *close = strchr(s, ']');

		if (close == NULL) {
			*err_r = "missing ']' after the IPv6 address";
			return -1;
		}
		if (close[1] != ':') {
			*err_r = "missing ':PORT' after ']'";
			return -1;
		}
		n = (size_t)(close - s - 1);
		colon = close + 1;
		s++;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL) {
			*err_r = "missing ':PORT'";
			return -1;
		}
		n = (size_t)(colon - s);
		if (memchr(s, ':', n) != NULL) {
			*err_r = "an IPv6 address must be in brackets, as in [::1]:25";
			return -1;
		}
	}
	if (n == 0) {
		*err_r = "missing address before ':PORT'";
		return -1;
	}
	if (n >= hostlen) {
		*err_r = "address too long";
		return -1;
	}
	memcpy(host, s, n);
	host[n] = '\0';
	*port_r = colon + 1;
	if (!port_valid(*port_r)) {
		*err_r = "port must be a number from 1 to 65535";
		return -1;
	}
	return 0;
}

int
config_parse_addr(const char *s, int allow_names, struct config_addr *addr_r, const char **err_r)
{
	char host[256];
	const char *port;
	bool bracketed;
	struct in_addr in4;

	if (addr_split(s, host, sizeof(host), &port, &bracketed, err_r) < 0)
		return -1;
	if (bracketed) {
		/* getaddrinfo rather than inet_pton: it keeps a %scope for link-local. */
		if (strchr(host, ':') == NULL ||
		    addr_resolve(host, port, AI_NUMERICHOST, addr_r, err_r) < 0 ||
		    addr_r->ss.ss_family != AF_INET6) {
			*err_r = "not an IPv6 address inside [ ]";
			return -1;
		}
		return 0;
	}
	/* inet_pton, not getaddrinfo: it refuses inet_aton's "127.1" and "0x7f.1". */
	if (inet_pton(AF_INET, host, &in4) == 1)
		return addr_resolve(host, port, AI_NUMERICHOST, addr_r, err_r);
	if (!allow_names) {
		*err_r = "not a numeric IPv4 address (names are not allowed here)";
		return -1;
	}
	if (!hostname_valid(host) || strspn(host, "0123456789.") == strlen(host)) {
		*err_r = "not an IPv4 address or a host name";
		return -1;
	}
	return addr_resolve(host, port, 0, addr_r, err_r);
}

/* ---------------------------------------------------------------- values */

/* Decimal digits into *v; *end_r at the first non-digit. -1 no digits, -2 overflow. */
static int
number_parse(const char *s, unsigned long long *v, const char **end_r)
{
	unsigned long long n = 0;
	const char *p = s;
	bool overflow = false;

	for (; *p >= '0' && *p <= '9'; p++) {
		unsigned d = (unsigned)(*p - '0');

		if (n > (ULLONG_MAX - d) / 10)
			overflow = true;
		else
			n = n * 10 + d;
	}
	*end_r = p;
	*v = n;
	return p == s ? -1 : overflow ? -2 : 0;
}

/* Number with a unit suffix; the table maps suffix -> multiplier. -1 bad, -2 too large. */
struct suffix { const char *text; unsigned long long mult; };

static int
scaled_parse(const char *s, const struct suffix *sfx, size_t nsfx,
             unsigned long long max, unsigned long long *v_r)
{
	unsigned long long n;
	const char *end;
	int rc = number_parse(s, &n, &end);

	if (rc == -1)
		return -1;
	for (size_t i = 0; i < nsfx; i++) {
		if (strcmp(end, sfx[i].text) != 0)
			continue;
		if (rc == -2 || n > max / sfx[i].mult)
			return -2;
		*v_r = n * sfx[i].mult;
		return 0;
	}
	return -1;
}

static const struct suffix size_suffixes[] = {
	{ "", 1 }, { "k", 1ULL << 10 }, { "K", 1ULL << 10 }, { "m", 1ULL << 20 },
	{ "M", 1ULL << 20 }, { "g", 1ULL << 30 }, { "G", 1ULL << 30 },
};

/* Bare number = seconds; everything is stored in milliseconds. */
static const struct suffix duration_suffixes[] = {
	{ "", 1000 }, { "ms", 1 }, { "s", 1000 }, { "m", 60 * 1000 }, { "h", 3600 * 1000 },
};

static void
bad_value(struct load *ld, const struct key *k, const char *value, const char *want)
{
	load_error(ld, ld->lineno, "bad value '%s' for %s: want %s", value, k->name, want);
}

static void
set_uint(struct config *cfg, const struct key *k, unsigned v)
{
	memcpy((char *)cfg + k->off, &v, sizeof(v));
}

static void
set_int(struct config *cfg, const struct key *k, int v)
{
	memcpy((char *)cfg + k->off, &v, sizeof(v));
}

static void
set_string(struct config *cfg, const struct key *k, const char *v)
{
	char **field = (char **)((char *)cfg + k->off);

	free(*field);
	*field = xstrdup(v);
}

static int
value_number(struct load *ld, const struct key *k, const char *value)
{
	unsigned long long v, max = k->type == KT_SIZE ? SIZE_MAX : UINT_MAX;
	char want[200];
	int rc;

	switch (k->type) {
	case KT_SIZE:
		rc = scaled_parse(value, size_suffixes, ARRAY_LEN(size_suffixes), max, &v);
		xsnprintf(want, sizeof(want), "a size in octets%s, with an optional k, m or g "
		          "suffix (binary multiples), e.g. 25m", k->min ? " above 0" : "");
		break;
	case KT_DURATION:
		rc = scaled_parse(value, duration_suffixes, ARRAY_LEN(duration_suffixes), max, &v);
		xsnprintf(want, sizeof(want), "a duration%s: an integer with an optional ms, s, m "
		          "or h suffix (a bare number is seconds), e.g. 30s", k->min ? " above 0" : "");
		break;
	default:
		rc = scaled_parse(value, size_suffixes, 1, max, &v);
		if (k->why != NULL)
			xsnprintf(want, sizeof(want), "an integer of at least %llu: %s", k->min, k->why);
		else
			xsnprintf(want, sizeof(want), "an integer of at least %llu", k->min);
		break;
	}
	if (rc == -2) {
		load_error(ld, ld->lineno, "value '%s' for %s is too large: at most %llu%s", value,
		           k->name, k->type == KT_DURATION ? max / 1000 : max,
		           k->type == KT_DURATION ? " s" : k->type == KT_SIZE ? " octets" : "");
		return -1;
	}
	if (rc < 0 || v < k->min) {
		bad_value(ld, k, value, want);
		return -1;
	}
	if (k->type == KT_SIZE) {
		size_t sz = (size_t)v;

		memcpy((char *)ld->cfg + k->off, &sz, sizeof(sz));
	} else
		set_uint(ld->cfg, k, (unsigned)v);
	return 0;
}

/* One of k->words; the enum value is its index. */
static int
value_word(struct load *ld, const struct key *k, const char *value)
{
	char want[100] = "";
	int v;

	for (v = 0; k->words[v] != NULL; v++)
		if (strcmp(value, k->words[v]) == 0) {
			set_int(ld->cfg, k, v);
			return 0;
		}
	for (v = 0; k->words[v] != NULL; v++)       /* "a, b or c" */
		xsnprintf(want + strlen(want), sizeof(want) - strlen(want), "%s%s",
		          v == 0 ? "" : k->words[v + 1] ? ", " : " or ", k->words[v]);
	bad_value(ld, k, value, want);
	return -1;
}

/* ---------------------------------------------------------------- listeners, backends */

static struct config_listener *
listener_add(struct load *ld, const char *name, int line)
{
	struct config *cfg = ld->cfg;
	size_t i = cfg->nlisteners++;

	cfg->listeners = xrealloc(cfg->listeners, cfg->nlisteners * sizeof(*cfg->listeners));
	ld->llines = xrealloc(ld->llines, cfg->nlisteners * sizeof(*ld->llines));
	memset(&cfg->listeners[i], 0, sizeof(cfg->listeners[i]));
	cfg->listeners[i].name = xstrdup(name);
	ld->llines[i].decl = line;
	ld->llines[i].addr = 0;
	return &cfg->listeners[i];
}

static int
listener_addr(struct load *ld, const char *key, const char *value, struct config_addr *addr_r)
{
	const char *err;

	if (config_parse_addr(value, 0, addr_r, &err) == 0)
		return 0;
	load_error(ld, ld->lineno, "bad value '%s' for %s: %s; want ADDR:PORT with a numeric "
	           "IPv4 address or [IPV6]:PORT", value, key, err);
	return -1;
}

static int
value_listen(struct load *ld, const char *value)
{
	struct config_addr addr;
	char name[32];

	if (listener_addr(ld, "listen", value, &addr) < 0)
		return -1;
	xsnprintf(name, sizeof(name), "listen:%u", ++ld->nlisten);
	listener_add(ld, name, ld->lineno)->addr = addr;
	ld->llines[ld->cfg->nlisteners - 1].addr = ld->lineno;
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
}

static int
value_backend(struct load *ld, const char *value)
{
	struct config_addr addr;
	char host[256];
	const char *port, *err;
	bool bracketed;

	if (addr_split(value, host, sizeof(host), &port, &bracketed, &err) < 0 ||
	    config_parse_addr(value, 1, &addr, &err) < 0) {
		load_error(ld, ld->lineno, "bad value '%s' for backend: %s; want HOST:PORT or "
		           "[IPV6]:PORT", value, err);
		return -1;
	}
	backend_add(ld->cfg, host, port, &addr);
	return 0;
}

/* ---------------------------------------------------------------- sections and keys */

static int
sluice_key(struct load *ld, const char *name, const char *value)
{
	const struct key *k = NULL;
	size_t i;
	int v;

	for (i = 0; i < ARRAY_LEN(sluice_keys); i++)
		if (strcmp(name, sluice_keys[i].name) == 0) {
			k = &sluice_keys[i];
			break;
		}
	if (k == NULL) {
		load_error(ld, ld->lineno, "unknown key '%s' in %s", name, ld->sec_text);
		return -1;
	}
	if (k->type != KT_LISTEN && k->type != KT_BACKEND) {
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

	switch (k->type) {
	case KT_LISTEN:
		return value_listen(ld, value);
	case KT_BACKEND:
		return value_backend(ld, value);
	case KT_HOSTNAME:
		if (!hostname_valid(value)) {
			bad_value(ld, k, value, "a fully qualified host name such as mail.example.org");
			return -1;
		}
		set_string(ld->cfg, k, value);
		return 0;
	case KT_PATH:
		if (value[0] != '/') {
			bad_value(ld, k, value, "an absolute path");
			return -1;
		}
		set_string(ld->cfg, k, value);
		return 0;
	case KT_WORKERS:
		if (strcmp(value, "auto") == 0) {
			set_uint(ld->cfg, k, 0);
			return 0;
		} else {
			unsigned long long n;
			const char *end;

			if (number_parse(value, &n, &end) != 0 || *end != '\0' || n < 1 || n > 64) {
				bad_value(ld, k, value, "'auto' or an integer from 1 to 64");
				return -1;
			}
			set_uint(ld->cfg, k, (unsigned)n);
			return 0;
		}
	case KT_UINT:
	case KT_SIZE:
	case KT_DURATION:
		return value_number(ld, k, value);
	case KT_ENUM:
		return value_word(ld, k, value);
	case KT_LOGLEVEL:
		v = log_level_parse(value);
		if (v < 0) {
			bad_value(ld, k, value, "error, warning, info or debug");
			return -1;
		}
		set_int(ld->cfg, k, v);
		return 0;
	}
	return -1;
}

static int
listener_key(struct load *ld, const char *name, const char *value)
{
	size_t i = ld->sec_listener;

	if (strcmp(name, "address") != 0) {
		load_error(ld, ld->lineno, "unknown key '%s' in %s", name, ld->sec_text);
		return -1;
	}
	if (ld->llines[i].addr != 0) {
		load_error(ld, ld->lineno, "duplicate key 'address' (first set on line %d)",
		           ld->llines[i].addr);
		return -1;
	}
	ld->llines[i].addr = -1;         /* set, even if bad: no "missing" error later */
	if (listener_addr(ld, "address", value, &ld->cfg->listeners[i].addr) < 0)
		return -1;
	ld->llines[i].addr = ld->lineno;
	return 0;
}

static bool
name_valid(const char *s)
{
	return *s != '\0' && strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                               "0123456789-_.") == strlen(s);
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
		char buf[CONFIG_MAX_LINE + 16];

		xsnprintf(buf, sizeof(buf), "[listener %s]", name);
		ld->sec_text = xstrdup(buf);
		if (!name_valid(name)) {
			load_error(ld, ld->lineno, "%s", *name == '\0' ?
			           "section [listener] needs a name: [listener NAME]" :
			           "listener name may contain only letters, digits, '-', '_' and '.'");
		} else {
			for (size_t i = 0; i < ld->cfg->nlisteners; i++)
				if (strcmp(ld->cfg->listeners[i].name, name) == 0) {
					load_error(ld, ld->lineno, "duplicate section [listener %s] "
					           "(first on line %d)", name, ld->llines[i].decl);
					goto out;
				}
			listener_add(ld, name, ld->lineno);
			ld->sec_listener = ld->cfg->nlisteners - 1;
			ld->sec = SEC_LISTENER;
		}
	} else {
		ld->sec_text = xstrndup(line, (size_t)(close - line) + 1);
		load_error(ld, ld->lineno, "unknown section %s", ld->sec_text);
	}
out:
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
	case SEC_LISTENER:
		rc = listener_key(ld, name, value);
		break;
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
	cfg->shutdown_timeout = 30 * 1000;
	cfg->log_level = LOG_LEVEL_INFO;
	return cfg;
}

/* Checks across lines, then the defaults that depend on what was given. */
static void
load_finish(struct load *ld)
{
	struct config *cfg = ld->cfg;
	struct config_addr addr;
	const char *err;

	for (size_t i = 0; i < cfg->nlisteners; i++) {
		if (ld->llines[i].addr == 0) {
			load_error(ld, ld->llines[i].decl, "[listener %s] has no address",
			           cfg->listeners[i].name);
			continue;
		}
		for (size_t j = 0; j < i && ld->llines[i].addr > 0; j++)
			if (ld->llines[j].addr > 0 &&
			    strcmp(cfg->listeners[i].addr.text, cfg->listeners[j].addr.text) == 0) {
				load_error(ld, ld->llines[i].addr, "listener address %s is already "
				           "used on line %d", cfg->listeners[i].addr.text,
				           ld->llines[j].addr);
				break;
			}
	}
	if (cfg->nlisteners == 0 && config_parse_addr(DEFAULT_LISTEN, 0, &addr, &err) == 0)
		listener_add(ld, "listen:1", 0)->addr = addr;
	if (cfg->nbackends == 0 && config_parse_addr(DEFAULT_BACKEND, 0, &addr, &err) == 0)
		backend_add(cfg, "127.0.0.1", "25", &addr);
	if (cfg->hostname == NULL) {
		char host[256] = "";

		if (gethostname(host, sizeof(host) - 1) != 0 || host[0] == '\0')
			strlcpy_s(host, "localhost", sizeof(host));
		cfg->hostname = xstrdup(host);
	}
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
		free(cfg->listeners[i].name);
	free(cfg->listeners);
	for (size_t i = 0; i < cfg->nbackends; i++) {
		free(cfg->backends[i].host);
		free(cfg->backends[i].port);
	}
	free(cfg->backends);
	free(cfg->hostname);
	free(cfg->spool_dir);
	free(cfg->path);
	free(cfg);
	*cfgp = NULL;
}
