/// A record type (RFC 1035 3.2.2 and later RFCs). Open: any 16-bit value passes through.
public struct DNSType: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    public static let a = DNSType(rawValue: 1)
    public static let ns = DNSType(rawValue: 2)
    public static let cname = DNSType(rawValue: 5)
    public static let soa = DNSType(rawValue: 6)
    public static let ptr = DNSType(rawValue: 12)
    public static let mx = DNSType(rawValue: 15)
    public static let txt = DNSType(rawValue: 16)
    public static let aaaa = DNSType(rawValue: 28)
    public static let srv = DNSType(rawValue: 33)
    /// EDNS(0) pseudo-record (RFC 6891).
    public static let opt = DNSType(rawValue: 41)
    public static let any = DNSType(rawValue: 255)
}

/// The 4-bit RCODE of the header (EDNS extended rcodes are not read or written).
public struct DNSResponseCode: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt8
    /// Only the low 4 bits are kept: the header has no room for more.
    public init(rawValue: UInt8) { self.rawValue = rawValue & 0x0F }

    public static let noError = DNSResponseCode(rawValue: 0)
    public static let formatError = DNSResponseCode(rawValue: 1)
    public static let serverFailure = DNSResponseCode(rawValue: 2)
    public static let nameError = DNSResponseCode(rawValue: 3)
    public static let notImplemented = DNSResponseCode(rawValue: 4)
    public static let refused = DNSResponseCode(rawValue: 5)

    private static let names = [
        "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "YXDOMAIN", "YXRRSET", "NXRRSET",
        "NOTAUTH", "NOTZONE",
    ]

    /// The conventional mnemonic (dig's), "RCODE<n>" for unassigned ones: a bounded Prometheus label value.
    public var name: String {
        let code = Int(rawValue & 0x0F)
        return code < Self.names.count ? Self.names[code] : "RCODE\(code)"
    }
}

public struct DNSQuestion: Hashable, Sendable {
    public var name: DNSName
    public var type: DNSType
    /// 1 (IN) in practice; kept as sent so that the reply echoes it.
    public var qclass: UInt16

    public init(name: DNSName, type: DNSType, qclass: UInt16 = 1) {
        self.name = name
        self.type = type
        self.qclass = qclass
    }
}

/// An answer the server gives itself (class IN): only what it is authoritative for, container names.
public struct DNSRecord: Hashable, Sendable {
    public var name: DNSName
    public var ttl: UInt32
    public var data: Data

    public enum Data: Hashable, Sendable {
        /// An IPv4 address, octets in address order.
        case a(UInt8, UInt8, UInt8, UInt8)
        /// An IPv6 address: its 16 bytes in address order.
        case aaaa([UInt8])
        case ptr(DNSName)
    }

    public init(name: DNSName, ttl: UInt32, data: Data) {
        self.name = name
        self.ttl = ttl
        self.data = data
    }

    public var type: DNSType {
        switch data {
        case .a: .a
        case .aaaa: .aaaa
        case .ptr: .ptr
        }
    }
}

/// Why a message was refused. Each is the sender's fault: the server answers FORMERR to a query (see
/// `DNSWire.formatError`) and drops a reply.
public enum DNSParseError: Error, Hashable, Sendable {
    /// The message ends inside its header, a name or a record it announced.
    case truncated
    /// QR is set where a query was expected (answering a response could loop two servers).
    case notAQuery
    /// QR is clear where a reply was expected.
    case notAResponse
    /// A query must ask exactly one question (RFC 9619); the count it had.
    case questionCount(Int)
    /// A label length byte of a reserved type (0x40 or 0x80 in its top bits).
    case badLabelType(UInt8)
    /// A name over 255 bytes, uncompressed.
    case nameTooLong
    /// A compression pointer that does not point strictly back, before the part of the name that leads to
    /// it (a loop or a forward pointer), or points into the header; its target.
    case badPointer(Int)
    /// More compression pointers in one name than a name has labels.
    case tooManyPointers
    /// More than one OPT record (RFC 6891 6.1.1 asks for FORMERR).
    case multipleOPT
    /// Bytes after the last record the header counts; how many.
    case trailingBytes(Int)
}
