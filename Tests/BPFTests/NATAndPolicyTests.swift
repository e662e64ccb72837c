import BPF
import CBPF
import Glibc
import Model
import XCTest

/// bp_up_ingress (uplink.bpf.o) and bp_ep_ingress (endpoint.bpf.o) run with
/// BPF_PROG_TEST_RUN on crafted frames; both objects share their maps through
/// one pin root. Everything happens in one private network namespace:
///
///   bpt-up  (198.51.100.1/24, default via 198.51.100.254) <-veth-> bpt-upp   "the uplink"
///   bpt-ep  (10.40.0.1/24, the gateway of network 1)     <-veth-> bpt-epp   "a container's host-side veth"
///
/// with IPv4 forwarding on, so the programs' bpf_fib_lookup from the uplink to
/// 10.40.0.2 and from the endpoint to the client (default route) succeed with
/// NO_NEIGH and the rewritten packets leave by bpf_redirect_neigh: verdict 7.
final class NATAndPolicyTests: XCTestCase {
    // MARK: addresses

    static let hostIP = ip("198.51.100.1")  // the uplink's address
    static let hostIP2 = ip("198.51.100.2")  // another host address
    static let notHost = ip("198.19.2.9")  // not a host address
    static let localhost = ip("127.0.0.1")
    static let client = ip("203.0.113.7")
    static let clientPort: UInt16 = 40000
    static let gateway1 = ip("10.40.0.1")  // network 1 (10.40.0.0/24), a host address
    static let container = ip("10.40.0.2")  // the endpoint under test, network 1
    static let neighbour = ip("10.40.0.3")  // another container of network 1
    static let gateway2 = ip("10.50.0.1")  // network 2 (10.50.0.0/24)
    static let other = ip("10.50.0.3")  // a container of network 2
    static let internet = ip("8.8.8.8")
    static let containerMAC: [UInt8] = [0x02, 0x42, 0x0a, 0x28, 0x00, 0x02]
    static let gatewayMAC: [UInt8] = [0x02, 0x42, 0x0a, 0x28, 0x00, 0x01]

    static let tcp = UInt8(BP_PROTO_TCP.rawValue)
    static let udp = UInt8(BP_PROTO_UDP.rawValue)

    static let next: Int32 = -1  // BP_CONTINUE / TCX_NEXT
    static let shot: Int32 = 2  // TC_ACT_SHOT
    static let redirect: Int32 = 7  // TC_ACT_REDIRECT

    // MARK: fixture (DataplaneFixture.swift, shared with ProgramCostBenchmarks)

    typealias Fixture = DataplaneFixture

    override func setUpWithError() throws {
        try Sandbox.requireRoot()
        try DataplaneFixture.buildObjects()
    }

    func makeFixture() throws -> Fixture { try DataplaneFixture.make(for: self) }

    /// A published flow as its replies show it (remote = the client, endpoint = the container)...
    struct NatKey: Hashable {
        var remote: [UInt8]
        var remotePort: UInt16
        var endpoint: [UInt8]
        var endpointPort: UInt16
        var proto: UInt8
    }
    /// ... and the published address the client used.
    struct NatValue: Hashable {
        var host: [UInt8]
        var port: UInt16
    }

    func natKey(remote: [UInt8], remotePort: UInt16, endpoint: [UInt8], endpointPort: UInt16, proto: UInt8) -> NatKey {
        NatKey(remote: remote, remotePort: remotePort, endpoint: endpoint, endpointPort: endpointPort, proto: proto)
    }

    func natValue(_ host: [UInt8], _ port: UInt16) -> NatValue { NatValue(host: host, port: port) }

    /// A published flow in the flow table, both entries.
    func seed(_ f: Fixture, _ key: NatKey, _ value: NatValue) throws {
        try f.seedPublishedFlow(
            client: key.remote, clientPort: key.remotePort, host: value.host, hostPort: value.port,
            container: key.endpoint, containerPort: key.endpointPort, proto: key.proto)
    }

    /// The flow table holds exactly these published flows (and nothing else), each with
    /// both of its entries: client -> host:port in, container:port -> client back.
    func assertNAT(
        _ f: Fixture, _ expected: [(NatKey, NatValue)], _ what: String,
        file: StaticString = #filePath, line: UInt = #line
    ) throws {
        let entries = try f.flowEntries()
        var actual: [String] = []
        for (key, entry) in entries where entry.flags & UInt8(BP_FLOW_F_REPLY.rawValue) == 0 {
            XCTAssertEqual(
                entry.kind, UInt8(BP_FLOW_PUBLISHED.rawValue), "\(what): a flow of another kind", file: file, line: line
            )
            let reply = FlowTable.otherKey(key, entry)
            XCTAssertNotNil(
                entries.first { $0.key == reply && $0.value.flags & UInt8(BP_FLOW_F_REPLY.rawValue) != 0 },
                "\(what): the reply entry of \(key) is missing", file: file, line: line)
            actual.append(
                "\(rawBytes(key.src_ip)):\(UInt16(bigEndian: key.src_port)) -> \(rawBytes(key.dst_ip)):\(UInt16(bigEndian: key.dst_port)) "
                    + "via \(rawBytes(entry.nat_ip)):\(UInt16(bigEndian: entry.nat_port)) proto \(key.proto)")
        }
        let wanted = expected.map { key, value in
            "\(key.remote):\(key.remotePort) -> \(value.host):\(value.port) via \(key.endpoint):\(key.endpointPort) proto \(key.proto)"
        }
        XCTAssertEqual(actual.sorted(), wanted.sorted(), "\(what): bp_flows", file: file, line: line)
        XCTAssertEqual(entries.count, 2 * actual.count, "\(what): entries without their flow", file: file, line: line)
    }

    func dropKey(_ ifindex: UInt32, _ reason: bp_drop_reason, _ direction: bp_direction) -> bp_drop_key {
        bp_drop_key(ifindex: ifindex, reason: reason, direction: direction)
    }

    // MARK: 1. DNAT at the uplink

    /// A published flow counts on its port by the slot its entry carries; a flow made before
    /// entries carried one (an upgrade: slot 0) counts on its port all the same, by a lookup.
    func testAPublishedFlowCountsOnItsPortWithOrWithoutASlotInItsEntry() throws {
        let f = try makeFixture()
        try f.publish(host: Self.hostIP, 5000, proto: Self.tcp, to: Self.container, 80)
        let port = HostPort(.tcp, IPv4Address(Self.hostIP[0], Self.hostIP[1], Self.hostIP[2], Self.hostIP[3]), 5000)
        let syn = Frame.tcp(src: Self.client, dst: Self.hostIP, sport: Self.clientPort, dport: 5000)
        let ack = Frame.tcp(
            src: Self.client, dst: Self.hostIP, sport: Self.clientPort, dport: 5000, flags: Frame.tcpACK)
        _ = try f.up(syn)
        let slot = try XCTUnwrap(f.maps.ports.lookup(port.raw)).stats_slot
        XCTAssertNotEqual(slot, 0)
        let inbound = try XCTUnwrap(f.flowEntries().first { $0.value.flags & UInt8(BP_FLOW_F_DNAT.rawValue) != 0 })
        XCTAssertEqual(UInt32(inbound.value.port_slot), slot, "the flow carries its port's slot")
        _ = try f.up(ack)
        var traffic = try XCTUnwrap(f.maps.portTraffic()[port])
        XCTAssertEqual([traffic.packets, traffic.bytes, traffic.flows], [2, UInt64(syn.count + ack.count), 1])

        var old = inbound.value
        old.port_slot = 0
        try f.maps.flows.map.update(inbound.key, old)
        _ = try f.up(ack)
        traffic = try XCTUnwrap(f.maps.portTraffic()[port])
        XCTAssertEqual(traffic.packets, 3, "an entry without a slot: its port's, looked up")
    }

    func testUplinkDNATOfATCPSyn() throws {
        let f = try makeFixture()
        try f.publish(host: Self.hostIP, 5000, proto: Self.tcp, to: Self.container, 80)

        let syn = Frame.tcp(src: Self.client, dst: Self.hostIP, sport: Self.clientPort, dport: 5000)
        let result = try f.up(syn)
        let out = try ParsedIPv4(result.packet)
        XCTAssertEqual(out.destination, Self.container)
        XCTAssertEqual(out.destinationPort, 80)
        XCTAssertEqual(out.source, Self.client)
        XCTAssertEqual(out.sourcePort, Self.clientPort)
        try assertRewritten(
            result, to: Frame.tcp(src: Self.client, dst: Self.container, sport: Self.clientPort, dport: 80), "SYN")
        try assertNAT(
            f,
            [
                (
                    natKey(
                        remote: Self.client, remotePort: Self.clientPort, endpoint: Self.container, endpointPort: 80,
                        proto: Self.tcp),
                    natValue(Self.hostIP, 5000)
                )
            ], "after the SYN")
        XCTAssertTrue(try f.drops().isEmpty)

        // Without an ingress ifindex the route lookup fails: the program continues, the rewrite is done anyway.
        let ack = Frame.tcp(
            src: Self.client, dst: Self.hostIP, sport: Self.clientPort, dport: 5000, flags: Frame.tcpACK,
            payload: Array("GET / HTTP/1.0\r\n\r\n".utf8))
        try assertRewritten(
            try f.up(ack, ingress: false),
            to: Frame.tcp(
                src: Self.client, dst: Self.container, sport: Self.clientPort, dport: 80, flags: Frame.tcpACK,
                payload: Array("GET / HTTP/1.0\r\n\r\n".utf8)),
            verdict: Self.next, "ACK with data, no route lookup")
        XCTAssertEqual(try f.flowEntries().count, 2, "the same flow must not add entries")

        // A minimum-size Ethernet frame: 54 bytes padded to 60; the padding is not part of the IP packet.
        let padded = syn + [0, 0, 0, 0, 0, 0]
        try assertRewritten(
            try f.up(padded),
            to: Frame.tcp(src: Self.client, dst: Self.container, sport: Self.clientPort, dport: 80) + [
                0, 0, 0, 0, 0, 0,
            ],
            "SYN with Ethernet padding")
    }

    /// Only a connection's first packet opens a published flow: a segment of a TCP
    /// connection the table does not know (the host's own, from a source port that was
    /// published later, or one that expired) is the host's, and is never translated.
    func testOnlyASynOpensAPublishedTCPFlow() throws {
        let f = try makeFixture()
        try f.publish(host: Self.hostIP, 5000, proto: Self.tcp, to: Self.container, 80)

        for (flags, what) in [
            (Frame.tcpACK, "ACK"), (Frame.tcpSYNACK, "SYN-ACK"), (UInt8(0x11), "FIN-ACK"), (UInt8(0x04), "RST"),
            (UInt8(0x18), "PSH-ACK with data"),
        ] {
            let segment = Frame.tcp(
                src: Self.client, dst: Self.hostIP, sport: 53, dport: 5000, flags: flags,
                payload: flags == 0x18 ? Array("reply".utf8) : [])
            assertUntouched(try f.up(segment), segment, "a \(what) no flow knows")
        }
        XCTAssertTrue(try f.flowEntries().isEmpty, "no flow opened")
        XCTAssertTrue(try f.drops().isEmpty)

        let syn = Frame.tcp(src: Self.client, dst: Self.hostIP, sport: 53, dport: 5000)
        try assertRewritten(
            try f.up(syn), to: Frame.tcp(src: Self.client, dst: Self.container, sport: 53, dport: 80), "the SYN")
        XCTAssertEqual(try f.flowEntries().count, 2)
    }

    /// With the container's neighbour entry known, the DNATed packet goes straight to the
    /// container's eth0 (bpf_redirect_peer): the route gives both MACs, written into the
    /// frame, and the packet is counted as the container's receive traffic, since it
    /// skips the veth's tc egress.
    func testUplinkDeliversStraightToTheContainer() throws {
        let f = try makeFixture()
        try f.setEndpoint(flags: [BP_EP_F_ENFORCE_SOURCE])  // without the bridge's MAC: the route decides
        try f.inNS(
            "ip", "neigh", "replace", "10.40.0.2", "lladdr", "02:42:0a:28:00:02", "dev", "bpt-ep", "nud", "permanent")
        try f.publish(host: Self.hostIP, 5000, proto: Self.tcp, to: Self.container, 80)

        let syn = Frame.tcp(src: Self.client, dst: Self.hostIP, sport: Self.clientPort, dport: 5000)
        let result = try f.up(syn)
        let expected = Frame.tcp(src: Self.client, dst: Self.container, sport: Self.clientPort, dport: 80)
        try assertRewritten(
            result, to: Self.containerMAC + Self.gatewayMAC + Array(expected.dropFirst(12)), "SYN, neighbour known")
        XCTAssertEqual(
            try f.maps.endpointStats(ifindex: f.endpointIfindex)?.rx, bp_traffic(packets: 1, bytes: UInt64(syn.count)))
        XCTAssertNil(try f.maps.endpointStats(ifindex: f.uplinkIfindex), "nothing is counted for the uplink")
    }

    /// With the bridge's MAC in the endpoint entry (the agent's own bridges), the DNATed
    /// packet goes straight to the container without a route lookup: the frame gets the
    /// entry's two MACs, even with no neighbour entry and a bridge of another MAC. Without it
    /// (another runtime's veth), or for a packet bigger than the entry's MTU, the route
    /// decides, and with no neighbour known the packet goes by bpf_redirect_neigh.
    func testUplinkDeliversByTheEndpointEntrysMACs() throws {
        let f = try makeFixture()
        let bridgeMAC: [UInt8] = [0x02, 0x42, 0x0a, 0x28, 0x00, 0xfe]
        try f.setEndpoint(flags: [BP_EP_F_ENFORCE_SOURCE], gatewayMAC: bridgeMAC)
        try f.publish(host: Self.hostIP, 5000, proto: Self.tcp, to: Self.container, 80)

        let syn = Frame.tcp(src: Self.client, dst: Self.hostIP, sport: Self.clientPort, dport: 5000)
        let result = try f.up(syn)
        XCTAssertEqual(result.verdict, Self.redirect)
        let expected = Frame.tcp(src: Self.client, dst: Self.container, sport: Self.clientPort, dport: 80)
        try assertRewritten(result, to: Self.containerMAC + bridgeMAC + Array(expected.dropFirst(12)), "by the entry")
        XCTAssertEqual(
            try f.maps.endpointStats(ifindex: f.endpointIfindex)?.rx, bp_traffic(packets: 1, bytes: UInt64(syn.count)))

        let ack = Frame.tcp(
            src: Self.client, dst: Self.hostIP, sport: Self.clientPort, dport: 5000, flags: Frame.tcpACK)
        for (gatewayMAC, mtu, what) in [(bridgeMAC, UInt16(ack.count - 15), "too big"), (nil, 1500, "no gateway MAC")] {
            try f.setEndpoint(flags: [BP_EP_F_ENFORCE_SOURCE], gatewayMAC: gatewayMAC, mtu: mtu)
            let routed = try f.up(ack)
            XCTAssertEqual(routed.verdict, Self.redirect, what)
            XCTAssertEqual(
                Array(routed.packet.prefix(12)), Array(ack.prefix(12)),
                "\(what): no neighbour, the kernel writes the MACs")
            XCTAssertEqual(
                try f.maps.endpointStats(ifindex: f.endpointIfindex)?.rx.packets, 1, "\(what): not peer-redirected")
        }
    }

    /// A published flow carries its container's slot (via: the slot plus 1) from its first
    /// packet, and its later packets find the container's entry in bp_ep_slots by it, not in
    /// bp_endpoints. A slot that is another veth's now is not trusted: the packet takes its
    /// container's entry from bp_endpoints, and its flow the right slot. The agent keeps the
    /// slots in step with the entries: removed, cleared; lost, written again by
    /// syncEndpointSlots, which clears the slots nobody holds.
    func testAFlowFindsItsContainerByTheSlotItCarries() throws {
        let f = try makeFixture()
        let bridgeMAC: [UInt8] = [0x02, 0x42, 0x0a, 0x28, 0x00, 0xfe]
        try f.setEndpoint(flags: [BP_EP_F_ENFORCE_SOURCE], gatewayMAC: bridgeMAC)
        try f.publish(host: Self.hostIP, 5000, proto: Self.tcp, to: Self.container, 80)
        let slot = try XCTUnwrap(f.maps.endpoints.lookup(f.endpointIfindex)).stats_slot
        XCTAssertEqual(try f.maps.endpointSlots.lookup(slot)?.ifindex, f.endpointIfindex, "written with the entry")

        XCTAssertEqual(
            try f.up(Frame.tcp(src: Self.client, dst: Self.hostIP, sport: Self.clientPort, dport: 5000)).verdict,
            Self.redirect)
        let key = bp_flow_key(
            src: be32(Self.client), dst: be32(Self.hostIP), sport: be16(Self.clientPort), dport: be16(5000),
            proto: Self.tcp)
        var entry = try XCTUnwrap(f.flow(key))
        XCTAssertEqual(entry.via, slot + 1, "the flow carries the slot from its first packet")
        let ack = Frame.tcp(
            src: Self.client, dst: Self.hostIP, sport: Self.clientPort, dport: 5000, flags: Frame.tcpACK)
        func delivered(gateway: [UInt8]) -> [UInt8] {
            Self.containerMAC + gateway
                + Array(
                    Frame.tcp(
                        src: Self.client, dst: Self.container, sport: Self.clientPort, dport: 80, flags: Frame.tcpACK
                    ).dropFirst(12))
        }

        // bp_endpoints alone changed (not as the agent writes it): the packet still has the
        // slot's MACs, so it found its container there.
        let original = try XCTUnwrap(f.maps.endpoints.lookup(f.endpointIfindex))
        var changed = original
        changed.gateway_mac = (2, 0x42, 0x0a, 0x28, 0, 0xaa)
        try f.maps.endpoints.update(f.endpointIfindex, changed)
        try assertRewritten(try f.up(ack), to: delivered(gateway: bridgeMAC), "by the slot")
        try f.maps.endpoints.update(f.endpointIfindex, original)

        // Another veth's slot, with other MACs: not used, and the flow's slot is put right.
        let other = slot + 5
        var stranger = original
        stranger.mac = (9, 9, 9, 9, 9, 9)
        try f.maps.endpointSlots.update(other, bp_endpoint_slot(ifindex: f.endpointIfindex + 100, endpoint: stranger))
        entry.via = other + 1
        try f.maps.flows.map.update(key, entry)
        try assertRewritten(try f.up(ack), to: delivered(gateway: bridgeMAC), "by bp_endpoints, not the stranger's")
        XCTAssertEqual(try f.flow(key)?.via, slot + 1)
        XCTAssertEqual(try f.maps.endpointStats(ifindex: f.endpointIfindex)?.rx.packets, 3, "counted in its own slot")

        try f.maps.endpointSlots.update(slot, bp_endpoint_slot())
        try assertRewritten(try f.up(ack), to: delivered(gateway: bridgeMAC), "a cleared slot: by bp_endpoints")
        try f.maps.syncEndpointSlots()
        XCTAssertEqual(try f.maps.endpointSlots.lookup(slot)?.ifindex, f.endpointIfindex, "written again")
        XCTAssertEqual(try f.maps.endpointSlots.lookup(other)?.ifindex, 0, "nobody's slot cleared")
        try f.maps.removeEndpoint(ifindex: f.endpointIfindex)
        let removed = try XCTUnwrap(f.maps.endpointSlots.lookup(slot))
        XCTAssertEqual(removed.ifindex, 0, "cleared with the entry")
        XCTAssertEqual(removed.endpoint.stats_slot, slot, "its other fields kept, for a packet reading it meanwhile")
    }

    /// A packet whose TTL would run out on the hop a translation makes is left to the
    /// kernel untouched (it answers "time exceeded" or delivers it locally), in both
    /// directions, and makes no NAT entry.
    func testTTLOfOneIsLeftToTheKernel() throws {
        let f = try makeFixture()
        try f.publish(host: Self.hostIP, 5000, proto: Self.tcp, to: Self.container, 80)
        let syn = Frame.ethernet(
            type: Frame.ethTypeIPv4,
            payload: Frame.ipv4(
                src: Self.client, dst: Self.hostIP, proto: Self.tcp,
                payload: Frame.tcpSegment(src: Self.client, dst: Self.hostIP, sport: Self.clientPort, dport: 5000),
                ttl: 1))
        let result = try f.up(syn)
        XCTAssertEqual(result.verdict, Self.next)
        XCTAssertEqual(result.packet.hex, syn.hex, "left untouched")
        XCTAssertTrue(try f.flowEntries().isEmpty, "no flow for it")

        // With TTL 2 it is translated and arrives with TTL 1.
        let ttl2 = Frame.ethernet(
            type: Frame.ethTypeIPv4,
            payload: Frame.ipv4(
                src: Self.client, dst: Self.hostIP, proto: Self.tcp,
                payload: Frame.tcpSegment(src: Self.client, dst: Self.hostIP, sport: Self.clientPort, dport: 5000),
                ttl: 2))
        let forwarded = try f.up(ttl2)
        XCTAssertEqual(forwarded.verdict, Self.redirect)
        XCTAssertEqual(forwarded.packet[22], 1, "TTL")
        XCTAssertTrue(try ParsedIPv4(forwarded.packet).ipv4ChecksumValid)

        // The container's reply with TTL 1 is not translated either.
        try f.setEndpoint(flags: [BP_EP_F_ENFORCE_SOURCE])
        let reply = Frame.ethernet(
            src: Self.containerMAC, type: Frame.ethTypeIPv4,
            payload: Frame.ipv4(
                src: Self.container, dst: Self.client, proto: Self.tcp,
                payload: Frame.tcpSegment(
                    src: Self.container, dst: Self.client, sport: 80, dport: Self.clientPort,
                    flags: Frame.tcpSYNACK),
                ttl: 1))
        let back = try f.ep(reply)
        XCTAssertEqual(back.verdict, Self.next)
        XCTAssertEqual(back.packet.hex, reply.hex, "left untouched")
    }

    func testUplinkDNATOfUDPWithAndWithoutChecksum() throws {
        let f = try makeFixture()
        try f.publish(host: Self.hostIP, 5000, proto: Self.udp, to: Self.container, 80)
        let payload = Array("bridgeport udp payload".utf8)

        // A real checksum is updated.
        let withSum = Frame.udp(src: Self.client, dst: Self.hostIP, sport: 40001, dport: 5000, payload: payload)
        XCTAssertNotEqual(try ParsedIPv4(withSum).l4Checksum, 0)
        try assertRewritten(
            try f.up(withSum),
            to: Frame.udp(src: Self.client, dst: Self.container, sport: 40001, dport: 80, payload: payload),
            "UDP with checksum")

        // Checksum 0 (none) stays 0.
        let noSum = Frame.udp(
            src: Self.client, dst: Self.hostIP, sport: 40002, dport: 5000, payload: payload, checksum: false)
        let result = try f.up(noSum)
        XCTAssertEqual(try ParsedIPv4(result.packet).l4Checksum, 0, "a UDP checksum of 0 must stay 0")
        try assertRewritten(
            result,
            to: Frame.udp(
                src: Self.client, dst: Self.container, sport: 40002, dport: 80, payload: payload, checksum: false),
            "UDP without checksum")

        // A checksum that the rewrite brings to 0 must be sent as 0xffff (0 would mean "none").
        var tuned = Array("tuned!".utf8) + [0, 0]
        let after = Frame.udpDatagram(
            src: Self.client, dst: Self.container, sport: 40003, dport: 80, payload: tuned, checksum: false)
        let partial = Checksum.fold(
            Checksum.sum(
                after,
                into: Checksum.pseudoHeader(src: Self.client, dst: Self.container, proto: 17, length: after.count)))
        let word = 0xffff - partial
        tuned[tuned.count - 2] = UInt8(word >> 8)
        tuned[tuned.count - 1] = UInt8(word & 0xff)
        let toZero = Frame.udp(src: Self.client, dst: Self.hostIP, sport: 40003, dport: 5000, payload: tuned)
        XCTAssertNotEqual(try ParsedIPv4(toZero).l4Checksum, 0xffff, "the test frame must need the rewrite to reach 0")
        let zeroResult = try f.up(toZero)
        XCTAssertEqual(
            try ParsedIPv4(zeroResult.packet).l4Checksum, 0xffff, "a computed UDP checksum of 0 must be sent as 0xffff")
        try assertRewritten(
            zeroResult, to: Frame.udp(src: Self.client, dst: Self.container, sport: 40003, dport: 80, payload: tuned),
            "UDP checksum rewritten to 0")

        try assertNAT(
            f,
            [40001, 40002, 40003].map {
                (
                    natKey(
                        remote: Self.client, remotePort: $0, endpoint: Self.container, endpointPort: 80, proto: Self.udp
                    ), natValue(Self.hostIP, 5000)
                )
            }, "UDP flows")
    }

    // MARK: 2. which published port matches

    func testExactHostAddressWinsOverAnyAndOtherAddressesAreLeftAlone() throws {
        let f = try makeFixture()
        try f.publish(host: Self.hostIP, 5000, proto: Self.tcp, to: Self.container, 80)
        try f.publish(host: nil, 5000, proto: Self.tcp, to: Self.neighbour, 8080)
        try f.publish(host: Self.localhost, 6000, proto: Self.tcp, to: Self.container, 81)

        // 198.51.100.1:5000 has its own entry: it wins over 0.0.0.0:5000.
        try assertRewritten(
            try f.up(Frame.tcp(src: Self.client, dst: Self.hostIP, sport: 40000, dport: 5000)),
            to: Frame.tcp(src: Self.client, dst: Self.container, sport: 40000, dport: 80), "exact entry")
        // 198.51.100.2:5000 only matches "any".
        try assertRewritten(
            try f.up(Frame.tcp(src: Self.client, dst: Self.hostIP2, sport: 40001, dport: 5000), ingress: false),
            to: Frame.tcp(src: Self.client, dst: Self.neighbour, sport: 40001, dport: 8080), verdict: Self.next,
            "any-address entry")

        // Published on 127.0.0.1 only: not reachable through 198.51.100.1.
        let toLoopbackPort = Frame.tcp(src: Self.client, dst: Self.hostIP, sport: 40002, dport: 6000)
        assertUntouched(try f.up(toLoopbackPort), toLoopbackPort, "port published on 127.0.0.1, packet to 198.51.100.1")
        // Not a host address: untouched, even though 0.0.0.0:5000 is published.
        let elsewhere = Frame.tcp(src: Self.client, dst: Self.notHost, sport: 40003, dport: 5000)
        assertUntouched(try f.up(elsewhere), elsewhere, "destination not in bp_host_addrs")
        // Same port, other protocol.
        let udp = Frame.udp(src: Self.client, dst: Self.hostIP, sport: 40004, dport: 5000)
        assertUntouched(try f.up(udp), udp, "UDP to a TCP-only published port")
        // An unpublished port of a host address.
        let unpublished = Frame.tcp(src: Self.client, dst: Self.hostIP, sport: 40005, dport: 5001)
        assertUntouched(try f.up(unpublished), unpublished, "unpublished port")

        try assertNAT(
            f,
            [
                (
                    natKey(
                        remote: Self.client, remotePort: 40000, endpoint: Self.container, endpointPort: 80,
                        proto: Self.tcp), natValue(Self.hostIP, 5000)
                ),
                (
                    natKey(
                        remote: Self.client, remotePort: 40001, endpoint: Self.neighbour, endpointPort: 8080,
                        proto: Self.tcp), natValue(Self.hostIP2, 5000)
                ),
            ], "only the two translated flows")
        XCTAssertTrue(try f.drops().isEmpty)
    }

    // MARK: 3. reverse NAT at the endpoint

    func testEndpointReverseNATOfReplies() throws {
        let f = try makeFixture()
        try f.setEndpoint(flags: [BP_EP_F_ENFORCE_SOURCE, BP_EP_F_ISOLATED])
        try seed(
            f,
            natKey(remote: Self.client, remotePort: 40000, endpoint: Self.container, endpointPort: 80, proto: Self.tcp),
            natValue(Self.hostIP, 5000))
        try seed(
            f,
            natKey(remote: Self.client, remotePort: 40001, endpoint: Self.container, endpointPort: 53, proto: Self.udp),
            natValue(Self.hostIP, 5353))
        try seed(
            f,
            natKey(remote: Self.client, remotePort: 40002, endpoint: Self.container, endpointPort: 53, proto: Self.udp),
            natValue(Self.hostIP, 5353))
        let mac = Self.containerMAC

        let synAck = Frame.tcp(
            src: Self.container, dst: Self.client, sport: 80, dport: 40000, flags: Frame.tcpSYNACK, srcMAC: mac)
        try assertRewritten(
            try f.ep(synAck),
            to: Frame.tcp(
                src: Self.hostIP, dst: Self.client, sport: 5000, dport: 40000, flags: Frame.tcpSYNACK, srcMAC: mac),
            "TCP SYN-ACK")
        let answer = Array("an answer".utf8)
        try assertRewritten(
            try f.ep(
                Frame.udp(src: Self.container, dst: Self.client, sport: 53, dport: 40001, payload: answer, srcMAC: mac)),
            to: Frame.udp(src: Self.hostIP, dst: Self.client, sport: 5353, dport: 40001, payload: answer, srcMAC: mac),
            "UDP reply")
        try assertRewritten(
            try f.ep(
                Frame.udp(
                    src: Self.container, dst: Self.client, sport: 53, dport: 40002, payload: answer, checksum: false,
                    srcMAC: mac)),
            to: Frame.udp(
                src: Self.hostIP, dst: Self.client, sport: 5353, dport: 40002, payload: answer, checksum: false,
                srcMAC: mac),
            "UDP reply without checksum")

        // No bp_nat entry: untouched (another client port, another container port, another protocol, another client).
        for frame in [
            Frame.tcp(
                src: Self.container, dst: Self.client, sport: 80, dport: 40009, flags: Frame.tcpSYNACK, srcMAC: mac),
            Frame.tcp(
                src: Self.container, dst: Self.client, sport: 81, dport: 40000, flags: Frame.tcpSYNACK, srcMAC: mac),
            Frame.udp(src: Self.container, dst: Self.client, sport: 80, dport: 40000, srcMAC: mac),
            Frame.tcp(
                src: Self.container, dst: ip("203.0.113.8"), sport: 80, dport: 40000, flags: Frame.tcpSYNACK,
                srcMAC: mac),
        ] {
            assertUntouched(try f.ep(frame), frame, "reply without a bp_nat entry: \(try ParsedIPv4(frame))")
        }
        XCTAssertTrue(try f.drops().isEmpty)
    }

    func testRoundTripThroughBothPrograms() throws {
        let f = try makeFixture()
        try f.setEndpoint(flags: [BP_EP_F_ENFORCE_SOURCE, BP_EP_F_ISOLATED])
        try f.publish(host: nil, 8443, proto: Self.tcp, to: Self.container, 443)

        let syn = Frame.tcp(src: Self.client, dst: Self.hostIP, sport: 51515, dport: 8443)
        try assertRewritten(
            try f.up(syn), to: Frame.tcp(src: Self.client, dst: Self.container, sport: 51515, dport: 443), "SYN in")
        let synAck = Frame.tcp(
            src: Self.container, dst: Self.client, sport: 443, dport: 51515, flags: Frame.tcpSYNACK,
            srcMAC: Self.containerMAC)
        try assertRewritten(
            try f.ep(synAck),
            to: Frame.tcp(
                src: Self.hostIP, dst: Self.client, sport: 8443, dport: 51515, flags: Frame.tcpSYNACK,
                srcMAC: Self.containerMAC),
            "SYN-ACK out with the address the client used")
    }

    // MARK: masquerade (endpoint out, uplink back)

    /// A fragmented datagram: the first fragment (with the ports) is translated as any
    /// packet, the later ones (without) follow its translation by the datagram's identity.
    /// IP id 0x1234 is what Frame.ipv4 puts in every packet.
    func fragments(
        src: [UInt8], dst: [UInt8], sport: UInt16, dport: UInt16, srcMAC: [UInt8] = Frame.defaultSourceMAC
    )
        -> (first: [UInt8], later: [UInt8])
    {
        let datagram = Frame.udpDatagram(
            src: src, dst: dst, sport: sport, dport: dport, payload: Array(repeating: 0x42, count: 40))
        return (
            Frame.ipPacket(
                src: src, dst: dst, proto: Self.udp, payload: Array(datagram.prefix(24)), fragment: Frame.moreFragments,
                srcMAC: srcMAC),
            Frame.ipPacket(
                src: src, dst: dst, proto: Self.udp, payload: Array(datagram.dropFirst(24)), fragment: 3, srcMAC: srcMAC
            )
        )
    }

    func testFragmentsOfAPublishedFlowFollowTheFirst() throws {
        let f = try makeFixture()
        try f.publish(host: Self.hostIP, 5353, proto: Self.udp, to: Self.container, 53)
        let inbound = fragments(src: Self.client, dst: Self.hostIP, sport: 40000, dport: 5353)

        let later0 = try f.up(inbound.later)
        XCTAssertEqual(later0.verdict, Self.next, "a later fragment before its first: left to the kernel")
        XCTAssertEqual(later0.packet.hex, inbound.later.hex)

        let first = try f.up(inbound.first)
        XCTAssertEqual(first.verdict, Self.redirect)
        XCTAssertEqual(try ParsedIPv4(first.packet).destination, Self.container)
        XCTAssertEqual(try ParsedIPv4(first.packet).destinationPort, 53)
        let later = try f.up(inbound.later)
        XCTAssertEqual(later.verdict, Self.redirect, "the later fragment follows the first")
        XCTAssertEqual(
            later.packet.hex,
            Frame.afterHop(
                Frame.ipPacket(
                    src: Self.client, dst: Self.container, proto: Self.udp,
                    payload: Array(inbound.later.dropFirst(34)), fragment: 3)
            ).hex)

        // The container's fragmented answer leaves with the published address, both parts.
        try f.setEndpoint(flags: [BP_EP_F_ENFORCE_SOURCE, BP_EP_F_ISOLATED])
        let answer = fragments(
            src: Self.container, dst: Self.client, sport: 53, dport: 40000, srcMAC: Self.containerMAC)
        let answerFirst = try f.ep(answer.first)
        XCTAssertEqual(answerFirst.verdict, Self.redirect)
        XCTAssertEqual(try ParsedIPv4(answerFirst.packet).source, Self.hostIP)
        XCTAssertEqual(try ParsedIPv4(answerFirst.packet).sourcePort, 5353)
        let answerLater = try f.ep(answer.later)
        XCTAssertEqual(answerLater.verdict, Self.redirect)
        XCTAssertEqual(try ParsedIPv4(answerLater.packet).source, Self.hostIP)
        XCTAssertTrue(try ParsedIPv4(answerLater.packet).ipv4ChecksumValid)
    }

    /// Masquerade too: the later fragments leave with the first one's address; one whose
    /// first fragment was never seen is dropped ("fragment") rather than sent out with
    /// the container's own address. A fragment that stays in the network passes.
    func testMasqueradedFragmentsNeverLeaveWithTheContainersAddress() throws {
        let f = try makeFixture()
        try f.setEndpoint(flags: [BP_EP_F_ENFORCE_SOURCE, BP_EP_F_ISOLATED, BP_EP_F_MASQUERADE])
        let out = fragments(src: Self.container, dst: Self.internet, sport: 5000, dport: 53, srcMAC: Self.containerMAC)
        let first = try f.ep(out.first)
        XCTAssertEqual(first.verdict, Self.redirect)
        XCTAssertEqual(try ParsedIPv4(first.packet).source, Self.hostIP)
        let later = try f.ep(out.later)
        XCTAssertEqual(later.verdict, Self.redirect)
        XCTAssertEqual(try ParsedIPv4(later.packet).source, Self.hostIP)

        var orphan = out.later
        orphan[18] = 0x56  // another IP id: a datagram whose first fragment never came
        orphan[24...25] = [0, 0]
        let check = Checksum.internet(orphan[14..<34])
        orphan[24] = UInt8(check >> 8)
        orphan[25] = UInt8(check & 0xff)
        XCTAssertEqual(try f.ep(orphan).verdict, Self.shot)
        XCTAssertEqual(try f.drops()[dropKey(f.endpointIfindex, BP_DROP_FRAGMENT, BP_DIR_EGRESS)], 1)

        let inNetwork = fragments(
            src: Self.container, dst: Self.neighbour, sport: 5000, dport: 53, srcMAC: Self.containerMAC)
        XCTAssertEqual(try f.ep(inNetwork.later).verdict, Self.next, "a fragment for a neighbour passes")
    }

    /// A translated flow's route out is looked up once a second, not per packet: its SNAT
    /// entry keeps the interface and MTU for the second of the lookup (out_*). Within it,
    /// a packet goes the cached way even when the route is gone meanwhile; a cache of an
    /// earlier second is looked up again, and then the route's loss shows (the kernel
    /// gets the packet untranslated).
    func testTheRouteOutIsCachedForASecond() throws {
        let f = try makeFixture()
        try f.setEndpoint(flags: [BP_EP_F_ENFORCE_SOURCE, BP_EP_F_ISOLATED, BP_EP_F_MASQUERADE])
        let packet = Frame.udp(
            src: Self.container, dst: Self.internet, sport: 45678, dport: 53, payload: [1], srcMAC: Self.containerMAC)
        XCTAssertEqual(try f.ep(packet).verdict, Self.redirect, "masqueraded")
        let key = bp_flow_key(
            src: be32(Self.container), dst: be32(Self.internet), sport: be16(45678), dport: be16(53), proto: Self.udp)
        var entry = try XCTUnwrap(f.flow(key))
        XCTAssertEqual([entry.via, UInt32(entry.out_mtu)], [f.uplinkIfindex, 1500], "the route is cached")
        XCTAssertLessThanOrEqual(FlowTable.now() - entry.out_at, 1)

        try f.inNS("ip", "route", "del", "default")
        // Cached this second: the packet still leaves translated (retried when the second
        // turns between writing the cache and the run).
        var cached: TestRunResult?
        for _ in 0..<3 where cached == nil {
            let second = FlowTable.now()
            entry.out_at = second
            try f.maps.flows.map.update(key, entry)
            let result = try f.ep(packet)
            if FlowTable.now() == second { cached = result }
        }
        XCTAssertEqual(try XCTUnwrap(cached).verdict, Self.redirect, "within the second: the cached route")

        entry.out_at = FlowTable.now() - 1
        try f.maps.flows.map.update(key, entry)
        let stale = try f.ep(packet)
        XCTAssertEqual(stale.verdict, Self.next, "a second later: looked up again, and no route")
        XCTAssertEqual(stale.packet, packet, "untranslated")
    }

    func testMasqueradeRoundTripForTCPUDPAndICMPEcho() throws {
        let f = try makeFixture()
        try f.setEndpoint(flags: [BP_EP_F_ENFORCE_SOURCE, BP_EP_F_ISOLATED, BP_EP_F_MASQUERADE])
        let mac = Self.containerMAC
        func flow(_ src: [UInt8], _ dst: [UInt8], _ sport: UInt16, _ dport: UInt16, _ proto: UInt8) -> bp_flow_key {
            bp_flow_key(src: be32(src), dst: be32(dst), sport: be16(sport), dport: be16(dport), proto: proto)
        }

        // TCP: out with 198.51.100.1 and, as Linux's MASQUERADE, the container's own port while it is free.
        let syn = Frame.tcp(src: Self.container, dst: Self.internet, sport: 34567, dport: 443, srcMAC: mac)
        let out = try f.ep(syn)
        let tcpPort = try ParsedIPv4(out.packet).sourcePort
        XCTAssertEqual(tcpPort, 34567, "the container's own port is kept")
        try assertRewritten(
            out, to: Frame.tcp(src: Self.hostIP, dst: Self.internet, sport: tcpPort, dport: 443, srcMAC: mac),
            "masqueraded SYN")
        let outbound = try XCTUnwrap(f.flow(flow(Self.container, Self.internet, 34567, 443, Self.tcp)))
        XCTAssertEqual(
            [outbound.nat_ip, UInt32(outbound.nat_port), UInt32(outbound.kind), UInt32(outbound.flags)],
            [be32(Self.hostIP), UInt32(be16(tcpPort)), BP_FLOW_MASQUERADE.rawValue, BP_FLOW_F_SNAT.rawValue])
        let origin = try XCTUnwrap(f.flow(flow(Self.internet, Self.hostIP, 443, tcpPort, Self.tcp)))
        XCTAssertEqual(
            [origin.nat_ip, UInt32(origin.nat_port), origin.ifindex, UInt32(origin.flags)],
            [
                be32(Self.container), UInt32(be16(34567)), f.endpointIfindex,
                BP_FLOW_F_DNAT.rawValue | BP_FLOW_F_REPLY.rawValue,
            ])
        // The next packet of the flow keeps the port.
        let ack = Frame.tcp(
            src: Self.container, dst: Self.internet, sport: 34567, dport: 443, flags: Frame.tcpACK, srcMAC: mac)
        try assertRewritten(
            try f.ep(ack),
            to: Frame.tcp(
                src: Self.hostIP, dst: Self.internet, sport: tcpPort, dport: 443, flags: Frame.tcpACK, srcMAC: mac),
            "masqueraded ACK")
        let synAck = Frame.tcp(src: Self.internet, dst: Self.hostIP, sport: 443, dport: tcpPort, flags: Frame.tcpSYNACK)
        try assertRewritten(
            try f.up(synAck),
            to: Frame.tcp(src: Self.internet, dst: Self.container, sport: 443, dport: 34567, flags: Frame.tcpSYNACK),
            "SYN-ACK back to the container")

        // UDP, with an odd payload length.
        let query = Array("dns?!".utf8)
        let dns = Frame.udp(
            src: Self.container, dst: Self.internet, sport: 45678, dport: 53, payload: query, srcMAC: mac)
        let dnsOut = try f.ep(dns)
        let udpPort = try ParsedIPv4(dnsOut.packet).sourcePort
        XCTAssertEqual(udpPort, 45678)
        try assertRewritten(
            dnsOut,
            to: Frame.udp(src: Self.hostIP, dst: Self.internet, sport: udpPort, dport: 53, payload: query, srcMAC: mac),
            "masqueraded UDP")
        try assertRewritten(
            try f.up(Frame.udp(src: Self.internet, dst: Self.hostIP, sport: 53, dport: udpPort, payload: query)),
            to: Frame.udp(src: Self.internet, dst: Self.container, sport: 53, dport: 45678, payload: query),
            "UDP answer back")

        // ICMP echo: the identifier plays the port; the ICMP checksum has no pseudo-header.
        let ping = Frame.icmpEcho(src: Self.container, dst: Self.internet, id: 0x1234, seq: 7, srcMAC: mac)
        let pingOut = try f.ep(ping)
        let echoID = try ParsedIPv4(pingOut.packet).icmpID
        XCTAssertEqual(echoID, 0x1234)
        try assertRewritten(
            pingOut, to: Frame.icmpEcho(src: Self.hostIP, dst: Self.internet, id: echoID, seq: 7, srcMAC: mac),
            "masqueraded ping")
        try assertRewritten(
            try f.up(Frame.icmpEcho(src: Self.internet, dst: Self.hostIP, type: 0, id: echoID, seq: 7)),
            to: Frame.icmpEcho(src: Self.internet, dst: Self.container, type: 0, id: 0x1234, seq: 7), "echo reply back")

        // Not masqueraded: the gateway, another container of the network, multicast.
        for frame in [
            Frame.tcp(src: Self.container, dst: Self.gateway1, sport: 34567, dport: 53, srcMAC: mac),
            Frame.tcp(src: Self.container, dst: Self.neighbour, sport: 34567, dport: 22, srcMAC: mac),
            Frame.udp(src: Self.container, dst: ip("224.0.0.251"), sport: 5353, dport: 5353, srcMAC: mac),
        ] {
            assertUntouched(try f.ep(frame), frame, "stays on the host: \(try ParsedIPv4(frame))")
        }
        // A reply to a port nobody masqueraded goes to the host untouched.
        let stray = Frame.tcp(
            src: Self.internet, dst: Self.hostIP, sport: 443, dport: tcpPort &+ 1, flags: Frame.tcpSYNACK)
        assertUntouched(try f.up(stray), stray, "reply to an unknown port")
        XCTAssertEqual(try f.flowEntries().count, 6, "three flows, two entries each")
        XCTAssertTrue(try f.drops().isEmpty)
    }

    // MARK: 4. policy at the endpoint

    func testAntiSpoofing() throws {
        let f = try makeFixture()
        try f.setEndpoint(flags: [BP_EP_F_ENFORCE_SOURCE, BP_EP_F_ISOLATED])
        let mac = Self.containerMAC
        let ep = f.endpointIfindex
        var expected: [bp_drop_key: UInt64] = [:]
        let spoofed = dropKey(ep, BP_DROP_SPOOFED_SOURCE, BP_DIR_EGRESS)

        let good = Frame.udp(src: Self.container, dst: Self.internet, sport: 1234, dport: 53, srcMAC: mac)
        assertUntouched(try f.ep(good), good, "own address and MAC")

        let spoofedIP = Frame.udp(src: ip("10.40.0.99"), dst: Self.internet, sport: 1234, dport: 53, srcMAC: mac)
        assertShot(try f.ep(spoofedIP), spoofedIP, "spoofed source IP")
        expected[spoofed] = 1
        XCTAssertEqual(try f.drops(), expected)

        let spoofedMAC = Frame.udp(
            src: Self.container, dst: Self.internet, sport: 1234, dport: 53,
            srcMAC: [0x02, 0x42, 0x0a, 0x28, 0x00, 0x99])
        assertShot(try f.ep(spoofedMAC), spoofedMAC, "spoofed source MAC")
        expected[spoofed] = 2
        XCTAssertEqual(try f.drops(), expected)

        // Another source IP even toward a published target or the gateway.
        try f.publish(host: nil, 5000, proto: Self.tcp, to: Self.other, 80)
        let spoofedToTarget = Frame.tcp(src: Self.neighbour, dst: Self.other, sport: 1234, dport: 80, srcMAC: mac)
        assertShot(try f.ep(spoofedToTarget), spoofedToTarget, "spoofed source IP to a published target")
        expected[spoofed] = 3

        let goodARP = Frame.arp(senderMAC: mac, senderIP: Self.container, targetIP: Self.gateway1)
        assertUntouched(try f.ep(goodARP), goodARP, "ARP request with own addresses")
        let arpWrongIP = Frame.arp(senderMAC: mac, senderIP: Self.neighbour, targetIP: Self.gateway1)
        assertShot(try f.ep(arpWrongIP), arpWrongIP, "ARP with another sender IP")
        let arpWrongMAC = Frame.arp(
            senderMAC: [0x02, 0x42, 0x0a, 0x28, 0x00, 0x03], senderIP: Self.container, targetIP: Self.gateway1,
            srcMAC: mac)
        assertShot(try f.ep(arpWrongMAC), arpWrongMAC, "ARP with another sender MAC in the body")
        let gratuitousSpoof = Frame.arp(op: 2, senderMAC: mac, senderIP: Self.gateway1, targetIP: Self.gateway1)
        assertShot(try f.ep(gratuitousSpoof), gratuitousSpoof, "gratuitous ARP reply claiming the gateway")
        expected[spoofed] = 6
        XCTAssertEqual(try f.drops(), expected)

        // Truncated ARP body: malformed.
        let shortARP = Array(goodARP.prefix(14 + 20))
        assertShot(try f.ep(shortARP), shortARP, "truncated ARP")
        expected[dropKey(ep, BP_DROP_MALFORMED, BP_DIR_EGRESS)] = 1
        XCTAssertEqual(try f.drops(), expected)

        // Without ENFORCE_SOURCE the same frames pass (isolation still applies elsewhere).
        try f.setEndpoint(flags: [BP_EP_F_ISOLATED])
        assertUntouched(try f.ep(spoofedIP), spoofedIP, "other source IP, enforcement off")
        assertUntouched(try f.ep(arpWrongIP), arpWrongIP, "other ARP sender, enforcement off")
        XCTAssertEqual(try f.drops(), expected)
    }

    func testIsolationBetweenNetworksAndPublishedTargets() throws {
        let f = try makeFixture()
        try f.setEndpoint(flags: [BP_EP_F_ENFORCE_SOURCE, BP_EP_F_ISOLATED])
        try f.publish(host: nil, 5000, proto: Self.tcp, to: Self.other, 80)
        let mac = Self.containerMAC
        let isolation = dropKey(f.endpointIfindex, BP_DROP_ISOLATION, BP_DIR_EGRESS)

        let toOther = Frame.tcp(src: Self.container, dst: Self.other, sport: 33000, dport: 81, srcMAC: mac)
        assertShot(try f.ep(toOther), toOther, "another network's container, unpublished port")
        let icmpToOther = Frame.ipPacket(
            src: Self.container, dst: Self.other, proto: 1, payload: [8, 0, 0xf7, 0xff, 0, 0, 0, 0], srcMAC: mac)
        assertShot(try f.ep(icmpToOther), icmpToOther, "ICMP to another network")
        XCTAssertEqual(try f.drops(), [isolation: 2])

        // The container side of a published port may be reached from any network (hairpinned published ports).
        let toTarget = Frame.tcp(src: Self.container, dst: Self.other, sport: 33000, dport: 80, srcMAC: mac)
        assertUntouched(try f.ep(toTarget), toTarget, "published target in another network")
        // Same network, the internet, the own gateway: allowed.
        for frame in [
            Frame.tcp(src: Self.container, dst: Self.neighbour, sport: 33000, dport: 22, srcMAC: mac),
            Frame.tcp(src: Self.container, dst: Self.internet, sport: 33000, dport: 443, srcMAC: mac),
            Frame.tcp(src: Self.container, dst: Self.gateway1, sport: 33000, dport: 53, srcMAC: mac),
            Frame.udp(src: Self.container, dst: ip("255.255.255.255"), sport: 68, dport: 67, srcMAC: mac),
            Frame.udp(src: Self.container, dst: ip("224.0.0.251"), sport: 5353, dport: 5353, srcMAC: mac),
        ] {
            assertUntouched(try f.ep(frame), frame, "allowed: \(try ParsedIPv4(frame))")
        }
        // A published target's replies pass: only to flows that were opened to it. The
        // target opening a flow of its own from its published port is isolated as usual.
        try f.publish(host: nil, 5001, proto: Self.tcp, to: Self.container, 80)
        let fromTarget = Frame.tcp(src: Self.container, dst: Self.other, sport: 80, dport: 22, srcMAC: mac)
        assertShot(try f.ep(fromTarget), fromTarget, "a flow opened from a published port into another network")
        XCTAssertEqual(try f.drops(), [isolation: 3])

        // Without BP_EP_F_ISOLATED the other network is reachable.
        try f.setEndpoint(flags: [BP_EP_F_ENFORCE_SOURCE])
        assertUntouched(try f.ep(toOther), toOther, "not isolated")
        XCTAssertEqual(try f.drops(), [isolation: 3])
    }

    /// A macvlan network's subnet is the LAN's: another network's containers reach it as any
    /// address beyond the host (Docker isolates its bridges only), internal ones do not.
    func testALANPrefixIsNotIsolated() throws {
        let f = try makeFixture()
        try f.setEndpoint(flags: [BP_EP_F_ENFORCE_SOURCE, BP_EP_F_ISOLATED])
        try f.setSubnet(
            ip("10.50.0.0"), 24, networkID: 2,
            flags: UInt16(BP_SUBNET_F_UNPROTECTED.rawValue | BP_SUBNET_F_LAN.rawValue))
        let toLAN = Frame.tcp(src: Self.container, dst: Self.other, sport: 33000, dport: 81, srcMAC: Self.containerMAC)
        assertUntouched(try f.ep(toLAN), toLAN, "a host on the LAN")
        try f.setEndpoint(flags: [BP_EP_F_ENFORCE_SOURCE, BP_EP_F_ISOLATED, BP_EP_F_INTERNAL])
        assertShot(try f.ep(toLAN), toLAN, "not from an internal network")
        XCTAssertEqual(try f.drops(), [dropKey(f.endpointIfindex, BP_DROP_INTERNAL, BP_DIR_EGRESS): 1])
    }

    /// Two containers publishing A:8080 and B:8080 have allow lists of their own.
    func testAllowListsAreKeyedByTheHostAddress() throws {
        let f = try makeFixture()
        try f.publish(host: Self.hostIP, 8080, proto: Self.tcp, to: Self.container, 80, restricted: true)
        try f.allow(host: Self.hostIP, 8080, proto: Self.tcp, from: ip("198.18.0.0"), 15)
        try f.publish(host: Self.hostIP2, 8080, proto: Self.tcp, to: Self.neighbour, 80, restricted: true)
        try f.allow(host: Self.hostIP2, 8080, proto: Self.tcp, from: ip("203.0.113.0"), 24)
        try f.publish(host: nil, 9090, proto: Self.tcp, to: Self.neighbour, 90, restricted: true)
        try f.allow(host: nil, 9090, proto: Self.tcp, from: Self.client, 32)

        let toA = Frame.tcp(src: Self.client, dst: Self.hostIP, sport: 40000, dport: 8080)
        assertShot(try f.up(toA), toA, "A:8080 allows 198.18.0.0/15 only")
        try assertRewritten(
            try f.up(Frame.tcp(src: Self.client, dst: Self.hostIP2, sport: 40000, dport: 8080)),
            to: Frame.tcp(src: Self.client, dst: Self.neighbour, sport: 40000, dport: 80), "B:8080 allows the client")
        try assertRewritten(
            try f.up(Frame.tcp(src: Self.client, dst: Self.hostIP, sport: 40001, dport: 9090)),
            to: Frame.tcp(src: Self.client, dst: Self.neighbour, sport: 40001, dport: 90), "0.0.0.0:9090, its own list")
        XCTAssertEqual(try f.drops(), [dropKey(f.endpointIfindex, BP_DROP_NOT_ALLOWED, BP_DIR_INGRESS): 1])
    }

    /// The published-port exception lets a container of another network reach a restricted
    /// target by its container address only when the port's allow list names it.
    func testARestrictedTargetIsReachedAcrossThePolicyOnlyByAllowedSources() throws {
        let f = try makeFixture()
        try f.setEndpoint(flags: [BP_EP_F_ENFORCE_SOURCE, BP_EP_F_ISOLATED])
        try f.publish(host: nil, 5000, proto: Self.tcp, to: Self.other, 80, restricted: true)
        try f.allow(host: nil, 5000, proto: Self.tcp, from: ip("198.18.0.0"), 15)
        let toTarget = Frame.tcp(
            src: Self.container, dst: Self.other, sport: 33000, dport: 80, srcMAC: Self.containerMAC)
        assertShot(try f.ep(toTarget), toTarget, "a restricted target, the container not on its list")
        XCTAssertEqual(try f.drops(), [dropKey(f.endpointIfindex, BP_DROP_ISOLATION, BP_DIR_EGRESS): 1])
        XCTAssertTrue(try f.flowEntries().isEmpty, "no hairpin flow for it")
        try f.allow(host: nil, 5000, proto: Self.tcp, from: ip("10.40.0.0"), 24)
        assertUntouched(try f.ep(toTarget), toTarget, "allowed: the exception applies")
        XCTAssertEqual(try f.flowEntries().count, 2)
    }

    /// A destination in the endpoint's own subnet is judged by the subnet its entry carries,
    /// without the trie; the rest by the trie. The trie's entry for the subnet is changed
    /// under it here to tell the two apart (the agent never lets them differ).
    func testTheOwnSubnetIsJudgedWithoutTheTrie() throws {
        let f = try makeFixture()
        let mac = Self.containerMAC
        let own = DataplaneFixture.ownSubnet
        let isolation = dropKey(f.endpointIfindex, BP_DROP_ISOLATION, BP_DIR_EGRESS)
        let icc = dropKey(f.endpointIfindex, BP_DROP_ICC, BP_DIR_EGRESS)
        try f.setSubnet(ip("10.40.0.0"), 24, networkID: 7)
        let toNeighbour = Frame.tcp(src: Self.container, dst: Self.neighbour, sport: 33000, dport: 22, srcMAC: mac)
        let toOther = Frame.tcp(src: Self.container, dst: Self.other, sport: 33000, dport: 81, srcMAC: mac)

        try f.setEndpoint(flags: [BP_EP_F_ENFORCE_SOURCE, BP_EP_F_ISOLATED], ownSubnet: own)
        assertUntouched(try f.ep(toNeighbour), toNeighbour, "the own subnet, as the entry says")
        assertShot(try f.ep(toOther), toOther, "another network's, as the trie says")
        XCTAssertEqual(try f.drops(), [isolation: 1])

        // ICC off applies through it: the neighbour is refused, the gateway (a host address) not.
        try f.setEndpoint(flags: [BP_EP_F_ENFORCE_SOURCE, BP_EP_F_ISOLATED, BP_EP_F_ICC_DISABLED], ownSubnet: own)
        assertShot(try f.ep(toNeighbour), toNeighbour, "ICC off")
        let toGateway = Frame.tcp(src: Self.container, dst: Self.gateway1, sport: 33000, dport: 53, srcMAC: mac)
        assertUntouched(try f.ep(toGateway), toGateway, "the gateway, ICC off")
        XCTAssertEqual(try f.drops(), [isolation: 1, icc: 1])

        // Without it, the trie decides: network 7 is another network.
        try f.setEndpoint(flags: [BP_EP_F_ENFORCE_SOURCE, BP_EP_F_ISOLATED])
        assertShot(try f.ep(toNeighbour), toNeighbour, "the trie's answer")
        XCTAssertEqual(try f.drops(), [isolation: 2, icc: 1])
        // Nor is a subnet that does not hold the endpoint's address written into its entry.
        let elsewhere = EndpointPolicy.OwnSubnet(
            IPv4Network(containing: IPv4Address(10, 50, 0, 0), prefixLength: 24), SubnetPolicy(network: 1, flags: []))
        try f.setEndpoint(flags: [BP_EP_F_ENFORCE_SOURCE, BP_EP_F_ISOLATED], ownSubnet: elsewhere)
        XCTAssertEqual(try f.maps.endpoints.lookup(f.endpointIfindex)?.subnet_mask, 0)
        assertShot(try f.ep(toNeighbour), toNeighbour, "none carried: the trie's answer")
        assertShot(try f.ep(toOther), toOther, "none carried: the trie's answer")
        XCTAssertEqual(try f.drops(), [isolation: 4, icc: 1])
    }

    func testICCDisabled() throws {
        let f = try makeFixture()
        try f.setEndpoint(flags: [BP_EP_F_ENFORCE_SOURCE, BP_EP_F_ISOLATED, BP_EP_F_ICC_DISABLED])
        try f.publish(host: nil, 5000, proto: Self.tcp, to: Self.neighbour, 80)
        let mac = Self.containerMAC
        let icc = dropKey(f.endpointIfindex, BP_DROP_ICC, BP_DIR_EGRESS)

        let toNeighbour = Frame.tcp(src: Self.container, dst: Self.neighbour, sport: 33000, dport: 22, srcMAC: mac)
        assertShot(try f.ep(toNeighbour), toNeighbour, "same network, ICC off")
        let udpToNeighbour = Frame.udp(src: Self.container, dst: Self.neighbour, sport: 33000, dport: 53, srcMAC: mac)
        assertShot(try f.ep(udpToNeighbour), udpToNeighbour, "same network, ICC off, UDP")
        // Broadcast and multicast reach the network's containers: ICC off drops them as well.
        for frame in [
            Frame.udp(src: Self.container, dst: ip("255.255.255.255"), sport: 33000, dport: 9, srcMAC: mac),
            Frame.udp(src: Self.container, dst: ip("10.40.0.255"), sport: 33000, dport: 9, srcMAC: mac),
            Frame.udp(src: Self.container, dst: ip("224.0.0.251"), sport: 5353, dport: 5353, srcMAC: mac),
            Frame.udp(src: Self.container, dst: ip("239.1.2.3"), sport: 5000, dport: 5000, srcMAC: mac),
        ] {
            assertShot(try f.ep(frame), frame, "ICC off: \(try ParsedIPv4(frame))")
        }
        XCTAssertEqual(try f.drops(), [icc: 6])

        for frame in [
            Frame.tcp(src: Self.container, dst: Self.gateway1, sport: 33000, dport: 53, srcMAC: mac),  // the gateway
            Frame.udp(src: Self.container, dst: Self.gateway1, sport: 33000, dport: 53, srcMAC: mac),
            Frame.tcp(src: Self.container, dst: Self.neighbour, sport: 33000, dport: 80, srcMAC: mac),  // a published target
            Frame.tcp(src: Self.container, dst: Self.internet, sport: 33000, dport: 443, srcMAC: mac),  // outside
        ] {
            assertUntouched(try f.ep(frame), frame, "allowed with ICC off: \(try ParsedIPv4(frame))")
        }
        XCTAssertEqual(try f.drops(), [icc: 6])
    }

    /// What the endpoint cannot judge it drops, each with a reason of its own: tags (VID 0
    /// too, 802.1ad, the old QinQ type), IPv6 on an IPv4-only network, other ethertypes, ARP
    /// for another protocol, and IPv4 whose header or TCP/UDP header is cut.
    func testTheEndpointFailsClosed() throws {
        let f = try makeFixture()
        try f.setEndpoint(flags: [BP_EP_F_ENFORCE_SOURCE, BP_EP_F_ISOLATED, BP_EP_F_IPV4_ONLY])
        let mac = Self.containerMAC
        let good = Frame.udp(src: Self.container, dst: Self.internet, sport: 1234, dport: 53, srcMAC: mac)
        let inner = Array(good.dropFirst(12))  // ethertype and IPv4 packet
        func tagged(_ type: UInt16, vid: UInt16) -> [UInt8] {
            Array(good.prefix(12)) + [UInt8(type >> 8), UInt8(type & 0xff), UInt8(vid >> 8), UInt8(vid & 0xff)] + inner
        }
        let ipv6 = Frame.ethernet(
            src: mac, type: Frame.ethTypeIPv6,
            payload: [0x60, 0, 0, 0, 0, 8, 17, 64] + Array(repeating: 0xfe, count: 32) + Array(repeating: 0, count: 8))
        var arpOther = Frame.arp(senderMAC: mac, senderIP: Self.container, targetIP: Self.gateway1)
        arpOther[16] = 0x86
        arpOther[17] = 0xdd  // ARP for IPv6 addresses
        let cases: [([UInt8], bp_drop_reason, String)] = [
            (tagged(0x8100, vid: 5), BP_DROP_VLAN, "802.1Q VID 5"),
            (tagged(0x8100, vid: 0), BP_DROP_VLAN, "802.1Q VID 0 (priority tag)"),
            (tagged(0x88a8, vid: 7), BP_DROP_VLAN, "802.1ad"),
            (tagged(0x9100, vid: 7), BP_DROP_VLAN, "QinQ 0x9100"),
            (ipv6, BP_DROP_IPV6_DISABLED, "IPv6 on an IPv4-only network"),
            (
                Frame.ethernet(src: mac, type: 0x88cc, payload: Array(repeating: 0, count: 46)), BP_DROP_UNKNOWN_L3,
                "LLDP"
            ),
            (
                Frame.ethernet(src: mac, type: 0x8863, payload: Array(repeating: 0, count: 46)), BP_DROP_UNKNOWN_L3,
                "PPPoE discovery"
            ),
            (
                Frame.ethernet(src: mac, type: 0x0004, payload: Array(repeating: 0, count: 46)), BP_DROP_UNKNOWN_L3,
                "an 802.3 length field"
            ),
            (arpOther, BP_DROP_UNKNOWN_L3, "ARP for another protocol"),
            (Array(good.prefix(14 + 20 + 6)), BP_DROP_MALFORMED, "UDP header cut"),
        ]
        var expected: [bp_drop_key: UInt64] = [:]
        for (frame, reason, what) in cases {
            assertShot(try f.ep(frame), frame, what)
            expected[dropKey(f.endpointIfindex, reason, BP_DIR_EGRESS), default: 0] += 1
        }
        XCTAssertEqual(try f.drops(), expected)
        assertUntouched(try f.ep(good), good, "IPv4 from the container")
        let arp = Frame.arp(senderMAC: mac, senderIP: Self.container, targetIP: Self.gateway1)
        assertUntouched(try f.ep(arp), arp, "ARP for its own address")
        // Without BP_EP_F_IPV4_ONLY (another runtime's interface), IPv6 is not Bridgeport's to judge.
        try f.setEndpoint(flags: [BP_EP_F_ENFORCE_SOURCE, BP_EP_F_ISOLATED])
        assertUntouched(try f.ep(ipv6), ipv6, "IPv6 where the network is not known")
        XCTAssertEqual(try f.drops(), expected)
    }

    func testInternalNetwork() throws {
        let f = try makeFixture()
        try f.setEndpoint(flags: [BP_EP_F_ENFORCE_SOURCE, BP_EP_F_ISOLATED, BP_EP_F_INTERNAL])
        let mac = Self.containerMAC
        let internalDrop = dropKey(f.endpointIfindex, BP_DROP_INTERNAL, BP_DIR_EGRESS)

        let out = Frame.tcp(src: Self.container, dst: Self.internet, sport: 33000, dport: 443, srcMAC: mac)
        assertShot(try f.ep(out), out, "internal network, destination outside the subnet")
        let udpOut = Frame.udp(src: Self.container, dst: Self.client, sport: 33000, dport: 53, srcMAC: mac)
        assertShot(try f.ep(udpOut), udpOut, "internal network, UDP outside")
        XCTAssertEqual(try f.drops(), [internalDrop: 2])

        for frame in [
            Frame.tcp(src: Self.container, dst: Self.neighbour, sport: 33000, dport: 22, srcMAC: mac),
            Frame.tcp(src: Self.container, dst: Self.gateway1, sport: 33000, dport: 53, srcMAC: mac),
        ] {
            assertUntouched(try f.ep(frame), frame, "inside the internal network: \(try ParsedIPv4(frame))")
        }
        // Another network's subnet: isolation comes first.
        let toOther = Frame.tcp(src: Self.container, dst: Self.other, sport: 33000, dport: 22, srcMAC: mac)
        assertShot(try f.ep(toOther), toOther, "internal and isolated, another network")
        XCTAssertEqual(
            try f.drops(), [internalDrop: 2, dropKey(f.endpointIfindex, BP_DROP_ISOLATION, BP_DIR_EGRESS): 1])
    }

    /// In a cluster, VXLAN to the host comes from the cluster's hosts only; outside one the
    /// port is not Bridgeport's and nothing is filtered.
    func testVXLANIsTakenOnlyFromTheClustersHosts() throws {
        let f = try makeFixture()
        let member = ip("198.51.100.20")
        let vxlan = { (src: [UInt8]) in
            Frame.udp(src: src, dst: Self.hostIP, sport: 40000, dport: UInt16(BP_VXLAN_PORT))
        }

        assertUntouched(try f.up(vxlan(Self.client)), vxlan(Self.client), "no cluster: not ours to filter")
        for peer in [0, be32(member)] { try f.maps.vxlanPeers.update(peer, 1) }
        assertUntouched(try f.up(vxlan(member)), vxlan(member), "from a cluster host")
        assertShot(try f.up(vxlan(Self.client)), vxlan(Self.client), "from a host outside the cluster")
        let other = Frame.udp(src: Self.client, dst: Self.hostIP, sport: 40000, dport: 4790)
        assertUntouched(try f.up(other), other, "another UDP port")
        XCTAssertEqual(try f.drops(), [dropKey(f.uplinkIfindex, BP_DROP_VXLAN_SOURCE, BP_DIR_INGRESS): 1])
    }

    // MARK: 5. direct access from the uplink

    /// Direct routing to container addresses, by Docker 28's gateway modes: nat reaches
    /// published container ports only, routed ICMP too, nat-unprotected everything, an
    /// internal network nothing. A flow let into a masquerading network is tracked, so its
    /// replies leave as they are (not masqueraded).
    func testDirectAccessToContainersFromTheUplinkByGatewayMode() throws {
        let f = try makeFixture()
        let direct = dropKey(f.uplinkIfindex, BP_DROP_DIRECT_ACCESS, BP_DIR_INGRESS)
        try f.publish(host: nil, 8080, proto: Self.tcp, to: Self.container, 80)

        let published = Frame.tcp(src: Self.client, dst: Self.container, sport: 40000, dport: 80)
        let tcp = Frame.tcp(src: Self.client, dst: Self.container, sport: 40000, dport: 81)
        let udp = Frame.udp(src: Self.client, dst: Self.container, sport: 40000, dport: 53)
        let icmp = Frame.ipPacket(
            src: Self.client, dst: Self.container, proto: 1, payload: [8, 0, 0xf7, 0xff, 0, 0, 0, 0])
        let laterFragment = Frame.ipPacket(
            src: Self.client, dst: Self.container, proto: 6, payload: Array(repeating: 0x41, count: 32),
            fragment: 0x00b9)
        func expect(passing: [[UInt8]], dropped: [[UInt8]], _ mode: String) throws {
            for frame in passing { assertUntouched(try f.up(frame), frame, "\(mode): \(try ParsedIPv4(frame))") }
            for frame in dropped { assertShot(try f.up(frame), frame, "\(mode): \(try ParsedIPv4(frame))") }
        }

        // nat (the default, masquerading): the published container port only.
        try f.setSubnet(ip("10.40.0.0"), 24, networkID: 1, flags: UInt16(BP_SUBNET_F_MASQUERADE.rawValue))
        try expect(passing: [published], dropped: [tcp, udp, icmp, laterFragment], "nat")
        XCTAssertEqual(try f.drops(), [direct: 4])
        let inbound = bp_flow_key(
            src: be32(Self.client), dst: be32(Self.container), sport: be16(40000), dport: be16(80), proto: Self.tcp)
        XCTAssertEqual(try XCTUnwrap(f.flow(inbound)).kind, UInt8(BP_FLOW_ROUTED.rawValue), "tracked")
        // Its reply is not masqueraded (the endpoint masquerades this network).
        try f.setEndpoint(flags: [BP_EP_F_ENFORCE_SOURCE, BP_EP_F_ISOLATED, BP_EP_F_MASQUERADE])
        let reply = Frame.tcp(
            src: Self.container, dst: Self.client, sport: 80, dport: 40000, flags: Frame.tcpSYNACK,
            srcMAC: Self.containerMAC)
        assertUntouched(try f.ep(reply), reply, "the reply of a flow in by direct routing leaves as it is")

        // The gateway is a host address: not a container.
        let toGateway = Frame.tcp(src: Self.client, dst: Self.gateway1, sport: 40000, dport: 22)
        assertUntouched(try f.up(toGateway), toGateway, "the network's gateway")

        // routed: ICMP too.
        try f.setSubnet(ip("10.40.0.0"), 24, networkID: 1, flags: UInt16(BP_SUBNET_F_ROUTED.rawValue))
        try expect(passing: [published, icmp], dropped: [tcp, udp, laterFragment], "routed")
        // nat-unprotected: everything.
        try f.setSubnet(
            ip("10.40.0.0"), 24, networkID: 1,
            flags: UInt16(BP_SUBNET_F_UNPROTECTED.rawValue | BP_SUBNET_F_MASQUERADE.rawValue))
        try expect(passing: [published, tcp, udp, icmp, laterFragment], dropped: [], "nat-unprotected")
        // internal: nothing.
        try f.setSubnet(ip("10.40.0.0"), 24, networkID: 1, flags: UInt16(BP_SUBNET_F_INTERNAL.rawValue))
        try expect(passing: [], dropped: [published, icmp], "internal")
        // Network 2 (nat) has nothing published.
        let toOther = Frame.tcp(src: Self.client, dst: Self.other, sport: 40000, dport: 80)
        assertShot(try f.up(toOther), toOther, "network 2, nothing published")
        XCTAssertEqual(try f.drops(), [direct: 4 + 3 + 2 + 1])
    }

    /// On a device without an Ethernet header (tun, WireGuard, ipip) packets start at the IP
    /// header: bp_up_ingress_l3 filters direct access there as bp_up_ingress does on Ethernet
    /// (which, given such a packet, sees no IPv4 and lets it pass: the hole), and a published
    /// port's packet gets an Ethernet header before it goes straight to the container.
    func testUplinkWithoutAnEthernetHeader() throws {
        let f = try makeFixture()
        let tunnelled = ip("8.0.0.7")  // reads as IPv4 to BPF_PROG_TEST_RUN (see upL3)
        try f.setSubnet(ip("10.40.0.0"), 24, networkID: 1, flags: UInt16(BP_SUBNET_F_MASQUERADE.rawValue))
        try f.setEndpoint(flags: [BP_EP_F_ENFORCE_SOURCE])
        try f.inNS(
            "ip", "neigh", "replace", "10.40.0.2", "lladdr", "02:42:0a:28:00:02", "dev", "bpt-ep", "nud", "permanent")
        try f.publish(host: Self.hostIP, 5000, proto: Self.tcp, to: Self.container, 80)

        let direct = Array(Frame.tcp(src: tunnelled, dst: Self.container, sport: 40000, dport: 81).dropFirst(14))
        assertUntouched(try f.up(direct), direct, "the Ethernet uplink program sees no IPv4 in a bare IP packet")
        XCTAssertEqual(try f.drops(), [:])
        assertShot(try f.upL3(direct), direct, "straight to a container through a tunnel")
        XCTAssertEqual(try f.drops(), [dropKey(f.uplinkIfindex, BP_DROP_DIRECT_ACCESS, BP_DIR_INGRESS): 1])

        let syn = Array(Frame.tcp(src: tunnelled, dst: Self.hostIP, sport: Self.clientPort, dport: 5000).dropFirst(14))
        let expected = Frame.tcp(src: tunnelled, dst: Self.container, sport: Self.clientPort, dport: 80)
        try assertRewritten(
            try f.upL3(syn), to: Self.containerMAC + Self.gatewayMAC + Array(expected.dropFirst(12)),
            "a published port through a tunnel: an Ethernet header, then straight to the container")
        XCTAssertEqual(try f.maps.endpointStats(ifindex: f.endpointIfindex)?.rx.packets, 1)
    }

    // MARK: 6. robustness

    func testTruncatedPacketsAreNeverRewritten() throws {
        let f = try makeFixture()
        try f.setEndpoint(flags: [BP_EP_F_ENFORCE_SOURCE, BP_EP_F_ISOLATED])
        try f.publish(host: nil, 5000, proto: Self.tcp, to: Self.container, 80)
        try f.publish(host: nil, 5000, proto: Self.udp, to: Self.container, 80)
        try seed(
            f,
            natKey(remote: Self.client, remotePort: 40000, endpoint: Self.container, endpointPort: 80, proto: Self.tcp),
            natValue(Self.hostIP, 5000))

        let syn = Frame.tcp(src: Self.client, dst: Self.hostIP, sport: 40000, dport: 5000)
        let udp = Frame.udp(src: Self.client, dst: Self.hostIP, sport: 40000, dport: 5000)
        let reply = Frame.tcp(
            src: Self.container, dst: Self.client, sport: 80, dport: 40000, flags: Frame.tcpSYNACK,
            srcMAC: Self.containerMAC)
        // 14 = Ethernet only, 14+12 = IPv4 header cut, 14+20+4 = ports only, 14+20+19 = TCP header cut by one byte.
        // Linux 6.18's BPF_PROG_TEST_RUN refuses (EINVAL) to build an skb whose ethertype is IPv4 but which
        // has no complete IPv4 header; older kernels run the program. Either is fine, a rewrite is not.
        // The uplink leaves what it cannot parse to the kernel; the endpoint drops it (fails closed).
        var malformed: UInt64 = 0
        for length in [14, 15, 14 + 12, 14 + 19, 14 + 20, 14 + 20 + 2, 14 + 20 + 4, 14 + 20 + 12, 14 + 20 + 19] {
            let cutSyn = Array(syn.prefix(length))
            let cutReply = Array(reply.prefix(length))
            do {
                assertUntouched(try f.up(cutSyn), cutSyn, "uplink, TCP SYN cut at \(length)")
                assertShot(try f.ep(cutReply), cutReply, "endpoint, TCP reply cut at \(length)")
                malformed += 1
            } catch BPFError.testRunFailed(_, EINVAL) where length < 14 + 20 {
                continue  // the kernel would not run it
            }
        }
        XCTAssertEqual(try f.drops(), [dropKey(f.endpointIfindex, BP_DROP_MALFORMED, BP_DIR_EGRESS): malformed])
        // IPv4 options cut: the header claims more than the frame holds.
        for (options, length) in [
            ([0x94, 0x04, 0x00, 0x00] as [UInt8], 14 + 22), ([0x94, 0x04, 0x00, 0x00], 14 + 24 + 3),
            (Array(repeating: 0x01, count: 40), 14 + 20 + 30), (Array(repeating: 0x01, count: 40), 14 + 60 + 19),
        ] {
            let cut = Array(
                Frame.tcp(src: Self.client, dst: Self.hostIP, sport: 40000, dport: 5000, options: options).prefix(
                    length))
            assertUntouched(try f.up(cut), cut, "uplink, ihl \(5 + options.count / 4) cut at \(length)")
        }
        for length in [14 + 20 + 4, 14 + 20 + 7] {
            let cutUDP = Array(udp.prefix(length))
            assertUntouched(try f.up(cutUDP), cutUDP, "uplink, UDP cut at \(length)")
        }
        // The shortest UDP that has its header is translated.
        let headerOnly = Frame.udp(src: Self.client, dst: Self.hostIP, sport: 40000, dport: 5000, payload: [])
        try assertRewritten(
            try f.up(headerOnly),
            to: Frame.udp(src: Self.client, dst: Self.container, sport: 40000, dport: 80, payload: []),
            "UDP with an empty payload")
        // Invalid IPv4 headers: ihl < 5, version 6 with the IPv4 ethertype, ihl pointing past the end.
        var ihl4 = syn
        ihl4[14] = 0x44
        var version6 = syn
        version6[14] = 0x65
        var ihlPastEnd = Array(syn.prefix(14 + 20 + 20))
        ihlPastEnd[14] = 0x4f
        for (frame, what) in [(ihl4, "ihl 4"), (version6, "version 6"), (ihlPastEnd, "ihl 15 with a 20-byte header")] {
            assertUntouched(try f.up(frame), frame, "uplink, \(what)")
        }
        XCTAssertEqual(try f.drops().count, 1, "the endpoint's malformed drops only")
        try assertNAT(
            f,
            [
                (
                    natKey(
                        remote: Self.client, remotePort: 40000, endpoint: Self.container, endpointPort: 80,
                        proto: Self.tcp), natValue(Self.hostIP, 5000)
                ),
                (
                    natKey(
                        remote: Self.client, remotePort: 40000, endpoint: Self.container, endpointPort: 80,
                        proto: Self.udp), natValue(Self.hostIP, 5000)
                ),
            ], "the entry the test wrote and the empty-payload UDP flow, nothing from truncated packets")
    }

    func testIPv4OptionsAreSkippedAndTheRewriteLandsAfterThem() throws {
        let f = try makeFixture()
        try f.setEndpoint(flags: [BP_EP_F_ENFORCE_SOURCE, BP_EP_F_ISOLATED])
        try f.publish(host: nil, 5000, proto: Self.tcp, to: Self.container, 80)
        try f.publish(host: nil, 5000, proto: Self.udp, to: Self.container, 80)
        // Option bytes that would read as "ports" 0x9404 -> 0x0000 if ihl were ignored.
        let routerAlert: [UInt8] = [0x94, 0x04, 0x00, 0x00]  // ihl 6
        let nopsAndDecoy: [UInt8] = [0x01, 0x01, 0x13, 0x88] + Array(repeating: 0x01, count: 35) + [0x00]  // ihl 15, NOPs
        // A decoy: a published port equal to what the option bytes would read as.
        try f.publish(host: nil, 0x0000, proto: Self.tcp, to: Self.neighbour, 9)

        for (options, what) in [(routerAlert, "ihl 6"), (nopsAndDecoy, "ihl 15")] {
            let syn = Frame.tcp(src: Self.client, dst: Self.hostIP, sport: 40100, dport: 5000, options: options)
            XCTAssertEqual(try ParsedIPv4(syn).headerLength, 20 + options.count)
            let result = try f.up(syn)
            let out = try ParsedIPv4(result.packet)
            XCTAssertEqual(out.options, options, "\(what): options must be kept as they were")
            XCTAssertEqual(out.destinationPort, 80, "\(what)")
            try assertRewritten(
                result, to: Frame.tcp(src: Self.client, dst: Self.container, sport: 40100, dport: 80, options: options),
                "TCP, \(what)")

            let dgram = Frame.udp(src: Self.client, dst: Self.hostIP, sport: 40101, dport: 5000, options: options)
            try assertRewritten(
                try f.up(dgram),
                to: Frame.udp(src: Self.client, dst: Self.container, sport: 40101, dport: 80, options: options),
                "UDP, \(what)")

            // And the reply with options, back through the endpoint.
            let reply = Frame.tcp(
                src: Self.container, dst: Self.client, sport: 80, dport: 40100, flags: Frame.tcpSYNACK,
                options: options, srcMAC: Self.containerMAC)
            try assertRewritten(
                try f.ep(reply),
                to: Frame.tcp(
                    src: Self.hostIP, dst: Self.client, sport: 5000, dport: 40100, flags: Frame.tcpSYNACK,
                    options: options, srcMAC: Self.containerMAC),
                "TCP reply, \(what)")
        }
        try assertNAT(
            f,
            [
                (
                    natKey(
                        remote: Self.client, remotePort: 40100, endpoint: Self.container, endpointPort: 80,
                        proto: Self.tcp), natValue(Self.hostIP, 5000)
                ),
                (
                    natKey(
                        remote: Self.client, remotePort: 40101, endpoint: Self.container, endpointPort: 80,
                        proto: Self.udp), natValue(Self.hostIP, 5000)
                ),
            ], "flows with options")
        XCTAssertTrue(try f.drops().isEmpty)
    }

    /// Later fragments of datagrams whose first fragment was never translated, and frames
    /// that are not IPv4, pass untouched (first fragments: testFragmentsOfAPublishedFlowFollowTheFirst).
    func testUnknownFragmentsAndNonIPFramesAreLeftAlone() throws {
        let f = try makeFixture()
        try f.setEndpoint(flags: [BP_EP_F_ENFORCE_SOURCE, BP_EP_F_ISOLATED])
        try f.publish(host: nil, 5000, proto: Self.tcp, to: Self.container, 80)
        try f.publish(host: nil, 5000, proto: Self.udp, to: Self.container, 80)
        try seed(
            f,
            natKey(remote: Self.client, remotePort: 40000, endpoint: Self.container, endpointPort: 53, proto: Self.udp),
            natValue(Self.hostIP, 5000))

        // A later fragment whose payload looks like a UDP header to the published port.
        let fakeHeader = Frame.udpDatagram(
            src: Self.client, dst: Self.hostIP, sport: 40000, dport: 5000, payload: Array(repeating: 0x42, count: 16))
        let later = Frame.ipPacket(src: Self.client, dst: Self.hostIP, proto: 17, payload: fakeHeader, fragment: 185)
        assertUntouched(try f.up(later), later, "non-first fragment")
        let laterMF = Frame.ipPacket(
            src: Self.client, dst: Self.hostIP, proto: 17, payload: fakeHeader, fragment: Frame.moreFragments | 185)
        assertUntouched(try f.up(laterMF), laterMF, "middle fragment")
        let laterReply = Frame.ipPacket(
            src: Self.container, dst: Self.client, proto: 17, payload: fakeHeader, fragment: 185,
            srcMAC: Self.containerMAC)
        assertUntouched(
            try f.ep(laterReply), laterReply, "a later fragment of a reply whose first was not seen (no masquerade)")
        let first = Frame.udp(src: Self.client, dst: Self.hostIP, sport: 40000, dport: 5000)

        // Not IPv4.
        let ipv6 = Frame.ethernet(
            type: Frame.ethTypeIPv6, payload: [0x60] + Array(repeating: 0, count: 39) + Array(repeating: 0x13, count: 8)
        )
        let arp = Frame.arp(senderMAC: Frame.defaultSourceMAC, senderIP: Self.client, targetIP: Self.hostIP)
        let vlan = Frame.ethernet(type: 0x8100, payload: [0, 1, 0x08, 0x00] + Array(first.dropFirst(14)))
        let lldp = Frame.ethernet(
            dst: [0x01, 0x80, 0xc2, 0, 0, 0x0e], type: 0x88cc, payload: Array(repeating: 0, count: 46))
        for (frame, what) in [(ipv6, "IPv6"), (arp, "ARP"), (vlan, "802.1Q-tagged IPv4"), (lldp, "LLDP")] {
            assertUntouched(try f.up(frame), frame, "uplink, \(what)")
        }
        let ipv6FromContainer = Frame.ethernet(
            src: Self.containerMAC, type: Frame.ethTypeIPv6, payload: Array(ipv6.dropFirst(14)))
        assertUntouched(try f.ep(ipv6FromContainer), ipv6FromContainer, "endpoint, IPv6 with the container's MAC")

        try assertNAT(
            f,
            [
                (
                    natKey(
                        remote: Self.client, remotePort: 40000, endpoint: Self.container, endpointPort: 53,
                        proto: Self.udp),
                    natValue(Self.hostIP, 5000)
                )
            ], "no flow from later fragments")
        XCTAssertTrue(try f.drops().isEmpty)
    }
}

extension Sandbox {
    static let uplinkObject = packageRoot + "/build/bpf/uplink.bpf.o"

    /// Builds build/bpf/NAME.bpf.o only.
    static func buildObject(_ name: String) throws { try make("build/bpf/\(name).bpf.o") }

    /// NAME.bpf.o of `make bpf-counted`, every helper call counted.
    static func countedObject(_ name: String) -> String { packageRoot + "/build/bpf-counted/\(name).bpf.o" }

    /// Builds countedObject(NAME) only (as quick as the normal one: seconds).
    static func buildCountedObject(_ name: String) throws { try make("build/bpf-counted/\(name).bpf.o") }

    private static func make(_ target: String) throws {
        let (status, output) = run(["make", "-s", "-C", packageRoot, target])
        if status != 0 { throw Failure("make \(target) failed:\n\(output)") }
    }
}

/// The packet builder and checksum verifier themselves (no root needed).
final class PacketBuilderTests: XCTestCase {
    func testChecksumsAgainstKnownValues() throws {
        // RFC 1071's example words sum to 0xddf2 (folded).
        XCTAssertEqual(Checksum.fold(Checksum.sum([0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7])), 0xddf2)
        // A classic IPv4 header (192.168.0.1 -> 192.168.0.199, UDP, total length 0x73): checksum 0xb861.
        let header = Frame.ipv4(
            src: ip("192.168.0.1"), dst: ip("192.168.0.199"), proto: 17,
            payload: Array(repeating: 0, count: 0x73 - 20), id: 0, ttl: 64)
        XCTAssertEqual(Array(header[10...11]), [0xb8, 0x61])

        let syn = Frame.tcp(src: ip("10.0.0.1"), dst: ip("10.0.0.2"), sport: 1, dport: 2, options: [0x94, 0x04, 0, 0])
        let parsed = try ParsedIPv4(syn)
        XCTAssertEqual(parsed.headerLength, 24)
        XCTAssertEqual(parsed.destinationPort, 2)
        XCTAssertTrue(parsed.ipv4ChecksumValid)
        XCTAssertTrue(parsed.l4ChecksumValid)
        // Any changed byte breaks a checksum.
        for offset in [26, 33, 14 + 24 + 2, 14 + 24 + 19] {
            var bad = syn
            bad[offset] ^= 0x01
            let p = try ParsedIPv4(bad)
            XCTAssertFalse(p.ipv4ChecksumValid && p.l4ChecksumValid, "byte \(offset) changed unnoticed")
        }
        let udp = try ParsedIPv4(
            Frame.udp(src: ip("10.0.0.1"), dst: ip("10.0.0.2"), sport: 1, dport: 2, payload: [1, 2, 3]))
        XCTAssertTrue(udp.l4ChecksumValid)
        XCTAssertEqual(
            try ParsedIPv4(Frame.udp(src: ip("10.0.0.1"), dst: ip("10.0.0.2"), sport: 1, dport: 2, checksum: false))
                .l4Checksum, 0)
        XCTAssertTrue(try ParsedIPv4(Frame.icmpEcho(src: ip("10.0.0.1"), dst: ip("10.0.0.2"), id: 9)).l4ChecksumValid)
        XCTAssertEqual(
            Frame.arp(senderMAC: [2, 0, 0, 0, 0, 1], senderIP: ip("10.0.0.1"), targetIP: ip("10.0.0.2")).count, 42)
    }
}
