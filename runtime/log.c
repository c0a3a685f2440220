/* SPDX-License-Identifier: MIT */
/* log_to_stderr()/get_logger() in C: one write(2) per line, each line
 * names the process. */
#include "log.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "runtime.h"
#include "util.h"

static int log_level = -1;

static const char *const level_names[] = { "NONE", "ERROR", "WARNING", "INFO",
	"DEBUG" };

int
tr_log_level_parse(const char *text)
{
	if (!text) {
		return -EINVAL;
	}
	for (int i = 0; i <= TR_LOG_DEBUG; i++) {
		if (strcasecmp(text, level_names[i]) == 0) {
			return i;
		}
	}
	if (strcasecmp(text, "warn") == 0) {
		return TR_LOG_WARNING;
	}
	return -EINVAL;
}

int
tr_log_level(void)
{
	if (log_level < 0) {
		int l = tr_log_level_parse(getenv("TROUPE_LOG"));

		log_level = l < 0 ? TR_LOG_ERROR : l;
	}
	return log_level;
}

void
tr_log_set_level(int level)
{
	if (level < TR_LOG_NONE) {
		level = TR_LOG_NONE;
	}
	log_level = level > TR_LOG_DEBUG ? TR_LOG_DEBUG : level;
}

bool
tri_log_on(int level)
{
	return level <= tr_log_level() && level > TR_LOG_NONE;
}

/* Write to stderr without dying of SIGPIPE when nobody reads it: a log
 * line must never kill the process or change how it exits.  SIGPIPE is
 * blocked around the write, and one it raised is taken back, unless one
 * was pending already. */
static void
write_stderr(const char *line, size_t n)
{
	static const struct timespec zero = { 0, 0 };
	sigset_t                     blocked, old, pending;
	int                          r;

	sigemptyset(&blocked);
	sigaddset(&blocked, SIGPIPE);
	sigpending(&pending);
	(void) pthread_sigmask(SIG_BLOCK, &blocked, &old);
	r = tri_write_all(STDERR_FILENO, line, n);
	if (r == -EPIPE && !sigismember(&pending, SIGPIPE)) {
		while (sigtimedwait(&blocked, NULL, &zero) < 0 &&
		    errno == EINTR) { }
	}
	(void) pthread_sigmask(SIG_SETMASK, &old, NULL);
}

void
tr_logv(int level, const char *fmt, va_list ap)
{
	char line[1024];
	int  n, m;
	int  saved = errno;

	if (!tri_log_on(level)) {
		return;
	}
	n = snprintf(line, sizeof(line), "[%s/%s] ", level_names[level],
	    tri_rt.name[0] ? tri_rt.name : "MainProcess");
	m = vsnprintf(line + n, sizeof(line) - (size_t) n - 1, fmt, ap);
	if (m < 0) {
		m = 0;
	}
	n += m;
	if (n > (int) sizeof(line) - 2) {
		n = (int) sizeof(line) - 2;
	}
	line[n++] = '\n';
	write_stderr(line, (size_t) n);
	errno = saved;
}

void
tr_log(int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	tr_logv(level, fmt, ap);
	va_end(ap);
}

void
tri_log_assert(const char *cond, const char *func)
{
	tri_debug("assertion '%s' failed in %s()", cond, func);
}
