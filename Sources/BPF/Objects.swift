import CBPF

// Bridgeport's programs and maps by name, as bridgeport.h declares them, for the agent
// to load, attach and pin without reading the C header itself.

/// A program of Bridgeport's objects.
public enum BridgeportProgram: CaseIterable, Sendable {
    /// tc ingress of a container's host-side veth: what the container sends.
    case endpointIngress
    /// tc egress of a container's host-side veth: what the container receives.
    case endpointEgress
    /// tc ingress of an overlay network's VXLAN device: what other hosts send its containers.
    case tunnelIngress
    /// tc ingress of each uplink with Ethernet headers.
    case uplinkIngress
    /// tc ingress of uplinks whose packets start with the IP header.
    case uplinkL3Ingress
    /// The cgroup socket hooks: connect(), sendmsg() and recvmsg() on UDP, getpeername().
    case connect4, sendmsg4, recvmsg4, getpeername4
    /// The same for IPv6 sockets (IPv6 published ports, and IPv4 ones through a dual-stack
    /// socket's IPv4-mapped addresses).
    case connect6, sendmsg6, recvmsg6, getpeername6

    /// Its ELF function name.
    public var name: String {
        switch self {
        case .endpointIngress: BP_PROG_ENDPOINT_INGRESS
        case .endpointEgress: BP_PROG_ENDPOINT_EGRESS
        case .tunnelIngress: BP_PROG_TUNNEL_INGRESS
        case .uplinkIngress: BP_PROG_UPLINK_INGRESS
        case .uplinkL3Ingress: BP_PROG_UPLINK_L3_INGRESS
        case .connect4: BP_PROG_SOCK_CONNECT
        case .sendmsg4: BP_PROG_SOCK_SENDMSG
        case .recvmsg4: BP_PROG_SOCK_RECVMSG
        case .getpeername4: BP_PROG_SOCK_PEERNAME
        case .connect6: BP_PROG_SOCK_CONNECT6
        case .sendmsg6: BP_PROG_SOCK_SENDMSG6
        case .recvmsg6: BP_PROG_SOCK_RECVMSG6
        case .getpeername6: BP_PROG_SOCK_PEERNAME6
        }
    }

    /// The cgroup hook of a socket program; nil for the tc programs.
    var cgroupHook: bpf_attach_type? {
        switch self {
        case .connect4: BPF_CGROUP_INET4_CONNECT
        case .sendmsg4: BPF_CGROUP_UDP4_SENDMSG
        case .recvmsg4: BPF_CGROUP_UDP4_RECVMSG
        case .getpeername4: BPF_CGROUP_INET4_GETPEERNAME
        case .connect6: BPF_CGROUP_INET6_CONNECT
        case .sendmsg6: BPF_CGROUP_UDP6_SENDMSG
        case .recvmsg6: BPF_CGROUP_UDP6_RECVMSG
        case .getpeername6: BPF_CGROUP_INET6_GETPEERNAME
        default: nil
        }
    }

    public static let socketHooks: [BridgeportProgram] = [
        .connect4, .sendmsg4, .recvmsg4, .getpeername4, .connect6, .sendmsg6, .recvmsg6, .getpeername6,
    ]
}

/// The maps whose pins the agent looks after at start.
public enum BridgeportMap: Sendable {
    /// The flow tables, their accounting and the fragment tables: state that rebuilds
    /// itself from the traffic.
    case flows, flows6, flowAccounting, flowAccounting6, fragments, fragments6
    /// What the agent writes anew from its store (or the cluster's) at every start.
    case allowLists, allowLists6, targets, targets6, namespaces, endpoints, endpointSlots, ports, ports6
    case subnets, subnets6, hostAddresses, hostAddresses6, overlayDestinations, vxlanPeers, flowConfig
    /// The monitor's subscriptions, event budget and ring: made anew as monitors attach.
    case monitor, eventBudget, events
    /// The sockets' redirects (the socket hooks' own state, which the kernel frees with the
    /// socket): what recvmsg() and getpeername() show a redirected socket.
    case socketRedirects, socketRedirects6, socketMarks
    /// The program arrays of the tail calls, filled anew at every load.
    case endpointTailCalls, uplinkTailCalls
    /// Counters: the endpoints' and the published ports' traffic counters (by the slots of
    /// their entries: arrays since 0.1, hashes by ifindex and by port before), the drops by
    /// reason, the flow table's counters and the monitor's lost events.
    case endpointStats, portStats, portStats6, drops, flowCounters, eventsLost

    public var name: String {
        switch self {
        case .flows: BP_MAP_FLOWS
        case .flows6: BP_MAP_FLOWS6
        case .flowAccounting: BP_MAP_FLOW_ACCT
        case .flowAccounting6: BP_MAP_FLOW_ACCT6
        case .fragments: BP_MAP_FRAGS
        case .fragments6: BP_MAP_FRAGS6
        case .allowLists: BP_MAP_ALLOW
        case .allowLists6: BP_MAP_ALLOW6
        case .targets: BP_MAP_TARGETS
        case .targets6: BP_MAP_TARGETS6
        case .namespaces: BP_MAP_NETNS
        case .endpoints: BP_MAP_ENDPOINTS
        case .endpointSlots: BP_MAP_ENDPOINT_SLOTS
        case .ports: BP_MAP_PORTS
        case .ports6: BP_MAP_PORTS6
        case .subnets: BP_MAP_SUBNETS
        case .subnets6: BP_MAP_SUBNETS6
        case .hostAddresses: BP_MAP_HOST_ADDRS
        case .hostAddresses6: BP_MAP_HOST_ADDRS6
        case .overlayDestinations: BP_MAP_OVERLAY_DESTS
        case .vxlanPeers: BP_MAP_VXLAN_PEERS
        case .flowConfig: BP_MAP_FLOW_CONFIG
        case .monitor: BP_MAP_MONITOR
        case .eventBudget: BP_MAP_EVENT_BUDGET
        case .events: BP_MAP_EVENTS
        case .drops: BP_MAP_DROPS
        case .flowCounters: BP_MAP_FLOW_COUNTERS
        case .eventsLost: BP_MAP_EVENTS_LOST
        case .socketRedirects: BP_MAP_SOCK_NAT
        case .socketRedirects6: BP_MAP_SOCK_NAT6
        case .socketMarks: BP_MAP_SOCK_MARKS
        case .endpointTailCalls: BP_MAP_EP_TAIL
        case .uplinkTailCalls: BP_MAP_UP_TAIL
        case .endpointStats: BP_MAP_ENDPOINT_STATS
        case .portStats: BP_MAP_PORT_STATS
        case .portStats6: BP_MAP_PORT_STATS6
        }
    }
}

extension BPFObject {
    public func program(_ program: BridgeportProgram) throws -> BPFProgram { try self.program(program.name) }

    /// The programs a loaded object's programs tail-call (NAT66), by program array.
    static let tailCalls: [(map: String, programs: [String])] = [
        (BP_MAP_EP_TAIL, [BP_PROG_ENDPOINT_NAT66, BP_PROG_ENDPOINT_NAT66_RELATED]),
        (
            BP_MAP_UP_TAIL,
            [BP_PROG_UPLINK_NAT66, BP_PROG_UPLINK_L3_NAT66, BP_PROG_UPLINK_RELATED6, BP_PROG_UPLINK_L3_RELATED6]
        ),
    ]

    /// Puts this (loaded) object's tail-called programs into its program array, replacing
    /// those of an earlier load; an object without one has nothing to do.
    public func fillTailCalls() throws {
        for (name, programs) in BPFObject.tailCalls {
            guard let array = try? map(name) else { continue }
            for (index, program) in programs.enumerated() {
                try array.update(UInt32(index), UInt32(bitPattern: try self.program(program).fd))
            }
        }
    }
}

extension BPFProgram {
    /// Attaches a socket hook of Bridgeport's to the cgroup (see `attachCgroup`).
    public func attachCgroup(_ cgroupPath: String, as hook: BridgeportProgram, pinPath: String) throws {
        guard let type = hook.cgroupHook else { preconditionFailure("\(hook) is no socket hook") }
        try attachCgroup(cgroupPath, type: type, pinPath: pinPath)
    }
}

/// The flow table's size when --max-flows is not given.
public let defaultMaxFlows = Int(BP_DEFAULT_MAX_FLOWS)

/// Asks the running kernel whether it has what the programs need (see cbpf.h): a probe
/// program run once, libbpf's helper probe, and a tcx attach in a throwaway namespace.
/// Each answers true or false, or a negative errno when it could not ask.
public enum KernelProbes {
    public static func fibLookupSource() -> Int32 { cbpf_probe_fib_lookup_src() }
    public static func redirectPeer() -> Int32 { cbpf_probe_redirect_peer() }
    public static func tcx() -> Int32 { cbpf_probe_tcx() }
    public static func kernelBTF() -> Int32 { cbpf_probe_kernel_btf() }
}
