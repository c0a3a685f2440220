/* SPDX-License-Identifier: MIT */
/* manager-value-array -- a Value and an Array held by a manager process,
 * changed by a child through proxies.  The Python original (the shared
 * memory example of the processing docs, with the manager's Value and
 * Array, which "a manager returned by Manager() will support"):
 *
 *	def f(n, a):
 *	    n.value = 3.1415927
 *	    for i in range(len(a)):
 *	        a[i] = -a[i]
 *
 *	if __name__ == '__main__':
 *	    manager = Manager()
 *	    num = manager.Value('d', 0.0)
 *	    arr = manager.Array('i', range(10))
 *	    p = Process(target=f, args=(num, arr))
 *	    p.start()
 *	    p.join()
 *	    print(num.value)
 *	    print(arr[:])
 *
 * prints 3.1415927 and [0, -1, -2, -3, -4, -5, -6, -7, -8, -9].  The
 * child gets the manager's address, its key and the proxies' references
 * as its argument, under any start method. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "troupe.h"

static void
check(int r, const char *what)
{
	if (r < 0) {
		fprintf(stderr, "manager-value-array: %s: %s\n", what,
		    tr_strerror(r));
		exit(1);
	}
}

static int
f(const void *args, size_t len)
{
	char        where[80], key[80], nref[80], aref[80];
	tr_manager *m;
	tr_mobj    *n, *a;
	tr_mval    *v;
	int64_t     count;

	if (sscanf(args, "%79s %79s %79s %79s", where, key, nref, aref) != 4) {
		return 1;
	}
	check(tr_manager_connect(&m, where, key), "connect");
	check(tr_mobj_open(&n, m, nref), "open value");
	check(tr_mobj_open(&a, m, aref), "open array");
	v = tr_mval_double(3.1415927);
	check(tr_mvalue_set(n, v), "n.value =");
	tr_mval_destroy(&v);
	count = tr_mobj_len(a);
	check((int) (count < 0 ? count : 0), "len(a)");
	for (int64_t i = 0; i < count; i++) {
		tr_mval *item = NULL;

		check(tr_marray_get(a, i, &item), "a[i]");
		v = tr_mval_int(-tr_mval_get_int(item));
		check(tr_marray_set(a, i, v), "a[i] =");
		tr_mval_destroy(&v);
		tr_mval_destroy(&item);
	}
	tr_mobj_destroy(&n);
	tr_mobj_destroy(&a);
	tr_manager_destroy(&m);
	return 0;
}
TR_ACTOR(f, f)

int
main(int argc, char **argv)
{
	tr_manager *manager;
	tr_mobj    *num, *arr;
	tr_mval    *zero, *range = tr_mval_list(), *v = NULL;
	tr_process *p;
	char        args[512], *text;

	check(tr_init(argc, argv), "tr_init");
	check(tr_manager_start(&manager, NULL), "Manager()");
	zero = tr_mval_double(0.0);
	check(tr_mobj_new(&num, manager, TR_MOBJ_VALUE, NULL, zero), "Value");
	for (int i = 0; i < 10; i++) {
		tr_mval *item = tr_mval_int(i);

		check(tr_mval_list_append(range, &item), "range");
	}
	check(tr_marray_new(&arr, manager, NULL, 'i', 0, range), "Array");
	snprintf(args, sizeof(args), "%s %s %s %s", tr_manager_where(manager),
	    tr_manager_authkey(manager), tr_mobj_ref(num), tr_mobj_ref(arr));
	check(tr_process_new(&p, "f", args, strlen(args)), "Process");
	check(tr_process_start(p, 10000), "start");
	check(tr_process_join(p, TR_TIMEOUT_INFINITE), "join");
	tr_process_destroy(&p);
	check(tr_mvalue_get(num, &v), "num.value");
	text = tr_mval_repr(v);
	printf("%s\n", text);
	free(text);
	tr_mval_destroy(&v);
	check(tr_marray_slice(arr, 0, INT64_MAX, &v), "arr[:]");
	text = tr_mval_repr(v);
	printf("%s\n", text);
	free(text);
	tr_mval_destroy(&v);
	tr_mval_destroy(&zero);
	tr_mval_destroy(&range);
	tr_mobj_destroy(&num);
	tr_mobj_destroy(&arr);
	tr_manager_destroy(&manager);
	return 0;
}
