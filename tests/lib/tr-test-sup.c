/* SPDX-License-Identifier: MIT */
#include "tr-test-sup.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- actors ---------------------------------------------------------- */

static int
sleeper(const void *args, size_t len)
{
	for (;;) {
		pause();
	}
	return 0;
}
TR_ACTOR(sleeper, sleeper)

static int
exit_code(const void *args, size_t len)
{
	return atoi(args); /* args[len] is '\0' */
}
TR_ACTOR(exit_code, exit_code)

static int
fail_once(const void *args, size_t len)
{
	int fd = open(args, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

	if (fd >= 0) {
		close(fd);
		return 1;
	}
	return sleeper(NULL, 0);
}
TR_ACTOR(fail_once, fail_once)

static int term_mark_fd = -1;
static void
term_mark(int sig)
{
	(void) !write(term_mark_fd, "T", 1);
}

static int
stubborn(const void *args, size_t len)
{
	if (len > 0) {
		term_mark_fd =
		    open(args, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		(void) signal(SIGTERM, term_mark);
	} else {
		(void) signal(SIGTERM, SIG_IGN);
	}
	(void) tr_ready();
	return sleeper(NULL, 0);
}
TR_ACTOR_FLAGS(stubborn, stubborn, TR_ACTOR_MANUAL_READY)

static int
init_fails(const void *args, size_t len)
{
	return tr_fail(-ENOENT, "no such config");
}
TR_ACTOR_FLAGS(init_fails, init_fails, TR_ACTOR_MANUAL_READY)

static int  rec_fd = -1;
static char rec_name[32];
static void
rec_term(int sig)
{
	(void) !write(rec_fd, rec_name, strlen(rec_name));
	_exit(0);
}

static int
recorder(const void *args, size_t len)
{
	char buf[300] = "", *bar;

	memcpy(buf, args, len < 299 ? len : 299);
	bar = strchr(buf, '|');
	if (!bar) {
		return 2;
	}
	*bar = '\0';
	snprintf(rec_name, sizeof(rec_name), "%s ", bar + 1);
	rec_fd = open(buf, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	(void) signal(SIGTERM, rec_term);
	(void) tr_ready();
	return sleeper(NULL, 0);
}
TR_ACTOR_FLAGS(recorder, recorder, TR_ACTOR_MANUAL_READY)

/* ---- fixtures ---------------------------------------------------------- */

#define MAX_SUPS 8
static tr_supervisor *sups[MAX_SUPS];
char                  tr_test_sup_dir[64];

int
tr_test_sup_setup(void **state)
{
	snprintf(tr_test_sup_dir, sizeof(tr_test_sup_dir), "%s/trsup-XXXXXX",
	    tr_test_tmpdir());
	return mkdtemp(tr_test_sup_dir) ? 0 : -1;
}

int
tr_test_sup_teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", tr_test_sup_dir);
	return system(cmd) == 0 ? 0 : -1;
}

int
tr_test_sup_kill_leftovers(void **state)
{
	for (int i = 0; i < MAX_SUPS; i++) {
		if (sups[i]) {
			(void) kill(tr_supervisor_pid(sups[i]), SIGKILL);
			tr_supervisor_destroy(&sups[i]);
		}
	}
	return 0;
}

tr_supervisor *
tr_test_sup_track(tr_supervisor *s)
{
	for (int i = 0; i < MAX_SUPS; i++) {
		if (!sups[i]) {
			sups[i] = s;
			return s;
		}
	}
	fail_msg("too many supervisors");
	return NULL;
}

void
tr_test_sup_untrack(tr_supervisor **sp)
{
	for (int i = 0; i < MAX_SUPS; i++) {
		if (sups[i] == *sp) {
			sups[i] = NULL;
		}
	}
	tr_supervisor_destroy(sp);
}

/* ---- specs and queries ------------------------------------------------- */

tr_child_spec
tr_test_sup_child(const char *id, const char *actor, int restart)
{
	tr_child_spec c;

	tr_child_spec_init(&c, id, actor);
	c.restart = restart;
	return c;
}

tr_supervisor *
tr_test_sup_start(int strategy, int intensity, tr_child_spec *cs, size_t n)
{
	tr_sup_spec    spec;
	tr_supervisor *s;

	tr_sup_spec_init(&spec);
	spec.strategy  = strategy;
	spec.intensity = intensity;
	spec.period_ms = 10000;
	spec.children  = cs;
	spec.nchildren = n;
	spec.quiet     = getenv("TROUPE_LOG") == NULL;
	TR_ASSERT_OK(tr_supervisor_start(&s, &spec, 10000));
	return tr_test_sup_track(s);
}

bool
tr_test_sup_info(tr_supervisor *s, const char *id, tr_child_info *ret)
{
	int r = tr_supervisor_which_child(s, id, ret, 5000);

	if (r == TR_ENOTFOUND) {
		return false;
	}
	TR_ASSERT_OK(r);
	return true;
}

pid_t
tr_test_sup_pid(tr_supervisor *s, const char *id)
{
	tr_child_info ci;

	return tr_test_sup_info(s, id, &ci) ? ci.pid : -1;
}

int
tr_test_sup_specs(tr_supervisor *s)
{
	tr_child_counts c;

	TR_ASSERT_OK(tr_supervisor_count_children(s, &c, 5000));
	return c.specs;
}

int
tr_test_sup_active(tr_supervisor *s)
{
	tr_child_counts c;

	TR_ASSERT_OK(tr_supervisor_count_children(s, &c, 5000));
	return c.active;
}

pid_t
tr_test_sup_wait_new_pid(tr_supervisor *s, const char *id, pid_t old, int ms)
{
	for (int t = 0; t < ms; t += 5) {
		pid_t p = tr_test_sup_pid(s, id);

		if (p > 0 && p != old) {
			return p;
		}
		usleep(5000);
	}
	fail_msg("child %s was not restarted", id);
	return -1;
}

void
tr_test_sup_wait_state(tr_supervisor *s, const char *id, int state)
{
	tr_child_info ci;

	for (int t = 0; t < TR_TEST_HANG_MS; t += 5) {
		bool found = tr_test_sup_info(s, id, &ci);

		if (state < 0 ? !found : found && ci.state == state) {
			return;
		}
		usleep(5000);
	}
	fail_msg("child %s never reached state %d", id, state);
}

void
tr_test_sup_kill_wait(pid_t pid, int sig)
{
	assert_true(pid > 0);
	assert_int_equal(kill(pid, sig), 0);
	assert_true(tr_test_wait_gone(pid, 5000));
}

long
tr_test_sup_file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (long) st.st_size : 0;
}
