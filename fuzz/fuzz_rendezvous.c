/*
 * libFuzzer harness for natreflector's rendezvous. The input is a run of
 * requests: each starts with a byte that says whether it is taken as raw
 * bytes (any message, most of them refused) or as the fields of a request
 * that this harness signs with the session key (so that registrations,
 * meetings, refusals and expiry are all reached), over TCP or UDP as the
 * source port says (UDP sources here never echo a cookie). Invariants:
 * every message out parses as STUN and fits its buffer; an answer goes to
 * the requester, and over UDP is never longer than the request (no
 * amplification); a start goes only to an endpoint that registered with
 * the key; the table never holds more than its bound.
 */
#include <stdio.h>
#include <string.h>

#include <arpa/inet.h>

#include "fuzz/fuzz.h"

#include "addr.h"
#include "reflector/natlabtest.h"
#include "reflector/rendezvous.h"
#include "stun.h"

#define MAX_SESSIONS 4
#define MAX_FROM     64

static const uint8_t secret[] = "fuzz secret, 16 bytes or more";
static struct sockaddr_storage registered[MAX_FROM];
static size_t nregistered;

/* A signed request from fields: session (of 3), trial, token, a private
 * endpoint and class from the input's bytes. */
static size_t signed_request(const uint8_t *d, uint8_t *buf, size_t cap)
{
	char id[8], key[REFL_SESSION_KEY_LEN + 1];
	uint8_t tid[STUN_TID_LEN] = {0};
	struct sockaddr_storage priv = {0};
	struct stun_builder b;
	size_t len;

	snprintf(id, sizeof(id), "s%u", (unsigned)(d[0] % 3));
	refl_session_key(secret, sizeof(secret) - 1, id, key);
	((struct sockaddr_in *)&priv)->sin_family = AF_INET;
	memcpy(&((struct sockaddr_in *)&priv)->sin_addr, d + 10, 4);
	stun_build_start(&b, buf, cap, stun_type(STUN_NATLAB_RENDEZVOUS, STUN_REQUEST),
			 STUN_MAGIC_COOKIE, tid);
	stun_build_string(&b, STUN_ATTR_USERNAME, id);
	stun_build_u32(&b, STUN_ATTR_NATLAB_TRIAL, d[1] % 4);
	stun_build_attr(&b, STUN_ATTR_NATLAB_TOKEN, d + 2, 8);
	stun_build_addr(&b, STUN_ATTR_NATLAB_PRIVATE, (struct sockaddr *)&priv);
	stun_build_attr(&b, STUN_ATTR_NATLAB_CLASS, d + 14, 4);
	stun_build_u32(&b, STUN_ATTR_NATLAB_RTT, (uint32_t)d[18] << 12);
	stun_build_integrity_sha256(&b, (const uint8_t *)key, REFL_SESSION_KEY_LEN);
	return stun_build_end(&b, &len) == STUN_OK ? len : 0;
}

static bool was_registered(const struct sockaddr *to)
{
	for (size_t i = 0; i < nregistered; i++)
		if (addr_equal(to, (struct sockaddr *)&registered[i]))
			return true;
	return false;
}

static void one(rdv_t *r, const uint8_t *msg, size_t len, uint16_t port, uint64_t now_ms)
{
	struct sockaddr_in from = {.sin_family = AF_INET, .sin_port = htons(port)};
	struct rdv_out out[2];
	struct stun_msg m, o;
	const char *counter;
	size_t n;
	bool tcp = port & 0x100; /* over TCP (proven by the handshake) or UDP (never proven here) */

	from.sin_addr.s_addr = htonl(0xC6336400u | (port & 0xff));
	if (stun_parse(&m, msg, len, 0) != STUN_OK)
		return;
	n = rdv_handle(r, &m, (struct sockaddr *)&from, tcp, secret, sizeof(secret) - 1, now_ms,
		       out, &counter);
	CHECK(n <= 2);
	for (size_t i = 0; i < n; i++) {
		CHECK(out[i].len <= sizeof(out[i].buf));
		CHECK(stun_parse(&o, out[i].buf, out[i].len, 0) == STUN_OK);
		if (i > 0) {
			CHECK(was_registered((struct sockaddr *)&out[i].to));
			continue;
		}
		CHECK(addr_equal((struct sockaddr *)&out[i].to, (struct sockaddr *)&from));
		if (!tcp) /* no cookie echoed: no amplification */
			CHECK(out[i].len <= m.len);
	}
	if (n && stun_parse(&o, out[0].buf, out[0].len, 0) == STUN_OK && o.cls == STUN_SUCCESS &&
	    nregistered < MAX_FROM)
		memcpy(&registered[nregistered++], &from, sizeof(from));
	CHECK(rdv_sessions(r) <= MAX_SESSIONS);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rdv_limits l = {MAX_SESSIONS, 1000};
	rdv_t *r = rdv_new(&l);
	uint64_t now = 0;

	CHECK(r != NULL);
	nregistered = 0;
	while (size >= 20) {
		uint8_t buf[RDV_MSG_MAX];
		size_t len, take;

		now += data[19] * 50u;
		if (data[0] & 1) {
			len = signed_request(data + 1, buf, sizeof(buf));
			one(r, buf, len, (uint16_t)(40000 + data[19]), now);
			take = 20;
		} else {
			take = 20 + (data[1] % 200 < size - 20 ? data[1] % 200 : size - 20);
			one(r, data + 20, take - 20, (uint16_t)(40000 + data[19]), now);
		}
		data += take;
		size -= take;
	}
	rdv_free(r);
	return 0;
}
