/* SPDX-License-Identifier: MIT */
/* `troupe tree` and `troupe ps --node/--endpoint` (docs/distribution.md
 * "ps and tree through a node"): the actors of a run, their mailbox
 * depths and counters, and the supervision tree (each actor under its
 * starter).
 *
 * Through a node, the tool starts a node of its own for a moment
 * ("troupe-tool-PID", on a loopback port), joins it to the node at
 * --endpoint (or to the node running on this host, found in the runtime
 * directories), and asks the node named by --node (or the one it joined
 * through) with tr_node_ps().  Without a node, `troupe tree` shows the
 * local runs from their runtime directories and /proc: no mailbox depths
 * (only an actor's own runtime knows those).  Public API only. */
#include "ps-cmd.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zmq.h>

#include "troupe.h"

#define PEERS_MAX 64

struct opts {
	const char *node, *endpoint, *secret_file, *cookie;
	int         timeout_ms;
};

static void
ps_usage(FILE *to, const char *cmd)
{
	fprintf(to,
	    "usage: troupe %s [--node NAME] [--endpoint ENDPOINT[#KEY]]\n"
	    "                  [--secret-file FILE] [--cookie TEXT] "
	    "[--timeout MS]\n"
	    "Show the actors of a node's run%s: address, pid, starter,\n"
	    "mailbox depth (queued), messages received and sent, actor.\n"
	    "  --node NAME          the node to show; reached through the "
	    "node\n"
	    "                       running on this host, or through\n"
	    "                       --endpoint (default: the node at\n"
	    "                       --endpoint itself)\n"
	    "  --endpoint EP[#KEY]  join the cluster through the node "
	    "listening\n"
	    "                       there (tcp://HOST:PORT; #KEY its Z85 "
	    "public\n"
	    "                       key if it uses CURVE)\n"
	    "  --secret-file FILE   CURVE: the tool's secret key (first "
	    "line);\n"
	    "                       its public key must be on the nodes'\n"
	    "                       allowlists\n"
	    "  --cookie TEXT        the cluster's label\n"
	    "  --timeout MS         give up after MS ms (default 10000)\n"
	    "%s"
	    "Exit status: 0 shown, 1 the node cannot be reached or asked,\n"
	    "2 bad usage.\n",
	    cmd,
	    strcmp(cmd, "tree") == 0
	        ? ", as supervision trees (each actor under its\nstarter)"
	        : "",
	    strcmp(cmd, "tree") == 0
	        ? "Without --node or --endpoint: the live runs of this host, "
	          "from\ntheir runtime directories and /proc (no mailbox "
	          "depths).\n"
	        : "");
}

/* ---- printing --------------------------------------------------------------
 */

static void
print_row(const tr_ps_actor *a, const char *indent, bool known)
{
	char txt[TR_ADDR_STRLEN];
	char q[32];

	if (known && a->answered) {
		snprintf(q, sizeof(q), "%" PRIu64, a->queued);
	} else {
		snprintf(q, sizeof(q), "%s", a->alive ? "?" : "-");
	}
	printf("%s%s pid %" PRIu32 " %s%s%s queued %s", indent,
	    tr_addr_format(a->addr, txt, sizeof(txt)), a->addr.pid,
	    a->actor[0] ? a->actor : (a->comm[0] ? a->comm : "-"),
	    a->daemon ? " (daemon)" : "",
	    a->alive ? "" : " (gone: stale mailbox)", q);
	if (known && a->answered) {
		printf(" received %" PRIu64 " sent %" PRIu64, a->received,
		    a->sent);
	}
	printf("\n");
}

static bool
is_listed(const tr_ps *p, uint32_t pid)
{
	for (size_t i = 0; i < p->nactors; i++) {
		if (p->actors[i].addr.pid == pid) {
			return true;
		}
	}
	return false;
}

static void
tree_under(const tr_ps *p, uint32_t parent, int depth, bool known)
{
	char indent[160] = "";
	int  w           = 0;

	for (int i = 1; i < depth && w < 140; i++) {
		w += snprintf(indent + w, sizeof(indent) - (size_t) w, "    ");
	}
	snprintf(indent + w, sizeof(indent) - (size_t) w, "+-- ");
	for (size_t i = 0; i < p->nactors; i++) {
		const tr_ps_actor *a = &p->actors[i];

		if (a->parent_pid == parent && a->addr.pid != parent) {
			print_row(a, indent, known);
			if (depth < 30) {
				tree_under(p, a->addr.pid, depth + 1, known);
			}
		}
	}
}

static void
print_tree(const tr_ps *p, bool known)
{
	bool main_listed = is_listed(p, p->run_pid);

	if (!main_listed) {
		printf("%" PRIu32 " (main program, no mailbox)\n", p->run_pid);
		tree_under(p, p->run_pid, 1, known);
	}
	/* the roots: actors whose starter is not listed (the main program,
	 * and anything started from outside the tree) */
	for (size_t i = 0; i < p->nactors; i++) {
		const tr_ps_actor *a = &p->actors[i];

		if ((a->parent_pid == p->run_pid && !main_listed) ||
		    (a->parent_pid != 0 && is_listed(p, a->parent_pid) &&
		        a->parent_pid != a->addr.pid)) {
			continue;
		}
		print_row(a, "", known);
		tree_under(p, a->addr.pid, 1, known);
	}
}

static void
print_ps(const tr_ps *p)
{
	printf("%-28s %-8s %-8s %-7s %-9s %-9s %s\n", "ADDRESS", "PID",
	    "STARTER", "QUEUED", "RECEIVED", "SENT", "ACTOR");
	for (size_t i = 0; i < p->nactors; i++) {
		const tr_ps_actor *a = &p->actors[i];
		char               txt[TR_ADDR_STRLEN], q[24], rc[24], sn[24];

		if (a->answered) {
			snprintf(q, sizeof(q), "%" PRIu64, a->queued);
			snprintf(rc, sizeof(rc), "%" PRIu64, a->received);
			snprintf(sn, sizeof(sn), "%" PRIu64, a->sent);
		} else {
			snprintf(q, sizeof(q), "%s", a->alive ? "?" : "gone");
			snprintf(rc, sizeof(rc), "-");
			snprintf(sn, sizeof(sn), "-");
		}
		printf("%-28s %-8" PRIu32 " %-8" PRIu32
		       " %-7s %-9s %-9s %s%s\n",
		    tr_addr_format(a->addr, txt, sizeof(txt)), a->addr.pid,
		    a->parent_pid, q, rc, sn,
		    a->actor[0] ? a->actor : (a->comm[0] ? a->comm : "-"),
		    a->daemon ? " (daemon)" : "");
	}
	for (size_t i = 0; i < p->nnames; i++) {
		char txt[TR_ADDR_STRLEN];

		printf("name %-23s -> %s\n", p->names[i].name,
		    tr_addr_format(p->names[i].addr, txt, sizeof(txt)));
	}
}

/* ---- through a node --------------------------------------------------------
 */

static int
read_line(const char *path, char *buf, size_t n)
{
	FILE *f = fopen(path, "r");
	bool  ok;

	if (!f) {
		return -errno;
	}
	ok = fgets(buf, (int) n, f) != NULL;
	fclose(f);
	buf[ok ? strcspn(buf, "\r\n") : 0] = '\0';
	return ok ? 0 : -EIO;
}

/* The endpoint of a node running on this host: node.ep in a live run's
 * runtime directory; the one of node `want` (its id in node.pid) if it
 * runs here, else the first found. */
static int
local_node_ep(const char *want, char *ep, size_t n)
{
	const char *bases[3] = { getenv("TROUPE_RUNTIME_DIR"),
		getenv("XDG_RUNTIME_DIR"), "/tmp" };
	uint32_t    want_id  = want ? tr_node_id(want) : 0;
	bool        found    = false;

	for (int b = 0; b < 3; b++) {
		DIR           *d;
		struct dirent *e;

		if (!bases[b] || !bases[b][0] ||
		    (b > 0 && bases[0] && bases[0][0])) {
			continue; /* the runtime uses TROUPE_RUNTIME_DIR alone
			           */
		}
		d = opendir(bases[b]);
		while (d && (e = readdir(d))) {
			char     path[4096], line[512];
			int      pid = 0;
			unsigned id  = 0;

			if (sscanf(e->d_name, "troupe-%d-", &pid) != 1 ||
			    pid <= 0 || pid == (int) getpid() ||
			    (kill(pid, 0) < 0 && errno != EPERM)) {
				continue;
			}
			snprintf(path, sizeof(path), "%s/%s/node.pid", bases[b],
			    e->d_name);
			if (read_line(path, line, sizeof(line)) < 0 ||
			    sscanf(line, "%*u %*u %u", &id) != 1) {
				continue;
			}
			snprintf(path, sizeof(path), "%s/%s/node.ep", bases[b],
			    e->d_name);
			if ((!found || id == want_id) &&
			    read_line(path, line, sizeof(line)) == 0) {
				snprintf(ep, n, "%s", line);
				found = true;
				if (id == want_id) {
					closedir(d);
					return 0;
				}
			}
		}
		if (d) {
			closedir(d);
		}
	}
	return found ? 0 : -ENOENT;
}

static int
via_node(const struct opts *o, const char *cmd, bool tree)
{
	char            ep[512], name[64], secret[64], pub[64], key[64] = "";
	const char     *peers[2] = { ep, NULL }, *allow[2] = { key, NULL };
	const char     *target = o->node;
	tr_node_options no     = { 0 };
	tr_node        *n      = NULL;
	tr_ps          *p      = NULL;
	int64_t         end;
	int             r;

	if (o->endpoint) {
		snprintf(ep, sizeof(ep), "%s", o->endpoint);
	} else if (local_node_ep(o->node, ep, sizeof(ep)) < 0) {
		fprintf(stderr,
		    "troupe %s: no node runs on this host (no live run has "
		    "node.ep); give --endpoint\n",
		    cmd);
		return 1;
	}
	if (strchr(ep, '#')) {
		snprintf(key, sizeof(key), "%s", strchr(ep, '#') + 1);
	}
	snprintf(name, sizeof(name), "troupe-tool-%d", (int) getpid());
	no.name      = name;
	no.peers     = peers;
	no.cookie    = o->cookie;
	no.detect_ms = 3000;
	if (o->secret_file) {
		if (read_line(o->secret_file, secret, sizeof(secret)) < 0 ||
		    zmq_curve_public(pub, secret) < 0) {
			fprintf(stderr,
			    "troupe %s: cannot read a Z85 secret key from %s\n",
			    cmd, o->secret_file);
			return 1;
		}
		no.curve_secret_key = secret;
		no.curve_public_key = pub;
		no.allowed_keys     = allow;
	}
	r = tr_node_start(&no, &n, o->timeout_ms);
	if (r < 0) {
		fprintf(stderr, "troupe %s: cannot start the tool's node: %s\n",
		    cmd, tr_strerror(r));
		return 1;
	}
	end = tr_deadline(o->timeout_ms);
	r   = TR_EBADADDR;
	while (r < 0 && tr_deadline_left(end) > 0) {
		tr_node_peer pl[PEERS_MAX];
		int          np = tr_node_peers(pl, PEERS_MAX, 2000);

		if (!o->node && np > 0 && pl[0].up) {
			snprintf(name, sizeof(name), "%s", pl[0].name);
			target = name;
		}
		if (target && tr_node_is_up(target, 2000) == 1) {
			r = 0;
		} else {
			usleep(50000);
		}
	}
	if (r == 0) {
		r = tr_node_ps(target, &p, tr_deadline_left(end));
	}
	tr_node_stop(&n);
	if (r < 0) {
		fprintf(stderr, "troupe %s: %s %s: %s\n", cmd,
		    target ? "cannot ask node" : "cannot join the node at",
		    target ? target : ep,
		    r == TR_EBADADDR ? "not connected (wrong endpoint, key or "
		                       "cookie? the node's log says why)"
		                     : tr_strerror(r));
		return 1;
	}
	printf("node %s (id %" PRIu32 "): run of pid %" PRIu32 "\n", p->node,
	    p->id, p->run_pid);
	if (tree) {
		print_tree(p, true);
	} else {
		print_ps(p);
	}
	tr_ps_free(&p);
	return 0;
}

/* ---- local runs, without a node ---------------------------------------------
 */

static uint32_t
proc_ppid(uint32_t pid)
{
	char  path[64], buf[512], *q;
	FILE *f;
	int   ppid = 0;

	snprintf(path, sizeof(path), "/proc/%u/stat", (unsigned) pid);
	f = fopen(path, "r");
	if (!f) {
		return 0;
	}
	if (fgets(buf, sizeof(buf), f) && (q = strrchr(buf, ')')) &&
	    sscanf(q + 1, " %*c %d", &ppid) != 1) {
		ppid = 0;
	}
	fclose(f);
	return ppid > 0 ? (uint32_t) ppid : 0;
}

static void
local_tree(const char *dir, uint32_t run_pid)
{
	DIR           *d = opendir(dir);
	struct dirent *e;
	tr_ps          p = { 0 };
	tr_ps_actor    rows[1024];

	p.actors  = rows;
	p.run_pid = run_pid;
	while (d && (e = readdir(d)) && p.nactors < 1024) {
		char         txt[TR_ADDR_STRLEN], path[64];
		tr_addr      a;
		tr_ps_actor *r = &rows[p.nactors];
		FILE        *f;

		if (strlen(e->d_name) > sizeof(txt) - 3) {
			continue;
		}
		snprintf(txt, sizeof(txt), "0.%s", e->d_name);
		if (tr_addr_parse(txt, &a) < 0) {
			continue;
		}
		memset(r, 0, sizeof(*r));
		r->addr       = a;
		r->alive      = tr_addr_is_alive(a);
		r->parent_pid = proc_ppid(a.pid);
		snprintf(path, sizeof(path), "/proc/%u/comm", (unsigned) a.pid);
		f = fopen(path, "r");
		if (f) {
			if (fgets(r->comm, sizeof(r->comm), f)) {
				r->comm[strcspn(r->comm, "\n")] = '\0';
			}
			fclose(f);
		}
		p.nactors++;
	}
	if (d) {
		closedir(d);
	}
	printf("run of pid %" PRIu32 ": %s\n", run_pid, dir);
	print_tree(&p, false);
}

static int
local_trees(void)
{
	const char *bases[3] = { getenv("TROUPE_RUNTIME_DIR"),
		getenv("XDG_RUNTIME_DIR"), "/tmp" };
	int         shown    = 0;

	for (int b = 0; b < 3; b++) {
		DIR           *d;
		struct dirent *e;

		if (!bases[b] || !bases[b][0] ||
		    (b > 0 && bases[0] && bases[0][0])) {
			continue;
		}
		if (b == 2 && bases[1] && strcmp(bases[1], "/tmp") == 0) {
			continue;
		}
		d = opendir(bases[b]);
		while (d && (e = readdir(d))) {
			char path[4096];
			int  pid = 0;
			char rest[16];

			if (sscanf(e->d_name, "troupe-%d-%15s", &pid, rest) !=
			        2 ||
			    strlen(rest) != 6 || pid <= 0 ||
			    (kill(pid, 0) < 0 && errno != EPERM)) {
				continue;
			}
			snprintf(
			    path, sizeof(path), "%s/%s", bases[b], e->d_name);
			local_tree(path, (uint32_t) pid);
			shown++;
		}
		if (d) {
			closedir(d);
		}
	}
	if (!shown) {
		printf("no live troupe runs\n");
	}
	return 0;
}

static bool
name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= TR_NODE_NAME_MAX) {
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		        (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		        c == '-')) {
			return false;
		}
	}
	return true;
}

int
troupe_ps_cmd(int argc, char **argv, bool tree)
{
	const char *cmd = tree ? "tree" : "ps";
	struct opts o   = { .timeout_ms = 10000 };

	for (int i = 2; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			ps_usage(stdout, cmd);
			return 0;
		}
		if (!v) {
			fprintf(
			    stderr, "troupe %s: %s needs a value\n", cmd, a);
			ps_usage(stderr, cmd);
			return 2;
		}
		i++;
		if (strcmp(a, "--node") == 0) {
			o.node = v;
		} else if (strcmp(a, "--endpoint") == 0) {
			o.endpoint = v;
		} else if (strcmp(a, "--secret-file") == 0) {
			o.secret_file = v;
		} else if (strcmp(a, "--cookie") == 0) {
			o.cookie = v;
		} else if (strcmp(a, "--timeout") == 0) {
			char *end;
			long  t = strtol(v, &end, 10);

			if (*end || t <= 0 || t > 3600000) {
				fprintf(stderr,
				    "troupe %s: --timeout wants 1..3600000 ms, "
				    "not '%s'\n",
				    cmd, v);
				return 2;
			}
			o.timeout_ms = (int) t;
		} else {
			fprintf(
			    stderr, "troupe %s: unknown option '%s'\n", cmd, a);
			ps_usage(stderr, cmd);
			return 2;
		}
	}
	if (!o.node && !o.endpoint) {
		if (!tree) {
			fprintf(stderr,
			    "troupe ps: --node or --endpoint needed "
			    "with options\n");
			return 2;
		}
		return local_trees();
	}
	if (o.node && !name_ok(o.node)) {
		fprintf(stderr, "troupe %s: bad node name '%s'\n", cmd, o.node);
		return 2;
	}
	if (o.endpoint && strncmp(o.endpoint, "tcp://", 6) != 0) {
		fprintf(stderr,
		    "troupe %s: --endpoint wants tcp://HOST:PORT[#KEY], not "
		    "'%s'\n",
		    cmd, o.endpoint);
		return 2;
	}
	if (tr_init(argc, argv) < 0) {
		fprintf(stderr, "troupe %s: cannot start the runtime\n", cmd);
		return 1;
	}
	return via_node(&o, cmd, tree);
}
