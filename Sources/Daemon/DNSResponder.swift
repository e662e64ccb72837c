import DNS
import Model

/// What the embedded DNS server does with one packet from a container: answer it from the
/// name table, forward it upstream, or drop it. Pure, so that the rules are tested without
/// sockets; `EmbeddedDNS` does the I/O.
enum DNSDecision: Equatable {
    case answer([UInt8], DNSResponseCode)
    case forward(DNSQuery, upstreams: [IPv4Address])
    case drop

    static func == (lhs: DNSDecision, rhs: DNSDecision) -> Bool {
        switch (lhs, rhs) {
        case (.answer(let a, let x), .answer(let b, let y)): a == b && x == y
        case (.forward(let a, let x), .forward(let b, let y)): a.id == b.id && a.question == b.question && x == y
        case (.drop, .drop): true
        default: false
        }
    }
}

enum DNSTransport: Sendable { case udp, tcp }

enum DNSResponder {
    /// Docker's TTL for container names.
    static let ttl: UInt32 = 600
    static let classIN: UInt16 = 1

    /// `rotation` turns the order of a name's addresses, so that clients that take the
    /// first spread over the containers sharing an alias (Docker shuffles them).
    static func decide(
        _ packet: [UInt8], asker: String, table: NameTable, transport: DNSTransport, rotation: Int
    ) -> DNSDecision {
        let query: DNSQuery
        do {
            query = try DNSQuery.parse(packet)
        } catch {
            // A readable header gets FORMERR; garbage and responses get nothing (never answer
            // a response: two servers would answer each other forever).
            return DNSWire.formatError(replyingTo: packet).map { .answer($0, .formatError) } ?? .drop
        }
        let limit = transport == .tcp ? 65535 : query.udpLimit()
        func reply(_ code: DNSResponseCode, _ answers: [DNSRecord] = []) -> DNSDecision {
            .answer(query.response(code: code, answers: answers, authoritative: true, limit: limit), code)
        }
        guard query.opcode == 0 else { return reply(.notImplemented) }
        let question = query.question
        if question.qclass == classIN {
            if let addresses = table.lookup(question.name.key, asker: asker) {
                // A container's name: A (and AAAA on networks with IPv6) records; any other
                // type has no data here, and is not forwarded (the upstream would only leak
                // the name, or answer wrongly).
                var answers: [DNSRecord] = []
                if question.type == .a || question.type == .any {
                    answers += rotated(addresses, by: rotation).map {
                        DNSRecord(name: question.name, ttl: ttl, data: .a($0))
                    }
                }
                if question.type == .aaaa || question.type == .any {
                    answers += rotated(table.lookup6(question.name.key, asker: asker), by: rotation).map {
                        DNSRecord(name: question.name, ttl: ttl, data: .aaaa($0.bytes))
                    }
                }
                return reply(.noError, answers)
            }
            if question.type == .ptr, let name = reverseName(question.name, asker: asker, table: table),
                let target = DNSName(name)
            {
                return reply(.noError, [DNSRecord(name: question.name, ttl: ttl, data: .ptr(target))])
            }
        }
        // Containers only on internal networks reach nothing outside; nor does their DNS.
        guard let upstreams = table.askers[asker]?.upstreams, !upstreams.isEmpty else {
            return reply(.serverFailure)
        }
        return .forward(query, upstreams: upstreams)
    }
}

/// The container a PTR name (in-addr.arpa or ip6.arpa) points at, on the asker's networks.
private func reverseName(_ name: DNSName, asker: String, table: NameTable) -> String? {
    if let (a, b, c, d) = name.reversedIPv4 { return table.name(of: IPv4Address(a, b, c, d), asker: asker) }
    if let bytes = name.reversedIPv6 { return table.name(of: IPv6Address(bytes: bytes), asker: asker) }
    return nil
}

/// The list turned left by `rotation` places.
private func rotated<Element>(_ list: [Element], by rotation: Int) -> [Element] {
    let start = list.isEmpty ? 0 : rotation % list.count
    return Array(list[start...] + list[..<start])
}

extension DNSRecord.Data {
    static func a(_ ip: IPv4Address) -> DNSRecord.Data {
        .a(UInt8(ip.value >> 24), UInt8(ip.value >> 16 & 0xff), UInt8(ip.value >> 8 & 0xff), UInt8(ip.value & 0xff))
    }
}
