/* SPDX-License-Identifier: MIT */
/* Addresses and the envelope codec: round trips and hostile input. */
#include "tr-test.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "msg.h"

static void
test_addr_round_trip(void **state)
{
	tr_addr a = { 0, 4242, 1234567890123ull }, b;
	char	txt[TR_ADDR_STRLEN];

	assert_string_equal(tr_addr_format(a, txt, sizeof(txt)),
			    "0.4242.1234567890123");
	TR_ASSERT_OK(tr_addr_parse(txt, &b));
	assert_true(tr_addr_eq(a, b));
	assert_false(tr_addr_is_null(b));
	assert_true(tr_addr_is_null(TR_ADDR_NULL));
}

static void
test_addr_rejects_garbage(void **state)
{
	static const char *bad[] = { "", "x", "1.2", "1.2.3.4", "0.0.5",
				     "0.-1.5", " 0.1.2", "0.1.2 ", "0.1.2x",
				     "99999999999.1.2", "0.4294967296.1" };
	tr_addr a;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		TR_ASSERT_ERR(tr_addr_parse(bad[i], &a), TR_EBADADDR);
	}
	TR_ASSERT_ERR(tr_addr_parse(NULL, &a), -EINVAL);
}

static void
test_envelope_round_trip(void **state)
{
	struct tri_env e, d;
	uint8_t	       buf[TRI_ENV_MAX];
	int	       n;

	memset(&e, 0, sizeof(e));
	e.sender      = (tr_addr) { 0, 10, 20 };
	e.recipient   = (tr_addr) { 0, 11, 21 };
	e.reply_to    = (tr_addr) { 0, 12, 22 };
	e.id	      = 7;
	e.correlation = 99;
	e.flags	      = TRI_FLAG_REPLY;
	strcpy(e.type, "pkg.Type");
	memset(e.trace_id, 0xab, 16);
	e.span_id      = 5;
	e.lamport      = 6;
	e.send_time_ns = 123456789;
	n	       = tri_env_encode(&e, buf, sizeof(buf));
	assert_true(n > 0);
	TR_ASSERT_OK(tri_env_decode(buf, (size_t) n, &d));
	assert_true(tr_addr_eq(d.sender, e.sender));
	assert_true(tr_addr_eq(d.recipient, e.recipient));
	assert_true(tr_addr_eq(d.reply_to, e.reply_to));
	assert_int_equal(d.id, 7);
	assert_int_equal(d.correlation, 99);
	assert_int_equal(d.flags, TRI_FLAG_REPLY);
	assert_string_equal(d.type, "pkg.Type");
	assert_memory_equal(d.trace_id, e.trace_id, 16);
	assert_int_equal(d.lamport, 6);
	assert_int_equal(d.send_time_ns, 123456789);
	/* too small a buffer is refused, not overrun */
	assert_int_equal(tri_env_encode(&e, buf, 8), -ENOBUFS);
}

static void
test_envelope_decoder_survives_garbage(void **state)
{
	struct tri_env e, d;
	uint8_t	       buf[TRI_ENV_MAX], junk[TRI_ENV_MAX + 8];
	int	       n;

	memset(&e, 0, sizeof(e));
	e.sender    = (tr_addr) { 0, 1, 2 };
	e.recipient = (tr_addr) { 0, 3, 4 };
	n	    = tri_env_encode(&e, buf, sizeof(buf));
	/* every truncation of a valid envelope */
	for (int cut = 0; cut < n; cut++) {
		(void) tri_env_decode(buf, (size_t) cut, &d);
	}
	/* missing sender/recipient is malformed */
	TR_ASSERT_ERR(tri_env_decode((const uint8_t *) "", 0, &d), TR_EBADFRAME);
	TR_ASSERT_ERR(tri_env_decode(junk, sizeof(junk), &d), TR_EBADFRAME);
	/* random bytes: must never crash, decode or fail cleanly */
	srand(42);
	for (int i = 0; i < 200000; i++) {
		size_t len = (size_t) (rand() % 64) + 1;

		for (size_t j = 0; j < len; j++) {
			junk[j] = (uint8_t) rand();
		}
		if (i % 2) { /* mutate a valid one */
			memcpy(junk, buf, (size_t) n);
			junk[rand() % n] ^= (uint8_t) (1 << (rand() % 8));
			len = (size_t) n;
		}
		(void) tri_env_decode(junk, len, &d);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_addr_round_trip),
		cmocka_unit_test(test_addr_rejects_garbage),
		cmocka_unit_test(test_envelope_round_trip),
		cmocka_unit_test(test_envelope_decoder_survives_garbage),
	};

	return cmocka_run_group_tests_name("codec", tests, NULL, NULL);
}
