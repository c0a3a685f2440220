/* SPDX-License-Identifier: MIT */
/* The run's resource tracker (Python's multiprocessing resource_tracker,
 * made to survive SIGKILL).
 *
 * tr_init() in the main program makes the runtime directory and then a
 * SOCK_SEQPACKET socketpair: the tracker holds one end, and every process
 * of the run holds the other (the main program, and each child, which
 * inherits it under fork and is handed it under spawn and the forkserver;
 * it is close-on-exec, so a program exec'd by the user does not keep it).
 * When the last of them ends -- by return, exit(), a signal or SIGKILL --
 * the kernel closes its copy, and the tracker reads end-of-file.  Then no
 * process can still use the directory, and the tracker removes it (if it is
 * still the one it was told about: same device and inode) together with
 * every name registered over the socket, and exits.
 *
 * It is started by a double fork, so that it is not the main program's
 * child: tr_active_children() does not count it, and a waitpid(-1) in the
 * user's code does not reap it; it is reparented to init (or the nearest
 * child subreaper), which reaps it when it ends.  The forks happen in
 * tr_init(), before the runtime has a thread or a ZeroMQ context, and the
 * forked code makes system calls only (no malloc, no stdio), so a user's
 * thread that held a lock at the fork cannot wedge it.
 *
 * It starts a session of its own and ignores SIGINT, SIGHUP and SIGQUIT: a
 * Ctrl-C or a hangup of the terminal is for the service, whose ordered
 * shutdown still needs its directory.  SIGTERM makes it clean up at once
 * and exit (a service manager that stops everything wants nothing left).
 *
 * Wire: one datagram per request, op ('+' register, '-' unregister), kind
 * (enum tri_track_kind), then the name's bytes.  The tracker sends one
 * datagram back at start, its pid, which tells the main program it is
 * ready.  Nothing else is ever sent to the run's end. */
#include "tracker.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "runtime.h"
#include "util.h"

struct entry {
	char kind; /* 0: free slot */
	char name[TRI_TRACK_NAME_MAX];
};

/* The tracker's state: in the tracker process only (copy-on-write, never
 * touched in the run's processes). */
static struct {
	int          sock, sigfd;
	char         rundir[PATH_MAX];
	dev_t        dev;
	ino_t        ino;
	struct entry tab[TRI_TRACK_MAX];
} T;

/* ---- removal, with system calls only ------------------------------------ */

/* Remove everything under the directory dfd; entries of a subdirectory
 * first.  getdents64 may skip entries while the directory shrinks, so the
 * scan repeats until a pass removes nothing. */
static void
empty_dir(int dfd, int depth)
{
	char buf[2048] __attribute__((aligned(8)));
	bool removed;

	if (depth > 16) {
		return;
	}
	do {
		ssize_t n;

		removed = false;
		(void) lseek(dfd, 0, SEEK_SET);
		while ((n = getdents64(dfd, buf, sizeof(buf))) > 0) {
			for (ssize_t off = 0; off < n;) {
				struct dirent64 *e = (void *) (buf + off);
				int              sub;

				off += e->d_reclen;
				if (strcmp(e->d_name, ".") == 0 ||
				    strcmp(e->d_name, "..") == 0) {
					continue;
				}
				if (unlinkat(dfd, e->d_name, 0) == 0) {
					removed = true;
					continue;
				}
				sub = openat(dfd, e->d_name,
				    O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
				        O_CLOEXEC);
				if (sub >= 0) {
					empty_dir(sub, depth + 1);
					close(sub);
				}
				if (unlinkat(dfd, e->d_name, AT_REMOVEDIR) ==
				    0) {
					removed = true;
				}
			}
		}
	} while (removed);
}

static void
remove_tree(const char *path, bool check_owner)
{
	struct stat st;
	int dfd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (dfd < 0) {
		return; /* gone already (the main program's exit removed it) */
	}
	if (check_owner &&
	    (fstat(dfd, &st) < 0 || st.st_dev != T.dev || st.st_ino != T.ino)) {
		close(dfd); /* not the directory we were told about */
		return;
	}
	empty_dir(dfd, 0);
	close(dfd);
	(void) rmdir(path);
}

static void
remove_entry(const struct entry *e)
{
	char path[TRI_TRACK_NAME_MAX + 16];

	switch (e->kind) {
	case TRI_TRACK_FILE:
		(void) unlink(e->name);
		break;
	case TRI_TRACK_DIR:
		remove_tree(e->name, false);
		break;
	case TRI_TRACK_SHM:
		/* shm_unlink() without its allocations: the same file */
		if (e->name[0] == '/' && !strchr(e->name + 1, '/')) {
			memcpy(path, "/dev/shm", 8);
			memcpy(path + 8, e->name, strlen(e->name) + 1);
			(void) unlink(path);
		}
		break;
	default:
		break;
	}
}

static _Noreturn void
clean_up_and_exit(void)
{
	for (size_t i = 0; i < TRI_TRACK_MAX; i++) {
		if (T.tab[i].kind) {
			remove_entry(&T.tab[i]);
		}
	}
	remove_tree(T.rundir, true);
	_exit(0);
}

/* ---- the tracker's loop -------------------------------------------------- */

static void
note(const char *pkt, size_t n)
{
	struct entry *free_slot = NULL;
	size_t        len       = n - 2;

	if (n < 3 || len >= TRI_TRACK_NAME_MAX ||
	    (pkt[0] != '+' && pkt[0] != '-')) {
		return;
	}
	for (size_t i = 0; i < TRI_TRACK_MAX; i++) {
		struct entry *e = &T.tab[i];

		if (!e->kind) {
			free_slot = free_slot ? free_slot : e;
		} else if (e->kind == pkt[1] &&
		    strncmp(e->name, pkt + 2, len) == 0 && !e->name[len]) {
			if (pkt[0] == '-') {
				e->kind = 0;
			}
			return; /* registered already, or now forgotten */
		}
	}
	if (pkt[0] == '+' && free_slot) {
		memcpy(free_slot->name, pkt + 2, len);
		free_slot->name[len] = '\0';
		free_slot->kind      = pkt[1];
	}
}

/* Take every datagram waiting; true at end-of-file (the run is over). */
static bool
read_requests(void)
{
	char pkt[TRI_TRACK_NAME_MAX + 8];

	for (;;) {
		ssize_t n = recv(T.sock, pkt, sizeof(pkt), MSG_DONTWAIT);

		if (n > 0) {
			note(pkt, (size_t) n);
		} else if (n == 0) {
			return true;
		} else if (errno != EINTR) {
			return errno != EAGAIN;
		}
	}
}

static int
setup(void)
{
	sigset_t term;
	int      null;

	(void) setsid();
	(void) prctl(PR_SET_NAME, "troupe-tracker");
	(void) signal(SIGINT, SIG_IGN);
	(void) signal(SIGHUP, SIG_IGN);
	(void) signal(SIGQUIT, SIG_IGN);
	(void) signal(SIGPIPE, SIG_IGN);
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	(void) sigprocmask(SIG_SETMASK, &term, NULL);
	/* nothing but the socket: no pipe of the user's stays open here */
	null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null >= 0) {
		(void) dup2(null, 0);
		(void) dup2(null, 1);
		(void) dup2(null, 2);
	}
	if (T.sock > 3) {
		(void) close_range(3, (unsigned) T.sock - 1, 0);
	}
	(void) close_range((unsigned) T.sock + 1, ~0U, 0);
	T.sigfd = signalfd(-1, &term, SFD_CLOEXEC | SFD_NONBLOCK);
	return T.sigfd < 0 ? -errno : 0;
}

static _Noreturn void
tracker_main(void)
{
	struct pollfd pfd[2];
	int32_t       pid = (int32_t) getpid();

	if (setup() < 0 ||
	    send(T.sock, &pid, sizeof(pid), MSG_NOSIGNAL) != sizeof(pid)) {
		_exit(1);
	}
	pfd[0] = (struct pollfd) { .fd = T.sock, .events = POLLIN };
	pfd[1] = (struct pollfd) { .fd = T.sigfd, .events = POLLIN };
	for (;;) {
		if (poll(pfd, 2, -1) < 0) {
			continue;
		}
		if (pfd[1].revents) {
			clean_up_and_exit(); /* SIGTERM */
		}
		if (pfd[0].revents && read_requests()) {
			clean_up_and_exit();
		}
	}
}

/* ---- in the run ---------------------------------------------------------- */

static pid_t tracker_pid;

/* The middle process of the double fork: start the tracker, and end. */
static _Noreturn void
middle(int run_end)
{
	pid_t pid;

	close(run_end);
	pid = fork();
	if (pid == 0) {
		tracker_main();
	}
	_exit(pid < 0 ? 1 : 0);
}

int
tri_tracker_start(const char *rundir)
{
	struct stat st;
	int32_t     pid = 0;
	int         sv[2], status;
	pid_t       mid;
	ssize_t     n;

	if (stat(rundir, &st) < 0) {
		return -errno;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		return -errno;
	}
	T.sock = sv[0];
	T.dev  = st.st_dev;
	T.ino  = st.st_ino;
	tri_strlcpy(T.rundir, rundir, sizeof(T.rundir));
	mid = fork();
	if (mid == 0) {
		middle(sv[1]);
	}
	close(sv[0]);
	if (mid < 0) {
		close(sv[1]);
		return -errno;
	}
	while (waitpid(mid, &status, 0) < 0 && errno == EINTR) { }
	/* the tracker's pid says it runs; end-of-file says it could not */
	do {
		n = recv(sv[1], &pid, sizeof(pid), 0);
	} while (n < 0 && errno == EINTR);
	if (n != sizeof(pid) || pid <= 0) {
		close(sv[1]);
		return n < 0 ? -errno : -ECHILD;
	}
	tracker_pid       = (pid_t) pid;
	tri_rt.tracker_fd = sv[1];
	tri_debug("tracker started (pid %d) for %s", (int) pid, rundir);
	return 0;
}

static int
request(char op, int kind, const char *name)
{
	char   pkt[TRI_TRACK_NAME_MAX + 2];
	size_t len = name ? strlen(name) : 0;

	if (len == 0 || len >= TRI_TRACK_NAME_MAX ||
	    (kind != TRI_TRACK_FILE && kind != TRI_TRACK_DIR &&
	        kind != TRI_TRACK_SHM)) {
		return -EINVAL;
	}
	if (tri_rt.tracker_fd < 0) {
		return -ENOTCONN;
	}
	pkt[0] = op;
	pkt[1] = (char) kind;
	memcpy(pkt + 2, name, len);
	for (;;) {
		if (send(tri_rt.tracker_fd, pkt, len + 2, MSG_NOSIGNAL) >= 0) {
			return 0;
		}
		if (errno != EINTR) {
			return -errno;
		}
	}
}

int
tri_tracker_register(int kind, const char *name)
{
	return request('+', kind, name);
}

int
tri_tracker_unregister(int kind, const char *name)
{
	return request('-', kind, name);
}

pid_t
tri_tracker_pid(void)
{
	return tri_rt.is_child ? 0 : tracker_pid;
}
