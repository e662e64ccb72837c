import API
import ArgumentParser
import Dispatch
import FoundationEssentials
import Glibc
import Links
import Model

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run", abstract: "Create and start a container: a network sandbox running a command.",
        helpNames: [.long])  // -h is --hostname, as in Docker
    @OptionGroup var client: ClientOptions
    @Flag(name: [.customShort("d"), .long], help: "Run in the background and print the container ID.")
    var detach = false
    @Option(help: "Container name.") var name: String?
    @Option(
        name: [.customLong("network"), .customLong("net")],
        help: ArgumentHelp(
            "Connect to a network (repeatable; default: bridge).",
            discussion: "NAME, container:NAME (share that container's network namespace), or "
                + "name=NAME[,alias=ALIAS][,ip=IP][,mac-address=MAC][,driver-opt=KEY=VALUE]."))
    var network: [String] = []
    @Option(help: "IPv4 address (user-defined networks only).") var ip: String?
    @Option(help: "IPv6 address (user-defined networks with IPv6 only).") var ip6: String?
    @Option(
        name: [.customShort("p"), .customLong("publish")],
        help: "Publish a port: [HOSTIP:][HOSTPORT:]CONTAINERPORT[/PROTO].")
    var publish: [String] = []
    @Flag(name: [.customShort("P"), .long], help: "Publish all exposed ports to free host ports.")
    var publishAll = false
    @Option(help: "Expose a port or a range of ports: PORT[-END][/PROTO] (repeatable).") var expose: [String] = []
    @Flag(help: "Remove the container when its command ends.") var rm = false
    @Option(name: [.customShort("h"), .long], help: "Container host name (default: its short ID).")
    var hostname: String?
    @Flag(name: .shortAndLong, help: "Attach STDIN: the command reads the caller's (without -d).")
    var interactive = false
    @Flag(name: .shortAndLong, help: "Attach the caller's terminal, as exec -it does (without -d).") var tty = false
    @Option(help: "Container NIS domain name.") var domainname: String?
    @Option(help: "Add a network-scoped alias for the container (repeatable).") var networkAlias: [String] = []
    @Option(help: "Add a custom host-to-IP mapping (host:ip, or host:host-gateway; repeatable).")
    var addHost: [String] = []
    @Option(help: "Set custom DNS servers (repeatable).") var dns: [String] = []
    @Option(help: "Set custom DNS search domains (repeatable).") var dnsSearch: [String] = []
    @Option(help: "Set DNS options (repeatable).") var dnsOption: [String] = []
    @Option(help: "Container MAC address (e.g. 92:d0:c6:0a:29:33).") var macAddress: String?
    @Option(help: "Set a sysctl of the container's network namespace (net.*=VALUE; repeatable).")
    var sysctl: [String] = []
    @Option(help: "Add a Linux capability (repeatable; ALL for every one).") var capAdd: [String] = []
    @Option(help: "Drop a Linux capability (repeatable; ALL for every one).") var capDrop: [String] = []
    @Flag(help: "Give the container every capability, /proc and /sys unmasked.") var privileged = false
    @Argument(parsing: .captureForPassthrough, help: "Command and arguments (default: sleep infinity).")
    var command: [String] = []

    /// The command is captured as it is, flags and all: `run --help` would be a command
    /// named --help. Docker prints the help, and so do we (`run -- --help` runs it).
    func validate() throws {
        if command.first == "--help" { throw CleanExit.helpRequest(self) }
    }

    func run() async throws {
        let arguments = command.first == "--" ? Array(command.dropFirst()) : command
        var request = ContainerRequest(
            name: name, ip: ip, hostname: hostname, ports: publish,
            command: arguments, aliases: networkAlias, extraHosts: addHost, dns: dns, dnsSearch: dnsSearch,
            dnsOptions: dnsOption, domainname: domainname, capAdd: capAdd, capDrop: capDrop, privileged: privileged,
            macAddress: macAddress,
            sysctls: sysctl)
        request.ip6 = ip6
        request.expose = expose.isEmpty ? nil : expose
        request.publishAll = publishAll ? true : nil
        request.autoRemove = rm ? true : nil
        do {
            // Flag values are refused before the agent is asked, as Docker's CLI does.
            request.networks = try network.map { value throws(ModelError) in try NetworkAttachmentRequest.parse(value) }
            try request.validate()
        } catch {
            throw Failure(message: "bridgeport: \(error)\nSee 'bridgeport run --help'.", code: 125)
        }
        if !detach && (interactive || tty) {
            if tty && interactive && isatty(STDIN_FILENO) == 0 {
                throw Failure(message: "the input device is not a TTY", code: 1)
            }
            request.attach = ProcessAttachment(pid: getpid(), stdin: interactive)
        }
        let view: ContainerView
        do {
            view = try await client.client.send(Routes.run, body: request)
        } catch let error as ClientError {
            let code = error.kind?.exitCode ?? 125
            let text = error.isAgentDown ? error.description : "Error response from daemon: \(error)"
            throw Failure(message: "bridgeport: \(text)\nSee 'bridgeport run --help'.", code: code)
        }
        view.warnings.forEach { printError("WARNING: \($0)") }
        if detach {
            print(view.container.id)
            return
        }
        // Attached: wait for the command to end, passing Ctrl-C and SIGTERM on to it as
        // Docker's --sig-proxy does, then show its output (unless it wrote to ours) and
        // pass its exit code on.
        let proxy = SignalProxy(to: view.container.process.pid, signals: [SIGINT, SIGTERM, SIGHUP])
        let result = try await client.client.send(Routes.wait, ContainerReference(view.container.id))
        proxy.cancel()
        if request.attach == nil { writeAll(Data(result.output.utf8)) }
        throw Failure(message: "", code: result.exitCode)
    }
}

/// Sends the signals this process gets to another one (the container's command) instead.
struct SignalProxy {
    private let sources: [any DispatchSourceSignal]

    init(to pid: Int32, signals: [Int32]) {
        sources = signals.map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { kill(pid, number) }
            source.resume()
            return source
        }
    }

    func cancel() { sources.forEach { $0.cancel() } }
}

struct Ps: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ps", abstract: "List containers.")
    @OptionGroup var client: ClientOptions
    @Flag(name: .shortAndLong, help: "Show all containers (default shows just running).") var all = false
    @Flag(name: .shortAndLong, help: "Only display container IDs.") var quiet = false
    @Flag(help: "Do not truncate the output.") var noTrunc = false
    @Option(
        name: .shortAndLong,
        help: """
            Filter: name (a pattern), id (a prefix), network (a name or ID), publish=PORT[-END][/PROTO] \
            (a container port published), status=created|running|exited|... or exited=CODE (repeatable).
            """)
    var filter: [String] = []
    @Option(
        help: """
            Format the output: table, table TEMPLATE, json or TEMPLATE (a Go template, e.g. '{{.Names}}'; \
            fields ID, Image, Command, CreatedAt, RunningFor, Ports, State, Status, Names, Labels, Mounts, \
            Networks, Size, LocalVolumes, and {{.Label "KEY"}}).
            """)
    var format: String?

    static let listing = Listing(
        titles: [
            "ID": "CONTAINER ID", "Names": "NAMES", "Image": "IMAGE", "Command": "COMMAND", "CreatedAt": "CREATED AT",
            "RunningFor": "CREATED", "Ports": "PORTS", "State": "STATE", "Status": "STATUS", "Size": "SIZE",
            "Labels": "LABELS", "Mounts": "MOUNTS", "LocalVolumes": "LOCAL VOLUMES", "Networks": "NETWORKS",
        ],
        methods: ["Label"],
        defaultTable: "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}",
        quietOverridesFormat: true, parseContext: "failed to parse template",
        executeContext: "failed to execute template")

    func run() async throws {
        let wanted = try filterOrFailure("ps") { () throws(ModelError) in try ContainerFilter(filter) }
        if quiet && !(format ?? "").isEmpty {
            printError("WARNING: Ignoring custom format, because both --format and --quiet are set.")
        }
        let views = try await client.client.send(
            Routes.containers, query: APIQuery(all: all || wanted.includesStopped))
        let shown = views.filter { view in
            wanted.matches(view.container, state: view.state, networks: view.networks)
        }.sorted { $0.container.created > $1.container.created }
        print(
            try Self.listing.render(shown.map { Self.record($0, trunc: !noTrunc) }, format: format, quiet: quiet),
            terminator: "")
    }

    /// A container as Docker's `ps` template sees it. No images, labels or mounts here: empty.
    static func record(_ view: ContainerView, trunc: Bool) -> Template.Record {
        let container = view.container
        // Docker's Command: the arguments with a space in single quotes, cut to 20 characters.
        var command = container.command.map { $0.contains(" ") ? "'\($0)'" : $0 }.joined(separator: " ")
        if trunc && command.unicodeScalars.count > 20 {
            command = String(String.UnicodeScalarView(command.unicodeScalars.prefix(19))) + "…"
        }
        return Template.Record(
            fields: [
                "ID": trunc ? container.shortID : container.id, "Image": "-", "Command": jsonString(command),
                "CreatedAt": goTime(container.created, fractional: false),
                "RunningFor": humanDuration(since: container.created) + " ago",
                "Ports": view.status == .running ? PortMapping.summary(container.publishedPorts) : "",
                "State": view.status.rawValue, "Status": statusText(view), "Names": container.name,
                "Labels": "", "Mounts": "", "LocalVolumes": "0", "Size": "",
                "Networks": view.networks.map { $0.name }.joined(separator: ","),
            ],
            methods: ["Label": { _ in "" }])
    }
}

extension ContainerView {
    /// Its state as Docker's filters name it.
    var state: ContainerFilter.State { ContainerFilter.State(rawValue: status.rawValue) ?? .exited }

    /// The networks it is on, by ID and name: its endpoints' (host and none have none: by
    /// name alone).
    var networks: [(id: String, name: String)] {
        guard !endpoints.isEmpty else { return [(id: "", name: container.networkMode)] }
        return endpoints.sorted { $0.endpoint.order < $1.endpoint.order }.map {
            (id: $0.endpoint.networkID, name: $0.networkName)
        }
    }
}

/// `-f`: a Go-style template per document, else the documents as a JSON array.
struct InspectFormat: ParsableArguments {
    @Option(
        name: [.customShort("f"), .long],
        help: "Format the output with a Go-style template, e.g. '{{.NetworkSettings.IPAddress}}'.")
    var format: String?

    func print(_ documents: [[String: Any]]) throws {
        guard let format else { return printJSON(documents) }
        do throws(TemplateError) {
            let template = try Template(format)
            for document in documents { Swift.print(try template.render(document)) }
        } catch {
            throw Failure(error, "template parsing error")
        }
    }
}

struct Inspect: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect", abstract: "Display detailed information on containers or networks.")
    /// Docker's `--type`: which kind of object a name means. Without it a name is looked
    /// up as a container, then as a network, and a network's ID prefix can match it.
    enum ObjectType: String, ExpressibleByArgument, CaseIterable {
        case container, network
    }

    @OptionGroup var client: ClientOptions
    @OptionGroup var format: InspectFormat
    @Option(help: "Return JSON for the specified type: container or network.") var type: ObjectType?
    @Argument(help: "Container or network names or IDs.") var names: [String]

    func validate() throws { if names.isEmpty { throw ValidationError("\"inspect\" requires at least 1 argument") } }

    func run() async throws {
        var documents: [[String: Any]] = []
        var missing: [String] = []
        for name in names {
            if type != .network, let view = try await lookup(Routes.container, ContainerReference(name)) {
                documents.append(inspectDocument(view))
            } else if type != .container, let view = try await lookup(Routes.network, NetworkReference(name)) {
                documents.append(inspectDocument(view))
            } else {
                missing.append(name)
            }
        }
        try format.print(documents)
        if !missing.isEmpty {
            let kind = type?.rawValue ?? "object"
            throw Failure(message: missing.map { "Error: No such \(kind): \($0)" }.joined(separator: "\n"), code: 1)
        }
    }

    private func lookup<Name, View>(_ route: APIRoute<Name, NoContent, View>, _ name: Name) async throws -> View? {
        do {
            return try await client.client.send(route, name)
        } catch let error as ClientError where error.isNotFound {
            return nil
        }
    }
}

struct Exec: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "exec", abstract: "Run a command inside a running container.")
    @OptionGroup var client: ClientOptions
    @Flag(name: .shortAndLong, help: "Keep STDIN open (always the case here).") var interactive = false
    @Flag(name: .shortAndLong, help: "Accepted for Docker compatibility; the caller's terminal is used as is.")
    var tty = false
    @Flag(help: "Give the command every capability, whatever the container has.") var privileged = false
    @Argument(help: "Container.") var container: String
    @Argument(parsing: .captureForPassthrough, help: "Command and arguments.") var command: [String] = []

    func run() async throws {
        let arguments = command.first == "--" ? Array(command.dropFirst()) : command
        guard !arguments.isEmpty else { throw Failure(message: "\"exec\" requires at least 2 arguments", code: 1) }
        let view = try await client.client.send(Routes.container, ContainerReference(container))
        guard view.status == .running else {
            throw Failure(
                message: "Error response from daemon: container \(view.container.name) is not running",
                code: 1)
        }
        try? Sandbox.joinCgroup(of: view.container.process.pid)
        let confinement = view.container.confinement ?? Confinement()
        let code = Sandbox.exec(
            pid: view.container.process.pid, arguments: arguments,
            privileged: confinement.privileged || privileged, capabilities: confinement.capabilities)
        throw Failure(message: "", code: code)
    }
}

struct Port: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "port", abstract: "List port mappings of a container, or restrict who may use them.",
        subcommands: [List.self, Allow.self], defaultSubcommand: List.self)

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "ls",
            abstract: "List port mappings (the default).")
        @OptionGroup var client: ClientOptions
        @Argument(help: "Container.") var container: String
        @Argument(help: "PRIVATE_PORT[/PROTO]") var privatePort: String?

        func run() async throws {
            let view = try await client.client.send(Routes.container, ContainerReference(container))
            // As Docker 27 lists them: IPv4 before IPv6 of each port.
            let ports = view.container.publishedPorts.sorted {
                ($0.containerPort, $0.proto, $0.hostPort, $0.hostIP.family)
                    < ($1.containerPort, $1.proto, $1.hostPort, $1.hostIP.family)
            }
            let allowed = { (m: PortMapping) in
                view.container.allowed(m).map { " (allowed from \(sourceList($0)))" } ?? ""
            }
            guard let privatePort else {
                ports.forEach { print("\($0)" + allowed($0)) }
                return
            }
            let parts = privatePort.split(separator: "/")
            let proto = parts.count > 1 ? String(parts[1]) : "tcp"
            let matching = ports.filter {
                "\($0.containerPort)" == parts.first.map(String.init) && $0.proto.rawValue == proto
            }
            guard !matching.isEmpty else {
                let port = "\(parts.first ?? "")/\(proto)"
                throw Failure(message: "Error: No public port '\(port)' published for \(view.container.name)", code: 1)
            }
            matching.forEach { print($0.hostSide) }
        }
    }

    /// Docker users restrict published ports with rules in the DOCKER-USER chain; here
    /// the allowed sources go into a BPF map checked before the DNAT.
    struct Allow: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "allow",
            abstract: "Allow only these source CIDRs to use a published host port (others are dropped as not_allowed).")
        @OptionGroup var client: ClientOptions
        @Flag(help: "Open the port to every source again.") var clear = false
        @Argument(help: "Container.") var container: String
        @Argument(help: "HOSTPORT[/PROTO] (default protocol tcp).") var hostPort: String
        @Argument(help: "Source CIDRs (or addresses) of the port's families, e.g. 198.51.100.0/24, 2001:db8::/64.")
        var sources: [String] = []

        func run() async throws {
            let request = AllowRequest(hostPort: hostPort, sources: sources, clear: clear)
            let view = try await client.client.send(Routes.allow, ContainerReference(container), body: request)
            let parts = hostPort.split(separator: "/")
            let proto = PortProtocol(rawValue: parts.count > 1 ? String(parts[1]) : "tcp") ?? .tcp
            let allowed = UInt16(parts[0]).flatMap { view.container.allowed(hostPort: $0, proto) }
            print(allowed.map { "\(hostPort): allowed from \(sourceList($0))" } ?? "\(hostPort): open to all")
        }
    }
}

/// "198.51.100.0/24, 203.0.113.7/32": who may use a published port ("no source" of a
/// family the list names none of).
private func sourceList(_ sources: [IPNetwork]) -> String {
    sources.isEmpty ? "no source" : sources.map(\.description).joined(separator: ", ")
}

/// `-t`: how long `stop` and `restart` wait after SIGTERM before killing.
struct StopTimeout: ParsableArguments {
    @Option(
        name: [.customShort("t"), .customLong("timeout"), .customLong("time")],
        help: "Seconds to wait before killing.")
    var timeout = 10
}

struct Stop: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stop", abstract: "Stop one or more running containers.")
    @OptionGroup var client: ClientOptions
    @OptionGroup var wait: StopTimeout
    @Argument(help: "Containers.") var names: [String]

    func validate() throws { if names.isEmpty { throw ValidationError("\"stop\" requires at least 1 argument") } }

    func run() async throws {
        try await forEachReporting(names) { name in
            try await client.client.send(Routes.stop, ContainerReference(name), query: APIQuery(timeout: wait.timeout))
            print(name)
        }
    }
}

struct Start: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "start", abstract: "Start one or more stopped containers.")
    @OptionGroup var client: ClientOptions
    @Argument(help: "Containers.") var names: [String]

    func validate() throws { if names.isEmpty { throw ValidationError("\"start\" requires at least 1 argument") } }

    /// As `docker start` reports: the name of each started, the daemon's error for each
    /// that failed, then one line naming them all and exit code 1.
    func run() async throws {
        var failed: [String] = []
        for name in names {
            do {
                _ = try await client.client.send(Routes.start, ContainerReference(name))
                print(name)
            } catch let error as ClientError where !error.isAgentDown {
                printError("Error response from daemon: \(error)")
                failed.append(name)
            }
        }
        if !failed.isEmpty {
            throw Failure(message: "Error: failed to start containers: \(failed.joined(separator: ", "))", code: 1)
        }
    }
}

struct Restart: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "restart", abstract: "Restart one or more containers.")
    @OptionGroup var client: ClientOptions
    @OptionGroup var wait: StopTimeout
    @Argument(help: "Containers.") var names: [String]

    func validate() throws { if names.isEmpty { throw ValidationError("\"restart\" requires at least 1 argument") } }

    func run() async throws {
        try await forEachReporting(names) { name in
            try await client.client.send(Routes.stop, ContainerReference(name), query: APIQuery(timeout: wait.timeout))
            _ = try await client.client.send(Routes.start, ContainerReference(name))
            print(name)
        }
    }
}

struct Rm: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rm", abstract: "Remove one or more containers.")
    @OptionGroup var client: ClientOptions
    @Flag(name: .shortAndLong, help: "Force the removal of a running container (uses SIGKILL).") var force = false
    @Argument(help: "Containers.") var names: [String]

    func validate() throws { if names.isEmpty { throw ValidationError("\"rm\" requires at least 1 argument") } }

    func run() async throws {
        try await forEachReporting(names) { name in
            try await client.client.send(
                Routes.removeContainer, ContainerReference(name),
                query: APIQuery(force: force))
            print(name)
        }
    }
}

struct Logs: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "logs", abstract: "Show the output of a container's command.")
    @OptionGroup var client: ClientOptions
    @Argument(help: "Container.") var container: String

    func run() async throws {
        let logs = try await client.client.send(Routes.logs, ContainerReference(container))
        writeAll(Data(logs.utf8))
    }
}
