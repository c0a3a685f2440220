/* SPDX-License-Identifier: MIT */
#ifndef TR_TRACE_H
#define TR_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "troupe/common.h"
#include "troupe/msg.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Tracing -- every message that moved, recorded by the runtime.
 *
 * Each process of a run writes trace events into its own ring in shared
 * memory (<run>/trace/<pid>.<incarnation>.ring) without locks, allocation
 * or system calls; a collector (the `troupe trace` tool, or the main
 * program at exit when started with TROUPE_TRACE) drains the rings.  A
 * full ring drops the event and counts it: the traced program never waits
 * for a reader.  Tracing is switched on and configured through the run's
 * control page, <run>/trace.ctl, which every process of the run maps;
 * off, a traced point costs one load and one predictable branch.
 *
 * A sampled message carries a W3C-style trace context in its envelope
 * (trace id 16 bytes, span id 8 bytes; present = sampled).  A message sent
 * by a thread while it handles a sampled message (between the tr_recv()
 * that returned it and that thread's next tr_recv()) belongs to the same
 * trace, with a new span whose parent is the received message's span.
 *
 * docs/trace.md describes the file format and the tool. */

enum tr_trace_kind {
	TR_TRACE_SEND = 1,     /* value: payload bytes */
	TR_TRACE_RECEIVE,      /* taken off the socket; value: bytes */
	TR_TRACE_HANDLE_BEGIN, /* tr_recv() returned it */
	TR_TRACE_HANDLE_END,   /* the same thread's next tr_recv(); dur_ns */
	TR_TRACE_SPAWN,        /* peer: the child; value: its pid */
	TR_TRACE_EXIT,         /* this process ends; value: exit code */
	TR_TRACE_RESTART,      /* a supervisor restarts peer; what: child id */
	TR_TRACE_LINK,         /* tr_link(peer) */
	TR_TRACE_MONITOR,      /* tr_monitor(peer) */
	TR_TRACE_DOWN,         /* peer ended; value: its exit code */
	TR_TRACE_DEAD_LETTER,  /* a message dropped on receipt; what: why */
	TR_TRACE_BLOCKED,      /* a send waits on peer's full mailbox */
	TR_TRACE_RATE_TRIPPED, /* this process's tracing switched off */
	TR_TRACE_DROPPED,      /* value: events the ring could not take */
	TR_TRACE_MARK,         /* tr_trace_mark() */
	TR_TRACE_NODEUP,       /* the node agent: node what is up; peer: its
	                        * agent, value: its node id */
	TR_TRACE_NODEDOWN,     /* the node agent: node what is lost ("NAME:
	                        * why"); peer, value: as nodeup */
	TR_TRACE_NODESUSPECT,  /* the node agent: nothing heard from node
	                        * what ("NAME: silent N ms") for half the
	                        * detection time; peer, value: as nodeup */
	TR_TRACE_NODERESUMED,  /* ... heard from a suspect node again before
	                        * it was lost ("NAME") */
	TR_TRACE_KIND_MAX,
};

#define TR_TRACE_WHAT_MAX 96
#define TR_TRACE_NAME_MAX 64
/* The most payload bytes an event can carry (payload capture). */
#define TR_TRACE_PAYLOAD_MAX 256

/* One event, as a collector or a trace file gives it. */
typedef struct tr_trace_event {
	int64_t  ts_ns;  /* CLOCK_REALTIME when it happened */
	uint32_t kind;   /* enum tr_trace_kind */
	tr_addr  self;   /* the process that recorded it */
	tr_addr  peer;   /* the other party, if any */
	uint64_t msg_id; /* the sender's message id (send, receive, ...) */
	int64_t  value;  /* bytes, exit code, pid or count: see the kinds */
	uint64_t lamport;
	uint8_t  trace_id[16]; /* all zero: not sampled */
	uint64_t span_id;      /* the message's span */
	uint64_t parent_span;  /* for a send: the span being handled */
	int64_t  dur_ns;       /* handle_end: time since handle_begin */
	char     what[TR_TRACE_WHAT_MAX];  /* message type or reason */
	char     name[TR_TRACE_NAME_MAX];  /* self's process name */
	char     actor[TR_TRACE_NAME_MAX]; /* self's actor ("" in main) */
	char     node[TR_TRACE_NAME_MAX];  /* the node (tr_node_start()) of
	                                    * self's run; "" none */
	uint32_t payload_len;              /* bytes in payload (send, receive
	                                    * with payload capture); 0: none */
	uint8_t payload[TR_TRACE_PAYLOAD_MAX]; /* the payload's first bytes */
} tr_trace_event;

/* "send", "receive", "handle_begin", ...; "?" for an unknown kind. */
TR_API const char *tr_trace_kind_name(uint32_t kind);
/* The kind named, or 0. */
TR_API uint32_t tr_trace_kind_parse(const char *name);

/* Record an event of this process: TR_TRACE_RESTART (what the supervisor
 * actor uses) or TR_TRACE_MARK.  Does nothing unless tracing is on; never
 * blocks.  Errors: -EINVAL for any other kind. */
TR_API int tr_trace_mark(
    uint32_t kind, tr_addr peer, int64_t value, const char *what);

/* ---- collecting (tools) ---------------------------------------------- */

/* A zero-initialised struct means the defaults. */
typedef struct tr_trace_opts {
	unsigned    sample;      /* record 1 root message in N; 0 or 1: all */
	const char *actors;      /* comma-separated globs on the process or
	                          * actor name; NULL or "": all */
	const char *types;       /* comma-separated globs on message types */
	uint64_t    limit;       /* stop after this many events; 0: 100000 */
	int         duration_ms; /* stop after; 0: 30 s; <0: never */
	unsigned    rate_n;      /* per-process trip: more than rate_n events */
	int         rate_ms;     /* in rate_ms switch that process off; 0: 1000
	                          * per 1000 ms; rate_n = UINT32_MAX: none */
	int lease_ms;            /* tracing goes off this long after the last
	                          * tr_trace_session_poll(); 0: 5000; <0: no lease */
	unsigned ring_slots;     /* events per process ring; 0: 16384 */
	unsigned payload;        /* payload capture: keep the first N bytes
	                          * (at most TR_TRACE_PAYLOAD_MAX) of each
	                          * traced message's payload; 0: none */
} tr_trace_opts;

typedef struct tr_trace_session tr_trace_session;

/* Switch tracing on in the run whose runtime directory is rundir (see
 * `troupe ps`) and become its collector.  Errors: -ENOENT (no such run or
 * no control page), -EBUSY (another live collector), -EINVAL, -ENOMEM. */
TR_API int tr_trace_session_open(
    tr_trace_session **ret, const char *rundir, const tr_trace_opts *opts);

/* Drain every ring of the run, calling fn for each event (in ring order
 * per process), renew the lease, and reap rings of processes that ended.
 * Returns the number of events, or -errno; -ENOENT once the run is gone
 * and everything was drained.  Never blocks. */
TR_API int tr_trace_session_poll(tr_trace_session *s,
    void (*fn)(const tr_trace_event *ev, void *arg), void *arg);

/* True while tracing is on (false once the limit, duration or lease
 * switched it off). */
TR_API bool tr_trace_session_active(tr_trace_session *s);

/* Switch tracing off and release the run; NULL-safe.  Call
 * tr_trace_session_poll() once more before to get the last events. */
TR_API void tr_trace_session_close(tr_trace_session **sp);

/* ---- trace files -------------------------------------------------------
 * A file starts with the 8 bytes "TRTRACE1", then records: a varint
 * length and that many bytes of a trwire.TraceEvent (proto/trace.proto). */

typedef struct tr_trace_file tr_trace_file;

/* Open path for reading (write = false) or create/truncate it for
 * writing.  Errors: -errno, TR_EBADFRAME (not a trace file). */
TR_API int tr_trace_file_open(
    tr_trace_file **ret, const char *path, bool write);
/* Append one event.  Errors: -errno, -ENOMEM. */
TR_API int tr_trace_file_write(tr_trace_file *f, const tr_trace_event *ev);
/* Next event: 1, 0 at the end (a truncated last record counts as the end
 * and sets tr_trace_file_truncated()), TR_EBADFRAME for a corrupt record.
 */
TR_API int  tr_trace_file_read(tr_trace_file *f, tr_trace_event *ret);
TR_API bool tr_trace_file_truncated(const tr_trace_file *f);
/* Write out what is buffered (writing), so that a reader of the file
 * sees every event written so far.  Errors: -EIO, -EINVAL. */
TR_API int tr_trace_file_flush(tr_trace_file *f);
/* Bytes written so far (writing). */
TR_API uint64_t tr_trace_file_size(const tr_trace_file *f);
/* Flush and close; NULL-safe.  Returns 0 or the first write error. */
TR_API int tr_trace_file_close(tr_trace_file **fp);

/* Pure codec, for tests and fuzzing: encode ev into buf (cap bytes) as a
 * trwire.TraceEvent, returning its length or -ENOBUFS; decode len bytes,
 * returning 0 or TR_EBADFRAME. */
TR_API int tr_trace_event_encode(
    const tr_trace_event *ev, uint8_t *buf, size_t cap);
TR_API int tr_trace_event_decode(
    const uint8_t *buf, size_t len, tr_trace_event *ret);

#ifdef __cplusplus
}
#endif

#endif /* TR_TRACE_H */
