/* natcollect's forwarding to ClickHouse. See forward.h. */
#include "collector/forward.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

/* Rows, one a line. */
struct rows {
	char *buf;
	size_t len, cap, n;
};

struct forwarder {
	char url[1024];
	struct forward_counts *counts;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool stopping;
	struct rows pending;  /* filled by forward_row, under the lock */
	struct rows inflight; /* the thread's own: being sent, or refused and kept */
};

static void *run(void *arg);

forwarder_t *forward_start(const char *url, const char *table, struct forward_counts *counts)
{
	forwarder_t *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	snprintf(
	    f->url, sizeof(f->url),
	    "%s/?insert_distributed_sync=1&query=INSERT%%20INTO%%20%s%%20FORMAT%%20JSONEachRow",
	    url, table);
	f->counts = counts;
	pthread_mutex_init(&f->lock, NULL);
	pthread_cond_init(&f->wake, NULL);
	if (pthread_create(&f->thread, NULL, run, f)) {
		free(f);
		return NULL;
	}
	return f;
}

static bool append(struct rows *r, const char *row, size_t len)
{
	if (r->len + len + 1 > r->cap) {
		size_t cap = (r->len + len + 1) * 2;
		char *more = realloc(r->buf, cap);

		if (!more)
			return false;
		r->buf = more;
		r->cap = cap;
	}
	memcpy(r->buf + r->len, row, len);
	r->buf[r->len + len] = '\n';
	r->len += len + 1;
	r->n++;
	return true;
}

void forward_row(forwarder_t *f, const char *row, size_t len)
{
	pthread_mutex_lock(&f->lock);
	/* Past the bound (ClickHouse away a long while), newer rows are the
	 * ones dropped: the files have them for natreport export. */
	if (f->pending.n + f->inflight.n >= FORWARD_KEEP || !append(&f->pending, row, len))
		atomic_fetch_add(&f->counts->dropped, 1);
	else if (f->pending.n >= FORWARD_BATCH)
		pthread_cond_signal(&f->wake);
	pthread_mutex_unlock(&f->lock);
}

static size_t ignore(char *p, size_t size, size_t n, void *ctx)
{
	(void)p;
	(void)ctx;
	return size * n;
}

static bool post(CURL *curl, const char *url, const struct rows *r)
{
	long status = 0;

	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDS, r->buf);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)r->len);
	if (curl_easy_perform(curl) == CURLE_OK)
		curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	return status == 200;
}

/* The kept batch if any, else what is pending: sent; kept when refused. */
static void flush(forwarder_t *f, CURL *curl)
{
	pthread_mutex_lock(&f->lock);
	if (!f->inflight.n) {
		struct rows t = f->inflight;

		f->inflight = f->pending;
		f->pending = t; /* empty, its buffer reused */
		f->pending.len = f->pending.n = 0;
	}
	pthread_mutex_unlock(&f->lock);
	if (!f->inflight.n)
		return;
	if (!post(curl, f->url, &f->inflight)) {
		atomic_fetch_add(&f->counts->failed_batches, 1);
		return; /* tried again next time, before what came since */
	}
	atomic_fetch_add(&f->counts->sent, f->inflight.n);
	pthread_mutex_lock(&f->lock);
	f->inflight.len = f->inflight.n = 0;
	pthread_mutex_unlock(&f->lock);
}

static void *run(void *arg)
{
	forwarder_t *f = arg;
	CURL *curl = curl_easy_init();
	bool stopping = false;

	if (curl) {
		curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, ignore);
		curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 2L);
		curl_easy_setopt(curl, CURLOPT_TIMEOUT, 30L);
		curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	}
	while (!stopping) {
		struct timespec until;

		pthread_mutex_lock(&f->lock);
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += 1;
		if (!f->stopping && f->pending.n < FORWARD_BATCH)
			pthread_cond_timedwait(&f->wake, &f->lock, &until);
		stopping = f->stopping;
		pthread_mutex_unlock(&f->lock);
		if (curl) {
			flush(f, curl);
			if (stopping) /* what the last flush took, and what is left */
				flush(f, curl);
		}
	}
	if (curl)
		curl_easy_cleanup(curl);
	return NULL;
}

void forward_stop(forwarder_t *f)
{
	if (!f)
		return;
	pthread_mutex_lock(&f->lock);
	f->stopping = true;
	pthread_cond_signal(&f->wake);
	pthread_mutex_unlock(&f->lock);
	pthread_join(f->thread, NULL);
	free(f->pending.buf);
	free(f->inflight.buf);
	free(f);
}
