import BPF
import CBPF
import XCTest

/// The objects of `make bpf-counted` count the helper calls `make bench` reports (HelperCalls),
/// and the normal objects, which the agent embeds, have nothing of it.
final class HelperCallTests: XCTestCase {
    typealias T = NATAndPolicyTests

    override func setUpWithError() throws {
        try Sandbox.requireRoot()
    }

    /// A packet of an established published flow, from the uplink to a container whose frame
    /// header its endpoint entry gives: one bpf_redirect_peer, no route lookup, one hash
    /// lookup (the flow's, in bp_flows: the container's entry is found by the slot the flow
    /// carries); the same for every packet.
    func testCountedObjectsCountAnEstablishedFlowsPacket() throws {
        try DataplaneFixture.buildObjects(.counted)
        let f = try DataplaneFixture.make(for: self, objects: .counted)
        try f.setEndpoint(
            flags: [BP_EP_F_ENFORCE_SOURCE, BP_EP_F_ISOLATED, BP_EP_F_MASQUERADE], gatewayMAC: T.gatewayMAC)
        try f.publish(host: T.hostIP, 5000, proto: T.tcp, to: T.container, 80)
        func arriving(_ flags: UInt8) -> [UInt8] {
            Frame.tcp(src: T.client, dst: T.hostIP, sport: T.clientPort, dport: 5000, flags: flags)
        }
        func delivered(_ flags: UInt8) -> [UInt8] {  // in the frame header of the endpoint entry
            Frame.tcp(
                src: T.client, dst: T.container, sport: T.clientPort, dport: 80, flags: flags, srcMAC: T.gatewayMAC,
                dstMAC: T.containerMAC)
        }
        try assertRewritten(try f.up(arriving(Frame.tcpSYN)), to: delivered(Frame.tcpSYN), "SYN")
        // The flow's first packet after the SYN finds its container in bp_endpoints and
        // caches the slot in the flow (bp_flow_endpoint); the later ones in bp_ep_slots.
        try assertRewritten(try f.up(arriving(Frame.tcpACK)), to: delivered(Frame.tcpACK), "first ACK")

        let packets = 3
        let (_, calls) = try HelperCalls.counting(try HelperCalls.map(pinRoot: f.pinRoot), packets: packets) {
            for _ in 0..<packets {
                try assertRewritten(try f.up(arriving(Frame.tcpACK)), to: delivered(Frame.tcpACK), "ACK")
            }
        }
        XCTAssertEqual(calls.perPacket[HelperCalls.slot(BPF_FUNC_redirect_peer)], 1, calls.described)
        XCTAssertNil(calls.perPacket[HelperCalls.slot(BPF_FUNC_fib_lookup)], calls.described)
        XCTAssertNil(calls.perPacket[HelperCalls.slot(BPF_FUNC_redirect_neigh)], calls.described)
        let flowLookups = calls.perPacket[HelperCalls.slot(BPF_FUNC_map_lookup_elem, BPF_MAP_TYPE_HASH)] ?? 0
        XCTAssertEqual(flowLookups, 1, "the flow's lookup alone, every packet: \(calls.described)")
    }

    /// A packet to a container of the same network: its destination is judged by the own
    /// subnet the endpoint's entry carries, with no trie lookup; without it, one.
    func testAPacketToTheOwnNetworkSkipsTheTrie() throws {
        try DataplaneFixture.buildObjects(.counted)
        let f = try DataplaneFixture.make(for: self, objects: .counted)
        let toNeighbour = Frame.tcp(
            src: T.container, dst: T.neighbour, sport: 33000, dport: 22, srcMAC: T.containerMAC)
        func trieLookups() throws -> Double {
            let (_, calls) = try HelperCalls.counting(try HelperCalls.map(pinRoot: f.pinRoot), packets: 1) {
                assertUntouched(try f.ep(toNeighbour), toNeighbour, "to the neighbour")
            }
            return calls.perPacket[HelperCalls.slot(BPF_FUNC_map_lookup_elem, BPF_MAP_TYPE_LPM_TRIE)] ?? 0
        }
        try f.setEndpoint(flags: [BP_EP_F_ENFORCE_SOURCE, BP_EP_F_ISOLATED], ownSubnet: DataplaneFixture.ownSubnet)
        XCTAssertEqual(try trieLookups(), 0)
        try f.setEndpoint(flags: [BP_EP_F_ENFORCE_SOURCE, BP_EP_F_ISOLATED])
        XCTAssertEqual(try trieLookups(), 1)
    }

    /// The normal objects have no bp_helper_calls; the counted ones have it.
    func testOnlyCountedObjectsHaveTheCounters() throws {
        for name in ["endpoint", "uplink", "sock"] {
            try Sandbox.buildObject(name)
            try Sandbox.buildCountedObject(name)
            let normal = try BPFObject(path: Sandbox.packageRoot + "/build/bpf/\(name).bpf.o", pinRoot: nil)
            XCTAssertFalse(normal.mapNames.contains(BP_MAP_HELPER_CALLS), "\(name).bpf.o: \(normal.mapNames)")
            let counted = try BPFObject(path: Sandbox.countedObject(name), pinRoot: nil)
            XCTAssertTrue(counted.mapNames.contains(BP_MAP_HELPER_CALLS), "counted \(name).bpf.o: \(counted.mapNames)")
        }
    }
}
