import API
import ArgumentParser
import FoundationEssentials
import Glibc

/// Like `docker stats`, for the network: a live table of each running container's
/// traffic, refreshed in place every second.
struct Stats: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats", abstract: "Display a live stream of containers' network traffic.")
    @OptionGroup var client: ClientOptions
    @Flag(help: "Print one table (rates over one second) and exit.") var noStream = false
    @Option(help: "Output format: table or json.") var format: OutputFormat = .table
    @Argument(help: "Containers (default: all running).") var containers: [String] = []

    func run() async throws {
        var previous = try await sample()
        var previousTime = ContinuousClock.now
        while true {
            try await Task.sleep(for: .seconds(1))
            let current = try await sample()
            let now = ContinuousClock.now
            let span = (now - previousTime).components
            let elapsed = Double(span.seconds) + Double(span.attoseconds) / 1e18
            let rows = current.map { stats in
                Row(stats: stats, before: previous.first { $0.id == stats.id }, seconds: elapsed)
            }
            if format == .json {
                for row in rows { print(try OutputFormat.line(row.line)) }
            } else {
                if !noStream { print("\u{1B}[2J\u{1B}[H", terminator: "") }  // clear the screen, cursor home
                print(
                    table(
                        ["CONTAINER ID", "NAME", "NET I/O", "RX/s", "TX/s", "PACKETS (RX / TX)", "DROPS", "LAST DROP"],
                        rows.map(\.cells)))
            }
            if noStream { return }
            previous = current
            previousTime = now
        }
    }

    private func sample() async throws -> [ContainerStats] {
        let all = try await client.client.send(Routes.stats)
        guard !containers.isEmpty else { return all.sorted { $0.name < $1.name } }
        return try containers.map { reference in
            guard let match = all.first(where: { $0.name == reference || $0.id.hasPrefix(reference) }) else {
                throw Failure(message: "Error response from daemon: No such container: \(reference)", code: 1)
            }
            return match
        }
    }

    struct Row {
        let stats: ContainerStats
        let receiveRate: Double
        let transmitRate: Double

        init(stats: ContainerStats, before: ContainerStats?, seconds: Double) {
            self.stats = stats
            let span = max(seconds, 0.001)
            // No earlier sample, or a counter that went down: no rate.
            let rate = { (now: UInt64, then: UInt64?) in Double(now - min(then ?? now, now)) / span }
            receiveRate = rate(stats.receiveBytes, before?.receiveBytes)
            transmitRate = rate(stats.transmitBytes, before?.transmitBytes)
        }

        var cells: [String] {
            [
                String(stats.id.prefix(12)), stats.name,
                "\(humanBytes(Double(stats.receiveBytes))) / \(humanBytes(Double(stats.transmitBytes)))",
                humanBytes(receiveRate) + "/s", humanBytes(transmitRate) + "/s",
                "\(stats.receivePackets) / \(stats.transmitPackets)", "\(stats.drops)",
                stats.lastDrops?.last.map { "\($0.reason ?? "") (\($0.direction ?? ""))" } ?? "",
            ]
        }

        var line: Line {
            Line(
                ID: String(stats.id.prefix(12)), Name: stats.name, ReceiveBytes: stats.receiveBytes,
                TransmitBytes: stats.transmitBytes, ReceivePackets: stats.receivePackets,
                TransmitPackets: stats.transmitPackets, Drops: stats.drops, ReceiveBytesPerSecond: receiveRate,
                TransmitBytesPerSecond: transmitRate, LastDrops: (stats.lastDrops ?? []).map(DropLine.init))
        }
    }

    /// A line of --format json, with Docker's CamelCase keys.
    struct Line: Encodable {
        let ID: String, Name: String
        let ReceiveBytes: UInt64, TransmitBytes: UInt64, ReceivePackets: UInt64, TransmitPackets: UInt64, Drops: UInt64
        let ReceiveBytesPerSecond: Double, TransmitBytesPerSecond: Double
        /// The last drops (at most 5), oldest first.
        let LastDrops: [DropLine]
    }
}

/// Docker's units: "1.5kB", "20.3MB" (powers of 1000).
func humanBytes(_ bytes: Double) -> String {
    let units = ["B", "kB", "MB", "GB", "TB"]
    var value = bytes
    var unit = 0
    while value >= 1000 && unit < units.count - 1 {
        value /= 1000
        unit += 1
    }
    guard unit > 0 else { return "\(Int(value))B" }
    // Three significant digits: C's %.3g (String(format:) is not in FoundationEssentials).
    var digits = [CChar](repeating: 0, count: 32)
    let count = withVaList([value]) { vsnprintf(&digits, digits.count, "%.3g", $0) }
    return String(decoding: digits.prefix(Int(count)).map { UInt8(bitPattern: $0) }, as: UTF8.self) + units[unit]
}
