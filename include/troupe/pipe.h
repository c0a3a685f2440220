/* SPDX-License-Identifier: MIT */
#ifndef TR_PIPE_H
#define TR_PIPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "troupe/common.h"
#include "troupe/msg.h"
#include "troupe/process.h"

#ifdef __cplusplus
extern "C" {
#endif

/* tr_pipe -- one end of a point-to-point connection between two processes
 * of this host, like the Connection objects of Python's
 * multiprocessing.Pipe().  No broker: messages go through two rings in
 * shared memory (a memfd mapped by both ends, 512 KiB each way), and a
 * SOCK_SEQPACKET socketpair beside them carries only wake-ups and tells
 * each end when the other is gone (docs/protocol.md, "Pipe").
 *
 * Messages are a payload and its type name, as in a tr_msg: raw bytes
 * (type "") or a packed protobuf message (type = its full name); a tr_msg
 * sent with tr_pipe_send() comes out of tr_pipe_recv() with the same type
 * and payload (sender, ids and trace context are not carried).  Boundaries
 * are kept exactly: a message is never split or merged with another, an
 * empty message is a message, and messages of any size up to
 * TR_PIPE_MAX_SIZE travel (large ones in records of 64 KiB that the
 * receiver puts back together).  A message is delivered whole or not at
 * all: if its sender dies (or its send times out) half way through, the
 * receiver never sees a part of it.  Messages arrive in the order sent.
 *
 * End of file: once no process holds the other end any more -- destroyed,
 * or every holder ended, however it ended (SIGKILL too) -- a receive still
 * gets each message sent before, then -EPIPE at once, never a hang.  A send
 * then gets -EPIPE (never SIGPIPE): at once when the peer end was
 * destroyed or while its reader waits, and otherwise (its holder died
 * while busy) within a millisecond, or as soon as the pipe is full.
 * Messages a send accepted before the peer died are lost with it, as with
 * any pipe.
 *
 * A waiting receive first looks again for up to 20 us (yielding the CPU)
 * before it sleeps, so a peer that answers at once is not paid for with a
 * sleep and a wake-up; a sleeping one wakes at least every 100 ms to look
 * at the ring.
 *
 * Handing an end to a child: tr_process_pass_pipe() before
 * tr_process_start(), tr_pipe_inherit() in the child.  This works the same
 * under every start method (fork keeps the descriptors, spawn puts them at
 * numbers the child is told, the forkserver receives them with
 * SCM_RIGHTS).  A child started by troupe gets no other pipe end: ends not
 * handed over never leak into children, so the end of file of a pipe is
 * exact.  After the start, the starter still holds its copy of the handed
 * end: destroy it, or the child's peer never sees end of file while the
 * starter lives (as in Python).  A raw fork() of the user's own keeps
 * every end.
 *
 * An end belongs to one thread of one process, the one that made or
 * inherited it; in any other process every call returns -ECHILD (and
 * tr_pipe_destroy() frees the memory only).  Two processes must not read
 * (or write) one end at once: hand an end over instead of sharing it.
 * (Polling a shared end in one process while another reads it takes
 * nothing from the reader, but may make its wait up to 100 ms late.) */
typedef struct tr_pipe tr_pipe;

/* Largest payload a pipe carries (1 GiB).  A larger send is TR_ETOOBIG;
 * a peer announcing a larger message breaks the pipe (TR_EBADFRAME). */
#define TR_PIPE_MAX_SIZE ((size_t) 1 << 30)

/* Most pipe ends one child can be handed (tr_process_pass_pipe()). */
#define TR_PIPE_PASS_MAX 8

/* Make a pipe: *ret_a and *ret_b get the two ends, owned by the caller
 * (tr_pipe_destroy()).  duplex: both ends send and receive.  Not duplex:
 * as Python, *ret_a only receives and *ret_b only sends (the other
 * direction fails with -EBADF).  Errors: -EINVAL, -ENOMEM, -EMFILE,
 * -ENFILE. */
TR_API int tr_pipe_new(bool duplex, tr_pipe **ret_a, tr_pipe **ret_b);

/* Close the end and free the handle; NULL-safe, idempotent, sets *pp to
 * NULL.  The peer sees end of file once no process holds this end any
 * more.  A message this end had partly received is dropped. */
TR_API void tr_pipe_destroy(tr_pipe **pp);

/* Send *msgp (its type and payload), waiting up to timeout_ms while the
 * pipe is full (the peer is not reading).  Returns once the message is in
 * the pipe, not once it was received.  On success *msgp is NULL (the pipe
 * took it); on failure the caller still owns it.  A message over 64 KiB
 * goes in several records: if the timeout ends after the first, the send
 * returns -ETIMEDOUT and the receiver drops the part it got (the next send
 * tells it), so nothing partial is ever delivered.
 * Errors: -EINVAL, -EBADF (a receive-only end), -EPIPE (the peer end is
 * closed or its process died), -EAGAIN (timeout 0 and full), -ETIMEDOUT,
 * TR_ETOOBIG, -ECHILD, -errno. */
TR_API int tr_pipe_send(tr_pipe *p, tr_msg **msgp, int timeout_ms);

/* Send a copy of len bytes at data (data may be NULL when len is 0) as a
 * raw-bytes message.  Waiting and errors as tr_pipe_send(). */
TR_API int tr_pipe_send_bytes(
    tr_pipe *p, const void *data, size_t len, int timeout_ms);

/* Pack the protobuf-c message pb and send it (pb stays the caller's).
 * Waiting and errors as tr_pipe_send(), and -ENOMEM. */
TR_API int tr_pipe_send_pb(
    tr_pipe *p, const struct ProtobufCMessage *pb, int timeout_ms);

/* Take the next message into *ret (the caller owns it: tr_msg_destroy()),
 * waiting up to timeout_ms.  tr_msg_type() and tr_msg_data() give what was
 * sent; tr_msg_unpack() decodes a protobuf payload.  Errors: -EINVAL,
 * -EBADF (a send-only end), -EAGAIN (timeout 0, nothing there),
 * -ETIMEDOUT, -EPIPE (end of file: the peer end is closed and every
 * message it sent was taken), TR_EBADFRAME (the peer broke the framing;
 * the pipe is unusable from then on, every later call returns it),
 * -ENOMEM (the message stays in the pipe), -ECHILD, -errno. */
TR_API int tr_pipe_recv(tr_pipe *p, tr_msg **ret, int timeout_ms);

/* Take the next message's payload into buf (room for cap bytes; buf may
 * be NULL when cap is 0) and its length into *ret_len, waiting up to
 * timeout_ms.  The type name is not checked: a protobuf message gives its
 * packed bytes.  If the payload is longer than cap, the call fails with
 * -EMSGSIZE and loses nothing: the message stays first in line, and
 * *ret_len says its length (this one error writes *ret_len), so the
 * caller can retry with a larger buffer (Python raises BufferTooShort).
 * Errors as tr_pipe_recv(), and -EMSGSIZE. */
TR_API int tr_pipe_recv_bytes(
    tr_pipe *p, void *buf, size_t cap, size_t *ret_len, int timeout_ms);

/* Whether a receive would return at once: 1 if a message (or end of file,
 * or a broken pipe) is waiting -- for a message over 64 KiB, once its
 * first part came -- 0 if nothing came within timeout_ms.  Takes
 * nothing out of the pipe: a poll in one process never takes a message
 * away from a receive in another.  Errors: -EINVAL, -EBADF (a send-only
 * end), -ECHILD, -errno. */
TR_API int tr_pipe_poll(tr_pipe *p, int timeout_ms);

/* The end's socket; borrowed: valid until destroy.  It is readable when
 * the peer is gone, but when a message comes only while a receive, poll
 * or tr_wait() on this end is waiting (messages do not go through it): to
 * wait on a pipe beside descriptors, the mailbox or other pipes, use
 * tr_wait().  Reading or writing it directly loses wake-ups.  -EINVAL,
 * -ECHILD in another process. */
TR_API int tr_pipe_fileno(tr_pipe *p);

/* What the end may do. */
TR_API bool tr_pipe_readable(const tr_pipe *p);
TR_API bool tr_pipe_writable(const tr_pipe *p);

/* Hand end to the child p, which must not be started yet: the child gets
 * its own copy of the end (the caller keeps end, see above).  Returns the
 * slot to pass to tr_pipe_inherit() in the child, e.g. in its arguments:
 * 0 for the first end handed to p, then 2, 4, ... (an end is two
 * descriptors).  Does not block.  Errors: -EINVAL, -EBUSY (p already
 * started, or end holds part of a large message it is receiving, which
 * would not go with it), -ENOSPC (TR_PIPE_PASS_MAX ends already),
 * -ENOMEM, -EMFILE, -ECHILD. */
TR_API int tr_process_pass_pipe(tr_process *p, tr_pipe *end);

/* In a child: take the end handed over in slot (tr_process_pass_pipe()'s
 * result) into *ret, owned by the caller.  Each slot can be taken once.
 * Errors: -EINVAL, TR_ENOTFOUND (no pipe end in that slot, or taken
 * already), -ENOMEM. */
TR_API int tr_pipe_inherit(int slot, tr_pipe **ret);

#ifdef __cplusplus
}
#endif

#endif /* TR_PIPE_H */
