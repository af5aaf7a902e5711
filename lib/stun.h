/*
 * STUN message codec: RFC 8489 (and 5389), RFC 5780's behaviour-discovery
 * attributes, and RFC 3489 messages without the magic cookie.
 *
 * Parsing never copies: a struct stun_msg points into the caller's buffer,
 * which must outlive it. Every value is reached through a length-checked
 * accessor; every malformed input gives an enum stun_err with a name
 * (stun_strerror), never a read or write out of bounds.
 *
 * Building writes into a caller's buffer through a struct stun_builder whose
 * error is sticky: call the stun_build_* functions in order and check the
 * result once, at stun_build_end().
 */
#ifndef NATLAB_STUN_H
#define NATLAB_STUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define STUN_HEADER_LEN        20
#define STUN_MAGIC_COOKIE      0x2112A442u
#define STUN_TID_LEN           12
#define STUN_MAX_ATTRS         48 /* per message; more is STUN_ERR_TOO_MANY_ATTRS */
#define STUN_MAX_UNKNOWN       16 /* unknown required types remembered for a 420 */
#define STUN_FINGERPRINT_XOR   0x5354554Eu
#define STUN_HMAC_SHA1_LEN     20
#define STUN_HMAC_SHA256_LEN   32
#define STUN_NATLAB_COOKIE_LEN 8 /* NATLAB-COOKIE's value */
#define STUN_LONG_TERM_KEY_LEN 16

enum stun_class {
	STUN_REQUEST = 0,
	STUN_INDICATION = 1,
	STUN_SUCCESS = 2,
	STUN_ERROR = 3,
};

enum stun_method {
	STUN_BINDING = 0x001,
	STUN_SHARED_SECRET = 0x002, /* RFC 3489 only */
	/* natlab's own tests (reflector/PROTOCOL.md); not registered with IANA,
	 * answered only by a natreflector that has a session secret. */
	STUN_NATLAB_TEST = 0xF4C,
	/* natprobe's second host (probe/PEER.md); spoken only between natprobe
	 * and a `natprobe peer` on the same side of the NAT. */
	STUN_NATLAB_PEER = 0xF4D,
	/* natprobe's traversal trials between two probes (probe/punch.h): the
	 * packets that cross the NATs, authenticated with the session key. */
	STUN_NATLAB_PUNCH = 0xF4E,
	/* The rendezvous of two probes at natreflector (reflector/PROTOCOL.md). */
	STUN_NATLAB_RENDEZVOUS = 0xF4F,
};

/* RFC 5389/8489 section 18.2, RFC 5780 section 7, RFC 3489 section 11.2, RFC 8445. */
enum stun_attr_type {
	STUN_ATTR_MAPPED_ADDRESS = 0x0001,
	STUN_ATTR_RESPONSE_ADDRESS = 0x0002, /* RFC 3489 */
	STUN_ATTR_CHANGE_REQUEST = 0x0003,   /* RFC 3489, RFC 5780 */
	STUN_ATTR_SOURCE_ADDRESS = 0x0004,   /* RFC 3489 */
	STUN_ATTR_CHANGED_ADDRESS = 0x0005,  /* RFC 3489 */
	STUN_ATTR_USERNAME = 0x0006,
	STUN_ATTR_PASSWORD = 0x0007, /* RFC 3489 */
	STUN_ATTR_MESSAGE_INTEGRITY = 0x0008,
	STUN_ATTR_ERROR_CODE = 0x0009,
	STUN_ATTR_UNKNOWN_ATTRIBUTES = 0x000A,
	STUN_ATTR_REFLECTED_FROM = 0x000B,   /* RFC 3489 */
	STUN_ATTR_XOR_PEER_ADDRESS = 0x0012, /* RFC 8656 */
	STUN_ATTR_DATA = 0x0013,             /* RFC 8656 */
	STUN_ATTR_REALM = 0x0014,
	STUN_ATTR_NONCE = 0x0015,
	STUN_ATTR_MESSAGE_INTEGRITY_SHA256 = 0x001C,
	STUN_ATTR_PASSWORD_ALGORITHM = 0x001D,
	STUN_ATTR_USERHASH = 0x001E,
	STUN_ATTR_XOR_MAPPED_ADDRESS = 0x0020,
	STUN_ATTR_PRIORITY = 0x0024,      /* RFC 8445 */
	STUN_ATTR_USE_CANDIDATE = 0x0025, /* RFC 8445 */
	STUN_ATTR_PADDING = 0x0026,       /* RFC 5780 */
	STUN_ATTR_RESPONSE_PORT = 0x0027, /* RFC 5780 */
	STUN_ATTR_PASSWORD_ALGORITHMS = 0x8002,
	STUN_ATTR_ALTERNATE_DOMAIN = 0x8003,
	STUN_ATTR_XOR_MAPPED_ADDRESS_OLD = 0x8020, /* pre-RFC 5389 drafts */
	STUN_ATTR_SOFTWARE = 0x8022,
	STUN_ATTR_ALTERNATE_SERVER = 0x8023,
	STUN_ATTR_CACHE_TIMEOUT = 0x8027, /* RFC 5780 */
	STUN_ATTR_FINGERPRINT = 0x8028,
	STUN_ATTR_ICE_CONTROLLED = 0x8029,  /* RFC 8445 */
	STUN_ATTR_ICE_CONTROLLING = 0x802A, /* RFC 8445 */
	STUN_ATTR_RESPONSE_ORIGIN = 0x802B, /* RFC 5780 */
	STUN_ATTR_OTHER_ADDRESS = 0x802C,   /* RFC 5780 */
	/* natlab's own, comprehension-optional (reflector/PROTOCOL.md). */
	STUN_ATTR_NATLAB_ACTION = 0xC4C1,        /* action, role, 2 reserved */
	STUN_ATTR_NATLAB_TARGET_PORT = 0xC4C2,   /* port, 2 reserved */
	STUN_ATTR_NATLAB_TOKEN = 0xC4C3,         /* 8 bytes */
	STUN_ATTR_NATLAB_WAIT = 0xC4C4,          /* milliseconds */
	STUN_ATTR_NATLAB_OBSERVED = 0xC4C5,      /* outcome, ICMP type, code, 0, microseconds */
	STUN_ATTR_NATLAB_OBSERVED_FROM = 0xC4C6, /* XOR address */
	STUN_ATTR_NATLAB_SENT_FROM = 0xC4C7,     /* XOR address */
	STUN_ATTR_NATLAB_PEER_OP = 0xC4C8,       /* operation (probe/PEER.md) */
	STUN_ATTR_NATLAB_PEER_SOCKET = 0xC4C9,   /* the peer's socket number */
	STUN_ATTR_NATLAB_PEER_PORT = 0xC4CA,     /* local port wanted, 0 for any */
	STUN_ATTR_NATLAB_ECHO = 0xC4CB,          /* 8 bytes: the other probe's token, seen */
	STUN_ATTR_NATLAB_PRIVATE = 0xC4CC,       /* XOR address: a probe's own endpoint */
	STUN_ATTR_NATLAB_CLASS = 0xC4CD,         /* mapping, filtering, port pattern, delta */
	STUN_ATTR_NATLAB_RTT = 0xC4CE,           /* microseconds: a probe's round trip to S */
	STUN_ATTR_NATLAB_PEER_TTL =
	    0xC4D1, /* the TTL of the SYN that opened the connection, 3 reserved */
	STUN_ATTR_NATLAB_TRIAL = 0xC4CF,      /* the trial's number within its session */
	STUN_ATTR_NATLAB_RELAY = 0xC4D0,      /* empty: relay this trial (asked, granted) */
	STUN_ATTR_NATLAB_SEEN_SYN = 0xC4D2,   /* XOR address: who sent the SYN a silent port saw */
	STUN_ATTR_NATLAB_PEER_EVENT = 0xC4D3, /* a peer's TCP news: event, 3 reserved, socket */
	STUN_ATTR_NATLAB_TCP_CLASS = 0xC4D4,  /* 8 bytes: a probe's TCP class (probe/predict.h) */
	STUN_ATTR_NATLAB_COOKIE = 0xC4D5, /* 8 bytes: the rendezvous's return-routability proof */
	STUN_ATTR_NATLAB_PORTMAP =
	    0xC4D6, /* 8 bytes: a probe's gateway mapping (probe/predict.h) */
};

/* CHANGE-REQUEST flags, RFC 5780 section 7.2 (and RFC 3489 section 11.2.4). */
#define STUN_CHANGE_IP   0x4u
#define STUN_CHANGE_PORT 0x2u

enum stun_err {
	STUN_OK = 0,
	STUN_ERR_SHORT_HEADER,         /* fewer than 20 bytes */
	STUN_ERR_NOT_STUN,             /* the two top bits of the type are not zero */
	STUN_ERR_BAD_COOKIE,           /* no magic cookie, and RFC 3489 messages not allowed */
	STUN_ERR_BAD_LENGTH,           /* header length not a multiple of 4 */
	STUN_ERR_TRUNCATED,            /* fewer bytes than the header length says */
	STUN_ERR_TRAILING_DATA,        /* more bytes than the header length says */
	STUN_ERR_ATTR_OVERRUN,         /* an attribute's value runs past the message */
	STUN_ERR_BAD_PADDING,          /* the last attribute lacks its padding to 4 bytes */
	STUN_ERR_TOO_MANY_ATTRS,       /* more than STUN_MAX_ATTRS */
	STUN_ERR_UNKNOWN_REQUIRED,     /* unknown comprehension-required attribute */
	STUN_ERR_BAD_ATTR_LENGTH,      /* a known attribute with a length it cannot have */
	STUN_ERR_BAD_FAMILY,           /* an address attribute whose family is not 1 or 2 */
	STUN_ERR_BAD_VALUE,            /* a value outside its attribute's range */
	STUN_ERR_FINGERPRINT_NOT_LAST, /* an attribute follows FINGERPRINT */
	STUN_ERR_NOT_FOUND,            /* accessor: the attribute is absent */
	STUN_ERR_FINGERPRINT_MISMATCH,
	STUN_ERR_INTEGRITY_MISMATCH,
	STUN_ERR_NO_SPACE,     /* builder: the buffer is too small */
	STUN_ERR_BAD_ARGUMENT, /* builder: a value the wire format cannot carry */
	STUN_ERR_COUNT
};

struct stun_attr {
	uint16_t type;
	uint16_t len;    /* value length, without padding */
	uint32_t offset; /* of the value, from the start of the message: can pass 65535 */
};

struct stun_msg {
	const uint8_t *raw; /* the message: STUN_HEADER_LEN + header length bytes */
	size_t len;
	uint16_t type;
	uint16_t method;
	enum stun_class cls;
	uint32_t cookie; /* STUN_MAGIC_COOKIE unless legacy */
	uint8_t tid[STUN_TID_LEN];
	bool legacy; /* RFC 3489: no magic cookie */
	size_t nattrs;
	struct stun_attr attrs[STUN_MAX_ATTRS];
	size_t nunknown; /* comprehension-required types not understood */
	uint16_t unknown[STUN_MAX_UNKNOWN];
	size_t ignored; /* attributes after MESSAGE-INTEGRITY, ignored (RFC 8489 14.5) */
};

/* stun_parse flags */
#define STUN_PARSE_LEGACY 0x1u /* accept RFC 3489 messages (no magic cookie) */

const char *stun_strerror(enum stun_err err);
const char *stun_err_name(enum stun_err err);
const char *stun_attr_name(uint16_t type);
const char *stun_class_name(enum stun_class cls);
const char *stun_method_name(uint16_t method);

uint16_t stun_type(uint16_t method, enum stun_class cls);
bool stun_attr_is_known(uint16_t type);

/*
 * Parse one message that fills buf exactly (a UDP datagram, or one message
 * framed from a stream by stun_frame_length). On STUN_ERR_UNKNOWN_REQUIRED the
 * message is otherwise fully parsed and m->unknown lists the types, so that a
 * server can answer 420 with UNKNOWN-ATTRIBUTES.
 */
enum stun_err stun_parse(struct stun_msg *m, const uint8_t *buf, size_t len, unsigned flags);

/* For stream transports: the length of the message starting at buf, or 0 when
 * more bytes are needed; an error when the bytes cannot start a STUN message. */
enum stun_err stun_frame_length(const uint8_t *buf, size_t len, size_t *msg_len);

const struct stun_attr *stun_find(const struct stun_msg *m, uint16_t type);
const uint8_t *stun_attr_value(const struct stun_msg *m, const struct stun_attr *a);

/* MAPPED-ADDRESS, XOR-*-ADDRESS (de-XORed), and the other address attributes. */
enum stun_err stun_attr_addr(const struct stun_msg *m, const struct stun_attr *a,
			     struct sockaddr_storage *out);
enum stun_err stun_get_addr(const struct stun_msg *m, uint16_t type, struct sockaddr_storage *out);
enum stun_err stun_attr_u32(const struct stun_msg *m, const struct stun_attr *a, uint32_t *v);
enum stun_err stun_get_u32(const struct stun_msg *m, uint16_t type, uint32_t *v);
/* ERROR-CODE: code 300..699; reason points into the message, not NUL-terminated. */
enum stun_err stun_get_error(const struct stun_msg *m, unsigned *code, const char **reason,
			     size_t *reason_len);
/* UNKNOWN-ATTRIBUTES: up to max types into types, their count into *n. */
enum stun_err stun_get_unknown(const struct stun_msg *m, uint16_t *types, size_t max, size_t *n);
/* RESPONSE-PORT (RFC 5780 section 7.4). */
enum stun_err stun_get_response_port(const struct stun_msg *m, uint16_t *port);

/* Verification. STUN_OK, STUN_ERR_NOT_FOUND, or the mismatch. */
enum stun_err stun_check_fingerprint(const struct stun_msg *m);
enum stun_err stun_check_integrity(const struct stun_msg *m, const uint8_t *key, size_t key_len);
enum stun_err stun_check_integrity_sha256(const struct stun_msg *m, const uint8_t *key,
					  size_t key_len);

/*
 * RFC 8489 section 9.2.2: the long-term key MD5(username ":" realm ":" password).
 * The strings must already be prepared (SASLprep / OpaqueString); this does
 * not normalise Unicode.
 */
enum stun_err stun_long_term_key(const char *username, const char *realm, const char *password,
				 uint8_t key[STUN_LONG_TERM_KEY_LEN]);

struct stun_builder {
	uint8_t *buf;
	size_t cap;
	size_t len;
	enum stun_err err;
	uint8_t pad; /* padding byte; 0 unless a test must reproduce other bytes */
};

void stun_build_start(struct stun_builder *b, uint8_t *buf, size_t cap, uint16_t type,
		      uint32_t cookie, const uint8_t tid[STUN_TID_LEN]);
/* A response to req, of class cls, with req's cookie and transaction ID. */
void stun_build_response(struct stun_builder *b, uint8_t *buf, size_t cap,
			 const struct stun_msg *req, enum stun_class cls);
void stun_build_attr(struct stun_builder *b, uint16_t type, const void *value, size_t len);
void stun_build_u32(struct stun_builder *b, uint16_t type, uint32_t value);
void stun_build_string(struct stun_builder *b, uint16_t type, const char *s);
/* XORs the address for XOR-MAPPED-ADDRESS (both code points). */
void stun_build_addr(struct stun_builder *b, uint16_t type, const struct sockaddr *sa);
void stun_build_error(struct stun_builder *b, unsigned code, const char *reason);
void stun_build_unknown(struct stun_builder *b, const uint16_t *types, size_t n);
void stun_build_integrity(struct stun_builder *b, const uint8_t *key, size_t key_len);
void stun_build_integrity_sha256(struct stun_builder *b, const uint8_t *key, size_t key_len);
void stun_build_fingerprint(struct stun_builder *b);
enum stun_err stun_build_end(struct stun_builder *b, size_t *len);

#endif
