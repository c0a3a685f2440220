/* SPDX-License-Identifier: MIT */
/* Internal runtime state and cross-file helpers (tri_*).  Not installed. */
#ifndef TRI_RT_H
#define TRI_RT_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "troupe/actor.h"
#include "troupe/common.h"
#include "troupe/process.h"

#define TRI_NAME_MAX   64
#define TRI_REASON_MAX 256

#define tr_assert_return(cond, err)                      \
	do {                                             \
		if (!(cond)) {                           \
			tri_log_assert(#cond, __func__); \
			return (err);                    \
		}                                        \
	} while (0)

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
	char             **argv;
	const void        *args;
	size_t             args_len;
};

extern struct tri_rt tri_rt;

/* log.c */
void tri_log_assert(const char *cond, const char *func);
#define tri_debug(...)                                     \
	do {                                               \
		if (tri_log_on(TR_LOG_DEBUG)) {            \
			tr_log(TR_LOG_DEBUG, __VA_ARGS__); \
		}                                          \
	} while (0)
bool tri_log_on(int level);

/* registry.c */
int tri_actor_lookup(const char *name, tr_actor_fn *ret_fn, int *ret_flags);

/* runtime.c */
_Noreturn void tri_child_main(struct tri_boot *b, int ready_fd);
void           tri_child_reset(void);
void           tri_children_cleanup(void);
/* The process is about to _exit() from the runtime thread (a linked
 * actor's death): remove what must not outlive it.  Filesystem only. */
void tri_runtime_abort_cleanup(void);
int  tri_boot_encode(const struct tri_boot *b, uint8_t **ret, size_t *ret_len);
int  tri_boot_decode(const uint8_t *buf, size_t len, struct tri_boot *b);
int  tri_boot_read_fd(int fd, struct tri_boot *b);
void tri_boot_free(struct tri_boot *b);

/* process.c */
void     tri_process_reap_all_nowait(void);
void     tri_process_forget_all(void); /* in a fork child: drop the parent's */
uint64_t tri_process_incarnation(tr_process *p);

/* forkserver.c */
_Noreturn void tri_forkserver_main(int sock);
int  tri_forkserver_start_child(const struct tri_boot *b, int ready_wfd,
     int status_wfd, pid_t *ret_pid, int timeout_ms);
void tri_forkserver_forget(void);
void tri_forkserver_reap(void); /* servers that have ended */
void tri_forkserver_drop(void); /* in a new child: forget the parent's */

/* exitlog.c */
int  tri_exitlog_init(void);
void tri_exitlog_put(pid_t pid, uint64_t inc, int exitcode);
int  tri_exitlog_get(pid_t pid, uint64_t inc, int *ret_code);

/* util.c */
pid_t       tri_getpid(void); /* cached; renewed in fork children */
int         tri_spawn_self(const char *name, const int *keep, size_t nkeep,
            pid_t *ret_pid); /* exec this binary again */
int         tri_proc_sigmask(const char *field, uint64_t *ret);
int64_t     tri_now_ms(void);
int         tri_poll_fd(int fd, short events, int timeout_ms);
int         tri_remaining(int64_t deadline, int timeout_ms);
int64_t     tri_deadline(int timeout_ms);
int         tri_pidfd_open(pid_t pid);
int         tri_pidfd_signal(int pidfd, int sig);
int         tri_proc_starttime(pid_t pid, uint64_t *ret, char *ret_state);
int         tri_write_all(int fd, const void *buf, size_t len);
int         tri_read_all(int fd, void *buf, size_t len);
int         tri_memfd_with(const void *buf, size_t len);
int         tri_exitcode_from_status(int status);
const char *tri_exit_class_name(int exitcode);
int         tri_exit_class(int exitcode);
void        tri_strlcpy(char *dst, const char *src, size_t n);

/* alloc.c */
void *tri_alloc(size_t n);
void *tri_calloc(size_t n, size_t m);
void *tri_realloc(void *p, size_t n);
void  tri_free(void *p);
char *tri_strdup(const char *s);
struct ProtobufCAllocator;
extern struct ProtobufCAllocator tri_pb_allocator;
#ifdef TR_FAULT_INJECTION
void tri_alloc_fail_after(long n); /* -1 = never */
#endif

/* mailbox.c: hooks the process layer calls */
void tri_msg_forked(void);         /* in a new child: forget parent's zmq */
int  tri_msg_bind_eager(void);     /* bind the mailbox now */
void tri_msg_exiting(void);        /* at exit: stop bounding the queue */
void tri_msg_exit_handshake(void); /* at exit: peers took our mail */
void tri_msg_shutdown(void);       /* at exit: close, linger, term */
void tri_msg_on_exit(pid_t pid, uint64_t incarnation, int exitcode);
int  tri_msg_wait_fd(int fd, int timeout_ms); /* poll fd, serving mail */
int  tri_msg_linger_ms(void);

#endif /* TRI_RT_H */
