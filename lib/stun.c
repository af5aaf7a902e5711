/*
 * STUN message codec. See stun.h for the contract.
 *
 * RFC 8489 section 5, the message header:
 *
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |0 0|     STUN Message Type     |         Message Length        |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |                         Magic Cookie                          |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |                     Transaction ID (96 bits)                  |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * The message type interleaves the class bits C1 C0 with the method bits:
 *
 *   M11 M10 M9 M8 M7 C1 M6 M5 M4 C0 M3 M2 M1 M0
 *
 * RFC 3489 has no magic cookie: its 128-bit transaction ID covers those four
 * bytes too. We keep them in msg.cookie either way, so XOR addresses and
 * replies use the bytes the peer actually sent.
 *
 * RFC 8489 section 14, attributes, padded to a multiple of four bytes:
 *
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |         Type                  |            Length             |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |                         Value (variable)                ....
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 */
#include "stun.h"

#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <nettle/hmac.h>
#include <nettle/md5.h>
#include <nettle/memops.h>
#include <libdeflate.h>

#include "wire.h"

#define PAD4(n)  (((n) + 3u) & ~(size_t)3u)
#define MAX_BODY 0xFFFCu /* largest header length that is a multiple of 4 */

static const struct {
	const char *name;
	const char *text;
} err_table[STUN_ERR_COUNT] = {
    [STUN_OK] = {"ok", "no error"},
    [STUN_ERR_SHORT_HEADER] = {"short-header", "fewer than 20 bytes: no STUN header"},
    [STUN_ERR_NOT_STUN] = {"not-stun", "the two top bits of the message type are not zero"},
    [STUN_ERR_BAD_COOKIE] = {"bad-cookie", "the magic cookie is not 0x2112A442"},
    [STUN_ERR_BAD_LENGTH] = {"bad-length", "the header length is not a multiple of 4"},
    [STUN_ERR_TRUNCATED] = {"truncated", "the message is shorter than its header length says"},
    [STUN_ERR_TRAILING_DATA] = {"trailing-data",
				"bytes follow the end that the header length gives"},
    [STUN_ERR_ATTR_OVERRUN] = {"attr-overrun",
			       "an attribute's value runs past the end of the message"},
    [STUN_ERR_BAD_PADDING] = {"bad-padding", "an attribute ends the message without its padding"},
    [STUN_ERR_TOO_MANY_ATTRS] = {"too-many-attrs", "more attributes than natlab accepts"},
    [STUN_ERR_UNKNOWN_REQUIRED] = {"unknown-required",
				   "an unknown comprehension-required attribute"},
    [STUN_ERR_BAD_ATTR_LENGTH] = {"bad-attr-length", "an attribute's length is wrong for its type"},
    [STUN_ERR_BAD_FAMILY] = {"bad-family", "an address family that is neither 1 nor 2"},
    [STUN_ERR_BAD_VALUE] = {"bad-value", "an attribute value outside its range"},
    [STUN_ERR_FINGERPRINT_NOT_LAST] = {"fingerprint-not-last", "an attribute follows FINGERPRINT"},
    [STUN_ERR_NOT_FOUND] = {"not-found", "the attribute is not in the message"},
    [STUN_ERR_FINGERPRINT_MISMATCH] = {"fingerprint-mismatch",
				       "FINGERPRINT does not match the message"},
    [STUN_ERR_INTEGRITY_MISMATCH] = {"integrity-mismatch",
				     "MESSAGE-INTEGRITY does not match the message and key"},
    [STUN_ERR_NO_SPACE] = {"no-space", "the message does not fit in the buffer"},
    [STUN_ERR_BAD_ARGUMENT] = {"bad-argument", "a value the STUN wire format cannot carry"},
};

const char *stun_err_name(enum stun_err err)
{
	return (unsigned)err < STUN_ERR_COUNT ? err_table[err].name : "invalid-error";
}

const char *stun_strerror(enum stun_err err)
{
	return (unsigned)err < STUN_ERR_COUNT ? err_table[err].text : "invalid error code";
}

static const struct {
	uint16_t type;
	const char *name;
} attr_table[] = {
    {STUN_ATTR_MAPPED_ADDRESS, "MAPPED-ADDRESS"},
    {STUN_ATTR_RESPONSE_ADDRESS, "RESPONSE-ADDRESS"},
    {STUN_ATTR_CHANGE_REQUEST, "CHANGE-REQUEST"},
    {STUN_ATTR_SOURCE_ADDRESS, "SOURCE-ADDRESS"},
    {STUN_ATTR_CHANGED_ADDRESS, "CHANGED-ADDRESS"},
    {STUN_ATTR_USERNAME, "USERNAME"},
    {STUN_ATTR_PASSWORD, "PASSWORD"},
    {STUN_ATTR_MESSAGE_INTEGRITY, "MESSAGE-INTEGRITY"},
    {STUN_ATTR_ERROR_CODE, "ERROR-CODE"},
    {STUN_ATTR_UNKNOWN_ATTRIBUTES, "UNKNOWN-ATTRIBUTES"},
    {STUN_ATTR_REFLECTED_FROM, "REFLECTED-FROM"},
    {STUN_ATTR_XOR_PEER_ADDRESS, "XOR-PEER-ADDRESS"},
    {STUN_ATTR_DATA, "DATA"},
    {STUN_ATTR_REALM, "REALM"},
    {STUN_ATTR_NONCE, "NONCE"},
    {STUN_ATTR_MESSAGE_INTEGRITY_SHA256, "MESSAGE-INTEGRITY-SHA256"},
    {STUN_ATTR_PASSWORD_ALGORITHM, "PASSWORD-ALGORITHM"},
    {STUN_ATTR_USERHASH, "USERHASH"},
    {STUN_ATTR_XOR_MAPPED_ADDRESS, "XOR-MAPPED-ADDRESS"},
    {STUN_ATTR_PRIORITY, "PRIORITY"},
    {STUN_ATTR_USE_CANDIDATE, "USE-CANDIDATE"},
    {STUN_ATTR_PADDING, "PADDING"},
    {STUN_ATTR_RESPONSE_PORT, "RESPONSE-PORT"},
    {STUN_ATTR_PASSWORD_ALGORITHMS, "PASSWORD-ALGORITHMS"},
    {STUN_ATTR_ALTERNATE_DOMAIN, "ALTERNATE-DOMAIN"},
    {STUN_ATTR_XOR_MAPPED_ADDRESS_OLD, "XOR-MAPPED-ADDRESS-OLD"},
    {STUN_ATTR_SOFTWARE, "SOFTWARE"},
    {STUN_ATTR_ALTERNATE_SERVER, "ALTERNATE-SERVER"},
    {STUN_ATTR_CACHE_TIMEOUT, "CACHE-TIMEOUT"},
    {STUN_ATTR_FINGERPRINT, "FINGERPRINT"},
    {STUN_ATTR_ICE_CONTROLLED, "ICE-CONTROLLED"},
    {STUN_ATTR_ICE_CONTROLLING, "ICE-CONTROLLING"},
    {STUN_ATTR_RESPONSE_ORIGIN, "RESPONSE-ORIGIN"},
    {STUN_ATTR_OTHER_ADDRESS, "OTHER-ADDRESS"},
    {STUN_ATTR_NATLAB_ACTION, "NATLAB-ACTION"},
    {STUN_ATTR_NATLAB_TARGET_PORT, "NATLAB-TARGET-PORT"},
    {STUN_ATTR_NATLAB_TOKEN, "NATLAB-TOKEN"},
    {STUN_ATTR_NATLAB_WAIT, "NATLAB-WAIT"},
    {STUN_ATTR_NATLAB_OBSERVED, "NATLAB-OBSERVED"},
    {STUN_ATTR_NATLAB_OBSERVED_FROM, "NATLAB-OBSERVED-FROM"},
    {STUN_ATTR_NATLAB_SENT_FROM, "NATLAB-SENT-FROM"},
    {STUN_ATTR_NATLAB_PEER_OP, "NATLAB-PEER-OP"},
    {STUN_ATTR_NATLAB_PEER_SOCKET, "NATLAB-PEER-SOCKET"},
    {STUN_ATTR_NATLAB_PEER_PORT, "NATLAB-PEER-PORT"},
    {STUN_ATTR_NATLAB_ECHO, "NATLAB-ECHO"},
    {STUN_ATTR_NATLAB_PRIVATE, "NATLAB-PRIVATE"},
    {STUN_ATTR_NATLAB_CLASS, "NATLAB-CLASS"},
    {STUN_ATTR_NATLAB_RTT, "NATLAB-RTT"},
    {STUN_ATTR_NATLAB_TRIAL, "NATLAB-TRIAL"},
    {STUN_ATTR_NATLAB_RELAY, "NATLAB-RELAY"},
    {STUN_ATTR_NATLAB_SEEN_SYN, "NATLAB-SEEN-SYN"},
};

const char *stun_attr_name(uint16_t type)
{
	for (size_t i = 0; i < sizeof(attr_table) / sizeof(attr_table[0]); i++)
		if (attr_table[i].type == type)
			return attr_table[i].name;
	return NULL;
}

bool stun_attr_is_known(uint16_t type)
{
	return stun_attr_name(type) != NULL;
}

const char *stun_class_name(enum stun_class cls)
{
	static const char *const names[] = {"request", "indication", "success", "error"};

	return (unsigned)cls < 4 ? names[cls] : "invalid";
}

const char *stun_method_name(uint16_t method)
{
	switch (method) {
	case STUN_BINDING:
		return "Binding";
	case STUN_SHARED_SECRET:
		return "SharedSecret";
	case STUN_NATLAB_TEST:
		return "NatlabTest";
	case STUN_NATLAB_PEER:
		return "NatlabPeer";
	case STUN_NATLAB_PUNCH:
		return "NatlabPunch";
	case STUN_NATLAB_RENDEZVOUS:
		return "NatlabRendezvous";
	default:
		return NULL;
	}
}

uint16_t stun_type(uint16_t method, enum stun_class cls)
{
	return (uint16_t)((method & 0x000F) | (method & 0x0070) << 1 | (method & 0x0F80) << 2 |
			  ((unsigned)cls & 1) << 4 | ((unsigned)cls & 2) << 7);
}

static bool is_addr_attr(uint16_t type)
{
	switch (type) {
	case STUN_ATTR_MAPPED_ADDRESS:
	case STUN_ATTR_RESPONSE_ADDRESS:
	case STUN_ATTR_SOURCE_ADDRESS:
	case STUN_ATTR_CHANGED_ADDRESS:
	case STUN_ATTR_REFLECTED_FROM:
	case STUN_ATTR_XOR_MAPPED_ADDRESS:
	case STUN_ATTR_XOR_MAPPED_ADDRESS_OLD:
	case STUN_ATTR_ALTERNATE_SERVER:
	case STUN_ATTR_RESPONSE_ORIGIN:
	case STUN_ATTR_OTHER_ADDRESS:
	case STUN_ATTR_NATLAB_OBSERVED_FROM:
	case STUN_ATTR_NATLAB_SENT_FROM:
	case STUN_ATTR_NATLAB_PRIVATE:
	case STUN_ATTR_NATLAB_SEEN_SYN:
	case STUN_ATTR_XOR_PEER_ADDRESS:
		return true;
	default:
		return false;
	}
}

static bool is_xor_attr(uint16_t type)
{
	return type == STUN_ATTR_XOR_MAPPED_ADDRESS || type == STUN_ATTR_XOR_MAPPED_ADDRESS_OLD ||
	       type == STUN_ATTR_NATLAB_OBSERVED_FROM || type == STUN_ATTR_NATLAB_SENT_FROM ||
	       type == STUN_ATTR_NATLAB_PRIVATE || type == STUN_ATTR_NATLAB_SEEN_SYN ||
	       type == STUN_ATTR_XOR_PEER_ADDRESS;
}

/* The lengths a known attribute can have; anything else is malformed. */
static enum stun_err check_attr_shape(uint16_t type, const uint8_t *v, uint16_t len)
{
	if (is_addr_attr(type)) {
		/* RFC 8489 14.1: reserved byte, family, port, 4 or 16 address bytes. */
		if (len < 4)
			return STUN_ERR_BAD_ATTR_LENGTH;
		if (v[1] != 1 && v[1] != 2)
			return STUN_ERR_BAD_FAMILY;
		return len == (v[1] == 1 ? 8 : 20) ? STUN_OK : STUN_ERR_BAD_ATTR_LENGTH;
	}
	switch (type) {
	case STUN_ATTR_CHANGE_REQUEST:
	case STUN_ATTR_PRIORITY:
	case STUN_ATTR_RESPONSE_PORT:
	case STUN_ATTR_CACHE_TIMEOUT:
	case STUN_ATTR_FINGERPRINT:
	case STUN_ATTR_NATLAB_ACTION:
	case STUN_ATTR_NATLAB_TARGET_PORT:
	case STUN_ATTR_NATLAB_WAIT:
	case STUN_ATTR_NATLAB_PEER_OP:
	case STUN_ATTR_NATLAB_PEER_SOCKET:
	case STUN_ATTR_NATLAB_PEER_PORT:
	case STUN_ATTR_NATLAB_CLASS:
	case STUN_ATTR_NATLAB_RTT:
	case STUN_ATTR_NATLAB_TRIAL:
		return len == 4 ? STUN_OK : STUN_ERR_BAD_ATTR_LENGTH;
	case STUN_ATTR_ICE_CONTROLLED:
	case STUN_ATTR_ICE_CONTROLLING:
	case STUN_ATTR_NATLAB_TOKEN:
	case STUN_ATTR_NATLAB_ECHO:
	case STUN_ATTR_NATLAB_OBSERVED:
		return len == 8 ? STUN_OK : STUN_ERR_BAD_ATTR_LENGTH;
	case STUN_ATTR_USE_CANDIDATE:
	case STUN_ATTR_NATLAB_RELAY:
		return len == 0 ? STUN_OK : STUN_ERR_BAD_ATTR_LENGTH;
	case STUN_ATTR_MESSAGE_INTEGRITY:
		return len == STUN_HMAC_SHA1_LEN ? STUN_OK : STUN_ERR_BAD_ATTR_LENGTH;
	case STUN_ATTR_MESSAGE_INTEGRITY_SHA256:
		/* RFC 8489 14.6: 16 to 32 bytes, a multiple of 4. */
		return len >= 16 && len <= 32 && len % 4 == 0 ? STUN_OK : STUN_ERR_BAD_ATTR_LENGTH;
	case STUN_ATTR_USERHASH:
		return len == 32 ? STUN_OK : STUN_ERR_BAD_ATTR_LENGTH;
	case STUN_ATTR_ERROR_CODE:
		return len >= 4 ? STUN_OK : STUN_ERR_BAD_ATTR_LENGTH;
	case STUN_ATTR_UNKNOWN_ATTRIBUTES:
		return len % 2 == 0 ? STUN_OK : STUN_ERR_BAD_ATTR_LENGTH;
	default:
		return STUN_OK;
	}
}

static enum stun_err parse_header(struct stun_msg *m, const uint8_t *buf, size_t len,
				  unsigned flags, uint16_t *body_len)
{
	struct wire_cursor c = wire_cursor(buf, len);
	const uint8_t *tid;

	if (len < STUN_HEADER_LEN)
		return STUN_ERR_SHORT_HEADER;
	wire_u16(&c, &m->type);
	wire_u16(&c, body_len);
	wire_u32(&c, &m->cookie);
	tid = wire_take(&c, STUN_TID_LEN);
	memcpy(m->tid, tid, STUN_TID_LEN);

	if (m->type & 0xC000)
		return STUN_ERR_NOT_STUN;
	m->legacy = m->cookie != STUN_MAGIC_COOKIE;
	if (m->legacy && !(flags & STUN_PARSE_LEGACY))
		return STUN_ERR_BAD_COOKIE;
	/* A length that is not a multiple of 4 is reported by the attribute walk,
	 * which can say which attribute lacks its padding. */
	if (c.left < *body_len)
		return STUN_ERR_TRUNCATED;
	if (c.left > *body_len)
		return STUN_ERR_TRAILING_DATA;

	m->cls = (enum stun_class)((m->type >> 7 & 2) | (m->type >> 4 & 1));
	m->method =
	    (uint16_t)((m->type & 0x000F) | (m->type >> 1 & 0x0070) | (m->type >> 2 & 0x0F80));
	m->raw = buf;
	m->len = STUN_HEADER_LEN + (size_t)*body_len;
	return STUN_OK;
}

/*
 * RFC 8489 section 14.5 and 14.7: attributes after MESSAGE-INTEGRITY are
 * ignored, except MESSAGE-INTEGRITY-SHA256 and FINGERPRINT; FINGERPRINT is last.
 */
static bool ignored_after_integrity(uint16_t type, bool seen_mi, bool seen_mi256)
{
	if (seen_mi256)
		return type != STUN_ATTR_FINGERPRINT;
	if (seen_mi)
		return type != STUN_ATTR_MESSAGE_INTEGRITY_SHA256 && type != STUN_ATTR_FINGERPRINT;
	return false;
}

enum stun_err stun_parse(struct stun_msg *m, const uint8_t *buf, size_t len, unsigned flags)
{
	struct wire_cursor c;
	uint16_t body_len;
	bool seen_mi = false, seen_mi256 = false, seen_fp = false, unknown = false;
	enum stun_err err;

	memset(m, 0, sizeof(*m));
	err = parse_header(m, buf, len, flags, &body_len);
	if (err)
		return err;

	c = wire_cursor(buf + STUN_HEADER_LEN, body_len);
	while (c.left > 0) {
		uint16_t type, alen;
		const uint8_t *value;
		size_t offset = (size_t)(c.p - buf) + 4;

		/* Every attribute takes a multiple of 4 bytes, so a stray 1..3 bytes
		 * means the header length is not a multiple of 4 (RFC 8489 5). */
		if (c.left < 4)
			return STUN_ERR_BAD_LENGTH;
		wire_u16(&c, &type);
		wire_u16(&c, &alen);
		value = wire_take(&c, alen);
		if (!value)
			return STUN_ERR_ATTR_OVERRUN;
		if (!wire_take(&c, PAD4(alen) - alen))
			return STUN_ERR_BAD_PADDING;
		if (seen_fp)
			return STUN_ERR_FINGERPRINT_NOT_LAST;
		if (ignored_after_integrity(type, seen_mi, seen_mi256)) {
			m->ignored++;
			continue;
		}
		err = check_attr_shape(type, value, alen);
		if (err)
			return err;
		if (!stun_attr_is_known(type) && type < 0x8000) {
			/* RFC 8489 7.3.1: comprehension-required; the caller answers 420. */
			unknown = true;
			if (m->nunknown < STUN_MAX_UNKNOWN)
				m->unknown[m->nunknown++] = type;
		}
		if (m->nattrs == STUN_MAX_ATTRS)
			return STUN_ERR_TOO_MANY_ATTRS;
		m->attrs[m->nattrs++] = (struct stun_attr){type, alen, (uint32_t)offset};
		seen_mi |= type == STUN_ATTR_MESSAGE_INTEGRITY;
		seen_mi256 |= type == STUN_ATTR_MESSAGE_INTEGRITY_SHA256;
		seen_fp |= type == STUN_ATTR_FINGERPRINT;
	}
	return unknown ? STUN_ERR_UNKNOWN_REQUIRED : STUN_OK;
}

enum stun_err stun_frame_length(const uint8_t *buf, size_t len, size_t *msg_len)
{
	*msg_len = 0;
	if (len >= 1 && buf[0] & 0xC0)
		return STUN_ERR_NOT_STUN;
	if (len >= 8 && wire_get32(buf + 4) != STUN_MAGIC_COOKIE)
		return STUN_ERR_BAD_COOKIE;
	if (len < 4)
		return STUN_OK;
	if (wire_get16(buf + 2) % 4)
		return STUN_ERR_BAD_LENGTH;
	*msg_len = STUN_HEADER_LEN + (size_t)wire_get16(buf + 2);
	return STUN_OK;
}

const struct stun_attr *stun_find(const struct stun_msg *m, uint16_t type)
{
	/* RFC 8489 14: a receiver uses the first of duplicate attributes. */
	for (size_t i = 0; i < m->nattrs; i++)
		if (m->attrs[i].type == type)
			return &m->attrs[i];
	return NULL;
}

const uint8_t *stun_attr_value(const struct stun_msg *m, const struct stun_attr *a)
{
	return m->raw + a->offset;
}

/* XOR-MAPPED-ADDRESS, RFC 8489 14.2: the port with the cookie's top 16 bits,
 * the address with the cookie (IPv4) or the cookie and transaction ID (IPv6).
 * The 16 bytes are those at offset 4 of the message header. */
static void xor_key(uint32_t cookie, const uint8_t tid[STUN_TID_LEN], uint8_t key[16])
{
	wire_put32(key, cookie);
	memcpy(key + 4, tid, STUN_TID_LEN);
}

enum stun_err stun_attr_addr(const struct stun_msg *m, const struct stun_attr *a,
			     struct sockaddr_storage *out)
{
	const uint8_t *v = stun_attr_value(m, a);
	uint8_t key[16];
	bool xored = is_xor_attr(a->type);
	uint16_t port;
	enum stun_err err;

	if (!is_addr_attr(a->type))
		return STUN_ERR_BAD_ARGUMENT;
	err = check_attr_shape(a->type, v, a->len);
	if (err)
		return err;
	xor_key(m->cookie, m->tid, key);
	port = wire_get16(v + 2);
	if (xored)
		port ^= (uint16_t)(m->cookie >> 16);

	memset(out, 0, sizeof(*out));
	if (v[1] == 1) {
		struct sockaddr_in *sin = (struct sockaddr_in *)out;
		uint8_t ip[4];

		for (int i = 0; i < 4; i++)
			ip[i] = (uint8_t)(v[4 + i] ^ (xored ? key[i] : 0));
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		memcpy(&sin->sin_addr, ip, 4);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)out;
		uint8_t ip[16];

		for (int i = 0; i < 16; i++)
			ip[i] = (uint8_t)(v[4 + i] ^ (xored ? key[i] : 0));
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		memcpy(&sin6->sin6_addr, ip, 16);
	}
	return STUN_OK;
}

enum stun_err stun_get_addr(const struct stun_msg *m, uint16_t type, struct sockaddr_storage *out)
{
	const struct stun_attr *a = stun_find(m, type);

	return a ? stun_attr_addr(m, a, out) : STUN_ERR_NOT_FOUND;
}

enum stun_err stun_attr_u32(const struct stun_msg *m, const struct stun_attr *a, uint32_t *v)
{
	if (a->len != 4)
		return STUN_ERR_BAD_ATTR_LENGTH;
	*v = wire_get32(stun_attr_value(m, a));
	return STUN_OK;
}

enum stun_err stun_get_u32(const struct stun_msg *m, uint16_t type, uint32_t *v)
{
	const struct stun_attr *a = stun_find(m, type);

	return a ? stun_attr_u32(m, a, v) : STUN_ERR_NOT_FOUND;
}

enum stun_err stun_get_error(const struct stun_msg *m, unsigned *code, const char **reason,
			     size_t *reason_len)
{
	const struct stun_attr *a = stun_find(m, STUN_ATTR_ERROR_CODE);
	const uint8_t *v;
	unsigned cls, number;

	if (!a)
		return STUN_ERR_NOT_FOUND;
	if (a->len < 4)
		return STUN_ERR_BAD_ATTR_LENGTH;
	/* RFC 8489 14.8: 21 reserved bits, class (3 bits, 3..6), number (0..99). */
	v = stun_attr_value(m, a);
	cls = v[2] & 0x7;
	number = v[3];
	if (cls < 3 || cls > 6 || number > 99)
		return STUN_ERR_BAD_VALUE;
	*code = cls * 100 + number;
	*reason = (const char *)(v + 4);
	*reason_len = a->len - 4u;
	return STUN_OK;
}

enum stun_err stun_get_unknown(const struct stun_msg *m, uint16_t *types, size_t max, size_t *n)
{
	const struct stun_attr *a = stun_find(m, STUN_ATTR_UNKNOWN_ATTRIBUTES);
	struct wire_cursor c;

	*n = 0;
	if (!a)
		return STUN_ERR_NOT_FOUND;
	c = wire_cursor(stun_attr_value(m, a), a->len);
	while (*n < max && wire_u16(&c, &types[*n]))
		(*n)++;
	return STUN_OK;
}

enum stun_err stun_get_response_port(const struct stun_msg *m, uint16_t *port)
{
	uint32_t v;
	enum stun_err err = stun_get_u32(m, STUN_ATTR_RESPONSE_PORT, &v);

	if (!err)
		*port = (uint16_t)(v >> 16);
	return err;
}

/*
 * RFC 8489 14.5/14.6: the HMAC covers the message up to the integrity
 * attribute, with the header's length set as if that attribute ended the
 * message. We feed the patched header and the rest as two pieces: no copy.
 */
static void integrity_header(const struct stun_msg *m, const struct stun_attr *a,
			     uint8_t hdr[STUN_HEADER_LEN])
{
	memcpy(hdr, m->raw, STUN_HEADER_LEN);
	wire_put16(hdr + 2, (uint16_t)(a->offset + PAD4(a->len) - STUN_HEADER_LEN));
}

static void hmac_sha1_2(const uint8_t *key, size_t key_len, const uint8_t *p1, size_t n1,
			const uint8_t *p2, size_t n2, uint8_t out[STUN_HMAC_SHA1_LEN])
{
	struct hmac_sha1_ctx ctx;

	hmac_sha1_set_key(&ctx, key_len, key);
	hmac_sha1_update(&ctx, n1, p1);
	hmac_sha1_update(&ctx, n2, p2);
	hmac_sha1_digest(&ctx, STUN_HMAC_SHA1_LEN, out);
}

static void hmac_sha256_2(const uint8_t *key, size_t key_len, const uint8_t *p1, size_t n1,
			  const uint8_t *p2, size_t n2, uint8_t out[STUN_HMAC_SHA256_LEN])
{
	struct hmac_sha256_ctx ctx;

	hmac_sha256_set_key(&ctx, key_len, key);
	hmac_sha256_update(&ctx, n1, p1);
	hmac_sha256_update(&ctx, n2, p2);
	hmac_sha256_digest(&ctx, STUN_HMAC_SHA256_LEN, out);
}

enum stun_err stun_check_integrity(const struct stun_msg *m, const uint8_t *key, size_t key_len)
{
	const struct stun_attr *a = stun_find(m, STUN_ATTR_MESSAGE_INTEGRITY);
	uint8_t hdr[STUN_HEADER_LEN], mac[STUN_HMAC_SHA1_LEN];
	size_t body;

	if (!a)
		return STUN_ERR_NOT_FOUND;
	if (a->len != STUN_HMAC_SHA1_LEN)
		return STUN_ERR_BAD_ATTR_LENGTH;
	integrity_header(m, a, hdr);
	body = a->offset - 4u - STUN_HEADER_LEN;
	hmac_sha1_2(key, key_len, hdr, sizeof(hdr), m->raw + STUN_HEADER_LEN, body, mac);
	return memeql_sec(mac, stun_attr_value(m, a), sizeof(mac)) ? STUN_OK
								   : STUN_ERR_INTEGRITY_MISMATCH;
}

enum stun_err stun_check_integrity_sha256(const struct stun_msg *m, const uint8_t *key,
					  size_t key_len)
{
	const struct stun_attr *a = stun_find(m, STUN_ATTR_MESSAGE_INTEGRITY_SHA256);
	uint8_t hdr[STUN_HEADER_LEN], mac[STUN_HMAC_SHA256_LEN];
	size_t body;

	if (!a)
		return STUN_ERR_NOT_FOUND;
	if (a->len < 16 || a->len > STUN_HMAC_SHA256_LEN)
		return STUN_ERR_BAD_ATTR_LENGTH;
	integrity_header(m, a, hdr);
	body = a->offset - 4u - STUN_HEADER_LEN;
	hmac_sha256_2(key, key_len, hdr, sizeof(hdr), m->raw + STUN_HEADER_LEN, body, mac);
	/* RFC 8489 14.6: a truncated HMAC compares its leftmost bytes. */
	return memeql_sec(mac, stun_attr_value(m, a), a->len) ? STUN_OK
							      : STUN_ERR_INTEGRITY_MISMATCH;
}

/* RFC 8489 14.7: CRC-32 (ISO 3309, zlib's polynomial) of the message up to
 * FINGERPRINT, XORed with 0x5354554e. libdeflate's, not zlib's: on the 30 to
 * 100 bytes of a STUN message zlib 1.2.13 takes ~130 ns, libdeflate ~25 ns,
 * and a reflector computes two per answer (the request's, the reply's). */
static uint32_t fingerprint_of(const uint8_t *msg, size_t len_before_attr)
{
	return libdeflate_crc32(0, msg, len_before_attr) ^ STUN_FINGERPRINT_XOR;
}

enum stun_err stun_check_fingerprint(const struct stun_msg *m)
{
	const struct stun_attr *a = stun_find(m, STUN_ATTR_FINGERPRINT);

	if (!a)
		return STUN_ERR_NOT_FOUND;
	if (a->len != 4)
		return STUN_ERR_BAD_ATTR_LENGTH;
	return fingerprint_of(m->raw, a->offset - 4u) == wire_get32(stun_attr_value(m, a))
		   ? STUN_OK
		   : STUN_ERR_FINGERPRINT_MISMATCH;
}

enum stun_err stun_long_term_key(const char *username, const char *realm, const char *password,
				 uint8_t key[STUN_LONG_TERM_KEY_LEN])
{
	struct md5_ctx ctx;

	md5_init(&ctx);
	md5_update(&ctx, strlen(username), (const uint8_t *)username);
	md5_update(&ctx, 1, (const uint8_t *)":");
	md5_update(&ctx, strlen(realm), (const uint8_t *)realm);
	md5_update(&ctx, 1, (const uint8_t *)":");
	md5_update(&ctx, strlen(password), (const uint8_t *)password);
	md5_digest(&ctx, STUN_LONG_TERM_KEY_LEN, key);
	return STUN_OK;
}

/* ---- building ---- */

void stun_build_start(struct stun_builder *b, uint8_t *buf, size_t cap, uint16_t type,
		      uint32_t cookie, const uint8_t tid[STUN_TID_LEN])
{
	*b = (struct stun_builder){.buf = buf, .cap = cap};
	if (cap < STUN_HEADER_LEN) {
		b->err = STUN_ERR_NO_SPACE;
		return;
	}
	if (type & 0xC000) {
		b->err = STUN_ERR_BAD_ARGUMENT;
		return;
	}
	wire_put16(buf, type);
	wire_put16(buf + 2, 0);
	wire_put32(buf + 4, cookie);
	memcpy(buf + 8, tid, STUN_TID_LEN);
	b->len = STUN_HEADER_LEN;
}

void stun_build_response(struct stun_builder *b, uint8_t *buf, size_t cap,
			 const struct stun_msg *req, enum stun_class cls)
{
	stun_build_start(b, buf, cap, stun_type(req->method, cls), req->cookie, req->tid);
}

/* Append an attribute header and padding; returns where its value goes. */
static uint8_t *put_attr(struct stun_builder *b, uint16_t type, size_t len)
{
	size_t need = 4 + PAD4(len);
	uint8_t *v;

	if (b->err)
		return NULL;
	if (len > 0xFFFF) {
		b->err = STUN_ERR_BAD_ARGUMENT;
		return NULL;
	}
	if (need > b->cap - b->len || b->len - STUN_HEADER_LEN + need > MAX_BODY) {
		b->err = STUN_ERR_NO_SPACE;
		return NULL;
	}
	wire_put16(b->buf + b->len, type);
	wire_put16(b->buf + b->len + 2, (uint16_t)len);
	v = b->buf + b->len + 4;
	memset(v + len, b->pad, PAD4(len) - len);
	b->len += need;
	wire_put16(b->buf + 2, (uint16_t)(b->len - STUN_HEADER_LEN));
	return v;
}

void stun_build_attr(struct stun_builder *b, uint16_t type, const void *value, size_t len)
{
	uint8_t *v = put_attr(b, type, len);

	if (v && len)
		memcpy(v, value, len);
}

void stun_build_u32(struct stun_builder *b, uint16_t type, uint32_t value)
{
	uint8_t *v = put_attr(b, type, 4);

	if (v)
		wire_put32(v, value);
}

void stun_build_string(struct stun_builder *b, uint16_t type, const char *s)
{
	stun_build_attr(b, type, s, strlen(s));
}

void stun_build_addr(struct stun_builder *b, uint16_t type, const struct sockaddr *sa)
{
	const uint8_t *ip;
	size_t ip_len;
	uint16_t port;
	uint8_t key[16], *v;
	bool xored = is_xor_attr(type);

	if (b->err)
		return;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)(const void *)sa;

		ip = (const uint8_t *)&sin->sin_addr;
		ip_len = 4;
		port = ntohs(sin->sin_port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)(const void *)sa;

		ip = (const uint8_t *)&sin6->sin6_addr;
		ip_len = 16;
		port = ntohs(sin6->sin6_port);
	} else {
		b->err = STUN_ERR_BAD_FAMILY;
		return;
	}
	v = put_attr(b, type, 4 + ip_len);
	if (!v)
		return;
	memcpy(key, b->buf + 4, sizeof(key));
	v[0] = 0;
	v[1] = ip_len == 4 ? 1 : 2;
	wire_put16(v + 2, xored ? (uint16_t)(port ^ wire_get16(key)) : port);
	for (size_t i = 0; i < ip_len; i++)
		v[4 + i] = (uint8_t)(ip[i] ^ (xored ? key[i] : 0));
}

void stun_build_error(struct stun_builder *b, unsigned code, const char *reason)
{
	size_t rlen = strlen(reason);
	uint8_t *v;

	/* RFC 8489 14.8: 300..699, reason under 128 characters (763 bytes). */
	if (!b->err && (code < 300 || code > 699 || rlen > 763))
		b->err = STUN_ERR_BAD_ARGUMENT;
	v = put_attr(b, STUN_ATTR_ERROR_CODE, 4 + rlen);
	if (!v)
		return;
	wire_put32(v, (code / 100) << 8 | code % 100);
	memcpy(v + 4, reason, rlen);
}

void stun_build_unknown(struct stun_builder *b, const uint16_t *types, size_t n)
{
	uint8_t *v = put_attr(b, STUN_ATTR_UNKNOWN_ATTRIBUTES, 2 * n);

	for (size_t i = 0; v && i < n; i++)
		wire_put16(v + 2 * i, types[i]);
}

void stun_build_integrity(struct stun_builder *b, const uint8_t *key, size_t key_len)
{
	uint8_t *v = put_attr(b, STUN_ATTR_MESSAGE_INTEGRITY, STUN_HMAC_SHA1_LEN);
	size_t covered;

	if (!v)
		return;
	/* The header length already counts this attribute, as RFC 8489 14.5 wants. */
	covered = (size_t)(v - 4 - b->buf);
	hmac_sha1_2(key, key_len, b->buf, covered, b->buf, 0, v);
}

void stun_build_integrity_sha256(struct stun_builder *b, const uint8_t *key, size_t key_len)
{
	uint8_t *v = put_attr(b, STUN_ATTR_MESSAGE_INTEGRITY_SHA256, STUN_HMAC_SHA256_LEN);
	size_t covered;

	if (!v)
		return;
	covered = (size_t)(v - 4 - b->buf);
	hmac_sha256_2(key, key_len, b->buf, covered, b->buf, 0, v);
}

void stun_build_fingerprint(struct stun_builder *b)
{
	uint8_t *v = put_attr(b, STUN_ATTR_FINGERPRINT, 4);

	if (v)
		wire_put32(v, fingerprint_of(b->buf, (size_t)(v - 4 - b->buf)));
}

enum stun_err stun_build_end(struct stun_builder *b, size_t *len)
{
	*len = b->err ? 0 : b->len;
	return b->err;
}
