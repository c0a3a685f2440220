/* SPDX-License-Identifier: MIT */
/* The runtime-to-runtime protocol (docs/protocol.md §7): the exit
 * handshake (Fin, answered FinAck once what the sender sent before is
 * queued), links (Link, answered LinkAck; Unlink) and the answers this
 * process got.  Answers leave on throwaway sockets and never block. */
#ifndef TRI_PROTOCOL_H
#define TRI_PROTOCOL_H

#include <stdbool.h>
#include <stddef.h>

#include <protobuf-c/protobuf-c.h>

#include "msg.h"

/* The system message types a mailbox accepts from the wire. */
bool tri_proto_accepts(const char *type);
/* Act on system message m (consumed): Fin senders are appended to
 * finacks (the caller answers them with tri_proto_send_finack() once what
 * came before is queued).  TR_EBADFRAME if it does not decode. */
int  tri_proto_handle(tr_msg *m, tr_addr *finacks, size_t *nfin);
void tri_proto_send_finack(tr_addr to);
/* Send system message pb to `to` on a throwaway socket (as the answers
 * are): never blocks; a recipient that is gone loses it. */
void tri_proto_send(tr_addr to, const ProtobufCMessage *pb);
/* Links the actor's thread read wait for the runtime thread: run them. */
void tri_proto_apply_deferred(void);

enum tri_ack_kind { TRI_ACK_FIN, TRI_ACK_LINK };
/* The peer at a answered our Fin or Link; consume forgets the answer. */
bool tri_proto_acked(tr_addr a, int kind, bool consume);
/* Drop what is recorded (the mailbox closed, or a fork child). */
void tri_proto_forget(void);

#endif /* TRI_PROTOCOL_H */
