import API
import BPF
import Datapath
import Model
import NIOPosix

/// What scrapes and `bridgeport stats` read: a snapshot of the registry, taken on the
/// actor, and the counter maps, read off it.
extension Agent {
    /// What a scrape needs of the agent's state: a copy, taken on the actor; the maps are
    /// read after, off it.
    struct ScrapeState: Sendable {
        var registry: Registry
        var running: Set<String>
    }

    func scrapeState() -> ScrapeState {
        ScrapeState(
            registry: registry, running: Set(registry.containers.filter { runtime.status($0) == .running }.map(\.id)))
    }

    /// Reads the counter maps on NIO's thread pool: the reads are system calls, which
    /// must not hold a thread of the cooperative pool (nor the actor).
    nonisolated func readCounters(_ registry: Registry) async throws -> TrafficCounters {
        let datapath = self.datapath
        return try await NIOThreadPool.singleton.runIfActive {
            try datapath.counters(interfaces: TrafficCounters.hostInterfaces(of: registry))
        }
    }

    /// Running containers' traffic for `bridgeport stats`.
    nonisolated func containerStats() async throws -> [ContainerStats] {
        let state = await scrapeState()
        let counters = try await readCounters(state.registry)
        let dropsByInterface = Dictionary(counters.drops.map { ($0.key.ifindex, $0.value) }, uniquingKeysWith: +)
        // Grouped once: the registry's per-container lookup scans every endpoint.
        let endpointsByContainer = Dictionary(grouping: state.registry.endpoints, by: \.containerID)
        return state.registry.containers.filter { state.running.contains($0.id) }.map { container in
            var stats = ContainerStats(id: container.id, name: container.name)
            for endpoint in endpointsByContainer[container.id] ?? [] {
                guard let index = counters.index(of: endpoint) else { continue }
                let traffic = counters.endpoints[index] ?? .zero
                stats.receiveBytes += traffic.rx.bytes
                stats.receivePackets += traffic.rx.packets
                stats.transmitBytes += traffic.tx.bytes
                stats.transmitPackets += traffic.tx.packets
                stats.drops += dropsByInterface[index] ?? 0
            }
            stats.lastDrops = monitor?.recentDrops(of: container.id)
            return stats
        }
    }

    /// Every family, read from the pinned BPF maps (per-CPU counters summed) and the
    /// registry, plus how long that took. A map that cannot be read fails the scrape
    /// (Prometheus records `up` 0) rather than showing zeros, which would read as resets.
    nonisolated func metricFamilies() async throws -> [MetricFamily] {
        let started = ContinuousClock.now
        let state = await scrapeState()
        var input = ScrapeInput(
            registry: state.registry, counters: try await readCounters(state.registry), running: state.running)
        input.portSeries = configuration.portSeries
        if let table = datapath.flows {
            let report = flowCollector?.latest
            let counters = try await NIOThreadPool.singleton.runIfActive { try table.counters() }
            input.flows = FlowStatistics(
                capacity: table.capacity, census: report?.pass.census,
                counters: counters, lastPassSeconds: report?.seconds)
        }
        var families = Exporter.families(input) + dns.metrics.families()
        if let monitor {
            let lost = try await NIOThreadPool.singleton.runIfActive { try monitor.source.lostCounts() }
            families += monitor.families(lost: lost)
        }
        var scrape = MetricFamily(
            name: "bridgeport_scrape_duration_seconds", help: "Time this scrape took to read the counters.",
            kind: .gauge)
        let elapsed = ContinuousClock.now - started
        scrape.add([], seconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
        families.append(scrape)
        return families
    }
}
