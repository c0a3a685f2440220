/* SPDX-License-Identifier: MIT */
/* manager-semaphore -- at most two of five workers hold the resource at
 * once, with a Semaphore held by a manager (Python's
 * manager.Semaphore(2)).  The Python original (with
 * multiprocessing.Semaphore(2)):
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
 * Worker i holds the resource for i * 50 ms here (Python: i * 2 s).  A
 * worker that died holding a unit would give it back (the next acquirer
 * would be told TR_LOCK_OWNER_DIED), which Python's does not. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "troupe.h"

/* args: "WHERE KEY SEM I" */
static int
worker(const void *args, size_t len)
{
	char            where[80], key[80], sref[80];
	tr_manager     *m;
	tr_mobj        *s;
	int             i;
	struct timespec ts;

	if (sscanf(args, "%79s %79s %79s %d", where, key, sref, &i) != 4 ||
	    tr_manager_connect(&m, where, key) < 0) {
		return 1;
	}
	if (tr_mobj_open(&s, m, sref) < 0 ||
	    tr_msem_acquire(s, TR_TIMEOUT_INFINITE) < 0) {
		return 1;
	}
	printf("%s acquire\n", tr_self_name());
	fflush(stdout);
	ts.tv_sec  = 0;
	ts.tv_nsec = (long) i * 50 * 1000000;
	nanosleep(&ts, NULL);
	printf("%s release\n", tr_self_name());
	fflush(stdout);
	(void) tr_msem_release(s);
	tr_mobj_destroy(&s);
	tr_manager_destroy(&m);
	return 0;
}
TR_ACTOR(worker, worker)

static void
check(int r, const char *what)
{
	if (r < 0) {
		fprintf(stderr, "manager-semaphore: %s: %s\n", what,
		    tr_strerror(r));
		exit(1);
	}
}

int
main(int argc, char **argv)
{
	tr_manager *manager;
	tr_mobj    *s;
	tr_mval    *two;
	tr_process *p[5];

	check(tr_init(argc, argv), "tr_init");
	check(tr_manager_start(&manager, NULL), "Manager()");
	two = tr_mval_int(2);
	check(tr_mobj_new(&s, manager, TR_MOBJ_SEMAPHORE, NULL, two),
	    "Semaphore(2)");
	tr_mval_destroy(&two);
	fflush(stdout);
	for (int i = 0; i < 5; i++) {
		char args[320];

		snprintf(args, sizeof(args), "%s %s %s %d",
		    tr_manager_where(manager), tr_manager_authkey(manager),
		    tr_mobj_ref(s), i);
		check(tr_process_new(&p[i], "worker", args, strlen(args)),
		    "tr_process_new");
		check(tr_process_start(p[i], 10000), "tr_process_start");
	}
	/* the manager must outlive them: join first */
	for (int i = 0; i < 5; i++) {
		check(tr_process_join(p[i], TR_TIMEOUT_INFINITE), "join");
		tr_process_destroy(&p[i]);
	}
	tr_mobj_destroy(&s);
	tr_manager_destroy(&manager);
	return 0;
}
