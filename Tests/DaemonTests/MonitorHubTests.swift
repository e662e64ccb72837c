import API
import BPF
import Datapath
import Logging
import Model
import Synchronization
import Testing

@testable import Daemon

/// The hub between the programs' events and the monitors: what it asks the programs for,
/// how it labels and filters, what it keeps for inspect, and how it lets a slow monitor go.
@Suite struct MonitorHubTests {
    final class FakeSource: MonitorSource {
        let calls = Mutex<[(Set<MonitorEventKind>, UInt32)]>([])
        func set(subscribed: Set<MonitorEventKind>, rate: UInt32) throws {
            calls.withLock { $0.append((subscribed, rate)) }
        }
        func lostCounts() throws -> [MonitorEventKind: UInt64] { [.drop: 3] }
        func makeReader() throws -> any MonitorReader { throw DatapathError.noMonitor }
        var last: Set<MonitorEventKind>? { calls.withLock { $0.last?.0 } }
    }

    let source = FakeSource()
    let hub: MonitorHub
    let web = EventEndpoint(containerID: "c1", container: "web", networkID: "n1", network: "front", interface: "veth1")
    let db = EventEndpoint(containerID: "c2", container: "db", networkID: "n2", network: "back", interface: "veth2")

    init() {
        hub = MonitorHub(source: source, rate: 250, logger: Logger(label: "test"))
        hub.update(directory: EventDirectory(endpoints: [1: web, 2: db]))
    }

    func drop(_ ifindex: UInt32, _ reason: String = "isolation") -> MonitorRecord {
        .drop(
            DropRecord(
                time: 1, ifindex: ifindex, deviceIndex: ifindex, reason: DropReason(label: reason)!,
                direction: "egress",
                length: 60, refusedCall: false,
                tuple: EventTuple(
                    proto: 6, source: .v4(IPv4Address(10, 0, 0, 2)), sourcePort: 4000,
                    destination: .v4(IPv4Address(10, 1, 0, 2)), destinationPort: 80), etherType: 0x0800))
    }

    func flow(_ ifindex: UInt32) -> MonitorRecord {
        let tuple = EventTuple(
            proto: 6, source: .v4(IPv4Address(1, 2, 3, 4)), sourcePort: 5, destination: .v4(IPv4Address(5, 6, 7, 8)),
            destinationPort: 80)
        return .flow(
            FlowRecord(
                time: 1, ifindex: ifindex, change: .new, kind: .published, state: "syn_sent", original: tuple,
                reply: tuple))
    }

    /// What a stream holds now (the hub has yielded it all synchronously).
    func drain(_ stream: AsyncStream<MonitorItem>, _ subscriber: MonitorHub.Subscriber) async -> [MonitorEvent] {
        hub.unsubscribe(subscriber)  // finishes the stream after what it holds
        var events: [MonitorEvent] = []
        for await item in stream { if case .events(let batch) = item { events += batch } }
        return events
    }

    @Test func dropsAreAlwaysAskedForFlowsOnlyWhileAMonitorWantsThem() throws {
        let (subscriber, _) = try hub.subscribe(MonitorFilter(kinds: [.flow]))
        #expect(source.last == [.drop, .flow])
        #expect(source.calls.withLock { $0.last?.1 } == 250)
        hub.unsubscribe(subscriber)
        #expect(source.last == [.drop])
    }

    @Test func eventsAreLabeledAndFiltered() async throws {
        let (all, allStream) = try hub.subscribe(MonitorFilter(kinds: [.drop, .flow]))
        let (onlyWeb, webStream) = try hub.subscribe(MonitorFilter(kinds: [.drop], containerID: "c1"))
        let (onlyBack, backStream) = try hub.subscribe(MonitorFilter(kinds: [.drop], networkID: "n2"))
        let (onlyICC, iccStream) = try hub.subscribe(MonitorFilter(kinds: [.drop], reason: DropReason(label: "icc")))
        hub.deliver([drop(1), drop(2, "icc"), flow(1), drop(99)])

        let everything = await drain(allStream, all)
        #expect(everything.map(\.type) == ["drop", "drop", "flow", "drop"])
        #expect(
            everything[0].container == "web" && everything[0].network == "front" && everything[0].interface == "veth1")
        #expect(everything[0].source == "10.0.0.2" && everything[0].sourcePort == 4000)
        #expect(everything[0].destination == "10.1.0.2" && everything[0].destinationPort == 80)
        #expect(everything[0].proto == "tcp" && everything[0].length == 60 && everything[0].reason == "isolation")
        #expect(everything[3].container == nil, "an ifindex the agent does not know: no container")
        #expect(await drain(webStream, onlyWeb).map(\.container) == ["web"])
        #expect(await drain(backStream, onlyBack).map(\.container) == ["db"])
        #expect(await drain(iccStream, onlyICC).map(\.reason) == ["icc"])
    }

    @Test func theLastFiveDropsOfAContainerAreKept() {
        hub.deliver((0..<7).map { _ in drop(1) } + [drop(2, "icc")])
        #expect(hub.recentDrops(of: "c1").count == MonitorHub.recentDrops)
        #expect(hub.recentDrops(of: "c2").map(\.reason) == ["icc"])
        hub.forget(container: "c1")
        #expect(hub.recentDrops(of: "c1").isEmpty)
        #expect(hub.delivered[.drop] == 8)
    }

    @Test func aMonitorThatFallsBehindIsLetGoAndTheOthersGoOn() async throws {
        let (slow, slowStream) = try hub.subscribe(MonitorFilter(kinds: [.drop], containerID: "c1"))
        let (other, otherStream) = try hub.subscribe(MonitorFilter(kinds: [.drop], containerID: "c2"))
        hub.deliver((0..<MonitorHub.queueLength).map { _ in drop(1) })
        #expect(!slow.hasOverflowed, "a full queue, not more")
        slow.written(10)
        hub.deliver((0..<10).map { _ in drop(1) } + [drop(2)])
        #expect(!slow.hasOverflowed, "what was written makes room")
        hub.deliver([drop(1), drop(2)])
        #expect(slow.hasOverflowed)
        #expect(!other.hasOverflowed)
        #expect(hub.monitorCount == 1)
        var kept = 0
        for await item in slowStream { if case .events(let batch) = item { kept += batch.count } }  // finished
        #expect(kept == MonitorHub.queueLength + 10)
        #expect(await drain(otherStream, other).count == 2)
    }

    @Test func metricsCountReadAndLostEventsByType() {
        hub.deliver([drop(1), flow(1)])
        let families = hub.families(lost: [.drop: 3])
        let text = families.map { "\($0.name) \($0.samples.count)" }
        #expect(text == ["bridgeport_monitor_events 2", "bridgeport_monitor_events_lost 2", "bridgeport_monitors 1"])
    }

    @Test func timeIsRFC3339WithNanoseconds() {
        #expect(MonotonicToWall.rfc3339(1_764_522_062_000_000_005) == "2025-11-30T17:01:02.000000005Z")
    }
}
