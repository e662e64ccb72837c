import BPF
import CBPF
import Glibc
import Model
import XCTest

/// NAT66 masquerade (bpf/lib/nat6.h): IPv6 from a container of a masquerading dual-stack
/// network to beyond the host leaves with the uplink's address (the route's preferred
/// source), its replies come back to the container, both directions live in bp_flows6 with
/// IPv4's lifecycle; what cannot be translated is dropped, counted.
final class NAT66Tests: XCTestCase {
    typealias T = NATAndPolicyTests
    typealias V6 = IPv6Tests

    static let masquerading = [BP_EP_F_ENFORCE_SOURCE, BP_EP_F_ISOLATED, BP_EP_F_MASQUERADE, BP_EP_F_MASQUERADE6]

    override func setUpWithError() throws {
        try Sandbox.requireRoot()
        try DataplaneFixture.buildObjects()
    }

    func makeFixture() throws -> DataplaneFixture {
        let f = try DataplaneFixture.make(for: self)
        try f.setEndpoint(flags: Self.masquerading, ip6: V6.container)
        return f
    }

    /// A frame as it leaves a translation: one hop later (the hop limit is not checksummed).
    static func afterHop(_ frame: [UInt8]) -> [UInt8] {
        var frame = frame
        frame[14 + 7] -= 1
        return frame
    }

    static func key(_ src: [UInt8], _ dst: [UInt8], _ sport: UInt16, _ dport: UInt16, _ proto: UInt8) -> bp_flow6_key {
        var key = bp_flow6_key()
        withUnsafeMutableBytes(of: &key.src_ip) { $0.copyBytes(from: src) }
        withUnsafeMutableBytes(of: &key.dst_ip) { $0.copyBytes(from: dst) }
        key.src_port = be16(sport)
        key.dst_port = be16(dport)
        key.proto = proto
        return key
    }

    func flows6(_ f: DataplaneFixture) throws -> [(key: bp_flow6_key, value: bp_flow6)] {
        try f.maps.flows6.map.entries(as: (bp_flow6_key.self, bp_flow6.self))
    }

    func testNAT66RoundTripForTCPUDPAndICMPv6Echo() throws {
        let f = try makeFixture()
        let mac = T.containerMAC

        // TCP: out with the uplink's address, the container's own port kept while free.
        let syn = Frame.tcp6(src: V6.container, dst: V6.internet, sport: 41000, dport: 443, srcMAC: mac)
        assertTranslated(
            try f.ep(syn), to: Frame.tcp6(src: V6.hostIP, dst: V6.internet, sport: 41000, dport: 443, srcMAC: mac),
            "masqueraded SYN")
        let out = try XCTUnwrap(
            try f.maps.flows6.map.lookup(Self.key(V6.container, V6.internet, 41000, 443, T.tcp), as: bp_flow6.self))
        XCTAssertEqual(out.natAddress, IPv6Address(bytes: V6.hostIP).raw)
        XCTAssertEqual(
            [UInt32(out.nat_port), UInt32(out.kind), UInt32(out.flags), UInt32(out.state)],
            [UInt32(be16(41000)), BP_FLOW_MASQUERADE.rawValue, BP_FLOW_F_SNAT.rawValue, BP_FLOW_SYN_SENT.rawValue])
        let back = try XCTUnwrap(
            try f.maps.flows6.map.lookup(Self.key(V6.internet, V6.hostIP, 443, 41000, T.tcp), as: bp_flow6.self))
        XCTAssertEqual(back.natAddress, IPv6Address(bytes: V6.container).raw)
        XCTAssertEqual(
            [back.ifindex, UInt32(back.flags)],
            [f.endpointIfindex, BP_FLOW_F_DNAT.rawValue | BP_FLOW_F_REPLY.rawValue])

        let synAck = Frame.tcp6(src: V6.internet, dst: V6.hostIP, sport: 443, dport: 41000, flags: Frame.tcpSYNACK)
        assertTranslated(
            try f.up(synAck),
            to: Frame.tcp6(src: V6.internet, dst: V6.container, sport: 443, dport: 41000, flags: Frame.tcpSYNACK),
            "SYN-ACK back to the container")
        let ack = Frame.tcp6(
            src: V6.container, dst: V6.internet, sport: 41000, dport: 443, flags: Frame.tcpACK, srcMAC: mac)
        assertTranslated(
            try f.ep(ack),
            to: Frame.tcp6(
                src: V6.hostIP, dst: V6.internet, sport: 41000, dport: 443, flags: Frame.tcpACK, srcMAC: mac),
            "ACK")
        let established = try XCTUnwrap(
            try f.maps.flows6.map.lookup(Self.key(V6.internet, V6.hostIP, 443, 41000, T.tcp), as: bp_flow6.self))
        XCTAssertEqual(UInt32(established.state), BP_FLOW_ESTABLISHED.rawValue, "both entries move on together")

        // UDP, an odd payload length.
        let query = Array("dns?!".utf8)
        assertTranslated(
            try f.ep(
                Frame.udp6(src: V6.container, dst: V6.internet, sport: 45678, dport: 53, payload: query, srcMAC: mac)),
            to: Frame.udp6(src: V6.hostIP, dst: V6.internet, sport: 45678, dport: 53, payload: query, srcMAC: mac),
            "masqueraded UDP")
        assertTranslated(
            try f.up(Frame.udp6(src: V6.internet, dst: V6.hostIP, sport: 53, dport: 45678, payload: query)),
            to: Frame.udp6(src: V6.internet, dst: V6.container, sport: 53, dport: 45678, payload: query),
            "UDP answer back")

        // ICMPv6 echo: the identifier plays the port; the checksum covers the pseudo-header.
        assertTranslated(
            try f.ep(Frame.icmp6Echo(src: V6.container, dst: V6.internet, id: 0x1234, seq: 7, srcMAC: mac)),
            to: Frame.icmp6Echo(src: V6.hostIP, dst: V6.internet, id: 0x1234, seq: 7, srcMAC: mac), "ping")
        assertTranslated(
            try f.up(Frame.icmp6Echo(src: V6.internet, dst: V6.hostIP, type: Frame.icmp6EchoReply, id: 0x1234, seq: 7)),
            to: Frame.icmp6Echo(src: V6.internet, dst: V6.container, type: Frame.icmp6EchoReply, id: 0x1234, seq: 7),
            "echo reply back")

        // A reply nobody masqueraded is the host's; IPv4's table holds none of these flows.
        let stray = Frame.tcp6(src: V6.internet, dst: V6.hostIP, sport: 443, dport: 41001, flags: Frame.tcpSYNACK)
        assertUntouched(try f.up(stray), stray, "reply to an unknown port")
        XCTAssertEqual(try flows6(f).count, 6, "three flows, two entries each")
        XCTAssertTrue(try f.flowEntries().isEmpty)
        XCTAssertTrue(try f.drops().isEmpty)
        let counters = try f.maps.flows.counters()
        XCTAssertEqual(counters[FlowTable.counterIndex(.created, proto: T.tcp)], 1)
        XCTAssertEqual(counters[FlowTable.counterIndex(.created, proto: FlowProtocol.icmpv6)], 1, "counted as ICMP")

        // The listing reads both directions as one flow.
        let listed = try f.maps.flows6.flows()
        XCTAssertEqual(listed.count, 3)
        let tcp = try XCTUnwrap(listed.first { $0.proto == T.tcp })
        XCTAssertEqual(tcp.reply, Self.key(V6.internet, V6.hostIP, 443, 41000, T.tcp))
        XCTAssertEqual(tcp.stateLabel, "established")
    }

    /// The container's port is taken by another flow to the same destination: another one,
    /// of the same class, with the checksum right.
    func testAPortClashGetsAnotherPort() throws {
        let f = try makeFixture()
        // The reply tuple of the container's port is held by a live flow.
        let now = FlowTable.now()
        let holder = Self.liveReplyEntry(now: now)
        try f.maps.flows6.map.update(Self.key(V6.internet, V6.hostIP, 443, 41000, T.tcp), holder)
        let result = try f.ep(
            Frame.tcp6(src: V6.container, dst: V6.internet, sport: 41000, dport: 443, srcMAC: T.containerMAC))
        XCTAssertEqual(result.verdict, T.redirect)
        let port = UInt16(result.packet[54]) << 8 | UInt16(result.packet[55])
        XCTAssertNotEqual(port, 41000)
        XCTAssertGreaterThanOrEqual(port, 1024)
        assertTranslated(
            result,
            to: Frame.tcp6(src: V6.hostIP, dst: V6.internet, sport: port, dport: 443, srcMAC: T.containerMAC),
            "remapped SYN")
    }

    static func liveReplyEntry(now: UInt32) -> bp_flow6 {
        var entry = bp_flow6()
        entry.kind = UInt8(BP_FLOW_MASQUERADE.rawValue)
        entry.state = UInt8(BP_FLOW_ESTABLISHED.rawValue)
        entry.flags = UInt8(BP_FLOW_F_REPLY.rawValue | BP_FLOW_F_DNAT.rawValue)
        entry.created = now
        entry.expires = now + 3600
        return entry
    }

    /// Extension headers are followed (the ports are after them); fragments and ICMPv6 errors
    /// without a translation, and protocols NAT66 does not track, never leave with the
    /// container's address.
    func testWhatNAT66CannotTranslateIsDroppedCounted() throws {
        let f = try makeFixture()
        let mac = T.containerMAC
        let withOptions = Frame.tcp6(
            src: V6.container, dst: V6.internet, sport: 41000, dport: 443, extensions: [.destinationOptions()],
            srcMAC: mac)
        assertTranslated(
            try f.ep(withOptions),
            to: Frame.tcp6(
                src: V6.hostIP, dst: V6.internet, sport: 41000, dport: 443, extensions: [.destinationOptions()],
                srcMAC: mac),
            "behind a destination options header")

        // A later fragment whose first fragment never came (NAT66ErrorAndFragmentTests: those that did).
        let later = Frame.ethernet6(
            src: V6.container, dst: V6.internet, nextHeader: 17, payload: Array(repeating: 0x42, count: 16),
            extensions: [.fragment(offset: 2, more: false, id: 7)], srcMAC: mac, dstMAC: nil)
        let error = Frame.icmp6(
            src: V6.container, dst: V6.internet, type: 1, code: 4, body: [0, 0, 0, 0] + Array(repeating: 0, count: 48),
            srcMAC: mac)
        let sctp = Frame.ethernet6(
            src: V6.container, dst: V6.internet, nextHeader: 132, payload: Array(repeating: 0, count: 12),
            extensions: [], srcMAC: mac, dstMAC: nil)
        let echoReply = Frame.icmp6Echo(
            src: V6.container, dst: V6.internet, type: Frame.icmp6EchoReply, id: 9, srcMAC: mac)
        for (frame, reason) in [
            (later, BP_DROP_FRAGMENT), (error, BP_DROP_UNTRANSLATABLE),
            (sctp, BP_DROP_IPV6_UNSUPPORTED), (echoReply, BP_DROP_UNTRANSLATABLE),
        ] {
            let before =
                try f.drops()[bp_drop_key(ifindex: f.endpointIfindex, reason: reason, direction: BP_DIR_EGRESS)] ?? 0
            assertShot(try f.ep(frame), frame, "\(reason)")
            XCTAssertEqual(
                try f.drops()[bp_drop_key(ifindex: f.endpointIfindex, reason: reason, direction: BP_DIR_EGRESS)],
                before + 1)
        }
        XCTAssertEqual(try flows6(f).count, 2, "only the TCP flow")

        // IPv4's gateway mode is not IPv6's: IPv4's flags give IPv6 no way out.
        try f.setEndpoint(
            flags: [BP_EP_F_ENFORCE_SOURCE, BP_EP_F_ISOLATED, BP_EP_F_MASQUERADE, BP_EP_F_TRACK_OUT], ip6: V6.container)
        let neither = Frame.tcp6(src: V6.container, dst: V6.internet, sport: 42000, dport: 443, srcMAC: mac)
        assertShot(try f.ep(neither), neither, "IPv6 without a way out")
        XCTAssertEqual(
            try f.drops()[
                bp_drop_key(ifindex: f.endpointIfindex, reason: BP_DROP_IPV6_UNSUPPORTED, direction: BP_DIR_EGRESS)], 2)
        // A macvlan container's (PASS_OUT6): as it is, untracked.
        try f.setEndpoint(flags: [BP_EP_F_ENFORCE_SOURCE, BP_EP_F_ISOLATED, BP_EP_F_PASS_OUT6], ip6: V6.container)
        assertUntouched(try f.ep(neither), neither, "IPv6 on the LAN")
        XCTAssertEqual(try flows6(f).count, 2, "not tracked")
    }

    /// gateway_mode_ipv6=routed (or masquerade off): IPv6 leaves with the container's own
    /// address, its flows tracked so that their replies pass the uplink's direct-access
    /// filter; from outside, direct routing reaches ICMPv6 but not an unpublished port.
    func testRoutedIPv6LeavesUntranslatedAndItsRepliesComeBack() throws {
        let f = try DataplaneFixture.make(for: self)
        try f.setEndpoint(flags: [BP_EP_F_ENFORCE_SOURCE, BP_EP_F_ISOLATED, BP_EP_F_TRACK_OUT6], ip6: V6.container)
        try f.setSubnet6(V6.subnet1, 64, networkID: 1, flags: UInt16(BP_SUBNET_F_ROUTED.rawValue))
        let mac = T.containerMAC

        let syn = Frame.tcp6(src: V6.container, dst: V6.internet, sport: 42000, dport: 443, srcMAC: mac)
        assertUntouched(try f.ep(syn), syn, "a routed SYN leaves as it is")
        let tracked = try XCTUnwrap(
            try f.maps.flows6.map.lookup(Self.key(V6.container, V6.internet, 42000, 443, T.tcp), as: bp_flow6.self))
        XCTAssertEqual(UInt32(tracked.flags) & (BP_FLOW_F_SNAT.rawValue | BP_FLOW_F_DNAT.rawValue), 0, "untranslated")
        let synAck = Frame.tcp6(src: V6.internet, dst: V6.container, sport: 443, dport: 42000, flags: Frame.tcpSYNACK)
        assertUntouched(try f.up(synAck), synAck, "its reply passes the direct-access filter")

        let udp = Frame.udp6(src: V6.container, dst: V6.internet, sport: 5353, dport: 53, srcMAC: mac)
        assertUntouched(try f.ep(udp), udp, "UDP too")
        let sctp = Frame.ethernet6(
            src: V6.container, dst: V6.internet, nextHeader: 132, payload: Array(repeating: 0, count: 12),
            extensions: [], srcMAC: mac, dstMAC: nil)
        assertUntouched(try f.ep(sctp), sctp, "a protocol without ports, as IPv4's")

        let ping = Frame.icmp6Echo(src: V6.internet, dst: V6.container, id: 5)
        assertUntouched(try f.up(ping), ping, "ICMPv6 reaches a routed network's container")
        let probe = Frame.tcp6(src: V6.internet, dst: V6.container, sport: 40000, dport: 22)
        assertShot(try f.up(probe), probe, "an unpublished port does not")
        XCTAssertEqual(
            try f.drops()[
                bp_drop_key(ifindex: f.uplinkIfindex, reason: BP_DROP_DIRECT_ACCESS, direction: BP_DIR_INGRESS)], 1)
    }

    /// Both entries of a flow go together: expired (the collector), flushed with the
    /// container's interface; counted as IPv4's are.
    func testFlowsExpireAndFlushWithBothEntries() throws {
        let f = try makeFixture()
        let mac = T.containerMAC
        _ = try f.ep(Frame.udp6(src: V6.container, dst: V6.internet, sport: 45678, dport: 53, srcMAC: mac))
        _ = try f.ep(Frame.tcp6(src: V6.container, dst: V6.internet, sport: 41000, dport: 443, srcMAC: mac))
        XCTAssertEqual(try flows6(f).count, 4)

        // UDP's 30 s pass, TCP's SYN timeout (120 s) not yet.
        let pass = try f.maps.flows6.collect(now: FlowTable.now() + 60, countsRun: false)
        XCTAssertEqual(pass.expired, [T.udp: 1])
        XCTAssertEqual(pass.census.total, 1)
        XCTAssertEqual(try flows6(f).count, 2, "the UDP flow's two entries went")
        XCTAssertEqual(try f.maps.flows.counters()[FlowTable.counterIndex(.expired, proto: T.udp)], 1)

        XCTAssertEqual(try f.maps.flows6.flush(ifindex: f.endpointIfindex, address: nil), 1)
        XCTAssertTrue(try flows6(f).isEmpty, "both entries flushed with the container")
        XCTAssertEqual(try f.maps.flows.counters()[FlowTable.counterIndex(.flushed, proto: T.tcp)], 1)

        // A packet finding its flow expired removes both entries and starts anew.
        _ = try f.ep(Frame.udp6(src: V6.container, dst: V6.internet, sport: 45678, dport: 53, srcMAC: mac))
        XCTAssertEqual(try flows6(f).count, 2)
    }
}

extension XCTestCase {
    /// The packet was redirected and is exactly `built` one hop later (IPv6): the expected
    /// frame is built from scratch, so its checksums are the recomputed ones.
    func assertTranslated(
        _ result: TestRunResult, to built: [UInt8], _ what: String, file: StaticString = #filePath, line: UInt = #line
    ) {
        XCTAssertEqual(result.verdict, NATAndPolicyTests.redirect, "\(what): verdict", file: file, line: line)
        XCTAssertEqual(
            result.packet.hex, NAT66Tests.afterHop(built).hex, "\(what): packet", file: file, line: line)
    }
}
