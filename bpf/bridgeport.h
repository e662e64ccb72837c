/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * bridgeport.h — THE contract between the BPF programs and the agent.
 *
 * Every map name, key/value layout and enum shared by the kernel side
 * (bpf/NAME.bpf.c) and user space (Swift, through the C module CBPF) is written
 * here once. It compiles both with `clang -target bpf` and as ordinary user
 * space C; it needs only <linux/types.h>.
 *
 * Rules for changing a layout:
 *  - Maps are pinned (LIBBPF_PIN_BY_NAME) under the agent's pin root and survive
 *    agent restarts. libbpf refuses to reuse a pinned map whose key size, value
 *    size, type or max_entries differ from the object's, so any change to a
 *    struct or size below means the old pin must be removed (the agent reports
 *    this as a "pinned map incompatible" error).
 *  - Keep structs free of implicit padding (explicit pad fields, zeroed) so that
 *    hash keys compare equal byte for byte on both sides.
 *  - Byte order: addresses and ports are in network byte order (as on the wire);
 *    everything else is host byte order.
 */
#ifndef BRIDGEPORT_H
#define BRIDGEPORT_H

#include <linux/types.h>

/* ------------------------------------------------------------------------- */
/* Map names (the pin file name under the pin root is the map name).          */
/* The BPF programs must name their map variables exactly like these strings  */
/* (libbpf takes a map's name from its variable); BPFTests checks it.         */
/* BPF object names are limited to 15 characters.                             */
/* ------------------------------------------------------------------------- */

/* u32 host-side ifindex -> struct bp_endpoint_stats, per CPU */
#define BP_MAP_ENDPOINT_STATS "bp_ep_stats"
/* u32 host-side ifindex -> struct bp_endpoint (written by user space) */
#define BP_MAP_ENDPOINTS "bp_endpoints"
/* struct bp_drop_key -> u64 packets, per CPU */
#define BP_MAP_DROPS "bp_drops"

/* {host IP, host port, protocol} -> published container address (written by user space) */
#define BP_MAP_PORTS "bp_ports"
/* IPv4 address -> 1, for every address of the host (written by user space) */
#define BP_MAP_HOST_ADDRS "bp_host_addrs"
/* LRU: a published flow, seen from the container's replies -> the host address it came to */
#define BP_MAP_NAT "bp_nat"
/* {host IP, host port, protocol} -> per-CPU struct bp_port_stats */
#define BP_MAP_PORT_STATS "bp_port_stats"
/* LPM: {protocol, host port, source CIDR} allowed to use a restricted published port */
#define BP_MAP_ALLOW "bp_allow"
/* LRU: a masqueraded flow as the container sent it -> the host address and port it leaves with */
#define BP_MAP_SNAT "bp_snat"
/* LRU: a masqueraded flow as the replies show it -> the container it belongs to */
#define BP_MAP_SNAT_REV "bp_snat_rev"
/* LRU: a fragmented datagram of a published flow, by its first fragment -> the address
 * its later fragments (which carry no ports) get */
#define BP_MAP_FRAGS "bp_frags"
/* LRU: flows a container opened to another container's published port -> 1, so that
 * exactly their replies pass the policy */
#define BP_MAP_HAIRPIN "bp_hairpin"
/* {container address, port, protocol} of every published port -> 1 (user space) */
#define BP_MAP_TARGETS "bp_targets"
/* network namespace cookie -> enum bp_netns_kind: where the socket hooks act (user space) */
#define BP_MAP_NETNS "bp_netns"
/* LRU: {socket cookie, container address} a socket was sent to -> the published address asked for */
#define BP_MAP_SOCK_NAT "bp_sock_nat"
/* LPM: every bridge network's subnet -> its network id and flags (written by user space) */
#define BP_MAP_SUBNETS "bp_subnets"

/* Program names (ELF function names) in endpoint.bpf.o */
#define BP_PROG_ENDPOINT_INGRESS "bp_ep_ingress" /* tc ingress, host-side veth */
#define BP_PROG_ENDPOINT_EGRESS "bp_ep_egress"   /* tc egress, host-side veth */

/* Program names in uplink.bpf.o */
#define BP_PROG_UPLINK_INGRESS "bp_up_ingress" /* tc ingress, each uplink of the host */

/* Program names in sock.bpf.o (cgroup hooks on the agent's --cgroup) */
#define BP_PROG_SOCK_CONNECT "bp_connect4"
#define BP_PROG_SOCK_SENDMSG "bp_sendmsg4"
#define BP_PROG_SOCK_RECVMSG "bp_recvmsg4"
#define BP_PROG_SOCK_PEERNAME "bp_peername4"

/* Capacities. Changing one invalidates existing pins (see above). */
#define BP_MAX_ENDPOINTS 16384
#define BP_MAX_DROP_KEYS 65536
#define BP_MAX_PORTS 65536
#define BP_MAX_HOST_ADDRS 1024
#define BP_MAX_NAT_FLOWS 262144
#define BP_MAX_SUBNETS 4096
#define BP_MAX_SNAT_FLOWS 262144
/* Source ports of masqueraded flows: above Linux's ephemeral range (32768-60999), so
 * they never collide with the host's own connections. */
#define BP_SNAT_PORT_MIN 61000
#define BP_SNAT_PORT_MAX 65535
#define BP_MAX_FRAGS 16384
#define BP_MAX_NETNS 16384
#define BP_MAX_SOCK_NAT 65536

/* ------------------------------------------------------------------------- */
/* Traffic counters                                                           */
/* ------------------------------------------------------------------------- */

struct bp_traffic {
	__u64 packets;
	__u64 bytes; /* skb->len: L2 frame without FCS, as `ip -s link` counts */
};

/*
 * Per endpoint, keyed by the ifindex of the container's host-side veth.
 * Directions are the container's point of view (like cAdvisor's
 * container_network_{receive,transmit}_*):
 *   rx = what the container receives = tc egress  of the host-side veth
 *   tx = what the container sends    = tc ingress of the host-side veth
 * Values are per CPU; user space sums them over libbpf_num_possible_cpus().
 */
struct bp_endpoint_stats {
	struct bp_traffic rx;
	struct bp_traffic tx;
};

/* ------------------------------------------------------------------------- */
/* Endpoint configuration (user space writes, programs read)                  */
/* ------------------------------------------------------------------------- */

enum bp_endpoint_flags {
	/* Drop packets from the container whose source IP or MAC is not ip/mac
	 * below (reason BP_DROP_SPOOFED_SOURCE). */
	BP_EP_F_ENFORCE_SOURCE = 1 << 0,
	/* Inter-container communication is off in this endpoint's network:
	 * drop traffic to other endpoints of the same network_id (BP_DROP_ICC). */
	BP_EP_F_ICC_DISABLED = 1 << 1,
	/* The network is --internal: drop traffic leaving the network's subnet
	 * (BP_DROP_INTERNAL). */
	BP_EP_F_INTERNAL = 1 << 2,
	/* Isolate from other networks' subnets (BP_DROP_ISOLATION). */
	BP_EP_F_ISOLATED = 1 << 3,
	/* Traffic leaving the host gets the uplink's address (Docker's MASQUERADE). */
	BP_EP_F_MASQUERADE = 1 << 4,
};

/* Keyed by the u32 ifindex of the host-side veth. 16 bytes, no padding. */
struct bp_endpoint {
	__u32 ip;         /* container IPv4 address, network byte order */
	__u8 mac[6];      /* container-side MAC address (eth0 in the container) */
	__u16 network_id; /* agent-assigned id of the endpoint's network, 0 = none */
	__u32 flags;      /* enum bp_endpoint_flags */
};

/* ------------------------------------------------------------------------- */
/* Published ports (DNAT at the uplink, reverse NAT at the endpoint)          */
/* ------------------------------------------------------------------------- */

/* IP protocol numbers as in the IPv4 header. */
enum bp_protocol {
	BP_PROTO_ICMP = 1, /* echo only: the identifier plays the port */
	BP_PROTO_TCP = 6,
	BP_PROTO_UDP = 17,
};

/* 8 bytes. host_ip 0 means every address of the host (`-p 5000:80`). */
struct bp_port_key {
	__u32 host_ip;   /* network byte order */
	__u16 host_port; /* network byte order */
	__u8 proto;      /* enum bp_protocol */
	__u8 pad;
};

/* 12 bytes: where a published port leads. */
struct bp_port_target {
	__u32 ip;        /* container address, network byte order */
	__u16 port;      /* container port, network byte order */
	__u16 flags;     /* enum bp_port_flags */
	__u32 ifindex;   /* the container's host-side veth */
};

/* Traffic through a published port (outside -> container, as DNATed), per CPU. */
struct bp_port_stats {
	__u64 packets;
	__u64 bytes;
	__u64 flows;     /* new flows: first packets from the uplink, connect()s through the hooks */
};

enum bp_port_flags {
	/* Only sources in bp_allow may use the port (`bridgeport port allow`),
	 * others are dropped with BP_DROP_NOT_ALLOWED before the DNAT. */
	BP_PORT_F_RESTRICTED = 1 << 0,
};

/* LPM trie key: prefixlen = 32 (proto, pad, port: always matched) + the CIDR's length. */
struct bp_allow_key {
	__u32 prefixlen;
	__u8 proto;
	__u8 pad;
	__u16 port;      /* host port, network byte order */
	__u32 ip;        /* source network, network byte order */
};

/*
 * A published flow as the container's replies show it: from endpoint_ip:endpoint_port
 * to remote_ip:remote_port. 16 bytes, all in network byte order but proto.
 */
struct bp_nat_key {
	__u32 remote_ip;
	__u32 endpoint_ip;
	__u16 remote_port;
	__u16 endpoint_port;
	__u8 proto;
	__u8 pad[3];
};

/* A flow: 16 bytes, addresses and ports in network byte order. */
struct bp_flow_key {
	__u32 src_ip;
	__u32 dst_ip;
	__u16 src_port;
	__u16 dst_port;
	__u8 proto;
	__u8 pad[3];
};

/* Where a masqueraded reply goes back to. 12 bytes. */
struct bp_snat_origin {
	__u32 ip;        /* container address */
	__u16 port;      /* container port (or ICMP echo id) */
	__u16 pad;
	__u32 ifindex;   /* the container's host-side veth */
};

/* A fragmented datagram, as IPv4 identifies it (RFC 791). 12 bytes. */
struct bp_frag_key {
	__u32 src;
	__u32 dst;
	__u16 id;
	__u8 proto;
	__u8 pad;
};

/* The translation its first fragment got: the new address (destination toward a
 * container, source from one) and, toward a container, its host-side veth. 8 bytes. */
struct bp_frag_nat {
	__u32 addr;
	__u32 ifindex;
};

/* A published port's container side, for policy exceptions. 8 bytes. */
struct bp_target_key {
	__u32 ip;        /* network byte order */
	__u16 port;      /* network byte order */
	__u8 proto;
	__u8 pad;
};

/* The published address the flow came to: replies leave from it. 8 bytes. */
struct bp_nat_value {
	__u32 host_ip;
	__u16 host_port;
	__u16 pad;
};

/* ------------------------------------------------------------------------- */
/* Published ports reached by sockets of the host and of containers           */
/* ------------------------------------------------------------------------- */

/* Which namespaces the socket hooks act in (others are left alone). */
enum bp_netns_kind {
	BP_NETNS_HOST = 1,      /* the agent's: localhost reaches published ports */
	BP_NETNS_CONTAINER = 2, /* a container's: host addresses reach published ports (hairpin) */
};

/* 16 bytes: a socket and the container address it was redirected to. */
struct bp_sock_nat_key {
	__u64 cookie;    /* bpf_get_socket_cookie */
	__u32 ip;        /* container address, network byte order */
	__u16 port;      /* container port, network byte order */
	__u16 pad;
};

/* ------------------------------------------------------------------------- */
/* Networks                                                                   */
/* ------------------------------------------------------------------------- */

/* LPM trie key: prefixlen bits of ip (network byte order) count. 8 bytes. */
struct bp_subnet_key {
	__u32 prefixlen;
	__u32 ip;
};

/* A network's subnet. 4 bytes. */
struct bp_subnet {
	__u16 network_id; /* the same id as bp_endpoint.network_id */
	__u16 flags;      /* enum bp_subnet_flags */
};

enum bp_subnet_flags {
	/* `-o com.docker.network.bridge.gateway_mode_ipv4=routed`: the network's
	 * addresses may be reached straight from the uplink. */
	BP_SUBNET_F_ROUTED = 1 << 0,
};

/* ------------------------------------------------------------------------- */
/* Drops                                                                      */
/* ------------------------------------------------------------------------- */

/*
 * Why a program dropped a packet. The names are exported as the `reason`
 * label of bridgeport_container_network_drops_total, as written by
 * bp_drop_reason_label() below: never renumber or rename a reason, only add.
 */
enum bp_drop_reason {
	BP_DROP_UNSPEC = 0,         /* "unspecified" */
	BP_DROP_ISOLATION = 1,      /* "isolation": destination in another isolated network */
	BP_DROP_ICC = 2,            /* "icc": same network, inter-container communication off */
	BP_DROP_SPOOFED_SOURCE = 3, /* "spoofed_source": source IP/MAC is not the endpoint's */
	BP_DROP_INTERNAL = 4,       /* "internal": leaving an --internal network */
	BP_DROP_NOT_ALLOWED = 5,    /* "not_allowed": no rule allows it (e.g. unpublished port) */
	BP_DROP_MALFORMED = 6,      /* "malformed": truncated or invalid headers */
	BP_DROP_UNKNOWN_ENDPOINT = 7, /* "unknown_endpoint": no bp_endpoints entry for the ifindex */
	BP_DROP_DIRECT_ACCESS = 8,  /* "direct_access": from the uplink straight to a container address */
	BP_DROP_FRAGMENT = 9,       /* "fragment": an IP fragment that needs a translation (masquerade) */
	__BP_DROP_MAX
};

/*
 * Direction of a dropped packet, from the container's point of view (the same
 * as Cilium's INGRESS/EGRESS): exported as the `direction` label.
 */
enum bp_direction {
	BP_DIR_UNSPEC = 0,  /* "unspecified" */
	BP_DIR_INGRESS = 1, /* "ingress": toward the container (tc egress of the host-side veth, uplink ingress) */
	BP_DIR_EGRESS = 2,  /* "egress": from the container (tc ingress of the host-side veth) */
	__BP_DIR_MAX
};

/* 8 bytes, no padding; pad must be zero. */
struct bp_drop_key {
	__u32 ifindex;   /* host-side veth (or uplink) where the drop happened */
	__u8 reason;     /* enum bp_drop_reason */
	__u8 direction;  /* enum bp_direction */
	__u16 pad;
};

/* Metric label values. Inline and unused by the BPF programs (never emitted there). */
static inline const char *bp_drop_reason_label(__u32 reason)
{
	switch (reason) {
	case BP_DROP_ISOLATION: return "isolation";
	case BP_DROP_ICC: return "icc";
	case BP_DROP_SPOOFED_SOURCE: return "spoofed_source";
	case BP_DROP_INTERNAL: return "internal";
	case BP_DROP_NOT_ALLOWED: return "not_allowed";
	case BP_DROP_MALFORMED: return "malformed";
	case BP_DROP_UNKNOWN_ENDPOINT: return "unknown_endpoint";
	case BP_DROP_DIRECT_ACCESS: return "direct_access";
	case BP_DROP_FRAGMENT: return "fragment";
	default: return "unspecified";
	}
}

static inline const char *bp_direction_label(__u32 direction)
{
	switch (direction) {
	case BP_DIR_INGRESS: return "ingress";
	case BP_DIR_EGRESS: return "egress";
	default: return "unspecified";
	}
}

#endif /* BRIDGEPORT_H */
