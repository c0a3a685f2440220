/* SPDX-License-Identifier: MIT */
/* subclass -- Python can subclass Process and override run(); the
 * troupe equivalent is an actor function, which asks the runtime who it
 * is.  The Python original:
 *
 *	class Worker(multiprocessing.Process):
 *	    def run(self):
 *	        print('In {}'.format(self.name))
 *	        return
 *
 *	if __name__ == '__main__':
 *	    jobs = []
 *	    for i in range(5):
 *	        p = Worker()
 *	        jobs.append(p)
 *	        p.start()
 *	    for j in jobs:
 *	        j.join()
 *
 * Python names these "Worker-N" after the class; troupe's default names
 * are "Process-N".  The worker reports that it is running after its line,
 * so the lines come in start order. */
#include <stdio.h>
#include <stdlib.h>

#include "troupe.h"

static int
worker_run(const void *args, size_t len)
{
	printf("In %s\n", tr_self_name());
	fflush(stdout);
	return tr_ready();
}
TR_ACTOR_FLAGS(worker, worker_run, TR_ACTOR_MANUAL_READY)

static void
check(int r, const char *what)
{
	if (r < 0) {
		fprintf(stderr, "subclass: %s: %s\n", what, tr_strerror(r));
		exit(1);
	}
}

int
main(int argc, char **argv)
{
	tr_process *jobs[5];

	check(tr_init(argc, argv), "tr_init");
	for (int i = 0; i < 5; i++) {
		check(tr_process_new(&jobs[i], "worker", NULL, 0),
		    "tr_process_new");
		check(tr_process_start(jobs[i], 10000), "tr_process_start");
	}
	for (int i = 0; i < 5; i++) {
		check(tr_process_join(jobs[i], TR_TIMEOUT_INFINITE),
		    "tr_process_join");
		tr_process_destroy(&jobs[i]);
	}
	return 0;
}
