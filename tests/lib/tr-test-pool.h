/* SPDX-License-Identifier: MIT */
/* Task functions and helpers shared by the pool tests (tr-test-pool.c):
 *   "sq"        int64 x -> int64 x * x
 *   "neg_fails" int64 x -> x, or -EDOM ("negative item x") when x < 0,
 *               after sleeping |x| % 7 ms
 *   "sleep_ms"  int32 ms -> the worker's pid (int32) after sleeping ms
 *   "die"       int32 how: 1 SIGKILL itself, 2 SIGSEGV, 3 exit(3)
 *   "die_once"  a path: the first run creates it and SIGKILLs itself,
 *               later runs return the worker's pid
 *   "half"      double x -> x / 2
 *   "add"       a starmap tuple of two int64s -> their sum
 *   "toobig"    anything -> 8 KiB, after lowering the worker's maximum
 *               message size to 1 KiB (its answer cannot be sent)
 *   "echo"      anything -> itself
 *   "pid"       anything -> the worker's pid (int32)
 *   "init_val"  anything -> the text the initializer "set_val" was given
 * and the initializers "set_val" (keeps its argument) and "init_fails"
 * (fails with -EPERM). */
#ifndef TR_TEST_POOL_H
#define TR_TEST_POOL_H

#include <stddef.h>
#include <stdint.h>

#include "tr-test.h"
#include "troupe/pool.h"

/* GCC 12's ASan allocator is not fork-safe while other threads run: in
 * the sanitizer build "fork" means the forkserver (README, Sanitizers). */
#ifdef __SANITIZE_ADDRESS__
#define TR_TEST_POOL_FORK TR_START_FORKSERVER
#else
#define TR_TEST_POOL_FORK TR_START_FORK
#endif

/* The start methods, for tests that loop over them. */
extern const int tr_test_pool_methods[3];

/* n items pointing into vals (int64 each). */
void tr_test_pool_items(tr_pool_item *items, const int64_t *vals, size_t n);
/* Item i of r as an int64 / int32 (fails the test if not that size). */
int64_t tr_test_pool_i64(tr_pool_result *r, size_t i);
int32_t tr_test_pool_i32(tr_pool_result *r, size_t i);
/* A pool of n workers under method with retries (asserting success). */
tr_pool *tr_test_pool_new(int n, int method, int retries);

#endif /* TR_TEST_POOL_H */
