/* natprobe's uploads. See upload.h. */
#define _GNU_SOURCE /* nftw with FTW_ACTIONRETVAL: skip sent/ and refused/ */
#include "probe/upload.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>

#include "files.h"

#define UPLOAD_CONNECT_S 5
#define UPLOAD_TOTAL_S   15
#define UPLOAD_BODY_MAX  (1u << 20)
#define SENT_DIR         "sent"
#define REFUSED_DIR      "refused"
#define PATH_MAX_LEN     4096

int upload_read_token(const char *path, char token[UPLOAD_TOKEN_MAX], char *why, size_t len)
{
	FILE *f = fopen(path, "r");
	char line[UPLOAD_TOKEN_MAX + 2] = "";

	if (!f) {
		snprintf(why, len, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (!fgets(line, sizeof(line), f))
		line[0] = '\0';
	fclose(f);
	line[strcspn(line, "\r\n")] = '\0';
	if (strlen(line) < 16 || strlen(line) >= UPLOAD_TOKEN_MAX || strpbrk(line, " \t")) {
		snprintf(why, len,
			 "%s: the first line must be the token, 16 to 127 characters, no spaces",
			 path);
		return -1;
	}
	memcpy(token, line, strlen(line) + 1); /* shorter than UPLOAD_TOKEN_MAX: checked */
	return 0;
}

/* ---- the pending files ---- */

struct pending {
	char (*path)[PATH_MAX_LEN];
	size_t n;
	unsigned dropped; /* past UPLOAD_MAX_FILES: left for a later run */
};

static struct pending *walking;
static size_t walk_root_len;
static const char *walk_mine; /* this run's own record's file name: always sent */

/* The oldest UPLOAD_MAX_FILES - 1 are kept (names sort by time: the spool's
 * YYYY/MM/DD/STAMP-RUN_ID.json), so that a long outage drains oldest first
 * and this run's own record still has its place. */
static void keep(struct pending *p, const char *path)
{
	size_t newest = 0;

	if (p->n < UPLOAD_MAX_FILES - 1) {
		snprintf(p->path[p->n++], PATH_MAX_LEN, "%s", path);
		return;
	}
	p->dropped++;
	for (size_t i = 1; i < p->n; i++)
		if (strcmp(p->path[i], p->path[newest]) > 0)
			newest = i;
	if (strcmp(path, p->path[newest]) < 0)
		snprintf(p->path[newest], PATH_MAX_LEN, "%s", path);
}

static int collect(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	const char *rel = path + walk_root_len;
	const char *base = path + ftw->base;
	size_t n = strlen(path);

	(void)sb;
	if (type == FTW_D && ftw->level == 1 &&
	    (!strcmp(base, SENT_DIR) || !strcmp(base, REFUSED_DIR)))
		return FTW_SKIP_SUBTREE;
	if (type != FTW_F || base[0] == '.' || n < 5 || strcmp(path + n - 5, ".json") || !*rel ||
	    (walk_mine && !strcmp(base, walk_mine)))
		return FTW_CONTINUE;
	keep(walking, path);
	return FTW_CONTINUE;
}

static int by_name(const void *a, const void *b)
{
	return strcmp((const char *)a, (const char *)b);
}

/* ---- one file ---- */

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "r");
	char *buf = malloc(UPLOAD_BODY_MAX);

	*len = 0;
	if (f && buf)
		*len = fread(buf, 1, UPLOAD_BODY_MAX, f);
	if (f)
		fclose(f);
	if (!*len) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* POST it: the HTTP status, or 0 when no answer came (why in err). */
static long post(CURL *curl, const char *url, struct curl_slist *headers, const char *body,
		 size_t len, char err[CURL_ERROR_SIZE])
{
	long status = 0;

	err[0] = '\0';
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)len);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, (long)UPLOAD_CONNECT_S);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT, (long)UPLOAD_TOTAL_S);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, err);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	if (curl_easy_perform(curl) == CURLE_OK)
		curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	return status;
}

/* Discard the collector's answer body. */
static size_t ignore(char *p, size_t size, size_t n, void *ctx)
{
	(void)p;
	(void)ctx;
	return size * n;
}

/* path moved to DIR/sub/ at its place below DIR, the move made durable. */
static int move_to(const char *dir, const char *sub, const char *path)
{
	char to[PATH_MAX_LEN], folder[PATH_MAX_LEN];

	if ((size_t)snprintf(to, sizeof(to), "%s/%s%s", dir, sub, path + strlen(dir)) >= sizeof(to))
		return -1;
	snprintf(folder, sizeof(folder), "%s", to);
	*strrchr(folder, '/') = '\0';
	return files_make_folders(folder) || rename(path, to) || files_sync_folder(folder) ? -1 : 0;
}

/* 2xx sent, 4xx (not 408, 429) refused for good: 1; -1 stop (the
 * collector is out of reach or refuses the token); 0 try later. */
static int verdict(long status)
{
	if (status >= 200 && status < 300)
		return 1;
	if (status == 401 || status == 403)
		return -1;
	if (status >= 400 && status < 500 && status != 408 && status != 429)
		return 1;
	return 0;
}

/* One file, tried up to UPLOAD_TRIES times: 2 sent, 1 refused, 0 left,
 * -1 stop. */
static int send_file(CURL *curl, const char *dir, const char *url, struct curl_slist *h,
		     const char *path, struct upload_report *rep)
{
	char err[CURL_ERROR_SIZE];
	size_t len;
	char *body = slurp(path, &len);
	long status = 0;
	int v = 0;

	if (!body)
		return 0;
	for (unsigned t = 0; t < UPLOAD_TRIES && !v; t++) {
		if (t)
			sleep(1u << (t - 1)); /* 1 s, then 2 s */
		status = post(curl, url, h, body, len, err);
		v = verdict(status);
	}
	free(body);
	if (v == 1) {
		bool ok = status < 300;

		/* A file that cannot move is sent again next run: the run_id
		 * makes that a duplicate at the collector, not a second record. */
		if (move_to(dir, ok ? SENT_DIR : REFUSED_DIR, path))
			snprintf(rep->why, sizeof(rep->why), "%s: cannot move it: %s", path,
				 strerror(errno));
		if (ok)
			rep->sent++;
		else
			rep->refused++;
		return ok ? 2 : 1;
	}
	if (status)
		snprintf(rep->why, sizeof(rep->why), "the collector answered %ld", status);
	else if ((size_t)snprintf(rep->why, sizeof(rep->why), "no answer from the collector: %s",
				  err) >= sizeof(rep->why))
		rep->why[sizeof(rep->why) - 1] = '\0'; /* curl's message, cut */
	return v;
}

void upload_spool(const struct upload_to *to, const char *dir, const char *mine, FILE *log,
		  struct upload_report *rep)
{
	struct pending p = {.path = calloc(UPLOAD_MAX_FILES, PATH_MAX_LEN)};
	char auth[UPLOAD_TOKEN_MAX + 32];
	struct curl_slist *h = NULL;
	CURL *curl = NULL;
	size_t i = 0;

	memset(rep, 0, sizeof(*rep));
	walking = &p;
	walk_root_len = strlen(dir);
	if (mine && !*mine)
		mine = NULL;
	walk_mine = mine ? (strrchr(mine, '/') ? strrchr(mine, '/') + 1 : mine) : NULL;
	if (!p.path || nftw(dir, collect, 16, FTW_PHYS | FTW_ACTIONRETVAL) < 0 ||
	    curl_global_init(CURL_GLOBAL_DEFAULT) || !(curl = curl_easy_init())) {
		snprintf(rep->why, sizeof(rep->why), "cannot start: %s", strerror(errno));
		rep->left = (unsigned)p.n + p.dropped + (mine ? 1u : 0u);
		goto done;
	}
	qsort(p.path, p.n, PATH_MAX_LEN, by_name);
	if (mine) /* the newest: sent last, after what waited longer */
		snprintf(p.path[p.n++], PATH_MAX_LEN, "%s", mine);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", to->token);
	h = curl_slist_append(h, auth);
	h = curl_slist_append(h, "Content-Type: application/json");
	h = curl_slist_append(h, "Expect:"); /* no 100-continue round trip */
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, ignore);
	if (to->ca_file)
		curl_easy_setopt(curl, CURLOPT_CAINFO, to->ca_file);
	for (; i < p.n; i++) {
		int got = send_file(curl, dir, to->url, h, p.path[i], rep);

		if (got == 2 && mine && !strcmp(p.path[i], mine))
			rep->this_run_sent = true;
		if (got <= 0)
			break;
		if (log && p.n > 1)
			fprintf(log, "natprobe: --upload: %zu of %zu records done\n", i + 1, p.n);
	}
	rep->left = (unsigned)(p.n - i) + p.dropped;
done:
	curl_slist_free_all(h);
	if (curl)
		curl_easy_cleanup(curl);
	curl_global_cleanup();
	free(p.path);
}
