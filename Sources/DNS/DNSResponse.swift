extension DNSQuery {
    /// The reply to this query: `limit` is `udpLimit()` over UDP, 65535 over TCP (values outside 512...65535
    /// are taken as the nearest of the two).
    ///
    /// Echoes the ID, opcode, RD, CD and the question as written; sets QR, AA and RA as told. Answers go in
    /// order while whole ones fit under `limit`; from the first that does not, the rest are left out and TC
    /// is set (the client retries over TCP). A query with an OPT record gets one back (payload 4096, no
    /// options). Answer owner names equal to the question's are a pointer to it (offset 12); other names
    /// are written uncompressed, which is simple and always correct.
    public func response(
        code: DNSResponseCode, answers: [DNSRecord] = [], authoritative: Bool, recursionAvailable: Bool = true,
        limit: Int
    ) -> [UInt8] {
        let limit = min(max(limit, 512), 65535)
        let optSize = ednsPayloadSize == nil ? 0 : WireReader.minRecordSize
        var writer = WireWriter()
        writer.u16(id)
        writer.bytes.append(
            Flags.qr | (opcode << 3) & Flags.opcodeMask | (authoritative ? Flags.aa : 0)
                | (recursionDesired ? Flags.rd : 0))
        writer.bytes.append(
            (recursionAvailable ? Flags.ra : 0) | (checkingDisabled ? Flags.cd : 0) | code.rawValue & 0x0F)
        writer.u16(1)
        writer.u16(0)  // answers, set below
        writer.u16(0)
        writer.u16(ednsPayloadSize == nil ? 0 : 1)
        writer.name(question.name)
        writer.u16(question.type.rawValue)
        writer.u16(question.qclass)

        var written = 0
        for answer in answers {
            let start = writer.bytes.count
            write(answer, to: &writer)
            guard writer.bytes.count + optSize <= limit else {
                writer.bytes.removeSubrange(start...)
                writer.bytes[2] |= Flags.tc
                break
            }
            written += 1
        }
        writer.set(UInt16(written), at: 6)  // a record takes 13 bytes at least: never more than 65535

        if ednsPayloadSize != nil {
            writer.bytes.append(0)  // root
            writer.u16(DNSType.opt.rawValue)
            writer.u16(4096)
            writer.u32(0)  // extended rcode, version 0, no DO
            writer.u16(0)
        }
        return writer.bytes
    }

    private func write(_ record: DNSRecord, to writer: inout WireWriter) {
        if record.name == question.name {
            writer.u16(0xC00C)
        } else {
            writer.name(record.name)
        }
        writer.u16(record.type.rawValue)
        writer.u16(1)  // IN
        writer.u32(record.ttl)
        switch record.data {
        case .a(let a, let b, let c, let d):
            writer.u16(4)
            writer.bytes += [a, b, c, d]
        case .aaaa(let bytes):
            writer.u16(16)
            writer.bytes += bytes
        case .ptr(let target):
            writer.u16(UInt16(target.wireLength))
            writer.name(target)
        }
    }
}

/// What the server needs from an upstream's reply to relay it: header fields and the first question (to
/// check that the reply answers what was asked). The rest is relayed as it came, unread.
public struct DNSReplySummary: Hashable, Sendable {
    public var id: UInt16
    public var code: DNSResponseCode
    public var truncated: Bool
    /// nil when the reply has none (a FORMERR or NOTIMP reply may not echo it).
    public var question: DNSQuestion?

    /// QR must be set. Only the header and the first question are read.
    public static func parse(_ bytes: [UInt8]) throws(DNSParseError) -> DNSReplySummary {
        var reader = WireReader(bytes)
        let header = try reader.header()
        guard header.flags.0 & Flags.qr != 0 else { throw .notAResponse }
        return DNSReplySummary(
            id: header.id, code: DNSResponseCode(rawValue: header.flags.1), truncated: header.flags.0 & Flags.tc != 0,
            question: header.counts.question == 0 ? nil : try reader.question())
    }
}
