/* SPDX-License-Identifier: MIT */
/* logging -- see what the runtime does.  The Python original:
 *
 *	def worker():
 *	    print('Doing some work')
 *	    sys.stdout.flush()
 *
 *	if __name__ == '__main__':
 *	    multiprocessing.log_to_stderr(logging.DEBUG)
 *	    p = multiprocessing.Process(target=worker)
 *	    p.start()
 *	    p.join()
 *
 * tr_log_set_level() is log_to_stderr(level): lines at or above the level
 * go to stderr as "[LEVEL/ProcessName] text", and children inherit the
 * level.  The runtime logs at debug level only; programs (like this one)
 * log at info and above.  Without code, TROUPE_LOG=debug sets the level of
 * any troupe program.
 *
 *	logging [LEVEL]		LEVEL: debug (the default), info, warning,
 *				error or none; "info" is the walkthrough's
 *				second program (logger.setLevel(INFO)). */
#include <stdio.h>
#include <stdlib.h>

#include "troupe.h"

static int
worker(const void *args, size_t len)
{
	printf("Doing some work\n");
	fflush(stdout);
	return 0;
}
TR_ACTOR(worker, worker)

static void
check(int r, const char *what)
{
	if (r < 0) {
		fprintf(stderr, "logging: %s: %s\n", what, tr_strerror(r));
		exit(1);
	}
}

int
main(int argc, char **argv)
{
	tr_process *p;
	int         level = TR_LOG_DEBUG, code;

	check(tr_init(argc, argv), "tr_init");
	if (argc > 1) {
		level = tr_log_level_parse(argv[1]);
		check(level, "unknown log level");
	}
	tr_log_set_level(level);

	check(tr_process_new(&p, "worker", NULL, 0), "tr_process_new");
	check(tr_process_start(p, 10000), "tr_process_start");
	check(tr_process_join(p, TR_TIMEOUT_INFINITE), "tr_process_join");
	check(tr_process_exitcode(p, &code), "tr_process_exitcode");
	tr_log(TR_LOG_INFO, "%s exited with exitcode %d", tr_process_name(p),
	    code);
	tr_process_destroy(&p);
	return 0;
}
