import API
import BPF
import Datapath
import Dispatch
import FoundationEssentials
import Glibc
import Logging
import Model
import ServiceLifecycle
import Synchronization

/// Who an event is about: the container and network of the veth it is reported on.
struct EventEndpoint: Sendable, Equatable {
    var containerID: String
    /// Its name; another runtime's container: its ID.
    var container: String
    /// The network's ID; another runtime's attachment: its network's name.
    var networkID: String
    var network: String
    var interface: String
}

/// The agent's endpoints by ifindex, as the monitor labels and filters events.
struct EventDirectory: Sendable {
    var endpoints: [UInt32: EventEndpoint] = [:]
}

/// What one monitor asked for, resolved to IDs by the agent.
struct MonitorFilter: Sendable, Equatable {
    var kinds: Set<MonitorEventKind>
    var containerID: String?
    var networkID: String?
    var reason: DropReason?

    func admits(_ record: MonitorRecord, _ endpoint: EventEndpoint?) -> Bool {
        guard kinds.contains(record.kind) else { return false }
        if let containerID, endpoint?.containerID != containerID { return false }
        if let networkID, endpoint?.networkID != networkID { return false }
        if let reason {
            guard case .drop(let drop) = record, drop.reason == reason else { return false }
        }
        return true
    }
}

/// What a monitor's stream carries: events, and a beat now and then, by which the API
/// finds monitors whose client went away while nothing happened.
enum MonitorItem: Sendable {
    /// What one read of the ring brought that the monitor's filter admits.
    case events([MonitorEvent])
    case heartbeat
}

/// The agent's side of `bridgeport monitor` (cf. Cilium's monitor agent): one thread reads
/// the programs' ring buffer, labels each event with its container and network, keeps each
/// container's last drops for inspect and stats, and hands the events to every monitor
/// whose filter admits them. The programs emit a type only while someone wants it: drops
/// always (the agent's own record of the last drops), flows while a monitor asks.
///
/// A monitor that does not keep up (its queue full) is dropped with a message; it never
/// holds up the reader, the other monitors or the dataplane.
final class MonitorHub: Sendable {
    /// A monitor's queue: at 100 bytes an event, a few hundred KiB at most.
    static let queueLength = 4096
    /// Drops kept per container for inspect and stats.
    static let recentDrops = 5
    /// How often an idle stream gets a beat.
    static let heartbeat = Duration.seconds(5)

    final class Subscriber: Sendable {
        let id: Int
        let filter: MonitorFilter
        let continuation: AsyncStream<MonitorItem>.Continuation
        /// Set when its queue overflowed and the hub let it go.
        let overflowed = Atomic<Bool>(false)
        /// Set when the agent stops.
        let agentStopped = Atomic<Bool>(false)
        /// Events handed to its stream and not yet written out (see `written`).
        let queued = Atomic<Int>(0)

        init(id: Int, filter: MonitorFilter, continuation: AsyncStream<MonitorItem>.Continuation) {
            (self.id, self.filter, self.continuation) = (id, filter, continuation)
        }

        var hasOverflowed: Bool { overflowed.load(ordering: .relaxed) }

        /// The API wrote `count` of its events to the client.
        func written(_ count: Int) { queued.subtract(count, ordering: .relaxed) }
    }

    private struct State {
        var subscribers: [Int: Subscriber] = [:]
        var nextID = 0
        var directory = EventDirectory()
        var recent: [String: [MonitorEvent]] = [:]
        var delivered: [MonitorEventKind: UInt64] = [:]
        /// Ifindexes events named that the directory lacked (the host's interfaces, and
        /// veths gone): they ask for no refresh again until a monitor comes.
        var unknown: Set<UInt32> = []
        var lastRefresh = ContinuousClock.now - .seconds(10)
        /// The host's interface names by ifindex, for its drops' events.
        var interfaceNames: [UInt32: String] = [:]
        /// The reader has stopped (the agent stops): no monitor may come.
        var stopped = false
    }

    let source: any MonitorSource
    /// Events per second per CPU and type the programs may emit (--monitor-rate).
    let rate: UInt32
    private let logger: Logger
    private let state = Mutex(State())

    init(source: any MonitorSource, rate: UInt32, logger: Logger) {
        self.source = source
        self.rate = rate
        self.logger = logger
    }

    // MARK: Monitors

    /// Registers a monitor; its stream ends when `unsubscribe` is called or it overflowed.
    func subscribe(_ filter: MonitorFilter) throws -> (Subscriber, AsyncStream<MonitorItem>) {
        // Unbounded as a stream: the hub bounds it by the events queued (Subscriber.queued).
        let (stream, continuation) = AsyncStream.makeStream(of: MonitorItem.self)
        let subscriber = try state.withLock { state in
            guard !state.stopped else { throw MonitorStopped() }
            state.nextID += 1
            let subscriber = Subscriber(id: state.nextID, filter: filter, continuation: continuation)
            state.subscribers[subscriber.id] = subscriber
            // The API refreshed the directory for it: look for all again, names too.
            state.unknown = []
            state.interfaceNames = [:]
            return subscriber
        }
        do {
            try updateSubscriptions()
        } catch {
            unsubscribe(subscriber)
            throw error
        }
        return (subscriber, stream)
    }

    func unsubscribe(_ subscriber: Subscriber) {
        let removed = state.withLock { $0.subscribers.removeValue(forKey: subscriber.id) != nil }
        subscriber.continuation.finish()
        if removed { updateSubscriptionsLogging() }
    }

    /// Drops always; flows while a monitor wants them; nothing once the agent stops.
    private func updateSubscriptions() throws {
        let kinds = state.withLock { state in
            state.stopped
                ? []
                : state.subscribers.values.reduce(into: Set([MonitorEventKind.drop])) { $0.formUnion($1.filter.kinds) }
        }
        try source.set(subscribed: kinds, rate: rate)
    }

    private func updateSubscriptionsLogging() {
        do { try updateSubscriptions() } catch { logger.warning("monitor: cannot update the programs: \(error)") }
    }

    var monitorCount: Int { state.withLock { $0.subscribers.count } }

    // MARK: What the agent shows

    /// A container's last drops, oldest first.
    func recentDrops(of containerID: String) -> [MonitorEvent] {
        state.withLock { $0.recent[containerID] ?? [] }
    }

    func forget(container containerID: String) {
        state.withLock { _ = $0.recent.removeValue(forKey: containerID) }
    }

    /// Events handed to the agent, by type (before the monitors' filters).
    var delivered: [MonitorEventKind: UInt64] { state.withLock { $0.delivered } }

    func update(directory: EventDirectory) {
        state.withLock {
            $0.directory = directory
            $0.lastRefresh = .now
        }
    }

    /// The monitor's metrics: events read and lost by type, and monitors connected.
    func families(lost: [MonitorEventKind: UInt64]) -> [MetricFamily] {
        var read = MetricFamily(
            name: "bridgeport_monitor_events",
            help: "Events the agent read from the programs, by type (drops are always read: inspect shows the last).",
            kind: .counter)
        var lostFamily = MetricFamily(
            name: "bridgeport_monitor_events_lost",
            help:
                "Events the programs could not emit, over the rate limit (--monitor-rate) or with the ring full, by type.",
            kind: .counter)
        var monitors = MetricFamily(
            name: "bridgeport_monitors", help: "Monitors (bridgeport monitor) connected.", kind: .gauge)
        let delivered = self.delivered
        for kind in MonitorEventKind.allCases {
            read.add([("type", kind.rawValue)], delivered[kind] ?? 0)
            lostFamily.add([("type", kind.rawValue)], lost[kind] ?? 0)
        }
        monitors.add([], monitorCount)
        return [read, lostFamily, monitors]
    }

    // MARK: Reading

    /// Reads the ring until the agent stops: on a thread of its own, as polling blocks.
    /// `directory` labels events; it is asked again when an event names an ifindex it lacks
    /// (at most 4 times a second).
    func run(directory: @escaping @Sendable () async -> EventDirectory) async throws {
        let reader = try source.makeReader()
        try updateSubscriptions()
        update(directory: await directory())
        let stop = Atomic<Bool>(false)
        let box = UncheckedBox(reader)
        // Cancelled (another service failed) or shut down gracefully: the thread stops either way.
        await withTaskCancellationOrGracefulShutdownHandler {
            await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
                startThread { [self] in
                    self.readLoop(box.value, stop: stop, directory: directory)
                    done.resume()
                }
            }
        } onCancelOrGracefulShutdown: {
            stop.store(true, ordering: .relaxed)
        }
        let subscribers = state.withLock { state in
            state.stopped = true
            defer { state.subscribers = [:] }
            return Array(state.subscribers.values)
        }
        for subscriber in subscribers {
            subscriber.agentStopped.store(true, ordering: .relaxed)
            subscriber.continuation.finish()
        }
        // Nobody reads the ring now: the programs stop writing to it until the next agent.
        updateSubscriptionsLogging()
    }

    private func readLoop(
        _ reader: any MonitorReader, stop: borrowing Atomic<Bool>,
        directory: @escaping @Sendable () async -> EventDirectory
    ) {
        var lastBeat = ContinuousClock.now
        while !stop.load(ordering: .relaxed) {
            do {
                let records = try reader.poll(timeout: 100)
                if !records.isEmpty { deliver(records, refresh: directory) }
            } catch {
                logger.error("monitor: reading the programs' events failed: \(error)")
                sleep(1)
            }
            if ContinuousClock.now - lastBeat >= MonitorHub.heartbeat {
                lastBeat = .now
                state.withLock { state in
                    for subscriber in state.subscribers.values { _ = subscriber.continuation.yield(.heartbeat) }
                }
            }
        }
    }

    /// Where the flows that end without a program's event are reported: by the flow tables'
    /// endings, as the collector's passes (expired, evicted) and flushes remove them. The
    /// programs report the rest.
    var endedFlows: @Sendable ([FlowRecord]) -> Void {
        { [self] flows in deliver(flows.map(MonitorRecord.flow)) }
    }

    /// Labels the records and hands them out. An ifindex the directory lacks (a container
    /// made since) has it asked again first, at most 4 times a second: `refresh` blocks this
    /// thread (the reader's own) until the agent answers, 250 ms at most.
    func deliver(_ records: [MonitorRecord], refresh: (@Sendable () async -> EventDirectory)? = nil) {
        if let refresh, needsRefresh(for: records) {
            let answer = Mutex<EventDirectory?>(nil)
            let done = DispatchSemaphore(value: 0)
            Task {
                let directory = await refresh()
                answer.withLock { $0 = directory }
                done.signal()
            }
            _ = done.wait(timeout: .now() + .milliseconds(250))
            if let directory = answer.withLock({ $0 }) { update(directory: directory) }
        }
        // Labeled and filtered on a copy, outside the lock that inspect, stats and the API share.
        let (directory, subscribers, names) = state.withLock {
            ($0.directory, Array($0.subscribers.values), $0.interfaceNames)
        }
        let clock = MonotonicToWall()
        var batches: [ObjectIdentifier: [MonitorEvent]] = [:]
        var recent: [(String, MonitorEvent)] = []
        var unknown: [UInt32: String?] = [:]
        for record in records {
            let endpoint = directory.endpoints[record.ifindex]
            let wanted = subscribers.filter { $0.filter.admits(record, endpoint) }
            let isDrop = if case .drop = record { true } else { false }
            guard !wanted.isEmpty || (isDrop && endpoint != nil) else {
                if endpoint == nil && unknown.index(forKey: record.ifindex) == nil {
                    unknown.updateValue(nil, forKey: record.ifindex)
                }
                continue
            }
            var hostInterface: String?
            if endpoint == nil {
                if let name = names[record.ifindex] {
                    hostInterface = name
                } else if let seen = unknown[record.ifindex], let name = seen {
                    hostInterface = name
                } else {
                    hostInterface = MonitorEvent.interfaceName(record.ifindex)
                    unknown.updateValue(hostInterface, forKey: record.ifindex)
                }
            }
            let event = MonitorEvent(
                record, endpoint: endpoint, hostInterface: hostInterface, time: clock.time(of: record))
            if isDrop, let id = endpoint?.containerID { recent.append((id, event)) }
            for subscriber in wanted { batches[ObjectIdentifier(subscriber), default: []].append(event) }
        }
        var overflowed: [Subscriber] = []
        for subscriber in subscribers {
            guard let batch = batches[ObjectIdentifier(subscriber)] else { continue }
            // Let go only a monitor that had a queue's worth waiting already: one read of a
            // full ring is more than that, and a monitor that keeps up must take it.
            let waiting = subscriber.queued.add(batch.count, ordering: .relaxed).oldValue
            if waiting >= MonitorHub.queueLength {
                subscriber.overflowed.store(true, ordering: .relaxed)
                overflowed.append(subscriber)
            } else {
                subscriber.continuation.yield(.events(batch))
            }
        }
        state.withLock { state in
            for record in records { state.delivered[record.kind, default: 0] += 1 }
            for (ifindex, name) in unknown {
                // Known to be nobody's only once the directory was asked again for it (the
                // ring's records); the collector's and flushes' are delivered without asking.
                if refresh != nil { state.unknown.insert(ifindex) }
                if let name { state.interfaceNames[ifindex] = name }
            }
            for (id, event) in recent {
                state.recent[id, default: []].append(event)
                if state.recent[id]!.count > MonitorHub.recentDrops { state.recent[id]!.removeFirst() }
            }
            for subscriber in overflowed { state.subscribers[subscriber.id] = nil }
        }
        // Its stream ends after what it holds, and the API adds a last word.
        for subscriber in overflowed { subscriber.continuation.finish() }
        if !overflowed.isEmpty { updateSubscriptionsLogging() }
    }

    /// Whether a record names an ifindex neither known nor already looked for (the host's
    /// own interfaces are never known), and a refresh is due.
    private func needsRefresh(for records: [MonitorRecord]) -> Bool {
        state.withLock { state in
            records.contains { state.directory.endpoints[$0.ifindex] == nil && !state.unknown.contains($0.ifindex) }
                && ContinuousClock.now - state.lastRefresh >= .milliseconds(250)
        }
    }
}

/// A monitor asked for once the agent is stopping.
struct MonitorStopped: Error, CustomStringConvertible {
    var description: String { "the agent is shutting down" }
}

/// The reader is used by the one thread that polls it.
private struct UncheckedBox<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}

/// The programs stamp events with CLOCK_MONOTONIC; monitors show wall-clock time.
struct MonotonicToWall {
    let offset: Int128

    init() {
        var real = timespec()
        var mono = timespec()
        clock_gettime(CLOCK_REALTIME, &real)
        clock_gettime(CLOCK_MONOTONIC, &mono)
        offset = Int128(real.tv_sec - mono.tv_sec) * 1_000_000_000 + Int128(real.tv_nsec - mono.tv_nsec)
    }

    /// Now, in nanoseconds since the epoch.
    static var now: Int128 {
        var real = timespec()
        clock_gettime(CLOCK_REALTIME, &real)
        return Int128(real.tv_sec) * 1_000_000_000 + Int128(real.tv_nsec)
    }

    /// Nanoseconds since the epoch.
    func nanoseconds(_ monotonic: UInt64) -> Int128 { Int128(monotonic) + offset }

    func time(of record: MonitorRecord) -> String {
        let time =
            switch record {
            case .drop(let drop): drop.time
            case .flow(let flow): flow.time
            }
        return MonotonicToWall.rfc3339(nanoseconds(time))
    }

    /// "2026-11-30T17:01:02.123456789Z", as Docker's events show time.
    static func rfc3339(_ nanoseconds: Int128) -> String {
        var seconds = time_t(nanoseconds / 1_000_000_000)
        let fraction = Int(nanoseconds % 1_000_000_000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func pad(_ value: Int32, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        let digits = String(fraction)
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2))."
            + String(repeating: "0", count: 9 - digits.count) + digits + "Z"
    }
}

extension MonitorEvent {
    /// The agent's last word to a monitor whose stream it ends.
    static func error(_ message: String) -> MonitorEvent {
        var event = MonitorEvent(type: "error", time: MonotonicToWall.rfc3339(MonotonicToWall.now))
        event.message = message
        return event
    }

    /// An event as monitors get it.
    init(_ record: MonitorRecord, endpoint: EventEndpoint?, hostInterface: String? = nil, time: String) {
        switch record {
        case .drop(let drop):
            self.init(type: "drop", time: time)
            reason = drop.reason.label
            direction = drop.direction
            if drop.refusedCall {
                refusedCall = true
            } else {
                length = drop.length
            }
            if let tuple = drop.tuple {
                proto = MonitorEvent.protocolLabel(tuple.proto)
                destination = tuple.destination.description
                if drop.portsKnown { destinationPort = tuple.destinationPort }
                // A refused call's socket has no address of its own yet: 0.0.0.0:0 would be made up.
                if !drop.refusedCall {
                    source = tuple.source.description
                    if drop.portsKnown { sourcePort = tuple.sourcePort }
                }
            } else {
                proto = MonitorEvent.etherTypeLabel(drop.etherType)
            }
            interface = endpoint?.interface ?? hostInterface
        case .flow(let flow):
            self.init(type: "flow", time: time)
            change = flow.change.rawValue
            kind = flow.kind?.label
            state = flow.state
            proto = MonitorEvent.protocolLabel(flow.original.proto)
            original = FlowView.Tuple(flow.original)
            reply = FlowView.Tuple(flow.reply)
            packets = flow.packets
            bytes = flow.bytes
            interface = endpoint?.interface
        }
        container = endpoint?.container
        containerID = endpoint?.containerID
        network = endpoint?.network
    }

    static func protocolLabel(_ proto: UInt8) -> String {
        switch proto {
        case 1: "icmp"
        case 6: "tcp"
        case 17: "udp"
        case 58: "icmpv6"
        case 132: "sctp"
        default: String(proto)
        }
    }

    static func etherTypeLabel(_ type: UInt16) -> String {
        switch type {
        case 0x0806: "arp"
        case 0x0800: "ipv4"
        case 0x86dd: "ipv6"
        case 0x8100, 0x88a8: "vlan"
        default: "0x" + String(type, radix: 16)
        }
    }

    /// The host's interface a drop of the host is reported on.
    static func interfaceName(_ ifindex: UInt32) -> String? {
        var name = [CChar](repeating: 0, count: Int(IF_NAMESIZE) + 1)
        guard if_indextoname(ifindex, &name) != nil else { return nil }
        return String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

extension FlowView.Tuple {
    init(_ tuple: EventTuple) {
        self.init(
            source: tuple.source, sourcePort: tuple.sourcePort, destination: tuple.destination,
            destinationPort: tuple.destinationPort)
    }
}

/// The hub's reading loop as one of the agent's services.
struct MonitorService: Service {
    let hub: MonitorHub
    let agent: Agent

    func run() async throws {
        let agent = self.agent
        try await hub.run { await agent.eventDirectory() }
    }
}
