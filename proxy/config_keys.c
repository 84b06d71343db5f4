/* config_keys.c - the [sluice] key table and its value parsers (sizes, durations, words). */
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <errno.h>

#include "config_keys.h"
#include "smtp_path.h"
#include "log.h"
#include "util.h"

static const char *const xclient_words[] = { "auto", "yes", "no", NULL };
static const char *const bare_newline_words[] = { "reject", "normalize", NULL };
static const char *const backend_tls_words[] = { "no", "opportunistic", "required", NULL };
static const char *const no_yes_words[] = { "no", "yes", NULL };

#define F(field) offsetof(struct config, field)
const struct config_key config_keys[] = {
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
	{ "auth_fail_limit", KT_UINT, F(auth_fail_limit), 0, NULL, NULL },
	{ "auth_fail_window", KT_DURATION, F(auth_fail_window), 1, NULL, NULL },
	{ "auth_fail_delay", KT_DURATION, F(auth_fail_delay), 0, NULL, NULL },
	{ "backend_pool", KT_UINT, F(backend_pool), 0, NULL, NULL },
	{ "backend_idle_timeout", KT_DURATION, F(backend_idle_timeout), 1, NULL, NULL },
	{ "backend_tls", KT_ENUM, F(backend_tls), 0, backend_tls_words, NULL },
	{ "backend_tls_ca", KT_FILE, F(backend_tls_ca), 0, NULL, NULL },
	{ "backend_tls_verify", KT_ENUM, F(backend_tls_verify), 0, no_yes_words, NULL },
	{ "shutdown_timeout", KT_DURATION, F(shutdown_timeout), 0, NULL, NULL },
	{ "log_level", KT_LOGLEVEL, F(log_level), 0, NULL, NULL },
	{ "filter_dir", KT_PATH, F(filter_dir), 0, NULL, NULL },
	{ "work_threads", KT_UINT, F(work_threads), 1, NULL, NULL },
	{ "dns", KT_DNS, 0, 0, NULL, NULL },
	{ "dns_timeout", KT_DURATION, F(dns_timeout), 1, NULL, NULL },
	{ "dns_local_data", KT_FILE, F(dns_local_data), 0, NULL, NULL },
	{ "score_header", KT_HEADER, F(score_header), 0, NULL, NULL },
	{ "quarantine_header", KT_HEADER, F(quarantine_header), 0, NULL, NULL },
	{ "quarantine_rcpt", KT_MAILBOX, F(quarantine_rcpt), 0, NULL, NULL },
	{ "authserv_id", KT_HOSTNAME, F(authserv_id), 0, NULL, NULL },
};
#undef F

_Static_assert(ARRAY_LEN(config_keys) == CONFIG_NKEYS, "CONFIG_NKEYS");

/* Enum fields are written through int; make sure that is their size. */
_Static_assert(sizeof(enum config_xclient) == sizeof(int), "enum size");
_Static_assert(sizeof(enum config_bare_newline) == sizeof(int), "enum size");

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
bad_value(char *err, size_t errlen, const struct config_key *k, const char *value,
          const char *want)
{
	xsnprintf(err, errlen, "bad value '%s' for %s: want %s", value, k->name, want);
}

static void
set_uint(void *base, const struct config_key *k, unsigned v)
{
	memcpy((char *)base + k->off, &v, sizeof(v));
}

static void
set_int(void *base, const struct config_key *k, int v)
{
	memcpy((char *)base + k->off, &v, sizeof(v));
}

static void
set_string(void *base, const struct config_key *k, const char *v)
{
	char **field = (char **)((char *)base + k->off);

	free(*field);
	*field = xstrdup(v);
}

static int
value_number(void *base, const struct config_key *k, const char *value,
             char *err, size_t errlen)
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
		xsnprintf(err, errlen, "value '%s' for %s is too large: at most %llu%s", value,
		          k->name, k->type == KT_DURATION ? max / 1000 : max,
		          k->type == KT_DURATION ? " s" : k->type == KT_SIZE ? " octets" : "");
		return -1;
	}
	if (rc < 0 || v < k->min) {
		bad_value(err, errlen, k, value, want);
		return -1;
	}
	if (k->type == KT_SIZE) {
		size_t sz = (size_t)v;

		memcpy((char *)base + k->off, &sz, sizeof(sz));
	} else
		set_uint(base, k, (unsigned)v);
	return 0;
}

/* One of k->words; the enum value is its index. */
static int
value_word(void *base, const struct config_key *k, const char *value,
           char *err, size_t errlen)
{
	char want[100] = "";
	int v;

	for (v = 0; k->words[v] != NULL; v++)
		if (strcmp(value, k->words[v]) == 0) {
			set_int(base, k, v);
			return 0;
		}
	for (v = 0; k->words[v] != NULL; v++)       /* "a, b or c" */
		xsnprintf(want + strlen(want), sizeof(want) - strlen(want), "%s%s",
		          v == 0 ? "" : k->words[v + 1] ? ", " : " or ", k->words[v]);
	bad_value(err, errlen, k, value, want);
	return -1;
}

/* RFC 5322 field name: printable ASCII except ':' (and space). */
static bool
header_name_valid(const char *s)
{
	if (*s == '\0' || strlen(s) > 76)
		return false;
	for (; *s; s++)
		if (*s <= ' ' || *s > '~' || *s == ':')
			return false;
	return true;
}

int
config_key_set(struct config *cfg, const struct config_key *k, const char *value,
               char *err, size_t errlen)
{
	return config_value_set(cfg, k, value, err, errlen);
}

int
config_value_set(void *base, const struct config_key *k, const char *value,
                 char *err, size_t errlen)
{
	int v;

	switch (k->type) {
	case KT_HOSTNAME:
		if (!config_hostname_valid(value)) {
			bad_value(err, errlen, k, value,
			          "a fully qualified host name such as mail.example.org");
			return -1;
		}
		set_string(base, k, value);
		return 0;
	case KT_PATH:
		if (value[0] != '/') {
			bad_value(err, errlen, k, value, "an absolute path");
			return -1;
		}
		set_string(base, k, value);
		return 0;
	case KT_FILE:
		if (value[0] != '/') {
			bad_value(err, errlen, k, value, "an absolute path");
			return -1;
		}
		if (access(value, R_OK) < 0) {
			xsnprintf(err, errlen, "cannot read %s '%s': %s", k->name, value,
			          strerror(errno));
			return -1;
		}
		set_string(base, k, value);
		return 0;
	case KT_HEADER:
		if (!header_name_valid(value)) {
			bad_value(err, errlen, k, value, "a header field name: printable ASCII "
			          "without spaces or ':', at most 76 characters");
			return -1;
		}
		set_string(base, k, value);
		return 0;
	case KT_MAILBOX: {
		char path[SMTP_PATH_MAX + 8];
		struct smtp_path p;
		size_t n = xsnprintf(path, sizeof(path), "TO:<%s>", value);
		if (n >= sizeof(path) - 1 || smtp_path_parse(SMTP_PATH_RCPT, path, n, &p) != SMTP_OK ||
		    p.is_postmaster) {
			bad_value(err, errlen, k, value, "a mailbox such as quarantine@example.org");
			return -1;
		}
		set_string(base, k, value);
		return 0;
	}
	case KT_WORKERS:
		if (strcmp(value, "auto") == 0) {
			set_uint(base, k, 0);
			return 0;
		} else {
			unsigned long long n;
			const char *end;

			if (number_parse(value, &n, &end) != 0 || *end != '\0' || n < 1 || n > 64) {
				bad_value(err, errlen, k, value, "'auto' or an integer from 1 to 64");
				return -1;
			}
			set_uint(base, k, (unsigned)n);
			return 0;
		}
	case KT_UINT:
	case KT_SIZE:
	case KT_DURATION:
		return value_number(base, k, value, err, errlen);
	case KT_ENUM:
		return value_word(base, k, value, err, errlen);
	case KT_LOGLEVEL:
		v = log_level_parse(value);
		if (v < 0) {
			bad_value(err, errlen, k, value, "error, warning, info or debug");
			return -1;
		}
		set_int(base, k, v);
		return 0;
	case KT_LISTEN:
	case KT_BACKEND:
	case KT_DNS:
		break;                       /* config.c's: they add listeners, backends, servers */
	}
	xsnprintf(err, errlen, "internal error: %s is not a plain value", k->name);
	return -1;
}
