import Glibc

/// An IPv6 address, as one 128-bit number (the first byte on the wire is the top byte).
public struct IPv6Address: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var value: UInt128

    public init(_ value: UInt128) { self.value = value }

    public init(bytes: [UInt8]) {
        precondition(bytes.count == 16)
        value = bytes.reduce(0) { $0 << 8 | UInt128($1) }
    }

    /// Any text form RFC 4291 allows ("fd00::1", "::ffff:10.0.0.1"), as inet_pton reads it;
    /// no brackets, zone or prefix.
    public init?(_ text: some StringProtocol) {
        var storage = in6_addr()
        guard inet_pton(AF_INET6, String(text), &storage) == 1 else { return nil }
        self.init(bytes: withUnsafeBytes(of: storage) { Array($0) })
    }

    public var bytes: [UInt8] { (0..<16).map { UInt8(truncatingIfNeeded: value >> (8 * (15 - $0))) } }

    /// RFC 5952's canonical form: lower case, the longest run of zero groups as "::".
    public var description: String {
        var storage = in6_addr()
        withUnsafeMutableBytes(of: &storage) { $0.copyBytes(from: bytes) }
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        inet_ntop(AF_INET6, &storage, &text, socklen_t(text.count))
        return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    public var isUnspecified: Bool { value == 0 }
    public var isLoopback: Bool { value == 1 }
    public var isLinkLocal: Bool { value >> 118 == 0x3fa }  // fe80::/10
    public var isMulticast: Bool { value >> 120 == 0xff }

    public static let any = IPv6Address(0)
    public static let loopback = IPv6Address(1)
    public static func < (l: Self, r: Self) -> Bool { l.value < r.value }

    public func advanced(by n: Int) -> IPv6Address {
        IPv6Address(n >= 0 ? value &+ UInt128(n) : value &- UInt128(-n))
    }

    /// The link-local address the kernel gives an interface with this MAC (EUI-64, RFC 4291
    /// appendix A): what a container's eth0 has as well as its own addresses.
    public static func linkLocal(mac: MACAddress) -> IPv6Address {
        let b = mac.bytes
        let interfaceID = [b[0] ^ 0x02, b[1], b[2], 0xff, 0xfe, b[3], b[4], b[5]]
        return IPv6Address(bytes: [0xfe, 0x80, 0, 0, 0, 0, 0, 0] + interfaceID)
    }
}

extension IPv6Address: TextCodable {
    public init(parsing text: String) throws(TextCodingError) {
        guard let address = IPv6Address(text) else { throw TextCodingError("invalid IPv6 address \"\(text)\"") }
        self = address
    }
}

public struct IPv6Network: Hashable, Sendable, CustomStringConvertible {
    public let address: IPv6Address
    public let prefixLength: Int

    /// Builds the network that contains `address`, clearing host bits.
    public init(containing address: IPv6Address, prefixLength: Int) {
        precondition((0...128).contains(prefixLength))
        self.prefixLength = prefixLength
        self.address = IPv6Address(address.value & IPv6Network.mask(prefixLength))
    }

    /// Parses "fd00:1::/64". Host bits set is an error, as in Docker.
    public static func parse(_ text: String) throws(ModelError) -> IPv6Network {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let address = IPv6Address(parts[0]) else {
            throw .invalidCIDR(text, "expected an IPv6 network like fd00:1::/64")
        }
        guard parts[1].allSatisfy({ $0.isASCII && $0.isNumber }), let length = Int(parts[1]),
            (0...128).contains(length), parts[1] == "0" || parts[1].first != "0"
        else {
            throw .invalidCIDR(text, "the prefix length must be a number from 0 to 128")
        }
        let network = IPv6Network(containing: address, prefixLength: length)
        guard network.address == address else {
            throw .invalidCIDR(text, "host bits are set, it should be \(network)")
        }
        return network
    }

    static func mask(_ length: Int) -> UInt128 { length == 0 ? 0 : UInt128.max << (128 - length) }
    public var mask: UInt128 { IPv6Network.mask(prefixLength) }
    public var description: String { "\(address)/\(prefixLength)" }
    /// The last address of the network.
    public var last: IPv6Address { IPv6Address(address.value | ~mask) }

    public func contains(_ ip: IPv6Address) -> Bool { ip.value & mask == address.value }
    public func contains(_ other: IPv6Network) -> Bool { other.prefixLength >= prefixLength && contains(other.address) }
    public func overlaps(_ other: IPv6Network) -> Bool { contains(other.address) || other.contains(address) }
}

extension IPv6Network: TextCodable {
    public init(parsing text: String) throws(TextCodingError) {
        do { self = try IPv6Network.parse(text) } catch { throw TextCodingError(error.description) }
    }
}

/// An address of either family, as flows and their views carry them; in JSON, its text.
public enum IPAddress: Hashable, Comparable, Sendable, TextCodable {
    case v4(IPv4Address)
    case v6(IPv6Address)

    public init(parsing text: String) throws(TextCodingError) {
        if let address = IPv4Address(text) {
            self = .v4(address)
        } else if let address = IPv6Address(text) {
            self = .v6(address)
        } else {
            throw TextCodingError("invalid IP address \"\(text)\"")
        }
    }

    public var description: String {
        switch self {
        case .v4(let address): address.description
        case .v6(let address): address.description
        }
    }

    /// With a port: "10.0.0.1:80", "[fd00::1]:80" (RFC 5952's form).
    public func with(port: UInt16) -> String {
        switch self {
        case .v4(let address): "\(address):\(port)"
        case .v6(let address): "[\(address)]:\(port)"
        }
    }

    /// IPv4 addresses first.
    public static func < (l: Self, r: Self) -> Bool {
        switch (l, r) {
        case (.v4(let a), .v4(let b)): a < b
        case (.v6(let a), .v6(let b)): a < b
        case (.v4, .v6): true
        case (.v6, .v4): false
        }
    }
}
