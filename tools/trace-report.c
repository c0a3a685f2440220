/* SPDX-License-Identifier: MIT */
/* troupe trace stats, why and export: the commands that read a whole
 * trace file and report on it (the formats are in trace-export.c). */
#include "trace-tool.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* ---- stats --------------------------------------------------------------- */

struct row {
	char     key[160];
	uint64_t sent, recv, bytes, dead, dropped, restarts;
	int64_t *dur;
	size_t   ndur, capdur;
};

static struct row *
row_get(struct row **rows, size_t *n, const char *key)
{
	struct row *p;

	for (size_t i = 0; i < *n; i++) {
		if (strcmp((*rows)[i].key, key) == 0) {
			return &(*rows)[i];
		}
	}
	p = realloc(*rows, (*n + 1) * sizeof(*p));
	if (!p) {
		return NULL;
	}
	*rows = p;
	p     = &p[(*n)++];
	memset(p, 0, sizeof(*p));
	snprintf(p->key, sizeof(p->key), "%s", key);
	return p;
}

static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;

	return x < y ? -1 : x > y;
}

static void
print_rows(const char *title, struct row *rows, size_t n, bool times)
{
	printf("%s\n", title);
	for (size_t i = 0; i < n; i++) {
		struct row *r = &rows[i];

		printf("  %-40s sent %-7" PRIu64 " received %-7" PRIu64
		       " bytes %-9" PRIu64,
		    r->key, r->sent, r->recv, r->bytes);
		if (times) {
			printf(" dead_letters %" PRIu64 " dropped %" PRIu64
			       " restarts %" PRIu64,
			    r->dead, r->dropped, r->restarts);
		}
		if (times && r->ndur) {
			qsort(r->dur, r->ndur, sizeof(*r->dur), cmp_i64);
			printf(" handle_us p50 %.1f p99 %.1f max %.1f",
			    (double) r->dur[r->ndur / 2] / 1000.0,
			    (double) r->dur[(r->ndur * 99) / 100] / 1000.0,
			    (double) r->dur[r->ndur - 1] / 1000.0);
		}
		printf("\n");
		free(r->dur);
	}
	free(rows);
}

/* Node events, in time order: "nodes:" then one line each. */
static void
print_nodes(const struct evlist *l)
{
	size_t up = 0, down = 0, suspect = 0;
	char   a[96];

	for (size_t i = 0; i < l->n; i++) {
		up += l->ev[i].kind == TR_TRACE_NODEUP;
		down += l->ev[i].kind == TR_TRACE_NODEDOWN;
		suspect += l->ev[i].kind == TR_TRACE_NODESUSPECT;
	}
	if (!up && !down && !suspect) {
		return;
	}
	printf("nodes: %zu nodeup, %zu nodedown", up, down);
	if (suspect) {
		printf(", %zu nodesuspect", suspect);
	}
	printf("\n");
	for (size_t i = 0; i < l->n; i++) {
		const tr_trace_event *e = &l->ev[i];

		if (e->kind >= TR_TRACE_NODEUP &&
		    e->kind <= TR_TRACE_NODERESUMED) {
			printf("  %-8s %s (node id %" PRId64 ", seen by %s)\n",
			    tr_trace_kind_name(e->kind), e->what, e->value,
			    evlist_label(l, e->self, a, sizeof(a)));
		}
	}
}

int
trace_cmd_stats(const struct opts *o)
{
	struct evlist l   = { 0 };
	struct row   *act = NULL, *pair = NULL, *type = NULL;
	size_t        nact = 0, npair = 0, ntype = 0;
	char          key[160], a[96], b[96];
	int           code;

	if (o->nargs != 1) {
		return trace_usage(EXIT_USAGE);
	}
	code = trace_load(o->args[0], &l);
	for (size_t i = 0; code == EXIT_OK && i < l.n; i++) {
		const tr_trace_event *e = &l.ev[i];
		struct row           *r;
		bool                  got;

		snprintf(key, sizeof(key), "%s",
		    evlist_label(&l, e->self, a, sizeof(a)));
		r = row_get(&act, &nact, key);
		if (!r) {
			code = EXIT_FAIL;
			break;
		}
		r->sent += e->kind == TR_TRACE_SEND;
		r->recv += e->kind == TR_TRACE_RECEIVE;
		r->dead += e->kind == TR_TRACE_DEAD_LETTER;
		r->dropped +=
		    e->kind == TR_TRACE_DROPPED ? (uint64_t) e->value : 0;
		r->restarts += e->kind == TR_TRACE_RESTART;
		if (e->kind == TR_TRACE_SEND || e->kind == TR_TRACE_RECEIVE) {
			r->bytes += (uint64_t) e->value;
		}
		if (e->kind == TR_TRACE_HANDLE_END) {
			if (r->ndur == r->capdur) {
				size_t   nc = r->capdur ? 2 * r->capdur : 64;
				int64_t *p  = realloc(r->dur, nc * sizeof(*p));

				if (!p) {
					code = EXIT_FAIL;
					break;
				}
				r->dur    = p;
				r->capdur = nc;
			}
			r->dur[r->ndur++] = e->dur_ns;
		}
		if (e->kind != TR_TRACE_SEND) {
			continue;
		}
		snprintf(key, sizeof(key), "%s -> %s",
		    evlist_label(&l, e->self, a, sizeof(a)),
		    evlist_label(&l, e->peer, b, sizeof(b)));
		got = evlist_find(&l, TR_TRACE_RECEIVE, e->span_id) >= 0;
		if ((r = row_get(&pair, &npair, key))) {
			r->sent++;
			r->recv += got;
			r->bytes += (uint64_t) e->value;
		}
		if ((r = row_get(
		         &type, &ntype, e->what[0] ? e->what : "(bytes)"))) {
			r->sent++;
			r->recv += got;
			r->bytes += (uint64_t) e->value;
		}
	}
	if (code == EXIT_OK) {
		printf("%zu events\n", l.n);
	}
	print_rows("per actor:", act, nact, true);
	print_rows("per pair:", pair, npair, false);
	print_rows("per type:", type, ntype, false);
	print_nodes(&l);
	evlist_free(&l);
	return code;
}

/* ---- why ----------------------------------------------------------------- */

static long
find_msg(const struct evlist *l, const char *msg)
{
	unsigned long long pid, id, span;
	char              *end;

	if (sscanf(msg, "%llu:%llu", &pid, &id) == 2) {
		for (size_t i = 0; i < l->n; i++) {
			if (l->ev[i].kind == TR_TRACE_SEND &&
			    l->ev[i].self.pid == pid && l->ev[i].msg_id == id) {
				return (long) i;
			}
		}
		return -1;
	}
	span = strtoull(msg, &end, 16);
	return *end ? -1 : evlist_find_send(l, span);
}

int
trace_cmd_why(const struct opts *o)
{
	struct evlist l = { 0 };
	long          chain[256];
	size_t        n = 0;
	char          a[96], b[96], tid[33];
	int           code;

	if (o->nargs != 2) {
		return trace_usage(EXIT_USAGE);
	}
	code = trace_load(o->args[0], &l);
	if (code != EXIT_OK) {
		return code;
	}
	for (long i = find_msg(&l, o->args[1]); i >= 0 && n < 256;
	     i      = evlist_find_send(&l, l.ev[i].parent_span)) {
		chain[n++] = i;
		if (!l.ev[i].parent_span) {
			break;
		}
	}
	if (n == 0) {
		fprintf(stderr, "troupe trace: no message %s in %s\n",
		    o->args[1], o->args[0]);
		evlist_free(&l);
		return EXIT_NOTFOUND;
	}
	trace_hex(tid, l.ev[chain[0]].trace_id, 16);
	printf("trace %s, %zu hops, root first:\n", tid, n);
	while (n--) {
		const tr_trace_event *e = &l.ev[chain[n]];

		printf("  %s -> %s: %s id %" PRIu64 " span %016" PRIx64
		       " lamport %" PRIu64 "%s\n",
		    evlist_label(&l, e->self, a, sizeof(a)),
		    evlist_label(&l, e->peer, b, sizeof(b)),
		    e->what[0] ? e->what : "(bytes)", e->msg_id, e->span_id,
		    e->lamport,
		    e->parent_span && evlist_find_send(&l, e->parent_span) < 0
		        ? " (its cause is not in the file)"
		        : "");
		if (e->payload_len) {
			char txt[4 * TR_TRACE_PAYLOAD_MAX + 8];

			trace_payload_text(e, txt, sizeof(txt));
			printf("    payload \"%s\"\n", txt);
		}
	}
	evlist_free(&l);
	return EXIT_OK;
}

/* ---- export -------------------------------------------------------------- */

int
trace_cmd_export(const struct opts *o)
{
	struct evlist l   = { 0 };
	FILE         *out = stdout;
	int           code;

	if (o->nargs != 1 || !o->format) {
		return trace_usage(EXIT_USAGE);
	}
	code = trace_load(o->args[0], &l);
	if (code == EXIT_OK && o->out && !(out = fopen(o->out, "we"))) {
		fprintf(
		    stderr, "troupe trace: %s: %s\n", o->out, strerror(errno));
		code = EXIT_FAIL;
	}
	if (code == EXIT_OK) {
		code = trace_export(&l, o->format, out, o->max);
		if (out != stdout && fclose(out) != 0) {
			code = EXIT_FAIL;
		}
	}
	evlist_free(&l);
	return code;
}
