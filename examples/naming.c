/* SPDX-License-Identifier: MIT */
/* naming -- every process has a name: the one it was given, or the default
 * "Process-N", where N counts the handles this process created.  The
 * Python original:
 *
 *	def worker():
 *	    name = multiprocessing.current_process().name
 *	    print(name, 'Starting')
 *	    time.sleep(2)
 *	    print(name, 'Exiting')
 *
 *	def my_service():
 *	    ... the same, sleeping 3 s ...
 *
 *	if __name__ == '__main__':
 *	    service = multiprocessing.Process(name='my_service',
 *	                                      target=my_service)
 *	    worker_1 = multiprocessing.Process(name='worker 1', target=worker)
 *	    worker_2 = multiprocessing.Process(target=worker)  # default name
 *	    worker_1.start()
 *	    worker_2.start()
 *	    service.start()
 *
 * worker_2 is the third handle made, so it is "Process-3".  Each child
 * reports that it is running only after its "Starting" line, so those
 * lines come in start order. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "troupe.h"

static int
sleepy(unsigned seconds)
{
	const char *name = tr_self_name();
	int         r;

	printf("%s Starting\n", name);
	fflush(stdout);
	r = tr_ready();
	sleep(seconds);
	printf("%s Exiting\n", name);
	return r;
}

static int
worker(const void *args, size_t len)
{
	return sleepy(2);
}
TR_ACTOR_FLAGS(worker, worker, TR_ACTOR_MANUAL_READY)

static int
my_service(const void *args, size_t len)
{
	return sleepy(3);
}
TR_ACTOR_FLAGS(my_service, my_service, TR_ACTOR_MANUAL_READY)

static void
check(int r, const char *what)
{
	if (r < 0) {
		fprintf(stderr, "naming: %s: %s\n", what, tr_strerror(r));
		exit(1);
	}
}

int
main(int argc, char **argv)
{
	tr_process *service, *worker_1, *worker_2;

	check(tr_init(argc, argv), "tr_init");
	check(
	    tr_process_new(&service, "my_service", NULL, 0), "tr_process_new");
	check(
	    tr_process_set_name(service, "my_service"), "tr_process_set_name");
	check(tr_process_new(&worker_1, "worker", NULL, 0), "tr_process_new");
	check(tr_process_set_name(worker_1, "worker 1"), "tr_process_set_name");
	check(tr_process_new(&worker_2, "worker", NULL, 0), "tr_process_new");

	check(tr_process_start(worker_1, 10000), "tr_process_start");
	check(tr_process_start(worker_2, 10000), "tr_process_start");
	check(tr_process_start(service, 10000), "tr_process_start");

	check(
	    tr_process_join(worker_1, TR_TIMEOUT_INFINITE), "tr_process_join");
	check(
	    tr_process_join(worker_2, TR_TIMEOUT_INFINITE), "tr_process_join");
	check(tr_process_join(service, TR_TIMEOUT_INFINITE), "tr_process_join");
	tr_process_destroy(&worker_1);
	tr_process_destroy(&worker_2);
	tr_process_destroy(&service);
	return 0;
}
