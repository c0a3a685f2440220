/* SPDX-License-Identifier: MIT */
/* The supervisor actor's state, shared by its files (tri_sup_*).  Built
 * only on the public API.  Not installed. */
#ifndef TRI_SUPERVISOR_INT_H
#define TRI_SUPERVISOR_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "supervisor.pb-c.h"
#include "troupe.h"

#define TRI_SUP_START_TIMEOUT_MS   10000
#define TRI_SUP_WORKER_SHUTDOWN_MS 5000
#define TRI_SUP_PERIOD_MS          5000

/* ChildSpec.shutdown_ms on the wire (supervisor.proto); inside the actor
 * a child's shutdown_ms is > 0, BRUTAL or INFINITY. */
#define TRI_WIRE_SHUTDOWN_BRUTAL   0
#define TRI_WIRE_SHUTDOWN_INFINITY (-1)
#define TRI_WIRE_SHUTDOWN_DEFAULT  (-2)

/* tri_sup_on_death() and the restart code: the supervisor must end as
 * shutdown because significant children ended (auto_shutdown). */
#define TRI_SUP_AUTO_STOP 1

struct tri_sup_child {
	char        id[TR_SUP_ID_MAX];
	char        actor[64];
	uint8_t    *args; /* owned; the one copy the supervisor keeps */
	size_t      len;
	int         restart, shutdown_ms, type, start_timeout_ms;
	int         start_method; /* enum tr_start_method, 0 = default */
	bool        significant;
	bool        dynamic;  /* a simple_one_for_one instance */
	bool        ignored;  /* its last start answered TR_EIGNORE */
	tr_process *proc;     /* NULL while not running */
	unsigned    restarts; /* by the supervisor, not restart_child */
	bool        exited;
	int         last_exitcode;
	int64_t     restart_at; /* > 0: restarting, due then (monotonic ms) */
	int64_t     started_at;
	unsigned    backoff_n; /* quick restarts in a row */
	/* on other nodes (supervisor-remote.c) */
	char     node[TR_NODE_NAME_MAX]; /* the spec's; "" = this run */
	int      on_node_loss;           /* enum tr_node_loss */
	char     elsewhere[TR_SUP_ELSEWHERE_MAX][TR_NODE_NAME_MAX];
	int      nelsewhere;
	char     on[TR_NODE_NAME_MAX]; /* where it runs or ran last */
	tr_addr  raddr;      /* on another node: its address (node set) */
	uint64_t rref;       /* its monitor, while running or unknown */
	bool     rup;        /* running on another node */
	bool     unknown;    /* its node was lost: state unknown */
	int64_t  recheck_at; /* unknown: when to ask its node again */
};

struct tri_sup {
	int  strategy, intensity, period_ms;
	int  backoff_min_ms, backoff_max_ms, jitter_pct;
	int  auto_shutdown;
	bool quiet;
	char name[64];
	/* children in start order; each one on the heap, so that a pointer
	 * (the epoll set's, say) stays valid while others come and go */
	struct tri_sup_child **children;
	size_t                 n, cap;
	struct tri_sup_child   tmpl; /* simple_one_for_one template */
	unsigned               next_instance;
	int64_t               *rst; /* ring of restart times in the period */
	size_t                 rst_head, rst_n, rst_cap;
	int                    sigfd;
	int                    epfd; /* the running children's sentinels */
	int                    stop_signal; /* a signal asked us to stop */
	bool                   hurry; /* another came: kill, do not wait */
	bool                   stop_requested;
	char                   reason[256]; /* why the last start failed */
	tr_msg                *stop_msg;    /* STOP request, answered last */
	unsigned               junk; /* messages that were not requests */
	bool trapping; /* traps exits: linked to children on other nodes */
};

/* supervisor-spec.c (client side) */
bool tri_sup_name_ok(const char *s, size_t max);
bool tri_sup_node_ok(const char *s);
int  tri_sup_child_to_pb(
     const tr_child_spec *c, Trwire__ChildSpec *pb, bool quiet);

/* supervisor-children.c: the child list, and starting and stopping one */
int tri_sup_child_from_pb(struct tri_sup_child *c, const Trwire__ChildSpec *pb);
void    tri_sup_child_free(struct tri_sup_child *c);
int     tri_sup_add(struct tri_sup *s, const struct tri_sup_child *c);
int     tri_sup_add_pb(struct tri_sup *s, const Trwire__ChildSpec *pb);
void    tri_sup_remove(struct tri_sup *s, size_t i);
void    tri_sup_forget_proc(struct tri_sup *s, struct tri_sup_child *c);
ssize_t tri_sup_find(const struct tri_sup *s, const char *id);
ssize_t tri_sup_index(const struct tri_sup *s, const struct tri_sup_child *c);
int     tri_sup_child_state(const struct tri_sup_child *c);
int     tri_sup_start_child(struct tri_sup *s, size_t i);
void    tri_sup_stop_child(struct tri_sup *s, size_t i);
void    tri_sup_stop_range(struct tri_sup *s, size_t from, size_t to);
void    tri_sup_stop_all(struct tri_sup *s);
struct tri_sup_child *tri_sup_next_death(struct tri_sup *s);
const char           *tri_sup_describe(int exitcode, char *buf, size_t n);

/* supervisor-restart.c: what a death sets off */
int tri_sup_on_death(struct tri_sup *s, size_t i);
int tri_sup_reap(struct tri_sup *s);
int tri_sup_start_due(struct tri_sup *s, int *ret_timeout);

/* supervisor-remote.c: children on other nodes */
/* Running (here or on another node). */
bool tri_sup_running(const struct tri_sup_child *c);
/* Start child c on another node (or, after its node was lost, where its
 * spec says): 1 if c is to run in this run after all (the caller starts
 * it), 0 once it runs there, or an error (s->reason says why). */
int tri_sup_remote_start(struct tri_sup *s, struct tri_sup_child *c);
/* Stop child c on another node by its shutdown spec (waits for its
 * DOWN), or forget it if its node is lost. */
void tri_sup_remote_stop(struct tri_sup *s, struct tri_sup_child *c);
/* Send the first signal of a stop (SIGTERM, or SIGKILL for brutal kill)
 * and, with tri_sup_remote_wait_end(), wait for its end until end_ms. */
void tri_sup_remote_signal(struct tri_sup_child *c, int sig);
void tri_sup_remote_wait_end(
    struct tri_sup *s, struct tri_sup_child *c, int64_t end_ms);
/* Drop c's monitor and its remote state (removal). */
void tri_sup_remote_forget(struct tri_sup_child *c);
/* m (a system message): if the DOWN of a child on another node, take it
 * in (restart, unknown, ...): 1 and *ret the outcome (as
 * tri_sup_on_death()); 0 if not ours. */
int tri_sup_remote_take(struct tri_sup *s, const tr_msg *m, int *ret);
/* Take in the DOWNs of children on other nodes already queued. */
int tri_sup_remote_reap(struct tri_sup *s);
/* Ask the nodes of unknown children again (those due); *ret_timeout is
 * lowered to the next such time. */
void tri_sup_remote_recheck(struct tri_sup *s, int *ret_timeout);

/* supervisor-restart.c: child i ended (pid its pid, exit_class how: a
 * tr_exit_class; TR_EXIT_NOCONNECTION = its node was lost and it is to
 * be restarted elsewhere); c->last_exitcode is set.  As on_death. */
int tri_sup_on_end(struct tri_sup *s, size_t i, pid_t pid, int exit_class);

/* supervisor-server.c */
/* Read pending stop signals (a second one during shutdown sets hurry). */
void tri_sup_read_signals(struct tri_sup *s, bool stopping);
int  tri_sup_actor(const void *args, size_t len);
/* Wait for child p, sent SIGTERM, to exit (tr_process_join()); -ETIMEDOUT
 * also at once when a second stop signal asks for haste. */
int tri_sup_wait_stop(struct tri_sup *s, tr_process *p, int timeout_ms);

/* supervisor-requests.c */
int  tri_sup_handle_mail(struct tri_sup *s);
void tri_sup_answer_stop(struct tri_sup *s);

#define tri_sup_log(s, ...)                               \
	do {                                              \
		if (!(s)->quiet) {                        \
			tr_log(TR_LOG_INFO, __VA_ARGS__); \
		}                                         \
	} while (0)

#endif /* TRI_SUPERVISOR_INT_H */
