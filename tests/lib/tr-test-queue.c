/* SPDX-License-Identifier: MIT */
#include "tr-test-queue.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int
tr_test_queue_open_arg(const void *args, tr_queue **q, int *n)
{
	char where[128] = "";

	if (sscanf(args, "%127s %d", where, n) != 2) {
		return -EINVAL;
	}
	return tr_queue_open(q, where);
}

tr_process *
tr_test_queue_start(const char *actor, const char *where, int n, int method)
{
	tr_process *p;
	char        args[160];

	snprintf(args, sizeof(args), "%s %d", where, n);
	TR_ASSERT_OK(tr_process_new(&p, actor, args, strlen(args) + 1));
	TR_ASSERT_OK(tr_process_set_start_method(p, method));
	TR_ASSERT_OK(tr_process_start(p, TR_TEST_HANG_MS));
	return p;
}
