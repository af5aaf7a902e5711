/*
 * natreflector's request handler. See handler.h.
 *
 * RFC 5780 section 6.1, the Binding response of the behaviour-discovery
 * usage: MAPPED-ADDRESS and XOR-MAPPED-ADDRESS; RESPONSE-ORIGIN, the address
 * it is sent from; OTHER-ADDRESS, the role differing in both address and
 * port from the one the request reached; sent from the role the request's
 * CHANGE-REQUEST flags select, to RESPONSE-PORT on the source address when
 * given. RFC 3489 requests (no magic cookie) get RFC 3489 answers:
 * MAPPED-ADDRESS, SOURCE-ADDRESS and CHANGED-ADDRESS.
 *
 * Where the RFCs leave room, safety wins (RFC 5780 section 9, RFC 5128
 * section 6): PADDING pads a reply only up to the request's own length,
 * RESPONSE-PORT answers go only to the requester's address, RFC 3489's
 * RESPONSE-ADDRESS (answer a third party) is refused.
 */
#include "handler.h"

#include <string.h>

#include <netinet/in.h>

#include "addr.h"
#include "stun.h"

static bool fingerprinted(const struct stun_msg *m)
{
	return stun_find(m, STUN_ATTR_FINGERPRINT) != NULL;
}

static void finish(const struct refl_cfg *cfg, const struct stun_msg *req, bool authenticated,
		   struct stun_builder *b, struct refl_reply *out)
{
	/* RFC 8489 14.5: MESSAGE-INTEGRITY, then FINGERPRINT, last. */
	if (authenticated)
		stun_build_integrity(b, cfg->key, cfg->key_len);
	if (fingerprinted(req))
		stun_build_fingerprint(b);
	if (stun_build_end(b, &out->len) != STUN_OK) {
		out->len = 0;
		out->drop = "reply does not fit";
	}
}

/* An error answer, from the socket the request reached to its source. */
static void error_reply(const struct refl_cfg *cfg, const struct stun_msg *m, unsigned code,
			const char *reason, uint8_t *buf, size_t cap, struct refl_reply *out)
{
	struct stun_builder b;

	out->error = code;
	stun_build_response(&b, buf, cap, m, STUN_ERROR);
	stun_build_error(&b, code, reason);
	if (code == 420)
		stun_build_unknown(&b, m->unknown, m->nunknown);
	if (cfg->software)
		stun_build_string(&b, STUN_ATTR_SOFTWARE, cfg->software);
	finish(cfg, m, false, &b, out);
}

/* Checks that end in an error answer: its code and reason, or 0. */
static unsigned refuse(const struct refl_cfg *cfg, const struct refl_request *req,
		       const struct stun_msg *m, enum stun_err parsed, const char **reason)
{
	bool padding = stun_find(m, STUN_ATTR_PADDING) != NULL;
	bool response_port = stun_find(m, STUN_ATTR_RESPONSE_PORT) != NULL;
	uint32_t change = 0;
	uint16_t port = 1;

	stun_get_u32(m, STUN_ATTR_CHANGE_REQUEST, &change);
	stun_get_response_port(m, &port);
	if (parsed == STUN_ERR_UNKNOWN_REQUIRED)
		*reason = "Unknown Attribute";
	else if (m->method != STUN_BINDING)
		*reason = "Only Binding is served here";
	else if (cfg->key && !stun_find(m, STUN_ATTR_MESSAGE_INTEGRITY))
		*reason = "MESSAGE-INTEGRITY required";
	else if (cfg->key && stun_check_integrity(m, cfg->key, cfg->key_len) != STUN_OK) {
		*reason = "Unauthorized";
		return 401;
	} else if (stun_find(m, STUN_ATTR_RESPONSE_ADDRESS))
		*reason = "RESPONSE-ADDRESS is not served (no third-party answers)";
	else if (padding && response_port) /* RFC 5780 6.1: an amplifier; refused */
		*reason = "PADDING with RESPONSE-PORT";
	else if (response_port && port == 0)
		*reason = "RESPONSE-PORT 0";
	else if (req->tcp &&
		 ((change & (STUN_CHANGE_IP | STUN_CHANGE_PORT)) || response_port || padding))
		*reason = "CHANGE-REQUEST, RESPONSE-PORT and PADDING need UDP";
	else
		return 0;
	return parsed == STUN_ERR_UNKNOWN_REQUIRED ? 420 : 400;
}

static enum refl_role send_role(const struct refl_request *req, const struct stun_msg *m)
{
	uint32_t change = 0;
	unsigned role = req->role;

	if (stun_get_u32(m, STUN_ATTR_CHANGE_REQUEST, &change) == STUN_OK) {
		if (change & STUN_CHANGE_IP)
			role ^= REFL_ROLE_CHANGE_IP;
		if (change & STUN_CHANGE_PORT)
			role ^= REFL_ROLE_CHANGE_PORT;
	}
	return (enum refl_role)role;
}

/* RFC 5780 6.1: PADDING in the reply, here only as long as keeps the reply
 * no longer than the request. `tail` is what MI and FINGERPRINT will add. */
static void add_padding(struct stun_builder *b, size_t request_len, size_t tail)
{
	static const uint8_t zeros[1500];
	size_t used = b->len + 4 + tail, pad = 0;

	if (request_len > used)
		pad = (request_len - used) & ~(size_t)3;
	if (pad > sizeof(zeros))
		pad = sizeof(zeros);
	stun_build_attr(b, STUN_ATTR_PADDING, zeros, pad);
}

static void success_reply(const struct refl_cfg *cfg, const struct refl_request *req,
			  const struct stun_msg *m, uint8_t *buf, size_t cap,
			  struct refl_reply *out)
{
	struct stun_builder b;
	enum refl_role role = send_role(req, m);
	const struct sockaddr *origin = (const struct sockaddr *)&cfg->advertised[role];
	const struct sockaddr *other = (const struct sockaddr *)&cfg->advertised[req->role ^ 3];
	size_t tail = (cfg->key ? 24 : 0) + (fingerprinted(m) ? 8 : 0);
	uint16_t port;

	out->role = role;
	if (stun_get_response_port(m, &port) == STUN_OK)
		addr_set_port((struct sockaddr *)&out->to, port);
	stun_build_response(&b, buf, cap, m, STUN_SUCCESS);
	stun_build_addr(&b, STUN_ATTR_MAPPED_ADDRESS, req->from);
	if (m->legacy) {
		stun_build_addr(&b, STUN_ATTR_SOURCE_ADDRESS, origin);
		stun_build_addr(&b, STUN_ATTR_CHANGED_ADDRESS, other);
	} else {
		stun_build_addr(&b, STUN_ATTR_XOR_MAPPED_ADDRESS, req->from);
		stun_build_addr(&b, STUN_ATTR_RESPONSE_ORIGIN, origin);
		stun_build_addr(&b, STUN_ATTR_OTHER_ADDRESS, other);
	}
	if (cfg->software)
		stun_build_string(&b, STUN_ATTR_SOFTWARE, cfg->software);
	if (stun_find(m, STUN_ATTR_PADDING))
		add_padding(&b, req->len, tail);
	finish(cfg, m, cfg->key != NULL, &b, out);
}

void refl_handle(const struct refl_cfg *cfg, const struct refl_request *req, uint8_t *buf,
		 size_t cap, struct refl_reply *out)
{
	struct stun_msg m;
	enum stun_err err = stun_parse(&m, req->msg, req->len, STUN_PARSE_LEGACY);
	const char *reason = NULL;
	unsigned code;

	*out = (struct refl_reply){.role = req->role};
	memcpy(&out->to, req->from, addr_len(req->from));
	if (err != STUN_OK && err != STUN_ERR_UNKNOWN_REQUIRED) {
		out->drop = stun_err_name(err);
		return;
	}
	/* RFC 8489 6.3: only requests are answered; a bad FINGERPRINT means not STUN. */
	if (m.cls != STUN_REQUEST) {
		out->drop = m.cls == STUN_INDICATION && m.method == STUN_BINDING
				? "binding indication (keepalive)"
				: "not a request";
		return;
	}
	if (stun_check_fingerprint(&m) == STUN_ERR_FINGERPRINT_MISMATCH) {
		out->drop = "fingerprint-mismatch";
		return;
	}
	if (m.method == STUN_NATLAB_TEST && err == STUN_OK) {
		code = refl_test_accept(&m, req->from, cfg->session_secret, cfg->session_secret_len,
					&out->order, &reason);
		if (code)
			error_reply(cfg, &m, code, reason, buf, cap, out);
		else
			out->test = true;
		return;
	}
	code = refuse(cfg, req, &m, err, &reason);
	if (code)
		error_reply(cfg, &m, code, reason, buf, cap, out);
	else
		success_reply(cfg, req, &m, buf, cap, out);
}
