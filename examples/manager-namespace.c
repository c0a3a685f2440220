/* SPDX-License-Identifier: MIT */
/* manager-namespace -- a Namespace shared through a manager, and an Event
 * (PyMOTW, "Managing Shared State").  The Python original:
 *
 *	def producer(ns, event):
 *	    ns.value = 'This is the value'
 *	    event.set()
 *
 *	def consumer(ns, event):
 *	    try:
 *	        print('Before event: {}'.format(ns.value))
 *	    except Exception as err:
 *	        print('Before event, error:', str(err))
 *	    event.wait()
 *	    print('After event:', ns.value)
 *
 * and a second run where the producer appends to ns.my_list, a copy, so
 * that nothing changes in the namespace ("updates to variable-value
 * content in the namespace do not propagate automatically").  Python's
 * consumer usually reads before the producer writes; here it is sure to:
 * the producer waits for a second event, "read", that the consumer sets
 * after its first read.  The Event lives in the manager too. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "troupe.h"

struct shared {
	tr_manager *m;
	tr_mobj    *ns, *event, *read;
};

static void
check(int r, const char *what)
{
	if (r < 0) {
		fprintf(stderr, "manager-namespace: %s: %s\n", what,
		    tr_strerror(r));
		exit(1);
	}
}

/* args: "WHERE KEY NS EVENT READ ROUND" */
static int
open_shared(const char *args, struct shared *s)
{
	char where[80], key[80], ns[80], ev[80], rd[80];
	int  round;

	if (sscanf(args, "%79s %79s %79s %79s %79s %d", where, key, ns, ev, rd,
	        &round) != 6) {
		exit(2);
	}
	check(tr_manager_connect(&s->m, where, key), "connect");
	check(tr_mobj_open(&s->ns, s->m, ns), "open namespace");
	check(tr_mobj_open(&s->event, s->m, ev), "open event");
	check(tr_mobj_open(&s->read, s->m, rd), "open event");
	return round;
}

static void
close_shared(struct shared *s)
{
	tr_mobj_destroy(&s->ns);
	tr_mobj_destroy(&s->event);
	tr_mobj_destroy(&s->read);
	tr_manager_destroy(&s->m);
}

static int
producer(const void *args, size_t len)
{
	struct shared s;
	int           round = open_shared(args, &s);
	tr_mval      *v     = NULL, *item;

	check(tr_mevent_wait(s.read, TR_TIMEOUT_INFINITE), "wait");
	if (round == 1) {
		v = tr_mval_str("This is the value");
		check(tr_mns_set(s.ns, "value", v), "set");
	} else {
		/* DOES NOT UPDATE GLOBAL VALUE: my_list is a copy */
		check(tr_mns_get(s.ns, "my_list", &v), "get");
		item = tr_mval_str("This is the value");
		check(tr_mval_list_append(v, &item), "append");
	}
	tr_mval_destroy(&v);
	check(tr_mevent_set(s.event), "set");
	close_shared(&s);
	return 0;
}
TR_ACTOR(producer, producer)

static void
print_attr(tr_mobj *ns, const char *attr, const char *prefix)
{
	tr_mval *v = NULL;
	char    *text;
	int      r = tr_mns_get(ns, attr, &v);

	if (r == TR_ENOTFOUND) {
		printf("%s, error: 'Namespace' object has no attribute '%s'\n",
		    prefix, attr);
		return;
	}
	check(r, "get");
	text = tr_mval_kind(v) == TR_MVAL_STR ? strdup(tr_mval_get_str(v))
	                                      : tr_mval_repr(v);
	printf("%s: %s\n", prefix, text);
	free(text);
	tr_mval_destroy(&v);
}

static int
consumer(const void *args, size_t len)
{
	struct shared s;
	int           round = open_shared(args, &s);
	const char   *attr  = round == 1 ? "value" : "my_list";

	print_attr(s.ns, attr, "Before event");
	fflush(stdout);
	check(tr_mevent_set(s.read), "set");
	check(tr_mevent_wait(s.event, TR_TIMEOUT_INFINITE), "wait");
	print_attr(s.ns, attr, round == 1 ? "After event" : "After event ");
	fflush(stdout);
	close_shared(&s);
	return 0;
}
TR_ACTOR(consumer, consumer)

static void
run(tr_manager *m, int round)
{
	tr_mobj    *ns, *event, *read;
	tr_process *p, *c;
	tr_mval    *empty;
	char        args[400];

	check(tr_mobj_new(&ns, m, TR_MOBJ_NAMESPACE, NULL, NULL), "ns");
	check(tr_mobj_new(&event, m, TR_MOBJ_EVENT, NULL, NULL), "event");
	check(tr_mobj_new(&read, m, TR_MOBJ_EVENT, NULL, NULL), "event");
	if (round == 2) {
		empty = tr_mval_list();
		check(tr_mns_set(ns, "my_list", empty), "set");
		tr_mval_destroy(&empty);
	}
	snprintf(args, sizeof(args), "%s %s %s %s %s %d", tr_manager_where(m),
	    tr_manager_authkey(m), tr_mobj_ref(ns), tr_mobj_ref(event),
	    tr_mobj_ref(read), round);
	check(tr_process_new(&p, "producer", args, strlen(args)), "new");
	check(tr_process_new(&c, "consumer", args, strlen(args)), "new");
	check(tr_process_start(c, 10000), "start");
	check(tr_process_start(p, 10000), "start");
	check(tr_process_join(c, TR_TIMEOUT_INFINITE), "join");
	check(tr_process_join(p, TR_TIMEOUT_INFINITE), "join");
	tr_process_destroy(&c);
	tr_process_destroy(&p);
	tr_mobj_destroy(&ns);
	tr_mobj_destroy(&event);
	tr_mobj_destroy(&read);
}

int
main(int argc, char **argv)
{
	tr_manager *m;

	check(tr_init(argc, argv), "tr_init");
	check(tr_manager_start(&m, NULL), "tr_manager_start");
	run(m, 1);
	run(m, 2);
	tr_manager_destroy(&m);
	return 0;
}
