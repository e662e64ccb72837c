/// A query a client sent: what the server needs to answer or forward it.
public struct DNSQuery: Hashable, Sendable {
    public var id: UInt16
    public var opcode: UInt8
    public var recursionDesired: Bool
    public var checkingDisabled: Bool
    public var question: DNSQuestion
    /// The client's EDNS(0) UDP payload size when the query carries an OPT record in its additional section
    /// (nil: no EDNS).
    public var ednsPayloadSize: UInt16?

    public init(
        id: UInt16, opcode: UInt8 = 0, recursionDesired: Bool = true, checkingDisabled: Bool = false,
        question: DNSQuestion, ednsPayloadSize: UInt16? = nil
    ) {
        self.id = id
        self.opcode = opcode
        self.recursionDesired = recursionDesired
        self.checkingDisabled = checkingDisabled
        self.question = question
        self.ednsPayloadSize = ednsPayloadSize
    }

    /// Reads a query from a client, which may be hostile: bounded work, every length checked. Exactly one
    /// question; the answer and authority sections are read past, and the additional one is searched for
    /// the OPT record. Nothing may follow the last record.
    public static func parse(_ bytes: [UInt8]) throws(DNSParseError) -> DNSQuery {
        var reader = WireReader(bytes)
        let header = try reader.header()
        guard header.flags.0 & Flags.qr == 0 else { throw .notAQuery }
        guard header.counts.question == 1 else { throw .questionCount(header.counts.question) }
        let question = try reader.question()
        let counts = header.counts
        // Each record takes 11 bytes at least: counts the bytes cannot hold are refused before any work.
        guard (counts.answer + counts.authority + counts.additional) * WireReader.minRecordSize <= reader.remaining
        else { throw .truncated }
        for _ in 0..<counts.answer + counts.authority { _ = try reader.record() }
        var ednsPayloadSize: UInt16?
        for _ in 0..<counts.additional {
            let record = try reader.record()
            guard record.type == .opt, record.name.isRoot else { continue }
            guard ednsPayloadSize == nil else { throw .multipleOPT }
            ednsPayloadSize = record.rclass
        }
        guard reader.remaining == 0 else { throw .trailingBytes(reader.remaining) }
        return DNSQuery(
            id: header.id, opcode: (header.flags.0 & Flags.opcodeMask) >> 3,
            recursionDesired: header.flags.0 & Flags.rd != 0, checkingDisabled: header.flags.1 & Flags.cd != 0,
            question: question, ednsPayloadSize: ednsPayloadSize)
    }

    /// The most a UDP reply may carry: 512 without EDNS, else the client's size within 512...4096 (sizes
    /// over 4096 risk IP fragmentation; under 512 is below what every client takes).
    public func udpLimit() -> Int {
        guard let size = ednsPayloadSize else { return 512 }
        return min(max(Int(size), 512), 4096)
    }
}
