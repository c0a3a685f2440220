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
};

/* supervisor-spec.c (client side) */
bool tri_sup_name_ok(const char *s, size_t max);
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

/* supervisor-server.c */
int tri_sup_actor(const void *args, size_t len);
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
