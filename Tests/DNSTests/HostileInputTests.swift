import Testing

@testable import DNS

/// Packets a container could send to break the server: each is refused with its reason, quickly.
@Suite struct HostileInput {
    let web = wireName("web.mynet")
    let question = wireName("a") + be16(1) + be16(1)  // offsets 12...18: the answers start at 19

    /// A query whose answer section holds `records` (built from offset 19).
    func query(answers records: Int, _ body: [UInt8]) -> [UInt8] { header(an: records) + question + body }

    /// A record of type A, class IN, TTL 0 with this owner name and data.
    func record(_ owner: [UInt8], _ rdata: [UInt8] = []) -> [UInt8] {
        owner + be16(1) + be16(1) + [0, 0, 0, 0] + be16(rdata.count) + rdata
    }

    func pointer(to offset: Int) -> [UInt8] { [0xC0 | UInt8(offset >> 8), UInt8(offset & 0xFF)] }

    @Test func pointerToItself() {
        #expect(throws: DNSParseError.badPointer(12)) { try DNSQuery.parse(header() + [0xC0, 12] + be16(1) + be16(1)) }
        #expect(throws: DNSParseError.badPointer(19)) { try DNSQuery.parse(query(answers: 1, record([0xC0, 19]))) }
        // A label, then back to the start of the same name.
        #expect(throws: DNSParseError.badPointer(19)) {
            try DNSQuery.parse(query(answers: 1, record([1, 0x78, 0xC0, 19])))
        }
    }

    /// Record 1's data (offset 30) points at record 2's name (offset 32), which points back at it: each
    /// pointer alone goes back from where it is, but together they loop.
    @Test func twoPointersToEachOther() {
        let bytes = query(answers: 2, record([0], [0xC0, 32]) + record([0xC0, 30]))
        #expect(bytes[30] == 0xC0 && bytes[32] == 0xC0)
        #expect(throws: DNSParseError.badPointer(32)) { try DNSQuery.parse(bytes) }
    }

    @Test func forwardPointersAndPointersIntoTheHeader() {
        let forward = header() + [0xC0, 18] + be16(1) + be16(1) + wireName("a")
        #expect(throws: DNSParseError.badPointer(18)) { try DNSQuery.parse(forward) }
        #expect(throws: DNSParseError.badPointer(4)) { try DNSQuery.parse(query(answers: 1, record([0xC0, 4]))) }
        #expect(throws: DNSParseError.badPointer(0x3FFF)) {
            try DNSQuery.parse(query(answers: 1, record([0xFF, 0xFF])))
        }
    }

    /// A legal chain of pointers, each back to the one before: 127 are followed, 128 are too many.
    @Test func pointerChains() throws {
        func chain(_ links: Int) -> [UInt8] {
            // Record 1's data, from offset 30: a root name, then `links - 1` pointers (the i-th at 31 + 2i)
            // each to the one before it, the first to the root; record 2's name points to the last.
            var data: [UInt8] = [0]
            for i in 0..<links - 1 { data += pointer(to: i == 0 ? 30 : 31 + 2 * (i - 1)) }
            let last = 31 + 2 * (links - 2)
            return query(answers: 2, record([0], data) + record(pointer(to: last)))
        }
        #expect(throws: Never.self) { try DNSQuery.parse(chain(127)) }
        #expect(throws: DNSParseError.tooManyPointers) { try DNSQuery.parse(chain(128)) }
    }

    @Test func everyTruncationThrows() {
        for full in [digQuery(web), digQuery(web, edns: false), digQuery(wireName(""), type: 2)] {
            #expect(throws: Never.self) { try DNSQuery.parse(full) }
            for end in 0..<full.count {
                #expect(throws: DNSParseError.truncated) { try DNSQuery.parse(Array(full[..<end])) }
            }
        }
    }

    @Test func questionCounts() {
        #expect(throws: DNSParseError.questionCount(0)) { try DNSQuery.parse(header(qd: 0)) }
        #expect(throws: DNSParseError.questionCount(2)) { try DNSQuery.parse(header(qd: 2) + question + question) }
        #expect(throws: DNSParseError.questionCount(65535)) { try DNSQuery.parse(header(qd: 65535)) }
    }

    @Test func responsesAreNotQueries() {
        #expect(throws: DNSParseError.notAQuery) { try DNSQuery.parse(digQuery(web, flags: 0x8180)) }
    }

    @Test func halfAPointerAtTheEnd() {
        #expect(throws: DNSParseError.truncated) { try DNSQuery.parse(header() + [3, 0x77, 0x65, 0x62, 0xC0]) }
        #expect(throws: DNSParseError.truncated) { try DNSQuery.parse(header() + [0xC0]) }
    }

    @Test func reservedLabelTypes() {
        for byte: UInt8 in [0x40, 0x7F, 0x80, 0xBF] {
            #expect(throws: DNSParseError.badLabelType(byte)) {
                try DNSQuery.parse(header() + [byte] + Array(repeating: 0x61, count: 70) + [0] + be16(1) + be16(1))
            }
        }
    }

    @Test func nameLengths() {
        let long = Array(repeating: Array(repeating: UInt8(0x61), count: 59), count: 5)  // 300 bytes + root
        #expect(throws: DNSParseError.nameTooLong) { try DNSQuery.parse(digQuery(wireName(labels: long))) }
        let a = UInt8(ascii: "a")
        let longest = [63, 63, 63, 61].map { Array(repeating: a, count: $0) }
        #expect(wireName(labels: longest).count == 255)
        #expect(throws: Never.self) { try DNSQuery.parse(digQuery(wireName(labels: longest))) }
        let over = [63, 63, 63, 62].map { Array(repeating: a, count: $0) }
        #expect(throws: DNSParseError.nameTooLong) { try DNSQuery.parse(digQuery(wireName(labels: over))) }
        // Compression cannot make a name longer: 200 bytes asked, then 60 more in front of a pointer to it.
        let asked = [63, 63, 63, 7].map { Array(repeating: a, count: $0) }
        let longer =
            header(an: 1) + wireName(labels: asked) + be16(1) + be16(1)
            + record([59] + Array(repeating: a, count: 59) + [0xC0, 12])
        #expect(throws: DNSParseError.nameTooLong) { try DNSQuery.parse(longer) }
    }

    /// Counts the bytes cannot hold fail at once, not after 65535 attempts.
    @Test func countsBeyondTheBytes() {
        for (an, ns, ar) in [(65535, 0, 0), (0, 65535, 0), (0, 0, 65535), (1, 1, 1)] {
            #expect(throws: DNSParseError.truncated) {
                try DNSQuery.parse(header(an: an, ns: ns, ar: ar) + question + [0, 0, 1, 0, 1, 0, 0, 0, 0])
            }
        }
        // A record whose data runs past the end.
        #expect(throws: DNSParseError.truncated) {
            try DNSQuery.parse(Array(query(answers: 1, record([0], [1, 2, 3, 4])).dropLast()))
        }
    }

    @Test func twoOPTRecords() {
        #expect(throws: DNSParseError.multipleOPT) {
            try DNSQuery.parse(header(ar: 2) + web + be16(1) + be16(1) + digOPT + digOPT)
        }
    }

    @Test func trailingBytes() {
        #expect(throws: DNSParseError.trailingBytes(3)) { try DNSQuery.parse(digQuery(web) + [0, 0, 0]) }
    }
}
