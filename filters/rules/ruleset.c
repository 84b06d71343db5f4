/* ruleset.c - parsing and matching of the rules filter's rules; no host calls. */

#include "ruleset.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RULE_MAX_WORDS 8
#define RULE_REPLY_TEXT_MAX 400     /* host.h: reply text under 400 octets */
#define RULE_HEADER_LINE_MAX 998    /* RFC 5322 2.1.1 */
#define RULE_SCORE_MAX 1e6
#define RULE_REASON_MAX 100         /* what host->score_add takes */
/* Header values come from the client: bound the regex engine's work on them. */
#define RULE_MATCH_LIMIT 100000
#define RULE_DEPTH_LIMIT 10000

static const char *const match_names[RULE_MATCH_COUNT] = {
	[RULE_ANY] = "any", [RULE_CLIENT] = "client", [RULE_CLIENT_NAME] = "client_name",
	[RULE_HELO] = "helo", [RULE_LOGIN] = "login", [RULE_SENDER] = "sender",
	[RULE_RCPT] = "rcpt", [RULE_HEADER] = "header",
};

static const char *const action_names[] = {
	[RULE_ACCEPT] = "accept", [RULE_REJECT] = "reject", [RULE_TEMPFAIL] = "tempfail",
	[RULE_DISCARD] = "discard", [RULE_ADD_HEADER] = "add_header", [RULE_SCORE] = "score",
};

const char *
rule_match_name(enum rule_match match)
{
	return (unsigned)match < RULE_MATCH_COUNT ? match_names[match] : "?";
}

const char *
rule_action_name(enum rule_action action)
{
	return (unsigned)action <= RULE_SCORE ? action_names[action] : "?";
}

static int rule_terminal(const struct rule *r)
{
	return r->action <= RULE_DISCARD;
}

static int
fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* ---------------------------------------------------------------- addresses */

int
rule_addr_parse(const char *text, struct rule_addr *addr_r)
{
	struct in_addr v4;

	if (inet_pton(AF_INET, text, &v4) == 1) {
		memset(addr_r->b, 0, 10);
		addr_r->b[10] = addr_r->b[11] = 0xff;
		memcpy(addr_r->b + 12, &v4, 4);
		return 0;
	}
	return inet_pton(AF_INET6, text, addr_r->b) == 1 ? 0 : -1;
}

int
rule_cidr_parse(const char *text, struct rule_cidr *cidr_r, char *err, size_t errlen)
{
	char buf[INET6_ADDRSTRLEN + 8];
	const char *slash = strchr(text, '/');
	size_t alen = slash ? (size_t)(slash - text) : strlen(text);
	unsigned max, bits;
	int v4;

	if (alen == 0 || alen >= sizeof(buf))
		return fail(err, errlen, "bad address \"%s\"", text);
	memcpy(buf, text, alen);
	buf[alen] = '\0';
	if (rule_addr_parse(buf, &cidr_r->net) < 0)
		return fail(err, errlen, "bad address \"%s\" (want an IPv4 or IPv6 address or CIDR)",
		            text);
	v4 = strchr(buf, ':') == NULL;
	max = v4 ? 32 : 128;
	bits = max;
	if (slash != NULL) {
		const char *p = slash + 1;

		if (*p == '\0' || strlen(p) > 3 || strspn(p, "0123456789") != strlen(p) ||
		    (p[0] == '0' && p[1] != '\0'))
			return fail(err, errlen, "bad prefix length in \"%s\"", text);
		bits = (unsigned)atoi(p);
		if (bits > max)
			return fail(err, errlen, "prefix length /%u too long for \"%s\" (at most /%u)",
			            bits, text, max);
	}
	cidr_r->bits = v4 ? bits + 96 : bits;
	/* Host bits set is almost always a typo for a different network. */
	for (unsigned i = cidr_r->bits; i < 128; i++)
		if (cidr_r->net.b[i / 8] & (0x80u >> (i % 8)))
			return fail(err, errlen, "\"%s\" has bits set after the /%u prefix", text, bits);
	return 0;
}

int
rule_cidr_match(const struct rule_cidr *cidr, const struct rule_addr *addr)
{
	unsigned full = cidr->bits / 8, rest = cidr->bits % 8;

	if (memcmp(cidr->net.b, addr->b, full) != 0)
		return 0;
	if (rest == 0)
		return 1;
	return ((cidr->net.b[full] ^ addr->b[full]) & (0xffu << (8 - rest))) == 0;
}

/* ---------------------------------------------------------------- words */

/* Split text into words: blanks separate them, "double quotes" keep blanks (\" is
 * a quote, \\ a backslash, any other backslash stays as it is, so regexes need
 * no doubling), '#' outside quotes starts a comment. */
static int
rule_split(const char *text, char *buf, char **words, size_t *n_r, char *err, size_t errlen)
{
	const char *p = text;
	char *o = buf;
	size_t n = 0;

	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
			p++;
		if (*p == '\0' || *p == '#')
			break;
		if (n == RULE_MAX_WORDS)
			return fail(err, errlen, "too many words (a rule is MATCH ARGUMENT ACTION "
			            "[ARGUMENT], quote values that contain blanks)");
		words[n++] = o;
		if (*p == '"') {
			for (p++; *p != '"'; p++) {
				if (*p == '\0')
					return fail(err, errlen, "missing closing quote");
				if (*p == '\\' && (p[1] == '"' || p[1] == '\\'))
					p++;
				*o++ = *p;
			}
			p++;
			if (*p != '\0' && *p != ' ' && *p != '\t' && *p != '\r' && *p != '\n')
				return fail(err, errlen, "a blank must follow a closing quote");
		} else {
			while (*p != '\0' && *p != ' ' && *p != '\t' && *p != '\r' && *p != '\n')
				*o++ = *p++;
		}
		*o++ = '\0';
	}
	*n_r = n;
	return 0;
}

/* ---------------------------------------------------------------- pieces */

static int
rule_regex(struct rule *r, const char *pattern, char *err, size_t errlen)
{
	int code;
	PCRE2_SIZE offset;

	r->re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED,
	                      PCRE2_CASELESS | PCRE2_UTF | PCRE2_MATCH_INVALID_UTF, &code, &offset,
	                      NULL);
	if (r->re == NULL) {
		PCRE2_UCHAR msg[160];

		pcre2_get_error_message(code, msg, sizeof(msg));
		return fail(err, errlen, "bad regular expression \"%s\": %s at offset %zu", pattern,
		            (const char *)msg, (size_t)offset);
	}
	return 0;
}

static int
field_name_ok(const char *s, size_t len)
{
	if (len == 0)
		return 0;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 33 || (unsigned char)s[i] > 126 || s[i] == ':')
			return 0;
	return 1;
}

static int
text_ok(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 32 || (unsigned char)*s > 126)
			return 0;
	return 1;
}

static int
is_digits(const char *s, size_t len)
{
	return len > 0 && strspn(s, "0123456789") >= len;
}

int
rule_reply_parse(const char *text, enum rule_action action, struct rule *r, char *err,
                 size_t errlen)
{
	char want = action == RULE_REJECT ? '5' : '4';
	const char *e, *dot1, *dot2, *sp;

	if (!(is_digits(text, 3) && text[3] == ' '))
		return fail(err, errlen, "bad reply \"%s\" (want \"%c50 %c.7.1 text\")", text, want,
		            want);
	if (text[0] != want || text[1] > '5')
		return fail(err, errlen, "reply code %.3s does not suit %s (want %cxx, x up to 5)",
		            text, rule_action_name(action), want);
	e = text + 4;
	sp = strchr(e, ' ');
	dot1 = strchr(e, '.');
	dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
	if (sp == NULL || dot1 == NULL || dot2 == NULL || dot2 > sp || dot1 != e + 1 ||
	    !is_digits(dot1 + 1, (size_t)(dot2 - dot1 - 1)) || dot2 - dot1 - 1 > 3 ||
	    !is_digits(dot2 + 1, (size_t)(sp - dot2 - 1)) || sp - dot2 - 1 > 3)
		return fail(err, errlen, "bad enhanced status code in \"%s\" (want %c.X.Y, RFC 3463)",
		            text, text[0]);
	if (e[0] != text[0])
		return fail(err, errlen, "enhanced code %.*s does not match reply code %.3s",
		            (int)(sp - e), e, text);
	sp++;
	if (*sp == '\0')
		return fail(err, errlen, "reply \"%s\" has no text", text);
	if (!text_ok(sp) || strlen(sp) >= RULE_REPLY_TEXT_MAX)
		return fail(err, errlen, "reply text must be printable ASCII under %d octets",
		            RULE_REPLY_TEXT_MAX);
	memcpy(r->code, text, 3);
	r->code[3] = '\0';
	snprintf(r->ecode, sizeof(r->ecode), "%.*s", (int)(sp - 1 - e), e);
	free(r->text);
	r->text = strdup(sp);
	return r->text ? 0 : fail(err, errlen, "out of memory");
}

static int
rule_add_header_parse(struct rule *r, const char *arg, char *err, size_t errlen)
{
	const char *colon = strchr(arg, ':');
	const char *v;

	if (colon == NULL || !field_name_ok(arg, (size_t)(colon - arg)))
		return fail(err, errlen, "add_header wants \"Name: value\", got \"%s\"", arg);
	for (v = colon + 1; *v == ' ' || *v == '\t'; v++)
		;
	if (!text_ok(v))
		return fail(err, errlen, "add_header value must be printable ASCII");
	if (strlen(arg) + 1 > RULE_HEADER_LINE_MAX)
		return fail(err, errlen, "add_header line longer than %d octets",
		            RULE_HEADER_LINE_MAX);
	r->field = strndup(arg, (size_t)(colon - arg));
	r->text = strdup(v);
	return r->field && r->text ? 0 : fail(err, errlen, "out of memory");
}

static int
rule_score_parse(struct rule *r, const char *arg, char *err, size_t errlen)
{
	char *end;

	errno = 0;
	r->points = strtod(arg, &end);
	if (errno != 0 || end == arg || *end != '\0' || !isfinite(r->points) ||
	    fabs(r->points) > RULE_SCORE_MAX)
		return fail(err, errlen, "bad score \"%s\" (want a number like 2.5 or -1)", arg);
	return 0;
}

/* ---------------------------------------------------------------- one rule */

static void
rule_free(struct rule *r)
{
	free(r->where);
	free(r->header);
	free(r->text);
	free(r->field);
	pcre2_code_free(r->re);
	memset(r, 0, sizeof(*r));
}

static int
rule_parse(struct rule *r, char **w, size_t n, char *err, size_t errlen)
{
	size_t i = 1, nargs;
	enum rule_match m;
	enum rule_action a;

	for (m = 0; m < RULE_MATCH_COUNT; m++)
		if (strcmp(w[0], match_names[m]) == 0)
			break;
	if (m == RULE_MATCH_COUNT)
		return fail(err, errlen, "unknown match \"%s\" (want any, client, client_name, helo, "
		            "login, sender, rcpt or header)", w[0]);
	r->match = m;
	nargs = m == RULE_ANY ? 0 : m == RULE_HEADER ? 2 : 1;
	if (n < 1 + nargs + 1)
		return fail(err, errlen, "%s wants %s and then an action", w[0],
		            m == RULE_ANY ? "nothing" : m == RULE_CLIENT ? "an address or CIDR" :
		            m == RULE_HEADER ? "a field name and a regular expression" :
		            "a regular expression");
	if (m == RULE_CLIENT) {
		if (rule_cidr_parse(w[i], &r->cidr, err, errlen) < 0)
			return -1;
	} else if (m == RULE_HEADER) {
		if (!field_name_ok(w[i], strlen(w[i])))
			return fail(err, errlen, "bad header field name \"%s\"", w[i]);
		if ((r->header = strdup(w[i])) == NULL)
			return fail(err, errlen, "out of memory");
		if (rule_regex(r, w[i + 1], err, errlen) < 0)
			return -1;
	} else if (m != RULE_ANY) {
		if (rule_regex(r, w[i], err, errlen) < 0)
			return -1;
	}
	i += nargs;

	for (a = 0; a <= RULE_SCORE; a++)
		if (strcmp(w[i], action_names[a]) == 0)
			break;
	if (a > RULE_SCORE)
		return fail(err, errlen, "unknown action \"%s\" (want accept, reject, tempfail, "
		            "discard, add_header or score)", w[i]);
	r->action = a;
	i++;
	switch (a) {
	case RULE_REJECT:
	case RULE_TEMPFAIL:
		if (i < n && rule_reply_parse(w[i++], a, r, err, errlen) < 0)
			return -1;
		break;
	case RULE_ADD_HEADER:
		if (i == n)
			return fail(err, errlen, "add_header wants \"Name: value\"");
		if (rule_add_header_parse(r, w[i++], err, errlen) < 0)
			return -1;
		break;
	case RULE_SCORE:
		if (i == n)
			return fail(err, errlen, "score wants a number");
		if (rule_score_parse(r, w[i++], err, errlen) < 0)
			return -1;
		if (i < n) {
			if (!text_ok(w[i]) || *w[i] == '\0' || strlen(w[i]) > RULE_REASON_MAX)
				return fail(err, errlen, "score reason must be printable ASCII, "
				            "at most %d octets", RULE_REASON_MAX);
			if ((r->text = strdup(w[i++])) == NULL)
				return fail(err, errlen, "out of memory");
		}
		break;
	default:
		break;
	}
	if (i < n)
		return fail(err, errlen, "unexpected \"%s\" after %s", w[i], rule_action_name(a));
	return 0;
}

/* ---------------------------------------------------------------- sets */

struct ruleset *
ruleset_new(void)
{
	struct ruleset *rs = calloc(1, sizeof(*rs));

	if (rs == NULL)
		return NULL;
	atomic_init(&rs->refs, 1);
	rs->mctx = pcre2_match_context_create(NULL);
	if (rs->mctx == NULL) {
		free(rs);
		return NULL;
	}
	pcre2_set_match_limit(rs->mctx, RULE_MATCH_LIMIT);
	pcre2_set_depth_limit(rs->mctx, RULE_DEPTH_LIMIT);
	return rs;
}

struct ruleset *
ruleset_ref(struct ruleset *rs)
{
	atomic_fetch_add_explicit(&rs->refs, 1, memory_order_relaxed);
	return rs;
}

void
ruleset_unref(struct ruleset **rsp)
{
	struct ruleset *rs = *rsp;

	*rsp = NULL;
	if (rs == NULL || atomic_fetch_sub_explicit(&rs->refs, 1, memory_order_acq_rel) != 1)
		return;
	for (size_t i = 0; i < rs->n; i++)
		rule_free(&rs->rules[i]);
	free(rs->rules);
	pcre2_match_context_free(rs->mctx);
	free(rs);
}

int
ruleset_add(struct ruleset *rs, const char *text, const char *where, char *err, size_t errlen)
{
	char *words[RULE_MAX_WORDS];
	char *buf = malloc(strlen(text) + 1);
	struct rule r = { 0 };
	size_t n = 0;
	int ret = -1;

	if (buf == NULL)
		return fail(err, errlen, "out of memory");
	if (rule_split(text, buf, words, &n, err, errlen) < 0)
		goto out;
	if (n == 0) {
		ret = 0;
		goto out;
	}
	if (rule_parse(&r, words, n, err, errlen) < 0)
		goto out;
	if (rs->n == rs->cap) {
		size_t cap = rs->cap ? rs->cap * 2 : 16;
		struct rule *nr = realloc(rs->rules, cap * sizeof(*nr));

		if (nr == NULL) {
			fail(err, errlen, "out of memory");
			goto out;
		}
		rs->rules = nr;
		rs->cap = cap;
	}
	if ((r.where = strdup(where)) == NULL) {
		fail(err, errlen, "out of memory");
		goto out;
	}
	rs->rules[rs->n++] = r;
	memset(&r, 0, sizeof(r));
	ret = 0;
out:
	rule_free(&r);
	free(buf);
	return ret;
}

int
ruleset_add_file(struct ruleset *rs, const char *path, struct stat *st_r,
                 ruleset_error_fn *report, void *arg)
{
	char err[512], where[4096 + 24];
	char *line = NULL;
	size_t cap = 0;
	unsigned lineno = 0;
	int problems = 0;
	FILE *f = fopen(path, "re");

	if (f == NULL) {
		snprintf(err, sizeof(err), "cannot open: %s", strerror(errno));
		report(arg, path, err);
		return 1;
	}
	if (st_r != NULL && fstat(fileno(f), st_r) < 0)
		memset(st_r, 0, sizeof(*st_r));
	while (getline(&line, &cap, f) >= 0) {
		lineno++;
		snprintf(where, sizeof(where), "%s:%u", path, lineno);
		if (ruleset_add(rs, line, where, err, sizeof(err)) < 0) {
			report(arg, where, err);
			problems++;
		}
	}
	if (ferror(f)) {
		snprintf(err, sizeof(err), "read error: %s", strerror(errno));
		report(arg, path, err);
		problems++;
	}
	free(line);
	fclose(f);
	return problems;
}

/* ---------------------------------------------------------------- the walk */

static int
re_match(const struct ruleset *rs, const struct rule *r, pcre2_match_data **md, const char *s)
{
	if (s == NULL)
		return 0;
	if (*md == NULL && (*md = pcre2_match_data_create(1, NULL)) == NULL)
		return 0;
	/* A limit hit (hostile input) counts as no match. */
	return pcre2_match(r->re, (PCRE2_SPTR)s, strlen(s), 0, 0, *md, rs->mctx) >= 0;
}

/* The value as a reader means it: folding undone, blanks around it dropped. */
static char *
header_unfold(const char *v)
{
	char *out = malloc(strlen(v) + 1), *o = out;

	if (out == NULL)
		return NULL;
	while (*v == ' ' || *v == '\t')
		v++;
	for (; *v; v++)
		if (*v != '\r' && *v != '\n')
			*o++ = *v;
	while (o > out && (o[-1] == ' ' || o[-1] == '\t'))
		o--;
	*o = '\0';
	return out;
}

static int
rule_matches(const struct ruleset *rs, const struct rule *r, const struct rule_facts *f,
             pcre2_match_data **md)
{
	switch (r->match) {
	case RULE_ANY:
		return 1;
	case RULE_CLIENT:
		return f->client != NULL && rule_cidr_match(&r->cidr, f->client);
	case RULE_CLIENT_NAME:
		return re_match(rs, r, md, f->client_name);
	case RULE_HELO:
		return re_match(rs, r, md, f->helo);
	case RULE_LOGIN:
		return re_match(rs, r, md, f->login);
	case RULE_SENDER:
		return re_match(rs, r, md, f->sender);
	case RULE_RCPT:
		for (size_t i = 0; i < f->rcpt_count; i++)
			if (re_match(rs, r, md, f->rcpt(f->arg, i)))
				return 1;
		return 0;
	case RULE_HEADER:
		for (size_t i = 1;; i++) {
			const char *v = f->header(f->arg, r->header, i);
			char *u;
			int m;

			if (v == NULL)
				return 0;
			if ((u = header_unfold(v)) == NULL)
				return 0;
			m = re_match(rs, r, md, u);
			free(u);
			if (m)
				return 1;
		}
	default:
		return 0;
	}
}

enum ruleset_outcome
ruleset_walk(const struct ruleset *rs, const struct rule_facts *facts, ruleset_apply_fn *apply,
             void *arg, const struct rule **rule_r)
{
	unsigned known = facts->known | RULE_KNOWN(RULE_ANY);
	pcre2_match_data *md = NULL;
	enum ruleset_outcome out = RULESET_NOMATCH;

	*rule_r = NULL;
	for (size_t i = 0; i < rs->n; i++) {
		const struct rule *r = &rs->rules[i];
		int terminal = rule_terminal(r);

		if (!(known & RULE_KNOWN(r->match))) {
			if (terminal) {
				out = RULESET_UNDECIDED;
				break;
			}
			continue;
		}
		if (!terminal && apply == NULL)
			continue;
		if (!rule_matches(rs, r, facts, &md))
			continue;
		if (terminal) {
			*rule_r = r;
			out = RULESET_DECIDED;
			break;
		}
		apply(arg, r);
	}
	pcre2_match_data_free(md);
	return out;
}
