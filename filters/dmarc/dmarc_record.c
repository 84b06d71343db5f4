/* dmarc_record.c - finding and reading a DMARC policy record; libopendmarc
 * parses it, nothing here does I/O. */

/*
 * We look records up ourselves, through sluice's resolver, and hand the one we
 * chose to libopendmarc with opendmarc_policy_store_dmarc: its own lookups
 * would block the loop thread. Two things are checked here before the library
 * sees a record, because it is more lenient than RFC 7489: the version tag
 * must come first (it accepts it anywhere), and pct= must be a number (it
 * reads "pct=abc" as 0).
 *
 * The policy for a failing message comes from opendmarc_get_policy_to_enforce
 * with no SPF or DKIM result stored: with none, it answers what the record
 * asks for (sp= or p=), which is the part of its logic we want. Alignment is
 * decided in dmarc_eval.c; see the note there.
 */

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <opendmarc/dmarc.h>

#include "dmarc_record.h"

static int library_users;

static int
is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

int
dmarc_record_is_dmarc(const char *txt)
{
	const char *p = txt;

	if (*p != 'v' && *p != 'V')
		return 0;
	for (p++; is_wsp(*p); p++)
		;
	if (*p++ != '=')
		return 0;
	while (is_wsp(*p))
		p++;
	if (strncmp(p, "DMARC1", 6) != 0)
		return 0;
	for (p += 6; is_wsp(*p); p++)
		;
	return *p == '\0' || *p == ';';
}

int
dmarc_record_select(const char *const *txt, size_t n)
{
	int found = DMARC_RECORD_NONE;

	for (size_t i = 0; i < n; i++) {
		if (txt[i] == NULL || !dmarc_record_is_dmarc(txt[i]))
			continue;
		if (found != DMARC_RECORD_NONE)
			return DMARC_RECORD_SEVERAL;
		found = (int)i;
	}
	return found;
}

/* The value of tag name in record, blanks trimmed, into out; 1 when present. */
static int
tag_value(const char *record, const char *name, char *out, size_t outlen)
{
	size_t nlen = strlen(name);

	for (const char *p = record; *p != '\0';) {
		const char *end = strchr(p, ';'), *eq;

		if (end == NULL)
			end = p + strlen(p);
		while (p < end && is_wsp(*p))
			p++;
		eq = memchr(p, '=', (size_t)(end - p));
		if (eq != NULL) {
			const char *ne = eq;
			while (ne > p && is_wsp(ne[-1]))
				ne--;
			if ((size_t)(ne - p) == nlen && strncasecmp(p, name, nlen) == 0) {
				const char *v = eq + 1, *ve = end;
				size_t n;

				while (v < ve && is_wsp(*v))
					v++;
				while (ve > v && is_wsp(ve[-1]))
					ve--;
				n = (size_t)(ve - v) < outlen ? (size_t)(ve - v) : outlen - 1;
				memcpy(out, v, n);
				out[n] = '\0';
				return 1;
			}
		}
		p = *end ? end + 1 : end;
	}
	return 0;
}

/* RFC 7489 6.3 dmarc-percent: 1*3DIGIT, at most 100. */
static int
pct_ok(const char *v)
{
	size_t n = strlen(v);
	int x = 0;

	if (n == 0 || n > 3)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return 0;
		x = 10 * x + (v[i] - '0');
	}
	return x <= 100;
}

/* At least one syntactically valid URI in a rua= list (6.6.3 step 5): a
 * scheme (RFC 3986 3.1), ':', and something without blanks. */
static int
rua_has_uri(const char *list)
{
	for (const char *p = list; *p != '\0';) {
		const char *end = strchr(p, ',');
		const char *q;
		int ok;

		if (end == NULL)
			end = p + strlen(p);
		while (p < end && is_wsp(*p))
			p++;
		q = p;
		ok = q < end && ((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z'));
		for (; ok && q < end && *q != ':'; q++)
			ok = (*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') ||
			     (*q >= '0' && *q <= '9') || *q == '+' || *q == '-' || *q == '.';
		if (ok && q < end && *q == ':' && q + 1 < end) {
			const char *e = end;
			while (e > q && is_wsp(e[-1]))
				e--;
			for (q++; q < e && !is_wsp(*q); q++)
				;
			if (q == e && e > p)
				return 1;
		}
		p = *end ? end + 1 : end;
	}
	return 0;
}

int
dmarc_record_library_init(void)
{
	OPENDMARC_LIB_T lib;

	if (library_users > 0) {
		library_users++;
		return 0;
	}
	/* No TLD file and no name servers: the library does neither DNS nor
	 * Organizational Domains for us. */
	memset(&lib, 0, sizeof(lib));
	lib.tld_type = OPENDMARC_TLD_TYPE_NONE;
	if (opendmarc_policy_library_init(&lib) != DMARC_PARSE_OKAY)
		return -1;
	library_users = 1;
	return 0;
}

void
dmarc_record_library_shutdown(void)
{
	OPENDMARC_LIB_T lib;

	if (library_users == 0 || --library_users > 0)
		return;
	memset(&lib, 0, sizeof(lib));
	opendmarc_policy_library_shutdown(&lib);
}

static enum dmarc_p
from_library(int v)
{
	switch (v) {
	case DMARC_RECORD_P_NONE:
	case DMARC_POLICY_NONE:
		return DMARC_P_NONE;
	case DMARC_RECORD_P_QUARANTINE:
	case DMARC_POLICY_QUARANTINE:
		return DMARC_P_QUARANTINE;
	case DMARC_RECORD_P_REJECT:
	case DMARC_POLICY_REJECT:
		return DMARC_P_REJECT;
	default:
		return DMARC_P_UNSET;
	}
}

/* One pass through the library; 0, or the library's status. */
static int
library_parse(const char *text, const char *from_domain, const char *org_domain,
              struct dmarc_record *r)
{
	DMARC_POLICY_T *pctx = opendmarc_policy_connect_init((u_char *)"0.0.0.0", 0);
	int st, p = 0, sp = 0, pct = 0, adkim = 0, aspf = 0;

	if (pctx == NULL)
		return DMARC_PARSE_ERROR_NO_ALLOC;
	st = opendmarc_policy_store_from_domain(pctx, (u_char *)from_domain);
	if (st == DMARC_PARSE_OKAY)
		st = opendmarc_policy_store_dmarc(pctx, (u_char *)text, (u_char *)from_domain,
		                                  (u_char *)org_domain);
	if (st == DMARC_PARSE_OKAY) {
		opendmarc_policy_fetch_p(pctx, &p);
		opendmarc_policy_fetch_sp(pctx, &sp);
		opendmarc_policy_fetch_pct(pctx, &pct);
		opendmarc_policy_fetch_adkim(pctx, &adkim);
		opendmarc_policy_fetch_aspf(pctx, &aspf);
		r->p = from_library(p);
		r->sp = from_library(sp);
		r->requested = from_library(opendmarc_get_policy_to_enforce(pctx));
		r->pct = pct < 0 ? 100 : pct > 100 ? 100 : pct;
		r->adkim_strict = adkim == DMARC_RECORD_A_STRICT;
		r->aspf_strict = aspf == DMARC_RECORD_A_STRICT;
		if (r->p == DMARC_P_UNSET || r->requested == DMARC_P_UNSET)
			st = DMARC_PARSE_ERROR_NO_REQUIRED_P;
	}
	opendmarc_policy_connect_shutdown(pctx);
	return st;
}

int
dmarc_record_parse(const char *text, const char *from_domain, const char *org_domain,
                   struct dmarc_record *r, const char **why_r)
{
	char value[512];
	int st;

	memset(r, 0, sizeof(*r));
	*why_r = NULL;
	if (!dmarc_record_is_dmarc(text)) {
		*why_r = "not a DMARC record";
		return -1;
	}
	if (tag_value(text, "pct", value, sizeof(value)) && !pct_ok(value))
		st = DMARC_PARSE_ERROR_BAD_VALUE;
	else
		st = library_parse(text, from_domain, org_domain, r);
	if (st == DMARC_PARSE_OKAY)
		return 0;
	*why_r = st == DMARC_PARSE_ERROR_NO_REQUIRED_P ? "no p= in the record" : "bad value in the record";
	if (!tag_value(text, "rua", value, sizeof(value)) || !rua_has_uri(value))
		return -1;
	memset(r, 0, sizeof(*r));
	if (library_parse("v=DMARC1; p=none", from_domain, org_domain, r) != DMARC_PARSE_OKAY)
		return -1;
	r->p_none_by_rua = 1;
	return 0;
}

const char *
dmarc_p_name(enum dmarc_p p)
{
	static const char *const names[] = { "", "none", "quarantine", "reject" };

	return (unsigned)p < sizeof(names) / sizeof(names[0]) ? names[p] : "";
}
