import BPF
import CBPF
import Glibc
import Model
import XCTest

/// The dataplane under test, shared by NATAndPolicyTests and ProgramCostBenchmarks:
/// uplink.bpf.o and endpoint.bpf.o loaded with one pin root (so they share their maps),
/// in one private network namespace (addresses: NATAndPolicyTests' statics):
///
///   bpt-up  (198.51.100.1/24, default via 198.51.100.254) <-veth-> bpt-upp   "the uplink"
///   bpt-ep  (10.40.0.1/24, the gateway of network 1)     <-veth-> bpt-epp   "a container's host-side veth"
///
/// with IPv4 forwarding on. Namespace and bpffs are removed at the test's teardown. Every
/// run's skb carries a CHECKSUM_COMPLETE sum, as from a NIC, which the kernel checks after
/// the run: every rewrite must keep skb->csum right.
struct DataplaneFixture {
    let ns: String
    let pinRoot: String
    let maps: BridgeportMaps
    let uplink: BPFProgram
    let uplinkL3: BPFProgram
    let endpoint: BPFProgram
    let endpointEgress: BPFProgram
    let tunnel: BPFProgram
    let uplinkIfindex: UInt32
    let endpointIfindex: UInt32

    /// bp_up_ingress on a frame arriving on bpt-up.
    func up(
        _ frame: [UInt8], ingress: Bool = true, file: StaticString = #filePath, line: UInt = #line
    ) throws -> TestRunResult {
        try run(
            uplink, frame, ifindex: uplinkIfindex, ingressIfindex: ingress ? uplinkIfindex : 0, file: file, line: line)
    }

    /// bp_up_ingress_l3 on a packet arriving on bpt-up as if it were a device without an
    /// Ethernet header (tun, WireGuard). BPF_PROG_TEST_RUN takes the packet's first 14 bytes
    /// for an Ethernet header all the same and sets skb->protocol from bytes 12-13: the
    /// source address's first two, so a source of 8.0.x.x reads as IPv4.
    /// (Its skb has no CHECKSUM_COMPLETE sum: the kernel's would start at the IP header's 15th
    /// byte, which the test run takes for the Ethernet header's end.)
    func upL3(_ packet: [UInt8], file: StaticString = #filePath, line: UInt = #line) throws -> TestRunResult {
        try run(
            uplinkL3, packet, ifindex: uplinkIfindex, ingressIfindex: uplinkIfindex, checksumComplete: false,
            file: file, line: line)
    }

    /// bp_ep_ingress on a frame the container sends (tc ingress of bpt-ep).
    func ep(
        _ frame: [UInt8], ingress: Bool = true, file: StaticString = #filePath, line: UInt = #line
    ) throws -> TestRunResult {
        try run(
            endpoint, frame, ifindex: endpointIfindex, ingressIfindex: ingress ? endpointIfindex : 0, file: file,
            line: line)
    }

    /// bp_tunnel_ingress on a frame arriving on the device `ifindex` (an overlay's VXLAN device).
    func tunnelIn(
        _ frame: [UInt8], ifindex: UInt32, file: StaticString = #filePath, line: UInt = #line
    ) throws -> TestRunResult {
        try run(tunnel, frame, ifindex: ifindex, ingressIfindex: ifindex, file: file, line: line)
    }

    /// How the test runs' packets stand with their checksums: CHECKSUM_COMPLETE, as a NIC's
    /// that sums what it receives (the kernel then fails a run that leaves skb->csum wrong),
    /// or with BRIDGEPORT_TEST_CHECKSUM=none CHECKSUM_NONE, whose L4 checksums the programs
    /// compute themselves, as for the CHECKSUM_UNNECESSARY most NICs give (a test run cannot
    /// make that one). `make test` runs the translation tests both ways.
    static let checksumComplete = getenv("BRIDGEPORT_TEST_CHECKSUM").map { String(cString: $0) } != "none"

    /// The one place the tests run a program on a packet. Every run is also checked for its
    /// drop accounting: a drop verdict counted exactly one drop under a reason, any other
    /// verdict none (the programs' one exit for drops, bpf/lib/metrics.h).
    private func run(
        _ program: BPFProgram, _ packet: [UInt8], ifindex: UInt32, ingressIfindex: UInt32,
        checksumComplete: Bool = Self.checksumComplete, file: StaticString, line: UInt
    ) throws -> TestRunResult {
        let before = try drops()
        let result = try Sandbox.inNetns(ns) {
            try program.run(
                packet, ifindex: ifindex, ingressIfindex: ingressIfindex, checksumComplete: checksumComplete)
        }
        if let error = Self.dropAccountingError(verdict: result.verdict, before: before, after: try drops()) {
            XCTFail("\(program.name): \(error)", file: file, line: line)
        }
        return result
    }

    /// Why the drop counters `before` and `after` a run with `verdict` break the rule above, or nil.
    static func dropAccountingError(
        verdict: Int32, before: [bp_drop_key: UInt64], after: [bp_drop_key: UInt64]
    ) -> String? {
        let counted = after.compactMap { key, count -> (key: bp_drop_key, count: UInt64)? in
            let added = count &- before[key, default: 0]
            return added == 0 ? nil : (key, added)
        }
        let described = counted.map { "\(Self.label($0.key)) on \($0.key.ifindex) +\($0.count)" }
            .sorted().joined(separator: ", ")
        guard verdict == NATAndPolicyTests.shot else {
            return counted.isEmpty ? nil : "verdict \(verdict) (no drop), but drops were counted: \(described)"
        }
        guard counted.count == 1, let drop = counted.first, drop.count == 1 else {
            return "a drop verdict that counted \(counted.isEmpty ? "no drop" : described), not exactly one drop"
        }
        let reasons = UInt8(BP_DROP_UNSPEC.rawValue + 1)..<UInt8(__BP_DROP_MAX.rawValue)
        let directions = UInt8(BP_DIR_UNSPEC.rawValue + 1)..<UInt8(__BP_DIR_MAX.rawValue)
        if !reasons.contains(drop.key.reason) || !directions.contains(drop.key.direction) {
            return
                "a drop counted without a reason and direction: reason \(drop.key.reason), direction \(drop.key.direction)"
        }
        return nil
    }

    /// "reason/direction", as the metrics label them.
    static func label(_ key: bp_drop_key) -> String {
        String(cString: bp_drop_reason_label(UInt32(key.reason))) + "/"
            + String(cString: bp_direction_label(UInt32(key.direction)))
    }

    // The map entries below go through the agent's own encoders (BPF/MapEntries.swift), so
    // what these tests check is what the agent writes.

    private static func address(_ octets: [UInt8]?) -> IPv4Address {
        octets.map { IPv4Address($0[0], $0[1], $0[2], $0[3]) } ?? .any
    }

    private static func hostPort(_ host: [UInt8]?, _ port: UInt16, _ proto: UInt8) -> HostPort {
        precondition(
            proto == UInt8(BP_PROTO_TCP.rawValue) || proto == UInt8(BP_PROTO_UDP.rawValue), "ports are TCP or UDP")
        return HostPort(PortProtocol(number: proto), address(host), port)
    }

    /// A published port, as the agent writes it (a restricted one's target names its allow list).
    func publish(
        host: [UInt8]?, _ hostPort: UInt16, proto: UInt8, to target: [UInt8], _ port: UInt16, restricted: Bool = false
    ) throws {
        let published = Self.hostPort(host, hostPort, proto)
        let container = Self.address(target)
        try maps.publishedPorts(published.ip.family).update(
            published,
            PortTarget(
                ip: container, port: port, ifindex: endpointIfindex,
                restricted: restricted, directOnly: false))
        try maps.publishedTargets.update(
            TargetKey(ip: container, port: port, proto: proto),
            TargetPolicy(restricted: restricted, hostIP: published.ip, hostPort: hostPort))
    }

    /// Lets sources of `network`/`prefix` use a restricted published port.
    func allow(host: [UInt8]?, _ hostPort: UInt16, proto: UInt8, from network: [UInt8], _ prefix: UInt32) throws {
        let source = IPv4Network(containing: Self.address(network), prefixLength: Int(prefix))
        try maps.allowedSources.update(AllowKey(port: Self.hostPort(host, hostPort, proto), source: source), 1)
    }

    /// The endpoint under test: 10.40.0.2 in network 1, and `ip6` on a dual-stack network.
    /// The endpoint under test; `ipv4` false: an IPv6-only network's (IPv4 0.0.0.0, as the agent writes it).
    /// `gatewayMAC`: the entry's bridge MAC, as the agent writes it for its own bridges (the
    /// programs then hand packets to the container without a route lookup).
    func setEndpoint(
        flags: [bp_endpoint_flags], networkID: UInt16 = 1, ip6: [UInt8]? = nil, ipv4: Bool = true,
        gatewayMAC: [UInt8]? = nil, mtu: UInt16 = 1500, ownSubnet: EndpointPolicy.OwnSubnet? = nil
    ) throws {
        let bits = EndpointPolicy.Flags(rawValue: flags.reduce(UInt32(0)) { $0 | $1.rawValue })
        try maps.setEndpoint(
            ifindex:
                endpointIfindex,
            EndpointPolicy(
                ip: Self.address(ipv4 ? NATAndPolicyTests.container : nil),
                mac: MACAddress(bytes: NATAndPolicyTests.containerMAC),
                network: networkID, flags: bits, ip6: ip6.map { IPv6Address(bytes: $0) },
                gatewayMAC: gatewayMAC.map { MACAddress(bytes: $0) }, mtu: mtu, ownSubnet: ownSubnet))
    }

    /// The endpoint's network (10.40.0.0/24, number 1) as the agent gives an endpoint its
    /// own subnet: as make() writes it into bp_subnets.
    static let ownSubnet = EndpointPolicy.OwnSubnet(
        IPv4Network(containing: IPv4Address(10, 40, 0, 0), prefixLength: 24), SubnetPolicy(network: 1, flags: []))

    func setSubnet(_ net: [UInt8], _ prefix: UInt32, networkID: UInt16, flags: UInt16 = 0) throws {
        try maps.subnetPolicies.update(
            IPv4Network(containing: Self.address(net), prefixLength: Int(prefix)),
            SubnetPolicy(network: networkID, flags: SubnetPolicy.Flags(rawValue: flags)))
    }

    func setSubnet6(_ net: [UInt8], _ prefix: Int, networkID: UInt16, flags: UInt16 = 0) throws {
        try maps.subnetPolicies6.update(
            IPv6Network(containing: IPv6Address(bytes: net), prefixLength: prefix),
            SubnetPolicy(network: networkID, flags: SubnetPolicy.Flags(rawValue: flags)))
    }

    /// Every entry of the flow table.
    func flowEntries() throws -> [(key: bp_flow_key, value: bp_flow)] { try maps.flows.map.entries() }

    /// The flow table's entry for this tuple, if any.
    func flow(_ key: bp_flow_key) throws -> bp_flow? { try maps.flows.map.lookup(key) }

    /// Both entries of a published flow, as the uplink program would have made them.
    func seedPublishedFlow(
        client: [UInt8], clientPort: UInt16, host: [UInt8], hostPort: UInt16, container: [UInt8],
        containerPort: UInt16, proto: UInt8, state: bp_flow_state = BP_FLOW_ESTABLISHED
    ) throws {
        let now = FlowTable.now()
        let inbound = bp_flow(
            kind: BP_FLOW_PUBLISHED, state: state, flags: BP_FLOW_F_DNAT.rawValue, natIP: be32(container),
            natPort: be16(containerPort), ifindex: endpointIfindex, created: now, expires: now + 3600)
        let reply = bp_flow(
            kind: BP_FLOW_PUBLISHED, state: state, flags: BP_FLOW_F_SNAT.rawValue | BP_FLOW_F_REPLY.rawValue,
            natIP: be32(host), natPort: be16(hostPort), ifindex: endpointIfindex, created: now, expires: now + 3600)
        try maps.flows.map.update(
            bp_flow_key(
                src: be32(client), dst: be32(host), sport: be16(clientPort), dport: be16(hostPort), proto: proto),
            inbound)
        try maps.flows.map.update(
            bp_flow_key(
                src: be32(container), dst: be32(client), sport: be16(containerPort), dport: be16(clientPort),
                proto: proto), reply)
    }

    /// Sets the flow timeouts the programs use.
    func setTimeouts(_ settings: [String: UInt32]) throws {
        var timeouts = FlowTimeouts()
        for (name, seconds) in settings { XCTAssertTrue(timeouts.set(name, seconds: seconds), name) }
        try maps.flows.setTimeouts(timeouts)
    }

    func drops() throws -> [bp_drop_key: UInt64] { try maps.dropCounts() }

    /// Runs a command inside the fixture's namespace.
    func inNS(_ args: String...) throws { try Sandbox.sh(["nsenter", "--net=/run/netns/\(ns)"] + args) }

    // MARK: making one

    /// BRIDGEPORT_TEST_BPF_DIR=/some/dir runs these tests against endpoint.bpf.o and uplink.bpf.o
    /// built elsewhere (e.g. a patched copy of bpf/), without running make.
    static let objectDir: String? = getenv("BRIDGEPORT_TEST_BPF_DIR").map { String(cString: $0) }
    static var endpointObject: String { objectDir.map { $0 + "/endpoint.bpf.o" } ?? Sandbox.endpointObject }
    static var uplinkObject: String { objectDir.map { $0 + "/uplink.bpf.o" } ?? Sandbox.uplinkObject }

    /// The objects a fixture loads: the normal ones (build/bpf, or BRIDGEPORT_TEST_BPF_DIR's),
    /// or those of `make bpf-counted`, which count every helper call (bpf/lib/helper_count.h).
    enum Objects {
        case normal, counted

        var paths: (endpoint: String, uplink: String) {
            switch self {
            case .normal: (DataplaneFixture.endpointObject, DataplaneFixture.uplinkObject)
            case .counted: (Sandbox.countedObject("endpoint"), Sandbox.countedObject("uplink"))
            }
        }
    }

    /// Builds the two objects from bpf/ (the normal ones unless BRIDGEPORT_TEST_BPF_DIR points elsewhere).
    static func buildObjects(_ objects: Objects = .normal) throws {
        switch objects {
        case .normal where objectDir == nil:
            try Sandbox.buildEndpointObject()
            try Sandbox.buildObject("uplink")
        case .normal: break
        case .counted: for name in ["endpoint", "uplink"] { try Sandbox.buildCountedObject(name) }
        }
    }

    /// A new namespace, bpffs and both objects, torn down with `test`. The host addresses
    /// and the subnets of networks 1 (10.40.0.0/24, fd00:40::/64) and 2 (10.50.0.0/24,
    /// fd00:50::/64) are filled in, IPv6 ones too (IPv6Tests' statics).
    static func make(
        for test: XCTestCase, maxFlows: Int? = nil, objects: Objects = .normal
    ) throws -> DataplaneFixture {
        let pinRoot = try Sandbox.bpffs(test)
        let ns = try Sandbox.netns(test)
        func inNS(_ args: String...) throws { try Sandbox.sh(["nsenter", "--net=/run/netns/\(ns)"] + args) }
        try inNS("ip", "link", "add", "bpt-up", "type", "veth", "peer", "name", "bpt-upp")
        try inNS(
            "ip", "link", "add", "bpt-ep", "address", "02:42:0a:28:00:01", "type", "veth", "peer", "name", "bpt-epp")
        for link in ["bpt-up", "bpt-upp", "bpt-ep", "bpt-epp"] { try inNS("ip", "link", "set", link, "up") }
        try inNS("ip", "addr", "add", "198.51.100.1/24", "dev", "bpt-up")
        try inNS("ip", "addr", "add", "10.40.0.1/24", "dev", "bpt-ep")
        try inNS("ip", "route", "add", "default", "via", "198.51.100.254", "dev", "bpt-up")
        try inNS("sysctl", "-qw", "net.ipv4.ip_forward=1")
        // IPv6 as well, for NAT66: the uplink's address (IPv6Tests.hostIP) and a default route.
        for device in ["all", "bpt-up", "bpt-ep"] {
            try inNS("sysctl", "-qw", "net.ipv6.conf.\(device).disable_ipv6=0")
        }
        try inNS("sysctl", "-qw", "net.ipv6.conf.all.forwarding=1")
        try inNS("ip", "-6", "addr", "add", "2001:db8:1::1/64", "dev", "bpt-up", "nodad")
        try inNS("ip", "-6", "addr", "add", "fd00:40::1/64", "dev", "bpt-ep", "nodad")
        try inNS("ip", "-6", "route", "add", "default", "via", "2001:db8:1::fe", "dev", "bpt-up")
        let (up, epIndex): (UInt32, UInt32) = try Sandbox.inNetns(ns) {
            (if_nametoindex("bpt-up"), if_nametoindex("bpt-ep"))
        }
        XCTAssertGreaterThan(up, 1)
        XCTAssertGreaterThan(epIndex, 1)

        let endpointObject = try BPFObject(path: objects.paths.endpoint, pinRoot: pinRoot)
        let uplinkObject = try BPFObject(path: objects.paths.uplink, pinRoot: pinRoot)
        for object in [endpointObject, uplinkObject] {
            if let maxFlows {
                for table in [BP_MAP_FLOWS, BP_MAP_FLOWS6] { try object.setMaxEntries(table, UInt32(2 * maxFlows)) }
            }
            try object.load()
            try object.fillTailCalls()
        }
        for name in [
            BP_MAP_FLOWS, BP_MAP_FLOWS6, BP_MAP_PORTS, BP_MAP_DROPS, BP_MAP_SUBNETS, BP_MAP_HOST_ADDRS, BP_MAP_SUBNETS6,
            BP_MAP_HOST_ADDRS6,
        ] {
            XCTAssertEqual(
                try endpointObject.map(name).id, try uplinkObject.map(name).id,
                "\(name) not shared through the pin root")
        }
        let maps = try BridgeportMaps(pinRoot: pinRoot)
        let fixture = DataplaneFixture(
            ns: ns, pinRoot: pinRoot, maps: maps,
            uplink: try uplinkObject.program(BP_PROG_UPLINK_INGRESS),
            uplinkL3: try uplinkObject.program(BP_PROG_UPLINK_L3_INGRESS),
            endpoint: try endpointObject.program(BP_PROG_ENDPOINT_INGRESS),
            endpointEgress: try endpointObject.program(BP_PROG_ENDPOINT_EGRESS),
            tunnel: try endpointObject.program(BP_PROG_TUNNEL_INGRESS),
            uplinkIfindex: up, endpointIfindex: epIndex)
        for address in [
            NATAndPolicyTests.hostIP, NATAndPolicyTests.hostIP2, NATAndPolicyTests.localhost,
            NATAndPolicyTests.gateway1, NATAndPolicyTests.gateway2,
        ] {
            try maps.hostAddresses.update(be32(address), 1)
        }
        try fixture.setSubnet(ip("10.40.0.0"), 24, networkID: 1)
        try fixture.setSubnet(ip("10.50.0.0"), 24, networkID: 2)
        for address in [IPv6Tests.hostIP, IPv6Tests.gateway1, IPv6Tests.gateway1LinkLocal, IPv6Tests.gateway2] {
            try maps.hostAddressSet6.update(IPv6Address(bytes: address), 1)
        }
        try fixture.setSubnet6(IPv6Tests.subnet1, 64, networkID: 1)
        try fixture.setSubnet6(IPv6Tests.subnet2, 64, networkID: 2)
        return fixture
    }
}

/// What the programs did to a frame, checked the same way by every test of them.
extension XCTestCase {
    func assertUntouched(
        _ result: TestRunResult, _ frame: [UInt8], _ what: String,
        file: StaticString = #filePath, line: UInt = #line
    ) {
        XCTAssertEqual(result.verdict, NATAndPolicyTests.next, "\(what): verdict", file: file, line: line)
        XCTAssertEqual(result.packet.hex, frame.hex, "\(what): packet changed", file: file, line: line)
    }

    func assertShot(
        _ result: TestRunResult, _ frame: [UInt8], _ what: String,
        file: StaticString = #filePath, line: UInt = #line
    ) {
        XCTAssertEqual(result.verdict, NATAndPolicyTests.shot, "\(what): verdict", file: file, line: line)
        XCTAssertEqual(result.packet.hex, frame.hex, "\(what): a dropped packet was rewritten", file: file, line: line)
    }

    /// The output is exactly `expected` (built from scratch with fresh checksums), and its checksums verify.
    /// `expected` is the frame as built; a translated packet has also passed a hop (TTL - 1).
    func assertRewritten(
        _ result: TestRunResult, to built: [UInt8], verdict: Int32 = NATAndPolicyTests.redirect,
        _ what: String, file: StaticString = #filePath, line: UInt = #line
    ) throws {
        let expected = Frame.afterHop(built)
        XCTAssertEqual(result.verdict, verdict, "\(what): verdict", file: file, line: line)
        let out = try ParsedIPv4(result.packet)
        XCTAssertTrue(out.ipv4ChecksumValid, "\(what): IPv4 checksum invalid in \(out)", file: file, line: line)
        if !(out.proto == NATAndPolicyTests.udp && out.l4Checksum == 0) {
            XCTAssertTrue(out.l4ChecksumValid, "\(what): L4 checksum invalid in \(out)", file: file, line: line)
        }
        XCTAssertEqual(
            result.packet.hex, expected.hex,
            "\(what): \(out) expected \((try? ParsedIPv4(expected)).map { "\($0)" } ?? "?")", file: file, line: line)
    }
}
