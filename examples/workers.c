/* SPDX-License-Identifier: MIT */
/* workers -- five workers, each told its number.  The Python original:
 *
 *	def worker(num):
 *	    print('Worker:', num)
 *
 *	if __name__ == '__main__':
 *	    jobs = []
 *	    for i in range(5):
 *	        p = multiprocessing.Process(target=worker, args=(i,))
 *	        jobs.append(p)
 *	        p.start()
 *
 * Python pickles the argument; here the int's bytes are the argument (the
 * child runs the same program, so the layout is the same on both ends).
 * In Python the lines come in whatever order the scheduler picks.  Here
 * the worker prints before it reports that it is running, and
 * tr_process_start() waits for that report, so the lines come in start
 * order while the workers still run side by side. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "troupe.h"

static int
worker(const void *args, size_t len)
{
	int num;

	if (len != sizeof(num)) {
		return tr_fail(-EINVAL, "expected an int, got %zu bytes", len);
	}
	memcpy(&num, args, sizeof(num));
	printf("Worker: %d\n", num);
	fflush(stdout);
	return tr_ready();
}
TR_ACTOR_FLAGS(worker, worker, TR_ACTOR_MANUAL_READY)

static void
check(int r, const char *what)
{
	if (r < 0) {
		fprintf(stderr, "workers: %s: %s\n", what, tr_strerror(r));
		exit(1);
	}
}

int
main(int argc, char **argv)
{
	tr_process *jobs[5];

	check(tr_init(argc, argv), "tr_init");
	for (int i = 0; i < 5; i++) {
		check(tr_process_new(&jobs[i], "worker", &i, sizeof(i)),
		    "tr_process_new");
		check(tr_process_start(jobs[i], 10000), "tr_process_start");
	}
	/* Python joins non-daemon children at exit; so would tr_init()'s
	 * exit handler, but saying so is clearer */
	for (int i = 0; i < 5; i++) {
		check(tr_process_join(jobs[i], TR_TIMEOUT_INFINITE),
		    "tr_process_join");
		tr_process_destroy(&jobs[i]);
	}
	return 0;
}
