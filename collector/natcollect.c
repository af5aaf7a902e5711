/*
 * natcollect: the collector of a field survey. natprobe --upload POSTs each
 * record here; natcollect checks the bearer token, the size, the record
 * (jansson, and natreport's own check, rec_check: the reader the reports
 * use) and the rate per token and per source network, keeps each run_id
 * once, and appends the record to a JSON Lines file per UTC day, synced
 * before it answers 2xx (collector/store.h). Killed at any moment, it loses
 * no acknowledged record and leaves no half line. Counters are served in
 * Prometheus' text format on a separate local port (--metrics).
 */
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <curl/curl.h>
#include <microhttpd.h>

#include "addr.h"
#include "analysis/records.h"
#include "clock.h"
#include "analysis/clickhouse.h"
#include "collector/auth.h"
#include "collector/forward.h"
#include "collector/store.h"
#include "reflector/limiter.h"

#define PORT_DEFAULT     8480
#define MAX_BYTES_DEF    65536u
#define MAX_BYTES_MAX    REC_MAX_BYTES
#define RATE_DEFAULT     20u /* records per second, per token and per /24 (/64) */
#define LIMITER_SLOTS    4096
#define EXIT_USAGE       2
#define EXIT_UNAVAILABLE 3
#define PATH_RECORDS     "/v1/records"

static const char usage[] =
    "usage: natcollect --tokens FILE --out DIR [--listen HOST[:PORT]]\n"
    "                  [--metrics HOST:PORT] [--max-bytes N] [--rate N]\n"
    "                  [--clickhouse URL [--clickhouse-table NAME]]\n"
    "                  [--tls-cert FILE --tls-key FILE]\n"
    "\n"
    "Take natprobe's records over HTTP (POST " PATH_RECORDS ", one record a request,\n"
    "Authorization: Bearer TOKEN), keep each run_id once, and append them to\n"
    "DIR/YYYY/MM/DD.jsonl (UTC), synced to disk before answering 2xx.\n"
    "\n"
    "  --tokens FILE    'NAME TOKEN' lines: the probes' tokens (16 characters or\n"
    "                   more), NAME for the counters\n"
    "  --out DIR        where the records go (made if missing); at start the\n"
    "                   files there give the run_ids already kept, and a line a\n"
    "                   kill cut short is removed\n"
    "  --listen HOST[:PORT]  where to take uploads (default 127.0.0.1:8480)\n"
    "  --tls-cert FILE  take them over HTTPS (GnuTLS) with this certificate chain\n"
    "  --tls-key FILE   and its private key, both PEM (read at start; the probes\n"
    "                   trust it through the system's CAs or natprobe --ca-file)\n"
    "  --metrics HOST:PORT  also serve the counters, Prometheus' text format, at\n"
    "                   GET /metrics there (a local port: they are not secret, but\n"
    "                   not the probes' business)\n"
    "  --max-bytes N    the largest record taken (default 65536)\n"
    "  --rate N         records a second per token and per source network (/24,\n"
    "                   /64), bursts of 2N (default 20; 0 no limit)\n"
    "  --clickhouse URL  also send each stored record to ClickHouse's HTTP\n"
    "                   interface (http://HOST:8123), as natreport export does,\n"
    "                   in batches each second into NAME (default natlab_records);\n"
    "                   the day files stay the truth: what ClickHouse did not\n"
    "                   get, natreport export --clickhouse loads from them\n"
    "  -h, --help       this text\n"
    "\n"
    "Answers: 201 stored, 200 a run_id already kept (nothing written), 400 not a\n"
    "record (the reason in the body), 401 no or an unknown token, 404, 405, 413\n"
    "too large, 429 over the rate (Retry-After), 503 or 507 (disk full) when it\n"
    "could not be stored: nothing of it kept, send it again. SIGTERM or SIGINT\n"
    "stops it; the counters are printed at exit.\n"
    "\n"
    "Exit status: 0 stopped by a signal; 2 bad usage or a bad token file; 3 the\n"
    "folder or a port could not be opened.\n";

enum counter {
	C_STORED,
	C_DUPLICATE,
	C_BAD_TOKEN,
	C_TOO_LARGE,
	C_BAD_JSON,
	C_NOT_RECORD,
	C_NO_RUN_ID,
	C_RATE_TOKEN,
	C_RATE_NETWORK,
	C_STORE_FAILED,
	C_NOT_FOUND,
	NCOUNTERS
};

static const char *const counter_name[NCOUNTERS] = {
    [C_STORED] = "stored",
    [C_DUPLICATE] = "duplicate",
    [C_BAD_TOKEN] = "bad_token",
    [C_TOO_LARGE] = "too_large",
    [C_BAD_JSON] = "bad_json",
    [C_NOT_RECORD] = "not_a_record",
    [C_NO_RUN_ID] = "no_run_id",
    [C_RATE_TOKEN] = "rate_limited_token",
    [C_RATE_NETWORK] = "rate_limited_network",
    [C_STORE_FAILED] = "store_failed",
    [C_NOT_FOUND] = "not_found",
};

#define PEM_MAX 65536 /* a certificate chain or key file, at most */

struct options {
	const char *tokens, *out, *clickhouse, *table;
	const char *tls_cert, *tls_key; /* --tls-*: file names */
	char *cert_pem, *key_pem;       /* their contents, NUL-terminated */
	struct sockaddr_storage listen, metrics;
	bool have_metrics;
	size_t max_bytes;
	unsigned rate;
};

struct collector {
	store_t *store;
	struct auth auth;
	refl_limiter_t *by_token, *by_network;
	size_t max_bytes;
	atomic_ulong count[NCOUNTERS];
	atomic_ulong stored_total; /* the store's run_ids, for the metrics thread */
	forwarder_t *forward;      /* --clickhouse; NULL none */
	struct forward_counts forwarded;
};

/* A request's body as it comes; `rejected` is the one state of every
 * request already answered before its body. */
struct upload {
	char *body;
	size_t len;
	bool too_big;
	bool no_memory; /* not the sender's fault: 503, send it again */
};
static struct upload rejected;

/* ---- answers ---- */

static enum MHD_Result answer(struct MHD_Connection *conn, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static enum MHD_Result answer(struct MHD_Connection *conn, unsigned status, const char *fmt, ...)
{
	char body[512];
	struct MHD_Response *r;
	enum MHD_Result rc;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(body, sizeof(body) - 1, fmt, ap);
	va_end(ap);
	strcat(body, "\n");
	r = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_COPY);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", "application/json");
	if (status == MHD_HTTP_TOO_MANY_REQUESTS)
		MHD_add_response_header(r, "Retry-After", "1");
	rc = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return rc;
}

static enum MHD_Result refuse(struct collector *c, struct MHD_Connection *conn, enum counter k,
			      unsigned status, const char *why)
{
	json_t *j = json_pack("{s:s, s:s}", "result", counter_name[k], "reason", why);
	char *text = json_dumps(j, JSON_COMPACT);
	enum MHD_Result rc = answer(conn, status, "%s", text ? text : "{}");

	atomic_fetch_add(&c->count[k], 1);
	free(text);
	json_decref(j);
	return rc;
}

/* ---- the request's start: where, who, how often ---- */

/* The source's network: its address with the host part (/24, /64) zeroed. */
static void network_of(const struct sockaddr *src, struct sockaddr_storage *net)
{
	memset(net, 0, sizeof(*net));
	memcpy(net, src, addr_len(src));
	if (net->ss_family == AF_INET)
		((uint8_t *)&((struct sockaddr_in *)net)->sin_addr)[3] = 0;
	else if (net->ss_family == AF_INET6)
		memset(((uint8_t *)&((struct sockaddr_in6 *)net)->sin6_addr) + 8, 0, 8);
}

/* A token's bucket: the limiter keys by address, so the token's index
 * becomes one, in 100::/64 (RFC 6666's discard block). The tokens' table is
 * its own, apart from the networks': no source address can share a bucket
 * with a token. */
static void token_key(int token, struct sockaddr_storage *key)
{
	struct sockaddr_in6 *a = (struct sockaddr_in6 *)key;

	memset(key, 0, sizeof(*key));
	a->sin6_family = AF_INET6;
	a->sin6_addr.s6_addr[0] = 0x01; /* 100::/64, RFC 6666's discard-only block */
	a->sin6_addr.s6_addr[15] = (uint8_t)token;
	a->sin6_addr.s6_addr[14] = (uint8_t)(token >> 8);
}

static enum MHD_Result begin(struct collector *c, struct MHD_Connection *conn, const char *url,
			     const char *method, void **state)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const char *length =
	    MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	struct sockaddr_storage key;
	uint64_t now = clock_now_us() * 1000u;
	int token;

	*state = &rejected;
	if (strcmp(url, PATH_RECORDS))
		return refuse(c, conn, C_NOT_FOUND, MHD_HTTP_NOT_FOUND, "POST " PATH_RECORDS);
	if (strcmp(method, "POST"))
		return refuse(c, conn, C_NOT_FOUND, MHD_HTTP_METHOD_NOT_ALLOWED, "POST only");
	token = auth_check(&c->auth, MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
								 MHD_HTTP_HEADER_AUTHORIZATION));
	if (token < 0)
		return refuse(c, conn, C_BAD_TOKEN, MHD_HTTP_UNAUTHORIZED,
			      "no token, or not one of this collector's (Authorization: Bearer)");
	token_key(token, &key);
	if (!refl_limiter_allow(c->by_token, (struct sockaddr *)&key, now))
		return refuse(c, conn, C_RATE_TOKEN, MHD_HTTP_TOO_MANY_REQUESTS,
			      "this token's rate is used up: send again later");
	network_of(ci->client_addr, &key);
	if (!refl_limiter_allow(c->by_network, (struct sockaddr *)&key, now))
		return refuse(c, conn, C_RATE_NETWORK, MHD_HTTP_TOO_MANY_REQUESTS,
			      "this network's rate is used up: send again later");
	if (length && strtoull(length, NULL, 10) > c->max_bytes)
		return refuse(c, conn, C_TOO_LARGE, MHD_HTTP_CONTENT_TOO_LARGE,
			      "the record is larger than --max-bytes");
	*state = calloc(1, sizeof(struct upload));
	return *state ? MHD_YES : MHD_NO;
}

/* ---- the body ---- */

static void take(struct collector *c, struct upload *u, const char *data, size_t size)
{
	char *more;

	if (u->too_big || u->no_memory || u->len + size > c->max_bytes) {
		u->too_big |= !u->no_memory;
		free(u->body);
		u->body = NULL;
		return;
	}
	more = realloc(u->body, u->len + size);
	if (!more) {
		u->no_memory = true;
		return;
	}
	memcpy(more + u->len, data, size);
	u->body = more;
	u->len += size;
}

/* The record as stored: schema and run_id first (store.h), the rest in
 * the order it came, one line. */
static char *stored_line(json_t *rec)
{
	json_t *out = json_pack("{s:O, s:O}", "schema", json_object_get(rec, "schema"), "run_id",
				json_object_get(rec, "run_id"));
	char *line = NULL;

	if (out && !json_object_update_missing(out, rec))
		line = json_dumps(out, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(out);
	return line;
}

/* --clickhouse: the stored record's row, as natreport export makes it. */
static void forward(struct collector *c, const json_t *rec, const char *line)
{
	struct nr_row *row = malloc(sizeof(*row));
	struct rec_where where = {.file = "upload", .text = line, .len = strlen(line)};
	char *text;

	if (!row) {
		atomic_fetch_add(&c->forwarded.dropped, 1);
		return;
	}
	nr_row_from(row, rec, NULL, "upload", 0, false);
	text = ch_row(row, rec, &where);
	if (text)
		forward_row(c->forward, text, strlen(text));
	else
		atomic_fetch_add(&c->forwarded.dropped, 1);
	free(text);
	free(row);
}

/* Checked, stored, answered. */
static enum MHD_Result finish(struct collector *c, struct MHD_Connection *conn, struct upload *u)
{
	char why[256], *line = NULL;
	json_error_t err;
	json_t *rec;
	const char *id_text;
	uint8_t id[STORE_ID_LEN];
	enum MHD_Result rc;
	int got;

	if (u->too_big)
		return refuse(c, conn, C_TOO_LARGE, MHD_HTTP_CONTENT_TOO_LARGE,
			      "the record is larger than --max-bytes");
	if (u->no_memory)
		return refuse(c, conn, C_STORE_FAILED, MHD_HTTP_SERVICE_UNAVAILABLE,
			      "out of memory: nothing kept, send it again");
	rec = json_loadb(u->body ? u->body : "", u->len, JSON_REJECT_DUPLICATES, &err);
	if (!rec) {
		snprintf(why, sizeof(why), "not JSON: %s (line %d, column %d)", err.text, err.line,
			 err.column);
		return refuse(c, conn, C_BAD_JSON, MHD_HTTP_BAD_REQUEST, why);
	}
	if (rec_check(rec, why, sizeof(why))) {
		json_decref(rec);
		return refuse(c, conn, C_NOT_RECORD, MHD_HTTP_BAD_REQUEST, why);
	}
	id_text = json_string_value(json_object_get(rec, "run_id"));
	if (!id_text || store_parse_id(id_text, id)) {
		json_decref(rec);
		return refuse(c, conn, C_NO_RUN_ID, MHD_HTTP_BAD_REQUEST,
			      "no run_id (a UUID): natprobe older than its collector?");
	}
	line = stored_line(rec);
	got = line ? store_put(c->store, id, line, strlen(line), time(NULL)) : -1;
	if (got < 0) {
		snprintf(why, sizeof(why), "not stored: %s; send it again", strerror(errno));
		rc = refuse(c, conn, C_STORE_FAILED,
			    errno == ENOSPC ? MHD_HTTP_INSUFFICIENT_STORAGE
					    : MHD_HTTP_SERVICE_UNAVAILABLE,
			    why);
	} else {
		atomic_fetch_add(&c->count[got ? C_DUPLICATE : C_STORED], 1);
		if (!got && c->forward)
			forward(c, rec, line);
		atomic_store(&c->stored_total, store_count(c->store));
		rc = answer(conn, got ? MHD_HTTP_OK : MHD_HTTP_CREATED,
			    "{\"result\":\"%s\",\"run_id\":\"%.36s\"}",
			    got ? "duplicate" : "stored", id_text);
	}
	free(line);
	json_decref(rec);
	return rc;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *data,
				  size_t *size, void **state)
{
	struct collector *c = cls;
	struct upload *u = *state;

	(void)version;
	if (!u)
		return begin(c, conn, url, method, state);
	if (*size) {
		if (u != &rejected)
			take(c, u, data, *size);
		*size = 0;
		return MHD_YES;
	}
	return u == &rejected ? MHD_YES : finish(c, conn, u);
}

static void on_done(void *cls, struct MHD_Connection *conn, void **state,
		    enum MHD_RequestTerminationCode why)
{
	struct upload *u = *state;

	(void)cls;
	(void)conn;
	(void)why;
	if (u && u != &rejected) {
		free(u->body);
		free(u);
	}
	*state = NULL;
}

/* ---- metrics ---- */

static enum MHD_Result on_metrics(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *data,
				  size_t *size, void **state)
{
	struct collector *c = cls;
	char *text = NULL;
	size_t len = 0;
	FILE *f;
	struct MHD_Response *r;
	enum MHD_Result rc;

	(void)version;
	(void)data;
	(void)size;
	(void)state;
	if (strcmp(url, "/metrics") || strcmp(method, "GET"))
		return answer(conn, MHD_HTTP_NOT_FOUND, "GET /metrics");
	f = open_memstream(&text, &len);
	if (!f)
		return MHD_NO;
	fputs("# HELP natcollect_requests_total Uploads by outcome.\n"
	      "# TYPE natcollect_requests_total counter\n",
	      f);
	for (int k = 0; k < NCOUNTERS; k++)
		fprintf(f, "natcollect_requests_total{outcome=\"%s\"} %lu\n", counter_name[k],
			atomic_load(&c->count[k]));
	fprintf(
	    f,
	    "# HELP natcollect_clickhouse_rows_total Rows forwarded to ClickHouse (--clickhouse).\n"
	    "# TYPE natcollect_clickhouse_rows_total counter\n"
	    "natcollect_clickhouse_rows_total{outcome=\"sent\"} %lu\n"
	    "natcollect_clickhouse_rows_total{outcome=\"dropped\"} %lu\n"
	    "# HELP natcollect_clickhouse_failed_batches_total Batches ClickHouse did not take.\n"
	    "# TYPE natcollect_clickhouse_failed_batches_total counter\n"
	    "natcollect_clickhouse_failed_batches_total %lu\n",
	    atomic_load(&c->forwarded.sent), atomic_load(&c->forwarded.dropped),
	    atomic_load(&c->forwarded.failed_batches));
	fprintf(f,
		"# HELP natcollect_records Records kept (distinct run_ids).\n"
		"# TYPE natcollect_records gauge\nnatcollect_records %lu\n",
		atomic_load(&c->stored_total));
	fclose(f);
	r = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(text);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type", "text/plain; version=0.0.4");
	rc = MHD_queue_response(conn, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return rc;
}

/* ---- start ---- */

static int parse_count(const char *arg, const char *opt, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v = strtoul(arg, &end, 10);

	if (!*arg || *end || v > max) {
		fprintf(stderr, "natcollect: %s: '%s' is not a number from 0 to %lu\n", opt, arg,
			max);
		return -1;
	}
	*out = v;
	return 0;
}

static int parse_where(const char *arg, const char *opt, struct sockaddr_storage *ss)
{
	char err[128];

	if (addr_parse(arg, ADDR_PORT_OPTIONAL, PORT_DEFAULT, ss, err, sizeof(err))) {
		fprintf(stderr, "natcollect: %s: %s\n", opt, err);
		return -1;
	}
	return 0;
}

static int parse_options(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
	    {"tokens", required_argument, NULL, 't'},
	    {"out", required_argument, NULL, 'o'},
	    {"listen", required_argument, NULL, 'l'},
	    {"metrics", required_argument, NULL, 'm'},
	    {"clickhouse", required_argument, NULL, 'c'},
	    {"clickhouse-table", required_argument, NULL, 'T'},
	    {"max-bytes", required_argument, NULL, 'b'},
	    {"rate", required_argument, NULL, 'r'},
	    {"tls-cert", required_argument, NULL, 'C'},
	    {"tls-key", required_argument, NULL, 'K'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	unsigned long v;
	int ch;

	memset(o, 0, sizeof(*o));
	o->max_bytes = MAX_BYTES_DEF;
	o->rate = RATE_DEFAULT;
	o->table = CH_TABLE_DEFAULT;
	if (parse_where("127.0.0.1", "--listen", &o->listen))
		return -1;
	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case 't':
			o->tokens = optarg;
			break;
		case 'c':
			o->clickhouse = optarg;
			break;
		case 'T':
			o->table = optarg;
			break;
		case 'o':
			o->out = optarg;
			break;
		case 'l':
			if (parse_where(optarg, "--listen", &o->listen))
				return -1;
			break;
		case 'm':
			if (parse_where(optarg, "--metrics", &o->metrics))
				return -1;
			o->have_metrics = true;
			break;
		case 'b':
			if (parse_count(optarg, "--max-bytes", MAX_BYTES_MAX, &v))
				return -1;
			o->max_bytes = v < 256 ? 256 : v; /* no record is smaller */
			break;
		case 'r':
			if (parse_count(optarg, "--rate", 1000000, &v))
				return -1;
			o->rate = (unsigned)v;
			break;
		case 'C':
			o->tls_cert = optarg;
			break;
		case 'K':
			o->tls_key = optarg;
			break;
		case 'h':
			fputs(usage, stdout);
			exit(0);
		default:
			return -1;
		}
	}
	if (!o->tokens || !o->out || optind != argc) {
		fprintf(stderr, "natcollect: want --tokens FILE and --out DIR, nothing else\n%s",
			usage);
		return -1;
	}
	if (!o->tls_cert != !o->tls_key) {
		fprintf(stderr, "natcollect: --tls-cert and --tls-key go together\n");
		return -1;
	}
	return 0;
}

/* A PEM file whole, NUL-terminated: NULL after saying why. */
static char *read_pem(const char *path, const char *opt)
{
	FILE *f = fopen(path, "r");
	char *text = f ? malloc(PEM_MAX + 2) : NULL;
	size_t n = text ? fread(text, 1, PEM_MAX + 1, f) : 0;
	const char *why = !f ? strerror(errno) : !text ? "out of memory" : NULL;

	if (f)
		fclose(f);
	if (text)
		text[n] = '\0';
	if (!why && (n == 0 || n > PEM_MAX || !strstr(text, "-----BEGIN ")))
		why = n > PEM_MAX ? "larger than 64 KiB" : "not a PEM file";
	if (why) {
		fprintf(stderr, "natcollect: %s %s: %s\n", opt, path, why);
		free(text);
		return NULL;
	}
	return text;
}

/* The uploads' daemon (with the TLS key and certificate when given) or
 * the metrics' (plain HTTP on a local port). */
static struct MHD_Daemon *serve(const struct sockaddr_storage *where, MHD_AccessHandlerCallback h,
				struct collector *c, const struct options *tls)
{
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG |
			 (where->ss_family == AF_INET6 ? MHD_USE_IPv6 : 0) |
			 (tls && tls->cert_pem ? MHD_USE_TLS : 0);
	struct MHD_OptionItem certs[] = {
	    {MHD_OPTION_HTTPS_MEM_KEY, 0, tls ? tls->key_pem : NULL},
	    {MHD_OPTION_HTTPS_MEM_CERT, 0, tls ? tls->cert_pem : NULL},
	    {MHD_OPTION_END, 0, NULL},
	};

	if (!(flags & MHD_USE_TLS))
		certs[0].option = MHD_OPTION_END;
	return MHD_start_daemon(
	    flags, addr_port((const struct sockaddr *)where), NULL, NULL, h, c,
	    MHD_OPTION_SOCK_ADDR, (const struct sockaddr *)where, MHD_OPTION_NOTIFY_COMPLETED,
	    tls ? on_done : NULL, NULL, MHD_OPTION_CONNECTION_LIMIT, 1024u,
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT, 64u, MHD_OPTION_CONNECTION_TIMEOUT, 30u,
	    MHD_OPTION_ARRAY, certs, MHD_OPTION_END);
}

static void report_counters(FILE *out, struct collector *c)
{
	fprintf(out, "natcollect: stopped; records kept %lu", atomic_load(&c->stored_total));
	if (c->forward)
		fprintf(out, ", to ClickHouse %lu (dropped %lu, batches refused %lu)",
			atomic_load(&c->forwarded.sent), atomic_load(&c->forwarded.dropped),
			atomic_load(&c->forwarded.failed_batches));
	for (int k = 0; k < NCOUNTERS; k++)
		fprintf(out, ", %s %lu", counter_name[k], atomic_load(&c->count[k]));
	fputc('\n', out);
}

int main(int argc, char **argv)
{
	static struct collector c;
	struct options o;
	struct store_stats st;
	struct MHD_Daemon *up = NULL, *metrics = NULL;
	char why[256], where[ADDR_STRLEN];
	const char *what;
	sigset_t set;
	int sig, rc = 0;

	if (parse_options(argc, argv, &o))
		return EXIT_USAGE;
	if (o.tls_cert && (!(o.cert_pem = read_pem(o.tls_cert, "--tls-cert")) ||
			   !(o.key_pem = read_pem(o.tls_key, "--tls-key")))) {
		free(o.cert_pem);
		return EXIT_USAGE;
	}
	if (auth_load(&c.auth, o.tokens, why, sizeof(why))) {
		fprintf(stderr, "natcollect: --tokens %s\n", why);
		return EXIT_USAGE;
	}
	c.max_bytes = o.max_bytes;
	c.store = store_open(o.out, &st, &what);
	if (!c.store) {
		fprintf(stderr, "natcollect: --out %s: %s: %s\n", o.out, what, strerror(errno));
		return EXIT_UNAVAILABLE;
	}
	atomic_store(&c.stored_total, store_count(c.store));
	c.by_token = refl_limiter_new(o.rate, 2 * o.rate, LIMITER_SLOTS, clock_now_us());
	c.by_network = refl_limiter_new(o.rate, 2 * o.rate, LIMITER_SLOTS, clock_now_us() * 31);
	/* Signals wait for sigwait here, not in the daemons' threads. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (o.clickhouse) {
		curl_global_init(CURL_GLOBAL_DEFAULT);
		c.forward = forward_start(o.clickhouse, o.table, &c.forwarded);
	}
	if (c.by_token && c.by_network && (!o.clickhouse || c.forward))
		up = serve(&o.listen, on_request, &c, &o);
	if (up && o.have_metrics)
		metrics = serve(&o.metrics, on_metrics, &c, NULL);
	if (!up || (o.have_metrics && !metrics)) {
		fprintf(stderr, "natcollect: cannot listen on %s\n",
			addr_format((const struct sockaddr *)(up ? &o.metrics : &o.listen), where,
				    sizeof(where)));
		rc = EXIT_UNAVAILABLE;
	} else {
		printf("natcollect ready listen=%s tls=%s records=%lu repaired=%lu unindexed=%lu\n",
		       addr_format((const struct sockaddr *)&o.listen, where, sizeof(where)),
		       o.cert_pem ? "on" : "off", st.loaded, st.repaired, st.unreadable);
		fflush(stdout);
		sigwait(&set, &sig);
	}
	if (metrics)
		MHD_stop_daemon(metrics);
	if (up)
		MHD_stop_daemon(up);
	forward_stop(c.forward); /* after the uploads: what they stored goes too */
	if (o.clickhouse)
		curl_global_cleanup();
	if (!rc)
		report_counters(stdout, &c);
	store_close(c.store);
	refl_limiter_free(c.by_token);
	refl_limiter_free(c.by_network);
	free(o.cert_pem);
	free(o.key_pem);
	return rc;
}
