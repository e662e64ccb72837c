// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * uplink: tc ingress of each uplink of the host. Published ports: a TCP or UDP
 * packet to one of the host's addresses and a published port (bp_ports: that
 * address first, then "every address") gets the container's address and port
 * as its destination, the flow is remembered in bp_nat so the endpoint program
 * can translate exactly its replies back, and the packet goes straight to the
 * container's bridge. As in Docker 28, a packet addressed straight to a
 * container (not through a published port) is dropped, unless its network is
 * in routed mode. Replies to flows the endpoint program masqueraded go back to
 * their container. A port restricted with `bridgeport port allow` only lets
 * the allowed sources through, as Docker users do with the DOCKER-USER chain.
 * Everything else continues untouched.
 */
#include "lib/common.h"
#include "lib/maps.h"
#include "lib/metrics.h"
#include "lib/parse.h"
#include "lib/nat.h"
#include "lib/policy.h"

/* The published port the packet is for (key tells which entry matched), or NULL. */
static __always_inline struct bp_port_target *bp_published(const struct bp_packet *p, struct bp_port_key *key)
{
	*key = (struct bp_port_key){ .host_ip = p->daddr, .host_port = p->dport, .proto = p->proto };
	struct bp_port_target *target = bpf_map_lookup_elem(&bp_ports, key);

	if (target)
		return target;
	key->host_ip = 0;
	return bpf_map_lookup_elem(&bp_ports, key);
}

SEC("tc")
int bp_up_ingress(struct __sk_buff *skb)
{
	struct bp_packet p;

	if (bp_parse_ipv4(skb, &p) < 0)
		return BP_CONTINUE;
	/* One hash lookup sorts the traffic: the host's own (published ports among it) goes
	 * on below; only the rest pays for the subnet lookup (a trie) of the direct-access check. */
	if (!bpf_map_lookup_elem(&bp_host_addrs, &p.daddr)) {
		struct bp_subnet *to = bp_subnet_of(p.daddr);

		if (to && !(to->flags & BP_SUBNET_F_ROUTED))
			return bp_drop(skb, BP_DROP_DIRECT_ACCESS, BP_DIR_INGRESS);
		return BP_CONTINUE;  /* not addressed to this host */
	}
	int verdict = BP_CONTINUE;
	if (!p.has_ports) {
		if (p.fragment && bp_follow_fragment(skb, &p, 1, &verdict))
			return verdict;
		return BP_CONTINUE;
	}
	if (bp_unmasquerade(skb, &p, &verdict))
		return verdict;

	struct bp_port_key port;
	struct bp_port_target *found = bp_published(&p, &port);
	if (!found)
		return BP_CONTINUE;
	struct bp_port_target target = *found;
	if (bp_ttl_expires(&p))
		return BP_CONTINUE;

	if (target.flags & BP_PORT_F_RESTRICTED) {
		struct bp_allow_key allow = { .prefixlen = 64, .proto = p.proto, .port = p.dport, .ip = p.saddr };

		if (!bpf_map_lookup_elem(&bp_allow, &allow)) {
			bp_count_drop(target.ifindex, BP_DROP_NOT_ALLOWED, BP_DIR_INGRESS);
			return BP_DROP;
		}
	}

	struct bp_nat_key flow = {
		.remote_ip = p.saddr, .endpoint_ip = target.ip,
		.remote_port = p.sport, .endpoint_port = target.port, .proto = p.proto,
	};
	struct bp_nat_value published = { .host_ip = p.daddr, .host_port = p.dport };
	struct bp_nat_value *known = bpf_map_lookup_elem(&bp_nat, &flow);
	if (!known || known->host_ip != published.host_ip || known->host_port != published.host_port)
		bpf_map_update_elem(&bp_nat, &flow, &published, BPF_ANY);
	bp_count_port(&port, skb->len, !known);
	if (p.fragment)
		bp_remember_fragment(&p, target.ip, target.ifindex);

	if (bp_rewrite(skb, &p, 1, target.ip, target.port) < 0)
		return BP_DROP;
	return bp_deliver_to_endpoint(skb, p.saddr, target.ip, target.ifindex);
}

char _license[] SEC("license") = "Dual BSD/GPL";
