import CBPF
import Model

// The model's values as the maps written by user space hold them: the one place on the
// Swift side that knows bridgeport.h's fields, flags and byte order. The agent reads and
// writes these maps through `EncodedMap`s of these types, never through the C structs.

/// A value with a fixed C layout in a map.
public protocol MapEncodable: Sendable {
    // (BitwiseCopyable is asked of Raw by EncodedMap, not here: a C struct's implicit
    // conformance in an associated type's requirement does not cross module boundaries.)
    associatedtype Raw
    init(raw: Raw)
    var raw: Raw { get }
}

/// A map viewed through the Swift types of its keys and values.
public struct EncodedMap<Key: MapEncodable & Hashable, Value: MapEncodable>: Sendable
where Key.Raw: BitwiseCopyable, Value.Raw: BitwiseCopyable {
    public let map: BPFHashMap<Key.Raw, Value.Raw>

    public init(_ map: BPFHashMap<Key.Raw, Value.Raw>) { self.map = map }

    public func lookup(_ key: Key) throws -> Value? { try map.lookup(key.raw).map(Value.init(raw:)) }
    public func update(_ key: Key, _ value: Value) throws { try map.update(key.raw, value.raw) }
    @discardableResult public func delete(_ key: Key) throws -> Bool { try map.delete(key.raw) }
    public func keys() throws -> [Key] { try map.keys().map(Key.init(raw:)) }
    public func entries() throws -> [Key: Value] {
        Dictionary(
            try map.entries().map { (Key(raw: $0.key), Value(raw: $0.value)) }, uniquingKeysWith: { first, _ in first })
    }

    /// Makes the map hold exactly `wanted`, writing only the entries that differ.
    public func sync(_ wanted: [Key: Value]) throws where Value: Equatable {
        let present = try entries()
        for key in present.keys where wanted[key] == nil { try delete(key) }
        for (key, value) in wanted where present[key] != value { try update(key, value) }
    }
}

// MARK: Scalars

extension UInt8: MapEncodable {
    public init(raw: UInt8) { self = raw }
    public var raw: UInt8 { self }
}

extension UInt32: MapEncodable {
    public init(raw: UInt32) { self = raw }
    public var raw: UInt32 { self }
}

extension UInt64: MapEncodable {
    public init(raw: UInt64) { self = raw }
    public var raw: UInt64 { self }
}

/// Addresses are stored in network byte order.
extension IPv4Address: MapEncodable {
    public init(raw: UInt32) { self.init(UInt32(bigEndian: raw)) }
    public var raw: UInt32 { value.bigEndian }
}

/// IPv6 addresses are stored as on the wire (bp_addr6).
extension IPv6Address: MapEncodable {
    public init(raw: bp_addr6) { self.init(bytes: withUnsafeBytes(of: raw.ip6) { Array($0) }) }
    public var raw: bp_addr6 {
        var raw = bp_addr6()
        withUnsafeMutableBytes(of: &raw.ip6) { $0.copyBytes(from: bytes) }
        return raw
    }
}

extension PortProtocol {
    /// enum bp_protocol.
    public var number: UInt8 { UInt8(self == .tcp ? BP_PROTO_TCP.rawValue : BP_PROTO_UDP.rawValue) }
    public init(number: UInt8) { self = number == UInt8(BP_PROTO_UDP.rawValue) ? .udp : .tcp }
}

// MARK: Published ports

/// bp_ports' and bp_port_stats' key.
extension HostPort: MapEncodable {
    public init(raw: bp_port_key) {
        self.init(PortProtocol(number: raw.proto), IPv4Address(raw: raw.host_ip), UInt16(bigEndian: raw.host_port))
    }
    public var raw: bp_port_key { bp_port_key(host_ip: ip.raw, host_port: port.bigEndian, proto: proto.number, pad: 0) }
}

/// Where a published port leads (bp_port_target).
public struct PortTarget: MapEncodable, Equatable {
    public var ip: IPv4Address
    public var port: UInt16
    /// The container's host-side veth.
    public var ifindex: UInt32
    /// Only the sources of its allow list may use it.
    public var restricted: Bool
    /// A routed network's: reached by direct routing only, never at the host port.
    public var directOnly: Bool

    public init(ip: IPv4Address, port: UInt16, ifindex: UInt32, restricted: Bool, directOnly: Bool) {
        (self.ip, self.port, self.ifindex, self.restricted, self.directOnly) = (
            ip, port, ifindex, restricted, directOnly
        )
    }

    public init(raw: bp_port_target) {
        self.init(
            ip: IPv4Address(raw: raw.ip), port: UInt16(bigEndian: raw.port), ifindex: raw.ifindex,
            restricted: raw.flags & UInt16(BP_PORT_F_RESTRICTED.rawValue) != 0,
            directOnly: raw.flags & UInt16(BP_PORT_F_DIRECT_ONLY.rawValue) != 0)
    }

    public var raw: bp_port_target {
        let flags = (restricted ? BP_PORT_F_RESTRICTED.rawValue : 0) | (directOnly ? BP_PORT_F_DIRECT_ONLY.rawValue : 0)
        return bp_port_target(ip: ip.raw, port: port.bigEndian, flags: UInt16(flags), ifindex: ifindex)
    }
}

/// A source network allowed to use a restricted published port (bp_allow, an LPM trie
/// whose fixed part is the port).
public struct AllowKey: MapEncodable, Hashable {
    public var port: HostPort
    public var source: IPv4Network

    public init(port: HostPort, source: IPv4Network) { (self.port, self.source) = (port, source) }

    public init(raw: bp_allow_key) {
        let length = min(32, max(0, Int(raw.prefixlen) - Int(BP_ALLOW_KEY_FIXED_BITS)))
        self.init(
            port: HostPort(PortProtocol(number: raw.proto), IPv4Address(raw: raw.host_ip), UInt16(bigEndian: raw.port)),
            source: IPv4Network(containing: IPv4Address(raw: raw.ip), prefixLength: length))
    }

    public var raw: bp_allow_key {
        bp_allow_key(
            prefixlen: UInt32(BP_ALLOW_KEY_FIXED_BITS) + UInt32(source.prefixLength), proto: port.proto.number, pad: 0,
            port: port.port.bigEndian, host_ip: port.ip.raw, ip: source.address.raw)
    }
}

/// The container side of a published port (bp_targets' key).
public struct TargetKey: MapEncodable, Hashable {
    public var ip: IPv4Address
    public var port: UInt16
    public var proto: UInt8

    public init(ip: IPv4Address, port: UInt16, proto: UInt8) { (self.ip, self.port, self.proto) = (ip, port, proto) }
    public init(raw: bp_target_key) {
        self.init(ip: IPv4Address(raw: raw.ip), port: UInt16(bigEndian: raw.port), proto: raw.proto)
    }
    public var raw: bp_target_key { bp_target_key(ip: ip.raw, port: port.bigEndian, proto: proto, pad: 0) }
}

/// Whether a published target is restricted, and then which port's allow list its
/// hairpin clients are asked about (bp_target; the protocol is the target's).
public struct TargetPolicy: MapEncodable, Equatable {
    public var restricted: Bool
    public var hostIP: IPv4Address
    public var hostPort: UInt16

    public init(restricted: Bool, hostIP: IPv4Address, hostPort: UInt16) {
        (self.restricted, self.hostIP, self.hostPort) = (restricted, hostIP, hostPort)
    }

    public init(raw: bp_target) {
        self.init(
            restricted: raw.flags & UInt16(BP_PORT_F_RESTRICTED.rawValue) != 0, hostIP: IPv4Address(raw: raw.host_ip),
            hostPort: UInt16(bigEndian: raw.host_port))
    }

    public var raw: bp_target {
        bp_target(
            flags: UInt16(restricted ? BP_PORT_F_RESTRICTED.rawValue : 0), host_port: hostPort.bigEndian,
            host_ip: hostIP.raw)
    }
}

// MARK: Endpoints and networks

/// What the endpoint programs enforce for one interface (bp_endpoints' value).
public struct EndpointPolicy: MapEncodable, Equatable {
    public struct Flags: OptionSet, Sendable {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }
        public static let enforceSource = Flags(rawValue: BP_EP_F_ENFORCE_SOURCE.rawValue)
        public static let iccDisabled = Flags(rawValue: BP_EP_F_ICC_DISABLED.rawValue)
        public static let `internal` = Flags(rawValue: BP_EP_F_INTERNAL.rawValue)
        public static let isolated = Flags(rawValue: BP_EP_F_ISOLATED.rawValue)
        public static let masquerade = Flags(rawValue: BP_EP_F_MASQUERADE.rawValue)
        public static let ipv4Only = Flags(rawValue: BP_EP_F_IPV4_ONLY.rawValue)
        public static let trackOutbound = Flags(rawValue: BP_EP_F_TRACK_OUT.rawValue)
        public static let masquerade6 = Flags(rawValue: BP_EP_F_MASQUERADE6.rawValue)
        public static let trackOutbound6 = Flags(rawValue: BP_EP_F_TRACK_OUT6.rawValue)
    }

    public var ip: IPv4Address
    public var mac: MACAddress
    /// The network's local number; 0: none.
    public var network: UInt16
    public var flags: Flags
    /// Its IPv6 address on a dual-stack network (without `.ipv4Only`): its IPv6 is then
    /// judged as its IPv4 is. nil: none (another runtime's interface: its IPv6 is not judged).
    public var ip6: IPv6Address?

    public init(ip: IPv4Address, mac: MACAddress, network: UInt16, flags: Flags, ip6: IPv6Address? = nil) {
        (self.ip, self.mac, self.network, self.flags, self.ip6) = (ip, mac, network, flags, ip6)
    }

    public init(raw: bp_endpoint) {
        let ip6 = IPv6Address(bytes: raw.ipv6Octets)
        self.init(
            ip: IPv4Address(raw: raw.ip), mac: MACAddress(bytes: raw.macOctets), network: raw.network_id,
            flags: Flags(rawValue: raw.flags), ip6: ip6.isUnspecified ? nil : ip6)
    }

    public var raw: bp_endpoint {
        bp_endpoint(ipv4: ip.octets, mac: mac.bytes, networkID: network, flags: flags.rawValue, ipv6: ip6?.bytes)
    }
}

/// What isolation and direct routing know of a network's subnet (bp_subnets' value).
public struct SubnetPolicy: MapEncodable, Equatable {
    public struct Flags: OptionSet, Sendable {
        public let rawValue: UInt16
        public init(rawValue: UInt16) { self.rawValue = rawValue }
        public static let routed = Flags(rawValue: UInt16(BP_SUBNET_F_ROUTED.rawValue))
        public static let unprotected = Flags(rawValue: UInt16(BP_SUBNET_F_UNPROTECTED.rawValue))
        public static let `internal` = Flags(rawValue: UInt16(BP_SUBNET_F_INTERNAL.rawValue))
        public static let masquerade = Flags(rawValue: UInt16(BP_SUBNET_F_MASQUERADE.rawValue))
    }

    public var network: UInt16
    public var flags: Flags

    public init(network: UInt16, flags: Flags) { (self.network, self.flags) = (network, flags) }
    public init(raw: bp_subnet) { self.init(network: raw.network_id, flags: Flags(rawValue: raw.flags)) }
    public var raw: bp_subnet { bp_subnet(network_id: network, flags: flags.rawValue) }
}

/// bp_subnets' key (an LPM trie).
extension IPv4Network: MapEncodable {
    public init(raw: bp_subnet_key) {
        self.init(containing: IPv4Address(raw: raw.ip), prefixLength: min(32, Int(raw.prefixlen)))
    }
    public var raw: bp_subnet_key { bp_subnet_key(prefixlen: UInt32(prefixLength), ip: address.raw) }
}

/// bp_subnets6' key (an LPM trie).
extension IPv6Network: MapEncodable {
    public init(raw: bp_subnet6_key) {
        self.init(
            containing: IPv6Address(bytes: withUnsafeBytes(of: raw.ip6) { Array($0) }),
            prefixLength: min(128, Int(raw.prefixlen)))
    }
    public var raw: bp_subnet6_key { bp_subnet6_key(prefixlen: UInt32(prefixLength), ip6: address.raw.ip6) }
}

/// Where the socket hooks act (bp_netns' value): the host's namespace, or a container's
/// with the addresses its allow lists are asked about and the veth refusals count on.
public enum SocketNamespace: MapEncodable, Equatable {
    case host
    /// A container: its addresses (IPv6 on a dual-stack network) and veth, and where its
    /// 127.0.0.11:53 goes (nil: no embedded DNS server there).
    case container(ip: IPv4Address?, ip6: IPv6Address? = nil, ifindex: UInt32, dns: DNSServerPorts? = nil)

    public init(raw: bp_netns) {
        if raw.kind == UInt8(BP_NETNS_HOST.rawValue) {
            self = .host
        } else {
            let dns =
                raw.dns_udp_port == 0 && raw.dns_tcp_port == 0
                ? nil
                : DNSServerPorts(udp: UInt16(bigEndian: raw.dns_udp_port), tcp: UInt16(bigEndian: raw.dns_tcp_port))
            let ip6 = IPv6Address(bytes: withUnsafeBytes(of: raw.ip6) { Array($0) })
            self = .container(
                ip: raw.ip == 0 ? nil : IPv4Address(raw: raw.ip), ip6: ip6.isUnspecified ? nil : ip6,
                ifindex: raw.ifindex, dns: dns)
        }
    }

    public var raw: bp_netns {
        var raw = bp_netns()
        switch self {
        case .host:
            raw.kind = UInt8(BP_NETNS_HOST.rawValue)
        case .container(let ip, let ip6, let ifindex, let dns):
            raw.kind = UInt8(BP_NETNS_CONTAINER.rawValue)
            raw.ip = ip?.raw ?? 0
            raw.ifindex = ifindex
            raw.dns_udp_port = (dns?.udp ?? 0).bigEndian
            raw.dns_tcp_port = (dns?.tcp ?? 0).bigEndian
            if let ip6 { withUnsafeMutableBytes(of: &raw.ip6) { $0.copyBytes(from: ip6.bytes) } }
        }
        return raw
    }
}

/// The ports the agent's embedded DNS server listens on at 127.0.0.11 in a container;
/// the socket hooks send the container's 127.0.0.11:53 there.
public struct DNSServerPorts: Hashable, Sendable {
    public var udp: UInt16
    public var tcp: UInt16

    public init(udp: UInt16, tcp: UInt16) {
        self.udp = udp
        self.tcp = tcp
    }
}

extension BridgeportMaps {
    /// The maps the agent writes, through the model's types.
    public var publishedPorts: EncodedMap<HostPort, PortTarget> { EncodedMap(ports) }
    public var allowedSources: EncodedMap<AllowKey, UInt8> { EncodedMap(allow) }
    public var publishedTargets: EncodedMap<TargetKey, TargetPolicy> { EncodedMap(targets) }
    public var endpointPolicies: EncodedMap<UInt32, EndpointPolicy> { EncodedMap(endpoints) }
    public var subnetPolicies: EncodedMap<IPv4Network, SubnetPolicy> { EncodedMap(subnets) }
    public var subnetPolicies6: EncodedMap<IPv6Network, SubnetPolicy> { EncodedMap(subnets6) }
    public var socketNamespaces: EncodedMap<UInt64, SocketNamespace> { EncodedMap(namespaces) }
    public var hostAddressSet: EncodedMap<IPv4Address, UInt8> { EncodedMap(hostAddresses) }
    public var hostAddressSet6: EncodedMap<IPv6Address, UInt8> { EncodedMap(hostAddresses6) }
    public var vxlanPeerSet: EncodedMap<IPv4Address, UInt8> { EncodedMap(vxlanPeers) }

    /// Traffic through each published port, summed over CPUs.
    public func portTraffic() throws -> [HostPort: bp_port_stats] {
        Dictionary(
            try portStats.sums().map { (HostPort(raw: $0.key), $0.value) }, uniquingKeysWith: { first, _ in first })
    }
}
