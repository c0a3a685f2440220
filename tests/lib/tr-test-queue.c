/* SPDX-License-Identifier: MIT */
#include "tr-test-queue.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

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

int
tr_test_queue_memfds(tr_queue *q, const char *kind)
{
	char           dir[64], path[320], target[512], want[64];
	struct dirent *d;
	DIR           *dp;
	int            n = 0;

	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int) tr_queue_broker(q).pid);
	/* "ring" must not count "cring"s, nor "cring" other names */
	snprintf(want, sizeof(want), "/memfd:troupe-queue-%s", kind);
	dp = opendir(dir);
	if (!dp) {
		return -1;
	}
	while ((d = readdir(dp)) != NULL) {
		ssize_t len;

		snprintf(path, sizeof(path), "%s/%s", dir, d->d_name);
		len = readlink(path, target, sizeof(target) - 1);
		if (len <= 0) {
			continue;
		}
		target[len] = 0;
		n += strncmp(target, want, strlen(want)) == 0;
	}
	closedir(dp);
	return n;
}

bool
tr_test_queue_memfds_become(tr_queue *q, const char *kind, int n)
{
	int64_t end = tr_test_now_ms() + TR_TEST_HANG_MS;

	while (tr_test_queue_memfds(q, kind) != n && tr_test_now_ms() < end) {
		usleep(2000);
	}
	return tr_test_queue_memfds(q, kind) == n;
}
