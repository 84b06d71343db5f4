/* dkim_sign.c - signing outbound mail: the keys of the sign table, the message
 * as it will go out (host->message_read), the signature made in the worker
 * pool, DKIM-Signature added at the top. */

/*
 * RSA goes through libopendkim (a dkim_sign handle fed on the loop thread,
 * dkim_eom in a worker). Ed25519 does not: libopendkim 2.11.0~beta2's dkim_free
 * forgets the EVP_PKEY and a buffer of an Ed25519 signing handle, some 470
 * octets per message. For it we canonicalize (dkim_canon.c), hash with OpenSSL
 * and sign the hash with PureEdDSA ourselves, as RFC 8463 3 describes;
 * python3-dkim verifies the result in the tests.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <time.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "dkim_canon.h"
#include "dkim_int.h"

#define DKF_KEYFILE_MAX (64 * 1024)
#define DKF_SIGHDR_PREFIX (sizeof(DKIM_SIGNHEADER ": ") - 1)   /* for the folding */

/* ---------------------------------------------------------------- keys (init) */

static char *
read_small_file(const char *path, char *why, size_t whylen)
{
	FILE *f = fopen(path, "r");
	char *buf;
	size_t n;

	if (f == NULL) {
		snprintf(why, whylen, "%s", strerror(errno));
		return NULL;
	}
	if ((buf = malloc(DKF_KEYFILE_MAX + 1)) == NULL) {
		fclose(f);
		snprintf(why, whylen, "out of memory");
		return NULL;
	}
	n = fread(buf, 1, DKF_KEYFILE_MAX + 1, f);
	if (ferror(f) || n > DKF_KEYFILE_MAX) {
		snprintf(why, whylen, "%s", ferror(f) ? strerror(errno) : "larger than 64 KiB");
		fclose(f);
		free(buf);
		return NULL;
	}
	fclose(f);
	buf[n] = '\0';
	return buf;
}

/* What kind of private key pem is: the algorithm follows from the key. */
static int
key_inspect(struct dkf_key *k, char *why, size_t whylen)
{
	BIO *bio = BIO_new_mem_buf(k->pem, -1);
	EVP_PKEY *pkey = bio != NULL ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
	int ret = -1;

	BIO_free(bio);
	if (pkey == NULL) {
		snprintf(why, whylen, "no PEM private key (PKCS#1 or PKCS#8, unencrypted)");
		return -1;
	}
	switch (EVP_PKEY_base_id(pkey)) {
	case EVP_PKEY_RSA:
		k->alg = DKIM_SIGN_RSASHA256;
		k->bits = (unsigned)EVP_PKEY_get_bits(pkey);
		/* RFC 8301 3.2: signers MUST use at least 1024 bits. */
		if (k->bits < 1024)
			snprintf(why, whylen, "RSA key of %u bits; want at least 1024", k->bits);
		else
			ret = 0;
		break;
	case EVP_PKEY_ED25519: {
		size_t len = sizeof(k->raw);

		k->alg = DKIM_SIGN_ED25519SHA256;
		k->bits = 256;
		if (EVP_PKEY_get_raw_private_key(pkey, k->raw, &len) != 1 || len != sizeof(k->raw))
			snprintf(why, whylen, "cannot read the Ed25519 key");
		else
			ret = 0;
		break;
	}
	default:
		snprintf(why, whylen, "neither an RSA nor an Ed25519 key");
		break;
	}
	EVP_PKEY_free(pkey);
	return ret;
}

int
dkf_sign_load_keys(struct dkf *self, struct sluice_filter_config *cfg)
{
	const struct sluice_host *h = self->host;
	int errors = 0;

	if ((self->keys = calloc(self->table->n, sizeof(*self->keys))) == NULL)
		return -1;
	for (size_t i = 0; i < self->table->n; i++) {
		const struct dkf_table_entry *e = &self->table->v[i];
		struct dkf_key *k = &self->keys[i];
		char why[256];

		if ((k->pem = read_small_file(e->keyfile, why, sizeof(why))) == NULL ||
		    key_inspect(k, why, sizeof(why)) < 0) {
			h->config_error(cfg, "sign_table", "line %d: %s: %s", e->line, e->keyfile,
			                why);
			errors++;
		}
	}
	return errors > 0 ? -1 : 0;
}

void
dkf_sign_free_keys(struct dkf *self)
{
	for (size_t i = 0; self->keys != NULL && self->table != NULL && i < self->table->n; i++) {
		/* The key's text is a secret: do not leave it in freed memory. */
		if (self->keys[i].pem != NULL)
			explicit_bzero(self->keys[i].pem, strlen(self->keys[i].pem));
		explicit_bzero(self->keys[i].raw, sizeof(self->keys[i].raw));
		free(self->keys[i].pem);
	}
	free(self->keys);
	self->keys = NULL;
}

/* ---------------------------------------------------------------- reading the message */

/* One pass over the message as it goes out. The header fields are kept until
 * the end of the header section: only then is the From domain, and so the key,
 * known. */
struct sign_run {
	struct dkf *self;
	struct sluice_ctx *ctx;
	const char *id;           /* the transaction's, for libopendkim's messages */
	struct dkf_split split;
	char **fields;
	size_t nfields;
	char domain[256];         /* From's, "" while not seen */
	int from_seen;
	const struct dkf_table_entry *entry;
	const struct dkf_key *key;
	DKIM *dkim;               /* RSA: libopendkim's handle */
	EVP_MD_CTX *bh;           /* Ed25519: the body hash, of ... */
	struct dkf_canon_body canon;   /* ... the relaxed body */
	char *hlist, *block;      /* Ed25519: h= and the relaxed fields it names */
	char bh64[64];            /* Ed25519: bh= */
	int started;              /* a signer took the header section */
	const char *skip;         /* why this message goes out unsigned */
	const char *error;        /* why signing failed */
};

static int
run_field(void *arg, const char *field, size_t len)
{
	struct sign_run *r = arg;
	char **fields, *copy;
	size_t name = strcspn(field, ":");

	if ((fields = realloc(r->fields, (r->nfields + 1) * sizeof(*fields))) == NULL ||
	    (copy = strndup(field, len)) == NULL) {
		if (fields != NULL)
			r->fields = fields;
		r->error = "out of memory";
		return 1;
	}
	r->fields = fields;
	r->fields[r->nfields++] = copy;
	while (name > 0 && (field[name - 1] == ' ' || field[name - 1] == '\t'))
		name--;
	/* The first From: counts (a second one makes the message suspect, but
	 * signing it changes nothing: both are signed, and oversigned). */
	if (!r->from_seen && name == 4 && strncasecmp(field, "From", 4) == 0) {
		const char *value = copy + strcspn(copy, ":") + 1;

		r->from_seen = 1;
		if (dkf_from_domain(value, r->domain, sizeof(r->domain)) < 0)
			r->domain[0] = '\0';
	}
	return 0;
}

static void
bh_update(void *arg, const void *data, size_t len)
{
	struct sign_run *r = arg;

	if (EVP_DigestUpdate(r->bh, data, len) != 1)
		r->error = "SHA-256 failed";
}

/* Ed25519: the fields are chosen and canonicalized now; the body is hashed as
 * it streams. */
static int
start_ed25519(struct sign_run *r)
{
	if ((r->bh = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(r->bh, EVP_sha256(), NULL) != 1 ||
	    dkf_canon_select(r->fields, r->nfields, dkf_sign_headers, dkf_oversign_headers,
	                     &r->hlist, &r->block) < 0) {
		r->error = "out of memory";
		return 1;
	}
	dkf_canon_body_init(&r->canon, bh_update, r);
	r->started = 1;
	return 0;
}

static int
start_rsa(struct sign_run *r)
{
	DKIM_STAT st;

	r->dkim = dkim_sign(r->self->lib, (const u_char *)r->id, NULL,
	                    (dkim_sigkey_t)r->key->pem, (const u_char *)r->entry->selector,
	                    (const u_char *)r->entry->domain, DKIM_CANON_RELAXED,
	                    DKIM_CANON_RELAXED, r->key->alg, -1, &st);
	if (r->dkim == NULL) {
		r->error = dkim_getresultstr(st);
		return 1;
	}
	r->started = 1;
	for (size_t i = 0; i < r->nfields; i++) {
		u_char *f = (u_char *)r->fields[i];

		if (dkim_header(r->dkim, f, strlen(r->fields[i])) != DKIM_STAT_OK) {
			r->skip = "a header field libopendkim refuses";
			return 1;
		}
	}
	if (dkim_eoh(r->dkim) != DKIM_STAT_OK) {
		r->error = dkim_geterror(r->dkim) ? dkim_geterror(r->dkim) : "dkim_eoh failed";
		return 1;
	}
	return 0;
}

static int
run_eoh(void *arg)
{
	struct sign_run *r = arg;

	if (!r->from_seen || r->domain[0] == '\0') {
		r->skip = r->from_seen ? "no domain in From" : "no From field";
		return 1;
	}
	if ((r->entry = dkf_table_find(r->self->table, r->domain)) == NULL) {
		r->skip = "From domain not in the sign table";
		return 1;
	}
	r->key = &r->self->keys[r->entry - r->self->table->v];
	return r->key->alg == DKIM_SIGN_ED25519SHA256 ? start_ed25519(r) : start_rsa(r);
}

static int
run_body(void *arg, const unsigned char *data, size_t len)
{
	struct sign_run *r = arg;

	if (r->bh != NULL) {
		dkf_canon_body_feed(&r->canon, data, len);
		return r->error != NULL;
	}
	if (dkim_body(r->dkim, (u_char *)data, len) != DKIM_STAT_OK) {
		r->error = dkim_geterror(r->dkim) ? dkim_geterror(r->dkim) : "dkim_body failed";
		return 1;
	}
	return 0;
}

static int
run_chunk(void *arg, const unsigned char *data, size_t len)
{
	struct sign_run *r = arg;
	int ret = dkf_split_feed(&r->split, data, len);

	if (ret < 0 && r->skip == NULL && r->error == NULL)
		r->skip = "malformed header section";
	return ret != 0;
}

static void
run_free(struct sign_run *r)
{
	for (size_t i = 0; i < r->nfields; i++)
		free(r->fields[i]);
	free(r->fields);
	dkf_split_free(&r->split);
	if (r->dkim != NULL)
		dkim_free(r->dkim);
	EVP_MD_CTX_free(r->bh);
	free(r->hlist);
	free(r->block);
}

/* ---------------------------------------------------------------- signing in a worker */

struct sign_job {
	struct dkf *self;
	sluice_resume_t token;
	char domain[256];
	char selector[256];
	int alg;
	DKIM *dkim;               /* RSA */
	char *hlist, *block;      /* Ed25519 */
	char bh[64];
	unsigned char raw[32];
	char *value;              /* the DKIM-Signature value, "\n\t" folded */
	char error[200];
};

/* Worker thread (both): no ctx, no host calls. */
static void
work_rsa(struct sign_job *j)
{
	DKIM_STAT st = dkim_eom(j->dkim, NULL);
	u_char *buf = NULL;
	size_t len = 0;

	if (st == DKIM_STAT_OK)
		st = dkim_getsighdr_d(j->dkim, DKF_SIGHDR_PREFIX, &buf, &len);
	if (st != DKIM_STAT_OK || buf == NULL) {
		snprintf(j->error, sizeof(j->error), "%s", dkim_geterror(j->dkim) ?
		         dkim_geterror(j->dkim) : dkim_getresultstr(st));
	} else if ((j->value = strndup((const char *)buf, len)) != NULL) {
		dkf_fold_lf(j->value);
	} else {
		snprintf(j->error, sizeof(j->error), "out of memory");
	}
	dkim_free(j->dkim);          /* buf belongs to the handle */
	j->dkim = NULL;
}

/* RFC 6376 3.7: the chosen fields, then this DKIM-Signature with an empty b=
 * and without its CRLF, all relaxed, into SHA-256; RFC 8463 3: Ed25519 signs
 * that hash. */
static void
work_ed25519(struct sign_job *j)
{
	char *tmpl = dkf_sig_template("ed25519-sha256", j->domain, j->selector,
	                              (uint64_t)time(NULL), j->bh, j->hlist);
	char *field = NULL, *canon = NULL;
	unsigned char digest[32], sig[64], b64[100];
	size_t siglen = sizeof(sig), n;
	unsigned dlen = 0;
	EVP_MD_CTX *md = EVP_MD_CTX_new(), *sc = EVP_MD_CTX_new();
	EVP_PKEY *pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, j->raw,
	                                              sizeof(j->raw));

	if (tmpl == NULL || md == NULL || sc == NULL || pkey == NULL ||
	    (field = malloc(strlen(tmpl) + DKF_SIGHDR_PREFIX + 1)) == NULL ||
	    (canon = malloc(strlen(tmpl) + DKF_SIGHDR_PREFIX + 1)) == NULL) {
		snprintf(j->error, sizeof(j->error), "out of memory");
		goto out;
	}
	n = (size_t)snprintf(field, strlen(tmpl) + DKF_SIGHDR_PREFIX + 1, "%s: %s", DKIM_SIGNHEADER,
	                     tmpl);
	n = dkf_canon_header(field, n, canon);
	if (EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(md, j->block, strlen(j->block)) != 1 ||
	    EVP_DigestUpdate(md, canon, n) != 1 || EVP_DigestFinal_ex(md, digest, &dlen) != 1 ||
	    EVP_DigestSignInit(sc, NULL, NULL, NULL, pkey) != 1 ||
	    EVP_DigestSign(sc, sig, &siglen, digest, dlen) != 1) {
		snprintf(j->error, sizeof(j->error), "Ed25519 signing failed");
		goto out;
	}
	EVP_EncodeBlock(b64, sig, (int)siglen);
	if ((j->value = dkf_sig_finish(tmpl, (const char *)b64)) == NULL)
		snprintf(j->error, sizeof(j->error), "out of memory");
out:
	explicit_bzero(j->raw, sizeof(j->raw));
	EVP_PKEY_free(pkey);
	EVP_MD_CTX_free(md);
	EVP_MD_CTX_free(sc);
	free(tmpl);
	free(field);
	free(canon);
}

static void *
sign_work(void *arg)
{
	struct sign_job *j = arg;

	if (j->alg == DKIM_SIGN_ED25519SHA256)
		work_ed25519(j);
	else
		work_rsa(j);
	return j;
}

static void
job_free(struct sign_job *j)
{
	if (j->dkim != NULL)
		dkim_free(j->dkim);
	explicit_bzero(j->raw, sizeof(j->raw));
	free(j->hlist);
	free(j->block);
	free(j->value);
	free(j);
}

static void
sign_done(struct sluice_ctx *ctx, void *arg, enum sluice_async_status status, void *result)
{
	struct sign_job *j = arg;
	const struct sluice_host *h = j->self->host;
	enum sluice_verdict v = SLUICE_CONTINUE;

	(void)result;               /* == arg when the work ran */
	if (status == SLUICE_ASYNC_CANCELLED || ctx == NULL) {
		job_free(j);
		return;
	}
	if (j->value == NULL || h->header_add(ctx, DKIM_SIGNHEADER, j->value) < 0) {
		h->log(ctx, SLUICE_LOG_ERROR, "sign d=%s s=%s: %s", j->domain, j->selector,
		       j->value == NULL ? j->error : "the header was refused");
		h->set_reply(ctx, "451", "4.7.0", "DKIM signing failed, try again later");
		h->counter_add(ctx, "sign_errors", 1);
		v = SLUICE_TEMPFAIL;
	} else {
		h->log(ctx, SLUICE_LOG_INFO, "signed d=%s s=%s a=%s", j->domain, j->selector,
		       j->alg == DKIM_SIGN_ED25519SHA256 ? "ed25519-sha256" : "rsa-sha256");
		h->counter_add(ctx, "signed", 1);
	}
	h->resume(j->token, v);
	job_free(j);
}

enum sluice_verdict
dkf_sign_eom(struct dkf *self, struct dkf_tx *tx, struct sluice_ctx *ctx)
{
	const struct sluice_host *h = self->host;
	struct dkf_split_cb cb = { run_field, run_eoh, run_body, NULL };
	struct sign_run r = { 0 };
	struct sign_job *j;

	if (h->message_read == NULL) {
		h->log(ctx, SLUICE_LOG_WARNING, "not signed: this sluiced cannot read the outgoing "
		       "message (host->message_read missing)");
		return SLUICE_CONTINUE;
	}
	r.self = self;
	r.ctx = ctx;
	r.id = tx->id;
	cb.arg = &r;
	dkf_split_init(&r.split, &cb);
	if (h->message_read(ctx, run_chunk, &r) < 0 && r.error == NULL && r.skip == NULL)
		r.error = "the message could not be read";
	if (r.error == NULL && r.skip == NULL && dkf_split_end(&r.split) < 0)
		r.skip = "malformed header section";
	if (r.error == NULL && r.skip == NULL && !r.started)
		r.skip = "no header section";
	if (r.error == NULL && r.skip == NULL && r.bh != NULL) {
		unsigned char digest[32];
		unsigned dlen = 0;

		dkf_canon_body_end(&r.canon);
		if (EVP_DigestFinal_ex(r.bh, digest, &dlen) != 1)
			r.error = "SHA-256 failed";
		else
			EVP_EncodeBlock((unsigned char *)r.bh64, digest, (int)dlen);
	}
	if (r.skip != NULL && r.error == NULL) {
		h->log(ctx, SLUICE_LOG_INFO, "not signed: %s%s%s", r.skip, r.domain[0] ? " " : "",
		       r.domain);
		h->counter_add(ctx, "unsigned", 1);
		run_free(&r);
		return SLUICE_CONTINUE;
	}
	if (r.error != NULL || (j = calloc(1, sizeof(*j))) == NULL) {
		h->log(ctx, SLUICE_LOG_ERROR, "not signed: %s",
		       r.error != NULL ? r.error : "out of memory");
		h->set_reply(ctx, "451", "4.7.0", "DKIM signing failed, try again later");
		h->counter_add(ctx, "sign_errors", 1);
		run_free(&r);
		return SLUICE_TEMPFAIL;
	}
	j->self = self;
	j->dkim = r.dkim;
	r.dkim = NULL;
	j->hlist = r.hlist;
	j->block = r.block;
	r.hlist = r.block = NULL;
	memcpy(j->bh, r.bh64, sizeof(j->bh));
	memcpy(j->raw, r.key->raw, sizeof(j->raw));
	j->alg = r.key->alg;
	snprintf(j->domain, sizeof(j->domain), "%s", r.entry->domain);
	snprintf(j->selector, sizeof(j->selector), "%s", r.entry->selector);
	run_free(&r);
	/* The done callback resumes; it runs later, on this loop thread. */
	j->token = h->suspend(ctx);
	if (j->token == 0 || h->work(ctx, sign_work, sign_done, j) < 0) {
		h->log(ctx, SLUICE_LOG_ERROR, "not signed: the worker pool refused the job");
		h->set_reply(ctx, "451", "4.7.0", "DKIM signing failed, try again later");
		job_free(j);
		return SLUICE_TEMPFAIL;
	}
	return SLUICE_PENDING;
}
