/* SPDX-License-Identifier: MIT */
/* Attaching to memory another actor of this host owns (an anonymous
 * memfd): the Event's page and the queue's producer rings. */
#include "attach-int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

int
tri_attach_map(tr_addr a, int fd, size_t size, void **ret_map, int *ret_pidfd)
{
	char  path[64];
	void *p;
	int   mfd, pidfd, r;

	if (a.node != 0 || fd < 0) {
		return -EOPNOTSUPP;
	}
	pidfd = (int) syscall(SYS_pidfd_open, (pid_t) a.pid, 0);
	if (pidfd < 0) {
		return -errno;
	}
	snprintf(path, sizeof(path), "/proc/%u/fd/%d", (unsigned) a.pid, fd);
	mfd = open(path, O_RDWR | O_CLOEXEC);
	if (mfd < 0) {
		r = -errno;
		close(pidfd);
		return r;
	}
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	close(mfd);
	if (p == MAP_FAILED) {
		r = -errno;
		close(pidfd);
		return r;
	}
	*ret_map   = p;
	*ret_pidfd = pidfd;
	return 0;
}
