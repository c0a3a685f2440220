/* SPDX-License-Identifier: MIT */
/* Task functions and helpers shared by the pool tests (tr-test-pool.h). */
#include "tr-test-pool.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

const int tr_test_pool_methods[3] = { TR_TEST_POOL_FORK, TR_START_SPAWN,
	TR_START_FORKSERVER };

static void
sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long) (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR) { }
}

static int
read_i64(const void *item, size_t len, int64_t *x)
{
	if (len != sizeof(*x)) {
		return -EINVAL;
	}
	memcpy(x, item, sizeof(*x));
	return 0;
}

static int
read_i32(const void *item, size_t len, int32_t *x)
{
	if (len != sizeof(*x)) {
		return -EINVAL;
	}
	memcpy(x, item, sizeof(*x));
	return 0;
}

static int
put_pid(tr_pool_out *out)
{
	int32_t pid = (int32_t) getpid();

	return tr_pool_out_set(out, &pid, sizeof(pid));
}

static int
fn_sq(const void *item, size_t len, tr_pool_out *out)
{
	int64_t x;
	int     r = read_i64(item, len, &x);

	if (r < 0) {
		return r;
	}
	x *= x;
	return tr_pool_out_set(out, &x, sizeof(x));
}
TR_POOL_FN(sq, fn_sq)

static int
fn_neg_fails(const void *item, size_t len, tr_pool_out *out)
{
	int64_t x;
	int     r = read_i64(item, len, &x);

	if (r < 0) {
		return r;
	}
	sleep_ms((int) ((x < 0 ? -x : x) % 7));
	if (x < 0) {
		return tr_pool_out_fail(
		    out, -EDOM, "negative item %lld", (long long) x);
	}
	return tr_pool_out_set(out, &x, sizeof(x));
}
TR_POOL_FN(neg_fails, fn_neg_fails)

static int
fn_sleep_ms(const void *item, size_t len, tr_pool_out *out)
{
	int32_t ms;
	int     r = read_i32(item, len, &ms);

	if (r < 0) {
		return r;
	}
	sleep_ms(ms);
	return put_pid(out);
}
TR_POOL_FN(sleep_ms, fn_sleep_ms)

static int
fn_die(const void *item, size_t len, tr_pool_out *out)
{
	int32_t how;
	int     r = read_i32(item, len, &how);

	if (r < 0) {
		return r;
	}
	switch (how) {
	case 1:
		raise(SIGKILL);
		break;
	case 2:
		raise(SIGSEGV);
		break;
	case 3:
		_exit(3);
	default:
		break;
	}
	return put_pid(out);
}
TR_POOL_FN(die, fn_die)

static int
fn_die_once(const void *item, size_t len, tr_pool_out *out)
{
	char path[512];
	int  fd;

	if (len >= sizeof(path)) {
		return -EINVAL;
	}
	memcpy(path, item, len);
	path[len] = '\0';
	fd        = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	if (fd >= 0) {
		close(fd);
		raise(SIGKILL);
	}
	return put_pid(out);
}
TR_POOL_FN(die_once, fn_die_once)

static int
fn_half(const void *item, size_t len, tr_pool_out *out)
{
	double x;

	if (len != sizeof(x)) {
		return -EINVAL;
	}
	memcpy(&x, item, sizeof(x));
	x /= 2;
	return tr_pool_out_set(out, &x, sizeof(x));
}
TR_POOL_FN(half, fn_half)

static int
fn_add(const void *item, size_t len, tr_pool_out *out)
{
	tr_pool_item a[2];
	int64_t      x, y;
	int          n = tr_pool_args_parse(item, len, a, 2);

	if (n < 0) {
		return n;
	}
	if (n != 2 || a[0].len != sizeof(x) || a[1].len != sizeof(y)) {
		return tr_pool_out_fail(out, -EINVAL, "add takes two int64s");
	}
	memcpy(&x, a[0].data, sizeof(x));
	memcpy(&y, a[1].data, sizeof(y));
	x += y;
	return tr_pool_out_set(out, &x, sizeof(x));
}
TR_POOL_FN(add, fn_add)

static int
fn_toobig(const void *item, size_t len, tr_pool_out *out)
{
	static char big[8192];

	/* this worker may now send no message over 1 KiB */
	(void) tr_mailbox_set_max_size(1024);
	return tr_pool_out_set(out, big, sizeof(big));
}
TR_POOL_FN(toobig, fn_toobig)

static int
fn_echo(const void *item, size_t len, tr_pool_out *out)
{
	return tr_pool_out_set(out, item, len);
}
TR_POOL_FN(echo, fn_echo)

static int
fn_pid(const void *item, size_t len, tr_pool_out *out)
{
	return put_pid(out);
}
TR_POOL_FN(pid, fn_pid)

static char init_val[64];

static int
fn_init_val(const void *item, size_t len, tr_pool_out *out)
{
	return tr_pool_out_set(out, init_val, strlen(init_val));
}
TR_POOL_FN(init_val, fn_init_val)

static int
set_val(const void *args, size_t len)
{
	snprintf(
	    init_val, sizeof(init_val), "%.*s", (int) len, (const char *) args);
	return 0;
}
TR_POOL_INITIALIZER(set_val, set_val)

static int
init_fails(const void *args, size_t len)
{
	return tr_fail(-EPERM, "init_fails: as asked");
}
TR_POOL_INITIALIZER(init_fails, init_fails)

void
tr_test_pool_items(tr_pool_item *items, const int64_t *vals, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		items[i].data = &vals[i];
		items[i].len  = sizeof(vals[i]);
	}
}

int64_t
tr_test_pool_i64(tr_pool_result *r, size_t i)
{
	size_t      len = 0;
	const void *d   = tr_pool_result_data(r, i, &len);
	int64_t     x;

	assert_non_null(d);
	assert_int_equal(len, sizeof(x));
	memcpy(&x, d, sizeof(x));
	return x;
}

int32_t
tr_test_pool_i32(tr_pool_result *r, size_t i)
{
	size_t      len = 0;
	const void *d   = tr_pool_result_data(r, i, &len);
	int32_t     x;

	assert_non_null(d);
	assert_int_equal(len, sizeof(x));
	memcpy(&x, d, sizeof(x));
	return x;
}

tr_pool *
tr_test_pool_new(int n, int method, int retries)
{
	tr_pool_opts o = {
		.processes = n, .start_method = method, .retries = retries
	};
	tr_pool *p = NULL;

	TR_ASSERT_OK(tr_pool_new(&p, &o));
	return p;
}
