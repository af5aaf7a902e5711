/*
 * bareresponder: the yardstick of `make bench`, the least a Binding responder
 * can do. One UDP socket, recvmmsg, a 32-byte answer (header and
 * XOR-MAPPED-ADDRESS) written by hand over the request's header, sendmmsg.
 * No CHANGE-REQUEST, no FINGERPRINT check, no limits: what is left between
 * it and natreflector is the price of being a complete, safe reflector.
 * IPv4 only. Runs until SIGTERM/SIGINT.
 */
#define _GNU_SOURCE /* recvmmsg, sendmmsg */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <netinet/in.h>
#include <sys/socket.h>

#include "addr.h"
#include "counters.h"
#include "stun.h"
#include "wire.h"

#define BATCH 64

int main(int argc, char **argv)
{
	static uint8_t in[BATCH][2048], out[BATCH][32];
	struct mmsghdr rh[BATCH], sh[BATCH];
	struct iovec riov[BATCH], siov[BATCH];
	struct sockaddr_in from[BATCH];
	struct sockaddr_storage bind_to;
	char err[128];
	int fd, size = 4 << 20; /* natreflector's receive buffer, for a fair race */

	if (argc != 2 || addr_parse(argv[1], ADDR_PORT_REQUIRED, 0, &bind_to, err, sizeof(err)) ||
	    bind_to.ss_family != AF_INET) {
		fprintf(stderr, "usage: bareresponder IPV4:PORT\n");
		return 2;
	}
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd >= 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	if (fd < 0 || bind(fd, (struct sockaddr *)&bind_to, sizeof(struct sockaddr_in))) {
		perror("bareresponder: bind");
		return 2;
	}
	counters_signals();
	printf("bareresponder ready\n");
	fflush(stdout);
	while (!counters_stop) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int n, m = 0;

		if (poll(&p, 1, 250) <= 0)
			continue;
		for (int i = 0; i < BATCH; i++) {
			riov[i] = (struct iovec){in[i], sizeof(in[i])};
			rh[i].msg_hdr = (struct msghdr){.msg_name = &from[i],
							.msg_namelen = sizeof(from[i]),
							.msg_iov = &riov[i],
							.msg_iovlen = 1};
		}
		n = recvmmsg(fd, rh, BATCH, MSG_DONTWAIT, NULL);
		for (int i = 0; i < n; i++) {
			uint8_t *o = out[m];

			if (rh[i].msg_len < STUN_HEADER_LEN || in[i][0] != 0 || in[i][1] != 1 ||
			    wire_get32(in[i] + 4) != STUN_MAGIC_COOKIE)
				continue;
			memcpy(o, in[i], STUN_HEADER_LEN);
			wire_put16(o, 0x0101);
			wire_put16(o + 2, 12);
			wire_put16(o + 20, STUN_ATTR_XOR_MAPPED_ADDRESS);
			wire_put16(o + 22, 8);
			wire_put16(o + 24, 1);
			wire_put16(o + 26, ntohs(from[i].sin_port) ^ (STUN_MAGIC_COOKIE >> 16));
			wire_put32(o + 28, ntohl(from[i].sin_addr.s_addr) ^ STUN_MAGIC_COOKIE);
			siov[m] = (struct iovec){o, 32};
			sh[m].msg_hdr = (struct msghdr){.msg_name = &from[i],
							.msg_namelen = sizeof(from[i]),
							.msg_iov = &siov[m],
							.msg_iovlen = 1};
			m++;
		}
		for (int sent = 0; sent < m;) {
			int r = sendmmsg(fd, sh + sent, (unsigned)(m - sent), 0);

			if (r <= 0)
				break;
			sent += r;
		}
	}
	close(fd);
	return 0;
}
