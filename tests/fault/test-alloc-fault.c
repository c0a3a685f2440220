/* SPDX-License-Identifier: MIT */
/* Allocation failures: with -Dfault_injection=true the Nth allocation the
 * runtime makes through tri_alloc fails.  Walking N from 0 up, every call
 * must fail cleanly with -ENOMEM (or succeed), never crash, never leak
 * (the sanitizer build runs this under LeakSanitizer), and the runtime
 * must work normally once allocations succeed again. */
#include "tr-test.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* Present only in a build with fault injection. */
void tri_alloc_fail_after(long n) __attribute__((weak));

static int
nop(const void *args, size_t len)
{
	return 0;
}

static bool
ok_or_oom(int r)
{
	return r >= 0 || r == -ENOMEM;
}

static void
one_round(long n)
{
	tr_msg     *m = NULL, *in = NULL;
	tr_process *p = NULL;
	char        name[32];
	int         r;

	tri_alloc_fail_after(n);
	r = tr_msg_new_bytes(&m, "payload", 7);
	assert_true(ok_or_oom(r));
	if (r == 0) {
		r = tr_send(tr_self(), &m, 1000);
		assert_true(ok_or_oom(r));
		tr_msg_destroy(&m); /* still ours if the send failed */
	}
	r = tr_recv(&in, 50);
	assert_true(r == 0 || r == -ENOMEM || r == -ETIMEDOUT);
	tr_msg_destroy(&in);
	r = tr_process_new(&p, "nop", "xyz", 3);
	assert_true(ok_or_oom(r));
	tr_process_destroy(&p);
	snprintf(name, sizeof(name), "actor%ld", n);
	assert_true(ok_or_oom(tr_actor_register(name, nop, 0)));
	tri_alloc_fail_after(-1);
}

static void
test_every_allocation_failure_is_clean(void **state)
{
	tr_msg *m;

	for (long n = 0; n < 40; n++) {
		one_round(n);
	}
	/* drain what got through, then everything works again */
	while (tr_recv(&m, 100) == 0) {
		tr_msg_destroy(&m);
	}
	TR_ASSERT_OK(tr_send_bytes(tr_self(), "after", 5, 1000));
	TR_ASSERT_OK(tr_recv(&m, TR_TEST_HANG_MS));
	assert_int_equal(tr_msg_size(m), 5);
	tr_msg_destroy(&m);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_allocation_failure_is_clean),
	};

	if (!tri_alloc_fail_after) {
		fprintf(
		    stderr, "skipped: built without -Dfault_injection=true\n");
		return 77;
	}
	if (tr_init(argc, argv) < 0) {
		return 99;
	}
	return cmocka_run_group_tests_name("alloc-fault", tests, NULL, NULL);
}
