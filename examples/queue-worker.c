/* SPDX-License-Identifier: MIT */
/* queue-worker -- a worker returns its result through a queue.  The
 * Python original (the first seed's Queue example):
 *
 *	from processing import Process, Queue
 *
 *	def f(q):
 *	    q.put([42, None, 'hello'])
 *
 *	if __name__ == '__main__':
 *	    q = Queue()
 *	    p = Process(target=f, args=(q,))
 *	    p.start()
 *	    print q.get()    # prints "[42, None, 'hello']"
 *	    p.join()
 *
 * Items are bytes or protobuf messages: here the list's text.  The child
 * gets the queue's address (tr_queue_addr()) as its argument. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "troupe.h"

static void
check(int r, const char *what)
{
	if (r < 0) {
		fprintf(stderr, "queue-worker: %s: %s\n", what, tr_strerror(r));
		exit(1);
	}
}

static int
f(const void *args, size_t len)
{
	static const char result[] = "[42, None, 'hello']";
	tr_queue         *q;

	check(tr_queue_open(&q, args), "tr_queue_open");
	check(
	    tr_queue_put_bytes(q, result, strlen(result), TR_TIMEOUT_INFINITE),
	    "tr_queue_put");
	tr_queue_destroy(&q);
	return 0;
}
TR_ACTOR(f, f)

int
main(int argc, char **argv)
{
	tr_queue   *q;
	tr_process *p;
	tr_msg     *m;

	check(tr_init(argc, argv), "tr_init");
	check(tr_queue_new(&q, NULL), "tr_queue_new");
	check(tr_process_new(
	          &p, "f", tr_queue_addr(q), strlen(tr_queue_addr(q)) + 1),
	    "tr_process_new");
	check(tr_process_start(p, 10000), "tr_process_start");
	check(tr_queue_get(q, &m, TR_TIMEOUT_INFINITE), "tr_queue_get");
	printf("%.*s\n", (int) tr_msg_size(m), (const char *) tr_msg_data(m));
	tr_msg_destroy(&m);
	check(tr_process_join(p, TR_TIMEOUT_INFINITE), "tr_process_join");
	tr_process_destroy(&p);
	tr_queue_destroy(&q);
	return 0;
}
