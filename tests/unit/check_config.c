/* check_config.c - unit tests for config.c: values, defaults, errors with line numbers. */
#include <check.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "util.h"

/* Load text as "t.conf"; returns the error count, *msgs_r holds what was printed. */
static int
load_text(const char *text, struct config **cfg_r, char **msgs_r)
{
	size_t len;
	FILE *errs = open_memstream(msgs_r, &len);
	int n;

	ck_assert_ptr_nonnull(errs);
	n = config_load_string(text, "t.conf", errs, cfg_r);
	fclose(errs);
	return n;
}

/* ---------------------------------------------------------------- defaults */

START_TEST(test_defaults)
{
	struct config *cfg;
	char *msgs;
	int n = load_text("", &cfg, &msgs);

	ck_assert_msg(n == 0, "empty file: got %d errors (%s), want 0", n, msgs);
	ck_assert_ptr_nonnull(cfg);
	ck_assert_str_eq(cfg->path, "t.conf");
	ck_assert_uint_eq(cfg->nlisteners, 1);
	ck_assert_str_eq(cfg->listeners[0].addr.text, "127.0.0.1:2525");
	ck_assert_str_eq(cfg->listeners[0].name, "listen:1");
	ck_assert_uint_eq(cfg->nbackends, 1);
	ck_assert_str_eq(cfg->backends[0].addr.text, "127.0.0.1:25");
	ck_assert_str_eq(cfg->backends[0].host, "127.0.0.1");
	ck_assert_str_eq(cfg->backends[0].port, "25");
	ck_assert_ptr_nonnull(cfg->hostname);
	ck_assert_msg(cfg->hostname[0] != '\0', "hostname: got empty, want gethostname()");
	ck_assert_uint_eq(cfg->workers, 0);
	ck_assert_uint_eq(cfg->max_message_size, 25u << 20);
	ck_assert_uint_eq(cfg->max_recipients, 1000);
	ck_assert_uint_eq(cfg->max_connections, 1000);
	ck_assert_uint_eq(cfg->max_connections_per_ip, 20);
	ck_assert_uint_eq(cfg->max_errors, 10);
	ck_assert_uint_eq(cfg->timeout_command, 300000);
	ck_assert_uint_eq(cfg->timeout_data, 180000);
	ck_assert_uint_eq(cfg->min_data_rate, 500);
	ck_assert_uint_eq(cfg->greet_pause, 0);
	ck_assert_int_eq(cfg->xclient, CONFIG_XCLIENT_AUTO);
	ck_assert_int_eq(cfg->bare_newline, CONFIG_BARE_NEWLINE_REJECT);
	ck_assert_str_eq(cfg->spool_dir, "/var/spool/sluice");
	ck_assert_uint_eq(cfg->spool_memory, 128u << 10);
	ck_assert_uint_eq(cfg->backend_timeout_connect, 30000);
	ck_assert_uint_eq(cfg->backend_timeout_command, 300000);
	ck_assert_uint_eq(cfg->backend_timeout_data_end, 600000);
	ck_assert_uint_eq(cfg->backend_retry, 10000);
	ck_assert_uint_eq(cfg->backend_probe_interval, 60000);
	ck_assert_uint_eq(cfg->shutdown_timeout, 30000);
	ck_assert_int_eq(cfg->log_level, LOG_LEVEL_INFO);
	ck_assert_str_eq(cfg->filter_dir, PKGLIBDIR);
	ck_assert_uint_eq(cfg->nfilters, 0);
	ck_assert_ptr_null(cfg->filters);
	ck_assert_uint_eq(cfg->ndns_servers, 0);
	ck_assert_uint_eq(cfg->dns_timeout, 5000);
	ck_assert_ptr_null(cfg->dns_local_data);
	ck_assert_str_eq(cfg->score_header, "");
	ck_assert_str_eq(cfg->quarantine_header, "X-Sluice-Quarantine");
	config_free(&cfg);
	ck_assert_msg(cfg == NULL, "config_free: got %p, want NULL", (void *)cfg);
	config_free(&cfg);               /* freeing NULL is harmless */
	free(msgs);
}
END_TEST

/* ---------------------------------------------------------------- valid values */

enum field_kind { FK_UINT, FK_SIZE, FK_INT };

static const struct value_case {
	const char *text;                /* under [sluice] */
	enum field_kind kind;
	size_t off;
	unsigned long long want;
} value_cases[] = {
#define C(text, kind, field, want) { text, kind, offsetof(struct config, field), want }
	C("workers = auto", FK_UINT, workers, 0),
	C("workers = 1", FK_UINT, workers, 1),
	C("workers = 64", FK_UINT, workers, 64),
	C("max_message_size = 1024", FK_SIZE, max_message_size, 1024),
	C("max_message_size = 10k", FK_SIZE, max_message_size, 10240),
	C("max_message_size = 10K", FK_SIZE, max_message_size, 10240),
	C("max_message_size = 10m", FK_SIZE, max_message_size, 10485760),
	C("max_message_size = 10M", FK_SIZE, max_message_size, 10485760),
	C("max_message_size = 2g", FK_SIZE, max_message_size, 2147483648ULL),
	C("max_message_size = 2G", FK_SIZE, max_message_size, 2147483648ULL),
	C("max_message_size = 17179869183g", FK_SIZE, max_message_size, 17179869183ULL << 30),
	C("max_recipients = 100", FK_UINT, max_recipients, 100),
	C("max_recipients = 5000", FK_UINT, max_recipients, 5000),
	C("max_recipients = 4294967295", FK_UINT, max_recipients, 4294967295ULL),
	C("max_connections = 1", FK_UINT, max_connections, 1),
	C("max_connections_per_ip = 3", FK_UINT, max_connections_per_ip, 3),
	C("max_errors = 5", FK_UINT, max_errors, 5),
	C("timeout_command = 5", FK_UINT, timeout_command, 5000),
	C("timeout_command = 5s", FK_UINT, timeout_command, 5000),
	C("timeout_command = 250ms", FK_UINT, timeout_command, 250),
	C("timeout_command = 2m", FK_UINT, timeout_command, 120000),
	C("timeout_command = 1h", FK_UINT, timeout_command, 3600000),
	C("timeout_command = 1193h", FK_UINT, timeout_command, 4294800000ULL),
	C("timeout_command = 4294967295ms", FK_UINT, timeout_command, 4294967295ULL),
	C("timeout_data = 10m", FK_UINT, timeout_data, 600000),
	C("greet_pause = 0", FK_UINT, greet_pause, 0),
	C("greet_pause = 1500ms", FK_UINT, greet_pause, 1500),
	C("min_data_rate = 0", FK_UINT, min_data_rate, 0),
	C("min_data_rate = 1000", FK_UINT, min_data_rate, 1000),
	C("xclient = auto", FK_INT, xclient, CONFIG_XCLIENT_AUTO),
	C("xclient = yes", FK_INT, xclient, CONFIG_XCLIENT_YES),
	C("xclient = no", FK_INT, xclient, CONFIG_XCLIENT_NO),
	C("bare_newline = reject", FK_INT, bare_newline, CONFIG_BARE_NEWLINE_REJECT),
	C("bare_newline = normalize", FK_INT, bare_newline, CONFIG_BARE_NEWLINE_NORMALIZE),
	C("spool_memory = 0", FK_SIZE, spool_memory, 0),
	C("spool_memory = 1m", FK_SIZE, spool_memory, 1048576),
	C("backend_timeout_connect = 5s", FK_UINT, backend_timeout_connect, 5000),
	C("backend_timeout_command = 1m", FK_UINT, backend_timeout_command, 60000),
	C("backend_timeout_data_end = 20m", FK_UINT, backend_timeout_data_end, 1200000),
	C("backend_retry = 0", FK_UINT, backend_retry, 0),
	C("backend_retry = 30s", FK_UINT, backend_retry, 30000),
	C("backend_probe_interval = 5m", FK_UINT, backend_probe_interval, 300000),
	C("shutdown_timeout = 0", FK_UINT, shutdown_timeout, 0),
	C("shutdown_timeout = 2m", FK_UINT, shutdown_timeout, 120000),
	C("log_level = error", FK_INT, log_level, LOG_LEVEL_ERROR),
	C("log_level = warning", FK_INT, log_level, LOG_LEVEL_WARNING),
	C("log_level = info", FK_INT, log_level, LOG_LEVEL_INFO),
	C("log_level = debug", FK_INT, log_level, LOG_LEVEL_DEBUG),
	C("  workers = 4   ; an inline comment", FK_UINT, workers, 4),
	C("dns_timeout = 2s", FK_UINT, dns_timeout, 2000),
	C("dns_timeout = 300ms", FK_UINT, dns_timeout, 300),
#undef C
};

START_TEST(test_values)
{
	const struct value_case *c = &value_cases[_i];
	char text[256];
	struct config *cfg;
	char *msgs;
	unsigned long long got = 0;
	int n;

	xsnprintf(text, sizeof(text), "[sluice]\n%s\n", c->text);
	n = load_text(text, &cfg, &msgs);
	ck_assert_msg(n == 0, "'%s': got %d errors (%s), want 0", c->text, n, msgs);
	if (c->kind == FK_SIZE) {
		size_t v;

		memcpy(&v, (char *)cfg + c->off, sizeof(v));
		got = v;
	} else if (c->kind == FK_UINT) {
		unsigned v;

		memcpy(&v, (char *)cfg + c->off, sizeof(v));
		got = v;
	} else {
		int v;

		memcpy(&v, (char *)cfg + c->off, sizeof(v));
		got = (unsigned long long)v;
	}
	ck_assert_msg(got == c->want, "'%s': got %llu, want %llu", c->text, got, c->want);
	config_free(&cfg);
	free(msgs);
}
END_TEST

START_TEST(test_hostname_spool_dir)
{
	struct config *cfg;
	char *msgs;
	int n = load_text("[sluice]\nhostname = mx-1.example.org\nspool_dir = /tmp/sl spool\n",
	                  &cfg, &msgs);

	ck_assert_msg(n == 0, "got %d errors (%s), want 0", n, msgs);
	ck_assert_str_eq(cfg->hostname, "mx-1.example.org");
	ck_assert_str_eq(cfg->spool_dir, "/tmp/sl spool");
	config_free(&cfg);
	free(msgs);
}
END_TEST

/* ---------------------------------------------------------------- errors */

static const struct error_case {
	const char *text;
	int want_errors;
	const char *want_msg;            /* substring of the output */
} error_cases[] = {
	/* structure, with the bad line at a known place */
	{ "[sluice]\nbogus = 1\n", 1, "t.conf:2: unknown key 'bogus' in [sluice]\n" },
	{ "[sluice]\n\n; comment\n# comment\nlisten = 1.2.3.4:25\n\nfoo = bar\n", 1,
	  "t.conf:7: unknown key 'foo' in [sluice]" },
	{ "[sluice]\r\nworkers = 4\r\nbogus = 1\r\n", 1, "t.conf:3: unknown key 'bogus'" },
	{ "[bogus]\nx = 1\ny = 2\n", 1, "t.conf:1: unknown section [bogus]" },
	{ "\n\n[bogus]\n", 1, "t.conf:3: unknown section [bogus]" },
	{ "[sluice]\n[Sluice]\n", 1, "t.conf:2: unknown section [Sluice]" },
	{ "[sluice x]\nworkers = 2\n", 1, "t.conf:1: section [sluice] takes no name" },
	{ "[sluice] junk\n", 1, "t.conf:1: text after ']'" },
	{ "x = 1\n", 1, "t.conf:1: key 'x' before any section" },
	{ "[sluice\nworkers = 2\n", 2, "t.conf:1: missing ']' in section header" },
	{ "[sluice ; c]\n", 1, "t.conf:1: missing ']'" },
	{ "[sluice]\nlisten\n", 1, "t.conf:2: syntax error: want 'key = value'" },
	{ "[sluice]\nworkers ; = 4\n", 1, "t.conf:2: syntax error" },
	{ "[sluice]\nworkers: 4\n", 1, "t.conf:2: syntax error: missing '=' after the key" },
	{ "[sluice]\nlisten 1.2.3.4:25\n", 1, "t.conf:2: syntax error: missing '='" },
	{ "[sluice]\nlisten 1.2.3.4\n", 1, "t.conf:2: syntax error: want 'key = value'" },
	{ "[sluice]\n= 4\n", 1, "t.conf:2: missing key name" },
	/* every inih syntax error is reported, not only the first */
	{ "[sluice]\nfoo\nbar\nbaz\n", 3, "t.conf:4: syntax error" },
	{ "[sluice]\nfoo\nbar\nbaz\n", 3, "t.conf:3: syntax error" },
	/* multi-line values are off: an indented line is a line of its own */
	{ "[sluice]\nhostname = a.example\n  b.example\n", 1, "t.conf:3: syntax error" },
	{ "[sluice]\nworkers = 4\n  workers = 5\n", 1, "t.conf:3: duplicate key 'workers'" },
	{ "[sluice]\n; x\n" "; xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	  "\nbogus = 1\n", 2, "t.conf:3: line too long" },
	{ "[sluice]\n; x\n; " "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	  "\nbogus = 1\n", 2, "t.conf:4: unknown key 'bogus'" },
	/* all errors are collected, each on its line */
	{ "[sluice]\nworkers = 0\nmax_recipients = 99\nbogus = 1\n[nope]\n", 4,
	  "t.conf:5: unknown section [nope]" },
	{ "[sluice]\nworkers = 0\nmax_recipients = 99\nbogus = 1\n[nope]\n", 4,
	  "t.conf:3: bad value '99' for max_recipients" },
	/* duplicates */
	{ "[sluice]\nworkers = 2\nworkers = 3\n", 1,
	  "t.conf:3: duplicate key 'workers' (first set on line 2)" },
	{ "[sluice]\nworkers = 2\n[sluice]\nworkers = 3\n", 1, "t.conf:4: duplicate key 'workers'" },
	{ "[sluice]\nhostname = a.example\nhostname = b.example\n", 1, "t.conf:3: duplicate key" },
	{ "[sluice]\nlog_level = info\nlog_level = info\n", 1, "t.conf:3: duplicate key" },
	{ "[sluice]\nlisten = 1.2.3.4:25\nlisten = 1.2.3.4:25\n", 1,
	  "t.conf:3: listener address 1.2.3.4:25 is already used on line 2" },
	{ "[sluice]\nlisten = [::1]:25\nlisten = [0:0::1]:25\n", 1,
	  "t.conf:3: listener address [::1]:25 is already used on line 2" },
	{ "[sluice]\nlisten = 1.2.3.4:25\n[listener x]\naddress = 1.2.3.4:25\n", 1,
	  "t.conf:4: listener address 1.2.3.4:25 is already used on line 2" },
	/* [listener NAME] */
	{ "[listener]\naddress = 1.2.3.4:25\n", 1, "t.conf:1: section [listener] needs a name" },
	{ "[listener a b]\naddress = 1.2.3.4:25\n", 1, "t.conf:1: listener name may contain only" },
	{ "[listener a]\n", 1, "t.conf:1: [listener a] has no address" },
	{ "[listener a]\nport = 25\naddress = 1.2.3.4:25\n", 1,
	  "t.conf:2: unknown key 'port' in [listener a]" },
	{ "[listener a]\naddress = 1.2.3.4:25\naddress = 1.2.3.4:26\n", 1,
	  "t.conf:3: duplicate key 'address' (first set on line 2)" },
	{ "[listener a]\naddress = 1.2.3.4:25\n[listener a]\naddress = 1.2.3.4:26\n", 1,
	  "t.conf:3: duplicate section [listener a] (first on line 1)" },
	{ "[listener a]\naddress = localhost:25\n", 1, "t.conf:2: bad value 'localhost:25' for address" },
	{ "[listener a]\naddress = 1.2.3.4\n", 1, "t.conf:2: bad value '1.2.3.4' for address" },
	/* backend = HOST:PORT identity=... */
	{ "[sluice]\nbackend = 127.0.0.1:25 identity=maybe\n", 1,
	  "t.conf:2: bad value 'maybe' for backend identity: want auto, xclient, xforward or none" },
	{ "[sluice]\nbackend = 127.0.0.1:25 weight=3\n", 1,
	  "t.conf:2: bad option 'weight=3' for backend" },
	/* [listener NAME] role, auth, auth_without_tls (RFC 6409: submission
	 * requires AUTH by default; AUTH only under TLS unless configured) */
	{ "[listener s]\naddress = 1.2.3.4:587\nrole = submission\n", 1,
	  "t.conf:1: [listener s] requires AUTH but has no TLS" },
	{ "[listener s]\naddress = 1.2.3.4:587\nauth = required\n", 1,
	  "t.conf:3: [listener s] requires AUTH but has no TLS" },
	{ "[listener s]\naddress = 1.2.3.4:587\nauth = maybe\n", 1,
	  "t.conf:3: bad value 'maybe' for auth: want none, optional or required" },
	{ "[listener s]\naddress = 1.2.3.4:587\nauth_without_tls = sometimes\n", 1,
	  "bad value 'sometimes' for auth_without_tls: want no, loopback or yes" },
	/* [listener NAME] proxy_protocol, trusted, proxy_timeout */
	{ "[listener a]\naddress = 1.2.3.4:25\nproxy_protocol = v1\n", 1,
	  "t.conf:3: [listener a] has proxy_protocol = v1 but no trusted addresses" },
	{ "[listener a]\nproxy_protocol = any\naddress = 1.2.3.4:25\n[listener b]\n"
	  "address = 1.2.3.4:26\nproxy_protocol = no\n", 1,
	  "t.conf:2: [listener a] has proxy_protocol = any but no trusted" },
	{ "[listener a]\naddress = 1.2.3.4:25\nproxy_protocol = yes\ntrusted = ::1\n", 1,
	  "t.conf:3: bad value 'yes' for proxy_protocol: want no, v1, v2 or any" },
	{ "[listener a]\naddress = 1.2.3.4:25\nproxy_protocol = V1\ntrusted = ::1\n", 1,
	  "bad value 'V1' for proxy_protocol" },
	{ "[listener a]\naddress = 1.2.3.4:25\nproxy_protocol = v1\nproxy_protocol = v2\n"
	  "trusted = ::1\n", 1, "t.conf:4: duplicate key 'proxy_protocol' (first set on line 3)" },
	{ "[listener a]\naddress = 1.2.3.4:25\ntrusted = ::1\ntrusted = 10.0.0.0/8\n", 1,
	  "t.conf:4: duplicate key 'trusted' (first set on line 3)" },
	{ "[listener a]\naddress = 1.2.3.4:25\nproxy_protocol = v1\ntrusted =\n", 1,
	  "t.conf:4: empty value for trusted" },
	{ "[listener a]\naddress = 1.2.3.4:25\nproxy_protocol = v1\ntrusted = , ,\n", 1,
	  "t.conf:4: empty value for trusted" },
	{ "[listener a]\naddress = 1.2.3.4:25\ntrusted = 10.0.0.0/33\n", 1,
	  "t.conf:3: bad value '10.0.0.0/33' for trusted: prefix length must be a number from 0 to 32" },
	{ "[listener a]\naddress = 1.2.3.4:25\ntrusted = 2001:db8::/129\n", 1,
	  "from 0 to 128" },
	{ "[listener a]\naddress = 1.2.3.4:25\ntrusted = 10.0.0.0/08\n", 1, "prefix length" },
	{ "[listener a]\naddress = 1.2.3.4:25\ntrusted = 10.0.0.0/\n", 1, "prefix length" },
	{ "[listener a]\naddress = 1.2.3.4:25\ntrusted = 10.0.0.1/8\n", 1,
	  "bad value '10.0.0.1/8' for trusted: address has bits set past the prefix length" },
	{ "[listener a]\naddress = 1.2.3.4:25\ntrusted = 10.1/16\n", 1,
	  "bad value '10.1/16' for trusted: not a numeric IPv4 address" },
	{ "[listener a]\naddress = 1.2.3.4:25\ntrusted = 127.0.0.1, lb.example\n", 1,
	  "bad value 'lb.example' for trusted: not a numeric IPv4" },
	{ "[listener a]\naddress = 1.2.3.4:25\ntrusted = [::1]\n", 1,
	  "bad value '[::1]' for trusted: not a numeric IPv6 address" },
	{ "[listener a]\naddress = 1.2.3.4:25\nproxy_timeout = 0\n", 1,
	  "t.conf:3: bad value '0' for proxy_timeout: want a duration above 0" },
	{ "[sluice]\nproxy_protocol = v1\n", 1, "t.conf:2: unknown key 'proxy_protocol' in [sluice]" },
	/* listen */
	{ "[sluice]\nlisten =\n", 1, "t.conf:2: empty value for listen" },
	{ "[sluice]\nlisten = 1.2.3.4\n", 1, "missing ':PORT'; want ADDR:PORT" },
	{ "[sluice]\nlisten = 1.2.3.4:0\n", 1, "t.conf:2: bad value '1.2.3.4:0' for listen: port" },
	{ "[sluice]\nlisten = 1.2.3.4:65536\n", 1, "port must be a number from 1 to 65535" },
	{ "[sluice]\nlisten = 1.2.3.4:smtp\n", 1, "port must be a number" },
	{ "[sluice]\nlisten = 1.2.3.4:-25\n", 1, "port must be a number" },
	{ "[sluice]\nlisten = :25\n", 1, "missing address" },
	{ "[sluice]\nlisten = ::1:25\n", 1, "IPv6 address must be in brackets" },
	{ "[sluice]\nlisten = [::1:25\n", 1, "missing ']'" },
	{ "[sluice]\nlisten = [::1]25\n", 1, "missing ':PORT' after ']'" },
	{ "[sluice]\nlisten = [1.2.3.4]:25\n", 1, "not an IPv6 address" },
	{ "[sluice]\nlisten = [::g]:25\n", 1, "not an IPv6 address" },
	{ "[sluice]\nlisten = 127.1:25\n", 1, "not a numeric IPv4 address" },
	{ "[sluice]\nlisten = 1.2.3.256:25\n", 1, "not a numeric IPv4 address" },
	{ "[sluice]\nlisten = localhost:25\n", 1, "names are not allowed here" },
	/* backend */
	{ "[sluice]\nbackend =\n", 1, "t.conf:2: empty value for backend" },
	{ "[sluice]\nbackend = mx_1!:25\n", 1,
	  "t.conf:2: bad value 'mx_1!:25' for backend: not an IPv4 address or a host name" },
	{ "[sluice]\nbackend = 1.2.3.999:25\n", 1, "not an IPv4 address or a host name" },
	{ "[sluice]\nbackend = localhost\n", 1, "missing ':PORT'; want HOST:PORT" },
	{ "[sluice]\nbackend = localhost:0\n", 1, "port must be a number" },
	{ "[sluice]\nbackend = -a.example:25\n", 1, "not an IPv4 address or a host name" },
	/* hostname, spool_dir */
	{ "[sluice]\nhostname = mail example\n", 1,
	  "t.conf:2: bad value 'mail example' for hostname: want a fully qualified host name" },
	{ "[sluice]\nhostname = a..example\n", 1, "for hostname" },
	{ "[sluice]\nhostname = -a.example\n", 1, "for hostname" },
	{ "[sluice]\nhostname = a-.example\n", 1, "for hostname" },
	{ "[sluice]\nhostname = a.example.\n", 1, "for hostname" },
	{ "[sluice]\nhostname =\n", 1, "empty value for hostname" },
	{ "[sluice]\nspool_dir = var/spool\n", 1, "t.conf:2: bad value 'var/spool' for spool_dir: want an absolute path" },
	/* workers */
	{ "[sluice]\nworkers = 0\n", 1, "t.conf:2: bad value '0' for workers: want 'auto' or an integer from 1 to 64" },
	{ "[sluice]\nworkers = 65\n", 1, "bad value '65' for workers" },
	{ "[sluice]\nworkers = -1\n", 1, "bad value '-1' for workers" },
	{ "[sluice]\nworkers = Auto\n", 1, "bad value 'Auto' for workers" },
	{ "[sluice]\nworkers = 4 # four\n", 1, "bad value '4 # four' for workers" },
	/* integers */
	{ "[sluice]\nmax_recipients = 99\n", 1, "t.conf:2: bad value '99' for max_recipients: want an "
	  "integer of at least 100: RFC 5321 section 4.5.3.1.8 requires accepting at least 100" },
	{ "[sluice]\nmax_recipients = 0\n", 1, "bad value '0' for max_recipients" },
	{ "[sluice]\nmax_recipients = 1e3\n", 1, "bad value '1e3' for max_recipients" },
	{ "[sluice]\nmax_recipients = +100\n", 1, "bad value '+100' for max_recipients" },
	{ "[sluice]\nmax_recipients = 4294967296\n", 1,
	  "t.conf:2: value '4294967296' for max_recipients is too large: at most 4294967295\n" },
	{ "[sluice]\nmax_recipients = 100k\n", 1, "bad value '100k' for max_recipients" },
	{ "[sluice]\nmax_connections = 0\n", 1, "bad value '0' for max_connections: want an integer of at least 1" },
	{ "[sluice]\nmax_connections = many\n", 1, "bad value 'many' for max_connections" },
	{ "[sluice]\nmax_connections_per_ip = 0\n", 1, "bad value '0' for max_connections_per_ip" },
	{ "[sluice]\nmax_errors = 0\n", 1, "bad value '0' for max_errors" },
	{ "[sluice]\nmax_errors = -3\n", 1, "bad value '-3' for max_errors" },
	{ "[sluice]\nmin_data_rate = 1k\n", 1, "bad value '1k' for min_data_rate" },
	{ "[sluice]\nmin_data_rate = -1\n", 1, "bad value '-1' for min_data_rate" },
	/* sizes */
	{ "[sluice]\nmax_message_size = 0\n", 1, "bad value '0' for max_message_size: want a size in octets above 0" },
	{ "[sluice]\nmax_message_size = 10x\n", 1, "bad value '10x' for max_message_size" },
	{ "[sluice]\nmax_message_size = 10kb\n", 1, "bad value '10kb' for max_message_size" },
	{ "[sluice]\nmax_message_size = 10 m\n", 1, "bad value '10 m' for max_message_size" },
	{ "[sluice]\nmax_message_size = m\n", 1, "bad value 'm' for max_message_size" },
	{ "[sluice]\nmax_message_size = 17179869184g\n", 1,
	  "value '17179869184g' for max_message_size is too large" },
	{ "[sluice]\nmax_message_size = 18446744073709551616\n", 1,
	  "is too large: at most 18446744073709551615 octets" },
	{ "[sluice]\nmax_message_size = 99999999999999999999999k\n", 1, "is too large" },
	{ "[sluice]\nspool_memory = 1t\n", 1, "bad value '1t' for spool_memory" },
	{ "[sluice]\nspool_memory = -1\n", 1, "bad value '-1' for spool_memory" },
	/* durations */
	{ "[sluice]\ntimeout_command = 0\n", 1, "bad value '0' for timeout_command: want a duration above 0" },
	{ "[sluice]\ntimeout_command = 5d\n", 1, "bad value '5d' for timeout_command" },
	{ "[sluice]\ntimeout_command = 5M\n", 1, "bad value '5M' for timeout_command" },
	{ "[sluice]\ntimeout_command = 1.5s\n", 1, "bad value '1.5s' for timeout_command" },
	{ "[sluice]\ntimeout_command = 1194h\n", 1,
	  "value '1194h' for timeout_command is too large: at most 4294967 s" },
	{ "[sluice]\ntimeout_command = 4294968\n", 1, "is too large" },
	{ "[sluice]\ntimeout_command = 4294967296ms\n", 1, "is too large" },
	{ "[sluice]\ntimeout_data = 0s\n", 1, "bad value '0s' for timeout_data" },
	{ "[sluice]\ngreet_pause = soon\n", 1, "bad value 'soon' for greet_pause" },
	{ "[sluice]\nbackend_timeout_connect = 0\n", 1, "for backend_timeout_connect" },
	{ "[sluice]\nbackend_timeout_command = x\n", 1, "for backend_timeout_command" },
	{ "[sluice]\nbackend_timeout_data_end = 0ms\n", 1, "for backend_timeout_data_end" },
	{ "[sluice]\nbackend_retry = -1\n", 1, "for backend_retry" },
	{ "[sluice]\nbackend_probe_interval = 0\n", 1, "for backend_probe_interval" },
	{ "[sluice]\nshutdown_timeout = 1w\n", 1, "for shutdown_timeout" },
	/* dns, dns_local_data, headers */
	{ "[sluice]\ndns = 1.2.3\n", 1, "t.conf:2: bad value '1.2.3' for dns: not a numeric IPv4 address" },
	{ "[sluice]\ndns = ns.example:53\n", 1, "bad value 'ns.example:53' for dns: not a numeric IPv4" },
	{ "[sluice]\ndns = 1.2.3.4:0\n", 1, "bad value '1.2.3.4:0' for dns: port must be" },
	{ "[sluice]\ndns = [1.2.3.4]:53\n", 1, "not a numeric IPv6 address" },
	{ "[sluice]\ndns = [::1\n", 1, "bad value '[::1' for dns: missing ']'" },
	{ "[sluice]\ndns = []\n", 1, "bad value '[]' for dns" },
	{ "[sluice]\ndns = fe80::1%eth0\n", 1, "not a numeric IPv6 address" },
	{ "[sluice]\ndns =\n", 1, "t.conf:2: empty value for dns" },
	{ "[sluice]\ndns = 1.2.3.4\ndns = 1.2.3.4:53\n", 1, "t.conf:3: dns server 1.2.3.4@53 is given twice" },
	{ "[sluice]\ndns_timeout = 0\n", 1, "t.conf:2: bad value '0' for dns_timeout: want a duration above 0" },
	{ "[sluice]\ndns_local_data = zones.txt\n", 1,
	  "t.conf:2: bad value 'zones.txt' for dns_local_data: want an absolute path" },
	{ "[sluice]\ndns_local_data = /nonexistent/zones.txt\n", 1,
	  "t.conf:2: cannot read dns_local_data '/nonexistent/zones.txt': No such file" },
	{ "[sluice]\nfilter_dir = lib/sluice\n", 1, "bad value 'lib/sluice' for filter_dir: want an absolute path" },
	{ "[sluice]\nscore_header = X Score\n", 1, "t.conf:2: bad value 'X Score' for score_header: want a header field name" },
	{ "[sluice]\nscore_header =\n", 1, "empty value for score_header" },
	{ "[sluice]\nquarantine_header = X-Q:\n", 1, "bad value 'X-Q:' for quarantine_header" },
	{ "[sluice]\nquarantine_header = X-Q\nquarantine_header = X-R\n", 1,
	  "t.conf:3: duplicate key 'quarantine_header' (first set on line 2)" },
	/* [filter NAME] */
	{ "[filter]\nmodule = x\n", 1, "t.conf:1: section [filter] needs a name: [filter NAME]" },
	{ "[filter Spf]\nmodule = spf\n", 1, "t.conf:1: bad filter name 'Spf': want lower-case" },
	{ "[filter a.b]\nmodule = spf\n", 1, "t.conf:1: bad filter name 'a.b'" },
	{ "[filter a b]\nmodule = spf\n", 1, "t.conf:1: bad filter name 'a b'" },
	{ "[filter a]\nmodule = x\n[filter b]\nmodule = x\n[filter a]\nmodule = y\n", 1,
	  "t.conf:5: duplicate section [filter a] (first on line 1)" },
	{ "[filter a]\nk = v\n", 1, "t.conf:1: [filter a] has no module" },
	{ "[filter a]\n", 1, "t.conf:1: [filter a] has no module" },
	{ "[filter a]\nmodule =\n", 1, "t.conf:2: empty value for module" },
	{ "[filter a]\nmodule = ../x\nmodule = y\n", 1, "t.conf:3: duplicate key 'module' (first set on line 2)" },
	{ "[filter a]\nmodule = sp f\n", 1, "t.conf:2: bad value 'sp f' for module" },
	{ "[filter a]\nmodule = x\ntimeout = 0\n", 1, "t.conf:3: bad value '0' for timeout: want a duration above 0" },
	{ "[filter a]\nmodule = x\ntimeout = soon\n", 1, "bad value 'soon' for timeout" },
	{ "[filter a]\nmodule = x\non_error = continue\n", 1,
	  "t.conf:3: bad value 'continue' for on_error: want tempfail, accept or reject" },
	{ "[filter a]\nmodule = x\ndry_run = true\n", 1, "t.conf:3: bad value 'true' for dry_run: want no or yes" },
	{ "[filter a]\nmodule = x\nskip_authenticated = 1\n", 1, "bad value '1' for skip_authenticated" },
	{ "[filter a]\nmodule = x\ndry_run = yes\ndry_run = no\n", 1,
	  "t.conf:4: duplicate key 'dry_run' (first set on line 3)" },
	{ "[filter a]\nmodule = x\nlevel = 1\n\nlevel = 2\n", 1,
	  "t.conf:5: duplicate key 'level' (first set on line 3)" },
	{ "[filter a]\nmodule = x\n[filter b]\nmodule = y\n[sluice]\nfilter = a\n", 1,
	  "t.conf:6: unknown key 'filter' in [sluice]" },
	/* words */
	{ "[sluice]\nxclient = maybe\n", 1, "t.conf:2: bad value 'maybe' for xclient: want auto, yes or no" },
	{ "[sluice]\nbare_newline = strip\n", 1, "bad value 'strip' for bare_newline: want reject or normalize" },
	{ "[sluice]\nlog_level = verbose\n", 1, "bad value 'verbose' for log_level: want error, warning, info or debug" },
};

START_TEST(test_errors)
{
	const struct error_case *c = &error_cases[_i];
	struct config *cfg = (struct config *)1;
	char *msgs;
	int n = load_text(c->text, &cfg, &msgs);

	ck_assert_msg(n == c->want_errors, "case %d: got %d errors (%s), want %d", _i, n, msgs,
	              c->want_errors);
	ck_assert_msg(strstr(msgs, c->want_msg) != NULL, "case %d: got \"%s\", want it to contain \"%s\"",
	              _i, msgs, c->want_msg);
	ck_assert_msg(cfg == NULL, "case %d: got a config, want NULL after errors", _i);
	/* one line per error, each "t.conf:N: " */
	int lines = 0;
	for (const char *p = msgs; (p = strstr(p, "t.conf:")) != NULL; p++)
		lines++;
	ck_assert_msg(lines == n, "case %d: got %d message lines, want %d", _i, lines, n);
	free(msgs);
}
END_TEST

/* ---------------------------------------------------------------- order, long forms */

START_TEST(test_listen_order)
{
	static const char text[] =
		"; listeners in file order, short and long form mixed\n"
		"[sluice]\n"
		"listen = 127.0.0.1:2525\n"
		"  listen = [::1]:2525\n"
		"[listener submission]\n"
		"address = 0.0.0.0:587\n"
		"[sluice]\n"
		"listen = [2001:db8::1]:25\n"
		"[listener alt-25.x]\n"
		"address = [::]:25\n";
	static const struct { const char *name, *text; int family; } want[] = {
		{ "listen:1", "127.0.0.1:2525", AF_INET },
		{ "listen:2", "[::1]:2525", AF_INET6 },
		{ "submission", "0.0.0.0:587", AF_INET },
		{ "listen:3", "[2001:db8::1]:25", AF_INET6 },
		{ "alt-25.x", "[::]:25", AF_INET6 },
	};
	struct config *cfg;
	char *msgs;
	int n = load_text(text, &cfg, &msgs);

	ck_assert_msg(n == 0, "got %d errors (%s), want 0", n, msgs);
	ck_assert_msg(cfg->nlisteners == ARRAY_LEN(want), "got %zu listeners, want %zu",
	              cfg->nlisteners, ARRAY_LEN(want));
	for (size_t i = 0; i < ARRAY_LEN(want); i++) {
		const struct config_listener *l = &cfg->listeners[i];

		ck_assert_msg(strcmp(l->name, want[i].name) == 0, "listener %zu: got name %s, want %s",
		              i, l->name, want[i].name);
		ck_assert_msg(strcmp(l->addr.text, want[i].text) == 0, "listener %zu: got %s, want %s",
		              i, l->addr.text, want[i].text);
		ck_assert_msg(l->addr.ss.ss_family == want[i].family, "listener %zu: got family %d, want %d",
		              i, l->addr.ss.ss_family, want[i].family);
		ck_assert_msg(l->addr.len == (want[i].family == AF_INET ? sizeof(struct sockaddr_in)
		              : sizeof(struct sockaddr_in6)), "listener %zu: got len %u", i,
		              (unsigned)l->addr.len);
	}
	ck_assert_msg(cfg->nbackends == 1, "got %zu backends, want the default 1", cfg->nbackends);
	config_free(&cfg);
	free(msgs);
}
END_TEST

/* backend lines: identity= per backend, auto by default. */
START_TEST(test_backend_identity)
{
	static const char text[] =
		"[sluice]\n"
		"backend = 127.0.0.1:10025\n"
		"backend = 127.0.0.1:10026 identity=xforward\n"
		"backend = [::1]:10027  identity=none\n"
		"backend = 127.0.0.1:10028 identity=xclient\n";
	struct config *cfg;
	char *msgs;
	int n = load_text(text, &cfg, &msgs);

	ck_assert_msg(n == 0, "errors: %s", msgs);
	ck_assert_uint_eq(cfg->nbackends, 4);
	ck_assert_int_eq(cfg->backends[0].identity, CONFIG_IDENTITY_AUTO);
	ck_assert_int_eq(cfg->backends[1].identity, CONFIG_IDENTITY_XFORWARD);
	ck_assert_str_eq(cfg->backends[1].port, "10026");
	ck_assert_int_eq(cfg->backends[2].identity, CONFIG_IDENTITY_NONE);
	ck_assert_str_eq(cfg->backends[2].port, "10027");
	ck_assert_int_eq(cfg->backends[3].identity, CONFIG_IDENTITY_XCLIENT);
	config_free(&cfg);
	free(msgs);
}
END_TEST

/* auth: none on mx, required on submission unless given; auth_without_tls. */
START_TEST(test_listener_auth)
{
	static const char text[] =
		"[sluice]\n"
		"listen = 127.0.0.1:2525\n"
		"[listener sub]\n"
		"address = 127.0.0.1:587\n"
		"role = submission\n"
		"auth_without_tls = loopback\n"
		"[listener opt]\n"
		"address = 127.0.0.1:588\n"
		"role = submission\n"
		"auth = optional\n"
		"auth_without_tls = yes\n"
		"[listener mx]\n"
		"address = 127.0.0.1:25\n";
	struct config *cfg;
	char *msgs;
	int n = load_text(text, &cfg, &msgs);

	ck_assert_msg(n == 0, "errors: %s", msgs);
	ck_assert_int_eq(cfg->listeners[0].auth, CONFIG_AUTH_NONE);      /* listen = */
	ck_assert_int_eq(cfg->listeners[1].auth, CONFIG_AUTH_REQUIRED);
	ck_assert_int_eq(cfg->listeners[1].auth_without_tls, CONFIG_AUTH_PLAIN_LOOPBACK);
	ck_assert_int_eq(cfg->listeners[2].auth, CONFIG_AUTH_OPTIONAL);
	ck_assert_int_eq(cfg->listeners[2].auth_without_tls, CONFIG_AUTH_PLAIN_YES);
	ck_assert_int_eq(cfg->listeners[3].auth, CONFIG_AUTH_NONE);
	ck_assert_uint_eq(cfg->auth_fail_limit, 5);
	ck_assert_uint_eq(cfg->auth_fail_window, 15 * 60 * 1000);
	config_free(&cfg);
	free(msgs);
}
END_TEST

/* proxy_protocol, trusted and proxy_timeout: values and defaults (a `listen`
 * line gets the defaults), and what the trusted blocks match. */
START_TEST(test_listener_proxy)
{
	static const char text[] =
		"[sluice]\n"
		"listen = 127.0.0.1:2525\n"
		"[listener haproxy]\n"
		"address = [::]:25\n"
		"proxy_protocol = v2\n"
		"trusted = 127.0.0.1, 10.0.0.0/8 2001:db8::/32,192.0.2.128/25\n"
		"proxy_timeout = 2s\n"
		"[listener a]\n"
		"address = 127.0.0.1:26\n"
		"proxy_protocol = v1\n"
		"trusted = 0.0.0.0/0\n"
		"[listener b]\n"
		"address = 127.0.0.1:27\n"
		"trusted = ::/0\n"
		"proxy_protocol = any\n"
		"[listener c]\n"
		"address = 127.0.0.1:28\n"
		"proxy_protocol = no\n";
	static const struct { const char *addr; int want; } match[] = {
		{ "127.0.0.1", 1 }, { "127.0.0.2", 0 }, { "10.255.0.1", 1 }, { "11.0.0.1", 0 },
		{ "2001:db8:1::7", 1 }, { "2001:db9::7", 0 }, { "::ffff:10.1.2.3", 1 },
		{ "::ffff:127.0.0.1", 1 }, { "::1", 0 }, { "192.0.2.128", 1 }, { "192.0.2.255", 1 },
		{ "192.0.2.127", 0 },
	};
	struct config *cfg;
	char *msgs;
	int n = load_text(text, &cfg, &msgs);

	ck_assert_msg(n == 0, "got %d errors (%s), want 0", n, msgs);
	ck_assert_uint_eq(cfg->nlisteners, 5);
	ck_assert_int_eq(cfg->listeners[0].proxy_protocol, 0);
	ck_assert_uint_eq(cfg->listeners[0].ntrusted, 0);
	ck_assert_uint_eq(cfg->listeners[0].proxy_timeout, 5000);
	ck_assert_int_eq(cfg->listeners[1].proxy_protocol, 2);
	ck_assert_uint_eq(cfg->listeners[1].ntrusted, 4);
	ck_assert_uint_eq(cfg->listeners[1].proxy_timeout, 2000);
	ck_assert_int_eq(cfg->listeners[2].proxy_protocol, 1);
	ck_assert_int_eq(cfg->listeners[3].proxy_protocol, 3);
	ck_assert_int_eq(cfg->listeners[4].proxy_protocol, 0);
	for (size_t i = 0; i < ARRAY_LEN(match); i++) {
		struct sockaddr_storage ss;
		int got;

		memset(&ss, 0, sizeof(ss));
		if (strchr(match[i].addr, ':') != NULL) {
			ss.ss_family = AF_INET6;
			inet_pton(AF_INET6, match[i].addr, &((struct sockaddr_in6 *)&ss)->sin6_addr);
		} else {
			ss.ss_family = AF_INET;
			inet_pton(AF_INET, match[i].addr, &((struct sockaddr_in *)&ss)->sin_addr);
		}
		got = config_cidr_match(cfg->listeners[1].trusted, cfg->listeners[1].ntrusted,
		                        (struct sockaddr *)&ss);
		ck_assert_msg(got == match[i].want, "trusted match %s: got %d, want %d",
		              match[i].addr, got, match[i].want);
	}
	/* 0.0.0.0/0 is every IPv4 client (mapped too), no IPv6 one; ::/0 is all. */
	{
		struct sockaddr_in6 in6 = { .sin6_family = AF_INET6 };
		struct sockaddr_in in4 = { .sin_family = AF_INET };

		inet_pton(AF_INET6, "2001:db8::1", &in6.sin6_addr);
		inet_pton(AF_INET, "198.51.100.1", &in4.sin_addr);
		ck_assert(config_cidr_match(cfg->listeners[2].trusted, 1, (struct sockaddr *)&in4));
		ck_assert(!config_cidr_match(cfg->listeners[2].trusted, 1, (struct sockaddr *)&in6));
		ck_assert(config_cidr_match(cfg->listeners[3].trusted, 1, (struct sockaddr *)&in4));
		ck_assert(config_cidr_match(cfg->listeners[3].trusted, 1, (struct sockaddr *)&in6));
	}
	config_free(&cfg);
	free(msgs);
}
END_TEST

START_TEST(test_backend_order)
{
	static const char text[] =
		"[sluice]\n"
		"backend = 192.0.2.7:2525\n"
		"backend = [::1]:25\n"
		"backend = localhost:10025\n"
		"backend = 127.0.0.1:25\n";
	static const struct { const char *host, *port, *text; } want[] = {
		{ "192.0.2.7", "2525", "192.0.2.7:2525" },
		{ "::1", "25", "[::1]:25" },
		{ "localhost", "10025", NULL },  /* 127.0.0.1 or ::1, as the resolver says */
		{ "127.0.0.1", "25", "127.0.0.1:25" },
	};
	struct config *cfg;
	char *msgs;
	int n = load_text(text, &cfg, &msgs);

	ck_assert_msg(n == 0, "got %d errors (%s), want 0", n, msgs);
	ck_assert_msg(cfg->nbackends == ARRAY_LEN(want), "got %zu backends, want %zu",
	              cfg->nbackends, ARRAY_LEN(want));
	for (size_t i = 0; i < ARRAY_LEN(want); i++) {
		const struct config_backend *b = &cfg->backends[i];

		ck_assert_msg(strcmp(b->host, want[i].host) == 0, "backend %zu: got host %s, want %s",
		              i, b->host, want[i].host);
		ck_assert_msg(strcmp(b->port, want[i].port) == 0, "backend %zu: got port %s, want %s",
		              i, b->port, want[i].port);
		if (want[i].text != NULL)
			ck_assert_msg(strcmp(b->addr.text, want[i].text) == 0, "backend %zu: got %s, want %s",
			              i, b->addr.text, want[i].text);
		else
			ck_assert_msg(strcmp(b->addr.text, "127.0.0.1:10025") == 0 ||
			              strcmp(b->addr.text, "[::1]:10025") == 0,
			              "backend %zu: got %s, want a loopback address", i, b->addr.text);
	}
	ck_assert_msg(cfg->nlisteners == 1, "got %zu listeners, want the default 1", cfg->nlisteners);
	config_free(&cfg);
	free(msgs);
}
END_TEST

START_TEST(test_bom_and_blank)
{
	struct config *cfg;
	char *msgs;
	int n = load_text("\xEF\xBB\xBF[sluice]\n\n   \n\tworkers = 2\nhostname=a.example", &cfg, &msgs);

	ck_assert_msg(n == 0, "got %d errors (%s), want 0", n, msgs);
	ck_assert_uint_eq(cfg->workers, 2);
	ck_assert_str_eq(cfg->hostname, "a.example");
	config_free(&cfg);
	free(msgs);
}
END_TEST

/* ---------------------------------------------------------------- dns */

static const struct dns_case {
	const char *in;
	const char *want;                /* unbound's ADDR@PORT */
} dns_cases[] = {
	{ "192.0.2.53", "192.0.2.53@53" },
	{ "192.0.2.53:5353", "192.0.2.53@5353" },
	{ "127.0.0.1:053", "127.0.0.1@53" },
	{ "::1", "::1@53" },
	{ "2001:DB8:0::53", "2001:db8::53@53" },
	{ "[2001:db8::53]", "2001:db8::53@53" },
	{ "[::1]:5353", "::1@5353" },
	{ "[::ffff:192.0.2.1]:53", "::ffff:192.0.2.1@53" },
};

START_TEST(test_dns)
{
	const struct dns_case *c = &dns_cases[_i];
	char text[256];
	struct config *cfg;
	char *msgs;
	int n;

	xsnprintf(text, sizeof(text), "[sluice]\ndns = %s\n", c->in);
	n = load_text(text, &cfg, &msgs);
	ck_assert_msg(n == 0, "'%s': got %d errors (%s), want 0", c->in, n, msgs);
	ck_assert_msg(cfg->ndns_servers == 1, "'%s': got %zu servers, want 1", c->in,
	              cfg->ndns_servers);
	ck_assert_msg(strcmp(cfg->dns_servers[0], c->want) == 0, "'%s': got %s, want %s", c->in,
	              cfg->dns_servers[0], c->want);
	config_free(&cfg);
	free(msgs);
}
END_TEST

START_TEST(test_dns_order_local_data)
{
	char path[] = "/tmp/check_config_zone_XXXXXX", text[512];
	int fd = mkstemp(path);
	struct config *cfg;
	char *msgs;
	int n;

	ck_assert_int_ge(fd, 0);
	close(fd);
	xsnprintf(text, sizeof(text), "[sluice]\ndns = 192.0.2.2\ndns_local_data = %s\n"
	          "dns = [2001:db8::2]:54\ndns = 192.0.2.1:53\ndns_timeout = 1500ms\n"
	          "score_header = X-Spam-Score\nquarantine_header = X-Held\n"
	          "filter_dir = /opt/sluice/filters\n", path);
	n = load_text(text, &cfg, &msgs);
	ck_assert_msg(n == 0, "got %d errors (%s), want 0", n, msgs);
	ck_assert_msg(cfg->ndns_servers == 3, "got %zu servers, want 3", cfg->ndns_servers);
	ck_assert_str_eq(cfg->dns_servers[0], "192.0.2.2@53");
	ck_assert_str_eq(cfg->dns_servers[1], "2001:db8::2@54");
	ck_assert_str_eq(cfg->dns_servers[2], "192.0.2.1@53");
	ck_assert_str_eq(cfg->dns_local_data, path);
	ck_assert_uint_eq(cfg->dns_timeout, 1500);
	ck_assert_str_eq(cfg->score_header, "X-Spam-Score");
	ck_assert_str_eq(cfg->quarantine_header, "X-Held");
	ck_assert_str_eq(cfg->filter_dir, "/opt/sluice/filters");
	config_free(&cfg);
	free(msgs);
	unlink(path);
}
END_TEST

/* ---------------------------------------------------------------- filters */

START_TEST(test_filters)
{
	static const char text[] =
		"[filter spf]\n"                                   /* 1 */
		"module = spf\n"
		"policy = strict\n"
		"[sluice]\n"
		"workers = 2\n"                                    /* 5 */
		"[filter rbl-2]\n"
		"  zone = zen.example   ; a comment\n"
		"module = /opt/sluice/rbl.so\n"
		"timeout = 2s\n"
		"on_error = accept\n"                              /* 10 */
		"dry_run = yes\n"
		"skip_authenticated = yes\n"
		"weight =\n"
		"zone_2 = b.example\n"
		"[filter z_0]\n"                                   /* 15 */
		"module = z\n"
		"on_error = reject\n"
		"dry_run = no\n";
	static const struct {
		const char *name, *module;
		unsigned line, timeout;
		int on_error, dry_run, skip;
		size_t nkv;
		struct { const char *key, *value; unsigned line; } kv[3];
	} want[] = {
		{ "spf", "spf", 1, 30000, 0, 0, 0, 1, { { "policy", "strict", 3 } } },
		{ "rbl-2", "/opt/sluice/rbl.so", 6, 2000, 1, 1, 1, 3,
		  { { "zone", "zen.example", 7 }, { "weight", "", 13 }, { "zone_2", "b.example", 14 } } },
		{ "z_0", "z", 15, 30000, 2, 0, 0, 0, { { NULL, NULL, 0 } } },
	};
	struct config *cfg;
	char *msgs;
	int n = load_text(text, &cfg, &msgs);

	ck_assert_msg(n == 0, "got %d errors (%s), want 0", n, msgs);
	ck_assert_uint_eq(cfg->workers, 2);
	ck_assert_msg(cfg->nfilters == ARRAY_LEN(want), "got %zu filters, want %zu", cfg->nfilters,
	              ARRAY_LEN(want));
	for (size_t i = 0; i < ARRAY_LEN(want); i++) {
		const struct config_filter *f = &cfg->filters[i];

		ck_assert_msg(strcmp(f->name, want[i].name) == 0, "filter %zu: got name %s, want %s",
		              i, f->name, want[i].name);
		ck_assert_msg(strcmp(f->module, want[i].module) == 0, "filter %zu: got module %s, "
		              "want %s", i, f->module, want[i].module);
		ck_assert_msg(f->line == want[i].line, "filter %zu: got line %u, want %u", i, f->line,
		              want[i].line);
		ck_assert_msg(f->timeout_ms == want[i].timeout, "filter %zu: got timeout %u, want %u",
		              i, f->timeout_ms, want[i].timeout);
		ck_assert_msg(f->on_error == want[i].on_error, "filter %zu: got on_error %d, want %d",
		              i, f->on_error, want[i].on_error);
		ck_assert_msg(f->dry_run == want[i].dry_run, "filter %zu: got dry_run %d, want %d",
		              i, f->dry_run, want[i].dry_run);
		ck_assert_msg(f->skip_authenticated == want[i].skip, "filter %zu: got "
		              "skip_authenticated %d, want %d", i, f->skip_authenticated, want[i].skip);
		ck_assert_msg(f->nkv == want[i].nkv, "filter %zu: got %zu keys, want %zu", i, f->nkv,
		              want[i].nkv);
		for (size_t k = 0; k < f->nkv; k++) {
			ck_assert_msg(strcmp(f->kv[k].key, want[i].kv[k].key) == 0 &&
			              strcmp(f->kv[k].value, want[i].kv[k].value) == 0 &&
			              f->kv[k].line == want[i].kv[k].line,
			              "filter %zu key %zu: got %s = '%s' on line %u, want %s = '%s' on "
			              "line %u", i, k, f->kv[k].key, f->kv[k].value, f->kv[k].line,
			              want[i].kv[k].key, want[i].kv[k].value, want[i].kv[k].line);
		}
	}
	config_free(&cfg);
	free(msgs);
}
END_TEST

/* ---------------------------------------------------------------- addresses */

static const struct addr_case {
	const char *in;
	int allow_names;
	int want_rc;
	const char *want;                /* text on success, error substring on failure */
} addr_cases[] = {
	{ "1.2.3.4:25", 0, 0, "1.2.3.4:25" },
	{ "0.0.0.0:65535", 0, 0, "0.0.0.0:65535" },
	{ "[::1]:25", 0, 0, "[::1]:25" },
	{ "[::]:2525", 0, 0, "[::]:2525" },
	{ "[2001:DB8:0:0::1]:587", 0, 0, "[2001:db8::1]:587" },
	{ "[::ffff:1.2.3.4]:25", 0, 0, "[::ffff:1.2.3.4]:25" },
	{ "1.2.3.4:025", 0, 0, "1.2.3.4:25" },
	{ "1.2.3.4", 0, -1, "missing ':PORT'" },
	{ "1.2.3.4:", 0, -1, "port must be" },
	{ "1.2.3.4:100000", 0, -1, "port must be" },
	{ "1.2.3.4:0", 0, -1, "port must be" },
	{ "::1:25", 0, -1, "brackets" },
	{ "[::1]", 0, -1, "missing ':PORT'" },
	{ "[]:25", 0, -1, "missing address" },
	{ "[1.2.3.4]:25", 1, -1, "not an IPv6 address" },
	{ "example.org:25", 0, -1, "names are not allowed" },
	{ "127.0.0.1:25", 1, 0, "127.0.0.1:25" },
	{ "[::1]:25", 1, 0, "[::1]:25" },
	{ "a b:25", 1, -1, "not an IPv4 address or a host name" },
	{ "1.2.3:25", 1, -1, "not an IPv4 address or a host name" },
};

START_TEST(test_parse_addr)
{
	const struct addr_case *c = &addr_cases[_i];
	struct config_addr addr;
	const char *err = NULL;
	int rc = config_parse_addr(c->in, c->allow_names, &addr, &err);

	ck_assert_msg(rc == c->want_rc, "'%s': got %d (%s), want %d", c->in, rc,
	              rc ? err : addr.text, c->want_rc);
	if (rc == 0)
		ck_assert_msg(strcmp(addr.text, c->want) == 0, "'%s': got %s, want %s", c->in,
		              addr.text, c->want);
	else
		ck_assert_msg(err != NULL && strstr(err, c->want) != NULL,
		              "'%s': got error \"%s\", want it to contain \"%s\"", c->in,
		              err ? err : "(null)", c->want);
}
END_TEST

START_TEST(test_addr_format)
{
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;
	struct sockaddr_un_like { sa_family_t family; char path[20]; } other = { AF_UNIX, "x" };
	char buf[64], tiny[6];

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(2525);
	inet_pton(AF_INET, "192.0.2.1", &sin.sin_addr);
	config_addr_format((struct sockaddr *)&sin, buf, sizeof(buf));
	ck_assert_msg(strcmp(buf, "192.0.2.1:2525") == 0, "got %s, want 192.0.2.1:2525", buf);

	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	sin6.sin6_port = htons(25);
	inet_pton(AF_INET6, "2001:db8::25", &sin6.sin6_addr);
	config_addr_format((struct sockaddr *)&sin6, buf, sizeof(buf));
	ck_assert_msg(strcmp(buf, "[2001:db8::25]:25") == 0, "got %s, want [2001:db8::25]:25", buf);

	config_addr_format((struct sockaddr *)&sin6, tiny, sizeof(tiny));
	ck_assert_msg(strcmp(tiny, "[2001") == 0, "truncated: got %s, want [2001", tiny);

	config_addr_format((struct sockaddr *)&other, buf, sizeof(buf));
	ck_assert_msg(strcmp(buf, "?") == 0, "AF_UNIX: got %s, want ?", buf);
}
END_TEST

/* ---------------------------------------------------------------- files */

START_TEST(test_load_file)
{
	char path[] = "/tmp/check_config_XXXXXX";
	int fd = mkstemp(path);
	static const char text[] = "[sluice]\nworkers = 3\n\nbogus = 1\n[listener a]\n";
	struct config *cfg = (struct config *)1;
	char *msgs, want[128];
	size_t len;
	FILE *errs;
	int n;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, sizeof(text) - 1), (ssize_t)(sizeof(text) - 1));
	close(fd);

	errs = open_memstream(&msgs, &len);
	n = config_load(path, errs, &cfg);
	fclose(errs);
	ck_assert_msg(n == 2, "got %d errors (%s), want 2", n, msgs);
	xsnprintf(want, sizeof(want), "%s:4: unknown key 'bogus' in [sluice]\n", path);
	ck_assert_msg(strstr(msgs, want) != NULL, "got \"%s\", want \"%s\"", msgs, want);
	xsnprintf(want, sizeof(want), "%s:5: [listener a] has no address\n", path);
	ck_assert_msg(strstr(msgs, want) != NULL, "got \"%s\", want \"%s\"", msgs, want);
	ck_assert_ptr_null(cfg);
	free(msgs);
	unlink(path);

	errs = open_memstream(&msgs, &len);
	n = config_load(path, errs, &cfg);
	fclose(errs);
	ck_assert_msg(n == 1, "missing file: got %d errors, want 1", n);
	xsnprintf(want, sizeof(want), "%s:0: cannot open: ", path);
	ck_assert_msg(strstr(msgs, want) != NULL, "got \"%s\", want \"%s\"", msgs, want);
	ck_assert_ptr_null(cfg);
	free(msgs);

	/* a NULL errs stream only counts */
	n = config_load_string("[sluice]\nbogus = 1\n", "t.conf", NULL, &cfg);
	ck_assert_msg(n == 1, "NULL errs: got %d errors, want 1", n);
}
END_TEST

/* The shipped etc/sluice.conf: SRCDIR (exported by make check), else SLUICE_SRCDIR,
 * else the source tree this file was compiled from, else the usual relative spots. */
static char *
shipped_conf_path(void)
{
	const char *dirs[6];
	size_t nd = 0;
	char here[4096];
	const char *slash;

	dirs[nd++] = getenv("SRCDIR");
	dirs[nd++] = getenv("SLUICE_SRCDIR");
#ifdef SRCDIR
	dirs[nd++] = SRCDIR;
#endif
	/* __FILE__ is ".../tests/unit/check_config.c" as given to the compiler */
	strlcpy_s(here, __FILE__, sizeof(here));
	slash = strstr(here, "tests/unit/check_config.c");
	if (slash != NULL) {
		here[slash - here] = '\0';
		dirs[nd++] = here[0] ? here : ".";
	}
	dirs[nd++] = ".";
	dirs[nd++] = "../..";
	for (size_t i = 0; i < nd; i++) {
		char path[4200];

		if (dirs[i] == NULL || dirs[i][0] == '\0')
			continue;
		xsnprintf(path, sizeof(path), "%s/etc/sluice.conf", dirs[i]);
		if (access(path, R_OK) == 0)
			return xstrdup(path);
	}
	return NULL;
}

static char *
file_read(const char *path)
{
	FILE *fp = fopen(path, "r");
	char *text;
	long len;

	ck_assert_ptr_nonnull(fp);
	fseek(fp, 0, SEEK_END);
	len = ftell(fp);
	rewind(fp);
	text = xmalloc((size_t)len + 1);
	ck_assert_int_eq(fread(text, 1, (size_t)len, fp), (size_t)len);
	text[len] = '\0';
	fclose(fp);
	return text;
}

START_TEST(test_shipped_conf)
{
	char *path = shipped_conf_path();
	struct config *cfg;
	size_t len;
	char *msgs;
	FILE *errs;
	int n;

	ck_assert_msg(path != NULL, "etc/sluice.conf: not found via SRCDIR, SLUICE_SRCDIR, "
	              "__FILE__, . or ../..; set SRCDIR to the top source directory");
	errs = open_memstream(&msgs, &len);
	n = config_load(path, errs, &cfg);
	fclose(errs);
	ck_assert_msg(n == 0, "%s: got %d errors (%s), want 0", path, n, msgs);
	ck_assert_uint_eq(cfg->nlisteners, 1);
	ck_assert_str_eq(cfg->listeners[0].addr.text, "127.0.0.1:2525");
	ck_assert_uint_eq(cfg->nbackends, 1);
	ck_assert_str_eq(cfg->backends[0].addr.text, "127.0.0.1:25");
	ck_assert_str_eq(cfg->spool_dir, "/var/spool/sluice");
	config_free(&cfg);
	free(msgs);
	free(path);
}
END_TEST

/* The defaults written in etc/sluice.conf as "#key = value" lines must be the
 * defaults in config.c: uncomment them all and compare with an empty file. */
START_TEST(test_shipped_defaults_agree)
{
	char *path = shipped_conf_path();
	struct config *cfg, *def;
	char *text, *msgs;
	int n, uncommented = 0;

	ck_assert_msg(path != NULL, "etc/sluice.conf not found; set SRCDIR");
	text = file_read(path);
	for (char *line = text; *line; ) {
		char *nl = strchr(line, '\n');

		/* "#key = value": '#' straight before a lower-case key (prose has "# ") */
		/* hostname and filter_dir have defaults only the system knows */
		if (line[0] == '#' && line[1] >= 'a' && line[1] <= 'z' &&
		    strncmp(line, "#hostname", 9) != 0 && strncmp(line, "#filter_dir", 11) != 0) {
			line[0] = ' ';
			uncommented++;
		}
		if (nl == NULL)
			break;
		line = nl + 1;
	}
	ck_assert_msg(uncommented >= 15, "got %d commented-out defaults, want every default key",
	              uncommented);
	n = load_text(text, &cfg, &msgs);
	ck_assert_msg(n == 0, "uncommented defaults: got %d errors (%s), want 0", n, msgs);
	free(msgs);
	n = load_text("", &def, &msgs);
	ck_assert_int_eq(n, 0);
	free(msgs);
#define SAME(f) ck_assert_msg(cfg->f == def->f, #f ": sluice.conf says %llu, config.c %llu", \
	                      (unsigned long long)cfg->f, (unsigned long long)def->f)
	SAME(workers); SAME(max_message_size); SAME(max_recipients); SAME(max_connections);
	SAME(max_connections_per_ip); SAME(max_errors); SAME(timeout_command); SAME(timeout_data);
	SAME(min_data_rate); SAME(greet_pause); SAME(xclient); SAME(bare_newline);
	SAME(spool_memory); SAME(backend_timeout_connect); SAME(backend_timeout_command);
	SAME(backend_timeout_data_end); SAME(backend_retry); SAME(backend_probe_interval);
	SAME(shutdown_timeout); SAME(log_level); SAME(nlisteners); SAME(nbackends);
	SAME(dns_timeout); SAME(ndns_servers); SAME(nfilters);
	SAME(backend_pool); SAME(backend_idle_timeout); SAME(auth_fail_limit);
	SAME(auth_fail_window); SAME(auth_fail_delay); SAME(backend_tls); SAME(backend_tls_verify);
#undef SAME
	ck_assert_str_eq(cfg->quarantine_header, def->quarantine_header);
	ck_assert_str_eq(cfg->score_header, def->score_header);
	ck_assert_msg(cfg->dns_local_data == NULL, "dns_local_data: sluice.conf sets it, want unset");
	ck_assert_str_eq(cfg->spool_dir, def->spool_dir);
	ck_assert_str_eq(cfg->listeners[0].addr.text, def->listeners[0].addr.text);
	ck_assert_str_eq(cfg->backends[0].addr.text, def->backends[0].addr.text);
	config_free(&cfg);
	config_free(&def);
	free(text);
	free(path);
}
END_TEST

static Suite *
config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_defaults);
	tcase_add_loop_test(tc, test_values, 0, (int)ARRAY_LEN(value_cases));
	tcase_add_test(tc, test_hostname_spool_dir);
	tcase_add_loop_test(tc, test_errors, 0, (int)ARRAY_LEN(error_cases));
	tcase_add_test(tc, test_listen_order);
	tcase_add_test(tc, test_backend_order);
	tcase_add_test(tc, test_listener_proxy);
	tcase_add_test(tc, test_listener_auth);
	tcase_add_test(tc, test_backend_identity);
	tcase_add_test(tc, test_bom_and_blank);
	tcase_add_loop_test(tc, test_dns, 0, (int)ARRAY_LEN(dns_cases));
	tcase_add_test(tc, test_dns_order_local_data);
	tcase_add_test(tc, test_filters);
	tcase_add_loop_test(tc, test_parse_addr, 0, (int)ARRAY_LEN(addr_cases));
	tcase_add_test(tc, test_addr_format);
	tcase_add_test(tc, test_load_file);
	tcase_add_test(tc, test_shipped_conf);
	tcase_add_test(tc, test_shipped_defaults_agree);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(config_suite());

	srunner_run_all(sr, CK_ENV);
	int nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf ? EXIT_FAILURE : EXIT_SUCCESS;
}
