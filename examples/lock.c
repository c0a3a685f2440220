/* SPDX-License-Identifier: MIT */
/* lock -- a Lock keeps the children's lines whole.  The Python original:
 *
 *	def f(l, i):
 *	    l.acquire()
 *	    try:
 *	        print('hello world', i)
 *	    finally:
 *	        l.release()
 *
 *	if __name__ == '__main__':
 *	    lock = Lock()
 *	    for num in range(10):
 *	        Process(target=f, args=(lock, num)).start()
 *
 * A child gets the lock's address as its argument (with its number) and
 * opens it; that works under every start method. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "troupe.h"

static int
f(const void *args, size_t len)
{
	char     addr[TR_SHM_ADDRLEN];
	int      i;
	tr_lock *l;

	if (sscanf(args, "%63s %d", addr, &i) != 2 || tr_lock_open(&l, addr)) {
		return 1;
	}
	if (tr_lock_acquire(l, TR_TIMEOUT_INFINITE) < 0) {
		return 1;
	}
	printf("hello world %d\n", i);
	fflush(stdout);
	(void) tr_lock_release(l);
	tr_lock_destroy(&l);
	return 0;
}
TR_ACTOR(f, f)

static void
check(int r, const char *what)
{
	if (r < 0) {
		fprintf(stderr, "lock: %s: %s\n", what, tr_strerror(r));
		exit(1);
	}
}

int
main(int argc, char **argv)
{
	tr_process *p[10];
	tr_lock    *lock;

	check(tr_init(argc, argv), "tr_init");
	check(tr_lock_new(&lock, NULL), "tr_lock_new");
	fflush(stdout);
	for (int num = 0; num < 10; num++) {
		char args[128];

		snprintf(args, sizeof(args), "%s %d", tr_lock_addr(lock), num);
		check(tr_process_new(&p[num], "f", args, strlen(args)),
		    "tr_process_new");
		check(tr_process_start(p[num], 10000), "tr_process_start");
	}
	for (int num = 0; num < 10; num++) {
		check(tr_process_join(p[num], TR_TIMEOUT_INFINITE), "join");
		tr_process_destroy(&p[num]);
	}
	tr_lock_destroy(&lock);
	return 0;
}
