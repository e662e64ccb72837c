import BPF
import CBPF
import Glibc
import Model
import XCTest

/// What Linux's conntrack calls related, for a container's flow that passes untranslated (a
/// network whose masquerade is off, so its flows are tracked, not translated): from outside
/// straight to the container's address, an ICMP error about the flow and the later fragments
/// of a datagram whose first fragment passed as the flow's get through the direct-access
/// filter; errors about no known flow, and fragments whose first was never seen, do not
/// (direct_access), in both families.
final class RelatedUntranslatedTests: XCTestCase {
    typealias T = NATAndPolicyTests
    typealias V6 = IPv6Tests
    typealias E6 = NAT66ErrorAndFragmentTests

    override func setUpWithError() throws {
        try Sandbox.requireRoot()
        try DataplaneFixture.buildObjects()
    }

    /// The endpoint on network 1 with its flows tracked untranslated (masquerade off: the
    /// subnets' flags say neither routed nor masquerade), IPv4 and IPv6.
    func fixture() throws -> DataplaneFixture {
        let f = try DataplaneFixture.make(for: self)
        try f.setEndpoint(
            flags: [BP_EP_F_ENFORCE_SOURCE, BP_EP_F_ISOLATED, BP_EP_F_TRACK_OUT, BP_EP_F_TRACK_OUT6],
            ip6: V6.container)
        try f.setSubnet(ip("10.40.0.0"), 24, networkID: 1)
        try f.setSubnet6(V6.subnet1, 64, networkID: 1)
        return f
    }

    func directAccess(_ f: DataplaneFixture) -> bp_drop_key {
        bp_drop_key(ifindex: f.uplinkIfindex, reason: BP_DROP_DIRECT_ACCESS, direction: BP_DIR_INGRESS)
    }

    func testIPv4ErrorsAndFragmentsOfUntranslatedFlows() throws {
        let f = try fixture()
        let query = Frame.udp(
            src: T.container, dst: T.internet, sport: 5353, dport: 53, srcMAC: T.containerMAC, dstMAC: T.gatewayMAC)
        assertUntouched(try f.ep(query), query, "the query leaves untranslated, tracked")

        let router: [UInt8] = [203, 0, 113, 254]
        let tooBig = Frame.icmpError(
            src: router, dst: T.container, type: 3, code: 4, rest: 1280, quoting: Array(query.dropFirst(14)))
        assertUntouched(try f.up(tooBig), tooBig, "fragmentation needed about the flow reaches the container")
        let stranger = Frame.udp(src: T.container, dst: T.internet, sport: 6000, dport: 53)
        let unrelated = Frame.icmpError(
            src: router, dst: T.container, type: 3, code: 3, quoting: Array(stranger.dropFirst(14)))
        assertShot(try f.up(unrelated), unrelated, "an error about no known flow does not")

        // The answer, in fragments: the first carries the ports (the flow's), the later follow it.
        let first = Frame.udp(
            src: T.internet, dst: T.container, sport: 53, dport: 5353, payload: Array(repeating: 0x41, count: 24),
            fragment: Frame.moreFragments)
        assertUntouched(try f.up(first), first, "the first fragment of the answer")
        let later = Frame.ethernet(
            dst: Frame.defaultDestinationMAC, src: Frame.defaultSourceMAC, type: Frame.ethTypeIPv4,
            payload: Frame.ipv4(
                src: T.internet, dst: T.container, proto: 17, payload: Array(repeating: 0x42, count: 16),
                fragment: 4))
        assertUntouched(try f.up(later), later, "its later fragment")
        let orphan = Frame.ethernet(
            dst: Frame.defaultDestinationMAC, src: Frame.defaultSourceMAC, type: Frame.ethTypeIPv4,
            payload: Frame.ipv4(
                src: T.internet, dst: T.container, proto: 17, payload: Array(repeating: 0x42, count: 16),
                fragment: 4, id: 0x9999))
        assertShot(try f.up(orphan), orphan, "a later fragment of a datagram whose first was never seen")
        // A first fragment cut inside its TCP header (RFC 1858's tiny fragment) would
        // reassemble with the answer's later fragments into ports nobody judged.
        let tiny = Frame.ethernet(
            dst: Frame.defaultDestinationMAC, src: Frame.defaultSourceMAC, type: Frame.ethTypeIPv4,
            payload: Frame.ipv4(
                src: T.internet, dst: T.container, proto: 6, payload: [0, 53, 0, 22] + Array(repeating: 0, count: 12),
                fragment: Frame.moreFragments))
        assertShot(try f.up(tiny), tiny, "a tiny first fragment to the container")
        XCTAssertEqual(
            try f.drops().filter { $0.value > 0 },
            [
                directAccess(f): 2,
                bp_drop_key(ifindex: f.uplinkIfindex, reason: BP_DROP_MALFORMED, direction: BP_DIR_INGRESS): 1,
            ])
    }

    func testIPv6ErrorsAndFragmentsOfUntranslatedFlows() throws {
        let f = try fixture()
        let query = Frame.udp6(src: V6.container, dst: V6.internet, sport: 5353, dport: 53, srcMAC: T.containerMAC)
        assertUntouched(try f.ep(query), query, "the query leaves untranslated, tracked")

        let tooBig = E6.error(
            src: E6.router, dst: V6.container, type: 2, rest: [0, 0, 5, 0x00], quoting: E6.quote(query))
        assertUntouched(try f.up(tooBig), tooBig, "packet too big about the flow reaches the container")
        let stranger = Frame.udp6(src: V6.container, dst: V6.internet, sport: 6000, dport: 53)
        let unrelated = E6.error(src: E6.router, dst: V6.container, type: 1, code: 4, quoting: E6.quote(stranger))
        assertShot(try f.up(unrelated), unrelated, "an error about no known flow does not")

        let first = E6.fragment(
            src: V6.internet, dst: V6.container, sport: 53, dport: 5353, id: 9, offset: 0, more: true)
        assertUntouched(try f.up(first), first, "the first fragment of the answer")
        let later = E6.fragment(src: V6.internet, dst: V6.container, id: 9, offset: 3, more: false)
        assertUntouched(try f.up(later), later, "its later fragment")
        let orphan = E6.fragment(src: V6.internet, dst: V6.container, id: 10, offset: 3, more: false)
        assertShot(try f.up(orphan), orphan, "a later fragment of a datagram whose first was never seen")
        XCTAssertEqual(try f.drops().filter { $0.value > 0 }, [directAccess(f): 2])
    }
}
