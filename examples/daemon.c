/* SPDX-License-Identifier: MIT */
/* daemon -- daemon and non-daemon children; join, and join with a
 * timeout.  The walkthrough's three programs, chosen by the argument:
 *
 *	daemon [exit]	the daemon sleeps 2 s, main starts the non-daemon
 *			after 1 s and returns.  At exit, as in Python,
 *			daemon children are terminated and the others
 *			joined: no "Exiting" line from the daemon, and no
 *			daemon left running (check its pid with ps).
 *	daemon join	the same, but main joins both: the daemon's
 *			"Exiting" line appears.
 *	daemon timeout	both start at once, and d.join(1) gives up before
 *			the daemon's 2 s are over, so is_alive() is True.
 *
 * The Python original of the first:
 *
 *	def daemon():
 *	    p = multiprocessing.current_process()
 *	    print('Starting:', p.name, p.pid)
 *	    sys.stdout.flush()
 *	    time.sleep(2)
 *	    print('Exiting :', p.name, p.pid)
 *	    sys.stdout.flush()
 *
 *	def non_daemon():
 *	    ... the same without the sleep ...
 *
 *	if __name__ == '__main__':
 *	    d = multiprocessing.Process(name='daemon', target=daemon)
 *	    d.daemon = True
 *	    n = multiprocessing.Process(name='non-daemon', target=non_daemon)
 *	    n.daemon = False
 *	    d.start()
 *	    time.sleep(1)
 *	    n.start()
 *
 * The other two print the name without the pid.  Each child reports that
 * it is running after its "Starting" line, so those lines come in start
 * order. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "troupe.h"

/* args: "pid" to print the pid after the name, as the first program does */
static void
say(const char *what, const void *args, size_t len)
{
	if (len == 3 && memcmp(args, "pid", 3) == 0) {
		printf("%s %s %d\n", what, tr_self_name(), (int) tr_self_pid());
	} else {
		printf("%s %s\n", what, tr_self_name());
	}
	fflush(stdout);
}

static int
daemon_fn(const void *args, size_t len)
{
	int r;

	say("Starting:", args, len);
	r = tr_ready();
	sleep(2);
	say("Exiting :", args, len);
	return r;
}
TR_ACTOR_FLAGS(daemon, daemon_fn, TR_ACTOR_MANUAL_READY)

static int
non_daemon(const void *args, size_t len)
{
	int r;

	say("Starting:", args, len);
	r = tr_ready();
	say("Exiting :", args, len);
	return r;
}
TR_ACTOR_FLAGS(non_daemon, non_daemon, TR_ACTOR_MANUAL_READY)

/* File scope: in the first program the handles outlive main(), and the
 * exit handler still finds the children through them. */
static tr_process *d, *n;

static void
check(int r, const char *what)
{
	if (r < 0) {
		fprintf(stderr, "daemon: %s: %s\n", what, tr_strerror(r));
		exit(1);
	}
}

static void
make(tr_process **ret, const char *actor, const char *name, bool daemon,
    const char *args)
{
	check(tr_process_new(ret, actor, args, strlen(args)), "tr_process_new");
	check(tr_process_set_name(*ret, name), "tr_process_set_name");
	check(tr_process_set_daemon(*ret, daemon), "tr_process_set_daemon");
}

int
main(int argc, char **argv)
{
	const char *mode;

	check(tr_init(argc, argv), "tr_init");
	mode = argc > 1 ? argv[1] : "exit";
	if (strcmp(mode, "exit") && strcmp(mode, "join") &&
	    strcmp(mode, "timeout")) {
		fprintf(stderr, "usage: daemon [exit|join|timeout]\n");
		return 2;
	}
	make(&d, "daemon", "daemon", true, strcmp(mode, "exit") ? "" : "pid");
	make(&n, "non_daemon", "non-daemon", false,
	    strcmp(mode, "exit") ? "" : "pid");

	check(tr_process_start(d, 10000), "tr_process_start");
	if (strcmp(mode, "timeout") != 0) {
		sleep(1);
	}
	check(tr_process_start(n, 10000), "tr_process_start");
	if (strcmp(mode, "exit") == 0) {
		return 0; /* the exit handler terminates d and joins n */
	}
	if (strcmp(mode, "join") == 0) {
		check(
		    tr_process_join(d, TR_TIMEOUT_INFINITE), "tr_process_join");
	} else {
		int r = tr_process_join(d, 1000);

		if (r != -ETIMEDOUT) {
			check(r, "tr_process_join");
		}
		printf("d.is_alive() %s\n",
		    tr_process_is_alive(d) ? "True" : "False");
		fflush(stdout);
	}
	check(tr_process_join(n, TR_TIMEOUT_INFINITE), "tr_process_join");
	/* a daemon still running is terminated at exit, as in Python */
	return 0;
}
