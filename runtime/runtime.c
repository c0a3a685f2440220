/* SPDX-License-Identifier: MIT */
/* tr_init(), the runtime directory, a child's life from boot to exit. */
#include "runtime.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <protobuf-c/protobuf-c.h>

#include "alloc.h"
#include "exitlog.h"
#include "fdpass.h"
#include "fds.h"
#include "forkserver.h"
#include "log.h"
#include "mailbox.h"
#include "process.h"
#include "registry.h"
#include "trace.h"
#include "tracker.h"
#include "troupe.pb-c.h"
#include "util.h"

struct tri_rt tri_rt = {
	.ready_fd = -1, .forkserver_fd = -1, .tracker_fd = -1
};

static void
rmdir_recursive(const char *path)
{
	DIR           *d = opendir(path);
	struct dirent *e;

	if (!d) {
		return;
	}
	while ((e = readdir(d))) {
		char sub[PATH_MAX];

		if (strcmp(e->d_name, ".") == 0 ||
		    strcmp(e->d_name, "..") == 0) {
			continue;
		}
		snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
		if (e->d_type == DT_DIR) {
			rmdir_recursive(sub);
		} else {
			(void) unlink(sub);
		}
	}
	closedir(d);
	(void) rmdir(path);
}

/* The one teardown order, for the main program's exit and an actor's:
 * take all mail (what is still sent can never be read, and children we
 * join below may be sending), terminate daemon children and join the
 * others (as Python does), the exit handshake (our recipients took in what
 * we sent), close the mailbox, stop the forkserver, and in the main
 * program remove the runtime directory.  A child's teardown wedged for 5 s
 * after the handshake is ended by a watchdog. */
static void
teardown(bool watchdog)
{
	tri_msg_exiting();
	tri_children_cleanup();
	tri_msg_exit_handshake(); /* bounded by the linger, if one is set */
	if (watchdog) {
		(void) signal(SIGALRM, SIG_DFL);
		alarm(5);
	}
	tri_msg_shutdown();
	tri_forkserver_forget();
	if (tri_rt.own_rundir && getpid() == tri_rt.root) {
		tri_trace_finish_root();
		rmdir_recursive(tri_rt.rundir);
		tri_rt.own_rundir = false;
	}
}

/* Exit handler of the main program (and of a child that calls exit()
 * after its barrier ran: nothing is left to do then). */
static void
at_exit(void)
{
	if (!tri_rt.inited) {
		return;
	}
	if (getpid() != tri_rt.pid) {
		return; /* a fork child of a non-troupe fork: not ours */
	}
	teardown(false);
}

void
tri_runtime_abort_cleanup(void)
{
	if (tri_rt.own_rundir && getpid() == tri_rt.root) {
		rmdir_recursive(tri_rt.rundir);
	}
}

static int
make_rundir(void)
{
	const char *base = getenv("TROUPE_RUNTIME_DIR");
	char        tmpl[PATH_MAX];
	int         r;

	if (!base || !base[0]) {
		base = getenv("XDG_RUNTIME_DIR");
	}
	if (!base || !base[0] || access(base, W_OK) != 0) {
		base = "/tmp";
	}
	/* sun_path holds 108 bytes: keep the base short */
	if (strlen(base) > 60) {
		base = "/tmp";
	}
	snprintf(
	    tmpl, sizeof(tmpl), "%s/troupe-%d-XXXXXX", base, (int) getpid());
	if (!mkdtemp(tmpl)) { /* mkdtemp creates it with mode 0700 */
		return -errno;
	}
	tri_strlcpy(tri_rt.rundir, tmpl, sizeof(tri_rt.rundir));
	tri_rt.own_rundir = true;
	tri_rt.root       = getpid();
	/* the directory goes when the run does, however it ends; without a
	 * tracker, only a normal exit removes it (and `troupe clean`) */
	r = tri_tracker_start(tri_rt.rundir);
	if (r < 0) {
		tri_debug(
		    "no tracker for %s: %s", tri_rt.rundir, tr_strerror(r));
	}
	return 0;
}

/* A spawned child or forkserver keeps the run's tracker socket it was
 * handed (tracker.c): it is a process of the run. */
static void
adopt_tracker_fd(int fd)
{
	if (fd > 2) {
		(void) fcntl(fd, F_SETFD, FD_CLOEXEC);
		tri_rt.tracker_fd = fd;
	}
}

static int
boot_fd_from_env(const char *v, int *boot_fd, int *ready_fd, int *tracker_fd)
{
	*tracker_fd = -1;
	if (sscanf(v, "%d:%d:%d", boot_fd, ready_fd, tracker_fd) < 2 ||
	    *boot_fd < 0 || *ready_fd < 0) {
		return -EINVAL;
	}
	return 0;
}

/* TROUPE_FORKSERVER is "FD" or "FD:TRACKER-FD" (forkserver.c), FD a
 * socket: anything else is not ours (and a server polling a descriptor
 * that is not open would spin). */
static bool
forkserver_fd_ok(const char *v, int *fd, int *tracker_fd)
{
	struct stat st;

	return sscanf(v, "%d:%d", fd, tracker_fd) >= 1 && *fd > 2 &&
	    fstat(*fd, &st) == 0 && S_ISSOCK(st.st_mode);
}

/* A child made by TR_START_SPAWN: the parent exec'd us with the boot
 * description in a memfd, the ready pipe, the run's tracker socket (if
 * there is a tracker) and the descriptors handed to us, all named in
 * TROUPE_BOOT (the handed ones, last, are named in the boot record too:
 * without a tracker, the first of them is not it). */
static _Noreturn void
spawn_child(const char *env)
{
	struct tri_boot b;
	int             boot_fd, ready_fd, tracker_fd, r;

	r = boot_fd_from_env(env, &boot_fd, &ready_fd, &tracker_fd);
	if (r == 0) {
		(void) fcntl(boot_fd, F_SETFD, FD_CLOEXEC);
		(void) fcntl(ready_fd, F_SETFD, FD_CLOEXEC);
		r = tri_boot_read_fd(boot_fd, &b);
		close(boot_fd);
	}
	if (r < 0) {
		fprintf(stderr,
		    "troupe: bad TROUPE_BOOT in spawned child: %s\n",
		    tr_strerror(r));
		_exit(70);
	}
	if (b.npass == 0 || tracker_fd != b.pass_fd[0]) {
		adopt_tracker_fd(tracker_fd);
	}
	(void) unsetenv("TROUPE_BOOT");
	tri_child_main(&b, ready_fd);
}

int
tr_init(int argc, char **argv)
{
	const char *env;
	int         r;

	(void) argc;
	if (tri_rt.inited) {
		return 0;
	}
	tri_rt.argv = argv;
	tri_rt.pid  = getpid();
	tri_rt.ppid = getppid();
	(void) tr_log_level();

	env = getenv("TROUPE_FORKSERVER");
	if (env) {
		int fd = -1, tracker_fd = -1;

		if (!forkserver_fd_ok(env, &fd, &tracker_fd)) {
			fprintf(stderr,
			    "troupe: bad TROUPE_FORKSERVER '%s' (not a "
			    "troupe forkserver's socket)\n",
			    env);
			_exit(70);
		}
		adopt_tracker_fd(tracker_fd);
		(void) unsetenv("TROUPE_FORKSERVER");
		tri_rt.inited = true;
		tri_forkserver_main(fd);
	}
	env = getenv("TROUPE_BOOT");
	if (env) {
		tri_rt.inited = true;
		spawn_child(env);
	}
	r = make_rundir();
	if (r < 0) {
		return r;
	}
	r = tri_exitlog_init();
	if (r == 0) {
		r = tri_trace_init_root(tri_rt.rundir);
	}
	if (r < 0) {
		rmdir_recursive(tri_rt.rundir);
		return r;
	}
	tri_strlcpy(tri_rt.name, "MainProcess", sizeof(tri_rt.name));
	tri_rt.inited = true;
	atexit(at_exit);
	return 0;
}

const char *
tr_runtime_dir(void)
{
	return tri_rt.inited ? tri_rt.rundir : NULL;
}

int
tr_cpu_count(void)
{
	cpu_set_t set;
	int       n;

	if (sched_getaffinity(0, sizeof(set), &set) == 0) {
		n = CPU_COUNT(&set);
		if (n > 0) {
			return n;
		}
	}
	n = (int) sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? n : 1;
}

/* ---- boot description ---------------------------------------------------- */

int
tri_boot_encode(const struct tri_boot *b, uint8_t **ret, size_t *ret_len)
{
	Trwire__Boot m = TRWIRE__BOOT__INIT;
	uint8_t     *buf;
	size_t       n;

	m.actor           = (char *) b->actor;
	m.name            = (char *) b->name;
	m.identity        = (char *) b->identity;
	m.args.data       = b->args;
	m.args.len        = b->len;
	m.daemon          = b->daemon;
	m.parent_pid      = (uint32_t) b->parent;
	m.log_level       = b->log_level;
	m.eager_mailbox   = b->eager_mailbox;
	m.rundir          = (char *) b->rundir;
	m.ignored_signals = b->ignored;
	m.n_pass_fds      = b->npass;
	m.pass_fds        = (int32_t *) b->pass_fd;
	m.n_pass_tags     = b->npass;
	m.pass_tags       = (uint32_t *) b->pass_tag;
	n                 = trwire__boot__get_packed_size(&m);
	buf               = tri_alloc(n ? n : 1);
	if (!buf) {
		return -ENOMEM;
	}
	trwire__boot__pack(&m, buf);
	*ret     = buf;
	*ret_len = n;
	return 0;
}

int
tri_boot_decode(const uint8_t *buf, size_t len, struct tri_boot *b)
{
	Trwire__Boot *m = trwire__boot__unpack(&tri_pb_allocator, len, buf);
	int           r = 0;

	if (!m) {
		return TR_EBADFRAME;
	}
	memset(b, 0, sizeof(*b));
	if (strlen(m->actor) >= TRI_NAME_MAX ||
	    strlen(m->name) >= TRI_NAME_MAX ||
	    strlen(m->identity) >= TRI_NAME_MAX ||
	    strlen(m->rundir) >= sizeof(b->rundir)) {
		r = -ENAMETOOLONG;
		goto out;
	}
	tri_strlcpy(b->actor, m->actor, sizeof(b->actor));
	tri_strlcpy(b->name, m->name, sizeof(b->name));
	tri_strlcpy(b->identity, m->identity, sizeof(b->identity));
	tri_strlcpy(b->rundir, m->rundir, sizeof(b->rundir));
	b->daemon        = m->daemon;
	b->parent        = (pid_t) m->parent_pid;
	b->starter       = b->parent;
	b->ignored       = m->ignored_signals;
	b->log_level     = m->log_level;
	b->eager_mailbox = m->eager_mailbox;
	if (m->n_pass_fds > TRI_PASS_MAX || m->n_pass_tags != m->n_pass_fds) {
		r = TR_EBADFRAME;
		goto out;
	}
	b->npass = m->n_pass_fds;
	for (size_t i = 0; i < b->npass; i++) {
		if (m->pass_fds[i] < 3) {
			r = TR_EBADFRAME;
			goto out;
		}
		b->pass_fd[i]  = m->pass_fds[i];
		b->pass_tag[i] = m->pass_tags[i];
	}
	b->len  = m->args.len;
	b->args = tri_alloc(b->len + 1);
	if (!b->args) {
		r = -ENOMEM;
		goto out;
	}
	if (b->len) {
		memcpy(b->args, m->args.data, b->len);
	}
	((char *) b->args)[b->len] = '\0'; /* as tr_process_new() */
out:
	trwire__boot__free_unpacked(m, &tri_pb_allocator);
	return r;
}

int
tri_boot_read_fd(int fd, struct tri_boot *b)
{
	struct stat st;
	uint8_t    *buf;
	int         r;

	if (fstat(fd, &st) < 0) {
		return -errno;
	}
	if (st.st_size <= 0 || st.st_size > (1 << 30)) {
		return TR_EBADFRAME;
	}
	buf = tri_alloc((size_t) st.st_size);
	if (!buf) {
		return -ENOMEM;
	}
	r = tri_read_all(fd, buf, (size_t) st.st_size);
	if (r == 0) {
		r = tri_boot_decode(buf, (size_t) st.st_size, b);
	}
	tri_free(buf);
	return r;
}

void
tri_boot_free(struct tri_boot *b)
{
	tri_free(b->args);
	b->args = NULL;
}

/* ---- a child's life ------------------------------------------------------ */

/* Tell the starter how init went: "R" for running, or "E" + a packed
 * trwire.Ready with the error and the reason. */
static int
report(int err, const char *reason)
{
	Trwire__Ready m = TRWIRE__READY__INIT;
	uint8_t       buf[TRI_REASON_MAX + 32];
	size_t        n;
	int           r;

	if (tri_rt.ready_fd < 0) {
		return 0;
	}
	if (err == 0) {
		r = tri_write_all(tri_rt.ready_fd, "R", 1);
	} else {
		m.error  = err;
		m.reason = (char *) reason;
		buf[0]   = 'E';
		n        = trwire__ready__pack(&m, buf + 1);
		r        = tri_write_all(tri_rt.ready_fd, buf, n + 1);
	}
	close(tri_rt.ready_fd);
	tri_rt.ready_fd = -1;
	return r;
}

int
tr_ready(void)
{
	return report(0, NULL);
}

int
tr_fail(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(tri_rt.fail_reason, sizeof(tri_rt.fail_reason), fmt, ap);
	va_end(ap);
	tri_rt.fail_err = err;
	return err;
}

/* Every signal this process has a handler for goes back to the default. */
static void
reset_caught_signals(void)
{
	uint64_t mask   = ~(uint64_t) 0; /* all if /proc cannot tell */
	int      fdsize = 0;

	/* the same read tells how far the descriptors go */
	if (tri_proc_sigmask_fdsize("SigCgt", &mask, &fdsize) == 0) {
		tri_fds_set_bound(fdsize);
	}
	for (int s = 1; s < NSIG && s <= 64; s++) {
		if ((mask >> (s - 1) & 1) && s != SIGKILL && s != SIGSTOP) {
			(void) signal(s, SIG_DFL);
		}
	}
}

/* In a new child, whatever the start method: forget the parent's
 * children, forkserver and ZeroMQ state without touching them. */
void
tri_child_reset(void)
{
	sigset_t none;

	tri_process_forget_all();
	tri_rt.child_counter = 0;
	tri_forkserver_drop();
	tri_rt.own_rundir = false;
	tri_rt.is_child   = true;
	tri_rt.pid        = tri_getpid();
	tri_msg_forked();
	tri_trace_forked();
	/* The parent's handlers and mask are not the actor's: a crash
	 * handler (a test harness's, say) would change a SIGSEGV's exit
	 * code, a supervisor blocks SIGTERM for its signalfd.  Handlers go
	 * back to the default; ignored signals stay ignored, as across
	 * exec.  The kernel lists the caught ones, which saves a system call
	 * for each of the 64 signals on every start. */
	reset_caught_signals();
	sigemptyset(&none);
	(void) sigprocmask(SIG_SETMASK, &none, NULL);
}

static _Noreturn void
child_finish(int code)
{
	tri_trace_exit(code);
	teardown(true);
	fflush(NULL);
	_exit(code);
}

static bool barrier_set, exiting;

/* Registered first thing in a child, so exit() runs the handlers the
 * actor registered (after this one) and then this, which ends the process
 * before the handlers inherited from the parent or from main before
 * tr_init() (registered earlier) can run.  A raw fork() child of the
 * actor is not ours: its exit() goes on as usual. */
static void
child_exit_barrier(int status, void *arg)
{
	(void) arg;
	if (tri_getpid() == tri_rt.pid) {
		exiting = true;
		child_finish(status);
	}
}

static _Noreturn void
child_exit(int code)
{
	if (barrier_set && !exiting) {
		exiting = true; /* tr_exit() from a handler: no second exit() */
		exit(code);
	}
	child_finish(code);
}

/* The body returned r before it reported running: its init failed, or it
 * answered TR_EIGNORE (nothing to run: a clean exit).  The starter learns
 * the error and why; the exit code is the body's (1 for an error). */
static _Noreturn void
returned_before_ready(int r)
{
	char why[TRI_REASON_MAX];

	if (tri_rt.fail_reason[0]) {
		tri_strlcpy(why, tri_rt.fail_reason, sizeof(why));
	} else if (r < 0) {
		tri_strlcpy(why, tr_strerror(r), sizeof(why));
	} else {
		snprintf(why, sizeof(why),
		    "returned %d before it reported running", r);
	}
	(void) report(r < 0 ? r : TR_ESTARTFAIL, why);
	if (r == TR_EIGNORE) {
		child_exit(0);
	}
	child_exit(r < 0 ? 1 : r > 255 ? 255 : r);
}

_Noreturn void
tri_child_main(struct tri_boot *from, int ready_fd)
{
	/* The boot record lives on the stack of the thread that called
	 * tr_process_start(); a fork child has only the thread that forked
	 * (the runtime thread), and glibc hands the missing threads' stacks
	 * to the next pthread_create(): the child's own runtime thread would
	 * overwrite the record (an eager mailbox lost its arguments when
	 * started from a thread other than main).  The child's copy. */
	static struct tri_boot boot;
	struct tri_boot       *b = &boot;
	tr_actor_fn            fn;
	int                    flags = 0, r;

	boot = *from;

	/* Order matters: die with the parent first (and catch a parent that
	 * died before prctl), then take on the child's identity, then find
	 * the actor, report, and run it. */
	(void) prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != b->parent) {
		_exit(128 + SIGKILL);
	}
	tri_child_reset();
	tri_fdpass_adopt(b); /* pipe ends: only those handed over stay */
	barrier_set     = on_exit(child_exit_barrier, NULL) == 0;
	tri_rt.ppid     = b->starter;
	tri_rt.ready_fd = ready_fd;
	tri_rt.daemon   = b->daemon;
	tri_strlcpy(tri_rt.name, b->name, sizeof(tri_rt.name));
	tri_strlcpy(tri_rt.identity, b->identity, sizeof(tri_rt.identity));
	tri_strlcpy(tri_rt.actor, b->actor, sizeof(tri_rt.actor));
	if (b->rundir[0]) {
		tri_strlcpy(tri_rt.rundir, b->rundir, sizeof(tri_rt.rundir));
	}
	tri_trace_init_child(tri_rt.rundir);
	tr_log_set_level(b->log_level);
	(void) prctl(PR_SET_NAME, b->name);
	tri_rt.args     = b->args;
	tri_rt.args_len = b->len;

	r = tri_actor_lookup(b->actor, &fn, &flags);
	if (r < 0) {
		char why[TRI_REASON_MAX];

		snprintf(why, sizeof(why), "no actor registered as '%s'",
		    tri_rt.actor);
		(void) report(r, why);
		child_exit(1);
	}
	/* the parent's ZeroMQ descriptors go before the child makes its
	 * own; unless it binds now, after the start was reported (off the
	 * starter's wait) */
	if (b->eager_mailbox) {
		tri_fds_close_inherited();
		r = tri_msg_bind_eager();
		if (r < 0) {
			(void) report(r, "could not bind the mailbox");
			child_exit(1);
		}
	}
	tri_rt.manual_ready = flags & TR_ACTOR_MANUAL_READY;
	if (!tri_rt.manual_ready) {
		(void) report(0, NULL);
	}
	tri_fds_close_inherited(); /* a no-op the second time */
	r = fn(b->args, b->len);
	if (tri_rt.ready_fd >= 0) {
		returned_before_ready(r);
	}
	if (r < 0) {
		tr_log(TR_LOG_ERROR, "actor '%s' failed: %s", b->actor,
		    tri_rt.fail_reason[0] ? tri_rt.fail_reason
		                          : tr_strerror(r));
		child_exit(1);
	}
	child_exit(r > 255 ? 255 : r);
}

_Noreturn void
tr_exit(int code)
{
	if (code < 0 || code > 255) {
		code = 255;
	}
	if (tri_rt.is_child && getpid() == tri_rt.pid) {
		char why[64];

		snprintf(why, sizeof(why),
		    "actor exited with code %d before it was ready", code);
		(void) report(TR_ESTARTFAIL, why);
		child_exit(code);
	}
	exit(code);
}

const char *
tr_self_name(void)
{
	return tri_rt.name[0] ? tri_rt.name : "MainProcess";
}

pid_t
tr_self_pid(void)
{
	return tri_getpid(); /* cached: no system call (util.c) */
}

pid_t
tr_self_parent_pid(void)
{
	/* a forkserver child's real parent is the forkserver */
	return tri_rt.is_child ? tri_rt.ppid : getppid();
}

const char *
tr_self_actor(void)
{
	return tri_rt.actor[0] ? tri_rt.actor : NULL;
}

bool
tr_self_is_daemon(void)
{
	return tri_rt.daemon;
}
