/// IPv6 on a network (`network create --ipv6`, bridge, macvlan and overlay): its subnet, gateway and
/// allocation range, next to the IPv4 ones the network always has (dual-stack; IPv6-only
/// networks are not supported yet).
public struct IPv6Settings: Codable, Sendable, Hashable {
    public var subnet: IPv6Network
    public var gateway: IPv6Address
    public var ipRange: IPv6Network?
    /// The user gave the subnet (`--ip6` is allowed only then, as for `--ip`).
    public var userSubnet: Bool

    public init(subnet: IPv6Network, gateway: IPv6Address, ipRange: IPv6Network? = nil, userSubnet: Bool) {
        self.subnet = subnet
        self.gateway = gateway
        self.ipRange = ipRange
        self.userSubnet = userSubnet
    }
}

/// The fields of `network create` that are given once per address family, split by family:
/// Docker takes `--subnet`, `--gateway` and `--ip-range` once for IPv4 and once for IPv6.
public struct AddressFamilySplit: Sendable, Equatable {
    public var ipv4: String?
    public var ipv6: String?

    public init(ipv4: String?, ipv6: String?) { (self.ipv4, self.ipv6) = (ipv4, ipv6) }

    /// Each value goes to its family (a ':' makes it IPv6); two of one family are refused.
    public init(_ values: [String], flag: String) throws(ModelError) {
        for value in values {
            if value.contains(":") {
                guard ipv6 == nil else {
                    throw .invalidOption("\(flag) \(value)", "only one IPv6 \(flag) is supported")
                }
                ipv6 = value
            } else {
                guard ipv4 == nil else {
                    throw .invalidOption("\(flag) \(value)", "only one IPv4 \(flag) is supported")
                }
                ipv4 = value
            }
        }
    }
}

extension Registry {
    /// The IPv6 side of a new network, or nil for an IPv4-only one. Without a subnet, a
    /// /64 of a random unique local /48 (fd00::/8, RFC 4193), as Docker 27 allocates one.
    /// `elsewhere`: IPv6 subnets of networks not here (the cluster's overlay networks).
    func planIPv6(
        _ request: NetworkRequest, driver: NetworkDriver, hostPrefixes: [IPv6Network] = [],
        elsewhere: [(String, IPv6Network)] = []
    )
        throws(ModelError) -> IPv6Settings?
    {
        guard request.ipv6 == true else {
            if let text = request.subnet6 {
                throw .invalidCIDR(text, "an IPv6 subnet needs --ipv6")
            }
            return nil
        }
        let others = networks.compactMap { n in n.ipv6.map { (n.name, $0.subnet) } } + elsewhere
        let subnet: IPv6Network
        if let text = request.subnet6 {
            subnet = try IPv6Network.parse(text)
            guard subnet.prefixLength <= 126 else {
                throw .invalidCIDR(
                    text, "the prefix must be /126 or shorter to leave room for a gateway and a container")
            }
            guard !subnet.address.isLinkLocal, !subnet.address.isMulticast, !subnet.contains(IPv6Address.loopback)
            else {
                throw .invalidCIDR(text, "link-local, multicast and loopback prefixes cannot be a network's subnet")
            }
            if let clash = others.first(where: { $0.1.overlaps(subnet) }) {
                throw .poolOverlap6(subnet, with: clash.0)
            }
            // The host's own prefixes (those of networks here aside: they are checked above). A
            // macvlan network's subnet is the LAN's, which the host may well be on; an
            // overlay's is on a bridge of every host, as a bridge network's is.
            let own = Set(others.map(\.1))
            if driver != .macvlan, let prefix = hostPrefixes.first(where: { !own.contains($0) && $0.overlaps(subnet) })
            {
                throw .hostPrefixOverlap6(subnet, prefix)
            }
        } else {
            if let text = request.gateway6 { throw .invalidIP(text, "an IPv6 --gateway needs an IPv6 --subnet") }
            if let text = request.ipRange6 { throw .invalidCIDR(text, "an IPv6 --ip-range needs an IPv6 --subnet") }
            subnet = try IPAM.chooseSubnet6(avoiding: others.map(\.1) + hostPrefixes)
        }
        var settings = IPv6Settings(
            subnet: subnet, gateway: subnet.address.advanced(by: 1), userSubnet: request.subnet6 != nil)
        if let text = request.gateway6 {
            guard let ip = IPv6Address(text) else { throw .invalidIP(text, "expected an IPv6 address like fd00::1") }
            guard subnet.contains(ip), ip != subnet.address else {
                throw .invalidIP(text, "the gateway must be a host address of the subnet \(subnet)")
            }
            settings.gateway = ip
        }
        if let text = request.ipRange6 {
            let range = try IPv6Network.parse(text)
            guard subnet.contains(range) else {
                throw .invalidCIDR(text, "the --ip-range must lie inside the subnet \(subnet)")
            }
            settings.ipRange = range
        }
        return settings
    }

    /// The IPv6 address asked for with --ip6, checked against Docker's rules; nil when none.
    public func requestedAddress6(_ requested: String?, on network: Network) throws(ModelError) -> IPv6Address? {
        guard let text = requested else { return nil }
        if network.name == Network.defaultName { throw .ipOnDefaultNetwork }
        guard let settings = network.ipv6 else {
            throw .invalidIP(text, "network \(network.name) has no IPv6 (create it with --ipv6)")
        }
        if !settings.userSubnet { throw .ipWithoutSubnet(network: network.name) }
        guard let parsed = IPv6Address(text) else { throw .invalidIP(text, "expected an IPv6 address like fd00::5") }
        guard settings.subnet.contains(parsed), parsed != settings.subnet.address else {
            throw .addressOutsideSubnet6(parsed, settings.subnet)
        }
        guard parsed != settings.gateway else { throw .addressInUse6(parsed, network: network.name) }
        return parsed
    }

    /// The container's IPv6 address on a network with IPv6: the one asked for, else the
    /// first free one of its range after the gateway.
    public func planAddress6(_ requested: String?, on network: Network) throws(ModelError) -> IPv6Address? {
        let asked = try requestedAddress6(requested, on: network)
        guard let settings = network.ipv6 else { return nil }
        let used = Set(endpoints(inNetwork: network.id).compactMap(\.ip6))
        if let asked {
            guard !used.contains(asked) else { throw .addressInUse6(asked, network: network.name) }
            return asked
        }
        return try IPAM.allocate6(in: settings, used: used, network: network.name)
    }
}

extension IPAM {
    /// A random /64 of fd00::/8 that overlaps none of `avoiding` (RFC 4193's random global ID).
    static func chooseSubnet6(avoiding taken: [IPv6Network]) throws(ModelError) -> IPv6Network {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<64 {
            let globalID = UInt128(UInt64.random(in: 0...0xff_ffff_ffff, using: &generator))
            let candidate = IPv6Network(
                containing: IPv6Address(UInt128(0xfd) << 120 | globalID << 80), prefixLength: 64)
            if !taken.contains(where: { $0.overlaps(candidate) }) { return candidate }
        }
        throw .poolsExhausted
    }

    /// The first free address of the range (or subnet) after the subnet's router anycast
    /// address, skipping the gateway. A /64 is never exhausted in practice; the search is
    /// bounded all the same.
    public static func allocate6(
        in settings: IPv6Settings, used: Set<IPv6Address>, network: String
    ) throws(ModelError)
        -> IPv6Address
    {
        let pool = settings.ipRange ?? settings.subnet
        var candidate = pool.address == settings.subnet.address ? pool.address.advanced(by: 1) : pool.address
        for _ in 0..<65536 {
            guard pool.contains(candidate) else { break }
            if candidate != settings.gateway && !used.contains(candidate) { return candidate }
            candidate = candidate.advanced(by: 1)
        }
        throw .addressesExhausted(network: network)
    }
}
