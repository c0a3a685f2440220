/* SPDX-License-Identifier: MIT */
/* libFuzzer target: a trace file (runtime/trace-file.c) as the tool reads
 * it, from any bytes.  The input's first byte says whether the file gets
 * the "TRTRACE1" magic put in front (so most inputs reach the records);
 * the rest is the file, written to a memfd and opened by its /proc path
 * with tr_trace_file_open().  Reading it to the end, skipping corrupt
 * records, never crashes, leaks or loops, and every event read is sane
 * (a known kind, strings terminated in their arrays, a payload within
 * TR_TRACE_PAYLOAD_MAX).  Then the good
 * events are written again with tr_trace_file_write() and read back whole
 * (the same events, not truncated) and cut at an offset the input's last
 * two bytes choose: exactly the records before the cut come back, then
 * the end, truncated unless the cut falls between records -- a truncated
 * file loses only its last record. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "troupe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAGIC "TRTRACE1"
#define NKEEP 64

static int  memfd = -1;
static char path[64];

static void
put_file(const void *a, size_t alen, const void *b, size_t blen)
{
	if (ftruncate(memfd, 0) != 0 ||
	    pwrite(memfd, a, alen, 0) != (ssize_t) alen ||
	    (blen > 0 &&
	        pwrite(memfd, b, blen, (off_t) alen) != (ssize_t) blen)) {
		abort();
	}
}

static bool
sane(const tr_trace_event *e)
{
	return e->kind > 0 && e->kind < TR_TRACE_KIND_MAX &&
	    memchr(e->what, '\0', sizeof(e->what)) &&
	    memchr(e->name, '\0', sizeof(e->name)) &&
	    memchr(e->actor, '\0', sizeof(e->actor)) &&
	    memchr(e->node, '\0', sizeof(e->node)) &&
	    e->payload_len <= TR_TRACE_PAYLOAD_MAX;
}

static bool
same(const tr_trace_event *a, const tr_trace_event *b)
{
	return a->ts_ns == b->ts_ns && a->kind == b->kind &&
	    tr_addr_eq(a->self, b->self) && tr_addr_eq(a->peer, b->peer) &&
	    a->msg_id == b->msg_id && a->value == b->value &&
	    a->lamport == b->lamport &&
	    memcmp(a->trace_id, b->trace_id, 16) == 0 &&
	    a->span_id == b->span_id && a->parent_span == b->parent_span &&
	    a->dur_ns == b->dur_ns && strcmp(a->what, b->what) == 0 &&
	    strcmp(a->name, b->name) == 0 && strcmp(a->actor, b->actor) == 0 &&
	    strcmp(a->node, b->node) == 0 && a->payload_len == b->payload_len &&
	    memcmp(a->payload, b->payload, a->payload_len) == 0;
}

/* Read the file now in the memfd: its events (the first NKEEP kept in
 * evs) until the end; corrupt records are skipped, their count in *bad.
 * Returns the number of good events, or the open's error. */
static int
read_all(tr_trace_event *evs, size_t bytes, int *bad, bool *truncated)
{
	tr_trace_file *f;
	tr_trace_event e;
	int            r, n = 0;

	r = tr_trace_file_open(&f, path, false);
	if (r < 0) {
		return r;
	}
	*bad = 0;
	/* each read takes at least a byte: more reads than bytes is a loop */
	for (size_t i = 0; (r = tr_trace_file_read(f, &e)) != 0; i++) {
		if (i > bytes) {
			abort();
		}
		if (r == TR_EBADFRAME) {
			(*bad)++;
			continue;
		}
		if (r != 1 || !sane(&e)) {
			abort();
		}
		if (n < NKEEP) {
			evs[n] = e;
		}
		n++;
	}
	*truncated = tr_trace_file_truncated(f);
	if (tr_trace_file_close(&f) != 0) {
		abort();
	}
	return n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static tr_trace_event evs[NKEEP], back[NKEEP];
	uint64_t              ends[NKEEP + 1];
	tr_trace_file        *f;
	int                   n, m, bad;
	bool                  truncated;
	size_t                cut, k;

	if (memfd < 0) {
		memfd = memfd_create("fuzz-trace", MFD_CLOEXEC);
		if (memfd < 0) {
			abort();
		}
		snprintf(path, sizeof(path), "/proc/self/fd/%d", memfd);
	}
	if (size < 1) {
		return 0;
	}
	if (data[0] & 1) {
		put_file(MAGIC, 8, data + 1, size - 1);
	} else {
		put_file(data + 1, size - 1, NULL, 0);
	}
	n = read_all(evs, size + 8, &bad, &truncated);
	if (n < 0) {
		if (n != TR_EBADFRAME) {
			abort(); /* a short or wrong magic is all that fails */
		}
		return 0;
	}
	n = n < NKEEP ? n : NKEEP;

	/* the good events written again: read back whole */
	if (tr_trace_file_open(&f, path, true) != 0) {
		abort();
	}
	ends[0] = tr_trace_file_size(f);
	for (int i = 0; i < n; i++) {
		if (tr_trace_file_write(f, &evs[i]) != 0) {
			abort(); /* an event we read, we cannot write */
		}
		ends[i + 1] = tr_trace_file_size(f);
	}
	if (tr_trace_file_close(&f) != 0) {
		abort();
	}
	m = read_all(back, ends[n], &bad, &truncated);
	if (m != n || bad != 0 || truncated) {
		abort();
	}
	for (int i = 0; i < n; i++) {
		if (!same(&evs[i], &back[i])) {
			abort(); /* an event changed on its way through a file
			          */
		}
	}

	/* cut short: only what was cut off is lost */
	cut = size >= 3 ? (size_t) (data[size - 2] | data[size - 1] << 8) : 0;
	cut %= ends[n] + 1;
	if (ftruncate(memfd, (off_t) cut) != 0) {
		abort();
	}
	m = read_all(back, ends[n], &bad, &truncated);
	if (cut < 8) {
		if (m != TR_EBADFRAME) {
			abort();
		}
		return 0;
	}
	for (k = 0; k < (size_t) n && ends[k + 1] <= cut; k++) { }
	if (m != (int) k || bad != 0 || truncated != (ends[k] != cut)) {
		abort();
	}
	for (size_t i = 0; i < k; i++) {
		if (!same(&evs[i], &back[i])) {
			abort();
		}
	}
	return 0;
}
