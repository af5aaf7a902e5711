/*
 * The PCP codec (RFC 6887) against requests and responses worked out by hand
 * from the RFC's figures, and against every way a response can be malformed.
 */
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <CUnit/CUnit.h>

#include "addr.h"
#include "pcp.h"
#include "testlib.h"

#define NONCE_1_12 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12
#define V4MAPPED   0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff

/* A MAP success response, field by field from RFC 6887 figures 3 and 10. */
static const uint8_t map_success[] = {
    /* RFC 6887 7.2, the response header */
    0x02,                               /* Version = 2 */
    0x81,                               /* R = 1, Opcode = 1 (MAP) */
    0x00,                               /* Reserved */
    0x00,                               /* Result Code: SUCCESS */
    0x00, 0x00, 0x1c, 0x20,             /* Lifetime: 7200 s */
    0x00, 0x01, 0x51, 0x80,             /* Epoch Time: 86400 s */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* Reserved (96 bits) */
    /* RFC 6887 11.1, the MAP payload (figure 10) */
    NONCE_1_12,                /* Mapping Nonce, copied from the request */
    17,                        /* Protocol: UDP */
    0, 0, 0,                   /* Reserved (24 bits) */
    0x13, 0x88,                /* Internal Port: 5000 */
    0xee, 0x48,                /* Assigned External Port: 61000 */
    V4MAPPED, 198, 51, 100, 7, /* Assigned External IP Address: ::ffff:198.51.100.7 */
};

/* The request map_success answers. */
static void udp_5000_request(struct pcp_map_request *req)
{
	static const uint8_t nonce[PCP_NONCE_LEN] = {NONCE_1_12};

	memset(req, 0, sizeof(*req));
	req->lifetime = 7200;
	test_sockaddr("192.0.2.33", &req->client);
	memcpy(req->nonce, nonce, sizeof(nonce));
	req->protocol = 17;
	req->internal_port = 5000;
}

/* Exactly len bytes on the heap, so that ASan sees a read past the end; the
 * copy is freed, so r's fixed fields are all that may be read after. */
static enum pcp_err parse_copy(struct pcp_response *r, const uint8_t *msg, size_t len)
{
	uint8_t *copy = malloc(len ? len : 1);
	enum pcp_err err;

	CU_ASSERT_PTR_NOT_NULL_FATAL(copy);
	memcpy(copy, msg, len);
	err = pcp_parse_response(r, copy, len);
	free(copy);
	return err;
}

static void test_build_map_v4(void)
{
	static const uint8_t expected[] = {
	    /* RFC 6887 7.1, the request header (figure 2) */
	    0x02,                    /* Version = 2 */
	    0x01,                    /* R = 0, Opcode = 1 (MAP) */
	    0x00, 0x00,              /* Reserved */
	    0x00, 0x00, 0x1c, 0x20,  /* Requested Lifetime: 7200 s */
	    V4MAPPED, 192, 0, 2, 33, /* PCP Client's IP Address: ::ffff:192.0.2.33 (section 5) */
	    /* RFC 6887 11.1, the MAP payload (figure 9) */
	    NONCE_1_12,           /* Mapping Nonce */
	    17,                   /* Protocol: UDP */
	    0, 0, 0,              /* Reserved (24 bits) */
	    0x13, 0x88,           /* Internal Port: 5000 */
	    0x00, 0x00,           /* Suggested External Port: none */
	    V4MAPPED, 0, 0, 0, 0, /* Suggested External IP Address: none, IPv4's all-zeros */
	};
	struct pcp_map_request req;
	uint8_t buf[128];
	size_t len;

	udp_5000_request(&req);
	memset(buf, 0xAA, sizeof(buf));
	CU_ASSERT_EQUAL_FATAL(pcp_build_map(&req, buf, sizeof(buf), &len), PCP_OK);
	CU_ASSERT_EQUAL_FATAL(len, sizeof(expected));
	CU_ASSERT_EQUAL(len, 60);
	CU_ASSERT_EQUAL(memcmp(buf, expected, sizeof(expected)), 0);
	CU_ASSERT_EQUAL(buf[len], 0xAA); /* nothing written past the end */
}

/* A delete (lifetime 0, section 15) from an IPv6 client that suggests its
 * old external endpoint. */
static void test_build_map_v6_delete(void)
{
	static const uint8_t expected[] = {
	    0x02, 0x01, 0x00, 0x00, /* Version 2, MAP request, Reserved */
	    0x00, 0x00, 0x00, 0x00, /* Requested Lifetime: 0, delete */
	    0x20, 0x01, 0x0d, 0xb8, 0,    0,    0,    0,    0,    0,    0,    0,
	    0,    0,    0,    0x05, /* 2001:db8::5 */
	    0xf0, 0xe1, 0xd2, 0xc3, 0xb4, 0xa5, 0x96, 0x87, 0x78, 0x69, 0x5a, 0x4b, /* nonce */
	    6,             /* Protocol: TCP */
	    0,    0,    0, /* Reserved */
	    0x1f, 0x90,    /* Internal Port: 8080 */
	    0x9c, 0x40,    /* Suggested External Port: 40000 */
	    0x20, 0x01, 0x0d, 0xb8, 0xff, 0xff, 0,    0,    0,    0,    0,    0,
	    0,    0,    0,    0x01, /* 2001:db8:ffff::1 */
	};
	static const uint8_t nonce[PCP_NONCE_LEN] = {0xf0, 0xe1, 0xd2, 0xc3, 0xb4, 0xa5,
						     0x96, 0x87, 0x78, 0x69, 0x5a, 0x4b};
	struct pcp_map_request req = {
	    .protocol = 6, .internal_port = 8080, .suggested_port = 40000};
	uint8_t buf[60];
	size_t len;

	test_sockaddr("2001:db8::5", &req.client);
	test_sockaddr("2001:db8:ffff::1", &req.suggested_addr);
	memcpy(req.nonce, nonce, sizeof(nonce));
	CU_ASSERT_EQUAL_FATAL(pcp_build_map(&req, buf, sizeof(buf), &len), PCP_OK);
	CU_ASSERT_EQUAL_FATAL(len, sizeof(expected));
	CU_ASSERT_EQUAL(memcmp(buf, expected, sizeof(expected)), 0);

	/* No suggestion from an IPv6 client: IPv6's all-zeros, "::". */
	req.suggested_addr.ss_family = AF_UNSPEC;
	CU_ASSERT_EQUAL_FATAL(pcp_build_map(&req, buf, sizeof(buf), &len), PCP_OK);
	for (size_t i = 44; i < 60; i++)
		CU_ASSERT_EQUAL(buf[i], 0);
}

static void test_build_announce(void)
{
	static const uint8_t expected[] = {
	    0x02,     0x00, 0x00, 0x00,      /* Version 2, R = 0, Opcode = 0 (ANNOUNCE), Reserved */
	    0x00,     0x00, 0x00, 0x00,      /* Requested Lifetime: 0 (section 14.1) */
	    V4MAPPED, 10,   0,    0,    200, /* PCP Client's IP Address: ::ffff:10.0.0.200 */
	};
	struct sockaddr_storage client;
	uint8_t buf[24];
	size_t len;

	test_sockaddr("10.0.0.200:5350", &client);
	CU_ASSERT_EQUAL_FATAL(
	    pcp_build_announce((const struct sockaddr *)&client, buf, sizeof(buf), &len), PCP_OK);
	CU_ASSERT_EQUAL_FATAL(len, sizeof(expected));
	CU_ASSERT_EQUAL(memcmp(buf, expected, sizeof(expected)), 0);
	CU_ASSERT_EQUAL(pcp_build_announce((const struct sockaddr *)&client, buf, 23, &len),
			PCP_ERR_NO_SPACE);
	CU_ASSERT_EQUAL(len, 0);
}

static void test_builder_errors(void)
{
	struct pcp_map_request req;
	uint8_t buf[60];
	size_t len = 99;

	udp_5000_request(&req);
	CU_ASSERT_EQUAL(pcp_build_map(&req, buf, 59, &len), PCP_ERR_NO_SPACE);
	CU_ASSERT_EQUAL(len, 0);
	/* RFC 6887 11.1: protocol 0 (all protocols) takes internal port 0. */
	req.protocol = 0;
	CU_ASSERT_EQUAL(pcp_build_map(&req, buf, sizeof(buf), &len), PCP_ERR_BAD_ARGUMENT);
	req.internal_port = 0;
	CU_ASSERT_EQUAL(pcp_build_map(&req, buf, sizeof(buf), &len), PCP_OK);
	req.suggested_addr.ss_family = AF_UNIX;
	CU_ASSERT_EQUAL(pcp_build_map(&req, buf, sizeof(buf), &len), PCP_ERR_BAD_ARGUMENT);
	udp_5000_request(&req);
	req.client.ss_family = AF_UNSPEC;
	CU_ASSERT_EQUAL(pcp_build_map(&req, buf, sizeof(buf), &len), PCP_ERR_BAD_ARGUMENT);
}

static void test_parse_map_success(void)
{
	struct pcp_response r;
	struct sockaddr_storage ext;
	char text[ADDR_STRLEN];
	static const uint8_t nonce[PCP_NONCE_LEN] = {NONCE_1_12};

	CU_ASSERT_EQUAL_FATAL(parse_copy(&r, map_success, sizeof(map_success)), PCP_OK);
	CU_ASSERT_EQUAL(r.version, 2);
	CU_ASSERT_TRUE(r.r_bit);
	CU_ASSERT_EQUAL(r.opcode, PCP_OP_MAP);
	CU_ASSERT_EQUAL(r.result, PCP_SUCCESS);
	CU_ASSERT_EQUAL(r.lifetime, 7200);
	CU_ASSERT_EQUAL(r.epoch, 86400);
	CU_ASSERT_TRUE(r.has_payload);
	CU_ASSERT_EQUAL(memcmp(r.nonce, nonce, PCP_NONCE_LEN), 0);
	CU_ASSERT_EQUAL(r.protocol, 17);
	CU_ASSERT_EQUAL(r.internal_port, 5000);
	CU_ASSERT_EQUAL(r.external_port, 61000);
	CU_ASSERT_TRUE(pcp_addr_is_v4mapped(r.external_addr));
	CU_ASSERT_EQUAL(r.noptions, 0);
	CU_ASSERT_EQUAL_FATAL(pcp_external(&r, &ext), PCP_OK);
	CU_ASSERT_EQUAL(ext.ss_family, AF_INET);
	CU_ASSERT_STRING_EQUAL(addr_format((const struct sockaddr *)&ext, text, sizeof(text)),
			       "198.51.100.7:61000");
	CU_ASSERT_STRING_EQUAL(pcp_result_name(r.result), "success");
	CU_ASSERT_STRING_EQUAL(pcp_opcode_name(r.opcode), "map");
}

/* Every prefix of a valid response is an error, and the right one. */
static void test_every_truncation(void)
{
	struct pcp_response r;

	for (size_t n = 0; n < sizeof(map_success); n++) {
		enum pcp_err want = n < 4                ? PCP_ERR_TOO_SHORT
				    : n % 4              ? PCP_ERR_BAD_LENGTH
				    : n < PCP_HEADER_LEN ? PCP_ERR_TOO_SHORT
							 : PCP_ERR_TRUNCATED_OPCODE;

		CU_ASSERT_EQUAL(parse_copy(&r, map_success, n), want);
	}
}

static void test_result_codes(void)
{
	static const char *const names[] = {
	    "success",           "unsupp-version",         "not-authorized",
	    "malformed-request", "unsupp-opcode",          "unsupp-option",
	    "malformed-option",  "network-failure",        "no-resources",
	    "unsupp-protocol",   "user-ex-quota",          "cannot-provide-external",
	    "address-mismatch",  "excessive-remote-peers",
	};
	uint8_t buf[sizeof(map_success)];
	struct pcp_response r;

	for (unsigned code = 0; code < 14; code++)
		CU_ASSERT_STRING_EQUAL(pcp_result_name((uint8_t)code), names[code]);
	CU_ASSERT_PTR_NULL(pcp_result_name(14));
	CU_ASSERT_PTR_NULL(pcp_result_name(255));

	/* An error response: MAP's payload copied back, lifetime how long the error holds. */
	memcpy(buf, map_success, sizeof(buf));
	buf[3] = PCP_NO_RESOURCES;
	buf[7] = 30;
	buf[6] = 0;
	CU_ASSERT_EQUAL_FATAL(parse_copy(&r, buf, sizeof(buf)), PCP_OK);
	CU_ASSERT_EQUAL(r.result, PCP_NO_RESOURCES);
	CU_ASSERT_STRING_EQUAL(pcp_result_name(r.result), "no-resources");
	CU_ASSERT_EQUAL(r.lifetime, 30);
	CU_ASSERT_TRUE(r.has_payload);
	CU_ASSERT_EQUAL(r.external_port, 61000);

	buf[3] = PCP_ADDRESS_MISMATCH;
	CU_ASSERT_EQUAL_FATAL(parse_copy(&r, buf, sizeof(buf)), PCP_OK);
	CU_ASSERT_STRING_EQUAL(pcp_result_name(r.result), "address-mismatch");
}

/* An error response of the header alone is whole; a success one is not. */
static void test_header_only_error(void)
{
	uint8_t buf[PCP_HEADER_LEN];
	struct sockaddr_storage ext;
	struct pcp_map_request req;
	struct pcp_response r;

	udp_5000_request(&req);
	memcpy(buf, map_success, sizeof(buf));
	buf[3] = PCP_MALFORMED_REQUEST;
	CU_ASSERT_EQUAL_FATAL(parse_copy(&r, buf, sizeof(buf)), PCP_OK);
	CU_ASSERT_EQUAL(r.result, PCP_MALFORMED_REQUEST);
	CU_ASSERT_FALSE(r.has_payload);
	CU_ASSERT_EQUAL(pcp_external(&r, &ext), PCP_ERR_NOT_FOUND);
	CU_ASSERT_EQUAL(pcp_map_match(&r, &req), PCP_ERR_NOT_FOUND);

	buf[3] = PCP_SUCCESS;
	CU_ASSERT_EQUAL(parse_copy(&r, buf, sizeof(buf)), PCP_ERR_TRUNCATED_OPCODE);
}

/* RFC 6886 3.5 and RFC 6887 9: a NAT-PMP server answers version 0. */
static void test_natpmp_answer(void)
{
	static const uint8_t unsupported[] = {
	    0x00,                   /* Vers = 0 */
	    0x00,                   /* OP = 0 */
	    0x00, 0x01,             /* Result Code = 1, Unsupported Version */
	    0x00, 0x00, 0x1c, 0x20, /* Seconds Since Start of Epoch: 7200 */
	};
	static const uint8_t mapping[] = {
	    0x00, 0x81, 0x00, 0x00, /* Vers 0, OP 128 + 1 (UDP mapping), success */
	    0x00, 0x00, 0x00, 0x10, /* epoch */
	    0x13, 0x88, 0xee, 0x48, /* internal port, mapped external port */
	    0x00, 0x00, 0x0e, 0x10, /* lifetime */
	};
	uint8_t v1[sizeof(map_success)];
	struct pcp_response r;

	CU_ASSERT_EQUAL(parse_copy(&r, unsupported, sizeof(unsupported)), PCP_ERR_VERSION);
	CU_ASSERT_EQUAL(r.version, PCP_NATPMP_VERSION);
	CU_ASSERT_FALSE(r.r_bit);
	CU_ASSERT_EQUAL(r.natpmp_result, 1);
	CU_ASSERT_EQUAL(r.epoch, 7200);

	CU_ASSERT_EQUAL(parse_copy(&r, unsupported, 4), PCP_ERR_VERSION);
	CU_ASSERT_EQUAL(r.version, 0);
	CU_ASSERT_EQUAL(r.epoch, 0);
	CU_ASSERT_EQUAL(parse_copy(&r, unsupported, 3), PCP_ERR_TOO_SHORT);

	CU_ASSERT_EQUAL(parse_copy(&r, mapping, sizeof(mapping)), PCP_ERR_VERSION);
	CU_ASSERT_EQUAL(r.version, 0);
	CU_ASSERT_TRUE(r.r_bit);
	CU_ASSERT_EQUAL(r.opcode, 1);
	CU_ASSERT_EQUAL(r.natpmp_result, 0);

	/* Another PCP version is reported as itself. */
	memcpy(v1, map_success, sizeof(v1));
	v1[0] = 1;
	CU_ASSERT_EQUAL(parse_copy(&r, v1, sizeof(v1)), PCP_ERR_VERSION);
	CU_ASSERT_EQUAL(r.version, 1);
}

static void test_framing_errors(void)
{
	uint8_t buf[PCP_MAX_LEN + 4] = {0};
	struct pcp_map_request req;
	struct pcp_response r;
	size_t len;

	memcpy(buf, map_success, sizeof(map_success));
	/* Zero bytes after the payload read as empty options of code 0. */
	CU_ASSERT_EQUAL(parse_copy(&r, buf, 64), PCP_OK);
	CU_ASSERT_EQUAL(parse_copy(&r, buf, sizeof(map_success) + 1), PCP_ERR_BAD_LENGTH);
	CU_ASSERT_EQUAL(parse_copy(&r, buf, PCP_MAX_LEN + 4), PCP_ERR_TOO_LONG);

	buf[1] = 0x85;
	CU_ASSERT_EQUAL(parse_copy(&r, buf, sizeof(map_success)), PCP_ERR_UNKNOWN_OPCODE);
	CU_ASSERT_EQUAL(r.opcode, 5);
	CU_ASSERT_PTR_NULL(pcp_opcode_name(r.opcode));

	/* Our own request is no response. */
	udp_5000_request(&req);
	CU_ASSERT_EQUAL_FATAL(pcp_build_map(&req, buf, sizeof(buf), &len), PCP_OK);
	CU_ASSERT_EQUAL(parse_copy(&r, buf, len), PCP_ERR_NOT_RESPONSE);
}

static void test_announce_and_peer(void)
{
	static const uint8_t announce[] = {
	    0x02, 0x80, 0x00, 0x00, /* Version 2, R = 1, ANNOUNCE, SUCCESS */
	    0x00, 0x00, 0x00, 0x00, /* Lifetime: 0 */
	    0x00, 0x00, 0x00, 0x05, /* Epoch Time: 5 s, the server restarted */
	    0,    0,    0,    0,    0, 0, 0, 0, 0, 0, 0, 0,
	};
	static const uint8_t peer[] = {
	    0x02, 0x82, 0x00, 0x00, 0x00, 0x00, 0x0e, 0x10, /* PEER, SUCCESS, 3600 s */
	    0x00, 0x00, 0x00, 0x09, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	    /* RFC 6887 12.1, the PEER payload (figure 13): MAP's fields, then */
	    NONCE_1_12, 6, 0, 0, 0, 0x04, 0xd2, 0x30, 0x39,                /* TCP, 1234 -> 12345 */
	    0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x99, /* 2001:db8::99 */
	    0x01, 0xbb, /* Remote Peer Port: 443 */
	    0x00, 0x00, /* Reserved */
	    0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x44, /* 2001:db8::44 */
	};
	struct sockaddr_storage ext;
	char text[ADDR_STRLEN];
	struct pcp_response r;

	CU_ASSERT_EQUAL_FATAL(parse_copy(&r, announce, sizeof(announce)), PCP_OK);
	CU_ASSERT_EQUAL(r.opcode, PCP_OP_ANNOUNCE);
	CU_ASSERT_EQUAL(r.epoch, 5);
	CU_ASSERT_EQUAL(pcp_external(&r, &ext), PCP_ERR_NOT_FOUND);

	CU_ASSERT_EQUAL_FATAL(parse_copy(&r, peer, sizeof(peer)), PCP_OK);
	CU_ASSERT_EQUAL(r.opcode, PCP_OP_PEER);
	CU_ASSERT_EQUAL(r.lifetime, 3600);
	CU_ASSERT_EQUAL(r.protocol, 6);
	CU_ASSERT_EQUAL(r.internal_port, 1234);
	CU_ASSERT_EQUAL(r.peer_port, 443);
	CU_ASSERT_EQUAL(r.peer_addr[15], 0x44);
	CU_ASSERT_EQUAL_FATAL(pcp_external(&r, &ext), PCP_OK);
	CU_ASSERT_EQUAL(ext.ss_family, AF_INET6);
	CU_ASSERT_STRING_EQUAL(addr_format((const struct sockaddr *)&ext, text, sizeof(text)),
			       "[2001:db8::99]:12345");
	for (size_t n = PCP_HEADER_LEN; n < sizeof(peer); n += 4)
		CU_ASSERT_EQUAL(parse_copy(&r, peer, n), PCP_ERR_TRUNCATED_OPCODE);
}

/* map_success followed by three options (RFC 6887 7.3 and 13). */
static size_t with_options(uint8_t *buf)
{
	static const uint8_t options[] = {
	    0x02, 0x00, 0x00, 0x00, /* PREFER_FAILURE, Reserved, Option Length 0 */
	    0x03, 0x00, 0x00, 0x14, /* FILTER, Reserved, Option Length 20 */
	    0x00, 0x80, 0x00, 0x35, /* Reserved, Prefix Length 128, Remote Peer Port 53 */
	    0x20, 0x01, 0x0d, 0xb8, 0,   0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x53, /* 2001:db8::53 */
	    0xc0, 0x00, 0x00, 0x05,               /* an unknown optional option, Option Length 5 */
	    'h',  'e',  'l',  'l',  'o', 0, 0, 0, /* its data, padded to 8 */
	};

	memcpy(buf, map_success, sizeof(map_success));
	memcpy(buf + sizeof(map_success), options, sizeof(options));
	return sizeof(map_success) + sizeof(options);
}

static void test_options(void)
{
	uint8_t buf[256];
	size_t len = with_options(buf);
	const struct pcp_option *o;
	struct pcp_response r;

	CU_ASSERT_EQUAL_FATAL(len, 100);
	/* In place: option values point into the buffer. */
	CU_ASSERT_EQUAL_FATAL(pcp_parse_response(&r, buf, len), PCP_OK);
	CU_ASSERT_EQUAL_FATAL(r.noptions, 3);
	CU_ASSERT_EQUAL(r.options[0].code, PCP_OPT_PREFER_FAILURE);
	CU_ASSERT_EQUAL(r.options[0].len, 0);
	CU_ASSERT_EQUAL(r.options[1].code, PCP_OPT_FILTER);
	CU_ASSERT_EQUAL(r.options[1].len, 20);
	CU_ASSERT_EQUAL(r.options[1].offset, 68);
	CU_ASSERT_EQUAL(r.options[2].code, 0xc0);
	CU_ASSERT_EQUAL(r.options[2].len, 5);
	CU_ASSERT_EQUAL(memcmp(pcp_option_value(&r, &r.options[2]), "hello", 5), 0);
	o = pcp_find_option(&r, PCP_OPT_FILTER);
	CU_ASSERT_PTR_EQUAL(o, &r.options[1]);
	CU_ASSERT_EQUAL(pcp_option_value(&r, o)[1], 128);
	CU_ASSERT_PTR_NULL(pcp_find_option(&r, PCP_OPT_THIRD_PARTY));
	/* The payload is still read. */
	CU_ASSERT_EQUAL(r.external_port, 61000);

	/* Each prefix is whole at an option's end, else an error. */
	for (size_t n = sizeof(map_success) + 1; n < len; n++) {
		enum pcp_err err = parse_copy(&r, buf, n);
		enum pcp_err want = n % 4 ? PCP_ERR_BAD_LENGTH : PCP_ERR_TRUNCATED_OPTION;

		CU_ASSERT_EQUAL(err, n == 64 || n == 88 ? PCP_OK : want);
	}
	CU_ASSERT_EQUAL(parse_copy(&r, buf, 88), PCP_OK);
	CU_ASSERT_EQUAL(r.noptions, 2);
}

static void test_option_errors(void)
{
	uint8_t buf[PCP_MAX_LEN];
	struct pcp_response r;
	size_t len = with_options(buf);

	/* FILTER's length says 24, beyond the message's end... */
	buf[67] = 24;
	CU_ASSERT_EQUAL(parse_copy(&r, buf, 88), PCP_ERR_TRUNCATED_OPTION);
	/* ... and within it, a length FILTER cannot have. */
	CU_ASSERT_EQUAL(parse_copy(&r, buf, len), PCP_ERR_BAD_OPTION_LENGTH);
	buf[67] = 20;
	buf[63] = 4; /* PREFER_FAILURE with data */
	CU_ASSERT_EQUAL(parse_copy(&r, buf, len), PCP_ERR_BAD_OPTION_LENGTH);

	/* As many options as natlab keeps, then one more. */
	memset(buf + sizeof(map_success), 0, sizeof(buf) - sizeof(map_success));
	len = sizeof(map_success) + 4 * PCP_MAX_OPTIONS;
	CU_ASSERT_EQUAL(parse_copy(&r, buf, len), PCP_OK);
	CU_ASSERT_EQUAL(r.noptions, PCP_MAX_OPTIONS);
	CU_ASSERT_EQUAL(parse_copy(&r, buf, len + 4), PCP_ERR_TOO_MANY_OPTIONS);
}

static void test_map_match(void)
{
	struct pcp_map_request req;
	struct pcp_response r;
	uint8_t buf[sizeof(map_success)];

	udp_5000_request(&req);
	CU_ASSERT_EQUAL_FATAL(parse_copy(&r, map_success, sizeof(map_success)), PCP_OK);
	CU_ASSERT_EQUAL(pcp_map_match(&r, &req), PCP_OK);
	req.nonce[11] ^= 1;
	CU_ASSERT_EQUAL(pcp_map_match(&r, &req), PCP_ERR_NONCE_MISMATCH);
	req.nonce[11] ^= 1;
	req.protocol = 6;
	CU_ASSERT_EQUAL(pcp_map_match(&r, &req), PCP_ERR_PROTOCOL_MISMATCH);
	req.protocol = 17;
	req.internal_port = 5001;
	CU_ASSERT_EQUAL(pcp_map_match(&r, &req), PCP_ERR_PORT_MISMATCH);

	/* The nonce as the server sent it back, one bit off. */
	udp_5000_request(&req);
	memcpy(buf, map_success, sizeof(buf));
	buf[24] ^= 0x80;
	CU_ASSERT_EQUAL_FATAL(parse_copy(&r, buf, sizeof(buf)), PCP_OK);
	CU_ASSERT_EQUAL(pcp_map_match(&r, &req), PCP_ERR_NONCE_MISMATCH);

	buf[1] = 0x82; /* PEER with too short a payload */
	CU_ASSERT_EQUAL(parse_copy(&r, buf, sizeof(buf)), PCP_ERR_TRUNCATED_OPCODE);
	buf[1] = 0x80; /* ANNOUNCE: no mapping to match */
	CU_ASSERT_EQUAL(parse_copy(&r, buf, PCP_HEADER_LEN), PCP_OK);
	CU_ASSERT_EQUAL(pcp_map_match(&r, &req), PCP_ERR_OPCODE_MISMATCH);
}

/* The request and response layouts line up from byte 24 on (RFC 6887 11.1):
 * a request with the R bit set reads as a response that matches it. */
static void test_request_echo(void)
{
	struct pcp_map_request req;
	struct pcp_response r;
	uint8_t buf[60];
	size_t len;

	udp_5000_request(&req);
	req.suggested_port = 61000;
	CU_ASSERT_EQUAL_FATAL(pcp_build_map(&req, buf, sizeof(buf), &len), PCP_OK);
	buf[1] |= PCP_R_BIT;
	CU_ASSERT_EQUAL_FATAL(parse_copy(&r, buf, len), PCP_OK);
	CU_ASSERT_EQUAL(pcp_map_match(&r, &req), PCP_OK);
	CU_ASSERT_EQUAL(r.lifetime, 7200);
	CU_ASSERT_EQUAL(r.external_port, 61000);
	CU_ASSERT_TRUE(pcp_addr_is_v4mapped(r.external_addr));
}

/* Each error has its own name, so counters of dropped packets can say why. */
static void test_error_names(void)
{
	for (int i = 0; i < PCP_ERR_COUNT; i++) {
		CU_ASSERT_PTR_NOT_NULL_FATAL(pcp_err_name((enum pcp_err)i));
		CU_ASSERT_PTR_NOT_NULL_FATAL(pcp_strerror((enum pcp_err)i));
		for (int j = 0; j < i; j++)
			CU_ASSERT_STRING_NOT_EQUAL(pcp_err_name((enum pcp_err)i),
						   pcp_err_name((enum pcp_err)j));
	}
	CU_ASSERT_STRING_EQUAL(pcp_err_name(PCP_ERR_VERSION), "version");
	CU_ASSERT_STRING_EQUAL(pcp_err_name(PCP_ERR_COUNT), "invalid-error");
}

int test_pcp_register(void)
{
	static const struct test_case tests[] = {
	    {"MAP request byte for byte (RFC 6887 7.1, 11.1)", test_build_map_v4},
	    {"IPv6 MAP delete request byte for byte", test_build_map_v6_delete},
	    {"ANNOUNCE request byte for byte", test_build_announce},
	    {"builder errors", test_builder_errors},
	    {"MAP success response (RFC 6887 7.2, 11.1)", test_parse_map_success},
	    {"every truncation is an error", test_every_truncation},
	    {"result codes and their names", test_result_codes},
	    {"error response of the header alone", test_header_only_error},
	    {"NAT-PMP's version 0 answer", test_natpmp_answer},
	    {"framing errors", test_framing_errors},
	    {"ANNOUNCE and PEER responses", test_announce_and_peer},
	    {"options walked", test_options},
	    {"option errors", test_option_errors},
	    {"response matched to its request", test_map_match},
	    {"request with the R bit reads as its echo", test_request_echo},
	    {"error names", test_error_names},
	};
	return TEST_SUITE("pcp codec", tests);
}
