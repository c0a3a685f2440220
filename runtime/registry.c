/* SPDX-License-Identifier: MIT */
/* Actor registry: name -> function.  Filled at load time by TR_ACTOR
 * constructors (or before tr_init()), read-only afterwards, so fork,
 * spawn and the forkserver all see the same table. */
#include "registry.h"

#include <errno.h>
#include <string.h>

#include "alloc.h"
#include "log.h"
#include "runtime.h"
#include "util.h"

struct entry {
	char        name[TRI_NAME_MAX];
	tr_actor_fn fn;
	int         flags;
};

static struct entry *table;
static size_t        count, cap;

int
tr_actor_register(const char *name, tr_actor_fn fn, int flags)
{
	tr_assert_return(name && fn, -EINVAL);
	tr_assert_return(name[0] && strlen(name) < TRI_NAME_MAX, -EINVAL);

	for (size_t i = 0; i < count; i++) {
		if (strcmp(table[i].name, name) == 0) {
			return table[i].fn == fn ? 0 : TR_EEXISTS;
		}
	}
	if (count == cap) {
		size_t        ncap = cap ? cap * 2 : 16;
		struct entry *t    = tri_realloc(table, ncap * sizeof(*t));

		if (!t) {
			return -ENOMEM;
		}
		table = t;
		cap   = ncap;
	}
	tri_strlcpy(table[count].name, name, TRI_NAME_MAX);
	table[count].fn    = fn;
	table[count].flags = flags;
	count++;
	return 0;
}

int
tri_actor_lookup(const char *name, tr_actor_fn *ret_fn, int *ret_flags)
{
	for (size_t i = 0; i < count; i++) {
		if (strcmp(table[i].name, name) == 0) {
			if (ret_fn) {
				*ret_fn = table[i].fn;
			}
			if (ret_flags) {
				*ret_flags = table[i].flags;
			}
			return 0;
		}
	}
	return TR_ENOACTOR;
}
