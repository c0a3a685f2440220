/* SPDX-License-Identifier: MIT */
/* Allocation failures in tr_pipe (-Dfault_injection=true): walking N from
 * 0 up, the Nth runtime allocation fails.  Every call returns -ENOMEM or
 * succeeds, a receive that fails for memory leaves its message in the
 * pipe (it comes whole on the next try), nothing leaks (LeakSanitizer). */
#include "tr-test.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void tri_alloc_fail_after(long n) __attribute__((weak));

#define BIG (200 * 1024) /* four records */

static bool
ok_or_oom(int r)
{
	return r >= 0 || r == -ENOMEM;
}

/* Receive the next message, retrying while memory fails: its size. */
static size_t
recv_size(tr_pipe *r, uint8_t first)
{
	tr_msg *m = NULL;
	size_t  n;
	int     e;

	while ((e = tr_pipe_recv(r, &m, 0)) == -ENOMEM) {
		tri_alloc_fail_after(-1); /* then it must come, whole */
	}
	TR_ASSERT_OK(e);
	n = tr_msg_size(m);
	assert_true(n == 0 || ((const uint8_t *) tr_msg_data(m))[0] == first);
	tr_msg_destroy(&m);
	return n;
}

static void
one_round(long n, uint8_t *big)
{
	tr_pipe *a = NULL, *b = NULL;
	int      r;

	tri_alloc_fail_after(n);
	r = tr_pipe_new(true, &a, &b);
	assert_true(ok_or_oom(r));
	if (r == 0) {
		TR_ASSERT_OK(tr_pipe_send_bytes(a, "s", 1, 0));
		TR_ASSERT_OK(tr_pipe_send_bytes(a, big, BIG, 0));
		TR_ASSERT_OK(tr_pipe_send_bytes(a, "", 0, 0));
		assert_int_equal(recv_size(b, 's'), 1);
		assert_int_equal(recv_size(b, big[0]), BIG);
		assert_int_equal(recv_size(b, 0), 0);
	}
	tri_alloc_fail_after(-1);
	tr_pipe_destroy(&a);
	tr_pipe_destroy(&b);
}

static void
test_every_allocation_failure_in_a_pipe_is_clean(void **state)
{
	uint8_t *big = malloc(BIG);

	(void) state;
	assert_non_null(big);
	memset(big, 'B', BIG);
	for (long n = 0; n < 12; n++) {
		one_round(n, big);
	}
	free(big);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		    test_every_allocation_failure_in_a_pipe_is_clean),
	};

	if (!tri_alloc_fail_after) {
		fprintf(
		    stderr, "skipped: built without -Dfault_injection=true\n");
		return 77;
	}
	if (tr_init(argc, argv) < 0) {
		return 99;
	}
	return cmocka_run_group_tests_name("pipe-fault", tests, NULL, NULL);
}
