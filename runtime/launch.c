/* SPDX-License-Identifier: MIT */
/* The start methods: their names, and launching a child by one (see
 * launch.h). */
#include "launch.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "forkserver.h"
#include "log.h"
#include "loop.h"
#include "util.h"

static const char *const method_names[] = { "default", "fork", "spawn",
	"forkserver" };

const char *
tr_start_method_name(int method)
{
	if (method < 0 || method > TR_START_FORKSERVER) {
		return NULL;
	}
	return method_names[method];
}

int
tr_start_method_parse(const char *name)
{
	tr_assert_return(name, -EINVAL);
	for (int i = TR_START_FORK; i <= TR_START_FORKSERVER; i++) {
		if (strcmp(name, method_names[i]) == 0) {
			return i;
		}
	}
	return -EINVAL;
}

struct fork_req {
	struct tri_boot *b;
	int              ready_wfd, ready_rfd;
	pid_t            pid;
};

/* In the main thread or the runtime thread, which live as long as this
 * process: the child's PR_SET_PDEATHSIG fires when the thread that forked
 * it ends. */
static int
fork_in_loop(void *arg)
{
	struct fork_req *f = arg;

	/* unflushed stdio would be written twice, by parent and child */
	fflush(NULL);
	f->pid = fork();
	if (f->pid < 0) {
		return -errno;
	}
	if (f->pid == 0) {
		/* child: no ZeroMQ call until tri_child_reset() has dropped
		 * the parent's context (never closed or terminated here) */
		close(f->ready_rfd);
		tri_child_main(f->b, f->ready_wfd);
	}
	return 0;
}

int
tri_launch_fork(
    struct tri_boot *b, int ready_wfd, int ready_rfd, pid_t *ret_pid)
{
	struct fork_req f = { b, ready_wfd, ready_rfd, 0 };
	int             r = tri_loop_run_for_children(fork_in_loop, &f);

	if (r == 0) {
		*ret_pid = f.pid;
	}
	return r;
}

/* The child gets the boot memfd, the ready pipe, the tracker socket (if
 * any) and the handed descriptors as 3, 4, ...: its boot record names the
 * numbers the handed ones will have there. */
int
tri_launch_spawn(struct tri_boot *b, int ready_wfd, pid_t *ret_pid)
{
	struct tri_boot c = *b;
	uint8_t        *buf;
	size_t          n, nfds;
	int             fds[3 + TRI_PASS_MAX], r;

	nfds = tri_rt.tracker_fd >= 0 ? 3 : 2;
	for (size_t i = 0; i < b->npass; i++) {
		fds[nfds + i] = b->pass_fd[i];
		c.pass_fd[i]  = 3 + (int) (nfds + i);
	}
	r = tri_boot_encode(&c, &buf, &n);
	if (r < 0) {
		return r;
	}
	fds[0] = tri_memfd_with(buf, n);
	tri_free(buf);
	if (fds[0] < 0) {
		return fds[0];
	}
	fds[1] = ready_wfd;
	fds[2] = tri_rt.tracker_fd; /* the child is a process of the run */
	r      = tri_spawn_self("TROUPE_BOOT", fds, nfds + b->npass, ret_pid);
	close(fds[0]);
	return r;
}

int
tri_launch_forkserver(struct tri_boot *b, int ready_wfd, int timeout_ms,
    pid_t *ret_pid, int *ret_status_fd)
{
	int fds[2], r;

	/* the forkserver's dispositions are not ours: send what we ignore */
	(void) tri_proc_sigmask("SigIgn", &b->ignored);
	if (pipe2(fds, O_CLOEXEC) < 0) {
		return -errno;
	}
	r = tri_forkserver_start_child(
	    b, ready_wfd, fds[1], ret_pid, timeout_ms);
	close(fds[1]);
	if (r < 0) {
		close(fds[0]);
		return r;
	}
	*ret_status_fd = fds[0];
	return 0;
}
