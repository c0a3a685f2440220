/* SPDX-License-Identifier: MIT */
/* Per-pair sequence numbers across nodes (runtime/node-pairs.c) and the
 * tally of messages dropped from a down node's queue (node-queue.c): the
 * pure parts of issue 13's gap reports and queues. */
#include "tr-test.h"

#include <string.h>

#include "node-pairs.h"
#include "node-queue.h"

static const tr_addr A = { 7, 100, 1 }, B = { 9, 200, 2 }, C = { 9, 300, 3 };

/* The sender numbers each pair on its own; the receiver finds exactly
 * the missing ones. */
static void
test_pairs_number_and_find_gaps(void **state)
{
	struct tri_node_pairs out = { 0 }, in = { 0 };
	uint64_t              first;

	(void) state;
	assert_int_equal(tri_node_pairs_next(&out, A, B), 1);
	assert_int_equal(tri_node_pairs_next(&out, A, B), 2);
	assert_int_equal(tri_node_pairs_next(&out, A, C), 1);
	assert_int_equal(tri_node_pairs_next(&out, B, A), 1);
	assert_int_equal(tri_node_pairs_next(&out, A, B), 3);
	/* unsent: its number is given again */
	tri_node_pairs_undo(&out, A, B, 3);
	assert_int_equal(tri_node_pairs_next(&out, A, B), 3);
	tri_node_pairs_undo(&out, A, C, 1);
	assert_int_equal(tri_node_pairs_next(&out, A, C), 1);

	assert_int_equal(tri_node_pairs_check(&in, A, B, 1, &first), 0);
	assert_int_equal(tri_node_pairs_check(&in, A, B, 2, &first), 0);
	assert_int_equal(tri_node_pairs_check(&in, A, B, 6, &first), 3);
	assert_int_equal(first, 3);
	/* another pair is apart; its first ones lost count too */
	assert_int_equal(tri_node_pairs_check(&in, A, C, 4, &first), 3);
	assert_int_equal(first, 1);
	/* unnumbered: never a gap */
	assert_int_equal(tri_node_pairs_check(&in, A, B, 0, &first), 0);
	assert_int_equal(tri_node_pairs_check(&in, A, B, 7, &first), 0);
	/* a number not above the last: the sender started again */
	assert_int_equal(tri_node_pairs_check(&in, A, B, 1, &first), 0);
	assert_int_equal(tri_node_pairs_check(&in, A, B, 3, &first), 1);
	assert_int_equal(first, 2);
	tri_node_pairs_free(&out);
	tri_node_pairs_free(&in);
}

/* Forgetting a node (its agent restarted) restarts its pairs only. */
static void
test_pairs_forget_a_node(void **state)
{
	struct tri_node_pairs t = { 0 };
	uint64_t              first;

	(void) state;
	for (int i = 0; i < 5; i++) {
		(void) tri_node_pairs_next(&t, A, B);
		(void) tri_node_pairs_next(&t, B, A);
		(void) tri_node_pairs_next(&t, (tr_addr) { 5, 1, 1 }, A);
	}
	tri_node_pairs_forget_node(&t, 9);
	assert_int_equal(tri_node_pairs_next(&t, A, B), 1);
	assert_int_equal(tri_node_pairs_next(&t, B, A), 1);
	assert_int_equal(tri_node_pairs_next(&t, (tr_addr) { 5, 1, 1 }, A), 6);
	/* receiver: a forgotten pair's first number above 1 is a gap */
	tri_node_pairs_forget_node(&t, 5);
	assert_int_equal(
	    tri_node_pairs_check(&t, (tr_addr) { 5, 1, 1 }, A, 3, &first), 2);
	tri_node_pairs_free(&t);
}

/* Many pairs: the table grows, then, full, forgets everything; a
 * receiver that forgot reports no gap it cannot know. */
static void
test_pairs_bounded(void **state)
{
	struct tri_node_pairs t = { 0 };
	uint64_t              first;

	(void) state;
	for (uint32_t i = 1; i <= TRI_NODE_PAIRS_MAX; i++) {
		assert_int_equal(
		    tri_node_pairs_next(&t, A, (tr_addr) { 9, i, 1 }), 1);
	}
	assert_int_equal(t.n, TRI_NODE_PAIRS_MAX);
	assert_int_equal(tri_node_pairs_next(&t, A, (tr_addr) { 9, 1, 1 }), 2);
	/* one more pair: cleared */
	assert_int_equal(tri_node_pairs_next(&t, B, A), 1);
	assert_int_equal(t.n, 1);
	assert_true(t.forgot);
	assert_int_equal(tri_node_pairs_next(&t, A, (tr_addr) { 9, 1, 1 }), 1);
	assert_int_equal(tri_node_pairs_check(&t, C, A, 5, &first), 0);
	tri_node_pairs_free(&t);
}

/* Drops are tallied per sender, recipient and kind. */
static void
test_drops_tally(void **state)
{
	struct tri_node_drops d = { 0 };

	(void) state;
	for (int i = 0; i < 5; i++) {
		tri_node_drops_add(&d, A, B, 1);
	}
	tri_node_drops_add(&d, A, C, 1);
	tri_node_drops_add(&d, A, B, 2);
	for (int i = 0; i < 40; i++) { /* grows */
		tri_node_drops_add(
		    &d, (tr_addr) { 0, (uint32_t) i + 1, 1 }, B, 1);
	}
	assert_int_equal(d.n, 43);
	assert_int_equal(d.d[0].count, 5);
	assert_true(tr_addr_eq(d.d[0].to, B));
	assert_int_equal(d.d[1].count, 1);
	assert_int_equal(d.d[2].kind, 2);
	tri_node_drops_free(&d);
	assert_int_equal(d.n, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pairs_number_and_find_gaps),
		cmocka_unit_test(test_pairs_forget_a_node),
		cmocka_unit_test(test_pairs_bounded),
		cmocka_unit_test(test_drops_tally),
	};

	return cmocka_run_group_tests_name("node-pairs", tests, NULL, NULL);
}
