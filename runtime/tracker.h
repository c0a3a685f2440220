/* SPDX-License-Identifier: MIT */
/* The run's resource tracker: a small process that removes what the run
 * created -- its runtime directory and any named object registered here --
 * once every process of the run has ended, however it ended.  Not
 * installed. */
#ifndef TRI_TRACKER_H
#define TRI_TRACKER_H

#include <sys/types.h>

/* What a registered name is, and so how the tracker removes it. */
enum tri_track_kind {
	TRI_TRACK_FILE = 'f', /* unlink(name) */
	TRI_TRACK_DIR  = 'd', /* the tree under name, then name */
	TRI_TRACK_SHM  = 's', /* shm_unlink(name): name is "/something" */
};

/* Longest name the tracker keeps (with its NUL), and how many it keeps. */
#define TRI_TRACK_NAME_MAX 256
#define TRI_TRACK_MAX      256

/* In the main program, right after the runtime directory rundir was made:
 * start the tracker (see tracker.c) and keep our end of its socket in
 * tri_rt.tracker_fd.  0, or -errno; then there is no tracker and the run
 * relies on its exit handler alone. */
int tri_tracker_start(const char *rundir);

/* Ask the tracker to remove name (of kind) when the run is over, or no
 * longer to.  Register before creating the object, so that a death in
 * between leaves nothing; removing what does not exist is harmless.  Any
 * process of the run may call these; they never block for long (one
 * datagram).  0, -EINVAL (name too long or kind unknown), -ENOTCONN (no
 * tracker), or -errno from the send.  At most TRI_TRACK_MAX names are
 * kept; the tracker ignores more. */
int tri_tracker_register(int kind, const char *name);
int tri_tracker_unregister(int kind, const char *name);

/* The tracker's pid (0 if there is none, or in a process that does not
 * know it: only the main program does). */
pid_t tri_tracker_pid(void);

#endif /* TRI_TRACKER_H */
