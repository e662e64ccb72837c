import API
import ArgumentParser
import BPF
import FoundationEssentials
import Glibc

/// Like `cilium monitor --type drop` (and `conntrack -E` for flows): the dataplane's drops
/// and flow changes as they happen, streamed from the agent until Ctrl-C.
struct Monitor: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "monitor", abstract: "Show dropped packets and flow changes as they happen.",
        discussion: """
            Each drop the dataplane counts, with its reason, container, network, interface, \
            direction and 5-tuple; with --type flow, each flow's changes (new, established, \
            closed, expired, evicted, flushed) with both tuples, and when a flow made while a \
            monitor listened ends, its packets and IP bytes both ways. Runs \
            until interrupted. The agent emits at most --monitor-rate events per second per \
            CPU and type; bridgeport_monitor_events_lost_total counts the rest.
            """)

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case text
        /// One JSON object per line.
        case json
    }

    @OptionGroup var client: ClientOptions
    @Option(help: "Events to show: drop, flow or all.") var type: MonitorType = .drop
    @Option(help: "Only this container's events (name or ID).") var container: String?
    @Option(help: "Only events on this network (name or ID).") var network: String?
    @Option(help: "Only drops for this reason, e.g. isolation.") var reason: ReasonArgument?
    @Option(help: "Output format: text, or json (one object per line).") var format: Format = .text

    func validate() throws {
        if reason != nil && type == .flow {
            throw ValidationError("--reason is a drop's: it cannot go with --type flow")
        }
    }

    func run() async throws {
        let query = APIQuery(
            container: container.map(ContainerReference.init), type: type.rawValue,
            network: network.map(NetworkReference.init), reason: reason?.reason.label)
        var failure: String?
        try client.client.monitor(query: query) { line in
            // Keys come sorted, so the agent's last word ends with its type; other lines are
            // printed as they came (--format json) without being decoded.
            if line.suffix(Monitor.errorEnd.count).elementsEqual(Monitor.errorEnd) {
                let event = try? APICoding.decoder.decode(MonitorEvent.self, from: line)
                failure = event?.message ?? "the agent ended the stream"
                return false
            }
            switch format {
            case .json: writeAll(line + Monitor.newline)
            case .text:
                let event = try APICoding.decoder.decode(MonitorEvent.self, from: line)
                writeAll(Data((Monitor.text(event) + "\n").utf8))
            }
            return true
        }
        // The stream ends only with the agent's last word (or the agent gone): never a success.
        throw Failure(message: failure ?? "the agent ended the stream", code: 1)
    }

    static let errorEnd = Data(#""type":"error"}"#.utf8)
    static let newline = Data("\n".utf8)

    /// A line as `docker events` writes one: time, type, action, who, then (key=value, ...).
    static func text(_ event: MonitorEvent) -> String {
        var attributes: [(String, String?)] = [("network", event.network), ("interface", event.interface)]
        func tuple(_ t: FlowView.Tuple?) -> String? {
            t.map { "\($0.source.with(port: $0.sourcePort))->\($0.destination.with(port: $0.destinationPort))" }
        }
        let action: String
        if event.type == "flow" {
            action = event.change ?? ""
            attributes += [
                ("kind", event.kind), ("proto", event.proto), ("original", tuple(event.original)),
                ("reply", tuple(event.reply)), ("state", event.state),
                ("packets", event.packets.map(String.init)), ("bytes", event.bytes.map(String.init)),
            ]
        } else {
            action = event.reason ?? ""
            attributes += [
                ("direction", event.direction), ("proto", event.proto),
                ("source", event.sourceText), ("destination", event.destinationText),
                ("length", event.length.map(String.init)), ("call", event.refusedCall == true ? "refused" : nil),
            ]
        }
        let who = event.container ?? "host"
        let details = attributes.compactMap { key, value in value.map { "\(key)=\($0)" } }
        return "\(event.time) \(event.type) \(action) \(who) (\(details.joined(separator: ", ")))"
    }
}

/// --reason: a drop reason's label, checked against those the programs count.
struct ReasonArgument: ExpressibleByArgument {
    let reason: DropReason

    init?(argument: String) {
        guard let reason = DropReason(label: argument) else { return nil }
        self.reason = reason
    }

    static var allValueStrings: [String] { DropReason.all.map(\.label) }
}

extension MonitorType: ExpressibleByArgument {}
