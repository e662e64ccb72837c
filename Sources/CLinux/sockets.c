// Sockets the agent holds without reading them.
#include "clinux.h"

#include <errno.h>
#include <sys/socket.h>
#include <linux/filter.h>

int bp_socket_accept_nothing(int fd)
{
	struct sock_filter ret_zero = BPF_STMT(BPF_RET | BPF_K, 0);
	struct sock_fprog program = { .len = 1, .filter = &ret_zero };

	return setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &program, sizeof(program)) ? -errno : 0;
}
