/* dmarc_psl.c - the public suffix list and Organizational Domains; no I/O but
 * reading the list once. */

/*
 * Each rule is kept as one string with its kind in front: "=co.uk" for a plain
 * rule, "*kawasaki.jp" for "*.kawasaki.jp", "!city.kawasaki.jp" for an
 * exception. They are sorted once, and a lookup is a binary search per suffix
 * of the name asked about: a dozen searches for a typical name.
 *
 * libopendmarc has a list reader of its own, but the function that answers
 * with an Organizational Domain is not in its public header, and it compares
 * case-sensitively; see doc/filters/dmarc.md.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dmarc_psl.h"

struct dmarc_psl {
	char *text;             /* every rule, NUL-separated, with its kind in front */
	const char **rule;      /* sorted */
	size_t n;
};

static int
rule_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static char
lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

struct dmarc_psl *
dmarc_psl_parse(const char *text, size_t len)
{
	struct dmarc_psl *psl = calloc(1, sizeof(*psl));
	size_t cap = 0, used = 0, pos = 0;
	size_t *offsets = NULL;

	if (psl == NULL || (psl->text = malloc(2 * len + 2)) == NULL)
		goto fail;
	while (pos < len) {
		size_t end = pos, start, n;
		const char *line = text + pos;
		char kind = '=';

		while (end < len && text[end] != '\n')
			end++;
		n = end - pos;
		pos = end + 1;
		/* A rule is read up to the first blank; "//" starts a comment. */
		for (size_t i = 0; i < n; i++)
			if (line[i] == ' ' || line[i] == '\t' || line[i] == '\r') {
				n = i;
				break;
			}
		if (n == 0 || (n >= 2 && line[0] == '/' && line[1] == '/'))
			continue;
		start = 0;
		if (line[0] == '!') {
			kind = '!';
			start = 1;
		} else if (n >= 2 && line[0] == '*' && line[1] == '.') {
			kind = '*';
			start = 2;
		}
		if (start >= n)
			continue;
		if (used == cap) {
			size_t *more = realloc(offsets, (cap = cap ? 2 * cap : 1024) * sizeof(*more));
			if (more == NULL)
				goto fail;
			offsets = more;
		}
		offsets[used++] = psl->n;
		psl->text[psl->n++] = kind;
		for (size_t i = start; i < n; i++)
			psl->text[psl->n++] = lower(line[i]);
		psl->text[psl->n++] = '\0';
	}
	if ((psl->rule = malloc((used ? used : 1) * sizeof(*psl->rule))) == NULL)
		goto fail;
	for (size_t i = 0; i < used; i++)
		psl->rule[i] = psl->text + offsets[i];
	psl->n = used;
	qsort(psl->rule, psl->n, sizeof(*psl->rule), rule_cmp);
	free(offsets);
	return psl;
fail:
	free(offsets);
	dmarc_psl_free(&psl);
	return NULL;
}

struct dmarc_psl *
dmarc_psl_load(const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	struct dmarc_psl *psl = NULL;
	char *buf = NULL;
	size_t len = 0, cap = 0, got;

	if (f == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	do {
		if (cap - len < 65536) {
			char *more = realloc(buf, cap += 262144);
			if (more == NULL) {
				snprintf(err, errlen, "%s: out of memory", path);
				goto out;
			}
			buf = more;
		}
		got = fread(buf + len, 1, cap - len, f);
		len += got;
	} while (got > 0);
	if (ferror(f)) {
		snprintf(err, errlen, "%s: read error", path);
		goto out;
	}
	if ((psl = dmarc_psl_parse(buf, len)) == NULL)
		snprintf(err, errlen, "%s: out of memory", path);
	else if (psl->n == 0) {
		snprintf(err, errlen, "%s: no rules in the file", path);
		dmarc_psl_free(&psl);
	}
out:
	free(buf);
	fclose(f);
	return psl;
}

void
dmarc_psl_free(struct dmarc_psl **psl)
{
	if (*psl == NULL)
		return;
	free((*psl)->rule);
	free((*psl)->text);
	free(*psl);
	*psl = NULL;
}

size_t
dmarc_psl_count(const struct dmarc_psl *psl)
{
	return psl->n;
}

static int
has_rule(const struct dmarc_psl *psl, char kind, const char *suffix)
{
	char key[DMARC_DOMAIN_MAX + 2];
	const char *k = key;

	key[0] = kind;
	memcpy(key + 1, suffix, strlen(suffix) + 1);
	return bsearch(&k, psl->rule, psl->n, sizeof(*psl->rule), rule_cmp) != NULL;
}

int
dmarc_psl_org_domain(const struct dmarc_psl *psl, const char *domain, char *out, size_t outlen)
{
	const char *label[DMARC_DOMAIN_MAX / 2 + 1];
	size_t nlabels = 0, len = strlen(domain), suffix_labels = 1, keep;

	if (len == 0 || len > DMARC_DOMAIN_MAX)
		return -1;
	/* label[i]: where the i-th label from the left starts. */
	for (const char *p = domain;; p++) {
		label[nlabels++] = p;
		p = strchr(p, '.');
		if (p == NULL)
			break;
		if (p == label[nlabels - 1])
			return -1;          /* empty label */
	}
	if (domain[len - 1] == '.')
		return -1;
	/* An exception rule wins over every other; it names the suffix's
	 * registrable domain itself. */
	for (size_t i = 0; i < nlabels; i++)
		if (has_rule(psl, '!', label[i])) {
			suffix_labels = nlabels - i - 1;
			goto found;
		}
	/* Otherwise the longest matching rule, "*" when there is none. */
	for (size_t i = 0; i < nlabels; i++) {
		size_t k = nlabels - i;
		if (has_rule(psl, '=', label[i]) && k > suffix_labels)
			suffix_labels = k;
		if (i > 0 && has_rule(psl, '*', label[i]) && k + 1 > suffix_labels)
			suffix_labels = k + 1;
	}
found:
	keep = suffix_labels + 1 > nlabels ? nlabels : suffix_labels + 1;
	domain = label[nlabels - keep];
	if (strlen(domain) + 1 > outlen)
		return -1;
	memcpy(out, domain, strlen(domain) + 1);
	return 0;
}
