import CBPF
import Glibc

/// A flow table's layout: its tuple (bp_flow_key, bp_flow6_key) and entry (bp_flow,
/// bp_flow6). IPv4 and IPv6 flows live in tables of their own with the same lifecycle.
public protocol FlowKeyLayout: Hashable, Sendable {
    associatedtype Entry: FlowEntryLayout
    var proto: UInt8 { get }
    /// The tuple of the other direction of an entry's flow (bp_flow_other_key).
    func other(_ entry: Entry) -> Self
    /// Whether the tuple names this address (network byte order, as the map has it).
    func names(_ address: Entry.Address) -> Bool
    /// The map's name (bridgeport.h).
    static var mapName: String { get }
    /// The tuple as events have it.
    var eventTuple: EventTuple { get }
}

/// An entry's fields, the same in both families but for the translated address.
public protocol FlowEntryLayout: Sendable {
    associatedtype Address: Hashable, Sendable
    var nat_port: UInt16 { get }
    var ifindex: UInt32 { get }
    var created: UInt32 { get }
    var expires: UInt32 { get }
    var kind: UInt8 { get }
    var state: UInt8 { get }
    var flags: UInt8 { get }
    var natAddress: Address { get }
    /// The host address masquerade's port census counts it under (IPv4 only).
    var censusHost: UInt32? { get }
}

public typealias Flow = FlowOf<bp_flow_key>
public typealias Flow6 = FlowOf<bp_flow6_key>
public typealias FlowTable = FlowTableOf<bp_flow_key>
public typealias FlowTable6 = FlowTableOf<bp_flow6_key>

/// One flow of the table, read from its two entries (bridgeport.h, "Flows").
public struct FlowOf<Key: FlowKeyLayout>: Sendable {
    /// The tuple of its first packet, and the one its replies have.
    public var original: Key
    public var reply: Key
    /// The original's entry: kind, state, translation, the container's veth, start.
    public var entry: Key.Entry
    /// When it expires, unless a packet comes: the later of its entries' times.
    public var expires: UInt32

    public var proto: UInt8 { original.proto }
    public var kind: bp_flow_kind { bp_flow_kind(UInt32(entry.kind)) }
    /// "established", "unreplied", ... (the metric label).
    public var stateLabel: String { String(cString: bp_flow_state_label(UInt32(entry.state))) }
}

extension FlowOf where Key == bp_flow_key {
    /// The host address a masqueraded flow leaves with, or a published one came to.
    public var hostAddress: UInt32? {
        switch kind {
        case BP_FLOW_MASQUERADE: entry.nat_ip
        case BP_FLOW_PUBLISHED: original.dst_ip
        default: nil
        }
    }
}

/// Flows by protocol and state, and masquerade's use of host ports, as one collector pass
/// found them.
public struct FlowCensus: Sendable, Equatable {
    public struct StateKey: Hashable, Sendable {
        public let proto: UInt8
        public let state: UInt8
        public init(proto: UInt8, state: UInt8) {
            self.proto = proto
            self.state = state
        }
    }

    public struct HostKey: Hashable, Sendable {
        public let hostIP: UInt32  // network byte order
        public let proto: UInt8
        public init(hostIP: UInt32, proto: UInt8) {
            self.hostIP = hostIP
            self.proto = proto
        }
    }

    public struct PortUse: Sendable, Equatable {
        public var flows = 0
        /// Distinct host ports in use.
        public var ports = 0
        public init(flows: Int = 0, ports: Int = 0) {
            self.flows = flows
            self.ports = ports
        }
    }

    public var flows: [StateKey: Int] = [:]
    public var masquerade: [HostKey: PortUse] = [:]

    public init() {}

    public var total: Int { flows.values.reduce(0, +) }

    /// ICMPv6 flows are counted with ICMP's, as bp_flow_counts does.
    static func protocolSlot(_ proto: UInt8) -> UInt8 {
        proto == UInt8(BP_PROTO_ICMPV6.rawValue) ? UInt8(BP_PROTO_ICMP.rawValue) : proto
    }

    /// Both families' census as one.
    public func merged(with other: FlowCensus) -> FlowCensus {
        var census = self
        census.flows.merge(other.flows, uniquingKeysWith: +)
        census.masquerade.merge(other.masquerade) { PortUse(flows: $0.flows + $1.flows, ports: $0.ports + $1.ports) }
        return census
    }
}

/// What one collector pass did.
public struct FlowPass: Sendable {
    /// Entries read.
    public var scanned = 0
    /// Flows removed, by protocol: expired, and evicted early.
    public var expired: [UInt8: Int] = [:]
    public var evicted: [UInt8: Int] = [:]
    /// The flows left.
    public var census = FlowCensus()
    /// Entries left, over the table's capacity in entries.
    public var fill = 0.0

    public var removed: Int { expired.values.reduce(0, +) + evicted.values.reduce(0, +) }

    public init() {}

    /// Both families' passes as one (the fill: the fuller table's).
    public func merged(with other: FlowPass) -> FlowPass {
        var pass = self
        pass.scanned += other.scanned
        pass.expired.merge(other.expired, uniquingKeysWith: +)
        pass.evicted.merge(other.evicted, uniquingKeysWith: +)
        pass.census = census.merged(with: other.census)
        pass.fill = max(fill, other.fill)
        return pass
    }
}

/// A flow table (bp_flows, or bp_flows6) with its timeouts (bp_flow_config) and event counters
/// (bp_flow_counts, shared by both families): flows read from their entry pairs, removed by
/// pairs (expired, evicted or flushed), and counted.
public struct FlowTableOf<Key: FlowKeyLayout & BitwiseCopyable>: Sendable where Key.Entry: BitwiseCopyable {
    public typealias Entry = Key.Entry
    public typealias Tuple = Key

    public let map: BPFMap
    let counterMap: BPFMap
    let configMap: BPFMap
    /// Counted flows' packets and bytes by entry tuple (BP_FLOW_F_COUNTED), if given.
    let accountMap: BPFMap?
    /// Where the counted flows a flush removes are reported (for the monitor).
    public let endings = FlowEndings()

    public init(flows: BPFMap, counters: BPFMap, config: BPFMap, accounts: BPFMap? = nil) throws {
        try flows.check(key: Key.self, value: Entry.self, perCPU: false)
        try counters.check(key: UInt32.self, value: UInt64.self, perCPU: true)
        try config.check(key: UInt32.self, value: bp_flow_config.self, perCPU: false)
        try accounts?.check(key: Key.self, value: bp_flow_acct.self, perCPU: false)
        map = flows
        counterMap = counters
        configMap = config
        accountMap = accounts
    }

    /// Flows the table can hold (two entries each).
    public var capacity: Int { Int(map.maxEntries) / 2 }

    /// Seconds of CLOCK_MONOTONIC_COARSE: the programs' clock (bpf_ktime_get_coarse_ns).
    public static func now() -> UInt32 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC_COARSE, &time)
        return UInt32(truncatingIfNeeded: time.tv_sec)
    }

    /// The tuple of the other direction of an entry's flow.
    public static func otherKey(_ key: Key, _ entry: Entry) -> Key { key.other(entry) }

    static func isReply(_ entry: Entry) -> Bool { entry.flags & UInt8(BP_FLOW_F_REPLY.rawValue) != 0 }
    static func isCounted(_ entry: Entry) -> Bool { entry.flags & UInt8(BP_FLOW_F_COUNTED.rawValue) != 0 }
    static func sentFIN(_ entry: Entry) -> Bool { entry.flags & UInt8(BP_FLOW_F_FIN.rawValue) != 0 }

    // MARK: Reading

    /// Every live flow. Reads the whole table at once: for listing, not for the collector.
    public func flows(now: UInt32 = FlowTable.now()) throws -> [FlowOf<Key>] {
        var entries: [Key: Entry] = [:]
        try map.forEachBatch(Key.self, Entry.self) { batch in
            for (key, entry) in batch { entries[key] = entry }
        }
        return entries.compactMap { key, entry in
            guard !Self.isReply(entry) else { return nil }
            let reply = Self.otherKey(key, entry)
            let expires = max(entry.expires, entries[reply]?.expires ?? 0)
            guard expires >= now else { return nil }
            return FlowOf(original: key, reply: reply, entry: entry, expires: expires)
        }
    }

    // MARK: Collecting

    public typealias Pass = FlowPass

    /// One pass of the garbage collector: removes every flow that expired (both entries; an
    /// entry whose other half is gone once it expired), and counts the rest. When the table
    /// is still fuller than `evictAbove`, flows from outside that were never answered
    /// (embryonic published flows: a SYN flood's) go early, oldest first, down to
    /// `evictTo`, as Linux's early_drop spares assured connections. Established flows and
    /// flows the containers opened are never evicted. The table is read in chunks, so the
    /// pass holds only what it may remove; each removal takes the entry out atomically and
    /// checks it again, so a flow a packet refreshed (or a program removed and started
    /// anew) meanwhile is left alone.
    /// `countsRun`: the pass counts as one of the collector's runs (IPv6's table is collected
    /// in the same runs as IPv4's). Each counted flow that expired or was evicted
    /// (bp_flow_acct's flows: made while a monitor listened) is reported to `endings`, with
    /// its packets and bytes, unless it had closed (its closed event told its end).
    public func collect(
        now: UInt32 = FlowTable.now(), evictAbove: Double = 0.9, evictTo: Double = 0.75, countsRun: Bool = true
    ) throws -> Pass {
        var pass = Pass()
        var ended: [FlowRecord] = []
        defer { endings.report(ended) }
        var census = CensusBuilder<Key>()
        var expiredOriginals: [(key: Key, entry: Entry)] = []
        var expiredReplies: [Key] = []
        var embryonic: [(key: Key, entry: Entry)] = []
        try map.forEachBatch(Key.self, Entry.self) { batch in
            pass.scanned += batch.count
            for (key, entry) in batch {
                let reply = Self.isReply(entry)
                if entry.expires < now {
                    if reply { expiredReplies.append(key) } else { expiredOriginals.append((key, entry)) }
                } else if !reply {
                    census.add(key, entry)
                    if Self.isEmbryonic(entry) { embryonic.append((key, entry)) }
                }
            }
        }
        var removedEntries = 0
        let expired = { (entry: Entry) in entry.expires < now }
        for (key, entry) in expiredOriginals {
            let (halves, removed, other) = try removeFlow(key, if: expired)
            // An expiry of 0: a program is removing it, and reports it (bp_flow_reap).
            if let removed, Self.isCounted(removed), removed.expires != 0 {
                let record = try endOfCounted(key, removed, other: other, change: .expired)
                if let record { ended.append(record) }
            }
            if halves > 0 {
                pass.expired[key.proto, default: 0] += 1
                removedEntries += halves
            } else if let now = try map.lookup(key, as: Entry.self), !expired(now) {
                census.add(key, entry)  // refreshed meanwhile
            }
        }
        // Replies left behind by a flow half-made or half-removed (an agent killed between two
        // writes): removed once expired, unless their original is there after all.
        for key in expiredReplies {
            let orphan = try remove(key) { entry in
                try expired(entry) && !isHalf(Self.otherKey(key, entry), of: key)
            }
            if orphan != nil { removedEntries += 1 }
        }

        var left = pass.scanned - removedEntries
        let entries = Double(map.maxEntries)
        if Double(left) > evictAbove * entries {
            let excessFlows = (left - Int(evictTo * entries) + 1) / 2
            for victim in embryonic.sorted(by: { $0.entry.created < $1.entry.created }).prefix(excessFlows) {
                let (halves, removed, other) = try removeFlow(victim.key) {
                    Self.isEmbryonic($0) && $0.created == victim.entry.created
                }
                if let removed, Self.isCounted(removed), removed.expires != 0,
                    let record = try endOfCounted(victim.key, removed, other: other, change: .evicted)
                {
                    ended.append(record)
                }
                guard halves > 0 else { continue }
                left -= halves
                pass.evicted[victim.key.proto, default: 0] += 1
                census.remove(victim.key, victim.entry)
            }
        }
        pass.census = census.result()
        pass.fill = entries > 0 ? Double(max(left, 0)) / entries : 0
        try count(BP_FLOW_EV_EXPIRED, pass.expired)
        try count(BP_FLOW_EV_EVICTED, pass.evicted)
        if countsRun { try add(index: FlowTable.gcRunsIndex, 1) }
        return pass
    }

    /// Takes the entry at `key` out if `condition` holds for it as it is at that moment;
    /// an entry that fails it goes back (unless a packet made a new one there meanwhile).
    /// Returns the removed entry.
    private func remove(_ key: Key, if condition: (Entry) throws -> Bool) throws -> Entry? {
        guard let entry = try map.lookupAndDelete(key, as: Entry.self) else { return nil }
        if try condition(entry) { return entry }
        try? map.update(key, entry, flags: .noExist)
        return nil
    }

    /// Removes the flow whose entry is at `key` if `condition` holds for that entry: the
    /// entry, then its other half when it leads back. Returns how many entries were removed
    /// (0: none), and those entries.
    private func removeFlow(
        _ key: Key, if condition: (Entry) throws -> Bool
    ) throws -> (count: Int, entry: Entry?, other: Entry?) {
        guard let entry = try remove(key, if: condition) else { return (0, nil, nil) }
        let otherKey = Self.otherKey(key, entry)
        let other = try remove(otherKey) { Self.otherKey(otherKey, $0) == key }
        return (other == nil ? 1 : 2, entry, other)
    }

    /// A counted flow that ended without a program's event (expired, evicted, flushed),
    /// removed: its counts are taken out of the account map, and it is reported with `change`,
    /// unless it had closed (a RST, or FINs both ways: its closed event told its end).
    private func endOfCounted(
        _ key: Key, _ entry: Entry, other: Entry?, change: FlowRecord.Change
    ) throws
        -> FlowRecord?
    {
        guard let accountMap else { return nil }
        let reply = Self.otherKey(key, entry)
        var (packets, bytes): (UInt64, UInt64) = (0, 0)
        for half in [key, reply] {
            if let counted = try accountMap.lookupAndDelete(half, as: bp_flow_acct.self) {
                packets &+= counted.packets
                bytes &+= counted.bytes
            }
        }
        let closed =
            entry.state == UInt8(BP_FLOW_CLOSE.rawValue)
            || (Self.sentFIN(entry) && other.map(Self.sentFIN) == true)
        guard !closed else { return nil }
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return FlowRecord(
            time: UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec), ifindex: entry.ifindex,
            change: change, kind: FlowKind(raw: entry.kind),
            state: String(cString: bp_flow_state_label(UInt32(entry.state))), original: key.eventTuple,
            reply: reply.eventTuple, packets: packets, bytes: bytes)
    }

    /// Whether the entry at `key` is there and is the other half of the entry at `half`.
    private func isHalf(_ key: Key, of half: Key) throws -> Bool {
        guard let entry = try map.lookup(key, as: Entry.self) else { return false }
        return Self.otherKey(key, entry) == half
    }

    /// A flow from outside that was never answered, or answered but never acknowledged.
    static func isEmbryonic(_ entry: Entry) -> Bool {
        guard entry.kind == UInt8(BP_FLOW_PUBLISHED.rawValue) else { return false }
        let state = bp_flow_state(UInt32(entry.state))
        return state == BP_FLOW_SYN_SENT || state == BP_FLOW_SYN_RECV || state == BP_FLOW_UNREPLIED
    }

    // MARK: Flushing

    /// Removes every flow one of whose entries matches, both of its entries; counted as
    /// flushed, and the counted ones reported to `endings`. Returns the number of flows removed.
    @discardableResult
    public func flush(where matches: (Key, Entry) -> Bool) throws -> Int {
        var pairs: [Key: Key] = [:]  // original -> reply
        var counted: [Key: Entry] = [:]  // the counted flows' entries, for their events
        try map.forEachBatch(Key.self, Entry.self) { batch in
            for (key, entry) in batch {
                if Self.isCounted(entry) { counted[key] = entry }
                guard matches(key, entry) else { continue }
                let other = Self.otherKey(key, entry)
                if Self.isReply(entry) { pairs[other] = key } else { pairs[key] = other }
            }
        }
        guard !pairs.isEmpty else { return 0 }
        // Counted flows are taken out entry by entry, so that only what this flush removed is
        // reported, as it is now: a program or the collector may have removed one meanwhile
        // (or a program be removing it: an expiry of 0), or a new flow taken its tuple.
        var ended: [FlowRecord] = []
        var uncounted: [Key: Key] = [:]
        for (original, reply) in pairs {
            guard counted[original] != nil || counted[reply] != nil else {
                uncounted[original] = reply
                continue
            }
            let entry = try map.lookupAndDelete(original, as: Entry.self)
            let other = try map.lookupAndDelete(reply, as: Entry.self)
            if let entry, Self.isCounted(entry), entry.expires != 0, Self.otherKey(original, entry) == reply,
                let record = try endOfCounted(original, entry, other: other, change: .flushed)
            {
                ended.append(record)
            }
        }
        try map.deleteBatch(Array(uncounted.keys))
        try map.deleteBatch(Array(uncounted.values))
        try count(BP_FLOW_EV_FLUSHED, Dictionary(grouping: pairs.keys, by: \.proto).mapValues(\.count))
        endings.report(ended)
        return pairs.count
    }

    /// Removes every flow of a container: of its veth, or naming its address.
    @discardableResult
    public func flush(ifindex: UInt32?, address: Entry.Address?) throws -> Int {
        try flush { key, entry in
            (ifindex != nil && entry.ifindex == ifindex)
                || (address.map { key.names($0) || entry.natAddress == $0 } ?? false)
        }
    }

    /// Removes every flow that names one of these addresses (host addresses that went).
    @discardableResult
    public func flush(addresses: Set<Entry.Address>) throws -> Int {
        guard !addresses.isEmpty else { return 0 }
        return try flush { key, entry in
            addresses.contains(entry.natAddress) || addresses.contains(where: key.names)
        }
    }

    // MARK: Counters

    /// Every counter of bp_flow_counts, summed over CPUs, by index.
    public func counters() throws -> [UInt32: UInt64] {
        try BPFPerCPUHashMap<UInt32, UInt64>(counterMap).sumsByKey()
    }

    /// The index of an event's counter for a protocol (BP_FLOW_COUNTER).
    public static func counterIndex(_ event: bp_flow_event, proto: UInt8) -> UInt32 {
        event.rawValue * 4 + bp_flow_protocol_slot(proto)
    }

    /// BP_FLOW_COUNTER_GC_RUNS: the collector's passes.
    public static var gcRunsIndex: UInt32 { __BP_FLOW_EV_MAX.rawValue * 4 }

    private func count(_ event: bp_flow_event, _ byProto: [UInt8: Int]) throws {
        for (proto, n) in byProto where n > 0 { try add(index: FlowTable.counterIndex(event, proto: proto), UInt64(n)) }
    }

    /// Adds to a counter only the agent writes (the programs' slots are never written here).
    private func add(index: UInt32, _ n: UInt64) throws {
        var values =
            try counterMap.lookupPerCPU(index, as: UInt64.self) ?? [UInt64](repeating: 0, count: BPFMap.possibleCPUs)
        values[0] &+= n
        try counterMap.updatePerCPU(index, values)
    }

    // MARK: Timeouts

    /// Makes the programs use these timeouts.
    public func setTimeouts(_ timeouts: FlowTimeouts) throws {
        try configMap.update(UInt32(0), timeouts.config)
    }
}

/// The flow timeouts, by the names of `bridgeport daemon --flow-timeout NAME=DURATION`.
public struct FlowTimeouts: Sendable, Equatable {
    public static let count = Int(__BP_TIMEOUT_MAX.rawValue)
    /// "tcp-syn", "tcp-established", ... in the order of enum bp_flow_timeout.
    public static let names: [String] = (0..<count).map { String(cString: bp_flow_timeout_name(UInt32($0))) }
    public static let defaults: [UInt32] = (0..<count).map { bp_flow_timeout_default(UInt32($0)) }

    /// Seconds, in the order of `names`.
    public private(set) var seconds = FlowTimeouts.defaults

    public init() {}

    /// Sets the timeout called `name`; false if there is none of that name.
    @discardableResult
    public mutating func set(_ name: String, seconds value: UInt32) -> Bool {
        guard let index = FlowTimeouts.names.firstIndex(of: name) else { return false }
        seconds[index] = value
        return true
    }

    public subscript(_ name: String) -> UInt32? { FlowTimeouts.names.firstIndex(of: name).map { seconds[$0] } }

    var config: bp_flow_config {
        var config = bp_flow_config()
        withUnsafeMutableBytes(of: &config.timeouts) { raw in
            for (index, value) in seconds.enumerated() {
                raw.storeBytes(of: value, toByteOffset: index * 4, as: UInt32.self)
            }
        }
        return config
    }
}

/// Counts flows as a pass reads them; masquerade's distinct ports in a bitmap per host
/// address and protocol.
private struct CensusBuilder<Key: FlowKeyLayout> {
    var census = FlowCensus()
    var ports: [FlowCensus.HostKey: [UInt64]] = [:]

    mutating func add(_ key: Key, _ entry: Key.Entry) { change(key, entry, by: 1) }
    mutating func remove(_ key: Key, _ entry: Key.Entry) { change(key, entry, by: -1) }

    private mutating func change(_ key: Key, _ entry: Key.Entry, by delta: Int) {
        census.flows[FlowCensus.StateKey(proto: FlowCensus.protocolSlot(key.proto), state: entry.state), default: 0] +=
            delta
        guard entry.kind == UInt8(BP_FLOW_MASQUERADE.rawValue), let hostIP = entry.censusHost else { return }
        let host = FlowCensus.HostKey(hostIP: hostIP, proto: key.proto)
        census.masquerade[host, default: FlowCensus.PortUse()].flows += delta
        if delta > 0 {
            let port = Int(UInt16(bigEndian: entry.nat_port))
            ports[host, default: [UInt64](repeating: 0, count: 1024)][port >> 6] |= 1 << UInt64(port & 63)
        }
    }

    func result() -> FlowCensus {
        var census = census
        for (host, bits) in ports { census.masquerade[host]?.ports = bits.reduce(0) { $0 + $1.nonzeroBitCount } }
        census.flows = census.flows.filter { $0.value > 0 }
        return census
    }
}

extension bp_flow {
    /// An entry: its kind, state and flags (enum bp_flow_flags), the address and port it
    /// translates to, the container's veth, and its times.
    public init(
        kind: bp_flow_kind, state: bp_flow_state, flags: UInt32, natIP: UInt32 = 0, natPort: UInt16 = 0,
        ifindex: UInt32 = 0, created: UInt32, expires: UInt32
    ) {
        self.init()  // no route cached (out_*), nothing seen this second
        (nat_ip, nat_port, self.ifindex, self.created, self.expires) = (natIP, natPort, ifindex, created, expires)
        (self.kind, self.state, self.flags) = (UInt8(kind.rawValue), UInt8(state.rawValue), UInt8(flags))
    }
}

extension bp_flow: FlowEntryLayout {
    public var natAddress: UInt32 { nat_ip }
    public var censusHost: UInt32? { nat_ip }
}

extension bp_flow6: FlowEntryLayout {
    public var natAddress: bp_addr6 { bp_addr6(words: nat_ip) }
    public var censusHost: UInt32? { nil }
}

extension bp_flow_key: FlowKeyLayout {
    public func other(_ entry: bp_flow) -> bp_flow_key {
        var key = self
        var entry = entry
        var other = bp_flow_key()
        bp_flow_other_key(&key, &entry, &other)
        return other
    }
    public func names(_ address: UInt32) -> Bool { src_ip == address || dst_ip == address }
    public static var mapName: String { BP_MAP_FLOWS }
}

extension bp_flow6_key: FlowKeyLayout {
    public func other(_ entry: bp_flow6) -> bp_flow6_key {
        var key = self
        var entry = entry
        var other = bp_flow6_key()
        bp_flow_other_key6(&key, &entry, &other)
        return other
    }
    public var source: bp_addr6 { bp_addr6(words: src_ip) }
    public var destination: bp_addr6 { bp_addr6(words: dst_ip) }
    public func names(_ address: bp_addr6) -> Bool { source == address || destination == address }
    public static var mapName: String { BP_MAP_FLOWS6 }
}

extension bp_flow6_key: @retroactive Hashable {
    public static func == (a: bp_flow6_key, b: bp_flow6_key) -> Bool {
        a.source == b.source && a.destination == b.destination && a.src_port == b.src_port
            && a.dst_port == b.dst_port && a.proto == b.proto
    }
    public func hash(into hasher: inout Hasher) {
        hasher.combine(source)
        hasher.combine(destination)
        hasher.combine(src_port)
        hasher.combine(dst_port)
        hasher.combine(proto)
    }
}

extension bp_addr6: @retroactive Hashable {
    /// An address from a tuple's four words (as on the wire).
    public init(words: (UInt32, UInt32, UInt32, UInt32)) {
        self.init()
        withUnsafeMutableBytes(of: &self) { raw in withUnsafeBytes(of: words) { raw.copyMemory(from: $0) } }
    }
    public static func == (a: bp_addr6, b: bp_addr6) -> Bool {
        withUnsafeBytes(of: a) { x in withUnsafeBytes(of: b) { y in x.elementsEqual(y) } }
    }
    public func hash(into hasher: inout Hasher) { withUnsafeBytes(of: self) { hasher.combine(bytes: $0) } }
}

extension bp_flow_key: @retroactive Hashable {
    public init(src: UInt32, dst: UInt32, sport: UInt16, dport: UInt16, proto: UInt8) {
        self.init(src_ip: src, dst_ip: dst, src_port: sport, dst_port: dport, proto: proto, pad: (0, 0, 0))
    }
    public static func == (a: bp_flow_key, b: bp_flow_key) -> Bool {
        a.src_ip == b.src_ip && a.dst_ip == b.dst_ip && a.src_port == b.src_port && a.dst_port == b.dst_port
            && a.proto == b.proto
    }
    public func hash(into hasher: inout Hasher) {
        hasher.combine(src_ip)
        hasher.combine(dst_ip)
        hasher.combine(src_port)
        hasher.combine(dst_port)
        hasher.combine(proto)
    }
}
