/* SPDX-License-Identifier: MIT */
/* The forkserver: a single-threaded zygote, exec'd fresh from this
 * program's binary on first use (so it holds no ZeroMQ context, no thread
 * and no lock of its requester), that forks children on request.
 *
 * Request (SOCK_SEQPACKET): 1 byte 'S' with three descriptors attached:
 * the boot memfd, the child's ready pipe and an exit-status pipe, then
 * the descriptors handed to the child (fdpass.h), as many as the boot
 * record names.  Reply:
 * an int32 pid, or a negative error.  When a child exits the server writes
 * its wait status (int) to the status pipe.
 *
 * The server ignores SIGINT, SIGTERM and SIGHUP: a Ctrl-C to the process
 * group is for the actors, which may be shutting down gracefully, and they
 * die with the server.  It never kills a child.  When the requester closes
 * the socket (EOF), the server waits for its remaining children, still
 * reporting their exits, and then ends; it dies with the requester through
 * PR_SET_PDEATHSIG. */
#include "forkserver.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alloc.h"
#include "exitlog.h"
#include "log.h"
#include "runtime.h"
#include "util.h"

struct kid {
	pid_t pid;
	int   status_fd;
};

static struct kid *kids;
static size_t      nkids, capkids;
static uint64_t    ignored; /* the server's own SIG_IGN set */

/* Servers given up on (the requester closed their socket) that still wait
 * for their children; reaped when they end. */
static pid_t  retired[16];
static size_t nretired;

/* A request: fds[0..2] as above, then the *nextra handed descriptors. */
static int
recv_request(int sock, int fds[3 + TRI_PASS_MAX], size_t *nextra)
{
	char            buf[8];
	char            cbuf[CMSG_SPACE((3 + TRI_PASS_MAX) * sizeof(int))];
	struct iovec    iov = { buf, sizeof(buf) };
	struct msghdr   mh  = { .msg_iov = &iov,
		   .msg_iovlen           = 1,
		   .msg_control          = cbuf,
		   .msg_controllen       = sizeof(cbuf) };
	struct cmsghdr *c;
	ssize_t         n;
	size_t          nfds = 0;

	n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	if (n <= 0) {
		return n == 0 ? -EPIPE : -errno;
	}
	c = CMSG_FIRSTHDR(&mh);
	if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
	    c->cmsg_len >= CMSG_LEN(0)) {
		nfds = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		memcpy(fds, CMSG_DATA(c), nfds * sizeof(int));
	}
	if (buf[0] != 'S' || nfds < 3 || (mh.msg_flags & MSG_CTRUNC)) {
		for (size_t i = 0; i < nfds; i++) {
			close(fds[i]);
		}
		return -EBADMSG;
	}
	*nextra = nfds - 3;
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
cmp_int(const void *a, const void *b)
{
	int x = *(const int *) a, y = *(const int *) b;

	return (x > y) - (x < y);
}

/* Close every descriptor from 3 up except the n in keep (-1: none). */
static void
close_all_but(int *keep, size_t n)
{
	int from = 3;

	qsort(keep, n, sizeof(*keep), cmp_int);
	for (size_t k = 0; k < n; k++) {
		int fd = keep[k];

		if (fd < from) {
			continue;
		}
		if (fd > from) {
			(void) close_range(
			    (unsigned) from, (unsigned) fd - 1, 0);
		}
		from = fd + 1;
	}
	(void) close_range((unsigned) from, ~0U, 0);
}

/* In a new child: only stdio, the ready pipe, the run's tracker socket and
 * the descriptors handed to it stay open (not the server's socket, nor the
 * status pipes of older siblings), and the starter's signal dispositions
 * replace the server's. */
static void
child_setup(const struct tri_boot *b, int ready_fd)
{
	sigset_t none;
	uint64_t diff = ignored ^ b->ignored;
	int      keep[2 + TRI_PASS_MAX];

	keep[0] = ready_fd;
	keep[1] = tri_rt.tracker_fd;
	memcpy(keep + 2, b->pass_fd, b->npass * sizeof(int));
	close_all_but(keep, 2 + b->npass);
	for (int s = 1; s <= 64 && s < NSIG; s++) {
		if ((diff >> (s - 1) & 1) && s != SIGKILL && s != SIGSTOP) {
			(void) signal(
			    s, (b->ignored >> (s - 1) & 1) ? SIG_IGN : SIG_DFL);
		}
	}
	sigemptyset(&none);
	(void) sigprocmask(SIG_SETMASK, &none, NULL);
}

/* The boot record names as many handed descriptors as came: they are
 * these, at their numbers here. */
static int
boot_take_extra(struct tri_boot *b, const int *extra, size_t nextra)
{
	if (b->npass != nextra) {
		return -EBADMSG;
	}
	memcpy(b->pass_fd, extra, nextra * sizeof(int));
	return 0;
}

static int
serve_one(int sock)
{
	struct tri_boot b;
	int             fds[3 + TRI_PASS_MAX] = { -1, -1, -1 }, r;
	size_t          nextra                = 0;
	int32_t         reply;
	pid_t           pid;

	r = recv_request(sock, fds, &nextra);
	if (r == -EPIPE || r == -ECONNRESET) {
		return r;
	}
	if (r < 0) {
		return 0; /* a bad request: ignore it, keep serving */
	}
	r = tri_boot_read_fd(fds[0], &b);
	close(fds[0]);
	if (r == 0) {
		r = boot_take_extra(&b, fds + 3, nextra);
		if (r < 0) {
			tri_boot_free(&b);
		}
	}
	if (r == 0 && nkids == capkids) {
		size_t      ncap = capkids ? capkids * 2 : 16;
		struct kid *k    = tri_realloc(kids, ncap * sizeof(*k));

		if (k) {
			kids    = k;
			capkids = ncap;
		} else {
			r = -ENOMEM;
			tri_boot_free(&b);
		}
	}
	pid = -1;
	if (r == 0) {
		b.parent = getpid();
		/* the exit log lives in the requester's run directory */
		tri_strlcpy(tri_rt.rundir, b.rundir, sizeof(tri_rt.rundir));
		pid = fork();
		if (pid == 0) {
			child_setup(&b, fds[1]);
			tri_child_main(&b, fds[1]);
		}
		r = pid < 0 ? -errno : 0;
		tri_boot_free(&b);
	}
	close(fds[1]);
	for (size_t i = 0; i < nextra; i++) {
		close(fds[3 + i]); /* the child has its copies */
	}
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

static void
ignore_group_signals(void)
{
	(void) signal(SIGINT, SIG_IGN);
	(void) signal(SIGTERM, SIG_IGN);
	(void) signal(SIGHUP, SIG_IGN);
	if (tri_proc_sigmask("SigIgn", &ignored) < 0) {
		ignored = ~(uint64_t) 0; /* unknown: set every signal */
	}
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
	ignore_group_signals();
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	(void) sigprocmask(SIG_BLOCK, &chld, NULL);
	sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0) {
		_exit(71);
	}
	pfd[0] = (struct pollfd) { .fd = sock, .events = POLLIN };
	pfd[1] = (struct pollfd) { .fd = sfd, .events = POLLIN };
	/* after EOF (pfd[0].fd < 0), serve exits until no child is left */
	while (pfd[0].fd >= 0 || nkids > 0) {
		struct signalfd_siginfo si;

		if (poll(pfd, 2, -1) < 0) {
			continue;
		}
		if (pfd[1].revents) {
			while (read(sfd, &si, sizeof(si)) > 0) { }
			reap_kids();
		}
		if ((pfd[0].revents &
		        (POLLIN | POLLHUP | POLLERR | POLLNVAL)) &&
		    serve_one(sock) < 0) {
			close(sock);
			pfd[0].fd = -1;
		}
	}
	_exit(0);
}

/* Close the socket to the server.  With wait, block until it has ended
 * (at exit, once our children are joined); otherwise leave it to finish
 * its children and reap it later. */
static void
forget(bool wait)
{
	pid_t pid = tri_rt.forkserver_pid;

	if (tri_rt.forkserver_fd >= 0) {
		close(tri_rt.forkserver_fd);
	}
	tri_rt.forkserver_fd  = -1;
	tri_rt.forkserver_pid = 0;
	if (pid <= 0) {
		return;
	}
	if (wait || nretired == sizeof(retired) / sizeof(retired[0])) {
		(void) waitpid(pid, NULL, 0);
	} else if (waitpid(pid, NULL, WNOHANG) == 0) {
		retired[nretired++] = pid;
	}
}

/* If the server we know has ended, reap it and forget it: the next
 * request starts a new one. */
static void
forget_if_gone(void)
{
	if (tri_rt.forkserver_fd < 0 || tri_rt.forkserver_pid <= 0 ||
	    waitpid(tri_rt.forkserver_pid, NULL, WNOHANG) == 0) {
		return;
	}
	tri_debug("forkserver (pid %d) died", (int) tri_rt.forkserver_pid);
	tri_rt.forkserver_pid = 0; /* reaped */
	forget(false);
}

void
tri_forkserver_reap(void)
{
	forget_if_gone();
	for (size_t i = 0; i < nretired;) {
		if (waitpid(retired[i], NULL, WNOHANG) != 0) {
			retired[i] = retired[--nretired];
		} else {
			i++;
		}
	}
}

/* At exit, once our children are joined: the current server ends when
 * its socket closes; a retired one may still run a child that a failed
 * request left behind, which would die with us anyway. */
void
tri_forkserver_forget(void)
{
	forget(true);
	while (nretired > 0) {
		(void) kill(retired[--nretired], SIGKILL);
		(void) waitpid(retired[nretired], NULL, 0);
	}
}

/* In a new child: the parent's servers are not ours to use or reap. */
void
tri_forkserver_drop(void)
{
	if (tri_rt.forkserver_fd >= 0) {
		close(tri_rt.forkserver_fd);
	}
	tri_rt.forkserver_fd  = -1;
	tri_rt.forkserver_pid = 0;
	nretired              = 0;
}

static int
ensure_server(void)
{
	int sv[2], keep[2], r;

	forget_if_gone();
	if (tri_rt.forkserver_fd >= 0) {
		return 0;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		return -errno;
	}
	keep[0] = sv[1];
	keep[1] = tri_rt.tracker_fd; /* the server is a process of the run */
	r = tri_spawn_self("TROUPE_FORKSERVER", keep, keep[1] >= 0 ? 2 : 1,
	    &tri_rt.forkserver_pid);
	close(sv[1]);
	if (r < 0) {
		close(sv[0]);
		return r;
	}
	tri_rt.forkserver_fd = sv[0];
	tri_debug("forkserver started (pid %d)", (int) tri_rt.forkserver_pid);
	return 0;
}

/* Send the request with its three descriptors and the handed ones: 0, or
 * -errno. */
static int
send_request(
    const struct tri_boot *b, int boot_fd, int ready_wfd, int status_wfd)
{
	char            fdbuf[CMSG_SPACE((3 + TRI_PASS_MAX) * sizeof(int))];
	struct iovec    iov = { "S", 1 };
	struct msghdr   mh  = { .msg_iov = &iov,
		   .msg_iovlen           = 1,
		   .msg_control          = fdbuf,
		   .msg_controllen = CMSG_SPACE((3 + b->npass) * sizeof(int)) };
	struct cmsghdr *c;
	int fds[3 + TRI_PASS_MAX] = { boot_fd, ready_wfd, status_wfd };

	memcpy(fds + 3, b->pass_fd, b->npass * sizeof(int));
	memset(fdbuf, 0, sizeof(fdbuf));
	c             = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type  = SCM_RIGHTS;
	c->cmsg_len   = CMSG_LEN((3 + b->npass) * sizeof(int));
	memcpy(CMSG_DATA(c), fds, (3 + b->npass) * sizeof(int));
	return sendmsg(tri_rt.forkserver_fd, &mh, MSG_NOSIGNAL) < 0 ? -errno
	                                                            : 0;
}

/* The server's reply: 0 with *reply, -ETIMEDOUT, -EPIPE if the server
 * is gone, or another -errno. */
static int
recv_reply(int32_t *reply, int timeout_ms)
{
	ssize_t got;
	int     r = tri_poll_fd(tri_rt.forkserver_fd, POLLIN, timeout_ms);

	if (r <= 0) {
		return r == 0 ? -ETIMEDOUT : r;
	}
	got = recv(tri_rt.forkserver_fd, reply, sizeof(*reply), 0);
	if (got < 0) {
		return -errno;
	}
	return got == sizeof(*reply) ? 0 : -EPIPE;
}

static int
request(const struct tri_boot *b, int boot_fd, int ready_wfd, int status_wfd,
    int32_t *reply, int timeout_ms)
{
	int r = ensure_server();

	if (r == 0) {
		r = send_request(b, boot_fd, ready_wfd, status_wfd);
	}
	if (r == 0) {
		r = recv_reply(reply, timeout_ms);
	}
	return r;
}

static int
start_child(const struct tri_boot *b, int ready_wfd, int status_wfd,
    pid_t *ret_pid, int timeout_ms)
{
	uint8_t *buf;
	size_t   n;
	int32_t  reply;
	int      boot_fd, r;

	r = tri_boot_encode(b, &buf, &n);
	if (r < 0) {
		return r;
	}
	boot_fd = tri_memfd_with(buf, n);
	tri_free(buf);
	if (boot_fd < 0) {
		return boot_fd;
	}
	r = request(b, boot_fd, ready_wfd, status_wfd, &reply, timeout_ms);
	if (r == -EPIPE || r == -ECONNRESET) {
		/* the server died under us: once more with a new one */
		forget(false);
		r = lseek(boot_fd, 0, SEEK_SET) < 0
		    ? -errno
		    : request(b, boot_fd, ready_wfd, status_wfd, &reply,
		          timeout_ms);
	}
	close(boot_fd);
	if (r < 0) {
		/* a server that failed us is not trusted again */
		forget(false);
		return r == -ETIMEDOUT ? r : TR_EFORKSERVER;
	}
	if (reply < 0) {
		return reply;
	}
	*ret_pid = (pid_t) reply;
	return 0;
}

/* One request at a time: a handle belongs to one thread, but two threads
 * may start children through the one forkserver. */
static pthread_mutex_t request_lock = PTHREAD_MUTEX_INITIALIZER;

int
tri_forkserver_start_child(const struct tri_boot *b, int ready_wfd,
    int status_wfd, pid_t *ret_pid, int timeout_ms)
{
	int r;

	pthread_mutex_lock(&request_lock);
	r = start_child(b, ready_wfd, status_wfd, ret_pid, timeout_ms);
	pthread_mutex_unlock(&request_lock);
	return r;
}
