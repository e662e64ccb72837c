import BPF
import FoundationEssentials
import Logging
import NIOPosix
import ServiceLifecycle
import Synchronization

/// The flow table's garbage collector (cf. Cilium's pkg/maps/ctmap/gc): each pass removes
/// the flows that expired, evicts unanswered flows from outside when the table is nearly
/// full, and counts the rest for the exporter. Passes run on NIO's thread pool, off the
/// cooperative pool: at a million flows one reads the table for a fraction of a second.
///
/// The interval adapts as Cilium's does: halved when a pass removed more than a quarter of
/// the table or left it more than 80% full, grown by half when a pass removed little, and
/// never longer than the shortest flow timeout (so a flow outlives its timeout by at most
/// about one timeout) nor a minute. Whatever that says, passes are 50 pass-lengths apart at
/// least, so the collector takes at most 2% of a CPU (a pass over a million flows takes
/// most of a second). The programs remove an expired flow themselves when they meet it, so
/// ports and tuples never wait for a pass.
///
/// The flows made while a monitor wanted flow events (counted by the programs) that a pass
/// removes are reported to their table's `endings`, as flushed ones are: the programs report
/// their other changes themselves.
final class FlowCollector: Service, Sendable {
    /// What the last pass found, for the exporter.
    struct Report: Sendable {
        var pass: FlowTable.Pass
        var seconds: Double
    }

    let table: FlowTable
    /// IPv6's (NAT66), collected in the same passes.
    let table6: FlowTable6?
    private let logger: Logger
    private let longest: Duration
    private let last = Mutex<Report?>(nil)

    static let shortest = Duration.seconds(1)

    init(table: FlowTable, table6: FlowTable6? = nil, timeouts: FlowTimeouts, logger: Logger) {
        self.table = table
        self.table6 = table6
        self.logger = logger
        longest = .seconds(min(60, max(1, Int(timeouts.seconds.min() ?? 60))))
    }

    var latest: Report? { last.withLock { $0 } }

    func run() async throws {
        var interval = longest
        while !Task.isShuttingDownGracefully {
            do {
                let pass = try await collect()
                interval = next(after: pass, interval: interval, took: latest?.seconds ?? 0)
            } catch {
                logger.warning("flow table collection failed", metadata: ["error": "\(error)"])
            }
            let wait = interval
            do {
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: wait) }
            } catch {
                return
            }
        }
    }

    /// One pass, on NIO's thread pool; its report is kept for the exporter.
    @discardableResult
    func collect() async throws -> FlowTable.Pass {
        let (table, table6) = (self.table, self.table6)
        let started = ContinuousClock.now
        let pass = try await NIOThreadPool.singleton.runIfActive {
            let pass = try table.collect()
            return try table6.map { pass.merged(with: try $0.collect(countsRun: false)) } ?? pass
        }
        let elapsed = ContinuousClock.now - started
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        last.withLock { $0 = Report(pass: pass, seconds: seconds) }
        if !pass.evicted.isEmpty {
            logger.warning(
                "the flow table is nearly full: unanswered flows from outside were evicted",
                metadata: ["evicted": "\(pass.evicted.values.reduce(0, +))", "fill": "\(Int(pass.fill * 100))%"])
        }
        return pass
    }

    private func next(after pass: FlowTable.Pass, interval: Duration, took seconds: Double) -> Duration {
        let capacity = Double(max(table.capacity, 1))
        let removed = Double(pass.removed) / capacity
        var next = interval
        if removed > 0.25 || pass.fill > 0.8 {
            next = max(FlowCollector.shortest, interval / 2)
        } else if removed < 0.05 {
            next = min(longest, interval * 3 / 2)
        }
        return max(next, .seconds(seconds * 50))
    }
}
