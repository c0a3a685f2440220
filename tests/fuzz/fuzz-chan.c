/* SPDX-License-Identifier: MIT */
/* libFuzzer target: the same-host call channel's server side
 * (actors/chan.c), which reads a batch of request records a client wrote
 * into shared memory.  The input's first 12 bytes are the header's
 * req_len, req_flags and req_seq, the rest the request area; the batch is
 * published and taken.  Every request taken fits what was published;
 * afterwards the slot is free (IDLE) or answered (REPLY), never left
 * half-taken.  Never a crash, a leak or a read past the slot. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "chan-int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct tri_chan_srv  *cs;
static struct tri_chan_page *page;

static void
setup(void)
{
	int fd;

	tr_log_set_level(TR_LOG_ERROR); /* refusals are logged as warnings */
	if (tri_chan_srv_new(&cs, "trwire.MgrRequest") < 0) {
		abort();
	}
	fd = tri_chan_srv_open(cs, (tr_addr) { 0, 1, 1 });
	if (fd < 0) {
		abort();
	}
	page = mmap(
	    NULL, TRI_CHAN_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (page == MAP_FAILED) {
		abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *area;
	uint32_t h[3];
	size_t   n;
	tr_msg  *m;
	uint32_t st;

	if (!cs) {
		setup();
	}
	if (size < sizeof(h)) {
		return 0;
	}
	memcpy(h, data, sizeof(h));
	area = (uint8_t *) page + TRI_CHAN_HDR_SIZE;
	n    = size - sizeof(h);
	n    = n < TRI_CHAN_REQ_MAX ? n : TRI_CHAN_REQ_MAX;
	memcpy(area, data + sizeof(h), n);
	atomic_store(&page->req_len, h[0]);
	atomic_store(&page->req_flags, h[1]);
	atomic_store(&page->req_seq, h[2]);
	atomic_store(&page->state, TRI_CHAN_REQ);
	while (tri_chan_srv_take(cs, TR_ADDR_NULL, &m) == 1) {
		if (tr_msg_size(m) > h[0] || h[0] > TRI_CHAN_REQ_MAX) {
			abort(); /* more than was published */
		}
		/* an answered request left unanswered is answered -EPROTO */
		tri_chan_srv_forget(cs, m);
		tr_msg_destroy(&m);
	}
	st = atomic_load(&page->state);
	if (st != TRI_CHAN_IDLE && st != TRI_CHAN_REPLY) {
		abort();
	}
	atomic_store(&page->state, TRI_CHAN_IDLE);
	return 0;
}
