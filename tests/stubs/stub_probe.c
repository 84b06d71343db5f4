/* stub_probe.c - test filter "probe": at one chosen phase, does one chosen set
 * of things, each behind a key. It is the chain tests' tool (tests/dialogue/
 * test_chain.py) and a second example of the API: pending hooks, timers, DNS,
 * the worker pool, the store, notes, scores and every edit.
 *
 *   [filter p1]
 *   module = .../stub_probe.so
 *   at = rcpt                  connect|helo|mail|rcpt|data|header|eoh|body|eom
 *                              (default mail). header and body: the first call
 *                              of the message only.
 *   sender_is = a@b.test       act only in transactions from that sender (the
 *                              phase must be mail or later)
 *   verdict = reject           continue|accept|reject|tempfail|discard|quarantine|
 *                              pending|invalid: the answer at that phase
 *   reply = 550 5.7.1 text     set_reply before a reject/tempfail (also resumed)
 *   resume_after_ms = 200      with verdict = pending: a timer resumes with
 *   resume_verdict = reject    this verdict (default continue)
 *   never_resume = yes         pending forever: the filter's timeout decides
 *   late_resume_ms = 1000      a SESSION timer armed at connect resumes the token
 *                              taken at the phase (first time in the session)
 *                              when it fires: by then the hook has timed out and
 *                              RSET may have ended its transaction, so the resume
 *                              must be dropped. If the session ends first, the
 *                              token is left in a global and the next session's
 *                              connect resumes it (the session is gone then).
 *                              The probe logs "probe: late resume returned N".
 *   header_add = Name: value   edits, all at eom
 *   header_insert = 0 Name: value
 *   header_change = Name 1 value
 *   header_delete = Name 1
 *   sender_change = addr
 *   rcpt_add = addr
 *   rcpt_delete = addr
 *   body_replace = text        "\n" in the text is a line break
 *   note_set = key=value       note in the transaction scope (session before mail)
 *   note_expect = key=value    reject (550 5.7.1 probe: note KEY is "VALUE") if
 *                              note_get does not give that value
 *   dns = name TYPE            A|AAAA|MX|TXT|PTR: asked at the phase (the hook is
 *                              pending until the answer); the answer goes into
 *                              "X-Probe-DNS: STATUS [first record]" at eom
 *   store_incr = key           counter +1; "X-Probe-Count: N" at eom
 *   work = yes                 host->work returns a string; "X-Probe-Work: ..."
 *   work_dns = name TYPE       work = yes, and the work function looks name up
 *                              with dns_query_wait: "X-Probe-Work: STATUS [first
 *                              record]"
 *   message_read = yes         at eom (at = eom): read the message with
 *                              message_read; "X-Probe-Read: N" (octets read)
 *   score = 1.5 reason         score_add at the phase
 *
 * Asynchronous requests (dns, store_incr, work) make the hook pending; when the
 * last one is answered it resumes with `verdict` (unless that is pending).
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sluice/filter.h"
#include "sluice/host.h"

#define VERDICT_INVALID 42   /* not a verdict: on_error applies */

enum phase { P_CONNECT, P_HELO, P_MAIL, P_RCPT, P_DATA, P_HEADER, P_EOH, P_BODY, P_EOM };
static const char *const phase_names[] = {
	"connect", "helo", "mail", "rcpt", "data", "header", "eoh", "body", "eom", NULL,
};
static const char *const verdict_names[] = {
	"continue", "accept", "reject", "tempfail", "discard", "quarantine", "pending", NULL,
};

/* What init read; shared read-only by every session. */
struct probe {
	const struct sluice_host *host;
	enum phase at;
	int verdict;                      /* enum sluice_verdict or VERDICT_INVALID */
	int resume_verdict;
	char reply_code[4], reply_ecode[16], reply_text[400];
	unsigned resume_after_ms, late_resume_ms;
	int never_resume, work, message_read;
	char *work_dns_name;
	enum sluice_dns_type work_dns_type;
	char *header_add_name, *header_add_value;
	size_t header_insert_pos;
	char *header_insert_name, *header_insert_value;
	char *header_change_name, *header_change_value;
	size_t header_change_index;
	char *header_delete_name;
	size_t header_delete_index;
	char *sender_change, *rcpt_add, *rcpt_delete, *body_replace;
	char *note_set_key, *note_set_value, *note_expect_key, *note_expect_value;
	char *dns_name;
	enum sluice_dns_type dns_type;
	char *store_key;
	double score;
	char *score_reason;
	char *sender_is;
};

/* A late-resume token owned by the session timer's callback. */
struct late {
	sluice_resume_t token;
};

/* Per session (set_data SESSION): the pending call and the results for eom. */
struct sess {
	sluice_resume_t token;            /* the hook now pending, 0 when none */
	int outstanding;                  /* async requests not answered yet */
	int resume_when_done;             /* the last answer resumes with `verdict` */
	int done_at_phase;                /* header/body: only the first call */
	int late_taken;                   /* late_resume: token taken this session */
	struct late *late;                /* owned by the session timer's callback */
	char dns[512], count[32], work[128];
};

/* A token whose session ended before the late resume (see late_resume_ms). */
static _Atomic sluice_resume_t orphan_token;

static const struct sluice_host *H;   /* for callbacks; the same for every instance */

/* ------------------------------------------------------------ configuration */

static char *
dupstr(const char *s)
{
	return s != NULL ? strdup(s) : NULL;
}

static int
lookup(const char *const *names, const char *v)
{
	for (int i = 0; names[i] != NULL; i++)
		if (strcasecmp(names[i], v) == 0)
			return i;
	return -1;
}

static int
read_verdict(struct probe *p, struct sluice_filter_config *cfg, const char *key, int def)
{
	const char *v = p->host->config_get(cfg, key);
	int i;

	if (v == NULL)
		return def;
	if (strcasecmp(v, "invalid") == 0)
		return VERDICT_INVALID;
	if ((i = lookup(verdict_names, v)) < 0) {
		p->host->config_error(cfg, key, "unknown verdict \"%s\"", v);
		return -2;
	}
	return i;
}

static int
read_uint(struct probe *p, struct sluice_filter_config *cfg, const char *key, unsigned *out)
{
	const char *v = p->host->config_get(cfg, key);
	char *end;
	unsigned long n;

	if (v == NULL)
		return 0;
	errno = 0;
	n = strtoul(v, &end, 10);
	if (errno != 0 || end == v || *end != '\0' || n > 3600000) {
		p->host->config_error(cfg, key, "want milliseconds, got \"%s\"", v);
		return -1;
	}
	*out = (unsigned)n;
	return 0;
}

/* "Name: value" / "Name value" -> name and value (split at the first ':' or space). */
static int
split_field(const char *v, int colon, char **name, char **value)
{
	const char *sep = strchr(v, colon ? ':' : ' ');

	if (v == NULL || sep == NULL || sep == v)
		return -1;
	*name = strndup(v, (size_t)(sep - v));
	sep++;
	while (*sep == ' ')
		sep++;
	*value = strdup(sep);
	return 0;
}

/* "KEY=VALUE" */
static int
split_note(const char *v, char **key, char **value)
{
	const char *eq = strchr(v, '=');

	if (eq == NULL || eq == v)
		return -1;
	*key = strndup(v, (size_t)(eq - v));
	*value = strdup(eq + 1);
	return 0;
}

static void
probe_free(struct probe *p)
{
	free(p->header_add_name); free(p->header_add_value);
	free(p->header_insert_name); free(p->header_insert_value);
	free(p->header_change_name); free(p->header_change_value);
	free(p->header_delete_name);
	free(p->sender_change); free(p->rcpt_add); free(p->rcpt_delete); free(p->body_replace);
	free(p->note_set_key); free(p->note_set_value);
	free(p->note_expect_key); free(p->note_expect_value);
	free(p->dns_name); free(p->work_dns_name); free(p->store_key); free(p->score_reason); free(p->sender_is);
	free(p);
}

/* "NAME TYPE" into a copy of the name and the type; -1 when malformed. */
static int
parse_dns(const char *v, char **name_r, enum sluice_dns_type *type_r)
{
	static const struct { const char *n; enum sluice_dns_type t; } types[] = {
		{ "A", SLUICE_DNS_A }, { "AAAA", SLUICE_DNS_AAAA }, { "MX", SLUICE_DNS_MX },
		{ "TXT", SLUICE_DNS_TXT }, { "PTR", SLUICE_DNS_PTR },
	};
	char name[256], type[8];

	if (sscanf(v, "%255s %7s", name, type) != 2)
		return -1;
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strcasecmp(type, types[i].n) == 0) {
			*type_r = types[i].t;
			*name_r = strdup(name);
			return *name_r != NULL ? 0 : -1;
		}
	return -1;
}

static int
probe_init(const struct sluice_host *host, struct sluice_filter_config *cfg, void **self_r)
{
	struct probe *p = calloc(1, sizeof(*p));
	const char *v;
	int errors = 0;

	if (p == NULL)
		return -1;
	H = p->host = host;
	p->at = P_MAIL;
	if ((v = host->config_get(cfg, "at")) != NULL) {
		int i = lookup(phase_names, v);
		if (i < 0) {
			host->config_error(cfg, "at", "unknown phase \"%s\"", v);
			errors++;
		}
		p->at = (enum phase)(i < 0 ? 0 : i);
	}
	if ((p->verdict = read_verdict(p, cfg, "verdict", SLUICE_CONTINUE)) == -2)
		errors++;
	if ((p->resume_verdict = read_verdict(p, cfg, "resume_verdict", SLUICE_CONTINUE)) == -2)
		errors++;
	if ((v = host->config_get(cfg, "reply")) != NULL) {
		/* "550 5.7.1 text" or "550 text" */
		char code[8] = "", ecode[32] = "";
		int n = 0;
		if (sscanf(v, "%3[0-9] %31[0-9.] %n", code, ecode, &n) == 2 && n > 0 && strchr(ecode, '.')) {
			snprintf(p->reply_ecode, sizeof(p->reply_ecode), "%s", ecode);
		} else if (sscanf(v, "%3[0-9] %n", code, &n) == 1 && n > 0) {
			p->reply_ecode[0] = '\0';
		} else {
			host->config_error(cfg, "reply", "want \"CODE [X.Y.Z] text\", got \"%s\"", v);
			errors++;
		}
		snprintf(p->reply_code, sizeof(p->reply_code), "%s", code);
		snprintf(p->reply_text, sizeof(p->reply_text), "%s", v + n);
	}
	errors -= read_uint(p, cfg, "resume_after_ms", &p->resume_after_ms);
	errors -= read_uint(p, cfg, "late_resume_ms", &p->late_resume_ms);
	if ((v = host->config_get(cfg, "never_resume")) != NULL)
		p->never_resume = strcasecmp(v, "yes") == 0;
	if ((v = host->config_get(cfg, "work")) != NULL)
		p->work = strcasecmp(v, "yes") == 0;
	if ((v = host->config_get(cfg, "message_read")) != NULL)
		p->message_read = strcasecmp(v, "yes") == 0;
	if ((v = host->config_get(cfg, "work_dns")) != NULL &&
	    parse_dns(v, &p->work_dns_name, &p->work_dns_type) < 0) {
		host->config_error(cfg, "work_dns", "want \"NAME A|AAAA|MX|TXT|PTR\"");
		errors++;
	}
	if ((v = host->config_get(cfg, "header_add")) != NULL &&
	    split_field(v, 1, &p->header_add_name, &p->header_add_value) < 0) {
		host->config_error(cfg, "header_add", "want \"Name: value\"");
		errors++;
	}
	if ((v = host->config_get(cfg, "header_insert")) != NULL) {
		char *end;
		p->header_insert_pos = strtoul(v, &end, 10);
		if (end == v || *end != ' ' ||
		    split_field(end + 1, 1, &p->header_insert_name, &p->header_insert_value) < 0) {
			host->config_error(cfg, "header_insert", "want \"POS Name: value\"");
			errors++;
		}
	}
	if ((v = host->config_get(cfg, "header_change")) != NULL) {
		char name[128], *end;
		int n = 0;
		if (sscanf(v, "%127s %n", name, &n) != 1 || n == 0 ||
		    (p->header_change_index = strtoul(v + n, &end, 10)) == 0 || *end != ' ') {
			host->config_error(cfg, "header_change", "want \"Name INDEX value\"");
			errors++;
		} else {
			p->header_change_name = strdup(name);
			p->header_change_value = strdup(end + 1);
		}
	}
	if ((v = host->config_get(cfg, "header_delete")) != NULL) {
		char name[128];
		unsigned long idx;
		if (sscanf(v, "%127s %lu", name, &idx) != 2 || idx == 0) {
			host->config_error(cfg, "header_delete", "want \"Name INDEX\"");
			errors++;
		} else {
			p->header_delete_name = strdup(name);
			p->header_delete_index = idx;
		}
	}
	p->sender_change = dupstr(host->config_get(cfg, "sender_change"));
	p->rcpt_add = dupstr(host->config_get(cfg, "rcpt_add"));
	p->rcpt_delete = dupstr(host->config_get(cfg, "rcpt_delete"));
	if ((v = host->config_get(cfg, "body_replace")) != NULL) {
		char *b = p->body_replace = malloc(strlen(v) + 1);
		for (; *v; v++)
			if (v[0] == '\\' && v[1] == 'n') {
				*b++ = '\n';
				v++;
			} else {
				*b++ = *v;
			}
		*b = '\0';
	}
	if ((v = host->config_get(cfg, "note_set")) != NULL &&
	    split_note(v, &p->note_set_key, &p->note_set_value) < 0) {
		host->config_error(cfg, "note_set", "want KEY=VALUE");
		errors++;
	}
	if ((v = host->config_get(cfg, "note_expect")) != NULL &&
	    split_note(v, &p->note_expect_key, &p->note_expect_value) < 0) {
		host->config_error(cfg, "note_expect", "want KEY=VALUE");
		errors++;
	}
	if ((v = host->config_get(cfg, "dns")) != NULL && parse_dns(v, &p->dns_name, &p->dns_type) < 0) {
		host->config_error(cfg, "dns", "want \"NAME A|AAAA|MX|TXT|PTR\"");
		errors++;
	}
	p->store_key = dupstr(host->config_get(cfg, "store_incr"));
	p->sender_is = dupstr(host->config_get(cfg, "sender_is"));
	if ((v = host->config_get(cfg, "score")) != NULL) {
		char *end;
		p->score = strtod(v, &end);
		if (end == v || *end != ' ') {
			host->config_error(cfg, "score", "want \"POINTS reason\"");
			errors++;
		}
		p->score_reason = strdup(end == v ? "" : end + 1);
	}
	if (p->never_resume || p->resume_after_ms > 0)
		p->verdict = SLUICE_PENDING;
	if (errors > 0) {
		probe_free(p);
		return -1;
	}
	*self_r = p;
	return 0;
}

static void
probe_fini(void *self)
{
	probe_free(self);
}

/* ------------------------------------------------------------ helpers */

static struct sess *
sess_of(struct sluice_ctx *ctx)
{
	return H->get_data(ctx, SLUICE_SCOPE_SESSION);
}

static void
maybe_reply(struct sluice_ctx *ctx, const struct probe *p, int verdict)
{
	if ((verdict == SLUICE_REJECT || verdict == SLUICE_TEMPFAIL) && p->reply_code[0] != '\0')
		H->set_reply(ctx, p->reply_code, p->reply_ecode[0] ? p->reply_ecode : NULL, p->reply_text);
}

static void
add_result_headers(struct sluice_ctx *ctx, struct sess *ss)
{
	if (ss->dns[0] != '\0')
		H->header_add(ctx, "X-Probe-DNS", ss->dns);
	if (ss->count[0] != '\0')
		H->header_add(ctx, "X-Probe-Count", ss->count);
	if (ss->work[0] != '\0')
		H->header_add(ctx, "X-Probe-Work", ss->work);
}

/* One asynchronous request answered (ctx valid): resume when it was the last. */
static void
async_done(struct sluice_ctx *ctx, struct sess *ss, const struct probe *p)
{
	if (--ss->outstanding > 0 || !ss->resume_when_done)
		return;
	ss->resume_when_done = 0;
	if (p->at == P_EOM)
		add_result_headers(ctx, ss);
	maybe_reply(ctx, p, p->verdict);
	H->resume(ss->token, (enum sluice_verdict)p->verdict);
	ss->token = 0;
}

static const char *
status_name(enum sluice_async_status st)
{
	static const char *const names[] = { "ok", "nxdomain", "nodata", "tempfail", "timeout", "cancelled" };
	return (unsigned)st < sizeof(names) / sizeof(names[0]) ? names[st] : "?";
}

/* ------------------------------------------------------------ callbacks */

/* Cancelled callbacks get ctx NULL: then only free what the callback owns. */

static void
dns_cb(struct sluice_ctx *ctx, void *arg, const struct sluice_dns_answer *a)
{
	const struct probe *p = arg;   /* the filter's self lives until fini */
	struct sess *ss;

	if (ctx == NULL)
		return;
	ss = sess_of(ctx);
	snprintf(ss->dns, sizeof(ss->dns), "%s%s%s", status_name(a->status),
	         a->count > 0 ? " " : "", a->count > 0 ? a->records[0] : "");
	async_done(ctx, ss, p);
}

static void
store_cb(struct sluice_ctx *ctx, void *arg, enum sluice_async_status st, const char *value)
{
	const struct probe *p = arg;
	struct sess *ss;

	if (ctx == NULL)
		return;
	ss = sess_of(ctx);
	snprintf(ss->count, sizeof(ss->count), "%s", st == SLUICE_ASYNC_OK && value ? value : status_name(st));
	async_done(ctx, ss, p);
}

/* Runs in a worker thread: no ctx, no host functions but log_global. */
static void *
work_fn(void *arg)
{
	const struct probe *p = arg;
	struct sluice_dns_answer *a;
	char text[512];

	H->log_global(SLUICE_LOG_DEBUG, "probe: work function running");
	if (p->work_dns_name == NULL)
		return strdup("done in a worker thread");
	a = H->dns_query_wait(p->work_dns_name, p->work_dns_type);
	if (a == NULL)
		return strdup("refused");
	snprintf(text, sizeof(text), "%s%s%s", status_name(a->status), a->count > 0 ? " " : "",
	         a->count > 0 ? a->records[0] : "");
	H->dns_answer_free(a);
	return strdup(text);
}

static void
work_cb(struct sluice_ctx *ctx, void *arg, enum sluice_async_status st, void *result)
{
	const struct probe *p = arg;
	struct sess *ss;

	if (ctx == NULL) {          /* cancelled: the result is still ours to free */
		free(result);
		return;
	}
	ss = sess_of(ctx);
	snprintf(ss->work, sizeof(ss->work), "%s", st == SLUICE_ASYNC_OK && result ? (char *)result : "failed");
	free(result);
	async_done(ctx, ss, p);
}

static void
resume_timer_cb(struct sluice_ctx *ctx, void *arg, enum sluice_async_status st)
{
	const struct probe *p = arg;
	struct sess *ss;

	if (ctx == NULL || st != SLUICE_ASYNC_OK)
		return;
	ss = sess_of(ctx);
	if (p->at == P_EOM && ss->outstanding == 0)
		add_result_headers(ctx, ss);
	maybe_reply(ctx, p, p->resume_verdict);
	H->resume(ss->token, (enum sluice_verdict)p->resume_verdict);
	ss->token = 0;
}

/* The session timer of late_resume_ms: arg is a struct late it owns. */
static void
late_timer_cb(struct sluice_ctx *ctx, void *arg, enum sluice_async_status st)
{
	struct late *l = arg;

	if (ctx == NULL) {
		/* The session ended first: leave the token for the next session. */
		if (l->token != 0)
			atomic_store(&orphan_token, l->token);
		free(l);
		return;
	}
	(void)st;
	sess_of(ctx)->late = NULL;
	if (l->token != 0) {
		int rc = H->resume(l->token, SLUICE_REJECT);
		H->log(ctx, SLUICE_LOG_INFO, "probe: late resume returned %d", rc);
	}
	free(l);
}

/* message_read's callback: count the octets. */
static int
count_cb(void *arg, const unsigned char *data, size_t len)
{
	(void)data;
	*(size_t *)arg += len;
	return 0;
}

/* ------------------------------------------------------------ the phase */

static enum sluice_verdict
probe_phase(struct sluice_ctx *ctx, struct probe *p, enum phase ph)
{
	struct sess *ss = sess_of(ctx);
	enum sluice_scope scope = ph >= P_MAIL ? SLUICE_SCOPE_TX : SLUICE_SCOPE_SESSION;
	int late, async;

	if (ph == P_EOM && p->at != P_EOM)
		add_result_headers(ctx, ss);
	if (ph != p->at || ss->done_at_phase)
		return SLUICE_CONTINUE;
	if (ph == P_HEADER || ph == P_BODY)
		ss->done_at_phase = 1;
	if (p->sender_is != NULL) {
		const char *sender = H->sender(ctx);
		if (sender == NULL || strcasecmp(sender, p->sender_is) != 0)
			return SLUICE_CONTINUE;
	}

	if (p->note_expect_key != NULL) {
		const char *got = H->note_get(ctx, p->note_expect_key);
		if (got == NULL || strcmp(got, p->note_expect_value) != 0) {
			char text[300];
			snprintf(text, sizeof(text), "probe: note %s is \"%s\"", p->note_expect_key,
			         got ? got : "(none)");
			H->set_reply(ctx, "550", "5.7.1", text);
			return SLUICE_REJECT;
		}
	}
	if (p->note_set_key != NULL)
		H->note_set(ctx, scope, p->note_set_key, p->note_set_value);
	if (p->score_reason != NULL)
		H->score_add(ctx, p->score, p->score_reason);
	if (p->verdict == VERDICT_INVALID)
		return (enum sluice_verdict)VERDICT_INVALID;

	late = p->late_resume_ms > 0 && !ss->late_taken && ss->late != NULL;
	async = p->dns_name != NULL || p->store_key != NULL || p->work;
	if (p->verdict != SLUICE_PENDING && !late && !async) {
		maybe_reply(ctx, p, p->verdict);
		return (enum sluice_verdict)p->verdict;
	}

	/* Pending: take the token first, so a callback that comes at once finds it. */
	ss->token = H->suspend(ctx);
	if (ss->token == 0)
		return SLUICE_TEMPFAIL;
	if (late) {
		ss->late_taken = 1;
		ss->late->token = ss->token;   /* the session timer resumes it, late */
	}
	if (p->resume_after_ms > 0 && !p->never_resume)
		H->timer(ctx, p->resume_after_ms, resume_timer_cb, p);
	ss->resume_when_done = async && !late && p->verdict != SLUICE_PENDING;
	ss->outstanding = 1;   /* held while the requests are made */
	if (p->dns_name != NULL && H->dns_query(ctx, p->dns_name, p->dns_type, dns_cb, p) == 0)
		ss->outstanding++;
	if (p->store_key != NULL && H->store_incr(ctx, p->store_key, 1, 60000, store_cb, p) == 0)
		ss->outstanding++;
	if (p->work && H->work(ctx, work_fn, work_cb, p) == 0)
		ss->outstanding++;
	if (ss->resume_when_done && ss->outstanding == 1) {
		/* Every request refused: answer now. */
		ss->outstanding = 0;
		ss->token = 0;
		return SLUICE_TEMPFAIL;
	}
	/* Drop the hold: when every answer came already, this resumes at once
	 * (the host takes a resume made inside the hook as its answer). */
	async_done(ctx, ss, p);
	return SLUICE_PENDING;
}

/* ------------------------------------------------------------ hooks */

static enum sluice_verdict
probe_connect(struct sluice_ctx *ctx, void *self)
{
	struct probe *p = self;
	struct sess *ss = calloc(1, sizeof(*ss));
	sluice_resume_t orphan = atomic_exchange(&orphan_token, 0);

	if (ss == NULL)
		return SLUICE_TEMPFAIL;
	H->set_data(ctx, SLUICE_SCOPE_SESSION, ss);
	if (orphan != 0) {
		/* A token of a session that is gone: resuming it must be harmless. */
		int rc = H->resume(orphan, SLUICE_REJECT);
		H->log(ctx, SLUICE_LOG_INFO, "probe: late resume returned %d", rc);
	}
	if (p->late_resume_ms > 0) {
		/* Made outside a transaction: this timer lives until disconnect. */
		ss->late = calloc(1, sizeof(*ss->late));
		if (ss->late != NULL && H->timer(ctx, p->late_resume_ms, late_timer_cb, ss->late) < 0) {
			free(ss->late);
			ss->late = NULL;
		}
	}
	return probe_phase(ctx, p, P_CONNECT);
}

static enum sluice_verdict
probe_helo(struct sluice_ctx *ctx, void *self, const char *helo)
{
	(void)helo;
	return probe_phase(ctx, self, P_HELO);
}

static enum sluice_verdict
probe_mail(struct sluice_ctx *ctx, void *self, const char *sender, const char *const *params)
{
	(void)sender;
	(void)params;
	return probe_phase(ctx, self, P_MAIL);
}

static enum sluice_verdict
probe_rcpt(struct sluice_ctx *ctx, void *self, const char *rcpt, const char *const *params)
{
	(void)rcpt;
	(void)params;
	return probe_phase(ctx, self, P_RCPT);
}

static enum sluice_verdict
probe_data(struct sluice_ctx *ctx, void *self)
{
	return probe_phase(ctx, self, P_DATA);
}

static enum sluice_verdict
probe_header(struct sluice_ctx *ctx, void *self, const char *name, const char *value)
{
	(void)name;
	(void)value;
	return probe_phase(ctx, self, P_HEADER);
}

static enum sluice_verdict
probe_eoh(struct sluice_ctx *ctx, void *self)
{
	return probe_phase(ctx, self, P_EOH);
}

static enum sluice_verdict
probe_body(struct sluice_ctx *ctx, void *self, const unsigned char *chunk, size_t len)
{
	(void)chunk;
	(void)len;
	return probe_phase(ctx, self, P_BODY);
}

static enum sluice_verdict
probe_eom(struct sluice_ctx *ctx, void *self)
{
	struct probe *p = self;

	/* The edits, in a fixed order; each refusal is logged by the host. */
	if (p->header_add_name != NULL)
		H->header_add(ctx, p->header_add_name, p->header_add_value);
	if (p->header_insert_name != NULL)
		H->header_insert(ctx, p->header_insert_pos, p->header_insert_name, p->header_insert_value);
	if (p->header_change_name != NULL)
		H->header_change(ctx, p->header_change_name, p->header_change_index, p->header_change_value);
	if (p->header_delete_name != NULL)
		H->header_change(ctx, p->header_delete_name, p->header_delete_index, NULL);
	if (p->sender_change != NULL)
		H->sender_change(ctx, p->sender_change, NULL);
	if (p->rcpt_add != NULL)
		H->rcpt_add(ctx, p->rcpt_add, NULL);
	if (p->rcpt_delete != NULL)
		H->rcpt_delete(ctx, p->rcpt_delete);
	if (p->body_replace != NULL)
		H->body_replace(ctx, p->body_replace, strlen(p->body_replace));
	if (p->message_read) {
		size_t octets = 0;
		char text[32];

		if (H->message_read(ctx, count_cb, &octets) == 0)
			snprintf(text, sizeof(text), "%zu", octets);
		else
			snprintf(text, sizeof(text), "refused");
		H->header_add(ctx, "X-Probe-Read", text);
	}
	return probe_phase(ctx, p, P_EOM);
}

/* The transaction ended: its results and its pending call are gone. */
static void
probe_reset(struct sluice_ctx *ctx, void *self)
{
	struct probe *p = self;
	struct sess *ss = sess_of(ctx);

	if (ss == NULL)
		return;
	ss->done_at_phase = 0;
	if (p->at >= P_MAIL) {
		ss->token = 0;
		ss->outstanding = 0;
		ss->resume_when_done = 0;
		ss->dns[0] = ss->count[0] = ss->work[0] = '\0';
	}
}

static void
probe_close(struct sluice_ctx *ctx, void *self)
{
	(void)self;
	free(sess_of(ctx));
	H->set_data(ctx, SLUICE_SCOPE_SESSION, NULL);
}

const struct sluice_filter sluice_filter = {
	SLUICE_FILTER_HEADER,
	.name = "probe",
	.description = "configurable test filter for the chain tests",
	.init = probe_init,
	.fini = probe_fini,
	.connect = probe_connect,
	.helo = probe_helo,
	.mail = probe_mail,
	.rcpt = probe_rcpt,
	.data = probe_data,
	.header = probe_header,
	.eoh = probe_eoh,
	.body = probe_body,
	.eom = probe_eom,
	.reset = probe_reset,
	.close = probe_close,
};
