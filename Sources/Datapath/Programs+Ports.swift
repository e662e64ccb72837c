import BPF
import FoundationEssentials
import Model

/// Published ports in the maps: where each leads, who may use it, the container side
/// the policy exception knows, and the flows that go when a port does. Each family's
/// bindings go to its own maps (bp_ports, bp_ports6 and their twins), leading to the
/// container's address of that family.
extension Programs {
    /// Makes the maps hold exactly `published`: each port to its container's address and
    /// veth, and the sources allowed on restricted ports.
    func syncPorts(_ published: [Published]) throws {
        for family in AddressFamily.allCases {
            let entries = published.filter { $0.mapping.hostIP.family == family }
            let wanted = Dictionary(
                entries.compactMap { entry in entry.target.map { (entry.mapping.hostSide, $0) } },
                uniquingKeysWith: { first, _ in first })
            try maps.publishedPorts(family).sync(wanted)
            let allowed = entries.flatMap { entry in
                (entry.allowed ?? []).map { (AllowKey(port: entry.mapping.hostSide, source: $0), UInt8(1)) }
            }
            try maps.allowedSources(family).sync(Dictionary(allowed, uniquingKeysWith: { first, _ in first }))
        }
        try refreshTargets()
        var sources: [HostPort: [IPNetwork]] = [:]
        for entry in published { if let networks = entry.allowed { sources[entry.mapping.hostSide] = networks } }
        try flushStalePublishedFlows(allowed: sources)
    }

    /// Adds `published` (a starting container's): each restricted port's allow list first,
    /// so that it is never open, nor closed to its allowed sources, meanwhile.
    func publish(_ published: [Published]) throws {
        let ports = published.compactMap { entry in entry.target.map { (entry, $0) } }
        // Nothing to add (most containers): the maps, and the targets that follow them, stay.
        guard !ports.isEmpty else { return }
        for (entry, _) in ports {
            for source in entry.allowed ?? [] {
                try maps.allowedSources(entry.mapping.hostIP.family).update(
                    AllowKey(port: entry.mapping.hostSide, source: source), 1)
            }
        }
        for family in AddressFamily.allCases {
            try maps.publishedPorts(family).update(
                ports.filter { $0.0.mapping.hostIP.family == family }.map { ($0.0.mapping.hostSide, $0.1) })
        }
        try refreshTargets()
    }

    func unpublish(_ mappings: [PortMapping]) {
        for mapping in mappings {
            removing("published port \(mapping.short)") {
                try maps.publishedPorts(mapping.hostIP.family).delete(mapping.hostSide)
            }
        }
        guard !mappings.isEmpty else { return }
        removing("the published targets of gone ports") { try refreshTargets() }
        removing("the flows of gone ports") { try flushStalePublishedFlows(allowed: nil) }
    }

    /// Removes the published flows whose port is gone or leads elsewhere now, those of
    /// clients a restricted port (`allowed`: its sources, when they changed) no longer lets
    /// in, and hairpin flows to a target no port publishes any more or whose allow list no
    /// longer names their client (they passed the policy for it), as flows are flushed
    /// when their port goes; in both families' flow tables.
    fileprivate func flushStalePublishedFlows(allowed: [HostPort: [IPNetwork]]?) throws {
        try flushStalePublishedFlows(.ipv4, allowed: allowed, address: IPAddress.v4, flush: maps.flows.flush(matching:))
        try flushStalePublishedFlows(
            .ipv6, allowed: allowed, address: IPAddress.v6, flush: maps.flows6.flush(matching:))
        for family in AddressFamily.allCases { maps.publishedPorts(family).flowsFlushed() }
    }

    private func flushStalePublishedFlows<Address>(
        _ family: AddressFamily, allowed: [HostPort: [IPNetwork]]?, address: @escaping (Address) -> IPAddress,
        flush: ((FlowTupleOf<Address>, FlowTupleOf<Address>, FlowInfoOf<Address>) -> Bool) throws -> Int
    ) throws {
        let ports = try maps.publishedPorts(family).entries()
        let targets = try maps.publishedTargets(family).entries()
        func refused(_ client: Address, by port: HostPort) -> Bool {
            guard let sources = allowed?[port] else { return false }
            return !sources.contains { $0.contains(address(client)) }
        }
        _ = try flush { tuple, _, flow in
            guard !flow.isReply else { return false }
            let proto = PortProtocol(number: tuple.proto)
            if flow.kind == .hairpin {
                let target = TargetKey(ip: address(tuple.destination), port: tuple.destinationPort, proto: tuple.proto)
                guard let policy = targets[target] else { return true }
                guard policy.restricted else { return false }
                return refused(tuple.source, by: HostPort(proto, policy.hostIP, policy.hostPort))
            }
            guard flow.kind == .published else { return false }
            let port = HostPort(
                proto, flow.anyHost ? .unspecified(family) : address(tuple.destination), tuple.destinationPort)
            guard let target = ports[port], target.ip == address(flow.translatedAddress),
                target.port == flow.translatedPort
            else { return true }
            return refused(tuple.source, by: port)
        }
    }

    /// bp_targets holds the container side of every port in bp_ports (two ports may share
    /// a target); a target is restricted when every port publishing it is, and then names
    /// the allow list its hairpin clients are asked about (the first such port's). So do
    /// bp_targets6 of bp_ports6.
    fileprivate func refreshTargets() throws {
        for family in AddressFamily.allCases {
            var wanted: [TargetKey: TargetPolicy] = [:]
            // A port published on a loopback address is the host's alone: its container port is
            // no target, so neither direct routing nor another network's container reaches it.
            let ports = try maps.publishedPorts(family).entries().filter { !$0.key.ip.isLoopback }
            for (port, target) in ports.sorted(by: { ($0.key.port, $0.key.ip) < ($1.key.port, $1.key.ip) }) {
                let key = TargetKey(ip: target.ip, port: target.port, proto: port.proto.number)
                let policy = TargetPolicy(restricted: target.restricted, hostIP: port.ip, hostPort: port.port)
                if let known = wanted[key] {
                    if known.restricted && !policy.restricted { wanted[key] = policy }  // an open port opens it
                } else {
                    wanted[key] = policy
                }
            }
            try maps.publishedTargets(family).sync(wanted)
        }
    }

    /// The host's addresses, so that only packets to this host are translated. Loopback
    /// addresses are left out: a port published on 127.0.0.1 is the host's alone, never
    /// reachable from another host or a container (the socket hooks know the host's
    /// loopback by its namespace).
    /// Flows that name an address the host no longer has are flushed (its replies would
    /// never come back), as Linux's masquerade flushes conntrack when an address goes.
    func setHostAddresses(_ addresses: [IPv4Address]) throws {
        let wanted = Set(addresses.filter { !$0.isLoopback })
        let gone = Set(try maps.hostAddressSet.keys()).subtracting(wanted)
        try maps.hostAddressSet.sync(Dictionary(uniqueKeysWithValues: wanted.map { ($0, UInt8(1)) }))
        try maps.flows.flush(addresses: Set(gone.map(\.raw)))
    }

    /// The host's IPv6 addresses (the gateways', link-local ones too): a container reaches
    /// them whatever ICC says, and the uplink never takes them for a container's. NAT66
    /// flows of an address that went are flushed, as IPv4's.
    func setHostAddresses6(_ addresses: [IPv6Address]) throws {
        let wanted = addresses.filter { !$0.isLoopback }
        let gone = Set(try maps.hostAddressSet6.keys()).subtracting(wanted)
        try maps.hostAddressSet6.sync(Dictionary(wanted.map { ($0, UInt8(1)) }, uniquingKeysWith: { a, _ in a }))
        try maps.flows6.flush(addresses: Set(gone.map(\.raw)))
    }

    /// The hosts VXLAN is taken from: the cluster's, or nil outside a cluster (the port is
    /// then not ours, and nothing is filtered). `keepingOthers` adds them to those listed.
    func setVXLANPeers(_ hosts: Set<IPv4Address>?, keepingOthers: Bool = false) throws {
        let wanted = hosts.map { $0.union([.any]) } ?? []
        for key in try maps.vxlanPeerSet.keys() where !wanted.contains(key) && !(keepingOthers && hosts != nil) {
            try maps.vxlanPeerSet.delete(key)
        }
        for key in wanted { try maps.vxlanPeerSet.update(key, 1) }
    }
}

/// A published port as the maps hold it.
struct Published {
    var mapping: PortMapping
    /// The container's address of each family, where the bindings of that family lead (nil:
    /// none, on an IPv6-only or an IPv4-only network, and such bindings are not written).
    var ip: IPv4Address?
    var ip6: IPv6Address?
    var ifindex: UInt32
    /// Sources (of the binding's family) allowed to use the host port; nil when it is open to all.
    var allowed: [IPNetwork]?
    /// A routed network's: the container port is reached by direct routing, the host port not at all.
    var directOnly = false

    /// Where the binding leads: the container's address of its family; nil without one.
    var target: PortTarget? {
        let address: IPAddress? =
            switch mapping.hostIP.family {
            case .ipv4: ip.map(IPAddress.v4)
            case .ipv6: ip6.map(IPAddress.v6)
            }
        return address.map {
            PortTarget(
                ip: $0, port: mapping.containerPort, ifindex: ifindex, restricted: allowed != nil,
                directOnly: directOnly)
        }
    }
}
