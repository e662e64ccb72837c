/// An IPv4 address, stored in host byte order.
public struct IPv4Address: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var value: UInt32

    public init(_ value: UInt32) { self.value = value }

    public init(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) {
        value = UInt32(a) << 24 | UInt32(b) << 16 | UInt32(c) << 8 | UInt32(d)
    }

    /// Strict dotted quad: four decimal octets, no leading zeros, nothing around them.
    public init?(_ text: some StringProtocol) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var result: UInt32 = 0
        for part in parts {
            guard !part.isEmpty, part.count <= 3, part.allSatisfy({ $0.isASCII && $0.isNumber }),
                part == "0" || part.first != "0",
                let octet = UInt32(part), octet <= 255
            else { return nil }
            result = result << 8 | octet
        }
        value = result
    }

    public var octets: [UInt8] {
        [UInt8(value >> 24), UInt8(value >> 16 & 0xff), UInt8(value >> 8 & 0xff), UInt8(value & 0xff)]
    }
    public var description: String { octets.map(String.init).joined(separator: ".") }
    public var isUnspecified: Bool { value == 0 }
    public var isLoopback: Bool { value >> 24 == 127 }

    public static let any = IPv4Address(0)
    public static let loopback = IPv4Address(127, 0, 0, 1)
    public static func < (l: Self, r: Self) -> Bool { l.value < r.value }

    public func advanced(by n: Int) -> IPv4Address { IPv4Address(UInt32(truncatingIfNeeded: Int(value) + n)) }
}

extension IPv4Address: TextCodable {
    public init(parsing text: String) throws(TextCodingError) {
        guard let address = IPv4Address(text) else { throw TextCodingError("invalid IPv4 address \"\(text)\"") }
        self = address
    }
}

public struct IPv4Network: Hashable, Sendable, CustomStringConvertible {
    public let address: IPv4Address
    public let prefixLength: Int

    /// Builds the network that contains `address`, clearing host bits.
    public init(containing address: IPv4Address, prefixLength: Int) {
        precondition((0...32).contains(prefixLength))
        self.prefixLength = prefixLength
        self.address = IPv4Address(address.value & IPv4Network.mask(prefixLength))
    }

    /// Parses "a.b.c.d/len". Host bits set is an error, as in Docker ("it should be 10.0.0.0/24").
    public static func parse(_ text: String) throws(ModelError) -> IPv4Network {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let address = IPv4Address(parts[0]) else {
            throw .invalidCIDR(text, "expected an IPv4 network like 10.0.0.0/24")
        }
        guard parts[1].allSatisfy({ $0.isASCII && $0.isNumber }), let length = Int(parts[1]), (0...32).contains(length),
            parts[1] == "0" || parts[1].first != "0"
        else {
            throw .invalidCIDR(text, "the prefix length must be a number from 0 to 32")
        }
        let network = IPv4Network(containing: address, prefixLength: length)
        guard network.address == address else {
            throw .invalidCIDR(text, "host bits are set, it should be \(network)")
        }
        return network
    }

    static func mask(_ length: Int) -> UInt32 { length == 0 ? 0 : UInt32.max << (32 - length) }
    public var mask: UInt32 { IPv4Network.mask(prefixLength) }
    public var broadcast: IPv4Address { IPv4Address(address.value | ~mask) }
    public var size: UInt64 { UInt64(1) << (32 - prefixLength) }
    public var description: String { "\(address)/\(prefixLength)" }

    public func contains(_ ip: IPv4Address) -> Bool { ip.value & mask == address.value }
    public func contains(_ other: IPv4Network) -> Bool { other.prefixLength >= prefixLength && contains(other.address) }
    public func overlaps(_ other: IPv4Network) -> Bool { contains(other.address) || other.contains(address) }

    /// Addresses a host may use: all but the network and broadcast addresses (for /31 and /32, all).
    public var hostRange: ClosedRange<UInt32> {
        prefixLength >= 31 ? address.value...broadcast.value : (address.value + 1)...(broadcast.value - 1)
    }
}

extension IPv4Network: TextCodable {
    public init(parsing text: String) throws(TextCodingError) {
        do { self = try IPv4Network.parse(text) } catch { throw TextCodingError(error.description) }
    }
}

/// A MAC address. Containers get one derived from their IPv4 address (02:42 + the address),
/// or on an IPv6-only network from their IPv6 address's last 32 bits.
public struct MACAddress: Hashable, Sendable, CustomStringConvertible {
    public var bytes: [UInt8]

    public init(bytes: [UInt8]) {
        precondition(bytes.count == 6)
        self.bytes = bytes
    }
    public init(derivedFrom ip: IPv4Address) { self.init(bytes: [0x02, 0x42] + ip.octets) }
    public init(derivedFrom ip: IPv6Address) { self.init(bytes: [0x02, 0x42] + ip.bytes.suffix(4)) }

    /// "02:42:0a:00:00:05" (six hex pairs separated by ':').
    public init?(_ text: String) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        let bytes = parts.compactMap { $0.count <= 2 ? UInt8($0, radix: 16) : nil }
        guard parts.count == 6, bytes.count == 6 else { return nil }
        self.bytes = bytes
    }

    public var description: String { bytes.map { hex2($0) }.joined(separator: ":") }

}

extension MACAddress: TextCodable {
    public init(parsing text: String) throws(TextCodingError) {
        guard let parsed = MACAddress(text) else { throw TextCodingError("invalid MAC address \"\(text)\"") }
        self = parsed
    }
}

/// A value that travels in JSON as its text ("10.0.0.1", "10.0.0.0/24", "02:42:...").
public protocol TextCodable: Codable, CustomStringConvertible {
    init(parsing text: String) throws(TextCodingError)
}

/// Why a text is not a value of the type asked for.
public struct TextCodingError: Error {
    public var message: String
    init(_ message: String) { self.message = message }
}

extension TextCodable {
    public init(from decoder: Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        do { try self.init(parsing: text) } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.message))
        }
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

func hex2(_ byte: UInt8) -> String {
    let digits = Array("0123456789abcdef")
    return String([digits[Int(byte >> 4)], digits[Int(byte & 0xf)]])
}
