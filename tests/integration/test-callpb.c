/* SPDX-License-Identifier: MIT */
/* The public helpers actors used to write for themselves: the monotonic
 * clock and deadlines (tr_now_ms, tr_deadline, tr_deadline_left) and a
 * protobuf call and reply (tr_call_pb, tr_reply_pb) against a real actor
 * process.  Uses only the public API and the generated headers. */
#include "tr-test.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <protobuf-c/protobuf-c.h>

#include "supervisor.pb-c.h"

/* Answers a trwire.ChildInfo {id, restarts} with {"re:" id, restarts + 1}
 * by tr_reply_pb(); id "raw" gets a raw-bytes answer, id "die" ends the
 * actor with exit code 3 without answering, raw "stop" ends it with 0. */
static int
pb_server(const void *args, size_t len)
{
	int r = tr_msg_type_register(&trwire__child_info__descriptor);

	while (r == 0) {
		Trwire__ChildInfo *in, out = TRWIRE__CHILD_INFO__INIT;
		tr_msg            *m, *raw;
		char               id[80];

		if ((r = tr_recv(&m, 20000)) < 0) {
			break;
		}
		if (strcmp(tr_msg_type(m), "") == 0) {
			tr_msg_destroy(&m);
			return 0; /* "stop" */
		}
		r = tr_msg_unpack(m, &trwire__child_info__descriptor,
		    (ProtobufCMessage **) &in);
		if (r < 0) {
			tr_msg_destroy(&m);
			break;
		}
		snprintf(id, sizeof(id), "re:%s", in->id);
		out.id       = id;
		out.restarts = in->restarts + 1;
		if (strcmp(in->id, "die") == 0) {
			r = 3;
		} else if (strcmp(in->id, "raw") == 0) {
			r = tr_msg_new_bytes(&raw, "raw", 3);
			r = r < 0 ? r : tr_reply(m, &raw, 5000);
			tr_msg_destroy(&raw);
		} else {
			r = tr_reply_pb(m, &out.base, 5000);
		}
		protobuf_c_message_free_unpacked(&in->base, NULL);
		tr_msg_destroy(&m);
	}
	return r == 3 ? 3 : 2;
}
TR_ACTOR(pb_server, pb_server)

static int64_t
ref_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
test_now_ms_is_the_monotonic_clock(void **state)
{
	int64_t before = ref_now_ms(), now = tr_now_ms(), after = ref_now_ms();

	(void) state;
	assert_true(before <= now && now <= after);
	for (int i = 0; i < 1000; i++) {
		int64_t next = tr_now_ms();

		assert_true(next >= now);
		now = next;
	}
}

static void
test_deadline_left_counts_down_and_clamps(void **state)
{
	int64_t d = tr_deadline(1000);
	int     left;

	(void) state;
	assert_int_equal(tr_deadline(TR_TIMEOUT_INFINITE), -1);
	assert_int_equal(tr_deadline(-7), -1);
	assert_int_equal(tr_deadline_left(-1), TR_TIMEOUT_INFINITE);
	left = tr_deadline_left(d);
	assert_true(left > 900 && left <= 1000);
	assert_int_equal(tr_deadline_left(tr_deadline(0)), 0);
	assert_int_equal(tr_deadline_left(tr_now_ms() - 5000), 0);
	assert_int_equal(
	    tr_deadline_left(tr_now_ms() + 10 * (int64_t) INT_MAX), INT_MAX);
	left = tr_deadline_left(tr_deadline(INT_MAX));
	assert_true(left > INT_MAX - 1000);
}

/* Two waits share one 200 ms budget: together they take about 200 ms. */
static void
test_deadline_spans_several_waits(void **state)
{
	int64_t t0 = tr_now_ms(), d = tr_deadline(200), took;
	tr_msg *m = NULL;

	(void) state;
	TR_ASSERT_ERR(tr_recv(&m, tr_deadline_left(d) / 2), -ETIMEDOUT);
	TR_ASSERT_ERR(tr_recv(&m, tr_deadline_left(d)), -ETIMEDOUT);
	took = tr_now_ms() - t0;
	assert_true(took >= 195 && took < 2000); /* generous: a busy host */
	assert_int_equal(tr_deadline_left(d), 0);
	assert_null(m);
}

static tr_process *
start_server(tr_addr *ret)
{
	tr_process *p;

	TR_ASSERT_OK(tr_process_new(&p, "pb_server", NULL, 0));
	TR_ASSERT_OK(tr_process_start(p, 10000));
	TR_ASSERT_OK(tr_process_addr(p, ret));
	return p;
}

static int
stop_server(tr_process **pp, tr_addr a)
{
	int code = -1000;

	(void) tr_send_bytes(a, "stop", 4, 5000);
	if (tr_process_join(*pp, 10000) < 0) {
		(void) tr_process_kill(*pp);
		(void) tr_process_join(*pp, 5000);
	}
	(void) tr_process_exitcode(*pp, &code);
	tr_process_destroy(pp);
	return code;
}

/* The caller never registered trwire.ChildInfo: tr_call_pb() does. */
static void
test_call_pb_round_trip(void **state)
{
	Trwire__ChildInfo q = TRWIRE__CHILD_INFO__INIT, *rep;
	ProtobufCMessage *pb;
	tr_addr           a;
	tr_process       *p = start_server(&a);
	char              id[16];

	(void) state;
	for (uint32_t i = 0; i < 3; i++) {
		snprintf(id, sizeof(id), "w%u", i);
		q.id       = id;
		q.restarts = 10 * i;
		pb         = NULL;
		TR_ASSERT_OK(tr_call_pb(
		    a, &q.base, &trwire__child_info__descriptor, &pb, 5000));
		assert_non_null(pb);
		assert_ptr_equal(
		    pb->descriptor, &trwire__child_info__descriptor);
		rep = (Trwire__ChildInfo *) pb;
		assert_string_equal(rep->id + 3, id);
		assert_int_equal(rep->restarts, 10 * i + 1);
		protobuf_c_message_free_unpacked(pb, NULL);
	}
	assert_string_equal(q.id, "w2"); /* req stays the caller's */
	assert_int_equal(stop_server(&p, a), 0);
}

static void
test_call_pb_errors_leave_ret_alone(void **state)
{
	Trwire__ChildInfo                 q  = TRWIRE__CHILD_INFO__INIT;
	ProtobufCMessage                 *pb = NULL;
	const ProtobufCMessageDescriptor *d  = &trwire__child_info__descriptor;
	tr_addr                           a;
	tr_process                       *p = start_server(&a);

	(void) state;
	TR_ASSERT_ERR(tr_call_pb(a, NULL, d, &pb, 1000), -EINVAL);
	TR_ASSERT_ERR(tr_call_pb(a, &q.base, NULL, &pb, 1000), -EINVAL);
	TR_ASSERT_ERR(tr_call_pb(a, &q.base, d, NULL, 1000), -EINVAL);
	TR_ASSERT_ERR(tr_reply_pb(NULL, &q.base, 1000), -EINVAL);

	/* a reply of another type (raw bytes) */
	q.id = "raw";
	TR_ASSERT_ERR(tr_call_pb(a, &q.base, d, &pb, 5000), TR_EBADTYPE);
	assert_null(pb);

	/* the callee dies instead of answering, then is gone */
	q.id = "die";
	TR_ASSERT_ERR(tr_call_pb(a, &q.base, d, &pb, 10000), TR_EDEAD);
	assert_null(pb);
	TR_ASSERT_OK(tr_process_join(p, 10000));
	TR_ASSERT_ERR(tr_call_pb(a, &q.base, d, &pb, 1000), -ESRCH);
	assert_null(pb);
	assert_int_equal(stop_server(&p, a), 3);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_now_ms_is_the_monotonic_clock),
		cmocka_unit_test(test_deadline_left_counts_down_and_clamps),
		cmocka_unit_test(test_deadline_spans_several_waits),
		cmocka_unit_test(test_call_pb_round_trip),
		cmocka_unit_test(test_call_pb_errors_leave_ret_alone),
	};

	if (tr_init(argc, argv) < 0) {
		return 99;
	}
	return cmocka_run_group_tests_name("callpb", tests, NULL, NULL);
}
