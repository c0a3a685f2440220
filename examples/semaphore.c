/* SPDX-License-Identifier: MIT */
/* semaphore -- at most two of five workers hold the resource at once.
 * The Python original:
 *
 *	def worker(s, i):
 *	    s.acquire()
 *	    print(multiprocessing.current_process().name + " acquire")
 *	    time.sleep(i)
 *	    print(multiprocessing.current_process().name + " release")
 *	    s.release()
 *
 *	if __name__ == "__main__":
 *	    s = multiprocessing.Semaphore(2)
 *	    for i in range(5):
 *	        p = multiprocessing.Process(target=worker, args=(s, i * 2))
 *	        p.start()
 *
 * Worker i holds the resource for i * 50 ms here (Python: i * 2 s). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "troupe.h"

static int
worker(const void *args, size_t len)
{
	char            addr[TR_SHM_ADDRLEN];
	int             i;
	tr_sem         *s;
	struct timespec ts;

	if (sscanf(args, "%63s %d", addr, &i) != 2 || tr_sem_open(&s, addr)) {
		return 1;
	}
	if (tr_sem_acquire(s, TR_TIMEOUT_INFINITE) < 0) {
		return 1;
	}
	printf("%s acquire\n", tr_self_name());
	fflush(stdout);
	ts.tv_sec  = 0;
	ts.tv_nsec = (long) i * 50 * 1000000;
	nanosleep(&ts, NULL);
	printf("%s release\n", tr_self_name());
	fflush(stdout);
	(void) tr_sem_release(s);
	tr_sem_destroy(&s);
	return 0;
}
TR_ACTOR(worker, worker)

static void
check(int r, const char *what)
{
	if (r < 0) {
		fprintf(stderr, "semaphore: %s: %s\n", what, tr_strerror(r));
		exit(1);
	}
}

int
main(int argc, char **argv)
{
	tr_process *p[5];
	tr_sem     *s;

	check(tr_init(argc, argv), "tr_init");
	check(tr_sem_new(&s, NULL, 2, false), "tr_sem_new");
	fflush(stdout);
	for (int i = 0; i < 5; i++) {
		char args[128];

		snprintf(args, sizeof(args), "%s %d", tr_sem_addr(s), i);
		check(tr_process_new(&p[i], "worker", args, strlen(args)),
		    "tr_process_new");
		check(tr_process_start(p[i], 10000), "tr_process_start");
	}
	/* Python joins non-daemon children at exit; so does troupe, but
	 * the semaphore must outlive them: join first */
	for (int i = 0; i < 5; i++) {
		check(tr_process_join(p[i], TR_TIMEOUT_INFINITE), "join");
		tr_process_destroy(&p[i]);
	}
	tr_sem_destroy(&s);
	return 0;
}
