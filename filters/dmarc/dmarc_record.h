/* dmarc_record.h - finding and reading a DMARC policy record (RFC 7489 6.3,
 * 6.6.3): libopendmarc parses it; nothing here does I/O. */
#ifndef DMARC_RECORD_H
#define DMARC_RECORD_H

#include <stddef.h>

/* A policy word: p= and sp= of a record, and the disposition applied. */
enum dmarc_p {
	DMARC_P_UNSET = 0,
	DMARC_P_NONE,
	DMARC_P_QUARANTINE,
	DMARC_P_REJECT,
};

struct dmarc_record {
	enum dmarc_p p;
	enum dmarc_p sp;          /* DMARC_P_UNSET: the record has none */
	enum dmarc_p requested;   /* for a failing message from this From domain: sp when
	                           * the record came from the Organizational Domain and
	                           * has one, else p */
	int pct;                  /* 0..100 */
	int adkim_strict;
	int aspf_strict;
	int p_none_by_rua;        /* the record was broken but named a report address:
	                           * read as "v=DMARC1; p=none" (6.6.3 step 5) */
};

/* Returned by dmarc_record_select. */
#define DMARC_RECORD_NONE (-1)
#define DMARC_RECORD_SEVERAL (-2)

/* 1 when txt starts with the version tag "v=DMARC1" (6.6.3 step 3). */
int dmarc_record_is_dmarc(const char *txt);

/* Among the TXT records of one name (each the concatenation of its strings),
 * the index of the one DMARC record; DMARC_RECORD_NONE when there is none,
 * DMARC_RECORD_SEVERAL when there are more than one (6.6.3 step 4: then no
 * DMARC processing). */
int dmarc_record_select(const char *const *txt, size_t n);

/* libopendmarc's one-time setup: on the main thread, before any parse (init).
 * Counted: as many shutdowns as successful inits. Returns 0 or -1. */
int dmarc_record_library_init(void);
void dmarc_record_library_shutdown(void);

/* Reads text, the record found for from_domain: at from_domain itself
 * (org_domain NULL) or at its Organizational Domain org_domain. Returns 0 and
 * fills r; -1 when the record cannot be used (a bad or missing p=, any bad
 * value, and no valid rua= to fall back on), with a short reason in *why_r.
 * Any thread; never does DNS (it does not ask libopendmarc for rua/ruf, which
 * would). */
int dmarc_record_parse(const char *text, const char *from_domain, const char *org_domain,
                       struct dmarc_record *r, const char **why_r);

/* "none", "quarantine", "reject" ("" for DMARC_P_UNSET). */
const char *dmarc_p_name(enum dmarc_p p);

#endif
