/* SPDX-License-Identifier: MIT */
/* Debug logging and argument checks for the runtime.  Not installed. */
#ifndef TRI_LOG_H
#define TRI_LOG_H

#include <stdbool.h>

#include "troupe/common.h"

#define tr_assert_return(cond, err)                      \
	do {                                             \
		if (!(cond)) {                           \
			tri_log_assert(#cond, __func__); \
			return (err);                    \
		}                                        \
	} while (0)

void tri_log_assert(const char *cond, const char *func);
#define tri_debug(...)                                     \
	do {                                               \
		if (tri_log_on(TR_LOG_DEBUG)) {            \
			tr_log(TR_LOG_DEBUG, __VA_ARGS__); \
		}                                          \
	} while (0)
bool tri_log_on(int level);

#endif /* TRI_LOG_H */
