import API
import Datapath
import FoundationEssentials
import Links
import Logging
import Model
import NIOPosix
import Store

/// The agent's state machine. Every change follows one path: the model validates and
/// allocates, the store commits, the dataplane applies; if applying fails, what was done
/// is undone and the record removed, so a change is all or nothing. Being an actor, it
/// runs one change at a time: two racing requests for one name or address can't both win.
public actor Agent {
    let configuration: AgentConfiguration
    let store: Store
    /// The kernel side; a fake in the agent's tests.
    let datapath: any Datapath
    let runtime: Runtime
    let logger: Logger
    var registry: Registry
    /// The cluster store (overlay networks), when the agent joined a cluster.
    let cluster: ClusterStore?
    /// Overlay containers of other hosts, by their key in the cluster store.
    var remoteEndpoints: [String: ClusterEndpoint] = [:]
    /// The cluster's hosts, whose VXLAN the uplinks take.
    var clusterHosts: Set<IPv4Address> = []
    /// The flow table's garbage collector (a service of its own; the exporter reads its
    /// passes); nil when the datapath has no flow table.
    let flowCollector: FlowCollector?
    /// Docker's remote driver: endpoints created and not yet joined, by endpoint ID.
    var dockerEndpoints: [String: DockerEndpoint] = [:]
    /// The embedded DNS server in each container on a user-defined network.
    nonisolated let dns: EmbeddedDNS
    /// The programs' events for `bridgeport monitor` and the last drops of inspect and
    /// stats; nil when the datapath has none.
    nonisolated let monitor: MonitorHub?
    /// The host's resolv.conf, as read when the agent started or a container last did.
    var hostResolvConf = ResolvConf()
    var hostResolvConfText = ""
    /// The links with the uplink program, by ifindex (see `linkChanged`).
    private var uplinks: [UInt32: String] = [:]
    /// How --rm containers that are gone ended, for `wait`s that come after (at most 256).
    private var finished: [String: WaitResult] = [:]
    /// `finished`'s keys, oldest first: the oldest result goes when more than 256 are kept.
    private var finishedOrder: [String] = []

    /// The agent's changes make blocking system calls (netlink, bpf, mount, fork): they run
    /// on a thread of their own, not on the cooperative pool that serves the API and scrapes.
    private static let thread = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    public nonisolated var unownedExecutor: UnownedSerialExecutor {
        Agent.thread.next().executor.asUnownedSerialExecutor()
    }

    /// Closes what the agent holds open toward others when it stops: the containers' DNS
    /// listeners and the cluster store's client (the lease stays for the next start).
    nonisolated func closeConnections() async {
        await dns.shutdown()
        await cluster?.shutdown()
    }

    public init(configuration: AgentConfiguration, logger: Logger) throws {
        try self.init(
            configuration: configuration,
            datapath: try KernelDatapath(configuration: configuration.datapath, logger: logger),
            logger: logger)
    }

    init(configuration: AgentConfiguration, datapath: any Datapath, logger: Logger) throws {
        self.configuration = configuration
        self.logger = logger
        for directory in ["", "/netns", "/containers"] {
            try FileManager.default.createDirectory(
                atPath: configuration.stateDirectory + directory, withIntermediateDirectories: true)
        }
        store = try Store(path: configuration.databasePath)
        self.datapath = datapath
        let monitor = datapath.monitor.map { MonitorHub(source: $0, rate: configuration.monitorRate, logger: logger) }
        self.monitor = monitor
        flowCollector = datapath.flows.map {
            FlowCollector(table: $0, table6: datapath.flows6, timeouts: configuration.flowTimeouts, logger: logger)
        }
        // The flows a flush or the collector removes end through the tables' endings.
        if let monitor {
            for table in [datapath.flows?.endings, datapath.flows6?.endings] { table?.connect(monitor.endedFlows) }
        }
        runtime = Runtime(configuration: configuration)
        dns = EmbeddedDNS(logger: logger)
        registry = try store.load()
        registry.defaults = configuration.networkDefaults
        dockerEndpoints = try store.dockerEndpoints()
        cluster = try configuration.clusterStore.map { _ in
            try ClusterStore(configuration: configuration, logger: logger)
        }
    }

    // MARK: Start-up

    /// Makes the host match the store: creates the predefined networks on first start,
    /// recreates missing bridges, namespaces and veths, and removes what we own but no
    /// record mentions. Returns one line per repair.
    public func reconcile() throws -> [String] {
        var repairs: [String] = []
        if registry.networks.isEmpty {
            registry.networks = try Registry.predefinedNetworks(
                now: Date(), hostPrefixes: try datapath.hostPrefixes(), defaults: registry.defaults)
            _ = try registry.numberNetworks()
            try store.insert(networks: registry.networks)
            repairs.append(
                "created the predefined networks bridge (\(registry.networks[0].subnet!) on \(Network.defaultBridgeName)), host and none"
            )
        } else if let bridge = try registry.plannedDefaultBridge(), let old = registry.defaultNetwork {
            // Nothing is on it (see plannedDefaultBridge): its device goes, and is made
            // anew below with the new address and MTU.
            try store.update(network: bridge)
            registry.networks = registry.networks.map { $0.id == bridge.id ? bridge : $0 }
            datapath.removeNetwork(old)
            repairs.append(
                "the default bridge takes the daemon's settings: "
                    + DefaultBridgeSettings.changes(from: old, to: bridge).joined(separator: ", "))
        }
        for network in try registry.numberNetworks() {
            try store.update(network: network)
            repairs.append("gave network \(network.name) the local number \(network.localNumber!), kept from now on")
        }
        // In a cluster, VXLAN is taken from its hosts only; the hosts known before a restart
        // stay until the store is read again, so the overlay's traffic goes on meanwhile.
        try datapath.setVXLANPeers(cluster.map { [$0.host] }, keepingOthers: true)
        for network in registry.networks {
            if network.driver == .overlay && cluster == nil {
                logger.warning("overlay network \(network.name) stays down: the agent runs without --cluster-store")
                continue
            }
            repairs += try datapath.ensureNetwork(network)
        }
        try datapath.refreshHostAddresses()
        try datapath.syncSubnets(registry)
        // Not on other runtimes' veths, which reconcileAttachments equips as endpoints below.
        for link in try datapath.attachUplinks(except: Set(registry.attachments.map(\.hostInterface))) {
            uplinks[UInt32(link.index)] = link.name
        }
        logger.info(
            "published ports answer on the uplinks",
            metadata: ["uplinks": "\(uplinks.values.sorted().joined(separator: ","))"])
        for container in registry.containers {
            // An agent killed between recording a container and making its files leaves
            // the record without them: make them (an existing directory is kept).
            try runtime.files(container.id).create()
            let namespace = configuration.namespacePath(container.id)
            if usesOwnNamespace(container) && !runtime.namespaceExists(namespace) {
                try runtime.createNamespace(namespace)
                repairs.append("recreated the network namespace of container \(container.name)")
            }
            for endpoint in registry.endpoints(ofContainer: container.id) {
                if datapath.interfaceExists(endpoint, namespace: namespace) {
                    try datapath.configure(
                        endpoint, network: try registry.network(endpoint.networkID), namespace: namespace)
                } else {
                    try datapath.attach(
                        endpoint, network: try registry.network(endpoint.networkID), namespace: namespace)
                    repairs.append(
                        "recreated interface \(endpoint.containerInterface ?? "") of container \(container.name)")
                }
            }
            try updateDefaultRoute(container)
        }
        repairs += try reconcileAttachments()
        try datapath.syncSubnets(registry)
        try datapath.syncPorts(registry)
        // Other runtimes' namespaces too, while they exist: their containers reach published ports.
        try datapath.syncNamespaces(
            containers: registry.containers.filter(usesOwnNamespace).map { container in
                (
                    configuration.namespacePath(container.id),
                    datapath.socketSource(registry.endpoints(ofContainer: container.id))
                )
            }
                + registry.attachments.filter { FileManager.default.fileExists(atPath: $0.namespace) }.map {
                    ($0.namespace, socketSource($0))
                })
        let cgroup = try datapath.attachSocketHooks(cgroup: configuration.cgroupPath)
        logger.info("socket hooks attached", metadata: ["cgroup": "\(cgroup)"])
        repairs += try datapath.removeOrphans(keeping: registry)
        repairs += runtime.removeOrphanNamespaces(keeping: Set(registry.containers.map(\.id)))
        readHostResolvConf()
        publishNames()
        for container in registry.containers {
            try writeNameFiles(container)
            // A container without its DNS server still runs: say so, and go on.
            do { try serveNames(container) } catch {
                logger.error("embedded DNS: cannot serve container \(container.name): \(error)")
            }
        }
        return repairs
    }

    public func info() -> AgentInfo {
        AgentInfo(
            version: bridgeportVersion, networks: registry.networks.count, containers: registry.containers.count,
            running: registry.containers.filter { runtime.status($0) == .running }.count,
            publishedPorts: registry.containers.reduce(0) { $0 + $1.ports.count })
    }

    // MARK: Networks

    public func networkViews() -> [NetworkView] { registry.networks.map(view) }

    public func networkView(_ reference: String) throws -> NetworkView { view(try registry.network(reference)) }

    public func createNetwork(_ request: NetworkRequest) async throws -> NetworkView {
        guard request.driver == NetworkDriver.overlay.rawValue else {
            let network = try registry.planNetwork(
                request, id: randomID(), now: Date(), hostPrefixes: try datapath.hostPrefixes(),
                hostPrefixes6: datapath.hostPrefixes6())
            try addNetwork(network)
            return view(network)
        }
        return view(try await createOverlayNetwork(request))
    }

    /// Makes a planned network exist here: record, devices, maps. Known ones are skipped
    /// (an overlay network arrives both from its creation and from the cluster's watch).
    func addNetwork(_ planned: Network) throws {
        guard !registry.networks.contains(where: { $0.id == planned.id }) else { return }
        var network = planned
        // Its number in the maps, for good (a cluster's network may bring another host's).
        if network.localNumber == nil || registry.networks.contains(where: { $0.localNumber == network.localNumber }) {
            guard let number = registry.unusedLocalNumber() else { throw ModelError.networksExhausted }
            network.localNumber = number
        }
        try store.insert(networks: [network])
        var undo = Undo()
        defer { undo.run() }
        undo.add { [network] in try? self.store.deleteNetwork(id: network.id) }
        undo.add { [network] in
            self.datapath.removeNetwork(network)
            try? self.datapath.refreshHostAddresses()  // the gateway's address went with the bridge
        }
        _ = try datapath.ensureNetwork(network)
        try datapath.refreshHostAddresses()
        registry.networks.append(network)
        undo.add { [network] in
            self.registry.networks.removeAll { $0.id == network.id }
            try? self.datapath.syncSubnets(self.registry)  // a sync that failed half-way wrote some
        }
        try datapath.syncSubnets(registry)
        undo.cancel()
        logger.info(
            "network created",
            metadata: [
                "network": "\(network.name)", "driver": "\(network.driver)",
                "subnet": "\(network.subnet.map(String.init(describing:)) ?? "none")",
                "subnet6": "\(network.ipv6.map { String(describing: $0.subnet) } ?? "none")",
            ])
    }

    public func removeNetwork(_ reference: String) async throws -> Network {
        let network = try registry.planRemoveNetwork(reference)
        if network.driver == .overlay {
            try await unpublishOverlayNetwork(network)
            // The cluster's watch may have removed it here meanwhile.
            guard registry.networks.contains(where: { $0.id == network.id }) else { return network }
        }
        try dropNetwork(try registry.planRemoveNetwork(network.id))
        return network
    }

    /// `network prune`: each custom network no container is on (running or stopped, or
    /// another runtime's: an attachment) that the filter takes, removed as `removeNetwork`
    /// removes one (with its own rollback). One that fails is kept and logged, as Docker's
    /// daemon does. Not pruned here: dockerd's networks (its own prune removes them), and the
    /// overlay networks other hosts created (theirs to prune).
    public func pruneNetworks(_ request: NetworkPruneRequest) async throws -> NetworkPruneReport {
        let filter = try NetworkPruneFilter(request.filters, now: Date())
        let unused = registry.networks.filter { network in
            !network.isPredefined && filter.matches(network) && registry.endpoints(inNetwork: network.id).isEmpty
                && !registry.attachments.contains { $0.networkID == network.id }
                && network.name != Agent.dockerNetworkName(network.id)
                && (network.driver != .overlay || (network.origin != nil && network.origin == cluster?.host))
        }
        var deleted: [String] = []
        for network in unused {
            do {
                _ = try await removeNetwork(network.id)
                deleted.append(network.name)
            } catch {
                logger.warning("network prune: \(network.name) stays", metadata: ["error": "\(error)"])
            }
        }
        return NetworkPruneReport(networksDeleted: deleted)
    }

    /// Forgets a network here: maps, record, devices. The maps go first, as they can be
    /// put back; the devices' removal is the point of no return.
    func dropNetwork(_ network: Network) throws {
        var remaining = registry
        remaining.networks.removeAll { $0.id == network.id }
        var undo = Undo()
        defer { undo.run() }
        undo.add { try? self.datapath.syncSubnets(self.registry) }
        try datapath.syncSubnets(remaining)
        try store.deleteNetwork(id: network.id)
        undo.cancel()
        registry = remaining
        datapath.removeNetwork(network)
        afterCommit("re-reading the host's addresses") { try datapath.refreshHostAddresses() }
        logger.info("network removed", metadata: ["network": "\(network.name)"])
    }

    /// Undoes `addNetwork` when the change that made the network fails later.
    func forgetNetwork(_ network: Network) {
        try? store.deleteNetwork(id: network.id)
        registry.networks.removeAll { $0.id == network.id }
        datapath.removeNetwork(network)
        try? datapath.syncSubnets(registry)
        try? datapath.refreshHostAddresses()
    }

    /// A step after a change's point of no return: the change is made, so its failure is
    /// logged, not thrown; the next reconcile (or event) repairs what it left.
    func afterCommit(_ what: String, _ step: () throws -> Void) {
        do { try step() } catch {
            logger.warning("\(what) failed after the change was made", metadata: ["error": "\(error)"])
        }
    }

    public func connect(network reference: String, _ request: ConnectRequest) async throws {
        let target = try registry.network(reference)
        let containerID = try registry.container(request.container).id
        let name = try registry.container(containerID).name
        let reserved = try await reserveOverlayAddress(
            on: target, requested: request.ip, requested6: request.ip6, containerID: containerID, name: name,
            aliases: request.aliases)
        do {
            try connect(network: target.id, request, reserved: reserved)
        } catch {
            if let reserved {
                await cluster?.release(
                    networkID: target.id, ip: reserved.ip, ip6: reserved.ip6, containerID: containerID)
            }
            throw error
        }
    }

    private func connect(network reference: String, _ request: ConnectRequest, reserved: ClusterEndpoint?) throws {
        let endpoint = try registry.planConnect(
            network: reference, container: request.container, ip: request.ip, ip6: request.ip6,
            aliases: request.aliases ?? [],
            reserved: reserved?.ip, reserved6: reserved?.ip6)
        let network = try registry.network(endpoint.networkID)
        let container = try registry.container(endpoint.containerID)
        try store.insert(endpoint: endpoint)
        var undo = Undo()
        defer { undo.run() }
        undo.add { try? self.store.delete(endpoint: endpoint) }
        let namespace = configuration.namespacePath(container.id)
        undo.add { self.datapath.detach(endpoint, namespace: namespace) }
        try datapath.attach(endpoint, network: network, namespace: namespace)
        registry.endpoints.append(endpoint)
        undo.add {
            self.registry.endpoints.removeAll { $0.id == endpoint.id }
            self.resyncContainer(container, networks: [endpoint.networkID])
        }
        try datapath.syncPorts(registry)
        try updateDefaultRoute(container)
        try registerNamespace(container)
        try writeNameFiles(container)
        try serveNames(container)
        publishNames()
        undo.cancel()
    }

    /// Puts the maps, route and files of a container back to what the registry says
    /// (the undo of a connect or disconnect).
    private func resyncContainer(_ container: Container, networks: Set<String>) {
        try? datapath.syncPorts(registry)
        try? updateDefaultRoute(container)
        try? registerNamespace(container)
        try? writeNameFiles(container)
        try? serveNames(container)
        publishNames()
    }

    public func disconnect(network reference: String, container containerReference: String) async throws {
        let endpoint = try registry.planDisconnect(network: reference, container: containerReference)
        let container = try registry.container(endpoint.containerID)
        // Maps, route and socket source move off the endpoint first (they can be put back);
        // the interface's removal is the point of no return.
        var undo = Undo()
        defer { undo.run() }
        registry.endpoints.removeAll { $0.id == endpoint.id }
        undo.add {
            self.registry.endpoints.append(endpoint)
            self.resyncContainer(container, networks: [endpoint.networkID])
        }
        try datapath.syncPorts(registry)
        try updateDefaultRoute(container)
        try registerNamespace(container)
        try store.delete(endpoint: endpoint)
        undo.cancel()
        datapath.detach(endpoint, namespace: configuration.namespacePath(endpoint.containerID))
        publishNames()
        afterCommit("rewriting /etc/hosts and resolv.conf") { try writeNameFiles(container) }
        afterCommit("closing the embedded DNS server") { try serveNames(container) }
        await releaseOverlayAddresses([endpoint])
    }

    // MARK: Containers

    public func containerViews(all: Bool) -> [ContainerView] {
        registry.containers.map(view).filter { all || $0.status == .running }
    }

    public func containerView(_ reference: String) throws -> ContainerView {
        var view = view(try registry.container(reference))
        view.lastDrops = monitor?.recentDrops(of: view.container.id)
        return view
    }

    public func run(_ request: ContainerRequest) async throws -> ContainerView {
        let id = randomID()
        let attachments = try request.attachments()
        if let target = attachments[0].joinedContainer {
            let joined = try registry.container(target)
            guard runtime.status(joined) == .running else { throw ModelError.joinNotRunning(target) }
        }
        // Overlay networks' addresses come from the cluster store, before the plan.
        var reserved: [String: ClusterEndpoint] = [:]
        do {
            for attachment in attachments where attachment.joinedContainer == nil {
                let network = try registry.network(
                    attachment.network == "default" ? Network.defaultName : attachment.network)
                reserved[network.id] = try await reserveOverlayAddress(
                    on: network, requested: attachment.ip, requested6: attachment.ip6, containerID: id,
                    name: request.name ?? Registry.generatedName(id: id), aliases: attachment.aliases)
            }
            return try run(request, id: id, reserved: reserved)
        } catch {
            for (networkID, endpoint) in reserved {
                await cluster?.release(
                    networkID: networkID, ip: endpoint.ip, ip6: endpoint.ip6, containerID: endpoint.containerID)
            }
            throw error
        }
    }

    private func run(
        _ request: ContainerRequest, id: String, reserved: [String: ClusterEndpoint]
    ) throws
        -> ContainerView
    {
        var steps = StepTimer()
        let (planned, endpoints) = try registry.planContainer(
            request, id: id, now: Date(),
            portInUse: datapath.hostPortInUse, reserved: reserved.mapValues(\.ip),
            reserved6: reserved.compactMapValues(\.ip6))
        var container = planned
        let namespace = namespacePath(of: container)
        let files = runtime.files(container.id)
        // Recorded before anything is made, so that a restart finds what a crash left half
        // made; provisional: the durable update at the end carries it (one fsync a run).
        try store.insert(container: container, endpoints: endpoints, commit: .provisional)
        steps.mark("plan+record")

        var undo = Undo()
        defer { undo.run() }
        undo.add { [container] in try? self.store.deleteContainer(id: container.id) }
        undo.add { files.remove() }
        try files.create()
        if usesOwnNamespace(container) {
            undo.add { self.runtime.deleteNamespace(namespace) }
            try runtime.createNamespace(namespace)
            undo.add { self.datapath.unregister(containerNamespace: namespace) }
        }
        steps.mark("files+netns")
        for endpoint in endpoints {
            undo.add { self.datapath.detach(endpoint, namespace: namespace) }
            try datapath.attach(endpoint, network: try registry.network(endpoint.networkID), namespace: namespace)
        }
        steps.mark("attach")
        if usesOwnNamespace(container) {
            try datapath.register(containerNamespace: namespace, source: datapath.socketSource(endpoints), dns: nil)
        }
        registry.containers.append(container)
        registry.endpoints += endpoints
        undo.add { [container] in
            self.registry.containers.removeAll { $0.id == container.id }
            self.registry.endpoints.removeAll { $0.containerID == container.id }
            self.publishNames()
        }
        try updateDefaultRoute(container)
        readHostResolvConf()
        try writeNameFiles(container)
        undo.add { [container] in self.dns.close(container: container.id) }
        try serveNames(container)
        publishNames()
        steps.mark("names")
        undo.add { [container] in self.datapath.unpublish(container) }
        try datapath.publish(container, registry: registry)
        steps.mark("publish")
        container.process = try startProcess(container, attach: request.attach)
        steps.mark("process")
        try store.update(container: container)
        steps.mark("commit")
        undo.cancel()
        replace(container)

        logger.info(
            "container started", metadata: ["container": "\(container.name)", "pid": "\(container.process.pid)"])
        logger.debug("container run's steps", metadata: ["container": "\(container.name)", "ms": "\(steps)"])
        var result = view(container)
        let first = try? registry.network(container.networkMode)
        if let first, !first.driver.hasEndpoints && (!request.ports.isEmpty || request.publishAll == true) {
            result.warnings.append("Published ports are discarded when using \(first.name) network mode")
        }
        return result
    }

    /// Starts the container's command in its network namespace: its own, the host's, or
    /// the one of the container it joined, whose names files it then shares.
    private func startProcess(_ container: Container, attach: ProcessAttachment? = nil) throws -> ProcessState {
        if let joinedID = container.joinedContainerID {
            let joined = try registry.container(joinedID)
            guard runtime.status(joined) == .running else { throw ModelError.joinNotRunning(joined.name) }
            return try runtime.start(
                container, namespace: namespacePath(of: container), nameFiles: runtime.files(joinedID), attach: attach)
        }
        return try runtime.start(
            container, namespace: container.networkMode == "host" ? nil : namespacePath(of: container),
            nameFiles: runtime.files(container.id), attach: attach)
    }

    /// Restricts (or opens again) who may use a published host port of the container.
    public func allow(_ reference: String, _ request: AllowRequest) throws -> ContainerView {
        let previous = try registry.container(reference)
        let container = try registry.planAllow(
            container: reference, hostPort: request.hostPort,
            sources: request.sources, clear: request.clear)
        try store.update(container: container)
        var undo = Undo()
        defer { undo.run() }
        undo.add {
            try? self.store.update(container: previous)
            self.replace(previous)
            try? self.datapath.syncPorts(self.registry)
        }
        replace(container)
        try datapath.syncPorts(registry)
        undo.cancel()
        return view(container)
    }

    /// What the container's command wrote to stdout and stderr.
    public func logs(_ reference: String) throws -> String {
        let container = try registry.container(reference)
        return (try? String(contentsOfFile: runtime.files(container.id).log, encoding: .utf8)) ?? ""
    }

    /// Stops the container: SIGTERM to its command (PID 1 of its namespace), SIGKILL after
    /// `timeout` seconds; the kernel ends every other process with it. Its flows go with
    /// it, and its host ports are released, as in Docker, until `start`.
    public func stop(_ reference: String, timeout: Int) async throws -> Container {
        let container = try registry.container(reference)
        await runtime.stop(container, timeout: timeout)
        // The actor took other calls while it waited: a `start` meanwhile made a new process,
        // which this stop must leave as it is.
        let current = try registry.container(container.id)
        guard current.process.pid == container.process.pid, current.process.startTicks == container.process.startTicks
        else { return current }
        let stopped = try release(container.id)
        await removeIfAuto(stopped)
        return stopped
    }

    /// Waits until the container's command has ended (`docker wait`, and attached `run`),
    /// then answers its exit code and output. A --rm container is removed then; a waiter
    /// that comes late still gets its answer from `finished`.
    public func wait(_ reference: String) async throws -> WaitResult {
        let id: String
        do {
            id = try registry.container(reference).id
        } catch {
            // A --rm container that ended and went before its waiter came: its result stays.
            let ended = finished.filter { $0.key.hasPrefix(reference) }
            guard ended.count == 1, let result = ended.first?.value else { throw error }
            return result
        }
        while let current = registry.containers.first(where: { $0.id == id }), runtime.status(current) == .running {
            try await Task.sleep(for: .milliseconds(50))
        }
        guard registry.containers.contains(where: { $0.id == id }) else {
            guard let result = finished[id] else { throw ModelError.containerNotFound(reference) }
            return result
        }
        let ended = try release(id)
        let result = WaitResult(exitCode: ended.process.exitCode ?? 0, output: try logs(id))
        await removeIfAuto(ended)
        return result
    }

    /// A --rm container whose command ended goes, as in Docker; its exit code and output
    /// stay in `finished` for whoever waits on it.
    private func removeIfAuto(_ container: Container) async {
        guard container.autoRemove == true, registry.containers.contains(where: { $0.id == container.id }) else {
            return
        }
        finished[container.id] = WaitResult(
            exitCode: container.process.exitCode ?? 0, output: (try? logs(container.id)) ?? "")
        finishedOrder.append(container.id)
        if finishedOrder.count > 256 { finished[finishedOrder.removeFirst()] = nil }
        do {
            _ = try await remove(container.id, force: false)
        } catch {
            logger.warning(
                "could not remove a --rm container", metadata: ["container": "\(container.name)", "error": "\(error)"])
        }
    }

    /// A container whose command ended, by `stop` or on its own: its flows go, its exit is
    /// recorded and its host ports are released until `start` (Docker releases them when
    /// a container exits).
    private func release(_ id: String) throws -> Container {
        registry.endpoints(ofContainer: id).forEach(datapath.flushFlows(of:))
        var stopped = try recordExit(id)
        guard stopped.stopped != true else { return stopped }
        stopped.stopped = true
        try store.update(container: stopped)
        replace(stopped)
        datapath.unpublish(stopped)
        publishNames()
        return stopped
    }

    /// Releases what containers whose command ended on its own still hold (`ExitWatch`).
    func releaseExited() async {
        runtime.processes.keep(only: registry.containers.map(\.process))
        for container in registry.containers
        where container.stopped != true && container.process.pid > 0 && runtime.status(container) == .exited {
            do {
                let ended = try release(container.id)
                logger.info("container exited: its ports are released", metadata: ["container": "\(container.name)"])
                await removeIfAuto(ended)
            } catch {
                logger.warning(
                    "could not release an exited container",
                    metadata: ["container": "\(container.name)", "error": "\(error)"])
            }
        }
    }

    /// Starts a container that is not running: its host ports again (refused if another
    /// took one meanwhile), then its command. A running one is left as it is, as in Docker.
    public func start(_ reference: String) throws -> ContainerView {
        let previous = try registry.container(reference)
        guard runtime.status(previous) != .running else { return view(previous) }
        var container = try registry.planStart(reference, portInUse: datapath.hostPortInUse)
        var undo = Undo()
        defer { undo.run() }
        try store.update(container: container)
        undo.add {
            try? self.store.update(container: previous)
            self.replace(previous)
        }
        replace(container)
        if previous.stopped == true {
            undo.add { [container] in self.datapath.unpublish(container) }
            try datapath.publish(container, registry: registry)
        }
        container.process = try startProcess(container)
        try store.update(container: container)
        undo.cancel()
        replace(container)
        publishNames()
        logger.info(
            "container started", metadata: ["container": "\(container.name)", "pid": "\(container.process.pid)"])
        return view(container)
    }

    public func remove(_ reference: String, force: Bool) async throws -> Container {
        let container = try registry.container(reference)
        if runtime.status(container) == .running {
            guard force else { throw AgentError.containerRunning(container.name) }
            await runtime.stop(container, timeout: 0)
        }
        let current = try registry.container(container.id)
        // Started again while the actor waited for the stop: not removed under a live process.
        guard runtime.status(current) != .running else { throw AgentError.containerRunning(current.name) }
        let endpoints = registry.endpoints(ofContainer: current.id)
        try store.deleteContainer(id: current.id)
        registry.containers.removeAll { $0.id == current.id }
        registry.endpoints.removeAll { $0.containerID == current.id }
        publishNames()
        dns.close(container: current.id)
        datapath.unpublish(current)
        endpoints.forEach { datapath.detach($0, namespace: configuration.namespacePath(current.id)) }
        if usesOwnNamespace(current) {
            datapath.unregister(containerNamespace: configuration.namespacePath(current.id))
            runtime.deleteNamespace(configuration.namespacePath(current.id))
        }
        runtime.files(current.id).remove()
        monitor?.forget(container: current.id)
        await releaseOverlayAddresses(endpoints)
        logger.info("container removed", metadata: ["container": "\(current.name)"])
        return current
    }

    // MARK: Changes made behind the agent's back

    /// A link was deleted (netlink RTM_DELLINK). If it was a container's veth and the
    /// agent did not delete it itself, its policy and counters leave the maps at once, so
    /// its metric series end; the container keeps running without that interface, and
    /// the next start of the agent recreates it.
    public func linkRemoved(ifindex: UInt32, name: String) {
        // Another runtime's veth may have counted as an uplink before it was equipped: go on.
        if let uplink = uplinks.removeValue(forKey: ifindex) { datapath.forgetUplink(name: uplink) }
        if let network = registry.networks.first(where: { $0.vxlanName == name }), !datapath.linkExists(name) {
            remakeTunnel(of: network)
            return
        }
        // An attachment's veth by that name that exists is a newer one: the main mode names
        // a container's veth after its ID, so a stop and start (a DEL and an ADD) remove and
        // make the same name, and the removal may be read after the ADD.
        if let attachment = registry.attachments.first(where: { $0.hostInterface == name }), !datapath.linkExists(name)
        {
            // Its map entries go by the ifindex it had: its name no longer has one.
            datapath.forgetRemovedLink(name: name, ifindex: ifindex, address: attachment.ip)
            try? detachAttachment(attachment.containerID, attachment.interface)
            return
        }
        // Likewise a container's veth: one made again under its name (reconcile) keeps its
        // programs, whose pins go by the name.
        guard let endpoint = registry.endpoints.first(where: { $0.hostInterface == name }), !datapath.linkExists(name)
        else { return }
        datapath.forgetRemovedLink(name: name, ifindex: ifindex, address: endpoint.ip)
        let container = (try? registry.container(endpoint.containerID))?.name ?? endpoint.containerID
        logger.warning(
            "a container's interface was deleted outside Bridgeport: its policy and counters are removed",
            metadata: ["interface": "\(name)", "container": "\(container)"])
    }

    /// The kernel dropped link events (a burst overflowed the socket): the agent catches up
    /// from the links there are now, as if it had read them. A container's veth that went
    /// is forgotten as `linkRemoved` forgets one; it is not made again as a start makes a
    /// missing one, since an event read would not have either: the container runs on
    /// without it until the next start.
    public func linkEventsLost() {
        var repairs: [String] = []
        // Gone, or made again under its name (a new ifindex, equipped below as a new one).
        for (ifindex, name) in uplinks where datapath.ifindex(ofLink: name) != ifindex {
            uplinks[ifindex] = nil
            datapath.forgetUplink(name: name)
            repairs.append("forgot uplink \(name): it is gone")
        }
        // The entries of these veths go by their ifindexes, which went with them: after
        // they are forgotten by name, `removeGoneEndpoints` finds those no link has.
        for attachment in registry.attachments where !datapath.linkExists(attachment.hostInterface) {
            datapath.forgetRemovedLink(name: attachment.hostInterface, ifindex: nil, address: attachment.ip)
            try? detachAttachment(attachment.containerID, attachment.interface)
            repairs.append("forgot attachment \(attachment.id): its interface \(attachment.hostInterface) is gone")
        }
        for endpoint in registry.endpoints {
            guard let veth = endpoint.hostInterface, !datapath.linkExists(veth) else { continue }
            datapath.forgetRemovedLink(name: veth, ifindex: nil, address: endpoint.ip)
            let container = (try? registry.container(endpoint.containerID))?.name ?? endpoint.containerID
            repairs.append("interface \(veth) of container \(container) is gone: its policy and counters are removed")
        }
        for network in registry.networks where network.vxlanName.map({ !datapath.linkExists($0) }) ?? false {
            if remakeTunnel(of: network) {
                repairs.append("made the VXLAN device of overlay network \(network.name) again")
            }
        }
        do { repairs += try datapath.removeGoneEndpoints(keeping: registry) } catch {
            logger.warning("could not remove the map entries of gone interfaces", metadata: ["error": "\(error)"])
        }
        let equipped = Set(uplinks.keys)
        attachNewUplinks()
        repairs += uplinks.filter { !equipped.contains($0.key) }.values.sorted().map { "new uplink \($0) equipped" }
        hostAddressesChanged()
        logger.notice(
            "netlink events were lost: links, uplinks and host addresses resynchronised",
            metadata: ["repairs": "\(repairs.isEmpty ? "none" : repairs.joined(separator: "; "))"])
    }

    /// A link appeared or changed (RTM_NEWLINK): one that counts as an uplink gets the uplink
    /// program when it comes up, before it carries traffic (a new NIC, wg0, a tun made
    /// again, a veth moved in: a device moved between namespaces arrives down). Waiting for
    /// "up" also passes over a veth peer Docker's driver leaves here for dockerd to move.
    func linkChanged(_ link: LinkInfo) {
        guard link.isUp, uplinks[UInt32(link.index)] == nil, LinkAlias.isUplink(link),
            !registry.attachments.contains(where: { $0.hostInterface == link.name })
        else { return }
        do {
            guard try datapath.attachUplink(link) else { return }
            uplinks[UInt32(link.index)] = link.name
            logger.info("new uplink: the uplink program is attached", metadata: ["interface": "\(link.name)"])
        } catch {
            logger.error(
                "could not attach the uplink program to a new uplink",
                metadata: ["interface": "\(link.name)", "error": "\(error)"])
        }
    }

    /// Uplinks that came between the start and the link watch's subscription.
    func attachNewUplinks() {
        for link in (try? datapath.uplinks()) ?? [] { linkChanged(link) }
    }

    /// The host's addresses changed (an uplink's DHCP renewal, failover, `ip addr`): the
    /// programs learn them, and flows that name an address that went are flushed.
    public func hostAddressesChanged() {
        do {
            try datapath.refreshHostAddresses()
        } catch {
            logger.warning("could not update the host's addresses in the maps", metadata: ["error": "\(error)"])
        }
    }

    // MARK: Helpers

    private func recordExit(_ id: String) throws -> Container {
        var container = try registry.container(id)
        if let exit = runtime.files(id).recordedExit(), container.process.exitCode == nil {
            container.process.exitCode = exit.code
            container.process.finishedAt = exit.at
            try store.update(container: container)
            replace(container)
        }
        return container
    }

    private func replace(_ container: Container) {
        if let index = registry.containers.firstIndex(where: { $0.id == container.id }) {
            registry.containers[index] = container
        }
    }

    private func usesOwnNamespace(_ container: Container) -> Bool {
        container.networkMode != "host" && container.joinedContainerID == nil
    }

    /// The network namespace the container's command runs in (the joined container's for
    /// `--network container:NAME`).
    private func namespacePath(of container: Container) -> String {
        configuration.namespacePath(container.joinedContainerID ?? container.id)
    }

    /// The socket hooks act in the container's namespace, for its first interface's address,
    /// and send its 127.0.0.11:53 to its embedded DNS server.
    func registerNamespace(_ container: Container) throws {
        guard usesOwnNamespace(container) else { return }
        try datapath.register(
            containerNamespace: configuration.namespacePath(container.id),
            source: datapath.socketSource(registry.endpoints(ofContainer: container.id)),
            dns: dns.ports(of: container.id))
    }

    /// Another runtime's container: its interface's address.
    func socketSource(_ attachment: Attachment) -> SocketSource? {
        datapath.ifindex(ofLink: attachment.hostInterface).map {
            SocketSource(ip: attachment.ip, ip6: attachment.ip6, ifindex: $0)
        }
    }

    /// The first non-internal network a container joined gives its default route, as in Docker.
    func updateDefaultRoute(_ container: Container) throws {
        guard usesOwnNamespace(container) else { return }
        // IPv4: the first such network that has IPv4 (an IPv6-only one has none).
        let gateway = registry.endpoints(ofContainer: container.id).first { endpoint in
            endpoint.ip != nil && (try? registry.network(endpoint.networkID).internal) == false
        }
        try datapath.setDefaultRoute(
            namespace: configuration.namespacePath(container.id),
            via: gateway.flatMap { try? registry.network($0.networkID).routeGateway },
            device: gateway?.containerInterface)
        // IPv6: the first such network that has IPv6 (the container may have none).
        let gateway6 = registry.endpoints(ofContainer: container.id).first { endpoint in
            endpoint.ip6 != nil && (try? registry.network(endpoint.networkID).internal) == false
        }
        try datapath.setDefaultRoute6(
            namespace: configuration.namespacePath(container.id),
            via: gateway6.flatMap { try? registry.network($0.networkID).ipv6?.gateway },
            device: gateway6?.containerInterface)
    }

    // MARK: Names

    func readHostResolvConf() {
        hostResolvConfText = (try? String(contentsOfFile: configuration.resolvConf, encoding: .utf8)) ?? ""
        hostResolvConf = ResolvConf(parsing: hostResolvConfText)
    }

    /// Where a container's queries for names its networks don't know go.
    func upstreams(_ container: Container) -> [IPv4Address] {
        let given = nameSettings(container)?.servers ?? []
        return given.isEmpty ? hostResolvConf.ipv4Servers : given
    }

    /// The container's --dns and the like; the daemon's dns stand in for a --dns not given,
    /// as dockerd's do.
    func nameSettings(_ container: Container) -> NameSettings? {
        let servers = registry.defaults.dns
        guard !servers.isEmpty, container.names?.servers.isEmpty ?? true else { return container.names }
        var settings = container.names ?? NameSettings()
        settings.servers = servers
        return settings
    }

    /// Gives the embedded DNS servers the names as the registry has them now.
    func publishNames() {
        dns.publish(NameTable(registry: registry, remote: remoteEndpoints.values, upstreams: upstreams))
    }

    /// A container on a user-defined network has the embedded DNS server in its namespace;
    /// one that left the last of them has none.
    func serveNames(_ container: Container) throws {
        let named = registry.endpoints(ofContainer: container.id).contains { endpoint in
            (try? registry.network(endpoint.networkID).hasNames) == true
        }
        let serving = dns.serving.contains(container.id)
        if named && !serving && usesOwnNamespace(container) {
            let sockets = try datapath.boundSockets(
                namespace: configuration.namespacePath(container.id), address: EmbeddedDNS.address)
            dns.open(container: container.id, sockets: sockets)
            try registerNamespace(container)
        } else if !named && serving {
            dns.close(container: container.id)
            try registerNamespace(container)
        }
    }

    /// The container's /etc/hosts (its own addresses and --add-host lines) and its
    /// resolv.conf: the embedded DNS server on a user-defined network, else the host's
    /// servers (or --dns).
    func writeNameFiles(_ container: Container) throws {
        guard container.joinedContainerID == nil else { return }  // it uses the joined one's
        let endpoints = registry.endpoints(ofContainer: container.id).sorted { $0.order < $1.order }
        let networks = endpoints.compactMap { try? registry.network($0.networkID) }
        let gateway = networks.lazy.compactMap(\.gateway).first ?? registry.defaultNetwork?.gateway
        let files = runtime.files(container.id)
        try files.writeHosts(
            container: container, own: endpoints.compactMap(\.ip), own6: endpoints.compactMap(\.ip6), gateway: gateway)
        let settings = nameSettings(container)
        let text =
            if networks.contains(where: \.hasNames) {
                ResolvConf.embedded(host: hostResolvConf, settings: settings, upstreams: upstreams(container))
            } else if !usesOwnNamespace(container) && settings == nil {
                hostResolvConfText  // --network host: the host's file as it is, as Docker does
            } else {
                ResolvConf.copied(host: hostResolvConf, settings: settings, ownNamespace: usesOwnNamespace(container))
            }
        try files.writeResolvConf(text)
    }

    private func view(_ network: Network) -> NetworkView {
        NetworkView(network: network, endpoints: registry.endpoints(inNetwork: network.id).map(view))
    }

    private func view(_ endpoint: Endpoint) -> EndpointView {
        let network = try? registry.network(endpoint.networkID)
        var view = EndpointView(
            endpoint: endpoint, containerName: (try? registry.container(endpoint.containerID).name) ?? "",
            networkName: network?.name ?? "", gateway: network?.routeGateway,
            prefixLength: network?.subnet?.prefixLength, hasNames: network?.hasNames ?? false)
        view.gateway6 = network?.ipv6?.gateway
        view.prefixLength6 = network?.ipv6?.subnet.prefixLength
        return view
    }

    private func view(_ container: Container) -> ContainerView {
        var container = container
        let status = runtime.status(container)
        if status == .exited, container.process.exitCode == nil, let exit = runtime.files(container.id).recordedExit() {
            container.process.exitCode = exit.code
            container.process.finishedAt = exit.at
        }
        return ContainerView(
            container: container, status: status, endpoints: registry.endpoints(ofContainer: container.id).map(view))
    }
}

/// Steps to undo when a change fails half-way; run in reverse order unless cancelled.
struct Undo {
    private var steps: [() -> Void] = []
    mutating func add(_ step: @escaping () -> Void) { steps.append(step) }
    mutating func cancel() { steps.removeAll() }
    func run() { steps.reversed().forEach { $0() } }
}

/// How long each step of a change took, for the debug log (`--log-level debug`).
struct StepTimer: CustomStringConvertible {
    private let clock = ContinuousClock()
    private var last: ContinuousClock.Instant
    private var steps: [(String, Duration)] = []

    init() { last = clock.now }

    mutating func mark(_ step: String) {
        let now = clock.now
        steps.append((step, now - last))
        last = now
    }

    var description: String {
        steps.map { step, took in
            let ms = Double(took.components.seconds) * 1000 + Double(took.components.attoseconds) / 1e15
            return "\(step) \((ms * 10).rounded() / 10)"
        }.joined(separator: ", ")
    }
}
