/* SPDX-License-Identifier: MIT */
/* Value and Array, and the shared-memory segments under them: every type
 * code, range and overflow errors, a child (each start method) negating
 * them as in the seed example, opening by name, and memory that outlives
 * its creator's SIGKILL for those attached, with nothing in /dev/shm. */
#include "tr-test.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "troupe/shared.h"
#include "troupe/shm.h"

/* "negate VALUE ARRAY": v = 3.1415927, a[i] = -a[i]. */
static int
negate(const void *args, size_t len)
{
	char      v[128], a[128];
	tr_value *val;
	tr_array *arr;

	if (sscanf(args, "%127s %127s", v, a) != 2 ||
	    tr_value_open(&val, v) < 0 || tr_array_open(&arr, a) < 0) {
		return 10;
	}
	if (tr_value_set_f64(val, 3.1415927) < 0) {
		return 11;
	}
	for (size_t i = 0; i < tr_array_len(arr); i++) {
		int64_t x;

		if (tr_array_get_i64(arr, i, &x) < 0 ||
		    tr_array_set_i64(arr, i, -x) < 0) {
			return 11;
		}
	}
	return 0;
}
TR_ACTOR(negate, negate)

/* "create NAME": an Array named NAME, ready, then wait to be killed. */
static int
create(const void *args, size_t len)
{
	tr_array *a;
	int32_t   init[3] = { 7, 8, 9 };

	if (tr_array_new(&a, args, 'i', 3, init, 0) < 0) {
		return 10;
	}
	tr_ready();
	pause();
	return 0;
}
TR_ACTOR_FLAGS(create, create, TR_ACTOR_MANUAL_READY)

static void
test_type_codes(void **state)
{
	static const char   codes[] = "bBhHiIlLqQfd";
	static const size_t sizes[] = { 1, 1, 2, 2, 4, 4, sizeof(long),
		sizeof(long), 8, 8, 4, 8 };

	for (int i = 0; codes[i]; i++) {
		tr_array *a, *o;
		int64_t   x;
		double    d;

		TR_ASSERT_OK(tr_array_new(&a, NULL, codes[i], 4, NULL, 0));
		assert_int_equal(tr_array_itemsize(a), sizes[i]);
		assert_int_equal(tr_array_typecode(a), codes[i]);
		assert_int_equal(tr_array_len(a), 4);
		assert_non_null(tr_array_get_lock(a));
		TR_ASSERT_OK(tr_array_set_i64(a, 3, 100));
		TR_ASSERT_OK(tr_array_open(&o, tr_array_addr(a)));
		TR_ASSERT_OK(tr_array_get_i64(o, 3, &x));
		assert_int_equal(x, 100);
		TR_ASSERT_OK(tr_array_get_f64(o, 3, &d));
		assert_true(d == 100.0);
		TR_ASSERT_OK(tr_array_get_i64(o, 0, &x));
		assert_int_equal(x, 0);
		TR_ASSERT_ERR(tr_array_get_i64(o, 4, &x), -ERANGE);
		TR_ASSERT_ERR(tr_array_set_i64(o, 4, 1), -ERANGE);
		tr_array_destroy(&o);
		tr_array_destroy(&a);
	}
	{
		tr_array *a;
		int64_t   x = 0;

		TR_ASSERT_ERR(tr_array_new(&a, NULL, 'x', 1, NULL, 0), -EINVAL);
		TR_ASSERT_ERR(tr_array_new(&a, NULL, 'i', 0, NULL, 0), -EINVAL);
		TR_ASSERT_ERR(tr_array_new(&a, NULL, 'i', 1, NULL, 8), -EINVAL);
		TR_ASSERT_OK(tr_array_new(&a, NULL, 'b', 1, NULL, 0));
		TR_ASSERT_OK(tr_array_set_i64(a, 0, -128));
		TR_ASSERT_ERR(tr_array_set_i64(a, 0, 128), -EOVERFLOW);
		TR_ASSERT_OK(tr_array_get_i64(a, 0, &x));
		assert_int_equal(x, -128); /* unchanged */
		tr_array_destroy(&a);
		TR_ASSERT_OK(tr_array_new(&a, NULL, 'B', 1, NULL, 0));
		TR_ASSERT_ERR(tr_array_set_i64(a, 0, -1), -EOVERFLOW);
		TR_ASSERT_ERR(tr_array_set_f64(a, 0, 1e300), -EOVERFLOW);
		tr_array_destroy(&a);
	}
}

static void
test_value_and_nolock(void **state)
{
	tr_value *v, *o;
	tr_array *a;
	double    d = 0;

	TR_ASSERT_OK(tr_value_new(&v, NULL, 'd', 0));
	assert_non_null(tr_value_get_lock(v));
	assert_true(tr_lock_is_recursive(tr_value_get_lock(v)));
	TR_ASSERT_OK(tr_value_set_f64(v, 2.5));
	TR_ASSERT_OK(tr_value_open(&o, tr_value_addr(v)));
	TR_ASSERT_OK(tr_value_get_f64(o, &d));
	assert_true(d == 2.5);
	assert_true(*(double *) tr_value_ptr(o) == 2.5);
	/* holding the lock across accesses, as for v.value += 1 */
	TR_ASSERT_OK(tr_lock_acquire(tr_value_get_lock(o), 0));
	TR_ASSERT_OK(tr_value_set_f64(o, d + 1));
	TR_ASSERT_OK(tr_lock_release(tr_value_get_lock(o)));
	TR_ASSERT_OK(tr_value_get_f64(v, &d));
	assert_true(d == 3.5);
	tr_value_destroy(&o);
	/* an Array is not a Value (a Value may be opened as an Array) */
	TR_ASSERT_OK(tr_array_new(&a, NULL, 'd', 1, NULL, TR_SHARED_NOLOCK));
	assert_null(tr_array_get_lock(a));
	TR_ASSERT_ERR(tr_value_open(&o, tr_array_addr(a)), TR_EBADTYPE);
	tr_array_destroy(&a);
	TR_ASSERT_OK(tr_array_open(&a, tr_value_addr(v)));
	assert_int_equal(tr_array_len(a), 1);
	tr_array_destroy(&a);
	tr_value_destroy(&v);
}

/* The seed's example, under each start method, by address and by name. */
static void
test_child_negates(void **state)
{
	for (int m = 1; m <= 3; m++) {
		int32_t     init[10], got[10];
		char        args[256];
		tr_value   *v;
		tr_array   *a;
		tr_process *p;
		double      d = 0;

		for (int i = 0; i < 10; i++) {
			init[i] = i;
		}
		TR_ASSERT_OK(tr_value_new(&v, NULL, 'd', 0));
		TR_ASSERT_OK(tr_array_new(&a, "seed-arr", 'i', 10, init, 0));
		snprintf(args, sizeof(args), "%s %s", tr_value_addr(v),
		    m == 2 ? "seed-arr" : tr_array_addr(a));
		TR_ASSERT_OK(tr_process_new(&p, "negate", args, strlen(args)));
		TR_ASSERT_OK(tr_process_set_start_method(p, m));
		TR_ASSERT_OK(tr_process_start(p, TR_TEST_HANG_MS));
		assert_int_equal(tr_test_finish(&p), 0);
		TR_ASSERT_OK(tr_value_get_f64(v, &d));
		assert_true(d == 3.1415927);
		TR_ASSERT_OK(tr_array_read(a, 0, 10, got));
		for (int i = 0; i < 10; i++) {
			assert_int_equal(got[i], -i);
		}
		TR_ASSERT_ERR(tr_array_read(a, 5, 6, got), -ERANGE);
		tr_array_destroy(&a);
		tr_value_destroy(&v);
	}
}

/* Attached memory outlives the creator's SIGKILL; a new open then fails
 * (and the stale name is taken over); nothing is ever in /dev/shm. */
static void
test_creator_killed(void **state)
{
	for (int m = 1; m <= 3; m++) {
		tr_process *p;
		tr_array   *a, *o;
		int64_t     x      = 0;
		int         before = tr_test_dir_count("/dev/shm");

		TR_ASSERT_OK(tr_process_new(&p, "create", "killed-arr", 10));
		TR_ASSERT_OK(tr_process_set_start_method(p, m));
		TR_ASSERT_OK(tr_process_start(p, TR_TEST_HANG_MS));
		TR_ASSERT_OK(tr_array_open(&a, "killed-arr"));
		TR_ASSERT_OK(tr_process_kill(p));
		assert_int_equal(tr_test_finish(&p), -SIGKILL);
		TR_ASSERT_OK(tr_array_get_i64(a, 2, &x));
		assert_int_equal(x, 9);
		TR_ASSERT_OK(tr_array_set_i64(a, 2, 10));
		TR_ASSERT_ERR(tr_array_open(&o, "killed-arr"), TR_ENOTFOUND);
		TR_ASSERT_ERR(tr_array_open(&o, tr_array_addr(a)), -ESRCH);
		TR_ASSERT_OK(tr_array_new(&o, "killed-arr", 'i', 1, NULL, 0));
		tr_array_destroy(&o);
		tr_array_destroy(&a);
		assert_int_equal(tr_test_dir_count("/dev/shm"), before);
	}
}

static void
test_shm(void **state)
{
	tr_shm *s, *o;

	TR_ASSERT_ERR(tr_shm_new(&s, NULL, 0), -EINVAL);
	TR_ASSERT_OK(tr_shm_new(&s, "raw-seg", 100));
	assert_int_equal(tr_shm_size(s), 100);
	assert_string_equal(tr_shm_name(s), "raw-seg");
	assert_int_equal((uintptr_t) tr_shm_data(s) % 64, 0);
	memset(tr_shm_data(s), 0xab, 100);
	TR_ASSERT_OK(tr_shm_open(&o, "raw-seg"));
	assert_int_equal(((unsigned char *) tr_shm_data(o))[99], 0xab);
	assert_string_equal(tr_shm_addr(o), tr_shm_addr(s));
	tr_shm_destroy(&o);
	TR_ASSERT_ERR(tr_shm_open(&o, "shm:1.2"), TR_EBADADDR);
	TR_ASSERT_ERR(tr_shm_open(&o, ""), -EINVAL);
	/* pid 1's descriptor 0 is no troupe segment */
	assert_true(tr_shm_open(&o, "shm:1.1.0") < 0);
	tr_shm_destroy(&s);
	tr_shm_destroy(&s);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shm),
		cmocka_unit_test(test_type_codes),
		cmocka_unit_test(test_value_and_nolock),
		cmocka_unit_test(test_child_negates),
		cmocka_unit_test(test_creator_killed),
	};

	if (tr_init(argc, argv) < 0) {
		return 99;
	}
	return cmocka_run_group_tests_name("shared", tests, NULL, NULL);
}
