import ArgumentParser
import BPF
import Daemon
import FoundationEssentials
import Links
import Logging
import Model

struct DaemonCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "daemon", abstract: "Run the Bridgeport agent.")

    @Option(help: "Where the agent keeps its database and container files.")
    var stateDir = "/var/lib/bridgeport"

    @Option(help: "Where BPF maps and links are pinned (bpffs is mounted there if needed).")
    var bpfRoot = "/sys/fs/bpf/bridgeport"

    @Option(help: "The API's unix socket.")
    var socket = "/run/bridgeport.sock"

    @Option(help: "Address of the metrics endpoint, HOST[:PORT].")
    var metricsAddress = "127.0.0.1:\(AgentConfiguration.defaultMetricsPort)"

    @Option(help: "Run as the agent of this network namespace (/run/netns/NAME).")
    var netns: String?

    @Option(help: "cgroup v2 directory the socket hooks attach to (default: the cgroup2 root).")
    var cgroup: String?

    @Option(help: "Directory with the compiled BPF objects (default: next to the binary, then build/bpf).")
    var bpfObjects: String?

    @Option(
        help: """
            How tc programs attach: auto (tcx on uplinks, clsact + cls_bpf on container veths: fast container \
            start), tcx (links everywhere, Linux 6.6+) or tc (clsact + cls_bpf everywhere).
            """)
    var attach: AttachOption = .auto

    @Option(
        help: """
            Published ports in the metrics: per-port (a series per port), per-container (their ports summed) \
            or off (default: per-port below \(PortSeries.perPortLimit) published ports, per-container from there).
            """)
    var metricsPortSeries: PortSeries?

    @Option(
        help: """
            Monitor events (drops, flows) each CPU may emit per second and type; the rest are counted in \
            bridgeport_monitor_events_lost_total. 0: no limit.
            """)
    var monitorRate = AgentConfiguration.defaultMonitorRate

    @Flag(
        help: """
            Count each BPF program's runs and run time (bridgeport_bpf_program_* in the metrics). Kernel-wide \
            while the agent runs: every BPF program on the host pays two clock reads a run.
            """)
    var bpfStats = false

    @Option(
        name: .customLong("web.config.file"),
        help: "TLS and basic auth for the metrics endpoint (Prometheus exporter web config YAML).")
    var webConfigFile: String?

    @Option(help: "Join a cluster whose state lives in this etcd (etcd://HOST:PORT): overlay networks across hosts.")
    var clusterStore: String?

    @Option(
        help: """
            This host's underlay address, where other hosts send its containers' overlay traffic (needs --cluster-store).
            """)
    var advertiseAddress: String?

    @Option(
        help: """
            Serve Docker's remote network driver protocol on this socket, e.g. /run/docker/plugins/bridgeport.sock \
            (then: docker network create -d bridgeport).
            """)
    var dockerPluginSocket: String?

    @Option(
        help: ArgumentHelp(
            """
            How long an idle flow lives, e.g. udp=2s (repeatable). NAME: \(FlowTimeouts.names.joined(separator: ", ")); \
            DURATION as Go writes it (30s, 5m, 120h). Defaults are Linux conntrack's: \(DaemonCommand.defaultTimeouts).
            """, valueName: "name=duration"))
    var flowTimeout: [String] = []

    @Option(
        help: """
            Flows the flow table holds; a new flow beyond is dropped and counted (ct_full). The table is allocated \
            at start: about 220 bytes per flow (57 MiB at the default).
            """)
    var maxFlows = AgentConfiguration().maxFlows

    @Option(
        help: """
            The host's resolver configuration: containers' search domains and options, and the servers the \
            embedded DNS forwards names to that no network knows.
            """)
    var resolvConf = AgentConfiguration().resolvConf

    @Option(
        help: ArgumentHelp(
            """
            The daemon's configuration file, with Docker's daemon.json keys: default-address-pools, bip, fixed-cidr, \
            default-gateway, mtu, icc, ip, dns, ipv6, fixed-cidr-v6 (default: \(AgentConfiguration.defaultConfigFile), if it exists).
            """, valueName: "path"))
    var configFile: String?

    @Option(
        help: ArgumentHelp(
            "Subnets of user-defined networks without --subnet, e.g. base=10.10.0.0/16,size=24 (repeatable).",
            valueName: "base=cidr,size=n"))
    var defaultAddressPool: [String] = []

    @Option(help: "The default bridge's address and prefix length, e.g. 172.20.0.1/16.")
    var bip: String?

    @Option(help: "The default bridge's range of container addresses (CIDR).")
    var fixedCidr: String?

    @Option(help: "The default route of the default bridge's containers (an address of its subnet).")
    var defaultGateway: String?

    @Option(help: "The MTU of the default bridge and its containers' interfaces.")
    var mtu: Int?

    @Option(help: "false: containers on the default bridge cannot talk to each other.")
    var icc: Bool?

    @Option(help: "The host address of -p without one (default: 0.0.0.0).")
    var ip: String?

    @Option(help: "The DNS server of containers without run --dns (repeatable; default: the host's).")
    var dns: [String] = []

    @Flag(help: "Give the default bridge IPv6 too (from --fixed-cidr-v6, else a ULA /64).")
    var ipv6 = false

    @Option(help: "The default bridge's IPv6 subnet (CIDR; with --ipv6).")
    var fixedCidrV6: String?

    @Option(help: "Log level.")
    var logLevel: LogLevel = .info

    /// --attach: auto leaves the choice to the agent (AgentConfiguration.attachMode nil).
    enum AttachOption: String, ExpressibleByArgument, CaseIterable {
        case auto, tcx, tc

        var mode: TCAttachMode? { TCAttachMode(rawValue: rawValue) }
    }

    /// --log-level: swift-log's levels, by their names.
    enum LogLevel: String, ExpressibleByArgument, CaseIterable {
        case trace, debug, info, notice, warning, error, critical

        var level: Logger.Level {
            switch self {
            case .trace: .trace
            case .debug: .debug
            case .info: .info
            case .notice: .notice
            case .warning: .warning
            case .error: .error
            case .critical: .critical
            }
        }
    }

    func validate() throws {
        do { _ = try fileFlags().validated() } catch { throw ValidationError("\(error)") }
        _ = try metricsEndpoint()
        _ = try flowTimeouts()
        guard (1...DaemonCommand.maxFlowsLimit).contains(maxFlows) else {
            throw ValidationError("invalid --max-flows \(maxFlows): use 1 to \(DaemonCommand.maxFlowsLimit)")
        }
        if let clusterStore {
            guard clusterStore.hasPrefix("etcd://"), clusterStore.count > 7 else {
                throw ValidationError("invalid --cluster-store \"\(clusterStore)\": expected etcd://HOST:PORT")
            }
            guard let advertiseAddress else {
                throw ValidationError("--cluster-store needs --advertise-address IP (this host's underlay address)")
            }
            guard IPv4Address(advertiseAddress) != nil else {
                throw ValidationError("invalid --advertise-address \"\(advertiseAddress)\": expected an IPv4 address")
            }
        } else if advertiseAddress != nil {
            throw ValidationError("--advertise-address needs --cluster-store etcd://HOST:PORT")
        }
    }

    func metricsEndpoint() throws -> (String, Int) {
        let parts = metricsAddress.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count <= 2, !parts[0].isEmpty else {
            throw ValidationError("invalid --metrics-address \"\(metricsAddress)\": expected HOST[:PORT]")
        }
        guard parts.count == 2 else { return (String(parts[0]), AgentConfiguration.defaultMetricsPort) }
        guard let port = Int(parts[1]), (1...65535).contains(port) else {
            throw ValidationError(
                "invalid --metrics-address \"\(metricsAddress)\": the port must be a number from 1 to 65535")
        }
        return (String(parts[0]), port)
    }

    /// 2^24 flows: 2^25 entries, about 3.5 GiB of kernel memory.
    static let maxFlowsLimit = 1 << 24

    func flowTimeouts() throws -> FlowTimeouts {
        var timeouts = FlowTimeouts()
        for setting in flowTimeout {
            do {
                try timeouts.apply(setting)
            } catch let ModelError.invalidOption(_, rule) {
                throw ValidationError("invalid --flow-timeout \"\(setting)\": \(rule)")
            } catch {
                throw ValidationError("invalid --flow-timeout \"\(setting)\": \(error)")
            }
        }
        return timeouts
    }

    /// "tcp-syn=2m, ...": the defaults, for the help.
    static var defaultTimeouts: String {
        let defaults = FlowTimeouts()
        return FlowTimeouts.names.compactMap { name in defaults[name].map { "\(name)=\(text(seconds: $0))" } }
            .joined(separator: ", ")
    }

    /// 432000 -> "120h", 30 -> "30s" (Go's way, for the help).
    static func text(seconds: UInt32) -> String {
        seconds % 3600 == 0 ? "\(seconds / 3600)h" : seconds % 60 == 0 ? "\(seconds / 60)m" : "\(seconds)s"
    }

    /// The settings that have a daemon.json key, as the flags give them.
    func fileFlags() throws(ModelError) -> DaemonFile {
        var flags = DaemonFile()
        flags.defaultAddressPools =
            defaultAddressPool.isEmpty ? nil : try defaultAddressPool.map(DaemonFile.Pool.init(flag:))
        (flags.bip, flags.fixedCIDR, flags.defaultGateway) = (bip, fixedCidr, defaultGateway)
        (flags.mtu, flags.icc, flags.ip) = (mtu, icc, ip)
        flags.dns = dns.isEmpty ? nil : dns
        (flags.ipv6, flags.fixedCIDRv6) = (ipv6 ? true : nil, fixedCidrV6)
        return flags
    }

    func run() async throws {
        // Read first: a bad file stops the daemon before it changes anything.
        let networkDefaults: NetworkDefaults
        do {
            networkDefaults = try AgentConfiguration.networkDefaults(
                file: configFile ?? AgentConfiguration.defaultConfigFile, explicit: configFile != nil,
                flags: try fileFlags())
        } catch let error as AgentError {
            throw Failure(message: "\(error)", code: 1)
        }
        if let netns, ProcessInfo.processInfo.environment["BRIDGEPORT_NETNS_ENTERED"] == nil {
            // Only returns on failure: every thread of the new image lives in the namespace.
            let error = Sandbox.reexecInNetworkNamespace(netns, arguments: CommandLine.arguments)
            throw Failure(message: "cannot enter network namespace \(netns): \(error)", code: 1)
        }
        LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
        var logger = Logger(label: "bridgeport")
        logger.logLevel = logLevel.level

        var configuration = AgentConfiguration()
        configuration.stateDirectory = stateDir
        configuration.bpfRoot = bpfRoot
        configuration.socketPath = socket
        (configuration.metricsHost, configuration.metricsPort) = try metricsEndpoint()
        configuration.cgroupPath = cgroup
        configuration.bpfObjectDirectory = bpfObjects
        configuration.attachMode = attach.mode
        configuration.webConfigFile = webConfigFile
        configuration.portSeries = metricsPortSeries
        configuration.monitorRate = monitorRate
        configuration.clusterStore = clusterStore
        configuration.dockerPluginSocket = dockerPluginSocket
        configuration.advertiseAddress = advertiseAddress.flatMap(IPv4Address.init)
        configuration.flowTimeouts = try flowTimeouts()
        configuration.maxFlows = maxFlows
        configuration.programStatistics = bpfStats
        configuration.resolvConf = resolvConf
        configuration.networkDefaults = networkDefaults
        do {
            try await AgentService.run(configuration: configuration, logger: logger)
        } catch {
            throw Failure(message: "bridgeport daemon: \(error)", code: 1)
        }
    }
}

extension PortSeries: ExpressibleByArgument {}
