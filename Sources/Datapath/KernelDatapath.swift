import BPF
import FoundationEssentials
import Glibc
import Links
import Logging
import Model

/// The kernel side of networks and endpoints in the agent's namespace: bridges, veth
/// pairs, addresses and routes through rtnetlink, and the BPF programs (Programs). Every
/// link it makes carries a LinkAlias, so that reconcile can tell ours from the host's.
public final class KernelDatapath: Datapath, Sendable {
    let links: RouteSocket
    let programs: Programs
    let hostPorts = HostPorts()
    let logger: Logger
    private let advertiseAddress: IPv4Address?
    /// What scrapes looked up of the endpoints' host interfaces, kept right by link events.
    private let interfaceIndexes: InterfaceIndexCache

    public init(configuration: DatapathConfiguration, logger: Logger) throws {
        self.logger = logger
        advertiseAddress = configuration.advertiseAddress
        links = try RouteSocket(namespace: nil)
        interfaceIndexes = InterfaceIndexCache(links: links)
        programs = try Programs(configuration: configuration, logger: logger)
        try KernelDatapath.enableForwarding(logger: logger)
    }

    /// Containers' traffic is routed by the host, so IPv4 forwarding must be on in the
    /// agent's network namespace, as Docker turns it on.
    static func enableForwarding(logger: Logger) throws {
        let path = "/proc/sys/net/ipv4/ip_forward"
        if (try? String(contentsOfFile: path, encoding: .utf8))?.hasPrefix("1") == true { return }
        try writeInPlace("1\n", to: path)
        logger.notice("enabled IPv4 forwarding (net.ipv4.ip_forward=1) in the agent's network namespace")
    }

    /// The host's own addresses and routes, which automatic subnets must not overlap.
    /// The prefixes of the host's global IPv6 addresses (a network's v6 subnet may not
    /// overlap them, as Docker refuses).
    public func hostPrefixes6() -> [IPv6Network] {
        NetworkNamespace.ipv6Addresses().map {
            IPv6Network(containing: IPv6Address(bytes: $0.address), prefixLength: $0.prefixLength)
        }.filter { !$0.address.isLinkLocal && !$0.address.isLoopback && !$0.address.isMulticast }
    }

    public func hostPrefixes() throws -> [IPv4Network] {
        (try links.addresses() + links.routes()).map {
            IPv4Network(containing: IPv4Address($0.address), prefixLength: $0.length)
        }
    }

    public func linkExists(_ name: String) -> Bool { !name.isEmpty && links.index(of: name) != nil }

    // MARK: Networks

    /// Makes the network's devices exist: the bridge of a bridge network; the bridge and
    /// VXLAN device of an overlay; the parent of a macvlan network when Bridgeport makes
    /// it (a VLAN sub-interface or a dummy). Returns what it had to repair.
    public func ensureNetwork(_ network: Network) throws -> [String] {
        switch network.driver {
        case .bridge: return try ensureBridge(network)
        case .overlay: return try ensureBridge(network) + ensureVXLAN(network)
        case .macvlan: return try ensureParent(network)
        case .host, .none: return []
        }
    }

    /// Deletes what `ensureNetwork` made; a parent that Bridgeport did not make stays.
    public func removeNetwork(_ network: Network) {
        forgetTunnel(of: network)
        let names = Set([network.vxlanName, network.bridgeName, network.parent].compactMap { $0 })
        for link in (try? links.links()) ?? []
        where names.contains(link.name) && link.alias == LinkAlias.prefix + network.id {
            _ = try? links.delete(link: link.name)
        }
    }

    /// Creates the network's bridge if it is missing and makes sure it has its gateway
    /// address and is up.
    private func ensureBridge(_ network: Network) throws -> [String] {
        guard let name = network.bridgeName, network.subnet != nil || network.ipv6 != nil else { return [] }
        var repairs: [String] = []
        if links.index(of: name) == nil {
            try links.addBridge(name: name, alias: LinkAlias.prefix + network.id)
            repairs.append("created bridge \(name) for network \(network.name)")
        }
        // An IPv4-only network has no IPv6 on its bridge (no link-local chatter into the
        // containers), as Docker does; one with IPv6 gets it before its gateway address.
        setIPv6(enabled: network.ipv6 != nil, interface: name)
        // A bridge without a MAC of its own takes its lowest port's, and changes it when that
        // port goes: every container's neighbour entry of the gateway would go stale. The
        // gateway's address gives it one that no container has (as Docker sets one).
        if let mac = network.bridgeMAC { try links.setMAC(name, mac.bytes) }
        // Set, not left to the kernel: a bridge otherwise takes its smallest port's MTU.
        if let mtu = interfaceMTU(network) { try links.setMTU(name, mtu) }
        // Gateway mode isolated: no address on the bridge, so the host does not reach it either.
        if network.gatewayMode != .isolated {
            if let subnet = network.subnet, let gateway = network.gateway {
                try links.addAddress(Prefix4(address: gateway.value, length: subnet.prefixLength), device: name)
            }
            if let v6 = network.ipv6 {
                try links.addAddress6(v6.gateway.bytes, length: v6.subnet.prefixLength, device: name)
                // The host routes between its IPv6 networks, as Docker turns forwarding on
                // for them (in the agent's namespace: the host's in production).
                try writeInPlace("1\n", to: "/proc/sys/net/ipv6/conf/all/forwarding")
                // The programs know the gateway as the host's at once (the address event
                // that says so comes later).
                try refreshHostAddresses()
            }
        }
        try links.setUp(name)
        return repairs
    }

    /// VXLAN's outer headers (IPv4 20, UDP 8, VXLAN 8, inner Ethernet 14): an overlay's
    /// links carry 50 bytes less than the underlay (1450 on a 1500 one, as Docker's).
    static let vxlanOverhead = 50

    /// The MTU of a network's bridge, VXLAN device and veths: -o com.docker.network.driver.mtu;
    /// else, on an overlay, the underlay's (the link with the advertise address) less
    /// VXLAN's headers; else the kernel's default (nil).
    func interfaceMTU(_ network: Network) -> Int? {
        if let mtu = network.mtu { return mtu }
        guard network.driver == .overlay else { return nil }
        let underlay = advertiseAddress.flatMap { try? links.mtu(ofLinkWithAddress: $0.value) } ?? 1500
        return underlay - KernelDatapath.vxlanOverhead
    }
    static let vxlanPort: UInt16 = 4789
    /// The MTU of a network's interfaces without --opt com.docker.network.driver.mtu.
    static let defaultMTU = 1500

    private func ensureVXLAN(_ network: Network) throws -> [String] {
        guard let name = network.vxlanName, let vni = network.vni, let bridge = network.bridgeName else { return [] }
        guard let local = advertiseAddress else {
            throw DatapathError.overlayOutsideCluster(network: network.name)
        }
        var repairs: [String] = []
        if links.index(of: name) == nil {
            try links.addVXLAN(
                name: name, alias: LinkAlias.prefix + network.id, vni: vni, local: local.value,
                port: KernelDatapath.vxlanPort, mtu: interfaceMTU(network))
            repairs.append("created VXLAN device \(name) (VNI \(vni)) for network \(network.name)")
        }
        try links.setMaster(name, master: bridge)
        // The NDP proxy answers from the device's IPv6 neighbour table, which needs IPv6 on
        // it; an IPv4-only overlay has none there, as on its bridge.
        setIPv6(enabled: network.ipv6 != nil, interface: name)
        try links.setUp(name)
        if let index = tunnelIndex(network) { try programs.attachTunnel(interface: name, ifindex: index) }
        return repairs
    }

    /// The ifindex of an overlay network's VXLAN device; nil for other networks, or while
    /// the device is missing.
    private func tunnelIndex(_ network: Network) -> UInt32? {
        network.vxlanName.flatMap { links.index(of: $0) }.map { UInt32($0) }
    }

    /// A VLAN parent ("IFACE.VLAN") is made on its base interface when missing, and a
    /// network without a parent gets a dummy device, as Docker does.
    private func ensureParent(_ network: Network) throws -> [String] {
        guard let parent = network.parent, links.index(of: parent) == nil else { return [] }
        let alias = LinkAlias.prefix + network.id
        if network.options[MacvlanOption.parent] == nil || network.internal {
            do {
                try links.addDummy(name: parent, alias: alias)
            } catch let error as LinkError where error.errno == EOPNOTSUPP {
                // A kernel without dummy devices: a veth whose peer stays unused has a
                // carrier just the same (a bridge without ports would not).
                try links.addVethPair(name: parent, peer: "dp-" + parent.dropFirst(3), alias: alias)
            }
        } else if let (base, vlan) = try parseVLANParent(parent) {
            guard links.index(of: base) != nil else { throw DatapathError.parentNotFound(base) }
            do {
                try links.addVLAN(base: base, name: parent, vlan: vlan, alias: alias)
            } catch let error as LinkError where error.errno == EOPNOTSUPP {
                throw DatapathError.noVLANSupport(parent: parent)
            }
        } else {
            throw DatapathError.parentNotFound(parent)
        }
        try links.setUp(parent)
        return ["created parent interface \(parent) for network \(network.name)"]
    }

    /// No packet is redirected to the gone device's ifindex, where the kernel would drop it
    /// unseen: what the network's containers send other hosts' then finds no entry.
    public func forgetTunnel(of network: Network) {
        guard let vxlan = network.vxlanName else { return }
        programs.removeOverlayDestinations(of: network, includingOwn: true)
        programs.forget(interface: vxlan, ifindex: nil)
    }

    /// Where overlay containers of other hosts live (VXLAN neighbour and forwarding
    /// entries): ARP and, on a network with IPv6, NDP for their addresses are answered by
    /// the VXLAN device, and their MAC goes to their host.
    public func setRemoteEndpoint(
        network: Network, ip: IPv4Address, ip6: IPv6Address?, mac: MACAddress, host: IPv4Address
    ) throws {
        guard let device = network.vxlanName else { return }
        try links.setRemoteNeighbour(device: device, ip: ip.value, mac: mac.bytes, vtep: host.value)
        if let ip6, network.ipv6 != nil { try links.setRemoteNeighbour6(device: device, ip: ip6.bytes, mac: mac.bytes) }
        // After the forwarding entry that the device sends its frames by.
        if let tunnel = tunnelIndex(network) {
            try programs.setRemoteOverlayDestination(ip, network: network, tunnel: tunnel)
        }
    }

    /// Removes neighbour entries of remote containers that `keeping` does not hold (left
    /// by containers that went while no agent ran). Returns their addresses.
    public func removeStaleRemoteEndpoints(network: Network, keeping: Set<IPAddress>) -> [IPAddress] {
        guard let device = network.vxlanName, let present = try? links.permanentNeighbours(device: device) else {
            return []
        }
        programs.removeOverlayDestinations(
            of: network, keeping: Set(keeping.compactMap { if case .v4(let ip) = $0 { ip } else { nil } }))
        var stale: [IPAddress] = []
        for ip in present.map({ IPv4Address($0) }) where !keeping.contains(.v4(ip)) {
            links.removeRemoteNeighbour(device: device, ip: ip.value, mac: MACAddress(derivedFrom: ip).bytes, vtep: 0)
            stale.append(.v4(ip))
        }
        // An IPv6 entry's MAC is its IPv4 address's, whose forwarding entry goes with it above.
        for ip in ((try? links.permanentNeighbours6(device: device)) ?? []).map(IPv6Address.init(bytes:))
        where !keeping.contains(.v6(ip)) {
            links.removeRemoteNeighbour6(device: device, ip: ip.bytes, mac: [0, 0, 0, 0, 0, 0])
            stale.append(.v6(ip))
        }
        return stale
    }

    public func removeRemoteEndpoint(
        network: Network, ip: IPv4Address, ip6: IPv6Address?, mac: MACAddress, host: IPv4Address
    ) {
        guard let device = network.vxlanName else { return }
        programs.removeRemoteOverlayDestination(ip, network: network)
        if let ip6 { links.removeRemoteNeighbour6(device: device, ip: ip6.bytes, mac: mac.bytes) }
        links.removeRemoteNeighbour(device: device, ip: ip.value, mac: mac.bytes, vtep: host.value)
    }

    // MARK: Endpoints

    /// Makes the endpoint's interface in the container's namespace: a veth pair whose
    /// host side hangs on the network's bridge (bridge, overlay), or a macvlan device of
    /// the network's parent. Its MAC and address are the endpoint's.
    public func attach(_ endpoint: Endpoint, network: Network, namespace: String) throws {
        guard let inside = endpoint.containerInterface, let mac = endpoint.mac else { return }
        let namespaceFD = open(namespace, O_RDONLY | O_CLOEXEC)
        guard namespaceFD >= 0 else {
            throw DatapathError.lastSystemCall("open network namespace \(namespace)")
        }
        defer { close(namespaceFD) }
        if let parent = network.parent, let index = endpoint.linkIndex {
            guard links.index(of: parent) != nil else { throw DatapathError.parentNotFound(parent) }
            try links.addMacvlan(
                parent: parent, name: inside, namespace: namespaceFD, mac: mac.bytes,
                mode: network.macvlanMode, index: index)
        } else if let hostSide = endpoint.hostInterface, let bridge = network.bridgeName {
            try links.addVeth(
                host: hostSide, alias: LinkAlias.prefix + endpoint.id, peer: inside,
                peerNamespace: namespaceFD, peerMAC: mac.bytes,
                mtu: interfaceMTU(network))
            try links.setMaster(hostSide, master: bridge)
        }
        try configure(endpoint, network: network, namespace: namespace)
    }

    /// Programs, address and state of an endpoint whose interface exists; every step is
    /// idempotent, so reconcile finishes what an agent killed half-way left.
    public func configure(_ endpoint: Endpoint, network: Network, namespace: String) throws {
        guard let inside = endpoint.containerInterface, endpoint.ip != nil || endpoint.ip6 != nil else { return }
        try attachPrograms(endpoint, network: network, namespace: namespace)
        if let hostSide = endpoint.hostInterface {
            quietPort(hostSide, of: network)
            try links.setUp(hostSide)
        }
        let container = try RouteSocket(namespace: namespace)
        // An IPv6-only network's endpoint has no IPv4 address (its IPv4 is dropped).
        if let ip = endpoint.ip, let subnet = network.subnet {
            try container.addAddress(Prefix4(address: ip.value, length: subnet.prefixLength), device: inside)
        }
        // On an IPv4-only network no IPv6 on the container's interface either, as Docker does
        // (the programs drop what IPv6 a container sends there anyway). With IPv6, its
        // address comes from the agent alone: no router advertisements are heeded.
        let ip6 = network.ipv6 == nil ? nil : endpoint.ip6
        try NetworkNamespace.run(in: namespace) {
            setIPv6(enabled: ip6 != nil, interface: inside)
            if ip6 != nil { try writeInPlace("0\n", to: "/proc/sys/net/ipv6/conf/\(inside)/accept_ra") }
        }
        if let ip6, let v6 = network.ipv6 {
            try container.addAddress6(ip6.bytes, length: v6.subnet.prefixLength, device: inside)
        }
        try container.setUp(inside)
    }

    /// A bridge port needs no addresses of its own. On an IPv4-only network its IPv6 is
    /// turned off, as its bridge's is: otherwise the host's router solicitations and MLD
    /// reports from its link-local address go into the container, for as long as it runs
    /// (solicitations back off to one an hour), counted as the container's traffic. On an IPv6
    /// network it is left as the host has it.
    private func quietPort(_ hostSide: String, of network: Network) {
        if network.ipv6 == nil { setIPv6(enabled: false, interface: hostSide) }
    }

    /// Turns IPv6 on or off on an interface of the calling thread's namespace (a kernel
    /// without IPv6 has no such file: nothing to turn off).
    private func setIPv6(enabled: Bool, interface: String) {
        let path = "/proc/sys/net/ipv6/conf/\(interface)/disable_ipv6"
        if FileManager.default.fileExists(atPath: path) { try? writeInPlace(enabled ? "0\n" : "1\n", to: path) }
    }

    /// Whether the endpoint's interface exists (the host side of a veth, or the macvlan
    /// device with its ifindex inside the container).
    public func interfaceExists(_ endpoint: Endpoint, namespace: String) -> Bool {
        if let hostSide = endpoint.hostInterface { return linkExists(hostSide) }
        guard let inside = endpoint.containerInterface, let index = endpoint.linkIndex,
            let container = try? RouteSocket(namespace: namespace)
        else { return false }
        return container.index(of: inside) == index
    }

    /// (Re)attaches the endpoint programs: on the host side of a veth, or on the macvlan
    /// device inside the container (attached from within its namespace).
    private func attachPrograms(_ endpoint: Endpoint, network: Network, namespace: String) throws {
        if let hostSide = endpoint.hostInterface {
            guard let index = links.index(of: hostSide) else { return }
            try programs.attachEndpoint(
                interface: hostSide, ifindex: UInt32(index), endpoint: endpoint, network: network,
                mtu: interfaceMTU(network) ?? Self.defaultMTU, tunnel: tunnelIndex(network))
        } else if let name = endpoint.attachmentName, let index = endpoint.linkIndex {
            try NetworkNamespace.run(in: namespace) {
                try programs.attachEndpoint(
                    interface: name, ifindex: UInt32(index), endpoint: endpoint, network: network,
                    mtu: interfaceMTU(network) ?? Self.defaultMTU, insideContainer: true)
            }
        }
    }

    /// Tells the programs every network's subnet (isolation, direct-access filtering).
    public func syncSubnets(_ registry: Registry) throws {
        try programs.syncSubnets(registry.networks, chained: registry.chainedSubnets)
    }

    /// A link someone else deleted: what the maps hold for it goes too.
    public func forgetRemovedLink(name: String, ifindex: UInt32?, address: IPv4Address?) {
        programs.forget(interface: name, ifindex: ifindex, address: address)
    }

    /// The flow table (connection tracking).
    public var flows: FlowTable? { programs.maps.flows }
    public var flows6: FlowTable6? { programs.maps.flows6 }
    public var monitor: (any MonitorSource)? { KernelMonitor(maps: programs.maps) }

    /// Removes the flows of an endpoint that stays (a stopped container's).
    public func flushFlows(of endpoint: Endpoint) {
        programs.flushFlows(ifindex: ifindex(of: endpoint), address: endpoint.ip, address6: endpoint.ip6)
    }

    /// The ifindex the maps know an endpoint by (see Endpoint.linkIndex).
    public func ifindex(of endpoint: Endpoint) -> UInt32? {
        endpoint.linkIndex.map(UInt32.init) ?? endpoint.hostInterface.flatMap(ifindex(ofLink:))
    }

    public func ifindex(ofLink name: String) -> UInt32? { links.index(of: name).map(UInt32.init) }

    /// Deleting the host side removes a veth pair, deleting the macvlan device inside
    /// the container removes it; its programs and counters go with it.
    public func detach(_ endpoint: Endpoint, namespace: String) {
        if let hostSide = endpoint.hostInterface {
            let index = links.index(of: hostSide)
            do {
                _ = try links.delete(link: hostSide)
            } catch {
                // Its entry goes all the same: a veth left without one drops what it carries
                // (unknown_endpoint), so it fails closed; the operator hears why it is still there.
                logger.warning(
                    "could not delete a removed container's veth; it drops all it carries until deleted",
                    metadata: ["interface": "\(hostSide)", "container": "\(endpoint.containerID)", "error": "\(error)"])
            }
            programs.forget(
                interface: hostSide, ifindex: index.map(UInt32.init), address: endpoint.ip, address6: endpoint.ip6)
        } else if let name = endpoint.attachmentName, let index = endpoint.linkIndex {
            if let inside = endpoint.containerInterface, let container = try? RouteSocket(namespace: namespace) {
                _ = try? container.delete(link: inside)
            }
            programs.forget(interface: name, ifindex: UInt32(index), address: endpoint.ip, address6: endpoint.ip6)
        }
    }

    // MARK: Other runtimes' interfaces

    /// Equips a veth another runtime made (see Attachment) with the endpoint programs:
    /// with the policy of `network` when it hangs on one of Bridgeport's bridges.
    public func equip(_ attachment: Attachment, network: Network?) throws {
        guard let index = links.index(of: attachment.hostInterface) else {
            throw DatapathError.interfaceNotFound(attachment.hostInterface)
        }
        if let network {
            var endpoint = Endpoint(
                containerID: attachment.containerID, networkID: network.id, ip: attachment.ip, mac: attachment.mac,
                hostInterface: attachment.hostInterface, containerInterface: attachment.interface, order: 0)
            endpoint.ip6 = attachment.ip6
            quietPort(attachment.hostInterface, of: network)  // also one made before an upgrade
            try programs.attachEndpoint(
                interface: attachment.hostInterface, ifindex: UInt32(index), endpoint: endpoint, network: network,
                mtu: interfaceMTU(network) ?? Self.defaultMTU)
        } else {
            try programs.attachForeign(
                interface: attachment.hostInterface, ifindex: UInt32(index), ip: attachment.ip, mac: attachment.mac,
                networkNumber: attachment.networkNumber)
        }
    }

    /// Forgets its map entries; the veth goes too when it is Bridgeport's (Docker's driver),
    /// and its programs when it stays (the runtime's).
    public func unequip(_ attachment: Attachment) {
        let index = links.index(of: attachment.hostInterface)
        if attachment.networkID != nil {
            _ = try? links.delete(link: attachment.hostInterface)
        } else if let index {
            programs.detachForeign(interface: attachment.hostInterface, ifindex: UInt32(index))
        }
        programs.forget(
            interface: attachment.hostInterface, ifindex: index.map(UInt32.init), address: attachment.ip,
            address6: attachment.ip6)
    }

    /// Docker's remote driver: a veth pair on the network's bridge whose container side
    /// (`peer`, with the endpoint's MAC) stays in this namespace, down, for dockerd to
    /// move into the sandbox and rename.
    public func addDockerVeth(hostSide: String, peer: String, mac: MACAddress, network: Network, alias: String) throws {
        guard let bridge = network.bridgeName else { throw DatapathError.noBridge(network: network.name) }
        let here = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)
        guard here >= 0 else { throw DatapathError.lastSystemCall("open this network namespace") }
        defer { close(here) }
        try links.addVeth(host: hostSide, alias: alias, peer: peer, peerNamespace: here, peerMAC: mac.bytes)
        do {
            try links.setMaster(hostSide, master: bridge)
            quietPort(hostSide, of: network)
            try links.setUp(hostSide)
        } catch {
            _ = try? links.delete(link: hostSide)
            throw error
        }
    }

    public func setDefaultRoute(namespace: String, via gateway: IPv4Address?, device: String?) throws {
        let container = try RouteSocket(namespace: namespace)
        if let gateway, let device {
            try container.replaceDefaultRoute(via: gateway.value, device: device)
        } else {
            try container.deleteDefaultRoute()
        }
    }

    public func setDefaultRoute6(namespace: String, via gateway: IPv6Address?, device: String?) throws {
        let container = try RouteSocket(namespace: namespace)
        if let gateway, let device {
            try container.replaceDefaultRoute6(via: gateway.bytes, device: device)
        } else {
            try container.deleteDefaultRoute6()
        }
    }

    // MARK: Reconcile

    /// Deletes links marked as ours that no network or endpoint of the registry owns.
    public func removeOrphans(keeping registry: Registry) throws -> [String] {
        let owners = Set(
            registry.networks.map(\.id) + registry.endpoints.map(\.id)
                + registry.attachments.flatMap { [$0.id, $0.containerID + "/" + ($0.networkID ?? "")] })
        let removed = try links.links().compactMap { link -> String? in
            guard let alias = link.alias, alias.hasPrefix(LinkAlias.prefix),
                !owners.contains(String(alias.dropFirst(LinkAlias.prefix.count)))
            else { return nil }
            _ = try? links.delete(link: link.name)
            programs.forget(interface: link.name, ifindex: UInt32(link.index))
            return "removed orphaned link \(link.name)"
        }
        let interfaces = Set(
            registry.endpoints.compactMap(\.attachmentName) + registry.attachments.map(\.hostInterface)
        )
        .union(try uplinks().map(\.name)).union(registry.networks.compactMap(\.vxlanName))
        let gone = try removeGoneEndpoints(keeping: registry)
        let tunnels = Dictionary(
            registry.networks.compactMap { network in
                tunnelIndex(network).map { (network.localNumber ?? 0, $0) }
            }, uniquingKeysWith: { first, _ in first })
        return removed + programs.removeOrphanedLinks(keeping: interfaces) + gone
            + (try programs.removeStaleOverlayDestinations(tunnels: tunnels))
    }

    /// By the ifindexes the registry's interfaces have now: the entry of a veth that went
    /// is found without the ifindex it had. A macvlan endpoint's is the container's
    /// (linkIndex), and stays.
    public func removeGoneEndpoints(keeping registry: Registry) throws -> [String] {
        let ifindexes = Set(
            registry.endpoints.compactMap { endpoint in
                (endpoint.linkIndex ?? endpoint.hostInterface.flatMap(links.index(of:))).map(UInt32.init)
            } + registry.attachments.compactMap { links.index(of: $0.hostInterface).map(UInt32.init) })
        return try programs.removeOrphanedEndpoints(keeping: ifindexes)
    }

    // MARK: Counters

    /// Reads every counter map once (batched, per-CPU values summed). A map that cannot be
    /// read fails the whole read: zeros in its place would look like a counter reset.
    public func counters(interfaces names: [String]) throws -> TrafficCounters {
        var counters = TrafficCounters()
        counters.interfaces = interfaceIndexes.indexes(of: names)
        counters.endpoints = try programs.maps.allEndpointStats()
        counters.drops = try programs.maps.dropCounts()
        counters.ports = try programs.maps.portTraffic()
        counters.programs = programs.programStatistics
        // The names of the interfaces with drops: those asked about, else one lookup each.
        let dropIndexes = Set(counters.drops.keys.map(\.ifindex))
        for (name, index) in counters.interfaces where dropIndexes.contains(index) {
            counters.interfaceNames[index] = name
        }
        for index in dropIndexes where counters.interfaceNames[index] == nil {
            counters.interfaceNames[index] = links.name(ofIndex: index)
        }
        return counters
    }

    // MARK: Link events

    public func followLinkEvents(_ following: Bool) {
        interfaceIndexes.follow(following)
        if following { interfaceIndexes.seed() }
    }
    public func linkEvents(_ events: [LinkEvents.Event]) { interfaceIndexes.apply(events) }
}
