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

/* Where a socket's destination goes (bp_sock_dest4, bp_sock_dest6). */
enum bp_sock_dest {
	BP_SOCK_KEEP,      /* not ours: untouched */
	BP_SOCK_DNS,       /* the embedded DNS server's port instead of 53 */
	BP_SOCK_PUBLISHED, /* a published port's target, to be remembered for recvmsg/getpeername */
	BP_SOCK_DENIED,    /* a restricted port the container is not allowed on */
};

/*
 * Which of the redirect maps hold an entry of a socket (bp_sock_marks, the socket's own
 * storage): recvmsg() runs for every datagram a UDP socket receives, and a socket never
 * redirected (nearly all) costs one pointer read there instead of two hash lookups by
 * source address (about 60 ns a datagram, 125 with 10,000 sources). The storage goes
 * with the socket; the entries stay LRU's. A socket an agent without marks redirected (an
 * upgrade) has its entry and no mark: from then on it sees the target's address.
 */
enum bp_sock_marks {
	BP_SOCK_MARK_NAT = 1,  /* bp_sock_nat */
	BP_SOCK_MARK_NAT6 = 2, /* bp_sock_nat6 */
};

/* Marks the socket before its entry is written: a reader that sees the mark and finds no
 * entry yet shows the address as it is, as without a redirect. Without memory for the
 * mark, the entry is written anyway; the socket then sees the target's address. */
static __always_inline void bp_sock_mark(struct bpf_sock_addr *ctx, __u32 mark)
{
	__u32 *marks = bpf_sk_storage_get(&bp_sock_marks, ctx->sk, 0, BPF_SK_STORAGE_GET_F_CREATE);

	if (marks && !(*marks & mark))
		__sync_fetch_and_or(marks, mark);
}

static __always_inline __u32 bp_sock_marks_of(struct bpf_sock_addr *ctx)
{
	__u32 *marks = bpf_sk_storage_get(&bp_sock_marks, ctx->sk, 0, 0);

	return marks ? *marks : 0;
}

/* The embedded DNS server's port in the container for this socket's protocol (0: none). */
static __always_inline __u16 bp_dns_port(const struct bp_netns *netns, __u32 protocol)
{
	if (netns->kind != BP_NETNS_CONTAINER)
		return 0;
	return protocol == BP_PROTO_TCP ? netns->dns_tcp_port : netns->dns_udp_port;
}

/* The namespace's registration, or NULL where the hooks leave sockets alone. */
static __always_inline struct bp_netns *bp_sock_netns(struct bpf_sock_addr *ctx)
{
	__u64 cookie = bpf_get_netns_cookie(ctx);

	return bpf_map_lookup_elem(&bp_netns, &cookie);
}

/*
 * Where the IPv4 destination *ip:*port (network byte order) of a socket of `netns` goes,
 * rewritten in place: 127.0.0.11:53 in a container to the agent's DNS socket there (at a
 * port of its own, as Docker's DNAT does), and a published address to its target. A
 * restricted port is denied to a container its allow list does not name; the host's own
 * sockets are not filtered, as Docker's DOCKER-USER chain does not see them.
 */
static __always_inline enum bp_sock_dest bp_sock_dest4(const struct bp_netns *netns, __u32 protocol, __u8 proto,
							int new_flow, __u32 *ip, __u16 *port)
{
	__u16 dns = bp_dns_port(netns, protocol);
	if (dns && *ip == bpf_htonl(BP_DNS_IP) && *port == bpf_htons(BP_DNS_PORT)) {
		*port = dns;
		return BP_SOCK_DNS;
	}
	int loopback = (*ip & bpf_htonl(0xff000000)) == bpf_htonl(0x7f000000);
	/* Loopback is the host only in the host's namespace; in a container it is the container. */
	if (!(loopback && netns->kind == BP_NETNS_HOST) && !bpf_map_lookup_elem(&bp_host_addrs, ip))
		return BP_SOCK_KEEP;
	struct bp_port_key key;
	struct bp_port_target *target = bp_published(*ip, *port, proto, &key);
	if (!target)
		return BP_SOCK_KEEP;
	if ((target->flags & BP_PORT_F_RESTRICTED) && netns->kind == BP_NETNS_CONTAINER &&
	    !bp_port_allows(key.host_ip, key.host_port, proto, netns->ip))
		return BP_SOCK_DENIED;
	bp_count_port(target->stats_slot, 0, new_flow);
	*ip = target->ip;
	*port = target->port;
	return BP_SOCK_PUBLISHED;
}

/* ... and 53 again where the socket sees that port (recvmsg, getpeername). Only the DNS
 * address asks for the namespace's entry: every datagram a container's UDP socket receives
 * passes here. */
static __always_inline void bp_sock_from_dns(struct bpf_sock_addr *ctx, __u32 ip, __u16 *port)
{
	if (ip != bpf_htonl(BP_DNS_IP))
		return;
	struct bp_netns *netns = bp_sock_netns(ctx);
	if (!netns)
		return;
	__u16 dns = bp_dns_port(netns, ctx->protocol);
	if (dns && *port == dns)
		*port = bpf_htons(BP_DNS_PORT);
}

/* The published address an IPv4 socket was sent to instead of *ip:*port, put back: looked
 * up only for a socket `marks` says has an entry. */
static __always_inline int bp_sock_restore4(struct bpf_sock_addr *ctx, __u32 marks, __u32 *ip, __u16 *port)
{
	if (!(marks & BP_SOCK_MARK_NAT))
		return 0;
	struct bp_sock_nat_key key = { .cookie = bpf_get_socket_cookie(ctx), .ip = *ip, .port = *port };
	struct bp_nat_value *published = bpf_map_lookup_elem(&bp_sock_nat, &key);

	if (!published)
		return 0;
	*ip = published->host_ip;
	*port = published->host_port;
	return 1;
}

/* Sends the socket to the published target (or the DNS server) instead, or refuses it
 * (counted as not_allowed on the container's veth). */
static __always_inline int bp_sock_redirect(struct bpf_sock_addr *ctx, __u8 proto, int new_flow)
{
	struct bp_netns *netns = bp_sock_netns(ctx);
	if (!netns)
		return BP_SOCK_ALLOW;
	struct bp_sock_nat_key key = { .ip = ctx->user_ip4, .port = (__u16)ctx->user_port };
	struct bp_nat_value published = { .host_ip = key.ip, .host_port = key.port };

	switch (bp_sock_dest4(netns, ctx->protocol, proto, new_flow, &key.ip, &key.port)) {
	case BP_SOCK_KEEP:
		return BP_SOCK_ALLOW;
	case BP_SOCK_DENIED:
		return bp_sock_refuse(ctx, BP_AF_INET, &published.host_ip, netns->ifindex, BP_DROP_NOT_ALLOWED, BP_DIR_EGRESS);
	case BP_SOCK_PUBLISHED:
		bp_sock_mark(ctx, BP_SOCK_MARK_NAT);
		key.cookie = bpf_get_socket_cookie(ctx);
		bpf_map_update_elem(&bp_sock_nat, &key, &published, BPF_ANY);
		break;
	case BP_SOCK_DNS:
		break;
	}
	ctx->user_ip4 = key.ip;
	ctx->user_port = key.port;
	return BP_SOCK_ALLOW;
}

/* Shows the published address (or 53) where the socket sees the address it was sent to. */
static __always_inline void bp_sock_restore(struct bpf_sock_addr *ctx)
{
	__u32 ip = ctx->user_ip4;
	__u16 port = (__u16)ctx->user_port;

	if (bp_sock_restore4(ctx, bp_sock_marks_of(ctx), &ip, &port)) {
		ctx->user_ip4 = ip;
		ctx->user_port = port;
		return;
	}
	bp_sock_from_dns(ctx, ip, &port);
	ctx->user_port = port;
}

/* ------------------------------------------------------------------------- */
/* IPv6 sockets: IPv6 published ports, and IPv4 ones through IPv4-mapped      */
/* addresses (::ffff:a.b.c.d) of dual-stack sockets, which leave as IPv4.     */
/* ------------------------------------------------------------------------- */

/* ctx->user_ip6, a word at a time: the verifier allows only 4-byte accesses to it. */
static __always_inline void bp_sock_load_ip6(const struct bpf_sock_addr *ctx, __u32 ip[4])
{
	ip[0] = ctx->user_ip6[0];
	ip[1] = ctx->user_ip6[1];
	ip[2] = ctx->user_ip6[2];
	ip[3] = ctx->user_ip6[3];
}

static __always_inline void bp_sock_store_ip6(struct bpf_sock_addr *ctx, const __u32 ip[4])
{
	ctx->user_ip6[0] = ip[0];
	ctx->user_ip6[1] = ip[1];
	ctx->user_ip6[2] = ip[2];
	ctx->user_ip6[3] = ip[3];
}

static __always_inline int bp_v4mapped(const __u32 ip[4])
{
	return ip[0] == 0 && ip[1] == 0 && ip[2] == bpf_htonl(0x0000ffff);
}

static __always_inline int bp_loopback6(const __u32 ip[4])
{
	return ip[0] == 0 && ip[1] == 0 && ip[2] == 0 && ip[3] == bpf_htonl(1);
}

/* bp_sock_dest4 for an IPv6 destination: ::1 in the host's namespace, or one of the host's
 * IPv6 addresses; a restricted port's list is asked about the container's IPv6 address. */
static __always_inline enum bp_sock_dest bp_sock_dest6(const struct bp_netns *netns, __u8 proto, int new_flow,
							__u32 ip[4], __u16 *port)
{
	if (!(bp_loopback6(ip) && netns->kind == BP_NETNS_HOST) && !bpf_map_lookup_elem(&bp_host_addrs6, ip))
		return BP_SOCK_KEEP;
	struct bp_port6_key key;
	struct bp_port6_target *target = bp_published6(ip, *port, proto, &key);
	if (!target)
		return BP_SOCK_KEEP;
	if ((target->flags & BP_PORT_F_RESTRICTED) && netns->kind == BP_NETNS_CONTAINER &&
	    !bp_port_allows6(key.host_ip, key.host_port, proto, netns->ip6))
		return BP_SOCK_DENIED;
	bp_count_port6(target->stats_slot, 0, new_flow);
	__builtin_memcpy(ip, target->ip, sizeof(target->ip));
	*port = target->port;
	return BP_SOCK_PUBLISHED;
}

/* bp_sock_redirect for IPv6 sockets; what it sent elsewhere is remembered in bp_sock_nat6,
 * IPv4-mapped addresses too. */
static __always_inline int bp_sock_redirect6(struct bpf_sock_addr *ctx, __u8 proto, int new_flow)
{
	struct bp_netns *netns = bp_sock_netns(ctx);
	if (!netns)
		return BP_SOCK_ALLOW;
	struct bp_sock_nat6_key key = { .port = (__u16)ctx->user_port };
	bp_sock_load_ip6(ctx, key.ip);
	struct bp_nat6_value published = { .host_port = key.port };
	__builtin_memcpy(published.host_ip, key.ip, sizeof(key.ip));

	enum bp_sock_dest dest = bp_v4mapped(key.ip)
					 ? bp_sock_dest4(netns, ctx->protocol, proto, new_flow, &key.ip[3], &key.port)
					 : bp_sock_dest6(netns, proto, new_flow, key.ip, &key.port);
	switch (dest) {
	case BP_SOCK_KEEP:
		return BP_SOCK_ALLOW;
	case BP_SOCK_DENIED:
		return bp_sock_refuse(ctx, BP_AF_INET6, published.host_ip, netns->ifindex, BP_DROP_NOT_ALLOWED,
				      BP_DIR_EGRESS);
	case BP_SOCK_PUBLISHED:
		bp_sock_mark(ctx, BP_SOCK_MARK_NAT6);
		key.cookie = bpf_get_socket_cookie(ctx);
		bpf_map_update_elem(&bp_sock_nat6, &key, &published, BPF_ANY);
		break;
	case BP_SOCK_DNS:
		break;
	}
	bp_sock_store_ip6(ctx, key.ip);
	ctx->user_port = key.port;
	return BP_SOCK_ALLOW;
}

/* bp_sock_restore for IPv6 sockets. A dual-stack socket's datagrams to an IPv4-mapped
 * address pass the IPv4 hook (sendmsg4), which remembered them in bp_sock_nat. */
static __always_inline void bp_sock_restore6(struct bpf_sock_addr *ctx)
{
	__u32 marks = bp_sock_marks_of(ctx);
	struct bp_sock_nat6_key key = { .port = (__u16)ctx->user_port };
	bp_sock_load_ip6(ctx, key.ip);

	if (marks & BP_SOCK_MARK_NAT6) {
		key.cookie = bpf_get_socket_cookie(ctx);
		struct bp_nat6_value *published = bpf_map_lookup_elem(&bp_sock_nat6, &key);

		if (published) {
			bp_sock_store_ip6(ctx, published->host_ip);
			ctx->user_port = published->host_port;
			return;
		}
	}
	if (!bp_v4mapped(key.ip))
		return;
	if (!bp_sock_restore4(ctx, marks, &key.ip[3], &key.port))
		bp_sock_from_dns(ctx, key.ip[3], &key.port);
	ctx->user_ip6[3] = key.ip[3];
	ctx->user_port = key.port;
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
	return BP_SOCK_ALLOW;
}

SEC("cgroup/getpeername4")
int bp_peername4(struct bpf_sock_addr *ctx)
{
	bp_sock_restore(ctx);
	return BP_SOCK_ALLOW;
}

SEC("cgroup/connect6")
int bp_connect6(struct bpf_sock_addr *ctx)
{
	if (ctx->protocol == BP_PROTO_TCP || ctx->protocol == BP_PROTO_UDP)
		return bp_sock_redirect6(ctx, ctx->protocol, 1);
	return BP_SOCK_ALLOW;
}

/* A dual-stack socket's datagram to an IPv4-mapped address passes sendmsg4 instead. */
SEC("cgroup/sendmsg6")
int bp_sendmsg6(struct bpf_sock_addr *ctx)
{
	if (ctx->protocol != BP_PROTO_UDP)
		return BP_SOCK_ALLOW;
	return bp_sock_redirect6(ctx, BP_PROTO_UDP, 0);
}

SEC("cgroup/recvmsg6")
int bp_recvmsg6(struct bpf_sock_addr *ctx)
{
	bp_sock_restore6(ctx);
	return BP_SOCK_ALLOW;
}

SEC("cgroup/getpeername6")
int bp_peername6(struct bpf_sock_addr *ctx)
{
	bp_sock_restore6(ctx);
	return BP_SOCK_ALLOW;
}

char _license[] SEC("license") = "Dual BSD/GPL";
