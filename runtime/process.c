/* SPDX-License-Identifier: MIT */
/* tr_process: start, join, signal and reap a child running an actor. */
#include "process.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <protobuf-c/protobuf-c.h>

#include "alloc.h"
#include "event.h"
#include "fdpass.h"
#include "fds.h"
#include "forkserver.h"
#include "launch.h"
#include "log.h"
#include "loop.h"
#include "mailbox.h"
#include "pidfd.h"
#include "registry.h"
#include "runtime.h"
#include "troupe.pb-c.h"
#include "util.h"

enum state { ST_NEW, ST_RUNNING, ST_EXITED };

struct tr_process {
	pid_t       owner; /* creating process: other pids get -ECHILD */
	enum state  state;
	char        actor[TRI_NAME_MAX];
	char        name[TRI_NAME_MAX];
	char        identity[TRI_NAME_MAX];
	void       *args;
	size_t      len;
	bool        daemon;
	bool        eager_mailbox;
	int         method;
	pid_t       pid;
	uint64_t    incarnation; /* start time in ticks; 0 if unknown */
	int         pidfd;       /* -1 if none */
	int         status_fd;   /* forkserver children: exit status pipe */
	int         exitcode;
	int         start_error;
	char        reason[TRI_REASON_MAX];
	tr_process *next, *prev;   /* tri_rt.children while running */
	tr_process *hnext, *hprev; /* every live handle (fork children) */
	/* descriptors to hand to the child (dups, closed once it started) */
	int      pass_fd[TRI_PASS_MAX];
	uint32_t pass_tag[TRI_PASS_MAX];
	size_t   npass;
};

static void handles_add(tr_process *p);
static void reap_exited_nowait(void);

static int
default_method(void)
{
	const char *env = getenv("TROUPE_START_METHOD");
	int         m   = env ? tr_start_method_parse(env) : -EINVAL;

	return m > 0 ? m : TR_START_FORK;
}

int
tr_process_new(
    tr_process **ret, const char *actor, const void *args, size_t len)
{
	tr_process *p;

	tr_assert_return(ret && actor, -EINVAL);
	tr_assert_return(args || len == 0, -EINVAL);
	tr_assert_return(actor[0] && strlen(actor) < TRI_NAME_MAX, -EINVAL);
	tr_assert_return(tri_rt.inited, TR_ENOTINIT);

	p = tri_calloc(1, sizeof(*p));
	if (!p) {
		return -ENOMEM;
	}
	/* one byte more, always 0: text arguments are C strings */
	p->args = tri_alloc(len + 1);
	if (!p->args) {
		tri_free(p);
		return -ENOMEM;
	}
	if (len) {
		memcpy(p->args, args, len);
	}
	((char *) p->args)[len] = '\0';
	p->len                  = len;
	p->owner                = tri_getpid();
	p->pidfd                = -1;
	p->status_fd            = -1;
	p->daemon               = tri_rt.daemon; /* as Python's */
	tri_strlcpy(p->actor, actor, sizeof(p->actor));
	/* Python numbers children per parent: Process-1, and Process-1:1 for
	 * the first child of that one */
	tri_rt.child_counter++;
	if (snprintf(p->identity, sizeof(p->identity), "%s%s%u",
	        tri_rt.identity, tri_rt.identity[0] ? ":" : "",
	        tri_rt.child_counter) >= (int) sizeof(p->identity) ||
	    snprintf(p->name, sizeof(p->name), "Process-%s", p->identity) >=
	        (int) sizeof(p->name)) {
		/* a tree this deep keeps the truncated name; only a label */
		tri_debug("process name truncated: %s", p->name);
	}
	handles_add(p);
	*ret = p;
	return 0;
}

#define CHECK_HANDLE(p)                                                \
	do {                                                           \
		tr_assert_return(p, -EINVAL);                          \
		tr_assert_return((p)->owner == tri_getpid(), -ECHILD); \
	} while (0)

int
tri_process_pass_fd(tr_process *p, int fd, uint32_t tag)
{
	CHECK_HANDLE(p);
	tr_assert_return(fd >= 0, -EINVAL);
	tr_assert_return(p->state == ST_NEW && p->pid == 0, -EBUSY);
	return tri_fdpass_add(
	    p->pass_fd, p->pass_tag, &p->npass, TRI_PASS_MAX, fd, tag);
}

int
tr_process_set_name(tr_process *p, const char *name)
{
	CHECK_HANDLE(p);
	tr_assert_return(name && strlen(name) < TRI_NAME_MAX, -EINVAL);
	tr_assert_return(p->state == ST_NEW, -EBUSY);
	tri_strlcpy(p->name, name, sizeof(p->name));
	return 0;
}

int
tr_process_set_daemon(tr_process *p, bool daemon)
{
	CHECK_HANDLE(p);
	tr_assert_return(p->state == ST_NEW, -EBUSY);
	p->daemon = daemon;
	return 0;
}

int
tr_process_set_start_method(tr_process *p, int method)
{
	CHECK_HANDLE(p);
	tr_assert_return(
	    method >= TR_START_DEFAULT && method <= TR_START_FORKSERVER,
	    -EINVAL);
	tr_assert_return(p->state == ST_NEW, -EBUSY);
	p->method = method;
	return 0;
}

int
tr_process_set_eager_mailbox(tr_process *p, bool eager)
{
	CHECK_HANDLE(p);
	tr_assert_return(p->state == ST_NEW, -EBUSY);
	p->eager_mailbox = eager;
	return 0;
}

/* The lists of children and handles are shared by the threads that start
 * children (recursive: reaping unlinks while the list is walked). */
static pthread_mutex_t list_mutex = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
static size_t          nchildren;      /* on tri_rt.children */
static size_t          starts_unswept; /* since reap_exited_nowait() swept */

static void
list_lock(void)
{
	pthread_mutex_lock(&list_mutex);
}

static void
list_unlock(void)
{
	pthread_mutex_unlock(&list_mutex);
}

static void
list_add(tr_process *p)
{
	list_lock();
	nchildren++;
	p->prev = NULL;
	p->next = tri_rt.children;
	if (p->next) {
		p->next->prev = p;
	}
	tri_rt.children = p;
	list_unlock();
}

static void
list_del(tr_process *p)
{
	list_lock();
	if (p->prev || tri_rt.children == p) {
		nchildren--; /* it was on the list (a second call is a no-op) */
	}
	if (p->prev) {
		p->prev->next = p->next;
	} else if (tri_rt.children == p) {
		tri_rt.children = p->next;
	}
	if (p->next) {
		p->next->prev = p->prev;
	}
	p->next = p->prev = NULL;
	list_unlock();
}

static void
fill_boot(const tr_process *p, struct tri_boot *b)
{
	memset(b, 0, sizeof(*b));
	tri_strlcpy(b->actor, p->actor, sizeof(b->actor));
	tri_strlcpy(b->name, p->name, sizeof(b->name));
	tri_strlcpy(b->identity, p->identity, sizeof(b->identity));
	tri_strlcpy(b->rundir, tri_rt.rundir, sizeof(b->rundir));
	b->args          = p->args;
	b->len           = p->len;
	b->daemon        = p->daemon;
	b->eager_mailbox = p->eager_mailbox;
	b->log_level     = tr_log_level();
	b->parent        = tri_getpid();
	b->starter       = b->parent;
	b->npass         = p->npass;
	memcpy(b->pass_fd, p->pass_fd, p->npass * sizeof(int));
	memcpy(b->pass_tag, p->pass_tag, p->npass * sizeof(uint32_t));
}

static int
sentinel(const tr_process *p)
{
	return p->status_fd >= 0 ? p->status_fd : p->pidfd;
}

static int reap_locked(tr_process *p);

/* Reap if exited: 1 reaped (now ST_EXITED), 0 still running, -errno.
 * Any thread may reap any child (a start reaps the finished ones), so
 * one at a time: two readers of one status pipe would split it. */
static int
reap(tr_process *p)
{
	int r;

	list_lock();
	r = reap_locked(p);
	list_unlock();
	return r;
}

static int
reap_locked(tr_process *p)
{
	if (p->state != ST_RUNNING) {
		return 1;
	}
	if (p->status_fd >= 0) {
		int status, r;

		r = tri_poll_fd(p->status_fd, POLLIN, 0);
		if (r <= 0) {
			return r;
		}
		r = tri_read_all(p->status_fd, &status, sizeof(status));
		if (r < 0) {
			/* the forkserver died; it takes its children along */
			status = SIGKILL;
			snprintf(p->reason, sizeof(p->reason),
			    "forkserver died: exit status unknown");
		}
		p->exitcode = tri_exitcode_from_status(status);
	} else {
		siginfo_t si;

		/* look first (WNOWAIT), log the exit for monitors, then reap:
		 * whoever finds the zombie gone finds the log entry */
		memset(&si, 0, sizeof(si));
		if (tri_pidfd_waitid(
		        p->pidfd, &si, WEXITED | WNOHANG | WNOWAIT) < 0) {
			return errno == EINTR ? 0 : -errno;
		}
		if (si.si_pid == 0) {
			return 0;
		}
		p->exitcode =
		    si.si_code == CLD_EXITED ? si.si_status : -si.si_status;
		if (p->incarnation == 0) { /* the zombie still has /proc */
			(void) tri_proc_starttime(
			    p->pid, &p->incarnation, NULL);
		}
		tri_msg_on_exit(p->pid, p->incarnation, p->exitcode);
		(void) tri_pidfd_waitid(p->pidfd, &si, WEXITED);
		p->state = ST_EXITED;
		list_del(p);
		goto out;
	}
	p->state = ST_EXITED;
	list_del(p);
	tri_msg_on_exit(p->pid, p->incarnation, p->exitcode);
out:
	tri_debug("process %s (pid %d) exited with %d (%s)", p->name,
	    (int) p->pid, p->exitcode, tri_exit_class_name(p->exitcode));
	return 1;
}

/* The child wrote "R", or "E" + trwire.Ready, or died: read it all. */
static int
read_report(tr_process *p, int rfd)
{
	uint8_t        buf[TRI_REASON_MAX + 64];
	ssize_t        n;
	size_t         got = 0;
	Trwire__Ready *m;

	while (got < sizeof(buf)) {
		n = read(rfd, buf + got, sizeof(buf) - got);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n <= 0) {
			break;
		}
		got += (size_t) n;
		if (buf[0] == 'R') {
			return 0;
		}
	}
	if (got == 0) {
		return TR_ESTARTFAIL; /* died without a word */
	}
	if (buf[0] != 'E') {
		snprintf(p->reason, sizeof(p->reason), "garbled start report");
		return TR_ESTARTFAIL;
	}
	m = trwire__ready__unpack(&tri_pb_allocator, got - 1, buf + 1);
	if (m) {
		p->start_error = m->error;
		tri_strlcpy(p->reason, m->reason, sizeof(p->reason));
		trwire__ready__free_unpacked(m, &tri_pb_allocator);
	}
	return p->start_error == TR_EIGNORE ? TR_EIGNORE : TR_ESTARTFAIL;
}

static int
wait_ready(tr_process *p, int rfd, int timeout_ms)
{
	int64_t       deadline = tri_deadline(timeout_ms);
	struct pollfd pfd[2]   = { { .fd = rfd, .events = POLLIN },
		  { .fd = sentinel(p), .events = POLLIN } };
	int           r;

	for (;;) {
		r = poll(pfd, pfd[1].fd >= 0 ? 2 : 1,
		    tri_remaining(deadline, timeout_ms));
		if (r < 0 && errno == EINTR) {
			continue;
		}
		if (r < 0) {
			return -errno;
		}
		if (r == 0) {
			return -ETIMEDOUT;
		}
		/* the report (or EOF) is in the pipe before the exit */
		return read_report(p, rfd);
	}
}

static void
fail_cleanup(tr_process *p, int r)
{
	if (r == -ETIMEDOUT) {
		(void) tr_process_kill(p);
		snprintf(p->reason, sizeof(p->reason),
		    "did not report running in time; killed");
	}
	(void) tr_process_join(p, TR_TIMEOUT_INFINITE);
	if (!p->reason[0] && p->exitcode < 0) {
		const char *sig = sigabbrev_np(-p->exitcode);

		snprintf(p->reason, sizeof(p->reason),
		    "killed by signal %s%s (%d) before it reported running",
		    sig ? "SIG" : "", sig ? sig : "", -p->exitcode);
	} else if (!p->reason[0]) {
		snprintf(p->reason, sizeof(p->reason),
		    "exited with code %d before it reported running",
		    p->exitcode);
	}
	tri_debug("start of %s (%s) failed: %s", p->name, p->actor, p->reason);
}

static int
start(tr_process *p, int timeout_ms)
{
	struct tri_boot b;
	int             fds[2], r;

	r = tri_actor_lookup(p->actor, NULL, NULL);
	if (r < 0) {
		snprintf(p->reason, sizeof(p->reason),
		    "no actor registered as '%s'", p->actor);
		return r;
	}
	if (p->method == TR_START_DEFAULT) {
		p->method = default_method();
	}
	/* as Python: finished children nobody joined are reaped here */
	reap_exited_nowait();
	if (pipe2(fds, O_CLOEXEC) < 0) {
		return -errno;
	}
	fill_boot(p, &b);
	switch (p->method) {
	case TR_START_FORK:
		r = tri_launch_fork(&b, fds[1], fds[0], &p->pid);
		break;
	case TR_START_SPAWN:
		r = tri_launch_spawn(&b, fds[1], &p->pid);
		break;
	default:
		r = tri_launch_forkserver(
		    &b, fds[1], timeout_ms, &p->pid, &p->status_fd);
		break;
	}
	close(fds[1]);
	if (r < 0) {
		close(fds[0]);
		return r;
	}
	p->pidfd = tri_pidfd_open(p->pid);
	if (p->pidfd < 0 && p->status_fd < 0) {
		/* our own child cannot be gone: it is not reaped yet */
		r        = p->pidfd;
		p->pidfd = -1;
		close(fds[0]);
		(void) kill(p->pid, SIGKILL);
		(void) waitpid(p->pid, NULL, 0);
		return r;
	}
	p->state = ST_RUNNING;
	list_add(p);
	r = wait_ready(p, fds[0], timeout_ms);
	close(fds[0]);
	if (r < 0) {
		fail_cleanup(p, r);
		return r;
	}
	if (p->status_fd >= 0) {
		/* the forkserver reaps it: learn the start time while we can */
		(void) tri_proc_starttime(p->pid, &p->incarnation, NULL);
	}
	tri_event({ TRI_EV_SPAWN, { 0, (uint32_t) p->pid, p->incarnation }, 0,
	    p->pid, p->actor });
	tri_debug("started %s (actor %s, pid %d, %s)", p->name, p->actor,
	    (int) p->pid, tr_start_method_name(p->method));
	return 0;
}

int
tr_process_start(tr_process *p, int timeout_ms)
{
	int r;

	CHECK_HANDLE(p);
	tr_assert_return(p->state == ST_NEW && p->pid == 0, -EBUSY);
	r = start(p, timeout_ms);
	if (p->pid != 0) {
		/* the child has its arguments now (or never will): a handle
		 * that lives as long as the child does not hold a copy */
		tri_free(p->args);
		p->args = NULL;
		/* and it has its own copies of the handed descriptors */
		tri_fdpass_clear(p->pass_fd, &p->npass);
	}
	return r;
}

int
tr_process_join(tr_process *p, int timeout_ms)
{
	int r;

	CHECK_HANDLE(p);
	tr_assert_return(p->state != ST_NEW, -EINVAL);
	if (p->state == ST_EXITED) {
		return 0;
	}
	r = tri_msg_wait_fd(sentinel(p), timeout_ms);
	if (r < 0) {
		return r;
	}
	if (r == 0) {
		return -ETIMEDOUT;
	}
	r = reap(p);
	if (r == 0) {
		/* sentinel fired but status not there yet: cannot happen for
		 * pidfds; for the status pipe the write is atomic */
		return timeout_ms == 0 ? -ETIMEDOUT
		                       : tr_process_join(p, timeout_ms);
	}
	return r < 0 ? r : 0;
}

bool
tr_process_is_alive(tr_process *p)
{
	if (!p || p->owner != tri_getpid() || p->state != ST_RUNNING) {
		return false;
	}
	return reap(p) == 0;
}

int
tr_process_signal(tr_process *p, int sig)
{
	CHECK_HANDLE(p);
	tr_assert_return(p->state != ST_NEW, -EINVAL);
	if (p->state == ST_EXITED || p->pidfd < 0) {
		return 0;
	}
	return tri_pidfd_signal(p->pidfd, sig);
}

int
tr_process_terminate(tr_process *p)
{
	return tr_process_signal(p, SIGTERM);
}

int
tr_process_kill(tr_process *p)
{
	return tr_process_signal(p, SIGKILL);
}

int
tr_process_exitcode(tr_process *p, int *ret)
{
	CHECK_HANDLE(p);
	tr_assert_return(ret, -EINVAL);
	tr_assert_return(p->state != ST_NEW, -EINVAL);
	if (p->state == ST_RUNNING && reap(p) <= 0) {
		return TR_ERUNNING;
	}
	*ret = p->exitcode;
	return 0;
}

pid_t
tr_process_pid(tr_process *p)
{
	return p ? p->pid : 0;
}

const char *
tr_process_name(tr_process *p)
{
	return p ? p->name : "";
}

const char *
tr_process_actor(tr_process *p)
{
	return p ? p->actor : "";
}

bool
tr_process_is_daemon(tr_process *p)
{
	return p && p->daemon;
}

int
tr_process_start_method(tr_process *p)
{
	return p ? p->method : -EINVAL;
}

const char *
tr_process_reason(tr_process *p)
{
	return p ? p->reason : "";
}

int
tr_process_start_error(tr_process *p)
{
	return p ? p->start_error : 0;
}

int
tr_process_sentinel(tr_process *p)
{
	CHECK_HANDLE(p);
	tr_assert_return(p->state != ST_NEW, -EINVAL);
	return sentinel(p);
}

uint64_t
tri_process_incarnation(tr_process *p)
{
	if (p->incarnation == 0 && p->state == ST_RUNNING) {
		(void) tri_proc_starttime(p->pid, &p->incarnation, NULL);
	}
	return p->incarnation;
}

/* Every handle of this process, joined or not: a fork child closes the
 * descriptors of all of them. */
static tr_process *handles;

static void
handles_add(tr_process *p)
{
	list_lock();
	p->hprev = NULL;
	p->hnext = handles;
	if (handles) {
		handles->hprev = p;
	}
	handles = p;
	list_unlock();
}

static void
handles_del(tr_process *p)
{
	if (p->owner != tri_getpid()) {
		return; /* a fork child's copy: on the parent's list, not ours
		         */
	}
	list_lock();
	if (p->hprev) {
		p->hprev->hnext = p->hnext;
	} else if (handles == p) {
		handles = p->hnext;
	}
	if (p->hnext) {
		p->hnext->hprev = p->hprev;
	}
	list_unlock();
}

static void
release(tr_process *p)
{
	handles_del(p);
	if (p->owner == tri_getpid()) {
		tri_fdpass_clear(p->pass_fd, &p->npass);
	}
	if (p->pidfd >= 0) {
		tri_pidfd_close(p->pidfd);
	}
	if (p->status_fd >= 0) {
		close(p->status_fd);
	}
	tri_free(p->args);
	tri_free(p);
}

int
tr_process_close(tr_process **pp)
{
	tr_assert_return(pp, -EINVAL);
	if (!*pp) {
		return 0;
	}
	CHECK_HANDLE(*pp);
	if (tr_process_is_alive(*pp)) {
		return TR_ERUNNING;
	}
	release(*pp);
	*pp = NULL;
	return 0;
}

void
tr_process_destroy(tr_process **pp)
{
	tr_process *p;

	if (!pp || !*pp) {
		return;
	}
	p   = *pp;
	*pp = NULL;
	if (p->owner == tri_getpid() && p->state == ST_RUNNING) {
		(void) tr_process_kill(p);
		(void) tr_process_join(p, TR_TIMEOUT_INFINITE);
		list_del(p);
	} else if (p->owner != tri_getpid()) {
		/* a fork child's copy: the parent owns the real child */
		p->pidfd = p->status_fd = -1;
	}
	release(p);
}

/* In a new child: the parent's children are not ours.  Close our copies
 * of their descriptors (without touching the processes) and forget them;
 * the handles themselves stay with whoever owns them. */
void
tri_process_forget_all(void)
{
	pthread_mutex_t fresh = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;

	/* another thread may have held it at the fork */
	list_mutex = fresh;
	/* a supervisor's child inherits a descriptor per sibling, mostly
	 * numbered in a row: closed a run at a time (one system call per
	 * sibling made every start cost more with more children) */
	struct tri_fd_run run = { -1, -1 };

	/* and the handles are only read: a write to each would copy its
	 * page (a supervisor's child copied a page per sibling); being the
	 * parent's (owner), they are never used here again but freed */
	for (const tr_process *p = handles; p; p = p->hnext) {
		tri_fd_run_add(&run, p->pidfd); /* emulated: plain fds here */
		tri_fd_run_add(&run, p->status_fd);
	}
	tri_fd_run_close(&run);
	handles         = NULL;
	tri_rt.children = NULL;
	nchildren       = 0;
	starts_unswept  = 0;
}

/* What a start reaps first, at a cost that does not grow with the number
 * of children running: one waitid() tells whether any child of ours is a
 * zombie (the exit of a fork or spawn child), and only then is the list
 * swept; forkserver children leave no zombie here (the server reaps them),
 * so the list is also swept once every nchildren / 16 starts, which keeps
 * the work per start constant on average. */
static void
reap_exited_nowait(void)
{
	siginfo_t si;
	bool      zombie;

	memset(&si, 0, sizeof(si));
	zombie = waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) == 0
	    ? si.si_pid != 0
	    : errno != ECHILD;
	if (!zombie && ++starts_unswept < nchildren / 16) {
		tri_forkserver_reap();
		return;
	}
	starts_unswept = 0;
	tri_process_reap_all_nowait();
}

void
tri_process_reap_all_nowait(void)
{
	tr_process *p, *next;

	list_lock();
	for (p = tri_rt.children; p; p = next) {
		next = p->next;
		(void) reap(p);
	}
	list_unlock();
	tri_forkserver_reap();
}

int
tr_active_children(void)
{
	int n = 0;

	tri_process_reap_all_nowait();
	for (tr_process *p = tri_rt.children; p; p = p->next) {
		n++;
	}
	return n;
}

/* At exit, as Python: daemon children are terminated (killed if they
 * ignore SIGTERM for a second), the others joined. */
void
tri_children_cleanup(void)
{
	tr_process *p, *next;

	for (p = tri_rt.children; p; p = p->next) {
		if (p->daemon) {
			(void) tr_process_terminate(p);
		}
	}
	for (p = tri_rt.children; p; p = next) {
		next = p->next;
		if (p->daemon && tr_process_join(p, 1000) == -ETIMEDOUT) {
			(void) tr_process_kill(p);
		}
		(void) tr_process_join(p, TR_TIMEOUT_INFINITE);
	}
}
