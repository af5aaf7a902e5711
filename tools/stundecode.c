/*
 * stundecode: print a STUN message attribute by attribute and check its
 * FINGERPRINT and MESSAGE-INTEGRITY. For the engineer with a hex dump from
 * tcpdump or Wireshark who wants to know what a NAT or server really sent.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "hex.h"
#include "stun.h"
#include "wire.h"

#define EXIT_BAD_MESSAGE 1 /* malformed, or a check failed */
#define EXIT_USAGE       2 /* bad options, unreadable file, bad hex */
#define MAX_INPUT        (STUN_HEADER_LEN + 0x10000)
#define HEX_INPUT        (4 * MAX_INPUT) /* room for spaces, line breaks and comments */

static const char usage[] =
    "usage: stundecode [--raw] [--legacy] [--password PW | --long-term USER:REALM:PASS]\n"
    "                  [FILE...]\n"
    "\n"
    "Decode STUN messages (RFC 8489/5389, RFC 5780, RFC 3489) and check their\n"
    "FINGERPRINT and MESSAGE-INTEGRITY. Each FILE holds one message, as hex\n"
    "(white space ignored, '#' starts a comment) or, with --raw, as bytes.\n"
    "With no FILE, or '-', the message is read from standard input.\n"
    "\n"
    "  -r, --raw                 FILE holds the message's bytes, not hex\n"
    "  -l, --legacy              accept RFC 3489 messages (no magic cookie)\n"
    "  -p, --password PW         short-term key for MESSAGE-INTEGRITY(-SHA256)\n"
    "  -L, --long-term U:R:P     long-term key MD5(U:R:P); strings already SASLprep'd\n"
    "  -h, --help                this text\n"
    "\n"
    "Exit status: 0 every message parsed and every check that could be made\n"
    "passed; 1 a message was malformed or a check failed; 2 bad usage or input.\n";

struct options {
	bool raw;
	unsigned parse_flags;
	uint8_t key[256];
	size_t key_len; /* 0: no key, integrity not checked */
};

static int parse_long_term(const char *arg, struct options *o)
{
	char copy[768], *realm, *password;

	if (strlen(arg) >= sizeof(copy)) {
		fprintf(stderr, "stundecode: --long-term value too long\n");
		return -1;
	}
	strcpy(copy, arg);
	realm = strchr(copy, ':');
	password = realm ? strchr(realm + 1, ':') : NULL;
	if (!password) {
		fprintf(stderr, "stundecode: --long-term wants USER:REALM:PASS, not '%s'\n", arg);
		return -1;
	}
	*realm++ = '\0';
	*password++ = '\0';
	stun_long_term_key(copy, realm, password, o->key);
	o->key_len = STUN_LONG_TERM_KEY_LEN;
	return 0;
}

static int parse_options(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
	    {"raw", no_argument, NULL, 'r'},
	    {"legacy", no_argument, NULL, 'l'},
	    {"password", required_argument, NULL, 'p'},
	    {"long-term", required_argument, NULL, 'L'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int c;

	while ((c = getopt_long(argc, argv, "rlp:L:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'r':
			o->raw = true;
			break;
		case 'l':
			o->parse_flags |= STUN_PARSE_LEGACY;
			break;
		case 'p':
			if (strlen(optarg) > sizeof(o->key)) {
				fprintf(stderr, "stundecode: --password longer than %zu bytes\n",
					sizeof(o->key));
				return -1;
			}
			o->key_len = strlen(optarg);
			memcpy(o->key, optarg, o->key_len);
			break;
		case 'L':
			if (parse_long_term(optarg, o))
				return -1;
			break;
		case 'h':
			fputs(usage, stdout);
			exit(0);
		default:
			fputs(usage, stderr);
			return -1;
		}
	}
	return 0;
}

/* The whole file, at most cap bytes; -1 with a message on failure. */
static int read_input(const char *path, uint8_t *buf, size_t cap, size_t *len)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
	int rc = 0;

	if (!f) {
		fprintf(stderr, "stundecode: %s: %s\n", path, strerror(errno));
		return -1;
	}
	*len = fread(buf, 1, cap, f);
	if (ferror(f)) {
		fprintf(stderr, "stundecode: %s: read error\n", path);
		rc = -1;
	} else if (!feof(f) && fgetc(f) != EOF) {
		fprintf(stderr,
			"stundecode: %s: more than %zu bytes: larger than any STUN message\n", path,
			cap);
		rc = -1;
	}
	if (f != stdin)
		fclose(f);
	return rc;
}

static int load_message(const char *path, const struct options *o, uint8_t *msg, size_t *len)
{
	static char text[HEX_INPUT + 1];
	char err[128];
	size_t n;

	if (o->raw)
		return read_input(path, msg, MAX_INPUT, len);
	if (read_input(path, (uint8_t *)text, HEX_INPUT, &n))
		return -1;
	text[n] = '\0';
	if (strlen(text) != n) {
		fprintf(stderr, "stundecode: %s: NUL byte in hex input (binary? try --raw)\n",
			path);
		return -1;
	}
	if (hex_decode(text, msg, MAX_INPUT, len, err, sizeof(err))) {
		fprintf(stderr, "stundecode: %s: %s\n", path, err);
		return -1;
	}
	return 0;
}

static void print_text(const uint8_t *v, size_t len)
{
	putchar('"');
	for (size_t i = 0; i < len; i++) {
		if (v[i] == '"' || v[i] == '\\')
			printf("\\%c", v[i]);
		else if (v[i] >= 0x20 && v[i] < 0x7f)
			putchar(v[i]);
		else
			printf("\\x%02x", v[i]);
	}
	putchar('"');
}

static void print_hex(const uint8_t *v, size_t len)
{
	for (size_t i = 0; i < len && i < 32; i++)
		printf("%02x", v[i]);
	if (len > 32)
		printf("... (%zu bytes)", len);
}

static const char *check_word(enum stun_err err)
{
	return err == STUN_OK ? "ok" : stun_err_name(err);
}

/* One attribute's value, as its type says it should be read. */
static bool print_value(const struct stun_msg *m, const struct stun_attr *a,
			const struct options *o)
{
	const uint8_t *v = stun_attr_value(m, a);
	struct sockaddr_storage ss;
	char text[ADDR_STRLEN];
	enum stun_err err;

	switch (a->type) {
	case STUN_ATTR_USERNAME:
	case STUN_ATTR_PASSWORD:
	case STUN_ATTR_REALM:
	case STUN_ATTR_NONCE:
	case STUN_ATTR_SOFTWARE:
	case STUN_ATTR_ALTERNATE_DOMAIN:
		print_text(v, a->len);
		return true;
	case STUN_ATTR_PRIORITY:
	case STUN_ATTR_CACHE_TIMEOUT:
		printf("%u", wire_get32(v));
		return true;
	case STUN_ATTR_CHANGE_REQUEST:
		printf("change-ip=%s change-port=%s", wire_get32(v) & STUN_CHANGE_IP ? "yes" : "no",
		       wire_get32(v) & STUN_CHANGE_PORT ? "yes" : "no");
		return true;
	case STUN_ATTR_RESPONSE_PORT:
		printf("%u", wire_get16(v));
		return true;
	case STUN_ATTR_ERROR_CODE:
		printf("%u ", (v[2] & 7u) * 100u + v[3]);
		print_text(v + 4, a->len - 4u);
		return true;
	case STUN_ATTR_UNKNOWN_ATTRIBUTES:
		for (size_t i = 0; i + 1 < a->len; i += 2)
			printf("%s0x%04x", i ? " " : "", wire_get16(v + i));
		return true;
	case STUN_ATTR_FINGERPRINT:
		err = stun_check_fingerprint(m);
		printf("0x%08x %s", wire_get32(v), check_word(err));
		return err == STUN_OK;
	case STUN_ATTR_MESSAGE_INTEGRITY:
	case STUN_ATTR_MESSAGE_INTEGRITY_SHA256:
		print_hex(v, a->len);
		if (!o->key_len) {
			printf(" (not checked: no --password or --long-term)");
			return true;
		}
		err = a->type == STUN_ATTR_MESSAGE_INTEGRITY
			  ? stun_check_integrity(m, o->key, o->key_len)
			  : stun_check_integrity_sha256(m, o->key, o->key_len);
		printf(" %s", check_word(err));
		return err == STUN_OK;
	default:
		if (stun_attr_addr(m, a, &ss) == STUN_OK) {
			printf("%s", addr_format((struct sockaddr *)&ss, text, sizeof(text)));
			return true;
		}
		print_hex(v, a->len);
		return true;
	}
}

static bool print_message(const char *name, const struct stun_msg *m, const struct options *o)
{
	const char *method = stun_method_name(m->method);
	bool ok = true;

	if (method)
		printf("%s: %s %s", name, method, stun_class_name(m->cls));
	else
		printf("%s: method 0x%03x %s", name, m->method, stun_class_name(m->cls));
	printf(", %zu bytes, %stransaction ", m->len,
	       m->legacy ? "RFC 3489 (no magic cookie), " : "");
	if (m->legacy)
		printf("%08x", m->cookie);
	print_hex(m->tid, STUN_TID_LEN);
	putchar('\n');
	for (size_t i = 0; i < m->nattrs; i++) {
		const struct stun_attr *a = &m->attrs[i];
		const char *attr = stun_attr_name(a->type);

		printf("  %-24s 0x%04x %4u  ", attr ? attr : "(unknown)", a->type, a->len);
		ok &= print_value(m, a, o);
		putchar('\n');
	}
	if (m->ignored)
		printf("  (%zu attributes after MESSAGE-INTEGRITY ignored, RFC 8489 14.5)\n",
		       m->ignored);
	return ok;
}

static int decode_one(const char *path, const struct options *o)
{
	static uint8_t buf[MAX_INPUT];
	struct stun_msg m;
	size_t len;
	enum stun_err err;
	const char *name = strcmp(path, "-") ? path : "stdin";

	if (load_message(path, o, buf, &len))
		return EXIT_USAGE;
	err = stun_parse(&m, buf, len, o->parse_flags);
	if (err != STUN_OK && err != STUN_ERR_UNKNOWN_REQUIRED) {
		printf("%s: malformed: %s (%s)%s\n", name, stun_err_name(err), stun_strerror(err),
		       err == STUN_ERR_BAD_COOKIE ? "; --legacy accepts RFC 3489 messages" : "");
		return EXIT_BAD_MESSAGE;
	}
	if (!print_message(name, &m, o))
		return EXIT_BAD_MESSAGE;
	if (err == STUN_ERR_UNKNOWN_REQUIRED) {
		printf("  unknown comprehension-required attributes: a server answers 420\n");
		return EXIT_BAD_MESSAGE;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct options o = {0};
	int status = 0;

	if (parse_options(argc, argv, &o))
		return EXIT_USAGE;
	if (optind == argc)
		return decode_one("-", &o);
	for (int i = optind; i < argc; i++) {
		int rc = decode_one(argv[i], &o);

		if (rc > status)
			status = rc;
	}
	return status;
}
