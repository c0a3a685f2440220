/* SPDX-License-Identifier: MIT */
/* Names: exactly one of many racers takes over a stale name, under every
 * start method; the per-process limit of TR_REGISTER_MAX names. */
#include "tr-test.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define RACERS 8  /* actors racing in each round */
#define NAMES  8  /* names held by one holder, raced for in turn */
#define ROUNDS 30 /* rounds per start method */

/* Registers NAMES names "<args>-<i>", then waits to be killed. */
static int
holder(const void *args, size_t len)
{
	for (int i = 0; i < NAMES; i++) {
		char name[64];

		snprintf(name, sizeof(name), "%s-%d", (const char *) args, i);
		if (tr_register(name) < 0) {
			return tr_fail(-EEXIST, "name taken");
		}
	}
	tr_ready();
	pause();
	return 0;
}
TR_ACTOR_FLAGS(holder, holder, TR_ACTOR_MANUAL_READY)

/* Block until the writer of the FIFO fd has come and gone. */
static int
barrier_wait(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	return poll(&pfd, 1, 30000) == 1 ? 0 : -1;
}

/* Open the FIFO at path for reading without waiting for a writer. */
static int
barrier_open(const char *path)
{
	return open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
}

/* Everyone blocked in barrier_wait() on path goes at once. */
static void
barrier_release(const char *path)
{
	int fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);

	assert_true(fd >= 0);
	close(fd);
}

/* args: "name parent-address start-fifo done-fifo".  When the start
 * barrier opens, tries to register each of the holder's names in turn,
 * sends the parent the bit mask of those it won, holds them until the
 * done barrier opens, then exits with the number won (100 on error). */
static int
racer(const void *args, size_t len)
{
	char     name[48], txt[TR_ADDR_STRLEN], start[256], done[256];
	tr_addr  parent;
	unsigned won = 0;
	int      fs, fd, n = 0;

	if (sscanf(args, "%47s %47s %255s %255s", name, txt, start, done) !=
	        4 ||
	    tr_addr_parse(txt, &parent) < 0) {
		return 100;
	}
	fs = barrier_open(start);
	fd = barrier_open(done);
	if (fs < 0 || fd < 0) {
		return 100;
	}
	tr_ready();
	if (barrier_wait(fs) < 0) {
		return 100;
	}
	for (int i = 0; i < NAMES; i++) {
		char one[64];
		int  r;

		snprintf(one, sizeof(one), "%s-%d", name, i);
		r = tr_register(one);
		if (r == 0) {
			won |= 1u << i;
			n++;
		} else if (r != TR_EEXISTS) {
			return 100;
		}
	}
	if (tr_send_bytes(parent, &won, sizeof(won), 10000) < 0 ||
	    barrier_wait(fd) < 0) {
		return 100;
	}
	return n;
}
TR_ACTOR_FLAGS(racer, racer, TR_ACTOR_MANUAL_READY)

static tr_process *
start(const char *actor, const char *args, int method)
{
	tr_process *p;

	TR_ASSERT_OK(tr_process_new(&p, actor, args, strlen(args) + 1));
	TR_ASSERT_OK(tr_process_set_start_method(p, method));
	TR_ASSERT_OK(tr_process_start(p, 20000));
	return p;
}

/* One round: the holder of NAMES names is SIGKILLed and left a zombie
 * (never joined, so its reaper cannot remove the names), then RACERS
 * actors race to take the stale names over.  Returns the number of names
 * that did not end with exactly one winner. */
static int
race_round(const char *name, int method, const char *dir)
{
	char        start_path[256], done_path[256], args[900], self[64];
	tr_process *h, *r[RACERS];
	int         winners[NAMES] = { 0 }, total = 0, bad = 0;

	snprintf(start_path, sizeof(start_path), "%s/start", dir);
	snprintf(done_path, sizeof(done_path), "%s/done", dir);
	assert_int_equal(mkfifo(start_path, 0600), 0);
	assert_int_equal(mkfifo(done_path, 0600), 0);
	tr_addr_format(tr_self(), self, sizeof(self));
	snprintf(args, sizeof(args), "%s %s %s %s", name, self, start_path,
	    done_path);

	/* The holder is forked by us under every method, so that it stays
	 * our zombie until we join it. */
	h = start("holder", name, TR_START_FORK);
	TR_ASSERT_OK(tr_process_kill(h));
	assert_true(tr_test_wait_gone(tr_process_pid(h), 10000));
	for (int i = 0; i < RACERS; i++) {
		r[i] = start("racer", args, method);
	}
	barrier_release(start_path);
	for (int i = 0; i < RACERS; i++) {
		tr_msg  *m;
		unsigned won;

		TR_ASSERT_OK(tr_recv(&m, 20000));
		assert_int_equal(tr_msg_size(m), sizeof(won));
		memcpy(&won, tr_msg_data(m), sizeof(won));
		tr_msg_destroy(&m);
		for (int k = 0; k < NAMES; k++) {
			winners[k] += (won >> k) & 1;
		}
	}
	barrier_release(done_path);
	for (int i = 0; i < RACERS; i++) {
		int code = -1;

		TR_ASSERT_OK(tr_process_join(r[i], 20000));
		TR_ASSERT_OK(tr_process_exitcode(r[i], &code));
		assert_in_range(code, 0, NAMES);
		total += code;
		tr_process_destroy(&r[i]);
	}
	TR_ASSERT_OK(tr_process_join(h, 10000));
	tr_process_destroy(&h);
	unlink(start_path);
	unlink(done_path);
	for (int k = 0; k < NAMES; k++) {
		bad += winners[k] != 1;
	}
	assert_true(bad > 0 || total == NAMES);
	return bad;
}

static void
race(int method)
{
	char tmpl[] = "/tmp/tr-names-XXXXXX";
	int  bad    = 0;

	assert_non_null(mkdtemp(tmpl));
	TR_ASSERT_OK(tr_self_bind());
	for (int round = 0; round < ROUNDS; round++) {
		char name[32];
		int  w;

		snprintf(name, sizeof(name), "race-%d-%d", method, round);
		w = race_round(name, method, tmpl);
		if (w > 0) {
			print_message("round %d (%s): %d of %d names won by "
			              "more or fewer than one racer\n",
			    round, tr_start_method_name(method), w, NAMES);
		}
		bad += w;
	}
	rmdir(tmpl);
	assert_int_equal(bad, 0);
}

static void
test_one_racer_takes_over_a_stale_name_fork(void **state)
{
	race(TR_START_FORK);
}

static void
test_one_racer_takes_over_a_stale_name_spawn(void **state)
{
	race(TR_START_SPAWN);
}

static void
test_one_racer_takes_over_a_stale_name_forkserver(void **state)
{
	race(TR_START_FORKSERVER);
}

static void
test_register_limit_per_process(void **state)
{
	char    name[32];
	tr_addr a;

	for (int i = 0; i < TR_REGISTER_MAX; i++) {
		snprintf(name, sizeof(name), "limit-%d", i);
		TR_ASSERT_OK(tr_register(name));
	}
	TR_ASSERT_ERR(tr_register("limit-extra"), -ENOSPC);
	TR_ASSERT_ERR(tr_whereis("limit-extra", &a), TR_ENOTFOUND);
	TR_ASSERT_OK(tr_register("limit-0")); /* already ours: no new slot */
	TR_ASSERT_OK(tr_unregister("limit-3"));
	TR_ASSERT_OK(tr_register("limit-extra"));
	TR_ASSERT_OK(tr_whereis("limit-extra", &a));
	assert_true(tr_addr_eq(a, tr_self()));
	TR_ASSERT_ERR(tr_register("limit-3"), -ENOSPC);
	TR_ASSERT_OK(tr_unregister("limit-extra"));
	for (int i = 0; i < TR_REGISTER_MAX; i++) {
		snprintf(name, sizeof(name), "limit-%d", i);
		TR_ASSERT_ERR(tr_unregister(name), i == 3 ? TR_ENOTFOUND : 0);
	}
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_register_limit_per_process),
		cmocka_unit_test(test_one_racer_takes_over_a_stale_name_fork),
		cmocka_unit_test(test_one_racer_takes_over_a_stale_name_spawn),
		cmocka_unit_test(
		    test_one_racer_takes_over_a_stale_name_forkserver),
	};

	if (tr_init(argc, argv) < 0) {
		return 99;
	}
	if (getenv("TR_TEST_FILTER")) {
		cmocka_set_test_filter(getenv("TR_TEST_FILTER"));
	}
	return cmocka_run_group_tests_name("names", tests, NULL, NULL);
}
