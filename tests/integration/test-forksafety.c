/* SPDX-License-Identifier: MIT */
/* Fork safety: 200 children forked from a parent that holds a live ZeroMQ
 * context with open, busy sockets and 4 threads hammering malloc.  Every
 * child builds its own context, allocates, and exits; none may hang. */
#include "tr-test.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

static atomic_int stop;

static int
zmq_child(const void *args, size_t len)
{
	void *ctx = zmq_ctx_new(), *a, *b;
	char  buf[16];
	int   ok;

	for (int i = 0; i < 100; i++) {
		free(malloc((size_t) (i * 97) + 1));
	}
	a  = zmq_socket(ctx, ZMQ_PAIR);
	b  = zmq_socket(ctx, ZMQ_PAIR);
	ok = zmq_bind(a, "inproc://child") == 0 &&
	    zmq_connect(b, "inproc://child") == 0 &&
	    zmq_send(b, "hello", 5, 0) == 5 &&
	    zmq_recv(a, buf, sizeof(buf), 0) == 5;
	zmq_close(a);
	zmq_close(b);
	zmq_ctx_term(ctx);
	return ok ? 0 : 7;
}
TR_ACTOR(zmq_child, zmq_child)

static void *
churn(void *arg)
{
	while (!atomic_load(&stop)) {
		void *p[16];

		for (int i = 0; i < 16; i++) {
			p[i] = malloc((size_t) (rand() % 4096) + 1);
		}
		for (int i = 0; i < 16; i++) {
			free(p[i]);
		}
	}
	return NULL;
}

static void *
pump(void *sock)
{
	while (!atomic_load(&stop)) {
		(void) zmq_send(sock, "x", 1, ZMQ_DONTWAIT);
	}
	return NULL;
}

static void
test_fork_200_children_from_busy_parent(void **state)
{
	void *ctx  = zmq_ctx_new();
	void *push = zmq_socket(ctx, ZMQ_PUSH),
	     *pull = zmq_socket(ctx, ZMQ_PULL);
	pthread_t th[5];
	int       linger = 0, hwm = 100;

	zmq_setsockopt(push, ZMQ_LINGER, &linger, sizeof(linger));
	zmq_setsockopt(pull, ZMQ_LINGER, &linger, sizeof(linger));
	zmq_setsockopt(push, ZMQ_SNDHWM, &hwm, sizeof(hwm));
	assert_int_equal(zmq_bind(pull, "inproc://parent"), 0);
	assert_int_equal(zmq_connect(push, "inproc://parent"), 0);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pthread_create(&th[i], NULL, churn, NULL), 0);
	}
	assert_int_equal(pthread_create(&th[4], NULL, pump, push), 0);

	for (int i = 0; i < 200; i++) {
		tr_process *p;
		int         code = -1;

		TR_ASSERT_OK(tr_process_new(&p, "zmq_child", NULL, 0));
		TR_ASSERT_OK(tr_process_set_start_method(p, TR_START_FORK));
		TR_ASSERT_OK(tr_process_start(p, 10000));
		if (tr_process_join(p, 10000) < 0) {
			print_error("child %d (pid %d) hung\n", i,
			    (int) tr_process_pid(p));
			tr_process_destroy(&p);
			fail();
		}
		TR_ASSERT_OK(tr_process_exitcode(p, &code));
		assert_int_equal(code, 0);
		tr_process_destroy(&p);
	}
	atomic_store(&stop, 1);
	for (int i = 0; i < 5; i++) {
		pthread_join(th[i], NULL);
	}
	zmq_close(push);
	zmq_close(pull);
	zmq_ctx_term(ctx);
	assert_int_equal(tr_test_zombie_count(), 0);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fork_200_children_from_busy_parent),
	};

#if defined(__SANITIZE_ADDRESS__)
	/* The property under test belongs to the allocator: jemalloc and
	 * glibc lock their arenas around fork(); GCC 12's ASan allocator
	 * does not, so a child can inherit one of its mutexes locked. */
	fprintf(stderr,
	    "skipped: the ASan allocator is not fork-safe with "
	    "other threads running\n");
	return 77;
#endif
	if (tr_init(argc, argv) < 0) {
		return 99;
	}
	return cmocka_run_group_tests_name("forksafety", tests, NULL, NULL);
}
