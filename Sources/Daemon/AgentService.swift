import FoundationEssentials
import Glibc
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import NIOCore
import NIOSSL
import ServiceLifecycle

/// Runs the agent: reconcile, then serve the API (unix socket) and the metrics endpoint
/// (TCP) until SIGTERM or SIGINT, then stop both gracefully.
public enum AgentService {
    public static func run(configuration: AgentConfiguration, logger: Logger) async throws {
        try await run(configuration: configuration, logger: logger, kernel: SystemKernelProbe())
    }

    /// `kernel`: what the running kernel has; checked first, so that the agent refuses to
    /// start rather than forward packets wrongly.
    static func run(configuration: AgentConfiguration, logger: Logger, kernel: some KernelProbe) async throws {
        try KernelRequirements.check(configuration, kernel: kernel)
        umask(0o077)  // state, socket and files we write are root's alone
        raiseDescriptorLimit()
        let web = try configuration.webConfigFile.map(WebConfiguration.load)
        let tls = try web?.tlsConfiguration()
        let agent = try Agent(configuration: configuration, logger: logger)
        // What the agent holds open beyond its process (the cluster store's HTTP client,
        // which must be shut down before it goes) is closed however serving ends.
        do {
            try await serve(agent, configuration: configuration, web: web, tls: tls, logger: logger)
        } catch {
            await agent.closeConnections()
            throw error
        }
        await agent.closeConnections()
    }

    /// Reconciles, joins the cluster and serves until SIGTERM or SIGINT.
    private static func serve(
        _ agent: Agent, configuration: AgentConfiguration, web: WebConfiguration?, tls: TLSConfiguration?,
        logger: Logger
    ) async throws {
        for repair in try await agent.reconcile() {
            logger.notice("reconcile: \(repair)")
        }
        do {
            for conflict in try await agent.joinCluster() { logger.error("cluster: \(conflict)") }
        } catch {
            throw AgentError.startup("cannot join the cluster at \(configuration.clusterStore ?? ""): \(error)")
        }
        try claimSocket(configuration.socketPath)

        let api = Application(
            router: APIRoutes.router(agent: agent),
            server: .http1(configuration: httpLimits),
            configuration: .init(address: .unixDomainSocket(path: configuration.socketPath), serverName: "bridgeport"),
            onServerRunning: { _ in chmod(configuration.socketPath, 0o600) },
            logger: logger)
        let metrics = Application(
            router: MetricsRoutes.router(agent: agent, basicAuthUsers: web?.basicAuthUsers),
            server: try tls.map { try .tls(.http1(configuration: httpLimits), tlsConfiguration: $0) }
                ?? .http1(configuration: httpLimits),
            configuration: .init(
                address: .hostname(configuration.metricsHost, port: configuration.metricsPort), serverName: "bridgeport"
            ),
            logger: logger)
        logger.notice(
            "agent ready",
            metadata: [
                "socket": "\(configuration.socketPath)",
                "metrics":
                    "\(tls == nil ? "http" : "https")://\(configuration.metricsHost):\(configuration.metricsPort)/metrics",
            ])
        var services: [any Service] = [api, metrics, LinkWatch(agent: agent, logger: logger), ExitWatch(agent: agent)]
        if let collector = agent.flowCollector { services.append(collector) }
        if let hub = agent.monitor { services.append(MonitorService(hub: hub, agent: agent)) }
        if let path = configuration.dockerPluginSocket {
            try FileManager.default.createDirectory(
                atPath: URL(filePath: path).deletingLastPathComponent().path, withIntermediateDirectories: true)
            try claimSocket(path)
            services.append(
                Application(
                    router: DockerPlugin.router(agent: agent), server: .http1(configuration: httpLimits),
                    configuration: .init(address: .unixDomainSocket(path: path), serverName: "bridgeport"),
                    onServerRunning: { _ in chmod(path, 0o600) }, logger: logger))
        }
        if let cluster = agent.cluster { services.append(ClusterSync(agent: agent, cluster: cluster, logger: logger)) }
        let group = ServiceGroup(
            configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        defer {
            unlink(configuration.socketPath)
            if let path = configuration.dockerPluginSocket { unlink(path) }
        }
        try await group.run()
    }

    /// Both servers: a connection that sends nothing for 30 s is closed, so idle or stalled
    /// clients don't pile up; request headers are capped at 16 KiB (Prometheus sends a few
    /// hundred bytes). Each connection has its own NIO channel, so a slow one never holds up
    /// the others. Bodies are capped by Hummingbird's maxUploadSize (2 MiB).
    static let httpLimits = HTTP1Channel.Configuration(
        idleTimeout: .seconds(30),
        httpDecoderConfiguration: .init(
            maxHeaderFieldSize: 16 * 1024, maxHeaderListSize: 16 * 1024, maxHeaderFieldCount: 100))

    /// Removes a socket file left by an agent that died, but refuses to start next to a live one.
    static func claimSocket(_ path: String) throws {
        guard FileManager.default.fileExists(atPath: path) else { return }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            let bytes = Array(path.utf8.prefix(raw.count - 1))
            raw.copyBytes(from: bytes)
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        if connected == 0 {
            throw AgentError.startup(
                "another agent is already serving \(path): stop it first, or pass another --socket")
        }
        unlink(path)
    }
}

/// Each container's DNS server holds descriptors (two listeners, and its forwards and TCP
/// clients while they last): the soft limit goes up to the hard one, as dockerd's unit
/// sets LimitNOFILE, so that hundreds of containers do not exhaust the default 1,024.
func raiseDescriptorLimit() {
    var limit = rlimit()
    let resource = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
    guard getrlimit(resource, &limit) == 0, limit.rlim_cur < limit.rlim_max else { return }
    limit.rlim_cur = limit.rlim_max
    _ = setrlimit(resource, &limit)
}
