/* SPDX-License-Identifier: MIT */
/* tr_event: every call and each timeout case; waiters in several processes
 * (started by fork, spawn and the forkserver, finding the event by address
 * or by name) all wake on set(); set before wait returns at once; clear
 * then wait times out; a waiter busy in its own code for seconds; the
 * event actor SIGKILLed under its waiters (an error, not a hang); a
 * supervised event restarting with its flag lost; junk requests. */
#include "tr-test.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const int methods[] = { TR_START_FORK, TR_START_SPAWN,
	TR_START_FORKSERVER };

/* What a waiter's exit code says about its wait's result. */
enum {
	W_SET     = 0, /* wait returned 1 */
	W_TIMEOUT = 2, /* wait returned 0 */
	W_DEAD    = 3, /* TR_EDEAD, or -ESRCH: the actor was already dead
	                * when the wait began (event.h) */
	W_OTHER   = 4, /* any other error */
	W_BADARGS = 5,
};

static int
wait_code(int r)
{
	if (r < 0 && r != TR_EDEAD && r != -ESRCH) {
		tr_log(TR_LOG_ERROR, "waiter: %s", tr_strerror(r));
	}
	return r == 1                      ? W_SET
	    : r == 0                       ? W_TIMEOUT
	    : r == TR_EDEAD || r == -ESRCH ? W_DEAD
	                                   : W_OTHER;
}

/* args: "PARENT TARGET TIMEOUT BUSY SHM": the parent's address, the
 * event's address or "@name", the wait's timeout, how long to spin in our
 * own code first (ms), and 0 to use messages only (TROUPE_EVENT_SHM=0),
 * not the shared page.  Tells the parent "w" just before it waits, then
 * exits with wait_code(). */
static int
waiter(const void *args, size_t len)
{
	char      ptxt[TR_ADDR_STRLEN], target[80];
	int       timeout, busy, shm, r;
	tr_addr   parent, a;
	tr_event *e = NULL;

	if (sscanf(args, "%47s %79s %d %d %d", ptxt, target, &timeout, &busy,
	        &shm) != 5 ||
	    tr_addr_parse(ptxt, &parent) < 0) {
		return W_BADARGS;
	}
	if (!shm) {
		setenv("TROUPE_EVENT_SHM", "0", 1);
	}
	if (target[0] == '@') {
		r = tr_event_open_name(&e, target + 1);
	} else {
		r = tr_addr_parse(target, &a);
		r = r < 0 ? r : tr_event_open(&e, a);
	}
	if (r < 0) {
		return W_BADARGS;
	}
	/* busy in our own code, not in any troupe call */
	for (int64_t end = tr_now_ms() + busy; tr_now_ms() < end;) { }
	r = tr_send_bytes(parent, "w", 1, TR_TEST_HANG_MS);
	if (r == 0) {
		r = tr_event_wait(e, timeout);
	}
	tr_event_destroy(&e);
	return wait_code(r);
}
TR_ACTOR(waiter, waiter)

/* Whether the waiters start_waiter() starts use the shared page. */
static int waiter_shm = 1;

static tr_process *
start_waiter(int method, const char *target, int timeout, int busy)
{
	char        args[256], ptxt[TR_ADDR_STRLEN];
	tr_process *p;

	snprintf(args, sizeof(args), "%s %s %d %d %d",
	    tr_addr_format(tr_self(), ptxt, sizeof(ptxt)), target, timeout,
	    busy, waiter_shm);
	TR_ASSERT_OK(tr_process_new(&p, "waiter", args, strlen(args) + 1));
	TR_ASSERT_OK(tr_process_set_start_method(p, method));
	TR_ASSERT_OK(tr_process_start(p, TR_TEST_HANG_MS));
	return p;
}

/* Take n "w" messages: each waiter is about to wait.  The short sleep
 * after is not needed for any result (a set() before the wait is seen by
 * it, too); it makes it likely the waits are parked in the actor, so that
 * set() wakes them rather than being found by them. */
static void
waiters_about_to_wait(int n)
{
	for (int i = 0; i < n; i++) {
		tr_msg *m;

		TR_ASSERT_OK(tr_recv(&m, TR_TEST_HANG_MS));
		assert_int_equal(tr_msg_size(m), 1);
		tr_msg_destroy(&m);
	}
	usleep(200 * 1000);
}

static const char *
addr_text(tr_event *e, char *buf)
{
	return tr_addr_format(tr_event_addr(e), buf, TR_ADDR_STRLEN);
}

/* ---- calls, one process ---------------------------------------------------
 */

static void
calls_under(int method)
{
	tr_event_options o = { .start_method = method };
	tr_event        *e;
	int64_t          t0;

	TR_ASSERT_OK(tr_event_new(&e, &o));
	assert_string_equal(tr_event_name(e), "");
	assert_false(tr_addr_is_null(tr_event_addr(e)));
	/* a new event is clear */
	TR_ASSERT_ERR(tr_event_is_set(e), 0);
	TR_ASSERT_ERR(tr_event_wait(e, 0), 0);
	t0 = tr_test_now_ms();
	TR_ASSERT_ERR(tr_event_wait(e, 150), 0);
	assert_true(tr_test_now_ms() - t0 >= 150);
	TR_ASSERT_ERR(tr_event_wait(e, -2), -EINVAL);
	TR_ASSERT_ERR(tr_event_wait(e, -1000), -EINVAL);
	/* set: every timeout case sees it at once */
	TR_ASSERT_ERR(tr_event_set(e), 0);
	TR_ASSERT_ERR(tr_event_is_set(e), 1);
	TR_ASSERT_ERR(tr_event_wait(e, 0), 1);
	TR_ASSERT_ERR(tr_event_wait(e, 100000), 1);
	TR_ASSERT_ERR(tr_event_wait(e, TR_TIMEOUT_INFINITE), 1);
	TR_ASSERT_ERR(tr_event_set(e), 0); /* again: still set */
	TR_ASSERT_ERR(tr_event_is_set(e), 1);
	/* clear, and clear again */
	TR_ASSERT_ERR(tr_event_clear(e), 0);
	TR_ASSERT_ERR(tr_event_clear(e), 0);
	TR_ASSERT_ERR(tr_event_is_set(e), 0);
	TR_ASSERT_ERR(tr_event_wait(e, 0), 0);
	TR_ASSERT_ERR(tr_event_wait(e, 50), 0);
	/* many timed-out waits leave the actor working */
	for (int i = 0; i < 20; i++) {
		TR_ASSERT_ERR(tr_event_wait(e, 1), 0);
	}
	TR_ASSERT_ERR(tr_event_set(e), 0);
	TR_ASSERT_ERR(tr_event_wait(e, 1), 1);
	tr_event_destroy(&e);
	assert_null(e);
	tr_event_destroy(&e); /* idempotent */
}

static void
test_calls_fork(void **state)
{
	calls_under(TR_START_FORK);
}

static void
test_calls_spawn(void **state)
{
	calls_under(TR_START_SPAWN);
}

static void
test_calls_forkserver(void **state)
{
	calls_under(TR_START_FORKSERVER);
}

static void
test_bad_arguments(void **state)
{
	tr_event_options o = { 0 };
	tr_event        *e = NULL, *f = NULL;

	TR_ASSERT_ERR(tr_event_new(NULL, NULL), -EINVAL);
	o.start_timeout_ms = -2;
	TR_ASSERT_ERR(tr_event_new(&e, &o), -EINVAL);
	o = (tr_event_options) { .start_method = 42 };
	TR_ASSERT_ERR(tr_event_new(&e, &o), -EINVAL);
	o = (tr_event_options) { .name = "no spaces allowed" };
	TR_ASSERT_ERR(tr_event_new(&e, &o), -EINVAL);
	assert_null(e);
	TR_ASSERT_ERR(tr_event_open(&e, TR_ADDR_NULL), -EINVAL);
	TR_ASSERT_ERR(tr_event_open_name(&e, ""), -EINVAL);
	TR_ASSERT_ERR(tr_event_open_name(&e, "ev-nobody"), TR_ENOTFOUND);
	TR_ASSERT_ERR(tr_event_set(NULL), -EINVAL);
	TR_ASSERT_ERR(tr_event_clear(NULL), -EINVAL);
	TR_ASSERT_ERR(tr_event_is_set(NULL), -EINVAL);
	TR_ASSERT_ERR(tr_event_wait(NULL, 0), -EINVAL);
	assert_true(tr_addr_is_null(tr_event_addr(NULL)));
	tr_event_destroy(NULL);
	/* a name is held once */
	o = (tr_event_options) { .name = "ev-once" };
	TR_ASSERT_OK(tr_event_new(&e, &o));
	assert_string_equal(tr_event_name(e), "ev-once");
	TR_ASSERT_ERR(tr_event_new(&f, &o), TR_EEXISTS);
	assert_null(f);
	TR_ASSERT_OK(tr_event_open_name(&f, "ev-once"));
	assert_true(tr_addr_eq(tr_event_addr(e), tr_event_addr(f)));
	TR_ASSERT_ERR(tr_event_set(f), 0);
	TR_ASSERT_ERR(tr_event_is_set(e), 1);
	tr_event_destroy(&f); /* an opened handle leaves the actor alone */
	TR_ASSERT_ERR(tr_event_is_set(e), 1);
	tr_event_destroy(&e); /* the creator's stops it: the name is free */
	TR_ASSERT_ERR(tr_event_open_name(&f, "ev-once"), TR_ENOTFOUND);
}

/* Junk in the actor's mailbox: a call that is no EventRequest gets an
 * EventReply (with an error), a message that is no call is dropped, and
 * the event keeps working. */
static void
test_junk_requests(void **state)
{
	tr_event *e;
	tr_msg   *q, *rep;

	TR_ASSERT_OK(tr_event_new(&e, NULL));
	TR_ASSERT_OK(tr_send_bytes(tr_event_addr(e), "junk", 4, 5000));
	TR_ASSERT_OK(tr_msg_new_bytes(&q, "\x08\xff", 2));
	TR_ASSERT_OK(tr_call(tr_event_addr(e), &q, &rep, TR_TEST_HANG_MS));
	assert_string_equal(tr_msg_type(rep), "trwire.EventReply");
	assert_true(tr_msg_size(rep) > 0); /* an error was set */
	tr_msg_destroy(&rep);
	TR_ASSERT_ERR(tr_event_set(e), 0);
	TR_ASSERT_ERR(tr_event_wait(e, 0), 1);
	tr_event_destroy(&e);
}

/* A handle used from a fork()ed child is refused (hand the address). */
static tr_event *inherited;

static int
use_inherited(const void *args, size_t len)
{
	return tr_event_is_set(inherited) == -ECHILD &&
	        tr_event_wait(inherited, 0) == -ECHILD
	    ? 0
	    : 1;
}
TR_ACTOR(use_inherited, use_inherited)

static void
test_handle_in_fork_child_is_echild(void **state)
{
	tr_process *p;

	TR_ASSERT_OK(tr_event_new(&inherited, NULL));
	TR_ASSERT_OK(tr_process_new(&p, "use_inherited", NULL, 0));
	TR_ASSERT_OK(tr_process_set_start_method(p, TR_START_FORK));
	TR_ASSERT_OK(tr_process_start(p, TR_TEST_HANG_MS));
	assert_int_equal(tr_test_finish(&p), 0);
	TR_ASSERT_ERR(tr_event_is_set(inherited), 0); /* still ours */
	tr_event_destroy(&inherited);
}

/* ---- waiters in other processes -------------------------------------------
 */

#define PER_METHOD 2

/* PER_METHOD waiters started by each method, half finding the event by
 * address and half by name, all parked; one set() wakes them all. */
static void
test_many_waiters_all_wake(void **state)
{
	tr_event_options o = { .name = "ev-many" };
	tr_process      *p[3 * PER_METHOD];
	char             txt[TR_ADDR_STRLEN];
	tr_event        *e;
	int              n = 0;

	TR_ASSERT_OK(tr_event_new(&e, &o));
	for (int m = 0; m < 3; m++) {
		for (int i = 0; i < PER_METHOD; i++) {
			p[n++] = start_waiter(methods[m],
			    i % 2 ? "@ev-many" : addr_text(e, txt),
			    TR_TIMEOUT_INFINITE, 0);
		}
	}
	waiters_about_to_wait(n);
	TR_ASSERT_ERR(tr_event_set(e), 0);
	for (int i = 0; i < n; i++) {
		assert_int_equal(tr_test_finish(&p[i]), W_SET);
	}
	tr_event_destroy(&e);
}

static tr_event *thread_e;

static void *
make_event(void *arg)
{
	*(int *) arg = tr_event_new(&thread_e, NULL);
	return NULL;
}

/* An event made by a thread that has ended keeps working: its actor is
 * the process's child, not the thread's. */
static void
test_made_by_a_thread_that_ended(void **state)
{
	pthread_t t;
	int       r = -1;

	assert_int_equal(pthread_create(&t, NULL, make_event, &r), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	TR_ASSERT_OK(r);
	usleep(1500 * 1000);
	assert_int_equal(tr_event_is_set(thread_e), 0);
	TR_ASSERT_OK(tr_event_set(thread_e));
	assert_int_equal(tr_event_wait(thread_e, TR_TEST_HANG_MS), 1);
	tr_event_destroy(&thread_e);
}

/* Set before the wait: the wait returns 1 at once, with any timeout. */
static void
test_set_before_wait(void **state)
{
	tr_process *p[3];
	char        txt[TR_ADDR_STRLEN];
	tr_event   *e;

	TR_ASSERT_OK(tr_event_new(&e, NULL));
	TR_ASSERT_ERR(tr_event_set(e), 0);
	for (int m = 0; m < 3; m++) {
		/* timeouts 0, long, infinite */
		p[m] = start_waiter(methods[m], addr_text(e, txt),
		    m == 0       ? 0
		        : m == 1 ? 3600000
		                 : TR_TIMEOUT_INFINITE,
		    0);
	}
	for (int m = 0; m < 3; m++) {
		assert_int_equal(tr_test_finish(&p[m]), W_SET);
	}
	tr_event_destroy(&e);
}

/* set then clear: waits in other processes time out (0 at once, 300 ms
 * after at least that long). */
static void
test_clear_then_wait_times_out(void **state)
{
	tr_process *p[6];
	char        txt[TR_ADDR_STRLEN];
	tr_event   *e;
	int64_t     t0 = tr_test_now_ms();

	TR_ASSERT_OK(tr_event_new(&e, NULL));
	TR_ASSERT_ERR(tr_event_set(e), 0);
	TR_ASSERT_ERR(tr_event_clear(e), 0);
	for (int m = 0; m < 3; m++) {
		p[2 * m] = start_waiter(methods[m], addr_text(e, txt), 0, 0);
		p[2 * m + 1] =
		    start_waiter(methods[m], addr_text(e, txt), 300, 0);
	}
	for (int i = 0; i < 6; i++) {
		assert_int_equal(tr_test_finish(&p[i]), W_TIMEOUT);
	}
	assert_true(tr_test_now_ms() - t0 >= 300);
	TR_ASSERT_ERR(tr_event_is_set(e), 0);
	tr_event_destroy(&e);
}

/* A waiter spins in its own code for 2 s and then waits: a set() made
 * while it was busy is seen at once; a second waiter, busy as long, then
 * waits on a clear event and times out. */
static void
test_busy_waiter(void **state)
{
	tr_process *p[2];
	char        txt[TR_ADDR_STRLEN];
	tr_event   *set_ev, *clear_ev;

	TR_ASSERT_OK(tr_event_new(&set_ev, NULL));
	TR_ASSERT_OK(tr_event_new(&clear_ev, NULL));
	for (int m = 0; m < 3; m++) {
		p[0] = start_waiter(methods[m], addr_text(set_ev, txt),
		    TR_TIMEOUT_INFINITE, 2000);
		p[1] = start_waiter(
		    methods[m], addr_text(clear_ev, txt), 100, 2000);
		TR_ASSERT_ERR(tr_event_set(set_ev), 0);
		waiters_about_to_wait(2);
		assert_int_equal(tr_test_finish(&p[0]), W_SET);
		assert_int_equal(tr_test_finish(&p[1]), W_TIMEOUT);
		TR_ASSERT_ERR(tr_event_clear(set_ev), 0);
	}
	tr_event_destroy(&set_ev);
	tr_event_destroy(&clear_ev);
}

/* The event actor is SIGKILLed while waiters in every kind of process
 * wait for ever: each gets TR_EDEAD, and calls after that fail too. */
static void
test_actor_killed_waiters_get_error(void **state)
{
	tr_process *p[3];
	char        txt[TR_ADDR_STRLEN];
	tr_event   *e;
	int         r;

	TR_ASSERT_OK(tr_event_new(&e, NULL));
	for (int m = 0; m < 3; m++) {
		p[m] = start_waiter(
		    methods[m], addr_text(e, txt), TR_TIMEOUT_INFINITE, 0);
	}
	waiters_about_to_wait(3);
	assert_int_equal(kill((pid_t) tr_event_addr(e).pid, SIGKILL), 0);
	for (int m = 0; m < 3; m++) {
		assert_int_equal(tr_test_finish(&p[m]), W_DEAD);
	}
	r = tr_event_set(e);
	assert_true(r == -ESRCH || r == TR_EDEAD);
	r = tr_event_wait(e, TR_TIMEOUT_INFINITE);
	assert_true(r == -ESRCH || r == TR_EDEAD);
	tr_event_destroy(&e); /* reaps it */
}

/* The same for a wait in this process with a timeout. */
static void
test_actor_killed_timed_wait_gets_error(void **state)
{
	tr_process *k;
	tr_event   *e;
	char        pid[16];

	TR_ASSERT_OK(tr_event_new(&e, NULL));
	/* a killer child: SIGKILLs the actor once we wait */
	snprintf(pid, sizeof(pid), "%u", (unsigned) tr_event_addr(e).pid);
	TR_ASSERT_OK(tr_process_new(&k, "killer", pid, strlen(pid)));
	TR_ASSERT_OK(tr_process_start(k, TR_TEST_HANG_MS));
	TR_ASSERT_ERR(tr_event_wait(e, 60000), TR_EDEAD);
	assert_int_equal(tr_test_finish(&k), 0);
	tr_event_destroy(&e);
}

static int
killer(const void *args, size_t len)
{
	usleep(300 * 1000);
	return kill((pid_t) atoi(args), SIGKILL) == 0 ? 0 : 1;
}
TR_ACTOR(killer, killer)

/* Call is_set() until the restarted event answers (the handle first
 * learns of the death -- a call that overlaps the dying may still be
 * answered by the old actor -- then finds no holder of the name while
 * the supervisor restarts it); returns its answer. */
static int
is_set_after_restart(tr_event *e, tr_addr old)
{
	int64_t end = tr_test_now_ms() + TR_TEST_HANG_MS;
	int     r;

	for (;;) {
		r = tr_event_is_set(e);
		if (r >= 0 && !tr_addr_eq(tr_event_addr(e), old)) {
			return r;
		}
		if ((r < 0 && r != -ESRCH && r != TR_EDEAD &&
		        r != TR_ENOTFOUND) ||
		    tr_test_now_ms() > end) {
			return r < 0 ? r : -ETIMEDOUT;
		}
		usleep(10 * 1000);
	}
}

/* A supervised, named event: waiters get TR_EDEAD when it is killed; a
 * handle opened by name reaches the restarted actor, whose flag is clear
 * again (the state is lost), at a new address. */
static void
test_supervised_event_restarts_clear(void **state)
{
	tr_child_spec  c;
	tr_sup_spec    spec = { 0 };
	tr_supervisor *s;
	tr_child_info  ci;
	tr_process    *p[3];
	tr_event      *e;
	tr_addr        old;

	tr_event_child_spec(&c, "ev", "ev-sup");
	spec.children  = &c;
	spec.nchildren = 1;
	spec.intensity = 5;
	spec.quiet     = true;
	TR_ASSERT_OK(tr_supervisor_start(&s, &spec, TR_TEST_HANG_MS));
	TR_ASSERT_OK(tr_event_open_name(&e, "ev-sup"));
	TR_ASSERT_OK(tr_supervisor_which_child(s, "ev", &ci, TR_TEST_HANG_MS));
	assert_true(tr_addr_eq(ci.addr, tr_event_addr(e)));

	/* 1: waiters of every kind, parked, see the death */
	for (int m = 0; m < 3; m++) {
		p[m] =
		    start_waiter(methods[m], "@ev-sup", TR_TIMEOUT_INFINITE, 0);
	}
	waiters_about_to_wait(3);
	old = tr_event_addr(e);
	assert_int_equal(kill(ci.pid, SIGKILL), 0);
	for (int m = 0; m < 3; m++) {
		assert_int_equal(tr_test_finish(&p[m]), W_DEAD);
	}
	/* 2: the restarted event, through the same handle */
	TR_ASSERT_ERR(is_set_after_restart(e, old), 0);
	TR_ASSERT_ERR(tr_event_set(e), 0);
	TR_ASSERT_ERR(tr_event_wait(e, 0), 1);
	/* 3: set when it dies; clear after the restart */
	TR_ASSERT_OK(tr_supervisor_which_child(s, "ev", &ci, TR_TEST_HANG_MS));
	TR_ASSERT_ERR(tr_event_is_set(e), 1);
	old = tr_event_addr(e);
	assert_int_equal(kill(ci.pid, SIGKILL), 0);
	TR_ASSERT_ERR(is_set_after_restart(e, old), 0);
	TR_ASSERT_ERR(tr_event_wait(e, 0), 0);
	tr_event_destroy(&e); /* an opened handle: the actor stays */
	TR_ASSERT_OK(tr_supervisor_which_child(s, "ev", &ci, TR_TEST_HANG_MS));
	assert_int_equal(ci.state, TR_CHILD_RUNNING);
	TR_ASSERT_OK(tr_supervisor_stop(s, TR_TEST_HANG_MS));
	tr_supervisor_destroy(&s);
}

/* Waiters on the page and waiters that use messages, in processes of
 * every kind, on one event: a set() made on the page wakes both (it sees
 * the waits kept in the actor and asks it to answer them), and so does a
 * set() made by message (the actor sets the page and wakes its futex). */
static void
test_mixed_waiters_all_wake(void **state)
{
	tr_process *p[6];
	char        txt[TR_ADDR_STRLEN];
	tr_event   *e, *msg_only;

	TR_ASSERT_OK(tr_event_new(&e, NULL));
	setenv("TROUPE_EVENT_SHM", "0", 1);
	TR_ASSERT_OK(tr_event_open(&msg_only, tr_event_addr(e)));
	TR_ASSERT_ERR(tr_event_is_set(msg_only), 0); /* attached: none */
	unsetenv("TROUPE_EVENT_SHM");
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < 6; i++) {
			waiter_shm = i % 2;
			p[i] = start_waiter(methods[i / 2], addr_text(e, txt),
			    TR_TIMEOUT_INFINITE, 0);
		}
		waiter_shm = 1;
		waiters_about_to_wait(6);
		TR_ASSERT_ERR(tr_event_set(round ? msg_only : e), 0);
		for (int i = 0; i < 6; i++) {
			assert_int_equal(tr_test_finish(&p[i]), W_SET);
		}
		TR_ASSERT_ERR(tr_event_is_set(round ? e : msg_only), 1);
		TR_ASSERT_ERR(tr_event_clear(round ? e : msg_only), 0);
		TR_ASSERT_ERR(tr_event_is_set(round ? msg_only : e), 0);
	}
	tr_event_destroy(&msg_only);
	tr_event_destroy(&e);
}

/* Lines of /proc/self/maps naming the event's page. */
static int
pages_mapped(void)
{
	char  line[512];
	int   n = 0;
	FILE *f = fopen("/proc/self/maps", "r");

	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		n += strstr(line, "memfd:troupe-event") != NULL;
	}
	fclose(f);
	return n;
}

/* How many of pid's descriptors are the event's page, and how many are
 * files under /dev/shm. */
static void
actor_fds(pid_t pid, int *ret_pages, int *ret_shm)
{
	char           dir[64], path[320], target[512];
	struct dirent *d;
	DIR           *dp;

	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int) pid);
	dp = opendir(dir);
	assert_non_null(dp);
	*ret_pages = *ret_shm = 0;
	while ((d = readdir(dp)) != NULL) {
		ssize_t n;

		snprintf(path, sizeof(path), "%s/%s", dir, d->d_name);
		n = readlink(path, target, sizeof(target) - 1);
		if (n <= 0) {
			continue;
		}
		target[n] = 0;
		*ret_pages += strncmp(target, "/memfd:troupe-event", 19) == 0;
		*ret_shm += strncmp(target, "/dev/shm/", 9) == 0;
	}
	closedir(dp);
}

/* The page has no name anywhere (an anonymous memfd: nothing in /dev/shm
 * or the runtime directory to clean up after a SIGKILL, the kernel frees
 * it with its last user), and a handle lets go of it as soon as it finds
 * the actor dead. */
static void
test_page_is_anonymous_and_let_go(void **state)
{
	int       run = tr_test_rundir_count(), pages, shm;
	tr_event *e;
	int       r;

	TR_ASSERT_OK(tr_event_new(&e, NULL));
	TR_ASSERT_ERR(tr_event_is_set(e), 0);
	assert_int_equal(pages_mapped(), 1);
	actor_fds((pid_t) tr_event_addr(e).pid, &pages, &shm);
	assert_int_equal(pages, 1);
	assert_int_equal(shm, 0);
	assert_true(tr_test_rundir_count() <= run + 1); /* its mailbox */
	assert_int_equal(kill((pid_t) tr_event_addr(e).pid, SIGKILL), 0);
	do {
		r = tr_event_wait(e, 10);
	} while (r == 0);
	TR_ASSERT_ERR(r, TR_EDEAD);
	assert_int_equal(pages_mapped(), 0);
	tr_event_destroy(&e);
}

static int
messages_only(void **state)
{
	waiter_shm = 0;
	return setenv("TROUPE_EVENT_SHM", "0", 1);
}

static int
page_again(void **state)
{
	waiter_shm = 1;
	return unsetenv("TROUPE_EVENT_SHM");
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest page_only[] = {
		cmocka_unit_test(test_mixed_waiters_all_wake),
		cmocka_unit_test(test_page_is_anonymous_and_let_go),
	};
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_made_by_a_thread_that_ended),
		cmocka_unit_test(test_calls_fork),
		cmocka_unit_test(test_calls_spawn),
		cmocka_unit_test(test_calls_forkserver),
		cmocka_unit_test(test_bad_arguments),
		cmocka_unit_test(test_junk_requests),
		cmocka_unit_test(test_handle_in_fork_child_is_echild),
		cmocka_unit_test(test_many_waiters_all_wake),
		cmocka_unit_test(test_set_before_wait),
		cmocka_unit_test(test_clear_then_wait_times_out),
		cmocka_unit_test(test_busy_waiter),
		cmocka_unit_test(test_actor_killed_waiters_get_error),
		cmocka_unit_test(test_actor_killed_timed_wait_gets_error),
		cmocka_unit_test(test_supervised_event_restarts_clear),
	};

	if (tr_init(argc, argv) < 0) {
		return 99;
	}
	if (getenv("TR_TEST_FILTER")) {
		cmocka_set_test_filter(getenv("TR_TEST_FILTER"));
	}
	/* every case on the shared page, then with messages only */
	return cmocka_run_group_tests_name("event", tests, NULL, NULL) +
	    cmocka_run_group_tests_name("event, page", page_only, NULL, NULL) +
	    cmocka_run_group_tests_name(
	        "event, messages only", tests, messages_only, page_again);
}
