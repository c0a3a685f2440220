/* SPDX-License-Identifier: MIT */
/* Local names: <rundir>/names/<name> is a symbolic link whose target is
 * the holder's address text.  symlink(2) is atomic, so two actors cannot
 * both take a name; a name whose holder died is stale and is taken over
 * (and removed by the holder's reaper). */
#include "rt.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "troupe/msg.h"

#define OWN_MAX 16

static char own[OWN_MAX][TRI_NAME_MAX];
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
read_holder(const char *path, tr_addr *ret)
{
	char    txt[TR_ADDR_STRLEN];
	ssize_t n = readlink(path, txt, sizeof(txt) - 1);

	if (n < 0) {
		return errno == ENOENT ? TR_ENOTFOUND : -errno;
	}
	txt[n] = '\0';
	return tr_addr_parse(txt, ret);
}

int
tr_register(const char *name)
{
	char    path[PATH_MAX], dir[PATH_MAX + 16], txt[TR_ADDR_STRLEN];
	tr_addr self = tr_self(), holder;

	tr_assert_return(name && valid_name(name), -EINVAL);
	tr_assert_return(tri_rt.inited, TR_ENOTINIT);
	tr_assert_return(nown < OWN_MAX, -ENOSPC);
	if (name_path(name, path, sizeof(path)) < 0) {
		return -ENAMETOOLONG;
	}
	snprintf(dir, sizeof(dir), "%s/names", tri_rt.rundir);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		return -errno;
	}
	tr_addr_format(self, txt, sizeof(txt));
	for (int tries = 0; tries < 3; tries++) {
		if (symlink(txt, path) == 0) {
			tri_strlcpy(own[nown++], name, TRI_NAME_MAX);
			return 0;
		}
		if (errno != EEXIST) {
			return -errno;
		}
		if (read_holder(path, &holder) == 0 &&
		    tr_addr_is_alive(holder)) {
			return tr_addr_eq(holder, self) ? 0 : TR_EEXISTS;
		}
		(void) unlink(path); /* stale: its holder is gone */
	}
	return TR_EEXISTS;
}

int
tr_unregister(const char *name)
{
	char    path[PATH_MAX];
	tr_addr holder;

	tr_assert_return(name && valid_name(name), -EINVAL);
	if (name_path(name, path, sizeof(path)) < 0 ||
	    read_holder(path, &holder) < 0 || !tr_addr_eq(holder, tr_self())) {
		return TR_ENOTFOUND;
	}
	(void) unlink(path);
	for (int i = 0; i < nown; i++) {
		if (strcmp(own[i], name) == 0) {
			memmove(own[i], own[--nown], TRI_NAME_MAX);
			break;
		}
	}
	return 0;
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
	r = read_holder(path, &holder);
	if (r < 0) {
		return r == TR_EBADADDR ? TR_ENOTFOUND : r;
	}
	if (!tr_addr_is_alive(holder)) {
		return TR_ENOTFOUND;
	}
	*ret = holder;
	return 0;
}

void tri_names_release_own(void);
void
tri_names_release_own(void)
{
	while (nown > 0) {
		if (tr_unregister(own[nown - 1]) < 0) {
			nown--; /* taken over meanwhile: not ours to remove */
		}
	}
}

void tri_names_forget(void);
void
tri_names_forget(void)
{
	nown = 0;
}

/* The reaper of the actor at a removes the names it held. */
void tri_names_drop_addr(tr_addr a);
void
tri_names_drop_addr(tr_addr a)
{
	char           dir[PATH_MAX + 16], path[PATH_MAX + 300];
	DIR           *d;
	struct dirent *e;
	tr_addr        holder;

	snprintf(dir, sizeof(dir), "%s/names", tri_rt.rundir);
	d = opendir(dir);
	if (!d) {
		return;
	}
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.') {
			continue;
		}
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (read_holder(path, &holder) == 0 && holder.pid == a.pid &&
		    (a.incarnation == 0 ||
		        holder.incarnation == a.incarnation)) {
			(void) unlink(path);
		}
	}
	closedir(d);
}
