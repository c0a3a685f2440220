/* SPDX-License-Identifier: MIT */
/* The run's trace control page: made by the main program, mapped by every
 * child, configured by a collector; and TROUPE_TRACE, which makes the main
 * program its own collector (it drains the rings into a file at exit). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "runtime.h"
#include "trace.h"
#include "util.h"

#define CTL_BYTES 4096

_Static_assert(sizeof(struct tri_trace_ctl) <= CTL_BYTES, "ctl page");
_Static_assert(sizeof(struct tri_trace_rec) == 192, "a slot is 3 lines");

static char  env_out[PATH_MAX]; /* TROUPE_TRACE's file; "" none */
static pid_t env_collector;     /* its collector process; 0: none */

static struct tri_trace_ctl *
map_ctl(const char *rundir, bool create)
{
	char                  path[PATH_MAX + 32];
	struct tri_trace_ctl *c;
	int                   fd;

	snprintf(path, sizeof(path), "%s/%s", rundir, TRI_TRACE_CTL_FILE);
	fd = open(
	    path, O_RDWR | O_CLOEXEC | (create ? O_CREAT | O_EXCL : 0), 0600);
	if (fd < 0) {
		return NULL;
	}
	if (create && ftruncate(fd, CTL_BYTES) < 0) {
		close(fd);
		return NULL;
	}
	c = mmap(NULL, CTL_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (c == MAP_FAILED) {
		return NULL;
	}
	if (create) {
		c->magic = TRI_TRACE_CTL_MAGIC;
	} else if (c->magic != TRI_TRACE_CTL_MAGIC) {
		(void) munmap(c, CTL_BYTES);
		return NULL;
	}
	return c;
}

struct tri_trace_ctl *
tri_trace_ctl_open(const char *rundir)
{
	return map_ctl(rundir, false);
}

void
tri_trace_ctl_close(struct tri_trace_ctl *c)
{
	if (c && c != tri_trace_ctl) {
		(void) munmap(c, CTL_BYTES);
	}
}

/* Write the settings and switch on (the collector's side). */
void
tri_trace_ctl_apply(struct tri_trace_ctl *c, const tr_trace_opts *o,
    int64_t now_ns, bool defaults_safe)
{
	atomic_store(&c->on, 0);
	c->sample     = o->sample;
	c->ring_slots = o->ring_slots ? o->ring_slots : 16384;
	c->payload    = o->payload < TR_TRACE_PAYLOAD_MAX ? o->payload
	                                                  : TR_TRACE_PAYLOAD_MAX;
	c->limit      = o->limit ? o->limit : defaults_safe ? 100000 : 0;
	c->until_ns   = o->duration_ms > 0 ? now_ns + o->duration_ms * 1000000LL
	      : o->duration_ms == 0 && defaults_safe ? now_ns + 30000000000LL
	                                             : 0;
	if (o->rate_n == UINT32_MAX) {
		c->rate_n = 0;
	} else if (o->rate_n) {
		c->rate_n  = o->rate_n;
		c->rate_ms = o->rate_ms > 0 ? (uint32_t) o->rate_ms : 1000;
	} else {
		c->rate_n  = defaults_safe ? 1000 : 0;
		c->rate_ms = 1000;
	}
	tri_strlcpy(c->actors, o->actors ? o->actors : "", sizeof(c->actors));
	tri_strlcpy(c->types, o->types ? o->types : "", sizeof(c->types));
	atomic_store(&c->total, 0);
	atomic_store(&c->lease_until_ns,
	    o->lease_ms < 0
	        ? 0
	        : now_ns + (o->lease_ms ? o->lease_ms : 5000) * 1000000LL);
	atomic_fetch_add(&c->gen, 1);
	atomic_store(&c->on, 1);
}

/* TROUPE_TRACE=FILE or TROUPE_TRACE=file=FILE:sample=N:actors=G,G:
 * types=G,G:limit=N:rate=N/MS:slots=N */
static int
parse_env(const char *v, tr_trace_opts *o, char *out, size_t outsz,
    char *actors, char *types)
{
	char  buf[1024], *save = NULL, *tok;
	char *end;

	tri_strlcpy(buf, v, sizeof(buf));
	for (tok = strtok_r(buf, ":", &save); tok;
	     tok = strtok_r(NULL, ":", &save)) {
		char *eq = strchr(tok, '=');

		if (!eq) {
			tri_strlcpy(out, tok, outsz);
			continue;
		}
		*eq++ = '\0';
		end   = NULL;
		if (strcmp(tok, "file") == 0) {
			tri_strlcpy(out, eq, outsz);
		} else if (strcmp(tok, "actors") == 0) {
			tri_strlcpy(actors, eq, TRI_TRACE_FILTER_MAX);
		} else if (strcmp(tok, "types") == 0) {
			tri_strlcpy(types, eq, TRI_TRACE_FILTER_MAX);
		} else if (strcmp(tok, "sample") == 0) {
			o->sample = (unsigned) strtoul(eq, &end, 10);
		} else if (strcmp(tok, "limit") == 0) {
			o->limit = strtoull(eq, &end, 10);
		} else if (strcmp(tok, "payload") == 0) {
			o->payload = (unsigned) strtoul(eq, &end, 10);
		} else if (strcmp(tok, "slots") == 0) {
			o->ring_slots = (unsigned) strtoul(eq, &end, 10);
		} else if (strcmp(tok, "rate") == 0) {
			o->rate_n  = (unsigned) strtoul(eq, &end, 10);
			o->rate_ms = *end == '/'
			    ? (int) strtol(end + 1, &end, 10)
			    : 1000;
		} else {
			return -EINVAL;
		}
		if (end && (end == eq || *end)) {
			return -EINVAL; /* a number with something else */
		}
	}
	return out[0] ? 0 : -EINVAL;
}

static void
env_start(void)
{
	const char   *v                            = getenv("TROUPE_TRACE");
	char          actors[TRI_TRACE_FILTER_MAX] = "";
	char          types[TRI_TRACE_FILTER_MAX]  = "";
	char          spec[1024];
	tr_trace_opts o;
	int           r;

	if (!v || !v[0] || strcmp(v, "0") == 0) {
		return;
	}
	/* this run's, not that of a troupe program this one may exec */
	tri_strlcpy(spec, v, sizeof(spec));
	(void) unsetenv("TROUPE_TRACE");
	v = spec;
	memset(&o, 0, sizeof(o));
	o.rate_n      = UINT32_MAX;
	o.duration_ms = -1;
	o.lease_ms    = -1;
	o.ring_slots  = 65536;
	if (parse_env(v, &o, env_out, sizeof(env_out), actors, types) < 0) {
		tr_log(TR_LOG_ERROR, "TROUPE_TRACE=%s: not understood", v);
		env_out[0] = '\0';
		return;
	}
	o.actors = actors;
	o.types  = types;
	atomic_store(&tri_trace_ctl->collector, (int32_t) getpid());
	tri_trace_ctl_apply(tri_trace_ctl, &o, tri_trace_now_ns(), false);
	/* drained while the program runs; failing that, at its exit */
	r = tri_trace_collector_start(tri_rt.rundir, env_out);
	if (r > 0) {
		env_collector = (pid_t) r;
	} else {
		tr_log(TR_LOG_ERROR,
		    "TROUPE_TRACE: no collector process (%s): the rings are "
		    "drained at exit only",
		    tr_strerror(r));
	}
}

int
tri_trace_init_root(const char *rundir)
{
	char                  path[PATH_MAX + 32];
	struct tri_trace_ctl *c;

	snprintf(path, sizeof(path), "%s/%s", rundir, TRI_TRACE_RING_DIR);
	if (mkdir(path, 0700) < 0 && errno != EEXIST) {
		return -errno;
	}
	c = map_ctl(rundir, true);
	if (!c) {
		return -errno;
	}
	tri_trace_ctl = c;
	env_start();
	return 0;
}

void
tri_trace_init_child(const char *rundir)
{
	struct tri_trace_ctl *c;

	if (tri_trace_ctl->magic == TRI_TRACE_CTL_MAGIC || !rundir[0]) {
		return; /* inherited across fork */
	}
	c = map_ctl(rundir, false);
	if (c) {
		tri_trace_ctl = c;
	}
}

static void
to_file(const tr_trace_event *ev, void *arg)
{
	(void) tr_trace_file_write(arg, ev);
}

void
tri_trace_finish_root(void)
{
	tr_trace_session *s;
	tr_trace_file    *f;
	int               r;

	if (!env_out[0]) {
		return;
	}
	atomic_store(&tri_trace_ctl->on, 0);
	if (env_collector > 0) {
		if (!tri_trace_collector_finish(env_collector)) {
			tr_log(TR_LOG_ERROR,
			    "TROUPE_TRACE: the collector (pid %d) did not "
			    "finish %s",
			    (int) env_collector, env_out);
		}
		env_collector = 0;
		env_out[0]    = '\0';
		return;
	}
	r = tr_trace_file_open(&f, env_out, true);
	if (r < 0) {
		tr_log(TR_LOG_ERROR, "TROUPE_TRACE: cannot write %s: %s",
		    env_out, tr_strerror(r));
		env_out[0] = '\0';
		return;
	}
	if (tri_trace_session_adopt(&s, tri_rt.rundir) == 0) {
		(void) tr_trace_session_poll(s, to_file, f);
		tr_trace_session_close(&s);
	}
	(void) tr_trace_file_close(&f);
	env_out[0] = '\0';
}
