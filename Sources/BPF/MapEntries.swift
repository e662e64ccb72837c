import CBPF
import Glibc
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

// Published ports live in a map per family (bp_ports and bp_ports6, and their twins). The
// values below are the model's, of either family; each family's encoding is below them,
// and `FamilyMap` reads and writes one family's map in these terms.

/// A 16-byte address as the IPv6 structs hold it (__u32[4], as on the wire).
typealias Words6 = (UInt32, UInt32, UInt32, UInt32)

extension IPv6Address {
    init(words: Words6) { self.init(bytes: withUnsafeBytes(of: words) { Array($0) }) }
    var words: Words6 {
        var words: Words6 = (0, 0, 0, 0)
        withUnsafeMutableBytes(of: &words) { $0.copyBytes(from: bytes) }
        return words
    }
}

extension IPAddress {
    /// The address of a family's map key: a mapping reaches the maps of its own family only.
    fileprivate var v4: IPv4Address {
        guard case .v4(let address) = self else { preconditionFailure("\(self) in an IPv4 map") }
        return address
    }
    fileprivate var v6: IPv6Address {
        guard case .v6(let address) = self else { preconditionFailure("\(self) in an IPv6 map") }
        return address
    }
}

// (The values holding an IPAddress assign their fields rather than delegate to another
// init: Swift 6.3's debug code loads a delegated init's result, 16-byte aligned for
// IPv6Address's UInt128, from a stack slot it aligned to 8 bytes, and faults.)

/// Where a published port leads (bp_port_target, bp_port6_target): the container's
/// address of the port's family.
public struct PortTarget: Equatable, Sendable {
    public var ip: IPAddress
    public var port: UInt16
    /// The container's host-side veth.
    public var ifindex: UInt32
    /// Only the sources of its allow list may use it.
    public var restricted: Bool
    /// A routed network's: reached by direct routing only, never at the host port.
    public var directOnly: Bool

    public init(ip: IPAddress, port: UInt16, ifindex: UInt32, restricted: Bool, directOnly: Bool) {
        (self.ip, self.port, self.ifindex, self.restricted, self.directOnly) = (
            ip, port, ifindex, restricted, directOnly
        )
    }

    public init(ip: IPv4Address, port: UInt16, ifindex: UInt32, restricted: Bool, directOnly: Bool) {
        (self.ip, self.port, self.ifindex, self.restricted, self.directOnly) = (
            .v4(ip), port, ifindex, restricted, directOnly
        )
    }

    /// enum bp_port_flags.
    var flags: UInt16 {
        UInt16((restricted ? BP_PORT_F_RESTRICTED.rawValue : 0) | (directOnly ? BP_PORT_F_DIRECT_ONLY.rawValue : 0))
    }

    init(ip: IPAddress, port: UInt16, flags: UInt16, ifindex: UInt32) {
        (self.ip, self.port, self.ifindex) = (ip, UInt16(bigEndian: port), ifindex)
        restricted = flags & UInt16(BP_PORT_F_RESTRICTED.rawValue) != 0
        directOnly = flags & UInt16(BP_PORT_F_DIRECT_ONLY.rawValue) != 0
    }
}

/// A published port's entry (bp_ports', bp_ports6' value): where it leads, and the slot of
/// its counters in bp_port_stats (bp_port_stats6), which PublishedPorts gives.
public struct PortEntry: Equatable, Sendable {
    // The slot first: the target then starts 16 bytes in, so that the entry (48 bytes) is
    // returned through memory. Returned in registers (32 bytes, target first), Swift 6.3's
    // debug code stored it to a stack slot it did not align and loaded it aligned: a fault.
    public var statsSlot: UInt32
    public var target: PortTarget

    public init(target: PortTarget, statsSlot: UInt32) {
        self.target = target
        self.statsSlot = statsSlot
    }
}

/// A source network allowed to use a restricted published port (bp_allow, bp_allow6: LPM
/// tries whose fixed part is the port); the source is of the port's family.
public struct AllowKey: Hashable, Sendable {
    public var port: HostPort
    public var source: IPNetwork

    public init(port: HostPort, source: IPNetwork) { (self.port, self.source) = (port, source) }
    public init(port: HostPort, source: IPv4Network) { (self.port, self.source) = (port, .v4(source)) }
}

/// The container side of a published port (bp_targets', bp_targets6' key).
public struct TargetKey: Hashable, Sendable {
    public var ip: IPAddress
    public var port: UInt16
    public var proto: UInt8

    public init(ip: IPAddress, port: UInt16, proto: UInt8) { (self.ip, self.port, self.proto) = (ip, port, proto) }
    public init(ip: IPv4Address, port: UInt16, proto: UInt8) {
        (self.ip, self.port, self.proto) = (.v4(ip), port, proto)
    }
}

/// Whether a published target is restricted, and then which port's allow list its
/// hairpin clients are asked about (bp_target, bp_target6; the protocol is the target's).
public struct TargetPolicy: Equatable, Sendable {
    public var restricted: Bool
    public var hostIP: IPAddress
    public var hostPort: UInt16

    public init(restricted: Bool, hostIP: IPAddress, hostPort: UInt16) {
        (self.restricted, self.hostIP, self.hostPort) = (restricted, hostIP, hostPort)
    }

    public init(restricted: Bool, hostIP: IPv4Address, hostPort: UInt16) {
        (self.restricted, self.hostIP, self.hostPort) = (restricted, .v4(hostIP), hostPort)
    }

    var flags: UInt16 { UInt16(restricted ? BP_PORT_F_RESTRICTED.rawValue : 0) }
    init(flags: UInt16, hostIP: IPAddress, hostPort: UInt16) {
        restricted = flags & UInt16(BP_PORT_F_RESTRICTED.rawValue) != 0
        (self.hostIP, self.hostPort) = (hostIP, UInt16(bigEndian: hostPort))
    }
}

// MARK: IPv4's encodings

/// bp_ports' and bp_port_stats' key.
extension HostPort: MapEncodable {
    public init(raw: bp_port_key) {
        self = HostPort(
            PortProtocol(number: raw.proto), IPv4Address(raw: raw.host_ip), UInt16(bigEndian: raw.host_port))
    }
    public var raw: bp_port_key {
        bp_port_key(host_ip: ip.v4.raw, host_port: port.bigEndian, proto: proto.number, pad: 0)
    }
}

extension PortEntry: MapEncodable {
    public init(raw: bp_port_target) {
        target = PortTarget(ip: .v4(IPv4Address(raw: raw.ip)), port: raw.port, flags: raw.flags, ifindex: raw.ifindex)
        statsSlot = raw.stats_slot
    }
    public var raw: bp_port_target {
        bp_port_target(
            ip: target.ip.v4.raw, port: target.port.bigEndian, flags: target.flags, ifindex: target.ifindex,
            stats_slot: statsSlot)
    }
}

extension AllowKey: MapEncodable {
    public init(raw: bp_allow_key) {
        let length = min(32, max(0, Int(raw.prefixlen) - Int(BP_ALLOW_KEY_FIXED_BITS)))
        port = HostPort(PortProtocol(number: raw.proto), IPv4Address(raw: raw.host_ip), UInt16(bigEndian: raw.port))
        source = .v4(IPv4Network(containing: IPv4Address(raw: raw.ip), prefixLength: length))
    }

    public var raw: bp_allow_key {
        guard case .v4(let source) = source else { preconditionFailure("\(source) in bp_allow") }
        return bp_allow_key(
            prefixlen: UInt32(BP_ALLOW_KEY_FIXED_BITS) + UInt32(source.prefixLength), proto: port.proto.number, pad: 0,
            port: port.port.bigEndian, host_ip: port.ip.v4.raw, ip: source.address.raw)
    }
}

extension TargetKey: MapEncodable {
    public init(raw: bp_target_key) {
        (ip, port, proto) = (.v4(IPv4Address(raw: raw.ip)), UInt16(bigEndian: raw.port), raw.proto)
    }
    public var raw: bp_target_key { bp_target_key(ip: ip.v4.raw, port: port.bigEndian, proto: proto, pad: 0) }
}

extension TargetPolicy: MapEncodable {
    public init(raw: bp_target) {
        self = TargetPolicy(flags: raw.flags, hostIP: .v4(IPv4Address(raw: raw.host_ip)), hostPort: raw.host_port)
    }
    public var raw: bp_target { bp_target(flags: flags, host_port: hostPort.bigEndian, host_ip: hostIP.v4.raw) }
}

// MARK: IPv6's encodings

/// The model's values in the IPv6 maps' structs (bridgeport.h, "Published ports over IPv6").
public enum IPv6Encoding {
    public static func key(_ port: HostPort) -> bp_port6_key {
        bp_port6_key(host_ip: port.ip.v6.words, host_port: port.port.bigEndian, proto: port.proto.number, pad: 0)
    }
    public static func port(_ raw: bp_port6_key) -> HostPort {
        HostPort(
            PortProtocol(number: raw.proto), .v6(IPv6Address(words: raw.host_ip)), UInt16(bigEndian: raw.host_port))
    }

    public static func entry(_ entry: PortEntry) -> bp_port6_target {
        let target = entry.target
        return bp_port6_target(
            ip: target.ip.v6.words, port: target.port.bigEndian, flags: target.flags, ifindex: target.ifindex,
            stats_slot: entry.statsSlot)
    }
    public static func entry(_ raw: bp_port6_target) -> PortEntry {
        PortEntry(
            target: PortTarget(
                ip: .v6(IPv6Address(words: raw.ip)), port: raw.port, flags: raw.flags, ifindex: raw.ifindex),
            statsSlot: raw.stats_slot)
    }

    public static func allow(_ key: AllowKey) -> bp_allow6_key {
        guard case .v6(let source) = key.source else { preconditionFailure("\(key.source) in bp_allow6") }
        return bp_allow6_key(
            prefixlen: UInt32(BP_ALLOW6_KEY_FIXED_BITS) + UInt32(source.prefixLength), proto: key.port.proto.number,
            pad: 0, port: key.port.port.bigEndian, host_ip: key.port.ip.v6.words, ip: source.address.words)
    }
    public static func allow(_ raw: bp_allow6_key) -> AllowKey {
        let length = min(128, max(0, Int(raw.prefixlen) - Int(BP_ALLOW6_KEY_FIXED_BITS)))
        return AllowKey(
            port: HostPort(
                PortProtocol(number: raw.proto), .v6(IPv6Address(words: raw.host_ip)), UInt16(bigEndian: raw.port)),
            source: .v6(IPv6Network(containing: IPv6Address(words: raw.ip), prefixLength: length)))
    }

    public static func targetKey(_ key: TargetKey) -> bp_target6_key {
        bp_target6_key(ip: key.ip.v6.words, port: key.port.bigEndian, proto: key.proto, pad: 0)
    }
    public static func targetKey(_ raw: bp_target6_key) -> TargetKey {
        TargetKey(ip: .v6(IPv6Address(words: raw.ip)), port: UInt16(bigEndian: raw.port), proto: raw.proto)
    }

    public static func policy(_ policy: TargetPolicy) -> bp_target6 {
        bp_target6(flags: policy.flags, host_port: policy.hostPort.bigEndian, host_ip: policy.hostIP.v6.words)
    }
    public static func policy(_ raw: bp_target6) -> TargetPolicy {
        TargetPolicy(flags: raw.flags, hostIP: .v6(IPv6Address(words: raw.host_ip)), hostPort: raw.host_port)
    }
}

/// One family's map in the model's terms: the IPv4 map through the values' MapEncodable
/// conformances, the IPv6 twin through IPv6Encoding.
public struct FamilyMap<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    private let read: @Sendable () throws -> [(Key, Value)]
    private let find: @Sendable (Key) throws -> Value?
    private let write: @Sendable (Key, Value) throws -> Void
    private let create: @Sendable (Key, Value) throws -> Void
    private let remove: @Sendable (Key) throws -> Bool

    init<RawKey: BitwiseCopyable, RawValue: BitwiseCopyable>(
        _ map: BPFHashMap<RawKey, RawValue>, key: @escaping @Sendable (Key) -> RawKey,
        value: @escaping @Sendable (Value) -> RawValue, decodeKey: @escaping @Sendable (RawKey) -> Key,
        decodeValue: @escaping @Sendable (RawValue) -> Value
    ) {
        read = { try map.entries().map { (decodeKey($0.key), decodeValue($0.value)) } }
        find = { try map.lookup(key($0)).map(decodeValue) }
        write = { try map.update(key($0), value($1)) }
        create = { try map.update(key($0), value($1), flags: .noExist) }
        remove = { try map.delete(key($0)) }
    }

    init(_ map: EncodedMap<Key, Value>) where Key: MapEncodable, Value: MapEncodable {
        self.init(map.map, key: \.raw, value: \.raw, decodeKey: Key.init(raw:), decodeValue: Value.init(raw:))
    }

    public func lookup(_ key: Key) throws -> Value? { try find(key) }
    public func update(_ key: Key, _ value: Value) throws { try write(key, value) }
    /// update, of a key that is not there yet (EEXIST if it is).
    public func insert(_ key: Key, _ value: Value) throws { try create(key, value) }
    @discardableResult public func delete(_ key: Key) throws -> Bool { try remove(key) }
    public func keys() throws -> [Key] { try read().map(\.0) }
    public func entries() throws -> [Key: Value] {
        Dictionary(try read(), uniquingKeysWith: { first, _ in first })
    }

    /// Makes the map hold exactly `wanted`, writing only the entries that differ.
    public func sync(_ wanted: [Key: Value]) throws where Value: Equatable {
        let present = try entries()
        for key in present.keys where wanted[key] == nil { try delete(key) }
        for (key, value) in wanted where present[key] != value { try update(key, value) }
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
        public static let passOutbound6 = Flags(rawValue: BP_EP_F_PASS_OUT6.rawValue)
        public static let ipv6Only = Flags(rawValue: BP_EP_F_IPV6_ONLY.rawValue)
        public static let overlay = Flags(rawValue: BP_EP_F_OVERLAY.rawValue)
    }

    /// Its IPv4 address; 0.0.0.0 on an IPv6-only network (with `.ipv6Only`).
    public var ip: IPv4Address
    public var mac: MACAddress
    /// The network's local number; 0: none.
    public var network: UInt16
    public var flags: Flags
    /// Its IPv6 address on a dual-stack network (without `.ipv4Only`): its IPv6 is then
    /// judged as its IPv4 is. nil: none (another runtime's interface: its IPv6 is not judged).
    public var ip6: IPv6Address?
    /// The MAC of the bridge whose address is its gateway: the programs hand packets for it
    /// straight to it with this MAC and its own (no route lookup per packet), when they fit
    /// its interface's `mtu`. nil: another runtime's interface, or a network without a
    /// gateway address (the route decides).
    public var gatewayMAC: MACAddress?
    public var mtu: UInt16
    /// Its network's IPv4 subnet and that subnet's entry of bp_subnets, for a destination
    /// in it judged without the trie lookup. Only while no other entry of bp_subnets lies
    /// inside the subnet (`OwnSubnet.judgedAlike`), where the trie would answer the same.
    /// nil: the trie decides.
    public var ownSubnet: OwnSubnet?

    public struct OwnSubnet: Equatable, Sendable {
        public var subnet: IPv4Network
        public var policy: SubnetPolicy

        public init(_ subnet: IPv4Network, _ policy: SubnetPolicy) { (self.subnet, self.policy) = (subnet, policy) }

        /// Its subnet with its entry, when `subnets` (bp_subnets' content) holds it and no
        /// other subnet lies inside it: then the trie's answer for any address of it is
        /// this entry. A wider subnet around it does not matter (the trie takes the longest
        /// prefix).
        public static func judgedAlike(_ subnet: IPv4Network, in subnets: [IPv4Network: SubnetPolicy]) -> OwnSubnet? {
            guard let policy = subnets[subnet],
                !subnets.keys.contains(where: { $0 != subnet && subnet.contains($0) })
            else { return nil }
            return OwnSubnet(subnet, policy)
        }
    }

    public init(
        ip: IPv4Address, mac: MACAddress, network: UInt16, flags: Flags, ip6: IPv6Address? = nil,
        gatewayMAC: MACAddress? = nil, mtu: UInt16 = 0, ownSubnet: OwnSubnet? = nil
    ) {
        (self.ip, self.mac, self.network, self.flags, self.ip6) = (ip, mac, network, flags, ip6)
        (self.gatewayMAC, self.mtu, self.ownSubnet) = (gatewayMAC, mtu, ownSubnet)
    }

    public init(raw: bp_endpoint) {
        let ip6 = IPv6Address(bytes: raw.ipv6Octets)
        let gatewayMAC = raw.gatewayMACOctets
        let ip = IPv4Address(raw: raw.ip)
        let mask = UInt32(bigEndian: raw.subnet_mask)
        self.init(
            ip: ip, mac: MACAddress(bytes: raw.macOctets), network: raw.network_id,
            flags: Flags(rawValue: raw.flags), ip6: ip6.isUnspecified ? nil : ip6,
            gatewayMAC: gatewayMAC.allSatisfy { $0 == 0 } ? nil : MACAddress(bytes: gatewayMAC), mtu: raw.mtu,
            ownSubnet: mask == 0
                ? nil
                : OwnSubnet(
                    IPv4Network(containing: ip, prefixLength: mask.nonzeroBitCount), SubnetPolicy(raw: raw.subnet)))
    }

    public var raw: bp_endpoint {
        var entry = bp_endpoint(
            ipv4: ip.octets, mac: mac.bytes, networkID: network, flags: flags.rawValue, ipv6: ip6?.bytes,
            gatewayMAC: gatewayMAC?.bytes, mtu: mtu)
        // Only a subnet that holds the endpoint's address: the programs compare with it.
        if let ownSubnet, ownSubnet.subnet.contains(ip) {
            entry.subnet_mask = ownSubnet.subnet.mask.bigEndian
            entry.subnet = ownSubnet.policy.raw
        }
        return entry
    }
}

/// Where frames for an overlay container go without its network's bridge (bp_overlay_dests'
/// value, keyed by its IPv4 address): see bpf/lib/overlay.h.
public struct OverlayDestination: MapEncodable, Equatable, Sendable {
    /// Its network's VXLAN device on this host.
    public var tunnel: UInt32
    /// This host's container: its host-side veth; nil: another host's.
    public var veth: UInt32?
    /// Its network's local number (bp_endpoint.network_id).
    public var network: UInt16

    public init(tunnel: UInt32, veth: UInt32?, network: UInt16) {
        (self.tunnel, self.veth, self.network) = (tunnel, veth, network)
    }

    public init(raw: bp_overlay_dest) {
        self.init(tunnel: raw.tunnel_ifindex, veth: raw.ifindex == 0 ? nil : raw.ifindex, network: raw.network_id)
    }

    public var raw: bp_overlay_dest {
        bp_overlay_dest(tunnel_ifindex: tunnel, ifindex: veth ?? 0, network_id: network, pad: 0)
    }
}

/// What isolation and direct routing know of a network's subnet (bp_subnets' value).
public struct SubnetPolicy: MapEncodable, Equatable, Sendable {
    public struct Flags: OptionSet, Sendable {
        public let rawValue: UInt16
        public init(rawValue: UInt16) { self.rawValue = rawValue }
        public static let routed = Flags(rawValue: UInt16(BP_SUBNET_F_ROUTED.rawValue))
        public static let unprotected = Flags(rawValue: UInt16(BP_SUBNET_F_UNPROTECTED.rawValue))
        public static let `internal` = Flags(rawValue: UInt16(BP_SUBNET_F_INTERNAL.rawValue))
        public static let masquerade = Flags(rawValue: UInt16(BP_SUBNET_F_MASQUERADE.rawValue))
        public static let lan = Flags(rawValue: UInt16(BP_SUBNET_F_LAN.rawValue))
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
    public var allowedSources: EncodedMap<AllowKey, UInt8> { EncodedMap(allow) }
    public var publishedTargets: EncodedMap<TargetKey, TargetPolicy> { EncodedMap(targets) }
    public var subnetPolicies: EncodedMap<IPv4Network, SubnetPolicy> { EncodedMap(subnets) }
    public var subnetPolicies6: EncodedMap<IPv6Network, SubnetPolicy> { EncodedMap(subnets6) }
    public var socketNamespaces: EncodedMap<UInt64, SocketNamespace> { EncodedMap(namespaces) }
    public var hostAddressSet: EncodedMap<IPv4Address, UInt8> { EncodedMap(hostAddresses) }
    public var hostAddressSet6: EncodedMap<IPv6Address, UInt8> { EncodedMap(hostAddresses6) }
    public var vxlanPeerSet: EncodedMap<IPv4Address, UInt8> { EncodedMap(vxlanPeers) }
    public var overlayDestinations: EncodedMap<IPv4Address, OverlayDestination> { EncodedMap(overlayDests) }

    /// A family's published ports (bp_ports, bp_ports6), with their counters.
    public func publishedPorts(_ family: AddressFamily) -> PublishedPorts<HostPort> {
        switch family {
        case .ipv4:
            PublishedPorts(map: FamilyMap(EncodedMap(ports)), stats: portStats, slots: portSlots)
        case .ipv6:
            PublishedPorts(
                map: FamilyMap(
                    ports6, key: IPv6Encoding.key, value: IPv6Encoding.entry, decodeKey: IPv6Encoding.port,
                    decodeValue: IPv6Encoding.entry),
                stats: portStats6, slots: portSlots6)
        }
    }

    /// A family's allow lists (bp_allow, bp_allow6).
    public func allowedSources(_ family: AddressFamily) -> FamilyMap<AllowKey, UInt8> {
        switch family {
        case .ipv4: FamilyMap(allowedSources)
        case .ipv6:
            FamilyMap(
                allow6, key: IPv6Encoding.allow, value: { $0 }, decodeKey: IPv6Encoding.allow, decodeValue: { $0 })
        }
    }

    /// A family's published targets (bp_targets, bp_targets6).
    public func publishedTargets(_ family: AddressFamily) -> FamilyMap<TargetKey, TargetPolicy> {
        switch family {
        case .ipv4: FamilyMap(publishedTargets)
        case .ipv6:
            FamilyMap(
                targets6, key: IPv6Encoding.targetKey, value: IPv6Encoding.policy, decodeKey: IPv6Encoding.targetKey,
                decodeValue: IPv6Encoding.policy)
        }
    }

    /// Traffic through each published port of both families, summed over CPUs.
    public func portTraffic() throws -> [HostPort: bp_port_stats] {
        try publishedPorts(.ipv4).traffic().merging(publishedPorts(.ipv6).traffic(), uniquingKeysWith: { a, _ in a })
    }
}

/// One family's published ports, each with the slot of its counters in the family's array
/// (bp_port_stats, bp_port_stats6), as endpoints have theirs (BridgeportMaps.setEndpoint): a
/// new port gets a zeroed slot, one written again keeps its slot and counters, one removed
/// gives it back, to be given again once the port's flows (which carry it) are flushed.
/// Slot 0 is nobody's: it marks a flow made before flows carried a slot (the programs look
/// such a flow's port up instead). Generic over its key (a HostPort) as
/// FamilyMap is: Swift 6.3's debug code faults on a HostPort and a PortTarget passed by
/// value to one method (an aligned load from a stack slot it did not align; see above).
public struct PublishedPorts<Port: Hashable & Sendable>: Sendable {
    let map: FamilyMap<Port, PortEntry>
    let stats: BPFPerCPUHashMap<UInt32, bp_port_stats>
    let slots: StatsSlots

    public func entries() throws -> [Port: PortTarget] { try map.entries().mapValues(\.target) }

    /// Publishes `port` toward `target`, or sends it there instead, keeping its counters.
    public func update(_ port: Port, _ target: PortTarget) throws { try update([(port, target)]) }

    /// update for many ports at once: the new ones' slots are zeroed in one batch, before
    /// their entries are written, so that no packet counts on a slot before it is zeroed.
    public func update(_ ports: [(Port, PortTarget)]) throws {
        let taken = try slots.take(ports.count, zeroing: stats, map: stats.map.name) {
            try map.entries().values.map(\.statsSlot)
        }
        var unused = taken[...]
        defer { unused.forEach { slots.release($0) } }
        for (port, target) in ports {
            let entry = PortEntry(target: target, statsSlot: unused.removeFirst())
            do {
                try map.insert(port, entry)
            } catch BPFError.mapOperation(_, _, let errno) where errno == EEXIST {
                guard var current = try map.lookup(port) else {
                    try map.update(port, entry)  // gone meanwhile: published anew
                    continue
                }
                slots.release(entry.statsSlot)  // published already: it keeps its slot
                current.target = target
                try map.update(port, current)
            } catch {
                slots.release(entry.statsSlot)
                throw error
            }
        }
    }

    /// Unpublishes `port`; its counters go with it. Its slot is given again only after
    /// `flowsFlushed` (its flows carry it).
    @discardableResult public func delete(_ port: Port) throws -> Bool {
        guard let current = try map.lookup(port), try map.delete(port) else { return false }
        slots.release(current.statsSlot, unsettled: true)
        return true
    }

    /// The flows of the ports deleted so far are gone: their slots may be given again.
    public func flowsFlushed() { slots.settle() }

    /// Makes the map hold exactly `wanted`, writing only the ports that differ.
    public func sync(_ wanted: [Port: PortTarget]) throws {
        let present = try map.entries()
        for (port, entry) in present where wanted[port] == nil {
            if try map.delete(port) { slots.release(entry.statsSlot, unsettled: true) }
        }
        var new: [(Port, PortTarget)] = []
        for (port, target) in wanted {
            guard var entry = present[port] else {
                new.append((port, target))
                continue
            }
            guard entry.target != target else { continue }
            entry.target = target
            try map.update(port, entry)
        }
        try update(new)
    }

    /// Traffic through each port, summed over CPUs (one read of the array).
    func traffic() throws -> [Port: bp_port_stats] {
        try stats.sums(bySlot: try map.entries().mapValues(\.statsSlot))
    }
}
