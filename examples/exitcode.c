/* SPDX-License-Identifier: MIT */
/* exitcode -- how a child's end shows in its exit code: 0 for success, n
 * for exit(n), -N when signal N killed it.  The Python original:
 *
 *	def exit_error():
 *	    sys.exit(1)
 *	def exit_ok():
 *	    return
 *	def return_value():
 *	    return 1
 *	def raises():
 *	    raise RuntimeError('There was an error!')
 *	def terminated():
 *	    time.sleep(3)
 *
 *	if __name__ == '__main__':
 *	    jobs = []
 *	    funcs = [exit_error, exit_ok, return_value, raises, terminated]
 *	    for f in funcs:
 *	        print('Starting process for', f.__name__)
 *	        j = multiprocessing.Process(target=f, name=f.__name__)
 *	        jobs.append(j)
 *	        j.start()
 *	    jobs[-1].terminate()
 *	    for j in jobs:
 *	        j.join()
 *	        print('{:>15}.exitcode = {}'.format(j.name, j.exitcode))
 *
 * Two differences from Python: an actor's return value is its exit code,
 * as main()'s is, so return_value gives 1 where Python ignores it and
 * gives 0; and there are no exceptions: an actor returns an error code
 * (with tr_fail() saying why), which is logged on stderr, as Python
 * prints the traceback, and gives exit code 1. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "troupe.h"

static int
exit_error(const void *args, size_t len)
{
	tr_exit(1);
}
TR_ACTOR(exit_error, exit_error)

static int
exit_ok(const void *args, size_t len)
{
	return 0;
}
TR_ACTOR(exit_ok, exit_ok)

static int
return_value(const void *args, size_t len)
{
	return 1; /* exit code 1; Python would report 0 */
}
TR_ACTOR(return_value, return_value)

static int
raises(const void *args, size_t len)
{
	return tr_fail(-EIO, "There was an error!");
}
TR_ACTOR(raises, raises)

static int
terminated(const void *args, size_t len)
{
	sleep(3);
	return 0;
}
TR_ACTOR(terminated, terminated)

static void
check(int r, const char *what)
{
	if (r < 0) {
		fprintf(stderr, "exitcode: %s: %s\n", what, tr_strerror(r));
		exit(1);
	}
}

int
main(int argc, char **argv)
{
	static const char *const funcs[] = { "exit_error", "exit_ok",
		"return_value", "raises", "terminated" };
	enum { N = sizeof(funcs) / sizeof(funcs[0]) };
	tr_process *jobs[N];
	int         code;

	check(tr_init(argc, argv), "tr_init");
	for (int i = 0; i < N; i++) {
		printf("Starting process for %s\n", funcs[i]);
		fflush(stdout);
		check(tr_process_new(&jobs[i], funcs[i], NULL, 0),
		    "tr_process_new");
		check(tr_process_set_name(jobs[i], funcs[i]),
		    "tr_process_set_name");
		check(tr_process_start(jobs[i], 10000), "tr_process_start");
	}
	check(tr_process_terminate(jobs[N - 1]), "tr_process_terminate");
	for (int i = 0; i < N; i++) {
		check(tr_process_join(jobs[i], TR_TIMEOUT_INFINITE),
		    "tr_process_join");
		check(
		    tr_process_exitcode(jobs[i], &code), "tr_process_exitcode");
		printf("%15s.exitcode = %d\n", tr_process_name(jobs[i]), code);
		tr_process_destroy(&jobs[i]);
	}
	return 0;
}
