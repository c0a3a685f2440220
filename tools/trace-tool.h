/* SPDX-License-Identifier: MIT */
/* `troupe trace`: the commands (trace-cmd.c) and the export formats
 * (trace-export.c), over the public tracing API (troupe/trace.h). */
#ifndef TROUPE_TRACE_TOOL_H
#define TROUPE_TRACE_TOOL_H

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>

#include "troupe.h"

/* Exit codes (docs/trace.md). */
enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2, EXIT_NOTFOUND = 3 };

struct evlist {
	tr_trace_event *ev;
	size_t          n, cap;
	size_t         *byspan; /* indexes sorted by (span, kind, index) */
};

/* Build the span index (after the list is complete and sorted). */
int evlist_index(struct evlist *l);

int  evlist_add(struct evlist *l, const tr_trace_event *ev);
void evlist_free(struct evlist *l);
/* Index of the send event of the message whose span is span, or -1. */
long evlist_find_send(const struct evlist *l, uint64_t span);
/* Index of the first event of kind for span, or -1. */
long evlist_find(const struct evlist *l, uint32_t kind, uint64_t span);
/* "name (pid N)" of the process an address names, from the events. */
const char *evlist_label(
    const struct evlist *l, tr_addr a, char *buf, size_t n);

/* Parsed command line (trace-cmd.c). */
struct opts {
	tr_trace_opts t;
	const char   *out;
	const char   *format;
	const char   *kinds;
	const char   *nodes;    /* -n: node names (globs) */
	bool          follow;   /* tail -f */
	int           duration; /* tail -f: ms; 0 until a signal */
	bool          json;
	uint64_t      rotate_size;
	unsigned      rotate_count;
	size_t        max;
	int           nargs;
	char         *args[16];
};

/* Read a whole file into l, sorted by time, span-indexed: EXIT_OK, or
 * EXIT_FAIL with the reason on stderr. */
int  trace_load(const char *path, struct evlist *l);
int  trace_usage(int code);
void trace_hex(char *out, const uint8_t *p, size_t n);
int  trace_cmd_stats(const struct opts *o);
int  trace_cmd_why(const struct opts *o);
int  trace_cmd_export(const struct opts *o);

int trace_export(
    const struct evlist *l, const char *format, FILE *out, size_t max);
void trace_print_json(const tr_trace_event *ev, FILE *out);
/* The payload as text: printable ASCII as is, the rest \xNN (cap bytes
 * of out, NUL-terminated). */
void trace_payload_text(const tr_trace_event *ev, char *out, size_t cap);
/* The event passes the filters of o. */
bool trace_event_ok(const struct opts *o, const tr_trace_event *ev);
/* merge (trace-merge.c) and tail -f (trace-follow.c). */
int trace_cmd_merge(const struct opts *o);
int trace_follow(const struct opts *o, const char         *path,
    void (*fn)(const tr_trace_event *ev, void *arg), void *arg,
    volatile sig_atomic_t *stop);
/* The events of one file, unsorted: EXIT_OK or EXIT_FAIL (said). */
/* Write the events of l that pass o (all if o is NULL) to path. */
int trace_write_all(
    const char *path, const struct evlist *l, const struct opts *o);
int  trace_read_file(const char *path, struct evlist *l);
void trace_sort(struct evlist *l);

int trace_main(int argc, char **argv);

#endif /* TROUPE_TRACE_TOOL_H */
