/* SPDX-License-Identifier: MIT */
/* The forkserver: a single-threaded zygote, exec'd fresh from this
 * program's binary on first use (so it holds no ZeroMQ context, no thread
 * and no lock of its requester), that forks children on request.
 *
 * Request (SOCK_SEQPACKET): 1 byte 'S' with three descriptors attached:
 * the boot memfd, the child's ready pipe and an exit-status pipe.  Reply:
 * an int32 pid, or a negative error.  When a child exits the server writes
 * its wait status (int) to the status pipe.  When the requester goes (EOF
 * on the socket) the server kills its children and exits; it also dies
 * with the requester through PR_SET_PDEATHSIG. */
#include "rt.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

struct kid {
	pid_t pid;
	int   status_fd;
};

static struct kid *kids;
static size_t      nkids, capkids;

static int
recv_request(int sock, int fds[3])
{
	char            buf[8];
	char            cbuf[CMSG_SPACE(3 * sizeof(int))];
	struct iovec    iov = { buf, sizeof(buf) };
	struct msghdr   mh  = { .msg_iov = &iov,
		   .msg_iovlen           = 1,
		   .msg_control          = cbuf,
		   .msg_controllen       = sizeof(cbuf) };
	struct cmsghdr *c;
	ssize_t         n;

	n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	if (n <= 0) {
		return n == 0 ? -EPIPE : -errno;
	}
	c = CMSG_FIRSTHDR(&mh);
	if (buf[0] != 'S' || !c || c->cmsg_type != SCM_RIGHTS ||
	    c->cmsg_len != CMSG_LEN(3 * sizeof(int))) {
		return -EBADMSG;
	}
	memcpy(fds, CMSG_DATA(c), 3 * sizeof(int));
	return 0;
}

/* Look at each exited child (WNOWAIT), log its exit in the run's exit
 * log for monitors, then reap it and tell the requester. */
static void
reap_kids(void)
{
	for (;;) {
		siginfo_t si;
		uint64_t  inc = 0;
		int       status;

		memset(&si, 0, sizeof(si));
		if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) < 0 ||
		    si.si_pid == 0) {
			return;
		}
		(void) tri_proc_starttime(si.si_pid, &inc, NULL);
		status =
		    si.si_code == CLD_EXITED ? si.si_status << 8 : si.si_status;
		tri_exitlog_put(
		    si.si_pid, inc, tri_exitcode_from_status(status));
		(void) waitpid(si.si_pid, &status, 0);
		for (size_t i = 0; i < nkids; i++) {
			if (kids[i].pid == si.si_pid) {
				(void) tri_write_all(
				    kids[i].status_fd, &status, sizeof(status));
				close(kids[i].status_fd);
				kids[i] = kids[--nkids];
				break;
			}
		}
	}
}

static int
serve_one(int sock, int sfd)
{
	struct tri_boot b;
	int             fds[3], r;
	int32_t         reply;
	pid_t           pid;

	r = recv_request(sock, fds);
	if (r == -EPIPE || r == -ECONNRESET) {
		return r;
	}
	if (r < 0) {
		return 0; /* a bad request: ignore it, keep serving */
	}
	r = tri_boot_read_fd(fds[0], &b);
	close(fds[0]);
	if (r == 0 && nkids == capkids) {
		size_t      ncap = capkids ? capkids * 2 : 16;
		struct kid *k    = tri_realloc(kids, ncap * sizeof(*k));

		if (k) {
			kids    = k;
			capkids = ncap;
		} else {
			r = -ENOMEM;
		}
	}
	pid = -1;
	if (r == 0) {
		b.parent = getpid();
		/* the exit log lives in the requester's run directory */
		tri_strlcpy(tri_rt.rundir, b.rundir, sizeof(tri_rt.rundir));
		pid = fork();
		if (pid == 0) {
			sigset_t none;

			close(sock);
			close(sfd);
			close(fds[2]);
			sigemptyset(&none);
			(void) sigprocmask(SIG_SETMASK, &none, NULL);
			tri_child_main(&b, fds[1]);
		}
		r = pid < 0 ? -errno : 0;
		tri_boot_free(&b);
	}
	close(fds[1]);
	if (r == 0) {
		kids[nkids].pid       = pid;
		kids[nkids].status_fd = fds[2];
		nkids++;
	} else {
		close(fds[2]);
	}
	reply = r < 0 ? r : (int32_t) pid;
	(void) send(sock, &reply, sizeof(reply), MSG_NOSIGNAL);
	return 0;
}

_Noreturn void
tri_forkserver_main(int sock)
{
	sigset_t      chld;
	struct pollfd pfd[2];
	int           sfd;

	(void) prctl(PR_SET_PDEATHSIG, SIGKILL);
	(void) prctl(PR_SET_NAME, "troupe-fksrv");
	(void) fcntl(sock, F_SETFD, FD_CLOEXEC);
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	(void) sigprocmask(SIG_BLOCK, &chld, NULL);
	sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0) {
		_exit(71);
	}
	pfd[0] = (struct pollfd) { .fd = sock, .events = POLLIN };
	pfd[1] = (struct pollfd) { .fd = sfd, .events = POLLIN };
	for (;;) {
		struct signalfd_siginfo si;

		if (poll(pfd, 2, -1) < 0) {
			continue;
		}
		if (pfd[1].revents) {
			while (read(sfd, &si, sizeof(si)) > 0) { }
			reap_kids();
		}
		if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			if (serve_one(sock, sfd) < 0) {
				break;
			}
		}
	}
	/* requester gone: no child outlives it */
	for (size_t i = 0; i < nkids; i++) {
		(void) kill(kids[i].pid, SIGKILL);
	}
	while (nkids > 0 && waitpid(-1, NULL, 0) > 0) {
		nkids--;
	}
	_exit(0);
}

static int
ensure_server(void)
{
	char env0[48];
	int  sv[2], r;

	if (tri_rt.forkserver_fd >= 0) {
		return 0;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		return -errno;
	}
	snprintf(env0, sizeof(env0), "TROUPE_FORKSERVER=%d", sv[1]);
	r = tri_spawn_self(env0, &sv[1], 1, &tri_rt.forkserver_pid);
	close(sv[1]);
	if (r < 0) {
		close(sv[0]);
		return r;
	}
	tri_rt.forkserver_fd = sv[0];
	tri_debug("forkserver started (pid %d)", (int) tri_rt.forkserver_pid);
	return 0;
}

void
tri_forkserver_forget(void)
{
	if (tri_rt.forkserver_fd < 0) {
		return;
	}
	close(tri_rt.forkserver_fd);
	tri_rt.forkserver_fd = -1;
	if (tri_rt.forkserver_pid > 0) {
		(void) waitpid(tri_rt.forkserver_pid, NULL, 0);
	}
	tri_rt.forkserver_pid = 0;
}

int
tri_forkserver_start_child(const struct tri_boot *b, int ready_wfd,
    int status_wfd, pid_t *ret_pid, int timeout_ms)
{
	char            fdbuf[CMSG_SPACE(3 * sizeof(int))];
	struct iovec    iov = { "S", 1 };
	struct msghdr   mh  = { .msg_iov = &iov,
		   .msg_iovlen           = 1,
		   .msg_control          = fdbuf,
		   .msg_controllen       = sizeof(fdbuf) };
	struct cmsghdr *c;
	uint8_t        *buf;
	size_t          n;
	int32_t         reply;
	int             boot_fd, r, fds[3];

	r = ensure_server();
	if (r < 0) {
		return r;
	}
	r = tri_boot_encode(b, &buf, &n);
	if (r < 0) {
		return r;
	}
	boot_fd = tri_memfd_with(buf, n);
	tri_free(buf);
	if (boot_fd < 0) {
		return boot_fd;
	}
	memset(fdbuf, 0, sizeof(fdbuf));
	c             = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type  = SCM_RIGHTS;
	c->cmsg_len   = CMSG_LEN(sizeof(fds));
	fds[0]        = boot_fd;
	fds[1]        = ready_wfd;
	fds[2]        = status_wfd;
	memcpy(CMSG_DATA(c), fds, sizeof(fds));
	r = sendmsg(tri_rt.forkserver_fd, &mh, MSG_NOSIGNAL) < 0 ? -errno : 0;
	close(boot_fd);
	if (r == 0) {
		r = tri_poll_fd(tri_rt.forkserver_fd, POLLIN, timeout_ms);
		if (r == 0) {
			r = -ETIMEDOUT;
		} else if (r > 0) {
			ssize_t got = recv(
			    tri_rt.forkserver_fd, &reply, sizeof(reply), 0);

			r = got == sizeof(reply) ? 0 : TR_EFORKSERVER;
		}
	}
	if (r < 0) {
		/* a server that failed us once is not trusted again */
		tri_forkserver_forget();
		return r == -ETIMEDOUT ? r : TR_EFORKSERVER;
	}
	if (reply < 0) {
		return reply;
	}
	*ret_pid = (pid_t) reply;
	return 0;
}
