/* SPDX-License-Identifier: MIT */
#ifndef TR_MSG_H
#define TR_MSG_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "troupe/common.h"
#include "troupe/process.h"

#ifdef __cplusplus
extern "C" {
#endif

struct ProtobufCMessage;
struct ProtobufCMessageDescriptor;

/* ---- addresses ------------------------------------------------------------
 * An actor's address names its node (0 = this run on this host), its pid
 * and its incarnation (the process's start time in clock ticks since boot),
 * so a message meant for an actor that died can never reach a later
 * process that reuses the pid, or the restarted actor.  A value, copied
 * freely; it never dangles: sending to a dead actor fails with -ESRCH. */
typedef struct tr_addr {
	uint32_t node;
	uint32_t pid;
	uint64_t incarnation;
} tr_addr;

#define TR_ADDR_NULL ((tr_addr) { 0, 0, 0 })
/* Room for the text form "node.pid.incarnation" plus NUL. */
#define TR_ADDR_STRLEN 48

/* Text form, "0.4242.1234567": writes at most n bytes, returns buf. */
TR_API char *tr_addr_format(tr_addr a, char *buf, size_t n);
/* Parse the text form.  Errors: TR_EBADADDR, -EINVAL. */
TR_API int  tr_addr_parse(const char *text, tr_addr *ret);
TR_API bool tr_addr_eq(tr_addr a, tr_addr b);
TR_API bool tr_addr_is_null(tr_addr a);
/* True if the actor at a is running now (local actors only). */
TR_API bool tr_addr_is_alive(tr_addr a);

/* This process's address.  Its mailbox is bound on first use (tr_recv,
 * tr_poll, tr_call, tr_self_bind()); senders wait for it until their
 * timeout.  Returns TR_ADDR_NULL before tr_init(). */
TR_API tr_addr tr_self(void);
/* Bind this process's mailbox now.  Errors: -errno or zmq's. */
TR_API int tr_self_bind(void);
/* Address of a started child.  Errors: -EINVAL (not started), -ESRCH. */
TR_API int tr_process_addr(tr_process *p, tr_addr *ret);

/* ---- messages -------------------------------------------------------------
 * A tr_msg is an envelope (sender, ids, payload type, trace context) and a
 * payload: raw bytes (type "") or a packed protobuf-c message (type = its
 * full name).  The payload buffer is handed to ZeroMQ without another
 * copy.  A tr_msg belongs to one thread. */
typedef struct tr_msg tr_msg;

/* New message with a copy of data (NULL only with len 0).  Errors:
 * -EINVAL, -ENOMEM. */
TR_API int tr_msg_new_bytes(tr_msg **ret, const void *data, size_t len);
/* New message holding data without copying; free_fn(data, hint) is called
 * when the transport is done with it (possibly from a ZeroMQ thread). */
TR_API int tr_msg_new_take(tr_msg **ret, void *data, size_t len,
    void (*free_fn)(void *data, void *hint), void *hint);
/* New message packing a protobuf-c message (packed once, straight into
 * the buffer that is sent).  Errors: -EINVAL, -ENOMEM, TR_ETOOBIG. */
TR_API int tr_msg_new_pb(tr_msg **ret, const struct ProtobufCMessage *pb);
/* Set the payload type name (copied; "" = raw bytes, else a protobuf full
 * name, fewer than 128 bytes), for relaying a payload packed elsewhere (a
 * queue's items).  The payload is not checked against it: tr_msg_unpack()
 * does that.  Errors: -EINVAL (NULL or too long). */
TR_API int tr_msg_set_type(tr_msg *m, const char *type);
/* Release; NULL-safe, idempotent, sets *mp to NULL. */
TR_API void tr_msg_destroy(tr_msg **mp);

/* Payload bytes (borrowed, valid until destroy) and size. */
TR_API const void *tr_msg_data(const tr_msg *m);
TR_API size_t      tr_msg_size(const tr_msg *m);
/* Payload type: "" for raw bytes, else the protobuf full name (borrowed). */
TR_API const char *tr_msg_type(const tr_msg *m);
TR_API tr_addr     tr_msg_sender(const tr_msg *m);
TR_API uint64_t    tr_msg_id(const tr_msg *m);
TR_API uint64_t    tr_msg_correlation(const tr_msg *m);
TR_API void        tr_msg_set_correlation(tr_msg *m, uint64_t id);
/* Lamport clock value the message carried. */
TR_API uint64_t tr_msg_lamport(const tr_msg *m);
/* True for runtime messages (DOWN, EXIT): type "trwire.Down"/"trwire.Exit". */
TR_API bool tr_msg_is_system(const tr_msg *m);
/* Unpack the payload with descriptor d into *ret (free it with
 * protobuf_c_message_free_unpacked(*ret, NULL)).  Errors: TR_EBADTYPE
 * (the type name is not d's), TR_EBADFRAME (does not decode), -ENOMEM. */
TR_API int tr_msg_unpack(const tr_msg       *m,
    const struct ProtobufCMessageDescriptor *d, struct ProtobufCMessage **ret);

/* Accept payloads of this protobuf type in this process's mailbox (and,
 * if called before tr_init() or at load time, in every child).  Messages
 * of unregistered types are dropped, counted and logged.  Errors:
 * -EINVAL, -ENOMEM. */
TR_API int tr_msg_type_register(const struct ProtobufCMessageDescriptor *d);

/* ---- sending and receiving ------------------------------------------------
 */

/* Send *msgp to `to`, waiting up to timeout_ms while its mailbox is full
 * or not yet bound.  Messages from one sender to one recipient arrive in
 * the order sent.  On success the runtime owns the message and *msgp is
 * NULL; on failure the caller still owns it.  Errors: -ESRCH (no such
 * actor, or it died), TR_EFULL (its mailbox stayed full), -ETIMEDOUT (it
 * never bound its mailbox), -EAGAIN (timeout 0 and it would block),
 * -EINVAL, TR_EBADADDR (a remote node), TR_ETOOBIG (payload over the
 * maximum set with tr_mailbox_set_max_size()). */
TR_API int tr_send(tr_addr to, tr_msg **msgp, int timeout_ms);
/* tr_send() of a copy of data as raw bytes. */
TR_API int tr_send_bytes(
    tr_addr to, const void *data, size_t len, int timeout_ms);

/* Take the oldest message into *ret (the caller owns it).  DOWN and EXIT
 * notices arrive here too.  Errors: -ETIMEDOUT (-EAGAIN for timeout 0),
 * -EINTR, -ECHILD, -errno from binding the mailbox. */
TR_API int tr_recv(tr_msg **ret, int timeout_ms);

/* Selective receive: take the first message for which match(m, arg) is
 * true, leaving the others queued in order.  Errors as tr_recv(). */
typedef bool (*tr_match_fn)(const tr_msg *m, void *arg);
TR_API int tr_recv_match(
    tr_msg **ret, tr_match_fn match, void *arg, int timeout_ms);

/* Request/reply: send *reqp to `to` and wait for the reply (matched by a
 * fresh correlation id) up to timeout_ms, while watching `to` for death.
 * Ownership of *reqp as tr_send().  A reply arriving after the call gave
 * up is discarded (counted), never delivered to a later call.  Errors:
 * tr_send()'s, -ETIMEDOUT, TR_EDEAD (the callee died before replying). */
TR_API int tr_call(
    tr_addr to, tr_msg **reqp, tr_msg **ret_reply, int timeout_ms);
/* Answer request req with *replyp (ownership as tr_send()). */
TR_API int tr_reply(const tr_msg *req, tr_msg **replyp, int timeout_ms);

/* tr_call() with protobuf-c messages: pack req, call `to`, wait up to
 * timeout_ms, and unpack the reply with reply_desc into *ret_reply (set
 * only on success; the caller frees it with
 * protobuf_c_message_free_unpacked(*ret_reply, NULL)).  req stays the
 * caller's.  reply_desc is registered in this process first
 * (tr_msg_type_register()), so its replies are not dropped.  Blocks and
 * watches `to` for death as tr_call().  Errors: -EINVAL, -ENOMEM,
 * TR_ETOOBIG, tr_call()'s (-ESRCH, TR_EFULL, -ETIMEDOUT, TR_EDEAD, ...),
 * TR_EBADTYPE (the reply is not a reply_desc, e.g. raw bytes),
 * TR_EBADFRAME (it does not decode). */
TR_API int tr_call_pb(tr_addr to, const struct ProtobufCMessage *req,
    const struct ProtobufCMessageDescriptor *reply_desc,
    struct ProtobufCMessage **ret_reply, int timeout_ms);
/* Answer request req with the protobuf-c message reply, packed into a new
 * message (reply stays the caller's).  Blocks as tr_reply().  Errors:
 * -EINVAL, -ENOMEM, TR_ETOOBIG, tr_reply()'s. */
TR_API int tr_reply_pb(
    const tr_msg *req, const struct ProtobufCMessage *reply, int timeout_ms);

/* Wait up to timeout_ms until a message is waiting or one of fds is ready
 * (revents set as poll(2)).  Returns the number of ready sources, the
 * mailbox counting as one (and *ret_mailbox true), 0 on timeout. */
TR_API int tr_poll(
    struct pollfd *fds, size_t nfds, bool *ret_mailbox, int timeout_ms);

/* ---- monitors and links ---------------------------------------------------
 */

/* How an actor ended (DESIGN.md): exit 0 is normal; SIGTERM, SIGINT,
 * SIGHUP, SIGPIPE are shutdown; anything else abnormal. */
enum tr_exit_class {
	TR_EXIT_NORMAL   = 0,
	TR_EXIT_SHUTDOWN = 1,
	TR_EXIT_ABNORMAL = 2,
	TR_EXIT_NOPROC   = 3, /* was not alive when monitored */
	TR_EXIT_UNKNOWN  = 4, /* died; its status could not be learnt */
	/* its node was lost (killed, cut off, stopped): the actor's own state
	 * is unknown, it may still run (troupe/node.h) */
	TR_EXIT_NOCONNECTION = 5,
};

typedef struct tr_down {
	uint64_t ref; /* the monitor's reference (0 for EXIT) */
	tr_addr  who;
	int      exitcode; /* Python's: >= 0 status, < 0 -signal */
	int      exit_class;
} tr_down;

/* Monitor `who`: when it ends (even by SIGKILL) a "trwire.Down" message
 * arrives in this mailbox; if it is already dead, at once (class
 * TR_EXIT_NOPROC).  Each call is a separate monitor.  Errors: -EINVAL,
 * -ENOMEM, -EMFILE. */
TR_API int tr_monitor(tr_addr who, uint64_t *ret_ref);
/* Remove a monitor; a DOWN already queued is removed too.  TR_ENOTFOUND. */
TR_API int tr_demonitor(uint64_t ref);

/* Link with `who`, both ways.  When either ends abnormally or by
 * shutdown, the other ends too (exit code 1, or SIGTERM for shutdown),
 * unless it traps exits: then it gets a "trwire.Exit" message.  Exits are
 * acted on at once by the runtime thread, while the actor's code runs (a
 * crash-like exit: no atexit handlers).  Blocks until the peer's runtime
 * confirmed the link (at most 5 s; a peer without a mailbox, or with a
 * full one, cannot confirm: the link then acts on our side only).  Errors:
 * -ESRCH (not alive), -EINVAL, -ENOMEM. */
TR_API int  tr_link(tr_addr who);
TR_API int  tr_unlink(tr_addr who);
TR_API void tr_trap_exit(bool on);

/* Decode a DOWN or EXIT message.  Errors: TR_EBADTYPE. */
TR_API int tr_msg_down(const tr_msg *m, tr_down *ret);
/* "normal", "shutdown", "abnormal", "noproc", "unknown", "noconnection". */
TR_API const char *tr_exit_class_name(int exit_class);
/* Classify a Python-style exit code. */
TR_API int tr_exit_classify(int exitcode);

/* ---- names ----------------------------------------------------------------
 */

/* Most names one process may hold at once.  Erlang allows one name per
 * process; a handful covers an actor known by a role and an alias or two,
 * and a process that needs more is a registry and should keep its own
 * table.  The names live in a fixed table, so it costs no allocation. */
#define TR_REGISTER_MAX 16

/* Register this process under name (letters, digits, "._-", at most 63
 * bytes) in this run.  The name is freed when the process ends, however
 * it ends.  A name whose holder has died is taken over; when many actors
 * race for a free or stale name, exactly one wins and the others get
 * TR_EEXISTS.  Registering a name this process already holds returns 0.
 * Does not block beyond a short file lock.  Errors: TR_EEXISTS (held by a
 * live actor), -ENOSPC (this process already holds TR_REGISTER_MAX names;
 * tr_unregister() one to free a slot), -EINVAL, TR_ENOTINIT, -errno from
 * the runtime directory. */
TR_API int tr_register(const char *name);
/* Give up a name this process holds, freeing its slot.  Errors:
 * TR_ENOTFOUND (not held by this process), -EINVAL. */
TR_API int tr_unregister(const char *name);
/* Address registered under name.  Errors: TR_ENOTFOUND, -EINVAL. */
TR_API int tr_whereis(const char *name, tr_addr *ret);

/* ---- limits and counters --------------------------------------------------
 */

/* Mailbox capacity in messages (default 1000): the actor's queue holds at
 * most this many (twice that while it waits in tr_call()), then the
 * runtime thread stops reading and senders block, then get TR_EFULL.
 * Also the ZeroMQ high-water mark on both ends, for sockets made after
 * the call. */
TR_API int tr_mailbox_set_capacity(int messages);
/* Largest payload accepted (default 64 MiB): larger ones arriving are
 * dropped, counted and logged; tr_send() refuses to send them.  As a
 * memory guard against raw peers, libzmq closes the connection of a peer
 * that sends more than twice this plus 1 MiB in one frame. */
TR_API int tr_mailbox_set_max_size(size_t bytes);
/* How long exit waits for each live recipient to take in what this
 * process sent (the exit handshake).  Default TR_TIMEOUT_INFINITE: as long
 * as the recipient lives.  A finite linger may lose messages to a
 * recipient whose queue stays full; the loss is logged.  -EINVAL for
 * other negative values. */
TR_API int tr_mailbox_set_linger(int ms);

typedef struct tr_mailbox_stats {
	uint64_t sent;
	uint64_t received;          /* delivered into the queue */
	uint64_t dropped_malformed; /* bad frames or envelope */
	uint64_t dropped_badtype;   /* unregistered payload type */
	uint64_t dropped_toobig;
	uint64_t dropped_stale; /* meant for another incarnation */
	uint64_t dropped_late_reply;
	uint64_t queued; /* waiting now in the receive queue */
} tr_mailbox_stats;

TR_API int tr_mailbox_stats_get(tr_mailbox_stats *ret);

#ifdef __cplusplus
}
#endif

#endif /* TR_MSG_H */
