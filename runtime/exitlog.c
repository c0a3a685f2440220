/* SPDX-License-Identifier: MIT */
/* The run's exit log: a shared ring in <rundir>/exits where every troupe
 * reaper writes (pid, incarnation, exit code) before it reaps, so that a
 * monitor that is not the parent can still learn how an actor ended. */
#include "exitlog.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime.h"
#include "util.h"

#define SLOTS 4096

struct slot {
	_Atomic uint32_t pid; /* written last: 0 = empty or being written */
	int32_t          exitcode;
	uint64_t         incarnation;
};

struct log {
	_Atomic uint64_t next;
	struct slot      slots[SLOTS];
};

static struct log *map;
static char        map_dir[PATH_MAX];

static struct log *
open_log(void)
{
	char        path[PATH_MAX + 8];
	struct stat st;
	void       *p;
	int         fd;

	if (map && strcmp(map_dir, tri_rt.rundir) == 0) {
		return map;
	}
	if (!tri_rt.rundir[0]) {
		return NULL;
	}
	snprintf(path, sizeof(path), "%s/exits", tri_rt.rundir);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		return NULL;
	}
	if (fstat(fd, &st) < 0 ||
	    (st.st_size < (off_t) sizeof(struct log) &&
	        ftruncate(fd, sizeof(struct log)) < 0)) {
		close(fd);
		return NULL;
	}
	p = mmap(NULL, sizeof(struct log), PROT_READ | PROT_WRITE, MAP_SHARED,
	    fd, 0);
	close(fd);
	if (p == MAP_FAILED) {
		return NULL;
	}
	if (map) {
		munmap(map, sizeof(struct log));
	}
	map = p;
	tri_strlcpy(map_dir, tri_rt.rundir, sizeof(map_dir));
	return map;
}

int
tri_exitlog_init(void)
{
	return open_log() ? 0 : -EIO;
}

void
tri_exitlog_put(pid_t pid, uint64_t inc, int exitcode)
{
	struct log  *l = open_log();
	struct slot *s;

	if (!l || inc == 0) {
		return;
	}
	s = &l->slots[atomic_fetch_add(&l->next, 1) % SLOTS];
	atomic_store(&s->pid, 0);
	s->exitcode    = exitcode;
	s->incarnation = inc;
	atomic_store_explicit(&s->pid, (uint32_t) pid, memory_order_release);
}

int
tri_exitlog_get(pid_t pid, uint64_t inc, int *ret_code)
{
	struct log *l = open_log();

	if (!l) {
		return -ENOENT;
	}
	for (int i = 0; i < SLOTS; i++) {
		struct slot *s = &l->slots[i];

		if (atomic_load_explicit(&s->pid, memory_order_acquire) ==
		        (uint32_t) pid &&
		    s->incarnation == inc) {
			*ret_code = s->exitcode;
			return 0;
		}
	}
	return -ENOENT;
}
