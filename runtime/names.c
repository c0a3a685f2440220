/* SPDX-License-Identifier: MIT */
/* Local names: <rundir>/names/<name> is a symbolic link whose target is
 * the holder's address text.  A name whose holder died is stale and is
 * taken over (and removed by the holder's reaper).
 *
 * Every change to names/ (create, take over, unregister, the reaper's
 * removal) is made holding an exclusive flock(2) on the names/ directory
 * itself; only tr_whereis() reads without it.  The lock is what makes the
 * takeover of a stale name safe: "read the link, see its holder is dead,
 * replace it" is a read-modify-write that no single call does atomically
 * (symlink(2) only creates, rename(2) replaces unconditionally, and
 * renameat2(RENAME_EXCHANGE) plus a swap-back lets a second racer see and
 * keep the first one's link in between).  Under the lock a racer that
 * read the dead holder is the only one acting until it has put its own
 * link in place, so the next racer reads a live holder and gets
 * TR_EEXISTS: exactly one winner, however many read the stale link at the
 * same instant.  The kernel drops the lock when its holder dies, even by
 * SIGKILL, so a dead racer never blocks the others.  One lock for the
 * directory, not one per name: registering is rare and the critical
 * section is a few system calls, and it leaves no lock files behind. */
#include "names.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "runtime.h"
#include "troupe/msg.h"
#include "util.h"

static char own[TR_REGISTER_MAX][TRI_NAME_MAX];
static int  nown;

static bool
valid_name(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n >= TRI_NAME_MAX || name[0] == '.') {
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		        (c >= '0' && c <= '9') || c == '_' || c == '-' ||
		        c == '.')) {
			return false;
		}
	}
	return true;
}

static int
name_path(const char *name, char *buf, size_t n)
{
	int r = snprintf(buf, n, "%s/names/%s", tri_rt.rundir, name);

	return r < 0 || (size_t) r >= n ? -ENAMETOOLONG : 0;
}

static int
names_dir(char *buf, size_t n)
{
	int r = snprintf(buf, n, "%s/names", tri_rt.rundir);

	return r < 0 || (size_t) r >= n ? -ENAMETOOLONG : 0;
}

/* Holder of the name `name` in directory dfd (AT_FDCWD: a full path). */
static int
read_holder_at(int dfd, const char *name, tr_addr *ret)
{
	char    txt[TR_ADDR_STRLEN];
	ssize_t n = readlinkat(dfd, name, txt, sizeof(txt) - 1);

	if (n < 0) {
		return errno == ENOENT ? TR_ENOTFOUND : -errno;
	}
	txt[n] = '\0';
	return tr_addr_parse(txt, ret);
}

static int
lock_fd(int fd)
{
	while (flock(fd, LOCK_EX) < 0) {
		if (errno != EINTR) {
			return -errno;
		}
	}
	return 0;
}

/* Open names/ (made if missing) and take its lock: returns the descriptor
 * to pass to the *at() calls; closing it releases the lock. */
static int
names_lock(void)
{
	char dir[PATH_MAX];
	int  fd, r;

	if (names_dir(dir, sizeof(dir)) < 0) {
		return -ENAMETOOLONG;
	}
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		return -errno;
	}
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		return -errno;
	}
	r = lock_fd(fd);
	if (r < 0) {
		close(fd);
		return r;
	}
	return fd;
}

static int
own_find(const char *name)
{
	for (int i = 0; i < nown; i++) {
		if (strcmp(own[i], name) == 0) {
			return i;
		}
	}
	return -1;
}

/* tr_register() with the lock held on dfd. */
static int
register_locked(int dfd, const char *name, const char *txt)
{
	tr_addr holder;
	int     r = read_holder_at(dfd, name, &holder);

	if (r == 0 && tr_addr_is_alive(holder)) {
		return tr_addr_eq(holder, tr_self()) ? 0 : TR_EEXISTS;
	}
	if (r < 0 && r != TR_ENOTFOUND && r != TR_EBADADDR) {
		return r;
	}
	if (nown >= TR_REGISTER_MAX) {
		return -ENOSPC;
	}
	/* Free, or stale (dead holder, unreadable target): nobody else can
	 * change the entry while we hold the lock. */
	if (r != TR_ENOTFOUND && unlinkat(dfd, name, 0) < 0 &&
	    errno != ENOENT) {
		return -errno;
	}
	if (symlinkat(txt, dfd, name) < 0) {
		return -errno;
	}
	tri_strlcpy(own[nown++], name, TRI_NAME_MAX);
	return 0;
}

int
tr_register(const char *name)
{
	char txt[TR_ADDR_STRLEN];
	int  dfd, r;

	tr_assert_return(name && valid_name(name), -EINVAL);
	tr_assert_return(tri_rt.inited, TR_ENOTINIT);
	tr_addr_format(tr_self(), txt, sizeof(txt));
	dfd = names_lock();
	if (dfd < 0) {
		return dfd;
	}
	r = register_locked(dfd, name, txt);
	close(dfd);
	return r;
}

int
tr_unregister(const char *name)
{
	tr_addr holder;
	int     dfd, i, r = TR_ENOTFOUND;

	tr_assert_return(name && valid_name(name), -EINVAL);
	dfd = names_lock();
	if (dfd < 0) {
		return dfd;
	}
	if (read_holder_at(dfd, name, &holder) == 0 &&
	    tr_addr_eq(holder, tr_self())) {
		(void) unlinkat(dfd, name, 0);
		r = 0;
	}
	close(dfd);
	if (r == 0 && (i = own_find(name)) >= 0) {
		memmove(own[i], own[--nown], TRI_NAME_MAX);
	}
	return r;
}

int
tr_whereis(const char *name, tr_addr *ret)
{
	char    path[PATH_MAX];
	tr_addr holder;
	int     r;

	tr_assert_return(name && ret && valid_name(name), -EINVAL);
	tr_assert_return(tri_rt.inited, TR_ENOTINIT);
	if (name_path(name, path, sizeof(path)) < 0) {
		return -ENAMETOOLONG;
	}
	r = read_holder_at(AT_FDCWD, path, &holder);
	if (r < 0) {
		return r == TR_EBADADDR ? TR_ENOTFOUND : r;
	}
	if (!tr_addr_is_alive(holder)) {
		return TR_ENOTFOUND;
	}
	*ret = holder;
	return 0;
}

void
tri_names_release_own(void)
{
	while (nown > 0) {
		if (tr_unregister(own[nown - 1]) < 0) {
			nown--; /* taken over meanwhile: not ours to remove */
		}
	}
}

void
tri_names_forget(void)
{
	nown = 0;
}

/* The reaper of the actor at a removes the names it held. */
void
tri_names_drop_addr(tr_addr a)
{
	char           dir[PATH_MAX];
	DIR           *d;
	struct dirent *e;
	tr_addr        holder;

	if (names_dir(dir, sizeof(dir)) < 0) {
		return;
	}
	d = opendir(dir);
	if (!d) {
		return;
	}
	if (lock_fd(dirfd(d)) < 0) {
		closedir(d);
		return;
	}
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.') {
			continue;
		}
		if (read_holder_at(dirfd(d), e->d_name, &holder) == 0 &&
		    holder.pid == a.pid &&
		    (a.incarnation == 0 ||
		        holder.incarnation == a.incarnation)) {
			(void) unlinkat(dirfd(d), e->d_name, 0);
		}
	}
	closedir(d); /* releases the lock */
}
