/* SPDX-License-Identifier: MIT */
/* The pool examples of PyMOTW's multiprocessing page: an initializer
 * that prints each worker's name, then the same with maxtasksperchild=2,
 * where the recycled workers' replacements print too:
 *
 *     def do_calculation(data):
 *         return data * 2
 *
 *     def start_process():
 *         print('Starting', multiprocessing.current_process().name)
 *
 *     inputs = list(range(10))
 *     print('Input   :', inputs)
 *     print('Built-in:', list(map(do_calculation, inputs)))
 *     pool = multiprocessing.Pool(processes=cpu_count() * 2,
 *                                 initializer=start_process,
 *                                 maxtasksperchild=2)  # the second run
 *     pool_outputs = pool.map(do_calculation, inputs)
 *     pool.close()  # no more tasks
 *     pool.join()   # wrap up current tasks
 *     print('Pool    :', pool_outputs)
 *
 * The workers are named by their supervisor: "worker.1", "worker.2", ... */
#include <stdio.h>
#include <string.h>

#include "troupe.h"

static int
do_calculation(const void *item, size_t len, tr_pool_out *out)
{
	int64_t x;

	if (len != sizeof(x)) {
		return -22; /* -EINVAL */
	}
	memcpy(&x, item, sizeof(x));
	x *= 2;
	return tr_pool_out_set(out, &x, sizeof(x));
}
TR_POOL_FN(do_calculation, do_calculation)

static int
start_process(const void *args, size_t len)
{
	printf("Starting %s\n", tr_self_name());
	fflush(stdout); /* a worker is stopped by a signal: no exit flush */
	return 0;
}
TR_POOL_INITIALIZER(start_process, start_process)

static void
print_list(const char *label, const int64_t *v, int n)
{
	printf("%s [", label);
	for (int i = 0; i < n; i++) {
		printf("%s%lld", i ? ", " : "", (long long) v[i]);
	}
	printf("]\n");
	fflush(stdout);
}

static int
run(int maxtasks)
{
	tr_pool_opts o    = { .processes = tr_cpu_count() * 2,
		   .initializer          = "start_process",
		   .maxtasksperchild     = maxtasks };
	tr_pool     *pool = NULL;
	int64_t      inputs[10], outputs[10];
	int          r;

	for (int i = 0; i < 10; i++) {
		inputs[i]  = i;
		outputs[i] = 2 * i; /* the built-in map */
	}
	print_list("Input   :", inputs, 10);
	print_list("Built-in:", outputs, 10);
	r = tr_pool_new(&pool, &o);
	if (r == 0) {
		r = tr_pool_map_int64(pool, "do_calculation", inputs, outputs,
		    10, 0, TR_TIMEOUT_INFINITE);
	}
	if (r == 0) {
		r = tr_pool_close(pool);
	}
	if (r == 0) {
		r = tr_pool_join(pool, TR_TIMEOUT_INFINITE);
	}
	tr_pool_destroy(&pool);
	if (r == 0) {
		print_list("Pool    :", outputs, 10);
	}
	return r;
}

int
main(int argc, char **argv)
{
	int r = tr_init(argc, argv);

	if (r == 0) {
		r = run(0);
	}
	if (r == 0) {
		r = run(2);
	}
	if (r < 0) {
		fprintf(stderr, "pool-init: %s\n", tr_strerror(r));
		return 1;
	}
	return 0;
}
