import BPF
import CBPF
import Glibc
import Model
import XCTest

/// Published ports over IPv6 (bp_ports6, bp_allow6, bp_targets6, bp_flows6): bp_up_ingress
/// (tail-calling bp_up_nat66) opens a published flow for a TCP SYN or UDP to one of the
/// host's IPv6 addresses and sends it to the container, bp_ep_ingress (tail-calling
/// bp_ep_nat66) gives its replies the published address back on any dual-stack network;
/// direct access and the policy's exception for published targets follow IPv4's rules.
final class Publish6Tests: XCTestCase {
    typealias T = NATAndPolicyTests
    typealias V6 = IPv6Tests

    static let client = ip6("2001:db8:77::7")  // beyond the host, by the default route
    static let stranger = ip6("2001:db8:99::9")
    static let masquerading = NAT66Tests.masquerading

    override func setUpWithError() throws {
        try Sandbox.requireRoot()
        try DataplaneFixture.buildObjects()
    }

    func makeFixture(maxFlows: Int? = nil, flags: [bp_endpoint_flags] = masquerading) throws -> DataplaneFixture {
        let f = try DataplaneFixture.make(for: self, maxFlows: maxFlows)
        try f.setEndpoint(flags: flags, ip6: V6.container)
        return f
    }

    // MARK: helpers

    static func words(_ bytes: [UInt8]?) -> (UInt32, UInt32, UInt32, UInt32) {
        var words: (UInt32, UInt32, UInt32, UInt32) = (0, 0, 0, 0)
        if let bytes { withUnsafeMutableBytes(of: &words) { $0.copyBytes(from: bytes) } }
        return words
    }

    static func portKey(_ host: [UInt8]?, _ port: UInt16, _ proto: UInt8) -> bp_port6_key {
        bp_port6_key(host_ip: words(host), host_port: be16(port), proto: proto, pad: 0)
    }

    static func address(_ words: (UInt32, UInt32, UInt32, UInt32)) -> [UInt8] {
        withUnsafeBytes(of: words) { Array($0) }
    }

    static func key(_ src: [UInt8], _ dst: [UInt8], _ sport: UInt16, _ dport: UInt16, _ proto: UInt8) -> bp_flow6_key {
        NAT66Tests.key(src, dst, sport, dport, proto)
    }

    /// The frame built from scratch one hop later (its checksums are the recomputed ones),
    /// and its TCP or UDP checksum verifies over the pseudo-header as it is.
    func assertChecksummed(
        _ result: TestRunResult, to built: [UInt8], _ what: String, file: StaticString = #filePath, line: UInt = #line
    ) {
        XCTAssertEqual(result.verdict, T.redirect, "\(what): verdict", file: file, line: line)
        XCTAssertEqual(result.packet.hex, NAT66Tests.afterHop(built).hex, "\(what): packet", file: file, line: line)
        XCTAssertTrue(Self.checksumValid(result.packet), "\(what): L4 checksum", file: file, line: line)
    }

    /// An Ethernet + IPv6 frame without extension headers: its upper-layer checksum verifies.
    static func checksumValid(_ frame: [UInt8]) -> Bool {
        guard frame.count >= 54 else { return false }
        let length = Int(frame[18]) << 8 | Int(frame[19])
        let l4 = frame[54..<(54 + length)]
        let pseudo = Checksum.pseudoHeader(
            src: Array(frame[22..<38]), dst: Array(frame[38..<54]), proto: frame[20], length: length)
        return Checksum.fold(Checksum.sum(l4, into: pseudo)) == 0xffff
    }

    func flows6(_ f: DataplaneFixture) throws -> [(key: bp_flow6_key, value: bp_flow6)] {
        try f.maps.flows6.map.entries(as: (bp_flow6_key.self, bp_flow6.self))
    }

    func flow6(_ f: DataplaneFixture, _ key: bp_flow6_key) throws -> bp_flow6? {
        try f.maps.flows6.map.lookup(key, as: bp_flow6.self)
    }

    func stats(_ f: DataplaneFixture, _ host: [UInt8]?, _ port: UInt16, _ proto: UInt8 = T.tcp) throws -> [UInt64] {
        guard let s = try f.maps.portTraffic()[IPv6Encoding.port(Self.portKey(host, port, proto))] else { return [] }
        return [s.packets, s.bytes, s.flows]
    }

    func drop(_ f: DataplaneFixture, _ ifindex: UInt32, _ reason: bp_drop_reason, _ dir: bp_direction) throws -> UInt64
    {
        try f.drops()[bp_drop_key(ifindex: ifindex, reason: reason, direction: dir)] ?? 0
    }

    static func hop(_ limit: UInt8, _ src: [UInt8], _ dst: [UInt8], _ sport: UInt16, _ dport: UInt16) -> [UInt8] {
        Frame.ethernet6(
            src: src, dst: dst, nextHeader: 6,
            payload: Frame.tcpSegment(src: src, dst: dst, sport: sport, dport: dport),
            extensions: [], hopLimit: limit, srcMAC: Frame.defaultSourceMAC, dstMAC: nil)
    }

    // MARK: published flows

    func testASynToAHostAddressOrToEveryAddressGetsTheContainer() throws {
        let f = try makeFixture()
        try f.publish6(host: V6.hostIP, 5000, proto: T.tcp, to: V6.container, 80)
        try f.publish6(host: nil, 6000, proto: T.tcp, to: V6.container, 81)
        // The address's own entry wins over every address's.
        try f.publish6(host: V6.hostIP, 7000, proto: T.tcp, to: V6.container, 82)
        try f.publish6(host: nil, 7000, proto: T.tcp, to: V6.neighbour, 83)
        // A routed network's port has no host port.
        try f.publish6(host: nil, 7001, proto: T.tcp, to: V6.container, 84, directOnly: true)

        let syn = Frame.tcp6(src: Self.client, dst: V6.hostIP, sport: 40000, dport: 5000)
        assertChecksummed(
            try f.up(syn), to: Frame.tcp6(src: Self.client, dst: V6.container, sport: 40000, dport: 80), "SYN")
        let inbound = try XCTUnwrap(try flow6(f, Self.key(Self.client, V6.hostIP, 40000, 5000, T.tcp)))
        XCTAssertEqual(inbound.natAddress, IPv6Address(bytes: V6.container).raw)
        XCTAssertEqual(
            [UInt32(inbound.nat_port), UInt32(inbound.kind), UInt32(inbound.flags), inbound.ifindex],
            [UInt32(be16(80)), BP_FLOW_PUBLISHED.rawValue, BP_FLOW_F_DNAT.rawValue, f.endpointIfindex])
        let reply = try XCTUnwrap(try flow6(f, Self.key(V6.container, Self.client, 80, 40000, T.tcp)))
        XCTAssertEqual(reply.natAddress, IPv6Address(bytes: V6.hostIP).raw)
        XCTAssertEqual(
            [UInt32(reply.nat_port), UInt32(reply.kind), UInt32(reply.flags)],
            [UInt32(be16(5000)), BP_FLOW_PUBLISHED.rawValue, BP_FLOW_F_SNAT.rawValue | BP_FLOW_F_REPLY.rawValue])
        XCTAssertEqual(try stats(f, V6.hostIP, 5000), [1, UInt64(syn.count), 1])

        // The flow's next packets: translated, counted, no new flow.
        let ack = Frame.tcp6(src: Self.client, dst: V6.hostIP, sport: 40000, dport: 5000, flags: Frame.tcpACK)
        assertChecksummed(
            try f.up(ack),
            to: Frame.tcp6(src: Self.client, dst: V6.container, sport: 40000, dport: 80, flags: Frame.tcpACK), "ACK")
        XCTAssertEqual(try stats(f, V6.hostIP, 5000), [2, UInt64(syn.count + ack.count), 1])
        XCTAssertEqual(try flows6(f).count, 2)

        // Published on every address (::): the flow says so, the port's counters are ::'s.
        for (host, port) in [(V6.hostIP, UInt16(40001)), (V6.gateway1, 40002)] {
            assertChecksummed(
                try f.up(Frame.tcp6(src: Self.client, dst: host, sport: port, dport: 6000)),
                to: Frame.tcp6(src: Self.client, dst: V6.container, sport: port, dport: 81), "SYN to :: via \(host)")
            let any = try XCTUnwrap(try flow6(f, Self.key(Self.client, host, port, 6000, T.tcp)))
            XCTAssertEqual(UInt32(any.flags), BP_FLOW_F_DNAT.rawValue | BP_FLOW_F_ANY_HOST.rawValue)
        }
        XCTAssertEqual(try stats(f, nil, 6000)[2], 2, "two flows through [::]:6000")
        XCTAssertEqual(try stats(f, V6.hostIP, 6000), [], "nothing under the address")

        assertChecksummed(
            try f.up(Frame.tcp6(src: Self.client, dst: V6.hostIP, sport: 40003, dport: 7000)),
            to: Frame.tcp6(src: Self.client, dst: V6.container, sport: 40003, dport: 82), "the address's own entry")
        assertChecksummed(
            try f.up(Frame.tcp6(src: Self.client, dst: V6.gateway1, sport: 40004, dport: 7000)),
            to: Frame.tcp6(src: Self.client, dst: V6.neighbour, sport: 40004, dport: 83), "every address's entry")

        // Left to the host: a direct-only port, an unpublished one, UDP to a TCP port, IPv4's table.
        try f.publish(host: nil, 5005, proto: T.tcp, to: T.container, 80)
        for (frame, what) in [
            (Frame.tcp6(src: Self.client, dst: V6.hostIP, sport: 40005, dport: 7001), "direct-only port"),
            (Frame.tcp6(src: Self.client, dst: V6.hostIP, sport: 40005, dport: 5001), "unpublished port"),
            (Frame.udp6(src: Self.client, dst: V6.hostIP, sport: 40005, dport: 5000), "UDP to a TCP port"),
            (Frame.tcp6(src: Self.client, dst: V6.hostIP, sport: 40005, dport: 5005), "published over IPv4 only"),
            (Frame.tcp6(src: Self.client, dst: ip6("2001:db8:1::99"), sport: 40005, dport: 5000), "not the host's"),
        ] {
            assertUntouched(try f.up(frame), frame, what)
        }
        XCTAssertEqual(try flows6(f).count, 10, "five flows")
        XCTAssertTrue(try f.flowEntries().isEmpty, "none in IPv4's table")
        XCTAssertTrue(try f.drops().isEmpty)
    }

    /// The container's replies get the published address and port back and leave by the
    /// route, whether its network masquerades or not.
    func testRepliesGetThePublishedAddressBackOnAnyNetwork() throws {
        let f = try makeFixture()
        try f.publish6(host: V6.hostIP, 5000, proto: T.tcp, to: V6.container, 80)
        try f.publish6(host: nil, 5353, proto: T.udp, to: V6.container, 53)
        let mac = T.containerMAC
        for (flags, port) in [
            (Self.masquerading, UInt16(40000)), (V6.dualStack, 40001),
            ([BP_EP_F_ENFORCE_SOURCE, BP_EP_F_ISOLATED, BP_EP_F_TRACK_OUT], 40002),
        ] {
            try f.setEndpoint(flags: flags, ip6: V6.container)
            let what = "flags \(flags.map(\.rawValue))"
            _ = try f.up(Frame.tcp6(src: Self.client, dst: V6.hostIP, sport: port, dport: 5000))
            assertChecksummed(
                try f.ep(
                    Frame.tcp6(
                        src: V6.container, dst: Self.client, sport: 80, dport: port, flags: Frame.tcpSYNACK, srcMAC: mac
                    )),
                to: Frame.tcp6(
                    src: V6.hostIP, dst: Self.client, sport: 5000, dport: port, flags: Frame.tcpSYNACK, srcMAC: mac),
                "SYN-ACK, \(what)")
            let state = try XCTUnwrap(try flow6(f, Self.key(Self.client, V6.hostIP, port, 5000, T.tcp))).state
            XCTAssertEqual(UInt32(state), BP_FLOW_SYN_RECV.rawValue, "both entries move on, \(what)")

            let query = Array("query?".utf8)
            assertChecksummed(
                try f.up(Frame.udp6(src: Self.client, dst: V6.gateway1, sport: port, dport: 5353, payload: query)),
                to: Frame.udp6(src: Self.client, dst: V6.container, sport: port, dport: 53, payload: query),
                "UDP in, \(what)")
            let answer = Array("answer!".utf8)
            assertChecksummed(
                try f.ep(
                    Frame.udp6(
                        src: V6.container, dst: Self.client, sport: 53, dport: port, payload: answer, srcMAC: mac)),
                to: Frame.udp6(
                    src: V6.gateway1, dst: Self.client, sport: 5353, dport: port, payload: answer, srcMAC: mac),
                "UDP answer, \(what)")
        }
        XCTAssertTrue(try f.drops().isEmpty)
        XCTAssertEqual(try flows6(f).count, 12, "two flows for each network")
    }

    /// A client port the container already has a flow from, through another published port
    /// of the same container port, is remapped (as Linux's NAT does), and each flow's replies
    /// get their own published port and the client's port back.
    func testAClashingClientPortIsRemapped() throws {
        let f = try makeFixture()
        try f.publish6(host: V6.hostIP, 5000, proto: T.tcp, to: V6.container, 80)
        try f.publish6(host: V6.hostIP, 5001, proto: T.tcp, to: V6.container, 80)
        _ = try f.up(Frame.tcp6(src: Self.client, dst: V6.hostIP, sport: 40000, dport: 5000))
        let second = try f.up(Frame.tcp6(src: Self.client, dst: V6.hostIP, sport: 40000, dport: 5001))
        XCTAssertEqual(second.verdict, T.redirect)
        let remapped = UInt16(second.packet[54]) << 8 | UInt16(second.packet[55])
        XCTAssertNotEqual(remapped, 40000)
        assertChecksummed(
            second, to: Frame.tcp6(src: Self.client, dst: V6.container, sport: remapped, dport: 80), "remapped SYN")
        assertChecksummed(
            try f.ep(
                Frame.tcp6(
                    src: V6.container, dst: Self.client, sport: 80, dport: remapped, flags: Frame.tcpSYNACK,
                    srcMAC: T.containerMAC)),
            to: Frame.tcp6(
                src: V6.hostIP, dst: Self.client, sport: 5001, dport: 40000, flags: Frame.tcpSYNACK,
                srcMAC: T.containerMAC),
            "the second flow's reply")
        assertChecksummed(
            try f.ep(
                Frame.tcp6(
                    src: V6.container, dst: Self.client, sport: 80, dport: 40000, flags: Frame.tcpSYNACK,
                    srcMAC: T.containerMAC)),
            to: Frame.tcp6(
                src: V6.hostIP, dst: Self.client, sport: 5000, dport: 40000, flags: Frame.tcpSYNACK,
                srcMAC: T.containerMAC),
            "the first flow's reply")
        XCTAssertEqual(try flows6(f).count, 4)
    }

    /// Only a TCP SYN (or UDP) opens a published flow: a segment no flow knows is the host's.
    func testOnlyASynOrUDPOpensAFlow() throws {
        let f = try makeFixture()
        try f.publish6(host: nil, 5000, proto: T.tcp, to: V6.container, 80)
        try f.publish6(host: nil, 5000, proto: T.udp, to: V6.container, 80)
        for (flags, what) in [
            (Frame.tcpACK, "ACK"), (Frame.tcpSYNACK, "SYN-ACK"), (UInt8(0x11), "FIN-ACK"), (UInt8(0x04), "RST"),
        ] {
            let segment = Frame.tcp6(src: Self.client, dst: V6.hostIP, sport: 53, dport: 5000, flags: flags)
            assertUntouched(try f.up(segment), segment, "a \(what) no flow knows")
        }
        XCTAssertTrue(try flows6(f).isEmpty)
        assertChecksummed(
            try f.up(Frame.udp6(src: Self.client, dst: V6.hostIP, sport: 53, dport: 5000)),
            to: Frame.udp6(src: Self.client, dst: V6.container, sport: 53, dport: 80), "UDP")
        XCTAssertEqual(try stats(f, nil, 5000, T.udp)[2], 1)
        XCTAssertEqual(try flows6(f).count, 2)
        XCTAssertTrue(try f.drops().isEmpty)
    }

    /// A restricted port lets only the sources its allow list names through; the others are
    /// dropped (not_allowed, on the container's veth) before any flow is made.
    func testARestrictedPortTakesOnlyAllowedSources() throws {
        let f = try makeFixture()
        try f.publish6(host: V6.hostIP, 8080, proto: T.tcp, to: V6.container, 80, restricted: true)
        try f.allow6(host: V6.hostIP, 8080, proto: T.tcp, from: ip6("2001:db8:77::"), 48)
        assertChecksummed(
            try f.up(Frame.tcp6(src: Self.client, dst: V6.hostIP, sport: 40000, dport: 8080)),
            to: Frame.tcp6(src: Self.client, dst: V6.container, sport: 40000, dport: 80), "allowed")
        let refused = Frame.tcp6(src: Self.stranger, dst: V6.hostIP, sport: 40000, dport: 8080)
        assertShot(try f.up(refused), refused, "not on the list")
        XCTAssertEqual(try drop(f, f.endpointIfindex, BP_DROP_NOT_ALLOWED, BP_DIR_INGRESS), 1)
        XCTAssertEqual(try flows6(f).count, 2, "no flow for the refused")
        // The list is the port's on that address: another address's list is another.
        try f.publish6(host: V6.gateway1, 8080, proto: T.tcp, to: V6.neighbour, 80, restricted: true)
        let elsewhere = Frame.tcp6(src: Self.client, dst: V6.gateway1, sport: 40001, dport: 8080)
        assertShot(try f.up(elsewhere), elsewhere, "allowed on another address only")
        XCTAssertEqual(try drop(f, f.endpointIfindex, BP_DROP_NOT_ALLOWED, BP_DIR_INGRESS), 2)
    }

    /// A hop limit that would run out on the translation's hop leaves the packet to the kernel.
    func testAHopLimitOfOneIsLeftToTheKernel() throws {
        let f = try makeFixture()
        try f.publish6(host: V6.hostIP, 5000, proto: T.tcp, to: V6.container, 80)
        let last = Self.hop(1, Self.client, V6.hostIP, 40000, 5000)
        assertUntouched(try f.up(last), last, "hop limit 1")
        XCTAssertTrue(try flows6(f).isEmpty, "no flow for it")
        XCTAssertEqual(try stats(f, V6.hostIP, 5000), [0, 0, 0], "not counted")
        let result = try f.up(Self.hop(2, Self.client, V6.hostIP, 40000, 5000))
        XCTAssertEqual(result.verdict, T.redirect)
        XCTAssertEqual(result.packet[21], 1, "hop limit")
        XCTAssertEqual(result.packet.hex, Self.hop(1, Self.client, V6.container, 40000, 80).hex)
    }

    /// A full table drops a new published flow (ct_full, on the container's veth), whole.
    func testAFullTableDropsANewFlow() throws {
        let f = try makeFixture(maxFlows: 1)
        try f.publish6(host: nil, 5000, proto: T.tcp, to: V6.container, 80)
        XCTAssertEqual(
            try f.up(Frame.tcp6(src: Self.client, dst: V6.hostIP, sport: 40000, dport: 5000)).verdict, T.redirect)
        let next = Frame.tcp6(src: Self.client, dst: V6.hostIP, sport: 40001, dport: 5000)
        assertShot(try f.up(next), next, "a second flow")
        XCTAssertEqual(
            try f.drops(),
            [bp_drop_key(ifindex: f.endpointIfindex, reason: BP_DROP_CT_FULL, direction: BP_DIR_INGRESS): 1])
        XCTAssertEqual(try flows6(f).count, 2, "the first flow's entries only")
        XCTAssertEqual(
            try f.up(Frame.tcp6(src: Self.client, dst: V6.hostIP, sport: 40000, dport: 5000, flags: Frame.tcpACK))
                .verdict, T.redirect, "the known flow goes on")
    }

    // MARK: direct access

    /// IPv6 straight to a container's address, by the network's gateway mode (IPv4's rules):
    /// a published container port passes and its flow is tracked, so that its replies leave
    /// untranslated; the rest is dropped (direct_access).
    func testDirectAccessToAPublishedContainerPort() throws {
        let f = try makeFixture()
        try f.setSubnet6(V6.subnet1, 64, networkID: 1, flags: UInt16(BP_SUBNET_F_MASQUERADE.rawValue))
        try f.publish6(host: nil, 8080, proto: T.tcp, to: V6.container, 80)
        try f.publish6(host: nil, 8443, proto: T.tcp, to: V6.container, 443, restricted: true)
        try f.allow6(host: nil, 8443, proto: T.tcp, from: Self.client, 128)

        let published = Frame.tcp6(src: Self.client, dst: V6.container, sport: 40000, dport: 80)
        assertUntouched(try f.up(published), published, "a published container port")
        let tracked = try XCTUnwrap(try flow6(f, Self.key(Self.client, V6.container, 40000, 80, T.tcp)))
        XCTAssertEqual([UInt32(tracked.kind), UInt32(tracked.flags)], [BP_FLOW_ROUTED.rawValue, 0])
        let reply = Frame.tcp6(
            src: V6.container, dst: Self.client, sport: 80, dport: 40000, flags: Frame.tcpSYNACK,
            srcMAC: T.containerMAC)
        assertUntouched(try f.ep(reply), reply, "its reply leaves as it is, not masqueraded")
        XCTAssertEqual(try flows6(f).count, 2, "no masquerade flow")
        let ack = Frame.tcp6(src: Self.client, dst: V6.container, sport: 40000, dport: 80, flags: Frame.tcpACK)
        assertUntouched(try f.up(ack), ack, "the flow's next packet")

        let allowed = Frame.tcp6(src: Self.client, dst: V6.container, sport: 40001, dport: 443)
        assertUntouched(try f.up(allowed), allowed, "a restricted port, allowed")
        let before = try drop(f, f.uplinkIfindex, BP_DROP_DIRECT_ACCESS, BP_DIR_INGRESS)
        for (frame, what) in [
            (Frame.tcp6(src: Self.stranger, dst: V6.container, sport: 40002, dport: 443), "restricted, not allowed"),
            (Frame.tcp6(src: Self.client, dst: V6.container, sport: 40003, dport: 22), "unpublished"),
            (Frame.udp6(src: Self.client, dst: V6.container, sport: 40003, dport: 80), "UDP to a TCP port"),
            (Frame.icmp6Echo(src: Self.client, dst: V6.container, id: 5), "echo in nat mode"),
        ] {
            assertShot(try f.up(frame), frame, what)
        }
        XCTAssertEqual(try drop(f, f.uplinkIfindex, BP_DROP_DIRECT_ACCESS, BP_DIR_INGRESS), before + 4)

        // Routed: echo too, tracked, and its reply leaves.
        try f.setSubnet6(V6.subnet1, 64, networkID: 1, flags: UInt16(BP_SUBNET_F_ROUTED.rawValue))
        let echo = Frame.icmp6Echo(src: Self.client, dst: V6.container, id: 6)
        assertUntouched(try f.up(echo), echo, "echo in routed mode")
        let echoReply = Frame.icmp6Echo(
            src: V6.container, dst: Self.client, type: Frame.icmp6EchoReply, id: 6, srcMAC: T.containerMAC)
        assertUntouched(try f.ep(echoReply), echoReply, "its reply")

        // Internal: nothing; nat-unprotected: everything.
        try f.setSubnet6(V6.subnet1, 64, networkID: 1, flags: UInt16(BP_SUBNET_F_INTERNAL.rawValue))
        let again = Frame.tcp6(src: Self.client, dst: V6.container, sport: 40009, dport: 80)
        assertShot(try f.up(again), again, "internal")
        try f.setSubnet6(
            V6.subnet1, 64, networkID: 1,
            flags: UInt16(BP_SUBNET_F_UNPROTECTED.rawValue | BP_SUBNET_F_MASQUERADE.rawValue))
        let any = Frame.tcp6(src: Self.client, dst: V6.container, sport: 40010, dport: 22)
        assertUntouched(try f.up(any), any, "nat-unprotected")
    }

    // MARK: the policy's exception

    /// A container reaches a published target of another network (or of its own with ICC
    /// off) by its IPv6 address, as the socket hooks send it there; the flow is tracked, so
    /// that exactly its replies pass, not flows the target opens itself.
    func testPublishedTargetsAreReachedAcrossThePolicy() throws {
        let f = try makeFixture(flags: V6.dualStack)
        let mac = T.containerMAC
        try f.publish6(host: nil, 5000, proto: T.tcp, to: V6.other, 80)
        try f.publish6(host: nil, 5001, proto: T.tcp, to: V6.other, 81, restricted: true)

        let toTarget = Frame.tcp6(src: V6.container, dst: V6.other, sport: 40000, dport: 80, srcMAC: mac)
        assertUntouched(try f.ep(toTarget), toTarget, "a published target in another network")
        let hairpin = try XCTUnwrap(try flow6(f, Self.key(V6.container, V6.other, 40000, 80, T.tcp)))
        XCTAssertEqual([UInt32(hairpin.kind), hairpin.ifindex], [BP_FLOW_HAIRPIN.rawValue, f.endpointIfindex])
        let isolated = [
            Frame.tcp6(src: V6.container, dst: V6.other, sport: 40001, dport: 22, srcMAC: mac),
            Frame.tcp6(src: V6.container, dst: V6.other, sport: 40001, dport: 81, srcMAC: mac),
        ]
        for frame in isolated { assertShot(try f.ep(frame), frame, "unpublished, or restricted") }
        XCTAssertEqual(try drop(f, f.endpointIfindex, BP_DROP_ISOLATION, BP_DIR_EGRESS), 2)
        try f.allow6(host: nil, 5001, proto: T.tcp, from: V6.subnet1, 64)
        let allowed = Frame.tcp6(src: V6.container, dst: V6.other, sport: 40002, dport: 81, srcMAC: mac)
        assertUntouched(try f.ep(allowed), allowed, "restricted, allowed")

        // The target's side (the endpoint as the target, network 2, isolated).
        try f.setEndpoint(flags: V6.dualStack, networkID: 2, ip6: V6.other)
        let reply = Frame.tcp6(
            src: V6.other, dst: V6.container, sport: 80, dport: 40000, flags: Frame.tcpSYNACK, srcMAC: mac)
        assertUntouched(try f.ep(reply), reply, "the hairpin flow's reply")
        let opened = Frame.tcp6(src: V6.other, dst: V6.container, sport: 80, dport: 40005, srcMAC: mac)
        assertShot(try f.ep(opened), opened, "a flow the target opens from its published port")
        XCTAssertEqual(try drop(f, f.endpointIfindex, BP_DROP_ISOLATION, BP_DIR_EGRESS), 3)

        // ICC off: a published neighbour passes, another port does not.
        try f.setEndpoint(flags: [BP_EP_F_ENFORCE_SOURCE, BP_EP_F_ICC_DISABLED], ip6: V6.container)
        try f.publish6(host: nil, 6000, proto: T.tcp, to: V6.neighbour, 80)
        let neighbour = Frame.tcp6(src: V6.container, dst: V6.neighbour, sport: 41000, dport: 80, srcMAC: mac)
        assertUntouched(try f.ep(neighbour), neighbour, "a published neighbour, ICC off")
        let unpublished = Frame.tcp6(src: V6.container, dst: V6.neighbour, sport: 41000, dport: 81, srcMAC: mac)
        assertShot(try f.ep(unpublished), unpublished, "an unpublished neighbour, ICC off")
        XCTAssertEqual(try drop(f, f.endpointIfindex, BP_DROP_ICC, BP_DIR_EGRESS), 1)
        XCTAssertEqual(
            try flows6(f).filter { $0.value.kind == UInt8(BP_FLOW_HAIRPIN.rawValue) }.count, 6, "three hairpin flows")
    }
}

/// IPv6's published ports as the agent will write them (raw: the Swift model of them is
/// another change's).
extension DataplaneFixture {
    func publish6(
        host: [UInt8]?, _ hostPort: UInt16, proto: UInt8, to target: [UInt8], _ port: UInt16,
        restricted: Bool = false, directOnly: Bool = false
    ) throws {
        let flags =
            (restricted ? UInt16(BP_PORT_F_RESTRICTED.rawValue) : 0)
            | (directOnly ? UInt16(BP_PORT_F_DIRECT_ONLY.rawValue) : 0)
        let entry = bp_port6_target(
            ip: Publish6Tests.words(target), port: be16(port), flags: flags, ifindex: endpointIfindex, stats_slot: 0)
        try maps.publishedPorts(.ipv6).update(
            IPv6Encoding.port(Publish6Tests.portKey(host, hostPort, proto)), IPv6Encoding.entry(entry).target)
        try maps.targets6.update(
            bp_target6_key(ip: Publish6Tests.words(target), port: be16(port), proto: proto, pad: 0),
            bp_target6(
                flags: restricted ? UInt16(BP_PORT_F_RESTRICTED.rawValue) : 0, host_port: be16(hostPort),
                host_ip: Publish6Tests.words(host)))
    }

    func allow6(host: [UInt8]?, _ hostPort: UInt16, proto: UInt8, from network: [UInt8], _ prefix: UInt32) throws {
        try maps.allow6.update(
            bp_allow6_key(
                prefixlen: UInt32(BP_ALLOW6_KEY_FIXED_BITS) + prefix, proto: proto, pad: 0, port: be16(hostPort),
                host_ip: Publish6Tests.words(host), ip: Publish6Tests.words(network)), 1)
    }
}
