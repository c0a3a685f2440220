/* SPDX-License-Identifier: MIT */
/* `troupe node`: a troupe node in the foreground (docs/distribution.md).
 * It logs at info level unless TROUPE_LOG says otherwise, tells systemd it
 * is ready (sd_notify's READY=1 on $NOTIFY_SOCKET, for Type=notify) once
 * it listens, and stops cleanly on SIGINT or SIGTERM (its peers see it
 * gone at once).  Public API only. */
#include "troupe-node.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <zmq.h>

#include "troupe.h"

#define MAX_LIST 64

static void
node_usage(FILE *to)
{
	fprintf(to,
	    "usage: troupe node --name NAME [options]\n"
	    "       troupe node --keygen\n"
	    "Run a troupe node in the foreground until SIGINT or SIGTERM.\n"
	    "  --name NAME          this node's name (letters, digits, ._-)\n"
	    "  --listen ENDPOINT    tcp://HOST:PORT to listen on (default\n"
	    "                       tcp://127.0.0.1:*, an ephemeral port);\n"
	    "                       a non-loopback host needs CURVE\n"
	    "  --peer ENDPOINT[#KEY]\n"
	    "                       a node to join (repeatable); with CURVE,\n"
	    "                       #KEY is its Z85 public key\n"
	    "  --detect-ms N        declare a silent peer lost after N ms\n"
	    "                       (default 3000)\n"
	    "  --secret-file FILE   CURVE: this node's Z85 secret key (first\n"
	    "                       line); turns CURVE on\n"
	    "  --allow KEY          CURVE: a public key allowed to connect\n"
	    "                       (repeatable)\n"
	    "  --allow-file FILE    CURVE: allowed public keys, one a line\n"
	    "  --cookie TEXT        cluster label that peers must share\n"
	    "  --queue-max N        messages kept per peer node that is down\n"
	    "                       (default 10000; -1: none, drop at once)\n"
	    "  --queue-ms N         how long each may wait (default 10000)\n"
	    "  --keygen             print a new key pair (public, then\n"
	    "                       secret) and exit\n"
	    "Logs go to stderr; TROUPE_LOG=debug|info|warning|error sets "
	    "the level.\n");
}

static int
read_line(const char *path, char *buf, size_t n)
{
	FILE *f = fopen(path, "r");
	bool  ok;

	if (!f) {
		return -errno;
	}
	ok = fgets(buf, (int) n, f) != NULL;
	fclose(f);
	buf[ok ? strcspn(buf, "\r\n") : 0] = '\0';
	return ok ? 0 : -EIO;
}

/* systemd readiness without libsystemd: one datagram to $NOTIFY_SOCKET. */
static void
notify_ready(void)
{
	const char        *p = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa;
	socklen_t          len;
	int                fd;

	if (!p || (p[0] != '/' && p[0] != '@') ||
	    strlen(p) >= sizeof(sa.sun_path)) {
		return;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, p, strlen(p));
	if (p[0] == '@') {
		sa.sun_path[0] = '\0'; /* abstract namespace */
	}
	len = (socklen_t) (offsetof(struct sockaddr_un, sun_path) + strlen(p));
	fd  = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd >= 0) {
		(void) sendto(fd, "READY=1", 7, MSG_NOSIGNAL,
		    (struct sockaddr *) &sa, len);
		close(fd);
	}
}

int
troupe_node_cmd(int argc, char **argv)
{
	static char allow_buf[MAX_LIST][128];
	const char *peers[MAX_LIST + 1] = { 0 }, *allow[MAX_LIST + 1] = { 0 };
	char        secret[64] = "";
	int         npeers = 0, nallow = 0, sig, r;
	tr_node_options o = { 0 };
	tr_node        *n = NULL;
	sigset_t        set;

	for (int i = 2; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			node_usage(stdout);
			return 0;
		}
		if (strcmp(a, "--keygen") == 0) {
			char pub[41], sec[41];

			if (zmq_curve_keypair(pub, sec) < 0) {
				fprintf(stderr, "troupe node: no CURVE here\n");
				return 1;
			}
			printf("%s\n%s\n", pub, sec);
			return 0;
		}
		if (!v) {
			fprintf(stderr, "troupe node: %s needs a value\n", a);
			node_usage(stderr);
			return 2;
		}
		i++;
		if (strcmp(a, "--name") == 0) {
			o.name = v;
		} else if (strcmp(a, "--listen") == 0) {
			o.listen = v;
		} else if (strcmp(a, "--peer") == 0 && npeers < MAX_LIST) {
			peers[npeers++] = v;
		} else if (strcmp(a, "--detect-ms") == 0) {
			o.detect_ms = atoi(v);
		} else if (strcmp(a, "--cookie") == 0) {
			o.cookie = v;
		} else if (strcmp(a, "--queue-max") == 0 ||
		    strcmp(a, "--queue-ms") == 0) {
			bool  is_max = strcmp(a, "--queue-max") == 0;
			char *end;
			long  x = strtol(v, &end, 10);

			if (*v == '\0' || *end || x < (is_max ? -1 : 0) ||
			    x > INT_MAX) {
				fprintf(stderr,
				    "troupe node: %s needs a number (%s)\n", a,
				    v);
				return 2;
			}
			if (is_max) {
				o.queue_max = (int) x;
			} else {
				o.queue_ms = (int) x;
			}
		} else if (strcmp(a, "--allow") == 0 && nallow < MAX_LIST) {
			allow[nallow++] = v;
		} else if (strcmp(a, "--secret-file") == 0) {
			if (read_line(v, secret, sizeof(secret)) < 0) {
				fprintf(
				    stderr, "troupe node: cannot read %s\n", v);
				return 1;
			}
			o.curve_secret_key = secret;
		} else if (strcmp(a, "--allow-file") == 0) {
			FILE *f = fopen(v, "r");
			char  line[128];

			if (!f) {
				fprintf(
				    stderr, "troupe node: cannot read %s\n", v);
				return 1;
			}
			while (
			    nallow < MAX_LIST && fgets(line, sizeof(line), f)) {
				line[strcspn(line, "\r\n")] = '\0';
				if (line[0] && line[0] != '#') {
					snprintf(allow_buf[nallow],
					    sizeof(allow_buf[0]), "%s", line);
					allow[nallow] = allow_buf[nallow];
					nallow++;
				}
			}
			fclose(f);
		} else {
			fprintf(
			    stderr, "troupe node: unknown option '%s'\n", a);
			node_usage(stderr);
			return 2;
		}
	}
	if (!o.name) {
		fprintf(stderr, "troupe node: --name is required\n");
		node_usage(stderr);
		return 2;
	}
	o.peers        = peers;
	o.allowed_keys = allow;
	/* SIGINT/SIGTERM are taken with sigwait(): blocked before any thread
	 * exists (children start with an empty mask) */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	if (!getenv("TROUPE_LOG")) {
		tr_log_set_level(TR_LOG_INFO);
	}
	r = tr_init(argc, argv);
	if (r == 0) {
		r = tr_node_start(&o, &n, 30000);
	}
	if (r < 0) {
		fprintf(
		    stderr, "troupe node: cannot start: %s\n", tr_strerror(r));
		return 1;
	}
	printf("node %s (id %u) listening on %s\n", o.name,
	    (unsigned) tr_node_id(o.name), tr_node_endpoint(n));
	fflush(stdout);
	notify_ready();
	(void) sigwait(&set, &sig);
	tr_log(TR_LOG_INFO, "troupe node %s: %s, stopping", o.name,
	    sig == SIGINT ? "SIGINT" : "SIGTERM");
	tr_node_stop(&n);
	return 0;
}
