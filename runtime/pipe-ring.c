/* SPDX-License-Identifier: MIT */
/* The shared-memory rings and wake-ups under a tr_pipe (pipe-ring.h).
 *
 * Each ring has a head (bytes published by its writer) and a tail (bytes
 * its reader consumed), free-running 64-bit counters.  A record is a u32
 * length, the bytes, and padding to 8.  Sleeping without lost wake-ups:
 * a reader that finds its ring empty sets rx_sleeping, then looks again,
 * then polls the socket; a writer publishes, then takes rx_sleeping
 * (atomic exchange) and, if it was set, sends a "W".  The same both ways
 * for a writer that finds no room (tx_sleeping, woken by the reader).
 * Sequentially consistent fences between the store of one and the load of
 * the other make one of the two always see the other. */
#include "pipe-ring.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "troupe/common.h"
#include "util.h"

#define HDR_SIZE  4096 /* a ring's header page */
#define WAY_SIZE  (HDR_SIZE + TRI_RING_SIZE)
#define MAP_SIZE  (2 * WAY_SIZE)
#define SPIN_NS   20000   /* look again this long before sleeping */
#define CHECK_NS  1000000 /* a sender looks at the peer this often */
#define SLEEP_MAX 100     /* ms: a sleeper looks again at least this often */

struct tri_ring {
	_Atomic uint64_t head;
	_Atomic uint32_t rx_sleeping;
	uint8_t          pad1[64 - 12];
	_Atomic uint64_t tail;
	_Atomic uint32_t tx_sleeping;
	uint8_t          pad2[64 - 12];
};

static uint8_t *
data(struct tri_ring *r)
{
	return (uint8_t *) r + HDR_SIZE;
}

static int64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static size_t
rec_size(size_t len)
{
	return (4 + len + 7) & ~(size_t) 7;
}

static void
setup(struct tri_link *l, int fd, int shm_fd, int side, void *map)
{
	struct tri_ring *w0 = map;
	struct tri_ring *w1 = (struct tri_ring *) ((uint8_t *) map + WAY_SIZE);

	l->fd            = fd;
	l->shm_fd        = shm_fd;
	l->side          = side;
	l->map           = map;
	l->tx            = side == 0 ? w0 : w1;
	l->rx            = side == 0 ? w1 : w0;
	l->next_check_ns = 0;
	l->eof           = false;
}

static void *
map_shm(int shm_fd)
{
	void *m =
	    mmap(NULL, MAP_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, shm_fd, 0);

	return m == MAP_FAILED ? NULL : m;
}

int
tri_link_pair(struct tri_link *a, struct tri_link *b)
{
	int   sv[2], shm[2] = { -1, -1 }, r;
	void *ma = NULL, *mb = NULL;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		return -errno;
	}
	shm[0] = memfd_create("troupe-pipe", MFD_CLOEXEC);
	r      = shm[0] < 0 ? -errno : 0;
	if (r == 0 && ftruncate(shm[0], MAP_SIZE) < 0) {
		r = -errno;
	}
	if (r == 0 && (shm[1] = fcntl(shm[0], F_DUPFD_CLOEXEC, 3)) < 0) {
		r = -errno;
	}
	if (r == 0 && (!(ma = map_shm(shm[0])) || !(mb = map_shm(shm[1])))) {
		r = -errno;
	}
	if (r < 0) {
		if (ma) {
			munmap(ma, MAP_SIZE);
		}
		for (int i = 0; i < 2; i++) {
			close(sv[i]);
			if (shm[i] >= 0) {
				close(shm[i]);
			}
		}
		return r;
	}
	setup(a, sv[0], shm[0], 0, ma);
	setup(b, sv[1], shm[1], 1, mb);
	return 0;
}

int
tri_link_open(struct tri_link *l, int fd, int shm_fd, int side)
{
	struct stat st;
	void       *m;

	if (fstat(shm_fd, &st) < 0) {
		return -errno;
	}
	if (!S_ISREG(st.st_mode) || st.st_size != (off_t) MAP_SIZE ||
	    (side != 0 && side != 1)) {
		return TR_EBADFRAME;
	}
	m = map_shm(shm_fd);
	if (!m) {
		return -errno;
	}
	setup(l, fd, shm_fd, side, m);
	return 0;
}

static int
wake(struct tri_link *l)
{
	if (send(l->fd, "W", 1, MSG_DONTWAIT | MSG_NOSIGNAL) < 0 &&
	    (errno == EPIPE || errno == ECONNRESET)) {
		l->eof = true;
		return -EPIPE;
	}
	return 0; /* EAGAIN: wake-ups are waiting already */
}

void
tri_link_close(struct tri_link *l, bool close_fds)
{
	if (!l->map) {
		return;
	}
	if (close_fds) {
		/* our peer's next send wakes us: that send fails if we
		 * were the last holder of this end */
		atomic_store(&l->rx->rx_sleeping, 1);
		close(l->fd);
		close(l->shm_fd);
	}
	munmap(l->map, MAP_SIZE);
	l->map = NULL;
}

/* Read what came on the socket: wake-ups, or end of file. */
static void
drain(struct tri_link *l)
{
	char buf[64];

	for (;;) {
		ssize_t n = recv(l->fd, buf, sizeof(buf), MSG_DONTWAIT);

		if (n == 0 || (n < 0 && errno == ECONNRESET)) {
			l->eof = true;
			return;
		}
		if (n < 0 && errno != EINTR) {
			return;
		}
	}
}

/* Peer gone?  A poll(2) at most every CHECK_NS. */
static bool
peer_gone(struct tri_link *l)
{
	int64_t       t  = now_ns();
	struct pollfd pf = { .fd = l->fd, .events = 0 };

	if (l->eof) {
		return true; /* for good */
	}
	if (t < l->next_check_ns) {
		return false;
	}
	l->next_check_ns = t + CHECK_NS;
	if (poll(&pf, 1, 0) > 0 && (pf.revents & (POLLHUP | POLLERR))) {
		l->eof = true;
	}
	return l->eof;
}

static void
copy_in(struct tri_ring *r, uint64_t pos, const void *src, size_t n)
{
	size_t i = (size_t) (pos % TRI_RING_SIZE), first;

	if (n == 0) {
		return; /* src may be NULL */
	}
	first = TRI_RING_SIZE - i < n ? TRI_RING_SIZE - i : n;
	memcpy(data(r) + i, src, first);
	memcpy(data(r), (const uint8_t *) src + first, n - first);
}

static void
copy_out(struct tri_ring *r, uint64_t pos, void *dst, size_t n)
{
	size_t i = (size_t) (pos % TRI_RING_SIZE), first;

	if (n == 0) {
		return; /* dst may be NULL */
	}
	first = TRI_RING_SIZE - i < n ? TRI_RING_SIZE - i : n;
	memcpy(dst, data(r) + i, first);
	memcpy((uint8_t *) dst + first, data(r), n - first);
}

static bool
has_room(struct tri_ring *r, size_t need)
{
	uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
	uint64_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);

	return TRI_RING_SIZE - (head - tail) >= need;
}

int
tri_link_write(struct tri_link *l, const struct iovec *iov, int niov)
{
	struct tri_ring *r   = l->tx;
	size_t           len = 0, off = 4;
	uint64_t         head;
	uint32_t         len32;

	for (int i = 0; i < niov; i++) {
		len += iov[i].iov_len;
	}
	if (peer_gone(l)) {
		return -EPIPE;
	}
	if (!has_room(r, rec_size(len))) {
		return -EAGAIN;
	}
	head  = atomic_load_explicit(&r->head, memory_order_relaxed);
	len32 = (uint32_t) len;
	copy_in(r, head, &len32, 4);
	for (int i = 0; i < niov; i++) {
		copy_in(r, head + off, iov[i].iov_base, iov[i].iov_len);
		off += iov[i].iov_len;
	}
	atomic_store_explicit(
	    &r->head, head + rec_size(len), memory_order_release);
	atomic_thread_fence(memory_order_seq_cst);
	if (atomic_load_explicit(&r->rx_sleeping, memory_order_relaxed) &&
	    atomic_exchange(&r->rx_sleeping, 0)) {
		return wake(l);
	}
	return 0;
}

/* Sleep on the socket up to the time left (at most SLEEP_MAX), then read
 * what came on it: 0, -ETIMEDOUT once the deadline passed, -errno. */
static int
sleep_on_socket(struct tri_link *l, int64_t deadline, int timeout_ms)
{
	struct pollfd pf   = { .fd = l->fd, .events = POLLIN };
	int           left = tri_remaining(deadline, timeout_ms);
	int           r;

	r = poll(&pf, 1, left < 0 || left > SLEEP_MAX ? SLEEP_MAX : left);
	if (r < 0 && errno != EINTR) {
		return -errno;
	}
	if (r > 0) {
		drain(l);
	}
	return timeout_ms >= 0 && tri_remaining(deadline, timeout_ms) == 0
	    ? -ETIMEDOUT
	    : 0;
}

int
tri_link_wait_room(
    struct tri_link *l, size_t len, int64_t deadline, int timeout_ms)
{
	struct tri_ring *r = l->tx;
	int              e;

	if (timeout_ms == 0) {
		return -EAGAIN;
	}
	atomic_store(&r->tx_sleeping, 1);
	atomic_thread_fence(memory_order_seq_cst);
	if (has_room(r, rec_size(len))) {
		atomic_store(&r->tx_sleeping, 0);
		return 0;
	}
	e = sleep_on_socket(l, deadline, timeout_ms);
	atomic_store(&r->tx_sleeping, 0);
	l->next_check_ns = 0; /* look at the peer on the next write */
	if (l->eof) {
		return -EPIPE;
	}
	return has_room(r, rec_size(len)) ? 0 : e;
}

static bool
rx_empty(struct tri_link *l)
{
	return atomic_load_explicit(&l->rx->head, memory_order_acquire) ==
	    atomic_load_explicit(&l->rx->tail, memory_order_relaxed);
}

int
tri_link_peek(struct tri_link *l, size_t *ret_len)
{
	struct tri_ring *r = l->rx;
	uint64_t head = atomic_load_explicit(&r->head, memory_order_acquire);
	uint64_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
	uint32_t len32;

	if (head == tail) {
		return 0;
	}
	if (head - tail < 8 || head - tail > TRI_RING_SIZE) {
		return TR_EBADFRAME;
	}
	copy_out(r, tail, &len32, 4);
	if (len32 > TRI_RECORD_MAX || rec_size(len32) > head - tail) {
		return TR_EBADFRAME;
	}
	*ret_len = len32;
	return 1;
}

void
tri_link_copy(struct tri_link *l, size_t off, void *dst, size_t n)
{
	uint64_t tail =
	    atomic_load_explicit(&l->rx->tail, memory_order_relaxed);

	copy_out(l->rx, tail + 4 + off, dst, n);
}

int
tri_link_consume(struct tri_link *l, size_t len)
{
	struct tri_ring *r = l->rx;
	uint64_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);

	atomic_store_explicit(
	    &r->tail, tail + rec_size(len), memory_order_release);
	atomic_thread_fence(memory_order_seq_cst);
	if (atomic_load_explicit(&r->tx_sleeping, memory_order_relaxed) &&
	    atomic_exchange(&r->tx_sleeping, 0)) {
		return wake(l);
	}
	return 0;
}

int
tri_link_wait_data(struct tri_link *l, int64_t deadline, int timeout_ms)
{
	struct tri_ring *r = l->rx;
	int64_t          end;
	int              e;

	if (timeout_ms != 0 && !l->eof) {
		end = now_ns() + SPIN_NS;
		do {
			if (!rx_empty(l)) {
				return 0;
			}
			sched_yield(); /* the writer may share our CPU */
		} while (now_ns() < end);
	}
	atomic_store(&r->rx_sleeping, 1);
	atomic_thread_fence(memory_order_seq_cst);
	if (!rx_empty(l)) {
		atomic_store(&r->rx_sleeping, 0);
		return 0;
	}
	if (timeout_ms == 0 || l->eof) {
		drain(l); /* end of file, if it came */
		e = timeout_ms == 0 ? -EAGAIN : 0;
	} else {
		e = sleep_on_socket(l, deadline, timeout_ms);
	}
	atomic_store(&r->rx_sleeping, 0);
	if (!rx_empty(l)) {
		return 0; /* what was sent before end of file comes first */
	}
	return l->eof ? -EPIPE : e;
}

bool
tri_link_ready(struct tri_link *l)
{
	if (!rx_empty(l)) {
		return true;
	}
	drain(l);
	return !rx_empty(l) || l->eof;
}

bool
tri_link_prepare_wait(struct tri_link *l)
{
	drain(l); /* stale wake-ups first, or the poll would end at once */
	atomic_store(&l->rx->rx_sleeping, 1);
	atomic_thread_fence(memory_order_seq_cst);
	return !rx_empty(l) || l->eof;
}
