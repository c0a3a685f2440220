/* SPDX-License-Identifier: MIT */
/* tr_call_pb() and tr_reply_pb() (troupe/msg.h): tr_call() and tr_reply()
 * with protobuf-c messages in and out, which every actor that serves or
 * calls a protobuf protocol would otherwise write for itself. */
#include "troupe/msg.h"

#include <errno.h>

#include <protobuf-c/protobuf-c.h>

#include "log.h"

int
tr_call_pb(tr_addr to, const ProtobufCMessage *req,
    const ProtobufCMessageDescriptor *reply_desc, ProtobufCMessage **ret_reply,
    int timeout_ms)
{
	ProtobufCMessage *pb;
	tr_msg           *m, *reply;
	int               r;

	tr_assert_return(req && reply_desc && ret_reply, -EINVAL);

	/* before sending: a reply of an unregistered type would be dropped */
	r = tr_msg_type_register(reply_desc);
	if (r < 0) {
		return r;
	}
	r = tr_msg_new_pb(&m, req);
	if (r < 0) {
		return r;
	}
	r = tr_call(to, &m, &reply, timeout_ms);
	tr_msg_destroy(&m);
	if (r < 0) {
		return r;
	}
	r = tr_msg_unpack(reply, reply_desc, &pb);
	tr_msg_destroy(&reply);
	if (r < 0) {
		return r;
	}
	*ret_reply = pb;
	return 0;
}

int
tr_reply_pb(const tr_msg *req, const ProtobufCMessage *reply, int timeout_ms)
{
	tr_msg *m;
	int     r;

	tr_assert_return(req && reply, -EINVAL);

	r = tr_msg_new_pb(&m, reply);
	if (r < 0) {
		return r;
	}
	r = tr_reply(req, &m, timeout_ms);
	tr_msg_destroy(&m);
	return r;
}
