import Testing

@testable import DNS

/// Queries as clients send them, answered and read back field by field.
@Suite struct RoundTrips {
    let web = wireName("web.mynet")

    @Test func digQueryWithCookie() throws {
        let query = try DNSQuery.parse(digQuery(web))
        #expect(query.id == 0xBEEF && query.opcode == 0)
        #expect(query.recursionDesired && !query.checkingDisabled)
        #expect(query.question == DNSQuestion(name: try #require(DNSName("web.mynet")), type: .a, qclass: 1))
        #expect(query.ednsPayloadSize == 1232 && query.udpLimit() == 1232)
        let plain = try DNSQuery.parse(digQuery(web, edns: false))
        #expect(plain.ednsPayloadSize == nil && plain.udpLimit() == 512)
    }

    @Test func aAnswers() throws {
        let bytes = digQuery(web)
        let query = try DNSQuery.parse(bytes)
        let answers = [
            DNSRecord(name: query.question.name, ttl: 600, data: .a(172, 18, 0, 2)),
            DNSRecord(name: query.question.name, ttl: 0xFFFF_FFFE, data: .a(10, 0, 0, 255)),
        ]
        let response = query.response(code: .noError, answers: answers, authoritative: true, limit: query.udpLimit())
        // Header, the question as asked, two 16-byte answers behind pointers, an 11-byte OPT.
        #expect(response.count == 12 + web.count + 4 + 2 * 16 + 11)
        let decoded = try Decoded(response)
        #expect(decoded.id == 0xBEEF && decoded.qr && decoded.opcode == 0 && decoded.aa && !decoded.tc)
        #expect(decoded.rd && decoded.ra && !decoded.z && !decoded.ad && !decoded.cd && decoded.rcode == 0)
        #expect(decoded.counts == [1, 2, 0, 1])
        #expect(Array(response[12..<12 + web.count + 4]) == Array(bytes[12..<12 + web.count + 4]))
        #expect(decoded.qtype == 1 && decoded.qclass == 1)
        let expectations: [([UInt8], UInt32)] = [([172, 18, 0, 2], 600), ([10, 0, 0, 255], 0xFFFF_FFFE)]
        for (record, expected) in zip(decoded.answers, expectations) {
            #expect(record.ownerBytes == [0xC0, 0x0C], "a pointer to the question's name")
            #expect(record.owner == [Array("web".utf8), Array("mynet".utf8)])
            #expect(record.type == 1 && record.rclass == 1 && record.ttl == expected.1)
            #expect(record.rdata == expected.0)
        }
        let opt = try #require(decoded.additionals.first)
        #expect(opt.ownerBytes == [0] && opt.type == 41 && opt.rclass == 4096 && opt.ttl == 0 && opt.rdata.isEmpty)
    }

    @Test func ptrAnswer() throws {
        let reverse = wireName("4.0.18.172.in-addr.arpa")
        let query = try DNSQuery.parse(digQuery(reverse, type: 12, id: 7, edns: false))
        #expect(query.question.type == .ptr)
        let address = try #require(query.question.name.reversedIPv4)
        #expect(address == (172, 18, 0, 4))
        let target = try #require(DNSName("web.mynet"))
        let response = query.response(
            code: .noError, answers: [DNSRecord(name: query.question.name, ttl: 600, data: .ptr(target))],
            authoritative: true, limit: query.udpLimit())
        let decoded = try Decoded(response)
        #expect(decoded.id == 7 && decoded.qr && decoded.aa && decoded.rd && decoded.ra && !decoded.tc)
        #expect(decoded.rcode == 0 && decoded.counts == [1, 1, 0, 0])
        #expect(decoded.questionBytes == reverse && decoded.qtype == 12)
        let record = try #require(decoded.answers.first)
        #expect(record.ownerBytes == [0xC0, 0x0C] && record.type == 12 && record.rclass == 1 && record.ttl == 600)
        #expect(record.rdata == web, "the target, uncompressed")
        let (labels, end) = try Decoded.name(in: response, at: record.rdataOffset)
        #expect(labels.count == 2 && end == response.count)
    }

    @Test func nxdomain() throws {
        let query = try DNSQuery.parse(digQuery(wireName("nope.mynet")))
        let decoded = try Decoded(query.response(code: .nameError, authoritative: true, limit: query.udpLimit()))
        #expect(decoded.qr && decoded.aa && decoded.rd && decoded.ra && !decoded.tc && decoded.rcode == 3)
        #expect(decoded.counts == [1, 0, 0, 1] && decoded.questionBytes == wireName("nope.mynet"))
        #expect(decoded.additionals.first?.type == 41)
    }

    @Test func servfail() throws {
        let query = try DNSQuery.parse(digQuery(wireName("example.com"), type: 28, edns: false))
        let response = query.response(code: .serverFailure, authoritative: false, limit: query.udpLimit())
        let decoded = try Decoded(response)
        #expect(decoded.qr && !decoded.aa && decoded.ra && decoded.rcode == 2 && decoded.counts == [1, 0, 0, 0])
        #expect(decoded.qtype == 28)
        let summary = try DNSReplySummary.parse(response)
        #expect(summary.id == 0xBEEF && summary.code == .serverFailure && !summary.truncated)
        #expect(summary.question == query.question)
        let refused = query.response(code: .refused, authoritative: false, recursionAvailable: false, limit: 512)
        #expect(try !Decoded(refused).ra && Decoded(refused).rcode == 5)
    }

    /// Opcode, RD clear and CD are echoed as sent; AD is not (the server validates nothing).
    @Test func headerBitsEchoed() throws {
        // Opcode 2 (STATUS), RD clear, AD and CD set.
        let query = try DNSQuery.parse(digQuery(web, flags: 0x1030))
        #expect(query.opcode == 2 && !query.recursionDesired && query.checkingDisabled)
        let decoded = try Decoded(query.response(code: .notImplemented, authoritative: false, limit: 512))
        #expect(decoded.opcode == 2 && !decoded.rd && decoded.cd && !decoded.ad && decoded.rcode == 4)
    }

    /// DNS 0x20: the question comes back with the case it was asked in, and an owner name written
    /// otherwise is not compressed.
    @Test func caseIsKept() throws {
        let mixed = wireName("WeB.mYnEt")
        let query = try DNSQuery.parse(digQuery(mixed))
        #expect(query.question.name.key == "web.mynet")
        let lower = try #require(DNSName("web.mynet"))
        let decoded = try Decoded(
            query.response(
                code: .noError, answers: [DNSRecord(name: lower, ttl: 1, data: .a(1, 2, 3, 4))], authoritative: true,
                limit: 512))
        #expect(decoded.questionBytes == mixed)
        #expect(decoded.answers.first?.ownerBytes == web)
    }

    @Test func bytesThatAreNotUTF8AreEchoed() throws {
        let odd = wireName(labels: [[0xFF, 0x41, 0x2E], Array("mynet".utf8)])
        let query = try DNSQuery.parse(digQuery(odd))
        #expect(try Decoded(query.response(code: .nameError, authoritative: true, limit: 512)).questionBytes == odd)
    }

    /// Known answers (RFC 1035 allows them in a query) and authority records are read past.
    @Test func otherSectionsAreSkipped() throws {
        let answer = [0xC0, 0x0C] + be16(1) + be16(1) + [0, 0, 0, 60] + be16(4) + [1, 2, 3, 4]
        let authority = wireName("mynet") + be16(2) + be16(1) + [0, 0, 0, 60] + be16(4) + [0xC0, 0x0C, 0, 0]
        let other = wireName("x") + be16(41) + be16(999) + [0, 0, 0, 0] + be16(0)  // not root: not the OPT
        let bytes = header(an: 1, ns: 1, ar: 2) + web + be16(1) + be16(1) + answer + authority + other + digOPT
        let query = try DNSQuery.parse(bytes)
        #expect(query.ednsPayloadSize == 1232 && query.question.name.key == "web.mynet")
    }

    @Test func udpLimits() throws {
        var query = try DNSQuery.parse(digQuery(web))
        for (size, limit) in [(nil, 512), (0, 512), (100, 512), (512, 512), (1232, 1232), (4096, 4096), (65535, 4096)] {
            query.ednsPayloadSize = size.map(UInt16.init)
            #expect(query.udpLimit() == limit)
        }
    }

    @Test func responseCodeNames() {
        let names = [
            "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "YXDOMAIN", "YXRRSET", "NXRRSET",
            "NOTAUTH", "NOTZONE", "RCODE11", "RCODE12", "RCODE13", "RCODE14", "RCODE15",
        ]
        #expect((0...15).map { DNSResponseCode(rawValue: UInt8($0)).name } == names)
        #expect(DNSResponseCode.nameError.name == "NXDOMAIN" && DNSResponseCode.refused.rawValue == 5)
        #expect(DNSResponseCode(rawValue: 0x13) == DNSResponseCode(rawValue: 3), "4 bits")
    }

    @Test func formatErrors() throws {
        let query = digQuery(web, flags: 0x1130)  // opcode 2, RD, AD, CD
        let reply = try #require(DNSWire.formatError(replyingTo: query))
        #expect(reply.count == 12)
        let summary = try DNSReplySummary.parse(reply)
        #expect(summary.id == 0xBEEF && summary.code == .formatError && summary.question == nil && !summary.truncated)
        #expect(reply[2] == 0x80 | 0x10 | 0x01, "QR, opcode 2, RD")
        #expect(reply[3] == 0x80 | 0x10 | 0x01, "RA, CD, FORMERR")
        #expect(Array(reply[4...]) == [0, 0, 0, 0, 0, 0, 0, 0])
        // Even a header alone with QR clear gets one; a response or less than a header gets none.
        #expect(DNSWire.formatError(replyingTo: Array(query[..<12])) != nil)
        #expect(DNSWire.formatError(replyingTo: Array(query[..<11])) == nil)
        #expect(DNSWire.formatError(replyingTo: reply) == nil)
        let response = try DNSQuery.parse(query).response(code: .noError, authoritative: true, limit: 512)
        #expect(DNSWire.formatError(replyingTo: response) == nil)
    }

    @Test func idsAreReplaced() {
        let query = digQuery(web)
        let forwarded = DNSWire.replacingID(query, with: 0x0102)
        #expect(forwarded[0] == 1 && forwarded[1] == 2 && forwarded[2...] == query[2...])
        #expect(DNSWire.replacingID(forwarded, with: 0xBEEF) == query)
        #expect(DNSWire.replacingID([7], with: 1) == [7] && DNSWire.replacingID([], with: 1) == [])
    }

    @Test func replySummaries() throws {
        let query = try DNSQuery.parse(digQuery(web))
        #expect(throws: DNSParseError.notAResponse) { try DNSReplySummary.parse(digQuery(web)) }
        let many = Array(repeating: DNSRecord(name: query.question.name, ttl: 1, data: .a(1, 1, 1, 1)), count: 100)
        let response = query.response(code: .noError, answers: many, authoritative: true, limit: 512)
        let summary = try DNSReplySummary.parse(response)
        #expect(summary == DNSReplySummary(id: 0xBEEF, code: .noError, truncated: true, question: query.question))
        // Only the header and the question are read: cutting the rest still summarizes.
        let questionEnd = 12 + web.count + 4
        #expect(try DNSReplySummary.parse(Array(response[..<questionEnd])).question == query.question)
        for end in 0..<questionEnd {
            #expect(throws: DNSParseError.truncated) { try DNSReplySummary.parse(Array(response[..<end])) }
        }
    }
}

/// What does not fit a UDP reply is left out whole, and TC tells the client to ask over TCP.
@Suite struct Truncation {
    func answers(_ query: DNSQuery, _ count: Int) -> [DNSRecord] {
        (0..<count).map {
            DNSRecord(name: query.question.name, ttl: 60, data: .a(10, 0, UInt8($0 / 256), UInt8($0 % 256)))
        }
    }

    @Test func plainUDPKeepsWholeRecordsUnder512() throws {
        let name = wireName("web.mynet")
        let query = try DNSQuery.parse(digQuery(name, edns: false))
        let response = query.response(code: .noError, answers: answers(query, 40), authoritative: true, limit: 512)
        let fit = (512 - 12 - name.count - 4) / 16  // 30
        #expect(response.count == 12 + name.count + 4 + fit * 16 && response.count <= 512)
        let decoded = try Decoded(response)
        #expect(decoded.tc && decoded.counts == [1, fit, 0, 0])
        #expect(
            decoded.answers.enumerated().allSatisfy { $1.rdata == [10, 0, 0, UInt8($0)] }, "the first ones, in order")
        // One fewer than fits: no TC.
        let exact = try Decoded(
            query.response(code: .noError, answers: answers(query, fit), authoritative: true, limit: 512))
        #expect(!exact.tc && exact.answers.count == fit)
    }

    @Test func ednsRoomAndTheOPTRecord() throws {
        let query = try DNSQuery.parse(digQuery(wireName("web.mynet")))
        // 1232 bytes: the OPT record's 11 are kept free.
        let response = query.response(
            code: .noError, answers: answers(query, 100), authoritative: true, limit: query.udpLimit())
        let decoded = try Decoded(response)
        #expect(decoded.tc && response.count <= 1232 && response.count > 1232 - 16)
        #expect(decoded.counts == [1, (1232 - 11 - 31) / 16, 0, 1] && decoded.additionals.first?.type == 41)

        var large = query
        large.ednsPayloadSize = 4096
        let all = try Decoded(
            large.response(code: .noError, answers: answers(query, 40), authoritative: true, limit: large.udpLimit()))
        #expect(!all.tc && all.answers.count == 40)
        // TCP: 65535 holds thousands.
        let tcp = query.response(code: .noError, answers: answers(query, 5000), authoritative: true, limit: 65535)
        #expect(try Decoded(tcp).answers.count == (65535 - 11 - 31) / 16 && tcp.count <= 65535)
    }

    @Test func limitsBelow512AreRaised() throws {
        let query = try DNSQuery.parse(digQuery(wireName("web.mynet"), edns: false))
        let response = query.response(code: .noError, answers: answers(query, 40), authoritative: true, limit: 0)
        #expect(response.count <= 512 && response.count > 512 - 16)
    }
}
