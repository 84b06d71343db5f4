/* dns_answers.c - each loop's cache of dns_lookup answers. unbound caches too,
 * but every lookup through it costs a round trip to its thread (about twenty
 * syscalls: pipe writes and reads, fcntl around each), which is most of what a
 * cached SPF, DKIM or DMARC answer costs; this cache answers on the loop. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dns_int.h"
#include "util.h"

#define ANSWER_TTL_MAX_S 3600u      /* positive answers, at most an hour */
#define ANSWER_NEG_TTL_MAX_S 60u    /* NXDOMAIN and NODATA, at most a minute */

static unsigned
answer_slot(const char *name, int rrtype)
{
	uint32_t h = 2166136261u ^ (uint32_t)rrtype;   /* FNV-1a, case folded */

	for (const unsigned char *p = (const unsigned char *)name; *p != '\0'; p++) {
		unsigned char c = *p >= 'A' && *p <= 'Z' ? (unsigned char)(*p + 32) : *p;
		if (c == '.' && p[1] == '\0')
			break;                                 /* a trailing dot names the same */
		h = (h ^ c) * 16777619u;
	}
	return h % DNS_ANSWER_ENTRIES;
}

static void
entry_clear(struct dns_answer_entry *e)
{
	for (size_t i = 0; i < e->count; i++)
		free(e->records[i]);
	free(e->records);
	free(e->name);
	memset(e, 0, sizeof(*e));
}

/* name without a trailing dot, compared ASCII case-insensitively. */
static int
same_name(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	if (la > 0 && a[la - 1] == '.')
		la--;
	if (lb > 0 && b[lb - 1] == '.')
		lb--;
	return la == lb && strncasecmp(a, b, la) == 0;
}

static char **
records_copy(char *const *records, size_t count)
{
	char **out = xcalloc(count + 1, sizeof(*out));

	for (size_t i = 0; i < count; i++)
		out[i] = xstrdup(records[i]);
	return out;
}

void
dns_answers_put(struct dns *dns, const char *name, int rrtype, enum sluice_async_status status,
                char *const *records, size_t count, uint32_t ttl)
{
	struct dns_answer_entry *e;
	uint64_t ms;

	if (status == SLUICE_ASYNC_OK)
		ms = (uint64_t)(ttl < ANSWER_TTL_MAX_S ? ttl : ANSWER_TTL_MAX_S) * 1000;
	else if (status == SLUICE_ASYNC_NXDOMAIN || status == SLUICE_ASYNC_NODATA)
		ms = (uint64_t)(ttl > 0 && ttl < ANSWER_NEG_TTL_MAX_S ? ttl : ANSWER_NEG_TTL_MAX_S) * 1000;
	else
		return;                                    /* a failure is asked again */
	if (dns->cache_ttl_max_ms > 0 && ms > dns->cache_ttl_max_ms)
		ms = dns->cache_ttl_max_ms;
	if (ms == 0)
		return;                                    /* TTL 0: not to be cached */
	if (dns->answers == NULL)
		dns->answers = xcalloc(DNS_ANSWER_ENTRIES, sizeof(*dns->answers));
	e = &dns->answers[answer_slot(name, rrtype)];
	entry_clear(e);                                /* direct-mapped: the newer one wins */
	e->name = xstrdup(name);
	e->rrtype = rrtype;
	e->status = status;
	e->records = records_copy(records, status == SLUICE_ASYNC_OK ? count : 0);
	e->count = status == SLUICE_ASYNC_OK ? count : 0;
	e->ttl = ttl;
	e->expires_ms = now_ms() + ms;
}

int
dns_answers_get(struct dns *dns, const char *name, int rrtype, enum sluice_async_status *status_r,
                char ***records_r, size_t *count_r, uint32_t *ttl_r)
{
	struct dns_answer_entry *e;

	if (dns->answers == NULL)
		return 0;
	e = &dns->answers[answer_slot(name, rrtype)];
	if (e->name == NULL || e->rrtype != rrtype || !same_name(e->name, name))
		return 0;
	if (now_ms() >= e->expires_ms) {
		entry_clear(e);
		return 0;
	}
	*status_r = e->status;
	*records_r = records_copy(e->records, e->count);
	*count_r = e->count;
	*ttl_r = e->ttl;
	dns->answer_hits++;
	return 1;
}

void
dns_answers_free(struct dns *dns)
{
	if (dns->answers == NULL)
		return;
	for (size_t i = 0; i < DNS_ANSWER_ENTRIES; i++)
		entry_clear(&dns->answers[i]);
	free(dns->answers);
	dns->answers = NULL;
}

uint64_t
dns_lookup_cache_hits(const struct dns *dns)
{
	return dns != NULL ? dns->answer_hits : 0;
}
