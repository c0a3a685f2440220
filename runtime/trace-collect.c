/* SPDX-License-Identifier: MIT */
/* TROUPE_TRACE's collector: a process of its own that drains the run's
 * rings into the trace file every 20 ms while the program runs, so that a
 * run longer than its rings can hold loses nothing (the rings fill only if
 * the collector is kept from running for as long as a ring lasts).  The
 * traced program never waits for it: the writers only ever see a ring with
 * room or a full one (a counted drop).
 *
 * It is started by a double fork in tr_init() (like the tracker, before
 * the runtime has a thread or a ZeroMQ context), so it is not the main
 * program's child: a waitpid(-1) of the user's does not reap it and
 * tr_active_children() does not count it.  It ignores SIGINT and SIGHUP
 * (a Ctrl-C is for the program, whose last events it still wants), and
 * ends after a last drain when the main program sets ctl->finish at its
 * exit, when the main program is gone, when the run's directory is gone,
 * or on SIGTERM.  It then sets ctl->finished, which the main program waits
 * for (at most 5 s) before it removes the directory. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "runtime.h"
#include "trace.h"
#include "util.h"

#define TICK_MS   20
#define FINISH_MS 5000

static volatile sig_atomic_t terminated;

static void
on_term(int sig)
{
	(void) sig;
	terminated = 1;
}

static void
to_file(const tr_trace_event *ev, void *arg)
{
	(void) tr_trace_file_write(arg, ev);
}

/* The main program ended (a zombie has: its parent may be slow to reap
 * it).  With a pidfd where the kernel has them, else by kill(pid, 0). */
static bool
gone(pid_t pid, int pidfd)
{
	struct pollfd p = { pidfd, POLLIN, 0 };

	if (pidfd >= 0) {
		return poll(&p, 1, 0) > 0;
	}
	return kill(pid, 0) < 0 && errno == ESRCH;
}

/* The collector's life; never returns. */
static void
collect(const char *rundir, const char *path, pid_t main_pid)
{
	struct timespec   tick = { 0, TICK_MS * 1000000L };
	tr_trace_session *s    = NULL;
	tr_trace_file    *f    = NULL;
	int               fd   = open("/dev/null", O_RDWR | O_CLOEXEC);
	int               pidfd, r;

	/* not the program's: its stdin and stdout (a pipe someone reads to
	 * its end), the tracker's socket (the run ends without us) */
	if (fd >= 0) {
		(void) dup2(fd, 0);
		(void) dup2(fd, 1);
		close(fd);
	}
	(void) signal(SIGINT, SIG_IGN);
	(void) signal(SIGHUP, SIG_IGN);
	(void) signal(SIGQUIT, SIG_IGN);
	(void) signal(SIGTERM, on_term);
	pidfd = (int) syscall(SYS_pidfd_open, main_pid, 0);
	r     = tr_trace_file_open(&f, path, true);
	if (r < 0) {
		tr_log(TR_LOG_ERROR, "TROUPE_TRACE: cannot write %s: %s", path,
		    tr_strerror(r));
	} else if ((r = tri_trace_session_adopt(&s, rundir)) < 0) {
		tr_log(TR_LOG_ERROR, "TROUPE_TRACE: no trace page: %s",
		    tr_strerror(r));
	}
	while (s) {
		bool last = terminated || atomic_load(&tri_trace_ctl->finish) ||
		    gone(main_pid, pidfd);

		r = tr_trace_session_poll(s, to_file, f);
		if (tr_trace_file_flush(f) < 0) {
			tr_log(TR_LOG_ERROR, "TROUPE_TRACE: %s: write failed",
			    path);
			break;
		}
		if (last || r == -ENOENT) {
			break;
		}
		nanosleep(&tick, NULL);
	}
	tr_trace_session_close(&s);
	(void) tr_trace_file_close(&f);
	atomic_store(&tri_trace_ctl->finished, 1);
	_exit(0);
}

int
tri_trace_collector_start(const char *rundir, const char *path)
{
	pid_t main_pid = getpid(), mid;
	int   st, p[2];

	if (pipe2(p, O_CLOEXEC) < 0) {
		return -errno;
	}
	mid = fork();
	if (mid < 0) {
		int e = errno;

		close(p[0]);
		close(p[1]);
		return -e;
	}
	if (mid == 0) {
		pid_t c = fork();

		if (c == 0) {
			close(p[0]);
			close(p[1]);
			if (tri_rt.tracker_fd >= 0) {
				close(tri_rt.tracker_fd);
			}
			collect(rundir, path, main_pid);
		}
		(void) !write(p[1], &c, sizeof(c));
		_exit(c < 0 ? 1 : 0);
	}
	close(p[1]);
	while (waitpid(mid, &st, 0) < 0 && errno == EINTR) { }
	mid = -1;
	if (read(p[0], &mid, sizeof(mid)) != sizeof(mid) || mid <= 0) {
		close(p[0]);
		return -ECHILD;
	}
	close(p[0]);
	atomic_store(&tri_trace_ctl->collector, (int32_t) mid);
	return (int) mid;
}

bool
tri_trace_collector_finish(pid_t pid)
{
	struct timespec t = { 0, 2 * 1000000L };

	atomic_store(&tri_trace_ctl->finish, 1);
	for (int i = 0; i < FINISH_MS / 2; i++) {
		if (atomic_load(&tri_trace_ctl->finished)) {
			return true;
		}
		if (gone(pid, -1)) {
			return atomic_load(&tri_trace_ctl->finished) != 0;
		}
		nanosleep(&t, NULL);
	}
	return false;
}
