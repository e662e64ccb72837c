import BPF
import CBPF
import Glibc
import Model
import XCTest

/// What NAT66 translates besides a flow's own packets: its later fragments (bpf/lib/frag6.h)
/// and ICMPv6 errors about it (bpf/lib/icmp6.h), both ways, with every checksum right (the
/// expected frames are built from scratch); what has no translation is dropped, counted.
final class NAT66ErrorAndFragmentTests: XCTestCase {
    typealias T = NATAndPolicyTests
    typealias V6 = IPv6Tests
    typealias N = NAT66Tests

    static let router = ip6("2001:db8:ff::1")  // a router on the way, beyond the uplink

    override func setUpWithError() throws {
        try Sandbox.requireRoot()
        try DataplaneFixture.buildObjects()
    }

    func fixture() throws -> DataplaneFixture {
        let f = try DataplaneFixture.make(for: self)
        try f.setEndpoint(flags: N.masquerading, ip6: V6.container)
        return f
    }

    /// A UDP datagram's fragment: the first (with the UDP header) or a later one (`offset`
    /// in 8-byte units, data only).
    static func fragment(
        src: [UInt8], dst: [UInt8], sport: UInt16 = 0, dport: UInt16 = 0, id: UInt32, offset: UInt16,
        more: Bool, srcMAC: [UInt8] = Frame.defaultSourceMAC
    ) -> [UInt8] {
        let data = Array(repeating: UInt8(0x42), count: 16)
        let payload =
            offset == 0 ? Frame.udpDatagram(src: src, dst: dst, sport: sport, dport: dport, payload: data) : data
        return Frame.ethernet6(
            src: src, dst: dst, nextHeader: 17, payload: payload,
            extensions: [.fragment(offset: offset, more: more, id: id)], srcMAC: srcMAC, dstMAC: nil)
    }

    /// An ICMPv6 error quoting `quoted` (an IPv6 packet without its Ethernet header).
    static func error(
        src: [UInt8], dst: [UInt8], type: UInt8, code: UInt8 = 0, rest: [UInt8] = [0, 0, 0, 0], quoting quoted: [UInt8],
        srcMAC: [UInt8] = Frame.defaultSourceMAC
    ) -> [UInt8] {
        Frame.icmp6(src: src, dst: dst, type: type, code: code, body: rest + quoted, srcMAC: srcMAC)
    }

    /// A packet as an ICMPv6 error quotes it: its IPv6 header (one hop later) and upper layer.
    static func quote(_ frame: [UInt8]) -> [UInt8] { Array(N.afterHop(frame).dropFirst(14)) }

    func testLaterFragmentsFollowTheFirstBothWays() throws {
        let f = try fixture()
        let mac = T.containerMAC

        // Out: the first fragment opens the flow, the later ones get its address.
        let first = Self.fragment(
            src: V6.container, dst: V6.internet, sport: 5000, dport: 53, id: 7, offset: 0, more: true, srcMAC: mac)
        let firstOut = try f.ep(first)
        assertTranslated(
            firstOut,
            to: Self.fragment(
                src: V6.hostIP, dst: V6.internet, sport: 5000, dport: 53, id: 7, offset: 0, more: true, srcMAC: mac),
            "first fragment")
        let later = Self.fragment(src: V6.container, dst: V6.internet, id: 7, offset: 3, more: false, srcMAC: mac)
        assertTranslated(
            try f.ep(later),
            to: Self.fragment(src: V6.hostIP, dst: V6.internet, id: 7, offset: 3, more: false, srcMAC: mac),
            "later fragment")

        // "Packet too big" quoting the first fragment (the usual case for UDP the container
        // fragmented itself): the Fragment header in the quote is followed.
        let mtu: [UInt8] = [0, 0, 0x05, 0x00]
        assertTranslated(
            try f.up(
                Self.error(src: Self.router, dst: V6.hostIP, type: 2, rest: mtu, quoting: Self.quote(firstOut.packet))),
            to: Self.error(
                src: Self.router, dst: V6.container, type: 2, rest: mtu, quoting: Self.quote(N.afterHop(first))),
            "packet too big about a first fragment")

        // In: the reply's fragments reach the container.
        let replyFirst = Self.fragment(
            src: V6.internet, dst: V6.hostIP, sport: 53, dport: 5000, id: 0x99, offset: 0, more: true)
        assertTranslated(
            try f.up(replyFirst),
            to: Self.fragment(
                src: V6.internet, dst: V6.container, sport: 53, dport: 5000, id: 0x99, offset: 0, more: true),
            "first fragment of the reply")
        let replyLater = Self.fragment(src: V6.internet, dst: V6.hostIP, id: 0x99, offset: 3, more: false)
        assertTranslated(
            try f.up(replyLater),
            to: Self.fragment(src: V6.internet, dst: V6.container, id: 0x99, offset: 3, more: false),
            "later fragment of the reply")

        // A later fragment whose first was never seen: not sent with the container's address;
        // on the uplink it is the host's.
        let orphan = Self.fragment(src: V6.container, dst: V6.internet, id: 8, offset: 3, more: false, srcMAC: mac)
        assertShot(try f.ep(orphan), orphan, "a fragment without its first")
        XCTAssertEqual(
            try f.drops()[bp_drop_key(ifindex: f.endpointIfindex, reason: BP_DROP_FRAGMENT, direction: BP_DIR_EGRESS)],
            1)
        let stray = Self.fragment(src: V6.internet, dst: V6.hostIP, id: 0x98, offset: 3, more: false)
        assertUntouched(try f.up(stray), stray, "a fragment of no translated datagram")

        // Both datagrams are remembered under their identity, with where they went.
        let remembered = try f.maps.flows6.map.entries(as: (bp_flow6_key.self, bp_flow6.self))
        XCTAssertEqual(remembered.count, 2, "one flow, two entries")
    }

    /// A published UDP port's datagrams in fragments: the first opens the flow and is sent
    /// to the container, the later ones follow; the container's fragmented answer leaves
    /// with the published address.
    func testFragmentsOfAPublishedFlowFollowTheirFirst() throws {
        let f = try fixture()
        try f.publish6(host: nil, 5353, proto: T.udp, to: V6.container, 53)
        let client = Publish6Tests.client

        let first = Self.fragment(src: client, dst: V6.hostIP, sport: 40000, dport: 5353, id: 21, offset: 0, more: true)
        assertTranslated(
            try f.up(first),
            to: Self.fragment(src: client, dst: V6.container, sport: 40000, dport: 53, id: 21, offset: 0, more: true),
            "first fragment to the published port")
        let later = Self.fragment(src: client, dst: V6.hostIP, id: 21, offset: 3, more: false)
        assertTranslated(
            try f.up(later), to: Self.fragment(src: client, dst: V6.container, id: 21, offset: 3, more: false),
            "its later fragment")

        let mac = T.containerMAC
        let answer = Self.fragment(
            src: V6.container, dst: client, sport: 53, dport: 40000, id: 22, offset: 0, more: true, srcMAC: mac)
        assertTranslated(
            try f.ep(answer),
            to: Self.fragment(
                src: V6.hostIP, dst: client, sport: 5353, dport: 40000, id: 22, offset: 0, more: true, srcMAC: mac),
            "the answer's first fragment")
        let answerLater = Self.fragment(src: V6.container, dst: client, id: 22, offset: 3, more: false, srcMAC: mac)
        assertTranslated(
            try f.ep(answerLater),
            to: Self.fragment(src: V6.hostIP, dst: client, id: 22, offset: 3, more: false, srcMAC: mac),
            "the answer's later fragment")
        XCTAssertTrue(try f.drops().isEmpty)
    }

    /// Path-MTU discovery and the other errors: an error about a masqueraded packet reaches
    /// its container with the quoted packet as the container sent it; an error a container
    /// sends about a reply it got leaves as the host's, quoting what the other side sent.
    func testICMPv6ErrorsAboutTranslatedFlowsAreTranslatedBack() throws {
        let f = try fixture()
        let mac = T.containerMAC

        // TCP keeps its port; "packet too big" from a router quotes the translated SYN.
        let syn = Frame.tcp6(src: V6.container, dst: V6.internet, sport: 41000, dport: 443, srcMAC: mac)
        let sent = try f.ep(syn)
        XCTAssertEqual(sent.verdict, T.redirect)
        let mtu: [UInt8] = [0, 0, 0x05, 0x00]  // 1280
        let tooBig = Self.error(
            src: Self.router, dst: V6.hostIP, type: 2, rest: mtu, quoting: Self.quote(sent.packet))
        assertTranslated(
            try f.up(tooBig),
            to: Self.error(
                src: Self.router, dst: V6.container, type: 2, rest: mtu, quoting: Self.quote(N.afterHop(syn))),
            "packet too big, to the container")

        // UDP whose port was taken: the quoted source port goes back to the container's.
        try f.maps.flows6.map.update(
            N.key(V6.internet, V6.hostIP, 53, 45678, T.udp), N.liveReplyEntry(now: FlowTable.now()))
        let query = Frame.udp6(src: V6.container, dst: V6.internet, sport: 45678, dport: 53, srcMAC: mac)
        let out = try f.ep(query)
        XCTAssertEqual(out.verdict, T.redirect)
        let port = UInt16(out.packet[54]) << 8 | UInt16(out.packet[55])
        XCTAssertNotEqual(port, 45678)
        let unreachable = Self.error(
            src: V6.internet, dst: V6.hostIP, type: 1, code: 4, quoting: Self.quote(out.packet))
        assertTranslated(
            try f.up(unreachable),
            to: Self.error(
                src: V6.internet, dst: V6.container, type: 1, code: 4, quoting: Self.quote(N.afterHop(query))),
            "port unreachable, quoted port translated back")

        // An echo request's "time exceeded".
        let ping = Frame.icmp6Echo(src: V6.container, dst: V6.internet, id: 0x1234, seq: 3, srcMAC: mac)
        let pinged = try f.ep(ping)
        XCTAssertEqual(pinged.verdict, T.redirect)
        let exceeded = Self.error(src: Self.router, dst: V6.hostIP, type: 3, quoting: Self.quote(pinged.packet))
        assertTranslated(
            try f.up(exceeded),
            to: Self.error(src: Self.router, dst: V6.container, type: 3, quoting: Self.quote(N.afterHop(ping))),
            "time exceeded")

        // The container answers the reply of its (remapped) UDP flow with "port unreachable":
        // it leaves with the host's address, quoting the reply as the server sent it.
        let reply = Frame.udp6(src: V6.internet, dst: V6.hostIP, sport: 53, dport: port)
        let delivered = try f.up(reply)
        XCTAssertEqual(delivered.verdict, T.redirect)
        let refused = Self.error(
            src: V6.container, dst: V6.internet, type: 1, code: 4,
            quoting: Array(delivered.packet.dropFirst(14)), srcMAC: mac)
        assertTranslated(
            try f.ep(refused),
            to: Self.error(
                src: V6.hostIP, dst: V6.internet, type: 1, code: 4,
                quoting: Array(N.afterHop(reply).dropFirst(14)), srcMAC: mac),
            "an error from the container, translated out")

        // About no known flow: dropped from the container, the host's on the uplink.
        let unknown = Frame.udp6(src: V6.container, dst: V6.internet, sport: 7, dport: 7, srcMAC: mac)
        let stray = Self.error(
            src: V6.container, dst: V6.internet, type: 1, code: 4, quoting: Self.quote(unknown), srcMAC: mac)
        assertShot(try f.ep(stray), stray, "an error about no flow")
        XCTAssertEqual(
            try f.drops()[
                bp_drop_key(ifindex: f.endpointIfindex, reason: BP_DROP_UNTRANSLATABLE, direction: BP_DIR_EGRESS)], 1)
        let strayIn = Self.error(src: Self.router, dst: V6.hostIP, type: 2, rest: mtu, quoting: Self.quote(unknown))
        assertUntouched(try f.up(strayIn), strayIn, "an error about no flow, to the host")

        // An error about one flow may not go to anyone else: its outer destination must be
        // the quoted packet's source.
        let misdirected = Self.error(
            src: V6.container, dst: Self.router, type: 1, code: 4,
            quoting: Array(delivered.packet.dropFirst(14)), srcMAC: mac)
        assertShot(try f.ep(misdirected), misdirected, "an error to a third party")
    }
}
