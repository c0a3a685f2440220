/* SPDX-License-Identifier: MIT */
/* queue-results -- ten processes each put a result (their pid) on one
 * queue; the parent collects them after joining.  The Python original
 * (the "multiple results" example of seed 003):
 *
 *	q = Queue()
 *
 *	def hello(n):
 *	    time.sleep(random.randint(1,3))
 *	    q.put(os.getpid())
 *	    print("[{0}] Hello!".format(n))
 *
 *	processes = [ ]
 *	for i in range(10):
 *	    t = multiprocessing.Process(target=hello, args=(i,))
 *	    processes.append(t)
 *	    t.start()
 *	for one_process in processes:
 *	    one_process.join()
 *	mylist = [ ]
 *	while not q.empty():
 *	    mylist.append(q.get())
 *	print("Done!")
 *	print(len(mylist))
 *	print(mylist)
 *
 * The queue is not a global here: a child gets its address as an argument
 * (that works under every start method) and opens it.  The sleep is
 * shortened to 0-100 ms. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "troupe.h"

static void
check(int r, const char *what)
{
	if (r < 0) {
		fprintf(
		    stderr, "queue-results: %s: %s\n", what, tr_strerror(r));
		exit(1);
	}
}

/* args: "n queue-address" */
static int
hello(const void *args, size_t len)
{
	char      where[128];
	tr_queue *q;
	int       n;
	int32_t   pid = (int32_t) getpid();

	if (sscanf(args, "%d %127s", &n, where) != 2) {
		return 2;
	}
	check(tr_queue_open(&q, where), "tr_queue_open");
	srand((unsigned) pid);
	usleep((useconds_t) (rand() % 100) * 1000);
	check(tr_queue_put_bytes(q, &pid, sizeof(pid), TR_TIMEOUT_INFINITE),
	    "tr_queue_put");
	printf("[%d] Hello!\n", n);
	tr_queue_destroy(&q);
	return 0;
}
TR_ACTOR(hello, hello)

int
main(int argc, char **argv)
{
	tr_process *processes[10];
	tr_queue   *q;
	tr_msg     *m;
	int32_t     mylist[10];
	int         n = 0;

	check(tr_init(argc, argv), "tr_init");
	check(tr_queue_new(&q, NULL), "tr_queue_new");
	for (int i = 0; i < 10; i++) {
		char args[160];

		snprintf(args, sizeof(args), "%d %s", i, tr_queue_addr(q));
		check(tr_process_new(
		          &processes[i], "hello", args, strlen(args) + 1),
		    "tr_process_new");
		fflush(stdout);
		check(
		    tr_process_start(processes[i], 10000), "tr_process_start");
	}
	for (int i = 0; i < 10; i++) {
		check(tr_process_join(processes[i], TR_TIMEOUT_INFINITE),
		    "tr_process_join");
		tr_process_destroy(&processes[i]);
	}
	/* every put returned once the queue held the item, so after the
	 * joins empty() is exact */
	while (n < 10 && tr_queue_empty(q) == 0) {
		check(tr_queue_get(q, &m, TR_TIMEOUT_INFINITE), "tr_queue_get");
		memcpy(&mylist[n++], tr_msg_data(m), sizeof(int32_t));
		tr_msg_destroy(&m);
	}
	printf("Done!\n%d\n[", n);
	for (int i = 0; i < n; i++) {
		/* mylist[0..n) were written above */
		/* cppcheck-suppress uninitvar */
		printf("%s%d", i ? ", " : "", (int) mylist[i]);
	}
	printf("]\n");
	tr_queue_destroy(&q);
	return 0;
}
