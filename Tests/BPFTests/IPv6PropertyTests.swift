import BPF
import CBPF
import Glibc
import XCTest

/// The IPv6 parser against generated packets: random chains of extension headers (each
/// kind, random lengths, fragments first and later, hop-by-hop out of place, chains past
/// the limit), random upper layers, and random damage (cuts, a wrong payload length or
/// version, Ethernet padding), through bp_ep_ingress and bp_up_ingress. Each verdict and
/// drop reason must be what a model of RFC 8200's chain and the policy says; above all, a
/// cut packet never passes. That the programs load at all is the verifier's word on the
/// bounded loops. BRIDGEPORT_PROPERTY_SEED repeats a run (the seed is printed on failure).
final class IPv6PropertyTests: XCTestCase {
    typealias T = NATAndPolicyTests
    typealias V = IPv6Tests
    typealias Random = PolicyPropertyTests.Random
    typealias Expected = PolicyPropertyTests.Expected

    static let sources: [[UInt8]] = [
        V.container, V.container, V.container, V.container, V.containerLinkLocal, V.neighbour, V.unspecified,
    ]
    static let destinations: [[UInt8]] = [V.neighbour, V.gateway1, V.allNodes, V.neighbourLinkLocal, V.other]

    func testGeneratedIPv6GetsExactlyTheParsersVerdict() throws {
        try Sandbox.requireRoot()
        try DataplaneFixture.buildObjects()
        let f = try DataplaneFixture.make(for: self)
        try f.setEndpoint(flags: V.dualStack, ip6: V.container)
        var counts = (frames: 0, passed: 0, damaged: 0, malformed: 0, extLimit: 0, later: 0)
        let seed = try runGeneratedFrames(f, generate: Self.frame, expect: Self.verdict, uplinkDrops: Self.uplinkDrops)
        {
            frame, expected, result, what in
            counts.frames += 1
            if expected == .pass { counts.passed += 1 }
            if expected == .drop(BP_DROP_MALFORMED) { counts.malformed += 1 }
            if expected == .drop(BP_DROP_EXT_HEADERS) { counts.extLimit += 1 }
            if Self.laterFragment(frame) { counts.later += 1 }
            if Self.damaged(frame) {
                counts.damaged += 1
                XCTAssertEqual(expected, .drop(BP_DROP_MALFORMED), "\(what): the model lets a damaged packet pass")
                XCTAssertEqual(result.verdict, T.shot, "\(what): a damaged packet passed")
            }
        }
        // The generator reaches every outcome.
        XCTAssertGreaterThan(counts.passed, counts.frames / 10, "seed \(seed): frames that pass")
        XCTAssertGreaterThan(counts.damaged, counts.frames / 10, "seed \(seed): damaged frames")
        XCTAssertGreaterThan(counts.malformed, counts.frames / 10, "seed \(seed): malformed")
        XCTAssertGreaterThan(counts.extLimit, 0, "seed \(seed): chains past the limit")
        XCTAssertGreaterThan(counts.later, 0, "seed \(seed): later fragments")
    }

    // MARK: generating

    static func extensionHeader(_ r: inout Random) -> IPv6Extension {
        switch r.below(6) {
        case 0: .hopByHop(length: UInt8(r.below(4)))
        case 1: .routing(length: UInt8(r.below(4)))
        case 2: .authentication(length: UInt8(r.below(7)))
        case 3:
            r.chance(60)
                ? .fragment(offset: 0, more: r.chance(70))
                : .fragment(offset: UInt16(1 + r.below(8000)), more: r.chance(50))
        default: .destinationOptions(length: UInt8(r.below(4)))
        }
    }

    /// A frame from the container: an IPv6 packet, sometimes damaged (see `damaged`) or padded.
    static func frame(_ r: inout Random) -> [UInt8] {
        let src = r.pick(sources)
        let dst = r.pick(destinations)
        var extensions: [IPv6Extension] = []
        let count = r.chance(50) ? r.below(3) : r.below(11)
        for i in 0..<count {
            // Hop-by-hop belongs first: mostly there, sometimes out of place.
            extensions.append(i == 0 && r.chance(40) ? .hopByHop(length: UInt8(r.below(3))) : extensionHeader(&r))
        }
        let (next, upper): (UInt8, [UInt8])
        switch r.below(8) {
        case 0, 1:
            next = 6
            upper = Frame.tcpSegment(
                src: src, dst: dst, sport: UInt16(1 + r.below(65535)), dport: UInt16(1 + r.below(65535)),
                payload: r.bytes(r.below(40)))
        case 2, 3:
            next = 17
            upper = Frame.udpDatagram(
                src: src, dst: dst, sport: UInt16(1 + r.below(65535)), dport: UInt16(1 + r.below(65535)),
                payload: r.bytes(r.below(40)))
        case 4, 5:
            next = 58
            let type: UInt8 = r.pick([
                Frame.icmp6EchoRequest, Frame.icmp6EchoReply, 1, 3, Frame.icmp6RouterAdvertisement,
            ])
            upper = Frame.icmp6Message(src: src, dst: dst, type: type, body: r.bytes(4 + r.below(24)))
        case 6: (next, upper) = (r.pick([UInt8(59), 50, 132]), r.bytes(r.below(40)))
        default:  // any protocol but ICMPv6, whose random types could be neighbour discovery
            let proto = UInt8(truncatingIfNeeded: r.next())
            (next, upper) = (proto == 58 ? 59 : proto, r.bytes(r.below(40)))
        }
        var packet = Frame.ipv6(src: src, dst: dst, nextHeader: next, payload: upper, extensions: extensions)
        if r.chance(8) { packet[0] = r.pick([0x40, 0x00, 0x70, 0xf0]) }  // another version
        if r.chance(18) {  // a payload length past the packet, or ending inside the chain or the upper layer
            let length = r.chance(50) ? packet.count - 40 + 1 + r.below(300) : r.below(max(1, packet.count - 40))
            packet[4] = UInt8(length >> 8 & 0xff)
            packet[5] = UInt8(length & 0xff)
        }
        var frame = Frame.ethernet(
            dst: Frame.ipv6DefaultDestinationMAC, src: T.containerMAC, type: Frame.ethTypeIPv6, payload: packet)
        if r.chance(20) {
            frame = Array(frame.prefix(14 + r.below(frame.count - 14)))  // cut anywhere
        } else if r.chance(10) {
            frame += Array(repeating: 0, count: 1 + r.below(30))  // Ethernet padding: no damage
        }
        return frame
    }

    /// Damaged beyond passing: not version 6, or shorter than its payload length says.
    static func damaged(_ frame: [UInt8]) -> Bool {
        frame.count < 14 + 40 || frame[14] >> 4 != 6 || frame.count < 14 + 40 + u16(frame, 14 + 4)
    }

    // MARK: the model

    static func isExtension(_ next: UInt8) -> Bool { [0, 43, 44, 51, 60].contains(next) }

    static func u16(_ bytes: [UInt8], _ at: Int) -> Int { Int(bytes[at]) << 8 | Int(bytes[at + 1]) }

    /// What the chain is: the upper-layer protocol and where it starts (nil: a later fragment's
    /// data, whose protocol is given), or the parser's drop reason.
    enum Chain {
        case upper(proto: UInt8, offset: Int, end: Int)
        case laterFragment(proto: UInt8)
        case drop(bp_drop_reason)
    }

    /// RFC 8200's chain read from an IPv6 packet, with bp_parse_ipv6's limits.
    static func chain(_ packet: [UInt8]) -> Chain {
        guard packet.count >= 40, packet[0] >> 4 == 6 else { return .drop(BP_DROP_MALFORMED) }
        let end = 40 + u16(packet, 4)
        guard end <= packet.count else { return .drop(BP_DROP_MALFORMED) }
        var (next, offset) = (packet[6], 40)
        for i in 0..<8 {
            guard isExtension(next) else { break }
            guard !(next == 0 && i > 0), offset + 8 <= end else { return .drop(BP_DROP_MALFORMED) }
            let header = next
            next = packet[offset]
            if header == 44 {
                let fragmentOffset = u16(packet, offset + 2) & 0xfff8
                offset += 8
                if fragmentOffset != 0 { return .laterFragment(proto: next) }
            } else {
                let length = Int(packet[offset + 1])
                offset += header == 51 ? (length + 2) * 4 : (length + 1) * 8
            }
            guard offset <= end else { return .drop(BP_DROP_MALFORMED) }
        }
        if isExtension(next) { return .drop(BP_DROP_EXT_HEADERS) }
        let need = next == 6 ? 20 : next == 17 ? 8 : next == 58 ? 4 : 0
        guard offset + need <= end else { return .drop(BP_DROP_MALFORMED) }
        if next == 58 && (packet[offset] == 128 || packet[offset] == 129) && offset + 8 > end {
            return .drop(BP_DROP_MALFORMED)
        }
        return .upper(proto: next, offset: offset, end: end)
    }

    static func laterFragment(_ frame: [UInt8]) -> Bool {
        if case .laterFragment = chain(Array(frame.dropFirst(14))) { return true }
        return false
    }

    /// What bp_ep_ingress must do with a frame from fd00:40::2 (network 1, isolated, ICC on,
    /// nothing beyond the host among the destinations).
    static func verdict(_ frame: [UInt8]) -> Expected {
        let packet = Array(frame.dropFirst(14))
        var icmpType: UInt8? = nil
        switch chain(packet) {
        case .drop(let reason): return .drop(reason)
        case .laterFragment: break
        case .upper(let proto, let offset, _): if proto == 58 { icmpType = packet[offset] }
        }
        let src = Array(packet[8..<24])
        let dst = Array(packet[24..<40])
        // None of the generated ICMPv6 types may come from :: (no solicitation, no MLD report).
        guard src == V.container || src == V.containerLinkLocal else { return .drop(BP_DROP_SPOOFED_SOURCE) }
        if icmpType == Frame.icmp6RouterAdvertisement { return .drop(BP_DROP_ROGUE_ROUTER) }
        return dst == V.other ? .drop(BP_DROP_ISOLATION) : .pass
    }

    /// bp_up_ingress drops whatever has a whole IPv6 header to a container's address.
    static func uplinkDrops(_ frame: [UInt8]) -> Bool {
        guard frame.count >= 14 + 40, frame[14] >> 4 == 6 else { return false }
        let dst = Array(frame[(14 + 24)..<(14 + 40)])
        return dst == V.neighbour || dst == V.other
    }
}
