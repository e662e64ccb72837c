import FoundationEssentials

/// Docker's network drivers that Bridgeport implements.
public enum NetworkDriver: String, Codable, Sendable, CaseIterable {
    case bridge, host, none, macvlan, overlay

    /// Drivers whose containers get an interface (and an address) of their own.
    public var hasEndpoints: Bool { self != .host && self != .none }
    /// Drivers whose containers hang on a Linux bridge by a veth pair.
    public var usesBridge: Bool { self == .bridge || self == .overlay }
    /// The name Docker shows: its `none` network's driver is `null`.
    public var dockerName: String { self == .none ? "null" : rawValue }
}

/// Options of the macvlan driver, with Docker's names.
public enum MacvlanOption {
    public static let parent = "parent"
    public static let mode = "macvlan_mode"
    public static let modes: Set<String> = ["bridge", "private", "vepa", "passthru"]
}

/// Driver options (`-o KEY=VALUE`) Bridgeport understands, with Docker's names.
public enum BridgeOption {
    public static let enableICC = "com.docker.network.bridge.enable_icc"
    public static let bridgeName = "com.docker.network.bridge.name"
    public static let enableMasquerade = "com.docker.network.bridge.enable_ip_masquerade"
    public static let gatewayMode = "com.docker.network.bridge.gateway_mode_ipv4"
    public static let gatewayModeIPv6 = "com.docker.network.bridge.gateway_mode_ipv6"
}

/// Options every driver with interfaces of its own understands.
public enum DriverOption {
    /// The MTU of the network's bridge and its containers' interfaces (bridge, overlay).
    public static let mtu = "com.docker.network.driver.mtu"
    /// The interfaces' MTU: 68 (IPv4's minimum) to 65535 (a veth's maximum); 0 leaves the
    /// kernel's default, as in Docker.
    public static let mtus = 68...65535

    /// The MTU an `-o com.docker.network.driver.mtu=VALUE` asks for, with Docker's messages;
    /// nil for 0 (the default).
    public static func parseMTU(_ value: String) throws(ModelError) -> Int? {
        guard let number = Int(value) else {
            throw .invalidConfiguration("failed to parse \(DriverOption.mtu) value: \(value) (expected an integer)")
        }
        guard number == 0 || mtus.contains(number) else {
            throw .invalidConfiguration(
                "invalid MTU number: \(number) (use \(mtus.lowerBound) to \(mtus.upperBound), or 0 for the default)")
        }
        return number == 0 ? nil : number
    }
}

/// Docker 28's gateway modes (`-o com.docker.network.bridge.gateway_mode_ipv4=MODE`): how a
/// network is reached from outside and how its containers reach out.
public enum GatewayMode: String, Sendable, CaseIterable {
    /// Published ports on host addresses (DNAT), masquerade out; direct routing to a
    /// container address reaches its published container ports only.
    case nat
    /// As nat, and direct routing reaches every port of the containers.
    case natUnprotected = "nat-unprotected"
    /// No NAT either way: direct routing reaches published container ports and ICMP; host
    /// ports of `-p` are not mapped.
    case routed
    /// With --internal only: no address on the bridge, so not even the host reaches it.
    case isolated
}

public struct Network: Codable, Sendable, Hashable, Identifiable {
    public var id: String
    public var name: String
    public var driver: NetworkDriver
    public var subnet: IPv4Network?
    public var gateway: IPv4Address?
    public var ipRange: IPv4Network?
    /// --ipv6: its IPv6 subnet, gateway and range; nil for an IPv4-only network.
    public var ipv6: IPv6Settings? = nil
    public var `internal`: Bool
    public var options: [String: String]
    /// --attachable, as given (Docker shows it; every overlay network here is attachable).
    public var attachable: Bool? = nil
    /// --label KEY=VALUE.
    public var labels: [String: String]? = nil
    /// --aux-address NAME=IP: addresses IPAM never hands out (Docker's
    /// IPAM.Config[].AuxiliaryAddresses); the default bridge's default-gateway is one.
    public var auxAddresses: [String: IPv4Address]? = nil
    public var created: Date
    /// The Linux bridge device (bridge driver only).
    public var bridgeName: String?
    /// True when the user gave --subnet (Docker allows --ip only then).
    public var userSubnet: Bool
    /// macvlan: the parent interface (an 802.1Q sub-interface "IFACE.VLAN" or a dummy
    /// device, made with the network, when it does not exist yet).
    public var parent: String? = nil
    /// overlay: the VXLAN network identifier, unique in the cluster.
    public var vni: UInt32? = nil
    /// overlay: the host that created it (its advertise address); `network prune` there
    /// removes it, on the other hosts never.
    public var origin: IPv4Address? = nil
    /// The small number the dataplane's maps know the network by on this host (its
    /// endpoints' and subnet's network id): given once and kept, so that an agent restart
    /// never renumbers networks under running containers.
    public var localNumber: UInt16? = nil

    public static let defaultName = "bridge"
    public static let defaultBridgeName = "bp0"
    public static let predefinedNames: Set<String> = ["bridge", "host", "none"]

    public var isPredefined: Bool { Network.predefinedNames.contains(name) }
    public var iccEnabled: Bool { options[BridgeOption.enableICC].map(parseBool) ?? true }
    public var masqueradeEnabled: Bool { options[BridgeOption.enableMasquerade].map(parseBool) ?? true }
    /// The MAC address of its bridge: derived from its gateway's address (IPv4's, else
    /// IPv6's), so that no container has it and it does not change as containers come and
    /// go (a bridge without one takes its lowest port's). nil without a bridge or gateway.
    public var bridgeMAC: MACAddress? {
        guard bridgeName != nil else { return nil }
        if let gateway { return MACAddress(derivedFrom: gateway) }
        return ipv6.map { MACAddress(derivedFrom: $0.gateway) }
    }

    public var gatewayMode: GatewayMode {
        options[BridgeOption.gatewayMode].flatMap(GatewayMode.init(rawValue:)) ?? .nat
    }
    public var routedMode: Bool { gatewayMode == .routed }
    /// IPv6's own gateway mode (gateway_mode_ipv6), on a network with IPv6.
    public var gatewayMode6: GatewayMode {
        options[BridgeOption.gatewayModeIPv6].flatMap(GatewayMode.init(rawValue:)) ?? .nat
    }
    public var macvlanMode: String { options[MacvlanOption.mode] ?? "bridge" }
    /// The MTU of its bridge and interfaces (-o com.docker.network.driver.mtu); nil: the
    /// driver's default.
    public var mtu: Int? { options[DriverOption.mtu].flatMap { try? DriverOption.parseMTU($0) } }
    /// Addresses no container gets: the gateway and the aux addresses.
    public var reservedAddresses: Set<IPv4Address> {
        Set((gateway.map { [$0] } ?? []) + (auxAddresses ?? [:]).values)
    }
    /// Where its containers' default route goes: the daemon's default-gateway on the
    /// default bridge (Docker's aux address DefaultGatewayIPv4), else the gateway.
    public var routeGateway: IPv4Address? { auxAddresses?[Network.defaultGatewayKey] ?? gateway }
    /// The aux address that holds the default bridge's default-gateway, as Docker names it.
    public static let defaultGatewayKey = "DefaultGatewayIPv4"
    /// Docker's SCOPE: overlay networks belong to the cluster.
    public var scope: String { driver == .overlay ? "global" : "local" }
    /// The VXLAN device of an overlay network on each host.
    public var vxlanName: String? { driver == .overlay ? "vx-" + id.prefix(12) : nil }
    public var shortID: String { String(id.prefix(12)) }
    /// Docker's EnableIPv4: false for an IPv6-only network (one with endpoints and no IPv4 subnet).
    public var ipv4Enabled: Bool { subnet != nil || !driver.hasEndpoints }
}

func parseBool(_ text: String) -> Bool { ["true", "1", "t", "yes"].contains(text.lowercased()) }

/// What `network create` asks for, before validation.
public struct NetworkRequest: Codable, Sendable {
    public var name: String
    public var driver: String
    public var subnet: String?
    public var gateway: String?
    public var ipRange: String?
    public var `internal`: Bool
    public var options: [String: String]
    /// overlay: Docker's --attachable (standalone containers may join). Every Bridgeport
    /// overlay network is attachable; the flag is accepted for compatibility.
    public var attachable: Bool?
    /// --label KEY[=VALUE] (repeatable; a key alone has the empty value).
    public var labels: [String]?
    /// --aux-address NAME=IP (repeatable), as given.
    public var auxAddresses: [String]?
    /// --ipv6, and the IPv6 --subnet, --gateway and --ip-range.
    public var ipv6: Bool?
    /// --ipv4=false: no IPv4 (Docker 28's IPv6-only networks, with --ipv6); nil is true.
    public var ipv4: Bool? = nil
    public var subnet6: String?
    public var gateway6: String?
    public var ipRange6: String?

    public init(
        name: String, driver: String = "bridge", subnet: String? = nil, gateway: String? = nil,
        ipRange: String? = nil, internal: Bool = false, options: [String: String] = [:], attachable: Bool? = nil
    ) {
        self.name = name
        self.driver = driver
        self.subnet = subnet
        self.gateway = gateway
        self.ipRange = ipRange
        self.internal = `internal`
        self.options = options
        self.attachable = attachable
    }
}

/// Names of networks and containers, Docker's rule: `[a-zA-Z0-9][a-zA-Z0-9_.-]*`.
public func validateName(_ name: String, what: String) throws(ModelError) {
    guard let first = name.unicodeScalars.first, isAlnum(first),
        name.unicodeScalars.allSatisfy({ isAlnum($0) || "_.-".unicodeScalars.contains($0) })
    else {
        throw .invalidName(name, "a \(what) name must match [a-zA-Z0-9][a-zA-Z0-9_.-]*")
    }
    guard name.count <= 64 else { throw .invalidName(name, "a \(what) name is at most 64 characters") }
}

private func isAlnum(_ c: Unicode.Scalar) -> Bool {
    ("a"..."z").contains(c) || ("A"..."Z").contains(c) || ("0"..."9").contains(c)
}

/// A Linux interface name: 1 to 15 bytes, no '/', ':' or white space.
public func validateInterfaceName(_ name: String, option: String = BridgeOption.bridgeName) throws(ModelError) {
    guard !name.isEmpty, name.utf8.count <= 15, name != ".", name != "..",
        !name.contains(where: { $0 == "/" || $0 == ":" || $0.isWhitespace })
    else {
        throw .invalidOption("\(option)=\(name)", "an interface name has 1 to 15 characters and no '/', ':' or spaces")
    }
}

/// A macvlan parent "IFACE.VLAN": the base interface and the VLAN id, Docker's rules.
/// Nil for a parent without a VLAN.
public func parseVLANParent(_ parent: String) throws(ModelError) -> (base: String, vlan: Int)? {
    guard let dot = parent.lastIndex(of: ".") else { return nil }
    let base = String(parent[..<dot])
    let tag = parent[parent.index(after: dot)...]
    guard !base.isEmpty, let vlan = Int(tag) else {
        throw .invalidOption(
            "\(MacvlanOption.parent)=\(parent)",
            "required interface name format is: name.vlan_id, ex. eth0.10 for vlan 10")
    }
    guard (1...4094).contains(vlan) else {
        throw .invalidOption("\(MacvlanOption.parent)=\(parent)", "vlan id must be between 1-4094, received: \(vlan)")
    }
    return (base, vlan)
}
