/* SPDX-License-Identifier: MIT */
/* The queue's same-host put path, the producers' rings (actors/
 * queue-ring.c): a put returns once the item is in the broker's memory,
 * so a producer SIGKILLed right after its put returned loses nothing; a
 * bounded queue's TR_EFULL stays exact with producers on rings (credit);
 * a broker SIGKILLed while producers write gives them TR_EDEAD, never a
 * hang.  Producers are started by fork, spawn and the forkserver.  (The
 * other queue tests run on both paths: test-queue's groups, and
 * test-queue-load again with TROUPE_QUEUE_SHM=0.) */
#include "tr-test-queue.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <protobuf-c/protobuf-c.h>

#include "queue.pb-c.h"

#ifdef __SANITIZE_ADDRESS__
#define FORK TR_START_FORKSERVER
#else
#define FORK TR_START_FORK
#endif

static const int methods[] = { FORK, TR_START_SPAWN, TR_START_FORKSERVER };
#define NMETHODS 3

/* ---- child actors: arguments are "where n" --------------------------- */

/* Puts n numbered items, then SIGKILLs itself the moment the last put
 * returned: its WAKE may not even have left the process. */
static int
killed_producer(const void *args, size_t len)
{
	tr_queue *q;
	int       n;

	if (tr_test_queue_open_arg(args, &q, &n) < 0) {
		return 2;
	}
	for (uint32_t i = 0; i < (uint32_t) n; i++) {
		if (tr_queue_put_bytes(q, &i, sizeof(i), TR_TIMEOUT_INFINITE) <
		    0) {
			return 3;
		}
	}
	raise(SIGKILL);
	return 4;
}
TR_ACTOR(qr_killed_producer, killed_producer)

/* Puts with timeout 0 until TR_EFULL; exits with the number it put (at
 * most n), or 200 + a wrong error. */
static int
filler(const void *args, size_t len)
{
	tr_queue *q;
	int       n, put = 0, r;

	if (tr_test_queue_open_arg(args, &q, &n) < 0) {
		return 250;
	}
	while ((r = tr_queue_put_bytes(q, "f", 1, 0)) == 0 && put < n) {
		put++;
	}
	tr_queue_destroy(&q);
	if (r == 0) {
		return 201; /* more room than the queue has */
	}
	return r == TR_EFULL ? put : 202;
}
TR_ACTOR(qr_filler, filler)

/* Puts until the put fails; exits 20 for TR_EDEAD. */
static int
writer(const void *args, size_t len)
{
	tr_queue *q;
	uint32_t  i = 0;
	int       n, r;

	if (tr_test_queue_open_arg(args, &q, &n) < 0) {
		return 2;
	}
	while ((r = tr_queue_put_bytes(
	            q, &i, sizeof(i), TR_TIMEOUT_INFINITE)) == 0) {
		i++;
	}
	tr_queue_destroy(&q);
	return r == TR_EDEAD ? 20 : 30;
}
TR_ACTOR(qr_writer, writer)

static tr_queue *
new_queue(size_t maxsize)
{
	tr_queue_opts o = { .maxsize = maxsize };
	tr_queue     *q;

	TR_ASSERT_OK(tr_queue_new(&q, &o));
	return q;
}

/* ---- tests ------------------------------------------------------------ */

static void
test_producer_killed_after_put_loses_nothing(void **state)
{
	for (int k = 0; k < NMETHODS; k++) {
		for (int n = 1; n <= 3000; n += 2999) {
			tr_queue   *q = new_queue(0);
			tr_process *p =
			    tr_test_queue_start("qr_killed_producer",
			        tr_queue_addr(q), n, methods[k]);
			tr_msg *m;
			int     code = 0;

			TR_ASSERT_OK(tr_process_join(p, TR_TEST_HANG_MS));
			TR_ASSERT_OK(tr_process_exitcode(p, &code));
			assert_int_equal(code, -SIGKILL);
			tr_process_destroy(&p);
			for (uint32_t i = 0; i < (uint32_t) n; i++) {
				uint32_t v;

				TR_ASSERT_OK(
				    tr_queue_get(q, &m, TR_TEST_HANG_MS));
				assert_int_equal(tr_msg_size(m), sizeof(v));
				memcpy(&v, tr_msg_data(m), sizeof(v));
				assert_int_equal(v, i);
				tr_msg_destroy(&m);
			}
			TR_ASSERT_ERR(tr_queue_get(q, &m, 0), TR_EEMPTY);
			/* its ring went with it (once the DOWN is in) */
			assert_true(tr_test_queue_memfds_become(q, "ring", 0));
			tr_queue_destroy(&q);
		}
	}
}

/* Two handles in this process, one of them also the consumer. */
static void
test_bounded_efull_exact_on_rings(void **state)
{
	tr_queue *q = new_queue(10), *p1, *p2;
	tr_msg   *m;
	int       ok = 0;

	TR_ASSERT_OK(tr_queue_open(&p1, tr_queue_addr(q)));
	TR_ASSERT_OK(tr_queue_open(&p2, tr_queue_addr(q)));
	TR_ASSERT_OK(tr_queue_set_window(q, 1));
	for (int i = 0; i < 6; i++) {
		TR_ASSERT_OK(tr_queue_put_bytes(p1, "a", 1, 0));
	}
	assert_int_equal(tr_test_queue_memfds(q, "ring"), 1);
	/* p1 holds the rest of the room as credit; p2's put takes it back */
	for (int i = 0; i < 20; i++) {
		ok += tr_queue_put_bytes(i % 2 ? p1 : p2, "b", 1, 0) == 0;
	}
	assert_int_equal(ok, 4);
	assert_int_equal(tr_test_queue_memfds(q, "ring"), 2);
	TR_ASSERT_ERR(tr_queue_put_bytes(p1, "c", 1, 0), TR_EFULL);
	TR_ASSERT_ERR(tr_queue_put_bytes(p2, "c", 1, 0), TR_EFULL);
	assert_int_equal(tr_queue_qsize(q), 10);
	assert_int_equal(tr_queue_full(q), 1);
	/* one got frees one place, exactly */
	TR_ASSERT_OK(tr_queue_get(q, &m, TR_TEST_HANG_MS));
	tr_msg_destroy(&m);
	TR_ASSERT_OK(tr_queue_put_bytes(p2, "d", 1, TR_TEST_HANG_MS));
	TR_ASSERT_ERR(tr_queue_put_bytes(p1, "e", 1, 0), TR_EFULL);
	TR_ASSERT_ERR(tr_queue_put_bytes(p2, "e", 1, 0), TR_EFULL);
	assert_int_equal(tr_queue_qsize(q), 10);
	tr_queue_destroy(&p1);
	tr_queue_destroy(&p2);
	tr_queue_destroy(&q);
}

/* Producers in other processes fill a bounded queue at once, each with
 * timeout 0 until TR_EFULL: together they put exactly maxsize. */
static void
test_bounded_efull_exact_concurrent(void **state)
{
	tr_queue   *q = new_queue(150);
	tr_process *p[NMETHODS];
	int         sum = 0;

	for (int k = 0; k < NMETHODS; k++) {
		p[k] = tr_test_queue_start(
		    "qr_filler", tr_queue_addr(q), 150, methods[k]);
	}
	for (int k = 0; k < NMETHODS; k++) {
		int code = tr_test_finish(&p[k]);

		assert_in_range(code, 0, 150);
		sum += code;
	}
	assert_int_equal(sum, 150);
	assert_int_equal(tr_queue_qsize(q), 150);
	TR_ASSERT_ERR(tr_queue_put_bytes(q, "x", 1, 0), TR_EFULL);
	tr_queue_destroy(&q);
}

static void
test_broker_killed_while_producers_write(void **state)
{
	tr_queue   *q    = new_queue(0);
	pid_t       bpid = (pid_t) tr_queue_broker(q).pid;
	tr_process *p[NMETHODS];
	int64_t     end;

	for (int k = 0; k < NMETHODS; k++) {
		p[k] = tr_test_queue_start(
		    "qr_writer", tr_queue_addr(q), 0, methods[k]);
	}
	/* every writer on its ring (a sleep only adds cover) */
	end = tr_test_now_ms() + TR_TEST_HANG_MS;
	while (tr_test_queue_memfds(q, "ring") < NMETHODS &&
	    tr_test_now_ms() < end) {
		usleep(5000);
	}
	assert_int_equal(tr_test_queue_memfds(q, "ring"), NMETHODS);
	usleep(200000);
	assert_int_equal(kill(bpid, SIGKILL), 0);
	for (int k = 0; k < NMETHODS; k++) {
		assert_int_equal(tr_test_finish(&p[k]), 20);
	}
	tr_queue_destroy(&q);
}

/* The ring's layout as docs/protocol.md gives it (actors/queue-int.h):
 * state at byte 24, tail at 64, records from 4096, 256 KiB of them. */
#define RING_STATE 24
#define RING_TAIL  64
#define RING_DATA  4096
#define RING_MAP   (4096 + (256 << 10))

/* A producer that writes a bad record on its ring: the broker stops
 * reading that ring, keeps every item, and goes on serving. */
static void
test_bad_record_loses_nothing(void **state)
{
	tr_queue           *q      = new_queue(0);
	tr_addr             b      = tr_queue_broker(q);
	Trwire__QueueOp     op     = TRWIRE__QUEUE_OP__INIT;
	Trwire__QueueReply *rep    = NULL;
	tr_msg             *m      = NULL;
	uint32_t            bad[2] = { 0xffffffffu, 0 };
	char                path[64];
	uint8_t            *ring;
	int                 fd;

	TR_ASSERT_OK(tr_queue_put_bytes(q, "k", 1, 0)); /* on q's ring */
	op.kind     = TRWIRE__QUEUE_OP__KIND__RING;
	op.producer = 777777; /* no handle of ours has this id */
	TR_ASSERT_OK(tr_call_pb(b, &op.base, &trwire__queue_reply__descriptor,
	    (ProtobufCMessage **) &rep, TR_TEST_HANG_MS));
	assert_true(rep->ring_fd >= 0);
	snprintf(path, sizeof(path), "/proc/%u/fd/%d", (unsigned) b.pid,
	    (int) rep->ring_fd);
	trwire__queue_reply__free_unpacked(rep, NULL);
	fd = open(path, O_RDWR | O_CLOEXEC);
	assert_true(fd >= 0);
	ring = mmap(NULL, RING_MAP, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	assert_true(ring != MAP_FAILED);
	memcpy(ring + RING_DATA, bad, sizeof(bad)); /* a 4 GiB item */
	__atomic_store_n((uint64_t *) (ring + RING_TAIL), 64, __ATOMIC_SEQ_CST);
	op.kind = TRWIRE__QUEUE_OP__KIND__WAKE;
	TR_ASSERT_OK(tr_msg_new_pb(&m, &op.base));
	TR_ASSERT_OK(tr_send(b, &m, TR_TEST_HANG_MS));
	tr_msg_destroy(&m);
	/* every message is preceded by reading the rings */
	assert_int_equal(tr_queue_qsize(q), 1);
	assert_int_equal(
	    __atomic_load_n((uint32_t *) (ring + RING_STATE), __ATOMIC_SEQ_CST),
	    3);
	(void) munmap(ring, RING_MAP);
	TR_ASSERT_OK(tr_queue_put_bytes(q, "l", 1, 0));
	TR_ASSERT_OK(tr_queue_get(q, &m, TR_TEST_HANG_MS));
	assert_memory_equal(tr_msg_data(m), "k", 1);
	tr_msg_destroy(&m);
	TR_ASSERT_OK(tr_queue_get(q, &m, TR_TEST_HANG_MS));
	assert_memory_equal(tr_msg_data(m), "l", 1);
	tr_msg_destroy(&m);
	tr_queue_destroy(&q);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_producer_killed_after_put_loses_nothing),
		cmocka_unit_test(test_bounded_efull_exact_on_rings),
		cmocka_unit_test(test_bounded_efull_exact_concurrent),
		cmocka_unit_test(test_broker_killed_while_producers_write),
		cmocka_unit_test(test_bad_record_loses_nothing),
	};

	TR_ASSERT_OK(tr_init(argc, argv));
	unsetenv("TROUPE_QUEUE_SHM");
	return cmocka_run_group_tests_name("queue rings", tests, NULL, NULL);
}
