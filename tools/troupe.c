/* SPDX-License-Identifier: MIT */
/* troupe -- the command-line tool.
 *
 *   troupe ps [DIR...]     the live runs (or the runtime directories named),
 *                          their actors with bound mailboxes, their names
 *   troupe clean [--dry-run]
 *                          remove runtime directories whose main program is
 *                          gone (left by versions without the run's tracker,
 *                          or a run whose tracker could not start); only the
 *                          user's own
 * Runs are looked for in $TROUPE_RUNTIME_DIR if set, else in
 * $XDG_RUNTIME_DIR and /tmp.
 *   troupe trace ...       record, tail, stats, why, export, filter,
 *                          merge: see trace-cmd.c and docs/trace.md
 *   troupe ps --node NAME | --endpoint EP[#KEY] [...]
 *   troupe tree [--node NAME | --endpoint EP[#KEY]] [...]
 *                          a node's actors with their mailbox depths, as a
 *                          list or as supervision trees (ps-cmd.c); tree
 *                          alone: the local runs, from /proc
 *   troupe node --name NAME [--listen EP] [--peer EP[#KEY]]... [...]
 *                          run a node (distribution) in the foreground;
 *                          `troupe node --help` for its options
 *   troupe --version | --help
 *
 * It reads the runtime directory layout of docs/protocol.md section 1 and
 * uses only the public API. */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ps-cmd.h"
#include "trace-tool.h"
#include "troupe-node.h"
#include "troupe.h"

#define TROUPE_VERSION "0.1.0"

static void
usage(FILE *to)
{
	fprintf(to,
	    "usage: troupe ps [RUNTIME-DIR...]\n"
	    "       troupe ps --node NAME | --endpoint EP [...]  "
	    "(troupe ps --help)\n"
	    "       troupe tree [--node NAME | --endpoint EP] [...]  "
	    "(troupe tree --help)\n"
	    "       troupe clean [--dry-run]\n"
	    "       troupe trace COMMAND ... (troupe trace --help)\n"
	    "       troupe node --name NAME [options]   (troupe node --help)\n"
	    "       troupe --version | --help\n");
}

/* The pid of the main program of a runtime directory named
 * troupe-<pid>-XXXXXX, or 0 if the name is not one. */
static pid_t
run_pid(const char *name)
{
	char *end;
	long  pid;

	if (strncmp(name, "troupe-", 7) != 0) {
		return 0;
	}
	pid = strtol(name + 7, &end, 10);
	if (end == name + 7 || *end != '-' || strlen(end + 1) != 6 ||
	    pid <= 0 || pid > INT32_MAX) {
		return 0;
	}
	return (pid_t) pid;
}

static bool
pid_alive(pid_t pid)
{
	return kill(pid, 0) == 0 || errno == EPERM;
}

static void
comm_of(pid_t pid, char *buf, size_t n)
{
	char  path[64];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/comm", (int) pid);
	f      = fopen(path, "r");
	buf[0] = '\0';
	if (f) {
		if (fgets(buf, (int) n, f)) {
			buf[strcspn(buf, "\n")] = '\0';
		}
		fclose(f);
	}
}

/* Print the actors (mailbox sockets) and names of one runtime directory. */
static int
show_run(const char *dir)
{
	DIR           *d = opendir(dir);
	struct dirent *e;
	char           path[4096], txt[TR_ADDR_STRLEN], comm[32];
	tr_addr        a;
	int            actors = 0;

	if (!d) {
		fprintf(stderr, "troupe ps: cannot read %s: %s\n", dir,
		    strerror(errno));
		return -1;
	}
	printf("%s\n", dir);
	while ((e = readdir(d))) {
		/* mailboxes are named <pid>.<incarnation>: parse as 0.<name> */
		if (strlen(e->d_name) > sizeof(txt) - 3) {
			continue;
		}
		snprintf(txt, sizeof(txt), "0.%s", e->d_name);
		if (tr_addr_parse(txt, &a) < 0) {
			continue;
		}
		comm_of((pid_t) a.pid, comm, sizeof(comm));
		printf("  actor %-24s pid %-7" PRIu32 " %-16s %s\n", txt, a.pid,
		    comm[0] ? comm : "-",
		    tr_addr_is_alive(a) ? "alive" : "gone (stale mailbox)");
		actors++;
	}
	closedir(d);
	if (actors == 0) {
		printf("  (no actor has bound a mailbox)\n");
	}
	snprintf(path, sizeof(path), "%s/names", dir);
	d = opendir(path);
	while (d && (e = readdir(d))) {
		char    link[sizeof(path) + 256];
		ssize_t l;

		if (e->d_name[0] == '.') {
			continue;
		}
		snprintf(link, sizeof(link), "%s/%s", path, e->d_name);
		l = readlink(link, txt, sizeof(txt) - 1);
		if (l < 0) {
			continue;
		}
		txt[l] = '\0';
		printf("  name  %-24s -> %s%s\n", e->d_name, txt,
		    tr_addr_parse(txt, &a) == 0 && tr_addr_is_alive(a)
		        ? ""
		        : " (holder gone)");
	}
	if (d) {
		closedir(d);
	}
	return 0;
}

/* Call fn(dir, pid) for every runtime directory in the bases troupe uses:
 * $TROUPE_RUNTIME_DIR alone if it is set (the runtime then puts every run
 * there), else $XDG_RUNTIME_DIR and /tmp. */
static int
each_run(int (*fn)(const char *dir, pid_t pid, void *arg), void *arg)
{
	const char *bases[3] = { getenv("TROUPE_RUNTIME_DIR"),
		getenv("XDG_RUNTIME_DIR"), "/tmp" };
	int         n        = 0;
	int         nbases   = bases[0] && bases[0][0] ? 1 : 3;

	for (int b = 0; b < nbases; b++) {
		DIR           *d;
		struct dirent *e;

		if (!bases[b] || !bases[b][0] ||
		    (b == 1 && bases[0] && strcmp(bases[0], bases[1]) == 0) ||
		    (b == 2 &&
		        ((bases[0] && strcmp(bases[0], "/tmp") == 0) ||
		            (bases[1] && strcmp(bases[1], "/tmp") == 0)))) {
			continue;
		}
		d = opendir(bases[b]);
		while (d && (e = readdir(d))) {
			char  dir[4096];
			pid_t pid = run_pid(e->d_name);

			if (pid == 0) {
				continue;
			}
			snprintf(
			    dir, sizeof(dir), "%s/%s", bases[b], e->d_name);
			n += fn(dir, pid, arg) == 0;
		}
		if (d) {
			closedir(d);
		}
	}
	return n;
}

static int
ps_one(const char *dir, pid_t pid, void *arg)
{
	char comm[32];

	(void) arg;
	if (!pid_alive(pid)) {
		return -1; /* not a live run: `troupe clean` is for those */
	}
	comm_of(pid, comm, sizeof(comm));
	printf("run of pid %d (%s): ", (int) pid, comm[0] ? comm : "?");
	return show_run(dir);
}

static int
rm_tree(const char *path)
{
	DIR           *d = opendir(path);
	struct dirent *e;
	int            r = 0;

	if (!d) {
		return unlink(path) == 0 ? 0 : -errno;
	}
	while ((e = readdir(d))) {
		char sub[4096];

		if (strcmp(e->d_name, ".") == 0 ||
		    strcmp(e->d_name, "..") == 0) {
			continue;
		}
		snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
		if (e->d_type == DT_DIR) {
			r = rm_tree(sub) < 0 ? -1 : r;
		} else if (unlink(sub) < 0) {
			r = -errno;
		}
	}
	closedir(d);
	return rmdir(path) == 0 ? r : -errno;
}

static int
clean_one(const char *dir, pid_t pid, void *arg)
{
	bool        dry = *(bool *) arg;
	struct stat st;
	int         r;

	/* only our own, only directories, only when their run is over */
	if (pid_alive(pid) || lstat(dir, &st) < 0 || !S_ISDIR(st.st_mode) ||
	    st.st_uid != getuid()) {
		return -1;
	}
	if (dry) {
		printf("would remove %s (pid %d is gone)\n", dir, (int) pid);
		return 0;
	}
	r = rm_tree(dir);
	if (r < 0) {
		fprintf(stderr, "troupe clean: cannot remove %s: %s\n", dir,
		    strerror(-r));
		return -1;
	}
	printf("removed %s (pid %d is gone)\n", dir, (int) pid);
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("troupe %s\n", TROUPE_VERSION);
		return 0;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "tree") == 0 ||
	    (strcmp(argv[1], "ps") == 0 && argc > 2 && argv[2][0] == '-')) {
		return troupe_ps_cmd(
		    argc, argv, argv[1][0] == 't'); /* ps-cmd.c */
	}
	if (strcmp(argv[1], "ps") == 0) {
		int bad = 0;

		if (argc == 2) {
			if (each_run(ps_one, NULL) == 0) {
				printf("no live troupe runs\n");
			}
			return 0;
		}
		for (int i = 2; i < argc; i++) {
			bad |= show_run(argv[i]) < 0;
		}
		return bad ? 1 : 0;
	}
	if (strcmp(argv[1], "trace") == 0) {
		return trace_main(argc, argv);
	}
	if (strcmp(argv[1], "node") == 0) {
		return troupe_node_cmd(argc, argv);
	}
	if (strcmp(argv[1], "clean") == 0) {
		bool dry = false;

		if (argc > 3 ||
		    (argc == 3 && strcmp(argv[2], "--dry-run") != 0)) {
			fprintf(stderr, "troupe clean: unknown argument '%s'\n",
			    argv[argc - 1]);
			usage(stderr);
			return 2;
		}
		dry = argc == 3;
		if (each_run(clean_one, &dry) == 0) {
			printf("nothing to clean\n");
		}
		return 0;
	}
	fprintf(stderr, "troupe: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
