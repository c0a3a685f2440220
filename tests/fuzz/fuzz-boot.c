/* SPDX-License-Identifier: MIT */
/* libFuzzer target: the boot record a spawned child reads (TROUPE_BOOT
 * names the descriptor it comes on; runtime/runtime.c tri_boot_decode()).
 * What decodes re-encodes and decodes to the same record. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "runtime.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
same(const struct tri_boot *a, const struct tri_boot *b)
{
	if (strcmp(a->actor, b->actor) || strcmp(a->name, b->name) ||
	    strcmp(a->identity, b->identity) || strcmp(a->rundir, b->rundir) ||
	    a->daemon != b->daemon || a->parent != b->parent ||
	    a->ignored != b->ignored || a->log_level != b->log_level ||
	    a->eager_mailbox != b->eager_mailbox || a->npass != b->npass ||
	    a->len != b->len || memcmp(a->args, b->args, a->len + 1)) {
		return 0;
	}
	for (size_t i = 0; i < a->npass; i++) {
		if (a->pass_fd[i] != b->pass_fd[i] ||
		    a->pass_tag[i] != b->pass_tag[i]) {
			return 0;
		}
	}
	return 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tri_boot b, again;
	uint8_t        *buf;
	size_t          n;

	memset(&b, 0, sizeof(b));
	memset(&again, 0, sizeof(again));
	if (tri_boot_decode(data, size, &b) < 0) {
		tri_boot_free(&b);
		return 0;
	}
	if (tri_boot_encode(&b, &buf, &n) < 0) {
		abort();
	}
	if (tri_boot_decode(buf, n, &again) < 0 || !same(&b, &again)) {
		abort();
	}
	tri_free(buf);
	tri_boot_free(&b);
	tri_boot_free(&again);
	return 0;
}
