/* SPDX-License-Identifier: MIT */
/* "Process pools" from the notes on fork, Process and Pool: five tasks
 * given to a pool with apply_async, then close and join.  Each task
 * prints from its worker; the sleeps are a tenth of the original's (up to
 * 0.3 s, not 3 s), so the example runs in a moment:
 *
 *     def long_time_task(name):
 *         print('Run task %s (%s)...' % (name, os.getpid()))
 *         start = time.time()
 *         time.sleep(random.random() * 3)
 *         end = time.time()
 *         print('Task %s runs %0.2f seconds.' % (name, (end - start)))
 *
 *     print('Parent process %s.' % os.getpid())
 *     p = Pool()                   # defaults to CPU count
 *     for i in range(5):
 *         p.apply_async(long_time_task, args=(i,))
 *     print('Waiting for all subprocesses done...')
 *     p.close()
 *     p.join()
 *     print('All subprocesses done.')
 *
 * The parent's lines and the workers' may interleave, as in Python. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "troupe.h"

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static int
long_time_task(const void *item, size_t len, tr_pool_out *out)
{
	int32_t         name;
	double          start, end;
	struct timespec ts;
	long            ns;

	if (len != sizeof(name)) {
		return tr_pool_out_fail(out, -EINVAL, "wants an int32");
	}
	memcpy(&name, item, sizeof(name));
	printf("Run task %d (%d)...\n", (int) name, (int) getpid());
	fflush(stdout);
	start = now_s();
	srandom((unsigned) getpid() ^ (unsigned) name);
	ns = (long) ((double) random() / RAND_MAX * 0.3 * 1e9);
	ts = (struct timespec) { ns / 1000000000L, ns % 1000000000L };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR) { }
	end = now_s();
	printf("Task %d runs %0.2f seconds.\n", (int) name, end - start);
	fflush(stdout);
	return 0;
}
TR_POOL_FN(long_time_task, long_time_task)

int
main(int argc, char **argv)
{
	tr_pool *p = NULL;
	int      r;

	r = tr_init(argc, argv);
	if (r < 0) {
		return 1;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("Parent process %d.\n", (int) getpid());
	r = tr_pool_new(&p, NULL); /* defaults to the CPU count */
	for (int32_t i = 0; r == 0 && i < 5; i++) {
		r = tr_pool_apply_async(
		    p, "long_time_task", &i, sizeof(i), NULL, NULL);
	}
	if (r == 0) {
		printf("Waiting for all subprocesses done...\n");
		r = tr_pool_close(p);
	}
	if (r == 0) {
		r = tr_pool_join(p, TR_TIMEOUT_INFINITE);
	}
	tr_pool_destroy(&p);
	if (r < 0) {
		fprintf(stderr, "pool-tasks: %s\n", tr_strerror(r));
		return 1;
	}
	printf("All subprocesses done.\n");
	return 0;
}
