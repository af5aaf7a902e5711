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
 *
 * The splitting runs on the calling thread and fills batches: the text of
 * each record and each message about bad input, as entries in input order.
 * A full batch goes to the workers, which parse and check its records and
 * run the caller's work on the good ones; the calling thread takes the
 * batches back oldest first, printing the messages and handing each result
 * to take. So what a user reads is the same for any number of workers.
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "analysis/records.h"

#define BATCH_ENTRIES 32
#define BATCH_BYTES   (256 * 1024) /* a batch goes on once its text is this long */
#define NAME_MAX_COPY 4096         /* of a file name kept in a batch */
/* A file's name in a message, cut to what a batch keeps, so that a note
 * (the program, a name, a reason) always fits NOTE_MAX whole. */
#define NAME     "%.4095s"
#define NOTE_MAX (NAME_MAX_COPY + 512)
/* Records are cut off at REC_MAX_BYTES and a batch goes on at BATCH_BYTES,
 * so its text never outgrows this, and never needs to move. */
#define BATCH_TEXT (BATCH_BYTES + REC_MAX_BYTES + BATCH_ENTRIES * (NAME_MAX_COPY + NOTE_MAX))
#define WHY_LEN    256

enum entry_kind { ENTRY_RECORD, ENTRY_NOTE };
enum note_effect { NOTE_SAYS, NOTE_SKIPPED, NOTE_UNREADABLE }; /* what a note counts as */

struct entry {
	unsigned char kind, effect;
	bool too_long;         /* a record not kept */
	bool good;             /* a record parsed, checked and worked on */
	unsigned long line;    /* records: where it began */
	unsigned long index;   /* records: its place in the input */
	size_t name, off, len; /* in the batch's text: the file's name; the record or the note */
	char why[WHY_LEN];     /* records: why not good */
};

struct batch {
	struct entry e[BATCH_ENTRIES];
	unsigned n;
	bool done; /* worked on */
	char *text;
	size_t len;
	unsigned long name_stream; /* the stream whose name is at name; 0: none */
	size_t name;
	unsigned char *results; /* one per entry, jobs->result_size each */
};

struct reader {
	const struct rec_jobs *jobs;
	struct rec_stats *st;
	struct batch *ring;
	unsigned nring;
	/* Batches counted since the start: the one being filled is
	 * ring[submitted % nring]; taken <= next_work <= submitted. */
	unsigned long submitted, next_work, taken;
	unsigned long index;  /* records so far */
	unsigned long stream; /* streams so far: the current one's number */
	const char *name;     /* the current stream's; NULL between streams */
	int rc;               /* take's, once nonzero: stop */
	pthread_mutex_t mu;
	pthread_cond_t work_cv, done_cv;
	pthread_t threads[REC_MAX_THREADS];
	unsigned nthreads;
	bool closing;
};

/* ---- batches ---- */

static struct batch *filling(struct reader *rd)
{
	return &rd->ring[rd->submitted % rd->nring];
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

/* Parse, check and work on a batch's records: on a worker thread. */
static void work_batch(const struct rec_jobs *jobs, struct batch *b)
{
	for (unsigned i = 0; i < b->n; i++) {
		struct entry *e = &b->e[i];
		struct rec_where where = {b->text + e->name, e->line, e->index, b->text + e->off,
					  e->len};
		json_error_t jerr;
		json_t *rec;

		if (e->kind != ENTRY_RECORD)
			continue;
		if (e->too_long) {
			snprintf(e->why, sizeof(e->why), "record longer than 1 MiB: skipped");
			continue;
		}
		rec = json_loadb(where.text, where.len, JSON_REJECT_DUPLICATES, &jerr);
		if (!rec) {
			snprintf(e->why, sizeof(e->why),
				 "not valid JSON (%s, at line %lu of the record)", jerr.text,
				 e->line + (unsigned long)(jerr.line > 0 ? jerr.line - 1 : 0));
			continue;
		}
		if (!rec_check(rec, e->why, sizeof(e->why))) {
			jobs->work(jobs->ctx, rec, &where, b->results + i * jobs->result_size);
			e->good = true;
		}
		json_decref(rec);
	}
}

static void *worker(void *arg)
{
	struct reader *rd = arg;

	pthread_mutex_lock(&rd->mu);
	for (;;) {
		struct batch *b;

		while (rd->next_work == rd->submitted && !rd->closing)
			pthread_cond_wait(&rd->work_cv, &rd->mu);
		if (rd->next_work == rd->submitted)
			break;
		b = &rd->ring[rd->next_work++ % rd->nring];
		pthread_mutex_unlock(&rd->mu);
		work_batch(rd->jobs, b);
		pthread_mutex_lock(&rd->mu);
		b->done = true;
		pthread_cond_signal(&rd->done_cv);
	}
	pthread_mutex_unlock(&rd->mu);
	return NULL;
}

/* The oldest batch out, once worked on: its messages said and counted, its
 * results handed to take, in order. */
static void take_oldest(struct reader *rd)
{
	struct batch *b = &rd->ring[rd->taken % rd->nring];
	const struct rec_jobs *jobs = rd->jobs;

	pthread_mutex_lock(&rd->mu);
	while (!b->done)
		pthread_cond_wait(&rd->done_cv, &rd->mu);
	pthread_mutex_unlock(&rd->mu);
	for (unsigned i = 0; i < b->n && !rd->rc; i++) {
		struct entry *e = &b->e[i];
		struct rec_where where = {b->text + e->name, e->line, e->index, b->text + e->off,
					  e->len};

		if (e->kind == ENTRY_NOTE) {
			if (jobs->err)
				fputs(b->text + e->off, jobs->err);
			rd->st->skipped += e->effect == NOTE_SKIPPED;
			rd->st->unreadable += e->effect == NOTE_UNREADABLE;
		} else if (!e->good) {
			if (jobs->err)
				fprintf(jobs->err, "%s: %s:%lu: %s\n", jobs->program, where.file,
					e->line, e->why);
			rd->st->skipped++;
		} else {
			rd->st->records++;
			rd->rc = jobs->take(jobs->ctx, b->results + i * jobs->result_size, &where);
		}
	}
	rd->taken++;
}

/* The filling batch on to the workers (or worked on here, without them);
 * the oldest taken back when no batch is left to fill. */
static void submit(struct reader *rd)
{
	struct batch *b = filling(rd);

	if (!rd->nthreads) {
		work_batch(rd->jobs, b);
		b->done = true;
		rd->submitted++;
	} else {
		pthread_mutex_lock(&rd->mu);
		b->done = false;
		rd->submitted++;
		pthread_cond_signal(&rd->work_cv);
		pthread_mutex_unlock(&rd->mu);
	}
	while (rd->submitted - rd->taken >= rd->nring)
		take_oldest(rd);
	b = filling(rd);
	b->n = 0;
	b->len = 0;
	b->name_stream = 0;
}

/* A new entry in the filling batch; a record's with the current stream's
 * name (a note carries its names in its text). */
static struct entry *entry_add(struct reader *rd, enum entry_kind kind)
{
	struct batch *b = filling(rd);
	struct entry *e = &b->e[b->n++];

	memset(e, 0, offsetof(struct entry, why));
	e->kind = kind;
	if (kind != ENTRY_RECORD)
		return e;
	if (b->name_stream != rd->stream) {
		size_t n = strnlen(rd->name, NAME_MAX_COPY - 1);

		memcpy(b->text + b->len, rd->name, n);
		b->text[b->len + n] = '\0';
		b->name = b->len;
		b->len += n + 1;
		b->name_stream = rd->stream;
	}
	e->name = b->name;
	return e;
}

/* After an entry: the batch on when it is full. */
static void entry_done(struct reader *rd)
{
	struct batch *b = filling(rd);

	if (b->n == BATCH_ENTRIES || b->len >= BATCH_BYTES)
		submit(rd);
}

/* A message, said in its place among the records. */
__attribute__((format(printf, 3, 4))) static void note(struct reader *rd, enum note_effect effect,
						       const char *fmt, ...)
{
	struct batch *b = filling(rd);
	struct entry *e = entry_add(rd, ENTRY_NOTE);
	va_list ap;
	int n;

	e->effect = (unsigned char)effect;
	e->off = b->len;
	b->text[b->len] = '\0';
	va_start(ap, fmt);
	n = vsnprintf(b->text + b->len, NOTE_MAX, fmt, ap);
	va_end(ap);
	if (n >= NOTE_MAX) /* not expected (NAME): still a line of its own */
		b->text[b->len + NOTE_MAX - 2] = '\n';
	b->len += (n < 0 ? 0 : n >= NOTE_MAX ? NOTE_MAX - 1 : (size_t)n) + 1;
	entry_done(rd);
}

static int reader_open(struct reader *rd, const struct rec_jobs *jobs, struct rec_stats *st)
{
	unsigned threads = jobs->threads < REC_MAX_THREADS ? jobs->threads : REC_MAX_THREADS;

	*rd = (struct reader){.jobs = jobs, .st = st};
	rd->nring = threads ? 2 * threads + 2 : 1;
	rd->ring = calloc(rd->nring, sizeof(*rd->ring));
	if (!rd->ring)
		return -1;
	for (unsigned i = 0; i < rd->nring; i++) {
		/* Pages are touched as text is written: the resident size is what
		 * the records need, not BATCH_TEXT. */
		rd->ring[i].text = malloc(BATCH_TEXT);
		rd->ring[i].results = malloc(BATCH_ENTRIES * jobs->result_size + 1);
		if (!rd->ring[i].text || !rd->ring[i].results)
			return -1;
	}
	pthread_mutex_init(&rd->mu, NULL);
	pthread_cond_init(&rd->work_cv, NULL);
	pthread_cond_init(&rd->done_cv, NULL);
	json_object_seed(0); /* jansson's hash seed, before threads share it */
	/* Fewer workers than asked, if the system refuses some: still correct. */
	while (rd->nthreads < threads &&
	       !pthread_create(&rd->threads[rd->nthreads], NULL, worker, rd))
		rd->nthreads++;
	return 0;
}

/* The rest worked on and taken (unless take stopped the reading), the
 * workers stopped; returns take's nonzero value, or 0. */
static int reader_close(struct reader *rd)
{
	if (!rd->ring)
		return 0;
	if (filling(rd)->n && !rd->rc)
		submit(rd);
	while (rd->taken < rd->submitted)
		take_oldest(rd);
	if (rd->nthreads) {
		pthread_mutex_lock(&rd->mu);
		rd->closing = true;
		pthread_cond_broadcast(&rd->work_cv);
		pthread_mutex_unlock(&rd->mu);
		for (unsigned i = 0; i < rd->nthreads; i++)
			pthread_join(rd->threads[i], NULL);
	}
	for (unsigned i = 0; i < rd->nring; i++) {
		free(rd->ring[i].text);
		free(rd->ring[i].results);
	}
	free(rd->ring);
	return rd->rc;
}

/* ---- splitting ---- */

struct split {
	unsigned long start; /* the line the record began on; 0: none open */
	size_t off;          /* where its text begins in the filling batch */
	unsigned long entries;
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

static void complain(struct reader *rd, struct split *sp, unsigned long line, const char *what)
{
	sp->entries++;
	note(rd, NOTE_SKIPPED, "%s: " NAME ":%lu: %s\n", rd->jobs->program, rd->name, line, what);
}

static void open_record(struct reader *rd, struct split *sp, unsigned long line)
{
	sp->start = line;
	sp->off = filling(rd)->len;
	sp->depth = 0;
	sp->in_string = sp->escaped = sp->too_long = false;
}

/* The open record's text given up (it was bad). */
static void drop_record(struct reader *rd, struct split *sp)
{
	filling(rd)->len = sp->off;
	sp->start = 0;
}

/* The open record is complete: on to be parsed. */
static void finish_record(struct reader *rd, struct split *sp)
{
	struct batch *b = filling(rd);
	size_t end = sp->too_long ? sp->off : b->len;
	struct entry *e;

	b->len = end;
	e = entry_add(rd, ENTRY_RECORD);
	e->line = sp->start;
	e->index = rd->index++;
	e->off = sp->off;
	e->len = end - sp->off;
	e->too_long = sp->too_long;
	sp->start = 0;
	sp->entries++;
	entry_done(rd);
}

static void append(struct reader *rd, struct split *sp, const char *s, size_t n)
{
	struct batch *b = filling(rd);

	if (sp->too_long || b->len - sp->off + n > REC_MAX_BYTES) {
		sp->too_long = true;
		b->len = sp->off;
		return;
	}
	memcpy(b->text + b->len, s, n);
	b->len += n;
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

/* A piece of a line (with its newline, if it ends the line); line_start:
 * whether the line begins with it. */
static void feed_line(struct reader *rd, struct split *sp, const char *s, size_t n,
		      unsigned long line, bool line_start)
{
	bool ends = s[n - 1] == '\n';
	/* Inside a record, blanks are kept but at a line's start (no JSON string
	 * spans lines, so there they are between tokens). */
	size_t lead = line_start || !sp->start ? blanks(s, n) : 0;

	if (!line_start && sp->skip_line) {
		sp->skip_line = !ends;
		return;
	}
	sp->skip_line = false;
	while (lead < n && !rd->rc) {
		size_t used;

		if (!sp->start) {
			if (s[lead] == '\n')
				return;
			if (s[lead] != '{') {
				complain(rd, sp, line,
					 s[lead] == '['
					     ? "a JSON array: records are objects, one per line "
					       "or one after another"
					     : "not the start of a JSON object: line skipped");
				sp->skip_line = !ends;
				return;
			}
			open_record(rd, sp, line);
		} else if (line_start && lead == 0 && s[0] == '{') {
			/* A new record at the start of a line: the open one was cut short
			 * (even inside a string: JSON strings hold no raw newline). */
			unsigned long start = sp->start;

			drop_record(rd, sp);
			complain(rd, sp, start,
				 "record cut short (the next one starts on a later "
				 "line): skipped");
			open_record(rd, sp, line);
		}
		used = scan(sp, s + lead, n - lead);
		append(rd, sp, s + lead, used);
		lead += used;
		if (sp->depth == 0 && !sp->in_string) {
			finish_record(rd, sp);
			lead += blanks(s + lead, n - lead);
		}
	}
}

static void read_stream(struct reader *rd, FILE *in, const char *name)
{
	struct split sp = {0};
	struct pieces *p = malloc(sizeof(*p));
	const char *s;
	size_t n;
	unsigned long lineno = 0;
	bool line_start = true;

	rd->stream++;
	rd->name = name;
	rd->st->files++;
	if (!p) {
		complain(rd, &sp, 0, "out of memory");
		rd->name = NULL;
		return;
	}
	p->in = in;
	p->pos = p->len = 0;
	while (!rd->rc && next_piece(p, &s, &n)) {
		lineno += line_start;
		feed_line(rd, &sp, s, n, lineno, line_start);
		line_start = s[n - 1] == '\n';
	}
	if (!rd->rc && sp.start) {
		unsigned long start = sp.start;

		drop_record(rd, &sp);
		complain(rd, &sp, start, "record cut short at the end of the input: skipped");
	}
	if (!rd->rc && ferror(in))
		complain(rd, &sp, lineno, strerror(errno));
	if (!rd->rc && !sp.entries)
		note(rd, NOTE_SAYS, "%s: " NAME ": no records (empty input)\n", rd->jobs->program,
		     name);
	free(p);
	rd->name = NULL; /* it may not outlive the stream (a folder's file names do not) */
}

/* ---- files and folders ---- */

static bool wanted(const char *name)
{
	size_t n = strlen(name);

	return (n > 5 && !strcmp(name + n - 5, ".json")) ||
	       (n > 6 && !strcmp(name + n - 6, ".jsonl"));
}

static void read_path(struct reader *rd, const char *path, int depth);

static void read_folder(struct reader *rd, const char *path, int depth)
{
	struct dirent **names;
	int n = scandir(path, &names, NULL, alphasort);

	if (n < 0) {
		note(rd, NOTE_UNREADABLE, "%s: " NAME ": %s\n", rd->jobs->program, path,
		     strerror(errno));
		return;
	}
	for (int i = 0; i < n; i++) {
		const char *name = names[i]->d_name;
		char sub[4096];
		struct stat sb;

		if (!rd->rc && name[0] != '.' &&
		    (size_t)snprintf(sub, sizeof(sub), "%s/%s", path, name) < sizeof(sub) &&
		    !stat(sub, &sb) && (S_ISDIR(sb.st_mode) || wanted(name)))
			read_path(rd, sub, depth + 1);
		free(names[i]);
	}
	free(names);
}

static void read_path(struct reader *rd, const char *path, int depth)
{
	struct stat sb;
	FILE *f;

	if (!strcmp(path, "-")) {
		read_stream(rd, stdin, "-");
		return;
	}
	if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
		if (depth < REC_MAX_DEPTH) {
			read_folder(rd, path, depth);
			return;
		}
		note(rd, NOTE_UNREADABLE, "%s: " NAME ": folders nested too deep: skipped\n",
		     rd->jobs->program, path);
		return;
	}
	f = fopen(path, "r");
	if (!f) {
		note(rd, NOTE_UNREADABLE, "%s: " NAME ": %s\n", rd->jobs->program, path,
		     strerror(errno));
		return;
	}
	read_stream(rd, f, path);
	fclose(f);
}

static int out_of_memory(struct reader *rd, const struct rec_jobs *jobs)
{
	if (jobs->err)
		fprintf(jobs->err, "%s: out of memory\n", jobs->program);
	reader_close(rd);
	return -1;
}

int rec_read_paths(char *const *paths, size_t n, const struct rec_jobs *jobs, struct rec_stats *st)
{
	struct reader rd;

	if (reader_open(&rd, jobs, st))
		return out_of_memory(&rd, jobs);
	for (size_t i = 0; i < n && !rd.rc; i++)
		read_path(&rd, paths[i], 0);
	return reader_close(&rd);
}

int rec_read_stream(FILE *in, const char *name, const struct rec_jobs *jobs, struct rec_stats *st)
{
	struct reader rd;

	if (reader_open(&rd, jobs, st))
		return out_of_memory(&rd, jobs);
	read_stream(&rd, in, name);
	return reader_close(&rd);
}
