import CBPF
import Glibc

/// One flow of the table, read from its two entries (bridgeport.h, "Flows").
public struct Flow: Sendable {
    /// The tuple of its first packet, and the one its replies have.
    public var original: bp_flow_key
    public var reply: bp_flow_key
    /// The original's entry: kind, state, translation, the container's veth, start.
    public var entry: bp_flow
    /// When it expires, unless a packet comes: the later of its entries' times.
    public var expires: UInt32

    public var proto: UInt8 { original.proto }
    public var kind: bp_flow_kind { bp_flow_kind(UInt32(entry.kind)) }
    /// "established", "unreplied", ... (the metric label).
    public var stateLabel: String { String(cString: bp_flow_state_label(UInt32(entry.state))) }
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
}

/// The flow table (bp_flows) with its timeouts (bp_flow_config) and event counters
/// (bp_flow_counts): flows read from their entry pairs, removed by pairs (expired,
/// evicted or flushed), and counted.
public struct FlowTable: Sendable {
    public let map: BPFMap
    let counterMap: BPFMap
    let configMap: BPFMap

    public init(flows: BPFMap, counters: BPFMap, config: BPFMap) throws {
        try flows.check(key: bp_flow_key.self, value: bp_flow.self, perCPU: false)
        try counters.check(key: UInt32.self, value: UInt64.self, perCPU: true)
        try config.check(key: UInt32.self, value: bp_flow_config.self, perCPU: false)
        map = flows
        counterMap = counters
        configMap = config
    }

    /// Flows the table can hold (two entries each).
    public var capacity: Int { Int(map.maxEntries) / 2 }

    /// Seconds of CLOCK_MONOTONIC: the programs' clock (bpf_ktime_get_coarse_ns).
    public static func now() -> UInt32 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return UInt32(truncatingIfNeeded: time.tv_sec)
    }

    /// The tuple of the other direction of an entry's flow.
    public static func otherKey(_ key: bp_flow_key, _ entry: bp_flow) -> bp_flow_key {
        var key = key
        var entry = entry
        var other = bp_flow_key()
        bp_flow_other_key(&key, &entry, &other)
        return other
    }

    static func isReply(_ entry: bp_flow) -> Bool { entry.flags & UInt8(BP_FLOW_F_REPLY.rawValue) != 0 }

    // MARK: Reading

    /// Every live flow. Reads the whole table at once: for listing, not for the collector.
    public func flows(now: UInt32 = FlowTable.now()) throws -> [Flow] {
        var entries: [bp_flow_key: bp_flow] = [:]
        try map.forEachBatch(bp_flow_key.self, bp_flow.self) { batch in
            for (key, entry) in batch { entries[key] = entry }
        }
        return entries.compactMap { key, entry in
            guard !FlowTable.isReply(entry) else { return nil }
            let reply = FlowTable.otherKey(key, entry)
            let expires = max(entry.expires, entries[reply]?.expires ?? 0)
            guard expires >= now else { return nil }
            return Flow(original: key, reply: reply, entry: entry, expires: expires)
        }
    }

    // MARK: Collecting

    /// What one collector pass did.
    public struct Pass: Sendable {
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
    }

    /// One pass of the garbage collector: removes every flow that expired (both entries; an
    /// entry whose other half is gone once it expired), and counts the rest. When the table
    /// is still fuller than `evictAbove`, flows from outside that were never answered
    /// (embryonic published flows: a SYN flood's) go early, oldest first, down to
    /// `evictTo`, as Linux's early_drop spares assured connections. Established flows and
    /// flows the containers opened are never evicted. The table is read in chunks, so the
    /// pass holds only what it may remove; each removal takes the entry out atomically and
    /// checks it again, so a flow a packet refreshed (or a program removed and started
    /// anew) meanwhile is left alone.
    public func collect(now: UInt32 = FlowTable.now(), evictAbove: Double = 0.9, evictTo: Double = 0.75) throws -> Pass
    {
        var pass = Pass()
        var census = CensusBuilder()
        var expiredOriginals: [(key: bp_flow_key, entry: bp_flow)] = []
        var expiredReplies: [bp_flow_key] = []
        var embryonic: [(key: bp_flow_key, entry: bp_flow)] = []
        try map.forEachBatch(bp_flow_key.self, bp_flow.self) { batch in
            pass.scanned += batch.count
            for (key, entry) in batch {
                let reply = FlowTable.isReply(entry)
                if entry.expires < now {
                    if reply { expiredReplies.append(key) } else { expiredOriginals.append((key, entry)) }
                } else if !reply {
                    census.add(key, entry)
                    if FlowTable.isEmbryonic(entry) { embryonic.append((key, entry)) }
                }
            }
        }
        var removedEntries = 0
        let expired = { (entry: bp_flow) in entry.expires < now }
        for (key, entry) in expiredOriginals {
            let halves = try removeFlow(key, if: expired)
            if halves > 0 {
                pass.expired[key.proto, default: 0] += 1
                removedEntries += halves
            } else if let now = try map.lookup(key, as: bp_flow.self), !expired(now) {
                census.add(key, entry)  // refreshed meanwhile
            }
        }
        // Replies left behind by a flow half-made or half-removed (an agent killed between two
        // writes): removed once expired, unless their original is there after all.
        for key in expiredReplies {
            let orphan = try remove(key) { entry in
                try expired(entry) && !isHalf(FlowTable.otherKey(key, entry), of: key)
            }
            if orphan != nil { removedEntries += 1 }
        }

        var left = pass.scanned - removedEntries
        let entries = Double(map.maxEntries)
        if Double(left) > evictAbove * entries {
            let excessFlows = (left - Int(evictTo * entries) + 1) / 2
            for victim in embryonic.sorted(by: { $0.entry.created < $1.entry.created }).prefix(excessFlows) {
                let halves = try removeFlow(victim.key) {
                    FlowTable.isEmbryonic($0) && $0.created == victim.entry.created
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
        try add(index: FlowTable.gcRunsIndex, 1)
        return pass
    }

    /// Takes the entry at `key` out if `condition` holds for it as it is at that moment;
    /// an entry that fails it goes back (unless a packet made a new one there meanwhile).
    /// Returns the removed entry.
    private func remove(_ key: bp_flow_key, if condition: (bp_flow) throws -> Bool) throws -> bp_flow? {
        guard let entry = try map.lookupAndDelete(key, as: bp_flow.self) else { return nil }
        if try condition(entry) { return entry }
        try? map.update(key, entry, flags: .noExist)
        return nil
    }

    /// Removes the flow whose entry is at `key` if `condition` holds for that entry: the
    /// entry, then its other half when it leads back. Returns the entries removed (0: none).
    private func removeFlow(_ key: bp_flow_key, if condition: (bp_flow) throws -> Bool) throws -> Int {
        guard let entry = try remove(key, if: condition) else { return 0 }
        let other = FlowTable.otherKey(key, entry)
        return try remove(other) { FlowTable.otherKey(other, $0) == key } == nil ? 1 : 2
    }

    /// Whether the entry at `key` is there and is the other half of the entry at `half`.
    private func isHalf(_ key: bp_flow_key, of half: bp_flow_key) throws -> Bool {
        guard let entry = try map.lookup(key, as: bp_flow.self) else { return false }
        return FlowTable.otherKey(key, entry) == half
    }

    /// A flow from outside that was never answered, or answered but never acknowledged.
    static func isEmbryonic(_ entry: bp_flow) -> Bool {
        guard entry.kind == UInt8(BP_FLOW_PUBLISHED.rawValue) else { return false }
        let state = bp_flow_state(UInt32(entry.state))
        return state == BP_FLOW_SYN_SENT || state == BP_FLOW_SYN_RECV || state == BP_FLOW_UNREPLIED
    }

    // MARK: Flushing

    /// Removes every flow one of whose entries matches, both of its entries; counted as
    /// flushed. Returns the number of flows removed.
    @discardableResult
    public func flush(where matches: (bp_flow_key, bp_flow) -> Bool) throws -> Int {
        var pairs: [bp_flow_key: bp_flow_key] = [:]  // original -> reply
        try map.forEachBatch(bp_flow_key.self, bp_flow.self) { batch in
            for (key, entry) in batch where matches(key, entry) {
                let other = FlowTable.otherKey(key, entry)
                if FlowTable.isReply(entry) { pairs[other] = key } else { pairs[key] = other }
            }
        }
        guard !pairs.isEmpty else { return 0 }
        try map.deleteBatch(Array(pairs.keys))
        try map.deleteBatch(Array(pairs.values))
        try count(BP_FLOW_EV_FLUSHED, Dictionary(grouping: pairs.keys, by: \.proto).mapValues(\.count))
        return pairs.count
    }

    /// Removes every flow of a container: of its veth, or naming its address.
    @discardableResult
    public func flush(ifindex: UInt32?, address: UInt32?) throws -> Int {
        try flush { key, entry in
            (ifindex != nil && entry.ifindex == ifindex)
                || (address != nil && (key.src_ip == address || key.dst_ip == address || entry.nat_ip == address))
        }
    }

    /// Removes every flow that names one of these addresses (host addresses that went).
    @discardableResult
    public func flush(addresses: Set<UInt32>) throws -> Int {
        guard !addresses.isEmpty else { return 0 }
        return try flush { key, entry in
            addresses.contains(key.src_ip) || addresses.contains(key.dst_ip) || addresses.contains(entry.nat_ip)
        }
    }

    // MARK: Counters

    /// Every counter of bp_flow_counts, summed over CPUs, by index.
    public func counters() throws -> [UInt32: UInt64] {
        Dictionary(
            try counterMap.perCPUEntries(as: (UInt32.self, UInt64.self)).map { ($0.key, UInt64.sum($0.values)) },
            uniquingKeysWith: { a, _ in a })
    }

    /// The index of an event's counter for a protocol (BP_FLOW_COUNTER).
    public static func counterIndex(_ event: bp_flow_event, proto: UInt8) -> UInt32 {
        event.rawValue * 4 + bp_flow_protocol_slot(proto)
    }

    /// BP_FLOW_COUNTER_GC_RUNS: the collector's passes.
    public static let gcRunsIndex = __BP_FLOW_EV_MAX.rawValue * 4

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
private struct CensusBuilder {
    var census = FlowCensus()
    var ports: [FlowCensus.HostKey: [UInt64]] = [:]

    mutating func add(_ key: bp_flow_key, _ entry: bp_flow) { change(key, entry, by: 1) }
    mutating func remove(_ key: bp_flow_key, _ entry: bp_flow) { change(key, entry, by: -1) }

    private mutating func change(_ key: bp_flow_key, _ entry: bp_flow, by delta: Int) {
        census.flows[FlowCensus.StateKey(proto: key.proto, state: entry.state), default: 0] += delta
        guard entry.kind == UInt8(BP_FLOW_MASQUERADE.rawValue) else { return }
        let host = FlowCensus.HostKey(hostIP: entry.nat_ip, proto: key.proto)
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
        self.init(
            nat_ip: natIP, nat_port: natPort, peer_port: 0, ifindex: ifindex, created: created, expires: expires,
            kind: UInt8(kind.rawValue), state: UInt8(state.rawValue), flags: UInt8(flags), seen: 0)
    }
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
