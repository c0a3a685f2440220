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

/* Open descriptors of this process. */
int tr_test_fd_count(void);
/* Children of this process that are zombies / alive (from /proc). */
int tr_test_zombie_count(void);
int tr_test_child_count(void);
/* Entries in the runtime directory. */
int tr_test_rundir_count(void);
/* True if pid names a live (non-zombie) process. */
int tr_test_pid_alive(pid_t pid);
/* Wait up to ms for pid to be gone (or a zombie); 1 if gone. */
int tr_test_wait_gone(pid_t pid, int ms);
/* Unique ipc:// endpoint in a fresh private directory. */
const char *tr_test_endpoint(void);
/* Build-dir path of a program: TR_TEST_BUILD_ROOT/rel. */
const char *tr_test_build_path(const char *rel);

#endif /* TR_TEST_H */
