/* SPDX-License-Identifier: MIT */
/* Liveness of local actors: pidfds, /proc and the run's exit log. */
#include "liveness.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exitlog.h"
#include "pidfd.h"
#include "rlive.h"
#include "util.h"

int
tri_live_open(tr_addr a)
{
	int fd;

	/* this run's own actor in its node-global form (handed over in a
	 * payload) is watched here: the agent would forward a watch of it
	 * to no node */
	a = tri_node_localize(a);
	if (a.node != 0) {
		return tri_rlive_open(a); /* through the node agent */
	}
	fd = tri_pidfd_open((pid_t) a.pid);
	if (fd < 0) {
		return fd;
	}
	if (!tr_addr_is_alive(a)) {
		tri_pidfd_close(fd);
		return -ESRCH;
	}
	return fd;
}

void
tri_live_close(int fd)
{
	if (tri_rlive_owns(fd)) {
		tri_rlive_close(fd);
		return;
	}
	tri_pidfd_close(fd);
}

/* A zombie's wait status, from /proc/PID/stat field 52 (Linux >= 3.5). */
static int
zombie_status(tr_addr a, int *ret_code)
{
	char     path[64], buf[1024], *p;
	FILE    *f;
	uint64_t st;
	char     state;
	int      status, field;

	if (tri_proc_starttime((pid_t) a.pid, &st, &state) < 0 ||
	    st != a.incarnation || state != 'Z') {
		return -ESRCH;
	}
	snprintf(path, sizeof(path), "/proc/%" PRIu32 "/stat", a.pid);
	f = fopen(path, "re");
	if (!f) {
		return -ESRCH;
	}
	p = fgets(buf, sizeof(buf), f);
	fclose(f);
	p = p ? strrchr(buf, ')') : NULL;
	for (field = 2; p && field < 52; field++) {
		p = strchr(p + 1, ' ');
	}
	if (!p || sscanf(p + 1, "%d", &status) != 1) {
		return -EIO;
	}
	*ret_code = tri_exitcode_from_status(status);
	return 0;
}

void
tri_live_learn_exit(tr_addr a, int fd, int *ret_code, int *ret_class)
{
	siginfo_t si;

	if (a.node != 0 && tri_rlive_owns(fd)) {
		tri_rlive_learn_exit(fd, ret_code, ret_class);
		return;
	}
	memset(&si, 0, sizeof(si));
	if (fd >= 0 &&
	    tri_pidfd_waitid(fd, &si, WEXITED | WNOHANG | WNOWAIT) == 0 &&
	    si.si_pid != 0) {
		*ret_code =
		    si.si_code == CLD_EXITED ? si.si_status : -si.si_status;
		*ret_class = tri_exit_class(*ret_code);
		return;
	}
	for (int i = 0; i < 50; i++) {
		if (zombie_status(a, ret_code) == 0 ||
		    tri_exitlog_get((pid_t) a.pid, a.incarnation, ret_code) ==
		        0) {
			*ret_class = tri_exit_class(*ret_code);
			return;
		}
		usleep(2000); /* the reaper is between reap and log */
	}
	*ret_code  = 0;
	*ret_class = TR_EXIT_UNKNOWN;
}
