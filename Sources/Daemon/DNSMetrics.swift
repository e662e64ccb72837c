import DNS
import Synchronization

/// The embedded DNS server's counters, by the network a query is counted under (the
/// asker's first user-defined network). Every query received ends one way: a response
/// (counted by rcode), or a drop (counted by reason); forwarded ones also count their
/// upstream's latency.
final class DNSMetrics: Sendable {
    enum DropReason: String, CaseIterable, Sendable {
        /// Not a query that can be read, and nothing to answer (garbage, a response).
        case malformed
        /// More forwarded queries or TCP connections in flight than a container may have.
        case overload
    }

    /// Upper bounds of the forwarding latency buckets, in seconds (the timeout is 4 s).
    static let latencyBounds: [Double] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]

    struct Counters: Sendable {
        var queries: UInt64 = 0
        var responses: [DNSResponseCode: UInt64] = [:]
        var dropped: [DropReason: UInt64] = [:]
        var forwarded: UInt64 = 0
        var latencyCounts = [UInt64](repeating: 0, count: DNSMetrics.latencyBounds.count + 1)
        var latencySum: Double = 0
    }

    private let counters = Mutex<[String: Counters]>([:])

    func received(network: String) { counters.withLock { $0[network, default: Counters()].queries += 1 } }

    func answered(network: String, _ code: DNSResponseCode) {
        counters.withLock { $0[network, default: Counters()].responses[code, default: 0] += 1 }
    }

    func dropped(network: String, _ reason: DropReason) {
        counters.withLock { $0[network, default: Counters()].dropped[reason, default: 0] += 1 }
    }

    func forwarded(network: String, seconds: Double) {
        let bucket = DNSMetrics.latencyBounds.firstIndex { seconds <= $0 } ?? DNSMetrics.latencyBounds.count
        counters.withLock {
            $0[network, default: Counters()].forwarded += 1
            $0[network, default: Counters()].latencyCounts[bucket] += 1
            $0[network, default: Counters()].latencySum += seconds
        }
    }

    /// Networks that no longer exist keep their series until the agent restarts, as
    /// counters must not go back.
    func families() -> [MetricFamily] {
        let snapshot = counters.withLock { $0 }
        var queries = MetricFamily(
            name: "bridgeport_dns_queries",
            help: "Packets containers sent to the embedded DNS server (each ends as a response or a drop).",
            kind: .counter)
        var responses = MetricFamily(
            name: "bridgeport_dns_responses", help: "Responses of the embedded DNS server, by rcode.", kind: .counter)
        var dropped = MetricFamily(
            name: "bridgeport_dns_dropped",
            help: "Packets the embedded DNS server dropped without a response, by reason.", kind: .counter)
        var forwarded = MetricFamily(
            name: "bridgeport_dns_forwarded",
            help: "Queries forwarded to an upstream server (names no network of the container knows).", kind: .counter)
        var latency = MetricFamily(
            name: "bridgeport_dns_forward_duration_seconds",
            help: "Time from a forwarded query to its upstream's answer (or to SERVFAIL after the last timeout).",
            kind: .histogram)
        for (network, counts) in snapshot.sorted(by: { $0.key < $1.key }) {
            let labels = [("network", network)]
            queries.add(labels, counts.queries)
            for (code, count) in counts.responses.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
                responses.add(labels + [("rcode", code.name)], count)
            }
            for reason in DropReason.allCases {
                dropped.add(labels + [("reason", reason.rawValue)], counts.dropped[reason] ?? 0)
            }
            forwarded.add(labels, counts.forwarded)
            latency.addHistogram(
                labels, bounds: DNSMetrics.latencyBounds, counts: counts.latencyCounts, sum: counts.latencySum)
        }
        return [queries, responses, dropped, forwarded, latency]
    }
}
