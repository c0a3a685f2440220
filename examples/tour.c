/* SPDX-License-Identifier: MIT */
/* tour -- a short tour of the process examples: runs three of the
 * programs next to this binary, each under a header.  The tour is the
 * table below; the rest only runs programs. */
#include <errno.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "troupe.h"

extern char **environ;

static const struct {
	const char *program;
	const char *title;
} tour[] = {
	{ "hello", "hello: one function run in a child process" },
	{ "exitcode", "exitcode: how a child's end shows in its exit code" },
	{ "start-methods", "start-methods: fork, spawn and forkserver" },
};

/* Run dir/program and wait for it; its exit status, or -errno. */
static int
run(const char *dir, const char *program)
{
	char  path[PATH_MAX];
	char *argv[] = { (char *) program, NULL };
	pid_t pid;
	int   status, r;

	if (snprintf(path, sizeof(path), "%s/%s", dir, program) >=
	    (int) sizeof(path)) {
		return -ENAMETOOLONG;
	}
	fflush(stdout);
	r = posix_spawn(&pid, path, NULL, NULL, argv, environ);
	if (r != 0) {
		return -r;
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			return -errno;
		}
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int
main(int argc, char **argv)
{
	char    dir[PATH_MAX];
	ssize_t n;
	int     failed = 0;

	if (tr_init(argc, argv) < 0) {
		return 1;
	}
	n = readlink("/proc/self/exe", dir, sizeof(dir) - 1);
	if (n < 0) {
		perror("tour: /proc/self/exe");
		return 1;
	}
	dir[n]             = '\0';
	*strrchr(dir, '/') = '\0';

	for (size_t i = 0; i < sizeof(tour) / sizeof(tour[0]); i++) {
		int r;

		printf("%s== %s ==\n", i ? "\n" : "", tour[i].title);
		r = run(dir, tour[i].program);
		if (r != 0) {
			fprintf(stderr, "tour: %s: %s\n", tour[i].program,
			    r < 0 ? tr_strerror(r) : "failed");
			failed = 1;
		}
	}
	return failed;
}
