import BPF
import Dispatch
import FoundationEssentials
import Glibc
import Logging
import Model
import Synchronization

/// Bridgeport's BPF programs and maps in the agent. The endpoint programs
/// (bpf/endpoint.bpf.c) sit on each container's host-side veth: tc ingress counts what
/// the container sends and translates replies of published flows back, tc egress
/// counts what it receives. The uplink program (bpf/uplink.bpf.c) sits on the host's
/// uplinks and sends published ports to their containers. Maps and links are pinned
/// under --bpf-root, so counters, ports and programs outlive agent restarts.
final class Programs: Sendable {
    private let endpointObject: BPFObject
    private let uplinkObject: BPFObject
    private let sockObject: BPFObject
    let maps: BridgeportMaps
    private let linkDirectory: String
    private let uplinkMode: TCAttachMode
    private let endpointMode: TCAttachMode
    /// Keeps the kernel's run-time statistics of BPF programs on while the agent runs
    /// (--bpf-stats); -1: off, as the kernel has them by default.
    private let statisticsFD: Int32
    /// What syncSubnets last wrote into bp_subnets: an endpoint's entry carries its own
    /// subnet's (EndpointPolicy.ownSubnet) only while that stays the trie's answer. The
    /// agent's actor runs syncSubnets and the attaches one at a time.
    private let subnets = Mutex<[IPv4Network: SubnetPolicy]>([:])
    let logger: Logger

    init(configuration: DatapathConfiguration, logger: Logger) throws {
        self.logger = logger
        _ = try BPFFilesystem.ensureMounted(at: configuration.bpfRoot)
        let mapDirectory = configuration.bpfRoot + "/maps"
        linkDirectory = configuration.bpfRoot + "/links"
        try BPFFilesystem.makeDirectories(mapDirectory)
        try BPFFilesystem.makeDirectories(linkDirectory)
        uplinkMode = configuration.uplinkAttachMode
        endpointMode = configuration.endpointAttachMode
        // The objects declare the same maps; pinning by name makes them share one instance.
        let objects = try ["endpoint.bpf.o", "uplink.bpf.o", "sock.bpf.o"].map {
            try BPFObject(path: try ObjectLocation.path(configuration, $0), pinRoot: mapDirectory)
        }
        for object in objects {
            for table in [BridgeportMap.flows, .flows6] {
                try object.setMaxEntries(table.name, UInt32(2 * configuration.maxFlows))
            }
        }
        try Programs.replaceStatePins(
            objects[0], uplink: objects[1], sock: objects[2], mapDirectory: mapDirectory, logger: logger)
        for object in objects {
            try object.load()
            try object.fillTailCalls()
        }
        (endpointObject, uplinkObject, sockObject) = (objects[0], objects[1], objects[2])
        maps = try BridgeportMaps(object: endpointObject)
        try maps.flows.setTimeouts(configuration.flowTimeouts)
        logger.info(
            "BPF objects loaded", metadata: ["from": "\(endpointObject.path)", "max-flows": "\(maps.flows.capacity)"])
        // Kernel-wide while the descriptor is open: every BPF program's run pays two clock reads.
        statisticsFD = configuration.programStatistics ? try BPFStatistics.enable() : -1
    }

    /// Maps of earlier versions that hold nothing of value now (bp_flows replaced them).
    static let obsoleteMaps = ["bp_nat", "bp_snat", "bp_snat_rev", "bp_hairpin"]

    /// A pinned map of another size (--max-flows changed) or layout (an upgrade) is replaced
    /// by an empty one, with a notice, instead of stopping the agent: flow state rebuilds
    /// itself from the traffic; the agent fills its maps from its store at start (the
    /// cluster's hosts too: VXLAN from them is dropped, counted, until the store is read);
    /// a socket's redirect shows its target's address from then on; counters start at 0,
    /// which Prometheus reads as a counter reset. Pins of maps this version no longer has
    /// are removed.
    private static func replaceStatePins(
        _ object: BPFObject, uplink: BPFObject, sock: BPFObject, mapDirectory: String, logger: Logger
    ) throws {
        let rebuilt: [BridgeportMap] = [.flows, .flows6, .flowAccounting, .flowAccounting6, .fragments, .fragments6]
        for map in rebuilt {
            if let old = try object.removeIncompatiblePin(map.name) {
                logger.notice(
                    "\(map.name) had another size or layout (\(old) entries): replaced by an empty one; flows start anew"
                )
            }
        }
        // What the agent writes anew from its store, or fills with programs (each object its
        // own program array), at every start.
        let refilled: [(BPFObject, BridgeportMap)] =
            [
                BridgeportMap.allowLists, .allowLists6, .targets, .targets6, .namespaces, .endpoints, .endpointSlots,
                .ports, .ports6, .subnets, .subnets6, .hostAddresses, .hostAddresses6, .overlayDestinations,
                .vxlanPeers, .flowConfig, .monitor, .eventBudget, .events, .endpointTailCalls,
            ].map {
                (object, $0)
            }
            + [(uplink, .uplinkTailCalls)]
        for (owner, map) in refilled where try owner.removeIncompatiblePin(map.name) != nil {
            logger.notice("\(map.name) had the layout of an earlier version: replaced, and filled again")
        }
        // A socket redirected before keeps its connection; from then on it sees its target's
        // address where it saw the published one (as one redirected before the marks does).
        for map in [BridgeportMap.socketRedirects, .socketRedirects6, .socketMarks]
        where try sock.removeIncompatiblePin(map.name) != nil {
            logger.notice(
                "\(map.name) had the layout of an earlier version: replaced; sockets redirected before see their target"
            )
        }
        let counters: [(BridgeportMap, String)] = [
            (.endpointStats, "the containers' traffic counters"), (.portStats, "the published ports' counters"),
            (.portStats6, "the published IPv6 ports' counters"), (.drops, "the drop counters"),
            (.flowCounters, "the flow table's counters"), (.eventsLost, "the monitor's lost-event counters"),
        ]
        for (map, what) in counters {
            if let old = try object.removeIncompatiblePin(map.name) {
                logger.notice(
                    "\(map.name) had the layout of an earlier version (\(old) entries): replaced; \(what) restart from 0"
                )
            }
        }
        for name in obsoleteMaps where unlink(mapDirectory + "/" + name) == 0 {
            logger.notice("removed the pin of \(name), a map of an earlier version (bp_flows holds flows now)")
        }
    }

    deinit { if statisticsFD >= 0 { close(statisticsFD) } }

    /// Every program with its run count and run time (for the exporter); none while the
    /// statistics are off (--bpf-stats), when the kernel counts nothing.
    var programStatistics: [(name: String, hook: String, runs: UInt64, nanoseconds: UInt64)] {
        guard statisticsFD >= 0 else { return [] }
        let programs: [(BPFObject, BridgeportProgram, String)] =
            [
                (endpointObject, .endpointIngress, endpointMode.rawValue),
                (endpointObject, .endpointEgress, endpointMode.rawValue),
                (endpointObject, .tunnelIngress, endpointMode.rawValue),
                (uplinkObject, .uplinkIngress, uplinkMode.rawValue),
                (uplinkObject, .uplinkL3Ingress, uplinkMode.rawValue),
            ] + BridgeportProgram.socketHooks.map { (sockObject, $0, "cgroup") }
        return programs.compactMap { object, program, hook in
            guard let loaded = try? object.program(program) else { return nil }
            let (runs, nanoseconds) = loaded.runStatistics
            return (program.name, hook, runs, nanoseconds)
        }
    }

    /// Attaches the socket hooks to the cgroup (they act only in namespaces registered
    /// with `register(namespace:)`).
    func attachSocketHooks(cgroup: String) throws {
        for hook in BridgeportProgram.socketHooks {
            try sockObject.program(hook).attachCgroup(cgroup, as: hook, pinPath: "\(linkDirectory)/cgroup_\(hook.name)")
        }
    }

    /// Makes the socket hooks act in exactly these namespaces (by cookie).
    func syncNamespaces(_ namespaces: [UInt64: SocketNamespace]) throws {
        try maps.socketNamespaces.sync(namespaces)
    }

    func register(namespace cookie: UInt64, _ namespace: SocketNamespace) throws {
        try maps.socketNamespaces.update(cookie, namespace)
    }

    func unregister(namespace cookie: UInt64) {
        removing("the socket hooks' entry of namespace \(cookie)") { try maps.socketNamespaces.delete(cookie) }
    }

    // MARK: Attaching

    /// Writes the endpoint's policy, then attaches its programs. `insideContainer`: the
    /// device is the container's own (macvlan), attached from within its namespace by
    /// the calling thread, so what the container sends passes its tc egress and what it
    /// receives its tc ingress: the programs swap hooks.
    /// `tunnel`: an overlay network's VXLAN device, which takes what the container sends
    /// other hosts' containers and hands it what they send it, past the bridge (lib/overlay.h).
    func attachEndpoint(
        interface: String, ifindex: UInt32, endpoint: Endpoint, network: Network, mtu: Int,
        insideContainer: Bool = false, tunnel: UInt32? = nil
    ) throws {
        // IPv6 is judged only for an endpoint with an address of it; other IPv6 is dropped.
        // Likewise IPv4 and ARP of an endpoint without IPv4 (an IPv6-only network's).
        let ip6 = network.ipv6 == nil ? nil : endpoint.ip6
        // bp_ep_ingress drops what a veth without an entry sends (unknown_endpoint).
        guard let mac = endpoint.mac, endpoint.ip != nil || ip6 != nil else {
            throw DatapathError.unaddressedEndpoint(interface: interface)
        }
        var flags: EndpointPolicy.Flags = [.enforceSource, .isolated]
        if ip6 == nil { flags.insert(.ipv4Only) }
        if endpoint.ip == nil { flags.insert(.ipv6Only) }
        if !network.iccEnabled { flags.insert(.iccDisabled) }
        if network.internal { flags.insert(.internal) }
        if Programs.masquerades(network) { flags.insert(.masquerade) }
        if Programs.tracksOutbound(network) { flags.insert(.trackOutbound) }
        if ip6 != nil && Programs.masquerades(network, gatewayMode: network.gatewayMode6) {
            flags.insert(.masquerade6)
        }
        if ip6 != nil && Programs.tracksOutbound(network, gatewayMode: network.gatewayMode6) {
            flags.insert(.trackOutbound6)
        }
        // A macvlan container is on the LAN: its IPv6 leaves as it is, as its IPv4 does.
        if ip6 != nil && network.driver == .macvlan { flags.insert(.passOutbound6) }
        if tunnel != nil && endpoint.ip != nil { flags.insert(.overlay) }
        // Its subnet's entry, where the trie gives it for the whole subnet and it is this
        // network's (not a chain's of the same subnet).
        let ownSubnet = network.subnet.flatMap { subnet in
            subnets.withLock { EndpointPolicy.OwnSubnet.judgedAlike(subnet, in: $0) }
        }.flatMap { endpoint.ip != nil && $0.policy.network == number(of: network) ? $0 : nil }
        try maps.setEndpoint(
            ifindex: ifindex,
            EndpointPolicy(
                ip: endpoint.ip ?? IPv4Address(0), mac: mac, network: number(of: network), flags: flags, ip6: ip6,
                gatewayMAC: network.gatewayMode == .isolated ? nil : network.bridgeMAC, mtu: UInt16(clamping: mtu),
                ownSubnet: ownSubnet))
        if let tunnel, let ip = endpoint.ip {
            setOwnOverlayDestination(ip, network: network, tunnel: tunnel, veth: ifindex)
        }
        try attachEndpointHooks(interface: interface, ifindex: ifindex, insideContainer: insideContainer)
    }

    /// An interface another runtime made (a CNI chain's veth): anti-spoofing and
    /// counters; isolation when its network's subnet is known (`networkNumber`, see
    /// syncSubnets). Bridgeport never masquerades for it (the runtime's chain does).
    func attachForeign(
        interface: String, ifindex: UInt32, ip: IPv4Address, mac: MACAddress, networkNumber: UInt16?
    ) throws {
        let flags: EndpointPolicy.Flags = networkNumber == nil ? [.enforceSource] : [.enforceSource, .isolated]
        try maps.setEndpoint(
            ifindex: ifindex, EndpointPolicy(ip: ip, mac: mac, network: networkNumber ?? 0, flags: flags))
        try attachEndpointHooks(interface: interface, ifindex: ifindex, insideContainer: false, ours: false)
    }

    private func attachEndpointHooks(
        interface: String, ifindex: UInt32, insideContainer: Bool, ours: Bool = true
    ) throws {
        let fromContainer = try endpointObject.program(BridgeportProgram.endpointIngress)
        let toContainer = try endpointObject.program(BridgeportProgram.endpointEgress)
        if insideContainer {
            try attach(
                [(toContainer, .ingress), (fromContainer, .egress)], interface: interface, ifindex: ifindex,
                mode: endpointMode, onThisThread: true)
        } else {
            try attach(
                [(fromContainer, .ingress), (toContainer, .egress)], interface: interface, ifindex: ifindex,
                mode: endpointMode)
        }
        // A filter an agent in tc mode left on this veth (ours alone) would run the programs twice.
        if endpointMode == .tcx && ours { try? TCAttachment.removeClsact(ifindex: ifindex) }
    }

    // MARK: Overlay

    /// bp_tunnel_ingress on an overlay network's VXLAN device: what other hosts send this
    /// host's containers goes straight to them (lib/overlay.h).
    func attachTunnel(interface: String, ifindex: UInt32) throws {
        try attach(
            [(try endpointObject.program(BridgeportProgram.tunnelIngress), .ingress)], interface: interface,
            ifindex: ifindex, mode: endpointMode)
        // A filter an agent in tc mode left on the device would run the program twice.
        if endpointMode == .tcx { try? TCAttachment.removeClsact(ifindex: ifindex) }
    }

    /// This host's container of an overlay network, after its endpoint entry: what the VXLAN
    /// device `tunnel` receives for it goes straight into it. Only a speed-up (the bridge
    /// carries the same without it), so a failure is logged, and the container runs.
    private func setOwnOverlayDestination(_ ip: IPv4Address, network: Network, tunnel: UInt32, veth: UInt32) {
        do {
            try maps.overlayDestinations.update(
                ip, OverlayDestination(tunnel: tunnel, veth: veth, network: number(of: network)))
        } catch {
            logger.warning(
                "could not write an overlay container's entry: its traffic from other hosts crosses the bridge",
                metadata: ["address": "\(ip)", "network": "\(network.name)", "error": "\(error)"])
        }
    }

    /// Removes the overlay map's entries that no longer hold (left by a network removed, or a
    /// veth gone, while no agent ran; a VXLAN device made anew at start): those of networks not
    /// in `tunnels` (an overlay network's local number -> its VXLAN device), naming another
    /// device than their network's, or a veth without an endpoint entry.
    func removeStaleOverlayDestinations(tunnels: [UInt16: UInt32]) throws -> [String] {
        let veths = Set(try maps.endpoints.keys())
        return try deleteOverlayDestinations { _, destination in
            tunnels[destination.network] != destination.tunnel
                || destination.veth.map({ !veths.contains($0) }) == true
        }.map { "removed the stale overlay entry of \($0)" }
    }

    /// Deletes the overlay map's entries `stale` picks; returns their addresses.
    private func deleteOverlayDestinations(
        where stale: (IPv4Address, OverlayDestination) -> Bool
    ) throws -> [IPv4Address] {
        let destinations = maps.overlayDestinations
        let picked = try destinations.entries().filter { stale($0.key, $0.value) }.map(\.key)
        for ip in picked { try destinations.delete(ip) }
        return picked
    }

    /// Another host's container of the overlay `network`: what this host's containers of it
    /// send it goes straight to the network's VXLAN device `tunnel`. An entry of this host's
    /// container with the address stays (the cluster gives an address to one container).
    func setRemoteOverlayDestination(_ ip: IPv4Address, network: Network, tunnel: UInt32) throws {
        let destinations = maps.overlayDestinations
        guard try destinations.lookup(ip)?.veth == nil else { return }
        try destinations.update(ip, OverlayDestination(tunnel: tunnel, veth: nil, network: number(of: network)))
    }

    /// Removes the entries of `network`'s containers from the overlay's map: other hosts'
    /// whose address `keeping` does not hold, and with `includingOwn` this host's as well.
    func removeOverlayDestinations(of network: Network, keeping: Set<IPv4Address> = [], includingOwn: Bool = false) {
        removing("the overlay destinations of network \(network.name)") {
            _ = try deleteOverlayDestinations { ip, destination in
                destination.network == number(of: network) && !keeping.contains(ip)
                    && (includingOwn || destination.veth == nil)
            }
        }
    }

    /// Removes another host's container from the overlay's map (an entry of this host's stays).
    func removeRemoteOverlayDestination(_ ip: IPv4Address, network: Network) {
        removing("the overlay destination \(ip)") {
            let destinations = maps.overlayDestinations
            if let destination = try destinations.lookup(ip), destination.veth == nil,
                destination.network == number(of: network)
            {
                try destinations.delete(ip)
            }
        }
    }

    /// The network's id in the maps (bp_endpoint.network_id, bp_subnet.network_id): its
    /// local number, which the agent gives every network before the programs see it.
    private func number(of network: Network) -> UInt16 { network.localNumber ?? 0 }

    /// Whether the network's flows out leave with the host's address. Routed networks are
    /// reachable as they are: no translation either way, as in Docker; macvlan containers
    /// sit on the LAN with their own addresses.
    /// IPv6 has a gateway mode of its own (`gatewayMode`: gateway_mode_ipv6).
    static func masquerades(_ network: Network, gatewayMode: GatewayMode? = nil) -> Bool {
        network.masqueradeEnabled && !network.internal && (gatewayMode ?? network.gatewayMode) != .routed
            && network.driver.usesBridge
    }

    /// Whether the network's flows out are tracked untranslated: direct routing reaches it
    /// only as its gateway mode says (not nat-unprotected, not internal) and nothing
    /// masquerades it (routed, or masquerade off), so the replies of its containers' own
    /// connections pass the uplink's direct-access filter only as a known flow's.
    static func tracksOutbound(_ network: Network, gatewayMode: GatewayMode? = nil) -> Bool {
        let mode = gatewayMode ?? network.gatewayMode
        return network.driver.usesBridge && !network.internal && !masquerades(network, gatewayMode: mode)
            && mode != .natUnprotected
    }

    /// Makes the subnet map hold exactly the networks' subnets, with what direct routing
    /// reaches of each (its gateway mode), and CNI chains' subnets (`chained`, by their
    /// numbers: isolation only). A macvlan network's subnet is on the LAN: the uplink lets
    /// all its traffic pass, and other networks' containers reach it as any outside address.
    func syncSubnets(_ networks: [Network], chained: [IPv4Network: UInt16]) throws {
        var wanted: [IPv4Network: SubnetPolicy] = [:]
        for (subnet, number) in chained {
            // Isolation only: what reaches a chain's containers is the chain's business.
            wanted[subnet] = SubnetPolicy(network: number, flags: .unprotected)
        }
        var wanted6: [IPv6Network: SubnetPolicy] = [:]
        for network in networks where network.driver.hasEndpoints {
            let number = number(of: network)
            if let subnet = network.subnet {
                wanted[subnet] = SubnetPolicy(
                    network: number, flags: subnetFlags(network, gatewayMode: network.gatewayMode))
            }
            if let v6 = network.ipv6 {
                wanted6[v6.subnet] = SubnetPolicy(
                    network: number, flags: subnetFlags(network, gatewayMode: network.gatewayMode6))
            }
        }
        // Endpoints whose own subnet would no longer be judged alike (a subnet came inside it,
        // or its entry changed or went) go back to the trie before it changes; the others keep
        // theirs. Only when the change touches some subnet's judgement: most syncs (a CNI ADD
        // of a known chain) change none, and skip reading every entry.
        let previous = subnets.withLock { $0 }
        if previous.isEmpty
            || previous.keys.contains(where: {
                EndpointPolicy.OwnSubnet.judgedAlike($0, in: previous)
                    != EndpointPolicy.OwnSubnet.judgedAlike($0, in: wanted)
            })
        {
            try forgetOwnSubnets(unlike: wanted)
        }
        subnets.withLock { $0 = [:] }  // until the trie is written whole
        try maps.subnetPolicies.sync(wanted)
        try maps.subnetPolicies6.sync(wanted6)
        subnets.withLock { $0 = wanted }
    }

    /// Rewrites, without their own subnet, the endpoints' entries whose own subnet `subnets`
    /// would not judge alike (EndpointPolicy.OwnSubnet.judgedAlike).
    private func forgetOwnSubnets(unlike subnets: [IPv4Network: SubnetPolicy]) throws {
        for (ifindex, entry) in try maps.endpoints.entries() where entry.subnet_mask != 0 {
            var policy = EndpointPolicy(raw: entry)
            guard let own = policy.ownSubnet,
                EndpointPolicy.OwnSubnet.judgedAlike(own.subnet, in: subnets) != own
                    || own.policy.network != policy.network
            else { continue }
            policy.ownSubnet = nil
            try maps.setEndpoint(ifindex: ifindex, policy)
        }
    }

    /// What direct routing reaches of a network's subnet of one family, by that family's gateway mode.
    private func subnetFlags(_ network: Network, gatewayMode: GatewayMode) -> SubnetPolicy.Flags {
        var flags: SubnetPolicy.Flags = []
        if gatewayMode == .routed { flags.insert(.routed) }
        if gatewayMode == .natUnprotected || network.driver == .macvlan { flags.insert(.unprotected) }
        if network.driver == .macvlan { flags.insert(.lan) }
        if network.internal { flags.insert(.internal) }
        if Programs.masquerades(network, gatewayMode: gatewayMode) { flags.insert(.masquerade) }
        return flags
    }

    func attachUplink(_ program: BridgeportProgram, interface: String, ifindex: UInt32) throws {
        try attach(
            [(try uplinkObject.program(program), .ingress)], interface: interface, ifindex: ifindex, mode: uplinkMode)
    }

    /// The uplink program for a device of this type (ARPHRD_*): at tc, an Ethernet device's
    /// packets start with the Ethernet header; those of tunnels without one (tun and
    /// WireGuard, ipip, sit, GRE, raw IP, PPP) with the IP header. Other types carry no IP.
    static func uplinkProgram(type: UInt16) -> BridgeportProgram? {
        switch type {
        case 1: .uplinkIngress  // ARPHRD_ETHER
        // ARPHRD_NONE, _TUNNEL, _TUNNEL6, _SIT, _IPGRE, _IP6GRE, _RAWIP, _PPP
        case 0xFFFE, 768, 769, 776, 778, 823, 519, 512: .uplinkL3Ingress
        default: nil
        }
    }

    /// Attaches programs as pinned tcx links; a link pinned by an earlier agent is
    /// switched to this agent's program instead (no gap). Each tcx attach waits for an
    /// RCU grace period, so the hooks are attached at once. In tc mode, a tcx link an
    /// agent of another mode left is detached once the filter is in place, so that
    /// the programs never run twice.
    /// `onThisThread`: the hooks are attached one after the other by the calling thread
    /// (which may have entered a container's namespace) instead of at once.
    private func attach(
        _ hooks: [(BPFProgram, TCDirection)], interface: String, ifindex: UInt32,
        mode: TCAttachMode, onThisThread: Bool = false
    ) throws {
        let errors = Mutex<[Error]>([])
        let attachOne: @Sendable (Int) -> Void = { [self] i in
            let (program, direction) = hooks[i]
            do {
                guard mode == .tcx else {
                    // clsact + cls_bpf: the filter lives on the device, replaced in place by handle.
                    _ = try program.attach(ifindex: ifindex, direction: direction, mode: .tc)
                    let pin = linkPath(interface, direction)
                    if FileManager.default.fileExists(atPath: pin) { try TCAttachment.detachPinned(pin) }
                    return
                }
                let pin = linkPath(interface, direction)
                if FileManager.default.fileExists(atPath: pin), let link = try? TCAttachment.openPinned(pin),
                    link.ifindex == ifindex
                {
                    try link.replace(program: program)
                } else {
                    try? FileManager.default.removeItem(atPath: pin)
                    _ = try program.attach(ifindex: ifindex, direction: direction, pinPath: pin)
                }
            } catch {
                errors.withLock { $0.append(error) }
            }
        }
        if onThisThread {
            hooks.indices.forEach(attachOne)
        } else {
            DispatchQueue.concurrentPerform(iterations: hooks.count, execute: attachOne)
        }
        if let error = errors.withLock({ $0.first }) { throw error }
    }

    /// Takes the endpoint programs off another runtime's veth that stays (a CNI chain's,
    /// unequipped): a tc filter stays on its device until removed (a tcx link ends with its
    /// pin, in `forget`), and would drop all the veth sends once its entry is gone. Before
    /// `forget`.
    func detachForeign(interface: String, ifindex: UInt32) {
        guard endpointMode == .tc else { return }
        for direction in TCDirection.allCases {
            do { try TCAttachment.detachFilter(ifindex: ifindex, direction: direction) } catch {
                logger.error(
                    "could not remove the endpoint program from a veth that stays: what it sends is dropped (unknown_endpoint) until the runtime removes it",
                    metadata: ["interface": "\(interface)", "error": "\(error)"])
            }
        }
    }

    /// Forgets an interface whose veth is gone: its link pins, its map entries and every
    /// flow of it or naming its address (which IPAM may give the next container at once).
    func forget(interface: String, ifindex: UInt32?, address: IPv4Address? = nil, address6: IPv6Address? = nil) {
        for direction in TCDirection.allCases {
            try? FileManager.default.removeItem(atPath: linkPath(interface, direction))
        }
        if let ifindex {
            removing("the policy and counters of interface \(interface)") { try maps.removeEndpoint(ifindex: ifindex) }
        }
        flushFlows(ifindex: ifindex, address: address, address6: address6)
    }

    /// Removes the flows of a container's interface (stop, removal, disconnect): those of
    /// its veth and those naming its addresses (direct access tracks flows without a veth),
    /// so that a container given the address next inherits none.
    func flushFlows(ifindex: UInt32?, address: IPv4Address?, address6: IPv6Address? = nil) {
        guard ifindex != nil || address != nil || address6 != nil else { return }
        removing("the flows of \(address.map { "\($0)" } ?? address6.map { "\($0)" } ?? "interface \(ifindex ?? 0)")") {
            try maps.flows.flush(ifindex: ifindex, naming: address)
            if ifindex != nil || address6 != nil {
                _ = try maps.flows6.flush(ifindex: ifindex, address: address6?.raw)
            }
        }
    }

    /// A removal that cannot be undone or reported to the caller (it is part of an undo or
    /// of a removal past its point of no return). A stale entry would go on steering
    /// packets, so a failure is logged as an error; a later sync, or reconcile at the next
    /// start, removes it.
    func removing(_ what: String, _ body: () throws -> Void) {
        do { try body() } catch {
            logger.error(
                "could not remove \(what) from the maps: it stays until a later sync or the next start removes it",
                metadata: ["error": "\(error)"])
        }
    }

    /// Removes the map entries of interfaces that are gone (a veth deleted while no agent
    /// ran, with the namespace it went with, or whose event was lost): their policy,
    /// counters and flows. The entries kept are written into their slots again
    /// (syncEndpointSlots).
    func removeOrphanedEndpoints(keeping ifindexes: Set<UInt32>) throws -> [String] {
        let stale = Set(try maps.endpoints.keys()).subtracting(ifindexes)
        for ifindex in stale { try maps.removeEndpoint(ifindex: ifindex) }
        try maps.syncEndpointSlots()
        // Flows let in by direct routing name no interface (0): they only expire.
        let flows =
            try maps.flows.flush { _, entry in entry.ifindex != 0 && !ifindexes.contains(entry.ifindex) }
            + maps.flows6.flush { _, entry in entry.ifindex != 0 && !ifindexes.contains(entry.ifindex) }
        return stale.sorted().map { "removed the map entries of gone interface \($0)" }
            + (flows > 0 ? ["removed \(flows) flows of gone interfaces"] : [])
    }

    /// Removes link pins whose interface is not in `interfaces` (cgroup hooks stay).
    func removeOrphanedLinks(keeping interfaces: Set<String>) -> [String] {
        let pins = ((try? FileManager.default.contentsOfDirectory(atPath: linkDirectory)) ?? []).filter {
            !$0.hasPrefix("cgroup_")
        }
        return pins.filter { pin in !interfaces.contains(String(pin[..<(pin.lastIndex(of: "_") ?? pin.endIndex)])) }.map
        { pin in
            try? FileManager.default.removeItem(atPath: linkDirectory + "/" + pin)
            return "removed orphaned BPF link pin \(pin)"
        }
    }

    /// bpffs refuses '.' in names, hence "veth1234567_ingress".
    private func linkPath(_ interface: String, _ direction: TCDirection) -> String {
        "\(linkDirectory)/\(interface)_\(direction.rawValue)"
    }
}
