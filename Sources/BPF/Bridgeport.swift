import CBPF
import Glibc
import Model
import Synchronization

/// The maps of bridgeport.h, typed. Open them from a loaded object (the agent)
/// or from their pins (an exporter or the CLI, without loading anything).
public struct BridgeportMaps: Sendable {
    /// an endpoint entry's stats_slot -> per-CPU rx/tx counters (an array)
    public let endpointStats: BPFPerCPUHashMap<UInt32, bp_endpoint_stats>
    /// The slots of endpointStats the entries hold, for the one that writes them (the agent).
    let statsSlots: StatsSlots
    /// host-side ifindex -> endpoint config
    public let endpoints: BPFHashMap<UInt32, bp_endpoint>
    /// The entries' stats_slots by ifindex, kept by the entries' writer (the agent: opened
    /// from its loaded object, or `writer` from pins); nil for a reader, which reads the entries.
    let slotIndex: EndpointSlotIndex?
    /// an endpoint entry's stats_slot -> the same entry and its veth (an array), for the
    /// flows that carry the slot: written with `endpoints`, before it names a slot and after
    /// it no longer does (bridgeport.h, struct bp_endpoint_slot)
    public let endpointSlots: BPFHashMap<UInt32, bp_endpoint_slot>
    /// {ifindex, reason, direction} -> per-CPU dropped packets
    public let drops: BPFPerCPUHashMap<bp_drop_key, UInt64>
    /// {host IP, host port, protocol} -> published container address
    public let ports: BPFHashMap<bp_port_key, bp_port_target>
    /// the host's own addresses (network byte order) -> 1
    public let hostAddresses: BPFHashMap<UInt32, UInt8>
    /// the flow table, with its timeouts and counters
    public let flows: FlowTable
    /// IPv6's flow table (NAT66), with the same timeouts and counters
    public let flows6: FlowTable6
    /// LPM trie: bridge networks' subnets -> network id and flags
    public let subnets: BPFHashMap<bp_subnet_key, bp_subnet>
    /// LPM trie: dual-stack networks' IPv6 subnets -> network id and flags
    public let subnets6: BPFHashMap<bp_subnet6_key, bp_subnet>
    /// the host's own IPv6 addresses (as on the wire) -> 1
    public let hostAddresses6: BPFHashMap<bp_addr6, UInt8>
    /// a bp_ports entry's stats_slot -> per-CPU packets, bytes and flows (an array)
    public let portStats: BPFPerCPUHashMap<UInt32, bp_port_stats>
    /// The slots of portStats and portStats6 the ports' entries hold (see publishedPorts).
    let portSlots: StatsSlots
    let portSlots6: StatsSlots
    /// LPM trie: {protocol, host port, source CIDR} allowed on restricted ports -> 1
    public let allow: BPFHashMap<bp_allow_key, UInt8>
    /// the container side of every published port -> whether (and how) it is restricted
    public let targets: BPFHashMap<bp_target_key, bp_target>
    /// IPv6's published ports, their counters, allow lists and targets (bp_ports' twins)
    public let ports6: BPFHashMap<bp_port6_key, bp_port6_target>
    public let portStats6: BPFPerCPUHashMap<UInt32, bp_port_stats>
    public let allow6: BPFHashMap<bp_allow6_key, UInt8>
    public let targets6: BPFHashMap<bp_target6_key, bp_target6>
    /// network namespace cookie -> where the socket hooks act, and for whom
    public let namespaces: BPFHashMap<UInt64, bp_netns>
    /// the cluster's hosts (network byte order) -> 1; 0.0.0.0 when this host is in a cluster
    public let vxlanPeers: BPFHashMap<UInt32, UInt8>
    /// overlay containers' addresses (network byte order) -> their VXLAN device, and their
    /// veth when they are this host's (bpf/lib/overlay.h)
    public let overlayDests: BPFHashMap<UInt32, bp_overlay_dest>
    /// the programs' monitor events (ring buffer; read it with EventRing)
    public let events: BPFMap
    /// which events the programs emit, and the count of those they lost
    public let monitor: MonitorSwitch

    public init(object: BPFObject) throws {
        try self.init(writer: true) { try object.map($0) }
    }

    /// Opens `<pinRoot>/<map name>` for each map. `writer`: this instance writes the
    /// endpoints' entries, alone (see slotIndex).
    public init(pinRoot: String, writer: Bool = false) throws {
        try self.init(writer: writer) { try BPFMap.openPinned(pinRoot + "/" + $0) }
    }

    private init(writer: Bool, _ map: (String) throws -> BPFMap) throws {
        slotIndex = writer ? EndpointSlotIndex() : nil
        endpointStats = try BPFPerCPUHashMap(map(BP_MAP_ENDPOINT_STATS))
        statsSlots = StatsSlots(capacity: endpointStats.map.maxEntries)
        endpoints = try BPFHashMap(map(BP_MAP_ENDPOINTS))
        endpointSlots = try BPFHashMap(map(BP_MAP_ENDPOINT_SLOTS))
        drops = try BPFPerCPUHashMap(map(BP_MAP_DROPS))
        ports = try BPFHashMap(map(BP_MAP_PORTS))
        hostAddresses = try BPFHashMap(map(BP_MAP_HOST_ADDRS))
        // The counted flows' maps are newer than the rest: pins of programs without them still open.
        flows = try FlowTable(
            flows: map(BP_MAP_FLOWS), counters: map(BP_MAP_FLOW_COUNTERS), config: map(BP_MAP_FLOW_CONFIG),
            accounts: try? map(BP_MAP_FLOW_ACCT))
        flows6 = try FlowTable6(
            flows: map(BP_MAP_FLOWS6), counters: map(BP_MAP_FLOW_COUNTERS), config: map(BP_MAP_FLOW_CONFIG),
            accounts: try? map(BP_MAP_FLOW_ACCT6))
        subnets = try BPFHashMap(map(BP_MAP_SUBNETS))
        subnets6 = try BPFHashMap(map(BP_MAP_SUBNETS6))
        hostAddresses6 = try BPFHashMap(map(BP_MAP_HOST_ADDRS6))
        targets = try BPFHashMap(map(BP_MAP_TARGETS))
        allow = try BPFHashMap(map(BP_MAP_ALLOW))
        portStats = try BPFPerCPUHashMap(map(BP_MAP_PORT_STATS))
        portSlots = StatsSlots(capacity: portStats.map.maxEntries, first: 1)
        ports6 = try BPFHashMap(map(BP_MAP_PORTS6))
        portStats6 = try BPFPerCPUHashMap(map(BP_MAP_PORT_STATS6))
        portSlots6 = StatsSlots(capacity: portStats6.map.maxEntries, first: 1)
        allow6 = try BPFHashMap(map(BP_MAP_ALLOW6))
        targets6 = try BPFHashMap(map(BP_MAP_TARGETS6))
        namespaces = try BPFHashMap(map(BP_MAP_NETNS))
        vxlanPeers = try BPFHashMap(map(BP_MAP_VXLAN_PEERS))
        overlayDests = try BPFHashMap(map(BP_MAP_OVERLAY_DESTS))
        events = try map(BP_MAP_EVENTS)
        monitor = MonitorSwitch(config: try map(BP_MAP_MONITOR), lost: try map(BP_MAP_EVENTS_LOST))
    }

    /// Counters of one endpoint summed over CPUs; nil if it has no entry.
    public func endpointStats(ifindex: UInt32) throws -> bp_endpoint_stats? {
        try endpoints.lookup(ifindex).flatMap { try endpointStats.sum($0.stats_slot) }
    }

    /// Counters of every endpoint with an entry, summed over CPUs, by ifindex (see
    /// endpointTraffic): the writer knows the entries' slots (slotIndex), a reader reads them.
    public func allEndpointStats() throws -> [UInt32: bp_endpoint_stats] {
        let read = { Self.slots(of: try endpoints.entries()) }
        let slots = try slotIndex?.slots(learning: read) ?? read()
        return try Self.endpointTraffic(stats: endpointStats, slots: slots)
    }

    /// These entries' stats_slots by ifindex.
    public static func slots(of entries: [(key: UInt32, value: bp_endpoint)]) -> [UInt32: UInt32] {
        Dictionary(entries.map { ($0.key, $0.value.stats_slot) }, uniquingKeysWith: { a, _ in a })
    }

    /// allEndpointStats from the counters' array (exporter-bench's stand-in too) and the
    /// endpoints' slots by ifindex: the array up to the highest slot they hold, in one batched
    /// read (slots stay low: StatsSlots).
    public static func endpointTraffic(
        stats: BPFPerCPUHashMap<UInt32, bp_endpoint_stats>, slots: [UInt32: UInt32]
    ) throws -> [UInt32: bp_endpoint_stats] {
        try stats.sums(bySlot: slots)
    }

    /// Drop counters summed over CPUs.
    public func dropCounts() throws -> [bp_drop_key: UInt64] {
        try drops.sumsByKey()
    }

    /// Writes an endpoint's entry (its stats_slot is the maps' business). A new endpoint
    /// gets a free slot of endpointStats, zeroed: its counters start at 0. One written again
    /// (its policy changed) keeps its slot and counters. The entries' writer serializes its
    /// calls to this and removeEndpoint (the agent's actor does).
    public func setEndpoint(ifindex: UInt32, _ endpoint: bp_endpoint) throws {
        var entry = endpoint
        if let current = try endpoints.lookup(ifindex) {
            entry.stats_slot = current.stats_slot
            try endpointSlots.update(entry.stats_slot, bp_endpoint_slot(ifindex: ifindex, endpoint: entry))
            return try endpoints.update(ifindex, entry)  // its slot, and the index's, unchanged
        }
        let slot = try statsSlots.take(1, zeroing: endpointStats, map: BP_MAP_ENDPOINT_STATS) {
            try endpoints.entries().map(\.value.stats_slot)
        }[0]
        do {
            entry.stats_slot = slot
            try endpointSlots.update(slot, bp_endpoint_slot(ifindex: ifindex, endpoint: entry))
            try endpoints.update(ifindex, entry)
            slotIndex?.set(ifindex, slot)
        } catch {
            try? endpointSlots.update(slot, bp_endpoint_slot(ifindex: 0, endpoint: entry))
            statsSlots.release(slot)
            throw error
        }
    }

    /// Writes every endpoint's entry into its slot of endpointSlots again, and clears the
    /// slots no entry holds: at start, after an agent that stopped between the two maps' writes
    /// or one that had no endpointSlots (an upgrade).
    public func syncEndpointSlots() throws {
        let entries = try endpoints.entries()
        // The writer's index starts again from the map too: an entry someone else changed
        // (bpftool) is seen from here on.
        slotIndex?.replace(Self.slots(of: entries))
        let held = Dictionary(entries.map { ($0.value.stats_slot, $0) }, uniquingKeysWith: { a, _ in a })
        for (slot, entry) in held {
            try endpointSlots.update(slot, bp_endpoint_slot(ifindex: entry.key, endpoint: entry.value))
        }
        for (slot, known) in try endpointSlots.entries() where known.ifindex != 0 && held[slot] == nil {
            try endpointSlots.update(slot, bp_endpoint_slot(ifindex: 0, endpoint: known.endpoint))
        }
    }

    /// setEndpoint with the policy in the model's terms.
    public func setEndpoint(ifindex: UInt32, _ policy: EndpointPolicy) throws {
        try setEndpoint(ifindex: ifindex, policy.raw)
    }

    /// Forgets an endpoint: config, counters and drop counters. Call after its veth
    /// is gone (or its programs detached), else the next packet recreates drop counters.
    public func removeEndpoint(ifindex: UInt32) throws {
        let entry = try endpoints.lookup(ifindex)
        // Only the ifindex cleared: a packet that reads the slot meanwhile sees the old entry
        // whole or not at all, never zeroed fields (a stats_slot 0 that is another's).
        if let entry { try endpointSlots.update(entry.stats_slot, bp_endpoint_slot(ifindex: 0, endpoint: entry)) }
        // Its overlay destination first (written with or without the flag since): bp_overlay_in
        // hands nothing more to the veth.
        if let ip = entry.map({ EndpointPolicy(raw: $0).ip }), try overlayDestinations.lookup(ip)?.veth == ifindex {
            try overlayDestinations.delete(ip)
        }
        try endpoints.delete(ifindex)
        slotIndex?.remove(ifindex)
        if let entry { statsSlots.release(entry.stats_slot) }
        for key in try drops.keys() where key.ifindex == ifindex {
            try drops.delete(key)
        }
    }
}

// MARK: - bridgeport.h types in Swift

extension bp_port_stats: BPFCounterValue, @retroactive Equatable {
    public static var zero: bp_port_stats { bp_port_stats() }
    public static func &+ (a: bp_port_stats, b: bp_port_stats) -> bp_port_stats {
        bp_port_stats(packets: a.packets &+ b.packets, bytes: a.bytes &+ b.bytes, flows: a.flows &+ b.flows)
    }
    public static func == (a: bp_port_stats, b: bp_port_stats) -> Bool {
        a.packets == b.packets && a.bytes == b.bytes && a.flows == b.flows
    }
}

extension bp_traffic: BPFCounterValue, @retroactive Equatable, @retroactive CustomStringConvertible {
    public static var zero: bp_traffic { bp_traffic() }
    public static func &+ (a: bp_traffic, b: bp_traffic) -> bp_traffic {
        bp_traffic(packets: a.packets &+ b.packets, bytes: a.bytes &+ b.bytes)
    }
    public static func == (a: bp_traffic, b: bp_traffic) -> Bool {
        a.packets == b.packets && a.bytes == b.bytes
    }
    public var description: String { "\(packets) packets, \(bytes) bytes" }
}

extension bp_endpoint_stats: BPFCounterValue, @retroactive Equatable, @retroactive CustomStringConvertible {
    public static var zero: bp_endpoint_stats { bp_endpoint_stats() }
    public static func &+ (a: bp_endpoint_stats, b: bp_endpoint_stats) -> bp_endpoint_stats {
        bp_endpoint_stats(rx: a.rx &+ b.rx, tx: a.tx &+ b.tx)
    }
    public static func == (a: bp_endpoint_stats, b: bp_endpoint_stats) -> Bool {
        a.rx == b.rx && a.tx == b.tx
    }
    public var description: String { "rx: \(rx); tx: \(tx)" }
}

extension bp_drop_key: @retroactive Hashable {
    public init(ifindex: UInt32, reason: bp_drop_reason, direction: bp_direction) {
        self.init(ifindex: ifindex, reason: UInt8(reason.rawValue), direction: UInt8(direction.rawValue), pad: 0)
    }
    public static func == (a: bp_drop_key, b: bp_drop_key) -> Bool {
        a.ifindex == b.ifindex && a.reason == b.reason && a.direction == b.direction && a.pad == b.pad
    }
    public func hash(into hasher: inout Hasher) {
        hasher.combine(ifindex)
        hasher.combine(reason)
        hasher.combine(direction)
    }
    /// Metric label value of the reason, e.g. "spoofed_source".
    public var reasonLabel: String { String(cString: bp_drop_reason_label(UInt32(reason))) }
    /// Metric label value of the direction: "ingress" or "egress".
    public var directionLabel: String { String(cString: bp_direction_label(UInt32(direction))) }
}

extension bp_endpoint: @retroactive Equatable {
    /// - ipv4: the container's address as 4 octets (a.b.c.d), stored in network byte order.
    /// - mac: 6 octets of the container-side interface.
    /// - ipv6: its IPv6 address as 16 octets, or none (stored as all zero).
    /// - gatewayMAC: 6 octets of its bridge's MAC, or none (stored as all zero), and `mtu`,
    ///   its interface's.
    public init(
        ipv4: [UInt8], mac: [UInt8], networkID: UInt16, flags: UInt32, ipv6: [UInt8]? = nil, gatewayMAC: [UInt8]? = nil,
        mtu: UInt16 = 0
    ) {
        precondition(ipv4.count == 4 && mac.count == 6, "bp_endpoint: 4-octet IPv4 and 6-octet MAC expected")
        precondition(ipv6 == nil || ipv6?.count == 16, "bp_endpoint: 16-octet IPv6 expected")
        precondition(gatewayMAC == nil || gatewayMAC?.count == 6, "bp_endpoint: 6-octet gateway MAC expected")
        self.init()
        // Network byte order = the octets in memory order.
        self.ip = UInt32(ipv4[0]) | UInt32(ipv4[1]) << 8 | UInt32(ipv4[2]) << 16 | UInt32(ipv4[3]) << 24
        self.mac = (mac[0], mac[1], mac[2], mac[3], mac[4], mac[5])
        self.network_id = networkID
        self.flags = flags
        if let ipv6 { withUnsafeMutableBytes(of: &ip6) { $0.copyBytes(from: ipv6) } }
        if let gatewayMAC { withUnsafeMutableBytes(of: &gateway_mac) { $0.copyBytes(from: gatewayMAC) } }
        self.mtu = mtu
    }
    public var ipv4Octets: [UInt8] { withUnsafeBytes(of: ip) { Array($0) } }
    public var macOctets: [UInt8] { withUnsafeBytes(of: mac) { Array($0) } }
    /// The IPv6 address's 16 octets; all zero: none.
    public var ipv6Octets: [UInt8] { withUnsafeBytes(of: ip6) { Array($0) } }
    /// The gateway MAC's 6 octets; all zero: none.
    public var gatewayMACOctets: [UInt8] { withUnsafeBytes(of: gateway_mac) { Array($0) } }
    public static func == (a: bp_endpoint, b: bp_endpoint) -> Bool {
        a.ip == b.ip && a.macOctets == b.macOctets && a.network_id == b.network_id && a.flags == b.flags
            && a.ipv6Octets == b.ipv6Octets && a.gatewayMACOctets == b.gatewayMACOctets && a.mtu == b.mtu
            && a.stats_slot == b.stats_slot && a.subnet_mask == b.subnet_mask
            && a.subnet.network_id == b.subnet.network_id && a.subnet.flags == b.subnet.flags
    }
}

/// Each endpoint entry's stats_slot by its ifindex, as bp_endpoints holds them: learnt from
/// the map when first asked, then kept as the one writer of the entries writes them (each
/// change after the map's), so that a scrape reads the counters alone, not every entry of the
/// hash (at 10,000 endpoints, half the read's time).
final class EndpointSlotIndex: Sendable {
    private let index = Mutex<[UInt32: UInt32]?>(nil)

    /// Every entry's slot; `learning` reads them from the map the first time.
    func slots(learning read: () throws -> [UInt32: UInt32]) throws -> [UInt32: UInt32] {
        try index.withLock { index in
            if let index { return index }
            let learnt = try read()
            index = learnt
            return learnt
        }
    }

    func set(_ ifindex: UInt32, _ slot: UInt32) { index.withLock { $0?[ifindex] = slot } }
    func replace(_ slots: [UInt32: UInt32]) { index.withLock { $0 = slots } }
    func remove(_ ifindex: UInt32) { index.withLock { $0?[ifindex] = nil } }
}

/// Which slots of a counters' array (bp_ep_stats, bp_port_stats) the entries that name them
/// hold: learnt from the entries when first asked (the pins outlive the agent), then kept as
/// slots are given and given back. Slots stay below a high-water mark (a scrape reads the
/// array up to it, not all of it): a new one is the mark's, and a slot given back rests until
/// `rest` more were given back before it is given again, so that a packet in flight as its
/// owner went never counts for another. Slots below `first` are never given. For the one
/// writer of the entries (the agent, whose actor serializes its writes).
final class StatsSlots: Sendable {
    private struct State {
        var used: Set<UInt32> = []
        var mark: UInt32 = 0
        /// Given back, oldest first, from `restingHead` on (taken from the front in O(1)).
        var resting: [UInt32] = []
        var restingHead = 0
        var restingCount: Int { resting.count - restingHead }
        /// Given back, but maybe named by flows still (see release).
        var unsettled: [UInt32] = []
        var learnt = false

        mutating func takeResting() -> UInt32 {
            let slot = resting[restingHead]
            restingHead += 1
            if restingHead >= 1024 && restingHead * 2 >= resting.count {
                resting.removeFirst(restingHead)
                restingHead = 0
            }
            return slot
        }
    }
    private let state = Mutex(State())
    let capacity: UInt32
    let first: UInt32
    let rest: Int

    init(capacity: UInt32, first: UInt32 = 0, rest: Int = 64) {
        (self.capacity, self.first, self.rest) = (capacity, first, rest)
    }

    /// `count` free slots, now held, with their counters set to zero in `stats` at once: their
    /// owners' counters start at 0. Slots that could not be zeroed are given back.
    func take<Value>(
        _ count: Int, zeroing stats: BPFPerCPUHashMap<UInt32, Value>, map: String, held: () throws -> [UInt32]
    ) throws -> [UInt32] {
        var taken: [UInt32] = []
        do {
            for _ in 0..<count { taken.append(try take(map: map, held: held)) }
            try stats.zero(taken)
        } catch {
            taken.forEach { release($0) }
            throw error
        }
        return taken
    }

    /// A free slot, now held; `held` reads the slots the entries hold (once). Throws
    /// ENOSPC (naming `map`) when every slot is held.
    func take(map: String, held: () throws -> [UInt32]) throws -> UInt32 {
        try state.withLock { state in
            if !state.learnt {
                state.used = Set(try held().filter { $0 >= first })
                state.mark = max(first, (state.used.max() ?? UInt32.max) &+ 1)
                state.resting = (first..<state.mark).filter { !state.used.contains($0) }
                state.learnt = true
            }
            let slot: UInt32
            if state.restingCount > rest || (state.mark >= capacity && state.restingCount > 0) {
                slot = state.takeResting()
            } else if state.mark < capacity {
                slot = state.mark
                state.mark += 1
            } else {
                throw BPFError.mapOperation(
                    map: map, operation: "give a counters' slot (all \(capacity) are held)", errno: ENOSPC)
            }
            state.used.insert(slot)
            return slot
        }
    }

    /// Gives `slot` back. One that flows may still name (a published port's, which its flows
    /// carry) is `unsettled`: it rests only once `settle` says those flows are gone, so that
    /// no flow of a removed port ever counts for the next owner of its slot.
    func release(_ slot: UInt32, unsettled: Bool = false) {
        state.withLock { state in
            guard state.learnt, slot >= first, state.used.remove(slot) != nil else { return }
            if unsettled { state.unsettled.append(slot) } else { state.resting.append(slot) }
        }
    }

    /// The flows that named the unsettled slots are gone (flushed): they rest from now on.
    func settle() {
        state.withLock { state in
            state.resting += state.unsettled
            state.unsettled = []
        }
    }
}
