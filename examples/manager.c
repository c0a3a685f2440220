/* SPDX-License-Identifier: MIT */
/* manager -- a dict and a list held by a manager process, changed by a
 * child through proxies.  The Python original:
 *
 *	def f(d, l):
 *	    d[1] = '1'
 *	    d['2'] = 2
 *	    d[0.25] = None
 *	    l.reverse()
 *
 *	if __name__ == '__main__':
 *	    manager = Manager()
 *	    d = manager.dict()
 *	    l = manager.list(range(10))
 *	    p = Process(target=f, args=(d, l))
 *	    p.start()
 *	    p.join()
 *	    print(d)
 *	    print(l)
 *
 * prints {1: '1', '2': 2, 0.25: None} (a dict keeps insertion order, as
 * Python's has since 3.7) and [9, 8, 7, 6, 5, 4, 3, 2, 1, 0].  The child
 * gets the manager's address, its key and the two proxies' references as
 * its argument, under any start method. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "troupe.h"

static void
check(int r, const char *what)
{
	if (r < 0) {
		fprintf(stderr, "manager: %s: %s\n", what, tr_strerror(r));
		exit(1);
	}
}

static int
f(const void *args, size_t len)
{
	char        where[80], key[80], dref[80], lref[80];
	tr_manager *m;
	tr_mobj    *d, *l;
	tr_mval    *k[3], *v[3];
	int         r = 0;

	if (sscanf(args, "%79s %79s %79s %79s", where, key, dref, lref) != 4) {
		return 1;
	}
	check(tr_manager_connect(&m, where, key), "connect");
	check(tr_mobj_open(&d, m, dref), "open dict");
	check(tr_mobj_open(&l, m, lref), "open list");
	k[0] = tr_mval_int(1);
	v[0] = tr_mval_str("1");
	k[1] = tr_mval_str("2");
	v[1] = tr_mval_int(2);
	k[2] = tr_mval_double(0.25);
	v[2] = tr_mval_none();
	for (int i = 0; i < 3; i++) {
		r = r < 0 ? r : tr_mdict_set(d, k[i], v[i]);
		tr_mval_destroy(&k[i]);
		tr_mval_destroy(&v[i]);
	}
	r = r < 0 ? r : tr_mlist_reverse(l);
	check(r, "f");
	tr_mobj_destroy(&d);
	tr_mobj_destroy(&l);
	tr_manager_destroy(&m);
	return 0;
}
TR_ACTOR(f, f)

int
main(int argc, char **argv)
{
	tr_manager *manager;
	tr_mobj    *d, *l;
	tr_mval    *range = tr_mval_list();
	tr_process *p;
	char        args[320], *text;

	check(tr_init(argc, argv), "tr_init");
	check(tr_manager_start(&manager, NULL), "tr_manager_start");
	check(tr_mobj_new(&d, manager, TR_MOBJ_DICT, NULL, NULL), "dict");
	for (int i = 0; i < 10; i++) {
		tr_mval *n = tr_mval_int(i);

		check(tr_mval_list_append(range, &n), "range");
	}
	check(tr_mobj_new(&l, manager, TR_MOBJ_LIST, NULL, range), "list");
	tr_mval_destroy(&range);
	snprintf(args, sizeof(args), "%s %s %s %s", tr_manager_where(manager),
	    tr_manager_authkey(manager), tr_mobj_ref(d), tr_mobj_ref(l));
	check(tr_process_new(&p, "f", args, strlen(args)), "tr_process_new");
	check(tr_process_start(p, 10000), "tr_process_start");
	check(tr_process_join(p, TR_TIMEOUT_INFINITE), "tr_process_join");
	tr_process_destroy(&p);
	check(tr_mobj_repr(d, &text), "repr");
	printf("%s\n", text);
	free(text);
	check(tr_mobj_repr(l, &text), "repr");
	printf("%s\n", text);
	free(text);
	tr_mobj_destroy(&d);
	tr_mobj_destroy(&l);
	tr_manager_destroy(&manager);
	return 0;
}
