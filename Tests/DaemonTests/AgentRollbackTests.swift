import API
import Datapath
import Foundation
import Logging
import Model
import Testing

@testable import Daemon

/// Every change of the agent is all or nothing: failed at any call it makes to the
/// datapath, it leaves the registry, the store and the kernel (a FakeDatapath) as they
/// were. Each test runs its change once per call, failing that call.
@Suite(.serialized) struct AgentRollbackTests {
    /// What a change may touch.
    struct Snapshot: Equatable {
        var registry: Contents
        var stored: Contents
        var kernel: FakeDatapath.Kernel
        var dockerEndpoints: Set<String>
        /// Containers the embedded DNS serves, and those its names know as askers.
        var dnsServing: Set<String>
        var dnsAskers: Set<String>
    }

    struct Contents: Equatable {
        var networks: Set<Network>
        var containers: Set<Container>
        var endpoints: Set<Endpoint>
        var attachments: Set<Model.Attachment>

        init(_ registry: Registry) {
            networks = Set(registry.networks)
            containers = Set(registry.containers)
            endpoints = Set(registry.endpoints)
            attachments = Set(registry.attachments)
        }
    }

    /// An agent over a fake datapath, with its state in a directory of its own.
    struct Subject {
        var agent: Agent
        var datapath: FakeDatapath
        var directory: String
    }

    static func makeSubject() async throws -> Subject {
        let directory = NSTemporaryDirectory() + "bridgeport-rollback-\(getpid())-\(UUID().uuidString.prefix(8))"
        var configuration = AgentConfiguration()
        configuration.stateDirectory = directory + "/state"
        configuration.bpfRoot = directory + "/bpf"
        configuration.socketPath = directory + "/agent.sock"
        // None: names no network knows are never forwarded to the machine's resolvers.
        configuration.resolvConf = directory + "/resolv.conf"
        let datapath = FakeDatapath()
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let agent = try Agent(configuration: configuration, datapath: datapath, logger: logger)
        _ = try await agent.reconcile()
        return Subject(agent: agent, datapath: datapath, directory: directory)
    }

    static func cleanUp(_ subject: Subject) async {
        subject.datapath.fail(call: 0)
        for container in await subject.agent.registry.containers {
            _ = try? await subject.agent.remove(container.id, force: true)
        }
        try? FileManager.default.removeItem(atPath: subject.directory)
    }

    /// Runs `change` failing its first datapath call, then its second, ... until it makes
    /// fewer calls than the one set to fail. Each failure must leave everything as it was.
    /// A change may go on past a failed call it can do without (hairpin registration).
    func assertAllOrNothing(
        _ what: String, setUp: (Subject) async throws -> Void = { _ in },
        _ change: (Subject) async throws -> Void
    ) async throws {
        var failing = 1
        while true {
            let subject = try await Self.makeSubject()
            let outcome = await Self.attempt(subject, failing: failing, setUp: setUp, change)
            await Self.cleanUp(subject)
            switch try outcome.get() {
            case .failed(let call, let before, let after):
                let unchanged = after == before  // (not in #expect, which would print both snapshots whole)
                #expect(unchanged, "\(what), failing \(call) (call \(failing)): \(difference(before, after))")
            case .wentOn: break
            case .done: return #expect(failing > 1, "\(what) made no datapath call")
            }
            failing += 1
        }
    }

    enum Outcome {
        /// The change failed on the injected failure: the snapshots around it.
        case failed(call: String, before: Snapshot, after: Snapshot)
        /// It did without the failed call.
        case wentOn
        /// It made fewer calls than the one set to fail.
        case done
    }

    static func attempt(
        _ subject: Subject, failing: Int, setUp: (Subject) async throws -> Void,
        _ change: (Subject) async throws -> Void
    ) async -> Result<Outcome, any Error> {
        do {
            try await setUp(subject)
            let before = try await subject.agent.snapshot()
            subject.datapath.fail(call: failing)
            do {
                try await change(subject)
            } catch let error as InjectedFailure {
                return .success(.failed(call: error.call, before: before, after: try await subject.agent.snapshot()))
            }
            return .success(subject.datapath.failedCall == nil ? .done : .wentOn)
        } catch {
            return .failure(error)
        }
    }

    func difference(_ before: Snapshot, _ after: Snapshot) -> String {
        var lines: [String] = []
        for (name, a, b) in [("registry", before.registry, after.registry), ("store", before.stored, after.stored)]
        where a != b {
            lines.append(
                "\(name): networks \(a.networks.map(\.name).sorted()) -> \(b.networks.map(\.name).sorted()), "
                    + "containers \(a.containers.count) -> \(b.containers.count), endpoints \(a.endpoints.count) -> \(b.endpoints.count), "
                    + "attachments \(a.attachments.map(\.ports)) -> \(b.attachments.map(\.ports))")
        }
        if before.kernel != after.kernel { lines.append("kernel: \(before.kernel) -> \(after.kernel)") }
        if before.dockerEndpoints != after.dockerEndpoints { lines.append("docker endpoints changed") }
        if before.dnsServing != after.dnsServing || before.dnsAskers != after.dnsAskers {
            lines.append(
                "embedded DNS: serving \(before.dnsServing) -> \(after.dnsServing), askers \(before.dnsAskers) -> \(after.dnsAskers)"
            )
        }
        return lines.joined(separator: "; ")
    }

    // MARK: Bridgeport's own networks and containers

    @Test func createNetwork() async throws {
        try await assertAllOrNothing("network create") { subject in
            _ = try await subject.agent.createNetwork(NetworkRequest(name: "n1", subnet: "10.20.0.0/24"))
        }
    }

    @Test func removeNetwork() async throws {
        try await assertAllOrNothing(
            "network rm",
            setUp: { subject in
                _ = try await subject.agent.createNetwork(NetworkRequest(name: "n1", subnet: "10.20.0.0/24"))
            }
        ) { subject in
            _ = try await subject.agent.removeNetwork("n1")
        }
    }

    /// `network prune` removes each unused network as `network rm` does: one whose removal
    /// fails (at each datapath call in turn) stays whole in registry, store and kernel; the
    /// others go; a network with a stopped container, dockerd's and the predefined ones are kept.
    @Test func pruneNetworks() async throws {
        var failing = 1
        while true {
            let subject = try await Self.makeSubject()
            for (name, subnet) in [("n1", "10.20.0.0/24"), ("n2", "10.21.0.0/24"), ("used", "10.22.0.0/24")] {
                _ = try await subject.agent.createNetwork(NetworkRequest(name: name, subnet: subnet))
            }
            try await subject.agent.seedContainer(
                ContainerRequest(name: "c1", network: "used", command: ["/bin/true"]), stopped: true)
            try await subject.agent.dockerCreateNetwork(
                id: randomID(), pool: "10.23.0.0/24", gateway: nil, options: [:])
            let before = try await subject.agent.snapshot()
            subject.datapath.fail(call: failing)
            let report = try await subject.agent.pruneNetworks(NetworkPruneRequest(filters: []))
            let failed = subject.datapath.failedCall
            let after = try await subject.agent.snapshot()
            await Self.cleanUp(subject)
            let kept = before.registry.networks.filter { !report.networksDeleted.contains($0.name) }
            #expect(after.registry.networks == kept, "failing call \(failing)")
            #expect(after.stored.networks == kept, "failing call \(failing)")
            #expect(after.kernel.networks == Set(kept.map(\.id)).intersection(before.kernel.networks))
            #expect(Set(report.networksDeleted).isSubset(of: ["n1", "n2"]), "\(report.networksDeleted)")
            guard failed != nil else {
                #expect(Set(report.networksDeleted) == ["n1", "n2"])
                return #expect(failing > 1, "prune made no datapath call")
            }
            #expect(!report.networksDeleted.isEmpty, "one failed removal keeps the other from going")
            failing += 1
        }
    }

    @Test func run() async throws {
        try await assertAllOrNothing("run") { subject in
            _ = try await subject.agent.run(
                ContainerRequest(name: "c1", ports: ["8080:80", "53:53/udp"], command: ["/bin/true"]))
        }
    }

    @Test func runOnAUserDefinedNetwork() async throws {
        try await assertAllOrNothing(
            "run on a user-defined network",
            setUp: { subject in
                _ = try await subject.agent.createNetwork(NetworkRequest(name: "app", subnet: "10.22.0.0/24"))
            }
        ) { subject in
            _ = try await subject.agent.run(
                ContainerRequest(
                    name: "web", network: "app", command: ["/bin/true"], aliases: ["api"],
                    extraHosts: ["gw:host-gateway"]))
        }
    }

    @Test func start() async throws {
        try await assertAllOrNothing(
            "start",
            setUp: { subject in
                try await subject.agent.seedContainer(
                    ContainerRequest(name: "c1", ports: ["8080:80"], command: ["/bin/true"]), stopped: true)
            }
        ) { subject in
            _ = try await subject.agent.start("c1")
        }
    }

    /// A stopped container c1 (publishing 8080) on the default bridge, and a network n2.
    static func containerAndNetwork(_ subject: Subject) async throws {
        _ = try await subject.agent.createNetwork(NetworkRequest(name: "n2", subnet: "10.21.0.0/24"))
        try await subject.agent.seedContainer(ContainerRequest(name: "c1", ports: ["8080:80"], command: ["/bin/true"]))
    }

    @Test func connect() async throws {
        try await assertAllOrNothing(
            "network connect",
            setUp: Self.containerAndNetwork
        ) { subject in
            try await subject.agent.connect(network: "n2", ConnectRequest(container: "c1"))
        }
    }

    @Test func disconnect() async throws {
        try await assertAllOrNothing(
            "network disconnect",
            setUp: { subject in
                try await Self.containerAndNetwork(subject)
                try await subject.agent.connect(network: "n2", ConnectRequest(container: "c1"))
            }
        ) { subject in
            try await subject.agent.disconnect(network: "n2", container: "c1")
        }
    }

    @Test func portAllow() async throws {
        try await assertAllOrNothing(
            "port allow",
            setUp: { subject in
                try await subject.agent.seedContainer(
                    ContainerRequest(name: "c1", ports: ["8080:80"], command: ["/bin/true"]))
            }
        ) { subject in
            _ = try await subject.agent.allow(
                "c1", AllowRequest(hostPort: "8080", sources: ["10.0.0.0/8"], clear: false))
        }
    }

    @Test func runPublishingBothFamilies() async throws {
        try await assertAllOrNothing(
            "run publishing both families", setUp: PortsIPv6AgentTests.dualStackNetwork
        ) { subject in
            _ = try await subject.agent.run(
                ContainerRequest(
                    name: "c6", network: "six", ports: ["8080:80", "[::1]::53/udp"], command: ["/bin/true"]))
        }
    }

    @Test func portAllowOfBothFamilies() async throws {
        try await assertAllOrNothing(
            "port allow of both families",
            setUp: { subject in
                try await PortsIPv6AgentTests.dualStackNetwork(subject)
                try await subject.agent.seedContainer(
                    ContainerRequest(name: "c6", network: "six", ports: ["8080:80"], command: ["/bin/true"]))
            }
        ) { subject in
            _ = try await subject.agent.allow(
                "c6", AllowRequest(hostPort: "8080", sources: ["2001:db8::/64", "10.0.0.0/8"], clear: false))
        }
    }

    // MARK: Other runtimes' containers

    static let cniPorts = [PortMapping(proto: .tcp, containerPort: 80, hostIP: .any, hostPort: 8081)]

    static func cniRequest(_ subject: Subject) -> AttachmentRequest {
        AttachmentRequest(
            containerID: "cni1", interface: "eth0", network: "podman", namespace: subject.directory + "/netns-cni1",
            hostInterface: "vethcni1", ip: "10.88.0.5", mac: "02:42:0a:58:00:05", ports: cniPorts,
            subnet: "10.88.0.0/16")
    }

    @Test func chainedAttach() async throws {
        try await assertAllOrNothing(
            "CNI ADD (chained)",
            setUp: { subject in
                subject.datapath.addForeignLink("vethcni1")
            }
        ) { subject in
            _ = try await subject.agent.attach(Self.cniRequest(subject))
        }
    }

    /// The runtime's first ADD of a chained attachment.
    static func chainedAdd(_ subject: Subject) async throws {
        subject.datapath.addForeignLink("vethcni1")
        _ = try await subject.agent.attach(cniRequest(subject))
    }

    /// A repeated ADD (the runtime retries, or the ports changed) replaces the attachment:
    /// failed, the first one is back as it was, hairpin registration included.
    @Test func chainedAttachAgain() async throws {
        try await assertAllOrNothing(
            "CNI ADD (chained) again",
            setUp: Self.chainedAdd
        ) { subject in
            var again = Self.cniRequest(subject)
            again.ip = "10.88.0.6"
            again.ports = [PortMapping(proto: .udp, containerPort: 53, hostIP: .any, hostPort: 5353)]
            _ = try await subject.agent.attach(again)
        }
    }

    @Test func chainedDetach() async throws {
        try await assertAllOrNothing(
            "CNI DEL (chained)",
            setUp: Self.chainedAdd
        ) { subject in
            try await subject.agent.detachAttachment("cni1", "eth0")
        }
    }

    @Test func mainAttach() async throws {
        try await assertAllOrNothing(
            "CNI ADD (main plugin)",
            setUp: { subject in
                _ = FileManager.default.createFile(atPath: subject.directory + "/netns-cni2", contents: nil)
            }
        ) { subject in
            _ = try await subject.agent.attachMain(
                MainAttachmentRequest(
                    containerID: "cni2", interface: "eth0", network: "cni-net",
                    namespace: subject.directory + "/netns-cni2",
                    subnet: "10.31.0.0/24", ports: Self.cniPorts))
        }
    }

    static let dockerNetwork = String(repeating: "d", count: 64)
    static let dockerEndpoint = String(repeating: "e", count: 64)

    static func dockerNetworkAndEndpoint(_ subject: Subject) async throws {
        try await subject.agent.dockerCreateNetwork(
            id: dockerNetwork, pool: "10.40.0.0/24", gateway: "10.40.0.1/24", options: [:])
        _ = try await subject.agent.dockerCreateEndpoint(
            network: dockerNetwork, endpoint: dockerEndpoint,
            address: "10.40.0.2/24", mac: nil)
    }

    @Test func dockerCreateNetwork() async throws {
        try await assertAllOrNothing("docker network create") { subject in
            try await subject.agent.dockerCreateNetwork(
                id: Self.dockerNetwork, pool: "10.40.0.0/24", gateway: nil, options: [:])
        }
    }

    @Test func dockerJoin() async throws {
        try await assertAllOrNothing("docker Join", setUp: Self.dockerNetworkAndEndpoint) { subject in
            _ = try await subject.agent.dockerJoin(
                network: Self.dockerNetwork, endpoint: Self.dockerEndpoint,
                sandbox: subject.directory + "/sandbox")
        }
    }

    @Test func dockerPublish() async throws {
        try await assertAllOrNothing(
            "docker ProgramExternalConnectivity",
            setUp: { subject in
                try await Self.dockerNetworkAndEndpoint(subject)
                _ = try await subject.agent.dockerJoin(
                    network: Self.dockerNetwork, endpoint: Self.dockerEndpoint,
                    sandbox: subject.directory + "/sandbox")
            }
        ) { subject in
            try await subject.agent.dockerPublish(
                endpoint: Self.dockerEndpoint,
                bindings: try PortRequest.parse("8082:80"))
        }
    }
}

extension Agent {
    func snapshot() throws -> AgentRollbackTests.Snapshot {
        AgentRollbackTests.Snapshot(
            registry: .init(registry), stored: .init(try store.load()),
            kernel: (datapath as! FakeDatapath).kernel, dockerEndpoints: Set(dockerEndpoints.keys),
            dnsServing: dns.serving, dnsAskers: dns.askers)
    }

    /// A container as `run` records it, without its process (one never started, or with
    /// `stopped`, one stopped by `stop`, whose ports are not published).
    func seedContainer(_ request: ContainerRequest, stopped: Bool = false) throws {
        var (container, endpoints) = try registry.planContainer(request, id: randomID(), now: Date())
        let endpoint = endpoints.first
        if stopped { container.stopped = true }
        try store.insert(container: container, endpoints: endpoints)
        try runtime.files(container.id).create()
        try runtime.createNamespace(configuration.namespacePath(container.id))
        registry.containers.append(container)
        if let endpoint {
            registry.endpoints.append(endpoint)
            try datapath.attach(
                endpoint, network: try registry.network(endpoint.networkID),
                namespace: configuration.namespacePath(container.id))
        }
        try datapath.syncPorts(registry)
        try updateDefaultRoute(container)
        try registerNamespace(container)
    }
}

@Suite struct ScrapeFailureTests {
    /// Zeros in place of counters that could not be read would look like resets to
    /// Prometheus: the scrape fails instead (`up` 0).
    @Test func aScrapeWhoseCountersCannotBeReadFails() async throws {
        let subject = try await AgentRollbackTests.makeSubject()
        subject.datapath.fail(call: 1)
        await #expect(throws: InjectedFailure.self) { _ = try await subject.agent.metricFamilies() }
        subject.datapath.fail(call: 1)
        await #expect(throws: InjectedFailure.self) { _ = try await subject.agent.containerStats() }
        await AgentRollbackTests.cleanUp(subject)
    }
}
