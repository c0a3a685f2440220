/* SPDX-License-Identifier: MIT */
/* trace-pingpong -- a program that traces itself (include/troupe/trace.h):
 * it switches tracing on in its own run, plays three rounds of ping-pong
 * with an actor, and reads back what the runtime recorded: each pong was
 * sent while the ping was handled, so it is in the ping's trace with the
 * ping's span as its parent.  With a file name as argument it also writes
 * the trace there, for `troupe trace stats|why|export FILE`.
 *
 * `TROUPE_TRACE=FILE ./any-program` or `troupe trace record RUN` do the
 * same for a program that does not know about tracing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "troupe.h"

#define ROUNDS 3

static int
ponger(const void *args, size_t len)
{
	tr_msg *m;

	(void) args;
	(void) len;
	while (tr_recv(&m, 10000) == 0) {
		bool stop = tr_msg_size(m) == 0;
		int  r =
                    stop ? 0 : tr_send_bytes(tr_msg_sender(m), "pong", 4, 5000);

		tr_msg_destroy(&m);
		if (stop || r < 0) {
			return r < 0 ? 1 : 0;
		}
	}
	return 1;
}
TR_ACTOR(ponger, ponger)

static void
check(int r, const char *what)
{
	if (r < 0) {
		fprintf(
		    stderr, "trace-pingpong: %s: %s\n", what, tr_strerror(r));
		exit(1);
	}
}

#define MAXEV 256
static tr_trace_event ev[MAXEV];
static size_t         nev;

static void
keep(const tr_trace_event *e, void *arg)
{
	(void) arg;
	if (nev < MAXEV) {
		ev[nev++] = *e;
	}
}

/* The n-th send event recorded by pid. */
static const tr_trace_event *
nth_send(pid_t pid, int n)
{
	for (size_t i = 0; i < nev; i++) {
		if (ev[i].kind == TR_TRACE_SEND &&
		    ev[i].self.pid == (uint32_t) pid && n-- == 0) {
			return &ev[i];
		}
	}
	return NULL;
}

int
main(int argc, char **argv)
{
	tr_trace_opts     o = { .duration_ms = -1, .lease_ms = -1 };
	tr_trace_session *s;
	tr_process       *p;
	tr_addr           a;
	tr_msg           *m;
	long              lost    = 0;
	int               sent[2] = { 0, 0 };

	check(tr_init(argc, argv), "tr_init");
	check(tr_trace_session_open(&s, tr_runtime_dir(), &o), "trace on");
	check(tr_process_new(&p, "ponger", NULL, 0), "tr_process_new");
	check(tr_process_start(p, 10000), "tr_process_start");
	check(tr_process_addr(p, &a), "tr_process_addr");
	for (int i = 0; i < ROUNDS; i++) {
		check(tr_send_bytes(a, "ping", 4, 5000), "send");
		check(tr_recv(&m, 10000), "recv");
		tr_msg_destroy(&m);
	}
	check(tr_send_bytes(a, "", 0, 5000), "send");
	check(tr_process_join(p, 10000), "join");
	check(tr_trace_session_poll(s, keep, NULL), "collect");
	tr_trace_session_close(&s);
	for (int i = 0; i < ROUNDS; i++) {
		const tr_trace_event *ping = nth_send(getpid(), i);
		const tr_trace_event *pong = nth_send(tr_process_pid(p), i);

		printf("ping %d handled by %s; pong %d in its trace: %s\n",
		    i + 1, pong ? pong->name : "?", i + 1,
		    ping && pong && pong->parent_span == ping->span_id &&
		            !memcmp(ping->trace_id, pong->trace_id, 16)
		        ? "yes"
		        : "no");
	}
	for (size_t i = 0; i < nev; i++) {
		lost += ev[i].kind == TR_TRACE_DROPPED ? (long) ev[i].value : 0;
		if (ev[i].kind == TR_TRACE_SEND) {
			sent[ev[i].self.pid == (uint32_t) getpid()]++;
		}
	}
	printf("main sent %d, ponger sent %d, events lost %ld\n", sent[1],
	    sent[0], lost);
	if (argc > 1) {
		tr_trace_file *f;

		check(tr_trace_file_open(&f, argv[1], true), argv[1]);
		for (size_t i = 0; i < nev; i++) {
			check(tr_trace_file_write(f, &ev[i]), argv[1]);
		}
		check(tr_trace_file_close(&f), argv[1]);
		printf("wrote %zu events to %s\n", nev, argv[1]);
	}
	tr_process_destroy(&p);
	return 0;
}
