/* SPDX-License-Identifier: MIT */
/* The public clock and deadline helpers (troupe/common.h), on the same
 * monotonic clock as the runtime's own waits (tri_now_ms()). */
#include "troupe/common.h"

#include <limits.h>

#include "util.h"

int64_t
tr_now_ms(void)
{
	return tri_now_ms();
}

int64_t
tr_deadline(int timeout_ms)
{
	return tri_deadline(timeout_ms);
}

int
tr_deadline_left(int64_t deadline)
{
	int64_t left;

	if (deadline < 0) {
		return TR_TIMEOUT_INFINITE;
	}
	left = deadline - tri_now_ms();
	if (left <= 0) {
		return 0;
	}
	return left > INT_MAX ? INT_MAX : (int) left;
}
