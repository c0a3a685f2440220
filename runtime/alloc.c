/* SPDX-License-Identifier: MIT */
/* All runtime allocation goes through here, so the fault suite can fail
 * the Nth allocation (-Dfault_injection=true).  malloc itself is jemalloc
 * in the default build (linked, it replaces the libc allocator). */
#include "alloc.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <protobuf-c/protobuf-c.h>

/* jemalloc reads its options from this symbol (then from MALLOC_CONF,
 * which overrides it).  One arena: an actor is a process with one thread
 * of its own plus ZeroMQ's, and in every fork child jemalloc re-creates
 * the locks of each arena the parent used, about ten copy-on-write page
 * faults per arena on every start (bench-supervisor's restart latency).
 * It takes effect when the program links libtroupe before jemalloc, as
 * pkg-config's order does; a program that defines its own wins.
 * Harmless without jemalloc.  Weak, so a static link with a program's own
 * definition is not an error. */
__attribute__((visibility("default"), weak)) const char *malloc_conf =
    "narenas:1";

#ifdef TR_FAULT_INJECTION
static long fail_countdown = -1;

void
tri_alloc_fail_after(long n)
{
	fail_countdown = n;
}

static bool
should_fail(void)
{
	if (fail_countdown < 0) {
		return false;
	}
	if (fail_countdown == 0) {
		return true;
	}
	fail_countdown--;
	return false;
}
#else
#define should_fail() false
#endif

void *
tri_alloc(size_t n)
{
	return should_fail() ? NULL : malloc(n);
}

void *
tri_calloc(size_t n, size_t m)
{
	return should_fail() ? NULL : calloc(n, m);
}

void *
tri_realloc(void *p, size_t n)
{
	return should_fail() ? NULL : realloc(p, n);
}

void
tri_free(void *p)
{
	free(p);
}

char *
tri_strdup(const char *s)
{
	size_t l = strlen(s) + 1;
	char  *d = tri_alloc(l);

	if (d) {
		memcpy(d, s, l);
	}
	return d;
}

static void *
pb_alloc(void *data, size_t size)
{
	(void) data;
	return tri_alloc(size);
}

static void
pb_free(void *data, void *p)
{
	(void) data;
	tri_free(p);
}

ProtobufCAllocator tri_pb_allocator = { pb_alloc, pb_free, NULL };
