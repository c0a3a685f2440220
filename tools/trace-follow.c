/* SPDX-License-Identifier: MIT */
/* troupe trace tail -f: print a trace file's events, then follow it as
 * `troupe trace record` writes it -- a record is printed once it is whole,
 * and when the file is rotated (renamed to FILE.1 and made anew) the old
 * one is read to its end before the next one is opened (FILE.K-1 if the
 * old one has become FILE.K by then: a reader behind by several
 * rotations reads each kept file in turn).  Until SIGINT or
 * SIGTERM (stop), or --duration MS. */
#include "trace-tool.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define REC_MAX 4096 /* trace-file.c's bound */
#define BUF     (64 * 1024)
#define TICK_MS 50

static int64_t
now_ms(void)
{
	struct timespec ts;

	(void) clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct follow {
	const char *path;
	char        cur[4096]; /* the file open: path, or path.N behind */
	int         fd;
	ino_t       ino;
	dev_t       dev;
	bool        magic, rotated;
	uint8_t    *buf;
	size_t      have;
};

/* Whole records of buf: handed to fn and consumed.  0, or EXIT_FAIL. */
static int
parse(struct follow *w, void (*fn)(const tr_trace_event *, void *), void *arg)
{
	size_t         pos = 0;
	tr_trace_event ev;

	if (!w->magic) {
		if (w->have < 8) {
			return 0;
		}
		if (memcmp(w->buf, "TRTRACE1", 8) != 0) {
			fprintf(stderr,
			    "troupe trace: %s: not a troupe trace file\n",
			    w->path);
			return EXIT_FAIL;
		}
		w->magic = true;
		pos      = 8;
	}
	for (;;) {
		uint64_t len   = 0;
		size_t   p     = pos;
		int      shift = 0;
		bool     whole = false;

		while (p < w->have && shift <= 28) {
			uint8_t c = w->buf[p++];

			len |= (uint64_t) (c & 0x7f) << shift;
			shift += 7;
			if (!(c & 0x80)) {
				whole = true;
				break;
			}
		}
		if (!whole && shift <= 28) {
			break; /* the length is not all there yet */
		}
		if (!whole || len == 0 || len > REC_MAX) {
			fprintf(stderr, "troupe trace: %s: corrupt record\n",
			    w->path);
			return EXIT_FAIL;
		}
		if (w->have - p < len) {
			break;
		}
		if (tr_trace_event_decode(w->buf + p, (size_t) len, &ev) < 0) {
			fprintf(stderr, "troupe trace: %s: corrupt record\n",
			    w->path);
			return EXIT_FAIL;
		}
		fn(&ev, arg);
		pos = p + (size_t) len;
	}
	memmove(w->buf, w->buf + pos, w->have - pos);
	w->have -= pos;
	return 0;
}

/* The file after the one just read to its end: rotation renamed it to
 * path.K, so the next is path.K-1 (path itself for K = 1).  A follower
 * that fell behind by several rotations so reads them all in order (as
 * long as they are kept: --rotate-count). */
static void
next_file(struct follow *w)
{
	char        p[4096 + 16];
	struct stat st;

	snprintf(w->cur, sizeof(w->cur), "%s", w->path);
	for (int k = 1; k < 10000; k++) {
		snprintf(p, sizeof(p), "%s.%d", w->path, k);
		if (stat(p, &st) != 0) {
			return;
		}
		if (st.st_ino == w->ino && st.st_dev == w->dev) {
			if (k > 1) {
				snprintf(w->cur, sizeof(w->cur), "%s.%d",
				    w->path, k - 1);
			}
			return;
		}
	}
}

/* The file at path is no longer the one open. */
static bool
replaced(const struct follow *w)
{
	struct stat st;

	return stat(w->path, &st) != 0 || st.st_ino != w->ino ||
	    st.st_dev != w->dev;
}

int
trace_follow(const struct opts *o, const char             *path,
    void (*fn)(const tr_trace_event *ev, void *arg), void *arg,
    volatile sig_atomic_t *stop)
{
	struct follow   w    = { .path = path, .fd = -1 };
	int64_t         end  = o->duration > 0 ? now_ms() + o->duration : 0;
	struct timespec tick = { 0, TICK_MS * 1000000L };
	int             code = EXIT_OK;

	snprintf(w.cur, sizeof(w.cur), "%s", path);
	w.buf = malloc(BUF);
	if (!w.buf) {
		fprintf(stderr, "troupe trace: out of memory\n");
		return EXIT_FAIL;
	}
	while (!*stop && (!end || now_ms() < end)) {
		ssize_t     n;
		struct stat st;

		if (w.fd < 0) {
			w.fd = open(w.cur, O_RDONLY | O_CLOEXEC);
			if (w.fd < 0 && errno == ENOENT &&
			    strcmp(w.cur, path) != 0) {
				/* rotated out of the kept ones: the newest */
				snprintf(w.cur, sizeof(w.cur), "%s", path);
				continue;
			}
			if (w.fd < 0 && errno != ENOENT) {
				fprintf(stderr, "troupe trace: %s: %s\n", path,
				    strerror(errno));
				code = EXIT_FAIL;
				break;
			}
			if (w.fd < 0 || fstat(w.fd, &st) < 0) {
				nanosleep(&tick, NULL); /* not (yet) there */
				continue;
			}
			w.ino     = st.st_ino;
			w.dev     = st.st_dev;
			w.magic   = false;
			w.rotated = false;
			w.have    = 0;
		}
		n = read(w.fd, w.buf + w.have, BUF - w.have);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n < 0) {
			fprintf(stderr, "troupe trace: %s: %s\n", path,
			    strerror(errno));
			code = EXIT_FAIL;
			break;
		}
		if (n > 0) {
			w.have += (size_t) n;
			code = parse(&w, fn, arg);
			if (code != EXIT_OK) {
				break;
			}
			continue;
		}
		if (w.rotated) {
			/* the old file read to its end: on to the new one */
			if (w.have) {
				fprintf(stderr,
				    "troupe trace: %s: last record truncated "
				    "(ignored)\n",
				    path);
			}
			next_file(&w);
			close(w.fd);
			w.fd = -1;
			continue;
		}
		if (replaced(&w)) {
			w.rotated = true; /* read it once more, then switch */
			continue;
		}
		fflush(stdout);
		nanosleep(&tick, NULL);
	}
	if (w.fd >= 0) {
		close(w.fd);
	}
	free(w.buf);
	fflush(stdout);
	return code;
}
