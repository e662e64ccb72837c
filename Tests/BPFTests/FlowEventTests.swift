import BPF
import CBPF
import Glibc
import Model
import Synchronization
import XCTest

/// Flow events (`bridgeport monitor --type flow`), as the programs emit them on crafted frames
/// (DataplaneFixture) and the collector on expiry: new, established, closed and expired, with
/// their tuples and, for flows made while a monitor listened, their packets and IP bytes.
final class FlowEventTests: XCTestCase {
    typealias T = NATAndPolicyTests

    override func setUpWithError() throws {
        try Sandbox.requireRoot()
        try DataplaneFixture.buildObjects()
    }

    /// A fixture with a published port 198.51.100.1:5000 -> 10.40.0.2:80 (TCP and UDP), and
    /// the monitor switch set to `subscribed`.
    func fixture(subscribed: Set<MonitorEventKind>) throws -> (DataplaneFixture, EventRing) {
        let f = try DataplaneFixture.make(for: self)
        try f.setEndpoint(flags: [BP_EP_F_ENFORCE_SOURCE, BP_EP_F_ISOLATED, BP_EP_F_MASQUERADE])
        try f.publish(host: T.hostIP, 5000, proto: T.tcp, to: T.container, 80)
        try f.maps.monitor.set(subscribed: subscribed, rate: 0)
        return (f, try EventRing(map: f.maps.events))
    }

    func flowRecords(_ ring: EventRing) throws -> [FlowRecord] {
        try ring.poll(timeout: 0).compactMap { record in
            if case .flow(let flow) = record { return flow }
            return nil
        }
    }

    func tuple(_ src: [UInt8], _ sport: UInt16, _ dst: [UInt8], _ dport: UInt16, _ proto: UInt8) -> EventTuple {
        bp_flow_key(src: be32(src), dst: be32(dst), sport: be16(sport), dport: be16(dport), proto: proto).eventTuple
    }

    func fromClient(_ flags: UInt8, _ payload: Int = 0) -> [UInt8] {
        Frame.tcp(
            src: T.client, dst: T.hostIP, sport: 40000, dport: 5000, flags: flags,
            payload: [UInt8](repeating: 0x61, count: payload))
    }

    func fromContainer(_ flags: UInt8, _ payload: Int = 0) -> [UInt8] {
        Frame.tcp(
            src: T.container, dst: T.client, sport: 80, dport: 40000, flags: flags,
            payload: [UInt8](repeating: 0x62, count: payload), srcMAC: T.containerMAC)
    }

    /// A poll hands out one batch at most, and the next poll the rest: under a flood, a read
    /// until the ring is empty would gather the whole flood in memory first.
    func testAPollReturnsABatchAtMostAndTheNextTheRest() throws {
        let (f, _) = try fixture(subscribed: [.drop])
        let ring = try EventRing(map: f.maps.events, batch: 4)
        let spoofed = Frame.udp(
            src: T.other, dst: T.internet, sport: 40000, dport: 53, payload: [1], srcMAC: T.containerMAC)
        for _ in 0..<10 { XCTAssertEqual(try f.ep(spoofed).verdict, T.shot) }
        XCTAssertEqual(try (0..<4).map { _ in try ring.poll(timeout: 0).count }, [4, 4, 2, 0])
    }

    /// One connection through a published port: new at the SYN, established at the opener's
    /// ACK, closed at the second FIN with every packet until then and its IP bytes (headers
    /// and payload both ways); nothing else, not for the packets in between nor the last ACK.
    func testAPublishedConnectionIsNewThenEstablishedThenClosedWithItsCounts() throws {
        let (f, ring) = try fixture(subscribed: [.flow])
        let original = tuple(T.client, 40000, T.hostIP, 5000, T.tcp)
        let reply = tuple(T.container, 80, T.client, 40000, T.tcp)
        let frames: [(toContainer: Bool, frame: [UInt8])] = [
            (true, fromClient(Frame.tcpSYN)), (false, fromContainer(Frame.tcpSYNACK)), (true, fromClient(Frame.tcpACK)),
            (true, fromClient(Frame.tcpACK, 100)), (false, fromContainer(Frame.tcpACK, 300)),
            (true, fromClient(Frame.tcpACK | 0x01)), (false, fromContainer(Frame.tcpACK | 0x01)),
        ]
        var changes: [FlowRecord] = []
        for (toContainer, frame) in frames {
            XCTAssertEqual(try (toContainer ? f.up(frame) : f.ep(frame)).verdict, T.redirect)
            changes += try flowRecords(ring)
        }
        XCTAssertEqual(changes.map(\.change), [.new, .established, .closed])
        XCTAssertEqual(changes.map(\.state), ["syn_sent", "established", "closing"])
        for change in changes {
            XCTAssertEqual(change.original, original, "\(change.change): the client's tuple")
            XCTAssertEqual(change.reply, reply, "\(change.change): translated to the container")
            XCTAssertEqual(change.kind, .published)
            XCTAssertEqual(change.ifindex, f.endpointIfindex, "the container's veth")
        }
        XCTAssertNil(changes[0].packets, "no counts before the end")
        // Every packet's IP bytes (Ethernet header aside), both ways.
        let ipBytes = frames.reduce(0) { $0 + $1.frame.count - 14 }
        XCTAssertEqual(ipBytes, 7 * 40 + 400)
        XCTAssertEqual(changes[2].packets, 7)
        XCTAssertEqual(changes[2].bytes, UInt64(ipBytes))

        XCTAssertEqual(try f.up(fromClient(Frame.tcpACK)).verdict, T.redirect)
        XCTAssertEqual(try flowRecords(ring), [], "the last ACK: no news")
    }

    /// A RST closes a flow; one after both FINs is no news.
    func testARSTClosesAFlowOnce() throws {
        let (f, ring) = try fixture(subscribed: [.flow])
        _ = try f.up(fromClient(Frame.tcpSYN))
        _ = try f.ep(fromContainer(0x04 | Frame.tcpACK))
        XCTAssertEqual(try flowRecords(ring).map(\.change), [.new, .closed])
        let closed = try flowRecords(ring)
        XCTAssertEqual(closed, [])

        // A new connection on the tuple: new again, counted afresh; then both FINs and a RST.
        _ = try f.up(fromClient(Frame.tcpSYN))
        _ = try f.up(fromClient(Frame.tcpACK | 0x01))
        _ = try f.ep(fromContainer(Frame.tcpACK | 0x01))
        _ = try f.ep(fromContainer(0x04))
        let records = try flowRecords(ring)
        XCTAssertEqual(records.map(\.change), [.new, .closed])
        XCTAssertEqual(records.last?.packets, 3, "counted from the SYN that reopened it, up to the second FIN")
        XCTAssertEqual(records.last?.bytes, 3 * 40)
    }

    /// UDP is established at its first answer; a masqueraded flow's reply tuple has the host's
    /// address and port.
    func testAMasqueradedUDPFlowIsEstablishedByItsAnswer() throws {
        let (f, ring) = try fixture(subscribed: [.flow, .drop])
        let query = Frame.udp(src: T.container, dst: T.internet, sport: 45000, dport: 53, srcMAC: T.containerMAC)
        let out = try f.ep(query)
        XCTAssertEqual(out.verdict, T.redirect)
        let port = try ParsedIPv4(out.packet).sourcePort
        _ = try f.ep(query)
        XCTAssertEqual(try f.up(Frame.udp(src: T.internet, dst: T.hostIP, sport: 53, dport: port)).verdict, T.redirect)
        _ = try f.up(Frame.udp(src: T.internet, dst: T.hostIP, sport: 53, dport: port))
        let records = try flowRecords(ring)
        XCTAssertEqual(records.map(\.change), [.new, .established])
        XCTAssertEqual(records.map(\.state), ["unreplied", "replied"])
        XCTAssertEqual(records.first?.kind, .masquerade)
        XCTAssertEqual(records.first?.original, tuple(T.container, 45000, T.internet, 53, T.udp))
        XCTAssertEqual(records.first?.reply, tuple(T.internet, 53, T.hostIP, port, T.udp))
    }

    /// Nobody listening to flows: no flow event, no flow counted (drops may be listened to).
    func testNoFlowEventNorCountWhileNobodyListensToFlows() throws {
        let (f, ring) = try fixture(subscribed: [.drop])
        _ = try f.up(fromClient(Frame.tcpSYN))
        _ = try f.ep(fromContainer(Frame.tcpSYNACK))
        _ = try f.up(fromClient(Frame.tcpACK))
        _ = try f.up(fromClient(Frame.tcpACK | 0x01))
        _ = try f.ep(fromContainer(Frame.tcpACK | 0x01))
        XCTAssertEqual(try ring.poll(timeout: 0), [])
        let entries = try f.flowEntries()
        XCTAssertEqual(entries.count, 2)
        for entry in entries {
            XCTAssertEqual(entry.value.flags & UInt8(BP_FLOW_F_COUNTED.rawValue), 0, "not counted")
        }
        XCTAssertEqual(try f.accountEntries(), 0)

        // A flow made before a monitor came is not counted, and its changes are news all the same.
        try f.maps.monitor.set(subscribed: [.flow], rate: 0)
        _ = try f.up(fromClient(Frame.tcpSYN))
        XCTAssertEqual(try flowRecords(ring).map(\.change), [.new], "reopened")
        _ = try f.ep(fromContainer(0x04))
        let closed = try flowRecords(ring)
        XCTAssertEqual(closed.map(\.change), [.closed])
        XCTAssertNil(closed.first?.packets, "not counted: no figures")
        XCTAssertEqual(try f.accountEntries(), 0)
    }

    /// The collector reports a counted flow that expired, with its counts, and takes them out;
    /// not one that closed (its closed event was its end), nor one nobody counted.
    func testTheCollectorReportsCountedFlowsThatExpired() throws {
        let (f, ring) = try fixture(subscribed: [.flow])
        try f.setTimeouts(["udp": 1, "tcp-closing": 1])
        let query = Frame.udp(src: T.container, dst: T.internet, sport: 45001, dport: 53, srcMAC: T.containerMAC)
        let port = try ParsedIPv4(try f.ep(query).packet).sourcePort
        let answer = Frame.udp(src: T.internet, dst: T.hostIP, sport: 53, dport: port, payload: [1, 2, 3])
        _ = try f.up(answer)
        // A closed connection, and an uncounted flow.
        _ = try f.up(fromClient(Frame.tcpSYN))
        _ = try f.up(fromClient(Frame.tcpACK | 0x01))
        _ = try f.ep(fromContainer(Frame.tcpACK | 0x01))
        try f.maps.monitor.set(subscribed: [.drop], rate: 0)
        _ = try f.ep(Frame.udp(src: T.container, dst: T.internet, sport: 45002, dport: 53, srcMAC: T.containerMAC))
        _ = try ring.poll(timeout: 0)
        XCTAssertEqual(try f.accountEntries(), 4)

        let reported = Mutex<[FlowRecord]>([])
        f.maps.flows.endings.connect { records in reported.withLock { $0 += records } }
        let pass = try f.maps.flows.collect(now: FlowTable.now() + 10)
        let ended = reported.withLock { $0 }
        XCTAssertEqual(pass.expired, [T.udp: 2, T.tcp: 1])
        XCTAssertEqual(ended.count, 1)
        let record = try XCTUnwrap(ended.first)
        XCTAssertEqual(record.change, .expired)
        XCTAssertEqual(record.original, tuple(T.container, 45001, T.internet, 53, T.udp))
        XCTAssertEqual(record.reply, tuple(T.internet, 53, T.hostIP, port, T.udp))
        XCTAssertEqual(record.kind, .masquerade)
        XCTAssertEqual(record.state, "replied")
        XCTAssertEqual(record.ifindex, f.endpointIfindex)
        XCTAssertEqual(record.packets, 2)
        XCTAssertEqual(record.bytes, UInt64(query.count - 14 + answer.count - 14))
        XCTAssertEqual(try f.accountEntries(), 0, "their counts go with them")
    }

    /// A counted UDP flow the container opened (masqueraded) and the internet answered: the
    /// query and the answer, and the port it got.
    func answeredQuery(_ f: DataplaneFixture, sport: UInt16) throws -> (query: [UInt8], answer: [UInt8], port: UInt16) {
        let query = Frame.udp(src: T.container, dst: T.internet, sport: sport, dport: 53, srcMAC: T.containerMAC)
        let port = try ParsedIPv4(try f.ep(query).packet).sourcePort
        let answer = Frame.udp(src: T.internet, dst: T.hostIP, sport: 53, dport: port, payload: [1, 2, 3])
        XCTAssertEqual(try f.up(answer).verdict, T.redirect)
        return (query, answer, port)
    }

    /// A program that meets an expired counted flow removes it and reports it expired, with
    /// its counts, as the collector would have; the packet then starts a new flow.
    func testAProgramThatMeetsAnExpiredCountedFlowReportsIt() throws {
        let (f, ring) = try fixture(subscribed: [.flow])
        let (query, answer, port) = try answeredQuery(f, sport: 45003)
        XCTAssertEqual(try flowRecords(ring).map(\.change), [.new, .established])
        // Both entries expired a second ago, as a flow nobody refreshed.
        for (key, var entry) in try f.flowEntries() {
            entry.expires = FlowTable.now() - 1
            try f.maps.flows.map.update(key, entry)
        }

        XCTAssertEqual(try f.ep(query).verdict, T.redirect)
        let records = try flowRecords(ring)
        XCTAssertEqual(records.map(\.change), [.expired, .new])
        let ended = try XCTUnwrap(records.first)
        XCTAssertEqual(ended.original, tuple(T.container, 45003, T.internet, 53, T.udp))
        XCTAssertEqual(ended.reply, tuple(T.internet, 53, T.hostIP, port, T.udp))
        XCTAssertEqual(ended.packets, 2)
        XCTAssertEqual(ended.bytes, UInt64(query.count - 14 + answer.count - 14))
    }

    /// A flow whose expiry is 0 is one a program is removing, and reporting (bp_flow_reap): the
    /// collector that meets it removes it without a second report.
    func testTheCollectorLeavesTheReportOfAFlowAProgramReapsToTheProgram() throws {
        let (f, ring) = try fixture(subscribed: [.flow])
        _ = try answeredQuery(f, sport: 45006)
        _ = try ring.poll(timeout: 0)
        for (key, var entry) in try f.flowEntries() {
            entry.expires = 0
            try f.maps.flows.map.update(key, entry)
        }
        let reported = Mutex<[FlowRecord]>([])
        f.maps.flows.endings.connect { records in reported.withLock { $0 += records } }
        let pass = try f.maps.flows.collect()
        let ended = reported.withLock { $0 }
        XCTAssertEqual(pass.expired, [T.udp: 1])
        XCTAssertEqual(ended, [])
    }

    /// A flush reports the counted flows it removes, with their counts; not one that closed,
    /// nor one nobody counted.
    func testAFlushReportsTheCountedFlowsItRemoves() throws {
        let (f, ring) = try fixture(subscribed: [.flow])
        let (query, answer, port) = try answeredQuery(f, sport: 45004)
        _ = try f.up(fromClient(Frame.tcpSYN))
        _ = try f.up(fromClient(Frame.tcpACK | 0x01))
        _ = try f.ep(fromContainer(Frame.tcpACK | 0x01))  // closed by FINs both ways
        try f.maps.monitor.set(subscribed: [.drop], rate: 0)
        _ = try f.ep(Frame.udp(src: T.container, dst: T.internet, sport: 45005, dport: 53, srcMAC: T.containerMAC))
        _ = try ring.poll(timeout: 0)

        let ended = Mutex<[FlowRecord]>([])
        f.maps.flows.endings.connect { records in ended.withLock { $0 += records } }
        XCTAssertEqual(try f.maps.flows.flush { _, _ in true }, 3)
        let records = ended.withLock { $0 }
        XCTAssertEqual(records.map(\.change), [.flushed])
        XCTAssertEqual(records.first?.original, tuple(T.container, 45004, T.internet, 53, T.udp))
        XCTAssertEqual(records.first?.reply, tuple(T.internet, 53, T.hostIP, port, T.udp))
        XCTAssertEqual(records.first?.packets, 2)
        XCTAssertEqual(records.first?.bytes, UInt64(query.count - 14 + answer.count - 14))
        XCTAssertEqual(try f.accountEntries(), 0, "their counts go with them")
    }

    /// The collector reports the counted flows it evicts from a nearly full table.
    func testTheCollectorReportsCountedFlowsItEvicts() throws {
        let (f, ring) = try fixture(subscribed: [.flow])
        _ = try f.up(fromClient(Frame.tcpSYN))  // never answered: embryonic
        _ = try ring.poll(timeout: 0)

        let reported = Mutex<[FlowRecord]>([])
        f.maps.flows.endings.connect { records in reported.withLock { $0 += records } }
        let pass = try f.maps.flows.collect(evictAbove: 0, evictTo: 0)
        let ended = reported.withLock { $0 }
        XCTAssertEqual(pass.evicted, [T.tcp: 1])
        XCTAssertEqual(ended.map(\.change), [.evicted])
        XCTAssertEqual(ended.first?.original, tuple(T.client, 40000, T.hostIP, 5000, T.tcp))
        XCTAssertEqual(ended.first?.kind, .published)
        XCTAssertEqual(ended.first?.state, "syn_sent")
        XCTAssertEqual(ended.first?.packets, 1)
    }
}

extension DataplaneFixture {
    /// Entries of bp_flow_acct.
    func accountEntries() throws -> Int {
        try BPFMap.openPinned(pinRoot + "/" + BP_MAP_FLOW_ACCT).entries(as: (bp_flow_key.self, bp_flow_acct.self)).count
    }
}
