/* SPDX-License-Identifier: MIT */
/* joinable-queue -- consumers take tasks from a JoinableQueue until a
 * poison pill, and pass results back on a second queue; the main program
 * join()s the task queue before it prints the results.  The Python
 * original (seed 004, shortened):
 *
 *	class Consumer(multiprocessing.Process):
 *	    def run(self):
 *	        proc_name = self.name
 *	        while True:
 *	            next_task = self.task_queue.get()
 *	            if next_task is None:
 *	                # Poison pill means shutdown
 *	                print('{}: Exiting'.format(proc_name))
 *	                self.task_queue.task_done()
 *	                break
 *	            print('{}: {}'.format(proc_name, next_task))
 *	            answer = next_task()
 *	            self.task_queue.task_done()
 *	            self.result_queue.put(answer)
 *
 *	class Task:
 *	    def __call__(self):
 *	        time.sleep(0.1)  # pretend to take time to do the work
 *	        return '{self.a} * {self.b} = {product}'.format(...)
 *
 *	tasks = multiprocessing.JoinableQueue()
 *	results = multiprocessing.Queue()
 *	num_consumers = multiprocessing.cpu_count() * 2
 *	print('Creating {} consumers'.format(num_consumers))
 *	...
 *	for i in range(num_jobs): tasks.put(Task(i, i))
 *	for i in range(num_consumers): tasks.put(None)
 *	tasks.join()
 *	while num_jobs:
 *	    result = results.get()
 *	    print('Result:', result)
 *	    num_jobs -= 1
 *
 * A task travels as two int32 (a, b); the poison pill is an empty item.
 * Each consumer asks for one task ahead (tr_queue_set_window(q, 1)):
 * with the default window one consumer could take every task at once,
 * while the others wait. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "troupe.h"

#define NUM_JOBS 10

static void
check(int r, const char *what)
{
	if (r < 0) {
		fprintf(
		    stderr, "joinable-queue: %s: %s\n", what, tr_strerror(r));
		exit(1);
	}
}

/* args: "tasks-address results-address" */
static int
consumer(const void *args, size_t len)
{
	char      tw[128], rw[128], answer[64];
	tr_queue *tasks, *results;
	tr_msg   *next_task;
	int32_t   t[2];

	if (sscanf(args, "%127s %127s", tw, rw) != 2) {
		return 2;
	}
	check(tr_queue_open(&tasks, tw), "tr_queue_open");
	check(tr_queue_open(&results, rw), "tr_queue_open");
	check(tr_queue_set_window(tasks, 1), "tr_queue_set_window");
	for (;;) {
		check(tr_queue_get(tasks, &next_task, TR_TIMEOUT_INFINITE),
		    "tr_queue_get");
		if (tr_msg_size(next_task) == 0) { /* poison pill */
			printf("%s: Exiting\n", tr_self_name());
			fflush(stdout);
			tr_msg_destroy(&next_task);
			check(tr_queue_task_done(tasks), "tr_queue_task_done");
			break;
		}
		memcpy(t, tr_msg_data(next_task), sizeof(t));
		tr_msg_destroy(&next_task);
		printf("%s: %d * %d\n", tr_self_name(), (int) t[0], (int) t[1]);
		fflush(stdout);
		usleep(100000); /* pretend to take time to do the work */
		snprintf(answer, sizeof(answer), "%d * %d = %d", (int) t[0],
		    (int) t[1], (int) (t[0] * t[1]));
		check(tr_queue_task_done(tasks), "tr_queue_task_done");
		check(tr_queue_put_bytes(
		          results, answer, strlen(answer), TR_TIMEOUT_INFINITE),
		    "tr_queue_put");
	}
	tr_queue_destroy(&tasks);
	tr_queue_destroy(&results);
	return 0;
}
TR_ACTOR(consumer, consumer)

int
main(int argc, char **argv)
{
	tr_queue_opts jq = { .kind = TR_QUEUE_JOINABLE };
	tr_queue     *tasks, *results;
	tr_process  **consumers;
	tr_msg       *result;
	char          args[300];
	int           num_consumers;

	check(tr_init(argc, argv), "tr_init");
	check(tr_queue_new(&tasks, &jq), "tr_queue_new");
	check(tr_queue_new(&results, NULL), "tr_queue_new");
	num_consumers = tr_cpu_count() * 2;
	printf("Creating %d consumers\n", num_consumers);
	fflush(stdout);
	consumers = calloc((size_t) num_consumers, sizeof(*consumers));
	snprintf(args, sizeof(args), "%s %s", tr_queue_addr(tasks),
	    tr_queue_addr(results));
	for (int i = 0; i < num_consumers; i++) {
		check(tr_process_new(
		          &consumers[i], "consumer", args, strlen(args) + 1),
		    "tr_process_new");
		check(
		    tr_process_start(consumers[i], 10000), "tr_process_start");
	}
	for (int32_t i = 0; i < NUM_JOBS; i++) {
		int32_t task[2] = { i, i };

		check(tr_queue_put_bytes(tasks, task, sizeof(task), 0),
		    "tr_queue_put");
	}
	for (int i = 0; i < num_consumers; i++) { /* a pill for each */
		check(tr_queue_put_bytes(tasks, NULL, 0, 0), "tr_queue_put");
	}
	check(tr_queue_join(tasks, TR_TIMEOUT_INFINITE), "tr_queue_join");
	for (int num_jobs = NUM_JOBS; num_jobs; num_jobs--) {
		check(tr_queue_get(results, &result, TR_TIMEOUT_INFINITE),
		    "tr_queue_get");
		printf("Result: %.*s\n", (int) tr_msg_size(result),
		    (const char *) tr_msg_data(result));
		tr_msg_destroy(&result);
	}
	for (int i = 0; i < num_consumers; i++) {
		check(tr_process_join(consumers[i], TR_TIMEOUT_INFINITE),
		    "tr_process_join");
		tr_process_destroy(&consumers[i]);
	}
	free(consumers);
	tr_queue_destroy(&tasks);
	tr_queue_destroy(&results);
	return 0;
}
