/*
 * natprobe's engine: the tests' shared machinery, without sockets or clocks.
 * The driver (natprobe.c, or the simulated network of the unit tests) feeds
 * it received datagrams and the time; the engine answers with datagrams to
 * send, through the driver's callbacks, and in the end with verdicts.
 *
 * What it does for every test (the careful parts, once):
 * - one transaction per question, retransmitted with an RTO adapted to the
 *   measured round-trip time (RFC 8489 section 6.2.1, RFC 6298), bounded;
 * - an answer counts only if it is a Binding success with our transaction ID
 *   that came from the endpoint the question names (the role the request
 *   went to, changed as CHANGE-REQUEST asked) and says so in RESPONSE-ORIGIN
 *   when present;
 * - a question whose answer is expected *not* to come (filtering) is asked
 *   as many times as the measured loss requires before "no answer" counts
 *   as evidence; when loss is too high for that, the test says inconclusive.
 *
 * The reflector's four endpoints are roles, as in natreflector: bit 1 the
 * alternate address, bit 0 the alternate port. The primary is given; the
 * alternate is learned from OTHER-ADDRESS (RFC 5780) in a first exchange.
 */
#ifndef NATLAB_PROBE_ENGINE_H
#define NATLAB_PROBE_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "probe/result.h"

#define PROBE_PP 0
#define PROBE_PA 1
#define PROBE_AP 2
#define PROBE_AA 3

#define PROBE_MAX_SOCKETS 128
#define PROBE_MAX_TXNS    256
#define PROBE_MAX_CONNS   96 /* TCP connections and listeners at once */

/* What became of a TCP connection or listener (the driver reports it). */
enum probe_tcp_event {
	PROBE_TCP_CONNECTED,   /* the handshake completed */
	PROBE_TCP_REFUSED,     /* a RST answered the SYN */
	PROBE_TCP_UNREACHABLE, /* an ICMP error answered it */
	PROBE_TCP_TIMEDOUT,    /* nothing answered it in time */
	PROBE_TCP_ACCEPTED,    /* a listener took a connection: its handle and peer */
	PROBE_TCP_CLOSED,      /* the far end closed or reset a connection */
};

/* What the engine needs from its driver. */
struct probe_io {
	void *ctx;
	/*
	 * The run's identity, in every transaction ID and every order's token:
	 * the driver gives a random one (0: one from the clock, for the
	 * simulated tests). The reflector names its answer to a SYN order by
	 * the token (the SYN's sequence number), so two probes at one reflector
	 * must never share one: with tokens from their transaction slots alone,
	 * one probe's NAT's RST was taken for the other's host answering (a
	 * wrong TCP filtering verdict, seen with two probes classifying at once).
	 */
	uint32_t run_id;
	/*
	 * Open a fresh UDP socket on a new local port. Returns its handle
	 * (>= 0) and, in local, its address as packets to `toward` will carry
	 * it (IP and port), or -1.
	 */
	int (*open)(void *ctx, const struct sockaddr *toward, struct sockaddr_storage *local);
	/*
	 * Send msg from socket sock. 0 when it left or was lost on the way (a
	 * full buffer is loss, which retransmission covers); -1 when the host
	 * refused to send it at all from that socket's address (no route from
	 * it to `to`): then the socket cannot keep its one internal endpoint
	 * toward `to`, and its test says so instead of reading silence.
	 */
	int (*send)(void *ctx, int sock, const struct sockaddr *to, const uint8_t *msg, size_t len);
	/*
	 * Optional: send as `send` does, with IP TTL (IPv6: hop limit) ttl for
	 * this datagram only. NULL: the keepalive test says it cannot.
	 */
	int (*send_ttl)(void *ctx, int sock, const struct sockaddr *to, const uint8_t *msg,
			size_t len, unsigned ttl);
	/*
	 * A socket on the second host behind the same NAT (--peer), on port
	 * (0: any). NULL when there is no second host. Its handle, sent to and
	 * received on like any other, or -1.
	 */
	int (*open_peer)(void *ctx, const struct sockaddr *toward, uint16_t port,
			 struct sockaddr_storage *local);
	/*
	 * Optional: two fresh sockets on adjacent local ports, the first even
	 * (how RTP and RTCP are bound). Their handles and local addresses, or
	 * -1 when no such pair could be bound. NULL: contiguity goes untested.
	 */
	int (*open_pair)(void *ctx, const struct sockaddr *toward, int handles[2],
			 struct sockaddr_storage local[2]);
	/*
	 * Whether this host takes a packet whose source is its own address (Linux:
	 * accept_local, no strict rp_filter). A NAT that hairpins with the inside
	 * source sends one socket's packet to another exactly so; if the host
	 * drops those, hairpinning cannot be ruled out from here.
	 */
	bool own_source_visible;
	/*
	 * Why the second host that was asked for (--peer) is missing: it did not
	 * answer. NULL when none was asked for, or it is there (open_peer).
	 * The verdicts that needed it are then inconclusive with this reason,
	 * not untested: the user asked for them.
	 */
	const char *peer_missing;
	/*
	 * TCP (optional: NULL where the driver has none; TCP tests then say so).
	 * Every socket has SO_REUSEADDR and SO_REUSEPORT, so a listener and
	 * several connections share one local port, and is bound to this host's
	 * address toward `toward` (the primary endpoint, whatever `to` is: one
	 * internal endpoint for every destination). port 0: a fresh one. Nonblocking: the outcome
	 * comes later through probe_engine_tcp_event. Handles are distinct from
	 * the UDP sockets'. -1 when the host refuses (the port is taken).
	 */
	int (*tcp_listen)(void *ctx, const struct sockaddr *toward, uint16_t port,
			  struct sockaddr_storage *local);
	int (*tcp_connect)(void *ctx, const struct sockaddr *toward, const struct sockaddr *to,
			   uint16_t port, struct sockaddr_storage *local);
	/* Write a whole message on a connected handle; -1 when the connection is gone. */
	int (*tcp_send)(void *ctx, int conn, const uint8_t *msg, size_t len);
	void (*tcp_close)(void *ctx, int conn);
	/*
	 * Optional, with --peer: TCP on the second host, as tcp_listen and
	 * tcp_connect (handles from the peer's range; tcp_send and tcp_close
	 * take them too, tcp_shutdown need not). NULL without a second host.
	 */
	int (*peer_tcp_listen)(void *ctx, const struct sockaddr *toward, uint16_t port,
			       struct sockaddr_storage *local);
	int (*peer_tcp_connect)(void *ctx, const struct sockaddr *toward, const struct sockaddr *to,
				uint16_t port, struct sockaddr_storage *local);
	/* Optional: end our sending side (FIN), still reading; -1 when it cannot. */
	int (*tcp_shutdown)(void *ctx, int conn);
	/*
	 * A natlab test session at the reflector (PROTOCOL.md: NatlabTest),
	 * for the tests that order crafted SYNs: its ID and key, or NULL.
	 */
	const char *session, *key;
	/* Optional: a line of progress for people, on long tests. */
	void (*progress)(void *ctx, const char *text);
	/* The settings tests read: the lifetime test's bound (--lifetime=MAX_S). */
	unsigned lifetime_max_s;
	unsigned tcp_lifetime_max_s; /* the TCP one's (--tcp-lifetime=MAX_S) */
	unsigned keepalive_hold_s;   /* the keepalive test's hold (--keepalive=HOLD_S) */
	/*
	 * Measured by the driver before the engine starts, for the depth and
	 * portmap tests (NULL: not measured): the TTL sweep toward the
	 * reflector, and the gateway's port-mapping protocols.
	 */
	const struct hops_sweep *sweep;
	const struct portmap_report *portmap;
};

/* One answer, checked, as a test sees it. */
struct probe_answer {
	int sock;
	unsigned dest;                  /* the role the request went to */
	uint32_t change;                /* the CHANGE-REQUEST flags asked for */
	struct sockaddr_storage mapped; /* XOR-MAPPED-ADDRESS (or MAPPED-ADDRESS) */
	struct sockaddr_storage plain;  /* MAPPED-ADDRESS beside the XOR one (family 0: none) */
	struct sockaddr_storage from;   /* where the answer came from */
	uint64_t rtt_us;                /* from the last transmission */
	unsigned sends;                 /* how many transmissions it took */
};

/* What the reflector saw come back after a SYN it sent on our order. */
enum probe_seen {
	PROBE_SEEN_NOTHING = 0,
	PROBE_SEEN_SYN_ACK = 1,
	PROBE_SEEN_RST = 2,
	PROBE_SEEN_ICMP = 3,
	PROBE_SEEN_CONNECTED = 4, /* simultaneous open: the reflector's connect() completed */
};

/* What an order asks of the reflector (PROTOCOL.md, NATLAB-ACTION). */
enum probe_order {
	PROBE_ORDER_SYN = 2,            /* a SYN toward us; what came back */
	PROBE_ORDER_SIMOPEN_ARM = 3,    /* a silent port X on the role's address, said at once */
	PROBE_ORDER_SIMOPEN_RESULT = 4, /* how its connect() from X to the SYN it saw went */
	PROBE_ORDER_ICMP_ARM = 5,       /* a silent port X whose first SYN draws host unreachable */
	PROBE_ORDER_ICMP_CONN = 6,      /* ICMP errors about this connection, to its mapping */
	PROBE_ORDER_SYN_HOLD = 7, /* the reflector's connect() to our mapping, X said at once */
	PROBE_ORDER_KEEP = 8,     /* this connection may idle for hours at the reflector */
	PROBE_ORDER_PUSH = 9,     /* the answer down another (kept) connection: probe_tcp_push */
};

/* The answer to an order (probe_tcp_order), checked and authenticated. */
struct probe_observation {
	enum probe_seen outcome;
	uint8_t icmp_type, icmp_code;
	uint8_t ttl;                  /* the IP TTL what was seen arrived with (0: nothing seen) */
	uint8_t peer_ttl;             /* the TTL of our connection's SYN at the reflector (0: not
					 known): what our own host sends arrives with it */
	uint32_t us;                  /* from the SYN to what was seen */
	struct sockaddr_storage from; /* who sent it (for ICMP, the router); family 0: nothing */
	struct sockaddr_storage sent_from; /* the endpoint the SYN left from (ARM: X) */
	struct sockaddr_storage seen_syn;  /* RESULT: whose SYN X saw; family 0: none */
	struct sockaddr_storage target;    /* whom the order aimed at: our mapping (or its port) */
	int conn;                          /* the connection the answer came on */
};

typedef struct probe_engine probe_engine_t;
struct probe_run; /* one test's place in the engine */

/* A test: a module with callbacks, listed in the registry (tests.c). */
struct probe_test {
	const char *name;
	const char *help;
	size_t state_size; /* zeroed for the test at start */
	bool opt_in;       /* not in the default battery (--lifetime, --tests) */
	/* Of the path and the gateway, not of the NAT's UDP or TCP behaviour
	 * (depth, portmap): the group "gateway", not "udp". */
	bool gateway;
	/* Ask the first questions. */
	void (*start)(struct probe_run *r, void *state);
	/* An answer to the question with this tag. */
	void (*on_answer)(struct probe_run *r, void *state, int tag, const struct probe_answer *a);
	/* No answer to the question with this tag, after `sends` transmissions. */
	void (*on_silence)(struct probe_run *r, void *state, int tag, unsigned sends);
	/* A timer set with probe_timer is due. */
	void (*on_timer)(struct probe_run *r, void *state, int tag);
	/* Write the verdicts; called once every question is settled. */
	void (*finish)(struct probe_run *r, void *state, struct probe_result *res);
	/* A TCP test: started once the UDP tests have settled, so that the two
	 * never draw ports from a sequential NAT in turn. */
	bool tcp;
	/* What became of a connection or listener this test opened with this
	 * tag. ACCEPTED: the new connection's handle and its peer. */
	void (*on_tcp)(struct probe_run *r, void *state, int tag, int conn, enum probe_tcp_event ev,
		       int accepted, const struct sockaddr *peer);
	/* The reflector's answer to an order given with this tag. */
	void (*on_observed)(struct probe_run *r, void *state, int tag,
			    const struct probe_observation *o);
};

/* For the tests: sockets, questions, the reflector. */
int probe_socket(struct probe_run *r, struct sockaddr_storage *local);
/* A fresh socket on the second host (port 0: any); -1 when there is none or
 * it cannot open one. No note: a test that can do without it goes on. */
int probe_peer_socket(struct probe_run *r, uint16_t port, struct sockaddr_storage *local);
bool probe_have_peer(const struct probe_run *r);
/* The reason the second host asked for is missing (see probe_io), or NULL. */
const char *probe_peer_missing(const struct probe_run *r);
/* Whether the second host does TCP (probe_peer_tcp_*). */
bool probe_have_peer_tcp(const struct probe_run *r);
/* Two fresh sockets on local ports N and N+1, N even (see probe_io.open_pair).
 * 0, or -1 when the driver cannot bind such a pair. */
int probe_socket_pair(struct probe_run *r, int socks[2], struct sockaddr_storage local[2]);
bool probe_can_pair(const struct probe_run *r);
/*
 * Ask from socket sock, to the role dest, with CHANGE-REQUEST flags change
 * (0 for none). expect_silence: the answer may rightly never come, so "no
 * answer" must be made trustworthy by repetition (see above).
 * Returns -1 when the engine is out of transactions or the alternate
 * address is not known.
 */
int probe_ask(struct probe_run *r, int tag, int sock, unsigned dest, uint32_t change,
	      bool expect_silence);
/*
 * Hairpinning (RFC 4787 section 6): send a Binding request from sock to
 * `to`, one of our own sockets' mapped addresses. It "answers" when it
 * arrives on another of our sockets; the answer's `from` is the source the
 * NAT gave it. Always asked as a question whose answer may never come.
 */
int probe_hairpin(struct probe_run *r, int tag, int sock, const struct sockaddr *to);
/*
 * RFC 5780 RESPONSE-PORT: ask from sock, to the role dest, for the answer to
 * go to port response_port of sock's public address; it counts only when it
 * arrives on answer_sock (the socket whose mapping holds that port).
 */
int probe_ask_via(struct probe_run *r, int tag, int sock, unsigned dest, uint16_t response_port,
		  int answer_sock, bool expect_silence);
/*
 * A keepalive from sock to the role dest: a Binding indication (RFC 8489
 * section 3.5: no answer comes), with IP TTL ttl (0: the socket's own).
 * 0 sent (or lost), -1 when it cannot be sent at that TTL.
 */
int probe_keepalive(struct probe_run *r, int sock, unsigned dest, unsigned ttl);
/*
 * TCP. A connection from local port `port` (0: fresh) to the role dest; its
 * handshake's outcome comes to on_tcp(tag) (TIMEDOUT after about 3 s, which
 * covers one lost SYN). A listener on port (0: fresh); connections it
 * takes come to on_tcp(tag) as ACCEPTED. Both return the handle, or -1
 * (no TCP in this driver, out of handles, or the host refused: probe_note
 * says which). A pending connection keeps the run going.
 */
int probe_tcp_connect(struct probe_run *r, int tag, uint16_t port, unsigned dest,
		      struct sockaddr_storage *local);
int probe_tcp_listen(struct probe_run *r, int tag, uint16_t port, struct sockaddr_storage *local);
/* A Binding request over a connected handle: on_answer, or on_silence after
 * 2 s (TCP retransmits; the engine does not). */
int probe_tcp_ask(struct probe_run *r, int tag, int conn);
void probe_tcp_close(struct probe_run *r, int conn);
bool probe_have_tcp(const struct probe_run *r);
/*
 * An order over connection conn (PROTOCOL.md, NatlabTest action SYN): the
 * reflector's role `role` sends a SYN to the connection's public endpoint,
 * or to port target_port of its address (0: the endpoint's own), and
 * reports what came back within wait_ms. The report comes to
 * on_observed(tag); on_silence(tag) when none came (the connection died,
 * or the reflector refused the order: probe_note says why). -1 without a
 * session (probe_have_session), or out of transactions.
 */
int probe_tcp_order(struct probe_run *r, int tag, int conn, unsigned role, uint16_t target_port,
		    unsigned wait_ms);
/* Any order; token: 8 bytes shared by an ARM and its RESULT (NULL: fresh). */
int probe_tcp_order_action(struct probe_run *r, int tag, int conn, enum probe_order action,
			   unsigned role, uint16_t target_port, unsigned wait_ms,
			   const uint8_t *token);
/* The same for ICMP orders: each error sent `copies` times (1 to 20). */
int probe_tcp_order_copies(struct probe_run *r, int tag, int conn, enum probe_order action,
			   unsigned role, uint16_t target_port, unsigned copies, unsigned wait_ms,
			   const uint8_t *token);
/*
 * PUSH over connection `ctrl`: the reflector answers down our kept
 * connection `kept` (its mapping's port: kept_port) if it still has it, else
 * down ctrl. on_observed(tag) with o->conn saying which; on_silence when no
 * answer came on either (a push the NAT dropped: the reflector's TCP resends
 * it for as long as we wait).
 */
int probe_tcp_push(struct probe_run *r, int tag, int ctrl, int kept, uint16_t kept_port);
/* The same on the second host (--peer): -1, without a note, when there is
 * none or it cannot. */
int probe_peer_tcp_listen(struct probe_run *r, int tag, uint16_t port,
			  struct sockaddr_storage *local);
int probe_peer_tcp_connect(struct probe_run *r, int tag, uint16_t port, unsigned dest,
			   struct sockaddr_storage *local);
int probe_peer_tcp_connect_to(struct probe_run *r, int tag, uint16_t port,
			      const struct sockaddr *to, struct sockaddr_storage *local);
/* Half-close: our FIN on conn, which still receives. -1 when it cannot. */
int probe_tcp_shutdown(struct probe_run *r, int conn);
/* Whether conn is still open (not closed, reset or timed out). */
bool probe_tcp_is_open(const struct probe_run *r, int conn);
bool probe_have_session(const struct probe_run *r);
/* The reason a test that needs one gives without it (its verdict: untested). */
#define PROBE_NEEDS_SESSION "needs a natlab test session at the reflector (--session, --key)"
/* A connection from local port `port` (0: fresh) to an address that is no
 * role (a port the reflector opened for a test), as probe_tcp_connect. */
int probe_tcp_connect_to(struct probe_run *r, int tag, uint16_t port, const struct sockaddr *to,
			 struct sockaddr_storage *local);
/* How long an order should watch for an answer: three retransmission timeouts, at
 * least 50 ms (the reflector's least NATLAB-WAIT). */
unsigned probe_order_wait_ms(const struct probe_run *r);
/* How many times a question whose answer may rightly never come must be
 * asked before its silence counts (at the loss measured so far). */
unsigned probe_silence_needed(const struct probe_run *r);
/* How many independent tries, each needing `round_trips` round trips'
 * worth of packets to get through, must all fail before their failure
 * counts (at the loss measured so far; UINT_MAX when nothing got through). */
unsigned probe_tries_needed(const struct probe_run *r, unsigned round_trips);

/* on_timer(tag) after delay_us; a pending timer keeps the run going. */
int probe_timer(struct probe_run *r, int tag, uint64_t delay_us);
/* Forget every unsettled question and timer of this test with this tag. */
void probe_cancel(struct probe_run *r, int tag);
uint64_t probe_now_us(const struct probe_run *r);
/* Four bytes for an order's token that no other run's share (the run's
 * identity, struct probe_io, mixed with the time): ARM and SYN-hold
 * orders are kept at the reflector by token and session, and two probes of
 * one punch session classify at once. */
uint32_t probe_token_nonce(const struct probe_run *r);
unsigned probe_lifetime_max_s(const struct probe_run *r);
unsigned probe_tcp_lifetime_max_s(const struct probe_run *r);
unsigned probe_keepalive_hold_s(const struct probe_run *r);
const struct hops_sweep *probe_sweep(const struct probe_run *r);
const struct portmap_report *probe_portmap(const struct probe_run *r);
void probe_progress(struct probe_run *r, const char *text);
bool probe_own_source_visible(const struct probe_run *r);
/* The address of a role. */
const struct sockaddr *probe_role_addr(const struct probe_run *r, unsigned role);
/* Record why the test could not decide; shown beside "inconclusive". The
 * first note stays; probe_run_note gives it back (NULL for none). */
void probe_note(struct probe_run *r, const char *reason);
const char *probe_run_note(const struct probe_run *r);
/* Whether silence was trustworthy: the loss measured so far allowed enough
 * repetitions. When false, a test must not read "no answer" as a verdict. */
bool probe_silence_trusted(const struct probe_run *r);

/* For the driver. */
probe_engine_t *probe_engine_new(const struct probe_io *io, const struct sockaddr *primary,
				 const struct probe_test *const *tests, size_t ntests,
				 uint64_t now_us);
void probe_engine_free(probe_engine_t *e);
/* A datagram arrived on socket sock from `from`. */
void probe_engine_receive(probe_engine_t *e, int sock, const struct sockaddr *from,
			  const uint8_t *msg, size_t len, uint64_t now_us);
/* A TCP connection or listener's news (see enum probe_tcp_event). peer:
 * ACCEPTED's remote; NULL otherwise. */
void probe_engine_tcp_event(probe_engine_t *e, int conn, enum probe_tcp_event ev, int accepted,
			    const struct sockaddr *peer, uint64_t now_us);
/* Whether handle is a TCP connection or listener the engine knows. */
bool probe_engine_is_conn(probe_engine_t *e, int handle);
/* A whole STUN message read from a TCP connection (the driver frames them). */
void probe_engine_tcp_receive(probe_engine_t *e, int conn, const uint8_t *msg, size_t len,
			      uint64_t now_us);
/* Time passes: retransmissions and silences. */
void probe_engine_tick(probe_engine_t *e, uint64_t now_us);
/* When tick must next be called; UINT64_MAX when nothing waits. */
uint64_t probe_engine_deadline(const probe_engine_t *e);
bool probe_engine_done(const probe_engine_t *e);
/* The verdicts; call when done (or to stop early: unsettled tests say why). */
void probe_engine_result(probe_engine_t *e, struct probe_result *res);

#endif
