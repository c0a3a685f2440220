/* SPDX-License-Identifier: MIT */
/* hello -- run one function in a child process and wait for it.  The
 * Python original:
 *
 *	def f(name):
 *	    print('hello', name)
 *
 *	if __name__ == '__main__':
 *	    p = Process(target=f, args=('bob',))
 *	    p.start()
 *	    p.join()
 *
 * In troupe the target is an actor registered under a name, and its
 * arguments travel as bytes: here "bob" without a terminating NUL. */
#include <stdio.h>
#include <stdlib.h>

#include "troupe.h"

static int
f(const void *args, size_t len)
{
	printf("hello %.*s\n", (int) len, (const char *) args);
	return 0;
}
TR_ACTOR(f, f)

static void
check(int r, const char *what)
{
	if (r < 0) {
		fprintf(stderr, "hello: %s: %s\n", what, tr_strerror(r));
		exit(1);
	}
}

int
main(int argc, char **argv)
{
	tr_process *p;

	/* first of all: a child started by spawn runs its actor in here */
	check(tr_init(argc, argv), "tr_init");
	check(tr_process_new(&p, "f", "bob", 3), "tr_process_new");
	fflush(stdout);
	check(tr_process_start(p, 10000), "tr_process_start");
	check(tr_process_join(p, TR_TIMEOUT_INFINITE), "tr_process_join");
	tr_process_destroy(&p);
	return 0;
}
