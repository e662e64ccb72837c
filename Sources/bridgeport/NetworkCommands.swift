import API
import ArgumentParser
import FoundationEssentials
import Glibc
import Model

struct NetworkCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "network", abstract: "Manage networks.",
        subcommands: [Create.self, Ls.self, Inspect.self, Rm.self, Prune.self, Connect.self, Disconnect.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "create", abstract: "Create a network.")
        @OptionGroup var client: ClientOptions
        @Option(name: [.customShort("d"), .long], help: "Driver: bridge, macvlan or overlay.") var driver = "bridge"
        @Option(help: "Subnet in CIDR notation, e.g. 10.0.0.0/24 (once per family: with --ipv6, fd00:1::/64 too).")
        var subnet: [String] = []
        @Option(help: "Gateway of the subnet (once per family).") var gateway: [String] = []
        @Option(help: "Allocate container addresses from this sub-range (once per family).")
        var ipRange: [String] = []
        @Flag(help: "Enable IPv6 (a ULA /64 is allocated when no IPv6 --subnet is given).") var ipv6 = false
        @Flag(inversion: .prefixedNo, help: "Enable IPv4 (--ipv4=false with --ipv6: an IPv6-only network).")
        var ipv4 = true
        @Option(
            help: ArgumentHelp(
                "An address of the subnet no container gets, NAME=IP (repeatable).", valueName: "name=ip"))
        var auxAddress: [String] = []
        @Flag(help: "Restrict external access to the network.") var `internal` = false
        @Flag(help: "Enable manual container attachment (overlay; every overlay network allows it).")
        var attachable = false
        @Option(help: "Set metadata on the network: KEY[=VALUE] (repeatable).") var label: [String] = []
        @Option(
            name: [.customShort("o"), .customLong("opt")],
            help: "Driver option KEY=VALUE, e.g. com.docker.network.driver.mtu=1400 (repeatable).")
        var options: [String] = []
        @Argument(help: "Network name.") var name: String

        func run() async throws {
            var parsed: [String: String] = [:]
            for option in options {
                guard let equals = option.firstIndex(of: "="), equals != option.startIndex else {
                    throw Failure(message: "invalid option \"\(option)\": expected KEY=VALUE", code: 1)
                }
                parsed[String(option[..<equals])] = String(option[option.index(after: equals)...])
            }
            let (subnets, gateways, ranges): (AddressFamilySplit, AddressFamilySplit, AddressFamilySplit)
            do {
                subnets = try AddressFamilySplit(subnet, flag: "--subnet")
                gateways = try AddressFamilySplit(gateway, flag: "--gateway")
                ranges = try AddressFamilySplit(ipRange, flag: "--ip-range")
            } catch {
                throw Failure(message: "Error response from daemon: \(error)", code: 1)
            }
            var request = NetworkRequest(
                name: name, driver: driver, subnet: subnets.ipv4, gateway: gateways.ipv4,
                ipRange: ranges.ipv4, internal: `internal`, options: parsed,
                attachable: attachable)
            request.labels = label
            request.ipv6 = ipv6 ? true : nil
            request.ipv4 = ipv4 ? nil : false
            (request.subnet6, request.gateway6, request.ipRange6) = (subnets.ipv6, gateways.ipv6, ranges.ipv6)
            request.auxAddresses = auxAddress
            let view = try await client.client.send(Routes.createNetwork, body: request)
            print(view.network.id)
        }
    }

    struct Ls: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "ls", abstract: "List networks.",
            aliases: ["list"])
        @OptionGroup var client: ClientOptions
        @Option(
            help: """
                Format the output: table, table TEMPLATE, json or TEMPLATE (a Go template, e.g. \
                '{{.Name}}'; fields ID, Name, Driver, Scope, IPv4, IPv6, Internal, Labels, CreatedAt, \
                and {{.Label "KEY"}}).
                """)
        var format: String?
        @Flag(name: .shortAndLong, help: "Only display network IDs.") var quiet = false
        @Flag(help: "Do not truncate the output.") var noTrunc = false
        @Option(name: .shortAndLong, help: "Filter: driver, id, label, name or type=builtin|custom (repeatable).")
        var filter: [String] = []

        static let listing = Listing(
            titles: [
                "ID": "NETWORK ID", "Name": "NAME", "Driver": "DRIVER", "Scope": "SCOPE", "IPv4": "IPV4",
                "IPv6": "IPV6", "Internal": "INTERNAL", "Labels": "LABELS", "CreatedAt": "CREATED AT",
            ],
            methods: ["Label"], defaultTable: "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}",
            quietOverridesFormat: false, parseContext: "template parsing error",
            executeContext: "template parsing error")

        func run() async throws {
            let wanted = try filterOrFailure("network ls") { () throws(ModelError) in try NetworkFilter(filter) }
            let views = try await client.client.send(Routes.networks)
            let networks = views.map(\.network).filter(wanted.matches).sorted { $0.name < $1.name }
            print(
                try Self.listing.render(
                    networks.map { Self.record($0, trunc: !noTrunc) }, format: format, quiet: quiet),
                terminator: "")
        }

        /// A network as Docker's `network ls` template sees it.
        static func record(_ network: Network, trunc: Bool) -> Template.Record {
            let labels = network.labels ?? [:]
            return Template.Record(
                fields: [
                    "ID": trunc ? network.shortID : network.id, "Name": network.name,
                    "Driver": network.driver.dockerName, "Scope": network.scope, "IPv4": "\(network.ipv4Enabled)",
                    "IPv6": network.ipv6 != nil ? "true" : "false",
                    "Internal": "\(network.internal)", "Labels": labelList(labels),
                    "CreatedAt": goTime(network.created),
                ],
                methods: ["Label": { labels[$0] ?? "" }])
        }
    }

    struct Prune: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "prune", abstract: "Remove all unused networks.")
        @OptionGroup var client: ClientOptions
        @Flag(name: .shortAndLong, help: "Do not prompt for confirmation.") var force = false
        @Option(help: "Filter: until=DURATION|TIMESTAMP, label=KEY[=VALUE] or label!=KEY[=VALUE] (repeatable).")
        var filter: [String] = []

        static let warning = """
            WARNING! This will remove all custom networks not used by at least one container.
            Are you sure you want to continue? [y/N]\u{20}
            """

        func run() async throws {
            // Refused before the question, as Docker's CLI refuses a filter without '='.
            _ = try filterOrFailure("network prune") { () throws(ModelError) in
                try NetworkPruneFilter(filter, now: Date())
            }
            if !force {
                writeAll(Data(Self.warning.utf8))
                // Docker: only y or Y goes on; anything else (or no answer) ends quietly, exit 0.
                guard let answer = readLine(), ["y", "Y"].contains(answer.trimmingSpaces()) else {
                    return
                }
            }
            let report = try await client.client.send(Routes.pruneNetworks, body: NetworkPruneRequest(filters: filter))
            if !report.networksDeleted.isEmpty {
                print("Deleted Networks:\n" + report.networksDeleted.map { $0 + "\n" }.joined())
            }
        }
    }

    struct Inspect: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "inspect", abstract: "Display detailed information on one or more networks.")
        @OptionGroup var client: ClientOptions
        @OptionGroup var format: InspectFormat
        @Argument(help: "Network names or IDs.") var names: [String]

        func validate() throws {
            if names.isEmpty { throw ValidationError("\"network inspect\" requires at least 1 argument") }
        }

        func run() async throws {
            var documents: [[String: Any]] = []
            var missing: [String] = []
            for name in names {
                do {
                    let view = try await client.client.send(Routes.network, NetworkReference(name))
                    documents.append(inspectDocument(view))
                } catch let error as ClientError where error.isNotFound {
                    missing.append(name)
                }
            }
            try format.print(documents)
            if !missing.isEmpty {
                throw Failure(message: missing.map { "Error: No such network: \($0)" }.joined(separator: "\n"), code: 1)
            }
        }
    }

    struct Rm: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "rm", abstract: "Remove one or more networks.",
            aliases: ["remove"])
        @OptionGroup var client: ClientOptions
        @Flag(name: .shortAndLong, help: "Do not error if the network does not exist.") var force = false
        @Argument(help: "Network names or IDs.") var names: [String]

        func validate() throws {
            if names.isEmpty { throw ValidationError("\"network rm\" requires at least 1 argument") }
        }

        func run() async throws {
            try await forEachReporting(names) { name in
                do {
                    try await client.client.send(Routes.removeNetwork, NetworkReference(name))
                } catch let error as ClientError where force && error.isNotFound {
                    return  // -f: a network that is not there is no error, as in Docker
                }
                print(name)
            }
        }
    }

    struct Connect: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "connect", abstract: "Connect a container to a network.")
        @OptionGroup var client: ClientOptions
        @Option(help: "IPv4 address for the container on this network.") var ip: String?
        @Option(help: "IPv6 address for the container on this network.") var ip6: String?
        @Option(help: "Add a network-scoped alias for the container (repeatable).") var alias: [String] = []
        @Argument(help: "Network.") var network: String
        @Argument(help: "Container.") var container: String

        func run() async throws {
            try await client.client.send(
                Routes.connect, NetworkReference(network),
                body: ConnectRequest(container: container, ip: ip, ip6: ip6, aliases: alias))
        }
    }

    struct Disconnect: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "disconnect", abstract: "Disconnect a container from a network.")
        @OptionGroup var client: ClientOptions
        @Flag(name: .shortAndLong, help: "Force the container to disconnect (accepted: any container can).")
        var force = false
        @Argument(help: "Network.") var network: String
        @Argument(help: "Container.") var container: String

        func run() async throws {
            try await client.client.send(
                Routes.disconnect, NetworkReference(network),
                body: ConnectRequest(container: container))
        }
    }
}

/// Runs the action for each name, reporting each failure on stderr like Docker, and
/// fails with exit code 1 at the end if any did.
func forEachReporting(_ names: [String], _ action: (String) async throws -> Void) async throws {
    var failed = false
    for name in names {
        do { try await action(name) } catch let error as ClientError where !error.isAgentDown {
            printError("Error response from daemon: \(error)")
            failed = true
        }
    }
    if failed { throw Failure(message: "", code: 1) }
}
