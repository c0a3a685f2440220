/* SPDX-License-Identifier: MIT */
/* start-methods -- one actor started by each of the three start methods.
 * As in Python (multiprocessing.set_start_method() or get_context()):
 *
 *	fork		the child is a copy of the parent: it sees the
 *			parent's memory as it was at start().
 *	spawn		a fresh run of this program: it sees the program's
 *			memory as it was at load time, and its arguments.
 *	forkserver	forked by a server process (itself a fresh run of
 *			this program, started on first use): like spawn it
 *			sees only load-time memory, but it starts faster.
 *			Its parent, for tr_self_parent_pid(), is still the
 *			starter (Python's parent_process()), though getppid()
 *			names the server.
 *
 * `value` is set by main() after tr_init(), so only the fork child sees
 * it.  Arguments (here the method's name and main's pid) reach every
 * child the same way.  A program can also leave the choice to the user:
 * TROUPE_START_METHOD=spawn sets the default of tr_process_start(). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "troupe.h"

struct hello_args {
	char  method[16];
	pid_t main_pid;
};

static int value;

static int
hello(const void *args, size_t len)
{
	struct hello_args a;

	if (len != sizeof(a)) {
		return tr_fail(-EINVAL, "bad arguments (%zu bytes)", len);
	}
	memcpy(&a, args, sizeof(a));
	printf("%-10s: %s sees value = %d, its parent is %s\n", a.method,
	    tr_self_name(), value,
	    tr_self_parent_pid() == a.main_pid ? "the main program"
	                                       : "another process");
	fflush(stdout);
	return 0;
}
TR_ACTOR(hello, hello)

static void
check(int r, const char *what)
{
	if (r < 0) {
		fprintf(
		    stderr, "start-methods: %s: %s\n", what, tr_strerror(r));
		exit(1);
	}
}

int
main(int argc, char **argv)
{
	static const int  methods[] = { TR_START_FORK, TR_START_SPAWN,
		 TR_START_FORKSERVER };
	struct hello_args a;
	tr_process       *p;
	int               code;

	check(tr_init(argc, argv), "tr_init");
	value = 42;
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		memset(&a, 0, sizeof(a));
		snprintf(a.method, sizeof(a.method), "%s",
		    tr_start_method_name(methods[i]));
		a.main_pid = tr_self_pid();
		check(tr_process_new(&p, "hello", &a, sizeof(a)),
		    "tr_process_new");
		check(tr_process_set_start_method(p, methods[i]),
		    "tr_process_set_start_method");
		fflush(stdout);
		check(tr_process_start(p, 10000), "tr_process_start");
		check(
		    tr_process_join(p, TR_TIMEOUT_INFINITE), "tr_process_join");
		check(tr_process_exitcode(p, &code), "tr_process_exitcode");
		printf("%-10s: %s exited with exitcode %d\n", a.method,
		    tr_process_name(p), code);
		tr_process_destroy(&p);
	}
	return 0;
}
