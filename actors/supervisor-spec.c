/* SPDX-License-Identifier: MIT */
/* Supervisor and child specs on the client side: their defaults (all
 * zeroes mean the documented defaults), their checks, and packing them as
 * trwire.SupSpec / trwire.ChildSpec. */
#include "supervisor-int.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
tr_sup_spec_init(tr_sup_spec *spec)
{
	memset(spec, 0, sizeof(*spec));
	spec->strategy  = TR_SUP_ONE_FOR_ONE;
	spec->intensity = 1;
	spec->period_ms = TRI_SUP_PERIOD_MS;
}

void
tr_child_spec_init(tr_child_spec *c, const char *id, const char *actor)
{
	memset(c, 0, sizeof(*c));
	c->id          = id;
	c->actor       = actor;
	c->restart     = TR_RESTART_PERMANENT;
	c->shutdown_ms = TR_SHUTDOWN_DEFAULT;
	c->type        = TR_CHILD_WORKER;
}

bool
tri_sup_name_ok(const char *s, size_t max)
{
	return s && s[0] && strlen(s) < max;
}

/* A node name: "" (this run), or letters, digits and "._-", < 64 bytes. */
bool
tri_sup_node_ok(const char *s)
{
	if (!s) {
		return true;
	}
	if (strlen(s) >= TR_NODE_NAME_MAX) {
		return false;
	}
	for (; *s; s++) {
		if (!isalnum((unsigned char) *s) && !strchr("._-", *s)) {
			return false;
		}
	}
	return true;
}

/* -EINVAL, saying why (at error level unless quiet). */
TR_PRINTF(2, 3)
static int
bad(bool quiet, const char *fmt, ...)
{
	va_list ap;
	char    why[256];

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	tr_log(quiet ? TR_LOG_DEBUG : TR_LOG_ERROR, "supervisor spec: %s", why);
	return -EINVAL;
}

/* The node fields: node, on_node_loss and elsewhere (at most
 * TR_SUP_ELSEWHERE_MAX, each a node name or ""). */
static int
nodes_to_pb(const tr_child_spec *c, Trwire__ChildSpec *pb, bool quiet)
{
	const char *id = c->id;
	size_t      n  = 0;

	if (!tri_sup_node_ok(c->node)) {
		return bad(
		    quiet, "child %s: bad node name '%.80s'", id, c->node);
	}
	if (c->on_node_loss < TR_NODE_LOSS_REPORT ||
	    c->on_node_loss > TR_NODE_LOSS_RESTART_ELSEWHERE) {
		return bad(quiet,
		    "child %s: on_node_loss %d is not a "
		    "tr_node_loss",
		    id, c->on_node_loss);
	}
	while (c->elsewhere && c->elsewhere[n]) {
		if (n == TR_SUP_ELSEWHERE_MAX ||
		    !tri_sup_node_ok(c->elsewhere[n])) {
			return bad(quiet,
			    "child %s: more than %d elsewhere nodes, or a bad "
			    "name",
			    id, TR_SUP_ELSEWHERE_MAX);
		}
		n++;
	}
	pb->node         = (char *) (c->node ? c->node : "");
	pb->on_node_loss = (uint32_t) c->on_node_loss;
	pb->elsewhere    = (char **) c->elsewhere;
	pb->n_elsewhere  = n;
	return 0;
}

/* The wire's shutdown numbers (supervisor.proto) from the C API's. */
static int
shutdown_to_wire(int ms)
{
	switch (ms) {
	case TR_SHUTDOWN_DEFAULT:
		return TRI_WIRE_SHUTDOWN_DEFAULT;
	case TR_SHUTDOWN_BRUTAL_KILL:
		return TRI_WIRE_SHUTDOWN_BRUTAL;
	default:
		return ms; /* > 0, or TR_SHUTDOWN_INFINITY (the same) */
	}
}

int
tri_sup_child_to_pb(const tr_child_spec *c, Trwire__ChildSpec *pb, bool quiet)
{
	const char *id = c->id ? c->id : "(null)";

	if (!tri_sup_name_ok(c->id, TR_SUP_ID_MAX)) {
		return bad(quiet, "child id '%.80s' is empty or longer than %d",
		    id, TR_SUP_ID_MAX - 1);
	}
	if (!tri_sup_name_ok(c->actor, 64)) {
		return bad(quiet, "child %s: no actor name, or too long", id);
	}
	if ((!c->args && c->len) || c->restart < 0 ||
	    c->restart > TR_RESTART_TEMPORARY || c->type < 0 ||
	    c->type > TR_CHILD_SUPERVISOR || c->start_timeout_ms < 0 ||
	    c->shutdown_ms < TR_SHUTDOWN_BRUTAL_KILL ||
	    c->start_method < TR_START_DEFAULT ||
	    c->start_method > TR_START_FORKSERVER) {
		return bad(quiet,
		    "child %s: args, restart, type, shutdown_ms, "
		    "start_timeout_ms or start_method out of range",
		    id);
	}
	if (c->significant && c->restart == TR_RESTART_PERMANENT) {
		return bad(quiet,
		    "child %s: a permanent child cannot be significant", id);
	}
	trwire__child_spec__init(pb);
	pb->id               = (char *) c->id;
	pb->actor            = (char *) c->actor;
	pb->args.data        = (uint8_t *) c->args;
	pb->args.len         = c->len;
	pb->restart          = (uint32_t) c->restart;
	pb->shutdown_ms      = shutdown_to_wire(c->shutdown_ms);
	pb->type             = (uint32_t) c->type;
	pb->start_timeout_ms = c->start_timeout_ms;
	pb->significant      = c->significant;
	pb->start_method     = (uint32_t) c->start_method;
	return nodes_to_pb(c, pb, quiet);
}

/* The spec's own fields, defaults filled in. */
static int
flags_to_pb(const tr_sup_spec *spec, Trwire__SupSpec *pb)
{
	int intensity = spec->intensity == TR_SUP_INTENSITY_ZERO ? 0
	    : spec->intensity == 0                               ? 1
	                           : spec->intensity;
	int period    = spec->period_ms ? spec->period_ms : TRI_SUP_PERIOD_MS;

	if (spec->strategy < 0 || spec->strategy > TR_SUP_SIMPLE_ONE_FOR_ONE) {
		return bad(spec->quiet, "strategy %d is not a tr_sup_strategy",
		    spec->strategy);
	}
	if (intensity < 0) {
		return bad(spec->quiet,
		    "intensity %d is negative (TR_SUP_INTENSITY_ZERO asks for "
		    "none)",
		    spec->intensity);
	}
	if (period <= 0) {
		return bad(spec->quiet, "period_ms %d is not positive",
		    spec->period_ms);
	}
	if (spec->backoff_min_ms < 0 || spec->backoff_max_ms < 0 ||
	    spec->backoff_jitter_pct < 0 || spec->backoff_jitter_pct > 100) {
		return bad(spec->quiet, "a backoff field is out of range");
	}
	if (spec->auto_shutdown < TR_SUP_AUTO_NEVER ||
	    spec->auto_shutdown > TR_SUP_AUTO_ALL_SIGNIFICANT) {
		return bad(spec->quiet,
		    "auto_shutdown %d is not a tr_sup_auto_shutdown",
		    spec->auto_shutdown);
	}
	if (spec->nchildren && !spec->children) {
		return bad(spec->quiet, "nchildren %zu but no children",
		    spec->nchildren);
	}
	trwire__sup_spec__init(pb);
	pb->strategy           = (uint32_t) spec->strategy;
	pb->intensity          = (uint32_t) intensity;
	pb->period_ms          = (uint32_t) period;
	pb->backoff_min_ms     = (uint32_t) spec->backoff_min_ms;
	pb->backoff_max_ms     = (uint32_t) spec->backoff_max_ms;
	pb->backoff_jitter_pct = (uint32_t) spec->backoff_jitter_pct;
	pb->auto_shutdown      = (uint32_t) spec->auto_shutdown;
	pb->quiet              = spec->quiet;
	pb->name               = (char *) (spec->name ? spec->name : "");
	return 0;
}

static int
spec_to_pb(const tr_sup_spec *spec, Trwire__SupSpec *pb, Trwire__ChildSpec *cs,
    Trwire__ChildSpec **ptrs)
{
	int r = flags_to_pb(spec, pb);

	pb->n_children = spec->nchildren;
	pb->children   = ptrs;
	for (size_t i = 0; r == 0 && i < spec->nchildren; i++) {
		r = tri_sup_child_to_pb(
		    &spec->children[i], &cs[i], spec->quiet);
		if (r == 0 && cs[i].significant &&
		    spec->auto_shutdown == TR_SUP_AUTO_NEVER) {
			r = bad(spec->quiet,
			    "child %s is significant under auto_shutdown "
			    "never",
			    cs[i].id);
		}
		ptrs[i] = &cs[i];
	}
	return r;
}

int
tr_sup_spec_pack(const tr_sup_spec *spec, void **ret, size_t *ret_len)
{
	Trwire__SupSpec     pb;
	Trwire__ChildSpec  *cs;
	Trwire__ChildSpec **ptrs;
	uint8_t            *buf = NULL;
	size_t              n   = 0;
	int                 r;

	if (!spec || !ret || !ret_len) {
		return -EINVAL;
	}
	cs   = calloc(spec->nchildren + 1, sizeof(*cs));
	ptrs = calloc(spec->nchildren + 1, sizeof(*ptrs));
	r    = cs && ptrs ? spec_to_pb(spec, &pb, cs, ptrs) : -ENOMEM;
	if (r == 0) {
		n   = trwire__sup_spec__get_packed_size(&pb);
		buf = malloc(n ? n : 1);
		r   = buf ? 0 : -ENOMEM;
	}
	if (r == 0) {
		trwire__sup_spec__pack(&pb, buf);
		*ret     = buf;
		*ret_len = n;
	}
	free(cs);
	free(ptrs);
	return r;
}
