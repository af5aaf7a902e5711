/*
 * The STUN codec against the RFC 5769 test vectors, and against every way
 * a message can be malformed.
 */
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <CUnit/CUnit.h>

#include "addr.h"
#include "stun.h"
#include "testlib.h"
#include "wire.h"

#define SHORT_TERM_PASSWORD "VOkJxbRl1RmTxUk/WvJxBt"
#define LT_USERNAME         "\xe3\x83\x9e\xe3\x83\x88\xe3\x83\xaa\xe3\x83\x83\xe3\x82\xaf\xe3\x82\xb9"

struct vector {
	const char *file;
	enum stun_class cls;
	bool long_term;     /* key is MD5(user:realm:pass), else the short-term password */
	bool fingerprint;   /* ends with FINGERPRINT */
	uint8_t pad;        /* the padding byte the RFC used */
	const char *mapped; /* XOR-MAPPED-ADDRESS, or NULL */
};

static const struct vector vectors[] = {
    {"rfc5769-request.hex", STUN_REQUEST, false, true, 0x20, NULL},
    {"rfc5769-response-ipv4.hex", STUN_SUCCESS, false, true, 0x20, "192.0.2.1:32853"},
    {"rfc5769-response-ipv6.hex", STUN_SUCCESS, false, true, 0x20,
     "[2001:db8:1234:5678:11:2233:4455:6677]:32853"},
    {"rfc5769-request-long-term.hex", STUN_REQUEST, true, false, 0x00, NULL},
};
#define NVECTORS (sizeof(vectors) / sizeof(vectors[0]))

static size_t load(const struct vector *v, uint8_t *buf, size_t cap)
{
	size_t n = test_load_hex(v->file, buf, cap);

	CU_ASSERT_FATAL(n >= STUN_HEADER_LEN);
	return n;
}

static size_t vector_key(const struct vector *v, uint8_t *key)
{
	if (v->long_term) {
		CU_ASSERT_EQUAL(stun_long_term_key(LT_USERNAME, "example.org", "TheMatrIX", key),
				STUN_OK);
		return STUN_LONG_TERM_KEY_LEN;
	}
	memcpy(key, SHORT_TERM_PASSWORD, strlen(SHORT_TERM_PASSWORD));
	return strlen(SHORT_TERM_PASSWORD);
}

/*
 * Parsed, and MESSAGE-INTEGRITY holds; and FINGERPRINT, where the usage
 * requires one (as ICE does): without that, a flip in FINGERPRINT's type
 * turns it into an unknown attribute after MESSAGE-INTEGRITY, which RFC 8489
 * 14.5 tells receivers to ignore.
 */
static bool verifies(const uint8_t *buf, size_t len, const uint8_t *key, size_t key_len,
		     bool need_fingerprint)
{
	struct stun_msg m;
	enum stun_err fp;

	if (stun_parse(&m, buf, len, 0) != STUN_OK)
		return false;
	if (stun_check_integrity(&m, key, key_len) != STUN_OK)
		return false;
	fp = stun_check_fingerprint(&m);
	return fp == STUN_OK || (fp == STUN_ERR_NOT_FOUND && !need_fingerprint);
}

static void test_vectors_parse_and_verify(void)
{
	for (size_t i = 0; i < NVECTORS; i++) {
		const struct vector *v = &vectors[i];
		uint8_t buf[512], key[64];
		size_t len = load(v, buf, sizeof(buf)), key_len = vector_key(v, key);
		struct stun_msg m;

		CU_ASSERT_EQUAL_FATAL(stun_parse(&m, buf, len, 0), STUN_OK);
		CU_ASSERT_EQUAL(m.method, STUN_BINDING);
		CU_ASSERT_EQUAL(m.cls, v->cls);
		CU_ASSERT_FALSE(m.legacy);
		CU_ASSERT_EQUAL(m.len, len);
		CU_ASSERT_EQUAL(stun_check_integrity(&m, key, key_len), STUN_OK);
		CU_ASSERT_EQUAL(stun_check_fingerprint(&m),
				v->fingerprint ? STUN_OK : STUN_ERR_NOT_FOUND);
		key[0] ^= 1;
		CU_ASSERT_EQUAL(stun_check_integrity(&m, key, key_len),
				STUN_ERR_INTEGRITY_MISMATCH);
	}
}

static void expect_string(const struct stun_msg *m, uint16_t type, const char *want)
{
	const struct stun_attr *a = stun_find(m, type);

	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_EQUAL(a->len, strlen(want));
	CU_ASSERT_EQUAL(memcmp(stun_attr_value(m, a), want, a->len), 0);
}

static void test_vector_values(void)
{
	uint8_t buf[512];
	struct stun_msg m;
	struct sockaddr_storage ss;
	char text[ADDR_STRLEN];
	uint32_t prio;
	const struct stun_attr *a;
	static const uint8_t ice[8] = {0x93, 0x2f, 0xf9, 0xb1, 0x51, 0x26, 0x3b, 0x36};

	CU_ASSERT_EQUAL_FATAL(stun_parse(&m, buf, load(&vectors[0], buf, sizeof(buf)), 0), STUN_OK);
	expect_string(&m, STUN_ATTR_SOFTWARE, "STUN test client");
	expect_string(&m, STUN_ATTR_USERNAME, "evtj:h6vY");
	CU_ASSERT_EQUAL(stun_get_u32(&m, STUN_ATTR_PRIORITY, &prio), STUN_OK);
	CU_ASSERT_EQUAL(prio, 0x6e0001ffu);
	a = stun_find(&m, STUN_ATTR_ICE_CONTROLLED);
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_EQUAL(memcmp(stun_attr_value(&m, a), ice, 8), 0);
	CU_ASSERT_EQUAL(stun_get_addr(&m, STUN_ATTR_XOR_MAPPED_ADDRESS, &ss), STUN_ERR_NOT_FOUND);

	for (size_t i = 1; i <= 2; i++) {
		CU_ASSERT_EQUAL_FATAL(stun_parse(&m, buf, load(&vectors[i], buf, sizeof(buf)), 0),
				      STUN_OK);
		expect_string(&m, STUN_ATTR_SOFTWARE, "test vector");
		CU_ASSERT_EQUAL_FATAL(stun_get_addr(&m, STUN_ATTR_XOR_MAPPED_ADDRESS, &ss),
				      STUN_OK);
		CU_ASSERT_STRING_EQUAL(addr_format((struct sockaddr *)&ss, text, sizeof(text)),
				       vectors[i].mapped);
	}

	CU_ASSERT_EQUAL_FATAL(stun_parse(&m, buf, load(&vectors[3], buf, sizeof(buf)), 0), STUN_OK);
	expect_string(&m, STUN_ATTR_USERNAME, LT_USERNAME);
	expect_string(&m, STUN_ATTR_NONCE, "f//499k954d6OL34oL9FSTvy64sA");
	expect_string(&m, STUN_ATTR_REALM, "example.org");
}

/* The long-term key, checked against MD5 computed outside natlab. */
static void test_long_term_key(void)
{
	static const uint8_t want[16] = {0xe8, 0xca, 0x7a, 0xd5, 0x9d, 0x5e, 0xb0, 0x51,
					 0x8e, 0x31, 0x29, 0x11, 0xd2, 0xda, 0xb2, 0xa9};
	uint8_t key[16];

	CU_ASSERT_EQUAL(stun_long_term_key(LT_USERNAME, "example.org", "TheMatrIX", key), STUN_OK);
	CU_ASSERT_EQUAL(memcmp(key, want, 16), 0);
}

/*
 * Re-encode each vector from its parsed attributes: the builder must compute
 * the same MESSAGE-INTEGRITY and FINGERPRINT and lay out the same bytes.
 */
static void test_vectors_reencode(void)
{
	for (size_t i = 0; i < NVECTORS; i++) {
		const struct vector *v = &vectors[i];
		uint8_t buf[512], out[512], key[64];
		size_t len = load(v, buf, sizeof(buf)), key_len = vector_key(v, key), out_len;
		struct stun_msg m;
		struct stun_builder b;

		CU_ASSERT_EQUAL_FATAL(stun_parse(&m, buf, len, 0), STUN_OK);
		stun_build_start(&b, out, sizeof(out), m.type, m.cookie, m.tid);
		b.pad = v->pad;
		for (size_t k = 0; k < m.nattrs; k++) {
			const struct stun_attr *a = &m.attrs[k];

			if (a->type == STUN_ATTR_MESSAGE_INTEGRITY)
				stun_build_integrity(&b, key, key_len);
			else if (a->type == STUN_ATTR_FINGERPRINT)
				stun_build_fingerprint(&b);
			else
				stun_build_attr(&b, a->type, stun_attr_value(&m, a), a->len);
		}
		CU_ASSERT_EQUAL(stun_build_end(&b, &out_len), STUN_OK);
		CU_ASSERT_EQUAL(out_len, len);
		CU_ASSERT_EQUAL(memcmp(out, buf, len), 0);
	}
}

/* Addresses built by the codec decode to themselves, XORed or not. */
static void test_xor_address_build(void)
{
	uint8_t buf[512], out[128];
	size_t out_len;
	struct stun_msg m, r;
	struct stun_builder b;
	struct sockaddr_storage want, got;
	char err[128];

	CU_ASSERT_EQUAL_FATAL(stun_parse(&m, buf, load(&vectors[2], buf, sizeof(buf)), 0), STUN_OK);
	CU_ASSERT_EQUAL_FATAL(
	    addr_parse(vectors[2].mapped, ADDR_PORT_REQUIRED, 0, &want, err, sizeof(err)), 0);
	stun_build_response(&b, out, sizeof(out), &m, STUN_SUCCESS);
	stun_build_addr(&b, STUN_ATTR_XOR_MAPPED_ADDRESS, (struct sockaddr *)&want);
	CU_ASSERT_EQUAL_FATAL(stun_build_end(&b, &out_len), STUN_OK);
	/* Byte for byte the RFC's XOR-MAPPED-ADDRESS attribute. */
	CU_ASSERT_EQUAL(memcmp(out + STUN_HEADER_LEN, buf + 36, 24), 0);
	CU_ASSERT_EQUAL_FATAL(stun_parse(&r, out, out_len, 0), STUN_OK);
	CU_ASSERT_EQUAL(stun_get_addr(&r, STUN_ATTR_XOR_MAPPED_ADDRESS, &got), STUN_OK);
	CU_ASSERT_TRUE(addr_equal((struct sockaddr *)&want, (struct sockaddr *)&got));
}

/* A one-bit change anywhere in any vector makes verification fail. */
static void test_vectors_every_bit_flip(void)
{
	for (size_t i = 0; i < NVECTORS; i++) {
		const struct vector *v = &vectors[i];
		uint8_t buf[512], key[64];
		size_t len = load(v, buf, sizeof(buf)), key_len = vector_key(v, key);
		size_t passed = 0;

		CU_ASSERT_TRUE_FATAL(verifies(buf, len, key, key_len, v->fingerprint));
		for (size_t bit = 0; bit < len * 8; bit++) {
			buf[bit / 8] ^= (uint8_t)(1u << bit % 8);
			passed += verifies(buf, len, key, key_len, v->fingerprint);
			buf[bit / 8] ^= (uint8_t)(1u << bit % 8);
		}
		CU_ASSERT_EQUAL(passed, 0);
	}
}

/* Every cut of every vector, as a datagram whose header still claims the full length. */
static void test_vectors_every_truncation(void)
{
	for (size_t i = 0; i < NVECTORS; i++) {
		uint8_t buf[512];
		size_t len = load(&vectors[i], buf, sizeof(buf));
		struct stun_msg m;

		for (size_t n = 0; n < len; n++) {
			enum stun_err want =
			    n < STUN_HEADER_LEN ? STUN_ERR_SHORT_HEADER : STUN_ERR_TRUNCATED;

			CU_ASSERT_EQUAL(stun_parse(&m, buf, n, 0), want);
		}
	}
}

/*
 * Every cut again, but with the header length rewritten to match, so the
 * attribute walk meets the cut: at an attribute boundary the message is
 * whole (just shorter); inside an attribute header, a length that is not a
 * multiple of 4; inside a value, an overrun; inside padding, bad padding.
 */
static enum stun_err expected_cut(const struct stun_msg *whole, size_t n)
{
	if (n == STUN_HEADER_LEN)
		return STUN_OK;
	for (size_t k = 0; k < whole->nattrs; k++) {
		const struct stun_attr *a = &whole->attrs[k];
		size_t start = a->offset - 4u, value_end = a->offset + a->len;
		size_t end = a->offset + ((a->len + 3u) & ~3u);

		if (n <= start || n > end)
			continue;
		if (n < start + 4)
			return STUN_ERR_BAD_LENGTH;
		if (n < value_end)
			return STUN_ERR_ATTR_OVERRUN;
		if (n < end)
			return STUN_ERR_BAD_PADDING;
		return STUN_OK;
	}
	return STUN_ERR_COUNT;
}

static void test_vectors_consistent_truncation(void)
{
	for (size_t i = 0; i < NVECTORS; i++) {
		uint8_t buf[512], cut[512];
		size_t len = load(&vectors[i], buf, sizeof(buf));
		struct stun_msg whole, m;
		unsigned seen[STUN_ERR_COUNT] = {0};

		CU_ASSERT_EQUAL_FATAL(stun_parse(&whole, buf, len, 0), STUN_OK);
		for (size_t n = STUN_HEADER_LEN; n < len; n++) {
			enum stun_err got;

			memcpy(cut, buf, n);
			wire_put16(cut + 2, (uint16_t)(n - STUN_HEADER_LEN));
			got = stun_parse(&m, cut, n, 0);
			CU_ASSERT_EQUAL(got, expected_cut(&whole, n));
			seen[got]++;
		}
		/* Each vector has an unpadded value (USERNAME or SOFTWARE), so all four occur. */
		CU_ASSERT_TRUE(seen[STUN_OK] && seen[STUN_ERR_ATTR_OVERRUN] &&
			       seen[STUN_ERR_BAD_PADDING] && seen[STUN_ERR_BAD_LENGTH]);
	}
}

static void test_header_errors(void)
{
	uint8_t buf[512];
	size_t len = load(&vectors[1], buf, sizeof(buf));
	uint8_t big[600];
	struct stun_msg m;

	buf[0] |= 0x80;
	CU_ASSERT_EQUAL(stun_parse(&m, buf, len, 0), STUN_ERR_NOT_STUN);
	buf[0] &= 0x3F;

	memcpy(big, buf, len);
	CU_ASSERT_EQUAL(stun_parse(&m, big, len + 4, 0), STUN_ERR_TRAILING_DATA);

	buf[5] ^= 0x01;
	CU_ASSERT_EQUAL(stun_parse(&m, buf, len, 0), STUN_ERR_BAD_COOKIE);
	/* As an RFC 3489 message it parses, but the changed byte breaks FINGERPRINT. */
	CU_ASSERT_EQUAL(stun_parse(&m, buf, len, STUN_PARSE_LEGACY), STUN_OK);
	CU_ASSERT_TRUE(m.legacy);
	CU_ASSERT_EQUAL(stun_check_fingerprint(&m), STUN_ERR_FINGERPRINT_MISMATCH);
}

/* An attribute whose length runs past the message, and one whose length is wrong for its type. */
static void test_attribute_errors(void)
{
	uint8_t buf[512];
	size_t len = load(&vectors[1], buf, sizeof(buf));
	struct stun_msg m;

	/* SOFTWARE (offset 20) claims more than the message holds. */
	wire_put16(buf + 22, 0x00FF);
	CU_ASSERT_EQUAL(stun_parse(&m, buf, len, 0), STUN_ERR_ATTR_OVERRUN);
	wire_put16(buf + 22, 0x000B);
	CU_ASSERT_EQUAL(stun_parse(&m, buf, len, 0), STUN_OK);

	/* XOR-MAPPED-ADDRESS (offset 36) with family 3, then family 2 in 8 bytes. */
	buf[41] = 3;
	CU_ASSERT_EQUAL(stun_parse(&m, buf, len, 0), STUN_ERR_BAD_FAMILY);
	buf[41] = 2;
	CU_ASSERT_EQUAL(stun_parse(&m, buf, len, 0), STUN_ERR_BAD_ATTR_LENGTH);
}

static size_t build_with(uint8_t *out, size_t cap, uint16_t type, size_t value_len,
			 bool fingerprint)
{
	static const uint8_t tid[STUN_TID_LEN] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
	static const uint8_t zero[64];
	struct stun_builder b;
	size_t len;

	stun_build_start(&b, out, cap, stun_type(STUN_BINDING, STUN_REQUEST), STUN_MAGIC_COOKIE,
			 tid);
	stun_build_string(&b, STUN_ATTR_SOFTWARE, "natlab test");
	stun_build_attr(&b, type, zero, value_len);
	if (fingerprint)
		stun_build_fingerprint(&b);
	CU_ASSERT_EQUAL(stun_build_end(&b, &len), STUN_OK);
	return len;
}

/* RFC 8489 7.3.1: unknown types below 0x8000 must be understood; above, ignored. */
static void test_unknown_attributes(void)
{
	uint8_t buf[256];
	struct stun_msg m;
	size_t len;

	len = build_with(buf, sizeof(buf), 0x0030, 4, true);
	CU_ASSERT_EQUAL(stun_parse(&m, buf, len, 0), STUN_ERR_UNKNOWN_REQUIRED);
	CU_ASSERT_EQUAL(m.nunknown, 1);
	CU_ASSERT_EQUAL(m.unknown[0], 0x0030);
	/* The rest of the message was parsed, so a server can still answer 420. */
	CU_ASSERT_EQUAL(stun_check_fingerprint(&m), STUN_OK);

	/* The boundary: 0x7FFF is still comprehension-required, 0x8000 is not. */
	len = build_with(buf, sizeof(buf), 0x7FFF, 4, true);
	CU_ASSERT_EQUAL(stun_parse(&m, buf, len, 0), STUN_ERR_UNKNOWN_REQUIRED);
	CU_ASSERT_EQUAL(m.unknown[0], 0x7FFF);
	len = build_with(buf, sizeof(buf), 0x8000, 4, true);
	CU_ASSERT_EQUAL(stun_parse(&m, buf, len, 0), STUN_OK);
	CU_ASSERT_EQUAL(m.nunknown, 0);
}

static void test_fingerprint_must_be_last(void)
{
	uint8_t buf[256];
	struct stun_msg m;
	struct stun_builder b;
	size_t len;
	static const uint8_t tid[STUN_TID_LEN];

	stun_build_start(&b, buf, sizeof(buf), stun_type(STUN_BINDING, STUN_REQUEST),
			 STUN_MAGIC_COOKIE, tid);
	stun_build_fingerprint(&b);
	stun_build_string(&b, STUN_ATTR_SOFTWARE, "after");
	CU_ASSERT_EQUAL_FATAL(stun_build_end(&b, &len), STUN_OK);
	CU_ASSERT_EQUAL(stun_parse(&m, buf, len, 0), STUN_ERR_FINGERPRINT_NOT_LAST);

	len = build_with(buf, sizeof(buf), STUN_ATTR_FINGERPRINT, 8, false);
	CU_ASSERT_EQUAL(stun_parse(&m, buf, len, 0), STUN_ERR_BAD_ATTR_LENGTH);
}

/* RFC 8489 14.5: attributes after MESSAGE-INTEGRITY are ignored, save MI-SHA256 and FINGERPRINT. */
static void test_after_integrity_ignored(void)
{
	static const uint8_t key[] = "k3y";
	static const uint8_t tid[STUN_TID_LEN] = {9};
	uint8_t buf[256];
	struct stun_msg m;
	struct stun_builder b;
	size_t len;

	stun_build_start(&b, buf, sizeof(buf), stun_type(STUN_BINDING, STUN_REQUEST),
			 STUN_MAGIC_COOKIE, tid);
	stun_build_string(&b, STUN_ATTR_USERNAME, "user");
	stun_build_integrity(&b, key, 3);
	stun_build_string(&b, STUN_ATTR_SOFTWARE, "smuggled");
	stun_build_attr(&b, 0x0030, "abcd", 4); /* unknown required, but ignored here */
	stun_build_integrity_sha256(&b, key, 3);
	stun_build_fingerprint(&b);
	CU_ASSERT_EQUAL_FATAL(stun_build_end(&b, &len), STUN_OK);

	CU_ASSERT_EQUAL_FATAL(stun_parse(&m, buf, len, 0), STUN_OK);
	CU_ASSERT_EQUAL(m.ignored, 2);
	CU_ASSERT_PTR_NULL(stun_find(&m, STUN_ATTR_SOFTWARE));
	CU_ASSERT_EQUAL(stun_check_integrity(&m, key, 3), STUN_OK);
	CU_ASSERT_EQUAL(stun_check_integrity_sha256(&m, key, 3), STUN_OK);
	CU_ASSERT_EQUAL(stun_check_fingerprint(&m), STUN_OK);
}

/* MESSAGE-INTEGRITY-SHA256 against an HMAC-SHA256 computed outside natlab. */
static void test_integrity_sha256(void)
{
	static const uint8_t tid[STUN_TID_LEN] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
	static const uint8_t want_mac[32] = {0xf6, 0x50, 0xee, 0x27, 0xb0, 0x34, 0x1b, 0x64,
					     0xd7, 0x37, 0x1d, 0xa8, 0xc7, 0xe3, 0xe3, 0x5b,
					     0x3f, 0xec, 0xb9, 0x2f, 0x89, 0x19, 0x8f, 0x35,
					     0x8f, 0x34, 0x7f, 0x85, 0x87, 0xb4, 0x93, 0x8e};
	static const uint8_t key[] = "natlab-key";
	uint8_t buf[128];
	struct stun_builder b;
	struct stun_msg m;
	size_t len;

	stun_build_start(&b, buf, sizeof(buf), stun_type(STUN_BINDING, STUN_REQUEST),
			 STUN_MAGIC_COOKIE, tid);
	stun_build_string(&b, STUN_ATTR_SOFTWARE, "natlab");
	stun_build_integrity_sha256(&b, key, 10);
	stun_build_fingerprint(&b);
	CU_ASSERT_EQUAL_FATAL(stun_build_end(&b, &len), STUN_OK);
	CU_ASSERT_EQUAL(len, 20 + 12 + 36 + 8);
	CU_ASSERT_EQUAL(memcmp(buf + 36, want_mac, 32), 0);
	CU_ASSERT_EQUAL(wire_get32(buf + len - 4), 0x7f2976d3u);

	CU_ASSERT_EQUAL_FATAL(stun_parse(&m, buf, len, 0), STUN_OK);
	CU_ASSERT_EQUAL(stun_check_integrity_sha256(&m, key, 10), STUN_OK);
	CU_ASSERT_EQUAL(stun_check_integrity(&m, key, 10), STUN_ERR_NOT_FOUND);
	buf[30] ^= 0x40;
	CU_ASSERT_EQUAL_FATAL(stun_parse(&m, buf, len, 0), STUN_OK);
	CU_ASSERT_EQUAL(stun_check_integrity_sha256(&m, key, 10), STUN_ERR_INTEGRITY_MISMATCH);
	CU_ASSERT_EQUAL(stun_check_fingerprint(&m), STUN_ERR_FINGERPRINT_MISMATCH);
}

static void test_too_many_attributes(void)
{
	static const uint8_t tid[STUN_TID_LEN];
	uint8_t buf[1024];
	struct stun_builder b;
	struct stun_msg m;
	size_t len;

	stun_build_start(&b, buf, sizeof(buf), stun_type(STUN_BINDING, STUN_REQUEST),
			 STUN_MAGIC_COOKIE, tid);
	for (int i = 0; i < STUN_MAX_ATTRS; i++)
		stun_build_attr(&b, STUN_ATTR_PADDING, NULL, 0);
	CU_ASSERT_EQUAL_FATAL(stun_build_end(&b, &len), STUN_OK);
	CU_ASSERT_EQUAL(stun_parse(&m, buf, len, 0), STUN_OK);
	stun_build_attr(&b, STUN_ATTR_PADDING, NULL, 0);
	CU_ASSERT_EQUAL_FATAL(stun_build_end(&b, &len), STUN_OK);
	CU_ASSERT_EQUAL(stun_parse(&m, buf, len, 0), STUN_ERR_TOO_MANY_ATTRS);
}

/* The largest message there is: offsets past 65535 still point at the right bytes. */
static void test_largest_message(void)
{
	static uint8_t buf[STUN_HEADER_LEN + 0xFFFF], padding[0xFFF0];
	static const uint8_t tid[STUN_TID_LEN] = {7};
	struct stun_builder b;
	struct stun_msg m;
	size_t len;

	stun_build_start(&b, buf, sizeof(buf), stun_type(STUN_BINDING, STUN_REQUEST),
			 STUN_MAGIC_COOKIE, tid);
	stun_build_attr(&b, STUN_ATTR_PADDING, padding, 0xFFFC - 4 - 8);
	stun_build_fingerprint(&b);
	CU_ASSERT_EQUAL_FATAL(stun_build_end(&b, &len), STUN_OK);
	CU_ASSERT_EQUAL(len, STUN_HEADER_LEN + 0xFFFC);
	CU_ASSERT_EQUAL_FATAL(stun_parse(&m, buf, len, 0), STUN_OK);
	CU_ASSERT_EQUAL(m.attrs[1].offset, len - 4);
	CU_ASSERT_EQUAL(stun_check_fingerprint(&m), STUN_OK);
	/* One attribute more does not fit in a 16-bit length. */
	stun_build_attr(&b, STUN_ATTR_PADDING, NULL, 0);
	CU_ASSERT_EQUAL(stun_build_end(&b, &len), STUN_ERR_NO_SPACE);
}

/* What natreflector sends: RFC 5780 attributes and errors, built and read back. */
static void test_build_roundtrip(void)
{
	static const uint8_t tid[STUN_TID_LEN] = {0xAA, 0xBB};
	static const uint16_t unknown[3] = {0x0031, 0x0032, 0x0033};
	uint8_t buf[512];
	struct stun_builder b;
	struct stun_msg m;
	struct sockaddr_storage in, out;
	char err[128], text[ADDR_STRLEN];
	const char *reason;
	size_t len, reason_len, n;
	unsigned code;
	uint16_t types[8], port;
	uint32_t change;

	CU_ASSERT_EQUAL_FATAL(
	    addr_parse("203.0.113.11:3479", ADDR_PORT_REQUIRED, 0, &in, err, sizeof(err)), 0);
	stun_build_start(&b, buf, sizeof(buf), stun_type(STUN_BINDING, STUN_ERROR),
			 STUN_MAGIC_COOKIE, tid);
	stun_build_addr(&b, STUN_ATTR_OTHER_ADDRESS, (struct sockaddr *)&in);
	stun_build_addr(&b, STUN_ATTR_MAPPED_ADDRESS, (struct sockaddr *)&in);
	stun_build_error(&b, 420, "Unknown Attribute");
	stun_build_unknown(&b, unknown, 3);
	stun_build_u32(&b, STUN_ATTR_CHANGE_REQUEST, STUN_CHANGE_IP | STUN_CHANGE_PORT);
	stun_build_u32(&b, STUN_ATTR_RESPONSE_PORT, 40000u << 16);
	stun_build_fingerprint(&b);
	CU_ASSERT_EQUAL_FATAL(stun_build_end(&b, &len), STUN_OK);

	CU_ASSERT_EQUAL_FATAL(stun_parse(&m, buf, len, 0), STUN_OK);
	CU_ASSERT_EQUAL(m.cls, STUN_ERROR);
	CU_ASSERT_EQUAL(m.method, STUN_BINDING);
	CU_ASSERT_EQUAL(stun_check_fingerprint(&m), STUN_OK);
	CU_ASSERT_EQUAL(stun_get_addr(&m, STUN_ATTR_OTHER_ADDRESS, &out), STUN_OK);
	CU_ASSERT_STRING_EQUAL(addr_format((struct sockaddr *)&out, text, sizeof(text)),
			       "203.0.113.11:3479");
	CU_ASSERT_EQUAL(stun_get_addr(&m, STUN_ATTR_MAPPED_ADDRESS, &out), STUN_OK);
	CU_ASSERT_TRUE(addr_equal((struct sockaddr *)&in, (struct sockaddr *)&out));
	CU_ASSERT_EQUAL_FATAL(stun_get_error(&m, &code, &reason, &reason_len), STUN_OK);
	CU_ASSERT_EQUAL(code, 420);
	CU_ASSERT_EQUAL(reason_len, strlen("Unknown Attribute"));
	CU_ASSERT_EQUAL(memcmp(reason, "Unknown Attribute", reason_len), 0);
	CU_ASSERT_EQUAL(stun_get_unknown(&m, types, 8, &n), STUN_OK);
	CU_ASSERT_EQUAL(n, 3);
	CU_ASSERT_EQUAL(types[2], 0x0033);
	CU_ASSERT_EQUAL(stun_get_u32(&m, STUN_ATTR_CHANGE_REQUEST, &change), STUN_OK);
	CU_ASSERT_EQUAL(change, 6);
	CU_ASSERT_EQUAL(stun_get_response_port(&m, &port), STUN_OK);
	CU_ASSERT_EQUAL(port, 40000);
}

/* RFC 8489 section 5: class bits interleave with method bits. */
static void test_type_bits(void)
{
	CU_ASSERT_EQUAL(stun_type(STUN_BINDING, STUN_REQUEST), 0x0001);
	CU_ASSERT_EQUAL(stun_type(STUN_BINDING, STUN_INDICATION), 0x0011);
	CU_ASSERT_EQUAL(stun_type(STUN_BINDING, STUN_SUCCESS), 0x0101);
	CU_ASSERT_EQUAL(stun_type(STUN_BINDING, STUN_ERROR), 0x0111);
	CU_ASSERT_EQUAL(stun_type(0x003, STUN_ERROR), 0x0113);
	CU_ASSERT_EQUAL(stun_type(0xFFF, STUN_ERROR), 0x3FFF);
	for (unsigned method = 0; method < 0x1000; method += 0x111) {
		for (int cls = 0; cls < 4; cls++) {
			static const uint8_t tid[STUN_TID_LEN];
			uint8_t buf[STUN_HEADER_LEN];
			struct stun_builder b;
			struct stun_msg m;
			size_t len;

			stun_build_start(&b, buf, sizeof(buf),
					 stun_type((uint16_t)method, (enum stun_class)cls),
					 STUN_MAGIC_COOKIE, tid);
			CU_ASSERT_EQUAL_FATAL(stun_build_end(&b, &len), STUN_OK);
			CU_ASSERT_EQUAL_FATAL(stun_parse(&m, buf, len, 0), STUN_OK);
			CU_ASSERT_EQUAL(m.method, method);
			CU_ASSERT_EQUAL(m.cls, cls);
		}
	}
}

/* The builder's error is sticky and named; nothing is written past its buffer. */
static void test_builder_errors(void)
{
	static const uint8_t tid[STUN_TID_LEN];
	uint8_t buf[64];
	struct stun_builder b;
	size_t len;

	stun_build_start(&b, buf, 19, 0x0001, STUN_MAGIC_COOKIE, tid);
	CU_ASSERT_EQUAL(stun_build_end(&b, &len), STUN_ERR_NO_SPACE);
	CU_ASSERT_EQUAL(len, 0);

	memset(buf, 0xEE, sizeof(buf));
	stun_build_start(&b, buf, 32, 0x0001, STUN_MAGIC_COOKIE, tid);
	stun_build_string(&b, STUN_ATTR_SOFTWARE, "12345678");
	CU_ASSERT_EQUAL(stun_build_end(&b, &len), STUN_OK);
	stun_build_string(&b, STUN_ATTR_SOFTWARE, "x");
	stun_build_fingerprint(&b);
	CU_ASSERT_EQUAL(stun_build_end(&b, &len), STUN_ERR_NO_SPACE);
	CU_ASSERT_EQUAL(buf[32], 0xEE);

	stun_build_start(&b, buf, sizeof(buf), 0x0001, STUN_MAGIC_COOKIE, tid);
	stun_build_error(&b, 200, "OK is not an error");
	stun_build_string(&b, STUN_ATTR_SOFTWARE, "x");
	CU_ASSERT_EQUAL(stun_build_end(&b, &len), STUN_ERR_BAD_ARGUMENT);

	stun_build_start(&b, buf, sizeof(buf), 0xC001, STUN_MAGIC_COOKIE, tid);
	CU_ASSERT_EQUAL(stun_build_end(&b, &len), STUN_ERR_BAD_ARGUMENT);
}

/*
 * RFC 3489: no magic cookie, a 128-bit transaction ID. Debian's `stun`
 * client sends CHANGE-REQUEST like this; the answer must echo all 16 bytes.
 */
static void test_legacy_rfc3489(void)
{
	static const uint8_t req[] = {
	    0x00, 0x01, 0x00, 0x08, 0xDE, 0xAD, 0xBE, 0xEF, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06,
	    0x07, 0x08, 0x09, 0x0A, 0x0B, 0x0C, 0x00, 0x03, 0x00, 0x04, 0x00, 0x00, 0x00, 0x06,
	};
	uint8_t buf[128];
	struct stun_msg m, r;
	struct stun_builder b;
	struct sockaddr_storage src;
	char err[64];
	size_t len;
	uint32_t change;

	CU_ASSERT_EQUAL(stun_parse(&m, req, sizeof(req), 0), STUN_ERR_BAD_COOKIE);
	CU_ASSERT_EQUAL_FATAL(stun_parse(&m, req, sizeof(req), STUN_PARSE_LEGACY), STUN_OK);
	CU_ASSERT_TRUE(m.legacy);
	CU_ASSERT_EQUAL(stun_get_u32(&m, STUN_ATTR_CHANGE_REQUEST, &change), STUN_OK);
	CU_ASSERT_EQUAL(change, STUN_CHANGE_IP | STUN_CHANGE_PORT);

	CU_ASSERT_EQUAL_FATAL(
	    addr_parse("198.51.100.7:4000", ADDR_PORT_REQUIRED, 0, &src, err, sizeof(err)), 0);
	stun_build_response(&b, buf, sizeof(buf), &m, STUN_SUCCESS);
	stun_build_addr(&b, STUN_ATTR_MAPPED_ADDRESS, (struct sockaddr *)&src);
	stun_build_addr(&b, STUN_ATTR_SOURCE_ADDRESS, (struct sockaddr *)&src);
	CU_ASSERT_EQUAL_FATAL(stun_build_end(&b, &len), STUN_OK);
	CU_ASSERT_EQUAL(memcmp(buf + 4, req + 4, 16), 0);
	CU_ASSERT_EQUAL(wire_get16(buf), 0x0101);
	CU_ASSERT_EQUAL_FATAL(stun_parse(&r, buf, len, STUN_PARSE_LEGACY), STUN_OK);
	CU_ASSERT_TRUE(r.legacy);
	CU_ASSERT_EQUAL(stun_get_addr(&r, STUN_ATTR_MAPPED_ADDRESS, &src), STUN_OK);
	CU_ASSERT_EQUAL(addr_port((struct sockaddr *)&src), 4000);
}

static void test_frame_length(void)
{
	uint8_t buf[512];
	size_t len = load(&vectors[0], buf, sizeof(buf)), need;

	CU_ASSERT_EQUAL(stun_frame_length(buf, 3, &need), STUN_OK);
	CU_ASSERT_EQUAL(need, 0);
	CU_ASSERT_EQUAL(stun_frame_length(buf, 4, &need), STUN_OK);
	CU_ASSERT_EQUAL(need, len);
	buf[4] = 0;
	CU_ASSERT_EQUAL(stun_frame_length(buf, 8, &need), STUN_ERR_BAD_COOKIE);
	buf[3] = 0x59;
	CU_ASSERT_EQUAL(stun_frame_length(buf, 4, &need), STUN_ERR_BAD_LENGTH);
	buf[0] = 0x40;
	CU_ASSERT_EQUAL(stun_frame_length(buf, 1, &need), STUN_ERR_NOT_STUN);
}

/* Each error has its own name, so counters of dropped packets can say why. */
static void test_error_names(void)
{
	for (int i = 0; i < STUN_ERR_COUNT; i++) {
		CU_ASSERT_PTR_NOT_NULL_FATAL(stun_err_name((enum stun_err)i));
		CU_ASSERT_PTR_NOT_NULL_FATAL(stun_strerror((enum stun_err)i));
		for (int j = 0; j < i; j++)
			CU_ASSERT_STRING_NOT_EQUAL(stun_err_name((enum stun_err)i),
						   stun_err_name((enum stun_err)j));
	}
	CU_ASSERT_STRING_EQUAL(stun_err_name(STUN_ERR_COUNT), "invalid-error");
	CU_ASSERT_STRING_EQUAL(stun_attr_name(STUN_ATTR_OTHER_ADDRESS), "OTHER-ADDRESS");
	CU_ASSERT_PTR_NULL(stun_attr_name(0x7777));
}

int test_stun_register(void)
{
	static const struct test_case tests[] = {
	    {"RFC 5769 vectors parse and verify", test_vectors_parse_and_verify},
	    {"RFC 5769 vector attribute values", test_vector_values},
	    {"RFC 5769 long-term key (MD5)", test_long_term_key},
	    {"RFC 5769 vectors re-encode byte for byte", test_vectors_reencode},
	    {"XOR-MAPPED-ADDRESS built as in RFC 5769", test_xor_address_build},
	    {"any one-bit change fails verification", test_vectors_every_bit_flip},
	    {"every truncation is an error", test_vectors_every_truncation},
	    {"truncation with matching length", test_vectors_consistent_truncation},
	    {"header errors: not STUN, trailing data, cookie", test_header_errors},
	    {"attribute overrun, bad family, bad length", test_attribute_errors},
	    {"unknown comprehension-required attribute", test_unknown_attributes},
	    {"FINGERPRINT must be last", test_fingerprint_must_be_last},
	    {"attributes after MESSAGE-INTEGRITY ignored", test_after_integrity_ignored},
	    {"MESSAGE-INTEGRITY-SHA256", test_integrity_sha256},
	    {"too many attributes", test_too_many_attributes},
	    {"largest message", test_largest_message},
	    {"RFC 5780 and error attributes round trip", test_build_roundtrip},
	    {"method and class bits", test_type_bits},
	    {"builder errors", test_builder_errors},
	    {"RFC 3489 message without cookie", test_legacy_rfc3489},
	    {"stream framing", test_frame_length},
	    {"error names", test_error_names},
	};
	return TEST_SUITE("stun codec", tests);
}
