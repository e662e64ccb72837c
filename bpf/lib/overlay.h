/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The overlay's frames without its bridge. An overlay network is a bridge with the VXLAN
 * device as a port; a container's frame for another host's container would cross the bridge
 * (its forwarding, and br_netfilter's hooks where that module is loaded) to reach the VXLAN
 * device, and one arriving from there would cross it again to reach the veth. Both are
 * redirects here instead, from the map the agent keeps of the overlay's containers
 * (bp_overlay_dests):
 *
 *   bp_overlay_out  what a container sends another host's container of its network goes
 *                   to the network's VXLAN device (bpf_redirect to its egress), which
 *                   sends it by its forwarding entry as from the bridge;
 *   bp_overlay_in   what the VXLAN device receives for this host's container of its
 *                   network goes to the container (bpf_redirect_peer), counted as its
 *                   veth's egress would count it. The device took the frame, addressed
 *                   to the container's MAC, for PACKET_OTHERHOST; kernels before 6.15 do
 *                   not set it again on the way in (the container's IP layer would drop
 *                   it), so it is made PACKET_HOST here, as Cilium's redirect_ep does. Its
 *                   mark goes, as the veth's crossing into the container clears it.
 *
 * Everything else (ARP, broadcast, IPv6, an address not in the map, a frame whose MAC is
 * not the container's) goes the bridge's way as before, which stays the fallback. Neither
 * drops anything: the sender's policy has judged the packet before bp_overlay_out.
 */
#ifndef BP_LIB_OVERLAY_H
#define BP_LIB_OVERLAY_H

#include <linux/if_packet.h>

#include "common.h"
#include "maps.h"
#include "nat.h"
#include "parse.h"

/* A packet from the container of `ep` for `daddr`, in the subnet `to` (bp_ipv4_verdict's),
 * that stays within the container's network: to the VXLAN device when `daddr` is another
 * host's container of the same overlay network, else on to the bridge. */
static __always_inline int bp_overlay_out(const struct bp_endpoint *ep, __u32 daddr, const struct bp_subnet *to)
{
	if (!(ep->flags & BP_EP_F_OVERLAY) || !to || to->network_id != ep->network_id)
		return BP_CONTINUE;
	const struct bp_overlay_dest *dest = bpf_map_lookup_elem(&bp_overlay_dests, &daddr);

	if (!dest || dest->ifindex || dest->network_id != ep->network_id)
		return BP_CONTINUE;
	return bpf_redirect(dest->tunnel_ifindex, 0);
}

/* A frame the VXLAN device `skb->ifindex` received: an IPv4 packet for this host's container
 * of that device's network, with the container's MAC, goes straight to it. */
static __always_inline int bp_overlay_in(struct __sk_buff *skb)
{
	bp_pull_headers(skb);
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = data + sizeof(*eth);

	if ((void *)(ip + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP))
		return BP_CONTINUE;
	__u32 daddr = ip->daddr;
	const struct bp_overlay_dest *dest = bpf_map_lookup_elem(&bp_overlay_dests, &daddr);
	if (!dest || !dest->ifindex || dest->tunnel_ifindex != skb->ifindex)
		return BP_CONTINUE;  /* another network's device, or not this host's container */
	__u32 ifindex = dest->ifindex;
	const struct bp_endpoint *ep = bpf_map_lookup_elem(&bp_endpoints, &ifindex);
	/* The MAC the bridge would forward by: a frame for another one goes its way. */
	if (!ep || ep->network_id != dest->network_id || __builtin_memcmp(eth->h_dest, ep->mac, ETH_ALEN))
		return BP_CONTINUE;
	if (bpf_skb_change_type(skb, PACKET_HOST))
		return BP_CONTINUE;  /* not reached: IPv4 to PACKET_HOST is always allowed */
	skb->mark = 0;
	return bp_redirect_to_peer(skb, ep, ifindex);
}

#endif /* BP_LIB_OVERLAY_H */
