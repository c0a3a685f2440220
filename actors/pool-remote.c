/* SPDX-License-Identifier: MIT */
/* The pool actor's client side: its child spec, and maps and applies
 * asked of it by name with one call each (pool-server.c answers). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <protobuf-c/protobuf-c.h>

#include "pool-int.h"

/* The pool actor's shutdown: its pool's workers get 1 s after SIGTERM,
 * their supervisor waits for them, and then the actor ends. */
#define POOL_ACTOR_SHUTDOWN_MS 5000

int
tr_pool_child_spec(tr_child_spec *c, const char *id, const char *name,
    const tr_pool_opts *opts, void **ret_args)
{
	Trwire__PoolServerArgs a = TRWIRE__POOL_SERVER_ARGS__INIT;
	tr_pool_opts           o = opts ? *opts : (tr_pool_opts) { 0 };
	void                  *buf;
	size_t                 len;

	if (!c || !id || !ret_args || (name && strlen(name) >= 64) ||
	    o.processes < 0 || o.maxtasksperchild < 0 || o.retries < 0 ||
	    o.prefetch < 0 || o.start_timeout_ms < 0 ||
	    o.start_method < TR_START_DEFAULT ||
	    o.start_method > TR_START_FORKSERVER ||
	    (!o.initargs && o.initargs_len) ||
	    (o.initializer && strlen(o.initializer) >= 64)) {
		return -EINVAL;
	}
	a.name             = (char *) (name ? name : "");
	a.processes        = o.processes;
	a.initializer      = (char *) (o.initializer ? o.initializer : "");
	a.initargs.data    = (uint8_t *) o.initargs;
	a.initargs.len     = o.initargs_len;
	a.maxtasks         = (uint32_t) o.maxtasksperchild;
	a.start_method     = o.start_method;
	a.retries          = o.retries;
	a.prefetch         = o.prefetch;
	a.start_timeout_ms = o.start_timeout_ms;
	while (o.nodes && o.nodes[a.n_nodes]) {
		if (a.n_nodes == TR_POOL_NODES_MAX ||
		    strlen(o.nodes[a.n_nodes]) >= TR_NODE_NAME_MAX) {
			return -EINVAL;
		}
		a.n_nodes++;
	}
	a.nodes = (char **) o.nodes;
	len     = trwire__pool_server_args__get_packed_size(&a);
	buf     = malloc(len ? len : 1);
	if (!buf) {
		return -ENOMEM;
	}
	len = trwire__pool_server_args__pack(&a, buf);
	tr_child_spec_init(c, id, TR_POOL_ACTOR);
	c->args        = buf;
	c->len         = len;
	c->shutdown_ms = POOL_ACTOR_SHUTDOWN_MS;
	/* the pool starts every worker before it reports running */
	c->start_timeout_ms = 30000;
	*ret_args           = buf;
	return 0;
}

/* The result of a call's answer: n results, or the error. */
static int
result_of(Trwire__PoolResult *ans, size_t n, tr_pool_result **ret)
{
	tr_pool_result *r = tri_pool_result_new(NULL, n, 1, NULL);

	if (!r) {
		trwire__pool_result__free_unpacked(ans, NULL);
		return -ENOMEM;
	}
	r->refs++; /* the caller's */
	if (ans->error) {
		int64_t idx = ans->failed == TRI_POOL_INDEX_UNKNOWN
		    ? -1
		    : (int64_t) ans->failed;

		tri_pool_result_fail(r, ans->error < 0 ? ans->error : -EPROTO,
		    idx, ans->error_text);
		trwire__pool_result__free_unpacked(ans, NULL);
	} else {
		if (!tri_pool_answer_fits(ans, n)) {
			trwire__pool_result__free_unpacked(ans, NULL);
			tri_pool_result_fail(r, TR_EBADFRAME, -1,
			    "the pool actor's answer does not match the call");
		} else {
			tri_pool_result_answer(r, 0, 0, n, ans);
		}
	}
	*ret = r;
	return r->error;
}

int
tr_pool_call_map(const char *name, const char *fn, const tr_pool_item *items,
    size_t n, size_t chunksize, tr_pool_result **ret, int timeout_ms)
{
	Trwire__PoolCall    c   = TRWIRE__POOL_CALL__INIT;
	Trwire__PoolResult *ans = NULL;
	tr_addr             to;
	size_t              total = 0, off = 0;
	int                 r;

	if (ret) {
		*ret = NULL;
	}
	if (!name || !fn || !fn[0] || strlen(fn) >= 64 || !ret ||
	    (!items && n) || n >= TRI_POOL_INDEX_UNKNOWN ||
	    timeout_ms < TR_TIMEOUT_INFINITE) {
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		if (items[i].len > UINT32_MAX ||
		    (!items[i].data && items[i].len)) {
			return -EINVAL;
		}
		total += items[i].len;
	}
	r = tr_whereis(name, &to);
	if (r < 0) {
		return r;
	}
	c.fn        = (char *) fn;
	c.chunksize = chunksize;
	c.n_lens    = n;
	c.lens      = calloc(n ? n : 1, sizeof(*c.lens));
	c.data.data = malloc(total ? total : 1);
	if (!c.lens || !c.data.data) {
		free(c.lens);
		free(c.data.data);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		if (items[i].len) {
			memcpy(c.data.data + off, items[i].data, items[i].len);
		}
		c.lens[i] = (uint32_t) items[i].len;
		off += items[i].len;
	}
	c.data.len = total;
	r          = tr_call_pb(to, &c.base, &trwire__pool_result__descriptor,
	             (ProtobufCMessage **) &ans, timeout_ms);
	free(c.lens);
	free(c.data.data);
	if (r < 0) {
		return r;
	}
	return result_of(ans, n, ret);
}

int
tr_pool_call_apply(const char *name, const char *fn, const void *arg,
    size_t len, tr_pool_result **ret, int timeout_ms)
{
	tr_pool_item it = { arg, len };

	if (!arg && len) {
		return -EINVAL;
	}
	return tr_pool_call_map(name, fn, &it, 1, 1, ret, timeout_ms);
}

int
tr_pool_call_map_int64(const char *name, const char *fn, const int64_t *in,
    int64_t *out, size_t n, size_t chunksize, int timeout_ms)
{
	tr_pool_item   *items;
	tr_pool_result *r = NULL;
	int             rc;

	if ((!in && n) || (!out && n)) {
		return -EINVAL;
	}
	items = calloc(n ? n : 1, sizeof(*items));
	if (!items) {
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		items[i].data = in + i;
		items[i].len  = sizeof(*in);
	}
	rc = tr_pool_call_map(name, fn, items, n, chunksize, &r, timeout_ms);
	free(items);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		size_t len = 0;

		(void) tr_pool_result_data(r, i, &len);
		if (len != sizeof(*out)) {
			rc = TR_EBADTYPE;
		}
	}
	for (size_t i = 0; rc == 0 && i < n; i++) {
		memcpy(out + i, tr_pool_result_data(r, i, NULL), sizeof(*out));
	}
	tr_pool_result_destroy(&r);
	return rc;
}

/* Registered here, beside tr_pool_child_spec(): a program that links the
 * child spec links the actor too (a static link leaves out a file that
 * nothing calls). */
__attribute__((constructor)) static void
register_pool_actor(void)
{
	(void) tr_actor_register(
	    TR_POOL_ACTOR, tri_pool_actor, TR_ACTOR_MANUAL_READY);
	(void) tr_msg_type_register(&trwire__pool_call__descriptor);
}
