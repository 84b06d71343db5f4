/* smtp_path.h - MAIL/RCPT path and ESMTP parameter parsing; no I/O.
 *
 * Pure like smtp_parse.h: input is a length-delimited buffer, output points into
 * it or into the caller's struct. Nothing allocates, nothing logs. */
#ifndef SLUICE_SMTP_PATH_H
#define SLUICE_SMTP_PATH_H

#include <stddef.h>
#include <stdint.h>

#include "smtp_parse.h"           /* enum smtp_err, SMTP_DOMAIN_MAX */

#define SMTP_PATH_MAX 256         /* RFC 5321 4.5.3.1.3, including <> */
#define SMTP_LOCAL_MAX 64         /* RFC 5321 4.5.3.1.1 */
#define SMTP_PARAMS_MAX 16

/* ESMTP parameters of MAIL and RCPT (RFC 5321 4.1.2 esmtp-param). */
enum smtp_param_id {
	SMTP_PARAM_OTHER = 0,
	SMTP_PARAM_SIZE,          /* RFC 1870 */
	SMTP_PARAM_BODY,          /* RFC 6152: 7BIT | 8BITMIME */
	SMTP_PARAM_SMTPUTF8,      /* RFC 6531, no value */
	SMTP_PARAM_RET,           /* RFC 3461: FULL | HDRS */
	SMTP_PARAM_ENVID,         /* RFC 3461: xtext, at most 100 chars */
	SMTP_PARAM_NOTIFY,        /* RFC 3461: NEVER | list of SUCCESS,FAILURE,DELAY */
	SMTP_PARAM_ORCPT,         /* RFC 3461: addr-type ";" xtext */
	SMTP_PARAM_AUTH,          /* RFC 4954: xtext mailbox or <> */
};

struct smtp_param {
	enum smtp_param_id id;
	const char *key;          /* as sent */
	size_t key_len;
	const char *value;        /* NULL when the parameter has no "=value" */
	size_t value_len;
};

enum smtp_path_kind { SMTP_PATH_MAIL, SMTP_PATH_RCPT };

struct smtp_path {
	const char *addr;         /* mailbox without <> and without any source route; "" = null path */
	size_t addr_len;
	int is_8bit;              /* the mailbox holds octets > 0x7f */
	int is_postmaster;        /* RCPT TO:<Postmaster> without a domain */
	struct smtp_param params[SMTP_PARAMS_MAX];
	size_t nparams;
	uint64_t size;            /* value of SIZE= when present */
	int has_size, body_8bit, smtputf8, has_dsn; /* has_dsn: RET/ENVID/NOTIFY/ORCPT present */
};

/* Parse the argument of MAIL ("FROM:<a@b> SIZE=1") or RCPT ("TO:<a@b> NOTIFY=NEVER").
 * Checks path syntax and length, known parameters' values, duplicates and the
 * parameter count. Which parameters belong to which verb: SIZE BODY SMTPUTF8 RET
 * ENVID AUTH for MAIL; NOTIFY ORCPT for RCPT; anything else is
 * SMTP_ERR_UNKNOWN_PARAM. The null path is valid only for MAIL.
 *
 * "FROM:"/"TO:" match case-insensitively and may be followed by spaces; no
 * "FROM:"/"TO:" -> SMTP_ERR_SYNTAX; a missing or malformed <path>, a bad mailbox
 * or malformed UTF-8 in it -> SMTP_ERR_BAD_ADDRESS; local part > 64, domain > 255
 * or path > 256 octets (with <> and any source route) -> SMTP_ERR_PATH_TOO_LONG;
 * control bytes -> SMTP_ERR_BAD_CHAR; text glued to '>' or a malformed keyword ->
 * SMTP_ERR_SYNTAX. Parameters are counted before any is judged, so more than
 * SMTP_PARAMS_MAX gives SMTP_ERR_TOO_MANY_PARAMS. BODY=BINARYMIME is
 * SMTP_ERR_UNKNOWN_PARAM (not offered).
 * On SMTP_ERR_UNKNOWN_PARAM, SMTP_ERR_DUP_PARAM and SMTP_ERR_BAD_PARAM_VALUE the
 * offending parameter is the last entry, params[nparams - 1] (its key for
 * "555 5.5.4 Unsupported option: KEY"); its id is SMTP_PARAM_OTHER when the key
 * is unknown or belongs to the other verb. */
enum smtp_err smtp_path_parse(enum smtp_path_kind kind, const char *arg, size_t len,
                              struct smtp_path *path_r);

#endif
