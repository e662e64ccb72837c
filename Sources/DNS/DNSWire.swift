/// Byte-level helpers for whole messages: what the server does to a packet it does not parse.
public enum DNSWire {
    /// A FORMERR reply (header only, no question) to a packet whose 12-byte header is readable and whose QR
    /// bit is clear; nil otherwise: garbage, or a response, which must never be answered (two servers
    /// answering each other's answers would loop). Echoes the ID, opcode, RD and CD; sets RA as `response` does.
    public static func formatError(replyingTo bytes: [UInt8]) -> [UInt8]? {
        guard bytes.count >= 12, bytes[2] & Flags.qr == 0 else { return nil }
        var reply = [UInt8](repeating: 0, count: 12)
        reply[0] = bytes[0]
        reply[1] = bytes[1]
        reply[2] = Flags.qr | bytes[2] & (Flags.opcodeMask | Flags.rd)
        reply[3] = Flags.ra | bytes[3] & Flags.cd | DNSResponseCode.formatError.rawValue
        return reply
    }

    /// The same message with another ID (its first two bytes; shorter messages are returned unchanged): the
    /// forwarder asks upstream with a fresh random ID and gives the client its own back.
    public static func replacingID(_ bytes: [UInt8], with id: UInt16) -> [UInt8] {
        guard bytes.count >= 2 else { return bytes }
        var copy = bytes
        copy[0] = UInt8(id >> 8)
        copy[1] = UInt8(id & 0xFF)
        return copy
    }
}

/// Header flag bits, in the third (`qr`...`rd`) and fourth (`ra`...`cd`, rcode) bytes.
enum Flags {
    static let qr: UInt8 = 0x80
    static let opcodeMask: UInt8 = 0x78
    static let aa: UInt8 = 0x04
    static let tc: UInt8 = 0x02
    static let rd: UInt8 = 0x01
    static let ra: UInt8 = 0x80
    static let cd: UInt8 = 0x10
}

/// The fixed 12 bytes every message starts with.
struct Header {
    var id: UInt16
    var flags: (UInt8, UInt8)
    var counts: (question: Int, answer: Int, authority: Int, additional: Int)
}

/// Reads a message front to back; every read is bounds-checked and throws `.truncated` past the end.
struct WireReader {
    let bytes: [UInt8]
    private(set) var offset = 0

    /// Compression pointers one name may follow: a name has at most 127 labels, and a compressor needs one
    /// pointer per label at most. Pointers must also go strictly back, so there is no loop to cut.
    static let maxPointers = 127
    /// The smallest record: a root name (1 byte), type, class, TTL and length (10).
    static let minRecordSize = 11

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var remaining: Int { bytes.count - offset }

    mutating func u8() throws(DNSParseError) -> UInt8 {
        guard offset < bytes.count else { throw .truncated }
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func u16() throws(DNSParseError) -> UInt16 { UInt16(try u8()) << 8 | UInt16(try u8()) }

    mutating func skip(_ count: Int) throws(DNSParseError) {
        guard count <= remaining else { throw .truncated }
        offset += count
    }

    mutating func header() throws(DNSParseError) -> Header {
        guard bytes.count >= 12 else { throw .truncated }
        let id = try u16()
        let flags = (try u8(), try u8())
        let counts = (Int(try u16()), Int(try u16()), Int(try u16()), Int(try u16()))
        return Header(id: id, flags: flags, counts: counts)
    }

    mutating func question() throws(DNSParseError) -> DNSQuestion {
        DNSQuestion(name: try name(), type: DNSType(rawValue: try u16()), qclass: try u16())
    }

    /// One record, its data skipped: what a query's other sections need read (the OPT record's class is the
    /// client's UDP payload size).
    mutating func record() throws(DNSParseError) -> (name: DNSName, type: DNSType, rclass: UInt16) {
        let record = (name: try name(), type: DNSType(rawValue: try u16()), rclass: try u16())
        try skip(4)  // TTL
        try skip(Int(try u16()))
        return record
    }

    /// A name, following compression pointers. Each pointer must land strictly before where the part of the
    /// name that holds it began, so positions only go back: no loop, and at most `maxPointers` of them.
    mutating func name() throws(DNSParseError) -> DNSName {
        var labels: [[UInt8]] = []
        var position = offset
        var segmentStart = offset
        var resume: Int?  // where the message goes on: just after the first pointer
        var length = 1
        var pointers = 0
        while true {
            guard position < bytes.count else { throw .truncated }
            let byte = bytes[position]
            switch byte & 0xC0 {
            case 0x00:
                let count = Int(byte)
                position += 1
                if count == 0 {
                    offset = resume ?? position
                    return DNSName(checked: labels)
                }
                length += 1 + count
                guard length <= 255 else { throw .nameTooLong }
                guard count <= bytes.count - position else { throw .truncated }
                labels.append(Array(bytes[position..<position + count]))
                position += count
            case 0xC0:
                guard position + 1 < bytes.count else { throw .truncated }
                let target = Int(byte & 0x3F) << 8 | Int(bytes[position + 1])
                guard target >= 12, target < segmentStart else { throw .badPointer(target) }
                pointers += 1
                guard pointers <= Self.maxPointers else { throw .tooManyPointers }
                if resume == nil { resume = position + 2 }
                position = target
                segmentStart = target
            default:
                throw .badLabelType(byte)
            }
        }
    }
}

/// Builds a message front to back.
struct WireWriter {
    var bytes: [UInt8] = []

    mutating func u16(_ value: UInt16) { bytes += [UInt8(value >> 8), UInt8(value & 0xFF)] }

    mutating func u32(_ value: UInt32) {
        u16(UInt16(value >> 16))
        u16(UInt16(value & 0xFFFF))
    }

    mutating func set(_ value: UInt16, at offset: Int) {
        bytes[offset] = UInt8(value >> 8)
        bytes[offset + 1] = UInt8(value & 0xFF)
    }

    /// Uncompressed.
    mutating func name(_ name: DNSName) {
        for label in name.wireLabels {
            bytes.append(UInt8(label.count))
            bytes += label
        }
        bytes.append(0)
    }
}
