/* fuzz_proxy_proto.c - libFuzzer target: the PROXY v1/v2 parser. It is
 * stateless and called again with every longer prefix as octets arrive, so the
 * answer for every prefix must be consistent with the answer for the whole:
 * NEED_MORE up to some length, then always the same DONE (same header, same
 * addresses) or always INVALID; never NEED_MORE past PROXY_PROTO_MAX octets.
 * The whole input is also fed as two reads split at an input-chosen point.
 *
 * Input: octet 0 picks the mode (bits 0-1) , octet 1 the split point; the rest
 * is what the connection received. */
#include <string.h>
#include <netinet/in.h>

#include "fuzz.h"
#include "proxy_proto.h"

static void
same_done(const struct proxy_proto_result *a, const struct proxy_proto_result *b)
{
	CHECK(a->len == b->len && a->version == b->version && a->command == b->command);
	CHECK(a->family == b->family);
	CHECK(memcmp(&a->src, &b->src, sizeof(a->src)) == 0);
	CHECK(memcmp(&a->dst, &b->dst, sizeof(a->dst)) == 0);
}

static void
check_one(enum proxy_proto_mode mode, const uint8_t *buf, size_t len,
          enum proxy_proto_status st, const struct proxy_proto_result *r)
{
	CHECK(st == PROXY_PROTO_NEED_MORE || st == PROXY_PROTO_INVALID || st == PROXY_PROTO_DONE);
	if (st == PROXY_PROTO_NEED_MORE)
		CHECK(len < PROXY_PROTO_MAX && mode != PROXY_PROTO_NO);
	if (st == PROXY_PROTO_INVALID)
		CHECK(r->reason != NULL && r->reason[0] != '\0');
	if (st != PROXY_PROTO_DONE)
		return;
	CHECK(r->len > 0 && r->len <= len && r->len <= PROXY_PROTO_MAX);
	CHECK(r->version == 1 || r->version == 2);
	if (r->version == 1) {
		CHECK(mode == PROXY_PROTO_V1 || mode == PROXY_PROTO_ANY);
		CHECK(r->len <= PROXY_PROTO_V1_MAX && r->len >= 8);
		CHECK(memcmp(buf, "PROXY ", 6) == 0);
		CHECK(buf[r->len - 2] == '\r' && buf[r->len - 1] == '\n');
		CHECK(memchr(buf, '\n', r->len - 1) == NULL);
		CHECK(r->command == PROXY_CMD_PROXY);
	} else {
		CHECK(mode == PROXY_PROTO_V2 || mode == PROXY_PROTO_ANY);
		CHECK(r->len >= 16 && (buf[12] & 0xF0) == 0x20);
		CHECK(r->len == 16 + ((size_t)buf[14] << 8 | buf[15]));
		CHECK(r->command == ((buf[12] & 0x0F) == 0 ? PROXY_CMD_LOCAL : PROXY_CMD_PROXY));
	}
	if (r->command == PROXY_CMD_LOCAL)
		CHECK(r->family == AF_UNSPEC);
	CHECK(r->family == AF_UNSPEC || r->family == AF_INET || r->family == AF_INET6);
	if (r->family != AF_UNSPEC) {
		CHECK(r->src.ss_family == r->family && r->dst.ss_family == r->family);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum proxy_proto_mode mode;
	const uint8_t *buf;
	size_t len, split, first = SIZE_MAX, lim;
	struct proxy_proto_result whole, r, firstr;
	enum proxy_proto_status wst, st, firstst = PROXY_PROTO_NEED_MORE;

	if (size < 2)
		return 0;
	mode = (enum proxy_proto_mode)(data[0] & 3);
	buf = data + 2;
	len = size - 2;
	split = data[1] % (len + 1);

	/* A copy of exactly len octets, so ASan sees any read past the end. */
	uint8_t *copy = malloc(len ? len : 1);
	CHECK(copy != NULL);
	memcpy(copy, buf, len);
	wst = proxy_proto_parse(mode, copy, len, &whole);
	check_one(mode, copy, len, wst, &whole);

	/* Every prefix (up to a little past the longest header). */
	lim = len < PROXY_PROTO_MAX + 8 ? len : PROXY_PROTO_MAX + 8;
	for (size_t i = 0; i <= lim; i++) {
		uint8_t *pre = malloc(i ? i : 1);
		CHECK(pre != NULL);
		memcpy(pre, buf, i);
		st = proxy_proto_parse(mode, pre, i, &r);
		check_one(mode, pre, i, st, &r);
		free(pre);
		if (first == SIZE_MAX) {
			if (st != PROXY_PROTO_NEED_MORE) {
				first = i;
				firstst = st;
				firstr = r;
			}
		} else {
			CHECK(st == firstst);
			if (st == PROXY_PROTO_DONE)
				same_done(&r, &firstr);
		}
	}
	if (first == SIZE_MAX) {
		CHECK(wst == PROXY_PROTO_NEED_MORE && len < PROXY_PROTO_MAX);
	} else {
		CHECK(wst == firstst);
		if (wst == PROXY_PROTO_DONE) {
			same_done(&whole, &firstr);
			CHECK(first == whole.len);   /* DONE as soon as the header is complete */
		}
	}

	/* Two reads, as the listener sees them: parse after the first, and after
	 * the second when the first needed more. */
	st = proxy_proto_parse(mode, copy, split, &r);
	if (st == PROXY_PROTO_NEED_MORE)
		st = proxy_proto_parse(mode, copy, len, &r);
	CHECK(st == wst);
	if (st == PROXY_PROTO_DONE)
		same_done(&r, &whole);
	free(copy);
	return 0;
}
