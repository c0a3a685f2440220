/* SPDX-License-Identifier: MIT */
/* troupe trace export: Chrome Trace Event JSON (flow arrows from each send
 * to its handling), Mermaid sequenceDiagram, OTLP/JSON spans, a standalone
 * SVG or HTML sequence diagram, JSON lines.  docs/trace.md has the rules
 * each follows. */
#include "trace-tool.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* A message: its send, and where it was handled (or received). */
struct msgpair {
	long send, recv, end;
};

static struct msgpair
pair_of(const struct evlist *l, size_t i)
{
	struct msgpair p    = { (long) i, -1, -1 };
	uint64_t       span = l->ev[i].span_id;

	p.recv = evlist_find(l, TR_TRACE_HANDLE_BEGIN, span);
	if (p.recv < 0) {
		p.recv = evlist_find(l, TR_TRACE_RECEIVE, span);
	}
	p.end = evlist_find(l, TR_TRACE_HANDLE_END, span);
	return p;
}

/* JSON string body: quotes, backslashes and controls escaped. */
static void
jstr(FILE *out, const char *s)
{
	for (; *s; s++) {
		if (*s == '"' || *s == '\\') {
			fprintf(out, "\\%c", *s);
		} else if ((unsigned char) *s < 0x20) {
			fprintf(out, "\\u%04x", *s);
		} else {
			fputc(*s, out);
		}
	}
}

/* XML/HTML text. */
static void
xstr(FILE *out, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '<':
			fputs("&lt;", out);
			break;
		case '>':
			fputs("&gt;", out);
			break;
		case '&':
			fputs("&amp;", out);
			break;
		case '"':
			fputs("&quot;", out);
			break;
		default:
			fputc(*s, out);
		}
	}
}

static double
rel_us(const struct evlist *l, int64_t ts)
{
	return l->n ? (double) (ts - l->ev[0].ts_ns) / 1000.0 : 0;
}

/* Processes, in order of first appearance. */
struct procs {
	uint32_t pid[256];
	size_t   n;
};

static size_t
proc_idx(struct procs *p, uint32_t pid)
{
	for (size_t i = 0; i < p->n; i++) {
		if (p->pid[i] == pid) {
			return i;
		}
	}
	if (p->n == 256) {
		return 255;
	}
	p->pid[p->n] = pid;
	return p->n++;
}

static void
collect_procs(const struct evlist *l, struct procs *p)
{
	memset(p, 0, sizeof(*p));
	for (size_t i = 0; i < l->n; i++) {
		(void) proc_idx(p, l->ev[i].self.pid);
		if (l->ev[i].kind == TR_TRACE_SEND) {
			(void) proc_idx(p, l->ev[i].peer.pid);
		}
	}
}

/* ---- Chrome Trace Event JSON --------------------------------------------- */

static void
chrome_slice(FILE *out, const struct evlist *l, const tr_trace_event *e,
    const char *verb, double dur)
{
	fprintf(out, ",\n{\"ph\":\"X\",\"name\":\"%s ", verb);
	jstr(out, e->what[0] ? e->what : "(bytes)");
	fprintf(out,
	    "\",\"cat\":\"msg\",\"pid\":%" PRIu32 ",\"tid\":%" PRIu32
	    ",\"ts\":%.3f,\"dur\":%.3f,\"args\":{\"msg_id\":%" PRIu64
	    ",\"span\":\"%016" PRIx64 "\",\"peer\":%" PRIu32
	    ",\"lamport\":%" PRIu64 ",\"bytes\":%" PRId64 ",\"payload\":\"",
	    e->self.pid, e->self.pid, rel_us(l, e->ts_ns), dur, e->msg_id,
	    e->span_id, e->peer.pid, e->lamport, e->value);
	for (uint32_t k = 0; k < e->payload_len; k++) {
		fprintf(out, "%02x", e->payload[k]);
	}
	fprintf(out, "\"}}");
}

static void
chrome_flow(FILE *out, const struct evlist *l, const tr_trace_event *e,
    const char *ph, unsigned long id)
{
	fprintf(out, ",\n{\"ph\":\"%s\",%s\"name\":\"", ph,
	    ph[0] == 'f' ? "\"bp\":\"e\"," : "");
	jstr(out, e->what[0] ? e->what : "(bytes)");
	fprintf(out,
	    "\",\"cat\":\"msg\",\"id\":%lu,\"pid\":%" PRIu32 ",\"tid\":%" PRIu32
	    ",\"ts\":%.3f}",
	    id, e->self.pid, e->self.pid, rel_us(l, e->ts_ns));
}

static void
chrome(const struct evlist *l, FILE *out)
{
	struct procs  p;
	unsigned long flow = 0;
	char          lab[128];

	collect_procs(l, &p);
	fprintf(out,
	    "{\"displayTimeUnit\":\"ms\",\"otherData\":{\"epoch_unix_us\":"
	    "%" PRId64 ",\"clock\":\"realtime\"},\n\"traceEvents\":[\n"
	    "{\"ph\":\"M\",\"name\":\"process_name\",\"pid\":0,\"tid\":0,"
	    "\"args\":{\"name\":\"troupe\"}}",
	    l->n ? l->ev[0].ts_ns / 1000 : 0);
	for (size_t i = 0; i < p.n; i++) {
		tr_addr a = { 0, p.pid[i], 0 };

		fprintf(out,
		    ",\n{\"ph\":\"M\",\"name\":\"process_name\",\"pid\":"
		    "%" PRIu32 ",\"tid\":%" PRIu32 ",\"args\":{\"name\":\"",
		    p.pid[i], p.pid[i]);
		jstr(out, evlist_label(l, a, lab, sizeof(lab)));
		fprintf(out, "\"}}");
	}
	for (size_t i = 0; i < l->n; i++) {
		const tr_trace_event *e = &l->ev[i];
		struct msgpair        m;
		double                dur = 1.0;

		if (e->kind != TR_TRACE_SEND) {
			if (e->kind >= TR_TRACE_SPAWN &&
			    e->kind != TR_TRACE_LINK &&
			    e->kind != TR_TRACE_MONITOR) {
				fprintf(out,
				    ",\n{\"ph\":\"i\",\"s\":\"t\",\"name\":\"%"
				    "s ",
				    tr_trace_kind_name(e->kind));
				jstr(out, e->what);
				fprintf(out,
				    "\",\"cat\":\"life\",\"pid\":%" PRIu32
				    ",\"tid\":%" PRIu32 ",\"ts\":%.3f,"
				    "\"args\":{\"peer\":%" PRIu32
				    ",\"value\":%" PRId64 "}}",
				    e->self.pid, e->self.pid,
				    rel_us(l, e->ts_ns), e->peer.pid, e->value);
			}
			continue;
		}
		chrome_slice(out, l, e, "send", 1.0);
		m = pair_of(l, i);
		if (m.recv < 0) {
			continue;
		}
		flow++;
		chrome_flow(out, l, e, "s", flow);
		if (m.end >= 0 && l->ev[m.end].dur_ns > 1000) {
			dur = (double) l->ev[m.end].dur_ns / 1000.0;
		}
		chrome_slice(out, l, &l->ev[m.recv], "handle", dur);
		chrome_flow(out, l, &l->ev[m.recv], "f", flow);
	}
	fprintf(out, "\n]}\n");
}

/* ---- Mermaid --------------------------------------------------------------
 */

/* Message text: no ';', '#' or bare "end" (mermaid-js sequenceDiagram). */
static void
mtext(FILE *out, const char *s)
{
	for (; *s; s++) {
		if (*s == ';') {
			fputs("#59;", out);
		} else if (*s == '#') {
			fputs("#35;", out);
		} else if (*s != '\n' && *s != '\r') {
			fputc(*s, out);
		}
	}
}

static void
mermaid(const struct evlist *l, FILE *out, size_t max)
{
	struct procs p;
	char         lab[128];
	size_t       msgs = 0;

	collect_procs(l, &p);
	fprintf(out, "sequenceDiagram\n    autonumber\n");
	for (size_t i = 0; i < p.n; i++) {
		tr_addr a = { 0, p.pid[i], 0 };

		fprintf(out, "    participant A%zu as ", i + 1);
		mtext(out, evlist_label(l, a, lab, sizeof(lab)));
		fputc('\n', out);
	}
	for (size_t i = 0; i < l->n && msgs < max; i++) {
		const tr_trace_event *e = &l->ev[i];
		size_t                s = proc_idx(&p, e->self.pid) + 1;
		struct msgpair        m;

		switch (e->kind) {
		case TR_TRACE_SEND:
			m = pair_of(l, i);
			fprintf(out, "    A%zu%sA%zu: ", s,
			    m.recv >= 0 ? "-)" : "-x",
			    proc_idx(&p, e->peer.pid) + 1);
			mtext(out, e->what[0] ? e->what : "(bytes)");
			fprintf(out, " id=%" PRIu64 "%s\n", e->msg_id,
			    m.recv >= 0 ? "" : " (not received)");
			msgs++;
			break;
		case TR_TRACE_EXIT:
		case TR_TRACE_RESTART:
		case TR_TRACE_DOWN:
		case TR_TRACE_DEAD_LETTER:
		case TR_TRACE_SPAWN:
		case TR_TRACE_DROPPED:
		case TR_TRACE_RATE_TRIPPED:
		case TR_TRACE_NODEUP:
		case TR_TRACE_NODEDOWN:
		case TR_TRACE_NODESUSPECT:
		case TR_TRACE_NODERESUMED:
			fprintf(out, "    Note over A%zu: %s", s,
			    tr_trace_kind_name(e->kind));
			if (e->what[0]) {
				fputc(' ', out);
				mtext(out, e->what);
			}
			if (e->peer.pid) {
				fprintf(out, " pid %" PRIu32, e->peer.pid);
			}
			fprintf(out, " value %" PRId64 "\n", e->value);
			break;
		default:
			break;
		}
	}
}

/* ---- OTLP/JSON ------------------------------------------------------------
 */

static void
otlp_span(FILE *out, const tr_trace_event *e, const tr_trace_event *end,
    bool consumer, const char *peer_label, bool *first)
{
	char     tid[33];
	uint64_t span =
	    consumer ? e->span_id ^ 0x5a5a5a5a5a5a5a5aull : e->span_id;
	int64_t stop =
	    consumer && end ? e->ts_ns + end->dur_ns : e->ts_ns + 1000;

	for (int k = 0; k < 16; k++) {
		sprintf(tid + 2 * k, "%02x", e->trace_id[k]);
	}
	fprintf(out, "%s{\"traceId\":\"%s\",\"spanId\":\"%016" PRIx64 "\",",
	    *first ? "" : ",\n", tid, span);
	*first = false;
	if (consumer || e->parent_span) {
		fprintf(out, "\"parentSpanId\":\"%016" PRIx64 "\",",
		    consumer ? e->span_id : e->parent_span);
	}
	fprintf(out, "\"name\":\"%s ", consumer ? "process" : "send");
	jstr(out, peer_label);
	fprintf(out,
	    "\",\"kind\":%d,\"startTimeUnixNano\":\"%" PRId64
	    "\",\"endTimeUnixNano\":\"%" PRId64 "\",\"attributes\":["
	    "{\"key\":\"messaging.system\",\"value\":{\"stringValue\":"
	    "\"troupe\"}},"
	    "{\"key\":\"messaging.operation.type\",\"value\":{\"stringValue\":"
	    "\"%s\"}},"
	    "{\"key\":\"messaging.message.id\",\"value\":{\"stringValue\":"
	    "\"%" PRIu64 "\"}},"
	    "{\"key\":\"troupe.msg.type\",\"value\":{\"stringValue\":\"",
	    consumer ? 5 : 4, e->ts_ns, stop, consumer ? "process" : "send",
	    e->msg_id);
	jstr(out, e->what);
	fprintf(out, "\"}}]");
	if (consumer) {
		fprintf(out,
		    ",\"links\":[{\"traceId\":\"%s\",\"spanId\":\"%016" PRIx64
		    "\"}]",
		    tid, e->span_id);
	}
	fprintf(out, ",\"status\":{}}");
}

static void
otlp(const struct evlist *l, FILE *out)
{
	struct procs p;
	char         lab[128];

	collect_procs(l, &p);
	fprintf(out, "{\"resourceSpans\":[");
	for (size_t k = 0; k < p.n; k++) {
		tr_addr a     = { 0, p.pid[k], 0 };
		bool    first = true;

		fprintf(out,
		    "%s\n{\"resource\":{\"attributes\":["
		    "{\"key\":\"service.name\",\"value\":{\"stringValue\":\"",
		    k ? "," : "");
		jstr(out, evlist_label(l, a, lab, sizeof(lab)));
		fprintf(out,
		    "\"}},{\"key\":\"process.pid\",\"value\":{\"intValue\":"
		    "\"%" PRIu32 "\"}}]},\"scopeSpans\":[{\"scope\":{\"name\":"
		    "\"troupe.trace\",\"version\":\"0.1.0\"},\"spans\":[\n",
		    p.pid[k]);
		for (size_t i = 0; i < l->n; i++) {
			const tr_trace_event *e = &l->ev[i];
			long                  end;

			if (e->self.pid != p.pid[k] || !e->span_id) {
				continue;
			}
			if (e->kind == TR_TRACE_SEND) {
				otlp_span(out, e, NULL, false,
				    evlist_label(l, e->peer, lab, sizeof(lab)),
				    &first);
			} else if (e->kind == TR_TRACE_HANDLE_BEGIN) {
				end = evlist_find(
				    l, TR_TRACE_HANDLE_END, e->span_id);
				otlp_span(out, e, end >= 0 ? &l->ev[end] : NULL,
				    true,
				    evlist_label(l, e->self, lab, sizeof(lab)),
				    &first);
			}
		}
		fprintf(out, "]}]}");
	}
	fprintf(out, "\n]}\n");
}

/* ---- SVG / HTML sequence diagram ----------------------------------------- */

#define COL 220
#define ROW 28
#define TOP 70

static void
svg(const struct evlist *l, FILE *out, size_t max)
{
	struct procs p;
	char         lab[128];
	size_t       rows = 0;

	collect_procs(l, &p);
	for (size_t i = 0; i < l->n && rows < max; i++) {
		rows += l->ev[i].kind == TR_TRACE_SEND;
	}
	fprintf(out,
	    "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%zu\" "
	    "height=\"%zu\" font-family=\"sans-serif\" font-size=\"12\">\n"
	    "<defs><marker id=\"a\" markerWidth=\"10\" markerHeight=\"7\" "
	    "refX=\"10\" refY=\"3.5\" orient=\"auto\"><polygon "
	    "points=\"0 0, 10 3.5, 0 7\"/></marker></defs>\n"
	    "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
	    p.n * COL + 40, TOP + (rows + 1) * ROW + 20);
	for (size_t i = 0; i < p.n; i++) {
		tr_addr a = { 0, p.pid[i], 0 };
		size_t  x = 20 + i * COL + COL / 2;

		fprintf(out,
		    "<rect class=\"actor\" x=\"%zu\" y=\"10\" width=\"%d\" "
		    "height=\"30\" fill=\"#eef\" stroke=\"#336\"/>"
		    "<text x=\"%zu\" y=\"30\" text-anchor=\"middle\">",
		    x - (COL - 20) / 2, COL - 20, x);
		xstr(out, evlist_label(l, a, lab, sizeof(lab)));
		fprintf(out,
		    "</text>\n<line x1=\"%zu\" y1=\"40\" x2=\"%zu\" y2=\"%zu\" "
		    "stroke=\"#999\" stroke-dasharray=\"4\"/>\n",
		    x, x, TOP + (rows + 1) * ROW);
	}
	rows = 0;
	for (size_t i = 0; i < l->n && rows < max; i++) {
		const tr_trace_event *e = &l->ev[i];
		size_t                x1, x2, y;
		bool                  got;

		if (e->kind != TR_TRACE_SEND) {
			continue;
		}
		got = pair_of(l, i).recv >= 0;
		x1  = 20 + proc_idx(&p, e->self.pid) * COL + COL / 2;
		x2  = 20 + proc_idx(&p, e->peer.pid) * COL + COL / 2;
		y   = TOP + ++rows * ROW;
		fprintf(out,
		    "<line class=\"msg\" x1=\"%zu\" y1=\"%zu\" x2=\"%zu\" "
		    "y2=\"%zu\" stroke=\"%s\" marker-end=\"url(#a)\"/>"
		    "<text x=\"%zu\" y=\"%zu\" text-anchor=\"middle\">",
		    x1, y, x2, y, got ? "black" : "red", (x1 + x2) / 2, y - 4);
		xstr(out, e->what[0] ? e->what : "(bytes)");
		fprintf(out, " #%" PRIu64 "%s</text>\n", e->msg_id,
		    got ? "" : " (not received)");
	}
	fprintf(out, "</svg>\n");
}

static void
html(const struct evlist *l, FILE *out, size_t max)
{
	fprintf(out,
	    "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
	    "<title>troupe trace</title></head><body>\n"
	    "<h1>troupe trace: %zu events</h1>\n",
	    l->n);
	svg(l, out, max);
	fprintf(out, "</body></html>\n");
}

int
trace_export(const struct evlist *l, const char *format, FILE *out, size_t max)
{
	if (strcmp(format, "chrome") == 0) {
		chrome(l, out);
	} else if (strcmp(format, "mermaid") == 0) {
		mermaid(l, out, max);
	} else if (strcmp(format, "otlp") == 0 ||
	    strcmp(format, "otlp-json") == 0) {
		otlp(l, out);
	} else if (strcmp(format, "svg") == 0) {
		svg(l, out, max);
	} else if (strcmp(format, "html") == 0) {
		html(l, out, max);
	} else if (strcmp(format, "jsonl") == 0) {
		for (size_t i = 0; i < l->n; i++) {
			trace_print_json(&l->ev[i], out);
		}
	} else {
		fprintf(stderr,
		    "troupe trace: unknown format '%s' (chrome, "
		    "mermaid, otlp, html, svg, jsonl)\n",
		    format);
		return EXIT_USAGE;
	}
	return ferror(out) ? EXIT_FAIL : EXIT_OK;
}
