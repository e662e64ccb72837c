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

/* An array: u32 slot (struct bp_endpoint's stats_slot) -> struct bp_endpoint_stats, per CPU */
#define BP_MAP_ENDPOINT_STATS "bp_ep_stats"
/* u32 host-side ifindex -> struct bp_endpoint (written by user space) */
#define BP_MAP_ENDPOINTS "bp_endpoints"
/* An array: u32 slot (struct bp_endpoint's stats_slot) -> struct bp_endpoint_slot, the same
 * entries by slot, for the flows that carry it (bp_flow's via); written by user space */
#define BP_MAP_ENDPOINT_SLOTS "bp_ep_slots"
/* struct bp_drop_key -> u64 packets, per CPU */
#define BP_MAP_DROPS "bp_drops"

/* {host IP, host port, protocol} -> published container address (written by user space) */
#define BP_MAP_PORTS "bp_ports"
/* IPv4 address -> 1, for every address of the host (written by user space) */
#define BP_MAP_HOST_ADDRS "bp_host_addrs"
/* An array: u32 slot (struct bp_port_target's stats_slot) -> struct bp_port_stats, per CPU */
#define BP_MAP_PORT_STATS "bp_port_stats"
/* LPM: {protocol, host port, source CIDR} allowed to use a restricted published port */
#define BP_MAP_ALLOW "bp_allow"
/* The flow table (connection tracking): struct bp_flow_key -> struct bp_flow, two entries
 * per flow (see "Flows" below). Sized by the agent (--max-flows) */
#define BP_MAP_FLOWS "bp_flows"
/* The flow table of IPv6: struct bp_flow6_key -> struct bp_flow6, the same lifecycle, timeouts,
 * counters and collector as bp_flows'; sized by --max-flows too */
#define BP_MAP_FLOWS6 "bp_flows6"
/* Array of one struct bp_flow_config: the timeouts set on the agent (--flow-timeout) */
#define BP_MAP_FLOW_CONFIG "bp_flow_config"
/* Per-CPU array: flow table events, by BP_FLOW_COUNTER(event, protocol) -> u64 */
#define BP_MAP_FLOW_COUNTERS "bp_flow_counts"
/* LRU: the packets and bytes of flows made while a monitor wanted flow events
 * (BP_FLOW_F_COUNTED), by each entry's tuple -> struct bp_flow_acct; bp_flow_acct6 for IPv6 */
#define BP_MAP_FLOW_ACCT "bp_flow_acct"
#define BP_MAP_FLOW_ACCT6 "bp_flow_acct6"
/* LRU: a fragmented datagram of a translated flow, by its first fragment -> the address
 * its later fragments (which carry no ports) get */
#define BP_MAP_FRAGS "bp_frags"
/* {container address, port, protocol} of every published port -> struct bp_target (user space) */
#define BP_MAP_TARGETS "bp_targets"
/* network namespace cookie -> struct bp_netns: where the socket hooks act (user space) */
#define BP_MAP_NETNS "bp_netns"
/* LRU: {socket cookie, container address} a socket was sent to -> the published address asked for */
#define BP_MAP_SOCK_NAT "bp_sock_nat"
/* LPM: every bridge network's subnet -> its network id and flags (written by user space) */
#define BP_MAP_SUBNETS "bp_subnets"
/* LPM: the IPv6 subnet of every dual-stack network -> the same as bp_subnets (user space) */
#define BP_MAP_SUBNETS6 "bp_subnets6"
/* IPv6 address -> 1, for every IPv6 address of the host, the gateways' too (user space) */
#define BP_MAP_HOST_ADDRS6 "bp_host_addrs6"
/* The cluster's hosts, by the address their VXLAN comes from -> 1 (written by the agent of a
 * cluster). Its entry for 0.0.0.0 says this host is in a cluster: VXLAN to the host
 * (UDP BP_VXLAN_PORT) from an address not listed is dropped (BP_DROP_VXLAN_SOURCE). */
#define BP_MAP_VXLAN_PEERS "bp_vxlan_peers"
/* Overlay containers by IPv4 address -> where their frames go without the network's bridge
 * (struct bp_overlay_dest, written by the agent of a cluster). */
#define BP_MAP_OVERLAY_DESTS "bp_overlay_dests"
/* Ring buffer: the programs' events (struct bp_drop_event, struct bp_flow_change_event; see
 * "Monitor events" below), read by the agent */
#define BP_MAP_EVENTS "bp_events"
/* Array of one struct bp_monitor_config: which event types anyone listens to, and the
 * per-CPU rate limit (written by the agent) */
#define BP_MAP_MONITOR "bp_monitor"
/* Per-CPU array, by enum bp_event_type: struct bp_event_budget, each CPU's events this second */
#define BP_MAP_EVENT_BUDGET "bp_event_budget"
/* Per-CPU array, by enum bp_event_type: events lost (over the rate limit, or the ring full) -> u64 */
#define BP_MAP_EVENTS_LOST "bp_events_lost"

/* Program names (ELF function names) in endpoint.bpf.o */
#define BP_PROG_ENDPOINT_INGRESS "bp_ep_ingress" /* tc ingress, host-side veth */
#define BP_PROG_ENDPOINT_EGRESS "bp_ep_egress"   /* tc egress, host-side veth */
#define BP_PROG_TUNNEL_INGRESS "bp_tunnel_ingress" /* tc ingress, an overlay's VXLAN device */
#define BP_PROG_ENDPOINT_NAT66 "bp_ep_nat66"     /* tail-called by bp_ep_ingress: NAT66 out */
/* tail-called by bp_ep_ingress: NAT66 of packets without a tuple of their own (later
 * fragments, ICMPv6 errors), which follow their datagram's or flow's translation */
#define BP_PROG_ENDPOINT_NAT66_RELATED "bp_ep_nat66_rel"

/* IPv6's published ports: the twins of bp_ports, bp_port_stats, bp_allow and bp_targets,
 * with 16-byte addresses (bridgeport.h, "Published ports over IPv6"). Tables of their own,
 * as bp_flows6, so that IPv4's keys and per-packet cost stay as they are. */
#define BP_MAP_PORTS6 "bp_ports6"
#define BP_MAP_PORT_STATS6 "bp_port_stats6"
#define BP_MAP_ALLOW6 "bp_allow6"
#define BP_MAP_TARGETS6 "bp_targets6"
/* LRU: {socket cookie, container address} an IPv6 socket was sent to -> the published address */
#define BP_MAP_SOCK_NAT6 "bp_sock_nat6"
/* Socket storage (the kernel frees it with its socket): which of bp_sock_nat and
 * bp_sock_nat6 hold a redirect of the socket, so that the sockets with none (nearly every
 * datagram's) skip both lookups */
#define BP_MAP_SOCK_MARKS "bp_sock_marks"
/* LRU: bp_frags for IPv6: a fragmented datagram of a translated flow -> its first fragment's
 * translation */
#define BP_MAP_FRAGS6 "bp_frags6"

/* Program names in uplink.bpf.o */
#define BP_PROG_UPLINK_INGRESS "bp_up_ingress" /* tc ingress, each uplink of the host */
#define BP_PROG_UPLINK_L3_INGRESS "bp_up_ingress_l3" /* the same, on uplinks without an Ethernet header */
#define BP_PROG_UPLINK_NAT66 "bp_up_nat66"       /* tail-called by bp_up_ingress: NAT66 replies */
#define BP_PROG_UPLINK_L3_NAT66 "bp_up_nat66_l3" /* the same for bp_up_ingress_l3 */
/* tail-called by bp_up_nat66 (bp_up_nat66_l3): later fragments and ICMPv6 errors to the host */
#define BP_PROG_UPLINK_RELATED6 "bp_up_rel6"
#define BP_PROG_UPLINK_L3_RELATED6 "bp_up_rel6_l3"

/*
 * Program arrays of the tail calls above (written by the agent after loading, pinned so
 * that they survive its restarts): NAT66 runs in a program of its own, with a stack of its
 * own, as the IPv4 path leaves too little of the 512 bytes for a call. An empty slot fails
 * closed: the packet is dropped (ipv6_unsupported) or left to the host.
 * bp_ep_tail: [0] BP_PROG_ENDPOINT_NAT66, [1] BP_PROG_ENDPOINT_NAT66_RELATED;
 * bp_up_tail: [0] BP_PROG_UPLINK_NAT66, [1] BP_PROG_UPLINK_L3_NAT66, [2] BP_PROG_UPLINK_RELATED6,
 * [3] BP_PROG_UPLINK_L3_RELATED6.
 */
#define BP_MAP_EP_TAIL "bp_ep_tail"
#define BP_MAP_UP_TAIL "bp_up_tail"

/* Program names in sock.bpf.o (cgroup hooks on the agent's --cgroup) */
#define BP_PROG_SOCK_CONNECT "bp_connect4"
#define BP_PROG_SOCK_SENDMSG "bp_sendmsg4"
#define BP_PROG_SOCK_RECVMSG "bp_recvmsg4"
#define BP_PROG_SOCK_PEERNAME "bp_peername4"
#define BP_PROG_SOCK_CONNECT6 "bp_connect6"
#define BP_PROG_SOCK_SENDMSG6 "bp_sendmsg6"
#define BP_PROG_SOCK_RECVMSG6 "bp_recvmsg6"
#define BP_PROG_SOCK_PEERNAME6 "bp_peername6"

/* Capacities. Changing one invalidates existing pins (see above). */
#define BP_MAX_ENDPOINTS 16384
#define BP_MAX_DROP_KEYS 65536
#define BP_MAX_PORTS 65536
#define BP_MAX_HOST_ADDRS 1024
#define BP_MAX_SUBNETS 4096
/* Flows the table holds unless the agent says otherwise (--max-flows); each is two
 * entries. The agent sets the map's size before loading. */
#define BP_DEFAULT_MAX_FLOWS 262144
#define BP_MAX_FRAGS 16384
#define BP_MAX_NETNS 16384
#define BP_MAX_SOCK_NAT 65536
#define BP_MAX_VXLAN_PEERS 4096
/* Overlay containers, of this host and of the others, over all overlay networks. */
#define BP_MAX_OVERLAY_DESTS 65536
/* Entries of bp_flow_acct (and of bp_flow_acct6): two per counted flow. When more flows are
 * counted at once, the least recently counted lose their counts so far (counted anew from
 * their next packet). */
#define BP_MAX_COUNTED_FLOWS 65536
/* The events' ring buffer in bytes (a power of 2, pages): about 5,000 drop events (200 bytes
 * and an 8-byte record header each) or 8,700 flow events */
#define BP_EVENTS_RING_SIZE (1 << 20)

/* The UDP port of the overlay's VXLAN devices (IANA's). */
#define BP_VXLAN_PORT 4789

/* ------------------------------------------------------------------------- */
/* Traffic counters                                                           */
/* ------------------------------------------------------------------------- */

struct bp_traffic {
	__u64 packets;
	__u64 bytes; /* skb->len: L2 frame without FCS, as `ip -s link` counts */
};

/*
 * Per endpoint, in the slot of bp_ep_stats its entry in bp_endpoints names (stats_slot): an
 * array, whose lookup the verifier inlines, where a hash keyed by ifindex cost a packet about
 * 35 ns per count. The agent gives each entry a free slot, zeroed, the lowest it can, and a
 * slot given back rests a while before it is given again (a packet in flight as the endpoint
 * went counts nowhere another endpoint reads).
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
	/* The network has no IPv6: IPv6 from the container is dropped (BP_DROP_IPV6_DISABLED),
	 * as the container's interface has IPv6 disabled. Without it, an endpoint with an ip6
	 * has its IPv6 judged as its IPv4 is (a dual-stack network's); one without an ip6 is
	 * another runtime's interface, whose IPv6 Bridgeport leaves alone. */
	BP_EP_F_IPV4_ONLY = 1 << 5,
	/* Its flows out are tracked untranslated (a routed network, or one whose masquerade is
	 * off), so that their replies pass the uplink's direct-access filter. */
	BP_EP_F_TRACK_OUT = 1 << 6,
	/* MASQUERADE and TRACK_OUT are IPv4's; IPv6 has a gateway mode of its own
	 * (gateway_mode_ipv6): NAT66 to beyond the host (nat, nat-unprotected) ... */
	BP_EP_F_MASQUERADE6 = 1 << 7,
	/* ... or its flows out tracked untranslated (routed, or masquerade off) ... */
	BP_EP_F_TRACK_OUT6 = 1 << 8,
	/* ... or leaving as it is, untracked (macvlan: the LAN's). With none of the three,
	 * IPv6 to beyond the host is dropped (ipv6_unsupported). */
	BP_EP_F_PASS_OUT6 = 1 << 9,
	/* The network has no IPv4 (an IPv6-only network, --ipv4=false): IPv4 and ARP from the
	 * container are dropped (BP_DROP_IPV4_DISABLED); ip above is 0. */
	BP_EP_F_IPV6_ONLY = 1 << 10,
	/* Its network is an overlay: IPv4 to another host's container of it goes straight to the
	 * network's VXLAN device (bp_overlay_dests), not through the bridge. */
	BP_EP_F_OVERLAY = 1 << 11,
};

/*
 * An overlay container's IPv4 address -> where frames for it go without its network's bridge
 * (lib/overlay.h). No two overlay subnets of a cluster overlap, so the address is the key.
 * Another host's container (ifindex 0): what a container of the same network sends it goes
 * straight to the VXLAN device, whose forwarding entry names its host. This host's (ifindex:
 * its host-side veth): what the network's VXLAN device receives for it is handed to it.
 */
struct bp_overlay_dest {
	__u32 tunnel_ifindex; /* its network's VXLAN device on this host */
	__u32 ifindex;        /* this host's container: its host-side veth; 0: another host's */
	__u16 network_id;     /* its network's bp_endpoint.network_id */
	__u16 pad;
};

/* A network's subnet (IPv4 or IPv6). 4 bytes. */
struct bp_subnet {
	__u16 network_id; /* the same id as bp_endpoint.network_id */
	__u16 flags;      /* enum bp_subnet_flags */
};

/* Keyed by the u32 ifindex of the host-side veth. 52 bytes, no padding. */
struct bp_endpoint {
	__u32 ip;         /* container IPv4 address, network byte order */
	__u8 mac[6];      /* container-side MAC address (eth0 in the container) */
	__u16 network_id; /* agent-assigned id of the endpoint's network, 0 = none */
	__u32 flags;      /* enum bp_endpoint_flags */
	__u8 ip6[16];     /* container IPv6 address as on the wire; all zero = none. Its
			   * link-local address is derived from mac (EUI-64), as its kernel does. */
	__u8 gateway_mac[6]; /* the MAC of the bridge it hangs on, whose address is its gateway:
			      * with mac, the frame header of what is handed straight to the
			      * container, without a route lookup per packet. All zero: none (another
			      * runtime's veth, a network without a gateway): the route decides. */
	__u16 mtu;        /* its interface's MTU (the network's): a bigger packet goes by the route */
	__u32 stats_slot; /* its counters' slot of bp_ep_stats (given by the agent) */
	/* Its network's IPv4 subnet, as a mask over ip (network byte order), with that subnet's
	 * bp_subnets value: a destination in it is judged without the trie lookup
	 * (lib/policy.h, bp_own_subnet). The agent sets them only while no other entry of
	 * bp_subnets lies inside the subnet, so that the trie would answer the same; a mask of
	 * 0: the trie decides. */
	__u32 subnet_mask;
	struct bp_subnet subnet;
};

/*
 * An endpoint's entry again, in bp_ep_slots at its stats_slot, with the veth it is of (0: a
 * free slot). A flow's packet toward the container finds it there by the slot its flow
 * carries, an array lookup the verifier inlines, where bp_endpoints costs a hash lookup.
 * The agent writes an entry here before it names the slot in bp_endpoints, and clears it
 * (ifindex 0, the rest kept) before it deletes that; a reader checks ifindex, and falls back
 * to bp_endpoints. An array's value is rewritten in place, so a packet may read one half old,
 * half new: only the ifindex and the policy change (the flow path reads neither past the
 * check), while what it reads (MACs, MTU, stats_slot) stays as long as the veth does.
 */
struct bp_endpoint_slot {
	__u32 ifindex;
	struct bp_endpoint endpoint;
};

/* ------------------------------------------------------------------------- */
/* Published ports (DNAT at the uplink, reverse NAT at the endpoint)          */
/* ------------------------------------------------------------------------- */

/* IP protocol numbers as in the IPv4 header. Flows of every other protocol (GRE, ESP,
 * SCTP...) are tracked and masqueraded by their addresses alone, with ports 0. */
enum bp_protocol {
	BP_PROTO_ICMP = 1, /* echo only: the identifier plays the port */
	BP_PROTO_TCP = 6,
	BP_PROTO_UDP = 17,
	BP_PROTO_DCCP = 33,     /* address-only, but its checksum covers the addresses (pseudo-header) */
	BP_PROTO_UDPLITE = 136, /* likewise */
	BP_PROTO_ICMPV6 = 58,   /* IPv6's ICMP: echo only, as ICMP (its checksum covers a pseudo-header) */
};

/* 8 bytes. host_ip 0 means every address of the host (`-p 5000:80`). */
struct bp_port_key {
	__u32 host_ip;   /* network byte order */
	__u16 host_port; /* network byte order */
	__u8 proto;      /* enum bp_protocol */
	__u8 pad;
};

/* 16 bytes: where a published port leads. */
struct bp_port_target {
	__u32 ip;        /* container address, network byte order */
	__u16 port;      /* container port, network byte order */
	__u16 flags;     /* enum bp_port_flags */
	__u32 ifindex;   /* the container's host-side veth */
	__u32 stats_slot; /* its counters' index in bp_port_stats (the agent's to give) */
};

/* Traffic through a published port (outside -> container, as DNATed), per CPU, in the
 * slot of bp_port_stats (bp_port_stats6) its bp_ports (bp_ports6) entry names. */
struct bp_port_stats {
	__u64 packets;
	__u64 bytes;
	__u64 flows;     /* new flows: first packets from the uplink, connect()s through the hooks */
};

enum bp_port_flags {
	/* Only sources in bp_allow may use the port (`bridgeport port allow`),
	 * others are dropped with BP_DROP_NOT_ALLOWED before the DNAT. */
	BP_PORT_F_RESTRICTED = 1 << 0,
	/* A routed network's port: its container port is reached by direct routing, its host
	 * port not at all (Docker maps no host port in gateway mode routed). */
	BP_PORT_F_DIRECT_ONLY = 1 << 1,
};

/* LPM trie key: prefixlen = 64 (proto, pad, port, host_ip: always matched) + the CIDR's
 * length. 16 bytes. Keyed by the published address as well as the port: A:8080 and
 * B:8080 of two containers have lists of their own. */
struct bp_allow_key {
	__u32 prefixlen;
	__u8 proto;
	__u8 pad;
	__u16 port;      /* host port, network byte order */
	__u32 host_ip;   /* the published address (0: every address), network byte order */
	__u32 ip;        /* source network, network byte order */
};
#define BP_ALLOW_KEY_FIXED_BITS 64

/* A fragmented datagram, as IPv4 identifies it (RFC 791). 12 bytes. */
struct bp_frag_key {
	__u32 src;
	__u32 dst;
	__u16 id;
	__u8 proto;
	__u8 pad;
};

/* The translation its first fragment got: the new address (destination toward a
 * container, source from one) and, toward a container, its host-side veth. 12 bytes. */
struct bp_frag_nat {
	__u32 addr;
	__u32 ifindex;
	__u32 expires;   /* as bp_flow.expires: reassembly gives up after BP_FRAG_TIMEOUT */
};

/* Linux's net.ipv4.ipfrag_time: how long a datagram's later fragments are awaited. */
#define BP_FRAG_TIMEOUT 30
/* Linux's net.ipv6.ip6frag_time: IPv6's. */
#define BP_FRAG6_TIMEOUT 60

/* A published port's container side, for policy exceptions. 8 bytes. */
struct bp_target_key {
	__u32 ip;        /* network byte order */
	__u16 port;      /* network byte order */
	__u8 proto;
	__u8 pad;
};

/* What the policy exception needs of a published target. 8 bytes. */
struct bp_target {
	__u16 flags;     /* BP_PORT_F_RESTRICTED when every port publishing it is restricted */
	__u16 host_port; /* then: the allow list to ask, of this port (network byte order) ... */
	__u32 host_ip;   /* ... and address */
};

/* The published address a redirected socket asked for. 8 bytes. */
struct bp_nat_value {
	__u32 host_ip;
	__u16 host_port;
	__u16 pad;
};

/* ------------------------------------------------------------------------- */
/* Published ports over IPv6                                                  */
/* ------------------------------------------------------------------------- */

/*
 * The IPv4 structs above with 16-byte addresses, as on the wire, for bp_ports6,
 * bp_port_stats6, bp_allow6, bp_targets6 and bp_sock_nat6. A port published on both
 * families (`-p 8080:80` of a dual-stack container) has an entry in each family's map,
 * leading to the container's address of that family: nothing is translated between
 * families. Flags, counters and lifecycles are IPv4's.
 */

/* 20 bytes. host_ip all zero (::) means every IPv6 address of the host. */
struct bp_port6_key {
	__u32 host_ip[4];
	__u16 host_port; /* network byte order */
	__u8 proto;      /* enum bp_protocol */
	__u8 pad;
};

/* 28 bytes. */
struct bp_port6_target {
	__u32 ip[4];     /* the container's IPv6 address */
	__u16 port;      /* container port, network byte order */
	__u16 flags;     /* enum bp_port_flags */
	__u32 ifindex;   /* the container's host-side veth */
	__u32 stats_slot; /* its counters' index in bp_port_stats6 */
};

/* LPM trie key: prefixlen = BP_ALLOW6_KEY_FIXED_BITS (proto, pad, port, host_ip: always
 * matched) + the source CIDR's length. 40 bytes. */
struct bp_allow6_key {
	__u32 prefixlen;
	__u8 proto;
	__u8 pad;
	__u16 port;      /* host port, network byte order */
	__u32 host_ip[4]; /* the published address (:: every address) */
	__u32 ip[4];     /* source network */
};
#define BP_ALLOW6_KEY_FIXED_BITS 160

/* bp_targets6' key. 20 bytes. */
struct bp_target6_key {
	__u32 ip[4];
	__u16 port;      /* network byte order */
	__u8 proto;
	__u8 pad;
};

/* bp_target for IPv6. 20 bytes. */
struct bp_target6 {
	__u16 flags;     /* BP_PORT_F_RESTRICTED when every port publishing it is restricted */
	__u16 host_port; /* then: the allow list to ask, of this port (network byte order) ... */
	__u32 host_ip[4]; /* ... and address */
};

/* bp_sock_nat6's key: a socket and the container address (IPv6, or IPv4-mapped for a
 * dual-stack socket sent to an IPv4 port) it was redirected to. 32 bytes. */
struct bp_sock_nat6_key {
	__u64 cookie;
	__u32 ip[4];
	__u16 port;
	__u16 pad;
	__u32 pad2;
};

/* The published address (IPv6, or IPv4-mapped) a redirected IPv6 socket asked for. 20 bytes. */
struct bp_nat6_value {
	__u32 host_ip[4];
	__u16 host_port;
	__u16 pad;
};

/* A fragmented IPv6 datagram (its Fragment header's identification, RFC 8200). 40 bytes. */
struct bp_frag6_key {
	__u32 src[4];
	__u32 dst[4];
	__u32 id;
	__u8 proto;      /* the Fragment header's next header */
	__u8 pad[3];
};

/* bp_frag_nat for IPv6. 24 bytes. */
struct bp_frag6_nat {
	__u32 addr[4];
	__u32 ifindex;
	__u32 expires;
};

/* ------------------------------------------------------------------------- */
/* Flows (connection tracking, as Linux conntrack)                            */
/* ------------------------------------------------------------------------- */

/*
 * Every flow the programs translate or let through an exception has two entries in
 * bp_flows: one keyed by its original tuple (as its first packet showed it) and one by
 * its reply tuple (as its replies show it). Each entry says how to translate the packets
 * that match it; the reply tuple is the original one translated, then turned around
 * (bp_flow_other_key). Both are created and removed together: by the programs, with
 * BPF_NOEXIST, rolling the first back if the second fails; by the agent's collector,
 * which removes both once both have expired; and by flushes when an owner goes.
 *
 *   kind        original tuple (where seen)          reply tuple (where seen)
 *   published   client -> host:port   (uplink)       container:port -> client (its veth)
 *   masquerade  container -> remote   (its veth)     remote -> host:port      (uplink)
 *   hairpin     container -> target   (its veth)     target -> container      (target's veth)
 *   routed      client -> container   (uplink)       container -> client      (its veth)
 *
 * ICMP echo uses its identifier as both ports, protocols without ports (GRE, ESP, SCTP...)
 * ports 0; ICMP errors find the flow of the packet they quote (lib/icmp.h). The table is a hash map, not an LRU:
 * nothing evicts a flow; a new flow that finds it full is dropped (BP_DROP_CT_FULL).
 */

/* A flow's tuple: 16 bytes, addresses and ports in network byte order. */
struct bp_flow_key {
	__u32 src_ip;
	__u32 dst_ip;
	__u16 src_port;
	__u16 dst_port;
	__u8 proto;
	__u8 pad[3];
};

enum bp_flow_kind {
	BP_FLOW_PUBLISHED = 1,  /* from outside to a published port: destination translated */
	BP_FLOW_MASQUERADE = 2, /* from a container to beyond the host: source translated */
	BP_FLOW_HAIRPIN = 3,    /* from a container to a published target across the policy: no translation */
	BP_FLOW_ROUTED = 4,     /* from outside straight to a container address (direct routing) of a
				 * masquerading network: no translation, and none for its replies */
};

enum bp_flow_flags {
	BP_FLOW_F_REPLY = 1 << 0,    /* the entry of the reply tuple */
	BP_FLOW_F_SNAT = 1 << 1,     /* nat_ip:nat_port become the source (and peer_port the destination port) */
	BP_FLOW_F_DNAT = 1 << 2,     /* nat_ip:nat_port become the destination (and peer_port the source port) */
	BP_FLOW_F_ANY_HOST = 1 << 3, /* published on every host address: the port's entry has host_ip 0 */
	BP_FLOW_F_FIN = 1 << 4,      /* TCP: this entry's side sent a FIN */
	/* Made while a monitor wanted flow events: each entry's packets are counted in
	 * bp_flow_acct (bp_flow_acct6), for the flow's closed and expired events. */
	BP_FLOW_F_COUNTED = 1 << 5,
};

/*
 * The protocol state, the same in both entries (as is the expiry). TCP follows Linux
 * conntrack's states, with every closing one in one: an ESTABLISHED flow needs a reply and
 * then an ACK from the side that opened it, so a spoofed SYN never gets past SYN_RECV; a
 * SYN reopens a flow that was reset, or closed by both sides (TIME_WAIT).
 */
enum bp_flow_state {
	BP_FLOW_SYN_SENT = 1,    /* "syn_sent": TCP, first packet seen (a SYN, or a flow picked up mid-way) */
	BP_FLOW_SYN_RECV = 2,    /* "syn_recv": TCP, the other side answered */
	BP_FLOW_ESTABLISHED = 3, /* "established": TCP, then the opener acknowledged */
	BP_FLOW_CLOSING = 4,     /* "closing": TCP, a FIN was seen */
	BP_FLOW_CLOSE = 5,       /* "close": TCP, a RST was seen */
	BP_FLOW_UNREPLIED = 6,   /* "unreplied": UDP, ICMP echo: one way so far */
	BP_FLOW_REPLIED = 7,     /* "replied": UDP, ICMP echo: answered */
	BP_FLOW_STREAM = 8,      /* "stream": UDP answered, and still going BP_UDP_STREAM_AFTER s after it began */
	__BP_FLOW_STATE_MAX
};

/* Linux's rule: a UDP flow active in both directions beyond 2 s is a stream. */
#define BP_UDP_STREAM_AFTER 2

/* One entry: 36 bytes. Times are seconds of CLOCK_MONOTONIC (bpf_ktime_get_coarse_ns). */
struct bp_flow {
	__u32 nat_ip;    /* the new source (BP_FLOW_F_SNAT) or destination (BP_FLOW_F_DNAT) */
	__u16 nat_port;  /* its port (ICMP echo: identifier) */
	__u16 peer_port; /* the other end's port is translated too (0: kept): a client port remapped on a clash */
	__u32 ifindex;   /* the container's host-side veth (the client's, for hairpin) */
	__u32 created;   /* when the flow began */
	__u32 expires;   /* when the flow expires unless a packet comes (the same in both entries) */
	__u8 kind;       /* enum bp_flow_kind */
	__u8 state;      /* enum bp_flow_state */
	__u8 flags;      /* enum bp_flow_flags */
	__u8 seen;       /* the second of the last refresh, mod 256: a packet of the same second
			  * neither looks the timeout up nor writes (0 in entries the agent makes) */
	/* Where the entry's packets go, cached. A SNAT entry: the route out, for the second it
	 * was looked up in (lib/nat.h, bp_flow_route_out): its interface (0: none), with out_at
	 * and out_mtu. A DNAT entry: its container's slot of bp_ep_slots, plus 1 (0: not known
	 * yet; lib/nat.h, bp_flow_endpoint). One field, as an entry is one or the other: a
	 * union would cost Swift the struct's bitwise copies. */
	__u32 via;
	__u32 out_at;    /* the second of the lookup */
	__u16 out_mtu;
	__u16 port_slot; /* a published flow's DNAT entry: its port's stats_slot (0: none, a flow
			  * made before flows carried it) */
};
_Static_assert(BP_MAX_PORTS <= 65536, "a flow holds a port's stats_slot in 16 bits");

/*
 * The tuple of the other direction of an entry's flow: the entry's key translated as the
 * entry says, then turned around (Linux conntrack defines its reply tuple the same way).
 */
static inline __attribute__((always_inline)) void
bp_flow_other_key(const struct bp_flow_key *key, const struct bp_flow *flow, struct bp_flow_key *other)
{
	struct bp_flow_key t = *key;

	if (flow->flags & BP_FLOW_F_SNAT) {
		t.src_ip = flow->nat_ip;
		t.src_port = flow->nat_port;
		if (flow->peer_port)
			t.dst_port = flow->peer_port;
	} else if (flow->flags & BP_FLOW_F_DNAT) {
		t.dst_ip = flow->nat_ip;
		t.dst_port = flow->nat_port;
		if (flow->peer_port)
			t.src_port = flow->peer_port;
	}
	if (t.proto == BP_PROTO_ICMP && (flow->flags & (BP_FLOW_F_SNAT | BP_FLOW_F_DNAT)))
		t.src_port = t.dst_port = flow->nat_port;  /* the echo identifier plays both ports */
	other->src_ip = t.dst_ip;
	other->dst_ip = t.src_ip;
	other->src_port = t.dst_port;
	other->dst_port = t.src_port;
	other->proto = t.proto;
	other->pad[0] = other->pad[1] = other->pad[2] = 0;
}

/* Whether two tuples are the same (padding aside). */
static inline __attribute__((always_inline)) int bp_flow_key_same(const struct bp_flow_key *a, const struct bp_flow_key *b)
{
	return a->src_ip == b->src_ip && a->dst_ip == b->dst_ip && a->src_port == b->src_port &&
	       a->dst_port == b->dst_port && a->proto == b->proto;
}

/*
 * IPv6 flows (NAT66 masquerade) live in a table of their own, bp_flows6, so that the IPv4
 * table and its per-packet cost stay as they are. Entries are bp_flow's with 16-byte
 * addresses; lifecycle, states, timeouts and counters are the same (lib/flowops.h).
 */

/* An IPv6 flow's tuple: 40 bytes, as on the wire. ICMPv6 echo: proto BP_PROTO_ICMPV6. */
struct bp_flow6_key {
	__u32 src_ip[4];
	__u32 dst_ip[4];
	__u16 src_port;
	__u16 dst_port;
	__u8 proto;
	__u8 pad[3];
};

/* One IPv6 entry: bp_flow with a 16-byte nat_ip, its fields meaning the same. 48 bytes. */
struct bp_flow6 {
	__u32 nat_ip[4];
	__u16 nat_port;
	__u16 peer_port;
	__u32 ifindex;
	__u32 created;
	__u32 expires;
	__u8 kind;
	__u8 state;
	__u8 flags;
	__u8 seen;
	__u32 via;       /* a SNAT entry: the route out's interface; a DNAT entry: its container's slot + 1 */
	__u32 out_at;
	__u16 out_mtu;
	__u16 port_slot;
};

static inline __attribute__((always_inline)) int bp_ip6_same(const __u32 *a, const __u32 *b)
{
	return a[0] == b[0] && a[1] == b[1] && a[2] == b[2] && a[3] == b[3];
}

static inline __attribute__((always_inline)) int bp_flow_key_same6(const struct bp_flow6_key *a,
								   const struct bp_flow6_key *b)
{
	return bp_ip6_same(a->src_ip, b->src_ip) && bp_ip6_same(a->dst_ip, b->dst_ip) && a->src_port == b->src_port &&
	       a->dst_port == b->dst_port && a->proto == b->proto;
}

/* bp_flow_other_key for IPv6 (without a copy of the tuple: 40 bytes count on a BPF stack). */
static inline __attribute__((always_inline)) void
bp_flow_other_key6(const struct bp_flow6_key *key, const struct bp_flow6 *flow, struct bp_flow6_key *other)
{
	const __u32 *src = key->src_ip, *dst = key->dst_ip;
	__u16 sport = key->src_port, dport = key->dst_port;

	if (flow->flags & BP_FLOW_F_SNAT) {
		src = flow->nat_ip;
		sport = flow->nat_port;
		if (flow->peer_port)
			dport = flow->peer_port;
	} else if (flow->flags & BP_FLOW_F_DNAT) {
		dst = flow->nat_ip;
		dport = flow->nat_port;
		if (flow->peer_port)
			sport = flow->peer_port;
	}
	if (key->proto == BP_PROTO_ICMPV6 && (flow->flags & (BP_FLOW_F_SNAT | BP_FLOW_F_DNAT)))
		sport = dport = flow->nat_port;
	__builtin_memcpy(other->src_ip, dst, sizeof(other->src_ip));
	__builtin_memcpy(other->dst_ip, src, sizeof(other->dst_ip));
	other->src_port = dport;
	other->dst_port = sport;
	other->proto = key->proto;
	other->pad[0] = other->pad[1] = other->pad[2] = 0;
}

/*
 * A counted flow's (BP_FLOW_F_COUNTED) traffic in one direction: the packets of its entry's
 * tuple and their IP bytes (skb->len from the IP header on, as conntrack's accounting counts
 * them; a GSO packet counts once, with all its bytes). Its events report both entries' sums.
 */
struct bp_flow_acct {
	__u64 packets;
	__u64 bytes;
};

/* Timeouts, set with `bridgeport daemon --flow-timeout NAME=DURATION`. */
enum bp_flow_timeout {
	BP_TIMEOUT_TCP_SYN = 0,         /* "tcp-syn": syn_sent, syn_recv */
	BP_TIMEOUT_TCP_ESTABLISHED = 1, /* "tcp-established" */
	BP_TIMEOUT_TCP_CLOSING = 2,     /* "tcp-closing": after a FIN (Linux's FIN_WAIT, TIME_WAIT, ...) */
	BP_TIMEOUT_TCP_CLOSE = 3,       /* "tcp-close": after a RST */
	BP_TIMEOUT_UDP = 4,             /* "udp": unreplied, replied */
	BP_TIMEOUT_UDP_STREAM = 5,      /* "udp-stream" */
	BP_TIMEOUT_ICMP = 6,            /* "icmp": echo */
	__BP_TIMEOUT_MAX
};

/* bp_flow_config's only entry; a timeout of 0 means the default. */
struct bp_flow_config {
	__u32 timeouts[__BP_TIMEOUT_MAX]; /* seconds, by enum bp_flow_timeout */
	__u32 pad;
};

/* Linux's defaults (Documentation/networking/nf_conntrack-sysctl.rst), in seconds. */
static inline __u32 bp_flow_timeout_default(__u32 which)
{
	switch (which) {
	case BP_TIMEOUT_TCP_SYN: return 120;
	case BP_TIMEOUT_TCP_ESTABLISHED: return 432000; /* 5 days */
	case BP_TIMEOUT_TCP_CLOSING: return 120;
	case BP_TIMEOUT_TCP_CLOSE: return 10;
	case BP_TIMEOUT_UDP: return 30;
	case BP_TIMEOUT_UDP_STREAM: return 120;
	default: return 30; /* BP_TIMEOUT_ICMP */
	}
}

/* The name of a timeout in --flow-timeout. */
static inline const char *bp_flow_timeout_name(__u32 which)
{
	switch (which) {
	case BP_TIMEOUT_TCP_SYN: return "tcp-syn";
	case BP_TIMEOUT_TCP_ESTABLISHED: return "tcp-established";
	case BP_TIMEOUT_TCP_CLOSING: return "tcp-closing";
	case BP_TIMEOUT_TCP_CLOSE: return "tcp-close";
	case BP_TIMEOUT_UDP: return "udp";
	case BP_TIMEOUT_UDP_STREAM: return "udp-stream";
	case BP_TIMEOUT_ICMP: return "icmp";
	default: return "";
	}
}

/* Which timeout a flow in this state has. */
static inline __attribute__((always_inline)) __u32 bp_flow_timeout_of(__u8 proto, __u8 state)
{
	if (proto == BP_PROTO_ICMP || proto == BP_PROTO_ICMPV6)
		return BP_TIMEOUT_ICMP;
	switch (state) {
	case BP_FLOW_SYN_SENT:
	case BP_FLOW_SYN_RECV: return BP_TIMEOUT_TCP_SYN;
	case BP_FLOW_ESTABLISHED: return BP_TIMEOUT_TCP_ESTABLISHED;
	case BP_FLOW_CLOSING: return BP_TIMEOUT_TCP_CLOSING;
	case BP_FLOW_CLOSE: return BP_TIMEOUT_TCP_CLOSE;
	case BP_FLOW_STREAM: return BP_TIMEOUT_UDP_STREAM;
	default: return BP_TIMEOUT_UDP;
	}
}

/* Metric label value of a state (bridgeport_flows{state}). */
static inline const char *bp_flow_state_label(__u32 state)
{
	switch (state) {
	case BP_FLOW_SYN_SENT: return "syn_sent";
	case BP_FLOW_SYN_RECV: return "syn_recv";
	case BP_FLOW_ESTABLISHED: return "established";
	case BP_FLOW_CLOSING: return "closing";
	case BP_FLOW_CLOSE: return "close";
	case BP_FLOW_UNREPLIED: return "unreplied";
	case BP_FLOW_REPLIED: return "replied";
	case BP_FLOW_STREAM: return "stream";
	default: return "unspecified";
	}
}

/* What happened to flows: bp_flow_counts is indexed by BP_FLOW_COUNTER(event, protocol). */
enum bp_flow_event {
	BP_FLOW_EV_CREATED = 0, /* a program created it */
	BP_FLOW_EV_REAPED = 1,  /* a program found it expired and removed it (its tuple was wanted again) */
	BP_FLOW_EV_EXPIRED = 2, /* the agent's collector removed it, expired */
	BP_FLOW_EV_EVICTED = 3, /* the collector removed it early, the table being nearly full (never an established flow) */
	BP_FLOW_EV_FLUSHED = 4, /* removed with its owner (container, port, host address) or by `bridgeport flows --flush` */
	__BP_FLOW_EV_MAX
};

/* Counters per protocol: TCP, UDP, ICMP, other. Events of programs and of the agent sit in
 * distinct slots, so that the agent's read-modify-write never races a program. */
static inline __attribute__((always_inline)) __u32 bp_flow_protocol_slot(__u8 proto)
{
	return proto == BP_PROTO_TCP ? 0 : proto == BP_PROTO_UDP ? 1 : proto == BP_PROTO_ICMP || proto == BP_PROTO_ICMPV6 ? 2 : 3;
}
#define BP_FLOW_COUNTER(event, proto) ((__u32)(event) * 4 + bp_flow_protocol_slot(proto))
#define BP_FLOW_COUNTER_GC_RUNS (__BP_FLOW_EV_MAX * 4) /* passes of the agent's collector */
#define BP_FLOW_COUNTERS (BP_FLOW_COUNTER_GC_RUNS + 1)

static inline const char *bp_flow_event_label(__u32 event)
{
	switch (event) {
	case BP_FLOW_EV_CREATED: return "created";
	case BP_FLOW_EV_REAPED: return "reaped";
	case BP_FLOW_EV_EXPIRED: return "expired";
	case BP_FLOW_EV_EVICTED: return "evicted";
	case BP_FLOW_EV_FLUSHED: return "flushed";
	default: return "unspecified";
	}
}

/* ------------------------------------------------------------------------- */
/* Published ports reached by sockets of the host and of containers           */
/* ------------------------------------------------------------------------- */

/* Which namespaces the socket hooks act in (others are left alone). */
enum bp_netns_kind {
	BP_NETNS_HOST = 1,      /* the agent's: localhost reaches published ports */
	BP_NETNS_CONTAINER = 2, /* a container's: host addresses reach published ports (hairpin) */
};

/* A namespace the socket hooks act in. 32 bytes. */
struct bp_netns {
	__u8 kind;       /* enum bp_netns_kind */
	__u8 pad[3];
	__u32 ip;        /* a container's address: what restricted ports' allow lists are asked about */
	__u32 ifindex;   /* its host-side veth: where a refused connect() is counted */
	/* The embedded DNS server's ports on BP_DNS_IP in a container, network byte order (0:
	 * none): 127.0.0.11:53 is sent there, as Docker's DNAT does, so that the container can
	 * bind port 53 itself. */
	__u16 dns_udp_port;
	__u16 dns_tcp_port;
	/* A container's IPv6 address on a dual-stack network (all zero: none), for the allow
	 * lists of restricted IPv6 ports. */
	__u32 ip6[4];
};

/* The embedded DNS server's address in every container (Docker's), host byte order. */
#define BP_DNS_IP 0x7f00000b
#define BP_DNS_PORT 53

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

/* bp_subnets6's key: prefixlen bits of ip6 count. 20 bytes. */
struct bp_subnet6_key {
	__u32 prefixlen;
	__u8 ip6[16];
};

/* bp_host_addrs6's key: an IPv6 address as on the wire. 16 bytes. */
struct bp_addr6 {
	__u8 ip6[16];
};

/* How a network's container addresses may be reached straight from an uplink (direct
 * routing), by Docker 28's gateway modes. Published container ports are reached in every
 * mode but internal networks. */
enum bp_subnet_flags {
	BP_SUBNET_F_ROUTED = 1 << 0,      /* routed: ICMP too */
	BP_SUBNET_F_UNPROTECTED = 1 << 1, /* nat-unprotected, macvlan: every port */
	BP_SUBNET_F_INTERNAL = 1 << 2,    /* --internal (isolated too): nothing */
	BP_SUBNET_F_MASQUERADE = 1 << 3,  /* its flows out are masqueraded: a flow in by direct
					   * routing is tracked, so that its replies are not */
	BP_SUBNET_F_LAN = 1 << 4,         /* a macvlan network's: the LAN's prefix, which other
					   * networks' containers reach as any address beyond the
					   * host (Docker isolates its bridges only) */
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
	BP_DROP_SPOOFED_SOURCE = 3, /* "spoofed_source": source IP/MAC is not the endpoint's, or ARP or
				     * NDP claims another address or MAC */
	BP_DROP_INTERNAL = 4,       /* "internal": leaving an --internal network */
	BP_DROP_NOT_ALLOWED = 5,    /* "not_allowed": no rule allows it (e.g. unpublished port) */
	BP_DROP_MALFORMED = 6,      /* "malformed": truncated or invalid headers */
	BP_DROP_UNKNOWN_ENDPOINT = 7, /* "unknown_endpoint": no bp_endpoints entry for the ifindex */
	BP_DROP_DIRECT_ACCESS = 8,  /* "direct_access": from the uplink straight to a container address */
	BP_DROP_FRAGMENT = 9,       /* "fragment": an IP fragment that needs a translation (masquerade) */
	BP_DROP_NAT_EXHAUSTED = 10, /* "nat_exhausted": no source port left for this destination */
	BP_DROP_CT_FULL = 11,       /* "ct_full": a new flow, and the flow table is full */
	BP_DROP_VLAN = 12,          /* "vlan": an 802.1Q or 802.1ad tag from a container (VID 0 too) */
	BP_DROP_UNKNOWN_L3 = 13,    /* "unknown_l3": an ethertype the network does not carry */
	BP_DROP_IPV6_DISABLED = 14, /* "ipv6_disabled": IPv6 on a network without IPv6 */
	BP_DROP_VXLAN_SOURCE = 15,  /* "vxlan_source": VXLAN from a host that is not the cluster's */
	BP_DROP_FRAG_NEEDED = 16,   /* "frag_needed": too big for the route out of a translation, DF not set
				     * (the kernel would fragment it untranslated) */
	BP_DROP_NO_ROUTE = 17,      /* "no_route": the route lookup of a translated packet failed */
	BP_DROP_UNTRANSLATABLE = 18, /* "untranslatable": from a masquerading network to beyond the host,
				      * of no flow masquerade can translate (an ICMP error about no known
				      * flow, an ICMP message other than echo and errors) */
	BP_DROP_IPV6_UNSUPPORTED = 19, /* "ipv6_unsupported": IPv6 from a container to beyond the host
					* that NAT66 does not take (a protocol other than TCP, UDP and
					* ICMPv6 echo), or from an endpoint without an IPv6 way out */
	BP_DROP_ROGUE_ROUTER = 20,  /* "rogue_router": a router advertisement or redirect from a container */
	BP_DROP_EXT_HEADERS = 21,   /* "ext_headers": more IPv6 extension headers than the programs follow */
	BP_DROP_IPV4_DISABLED = 22, /* "ipv4_disabled": IPv4 or ARP on a network without IPv4 (IPv6-only) */
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
	case BP_DROP_NAT_EXHAUSTED: return "nat_exhausted";
	case BP_DROP_CT_FULL: return "ct_full";
	case BP_DROP_VLAN: return "vlan";
	case BP_DROP_UNKNOWN_L3: return "unknown_l3";
	case BP_DROP_IPV6_DISABLED: return "ipv6_disabled";
	case BP_DROP_VXLAN_SOURCE: return "vxlan_source";
	case BP_DROP_FRAG_NEEDED: return "frag_needed";
	case BP_DROP_NO_ROUTE: return "no_route";
	case BP_DROP_UNTRANSLATABLE: return "untranslatable";
	case BP_DROP_IPV6_UNSUPPORTED: return "ipv6_unsupported";
	case BP_DROP_ROGUE_ROUTER: return "rogue_router";
	case BP_DROP_EXT_HEADERS: return "ext_headers";
	case BP_DROP_IPV4_DISABLED: return "ipv4_disabled";
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

/* ------------------------------------------------------------------------- */
/* Monitor events (`bridgeport monitor`)                                      */
/* ------------------------------------------------------------------------- */

/*
 * The programs report drops and flow changes through the bp_events ring buffer, as
 * Cilium's drop and trace notifications do, but only while someone listens: each event
 * type has a bit in bp_monitor's `subscribed`, and a program that finds its bit clear
 * reserves nothing. (The agent listens to drops whenever it runs, to keep each container's
 * last drops; to flows only while a monitor asks.) While a type is subscribed each CPU
 * emits at most `rate` events of it per second (0: no limit); the events it could not emit,
 * over the limit or with the ring full, are counted in bp_events_lost. Events of a type
 * nobody subscribed to are neither emitted nor lost.
 */
/* The address families of events (Linux's values) */
#define BP_AF_INET 2
#define BP_AF_INET6 10

enum bp_event_type {
	BP_EVENT_DROP = 0, /* "drop": struct bp_drop_event */
	BP_EVENT_FLOW = 1, /* "flow": struct bp_flow_change_event */
	__BP_EVENT_MAX
};

struct bp_monitor_config {
	__u32 subscribed; /* bit (1 << enum bp_event_type) per type someone listens to */
	__u32 rate;       /* events per second per CPU and type; 0: no limit */
};

struct bp_event_budget {
	__u64 second; /* the second (of bpf_ktime_get_ns) `used` counts in */
	__u64 used;
};

/* Every event starts with this: its type says which struct follows. */
struct bp_event_head {
	__u64 time;    /* bpf_ktime_get_ns: CLOCK_MONOTONIC */
	__u8 type;     /* enum bp_event_type */
	__u8 pad[3];
	__u32 ifindex; /* the container's host-side veth the event is reported on (drops: as bp_drops') */
};

/* How many bytes of a dropped packet an event carries, from its first (the MAC header, or
 * the IP header on devices without one): enough for IPv6 with an extension header and TCP. */
#define BP_DROP_SAMPLE 128

enum bp_drop_hook {
	BP_HOOK_TC = 0,   /* a tc program: `sample` holds the packet's start */
	BP_HOOK_SOCK = 1, /* a socket hook refused a call: the tuple is the call's, no sample */
};

struct bp_drop_event {
	struct bp_event_head head;
	__u8 reason;        /* enum bp_drop_reason */
	__u8 direction;     /* enum bp_direction */
	__u8 hook;          /* enum bp_drop_hook */
	__u8 sample_len;    /* bytes of `sample` filled */
	__u32 dev_ifindex;  /* the device the packet was on (skb->ifindex) */
	__u32 len;          /* the packet's length (skb->len); 0 for a refused call */
	__u16 protocol;     /* skb->protocol, network byte order (BP_HOOK_TC) */
	/* BP_HOOK_SOCK: the refused call's tuple (family AF_INET or AF_INET6, addresses in network
	 * byte order, IPv4 in [0], ports in host byte order) */
	__u8 family;
	__u8 proto;
	__u32 saddr[4];
	__u32 daddr[4];
	__u16 sport;
	__u16 dport;
	__u32 pad;
	__u8 sample[BP_DROP_SAMPLE];
};

enum bp_flow_change {
	BP_FLOW_CHANGE_NEW = 0,         /* "new": a program created it */
	BP_FLOW_CHANGE_ESTABLISHED = 1, /* "established": TCP completed the handshake; UDP, ICMP: replied */
	BP_FLOW_CHANGE_CLOSED = 2,      /* "closed": TCP, a RST or both FINs */
	BP_FLOW_CHANGE_EXPIRED = 3,     /* "expired": its timeout passed (removed by the agent's
					 * collector, or by a program that met it) */
	BP_FLOW_CHANGE_EVICTED = 4,     /* "evicted": removed before its timeout, unanswered, by the
					 * collector of a nearly full table (Linux's early drop) */
	BP_FLOW_CHANGE_FLUSHED = 5,     /* "flushed": removed with its container, a host address, a
					 * published port or an allow-list entry it used, or by
					 * `bridgeport flows --flush` */
	__BP_FLOW_CHANGE_MAX
};

/* A flow's change, with its original tuple (as the first packet had it) and its reply tuple
 * (as the replies have it: translated), conntrack -E's two tuples. IPv4 addresses in [0]. */
struct bp_flow_change_event {
	struct bp_event_head head;
	__u8 change;     /* enum bp_flow_change */
	__u8 family;     /* AF_INET or AF_INET6 */
	__u8 proto;
	__u8 kind;       /* enum bp_flow_kind */
	__u8 state;      /* enum bp_flow_state after the change */
	__u8 counted;    /* closed, expired: `packets` and `bytes` hold the flow's counts (made while a
			  * monitor listened) */
	__u8 pad[2];
	__u32 src[4], dst[4];             /* original tuple */
	__u16 sport, dport;
	__u32 reply_src[4], reply_dst[4]; /* reply tuple */
	__u16 reply_sport, reply_dport;
	__u64 packets;   /* when `counted`: the flow's packets and IP bytes, both ways,
			  * as struct bp_flow_acct counts them */
	__u64 bytes;
};

/* ------------------------------------------------------------------------- */
/* Helper calls (the instrumented objects of `make bpf-counted` only)         */
/* ------------------------------------------------------------------------- */

/*
 * Built with -DBP_COUNT_HELPERS (bpf/lib/helper_count.h), the programs count every helper
 * and kfunc call they make, which `make bench` reads per path: a per-CPU array of one
 * struct bp_helper_calls, whose calls[BP_HELPER_SLOT(helper, map type)] count the calls of
 * that helper. helper: a BPF_FUNC_* id of <linux/bpf.h>, or a BP_KFUNC_* below; map type:
 * the BPF_MAP_TYPE_* of the map a map helper was called on (the verifier inlines lookups of
 * arrays only), 0 for the other helpers and for map types of BP_HELPER_MAP_TYPES and above.
 * The normal objects have no such map. (Here at the end: the normal objects' line info of
 * the functions above stays as it was, and with it every byte of them.)
 */
#define BP_MAP_HELPER_CALLS "bp_helper_calls"
#define BP_HELPER_IDS 256
#define BP_HELPER_MAP_TYPES 16
#define BP_HELPER_SLOTS (BP_HELPER_IDS * BP_HELPER_MAP_TYPES)
#define BP_HELPER_SLOT(helper, map_type) ((map_type) * BP_HELPER_IDS + (helper))
#define BP_KFUNC_CAST_TO_KERN_CTX (BP_HELPER_IDS - 1) /* past every BPF_FUNC_* id */

/* 32 KiB, the most a per-CPU value may have. */
struct bp_helper_calls {
	__u64 calls[BP_HELPER_SLOTS];
};

#endif /* BRIDGEPORT_H */
