/// A domain name, as the labels it has on the wire.
///
/// Labels are kept as their exact bytes so that a name read from a query is written back byte for byte
/// (DNS 0x20 resolvers check the case of the echoed question; a name with bytes that are not UTF-8 must
/// echo too). `==` compares names as written; `key` and `hasSuffix` compare them the DNS way, ignoring
/// ASCII case (RFC 4343).
public struct DNSName: Hashable, Sendable, CustomStringConvertible {
    /// Each label's bytes, root excluded.
    let wireLabels: [[UInt8]]

    /// The root name (no labels).
    public static let root = DNSName(checked: [])

    init(checked labels: [[UInt8]]) { wireLabels = labels }

    /// nil when a label is empty or longer than 63 bytes, or the wire form would exceed 255 bytes.
    init?(bytes labels: [[UInt8]]) {
        guard labels.allSatisfy({ (1...63).contains($0.count) }),
            labels.reduce(1, { $0 + 1 + $1.count }) <= 255
        else { return nil }
        wireLabels = labels
    }

    /// "a.b.c" or "a.b.c." ("" and "." are the root). No escapes: a dot always separates labels.
    public init?(_ text: String) {
        guard text != "." else {
            self = .root
            return
        }
        var labels = text.utf8.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false).map(Array.init)
        if labels.last?.isEmpty == true { labels.removeLast() }  // the trailing dot, or ""
        self.init(bytes: labels)
    }

    public init?(labels: [String]) { self.init(bytes: labels.map { Array($0.utf8) }) }

    /// The labels as text, case kept (bytes that are not UTF-8 read as U+FFFD).
    public var labels: [String] { wireLabels.map { String(decoding: $0, as: UTF8.self) } }

    public var isRoot: Bool { wireLabels.isEmpty }

    /// Bytes on the wire, uncompressed: each label's length and bytes, then the root's zero.
    var wireLength: Int { wireLabels.reduce(1) { $0 + 1 + $1.count } }

    /// What lookups compare: ASCII-lowercased, dot-joined, no trailing dot ("Web.MyNet." -> "web.mynet").
    /// A dot or backslash inside a label (possible on the wire) is escaped, so that the one label "a.b" is not
    /// the name a.b. Bytes that are not UTF-8 read as U+FFFD, which no container name has.
    public var key: String { text(lowercased: true) }

    /// "a.b.c." (the root is "."), escaped as `key` is.
    public var description: String { isRoot ? "." : text(lowercased: false) + "." }

    private func text(lowercased: Bool) -> String {
        var out: [UInt8] = []
        for (i, label) in wireLabels.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ".")) }
            for byte in label {
                if byte == UInt8(ascii: ".") || byte == UInt8(ascii: "\\") { out.append(UInt8(ascii: "\\")) }
                out.append(lowercased ? asciiLowercased(byte) : byte)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The name without its last `n` labels (the root when `n` is the label count or more): "web" of "web.mynet".
    public func dropLast(_ n: Int) -> DNSName { DNSName(checked: Array(wireLabels.dropLast(max(n, 0)))) }

    /// Whether the last labels are `other`'s, ignoring ASCII case: "web.MyNet" has the suffix "mynet".
    public func hasSuffix(_ other: DNSName) -> Bool {
        guard other.wireLabels.count <= wireLabels.count else { return false }
        return zip(wireLabels.suffix(other.wireLabels.count), other.wireLabels).allSatisfy(labelsMatch)
    }

    private static let inAddrArpa: [[UInt8]] = [Array("in-addr".utf8), Array("arpa".utf8)]
    private static let ip6Arpa: [[UInt8]] = [Array("ip6".utf8), Array("arpa".utf8)]

    /// The PTR name of an IPv4 address, octets in address order: (1, 2, 3, 4) gives "4.3.2.1.in-addr.arpa.".
    public static func reverse(ipv4 octets: (UInt8, UInt8, UInt8, UInt8)) -> DNSName {
        let (a, b, c, d) = octets
        return DNSName(checked: [d, c, b, a].map { Array(String($0).utf8) } + inAddrArpa)
    }

    /// The address (in address order) a reverse name stands for: exactly four decimal labels 0...255 then
    /// in-addr.arpa, ignoring case. Only the form `reverse(ipv4:)` writes counts: a leading zero ("01") or
    /// sign makes it another name, which no address has (so that one address has exactly one PTR name).
    public var reversedIPv4: (UInt8, UInt8, UInt8, UInt8)? {
        guard wireLabels.count == 6, zip(wireLabels[4...], Self.inAddrArpa).allSatisfy(labelsMatch) else {
            return nil
        }
        var octets: [UInt8] = []
        for label in wireLabels[..<4] {
            guard (1...3).contains(label.count), label.allSatisfy({ (48...57).contains($0) }),
                label.count == 1 || label[0] != UInt8(ascii: "0")
            else { return nil }
            let value = label.reduce(0) { $0 * 10 + Int($1 - 48) }
            guard value <= 255 else { return nil }
            octets.append(UInt8(value))
        }
        return (octets[3], octets[2], octets[1], octets[0])
    }

    /// The 16 bytes of an IPv6 address this PTR name asks about: 32 hex nibbles, last
    /// first, then ip6.arpa (RFC 3596); nil for any other name.
    public var reversedIPv6: [UInt8]? {
        guard wireLabels.count == 34, zip(wireLabels[32...], Self.ip6Arpa).allSatisfy(labelsMatch) else {
            return nil
        }
        var nibbles: [UInt8] = []
        for label in wireLabels[..<32].reversed() {
            guard label.count == 1, let value = UInt8(String(decoding: label, as: UTF8.self), radix: 16) else {
                return nil
            }
            nibbles.append(value)
        }
        return stride(from: 0, to: 32, by: 2).map { nibbles[$0] << 4 | nibbles[$0 + 1] }
    }
}

private func asciiLowercased(_ byte: UInt8) -> UInt8 {
    (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) ? byte | 0x20 : byte
}

/// Labels equal ignoring ASCII case only: DNS compares other bytes exactly (RFC 4343).
private func labelsMatch(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    a.count == b.count && zip(a, b).allSatisfy { asciiLowercased($0) == asciiLowercased($1) }
}
