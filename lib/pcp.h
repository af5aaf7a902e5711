/*
 * PCP message codec: the Port Control Protocol, RFC 6887, from the client's
 * side. Builds MAP and ANNOUNCE requests; parses responses to ANNOUNCE, MAP
 * and PEER, with their options.
 *
 * Parsing copies the fixed fields into a struct pcp_response and records
 * where each option lies; option values point into the caller's buffer,
 * which must outlive the struct. Every field is reached through a
 * length-checked cursor; every malformed input gives an enum pcp_err with a
 * name (pcp_err_name, pcp_strerror), never a read out of bounds.
 *
 * A NAT-PMP server (RFC 6886) answers a PCP request with version 0: that is
 * PCP_ERR_VERSION with r->version 0, so a caller can say "NAT-PMP only".
 */
#ifndef NATLAB_PCP_H
#define NATLAB_PCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define PCP_VERSION        2
#define PCP_NATPMP_VERSION 0    /* RFC 6886; RFC 6887 section 9 */
#define PCP_SERVER_PORT    5351 /* shared with NAT-PMP */
#define PCP_CLIENT_PORT    5350 /* where a server multicasts ANNOUNCE (RFC 6887 14.1) */
#define PCP_R_BIT          0x80 /* in the opcode byte: a response */
#define PCP_MAX_LEN        1100 /* RFC 6887 section 7: largest UDP payload */
#define PCP_HEADER_LEN     24   /* request and response headers alike */
#define PCP_NONCE_LEN      12   /* the mapping nonce, 96 bits */
#define PCP_MAP_LEN        36   /* MAP's opcode-specific payload */
#define PCP_PEER_LEN       56   /* PEER's */
#define PCP_MAX_OPTIONS    32   /* per response; more is PCP_ERR_TOO_MANY_OPTIONS */

/* RFC 6887 sections 14, 11 and 12. */
enum pcp_opcode {
	PCP_OP_ANNOUNCE = 0,
	PCP_OP_MAP = 1,
	PCP_OP_PEER = 2,
};

/* RFC 6887 section 7.4. */
enum pcp_result {
	PCP_SUCCESS = 0,
	PCP_UNSUPP_VERSION = 1,
	PCP_NOT_AUTHORIZED = 2,
	PCP_MALFORMED_REQUEST = 3,
	PCP_UNSUPP_OPCODE = 4,
	PCP_UNSUPP_OPTION = 5,
	PCP_MALFORMED_OPTION = 6,
	PCP_NETWORK_FAILURE = 7,
	PCP_NO_RESOURCES = 8,
	PCP_UNSUPP_PROTOCOL = 9,
	PCP_USER_EX_QUOTA = 10,
	PCP_CANNOT_PROVIDE_EXTERNAL = 11,
	PCP_ADDRESS_MISMATCH = 12,
	PCP_EXCESSIVE_REMOTE_PEERS = 13,
};

/* RFC 6887 section 13; codes 128-255 are optional to process. */
enum pcp_option_code {
	PCP_OPT_THIRD_PARTY = 1,    /* 16 bytes: an internal address */
	PCP_OPT_PREFER_FAILURE = 2, /* empty */
	PCP_OPT_FILTER = 3,         /* 20 bytes: reserved, prefix length, port, address */
};

enum pcp_err {
	PCP_OK = 0,
	PCP_ERR_TOO_SHORT,         /* fewer than 4 bytes, or than a 24-byte PCP header */
	PCP_ERR_TOO_LONG,          /* more than 1100 bytes */
	PCP_ERR_BAD_LENGTH,        /* not a multiple of 4 bytes */
	PCP_ERR_VERSION,           /* not version 2 (0: a NAT-PMP server); see r->version */
	PCP_ERR_NOT_RESPONSE,      /* the R bit is clear */
	PCP_ERR_UNKNOWN_OPCODE,    /* neither ANNOUNCE, MAP nor PEER */
	PCP_ERR_TRUNCATED_OPCODE,  /* the opcode's payload is cut short */
	PCP_ERR_TRUNCATED_OPTION,  /* an option's header or value runs past the end */
	PCP_ERR_BAD_OPTION_LENGTH, /* a known option with a length it cannot have */
	PCP_ERR_TOO_MANY_OPTIONS,  /* more than PCP_MAX_OPTIONS */
	PCP_ERR_NOT_FOUND,         /* accessor: no such option, or no payload */
	PCP_ERR_OPCODE_MISMATCH,   /* match: not a MAP response */
	PCP_ERR_NONCE_MISMATCH,
	PCP_ERR_PROTOCOL_MISMATCH,
	PCP_ERR_PORT_MISMATCH, /* the internal port */
	PCP_ERR_NO_SPACE,      /* builder: the buffer is too small */
	PCP_ERR_BAD_ARGUMENT,  /* builder: a value the wire format cannot carry */
	PCP_ERR_COUNT
};

struct pcp_option {
	uint8_t code;
	uint16_t len;    /* value length, without padding */
	uint16_t offset; /* of the value, from the start of the message */
};

struct pcp_response {
	const uint8_t *raw;
	size_t len;
	uint8_t version; /* set also on PCP_ERR_VERSION */
	bool r_bit;      /* likewise */
	uint8_t opcode;  /* likewise; without the R bit */
	uint8_t result;  /* enum pcp_result */
	uint32_t lifetime;
	uint32_t epoch;         /* on PCP_ERR_VERSION from NAT-PMP too, when present */
	uint16_t natpmp_result; /* PCP_ERR_VERSION with version 0: RFC 6886's result code */
	/* False only for an error response of the header alone, which a server
	 * may send when it could not parse the request. */
	bool has_payload;
	/* MAP and PEER (RFC 6887 sections 11.1 and 12.1). Addresses are 16
	 * bytes, IPv4 as IPv4-mapped IPv6 (RFC 6887 section 5). */
	uint8_t nonce[PCP_NONCE_LEN];
	uint8_t protocol;
	uint16_t internal_port;
	uint16_t external_port; /* assigned; on an error, the suggested one */
	uint8_t external_addr[16];
	/* PEER only. */
	uint16_t peer_port;
	uint8_t peer_addr[16];
	size_t noptions;
	struct pcp_option options[PCP_MAX_OPTIONS];
};

/* A MAP request (RFC 6887 section 11.1); zero what is not used. */
struct pcp_map_request {
	uint32_t lifetime; /* seconds; 0 deletes the mapping (RFC 6887 section 15) */
	/* The PCP client's source address (AF_INET or AF_INET6); its port is ignored. */
	struct sockaddr_storage client;
	uint8_t nonce[PCP_NONCE_LEN];
	uint8_t protocol;        /* 6 TCP, 17 UDP, 0 all (then internal_port must be 0) */
	uint16_t internal_port;  /* 0: all ports */
	uint16_t suggested_port; /* 0: no preference */
	/* AF_UNSPEC: no preference, sent as the all-zeros address of the
	 * client's family (::ffff:0.0.0.0 for IPv4, :: for IPv6); its port is
	 * ignored. */
	struct sockaddr_storage suggested_addr;
};

const char *pcp_err_name(enum pcp_err err);
const char *pcp_strerror(enum pcp_err err);
/* "success", "unsupp-version", ..., "excessive-remote-peers"; NULL for a
 * code RFC 6887 does not define. */
const char *pcp_result_name(uint8_t result);
/* "announce", "map", "peer"; NULL for others. */
const char *pcp_opcode_name(uint8_t opcode);

/* The message's length into *len (0 on error). */
enum pcp_err pcp_build_map(const struct pcp_map_request *req, uint8_t *buf, size_t cap,
			   size_t *len);
enum pcp_err pcp_build_announce(const struct sockaddr *client, uint8_t *buf, size_t cap,
				size_t *len);

/*
 * Parse one response that fills buf exactly (a UDP datagram). On
 * PCP_ERR_VERSION, r->version, r->r_bit and r->opcode are set, and for a
 * NAT-PMP answer r->natpmp_result and (from 8 bytes) r->epoch.
 */
enum pcp_err pcp_parse_response(struct pcp_response *r, const uint8_t *buf, size_t len);

/*
 * RFC 6887 section 11.4: a MAP response belongs to the request with the same
 * nonce, protocol and internal port. (The internal address, the response's
 * destination, is the caller's to compare.)
 */
enum pcp_err pcp_map_match(const struct pcp_response *r, const struct pcp_map_request *req);

/* The assigned external address and port of a MAP or PEER response: AF_INET
 * when the address is IPv4-mapped, else AF_INET6. */
enum pcp_err pcp_external(const struct pcp_response *r, struct sockaddr_storage *out);

const struct pcp_option *pcp_find_option(const struct pcp_response *r, uint8_t code);
const uint8_t *pcp_option_value(const struct pcp_response *r, const struct pcp_option *o);

bool pcp_addr_is_v4mapped(const uint8_t addr[16]);
/* AF_INET for an IPv4-mapped address, else AF_INET6; port in host order. */
void pcp_addr_to_sockaddr(const uint8_t addr[16], uint16_t port, struct sockaddr_storage *out);

#endif
