/* SPDX-License-Identifier: MIT */
/* The transport under a tr_pipe: two rings in shared memory (a memfd
 * mapped by both ends), one per direction, carrying records; and a
 * SOCK_SEQPACKET socketpair that carries only wake-ups ("W") and tells
 * each end when the other is gone (end of file, EPIPE).  A record is
 * published whole (the ring's head moves after it is written), so a
 * writer killed half way leaves nothing visible.  Not installed. */
#ifndef TRI_PIPE_RING_H
#define TRI_PIPE_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define TRI_RING_SIZE ((size_t) 512 * 1024) /* bytes of records a way */

struct tri_ring; /* in the shared mapping */

/* One end's view: it sends on tx and receives on rx. */
struct tri_link {
	int              fd;     /* the socket */
	int              shm_fd; /* the memfd, kept to hand the end over */
	int              side;   /* 0 or 1: which ring is tx */
	void            *map;
	struct tri_ring *tx, *rx;
	int64_t          next_check_ns; /* of the peer's liveness */
	bool             eof;           /* the socket said: peer gone */
};

/* Make both ends (their descriptors O_CLOEXEC).  -errno. */
int tri_link_pair(struct tri_link *a, struct tri_link *b);
/* An end from its two descriptors (handed over) and its side; takes
 * them on success.  -errno, TR_EBADFRAME (not a pipe's memfd). */
int tri_link_open(struct tri_link *l, int fd, int shm_fd, int side);
/* Unmap; close the descriptors only if close_fds (not in a fork child's
 * copy).  A closing end asks for a wake-up: the peer's next send then
 * learns at once that it is gone. */
void tri_link_close(struct tri_link *l, bool close_fds);

/* Largest record. */
#define TRI_RECORD_MAX ((size_t) 64 * 1024 + 256)

/* Write one record gathered from iov (at most TRI_RECORD_MAX bytes):
 * 0, -EAGAIN (no room now: nothing written), -EPIPE (peer gone). */
int tri_link_write(struct tri_link *l, const struct iovec *iov, int niov);
/* Wait until there is room for a record of len bytes: 0 (room, maybe),
 * -EAGAIN (timeout 0), -ETIMEDOUT, -EPIPE, -errno. */
int tri_link_wait_room(
    struct tri_link *l, size_t len, int64_t deadline, int timeout_ms);

/* The next record's length into *ret_len: 1, 0 if none, TR_EBADFRAME
 * (the shared memory does not hold a valid record). */
int tri_link_peek(struct tri_link *l, size_t *ret_len);
/* Copy n bytes from offset off of the next record. */
void tri_link_copy(struct tri_link *l, size_t off, void *dst, size_t n);
/* Drop the next record, of len bytes. */
int tri_link_consume(struct tri_link *l, size_t len);
/* Wait until a record may be there: 0, -EAGAIN (timeout 0), -ETIMEDOUT,
 * -EPIPE (end of file: the peer is gone and nothing is left), -errno. */
int tri_link_wait_data(struct tri_link *l, int64_t deadline, int timeout_ms);
/* Whether a record is there or end of file came, without waiting: for
 * tr_wait(), after prepare_wait() and a poll of l->fd. */
bool tri_link_ready(struct tri_link *l);
/* Before polling l->fd for data elsewhere (tr_wait()): ask for a wake-up
 * and drop stale ones.  Returns tri_link_ready(). */
bool tri_link_prepare_wait(struct tri_link *l);

#endif /* TRI_PIPE_RING_H */
