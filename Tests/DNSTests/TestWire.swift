// Test-only encoding and decoding of DNS messages, written apart from the codec so that the tests check
// its bytes against RFC 1035 rather than against itself.

struct TestWireError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

func be16(_ value: Int) -> [UInt8] { [UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)] }

func wireName(labels: [[UInt8]]) -> [UInt8] { labels.flatMap { [UInt8($0.count)] + $0 } + [0] }

/// "a.b" written uncompressed ("" is the root).
func wireName(_ text: String) -> [UInt8] {
    wireName(labels: text.split(separator: ".").map { Array($0.utf8) })
}

func header(id: UInt16 = 0xBEEF, flags: UInt16 = 0x0120, qd: Int = 1, an: Int = 0, ns: Int = 0, ar: Int = 0) -> [UInt8]
{
    be16(Int(id)) + be16(Int(flags)) + be16(qd) + be16(an) + be16(ns) + be16(ar)
}

/// dig's OPT record: payload 1232, version 0, and an 8-byte client COOKIE option (RFC 7873).
let digOPT: [UInt8] =
    [0, 0x00, 0x29, 0x04, 0xD0, 0, 0, 0, 0, 0x00, 0x0C, 0x00, 0x0A, 0x00, 0x08] + [1, 2, 3, 4, 5, 6, 7, 8]

/// A query as dig 9.18 sends it: RD and AD set (flags 0x0120), one question of class IN, and by default
/// an OPT record with a cookie.
func digQuery(
    _ name: [UInt8], type: UInt16 = 1, id: UInt16 = 0xBEEF, flags: UInt16 = 0x0120, edns: Bool = true
)
    -> [UInt8]
{
    header(id: id, flags: flags, ar: edns ? 1 : 0) + name + be16(Int(type)) + be16(1) + (edns ? digOPT : [])
}

/// A message read field by field; every byte must be accounted for.
struct Decoded {
    struct Record {
        /// The owner name's bytes as written at the record (a pointer stays a pointer).
        var ownerBytes: [UInt8]
        var owner: [[UInt8]]
        var type: UInt16
        var rclass: UInt16
        var ttl: UInt32
        var rdata: [UInt8]
        var rdataOffset: Int
    }

    var id: UInt16
    var flags: UInt16
    var counts: [Int]
    var questionBytes: [UInt8]
    var questionName: [[UInt8]]
    var qtype: UInt16
    var qclass: UInt16
    var answers: [Record] = []
    var authorities: [Record] = []
    var additionals: [Record] = []

    var qr: Bool { flags & 0x8000 != 0 }
    var opcode: Int { Int(flags >> 11 & 0xF) }
    var aa: Bool { flags & 0x0400 != 0 }
    var tc: Bool { flags & 0x0200 != 0 }
    var rd: Bool { flags & 0x0100 != 0 }
    var ra: Bool { flags & 0x0080 != 0 }
    var z: Bool { flags & 0x0040 != 0 }
    var ad: Bool { flags & 0x0020 != 0 }
    var cd: Bool { flags & 0x0010 != 0 }
    var rcode: Int { Int(flags & 0xF) }

    private let bytes: [UInt8]
    private var offset = 0

    init(_ bytes: [UInt8]) throws {
        self.bytes = bytes
        id = 0
        flags = 0
        counts = []
        questionBytes = []
        questionName = []
        qtype = 0
        qclass = 0
        id = UInt16(try u16())
        flags = UInt16(try u16())
        counts = [try u16(), try u16(), try u16(), try u16()]
        guard counts[0] == 1 else { throw TestWireError("\(counts[0]) questions") }
        let start = offset
        questionName = try name()
        questionBytes = Array(bytes[start..<offset])
        qtype = UInt16(try u16())
        qclass = UInt16(try u16())
        for _ in 0..<counts[1] { answers.append(try record()) }
        for _ in 0..<counts[2] { authorities.append(try record()) }
        for _ in 0..<counts[3] { additionals.append(try record()) }
        guard offset == bytes.count else { throw TestWireError("\(bytes.count - offset) bytes left over") }
    }

    private mutating func u16() throws -> Int {
        guard offset + 2 <= bytes.count else { throw TestWireError("short at \(offset)") }
        defer { offset += 2 }
        return Int(bytes[offset]) << 8 | Int(bytes[offset + 1])
    }

    private mutating func record() throws -> Record {
        let start = offset
        let owner = try name()
        let ownerBytes = Array(bytes[start..<offset])
        let type = UInt16(try u16())
        let rclass = UInt16(try u16())
        let ttl = UInt32(try u16()) << 16 | UInt32(try u16())
        let length = try u16()
        guard offset + length <= bytes.count else { throw TestWireError("rdata past the end") }
        defer { offset += length }
        return Record(
            ownerBytes: ownerBytes, owner: owner, type: type, rclass: rclass, ttl: ttl,
            rdata: Array(bytes[offset..<offset + length]), rdataOffset: offset)
    }

    /// A name at the current offset, following (backward) pointers.
    private mutating func name() throws -> [[UInt8]] {
        let (labels, end) = try Decoded.name(in: bytes, at: offset)
        offset = end
        return labels
    }

    /// A name at `start`, and the offset just past it there.
    static func name(in bytes: [UInt8], at start: Int) throws -> ([[UInt8]], Int) {
        var labels: [[UInt8]] = []
        var position = start
        var end: Int?
        for _ in 0..<200 {
            guard position < bytes.count else { throw TestWireError("name past the end") }
            let length = Int(bytes[position])
            if length == 0 { return (labels, end ?? position + 1) }
            if length >= 0xC0 {
                guard position + 1 < bytes.count else { throw TestWireError("half a pointer") }
                let target = (length & 0x3F) << 8 | Int(bytes[position + 1])
                guard target < position else { throw TestWireError("forward pointer") }
                if end == nil { end = position + 2 }
                position = target
                continue
            }
            guard length <= 63, position + 1 + length <= bytes.count else { throw TestWireError("bad label") }
            labels.append(Array(bytes[position + 1..<position + 1 + length]))
            position += 1 + length
        }
        throw TestWireError("name too long")
    }
}
