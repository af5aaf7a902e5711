/*
 * RFC 4787 (UDP) and RFC 5382 (TCP) requirement by requirement: pass, fail
 * or untested, from a row's verdicts. A requirement no natprobe test
 * measures is untested, and says so; so is one whose verdict is null or
 * inconclusive. The requirement texts are short paraphrases: the RFCs are
 * the reference.
 */
#ifndef NATLAB_ANALYSIS_COMPLIANCE_H
#define NATLAB_ANALYSIS_COMPLIANCE_H

#include <stddef.h>

#include "analysis/verdicts.h"

enum nr_mark { NR_UNTESTED = 0, NR_PASS, NR_FAIL, NR_NMARKS };

struct nr_requirement {
	const char *rfc;   /* "4787" */
	const char *id;    /* "REQ-1" */
	const char *level; /* MUST, SHOULD, RECOMMENDED */
	const char *text;
	enum nr_key key;  /* the verdict it rests on; NR_NKEYS: none */
	const char *pass; /* the values of key that pass, |-separated */
	/* Or a judge of its own, for what one key's value does not settle. */
	enum nr_mark (*judge)(const struct nr_row *row, char *why, size_t len);
};

extern const struct nr_requirement nr_requirements[];
extern const size_t nr_nrequirements;

const char *nr_mark_name(enum nr_mark m);

/* The mark of requirement i for row, with the why ("" for none; why NULL:
 * only the mark). */
enum nr_mark nr_judge(size_t i, const struct nr_row *row, char *why, size_t len);

#endif
