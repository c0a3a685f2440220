/* SPDX-License-Identifier: MIT */
#include <string.h>

#include <zmq.h>

#include "troupe/common.h"

const char *
tr_strerror(int err)
{
	switch (err) {
#define TR_ERRNO_CASE(name, num, text) \
	case TR_E##name:               \
		return text;
		TR_ERRNO_MAP(TR_ERRNO_CASE)
#undef TR_ERRNO_CASE
	case 0:
		return "success";
	default:
		break;
	}
	if (err < 0) {
		err = -err;
	}
	/* zmq_strerror covers errno values and zmq's own (EFSM, ETERM...) */
	return zmq_strerror(err);
}
