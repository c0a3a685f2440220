/* SPDX-License-Identifier: MIT */
/* The runtime's allocator, with countdown failures under
 * -Dfault_injection=true.  Not installed. */
#ifndef TRI_ALLOC_H
#define TRI_ALLOC_H

#include <stddef.h>

void *tri_alloc(size_t n);
void *tri_calloc(size_t n, size_t m);
void *tri_realloc(void *p, size_t n);
void  tri_free(void *p);
char *tri_strdup(const char *s);
struct ProtobufCAllocator;
extern struct ProtobufCAllocator tri_pb_allocator;
#ifdef TR_FAULT_INJECTION
void tri_alloc_fail_after(long n); /* -1 = never */
#endif

#endif /* TRI_ALLOC_H */
