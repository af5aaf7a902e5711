/*
 * PCP message codec. See pcp.h for the contract.
 *
 * RFC 6887 section 7.1, the request header:
 *
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |  Version = 2  |R|   Opcode    |         Reserved              |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |                 Requested Lifetime (32 bits)                  |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |            PCP Client's IP Address (128 bits)                 |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  :             (optional) Opcode-specific information            :
 *  :             (optional) PCP Options                            :
 *
 * Section 7.2, the response header:
 *
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |  Version = 2  |R|   Opcode    |   Reserved    |  Result Code  |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |                      Lifetime (32 bits)                       |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |                     Epoch Time (32 bits)                      |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |                      Reserved (96 bits)                       |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  :             (optional) Opcode-specific response data          :
 *  :             (optional) Options                                :
 *
 * Section 11.1, MAP's payload, the same in request and response; a
 * response carries the assigned port and address where the request
 * suggested them. PEER's (section 12.1) is MAP's followed by Remote Peer
 * Port (16 bits), Reserved (16 bits), Remote Peer IP Address (128 bits).
 *
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |                 Mapping Nonce (96 bits)                       |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |   Protocol    |          Reserved (24 bits)                   |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |        Internal Port          |    Suggested External Port    |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |           Suggested External IP Address (128 bits)            |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * Section 7.3, options, padded to a multiple of four bytes (the length
 * leaves the padding out):
 *
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |  Option Code  |  Reserved     |       Option Length           |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  :                       (optional) Data                         :
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 */
#include "pcp.h"

#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "wire.h"

#define PAD4(n) (((n) + 3u) & ~(size_t)3u)

static const struct {
	const char *name;
	const char *text;
} err_table[PCP_ERR_COUNT] = {
    [PCP_OK] = {"ok", "no error"},
    [PCP_ERR_TOO_SHORT] = {"too-short", "shorter than a PCP response header"},
    [PCP_ERR_TOO_LONG] = {"too-long", "longer than PCP's largest message, 1100 bytes"},
    [PCP_ERR_BAD_LENGTH] = {"bad-length", "the length is not a multiple of 4"},
    [PCP_ERR_VERSION] = {"version", "not PCP version 2 (version 0: a NAT-PMP server)"},
    [PCP_ERR_NOT_RESPONSE] = {"not-response", "the R bit is clear: a request, not a response"},
    [PCP_ERR_UNKNOWN_OPCODE] = {"unknown-opcode", "an opcode other than ANNOUNCE, MAP or PEER"},
    [PCP_ERR_TRUNCATED_OPCODE] = {"truncated-opcode", "the opcode's payload is cut short"},
    [PCP_ERR_TRUNCATED_OPTION] = {"truncated-option", "an option runs past the end of the message"},
    [PCP_ERR_BAD_OPTION_LENGTH] = {"bad-option-length", "an option's length is wrong for its code"},
    [PCP_ERR_TOO_MANY_OPTIONS] = {"too-many-options", "more options than natlab accepts"},
    [PCP_ERR_NOT_FOUND] = {"not-found", "the option or payload is not in the response"},
    [PCP_ERR_OPCODE_MISMATCH] = {"opcode-mismatch", "not a MAP response"},
    [PCP_ERR_NONCE_MISMATCH] = {"nonce-mismatch", "the mapping nonce is not the request's"},
    [PCP_ERR_PROTOCOL_MISMATCH] = {"protocol-mismatch", "the protocol is not the request's"},
    [PCP_ERR_PORT_MISMATCH] = {"port-mismatch", "the internal port is not the request's"},
    [PCP_ERR_NO_SPACE] = {"no-space", "the message does not fit in the buffer"},
    [PCP_ERR_BAD_ARGUMENT] = {"bad-argument", "a value the PCP wire format cannot carry"},
};

const char *pcp_err_name(enum pcp_err err)
{
	return (unsigned)err < PCP_ERR_COUNT ? err_table[err].name : "invalid-error";
}

const char *pcp_strerror(enum pcp_err err)
{
	return (unsigned)err < PCP_ERR_COUNT ? err_table[err].text : "invalid error code";
}

const char *pcp_result_name(uint8_t result)
{
	static const char *const names[] = {
	    [PCP_SUCCESS] = "success",
	    [PCP_UNSUPP_VERSION] = "unsupp-version",
	    [PCP_NOT_AUTHORIZED] = "not-authorized",
	    [PCP_MALFORMED_REQUEST] = "malformed-request",
	    [PCP_UNSUPP_OPCODE] = "unsupp-opcode",
	    [PCP_UNSUPP_OPTION] = "unsupp-option",
	    [PCP_MALFORMED_OPTION] = "malformed-option",
	    [PCP_NETWORK_FAILURE] = "network-failure",
	    [PCP_NO_RESOURCES] = "no-resources",
	    [PCP_UNSUPP_PROTOCOL] = "unsupp-protocol",
	    [PCP_USER_EX_QUOTA] = "user-ex-quota",
	    [PCP_CANNOT_PROVIDE_EXTERNAL] = "cannot-provide-external",
	    [PCP_ADDRESS_MISMATCH] = "address-mismatch",
	    [PCP_EXCESSIVE_REMOTE_PEERS] = "excessive-remote-peers",
	};

	return result < sizeof(names) / sizeof(names[0]) ? names[result] : NULL;
}

const char *pcp_opcode_name(uint8_t opcode)
{
	switch (opcode) {
	case PCP_OP_ANNOUNCE:
		return "announce";
	case PCP_OP_MAP:
		return "map";
	case PCP_OP_PEER:
		return "peer";
	default:
		return NULL;
	}
}

/* ---- addresses ---- */

/* RFC 6887 section 5: an IPv4 address goes as the IPv4-mapped ::ffff:a.b.c.d. */
static const uint8_t v4mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

bool pcp_addr_is_v4mapped(const uint8_t addr[16])
{
	return memcmp(addr, v4mapped_prefix, sizeof(v4mapped_prefix)) == 0;
}

void pcp_addr_to_sockaddr(const uint8_t addr[16], uint16_t port, struct sockaddr_storage *out)
{
	memset(out, 0, sizeof(*out));
	if (pcp_addr_is_v4mapped(addr)) {
		struct sockaddr_in *sin = (struct sockaddr_in *)out;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		memcpy(&sin->sin_addr, addr + 12, 4);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)out;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		memcpy(&sin6->sin6_addr, addr, 16);
	}
}

/* False for a family PCP cannot carry. */
static bool encode_addr(const struct sockaddr *sa, uint8_t out[16])
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)(const void *)sa;

		memcpy(out, v4mapped_prefix, sizeof(v4mapped_prefix));
		memcpy(out + 12, &sin->sin_addr, 4);
		return true;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)(const void *)sa;

		memcpy(out, &sin6->sin6_addr, 16);
		return true;
	}
	return false;
}

/* RFC 6887 section 11.1: with no preference, the all-zeros address of the
 * client's family (section 5: ::ffff:0.0.0.0 for IPv4, :: for IPv6). */
static bool encode_suggested(const struct pcp_map_request *req, const uint8_t client[16],
			     uint8_t out[16])
{
	if (req->suggested_addr.ss_family != AF_UNSPEC)
		return encode_addr((const struct sockaddr *)&req->suggested_addr, out);
	memset(out, 0, 16);
	if (pcp_addr_is_v4mapped(client))
		memcpy(out, v4mapped_prefix, sizeof(v4mapped_prefix));
	return true;
}

/* ---- building ---- */

static void put_request_header(uint8_t *buf, uint8_t opcode, uint32_t lifetime,
			       const uint8_t client[16])
{
	buf[0] = PCP_VERSION;
	buf[1] = opcode; /* R = 0 */
	wire_put16(buf + 2, 0);
	wire_put32(buf + 4, lifetime);
	memcpy(buf + 8, client, 16);
}

enum pcp_err pcp_build_map(const struct pcp_map_request *req, uint8_t *buf, size_t cap, size_t *len)
{
	uint8_t client[16], suggested[16], *p = buf + PCP_HEADER_LEN;

	*len = 0;
	if (!encode_addr((const struct sockaddr *)&req->client, client) ||
	    !encode_suggested(req, client, suggested))
		return PCP_ERR_BAD_ARGUMENT;
	/* RFC 6887 11.1: for protocol 0 (all), the internal port MUST be 0. */
	if (req->protocol == 0 && req->internal_port != 0)
		return PCP_ERR_BAD_ARGUMENT;
	if (cap < PCP_HEADER_LEN + PCP_MAP_LEN)
		return PCP_ERR_NO_SPACE;

	put_request_header(buf, PCP_OP_MAP, req->lifetime, client);
	memcpy(p, req->nonce, PCP_NONCE_LEN);
	p[12] = req->protocol;
	memset(p + 13, 0, 3);
	wire_put16(p + 16, req->internal_port);
	wire_put16(p + 18, req->suggested_port);
	memcpy(p + 20, suggested, 16);
	*len = PCP_HEADER_LEN + PCP_MAP_LEN;
	return PCP_OK;
}

enum pcp_err pcp_build_announce(const struct sockaddr *client, uint8_t *buf, size_t cap,
				size_t *len)
{
	uint8_t addr[16];

	*len = 0;
	if (!encode_addr(client, addr))
		return PCP_ERR_BAD_ARGUMENT;
	if (cap < PCP_HEADER_LEN)
		return PCP_ERR_NO_SPACE;
	/* RFC 6887 14.1: ANNOUNCE has no payload and asks for no lifetime. */
	put_request_header(buf, PCP_OP_ANNOUNCE, 0, addr);
	*len = PCP_HEADER_LEN;
	return PCP_OK;
}

/* ---- parsing ---- */

/* RFC 6886 section 3: a NAT-PMP header is version, opcode, a 16-bit result
 * code and the epoch; its "unsupported version" answer has opcode 0. */
static void read_natpmp(struct pcp_response *r, const uint8_t *first4, struct wire_cursor *c)
{
	r->natpmp_result = wire_get16(first4 + 2);
	(void)wire_u32(c, &r->epoch);
}

/*
 * RFC 6887 section 8.3: a response shorter than 4 bytes, longer than 1100 or
 * not a multiple of 4 is invalid; one without the R bit is no response. The
 * version is looked at before the R bit, since a NAT-PMP server's answer to
 * an unknown version has the R bit clear.
 */
static enum pcp_err parse_header(struct pcp_response *r, struct wire_cursor *c)
{
	const uint8_t *first4 = wire_take(c, 4);

	if (!first4)
		return PCP_ERR_TOO_SHORT;
	if (r->len > PCP_MAX_LEN)
		return PCP_ERR_TOO_LONG;
	if (r->len % 4)
		return PCP_ERR_BAD_LENGTH;
	r->version = first4[0];
	r->r_bit = (first4[1] & PCP_R_BIT) != 0;
	r->opcode = first4[1] & 0x7F;
	if (r->version != PCP_VERSION) {
		if (r->version == PCP_NATPMP_VERSION)
			read_natpmp(r, first4, c);
		return PCP_ERR_VERSION;
	}
	if (!r->r_bit)
		return PCP_ERR_NOT_RESPONSE;
	r->result = first4[3];
	if (!wire_u32(c, &r->lifetime) || !wire_u32(c, &r->epoch) || !wire_take(c, 12))
		return PCP_ERR_TOO_SHORT;
	return PCP_OK;
}

/* MAP's 36 bytes, which open PEER's too; false when they are cut short. */
static bool read_mapping(struct pcp_response *r, struct wire_cursor *c)
{
	const uint8_t *nonce = wire_take(c, PCP_NONCE_LEN);
	const uint8_t *protocol = wire_take(c, 4); /* and 24 reserved bits */
	bool ports = wire_u16(c, &r->internal_port) && wire_u16(c, &r->external_port);
	const uint8_t *addr = wire_take(c, 16);

	if (!nonce || !protocol || !ports || !addr)
		return false;
	memcpy(r->nonce, nonce, PCP_NONCE_LEN);
	r->protocol = protocol[0];
	memcpy(r->external_addr, addr, 16);
	return true;
}

/* What PEER adds to MAP's payload. */
static bool read_peer(struct pcp_response *r, struct wire_cursor *c)
{
	bool port = wire_u16(c, &r->peer_port);
	const uint8_t *reserved = wire_take(c, 2);
	const uint8_t *addr = wire_take(c, 16);

	if (!port || !reserved || !addr)
		return false;
	memcpy(r->peer_addr, addr, 16);
	return true;
}

static enum pcp_err parse_payload(struct pcp_response *r, struct wire_cursor *c)
{
	size_t need;

	switch (r->opcode) {
	case PCP_OP_ANNOUNCE:
		need = 0;
		break;
	case PCP_OP_MAP:
		need = PCP_MAP_LEN;
		break;
	case PCP_OP_PEER:
		need = PCP_PEER_LEN;
		break;
	default:
		return PCP_ERR_UNKNOWN_OPCODE;
	}
	/* A server that could not parse the request has no payload to copy back. */
	if (need > 0 && c->left == 0 && r->result != PCP_SUCCESS)
		return PCP_OK;
	if (need >= PCP_MAP_LEN && !read_mapping(r, c))
		return PCP_ERR_TRUNCATED_OPCODE;
	if (need == PCP_PEER_LEN && !read_peer(r, c))
		return PCP_ERR_TRUNCATED_OPCODE;
	r->has_payload = true;
	return PCP_OK;
}

/* RFC 6887 section 13: the options whose length is fixed. */
static bool option_length_ok(uint8_t code, uint16_t len)
{
	switch (code) {
	case PCP_OPT_THIRD_PARTY:
		return len == 16;
	case PCP_OPT_PREFER_FAILURE:
		return len == 0;
	case PCP_OPT_FILTER:
		return len == 20;
	default:
		return true;
	}
}

static enum pcp_err parse_options(struct pcp_response *r, struct wire_cursor *c)
{
	while (c->left > 0) {
		const uint8_t *head = wire_take(c, 4), *value;
		uint16_t len;

		if (!head)
			return PCP_ERR_TRUNCATED_OPTION;
		len = wire_get16(head + 2);
		value = wire_take(c, len);
		if (!value || !wire_take(c, PAD4(len) - len))
			return PCP_ERR_TRUNCATED_OPTION;
		if (!option_length_ok(head[0], len))
			return PCP_ERR_BAD_OPTION_LENGTH;
		if (r->noptions == PCP_MAX_OPTIONS)
			return PCP_ERR_TOO_MANY_OPTIONS;
		r->options[r->noptions++] =
		    (struct pcp_option){head[0], len, (uint16_t)(value - r->raw)};
	}
	return PCP_OK;
}

enum pcp_err pcp_parse_response(struct pcp_response *r, const uint8_t *buf, size_t len)
{
	struct wire_cursor c = wire_cursor(buf, len);
	enum pcp_err err;

	memset(r, 0, sizeof(*r));
	r->raw = buf;
	r->len = len;
	err = parse_header(r, &c);
	if (!err)
		err = parse_payload(r, &c);
	if (!err)
		err = parse_options(r, &c);
	return err;
}

/* ---- reading a parsed response ---- */

enum pcp_err pcp_map_match(const struct pcp_response *r, const struct pcp_map_request *req)
{
	if (r->opcode != PCP_OP_MAP)
		return PCP_ERR_OPCODE_MISMATCH;
	if (!r->has_payload)
		return PCP_ERR_NOT_FOUND;
	if (memcmp(r->nonce, req->nonce, PCP_NONCE_LEN) != 0)
		return PCP_ERR_NONCE_MISMATCH;
	if (r->protocol != req->protocol)
		return PCP_ERR_PROTOCOL_MISMATCH;
	if (r->internal_port != req->internal_port)
		return PCP_ERR_PORT_MISMATCH;
	return PCP_OK;
}

enum pcp_err pcp_external(const struct pcp_response *r, struct sockaddr_storage *out)
{
	if (!r->has_payload || (r->opcode != PCP_OP_MAP && r->opcode != PCP_OP_PEER))
		return PCP_ERR_NOT_FOUND;
	pcp_addr_to_sockaddr(r->external_addr, r->external_port, out);
	return PCP_OK;
}

const struct pcp_option *pcp_find_option(const struct pcp_response *r, uint8_t code)
{
	for (size_t i = 0; i < r->noptions; i++)
		if (r->options[i].code == code)
			return &r->options[i];
	return NULL;
}

const uint8_t *pcp_option_value(const struct pcp_response *r, const struct pcp_option *o)
{
	return r->raw + o->offset;
}
