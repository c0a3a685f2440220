/* SPDX-License-Identifier: MIT */
/* value-array -- a Value and an Array in shared memory, changed by a
 * child.  The Python original:
 *
 *	def f(n, a):
 *	    n.value = 3.1415927
 *	    for i in range(len(a)):
 *	        a[i] = -a[i]
 *
 *	if __name__ == '__main__':
 *	    num = Value('d', 0.0)
 *	    arr = Array('i', range(10))
 *	    p = Process(target=f, args=(num, arr))
 *	    p.start()
 *	    p.join()
 *	    print(num.value)
 *	    print(arr[:])
 *
 * The child gets both addresses as its argument, under any start method. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "troupe.h"

static int
f(const void *args, size_t len)
{
	char      vaddr[TR_SHM_ADDRLEN], aaddr[TR_SHM_ADDRLEN];
	tr_value *n;
	tr_array *a;

	if (sscanf(args, "%63s %63s", vaddr, aaddr) != 2 ||
	    tr_value_open(&n, vaddr) < 0 || tr_array_open(&a, aaddr) < 0) {
		return 1;
	}
	(void) tr_value_set_f64(n, 3.1415927);
	for (size_t i = 0; i < tr_array_len(a); i++) {
		int64_t x = 0;

		(void) tr_array_get_i64(a, i, &x);
		(void) tr_array_set_i64(a, i, -x);
	}
	tr_array_destroy(&a);
	tr_value_destroy(&n);
	return 0;
}
TR_ACTOR(f, f)

static void
check(int r, const char *what)
{
	if (r < 0) {
		fprintf(stderr, "value-array: %s: %s\n", what, tr_strerror(r));
		exit(1);
	}
}

int
main(int argc, char **argv)
{
	int32_t     init[10], out[10];
	char        args[160];
	tr_value   *num;
	tr_array   *arr;
	tr_process *p;
	double      d;

	check(tr_init(argc, argv), "tr_init");
	for (int i = 0; i < 10; i++) {
		init[i] = i;
	}
	check(tr_value_new(&num, NULL, 'd', 0), "tr_value_new");
	check(tr_array_new(&arr, NULL, 'i', 10, init, 0), "tr_array_new");
	snprintf(args, sizeof(args), "%s %s", tr_value_addr(num),
	    tr_array_addr(arr));
	check(tr_process_new(&p, "f", args, strlen(args)), "tr_process_new");
	check(tr_process_start(p, 10000), "tr_process_start");
	check(tr_process_join(p, TR_TIMEOUT_INFINITE), "tr_process_join");
	tr_process_destroy(&p);
	check(tr_value_get_f64(num, &d), "get");
	printf("%.8g\n", d);
	check(tr_array_read(arr, 0, 10, out), "read");
	for (int i = 0; i < 10; i++) {
		printf("%s%d", i ? ", " : "[", (int) out[i]);
	}
	printf("]\n");
	tr_array_destroy(&arr);
	tr_value_destroy(&num);
	return 0;
}
