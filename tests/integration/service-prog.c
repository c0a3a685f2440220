/* SPDX-License-Identifier: MIT */
/* A minimal service for test-service: a tree of workers that append
 * "start <id> <pid>" and "stop <id> <pid>" to the file $SVC_LOG.
 *
 *   root (one_for_one)
 *   |- a
 *   |- b
 *   |- sub (one_for_one)
 *   |  |- c
 *   |  `- d
 *   `- e
 *
 * Usage: service-prog run    the tree runs here (tr_supervisor_run())
 *        service-prog start  the tree runs in a child (tr_supervisor_start());
 *                            a stop signal destroys the handle
 * With SVC_SLOW=1, a takes a minute to stop (shutdown infinity): only a
 * second signal ends the shutdown.  Prints "main <pid> tracker <pid>" and,
 * for start, "root <pid>" at start, then "summary: <what>" at the end.
 * It also makes a file $SVC_LOG.tracked and a shared-memory object
 * /trsvc-<pid>, registered with the run's tracker, which must remove them
 * when the run is over however it ends. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "tracker.h" /* tri_tracker_pid(): the test looks for it too */
#include "troupe.h"

static volatile sig_atomic_t stopping;

static void
on_sigterm(int sig)
{
	(void) sig;
	stopping = 1;
}

static void
note(const char *what, const char *id)
{
	char line[128];
	int  n = snprintf(
	     line, sizeof(line), "%s %s %d\n", what, id, (int) getpid());
	int fd = open(
	    getenv("SVC_LOG"), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);

	if (fd >= 0) {
		(void) write(fd, line, (size_t) n);
		close(fd);
	}
}

static int
svc_worker(const void *args, size_t len)
{
	struct sigaction sa   = { .sa_handler = on_sigterm };
	const char      *slow = getenv("SVC_SLOW");

	(void) sigaction(SIGTERM, &sa, NULL);
	note("start", args);
	(void) tr_ready(); /* after the note: the log is in start order */
	while (!stopping) {
		(void) pause();
	}
	if (slow && strcmp(slow, "1") == 0 && strcmp(args, "a") == 0) {
		note("stopping", args);
		sleep(60); /* only a kill ends this */
	}
	note("stop", args);
	return 0;
}
TR_ACTOR_FLAGS(svc_worker, svc_worker, TR_ACTOR_MANUAL_READY)

static void
worker_spec(tr_child_spec *c, const char *id)
{
	tr_child_spec_init(c, id, "svc_worker");
	c->args = id;
	c->len  = strlen(id);
}

/* The tree's spec; *ret_sub is the packed spec of sub (free() it). */
static int
tree(tr_sup_spec *root, tr_child_spec top[4], void **ret_sub)
{
	static tr_child_spec cd[2];
	tr_sup_spec          sub;
	int                  r;

	worker_spec(&cd[0], "c");
	worker_spec(&cd[1], "d");
	tr_sup_spec_init(&sub);
	sub.children  = cd;
	sub.nchildren = 2;
	worker_spec(&top[0], "a");
	worker_spec(&top[1], "b");
	tr_child_spec_init(&top[2], "sub", TR_SUP_ACTOR);
	top[2].type = TR_CHILD_SUPERVISOR;
	r           = tr_sup_spec_pack(&sub, ret_sub, &top[2].len);
	if (r < 0) {
		return r;
	}
	top[2].args = *ret_sub;
	worker_spec(&top[3], "e");
	if (getenv("SVC_SLOW")) {
		top[0].shutdown_ms = TR_SHUTDOWN_INFINITY;
	}
	tr_sup_spec_init(root);
	root->name      = "root";
	root->children  = top;
	root->nchildren = 4;
	return 0;
}

static int
run_here(const tr_sup_spec *root)
{
	int r = tr_supervisor_run(root);

	printf("summary: %s\n", r == 0 ? "stopped in order" : tr_strerror(r));
	return r == 0 ? 0 : 1;
}

/* Start the tree in a child; on a stop signal destroy the handle (an
 * ordered stop).  If the root dies, say so and wait for the signal. */
static int
run_started(const tr_sup_spec *root)
{
	tr_supervisor *s;
	sigset_t       set;
	bool           said = false;
	int            r;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	(void) sigprocmask(SIG_BLOCK, &set, NULL);
	r = tr_supervisor_start(&s, root, 10000);
	if (r < 0) {
		printf("summary: start failed: %s\n", tr_strerror(r));
		return 1;
	}
	printf("root %d\n", (int) tr_supervisor_pid(s));
	for (;;) {
		struct timespec ts = { 0, 100 * 1000 * 1000 };

		if (sigtimedwait(&set, NULL, &ts) > 0) {
			break;
		}
		if (!said && tr_supervisor_join(s, 0) == 0) {
			printf("root died\n");
			said = true;
		}
	}
	tr_supervisor_destroy(&s);
	printf("summary: %s\n", said ? "root had died" : "destroyed");
	return 0;
}

/* What the tracker must remove: registered first, then made. */
static void
make_tracked(void)
{
	char path[4096], shm[64];
	int  fd;

	snprintf(path, sizeof(path), "%s.tracked", getenv("SVC_LOG"));
	snprintf(shm, sizeof(shm), "/trsvc-%d", (int) getpid());
	if (tri_tracker_register(TRI_TRACK_FILE, path) == 0) {
		fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
		close(fd);
	}
	if (tri_tracker_register(TRI_TRACK_SHM, shm) == 0) {
		fd = shm_open(shm, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		close(fd);
	}
}

int
main(int argc, char **argv)
{
	tr_child_spec top[4];
	tr_sup_spec   root;
	void         *sub = NULL;
	int           r;

	if (tr_init(argc, argv) < 0 || argc < 2 || !getenv("SVC_LOG")) {
		fprintf(stderr, "usage: SVC_LOG=file service-prog run|start\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	make_tracked();
	printf("main %d tracker %d\n", (int) getpid(), (int) tri_tracker_pid());
	r = tree(&root, top, &sub);
	if (r == 0) {
		r = strcmp(argv[1], "run") == 0 ? run_here(&root)
		                                : run_started(&root);
	}
	free(sub);
	return r;
}
