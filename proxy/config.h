/* config.h - sluice.conf (INI, parsed by inih) into one immutable struct.
 * Addresses: config_addr.h; the [sluice] keys and their values: config_keys.c. */
#ifndef SLUICE_CONFIG_H
#define SLUICE_CONFIG_H

#include <stddef.h>
#include <stdio.h>
#include <sys/socket.h>

#include "config_addr.h"      /* struct config_addr, config_parse_addr, config_addr_format */

struct tls_server;
struct ssl_ctx_st;

struct config_listener {
	char *name;               /* section name, or "listen:N" for a `listen =` line */
	struct config_addr addr;
	int proxy_protocol;       /* enum proxy_proto_mode (proxy_proto.h); default no */
	unsigned proxy_timeout;   /* for the whole PROXY header; default 5 s */
	struct config_cidr *trusted;   /* who may send PROXY headers; default none */
	size_t ntrusted;
	int role;                 /* enum config_role; default mx. submission: auth
	                           * defaults to required */
	int auth;                 /* enum config_auth; default none (mx), required
	                           * (submission) */
	int auth_without_tls;     /* enum config_auth_plain: AUTH offered without TLS;
	                           * default no */
	int tls_mode;             /* enum config_tls (`tls`); default none */
	struct config_tls_pair *tls_pairs;  /* tls_cert/tls_key pairs in file order; the
	                           * first is the default certificate */
	size_t ntls_pairs;
	int tls_min_version;      /* enum config_tls_version; default TLSv1.2 */
	char *tls_ciphers;        /* OpenSSL cipher list for TLS <= 1.2; NULL = OpenSSL's */
	struct tls_server *tls;   /* contexts built at load (tls.h); NULL when tls = none */
};

enum config_role { CONFIG_ROLE_MX = 0, CONFIG_ROLE_SUBMISSION };
enum config_auth {
	CONFIG_AUTH_NONE = 0,     /* AUTH not offered */
	CONFIG_AUTH_OPTIONAL,     /* offered (passed through to the backend) */
	CONFIG_AUTH_REQUIRED,     /* offered, and MAIL before it gets 530 5.7.0 */
};
enum config_auth_plain { CONFIG_AUTH_PLAIN_NO = 0, CONFIG_AUTH_PLAIN_LOOPBACK, CONFIG_AUTH_PLAIN_YES };
enum config_tls {
	CONFIG_TLS_NONE = 0,
	CONFIG_TLS_OPTIONAL,      /* STARTTLS offered */
	CONFIG_TLS_REQUIRED,      /* offered, and MAIL is refused before it */
	CONFIG_TLS_IMPLICIT,      /* TLS from the first octet (port 465, RFC 8314) */
};
enum config_tls_version { CONFIG_TLS_V1_2 = 0, CONFIG_TLS_V1_3 };

struct config_tls_pair {
	char *cert;               /* PEM chain file, as written */
	char *key;                /* PEM private key file */
	unsigned cert_line, key_line;
};

/* How a backend learns who the real client is (`backend = HOST:PORT identity=...`). */
enum config_identity {
	CONFIG_IDENTITY_AUTO = 0, /* XCLIENT if offered (and xclient allows), else XFORWARD
	                           * if offered (xclient = auto), else nothing */
	CONFIG_IDENTITY_XCLIENT,  /* XCLIENT, required */
	CONFIG_IDENTITY_XFORWARD, /* XFORWARD before each MAIL, required */
	CONFIG_IDENTITY_NONE,     /* neither: the backend sees sluice */
};

struct config_backend {
	char *host;               /* as written (IP literal or name) */
	char *port;
	struct config_addr addr;  /* resolved once at load time */
	int identity;             /* enum config_identity */
};

/* One of a filter's own keys, handed to it at init (loader.c). */
struct config_kv {
	char *key;
	char *value;              /* as written; may be "" */
	unsigned line;
};

/* Core keys of a filter section, in the order of core_line[]. */
enum config_filter_core {
	CONFIG_FILTER_MODULE = 0, CONFIG_FILTER_TIMEOUT, CONFIG_FILTER_ON_ERROR,
	CONFIG_FILTER_DRY_RUN, CONFIG_FILTER_SKIP_AUTHENTICATED, CONFIG_FILTER_NCORE
};

/* One [filter NAME] section; cfg->filters holds them in file (= chain) order. */
struct config_filter {
	char *name;               /* NAME: [a-z0-9_-]+, unique */
	char *module;             /* required: a name (<filter_dir>/<module>.so) or a path */
	unsigned line;            /* of the section header */
	unsigned timeout_ms;      /* `timeout`, default 30 s */
	int on_error;             /* enum filter_on_error (loader.h): 0 tempfail (default),
	                           * 1 accept, 2 reject */
	int dry_run;              /* yes|no, default no */
	int skip_authenticated;   /* yes|no, default no */
	struct config_kv *kv;     /* every other key, in file order; validated by the filter */
	size_t nkv;
	unsigned core_line[CONFIG_FILTER_NCORE]; /* line of each core key; 0 = not given */
};

enum config_xclient { CONFIG_XCLIENT_AUTO = 0, CONFIG_XCLIENT_YES, CONFIG_XCLIENT_NO };
enum config_bare_newline { CONFIG_BARE_NEWLINE_REJECT = 0, CONFIG_BARE_NEWLINE_NORMALIZE };
enum config_backend_tls {
	CONFIG_BACKEND_TLS_NO = 0,
	CONFIG_BACKEND_TLS_OPPORTUNISTIC, /* STARTTLS when offered, unauthenticated (RFC 7435);
	                                   * a failed handshake: plain on a new connection */
	CONFIG_BACKEND_TLS_REQUIRED,      /* no STARTTLS or a failed handshake (or verification):
	                                   * the backend is unusable, like a failed connect */
};

/* Every duration is in milliseconds, every size in octets. Defaults in config.c and
 * in etc/sluice.conf, which must agree. */
struct config {
	char *path;

	struct config_listener *listeners;
	size_t nlisteners;
	struct config_backend *backends;
	size_t nbackends;

	char *hostname;                 /* default: gethostname() */
	unsigned workers;               /* 0 = auto: one per core */

	size_t max_message_size;        /* default 25 MiB */
	unsigned max_recipients;        /* default 1000; never below 100 (RFC 5321) */
	unsigned max_connections;       /* default 1000 */
	unsigned max_connections_per_ip;/* default 20 */
	unsigned max_errors;            /* protocol errors before 421; default 10 */

	unsigned timeout_command;       /* default 300 s */
	unsigned timeout_data;          /* silence allowed inside DATA; default 180 s */
	unsigned min_data_rate;         /* octets/s during DATA/BDAT; default 500; 0 = off */
	unsigned greet_pause;           /* wait before the banner, to catch early talkers; default 0 */

	enum config_xclient xclient;
	enum config_bare_newline bare_newline;

	char *spool_dir;                /* default "/var/spool/sluice" */
	size_t spool_memory;            /* message octets held in memory before spooling; default 128 KiB */

	unsigned backend_timeout_connect;  /* default 30 s */
	unsigned backend_timeout_command;  /* default 300 s */
	unsigned backend_timeout_data_end; /* reply to the final dot; default 600 s */
	unsigned backend_retry;            /* a down backend is skipped this long; default 10 s */
	unsigned backend_probe_interval;   /* capability refresh; default 60 s */
	unsigned auth_fail_limit;          /* failed AUTH per client address per window, then
	                                    * 421 4.7.0; default 5; 0 = no limit */
	unsigned auth_fail_window;         /* default 15 min */
	unsigned auth_fail_delay;          /* each failure's reply waits this times the
	                                    * failures so far; default 1 s */
	unsigned backend_pool;             /* idle backend connections kept per loop; default 8; 0 = none */
	unsigned backend_idle_timeout;     /* an idle pooled connection is closed after; default 10 s */
	int backend_tls;                   /* enum config_backend_tls; default no */
	char *backend_tls_ca;              /* PEM CA file; NULL = the system store (default) */
	int backend_tls_verify;            /* yes|no (1|0): with required, check the chain and
	                                    * the backend's name or address; default yes */
	struct ssl_ctx_st *backend_tls_ctx;/* built at load when backend_tls != no (tls.h) */

	unsigned shutdown_timeout;      /* SIGTERM: bound for sessions to finish; default 30 s */

	int log_level;                  /* enum log_level; default info */

	char *filter_dir;               /* where `module = NAME` is looked up; default PKGLIBDIR */
	struct config_filter *filters;  /* [filter NAME] sections, in chain order */
	size_t nfilters;

	char **dns_servers;             /* `dns` lines as "ADDR@PORT" (unbound's form);
	                                 * none: the system's resolv.conf */
	size_t ndns_servers;
	unsigned dns_timeout;           /* default 5 s */
	unsigned work_threads;          /* threads for filters' blocking work; default 4 */
	char *dns_local_data;           /* zone-file records served first; NULL = none */

	char *score_header;             /* "" = no score header (never NULL) */
	char *quarantine_header;        /* default "X-Sluice-Quarantine" */
	char *quarantine_rcpt;          /* quarantined mail goes only here; NULL = keep recipients */
	char *authserv_id;              /* Authentication-Results authserv-id; default hostname;
	                                 * "none": sluice writes none and removes none */
};

/* Parse the file at path. Each problem is printed to errs as "path:line: message"
 * (line 0 when it concerns the whole file). Returns the number of errors; on zero
 * errors *cfg_r holds a fully defaulted config the caller owns (config_free), else
 * *cfg_r is NULL. Blocking (resolves backend names); call before threads start. */
int config_load(const char *path, FILE *errs, struct config **cfg_r);

/* Same, from a string (used by tests); path is used only in messages. */
int config_load_string(const char *text, const char *path, FILE *errs, struct config **cfg_r);

void config_free(struct config **cfg);

#endif
