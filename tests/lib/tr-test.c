/* SPDX-License-Identifier: MIT */
#include "tr-test.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int64_t
tr_test_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
tr_test_dir_count(const char *path)
{
	DIR           *d = opendir(path);
	struct dirent *e;
	int            n = 0;

	if (!d) {
		return -1;
	}
	while ((e = readdir(d))) {
		if (e->d_name[0] != '.') {
			n++;
		}
	}
	closedir(d);
	return n;
}

int
tr_test_fd_count(void)
{
	/* minus the descriptor opendir() itself holds */
	return tr_test_dir_count("/proc/self/fd") - 1;
}

int
tr_test_rundir_count(void)
{
	return tr_test_dir_count(tr_runtime_dir());
}

/* Whether the /proc/<pid>/stat line buf is a child of parent that flags
 * asks for. */
static bool
child_matches(const char *buf, pid_t parent, int flags)
{
	const char *p = strrchr(buf, ')');
	char        state;
	int         ppid;

	if (!p || sscanf(p + 2, "%c %d", &state, &ppid) != 2 ||
	    ppid != parent) {
		return false;
	}
	if ((flags & TR_TEST_CHILD_NO_FORKSERVER) &&
	    strstr(buf, "(troupe-fksrv)")) {
		return false;
	}
	return (flags &
	    (state == 'Z' ? TR_TEST_CHILD_ZOMBIE : TR_TEST_CHILD_RUNNING));
}

int
tr_test_children(pid_t parent, int flags, pid_t *pids, int max)
{
	DIR           *d = opendir("/proc");
	struct dirent *e;
	int            n = 0;

	while (d && (e = readdir(d)) && (!pids || n < max)) {
		char  path[300], buf[512];
		FILE *f;

		if (e->d_name[0] < '0' || e->d_name[0] > '9') {
			continue;
		}
		snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
		f = fopen(path, "r");
		if (!f) {
			continue;
		}
		if (fgets(buf, sizeof(buf), f) &&
		    child_matches(buf, parent, flags)) {
			if (pids) {
				pids[n] = (pid_t) atoi(e->d_name);
			}
			n++;
		}
		fclose(f);
	}
	if (d) {
		closedir(d);
	}
	return n;
}

int
tr_test_zombie_count(void)
{
	return tr_test_children(getpid(), TR_TEST_CHILD_ZOMBIE, NULL, 0);
}

int
tr_test_child_count(void)
{
	return tr_test_children(getpid(), TR_TEST_CHILD_RUNNING, NULL, 0);
}

int
tr_test_child_info(tr_supervisor *s, const char *id, tr_child_info *ret)
{
	tr_child_info *v;
	size_t         n;
	int            r = tr_supervisor_which_children(s, &v, &n, 5000);

	if (r < 0) {
		return r;
	}
	r = 0;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(v[i].id, id) == 0) {
			*ret = v[i];
			r    = 1;
		}
	}
	free(v);
	return r;
}

int
tr_test_pid_alive(pid_t pid)
{
	char  path[64], buf[512];
	FILE *f;
	int   alive = 0;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int) pid);
	f = fopen(path, "r");
	if (!f) {
		return 0;
	}
	if (fgets(buf, sizeof(buf), f)) {
		char *p = strrchr(buf, ')');

		alive = p && p[2] != 'Z' && p[2] != 'X';
	}
	fclose(f);
	return alive;
}

int
tr_test_wait_gone(pid_t pid, int ms)
{
	struct timespec ts = { 0, 5 * 1000 * 1000 };

	for (int waited = 0; waited <= ms; waited += 5) {
		if (!tr_test_pid_alive(pid)) {
			return 1;
		}
		nanosleep(&ts, NULL);
	}
	return 0;
}

const char *
tr_test_tmpdir(void)
{
	const char *t = getenv("TMPDIR");

	return t && t[0] == '/' && strlen(t) < 40 ? t : "/tmp";
}

const char *
tr_test_endpoint(void)
{
	static char ep[256];
	char        tmpl[64];

	snprintf(tmpl, sizeof(tmpl), "%s/tr-test-XXXXXX", tr_test_tmpdir());

	if (!mkdtemp(tmpl)) {
		return NULL;
	}
	snprintf(ep, sizeof(ep), "ipc://%s/x", tmpl);
	return ep;
}

const char *
tr_test_build_path(const char *rel)
{
	static char path[4096];
	const char *root = getenv("TR_TEST_BUILD_ROOT");

	snprintf(path, sizeof(path), "%s/%s", root ? root : ".", rel);
	return path;
}

int
tr_test_finish(tr_process **pp)
{
	int code = -1000;

	if (tr_process_join(*pp, TR_TEST_HANG_MS) < 0) {
		tr_process_kill(*pp);
		tr_process_join(*pp, TR_TEST_HANG_MS);
	}
	tr_process_exitcode(*pp, &code);
	tr_process_destroy(pp);
	return code;
}

long
tr_test_rss_kb(pid_t pid)
{
	char  path[64], line[256];
	FILE *f;
	long  kb = -1;

	snprintf(path, sizeof(path), "/proc/%d/status", (int) pid);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "VmRSS: %ld", &kb) == 1) {
			break;
		}
	}
	if (f) {
		fclose(f);
	}
	return kb;
}
