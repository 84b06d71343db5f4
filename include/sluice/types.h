/* sluice/types.h - small value types shared by the filter ABI headers. */
#ifndef SLUICE_TYPES_H
#define SLUICE_TYPES_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Opaque: one filter's view of one client session, valid for the duration of a
 * hook call, and while the hook is pending (until it is resumed or its scope ends).
 * Every host function that takes it refuses a ctx of an ended scope. */
struct sluice_ctx;

/* Opaque: the filter's section of the configuration, valid during init only. */
struct sluice_filter_config;

/* Token for resuming a pending hook; identifies session, transaction and call, so
 * a late resume (after RSET, end of transaction or disconnect) is recognised and
 * dropped. 0 is never a valid token. */
typedef uint64_t sluice_resume_t;

/* The verdict of a hook. One-to-one with milter (libmilter's SMFIS_* and the
 * quarantine action):
 *   SLUICE_CONTINUE    SMFIS_CONTINUE   go on with the next filter
 *   SLUICE_ACCEPT      SMFIS_ACCEPT     accept: skip the rest of the chain, every
 *                                       filter, for this transaction (for the
 *                                       session, at connect and helo)
 *   SLUICE_REJECT      SMFIS_REJECT     5xx: refuse this command (this recipient at
 *                                       rcpt; the message at data/header/body/eom;
 *                                       the connection at connect)
 *   SLUICE_TEMPFAIL    SMFIS_TEMPFAIL   4xx, same scope as reject
 *   SLUICE_DISCARD     SMFIS_DISCARD    answer 250 but do not deliver the message
 *   SLUICE_QUARANTINE  smfi_quarantine  deliver, marked or diverted as configured;
 *                      (SMFIR_QUARANTINE) the chain goes on
 *   SLUICE_PENDING     (SMFIR_PROGRESS) the answer comes later, through
 *                                       host->resume(); see filter.h
 */
enum sluice_verdict {
	SLUICE_CONTINUE = 0,
	SLUICE_ACCEPT,
	SLUICE_REJECT,
	SLUICE_TEMPFAIL,
	SLUICE_DISCARD,
	SLUICE_QUARANTINE,
	SLUICE_PENDING,
};

enum sluice_log_level {
	SLUICE_LOG_ERROR = 0,     /* the filter cannot do its job */
	SLUICE_LOG_WARNING,       /* recovered */
	SLUICE_LOG_INFO,          /* one line per decision worth reading */
	SLUICE_LOG_DEBUG,         /* tracing */
};

/* Where a note or a store key lives. */
enum sluice_scope {
	SLUICE_SCOPE_SESSION = 0, /* until disconnect */
	SLUICE_SCOPE_TX,          /* until RSET or the end of the message */
};

/* Outcome of an asynchronous request (DNS, work, timer, store). Each request's
 * callback runs exactly once, on the loop thread: with a result, or with
 * SLUICE_ASYNC_CANCELLED when the scope it was made in ended first (then the ctx
 * is NULL; only free what you own). */
enum sluice_async_status {
	SLUICE_ASYNC_OK = 0,
	SLUICE_ASYNC_NXDOMAIN,    /* DNS: the name does not exist */
	SLUICE_ASYNC_NODATA,      /* DNS: the name exists, no record of that type */
	SLUICE_ASYNC_TEMPFAIL,    /* DNS SERVFAIL, store unreachable, ... */
	SLUICE_ASYNC_TIMEOUT,
	SLUICE_ASYNC_CANCELLED,
};

/* DNS record types the host resolves (IANA values). */
enum sluice_dns_type {
	SLUICE_DNS_A = 1,
	SLUICE_DNS_PTR = 12,
	SLUICE_DNS_MX = 15,
	SLUICE_DNS_TXT = 16,
	SLUICE_DNS_AAAA = 28,
};

/* One DNS answer, valid during the callback only. For A/AAAA each record is the
 * printable address; for PTR the name (lower case, no trailing dot); for MX
 * "PREFERENCE NAME"; for TXT the character-strings of one record concatenated
 * (RFC 7208 3.3, RFC 6376 3.6.2.2). */
struct sluice_dns_answer {
	enum sluice_async_status status;
	size_t count;
	const char *const *records;
	uint32_t ttl;             /* seconds, the smallest of the answer */
};

#ifdef __cplusplus
}
#endif

#endif
