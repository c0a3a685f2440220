/* SPDX-License-Identifier: MIT */
/* pipe -- a child sends one object to its parent through a Pipe.  The
 * Python original:
 *
 *	def f(conn):
 *	    conn.send([42, None, 'hello'])
 *	    conn.close()
 *
 *	if __name__ == '__main__':
 *	    parent_conn, child_conn = Pipe()
 *	    p = Process(target=f, args=(child_conn,))
 *	    p.start()
 *	    print(parent_conn.recv())   # prints "[42, None, 'hello']"
 *	    p.join()
 *
 * In troupe a pipe end is handed to the child explicitly before it starts
 * (tr_process_pass_pipe()), whatever the start method; the child takes it
 * with tr_pipe_inherit() from the slot number in its arguments.  No code
 * or pointer travels, and nothing is pickled: the list is a C struct sent
 * as bytes (a protobuf message would do as well, with tr_pipe_send_pb()). */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "troupe.h"

/* [42, None, 'hello'] */
struct item {
	int32_t number;
	bool    none; /* the second element is None */
	char    text[16];
};

static int
f(const void *args, size_t len)
{
	struct item it = { 42, true, "hello" };
	tr_pipe    *conn;
	int         r;

	(void) len;
	r = tr_pipe_inherit(atoi(args), &conn);
	if (r < 0) {
		return r;
	}
	r = tr_pipe_send_bytes(conn, &it, sizeof(it), TR_TIMEOUT_INFINITE);
	tr_pipe_destroy(&conn);
	return r;
}
TR_ACTOR(f, f)

static void
check(int r, const char *what)
{
	if (r < 0) {
		fprintf(stderr, "pipe: %s: %s\n", what, tr_strerror(r));
		exit(1);
	}
}

int
main(int argc, char **argv)
{
	tr_pipe    *parent_conn, *child_conn;
	tr_process *p;
	struct item it;
	size_t      n;
	char        slot[16];

	check(tr_init(argc, argv), "tr_init");
	check(tr_pipe_new(true, &parent_conn, &child_conn), "tr_pipe_new");
	/* the first end handed to a child is in its slot 0 */
	snprintf(slot, sizeof(slot), "%d", 0);
	check(tr_process_new(&p, "f", slot, strlen(slot)), "tr_process_new");
	check(tr_process_pass_pipe(p, child_conn), "tr_process_pass_pipe");
	check(tr_process_start(p, 10000), "tr_process_start");
	/* the child has its own copy: ours goes, so that its end of file
	 * would reach us if it died */
	tr_pipe_destroy(&child_conn);
	check(tr_pipe_recv_bytes(
	          parent_conn, &it, sizeof(it), &n, TR_TIMEOUT_INFINITE),
	    "tr_pipe_recv_bytes");
	if (n != sizeof(it)) {
		fprintf(stderr, "pipe: got %zu bytes\n", n);
		return 1;
	}
	printf("[%d, %s, '%.*s']\n", (int) it.number, it.none ? "None" : "?",
	    (int) sizeof(it.text), it.text);
	check(tr_process_join(p, TR_TIMEOUT_INFINITE), "tr_process_join");
	tr_process_destroy(&p);
	tr_pipe_destroy(&parent_conn);
	return 0;
}
