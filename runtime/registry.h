/* SPDX-License-Identifier: MIT */
/* Actor functions registered by name, for children to look up.  Not
 * installed. */
#ifndef TRI_REGISTRY_H
#define TRI_REGISTRY_H

#include "troupe/actor.h"

int tri_actor_lookup(const char *name, tr_actor_fn *ret_fn, int *ret_flags);

#endif /* TRI_REGISTRY_H */
