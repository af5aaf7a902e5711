/*
 * The rendezvous of two probes. See rendezvous.h and reflector/PROTOCOL.md.
 */
#include "rendezvous.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nettle/hmac.h>
#include <nettle/memops.h>

#include "addr.h"
#include "reflector/natlabtest.h"
#include "wire.h"

#define TOKEN_LEN   8
#define COOKIE_LEN  RDV_COOKIE_LEN
#define WAIT_MAX_MS 3000 /* a start further off than this is no synchronised start */

struct side {
	bool used;
	uint8_t token[TOKEN_LEN];
	struct sockaddr_storage pub;
	struct sockaddr_storage priv[RDV_MAX_PRIVATE];
	size_t npriv;
	uint8_t cls[4];
	uint8_t tcp_cls[8]; /* NATLAB-TCP-CLASS, passed on as it came */
	bool has_tcp_cls;
	uint8_t portmap[8]; /* NATLAB-PORTMAP, likewise */
	bool has_portmap;
	uint32_t rtt_us;
	bool relay;  /* asked for the relay */
	bool proven; /* its registration echoed the cookie of its source, or came over TCP */
	bool tcp;    /* registered over a TCP connection */
};

struct session {
	bool used;
	char id[REFL_SESSION_ID_MAX + 1];
	uint32_t trial;
	char key[REFL_SESSION_KEY_LEN + 1];
	struct side side[2];
	bool met; /* both told of each other */
	uint64_t last_ms;
	/* The relay, once granted at the meeting. */
	bool relay;
	uint64_t relay_from_ms, window_ms;
	uint32_t relayed_bytes, window_packets;
};

struct rdv {
	struct rdv_limits l;
	struct session *s;
};

/* What a request says, checked. */
struct reg {
	char id[REFL_SESSION_ID_MAX + 1];
	uint32_t trial;
	struct side side;
	const uint8_t *cookie; /* the NATLAB-COOKIE echoed, or NULL */
};

rdv_t *rdv_new(const struct rdv_limits *l)
{
	rdv_t *r = calloc(1, sizeof(*r));

	if (!r || !l->max_sessions)
		goto fail;
	r->l = *l;
	r->s = calloc(l->max_sessions, sizeof(*r->s));
	if (!r->s)
		goto fail;
	return r;
fail:
	rdv_free(r);
	return NULL;
}

void rdv_free(rdv_t *r)
{
	if (r)
		free(r->s);
	free(r);
}

size_t rdv_expire(rdv_t *r, uint64_t now_ms)
{
	size_t n = 0;

	for (size_t i = 0; i < r->l.max_sessions; i++)
		if (r->s[i].used && now_ms - r->s[i].last_ms > r->l.ttl_ms) {
			r->s[i].used = false;
			n++;
		}
	return n;
}

static bool relaying(const rdv_t *r, const struct session *s, uint64_t now_ms)
{
	return s->used && s->relay && now_ms - s->relay_from_ms <= r->l.relay_ms;
}

size_t rdv_relays(const rdv_t *r, uint64_t now_ms)
{
	size_t n = 0;

	for (size_t i = 0; i < r->l.max_sessions; i++)
		n += relaying(r, &r->s[i], now_ms);
	return n;
}

size_t rdv_sessions(const rdv_t *r)
{
	size_t n = 0;

	for (size_t i = 0; i < r->l.max_sessions; i++)
		n += r->s[i].used;
	return n;
}

/* ---- reading a request ---- */

static bool session_id(const struct stun_msg *m, char id[REFL_SESSION_ID_MAX + 1])
{
	const struct stun_attr *a = stun_find(m, STUN_ATTR_USERNAME);
	const uint8_t *v;

	if (!a || !a->len || a->len > REFL_SESSION_ID_MAX)
		return false;
	v = stun_attr_value(m, a);
	for (size_t i = 0; i < a->len; i++)
		if (v[i] <= ' ' || v[i] > '~')
			return false;
	memcpy(id, v, a->len);
	id[a->len] = '\0';
	return true;
}

/* The registering probe's own endpoints, class and round trip (optional). */
static void side_details(const struct stun_msg *m, struct side *s)
{
	const struct stun_attr *cls = stun_find(m, STUN_ATTR_NATLAB_CLASS);
	const struct stun_attr *tcp_cls = stun_find(m, STUN_ATTR_NATLAB_TCP_CLASS);
	const struct stun_attr *portmap = stun_find(m, STUN_ATTR_NATLAB_PORTMAP);

	for (size_t i = 0; i < m->nattrs && s->npriv < RDV_MAX_PRIVATE; i++)
		if (m->attrs[i].type == STUN_ATTR_NATLAB_PRIVATE &&
		    stun_attr_addr(m, &m->attrs[i], &s->priv[s->npriv]) == STUN_OK)
			s->npriv++;
	if (cls && cls->len == 4)
		memcpy(s->cls, stun_attr_value(m, cls), 4);
	if (tcp_cls && tcp_cls->len == sizeof(s->tcp_cls)) {
		memcpy(s->tcp_cls, stun_attr_value(m, tcp_cls), sizeof(s->tcp_cls));
		s->has_tcp_cls = true;
	}
	if (portmap && portmap->len == sizeof(s->portmap)) {
		memcpy(s->portmap, stun_attr_value(m, portmap), sizeof(s->portmap));
		s->has_portmap = true;
	}
	if (stun_get_u32(m, STUN_ATTR_NATLAB_RTT, &s->rtt_us) != STUN_OK)
		s->rtt_us = 0;
	s->relay = stun_find(m, STUN_ATTR_NATLAB_RELAY) != NULL;
}

/* 0 and reg filled, or the error code and reason; key is the session's. */
static unsigned read_register(const struct stun_msg *m, const uint8_t *secret, size_t secret_len,
			      struct reg *reg, char key[REFL_SESSION_KEY_LEN + 1],
			      const char **reason)
{
	const struct stun_attr *tok = stun_find(m, STUN_ATTR_NATLAB_TOKEN), *cookie;

	*reason = "rendezvous not enabled";
	if (!secret)
		return 403;
	*reason = "bad request: USERNAME, NATLAB-TOKEN and MESSAGE-INTEGRITY-SHA256 needed";
	if (m->cls != STUN_REQUEST || !session_id(m, reg->id) || !tok || tok->len != TOKEN_LEN ||
	    !stun_find(m, STUN_ATTR_MESSAGE_INTEGRITY_SHA256))
		return 400;
	refl_session_key(secret, secret_len, reg->id, key);
	*reason = "unauthorized: MESSAGE-INTEGRITY-SHA256 does not verify with the session key";
	if (stun_check_integrity_sha256(m, (const uint8_t *)key, REFL_SESSION_KEY_LEN) != STUN_OK)
		return 401;
	/* One session runs many trials, each a meeting of its own. */
	if (stun_get_u32(m, STUN_ATTR_NATLAB_TRIAL, &reg->trial) != STUN_OK)
		reg->trial = 0;
	memset(&reg->side, 0, sizeof(reg->side));
	reg->side.used = true;
	memcpy(reg->side.token, stun_attr_value(m, tok), TOKEN_LEN);
	side_details(m, &reg->side);
	cookie = stun_find(m, STUN_ATTR_NATLAB_COOKIE);
	reg->cookie = cookie && cookie->len == COOKIE_LEN ? stun_attr_value(m, cookie) : NULL;
	return 0;
}

/*
 * Return routability (RFC 5128 6.2): the cookie of a registration's
 * source, session, trial and token under the secret. A probe that echoes
 * it in a later registration receives at that source; nothing is kept for
 * one that does not.
 */
void rdv_cookie(const uint8_t *secret, size_t secret_len, const struct sockaddr *from,
		const char *id, uint32_t trial, const uint8_t *token, uint8_t out[RDV_COOKIE_LEN])
{
	static const char label[] = "natlab rendezvous cookie ";
	uint8_t mac[SHA256_DIGEST_SIZE], t[4] = {trial >> 24, trial >> 16, trial >> 8, trial};
	char a[ADDR_STRLEN];
	struct hmac_sha256_ctx ctx;

	addr_format(from, a, sizeof(a));
	hmac_sha256_set_key(&ctx, secret_len, secret);
	hmac_sha256_update(&ctx, sizeof(label) - 1, (const uint8_t *)label);
	hmac_sha256_update(&ctx, strlen(a) + 1, (const uint8_t *)a);
	hmac_sha256_update(&ctx, strlen(id) + 1, (const uint8_t *)id);
	hmac_sha256_update(&ctx, sizeof(t), t);
	hmac_sha256_update(&ctx, TOKEN_LEN, token);
	hmac_sha256_digest(&ctx, sizeof(mac), mac);
	memcpy(out, mac, RDV_COOKIE_LEN);
}

/* A probe's own endpoints that the other probe may be sent to (RFC 5128
 * 6.3): addresses meant for a local network, or the registration's own
 * source address (a host without NAT). A public address of a third party
 * is dropped; how many, in *dropped. */
static void keep_own_privates(struct side *s, const struct sockaddr *from, unsigned *dropped)
{
	size_t n = 0;

	for (size_t i = 0; i < s->npriv; i++) {
		const struct sockaddr *p = (const struct sockaddr *)&s->priv[i];

		if (addr_realm(p) != ADDR_REALM_PUBLIC || addr_same_ip(p, from))
			s->priv[n++] = s->priv[i];
		else
			(*dropped)++;
	}
	s->npriv = n;
}

/* ---- the table ---- */

static struct session *find(rdv_t *r, const struct reg *reg)
{
	for (size_t i = 0; i < r->l.max_sessions; i++)
		if (r->s[i].used && r->s[i].trial == reg->trial && !strcmp(r->s[i].id, reg->id))
			return &r->s[i];
	return NULL;
}

static struct session *take(rdv_t *r, const struct reg *reg, const char *key, uint64_t now_ms)
{
	rdv_expire(r, now_ms);
	for (size_t i = 0; i < r->l.max_sessions; i++)
		if (!r->s[i].used) {
			memset(&r->s[i], 0, sizeof(r->s[i]));
			r->s[i].used = true;
			r->s[i].trial = reg->trial;
			memcpy(r->s[i].id, reg->id, strlen(reg->id) + 1);
			memcpy(r->s[i].key, key, REFL_SESSION_KEY_LEN + 1);
			return &r->s[i];
		}
	return NULL;
}

/* The slot of this token, or a free one; -1 when two others hold both. */
static int slot(const struct session *s, const uint8_t *token)
{
	for (int i = 0; i < 2; i++)
		if (s->side[i].used && !memcmp(s->side[i].token, token, TOKEN_LEN))
			return i;
	for (int i = 0; i < 2; i++)
		if (!s->side[i].used)
			return i;
	return -1;
}

/* ---- writing ---- */

/* Milliseconds side x waits so that both start one one-way delay after the
 * later of the two receives the start: each probe's delay is half its
 * round trip, as it measured it (0 unknown). */
static uint32_t wait_ms(const struct session *s, int x)
{
	uint32_t owd[2] = {s->side[0].rtt_us / 2, s->side[1].rtt_us / 2};
	uint32_t later = owd[0] > owd[1] ? owd[0] : owd[1], w = (later - owd[x] + 500) / 1000;

	return w > WAIT_MAX_MS ? WAIT_MAX_MS : w;
}

/* The other probe, for side x: its endpoints, class, token; when to start. */
static void peer_attrs(struct stun_builder *b, const struct session *s, int x)
{
	const struct side *p = &s->side[!x];

	stun_build_addr(b, STUN_ATTR_XOR_PEER_ADDRESS, (const struct sockaddr *)&p->pub);
	for (size_t i = 0; i < p->npriv; i++)
		stun_build_addr(b, STUN_ATTR_NATLAB_PRIVATE, (const struct sockaddr *)&p->priv[i]);
	stun_build_attr(b, STUN_ATTR_NATLAB_CLASS, p->cls, 4);
	if (p->has_tcp_cls)
		stun_build_attr(b, STUN_ATTR_NATLAB_TCP_CLASS, p->tcp_cls, sizeof(p->tcp_cls));
	if (p->has_portmap)
		stun_build_attr(b, STUN_ATTR_NATLAB_PORTMAP, p->portmap, sizeof(p->portmap));
	stun_build_attr(b, STUN_ATTR_NATLAB_TOKEN, p->token, TOKEN_LEN);
	stun_build_u32(b, STUN_ATTR_NATLAB_WAIT, wait_ms(s, x));
	if (s->relay)
		stun_build_attr(b, STUN_ATTR_NATLAB_RELAY, NULL, 0);
}

static void finish(struct stun_builder *b, const char *key, struct rdv_out *o)
{
	if (key)
		stun_build_integrity_sha256(b, (const uint8_t *)key, REFL_SESSION_KEY_LEN);
	stun_build_fingerprint(b);
	if (stun_build_end(b, &o->len) != STUN_OK)
		o->len = 0;
}

/* An error answer goes to a source nobody proved: it is never longer than
 * the request (RFC 5128 6.2, no amplification). The reason is cut to fit;
 * a request too short for even an empty one gets none (0). */
#define ERROR_FIXED (STUN_HEADER_LEN + 8 + 8) /* header, ERROR-CODE's head, FINGERPRINT */

static size_t error_out(const struct stun_msg *m, const struct sockaddr *from, unsigned code,
			const char *reason, struct rdv_out *o)
{
	struct stun_builder b;
	char cut[128];
	size_t room;

	o->len = 0;
	if (m->len < ERROR_FIXED)
		return 0;
	room = (m->len - ERROR_FIXED) & ~(size_t)3;
	snprintf(cut, room + 1 < sizeof(cut) ? room + 1 : sizeof(cut), "%s", reason);
	memcpy(&o->to, from, addr_len(from));
	o->tcp = false; /* the server answers on the connection it came by, if any */
	stun_build_response(&b, o->buf, sizeof(o->buf), m, STUN_ERROR);
	stun_build_error(&b, code, cut);
	finish(&b, NULL, o);
	return o->len && o->len <= m->len ? 1 : 0;
}

/* The answer to a registration of side x, at its source: that endpoint and
 * the cookie to echo; once met and the source proven, the other probe.
 * Until proven, no longer than the request (0: none). */
static size_t answer(const struct stun_msg *m, const struct session *s, int x,
		     const struct sockaddr *from, bool proven, const uint8_t *cookie,
		     struct rdv_out *o)
{
	struct stun_builder b;

	memcpy(&o->to, from, addr_len(from));
	o->tcp = s->side[x].tcp;
	stun_build_response(&b, o->buf, sizeof(o->buf), m, STUN_SUCCESS);
	stun_build_addr(&b, STUN_ATTR_XOR_MAPPED_ADDRESS, from);
	stun_build_attr(&b, STUN_ATTR_NATLAB_COOKIE, cookie, COOKIE_LEN);
	if (s->met && proven)
		peer_attrs(&b, s, x);
	finish(&b, s->key, o);
	if (!proven && o->len > m->len)
		o->len = 0;
	return o->len ? 1 : 0;
}

/* The start pushed to side x, which registered first and waits. */
static void start(const struct session *s, int x, struct rdv_out *o)
{
	struct stun_builder b;
	uint8_t tid[STUN_TID_LEN] = {0};

	memcpy(tid, s->side[x].token, TOKEN_LEN);
	o->to = s->side[x].pub;
	o->tcp = s->side[x].tcp;
	stun_build_start(&b, o->buf, sizeof(o->buf),
			 stun_type(STUN_NATLAB_RENDEZVOUS, STUN_INDICATION), STUN_MAGIC_COOKIE,
			 tid);
	stun_build_addr(&b, STUN_ATTR_XOR_MAPPED_ADDRESS, (const struct sockaddr *)&o->to);
	peer_attrs(&b, s, x);
	finish(&b, s->key, o);
}

/* At the meeting: the relay, when both asked and there is room. */
static void grant_relay(const rdv_t *r, struct session *s, uint64_t now_ms)
{
	if (s->side[0].relay && s->side[1].relay && rdv_relays(r, now_ms) < r->l.max_relays) {
		s->relay = true;
		s->relay_from_ms = s->window_ms = now_ms;
	}
}

/*
 * Side x registers from `from`. A registration that echoes the cookie of
 * its source proves it, and is taken; one that does not is taken only
 * where nothing proven is held (the first of a side, or one whose NAT
 * moved it, until its next registration proves the new source).
 */
static void take_side(struct session *s, int x, const struct reg *reg, const struct sockaddr *from,
		      bool proven)
{
	if (!proven && s->side[x].used && s->side[x].proven)
		return;
	s->side[x] = reg->side;
	memset(&s->side[x].pub, 0, sizeof(s->side[x].pub));
	memcpy(&s->side[x].pub, from, addr_len(from));
	s->side[x].proven = proven;
}

size_t rdv_handle(rdv_t *r, const struct stun_msg *m, const struct sockaddr *from, bool tcp,
		  const uint8_t *secret, size_t secret_len, uint64_t now_ms, struct rdv_out out[2],
		  const char **counter)
{
	char key[REFL_SESSION_KEY_LEN + 1];
	const char *reason;
	struct reg reg;
	struct session *s;
	unsigned code = read_register(m, secret, secret_len, &reg, key, &reason), dropped = 0;
	uint8_t cookie[COOKIE_LEN];
	bool matched, proven;
	int x;

	*counter = code == 403 ? "rendezvous off" : code ? "rendezvous refused" : NULL;
	if (code)
		return error_out(m, from, code, reason, &out[0]);
	s = find(r, &reg);
	if (!s && !(s = take(r, &reg, key, now_ms))) {
		*counter = "rendezvous table full";
		return error_out(m, from, 508, "rendezvous table full", &out[0]);
	}
	x = slot(s, reg.side.token);
	if (x < 0) {
		*counter = "rendezvous session full";
		return error_out(m, from, 403, "session full: two probes are registered", &out[0]);
	}
	if (s->side[!x].used && s->side[!x].tcp != tcp) {
		*counter = "rendezvous refused";
		return error_out(m, from, 400,
				 "transport mismatch: the other probe registered over "
				 "another transport",
				 &out[0]);
	}
	rdv_cookie(secret, secret_len, from, reg.id, reg.trial, reg.side.token, cookie);
	proven = tcp || (reg.cookie && memeql_sec(reg.cookie, cookie, COOKIE_LEN));
	reg.side.tcp = tcp;
	keep_own_privates(&reg.side, from, &dropped);
	*counter = !proven             ? "rendezvous unproven"
		   : s->side[x].proven ? "rendezvous refreshed"
				       : "rendezvous registered";
	take_side(s, x, &reg, from, proven);
	s->last_ms = now_ms;
	/* They meet once both are there, each at a source it proved, and each
	 * has told its round trip, so that the start can even out the two
	 * one-way delays: a probe's first registration cannot know it yet, nor
	 * the cookie; its next one (after this answer) does. */
	matched = !s->met && s->side[0].proven && s->side[1].proven && s->side[0].rtt_us &&
		  s->side[1].rtt_us;
	s->met |= matched;
	if (matched)
		grant_relay(r, s, now_ms);
	if (dropped)
		*counter = "rendezvous private dropped";
	if (!answer(m, s, x, from, proven, cookie, &out[0]) && !proven)
		*counter = "rendezvous unanswered (no amplification)";
	if (!matched)
		return out[0].len ? 1 : 0;
	*counter = "rendezvous matched";
	start(s, !x, &out[1]);
	return out[0].len && out[1].len ? 2 : out[0].len ? 1 : 0;
}

/* ---- the relay ---- */

/* The granted relay whose probe sends from `from` over this transport, and
 * which side it is. */
static struct session *relay_of(rdv_t *r, const struct sockaddr *from, bool tcp, uint64_t now_ms,
				int *x)
{
	for (size_t i = 0; i < r->l.max_sessions; i++) {
		struct session *s = &r->s[i];

		if (!relaying(r, s, now_ms))
			continue;
		for (*x = 0; *x < 2; (*x)++)
			if (s->side[*x].tcp == tcp &&
			    addr_equal(from, (const struct sockaddr *)&s->side[*x].pub))
				return s;
	}
	return NULL;
}

/* Within the relay's bytes and rate? Counts the packet when it is. */
static bool within(const rdv_t *r, struct session *s, size_t len, uint64_t now_ms)
{
	if (now_ms - s->window_ms >= 1000) {
		s->window_ms = now_ms;
		s->window_packets = 0;
	}
	if (s->relayed_bytes + len > r->l.relay_bytes || s->window_packets >= r->l.relay_pps)
		return false;
	s->relayed_bytes += (uint32_t)len;
	s->window_packets++;
	return true;
}

size_t rdv_relay(rdv_t *r, const struct stun_msg *m, const uint8_t *msg, size_t len,
		 const struct sockaddr *from, bool tcp, uint64_t now_ms, struct rdv_out *out,
		 const char **counter)
{
	char id[REFL_SESSION_ID_MAX + 1];
	struct session *s;
	int x;

	*counter = "relay: not a relayed probe";
	if (m->cls != STUN_INDICATION || len > sizeof(out->buf) ||
	    !(s = relay_of(r, from, tcp, now_ms, &x)))
		return 0;
	*counter = "relay: does not verify";
	if (!session_id(m, id) || strcmp(id, s->id) ||
	    stun_check_integrity_sha256(m, (const uint8_t *)s->key, REFL_SESSION_KEY_LEN) !=
		STUN_OK)
		return 0;
	*counter = "relay: over its limits";
	if (!within(r, s, len, now_ms))
		return 0;
	*counter = "relayed";
	out->to = s->side[!x].pub;
	out->tcp = tcp;
	memcpy(out->buf, msg, len);
	out->len = len;
	return 1;
}
