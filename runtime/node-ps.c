/* SPDX-License-Identifier: MIT */
/* `troupe ps` and `troupe tree` through a node (troupe/ps.h): the agent's
 * side (a trwire.NodePsReq answered with the run's actors, each asked for
 * its ActorInfo) and the caller's (tr_node_ps()).  proto/ps.proto. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <protobuf-c/protobuf-c.h>

#include "actor-info.h"
#include "alloc.h"
#include "log.h"
#include "node-int.h"
#include "node.pb-c.h"
#include "ps.pb-c.h"
#include "runtime.h"
#include "troupe/ps.h"
#include "util.h"

#define PS_MAX      4096 /* actors listed at most */
#define NAMES_MAX   4096
#define ANSWER_MS   1000 /* each actor's runtime has this long to answer */
#define PS_REPLY_MS 1000

/* ---- the agent's side ------------------------------------------------------
 */

static void
comm_of(uint32_t pid, char *buf, size_t n)
{
	char  path[64];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%u/comm", (unsigned) pid);
	buf[0] = '\0';
	f      = fopen(path, "re");
	if (f) {
		if (fgets(buf, (int) n, f)) {
			buf[strcspn(buf, "\n")] = '\0';
		}
		fclose(f);
	}
}

/* The parent in /proc/PID/stat (field 4, after the parenthesised comm,
 * which may hold spaces and parentheses), 0 if it cannot be read. */
static uint32_t
proc_ppid(uint32_t pid)
{
	char  path[64], buf[512], *p;
	FILE *f;
	int   ppid = 0;

	snprintf(path, sizeof(path), "/proc/%u/stat", (unsigned) pid);
	f = fopen(path, "re");
	if (!f) {
		return 0;
	}
	if (fgets(buf, sizeof(buf), f) && (p = strrchr(buf, ')')) &&
	    sscanf(p + 1, " %*c %d", &ppid) != 1) {
		ppid = 0;
	}
	fclose(f);
	return ppid > 0 ? (uint32_t) ppid : 0;
}

struct row {
	Trwire__PsActor pb;
	Trwire__Addr    addr;
	char            comm[TR_PS_TEXT_MAX], actor[TR_PS_TEXT_MAX],
	    identity[TR_PS_TEXT_MAX];
};

struct name_row {
	Trwire__PsName pb;
	Trwire__Addr   addr;
	char           name[TR_PS_TEXT_MAX];
};

static size_t
list_actors(uint32_t id, struct row *rows, size_t max)
{
	DIR           *d = opendir(tri_rt.rundir);
	struct dirent *e;
	size_t         n = 0;

	while (d && (e = readdir(d)) && n < max) {
		char    txt[TR_ADDR_STRLEN];
		tr_addr a;

		/* mailboxes are named <pid>.<incarnation> */
		if (strlen(e->d_name) > sizeof(txt) - 3) {
			continue;
		}
		snprintf(txt, sizeof(txt), "0.%s", e->d_name);
		if (tr_addr_parse(txt, &a) < 0) {
			continue;
		}
		trwire__ps_actor__init(&rows[n].pb);
		trwire__addr__init(&rows[n].addr);
		rows[n].addr.node        = id;
		rows[n].addr.pid         = a.pid;
		rows[n].addr.incarnation = a.incarnation;
		rows[n].pb.addr          = &rows[n].addr;
		rows[n].pb.alive         = tr_addr_is_alive(a);
		comm_of(a.pid, rows[n].comm, sizeof(rows[n].comm));
		rows[n].pb.comm       = rows[n].comm;
		rows[n].pb.parent_pid = proc_ppid(a.pid);
		rows[n].actor[0] = rows[n].identity[0] = '\0';
		rows[n].pb.actor                       = rows[n].actor;
		rows[n].pb.identity                    = rows[n].identity;
		if (rows[n].pb.alive) {
			(void) tri_ainfo_ask(a);
		}
		n++;
	}
	if (d) {
		closedir(d);
	}
	return n;
}

static void
collect(struct row *rows, size_t n)
{
	int64_t deadline = tri_deadline(ANSWER_MS);
	size_t  left     = 0;

	for (size_t i = 0; i < n; i++) {
		left += rows[i].pb.alive;
	}
	while (left > 0) {
		for (size_t i = 0; i < n; i++) {
			struct tri_ainfo in;
			tr_addr          a = { 0, rows[i].addr.pid,
				         rows[i].addr.incarnation };

			if (!rows[i].pb.alive || rows[i].pb.answered ||
			    tri_ainfo_take(a, &in) != 1) {
				continue;
			}
			rows[i].pb.answered = true;
			rows[i].pb.queued   = in.queued;
			rows[i].pb.received = in.received;
			rows[i].pb.sent     = in.sent;
			rows[i].pb.daemon   = in.daemon;
			if (in.parent_pid) {
				rows[i].pb.parent_pid = in.parent_pid;
			}
			tri_strlcpy(
			    rows[i].actor, in.actor, sizeof(rows[i].actor));
			tri_strlcpy(rows[i].identity, in.identity,
			    sizeof(rows[i].identity));
			left--;
		}
		if (left == 0 || tri_remaining(deadline, ANSWER_MS) == 0) {
			break;
		}
		usleep(5000);
	}
}

static size_t
list_names(uint32_t id, struct name_row *rows, size_t max)
{
	char           path[PATH_MAX + 16];
	DIR           *d;
	struct dirent *e;
	size_t         n = 0;

	snprintf(path, sizeof(path), "%s/names", tri_rt.rundir);
	d = opendir(path);
	while (d && (e = readdir(d)) && n < max) {
		char    link[PATH_MAX + 300], txt[TR_ADDR_STRLEN];
		ssize_t l;
		tr_addr a;

		if (e->d_name[0] == '.' ||
		    strlen(e->d_name) >= sizeof(rows[n].name)) {
			continue;
		}
		snprintf(link, sizeof(link), "%s/%s", path, e->d_name);
		l = readlink(link, txt, sizeof(txt) - 1);
		if (l < 0) {
			continue;
		}
		txt[l] = '\0';
		if (tr_addr_parse(txt, &a) < 0) {
			continue;
		}
		trwire__ps_name__init(&rows[n].pb);
		trwire__addr__init(&rows[n].addr);
		tri_strlcpy(rows[n].name, e->d_name, sizeof(rows[n].name));
		rows[n].addr.node        = a.node ? a.node : id;
		rows[n].addr.pid         = a.pid;
		rows[n].addr.incarnation = a.incarnation;
		rows[n].pb.name          = rows[n].name;
		rows[n].pb.addr          = &rows[n].addr;
		n++;
	}
	if (d) {
		closedir(d);
	}
	return n;
}

/* The run's main program: tri_rt.root where the start method passed it
 * on, else the pid in the runtime directory's name (troupe-PID-XXXXXX). */
static uint32_t
run_pid(void)
{
	const char *b   = strrchr(tri_rt.rundir, '/');
	int         pid = 0;

	if (tri_rt.root > 0) {
		return (uint32_t) tri_rt.root;
	}
	if (b && sscanf(b + 1, "troupe-%d-", &pid) == 1 && pid > 0) {
		return (uint32_t) pid;
	}
	return 0;
}

void
tri_node_ps_serve(const char *node, uint32_t id, const tr_msg *m)
{
	Trwire__NodePsRep rep   = TRWIRE__NODE_PS_REP__INIT;
	struct row       *rows  = tri_calloc(PS_MAX, sizeof(*rows));
	struct name_row  *names = tri_calloc(NAMES_MAX, sizeof(*names));
	Trwire__PsActor **pa    = tri_calloc(PS_MAX, sizeof(*pa));
	Trwire__PsName  **pn    = tri_calloc(NAMES_MAX, sizeof(*pn));
	size_t            n = 0, nn = 0;

	rep.node    = (char *) node;
	rep.id      = id;
	rep.run_pid = run_pid();
	if (!rows || !names || !pa || !pn) {
		rep.error = -ENOMEM;
	} else {
		tri_ainfo_clear(); /* late answers to an earlier listing */
		n = list_actors(id, rows, PS_MAX);
		collect(rows, n);
		nn = list_names(id, names, NAMES_MAX);
		for (size_t i = 0; i < n; i++) {
			pa[i] = &rows[i].pb;
		}
		for (size_t i = 0; i < nn; i++) {
			pn[i] = &names[i].pb;
		}
		rep.n_actors = n;
		rep.actors   = pa;
		rep.n_names  = nn;
		rep.names    = pn;
	}
	(void) tr_reply_pb(m, &rep.base, PS_REPLY_MS);
	tri_free(rows);
	tri_free(names);
	tri_free(pa);
	tri_free(pn);
}

/* ---- the caller's side -----------------------------------------------------
 */

static tr_addr
addr_of(const Trwire__Addr *a)
{
	return a ? (tr_addr) { a->node, a->pid, a->incarnation } : TR_ADDR_NULL;
}

static int
by_pid(const void *x, const void *y)
{
	const tr_ps_actor *a = x, *b = y;

	return a->addr.pid < b->addr.pid ? -1 : a->addr.pid > b->addr.pid;
}

static int
convert(const Trwire__NodePsRep *rep, tr_ps **ret)
{
	tr_ps *p = tri_calloc(1, sizeof(*p));

	if (!p) {
		return -ENOMEM;
	}
	if (rep->n_actors > PS_MAX || rep->n_names > NAMES_MAX) {
		tri_free(p);
		return TR_EBADFRAME;
	}
	p->actors = tri_calloc(rep->n_actors + 1, sizeof(*p->actors));
	p->names  = tri_calloc(rep->n_names + 1, sizeof(*p->names));
	if (!p->actors || !p->names) {
		tr_ps_free(&p);
		return -ENOMEM;
	}
	tri_strlcpy(p->node, rep->node, sizeof(p->node));
	p->id      = rep->id;
	p->run_pid = rep->run_pid;
	for (size_t i = 0; i < rep->n_actors; i++) {
		const Trwire__PsActor *s = rep->actors[i];
		tr_ps_actor           *d = &p->actors[p->nactors++];

		d->addr       = addr_of(s->addr);
		d->parent_pid = s->parent_pid;
		d->alive      = s->alive;
		d->answered   = s->answered;
		d->daemon     = s->daemon;
		d->queued     = s->queued;
		d->received   = s->received;
		d->sent       = s->sent;
		tri_strlcpy(d->comm, s->comm, sizeof(d->comm));
		tri_strlcpy(d->actor, s->actor, sizeof(d->actor));
		tri_strlcpy(d->identity, s->identity, sizeof(d->identity));
	}
	for (size_t i = 0; i < rep->n_names; i++) {
		tr_ps_name *d = &p->names[p->nnames++];

		tri_strlcpy(d->name, rep->names[i]->name, sizeof(d->name));
		d->addr = addr_of(rep->names[i]->addr);
	}
	qsort(p->actors, p->nactors, sizeof(*p->actors), by_pid);
	*ret = p;
	return 0;
}

int
tr_node_ps(const char *node, tr_ps **ret, int timeout_ms)
{
	Trwire__NodePsReq  q = TRWIRE__NODE_PS_REQ__INIT;
	Trwire__NodePsRep *rep;
	int64_t            deadline = tri_deadline(timeout_ms);
	tr_addr            a;
	int                r;

	tr_assert_return(ret, -EINVAL);
	tr_assert_return(timeout_ms >= TR_TIMEOUT_INFINITE, -EINVAL);
	*ret = NULL;
	r    = tri_node_agent_of(node, timeout_ms, &a);
	if (r < 0) {
		return r;
	}
	r = tr_call_pb(a, &q.base, &trwire__node_ps_rep__descriptor,
	    (ProtobufCMessage **) &rep, tr_deadline_left(deadline));
	if (r < 0) {
		return r;
	}
	r = rep->error < 0 ? rep->error : convert(rep, ret);
	protobuf_c_message_free_unpacked(&rep->base, NULL);
	return r;
}

void
tr_ps_free(tr_ps **pp)
{
	if (!pp || !*pp) {
		return;
	}
	tri_free((*pp)->actors);
	tri_free((*pp)->names);
	tri_free(*pp);
	*pp = NULL;
}

int
tr_node_peers(tr_node_peer *ret, int max, int timeout_ms)
{
	Trwire__NodeStatsReq  q = TRWIRE__NODE_STATS_REQ__INIT;
	Trwire__NodeStatsRep *rep;
	tr_addr               a;
	int                   r;

	tr_assert_return(max >= 0 && (ret || max == 0), -EINVAL);
	r = tri_node_agent_of(NULL, timeout_ms, &a);
	if (r < 0) {
		return r;
	}
	r = tr_call_pb(a, &q.base, &trwire__node_stats_rep__descriptor,
	    (ProtobufCMessage **) &rep, timeout_ms);
	if (r < 0) {
		return r;
	}
	for (size_t i = 0; i < rep->n_peers && (int) i < max; i++) {
		tri_strlcpy(
		    ret[i].name, rep->peers[i]->name, sizeof(ret[i].name));
		ret[i].id = rep->peers[i]->id;
		ret[i].up = rep->peers[i]->up;
	}
	r = rep->n_peers > INT_MAX ? INT_MAX : (int) rep->n_peers;
	protobuf_c_message_free_unpacked(&rep->base, NULL);
	return r;
}
