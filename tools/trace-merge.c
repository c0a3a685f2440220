/* SPDX-License-Identifier: MIT */
/* troupe trace merge: files from several hosts into one, by time, with
 * each file's clock offset estimated from the messages between the files.
 *
 * A message sent by file i and received by file j gives d = receive - send
 * as the two clocks read them.  With off_x the amount file x's clock is
 * ahead, the true delay d - (off_j - off_i) is >= 0, so
 *     off_j - off_i <= A(i,j) = min d over the messages i -> j.
 * With messages both ways, off_j - off_i also >= -A(j,i), and the estimate
 * is the middle, (A(i,j) - A(j,i)) / 2, off by at most (A(i,j) + A(j,i)) / 2
 * (NTP's minimum-delay bound).  With one way only, the offset is the
 * smallest change that puts every receive at least 1 us after its send (0
 * if they already are).  Offsets are found from the first file outwards
 * (breadth first over the files that exchanged messages); a file with none
 * is left as it is.  Every receive or handling still drawn before its send
 * afterwards is moved to 1 us after it.  docs/trace.md. */
#include "trace-tool.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define MIN_DELAY_NS 1000

struct recv_ix {
	uint64_t span;
	int64_t  ts;
};

static int
cmp_recv(const void *a, const void *b)
{
	const struct recv_ix *x = a, *y = b;

	if (x->span != y->span) {
		return x->span < y->span ? -1 : 1;
	}
	return x->ts < y->ts ? -1 : x->ts > y->ts;
}

/* The first receive (or, without one, handling) of each span in l. */
static struct recv_ix *
recv_index(const struct evlist *l, size_t *ret_n)
{
	struct recv_ix *ix = malloc((l->n ? l->n : 1) * sizeof(*ix));
	size_t          n  = 0;

	if (!ix) {
		return NULL;
	}
	for (size_t i = 0; i < l->n; i++) {
		const tr_trace_event *e = &l->ev[i];

		if (e->span_id &&
		    (e->kind == TR_TRACE_RECEIVE ||
		        e->kind == TR_TRACE_HANDLE_BEGIN)) {
			ix[n++] = (struct recv_ix) { e->span_id, e->ts_ns };
		}
	}
	qsort(ix, n, sizeof(*ix), cmp_recv);
	*ret_n = n;
	return ix;
}

static const struct recv_ix *
recv_find(const struct recv_ix *ix, size_t n, uint64_t span)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (ix[mid].span < span) {
			lo = mid + 1;
		} else {
			hi = mid;
		}
	}
	return lo < n && ix[lo].span == span ? &ix[lo] : NULL;
}

/* Per ordered pair of files: messages and the least receive - send. */
struct link {
	uint64_t n;
	int64_t  min;
};

static void
measure(const struct evlist *from, const struct recv_ix *ix, size_t nix,
    struct link *k)
{
	for (size_t i = 0; i < from->n; i++) {
		const tr_trace_event *e = &from->ev[i];
		const struct recv_ix *r;
		int64_t               d;

		if (e->kind != TR_TRACE_SEND || !e->span_id ||
		    !(r = recv_find(ix, nix, e->span_id))) {
			continue;
		}
		d = r->ts - e->ts_ns;
		if (!k->n || d < k->min) {
			k->min = d;
		}
		k->n++;
	}
}

/* A receive or handle drawn before its send is moved to just after it. */
static void
clamp(struct evlist *l)
{
	for (size_t i = 0; i < l->n; i++) {
		tr_trace_event *e = &l->ev[i];
		long            s;

		if (e->kind < TR_TRACE_RECEIVE ||
		    e->kind > TR_TRACE_HANDLE_END) {
			continue;
		}
		s = evlist_find_send(l, e->span_id);
		if (s >= 0 && e->ts_ns <= l->ev[s].ts_ns) {
			e->ts_ns = l->ev[s].ts_ns + MIN_DELAY_NS;
		}
	}
	trace_sort(l);
	(void) evlist_index(l);
}

/* The offset of file j from that of file i (off_j - off_i), and the
 * half-width of the interval it is known within (-1: a one-way bound;
 * -2: the two ways disagree). */
static int64_t
offset_of(const struct link *ij, const struct link *ji, int64_t *bound)
{
	if (ij->n && ji->n) {
		/* a negative least round trip: the messages disagree (a pid
		 * in two files, or a clock that jumped); still the middle,
		 * and the receives are moved after their sends below */
		*bound = ij->min + ji->min >= 0 ? (ij->min + ji->min) / 2 : -2;
		return (ij->min - ji->min) / 2;
	}
	*bound = -1;
	if (ij->n) {
		return ij->min < MIN_DELAY_NS ? ij->min - MIN_DELAY_NS : 0;
	}
	return ji->min < MIN_DELAY_NS ? MIN_DELAY_NS - ji->min : 0;
}

/* Offsets of every file (off[0] = 0) and how each was found. */
static int
estimate(struct evlist *f, int nf, int64_t *off, int64_t *bound, int *via,
    struct link *k)
{
	int  queue[16], qh = 0, qt = 0;
	bool done[16] = { false };

	for (int j = 0; j < nf; j++) {
		size_t          nix;
		struct recv_ix *ix = recv_index(&f[j], &nix);

		if (!ix) {
			return -1;
		}
		for (int i = 0; i < nf; i++) {
			if (i != j) {
				measure(&f[i], ix, nix, &k[i * nf + j]);
			}
		}
		free(ix);
		off[j]   = 0;
		bound[j] = 0;
		via[j]   = -1;
	}
	done[0]     = true;
	queue[qt++] = 0;
	while (qh < qt) {
		int i = queue[qh++];

		for (int j = 0; j < nf; j++) {
			const struct link *ij = &k[i * nf + j],
			                  *ji = &k[j * nf + i];

			if (done[j] || (!ij->n && !ji->n)) {
				continue;
			}
			off[j]      = off[i] + offset_of(ij, ji, &bound[j]);
			via[j]      = i;
			done[j]     = true;
			queue[qt++] = j;
		}
	}
	return 0;
}

int
trace_cmd_merge(const struct opts *o)
{
	struct evlist f[16], all = { 0 };
	struct link  *k;
	int64_t       off[16], bound[16];
	int           via[16], nf = o->nargs, code = EXIT_OK;

	if (nf < 1 || !o->out) {
		return trace_usage(EXIT_USAGE);
	}
	memset(f, 0, sizeof(f));
	k = calloc((size_t) (nf * nf), sizeof(*k));
	if (!k) {
		fprintf(stderr, "troupe trace: out of memory\n");
		return EXIT_FAIL;
	}
	for (int i = 0; i < nf && code == EXIT_OK; i++) {
		code = trace_read_file(o->args[i], &f[i]);
	}
	if (code == EXIT_OK && estimate(f, nf, off, bound, via, k) < 0) {
		fprintf(stderr, "troupe trace: out of memory\n");
		code = EXIT_FAIL;
	}
	for (int j = 0; code == EXIT_OK && j < nf; j++) {
		const struct link *a = via[j] >= 0 ? &k[via[j] * nf + j] : NULL;
		const struct link *b = via[j] >= 0 ? &k[j * nf + via[j]] : NULL;

		fprintf(stderr, "troupe trace: merge: %s: ", o->args[j]);
		if (j == 0) {
			fprintf(stderr, "the reference clock\n");
		} else if (via[j] < 0) {
			fprintf(stderr,
			    "no messages with the other files: clock as "
			    "recorded\n");
		} else if (bound[j] == -2) {
			fprintf(stderr,
			    "clock offset %+.6f s (the messages with %s "
			    "disagree: no bound)\n",
			    (double) off[j] / 1e9, o->args[via[j]]);
		} else if (bound[j] >= 0) {
			fprintf(stderr,
			    "clock offset %+.6f s (+-%.6f s; %" PRIu64
			    " messages from %s, %" PRIu64 " to it)\n",
			    (double) off[j] / 1e9, (double) bound[j] / 1e9,
			    a->n, o->args[via[j]], b->n);
		} else {
			fprintf(stderr,
			    "clock offset %+.6f s (one-way bound; %" PRIu64
			    " messages with %s)\n",
			    (double) off[j] / 1e9, a->n + b->n,
			    o->args[via[j]]);
		}
		for (size_t i = 0; i < f[j].n; i++) {
			f[j].ev[i].ts_ns -= off[j];
			if (evlist_add(&all, &f[j].ev[i]) < 0) {
				code = EXIT_FAIL;
				break;
			}
		}
	}
	if (code == EXIT_OK) {
		trace_sort(&all);
		if (evlist_index(&all) < 0) {
			code = EXIT_FAIL;
		}
	}
	if (code == EXIT_OK) {
		clamp(&all);
		code = trace_write_all(o->out, &all, NULL);
	}
	for (int i = 0; i < nf; i++) {
		evlist_free(&f[i]);
	}
	evlist_free(&all);
	free(k);
	return code;
}
