import Model
import PropertyBased
import Testing

@testable import DNS

// Property tests: thousands of generated packets and names per property. Hostile bytes are parsed or
// refused (never a crash or a hang), and whatever parses is answered within the client's limit.

private let byte = Gen<UInt8>.value(in: 0...255)

/// Bytes that steer a parser into its branches: label lengths, pointers, the reserved types, OPT's type.
private let wireByte = Gen<UInt8?>.element(of: [0, 1, 2, 3, 12, 13, 19, 41, 63, 64, 0x80, 0xC0, 0xC1, 0xFF, 0x61])
    .compactMap { $0 }

private func strings(
    of alphabet: String, length: ClosedRange<Int>
) -> Generator<
    String, some Sequence & SendableMetatype
> {
    Gen<Character?>.element(of: Array(alphabet)).compactMap { $0 }.string(of: length)
}

private let web = wireName("web.mynet")

/// Valid queries to mutate: dig's with a cookie, without EDNS, a PTR one, and one with a known answer.
private let validQueries: [[UInt8]] = [
    digQuery(web), digQuery(web, edns: false), digQuery(wireName("4.0.18.172.in-addr.arpa"), type: 12),
    header(an: 1, ar: 1) + web + be16(1) + be16(1) + [0xC0, 12] + be16(1) + be16(1) + [0, 0, 0, 9] + be16(4)
        + [1, 2, 3, 4] + digOPT,
]

private let codes: [DNSResponseCode] = [.noError, .nameError, .serverFailure, .refused, .formatError]

/// Whatever parses gets a reply that fits and reads back: same ID, code and question; TC exactly when
/// answers were left out.
private func checkAnswered(_ query: DNSQuery, answers count: Int, code: DNSResponseCode, tcp: Bool) throws {
    let answers = (0..<count).map { i in
        i % 3 == 2
            ? DNSRecord(name: query.question.name, ttl: 5, data: .ptr(query.question.name))
            : DNSRecord(name: query.question.name, ttl: 5, data: .a(10, 0, 0, UInt8(truncatingIfNeeded: i)))
    }
    let limit = tcp ? 65535 : query.udpLimit()
    let response = query.response(code: code, answers: answers, authoritative: true, limit: limit)
    #expect(response.count <= limit)
    let summary = try DNSReplySummary.parse(response)
    #expect(summary.id == query.id && summary.code == code && summary.question == query.question)
    let decoded = try Decoded(response)
    #expect(decoded.tc == (decoded.answers.count < count) && summary.truncated == decoded.tc)
    #expect(decoded.additionals.count == (query.ednsPayloadSize == nil ? 0 : 1))
}

@Suite struct Properties {
    static let inputs = 5000

    @Test func randomBytesNeverCrash() async {
        await propertyCheck(count: Self.inputs, input: byte.array(of: 0...600)) { bytes in
            _ = try? DNSQuery.parse(bytes)
            _ = try? DNSReplySummary.parse(bytes)
            let reply = DNSWire.formatError(replyingTo: bytes)
            #expect((reply != nil) == (bytes.count >= 12 && bytes[2] & 0x80 == 0))
            if let reply {
                let summary = try DNSReplySummary.parse(reply)
                #expect(summary.code == .formatError && summary.id == UInt16(bytes[0]) << 8 | UInt16(bytes[1]))
            }
        }
    }

    /// Random bodies behind a header that says "one question": the name and record parsers get the work.
    /// Every prefix is tried, so that some end where a record does, and parse.
    @Test func randomBodiesAreParsedOrRefused() async {
        let counts = Gen<Int>.value(in: 0...2)
        let input = zip(counts, counts, counts, Gen<Bool>.bool, wireByte.array(of: 0...80))
        await propertyCheck(count: Self.inputs, input: input) { an, ns, ar, asks, random in
            // Half start with a real question, so that the records after it get parsed.
            let body = (asks ? wireName("a") + be16(1) + be16(1) : []) + random
            for end in 0...body.count {
                let bytes = header(an: an, ns: ns, ar: ar) + body[..<end]
                let query: DNSQuery
                do throws(DNSParseError) {
                    query = try DNSQuery.parse(bytes)
                } catch {
                    #expect(error != .notAQuery && error != .questionCount(1), "the header is a query's")
                    continue
                }
                try checkAnswered(query, answers: an * 20, code: .noError, tcp: false)
            }
        }
    }

    @Test func mutatedQueriesAreParsedOrRefused() async {
        let edits = zip(Gen<Int>.value(in: 0...200), byte, Gen<Int>.value(in: 0...3)).array(of: 1...3)
        let input = zip(
            Gen<Int>.value(in: 0..<validQueries.count), edits, Gen<Int>.value(in: 0...300),
            Gen<Int>.value(in: 0..<codes.count), Gen<Bool>.bool)
        await propertyCheck(count: Self.inputs, input: input) { which, edits, answers, code, tcp in
            var bytes = validQueries[which]
            for (position, value, kind) in edits where !bytes.isEmpty {
                let i = position % bytes.count
                switch kind {
                case 0: bytes[i] = value
                case 1: bytes.removeSubrange(i...)
                case 2: bytes.insert(value, at: i)
                default: bytes.remove(at: i)
                }
            }
            guard let query = try? DNSQuery.parse(bytes) else { return }
            try checkAnswered(query, answers: answers, code: codes[code], tcp: tcp)
        }
    }

    /// Names made of characters that matter (case, '-', '_', '.', '\', multi-byte) are accepted exactly
    /// when they fit the wire's limits, and come back unchanged through a query and its reply.
    @Test func namesRoundTripThroughTheWire() async {
        let labels = strings(of: "aZ09-_.\\é", length: 0...66).array(of: 0...6)
        await propertyCheck(count: Self.inputs, input: labels) { labels in
            let bytes = labels.map { Array($0.utf8) }
            let fits = bytes.allSatisfy { (1...63).contains($0.count) } && bytes.reduce(1) { $0 + 1 + $1.count } <= 255
            guard let name = DNSName(labels: labels) else {
                #expect(!fits, "\(labels) refused")
                return
            }
            #expect(fits && name.labels == labels)
            let query = try DNSQuery.parse(digQuery(wireName(labels: bytes), type: 16))
            #expect(query.question.name == name && query.question.name.key == name.key)
            let reply = try DNSReplySummary.parse(query.response(code: .noError, authoritative: false, limit: 512))
            #expect(reply.question?.name == name)
            if !labels.contains(where: { $0.contains(".") || $0.contains("\\") }) {
                #expect(DNSName(name.description) == name)
                #expect(name.key == labels.joined(separator: ".").lowercased())
                #expect(DNSName(name.key)?.key == name.key)
            }
        }
    }

    /// Any bytes at all in labels (the wire allows them) are echoed exactly.
    @Test func anyLabelBytesRoundTrip() async {
        await propertyCheck(count: Self.inputs, input: byte.array(of: 1...63).array(of: 0...3)) { labels in
            let name = try #require(DNSName(bytes: labels))
            let query = try DNSQuery.parse(digQuery(wireName(labels: labels)))
            #expect(query.question.name == name && query.question.name.wireLabels == labels)
            let decoded = try Decoded(query.response(code: .nameError, authoritative: true, limit: 512))
            #expect(decoded.questionName == labels)
        }
    }

    @Test func reverseNamesRoundTrip() async {
        await propertyCheck(count: Self.inputs, input: byte, byte, byte, byte) { a, b, c, d in
            let name = DNSName.reverse(ipv4: (a, b, c, d))
            #expect(name.description == "\(d).\(c).\(b).\(a).in-addr.arpa.")
            let octets = try #require(name.reversedIPv4)
            #expect(octets == (a, b, c, d))
        }
    }

    /// One address, one PTR name: any name read as an address is the name `reverse` writes for it.
    @Test func reverseNamesAreCanonical() async {
        let label = strings(of: "0123456789+-a", length: 1...4)
        await propertyCheck(count: Self.inputs, input: label, label, label, label, Gen<Bool>.bool) {
            a, b, c, d, upper in
            let text = "\(a).\(b).\(c).\(d)." + (upper ? "IN-ADDR.Arpa" : "in-addr.arpa")
            guard let octets = try #require(DNSName(text)).reversedIPv4 else { return }
            #expect(DNSName.reverse(ipv4: octets).key == DNSName(text)?.key, "\(text)")
        }
    }

    func isHostName(_ text: String) -> Bool { (try? validateHostname(text)) != nil }

    @Test func hostNamesAreNames() async {
        await propertyCheck(count: Self.inputs, input: strings(of: "aZ09-_.é ", length: 0...20)) { text in
            guard isHostName(text) else { return }
            let name = try #require(DNSName(text), "\(text)")
            #expect(name.description == text + "." && !text.contains("é") && !text.contains(" "))
        }
    }
}
