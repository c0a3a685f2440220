/* SPDX-License-Identifier: MIT */
/* Internal runtime state (tri_rt), the boot record a child starts from,
 * and the child's entry point.  Not installed. */
#ifndef TRI_RUNTIME_H
#define TRI_RUNTIME_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "troupe/process.h"

#define TRI_NAME_MAX   64
#define TRI_REASON_MAX 256
#define TRI_PASS_MAX   16 /* descriptors handed to one child (fdpass.h) */

/* Everything a child needs to become an actor; travels as trwire.Boot for
 * spawn and the forkserver. */
struct tri_boot {
	char     actor[TRI_NAME_MAX];
	char     name[TRI_NAME_MAX];
	char     identity[TRI_NAME_MAX];
	char     rundir[PATH_MAX];
	void    *args; /* owned */
	size_t   len;
	bool     daemon;
	bool     eager_mailbox;
	int      log_level;
	pid_t    parent; /* the child's parent: the starter or the forkserver */
	pid_t    starter; /* the process that asked: tr_self_parent_pid() */
	uint64_t ignored; /* starter's ignored signals, bit n-1 = signal n */
	/* descriptors handed to the child (fdpass.h): their numbers in the
	 * process reading the record, and what each is */
	int      pass_fd[TRI_PASS_MAX];
	uint32_t pass_tag[TRI_PASS_MAX];
	size_t   npass;
};

struct tri_rt {
	bool     inited;
	pid_t    pid;  /* this process */
	pid_t    ppid; /* parent, as known at start */
	pid_t    root; /* pid that created rundir */
	bool     own_rundir;
	char     rundir[PATH_MAX];
	char     name[TRI_NAME_MAX];
	char     identity[TRI_NAME_MAX]; /* "" in main, "1:2" in children */
	char     actor[TRI_NAME_MAX];    /* "" in main */
	bool     daemon;
	bool     is_child;
	unsigned child_counter;
	int      ready_fd; /* -1 once reported */
	bool     manual_ready;
	int      fail_err;
	char     fail_reason[TRI_REASON_MAX];
	struct tr_process *children;      /* started, not yet reaped */
	int                forkserver_fd; /* -1: none */
	pid_t              forkserver_pid;
	int                tracker_fd; /* the run's end of it; -1: none */
	char             **argv;
	const void        *args;
	size_t             args_len;
};

extern struct tri_rt tri_rt;

_Noreturn void tri_child_main(struct tri_boot *b, int ready_fd);
void           tri_child_reset(void);
/* The process is about to _exit() from the runtime thread (a linked
 * actor's death): remove what must not outlive it.  Filesystem only. */
void tri_runtime_abort_cleanup(void);
int  tri_boot_encode(const struct tri_boot *b, uint8_t **ret, size_t *ret_len);
int  tri_boot_decode(const uint8_t *buf, size_t len, struct tri_boot *b);
int  tri_boot_read_fd(int fd, struct tri_boot *b);
void tri_boot_free(struct tri_boot *b);

#endif /* TRI_RUNTIME_H */
