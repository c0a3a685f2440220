/* SPDX-License-Identifier: MIT */
/* tr_pipe: every call's semantics, timeouts and errors; boundaries (empty,
 * 1 byte, 1 MiB and more, bursts); ends handed to children under fork,
 * spawn and the forkserver; end of file when the peer closes, exits or is
 * SIGKILLed mid-stream; a peer busy for seconds. */
#include "tr-test.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <protobuf-c/protobuf-c.h>

#include "fdpass.h"
#include "pipe-ring.h"
#include "runtime.h"
#include "troupe.pb-c.h"

/* GCC 12's ASan allocator is not fork-safe while other threads run: under
 * the sanitizers "fork" means the forkserver (as in test-delivery). */
#ifdef __SANITIZE_ADDRESS__
#define FORK TR_START_FORKSERVER
#else
#define FORK TR_START_FORK
#endif

static const int methods[] = { FORK, TR_START_SPAWN, TR_START_FORKSERVER };
#define NMETHODS 3

#define MIB    ((size_t) 1 << 20)
#define BURST  2000
#define STREAM (256 * 1024)

static uint8_t
pattern(size_t k, size_t i)
{
	return (uint8_t) (i * 131 + k * 7 + (i >> 9));
}

static uint8_t *
patterned(size_t k, size_t len)
{
	uint8_t *b = malloc(len ? len : 1);

	for (size_t i = 0; b && i < len; i++) {
		b[i] = pattern(k, i);
	}
	return b;
}

static bool
is_patterned(size_t k, const uint8_t *b, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (b[i] != pattern(k, i)) {
			return false;
		}
	}
	return true;
}

/* Lengths of the scripted sequence the sender child sends. */
static size_t
script_len(size_t k)
{
	static const size_t fixed[] = { 1, 0, MIB, 0, 3 * MIB + 17, 1,
		128 * 1024, 128 * 1024 + 1 };
	size_t              nfixed  = sizeof(fixed) / sizeof(fixed[0]);

	return k < nfixed ? fixed[k] : (k * 37) % 301; /* the burst */
}
#define SCRIPT_N (8 + BURST)

static int
slot_arg(const void *args)
{
	return atoi(args);
}

/* ---- child actors ------------------------------------------------------- */

/* Echo every message back, type and all, until end of file. */
static int
pipe_echo(const void *args, size_t len)
{
	tr_pipe *p;
	tr_msg  *m;
	int      r;

	(void) len;
	if (tr_pipe_inherit(slot_arg(args), &p) < 0) {
		return 10;
	}
	while ((r = tr_pipe_recv(p, &m, TR_TEST_HANG_MS)) == 0) {
		if (tr_pipe_send(p, &m, TR_TEST_HANG_MS) < 0) {
			return 11;
		}
	}
	tr_pipe_destroy(&p);
	return r == -EPIPE ? 0 : 12;
}
TR_ACTOR(pipe_echo, pipe_echo)

/* Send the script, then a protobuf message, then close. */
static int
pipe_sender(const void *args, size_t len)
{
	Trwire__Ready ready = TRWIRE__READY__INIT;
	tr_pipe      *p;

	(void) len;
	if (tr_pipe_inherit(slot_arg(args), &p) < 0) {
		return 10;
	}
	for (size_t k = 0; k < SCRIPT_N; k++) {
		size_t   n = script_len(k);
		uint8_t *b = patterned(k, n);

		if (!b || tr_pipe_send_bytes(p, b, n, TR_TEST_HANG_MS) < 0) {
			return 11;
		}
		free(b);
	}
	ready.error  = -42;
	ready.reason = "over";
	if (tr_pipe_send_pb(p, &ready.base, TR_TEST_HANG_MS) < 0) {
		return 12;
	}
	tr_pipe_destroy(&p);
	return 0;
}
TR_ACTOR(pipe_sender, pipe_sender)

/* Send STREAM-byte messages numbered from 0 until killed. */
static int
pipe_stream(const void *args, size_t len)
{
	tr_pipe *p;

	(void) len;
	if (tr_pipe_inherit(slot_arg(args), &p) < 0) {
		return 10;
	}
	for (size_t k = 0;; k++) {
		uint8_t *b = patterned(k, STREAM);

		if (tr_pipe_send_bytes(p, b, STREAM, TR_TEST_HANG_MS) < 0) {
			return 11;
		}
		free(b);
	}
}
TR_ACTOR(pipe_stream, pipe_stream)

/* Sleep 2 s, then count messages until end of file (checking each is
 * patterned by its length), and answer the count on the same end. */
static int
pipe_sleepy(const void *args, size_t len)
{
	tr_pipe *p;
	uint8_t *buf = malloc(4 * MIB);
	size_t   n, count = 0;
	int      r;

	(void) len;
	if (!buf || tr_pipe_inherit(slot_arg(args), &p) < 0) {
		return 10;
	}
	sleep(2);
	while ((r = tr_pipe_recv_bytes(p, buf, 4 * MIB, &n, TR_TEST_HANG_MS)) ==
	    0) {
		if (n == 0) {
			break; /* the end marker */
		}
		if (!is_patterned(n, buf, n)) {
			return 11;
		}
		count++;
	}
	if (r < 0 ||
	    tr_pipe_send_bytes(p, &count, sizeof(count), TR_TEST_HANG_MS) < 0) {
		return 12;
	}
	tr_pipe_destroy(&p);
	free(buf);
	return 0;
}
TR_ACTOR(pipe_sleepy, pipe_sleepy)

/* Poll (never read) until a message is there: exit 0 if it came. */
static int
pipe_poller(const void *args, size_t len)
{
	tr_pipe *p;

	(void) len;
	if (tr_pipe_inherit(slot_arg(args), &p) < 0) {
		return 10;
	}
	return tr_pipe_poll(p, TR_TEST_HANG_MS) == 1 ? 0 : 11;
}
TR_ACTOR(pipe_poller, pipe_poller)

/* Slot 0 is ours; slot 1 does not exist; wait for end of file. */
static int
pipe_holder(const void *args, size_t len)
{
	tr_pipe *p, *q;
	tr_msg  *m;

	(void) args;
	(void) len;
	if (tr_pipe_inherit(0, &p) < 0) {
		return 10;
	}
	if (tr_pipe_inherit(0, &q) != TR_ENOTFOUND ||
	    tr_pipe_inherit(1, &q) != TR_ENOTFOUND) {
		return 11;
	}
	return tr_pipe_recv(p, &m, TR_TEST_HANG_MS) == -EPIPE ? 0 : 12;
}
TR_ACTOR(pipe_holder, pipe_holder)

/* Start actor with end handed in slot 0 (args "0"); the caller's copy of
 * end is destroyed. */
static tr_process *
start_with(const char *actor, tr_pipe **endp, int method)
{
	tr_process *p;

	TR_ASSERT_OK(tr_process_new(&p, actor, "0", 1));
	TR_ASSERT_OK(tr_process_set_start_method(p, method));
	assert_int_equal(tr_process_pass_pipe(p, *endp), 0);
	TR_ASSERT_OK(tr_process_start(p, TR_TEST_HANG_MS));
	tr_pipe_destroy(endp);
	return p;
}

/* ---- tests -------------------------------------------------------------- */

static void
test_calls_timeouts_and_errors(void **state)
{
	tr_pipe *a, *b;
	tr_msg  *m;
	char     buf[8], wide[16];
	size_t   n = 99;
	int64_t  t0;

	(void) state;
	TR_ASSERT_OK(tr_pipe_new(true, &a, &b));
	assert_true(tr_pipe_readable(a) && tr_pipe_writable(a));
	assert_true(tr_pipe_fileno(a) >= 0);
	/* nothing there: poll 0 and timed, receive 0 and timed */
	assert_int_equal(tr_pipe_poll(b, 0), 0);
	t0 = tr_test_now_ms();
	assert_int_equal(tr_pipe_poll(b, 100), 0);
	assert_true(tr_test_now_ms() - t0 >= 100);
	TR_ASSERT_ERR(tr_pipe_recv(b, &m, 0), -EAGAIN);
	t0 = tr_test_now_ms();
	TR_ASSERT_ERR(
	    tr_pipe_recv_bytes(b, buf, sizeof(buf), &n, 100), -ETIMEDOUT);
	assert_true(tr_test_now_ms() - t0 >= 100);
	/* bad arguments */
	TR_ASSERT_ERR(tr_pipe_poll(b, -2), -EINVAL);
	TR_ASSERT_ERR(tr_pipe_recv(b, &m, -5), -EINVAL);
	TR_ASSERT_ERR(tr_pipe_send_bytes(a, "x", 1, -2), -EINVAL);
	TR_ASSERT_ERR(tr_pipe_send_bytes(a, NULL, 1, 0), -EINVAL);
	TR_ASSERT_ERR(tr_pipe_send_bytes(NULL, "x", 1, 0), -EINVAL);
	TR_ASSERT_ERR(tr_pipe_recv(b, NULL, 0), -EINVAL);
	TR_ASSERT_ERR(
	    tr_pipe_send_bytes(a, buf, TR_PIPE_MAX_SIZE + 1, 0), TR_ETOOBIG);
	{
		tr_pipe *none = NULL;

		/* nothing was handed to the main program */
		TR_ASSERT_ERR(tr_pipe_inherit(0, &none), TR_ENOTFOUND);
	}
	/* a message longer than the buffer stays, whole */
	TR_ASSERT_OK(tr_pipe_send_bytes(a, "0123456789", 10, 0));
	assert_int_equal(tr_pipe_poll(b, 0), 1);
	TR_ASSERT_ERR(
	    tr_pipe_recv_bytes(b, buf, sizeof(buf), &n, 0), -EMSGSIZE);
	assert_int_equal(n, 10);
	assert_int_equal(tr_pipe_poll(b, 0), 1);
	TR_ASSERT_OK(tr_pipe_recv(b, &m, 0));
	assert_int_equal(tr_msg_size(m), 10);
	assert_memory_equal(tr_msg_data(m), "0123456789", 10);
	assert_string_equal(tr_msg_type(m), "");
	/* a tr_msg goes back the other way with its type */
	tr_msg_set_correlation(m, 7);
	TR_ASSERT_OK(tr_pipe_send(b, &m, 0));
	assert_null(m);
	TR_ASSERT_OK(tr_pipe_recv_bytes(a, wide, sizeof(wide), &n, 0));
	assert_int_equal(n, 10);
	assert_memory_equal(wide, "0123456789", 10);
	/* destroying one end: what was sent is still there, then EOF */
	TR_ASSERT_OK(tr_pipe_send_bytes(a, NULL, 0, 0));
	TR_ASSERT_OK(tr_pipe_send_bytes(a, "z", 1, 0));
	tr_pipe_destroy(&a);
	assert_null(a);
	tr_pipe_destroy(&a); /* idempotent */
	TR_ASSERT_OK(tr_pipe_recv_bytes(b, NULL, 0, &n, 0));
	assert_int_equal(n, 0);
	TR_ASSERT_OK(tr_pipe_recv_bytes(b, buf, sizeof(buf), &n, 0));
	assert_int_equal(n, 1);
	assert_int_equal(tr_pipe_poll(b, TR_TIMEOUT_INFINITE), 1);
	TR_ASSERT_ERR(tr_pipe_recv(b, &m, TR_TIMEOUT_INFINITE), -EPIPE);
	TR_ASSERT_ERR(tr_pipe_recv(b, &m, 0), -EPIPE);
	/* a send to a closed peer: -EPIPE, and no SIGPIPE kills us */
	TR_ASSERT_ERR(
	    tr_pipe_send_bytes(b, "y", 1, TR_TIMEOUT_INFINITE), -EPIPE);
	tr_pipe_destroy(&b);
}

static void
test_one_way_ends_and_protobuf(void **state)
{
	Trwire__Ready ready = TRWIRE__READY__INIT, *got;
	tr_pipe      *r, *w;
	tr_msg       *m;
	size_t        n;

	(void) state;
	TR_ASSERT_OK(tr_pipe_new(false, &r, &w));
	assert_true(tr_pipe_readable(r) && !tr_pipe_writable(r));
	assert_true(!tr_pipe_readable(w) && tr_pipe_writable(w));
	TR_ASSERT_ERR(tr_pipe_send_bytes(r, "x", 1, 0), -EBADF);
	TR_ASSERT_ERR(tr_pipe_recv(w, &m, 0), -EBADF);
	TR_ASSERT_ERR(tr_pipe_recv_bytes(w, NULL, 0, &n, 0), -EBADF);
	TR_ASSERT_ERR(tr_pipe_poll(w, 0), -EBADF);
	ready.error  = -5;
	ready.reason = "why";
	TR_ASSERT_OK(tr_pipe_send_pb(w, &ready.base, 0));
	TR_ASSERT_OK(tr_pipe_recv(r, &m, 0));
	assert_string_equal(tr_msg_type(m), "trwire.Ready");
	TR_ASSERT_OK(tr_msg_unpack(
	    m, &trwire__ready__descriptor, (ProtobufCMessage **) &got));
	assert_int_equal(got->error, -5);
	assert_string_equal(got->reason, "why");
	protobuf_c_message_free_unpacked(&got->base, NULL);
	tr_msg_destroy(&m);
	tr_pipe_destroy(&w);
	TR_ASSERT_ERR(tr_pipe_recv(r, &m, TR_TEST_HANG_MS), -EPIPE);
	tr_pipe_destroy(&r);
}

/* Receive the script and check every boundary and byte. */
static void
check_script(tr_pipe *r)
{
	Trwire__Ready *got;
	tr_msg        *m;

	for (size_t k = 0; k < SCRIPT_N; k++) {
		TR_ASSERT_OK(tr_pipe_recv(r, &m, TR_TEST_HANG_MS));
		assert_int_equal(tr_msg_size(m), script_len(k));
		assert_true(is_patterned(k, tr_msg_data(m), tr_msg_size(m)));
		tr_msg_destroy(&m);
	}
	TR_ASSERT_OK(tr_pipe_recv(r, &m, TR_TEST_HANG_MS));
	TR_ASSERT_OK(tr_msg_unpack(
	    m, &trwire__ready__descriptor, (ProtobufCMessage **) &got));
	assert_int_equal(got->error, -42);
	protobuf_c_message_free_unpacked(&got->base, NULL);
	tr_msg_destroy(&m);
	TR_ASSERT_ERR(tr_pipe_recv(r, &m, TR_TEST_HANG_MS), -EPIPE);
}

static void
test_boundaries_from_a_child(void **state)
{
	(void) state;
	for (int k = 0; k < NMETHODS; k++) {
		tr_pipe    *r, *w;
		tr_process *p;

		TR_ASSERT_OK(tr_pipe_new(false, &r, &w));
		p = start_with("pipe_sender", &w, methods[k]);
		check_script(r);
		assert_int_equal(tr_test_finish(&p), 0);
		tr_pipe_destroy(&r);
	}
}

static void
test_duplex_echo_child(void **state)
{
	(void) state;
	for (int k = 0; k < NMETHODS; k++) {
		tr_pipe    *a, *b;
		tr_process *p;
		tr_msg     *m;

		TR_ASSERT_OK(tr_pipe_new(true, &a, &b));
		p = start_with("pipe_echo", &b, methods[k]);
		for (size_t i = 0; i < 200; i++) {
			size_t   n = i == 7 ? 2 * MIB : i % 97;
			uint8_t *d = patterned(i, n);

			TR_ASSERT_OK(
			    tr_pipe_send_bytes(a, d, n, TR_TEST_HANG_MS));
			free(d);
			TR_ASSERT_OK(tr_pipe_recv(a, &m, TR_TEST_HANG_MS));
			assert_int_equal(tr_msg_size(m), n);
			assert_true(is_patterned(i, tr_msg_data(m), n));
			tr_msg_destroy(&m);
		}
		tr_pipe_destroy(&a); /* EOF ends the echo */
		assert_int_equal(tr_test_finish(&p), 0);
	}
}

static void
test_send_to_a_killed_peer_fails_with_epipe(void **state)
{
	(void) state;
	for (int k = 0; k < NMETHODS; k++) {
		tr_pipe    *a, *b;
		tr_process *p;
		tr_msg     *m;
		int         r;

		TR_ASSERT_OK(tr_pipe_new(true, &a, &b));
		p = start_with("pipe_echo", &b, methods[k]);
		TR_ASSERT_OK(tr_pipe_send_bytes(a, "x", 1, TR_TEST_HANG_MS));
		TR_ASSERT_OK(tr_pipe_recv(a, &m, TR_TEST_HANG_MS));
		tr_msg_destroy(&m);
		TR_ASSERT_OK(tr_process_kill(p));
		TR_ASSERT_OK(tr_process_join(p, TR_TEST_HANG_MS));
		/* noticed within a millisecond, never a SIGPIPE: keep
		 * sending until then (the pipe never fills) */
		for (int i = 0; i < 100000; i++) {
			r = tr_pipe_send_bytes(a, "y", 1, TR_TEST_HANG_MS);
			if (r < 0) {
				break;
			}
			usleep(10);
		}
		TR_ASSERT_ERR(r, -EPIPE);
		TR_ASSERT_ERR(tr_pipe_recv(a, &m, TR_TEST_HANG_MS), -EPIPE);
		TR_ASSERT_ERR(tr_pipe_send_bytes(a, "y", 1, 0), -EPIPE);
		assert_int_equal(tr_test_finish(&p), -SIGKILL);
		tr_pipe_destroy(&a);
	}
}

static void
test_eof_when_the_peer_is_killed_mid_stream(void **state)
{
	(void) state;
	for (int k = 0; k < NMETHODS; k++) {
		tr_pipe    *r, *w;
		tr_process *p;
		tr_msg     *m;
		size_t      seq = 0;
		int         rc;

		TR_ASSERT_OK(tr_pipe_new(false, &r, &w));
		p = start_with("pipe_stream", &w, methods[k]);
		for (; seq < 5; seq++) {
			TR_ASSERT_OK(tr_pipe_recv(r, &m, TR_TEST_HANG_MS));
			assert_int_equal(tr_msg_size(m), STREAM);
			tr_msg_destroy(&m);
		}
		/* let it fill the pipe and be in the middle of a message */
		assert_int_equal(tr_pipe_poll(r, TR_TEST_HANG_MS), 1);
		usleep(50 * 1000);
		TR_ASSERT_OK(tr_process_kill(p));
		/* only whole messages, in order, then end of file */
		while ((rc = tr_pipe_recv(r, &m, TR_TEST_HANG_MS)) == 0) {
			assert_int_equal(tr_msg_size(m), STREAM);
			assert_true(is_patterned(seq, tr_msg_data(m), STREAM));
			tr_msg_destroy(&m);
			seq++;
		}
		TR_ASSERT_ERR(rc, -EPIPE);
		assert_int_equal(tr_test_finish(&p), -SIGKILL);
		tr_pipe_destroy(&r);
	}
}

static void
test_peer_busy_for_seconds(void **state)
{
	(void) state;
	for (int k = 0; k < NMETHODS; k++) {
		tr_pipe    *a, *b;
		tr_process *p;
		uint8_t    *big  = patterned(MIB, MIB);
		uint8_t    *huge = patterned(4 * MIB - 1, 4 * MIB - 1);
		size_t      sent = 0, count = 0, n;

		TR_ASSERT_OK(tr_pipe_new(true, &a, &b));
		p = start_with("pipe_sleepy", &b, methods[k]);
		/* a timed send of a message bigger than the pipe (512 KiB):
		 * its first parts go, then it times out; the reader will
		 * drop those parts */
		TR_ASSERT_ERR(
		    tr_pipe_send_bytes(a, huge, 4 * MIB - 1, 100), -ETIMEDOUT);
		/* timeout 0 on the full pipe: at once, nothing sent */
		TR_ASSERT_ERR(tr_pipe_send_bytes(a, big, MIB, 0), -EAGAIN);
		/* then everything goes while it reads */
		for (int i = 0; i < 3; i++, sent++) {
			TR_ASSERT_OK(tr_pipe_send_bytes(
			    a, huge, 4 * MIB - 1, TR_TEST_HANG_MS));
		}
		for (int i = 0; i < 2; i++, sent++) {
			TR_ASSERT_OK(
			    tr_pipe_send_bytes(a, big, MIB, TR_TEST_HANG_MS));
		}
		TR_ASSERT_OK(tr_pipe_send_bytes(a, "", 0, TR_TEST_HANG_MS));
		TR_ASSERT_OK(tr_pipe_recv_bytes(
		    a, &count, sizeof(count), &n, TR_TEST_HANG_MS));
		assert_int_equal(count, sent);
		assert_int_equal(tr_test_finish(&p), 0);
		tr_pipe_destroy(&a);
		free(big);
		free(huge);
	}
}

static void
test_poll_in_a_child_takes_nothing(void **state)
{
	(void) state;
	for (int k = 0; k < NMETHODS; k++) {
		tr_pipe    *a, *b;
		tr_process *p;
		tr_msg     *m;

		TR_ASSERT_OK(tr_pipe_new(true, &a, &b));
		TR_ASSERT_OK(tr_process_new(&p, "pipe_poller", "0", 1));
		TR_ASSERT_OK(tr_process_set_start_method(p, methods[k]));
		assert_int_equal(tr_process_pass_pipe(p, b), 0);
		TR_ASSERT_OK(tr_process_start(p, TR_TEST_HANG_MS));
		/* we keep b too: the child only polls its copy */
		TR_ASSERT_OK(tr_pipe_send_bytes(a, "hi", 2, 0));
		assert_int_equal(tr_test_finish(&p), 0);
		TR_ASSERT_OK(tr_pipe_recv(b, &m, 0));
		assert_memory_equal(tr_msg_data(m), "hi", 2);
		tr_msg_destroy(&m);
		tr_pipe_destroy(&a);
		tr_pipe_destroy(&b);
	}
}

static void
test_ends_not_handed_over_stay_out_of_children(void **state)
{
	(void) state;
	for (int k = 0; k < NMETHODS; k++) {
		tr_pipe    *a1, *b1, *a2, *b2;
		tr_process *p, *q;
		tr_msg     *m;

		TR_ASSERT_OK(tr_pipe_new(true, &a1, &b1));
		TR_ASSERT_OK(tr_pipe_new(true, &a2, &b2));
		/* a handle that never starts holds a copy; not the child */
		TR_ASSERT_OK(tr_process_new(&q, "pipe_holder", NULL, 0));
		assert_int_equal(tr_process_pass_pipe(q, b2), 0);
		TR_ASSERT_OK(tr_process_new(&p, "pipe_holder", NULL, 0));
		TR_ASSERT_OK(tr_process_set_start_method(p, methods[k]));
		assert_int_equal(tr_process_pass_pipe(p, b1), 0);
		TR_ASSERT_OK(tr_process_start(p, TR_TEST_HANG_MS));
		tr_pipe_destroy(&b1);
		TR_ASSERT_ERR(tr_process_pass_pipe(p, a2), -EBUSY);
		/* the child holds no copy of b2: end of file at once */
		tr_process_destroy(&q);
		tr_pipe_destroy(&b2);
		TR_ASSERT_ERR(tr_pipe_recv(a2, &m, TR_TEST_HANG_MS), -EPIPE);
		assert_true(tr_process_is_alive(p));
		/* and the child sees end of file of its end when we close */
		tr_pipe_destroy(&a1);
		assert_int_equal(tr_test_finish(&p), 0);
		tr_pipe_destroy(&a2);
	}
}

static void
test_pass_errors(void **state)
{
	tr_pipe    *a, *b;
	tr_process *p;

	(void) state;
	TR_ASSERT_OK(tr_pipe_new(true, &a, &b));
	TR_ASSERT_OK(tr_process_new(&p, "pipe_holder", NULL, 0));
	for (int i = 0; i < TR_PIPE_PASS_MAX; i++) {
		/* two descriptors an end: the slots go 0, 2, 4, ... */
		assert_int_equal(tr_process_pass_pipe(p, i % 2 ? a : b), 2 * i);
	}
	TR_ASSERT_ERR(tr_process_pass_pipe(p, a), -ENOSPC);
	TR_ASSERT_ERR(tr_process_pass_pipe(NULL, a), -EINVAL);
	TR_ASSERT_ERR(tr_process_pass_pipe(p, NULL), -EINVAL);
	tr_process_destroy(&p);
	tr_pipe_destroy(&a);
	tr_pipe_destroy(&b);
}

/* A pipe end *ret whose peer is the raw link *raw, to write any record:
 * the end is handed to this process as to a child (fdpass.h).  No other
 * pipe may be open: a child's adoption closes the ones not handed. */
static void
raw_peer(tr_pipe **ret, struct tri_link *raw)
{
	struct tri_link a;
	struct tri_boot b = { .npass = 2 };

	TR_ASSERT_OK(tri_link_pair(&a, raw));
	b.pass_fd[0]  = a.fd;
	b.pass_tag[0] = 0x70697000u | 3; /* duplex, side 0 */
	b.pass_fd[1]  = a.shm_fd;
	b.pass_tag[1] = 0x73686d00u;
	tri_link_close(&a, false);
	tri_fdpass_adopt(&b);
	TR_ASSERT_OK(tr_pipe_inherit(0, ret));
}

static void
write_raw(struct tri_link *raw, const void *rec, size_t n)
{
	struct iovec iov = { (void *) rec, n };

	TR_ASSERT_OK(tri_link_write(raw, &iov, 1));
}

static void
test_malformed_records_break_the_pipe_cleanly(void **state)
{
	static const uint8_t good[]    = { 'M', 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0,
		   'o', 'k' };
	static const uint8_t orphan[]  = { 'C', 0, 0, 0, 'x' };
	static const uint8_t huge[]    = { 'M', 0, 0, 0, 1, 0, 0, 0x40, 0, 0, 0,
		   0 }; /* 1 GiB + 1 */
	static const uint8_t badtype[] = { 'M', 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
		'a', '\n' };
	static const uint8_t *const bad[]  = { orphan, huge, badtype };
	static const size_t         nbad[] = { sizeof(orphan), sizeof(huge),
		        sizeof(badtype) };

	(void) state;
	for (int i = 0; i < 3; i++) {
		struct tri_link raw;
		tr_pipe        *p;
		tr_msg         *m;
		tr_waitable     w;

		raw_peer(&p, &raw);
		write_raw(&raw, good, sizeof(good));
		write_raw(&raw, bad[i], nbad[i]);
		/* what came before is delivered; then the pipe is broken,
		 * for good, and says so at once */
		TR_ASSERT_OK(tr_pipe_recv(p, &m, TR_TEST_HANG_MS));
		assert_memory_equal(tr_msg_data(m), "ok", 2);
		tr_msg_destroy(&m);
		TR_ASSERT_ERR(
		    tr_pipe_recv(p, &m, TR_TEST_HANG_MS), TR_EBADFRAME);
		TR_ASSERT_ERR(tr_pipe_recv(p, &m, 0), TR_EBADFRAME);
		assert_int_equal(tr_pipe_poll(p, 0), 1);
		w = TR_WAITABLE_PIPE(p);
		assert_int_equal(tr_wait(&w, 1, 0), 1);
		tr_pipe_destroy(&p);
		tri_link_close(&raw, true);
	}
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_calls_timeouts_and_errors),
		cmocka_unit_test(test_one_way_ends_and_protobuf),
		cmocka_unit_test(test_pass_errors),
		cmocka_unit_test(test_malformed_records_break_the_pipe_cleanly),
		cmocka_unit_test(test_boundaries_from_a_child),
		cmocka_unit_test(test_duplex_echo_child),
		cmocka_unit_test(test_send_to_a_killed_peer_fails_with_epipe),
		cmocka_unit_test(test_eof_when_the_peer_is_killed_mid_stream),
		cmocka_unit_test(test_peer_busy_for_seconds),
		cmocka_unit_test(test_poll_in_a_child_takes_nothing),
		cmocka_unit_test(
		    test_ends_not_handed_over_stay_out_of_children),
	};

	TR_ASSERT_OK(tr_init(argc, argv));
	return cmocka_run_group_tests_name("pipe", tests, NULL, NULL);
}
