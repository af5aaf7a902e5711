/*
 * Counting, for surveys. Group names are found through a small open-
 * addressing hash, so a million records cost a million lookups, not a
 * million scans of the group list.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/survey.h"

#define NSLOTS       (2 * NR_MAX_GROUPS + 1)
#define OTHER_GROUPS "(other groups)"

nr_survey_t *nr_survey_new(void)
{
	nr_survey_t *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	/* Room for the groups, the total and the "(other groups)". */
	s->groups = calloc(NR_MAX_GROUPS + 2, sizeof(*s->groups));
	s->matrix = calloc(1, sizeof(*s->matrix));
	s->pairs = calloc(1, sizeof(*s->pairs));
	if (!s->groups || !s->matrix || !s->pairs) {
		nr_survey_free(s);
		return NULL;
	}
	for (int i = 0; i < NSLOTS; i++)
		s->slots[i] = -1;
	strcpy(s->groups[0].name, "(all)");
	s->ngroups = 1;
	return s;
}

void nr_survey_free(nr_survey_t *s)
{
	if (s) {
		free(s->groups);
		free(s->matrix);
		free(s->pairs);
	}
	free(s);
}

static unsigned hash(const char *name)
{
	unsigned h = 2166136261u; /* FNV-1a */

	for (; *name; name++)
		h = (h ^ (unsigned char)*name) * 16777619u;
	return h;
}

/* The group of this name, made on first sight while there is room. */
static struct nr_group *group(nr_survey_t *s, const char *name)
{
	unsigned at = hash(name) % NSLOTS;

	for (;;) {
		int g = s->slots[at];

		if (g < 0)
			break;
		if (!strcmp(s->groups[g].name, name))
			return &s->groups[g];
		at = (at + 1) % NSLOTS;
	}
	if (s->ngroups <= NR_MAX_GROUPS) {
		s->slots[at] = (int)s->ngroups;
		snprintf(s->groups[s->ngroups].name, sizeof(s->groups[0].name), "%s", name);
		return &s->groups[s->ngroups++];
	}
	if (!s->other_groups) {
		s->other_groups = true;
		strcpy(s->groups[NR_MAX_GROUPS + 1].name, OTHER_GROUPS);
	}
	return &s->groups[NR_MAX_GROUPS + 1];
}

/* The index of value v among key k's values, added on first sight. */
static unsigned value_index(nr_survey_t *s, enum nr_key k, const char *v)
{
	for (unsigned i = 0; i < s->nvalues[k]; i++)
		if (!strcmp(s->value[k][i], v))
			return i;
	if (s->nvalues[k] == NR_MAX_VALUES) {
		s->other_values[k] = true;
		return NR_OTHER;
	}
	snprintf(s->value[k][s->nvalues[k]], NR_VALUE_LEN, "%s", v);
	return s->nvalues[k]++;
}

const char *nr_survey_value_of(const struct nr_row *row, enum nr_key k)
{
	return k == NR_LIFETIME ? nr_lifetime_band(row->value[k]) : row->value[k];
}

unsigned long nr_depth_known(const struct nr_depth_counts *c)
{
	return c->depth[NR_DEPTH_0] + c->depth[NR_DEPTH_1] + nr_nat444(c);
}

unsigned long nr_nat444(const struct nr_depth_counts *c)
{
	return c->depth[NR_DEPTH_2] + c->depth[NR_DEPTH_3UP];
}

static void count_portmap(struct nr_portmap_counts *c, const struct nr_portmap *pm)
{
	c->state[pm->state]++;
	if (pm->state != NR_PM_MEASURED)
		return;
	c->asked += pm->asked;
	for (unsigned p = 0; p < NR_NPM; p++) {
		c->answered[p] += (pm->answered >> p) & 1u;
		c->works[p] += (pm->works >> p) & 1u;
	}
	c->answered[NR_NPM] += pm->answered != 0;
	c->works[NR_NPM] += pm->works != 0;
}

static void count(struct nr_group *g, const unsigned *index, const enum nr_mark *marks,
		  const struct nr_row *row)
{
	g->n++;
	for (int k = 0; k < NR_NKEYS; k++)
		g->count[k][index[k]]++;
	for (size_t i = 0; i < nr_nrequirements && i < NR_MAX_REQS; i++)
		g->marks[i][marks[i]]++;
	g->depth.depth[row->depth]++;
	g->depth.cgn[row->cgn]++;
	count_portmap(&g->portmap, &row->portmap);
}

void nr_survey_add(nr_survey_t *s, const struct nr_row *row)
{
	unsigned index[NR_NKEYS];
	enum nr_mark marks[NR_MAX_REQS];

	for (int k = 0; k < NR_NKEYS; k++)
		index[k] = value_index(s, (enum nr_key)k, nr_survey_value_of(row, (enum nr_key)k));
	for (size_t i = 0; i < nr_nrequirements && i < NR_MAX_REQS; i++)
		marks[i] = nr_judge(i, row, NULL, 0);
	s->n++;
	count(&s->groups[0], index, marks, row);
	if (row->group[0])
		count(group(s, row->group), index, marks, row);
	nr_matrix_add(s->matrix, row);
	nr_pairs_add(s->pairs, row);
}
