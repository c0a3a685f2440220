/* SPDX-License-Identifier: MIT */
/* terminate -- end a child from outside with SIGTERM.  The Python
 * original:
 *
 *	def slow_worker():
 *	    print('Starting worker')
 *	    time.sleep(0.1)
 *	    print('Finished worker')
 *
 *	if __name__ == '__main__':
 *	    p = multiprocessing.Process(target=slow_worker)
 *	    print('BEFORE:', p, p.is_alive())
 *	    p.start()
 *	    print('DURING:', p, p.is_alive())
 *	    p.terminate()
 *	    print('TERMINATED:', p, p.is_alive())
 *	    p.join()
 *	    print('JOINED:', p, p.is_alive())
 *
 * describe() prints what Python's repr of a Process shows.  The worker
 * reports that it is running after "Starting worker", so that line always
 * comes before DURING (a Python child is usually still starting up when
 * it is terminated, and prints nothing).  Right after terminate() the
 * child may or may not have died yet: like Python, is_alive() usually
 * still says True there; join() is what waits for the end. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* sigabbrev_np() */
#endif
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "troupe.h"

static int
slow_worker(const void *args, size_t len)
{
	int r;

	printf("Starting worker\n");
	fflush(stdout);
	r = tr_ready();
	usleep(100000);
	printf("Finished worker\n");
	return r;
}
TR_ACTOR_FLAGS(slow_worker, slow_worker, TR_ACTOR_MANUAL_READY)

static void
check(int r, const char *what)
{
	if (r < 0) {
		fprintf(stderr, "terminate: %s: %s\n", what, tr_strerror(r));
		exit(1);
	}
}

/* "<Process name='Process-1' pid=12 parent=11 stopped exitcode=-SIGTERM>" */
static void
print_state(const char *label, tr_process *p)
{
	bool alive = tr_process_is_alive(p);
	int  code;

	printf("%s <Process name='%s'", label, tr_process_name(p));
	if (tr_process_pid(p) > 0) {
		printf(" pid=%d", (int) tr_process_pid(p));
	}
	printf(" parent=%d", (int) tr_self_pid());
	if (tr_process_pid(p) == 0) {
		printf(" initial");
	} else if (alive || tr_process_exitcode(p, &code) < 0) {
		printf(" started");
	} else if (code < 0 && sigabbrev_np(-code)) {
		printf(" stopped exitcode=-SIG%s", sigabbrev_np(-code));
	} else {
		printf(" stopped exitcode=%d", code);
	}
	printf("> %s\n", alive ? "True" : "False");
	fflush(stdout);
}

int
main(int argc, char **argv)
{
	tr_process *p;

	check(tr_init(argc, argv), "tr_init");
	check(tr_process_new(&p, "slow_worker", NULL, 0), "tr_process_new");
	print_state("BEFORE:", p);
	check(tr_process_start(p, 10000), "tr_process_start");
	print_state("DURING:", p);
	check(tr_process_terminate(p), "tr_process_terminate");
	print_state("TERMINATED:", p);
	check(tr_process_join(p, TR_TIMEOUT_INFINITE), "tr_process_join");
	print_state("JOINED:", p);
	tr_process_destroy(&p);
	return 0;
}
