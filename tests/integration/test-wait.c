/* SPDX-License-Identifier: MIT */
/* tr_wait(): pipe ends, children's sentinels (a dead one included), plain
 * descriptors, the mailbox and a ready-callback object (a test double of
 * a queue reader) in one wait, under fork, spawn and the forkserver;
 * timeouts, and every argument error. */
#include "tr-test.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#ifdef __SANITIZE_ADDRESS__
#define FORK TR_START_FORKSERVER
#else
#define FORK TR_START_FORK
#endif

static const int methods[] = { FORK, TR_START_SPAWN, TR_START_FORKSERVER };
#define NMETHODS 3

/* ---- child actors ------------------------------------------------------- */

/* args "addr ms": after ms, send "token" to addr. */
static int
wait_token(const void *args, size_t len)
{
	char    txt[64] = "";
	int     ms      = 0;
	tr_addr to;

	(void) len;
	if (sscanf(args, "%63s %d", txt, &ms) != 2 ||
	    tr_addr_parse(txt, &to) < 0) {
		return 10;
	}
	usleep((useconds_t) ms * 1000);
	return tr_send_bytes(to, "token", 5, TR_TEST_HANG_MS) < 0 ? 11 : 0;
}
TR_ACTOR(wait_token, wait_token)

/* args "slot ms": after ms, send "late" on the handed end, then wait for
 * end of file. */
static int
wait_pipe_writer(const void *args, size_t len)
{
	tr_pipe *p;
	tr_msg  *m;
	int      slot = 0, ms = 0;

	(void) len;
	if (sscanf(args, "%d %d", &slot, &ms) != 2 ||
	    tr_pipe_inherit(slot, &p) < 0) {
		return 10;
	}
	usleep((useconds_t) ms * 1000);
	if (tr_pipe_send_bytes(p, "late", 4, TR_TEST_HANG_MS) < 0) {
		return 11;
	}
	return tr_pipe_recv(p, &m, TR_TEST_HANG_MS) == -EPIPE ? 0 : 12;
}
TR_ACTOR(wait_pipe_writer, wait_pipe_writer)

static int
wait_exit3(const void *args, size_t len)
{
	(void) args;
	(void) len;
	return 3;
}
TR_ACTOR(wait_exit3, wait_exit3)

/* ---- the test double of a queue reader ---------------------------------- */

/* Ready once a "token" message came into the mailbox (it takes it). */
struct dbl {
	int  calls;
	int  err; /* returned when set */
	bool got;
};

static bool
is_token(const tr_msg *m, void *arg)
{
	(void) arg;
	return tr_msg_size(m) == 5 && memcmp(tr_msg_data(m), "token", 5) == 0;
}

static int
dbl_ready(void *obj)
{
	struct dbl *d = obj;
	tr_msg     *m;

	d->calls++;
	if (d->err) {
		return d->err;
	}
	if (!d->got && tr_recv_match(&m, is_token, NULL, 0) == 0) {
		d->got = true;
		tr_msg_destroy(&m);
	}
	return d->got;
}

static tr_process *
start_m(const char *actor, const char *args, int method, tr_pipe **endp)
{
	tr_process *p;

	TR_ASSERT_OK(tr_process_new(&p, actor, args, args ? strlen(args) : 0));
	TR_ASSERT_OK(tr_process_set_start_method(p, method));
	if (endp) {
		assert_int_equal(tr_process_pass_pipe(p, *endp), 0);
	}
	TR_ASSERT_OK(tr_process_start(p, TR_TEST_HANG_MS));
	if (endp) {
		tr_pipe_destroy(endp);
	}
	return p;
}

static void
token_after(int ms, int method, tr_process **ret)
{
	char args[96], a[TR_ADDR_STRLEN];

	tr_addr_format(tr_self(), a, sizeof(a));
	snprintf(args, sizeof(args), "%s %d", a, ms);
	*ret = start_m("wait_token", args, method, NULL);
}

/* ---- tests -------------------------------------------------------------- */

static void
test_wait_argument_errors(void **state)
{
	tr_pipe    *r, *w;
	tr_process *p;
	tr_waitable v[2];

	(void) state;
	TR_ASSERT_OK(tr_pipe_new(false, &r, &w));
	TR_ASSERT_OK(tr_process_new(&p, "wait_exit3", NULL, 0));
	assert_int_equal(tr_wait(NULL, 0, 0), 0);
	TR_ASSERT_ERR(tr_wait(NULL, 1, 0), -EINVAL);
	v[0] = TR_WAITABLE_PIPE(r);
	TR_ASSERT_ERR(tr_wait(v, 1, -2), -EINVAL);
	v[1] = (tr_waitable) { .kind = 99 };
	TR_ASSERT_ERR(tr_wait(v, 2, 0), -EINVAL);
	v[1] = TR_WAITABLE_PIPE(w); /* send-only */
	TR_ASSERT_ERR(tr_wait(v, 2, 0), -EBADF);
	v[1] = TR_WAITABLE_PIPE(NULL);
	TR_ASSERT_ERR(tr_wait(v, 2, 0), -EINVAL);
	v[1] = TR_WAITABLE_PROCESS(p); /* never started */
	TR_ASSERT_ERR(tr_wait(v, 2, 0), -EINVAL);
	v[1] = TR_WAITABLE_FD(-1);
	TR_ASSERT_ERR(tr_wait(v, 2, 0), -EINVAL);
	v[1] = TR_WAITABLE_READY(NULL, NULL);
	TR_ASSERT_ERR(tr_wait(v, 2, 0), -EINVAL);
	tr_process_destroy(&p);
	tr_pipe_destroy(&r);
	tr_pipe_destroy(&w);
}

static void
test_wait_timeouts_and_readiness_in_process(void **state)
{
	tr_pipe    *r, *w;
	struct dbl  d   = { 0 };
	int         efd = eventfd(0, EFD_CLOEXEC);
	uint64_t    one = 1;
	int64_t     t0;
	tr_msg     *m;
	tr_waitable v[4];

	(void) state;
	assert_true(efd >= 0);
	TR_ASSERT_OK(tr_pipe_new(false, &r, &w));
	v[0] = TR_WAITABLE_PIPE(r);
	v[1] = TR_WAITABLE_FD(efd);
	v[2] = TR_WAITABLE_READY(dbl_ready, &d);
	v[3] = TR_WAITABLE_MAILBOX();
	/* nothing: timeout 0 checks once, a timed wait waits it out */
	assert_int_equal(tr_wait(v, 4, 0), 0);
	assert_int_equal(d.calls, 1);
	t0 = tr_test_now_ms();
	assert_int_equal(tr_wait(v, 4, 150), 0);
	assert_true(tr_test_now_ms() - t0 >= 150);
	/* each kind alone, and then all of them at once */
	assert_int_equal(write(efd, &one, sizeof(one)), sizeof(one));
	assert_int_equal(tr_wait(v, 4, TR_TIMEOUT_INFINITE), 1);
	assert_true(v[1].ready && !v[0].ready && !v[2].ready && !v[3].ready);
	TR_ASSERT_OK(tr_pipe_send_bytes(w, "m", 1, 0));
	assert_int_equal(tr_wait(v, 4, 0), 2);
	assert_true(v[0].ready && v[1].ready);
	TR_ASSERT_OK(tr_send_bytes(tr_self(), "other", 5, TR_TEST_HANG_MS));
	TR_ASSERT_OK(tr_send_bytes(tr_self(), "token", 5, TR_TEST_HANG_MS));
	/* mail to oneself comes in a moment: the double wakes for it */
	assert_int_equal(tr_wait(v + 2, 1, TR_TEST_HANG_MS), 1);
	assert_int_equal(tr_wait(v, 4, 0), 4);
	assert_true(v[2].ready && v[3].ready && d.got);
	/* nothing was taken but what the double took: the pipe's message
	 * and the other mail are there */
	TR_ASSERT_OK(tr_pipe_recv(r, &m, 0));
	tr_msg_destroy(&m);
	TR_ASSERT_OK(tr_recv(&m, 0));
	assert_memory_equal(tr_msg_data(m), "other", 5);
	tr_msg_destroy(&m);
	/* a callback's error ends the wait */
	d.err = -EIO;
	TR_ASSERT_ERR(tr_wait(v + 2, 1, TR_TEST_HANG_MS), -EIO);
	/* end of file is ready */
	tr_pipe_destroy(&w);
	assert_int_equal(tr_wait(v, 1, TR_TEST_HANG_MS), 1);
	TR_ASSERT_ERR(tr_pipe_recv(r, &m, 0), -EPIPE);
	tr_pipe_destroy(&r);
	close(efd);
}

static void
test_wait_mixed_kinds_with_children(void **state)
{
	(void) state;
	for (int k = 0; k < NMETHODS; k++) {
		tr_pipe    *r, *w;
		tr_process *dead, *writer, *tok;
		struct dbl  d = { 0 };
		tr_msg     *m;
		char        args[32];
		tr_waitable v[4];
		int         code;

		TR_ASSERT_OK(tr_pipe_new(true, &r, &w));
		dead = start_m("wait_exit3", NULL, methods[k], NULL);
		snprintf(args, sizeof(args), "0 %d", 300);
		writer = start_m("wait_pipe_writer", args, methods[k], &w);
		v[0]   = TR_WAITABLE_PIPE(r);
		v[1]   = TR_WAITABLE_PROCESS(writer);
		v[2]   = TR_WAITABLE_READY(dbl_ready, &d);
		v[3]   = TR_WAITABLE_PROCESS(dead);
		/* the dead child's sentinel, alone ready (not reaped) */
		assert_int_equal(tr_wait(v + 3, 1, TR_TEST_HANG_MS), 1);
		code = tr_wait(v, 4, TR_TEST_HANG_MS);
		assert_int_equal(code, 1);
		assert_true(v[3].ready && !v[0].ready && !v[1].ready);
		/* the pipe, once the writer has written */
		code = tr_wait(v, 3, TR_TEST_HANG_MS);
		assert_int_equal(code, 1);
		assert_true(v[0].ready);
		TR_ASSERT_OK(tr_pipe_recv(r, &m, 0));
		assert_memory_equal(tr_msg_data(m), "late", 4);
		tr_msg_destroy(&m);
		/* the double, once a child's token came to the mailbox */
		token_after(200, methods[k], &tok);
		code = tr_wait(v + 1, 2, TR_TEST_HANG_MS);
		assert_int_equal(code, 1);
		assert_true(v[2].ready && d.got && !v[1].ready);
		assert_int_equal(tr_test_finish(&tok), 0);
		/* the writer ends once it sees end of file; then both its
		 * sentinel and our end of file are ready */
		tr_pipe_destroy(&r);
		assert_int_equal(tr_wait(v + 1, 1, TR_TEST_HANG_MS), 1);
		assert_int_equal(tr_test_finish(&writer), 0);
		TR_ASSERT_OK(tr_process_join(dead, 0));
		TR_ASSERT_OK(tr_process_exitcode(dead, &code));
		assert_int_equal(code, 3);
		tr_process_destroy(&dead);
	}
}

static void
test_wait_with_unwanted_mail_does_not_spin(void **state)
{
	struct dbl  d = { 0 };
	tr_process *tok;
	tr_msg     *m;
	int64_t     t0;
	tr_waitable v = TR_WAITABLE_READY(dbl_ready, &d);

	(void) state;
	/* mail nobody waits for sits in the mailbox */
	TR_ASSERT_OK(tr_send_bytes(tr_self(), "other", 5, TR_TEST_HANG_MS));
	t0 = tr_test_now_ms();
	assert_int_equal(tr_wait(&v, 1, 300), 0);
	assert_true(tr_test_now_ms() - t0 >= 300);
	/* asked at most about once per 5 ms, not in a busy loop */
	assert_true(d.calls < 300);
	/* a token arriving later still wakes the wait */
	token_after(200, methods[0], &tok);
	assert_int_equal(tr_wait(&v, 1, TR_TEST_HANG_MS), 1);
	assert_true(d.got);
	assert_int_equal(tr_test_finish(&tok), 0);
	TR_ASSERT_OK(tr_recv(&m, 0));
	assert_memory_equal(tr_msg_data(m), "other", 5);
	tr_msg_destroy(&m);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wait_argument_errors),
		cmocka_unit_test(test_wait_timeouts_and_readiness_in_process),
		cmocka_unit_test(test_wait_mixed_kinds_with_children),
		cmocka_unit_test(test_wait_with_unwanted_mail_does_not_spin),
	};

	TR_ASSERT_OK(tr_init(argc, argv));
	return cmocka_run_group_tests_name("wait", tests, NULL, NULL);
}
