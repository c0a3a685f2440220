/* SPDX-License-Identifier: MIT */
/* Helpers for the supervisor tests (cmocka), and the actors they start:
 * a test binary that uses any of these gets the actors registered. */
#ifndef TR_TEST_SUP_H
#define TR_TEST_SUP_H

#include <stdbool.h>
#include <sys/types.h>

#include "tr-test.h"

/* Actors registered by this file (forked children: no cmocka there):
 *   "sleeper"   waits for ever;
 *   "exit_code" exits with the code its args spell ("3");
 *   "stubborn"  (manual ready) ignores SIGTERM; with args, a path: it
 *               appends "T" to that file for each SIGTERM it gets;
 *   "recorder"  (manual ready) args "path|name": on SIGTERM appends
 *               "name " to path and exits 0;
 *   "fail_once" exits 1 the first time (it creates the marker file its
 *               args name), then waits for ever;
 *   "init_fails" (manual ready) fails its init with -ENOENT. */

/* The directory of this test run (mkdtemp), made by tr_test_sup_setup. */
extern char tr_test_sup_dir[64];

/* Group setup / teardown: make / remove tr_test_sup_dir. */
int tr_test_sup_setup(void **state);
int tr_test_sup_teardown(void **state);
/* Test teardown: SIGKILL every supervisor still tracked (by pid; their
 * children die with them), destroy its handle. */
int tr_test_sup_kill_leftovers(void **state);

/* Remember s for tr_test_sup_kill_leftovers; returns s. */
tr_supervisor *tr_test_sup_track(tr_supervisor *s);
/* Forget *sp and destroy it. */
void tr_test_sup_untrack(tr_supervisor **sp);

/* A worker spec (tr_child_spec_init) with the given restart type. */
tr_child_spec tr_test_sup_child(const char *id, const char *actor, int restart);
/* Start and track a supervisor: period 10 s, quiet unless TROUPE_LOG is
 * set; the call must succeed. */
tr_supervisor *tr_test_sup_start(
    int strategy, int intensity, tr_child_spec *cs, size_t n);

/* The child's info (which_child must answer); false if no such id. */
bool tr_test_sup_info(tr_supervisor *s, const char *id, tr_child_info *ret);
/* pid of child id: 0 not running, -1 no such child. */
pid_t tr_test_sup_pid(tr_supervisor *s, const char *id);
/* count_children().specs / .active. */
int tr_test_sup_specs(tr_supervisor *s);
int tr_test_sup_active(tr_supervisor *s);
/* Wait (hang guard only) until child id runs with a pid other than old;
 * fails the test if it does not. */
pid_t tr_test_sup_wait_new_pid(
    tr_supervisor *s, const char *id, pid_t old, int ms);
/* Wait until child id is in state (enum tr_child_state); -1: until it is
 * gone.  Fails the test after TR_TEST_HANG_MS. */
void tr_test_sup_wait_state(tr_supervisor *s, const char *id, int state);
/* kill(pid, sig) and wait until it is gone. */
void tr_test_sup_kill_wait(pid_t pid, int sig);
/* Bytes in file path (0 if it does not exist). */
long tr_test_sup_file_size(const char *path);

#endif /* TR_TEST_SUP_H */
