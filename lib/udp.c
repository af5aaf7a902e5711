#include "udp.h"

#include <sys/resource.h>
#include <unistd.h>

#include "addr.h"

static int socket_toward(int type, const struct sockaddr *toward, uint16_t port,
			 struct sockaddr_storage *local)
{
	struct sockaddr_storage at = {.ss_family = toward->sa_family};
	socklen_t len = sizeof(*local);
	int fd, on = 1;

	/* No route: bound to the wildcard; its sends fail as the route's would. */
	if (addr_route_source(toward, port, &at))
		addr_set_port((struct sockaddr *)&at, port);
	fd = socket(toward->sa_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if ((type == SOCK_STREAM && (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) ||
				     setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)))) ||
	    bind(fd, (struct sockaddr *)&at, addr_len((struct sockaddr *)&at)) ||
	    getsockname(fd, (struct sockaddr *)local, &len)) {
		close(fd);
		return -1;
	}
	return fd;
}

int udp_socket_toward(const struct sockaddr *toward, uint16_t port, struct sockaddr_storage *local)
{
	return socket_toward(SOCK_DGRAM, toward, port, local);
}

int tcp_socket_toward(const struct sockaddr *toward, uint16_t port, struct sockaddr_storage *local)
{
	return socket_toward(SOCK_STREAM, toward, port, local);
}

unsigned long long open_files_raise(unsigned long long want)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return 0;
	if (rl.rlim_cur < want) {
		rl.rlim_cur = rl.rlim_max < want ? rl.rlim_max : want;
		if (setrlimit(RLIMIT_NOFILE, &rl) && getrlimit(RLIMIT_NOFILE, &rl))
			return 0;
	}
	return rl.rlim_cur;
}
