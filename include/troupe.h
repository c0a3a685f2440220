/* SPDX-License-Identifier: MIT */
/* troupe -- actors as OS processes with ZeroMQ mailboxes.  Umbrella
 * header: include this, or the one header per concept under troupe/. */
#ifndef TROUPE_H
#define TROUPE_H

#include "troupe/actor.h"
#include "troupe/common.h"
#include "troupe/event.h"
#include "troupe/manager.h"
#include "troupe/msg.h"
#include "troupe/node.h"
#include "troupe/pipe.h"
#include "troupe/pool.h"
#include "troupe/process.h"
#include "troupe/ps.h"
#include "troupe/queue.h"
#include "troupe/shared.h"
#include "troupe/shm.h"
#include "troupe/supervisor.h"
#include "troupe/sync.h"
#include "troupe/trace.h"
#include "troupe/wait.h"

#endif /* TROUPE_H */
