/*
 * Inside `natprobe punch`: what its UDP driver (punchcmd.c) and its TCP
 * driver (punchtcpcmd.c) share. Not an interface for anything else.
 */
#ifndef NATLAB_PROBE_PUNCHINT_H
#define NATLAB_PROBE_PUNCHINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "probe/hopsweep.h"
#include "probe/pmclient.h"
#include "probe/predict.h"
#include "probe/punch.h"
#include "probe/result.h"
#include "probe/trials.h"
#include "stun.h"

#define EXIT_SOME      1
#define EXIT_USAGE     2
#define EXIT_NO_SERVER 3
#define MAX_TRIALS     100
#define MAX_TECHNIQUES 16
#define REGISTER_US    100000u /* between registrations */
#define GRACE_US       500000u /* answering the other side after this side is done */
#define ROUND_US       50000u
#define ROUNDS         20
#define TRIAL_US       3000000u
#define TCP_TRIAL_US   4000000u /* the SYN retransmitted at +1 s and +3 s gets its round trip */
#define TCP_GRACE_US   100000u  /* the stream is reliable: only the last message's flight */
/* Registrations in a row unanswered that say the reflector went away
 * (trials_setup_failure). */
#define SILENT_REGS 5

/* A technique: what to send to, and who waits. */
struct technique {
	const char *name;
	const char *help;
	enum predict_technique rule;
	bool private_first; /* the other probe's own endpoints before its public one */
	bool reversal;      /* one side passive (predict_reversal_passive) */
	bool relay;         /* through the reflector: asked at the rendezvous */
	bool predict_ports; /* the other's next ports too, when sequential (guess_window) */
	bool birthday;      /* many sockets against many guessed ports (guess.h) */
	bool tcp;           /* over TCP: punchtcp.h, the rendezvous over a connection */
	bool portmap;       /* a mapping asked of the gateway first (punchpm.c) */
};

/* This side's gateway, for the port-mapping technique (punchpm.c). */
struct punch_gateway {
	struct portmap_ctx ctx;
	portmap_client_t *pc; /* the protocol that answered; NULL none */
	enum portmap_proto proto;
	struct portmap_report found; /* what each protocol said when asked */
	int depth;                   /* this side's nat_depth; -1 unknown */
	bool cgn;                    /* its cgn verdict true */
	char depth_reason[DEPTH_REASON_LEN];
	struct sockaddr_storage mapped; /* this side's public address */
};

struct options {
	char session[PUNCH_MAX_SESSION + 1];
	char key[64];
	unsigned trials;
	const struct technique *tech[MAX_TECHNIQUES];
	size_t ntech;
	const char *json, *label, *server_given;
	int family;
	unsigned setup_timeout_s, open_ttl, stagger_ms;
	struct sockaddr_storage server;
	struct punch_gateway *gateway; /* with the port-mapping technique; NULL without */
};

/* What the rendezvous said of the other probe. */
struct meeting {
	bool met;
	struct sockaddr_storage self; /* this probe's public endpoint, as S saw it */
	struct sockaddr_storage pub, priv[PUNCH_MAX_PRIVATE];
	size_t npriv;
	uint8_t cls[4], token[PUNCH_TOKEN_LEN];
	bool have_tcp_cls; /* the other probe's TCP class came (NATLAB-TCP-CLASS) */
	uint8_t tcp_cls[PREDICT_TCP_WIRE_LEN];
	uint32_t wait_ms;
	bool relay; /* the reflector relays this trial */
	/* The reflector's NATLAB-COOKIE for this socket, echoed in the next
	 * registration: it proves this probe receives there (PROTOCOL.md). */
	bool have_cookie;
	uint8_t cookie[STUN_NATLAB_COOKIE_LEN];
	bool have_portmap; /* the other probe's gateway mapping came (NATLAB-PORTMAP) */
	uint8_t portmap[PREDICT_PORTMAP_WIRE_LEN];
	unsigned error; /* an error answer's code */
	char reason[TRIAL_REASON_LEN];
};

/* What a registration says besides the session: this trial's socket. */
struct registration {
	uint32_t trial;
	const uint8_t *token;
	const struct sockaddr *local;
	const uint8_t *cls;     /* 4 bytes */
	const uint8_t *tcp_cls; /* PREDICT_TCP_WIRE_LEN bytes; NULL: TCP not classified */
	bool relay;             /* ask for the relay */
	const uint8_t *portmap; /* PREDICT_PORTMAP_WIRE_LEN bytes; NULL: not this technique */
};

/* The registrations sent, to time their answers: an answer is matched to
 * its own request by transaction ID, since on a path slower than the
 * registrations' interval the answer to one comes after the next is sent. */
#define SENT_KEPT 8
struct sent_regs {
	uint8_t tid[SENT_KEPT][STUN_TID_LEN];
	uint64_t at[SENT_KEPT];
	unsigned n;
};

void punch_sent_note(struct sent_regs *s, const uint8_t *msg, uint64_t now);
/* The round trip of the registration tid answered (0: not one we keep). */
uint32_t punch_sent_rtt(const struct sent_regs *s, const uint8_t *tid, uint64_t now);

void punch_register_msg(const struct options *o, const struct registration *r, uint32_t rtt_us,
			const struct meeting *mt, uint8_t *buf, size_t cap, size_t *len);
/* A message from the reflector during setup (its source already checked):
 * an error (mt->error, mt->reason), or a signed answer or start read into
 * mt. 1 when it was a signed answer; tid is its transaction ID. */
int punch_setup_message(const struct options *o, const uint8_t *buf, size_t len, struct meeting *mt,
			uint8_t *tid);

/* Both probes behind one public address (one NAT, or one outer NAT). */
bool punch_one_address(const struct probe_result *me, const struct meeting *mt);
/* Which side waits in a reversal. */
bool punch_am_passive(const struct technique *t, const struct probe_result *me,
		      const struct meeting *mt, const uint8_t *token);
/* Step 4's configuration: where to send, and whether to wait. */
void punch_trial_config(const struct options *o, const struct technique *t,
			const struct meeting *mt, const uint8_t *token, bool passive, bool hairpin,
			struct punch_cfg *cfg);

/* This probe's classes as a registration carries them: UDP's four bytes
 * into cls, TCP's into tcp_cls; returns tcp_cls, or NULL when TCP was not
 * classified. */
const uint8_t *punch_class_wire(const struct probe_result *me, uint8_t cls[4],
				uint8_t tcp_cls[PREDICT_TCP_WIRE_LEN]);

/* A trial done (next: its deadline, UINT64_MAX), this side still answers
 * the other for GRACE_US: false once that is over, else *next is when to
 * look again. *quiet_until: 0 at the start. */
bool punch_grace(uint64_t now, uint64_t *next, uint64_t *quiet_until);

/* One TCP trial of technique t (punchtcpcmd.c), as one_trial for UDP: -1
 * when the reflector never answered. */
int punch_tcp_trial(const struct options *o, const struct technique *t, uint32_t number,
		    const struct probe_result *me, uint64_t setup_us, struct trial_row *row,
		    struct meeting *mt);

/* The port-mapping technique (punchpm.c): the gateway found once, a
 * mapping of each trial's port (the registration's NATLAB-PORTMAP in
 * wire), deleted after the trial. */
void punch_gateway_open(const struct options *o, const struct probe_result *me,
			const struct hops_auto *sweep, struct punch_gateway *g);
void punch_gateway_map(struct punch_gateway *g, uint16_t port, struct portmap_proto_result *r,
		       uint8_t wire[PREDICT_PORTMAP_WIRE_LEN]);
void punch_gateway_unmap(struct punch_gateway *g, struct portmap_proto_result *r);
void punch_gateway_close(struct punch_gateway *g);
/* Who waits and where to send (predictpm.c's rule on both sides' wires);
 * *none when neither side has a mapping to be reached at. */
void punch_portmap_config(const struct meeting *mt, const uint8_t *token,
			  const uint8_t mine_wire[PREDICT_PORTMAP_WIRE_LEN], struct punch_cfg *cfg,
			  bool *none);

#endif
