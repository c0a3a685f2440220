/* SPDX-License-Identifier: MIT */
/* libFuzzer target: the address parser, tr_addr_parse(), which reads
 * addresses from the command line (the troupe tool), from names files in
 * the runtime directory and from applications.  What parses formats back
 * to text that parses to the same address. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char    text[256], out[TR_ADDR_STRLEN];
	tr_addr a, b;

	if (size >= sizeof(text)) {
		size = sizeof(text) - 1;
	}
	memcpy(text, data, size);
	text[size] = '\0';
	if (tr_addr_parse(text, &a) < 0) {
		return 0;
	}
	if (tr_addr_is_null(a) ||
	    tr_addr_parse(tr_addr_format(a, out, sizeof(out)), &b) < 0 ||
	    !tr_addr_eq(a, b)) {
		abort();
	}
	return 0;
}
