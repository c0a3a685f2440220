/* SPDX-License-Identifier: MIT */
/* condition -- stage 2 runs in two processes once stage 1 is done.  The
 * Python original:
 *
 *	def stage_1(cond):
 *	    name = multiprocessing.current_process().name
 *	    print('Starting', name)
 *	    with cond:
 *	        print('{} done and ready for stage 2'.format(name))
 *	        cond.notify_all()
 *
 *	def stage_2(cond):
 *	    name = multiprocessing.current_process().name
 *	    print('Starting', name)
 *	    with cond:
 *	        cond.wait()
 *	        print('{} running'.format(name))
 *
 * with s1 started a second after the two stage_2 clients, hoping they
 * wait by then.  Here stage 1 also sets a shared flag under the lock and
 * stage 2 waits for the flag (wait_for), so a notify that comes before a
 * client waits is not missed, and no sleep is needed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "troupe.h"

struct stage {
	tr_cond  *cond;
	tr_value *done; /* stage 1 finished; guarded by cond's lock */
};

static int
stage_open(struct stage *s, const char *args)
{
	char c[TR_SHM_ADDRLEN], v[TR_SHM_ADDRLEN];

	if (sscanf(args, "%63s %63s", c, v) != 2 || tr_cond_open(&s->cond, c) ||
	    tr_value_open(&s->done, v)) {
		return -1;
	}
	return 0;
}

static bool
stage_1_done(void *arg)
{
	return *(int32_t *) tr_value_ptr(arg) != 0;
}

static int
stage_1(const void *args, size_t len)
{
	struct stage s;

	if (stage_open(&s, args) < 0) {
		return 1;
	}
	printf("Starting %s\n", tr_self_name());
	fflush(stdout);
	tr_ready();
	(void) tr_lock_acquire(tr_cond_lock(s.cond), TR_TIMEOUT_INFINITE);
	printf("%s done and ready for stage 2\n", tr_self_name());
	fflush(stdout);
	*(int32_t *) tr_value_ptr(s.done) = 1;
	(void) tr_cond_notify_all(s.cond);
	(void) tr_lock_release(tr_cond_lock(s.cond));
	return 0;
}
TR_ACTOR_FLAGS(stage_1, stage_1, TR_ACTOR_MANUAL_READY)

static int
stage_2(const void *args, size_t len)
{
	struct stage s;

	if (stage_open(&s, args) < 0) {
		return 1;
	}
	printf("Starting %s\n", tr_self_name());
	fflush(stdout);
	tr_ready();
	(void) tr_lock_acquire(tr_cond_lock(s.cond), TR_TIMEOUT_INFINITE);
	(void) tr_cond_wait_for(
	    s.cond, stage_1_done, s.done, TR_TIMEOUT_INFINITE);
	printf("%s running\n", tr_self_name());
	fflush(stdout);
	(void) tr_lock_release(tr_cond_lock(s.cond));
	return 0;
}
TR_ACTOR_FLAGS(stage_2, stage_2, TR_ACTOR_MANUAL_READY)

static void
check(int r, const char *what)
{
	if (r < 0) {
		fprintf(stderr, "condition: %s: %s\n", what, tr_strerror(r));
		exit(1);
	}
}

static tr_process *
start(const char *actor, const char *name, const char *args)
{
	tr_process *p;

	check(tr_process_new(&p, actor, args, strlen(args)), "new");
	check(tr_process_set_name(p, name), "set_name");
	check(tr_process_start(p, 10000), "start");
	return p;
}

int
main(int argc, char **argv)
{
	tr_process *s1, *s2[2];
	tr_cond    *condition;
	tr_value   *done;
	char        args[160];

	check(tr_init(argc, argv), "tr_init");
	check(tr_cond_new(&condition, NULL), "tr_cond_new");
	check(tr_value_new(&done, NULL, 'i', TR_SHARED_NOLOCK), "value");
	snprintf(args, sizeof(args), "%s %s", tr_cond_addr(condition),
	    tr_value_addr(done));
	fflush(stdout);
	s2[0] = start("stage_2", "stage_2[1]", args);
	s2[1] = start("stage_2", "stage_2[2]", args);
	s1    = start("stage_1", "s1", args);
	check(tr_process_join(s1, TR_TIMEOUT_INFINITE), "join");
	for (int i = 0; i < 2; i++) {
		check(tr_process_join(s2[i], TR_TIMEOUT_INFINITE), "join");
		tr_process_destroy(&s2[i]);
	}
	tr_process_destroy(&s1);
	tr_value_destroy(&done);
	tr_cond_destroy(&condition);
	return 0;
}
