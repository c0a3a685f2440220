/* SPDX-License-Identifier: MIT */
/* troupe trace -- record, tail, stats, why, export, filter and merge.
 * Exit codes: 0 done, 1 failed (no such run, unreadable or corrupt file),
 * 2 usage, 3 `why`: no such message.  See docs/trace.md. */
#include "trace-tool.h"

#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void
on_signal(int sig)
{
	(void) sig;
	stop = 1;
}

/* ---- event lists --------------------------------------------------------- */

int
evlist_add(struct evlist *l, const tr_trace_event *ev)
{
	if (l->n == l->cap) {
		size_t          ncap = l->cap ? 2 * l->cap : 256;
		tr_trace_event *p    = realloc(l->ev, ncap * sizeof(*p));

		if (!p) {
			return -ENOMEM;
		}
		l->ev  = p;
		l->cap = ncap;
	}
	l->ev[l->n++] = *ev;
	return 0;
}

static const struct evlist *sorting;

static int
cmp_span(const void *a, const void *b)
{
	const tr_trace_event *x = &sorting->ev[*(const size_t *) a];
	const tr_trace_event *y = &sorting->ev[*(const size_t *) b];

	if (x->span_id != y->span_id) {
		return x->span_id < y->span_id ? -1 : 1;
	}
	if (x->kind != y->kind) {
		return x->kind < y->kind ? -1 : 1;
	}
	return *(const size_t *) a < *(const size_t *) b ? -1 : 1;
}

int
evlist_index(struct evlist *l)
{
	free(l->byspan);
	l->byspan = malloc((l->n ? l->n : 1) * sizeof(*l->byspan));
	if (!l->byspan) {
		return -ENOMEM;
	}
	for (size_t i = 0; i < l->n; i++) {
		l->byspan[i] = i;
	}
	sorting = l;
	qsort(l->byspan, l->n, sizeof(*l->byspan), cmp_span);
	return 0;
}

void
evlist_free(struct evlist *l)
{
	free(l->byspan);
	free(l->ev);
	memset(l, 0, sizeof(*l));
}

long
evlist_find(const struct evlist *l, uint32_t kind, uint64_t span)
{
	size_t lo = 0, hi = l->n;

	if (l->byspan && span) {
		while (lo < hi) {
			size_t                mid = (lo + hi) / 2;
			const tr_trace_event *e   = &l->ev[l->byspan[mid]];

			if (e->span_id < span ||
			    (e->span_id == span && e->kind < kind)) {
				lo = mid + 1;
			} else {
				hi = mid;
			}
		}
		if (lo < l->n && l->ev[l->byspan[lo]].span_id == span &&
		    l->ev[l->byspan[lo]].kind == kind) {
			return (long) l->byspan[lo];
		}
		return -1;
	}
	for (size_t i = 0; span && i < l->n; i++) {
		if (l->ev[i].kind == kind && l->ev[i].span_id == span) {
			return (long) i;
		}
	}
	return -1;
}

long
evlist_find_send(const struct evlist *l, uint64_t span)
{
	return evlist_find(l, TR_TRACE_SEND, span);
}

const char *
evlist_label(const struct evlist *l, tr_addr a, char *buf, size_t n)
{
	for (size_t i = 0; i < l->n; i++) {
		if (l->ev[i].self.pid == a.pid) {
			snprintf(buf, n, "%s (pid %" PRIu32 ")",
			    l->ev[i].name[0] ? l->ev[i].name : "?", a.pid);
			return buf;
		}
	}
	snprintf(buf, n, "pid %" PRIu32, a.pid);
	return buf;
}

static int
cmp_ts(const void *a, const void *b)
{
	const tr_trace_event *x = a, *y = b;

	if (x->ts_ns != y->ts_ns) {
		return x->ts_ns < y->ts_ns ? -1 : 1;
	}
	return x->lamport < y->lamport ? -1 : x->lamport > y->lamport;
}

void
trace_sort(struct evlist *l)
{
	qsort(l->ev, l->n, sizeof(*l->ev), cmp_ts);
}

/* Read a whole file into l, sorted by time.  EXIT_OK or EXIT_FAIL. */
int
trace_load(const char *path, struct evlist *l)
{
	int code = trace_read_file(path, l);

	if (code != EXIT_OK) {
		return code;
	}
	trace_sort(l);
	if (evlist_index(l) < 0) {
		fprintf(stderr, "troupe trace: out of memory\n");
		return EXIT_FAIL;
	}
	return EXIT_OK;
}

int
trace_read_file(const char *path, struct evlist *l)
{
	tr_trace_file *f;
	tr_trace_event ev;
	int            r = tr_trace_file_open(&f, path, false);

	if (r < 0) {
		fprintf(stderr, "troupe trace: %s: %s\n", path,
		    r == TR_EBADFRAME ? "not a troupe trace file"
		                      : tr_strerror(r));
		return EXIT_FAIL;
	}
	while ((r = tr_trace_file_read(f, &ev)) == 1) {
		if (evlist_add(l, &ev) < 0) {
			r = -ENOMEM;
			break;
		}
	}
	if (r < 0) {
		fprintf(stderr,
		    "troupe trace: %s: corrupt record after %zu events\n", path,
		    l->n);
		tr_trace_file_close(&f);
		return EXIT_FAIL;
	}
	if (tr_trace_file_truncated(f)) {
		fprintf(stderr,
		    "troupe trace: %s: last record truncated (ignored)\n",
		    path);
	}
	tr_trace_file_close(&f);
	return EXIT_OK;
}

/* ---- options ------------------------------------------------------------- */

static const char *usage_text =
    "usage: troupe trace COMMAND [OPTIONS] ...\n"
    "  record  [FILTERS] [LIMITS] [-o FILE] RUN   switch tracing on in a\n"
    "          running program (a runtime dir or its main pid, see `troupe\n"
    "          ps`) and write its events to FILE (default trace.trc)\n"
    "  attach  the same as record\n"
    "  tail    [FILTERS] [--json] [-f [--duration MS]] RUN|FILE  print\n"
    "          events as text or JSON lines, live from a run or from a\n"
    "          file (-f: follow the file as it grows and rotates, until\n"
    "          SIGINT/SIGTERM or MS ms)\n"
    "  stats   FILE                               counts, bytes, drops,\n"
    "          restarts, handle time p50/p99/max per actor, pair and type\n"
    "  why     FILE MSG                           the causal chain of a\n"
    "          message (its span id in hex, or PID:MSGID) back to its root\n"
    "  export  --format chrome|mermaid|otlp|html|svg|jsonl [-o OUT] FILE\n"
    "  filter  [FILTERS] [--kind K,K] -o OUT FILE\n"
    "  merge   -o OUT FILE...                     one file, by time, each\n"
    "          file's clock offset estimated from the messages between\n"
    "          them (said on stderr), a receive never before its send\n"
    "FILTERS: -a, --actors GLOB,..  -t, --types GLOB,..  -n, --node GLOB,..\n"
    "         (the node of the recording run, or of the peer)\n"
    "LIMITS:  --sample N (1 root message in N)  --limit N (events, default\n"
    "         100000)  --duration MS (default 30000, -1 none)  --rate N/MS\n"
    "         (per process, default 1000/1000; 0 none)  --lease MS\n"
    "         (default 5000)  --slots N (ring size)  --rotate-size BYTES\n"
    "         --rotate-count N  --max N (export: messages, default 200)\n"
    "         --payload N (record: keep each message's first N bytes,\n"
    "         at most 256; default none)\n"
    "exit codes: 0 done, 1 failed (no such run, bad file), 2 usage,\n"
    "            3 why: no such message\n";

int
trace_usage(int code)
{
	fputs(usage_text, code == EXIT_OK ? stdout : stderr);
	return code;
}

static bool
num(const char *s, long long *ret)
{
	char *end;

	errno = 0;
	*ret  = strtoll(s, &end, 10);
	return s[0] && !*end && errno == 0;
}

/* Parse argv[from..]; EXIT_OK or EXIT_USAGE.  -f is --follow for tail,
 * --format for the others. */
static int
parse(int argc, char **argv, int from, struct opts *o, bool tail)
{
	memset(o, 0, sizeof(*o));
	o->max          = 200;
	o->rotate_count = 8;
	for (int i = from; i < argc; i++) {
		const char *a   = argv[i];
		const char *v   = i + 1 < argc ? argv[i + 1] : NULL;
		long long   n   = 0;
		bool        val = true;

		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			return trace_usage(EXIT_OK) - 100;
		} else if (strcmp(a, "--json") == 0) {
			o->json = true;
			val     = false;
		} else if ((tail && !strcmp(a, "-f")) ||
		    !strcmp(a, "--follow")) {
			o->follow = true;
			val       = false;
		} else if (a[0] != '-' || strcmp(a, "-") == 0) {
			if (o->nargs == 16) {
				return EXIT_USAGE;
			}
			o->args[o->nargs++] = argv[i];
			val                 = false;
		} else if (!v) {
			fprintf(stderr, "troupe trace: %s needs a value\n", a);
			return EXIT_USAGE;
		} else if (!strcmp(a, "-a") || !strcmp(a, "--actors")) {
			o->t.actors = v;
		} else if (!strcmp(a, "-t") || !strcmp(a, "--types")) {
			o->t.types = v;
		} else if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
			o->out = v;
		} else if (!strcmp(a, "-f") || !strcmp(a, "--format")) {
			o->format = v;
		} else if (!strcmp(a, "--kind")) {
			o->kinds = v;
		} else if (!strcmp(a, "-n") || !strcmp(a, "--node")) {
			o->nodes = v;
		} else if (!strcmp(a, "--rate")) {
			char *end;

			o->t.rate_n  = (unsigned) strtoul(v, &end, 10);
			o->t.rate_ms = *end == '/'
			    ? (int) strtol(end + 1, NULL, 10)
			    : 1000;
			if (o->t.rate_n == 0) {
				o->t.rate_n = UINT32_MAX;
			}
		} else if (!num(v, &n)) {
			fprintf(stderr, "troupe trace: %s: not a number: %s\n",
			    a, v);
			return EXIT_USAGE;
		} else if (!strcmp(a, "--sample")) {
			o->t.sample = (unsigned) n;
		} else if (!strcmp(a, "--limit")) {
			o->t.limit = (uint64_t) n;
		} else if (!strcmp(a, "--duration")) {
			o->t.duration_ms = (int) n;
			o->duration      = (int) n;
		} else if (!strcmp(a, "--payload")) {
			if (n < 0 || n > TR_TRACE_PAYLOAD_MAX) {
				fprintf(stderr,
				    "troupe trace: --payload: 0 to %d bytes\n",
				    TR_TRACE_PAYLOAD_MAX);
				return EXIT_USAGE;
			}
			o->t.payload = (unsigned) n;
		} else if (!strcmp(a, "--lease")) {
			o->t.lease_ms = (int) n;
		} else if (!strcmp(a, "--slots")) {
			o->t.ring_slots = (unsigned) n;
		} else if (!strcmp(a, "--rotate-size")) {
			o->rotate_size = (uint64_t) n;
		} else if (!strcmp(a, "--rotate-count")) {
			o->rotate_count = (unsigned) n;
		} else if (!strcmp(a, "--max")) {
			o->max = (size_t) n;
		} else {
			fprintf(stderr, "troupe trace: unknown option %s\n", a);
			return EXIT_USAGE;
		}
		i += val;
	}
	return EXIT_OK;
}

static bool
kind_ok(const char *kinds, uint32_t k)
{
	char buf[256], *save = NULL;

	if (!kinds) {
		return true;
	}
	snprintf(buf, sizeof(buf), "%s", kinds);
	for (char *t = strtok_r(buf, ",", &save); t;
	     t       = strtok_r(NULL, ",", &save)) {
		if (tr_trace_kind_parse(t) == k) {
			return true;
		}
	}
	return false;
}

static bool
glob_list(const char *list, const char *s)
{
	char buf[256], *save = NULL;

	if (!list || !list[0]) {
		return true;
	}
	snprintf(buf, sizeof(buf), "%s", list);
	for (char *t = strtok_r(buf, ",", &save); t;
	     t       = strtok_r(NULL, ",", &save)) {
		if (fnmatch(t, s, 0) == 0) {
			return true;
		}
	}
	return false;
}

/* The event's run is on a node of the list, or its peer is (an exact
 * name, by its id), or it is a node event about one. */
static bool
node_ok(const char *list, const tr_trace_event *ev)
{
	char buf[256], *save = NULL, about[TR_TRACE_WHAT_MAX];

	if (!list || !list[0] || (ev->node[0] && glob_list(list, ev->node))) {
		return true;
	}
	snprintf(about, sizeof(about), "%s", ev->what);
	about[strcspn(about, ":")] = '\0';
	if (ev->kind >= TR_TRACE_NODEUP && ev->kind <= TR_TRACE_NODERESUMED &&
	    glob_list(list, about)) {
		return true;
	}
	snprintf(buf, sizeof(buf), "%s", list);
	for (char *t = strtok_r(buf, ",", &save); t;
	     t       = strtok_r(NULL, ",", &save)) {
		if (ev->peer.node && ev->peer.node == tr_node_id(t)) {
			return true;
		}
	}
	return false;
}

bool
trace_event_ok(const struct opts *o, const tr_trace_event *ev)
{
	bool msg = ev->kind >= TR_TRACE_SEND && ev->kind <= TR_TRACE_HANDLE_END;

	return kind_ok(o->kinds, ev->kind) &&
	    (glob_list(o->t.actors, ev->name) ||
	        (ev->actor[0] && glob_list(o->t.actors, ev->actor))) &&
	    (!msg || glob_list(o->t.types, ev->what)) && node_ok(o->nodes, ev);
}

#define event_ok trace_event_ok

/* ---- text and JSON lines ------------------------------------------------- */

void
trace_hex(char *out, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		sprintf(out + 2 * i, "%02x", p[i]);
	}
}

void
trace_payload_text(const tr_trace_event *ev, char *out, size_t cap)
{
	size_t k = 0;

	for (uint32_t i = 0; i < ev->payload_len && k + 5 < cap; i++) {
		uint8_t c = ev->payload[i];

		if (c >= 0x20 && c < 0x7f && c != '\\' && c != '"') {
			out[k++] = (char) c;
		} else {
			k += (size_t) snprintf(out + k, cap - k, "\\x%02x", c);
		}
	}
	out[k] = '\0';
}

void
trace_print_json(const tr_trace_event *ev, FILE *out)
{
	char tid[33], hex[2 * TR_TRACE_PAYLOAD_MAX + 1];

	trace_hex(tid, ev->trace_id, 16);
	trace_hex(hex, ev->payload, ev->payload_len);
	hex[2 * ev->payload_len] = '\0';
	fprintf(out,
	    "{\"ts_ns\":%" PRId64 ",\"pid\":%" PRIu32 ",\"name\":\"%s\","
	    "\"actor\":\"%s\",\"inc\":%" PRIu64 ",\"ev\":\"%s\","
	    "\"msg_id\":%" PRIu64 ",\"type\":\"%s\",\"peer\":%" PRIu32
	    ",\"value\":%" PRId64 ",\"lamport\":%" PRIu64
	    ",\"trace_id\":\"%s\",\"span_id\":\"%016" PRIx64
	    "\",\"parent_span\":\"%016" PRIx64 "\",\"dur_ns\":%" PRId64
	    ",\"node\":\"%s\",\"peer_node\":%" PRIu32 ",\"payload\":\"%s\"}\n",
	    ev->ts_ns, ev->self.pid, ev->name, ev->actor, ev->self.incarnation,
	    tr_trace_kind_name(ev->kind), ev->msg_id, ev->what, ev->peer.pid,
	    ev->value, ev->lamport, tid, ev->span_id, ev->parent_span,
	    ev->dur_ns, ev->node, ev->peer.node, hex);
}

static void
print_text(const tr_trace_event *ev, FILE *out)
{
	time_t    s = (time_t) (ev->ts_ns / 1000000000);
	struct tm tm;

	gmtime_r(&s, &tm);
	fprintf(out, "%02d:%02d:%02d.%06ld %-12s pid %-7" PRIu32 " %-13s",
	    tm.tm_hour, tm.tm_min, tm.tm_sec,
	    (long) (ev->ts_ns % 1000000000) / 1000,
	    ev->name[0] ? ev->name : "?", ev->self.pid,
	    tr_trace_kind_name(ev->kind));
	if (ev->peer.pid) {
		fprintf(out, " peer %-7" PRIu32, ev->peer.pid);
	}
	if (ev->msg_id) {
		fprintf(out, " id %-6" PRIu64, ev->msg_id);
	}
	if (ev->what[0]) {
		fprintf(out, " %s", ev->what);
	}
	if (ev->kind == TR_TRACE_HANDLE_END) {
		fprintf(out, " %.1f us", (double) ev->dur_ns / 1000.0);
	} else if (ev->value && ev->kind != TR_TRACE_SEND &&
	    ev->kind != TR_TRACE_RECEIVE) {
		fprintf(out, " value %" PRId64, ev->value);
	} else if (ev->value) {
		fprintf(out, " %" PRId64 " B", ev->value);
	}
	if (ev->span_id) {
		fprintf(out, " span %016" PRIx64, ev->span_id);
	}
	if (ev->node[0]) {
		fprintf(out, " node %s", ev->node);
	}
	if (ev->payload_len) {
		char txt[4 * TR_TRACE_PAYLOAD_MAX + 8];

		trace_payload_text(ev, txt, sizeof(txt));
		fprintf(out, " payload \"%s\"", txt);
	}
	fputc('\n', out);
}

/* ---- live: record and tail ----------------------------------------------- */

/* RUN is a runtime directory, or the pid of a run's main program. */
static int
find_run(const char *run, char *dir, size_t n)
{
	const char *bases[] = { getenv("TROUPE_RUNTIME_DIR"),
		getenv("XDG_RUNTIME_DIR"), "/tmp" };
	long long   pid;

	if (!num(run, &pid)) {
		snprintf(dir, n, "%s", run);
		return 0;
	}
	for (size_t b = 0; b < 3; b++) {
		DIR           *d = bases[b] ? opendir(bases[b]) : NULL;
		struct dirent *e;
		char           prefix[64];

		snprintf(prefix, sizeof(prefix), "troupe-%lld-", pid);
		while (d && (e = readdir(d))) {
			if (strncmp(e->d_name, prefix, strlen(prefix)) == 0) {
				snprintf(dir, n, "%s/%s", bases[b], e->d_name);
				closedir(d);
				return 0;
			}
		}
		if (d) {
			closedir(d);
		}
	}
	return -ENOENT;
}

struct sink {
	const struct opts *o;
	tr_trace_file     *f;
	const char        *path;
	uint64_t           n;
	int                err;
};

static int
rotate(struct sink *k)
{
	char from[4096], to[4096];
	int  r = tr_trace_file_close(&k->f);

	for (unsigned i = k->o->rotate_count; r == 0 && i > 1; i--) {
		snprintf(from, sizeof(from), "%s.%u", k->path, i - 1);
		snprintf(to, sizeof(to), "%s.%u", k->path, i);
		(void) rename(from, to);
	}
	snprintf(to, sizeof(to), "%s.1", k->path);
	if (r == 0 && k->o->rotate_count > 0) {
		(void) rename(k->path, to);
	}
	return r < 0 ? r : tr_trace_file_open(&k->f, k->path, true);
}

static void
on_event(const tr_trace_event *ev, void *arg)
{
	struct sink *k = arg;

	if (!event_ok(k->o, ev)) {
		return;
	}
	k->n++;
	if (!k->f) {
		if (k->o->json) {
			trace_print_json(ev, stdout);
		} else {
			print_text(ev, stdout);
		}
		return;
	}
	if (tr_trace_file_write(k->f, ev) < 0) {
		k->err = -EIO;
	}
	if (k->o->rotate_size && tr_trace_file_size(k->f) > k->o->rotate_size &&
	    rotate(k) < 0) {
		k->err = -EIO;
	}
}

static int
live(const struct opts *o, const char *run, struct sink *k)
{
	tr_trace_session *s;
	char              dir[4096];
	int               r    = find_run(run, dir, sizeof(dir));
	struct timespec   tick = { 0, 20 * 1000000 };

	if (r == 0) {
		r = tr_trace_session_open(&s, dir, &o->t);
	}
	if (r < 0) {
		fprintf(stderr, "troupe trace: cannot trace run %s: %s\n", run,
		    r == -ENOENT ? "no such run" : tr_strerror(r));
		return EXIT_FAIL;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	if (!o->json && !k->f) {
		setvbuf(stdout, NULL, _IOLBF, 0);
	}
	while (!stop && !k->err) {
		r = tr_trace_session_poll(s, on_event, k);
		if (r < 0 || !tr_trace_session_active(s)) {
			break;
		}
		if (!k->f) {
			fflush(stdout);
		} else if (tr_trace_file_flush(k->f) < 0) {
			k->err =
			    -EIO; /* a reader (tail -f) sees whole rounds */
		}
		nanosleep(&tick, NULL);
	}
	(void) tr_trace_session_poll(s, on_event, k);
	tr_trace_session_close(&s);
	return k->err ? EXIT_FAIL : EXIT_OK;
}

static int
cmd_record(const struct opts *o)
{
	struct sink k = { .o = o, .path = o->out ? o->out : "trace.trc" };
	int         r, code;

	if (o->nargs != 1) {
		return trace_usage(EXIT_USAGE);
	}
	r = tr_trace_file_open(&k.f, k.path, true);
	if (r < 0) {
		fprintf(
		    stderr, "troupe trace: %s: %s\n", k.path, tr_strerror(r));
		return EXIT_FAIL;
	}
	code = live(o, o->args[0], &k);
	if (tr_trace_file_close(&k.f) < 0) {
		code = EXIT_FAIL;
	}
	fprintf(
	    stderr, "troupe trace: %" PRIu64 " events in %s\n", k.n, k.path);
	return code;
}

static int
cmd_tail(const struct opts *o)
{
	struct sink   k = { .o = o };
	struct evlist l = { 0 };
	struct stat   st;
	int           code;

	if (o->nargs != 1) {
		return trace_usage(EXIT_USAGE);
	}
	if (o->follow) {
		signal(SIGINT, on_signal);
		signal(SIGTERM, on_signal);
		return trace_follow(o, o->args[0], on_event, &k, &stop);
	}
	if (stat(o->args[0], &st) != 0 || !S_ISREG(st.st_mode)) {
		return live(o, o->args[0], &k);
	}
	code = trace_load(o->args[0], &l);
	for (size_t i = 0; code == EXIT_OK && i < l.n; i++) {
		on_event(&l.ev[i], &k);
	}
	evlist_free(&l);
	return code;
}

/* ---- files: filter, merge ------------------------------------------------ */

int
trace_write_all(const char *path, const struct evlist *l, const struct opts *o)
{
	tr_trace_file *f;
	int            r = tr_trace_file_open(&f, path, true);

	if (r < 0) {
		fprintf(stderr, "troupe trace: %s: %s\n", path, tr_strerror(r));
		return EXIT_FAIL;
	}
	for (size_t i = 0; i < l->n && r == 0; i++) {
		if (!o || event_ok(o, &l->ev[i])) {
			r = tr_trace_file_write(f, &l->ev[i]);
		}
	}
	if (tr_trace_file_close(&f) < 0 || r < 0) {
		fprintf(stderr, "troupe trace: %s: write failed\n", path);
		return EXIT_FAIL;
	}
	return EXIT_OK;
}

static int
cmd_filter(const struct opts *o)
{
	struct evlist l = { 0 };
	int           code;

	if (o->nargs != 1 || !o->out) {
		return trace_usage(EXIT_USAGE);
	}
	code = trace_load(o->args[0], &l);
	if (code == EXIT_OK) {
		code = trace_write_all(o->out, &l, o);
	}
	evlist_free(&l);
	return code;
}

int
trace_main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(const struct opts *o);
	} cmds[] = { { "record", cmd_record }, { "attach", cmd_record },
		{ "tail", cmd_tail }, { "stats", trace_cmd_stats },
		{ "why", trace_cmd_why }, { "export", trace_cmd_export },
		{ "filter", cmd_filter }, { "merge", trace_cmd_merge } };
	struct opts o;
	int         r;

	if (argc < 3) {
		return trace_usage(EXIT_USAGE);
	}
	if (!strcmp(argv[2], "--help") || !strcmp(argv[2], "-h")) {
		return trace_usage(EXIT_OK);
	}
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (strcmp(argv[2], cmds[i].name) != 0) {
			continue;
		}
		r = parse(argc, argv, 3, &o, cmds[i].fn == cmd_tail);
		if (r < 0) {
			return EXIT_OK; /* --help */
		}
		return r != EXIT_OK ? trace_usage(r) : cmds[i].fn(&o);
	}
	fprintf(stderr, "troupe trace: unknown command '%s'\n", argv[2]);
	return trace_usage(EXIT_USAGE);
}
