import BPF
import CBPF
import Glibc
import Model
import XCTest

final class EndpointProgramTests: XCTestCase {
    override func setUpWithError() throws {
        try Sandbox.requireRoot()
        try Sandbox.buildEndpointObject()
    }

    // MARK: the contract

    func testObjectMatchesBridgeportHeader() throws {
        let pinRoot = try Sandbox.bpffs(self)
        let object = try BPFObject.load(Sandbox.endpointObject, pinRoot: pinRoot)

        XCTAssertEqual(
            Set(object.programNames),
            [
                BP_PROG_ENDPOINT_INGRESS, BP_PROG_ENDPOINT_EGRESS, BP_PROG_ENDPOINT_NAT66,
                BP_PROG_ENDPOINT_NAT66_RELATED, BP_PROG_TUNNEL_INGRESS,
            ])
        for name in [BP_MAP_ENDPOINT_STATS, BP_MAP_ENDPOINTS, BP_MAP_DROPS] {
            XCTAssertTrue(object.mapNames.contains(name), "map \(name) missing from endpoint.bpf.o")
            XCTAssertTrue(BPFFilesystem.isBPFFS(pinRoot + "/" + name), "map \(name) not pinned under the pin root")
        }
        let stats = try object.map(BP_MAP_ENDPOINT_STATS)
        XCTAssertTrue(stats.isPerCPU)
        XCTAssertEqual(stats.keySize, 4)
        XCTAssertEqual(stats.valueSize, MemoryLayout<bp_endpoint_stats>.size)
        XCTAssertEqual(stats.maxEntries, UInt32(BP_MAX_ENDPOINTS))
        XCTAssertEqual(MemoryLayout<bp_endpoint>.size, 52)
        XCTAssertEqual(MemoryLayout<bp_subnet6_key>.size, 20)
        XCTAssertEqual(MemoryLayout<bp_addr6>.size, 16)
        XCTAssertEqual(MemoryLayout<bp_flow6_key>.size, 40)
        XCTAssertEqual(MemoryLayout<bp_flow6>.size, 48)
        XCTAssertEqual(MemoryLayout<bp_netns>.size, 32)
        XCTAssertEqual(MemoryLayout<bp_overlay_dest>.size, 12)
        XCTAssertEqual(try object.map(BP_MAP_OVERLAY_DESTS).valueSize, MemoryLayout<bp_overlay_dest>.size)
        XCTAssertEqual(MemoryLayout<bp_sock_nat6_key>.size, 32)
        XCTAssertEqual(MemoryLayout<bp_nat6_value>.size, 20)
        XCTAssertEqual(MemoryLayout<bp_frag6_key>.size, 40)
        XCTAssertEqual(MemoryLayout<bp_frag6_nat>.size, 24)
        for (name, key, value) in [
            (BP_MAP_FLOWS6, MemoryLayout<bp_flow6_key>.size, MemoryLayout<bp_flow6>.size),
            (BP_MAP_SUBNETS6, MemoryLayout<bp_subnet6_key>.size, MemoryLayout<bp_subnet>.size),
            (BP_MAP_HOST_ADDRS6, MemoryLayout<bp_addr6>.size, 1),
            (BP_MAP_PORTS6, 20, 28),
            (BP_MAP_PORT_STATS6, 4, MemoryLayout<bp_port_stats>.size),
            (BP_MAP_ALLOW6, 40, 1),
            (BP_MAP_TARGETS6, 20, 20),
        ] {
            XCTAssertEqual(try object.map(name).keySize, key, name)
            XCTAssertEqual(try object.map(name).valueSize, value, name)
        }
        XCTAssertEqual(MemoryLayout<bp_drop_key>.size, 8)
        XCTAssertEqual(try object.map(BP_MAP_DROPS).keySize, MemoryLayout<bp_drop_key>.size)
        XCTAssertEqual(try object.map(BP_MAP_ENDPOINTS).valueSize, MemoryLayout<bp_endpoint>.size)
        XCTAssertNoThrow(try BridgeportMaps(object: object))
        XCTAssertNoThrow(try BridgeportMaps(pinRoot: pinRoot))

        XCTAssertThrowsError(try object.program("nope")) { error in
            guard case BPFError.programNotFound = error else { return XCTFail("\(error)") }
        }
        XCTAssertThrowsError(try object.map(BP_MAP_ENDPOINT_STATS).lookup(UInt32(1), as: bp_endpoint_stats.self)) {
            error in
            guard case BPFError.wrongMapKind = error else { return XCTFail("\(error)") }
        }
        XCTAssertThrowsError(try BPFHashMap<UInt64, bp_endpoint>(object.map(BP_MAP_ENDPOINTS))) { error in
            guard case BPFError.layoutMismatch = error else { return XCTFail("\(error)") }
        }
    }

    // MARK: BPF_PROG_TEST_RUN

    func testTestRunCountsExactlyOnePacketInTheRightDirection() throws {
        let pinRoot = try Sandbox.bpffs(self)
        let ns = try Sandbox.netns(self)
        try Sandbox.sh([
            "nsenter", "--net=/run/netns/\(ns)", "ip", "link", "add", "bpt-v0", "type", "veth", "peer", "name",
            "bpt-v1",
        ])
        let object = try BPFObject.load(Sandbox.endpointObject, pinRoot: pinRoot)
        let ingress = try object.program(BP_PROG_ENDPOINT_INGRESS)
        let egress = try object.program(BP_PROG_ENDPOINT_EGRESS)
        let maps = try BridgeportMaps(object: object)
        let frame = udpFrame()
        let len = UInt64(frame.count)

        let ifindex: UInt32 = try Sandbox.inNetns(ns) { if_nametoindex("bpt-v0") }
        XCTAssertGreaterThan(ifindex, 1)
        XCTAssertNil(try maps.endpointStats(ifindex: ifindex))
        // The sender's entry (udpFrame's addresses), as the agent writes it before attaching.
        try maps.setEndpoint(
            ifindex: ifindex,
            EndpointPolicy(
                ip: IPv4Address(10, 99, 0, 2), mac: MACAddress(bytes: [2, 0, 0, 0, 0, 2]), network: 0,
                flags: [.enforceSource]))

        // Container transmits: tc ingress of the host-side veth -> tx only.
        let verdict = try Sandbox.inNetns(ns) { try ingress.testRun(packet: frame, ifindex: ifindex) }
        XCTAssertEqual(verdict, -1, "TCX_NEXT expected")
        var stats = try XCTUnwrap(maps.endpointStats(ifindex: ifindex))
        XCTAssertEqual(stats.tx, bp_traffic(packets: 1, bytes: len))
        XCTAssertEqual(stats.rx, bp_traffic(packets: 0, bytes: 0))

        // Container receives: tc egress -> rx only.
        XCTAssertEqual(try Sandbox.inNetns(ns) { try egress.testRun(packet: frame, ifindex: ifindex) }, -1)
        stats = try XCTUnwrap(maps.endpointStats(ifindex: ifindex))
        XCTAssertEqual(stats.tx, bp_traffic(packets: 1, bytes: len))
        XCTAssertEqual(stats.rx, bp_traffic(packets: 1, bytes: len))

        // Another ifindex (loopback, ctx ifindex 1) has no entry: what it sends is nobody's
        // the agent knows, and is dropped, not let through unjudged; counted as a drop only.
        XCTAssertEqual(try Sandbox.inNetns(ns) { try ingress.testRun(packet: frame, ifindex: 1) }, 2, "TC_ACT_SHOT")
        XCTAssertEqual(try Sandbox.inNetns(ns) { try egress.testRun(packet: frame, ifindex: 1) }, -1)
        XCTAssertEqual(try maps.endpointStats(ifindex: ifindex), stats)
        XCTAssertNil(try maps.endpointStats(ifindex: 1))
        XCTAssertEqual(
            try maps.dropCounts(),
            [bp_drop_key(ifindex: 1, reason: BP_DROP_UNKNOWN_ENDPOINT, direction: BP_DIR_EGRESS): 1])
        let all = try maps.allEndpointStats()
        XCTAssertEqual(all, [ifindex: stats])

        // Per-CPU slots sum to the same numbers.
        let slot = try XCTUnwrap(maps.endpoints.lookup(ifindex)).stats_slot
        let slots = try XCTUnwrap(maps.endpointStats.perCPU(slot))
        XCTAssertEqual(slots.count, BPFMap.possibleCPUs)
        XCTAssertEqual(bp_endpoint_stats.sum(slots), stats)
    }

    func testCountersSurviveReloadThroughPins() throws {
        let pinRoot = try Sandbox.bpffs(self)
        let frame = udpFrame()
        var mapID: UInt32 = 0
        do {  // first "agent"
            let object = try BPFObject.load(Sandbox.endpointObject, pinRoot: pinRoot)
            mapID = try object.map(BP_MAP_ENDPOINT_STATS).id
            try BridgeportMaps(object: object).setEndpoint(
                ifindex: 1,
                EndpointPolicy(
                    ip: IPv4Address(10, 99, 0, 2), mac: MACAddress(bytes: [2, 0, 0, 0, 0, 2]), network: 0,
                    flags: [.enforceSource]))
            _ = try object.program(BP_PROG_ENDPOINT_INGRESS).testRun(packet: frame, ifindex: 1)
        }
        let object = try BPFObject.load(Sandbox.endpointObject, pinRoot: pinRoot)
        XCTAssertEqual(try object.map(BP_MAP_ENDPOINT_STATS).id, mapID, "pinned map not reused")
        _ = try object.program(BP_PROG_ENDPOINT_INGRESS).testRun(packet: frame, ifindex: 1)
        XCTAssertEqual(
            try BridgeportMaps(pinRoot: pinRoot).endpointStats(ifindex: 1)?.tx,
            bp_traffic(packets: 2, bytes: 2 * UInt64(frame.count)))
    }

    // MARK: typed maps

    /// Published ports' counters live in slots of bp_port_stats their entries name: a new
    /// port gets a zeroed one (never slot 0, where flows of earlier versions count), one
    /// written again keeps its slot and counters, one removed gives its slot back, and an
    /// agent over pinned entries learns the slots they hold.
    func testPublishedPortsKeepTheirCountersSlot() throws {
        let pinRoot = try Sandbox.bpffs(self)
        let object = try BPFObject.load(Sandbox.endpointObject, pinRoot: pinRoot)
        let maps = try BridgeportMaps(object: object)
        let ports = maps.publishedPorts(.ipv4)
        let web = HostPort(.tcp, IPv4Address.any, 8080)
        let dns = HostPort(.udp, IPv4Address(127, 0, 0, 1), 5353)
        let target = PortTarget(
            ip: IPv4Address(10, 0, 0, 2), port: 80, ifindex: 7, restricted: false, directOnly: false)
        func slot(_ port: HostPort) throws -> UInt32 { try XCTUnwrap(maps.ports.lookup(port.raw)).stats_slot }
        func count(_ slot: UInt32, _ packets: UInt64) throws {
            try maps.portStats.map.updatePerCPU(
                slot,
                [bp_port_stats](
                    repeating: bp_port_stats(packets: packets, bytes: 0, flows: 0), count: BPFMap.possibleCPUs))
        }
        let cpus = UInt64(BPFMap.possibleCPUs)

        try count(1, 99)  // left over in the array: a new port starts at 0 all the same
        try ports.update(web, target)
        try ports.update(dns, target)
        XCTAssertEqual([try slot(web), try slot(dns)], [1, 2], "from slot 1 up")
        XCTAssertEqual(try maps.portTraffic(), [web: .zero, dns: .zero])

        try count(1, 5)
        var moved = target
        moved.port = 81
        try ports.update(web, moved)
        XCTAssertEqual(try slot(web), 1, "written again: the same slot")
        XCTAssertEqual(try maps.portTraffic()[web]?.packets, 5 * cpus, "and its counters")
        XCTAssertEqual(try ports.entries()[web], moved)

        let later = try BridgeportMaps(pinRoot: pinRoot).publishedPorts(.ipv4)
        let ssh = HostPort(.tcp, IPv4Address.any, 2222)
        try later.sync([dns: target, ssh: target])
        XCTAssertNil(try maps.ports.lookup(web.raw), "not wanted: unpublished")
        XCTAssertEqual(try slot(ssh), 3, "a new agent learns the slots held; the one given back rests")
        XCTAssertEqual(try maps.portTraffic(), [dns: .zero, ssh: .zero])
        XCTAssertTrue(try later.delete(dns))
        XCTAssertFalse(try later.delete(dns))
        XCTAssertEqual(Set(try maps.portTraffic().keys), [ssh])

        // Many at once: the new ones' slots are zeroed in one batch; one published already
        // keeps its slot.
        let many = (0..<300).map { (HostPort(.tcp, IPv4Address.any, UInt16(30000 + $0)), target) }
        try later.update(many + [(ssh, moved)])
        XCTAssertEqual(try slot(ssh), 3)
        XCTAssertEqual(try later.entries()[ssh], moved)
        XCTAssertEqual(Set(try maps.ports.entries().map(\.value.stats_slot)).count, 301, "a slot each")
        XCTAssertEqual(try maps.portTraffic().values.filter { $0 != .zero }.count, 0)
    }

    func testEndpointAndDropMaps() throws {
        let pinRoot = try Sandbox.bpffs(self)
        let object = try BPFObject.load(Sandbox.endpointObject, pinRoot: pinRoot)
        let maps = try BridgeportMaps(object: object)

        // Enough entries for several batches.
        for i in 1...700 {
            let ep = bp_endpoint(
                ipv4: [172, 18, UInt8(i >> 8), UInt8(i & 0xff)], mac: [2, 66, 0, 0, UInt8(i >> 8), UInt8(i & 0xff)],
                networkID: 7, flags: BP_EP_F_ENFORCE_SOURCE.rawValue)
            try maps.setEndpoint(ifindex: UInt32(i), ep)
        }
        let entries = try maps.endpoints.entries()
        XCTAssertEqual(entries.count, 700)
        XCTAssertEqual(Set(entries.map(\.value.stats_slot)), Set(0..<700), "a slot each, from the bottom up")
        XCTAssertEqual(Set(try maps.endpoints.keys()), Set(entries.map(\.key)))
        let ep = try XCTUnwrap(maps.endpoints.lookup(258))
        XCTAssertEqual(ep.ipv4Octets, [172, 18, 1, 2])
        XCTAssertEqual(ep.macOctets, [2, 66, 0, 0, 1, 2])
        XCTAssertEqual(ep.ip, UInt32(bigEndian: 0xAC12_0102), "ip must be in network byte order")
        XCTAssertThrowsError(try maps.endpoints.update(258, ep, flags: .noExist))

        // Drop counters: write per-CPU slots, read sums and labels.
        let key = bp_drop_key(ifindex: 42, reason: BP_DROP_SPOOFED_SOURCE, direction: BP_DIR_EGRESS)
        let slots = (0..<BPFMap.possibleCPUs).map { UInt64($0 + 1) }
        try maps.drops.map.updatePerCPU(key, slots)
        let drops = try maps.dropCounts()
        XCTAssertEqual(drops[key], slots.reduce(0, +))
        XCTAssertEqual(key.reasonLabel, "spoofed_source")
        XCTAssertEqual(key.directionLabel, "egress")
        XCTAssertEqual(String(cString: bp_drop_reason_label(BP_DROP_ICC.rawValue)), "icc")

        try maps.removeEndpoint(ifindex: 42)
        XCTAssertTrue(try maps.dropCounts().isEmpty)
        try maps.removeEndpoint(ifindex: 258)
        XCTAssertNil(try maps.endpoints.lookup(258))
        XCTAssertFalse(try maps.endpoints.delete(258))
    }

    // MARK: errors

    func testIncompatiblePinnedMapIsReportedByName() throws {
        let pinRoot = try Sandbox.bpffs(self)
        // A "bp_ep_stats" with an old layout (value 16 bytes instead of 32).
        let fd = bpf_map_create(BPF_MAP_TYPE_PERCPU_HASH, BP_MAP_ENDPOINT_STATS, 4, 16, 16, nil)
        XCTAssertGreaterThanOrEqual(fd, 0)
        defer { close(fd) }
        XCTAssertEqual(bpf_obj_pin(fd, pinRoot + "/" + BP_MAP_ENDPOINT_STATS), 0)

        XCTAssertThrowsError(try BPFObject.load(Sandbox.endpointObject, pinRoot: pinRoot)) { error in
            guard case BPFError.pinnedMapIncompatible(_, let map, _, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(map, BP_MAP_ENDPOINT_STATS)
            XCTAssertTrue("\(error)".contains("remove \(pinRoot)/bp_ep_stats"), "\(error)")
        }
    }

    /// bp_endpoints grew its IPv6 address (16 -> 32 bytes): the agent, which writes every
    /// endpoint anew at start, replaces a pin of the old layout instead of failing to load.
    func testAnEndpointsPinOfTheOldLayoutIsReplaced() throws {
        let pinRoot = try Sandbox.bpffs(self)
        let fd = bpf_map_create(BPF_MAP_TYPE_HASH, BP_MAP_ENDPOINTS, 4, 16, UInt32(BP_MAX_ENDPOINTS), nil)
        XCTAssertGreaterThanOrEqual(fd, 0)
        defer { close(fd) }
        XCTAssertEqual(bpf_obj_pin(fd, pinRoot + "/" + BP_MAP_ENDPOINTS), 0)

        let object = try BPFObject(path: Sandbox.endpointObject, pinRoot: pinRoot)
        XCTAssertEqual(try object.removeIncompatiblePin(BridgeportMap.endpoints.name), UInt32(BP_MAX_ENDPOINTS))
        try object.load()
        XCTAssertEqual(try object.map(BP_MAP_ENDPOINTS).valueSize, MemoryLayout<bp_endpoint>.size)
    }

    func testVerifierRejectionNamesTheProgramAndCarriesTheLog() throws {
        let candidates: [String] = ["/opt/swift/usr/bin/clang", "/usr/bin/clang"]
        let clang = candidates.first { access($0, X_OK) == 0 }
        guard let clang else { throw XCTSkip("no clang to build a bad program") }
        var template = Array("/tmp/bridgeport-bad-XXXXXX".utf8CString)
        let dir = String(cString: try XCTUnwrap(mkdtemp(&template)))
        addTeardownBlock { _ = Sandbox.run(["rm", "-rf", dir]) }
        let source = """
            #include <linux/bpf.h>
            #include <bpf/bpf_helpers.h>
            SEC("tc")
            int reads_out_of_bounds(struct __sk_buff *skb)
            {
                unsigned char *data = (unsigned char *)(long)skb->data;
                return data[20]; /* no bounds check against data_end */
            }
            char _license[] SEC("license") = "GPL";
            """
        try source.write(toFile: dir + "/bad.bpf.c", atomically: true, encoding: .utf8)
        try Sandbox.sh([
            clang, "-target", "bpf", "-O2", "-g", "-I/usr/include/x86_64-linux-gnu",
            "-c", dir + "/bad.bpf.c", "-o", dir + "/bad.bpf.o",
        ])

        XCTAssertThrowsError(try BPFObject.load(dir + "/bad.bpf.o", pinRoot: nil)) { error in
            guard case BPFError.programRejected(_, let program, let errno, let log) = error else {
                return XCTFail("\(error)")
            }
            XCTAssertEqual(program, "reads_out_of_bounds")
            XCTAssertEqual(errno, EACCES)
            XCTAssertTrue(log.contains("invalid access to packet"), log)
        }
        XCTAssertThrowsError(try BPFObject.load(dir + "/missing.bpf.o", pinRoot: nil)) { error in
            guard case BPFError.openFailed = error else { return XCTFail("\(error)") }
        }
    }

    // MARK: bpffs

    func testEnsureMountedIsIdempotentAndCreatesSubdirectories() throws {
        let root = try Sandbox.bpffs(self)
        XCTAssertEqual(try BPFFilesystem.ensureMounted(at: root), .alreadyMounted)
        XCTAssertEqual(try BPFFilesystem.ensureMounted(at: root + "/links/deep/"), .alreadyMounted)
        XCTAssertTrue(BPFFilesystem.isBPFFS(root + "/links/deep"))
        XCTAssertFalse(BPFFilesystem.isBPFFS("/tmp"))
    }
}
