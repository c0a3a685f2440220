/* SPDX-License-Identifier: MIT */
/* Descriptors of this process's ZeroMQ state, which a fork child must not
 * keep: the signalers of the sockets troupe made (recorded as they are
 * made) and the connections to and from the run's mailboxes (found by
 * their addresses) -- everything whose number grows with the sockets and
 * peers.  The context's own few (its threads' epoll sets and wake-up
 * eventfds) stay: their number is constant, and telling them from the
 * user's costs more than they do. */
#ifndef TRI_FDS_H
#define TRI_FDS_H

/* Note the signaler (ZMQ_FD) of a socket troupe made / closes. */
void tri_fds_note_socket(void *sock);
void tri_fds_forget_socket(void *sock);

/* In a fork child, before anything else opens descriptors: close the
 * parent's ZeroMQ descriptors (never touching the context itself). */
void tri_fds_close_inherited(void);
/* Every open descriptor is below n (the table's size, FDSize in
 * /proc/self/status): the search stops there. */
void tri_fds_set_bound(int n);

/* Descriptors to close, gathered into runs of consecutive numbers: one
 * close_range(2) a run.  Start with { -1, -1 }; add (negative fds are
 * skipped); close what is left. */
struct tri_fd_run {
	int lo, hi; /* -1: none yet */
};
void tri_fd_run_add(struct tri_fd_run *r, int fd);
void tri_fd_run_close(struct tri_fd_run *r);

#endif /* TRI_FDS_H */
