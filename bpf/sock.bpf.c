// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * sock: cgroup socket hooks for published ports reached from the host itself
 * (localhost:5000, hostIP:5000) and from containers through a host address
 * (hairpin). connect() and sendmsg() to a published address are sent to the
 * container's address instead, so no packet needs translating; recvmsg() and
 * getpeername() show the published address again. They act only in network
 * namespaces the agent registered in bp_netns, and allow the call but for one case:
 * a container asking for a restricted port it is not allowed on (BP_SOCK_REFUSE fails its
 * connect() or sendmsg() with EPERM). In a container they also send 127.0.0.11:53 to the
 * port the agent's embedded DNS server listens on there, and show 53 again.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "lib/maps.h"
#include "lib/metrics.h"
#include "lib/ports.h"

/* The published target of ctx's destination (key: the entry that matched; netns: the
 * namespace's registration), or NULL if it is none or not ours to touch. */
static __always_inline struct bp_port_target *bp_sock_target(struct bpf_sock_addr *ctx, __u8 proto,
							     struct bp_port_key *key, const struct bp_netns *netns)
{
	__u32 ip = ctx->user_ip4;
	int loopback = (ip & bpf_htonl(0xff000000)) == bpf_htonl(0x7f000000);
	/* Loopback is the host only in the host's namespace; in a container it is the container. */
	if (!(loopback && netns->kind == BP_NETNS_HOST) && !bpf_map_lookup_elem(&bp_host_addrs, &ip))
		return NULL;

	return bp_published(ip, (__u16)ctx->user_port, proto, key);
}

/* The embedded DNS server's port in the container for this socket's protocol (0: none). */
static __always_inline __u16 bp_dns_port(const struct bp_netns *netns, __u32 protocol)
{
	if (netns->kind != BP_NETNS_CONTAINER)
		return 0;
	return protocol == BP_PROTO_TCP ? netns->dns_tcp_port : netns->dns_udp_port;
}

/* 127.0.0.11:53 in a container: the agent's DNS socket there, at a port of its own. */
static __always_inline int bp_sock_to_dns(struct bpf_sock_addr *ctx, const struct bp_netns *netns)
{
	__u16 port = bp_dns_port(netns, ctx->protocol);
	if (!port || ctx->user_ip4 != bpf_htonl(BP_DNS_IP) || ctx->user_port != bpf_htons(BP_DNS_PORT))
		return 0;
	ctx->user_port = port;
	return 1;
}

/* ... and 53 again where the socket sees that port (recvmsg, getpeername). */
static __always_inline void bp_sock_from_dns(struct bpf_sock_addr *ctx)
{
	__u64 cookie = bpf_get_netns_cookie(ctx);
	struct bp_netns *netns = bpf_map_lookup_elem(&bp_netns, &cookie);
	if (!netns)
		return;
	__u16 port = bp_dns_port(netns, ctx->protocol);
	if (port && ctx->user_ip4 == bpf_htonl(BP_DNS_IP) && ctx->user_port == port)
		ctx->user_port = bpf_htons(BP_DNS_PORT);
}

/*
 * Sends the socket to the published target instead; refuses it when the port is restricted
 * and the container asking is not on its allow list (counted as not_allowed on the
 * container's veth). The host's own sockets are not filtered, as Docker's DOCKER-USER
 * chain does not see them.
 */
static __always_inline int bp_sock_redirect(struct bpf_sock_addr *ctx, __u8 proto, int new_flow)
{
	struct bp_port_key port;
	__u64 cookie = bpf_get_netns_cookie(ctx);
	struct bp_netns *found = bpf_map_lookup_elem(&bp_netns, &cookie);
	if (!found)
		return BP_SOCK_ALLOW;
	struct bp_netns netns = *found;
	if (bp_sock_to_dns(ctx, &netns))
		return BP_SOCK_ALLOW;
	struct bp_port_target *target = bp_sock_target(ctx, proto, &port, &netns);
	if (!target)
		return BP_SOCK_ALLOW;
	if ((target->flags & BP_PORT_F_RESTRICTED) && netns.kind == BP_NETNS_CONTAINER &&
	    !bp_port_allows(port.host_ip, port.host_port, proto, netns.ip))
		return bp_sock_refuse(netns.ifindex, BP_DROP_NOT_ALLOWED, BP_DIR_EGRESS);
	bp_count_port(&port, 0, new_flow);
	struct bp_sock_nat_key key = { .cookie = bpf_get_socket_cookie(ctx), .ip = target->ip, .port = target->port };
	struct bp_nat_value published = { .host_ip = ctx->user_ip4, .host_port = (__u16)ctx->user_port };

	bpf_map_update_elem(&bp_sock_nat, &key, &published, BPF_ANY);
	ctx->user_ip4 = target->ip;
	ctx->user_port = target->port;
	return BP_SOCK_ALLOW;
}

/* Shows the published address where the socket sees a redirected container address. */
static __always_inline void bp_sock_restore(struct bpf_sock_addr *ctx)
{
	struct bp_sock_nat_key key = {
		.cookie = bpf_get_socket_cookie(ctx), .ip = ctx->user_ip4, .port = (__u16)ctx->user_port,
	};
	struct bp_nat_value *published = bpf_map_lookup_elem(&bp_sock_nat, &key);

	if (published) {
		ctx->user_ip4 = published->host_ip;
		ctx->user_port = published->host_port;
	}
}

SEC("cgroup/connect4")
int bp_connect4(struct bpf_sock_addr *ctx)
{
	if (ctx->protocol == BP_PROTO_TCP || ctx->protocol == BP_PROTO_UDP)
		return bp_sock_redirect(ctx, ctx->protocol, 1);
	return BP_SOCK_ALLOW;
}

SEC("cgroup/sendmsg4")
int bp_sendmsg4(struct bpf_sock_addr *ctx)
{
	if (ctx->protocol != BP_PROTO_UDP)  /* UDP-Lite, raw: not a published port's nor the DNS server's */
		return BP_SOCK_ALLOW;
	return bp_sock_redirect(ctx, BP_PROTO_UDP, 0);
}

SEC("cgroup/recvmsg4")
int bp_recvmsg4(struct bpf_sock_addr *ctx)
{
	bp_sock_restore(ctx);
	bp_sock_from_dns(ctx);
	return BP_SOCK_ALLOW;
}

SEC("cgroup/getpeername4")
int bp_peername4(struct bpf_sock_addr *ctx)
{
	bp_sock_restore(ctx);
	bp_sock_from_dns(ctx);
	return BP_SOCK_ALLOW;
}

char _license[] SEC("license") = "Dual BSD/GPL";
