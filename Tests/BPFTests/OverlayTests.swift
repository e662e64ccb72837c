import BPF
import CBPF
import Model
import XCTest

/// The overlay's frames past its bridge (bpf/lib/overlay.h): what a container sends another
/// host's container goes to the network's VXLAN device, and what that device receives for this
/// host's container goes straight to it. In the fixture, bpt-up stands in for the VXLAN device
/// and network 1 (10.40.0.0/24) for the overlay.
final class OverlayTests: XCTestCase {
    typealias T = NATAndPolicyTests

    override func setUpWithError() throws {
        try Sandbox.requireRoot()
        try DataplaneFixture.buildObjects()
    }

    private static let overlayFlags = [BP_EP_F_ENFORCE_SOURCE, BP_EP_F_ISOLATED, BP_EP_F_MASQUERADE, BP_EP_F_OVERLAY]
    private static let remoteMAC: [UInt8] = [0x02, 0x42, 0x0a, 0x28, 0x00, 0x03]

    private func destination(_ f: DataplaneFixture, _ ip: [UInt8], veth: UInt32?, network: UInt16 = 1) throws {
        try f.maps.overlayDestinations.update(
            IPv4Address(ip[0], ip[1], ip[2], ip[3]),
            OverlayDestination(tunnel: f.uplinkIfindex, veth: veth, network: network))
    }

    func testWhatAContainerSendsAnotherHostsContainerGoesToTheVXLANDevice() throws {
        let f = try DataplaneFixture.make(for: self)
        try f.setEndpoint(flags: Self.overlayFlags)
        let tcp = Frame.tcp(
            src: T.container, dst: T.neighbour, sport: 40000, dport: 80, srcMAC: T.containerMAC, dstMAC: Self.remoteMAC)
        let udp = Frame.udp(
            src: T.container, dst: T.neighbour, sport: 40000, dport: 53, payload: [1], srcMAC: T.containerMAC,
            dstMAC: Self.remoteMAC)
        assertUntouched(try f.ep(tcp), tcp, "an address not in the map: the bridge's way")

        try destination(f, T.neighbour, veth: nil)
        for (frame, what) in [(tcp, "TCP"), (udp, "UDP")] {
            let result = try f.ep(frame)
            XCTAssertEqual(result.verdict, T.redirect, "\(what) to another host's container")
            XCTAssertEqual(result.packet.hex, frame.hex, "\(what): the frame goes as it is")
        }
        let stats = try XCTUnwrap(f.maps.endpointStats(ifindex: f.endpointIfindex))
        XCTAssertEqual(stats.tx.packets, 3, "counted as sent")

        try destination(f, T.neighbour, veth: 99)
        assertUntouched(try f.ep(tcp), tcp, "this host's container: the bridge's way")
        try destination(f, T.neighbour, veth: nil, network: 2)
        assertUntouched(try f.ep(tcp), tcp, "an entry of another network")
        try destination(f, T.neighbour, veth: nil)
        try f.setEndpoint(flags: [BP_EP_F_ENFORCE_SOURCE, BP_EP_F_ISOLATED, BP_EP_F_MASQUERADE])
        assertUntouched(try f.ep(tcp), tcp, "an endpoint of a bridge network")
    }

    /// The policy judges first: a packet for another network's subnet is dropped where it
    /// starts even when an entry names the address.
    func testThePolicyJudgesBeforeTheTunnel() throws {
        let f = try DataplaneFixture.make(for: self)
        try f.setEndpoint(flags: Self.overlayFlags)
        try destination(f, T.other, veth: nil, network: 2)
        let frame = Frame.tcp(src: T.container, dst: T.other, sport: 40000, dport: 80, srcMAC: T.containerMAC)
        assertShot(try f.ep(frame), frame, "another network's container")
        XCTAssertEqual(
            try f.drops()[bp_drop_key(ifindex: f.endpointIfindex, reason: BP_DROP_ISOLATION, direction: BP_DIR_EGRESS)],
            1)
    }

    func testWhatTheVXLANDeviceReceivesForThisHostsContainerGoesStraightToIt() throws {
        let f = try DataplaneFixture.make(for: self)
        try f.setEndpoint(flags: Self.overlayFlags)
        let frame = Frame.tcp(
            src: T.neighbour, dst: T.container, sport: 80, dport: 40000, srcMAC: Self.remoteMAC, dstMAC: T.containerMAC)
        assertUntouched(try f.tunnelIn(frame, ifindex: f.uplinkIfindex), frame, "an address not in the map")

        try destination(f, T.container, veth: f.endpointIfindex)
        let result = try f.tunnelIn(frame, ifindex: f.uplinkIfindex)
        XCTAssertEqual(result.verdict, T.redirect, "handed to the container")
        XCTAssertEqual(result.packet.hex, frame.hex, "as it is")
        let stats = try XCTUnwrap(f.maps.endpointStats(ifindex: f.endpointIfindex))
        XCTAssertEqual(stats.rx, bp_traffic(packets: 1, bytes: UInt64(frame.count)), "counted as received")

        var otherMAC = frame
        otherMAC[5] ^= 0xff
        assertUntouched(try f.tunnelIn(otherMAC, ifindex: f.uplinkIfindex), otherMAC, "another MAC: the bridge's way")
        assertUntouched(
            try f.tunnelIn(frame, ifindex: f.endpointIfindex), frame, "from another network's VXLAN device")
        let arp = Frame.arp(senderMAC: Self.remoteMAC, senderIP: T.neighbour, targetIP: T.container)
        assertUntouched(try f.tunnelIn(arp, ifindex: f.uplinkIfindex), arp, "ARP")
        try destination(f, T.container, veth: nil)
        assertUntouched(try f.tunnelIn(frame, ifindex: f.uplinkIfindex), frame, "another host's container")
        try destination(f, T.container, veth: f.endpointIfindex, network: 2)
        assertUntouched(try f.tunnelIn(frame, ifindex: f.uplinkIfindex), frame, "an entry of another network")
        XCTAssertEqual(try f.maps.endpointStats(ifindex: f.endpointIfindex)?.rx.packets, 1, "only the first counted")
    }

    /// An endpoint's removal takes its overlay entry along (with or without the overlay flag
    /// in its policy), but not an entry another host's container holds meanwhile.
    func testAnEndpointsDestinationGoesWithItsEntry() throws {
        let f = try DataplaneFixture.make(for: self)
        let ip = IPv4Address(10, 40, 0, 2)
        let own = OverlayDestination(tunnel: f.uplinkIfindex, veth: f.endpointIfindex, network: 1)
        for flags: EndpointPolicy.Flags in [[.enforceSource, .overlay], [.enforceSource]] {
            try f.maps.setEndpoint(
                ifindex: f.endpointIfindex,
                EndpointPolicy(ip: ip, mac: MACAddress(bytes: T.containerMAC), network: 1, flags: flags))
            try f.maps.overlayDestinations.update(ip, own)
            try f.maps.removeEndpoint(ifindex: f.endpointIfindex)
            XCTAssertNil(try f.maps.overlayDestinations.lookup(ip), "flags \(flags.rawValue)")
        }

        try f.setEndpoint(flags: Self.overlayFlags)
        let remote = OverlayDestination(tunnel: f.uplinkIfindex, veth: nil, network: 1)
        try f.maps.overlayDestinations.update(ip, remote)
        try f.maps.removeEndpoint(ifindex: f.endpointIfindex)
        XCTAssertEqual(try f.maps.overlayDestinations.lookup(ip), remote)
    }

    /// The helper calls of both ways (make bpf-counted): the frame to another host's container
    /// leaves by one bpf_redirect (to the VXLAN device's egress, not a peer), and one for this
    /// host's container by one bpf_redirect_peer after one bpf_skb_change_type (PACKET_HOST).
    func testTheHelperCallsOfBothWays() throws {
        try DataplaneFixture.buildObjects(.counted)
        let f = try DataplaneFixture.make(for: self, objects: .counted)
        try f.setEndpoint(flags: Self.overlayFlags)
        try destination(f, T.neighbour, veth: nil)
        let out = Frame.tcp(
            src: T.container, dst: T.neighbour, sport: 40000, dport: 80, srcMAC: T.containerMAC, dstMAC: Self.remoteMAC)
        let (_, sent) = try HelperCalls.counting(try HelperCalls.map(pinRoot: f.pinRoot), packets: 1) {
            XCTAssertEqual(try f.ep(out).verdict, T.redirect)
        }
        XCTAssertEqual(sent.perPacket[HelperCalls.slot(BPF_FUNC_redirect)], 1, sent.described)
        XCTAssertNil(sent.perPacket[HelperCalls.slot(BPF_FUNC_redirect_peer)], sent.described)

        try destination(f, T.container, veth: f.endpointIfindex)
        let inbound = Frame.tcp(
            src: T.neighbour, dst: T.container, sport: 80, dport: 40000, srcMAC: Self.remoteMAC, dstMAC: T.containerMAC)
        let (_, received) = try HelperCalls.counting(try HelperCalls.map(pinRoot: f.pinRoot), packets: 1) {
            XCTAssertEqual(try f.tunnelIn(inbound, ifindex: f.uplinkIfindex).verdict, T.redirect)
        }
        XCTAssertEqual(received.perPacket[HelperCalls.slot(BPF_FUNC_redirect_peer)], 1, received.described)
        XCTAssertEqual(received.perPacket[HelperCalls.slot(BPF_FUNC_skb_change_type)], 1, received.described)
        XCTAssertNil(received.perPacket[HelperCalls.slot(BPF_FUNC_redirect)], received.described)
    }
}
