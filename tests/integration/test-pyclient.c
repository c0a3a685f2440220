/* SPDX-License-Identifier: MIT */
/* A client in another language: pyclient.py (pyzmq + protobuf, classes
 * built at run time from proto/supervisor.proto and the troupe.proto it
 * imports) talks to an echo actor using nothing but docs/protocol.md.  It
 * first sends bad messages (one frame, three frames, an undecodable
 * envelope, an unregistered type, a wrong incarnation), then requests;
 * the actor must drop and count the bad ones and still answer.  Passes
 * only if python exits 0. */
#include "tr-test.h"

#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <protobuf-c/protobuf-c.h>

#include "supervisor.pb-c.h"
#include "troupe.pb-c.h"

#define PYTHON        "/usr/bin/python3"
#define PY_TIMEOUT_MS 60000

extern char **environ;

/* Answer a trwire.ChildInfo request with one derived from it and this
 * actor's drop counters; returns 1 when it was the "stop" request. */
static int
answer_info(const tr_msg *req)
{
	Trwire__ChildInfo *in, out = TRWIRE__CHILD_INFO__INIT;
	Trwire__Addr       self = TRWIRE__ADDR__INIT;
	tr_mailbox_stats   st;
	tr_addr            me = tr_self();
	char               id[80], actor[64];
	tr_msg            *rep;
	int                r, stop;

	r = tr_msg_unpack(
	    req, &trwire__child_info__descriptor, (ProtobufCMessage **) &in);
	if (r < 0) {
		return r;
	}
	(void) tr_mailbox_stats_get(&st);
	snprintf(id, sizeof(id), "echo:%s", in->id);
	snprintf(actor, sizeof(actor), "%s", in->actor);
	for (char *c = actor; *c; c++) {
		*c = (char) (*c >= 'a' && *c <= 'z' ? *c - 'a' + 'A' : *c);
	}
	stop              = strcmp(in->id, "stop") == 0;
	self.node         = me.node;
	self.pid          = me.pid;
	self.incarnation  = me.incarnation;
	out.id            = id;
	out.pid           = in->pid + 1;
	out.actor         = actor;
	out.restarts      = (uint32_t) st.dropped_malformed;
	out.type          = (uint32_t) st.dropped_badtype;
	out.last_exitcode = (int32_t) st.dropped_stale;
	out.addr          = &self;
	protobuf_c_message_free_unpacked(&in->base, NULL);
	r = tr_msg_new_pb(&rep, &out.base);
	if (r == 0) {
		r = tr_reply(req, &rep, 5000);
		tr_msg_destroy(&rep);
	}
	return r < 0 ? r : stop;
}

/* Raw bytes come back reversed. */
static int
answer_bytes(const tr_msg *req)
{
	size_t         n = tr_msg_size(req);
	const uint8_t *d = tr_msg_data(req);
	uint8_t        buf[256];
	tr_msg        *rep;
	int            r;

	if (n > sizeof(buf)) {
		return -EMSGSIZE;
	}
	for (size_t i = 0; i < n; i++) {
		buf[i] = d[n - 1 - i];
	}
	r = tr_msg_new_bytes(&rep, buf, n);
	if (r == 0) {
		r = tr_reply(req, &rep, 5000);
		tr_msg_destroy(&rep);
	}
	return r;
}

static int
echo_actor(const void *args, size_t len)
{
	int r = tr_msg_type_register(&trwire__child_info__descriptor);

	while (r >= 0) {
		tr_msg *m;

		r = tr_recv(&m, PY_TIMEOUT_MS);
		if (r < 0) {
			break;
		}
		if (strcmp(tr_msg_type(m), "") == 0) {
			r = answer_bytes(m);
		} else {
			r = answer_info(m);
		}
		tr_msg_destroy(&m);
		if (r == 1) {
			return 0;
		}
	}
	return r;
}
TR_ACTOR(py_echo, echo_actor)

/* Run python with args; its exit status, or -1 if it had to be killed. */
static int
run_python(char **argv)
{
	pid_t pid;
	int   status = 0;

	assert_int_equal(
	    posix_spawn(&pid, PYTHON, NULL, NULL, argv, environ), 0);
	for (int waited = 0;; waited += 10) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid) {
			break;
		}
		assert_int_equal(r, 0);
		if (waited >= PY_TIMEOUT_MS) {
			kill(pid, SIGKILL);
			(void) waitpid(pid, &status, 0);
			return -1;
		}
		usleep(10000);
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void
test_python_client_talks_to_an_actor(void **state)
{
	const char *root = getenv("TR_TEST_SOURCE_ROOT");
	char        script[PATH_MAX], proto[PATH_MAX], addr[TR_ADDR_STRLEN];
	char       *argv[6];
	tr_process *p;
	tr_addr     a;
	int         code = -1, rc;

	(void) state;
	if (access(PYTHON, X_OK) != 0 || !root) {
		skip();
	}
	snprintf(
	    script, sizeof(script), "%s/tests/integration/pyclient.py", root);
	snprintf(proto, sizeof(proto), "%s/proto/supervisor.proto", root);
	TR_ASSERT_OK(tr_process_new(&p, "py_echo", NULL, 0));
	TR_ASSERT_OK(tr_process_set_eager_mailbox(p, true));
	TR_ASSERT_OK(tr_process_start(p, 10000));
	TR_ASSERT_OK(tr_process_addr(p, &a));
	tr_addr_format(a, addr, sizeof(addr));

	argv[0] = PYTHON;
	argv[1] = script;
	argv[2] = proto;
	argv[3] = (char *) tr_runtime_dir();
	argv[4] = addr;
	argv[5] = NULL;
	rc      = run_python(argv);
	if (rc == 77) {
		tr_process_destroy(&p);
		skip(); /* no pyzmq or protobuf for /usr/bin/python3 */
	}
	assert_int_equal(rc, 0);
	/* the actor ends after it answered "stop" */
	TR_ASSERT_OK(tr_process_join(p, 10000));
	TR_ASSERT_OK(tr_process_exitcode(p, &code));
	assert_int_equal(code, 0);
	tr_process_destroy(&p);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_python_client_talks_to_an_actor),
	};

	if (tr_init(argc, argv) < 0) {
		return 99;
	}
	return cmocka_run_group_tests_name("pyclient", tests, NULL, NULL);
}
