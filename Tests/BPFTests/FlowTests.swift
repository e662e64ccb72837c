import BPF
import CBPF
import Glibc
import XCTest

/// The flow table's lifecycle, in the programs (BPF_PROG_TEST_RUN on crafted frames, in
/// DataplaneFixture's namespace, as NATAndPolicyTests) and in the agent's collector:
/// states and timeouts, masquerade's port choice, both entries or neither, a full table,
/// expiry, eviction and flushes.
final class FlowTests: XCTestCase {
    typealias T = NATAndPolicyTests
    static let icmp = UInt8(BP_PROTO_ICMP.rawValue)
    static let mac = T.containerMAC

    override func setUpWithError() throws {
        try Sandbox.requireRoot()
        try DataplaneFixture.buildObjects()
    }

    // MARK: helpers

    func key(_ src: [UInt8], _ sport: UInt16, _ dst: [UInt8], _ dport: UInt16, _ proto: UInt8) -> bp_flow_key {
        bp_flow_key(src: be32(src), dst: be32(dst), sport: be16(sport), dport: be16(dport), proto: proto)
    }

    static func isReply(_ entry: bp_flow) -> Bool { entry.flags & UInt8(BP_FLOW_F_REPLY.rawValue) != 0 }

    /// Every entry has its other half, which leads back to it, with the same state.
    func assertPaired(_ f: DataplaneFixture, file: StaticString = #filePath, line: UInt = #line) throws {
        let entries = Dictionary(try f.flowEntries().map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
        for (key, entry) in entries {
            let other = FlowTable.otherKey(key, entry)
            guard let peer = entries[other] else {
                XCTFail("\(key) has no other half (\(other))", file: file, line: line)
                continue
            }
            XCTAssertEqual(FlowTable.otherKey(other, peer), key, "the other half leads back", file: file, line: line)
            XCTAssertNotEqual(Self.isReply(entry), Self.isReply(peer), file: file, line: line)
            XCTAssertEqual(peer.state, entry.state, "both halves have the flow's state", file: file, line: line)
        }
    }

    /// Both entries of the flow whose original tuple is `original` are in `state` and expire
    /// `seconds` from now (±1 s: the programs read a coarse clock).
    func assertFlow(
        _ f: DataplaneFixture, _ original: bp_flow_key, _ state: bp_flow_state, expiresIn seconds: UInt32,
        _ what: String, file: StaticString = #filePath, line: UInt = #line
    ) throws {
        let entry = try XCTUnwrap(f.flow(original), "\(what): no flow", file: file, line: line)
        let reply = try XCTUnwrap(
            f.flow(FlowTable.otherKey(original, entry)), "\(what): no reply entry", file: file, line: line)
        let now = FlowTable.now()
        for (half, name) in [(entry, "original"), (reply, "reply")] {
            XCTAssertEqual(
                String(cString: bp_flow_state_label(UInt32(half.state))),
                String(cString: bp_flow_state_label(state.rawValue)),
                "\(what): \(name)'s state", file: file, line: line)
        }
        let expires = max(entry.expires, reply.expires)
        XCTAssertTrue(
            (now + seconds - 1...now + seconds + 1).contains(expires),
            "\(what): expires in \(Int(expires) - Int(now)) s, \(seconds) expected", file: file, line: line)
    }

    func counter(_ f: DataplaneFixture, _ event: bp_flow_event, _ proto: UInt8) throws -> UInt64 {
        try f.maps.flows.counters()[FlowTable.counterIndex(event, proto: proto)] ?? 0
    }

    /// A masqueraded flow of another container (ifindex 1000 + the last octet), both entries.
    func seedMasquerade(
        _ f: DataplaneFixture, from container: [UInt8], _ sport: UInt16, to remote: [UInt8], _ rport: UInt16,
        hostPort: UInt16, proto: UInt8, expires: UInt32? = nil
    ) throws {
        let now = FlowTable.now()
        let (ifindex, until) = (1000 + UInt32(container[3]), expires ?? now + 3600)
        let out = bp_flow(
            kind: BP_FLOW_MASQUERADE, state: BP_FLOW_REPLIED, flags: BP_FLOW_F_SNAT.rawValue, natIP: be32(T.hostIP),
            natPort: be16(hostPort), ifindex: ifindex, created: now, expires: until)
        let back = bp_flow(
            kind: BP_FLOW_MASQUERADE, state: BP_FLOW_REPLIED, flags: BP_FLOW_F_DNAT.rawValue | BP_FLOW_F_REPLY.rawValue,
            natIP: be32(container), natPort: be16(sport), ifindex: ifindex, created: now, expires: until)
        let original = key(container, sport, remote, rport, proto)
        try f.maps.flows.map.update(original, out)
        try f.maps.flows.map.update(FlowTable.otherKey(original, out), back)
    }

    func sourcePort(_ result: TestRunResult) throws -> UInt16 {
        XCTAssertEqual(result.verdict, T.redirect)
        return try ParsedIPv4(result.packet).sourcePort
    }

    // MARK: states and timeouts

    /// Linux conntrack's TCP states, with the agent's timeouts: SYN, SYN-ACK, the opener's
    /// ACK (only that makes it established), FIN, RST, and a new SYN on the closed tuple.
    func testTCPStatesOfAPublishedFlow() throws {
        let f = try DataplaneFixture.make(for: self)
        try f.setEndpoint(flags: [BP_EP_F_ENFORCE_SOURCE, BP_EP_F_ISOLATED])
        try f.publish(host: T.hostIP, 5000, proto: T.tcp, to: T.container, 80)
        try f.setTimeouts(["tcp-syn": 7, "tcp-established": 1000, "tcp-closing": 50, "tcp-close": 3])
        let inbound = key(T.client, 40000, T.hostIP, 5000, T.tcp)
        func fromClient(_ flags: UInt8) -> [UInt8] {
            Frame.tcp(src: T.client, dst: T.hostIP, sport: 40000, dport: 5000, flags: flags)
        }
        func fromContainer(_ flags: UInt8) -> [UInt8] {
            Frame.tcp(src: T.container, dst: T.client, sport: 80, dport: 40000, flags: flags, srcMAC: Self.mac)
        }

        XCTAssertEqual(try f.up(fromClient(Frame.tcpSYN)).verdict, T.redirect)
        try assertFlow(f, inbound, BP_FLOW_SYN_SENT, expiresIn: 7, "after the SYN")
        XCTAssertEqual(try f.ep(fromContainer(Frame.tcpSYNACK)).verdict, T.redirect)
        try assertFlow(f, inbound, BP_FLOW_SYN_RECV, expiresIn: 7, "after the SYN-ACK")
        XCTAssertEqual(try f.ep(fromContainer(Frame.tcpSYNACK)).verdict, T.redirect)
        try assertFlow(
            f, inbound, BP_FLOW_SYN_RECV, expiresIn: 7, "a retransmitted SYN-ACK: still waiting for the opener")
        XCTAssertEqual(try f.up(fromClient(Frame.tcpACK)).verdict, T.redirect)
        try assertFlow(f, inbound, BP_FLOW_ESTABLISHED, expiresIn: 1000, "after the opener's ACK")
        XCTAssertEqual(try f.ep(fromContainer(Frame.tcpACK)).verdict, T.redirect)
        try assertFlow(f, inbound, BP_FLOW_ESTABLISHED, expiresIn: 1000, "data")
        XCTAssertEqual(try f.up(fromClient(Frame.tcpACK | 0x01)).verdict, T.redirect)
        try assertFlow(f, inbound, BP_FLOW_CLOSING, expiresIn: 50, "after the client's FIN")
        XCTAssertEqual(try f.up(fromClient(Frame.tcpSYN)).verdict, T.redirect)
        try assertFlow(
            f, inbound, BP_FLOW_CLOSING, expiresIn: 50, "a SYN while one side still sends does not reopen it")
        XCTAssertEqual(try f.ep(fromContainer(Frame.tcpACK | 0x01)).verdict, T.redirect)
        XCTAssertEqual(try f.up(fromClient(Frame.tcpSYN)).verdict, T.redirect)
        try assertFlow(
            f, inbound, BP_FLOW_SYN_SENT, expiresIn: 7, "both sides sent a FIN (TIME_WAIT): a new SYN reopens it")
        XCTAssertEqual(try f.ep(fromContainer(0x04)).verdict, T.redirect)
        try assertFlow(f, inbound, BP_FLOW_CLOSE, expiresIn: 3, "after a RST")
        XCTAssertEqual(try f.up(fromClient(Frame.tcpSYN)).verdict, T.redirect)
        try assertFlow(f, inbound, BP_FLOW_SYN_SENT, expiresIn: 7, "a new SYN on a reset tuple opens it again")
        for half in [inbound, FlowTable.otherKey(inbound, try XCTUnwrap(f.flow(inbound)))] {
            XCTAssertEqual(
                try XCTUnwrap(f.flow(half)).flags & UInt8(BP_FLOW_F_FIN.rawValue), 0, "reopened: no FIN marks left")
        }

        XCTAssertEqual(try f.flowEntries().count, 2, "one flow all along")
        XCTAssertEqual(try counter(f, BP_FLOW_EV_CREATED, T.tcp), 1)
        try assertPaired(f)
    }

    /// A spoofed SYN is answered but never acknowledged: the flow stays short-lived.
    func testAnUnacknowledgedHandshakeNeverBecomesEstablished() throws {
        let f = try DataplaneFixture.make(for: self)
        try f.setEndpoint(flags: [BP_EP_F_ENFORCE_SOURCE, BP_EP_F_ISOLATED])
        try f.publish(host: nil, 5000, proto: T.tcp, to: T.container, 80)
        let inbound = key(T.client, 40001, T.hostIP, 5000, T.tcp)
        _ = try f.up(Frame.tcp(src: T.client, dst: T.hostIP, sport: 40001, dport: 5000))
        for _ in 0..<3 {
            _ = try f.ep(
                Frame.tcp(
                    src: T.container, dst: T.client, sport: 80, dport: 40001, flags: Frame.tcpSYNACK, srcMAC: Self.mac))
            _ = try f.ep(
                Frame.tcp(
                    src: T.container, dst: T.client, sport: 80, dport: 40001, flags: Frame.tcpACK, srcMAC: Self.mac))
        }
        _ = try f.up(Frame.tcp(src: T.client, dst: T.hostIP, sport: 40001, dport: 5000))  // a SYN again
        try assertFlow(f, inbound, BP_FLOW_SYN_RECV, expiresIn: 120, "Linux's default tcp-syn timeout")
    }

    func testUDPAndICMPStatesAndTheirTimeouts() throws {
        let f = try DataplaneFixture.make(for: self)
        try f.setEndpoint(flags: [BP_EP_F_ENFORCE_SOURCE, BP_EP_F_ISOLATED, BP_EP_F_MASQUERADE])
        try f.setTimeouts(["udp": 11, "udp-stream": 22, "icmp": 33])
        let query = Frame.udp(src: T.container, dst: T.internet, sport: 45000, dport: 53, srcMAC: Self.mac)
        let outbound = key(T.container, 45000, T.internet, 53, T.udp)

        let port = try sourcePort(try f.ep(query))
        try assertFlow(f, outbound, BP_FLOW_UNREPLIED, expiresIn: 11, "one way")
        XCTAssertEqual(try f.up(Frame.udp(src: T.internet, dst: T.hostIP, sport: 53, dport: port)).verdict, T.redirect)
        try assertFlow(f, outbound, BP_FLOW_REPLIED, expiresIn: 11, "answered (a DNS exchange keeps the short timeout)")
        _ = try f.ep(query)
        try assertFlow(f, outbound, BP_FLOW_REPLIED, expiresIn: 11, "another packet within 2 s")
        // Both ways and still going 2 s after it began: a stream (its start moved back instead of waiting).
        for half in [outbound, FlowTable.otherKey(outbound, try XCTUnwrap(f.flow(outbound)))] {
            var entry = try XCTUnwrap(f.flow(half))
            entry.created -= 3
            try f.maps.flows.map.update(half, entry)
        }
        _ = try f.ep(query)
        try assertFlow(f, outbound, BP_FLOW_STREAM, expiresIn: 22, "a stream")

        let ping = Frame.icmpEcho(src: T.container, dst: T.internet, id: 77, srcMAC: Self.mac)
        let echoOut = key(T.container, 77, T.internet, 77, Self.icmp)
        XCTAssertEqual(try f.ep(ping).verdict, T.redirect)
        try assertFlow(f, echoOut, BP_FLOW_UNREPLIED, expiresIn: 33, "echo request")
        XCTAssertEqual(try f.up(Frame.icmpEcho(src: T.internet, dst: T.hostIP, type: 0, id: 77)).verdict, T.redirect)
        try assertFlow(f, echoOut, BP_FLOW_REPLIED, expiresIn: 33, "echo reply")
        try assertPaired(f)
    }

    /// A flow has one expiry: packets of one direction only (a keepalive) keep both entries
    /// alive, refreshed together at most once a second.
    func testOneWayTrafficKeepsBothEntriesAlive() throws {
        let f = try DataplaneFixture.make(for: self)
        try f.setEndpoint(flags: [BP_EP_F_ENFORCE_SOURCE, BP_EP_F_ISOLATED, BP_EP_F_MASQUERADE])
        let keepalive = Frame.udp(src: T.container, dst: T.internet, sport: 51820, dport: 51820, srcMAC: Self.mac)
        let outbound = key(T.container, 51820, T.internet, 51820, T.udp)
        _ = try f.ep(keepalive)
        let reply = FlowTable.otherKey(outbound, try XCTUnwrap(f.flow(outbound)))
        for half in [outbound, reply] {  // as if the flow had been idle for 29 s
            var entry = try XCTUnwrap(f.flow(half))
            entry.expires = FlowTable.now() + 1
            entry.seen = UInt8(truncatingIfNeeded: FlowTable.now() &- 29)
            try f.maps.flows.map.update(half, entry)
        }
        _ = try f.ep(keepalive)
        for half in [outbound, reply] {
            let expires = try XCTUnwrap(f.flow(half)).expires
            XCTAssertTrue((FlowTable.now() + 29...FlowTable.now() + 31).contains(expires), "both entries refreshed")
        }
        let before = try f.flowEntries().map { rawBytes($0.key) + rawBytes($0.value) }.sorted { $0.hex < $1.hex }
        let second = FlowTable.now()
        _ = try f.ep(keepalive)
        if FlowTable.now() == second {
            XCTAssertEqual(
                try f.flowEntries().map { rawBytes($0.key) + rawBytes($0.value) }.sorted { $0.hex < $1.hex }, before,
                "a packet in the same second writes nothing")
        }
    }

    /// ICMP echo: a request from outside never matches a reply tuple (outsiders cannot
    /// ping a container through a masqueraded ping's identifier).
    func testAnEchoRequestFromOutsideDoesNotFollowAMasqueradedPing() throws {
        let f = try DataplaneFixture.make(for: self)
        try f.setEndpoint(flags: [BP_EP_F_ENFORCE_SOURCE, BP_EP_F_ISOLATED, BP_EP_F_MASQUERADE])
        XCTAssertEqual(
            try f.ep(Frame.icmpEcho(src: T.container, dst: T.internet, id: 99, srcMAC: Self.mac)).verdict, T.redirect)
        let request = Frame.icmpEcho(src: T.internet, dst: T.hostIP, type: 8, id: 99)
        assertUntouched(try f.up(request), request, "an echo request on the reply tuple")
        XCTAssertEqual(
            try f.up(Frame.icmpEcho(src: T.internet, dst: T.hostIP, type: 0, id: 99)).verdict, T.redirect,
            "the echo reply")
        // A container's echo reply opens no flow; untranslated, it would leave with the
        // container's address, so it is dropped.
        let answer = Frame.icmpEcho(src: T.container, dst: T.internet, type: 0, id: 5, srcMAC: Self.mac)
        assertShot(try f.ep(answer), answer, "an echo reply without a flow")
        XCTAssertEqual(
            try f.drops()[
                bp_drop_key(ifindex: f.endpointIfindex, reason: BP_DROP_UNTRANSLATABLE, direction: BP_DIR_EGRESS)], 1)
        XCTAssertEqual(try f.flowEntries().count, 2)
    }

    /// An expired flow the collector has not removed yet is gone for the programs: the
    /// next packet starts a new one, and a port it held is free again.
    func testAnExpiredFlowIsRemovedByTheNextPacketAndItsPortIsFree() throws {
        let f = try DataplaneFixture.make(for: self)
        try f.setEndpoint(flags: [BP_EP_F_ENFORCE_SOURCE, BP_EP_F_ISOLATED, BP_EP_F_MASQUERADE])
        let past = FlowTable.now() - 5
        // The neighbour's flow held host port 5000 to 8.8.8.8:53; it expired.
        try seedMasquerade(f, from: T.neighbour, 5000, to: T.internet, 53, hostPort: 5000, proto: T.udp, expires: past)
        let port = try sourcePort(
            try f.ep(Frame.udp(src: T.container, dst: T.internet, sport: 5000, dport: 53, srcMAC: Self.mac)))
        XCTAssertEqual(port, 5000, "the expired flow's port is the container's again")
        XCTAssertNil(try f.flow(key(T.neighbour, 5000, T.internet, 53, T.udp)), "the expired flow went, both halves")
        XCTAssertEqual(try counter(f, BP_FLOW_EV_REAPED, T.udp), 1)

        // Its own flow, expired: the next packet finds none and starts anew.
        let outbound = key(T.container, 5000, T.internet, 53, T.udp)
        for half in [outbound, FlowTable.otherKey(outbound, try XCTUnwrap(f.flow(outbound)))] {
            var entry = try XCTUnwrap(f.flow(half))
            entry.expires = past
            entry.state = UInt8(BP_FLOW_STREAM.rawValue)
            try f.maps.flows.map.update(half, entry)
        }
        _ = try f.ep(Frame.udp(src: T.container, dst: T.internet, sport: 5000, dport: 53, srcMAC: Self.mac))
        try assertFlow(f, outbound, BP_FLOW_UNREPLIED, expiresIn: 30, "a new flow")
        XCTAssertEqual(try counter(f, BP_FLOW_EV_REAPED, T.udp), 2)
        XCTAssertEqual(try counter(f, BP_FLOW_EV_CREATED, T.udp), 2)
        try assertPaired(f)
    }

    // MARK: masquerade's ports

    func testMasqueradeKeepsTheContainersPortWhenFreeElseOneOfTheSameClass() throws {
        let f = try DataplaneFixture.make(for: self)
        try f.setEndpoint(flags: [BP_EP_F_ENFORCE_SOURCE, BP_EP_F_ISOLATED, BP_EP_F_MASQUERADE])
        // The neighbour holds these host ports toward these destinations.
        try seedMasquerade(f, from: T.neighbour, 34567, to: T.internet, 443, hostPort: 34567, proto: T.tcp)
        try seedMasquerade(f, from: T.neighbour, 123, to: T.internet, 123, hostPort: 123, proto: T.udp)
        try seedMasquerade(f, from: T.neighbour, 700, to: T.internet, 123, hostPort: 700, proto: T.udp)

        let tcp = try sourcePort(
            try f.ep(Frame.tcp(src: T.container, dst: T.internet, sport: 34567, dport: 443, srcMAC: Self.mac)))
        XCTAssertNotEqual(tcp, 34567)
        XCTAssertTrue((1024...65535).contains(tcp), "an unprivileged port for an unprivileged one: \(tcp)")
        let ntp = try sourcePort(
            try f.ep(Frame.udp(src: T.container, dst: T.internet, sport: 123, dport: 123, srcMAC: Self.mac)))
        XCTAssertNotEqual(ntp, 123)
        XCTAssertTrue((1...511).contains(ntp), "1-511 for a port below 512: \(ntp)")
        let high = try sourcePort(
            try f.ep(Frame.udp(src: T.container, dst: T.internet, sport: 700, dport: 123, srcMAC: Self.mac)))
        XCTAssertNotEqual(high, 700)
        XCTAssertTrue((600...1023).contains(high), "600-1023 for a port from 512 to 1023: \(high)")
        // Toward another destination port the same host port is free.
        XCTAssertEqual(
            try sourcePort(
                try f.ep(Frame.tcp(src: T.container, dst: T.internet, sport: 34567, dport: 444, srcMAC: Self.mac))),
            34567)

        // Never a published host port (its flows would meet the published port's).
        try f.publish(host: nil, 5353, proto: T.udp, to: T.neighbour, 53)
        XCTAssertNotEqual(
            try sourcePort(
                try f.ep(Frame.udp(src: T.container, dst: T.internet, sport: 5353, dport: 53, srcMAC: Self.mac))), 5353)

        // Never a port a host socket would take the replies of; a TCP listener takes none.
        let (udpSocket, listener): (Int32, Int32) = try Sandbox.inNetns(f.ns) {
            (try Self.bound(SOCK_DGRAM, T.hostIP, 6000), try Self.bound(SOCK_STREAM, T.hostIP, 7000, listen: true))
        }
        defer {
            close(udpSocket)
            close(listener)
        }
        XCTAssertNotEqual(
            try sourcePort(
                try f.ep(Frame.udp(src: T.container, dst: T.internet, sport: 6000, dport: 53, srcMAC: Self.mac))), 6000)
        XCTAssertEqual(
            try sourcePort(
                try f.ep(Frame.tcp(src: T.container, dst: T.internet, sport: 7000, dport: 443, srcMAC: Self.mac))), 7000
        )

        XCTAssertTrue(try f.drops().isEmpty)
        try assertPaired(f)
    }

    static func bound(
        _ type: __socket_type, _ address: [UInt8], _ port: UInt16, listen backlog: Bool = false
    ) throws -> Int32 {
        let fd = socket(AF_INET, Int32(type.rawValue), 0)
        var sin = sockaddr_in()
        sin.sin_family = sa_family_t(AF_INET)
        sin.sin_port = port.bigEndian
        sin.sin_addr.s_addr = be32(address)
        let rc = withUnsafePointer(to: &sin) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard fd >= 0, rc == 0, !backlog || listen(fd, 1) == 0 else {
            throw Sandbox.Failure("bind \(address):\(port): \(errno)")
        }
        return fd
    }

    /// Every port of the class taken toward one destination: the packet is dropped and
    /// counted (nat_exhausted), never sent with the container's own address.
    func testExhaustedPortsAreDroppedAndCounted() throws {
        let f = try DataplaneFixture.make(for: self)
        try f.setEndpoint(flags: [BP_EP_F_ENFORCE_SOURCE, BP_EP_F_ISOLATED, BP_EP_F_MASQUERADE])
        let taken = bp_flow(
            kind: BP_FLOW_MASQUERADE, state: BP_FLOW_REPLIED, flags: BP_FLOW_F_DNAT.rawValue | BP_FLOW_F_REPLY.rawValue,
            created: FlowTable.now(), expires: FlowTable.now() + 3600)
        for port in UInt16(1024)...UInt16(65535) {
            try f.maps.flows.map.update(key(T.internet, 53, T.hostIP, port, T.udp), taken)
        }
        let entries = try f.flowEntries().count
        let query = Frame.udp(src: T.container, dst: T.internet, sport: 40000, dport: 53, srcMAC: Self.mac)
        let result = try f.ep(query)
        XCTAssertEqual(result.verdict, T.shot)
        XCTAssertEqual(result.packet, query, "not rewritten")
        XCTAssertEqual(
            try f.drops()[
                bp_drop_key(ifindex: f.endpointIfindex, reason: BP_DROP_NAT_EXHAUSTED, direction: BP_DIR_EGRESS)], 1)
        XCTAssertEqual(try f.flowEntries().count, entries, "nothing left behind")
        // Another destination port has every port free.
        XCTAssertEqual(
            try sourcePort(
                try f.ep(Frame.udp(src: T.container, dst: T.internet, sport: 40000, dport: 54, srcMAC: Self.mac))),
            40000)
    }

    // MARK: a full table

    /// A full table drops new flows (ct_full, counted where they belong) and never half of
    /// one, while the flows it holds go on.
    func testAFullTableDropsNewFlowsOnly() throws {
        let f = try DataplaneFixture.make(for: self, maxFlows: 4)
        try f.setEndpoint(flags: [BP_EP_F_ENFORCE_SOURCE, BP_EP_F_ISOLATED, BP_EP_F_MASQUERADE])
        try f.publish(host: nil, 5000, proto: T.tcp, to: T.container, 80)
        for port in UInt16(41000)..<41003 {
            _ = try sourcePort(
                try f.ep(Frame.udp(src: T.container, dst: T.internet, sport: port, dport: 53, srcMAC: Self.mac)))
        }
        XCTAssertEqual(try f.up(Frame.tcp(src: T.client, dst: T.hostIP, sport: 40000, dport: 5000)).verdict, T.redirect)
        XCTAssertEqual(try f.flowEntries().count, 8, "full")

        let newOut = Frame.udp(src: T.container, dst: T.internet, sport: 41009, dport: 53, srcMAC: Self.mac)
        XCTAssertEqual(try f.ep(newOut).verdict, T.shot)
        let newIn = Frame.tcp(src: T.client, dst: T.hostIP, sport: 40009, dport: 5000)
        XCTAssertEqual(try f.up(newIn).verdict, T.shot)
        XCTAssertEqual(
            try f.drops(),
            [
                bp_drop_key(ifindex: f.endpointIfindex, reason: BP_DROP_CT_FULL, direction: BP_DIR_EGRESS): 1,
                bp_drop_key(ifindex: f.endpointIfindex, reason: BP_DROP_CT_FULL, direction: BP_DIR_INGRESS): 1,
            ])
        // Known flows go on, both ways.
        XCTAssertEqual(
            try sourcePort(
                try f.ep(Frame.udp(src: T.container, dst: T.internet, sport: 41000, dport: 53, srcMAC: Self.mac))),
            41000)
        XCTAssertEqual(
            try f.up(Frame.tcp(src: T.client, dst: T.hostIP, sport: 40000, dport: 5000, flags: Frame.tcpACK)).verdict,
            T.redirect)
        XCTAssertEqual(
            try f.ep(
                Frame.tcp(
                    src: T.container, dst: T.client, sport: 80, dport: 40000, flags: Frame.tcpSYNACK, srcMAC: Self.mac)
            ).verdict,
            T.redirect)
        try assertPaired(f)

        // Room for one entry only: the reply half fits, the original does not, and the reply goes again.
        let flows = f.maps.flows.map
        try flows.delete(
            try XCTUnwrap(
                try f.flowEntries().first {
                    Self.isReply($0.value) && $0.value.kind == UInt8(BP_FLOW_MASQUERADE.rawValue)
                }
            ).key)
        let left = try f.flowEntries().count
        XCTAssertEqual(try f.ep(newOut).verdict, T.shot)
        XCTAssertEqual(try f.flowEntries().count, left, "no half flow")
    }

    // MARK: published ports

    /// -p 8080:80 -p 8081:80 and a client that uses one source port for both: the second
    /// flow's client port is remapped, as Linux's NAT does on a clash, so that each flow's
    /// replies leave from the address the client used.
    func testTwoPublishedPortsOfOneContainerPortKeepTheirRepliesApart() throws {
        let f = try DataplaneFixture.make(for: self)
        try f.setEndpoint(flags: [BP_EP_F_ENFORCE_SOURCE, BP_EP_F_ISOLATED])
        try f.publish(host: nil, 8080, proto: T.udp, to: T.container, 80)
        try f.publish(host: nil, 8081, proto: T.udp, to: T.container, 80)

        let first = try f.up(
            Frame.udp(src: T.client, dst: T.hostIP, sport: 40000, dport: 8080, payload: Array("a".utf8)))
        XCTAssertEqual(first.verdict, T.redirect)
        XCTAssertEqual(try ParsedIPv4(first.packet).sourcePort, 40000, "the first flow keeps the client's port")
        let second = try f.up(
            Frame.udp(src: T.client, dst: T.hostIP, sport: 40000, dport: 8081, payload: Array("b".utf8)))
        XCTAssertEqual(second.verdict, T.redirect)
        let remapped = try ParsedIPv4(second.packet)
        XCTAssertEqual(
            [remapped.destination, [UInt8(remapped.destinationPort >> 8), UInt8(remapped.destinationPort & 0xff)]],
            [T.container, [0, 80]])
        XCTAssertNotEqual(remapped.sourcePort, 40000, "a clash: the client's port is remapped")
        XCTAssertTrue(remapped.l4ChecksumValid)

        let replyA = try f.ep(
            Frame.udp(
                src: T.container, dst: T.client, sport: 80, dport: 40000, payload: Array("A".utf8), srcMAC: Self.mac))
        try assertRewritten(
            replyA,
            to: Frame.udp(
                src: T.hostIP, dst: T.client, sport: 8080, dport: 40000, payload: Array("A".utf8),
                srcMAC: Self.mac), "the first flow's reply")
        let replyB = try f.ep(
            Frame.udp(
                src: T.container, dst: T.client, sport: 80, dport: remapped.sourcePort, payload: Array("B".utf8),
                srcMAC: Self.mac))
        try assertRewritten(
            replyB,
            to: Frame.udp(
                src: T.hostIP, dst: T.client, sport: 8081, dport: 40000, payload: Array("B".utf8),
                srcMAC: Self.mac), "the second flow's reply, its client port restored")
        // The next packet of the second flow is remapped the same way.
        let again = try f.up(
            Frame.udp(src: T.client, dst: T.hostIP, sport: 40000, dport: 8081, payload: Array("c".utf8)))
        XCTAssertEqual(try ParsedIPv4(again.packet).sourcePort, remapped.sourcePort)
        XCTAssertEqual(try f.flowEntries().count, 4)
        try assertPaired(f)
    }

    // MARK: hairpin

    /// A flow to another network's published target passes the policy and is tracked once;
    /// exactly its replies pass on the target's side.
    func testHairpinFlowsLetExactlyTheirRepliesThrough() throws {
        let f = try DataplaneFixture.make(for: self)
        try f.setEndpoint(flags: [BP_EP_F_ENFORCE_SOURCE, BP_EP_F_ISOLATED])
        try f.publish(host: nil, 5000, proto: T.tcp, to: T.other, 80)
        let request = Frame.tcp(src: T.container, dst: T.other, sport: 33000, dport: 80, srcMAC: Self.mac)
        XCTAssertEqual(try f.ep(request).verdict, T.next)
        let original = key(T.container, 33000, T.other, 80, T.tcp)
        let created = try XCTUnwrap(f.flow(original))
        XCTAssertEqual(created.kind, UInt8(BP_FLOW_HAIRPIN.rawValue))
        XCTAssertEqual(try f.ep(request).verdict, T.next)
        XCTAssertEqual(
            rawBytes(try XCTUnwrap(f.flow(original))), rawBytes(created),
            "a packet of a known flow in the same second writes nothing")
        XCTAssertEqual(try f.flowEntries().count, 2)

        // The same veth now plays the target's (network 2): its replies pass, nothing else does.
        try f.maps.setEndpoint(
            ifindex: f.endpointIfindex,
            bp_endpoint(
                ipv4: T.other, mac: Self.mac, networkID: 2,
                flags: BP_EP_F_ENFORCE_SOURCE.rawValue | BP_EP_F_ISOLATED.rawValue))
        XCTAssertEqual(
            try f.ep(
                Frame.tcp(
                    src: T.other, dst: T.container, sport: 80, dport: 33000, flags: Frame.tcpSYNACK, srcMAC: Self.mac)
            ).verdict,
            T.next)
        try assertFlow(f, original, BP_FLOW_SYN_RECV, expiresIn: 120, "answered")
        XCTAssertEqual(
            try f.ep(
                Frame.tcp(
                    src: T.other, dst: T.container, sport: 80, dport: 33001, flags: Frame.tcpSYNACK, srcMAC: Self.mac)
            ).verdict,
            T.shot, "not a reply of a tracked flow")
        try assertPaired(f)

        XCTAssertEqual(try f.maps.flows.flush(ifindex: f.endpointIfindex, address: nil), 1)
        XCTAssertTrue(try f.flowEntries().isEmpty, "flushed, both halves")
    }

    // MARK: the collector

    func testTheCollectorRemovesExpiredFlowsByPairsAndCountsTheRest() throws {
        let f = try DataplaneFixture.make(for: self)
        let table = f.maps.flows
        let now = FlowTable.now()
        let past = now - 10
        // Expired both ways: removed.
        try seedMasquerade(f, from: T.neighbour, 1000, to: T.internet, 53, hostPort: 1000, proto: T.udp, expires: past)
        // An expired original whose reply tuple another live flow has now (its own reply
        // entry was lost): the original goes, the other flow stays whole.
        try seedMasquerade(f, from: T.neighbour, 1001, to: T.internet, 53, hostPort: 1001, proto: T.udp)
        let halfLive = key(T.internet, 53, T.hostIP, 1001, T.udp)
        let reply = try XCTUnwrap(f.flow(halfLive))
        let stale = key([10, 40, 0, 9], 1001, T.internet, 53, T.udp)
        var staleEntry = try XCTUnwrap(f.flow(key(T.neighbour, 1001, T.internet, 53, T.udp)))
        staleEntry.expires = past
        try table.map.update(stale, staleEntry)
        // Live.
        try seedMasquerade(f, from: T.neighbour, 1002, to: T.internet, 53, hostPort: 1002, proto: T.udp)
        try seedMasquerade(f, from: T.neighbour, 1003, to: T.internet, 443, hostPort: 1002, proto: T.tcp)
        try f.seedPublishedFlow(
            client: T.client, clientPort: 40000, host: T.hostIP, hostPort: 5000, container: T.container,
            containerPort: 80, proto: T.tcp)
        // A lone reply entry that expired, whose "original" is another flow's: removed.
        let lone = key(T.internet, 53, T.hostIP, 2000, T.udp)
        var orphan = reply
        orphan.expires = past
        try table.map.update(lone, orphan)

        let pass = try table.collect(now: now)
        XCTAssertEqual(pass.scanned, 12)
        XCTAssertEqual(pass.expired, [T.udp: 2])
        XCTAssertNil(try f.flow(key(T.neighbour, 1000, T.internet, 53, T.udp)))
        XCTAssertNil(try f.flow(key(T.internet, 53, T.hostIP, 1000, T.udp)))
        XCTAssertNil(try f.flow(lone))
        XCTAssertNil(try f.flow(stale))
        XCTAssertNotNil(try f.flow(halfLive), "another flow's entry is never taken for the other half")
        XCTAssertNotNil(try f.flow(key(T.neighbour, 1001, T.internet, 53, T.udp)))
        XCTAssertEqual(try f.flowEntries().count, 8)
        XCTAssertEqual(pass.census.total, 4)
        XCTAssertEqual(pass.census.flows[FlowCensus.StateKey(proto: T.udp, state: UInt8(BP_FLOW_REPLIED.rawValue))], 2)
        XCTAssertEqual(
            pass.census.flows[FlowCensus.StateKey(proto: T.tcp, state: UInt8(BP_FLOW_ESTABLISHED.rawValue))], 1)
        XCTAssertEqual(
            pass.census.masquerade[FlowCensus.HostKey(hostIP: be32(T.hostIP), proto: T.udp)],
            FlowCensus.PortUse(flows: 2, ports: 2))
        XCTAssertEqual(try counter(f, BP_FLOW_EV_EXPIRED, T.udp), 2)
        XCTAssertEqual(try table.counters()[FlowTable.gcRunsIndex], 1)
        try assertPaired(f)
    }

    /// Nearly full: unanswered flows from outside go, oldest first; established flows and
    /// flows the containers opened stay.
    func testTheCollectorEvictsOnlyUnansweredFlowsFromOutside() throws {
        let f = try DataplaneFixture.make(for: self, maxFlows: 10)
        let table = f.maps.flows
        for i in 0..<6 {
            try f.seedPublishedFlow(
                client: [198, 18, 0, UInt8(i)], clientPort: 1000, host: T.hostIP, hostPort: 5000,
                container: T.container, containerPort: 80, proto: T.tcp, state: BP_FLOW_SYN_RECV)
            let inbound = key([198, 18, 0, UInt8(i)], 1000, T.hostIP, 5000, T.tcp)
            var entry = try XCTUnwrap(f.flow(inbound))
            entry.created = FlowTable.now() - UInt32(100 - i)  // 198.18.0.0 is the oldest
            try table.map.update(inbound, entry)
        }
        for i in 0..<2 {
            try f.seedPublishedFlow(
                client: [198, 19, 0, UInt8(i)], clientPort: 1000, host: T.hostIP, hostPort: 5000,
                container: T.container, containerPort: 80, proto: T.tcp)
        }
        try seedMasquerade(f, from: T.neighbour, 1000, to: T.internet, 53, hostPort: 1000, proto: T.udp)
        let outbound = key(T.neighbour, 1000, T.internet, 53, T.udp)
        for half in [outbound, FlowTable.otherKey(outbound, try XCTUnwrap(f.flow(outbound)))] {
            var unanswered = try XCTUnwrap(f.flow(half))
            unanswered.state = UInt8(BP_FLOW_UNREPLIED.rawValue)
            unanswered.created = FlowTable.now() - 200
            try table.map.update(half, unanswered)
        }
        XCTAssertEqual(try f.flowEntries().count, 18)

        let pass = try table.collect(evictAbove: 0.8, evictTo: 0.5)
        XCTAssertEqual(pass.evicted, [T.tcp: 4])
        for i in 0..<6 {
            XCTAssertEqual(
                try f.flow(key([198, 18, 0, UInt8(i)], 1000, T.hostIP, 5000, T.tcp)) == nil, i < 4,
                "embryonic flow \(i)")
        }
        for i in 0..<2 {
            XCTAssertNotNil(
                try f.flow(key([198, 19, 0, UInt8(i)], 1000, T.hostIP, 5000, T.tcp)), "established flow \(i)")
        }
        XCTAssertNotNil(try f.flow(key(T.neighbour, 1000, T.internet, 53, T.udp)), "a container's own flow")
        XCTAssertEqual(pass.census.total, 5)
        XCTAssertEqual(try counter(f, BP_FLOW_EV_EVICTED, T.tcp), 4)
        try assertPaired(f)
    }

    func testFlushesRemoveWholeFlowsByOwner() throws {
        let f = try DataplaneFixture.make(for: self)
        let table = f.maps.flows
        try seedMasquerade(f, from: T.neighbour, 1000, to: T.internet, 53, hostPort: 1000, proto: T.udp)  // ifindex 1003
        try seedMasquerade(f, from: [10, 40, 0, 4], 1000, to: T.internet, 54, hostPort: 1000, proto: T.udp)  // ifindex 1004
        try f.seedPublishedFlow(
            client: T.client, clientPort: 40000, host: T.hostIP2, hostPort: 5000, container: T.container,
            containerPort: 80, proto: T.tcp)
        XCTAssertEqual(try table.flush(ifindex: 1003, address: nil), 1, "by the container's veth")
        XCTAssertEqual(try table.flush(ifindex: nil, address: be32([10, 40, 0, 4])), 1, "by the container's address")
        XCTAssertEqual(try table.flush(addresses: [be32(T.hostIP2)]), 1, "by a host address that went")
        XCTAssertTrue(try f.flowEntries().isEmpty)
        XCTAssertEqual(try counter(f, BP_FLOW_EV_FLUSHED, T.udp), 2)
        XCTAssertEqual(try counter(f, BP_FLOW_EV_FLUSHED, T.tcp), 1)
    }
}
