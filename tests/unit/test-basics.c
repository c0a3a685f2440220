/* SPDX-License-Identifier: MIT */
/* Errors, logging levels, start-method names, the actor registry. */
#include "tr-test.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int
fn_a(const void *args, size_t len)
{
	return 0;
}

static int
fn_b(const void *args, size_t len)
{
	return 1;
}

static void
test_strerror_names_every_code(void **state)
{
#define CHECK(name, num, text)                              \
	assert_string_equal(tr_strerror(TR_E##name), text); \
	assert_int_equal(TR_E##name, -(num));
	TR_ERRNO_MAP(CHECK)
#undef CHECK
	assert_string_equal(tr_strerror(-ETIMEDOUT), strerror(ETIMEDOUT));
	assert_string_equal(tr_strerror(0), "success");
	assert_non_null(tr_strerror(-123456));
}

static void
test_log_levels_parse(void **state)
{
	assert_int_equal(tr_log_level_parse("debug"), TR_LOG_DEBUG);
	assert_int_equal(tr_log_level_parse("INFO"), TR_LOG_INFO);
	assert_int_equal(tr_log_level_parse("warn"), TR_LOG_WARNING);
	assert_int_equal(tr_log_level_parse("none"), TR_LOG_NONE);
	assert_int_equal(tr_log_level_parse("loud"), -EINVAL);
	assert_int_equal(tr_log_level_parse(NULL), -EINVAL);
	tr_log_set_level(99);
	assert_int_equal(tr_log_level(), TR_LOG_DEBUG);
	tr_log_set_level(TR_LOG_ERROR);
	assert_int_equal(tr_log_level(), TR_LOG_ERROR);
}

static void
test_start_methods_parse(void **state)
{
	assert_int_equal(tr_start_method_parse("fork"), TR_START_FORK);
	assert_int_equal(tr_start_method_parse("spawn"), TR_START_SPAWN);
	assert_int_equal(
	    tr_start_method_parse("forkserver"), TR_START_FORKSERVER);
	assert_int_equal(tr_start_method_parse("vfork"), -EINVAL);
	assert_string_equal(tr_start_method_name(TR_START_SPAWN), "spawn");
	assert_null(tr_start_method_name(17));
}

static void
test_registry_rejects_duplicates(void **state)
{
	char long_name[100];

	TR_ASSERT_OK(tr_actor_register("fn_a", fn_a, 0));
	TR_ASSERT_OK(tr_actor_register("fn_a", fn_a, 0)); /* same: fine */
	TR_ASSERT_ERR(tr_actor_register("fn_a", fn_b, 0), TR_EEXISTS);
	TR_ASSERT_ERR(tr_actor_register(NULL, fn_a, 0), -EINVAL);
	TR_ASSERT_ERR(tr_actor_register("x", NULL, 0), -EINVAL);
	memset(long_name, 'a', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	TR_ASSERT_ERR(tr_actor_register(long_name, fn_a, 0), -EINVAL);
}

static void
test_cpu_count_positive(void **state)
{
	assert_true(tr_cpu_count() >= 1);
}

static void
test_process_new_needs_init(void **state)
{
	tr_process *p = NULL;

	TR_ASSERT_ERR(tr_process_new(&p, "fn_a", NULL, 0), TR_ENOTINIT);
	assert_null(p);
	TR_ASSERT_ERR(tr_process_join(NULL, 0), -EINVAL);
	tr_process_destroy(NULL);
	tr_process_destroy(&p);
}

/* With jemalloc as malloc, troupe's default of one arena is in force
 * (fewer copy-on-write faults in each fork child); MALLOC_CONF overrides. */
static void
test_jemalloc_one_arena(void **state)
{
	int (*mallctl)(const char *, void *, size_t *, void *, size_t);
	unsigned n   = 0;
	size_t   len = sizeof(n);

	*(void **) &mallctl = dlsym(RTLD_DEFAULT, "mallctl");
	if (!mallctl || getenv("MALLOC_CONF")) {
		skip(); /* the sanitizer build's malloc, or the user's choice */
	}
	assert_int_equal(mallctl("opt.narenas", &n, &len, NULL, 0), 0);
	assert_int_equal(n, 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_strerror_names_every_code),
		cmocka_unit_test(test_log_levels_parse),
		cmocka_unit_test(test_start_methods_parse),
		cmocka_unit_test(test_registry_rejects_duplicates),
		cmocka_unit_test(test_cpu_count_positive),
		cmocka_unit_test(test_process_new_needs_init),
		cmocka_unit_test(test_jemalloc_one_arena),
	};

	return cmocka_run_group_tests_name("basics", tests, NULL, NULL);
}
