import API
import ArgumentParser
import FoundationEssentials

/// Like `conntrack -L` (and -F, -D) for Bridgeport's flow table: the flows the dataplane
/// translates or lets through, with both tuples, state and time left.
struct Flows: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "flows", abstract: "List the tracked flows (connection tracking), or remove them.",
        discussion: """
            Every published, masqueraded and hairpin flow, as conntrack -L shows flows: the \
            original tuple (its first packet), the reply tuple (its replies), the protocol \
            state and the seconds it lives on without a packet. --flush removes them (all, or \
            a container's); their next packet starts a new flow.
            """)

    @OptionGroup var client: ClientOptions
    @Option(help: "Only the flows of this container (name or ID).") var container: String?
    @Option(help: "Output format: table, or json (one object per line).") var format: OutputFormat = .table
    @Flag(help: "Remove the flows (all, or the container's) instead of listing them.") var flush = false

    func run() async throws {
        let query = APIQuery(container: container.map(ContainerReference.init))
        if flush {
            let result = try await client.client.send(Routes.flushFlows, query: query)
            print("\(result.flushed) flow entries have been deleted.")
            return
        }
        let flows = try await client.client.send(Routes.flows, query: query)
        switch format {
        case .json:
            for flow in flows { print(try OutputFormat.line(JSONFlow(flow))) }
        case .table:
            print(
                table(
                    ["PROTOCOL", "STATE", "ORIGINAL", "REPLY", "CONTAINER", "EXPIRES IN"],
                    flows.map { flow in
                        [
                            flow.proto, flow.state.uppercased(), Flows.text(flow.original), Flows.text(flow.reply),
                            flow.container ?? "", "\(flow.expiresInSeconds)s",
                        ]
                    }))
        }
    }

    static func text(_ tuple: FlowView.Tuple) -> String {
        "\(tuple.source.with(port: tuple.sourcePort)) -> \(tuple.destination.with(port: tuple.destinationPort))"
    }

    /// Docker's --format json: one object per line, keys in Go's CamelCase.
    struct JSONFlow: Encodable {
        struct Tuple: Encodable {
            let Source: String, SourcePort: UInt16, Destination: String, DestinationPort: UInt16
            init(_ t: FlowView.Tuple) {
                Source = t.source.description
                SourcePort = t.sourcePort
                Destination = t.destination.description
                DestinationPort = t.destinationPort
            }
        }

        let `Protocol`: String, State: String, Kind: String, Original: Tuple, Reply: Tuple, Container: String
        let ExpiresIn: UInt32

        init(_ flow: FlowView) {
            `Protocol` = flow.proto
            State = flow.state
            Kind = flow.kind
            Original = Tuple(flow.original)
            Reply = Tuple(flow.reply)
            Container = flow.container ?? ""
            ExpiresIn = flow.expiresInSeconds
        }
    }
}
