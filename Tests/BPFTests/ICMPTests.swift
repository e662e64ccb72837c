import BPF
import CBPF
import Glibc
import XCTest

/// ICMP errors about translated flows, both ways (bpf/lib/icmp.h); the route out of a
/// translation asked before the rewrite (bp_route_out); masquerade of protocols without
/// ports. BPF_PROG_TEST_RUN on crafted frames in DataplaneFixture's namespace. Expected
/// frames are built from scratch, so every checksum (outer IP, ICMP, quoted IP, quoted L4)
/// is checked against a fresh computation.
final class ICMPTests: XCTestCase {
    typealias T = NATAndPolicyTests
    static let router = ip("198.51.100.254")  // the uplink's default gateway
    static let mac = T.containerMAC
    static let fragNeeded: (type: UInt8, code: UInt8) = (3, 4)
    static let portUnreachable: (type: UInt8, code: UInt8) = (3, 3)
    static let hostUnreachable: (type: UInt8, code: UInt8) = (3, 1)
    static let timeExceeded: (type: UInt8, code: UInt8) = (11, 0)

    override func setUpWithError() throws {
        try Sandbox.requireRoot()
        try DataplaneFixture.buildObjects()
    }

    /// The IPv4 packet of a frame, as an ICMP error quotes it.
    func ipv4(_ frame: [UInt8]) -> [UInt8] { Array(frame.dropFirst(14)) }

    func key(_ src: [UInt8], _ sport: UInt16, _ dst: [UInt8], _ dport: UInt16, _ proto: UInt8) -> bp_flow_key {
        bp_flow_key(src: be32(src), dst: be32(dst), sport: be16(sport), dport: be16(dport), proto: proto)
    }

    /// A masqueraded flow of the endpoint under test, both entries, with a host port of its own.
    func seedMasquerade(
        _ f: DataplaneFixture, _ sport: UInt16, to remote: [UInt8], _ rport: UInt16, hostPort: UInt16, proto: UInt8
    ) throws {
        let now = FlowTable.now()
        let out = bp_flow(
            kind: BP_FLOW_MASQUERADE, state: BP_FLOW_REPLIED, flags: BP_FLOW_F_SNAT.rawValue, natIP: be32(T.hostIP),
            natPort: be16(hostPort), ifindex: f.endpointIfindex, created: now, expires: now + 3600)
        let back = bp_flow(
            kind: BP_FLOW_MASQUERADE, state: BP_FLOW_REPLIED, flags: BP_FLOW_F_DNAT.rawValue | BP_FLOW_F_REPLY.rawValue,
            natIP: be32(T.container), natPort: be16(sport), ifindex: f.endpointIfindex, created: now,
            expires: now + 3600)
        let original = key(T.container, sport, remote, rport, proto)
        try f.maps.flows.map.update(original, out)
        try f.maps.flows.map.update(FlowTable.otherKey(original, out), back)
    }

    func dropCount(_ f: DataplaneFixture, _ reason: bp_drop_reason) throws -> UInt64? {
        try f.drops()[bp_drop_key(ifindex: f.endpointIfindex, reason: reason, direction: BP_DIR_EGRESS)]
    }

    // MARK: errors from outside (uplink)

    /// A router's "fragmentation needed" about a masqueraded TCP segment reaches the container
    /// with the segment as the container sent it (path-MTU discovery); so do port unreachable
    /// about UDP, time exceeded about a ping (traceroute), and an error quoting only 8 bytes
    /// of a TCP header (its checksum not quoted, and left alone).
    func testErrorsFromOutsideAboutAMasqueradedFlowReachTheContainer() throws {
        let f = try DataplaneFixture.make(for: self)
        try f.setEndpoint(flags: [BP_EP_F_ENFORCE_SOURCE, BP_EP_F_ISOLATED, BP_EP_F_MASQUERADE])
        try seedMasquerade(f, 34567, to: T.internet, 443, hostPort: 61000, proto: T.tcp)
        try seedMasquerade(f, 45678, to: T.internet, 53, hostPort: 61001, proto: T.udp)
        try seedMasquerade(f, 0x1234, to: T.internet, 0x1234, hostPort: 0x4321, proto: 1)
        let data = Array(repeating: UInt8(0x61), count: 1400)

        let segment = ipv4(
            Frame.tcp(src: T.hostIP, dst: T.internet, sport: 61000, dport: 443, flags: Frame.tcpACK, payload: data))
        let sent = ipv4(
            Frame.tcp(src: T.container, dst: T.internet, sport: 34567, dport: 443, flags: Frame.tcpACK, payload: data))
        for (what, error, quote) in [
            ("frag-needed", Self.fragNeeded, 548), ("host unreachable, 8 bytes of TCP", Self.hostUnreachable, 28),
        ] {
            let frame = Frame.icmpError(
                src: Self.router, dst: T.hostIP, type: error.type, code: error.code, rest: 1280, quoting: segment,
                quote: quote)
            try assertRewritten(
                try f.up(frame),
                to: Frame.icmpError(
                    src: Self.router, dst: T.container, type: error.type, code: error.code,
                    rest: 1280, quoting: sent, quote: quote), what)
        }

        let datagram = ipv4(Frame.udp(src: T.hostIP, dst: T.internet, sport: 61001, dport: 53))
        let query = ipv4(Frame.udp(src: T.container, dst: T.internet, sport: 45678, dport: 53))
        let u = Self.portUnreachable
        try assertRewritten(
            try f.up(
                Frame.icmpError(
                    src: T.internet, dst: T.hostIP, type: u.type, code: u.code, quoting: datagram, quote: 60)),
            to: Frame.icmpError(
                src: T.internet, dst: T.container, type: u.type, code: u.code, quoting: query, quote: 60),
            "port unreachable about UDP")

        let ping = ipv4(Frame.icmpEcho(src: T.hostIP, dst: T.internet, id: 0x4321))
        let pinged = ipv4(Frame.icmpEcho(src: T.container, dst: T.internet, id: 0x1234))
        let x = Self.timeExceeded
        try assertRewritten(
            try f.up(
                Frame.icmpError(src: Self.router, dst: T.hostIP, type: x.type, code: x.code, quoting: ping, quote: 36)),
            to: Frame.icmpError(
                src: Self.router, dst: T.container, type: x.type, code: x.code, quoting: pinged, quote: 36),
            "time exceeded about a ping")

        // Left to the host: an error about a flow nobody has, or sent to another address than the one it quotes.
        let unknown = ipv4(Frame.udp(src: T.hostIP, dst: T.internet, sport: 61009, dport: 53))
        for frame in [
            Frame.icmpError(src: T.internet, dst: T.hostIP, type: u.type, code: u.code, quoting: unknown),
            Frame.icmpError(src: T.internet, dst: T.hostIP2, type: u.type, code: u.code, quoting: datagram),
        ] {
            assertUntouched(try f.up(frame), frame, "not about a flow of this host address")
        }
        XCTAssertTrue(try f.drops().isEmpty)
    }

    /// A published flow's reply that a router refuses: the error reaches the container quoting
    /// the reply as the container sent it (container address and port).
    func testErrorsFromOutsideAboutAPublishedFlowsReplyReachTheContainer() throws {
        let f = try DataplaneFixture.make(for: self)
        try f.seedPublishedFlow(
            client: T.client, clientPort: 40000, host: T.hostIP, hostPort: 5000, container: T.container,
            containerPort: 80, proto: T.tcp)
        let data = Array(repeating: UInt8(0x62), count: 1400)
        let reply = ipv4(
            Frame.tcp(src: T.hostIP, dst: T.client, sport: 5000, dport: 40000, flags: Frame.tcpACK, payload: data))
        let sent = ipv4(
            Frame.tcp(src: T.container, dst: T.client, sport: 80, dport: 40000, flags: Frame.tcpACK, payload: data))
        let e = Self.fragNeeded
        try assertRewritten(
            try f.up(
                Frame.icmpError(
                    src: Self.router, dst: T.hostIP, type: e.type, code: e.code, rest: 1280, quoting: reply, quote: 100)
            ),
            to: Frame.icmpError(
                src: Self.router, dst: T.container, type: e.type, code: e.code, rest: 1280, quoting: sent, quote: 100),
            "frag-needed about a published flow's reply")
    }

    // MARK: errors from containers (endpoint)

    /// A container's port unreachable (or frag-needed, as a router would send it) about a
    /// published flow's packet leaves with the host's address, quoting the packet as the
    /// client sent it; about a masqueraded flow's reply, as the remote sent it. In a
    /// masquerading network an error about no flow is dropped rather than sent out with the
    /// container's address.
    func testErrorsAContainerSendsLeaveTranslated() throws {
        let f = try DataplaneFixture.make(for: self)
        try f.setEndpoint(flags: [BP_EP_F_ENFORCE_SOURCE, BP_EP_F_ISOLATED, BP_EP_F_MASQUERADE])
        try f.seedPublishedFlow(
            client: T.client, clientPort: 40001, host: T.hostIP, hostPort: 5353, container: T.container,
            containerPort: 53, proto: T.udp)
        try f.seedPublishedFlow(
            client: T.client, clientPort: 40000, host: T.hostIP, hostPort: 5000, container: T.container,
            containerPort: 80, proto: T.tcp)
        try seedMasquerade(f, 45678, to: T.internet, 53, hostPort: 61001, proto: T.udp)
        let u = Self.portUnreachable
        let e = Self.fragNeeded

        let received = ipv4(Frame.udp(src: T.client, dst: T.container, sport: 40001, dport: 53))
        let asSent = ipv4(Frame.udp(src: T.client, dst: T.hostIP, sport: 40001, dport: 5353))
        try assertRewritten(
            try f.ep(
                Frame.icmpError(
                    src: T.container, dst: T.client, type: u.type, code: u.code, quoting: received, quote: 60,
                    srcMAC: Self.mac)),
            to: Frame.icmpError(
                src: T.hostIP, dst: T.client, type: u.type, code: u.code, quoting: asSent, quote: 60, srcMAC: Self.mac),
            "port unreachable about a published UDP flow")

        let data = Array(repeating: UInt8(0x63), count: 1400)
        let segment = ipv4(
            Frame.tcp(src: T.client, dst: T.container, sport: 40000, dport: 80, flags: Frame.tcpACK, payload: data))
        let segmentSent = ipv4(
            Frame.tcp(src: T.client, dst: T.hostIP, sport: 40000, dport: 5000, flags: Frame.tcpACK, payload: data))
        try assertRewritten(
            try f.ep(
                Frame.icmpError(
                    src: T.container, dst: T.client, type: e.type, code: e.code, rest: 1400, quoting: segment,
                    quote: 576 - 28, srcMAC: Self.mac)),
            to: Frame.icmpError(
                src: T.hostIP, dst: T.client, type: e.type, code: e.code, rest: 1400, quoting: segmentSent,
                quote: 576 - 28, srcMAC: Self.mac),
            "frag-needed about a published TCP flow")

        let answer = ipv4(Frame.udp(src: T.internet, dst: T.container, sport: 53, dport: 45678))
        let answerSent = ipv4(Frame.udp(src: T.internet, dst: T.hostIP, sport: 53, dport: 61001))
        try assertRewritten(
            try f.ep(
                Frame.icmpError(
                    src: T.container, dst: T.internet, type: u.type, code: u.code, quoting: answer, srcMAC: Self.mac)),
            to: Frame.icmpError(
                src: T.hostIP, dst: T.internet, type: u.type, code: u.code, quoting: answerSent, srcMAC: Self.mac),
            "port unreachable about a masqueraded flow's reply")

        let stray = Frame.icmpError(
            src: T.container, dst: T.internet, type: u.type, code: u.code,
            quoting: ipv4(Frame.udp(src: T.internet, dst: T.container, sport: 53, dport: 45679)), srcMAC: Self.mac)
        assertShot(try f.ep(stray), stray, "an error about no flow, to beyond the host")
        // About a real flow, but to someone else than the quoted packet's sender: an error
        // goes back where the packet it quotes came from (as conntrack checks), never on.
        let elsewhere = Frame.icmpError(
            src: T.container, dst: T.client, type: u.type, code: u.code, quoting: answer, srcMAC: Self.mac)
        assertShot(try f.ep(elsewhere), elsewhere, "an error about a masqueraded flow, to a third party")
        XCTAssertEqual(try dropCount(f, BP_DROP_UNTRANSLATABLE), 2)
        let local = Frame.icmpError(
            src: T.container, dst: T.neighbour, type: u.type, code: u.code,
            quoting: ipv4(Frame.udp(src: T.neighbour, dst: T.container, sport: 53, dport: 45679)), srcMAC: Self.mac)
        assertUntouched(try f.ep(local), local, "an error to a neighbour")
    }

    // MARK: the route out, before the rewrite

    /// A packet of a translated flow too big for the route out: with DF it goes to the kernel
    /// as the container sent it (the kernel answers frag-needed and drops it), never rewritten
    /// first (from a host address on a bridge, the kernel would drop it as a martian);
    /// without DF it is dropped, counted (frag_needed). A destination the routing table
    /// refuses goes to the kernel untranslated too.
    func testTheRouteOutIsAskedBeforeTheRewrite() throws {
        let f = try DataplaneFixture.make(for: self)
        try f.setEndpoint(flags: [BP_EP_F_ENFORCE_SOURCE, BP_EP_F_ISOLATED, BP_EP_F_MASQUERADE])
        try f.inNS("ip", "link", "set", "bpt-up", "mtu", "1280")
        // The next hop known: the route lookup gives the interface's MTU (not before).
        try f.inNS(
            "ip", "neigh", "replace", "198.51.100.254", "lladdr", "02:00:5e:00:53:fe", "dev", "bpt-up", "nud",
            "permanent")
        try seedMasquerade(f, 34567, to: T.internet, 443, hostPort: 61000, proto: T.tcp)
        try f.seedPublishedFlow(
            client: T.client, clientPort: 40000, host: T.hostIP, hostPort: 5000, container: T.container,
            containerPort: 80, proto: T.tcp)
        let big = Array(repeating: UInt8(0x64), count: 1300)

        for frame in [
            Frame.tcp(
                src: T.container, dst: T.internet, sport: 34567, dport: 443, flags: Frame.tcpACK, payload: big,
                srcMAC: Self.mac),
            Frame.tcp(
                src: T.container, dst: T.client, sport: 80, dport: 40000, flags: Frame.tcpACK, payload: big,
                srcMAC: Self.mac),
            Frame.tcp(
                src: T.container, dst: T.internet, sport: 34568, dport: 443, flags: Frame.tcpSYN, payload: big,
                srcMAC: Self.mac),
        ] {
            assertUntouched(try f.ep(frame), frame, "too big with DF: \(try ParsedIPv4(frame))")
        }
        XCTAssertNil(
            try f.flow(key(T.container, 34568, T.internet, 443, T.tcp)), "no flow for a first packet that did not leave"
        )
        let fragmentable = Frame.udp(
            src: T.container, dst: T.internet, sport: 45678, dport: 53, payload: big, fragment: 0, srcMAC: Self.mac)
        assertShot(try f.ep(fragmentable), fragmentable, "too big without DF")
        XCTAssertEqual(try dropCount(f, BP_DROP_FRAG_NEEDED), 1)
        let fits = Frame.tcp(
            src: T.container, dst: T.internet, sport: 34567, dport: 443, flags: Frame.tcpACK,
            payload: Array(big.prefix(1280 - 40)), srcMAC: Self.mac)
        XCTAssertEqual(try f.ep(fits).verdict, T.redirect, "exactly the route's MTU")

        try f.inNS("ip", "route", "add", "unreachable", "203.0.113.0/24")
        let reply = Frame.tcp(
            src: T.container, dst: T.client, sport: 80, dport: 40000, flags: Frame.tcpACK, srcMAC: Self.mac)
        assertUntouched(
            try f.ep(reply), reply, "no route to the client: to the kernel as sent (it answers unreachable)")
    }

    // MARK: protocols without ports

    /// SCTP, L2TP and other protocols without ports from a container leave masqueraded, by
    /// address alone, and their replies come back; an error about such a flow reaches the
    /// container. Before, they left with the container's own address. Tunnels and IPsec
    /// (IPIP, IPv6 in IPv4, GRE, ESP, AH) are dropped instead: a container's flow would take
    /// the host's own tunnel to the same peer.
    func testMasqueradeCoversProtocolsWithoutPorts() throws {
        let f = try DataplaneFixture.make(for: self)
        try f.setEndpoint(flags: [BP_EP_F_ENFORCE_SOURCE, BP_EP_F_ISOLATED, BP_EP_F_MASQUERADE])
        let body: [UInt8] = [0x00, 0x00, 0x08, 0x00] + Array(repeating: 0x65, count: 28)
        for proto: UInt8 in [132, 115] {
            let out = Frame.ipPacket(src: T.container, dst: T.internet, proto: proto, payload: body, srcMAC: Self.mac)
            try assertRewritten(
                try f.ep(out),
                to: Frame.ipPacket(src: T.hostIP, dst: T.internet, proto: proto, payload: body, srcMAC: Self.mac),
                "protocol \(proto) out")
            let entry = try XCTUnwrap(
                f.flow(key(T.container, 0, T.internet, 0, proto)), "protocol \(proto): a flow by addresses")
            XCTAssertEqual(
                [entry.nat_ip, UInt32(entry.nat_port), UInt32(entry.kind)],
                [be32(T.hostIP), 0, BP_FLOW_MASQUERADE.rawValue])
            try assertRewritten(
                try f.up(Frame.ipPacket(src: T.internet, dst: T.hostIP, proto: proto, payload: body)),
                to: Frame.ipPacket(src: T.internet, dst: T.container, proto: proto, payload: body),
                "protocol \(proto) back")
        }
        let u = Self.hostUnreachable
        let sctp = ipv4(Frame.ipPacket(src: T.hostIP, dst: T.internet, proto: 132, payload: body))
        try assertRewritten(
            try f.up(Frame.icmpError(src: Self.router, dst: T.hostIP, type: u.type, code: u.code, quoting: sctp)),
            to: Frame.icmpError(
                src: Self.router, dst: T.container, type: u.type, code: u.code,
                quoting: ipv4(Frame.ipPacket(src: T.container, dst: T.internet, proto: 132, payload: body))),
            "an error about an SCTP flow")
        let toNeighbour = Frame.ipPacket(src: T.container, dst: T.neighbour, proto: 47, payload: body, srcMAC: Self.mac)
        assertUntouched(try f.ep(toNeighbour), toNeighbour, "GRE to a neighbour stays as it is")
        XCTAssertTrue(try f.drops().isEmpty)

        for proto: UInt8 in [4, 41, 47, 50, 51] {
            let tunnel = Frame.ipPacket(
                src: T.container, dst: T.internet, proto: proto, payload: body, srcMAC: Self.mac)
            assertShot(try f.ep(tunnel), tunnel, "protocol \(proto) beyond the host")
            let hosts = Frame.ipPacket(src: T.internet, dst: T.hostIP, proto: proto, payload: body)
            assertUntouched(try f.up(hosts), hosts, "the peer's protocol \(proto) stays the host's")
        }
        XCTAssertEqual(
            try f.drops(),
            [bp_drop_key(ifindex: f.endpointIfindex, reason: BP_DROP_UNTRANSLATABLE, direction: BP_DIR_EGRESS): 5])
    }
}
