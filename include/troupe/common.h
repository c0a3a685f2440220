/* SPDX-License-Identifier: MIT */
#ifndef TR_COMMON_H
#define TR_COMMON_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define TR_API          __attribute__((visibility("default")))
#define TR_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define TR_API
#define TR_PRINTF(f, a)
#endif

/* Every timeout is an int in milliseconds: 0 polls, TR_TIMEOUT_INFINITE
 * waits for ever (as in zmq_poll). */
#define TR_TIMEOUT_INFINITE (-1)

/* Errors.  Every call returns >= 0 on success and a negative code on
 * failure: -errno values (-EINVAL, -ETIMEDOUT, ...) and zmq's own, passed
 * through unchanged, or one of troupe's codes below, which live in
 * -4095..-4001.  tr_strerror() names any of them. */
#define TR_ERRNO_MAP(X)                                                     \
	X(NOTINIT, 4001, "troupe runtime not initialised (call tr_init())") \
	X(NOACTOR, 4002, "no actor registered under that name")             \
	X(STARTFAIL, 4003, "child failed before it reported running")       \
	X(FULL, 4004, "recipient's mailbox is full")                        \
	X(BADFRAME, 4005, "malformed message frame")                        \
	X(BADTYPE, 4006, "payload is not of the expected type")             \
	X(TOOBIG, 4007, "message larger than the configured maximum")       \
	X(DEAD, 4008, "peer died while waiting for it")                     \
	X(SHUTDOWN, 4009, "supervisor is shutting down")                    \
	X(EXISTS, 4010, "name or id already in use")                        \
	X(NOTFOUND, 4011, "no such name or child id")                       \
	X(RUNNING, 4012, "process is still running")                        \
	X(FORKSERVER, 4013, "forkserver failed or died")                    \
	X(BADADDR, 4014, "malformed actor address")                         \
	X(RESTARTING, 4015, "child is being restarted")                     \
	X(IGNORE, 4016, "actor chose not to run (ignore)")                  \
	X(EMPTY, 4017, "queue is empty")                                    \
	X(CLOSED, 4018, "queue is closed")                                  \
	X(QSHUTDOWN, 4019, "queue was shut down")                           \
	X(TASKDONE, 4020, "task_done() called more times than items put")   \
	X(AUTH, 4031, "authentication refused (wrong or missing key)")      \
	X(MGRRESTART, 4032,                                                 \
	    "manager restarted: the call may or may not have been applied")

enum tr_errno {
#define TR_ERRNO_ENUM(name, num, text) TR_E##name = -(num),
	TR_ERRNO_MAP(TR_ERRNO_ENUM)
#undef TR_ERRNO_ENUM
};

/* A static text for any return code of troupe, errno or zmq; never NULL. */
TR_API const char *tr_strerror(int err);

/* ---- runtime ------------------------------------------------------------ */

/* Initialise the runtime.  Call it first in main(), before any thread or
 * ZeroMQ context exists: in a child started with TR_START_SPAWN or by the
 * forkserver this call does not return (it runs the child's actor and
 * exits); in the main program it creates the per-run runtime directory
 * (mode 0700) and registers an exit handler that terminates daemon
 * children, joins the others and removes the directory.  argc/argv may be
 * 0/NULL.  Idempotent.  Errors: -ENOMEM, -EACCES or other -errno from
 * creating the runtime directory. */
TR_API int tr_init(int argc, char **argv);

/* The runtime directory of this run (borrowed), or NULL before tr_init(). */
TR_API const char *tr_runtime_dir(void);

/* Number of CPUs this process may run on (sched_getaffinity), >= 1. */
TR_API int tr_cpu_count(void);

/* ---- time ---------------------------------------------------------------
 * For a wait made of several calls that must all fit in one timeout_ms:
 * take a deadline once, then give each call tr_deadline_left(). */

/* Milliseconds on CLOCK_MONOTONIC, the clock every troupe timeout runs on:
 * never goes back and does not follow changes of the wall clock; its zero
 * is arbitrary (boot), so only differences mean anything.  Never fails. */
TR_API int64_t tr_now_ms(void);

/* The tr_now_ms() time timeout_ms from now, or -1 (no deadline) for a
 * negative timeout_ms such as TR_TIMEOUT_INFINITE.  Never fails. */
TR_API int64_t tr_deadline(int timeout_ms);

/* The timeout to pass on to the next call so that it ends by deadline (a
 * tr_deadline() result): TR_TIMEOUT_INFINITE for a negative deadline, 0
 * (poll) once it has passed, else the milliseconds left, at most INT_MAX.
 * Never fails. */
TR_API int tr_deadline_left(int64_t deadline);

/* ---- logging ------------------------------------------------------------ */

enum tr_log_level {
	TR_LOG_NONE    = 0,
	TR_LOG_ERROR   = 1,
	TR_LOG_WARNING = 2,
	TR_LOG_INFO    = 3,
	TR_LOG_DEBUG   = 4,
};

/* Like multiprocessing.log_to_stderr(level): lines at or above level go to
 * stderr as "[LEVEL/ProcessName] text", one write(2) per line so lines of
 * several processes never interleave.  The initial level comes from the
 * environment: TROUPE_LOG=debug|info|warning|error|none (default: error).
 * Children inherit the level in force when they start.  A line that cannot
 * be written is lost: a closed stderr never raises SIGPIPE. */
TR_API void tr_log_set_level(int level);
TR_API int  tr_log_level(void);
/* Parse "debug", "info", ... into a level; -EINVAL for anything else. */
TR_API int  tr_log_level_parse(const char *text);
TR_API void tr_log(int level, const char *fmt, ...) TR_PRINTF(2, 3);
TR_API void tr_logv(int level, const char *fmt, va_list ap);

#ifdef __cplusplus
}
#endif

#endif /* TR_COMMON_H */
