/*
 * A record's verdicts as natreport reads them: a fixed list of keys (the
 * words of INTERFACE.md), each value as text, and the evidence a device
 * report shows beside it. Pure: JSON in, a typed row out.
 */
#ifndef NATLAB_ANALYSIS_VERDICTS_H
#define NATLAB_ANALYSIS_VERDICTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define NR_VALUE_LEN 48
/* A label, a group, a pair's name: natlab's natemu pairs name both sides'
 * settings ("natemu:mapping=...,filtering=...+natemu:..."), well past 96
 * characters, and two pairs cut to one length would be counted as one. */
#define NR_LABEL_LEN 256
#define NR_TEXT_LEN  192
#define NR_SAMPLES   16
#define NR_PUNCH     16 /* natprobe punch's MAX_TECHNIQUES */
#define NR_CONNECT   64 /* connect times kept per technique, for figures */

/* The verdict keys, in report order. */
enum nr_key {
	NR_NAT,
	NR_MAPPING,
	NR_FILTERING,
	NR_HAIRPINNING,
	NR_HAIRPIN_SOURCE,
	NR_PORTS,
	NR_PARITY,
	NR_CONTIGUITY,
	NR_POOLING,
	NR_OVERLOADING,
	NR_LIFETIME,
	NR_INBOUND_REFRESH,
	NR_LEGACY,
	NR_TCP_MAPPING,
	NR_TCP_FILTERING,
	NR_TCP_SYN,
	NR_TCP_SYN_MAPPED,
	NR_TCP_SIMOPEN,
	NR_TCP_HAIRPINNING,
	NR_TCP_OVERLOADING,
	NR_TCP_ALG,
	NR_TCP_ICMP,
	NR_TCP_ICMP_KEPT,
	NR_TCP_SYN_HOLD,
	NR_NKEYS
};

struct nr_key_info {
	const char *path;  /* in the record, dotted */
	const char *title; /* for people */
};

extern const struct nr_key_info nr_keys[NR_NKEYS];

/* nat_depth in a survey's bins; "null" is natprobe's inconclusive, absent a
 * record from before the depth test, bad a value of the wrong type. Absent
 * is 0, so a row nothing filled in counts as not measured, never as 0. */
enum nr_depth {
	NR_DEPTH_ABSENT,
	NR_DEPTH_0,
	NR_DEPTH_1,
	NR_DEPTH_2,
	NR_DEPTH_3UP,
	NR_DEPTH_NULL,
	NR_DEPTH_BAD,
	NR_NDEPTH
};

/* A true/false/null verdict (cgn), absent (0, as above) or of the wrong type. */
enum nr_tri { NR_TRI_ABSENT, NR_TRI_TRUE, NR_TRI_FALSE, NR_TRI_NULL, NR_TRI_BAD, NR_NTRI };

/* The port-mapping protocols, by natprobe's names (nr_pm_names). */
enum nr_pm_proto { NR_PM_UPNP, NR_PM_NATPMP, NR_PM_PCP, NR_NPM };

extern const char *const nr_pm_names[NR_NPM];

/* What a record's "portmap" says: absent (natprobe before the portmap
 * test, or the test not run), bad (not what natprobe writes), or which
 * protocols answered and which worked (a mapping granted and reached from
 * outside), as bits 1 << enum nr_pm_proto. */
enum nr_pm_state { NR_PM_ABSENT, NR_PM_BAD, NR_PM_MEASURED, NR_NPM_STATES };

struct nr_portmap {
	unsigned char state; /* enum nr_pm_state */
	unsigned char answered, works;
	bool asked; /* "works" is a list, not null: mappings were asked for */
};

/* A traversal technique's results (punch[]). */
struct nr_punch {
	char technique[NR_VALUE_LEN];
	long trials, successes;
	long setup_failed;        /* trials that never started: outside the rate */
	char expected[16];        /* natprobe's prediction: works, fails, depends; "" none */
	char agrees[8];           /* true, false, null; "" absent */
	double median_connect_ms; /* < 0: none */
	unsigned nconnect;        /* connect times in the row's connect_ms[] */
	bool tcp;                 /* transport "tcp": its pair is the TCP classes' */
};

struct nr_row {
	char label[NR_LABEL_LEN];
	char group[NR_LABEL_LEN]; /* the value of the grouping key; "" none */
	char started[32];
	char where[NR_TEXT_LEN]; /* file:line */
	/* Each key's value: a verdict word, true/false, null, a number; "" absent. */
	char value[NR_NKEYS][NR_VALUE_LEN];
	char evidence[NR_NKEYS][NR_TEXT_LEN]; /* what backs it, or the reason */
	uint16_t samples[NR_SAMPLES];         /* mapped ports, in order */
	uint16_t locals[NR_SAMPLES];          /* the sockets' own ports, when the record has them */
	unsigned nsamples;
	bool have_locals;
	/* Binding lifetime: alive and dead bounds (s; < 0 unknown), by flow. */
	double alive_s[2], dead_s[2];
	/* tcp.unsolicited_syn_ms: when the answer came (< 0 not said); REQ-4
	 * reads it. Not a key: it differs run to run. */
	double syn_ms;
	double hold_ms; /* tcp.syn_hold_ms likewise: the hold test's answer */
	/* tcp.established_idle's and tcp.transitory_idle's brackets (s; < 0
	 * unknown): REQ-5 reads them. */
	double idle_alive_s, idle_dead_s;
	double transitory_alive_s, transitory_dead_s;
	struct nr_punch punch[NR_PUNCH];
	unsigned npunch;
	unsigned punch_over; /* punch entries past NR_PUNCH: not read, counted */
	/* The other probe's mapping and filtering (punch_peer), and for TCP
	 * (punch_peer.tcp); "" unknown. */
	char peer[2][NR_VALUE_LEN];
	char peer_tcp[2][NR_VALUE_LEN];
	/* The depth and portmap tests' verdicts (nat_depth, cgn, portmap). */
	unsigned char depth; /* enum nr_depth */
	unsigned char cgn;   /* enum nr_tri */
	struct nr_portmap portmap;
	/* Each successful trial's connect time (punch[].connect_ms), the first
	 * NR_CONNECT of each technique; read only with the evidence (devices
	 * shown one by one). Last, and not cleared: a survey's million rows
	 * need not pay for it. Valid up to punch[i].nconnect. */
	float connect_ms[NR_PUNCH][NR_CONNECT];
};

/* The value at a dotted path ("udp.port_allocation.pattern"), or NULL. */
json_t *nr_get(const json_t *rec, const char *path);

/* A JSON value as report text: strings as they are, true/false/null,
 * numbers in short form; "" for NULL (absent). */
void nr_value_text(const json_t *v, char *out, size_t len);

/* Fill row from rec; group_path: the grouping key's path, or NULL. The
 * evidence texts and connect times only when asked (a survey of many
 * records needs neither). */
void nr_row_from(struct nr_row *row, const json_t *rec, const char *group_path, const char *file,
		 unsigned long line, bool with_evidence);

/* A depth bin and a true/false/null reading as words ("0", "3+", "null",
 * "malformed"; "" when absent): the diff's and ClickHouse's. */
const char *nr_depth_word(unsigned d);
const char *nr_tri_word(unsigned t);

/* The readings of nat_depth, cgn and portmap (each NULL when absent). */
enum nr_depth nr_depth_of(const json_t *v);
enum nr_tri nr_tri_of(const json_t *v);
struct nr_portmap nr_portmap_of(const json_t *pm);

/* Binding lifetime in bands for surveys (REQ-5's two minutes a border). */
const char *nr_lifetime_band(const char *value);

#endif
