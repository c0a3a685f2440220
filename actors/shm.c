/* SPDX-License-Identifier: MIT */
/* Shared-memory segments: an anonymous memfd held by its creator, found
 * by others through /proc/PID/fd/N (see troupe/shm.h).  The first 64
 * bytes of the mapping are a header that an opener checks before it
 * trusts anything: a magic number, the size, and the creator's address
 * (pid and incarnation), so a descriptor number the creator has since
 * reused, or a later process with the same pid, is never taken for the
 * segment.  A name is a symbolic link <rundir>/shm/<name> -> address. */
#include "troupe/shm.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "troupe/msg.h"

#define SHM_MAGIC 0x74727368u /* "trsh" */
#define SHM_HDR   64

struct shm_hdr {
	_Atomic uint32_t magic;
	uint32_t         pid;
	uint64_t         incarnation;
	uint64_t         size; /* bytes after the header */
	char             name[SHM_HDR - 24];
};
_Static_assert(sizeof(struct shm_hdr) == SHM_HDR, "header is 64 bytes");

struct tr_shm {
	struct shm_hdr *hdr;
	size_t          maplen;
	int             fd;    /* the creator's descriptor, else -1 */
	pid_t           owner; /* process that created the segment */
	char            addr[TR_SHM_ADDRLEN];
};

static bool
valid_name(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > TR_SHM_NAME_MAX || name[0] == '.') {
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

static size_t
map_len(size_t size)
{
	size_t page = (size_t) sysconf(_SC_PAGESIZE);

	return (SHM_HDR + size + page - 1) / page * page;
}

/* <rundir>/shm/<name> into buf (the directory made if mkdir). */
static int
link_path(char *buf, size_t n, const char *name, bool mkdir_it)
{
	const char *dir = tr_runtime_dir();
	int         len;

	if (!dir) {
		return TR_ENOTINIT;
	}
	len = snprintf(buf, n, "%s/shm", dir);
	if (len < 0 || (size_t) len >= n) {
		return -ENAMETOOLONG;
	}
	if (mkdir_it && mkdir(buf, 0700) < 0 && errno != EEXIST) {
		return -errno;
	}
	len = snprintf(buf, n, "%s/shm/%s", dir, name);
	return len < 0 || (size_t) len >= n ? -ENAMETOOLONG : 0;
}

static int
parse_addr(const char *text, tr_addr *ret_who, int *ret_fd)
{
	unsigned           pid;
	unsigned long long inc;
	int                fd, end = 0;

	if (sscanf(text, "shm:%u.%llu.%d%n", &pid, &inc, &fd, &end) != 3 ||
	    text[end] != '\0' || fd < 0 || pid == 0) {
		return TR_EBADADDR;
	}
	*ret_who = (tr_addr) { 0, pid, inc };
	*ret_fd  = fd;
	return 0;
}

/* Publish s under name: exactly one live holder; a dead one's link is
 * replaced. */
static int
publish(tr_shm *s, const char *name)
{
	char path[4096], old[TR_SHM_ADDRLEN];
	int  r;

	r = link_path(path, sizeof(path), name, true);
	for (int tries = 0; r == 0 && tries < 8; tries++) {
		tr_addr who;
		ssize_t n;
		int     fd;

		if (symlink(s->addr, path) == 0) {
			return 0;
		}
		if (errno != EEXIST) {
			return -errno;
		}
		n = readlink(path, old, sizeof(old) - 1);
		if (n < 0) {
			continue; /* removed meanwhile: try again */
		}
		old[n] = '\0';
		if (parse_addr(old, &who, &fd) == 0 && tr_addr_is_alive(who)) {
			return TR_EEXISTS;
		}
		(void) unlink(path);
	}
	return r < 0 ? r : TR_EEXISTS;
}

static int
handle_new(tr_shm **ret, size_t maplen)
{
	tr_shm *s = calloc(1, sizeof(*s));

	if (!s) {
		return -ENOMEM;
	}
	s->fd     = -1;
	s->maplen = maplen;
	s->owner  = getpid();
	*ret      = s;
	return 0;
}

int
tr_shm_new(tr_shm **ret, const char *name, size_t size)
{
	tr_addr self = tr_self();
	tr_shm *s;
	void   *p;
	int     r;

	if (!ret || size == 0 || size > ((size_t) 1 << 40) ||
	    (name && !valid_name(name))) {
		return -EINVAL;
	}
	if (tr_addr_is_null(self)) {
		return TR_ENOTINIT;
	}
	r = handle_new(&s, map_len(size));
	if (r < 0) {
		return r;
	}
	s->fd = (int) syscall(SYS_memfd_create, "troupe-shm", MFD_CLOEXEC);
	if (s->fd < 0 || ftruncate(s->fd, (off_t) s->maplen) < 0) {
		r = -errno;
		goto out_destroy;
	}
	p = mmap(NULL, s->maplen, PROT_READ | PROT_WRITE, MAP_SHARED, s->fd, 0);
	if (p == MAP_FAILED) {
		r = -errno;
		goto out_destroy;
	}
	s->hdr              = p;
	s->hdr->pid         = self.pid;
	s->hdr->incarnation = self.incarnation;
	s->hdr->size        = size;
	snprintf(s->hdr->name, sizeof(s->hdr->name), "%s", name ? name : "");
	atomic_store(&s->hdr->magic, SHM_MAGIC);
	snprintf(s->addr, sizeof(s->addr), "shm:%u.%" PRIu64 ".%d", self.pid,
	    self.incarnation, s->fd);
	if (name) {
		r = publish(s, name);
		if (r < 0) {
			goto out_destroy;
		}
	}
	*ret = s;
	return 0;

out_destroy:
	/* destroy removes the name only if the link is ours */
	tr_shm_destroy(&s);
	return r;
}

/* Map the segment at addr and check it is what addr says. */
static int
attach(tr_shm **ret, const char *addr)
{
	char            path[64];
	struct shm_hdr *h;
	struct stat     st;
	tr_addr         who;
	tr_shm         *s;
	int             fd, mfd, r;

	r = parse_addr(addr, &who, &fd);
	if (r < 0) {
		return r;
	}
	snprintf(path, sizeof(path), "/proc/%u/fd/%d", who.pid, fd);
	mfd = open(path, O_RDWR | O_CLOEXEC);
	if (mfd < 0) {
		return errno == EACCES || errno == EPERM ? -EACCES : -ESRCH;
	}
	if (fstat(mfd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    (size_t) st.st_size < (size_t) SHM_HDR) {
		close(mfd);
		return -ESRCH;
	}
	h = mmap(NULL, (size_t) st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED,
	    mfd, 0);
	close(mfd);
	if (h == MAP_FAILED) {
		return -errno;
	}
	if (atomic_load(&h->magic) != SHM_MAGIC || h->pid != who.pid ||
	    h->incarnation != who.incarnation ||
	    map_len(h->size) != (size_t) st.st_size || !tr_addr_is_alive(who)) {
		(void) munmap(h, (size_t) st.st_size);
		return -ESRCH;
	}
	r = handle_new(&s, (size_t) st.st_size);
	if (r < 0) {
		(void) munmap(h, (size_t) st.st_size);
		return r;
	}
	s->hdr   = h;
	s->owner = 0; /* an opener never owns the name */
	snprintf(s->addr, sizeof(s->addr), "%s", addr);
	*ret = s;
	return 0;
}

int
tr_shm_open(tr_shm **ret, const char *where)
{
	char    path[4096], addr[TR_SHM_ADDRLEN];
	ssize_t n;
	int     r;

	if (!ret || !where) {
		return -EINVAL;
	}
	if (strncmp(where, "shm:", 4) == 0) {
		return attach(ret, where);
	}
	if (!valid_name(where)) {
		return -EINVAL;
	}
	r = link_path(path, sizeof(path), where, false);
	if (r < 0) {
		return r;
	}
	n = readlink(path, addr, sizeof(addr) - 1);
	if (n < 0) {
		return errno == ENOENT ? TR_ENOTFOUND : -errno;
	}
	addr[n] = '\0';
	r       = attach(ret, addr);
	if (r == 0 && strcmp((*ret)->hdr->name, where) != 0) {
		tr_shm_destroy(ret);
		r = -ESRCH;
	}
	return r == -ESRCH ? TR_ENOTFOUND : r;
}

void
tr_shm_destroy(tr_shm **sp)
{
	tr_shm *s = sp ? *sp : NULL;

	if (!s) {
		return;
	}
	if (s->hdr && s->owner == getpid() && s->hdr->name[0]) {
		char path[4096], cur[TR_SHM_ADDRLEN];
		/* only our own link: a later creator may hold the name */
		if (link_path(path, sizeof(path), s->hdr->name, false) == 0) {
			ssize_t n = readlink(path, cur, sizeof(cur) - 1);

			if (n > 0 &&
			    (cur[n] = '\0', strcmp(cur, s->addr) == 0)) {
				(void) unlink(path);
			}
		}
	}
	if (s->hdr) {
		(void) munmap(s->hdr, s->maplen);
	}
	if (s->fd >= 0) {
		close(s->fd);
	}
	free(s);
	*sp = NULL;
}

void *
tr_shm_data(tr_shm *s)
{
	return s ? (char *) s->hdr + SHM_HDR : NULL;
}

size_t
tr_shm_size(tr_shm *s)
{
	return s ? (size_t) s->hdr->size : 0;
}

const char *
tr_shm_addr(tr_shm *s)
{
	return s ? s->addr : "";
}

const char *
tr_shm_name(tr_shm *s)
{
	return s ? s->hdr->name : "";
}
