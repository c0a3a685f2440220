/* SPDX-License-Identifier: MIT */
/* The Manager: tr_mval values; every proxy call's semantics and errors;
 * named objects; authentication; proxies travelling to children started
 * by fork, spawn and the forkserver; a Lock holder SIGKILLed; the manager
 * SIGKILLed under a blocked client; a supervised manager's restart, with
 * idempotent calls retried and the others failing with TR_EMGRRESTART;
 * junk and over-deep requests. */
#include "tr-test.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <protobuf-c/protobuf-c.h>

#include "manager.pb-c.h"
#include "troupe.pb-c.h"

/* The value codec (actors/manager-codec.c), internal. */
int tri_mval_pack(const tr_mval *v, uint8_t **ret, size_t *ret_len);
int tri_mval_unpack(const uint8_t *data, size_t len, tr_mval **ret);

static const int methods[] = { TR_START_FORK, TR_START_SPAWN,
	TR_START_FORKSERVER };

static char *
repr(const tr_mval *v)
{
	char *s = tr_mval_repr(v);

	assert_non_null(s);
	return s;
}

static void
assert_repr(const tr_mval *v, const char *want)
{
	char *s = repr(v);

	assert_string_equal(s, want);
	free(s);
}

static void
assert_obj_repr(tr_mobj *o, const char *want)
{
	char *s = NULL;

	TR_ASSERT_OK(tr_mobj_repr(o, &s));
	assert_string_equal(s, want);
	free(s);
}

static void
dset(tr_mval *d, tr_mval *k, tr_mval *v)
{
	TR_ASSERT_OK(tr_mval_dict_set(d, &k, &v));
}

static tr_mval *
int_list(int from, int to)
{
	tr_mval *l = tr_mval_list();

	for (int i = from; i < to; i++) {
		tr_mval *v = tr_mval_int(i);

		TR_ASSERT_OK(tr_mval_list_append(l, &v));
	}
	return l;
}

/* ---- values ------------------------------------------------------------- */

static void
test_values(void **state)
{
	tr_mval *d = tr_mval_dict(), *c, *l, *k, *v;
	char     name[16];

	dset(d, tr_mval_int(1), tr_mval_str("1"));
	dset(d, tr_mval_str("2"), tr_mval_int(2));
	dset(d, tr_mval_double(0.25), tr_mval_none());
	assert_repr(d, "{1: '1', '2': 2, 0.25: None}");
	dset(d, tr_mval_int(1), tr_mval_bool(true)); /* replaces, keeps place */
	assert_repr(d, "{1: True, '2': 2, 0.25: None}");
	k = tr_mval_double(1.0); /* 1 and 1.0 are two keys */
	assert_null(tr_mval_dict_get(d, k));
	tr_mval_destroy(&k);
	c = tr_mval_copy(d);
	assert_true(tr_mval_eq(c, d));
	dset(c, tr_mval_str("x"), tr_mval_bytes("a'\n\x01\xff", 5));
	assert_false(tr_mval_eq(c, d));
	assert_repr(tr_mval_dict_get(c, (k = tr_mval_str("x"))),
	    "b\"a'\\n\\x01\\xff\"");
	tr_mval_destroy(&k);
	tr_mval_destroy(&c);
	/* a big dict goes through its index */
	for (int i = 0; i < 1000; i++) {
		snprintf(name, sizeof(name), "k%d", i);
		dset(d, tr_mval_str(name), tr_mval_int(i));
	}
	assert_int_equal(tr_mval_len(d), 1003);
	k = tr_mval_str("k777");
	assert_int_equal(tr_mval_get_int(tr_mval_dict_get(d, k)), 777);
	tr_mval_destroy(&k);
	/* lists as keys, NULs in strings, nesting past the limit */
	k = tr_mval_list();
	v = tr_mval_int(0);
	TR_ASSERT_ERR(tr_mval_dict_set(d, &k, &v), -EINVAL);
	assert_non_null(k); /* still the caller's */
	tr_mval_destroy(&k);
	tr_mval_destroy(&v);
	assert_null(tr_mval_strn("a\0b", 3));
	l = tr_mval_list();
	for (int i = 0; i < TR_MVAL_MAX_DEPTH - 1; i++) {
		tr_mval *outer = tr_mval_list();

		TR_ASSERT_OK(tr_mval_list_append(outer, &l));
		l = outer;
	}
	v = tr_mval_list();
	TR_ASSERT_ERR(tr_mval_list_append(v, &l), -EINVAL);
	tr_mval_destroy(&v);
	tr_mval_destroy(&l);
	v = tr_mval_pb("trwire.Addr", "\x08\x01", 2);
	assert_string_equal(tr_mval_pb_type(v), "trwire.Addr");
	assert_repr(v, "<trwire.Addr: 2 bytes>");
	tr_mval_destroy(&v);
	v = tr_mval_double(3.1415927);
	assert_repr(v, "3.1415927");
	tr_mval_destroy(&v);
	v = tr_mval_double(2);
	assert_repr(v, "2.0");
	tr_mval_destroy(&v);
	tr_mval_destroy(&d);
}

/* A protobuf message stored in a managed dict comes back whole; asked for
 * as another type it is TR_EBADTYPE. */
static void
test_protobuf_values(void **state)
{
	Trwire__Addr a = TRWIRE__ADDR__INIT, *back = NULL;
	tr_manager  *m;
	tr_mobj     *d;
	tr_mval     *v, *k = tr_mval_str("addr"), *got = NULL;

	a.pid         = 4242;
	a.incarnation = 77;
	v             = tr_mval_pb_pack(&a.base);
	assert_non_null(v);
	assert_string_equal(tr_mval_pb_type(v), "trwire.Addr");
	TR_ASSERT_OK(tr_manager_start(&m, NULL));
	TR_ASSERT_OK(tr_mobj_new(&d, m, TR_MOBJ_DICT, NULL, NULL));
	TR_ASSERT_OK(tr_mdict_set(d, k, v));
	TR_ASSERT_OK(tr_mdict_get(d, k, &got));
	assert_true(tr_mval_eq(got, v));
	TR_ASSERT_OK(tr_mval_pb_unpack(
	    got, &trwire__addr__descriptor, (ProtobufCMessage **) &back));
	assert_int_equal(back->pid, 4242);
	assert_int_equal(back->incarnation, 77);
	protobuf_c_message_free_unpacked(&back->base, NULL);
	TR_ASSERT_ERR(tr_mval_pb_unpack(got, &trwire__envelope__descriptor,
	                  (ProtobufCMessage **) &back),
	    TR_EBADTYPE);
	TR_ASSERT_ERR(tr_mval_pb_unpack(k, &trwire__addr__descriptor,
	                  (ProtobufCMessage **) &back),
	    TR_EBADTYPE);
	tr_mval_destroy(&got);
	tr_mval_destroy(&v);
	tr_mval_destroy(&k);
	tr_mobj_destroy(&d);
	tr_manager_destroy(&m);
}

/* The hand-written value codec against protobuf-c: protobuf-c decodes
 * what it packs, it decodes protobuf-c's packing of that to the same
 * value, and no truncation of it that protobuf-c refuses does it accept
 * (never more lenient). */
static void
test_codec_matches_protobuf_c(void **state)
{
	tr_mval          *d = tr_mval_dict(), *l = int_list(-3, 3), *back;
	Trwire__MgrValue *pb;
	uint8_t          *buf, *again;
	size_t            n, n2;

	dset(d, tr_mval_int(INT64_MIN), tr_mval_double(-0.5));
	dset(d, tr_mval_str("s"), tr_mval_bytes("\0\1\2", 3));
	dset(d, tr_mval_bool(false), tr_mval_none());
	dset(d, tr_mval_double(1e300), tr_mval_pb("a.B", "\x08\x01", 2));
	dset(d, tr_mval_str(""), tr_mval_dict());
	dset(d, tr_mval_int(INT64_MAX), l);
	TR_ASSERT_OK(tri_mval_pack(d, &buf, &n));
	pb = trwire__mgr_value__unpack(NULL, n, buf);
	assert_non_null(pb);
	assert_int_equal(pb->v_case, TRWIRE__MGR_VALUE__V_DICT);
	assert_int_equal(pb->dict->n_keys, 6);
	n2    = trwire__mgr_value__get_packed_size(pb);
	again = malloc(n2);
	trwire__mgr_value__pack(pb, again);
	trwire__mgr_value__free_unpacked(pb, NULL);
	TR_ASSERT_OK(tri_mval_unpack(again, n2, &back));
	assert_true(tr_mval_eq(back, d));
	tr_mval_destroy(&back);
	for (size_t cut = 0; cut < n; cut++) {
		pb = trwire__mgr_value__unpack(NULL, cut, buf);
		if (!pb) {
			TR_ASSERT_ERR(
			    tri_mval_unpack(buf, cut, &back), TR_EBADFRAME);
		}
		trwire__mgr_value__free_unpacked(pb, NULL);
	}
	free(again);
	free(buf);
	tr_mval_destroy(&d);
	/* an empty bytes field (a request's key or value left out) reaches
	 * the decoder as NULL, 0: refused, without NULL + 0 (found by
	 * fuzz-wire under UBSan; seed wire/regress-mgr-empty-value) */
	back = NULL;
	TR_ASSERT_ERR(tri_mval_unpack(NULL, 0, &back), TR_EBADFRAME);
	assert_null(back);
}

/* ---- calls -------------------------------------------------------------- */

static void
test_dict_calls(void **state)
{
	tr_manager *m;
	tr_mobj    *d;
	tr_mval    *k1 = tr_mval_int(1), *k2 = tr_mval_str("2");
	tr_mval    *v1 = tr_mval_str("one"), *got = NULL, *upd;

	TR_ASSERT_OK(tr_manager_start(&m, NULL));
	TR_ASSERT_OK(tr_mobj_new(&d, m, TR_MOBJ_DICT, NULL, NULL));
	assert_int_equal(tr_mobj_kind(d), TR_MOBJ_DICT);
	TR_ASSERT_ERR(tr_mdict_get(d, k1, &got), TR_ENOTFOUND);
	TR_ASSERT_ERR(tr_mdict_set(d, k1, v1), 0);
	TR_ASSERT_ERR(tr_mdict_get(d, k1, &got), 0);
	assert_true(tr_mval_eq(got, v1));
	tr_mval_destroy(&got);
	TR_ASSERT_ERR(tr_mdict_contains(d, k1), 1);
	TR_ASSERT_ERR(tr_mdict_contains(d, k2), 0);
	/* nowait writes are seen by this client's next call */
	for (int i = 0; i < 100; i++) {
		tr_mval *v = tr_mval_int(i);

		TR_ASSERT_OK(tr_mdict_set_nowait(d, k2, v));
		tr_mval_destroy(&v);
	}
	TR_ASSERT_ERR(tr_mdict_get(d, k2, &got), 0);
	assert_int_equal(tr_mval_get_int(got), 99);
	tr_mval_destroy(&got);
	assert_int_equal(tr_mobj_len(d), 2);
	TR_ASSERT_OK(tr_mdict_keys(d, &got));
	assert_repr(got, "[1, '2']");
	tr_mval_destroy(&got);
	upd = tr_mval_dict();
	dset(upd, tr_mval_int(1), tr_mval_none());
	dset(upd, tr_mval_double(0.25), tr_mval_int(-5));
	TR_ASSERT_OK(tr_mdict_update(d, upd));
	assert_obj_repr(d, "{1: None, '2': 99, 0.25: -5}");
	TR_ASSERT_ERR(tr_mdict_pop(d, k2, &got), 0);
	assert_int_equal(tr_mval_get_int(got), 99);
	tr_mval_destroy(&got);
	TR_ASSERT_ERR(tr_mdict_pop(d, k2, &got), TR_ENOTFOUND);
	TR_ASSERT_ERR(tr_mdict_del(d, k1), 0);
	TR_ASSERT_ERR(tr_mdict_del(d, k1), TR_ENOTFOUND);
	assert_obj_repr(d, "{0.25: -5}");
	/* errors: a list as key, a list call on a dict, NULLs */
	TR_ASSERT_ERR(tr_mdict_set(d, upd, v1), -EINVAL);
	TR_ASSERT_ERR(tr_mlist_append(d, v1), -EOPNOTSUPP);
	TR_ASSERT_ERR(tr_mdict_set(d, NULL, v1), -EINVAL);
	TR_ASSERT_ERR(tr_mdict_get(NULL, k1, &got), -EINVAL);
	tr_mval_destroy(&upd);
	tr_mval_destroy(&k1);
	tr_mval_destroy(&k2);
	tr_mval_destroy(&v1);
	tr_mobj_destroy(&d);
	tr_manager_destroy(&m);
	assert_null(m);
}

static void
test_list_calls(void **state)
{
	tr_manager *m;
	tr_mobj    *l;
	tr_mval    *init = int_list(0, 10), *got = NULL, *v;

	TR_ASSERT_OK(tr_manager_start(&m, NULL));
	TR_ASSERT_OK(tr_mobj_new(&l, m, TR_MOBJ_LIST, NULL, init));
	TR_ASSERT_OK(tr_mlist_reverse(l));
	assert_obj_repr(l, "[9, 8, 7, 6, 5, 4, 3, 2, 1, 0]");
	TR_ASSERT_OK(tr_mlist_get(l, -1, &got));
	assert_int_equal(tr_mval_get_int(got), 0);
	tr_mval_destroy(&got);
	TR_ASSERT_ERR(tr_mlist_get(l, 10, &got), TR_ENOTFOUND);
	TR_ASSERT_ERR(tr_mlist_get(l, -11, &got), TR_ENOTFOUND);
	v = tr_mval_str("x");
	TR_ASSERT_OK(tr_mlist_set(l, 1, v));
	TR_ASSERT_OK(tr_mlist_append(l, v));
	TR_ASSERT_OK(tr_mlist_append_nowait(l, v));
	TR_ASSERT_ERR(tr_mlist_set(l, 99, v), TR_ENOTFOUND);
	tr_mval_destroy(&v);
	assert_int_equal(tr_mobj_len(l), 12);
	TR_ASSERT_OK(tr_mlist_extend(l, init));
	assert_int_equal(tr_mobj_len(l), 22);
	TR_ASSERT_OK(tr_mlist_slice(l, 0, 4, &got));
	assert_repr(got, "[9, 'x', 7, 6]");
	tr_mval_destroy(&got);
	TR_ASSERT_OK(tr_mlist_slice(l, -3, 100, &got));
	assert_repr(got, "[7, 8, 9]");
	tr_mval_destroy(&got);
	TR_ASSERT_OK(tr_mlist_slice(l, 5, 2, &got));
	assert_repr(got, "[]");
	tr_mval_destroy(&got);
	TR_ASSERT_OK(tr_mlist_pop(l, -1, &got));
	assert_int_equal(tr_mval_get_int(got), 9);
	tr_mval_destroy(&got);
	TR_ASSERT_OK(tr_mlist_pop(l, 0, &got));
	assert_int_equal(tr_mval_get_int(got), 9);
	tr_mval_destroy(&got);
	assert_int_equal(tr_mobj_len(l), 20);
	TR_ASSERT_ERR(tr_mlist_extend(l, (v = tr_mval_int(3))), -EINVAL);
	tr_mval_destroy(&v);
	TR_ASSERT_ERR(tr_mdict_keys(l, &got), -EOPNOTSUPP);
	tr_mval_destroy(&init);
	tr_mobj_destroy(&l);
	tr_manager_destroy(&m);
}

static void
test_namespace_and_value(void **state)
{
	tr_manager *m;
	tr_mobj    *ns, *val;
	tr_mval    *v, *got = NULL, *bad;

	TR_ASSERT_OK(tr_manager_start(&m, NULL));
	TR_ASSERT_OK(tr_mobj_new(&ns, m, TR_MOBJ_NAMESPACE, NULL, NULL));
	TR_ASSERT_OK(tr_mns_set(ns, "x", (v = tr_mval_int(10))));
	tr_mval_destroy(&v);
	TR_ASSERT_OK(tr_mns_set(ns, "y", (v = tr_mval_str("this is"))));
	tr_mval_destroy(&v);
	assert_obj_repr(ns, "Namespace(x=10, y='this is')");
	TR_ASSERT_OK(tr_mns_get(ns, "x", &got));
	assert_int_equal(tr_mval_get_int(got), 10);
	tr_mval_destroy(&got);
	TR_ASSERT_ERR(tr_mns_get(ns, "z", &got), TR_ENOTFOUND);
	/* a Namespace's keys are strings */
	bad = tr_mval_int(1);
	TR_ASSERT_ERR(tr_mdict_set(ns, bad, bad), -EINVAL);
	tr_mval_destroy(&bad);

	TR_ASSERT_OK(
	    tr_mobj_new(&val, m, TR_MOBJ_VALUE, NULL, (v = tr_mval_int(40))));
	tr_mval_destroy(&v);
	TR_ASSERT_OK(tr_mvalue_add(val, (v = tr_mval_int(2)), &got));
	assert_int_equal(tr_mval_get_int(got), 42);
	tr_mval_destroy(&got);
	TR_ASSERT_ERR(
	    tr_mvalue_add(val, (bad = tr_mval_str("s")), NULL), TR_EBADTYPE);
	tr_mval_destroy(&bad);
	TR_ASSERT_OK(tr_mvalue_set(val, (bad = tr_mval_int(INT64_MAX))));
	TR_ASSERT_ERR(tr_mvalue_add(val, v, NULL), -EOVERFLOW);
	tr_mval_destroy(&bad);
	TR_ASSERT_OK(tr_mvalue_set(val, (bad = tr_mval_double(0.5))));
	tr_mval_destroy(&bad);
	TR_ASSERT_OK(tr_mvalue_add(val, v, NULL)); /* int to a double */
	TR_ASSERT_OK(tr_mvalue_get(val, &got));
	assert_true(tr_mval_get_double(got) == 2.5);
	tr_mval_destroy(&got);
	tr_mval_destroy(&v);
	TR_ASSERT_ERR(tr_mobj_len(val), -EOPNOTSUPP);
	tr_mobj_destroy(&ns);
	tr_mobj_destroy(&val);
	tr_manager_destroy(&m);
}

static void
test_queue_lock_event(void **state)
{
	tr_manager *m;
	tr_mobj    *q, *l, *e;
	tr_mval    *v, *got = NULL;
	int64_t     t0;

	TR_ASSERT_OK(tr_manager_start(&m, NULL));
	TR_ASSERT_OK(tr_mobj_new(&q, m, TR_MOBJ_QUEUE, NULL, NULL));
	TR_ASSERT_ERR(tr_mqueue_get(q, &got, 0), -EAGAIN);
	t0 = tr_test_now_ms();
	TR_ASSERT_ERR(tr_mqueue_get(q, &got, 100), -ETIMEDOUT);
	assert_true(tr_test_now_ms() - t0 >= 100);
	TR_ASSERT_ERR(tr_mqueue_get(q, &got, -2), -EINVAL);
	for (int i = 0; i < 3; i++) {
		TR_ASSERT_OK(tr_mqueue_put(q, (v = tr_mval_int(i))));
		tr_mval_destroy(&v);
	}
	assert_int_equal(tr_mobj_len(q), 3);
	assert_obj_repr(q, "[0, 1, 2]");
	for (int i = 0; i < 3; i++) {
		TR_ASSERT_OK(tr_mqueue_get(q, &got, TR_TIMEOUT_INFINITE));
		assert_int_equal(tr_mval_get_int(got), i);
		tr_mval_destroy(&got);
	}

	TR_ASSERT_OK(tr_mobj_new(&l, m, TR_MOBJ_LOCK, NULL, NULL));
	TR_ASSERT_ERR(tr_mlock_release(l), -EPERM);
	TR_ASSERT_ERR(tr_mlock_acquire(l, 0), 0);
	TR_ASSERT_ERR(tr_mlock_acquire(l, 0), -EDEADLK);
	assert_obj_repr(l, "True");
	TR_ASSERT_ERR(tr_mlock_release(l), 0);
	TR_ASSERT_ERR(tr_mlock_release(l), -EPERM);
	TR_ASSERT_ERR(
	    tr_mobj_new(&e, m, TR_MOBJ_LOCK, NULL, (v = tr_mval_int(1))),
	    -EINVAL);
	tr_mval_destroy(&v);

	TR_ASSERT_OK(tr_mobj_new(&e, m, TR_MOBJ_EVENT, NULL, NULL));
	TR_ASSERT_ERR(tr_mevent_is_set(e), 0);
	TR_ASSERT_ERR(tr_mevent_wait(e, 0), 0);
	t0 = tr_test_now_ms();
	TR_ASSERT_ERR(tr_mevent_wait(e, 100), 0);
	assert_true(tr_test_now_ms() - t0 >= 100);
	TR_ASSERT_OK(tr_mevent_set(e));
	TR_ASSERT_ERR(tr_mevent_wait(e, TR_TIMEOUT_INFINITE), 1);
	TR_ASSERT_OK(tr_mevent_clear(e));
	TR_ASSERT_ERR(tr_mevent_is_set(e), 0);
	tr_mobj_destroy(&q);
	tr_mobj_destroy(&l);
	tr_mobj_destroy(&e);
	tr_manager_destroy(&m);
}

static void
test_named_objects_and_drop(void **state)
{
	tr_manager *m;
	tr_mobj    *a, *b, *c;
	tr_mval    *k = tr_mval_int(7), *got = NULL;

	TR_ASSERT_OK(tr_manager_start(&m, NULL));
	TR_ASSERT_OK(tr_mobj_new(&a, m, TR_MOBJ_DICT, "shared", NULL));
	assert_string_equal(tr_mobj_ref(a), "shared");
	TR_ASSERT_OK(tr_mdict_set(a, k, k));
	TR_ASSERT_OK(tr_mobj_new(&b, m, TR_MOBJ_DICT, "shared", NULL));
	TR_ASSERT_OK(tr_mdict_get(b, k, &got)); /* the same object */
	tr_mval_destroy(&got);
	TR_ASSERT_ERR(
	    tr_mobj_new(&c, m, TR_MOBJ_LIST, "shared", NULL), TR_EBADTYPE);
	TR_ASSERT_ERR(
	    tr_mobj_new(&c, m, TR_MOBJ_LIST, "bad name", NULL), -EINVAL);
	TR_ASSERT_ERR(tr_mobj_open(&c, m, "nobody"), TR_ENOTFOUND);
	TR_ASSERT_ERR(tr_mobj_open(&c, m, "#12x"), -EINVAL);
	tr_mobj_destroy(&b);
	TR_ASSERT_OK(tr_mobj_new(&b, m, TR_MOBJ_LIST, NULL, NULL));
	assert_true(tr_mobj_ref(b)[0] == '#');
	TR_ASSERT_OK(tr_mobj_open(&c, m, tr_mobj_ref(b)));
	assert_int_equal(tr_mobj_kind(c), TR_MOBJ_LIST);
	TR_ASSERT_OK(tr_mobj_drop(b));
	TR_ASSERT_ERR(tr_mobj_len(c), TR_ENOTFOUND);
	TR_ASSERT_ERR(tr_mobj_drop(b), TR_ENOTFOUND);
	TR_ASSERT_OK(tr_mobj_drop(a));
	TR_ASSERT_ERR(tr_mobj_open(&b, m, "shared"), TR_ENOTFOUND);
	tr_mval_destroy(&k);
	tr_mobj_destroy(&a);
	tr_mobj_destroy(&b);
	tr_mobj_destroy(&c);
	tr_manager_destroy(&m);
}

/* ---- authentication ----------------------------------------------------- */

/* args: the manager's address.  Sends a request (op LEN) without a
 * HELLO: exit 0 if the answer is MgrReply{result: TR_EAUTH}. */
static int
raw_client(const void *args, size_t len)
{
	tr_msg *req, *rep;
	tr_addr a;
	int     r;

	if (tr_addr_parse(args, &a) < 0 ||
	    tr_msg_new_bytes(&req, "\x08\x06\x10\x01", 4) < 0 ||
	    tr_msg_set_type(req, "trwire.MgrRequest") < 0) {
		return 10;
	}
	r = tr_call(a, &req, &rep, TR_TEST_HANG_MS);
	tr_msg_destroy(&req);
	if (r < 0) {
		return 11;
	}
	/* field 1, zigzag varint of -4031: 8061 */
	r = tr_msg_size(rep) == 3 &&
	        memcmp(tr_msg_data(rep), "\x08\xfd\x3e", 3) == 0
	    ? 0
	    : 12;
	tr_msg_destroy(&rep);
	return r;
}
TR_ACTOR(raw_client, raw_client)

static void
test_authentication(void **state)
{
	tr_manager     *m, *c;
	tr_manager_opts o = { .name = "mgr-auth" };
	char            key[TR_MANAGER_KEY_LEN + 1];
	char            at[TR_ADDR_STRLEN], args[64];
	tr_process     *p;

	TR_ASSERT_OK(tr_manager_start(&m, &o));
	assert_string_equal(tr_manager_where(m), "mgr-auth");
	assert_int_equal(strlen(tr_manager_authkey(m)), TR_MANAGER_KEY_LEN);
	TR_ASSERT_OK(tr_manager_authkey_new(key, sizeof(key)));
	assert_string_not_equal(key, tr_manager_authkey(m));
	TR_ASSERT_ERR(tr_manager_connect(&c, "mgr-auth", key), TR_EAUTH);
	TR_ASSERT_ERR(tr_manager_connect(&c, "mgr-auth", "short"), -EINVAL);
	TR_ASSERT_ERR(tr_manager_connect(&c, "mgr-auth", NULL), -EINVAL);
	TR_ASSERT_ERR(tr_manager_connect(&c, "nobody", tr_manager_authkey(m)),
	    TR_ENOTFOUND);
	tr_addr_format(tr_manager_addr(m), at, sizeof(at));
	TR_ASSERT_OK(tr_manager_connect(&c, at, tr_manager_authkey(m)));
	tr_manager_destroy(&c);
	/* a raw request from a process that never said hello */
	snprintf(args, sizeof(args), "%s", at);
	TR_ASSERT_OK(tr_process_new(&p, "raw_client", args, strlen(args)));
	TR_ASSERT_OK(tr_process_start(p, TR_TEST_HANG_MS));
	assert_int_equal(tr_test_finish(&p), 0);
	tr_manager_destroy(&m);
	/* a key of one's own */
	o.authkey = key;
	TR_ASSERT_OK(tr_manager_start(&m, &o));
	assert_string_equal(tr_manager_authkey(m), key);
	TR_ASSERT_OK(tr_manager_connect(&c, "mgr-auth", key));
	tr_manager_destroy(&c);
	tr_manager_destroy(&m);
	o.authkey = "not hex";
	TR_ASSERT_ERR(tr_manager_start(&m, &o), -EINVAL);
}

/* Put field tag with a length len (varint) in front of *p (or, for a
 * varint field, its value). */
static void
prepend(uint8_t **p, uint8_t tag, size_t len)
{
	uint8_t v[10];
	int     n = 0;

	do {
		v[n++] = (uint8_t) ((len & 0x7f) | (len > 0x7f ? 0x80 : 0));
		len >>= 7;
	} while (len);
	while (n > 0) {
		*--*p = v[--n];
	}
	*--*p = tag;
}

/* Junk, and a value nested far too deep, are refused with TR_EBADFRAME;
 * the manager serves on. */
static void
test_junk_requests(void **state)
{
	tr_manager *m;
	tr_mobj    *d;
	tr_msg     *req, *rep;
	uint8_t    *buf = malloc(4096), *p;
	size_t      n;

	TR_ASSERT_OK(tr_manager_start(&m, NULL));
	TR_ASSERT_OK(tr_mobj_new(&d, m, TR_MOBJ_DICT, NULL, NULL));
	TR_ASSERT_OK(tr_msg_new_bytes(&req, "\xff\xff\xff", 3));
	TR_ASSERT_OK(tr_msg_set_type(req, "trwire.MgrRequest"));
	TR_ASSERT_OK(tr_call(tr_manager_addr(m), &req, &rep, TR_TEST_HANG_MS));
	assert_memory_equal(tr_msg_data(rep), "\x08\xc9\x3e", 3); /* -4005 */
	tr_msg_destroy(&rep);
	/* 500 lists in lists, built from the inside out, as field 4 */
	p    = buf + 4096;
	*--p = 0x01; /* innermost: MgrValue{none: true} */
	*--p = 0x08;
	for (int i = 0; i < 500; i++) {
		prepend(&p, 0x0a, (size_t) (buf + 4096 - p)); /* MgrList */
		prepend(&p, 0x42, (size_t) (buf + 4096 - p)); /* .list */
	}
	prepend(&p, 0x22, (size_t) (buf + 4096 - p)); /* MgrRequest.value */
	*--p = 0x04;                                  /* key: MgrValue{i: 2} */
	*--p = 0x20;
	prepend(&p, 0x1a, 2);
	prepend(&p, 0x10, strtoull(tr_mobj_ref(d) + 1, NULL, 10)); /* obj */
	prepend(&p, 0x08, 11); /* op DICT_SET */
	n = (size_t) (buf + 4096 - p);
	TR_ASSERT_OK(tr_msg_new_bytes(&req, p, n));
	TR_ASSERT_OK(tr_msg_set_type(req, "trwire.MgrRequest"));
	TR_ASSERT_OK(tr_call(tr_manager_addr(m), &req, &rep, TR_TEST_HANG_MS));
	assert_memory_equal(tr_msg_data(rep), "\x08\xc9\x3e", 3);
	tr_msg_destroy(&rep);
	assert_int_equal(tr_mobj_len(d), 0); /* still serving */
	free(buf);
	tr_mobj_destroy(&d);
	tr_manager_destroy(&m);
}

/* ---- children ----------------------------------------------------------- */

/* args: "WHERE KEY DICT LIST LOCK EVENT": connect, open each proxy, and
 * d[1] = '1', d['2'] = 2, d[0.25] = None, l.reverse() (the seed's f), then
 * append our pid under the lock, then wait for the event. */
static int
child_user(const void *args, size_t len)
{
	char        where[80], key[80], dr[80], lr[80], kr[80], er[80];
	tr_manager *m = NULL;
	tr_mobj    *d = NULL, *l = NULL, *k = NULL, *e = NULL;
	tr_mval    *one = tr_mval_int(1), *s1 = tr_mval_str("1");
	tr_mval    *two = tr_mval_str("2"), *i2 = tr_mval_int(2);
	tr_mval    *q = tr_mval_double(0.25), *none = tr_mval_none();
	tr_mval    *pid = tr_mval_int(getpid());
	int         r;

	if (sscanf(args, "%79s %79s %79s %79s %79s %79s", where, key, dr, lr,
	        kr, er) != 6) {
		return 10;
	}
	r = tr_manager_connect(&m, where, key);
	r = r < 0 ? r : tr_mobj_open(&d, m, dr);
	r = r < 0 ? r : tr_mobj_open(&l, m, lr);
	r = r < 0 ? r : tr_mobj_open(&k, m, kr);
	r = r < 0 ? r : tr_mobj_open(&e, m, er);
	r = r < 0 ? r : tr_mdict_set(d, one, s1);
	r = r < 0 ? r : tr_mdict_set(d, two, i2);
	r = r < 0 ? r : tr_mdict_set(d, q, none);
	r = r < 0 ? r : tr_mlist_reverse(l);
	r = r < 0 ? r : tr_mlock_acquire(k, TR_TEST_HANG_MS);
	r = r < 0 ? r : tr_mlist_append(l, pid);
	r = r < 0 ? r : tr_mlock_release(k);
	r = r < 0 ? r : tr_mevent_wait(e, TR_TEST_HANG_MS);
	tr_mval_destroy(&one);
	tr_mval_destroy(&s1);
	tr_mval_destroy(&two);
	tr_mval_destroy(&i2);
	tr_mval_destroy(&q);
	tr_mval_destroy(&none);
	tr_mval_destroy(&pid);
	tr_mobj_destroy(&d);
	tr_mobj_destroy(&l);
	tr_mobj_destroy(&k);
	tr_mobj_destroy(&e);
	tr_manager_destroy(&m);
	if (r < 0) {
		tr_log(TR_LOG_ERROR, "child_user: %s", tr_strerror(r));
	}
	return r == 1 ? 0 : 11;
}
TR_ACTOR(child_user, child_user)

/* The proxies travel to a child of each start method, by reference text,
 * with the manager started under each method too. */
static void
test_proxy_travels_to_children(void **state)
{
	for (int mm = 0; mm < 3; mm++) {
		tr_manager_opts o = { .start_method = methods[mm] };
		tr_manager     *m;
		tr_mobj        *d, *l, *k, *e;
		tr_mval        *init = int_list(0, 10), *got = NULL;
		tr_process     *p;
		char            args[512];

		TR_ASSERT_OK(tr_manager_start(&m, &o));
		TR_ASSERT_OK(tr_mobj_new(&d, m, TR_MOBJ_DICT, NULL, NULL));
		TR_ASSERT_OK(tr_mobj_new(&l, m, TR_MOBJ_LIST, NULL, init));
		TR_ASSERT_OK(tr_mobj_new(&k, m, TR_MOBJ_LOCK, "k", NULL));
		TR_ASSERT_OK(tr_mobj_new(&e, m, TR_MOBJ_EVENT, NULL, NULL));
		for (int c = 0; c < 3; c++) {
			snprintf(args, sizeof(args), "%s %s %s %s %s %s",
			    tr_manager_where(m), tr_manager_authkey(m),
			    tr_mobj_ref(d), tr_mobj_ref(l), tr_mobj_ref(k),
			    tr_mobj_ref(e));
			TR_ASSERT_OK(tr_process_new(
			    &p, "child_user", args, strlen(args)));
			TR_ASSERT_OK(
			    tr_process_set_start_method(p, methods[c]));
			TR_ASSERT_OK(tr_process_start(p, TR_TEST_HANG_MS));
			TR_ASSERT_OK(tr_mevent_set(e));
			assert_int_equal(tr_test_finish(&p), 0);
			TR_ASSERT_OK(tr_mevent_clear(e));
			TR_ASSERT_OK(tr_mlist_pop(l, -1, &got)); /* its pid */
			tr_mval_destroy(&got);
		}
		assert_obj_repr(d, "{1: '1', '2': 2, 0.25: None}");
		/* reversed three times */
		assert_obj_repr(l, "[9, 8, 7, 6, 5, 4, 3, 2, 1, 0]");
		tr_mval_destroy(&init);
		tr_mobj_destroy(&d);
		tr_mobj_destroy(&l);
		tr_mobj_destroy(&k);
		tr_mobj_destroy(&e);
		tr_manager_destroy(&m);
	}
}

/* args: "WHERE KEY LOCK PARENT": take the lock, tell the parent, sleep. */
static int
lock_holder(const void *args, size_t len)
{
	char        where[80], key[80], lr[80], ptxt[TR_ADDR_STRLEN];
	tr_manager *m = NULL;
	tr_mobj    *k = NULL;
	tr_addr     parent;
	int         r;

	if (sscanf(args, "%79s %79s %79s %47s", where, key, lr, ptxt) != 4 ||
	    tr_addr_parse(ptxt, &parent) < 0) {
		return 10;
	}
	r = tr_manager_connect(&m, where, key);
	r = r < 0 ? r : tr_mobj_open(&k, m, lr);
	r = r < 0 ? r : tr_mlock_acquire(k, TR_TEST_HANG_MS);
	r = r < 0 ? r : tr_send_bytes(parent, "h", 1, TR_TEST_HANG_MS);
	if (r < 0) {
		return 11;
	}
	pause(); /* until SIGKILL */
	return 12;
}
TR_ACTOR(lock_holder, lock_holder)

static void
test_lock_holder_killed(void **state)
{
	tr_manager *m;
	tr_mobj    *k;
	tr_process *p;
	tr_msg     *msg;
	char        args[512], ptxt[TR_ADDR_STRLEN];

	TR_ASSERT_OK(tr_manager_start(&m, NULL));
	TR_ASSERT_OK(tr_mobj_new(&k, m, TR_MOBJ_LOCK, NULL, NULL));
	for (int c = 0; c < 3; c++) {
		snprintf(args, sizeof(args), "%s %s %s %s", tr_manager_where(m),
		    tr_manager_authkey(m), tr_mobj_ref(k),
		    tr_addr_format(tr_self(), ptxt, sizeof(ptxt)));
		TR_ASSERT_OK(
		    tr_process_new(&p, "lock_holder", args, strlen(args)));
		TR_ASSERT_OK(tr_process_set_start_method(p, methods[c]));
		TR_ASSERT_OK(tr_process_start(p, TR_TEST_HANG_MS));
		TR_ASSERT_OK(tr_recv(&msg, TR_TEST_HANG_MS));
		tr_msg_destroy(&msg);
		TR_ASSERT_ERR(tr_mlock_acquire(k, 0), -EAGAIN);
		TR_ASSERT_OK(tr_process_kill(p));
		/* the holder's death hands the lock on, and says so */
		TR_ASSERT_ERR(
		    tr_mlock_acquire(k, TR_TEST_HANG_MS), TR_LOCK_OWNER_DIED);
		TR_ASSERT_OK(tr_mlock_release(k));
		assert_int_equal(tr_test_finish(&p), -SIGKILL);
	}
	tr_mobj_destroy(&k);
	tr_manager_destroy(&m);
}

/* args: "WHERE KEY OBJ OP PARENT": block in OP (q: queue get, e: event
 * wait) with no timeout after telling the parent; exit with a code for
 * the result: 0 got an item / the event, 3 TR_EDEAD or -ESRCH, 4
 * TR_EMGRRESTART, 5 other. */
static int
blocked_client(const void *args, size_t len)
{
	char        where[80], key[80], ref[80], ptxt[TR_ADDR_STRLEN], op;
	tr_manager *m   = NULL;
	tr_mobj    *o   = NULL;
	tr_mval    *got = NULL;
	tr_addr     parent;
	int         r;

	if (sscanf(args, "%79s %79s %79s %c %47s", where, key, ref, &op,
	        ptxt) != 5 ||
	    tr_addr_parse(ptxt, &parent) < 0) {
		return 10;
	}
	r = tr_manager_connect(&m, where, key);
	r = r < 0 ? r : tr_mobj_open(&o, m, ref);
	r = r < 0 ? r : tr_send_bytes(parent, "b", 1, TR_TEST_HANG_MS);
	if (r == 0) {
		r = op == 'q' ? tr_mqueue_get(o, &got, TR_TIMEOUT_INFINITE)
		              : tr_mevent_wait(o, TR_TIMEOUT_INFINITE);
	}
	tr_mval_destroy(&got);
	tr_mobj_destroy(&o);
	tr_manager_destroy(&m);
	return r >= 0                      ? 0
	    : r == TR_EDEAD || r == -ESRCH ? 3
	    : r == TR_EMGRRESTART          ? 4
	                                   : 5;
}
TR_ACTOR(blocked_client, blocked_client)

static tr_process *
start_blocked(tr_manager *m, tr_mobj *o, char op, int method)
{
	char        args[512], ptxt[TR_ADDR_STRLEN];
	tr_process *p;
	tr_msg     *msg;

	snprintf(args, sizeof(args), "%s %s %s %c %s", tr_manager_where(m),
	    tr_manager_authkey(m), tr_mobj_ref(o), op,
	    tr_addr_format(tr_self(), ptxt, sizeof(ptxt)));
	TR_ASSERT_OK(tr_process_new(&p, "blocked_client", args, strlen(args)));
	TR_ASSERT_OK(tr_process_set_start_method(p, method));
	TR_ASSERT_OK(tr_process_start(p, TR_TEST_HANG_MS));
	TR_ASSERT_OK(tr_recv(&msg, TR_TEST_HANG_MS));
	tr_msg_destroy(&msg);
	usleep(100 * 1000); /* likely parked; either way the result holds */
	return p;
}

/* An unsupervised manager SIGKILLed under clients blocked without a
 * timeout: each gets TR_EDEAD, none hangs; later calls too. */
static void
test_manager_killed_under_blocked_client(void **state)
{
	tr_manager *m;
	tr_mobj    *q, *e;
	tr_process *p[3];

	TR_ASSERT_OK(tr_manager_start(&m, NULL));
	TR_ASSERT_OK(tr_mobj_new(&q, m, TR_MOBJ_QUEUE, NULL, NULL));
	TR_ASSERT_OK(tr_mobj_new(&e, m, TR_MOBJ_EVENT, NULL, NULL));
	for (int c = 0; c < 3; c++) {
		p[c] = start_blocked(
		    m, c == 1 ? e : q, c == 1 ? 'e' : 'q', methods[c]);
	}
	assert_int_equal(kill((pid_t) tr_manager_addr(m).pid, SIGKILL), 0);
	for (int c = 0; c < 3; c++) {
		assert_int_equal(tr_test_finish(&p[c]), 3);
	}
	TR_ASSERT_ERR(tr_mobj_len(q) < 0, 1);
	tr_mobj_destroy(&q);
	tr_mobj_destroy(&e);
	tr_manager_destroy(&m);
}

/* A supervised manager, found by name: SIGKILLed, it comes back empty.
 * Idempotent calls are retried (a get finds nothing, a set lands; an
 * Event wait under way goes on in the new manager); a queue get under way
 * fails with TR_EMGRRESTART, and so does any call on an object known only
 * by its id. */
static void
test_supervised_restart(void **state)
{
	static char     buf[TR_MANAGER_ARGS_MAX];
	char            key[TR_MANAGER_KEY_LEN + 1];
	tr_manager_opts o = { .name = "mgr-sup", .authkey = key };
	tr_child_spec   c;
	tr_sup_spec     spec = { 0 };
	tr_supervisor  *s;
	tr_child_info   ci;
	tr_manager     *m;
	tr_mobj        *d, *anon, *q, *e;
	tr_mval        *k = tr_mval_str("k"), *got = NULL;
	tr_process     *pq, *pe;
	tr_addr         old;

	TR_ASSERT_OK(tr_manager_authkey_new(key, sizeof(key)));
	TR_ASSERT_OK(tr_manager_child_spec(&c, "mgr", &o, buf, sizeof(buf)));
	spec.children  = &c;
	spec.nchildren = 1;
	spec.intensity = 5;
	spec.quiet     = true;
	TR_ASSERT_OK(tr_supervisor_start(&s, &spec, TR_TEST_HANG_MS));
	TR_ASSERT_OK(tr_manager_connect(&m, "mgr-sup", key));
	TR_ASSERT_OK(tr_mobj_new(&d, m, TR_MOBJ_DICT, "d", NULL));
	TR_ASSERT_OK(tr_mobj_new(&anon, m, TR_MOBJ_LIST, NULL, NULL));
	TR_ASSERT_OK(tr_mobj_new(&q, m, TR_MOBJ_QUEUE, "q", NULL));
	TR_ASSERT_OK(tr_mobj_new(&e, m, TR_MOBJ_EVENT, "e", NULL));
	TR_ASSERT_OK(tr_mdict_set(d, k, k));
	pq  = start_blocked(m, q, 'q', TR_START_FORK);
	pe  = start_blocked(m, e, 'e', TR_START_SPAWN);
	old = tr_manager_addr(m);
	assert_int_equal(kill((pid_t) old.pid, SIGKILL), 0);
	assert_int_equal(tr_test_finish(&pq), 4);
	/* the get is retried on the new, empty manager */
	TR_ASSERT_ERR(tr_mdict_get(d, k, &got), TR_ENOTFOUND);
	assert_false(tr_addr_eq(old, tr_manager_addr(m)));
	TR_ASSERT_OK(tr_mdict_set(d, k, k));
	TR_ASSERT_OK(tr_mdict_get(d, k, &got));
	tr_mval_destroy(&got);
	TR_ASSERT_ERR(tr_mobj_len(anon), TR_EMGRRESTART);
	/* the event waiter followed the manager: wake it there */
	TR_ASSERT_OK(tr_mevent_set(e));
	assert_int_equal(tr_test_finish(&pe), 0);
	TR_ASSERT_OK(tr_supervisor_which_child(s, "mgr", &ci, TR_TEST_HANG_MS));
	assert_int_equal(ci.restarts, 1);
	tr_mval_destroy(&k);
	tr_mobj_destroy(&d);
	tr_mobj_destroy(&anon);
	tr_mobj_destroy(&q);
	tr_mobj_destroy(&e);
	tr_manager_destroy(&m);
	TR_ASSERT_OK(tr_supervisor_stop(s, TR_TEST_HANG_MS));
	tr_supervisor_destroy(&s);
}

/* A manager that is alive but stopped (SIGSTOP): a call ends at the
 * handle's call timeout with -ETIMEDOUT, and the handle works again once
 * the manager runs.  Bad timeouts and child specs are -EINVAL. */
static void
test_call_timeout(void **state)
{
	static char     buf[TR_MANAGER_ARGS_MAX];
	tr_manager_opts o = { .name = "x" };
	tr_child_spec   c;
	tr_manager     *m;
	tr_mobj        *d;
	pid_t           pid;
	int64_t         t0;

	TR_ASSERT_OK(tr_manager_start(&m, NULL));
	TR_ASSERT_OK(tr_mobj_new(&d, m, TR_MOBJ_DICT, NULL, NULL));
	TR_ASSERT_ERR(tr_manager_set_timeout(m, 0), -EINVAL);
	TR_ASSERT_ERR(tr_manager_set_timeout(m, -5), -EINVAL);
	TR_ASSERT_OK(tr_manager_set_timeout(m, 200));
	pid = (pid_t) tr_manager_addr(m).pid;
	assert_int_equal(kill(pid, SIGSTOP), 0);
	t0 = tr_test_now_ms();
	TR_ASSERT_ERR(tr_mobj_len(d), -ETIMEDOUT);
	assert_true(tr_test_now_ms() - t0 >= 200);
	assert_int_equal(kill(pid, SIGCONT), 0);
	TR_ASSERT_ERR(tr_mobj_len(d), 0);
	tr_mobj_destroy(&d);
	tr_manager_destroy(&m);
	/* a supervised manager needs a name and a key */
	TR_ASSERT_ERR(
	    tr_manager_child_spec(&c, "m", &o, buf, sizeof(buf)), -EINVAL);
	o.authkey = "0123456789abcdef0123456789abcdef"
	            "0123456789abcdef0123456789abcdef";
	TR_ASSERT_ERR(tr_manager_child_spec(&c, "m", &o, buf, 10), -EINVAL);
	TR_ASSERT_OK(tr_manager_child_spec(&c, "m", &o, buf, sizeof(buf)));
	assert_string_equal(c.actor, TR_MANAGER_ACTOR);
	o.name = NULL;
	TR_ASSERT_ERR(
	    tr_manager_child_spec(&c, "m", &o, buf, sizeof(buf)), -EINVAL);
}

/* A handle used from a fork()ed child is -ECHILD. */
static void
test_handle_in_fork_child(void **state)
{
	tr_manager *m;
	tr_mobj    *d;
	pid_t       pid;
	int         st;

	TR_ASSERT_OK(tr_manager_start(&m, NULL));
	TR_ASSERT_OK(tr_mobj_new(&d, m, TR_MOBJ_DICT, NULL, NULL));
	pid = fork();
	if (pid == 0) {
		_exit(tr_mobj_len(d) == -ECHILD ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	assert_int_equal(tr_mobj_len(d), 0);
	tr_mobj_destroy(&d);
	tr_manager_destroy(&m);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_protobuf_values),
		cmocka_unit_test(test_codec_matches_protobuf_c),
		cmocka_unit_test(test_dict_calls),
		cmocka_unit_test(test_list_calls),
		cmocka_unit_test(test_namespace_and_value),
		cmocka_unit_test(test_queue_lock_event),
		cmocka_unit_test(test_named_objects_and_drop),
		cmocka_unit_test(test_authentication),
		cmocka_unit_test(test_junk_requests),
		cmocka_unit_test(test_proxy_travels_to_children),
		cmocka_unit_test(test_lock_holder_killed),
		cmocka_unit_test(test_manager_killed_under_blocked_client),
		cmocka_unit_test(test_supervised_restart),
		cmocka_unit_test(test_handle_in_fork_child),
		cmocka_unit_test(test_call_timeout),
	};

	if (tr_init(argc, argv) < 0) {
		return 99;
	}
	if (getenv("TR_TEST_FILTER")) {
		cmocka_set_test_filter(getenv("TR_TEST_FILTER"));
	}
	return cmocka_run_group_tests_name("manager", tests, NULL, NULL);
}
