import API
import BPF
import DNS
import Foundation
import Links
import Model
import Testing

@testable import Daemon

/// A query as a stub resolver sends it: header, one question, optionally EDNS.
func dnsQuery(_ name: String, type: UInt16 = 1, id: UInt16 = 0x1234, edns: Bool = false) -> [UInt8] {
    var bytes: [UInt8] = [UInt8(id >> 8), UInt8(id & 0xff), 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, edns ? 1 : 0]
    for label in name.split(separator: ".") {
        bytes.append(UInt8(label.utf8.count))
        bytes += Array(label.utf8)
    }
    bytes += [0, UInt8(type >> 8), UInt8(type & 0xff), 0, 1]
    if edns { bytes += [0, 0, 41, 0x10, 0x00, 0, 0, 0, 0, 0, 0] }
    return bytes
}

/// What tests read back from a response: rcode, and A addresses or PTR names in order.
struct DecodedReply {
    var id: UInt16
    var code: DNSResponseCode
    var addresses: [IPv4Address] = []
    var pointers: [String] = []

    init(_ bytes: [UInt8]) throws {
        let summary = try DNSReplySummary.parse(bytes)
        id = summary.id
        code = summary.code
        let answers = Int(bytes[6]) << 8 | Int(bytes[7])
        var offset = 12
        func skipName() {
            while offset < bytes.count {
                let length = Int(bytes[offset])
                if length & 0xC0 == 0xC0 {
                    offset += 2
                    return
                }
                offset += 1 + length
                if length == 0 { return }
            }
        }
        func readName(at start: Int) -> String {
            var labels: [String] = []
            var at = start
            while at < bytes.count, bytes[at] != 0 {
                if bytes[at] & 0xC0 == 0xC0 {
                    at = Int(bytes[at] & 0x3F) << 8 | Int(bytes[at + 1])
                    continue
                }
                labels.append(String(decoding: bytes[(at + 1)..<(at + 1 + Int(bytes[at]))], as: UTF8.self))
                at += 1 + Int(bytes[at])
            }
            return labels.joined(separator: ".")
        }
        skipName()
        offset += 4
        for _ in 0..<answers {
            skipName()
            let type = Int(bytes[offset]) << 8 | Int(bytes[offset + 1])
            let length = Int(bytes[offset + 8]) << 8 | Int(bytes[offset + 9])
            offset += 10
            if type == 1 {
                addresses.append(IPv4Address(bytes[offset], bytes[offset + 1], bytes[offset + 2], bytes[offset + 3]))
            } else if type == 12 {
                pointers.append(readName(at: offset))
            }
            offset += length
        }
    }
}

/// The names each container sees, and what the server does with each kind of packet.
@Suite struct NameTableTests {
    let now = Date(timeIntervalSince1970: 1_700_000_000)

    /// front: web (alias api), api2 (alias api); back: db, and web again; internal: vault.
    func registry() throws -> (Registry, [String: Container]) {
        var registry = Registry(networks: try Registry.predefinedNetworks(now: now, hostPrefixes: []))
        for (name, subnet, isInternal) in [
            ("front", "10.1.0.0/24", false), ("back", "10.2.0.0/24", false), ("vault", "10.3.0.0/24", true),
        ] {
            registry.networks.append(
                try registry.planNetwork(
                    NetworkRequest(name: name, subnet: subnet, internal: isInternal), id: randomID(), now: now,
                    hostPrefixes: []))
        }
        var containers: [String: Container] = [:]
        for (name, network, aliases) in [
            ("web", "front", ["api"]), ("api2", "front", ["api"]), ("db", "back", []), ("safe", "vault", []),
            ("plain", "bridge", []),
        ] {
            let (container, endpoint) = try registry.planContainer(
                ContainerRequest(name: name, network: network, aliases: aliases), id: randomID(), now: now)
            registry.containers.append(container)
            registry.endpoints += endpoint
            containers[name] = container
        }
        let web = containers["web"]!
        registry.endpoints.append(
            try registry.planConnect(network: "back", container: "web", ip: nil, aliases: ["www"]))
        containers["web"] = web
        return (registry, containers)
    }

    func table() throws -> (NameTable, [String: Container], Registry) {
        let (registry, containers) = try registry()
        let table = NameTable(
            registry: registry, remote: [ClusterEndpoint](), upstreams: { _ in [IPv4Address(10, 9, 9, 9)] })
        return (table, containers, registry)
    }

    func ip(_ registry: Registry, _ container: Container, on network: String) throws -> IPv4Address {
        let id = try registry.network(network).id
        return registry.endpoints.first { $0.containerID == container.id && $0.networkID == id }!.ip!
    }

    @Test func containersSeeOnlyTheNetworksTheyShare() throws {
        let (table, c, registry) = try table()
        let db = c["db"]!.id
        let web = c["web"]!.id
        let api2 = c["api2"]!.id
        #expect(table.lookup("db", asker: web) == [try ip(registry, c["db"]!, on: "back")])
        #expect(table.lookup("db", asker: api2) == nil)  // front only
        #expect(table.lookup("web", asker: db) == [try ip(registry, c["web"]!, on: "back")])
        #expect(table.lookup("www", asker: db) == [try ip(registry, c["web"]!, on: "back")])
        #expect(table.lookup("www", asker: api2) == nil)  // an alias is the network's
        #expect(table.lookup("safe", asker: web) == nil)
        #expect(table.lookup("plain", asker: web) == nil)
        #expect(table.askers[c["plain"]!.id] == nil)  // the default bridge has no names
    }

    @Test func anAliasOfTwoContainersHasBothAddresses() throws {
        let (table, c, registry) = try table()
        let both = table.lookup("api", asker: c["web"]!.id)
        #expect(
            Set(both ?? []) == [try ip(registry, c["web"]!, on: "front"), try ip(registry, c["api2"]!, on: "front")])
    }

    @Test func namesByShortIDHostnameAndNetwork() throws {
        let (table, c, registry) = try table()
        let web = c["web"]!
        let api2 = c["api2"]!.id
        let front = try ip(registry, web, on: "front")
        #expect(table.lookup(web.shortID, asker: api2) == [front])
        #expect(table.lookup("web.front", asker: api2) == [front])
        #expect(table.lookup("web.back", asker: api2) == nil)
        #expect(table.lookup("web.back", asker: c["db"]!.id) == [try ip(registry, web, on: "back")])
        #expect(table.name(of: front, asker: api2) == "web.front")
        #expect(table.name(of: try ip(registry, c["db"]!, on: "back"), asker: api2) == nil)
    }

    @Test func aStoppedContainerHasNoName() throws {
        var (registry, c) = try registry()
        let index = try #require(registry.containers.firstIndex { $0.name == "db" })
        registry.containers[index].stopped = true
        let table = NameTable(registry: registry, remote: [ClusterEndpoint](), upstreams: { _ in [] })
        #expect(table.lookup("db", asker: c["web"]!.id) == nil)
        #expect(table.lookup("api", asker: c["web"]!.id)?.count == 2, "the others keep theirs")
    }

    @Test func internalOnlyContainersForwardNothing() throws {
        let (table, c, _) = try table()
        #expect(table.askers[c["safe"]!.id]?.upstreams == [])
        #expect(table.askers[c["web"]!.id]?.upstreams == [IPv4Address(10, 9, 9, 9)])
        #expect(table.askers[c["web"]!.id]?.metricsNetwork == "front")
    }

    @Test func otherHostsContainersResolve() throws {
        let (registry, c) = try registry()
        let front = try registry.network("front")
        let remote = ClusterEndpoint(
            networkID: front.id, ip: IPv4Address(10, 1, 0, 200),
            mac: MACAddress(derivedFrom: IPv4Address(10, 1, 0, 200)),
            containerID: String(repeating: "ab", count: 32), containerName: "far", host: IPv4Address(198, 18, 0, 2),
            aliases: ["yonder"])
        let table = NameTable(registry: registry, remote: [remote], upstreams: { _ in [] })
        #expect(table.lookup("far", asker: c["web"]!.id) == [remote.ip])
        #expect(table.lookup("yonder", asker: c["api2"]!.id) == [remote.ip])
        #expect(table.lookup("far", asker: c["db"]!.id) == nil)
    }

    // MARK: The responder

    @Test func answersAAndRotates() throws {
        let (table, c, _) = try table()
        let web = c["web"]!.id
        var firsts: Set<IPv4Address> = []
        for turn in 0..<2 {
            guard
                case .answer(let bytes, .noError) = DNSResponder.decide(
                    dnsQuery("API"), asker: web, table: table, transport: .udp, rotation: turn)
            else {
                Issue.record("no answer")
                return
            }
            let reply = try DecodedReply(bytes)
            #expect(reply.id == 0x1234)
            #expect(reply.addresses.count == 2)
            firsts.insert(reply.addresses[0])
        }
        #expect(firsts.count == 2, "the first address rotates")
    }

    @Test func aContainerNameHasNoOtherTypesAndIsNotForwarded() throws {
        let (table, c, _) = try table()
        let decision = DNSResponder.decide(
            dnsQuery("db", type: 28), asker: c["web"]!.id, table: table, transport: .udp, rotation: 0)
        guard case .answer(let bytes, .noError) = decision else {
            Issue.record("\(decision)")
            return
        }
        #expect(try DecodedReply(bytes).addresses.isEmpty)
    }

    @Test func aaaaRecordsOnNetworksWithIPv6() throws {
        var registry = Registry(networks: try Registry.predefinedNetworks(now: now, hostPrefixes: []))
        var request = NetworkRequest(name: "six", subnet: "10.6.0.0/24")
        (request.ipv6, request.subnet6) = (true, "fd00:6::/64")
        registry.networks.append(try registry.planNetwork(request, id: randomID(), now: now, hostPrefixes: []))
        for name in ["a", "b"] {
            let (container, endpoints) = try registry.planContainer(
                ContainerRequest(name: name, network: "six"), id: randomID(), now: now)
            registry.containers.append(container)
            registry.endpoints += endpoints
        }
        let table = NameTable(registry: registry, remote: [ClusterEndpoint](), upstreams: { _ in [] })
        let asker = registry.containers[0].id
        // The NOERROR answer to a question of `type` about `name`, or nil.
        func ask(_ name: String, type: UInt16) -> [UInt8]? {
            guard
                case .answer(let bytes, .noError) = DNSResponder.decide(
                    dnsQuery(name, type: type), asker: asker, table: table, transport: .udp, rotation: 0)
            else { return nil }
            return bytes
        }
        let aaaa = try #require(ask("b", type: 28))
        #expect(aaaa[6] == 0 && aaaa[7] == 1, "one answer")
        #expect(Array(aaaa.suffix(16)) == IPv6Address("fd00:6::3")!.bytes)
        let both = try #require(ask("b", type: 255))
        #expect(both[6] == 0 && both[7] == 2, "A and AAAA for ANY")
        // PTR of the v6 address (ip6.arpa, nibbles last first) names the container.
        let nibbles = IPv6Address("fd00:6::3")!.bytes.flatMap {
            [String($0 >> 4, radix: 16), String($0 & 15, radix: 16)]
        }
        let ptr = try #require(ask(nibbles.reversed().joined(separator: ".") + ".ip6.arpa", type: 12))
        #expect(ptr[6] == 0 && ptr[7] == 1, "one PTR")
        #expect(String(decoding: ptr, as: UTF8.self).contains("six"))
    }

    @Test func pointerRecordsNameContainers() throws {
        let (table, c, registry) = try table()
        let ip = try ip(registry, c["db"]!, on: "back")
        let name = ip.octets.reversed().map(String.init).joined(separator: ".") + ".in-addr.arpa"
        guard
            case .answer(let bytes, .noError) = DNSResponder.decide(
                dnsQuery(name, type: 12), asker: c["web"]!.id, table: table, transport: .udp, rotation: 0)
        else {
            Issue.record("no answer")
            return
        }
        #expect(try DecodedReply(bytes).pointers == ["db.back"])
    }

    @Test func unknownNamesAreForwardedExceptFromInternalNetworks() throws {
        let (table, c, _) = try table()
        let decision = DNSResponder.decide(
            dnsQuery("example.com"), asker: c["web"]!.id, table: table, transport: .udp, rotation: 0)
        guard case .forward(let query, let upstreams) = decision else {
            Issue.record("\(decision)")
            return
        }
        #expect(query.question.name.key == "example.com")
        #expect(upstreams == [IPv4Address(10, 9, 9, 9)])
        let refused = DNSResponder.decide(
            dnsQuery("example.com"), asker: c["safe"]!.id, table: table, transport: .udp, rotation: 0)
        guard case .answer(_, .serverFailure) = refused else {
            Issue.record("\(refused)")
            return
        }
    }

    @Test func garbageIsDroppedAndABadQueryGetsFormErr() throws {
        let (table, c, _) = try table()
        let web = c["web"]!.id
        #expect(DNSResponder.decide([1, 2, 3], asker: web, table: table, transport: .udp, rotation: 0) == .drop)
        var response = dnsQuery("web")
        response[2] |= 0x80  // QR: a response is never answered
        #expect(DNSResponder.decide(response, asker: web, table: table, transport: .udp, rotation: 0) == .drop)
        let truncated = Array(dnsQuery("web").prefix(15))
        guard
            case .answer(let bytes, .formatError) = DNSResponder.decide(
                truncated, asker: web, table: table, transport: .udp, rotation: 0)
        else {
            Issue.record("no FORMERR")
            return
        }
        #expect(try DNSReplySummary.parse(bytes).id == 0x1234)
    }
}

/// The agent serves the names over real sockets at 127.0.0.11:53 in the containers' real
/// namespaces (the fake datapath binds them as the kernel one does): a newcomer resolves
/// as soon as `run` returns, a removed container at once no longer does, over UDP and TCP.
@Suite(.serialized) struct EmbeddedDNSServingTests {
    /// Asks from inside the namespace at path, at the port the server listens on there
    /// (there is no socket hook in the tests to send port 53 to it).
    func ask(_ packet: [UInt8], in path: String, ports: DNSServerPorts, tcp: Bool = false) throws -> [UInt8] {
        let fd = try NetworkNamespace.run(in: path) {
            socket(AF_INET, Int32(tcp ? SOCK_STREAM.rawValue : SOCK_DGRAM.rawValue), 0)
        }
        defer { close(fd) }
        var timeout = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = (tcp ? ports.tcp : ports.udp).bigEndian
        address.sin_addr.s_addr = EmbeddedDNS.address.value.bigEndian
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        #expect(connected == 0)
        let message = tcp ? [UInt8(packet.count >> 8), UInt8(packet.count & 0xff)] + packet : packet
        _ = message.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
        var buffer = [UInt8](repeating: 0, count: 4096)
        var received = 0
        repeat {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress! + received, $0.count - received, 0) }
            guard n > 0 else { break }
            received += n
        } while tcp && (received < 2 || received < 2 + (Int(buffer[0]) << 8 | Int(buffer[1])))
        let reply = Array(buffer[..<received])
        return tcp ? Array(reply.dropFirst(2)) : reply
    }

    @Test func namesAreServedFromTheStartAndGoWithTheContainer() async throws {
        let subject = try await AgentRollbackTests.makeSubject()
        // Cleaned up before the test ends, whatever happened (its namespaces are mounted).
        var failure: (any Error)?
        do { try await servesNames(subject.agent) } catch { failure = error }
        await AgentRollbackTests.cleanUp(subject)
        if let failure { throw failure }
    }

    func servesNames(_ agent: Agent) async throws {
        _ = try await agent.createNetwork(NetworkRequest(name: "app", subnet: "10.23.0.0/24"))
        let web = try await agent.run(ContainerRequest(name: "web", network: "app", command: ["/bin/true"]))
        let namespace = await agent.configuration.namespacePath(web.container.id)
        let ports = try #require(agent.dns.ports(of: web.container.id))
        let db = try await agent.run(
            ContainerRequest(name: "db", network: "app", command: ["/bin/true"], aliases: ["postgres"]))
        let dbIP = try #require(db.endpoints.first?.endpoint.ip)

        for tcp in [false, true] {
            let reply = try DecodedReply(
                try ask(dnsQuery("postgres", edns: true), in: namespace, ports: ports, tcp: tcp))
            #expect(reply.code == .noError)
            #expect(reply.addresses == [dbIP], "over \(tcp ? "TCP" : "UDP")")
        }
        let files = try String(contentsOfFile: await agent.runtime.files(web.container.id).resolvConf, encoding: .utf8)
        #expect(files.contains("nameserver 127.0.0.11"))
        #expect(files.contains("options ndots:0"))
        let hosts = try String(contentsOfFile: await agent.runtime.files(web.container.id).hosts, encoding: .utf8)
        let words = hosts.split(whereSeparator: \.isWhitespace)
        #expect(!words.contains("db") && !words.contains("postgres"), "peers are not in /etc/hosts")

        _ = try await agent.remove("db", force: true)
        // Unknown now, and with no upstream server (the test's resolv.conf has none): SERVFAIL.
        let after = try DecodedReply(try ask(dnsQuery("postgres"), in: namespace, ports: ports))
        #expect(after.code == .serverFailure)
        #expect(after.addresses.isEmpty)

        let text = ExpositionFormat.prometheus.render(try await agent.metricFamilies())
        #expect(text.contains("\nbridgeport_dns_queries_total{network=\"app\"} 3\n"))
    }
}
