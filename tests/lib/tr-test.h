/* SPDX-License-Identifier: MIT */
/* Shared test helpers (cmocka). */
#ifndef TR_TEST_H
#define TR_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <cmocka.h>

#include "troupe.h"

/* Assert that expr returned >= 0, printing tr_strerror() if not. */
#define TR_ASSERT_OK(expr)                                          \
	do {                                                        \
		int tr_test_rc_ = (int) (expr);                     \
		if (tr_test_rc_ < 0) {                              \
			print_error("%s failed: %d (%s)\n", #expr,  \
			    tr_test_rc_, tr_strerror(tr_test_rc_)); \
		}                                                   \
		assert_true(tr_test_rc_ >= 0);                      \
	} while (0)

#define TR_ASSERT_ERR(expr, err) assert_int_equal((int) (expr), (int) (err))

/* Timeout for waits that end as soon as what they wait for happens: it
 * only guards against a hang, and says nothing about speed (that belongs
 * to tools/bench/), so a loaded machine never fails a test. */
#define TR_TEST_HANG_MS 30000

/* Monotonic clock in ms: for measuring that a wait happened (a lower
 * bound), never for bounding how fast something is. */
int64_t tr_test_now_ms(void);
/* Entries of directory path, not counting names that start with '.'; -1
 * if it cannot be read. */
int tr_test_dir_count(const char *path);
/* VmRSS of process pid in kB (from /proc), or -1. */
long tr_test_rss_kb(pid_t pid);
/* Open descriptors of this process. */
int tr_test_fd_count(void);
/* Which children tr_test_children() counts. */
enum {
	TR_TEST_CHILD_RUNNING       = 1 << 0, /* not (yet) a zombie */
	TR_TEST_CHILD_ZOMBIE        = 1 << 1,
	TR_TEST_CHILD_NO_FORKSERVER = 1 << 2, /* leave out troupe-fksrv */
};
/* Children of parent (from /proc) in the states flags names.  With pids,
 * the pids of at most max of them go there; with pids NULL they are only
 * counted.  Returns how many were found. */
int tr_test_children(pid_t parent, int flags, pid_t *pids, int max);
/* Children of this process that are zombies / alive (from /proc). */
int tr_test_zombie_count(void);
int tr_test_child_count(void);
/* Entries in the runtime directory. */
int tr_test_rundir_count(void);
/* Supervisor s's info on its child id, from which_children (5 s
 * timeout): 1 and *ret set if found, 0 if there is no such child, < 0 the
 * call's error. */
int tr_test_child_info(tr_supervisor *s, const char *id, tr_child_info *ret);
/* True if pid names a live (non-zombie) process. */
int tr_test_pid_alive(pid_t pid);
/* Wait up to ms for pid to be gone (or a zombie); 1 if gone. */
int tr_test_wait_gone(pid_t pid, int ms);
/* Join *pp (killing it if it is still there after TR_TEST_HANG_MS),
 * destroy it and return its exit code (-1000 if it cannot be learnt). */
int tr_test_finish(tr_process **pp);
/* Where tests make their temporary directories: $TMPDIR if it is set and
 * short enough for socket paths under it, else /tmp (scripts/leftovers.sh
 * gives a run its own, to check that it is left empty). */
const char *tr_test_tmpdir(void);
/* Unique ipc:// endpoint in a fresh private directory. */
const char *tr_test_endpoint(void);
/* Build-dir path of a program: TR_TEST_BUILD_ROOT/rel. */
const char *tr_test_build_path(const char *rel);

#endif /* TR_TEST_H */
