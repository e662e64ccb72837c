import FoundationEssentials

/// Everything the agent knows, as plain values, and the rules that turn a user's request
/// into new records. Pure: it decides, the agent commits and applies.
public struct Registry: Sendable {
    public var networks: [Network] = []
    public var containers: [Container] = []
    public var endpoints: [Endpoint] = []
    /// Interfaces of other runtimes' containers that Bridgeport equips (CNI).
    public var attachments: [Attachment] = []
    /// The daemon's settings (daemon.json and its flags): pools, -p's host address, the
    /// default bridge's. Not stored: each start brings its own.
    public var defaults = NetworkDefaults()

    public init(
        networks: [Network] = [], containers: [Container] = [], endpoints: [Endpoint] = [],
        attachments: [Attachment] = []
    ) {
        self.networks = networks
        self.containers = containers
        self.endpoints = endpoints
        self.attachments = attachments
    }

    // MARK: Lookups (by name, full ID or unique ID prefix, as Docker does)

    public func network(_ reference: String) throws(ModelError) -> Network {
        if let match = find(networks, reference, name: \.name) { return match }
        throw .networkNotFound(reference)
    }

    public func container(_ reference: String) throws(ModelError) -> Container {
        let ref = reference.hasPrefix("/") ? String(reference.dropFirst()) : reference
        if let match = find(containers, ref, name: \.name) { return match }
        throw .containerNotFound(reference)
    }

    private func find<T: Identifiable>(_ items: [T], _ ref: String, name: KeyPath<T, String>) -> T?
    where T.ID == String {
        if let byName = items.first(where: { $0[keyPath: name] == ref }) { return byName }
        if let byID = items.first(where: { $0.id == ref }) { return byID }
        let byPrefix = items.filter { !ref.isEmpty && $0.id.hasPrefix(ref) }
        return byPrefix.count == 1 ? byPrefix[0] : nil
    }

    public func endpoints(ofContainer id: String) -> [Endpoint] {
        endpoints.filter { $0.containerID == id }.sorted { $0.order < $1.order }
    }

    public func endpoints(inNetwork id: String) -> [Endpoint] {
        endpoints.filter { $0.networkID == id }
    }

    /// Addresses taken in a network: its containers' and the attachments on it (Docker's
    /// driver, the CNI plugin's main mode). The gateway and aux addresses are the network's
    /// own (`Network.reservedAddresses`).
    public func addressesInUse(network id: String) -> Set<IPv4Address> {
        Set(endpoints(inNetwork: id).compactMap(\.ip) + attachments.filter { $0.networkID == id }.map(\.ip))
    }

    public var defaultNetwork: Network? { networks.first { $0.name == Network.defaultName } }

    // MARK: Networks

    /// The predefined networks Docker has at first start: bridge (on bp0, as the daemon's
    /// settings shape it), host and none.
    public static func predefinedNetworks(
        now: Date, hostPrefixes: [IPv4Network], defaults: NetworkDefaults = NetworkDefaults()
    ) throws(ModelError) -> [Network] {
        let settings = defaults.defaultBridge
        let subnet: IPv4Network
        if let given = settings.bridgeSubnet ?? settings.fixedCIDR {
            subnet = given
        } else {
            subnet = try IPAM.chooseSubnet(avoiding: hostPrefixes, pools: defaults.addressPools)
        }
        let bridge = try settings.applied(
            to: Network(
                id: randomID(), name: Network.defaultName, driver: .bridge, subnet: subnet,
                gateway: IPv4Address(subnet.hostRange.lowerBound), ipRange: nil, internal: false,
                options: [BridgeOption.bridgeName: Network.defaultBridgeName], created: now,
                bridgeName: Network.defaultBridgeName, userSubnet: false))
        let host = Network(
            id: randomID(), name: "host", driver: .host, subnet: nil, gateway: nil, ipRange: nil,
            internal: false, options: [:], created: now, bridgeName: nil, userSubnet: false)
        var none = host
        none.id = randomID()
        none.name = "none"
        none.driver = .none
        return [bridge, host, none]
    }

    /// The default bridge as the daemon's settings want it, when that is not the one
    /// recorded (bip, fixed-cidr, default-gateway, mtu or icc changed). dockerd makes its
    /// default bridge anew at each start, its containers being stopped; here containers
    /// outlive the agent, so a change while any container (running or stopped, whose
    /// address is kept) or other runtime's interface is on the bridge is refused rather
    /// than leaving them with an address or MTU the bridge no longer has.
    public func plannedDefaultBridge() throws(ModelError) -> Network? {
        guard let current = defaultNetwork else { return nil }
        let wanted = try defaults.defaultBridge.applied(to: current)
        let changes = DefaultBridgeSettings.changes(from: current, to: wanted)
        guard !changes.isEmpty else { return nil }
        let users =
            endpoints(inNetwork: current.id).map { e in (try? container(e.containerID).name) ?? e.containerID }
            + attachments.filter { $0.networkID == current.id }.map { String($0.containerID.prefix(12)) }
        guard users.isEmpty else { throw .defaultBridgeInUse(changes: changes, users: users.sorted()) }
        return wanted
    }

    /// The smallest local number no network has (see Network.localNumber), nor a CNI chain's
    /// network (Attachment.networkNumber), or nil when all 65,535 are taken.
    public func unusedLocalNumber() -> UInt16? {
        let used = Set(networks.compactMap(\.localNumber) + attachments.compactMap(\.networkNumber))
        return (1...UInt16.max).first { !used.contains($0) }
    }

    /// The subnets of CNI chains' networks with their numbers, which the programs isolate
    /// as they isolate Bridgeport's networks.
    public var chainedSubnets: [IPv4Network: UInt16] {
        attachments.reduce(into: [:]) { subnets, attachment in
            if let subnet = attachment.subnet, let number = attachment.networkNumber { subnets[subnet] = number }
        }
    }

    /// Gives every network that has none (a store of an earlier version) a local number;
    /// returns the networks it numbered.
    public mutating func numberNetworks() throws(ModelError) -> [Network] {
        var numbered: [Network] = []
        for index in networks.indices where networks[index].localNumber == nil {
            guard let number = unusedLocalNumber() else { throw .networksExhausted }
            networks[index].localNumber = number
            numbered.append(networks[index])
        }
        return numbered
    }

    /// A new network from the user's request. `vni` is the overlay's VXLAN id, handed
    /// out by the cluster store; `otherSubnets` and `otherSubnets6` are subnets in use
    /// elsewhere (the cluster's overlay networks) that a new subnet must not overlap.
    public func planNetwork(
        _ request: NetworkRequest, id: String, now: Date, hostPrefixes: [IPv4Network],
        hostPrefixes6: [IPv6Network] = [],
        vni: UInt32? = nil, otherSubnets extra: [(String, IPv4Network)] = [],
        otherSubnets6: [(String, IPv6Network)] = []
    ) throws(ModelError) -> Network {
        try validateName(request.name, what: "network")
        guard !networks.contains(where: { $0.name == request.name }) else { throw .networkExists(request.name) }
        guard let driver = NetworkDriver(rawValue: request.driver) else {
            throw .invalidOption(
                "--driver \(request.driver)", "the driver must be bridge, macvlan, overlay, host or none")
        }
        guard driver.hasEndpoints else { throw .singleInstanceDriver(driver.rawValue) }

        var bridgeName: String?
        var parent: String?
        if driver.usesBridge, let mtu = request.options[DriverOption.mtu] { _ = try DriverOption.parseMTU(mtu) }
        switch driver {
        case .bridge:
            bridgeName = try planBridgeName(request, id: id)
            try validateBridgeOptions(request.options, isInternal: request.internal)
        case .macvlan:
            parent = try planMacvlanParent(request, id: id)
        case .overlay:
            guard vni != nil else {
                throw .invalidOption("--driver overlay", "overlay networks need the agent to be in a cluster")
            }
            bridgeName = "ov-" + id.prefix(12)
        case .host, .none:
            break
        }

        let ipv4 = try planIPv4(request, driver: driver, hostPrefixes: hostPrefixes, otherSubnets: extra)
        var network = Network(
            id: id, name: request.name, driver: driver, subnet: ipv4?.subnet, gateway: ipv4?.gateway,
            ipRange: ipv4?.ipRange, internal: request.internal, options: request.options, created: now,
            bridgeName: bridgeName, userSubnet: request.subnet != nil)
        if let ipv4 {
            network.auxAddresses = try planAuxAddresses(
                request.auxAddresses ?? [], subnet: request.subnet != nil ? ipv4.subnet : nil, gateway: ipv4.gateway)
        }
        network.attachable = request.attachable
        network.ipv6 = try planIPv6(
            request, driver: driver, hostPrefixes: hostPrefixes6, elsewhere: otherSubnets6)
        if let labels = request.labels, !labels.isEmpty {
            network.labels = Dictionary(
                labels.map { label in
                    let parts = label.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                    return (String(parts[0]), parts.count > 1 ? String(parts[1]) : "")
                }, uniquingKeysWith: { _, last in last })
        }
        network.parent = parent
        network.vni = vni
        return network
    }

    /// The IPv4 side of a new network: its subnet (given, or the first free one of the
    /// pools), gateway and range; nil for an IPv6-only network (`--ipv4=false`, Docker 28),
    /// which must then have IPv6 and takes no IPv4 settings.
    private func planIPv4(
        _ request: NetworkRequest, driver: NetworkDriver, hostPrefixes: [IPv4Network],
        otherSubnets extra: [(String, IPv4Network)]
    ) throws(ModelError) -> (subnet: IPv4Network, gateway: IPv4Address, ipRange: IPv4Network?)? {
        guard request.ipv4 != false else {
            guard request.ipv6 == true else { throw .noAddressFamily }
            // The cluster store hands out overlay addresses by IPv4.
            guard driver != .overlay else {
                throw .invalidOption("--ipv4=false", "IPv6-only overlay networks are not supported yet")
            }
            for (flag, value) in [
                ("--subnet", request.subnet), ("--gateway", request.gateway), ("--ip-range", request.ipRange),
            ] {
                if let value {
                    throw .invalidOption("\(flag) \(value)", "IPv4 is disabled on this network (--ipv4=false)")
                }
            }
            if let aux = request.auxAddresses?.first { throw .noSubnetForAuxAddress(aux) }
            return nil
        }
        let otherSubnets = networks.compactMap { n in n.subnet.map { (n.name, $0) } } + extra
        let subnet: IPv4Network
        if let text = request.subnet {
            subnet = try IPv4Network.parse(text)
            guard subnet.prefixLength <= 30 else {
                throw .invalidCIDR(
                    text, "the prefix must be /30 or shorter to leave room for a gateway and a container")
            }
            if let clash = otherSubnets.first(where: { $0.1.overlaps(subnet) }) {
                throw .poolOverlap(subnet, with: clash.0)
            }
        } else {
            if request.gateway != nil { throw .invalidIP(request.gateway!, "--gateway needs --subnet") }
            if request.ipRange != nil { throw .invalidCIDR(request.ipRange!, "--ip-range needs --subnet") }
            // Docker's default-address-pools are local networks' only; overlay ones have their own.
            let pools = driver == .overlay ? AddressPool.globalDefaults : defaults.addressPools
            subnet = try IPAM.chooseSubnet(avoiding: otherSubnets.map(\.1) + hostPrefixes, pools: pools)
        }

        var gateway = IPv4Address(subnet.hostRange.lowerBound)
        if let text = request.gateway {
            guard let ip = IPv4Address(text) else { throw .invalidIP(text, "expected an IPv4 address like 10.0.0.1") }
            guard subnet.hostRange.contains(ip.value) else {
                throw .invalidIP(text, "the gateway must be a host address of the subnet \(subnet)")
            }
            gateway = ip
        }
        var ipRange: IPv4Network?
        if let text = request.ipRange {
            let range = try IPv4Network.parse(text)
            guard subnet.contains(range) else {
                throw .invalidCIDR(text, "the --ip-range must lie inside the subnet \(subnet)")
            }
            ipRange = range
        }
        return (subnet, gateway, ipRange)
    }

    /// --aux-address NAME=IP: in the subnet given with --subnet (Docker's CLI matches them
    /// to the subnets given), not the gateway, each address once.
    private func planAuxAddresses(
        _ given: [String], subnet: IPv4Network?, gateway: IPv4Address
    ) throws(ModelError) -> [String: IPv4Address]? {
        var addresses: [String: IPv4Address] = [:]
        for entry in given {
            let parts = entry.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            let text = parts.count == 2 ? parts[1] : ""
            guard let ip = IPv4Address(text), subnet?.contains(ip) == true else { throw .noSubnetForAuxAddress(text) }
            guard ip != gateway, !addresses.values.contains(ip) else { throw .auxAddressInUse(name: parts[0], ip) }
            addresses[parts[0]] = ip
        }
        return addresses.isEmpty ? nil : addresses
    }

    private func planBridgeName(_ request: NetworkRequest, id: String) throws(ModelError) -> String {
        let bridgeName = request.options[BridgeOption.bridgeName] ?? "br-" + id.prefix(12)
        try validateInterfaceName(bridgeName)
        if let other = networks.first(where: { $0.bridgeName == bridgeName }) {
            throw .invalidOption(
                "\(BridgeOption.bridgeName)=\(bridgeName)", "the bridge is already used by network \(other.name)")
        }
        return bridgeName
    }

    private func validateBridgeOptions(_ options: [String: String], isInternal: Bool) throws(ModelError) {
        for (key, value) in options {
            switch key {
            case BridgeOption.enableICC, BridgeOption.enableMasquerade:
                guard ["true", "false", "1", "0", "t", "f", "yes", "no"].contains(value.lowercased()) else {
                    throw .invalidOption("\(key)=\(value)", "the value must be true or false")
                }
            case BridgeOption.gatewayMode, BridgeOption.gatewayModeIPv6:
                guard let mode = GatewayMode(rawValue: value) else {
                    throw .invalidOption(
                        "\(key)=\(value)", "the value must be nat, nat-unprotected, routed or isolated")
                }
                if mode == .isolated && !isInternal {
                    throw .invalidOption(
                        "\(key)=\(value)", "gateway mode isolated can only be used with an --internal network")
                }
            default: break  // Docker ignores options a driver does not know; so do we.
            }
        }
    }

    /// The parent of a macvlan network: -o parent, or (none given, or --internal) a dummy
    /// device made for the network, as Docker does. One macvlan network per parent.
    private func planMacvlanParent(_ request: NetworkRequest, id: String) throws(ModelError) -> String {
        if let mode = request.options[MacvlanOption.mode], !MacvlanOption.modes.contains(mode) {
            throw .invalidOption(
                "\(MacvlanOption.mode)=\(mode)",
                "requested macvlan mode '\(mode)' is not valid, 'bridge' mode is the macvlan driver default")
        }
        guard let parent = request.options[MacvlanOption.parent], !request.internal else {
            return "dm-" + id.prefix(12)
        }
        try validateInterfaceName(parent, option: MacvlanOption.parent)
        _ = try parseVLANParent(parent)
        if let other = networks.first(where: { $0.driver == .macvlan && $0.parent == parent }) {
            throw .parentInUse(parent: parent, network: other.name)
        }
        return parent
    }

    public func planRemoveNetwork(_ reference: String) throws(ModelError) -> Network {
        let network = try network(reference)
        if network.isPredefined { throw .predefinedNetwork(network.name) }
        let attached = endpoints(inNetwork: network.id).compactMap { e in
            containers.first { $0.id == e.containerID }?.name
        }
        guard attached.isEmpty else { throw .networkHasEndpoints(network.name, attached.sorted()) }
        return network
    }

    // MARK: Containers

    /// A new container and its endpoints, one per network in the order given (eth0,
    /// eth1, ...). `portInUse` tells whether a host port is taken by something outside
    /// Bridgeport (a listening socket on the host); `reserved` and `reserved6` hold the
    /// addresses the cluster store handed out, by network ID (overlay networks).
    public func planContainer(
        _ request: ContainerRequest, id: String, now: Date,
        portInUse: (HostPort) -> Bool = { _ in false },
        reserved: [String: IPv4Address] = [:], reserved6: [String: IPv6Address] = [:]
    )
        throws(ModelError) -> (Container, [Endpoint])
    {
        let name = request.name ?? Registry.generatedName(id: id)
        try validateName(name, what: "container")
        guard !containers.contains(where: { $0.name == name }) else { throw .containerExists(name) }
        let attachments = try request.attachments()
        if let target = attachments[0].joinedContainer {
            return (try planJoiningContainer(request, id: id, name: name, now: now, joining: target), [])
        }
        var networks: [Network] = []
        for attachment in attachments {
            let network = try self.network(attachment.network == "default" ? Network.defaultName : attachment.network)
            if networks.contains(where: { $0.id == network.id }) {
                throw .conflictingNetworks("network \"\(attachment.network)\" is specified multiple times")
            }
            networks.append(network)
        }
        let first = networks[0]
        let hostname = request.hostname ?? String(id.prefix(12))  // Docker's: the short ID
        try validateHostname(hostname)

        let exposed = try request.exposedPorts()
        var requests: [PortRequest] = []
        for spec in request.ports { requests += try PortRequest.parse(spec) }
        if request.publishAll == true {
            // -P: each exposed port that no -p binds gets a free host port.
            let bound = Set(requests.map { ExposedPort($0.proto, $0.containerPort) })
            requests += (exposed ?? []).filter { !bound.contains($0) }.map {
                PortRequest(proto: $0.proto, containerPort: $0.port)
            }
        }
        // Docker ignores published ports on host and none networks (with a warning) and on
        // macvlan ones, whose containers sit on the LAN with their own addresses.
        let ports =
            first.driver.usesBridge
            ? try allocatePorts(
                requests, ipv4: first.ipv4Enabled, ipv6: first.ipv6 != nil, portInUse: portInUse) : []

        var container = Container(
            id: id, name: name, hostname: hostname,
            command: request.command.isEmpty ? ["sleep", "infinity"] : request.command,
            created: now, networkMode: first.name, ports: ports, process: ProcessState())
        try applySettings(of: request, to: &container)
        container.exposedPorts = exposed
        container.publishAll = request.publishAll == true ? true : nil
        if container.sysctls != nil && !first.driver.hasEndpoints && first.driver != .none {
            throw .invalidFlag("--sysctl", container.sysctls![0], "sysctls are not allowed in host network mode")
        }
        var planned: [Endpoint] = []
        for (order, (attachment, network)) in zip(attachments, networks).enumerated() {
            try validateAliases(attachment.aliases, on: network)
            guard
                var endpoint = try planEndpoint(
                    container: container, network: network, ip: attachment.ip, order: order,
                    reserved: reserved[network.id], planned: planned, ip6: attachment.ip6,
                    reserved6: reserved6[network.id])
            else { continue }
            endpoint.aliases = attachment.aliases.isEmpty ? nil : attachment.aliases
            if let mac = try requestedMAC(attachment.macAddress) {
                guard !endpoints.contains(where: { $0.networkID == network.id && $0.mac == mac }) else {
                    throw .invalidFlag(
                        "--mac-address", mac.description, "address \(mac) is in use on network \(network.name)")
                }
                endpoint.mac = mac
            }
            planned.append(endpoint)
        }
        return (container, planned)
    }

    /// `--network container:NAME`: no endpoint of its own; it runs in the other container's
    /// network namespace, with its hostname and name files, as Docker does.
    private func planJoiningContainer(
        _ request: ContainerRequest, id: String, name: String, now: Date, joining target: String
    ) throws(ModelError) -> Container {
        try request.checkJoinConflicts()
        let joined = try container(target)
        var container = Container(
            id: id, name: name, hostname: joined.hostname,
            command: request.command.isEmpty ? ["sleep", "infinity"] : request.command,
            created: now, networkMode: NetworkAttachmentRequest.containerPrefix + joined.id)
        try applySettings(of: request, to: &container)
        return container
    }

    /// What every container takes from its request whatever its network: names, confinement,
    /// sysctls and --rm.
    private func applySettings(of request: ContainerRequest, to container: inout Container) throws(ModelError) {
        container.names = try request.nameSettings()
        container.confinement = try request.confinement()
        container.sysctls = try request.validSysctls()
        container.autoRemove = request.autoRemove == true ? true : nil
    }

    /// The address the user asked for with --ip, checked against Docker's rules (not yet
    /// against addresses in use); nil when none was asked for.
    public func requestedAddress(_ requested: String?, on network: Network) throws(ModelError) -> IPv4Address? {
        guard let text = requested else { return nil }
        if network.name == Network.defaultName { throw .ipOnDefaultNetwork }
        if network.driver.hasEndpoints && !network.ipv4Enabled {
            throw .invalidIP(text, "network \(network.name) has no IPv4 (it was created with --ipv4=false)")
        }
        if !network.userSubnet { throw .ipWithoutSubnet(network: network.name) }
        guard network.driver.hasEndpoints, let subnet = network.subnet else {
            throw .invalidIP(text, "network \(network.name) has no addresses")
        }
        guard let parsed = IPv4Address(text) else { throw .invalidIP(text, "expected an IPv4 address like 10.0.0.5") }
        guard subnet.hostRange.contains(parsed.value) else { throw .addressOutsideSubnet(parsed, subnet) }
        guard !network.reservedAddresses.contains(parsed) else { throw .addressInUse(parsed, network: network.name) }
        return parsed
    }

    /// An endpoint of container on network; nil for host and none (no interface of their own).
    /// `reserved`, `reserved6`: addresses the cluster store already handed out (overlay
    /// networks). `planned`: the container's other endpoints planned with it, not yet in
    /// the registry.
    public func planEndpoint(
        container: Container, network: Network, ip requested: String?, order: Int,
        reserved: IPv4Address? = nil, planned: [Endpoint] = [], ip6 requested6: String? = nil,
        reserved6: IPv6Address? = nil
    ) throws(ModelError) -> Endpoint? {
        let asked = try requestedAddress(requested, on: network)
        guard network.driver.hasEndpoints, network.subnet != nil || network.ipv6 != nil else { return nil }
        let used = addressesInUse(network: network.id)
        var ip: IPv4Address?
        if let reserved {
            ip = reserved
        } else if let asked {
            guard !used.contains(asked) else { throw .addressInUse(asked, network: network.name) }
            ip = asked
        } else if network.subnet != nil {
            ip = try IPAM.allocate(in: network, used: used)
        }
        var ip6 = reserved6
        if ip6 == nil { ip6 = try planAddress6(requested6, on: network) }
        // An IPv6-only endpoint's MAC comes from its IPv6 address, as another's from its IPv4.
        let mac = ip.map(MACAddress.init(derivedFrom:)) ?? ip6.map(MACAddress.init(derivedFrom:))
        let taken = Set((endpoints(ofContainer: container.id) + planned).compactMap(\.containerInterface))
        let interface = (0...).lazy.map { "eth\($0)" }.first { !taken.contains($0) }!
        guard network.driver == .macvlan else {
            var endpoint = Endpoint(
                containerID: container.id, networkID: network.id, ip: ip, mac: mac,
                hostInterface: vethName(container.id + network.id), containerInterface: interface,
                order: order)
            endpoint.ip6 = ip6
            return endpoint
        }
        // A macvlan device lives in the container's namespace only: no host side.
        var endpoint = Endpoint(
            containerID: container.id, networkID: network.id, ip: ip, mac: mac,
            hostInterface: nil, containerInterface: interface, order: order)
        endpoint.ip6 = ip6
        let usedIndexes = Set((endpoints + planned).compactMap(\.linkIndex))
        endpoint.linkIndex = Endpoint.namespacedIndexes.first { !usedIndexes.contains($0) }
        return endpoint
    }

    public func planConnect(
        network reference: String, container containerRef: String, ip: String?, ip6: String? = nil,
        aliases: [String] = [],
        reserved: IPv4Address? = nil, reserved6: IPv6Address? = nil
    ) throws(ModelError) -> Endpoint {
        let network = try self.network(reference)
        let container = try self.container(containerRef)
        let existing = endpoints(ofContainer: container.id)
        if existing.contains(where: { $0.networkID == network.id }) {
            throw .alreadyConnected(container: container.name, network: network.name)
        }
        let current = networks.first { $0.name == container.networkMode }
        guard network.driver.hasEndpoints, current?.driver.hasEndpoints ?? true else {
            throw .hostOrNoneMixed(network.name)
        }
        try validateAliases(aliases, on: network)
        let order = (existing.map(\.order).max() ?? -1) + 1
        var endpoint = try planEndpoint(
            container: container, network: network, ip: ip, order: order, reserved: reserved, ip6: ip6,
            reserved6: reserved6)!
        endpoint.aliases = aliases.isEmpty ? nil : aliases
        return endpoint
    }

    public func planDisconnect(network reference: String, container containerRef: String) throws(ModelError) -> Endpoint
    {
        let network = try self.network(reference)
        let container = try self.container(containerRef)
        guard network.driver.hasEndpoints else { throw .hostOrNoneMixed(network.name) }
        guard let endpoint = endpoints(ofContainer: container.id).first(where: { $0.networkID == network.id }) else {
            throw .notConnected(container: container.name, network: network.name)
        }
        return endpoint
    }

    /// Restricts who may use one of the container's published host ports
    /// (`PORT[/PROTO]`), or opens it to all again with `clear`.
    public func planAllow(
        container reference: String, hostPort spec: String, sources: [String], clear: Bool
    ) throws(ModelError) -> Container {
        var container = try container(reference)
        let parts = spec.split(separator: "/", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), let port = UInt16(parts[0]), port > 0,
            let proto = parts.count == 2 ? PortProtocol(rawValue: parts[1].lowercased()) : .tcp
        else {
            throw .invalidPortSpec(spec, "expected HOSTPORT[/tcp|/udp], e.g. 5000/tcp")
        }
        let families = Set(container.ports.filter { $0.hostPort == port && $0.proto == proto }.map(\.hostIP.family))
        guard !families.isEmpty else {
            throw .invalidPortSpec(
                spec, "container \(container.name) does not publish host port \(port)/\(proto.rawValue)")
        }
        guard clear || !sources.isEmpty else { throw .invalidCIDR("", "give at least one source CIDR, or --clear") }
        var networks: [IPNetwork] = []
        for source in sources {
            let network = try IPNetwork.parseSource(source)
            // A source of a family the port is not published on could never use it.
            guard families.contains(network.family) else {
                throw .invalidCIDR(
                    source,
                    "host port \(port)/\(proto.rawValue) of container \(container.name) is published on "
                        + "\(families.sorted()[0].name) only, not on \(network.family.name)")
            }
            networks.append(network)
        }
        let key = "\(port)/\(proto.rawValue)"
        var allowed = container.allowedSources ?? [:]
        allowed[key] =
            clear ? nil : Array(Set((allowed[key] ?? []) + networks)).sorted { $0.description < $1.description }
        container.allowedSources = allowed.isEmpty ? nil : allowed
        return container
    }

    /// A stopped container started again: the host ports it had must still be free (no
    /// other container, runtime or host process took them meanwhile).
    public func planStart(
        _ reference: String, portInUse: (HostPort) -> Bool = { _ in false }
    ) throws(ModelError) -> Container {
        var container = try self.container(reference)
        guard container.stopped == true else { return container }
        let taken =
            containers.filter { $0.id != container.id }.flatMap(\.publishedPorts) + attachments.flatMap(\.ports)
        for mapping in container.ports
        where taken.contains(where: { $0.conflicts(with: mapping) })
            || portInUse(mapping.hostSide)
        {
            throw .portAllocated(mapping.hostSide.description)
        }
        container.stopped = nil
        return container
    }

    /// Chooses a host port for each request: the asked one if free, else the first free one
    /// of its range, else (no port given) the first free ephemeral port. `ipv6`: the
    /// container has an IPv6 address; a request without a host address then publishes on
    /// both families, at one host port free in both (Docker 27's). `ipv4`: false for a
    /// container on an IPv6-only network, which publishes on IPv6 alone.
    public func allocatePorts(
        _ requests: [PortRequest], ipv4: Bool = true, ipv6: Bool = false, portInUse: (HostPort) -> Bool,
        exceptAttachment: String? = nil
    ) throws(ModelError) -> [PortMapping] {
        var taken =
            containers.flatMap(\.publishedPorts) + attachments.filter { $0.id != exceptAttachment }.flatMap(\.ports)
        var result: [PortMapping] = []
        for request in requests {
            let addresses = try hostAddresses(of: request, ipv4: ipv4, ipv6: ipv6)
            guard !addresses.isEmpty else { continue }
            let range = request.hostPorts ?? ephemeralPorts
            func isFree(_ ip: IPAddress, _ port: UInt16) -> Bool {
                let side = HostPort(request.proto, ip, port)
                return !taken.contains { $0.hostSide.conflicts(with: side) } && !portInUse(side)
            }
            guard let port = range.first(where: { port in addresses.allSatisfy { isFree($0, port) } }) else {
                let ip = addresses.first { !isFree($0, range.lowerBound) } ?? addresses[0]
                if range.count == 1 { throw .portAllocated(ip.with(ports: range)) }
                throw .portsExhausted("\(ip.with(ports: range))/\(request.proto.rawValue)")
            }
            for ip in addresses {
                let mapping = PortMapping(
                    proto: request.proto, containerPort: request.containerPort, hostIP: ip, hostPort: port)
                taken.append(mapping)
                result.append(mapping)
            }
        }
        return result
    }

    /// The host addresses a request binds: the one given; else the daemon's default, whose
    /// unspecified address (0.0.0.0 or ::) stands for both families on a container with
    /// IPv6. Without a userland proxy nothing carries IPv6 to an IPv4-only container: its
    /// default binding is IPv4 only (none when the default is an IPv6 address, as Docker
    /// 27 without its proxy), and an IPv6 address given is refused. Likewise IPv4 for an
    /// IPv6-only container.
    private func hostAddresses(of request: PortRequest, ipv4: Bool, ipv6: Bool) throws(ModelError) -> [IPAddress] {
        func carried(_ family: AddressFamily) -> Bool { family == .ipv4 ? ipv4 : ipv6 }
        if let ip = request.hostIP {
            let binding = "\(request.containerPort)/\(request.proto.rawValue) on \(ip)"
            guard carried(ip.family) else {
                throw ip.family == .ipv4 ? .noIPv4ForBinding(binding) : .noIPv6ForBinding(binding)
            }
            return [ip]
        }
        let ip = defaults.hostIP
        if ip.isUnspecified { return [AddressFamily.ipv4, .ipv6].filter(carried).map(IPAddress.unspecified) }
        return carried(ip.family) ? [ip] : []
    }

    /// Docker-style random names are long; ours are short and readable: the ID's first 12 digits prefixed.
    public static func generatedName(id: String) -> String { "c-" + id.prefix(12) }
}

/// RFC 1123 host names: labels of letters, digits and '-', 1 to 63 characters, 253 in all.
public func validateHostname(_ name: String) throws(ModelError) {
    let labels = name.split(separator: ".", omittingEmptySubsequences: false)
    let ok =
        !name.isEmpty && name.utf8.count <= 253
        && labels.allSatisfy { label in
            !label.isEmpty && label.count <= 63 && label.first != "-" && label.last != "-"
                && label.unicodeScalars.allSatisfy {
                    $0.isASCII && (Character($0).isLetter || Character($0).isNumber || $0 == "-" || $0 == "_")
                }
        }
    guard ok else {
        throw .invalidName(name, "a hostname has labels of letters, digits and '-' (1 to 63 characters each)")
    }
}
