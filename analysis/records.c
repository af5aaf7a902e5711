/*
 * Splitting a byte stream into records, without trusting it.
 *
 * A record is a JSON object that begins with '{' as the first non-blank
 * character of a line and ends where its braces balance (strings and their
 * escapes are followed, so braces inside them do not count). That admits
 * JSON Lines and objects pretty-printed over many lines, and it makes a
 * truncated line recoverable: when a new record starts on a later line
 * before the current one closed, the current one was cut short, and is
 * reported while the new one is read (also when it was cut inside a
 * string: a JSON string cannot span lines). jansson then parses each
 * record.
 */
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "analysis/records.h"

struct split {
	const char *name;
	FILE *err;
	const char *program;
	char *buf;
	size_t len, cap;
	unsigned long start; /* the line the record began on; 0: none open */
	int depth;
	bool in_string, escaped, too_long;
	bool skip_line; /* the rest of a rejected line, in later pieces */
};

/* A stream in pieces of at most one buffer: a line each, or part of a
 * long one. Memory stays bounded whatever the input (getline would hold a
 * gigabyte line whole), and NUL bytes are bytes like any other. */
struct pieces {
	FILE *in;
	size_t pos, len;
	char buf[64 * 1024];
};

static bool next_piece(struct pieces *p, const char **s, size_t *n)
{
	const char *nl;

	if (p->pos == p->len) {
		p->len = fread(p->buf, 1, sizeof(p->buf), p->in);
		p->pos = 0;
		if (!p->len)
			return false;
	}
	*s = p->buf + p->pos;
	nl = memchr(*s, '\n', p->len - p->pos);
	*n = nl ? (size_t)(nl - *s) + 1 : p->len - p->pos;
	p->pos += *n;
	return true;
}

/* Blanks at s, within n. */
static size_t blanks(const char *s, size_t n)
{
	size_t i = 0;

	while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r'))
		i++;
	return i;
}

static void complain(const struct split *sp, unsigned long line, const char *what)
{
	if (sp->err)
		fprintf(sp->err, "%s: %s:%lu: %s\n", sp->program, sp->name, line, what);
}

int rec_check(const json_t *rec, char *why, size_t len)
{
	const char *schema = json_string_value(json_object_get(rec, "schema"));

	if (!json_is_object(rec)) {
		snprintf(why, len, "not a JSON object");
		return -1;
	}
	if (!schema) {
		snprintf(why, len, "no \"schema\" string: not a natlab result record");
		return -1;
	}
	if (strcmp(schema, REC_SCHEMA)) {
		snprintf(why, len, "schema \"%.40s\" is not one this natreport reads (%s)", schema,
			 REC_SCHEMA);
		return -1;
	}
	return 0;
}

/* The record in sp->buf is complete: parse, check, hand on. */
static int finish_record(struct split *sp, rec_fn fn, void *ctx, struct rec_stats *st)
{
	struct rec_where where = {sp->name, sp->start};
	json_error_t jerr;
	json_t *rec;
	char why[256];
	int rc = 0;

	sp->start = 0;
	if (sp->too_long) {
		complain(sp, where.line, "record longer than 1 MiB: skipped");
		st->skipped++;
		return 0;
	}
	rec = json_loadb(sp->buf, sp->len, JSON_REJECT_DUPLICATES, &jerr);
	if (!rec) {
		snprintf(why, sizeof(why), "not valid JSON (%s, at line %lu of the record)",
			 jerr.text,
			 where.line + (unsigned long)(jerr.line > 0 ? jerr.line - 1 : 0));
		complain(sp, where.line, why);
		st->skipped++;
		return 0;
	}
	if (rec_check(rec, why, sizeof(why))) {
		complain(sp, where.line, why);
		st->skipped++;
	} else {
		st->records++;
		rc = fn(ctx, rec, &where);
	}
	json_decref(rec);
	return rc;
}

static void append(struct split *sp, const char *s, size_t n)
{
	if (sp->too_long || sp->len + n > REC_MAX_BYTES) {
		sp->too_long = true;
		return;
	}
	if (sp->len + n > sp->cap) {
		size_t cap = sp->cap ? sp->cap : 4096;
		char *p;

		while (cap < sp->len + n)
			cap *= 2;
		p = realloc(sp->buf, cap);
		if (!p) {
			sp->too_long = true;
			return;
		}
		sp->buf = p;
		sp->cap = cap;
	}
	memcpy(sp->buf + sp->len, s, n);
	sp->len += n;
}

/* Follow braces and strings through s; the offset just past the closing
 * brace when the record ends within s, else n. */
static size_t scan(struct split *sp, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (sp->in_string) {
			if (sp->escaped)
				sp->escaped = false;
			else if (c == '\\')
				sp->escaped = true;
			else if (c == '"')
				sp->in_string = false;
			continue;
		}
		if (c == '"')
			sp->in_string = true;
		else if (c == '{' || c == '[')
			sp->depth++;
		else if ((c == '}' || c == ']') && --sp->depth == 0)
			return i + 1;
	}
	return n;
}

static void open_record(struct split *sp, unsigned long line)
{
	sp->start = line;
	sp->len = 0;
	sp->depth = 0;
	sp->in_string = sp->escaped = sp->too_long = false;
}

/* A piece of a line (with its newline, if it ends the line); line_start:
 * whether the line begins with it. */
static int feed_line(struct split *sp, const char *s, size_t n, unsigned long line, bool line_start,
		     rec_fn fn, void *ctx, struct rec_stats *st)
{
	bool ends = s[n - 1] == '\n';
	/* Inside a record, blanks are kept but at a line's start (no JSON string
	 * spans lines, so there they are between tokens). */
	size_t lead = line_start || !sp->start ? blanks(s, n) : 0;

	if (!line_start && sp->skip_line) {
		sp->skip_line = !ends;
		return 0;
	}
	sp->skip_line = false;
	while (lead < n) {
		size_t used;

		if (!sp->start) {
			if (s[lead] == '\n')
				return 0;
			if (s[lead] != '{') {
				complain(sp, line,
					 s[lead] == '['
					     ? "a JSON array: records are objects, one per line "
					       "or one after another"
					     : "not the start of a JSON object: line skipped");
				st->skipped++;
				sp->skip_line = !ends;
				return 0;
			}
			open_record(sp, line);
		} else if (line_start && lead == 0 && s[0] == '{') {
			/* A new record at the start of a line: the open one was cut short
			 * (even inside a string: JSON strings hold no raw newline). */
			complain(sp, sp->start,
				 "record cut short (the next one starts on a later "
				 "line): skipped");
			st->skipped++;
			open_record(sp, line);
		}
		used = scan(sp, s + lead, n - lead);
		append(sp, s + lead, used);
		lead += used;
		if (sp->depth == 0 && !sp->in_string) {
			int rc = finish_record(sp, fn, ctx, st);

			if (rc)
				return rc;
			lead += blanks(s + lead, n - lead);
		}
	}
	return 0;
}

int rec_read_stream(FILE *in, const char *name, rec_fn fn, void *ctx, struct rec_stats *st,
		    FILE *err, const char *program)
{
	struct split sp = {.name = name, .err = err, .program = program};
	struct pieces *p = malloc(sizeof(*p));
	const char *s;
	size_t n;
	unsigned long lineno = 0, before = st->records + st->skipped;
	bool line_start = true;
	int rc = 0;

	st->files++;
	if (!p) {
		complain(&sp, 0, "out of memory");
		st->skipped++;
		return 0;
	}
	p->in = in;
	p->pos = p->len = 0;
	while (!rc && next_piece(p, &s, &n)) {
		lineno += line_start;
		rc = feed_line(&sp, s, n, lineno, line_start, fn, ctx, st);
		line_start = s[n - 1] == '\n';
	}
	if (!rc && sp.start) {
		complain(&sp, sp.start, "record cut short at the end of the input: skipped");
		st->skipped++;
	}
	if (!rc && ferror(in)) {
		complain(&sp, lineno, strerror(errno));
		st->skipped++;
	}
	if (!rc && st->records + st->skipped == before && err)
		fprintf(err, "%s: %s: no records (empty input)\n", program, name);
	free(p);
	free(sp.buf);
	return rc;
}

static bool wanted(const char *name)
{
	size_t n = strlen(name);

	return (n > 5 && !strcmp(name + n - 5, ".json")) ||
	       (n > 6 && !strcmp(name + n - 6, ".jsonl"));
}

static int read_path(const char *path, int depth, rec_fn fn, void *ctx, struct rec_stats *st,
		     FILE *err, const char *program);

static int read_folder(const char *path, int depth, rec_fn fn, void *ctx, struct rec_stats *st,
		       FILE *err, const char *program)
{
	struct dirent **names;
	int n = scandir(path, &names, NULL, alphasort), rc = 0;

	if (n < 0) {
		if (err)
			fprintf(err, "%s: %s: %s\n", program, path, strerror(errno));
		st->unreadable++;
		return 0;
	}
	for (int i = 0; i < n; i++) {
		const char *name = names[i]->d_name;
		char sub[4096];
		struct stat sb;

		if (!rc && name[0] != '.' &&
		    (size_t)snprintf(sub, sizeof(sub), "%s/%s", path, name) < sizeof(sub) &&
		    !stat(sub, &sb) && (S_ISDIR(sb.st_mode) || wanted(name)))
			rc = read_path(sub, depth + 1, fn, ctx, st, err, program);
		free(names[i]);
	}
	free(names);
	return rc;
}

static int read_path(const char *path, int depth, rec_fn fn, void *ctx, struct rec_stats *st,
		     FILE *err, const char *program)
{
	struct stat sb;
	FILE *f;
	int rc;

	if (!strcmp(path, "-"))
		return rec_read_stream(stdin, "-", fn, ctx, st, err, program);
	if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
		if (depth < REC_MAX_DEPTH)
			return read_folder(path, depth, fn, ctx, st, err, program);
		if (err)
			fprintf(err, "%s: %s: folders nested too deep: skipped\n", program, path);
		st->unreadable++;
		return 0;
	}
	f = fopen(path, "r");
	if (!f) {
		if (err)
			fprintf(err, "%s: %s: %s\n", program, path, strerror(errno));
		st->unreadable++;
		return 0;
	}
	rc = rec_read_stream(f, path, fn, ctx, st, err, program);
	fclose(f);
	return rc;
}

int rec_read_paths(char *const *paths, size_t n, rec_fn fn, void *ctx, struct rec_stats *st,
		   FILE *err, const char *program)
{
	int rc = 0;

	for (size_t i = 0; i < n && !rc; i++)
		rc = read_path(paths[i], 0, fn, ctx, st, err, program);
	return rc;
}
