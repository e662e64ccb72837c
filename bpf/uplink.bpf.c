// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * uplink: tc ingress of each uplink of the host. Published ports: a TCP or UDP
 * packet to one of the host's addresses and a published port (bp_ports: that
 * address first, then "every address") gets the container's address and port
 * as its destination, the flow is tracked in bp_flows (lib/conntrack.h) so that
 * the endpoint program translates exactly its replies back, and the packet goes
 * straight to the container. As in Docker 28, a packet addressed straight to a
 * container's address reaches what its network's gateway mode lets in
 * (bp_direct_access), and the rest is dropped. Replies to flows the endpoint program masqueraded go back to
 * their container. A port restricted with `bridgeport port allow` only lets
 * the allowed sources through, as Docker users do with the DOCKER-USER chain.
 * Only a connection's first packet (a TCP SYN) opens a published flow. In a cluster, VXLAN
 * is taken only from the cluster's hosts. Everything else continues untouched. IPv6 gets
 * the same, with its own tables (bp_ports6, bp_allow6, bp_targets6, bp_flows6), in a
 * tail-called program (bp_up_nat66): published ports, direct access, replies of
 * masqueraded flows (NAT66); fragments of IPv6 are not translated yet.
 */
#include "lib/common.h"
#include "lib/conntrack.h"
#include "lib/icmp.h"
#include "lib/icmp6.h"
#include "lib/maps.h"
#include "lib/metrics.h"
#include "lib/parse.h"
#include "lib/nat.h"
#include "lib/nat6.h"
#include "lib/parse6.h"
#include "lib/policy.h"
#include "lib/policy6.h"
#include "lib/ports.h"

/* BP_MAP_UP_TAIL */
struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} bp_up_tail SEC(".maps");

/* bp_uplink6's answers that the packet is for bp_up_nat66 (tail-called): to one of the
 * host's addresses, or to a container's. No verdicts of tc's. */
#define BP_TO_HOST6 1000
#define BP_TO_CONTAINER6 1001

/*
 * What Linux's conntrack calls related, of a container's flow that passes untranslated (a
 * routed network's, or one whose masquerade is off): an ICMP error about it from outside
 * (path-MTU discovery needs "fragmentation needed"), and a later fragment of a datagram
 * whose first fragment passed as the flow's (remembered with its own address: no
 * translation). Masqueraded flows' errors and fragments come to a host address instead.
 */
static __always_inline int bp_related_untranslated(struct __sk_buff *skb, const struct bp_packet *p)
{
	int verdict = BP_CONTINUE;

	if (p->fragment) {
		struct bp_frag_nat *nat = bp_fragment_translation(p);

		return nat && nat->addr == p->daddr;
	}
	/* An untranslated flow's error is left as it is (1, BP_CONTINUE); no translated flow has
	 * an entry for a container's own address as the outer destination. */
	return p->icmp_error && bp_icmp_error(skb, p, 1, &verdict) && verdict == BP_CONTINUE;
}

/*
 * A packet from outside straight to a container's address (direct routing), by the
 * network's gateway mode: a known flow's (a container's own connection out, or one let
 * in before), published container ports in every mode but internal (and only by allowed
 * sources where restricted), ICMP too in routed mode, everything in nat-unprotected mode
 * and on macvlan. The rest is dropped (direct_access). A flow let in is tracked, so that
 * its replies are known (and not masqueraded). `flow`: the packet's, as bp_flow_lookup found
 * it at `now` (NULL: none, or no tuple).
 */
static __always_inline int bp_direct_access(struct __sk_buff *skb, const struct bp_packet *p, const struct bp_subnet *to,
					    const struct bp_flow_key *key, struct bp_flow *flow, __u32 now)
{
	if (to->flags & BP_SUBNET_F_INTERNAL)
		return bp_drop(skb, BP_DROP_DIRECT_ACCESS, BP_DIR_INGRESS);
	int open = to->flags & BP_SUBNET_F_UNPROTECTED;
	/* Open to all and not masqueraded (macvlan): nothing to judge or to remember. */
	if (open && !(to->flags & BP_SUBNET_F_MASQUERADE))
		return BP_CONTINUE;

	if (flow && !(flow->flags & (BP_FLOW_F_SNAT | BP_FLOW_F_DNAT))) {
		bp_flow_seen(key, flow, p, now, skb->len - p->l3_off);
		if (p->fragment)
			bp_remember_fragment(p, p->daddr, 0);  /* its later fragments pass too */
		return BP_CONTINUE;
	}

	if (!open && p->has_ports && p->proto != BP_PROTO_ICMP)
		open = bp_target_open_to(p->daddr, p->dport, p->proto, p->saddr);
	if (!open && (to->flags & BP_SUBNET_F_ROUTED) && p->proto == BP_PROTO_ICMP)
		open = 1;
	if (!open && !p->has_ports && bp_related_untranslated(skb, p))
		return BP_CONTINUE;
	if (!open)
		return bp_drop(skb, BP_DROP_DIRECT_ACCESS, BP_DIR_INGRESS);
	if (p->has_ports && bp_flow_track(p, key, 0, bp_now_once(&now), skb->len - p->l3_off))
		return bp_drop(skb, BP_DROP_CT_FULL, BP_DIR_INGRESS);
	if (p->fragment && p->has_ports)
		bp_remember_fragment(p, p->daddr, 0);
	return BP_CONTINUE;
}

/*
 * IPv6 from outside: what goes to one of the host's addresses (the gateways' among them) or
 * to an address of a network's IPv6 subnet is bp_up_nat66's (published ports, replies of
 * masqueraded flows, direct access), with a stack of its own; everything else goes on. Out
 * of line: the IPv4 path stays as it was.
 */
static __noinline int bp_uplink6(struct __sk_buff *skb, __u32 l2_len)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct bp_ipv6hdr *in_place = data + l2_len;
	struct bp_ipv6hdr ip;

	if (skb->protocol != bpf_htons(BP_ETH_P_IPV6))
		return BP_CONTINUE;
	/* In the linear data (bp_pull_headers pulled it there) without a helper call. */
	if ((void *)(in_place + 1) <= data_end)
		__builtin_memcpy(&ip, in_place, sizeof(ip));
	else if (bpf_skb_load_bytes(skb, l2_len, &ip, sizeof(ip)))
		return BP_CONTINUE;  /* not whole: not for a container, the kernel drops it */
	if (ip.version_class >> 4 != 6)
		return BP_CONTINUE;
	/* The caller tail-calls: a subprogram under its stack may not. */
	if (bpf_map_lookup_elem(&bp_host_addrs6, ip.daddr))
		return BP_TO_HOST6;
	return bp_subnet6_of(ip.daddr) ? BP_TO_CONTAINER6 : BP_CONTINUE;
}

/* The answers of bp_host_flow6 and bp_publish6 that are no verdicts of tc's: the packet
 * belongs to no flow toward a container; a flow for it was made. And bp_direct_access6's:
 * a later fragment or an ICMPv6 error, for bp_up_rel6 to judge. */
#define BP_NO_FLOW6 1002
#define BP_FLOW_MADE6 1003
#define BP_RELATED6 1004

/*
 * IPv6 to one of the host's addresses, as bp_uplink does for IPv4, in steps out of line
 * (each with a stack of its own; the flow table's search for a port on top of the second):
 * a known flow toward a container (a published one, or the reply of a masqueraded one) is
 * translated and counted on its port.
 */
static __noinline int bp_host_flow6(struct __sk_buff *skb, const struct bp_packet6 *p, __u32 l3_off)
{
	__u32 now = 0;
	struct bpf_fib_lookup fib;
	struct bp_flow6_key key = bp_tuple6(p);
	struct bp_flow6 *flow = bp_flow_lookup6(&key, p, &now);

	if (!flow || !(flow->flags & BP_FLOW_F_DNAT))
		return BP_NO_FLOW6;
	bp_flow_seen6(&key, flow, p, now, skb->len - l3_off);
	if (flow->kind == BP_FLOW_PUBLISHED)
		bp_count_port6(flow->port_slot, skb->len, 0);  /* every IPv6 entry carries it */
	return bp_apply6(skb, p, l3_off, flow, now, &fib);
}

/* Else a TCP SYN or UDP to a published IPv6 port (bp_ports6) opens a published flow
 * (BP_FLOW_MADE6); the rest is the host's. */
static __noinline int bp_publish6(struct __sk_buff *skb, const struct bp_packet6 *p)
{
	if (p->proto != BP_PROTO_TCP && p->proto != BP_PROTO_UDP)
		return BP_CONTINUE;
	/* Only a connection's first packet opens a published flow (see bp_uplink). */
	if (p->proto == BP_PROTO_TCP && (p->tcp_flags & (BP_TCP_SYN | BP_TCP_ACK)) != BP_TCP_SYN)
		return BP_CONTINUE;
	struct bp_port6_key port;
	struct bp_port6_target *found = bp_published6(p->daddr, p->dport, p->proto, &port);
	if (!found)
		return BP_CONTINUE;
	struct bp_port6_target target = *found;
	if (p->hop_limit <= 1)
		return BP_CONTINUE;  /* the kernel answers "time exceeded" */

	if ((target.flags & BP_PORT_F_RESTRICTED) && !bp_port_allows6(port.host_ip, port.host_port, p->proto, p->saddr))
		return bp_drop_on(skb, target.ifindex, BP_DROP_NOT_ALLOWED, BP_DIR_INGRESS);
	struct bp_flow6_key key = bp_tuple6(p);
	enum bp_drop_reason refused = bp_publish_flow6(skb, p, &key, &port, &target, bp_now());
	return refused ? bp_drop_on(skb, target.ifindex, refused, BP_DIR_INGRESS) : BP_FLOW_MADE6;
}

/* IPv6 to one of the host's addresses: a later fragment follows its first fragment's
 * translation (lib/frag6.h), an ICMPv6 error its flow's (lib/icmp6.h); a known flow's
 * packet is translated, a new published flow made; the rest is the host's. A new
 * published flow's first packet goes as the flow's next ones do. */
static __always_inline int bp_to_host6(struct __sk_buff *skb, const struct bp_packet6 *p, __u32 l3_off)
{
	if ((p->fragment && !p->has_ports) || bp_icmp6_is_error(p)) {
		/* bp_up_rel6 (bp_up_rel6_l3): a stack of its own */
		bpf_tail_call(skb, &bp_up_tail, l3_off ? 2 : 3);
		return BP_CONTINUE;  /* no program in the slot: the host's */
	}
	if (!p->has_ports || !bp_nat66_tracks(p))
		return BP_CONTINUE;
	int verdict = bp_host_flow6(skb, p, l3_off);
	if (verdict != BP_NO_FLOW6)
		return verdict;
	verdict = bp_publish6(skb, p);
	if (verdict != BP_FLOW_MADE6)
		return verdict;
	verdict = bp_host_flow6(skb, p, l3_off);
	return verdict == BP_NO_FLOW6 ? BP_CONTINUE : verdict;  /* gone meanwhile: the host's */
}

/*
 * bp_direct_access for IPv6: a packet from outside straight to a container's IPv6 address,
 * by its network's gateway mode. Flows are tracked for TCP, UDP and ICMPv6 echo (NAT66's
 * protocols); a packet that cannot be parsed is judged as one without ports.
 */
static __noinline int bp_direct_access6(struct __sk_buff *skb, const struct bp_packet6 *p, const struct bp_subnet *to,
					__u32 l3_off)
{
	if (to->flags & BP_SUBNET_F_INTERNAL)
		return bp_drop(skb, BP_DROP_DIRECT_ACCESS, BP_DIR_INGRESS);
	int open = to->flags & BP_SUBNET_F_UNPROTECTED;
	if (open && !(to->flags & BP_SUBNET_F_MASQUERADE))
		return BP_CONTINUE;

	/* NAT66's protocols, and the others by their addresses (ports 0) as a routed network's
	 * containers track them; ICMPv6 other than echo has no flow. */
	int tracked = p->has_ports && (bp_nat66_tracks(p) || p->proto != BP_IPPROTO_ICMPV6);
	__u32 now = 0;
	struct bp_flow6_key key = bp_tuple6(p);
	if (tracked) {
		struct bp_flow6 *flow = bp_flow_lookup6(&key, p, &now);

		if (flow && !(flow->flags & (BP_FLOW_F_SNAT | BP_FLOW_F_DNAT))) {
			bp_flow_seen6(&key, flow, p, now, skb->len - l3_off);
			if (p->fragment)
				bp_remember_fragment6(skb, p, p->daddr, 0);  /* its later fragments pass too */
			return BP_CONTINUE;
		}
	}

	if (!open && tracked && p->proto != BP_PROTO_ICMPV6)
		open = bp_target_open_to6(p->daddr, p->dport, p->proto, p->saddr);
	if (!open && (to->flags & BP_SUBNET_F_ROUTED) && p->proto == BP_PROTO_ICMPV6)
		open = 1;
	/* Related to a flow that passes untranslated? (bp_up_rel6 judges, with a stack of its own) */
	if (!open && ((p->fragment && !p->has_ports) || bp_icmp6_is_error(p)))
		return BP_RELATED6;
	if (!open)
		return bp_drop(skb, BP_DROP_DIRECT_ACCESS, BP_DIR_INGRESS);
	if (tracked && bp_flow_track6(p, &key, 0, bp_now_once(&now), skb->len - l3_off))
		return bp_drop(skb, BP_DROP_CT_FULL, BP_DIR_INGRESS);
	if (p->fragment && p->has_ports)
		bp_remember_fragment6(skb, p, p->daddr, 0);
	return BP_CONTINUE;
}

/* What bp_uplink6 sent to bp_up_nat66 (its answer in cb[0]): IPv6 to one of the host's
 * addresses or to a container's. */
static __always_inline int bp_uplink6_tail(struct __sk_buff *skb, __u32 l3_off)
{
	struct bp_packet6 p = {};
	int parsed = bp_parse_ipv6(skb, &p, l3_off);
	__u32 answer = skb->cb[0];

	/* Not set by this version's bp_uplink6 (an upgrade's older program tail-calls into the
	 * pinned array until its link is replaced; cb[] holds what the stack left): asked again. */
	if (answer != BP_TO_HOST6 && answer != BP_TO_CONTAINER6)
		answer = bpf_map_lookup_elem(&bp_host_addrs6, p.daddr) ? BP_TO_HOST6 : BP_TO_CONTAINER6;
	if (answer == BP_TO_HOST6)
		return parsed < 0 ? BP_CONTINUE : bp_to_host6(skb, &p, l3_off);  /* the kernel refuses what is broken */
	struct bp_subnet *to = bp_subnet6_of(p.daddr);
	if (!to)
		return BP_CONTINUE;  /* neither (the maps changed meanwhile, or the header is unreadable) */
	if (parsed < 0)
		p.has_ports = 0;
	int verdict = bp_direct_access6(skb, &p, to, l3_off);
	if (verdict == BP_RELATED6) {
		/* Only a packet read whole can be related (bp_up_rel6 reads it again). */
		if (parsed >= 0)
			bpf_tail_call(skb, &bp_up_tail, l3_off ? 2 : 3);  /* bp_up_rel6 (bp_up_rel6_l3) */
		return bp_drop(skb, BP_DROP_DIRECT_ACCESS, BP_DIR_INGRESS);  /* or no program in the slot */
	}
	return verdict;
}

/* The counters' slot of a published flow's port: the one its entry carries, or for a flow
 * made before entries carried one (an upgrade: 0), its port's, by a lookup of the port. */
static __always_inline __u32 bp_published_slot(const struct bp_flow_key *key, const struct bp_flow *flow)
{
	if (flow->port_slot)
		return flow->port_slot;
	struct bp_port_key port = {
		.host_ip = (flow->flags & BP_FLOW_F_ANY_HOST) ? 0 : key->dst_ip, .host_port = key->dst_port, .proto = key->proto,
	};
	struct bp_port_target *target = bpf_map_lookup_elem(&bp_ports, &port);
	return target ? target->stats_slot : 0;
}

/* `l2_len`: ETH_HLEN, or 0 on a device without an Ethernet header (see bp_parse_l3). */
static __always_inline int bp_uplink(struct __sk_buff *skb, __u32 l2_len)
{
	struct bp_packet p;

	/* A frame with a VLAN tag the NIC took off (offload) belongs to that VLAN's device, whose
	 * own program judges it; without one, the kernel drops it. */
	if (skb->vlan_present)
		return BP_CONTINUE;
	bp_pull_headers(skb);
	int parsed = bp_parse_l3(skb, &p, l2_len);
	if (parsed == BP_PARSE_NOT_IPV4) {
		int verdict = bp_uplink6(skb, l2_len);

		if (verdict == BP_TO_HOST6 || verdict == BP_TO_CONTAINER6) {
			skb->cb[0] = verdict;  /* the tail-called program's to know */
			bpf_tail_call(skb, &bp_up_tail, l2_len ? 0 : 1);
			/* No program in the slot: the host's own goes on, a container's is refused. */
			if (verdict == BP_TO_HOST6)
				return BP_CONTINUE;
			return bp_drop(skb, BP_DROP_DIRECT_ACCESS, BP_DIR_INGRESS);
		}
		return verdict;
	}
	if (parsed < 0) {
		/* Cut inside its L4 header: the host's stack refuses it, but a tiny first fragment
		 * (RFC 1858) would reassemble with later ones into what direct access never saw:
		 * nothing cut reaches a container's address. */
		if (p.daddr && !bpf_map_lookup_elem(&bp_host_addrs, &p.daddr) && bp_subnet_of(p.daddr))
			return bp_drop(skb, BP_DROP_MALFORMED, BP_DIR_INGRESS);
		return BP_CONTINUE;
	}
	/* VXLAN to any address of the host (broadcast and multicast too) is the overlay's. */
	if (bp_vxlan_refused(&p))
		return bp_drop(skb, BP_DROP_VXLAN_SOURCE, BP_DIR_INGRESS);

	/* A known flow toward a container first, the most common packet: a published one, or
	 * the reply of a masqueraded one. Only a tuple to one of the host's addresses makes such
	 * a flow, so this needs no lookup of the address; the flow looked up serves the
	 * direct-access check too. */
	__u32 now = 0;
	struct bp_flow_key key = bp_tuple(&p);
	struct bp_flow *flow = p.has_ports ? bp_flow_lookup(&key, &p, &now) : NULL;
	if (flow && (flow->flags & BP_FLOW_F_DNAT)) {
		bp_flow_seen(&key, flow, &p, now, skb->len - p.l3_off);
		if (flow->kind == BP_FLOW_PUBLISHED)
			bp_count_port(bp_published_slot(&key, flow), skb->len, 0);
		return bp_apply_in(skb, &p, flow, now);
	}
	/* One hash lookup sorts the rest: the host's own (published ports among it) goes on
	 * below; only the rest pays for the subnet lookup (a trie) of the direct-access check. */
	if (!bpf_map_lookup_elem(&bp_host_addrs, &p.daddr)) {
		struct bp_subnet *to = bp_subnet_of(p.daddr);

		if (to)
			return bp_direct_access(skb, &p, to, &key, flow, now);
		return BP_CONTINUE;  /* not addressed to this host */
	}
	if (!p.has_ports) {
		int verdict = BP_CONTINUE;

		if (p.fragment && bp_follow_fragment(skb, &p, 1, &verdict))
			return verdict;
		if (p.icmp_error && bp_icmp_error(skb, &p, 1, &verdict))
			return verdict;
		return BP_CONTINUE;
	}

	if (!bp_ported(p.proto))
		return BP_CONTINUE;  /* no port to publish (ICMP, GRE, ESP...) */
	/* Only the first packet of a connection opens a published flow: a TCP segment of a
	 * connection the table does not know belongs to the host (its own connection from a
	 * source port that was later published, or one that expired), not to the container. */
	if (p.proto == BP_PROTO_TCP && (p.tcp_flags & (BP_TCP_SYN | BP_TCP_ACK)) != BP_TCP_SYN)
		return BP_CONTINUE;
	struct bp_port_key port;
	struct bp_port_target *found = bp_published(p.daddr, p.dport, p.proto, &port);
	if (!found)
		return BP_CONTINUE;
	struct bp_port_target target = *found;
	if (bp_ttl_expires(&p))
		return BP_CONTINUE;

	if ((target.flags & BP_PORT_F_RESTRICTED) && !bp_port_allows(port.host_ip, port.host_port, p.proto, p.saddr))
		return bp_drop_on(skb, target.ifindex, BP_DROP_NOT_ALLOWED, BP_DIR_INGRESS);
	return bp_publish_flow(skb, &p, &key, &port, &target, bp_now_once(&now));
}

SEC("tc")
int bp_up_ingress(struct __sk_buff *skb)
{
	return bp_uplink(skb, sizeof(struct ethhdr));
}

/* The same on uplinks whose packets start at the IP header (WireGuard, tun, ipip: the
 * agent picks by the device's type), so that direct access is filtered there too. */
SEC("tc")
int bp_up_ingress_l3(struct __sk_buff *skb)
{
	return bp_uplink(skb, 0);
}

/* IPv6 to the host or to a container, tail-called by bp_up_ingress (bp_up_nat66_l3: by
 * bp_up_ingress_l3). */
SEC("tc")
int bp_up_nat66(struct __sk_buff *skb)
{
	return bp_uplink6_tail(skb, sizeof(struct ethhdr));
}

SEC("tc")
int bp_up_nat66_l3(struct __sk_buff *skb)
{
	return bp_uplink6_tail(skb, 0);
}

/*
 * What bp_up_nat66 found without a tuple of its own. To one of the host's addresses: a
 * later fragment follows its first fragment's translation (lib/frag6.h), an ICMPv6 error
 * its flow's (lib/icmp6.h); the rest is the host's. To a container's address (direct
 * routing that its gateway mode does not let in): what is related to a flow of the
 * container's that passes untranslated (bp_related_untranslated's rules), the rest is
 * dropped (direct_access).
 */
static __always_inline int bp_uplink6_related(struct __sk_buff *skb, __u32 l3_off)
{
	struct bp_packet6 p;
	int verdict = BP_CONTINUE;

	if (bp_parse_ipv6(skb, &p, l3_off) < 0)
		return BP_CONTINUE;  /* parsed before: not reached */
	if (!bpf_map_lookup_elem(&bp_host_addrs6, p.daddr)) {
		struct bp_frag6_nat nat;
		int related = p.fragment && !p.has_ports
				      ? !bp_fragment_translation6(skb, &p, &nat) && bp_ip6_same(nat.addr, p.daddr)
				      : bp_icmp6_error(skb, &p, l3_off, 1, &verdict) && verdict == BP_CONTINUE;

		return related ? BP_CONTINUE : bp_drop(skb, BP_DROP_DIRECT_ACCESS, BP_DIR_INGRESS);
	}
	if (p.fragment && !p.has_ports)
		bp_follow_fragment6(skb, &p, l3_off, 1, &verdict);
	else if (bp_icmp6_is_error(&p))
		bp_icmp6_error(skb, &p, l3_off, 1, &verdict);
	return verdict;
}

SEC("tc")
int bp_up_rel6(struct __sk_buff *skb)
{
	return bp_uplink6_related(skb, sizeof(struct ethhdr));
}

SEC("tc")
int bp_up_rel6_l3(struct __sk_buff *skb)
{
	return bp_uplink6_related(skb, 0);
}

char _license[] SEC("license") = "Dual BSD/GPL";
