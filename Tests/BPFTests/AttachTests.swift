import BPF
import CBPF
import Glibc
import Model
import XCTest

/// Live attach on a veth pair between two namespaces the test creates:
///   host ns: bpt-h (10.99.0.1)  <-veth->  container ns: bpt-c (10.99.0.2)
/// Programs go on bpt-h, the container's host-side veth. Pings from the
/// container are 98-byte frames (14 + 20 + 8 + 56).
final class AttachTests: XCTestCase {
    struct Topology {
        let host: String
        let container: String
        let ifindex: UInt32  // bpt-h in the host namespace
    }

    override func setUpWithError() throws {
        try Sandbox.requireRoot()
        try Sandbox.buildEndpointObject()
    }

    func makeTopology() throws -> Topology {
        let host = try Sandbox.netns(self)
        let container = try Sandbox.netns(self)
        func inHost(_ args: String...) throws { try Sandbox.sh(["nsenter", "--net=/run/netns/\(host)"] + args) }
        func inContainer(_ args: String...) throws {
            try Sandbox.sh(["nsenter", "--net=/run/netns/\(container)"] + args)
        }
        try inHost(
            "ip", "link", "add", "bpt-h", "address", "02:42:0a:63:00:01", "type", "veth",
            "peer", "name", "bpt-c", "address", "02:42:0a:63:00:02", "netns", container)
        try inHost("ip", "addr", "add", "10.99.0.1/24", "dev", "bpt-h")
        try inContainer("ip", "addr", "add", "10.99.0.2/24", "dev", "bpt-c")
        // Static neighbours: no ARP in the counted traffic.
        try inHost("ip", "neigh", "add", "10.99.0.2", "lladdr", "02:42:0a:63:00:02", "dev", "bpt-h", "nud", "permanent")
        try inContainer(
            "ip", "neigh", "add", "10.99.0.1", "lladdr", "02:42:0a:63:00:01", "dev", "bpt-c", "nud", "permanent")
        try inHost("ip", "link", "set", "bpt-h", "up")
        try inContainer("ip", "link", "set", "bpt-c", "up")
        let ifindex: UInt32 = try Sandbox.inNetns(host) { if_nametoindex("bpt-h") }
        XCTAssertGreaterThan(ifindex, 0)
        return Topology(host: host, container: container, ifindex: ifindex)
    }

    /// The container's endpoint entry, written before the programs are attached, as the
    /// agent writes it: a veth without one is dropped (unknown_endpoint).
    func admit(_ t: Topology, _ maps: BridgeportMaps) throws {
        let ip = IPv4Address(10, 99, 0, 2)
        try maps.setEndpoint(
            ifindex: t.ifindex,
            EndpointPolicy(ip: ip, mac: MACAddress(derivedFrom: ip), network: 0, flags: [.enforceSource]))
    }

    func ping(_ t: Topology, count: Int) throws {
        try Sandbox.sh([
            "nsenter", "--net=/run/netns/\(t.container)", "ping", "-q", "-c", "\(count)", "-i", "0.2", "-W", "2",
            "10.99.0.1",
        ])
    }

    func testTCXAttachCountsLiveTrafficAndSurvivesTheLoader() throws {
        let pinRoot = try Sandbox.bpffs(self)
        let t = try makeTopology()
        try BPFFilesystem.makeDirectories(pinRoot + "/links")
        let ingressPin = pinRoot + "/links/\(t.ifindex)-ingress"
        let egressPin = pinRoot + "/links/\(t.ifindex)-egress"

        do {  // the "agent": load, attach, pin, exit
            let object = try BPFObject.load(Sandbox.endpointObject, pinRoot: pinRoot)
            let ingress = try object.program(BP_PROG_ENDPOINT_INGRESS)
            let egress = try object.program(BP_PROG_ENDPOINT_EGRESS)
            try admit(t, BridgeportMaps(object: object))
            let links = try Sandbox.inNetns(t.host) {
                (
                    try ingress.attach(ifindex: t.ifindex, direction: .ingress, mode: .tcx, pinPath: ingressPin),
                    try egress.attach(ifindex: t.ifindex, direction: .egress, mode: .tcx, pinPath: egressPin)
                )
            }
            XCTAssertEqual(links.0.programID, ingress.id)
            XCTAssertEqual(links.1.programID, egress.id)
        }

        // The links live on in their pins, with the kernel's view of them.
        let pinned = try TCAttachment.openPinned(ingressPin)
        XCTAssertEqual(pinned.mode, .tcx)
        XCTAssertEqual(pinned.ifindex, t.ifindex)
        XCTAssertEqual(pinned.direction, .ingress)
        XCTAssertEqual(try TCAttachment.openPinned(egressPin).direction, .egress)
        XCTAssertNotEqual(pinned.programID, 0)
        // The kernel's own view (bpftool 7.1 predates tcx and prints link type 11).
        let shown = try Sandbox.sh(["bpftool", "link", "show", "pinned", ingressPin])
        print("bpftool link show pinned \(ingressPin):\n\(shown)")
        XCTAssertTrue(shown.contains("prog \(pinned.programID)"), shown)

        try ping(t, count: 3)
        let maps = try BridgeportMaps(pinRoot: pinRoot)
        let afterPing = try XCTUnwrap(maps.endpointStats(ifindex: t.ifindex))
        XCTAssertEqual(afterPing.tx, bp_traffic(packets: 3, bytes: 3 * 98), "echo requests sent by the container")
        XCTAssertEqual(afterPing.rx, bp_traffic(packets: 3, bytes: 3 * 98), "echo replies received by the container")

        // Detach through the pins: traffic flows but is no longer counted.
        try TCAttachment.detachPinned(ingressPin)
        try TCAttachment.detachPinned(egressPin)
        XCTAssertNotEqual(access(ingressPin, F_OK), 0)
        try ping(t, count: 1)
        XCTAssertEqual(try maps.endpointStats(ifindex: t.ifindex), afterPing)
    }

    func testClsactFallbackAttachCountsAndDetaches() throws {
        let pinRoot = try Sandbox.bpffs(self)
        let t = try makeTopology()
        let object = try BPFObject.load(Sandbox.endpointObject, pinRoot: pinRoot)
        let ingress = try object.program(BP_PROG_ENDPOINT_INGRESS)
        let egress = try object.program(BP_PROG_ENDPOINT_EGRESS)
        let maps = try BridgeportMaps(object: object)
        try admit(t, maps)

        let attachments = try Sandbox.inNetns(t.host) {
            [
                try ingress.attach(ifindex: t.ifindex, direction: .ingress, mode: .tc),
                try egress.attach(ifindex: t.ifindex, direction: .egress, mode: .tc),
            ]
        }
        XCTAssertEqual(try Sandbox.inNetns(t.host) { attachments[0].programID }, ingress.id)
        let filters = try Sandbox.sh([
            "nsenter", "--net=/run/netns/\(t.host)", "tc", "filter", "show", "dev", "bpt-h", "ingress",
        ])
        XCTAssertTrue(filters.contains("direct-action"), filters)

        try ping(t, count: 2)
        let stats = try XCTUnwrap(maps.endpointStats(ifindex: t.ifindex))
        XCTAssertEqual(stats.tx, bp_traffic(packets: 2, bytes: 2 * 98))
        XCTAssertEqual(stats.rx, bp_traffic(packets: 2, bytes: 2 * 98))

        try Sandbox.inNetns(t.host) {
            for a in attachments { try a.detach() }
            try TCAttachment.removeClsact(ifindex: t.ifindex)
        }
        try ping(t, count: 1)
        XCTAssertEqual(try maps.endpointStats(ifindex: t.ifindex), stats)
    }

    func testAttachToMissingInterfaceFailsClearly() throws {
        let pinRoot = try Sandbox.bpffs(self)
        let ns = try Sandbox.netns(self)
        let object = try BPFObject.load(Sandbox.endpointObject, pinRoot: pinRoot)
        let ingress = try object.program(BP_PROG_ENDPOINT_INGRESS)
        XCTAssertThrowsError(try Sandbox.inNetns(ns) { try ingress.attach(ifindex: 4242, direction: .ingress) }) {
            error in
            guard case BPFError.attachFailed(_, let ifindex, _, let errno) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(ifindex, 4242)
            XCTAssertEqual(errno, ENODEV)
            XCTAssertTrue("\(error)".contains("no such interface"), "\(error)")
        }
    }
}
