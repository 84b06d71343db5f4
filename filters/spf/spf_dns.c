/* spf_dns.c - libspf2's DNS layer over our resolver, with RFC 7208's limits. */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "spf_dns.h"

/* libspf2 calls the layer with no argument of ours, on the thread that runs
 * the evaluation. */
static _Thread_local struct spf_dns_eval *eval_current;

/* How a lookup relates to RFC 7208's count of DNS-querying terms. */
enum lookup_kind {
	LOOKUP_TOP,                 /* the record of the domain being checked */
	LOOKUP_TERM,                /* a, mx, ptr, exists, include, redirect */
	LOOKUP_NAME,                /* an address of an MX or PTR name just returned */
	LOOKUP_MACRO,               /* the PTR lookup of the %{p} macro */
};

/* ---------------------------------------------------------------- names, records */

int
spf_dns_name_clean(const char *name, char *out)
{
	size_t len = strlen(name), label = 0;

	if (len > 0 && name[len - 1] == '.')
		len--;
	/* RFC 7208 4.8: drop whole labels from the left until it fits. */
	while (len > SPF_DOMAIN_MAX) {
		const char *dot = memchr(name, '.', len);
		if (dot == NULL)
			return -1;
		len -= (size_t)(dot + 1 - name);
		name = dot + 1;
	}
	if (len == 0)
		return -1;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];
		if (c == '.') {
			if (label == 0)
				return -1;
			label = 0;
		} else if (c <= ' ' || c >= 0x7f || ++label > 63) {
			return -1;
		}
	}
	if (label == 0)
		return -1;
	memcpy(out, name, len);
	out[len] = '\0';
	return 0;
}

int
spf_dns_txt_is_spf(const char *txt)
{
	return strncasecmp(txt, "v=spf1", 6) == 0 && (txt[6] == ' ' || txt[6] == '\0');
}

int
spf_dns_txt_fits(const char *txt)
{
	size_t term = 0, len = 0;

	for (; txt[len] != '\0'; len++) {
		if (len >= SPF_RECORD_MAX)
			return 0;
		term = txt[len] == ' ' ? 0 : term + 1;
		if (term > SPF_TERM_MAX)
			return 0;
	}
	return 1;
}

/* ---------------------------------------------------------------- macros */

static const char *
macro_value(const struct spf_macro_vals *v, const char *d, char letter)
{
	switch (tolower((unsigned char)letter)) {
	case 's': return v->s;
	case 'l': return v->l;
	case 'o': return v->o;
	case 'd': return d;
	case 'i': return v->i;
	case 'h': return v->h;
	case 'v': return v->v;
	case 'r': return v->r;
	default: return NULL;   /* p: known once expanded; c, t: explanations only */
	}
}

/* Parts of value split at any of the delimiters (RFC 7208 7.3; "." if none). */
static size_t
macro_parts(const char *value, const char *delims, size_t ndelims)
{
	size_t n = 1;

	if (ndelims == 0) {
		delims = ".";
		ndelims = 1;
	}
	for (; *value != '\0'; value++)
		if (memchr(delims, *value, ndelims) != NULL)
			n++;
	return n;
}

/* At "%{": the macro's end when its count covers every part of a known
 * value (so that the count may go), else NULL. *digits_r, *after_r: where
 * the count starts and ends. */
static const char *
macro_whole(const char *m, const struct spf_macro_vals *v, const char *d,
            const char **digits_r, const char **after_r)
{
	const char *digits = m + 3, *q = digits, *delims, *end, *value;
	unsigned long n = 0;

	if (m[2] == '\0')
		return NULL;
	for (; *q >= '0' && *q <= '9'; q++)
		if (n < 1000)
			n = n * 10 + (unsigned long)(*q - '0');
	if (q == digits || (end = strchr(q, '}')) == NULL ||
	    (value = macro_value(v, d, m[2])) == NULL)
		return NULL;
	delims = *q == 'r' || *q == 'R' ? q + 1 : q;
	if (n < macro_parts(value, delims, (size_t)(end - delims)))
		return NULL;
	*digits_r = digits;
	*after_r = q;
	return end;
}

int
spf_dns_macro_fix(char *rec, const struct spf_macro_vals *v, const char *d)
{
	const char *r = rec, *digits, *after, *end;
	char *w = rec;
	int fixed = 0;

	while (*r != '\0') {
		if (r[0] == '%' && r[1] == '{' &&
		    (end = macro_whole(r, v, d, &digits, &after)) != NULL) {
			memmove(w, r, (size_t)(digits - r));
			w += digits - r;
			memmove(w, after, (size_t)(end + 1 - after));
			w += end + 1 - after;
			r = end + 1;
			fixed++;
		} else if (r[0] == '%' && r[1] != '\0') {
			*w++ = *r++;            /* "%%", "%_", "%-": never a macro */
			*w++ = *r++;
		} else {
			*w++ = *r++;
		}
	}
	*w = '\0';
	return fixed;
}

/* ---------------------------------------------------------------- records */

static int
rr_add_string(SPF_dns_rr_t *rr, const char *s)
{
	size_t len = strlen(s);

	if (SPF_dns_rr_buf_realloc(rr, rr->num_rr, len + 1) != SPF_E_SUCCESS)
		return -1;
	memcpy(rr->rr[rr->num_rr]->txt, s, len + 1);
	rr->num_rr++;
	return 0;
}

/* "PREFERENCE NAME" -> NAME; NULL for the null MX (RFC 7505) or junk. */
static const char *
mx_name(const char *rec, char *buf)
{
	while (isdigit((unsigned char)*rec))
		rec++;
	while (*rec == ' ')
		rec++;
	if (spf_dns_name_clean(rec, buf) < 0)
		return NULL;
	return buf;
}

static int
rr_add(SPF_dns_rr_t *rr, ns_type type, const char *rec)
{
	char name[SPF_DNS_NAME_BUF];
	struct in_addr a4;
	struct in6_addr a6;

	switch (type) {
	case ns_t_a:
		if (inet_pton(AF_INET, rec, &a4) != 1)
			return 0;
		if (SPF_dns_rr_buf_realloc(rr, rr->num_rr, sizeof(a4)) != SPF_E_SUCCESS)
			return -1;
		rr->rr[rr->num_rr++]->a = a4;
		return 0;
	case ns_t_aaaa:
		if (inet_pton(AF_INET6, rec, &a6) != 1)
			return 0;
		if (SPF_dns_rr_buf_realloc(rr, rr->num_rr, sizeof(a6)) != SPF_E_SUCCESS)
			return -1;
		rr->rr[rr->num_rr++]->aaaa = a6;
		return 0;
	case ns_t_mx:
		return mx_name(rec, name) != NULL ? rr_add_string(rr, name) : 0;
	case ns_t_ptr:
		if (rr->num_rr >= SPF_MAX_NAMES || spf_dns_name_clean(rec, name) < 0)
			return 0;
		return rr_add_string(rr, name);
	case ns_t_txt:
		/* Only SPF records: libspf2 looks at nothing else (explanations do
		 * not come through here, see dns_get_exp). */
		return spf_dns_txt_is_spf(rec) ? rr_add_string(rr, rec) : 0;
	default:
		return 0;
	}
}

SPF_dns_rr_t *
spf_dns_rr_build(SPF_dns_server_t *layer, const char *name, ns_type type,
                 const struct sluice_dns_answer *answer)
{
	SPF_dns_stat_t herrno;
	SPF_dns_rr_t *rr;

	switch (answer->status) {
	case SLUICE_ASYNC_OK:
		herrno = NETDB_SUCCESS;
		break;
	case SLUICE_ASYNC_NXDOMAIN:
		herrno = HOST_NOT_FOUND;
		break;
	case SLUICE_ASYNC_NODATA:
		herrno = NO_DATA;
		break;
	default:
		herrno = TRY_AGAIN;
		break;
	}
	rr = SPF_dns_rr_new_init(layer, name, type, (int)answer->ttl, herrno);
	if (rr == NULL || herrno != NETDB_SUCCESS)
		return rr;
	for (size_t i = 0; i < answer->count; i++)
		if (answer->records[i] != NULL && rr_add(rr, type, answer->records[i]) < 0) {
			SPF_dns_rr_free(rr);
			return NULL;
		}
	/* libspf2 reads "success, no records" as a broken TXT answer (result
	 * "invalid"); what it means is "no data". */
	if (rr->num_rr == 0)
		rr->herrno = NO_DATA;
	return rr;
}

/* ---------------------------------------------------------------- the evaluation */

void
spf_dns_eval_begin(struct spf_dns_eval *ev, const struct spf_resolver *res,
                   const struct spf_macro_vals *macros)
{
	memset(ev, 0, sizeof(*ev));
	ev->res = res;
	ev->macros = macros;
	eval_current = ev;
}

void
spf_dns_eval_end(const struct spf_dns_eval *ev)
{
	if (eval_current == ev)
		eval_current = NULL;
}

/*
 * libspf2 makes its lookups in a fixed order, so the layer can tell a term's own
 * query from the address lookups that follow an MX or PTR answer: those ask,
 * right away and in order, for the names that answer returned. PTR lookups of
 * the ptr mechanism are cached, those of the %{p} macro are not.
 */
static enum lookup_kind
lookup_classify(struct spf_dns_eval *ev, const char *name, ns_type type, int should_cache)
{
	if ((type == ns_t_a || type == ns_t_aaaa) && ev->next_name < ev->nnames &&
	    strcasecmp(ev->names[ev->next_name], name) == 0) {
		ev->next_name++;
		return LOOKUP_NAME;
	}
	ev->nnames = ev->next_name = 0;
	if (type == ns_t_txt && !ev->top_seen) {
		ev->top_seen = 1;
		return LOOKUP_TOP;
	}
	if (type == ns_t_ptr && !should_cache)
		return LOOKUP_MACRO;
	return LOOKUP_TERM;
}

static void
names_remember(struct spf_dns_eval *ev, const SPF_dns_rr_t *rr)
{
	ev->nnames = ev->next_name = 0;
	for (int i = 0; i < rr->num_rr && ev->nnames < SPF_MAX_NAMES; i++) {
		size_t len = strlen(rr->rr[i]->ptr);
		if (len < SPF_DNS_NAME_BUF)
			memcpy(ev->names[ev->nnames++], rr->rr[i]->ptr, len + 1);
	}
}

static int
answer_is_void(const struct sluice_dns_answer *a)
{
	return a->status == SLUICE_ASYNC_NXDOMAIN || a->status == SLUICE_ASYNC_NODATA ||
	       (a->status == SLUICE_ASYNC_OK && a->count == 0);
}

static int
answer_too_long(const struct sluice_dns_answer *a)
{
	for (size_t i = 0; a->status == SLUICE_ASYNC_OK && i < a->count; i++)
		if (a->records[i] != NULL && spf_dns_txt_is_spf(a->records[i]) &&
		    !spf_dns_txt_fits(a->records[i]))
			return 1;
	return 0;
}

static enum sluice_dns_type
type_of(ns_type type)
{
	switch (type) {
	case ns_t_a: return SLUICE_DNS_A;
	case ns_t_aaaa: return SLUICE_DNS_AAAA;
	case ns_t_mx: return SLUICE_DNS_MX;
	case ns_t_ptr: return SLUICE_DNS_PTR;
	case ns_t_txt: return SLUICE_DNS_TXT;
	default: return 0;
	}
}

/* A lookup of a DNS-querying term begins: -1 when it is one too many. */
static int
term_begin(struct spf_dns_eval *ev, enum lookup_kind kind)
{
	if (kind == LOOKUP_TERM && ev->terms++ == SPF_MAX_TERMS)
		ev->limit = SPF_LIMIT_TERMS;
	return ev->limit != SPF_LIMIT_NONE ? -1 : 0;
}

/* The lookup found nothing: for a term, a void lookup. */
static void
term_void(struct spf_dns_eval *ev, enum lookup_kind kind)
{
	if (kind == LOOKUP_TERM && ev->voids++ == SPF_MAX_VOIDS)
		ev->limit = SPF_LIMIT_VOIDS;
}

/* The answer for name, or NULL to tell libspf2 "try again" (a failed lookup, a
 * limit reached). */
static struct sluice_dns_answer *
eval_query(struct spf_dns_eval *ev, const char *name, ns_type type, enum lookup_kind kind)
{
	struct sluice_dns_answer *a;

	ev->queries++;
	a = ev->res->query(name, type_of(type));
	if (a == NULL) {
		ev->dns_failed = 1;
		return NULL;
	}
	if (a->status != SLUICE_ASYNC_OK && a->status != SLUICE_ASYNC_NXDOMAIN &&
	    a->status != SLUICE_ASYNC_NODATA)
		ev->dns_failed = 1;
	else if (answer_is_void(a))
		term_void(ev, kind);
	else if (type == ns_t_txt && answer_too_long(a))
		ev->limit = SPF_LIMIT_RECORD;
	if (ev->dns_failed || ev->limit != SPF_LIMIT_NONE) {
		ev->res->answer_free(a);
		return NULL;
	}
	return a;
}

static SPF_dns_rr_t *
rr_status(SPF_dns_server_t *layer, const char *name, ns_type type, SPF_dns_stat_t herrno)
{
	return SPF_dns_rr_new_init(layer, name, type, 0, herrno);
}

static SPF_dns_rr_t *
dns_lookup(SPF_dns_server_t *layer, const char *domain, ns_type type, int should_cache)
{
	struct spf_dns_eval *ev = eval_current;
	struct sluice_dns_answer *a;
	char name[SPF_DNS_NAME_BUF];
	enum lookup_kind kind;
	SPF_dns_rr_t *rr;

	/* The SPF RR type (99) is obsolete (RFC 7208 3.1); neither it nor any type
	 * we do not resolve counts as a lookup. */
	if (type_of(type) == 0)
		return rr_status(layer, domain, type, NO_DATA);
	if (ev == NULL || ev->dns_failed || ev->limit != SPF_LIMIT_NONE)
		return rr_status(layer, domain, type, TRY_AGAIN);
	kind = lookup_classify(ev, domain, type, should_cache);
	if (term_begin(ev, kind) < 0)
		return rr_status(layer, domain, type, TRY_AGAIN);
	if (spf_dns_name_clean(domain, name) < 0) {
		/* A macro expanded to no domain name: nothing can exist there. */
		term_void(ev, kind);
		return rr_status(layer, domain, type,
		                 ev->limit != SPF_LIMIT_NONE ? TRY_AGAIN : HOST_NOT_FOUND);
	}
	if ((a = eval_query(ev, name, type, kind)) == NULL)
		return rr_status(layer, domain, type, TRY_AGAIN);
	rr = spf_dns_rr_build(layer, domain, type, a);
	ev->res->answer_free(a);
	for (int i = 0; rr != NULL && type == ns_t_txt && ev->macros != NULL && i < rr->num_rr; i++)
		spf_dns_macro_fix(rr->rr[i]->txt, ev->macros, domain);
	if (rr != NULL && (type == ns_t_mx || type == ns_t_ptr))
		names_remember(ev, rr);
	/* NULL makes libspf2 abort(); out of memory there is nothing better. */
	return rr != NULL ? rr : rr_status(layer, domain, type, TRY_AGAIN);
}

/* The text of an exp= modifier would be one more TXT lookup, chosen by the
 * domain owner, after the result is known: we never show it (our replies say
 * why themselves), so it is not looked up. */
static SPF_errcode_t
dns_get_exp(SPF_server_t *server, const char *domain, char **buf, size_t *buflen)
{
	static const char text[] = "SPF check failed";
	char *p = *buf;

	(void)server;
	(void)domain;           /* *buf itself: read before writing */
	if (*buflen < sizeof(text)) {
		if ((p = realloc(*buf, sizeof(text))) == NULL)
			return SPF_E_NO_MEMORY;
		*buf = p;
		*buflen = sizeof(text);
	}
	memcpy(p, text, sizeof(text));
	return SPF_E_SUCCESS;
}

SPF_dns_server_t *
spf_dns_layer_new(void)
{
	SPF_dns_server_t *layer = calloc(1, sizeof(*layer));

	if (layer == NULL)
		return NULL;
	/* No destroy: libspf2's SPF_dns_free must leave it to us. */
	layer->lookup = dns_lookup;
	layer->get_exp = dns_get_exp;
	layer->name = "sluice";
	return layer;
}

void
spf_dns_layer_free(SPF_dns_server_t **layer)
{
	free(*layer);
	*layer = NULL;
}
