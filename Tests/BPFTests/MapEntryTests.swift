import BPF
import CBPF
import Model
import XCTest

/// The encoders of the maps the agent writes: byte order, flags and LPM prefix lengths as
/// bridgeport.h defines them, and every value back unchanged after a round trip.
final class MapEntryTests: XCTestCase {
    let host = IPv4Address(198, 18, 0, 1)
    let container = IPv4Address(10, 0, 0, 2)

    func testPortKeyIsInNetworkByteOrder() {
        let key = HostPort(.udp, host, 5000).raw
        XCTAssertEqual(key.host_ip, UInt32(198) | UInt32(18) << 8 | UInt32(0) << 16 | UInt32(1) << 24)
        XCTAssertEqual(key.host_port, UInt16(5000).bigEndian)
        XCTAssertEqual(key.proto, UInt8(BP_PROTO_UDP.rawValue))
        XCTAssertEqual(HostPort(raw: key), HostPort(.udp, host, 5000))
    }

    func testPortEntryFlagsAndSlot() {
        let target = PortTarget(ip: container, port: 80, ifindex: 7, restricted: true, directOnly: true)
        let entry = PortEntry(target: target, statsSlot: 9)
        XCTAssertEqual(entry.raw.flags, UInt16(BP_PORT_F_RESTRICTED.rawValue | BP_PORT_F_DIRECT_ONLY.rawValue))
        XCTAssertEqual(entry.raw.stats_slot, 9)
        XCTAssertEqual(PortEntry(raw: entry.raw), entry)
        XCTAssertGreaterThan(MemoryLayout<PortEntry>.size, 32, "returned through memory (see PortEntry)")
    }

    func testAllowKeyPrefixCoversThePortThenTheSource() throws {
        let source = IPv4Network(containing: IPv4Address(10, 1, 0, 0), prefixLength: 16)
        let key = AllowKey(port: HostPort(.tcp, .any, 8080), source: source)
        XCTAssertEqual(key.raw.prefixlen, UInt32(BP_ALLOW_KEY_FIXED_BITS) + 16)
        XCTAssertEqual(AllowKey(raw: key.raw), key)
    }

    /// bp_ports6 and its twins: 16-byte addresses as on the wire, IPv4's flags, the allow
    /// key's prefix after BP_ALLOW6_KEY_FIXED_BITS, and every value back after a round trip.
    func testIPv6PortEncodings() throws {
        let host = try XCTUnwrap(IPv6Address("2001:db8::1"))
        let container = try XCTUnwrap(IPv6Address("fd00:66::2"))
        let port = HostPort(.udp, .v6(host), 5000)
        let key = IPv6Encoding.key(port)
        XCTAssertEqual(withUnsafeBytes(of: key.host_ip) { Array($0) }, host.bytes)
        XCTAssertEqual(key.host_port, UInt16(5000).bigEndian)
        XCTAssertEqual(key.proto, UInt8(BP_PROTO_UDP.rawValue))
        XCTAssertEqual(IPv6Encoding.port(key), port)

        let target = PortTarget(ip: .v6(container), port: 80, ifindex: 7, restricted: true, directOnly: false)
        let raw = IPv6Encoding.entry(PortEntry(target: target, statsSlot: 3))
        XCTAssertEqual(withUnsafeBytes(of: raw.ip) { Array($0) }, container.bytes)
        XCTAssertEqual(raw.flags, UInt16(BP_PORT_F_RESTRICTED.rawValue))
        XCTAssertEqual(raw.port, UInt16(80).bigEndian)
        XCTAssertEqual(raw.stats_slot, 3)
        XCTAssertEqual(IPv6Encoding.entry(raw), PortEntry(target: target, statsSlot: 3))

        let source = IPNetwork.v6(IPv6Network(containing: try XCTUnwrap(IPv6Address("2001:db8:5::")), prefixLength: 48))
        let allow = AllowKey(port: HostPort(.tcp, .v6(.any), 8080), source: source)
        XCTAssertEqual(IPv6Encoding.allow(allow).prefixlen, UInt32(BP_ALLOW6_KEY_FIXED_BITS) + 48)
        XCTAssertEqual(IPv6Encoding.allow(IPv6Encoding.allow(allow)), allow)

        let targetKey = TargetKey(ip: .v6(container), port: 80, proto: FlowProtocol.tcp)
        XCTAssertEqual(IPv6Encoding.targetKey(IPv6Encoding.targetKey(targetKey)), targetKey)
        let policy = TargetPolicy(restricted: true, hostIP: .v6(host), hostPort: 8080)
        XCTAssertEqual(IPv6Encoding.policy(policy).host_port, UInt16(8080).bigEndian)
        XCTAssertEqual(IPv6Encoding.policy(IPv6Encoding.policy(policy)), policy)
    }

    func testPolicies() {
        let endpoint = EndpointPolicy(
            ip: container, mac: MACAddress(derivedFrom: container), network: 3,
            flags: [.enforceSource, .isolated, .trackOutbound])
        XCTAssertEqual(
            endpoint.raw.flags, BP_EP_F_ENFORCE_SOURCE.rawValue | BP_EP_F_ISOLATED.rawValue | BP_EP_F_TRACK_OUT.rawValue
        )
        XCTAssertEqual(EndpointPolicy(raw: endpoint.raw), endpoint)
        XCTAssertEqual(endpoint.raw.gatewayMACOctets, [0, 0, 0, 0, 0, 0], "none: all zero")
        var bridged = endpoint
        bridged.gatewayMAC = MACAddress(derivedFrom: IPv4Address(172, 18, 0, 1))
        XCTAssertEqual(bridged.raw.gatewayMACOctets, [0x02, 0x42, 172, 18, 0, 1])
        XCTAssertEqual(EndpointPolicy(raw: bridged.raw), bridged)
        XCTAssertNotEqual(bridged.raw, endpoint.raw)
        let subnet = SubnetPolicy(network: 3, flags: [.routed, .masquerade])
        XCTAssertEqual(SubnetPolicy(raw: subnet.raw), subnet)
        let network = IPv4Network(containing: IPv4Address(172, 18, 0, 0), prefixLength: 16)
        XCTAssertEqual(IPv4Network(raw: network.raw), network)
        let target = TargetPolicy(restricted: true, hostIP: host, hostPort: 8080)
        XCTAssertEqual(TargetPolicy(raw: target.raw), target)
    }

    /// An endpoint's own subnet: its mask in network byte order beside its entry of
    /// bp_subnets, back unchanged; judged alike only while no other subnet lies inside it.
    func testTheOwnSubnet() {
        let subnet = IPv4Network(containing: IPv4Address(10, 0, 0, 0), prefixLength: 20)
        let policy = SubnetPolicy(network: 3, flags: [.masquerade])
        var endpoint = EndpointPolicy(
            ip: container, mac: MACAddress(derivedFrom: container), network: 3, flags: [.enforceSource],
            ownSubnet: EndpointPolicy.OwnSubnet(subnet, policy))
        XCTAssertEqual(withUnsafeBytes(of: endpoint.raw.subnet_mask) { Array($0) }, [255, 255, 240, 0])
        XCTAssertEqual(SubnetPolicy(raw: endpoint.raw.subnet), policy)
        XCTAssertEqual(EndpointPolicy(raw: endpoint.raw), endpoint)
        endpoint.ownSubnet = nil
        XCTAssertEqual(endpoint.raw.subnet_mask, 0)
        XCTAssertEqual(EndpointPolicy(raw: endpoint.raw), endpoint)

        let inside = IPv4Network(containing: IPv4Address(10, 0, 4, 0), prefixLength: 24)
        let around = IPv4Network(containing: IPv4Address(10, 0, 0, 0), prefixLength: 8)
        let beside = IPv4Network(containing: IPv4Address(10, 0, 16, 0), prefixLength: 20)
        let other = SubnetPolicy(network: 4, flags: [])
        typealias Own = EndpointPolicy.OwnSubnet
        XCTAssertEqual(Own.judgedAlike(subnet, in: [subnet: policy]), Own(subnet, policy))
        XCTAssertEqual(
            Own.judgedAlike(subnet, in: [subnet: policy, beside: other, around: other]), Own(subnet, policy))
        XCTAssertNil(Own.judgedAlike(subnet, in: [subnet: policy, inside: other]), "the trie answers 4 in it")
        XCTAssertNil(Own.judgedAlike(subnet, in: [beside: other]), "not in the trie")
    }

    func testIPv6EncodingsKeepTheWireOrder() throws {
        let address = try XCTUnwrap(IPv6Address("fd00:40::2"))
        XCTAssertEqual(withUnsafeBytes(of: address.raw) { Array($0) }, address.bytes, "as on the wire")
        XCTAssertEqual(IPv6Address(raw: address.raw), address)
        let network = IPv6Network(containing: address, prefixLength: 64)
        XCTAssertEqual(network.raw.prefixlen, 64)
        XCTAssertEqual(withUnsafeBytes(of: network.raw.ip6) { Array($0) }, network.address.bytes)
        XCTAssertEqual(IPv6Network(raw: network.raw), network)
        let mac = MACAddress(derivedFrom: container)
        let dualStack = EndpointPolicy(ip: container, mac: mac, network: 3, flags: [.enforceSource], ip6: address)
        XCTAssertEqual(dualStack.raw.ipv6Octets, address.bytes)
        XCTAssertEqual(EndpointPolicy(raw: dualStack.raw), dualStack)
        let v4Only = EndpointPolicy(ip: container, mac: mac, network: 3, flags: [.enforceSource, .ipv4Only])
        XCTAssertEqual(v4Only.raw.ipv6Octets, Array(repeating: 0, count: 16), "none: all zero")
        XCTAssertEqual(EndpointPolicy(raw: v4Only.raw), v4Only)
        XCTAssertNotEqual(dualStack.raw, v4Only.raw)
    }

    func testSocketNamespaces() {
        XCTAssertEqual(SocketNamespace(raw: SocketNamespace.host.raw), .host)
        let namespace = SocketNamespace.container(ip: container, ifindex: 9)
        XCTAssertEqual(namespace.raw.kind, UInt8(BP_NETNS_CONTAINER.rawValue))
        XCTAssertEqual(SocketNamespace(raw: namespace.raw), namespace)
        XCTAssertEqual(
            SocketNamespace(raw: SocketNamespace.container(ip: nil, ifindex: 0).raw), .container(ip: nil, ifindex: 0))
        XCTAssertEqual(namespace.raw.ip6.0 | namespace.raw.ip6.3, 0, "no IPv6 address: all zero")
        let dualStack = SocketNamespace.container(
            ip: container, ip6: IPv6Address(bytes: ip6("fd00:40::2")), ifindex: 9,
            dns: DNSServerPorts(udp: 5300, tcp: 5301))
        XCTAssertEqual(withUnsafeBytes(of: dualStack.raw.ip6) { Array($0) }, ip6("fd00:40::2"), "as on the wire")
        XCTAssertEqual(SocketNamespace(raw: dualStack.raw), dualStack)
    }
}
