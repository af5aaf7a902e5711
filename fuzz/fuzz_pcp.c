/*
 * libFuzzer harness for the PCP response parser and everything that reads a
 * parsed response. Beyond "no crash under ASan/UBSan" it checks invariants:
 * options lie inside the message, aligned and in order; a parsed MAP
 * response matches the request it echoes. The input also seeds a MAP
 * request, which with the R bit set must parse as its own matching echo.
 */
#include <string.h>

#include <netinet/in.h>

#include "fuzz/fuzz.h"

#include "pcp.h"
#include "wire.h"

static void read_options(const struct pcp_response *r)
{
	unsigned sum = 0;

	CHECK(r->noptions <= PCP_MAX_OPTIONS);
	for (size_t i = 0; i < r->noptions; i++) {
		const struct pcp_option *o = &r->options[i];
		const uint8_t *v = pcp_option_value(r, o);

		CHECK(o->offset >= PCP_HEADER_LEN + 4 && o->offset % 4 == 0);
		CHECK((size_t)o->offset + o->len <= r->len);
		CHECK(i == 0 || o->offset > r->options[i - 1].offset);
		CHECK(pcp_find_option(r, o->code) != NULL);
		for (size_t j = 0; j < o->len; j++)
			sum += v[j];
	}
	(void)sum;
}

static void read_everything(const struct pcp_response *r, size_t size)
{
	struct sockaddr_storage ss;
	struct pcp_map_request req = {0};
	enum pcp_err err;

	CHECK(r->len == size && size <= PCP_MAX_LEN && size % 4 == 0);
	CHECK(r->version == PCP_VERSION && r->r_bit);
	CHECK(pcp_opcode_name(r->opcode) != NULL);
	CHECK(r->has_payload || r->result != PCP_SUCCESS);
	(void)pcp_result_name(r->result);
	read_options(r);

	err = pcp_external(r, &ss);
	CHECK(err == PCP_OK || err == PCP_ERR_NOT_FOUND);
	if (err == PCP_OK)
		CHECK(ss.ss_family ==
		      (pcp_addr_is_v4mapped(r->external_addr) ? AF_INET : AF_INET6));

	memcpy(req.nonce, r->nonce, PCP_NONCE_LEN);
	req.protocol = r->protocol;
	req.internal_port = r->internal_port;
	err = pcp_map_match(r, &req);
	if (r->opcode == PCP_OP_MAP && r->has_payload)
		CHECK(err == PCP_OK);
	else
		CHECK(err != PCP_OK);
}

static void put_addr(struct sockaddr_storage *ss, const uint8_t *bytes, bool v6)
{
	memset(ss, 0, sizeof(*ss));
	if (v6) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		sin6->sin6_family = AF_INET6;
		memcpy(&sin6->sin6_addr, bytes, 16);
	} else {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		memcpy(&sin->sin_addr, bytes, 4);
	}
}

/* RFC 6887 sections 5 and 11.1, written out again: IPv4 as ::ffff:a.b.c.d,
 * and no suggestion as the all-zeros address of the client's family. */
static void expected_suggestion(const uint8_t *data, uint8_t out[16])
{
	static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	bool client_v6 = data[4] & 1, given = data[4] & 2, v6 = data[4] & 4;

	memset(out, 0, 16);
	if (given && v6) {
		memcpy(out, data + 38, 16);
	} else if (given) {
		memcpy(out, v4mapped, 12);
		memcpy(out + 12, data + 38, 4);
	} else if (!client_v6 || memcmp(data + 22, v4mapped, 12) == 0) {
		memcpy(out, v4mapped, 12);
	}
}

/*
 * Input bytes 0-3 lifetime, 4 flags (1: IPv6 client, 2: a suggested address,
 * 4: an IPv6 one), 5 protocol, 6-7 internal port, 8-9 suggested port, 10-21
 * nonce, 22-37 client address, 38-53 suggested address.
 */
static void build_echo(const uint8_t *data, size_t size)
{
	uint8_t buf[PCP_HEADER_LEN + PCP_MAP_LEN], want[16];
	struct pcp_map_request req = {0};
	struct pcp_response r;
	enum pcp_err err;
	size_t len;

	if (size < 54)
		return;
	req.lifetime = wire_get32(data);
	put_addr(&req.client, data + 22, data[4] & 1);
	if (data[4] & 2)
		put_addr(&req.suggested_addr, data + 38, data[4] & 4);
	req.protocol = data[5];
	req.internal_port = wire_get16(data + 6);
	req.suggested_port = wire_get16(data + 8);
	memcpy(req.nonce, data + 10, PCP_NONCE_LEN);

	err = pcp_build_map(&req, buf, sizeof(buf), &len);
	if (req.protocol == 0 && req.internal_port != 0) {
		CHECK(err == PCP_ERR_BAD_ARGUMENT && len == 0);
		return;
	}
	CHECK(err == PCP_OK && len == sizeof(buf));
	CHECK(pcp_parse_response(&r, buf, len) == PCP_ERR_NOT_RESPONSE);
	buf[1] |= PCP_R_BIT;
	CHECK(pcp_parse_response(&r, buf, len) == PCP_OK);
	CHECK(pcp_map_match(&r, &req) == PCP_OK);
	CHECK(r.lifetime == req.lifetime && r.external_port == req.suggested_port);
	expected_suggestion(data, want);
	CHECK(memcmp(r.external_addr, want, 16) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pcp_response r;
	enum pcp_err err;

	err = pcp_parse_response(&r, data, size);
	CHECK((unsigned)err < PCP_ERR_COUNT && pcp_strerror(err) && pcp_err_name(err));
	if (err == PCP_OK)
		read_everything(&r, size);
	if (err == PCP_ERR_VERSION)
		CHECK(r.version != PCP_VERSION);
	build_echo(data, size);
	return 0;
}
