/* SPDX-License-Identifier: MIT */
/* Internals of the Manager: the tagged value's layout (mval.c), its
 * conversion to and from the wire (manager-wire.c), the request codes
 * (proto/manager.proto) and the server actor (manager-server.c). */
#ifndef TRI_MANAGER_INT_H
#define TRI_MANAGER_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "manager.pb-c.h"
#include "troupe.h"

#ifndef tr_assert_return
/* The actors' form of the runtime's argument check (as queue-int.h). */
#define tr_assert_return(cond, err)                                       \
	do {                                                              \
		if (!(cond)) {                                            \
			tr_log(TR_LOG_DEBUG, "%s: assertion '%s' failed", \
			    __func__, #cond);                             \
			return (err);                                     \
		}                                                         \
	} while (0)
#endif

#define TRI_MVAL_TYPE_MAX 128 /* a protobuf type name, with its NUL */

struct tr_mval {
	int      kind;  /* enum tr_mval_kind */
	unsigned depth; /* 0 scalar, 1 + deepest item for a container */
	union {
		int64_t i;
		double  d;
		bool    b;
		struct {
			char  *data; /* NUL-terminated copy */
			size_t len;
			char  *type; /* PB only */
		} s;
		struct {
			tr_mval **items;
			size_t    n, cap;
		} l;
		struct {
			tr_mval **keys, **vals; /* insertion order */
			size_t    n, cap;
			uint32_t
			      *index; /* entry + 1, 0 empty; NULL when small */
			size_t nindex;
		} m;
	} u;
};

void    tri_mval_list_clear(tr_mval *l);
int     tri_mval_list_reserve(tr_mval *l, size_t more);
bool    tri_mval_is_key(const tr_mval *k);
ssize_t tri_mval_dict_find(const tr_mval *d, const tr_mval *key);
/* Remove entry i; returns its value (the caller's), frees its key. */
tr_mval *tri_mval_dict_take(tr_mval *d, size_t i);
void     tri_mval_repr_to(FILE *f, const tr_mval *v);

/* ---- wire (manager-codec.c) --------------------------------------------
 * tri_mval_pack() packs v as a trwire.MgrValue into a new buffer (*ret,
 * the caller's to free()).  tri_mval_unpack() builds a new tr_mval from a
 * packed MgrValue, checking it: a value with no field or two, an unknown
 * field, a dict whose counts differ or whose keys are containers, a string
 * with a NUL, nesting past TR_MVAL_MAX_DEPTH, or bytes that do not decode
 * are TR_EBADFRAME; -ENOMEM. */
int tri_mval_pack(const tr_mval *v, uint8_t **ret, size_t *ret_len);
int tri_mval_unpack(const uint8_t *data, size_t len, tr_mval **ret);

enum tri_mgr_op {
	TRI_MGR_HELLO               = 1,
	TRI_MGR_NEW                 = 2,
	TRI_MGR_OPEN                = 3,
	TRI_MGR_DROP                = 4,
	TRI_MGR_GET_ALL             = 5,
	TRI_MGR_LEN                 = 6,
	TRI_MGR_CHAN_OPEN           = 110, /* a same-host channel: its fd */
	TRI_MGR_CHAN_CLOSE          = 111, /* one-way: channel fd = index */
	TRI_MGR_DICT_GET            = 10,
	TRI_MGR_DICT_SET            = 11,
	TRI_MGR_DICT_SET_NOWAIT     = 12,
	TRI_MGR_DICT_DEL            = 13,
	TRI_MGR_DICT_CONTAINS       = 14,
	TRI_MGR_DICT_KEYS           = 15,
	TRI_MGR_DICT_UPDATE         = 16,
	TRI_MGR_DICT_POP            = 17,
	TRI_MGR_LIST_APPEND         = 20,
	TRI_MGR_LIST_APPEND_NOWAIT  = 21,
	TRI_MGR_LIST_EXTEND         = 22,
	TRI_MGR_LIST_GET            = 23,
	TRI_MGR_LIST_SET            = 24,
	TRI_MGR_LIST_POP            = 25,
	TRI_MGR_LIST_SLICE          = 26,
	TRI_MGR_LIST_REVERSE        = 27,
	TRI_MGR_QUEUE_PUT           = 30,
	TRI_MGR_QUEUE_GET           = 31,
	TRI_MGR_QUEUE_PUT_NOWAIT    = 32,
	TRI_MGR_LOCK_ACQUIRE        = 40,
	TRI_MGR_LOCK_RELEASE        = 41,
	TRI_MGR_LOCK_RELEASE_NOWAIT = 42,
	TRI_MGR_EVENT_SET           = 50,
	TRI_MGR_EVENT_CLEAR         = 51,
	TRI_MGR_EVENT_IS_SET        = 52,
	TRI_MGR_EVENT_WAIT          = 53,
	TRI_MGR_VALUE_GET           = 60,
	TRI_MGR_VALUE_SET           = 61,
	TRI_MGR_VALUE_ADD           = 62,
	TRI_MGR_STOP                = 99,
};

/* The server actor's body (manager-server.c). */
int tri_manager_server(const void *args, size_t len);
/* The client that sent request m, whether it came by the mailbox or
 * through the client's same-host channel (chan-int.h): a request taken
 * from a channel is a tr_msg with no sender of its own, so code serving
 * requests asks this, never tr_msg_sender() (manager-server.c). */
tr_addr tri_mgr_sender(const tr_msg *m);
/* Constant-time comparison of two keys of TR_MANAGER_KEY_LEN bytes. */
bool tri_mgr_key_eq(const void *a, const void *b, size_t alen);
/* A key is TR_MANAGER_KEY_LEN hex digits. */
bool tri_mgr_key_valid(const char *key);

#endif /* TRI_MANAGER_INT_H */
