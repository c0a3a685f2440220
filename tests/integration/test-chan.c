/* SPDX-License-Identifier: MIT */
/* The same-host call channel (actors/chan.c) under the Manager: the
 * server SIGKILLed while a client waits on its channel (an error in time,
 * no hang); a client SIGKILLed in the middle of its calls (the server and
 * the other clients go on, its lock is handed on); bad slot contents
 * written by hand (refused, the server serves on); requests and replies
 * too big for the slot (by mail, the same result); the order of one-way
 * writes and answered calls across both ways; clients and managers of
 * every start method using the channel; the sync actor's lock through the
 * channel, a holder SIGKILLed while others wait in theirs. */
#include "tr-test.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <protobuf-c/protobuf-c.h>

#include "../../actors/chan-int.h"
#include "manager.pb-c.h"

static const int methods[] = { TR_START_FORK, TR_START_SPAWN,
	TR_START_FORKSERVER };

/* Channels this process has mapped (its memfds are named troupe-chan). */
static int
chan_maps(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char  line[512];
	int   n = 0;

	if (!f) {
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		n += strstr(line, "memfd:troupe-chan") != NULL;
	}
	fclose(f);
	return n;
}

/* Channels process pid holds open (its memfds named troupe-chan). */
static int
chan_fds(pid_t pid)
{
	char           dir[64], path[400], link[256];
	DIR           *d;
	struct dirent *e;
	int            n = 0;

	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int) pid);
	d = opendir(dir);
	if (!d) {
		return -1;
	}
	while ((e = readdir(d))) {
		ssize_t len;

		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		len = readlink(path, link, sizeof(link) - 1);
		if (len > 0) {
			link[len] = '\0';
			n += strstr(link, "memfd:troupe-chan") != NULL;
		}
	}
	closedir(d);
	return n;
}

static tr_mval *
big_str(char tag, int i, size_t n)
{
	char    *s = malloc(n + 1);
	tr_mval *v;

	assert_non_null(s);
	memset(s, tag, n);
	s[n] = '\0';
	snprintf(s, 16, "%c%d-", tag, i);
	s[strlen(s)] = tag; /* keep the full length */
	v            = tr_mval_str(s);
	free(s);
	assert_non_null(v);
	return v;
}

/* ---- the server killed under a waiting client --------------------------- */

static void
test_server_killed_while_waiting(void **state)
{
	for (int mm = 0; mm < 3; mm++) {
		tr_manager_opts o = { .start_method = methods[mm] };
		tr_manager     *m;
		tr_mobj        *q;
		tr_mval        *v = NULL;
		pid_t           killer, server;
		int64_t         t0;
		int             st;

		TR_ASSERT_OK(tr_manager_start(&m, &o));
		TR_ASSERT_OK(tr_mobj_new(&q, m, TR_MOBJ_QUEUE, NULL, NULL));
		TR_ASSERT_OK(tr_mobj_len(q));
		assert_true(chan_maps() >= 1); /* the call took the channel */
		server = (pid_t) tr_manager_addr(m).pid;
		killer = fork();
		if (killer == 0) {
			usleep(200 * 1000);
			_exit(kill(server, SIGKILL) == 0 ? 0 : 1);
		}
		t0 = tr_test_now_ms();
		TR_ASSERT_ERR(
		    tr_mqueue_get(q, &v, TR_TIMEOUT_INFINITE), TR_EDEAD);
		/* seen through the pidfd within a slice, not a hang */
		assert_true(tr_test_now_ms() - t0 < 10000);
		assert_int_equal(waitpid(killer, &st, 0), killer);
		assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
		/* later calls fail at once too */
		assert_true(tr_mobj_len(q) < 0);
		tr_mobj_destroy(&q);
		tr_manager_destroy(&m);
	}
}

/* ---- a client killed in the middle of its calls ------------------------- */

/* args: "WHERE KEY DICT LIST LOCK PARENT N": take the lock, tell the
 * parent, then set, append one-way and ask for the length N times (N 0:
 * for ever, holding the lock; N < 0: for ever); exit 0 when all went
 * well. */
static int
busy_client(const void *args, size_t len)
{
	char        where[80], key[80], dr[80], lr[80], kr[80];
	char        ptxt[TR_ADDR_STRLEN];
	tr_manager *m = NULL;
	tr_mobj    *d = NULL, *l = NULL, *k = NULL;
	tr_addr     parent;
	long        n;
	int         r;

	if (sscanf(args, "%79s %79s %79s %79s %79s %47s %ld", where, key, dr,
	        lr, kr, ptxt, &n) != 7 ||
	    tr_addr_parse(ptxt, &parent) < 0) {
		return 10;
	}
	r = tr_manager_connect(&m, where, key);
	r = r < 0 ? r : tr_mobj_open(&d, m, dr);
	r = r < 0 ? r : tr_mobj_open(&l, m, lr);
	r = r < 0 ? r : tr_mobj_open(&k, m, kr);
	if (r == 0 && n == 0) {
		r = tr_mlock_acquire(k, TR_TEST_HANG_MS);
	}
	r = r < 0 ? r : tr_send_bytes(parent, "r", 1, TR_TEST_HANG_MS);
	for (long i = 0; r >= 0 && (n <= 0 || i < n); i++) {
		tr_mval *key_v = tr_mval_int(i % 100), *v = tr_mval_int(i);

		r = tr_mdict_set(d, key_v, v);
		r = r < 0 ? r : tr_mlist_append_nowait(l, v);
		r = r < 0 ? r : (int) tr_mobj_len(l);
		tr_mval_destroy(&key_v);
		tr_mval_destroy(&v);
	}
	if (r >= 0 && chan_maps() < 1) {
		r = -ENOTCONN; /* the channel was not used */
	}
	tr_mobj_destroy(&d);
	tr_mobj_destroy(&l);
	tr_mobj_destroy(&k);
	tr_manager_destroy(&m);
	if (r < 0) {
		tr_log(TR_LOG_ERROR, "busy_client: %s", tr_strerror(r));
	}
	return r < 0 ? 11 : 0;
}
TR_ACTOR(busy_client, busy_client)

static tr_process *
start_busy(
    tr_manager *m, tr_mobj *d, tr_mobj *l, tr_mobj *k, long n, int method)
{
	char        args[512], ptxt[TR_ADDR_STRLEN];
	tr_process *p;
	tr_msg     *msg;

	snprintf(args, sizeof(args), "%s %s %s %s %s %s %ld",
	    tr_manager_where(m), tr_manager_authkey(m), tr_mobj_ref(d),
	    tr_mobj_ref(l), tr_mobj_ref(k),
	    tr_addr_format(tr_self(), ptxt, sizeof(ptxt)), n);
	TR_ASSERT_OK(tr_process_new(&p, "busy_client", args, strlen(args)));
	TR_ASSERT_OK(tr_process_set_start_method(p, method));
	TR_ASSERT_OK(tr_process_start(p, TR_TEST_HANG_MS));
	TR_ASSERT_OK(tr_recv(&msg, TR_TEST_HANG_MS));
	tr_msg_destroy(&msg);
	return p;
}

static void
test_client_killed_mid_call(void **state)
{
	tr_manager *m;
	tr_mobj    *d, *l, *k;

	TR_ASSERT_OK(tr_manager_start(&m, NULL));
	TR_ASSERT_OK(tr_mobj_new(&d, m, TR_MOBJ_DICT, NULL, NULL));
	TR_ASSERT_OK(tr_mobj_new(&l, m, TR_MOBJ_LIST, NULL, NULL));
	TR_ASSERT_OK(tr_mobj_new(&k, m, TR_MOBJ_LOCK, NULL, NULL));
	for (int c = 0; c < 3; c++) {
		tr_process *victim, *other;
		tr_mval    *key = tr_mval_int(-1), *v = tr_mval_int(c);

		victim = start_busy(m, d, l, k, 0, methods[c]);
		other  = start_busy(m, d, l, k, 3000, methods[(c + 1) % 3]);
		usleep(30 * 1000); /* both in the middle of their calls */
		TR_ASSERT_OK(tr_process_kill(victim));
		assert_int_equal(tr_test_finish(&victim), -SIGKILL);
		/* the other client finishes its calls */
		assert_int_equal(tr_test_finish(&other), 0);
		/* the victim's lock is handed on, and the server serves */
		TR_ASSERT_ERR(
		    tr_mlock_acquire(k, TR_TEST_HANG_MS), TR_LOCK_OWNER_DIED);
		TR_ASSERT_OK(tr_mlock_release(k));
		TR_ASSERT_OK(tr_mdict_set(d, key, v));
		assert_true(tr_mobj_len(l) >= 3000);
		tr_mval_destroy(&key);
		tr_mval_destroy(&v);
	}
	tr_mobj_destroy(&d);
	tr_mobj_destroy(&l);
	tr_mobj_destroy(&k);
	tr_manager_destroy(&m);
}

/* ---- bad slot contents -------------------------------------------------- */

static Trwire__MgrReply *
raw_call(tr_manager *m, Trwire__MgrRequest *req)
{
	Trwire__MgrReply *rep = NULL;

	TR_ASSERT_OK(tr_call_pb(tr_manager_addr(m), &req->base,
	    &trwire__mgr_reply__descriptor, (ProtobufCMessage **) &rep,
	    TR_TEST_HANG_MS));
	return rep;
}

struct slot {
	struct tri_chan_page *p;
	int                   wfd;
	uint32_t              seq;
};

/* Authenticate by hand and ask for a channel; map it as a client does. */
static void
slot_open(tr_manager *m, struct slot *s)
{
	Trwire__MgrRequest req = TRWIRE__MGR_REQUEST__INIT;
	Trwire__MgrReply  *rep;
	tr_addr            a = tr_manager_addr(m);
	char               path[64];
	int                fd, mfd;

	req.op        = 1; /* HELLO */
	req.auth.data = (uint8_t *) tr_manager_authkey(m);
	req.auth.len  = TR_MANAGER_KEY_LEN;
	rep           = raw_call(m, &req);
	assert_int_equal(rep->result, 0);
	protobuf_c_message_free_unpacked(&rep->base, NULL);
	req    = (Trwire__MgrRequest) TRWIRE__MGR_REQUEST__INIT;
	req.op = 110; /* CHAN_OPEN */
	rep    = raw_call(m, &req);
	fd     = (int) rep->result;
	assert_true(fd >= 0);
	protobuf_c_message_free_unpacked(&rep->base, NULL);
	snprintf(path, sizeof(path), "/proc/%u/fd/%d", (unsigned) a.pid, fd);
	mfd = open(path, O_RDWR | O_CLOEXEC);
	assert_true(mfd >= 0);
	s->p = mmap(
	    NULL, TRI_CHAN_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	assert_true(s->p != MAP_FAILED);
	close(mfd);
	assert_int_equal(s->p->magic, TRI_CHAN_MAGIC);
	snprintf(path, sizeof(path), "/proc/%u/fd/%d", (unsigned) a.pid,
	    (int) s->p->wake_fd);
	s->wfd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	assert_true(s->wfd >= 0);
	s->seq = 100;
}

/* Write a record (header and n bytes) at off in the request area;
 * returns the offset after it. */
static uint32_t
slot_rec(struct slot *s, uint32_t off, uint32_t len, uint32_t flags,
    const void *data, size_t n)
{
	struct tri_chan_rec h    = { len, flags };
	uint8_t            *area = (uint8_t *) s->p + TRI_CHAN_HDR_SIZE;

	memcpy(area + off, &h, sizeof(h));
	memcpy(area + off + sizeof(h), data, n);
	return off + (uint32_t) (sizeof(h) + n);
}

/* A packed request as a record at off. */
static uint32_t
slot_req(
    struct slot *s, uint32_t off, const Trwire__MgrRequest *req, uint32_t flags)
{
	uint8_t buf[256];
	size_t  n = trwire__mgr_request__pack(req, buf);

	return slot_rec(s, off, (uint32_t) n, flags, buf, n);
}

static Trwire__MgrReply *
slot_reply(struct slot *s)
{
	uint8_t          *area = (uint8_t *) s->p + TRI_CHAN_HDR_SIZE;
	Trwire__MgrReply *rep;

	assert_int_equal(s->p->rep_status, 0);
	assert_int_equal(s->p->rep_seq, s->seq);
	rep = trwire__mgr_reply__unpack(
	    NULL, s->p->rep_len, area + TRI_CHAN_REQ_MAX);
	assert_non_null(rep);
	return rep;
}

/* Publish whatever the slot holds, as a client would, and wait (up to
 * 5 s) for a state in mask; returns the state seen last. */
static uint32_t
slot_publish(struct slot *s, uint32_t len, uint32_t flags, unsigned mask)
{
	int64_t  until = tr_test_now_ms() + 5000;
	uint32_t st;

	atomic_store(&s->p->req_len, len);
	atomic_store(&s->p->req_flags, flags);
	atomic_store(&s->p->req_seq, ++s->seq);
	atomic_store(&s->p->state, TRI_CHAN_REQ);
	atomic_store(&s->p->server_sleeping, 0);
	assert_int_equal(write(s->wfd, "", 1), 1);
	while (!(mask & 1u << (st = atomic_load(&s->p->state))) &&
	    tr_test_now_ms() < until) {
		usleep(1000);
	}
	return st;
}

static void
test_bad_slot_contents(void **state)
{
	Trwire__MgrRequest req = TRWIRE__MGR_REQUEST__INIT;
	Trwire__MgrRequest set = TRWIRE__MGR_REQUEST__INIT;
	Trwire__MgrReply  *rep;
	tr_manager        *m;
	tr_mobj           *d;
	tr_mval           *k = tr_mval_int(1), *v = tr_mval_int(2), *got;
	struct slot        s;
	uint8_t            kb[2] = { 0x20, 0x0a }, vb[2] = { 0x20, 0x0c };
	uint32_t           n;

	TR_ASSERT_OK(tr_manager_start(&m, NULL));
	TR_ASSERT_OK(tr_mobj_new(&d, m, TR_MOBJ_DICT, NULL, NULL));
	slot_open(m, &s);
	req.op  = 6; /* LEN */
	req.obj = strtoull(tr_mobj_ref(d) + 1, NULL, 10);
	/* a length past the slot: refused with TR_EBADFRAME */
	assert_int_equal(
	    slot_publish(&s, TRI_CHAN_REQ_MAX + 1, 0, 1u << TRI_CHAN_REPLY),
	    TRI_CHAN_REPLY);
	assert_int_equal(s.p->rep_status, TR_EBADFRAME);
	assert_int_equal(s.p->rep_seq, s.seq);
	atomic_store(&s.p->state, TRI_CHAN_IDLE);
	/* unknown flags, in the header or a record: the same */
	n = slot_req(&s, 0, &req, 0);
	assert_int_equal(
	    slot_publish(&s, n, 0x80, 1u << TRI_CHAN_REPLY), TRI_CHAN_REPLY);
	assert_int_equal(s.p->rep_status, TR_EBADFRAME);
	atomic_store(&s.p->state, TRI_CHAN_IDLE);
	n = slot_req(&s, 0, &req, 0x40);
	assert_int_equal(
	    slot_publish(&s, n, 0, 1u << TRI_CHAN_REPLY), TRI_CHAN_REPLY);
	assert_int_equal(s.p->rep_status, TR_EBADFRAME);
	atomic_store(&s.p->state, TRI_CHAN_IDLE);
	/* a record longer than the batch, an answered record before
	 * another, a batch whose flags lie about its last record */
	n = slot_rec(&s, 0, 100, 0, "\x30\x06", 2);
	assert_int_equal(
	    slot_publish(&s, n, 0, 1u << TRI_CHAN_REPLY), TRI_CHAN_REPLY);
	assert_int_equal(s.p->rep_status, TR_EBADFRAME);
	atomic_store(&s.p->state, TRI_CHAN_IDLE);
	n = slot_req(&s, slot_req(&s, 0, &req, 0), &req, 0);
	assert_int_equal(
	    slot_publish(&s, n, 0, 1u << TRI_CHAN_REPLY), TRI_CHAN_REPLY);
	assert_int_equal(s.p->rep_status, TR_EBADFRAME);
	atomic_store(&s.p->state, TRI_CHAN_IDLE);
	n = slot_req(&s, 0, &req, TRI_CHAN_ONEWAY);
	assert_int_equal(
	    slot_publish(&s, n, 0, 1u << TRI_CHAN_REPLY), TRI_CHAN_REPLY);
	assert_int_equal(s.p->rep_status, TR_EBADFRAME);
	atomic_store(&s.p->state, TRI_CHAN_IDLE);
	/* bytes that do not decode: the dispatch's own answer, in the slot */
	n = slot_rec(&s, 0, 3, 0, "\xff\xff\xff", 3);
	assert_int_equal(
	    slot_publish(&s, n, 0, 1u << TRI_CHAN_REPLY), TRI_CHAN_REPLY);
	rep = slot_reply(&s);
	assert_int_equal(rep->result, TR_EBADFRAME);
	protobuf_c_message_free_unpacked(&rep->base, NULL);
	atomic_store(&s.p->state, TRI_CHAN_IDLE);
	/* a one-way batch past the slot: dropped, the slot free again */
	assert_int_equal(
	    slot_publish(&s, 0xffffffffu, TRI_CHAN_ONEWAY, 1u << TRI_CHAN_IDLE),
	    TRI_CHAN_IDLE);
	/* a state no side writes: ignored, the other clients served */
	atomic_store(&s.p->state, 77);
	TR_ASSERT_OK(tr_mdict_set(d, k, v));
	assert_int_equal(s.p->state, 77);
	/* good requests through the same slot work afterwards: a batch of
	 * two one-way sets and a length, served in order */
	set.op         = 12; /* DICT_SET_NOWAIT */
	set.obj        = req.obj;
	set.key.data   = kb; /* 5 */
	set.key.len    = 2;
	set.value.data = vb;
	set.value.len  = 2;
	n              = slot_req(&s, 0, &set, TRI_CHAN_ONEWAY);
	kb[1]          = 0x0e; /* 7 */
	n              = slot_req(&s, n, &set, TRI_CHAN_ONEWAY);
	n              = slot_req(&s, n, &req, 0);
	assert_int_equal(
	    slot_publish(&s, n, 0, 1u << TRI_CHAN_REPLY), TRI_CHAN_REPLY);
	rep = slot_reply(&s);
	assert_int_equal(rep->result, 3);
	protobuf_c_message_free_unpacked(&rep->base, NULL);
	atomic_store(&s.p->state, TRI_CHAN_IDLE);
	TR_ASSERT_OK(tr_mdict_get(d, k, &got));
	assert_int_equal(tr_mval_get_int(got), 2);
	tr_mval_destroy(&got);
	assert_int_equal(tr_mobj_len(d), 3);
	munmap(s.p, TRI_CHAN_SIZE);
	close(s.wfd);
	tr_mval_destroy(&k);
	tr_mval_destroy(&v);
	tr_mobj_destroy(&d);
	tr_manager_destroy(&m);
}

/* ---- too big for the slot ----------------------------------------------- */

static void
test_oversized_falls_back(void **state)
{
	static const size_t sizes[] = { 100 << 10, 300 << 10, 1 << 20 };
	tr_manager         *m;
	tr_mobj            *d, *l;
	tr_mval            *k = tr_mval_int(0), *got = NULL, *sl = NULL;

	TR_ASSERT_OK(tr_manager_start(&m, NULL));
	TR_ASSERT_OK(tr_mobj_new(&d, m, TR_MOBJ_DICT, NULL, NULL));
	TR_ASSERT_OK(tr_mobj_new(&l, m, TR_MOBJ_LIST, NULL, NULL));
	TR_ASSERT_OK(tr_mobj_len(d));
	assert_true(chan_maps() >= 1);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		tr_mval *v = big_str('b', (int) i, sizes[i]);

		/* the request by mail, the reply in the slot or by mail */
		TR_ASSERT_OK(tr_mdict_set(d, k, v));
		TR_ASSERT_OK(tr_mdict_get(d, k, &got));
		assert_true(tr_mval_eq(got, v));
		tr_mval_destroy(&got);
		TR_ASSERT_OK(tr_mlist_append(l, v));
		TR_ASSERT_OK(tr_mlist_pop(l, -1, &got)); /* not idempotent */
		assert_true(tr_mval_eq(got, v));
		tr_mval_destroy(&got);
		TR_ASSERT_OK(tr_mlist_append_nowait(l, v));
		tr_mval_destroy(&v);
	}
	/* three items of 1.4 MiB in all: one reply by mail */
	TR_ASSERT_OK(tr_mlist_slice(l, 0, 10, &sl));
	assert_int_equal(tr_mval_len(sl), 3);
	tr_mval_destroy(&sl);
	assert_int_equal(tr_mobj_len(l), 3); /* small again: the slot */
	assert_true(chan_maps() >= 1);
	tr_mval_destroy(&k);
	tr_mobj_destroy(&d);
	tr_mobj_destroy(&l);
	tr_manager_destroy(&m);
}

/* ---- order -------------------------------------------------------------- */

/* One-way appends (in the slot, or by mail when the slot is busy or the
 * item too big), answered appends and reads, interleaved: the list holds
 * them in the order made, and every read sees the writes before it. */
static void
test_nowait_order(void **state)
{
	tr_manager *m;
	tr_mobj    *l, *d;
	tr_mval    *all = NULL, *k = tr_mval_str("k");
	const int   n = 600;

	TR_ASSERT_OK(tr_manager_start(&m, NULL));
	TR_ASSERT_OK(tr_mobj_new(&l, m, TR_MOBJ_LIST, NULL, NULL));
	TR_ASSERT_OK(tr_mobj_new(&d, m, TR_MOBJ_DICT, NULL, NULL));
	for (int i = 0; i < n; i++) {
		tr_mval *v =
		    i % 50 == 7 ? big_str('o', i, 70 << 10) : tr_mval_int(i);

		if (i % 4 == 3) {
			TR_ASSERT_OK(tr_mlist_append(l, v));
		} else {
			TR_ASSERT_OK(tr_mlist_append_nowait(l, v));
		}
		if (i % 7 == 0) {
			assert_int_equal(tr_mobj_len(l), i + 1);
		}
		tr_mval_destroy(&v);
	}
	TR_ASSERT_OK(tr_mlist_slice(l, 0, n, &all));
	assert_int_equal(tr_mval_len(all), n);
	for (int i = 0; i < n; i++) {
		const tr_mval *it = tr_mval_list_at(all, (size_t) i);

		if (i % 50 == 7) {
			char want[16];

			snprintf(want, sizeof(want), "o%d-", i);
			assert_int_equal(tr_mval_kind(it), TR_MVAL_STR);
			assert_memory_equal(
			    tr_mval_get_str(it), want, strlen(want));
		} else {
			assert_int_equal(tr_mval_get_int(it), i);
		}
	}
	tr_mval_destroy(&all);
	/* read your one-way writes */
	for (int i = 0; i < 300; i++) {
		tr_mval *v = tr_mval_int(i), *got = NULL;

		TR_ASSERT_OK(tr_mdict_set_nowait(d, k, v));
		TR_ASSERT_OK(tr_mdict_get(d, k, &got));
		assert_int_equal(tr_mval_get_int(got), i);
		tr_mval_destroy(&v);
		tr_mval_destroy(&got);
	}
	tr_mval_destroy(&k);
	tr_mobj_destroy(&l);
	tr_mobj_destroy(&d);
	tr_manager_destroy(&m);
}

/* ---- channels forgotten ------------------------------------------------- */

/* A handle's channel is forgotten when the handle is destroyed (the
 * client says so) and when its process dies: the manager does not
 * collect them. */
static void
test_channels_freed(void **state)
{
	tr_manager *m, *c;
	tr_mobj    *d, *l, *k;
	tr_process *p[3];
	pid_t       server;

	TR_ASSERT_OK(tr_manager_start(&m, NULL));
	TR_ASSERT_OK(tr_mobj_new(&d, m, TR_MOBJ_DICT, NULL, NULL));
	server = (pid_t) tr_manager_addr(m).pid;
	assert_int_equal(chan_fds(server), 1); /* ours */
	for (int i = 0; i < 20; i++) {
		TR_ASSERT_OK(tr_manager_connect(
		    &c, tr_manager_where(m), tr_manager_authkey(m)));
		TR_ASSERT_OK(tr_mobj_len(d)); /* through m's channel */
		tr_manager_destroy(&c);
	}
	for (int i = 0; i < 20; i++) {
		tr_mobj *o;

		TR_ASSERT_OK(tr_manager_connect(
		    &c, tr_manager_where(m), tr_manager_authkey(m)));
		TR_ASSERT_OK(tr_mobj_open(&o, c, tr_mobj_ref(d)));
		TR_ASSERT_OK(tr_mobj_len(o)); /* through c's channel */
		assert_true(chan_fds(server) >= 2);
		tr_mobj_destroy(&o);
		tr_manager_destroy(&c);
	}
	/* the closes come by mail: not ordered with m's channel */
	for (int i = 0; i < 500 && chan_fds(server) > 1; i++) {
		usleep(10 * 1000);
	}
	assert_int_equal(chan_fds(server), 1);
	/* clients that die keep theirs until their DOWN, then lose them */
	TR_ASSERT_OK(tr_mobj_new(&l, m, TR_MOBJ_LIST, NULL, NULL));
	TR_ASSERT_OK(tr_mobj_new(&k, m, TR_MOBJ_LOCK, NULL, NULL));
	for (int c2 = 0; c2 < 3; c2++) {
		p[c2] = start_busy(m, d, l, k, c2 == 0 ? 0 : -1, methods[c2]);
	}
	assert_int_equal(chan_fds(server), 4);
	for (int c2 = 0; c2 < 3; c2++) {
		TR_ASSERT_OK(tr_process_kill(p[c2]));
		assert_int_equal(tr_test_finish(&p[c2]), -SIGKILL);
	}
	for (int i = 0; i < 500 && chan_fds(server) > 1; i++) {
		usleep(10 * 1000);
		(void) tr_mobj_len(d);
	}
	assert_int_equal(chan_fds(server), 1);
	tr_mobj_destroy(&d);
	tr_mobj_destroy(&l);
	tr_mobj_destroy(&k);
	tr_manager_destroy(&m);
}

/* ---- start methods ------------------------------------------------------ */

/* Managers of each start method, clients of each: all take the channel
 * (busy_client checks it has one mapped) and all their calls land. */
static void
test_start_methods(void **state)
{
	for (int mm = 0; mm < 3; mm++) {
		tr_manager_opts o = { .start_method = methods[mm] };
		tr_manager     *m;
		tr_mobj        *d, *l, *k;
		tr_process     *p[3];

		TR_ASSERT_OK(tr_manager_start(&m, &o));
		TR_ASSERT_OK(tr_mobj_new(&d, m, TR_MOBJ_DICT, NULL, NULL));
		TR_ASSERT_OK(tr_mobj_new(&l, m, TR_MOBJ_LIST, NULL, NULL));
		TR_ASSERT_OK(tr_mobj_new(&k, m, TR_MOBJ_LOCK, NULL, NULL));
		for (int c = 0; c < 3; c++) {
			p[c] = start_busy(m, d, l, k, 200, methods[c]);
		}
		for (int c = 0; c < 3; c++) {
			assert_int_equal(tr_test_finish(&p[c]), 0);
		}
		assert_int_equal(tr_mobj_len(l), 600);
		assert_int_equal(tr_mobj_len(d), 100);
		tr_mobj_destroy(&d);
		tr_mobj_destroy(&l);
		tr_mobj_destroy(&k);
		tr_manager_destroy(&m);
	}
}

/* ---- the sync actor's lock ---------------------------------------------- */

/* args: "ADDR PARENT N": open the actor lock, then N acquire/release
 * pairs (N 0: acquire, tell the parent, hold it until killed); exit with
 * how many acquires said TR_LOCK_OWNER_DIED when all went well through a
 * channel, 11 otherwise. */
static int
lock_user(const void *args, size_t len)
{
	char     where[TR_ADDR_STRLEN], ptxt[TR_ADDR_STRLEN];
	tr_lock *l = NULL;
	tr_addr  parent;
	long     n;
	int      r, died = 0;

	if (sscanf(args, "%47s %47s %ld", where, ptxt, &n) != 3 ||
	    tr_addr_parse(ptxt, &parent) < 0) {
		return 10;
	}
	r = tr_lock_open(&l, where);
	if (r == 0 && n == 0) {
		r = tr_lock_acquire(l, TR_TEST_HANG_MS);
		r = r < 0 ? r : tr_send_bytes(parent, "h", 1, TR_TEST_HANG_MS);
		if (r >= 0) {
			pause(); /* until SIGKILL */
		}
	}
	for (long i = 0; r >= 0 && i < n; i++) {
		r = tr_lock_acquire(l, TR_TEST_HANG_MS);
		died += r == TR_LOCK_OWNER_DIED;
		r = r < 0 ? r : tr_lock_release(l);
	}
	if (r >= 0 && chan_maps() < 1) {
		r = -ENOTCONN;
	}
	tr_lock_destroy(&l);
	return r < 0 ? 11 : died;
}
TR_ACTOR(lock_user, lock_user)

static tr_process *
start_lock_user(tr_lock *l, long n, int method)
{
	char        args[256], ptxt[TR_ADDR_STRLEN];
	tr_process *p;

	snprintf(args, sizeof(args), "%s %s %ld", tr_lock_addr(l),
	    tr_addr_format(tr_self(), ptxt, sizeof(ptxt)), n);
	TR_ASSERT_OK(tr_process_new(&p, "lock_user", args, strlen(args)));
	TR_ASSERT_OK(tr_process_set_start_method(p, method));
	TR_ASSERT_OK(tr_process_start(p, TR_TEST_HANG_MS));
	return p;
}

/* The actor lock through the channel: clients of every start method
 * take turns; a holder SIGKILLed while the others wait in their channels
 * hands the lock on (its DOWN), and the next holder hears so. */
static void
test_sync_actor_lock(void **state)
{
	tr_sync_opts o = { .impl = TR_SYNC_ACTOR };
	tr_lock     *l;
	tr_process  *holder, *p[3];
	tr_msg      *msg;
	int          died = 0;

	TR_ASSERT_OK(tr_lock_new(&l, &o));
	TR_ASSERT_OK(tr_lock_acquire(l, TR_TEST_HANG_MS));
	TR_ASSERT_OK(tr_lock_release(l));
	assert_true(chan_maps() >= 1);
	holder = start_lock_user(l, 0, TR_START_SPAWN);
	TR_ASSERT_OK(tr_recv(&msg, TR_TEST_HANG_MS));
	tr_msg_destroy(&msg);
	TR_ASSERT_ERR(tr_lock_acquire(l, 0), -EAGAIN);
	for (int c = 0; c < 3; c++) {
		p[c] = start_lock_user(l, 500, methods[c]);
	}
	usleep(50 * 1000); /* the others wait for it, likely parked */
	TR_ASSERT_OK(tr_process_kill(holder));
	assert_int_equal(tr_test_finish(&holder), -SIGKILL);
	for (int c = 0; c < 3; c++) {
		int e = tr_test_finish(&p[c]);

		assert_true(e == 0 || e == 1);
		died += e;
	}
	/* the dead holder's release was reported to one of them, once */
	assert_int_equal(died, 1);
	TR_ASSERT_OK(tr_lock_acquire(l, TR_TEST_HANG_MS));
	TR_ASSERT_OK(tr_lock_release(l));
	tr_lock_destroy(&l);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_server_killed_while_waiting),
		cmocka_unit_test(test_client_killed_mid_call),
		cmocka_unit_test(test_bad_slot_contents),
		cmocka_unit_test(test_oversized_falls_back),
		cmocka_unit_test(test_nowait_order),
		cmocka_unit_test(test_start_methods),
		cmocka_unit_test(test_channels_freed),
		cmocka_unit_test(test_sync_actor_lock),
	};

	if (tr_init(argc, argv) < 0) {
		return 99;
	}
	if (getenv("TR_TEST_FILTER")) {
		cmocka_set_test_filter(getenv("TR_TEST_FILTER"));
	}
	return cmocka_run_group_tests_name("chan", tests, NULL, NULL);
}
