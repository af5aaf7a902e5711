/*
 * natreflector's rendezvous (reflector/rendezvous.c): two probes of a
 * session meet, each learns the other's endpoints and when to start; a
 * third is refused; bad requests are refused with the right code; the
 * table is bounded and forgets idle sessions; the relay forwards only a
 * granted trial's signed packets, within its limits.
 */
#include <string.h>

#include <CUnit/CUnit.h>

#include "addr.h"
#include "reflector/natlabtest.h"
#include "reflector/rendezvous.h"
#include "testlib.h"

static const uint8_t secret[] = "a secret of more than sixteen bytes";
#define SECRET_LEN (sizeof(secret) - 1)

struct probe {
	const char *session;
	uint8_t token[8];
	const char *pub, *priv;
	uint8_t cls[4];
	uint32_t rtt_us;
	bool wrong_key, no_token;
	uint32_t trial;
	bool relay;
	bool no_cookie; /* a first registration: the reflector's cookie not yet known */
	bool tcp;       /* registers over a TCP connection */
	bool tcp_cls;   /* sends a NATLAB-TCP-CLASS (1 to 8) */
};

/* A REGISTER as a probe sends it, parsed as the reflector would. */
static void build(const struct probe *p, uint8_t *buf, size_t cap, struct stun_msg *m)
{
	char key[REFL_SESSION_KEY_LEN + 1];
	uint8_t tid[STUN_TID_LEN] = {1, 2, 3};
	struct sockaddr_storage priv;
	struct stun_builder b;
	size_t len;

	refl_session_key(secret, SECRET_LEN, p->session, key);
	if (p->wrong_key)
		key[0] ^= 1;
	memcpy(tid + 4, p->token, 8);
	stun_build_start(&b, buf, cap, stun_type(STUN_NATLAB_RENDEZVOUS, STUN_REQUEST),
			 STUN_MAGIC_COOKIE, tid);
	stun_build_string(&b, STUN_ATTR_USERNAME, p->session);
	if (!p->no_token)
		stun_build_attr(&b, STUN_ATTR_NATLAB_TOKEN, p->token, 8);
	test_sockaddr(p->priv, &priv);
	stun_build_addr(&b, STUN_ATTR_NATLAB_PRIVATE, (struct sockaddr *)&priv);
	stun_build_attr(&b, STUN_ATTR_NATLAB_CLASS, p->cls, 4);
	stun_build_u32(&b, STUN_ATTR_NATLAB_RTT, p->rtt_us);
	if (p->tcp_cls)
		stun_build_attr(&b, STUN_ATTR_NATLAB_TCP_CLASS,
				(const uint8_t *)"\1\2\3\4\5\6\7\10", 8);
	if (p->trial)
		stun_build_u32(&b, STUN_ATTR_NATLAB_TRIAL, p->trial);
	if (p->relay)
		stun_build_attr(&b, STUN_ATTR_NATLAB_RELAY, NULL, 0);
	if (!p->no_cookie) { /* as from the answer to an earlier registration */
		struct sockaddr_storage pub;
		uint8_t cookie[RDV_COOKIE_LEN];

		test_sockaddr(p->pub, &pub);
		rdv_cookie(secret, SECRET_LEN, (struct sockaddr *)&pub, p->session, p->trial,
			   p->token, cookie);
		stun_build_attr(&b, STUN_ATTR_NATLAB_COOKIE, cookie, RDV_COOKIE_LEN);
	}
	stun_build_integrity_sha256(&b, (const uint8_t *)key, REFL_SESSION_KEY_LEN);
	stun_build_fingerprint(&b);
	CU_ASSERT_EQUAL_FATAL(stun_build_end(&b, &len), STUN_OK);
	CU_ASSERT_EQUAL_FATAL(stun_parse(m, buf, len, 0), STUN_OK);
}

static size_t reg(rdv_t *r, const struct probe *p, uint64_t now_ms, struct rdv_out out[2],
		  const char **counter)
{
	uint8_t buf[256];
	struct stun_msg m;
	struct sockaddr_storage from;

	build(p, buf, sizeof(buf), &m);
	test_sockaddr(p->pub, &from);
	return rdv_handle(r, &m, (struct sockaddr *)&from, p->tcp, secret, SECRET_LEN, now_ms, out,
			  counter);
}

/* An answer or a start, checked: signed with the session key, and its
 * error code (0 for success). */
static unsigned check(const struct rdv_out *o, const char *session, struct stun_msg *m)
{
	char key[REFL_SESSION_KEY_LEN + 1];
	unsigned code = 0;
	const char *reason;
	size_t rlen;

	CU_ASSERT_EQUAL_FATAL(stun_parse(m, o->buf, o->len, 0), STUN_OK);
	CU_ASSERT_EQUAL(stun_check_fingerprint(m), STUN_OK);
	if (m->cls == STUN_ERROR) {
		stun_get_error(m, &code, &reason, &rlen);
		return code;
	}
	refl_session_key(secret, SECRET_LEN, session, key);
	CU_ASSERT_EQUAL(stun_check_integrity_sha256(m, (const uint8_t *)key, REFL_SESSION_KEY_LEN),
			STUN_OK);
	return 0;
}

static bool addr_is(const struct stun_msg *m, uint16_t type, const char *want)
{
	struct sockaddr_storage got, w;

	test_sockaddr(want, &w);
	return stun_get_addr(m, type, &got) == STUN_OK &&
	       addr_equal((struct sockaddr *)&got, (struct sockaddr *)&w);
}

static bool to_is(const struct rdv_out *o, const char *want)
{
	struct sockaddr_storage w;

	test_sockaddr(want, &w);
	return addr_equal((const struct sockaddr *)&o->to, (struct sockaddr *)&w);
}

static const struct probe a = {.session = "trial-1",
			       .token = "AAAAAAAA",
			       .pub = "203.0.113.1:40000",
			       .priv = "10.0.1.2:40000",
			       .cls = {1, 2, 3, 0},
			       .rtt_us = 40000};
static const struct probe b = {.session = "trial-1",
			       .token = "BBBBBBBB",
			       .pub = "198.51.100.1:50000",
			       .priv = "10.0.2.2:40000",
			       .cls = {2, 3, 3, 0},
			       .rtt_us = 10000};

static void test_meet(void)
{
	struct rdv_limits l = {8, 30000, 0, 0, 0, 0};
	rdv_t *r = rdv_new(&l);
	struct rdv_out out[2];
	struct stun_msg m;
	const char *counter;
	uint32_t wait;
	const struct stun_attr *tok;

	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	/* A alone: its public endpoint, no peer yet. */
	CU_ASSERT_EQUAL_FATAL(reg(r, &a, 1000, out, &counter), 1);
	CU_ASSERT_STRING_EQUAL(counter, "rendezvous registered");
	CU_ASSERT_EQUAL(check(&out[0], a.session, &m), 0);
	CU_ASSERT_TRUE(addr_is(&m, STUN_ATTR_XOR_MAPPED_ADDRESS, a.pub));
	CU_ASSERT_PTR_NULL(stun_find(&m, STUN_ATTR_XOR_PEER_ADDRESS));
	/* B: its answer names A; A is pushed a start naming B. */
	CU_ASSERT_EQUAL_FATAL(reg(r, &b, 1010, out, &counter), 2);
	CU_ASSERT_STRING_EQUAL(counter, "rendezvous matched");
	CU_ASSERT_EQUAL(check(&out[0], b.session, &m), 0);
	CU_ASSERT_TRUE(addr_is(&m, STUN_ATTR_XOR_PEER_ADDRESS, a.pub));
	CU_ASSERT_TRUE(addr_is(&m, STUN_ATTR_NATLAB_PRIVATE, a.priv));
	tok = stun_find(&m, STUN_ATTR_NATLAB_TOKEN);
	CU_ASSERT_TRUE(tok && !memcmp(stun_attr_value(&m, tok), a.token, 8));
	/* A's one-way delay 20 ms, B's 5 ms: B waits 15 ms, A none. */
	CU_ASSERT_TRUE(stun_get_u32(&m, STUN_ATTR_NATLAB_WAIT, &wait) == STUN_OK && wait == 15);
	CU_ASSERT_EQUAL(check(&out[1], a.session, &m), 0);
	CU_ASSERT_EQUAL(m.cls, STUN_INDICATION);
	CU_ASSERT_TRUE(to_is(&out[1], a.pub));
	CU_ASSERT_TRUE(to_is(&out[0], b.pub));
	CU_ASSERT_TRUE(addr_is(&m, STUN_ATTR_XOR_PEER_ADDRESS, b.pub));
	CU_ASSERT_TRUE(addr_is(&m, STUN_ATTR_XOR_MAPPED_ADDRESS, a.pub));
	CU_ASSERT_TRUE(stun_get_u32(&m, STUN_ATTR_NATLAB_WAIT, &wait) == STUN_OK && wait == 0);
	/* A again (its poll): the answer carries B, and nothing is pushed. */
	CU_ASSERT_EQUAL(reg(r, &a, 1100, out, &counter), 1);
	CU_ASSERT_STRING_EQUAL(counter, "rendezvous refreshed");
	CU_ASSERT_EQUAL(check(&out[0], a.session, &m), 0);
	CU_ASSERT_TRUE(addr_is(&m, STUN_ATTR_XOR_PEER_ADDRESS, b.pub));
	rdv_free(r);
}

/* A probe's first registration cannot know its round trip: the two meet
 * only once both have told theirs, so that the waits even them out. */
static void test_meet_after_rtt(void)
{
	struct rdv_limits l = {8, 30000, 0, 0, 0, 0};
	rdv_t *r = rdv_new(&l);
	struct probe fresh = b;
	struct rdv_out out[2];
	struct stun_msg m;
	const char *counter;
	uint32_t wait;

	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	reg(r, &a, 1000, out, &counter);
	fresh.rtt_us = 0;
	CU_ASSERT_EQUAL_FATAL(reg(r, &fresh, 1010, out, &counter), 1);
	CU_ASSERT_STRING_EQUAL(counter, "rendezvous registered");
	CU_ASSERT_EQUAL(check(&out[0], b.session, &m), 0);
	CU_ASSERT_PTR_NULL(stun_find(&m, STUN_ATTR_XOR_PEER_ADDRESS));
	/* Its next registration has it: now they meet, A waiting none, B 15 ms. */
	CU_ASSERT_EQUAL_FATAL(reg(r, &b, 1110, out, &counter), 2);
	CU_ASSERT_STRING_EQUAL(counter, "rendezvous matched");
	CU_ASSERT_EQUAL(check(&out[0], b.session, &m), 0);
	CU_ASSERT_TRUE(stun_get_u32(&m, STUN_ATTR_NATLAB_WAIT, &wait) == STUN_OK && wait == 15);
	/* Once only. */
	CU_ASSERT_EQUAL(reg(r, &b, 1210, out, &counter), 1);
	CU_ASSERT_STRING_EQUAL(counter, "rendezvous refreshed");
	rdv_free(r);
}

/* A third probe, bad requests, a full table, and forgetting. */
static void test_refusals(void)
{
	struct rdv_limits l = {2, 30000, 0, 0, 0, 0};
	rdv_t *r = rdv_new(&l);
	struct rdv_out out[2];
	struct stun_msg m;
	struct probe c = b, other = a;
	const char *counter;

	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	reg(r, &a, 0, out, &counter);
	reg(r, &b, 0, out, &counter);
	memcpy(c.token, "CCCCCCCC", 8);
	CU_ASSERT_EQUAL_FATAL(reg(r, &c, 10, out, &counter), 1);
	CU_ASSERT_EQUAL(check(&out[0], c.session, &m), 403);
	CU_ASSERT_STRING_EQUAL(counter, "rendezvous session full");
	/* The same probe in the session's next trial: a meeting of its own. */
	c.trial = 2;
	CU_ASSERT_EQUAL_FATAL(reg(r, &c, 10, out, &counter), 1);
	CU_ASSERT_EQUAL(check(&out[0], c.session, &m), 0);
	CU_ASSERT_PTR_NULL(stun_find(&m, STUN_ATTR_XOR_PEER_ADDRESS));
	CU_ASSERT_EQUAL(rdv_sessions(r), 2);
	/* Idle past the TTL: both meetings forgotten. */
	CU_ASSERT_EQUAL(rdv_expire(r, 30011), 2);
	CU_ASSERT_EQUAL(rdv_sessions(r), 0);
	/* Two sessions fill the table; a third is refused until one expires. */
	reg(r, &a, 40000, out, &counter);
	other.session = "trial-2";
	reg(r, &other, 40020, out, &counter);
	other.session = "trial-3";
	CU_ASSERT_EQUAL_FATAL(reg(r, &other, 40030, out, &counter), 1);
	CU_ASSERT_EQUAL(check(&out[0], other.session, &m), 508);
	CU_ASSERT_STRING_EQUAL(counter, "rendezvous table full");
	CU_ASSERT_EQUAL(rdv_sessions(r), 2);
	CU_ASSERT_EQUAL_FATAL(reg(r, &other, 70015, out, &counter), 1);
	CU_ASSERT_EQUAL(check(&out[0], other.session, &m), 0); /* trial-1 forgotten */
	CU_ASSERT_STRING_EQUAL(counter, "rendezvous registered");
	CU_ASSERT_EQUAL(rdv_sessions(r), 2);
	rdv_free(r);
}

/* No secret: the rendezvous is off (403), as natlab's tests are. */
static void test_off(void)
{
	struct rdv_limits l = {2, 30000, 0, 0, 0, 0};
	rdv_t *r = rdv_new(&l);
	struct rdv_out out[2];
	struct stun_msg m;
	uint8_t buf[256];
	struct sockaddr_storage from;
	const char *counter;

	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	build(&a, buf, sizeof(buf), &m);
	test_sockaddr(a.pub, &from);
	CU_ASSERT_EQUAL_FATAL(
	    rdv_handle(r, &m, (struct sockaddr *)&from, false, NULL, 0, 0, out, &counter), 1);
	CU_ASSERT_EQUAL(check(&out[0], a.session, &m), 403);
	CU_ASSERT_STRING_EQUAL(counter, "rendezvous off");
	CU_ASSERT_EQUAL(rdv_sessions(r), 0);
	rdv_free(r);
}

/* A request of `len` bytes from 192.0.2.7:9: the header, then USERNAME
 * (a session) and padding, unsigned. What comes back, and its length. */
static size_t bare(rdv_t *r, size_t attrs, struct rdv_out out[2], const char **counter)
{
	uint8_t buf[256] = {0}, tid[STUN_TID_LEN] = {7};
	struct stun_builder sb;
	struct stun_msg m;
	struct sockaddr_storage from;
	size_t len;

	stun_build_start(&sb, buf, sizeof(buf), stun_type(STUN_NATLAB_RENDEZVOUS, STUN_REQUEST),
			 STUN_MAGIC_COOKIE, tid);
	if (attrs)
		stun_build_string(&sb, STUN_ATTR_USERNAME, "trial-1");
	for (size_t i = 1; i < attrs; i++)
		stun_build_attr(&sb, STUN_ATTR_PADDING, (const uint8_t *)"xxxxxxxx", 8);
	CU_ASSERT_EQUAL_FATAL(stun_build_end(&sb, &len), STUN_OK);
	CU_ASSERT_EQUAL_FATAL(stun_parse(&m, buf, len, 0), STUN_OK);
	test_sockaddr("192.0.2.7:9", &from);
	out[0].len = 0;
	return rdv_handle(r, &m, (struct sockaddr *)&from, false, secret, SECRET_LEN, 0, out,
			  counter)
		   ? out[0].len
		   : 0;
}

/* RFC 5128 6.2: S is no amplifier. Until a source is proven, no answer is
 * longer than its request: a header alone (20 bytes) gets nothing, a
 * longer bad request its error with the reason cut to fit; a signed
 * registration from a source that has not echoed its cookie gets its
 * mapped address and the cookie, no longer than it. */
static void test_no_amplification(void)
{
	struct rdv_limits l = {8, 30000, 0, 0, 0, 0};
	rdv_t *r = rdv_new(&l);
	struct rdv_out out[2];
	struct probe first = a;
	uint8_t buf[256];
	struct stun_msg m;
	struct sockaddr_storage from;
	const char *counter;

	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_EQUAL(bare(r, 0, out, &counter), 0);
	CU_ASSERT_STRING_EQUAL(counter, "rendezvous refused");
	for (size_t attrs = 1; attrs < 12; attrs++) {
		size_t req = STUN_HEADER_LEN + 12 + 12 * (attrs - 1),
		       got = bare(r, attrs, out, &counter);

		CU_ASSERT_TRUE(got <= req);
		if (req >= 36) /* room for an error with an empty reason */
			CU_ASSERT_EQUAL(check(&out[0], "trial-1", &m), 400);
	}
	first.no_cookie = true;
	build(&first, buf, sizeof(buf), &m);
	test_sockaddr(first.pub, &from);
	CU_ASSERT_EQUAL_FATAL(rdv_handle(r, &m, (struct sockaddr *)&from, false, secret, SECRET_LEN,
					 0, out, &counter),
			      1);
	CU_ASSERT_TRUE(out[0].len <= m.len);
	CU_ASSERT_EQUAL(check(&out[0], a.session, &m), 0);
	CU_ASSERT_PTR_NOT_NULL(stun_find(&m, STUN_ATTR_NATLAB_COOKIE));
	rdv_free(r);
}

/* RFC 5128 6.2, return routability: a probe meets only once it has echoed
 * the cookie of the source it registers from. A registration with the key
 * forged from a victim's address, without its cookie, neither replaces
 * the proven endpoint nor draws the start; the victim gets only the answer
 * to its forged request, no longer than the request. */
static void test_return_routability(void)
{
	struct rdv_limits l = {8, 30000, 4, 10000, 65536, 100};
	rdv_t *r = rdv_new(&l);
	struct rdv_out out[2];
	struct stun_msg m;
	struct probe fresh_a = a, forged = b, fresh_b = b;
	const char *counter;

	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	fresh_a.no_cookie = fresh_b.no_cookie = true;
	fresh_a.relay = fresh_b.relay = forged.relay = true;
	CU_ASSERT_EQUAL(reg(r, &fresh_a, 0, out, &counter), 1);
	CU_ASSERT_STRING_EQUAL(counter, "rendezvous unproven");
	CU_ASSERT_EQUAL(reg(r, &fresh_b, 1, out, &counter), 1); /* both there, neither proven */
	CU_ASSERT_STRING_EQUAL(counter, "rendezvous unproven");
	CU_ASSERT_EQUAL(check(&out[0], b.session, &m), 0);
	CU_ASSERT_PTR_NULL(stun_find(&m, STUN_ATTR_XOR_PEER_ADDRESS));
	CU_ASSERT_EQUAL(reg(r, &b, 2, out, &counter), 1); /* B proven, A still not */
	CU_ASSERT_STRING_EQUAL(counter, "rendezvous registered");
	/* The forger, with the key, registers B's token from a victim: B's
	 * proven endpoint stays; the victim's answer is no longer than the
	 * request and names nobody. */
	forged.pub = "192.0.2.80:22";
	forged.no_cookie = true;
	CU_ASSERT_EQUAL(reg(r, &forged, 3, out, &counter), 1);
	CU_ASSERT_STRING_EQUAL(counter, "rendezvous unproven");
	CU_ASSERT_TRUE(to_is(&out[0], "192.0.2.80:22"));
	CU_ASSERT_EQUAL(check(&out[0], b.session, &m), 0);
	CU_ASSERT_PTR_NULL(stun_find(&m, STUN_ATTR_XOR_PEER_ADDRESS));
	/* A proves its source: they meet, the start goes to B's proven endpoint. */
	CU_ASSERT_EQUAL_FATAL(reg(r, &a, 4, out, &counter), 2);
	CU_ASSERT_STRING_EQUAL(counter, "rendezvous matched");
	CU_ASSERT_TRUE(to_is(&out[1], b.pub));
	/* A cookie made for another source proves nothing: echoed from the
	 * victim's address (a forger who saw B's answer), still unproven. */
	forged.no_cookie = false;
	forged.pub = b.pub; /* the cookie is B's ... */
	{
		uint8_t buf[256];
		struct sockaddr_storage victim;

		build(&forged, buf, sizeof(buf), &m);
		test_sockaddr("192.0.2.80:22", &victim); /* ... sent from elsewhere */
		CU_ASSERT_EQUAL(rdv_handle(r, &m, (struct sockaddr *)&victim, false, secret,
					   SECRET_LEN, 5, out, &counter),
				1);
		CU_ASSERT_STRING_EQUAL(counter, "rendezvous unproven");
		CU_ASSERT_TRUE(out[0].len <= m.len);
	}
	rdv_free(r);
}

/* RFC 5128 6.3: a probe's own endpoints are passed on only when they are
 * meant for a local network, or are its own source address; a public
 * third party's (a victim's port 22) is dropped. */
static void test_private_dropped(void)
{
	struct rdv_limits l = {8, 30000, 0, 0, 0, 0};
	rdv_t *r = rdv_new(&l);
	struct rdv_out out[2];
	struct stun_msg m;
	struct probe liar = a, open = b;
	const char *counter;

	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	liar.priv = "192.0.2.80:22";
	open.priv = "198.51.100.1:40000"; /* no NAT: its own address */
	CU_ASSERT_EQUAL(reg(r, &liar, 0, out, &counter), 1);
	CU_ASSERT_STRING_EQUAL(counter, "rendezvous private dropped");
	CU_ASSERT_EQUAL_FATAL(reg(r, &open, 1, out, &counter), 2);
	CU_ASSERT_EQUAL(check(&out[0], b.session, &m), 0);
	CU_ASSERT_TRUE(addr_is(&m, STUN_ATTR_XOR_PEER_ADDRESS, a.pub));
	CU_ASSERT_PTR_NULL(stun_find(&m, STUN_ATTR_NATLAB_PRIVATE));
	CU_ASSERT_EQUAL(check(&out[1], a.session, &m), 0);
	CU_ASSERT_TRUE(addr_is(&m, STUN_ATTR_NATLAB_PRIVATE, open.priv));
	rdv_free(r);
}

/* A NatlabPunch indication from p's public endpoint, signed with the key of
 * session `signed_as` (p's own, or another's); what the relay does with it. */
static size_t punch_via(rdv_t *r, const struct probe *p, const char *signed_as, uint64_t now_ms,
			struct rdv_out *out, const char **counter)
{
	char key[REFL_SESSION_KEY_LEN + 1];
	uint8_t buf[200], tid[STUN_TID_LEN] = {9};
	struct sockaddr_storage from;
	struct stun_builder sb;
	struct stun_msg m;
	size_t len;

	refl_session_key(secret, SECRET_LEN, signed_as, key);
	stun_build_start(&sb, buf, sizeof(buf), stun_type(STUN_NATLAB_PUNCH, STUN_INDICATION),
			 STUN_MAGIC_COOKIE, tid);
	stun_build_string(&sb, STUN_ATTR_USERNAME, p->session);
	stun_build_attr(&sb, STUN_ATTR_NATLAB_TOKEN, p->token, 8);
	stun_build_integrity_sha256(&sb, (const uint8_t *)key, REFL_SESSION_KEY_LEN);
	stun_build_fingerprint(&sb);
	CU_ASSERT_EQUAL_FATAL(stun_build_end(&sb, &len), STUN_OK);
	CU_ASSERT_EQUAL_FATAL(stun_parse(&m, buf, len, 0), STUN_OK);
	test_sockaddr(p->pub, &from);
	out->len = 0;
	if (!rdv_relay(r, &m, buf, len, (struct sockaddr *)&from, p->tcp, now_ms, out, counter))
		return 0;
	CU_ASSERT_TRUE(out->len == len && !memcmp(out->buf, buf, len)); /* as it came */
	return 1;
}

static bool granted(const struct rdv_out *o, const char *session)
{
	struct stun_msg m;

	return check(o, session, &m) == 0 && stun_find(&m, STUN_ATTR_NATLAB_RELAY);
}

/* Granted when both ask: each side's signed packets to the other, and
 * nothing else. */
static void test_relay(void)
{
	struct rdv_limits l = {8, 30000, 4, 10000, 100000, 1000};
	rdv_t *r = rdv_new(&l);
	struct probe ra = a, rb = b, stranger = a;
	struct rdv_out out[2];
	const char *counter;

	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	ra.relay = rb.relay = true;
	reg(r, &ra, 0, out, &counter);
	CU_ASSERT_FALSE(granted(&out[0], a.session)); /* not yet met */
	CU_ASSERT_EQUAL_FATAL(reg(r, &rb, 10, out, &counter), 2);
	CU_ASSERT_TRUE(granted(&out[0], b.session));
	CU_ASSERT_TRUE(granted(&out[1], a.session));
	CU_ASSERT_EQUAL(rdv_relays(r, 10), 1);
	CU_ASSERT_EQUAL_FATAL(punch_via(r, &ra, a.session, 20, out, &counter), 1);
	CU_ASSERT_STRING_EQUAL(counter, "relayed");
	CU_ASSERT_TRUE(to_is(&out[0], b.pub));
	CU_ASSERT_EQUAL_FATAL(punch_via(r, &rb, b.session, 20, out, &counter), 1);
	CU_ASSERT_TRUE(to_is(&out[0], a.pub));
	/* Signed with another session's key, or from an endpoint not in it. */
	CU_ASSERT_EQUAL(punch_via(r, &ra, "trial-9", 30, out, &counter), 0);
	CU_ASSERT_STRING_EQUAL(counter, "relay: does not verify");
	stranger.pub = "203.0.113.1:40001";
	CU_ASSERT_EQUAL(punch_via(r, &stranger, a.session, 30, out, &counter), 0);
	CU_ASSERT_STRING_EQUAL(counter, "relay: not a relayed probe");
	/* Its life ends relay_ms after the meeting. */
	CU_ASSERT_EQUAL(punch_via(r, &ra, a.session, 10010, out, &counter), 1);
	CU_ASSERT_EQUAL(punch_via(r, &ra, a.session, 10011, out, &counter), 0);
	CU_ASSERT_STRING_EQUAL(counter, "relay: not a relayed probe");
	CU_ASSERT_EQUAL(rdv_relays(r, 10011), 0);
	rdv_free(r);
}

/* A TCP trial (RFC 5128 3.4): both register over connections, which prove
 * their sources (no cookie needed); the start goes down the first probe's
 * own connection; the relay forwards over TCP only. A probe of the trial
 * over the other transport is refused (400), and a UDP packet from the
 * same endpoint is not relayed. */
static void test_tcp(void)
{
	struct rdv_limits l = {8, 30000, 4, 10000, 100000, 1000};
	rdv_t *r = rdv_new(&l);
	struct probe ta = a, tb = b, ub = b;
	struct rdv_out out[2];
	struct stun_msg m;
	const char *counter;

	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	ta.tcp = tb.tcp = true;
	tb.tcp_cls = true;
	ta.no_cookie = tb.no_cookie = ub.no_cookie = true;
	ta.relay = tb.relay = true;
	CU_ASSERT_EQUAL(reg(r, &ta, 0, out, &counter), 1);
	CU_ASSERT_STRING_EQUAL(counter, "rendezvous registered");
	CU_ASSERT_TRUE(out[0].tcp);
	CU_ASSERT_EQUAL_FATAL(reg(r, &ub, 5, out, &counter), 1);
	CU_ASSERT_EQUAL(check(&out[0], b.session, &m), 400);
	CU_ASSERT_EQUAL_FATAL(reg(r, &tb, 10, out, &counter), 2);
	CU_ASSERT_STRING_EQUAL(counter, "rendezvous matched");
	CU_ASSERT_TRUE(out[0].tcp && out[1].tcp);
	CU_ASSERT_TRUE(to_is(&out[1], a.pub));
	CU_ASSERT_EQUAL(check(&out[1], a.session, &m), 0);
	CU_ASSERT_TRUE(addr_is(&m, STUN_ATTR_XOR_PEER_ADDRESS, b.pub));
	/* B's TCP class passed on to A as it came; A sent none, B gets none. */
	{
		const struct stun_attr *tc = stun_find(&m, STUN_ATTR_NATLAB_TCP_CLASS);

		CU_ASSERT_TRUE(tc && tc->len == 8 &&
			       !memcmp(stun_attr_value(&m, tc), "\1\2\3\4\5\6\7\10", 8));
		CU_ASSERT_EQUAL(check(&out[0], b.session, &m), 0);
		CU_ASSERT_PTR_NULL(stun_find(&m, STUN_ATTR_NATLAB_TCP_CLASS));
	}
	CU_ASSERT_EQUAL_FATAL(punch_via(r, &ta, a.session, 20, out, &counter), 1);
	CU_ASSERT_TRUE(out[0].tcp && to_is(&out[0], b.pub));
	ta.tcp = false; /* the same endpoint, over UDP */
	CU_ASSERT_EQUAL(punch_via(r, &ta, a.session, 20, out, &counter), 0);
	CU_ASSERT_STRING_EQUAL(counter, "relay: not a relayed probe");
	rdv_free(r);
}

/* Only when both ask; no more at once than max_relays; bytes and rate. */
static void test_relay_limits(void)
{
	struct rdv_limits l = {8, 30000, 1, 10000, 400, 3};
	rdv_t *r = rdv_new(&l);
	struct probe ra = a, rb = b, c = a, d = b;
	struct rdv_out out[2];
	const char *counter;
	unsigned n = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	/* One side asks: no relay. */
	ra.relay = true;
	reg(r, &ra, 0, out, &counter);
	reg(r, &rb, 0, out, &counter);
	CU_ASSERT_FALSE(granted(&out[0], b.session));
	CU_ASSERT_EQUAL(punch_via(r, &ra, a.session, 5, out, &counter), 0);
	/* Both ask in the next trial: granted; a third trial finds no room. */
	ra.trial = rb.trial = 2;
	rb.relay = true;
	reg(r, &ra, 10, out, &counter);
	reg(r, &rb, 10, out, &counter);
	CU_ASSERT_TRUE(granted(&out[0], b.session));
	c.trial = d.trial = 3;
	c.relay = d.relay = true;
	c.pub = "203.0.113.1:40002";
	reg(r, &c, 20, out, &counter);
	reg(r, &d, 20, out, &counter);
	CU_ASSERT_FALSE(granted(&out[0], d.session));
	/* 3 packets a second: the fourth waits for the next second. */
	for (int i = 0; i < 4; i++)
		n += (unsigned)punch_via(r, &ra, a.session, 100, out, &counter);
	CU_ASSERT_EQUAL(n, 3);
	CU_ASSERT_STRING_EQUAL(counter, "relay: over its limits");
	/* 400 bytes in all, both ways: the packets are 88 bytes, four fit. */
	for (int t = 1; t < 5; t++)
		n += (unsigned)punch_via(r, &rb, b.session, 100 + 1000u * (unsigned)t, out,
					 &counter);
	CU_ASSERT_EQUAL(n, 4);
	CU_ASSERT_STRING_EQUAL(counter, "relay: over its limits");
	rdv_free(r);
}

int test_rendezvous_register(void)
{
	static const struct test_case tests[] = {
	    {"two probes meet: endpoints, token, start times", test_meet},
	    {"no meeting before both round trips are known", test_meet_after_rtt},
	    {"a third probe, bad requests, a full table, expiry", test_refusals},
	    {"no session secret: off", test_off},
	    {"no answer longer than its request until proven", test_no_amplification},
	    {"return routability: the cookie, forged sources", test_return_routability},
	    {"a third party's public address is no private endpoint", test_private_dropped},
	    {"over TCP: connections prove the sources, one transport a trial", test_tcp},
	    {"the relay: granted trials' signed packets, for a time", test_relay},
	    {"the relay: asked by both, at most so many, bytes and rate", test_relay_limits},
	};

	return TEST_SUITE("natreflector rendezvous", tests);
}
