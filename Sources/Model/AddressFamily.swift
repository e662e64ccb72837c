/// IPv4 or IPv6: published ports, their host ports and allow lists are per family.
public enum AddressFamily: String, Sendable, Hashable, Comparable, CaseIterable {
    case ipv4, ipv6

    public static func < (l: Self, r: Self) -> Bool { l == .ipv4 && r == .ipv6 }

    /// "IPv4", "IPv6", for messages.
    public var name: String { self == .ipv4 ? "IPv4" : "IPv6" }
}

extension IPAddress {
    public init(_ address: IPv4Address) { self = .v4(address) }
    public init(_ address: IPv6Address) { self = .v6(address) }

    /// Every address of a family (0.0.0.0, ::).
    public static func unspecified(_ family: AddressFamily) -> IPAddress { family == .ipv4 ? .v4(.any) : .v6(.any) }

    public var family: AddressFamily {
        switch self {
        case .v4: .ipv4
        case .v6: .ipv6
        }
    }

    public var ipv4: IPv4Address? {
        if case .v4(let address) = self { address } else { nil }
    }

    public var ipv6: IPv6Address? {
        if case .v6(let address) = self { address } else { nil }
    }

    public var isUnspecified: Bool { ipv4?.isUnspecified ?? ipv6!.isUnspecified }
    public var isLoopback: Bool { ipv4?.isLoopback ?? ipv6!.isLoopback }

    /// A range of ports at the address: "0.0.0.0:8000-8010", "[::]:8000-8010".
    public func with(ports: ClosedRange<UInt16>) -> String {
        let text = family == .ipv4 ? description : "[\(description)]"
        return ports.count == 1 ? "\(text):\(ports.lowerBound)" : "\(text):\(ports.lowerBound)-\(ports.upperBound)"
    }
}

/// A network of either family (the sources of a restricted port's allow list); in JSON,
/// its text, so lists stored as IPv4 networks read back unchanged.
public enum IPNetwork: Hashable, Sendable, TextCodable {
    case v4(IPv4Network)
    case v6(IPv6Network)

    public init(parsing text: String) throws(TextCodingError) {
        do { self = try IPNetwork.parse(text) } catch { throw TextCodingError(error.description) }
    }

    /// "10.0.0.0/8", "2001:db8::/32"; host bits set is an error, as in Docker.
    public static func parse(_ text: String) throws(ModelError) -> IPNetwork {
        text.contains(":") ? .v6(try IPv6Network.parse(text)) : .v4(try IPv4Network.parse(text))
    }

    /// A source as `port allow` takes it: a network, or an address (a /32, a /128).
    public static func parseSource(_ text: String) throws(ModelError) -> IPNetwork {
        if let address = IPv4Address(text) { return .v4(IPv4Network(containing: address, prefixLength: 32)) }
        if let address = IPv6Address(text), !text.contains("/") {
            return .v6(IPv6Network(containing: address, prefixLength: 128))
        }
        return try parse(text)
    }

    public var family: AddressFamily {
        switch self {
        case .v4: .ipv4
        case .v6: .ipv6
        }
    }

    public var ipv4: IPv4Network? {
        if case .v4(let network) = self { network } else { nil }
    }

    public var ipv6: IPv6Network? {
        if case .v6(let network) = self { network } else { nil }
    }

    public var description: String {
        switch self {
        case .v4(let network): network.description
        case .v6(let network): network.description
        }
    }

    public func contains(_ address: IPAddress) -> Bool {
        switch (self, address) {
        case (.v4(let network), .v4(let ip)): network.contains(ip)
        case (.v6(let network), .v6(let ip)): network.contains(ip)
        default: false
        }
    }
}
