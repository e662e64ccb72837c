import BPF
import CBPF
import Model
import XCTest

/// Drop events as the programs write them (struct bp_drop_event) read back by the agent:
/// the header's fields, and the tuple read from the packet's first bytes.
final class MonitorRecordTests: XCTestCase {
    typealias T = NATAndPolicyTests

    /// A tc drop event carrying `packet`'s first BP_DROP_SAMPLE bytes, as bp_notify_drop fills one.
    func record(_ packet: [UInt8], etherType: UInt16, reason: bp_drop_reason = BP_DROP_ISOLATION) throws -> DropRecord {
        var event = bp_drop_event()
        event.head.time = 123_456_789
        event.head.type = UInt8(BP_EVENT_DROP.rawValue)
        event.head.ifindex = 42
        event.reason = UInt8(reason.rawValue)
        event.direction = UInt8(BP_DIR_EGRESS.rawValue)
        event.hook = UInt8(BP_HOOK_TC.rawValue)
        event.dev_ifindex = 7
        event.len = UInt32(packet.count)
        event.protocol = etherType.bigEndian
        let sample = packet.prefix(Int(BP_DROP_SAMPLE))
        event.sample_len = UInt8(sample.count)
        withUnsafeMutableBytes(of: &event.sample) { $0.copyBytes(from: sample) }
        let decoded = withUnsafeBytes(of: event) { MonitorRecord($0) }
        guard case .drop(let drop) = decoded else { throw XCTSkip("not a drop: \(String(describing: decoded))") }
        return drop
    }

    func tuple(_ proto: UInt8, _ s: [UInt8], _ sp: UInt16, _ d: [UInt8], _ dp: UInt16) -> EventTuple {
        func address(_ bytes: [UInt8]) -> IPAddress {
            bytes.count == 4
                ? .v4(IPv4Address(bytes[0], bytes[1], bytes[2], bytes[3])) : .v6(IPv6Address(bytes: bytes))
        }
        return EventTuple(
            proto: proto, source: address(s), sourcePort: sp, destination: address(d), destinationPort: dp)
    }

    func testTheHeadersFieldsComeBack() throws {
        let drop = try record(Frame.tcp(src: T.container, dst: T.other, sport: 41000, dport: 80), etherType: 0x0800)
        XCTAssertEqual(drop.time, 123_456_789)
        XCTAssertEqual(drop.ifindex, 42)
        XCTAssertEqual(drop.deviceIndex, 7)
        XCTAssertEqual(drop.reason.label, "isolation")
        XCTAssertEqual(drop.direction, "egress")
        XCTAssertFalse(drop.refusedCall)
        XCTAssertEqual(drop.tuple, tuple(6, T.container, 41000, T.other, 80))
    }

    func testIPv4UDPAndICMPEcho() throws {
        XCTAssertEqual(
            try record(Frame.udp(src: T.client, dst: T.container, sport: 53, dport: 5353), etherType: 0x0800).tuple,
            tuple(17, T.client, 53, T.container, 5353))
        let echo = try record(Frame.icmpEcho(src: T.container, dst: T.other, id: 77), etherType: 0x0800)
        XCTAssertEqual(echo.tuple, tuple(1, T.container, 77, T.other, 77), "echo: the identifier both ways")
        XCTAssertFalse(echo.portsKnown, "an identifier is no port: monitors show none")
    }

    func testALaterFragmentHasNoPorts() throws {
        let fragment = Frame.udp(src: T.client, dst: T.container, sport: 53, dport: 5353, fragment: 185)
        let drop = try record(fragment, etherType: 0x0800)
        XCTAssertEqual(drop.tuple, tuple(17, T.client, 0, T.container, 0))
        XCTAssertFalse(drop.portsKnown, "0 is no port of the packet's")
        XCTAssertTrue(
            try record(Frame.udp(src: T.client, dst: T.container, sport: 53, dport: 5353), etherType: 0x0800).portsKnown
        )
    }

    func testIPv6PastItsExtensionHeaders() throws {
        for extensions: [IPv6Extension] in [
            [.hopByHop(), .destinationOptions()], [.fragment(more: true), .destinationOptions()],
            [.authentication(), .routing()],
        ] {
            let packet = Frame.udp6(
                src: IPv6Tests.container, dst: IPv6Tests.internet, sport: 41000, dport: 443, extensions: extensions)
            let drop = try record(packet, etherType: 0x86dd)
            XCTAssertEqual(
                drop.tuple, tuple(17, IPv6Tests.container, 41000, IPv6Tests.internet, 443), "\(extensions)")
            XCTAssertTrue(drop.portsKnown)
        }
        let later = Frame.udp6(
            src: IPv6Tests.container, dst: IPv6Tests.internet, sport: 41000, dport: 443,
            extensions: [.fragment(offset: 1), .destinationOptions()])
        XCTAssertFalse(try record(later, etherType: 0x86dd).portsKnown)
    }

    func testPortsPastTheSampleAreNotMadeUp() throws {
        // Nine destination options headers: the UDP header starts at byte 126 of 128.
        let packet = Frame.udp6(
            src: IPv6Tests.container, dst: IPv6Tests.internet, sport: 41000, dport: 443,
            extensions: Array(repeating: .destinationOptions(), count: 9))
        let drop = try record(packet, etherType: 0x86dd)
        XCTAssertEqual(drop.tuple?.proto, 17)
        XCTAssertEqual(drop.tuple?.destination, .v6(IPv6Address(bytes: IPv6Tests.internet)))
        XCTAssertFalse(drop.portsKnown)
    }

    func testAPacketWithoutAnEthernetHeader() throws {
        let frame = Frame.tcp(src: T.client, dst: T.container, sport: 40000, dport: 22)
        XCTAssertEqual(
            try record(Array(frame.dropFirst(14)), etherType: 0x0800).tuple, tuple(6, T.client, 40000, T.container, 22))
    }

    func testARPAndTruncatedPacketsHaveNoTuple() throws {
        let arp = Frame.arp(senderMAC: T.containerMAC, senderIP: T.container, targetIP: T.neighbour)
        let drop = try record(arp, etherType: 0x0806, reason: BP_DROP_SPOOFED_SOURCE)
        XCTAssertNil(drop.tuple)
        XCTAssertEqual(drop.etherType, 0x0806)
        let cut = Array(Frame.tcp(src: T.client, dst: T.container, sport: 1, dport: 2).prefix(30))
        XCTAssertNil(try record(cut, etherType: 0x0800).tuple)
    }

    func testARefusedCallCarriesItsDestination() throws {
        var event = bp_drop_event()
        event.head.type = UInt8(BP_EVENT_DROP.rawValue)
        event.hook = UInt8(BP_HOOK_SOCK.rawValue)
        event.reason = UInt8(BP_DROP_NOT_ALLOWED.rawValue)
        event.family = UInt8(BP_AF_INET)
        event.proto = 6
        event.daddr.0 = IPv4Address(198, 51, 100, 1).raw
        event.dport = 8080
        guard case .drop(let drop) = withUnsafeBytes(of: event, { MonitorRecord($0) }) else {
            return XCTFail("not a drop")
        }
        XCTAssertTrue(drop.refusedCall)
        XCTAssertEqual(drop.reason.label, "not_allowed")
        XCTAssertEqual(drop.tuple?.destination, .v4(IPv4Address(198, 51, 100, 1)))
        XCTAssertEqual(drop.tuple?.destinationPort, 8080)
    }

    func testRecordsTooShortOrOfAnUnknownTypeAreRefused() {
        var event = bp_drop_event()
        event.head.type = 9
        XCTAssertNil(withUnsafeBytes(of: event) { MonitorRecord($0) })
        event.head.type = UInt8(BP_EVENT_DROP.rawValue)
        XCTAssertNil(withUnsafeBytes(of: event) { MonitorRecord(UnsafeRawBufferPointer(rebasing: $0.prefix(40))) })
    }

    func testEveryReasonHasALabelAndIsFoundByIt() {
        XCTAssertEqual(DropReason.all.count, Int(__BP_DROP_MAX.rawValue) - 1)
        for reason in DropReason.all {
            XCTAssertNotEqual(reason.label, "unspecified")
            XCTAssertEqual(DropReason(label: reason.label), reason)
        }
        XCTAssertNil(DropReason(label: "bogus"))
    }
}
