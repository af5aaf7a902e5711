/* natcollect's store. See store.h. */
#define _XOPEN_SOURCE 700 /* nftw */
#include "collector/store.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "files.h"

#define STORE_PATH_MAX 4096
#define LINE_START     "{\"schema\":\"natlab.result/1\",\"run_id\":\""

struct store {
	char dir[STORE_PATH_MAX - 64]; /* room for /YYYY/MM/DD.jsonl */
	int fd;                        /* the current day's file, -1 none */
	char day[16];                  /* its YYYY/MM/DD */
	uint8_t *slots;                /* cap ids of STORE_ID_LEN bytes; all zero: empty */
	size_t cap, n;
};

static int hex(int c)
{
	return c >= '0' && c <= '9'   ? c - '0'
	       : c >= 'a' && c <= 'f' ? c - 'a' + 10
	       : c >= 'A' && c <= 'F' ? c - 'A' + 10
				      : -1;
}

int store_parse_id(const char *t, uint8_t id[STORE_ID_LEN])
{
	static const int dash[] = {8, 13, 18, 23};
	size_t k = 0;
	bool nonzero = false;

	if (strnlen(t, 37) < 36)
		return -1;
	for (int i = 0; i < 4; i++)
		if (t[dash[i]] != '-')
			return -1;
	for (size_t i = 0; i < 36; i++) {
		int hi, lo;

		if (i == 8 || i == 13 || i == 18 || i == 23)
			continue;
		hi = hex(t[i]);
		lo = hex(t[i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		id[k] = (uint8_t)(hi << 4 | lo);
		nonzero = nonzero || id[k];
		k++;
		i++;
	}
	return k == STORE_ID_LEN && nonzero ? 0 : -1;
}

/* ---- the run_id set: open addressing, FNV-1a over the id ---- */

static size_t slot_of(const store_t *s, const uint8_t id[STORE_ID_LEN])
{
	uint64_t h = 1469598103934665603ull;

	for (int i = 0; i < STORE_ID_LEN; i++)
		h = (h ^ id[i]) * 1099511628211ull;
	return (size_t)h & (s->cap - 1);
}

static bool empty(const uint8_t *slot)
{
	static const uint8_t zero[STORE_ID_LEN];

	return !memcmp(slot, zero, STORE_ID_LEN);
}

static uint8_t *find(const store_t *s, const uint8_t id[STORE_ID_LEN])
{
	size_t i = slot_of(s, id);

	while (!empty(s->slots + i * STORE_ID_LEN) &&
	       memcmp(s->slots + i * STORE_ID_LEN, id, STORE_ID_LEN))
		i = (i + 1) & (s->cap - 1);
	return s->slots + i * STORE_ID_LEN;
}

static int grow(store_t *s)
{
	uint8_t *old = s->slots;
	size_t old_cap = s->cap;

	s->cap = old_cap ? 2 * old_cap : 1024;
	s->slots = calloc(s->cap, STORE_ID_LEN);
	if (!s->slots) {
		s->slots = old;
		s->cap = old_cap;
		return -1;
	}
	for (size_t i = 0; i < old_cap; i++)
		if (!empty(old + i * STORE_ID_LEN))
			memcpy(find(s, old + i * STORE_ID_LEN), old + i * STORE_ID_LEN,
			       STORE_ID_LEN);
	free(old);
	return 0;
}

static int add(store_t *s, const uint8_t id[STORE_ID_LEN])
{
	uint8_t *slot;

	if (2 * (s->n + 1) > s->cap && grow(s))
		return -1;
	slot = find(s, id);
	if (empty(slot)) {
		memcpy(slot, id, STORE_ID_LEN);
		s->n++;
	}
	return 0;
}

bool store_has(const store_t *s, const uint8_t id[STORE_ID_LEN])
{
	return s->cap && !empty(find(s, id));
}

unsigned long store_count(const store_t *s)
{
	return (unsigned long)s->n;
}

/* ---- opening: load, repair ---- */

/* The run_id a stored line names: at its start, as store_put takes lines. */
static int line_id(const char *line, uint8_t id[STORE_ID_LEN])
{
	size_t n = strlen(LINE_START);

	return strncmp(line, LINE_START, n) ? -1 : store_parse_id(line + n, id);
}

/* nftw has no context argument: the store being opened. */
static store_t *loading;
static struct store_stats *loading_stats;

/* One day's file: its ids into the set; a partial last line cut off. */
static int load_file(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	size_t n = strlen(path), cap = 0;
	char *line = NULL;
	ssize_t got;
	off_t good = 0;
	FILE *f;
	int rc = 0;

	(void)ftw;
	if (type != FTW_F || n < 6 || strcmp(path + n - 6, ".jsonl") || !S_ISREG(sb->st_mode))
		return 0;
	f = fopen(path, "r+");
	if (!f)
		return -1;
	while ((got = getline(&line, &cap, f)) > 0) {
		uint8_t id[STORE_ID_LEN];

		if (line[got - 1] != '\n')
			break; /* a write the kill cut: never acknowledged */
		good += got;
		if (line_id(line, id))
			loading_stats->unreadable++;
		else if (add(loading, id))
			rc = -1;
		else
			loading_stats->loaded++;
	}
	if (!rc && good < sb->st_size) {
		rc = ftruncate(fileno(f), good) || fsync(fileno(f)) ? -1 : 0;
		loading_stats->repaired++;
	}
	free(line);
	if (fclose(f))
		rc = -1;
	return rc;
}

store_t *store_open(const char *dir, struct store_stats *st, const char **what)
{
	store_t *s = calloc(1, sizeof(*s));

	memset(st, 0, sizeof(*st));
	*what = "out of memory";
	if (!s || grow(s))
		goto fail;
	s->fd = -1;
	*what = "the folder's name is too long";
	if ((size_t)snprintf(s->dir, sizeof(s->dir), "%s", dir) >= sizeof(s->dir)) {
		errno = ENAMETOOLONG;
		goto fail;
	}
	*what = "cannot make the folder";
	if (files_make_folders(s->dir))
		goto fail;
	*what = "cannot read or repair a stored file";
	loading = s;
	loading_stats = st;
	if (nftw(s->dir, load_file, 16, FTW_PHYS))
		goto fail;
	return s;
fail:
	store_close(s);
	return NULL;
}

void store_close(store_t *s)
{
	if (!s)
		return;
	if (s->fd >= 0)
		close(s->fd);
	free(s->slots);
	free(s);
}

/* ---- appending ---- */

/* The file of `when`'s day, open for appending. */
static int day_file(store_t *s, time_t when)
{
	char day[16], folder[STORE_PATH_MAX], path[STORE_PATH_MAX];
	struct tm tm;
	struct stat sb;
	bool fresh;

	gmtime_r(&when, &tm);
	strftime(day, sizeof(day), "%Y/%m/%d", &tm);
	if (s->fd >= 0 && !strcmp(day, s->day))
		return 0;
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	snprintf(folder, sizeof(folder), "%s/%.7s", s->dir, day);
	snprintf(path, sizeof(path), "%s/%s.jsonl", s->dir, day);
	fresh = stat(path, &sb) != 0;
	if (files_make_folders(folder))
		return -1;
	s->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (s->fd < 0 || (fresh && files_sync_folder(folder)))
		return -1;
	snprintf(s->day, sizeof(s->day), "%s", day);
	return 0;
}

int store_put(store_t *s, const uint8_t id[STORE_ID_LEN], const char *line, size_t len, time_t when)
{
	static char newline[] = "\n";
	struct iovec iov[2] = {{NULL, 0}, {newline, 1}};
	struct stat sb;
	ssize_t n;
	int saved;

	if (store_has(s, id))
		return 1;
	if (memchr(line, '\n', len) || len < strlen(LINE_START) + 36 ||
	    strncmp(line, LINE_START, strlen(LINE_START))) {
		errno = EINVAL;
		return -1;
	}
	/* Room in the set first: once on disk, the id must be indexed. */
	if ((2 * (s->n + 1) > s->cap && grow(s)) || day_file(s, when) || fstat(s->fd, &sb))
		return -1;
	/* The line and its newline in one append, no copy. */
	iov[0] = (struct iovec){(void *)(uintptr_t)line, len};
	n = writev(s->fd, iov, 2);
	if (n != (ssize_t)(len + 1) || fdatasync(s->fd)) {
		/* Nothing of it may stay: a half line, or one never acknowledged.
		 * A short write without an error is a full disk. */
		saved = n >= 0 && n != (ssize_t)(len + 1) ? ENOSPC : errno;
		if (ftruncate(s->fd, sb.st_size) == 0)
			fdatasync(s->fd);
		errno = saved;
		return -1;
	}
	return add(s, id); /* cannot fail: the room was made above */
}
