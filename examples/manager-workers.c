/* SPDX-License-Identifier: MIT */
/* manager-workers -- ten processes write into one managed dict.  The
 * Python original (PyMOTW):
 *
 *	def worker(d, key, value):
 *	    d[key] = value
 *
 *	if __name__ == '__main__':
 *	    mgr = multiprocessing.Manager()
 *	    d = mgr.dict()
 *	    jobs = [
 *	        multiprocessing.Process(
 *	            target=worker,
 *	            args=(d, i, i * 2),
 *	        )
 *	        for i in range(10)
 *	    ]
 *	    for j in jobs:
 *	        j.start()
 *	    for j in jobs:
 *	        j.join()
 *	    print('Results:', d)
 *
 * The workers run at once, so the dict's insertion order varies from run
 * to run (in Python too); this one prints the items in key order:
 * Results: {0: 0, 1: 2, 2: 4, ..., 9: 18}. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "troupe.h"

static void
check(int r, const char *what)
{
	if (r < 0) {
		fprintf(
		    stderr, "manager-workers: %s: %s\n", what, tr_strerror(r));
		exit(1);
	}
}

/* args: "WHERE KEY DICT I" */
static int
worker(const void *args, size_t len)
{
	char        where[80], key[80], dref[80];
	tr_manager *m;
	tr_mobj    *d;
	tr_mval    *k, *v;
	int         i;

	if (sscanf(args, "%79s %79s %79s %d", where, key, dref, &i) != 4) {
		return 1;
	}
	check(tr_manager_connect(&m, where, key), "connect");
	check(tr_mobj_open(&d, m, dref), "open dict");
	k = tr_mval_int(i);
	v = tr_mval_int(i * 2);
	check(tr_mdict_set(d, k, v), "d[key] = value");
	tr_mval_destroy(&k);
	tr_mval_destroy(&v);
	tr_mobj_destroy(&d);
	tr_manager_destroy(&m);
	return 0;
}
TR_ACTOR(worker, worker)

int
main(int argc, char **argv)
{
	tr_manager *mgr;
	tr_mobj    *d;
	tr_mval    *all = NULL, *sorted = tr_mval_dict();
	tr_process *jobs[10];
	char        args[320], *text;

	check(tr_init(argc, argv), "tr_init");
	check(tr_manager_start(&mgr, NULL), "Manager()");
	check(tr_mobj_new(&d, mgr, TR_MOBJ_DICT, NULL, NULL), "dict");
	for (int i = 0; i < 10; i++) {
		snprintf(args, sizeof(args), "%s %s %s %d",
		    tr_manager_where(mgr), tr_manager_authkey(mgr),
		    tr_mobj_ref(d), i);
		check(tr_process_new(&jobs[i], "worker", args, strlen(args)),
		    "Process");
	}
	for (int i = 0; i < 10; i++) {
		check(tr_process_start(jobs[i], 10000), "start");
	}
	for (int i = 0; i < 10; i++) {
		check(tr_process_join(jobs[i], TR_TIMEOUT_INFINITE), "join");
		tr_process_destroy(&jobs[i]);
	}
	check(tr_mobj_get_all(d, &all), "d");
	for (int i = 0; i < 10; i++) { /* in key order */
		tr_mval       *k   = tr_mval_int(i), *v;
		const tr_mval *got = tr_mval_dict_get(all, k);

		v = got ? tr_mval_copy(got) : tr_mval_none();
		check(tr_mval_dict_set(sorted, &k, &v), "sort");
	}
	text = tr_mval_repr(sorted);
	printf("Results: %s\n", text);
	free(text);
	tr_mval_destroy(&all);
	tr_mval_destroy(&sorted);
	tr_mobj_destroy(&d);
	tr_manager_destroy(&mgr);
	return 0;
}
