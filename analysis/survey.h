/*
 * Survey aggregation: across any number of records, how many gave each
 * verdict, overall and by a grouping key, how many passed, failed or
 * left untested each requirement, NAT depth, CGN and the port-mapping
 * protocols that answered and worked, and the traversal trials by pair.
 * Constant memory: a bounded number of groups and of distinct values per
 * key; the rest are counted as "other".
 */
#ifndef NATLAB_ANALYSIS_SURVEY_H
#define NATLAB_ANALYSIS_SURVEY_H

#include "analysis/compliance.h"
#include "analysis/traversal.h"
#include "analysis/verdicts.h"

#define NR_MAX_GROUPS 128 /* beyond: one "(other groups)" */
#define NR_MAX_VALUES 10  /* per key; beyond: "(other values)" */
#define NR_MAX_REQS   32
#define NR_OTHER      NR_MAX_VALUES /* the value index of everything else */

/* The depth and portmap tests' verdicts: fixed bins, so no value table. */
struct nr_depth_counts {
	unsigned long depth[NR_NDEPTH]; /* by enum nr_depth */
	unsigned long cgn[NR_NTRI];     /* by enum nr_tri */
};

struct nr_portmap_counts {
	unsigned long state[NR_NPM_STATES]; /* by enum nr_pm_state */
	unsigned long asked;                /* measured, with mappings asked for */
	/* By protocol; [NR_NPM]: any of them. Of the records measured and of
	 * those asked, respectively. */
	unsigned long answered[NR_NPM + 1], works[NR_NPM + 1];
};

struct nr_group {
	char name[NR_LABEL_LEN];
	unsigned long n;
	unsigned long count[NR_NKEYS][NR_MAX_VALUES + 1];
	unsigned long marks[NR_MAX_REQS][NR_NMARKS];
	struct nr_depth_counts depth;
	struct nr_portmap_counts portmap;
};

struct nr_survey {
	unsigned long n;
	/* Each key's distinct values, in the order first seen ("" = absent). */
	char value[NR_NKEYS][NR_MAX_VALUES][NR_VALUE_LEN];
	unsigned nvalues[NR_NKEYS];
	bool other_values[NR_NKEYS];
	/* groups[0] is every record; the others by the grouping key. */
	struct nr_group *groups;
	unsigned ngroups;
	bool other_groups;
	int slots[2 * NR_MAX_GROUPS + 1]; /* hash of group names: group index or -1 */
	/* Traversal trials of every record: by the record's NAT pair (label)
	 * and by NAT-type pair (analysis/traversal.h). */
	struct nr_tally *matrix, *pairs;
};

typedef struct nr_survey nr_survey_t;

nr_survey_t *nr_survey_new(void);
void nr_survey_free(nr_survey_t *s);
void nr_survey_add(nr_survey_t *s, const struct nr_row *row);
/* Records with a depth (0, 1, 2, 3+), and those of them behind two NATs
 * or more (NAT444: a carrier's NAT behind the home's). */
unsigned long nr_depth_known(const struct nr_depth_counts *c);
unsigned long nr_nat444(const struct nr_depth_counts *c);

/* The value a survey counts for key k of a row (lifetime in bands). */
const char *nr_survey_value_of(const struct nr_row *row, enum nr_key k);

#endif
