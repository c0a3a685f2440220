/* SPDX-License-Identifier: MIT */
#include "tr-test.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int
count_dir(const char *path)
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
	return count_dir("/proc/self/fd") - 1;
}

int
tr_test_rundir_count(void)
{
	return count_dir(tr_runtime_dir());
}

static int
scan_children(int zombies)
{
	DIR           *d = opendir("/proc");
	struct dirent *e;
	int            n = 0;

	while (d && (e = readdir(d))) {
		char  path[300], buf[512], state;
		FILE *f;
		int   ppid;

		if (e->d_name[0] < '0' || e->d_name[0] > '9') {
			continue;
		}
		snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
		f = fopen(path, "r");
		if (!f) {
			continue;
		}
		if (fgets(buf, sizeof(buf), f)) {
			char *p = strrchr(buf, ')');

			if (p && sscanf(p + 2, "%c %d", &state, &ppid) == 2 &&
			    ppid == getpid() &&
			    (zombies ? state == 'Z' : state != 'Z')) {
				n++;
			}
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
	return scan_children(1);
}

int
tr_test_child_count(void)
{
	return scan_children(0);
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
tr_test_endpoint(void)
{
	static char ep[256];
	char        tmpl[] = "/tmp/tr-test-XXXXXX";

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
