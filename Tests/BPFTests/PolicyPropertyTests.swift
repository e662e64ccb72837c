import BPF
import CBPF
import Glibc
import XCTest

/// The endpoint policy fails closed, checked against generated frames: random
/// ethertypes, tags, ARP, and IPv4 with random options, protocols, fragment fields,
/// addresses and truncation, run through bp_ep_ingress and bp_up_ingress with
/// BPF_PROG_TEST_RUN. Every frame's verdict and drop reason must be what a model of the
/// policy says: nothing passes the endpoint but ARP for the container's own addresses and
/// IPv4 the policy allows; nothing is ever rewritten where no port is published.
/// BRIDGEPORT_PROPERTY_SEED repeats a run (the seed is printed on failure).
final class PolicyPropertyTests: XCTestCase {
    typealias T = NATAndPolicyTests

    /// xorshift64*: a reproducible stream of random numbers.
    struct Random {
        var state: UInt64
        mutating func next() -> UInt64 {
            state ^= state >> 12
            state ^= state << 25
            state ^= state >> 27
            return state &* 2_685_821_657_736_338_717
        }
        mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
        mutating func chance(_ percent: Int) -> Bool { below(100) < percent }
        mutating func pick<E>(_ list: [E]) -> E { list[below(list.count)] }
        mutating func bytes(_ n: Int) -> [UInt8] { (0..<n).map { _ in UInt8(truncatingIfNeeded: next()) } }
    }

    enum Expected: Equatable {
        case pass
        case drop(bp_drop_reason)
        static func == (a: Expected, b: Expected) -> Bool {
            switch (a, b) {
            case (.pass, .pass): true
            case (.drop(let x), .drop(let y)): x.rawValue == y.rawValue
            default: false
            }
        }
    }

    static let mac = T.containerMAC
    static let destinations: [[UInt8]] = [
        T.internet, T.gateway1, T.neighbour, T.other, T.client, ip("255.255.255.255"), ip("10.40.0.255"),
        ip("224.0.0.251"),
        ip("239.255.0.1"), ip("10.50.0.1"),
    ]

    func testGeneratedFramesGetExactlyThePolicysVerdict() throws {
        try Sandbox.requireRoot()
        try DataplaneFixture.buildObjects()
        let f = try DataplaneFixture.make(for: self)
        try f.setEndpoint(flags: [BP_EP_F_ENFORCE_SOURCE, BP_EP_F_ISOLATED, BP_EP_F_ICC_DISABLED, BP_EP_F_IPV4_ONLY])
        var counts = (frames: 0, passed: 0)
        let seed = try runGeneratedFrames(
            f, generate: Self.frame, expect: Self.verdict, uplinkReason: Self.uplinkReason
        ) { _, expected, _, _ in
            counts.frames += 1
            if expected == .pass { counts.passed += 1 }
        }
        XCTAssertGreaterThan(
            counts.passed, counts.frames / 20, "seed \(seed): the generator makes frames that pass too")
        XCTAssertTrue(try f.flowEntries().isEmpty, "seed \(seed): no flow without masquerade or published ports")
    }

    // MARK: generating

    static func frame(_ r: inout Random) -> [UInt8] {
        let srcMAC = r.chance(92) ? mac : r.bytes(6)
        switch r.below(10) {
        case 0:
            let type = r.pick([
                0x86dd, 0x88cc, 0x8863, 0x0806, 0x0800, 0x8100, 0x88a8, 0x9100, UInt16(truncatingIfNeeded: r.next()),
            ])
            return Frame.ethernet(src: srcMAC, type: type, payload: r.bytes(r.below(90)))
        case 1:
            let tag: UInt16 = r.pick([0x8100, 0x88a8, 0x9100])
            let inner = ipv4(&r, srcMAC: srcMAC)
            return Array(inner.prefix(12)) + [UInt8(tag >> 8), UInt8(tag & 0xff), 0, UInt8(r.below(3))]
                + inner.dropFirst(12)
        case 2:
            var body = Array(
                Frame.arp(
                    op: UInt16(1 + r.below(2)), senderMAC: r.chance(85) ? mac : r.bytes(6),
                    senderIP: r.chance(85) ? T.container : r.pick(destinations), targetIP: T.gateway1, srcMAC: srcMAC))
            if r.chance(15) {
                body[16] = 0x86
                body[17] = 0xdd
            }
            return r.chance(15) ? Array(body.prefix(14 + r.below(28))) : body
        default:
            return ipv4(&r, srcMAC: srcMAC)
        }
    }

    static func ipv4(_ r: inout Random, srcMAC: [UInt8]) -> [UInt8] {
        let src = r.chance(88) ? T.container : r.pick(destinations)
        let dst = r.pick(destinations)
        let proto = r.pick([UInt8(6), 17, 1, 1, 47, 50, 132, UInt8(truncatingIfNeeded: r.next())])
        let l4: [UInt8]
        switch proto {
        case 6:
            l4 = Frame.tcpSegment(
                src: src, dst: dst, sport: UInt16(1 + r.below(65535)), dport: UInt16(1 + r.below(65535)),
                flags: r.pick([Frame.tcpSYN, Frame.tcpACK, 0x11, 0x04]), payload: r.bytes(r.below(40)))
        case 17:
            l4 = Frame.udpDatagram(
                src: src, dst: dst, sport: UInt16(1 + r.below(65535)), dport: UInt16(1 + r.below(65535)),
                payload: r.bytes(r.below(40)))
        case 1:
            l4 = Frame.icmpEchoMessage(
                type: r.pick([8, 0, 3, 11]), id: UInt16(r.below(65536)), seq: 1, payload: r.bytes(r.below(20)))
        default: l4 = r.bytes(r.below(40))
        }
        let options = r.chance(20) ? Array(repeating: UInt8(1), count: 4 * (1 + r.below(10))) : []
        let fragment: UInt16 = r.pick([
            Frame.dontFragment, 0, Frame.moreFragments, Frame.moreFragments | UInt16(1 + r.below(100)),
            UInt16(1 + r.below(100)),
        ])
        var packet = Frame.ipv4(
            src: src, dst: dst, proto: proto, payload: l4, options: options, fragment: fragment,
            ttl: UInt8(1 + r.below(255)))
        if r.chance(6) { packet[0] = r.pick([0x44, 0x65, 0x4f]) }  // ihl 4, version 6, ihl past the end
        let frame = Frame.ethernet(src: srcMAC, type: Frame.ethTypeIPv4, payload: packet)
        return r.chance(20) ? Array(frame.prefix(14 + 20 + r.below(max(1, frame.count - 34)))) : frame
    }

    // MARK: the model

    /// What bp_ep_ingress must do with a frame from the container 10.40.0.2 (network 1,
    /// isolated, ICC off, IPv4 only, no masquerade, nothing published).
    static func verdict(_ frame: [UInt8]) -> Expected {
        guard frame.count >= 14 else { return .drop(BP_DROP_MALFORMED) }
        guard Array(frame[6..<12]) == mac else { return .drop(BP_DROP_SPOOFED_SOURCE) }
        let type = UInt16(frame[12]) << 8 | UInt16(frame[13])
        switch type {
        case 0x0800: return ipv4Verdict(Array(frame.dropFirst(14)))
        case 0x0806:
            guard frame.count >= 14 + 28 else { return .drop(BP_DROP_MALFORMED) }
            guard frame[16] == 0x08 && frame[17] == 0x00 else { return .drop(BP_DROP_UNKNOWN_L3) }
            return Array(frame[22..<28]) == mac && Array(frame[28..<32]) == T.container
                ? .pass : .drop(BP_DROP_SPOOFED_SOURCE)
        case 0x86dd: return .drop(BP_DROP_IPV6_DISABLED)
        case 0x8100, 0x88a8, 0x9100: return .drop(BP_DROP_VLAN)
        default: return .drop(BP_DROP_UNKNOWN_L3)
        }
    }

    /// Why the uplink drops a frame it drops: an IPv4 packet cut inside its TCP or UDP header
    /// is malformed (none reaches a container's address), the rest is direct access.
    static func uplinkReason(_ frame: [UInt8]) -> bp_drop_reason {
        let packet = Array(frame.dropFirst(14))
        guard frame.count >= 14 + 20, frame[12] == 0x08, frame[13] == 0x00, packet[0] >> 4 == 4 else {
            return BP_DROP_DIRECT_ACCESS
        }
        let headerLength = Int(packet[0] & 0x0f) * 4
        let fragmentOffset = (UInt16(packet[6]) << 8 | UInt16(packet[7])) & 0x1fff
        let l4 = packet.count - headerLength
        let cut = fragmentOffset == 0 && ((packet[9] == 6 && l4 < 20) || (packet[9] == 17 && l4 < 8))
        return cut ? BP_DROP_MALFORMED : BP_DROP_DIRECT_ACCESS
    }

    static func ipv4Verdict(_ packet: [UInt8]) -> Expected {
        guard packet.count >= 20, packet[0] >> 4 == 4, packet[0] & 0x0f >= 5 else { return .drop(BP_DROP_MALFORMED) }
        let headerLength = Int(packet[0] & 0x0f) * 4
        guard packet.count >= headerLength else { return .drop(BP_DROP_MALFORMED) }
        let proto = packet[9]
        let fragmentOffset = (UInt16(packet[6]) << 8 | UInt16(packet[7])) & 0x1fff
        let l4 = packet.count - headerLength
        if fragmentOffset == 0 && ((proto == 6 && l4 < 20) || (proto == 17 && l4 < 8)) {
            return .drop(BP_DROP_MALFORMED)
        }
        guard Array(packet[12..<16]) == T.container else { return .drop(BP_DROP_SPOOFED_SOURCE) }
        let dst = Array(packet[16..<20])
        if dst == [255, 255, 255, 255] || dst[0] >> 4 == 0xe { return .drop(BP_DROP_ICC) }
        if dst[0] == 10 && dst[1] == 50 && dst[2] == 0 { return .drop(BP_DROP_ISOLATION) }
        if dst[0] == 10 && dst[1] == 40 && dst[2] == 0 { return dst == T.gateway1 ? .pass : .drop(BP_DROP_ICC) }
        return .pass
    }
}

extension XCTestCase {
    /// Runs 3000 frames of `generate` (seeded by BRIDGEPORT_PROPERTY_SEED, or the clock) through
    /// bp_ep_ingress and bp_up_ingress: each endpoint verdict and drop reason must be what
    /// `expect` says; the uplink changes nothing and drops what `uplinkDrops` says (when
    /// given), for the reason `uplinkReason` gives; the drops counted are exactly those. `observe` sees every frame the
    /// kernel ran, with its expected and actual endpoint verdicts and a description. Returns the seed.
    @discardableResult
    func runGeneratedFrames(
        _ f: DataplaneFixture, generate: (inout PolicyPropertyTests.Random) -> [UInt8],
        expect: ([UInt8]) -> PolicyPropertyTests.Expected, uplinkDrops: (([UInt8]) -> Bool)? = nil,
        uplinkReason: ([UInt8]) -> bp_drop_reason = { _ in BP_DROP_DIRECT_ACCESS },
        observe: ([UInt8], PolicyPropertyTests.Expected, TestRunResult, String) -> Void
    ) throws -> UInt64 {
        typealias T = NATAndPolicyTests
        let seed = getenv("BRIDGEPORT_PROPERTY_SEED").flatMap { UInt64(String(cString: $0)) } ?? UInt64(time(nil)) | 1
        var random = PolicyPropertyTests.Random(state: seed)
        var expectedDrops: [bp_drop_key: UInt64] = [:]
        for index in 0..<3000 {
            let frame = generate(&random)
            let expected = expect(frame)
            let what = "frame \(index) (seed \(seed)): \(frame.hex)"
            let result: TestRunResult
            do {
                result = try f.ep(frame)
            } catch BPFError.testRunFailed(_, EINVAL) {
                continue  // the kernel builds no skb of an IP ethertype without a whole IP header
            }
            switch expected {
            case .pass:
                XCTAssertEqual(result.verdict, T.next, "\(what): should pass")
                XCTAssertEqual(result.packet, frame, "\(what): changed")
            case .drop(let reason):
                XCTAssertEqual(
                    result.verdict, T.shot,
                    "\(what): should be dropped (\(String(cString: bp_drop_reason_label(reason.rawValue))))")
                expectedDrops[
                    bp_drop_key(ifindex: f.endpointIfindex, reason: reason, direction: BP_DIR_EGRESS), default: 0] += 1
            }
            observe(frame, expected, result, what)
            let uplink = try f.up(frame)
            if let uplinkDrops {
                XCTAssertEqual(uplink.verdict, uplinkDrops(frame) ? T.shot : T.next, "\(what): uplink verdict")
            } else {
                XCTAssertTrue(
                    uplink.verdict == T.next || uplink.verdict == T.shot, "\(what): uplink verdict \(uplink.verdict)")
            }
            XCTAssertEqual(uplink.packet, frame, "\(what): the uplink changed a frame with no port published")
            if uplink.verdict == T.shot {
                expectedDrops[
                    bp_drop_key(ifindex: f.uplinkIfindex, reason: uplinkReason(frame), direction: BP_DIR_INGRESS),
                    default: 0] += 1
            }
            if testRun?.failureCount ?? 0 > 0 { break }  // one seed's first failures are enough to read
        }
        XCTAssertEqual(try f.drops(), expectedDrops, "seed \(seed): drops by reason")
        return seed
    }
}
