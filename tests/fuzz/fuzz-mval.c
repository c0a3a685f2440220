/* SPDX-License-Identifier: MIT */
/* libFuzzer target: the Manager's hand-written value codec
 * (actors/manager-codec.c), which decodes the packed MgrValue in every
 * Manager request and reply (a key, a value, an initial value, a delta).
 * Any bytes into tri_mval_unpack(): it refuses them (TR_EBADFRAME) or
 * yields a value no deeper than TR_MVAL_MAX_DEPTH that protobuf-c would
 * have accepted too (the codec is never more lenient); what decodes packs
 * to bytes that decode again and pack to the same bytes, a deep copy packs
 * the same, and repr() works on it.  Never a crash, a leak or a deep
 * recursion (ASan's stack bound). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "manager-int.h"
#include "manager.pb-c.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* v packed; aborts if packing fails (it only can for want of memory). */
static uint8_t *
pack(const tr_mval *v, size_t *len)
{
	uint8_t *p;

	if (tri_mval_pack(v, &p, len) < 0) {
		abort();
	}
	return p;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	tr_mval          *v = NULL, *again = NULL, *copy;
	Trwire__MgrValue *pb;
	uint8_t          *p1, *p2, *p3;
	size_t            n1, n2, n3;
	char             *repr;
	int               r;

	r = tri_mval_unpack(data, size, &v);
	if (r < 0) {
		if (r != TR_EBADFRAME || v) {
			abort(); /* only bad input here: no -ENOMEM, no value */
		}
		return 0;
	}
	if (!v || v->depth > TR_MVAL_MAX_DEPTH) {
		abort();
	}
	/* never more lenient than protobuf-c */
	pb = trwire__mgr_value__unpack(NULL, size, data);
	if (!pb) {
		abort();
	}
	trwire__mgr_value__free_unpacked(pb, NULL);

	p1 = pack(v, &n1);
	if (tri_mval_unpack(p1, n1, &again) != 0) {
		abort(); /* what we wrote, we refuse */
	}
	p2 = pack(again, &n2);
	if (n1 != n2 || memcmp(p1, p2, n1) != 0) {
		abort(); /* packing is not stable */
	}
	pb = trwire__mgr_value__unpack(NULL, n1, p1);
	if (!pb) {
		abort(); /* we write what protobuf-c cannot read */
	}
	trwire__mgr_value__free_unpacked(pb, NULL);
	copy = tr_mval_copy(v);
	if (!copy) {
		abort();
	}
	p3 = pack(copy, &n3);
	if (n3 != n1 || memcmp(p1, p3, n1) != 0) {
		abort(); /* the copy differs */
	}
	repr = tr_mval_repr(v);
	if (!repr) {
		abort();
	}
	free(repr);
	free(p1);
	free(p2);
	free(p3);
	tr_mval_destroy(&copy);
	tr_mval_destroy(&again);
	tr_mval_destroy(&v);
	return 0;
}
