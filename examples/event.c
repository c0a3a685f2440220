/* SPDX-License-Identifier: MIT */
/* event -- one process sets an Event that two others wait on.  The Python
 * original:
 *
 *	def wait_for_event(e):
 *	    print('wait_for_event: starting')
 *	    e.wait()
 *	    print('wait_for_event: e.is_set()->', e.is_set())
 *
 *	def wait_for_event_timeout(e, t):
 *	    print('wait_for_event_timeout: starting')
 *	    e.wait(t)
 *	    print('wait_for_event_timeout: e.is_set()->', e.is_set())
 *
 *	if __name__ == '__main__':
 *	    e = multiprocessing.Event()
 *	    w1 = multiprocessing.Process(name='block',
 *	                                 target=wait_for_event, args=(e,))
 *	    w1.start()
 *	    w2 = multiprocessing.Process(name='nonblock',
 *	                                 target=wait_for_event_timeout,
 *	                                 args=(e, 2))
 *	    w2.start()
 *	    print('main: waiting before calling Event.set()')
 *	    time.sleep(3)
 *	    e.set()
 *	    print('main: event is set')
 *
 * The event lives in an actor of its own; its address (a value) is what
 * the children get as their argument, not a pointer.  Each child prints
 * "starting" before it reports running, so those lines come in start
 * order.  The last two lines may come in either order, as in Python. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "troupe.h"

/* The argument: the event's address and the wait's timeout. */
struct job {
	tr_addr event;
	int     timeout_ms;
};

static int
waiter(const void *args, size_t len, const char *fn)
{
	struct job j;
	tr_event  *e;
	int        r;

	if (len != sizeof(j)) {
		return tr_fail(-EINVAL, "expected a struct job");
	}
	memcpy(&j, args, sizeof(j));
	r = tr_event_open(&e, j.event);
	if (r < 0) {
		return tr_fail(r, "cannot open the event");
	}
	printf("%s: starting\n", fn);
	fflush(stdout);
	(void) tr_ready();
	r = tr_event_wait(e, j.timeout_ms);
	if (r >= 0) {
		r = tr_event_is_set(e);
	}
	if (r >= 0) {
		printf("%s: e.is_set()-> %s\n", fn, r ? "True" : "False");
		fflush(stdout);
	}
	tr_event_destroy(&e);
	return r < 0 ? r : 0;
}

static int
wait_for_event(const void *args, size_t len)
{
	return waiter(args, len, "wait_for_event");
}
TR_ACTOR_FLAGS(wait_for_event, wait_for_event, TR_ACTOR_MANUAL_READY)

static int
wait_for_event_timeout(const void *args, size_t len)
{
	return waiter(args, len, "wait_for_event_timeout");
}
TR_ACTOR_FLAGS(
    wait_for_event_timeout, wait_for_event_timeout, TR_ACTOR_MANUAL_READY)

static void
check(int r, const char *what)
{
	if (r < 0) {
		fprintf(stderr, "event: %s: %s\n", what, tr_strerror(r));
		exit(1);
	}
}

int
main(int argc, char **argv)
{
	tr_process *w1, *w2;
	tr_event   *e;
	struct job  j;

	check(tr_init(argc, argv), "tr_init");
	check(tr_event_new(&e, NULL), "tr_event_new");
	j = (struct job) { tr_event_addr(e), TR_TIMEOUT_INFINITE };
	check(tr_process_new(&w1, "wait_for_event", &j, sizeof(j)),
	    "tr_process_new");
	check(tr_process_set_name(w1, "block"), "tr_process_set_name");
	check(tr_process_start(w1, 10000), "tr_process_start");
	j.timeout_ms = 2000;
	check(tr_process_new(&w2, "wait_for_event_timeout", &j, sizeof(j)),
	    "tr_process_new");
	check(tr_process_set_name(w2, "nonblock"), "tr_process_set_name");
	check(tr_process_start(w2, 10000), "tr_process_start");
	printf("main: waiting before calling Event.set()\n");
	fflush(stdout);
	sleep(3);
	check(tr_event_set(e), "tr_event_set");
	printf("main: event is set\n");
	fflush(stdout);
	/* Python joins non-daemon children at exit; so does troupe */
	check(tr_process_join(w1, TR_TIMEOUT_INFINITE), "tr_process_join");
	check(tr_process_join(w2, TR_TIMEOUT_INFINITE), "tr_process_join");
	tr_process_destroy(&w1);
	tr_process_destroy(&w2);
	tr_event_destroy(&e);
	return 0;
}
