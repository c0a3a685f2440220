/* SPDX-License-Identifier: MIT */
/* Internal: the trace control page and the per-process event ring, shared
 * by the writer (trace.c, in every traced process) and the collector
 * (trace-session.c).  Both live in files of the run's runtime directory,
 * mapped shared; the layout is the contract between processes of one
 * build (docs/trace.md). */
#ifndef TRI_TRACE_H
#define TRI_TRACE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <zmq.h>

#include "troupe/trace.h"

#define TRI_TRACE_CTL_MAGIC  0x31435254u /* "TRC1" */
#define TRI_TRACE_RING_MAGIC 0x31475254u /* "TRG1" */
#define TRI_TRACE_CTL_FILE   "trace.ctl"
#define TRI_TRACE_RING_DIR   "trace"
#define TRI_TRACE_FILTER_MAX 256

/* <run>/trace.ctl: made by the run's main program at tr_init(), mapped by
 * every process of the run.  A collector writes the settings with on = 0,
 * bumps gen, then sets on. */
struct tri_trace_ctl {
	uint32_t         magic;
	_Atomic uint32_t on;        /* the word every traced point reads */
	_Atomic uint32_t gen;       /* bumped at each change of the settings */
	_Atomic int32_t  collector; /* pid of the collector; 0: none */
	uint32_t         sample;    /* 1 root in N; 0, 1: all */
	uint32_t         rate_n;    /* per-process trip: > rate_n events */
	uint32_t         rate_ms;   /*   in rate_ms; rate_n 0: none */
	uint32_t         ring_slots;
	uint32_t         payload;        /* bytes captured per message; 0 */
	_Atomic int64_t  lease_until_ns; /* CLOCK_REALTIME; 0: no lease */
	int64_t          until_ns;       /* duration's end; 0: none */
	uint64_t         limit;          /* events in all; 0: none */
	char             actors[TRI_TRACE_FILTER_MAX];
	char             types[TRI_TRACE_FILTER_MAX];
	/* written at every event: a cache line of its own, so that it does
	 * not take from every process the line that on and gen are in */
	_Alignas(64) _Atomic uint64_t total; /* events written, all */
	/* the run's node name, written by its node agent at start */
	_Alignas(64) char node[TR_TRACE_NAME_MAX];
	/* TROUPE_TRACE's collector process: the main program sets finish
	 * at its exit, the collector sets finished once it has drained */
	_Atomic uint32_t finish, finished;
};

/* One slot of a ring (192 bytes).  seq is position + 1 once the writer
 * has filled the slot. */
struct tri_trace_rec {
	_Atomic uint64_t seq;
	int64_t          ts_ns;
	uint32_t         kind;
	uint32_t         plen; /* payload bytes after the slot's record */
	tr_addr          peer;
	uint64_t         msg_id;
	int64_t          value;
	uint64_t         lamport;
	uint8_t          trace_id[16];
	uint64_t         span_id, parent_span;
	int64_t          dur_ns;
	char             what[84];
};

/* <run>/trace/<pid>.<incarnation>.ring: a header and ring_slots slots.
 * Any thread of the process reserves a slot by CAS on head; the one
 * reader advances tail. */
struct tri_trace_ring {
	uint32_t magic;
	uint32_t slots;  /* a power of two */
	uint32_t stride; /* bytes a slot: the record, payload_cap, rounded
	                  * up to 64 */
	uint32_t payload_cap;
	tr_addr  self;
	char     name[TR_TRACE_NAME_MAX];
	char     actor[TR_TRACE_NAME_MAX];
	/* the writers' line, the reader's line */
	_Alignas(64) _Atomic uint64_t head; /* next position to reserve */
	_Atomic uint64_t dropped; /* events the full ring could not take */
	_Atomic uint32_t closed;  /* 1: the process wrote its last event;
	                           * 2: retired, a new ring took its place */
	_Alignas(64) _Atomic uint64_t tail; /* the reader took all before */
	_Alignas(64) struct tri_trace_rec rec[];
};

extern struct tri_trace_ctl *tri_trace_ctl; /* never NULL */

static inline bool
tri_trace_on(void)
{
	return __builtin_expect(
	    atomic_load_explicit(&tri_trace_ctl->on, memory_order_relaxed), 0);
}

struct tri_env;
struct tr_msg;

/* The main program: create and map <rundir>/trace.ctl, and act on
 * TROUPE_TRACE.  A child: map it (fork children have it already). */
int  tri_trace_init_root(const char *rundir);
void tri_trace_init_child(const char *rundir);
/* In a new child: its parent's ring is not its own. */
void tri_trace_forked(void);
/* The main program's exit, before the runtime directory goes: with
 * TROUPE_TRACE, drain every ring into its file. */
void tri_trace_finish_root(void);
/* This process ends with code: the exit event, the last handle's end. */
void tri_trace_exit(int code);

/* Only when tri_trace_on(): */
/* Give e a trace context if sampled, and record the send of payload (its
 * size; its first bytes with payload capture). */
void tri_trace_send(struct tri_env *e, zmq_msg_t *payload);
/* A message was taken off the socket. */
void tri_trace_receive(const struct tri_env *e, zmq_msg_t *payload);
/* tr_recv() was called again (the last message's handling ended) / it
 * returned m. */
void tri_trace_handle_end(void);
void tri_trace_handle_begin(const struct tr_msg *m);
/* Anything else (no context): spawn, exit, down, link, ... */
void tri_trace_emit(uint32_t kind, tr_addr peer, uint64_t msg_id, int64_t value,
    const char *what);

/* TROUPE_TRACE's collector process (trace-collect.c): start it, draining
 * the run's rings into path; returns its pid or -errno.  At the main
 * program's exit: tell it to drain once more and end, and wait for that
 * (at most 5 s); false if it did not. */
int  tri_trace_collector_start(const char *rundir, const char *path);
bool tri_trace_collector_finish(pid_t pid);

/* The node agent (trace-node.c): this run is node name; the peer node
 * id (its agent's address, its name) is up or not -- a nodeup or nodedown
 * event when that changes.  Called from the agent's link thread. */
void tri_trace_node_self(const char *name);
void tri_trace_node_state(
    uint32_t id, tr_addr agent, const char *name, bool up, const char *why);
/* The node agent's link thread: peer node `id` has been silent for
 * silent_ms (suspect) or was heard again (not suspect), while up: a
 * nodesuspect or noderesumed event on a change. */
void tri_trace_node_suspect(uint32_t id, tr_addr agent, const char *name,
    bool suspect, int64_t silent_ms);

/* The control page of another run (the collector), or NULL; the
 * settings written by a collector; unmap. */
struct tri_trace_ctl *tri_trace_ctl_open(const char *rundir);
void tri_trace_ctl_apply(struct tri_trace_ctl *c, const tr_trace_opts *o,
    int64_t now_ns, bool defaults_safe);
void tri_trace_ctl_close(struct tri_trace_ctl *c);
/* A session on this run's own page that does not configure it (the main
 * program draining at exit under TROUPE_TRACE). */
int     tri_trace_session_adopt(tr_trace_session **ret, const char *rundir);
int64_t tri_trace_now_ns(void);

/* Fill ev from a ring slot (the collector). */
void     tri_trace_rec_to_event(const struct tri_trace_rec *r,
        const struct tri_trace_ring *g, tr_trace_event *ev);
size_t   tri_trace_ring_bytes(uint32_t slots, uint32_t stride);
uint32_t tri_trace_stride(uint32_t payload_cap);
static inline struct tri_trace_rec *
tri_trace_slot(const struct tri_trace_ring *g, uint64_t pos)
{
	return (struct tri_trace_rec *) ((char *) g->rec +
	    (size_t) (pos & (g->slots - 1)) * g->stride);
}
bool tri_trace_glob_list(const char *list, const char *s);

#endif /* TRI_TRACE_H */
