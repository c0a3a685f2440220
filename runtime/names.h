/* SPDX-License-Identifier: MIT */
/* Local names this process registered, as the mailbox layer sees them.
 * Not installed. */
#ifndef TRI_NAMES_H
#define TRI_NAMES_H

#include "troupe/msg.h"

/* Names this process registered (removed at exit). */
void tri_names_release_own(void);
void tri_names_forget(void);
/* The reaper of the actor at a removes the names it held. */
void tri_names_drop_addr(tr_addr a);

#endif /* TRI_NAMES_H */
