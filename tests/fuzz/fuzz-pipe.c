/* SPDX-License-Identifier: MIT */
/* libFuzzer target: a Pipe's receiving end reading what a broken or
 * hostile peer put in the shared memory (runtime/pipe.c's record
 * framing, runtime/pipe-ring.c's ring).  Input: one flags byte, then
 * records, each a 3-byte little-endian length (mod TRI_RECORD_MAX + 1)
 * and its bytes (zeros past the end of the input).  The records go on the
 * ring whole, as tri_link_write() puts them; with flag 1 the last 8 bytes
 * of the input then overwrite the ring's head word, as a peer scribbling
 * on the mapping would.  The receiver takes messages until the ring is
 * empty or the pipe reports the framing broken: it must never read
 * outside the ring, crash, leak or loop. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "msg.h"
#include "pipe-ring.h"
#include "pipe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t rec[TRI_RECORD_MAX];

/* Take what is there: 0 once the ring is empty, < 0 once it is broken. */
static int
drain(tr_pipe *rx)
{
	tr_msg *m;
	int     r;

	while ((r = tr_pipe_recv(rx, &m, 0)) == 0) {
		if (tr_msg_size(m) && !tr_msg_data(m)) {
			abort();
		}
		tr_msg_destroy(&m);
	}
	return r == -EAGAIN ? 0 : r;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	tr_pipe         *rx, *tx;
	struct tri_link *l;
	size_t           off    = 1;
	int              broken = 0;

	if (size < 1 || tr_pipe_new(false, &rx, &tx) < 0) {
		return 0;
	}
	l = tri_pipe_link(tx);
	while (!broken && off + 3 <= size) {
		size_t len = (size_t) data[off] | (size_t) data[off + 1] << 8 |
		    (size_t) data[off + 2] << 16;
		size_t       have;
		struct iovec iov;

		len %= TRI_RECORD_MAX + 1;
		off += 3;
		have = size - off < len ? size - off : len;
		memcpy(rec, data + off, have);
		memset(rec + have, 0, len - have);
		off += have;
		iov = (struct iovec) { rec, len };
		if (tri_link_write(l, &iov, 1) == -EAGAIN) {
			broken = drain(rx) < 0;
			if (!broken && tri_link_write(l, &iov, 1) < 0) {
				abort(); /* an empty ring takes any record */
			}
		}
	}
	if (!broken && (data[0] & 1) && size >= 9) {
		/* the ring's head is the first word of its header page */
		memcpy((void *) l->tx, data + size - 8, 8);
	}
	if (!broken) {
		(void) drain(rx);
	}
	tr_pipe_destroy(&rx);
	tr_pipe_destroy(&tx);
	return 0;
}
