import CBPF
import Glibc
import Model
import Synchronization

// The programs' monitor events (bridgeport.h, "Monitor events") in the model's terms: the
// records the agent reads off the bp_events ring, and the switches it sets in bp_monitor.

/// An event type (enum bp_event_type), by its name in `bridgeport monitor --type`.
public enum MonitorEventKind: String, CaseIterable, Sendable, Hashable {
    case drop, flow

    var raw: UInt32 {
        switch self {
        case .drop: BP_EVENT_DROP.rawValue
        case .flow: BP_EVENT_FLOW.rawValue
        }
    }
}

/// A drop reason (enum bp_drop_reason), by its metric label.
public struct DropReason: Hashable, Sendable, CustomStringConvertible {
    public let raw: UInt8
    public init(raw: UInt8) { self.raw = raw }

    /// Every reason the programs count, in their order.
    public static let all: [DropReason] = (1..<UInt8(__BP_DROP_MAX.rawValue)).map(DropReason.init(raw:))

    /// By label ("isolation"); nil for a label that is no reason.
    public init?(label: String) {
        guard let reason = DropReason.all.first(where: { $0.label == label }) else { return nil }
        self = reason
    }

    public var label: String { String(cString: bp_drop_reason_label(UInt32(raw))) }
    public var description: String { label }
}

/// A tuple of an event: IPv4 or IPv6 addresses, ports in host order (ICMP echo: the identifier).
public typealias EventTuple = FlowTupleOf<IPAddress>

/// What a program reports of a drop (struct bp_drop_event), the tuple read from its sample.
public struct DropRecord: Sendable, Equatable {
    /// CLOCK_MONOTONIC nanoseconds.
    public var time: UInt64
    /// The container's host-side veth the drop counts on (or the uplink's, for the host's drops).
    public var ifindex: UInt32
    /// The device the packet was on.
    public var deviceIndex: UInt32
    public var reason: DropReason
    /// "ingress" or "egress", from the container's point of view.
    public var direction: String
    /// The packet's length (a refused call's: 0).
    public var length: UInt32
    /// Refused by a socket hook (connect(), sendmsg()) rather than dropped by a tc program.
    public var refusedCall: Bool
    /// Its protocol and addresses, when the sample held them (IPv4 or IPv6); "arp" and the
    /// like have only `etherType`.
    public var tuple: EventTuple?
    /// The packet has ports (TCP, UDP, SCTP) and the sample held them: not so for a later
    /// fragment, nor when the headers before them fill the sample. Without them the ports are
    /// 0 (ICMP echo: its identifier), not the packet's.
    public var portsKnown: Bool
    /// The packet's ethertype (0x0800, 0x86dd, 0x0806...), for tc drops.
    public var etherType: UInt16

    public init(
        time: UInt64, ifindex: UInt32, deviceIndex: UInt32, reason: DropReason, direction: String, length: UInt32,
        refusedCall: Bool, tuple: EventTuple?, etherType: UInt16, portsKnown: Bool = true
    ) {
        (self.time, self.ifindex, self.deviceIndex, self.reason, self.direction) =
            (time, ifindex, deviceIndex, reason, direction)
        (self.length, self.refusedCall, self.tuple, self.etherType) = (length, refusedCall, tuple, etherType)
        self.portsKnown = portsKnown
    }
}

/// A flow's change (struct bp_flow_change_event), or one the collector saw.
public struct FlowRecord: Sendable, Equatable {
    public enum Change: String, Sendable, CaseIterable {
        case new, established, closed, expired, evicted, flushed

        init?(raw: UInt8) {
            switch UInt32(raw) {
            case BP_FLOW_CHANGE_NEW.rawValue: self = .new
            case BP_FLOW_CHANGE_ESTABLISHED.rawValue: self = .established
            case BP_FLOW_CHANGE_CLOSED.rawValue: self = .closed
            case BP_FLOW_CHANGE_EXPIRED.rawValue: self = .expired
            case BP_FLOW_CHANGE_EVICTED.rawValue: self = .evicted
            case BP_FLOW_CHANGE_FLUSHED.rawValue: self = .flushed
            default: return nil
            }
        }
    }

    public var time: UInt64
    /// The container's host-side veth (0: none known).
    public var ifindex: UInt32
    public var change: Change
    public var kind: FlowKind?
    /// The state after the change ("established", "close"...).
    public var state: String
    public var original: EventTuple
    public var reply: EventTuple
    /// Both ways, at its end (closed, expired, evicted, flushed); nil where not counted.
    public var packets: UInt64?
    public var bytes: UInt64?

    public init(
        time: UInt64, ifindex: UInt32, change: Change, kind: FlowKind?, state: String, original: EventTuple,
        reply: EventTuple, packets: UInt64? = nil, bytes: UInt64? = nil
    ) {
        (self.time, self.ifindex, self.change, self.kind, self.state) = (time, ifindex, change, kind, state)
        (self.original, self.reply, self.packets, self.bytes) = (original, reply, packets, bytes)
    }
}

/// Where a flow table reports the counted flows it removes itself (a flush), once someone
/// listens: the agent connects its monitor when it has one. A class, so that every copy of the
/// table reports to the same place.
public final class FlowEndings: Sendable {
    private let sink = Mutex<(@Sendable ([FlowRecord]) -> Void)?>(nil)

    public init() {}

    public func connect(_ sink: @escaping @Sendable ([FlowRecord]) -> Void) {
        self.sink.withLock { $0 = sink }
    }

    func report(_ records: [FlowRecord]) {
        guard !records.isEmpty, let sink = sink.withLock({ $0 }) else { return }
        sink(records)
    }
}

/// One record of the ring.
public enum MonitorRecord: Sendable, Equatable {
    case drop(DropRecord)
    case flow(FlowRecord)

    public var kind: MonitorEventKind {
        switch self {
        case .drop: .drop
        case .flow: .flow
        }
    }

    public var ifindex: UInt32 {
        switch self {
        case .drop(let drop): drop.ifindex
        case .flow(let flow): flow.ifindex
        }
    }

    /// Decodes a record as a program wrote it; nil for one too short or of an unknown type.
    public init?(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count >= MemoryLayout<bp_event_head>.size else { return nil }
        let head = bytes.loadUnaligned(as: bp_event_head.self)
        switch UInt32(head.type) {
        case BP_EVENT_DROP.rawValue where bytes.count >= MemoryLayout<bp_drop_event>.size:
            self = .drop(DropRecord(bytes.loadUnaligned(as: bp_drop_event.self)))
        case BP_EVENT_FLOW.rawValue where bytes.count >= MemoryLayout<bp_flow_change_event>.size:
            guard let flow = FlowRecord(bytes.loadUnaligned(as: bp_flow_change_event.self)) else { return nil }
            self = .flow(flow)
        default:
            return nil
        }
    }
}

extension DropRecord {
    init(_ event: bp_drop_event) {
        time = event.head.time
        ifindex = event.head.ifindex
        deviceIndex = event.dev_ifindex
        reason = DropReason(raw: event.reason)
        direction = String(cString: bp_direction_label(UInt32(event.direction)))
        length = event.len
        refusedCall = UInt32(event.hook) == BP_HOOK_SOCK.rawValue
        etherType = UInt16(bigEndian: event.protocol)
        if refusedCall {
            let family = Int32(event.family)
            let v6 = family == AF_INET6
            let address = { (words: Words6) -> IPAddress in
                v6 ? .v6(IPv6Address(words: words)) : .v4(IPv4Address(raw: words.0))
            }
            tuple = EventTuple(
                proto: event.proto, source: address(event.saddr), sourcePort: event.sport,
                destination: address(event.daddr), destinationPort: event.dport)
            portsKnown = true
            etherType = v6 ? 0x86dd : 0x0800
        } else {
            let sample = withUnsafeBytes(of: event.sample) { Array($0.prefix(Int(event.sample_len))) }
            let read = PacketSample(sample, etherType: etherType).read
            (tuple, portsKnown) = (read?.tuple, read?.portsKnown ?? false)
        }
    }
}

extension FlowRecord {
    init?(_ event: bp_flow_change_event) {
        guard let change = Change(raw: event.change) else { return nil }
        let v6 = Int32(event.family) == AF_INET6
        let address = { (words: Words6) -> IPAddress in
            v6 ? .v6(IPv6Address(words: words)) : .v4(IPv4Address(raw: words.0))
        }
        let counted = (change == .closed || change == .expired) && event.counted != 0
        self.init(
            time: event.head.time, ifindex: event.head.ifindex, change: change, kind: FlowKind(raw: event.kind),
            state: String(cString: bp_flow_state_label(UInt32(event.state))),
            original: EventTuple(
                proto: event.proto, source: address(event.src), sourcePort: event.sport,
                destination: address(event.dst), destinationPort: event.dport),
            reply: EventTuple(
                proto: event.proto, source: address(event.reply_src), sourcePort: event.reply_sport,
                destination: address(event.reply_dst), destinationPort: event.reply_dport),
            packets: counted ? event.packets : nil, bytes: counted ? event.bytes : nil)
    }
}

extension FlowTupleOf {
    /// The tuple as events have it.
    func event(_ address: (Address) -> IPAddress) -> EventTuple {
        EventTuple(
            proto: proto, source: address(source), sourcePort: sourcePort, destination: address(destination),
            destinationPort: destinationPort)
    }
}

extension bp_flow_key {
    public var eventTuple: EventTuple { FlowTuple(self).event(IPAddress.v4) }
}

extension bp_flow6_key {
    public var eventTuple: EventTuple { FlowTuple6(self).event(IPAddress.v6) }
}

/// The start of a dropped packet, as a drop event carries it: at the MAC header, or at the
/// IP header on devices without one (told apart by the ethertype where the MAC header's is).
struct PacketSample {
    let bytes: [UInt8]
    let etherType: UInt16

    init(_ bytes: [UInt8], etherType: UInt16) {
        self.bytes = bytes
        self.etherType = etherType
    }

    private func u16(_ at: Int) -> UInt16? {
        at + 2 <= bytes.count ? UInt16(bytes[at]) << 8 | UInt16(bytes[at + 1]) : nil
    }

    /// Where the IP header starts: after the MAC header (and its VLAN tags) when the
    /// frame has one, else at 0.
    private var l3Offset: Int? {
        let version: UInt8 = etherType == 0x86dd ? 6 : 4
        var offset = 12
        while let type = u16(offset), type == 0x8100 || type == 0x88a8 { offset += 4 }
        if let type = u16(offset), type == etherType, offset + 2 < bytes.count, bytes[offset + 2] >> 4 == version {
            return offset + 2
        }
        return bytes.first.map { $0 >> 4 == version } == true ? 0 : nil
    }

    /// The protocol, addresses and ports (ICMP echo: the identifier both ways), when the
    /// sample is IPv4 or IPv6; `portsKnown` when TCP's, UDP's or SCTP's ports were in it.
    var read: (tuple: EventTuple, portsKnown: Bool)? {
        guard etherType == 0x0800 || etherType == 0x86dd, let l3 = l3Offset else { return nil }
        var proto: UInt8
        var l4: Int
        var source: IPAddress
        var destination: IPAddress
        var laterFragment = false
        if etherType == 0x0800 {
            guard l3 + 20 <= bytes.count else { return nil }
            proto = bytes[l3 + 9]
            l4 = l3 + Int(bytes[l3] & 0x0f) * 4
            laterFragment = (u16(l3 + 6) ?? 0) & 0x1fff != 0
            source = .v4(IPv4Address(bytes[l3 + 12], bytes[l3 + 13], bytes[l3 + 14], bytes[l3 + 15]))
            destination = .v4(IPv4Address(bytes[l3 + 16], bytes[l3 + 17], bytes[l3 + 18], bytes[l3 + 19]))
        } else {
            guard l3 + 40 <= bytes.count else { return nil }
            proto = bytes[l3 + 6]
            l4 = l3 + 40
            source = .v6(IPv6Address(bytes: Array(bytes[l3 + 8..<l3 + 24])))
            destination = .v6(IPv6Address(bytes: Array(bytes[l3 + 24..<l3 + 40])))
            // The extension headers the programs follow (bpf/lib/parse6.h), in any order:
            // hop-by-hop, routing, fragment, authentication, destination options.
            while [0, 43, 44, 51, 60].contains(proto), l4 + 2 <= bytes.count {
                let header = proto
                proto = bytes[l4]
                switch header {
                case 44:  // fragment: 8 bytes, its offset tells a later fragment
                    laterFragment = laterFragment || (u16(l4 + 2) ?? 0) & 0xfff8 != 0
                    l4 += 8
                case 51: l4 += (Int(bytes[l4 + 1]) + 2) * 4  // authentication: in 4-byte units
                default: l4 += (Int(bytes[l4 + 1]) + 1) * 8
                }
            }
        }
        var tuple = EventTuple(
            proto: proto, source: source, sourcePort: 0, destination: destination, destinationPort: 0)
        guard !laterFragment else { return (tuple, false) }
        switch proto {
        case 6, 17, 132:  // TCP, UDP, SCTP
            guard let sourcePort = u16(l4), let destinationPort = u16(l4 + 2) else { return (tuple, false) }
            (tuple.sourcePort, tuple.destinationPort) = (sourcePort, destinationPort)
        case 1, 58:  // ICMP, ICMPv6 echo (request and reply): the identifier
            let echo: Set<UInt8> = proto == 1 ? [0, 8] : [128, 129]
            if l4 < bytes.count, echo.contains(bytes[l4]), let id = u16(l4 + 4) {
                (tuple.sourcePort, tuple.destinationPort) = (id, id)
            }
        default:
            break
        }
        return (tuple, [6, 17, 132].contains(proto))
    }
}

/// The bp_events ring buffer, read with libbpf's ring_buffer on one thread.
public final class EventRing: @unchecked Sendable {
    // Touched by the polling thread only, after init.
    private var ring: OpaquePointer?
    private let sink: Sink
    private let map: BPFMap

    private final class Sink {
        var records: [MonitorRecord] = []
        var malformed = 0
        let limit: Int
        init(limit: Int) { self.limit = limit }
    }

    /// What the record callback returns to end a poll with a full batch: libbpf has consumed
    /// the record, and hands the error back from ring_buffer__poll.
    private static let batchFull = -E2BIG

    /// `batch`: the records one poll returns at most. libbpf reads until the ring is empty,
    /// which under a flood the programs refill as fast: without a bound, one poll would
    /// gather a whole flood's records in memory (a million in 3 s here) before any was handed
    /// on. The rest wait in the ring, and the next poll returns at once.
    public init(map: BPFMap, batch: Int = 4096) throws {
        self.map = map
        sink = Sink(limit: max(1, batch))
        let context = Unmanaged.passUnretained(sink).toOpaque()
        ring = ring_buffer__new(
            map.fd,
            { context, data, size in
                let sink = Unmanaged<Sink>.fromOpaque(context!).takeUnretainedValue()
                if let record = MonitorRecord(UnsafeRawBufferPointer(start: data, count: size)) {
                    sink.records.append(record)
                } else {
                    sink.malformed += 1
                }
                return sink.records.count >= sink.limit ? EventRing.batchFull : 0
            }, context, nil)
        guard ring != nil else {
            throw BPFError.mapOperation(map: map.name, operation: "open ring buffer", errno: Glibc.errno)
        }
    }

    deinit { ring_buffer__free(ring) }

    /// Waits up to `timeout` milliseconds for records and returns those read, a batch at most
    /// (empty on a timeout or a signal).
    public func poll(timeout milliseconds: Int32) throws -> [MonitorRecord] {
        let result = ring_buffer__poll(ring, milliseconds)
        if result < 0 && -result != EINTR && result != Self.batchFull {
            throw BPFError.mapOperation(map: map.name, operation: "poll ring buffer", errno: -result)
        }
        defer { sink.records.removeAll(keepingCapacity: true) }
        return sink.records
    }
}

/// bp_monitor and bp_events_lost: who listens, how fast they may be fed, and what they lost.
public struct MonitorSwitch: Sendable {
    let config: BPFMap
    let lost: BPFMap

    public init(config: BPFMap, lost: BPFMap) {
        self.config = config
        self.lost = lost
    }

    /// Tells the programs which event types to emit, at most `rate` per second per CPU and
    /// type (0: no limit).
    public func set(subscribed kinds: Set<MonitorEventKind>, rate: UInt32) throws {
        let bits = kinds.reduce(UInt32(0)) { $0 | (1 << $1.raw) }
        try config.update(UInt32(0), bp_monitor_config(subscribed: bits, rate: rate))
    }

    public func current() throws -> (subscribed: Set<MonitorEventKind>, rate: UInt32) {
        let value = try config.lookup(UInt32(0), as: bp_monitor_config.self) ?? bp_monitor_config()
        return (Set(MonitorEventKind.allCases.filter { value.subscribed & (1 << $0.raw) != 0 }), value.rate)
    }

    /// Events each type lost, over the rate limit or to a full ring, summed over CPUs.
    public func lostCounts() throws -> [MonitorEventKind: UInt64] {
        var counts: [MonitorEventKind: UInt64] = [:]
        for kind in MonitorEventKind.allCases {
            counts[kind] = try lost.lookupPerCPU(kind.raw, as: UInt64.self)?.reduce(0, &+) ?? 0
        }
        return counts
    }
}
