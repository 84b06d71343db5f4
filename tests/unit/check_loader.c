/* check_loader.c - unit tests for loader.c: refusals naming the file, keys, init
 * and fini order, rollback on errors. The stub filters are tests/stubs/. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "loader.h"
#include "util.h"

/* The table a real host fills in full; the loader's tests need its config part. */
static const struct sluice_host test_host = {
	.abi_version = SLUICE_FILTER_ABI_VERSION,
	.struct_size = sizeof(struct sluice_host),
	.config_get = loader_config_get,
	.config_error = loader_config_error,
	.config_where = loader_config_where,
};

/* Where libtool put the stub .so files: $BUILDDIR (make check), else the build
 * tree this test was compiled in. */
static const char *
stub_dir(void)
{
	static char dir[4096];
	const char *b = getenv("BUILDDIR");

	if (dir[0] == '\0') {
		if (b != NULL && *b != '\0')
			xsnprintf(dir, sizeof(dir), "%s/tests/stubs/.libs", b);
		else
			strlcpy_s(dir, STUBDIR, sizeof(dir));
	}
	return dir;
}

/* tmpl with every "@S@" replaced by the stub directory and "@L@" by log. */
static char *
expand(const char *tmpl, const char *log)
{
	size_t cap = strlen(tmpl) * 2 + 8192, n = 0;
	char *out = xmalloc(cap);

	for (const char *p = tmpl; *p; ) {
		const char *with = strncmp(p, "@S@", 3) == 0 ? stub_dir() :
		                   strncmp(p, "@L@", 3) == 0 ? (log ? log : "") : NULL;

		if (with != NULL) {
			n += xsnprintf(out + n, cap - n, "%s", with);
			p += 3;
		} else if (n + 1 < cap)
			out[n++] = *p++;
	}
	out[n] = '\0';
	return out;
}

/* Parse tmpl as "t.conf" (which must be valid) and load its filters. Returns the
 * loader's error count; *msgs_r holds what it printed. */
static int
load_filters(const char *tmpl, const char *log, struct config **cfg_r, struct filter_set **set_r,
             char **msgs_r)
{
	char *text = expand(tmpl, log), *msgs;
	size_t len;
	FILE *errs;
	int n;

	errs = open_memstream(&msgs, &len);
	n = config_load_string(text, "t.conf", errs, cfg_r);
	fclose(errs);
	ck_assert_msg(n == 0, "config: got %d errors (%s), want 0", n, msgs);
	free(msgs);
	free(text);
	errs = open_memstream(msgs_r, &len);
	n = loader_load(*cfg_r, &test_host, errs, set_r);
	fclose(errs);
	return n;
}

static char *
log_new(void)
{
	char *path = xstrdup("/tmp/check_loader_XXXXXX");
	int fd = mkstemp(path);

	ck_assert_int_ge(fd, 0);
	close(fd);
	return path;
}

static char *
log_read(const char *path)
{
	FILE *fp = fopen(path, "r");
	char *text = xcalloc(1, 4096);

	ck_assert_ptr_nonnull(fp);
	size_t n = fread(text, 1, 4095, fp);
	text[n] = '\0';
	fclose(fp);
	return text;
}

/* ---------------------------------------------------------------- refusals */

static const struct error_case {
	const char *conf;
	int want_errors;
	const char *want_msg;            /* "@S@" = the stub directory */
} error_cases[] = {
	{ "[filter a]\nmodule = @S@/stub_badabi.so\n", 1,
	  "t.conf:2: @S@/stub_badabi.so: filter ABI version 43, sluiced expects 2\n" },
	{ "[filter a]\nmodule = @S@/stub_badsize.so\n", 1,
	  "t.conf:2: @S@/stub_badsize.so: filter descriptor of " },
	{ "[filter a]\nmodule = @S@/stub_noname.so\n", 1,
	  "t.conf:2: @S@/stub_noname.so: the filter has no name\n" },
	{ "[filter a]\nmodule = @S@/stub_badname.so\n", 1,
	  "t.conf:2: @S@/stub_badname.so: bad filter name 'Bad Name'" },
	{ "[filter a]\nmodule = @S@/stub_nosym.so\n", 1,
	  "t.conf:2: @S@/stub_nosym.so: no symbol 'sluice_filter': not a sluice filter\n" },
	{ "[filter a]\nmodule = @S@/stub_missing.so\n", 1,
	  "t.conf:2: @S@/stub_missing.so: cannot load filter a: " },
	{ "[sluice]\nfilter_dir = /nonexistent/sluice\n[filter spf]\nmodule = spf\n", 1,
	  "t.conf:4: /nonexistent/sluice/spf.so: cannot load filter spf: " },
	/* duplicate descriptor names from another .so (the same .so twice is fine:
	 * test_same_module_twice) */
	{ "[filter a]\nmodule = @S@/stub_ok.so\n[filter b]\n\nmodule = @S@/stub_dup.so\n", 1,
	  "t.conf:5: @S@/stub_dup.so: duplicate filter name 'ok' (already loaded from "
	  "@S@/stub_ok.so for [filter a])\n" },
	/* init */
	{ "[filter a]\nmodule = @S@/stub_initfail.so\n", 1,
	  "t.conf:1: filter a refused its configuration\n" },
	{ "[filter a]\nmodule = @S@/stub_ok.so\ngreeting = bad\n", 1,
	  "t.conf:3: filter a: greeting: bad value 'bad' for greeting (at t.conf:3)\n" },
	{ "[filter a]\nmodule = @S@/stub_ok.so\ngreeting = hi\n; c\ncolour = red\n", 1,
	  "t.conf:5: unknown key 'colour' for filter a\n" },
	{ "[filter a]\ncolour = red\nmodule = @S@/stub_ok.so\ngreeting = hi\n", 1,
	  "t.conf:2: unknown key 'colour' for filter a\n" },
	{ "[filter quiet]\nmodule = @S@/stub_nohooks.so\ngreeting = hi\n", 1,
	  "t.conf:3: unknown key 'greeting' for filter quiet\n" },
	/* an init that refuses is not also blamed for keys it did not get to read */
	{ "[filter a]\nmodule = @S@/stub_initfail.so\ncolour = red\n", 1,
	  "t.conf:1: filter a refused its configuration\n" },
	/* every problem is reported, not only the first */
	{ "[filter a]\nmodule = @S@/stub_badabi.so\n[filter b]\nmodule = @S@/stub_nosym.so\n"
	  "[filter c]\nmodule = @S@/stub_ok.so\nx = 1\n", 3, "t.conf:7: unknown key 'x' for filter c" },
	{ "[filter a]\nmodule = @S@/stub_badabi.so\n[filter b]\nmodule = @S@/stub_nosym.so\n"
	  "[filter c]\nmodule = @S@/stub_ok.so\nx = 1\n", 3, "t.conf:4: @S@/stub_nosym.so: no symbol" },
};

START_TEST(test_errors)
{
	const struct error_case *c = &error_cases[_i];
	struct filter_set *set = (struct filter_set *)1;
	struct config *cfg;
	char *msgs, *want = expand(c->want_msg, NULL);
	int n = load_filters(c->conf, NULL, &cfg, &set, &msgs), lines = 0;

	ck_assert_msg(n == c->want_errors, "case %d: got %d errors (%s), want %d", _i, n, msgs,
	              c->want_errors);
	ck_assert_msg(strstr(msgs, want) != NULL, "case %d: got \"%s\", want it to contain \"%s\"",
	              _i, msgs, want);
	ck_assert_msg(set == NULL, "case %d: got a filter set, want NULL after errors", _i);
	for (const char *p = msgs; *p; p = strchr(p, '\n') + 1) {   /* "t.conf:N: ...\n" */
		ck_assert_msg(strncmp(p, "t.conf:", 7) == 0 && strchr(p, '\n') != NULL,
		              "case %d: got line \"%s\", want \"t.conf:N: ...\\n\"", _i, p);
		lines++;
	}
	ck_assert_msg(lines == n, "case %d: got %d message lines (%s), want %d", _i, lines, msgs, n);
	config_free(&cfg);
	free(want);
	free(msgs);
}
END_TEST

START_TEST(test_errors_unprinted)
{
	struct filter_set *set = (struct filter_set *)1;
	struct config *cfg;
	char *text = expand("[filter a]\nmodule = @S@/stub_badabi.so\n[filter b]\n"
	                    "module = @S@/stub_ok.so\ngreeting = bad\n", NULL);
	int n = config_load_string(text, "t.conf", NULL, &cfg);

	ck_assert_int_eq(n, 0);
	n = loader_load(cfg, &test_host, NULL, &set);   /* a NULL errs stream only counts */
	ck_assert_msg(n == 2, "got %d errors, want 2", n);
	ck_assert_ptr_null(set);
	config_free(&cfg);
	free(text);
}
END_TEST

/* ---------------------------------------------------------------- loading */

START_TEST(test_empty)
{
	struct filter_set *set = NULL;
	struct config *cfg;
	char *msgs;
	int n = load_filters("[sluice]\nworkers = 2\n", NULL, &cfg, &set, &msgs);

	ck_assert_msg(n == 0, "got %d errors (%s), want 0", n, msgs);
	ck_assert_msg(set != NULL, "got NULL, want an empty set");
	ck_assert_msg(set->n == 0, "got %zu filters, want 0", set->n);
	loader_unload(&set);
	ck_assert_ptr_null(set);
	loader_unload(&set);             /* unloading NULL is harmless */
	config_free(&cfg);
	free(msgs);
}
END_TEST

/* One module may serve several sections: each gets its own init and self. */
START_TEST(test_same_module_twice)
{
	struct filter_set *set = NULL;
	struct config *cfg;
	char *msgs;
	int n = load_filters("[filter a]\nmodule = @S@/stub_ok.so\ngreeting = one\n"
	                     "[filter b]\nmodule = @S@/stub_ok.so\ngreeting = two\n",
	                     NULL, &cfg, &set, &msgs);

	ck_assert_msg(n == 0, "got %d errors (%s), want 0", n, msgs);
	ck_assert_msg(set != NULL && set->n == 2, "got %zu filters, want 2", set ? set->n : 0);
	ck_assert_msg(set->filters[0].desc == set->filters[1].desc, "got two descriptors, want one module");
	ck_assert_str_eq(set->filters[0].name, "a");
	ck_assert_str_eq(set->filters[1].name, "b");
	ck_assert_msg(set->filters[0].self != set->filters[1].self, "got one self, want one per section");
	loader_unload(&set);
	config_free(&cfg);
	free(msgs);
}
END_TEST

START_TEST(test_load_ok)
{
	static const char conf[] =
		"[sluice]\n"
		"filter_dir = @S@\n"
		"[filter first]\n"
		"module = stub_ok\n"             /* by name, in filter_dir */
		"greeting = hi\n"
		"timeout = 250ms\n"
		"on_error = reject\n"
		"dry_run = yes\n"
		"[filter second]\n"
		"module = @S@/stub_nohooks.so\n" /* by path */
		"skip_authenticated = yes\n"
		"[filter third]\n"
		"module = @S@/stub_two.so\n";
	static const struct {
		const char *name, *file, *desc;
		unsigned timeout;
		enum filter_on_error on_error;
		int dry_run, skip_auth, self;
	} want[] = {
		{ "first", "stub_ok.so", "ok", 250, FILTER_ON_ERROR_REJECT, 1, 0, 1 },
		{ "second", "stub_nohooks.so", "nohooks", 30000, FILTER_ON_ERROR_TEMPFAIL, 0, 1, 0 },
		{ "third", "stub_two.so", "two", 30000, FILTER_ON_ERROR_TEMPFAIL, 0, 0, 1 },
	};
	struct filter_set *set = NULL;
	struct config *cfg;
	char *msgs;
	int n = load_filters(conf, NULL, &cfg, &set, &msgs);

	ck_assert_msg(n == 0, "got %d errors (%s), want 0", n, msgs);
	ck_assert_msg(set != NULL && set->n == ARRAY_LEN(want), "got %zu filters, want %zu",
	              set ? set->n : 0, ARRAY_LEN(want));
	for (size_t i = 0; i < ARRAY_LEN(want); i++) {
		const struct filter_instance *fi = &set->filters[i];
		char path[4200];

		xsnprintf(path, sizeof(path), "%s/%s", stub_dir(), want[i].file);
		ck_assert_msg(fi->index == i, "filter %zu: got index %u", i, fi->index);
		ck_assert_msg(strcmp(fi->name, want[i].name) == 0, "filter %zu: got name %s, want %s",
		              i, fi->name, want[i].name);
		ck_assert_msg(strcmp(fi->path, path) == 0, "filter %zu: got path %s, want %s", i,
		              fi->path, path);
		ck_assert_msg(fi->dl != NULL && fi->desc != NULL, "filter %zu: no handle", i);
		ck_assert_msg(strcmp(fi->desc->name, want[i].desc) == 0,
		              "filter %zu: got descriptor %s, want %s", i, fi->desc->name, want[i].desc);
		ck_assert_msg(fi->timeout_ms == want[i].timeout, "filter %zu: got timeout %u, want %u",
		              i, fi->timeout_ms, want[i].timeout);
		ck_assert_msg(fi->on_error == want[i].on_error, "filter %zu: got on_error %d, want %d",
		              i, (int)fi->on_error, (int)want[i].on_error);
		ck_assert_msg(fi->dry_run == want[i].dry_run, "filter %zu: got dry_run %d, want %d",
		              i, fi->dry_run, want[i].dry_run);
		ck_assert_msg(fi->skip_authenticated == want[i].skip_auth,
		              "filter %zu: got skip_authenticated %d, want %d", i,
		              fi->skip_authenticated, want[i].skip_auth);
		ck_assert_msg((fi->self != NULL) == want[i].self, "filter %zu: got self %p", i, fi->self);
	}
	ck_assert_msg(set->filters[0].desc->connect != NULL, "ok: want its connect hook");
	loader_unload(&set);
	ck_assert_ptr_null(set);
	config_free(&cfg);
	free(msgs);
}
END_TEST

/* ---------------------------------------------------------------- order */

static const struct order_case {
	const char *conf;
	int want_errors;
	const char *want_after_load;     /* what the stubs logged */
	const char *want_after_unload;
} order_cases[] = {
	/* init in chain order, fini in reverse */
	{ "[filter a]\nmodule = @S@/stub_ok.so\nlog = @L@\n"
	  "[filter b]\nmodule = @S@/stub_nohooks.so\n"
	  "[filter c]\nmodule = @S@/stub_two.so\nlog = @L@\n", 0,
	  "init ok\ninit two\n", "init ok\ninit two\nfini two\nfini ok\n" },
	{ "[filter c]\nmodule = @S@/stub_two.so\nlog = @L@\n"
	  "[filter a]\nmodule = @S@/stub_ok.so\nlog = @L@\n", 0,
	  "init two\ninit ok\n", "init two\ninit ok\nfini ok\nfini two\n" },
	/* a refusal later in the chain: the ones before get fini, in reverse */
	{ "[filter a]\nmodule = @S@/stub_ok.so\nlog = @L@\n"
	  "[filter b]\nmodule = @S@/stub_two.so\nlog = @L@\n"
	  "[filter c]\nmodule = @S@/stub_initfail.so\nlog = @L@\n", 1,
	  "init ok\ninit two\ninit initfail\nfini two\nfini ok\n", NULL },
	/* a filter whose init succeeded but left a key unread is finalised too */
	{ "[filter a]\nmodule = @S@/stub_ok.so\nlog = @L@\n"
	  "[filter b]\nmodule = @S@/stub_two.so\nlog = @L@\ntypo = 1\n", 1,
	  "init ok\ninit two\nfini two\nfini ok\n", NULL },
	/* a later file refused before init: the earlier one is finalised */
	{ "[filter a]\nmodule = @S@/stub_ok.so\nlog = @L@\n"
	  "[filter b]\nmodule = @S@/stub_badsize.so\n", 1,
	  "init ok\nfini ok\n", NULL },
};

START_TEST(test_order)
{
	const struct order_case *c = &order_cases[_i];
	char *log = log_new(), *got, *msgs;
	struct filter_set *set = NULL;
	struct config *cfg;
	int n = load_filters(c->conf, log, &cfg, &set, &msgs);

	ck_assert_msg(n == c->want_errors, "case %d: got %d errors (%s), want %d", _i, n, msgs,
	              c->want_errors);
	ck_assert_msg((set == NULL) == (n > 0), "case %d: got set %p with %d errors", _i,
	              (void *)set, n);
	got = log_read(log);
	ck_assert_msg(strcmp(got, c->want_after_load) == 0, "case %d: after load got \"%s\", "
	              "want \"%s\"", _i, got, c->want_after_load);
	free(got);
	if (c->want_after_unload != NULL) {
		loader_unload(&set);
		got = log_read(log);
		ck_assert_msg(strcmp(got, c->want_after_unload) == 0, "case %d: after unload got "
		              "\"%s\", want \"%s\"", _i, got, c->want_after_unload);
		free(got);
	}
	unlink(log);
	free(log);
	config_free(&cfg);
	free(msgs);
}
END_TEST

static Suite *
loader_suite(void)
{
	Suite *s = suite_create("loader");
	TCase *tc = tcase_create("core");

	tcase_add_loop_test(tc, test_errors, 0, (int)ARRAY_LEN(error_cases));
	tcase_add_test(tc, test_errors_unprinted);
	tcase_add_test(tc, test_empty);
	tcase_add_test(tc, test_load_ok);
	tcase_add_test(tc, test_same_module_twice);
	tcase_add_loop_test(tc, test_order, 0, (int)ARRAY_LEN(order_cases));
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(loader_suite());

	srunner_run_all(sr, CK_ENV);
	int nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf ? EXIT_FAILURE : EXIT_SUCCESS;
}
