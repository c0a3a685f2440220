/* SPDX-License-Identifier: MIT */
/* The supervisor actor's state, shared by its files (tri_sup_*).  Built
 * only on the public API.  Not installed. */
#ifndef TRI_SUPERVISOR_INT_H
#define TRI_SUPERVISOR_INT_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "supervisor.pb-c.h"
#include "troupe.h"

#define TRI_SUP_START_TIMEOUT_MS   10000
#define TRI_SUP_WORKER_SHUTDOWN_MS 5000
#define TRI_SUP_PERIOD_MS          5000

struct tri_sup_child {
	char        id[TR_SUP_ID_MAX];
	char        actor[64];
	uint8_t    *args; /* owned */
	size_t      len;
	int         restart, shutdown_ms, type, start_timeout_ms;
	bool        dynamic;  /* a simple_one_for_one instance */
	tr_process *proc;     /* NULL while not running */
	unsigned    restarts; /* by the supervisor, not restart_child */
	bool        exited;
	int         last_exitcode;
	int64_t     restart_at; /* > 0: restart due then (monotonic ms) */
	int64_t     started_at;
	unsigned    backoff_n; /* quick restarts in a row */
};

struct tri_sup {
	int                   strategy, intensity, period_ms;
	int                   backoff_min_ms, backoff_max_ms, jitter_pct;
	bool                  quiet;
	char                  name[64];
	struct tri_sup_child *children; /* in start order */
	size_t                n, cap;
	struct tri_sup_child  tmpl; /* simple_one_for_one template */
	unsigned              next_instance;
	int64_t              *rst; /* ring of restart times in the period */
	size_t                rst_head, rst_n, rst_cap;
	int                   sigfd;
	int                   stop_signal; /* a signal asked us to stop */
	bool                  hurry;       /* another came: kill, do not wait */
	bool                  stop_requested;
	char                  reason[256]; /* why the last start failed */
	tr_msg               *stop_msg;    /* STOP request, answered last */
	struct pollfd        *pfd;
	pid_t                *pfd_pid;
	size_t                pfd_cap;
};

/* supervisor-children.c */
int tri_sup_child_from_pb(struct tri_sup_child *c, const Trwire__ChildSpec *pb);
void        tri_sup_child_free(struct tri_sup_child *c);
int         tri_sup_add(struct tri_sup *s, struct tri_sup_child *c);
int         tri_sup_add_pb(struct tri_sup *s, const Trwire__ChildSpec *pb);
void        tri_sup_remove(struct tri_sup *s, size_t i);
ssize_t     tri_sup_find(const struct tri_sup *s, const char *id);
int         tri_sup_start_child(struct tri_sup *s, size_t i);
void        tri_sup_stop_child(struct tri_sup *s, size_t i);
void        tri_sup_stop_all(struct tri_sup *s);
int         tri_sup_on_death(struct tri_sup *s, size_t i);
int         tri_sup_start_due(struct tri_sup *s, int *ret_timeout);
const char *tri_sup_describe(int exitcode, char *buf, size_t n);

/* supervisor-server.c */
int tri_sup_actor(const void *args, size_t len);
/* Wait for child p, sent SIGTERM, to exit (tr_process_join()); -ETIMEDOUT
 * also at once when a second stop signal asks for haste. */
int tri_sup_wait_stop(struct tri_sup *s, tr_process *p, int timeout_ms);

/* supervisor-requests.c */
void tri_sup_handle_mail(struct tri_sup *s);
void tri_sup_answer_stop(struct tri_sup *s);

#define tri_sup_log(s, ...)                               \
	do {                                              \
		if (!(s)->quiet) {                        \
			tr_log(TR_LOG_INFO, __VA_ARGS__); \
		}                                         \
	} while (0)

#endif /* TRI_SUPERVISOR_INT_H */
