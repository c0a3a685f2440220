/* SPDX-License-Identifier: MIT */
/* manager-condition -- stage 2 runs in two processes once stage 1 is
 * done, with a Condition held by a manager (Python's manager.Condition();
 * its lock is an RLock).  The Python original (PyMOTW, with
 * multiprocessing.Condition()):
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
 * wait by then.  Here, as in examples/condition.c, stage 1 also sets a
 * flag (a managed Value) under the lock and stage 2 waits for it
 * (wait_for), so a notify that comes before a client waits is not
 * missed, and no sleep is needed.  Every process reaches the manager by
 * its address and key, under any start method. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "troupe.h"

struct stage {
	tr_manager *m;
	tr_mobj    *cond;
	tr_mobj    *done; /* a Value: stage 1 finished; under cond's lock */
};

static int
stage_open(struct stage *s, const char *args)
{
	char where[80], key[80], c[80], v[80];

	if (sscanf(args, "%79s %79s %79s %79s", where, key, c, v) != 4 ||
	    tr_manager_connect(&s->m, where, key) < 0 ||
	    tr_mobj_open(&s->cond, s->m, c) < 0 ||
	    tr_mobj_open(&s->done, s->m, v) < 0) {
		return -1;
	}
	return 0;
}

static void
stage_close(struct stage *s)
{
	tr_mobj_destroy(&s->cond);
	tr_mobj_destroy(&s->done);
	tr_manager_destroy(&s->m);
}

static bool
stage_1_done(void *arg)
{
	tr_mval *v    = NULL;
	bool     done = tr_mvalue_get(arg, &v) == 0 && tr_mval_get_bool(v);

	tr_mval_destroy(&v);
	return done;
}

static int
stage_1(const void *args, size_t len)
{
	struct stage s;
	tr_mval     *yes = tr_mval_bool(true);
	int          r;

	if (stage_open(&s, args) < 0) {
		return 1;
	}
	printf("Starting %s\n", tr_self_name());
	fflush(stdout);
	tr_ready();
	r = tr_mlock_acquire(s.cond, TR_TIMEOUT_INFINITE);
	printf("%s done and ready for stage 2\n", tr_self_name());
	fflush(stdout);
	r = r < 0 ? r : tr_mvalue_set(s.done, yes);
	r = r < 0 ? r : tr_mcond_notify_all(s.cond);
	r = r < 0 ? r : tr_mlock_release(s.cond);
	tr_mval_destroy(&yes);
	stage_close(&s);
	return r < 0 ? 1 : 0;
}
TR_ACTOR_FLAGS(stage_1, stage_1, TR_ACTOR_MANUAL_READY)

static int
stage_2(const void *args, size_t len)
{
	struct stage s;
	int          r;

	if (stage_open(&s, args) < 0) {
		return 1;
	}
	printf("Starting %s\n", tr_self_name());
	fflush(stdout);
	tr_ready();
	r = tr_mlock_acquire(s.cond, TR_TIMEOUT_INFINITE);
	r = r < 0 ? r
	          : tr_mcond_wait_for(
	                s.cond, stage_1_done, s.done, TR_TIMEOUT_INFINITE);
	printf("%s running\n", tr_self_name());
	fflush(stdout);
	r = r < 0 ? r : tr_mlock_release(s.cond);
	stage_close(&s);
	return r < 0 ? 1 : 0;
}
TR_ACTOR_FLAGS(stage_2, stage_2, TR_ACTOR_MANUAL_READY)

static void
check(int r, const char *what)
{
	if (r < 0) {
		fprintf(stderr, "manager-condition: %s: %s\n", what,
		    tr_strerror(r));
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
	tr_manager *manager;
	tr_mobj    *condition, *done;
	tr_mval    *no;
	tr_process *s1, *s2[2];
	char        args[320];

	check(tr_init(argc, argv), "tr_init");
	check(tr_manager_start(&manager, NULL), "Manager()");
	check(tr_mobj_new(&condition, manager, TR_MOBJ_CONDITION, NULL, NULL),
	    "Condition");
	no = tr_mval_bool(false);
	check(tr_mobj_new(&done, manager, TR_MOBJ_VALUE, NULL, no), "Value");
	tr_mval_destroy(&no);
	snprintf(args, sizeof(args), "%s %s %s %s", tr_manager_where(manager),
	    tr_manager_authkey(manager), tr_mobj_ref(condition),
	    tr_mobj_ref(done));
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
	tr_mobj_destroy(&condition);
	tr_mobj_destroy(&done);
	tr_manager_destroy(&manager);
	return 0;
}
