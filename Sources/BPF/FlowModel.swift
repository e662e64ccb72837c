import CBPF
import Model

// The flow table in the model's terms, for the agent: tuples with addresses, kinds,
// states and events as enums with their labels. FlowTable keeps the raw entries for the
// collector and the tests.

/// IP protocol numbers of the flows Bridgeport tracks with ports (enum bp_protocol).
public enum FlowProtocol {
    public static let icmp = UInt8(BP_PROTO_ICMP.rawValue)
    public static let tcp = UInt8(BP_PROTO_TCP.rawValue)
    public static let udp = UInt8(BP_PROTO_UDP.rawValue)
    public static let icmpv6 = UInt8(BP_PROTO_ICMPV6.rawValue)
}

/// One direction of a flow, of either family's table.
public struct FlowTupleOf<Address: Hashable & Sendable>: Hashable, Sendable {
    public var proto: UInt8
    public var source: Address
    public var sourcePort: UInt16
    public var destination: Address
    public var destinationPort: UInt16

    public init(proto: UInt8, source: Address, sourcePort: UInt16, destination: Address, destinationPort: UInt16) {
        (self.proto, self.source, self.sourcePort) = (proto, source, sourcePort)
        (self.destination, self.destinationPort) = (destination, destinationPort)
    }
}

public typealias FlowTuple = FlowTupleOf<IPv4Address>
public typealias FlowTuple6 = FlowTupleOf<IPv6Address>

extension FlowTupleOf<IPv4Address> {
    init(_ key: bp_flow_key) {
        self.init(
            proto: key.proto, source: IPv4Address(raw: key.src_ip), sourcePort: UInt16(bigEndian: key.src_port),
            destination: IPv4Address(raw: key.dst_ip), destinationPort: UInt16(bigEndian: key.dst_port))
    }
}

extension FlowTupleOf<IPv6Address> {
    init(_ key: bp_flow6_key) {
        self.init(
            proto: key.proto, source: key.sourceAddress, sourcePort: UInt16(bigEndian: key.src_port),
            destination: key.destinationAddress, destinationPort: UInt16(bigEndian: key.dst_port))
    }
}

/// Why the table tracks a flow (enum bp_flow_kind).
public enum FlowKind: Sendable, Equatable {
    case published, masquerade, hairpin, routed

    public init?(raw: UInt8) {
        switch UInt32(raw) {
        case BP_FLOW_PUBLISHED.rawValue: self = .published
        case BP_FLOW_MASQUERADE.rawValue: self = .masquerade
        case BP_FLOW_HAIRPIN.rawValue: self = .hairpin
        case BP_FLOW_ROUTED.rawValue: self = .routed
        default: return nil
        }
    }

    public var label: String {
        switch self {
        case .published: "published"
        case .masquerade: "masquerade"
        case .hairpin: "hairpin"
        case .routed: "routed"
        }
    }
}

/// What an entry says of its flow besides the tuple.
public struct FlowInfoOf<Address: Hashable & Sendable>: Sendable {
    public var kind: FlowKind?
    /// The entry of the reply tuple (each flow has two entries).
    public var isReply: Bool
    /// Published on every host address (its port's key has address 0.0.0.0, or ::).
    public var anyHost: Bool
    /// The container's host-side veth; 0 for flows let in by direct routing.
    public var ifindex: UInt32
    /// Where the translation leads: the container of a published flow, the host address
    /// and port a masqueraded one leaves with.
    public var translatedAddress: Address
    public var translatedPort: UInt16

    init<Entry: FlowEntryLayout>(_ entry: Entry, address: Address) {
        kind = FlowKind(raw: entry.kind)
        isReply = entry.flags & UInt8(BP_FLOW_F_REPLY.rawValue) != 0
        anyHost = entry.flags & UInt8(BP_FLOW_F_ANY_HOST.rawValue) != 0
        ifindex = entry.ifindex
        translatedAddress = address
        translatedPort = UInt16(bigEndian: entry.nat_port)
    }
}

public typealias FlowInfo = FlowInfoOf<IPv4Address>
public typealias FlowInfo6 = FlowInfoOf<IPv6Address>

extension FlowInfoOf<IPv4Address> {
    init(_ entry: bp_flow) { self.init(entry, address: IPv4Address(raw: entry.nat_ip)) }
}

extension FlowInfoOf<IPv6Address> {
    init(_ entry: bp_flow6) { self.init(entry, address: IPv6Address(raw: entry.natAddress)) }
}

extension bp_flow6_key {
    public var sourceAddress: IPv6Address { IPv6Address(raw: source) }
    public var destinationAddress: IPv6Address { IPv6Address(raw: destination) }
}

extension Flow {
    public var originalTuple: FlowTuple { FlowTuple(original) }
    public var replyTuple: FlowTuple { FlowTuple(reply) }
    public var info: FlowInfo { FlowInfo(entry) }
}

extension FlowTable {
    /// Removes the flows `matches` picks, asked with an entry's tuple, the other
    /// direction's and the entry. Returns how many flows went.
    @discardableResult
    public func flush(matching matches: (FlowTuple, FlowTuple, FlowInfo) -> Bool) throws -> Int {
        try flush { key, entry in
            matches(FlowTuple(key), FlowTuple(FlowTable.otherKey(key, entry)), FlowInfo(entry))
        }
    }

    /// Removes every flow of a container: of its veth, or naming its address.
    @discardableResult
    public func flush(ifindex: UInt32?, naming address: IPv4Address?) throws -> Int {
        try flush(ifindex: ifindex, address: address?.raw)
    }

    public static func counterIndex(_ event: FlowEvent, proto: UInt8) -> UInt32 {
        counterIndex(event.raw, proto: proto)
    }
}

extension FlowTable6 {
    /// IPv6's flush(matching:): the flows `matches` picks go.
    @discardableResult
    public func flush(matching matches: (FlowTuple6, FlowTuple6, FlowInfo6) -> Bool) throws -> Int {
        try flush { key, entry in
            matches(FlowTuple6(key), FlowTuple6(FlowTable6.otherKey(key, entry)), FlowInfo6(entry))
        }
    }
}

/// A flow's state (enum bp_flow_state), with its metric label.
public enum FlowState: CaseIterable, Sendable {
    case synSent, synRecv, established, closing, close, unreplied, replied, stream

    var raw: bp_flow_state {
        switch self {
        case .synSent: BP_FLOW_SYN_SENT
        case .synRecv: BP_FLOW_SYN_RECV
        case .established: BP_FLOW_ESTABLISHED
        case .closing: BP_FLOW_CLOSING
        case .close: BP_FLOW_CLOSE
        case .unreplied: BP_FLOW_UNREPLIED
        case .replied: BP_FLOW_REPLIED
        case .stream: BP_FLOW_STREAM
        }
    }

    /// The value FlowCensus counts it under.
    public var number: UInt8 { UInt8(raw.rawValue) }
    /// "established", "unreplied", ...
    public var label: String { String(cString: bp_flow_state_label(raw.rawValue)) }
}

/// What happened to flows, counted per protocol by the programs and the collector
/// (enum bp_flow_event).
public enum FlowEvent: CaseIterable, Sendable {
    case created, reaped, expired, evicted, flushed

    var raw: bp_flow_event {
        switch self {
        case .created: BP_FLOW_EV_CREATED
        case .reaped: BP_FLOW_EV_REAPED
        case .expired: BP_FLOW_EV_EXPIRED
        case .evicted: BP_FLOW_EV_EVICTED
        case .flushed: BP_FLOW_EV_FLUSHED
        }
    }
}

// The counters' C structs under the names the agent uses (rx/tx packets and bytes of an
// endpoint; packets, bytes and flows of a published port; a drop's interface, reason and
// direction, with `reasonLabel` and `directionLabel`).
public typealias EndpointTraffic = bp_endpoint_stats
public typealias PortTraffic = bp_port_stats
public typealias DropKey = bp_drop_key
