/*
 * libFuzzer harness for the STUN parser and everything that reads a parsed
 * message. Beyond "no crash under ASan/UBSan" it checks invariants: parsed
 * attributes lie inside the message, and a message rebuilt from its parsed
 * attributes parses to the same attributes.
 */
#include <string.h>

#include "fuzz/fuzz.h"

#include "stun.h"

static void read_everything(const struct stun_msg *m)
{
	static const uint8_t key[] = "fuzz";
	struct sockaddr_storage ss;
	uint16_t types[8], port;
	const char *reason;
	size_t n, reason_len;
	unsigned code;
	uint32_t v;

	for (size_t i = 0; i < m->nattrs; i++) {
		const struct stun_attr *a = &m->attrs[i];

		CHECK(a->offset >= STUN_HEADER_LEN + 4);
		CHECK((size_t)a->offset + a->len <= m->len);
		CHECK(i == 0 || a->offset > m->attrs[i - 1].offset);
		(void)stun_attr_addr(m, a, &ss);
		(void)stun_attr_u32(m, a, &v);
		(void)stun_attr_name(a->type);
	}
	(void)stun_get_error(m, &code, &reason, &reason_len);
	(void)stun_get_unknown(m, types, 8, &n);
	(void)stun_get_response_port(m, &port);
	(void)stun_check_fingerprint(m);
	(void)stun_check_integrity(m, key, 4);
	(void)stun_check_integrity_sha256(m, key, 4);
}

static void rebuild(const struct stun_msg *m, enum stun_err first)
{
	static uint8_t out[STUN_HEADER_LEN + 0x10000];
	struct stun_builder b;
	struct stun_msg again;
	size_t len;

	stun_build_start(&b, out, sizeof(out), m->type, m->cookie, m->tid);
	for (size_t i = 0; i < m->nattrs; i++)
		stun_build_attr(&b, m->attrs[i].type, stun_attr_value(m, &m->attrs[i]),
				m->attrs[i].len);
	CHECK(stun_build_end(&b, &len) == STUN_OK);
	CHECK(stun_parse(&again, out, len, STUN_PARSE_LEGACY) == first);
	CHECK(again.nattrs == m->nattrs);
	for (size_t i = 0; i < m->nattrs; i++)
		CHECK(again.attrs[i].type == m->attrs[i].type &&
		      again.attrs[i].len == m->attrs[i].len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct stun_msg m;
	enum stun_err err;
	size_t frame;

	err = stun_parse(&m, data, size, STUN_PARSE_LEGACY);
	CHECK((unsigned)err < STUN_ERR_COUNT && stun_strerror(err));
	if (err == STUN_OK || err == STUN_ERR_UNKNOWN_REQUIRED) {
		CHECK(m.len == size);
		read_everything(&m);
		rebuild(&m, err);
	}
	if (stun_frame_length(data, size, &frame) == STUN_OK && frame && frame <= size)
		(void)stun_parse(&m, data, frame, 0);
	return 0;
}
